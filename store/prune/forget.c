/* forget.c — retention policy, see forget.h. */
#include "store/prune/forget.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/snapselect.h"

#define NS_PER_S 1000000000LL

int forget_policy_empty(const ForgetPolicy *p)
{
	return !p->last && !p->hourly && !p->daily && !p->weekly && !p->monthly && !p->yearly &&
	       !p->has_within && p->ntags == 0 && p->nlabels == 0;
}

/* ---- argument parsing ---- */

int forget_parse_duration(const char *s, ForgetDuration *out, StrataErr *err)
{
	static const char units[] = "ymwdh";
	ForgetDuration d = {0, 0, 0, 0};
	const char *p = s, *last_unit = NULL;
	int weeks = 0;

	if (!*p)
		goto bad;
	while (*p) {
		char *end;
		const char *u;
		long v;
		if (*p < '0' || *p > '9')
			goto bad;
		errno = 0;
		v = strtol(p, &end, 10);
		/* 100000 of any unit is far beyond any history; it keeps the
		 * arithmetic below in int range. */
		if (errno || v > 100000 || !*end || !(u = strchr(units, *end)))
			goto bad;
		if (last_unit && u <= last_unit)
			goto bad;
		last_unit = u;
		switch (*u) {
		case 'y': d.years = (int)v; break;
		case 'm': d.months = (int)v; break;
		case 'w': weeks = (int)v; break;
		case 'd': d.days = (int)v; break;
		case 'h': d.hours = (int)v; break;
		}
		p = end + 1;
	}
	d.days += 7 * weeks;
	*out = d;
	return 0;
bad:
	return strata_err_set(err, STRATA_EUSAGE,
	                      "duration '%s': expected NUMBER UNIT pairs with units y, m, w, d, h in that order, e.g. 2d12h or 1y6m",
	                      s);
}

void forget_format_duration(const ForgetDuration *d, char *out, size_t len)
{
	size_t at = 0;

	out[0] = '\0';
	if (d->years)
		at += (size_t)snprintf(out + at, len - at, "%dy", d->years);
	if (d->months && at < len)
		at += (size_t)snprintf(out + at, len - at, "%dm", d->months);
	if (d->days && at < len)
		at += (size_t)snprintf(out + at, len - at, "%dd", d->days);
	if ((d->hours || at == 0) && at < len)
		snprintf(out + at, len - at, "%dh", d->hours);
}

int forget_parse_label_rule(const char *s, ForgetLabelRule *out, StrataErr *err)
{
	const char *pct = strchr(s, '%');
	unsigned long long m;
	char *end;

	if (!pct || pct == s || (size_t)(pct - s) >= sizeof out->key || pct[1] < '0' || pct[1] > '9')
		goto bad;
	errno = 0;
	m = strtoull(pct + 1, &end, 10);
	if (errno || *end || m == 0)
		goto bad;
	memcpy(out->key, s, (size_t)(pct - s));
	out->key[pct - s] = '\0';
	out->modulus = m;
	return 0;
bad:
	return strata_err_set(err, STRATA_EUSAGE,
	                      "label rule '%s': expected KEY%%N with N a positive number, e.g. height%%1000", s);
}

int forget_parse_group_by(const char *s, unsigned *out, StrataErr *err)
{
	unsigned g = 0;
	const char *p = s;

	while (*p) {
		size_t len = strcspn(p, ",");
		if (len == 4 && strncmp(p, "host", 4) == 0)
			g |= FORGET_GROUP_HOST;
		else if (len == 5 && strncmp(p, "paths", 5) == 0)
			g |= FORGET_GROUP_PATHS;
		else if (len == 4 && strncmp(p, "tags", 4) == 0)
			g |= FORGET_GROUP_TAGS;
		else
			return strata_err_set(err, STRATA_EUSAGE,
			                      "--group-by '%s': expected a comma-separated list of host, paths, tags (or \"\" for one group)",
			                      s);
		p += len;
		if (*p == ',')
			p++;
	}
	*out = g;
	return 0;
}

/* ---- grouping ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append the sorted strings v[0..n) to key, each followed by '\n'. */
static int key_add_set(char **key, size_t *len, char *const *v, size_t n)
{
	const char **sorted = malloc((n ? n : 1) * sizeof *sorted);
	size_t need = 0;
	char *p;

	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		sorted[i] = v[i];
		need += strlen(v[i]) + 1;
	}
	qsort(sorted, n, sizeof *sorted, cmp_str);
	p = realloc(*key, *len + need + 2);
	if (!p) {
		free(sorted);
		return -ENOMEM;
	}
	*key = p;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(sorted[i]);
		memcpy(p + *len, sorted[i], l);
		p[*len + l] = '\n';
		*len += l + 1;
	}
	/* A separator byte that no string holds ends each field. */
	p[(*len)++] = '\0';
	free(sorted);
	return 0;
}

/* The group key of s: host, sorted paths, sorted tags (as grouped). */
static int group_key(const Snapshot *s, unsigned by, char **out, size_t *out_len)
{
	char *key = NULL, *host = s->host ? s->host : (char *)(uintptr_t)"";
	size_t len = 0;
	int rc = 0;

	if (by & FORGET_GROUP_HOST)
		rc = key_add_set(&key, &len, &host, 1);
	if (rc == 0 && (by & FORGET_GROUP_PATHS))
		rc = key_add_set(&key, &len, s->paths, s->npaths);
	if (rc == 0 && (by & FORGET_GROUP_TAGS))
		rc = key_add_set(&key, &len, s->tags, s->ntags);
	if (rc == 0 && !key)
		key = calloc(1, 1);
	if (rc || !key) {
		free(key);
		return -ENOMEM;
	}
	*out = key;
	*out_len = len;
	return 0;
}

/* ---- rules ---- */

static int has_tag(const Snapshot *s, const char *tag, size_t len)
{
	for (size_t i = 0; i < s->ntags; i++)
		if (strlen(s->tags[i]) == len && strncmp(s->tags[i], tag, len) == 0)
			return 1;
	return 0;
}

/* 1 when s carries every tag of the comma-separated list. */
static int has_all_tags(const Snapshot *s, const char *list)
{
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");
		if (len && !has_tag(s, p, len))
			return 0;
		p += len;
		if (*p == ',')
			p++;
	}
	return 1;
}

static int label_matches(const Snapshot *s, const ForgetLabelRule *r)
{
	uint64_t v;

	return snapselect_label_uint(s, r->key, &v) == 0 && v % r->modulus == 0;
}

static int64_t bucket_hour(const struct tm *t)  { return (((int64_t)t->tm_year * 100 + t->tm_mon) * 100 + t->tm_mday) * 100 + t->tm_hour; }
static int64_t bucket_day(const struct tm *t)   { return ((int64_t)t->tm_year * 100 + t->tm_mon) * 100 + t->tm_mday; }
static int64_t bucket_month(const struct tm *t) { return (int64_t)t->tm_year * 100 + t->tm_mon; }
static int64_t bucket_year(const struct tm *t)  { return t->tm_year; }

/* ISO 8601 week: year of the week's Thursday * 100 + week number. */
static int64_t bucket_week(const struct tm *t)
{
	char buf[16];

	if (strftime(buf, sizeof buf, "%G%V", t) == 0)
		return bucket_day(t);
	return strtoll(buf, NULL, 10);
}

typedef struct Bucket {
	int count;                       /* left; FORGET_UNLIMITED: no limit */
	unsigned reason;
	int64_t (*of)(const struct tm *t);   /* NULL: keep-last, every snapshot its own bucket */
	int64_t last;
	int used;
} Bucket;

/* The keep-within cutoff: newest minus d, calendar parts in local time. */
static int64_t within_cutoff(int64_t newest_ns, const ForgetDuration *d)
{
	time_t secs = (time_t)(newest_ns / NS_PER_S);
	int64_t frac = newest_ns % NS_PER_S;
	struct tm tm;
	time_t t;

	if (frac < 0) {
		frac += NS_PER_S;
		secs--;
	}
	if (!localtime_r(&secs, &tm))
		return INT64_MIN;
	tm.tm_year -= d->years;
	tm.tm_mon -= d->months;
	tm.tm_mday -= d->days;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t == (time_t)-1)
		return INT64_MIN;
	return (int64_t)t * NS_PER_S + frac - (int64_t)d->hours * 3600 * NS_PER_S;
}

/* qsort_r: oldest first, then smaller ID first (walked backwards: newest
 * first, ties larger ID first). */
static int cmp_oldest(const void *a, const void *b, void *ctx)
{
	const Snapshot *snaps = ctx;
	const Snapshot *x = &snaps[*(const size_t *)a], *y = &snaps[*(const size_t *)b];

	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return memcmp(x->id, y->id, STRATA_ID_LEN);
}

/* The keep-N rules (last, hourly ... yearly) over list[0..m), newest
 * first: one counting sequence. */
static void apply_counts(const Snapshot *snaps, const size_t *list, size_t m, const ForgetPolicy *p,
                         ForgetDecision *out)
{
	Bucket b[] = {
		{ p->last,    FORGET_KEEP_LAST,    NULL,         0, 0 },
		{ p->hourly,  FORGET_KEEP_HOURLY,  bucket_hour,  0, 0 },
		{ p->daily,   FORGET_KEEP_DAILY,   bucket_day,   0, 0 },
		{ p->weekly,  FORGET_KEEP_WEEKLY,  bucket_week,  0, 0 },
		{ p->monthly, FORGET_KEEP_MONTHLY, bucket_month, 0, 0 },
		{ p->yearly,  FORGET_KEEP_YEARLY,  bucket_year,  0, 0 },
	};

	for (size_t k = 0; k < m; k++) {
		const Snapshot *s = &snaps[list[k]];
		ForgetDecision *d = &out[list[k]];
		time_t secs = (time_t)(s->time_ns / NS_PER_S - (s->time_ns % NS_PER_S < 0));
		struct tm tm;
		int have_tm = localtime_r(&secs, &tm) != NULL;

		for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
			int64_t v;
			if (b[i].count == 0 || (b[i].of && !have_tm))
				continue;
			v = b[i].of ? b[i].of(&tm) : (int64_t)k;
			/* The oldest snapshot is kept while the rule has counts
			 * left: the longest history the counts allow. */
			if (!b[i].used || v != b[i].last || k == m - 1) {
				d->reasons |= b[i].reason;
				b[i].last = v;
				b[i].used = 1;
				if (b[i].count > 0)
					b[i].count--;
			}
		}
	}
}

/* Apply p to one group: members[0..m), newest first. Without
 * include_partial, a partial snapshot never counts toward a keep-N rule
 * of the complete ones (forget.h): the rules count the complete
 * snapshots, and separately the partial ones newer than the newest
 * complete one; older partial ones are kept only by within, tag and
 * label. scratch has room for m indexes. */
static void apply_group(const Snapshot *snaps, const size_t *members, size_t m, const ForgetPolicy *p,
                        ForgetDecision *out, size_t *scratch)
{
	int64_t cutoff = p->has_within && m ? within_cutoff(snaps[members[0]].time_ns, &p->within) : 0;
	size_t nc = 0, np = 0, k;
	int seen_complete = 0;

	for (k = 0; k < m; k++) {
		const Snapshot *s = &snaps[members[k]];
		ForgetDecision *d = &out[members[k]];

		for (size_t t = 0; t < p->ntags; t++)
			if (has_all_tags(s, p->tags[t]))
				d->reasons |= FORGET_KEEP_TAG;
		for (size_t l = 0; l < p->nlabels; l++)
			if (label_matches(s, &p->labels[l]))
				d->reasons |= FORGET_KEEP_LABEL;
		if (p->has_within && s->time_ns > cutoff)
			d->reasons |= FORGET_KEEP_WITHIN;
		/* A hold keeps it and counts toward no keep-N rule: the rules
		 * still keep as many others as they say. */
		if (snapshot_held(s, p->now_ns))
			d->reasons |= FORGET_KEEP_HOLD;
	}
	if (p->include_partial) {
		apply_counts(snaps, members, m, p, out);
	} else {
		/* scratch[0..nc): complete, newest first; scratch[m-np..m):
		 * partial ones newer than every complete one, oldest first. */
		for (k = 0; k < m; k++) {
			if (snapshot_selectable(&snaps[members[k]], 0)) {
				scratch[nc++] = members[k];
				seen_complete = 1;
			} else if (!seen_complete) {
				scratch[m - ++np] = members[k];
			}
		}
		apply_counts(snaps, scratch, nc, p, out);
		for (k = 0; k < np / 2; k++) {      /* newest first */
			size_t t = scratch[m - np + k];
			scratch[m - np + k] = scratch[m - 1 - k];
			scratch[m - 1 - k] = t;
		}
		apply_counts(snaps, scratch + m - np, np, p, out);
	}
	for (k = 0; k < m; k++)
		out[members[k]].keep = out[members[k]].reasons != 0;
}

int forget_apply(const Snapshot *snaps, size_t n, const ForgetPolicy *p,
                 ForgetDecision *out, size_t *out_ngroups, StrataErr *err)
{
	char **keys = NULL;
	size_t *klen = NULL, *order = NULL, *members = NULL, *reps = NULL, *scratch = NULL, ngroups = 0;
	int rc = 0;

	for (size_t l = 0; l < p->nlabels; l++)
		if (p->labels[l].modulus == 0)
			return strata_err_set(err, STRATA_EUSAGE, "label rule %s%%0: the modulus must be positive",
			                      p->labels[l].key);
	memset(out, 0, n * sizeof *out);
	keys = calloc(n ? n : 1, sizeof *keys);
	klen = calloc(n ? n : 1, sizeof *klen);
	order = malloc((n ? n : 1) * sizeof *order);
	members = malloc((n ? n : 1) * sizeof *members);
	reps = malloc((n ? n : 1) * sizeof *reps);
	scratch = malloc((n ? n : 1) * sizeof *scratch);
	if (!keys || !klen || !order || !members || !reps || !scratch) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (group_key(&snaps[i], p->group_by, &keys[i], &klen[i]) != 0) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		order[i] = i;
	}
	/* Oldest first, so group numbers follow each group's oldest snapshot.
	 * reps[g] is group g's first member; comparing against those only is
	 * O(n * groups), and groups are few (hosts x paths). */
	qsort_r(order, n, sizeof *order, cmp_oldest, (void *)(uintptr_t)snaps);
	for (size_t i = 0; i < n; i++) {
		size_t s = order[i], g;
		for (g = 0; g < ngroups; g++)
			if (klen[reps[g]] == klen[s] && memcmp(keys[reps[g]], keys[s], klen[s]) == 0)
				break;
		if (g == ngroups)
			reps[ngroups++] = s;
		out[s].group = g;
	}
	for (size_t g = 0; g < ngroups; g++) {
		size_t m = 0;
		for (size_t i = n; i-- > 0;)        /* newest first */
			if (out[order[i]].group == g)
				members[m++] = order[i];
		apply_group(snaps, members, m, p, out, scratch);
	}
	if (out_ngroups)
		*out_ngroups = ngroups;
out:
	if (keys)
		for (size_t i = 0; i < n; i++)
			free(keys[i]);
	free(keys);
	free(klen);
	free(order);
	free(members);
	free(reps);
	free(scratch);
	return rc;
}

void forget_reasons_text(unsigned reasons, const ForgetPolicy *p, const Snapshot *s,
                         char *out, size_t len)
{
	static const struct { unsigned bit; const char *name; } simple[] = {
		{ FORGET_KEEP_LAST, "last" }, { FORGET_KEEP_HOURLY, "hourly" },
		{ FORGET_KEEP_DAILY, "daily" }, { FORGET_KEEP_WEEKLY, "weekly" },
		{ FORGET_KEEP_MONTHLY, "monthly" }, { FORGET_KEEP_YEARLY, "yearly" },
	};
	size_t at = 0;
	char dur[64];

#define APPEND(...) do { \
		if (at < len) { \
			int w_ = snprintf(out + at, len - at, "%s", at ? ", " : ""); \
			at += w_ > 0 ? (size_t)w_ : 0; \
		} \
		if (at < len) { \
			int w_ = snprintf(out + at, len - at, __VA_ARGS__); \
			at += w_ > 0 ? (size_t)w_ : 0; \
		} \
	} while (0)

	if (len)
		out[0] = '\0';
	for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
		if (reasons & simple[i].bit)
			APPEND("%s", simple[i].name);
	if (reasons & FORGET_KEEP_WITHIN) {
		forget_format_duration(&p->within, dur, sizeof dur);
		APPEND("within %s", dur);
	}
	if (reasons & FORGET_KEEP_TAG)
		for (size_t t = 0; t < p->ntags; t++)
			if (has_all_tags(s, p->tags[t]))
				APPEND("tag %s", p->tags[t]);
	if (reasons & FORGET_KEEP_LABEL)
		for (size_t l = 0; l < p->nlabels; l++)
			if (label_matches(s, &p->labels[l]))
				APPEND("label %s%%%llu", p->labels[l].key, (unsigned long long)p->labels[l].modulus);
	if (reasons & FORGET_KEEP_HOLD)
		APPEND("held%s%s", s->hold_reason && *s->hold_reason ? ": " : "", s->hold_reason ? s->hold_reason : "");
#undef APPEND
}
