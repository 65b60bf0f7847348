/* test_forget.c — the retention policy (store/prune/forget.h) against a synthetic
 * history whose kept sets are worked out by hand below each case.
 *
 * Times are UTC (TZ=UTC is set before anything runs), so calendar buckets
 * are the dates written here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/prune/forget.h"
#include "tests/check.h"

/* One snapshot of the history: a one-letter name (also its ID's first
 * byte, so ties in time order by name), UTC time, host, paths, tags and a
 * height label (NULL: none). */
typedef struct Spec {
	char name;
	const char *when;            /* "YYYY-MM-DD HH:MM" */
	const char *host;
	const char *paths;           /* comma-separated */
	const char *tags;            /* comma-separated, "" for none */
	const char *height;
} Spec;

/* The main history, host alpha, paths /data. ISO weeks and weekdays:
 *   2022-06-15 Wed W24 · 2023-12-30 Sat 2023-W52 · 2023-12-31 Sun 2023-W52
 *   2024-01-01 Mon W01 · 2024-01-07 Sun W01 · 2024-01-08 Mon W02
 *   2024-02-15 Thu W07 · 2024-03-01 Fri W09 */
static const Spec HISTORY[] = {
	{ 'a', "2022-06-15 12:00", "alpha", "/data", "",          "1000" },
	{ 'b', "2023-12-30 12:00", "alpha", "/data", "db,weekly", "1500" },
	{ 'c', "2023-12-31 12:00", "alpha", "/data", "",          "2000" },
	{ 'd', "2024-01-01 06:00", "alpha", "/data", "daily",     "2001" },
	{ 'e', "2024-01-01 18:00", "alpha", "/data", "",          "abc" },
	{ 'f', "2024-01-07 12:00", "alpha", "/data", "",          "3000" },
	{ 'g', "2024-01-08 12:00", "alpha", "/data", "weekly,db", NULL },
	{ 'h', "2024-02-15 12:00", "alpha", "/data", "db",        "100000" },
	{ 'i', "2024-03-01 12:00", "alpha", "/data", "",          "4500" },
	{ 'j', "2024-03-01 20:00", "alpha", "/data", "",          "5000" },
};
#define NHISTORY (sizeof HISTORY / sizeof HISTORY[0])

static int64_t utc_ns(const char *when)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	if (!strptime(when, "%Y-%m-%d %H:%M", &tm)) {
		printf("bad time %s\n", when);
		exit(2);
	}
	return (int64_t)timegm(&tm) * 1000000000LL;
}

static char **split(const char *list, size_t *out_n)
{
	char **v = calloc(16, sizeof *v), *copy = strdup(list), *save = NULL, *tok;
	size_t n = 0;

	for (tok = strtok_r(copy, ",", &save); tok && n < 16; tok = strtok_r(NULL, ",", &save))
		v[n++] = strdup(tok);
	free(copy);
	*out_n = n;
	return v;
}

static Snapshot *build(const Spec *specs, size_t n)
{
	Snapshot *s = calloc(n, sizeof *s);

	for (size_t i = 0; i < n; i++) {
		s[i].id[0] = (uint8_t)specs[i].name;
		s[i].time_ns = utc_ns(specs[i].when);
		s[i].host = strdup(specs[i].host);
		s[i].user = strdup("ops");
		s[i].paths = split(specs[i].paths, &s[i].npaths);
		s[i].tags = split(specs[i].tags, &s[i].ntags);
		if (specs[i].height) {
			s[i].labels = calloc(1, sizeof *s[i].labels);
			s[i].nlabels = 1;
			if (asprintf(&s[i].labels[0], "height=%s", specs[i].height) < 0)
				exit(2);
		}
	}
	return s;
}

/* The names of the kept snapshots, in name order ("jhgf" → "fghj"). */
static void kept_names(const Spec *specs, size_t n, const ForgetDecision *d, char *out)
{
	size_t k = 0;

	for (char c = 'a'; c <= 'z'; c++)
		for (size_t i = 0; i < n; i++)
			if (specs[i].name == c && d[i].keep)
				out[k++] = c;
	out[k] = '\0';
}

/* Apply p to specs; return the kept names (static buffer). */
static const char *kept_by(const Spec *specs, size_t n, const ForgetPolicy *p)
{
	static char names[64];
	ForgetDecision d[64];
	Snapshot *s = build(specs, n);
	StrataErr err = {0, ""};

	if (forget_apply(s, n, p, d, NULL, &err) != 0) {
		snprintf(names, sizeof names, "error: %s", err.msg);
	} else {
		kept_names(specs, n, d, names);
		/* Every kept snapshot has a reason, every removed one none. */
		for (size_t i = 0; i < n; i++)
			if (d[i].keep != (d[i].reasons != 0))
				snprintf(names, sizeof names, "reason mismatch at %c", specs[i].name);
	}
	snapshot_list_free(s, n);
	return names;
}

/* kept_by with the snapshots named in partial marked partial. */
static const char *kept_by_partial(const Spec *specs, size_t n, const ForgetPolicy *p, const char *partial)
{
	static char names[64];
	ForgetDecision d[64];
	Snapshot *s = build(specs, n);
	StrataErr err = {0, ""};

	for (size_t i = 0; i < n; i++)
		s[i].partial = strchr(partial, specs[i].name) != NULL;
	if (forget_apply(s, n, p, d, NULL, &err) != 0)
		snprintf(names, sizeof names, "error: %s", err.msg);
	else
		kept_names(specs, n, d, names);
	snapshot_list_free(s, n);
	return names;
}

static ForgetPolicy policy(void)
{
	ForgetPolicy p;

	memset(&p, 0, sizeof p);
	p.group_by = FORGET_GROUP_DEFAULT;
	return p;
}

static void test_keep_last(void)
{
	ForgetPolicy p = policy();

	/* The three newest. */
	p.last = 3;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "hij");
	p.last = 1;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "j");
	/* More than there are: all. */
	p.last = 50;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "abcdefghij");
	p.last = FORGET_UNLIMITED;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "abcdefghij");
}

static void test_keep_hourly(void)
{
	static const Spec h[] = {
		{ 'a', "2024-01-01 00:10", "alpha", "/data", "", NULL },
		{ 'b', "2024-01-01 00:50", "alpha", "/data", "", NULL },
		{ 'c', "2024-01-01 01:20", "alpha", "/data", "", NULL },
		{ 'd', "2024-01-01 02:05", "alpha", "/data", "", NULL },
		{ 'e', "2024-01-01 02:40", "alpha", "/data", "", NULL },
		{ 'f', "2024-01-01 04:00", "alpha", "/data", "", NULL },
	};
	ForgetPolicy p = policy();

	/* Newest first: f (04h) keep, e (02h) keep, d (02h) same hour,
	 * c (01h) keep; counts exhausted. */
	p.hourly = 3;
	CHECK_STR(kept_by(h, 6, &p), "cef");
	/* Counts left: b (00h) keep; a shares b's hour but is the oldest
	 * while counts remain: kept too. */
	p.hourly = 10;
	CHECK_STR(kept_by(h, 6, &p), "abcef");
}

static void test_keep_daily(void)
{
	ForgetPolicy p = policy();

	/* j (03-01) keep, i same day, h (02-15), g (01-08), f (01-07): 4. */
	p.daily = 4;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "fghj");
	/* Unlimited: one per day, plus the oldest: e and d share 01-01 (e
	 * kept as the newer), c, b, a each their own day. */
	p.daily = FORGET_UNLIMITED;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "abcefghj");
}

static void test_keep_weekly(void)
{
	ForgetPolicy p = policy();

	/* j (W09) keep, i (W09) no, h (W07) keep, g (W02) keep. */
	p.weekly = 3;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "ghj");
	/* ... f (W01) keep, e, d (W01) no, c (2023-W52) keep, b (W52) no,
	 * a (2022-W24) keep. 2023-12-31 is a Sunday: ISO week 2023-W52, not
	 * the week of 2024-01-01. */
	p.weekly = 10;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "acfghj");
}

static void test_keep_monthly(void)
{
	ForgetPolicy p = policy();

	/* j (2024-03) keep, i no, h (2024-02) keep. */
	p.monthly = 2;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "hj");
	/* ... g (2024-01) keep, f, e, d no, c (2023-12) keep, b no,
	 * a (2022-06) keep. */
	p.monthly = 5;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "acghj");
}

static void test_keep_monthly_short_history(void)
{
	/* d, e, f all in 2024-01: f keeps the month; d is the oldest and the
	 * rule still has counts: kept too. */
	Spec sub[3];
	ForgetPolicy p = policy();

	memcpy(sub, &HISTORY[3], sizeof sub);
	p.monthly = 10;
	CHECK_STR(kept_by(sub, 3, &p), "df");
	p.monthly = 1;
	CHECK_STR(kept_by(sub, 3, &p), "f");
}

static void test_keep_yearly(void)
{
	ForgetPolicy p = policy();

	/* j (2024), c (2023). */
	p.yearly = 2;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "cj");
	/* + a (2022). */
	p.yearly = 5;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "acj");
	p.yearly = FORGET_UNLIMITED;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "acj");
}

static void test_keep_combined(void)
{
	ForgetPolicy p = policy();
	ForgetDecision d[NHISTORY];
	Snapshot *s = build(HISTORY, NHISTORY);
	char text[256];

	/* daily 2: j, h. monthly 3: j, h, g. */
	p.daily = 2;
	p.monthly = 3;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "ghj");
	REQUIRE(forget_apply(s, NHISTORY, &p, d, NULL, NULL) == 0);
	CHECK_EQ_INT(d[9].reasons, FORGET_KEEP_DAILY | FORGET_KEEP_MONTHLY);
	CHECK_EQ_INT(d[6].reasons, FORGET_KEEP_MONTHLY);
	forget_reasons_text(d[9].reasons, &p, &s[9], text, sizeof text);
	CHECK_STR(text, "daily, monthly");
	snapshot_list_free(s, NHISTORY);
}

static void test_keep_within(void)
{
	ForgetPolicy p = policy();
	struct { const char *dur; const char *kept; } cases[] = {
		/* newest j = 2024-03-01 20:00 */
		{ "1d",    "ij" },          /* cutoff 02-29 20:00 (leap day) */
		{ "15d",   "ij" },          /* cutoff 02-15 20:00: h at 12:00 is older */
		{ "16d",   "hij" },         /* cutoff 02-14 20:00 */
		{ "2m",    "fghij" },       /* cutoff 01-01 20:00: e at 18:00 is older */
		{ "2m1d",  "defghij" },     /* cutoff 2023-12-31 20:00 */
		{ "1y6m",  "bcdefghij" },   /* cutoff 2022-09-01 20:00 */
		{ "12h",   "ij" },          /* cutoff 03-01 08:00 */
		{ "8h",    "j" },           /* cutoff 03-01 12:00: i is not strictly newer */
		{ "2d12h", "ij" },          /* cutoff 02-28 08:00 */
		{ "3w",    "hij" },         /* cutoff 02-09 20:00 */
	};
	StrataErr err = {0, ""};

	p.has_within = 1;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		REQUIRE(forget_parse_duration(cases[i].dur, &p.within, &err) == 0);
		const char *got = kept_by(HISTORY, NHISTORY, &p);
		if (strcmp(got, cases[i].kept) != 0)
			printf("  within %s: kept %s, expected %s\n", cases[i].dur, got, cases[i].kept);
		CHECK_STR(got, cases[i].kept);
	}
}

static void test_keep_tag(void)
{
	ForgetPolicy p = policy();
	const char *both[] = { "db,weekly" };
	const char *db[] = { "db" };
	const char *two[] = { "daily", "weekly,db" };
	const char *none[] = { "nosuchtag" };

	/* Every tag of the list: b and g carry db and weekly. */
	p.tags = both;
	p.ntags = 1;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "bg");
	p.tags = db;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "bgh");
	/* Either list: d (daily), b and g (weekly+db). */
	p.tags = two;
	p.ntags = 2;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "bdg");
	p.tags = none;
	p.ntags = 1;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "");
}

static void test_keep_label(void)
{
	ForgetPolicy p = policy();
	ForgetLabelRule r;
	StrataErr err = {0, ""};

	/* heights: a 1000, b 1500, c 2000, d 2001, e "abc", f 3000, g none,
	 * h 100000, i 4500, j 5000 */
	REQUIRE(forget_parse_label_rule("height%1000", &r, &err) == 0);
	p.labels = &r;
	p.nlabels = 1;
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "acfhj");
	REQUIRE(forget_parse_label_rule("height%500", &r, &err) == 0);
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "abcfhij");
	/* A label nobody carries keeps nothing. */
	REQUIRE(forget_parse_label_rule("depth%2", &r, &err) == 0);
	CHECK_STR(kept_by(HISTORY, NHISTORY, &p), "");
}

/* Partial snapshots never count toward keep-N (forget.h): the rules count
 * the complete ones, and on their own the partial ones newer than the
 * newest complete one; older partial ones only within/tag/label keep. */
static void test_partial(void)
{
	ForgetPolicy p = policy();

	/* i, j partial: the 3 newest complete h g f, and i j (newer than h,
	 * 2 of the 3 the rule allows them). Unmarked it would be hij. */
	p.last = 3;
	CHECK_STR(kept_by_partial(HISTORY, NHISTORY, &p, "ij"), "fghij");
	CHECK_STR(kept_by_partial(HISTORY, NHISTORY, &p, ""), "hij");
	/* h partial, older than the newest complete j: only j. */
	p.last = 1;
	CHECK_STR(kept_by_partial(HISTORY, NHISTORY, &p, "h"), "j");
	/* Everything partial: kept as a complete history would be, not all,
	 * not none. */
	p.last = 2;
	CHECK_STR(kept_by_partial(HISTORY, NHISTORY, &p, "abcdefghij"), "ij");
	/* include_partial: counted like any other. */
	p.last = 3;
	p.include_partial = 1;
	CHECK_STR(kept_by_partial(HISTORY, NHISTORY, &p, "ij"), "hij");
	p.include_partial = 0;
	/* daily 4, j partial: i takes 03-01 (j would have), then h g f; j is
	 * newer than i, kept on its own count. */
	p = policy();
	p.daily = 4;
	CHECK_STR(kept_by_partial(HISTORY, NHISTORY, &p, "j"), "fghij");
	CHECK_STR(kept_by_partial(HISTORY, NHISTORY, &p, ""), "fghj");
	/* tag, label and within count nothing: partial or not alike. */
	p = policy();
	p.tags = (const char *const[]){ "db" };
	p.ntags = 1;
	CHECK_STR(kept_by_partial(HISTORY, NHISTORY, &p, "h"), "bgh");
	p = policy();
	p.has_within = 1;
	p.within.days = 1;
	CHECK_STR(kept_by_partial(HISTORY, NHISTORY, &p, "i"), "ij");
	/* keep-last 1 and a partial in between: the count goes to the
	 * complete g, not to h; i and j (newer than g) are kept. */
	p = policy();
	p.last = 1;
	CHECK_STR(kept_by_partial(HISTORY, NHISTORY, &p, "hij"), "gj");
}

static void test_groups(void)
{
	static const Spec g[] = {
		{ 'a', "2024-01-01 00:00", "beta",  "/data",   "",   NULL },
		{ 'b', "2024-01-05 00:00", "alpha", "/other",  "",   NULL },
		{ 'c', "2024-02-01 00:00", "alpha", "/a,/b",   "x",  NULL },
		{ 'd', "2024-02-02 00:00", "alpha", "/b,/a",   "y",  NULL },
		{ 'e', "2024-03-01 10:00", "beta",  "/data",   "x",  NULL },
		{ 'f', "2024-03-01 20:00", "alpha", "/data",   "",   NULL },
	};
	ForgetPolicy p = policy();
	ForgetDecision d[6];
	Snapshot *s = build(g, 6);
	size_t ngroups = 0;
	StrataErr err = {0, ""};

	p.last = 1;
	/* host+paths: {a,e} beta /data, {b} alpha /other, {c,d} alpha /a,/b
	 * (same set of paths in another order), {f} alpha /data. */
	CHECK_STR(kept_by(g, 6, &p), "bdef");
	REQUIRE(forget_apply(s, 6, &p, d, &ngroups, NULL) == 0);
	CHECK_EQ_INT(ngroups, 4);
	/* numbered by each group's oldest snapshot */
	CHECK_EQ_INT(d[0].group, 0);
	CHECK_EQ_INT(d[4].group, 0);
	CHECK_EQ_INT(d[1].group, 1);
	CHECK_EQ_INT(d[2].group, 2);
	CHECK_EQ_INT(d[3].group, 2);
	CHECK_EQ_INT(d[5].group, 3);
	/* host only: alpha's newest is f, beta's e. */
	REQUIRE(forget_parse_group_by("host", &p.group_by, &err) == 0);
	CHECK_STR(kept_by(g, 6, &p), "ef");
	/* no grouping: the newest overall. */
	REQUIRE(forget_parse_group_by("", &p.group_by, &err) == 0);
	CHECK_STR(kept_by(g, 6, &p), "f");
	/* tags: {a,b,f} (none), {c,e} (x), {d} (y). */
	REQUIRE(forget_parse_group_by("tags", &p.group_by, &err) == 0);
	CHECK_STR(kept_by(g, 6, &p), "def");
	/* host,paths,tags: c and d now differ by tag. */
	REQUIRE(forget_parse_group_by("host,paths,tags", &p.group_by, &err) == 0);
	CHECK_STR(kept_by(g, 6, &p), "abcdef");
	snapshot_list_free(s, 6);
}

static void test_ties(void)
{
	/* Same time: the larger ID counts as newer. */
	static const Spec t[] = {
		{ 'a', "2024-01-01 00:00", "alpha", "/data", "", NULL },
		{ 'b', "2024-01-01 00:00", "alpha", "/data", "", NULL },
	};
	ForgetPolicy p = policy();

	p.last = 1;
	CHECK_STR(kept_by(t, 2, &p), "b");
}

static void test_empty(void)
{
	ForgetPolicy p = policy();
	ForgetDecision d[1];

	CHECK(forget_policy_empty(&p));
	p.yearly = 1;
	CHECK(!forget_policy_empty(&p));
	/* No snapshots: nothing to decide, no groups. */
	size_t ng = 99;
	CHECK(forget_apply(NULL, 0, &p, d, &ng, NULL) == 0);
	CHECK_EQ_INT(ng, 0);
}

static void test_parse_duration(void)
{
	ForgetDuration d;
	StrataErr err = {0, ""};
	char text[32];
	const char *bad[] = { "", "2", "d2", "2x", "1h2d", "2d2d", "-1d", "2d 3h", "999999999999d" };

	CHECK(forget_parse_duration("2d12h", &d, &err) == 0);
	CHECK(d.years == 0 && d.months == 0 && d.days == 2 && d.hours == 12);
	CHECK(forget_parse_duration("1y6m", &d, &err) == 0);
	CHECK(d.years == 1 && d.months == 6 && d.days == 0 && d.hours == 0);
	CHECK(forget_parse_duration("3w1d", &d, &err) == 0);
	CHECK_EQ_INT(d.days, 22);
	forget_format_duration(&d, text, sizeof text);
	CHECK_STR(text, "22d");
	CHECK(forget_parse_duration("1y2m3d4h", &d, &err) == 0);
	forget_format_duration(&d, text, sizeof text);
	CHECK_STR(text, "1y2m3d4h");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err.msg[0] = '\0';
		CHECK_EQ_INT(forget_parse_duration(bad[i], &d, &err), STRATA_EUSAGE);
		CHECK(strstr(err.msg, "expected NUMBER UNIT") != NULL);
	}
}

static void test_parse_label_and_group(void)
{
	ForgetLabelRule r;
	unsigned g;
	StrataErr err = {0, ""};
	const char *bad[] = { "height%0", "%5", "height", "height%x", "height%5x", "height%-5" };

	CHECK(forget_parse_label_rule("height%1000", &r, &err) == 0);
	CHECK_STR(r.key, "height");
	CHECK_EQ_INT(r.modulus, 1000);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ_INT(forget_parse_label_rule(bad[i], &r, &err), STRATA_EUSAGE);
	CHECK(strstr(err.msg, "KEY%N") != NULL);
	CHECK(forget_parse_group_by("host,paths", &g, &err) == 0);
	CHECK_EQ_INT(g, FORGET_GROUP_HOST | FORGET_GROUP_PATHS);
	CHECK(forget_parse_group_by("tags", &g, &err) == 0);
	CHECK_EQ_INT(g, FORGET_GROUP_TAGS);
	CHECK(forget_parse_group_by("", &g, &err) == 0);
	CHECK_EQ_INT(g, 0);
	CHECK_EQ_INT(forget_parse_group_by("hosts", &g, &err), STRATA_EUSAGE);
	CHECK(strstr(err.msg, "host, paths, tags") != NULL);
}

static void test_reasons_text(void)
{
	ForgetPolicy p = policy();
	ForgetLabelRule r;
	ForgetDecision d[NHISTORY];
	const char *tags[] = { "db,weekly" };
	Snapshot *s = build(HISTORY, NHISTORY);
	char text[256];

	p.last = 1;
	p.has_within = 1;
	REQUIRE(forget_parse_duration("2d12h", &p.within, NULL) == 0);
	p.tags = tags;
	p.ntags = 1;
	REQUIRE(forget_parse_label_rule("height%1000", &r, NULL) == 0);
	p.labels = &r;
	p.nlabels = 1;
	REQUIRE(forget_apply(s, NHISTORY, &p, d, NULL, NULL) == 0);
	forget_reasons_text(d[9].reasons, &p, &s[9], text, sizeof text);
	CHECK_STR(text, "last, within 2d12h, label height%1000");
	forget_reasons_text(d[1].reasons, &p, &s[1], text, sizeof text);
	CHECK_STR(text, "tag db,weekly");   /* 1500 is no multiple of 1000 */
	CHECK(!d[4].keep);   /* e: label "abc", no tags, too old */
	/* A short buffer is cut, still terminated. */
	forget_reasons_text(d[9].reasons, &p, &s[9], text, 8);
	CHECK_EQ_INT(strlen(text), 7);
	snapshot_list_free(s, NHISTORY);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	RUN(test_keep_last);
	RUN(test_keep_hourly);
	RUN(test_keep_daily);
	RUN(test_keep_weekly);
	RUN(test_keep_monthly);
	RUN(test_keep_monthly_short_history);
	RUN(test_keep_yearly);
	RUN(test_keep_combined);
	RUN(test_keep_within);
	RUN(test_keep_tag);
	RUN(test_keep_label);
	RUN(test_partial);
	RUN(test_groups);
	RUN(test_ties);
	RUN(test_empty);
	RUN(test_parse_duration);
	RUN(test_parse_label_and_group);
	RUN(test_reasons_text);
	return CHECK_EXIT();
}
