/* test_restore_plan.c — unit tests for the restore read planner
 * (store/restore/restore_plan.c) over a real LMDB index in a temporary directory:
 * one range per dense pack, a chunk wanted in many places looked up and
 * fetched once, gaps above gap_max split a range, range_max caps one,
 * packs never share a range, and a missing chunk or one whose length
 * disagrees is reported with a reference to name the file.
 */
#include "store/restore/restore_plan.h"
#include "tests/check.h"
#include "tests/test_tmp.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmp_dir[] = "/tmp/strata-test-restore-plan.XXXXXX";
static Index *ix;

/* Pack tag: blobs 0..n-1 of 1000 bytes each (raw 2000), laid end to end,
 * chunk IDs (tag, i). */
static void chunk_id(uint8_t id[STRATA_ID_LEN], uint8_t tag, uint32_t i)
{
	memset(id, 0, STRATA_ID_LEN);
	id[0] = tag;
	id[1] = (uint8_t)i;
	id[2] = (uint8_t)(i >> 8);
}

static int add_pack(uint8_t tag, uint32_t n)
{
	PackEntry *e = calloc(n, sizeof *e);
	uint8_t pack[STRATA_ID_LEN];
	StrataErr err = {0};
	int rc;

	if (!e)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		e[i].type = BLOB_DATA;
		chunk_id(e[i].id, tag, i);
		e[i].offset = i * 1000;
		e[i].length = 1000;
		e[i].raw_len = 2000;
	}
	memset(pack, tag, sizeof pack);
	rc = index_add_pack(ix, pack, 0, (uint64_t)n * 1000 + 100, e, n, 0, &err);
	free(e);
	return rc;
}

static void test_dense_pack_is_one_range(void)
{
	RestorePlan *p = restore_plan_new(0, 0);
	RestorePlanRef bad;
	uint8_t id[STRATA_ID_LEN], bad_id[STRATA_ID_LEN];

	REQUIRE(p);
	/* A file made of blobs 0..9 of pack 1, in reverse order. */
	for (uint32_t i = 0; i < 10; i++) {
		chunk_id(id, 1, 9 - i);
		REQUIRE(restore_plan_add(p, id, 2000, 0, (uint64_t)i * 2000) == 0);
	}
	REQUIRE(restore_plan_build(p, ix, &bad, bad_id) == 0);
	CHECK_EQ_INT(restore_plan_nranges(p), 1);
	CHECK_EQ_INT(restore_plan_ranges(p)[0].off, 0);
	CHECK_EQ_INT(restore_plan_ranges(p)[0].len, 10000);
	CHECK_EQ_INT(restore_plan_ranges(p)[0].raw_bytes, 20000);
	CHECK_EQ_INT(restore_plan_ranges(p)[0].nblobs, 10);
	CHECK_EQ_INT(restore_plan_fetch_bytes(p), 10000);
	/* Blobs in pack order; blob 0 goes to the last place of the file. */
	CHECK_EQ_INT(restore_plan_blobs(p)[0].pack_off, 0);
	CHECK_EQ_INT(restore_plan_refs(p)[restore_plan_blobs(p)[0].first_ref].file_off, 18000);
	restore_plan_free(p);
}

static void test_shared_chunk_fetched_once(void)
{
	RestorePlan *p = restore_plan_new(0, 0);
	RestorePlanRef bad;
	uint8_t id[STRATA_ID_LEN], bad_id[STRATA_ID_LEN];
	const RestorePlanBlob *b;

	REQUIRE(p);
	chunk_id(id, 1, 3);
	/* A zero block: 50 places in 5 files. */
	for (uint32_t i = 0; i < 50; i++)
		REQUIRE(restore_plan_add(p, id, 2000, i % 5, (uint64_t)(i / 5) * 2000) == 0);
	REQUIRE(restore_plan_build(p, ix, &bad, bad_id) == 0);
	CHECK_EQ_INT(restore_plan_nranges(p), 1);
	CHECK_EQ_INT(restore_plan_ranges(p)[0].nblobs, 1);
	CHECK_EQ_INT(restore_plan_ranges(p)[0].off, 3000);
	CHECK_EQ_INT(restore_plan_ranges(p)[0].len, 1000);
	b = &restore_plan_blobs(p)[0];
	CHECK_EQ_INT(b->nrefs, 50);
	/* The plan is reusable after a reset. */
	restore_plan_reset(p);
	CHECK_EQ_INT(restore_plan_nrefs(p), 0);
	chunk_id(id, 2, 0);
	REQUIRE(restore_plan_add(p, id, 2000, 0, 0) == 0);
	REQUIRE(restore_plan_build(p, ix, &bad, bad_id) == 0);
	CHECK_EQ_INT(restore_plan_nranges(p), 1);
	restore_plan_free(p);
}

static void test_gaps_and_caps_split(void)
{
	/* gap_max 1500 bytes, range_max 5000 bytes. */
	RestorePlan *p = restore_plan_new(1500, 5000);
	RestorePlanRef bad;
	uint8_t id[STRATA_ID_LEN], bad_id[STRATA_ID_LEN];
	static const uint32_t want[] = { 0, 1, 3, 6, 7, 8, 9, 10, 11 };

	REQUIRE(p);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		chunk_id(id, 2, want[i]);
		REQUIRE(restore_plan_add(p, id, 2000, 1, (uint64_t)i * 2000) == 0);
	}
	/* And one from pack 1: never in a range of pack 2. */
	chunk_id(id, 1, 0);
	REQUIRE(restore_plan_add(p, id, 2000, 2, 0) == 0);
	REQUIRE(restore_plan_build(p, ix, &bad, bad_id) == 0);
	/* Pack 1: [0,1000). Pack 2: 0,1 + 3 (gap 1000 <= 1500) = [0,4000);
	 * 6 after a gap of 2000 starts anew: 6,7,8,9,10 = [6000,11000) is
	 * 5000, so 11 starts a third. */
	REQUIRE(restore_plan_nranges(p) == 4);
	const RestorePlanRange *r = restore_plan_ranges(p);
	CHECK_EQ_INT(r[0].nblobs, 1);
	CHECK_EQ_INT(r[1].off, 0);
	CHECK_EQ_INT(r[1].len, 4000);
	CHECK_EQ_INT(r[1].nblobs, 3);
	CHECK_EQ_INT(r[2].off, 6000);
	CHECK_EQ_INT(r[2].len, 5000);
	CHECK_EQ_INT(r[3].off, 11000);
	CHECK_EQ_INT(r[3].len, 1000);
	CHECK(memcmp(r[0].pack, r[1].pack, STRATA_ID_LEN) != 0);
	CHECK_EQ_INT(restore_plan_fetch_bytes(p), 1000 + 4000 + 5000 + 1000);
	restore_plan_free(p);
}

static void test_missing_and_mismatched(void)
{
	RestorePlan *p = restore_plan_new(0, 0);
	RestorePlanRef bad;
	uint8_t id[STRATA_ID_LEN], bad_id[STRATA_ID_LEN], want[STRATA_ID_LEN];

	REQUIRE(p);
	chunk_id(id, 1, 0);
	REQUIRE(restore_plan_add(p, id, 2000, 0, 0) == 0);
	chunk_id(want, 9, 9);         /* no such chunk */
	REQUIRE(restore_plan_add(p, want, 2000, 7, 4000) == 0);
	CHECK_EQ_INT(restore_plan_build(p, ix, &bad, bad_id), STRATA_EDAMAGED);
	CHECK_EQ_INT(bad.file, 7);
	CHECK_EQ_INT(bad.file_off, 4000);
	CHECK(memcmp(bad_id, want, STRATA_ID_LEN) == 0);
	restore_plan_reset(p);
	chunk_id(id, 1, 1);
	REQUIRE(restore_plan_add(p, id, 1999, 3, 10) == 0);   /* the tree says 1999 bytes */
	CHECK_EQ_INT(restore_plan_build(p, ix, &bad, bad_id), STRATA_EDAMAGED);
	CHECK_EQ_INT(bad.file, 3);
	restore_plan_free(p);
}

int main(void)
{
	StrataErr err = {0};
	char dir[256];

	if (codec_init() != 0 || !mkdtemp(tmp_dir)) {
		printf("FAIL setup\n");
		return 1;
	}
	snprintf(dir, sizeof dir, "%s/ix", tmp_dir);
	if (index_open(dir, &ix, &err) != 0 || add_pack(1, 20) != 0 || add_pack(2, 20) != 0) {
		printf("FAIL setup: %s\n", err.msg);
		return 1;
	}
	RUN(test_dense_pack_is_one_range);
	RUN(test_shared_chunk_fetched_once);
	RUN(test_gaps_and_caps_split);
	RUN(test_missing_and_mismatched);
	index_close(ix);
	rm_rf(tmp_dir);
	return CHECK_EXIT();
}
