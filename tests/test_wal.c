/* test_wal.c — store/wal/wal.c: WAL file names (kinds, timelines, what is
 * refused), the name of the segment after another for every segment size
 * PostgreSQL allows, and a WalBatch of several files in a fresh repository
 * (fetched back bit for bit, re-pushed, conflicting). Pushing and fetching
 * through the binary are in e2e_wal.sh, e2e_postgres.sh, e2e_wal_async.sh. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/wal/wal.h"
#include "tests/check.h"
#include "tests/test_repo.h"
#include "tests/test_tmp.h"

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

static int write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(buf, 1, len, f) == len;

	if (f && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

static int same_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *got = malloc(len + 1);
	size_t n = f && got ? fread(got, 1, len + 1, f) : 0;
	int same = n == len && memcmp(got, buf, len) == 0;

	if (f)
		fclose(f);
	free(got);
	return same;
}

/* Three files in one batch (a name twice: a no-op), fetched back; a
 * second push finds them archived; other content under a name is refused
 * without being stored. */
static void test_batch(void)
{
	char dir[] = "/tmp/strata-test-wal-XXXXXX", p1[300], p2[300], p3[300], out[300], bad[300];
	const size_t seg = 1u << 20;
	uint8_t *a = calloc(1, seg), *b = calloc(1, seg);
	const char hist[] = "1\t0/3000000\tno recovery target specified\n";
	Repo *repo = NULL;
	WalBatch *batch = NULL;
	WalPushResult res[4];
	WalFetchResult fr;
	StrataErr err = {0}, errs[4];
	int rcs[4];

	memset(errs, 0, sizeof errs);
	CHECK(a && b && mkdtemp(dir) != NULL);
	if (!a || !b || test_repo_create(dir, &repo) != 0)
		goto out;
	for (size_t i = 0; i < 200000; i++) {
		a[i] = (uint8_t)(i * 2654435761u >> 13);
		b[seg - 1 - i] = (uint8_t)(i * 40503u >> 5);
	}
	snprintf(p1, sizeof p1, "%s/000000010000000000000001", dir);
	snprintf(p2, sizeof p2, "%s/000000010000000000000002", dir);
	snprintf(p3, sizeof p3, "%s/00000002.history", dir);
	snprintf(bad, sizeof bad, "%s/RECOVERYXLOG", dir);
	CHECK(write_file(p1, a, seg) == 0 && write_file(p2, b, seg) == 0 &&
	      write_file(p3, (const uint8_t *)hist, strlen(hist)) == 0 && write_file(bad, a, 10) == 0);

	CHECK_EQ_INT(wal_batch_new(repo, 0, &batch, &err), 0);
	CHECK_EQ_INT(wal_batch_add(batch, p1, NULL, &err), 0);
	CHECK_EQ_INT(wal_batch_add(batch, p2, NULL, &err), 0);
	CHECK_EQ_INT(wal_batch_add(batch, p1, NULL, &err), 0);   /* already in the batch */
	CHECK_EQ_INT(wal_batch_add(batch, bad, NULL, &err), STRATA_EUSAGE);
	CHECK_EQ_INT(wal_batch_add(batch, p3, NULL, &err), 0);
	CHECK_EQ_INT((int)wal_batch_count(batch), 3);
	CHECK_EQ_INT(wal_batch_commit(batch, res, rcs, errs, &err), 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(rcs[i], 0);
		CHECK_EQ_INT(res[i].already, 0);
	}
	CHECK_STR(wal_batch_name(batch, 0), "000000010000000000000001");
	CHECK_STR(wal_batch_name(batch, 2), "00000002.history");
	CHECK(res[0].size == seg && res[2].size == strlen(hist));
	wal_batch_free(batch);
	batch = NULL;

	snprintf(out, sizeof out, "%s/out", dir);
	CHECK_EQ_INT(wal_fetch(repo, "000000010000000000000001", out, &fr, &err), 0);
	CHECK(same_file(out, a, seg));
	CHECK_EQ_INT(wal_fetch(repo, "000000010000000000000002", out, &fr, &err), 0);
	CHECK(same_file(out, b, seg));
	CHECK(fr.segment_size == seg);
	CHECK_EQ_INT(wal_fetch(repo, "00000002.history", out, &fr, &err), 0);
	CHECK(same_file(out, (const uint8_t *)hist, strlen(hist)));
	CHECK_EQ_INT(wal_fetch(repo, "000000010000000000000003", out, &fr, &err), STRATA_ENOTFOUND);

	/* Identical content again: already archived. */
	CHECK_EQ_INT(wal_push(repo, p2, NULL, 0, &res[0], &err), 0);
	CHECK_EQ_INT(res[0].already, 1);
	CHECK_EQ_INT(res[0].chunks_new, 0);
	/* One byte changed in the middle of a chunk span: refused, nothing new. */
	b[seg / 2] ^= 1;
	CHECK(write_file(p2, b, seg) == 0);
	CHECK_EQ_INT(wal_push(repo, p2, NULL, 0, &res[0], &err), STRATA_EEXIST);
	CHECK(strstr(err.msg, "ALREADY ARCHIVED WITH DIFFERENT CONTENT") != NULL);
	b[seg / 2] ^= 1;
	CHECK_EQ_INT(wal_fetch(repo, "000000010000000000000002", out, &fr, &err), 0);
	CHECK(same_file(out, b, seg));
out:
	wal_batch_free(batch);
	repo_close(repo);
	rm_rf(dir);
	free(a);
	free(b);
}

int main(void)
{
	RUN(test_names);
	RUN(test_names_refused);
	RUN(test_next_segment);
	RUN(test_batch);
	return CHECK_EXIT();
}
