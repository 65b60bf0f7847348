/* test_wal_verify.c — store/wal/wal_timeline.c: segment numbers across the
 * log-ID rollover for several segment sizes, LSNs, history files and
 * backup_label lines (accepted and refused), and the wal-verify verdict:
 * a healthy archive, gaps reported as exact first/last segments (one
 * across ...FF -> next log ID), a fork where the old timeline went on,
 * a backup taken after the fork point (the 'latest' timeline is not its
 * child), .partial and .backup files that never count as segments, a
 * timeline whose history file is lost, a missing start segment, a label
 * from another segment size, and 1 GiB segments. The repository side is
 * in e2e_wal_verify.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/wal/wal_timeline.h"
#include "tests/check.h"

#define MIB (1ull << 20)

static const char *segname(uint32_t tli, uint64_t segno, uint64_t size, char out[WAL_NAME_MAX + 1])
{
	wal_seg_name(tli, segno, size, out);
	return out;
}

static void test_segments(void)
{
	char out[WAL_NAME_MAX + 1];
	uint64_t n = 0;

	CHECK(wal_segno("0000000100000000000000FF", 16 * MIB, &n) == 0 && n == 255);
	CHECK_STR(segname(1, 256, 16 * MIB, out), "000000010000000100000000");
	CHECK(wal_segno("0000000100000001000000FE", 16 * MIB, &n) == 0 && n == 256 + 254);
	CHECK(wal_segno("000000010000000000000100", 16 * MIB, &n) == STRATA_EUSAGE);   /* seg part > FF */
	CHECK(wal_segno("000000010000000000000100", 1 * MIB, &n) == 0 && n == 256);
	CHECK_STR(segname(1, 4096, 1 * MIB, out), "000000010000000100000000");
	CHECK(wal_segno("000000010000000200000003", 1024 * MIB, &n) == 0 && n == 11);
	CHECK(wal_segno("000000010000000000000004", 1024 * MIB, &n) == STRATA_EUSAGE);
	CHECK_STR(segname(7, 12, 1024 * MIB, out), "000000070000000300000000");
	CHECK(wal_segno("000000010000000A000000FE.partial", 16 * MIB, &n) == 0 && n == 10 * 256 + 254);
	CHECK(wal_segno("000000010000000000000002.00000028.backup", 16 * MIB, &n) == 0 && n == 2);
	CHECK(wal_segno("00000002.history", 16 * MIB, &n) == STRATA_EUSAGE);
	CHECK(wal_segno("000000010000000000000001", 3 * MIB, &n) == STRATA_EUSAGE);
	CHECK(wal_segsize_ok(2 * MIB) && !wal_segsize_ok(512 * 1024) && !wal_segsize_ok(2048 * MIB));
}

static void test_lsn(void)
{
	uint64_t l = 0;
	char out[WAL_LSN_TEXT_MAX];

	CHECK(wal_lsn_parse("0/2000028", &l) == 0 && l == 0x2000028);
	CHECK(wal_lsn_parse("1A/ff", &l) == 0 && l == (0x1Aull << 32 | 0xFF));
	wal_lsn_format(0x1Aull << 32 | 0xFF, out);
	CHECK_STR(out, "1A/FF");
	wal_lsn_format(0, out);
	CHECK_STR(out, "0/0");
	CHECK(wal_lsn_parse("0/", &l) == STRATA_EFORMAT);
	CHECK(wal_lsn_parse("/5", &l) == STRATA_EFORMAT);
	CHECK(wal_lsn_parse("123456789/0", &l) == STRATA_EFORMAT);
	CHECK(wal_lsn_parse("0/5 ", &l) == STRATA_EFORMAT);
	CHECK(wal_lsn_parse("0x0/5", &l) == STRATA_EFORMAT);
}

static void test_history(void)
{
	StrataErr err = { 0, "" };
	WalHistory h;
	const char *three = "1\t0/5000060\tno recovery target specified\n"
	                    "\n# a comment\n"
	                    "2\t0/90000A0\tbefore 2024-05-01 12:00:00+00\n";

	REQUIRE(wal_history_parse(three, strlen(three), 3, &h, &err) == 0);
	CHECK_EQ_INT(h.n, 2);
	CHECK(h.e[0].parent == 1 && h.e[0].switch_lsn == 0x5000060);
	CHECK(h.e[1].parent == 2 && h.e[1].switch_lsn == 0x90000A0);
	wal_history_free(&h);
	/* No final newline, a long reason. */
	{
		char buf[600];
		snprintf(buf, sizeof buf, "1\t0/300000\t%0500d", 0);
		REQUIRE(wal_history_parse(buf, strlen(buf), 2, &h, &err) == 0);
		CHECK(h.n == 1 && h.e[0].switch_lsn == 0x300000);
		wal_history_free(&h);
	}
	CHECK(wal_history_parse("", 0, 2, &h, &err) == STRATA_EFORMAT);
	CHECK(strstr(err.msg, "names no parent") != NULL);
	CHECK(wal_history_parse("2\t0/5\tx\n", 8, 2, &h, &err) == STRATA_EFORMAT);           /* not below 2 */
	CHECK(wal_history_parse("1\t0/5\tx\n1\t0/6\ty\n", 16, 3, &h, &err) == STRATA_EFORMAT); /* not increasing */
	CHECK(wal_history_parse("1\t0/9\tx\n2\t0/6\ty\n", 16, 3, &h, &err) == STRATA_EFORMAT); /* backwards */
	CHECK(strstr(err.msg, "line 2") != NULL);
	CHECK(wal_history_parse("1\tnope\n", 7, 2, &h, &err) == STRATA_EFORMAT);
	CHECK(wal_history_parse("one\t0/5\n", 8, 2, &h, &err) == STRATA_EFORMAT);
	CHECK(wal_history_parse("1\t0/5\0x\n", 8, 2, &h, &err) == STRATA_EFORMAT);
}

static void test_label(void)
{
	StrataErr err = { 0, "" };
	WalBackupLabel l;
	const char *pg15 = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
	                   "CHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\n"
	                   "START TIME: 2024-05-01 12:00:00 UTC\nLABEL: pg_basebackup base backup\n"
	                   "START TIMELINE: 1\n";
	const char *tl2 = "START WAL LOCATION: 0/9000028 (file 000000020000000000000009)\n";
	const char *bad_tl = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nSTART TIMELINE: 2\n";

	REQUIRE(wal_label_parse(pg15, strlen(pg15), &l, &err) == 0);
	CHECK(l.timeline == 1 && l.start_lsn == 0x2000028 && l.checkpoint_lsn == 0x2000060);
	CHECK_STR(l.start, "000000010000000000000002");
	CHECK_EQ_INT(wal_label_segsize(&l), 16 * MIB);
	REQUIRE(wal_label_parse(tl2, strlen(tl2), &l, &err) == 0);
	CHECK(l.timeline == 2 && l.checkpoint_lsn == 0x9000028);
	CHECK(wal_label_parse(bad_tl, strlen(bad_tl), &l, &err) == STRATA_EFORMAT);
	CHECK(strstr(err.msg, "START TIMELINE 2") != NULL);
	CHECK(wal_label_parse("LABEL: x\n", 9, &l, &err) == STRATA_EFORMAT);
	CHECK(strstr(err.msg, "no \"START WAL LOCATION") != NULL);
	CHECK(wal_label_parse("START WAL LOCATION: 0/2000028 (file 00000001000000000000000)\n", 61, &l, &err) ==
	      STRATA_EFORMAT);
	/* 1 MiB segments: 0/2000028 is segment 32 = ...00000020. */
	{
		const char *one = "START WAL LOCATION: 0/2000028 (file 000000010000000000000020)\n";
		REQUIRE(wal_label_parse(one, strlen(one), &l, &err) == 0);
		CHECK_EQ_INT(wal_label_segsize(&l), 1 * MIB);
	}
}

/* ---- the verdict ---- */

typedef struct Archive {
	char names[256][WAL_NAME_MAX + 1];
	size_t n;
	WalHistory hist[8];
	size_t nhist;
	WalBackupCheck b[4];
	size_t nb;
} Archive;

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* segments [from, to] of timeline tli, except those in skip (segnos, -1 ends). */
static void add_segs(Archive *a, uint32_t tli, uint64_t from, uint64_t to, uint64_t size)
{
	for (uint64_t s = from; s <= to; s++)
		wal_seg_name(tli, s, size, a->names[a->n++]);
}

static void add_name(Archive *a, const char *name)
{
	snprintf(a->names[a->n++], WAL_NAME_MAX + 1, "%s", name);
}

static void drop_name(Archive *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->names[i], name)) {
			memmove(a->names[i], a->names[i + 1], (a->n - i - 1) * sizeof a->names[0]);
			a->n--;
			return;
		}
	printf("  no %s to drop\n", name);
}

static void add_hist(Archive *a, uint32_t tli, const char *text)
{
	StrataErr err = { 0, "" };
	char name[WAL_NAME_MAX + 1];

	if (wal_history_parse(text, strlen(text), tli, &a->hist[a->nhist], &err) != 0)
		printf("  history %u: %s\n", tli, err.msg);
	else
		a->nhist++;
	snprintf(name, sizeof name, "%08X.history", (unsigned)tli);
	add_name(a, name);
}

static void add_backup(Archive *a, const char *label)
{
	StrataErr err = { 0, "" };
	WalBackupCheck *b = &a->b[a->nb++];

	memset(b, 0, sizeof *b);
	b->label_ok = wal_label_parse(label, strlen(label), &b->label, &err) == 0;
	if (!b->label_ok)
		printf("  label: %s\n", err.msg);
}

static WalVerifyReport *plan(Archive *a, uint64_t size)
{
	StrataErr err = { 0, "" };
	WalVerifyReport *r = NULL;

	qsort(a->names, a->n, sizeof a->names[0], cmp_name);
	if (wal_verify_plan(size, (const char (*)[WAL_NAME_MAX + 1])a->names, a->n, a->hist, a->nhist, a->b, a->nb,
	                    &r, &err) != 0)
		printf("  plan: %s\n", err.msg);
	return r;
}

static void archive_free(Archive *a)
{
	for (size_t i = 0; i < a->nhist; i++)
		wal_history_free(&a->hist[i]);
	free(a);
}

static const WalRange *range_of(const WalVerifyReport *r, size_t backup, size_t k)
{
	const WalBackupCheck *b = &r->backups[backup];
	return k < b->nranges ? &r->ranges[b->range0 + k] : NULL;
}

static void test_healthy(void)
{
	Archive *a = calloc(1, sizeof *a);
	WalVerifyReport *r;
	const WalRange *rg;

	add_segs(a, 1, 1, 9, 16 * MIB);
	add_name(a, "000000010000000000000002.00000028.backup");
	add_backup(a, "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\n");
	REQUIRE((r = plan(a, 16 * MIB)) != NULL);
	CHECK_EQ_INT(r->problems, 0);
	CHECK_EQ_INT(r->ntimelines, 1);
	CHECK(r->timelines[0].segments == 9 && r->timelines[0].backups == 1 && !r->timelines[0].history_missing);
	CHECK_EQ_INT(r->nforks, 0);
	CHECK(r->backups[0].ok && r->backups[0].latest_timeline == 1 && r->backups[0].latest_follows);
	CHECK_EQ_INT(r->backups[0].nranges, 1);
	rg = range_of(r, 0, 0);
	REQUIRE(rg);
	CHECK_STR(rg->first, "000000010000000000000002");
	CHECK_STR(rg->last, "000000010000000000000009");
	CHECK(rg->segments == 8 && rg->missing == 0 && rg->ngaps == 0);
	wal_verify_report_free(r);
	archive_free(a);
}

/* Gaps, one running across the log-ID rollover (...FE, ...FF, next log's
 * 00 missing), a .partial in place of a missing segment, a lone missing
 * segment at the end of the range. */
static void test_gaps_rollover(void)
{
	Archive *a = calloc(1, sizeof *a);
	WalVerifyReport *r;
	const WalRange *rg;

	add_segs(a, 1, 0xF0, 0x105, 16 * MIB);           /* 0000000100000000000000F0 .. 000000010000000100000005 */
	drop_name(a, "0000000100000000000000FE");
	drop_name(a, "0000000100000000000000FF");
	drop_name(a, "000000010000000100000000");
	drop_name(a, "000000010000000100000003");
	add_name(a, "000000010000000100000003.partial");
	add_backup(a, "START WAL LOCATION: 0/F2000028 (file 0000000100000000000000F2)\n");
	REQUIRE((r = plan(a, 16 * MIB)) != NULL);
	CHECK_EQ_INT(r->problems, 1);
	CHECK(!r->backups[0].ok && r->backups[0].missing == 4);
	rg = range_of(r, 0, 0);
	REQUIRE(rg && rg->ngaps == 2);
	CHECK_STR(rg->first, "0000000100000000000000F2");
	CHECK_STR(rg->last, "000000010000000100000005");
	CHECK_EQ_INT(rg->segments, 14 + 6);
	CHECK_STR(r->gaps[rg->gap0].first, "0000000100000000000000FE");
	CHECK_STR(r->gaps[rg->gap0].last, "000000010000000100000000");
	CHECK_EQ_INT(r->gaps[rg->gap0].segments, 3);
	CHECK_STR(r->gaps[rg->gap0 + 1].first, "000000010000000100000003");
	CHECK_STR(r->gaps[rg->gap0 + 1].last, "000000010000000100000003");
	CHECK_EQ_INT(r->timelines[0].partials, 1);
	wal_verify_report_free(r);
	archive_free(a);

	/* The stop segment (from the .backup file) beyond the newest held:
	 * the range reaches it. */
	a = calloc(1, sizeof *a);
	add_segs(a, 1, 2, 3, 16 * MIB);
	add_backup(a, "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n");
	{
		StrataErr err = { 0, "" };
		const char *bk = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
		                 "STOP WAL LOCATION: 0/5000100 (file 000000010000000000000005)\n";
		REQUIRE(wal_backup_stop_parse(bk, strlen(bk), a->b[0].label.stop, &err) == 0);
		CHECK_STR(a->b[0].label.stop, "000000010000000000000005");
		a->b[0].label.has_stop = 1;
		CHECK(wal_backup_stop_parse("STOP WAL LOCATION: 0/5 (file 0000)\n", 35, a->b[0].label.stop, &err) ==
		      STRATA_EFORMAT);
		CHECK(wal_backup_stop_parse("LABEL: x\n", 9, a->b[0].label.stop, &err) == STRATA_EFORMAT);
		CHECK_STR(a->b[0].label.stop, "000000010000000000000005");   /* untouched by failures */
	}
	REQUIRE((r = plan(a, 16 * MIB)) != NULL);
	REQUIRE((rg = range_of(r, 0, 0)) != NULL);
	CHECK_STR(rg->last, "000000010000000000000005");
	REQUIRE(rg->ngaps == 1);
	CHECK_STR(r->gaps[rg->gap0].first, "000000010000000000000004");
	CHECK_STR(r->gaps[rg->gap0].last, "000000010000000000000005");
	CHECK(!r->backups[0].ok && r->backups[0].missing == 2);
	wal_verify_report_free(r);
	archive_free(a);

	/* The start segment itself not archived yet, nothing after it. */
	a = calloc(1, sizeof *a);
	add_segs(a, 1, 1, 4, 16 * MIB);
	add_backup(a, "START WAL LOCATION: 0/6000028 (file 000000010000000000000006)\n");
	REQUIRE((r = plan(a, 16 * MIB)) != NULL);
	rg = range_of(r, 0, 0);
	REQUIRE(rg && rg->ngaps == 1);
	CHECK_STR(r->gaps[rg->gap0].first, "000000010000000000000006");
	CHECK_STR(r->gaps[rg->gap0].last, "000000010000000000000006");
	CHECK(!r->backups[0].ok && r->backups[0].missing == 1);
	wal_verify_report_free(r);
	archive_free(a);
}

/* Timeline 2 branched from 1 at 0/5000060 (in segment 5), timeline 1 went
 * on to segment A: a fork. Timeline 1's 5.partial is what a promoted
 * standby leaves; it is no segment. */
static void test_fork(void)
{
	Archive *a = calloc(1, sizeof *a);
	WalVerifyReport *r;
	const WalRange *rg;

	add_segs(a, 1, 1, 0xA, 16 * MIB);
	add_hist(a, 2, "1\t0/5000060\tno recovery target specified\n");
	add_segs(a, 2, 5, 8, 16 * MIB);
	add_name(a, "000000010000000000000005.partial");
	add_backup(a, "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\n");
	/* Taken on timeline 1 after the branch point: 'latest' (2) is no child. */
	add_backup(a, "START WAL LOCATION: 0/7000028 (file 000000010000000000000007)\nCHECKPOINT LOCATION: 0/7000060\n");
	REQUIRE((r = plan(a, 16 * MIB)) != NULL);
	REQUIRE(r->ntimelines == 2);
	CHECK(r->timelines[1].timeline == 2 && r->timelines[1].has_history && r->timelines[1].parent == 1 &&
	      r->timelines[1].switch_lsn == 0x5000060);
	CHECK_STR(r->timelines[1].begin, "000000020000000000000005");
	REQUIRE(r->nforks == 1);
	CHECK(r->forks[0].timeline == 1 && r->forks[0].child == 2 && r->forks[0].segments == 6);
	CHECK_STR(r->forks[0].first, "000000010000000000000005");
	CHECK_STR(r->forks[0].last, "00000001000000000000000A");
	/* Backup 0: both timelines descend from it. */
	CHECK(r->backups[0].ok && r->backups[0].latest_timeline == 2 && r->backups[0].latest_follows);
	REQUIRE(r->backups[0].nranges == 2);
	REQUIRE((rg = range_of(r, 0, 0)) != NULL);
	CHECK(rg->timeline == 1 && rg->missing == 0);
	CHECK_STR(rg->first, "000000010000000000000002");
	CHECK_STR(rg->last, "00000001000000000000000A");
	REQUIRE((rg = range_of(r, 0, 1)) != NULL);
	CHECK(rg->timeline == 2 && rg->missing == 0 && rg->segments == 4);
	CHECK_STR(rg->first, "000000020000000000000005");
	CHECK_STR(rg->last, "000000020000000000000008");
	/* Backup 1: only timeline 1; 'latest' would pick 2 and fail. */
	CHECK(!r->backups[1].ok && r->backups[1].latest_timeline == 2 && !r->backups[1].latest_follows);
	CHECK_EQ_INT(r->backups[1].missing, 0);
	REQUIRE((rg = range_of(r, 1, 0)) != NULL);
	CHECK_STR(rg->first, "000000010000000000000007");
	CHECK_EQ_INT(r->problems, 1);
	wal_verify_report_free(r);
	archive_free(a);
}

/* A chain 1 -> 2 -> 3 with no fork (each old timeline stopped), timeline 2
 * holding no segment at all (promoted and promoted again at once), a gap
 * on timeline 3, and a backup on timeline 3 itself. Timeline 1 needs up to
 * the segment before 2 began, though it holds fewer. */
static void test_chain(void)
{
	Archive *a = calloc(1, sizeof *a);
	WalVerifyReport *r;
	const WalRange *rg;

	add_segs(a, 1, 1, 3, 16 * MIB);
	add_hist(a, 2, "1\t0/5000000\tno recovery target specified\n");
	add_hist(a, 3, "1\t0/5000000\tno recovery target specified\n2\t0/5000100\tno recovery target specified\n");
	add_segs(a, 3, 5, 9, 16 * MIB);
	drop_name(a, "000000030000000000000007");
	add_backup(a, "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n");
	add_backup(a, "START WAL LOCATION: 0/8000028 (file 000000030000000000000008)\nSTART TIMELINE: 3\n");
	REQUIRE((r = plan(a, 16 * MIB)) != NULL);
	CHECK_EQ_INT(r->nforks, 0);
	CHECK(r->backups[0].latest_timeline == 3 && r->backups[0].latest_follows && !r->backups[0].ok);
	REQUIRE(r->backups[0].nranges == 2);
	REQUIRE((rg = range_of(r, 0, 0)) != NULL);
	CHECK(rg->timeline == 1 && rg->missing == 1 && rg->ngaps == 1);
	CHECK_STR(rg->last, "000000010000000000000004");
	CHECK_STR(r->gaps[rg->gap0].first, "000000010000000000000004");
	REQUIRE((rg = range_of(r, 0, 1)) != NULL);
	CHECK(rg->timeline == 3 && rg->missing == 1);
	CHECK_STR(rg->first, "000000030000000000000005");
	CHECK_STR(r->gaps[rg->gap0].first, "000000030000000000000007");
	CHECK_STR(r->gaps[rg->gap0].last, "000000030000000000000007");
	CHECK_EQ_INT(r->backups[0].missing, 2);
	/* The backup on timeline 3 after the gap is whole. */
	CHECK(r->backups[1].ok && r->backups[1].nranges == 1 && r->backups[1].latest_timeline == 3);
	REQUIRE((rg = range_of(r, 1, 0)) != NULL);
	CHECK_STR(rg->first, "000000030000000000000008");
	CHECK_STR(rg->last, "000000030000000000000009");
	CHECK_EQ_INT(r->problems, 1);
	wal_verify_report_free(r);
	archive_free(a);
}

/* Timeline 4 holds segments but its history file is gone; the base
 * backup's label is from a cluster with other segments. */
static void test_history_lost_and_bad_label(void)
{
	Archive *a = calloc(1, sizeof *a);
	WalVerifyReport *r;

	add_segs(a, 1, 1, 3, 16 * MIB);
	add_segs(a, 4, 9, 9, 16 * MIB);
	add_backup(a, "START WAL LOCATION: 0/2000028 (file 000000010000000000000020)\n");
	REQUIRE((r = plan(a, 16 * MIB)) != NULL);
	REQUIRE(r->ntimelines == 2);
	CHECK(r->timelines[1].timeline == 4 && r->timelines[1].history_missing && !r->timelines[1].has_history);
	CHECK(!r->timelines[0].history_missing);
	CHECK(!r->backups[0].ok && !r->backups[0].label_ok && r->backups[0].nranges == 0);
	CHECK(strstr(r->backups[0].error, "not in file 000000010000000000000020") != NULL);
	CHECK_EQ_INT(r->problems, 2);
	wal_verify_report_free(r);
	archive_free(a);

	/* No base backup at all is a problem too. */
	a = calloc(1, sizeof *a);
	add_segs(a, 1, 1, 3, 16 * MIB);
	REQUIRE((r = plan(a, 16 * MIB)) != NULL);
	CHECK_EQ_INT(r->problems, 1);
	wal_verify_report_free(r);
	archive_free(a);
}

/* 1 GiB segments: four per log ID; a gap at the rollover. */
static void test_gigabyte_segments(void)
{
	Archive *a = calloc(1, sizeof *a);
	WalVerifyReport *r;
	const WalRange *rg;

	add_segs(a, 1, 1, 9, 1024 * MIB);                 /* ...0000000000000001 .. ...0000000200000001 */
	drop_name(a, "000000010000000100000000");
	add_backup(a, "START WAL LOCATION: 0/40000028 (file 000000010000000000000001)\n");
	REQUIRE((r = plan(a, 1024 * MIB)) != NULL);
	rg = range_of(r, 0, 0);
	REQUIRE(rg && rg->ngaps == 1);
	CHECK_STR(rg->last, "000000010000000200000001");
	CHECK_STR(r->gaps[rg->gap0].first, "000000010000000100000000");
	CHECK_EQ_INT(r->gaps[rg->gap0].segments, 1);
	CHECK_EQ_INT(r->segment_size, 1024 * MIB);
	wal_verify_report_free(r);
	archive_free(a);
}

int main(void)
{
	RUN(test_segments);
	RUN(test_lsn);
	RUN(test_history);
	RUN(test_label);
	RUN(test_healthy);
	RUN(test_gaps_rollover);
	RUN(test_fork);
	RUN(test_chain);
	RUN(test_history_lost_and_bad_label);
	RUN(test_gigabyte_segments);
	return CHECK_EXIT();
}
