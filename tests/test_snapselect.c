/* test_snapselect.c — snapshot selection by time, label and height
 * (store/snapselect.c) over hand-built snapshot arrays, and the time
 * parser behind `--at` (tools/cli/cli_time.c, compiled in here because test
 * binaries link only the library). Boundaries: exactly at, between,
 * before the first, after the last; groups; ties; the error messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/snapselect.h"
#include "tests/check.h"
#include "tools/cli/cli_time.c"

#define S_NS 1000000000LL
#define T0 (1714557600LL * S_NS)   /* 2024-05-01T10:00:00Z */

typedef struct Spec {
	int64_t t;           /* seconds after T0 */
	const char *host;
	const char *tag;     /* NULL: none */
	const char *label;   /* NULL: none; "k=v" */
	const char *label2;
	uint8_t id0;         /* first byte of the ID */
} Spec;

static char **strv1(const char *a)
{
	char **v = calloc(1, sizeof *v);
	if (v && a)
		v[0] = strdup(a);
	return v;
}

/* Build n snapshots from specs (freed with snapshot_list_free). */
static Snapshot *build(const Spec *sp, size_t n)
{
	Snapshot *s = calloc(n, sizeof *s);

	for (size_t i = 0; s && i < n; i++) {
		s[i].id[0] = sp[i].id0 ? sp[i].id0 : (uint8_t)(0x10 + i);
		s[i].time_ns = T0 + sp[i].t * S_NS;
		s[i].host = strdup(sp[i].host ? sp[i].host : "node1");
		s[i].user = strdup("root");
		s[i].paths = strv1("/data");
		s[i].npaths = 1;
		s[i].tags = strv1(sp[i].tag);
		s[i].ntags = sp[i].tag ? 1 : 0;
		s[i].labels = calloc(2, sizeof *s[i].labels);
		if (sp[i].label)
			s[i].labels[s[i].nlabels++] = strdup(sp[i].label);
		if (sp[i].label2)
			s[i].labels[s[i].nlabels++] = strdup(sp[i].label2);
	}
	return s;
}

/* Index chosen by sel, or -1 with the message in err. */
static long pick(const Snapshot *s, size_t n, const SnapSelect *sel, StrataErr *err)
{
	size_t at = 0;
	strata_err_clear(err);
	return snapselect_pick(s, n, sel, &at, err) == 0 ? (long)at : -1;
}

static const Spec times[] = {
	{ 0,    NULL,    "hourly", "height=100", NULL, 0 },
	{ 60,   NULL,    "hourly", "height=110", NULL, 0 },
	{ 60,   "node2", NULL,     "height=115", NULL, 0 },   /* other host, same time */
	{ 120,  NULL,    NULL,     "height=120", "kind=pg-base", 0 },
	{ 3600, NULL,    "hourly", "height=abc", NULL, 0 },   /* not a number */
};
#define NT (sizeof times / sizeof times[0])

static void test_at_time_boundaries(void)
{
	Snapshot *s = build(times, NT);
	SnapSelect sel = { .by = SNAPSELECT_AT_TIME };
	const char *node1 = "node1";
	StrataErr err;

	REQUIRE(s);
	sel.filter.host = node1;
	sel.time_ns = T0 + 60 * S_NS;                   /* exactly at snapshot 1 */
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 1);
	sel.time_ns = T0 + 60 * S_NS - 1;               /* one ns before it */
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 0);
	sel.time_ns = T0 + 90 * S_NS;                   /* between 1 and 3 */
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 1);
	sel.time_ns = T0 + 999999 * S_NS;               /* after the last */
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 4);
	sel.time_ns = T0;                               /* exactly the first */
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 0);
	sel.time_ns = T0 - 1;                           /* before the first */
	CHECK_EQ_INT(pick(s, NT, &sel, &err), -1);
	CHECK_EQ_INT(err.code, STRATA_ENOTFOUND);
	CHECK(strstr(err.msg, "no snapshot at or before 2024-05-01T09:59:59.999999999Z (host node1)") != NULL);
	CHECK(strstr(err.msg, "the earliest is 10000000 at 2024-05-01T10:00:00Z") != NULL);
	snapshot_list_free(s, NT);
}

static void test_at_time_groups(void)
{
	Snapshot *s = build(times, NT);
	SnapSelect sel = { .by = SNAPSELECT_AT_TIME };
	const char *hourly[] = { "hourly" }, *data[] = { "/data" }, *other[] = { "/other" };
	StrataErr err;

	REQUIRE(s);
	/* No group: the tie at +60 s goes to the larger ID (node2's, 0x12). */
	sel.time_ns = T0 + 60 * S_NS;
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 2);
	sel.filter.host = "node2";
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 2);
	sel.filter.host = NULL;
	sel.filter.tags = hourly;
	sel.filter.ntags = 1;
	sel.time_ns = T0 + 3599 * S_NS;                 /* snapshot 3 has no tag */
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 1);
	sel.filter.paths = data;
	sel.filter.npaths = 1;
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 1);
	sel.filter.paths = other;
	CHECK_EQ_INT(pick(s, NT, &sel, &err), -1);
	CHECK(strstr(err.msg, "(tag hourly, path /other)") != NULL);
	CHECK(strstr(err.msg, "holds 5 snapshots, none in this group") != NULL);
	/* Labels narrow the group too: the newest pg-base at or before a time. */
	{
		const char *base[] = { "kind=pg-base" };
		SnapSelect b = { .by = SNAPSELECT_AT_TIME, .time_ns = T0 + 999999 * S_NS };
		b.filter.labels = base;
		b.filter.nlabels = 1;
		CHECK_EQ_INT(pick(s, NT, &b, &err), 3);
		b.time_ns = T0 + 119 * S_NS;
		CHECK_EQ_INT(pick(s, NT, &b, &err), -1);
		CHECK(strstr(err.msg, "(label kind=pg-base): the earliest is 13000000 at 2024-05-01T10:02:00Z") != NULL);
	}
	/* The answer does not depend on the array's order. */
	{
		Snapshot tmp = s[0];
		s[0] = s[4];
		s[4] = tmp;
		sel.filter.paths = NULL;
		sel.filter.npaths = 0;
		sel.time_ns = T0 + 999999 * S_NS;
		CHECK_EQ_INT(pick(s, NT, &sel, &err), 0);
		sel.time_ns = T0 + 30 * S_NS;
		CHECK_EQ_INT(pick(s, NT, &sel, &err), 4);
	}
	snapshot_list_free(s, NT);
}

static void test_at_height(void)
{
	Snapshot *s = build(times, NT);
	SnapSelect sel = { .by = SNAPSELECT_AT_HEIGHT };
	StrataErr err;

	REQUIRE(s);
	sel.filter.host = "node1";
	sel.height = 110;                               /* exactly at */
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 1);
	sel.height = 119;                               /* between 110 and 120 */
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 1);
	sel.height = 1000000;                           /* after the last */
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 3);
	sel.height = 100;
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 0);
	sel.height = 99;                                /* before the first */
	CHECK_EQ_INT(pick(s, NT, &sel, &err), -1);
	CHECK_EQ_INT(err.code, STRATA_ENOTFOUND);
	CHECK(strstr(err.msg, "no snapshot with height at most 99 (host node1): the lowest is 10") != NULL);
	CHECK(strstr(err.msg, "height=100") != NULL);
	sel.filter.host = NULL;
	sel.height = 117;                               /* node2's 115 wins without a host */
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 2);
	sel.label = "block";
	CHECK_EQ_INT(pick(s, NT, &sel, &err), -1);
	CHECK(strstr(err.msg, "carries a numeric label block") != NULL);
	snapshot_list_free(s, NT);
}

static void test_height_ties(void)
{
	static const Spec sp[] = {
		{ 10, NULL, NULL, "height=7", NULL, 0x50 },
		{ 20, NULL, NULL, "height=7", NULL, 0x40 },    /* retaken: newer wins */
		{ 5,  NULL, NULL, "height=9", NULL, 0x30 },    /* higher but older: wins */
	};
	Snapshot *s = build(sp, 3);
	SnapSelect sel = { .by = SNAPSELECT_AT_HEIGHT, .height = 8 };
	StrataErr err;

	REQUIRE(s);
	CHECK_EQ_INT(pick(s, 3, &sel, &err), 1);
	sel.height = 9;
	CHECK_EQ_INT(pick(s, 3, &sel, &err), 2);
	snapshot_list_free(s, 3);
}

static void test_label_exact(void)
{
	Snapshot *s = build(times, NT);
	SnapSelect sel = { .by = SNAPSELECT_LABEL };
	StrataErr err;

	REQUIRE(s);
	sel.label = "height=110";
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 1);
	sel.label = "kind=pg-base";
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 3);
	sel.label = "height=112";                       /* between: names both sides */
	CHECK_EQ_INT(pick(s, NT, &sel, &err), -1);
	CHECK(strstr(err.msg, "no snapshot labelled height=112: the nearest are 11000000 (height=110,") != NULL);
	CHECK(strstr(err.msg, "and 12000000 (height=115,") != NULL);
	sel.label = "height=5";                         /* before the first */
	CHECK_EQ_INT(pick(s, NT, &sel, &err), -1);
	CHECK(strstr(err.msg, "the nearest is 10000000 (height=100, 2024-05-01T10:00:00Z), above") != NULL);
	sel.label = "height=500";                       /* after the last */
	CHECK_EQ_INT(pick(s, NT, &sel, &err), -1);
	CHECK(strstr(err.msg, "the nearest is 13000000 (height=120,") != NULL);
	sel.label = "kind=other";
	CHECK_EQ_INT(pick(s, NT, &sel, &err), -1);
	CHECK(strstr(err.msg, "1 carry kind, the newest 13000000 (kind=pg-base") != NULL);
	sel.label = "zone=eu";
	CHECK_EQ_INT(pick(s, NT, &sel, &err), -1);
	CHECK(strstr(err.msg, "none carries a label zone") != NULL);
	sel.label = "novalue";
	CHECK_EQ_INT(pick(s, NT, &sel, &err), -1);
	CHECK_EQ_INT(err.code, STRATA_EUSAGE);
	snapshot_list_free(s, NT);
}

static void test_latest_and_empty(void)
{
	Snapshot *s = build(times, NT);
	SnapSelect sel = { .by = SNAPSELECT_LATEST };
	StrataErr err;

	REQUIRE(s);
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 4);
	sel.filter.host = "node2";
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 2);
	sel.filter.host = "nope";
	CHECK_EQ_INT(pick(s, NT, &sel, &err), -1);
	CHECK_EQ_INT(pick(s, 0, &sel, &err), -1);
	CHECK(strstr(err.msg, "holds 0 snapshots") != NULL);
	snapshot_list_free(s, NT);
}

/* Partial snapshots are passed over by every kind of pick unless
 * include_partial, and a miss says how many were. In times[]: 3 (t=120,
 * height=120, kind=pg-base) and 4 (t=3600, the newest) partial. */
static void test_partial_passed_over(void)
{
	Snapshot *s = build(times, NT);
	SnapSelect sel = { .by = SNAPSELECT_LATEST };
	StrataErr err;

	REQUIRE(s);
	s[3].partial = s[4].partial = 1;
	s[3].partial_count = s[4].partial_count = 1;
	CHECK_EQ_INT(snapshot_selectable(&s[3], 0), 0);
	CHECK_EQ_INT(snapshot_selectable(&s[3], 1), 1);
	CHECK_EQ_INT(snapshot_selectable(&s[0], 0), 1);
	/* latest: of 0, 1, 2 (t 0, 60, 60) the later by ID, 2. */
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 2);
	sel.include_partial = 1;
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 4);
	/* at a time after 3: 2, not 3. */
	sel.by = SNAPSELECT_AT_TIME;
	sel.time_ns = T0 + 150 * S_NS;
	sel.include_partial = 0;
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 2);
	sel.include_partial = 1;
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 3);
	/* at height 125: 2 (115), not 3 (120); node1 only: 1 (110). */
	sel.by = SNAPSELECT_AT_HEIGHT;
	sel.height = 125;
	sel.include_partial = 0;
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 2);
	sel.filter.host = "node1";
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 1);
	sel.include_partial = 1;
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 3);
	sel.filter.host = NULL;
	/* by label: only 3 carries kind=pg-base. */
	sel.by = SNAPSELECT_LABEL;
	sel.label = "kind=pg-base";
	sel.include_partial = 0;
	CHECK_EQ_INT(pick(s, NT, &sel, &err), -1);
	CHECK_EQ_INT(err.code, STRATA_ENOTFOUND);
	CHECK_STR(err.msg, "no complete snapshot labelled kind=pg-base: 1 partial snapshot passed over "
	          "(--include-partial selects it)");
	sel.include_partial = 1;
	CHECK_EQ_INT(pick(s, NT, &sel, &err), 3);
	/* Everything partial: the message says so instead of "none in
	 * this group". */
	for (size_t i = 0; i < NT; i++)
		s[i].partial = 1;
	sel.by = SNAPSELECT_LATEST;
	sel.include_partial = 0;
	CHECK_EQ_INT(pick(s, NT, &sel, &err), -1);
	CHECK_STR(err.msg, "no complete snapshot found: 5 partial snapshots passed over (--include-partial selects them)");
	sel.by = SNAPSELECT_AT_TIME;
	sel.time_ns = T0 + 60 * S_NS;
	CHECK_EQ_INT(pick(s, NT, &sel, &err), -1);
	CHECK_STR(err.msg, "no complete snapshot at or before 2024-05-01T10:01:00Z: 3 partial snapshots passed over "
	          "(--include-partial selects them)");
	sel.by = SNAPSELECT_AT_HEIGHT;
	sel.label = NULL;
	CHECK_EQ_INT(pick(s, NT, &sel, &err), -1);
	CHECK_STR(err.msg, "no complete snapshot with height at most 125: 4 partial snapshots passed over "
	          "(--include-partial selects them)");
	/* Only the first partial: at its time the complete ones are later. */
	for (size_t i = 1; i < NT; i++)
		s[i].partial = 0;
	sel.by = SNAPSELECT_AT_TIME;
	sel.time_ns = T0 + 30 * S_NS;
	CHECK_EQ_INT(pick(s, NT, &sel, &err), -1);
	CHECK_STR(err.msg, "no complete snapshot at or before 2024-05-01T10:00:30Z: the earliest is 11000000 at "
	          "2024-05-01T10:01:00Z; 1 partial snapshot passed over (--include-partial selects it)");
	snapshot_list_free(s, NT);
}

static void test_label_uint(void)
{
	Snapshot *s = build(times, NT);
	uint64_t h = 0;

	REQUIRE(s);
	CHECK_EQ_INT(snapselect_label_uint(&s[0], "height", &h), 0);
	CHECK_EQ_INT(h, 100);
	CHECK_EQ_INT(snapselect_label_uint(&s[4], "height", &h), STRATA_EFORMAT);
	CHECK_EQ_INT(snapselect_label_uint(&s[0], "kind", &h), STRATA_ENOTFOUND);
	free(s[0].labels[0]);
	s[0].labels[0] = strdup("height=18446744073709551616");  /* 2^64 */
	CHECK_EQ_INT(snapselect_label_uint(&s[0], "height", &h), STRATA_EFORMAT);
	free(s[0].labels[0]);
	s[0].labels[0] = strdup("height=18446744073709551615");
	CHECK_EQ_INT(snapselect_label_uint(&s[0], "height", &h), 0);
	CHECK(h == UINT64_MAX);
	snapshot_list_free(s, NT);
}

/* ---- cli_time_parse ---- */

static int64_t tp(const char *s)
{
	int64_t ns = 0;
	return cli_time_parse(s, &ns) == 0 ? ns : -1;
}

static void test_time_utc_forms(void)
{
	CHECK(tp("2024-05-01T10:00:00Z") == T0);
	CHECK(tp("2024-05-01 10:00:00Z") == T0);
	CHECK(tp("2024-05-01 10:00:00 Z") == T0);
	CHECK(tp("2024-05-01t10:00z") == T0);
	CHECK(tp("2024-05-01T12:00:00+02:00") == T0);
	CHECK(tp("2024-05-01T12:00:00+0200") == T0);
	CHECK(tp("2024-05-01T12:00:00+02") == T0);
	CHECK(tp("2024-05-01T06:30:00-03:30") == T0);
	CHECK(tp("2024-05-01T10:00:00.5Z") == T0 + 500000000);
	CHECK(tp("2024-05-01T10:00:00.123456789Z") == T0 + 123456789);
	CHECK(tp("2024-05-01T10:00:00.1234567891Z") == T0 + 123456789);
	CHECK(tp("  2024-05-01T10:00:00Z \n") == T0);
	CHECK(tp("@1714557600") == T0);
	CHECK(tp("@1714557600.25") == T0 + 250000000);
	CHECK(tp("1970-01-01T00:00:00Z") == 0);
	CHECK(tp("2024-02-29T00:00:00Z") == 1709164800LL * S_NS);
	CHECK(tp("2000-03-01Z") == 951868800LL * S_NS);
	CHECK(tp("2016-12-31T23:59:60Z") == 1483228800LL * S_NS);  /* leap second */
	CHECK(tp("2262-01-01T00:00:00Z") == 9214646400LL * S_NS);
	CHECK(tp("1900-01-01T00:00:00Z") == -2208988800LL * S_NS);
	CHECK(tp("@-1.5") == -1500000000LL);
}

static void test_time_local(void)
{
	int64_t a, b;

	setenv("TZ", "UTC", 1);
	tzset();
	CHECK(tp("2024-05-01 10:00:00") == T0);
	CHECK(tp("2024-05-01 10:00") == T0);
	CHECK(tp("2024-05-01") == T0 - 10 * 3600 * S_NS);
	/* Central European time as a POSIX rule (needs no zoneinfo files):
	 * UTC+2 in May, clocks forward 02:00 -> 03:00 on 2024-03-31. */
	setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
	tzset();
	a = tp("2024-05-01 12:00:00");
	CHECK(a == T0);
	CHECK(tp("2024-03-31 02:30:00") == -1);   /* skipped by the DST change */
	CHECK(tp("2024-01-15 11:00:00") == tp("2024-01-15T10:00:00Z"));   /* UTC+1 in winter */
	b = tp("2024-05-01T12:00:00+02:00");
	CHECK(b == T0);
	setenv("TZ", "UTC", 1);
	tzset();
}

static void test_time_rejects(void)
{
	static const char *const bad[] = {
		"", "yesterday", "2024-5-1", "2024-05-01T", "2024-05-01 25:00:00", "2024-05-01 10:60",
		"2024-13-01", "2024-00-10", "2023-02-29", "2024-04-31", "2024-05-01 10:00:00+24:00",
		"2024-05-01 10:00:00 +02:00x", "2024-05-01 10:00:00.", "2024-05-01 10:00:00Zz",
		"@", "@12x", "2024-05-01 10:00:00+2", "0000-01-01", "2024-05-01  10:00",
		"2999-01-01T00:00:00Z", "1600-01-01T00:00:00Z", "@99999999999", "9999-12-31 23:59:59",
	};
	int64_t ns = 42;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = cli_time_parse(bad[i], &ns);
		if (rc == 0)
			printf("  accepted \"%s\"\n", bad[i]);
		CHECK(rc == -EINVAL || rc == -ERANGE);
	}
	CHECK(ns == 42);
}

int main(void)
{
	RUN(test_at_time_boundaries);
	RUN(test_at_time_groups);
	RUN(test_at_height);
	RUN(test_height_ties);
	RUN(test_label_exact);
	RUN(test_latest_and_empty);
	RUN(test_partial_passed_over);
	RUN(test_label_uint);
	RUN(test_time_utc_forms);
	RUN(test_time_local);
	RUN(test_time_rejects);
	return CHECK_EXIT();
}
