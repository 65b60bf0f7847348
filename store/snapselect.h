/* snapselect.h — choosing one snapshot by time, by label or by height.
 *
 * Owns: the rules behind `restore --at TIME`, `--label KEY=VALUE`,
 * `--at-height N` and `snapshots --at TIME`: a group of snapshots (host,
 * tags, paths, labels; with `--verified` only those whose newest restore
 * test passed, store/verified.h) and, inside it, the newest one at or before a time, the
 * newest carrying an exact label, or the one with the highest numeric
 * height label not above N. Partial snapshots (snapshot.h) are never
 * chosen unless include_partial (snapshot_selectable). When nothing
 * qualifies the error names the nearest snapshots, so the user sees what
 * the repository does hold, and how many partial ones were passed over.
 *
 * The selection functions are pure: they work over a Snapshot array the
 * caller owns (snapshot_list's, or one built by a test) and never touch a
 * repository; snapselect_find is the one convenience that lists first.
 *
 * Never: prints, reads trees. Thread safety: pure functions are reentrant.
 */
#ifndef STRATA_STORE_SNAPSELECT_H
#define STRATA_STORE_SNAPSELECT_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/repo.h"
#include "store/snapshot.h"
#include "store/verified.h"

/* SNAPSELECT_HEIGHT_LABEL — the label `--at-height` reads by default
 * (`backup --label height=812345`). */
#define SNAPSELECT_HEIGHT_LABEL "height"

/* The group a selection looks in; an empty field matches everything. */
typedef struct SnapFilter {
	const char *host;                          /* NULL: any host */
	const char *const *tags;   size_t ntags;   /* each must be on the snapshot */
	const char *const *paths;  size_t npaths;  /* each must be among its paths */
	const char *const *labels; size_t nlabels; /* "key=value", each carried exactly */
	const VerifiedSet *verified;               /* non-NULL: only snapshots whose newest
	                                              restore test passed (verified_passed) */
} SnapFilter;

enum SnapSelectBy {
	SNAPSELECT_LATEST = 0,    /* the newest snapshot of the group */
	SNAPSELECT_AT_TIME,       /* the newest with time_ns <= time_ns */
	SNAPSELECT_LABEL,         /* the newest carrying label ("key=value") exactly */
	SNAPSELECT_AT_HEIGHT      /* the highest label key (a decimal number) <= height;
	                             among equal heights the newest */
};

typedef struct SnapSelect {
	SnapFilter filter;
	int        by;            /* enum SnapSelectBy */
	int64_t    time_ns;       /* SNAPSELECT_AT_TIME: inclusive bound, Unix ns */
	const char *label;        /* SNAPSELECT_LABEL: "key=value";
	                             SNAPSELECT_AT_HEIGHT: the key, NULL = "height" */
	uint64_t   height;        /* SNAPSELECT_AT_HEIGHT: inclusive bound */
	int        include_partial;  /* partial snapshots may be chosen too */
} SnapSelect;

/* snapselect_matches — 1 if s belongs to filter f's group, else 0. */
int snapselect_matches(const Snapshot *s, const SnapFilter *f);

/* snapselect_label_uint — the value of label key on s as an unsigned
 * decimal number (no sign, no spaces, at most 20 digits). 0 and *out, or
 * STRATA_ENOTFOUND (no such label) / STRATA_EFORMAT (not a number). */
int snapselect_label_uint(const Snapshot *s, const char *key, uint64_t *out);

/* snapselect_pick — the index into snaps[0..n) (any order) of the snapshot
 * sel chooses. Ties in time are broken by the larger ID, so the answer
 * does not depend on the array's order.
 * Errors: STRATA_ENOTFOUND with a message naming the nearest snapshots of
 * the group (the earliest after the time; the lowest height above N; the
 * nearest labels below and above) or saying the group is empty;
 * STRATA_EUSAGE for a malformed sel (label without '='). */
int snapselect_pick(const Snapshot *snaps, size_t n, const SnapSelect *sel,
                    size_t *out_idx, StrataErr *err);

/* snapselect_find — snapshot_list, then snapselect_pick; the chosen
 * snapshot is moved into *out (free with snapshot_clear). Errors: those of
 * both. */
int snapselect_find(Repo *repo, const SnapSelect *sel, Snapshot *out, StrataErr *err);

#endif
