/* forget.h — retention policy: which snapshots to keep, and why.
 *
 * Owns: the keep rules of `strata forget` (--keep-last, --keep-hourly ...
 * --keep-yearly, --keep-within, --keep-tag, --keep-label KEY%N), grouping
 * snapshots (by host, paths, tags) and applying the rules to each group, and
 * parsing the rules' arguments. The rules follow restic's, so a policy
 * carries over:
 *
 *   - Snapshots of one group are considered newest first (ties: larger ID
 *     first).
 *   - keep-last N keeps the N newest.
 *   - keep-hourly/daily/weekly/monthly/yearly N: walking newest first, a
 *     snapshot is kept when its hour/day/ISO week/month/year (local time,
 *     the TZ environment variable) differs from that of the last snapshot
 *     this rule kept, until N were kept. The group's oldest snapshot is kept
 *     too while the rule has counts left, so a short history is kept whole
 *     rather than cut at the last bucket boundary.
 *   - FORGET_UNLIMITED (-1) as N: no limit.
 *   - keep-within D keeps every snapshot strictly newer than the group's
 *     newest snapshot minus D (years and months by the calendar, in local
 *     time; days as calendar days; hours as 3600 s). Relative to the newest
 *     snapshot, not to now, so a machine that stopped backing up does not
 *     lose its last history.
 *   - keep-tag "a,b" keeps snapshots carrying every tag listed; several
 *     keep-tag rules: any one suffices.
 *   - keep-label KEY%N keeps snapshots whose label KEY is an unsigned
 *     decimal multiple of N (block heights: height%1000).
 *   - a held snapshot (`strata hold`, snapshot_held at now_ns) is kept
 *     whatever the rules say, and counts toward none of them.
 *   A snapshot is kept when any rule keeps it; every rule that does is
 *   recorded as a reason.
 *
 * Partial snapshots (snapshot.h; unless include_partial, when they are
 * like any other): a partial snapshot never counts toward the keep-N of
 * complete ones, so keep-last 7 always keeps the 7 newest complete
 * snapshots. The keep-N rules count the group's complete snapshots, and,
 * as a sequence of their own, the partial snapshots newer than its newest
 * complete one (they may hold the only copy of what changed since): a
 * group whose backups all came out partial keeps as many as a complete
 * history would, not all of them and not none. Partial snapshots older
 * than the newest complete one are kept only by keep-within, keep-tag and
 * keep-label, which do not count; otherwise forget removes them. That
 * makes at most twice the kept snapshots, never fewer complete ones.
 *
 * Pure: works over a Snapshot array the caller owns, never touches a
 * repository, never prints. Thread safety: reentrant (local time through
 * localtime_r/mktime, which read TZ).
 */
#ifndef STRATA_STORE_FORGET_H
#define STRATA_STORE_FORGET_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/snapshot.h"

#define FORGET_UNLIMITED (-1)

enum ForgetGroupBy {
	FORGET_GROUP_HOST  = 1u << 0,
	FORGET_GROUP_PATHS = 1u << 1,
	FORGET_GROUP_TAGS  = 1u << 2
};
#define FORGET_GROUP_DEFAULT (FORGET_GROUP_HOST | FORGET_GROUP_PATHS)

/* Why a snapshot is kept: a bit per rule. */
enum ForgetReason {
	FORGET_KEEP_LAST    = 1u << 0,
	FORGET_KEEP_HOURLY  = 1u << 1,
	FORGET_KEEP_DAILY   = 1u << 2,
	FORGET_KEEP_WEEKLY  = 1u << 3,
	FORGET_KEEP_MONTHLY = 1u << 4,
	FORGET_KEEP_YEARLY  = 1u << 5,
	FORGET_KEEP_WITHIN  = 1u << 6,
	FORGET_KEEP_TAG     = 1u << 7,
	FORGET_KEEP_LABEL   = 1u << 8,
	FORGET_KEEP_HOLD    = 1u << 9    /* held (`strata hold`): whatever the rules say */
};

typedef struct ForgetDuration {
	int years, months, days, hours;
} ForgetDuration;

typedef struct ForgetLabelRule {
	char     key[64];
	uint64_t modulus;        /* > 0 */
} ForgetLabelRule;

typedef struct ForgetPolicy {
	/* 0: rule off; N > 0; FORGET_UNLIMITED */
	int last, hourly, daily, weekly, monthly, yearly;
	int has_within;
	ForgetDuration within;
	const char *const *tags; size_t ntags;          /* each "tag[,tag...]" */
	const ForgetLabelRule *labels; size_t nlabels;
	unsigned group_by;                              /* enum ForgetGroupBy bits; 0: one group */
	int include_partial;                            /* count partial snapshots like others */
	int64_t now_ns;                                 /* for holds with an end (snapshot_held) */
} ForgetPolicy;

typedef struct ForgetDecision {
	int      keep;           /* 1 keep, 0 remove */
	unsigned reasons;        /* enum ForgetReason bits; 0 when removed */
	size_t   group;          /* group number, 0-based, in order of each
	                            group's oldest snapshot */
} ForgetDecision;

/* forget_policy_empty — 1 when no keep rule is set (forgetting with such a
 * policy would remove everything: callers refuse it). */
int forget_policy_empty(const ForgetPolicy *p);

/* forget_apply — decide for each of snaps[0..n) (any order). out has room
 * for n decisions (out[i] is about snaps[i]); *out_ngroups (may be NULL)
 * receives the number of groups.
 * Errors: -ENOMEM; STRATA_EUSAGE for a label rule with modulus 0. */
int forget_apply(const Snapshot *snaps, size_t n, const ForgetPolicy *p,
                 ForgetDecision *out, size_t *out_ngroups, StrataErr *err);

/* forget_parse_duration — "2d12h", "1y6m", "3w", "36h": one or more
 * NUMBER UNIT pairs with units y (years), m (months), w (weeks, as 7
 * days), d (days), h (hours), each at most once, in that order.
 * 0 or STRATA_EUSAGE (err says what is wrong and what is accepted). */
int forget_parse_duration(const char *s, ForgetDuration *out, StrataErr *err);

/* forget_format_duration — back to the short form ("2d12h"; "0h" if zero). */
void forget_format_duration(const ForgetDuration *d, char *out, size_t len);

/* forget_parse_label_rule — "KEY%N" with N a positive decimal number.
 * 0 or STRATA_EUSAGE. */
int forget_parse_label_rule(const char *s, ForgetLabelRule *out, StrataErr *err);

/* forget_parse_group_by — comma-separated "host", "paths", "tags"; "" means
 * no grouping. 0 or STRATA_EUSAGE. */
int forget_parse_group_by(const char *s, unsigned *out, StrataErr *err);

/* forget_reasons_text — "last, daily, within 2d12h, tag db, label
 * height%1000, held: REASON" for a kept snapshot s (rules named by p). Writes at most len
 * bytes, always NUL-terminated. */
void forget_reasons_text(unsigned reasons, const ForgetPolicy *p, const Snapshot *s,
                         char *out, size_t len);

#endif
