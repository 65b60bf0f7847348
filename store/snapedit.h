/* snapedit.h — changing a snapshot's tags, labels and hold after the
 * backup (`strata tag`, `hold`, `unhold`).
 *
 * Owns: the rewrite rule of FORMAT.md §12 "Changing a snapshot": a
 * snapshot file is named by the hash of its bytes and never changes, so
 * an edit writes a new snapshot file (the old JSON with tags, labels or
 * hold changed and "original" naming the first file of the chain; every
 * other field, unknown ones of a newer strata included, kept as it was),
 * copies the old one's restore-test records to it (store/verified.h),
 * then deletes the old file. The snapshot's ID changes; its content,
 * time and tree do not.
 *
 * Crash rules: the new file is durable before the old is deleted; a
 * crash in between leaves both (the same tree twice: nothing is lost; the
 * new one's "original" tells them apart and `forget ID` removes the old).
 *
 * Never: prints, reads trees or data. Thread safety: one Repo, one thread.
 */
#ifndef STRATA_STORE_SNAPEDIT_H
#define STRATA_STORE_SNAPEDIT_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/repo.h"
#include "store/snapshot.h"

typedef struct SnapEdit {
	int set_tags;                                    /* replace the tags by tags[] */
	const char *const *tags;          size_t ntags;
	const char *const *add_tags;      size_t nadd_tags;
	const char *const *remove_tags;   size_t nremove_tags;
	const char *const *set_labels;    size_t nset_labels;     /* "key=value": replaces key's label */
	const char *const *remove_labels; size_t nremove_labels;  /* "key" */
	int hold;                          /* 1: put (or replace) a hold; -1: remove it; 0: leave */
	const char *hold_reason;           /* hold 1: why ("" allowed) */
	int64_t hold_until_ns;             /* hold 1: 0 until unhold, else when it lapses */
	int64_t now_ns;                    /* hold 1: the hold's time */
} SnapEdit;

/* snapedit_apply — apply e to snapshot old (as loaded). When nothing
 * changes, nothing is written and *out_changed is 0; otherwise the new
 * file is written, the records copied, the old file deleted, *out_id is
 * the new ID and *out_changed 1. Errors: STRATA_EUSAGE (a label without
 * '=', a tag or label that is empty), the errors of reading and writing
 * snapshot files and records; the message names the snapshot. */
int snapedit_apply(Repo *repo, const Snapshot *old, const SnapEdit *e, uint8_t out_id[STRATA_ID_LEN],
                   int *out_changed, StrataErr *err);

#endif
