/* test_wal.c — the pure parts of store/wal/wal.c: WAL file names (kinds,
 * timelines, what is refused) and the name of the segment after another
 * for every segment size PostgreSQL allows. Pushing and fetching are in
 * e2e_wal.sh and e2e_postgres.sh. */
#include <stdio.h>
#include <string.h>

#include "store/wal/wal.h"
#include "tests/check.h"

static int kind_of(const char *name, uint32_t *tl)
{
	int kind = 0;
	return wal_name_parse(name, &kind, tl) == 0 ? kind : -1;
}

static void test_names(void)
{
	uint32_t tl = 0;

	CHECK_EQ_INT(kind_of("000000010000000000000001", &tl), WAL_SEGMENT);
	CHECK_EQ_INT(tl, 1);
	CHECK_EQ_INT(kind_of("0000000A00000003000000FF", &tl), WAL_SEGMENT);
	CHECK_EQ_INT(tl, 10);
	CHECK_EQ_INT(kind_of("FFFFFFFF0000000000000000", &tl), WAL_SEGMENT);
	CHECK(tl == 0xFFFFFFFFu);
	CHECK_EQ_INT(kind_of("000000020000000000000005.partial", &tl), WAL_PARTIAL);
	CHECK_EQ_INT(tl, 2);
	CHECK_EQ_INT(kind_of("00000002.history", &tl), WAL_HISTORY);
	CHECK_EQ_INT(tl, 2);
	CHECK_EQ_INT(kind_of("000000010000000000000002.00000028.backup", &tl), WAL_BACKUP);
	CHECK_EQ_INT(kind_of("000000010000000000000002.00000028.backup", NULL), WAL_BACKUP);
}

static void test_names_refused(void)
{
	static const char *const bad[] = {
		"", "RECOVERYXLOG", "RECOVERYHISTORY", "00000001000000000000000", "0000000100000000000000011",
		"000000010000000000000001.tmp", "00000001000000000000000a", "../000000010000000000000001",
		"pg_wal/000000010000000000000001", "00000002.History", "0000002.history",
		"000000010000000000000002.0000028.backup", "000000010000000000000002.00000028.backupx",
		"000000010000000000000002.partia", "000000010000000000000001 ",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (kind_of(bad[i], NULL) != -1)
			printf("  accepted \"%s\"\n", bad[i]);
		CHECK(kind_of(bad[i], NULL) == -1);
	}
}

static const char *next(const char *seg, uint64_t size, char out[WAL_NAME_MAX + 1])
{
	return wal_next_segment(seg, size, out) == 0 ? out : "error";
}

static void test_next_segment(void)
{
	char out[WAL_NAME_MAX + 1];
	const uint64_t mib = 1u << 20;

	CHECK_STR(next("000000010000000000000001", 16 * mib, out), "000000010000000000000002");
	CHECK_STR(next("00000001000000000000000F", 16 * mib, out), "000000010000000000000010");
	/* 16 MiB: 256 segments per 4 GiB "log"; FF is the last. */
	CHECK_STR(next("0000000100000000000000FF", 16 * mib, out), "000000010000000100000000");
	CHECK_STR(next("0000000300000007000000FE", 16 * mib, out), "0000000300000007000000FF");
	/* 1 MiB: 4096 per log. */
	CHECK_STR(next("000000010000000000000FFF", mib, out), "000000010000000100000000");
	CHECK_STR(next("0000000100000000000000FF", mib, out), "000000010000000000000100");
	/* 1 GiB: 4 per log. */
	CHECK_STR(next("000000010000000000000003", 1024 * mib, out), "000000010000000100000000");
	CHECK_STR(next("000000010000000000000004", 1024 * mib, out), "error");   /* no such segment */
	CHECK_STR(next("000000010000000000000100", 16 * mib, out), "error");
	CHECK_STR(next("000000010000000000000001", 16 * mib + 1, out), "error");
	CHECK_STR(next("000000010000000000000001", 512 * 1024, out), "error");
	CHECK_STR(next("00000002.history", 16 * mib, out), "error");
	CHECK_STR(next("000000010000000000000001.partial", 16 * mib, out), "error");
	CHECK_STR(next("00000001FFFFFFFF000000FF", 16 * mib, out), "error");
}

int main(void)
{
	RUN(test_names);
	RUN(test_names_refused);
	RUN(test_next_segment);
	return CHECK_EXIT();
}
