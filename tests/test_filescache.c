/* test_filescache.c — the files cache (store/backup/filescache.c) and the
 * in-place read it is built on (kv_view, store/kv.c): a lookup returns
 * exactly what a finished run recorded, for a list of thousands of chunks
 * as a large block file has; entries of a run that never committed read
 * as absent even when they reached the disk; a value is seen in place,
 * byte for byte, and the callback's result comes back; kv_get still
 * returns its own copy. A cache of the previous layout (files/, version
 * 1 entries keyed by path) is deleted, never read; an entry of another
 * version or cut short reads as absent.
 */
#include "store/backup/filescache.h"
#include "store/kv.h"
#include "tests/check.h"
#include "tests/test_tmp.h"
#include "tests/test_repo.h"

#include <ftw.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct seen {
	const uint8_t *want;
	size_t want_len;
	int calls, same;
};

static int look(const uint8_t *val, size_t len, void *ctx)
{
	struct seen *s = ctx;

	s->calls++;
	s->same = len == s->want_len && memcmp(val, s->want, len) == 0;
	return 7;
}

/* Bytes in the files cache's LMDB file under dir/cache (test_repo.h), or
 * -1 when there is not exactly one. */
static long long files_db_bytes(const char *dir)
{
	char pat[700];
	glob_t g;
	struct stat st;
	long long n = -1;

	snprintf(pat, sizeof pat, "%s/cache/*/files2/data.mdb", dir);
	if (glob(pat, 0, NULL, &g) != 0)
		return -1;
	if (g.gl_pathc == 1 && stat(g.gl_pathv[0], &st) == 0)
		n = (long long)st.st_size;
	globfree(&g);
	return n;
}

static void test_kv_view_in_place(void)
{
	static const char *const tables[] = {"t"};
	char dir[] = "/tmp/strata-kvview-XXXXXX";
	enum { LEN = 150000 };
	uint8_t *val = malloc(LEN), *copy = NULL;
	struct seen s = {0};
	size_t copy_len = 0;
	StrataErr err = {0};
	KvTxn *t = NULL;
	Kv *kv = NULL;

	REQUIRE(val != NULL);
	REQUIRE(mkdtemp(dir) != NULL);
	for (size_t i = 0; i < LEN; i++)
		val[i] = (uint8_t)(i * 131 + 7);
	REQUIRE(kv_open(dir, tables, 1, &kv, &err) == 0);
	REQUIRE(kv_begin(kv, &t, &err) == 0);
	REQUIRE(kv_put(t, 0, "big", 3, val, LEN) == 0);
	REQUIRE(kv_commit(t, &err) == 0);

	s.want = val;
	s.want_len = LEN;
	CHECK_EQ_INT(kv_view(kv, 0, "big", 3, look, &s), 7);
	CHECK_EQ_INT(s.calls, 1);
	CHECK(s.same);
	CHECK_EQ_INT(kv_view(kv, 0, "nope", 4, look, &s), STRATA_ENOTFOUND);
	CHECK_EQ_INT(s.calls, 1);

	CHECK_EQ_INT(kv_get(kv, 0, "big", 3, &copy, &copy_len), 0);
	CHECK_EQ_INT(copy_len, LEN);
	CHECK(copy && memcmp(copy, val, LEN) == 0);
	CHECK_EQ_INT(kv_get(kv, 0, "nope", 4, &copy, &copy_len), STRATA_ENOTFOUND);
	free(copy);
	kv_close(kv);
	free(val);
	rm_rf(dir);
}

/* n chunk IDs and lengths, different for each seed. */
static void fill(uint8_t (*ids)[STRATA_ID_LEN], uint32_t *lens, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t b = 0; b < STRATA_ID_LEN; b++)
			ids[i][b] = (uint8_t)(i * 7 + b * 13 + seed);
		lens[i] = (uint32_t)(1024 + (i * 2654435761u + seed) % 130000);
	}
}

static void test_lookup_exact_and_uncommitted(void)
{
	enum { N = 5000, UNCOMMITTED = 20 };
	char dir[] = "/tmp/strata-fcache-XXXXXX", path[64];
	uint8_t (*ids)[STRATA_ID_LEN] = malloc(N * sizeof *ids);
	uint32_t *lens = malloc(N * sizeof *lens);
	FileMeta meta = { .dev = 2049, .ino = 1234567, .size = 0, .mtime_ns = 1700000000123456789LL,
	                  .ctime_ns = 1700000001987654321LL };
	FilesCache *fc = NULL;
	CachedFile cf = {0};
	StrataErr err = {0};
	Repo *repo = NULL;

	REQUIRE(ids && lens);
	REQUIRE(mkdtemp(dir) != NULL);
	REQUIRE(test_repo_create(dir, &repo) == 0);
	fill(ids, lens, N, 1);
	for (size_t i = 0; i < N; i++)
		meta.size += lens[i];

	REQUIRE(filescache_open(repo, NULL, &fc, &err) == 0);
	REQUIRE(filescache_record(fc, "/data/blocks/blk00000.dat", &meta,
	                          (const uint8_t (*)[STRATA_ID_LEN])ids, lens, N, &err) == 0);
	/* Recorded but not committed: not an entry yet. */
	CHECK_EQ_INT(filescache_lookup(fc, "/data/blocks/blk00000.dat", &cf), STRATA_ENOTFOUND);
	CHECK(cf.chunks == NULL && cf.lens == NULL && cf.n == 0);
	REQUIRE(filescache_commit(fc, &err) == 0);
	filescache_close(fc);

	/* A run that stops without committing, after enough records (180 KB
	 * each) that some of its batches were written. */
	REQUIRE(filescache_open(repo, NULL, &fc, &err) == 0);
	fill(ids, lens, N, 2);
	long long before = files_db_bytes(dir);
	CHECK(before > 0);
	for (int i = 0; i < UNCOMMITTED; i++) {
		snprintf(path, sizeof path, "/data/crashed/%02d", i);
		REQUIRE(filescache_record(fc, path, &meta, (const uint8_t (*)[STRATA_ID_LEN])ids, lens, N,
		                          &err) == 0);
	}
	filescache_close(fc);
	/* Some batches did reach the disk (else the lookups below prove nothing). */
	CHECK(files_db_bytes(dir) > before);

	REQUIRE(filescache_open(repo, NULL, &fc, &err) == 0);
	fill(ids, lens, N, 1);
	REQUIRE(filescache_lookup(fc, "/data/blocks/blk00000.dat", &cf) == 0);
	CHECK_EQ_INT(cf.n, N);
	CHECK_EQ_INT(cf.meta.dev, meta.dev);
	CHECK_EQ_INT(cf.meta.ino, meta.ino);
	CHECK_EQ_INT(cf.meta.size, meta.size);
	CHECK_EQ_INT(cf.meta.mtime_ns, meta.mtime_ns);
	CHECK_EQ_INT(cf.meta.ctime_ns, meta.ctime_ns);
	CHECK(cf.chunks && memcmp(cf.chunks, ids, N * sizeof *ids) == 0);
	CHECK(cf.lens && memcmp(cf.lens, lens, N * sizeof *lens) == 0);
	cachedfile_clear(&cf);
	CHECK(cf.chunks == NULL && cf.n == 0);
	for (int i = 0; i < UNCOMMITTED; i++) {
		snprintf(path, sizeof path, "/data/crashed/%02d", i);
		CHECK_EQ_INT(filescache_lookup(fc, path, &cf), STRATA_ENOTFOUND);
		CHECK(cf.chunks == NULL && cf.n == 0);
	}
	CHECK_EQ_INT(filescache_lookup(fc, "/data/never", &cf), STRATA_ENOTFOUND);
	filescache_close(fc);
	repo_close(repo);
	free(ids);
	free(lens);
	rm_rf(dir);
}

/* The one directory dir/cache/<id>/NAME, into out; 0 or -1. */
static int cache_sub(const char *dir, const char *name, char *out, size_t len)
{
	char pat[700];
	glob_t g;
	int rc = -1;

	snprintf(pat, sizeof pat, "%s/cache/*/%s", dir, name);
	if (glob(pat, 0, NULL, &g) != 0)
		return -1;
	if (g.gl_pathc == 1 && strlen(g.gl_pathv[0]) < len) {
		strcpy(out, g.gl_pathv[0]);
		rc = 0;
	}
	globfree(&g);
	return rc;
}

struct rewrite {
	Kv *kv;
	int how;                      /* 0: version byte 1; 1: cut one byte short */
	int n;
};

static int rewrite_entry(const uint8_t *key, size_t key_len, const uint8_t *val, size_t val_len, void *ctx)
{
	struct rewrite *r = ctx;
	StrataErr err = {0};
	uint8_t buf[512];
	KvTxn *t = NULL;

	if (val_len > sizeof buf || kv_begin(r->kv, &t, &err) != 0)
		return -1;
	memcpy(buf, val, val_len);
	if (r->how == 0)
		buf[0] = 1;
	if (kv_put(t, 0, key, key_len, buf, r->how == 0 ? val_len : val_len - 1) != 0 || kv_commit(t, &err) != 0)
		return -1;
	r->n++;
	return 0;
}

static void test_old_layout_and_bad_entries(void)
{
	static const char *const tables[] = {"files", "running", "meta"};
	char dir[] = "/tmp/strata-fcold-XXXXXX", old[800], cur[800];
	uint8_t ids[1][STRATA_ID_LEN];
	uint32_t lens[1] = {4096};
	FileMeta meta = { .dev = 64769, .ino = 99, .size = 4096, .mtime_ns = 1700000000000000001LL,
	                  .ctime_ns = 1699999999000000000LL };
	FilesCache *fc = NULL;
	CachedFile cf = {0};
	StrataErr err = {0};
	Repo *repo = NULL;
	KvTxn *t = NULL;
	Kv *kv = NULL;

	REQUIRE(mkdtemp(dir) != NULL);
	REQUIRE(test_repo_create(dir, &repo) == 0);
	fill(ids, lens, 1, 3);
	lens[0] = 4096;
	REQUIRE(filescache_open(repo, NULL, &fc, &err) == 0);
	filescache_close(fc);
	/* A cache of layout 1 beside it: files/, the path as key. */
	REQUIRE(cache_sub(dir, "files2", cur, sizeof cur) == 0);
	snprintf(old, sizeof old, "%.*s/files", (int)(strrchr(cur, '/') - cur), cur);
	REQUIRE(kv_open(old, tables, 3, &kv, &err) == 0);
	REQUIRE(kv_begin(kv, &t, &err) == 0);
	REQUIRE(kv_put(t, 0, "/data/a", 7, "\x01old entry", 10) == 0);
	REQUIRE(kv_commit(t, &err) == 0);
	kv_close(kv);
	CHECK(access(old, F_OK) == 0);

	REQUIRE(filescache_open(repo, NULL, &fc, &err) == 0);
	CHECK(access(old, F_OK) != 0);           /* deleted, not read */
	CHECK_EQ_INT(filescache_lookup(fc, "/data/a", &cf), STRATA_ENOTFOUND);
	REQUIRE(filescache_record(fc, "/data/a", &meta, (const uint8_t (*)[STRATA_ID_LEN])ids, lens, 1, &err) == 0);
	REQUIRE(filescache_commit(fc, &err) == 0);
	REQUIRE(filescache_lookup(fc, "/data/a", &cf) == 0);
	CHECK(cf.n == 1 && cf.lens[0] == 4096 && memcmp(cf.chunks[0], ids[0], STRATA_ID_LEN) == 0);
	CHECK(filescache_meta_same(&cf.meta, &meta));   /* ctime before mtime round-trips */
	cachedfile_clear(&cf);
	filescache_close(fc);

	/* The entry with another version byte, then cut one byte short: absent. */
	for (int how = 0; how < 2; how++) {
		struct rewrite r = { NULL, how, 0 };
		REQUIRE(kv_open(cur, tables, 3, &kv, &err) == 0);
		r.kv = kv;
		if (how == 1) {
			/* Back to a good entry first. */
			REQUIRE(filescache_open(repo, NULL, &fc, &err) == 0);
			REQUIRE(filescache_record(fc, "/data/a", &meta, (const uint8_t (*)[STRATA_ID_LEN])ids, lens, 1,
			                          &err) == 0);
			REQUIRE(filescache_commit(fc, &err) == 0);
			filescache_close(fc);
		}
		CHECK_EQ_INT(kv_foreach(kv, 0, 0, rewrite_entry, &r, &err), 0);
		CHECK_EQ_INT(r.n, 1);
		kv_close(kv);
		REQUIRE(filescache_open(repo, NULL, &fc, &err) == 0);
		CHECK_EQ_INT(filescache_lookup(fc, "/data/a", &cf), STRATA_ENOTFOUND);
		CHECK(cf.chunks == NULL && cf.n == 0);
		FileMeta m;
		CHECK_EQ_INT(filescache_lookup_meta(fc, "/data/a", &m), STRATA_ENOTFOUND);
		filescache_close(fc);
	}
	repo_close(repo);
	rm_rf(dir);
}

int main(void)
{
	RUN(test_kv_view_in_place);
	RUN(test_lookup_exact_and_uncommitted);
	RUN(test_old_layout_and_bad_entries);
	return CHECK_EXIT();
}
