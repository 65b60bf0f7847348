/* snapselect.c — choosing one snapshot, see snapselect.h. */
#include "store/snapselect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TIME_LEN 48
#define GROUP_LEN 256

/* UTC ISO 8601; the fraction only when there is one, so a time copied
 * from the message selects the same snapshot again. */
static const char *fmt_time(int64_t ns, char out[TIME_LEN])
{
	int64_t s = ns / 1000000000, r = ns % 1000000000;
	time_t tt;
	struct tm tm;
	char date[32];

	if (r < 0) {
		r += 1000000000;
		s--;
	}
	tt = (time_t)s;
	if (!gmtime_r(&tt, &tm) || !strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(date, sizeof date, "@%lld", (long long)s);
	if (r)
		snprintf(out, TIME_LEN, "%s.%09lldZ", date, (long long)r);
	else
		snprintf(out, TIME_LEN, "%sZ", date);
	return out;
}

static const char *short_id(const Snapshot *s, char out[9])
{
	char hex[STRATA_ID_HEX_LEN + 1];

	strata_id_hex(s->id, hex);
	memcpy(out, hex, 8);
	out[8] = '\0';
	return out;
}

/* " (host H, tag T, path P)" or "" for the message. */
static const char *fmt_group(const SnapFilter *f, char out[GROUP_LEN])
{
	size_t len = 0;
	const char *sep = " (";

	out[0] = '\0';
#define ADD(...) do { \
		int n_ = snprintf(out + len, GROUP_LEN - len, __VA_ARGS__); \
		if (n_ > 0) \
			len += (size_t)n_ < GROUP_LEN - len ? (size_t)n_ : GROUP_LEN - len - 1; \
	} while (0)
	if (f->host) {
		ADD("%shost %s", sep, f->host);
		sep = ", ";
	}
	for (size_t i = 0; i < f->ntags; i++) {
		ADD("%stag %s", sep, f->tags[i]);
		sep = ", ";
	}
	for (size_t i = 0; i < f->npaths; i++) {
		ADD("%spath %s", sep, f->paths[i]);
		sep = ", ";
	}
	for (size_t i = 0; i < f->nlabels; i++) {
		ADD("%slabel %s", sep, f->labels[i]);
		sep = ", ";
	}
	if (f->verified)
		ADD("%spassed a restore test", sep);
	if (len)
		ADD(")");
#undef ADD
	return out;
}

static int has_str(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

int snapselect_matches(const Snapshot *s, const SnapFilter *f)
{
	if (f->host && (!s->host || strcmp(s->host, f->host) != 0))
		return 0;
	for (size_t i = 0; i < f->ntags; i++)
		if (!has_str(s->tags, s->ntags, f->tags[i]))
			return 0;
	for (size_t i = 0; i < f->npaths; i++)
		if (!has_str(s->paths, s->npaths, f->paths[i]))
			return 0;
	for (size_t i = 0; i < f->nlabels; i++)
		if (!has_str(s->labels, s->nlabels, f->labels[i]))
			return 0;
	if (f->verified && !verified_passed(f->verified, s->id))
		return 0;
	return 1;
}

/* In the group and choosable: snapshot_selectable's rule. A snapshot of
 * the group that is passed over for being partial is counted in *skipped
 * (may be NULL), for the message when nothing qualifies. */
static int eligible(const Snapshot *s, const SnapSelect *sel, size_t *skipped)
{
	if (!snapselect_matches(s, &sel->filter))
		return 0;
	if (snapshot_selectable(s, sel->include_partial))
		return 1;
	if (skipped)
		(*skipped)++;
	return 0;
}

/* "SEP N partial snapshots passed over (...)" or "", for a message. */
static const char *fmt_skipped(size_t n, const char *sep, char out[128])
{
	if (n == 0)
		out[0] = '\0';
	else
		snprintf(out, 128, "%s%zu partial snapshot%s passed over (--include-partial selects %s)", sep, n,
		         n == 1 ? "" : "s", n == 1 ? "it" : "them");
	return out;
}

/* A plain unsigned decimal: digits only, no sign, fits 64 bits. */
static int parse_uint(const char *v, uint64_t *out)
{
	uint64_t x = 0;

	if (!*v || strlen(v) > 20)
		return STRATA_EFORMAT;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return STRATA_EFORMAT;
		if (x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return STRATA_EFORMAT;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	*out = x;
	return 0;
}

int snapselect_label_uint(const Snapshot *s, const char *key, uint64_t *out)
{
	const char *v = snapshot_label(s, key);

	if (!v)
		return STRATA_ENOTFOUND;
	return parse_uint(v, out);
}

/* 1 if a is later than b: by time, then by ID (a total order). */
static int later(const Snapshot *a, const Snapshot *b)
{
	if (a->time_ns != b->time_ns)
		return a->time_ns > b->time_ns;
	return memcmp(a->id, b->id, STRATA_ID_LEN) > 0;
}

#define NONE ((size_t)-1)

static int pick_latest(const Snapshot *snaps, size_t n, const SnapSelect *sel, size_t *out_idx,
                       StrataErr *err)
{
	char group[GROUP_LEN], sk[128];
	size_t best = NONE, skipped = 0, untested = 0;
	SnapSelect any = *sel;

	/* The group's choosable snapshots; of those, with --verified, the
	 * ones that passed their newest restore test. */
	any.filter.verified = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!eligible(&snaps[i], &any, &skipped))
			continue;
		if (sel->filter.verified && !verified_passed(sel->filter.verified, snaps[i].id)) {
			untested++;
			continue;
		}
		if (best == NONE || later(&snaps[i], &snaps[best]))
			best = i;
	}
	/* The group holds snapshots, none of which passed: say so, and how
	 * to get one that does. */
	if (best == NONE && untested)
		return strata_err_set(err, STRATA_ENOTFOUND, "no snapshot%s: none of the %zu in the group has passed "
		                      "its newest restore test; `strata verify-restore` runs one%s",
		                      fmt_group(&sel->filter, group), untested, fmt_skipped(skipped, "; ", sk));
	if (best == NONE && skipped)
		return strata_err_set(err, STRATA_ENOTFOUND, "no complete snapshot found%s%s",
		                      fmt_group(&sel->filter, group), fmt_skipped(skipped, ": ", sk));
	if (best == NONE)
		return strata_err_set(err, STRATA_ENOTFOUND, "no snapshot found%s: the repository holds %zu snapshot%s, none in this group",
		                      fmt_group(&sel->filter, group), n, n == 1 ? "" : "s");
	*out_idx = best;
	return 0;
}

static int pick_at_time(const Snapshot *snaps, size_t n, const SnapSelect *sel, size_t *out_idx,
                        StrataErr *err)
{
	char group[GROUP_LEN], t1[TIME_LEN], t2[TIME_LEN], id[9], sk[128];
	size_t best = NONE, after = NONE, in_group = 0, skipped = 0;

	for (size_t i = 0; i < n; i++) {
		const Snapshot *s = &snaps[i];
		if (!eligible(s, sel, s->time_ns <= sel->time_ns ? &skipped : NULL))
			continue;
		in_group++;
		if (s->time_ns <= sel->time_ns) {
			if (best == NONE || later(s, &snaps[best]))
				best = i;
		} else if (after == NONE || later(&snaps[after], s)) {
			after = i;
		}
	}
	if (best != NONE) {
		*out_idx = best;
		return 0;
	}
	fmt_time(sel->time_ns, t1);
	fmt_group(&sel->filter, group);
	fmt_skipped(skipped, in_group ? "; " : ": ", sk);
	if (in_group == 0 && skipped)
		return strata_err_set(err, STRATA_ENOTFOUND, "no complete snapshot at or before %s%s%s", t1, group, sk);
	if (in_group == 0)
		return strata_err_set(err, STRATA_ENOTFOUND, "no snapshot at or before %s%s: the repository holds %zu snapshot%s, none in this group",
		                      t1, group, n, n == 1 ? "" : "s");
	return strata_err_set(err, STRATA_ENOTFOUND, "no %ssnapshot at or before %s%s: the earliest is %s at %s%s",
	                      skipped ? "complete " : "", t1, group, short_id(&snaps[after], id),
	                      fmt_time(snaps[after].time_ns, t2), sk);
}

static int pick_at_height(const Snapshot *snaps, size_t n, const SnapSelect *sel, size_t *out_idx,
                          StrataErr *err)
{
	const char *key = sel->label && *sel->label ? sel->label : SNAPSELECT_HEIGHT_LABEL;
	char group[GROUP_LEN], t[TIME_LEN], id[9], sk[128];
	size_t best = NONE, above = NONE, skipped = 0;
	uint64_t best_h = 0, above_h = 0, h;

	for (size_t i = 0; i < n; i++) {
		const Snapshot *s = &snaps[i];
		if (snapselect_label_uint(s, key, &h) != 0 ||
		    !eligible(s, sel, h <= sel->height ? &skipped : NULL))
			continue;
		if (h <= sel->height) {
			if (best == NONE || h > best_h || (h == best_h && later(s, &snaps[best]))) {
				best = i;
				best_h = h;
			}
		} else if (above == NONE || h < above_h || (h == above_h && later(&snaps[above], s))) {
			above = i;
			above_h = h;
		}
	}
	if (best != NONE) {
		*out_idx = best;
		return 0;
	}
	fmt_group(&sel->filter, group);
	fmt_skipped(skipped, above == NONE ? ": " : "; ", sk);
	if (above == NONE && skipped)
		return strata_err_set(err, STRATA_ENOTFOUND, "no complete snapshot with %s at most %llu%s%s",
		                      key, (unsigned long long)sel->height, group, sk);
	if (above == NONE)
		return strata_err_set(err, STRATA_ENOTFOUND, "no snapshot%s carries a numeric label %s; label backups with `backup --label %s=N`",
		                      group, key, key);
	return strata_err_set(err, STRATA_ENOTFOUND, "no %ssnapshot with %s at most %llu%s: the lowest is %s (%s=%llu, %s)%s",
	                      skipped ? "complete " : "", key, (unsigned long long)sel->height, group,
	                      short_id(&snaps[above], id), key, (unsigned long long)above_h,
	                      fmt_time(snaps[above].time_ns, t), sk);
}

static int pick_label(const Snapshot *snaps, size_t n, const SnapSelect *sel, size_t *out_idx,
                      StrataErr *err)
{
	const char *eq = sel->label ? strchr(sel->label, '=') : NULL;
	char key[256], group[GROUP_LEN], t1[TIME_LEN], t2[TIME_LEN], id1[9], id2[9], sk[128];
	size_t best = NONE, below = NONE, above = NONE, carriers = 0, newest = NONE, skipped = 0;
	uint64_t want = 0, h, below_h = 0, above_h = 0;
	int numeric;

	if (!eq || eq == sel->label || (size_t)(eq - sel->label) >= sizeof key)
		return strata_err_set(err, STRATA_EUSAGE, "label %s: expected KEY=VALUE", sel->label ? sel->label : "(none)");
	memcpy(key, sel->label, (size_t)(eq - sel->label));
	key[eq - sel->label] = '\0';
	/* A numeric value: a miss names the nearest numbers below and above. */
	numeric = parse_uint(eq + 1, &want) == 0;
	for (size_t i = 0; i < n; i++) {
		const Snapshot *s = &snaps[i];
		const char *v;
		if (!(v = snapshot_label(s, key)) || !eligible(s, sel, strcmp(v, eq + 1) == 0 ? &skipped : NULL))
			continue;
		carriers++;
		if (newest == NONE || later(s, &snaps[newest]))
			newest = i;
		if (strcmp(v, eq + 1) == 0) {
			if (best == NONE || later(s, &snaps[best]))
				best = i;
			continue;
		}
		if (!numeric || snapselect_label_uint(s, key, &h) != 0)
			continue;
		if (h < want && (below == NONE || h > below_h || (h == below_h && later(s, &snaps[below])))) {
			below = i;
			below_h = h;
		} else if (h > want && (above == NONE || h < above_h || (h == above_h && later(&snaps[above], s)))) {
			above = i;
			above_h = h;
		}
	}
	if (best != NONE) {
		*out_idx = best;
		return 0;
	}
	fmt_group(&sel->filter, group);
	if (skipped)
		return strata_err_set(err, STRATA_ENOTFOUND, "no complete snapshot labelled %s%s%s", sel->label, group,
		                      fmt_skipped(skipped, ": ", sk));
	if (carriers == 0)
		return strata_err_set(err, STRATA_ENOTFOUND, "no snapshot labelled %s%s: none carries a label %s",
		                      sel->label, group, key);
	if (below != NONE && above != NONE)
		return strata_err_set(err, STRATA_ENOTFOUND, "no snapshot labelled %s%s: the nearest are %s (%s=%llu, %s) below and %s (%s=%llu, %s) above",
		                      sel->label, group, short_id(&snaps[below], id1), key, (unsigned long long)below_h,
		                      fmt_time(snaps[below].time_ns, t1), short_id(&snaps[above], id2), key,
		                      (unsigned long long)above_h, fmt_time(snaps[above].time_ns, t2));
	if (below != NONE || above != NONE) {
		size_t i = below != NONE ? below : above;
		return strata_err_set(err, STRATA_ENOTFOUND, "no snapshot labelled %s%s: the nearest is %s (%s=%llu, %s), %s",
		                      sel->label, group, short_id(&snaps[i], id1), key,
		                      (unsigned long long)(below != NONE ? below_h : above_h),
		                      fmt_time(snaps[i].time_ns, t1), below != NONE ? "below" : "above");
	}
	return strata_err_set(err, STRATA_ENOTFOUND, "no snapshot labelled %s%s: %zu carry %s, the newest %s (%s=%s, %s)",
	                      sel->label, group, carriers, key, short_id(&snaps[newest], id1), key,
	                      snapshot_label(&snaps[newest], key), fmt_time(snaps[newest].time_ns, t1));
}

int snapselect_pick(const Snapshot *snaps, size_t n, const SnapSelect *sel,
                    size_t *out_idx, StrataErr *err)
{
	switch (sel->by) {
	case SNAPSELECT_LATEST:    return pick_latest(snaps, n, sel, out_idx, err);
	case SNAPSELECT_AT_TIME:   return pick_at_time(snaps, n, sel, out_idx, err);
	case SNAPSELECT_AT_HEIGHT: return pick_at_height(snaps, n, sel, out_idx, err);
	case SNAPSELECT_LABEL:     return pick_label(snaps, n, sel, out_idx, err);
	default:
		return strata_err_set(err, STRATA_EUSAGE, "unknown snapshot selection %d", sel->by);
	}
}

/* The snapshot the newest-first fast path of snapselect_find accepts. */
static int newest_match(const Snapshot *s, void *ctx)
{
	const SnapSelect *sel = ctx;
	const char *eq, *v;
	char key[256];

	if (!eligible(s, sel, NULL))
		return 0;
	if (sel->by != SNAPSELECT_LABEL)
		return 1;
	eq = strchr(sel->label, '=');
	if ((size_t)(eq - sel->label) >= sizeof key)
		return 0;
	memcpy(key, sel->label, (size_t)(eq - sel->label));
	key[eq - sel->label] = '\0';
	v = snapshot_label(s, key);
	return v && strcmp(v, eq + 1) == 0;
}

int snapselect_find(Repo *repo, const SnapSelect *sel, Snapshot *out, StrataErr *err)
{
	Snapshot *all = NULL;
	size_t n = 0, at = 0;
	int rc;

	/* Latest, at a time, by exact label: the answer is the newest match
	 * (ties: the larger ID, the catalogue's order too), so a newest-first
	 * walk of the catalogue stops at it without decoding the rest. Only
	 * when nothing matches does the full list name the nearest ones. */
	if (sel->by == SNAPSELECT_LATEST || sel->by == SNAPSELECT_AT_TIME ||
	    (sel->by == SNAPSELECT_LABEL && sel->label && strchr(sel->label, '=') &&
	     sel->label[0] != '=')) {
		SnapshotFilter f = {0};
		f.match = newest_match;
		f.match_ctx = (void *)(uintptr_t)sel;
		f.include_partial = 1;      /* newest_match applies sel's rule */
		rc = snapshot_latest_before(repo, &f, sel->by == SNAPSELECT_AT_TIME ? sel->time_ns : INT64_MAX,
		                            1, &all, &n, err);
		if (rc)
			return rc;
		if (n == 1) {
			*out = all[0];
			free(all);
			return 0;
		}
		snapshot_list_free(all, n);
		all = NULL;
		n = 0;
	}

	rc = snapshot_list(repo, &all, &n, err);
	if (rc)
		return rc;
	rc = snapselect_pick(all, n, sel, &at, err);
	if (rc == 0) {
		*out = all[at];
		memset(&all[at], 0, sizeof all[at]);
	}
	snapshot_list_free(all, n);
	return rc;
}
