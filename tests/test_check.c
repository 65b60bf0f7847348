/* test_check.c — unit tests of store/check and store/repair: subset parsing
 * and partition, the ID map, and, on a real repository in a temporary
 * directory, faults whose ground truth comes from the pack trailer itself
 * (pack_read_trailer): one flipped byte inside a known blob, two blobs'
 * bytes swapped, the damaged set after repair_index and the self-healing
 * backup. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/backup/backup.h"
#include "store/blob.h"
#include "store/check/check.h"
#include "store/check/check_idmap.h"
#include "store/codec.h"
#include "store/index.h"
#include "store/pack_read.h"
#include "store/repair/repair.h"
#include "store/repo.h"
#include "tests/check.h"

static const char PW[] = "unit test password";

static void test_subset_parse(void)
{
	static const char *good[] = { "1/7", "7/7", "1/1", "3/1000000", "50%", "0.5%", "100%" };
	static const char *bad[] = { "0/7", "8/7", "/7", "1/", "x", "0%", "101%", "1/7x", "-1/7", "%", "7", "1/0" };
	CheckOptions o;
	StrataErr err = {0};

	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		memset(&o, 0, sizeof o);
		CHECK(check_subset_parse(good[i], &o, &err) == 0);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		memset(&o, 0, sizeof o);
		CHECK(check_subset_parse(bad[i], &o, &err) == STRATA_EUSAGE);
	}
	memset(&o, 0, sizeof o);
	REQUIRE(check_subset_parse("3/7", &o, &err) == 0);
	CHECK_EQ_INT(o.subset_n, 3);
	CHECK_EQ_INT(o.subset_t, 7);
	REQUIRE(check_subset_parse("12.5%", &o, &err) == 0);
	CHECK(o.subset_percent == 12.5 && o.subset_t == 0);
}

/* 1/T .. T/T: every ID in exactly one slice, and slices of similar size. */
static void test_subset_partition(void)
{
	static const uint32_t ts[] = { 1, 2, 7, 13, 64 };
	uint8_t id[STRATA_ID_LEN];

	for (size_t k = 0; k < sizeof ts / sizeof *ts; k++) {
		uint32_t t = ts[k], counts[64] = {0};
		for (int i = 0; i < 20000; i++) {
			int in = 0;
			codec_random(id, sizeof id);
			for (uint32_t n = 1; n <= t; n++) {
				if (check_subset_has(id, n, t)) {
					in++;
					counts[n - 1]++;
				}
			}
			CHECK_EQ_INT(in, 1);
		}
		for (uint32_t n = 0; n < t; n++)
			CHECK(counts[n] > 20000 / t / 2);
	}
	memset(id, 0, sizeof id);
	id[3] = 8;                      /* 8 mod 7 = 1: slice 2/7 */
	CHECK(check_subset_has(id, 2, 7));
	CHECK(!check_subset_has(id, 1, 7));
}

static void test_idmap(void)
{
	enum { N = 5000 };
	uint8_t (*ids)[STRATA_ID_LEN] = malloc(N * sizeof *ids), other[STRATA_ID_LEN];
	CheckIdMap m = {0};
	uint64_t v;

	REQUIRE(ids);
	for (int i = 0; i < N; i++) {
		codec_random(ids[i], STRATA_ID_LEN);
		CHECK(check_idmap_put(&m, ids[i], (uint64_t)i * 3) == 0);
	}
	CHECK_EQ_INT(m.n, N);
	for (int i = 0; i < N; i++)
		CHECK(check_idmap_get(&m, ids[i], &v) && v == (uint64_t)i * 3);
	CHECK(check_idmap_put(&m, ids[7], 99) == 0);
	CHECK(check_idmap_get(&m, ids[7], &v) && v == 99);
	CHECK_EQ_INT(m.n, N);
	codec_random(other, sizeof other);
	CHECK(!check_idmap_get(&m, other, NULL));
	check_idmap_free(&m);
	CHECK(!check_idmap_get(&m, ids[0], NULL));
	free(ids);
}

static void test_reason_of(void)
{
	CHECK_EQ_INT(check_reason_of(0), 0);
	CHECK_EQ_INT(check_reason_of(STRATA_EAUTH), CHECK_C_AUTH);
	CHECK_EQ_INT(check_reason_of(STRATA_EFORMAT), CHECK_C_FORMAT);
	CHECK_EQ_INT(check_reason_of(STRATA_EDAMAGED), CHECK_C_HASH);
	CHECK_EQ_INT(check_reason_of(-ENOMEM), -1);
}

/* ---- a real repository ---- */

static char tmp[256], repo_dir[300], cache_dir[300], src_dir[300];

static int write_file(const char *path, size_t len, unsigned seed)
{
	FILE *f = fopen(path, "wb");
	uint8_t buf[4096];

	if (!f)
		return -1;
	srand(seed);
	while (len) {
		size_t n = len < sizeof buf ? len : sizeof buf;
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rand();
		fwrite(buf, 1, n, f);
		len -= n;
	}
	return fclose(f);
}

static int backup(Repo *repo)
{
	const char *paths[] = { src_dir };
	BackupOptions o;
	BackupResult res;
	StrataErr err = {0};

	memset(&o, 0, sizeof o);
	o.paths = paths;
	o.npaths = 1;
	o.stdin_fd = -1;
	o.threads = 2;
	return backup_run(repo, &o, &res, &err);
}

static int open_repo(Repo **out)
{
	StrataErr err = {0};
	return repo_open(repo_dir, PW, strlen(PW), cache_dir, out, &err);
}

struct first_pack {
	uint8_t id[STRATA_ID_LEN];
	int found;
};

static int pick_data_pack(const uint8_t id[STRATA_ID_LEN], uint8_t kind, uint64_t size, void *ctx)
{
	struct first_pack *p = ctx;

	(void)size;
	if (kind == 0 && !p->found) {
		memcpy(p->id, id, STRATA_ID_LEN);
		p->found = 1;
	}
	return 0;
}

struct big_pack {
	uint8_t id[STRATA_ID_LEN];
	uint64_t size;
	int found;
};

/* The largest data pack. */
static int pick_big_data_pack(const uint8_t id[STRATA_ID_LEN], uint8_t kind, uint64_t size, void *ctx)
{
	struct big_pack *p = ctx;

	if (kind == 0 && size > p->size) {
		memcpy(p->id, id, STRATA_ID_LEN);
		p->size = size;
		p->found = 1;
	}
	return 0;
}

static void pack_path(const uint8_t id[STRATA_ID_LEN], char *out, size_t len)
{
	char hex[STRATA_ID_HEX_LEN + 1];

	codec_hex(id, STRATA_ID_LEN, hex);
	snprintf(out, len, "%s/data/%.2s/%s", repo_dir, hex, hex);
}

static int patch(const char *path, uint64_t off, const uint8_t *bytes, size_t len)
{
	int fd = open(path, O_WRONLY);
	ssize_t w;

	if (fd < 0)
		return -1;
	w = pwrite(fd, bytes, len, (off_t)off);
	close(fd);
	return w == (ssize_t)len ? 0 : -1;
}

static int read_at(const char *path, uint64_t off, uint8_t *bytes, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = pread(fd, bytes, len, (off_t)off);
	close(fd);
	return r == (ssize_t)len ? 0 : -1;
}

/* XOR the byte at off of path with mask (twice restores it). */
static int flip_at(const char *path, uint64_t off, uint8_t mask)
{
	uint8_t b;

	if (read_at(path, off, &b, 1) != 0)
		return -1;
	b ^= mask;
	return patch(path, off, &b, 1);
}

static int run_check_opts(Repo *repo, int read_data, int pack_hash, CheckReport **out)
{
	CheckOptions o;
	StrataErr err = {0};
	int rc;

	memset(&o, 0, sizeof o);
	o.read_data = read_data;
	o.pack_hash = pack_hash;
	o.threads = 2;
	rc = check_run(repo, &o, out, &err);
	if (rc)
		printf("  check_run: %s\n", err.msg);
	return rc;
}

static int run_check(Repo *repo, int read_data, CheckReport **out)
{
	return run_check_opts(repo, read_data, 0, out);
}

/* A fresh temporary directory with a repository (small chunks and packs)
 * holding one backup of six random files; *out open. */
static int make_repo(Repo **out)
{
	char path[400];
	StrataErr err = {0};
	RepoParams params = { .chunk_min = 1024, .chunk_avg = 4096, .chunk_max = 16384, .pack_size = 96 << 10 };

	snprintf(tmp, sizeof tmp, "%s/test_check.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(repo_dir, sizeof repo_dir, "%s/repo", tmp);
	snprintf(cache_dir, sizeof cache_dir, "%s/cache", tmp);
	snprintf(src_dir, sizeof src_dir, "%s/src", tmp);
	if (mkdir(src_dir, 0700) != 0)
		return -1;
	for (unsigned i = 0; i < 6; i++) {
		snprintf(path, sizeof path, "%s/f%u", src_dir, i);
		if (write_file(path, 5000 + i * 17000, i + 1) != 0)
			return -1;
	}
	if (repo_init(repo_dir, PW, strlen(PW), &params, NULL, &err) != 0 || open_repo(out) != 0)
		return -1;
	return backup(*out);
}

static void remove_tmp(void)
{
	char cmd[400];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	CHECK(system(cmd) == 0);
}

static void test_faults(void)
{
	char path[400];
	struct first_pack fp = {{0}, 0};
	PackEntry *e = NULL;
	size_t n = 0;
	uint64_t size = 0;
	CheckReport *r = NULL;
	Repo *repo = NULL;
	StrataErr err = {0};
	uint8_t *a = NULL, *b = NULL;
	size_t k;

	REQUIRE(make_repo(&repo) == 0);

	/* Healthy: nothing, structure or data. */
	REQUIRE(run_check(repo, 1, &r) == 0);
	CHECK_EQ_INT(r->damage, 0);
	CHECK_EQ_INT(r->warnings, 0);
	CHECK_EQ_INT(r->npacks_read, r->packs);
	check_report_free(r);

	/* Ground truth: the trailer of the first data pack. */
	REQUIRE(check_list_packs(repo, pick_data_pack, &fp, &err) == 0 && fp.found);
	REQUIRE(pack_read_trailer(repo, 0, fp.id, &e, &n, &size, &err) == 0);
	REQUIRE(n >= 3);
	pack_path(fp.id, path, sizeof path);

	/* One byte flipped in the middle of blob k. */
	k = n / 2;
	REQUIRE(flip_at(path, e[k].offset + e[k].length / 2, 0x10) == 0);
	REQUIRE(run_check(repo, 0, &r) == 0);
	CHECK_EQ_INT(r->damage, 0);           /* the structure is intact */
	check_report_free(r);
	REQUIRE(run_check(repo, 1, &r) == 0);
	REQUIRE(r->nchunks == 1);
	CHECK(memcmp(r->chunks[0].id, e[k].id, STRATA_ID_LEN) == 0);
	CHECK(memcmp(r->chunks[0].pack, fp.id, STRATA_ID_LEN) == 0);
	CHECK_EQ_INT(r->chunks[0].offset, e[k].offset);
	CHECK_EQ_INT(r->chunks[0].length, e[k].length);
	CHECK_EQ_INT(r->chunks[0].reason, CHECK_C_AUTH);
	CHECK(r->chunks[0].nusers >= 1 && r->chunks[0].users[0].length == e[k].raw_len);
	CHECK_EQ_INT(r->nsnaps, 1);
	check_report_free(r);
	REQUIRE(flip_at(path, e[k].offset + e[k].length / 2, 0x10) == 0);

	/* Blobs k-1 and k swapped in place. */
	a = malloc(e[k - 1].length);
	b = malloc(e[k].length);
	REQUIRE(a && b);
	REQUIRE(read_at(path, e[k - 1].offset, a, e[k - 1].length) == 0);
	REQUIRE(read_at(path, e[k].offset, b, e[k].length) == 0);
	REQUIRE(patch(path, e[k - 1].offset, b, e[k].length) == 0);
	REQUIRE(patch(path, e[k - 1].offset + e[k].length, a, e[k - 1].length) == 0);
	REQUIRE(run_check(repo, 1, &r) == 0);
	REQUIRE(r->nchunks == 2);
	CHECK(memcmp(r->chunks[0].id, e[k - 1].id, STRATA_ID_LEN) == 0);
	CHECK(memcmp(r->chunks[1].id, e[k].id, STRATA_ID_LEN) == 0);
	check_report_free(r);

	/* repair_index --read-data drops exactly those two; a backup of the
	 * same source stores them again. */
	{
		RepairIndexOptions ro;
		RepairIndexResult rr;
		Index *ix = NULL;
		memset(&ro, 0, sizeof ro);
		ro.read_data = 1;
		REQUIRE(repair_index(repo, &ro, &rr, &err) == 0);
		CHECK_EQ_INT(rr.chunks_lost, 2);
		CHECK_EQ_INT(rr.nchanged, 1);
		CHECK(rr.nchanged == 1 && memcmp(rr.changed[0].id, fp.id, STRATA_ID_LEN) == 0 &&
		      rr.changed[0].action == REPAIR_PACK_SALVAGED && rr.changed[0].chunks_kept == n - 2);
		repair_index_result_free(&rr);
		REQUIRE(check_index(repo, &ix, &err) == 0);
		CHECK(index_lookup(ix, BLOB_DATA, e[k].id, NULL) == STRATA_ENOTFOUND);
		CHECK(index_lookup(ix, BLOB_DATA, e[k - 1].id, NULL) == STRATA_ENOTFOUND);
		CHECK(index_lookup(ix, BLOB_DATA, e[n - 1].id, NULL) == 0);   /* k = n/2 < n - 1: kept */
		CHECK(access(path, F_OK) != 0);     /* the damaged pack is gone */
		REQUIRE(run_check(repo, 1, &r) == 0);
		CHECK_EQ_INT(r->nchunks, 2);
		CHECK(r->nchunks == 2 && r->chunks[0].reason == CHECK_C_NOT_INDEXED);
		check_report_free(r);
		REQUIRE(backup(repo) == 0);
		CHECK(index_lookup(ix, BLOB_DATA, e[k].id, NULL) == 0);
		REQUIRE(run_check(repo, 1, &r) == 0);
		CHECK_EQ_INT(r->damage, 0);
		check_report_free(r);
	}
	free(a);
	free(b);
	free(e);
	repo_close(repo);
	remove_tmp();
}

/* A file that did not change, in a directory that did: each snapshot
 * holds its node in a different tree. A damaged chunk of it is reported
 * for every snapshot, at the same path and bytes, although the walk skips
 * chunk lists it already found usable. */
static void test_unchanged_file_in_changed_dir(void)
{
	char path[400];
	struct big_pack bp = {{0}, 0, 0};
	PackEntry *e = NULL;
	size_t n = 0;
	uint64_t size = 0, files, refs;
	CheckReport *r = NULL;
	Repo *repo = NULL;
	StrataErr err = {0};
	size_t k;

	REQUIRE(make_repo(&repo) == 0);
	for (unsigned i = 6; i < 8; i++) {       /* two more snapshots */
		snprintf(path, sizeof path, "%s/g%u", src_dir, i);
		REQUIRE(write_file(path, 3000, i + 100) == 0);
		REQUIRE(backup(repo) == 0);
	}
	REQUIRE(run_check(repo, 0, &r) == 0);
	CHECK_EQ_INT(r->damage, 0);
	CHECK_EQ_INT(r->snapshots, 3);
	files = r->files;
	refs = r->chunk_refs;
	CHECK_EQ_INT(files, 6 + 7 + 8);          /* every node, in each tree */
	check_report_free(r);

	/* The first backup's six files fill whole packs; the later ones' small
	 * files share one. A pack of several chunks holds f-files' chunks. */
	REQUIRE(check_list_packs(repo, pick_big_data_pack, &bp, &err) == 0 && bp.found);
	REQUIRE(pack_read_trailer(repo, 0, bp.id, &e, &n, &size, &err) == 0);
	REQUIRE(n >= 2);
	pack_path(bp.id, path, sizeof path);
	k = n / 2;
	REQUIRE(flip_at(path, e[k].offset + 2, 0x01) == 0);

	REQUIRE(run_check(repo, 1, &r) == 0);
	REQUIRE(r->nchunks == 1);
	CHECK(memcmp(r->chunks[0].id, e[k].id, STRATA_ID_LEN) == 0);
	CHECK_EQ_INT(r->chunks[0].reason, CHECK_C_AUTH);
	CHECK_EQ_INT(r->nsnaps, 3);
	REQUIRE(r->chunks[0].nusers == 3);
	for (size_t u = 0; u < 3; u++) {
		const CheckUser *us = &r->chunks[0].users[u];
		CHECK(strncmp(us->path, "f", 1) == 0 || strstr(us->path, "/f") != NULL);
		CHECK_STR(us->path, r->chunks[0].users[0].path);
		CHECK_EQ_INT(us->offset, r->chunks[0].users[0].offset);
		CHECK_EQ_INT(us->length, e[k].raw_len);
		for (size_t v = 0; v < u; v++)
			CHECK(memcmp(us->snapshot, r->chunks[0].users[v].snapshot, STRATA_ID_LEN) != 0);
	}
	for (size_t i = 0; i < r->nsnaps; i++)
		CHECK_EQ_INT(r->snaps[i].files, 1);
	CHECK_EQ_INT(r->files, files);           /* the same counts as healthy */
	CHECK_EQ_INT(r->chunk_refs, refs);
	check_report_free(r);
	free(e);
	repo_close(repo);
	remove_tmp();
}

static void on_new_pack(const uint8_t pack[CODEC_ID_LEN], uint8_t kind, void *ctx)
{
	struct first_pack *p = ctx;

	(void)kind;
	memcpy(p->id, pack, CODEC_ID_LEN);
	p->found++;
}

static int copy_file(const char *from, const char *to)
{
	char cmd[1000];

	snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
	return system(cmd);
}

/* The one change read-data makes without --pack-hash (FORMAT.md "Check"):
 * a pack whose bytes are replaced by another authentic pack holding the
 * same chunks at the same offsets is not damage to the data, and only the
 * name hash tells. Built here by storing pack P's blobs again, in order,
 * through a rewriting BlobWriter (as prune's repack does), and copying the
 * new pack Q over P. */
static void test_same_layout_pack(void)
{
	char path[400], qpath[400], saved[400];
	struct first_pack fp = {{0}, 0}, q = {{0}, 0};
	PackEntry *e = NULL, *qe = NULL;
	size_t n = 0, qn = 0;
	uint64_t size = 0, qsize = 0;
	CheckReport *r = NULL;
	Repo *repo = NULL;
	BlobWriter *bw = NULL;
	CodecCtx *ctx = codec_ctx_new();
	StrataErr err = {0};

	REQUIRE(ctx);
	REQUIRE(make_repo(&repo) == 0);
	REQUIRE(check_list_packs(repo, pick_data_pack, &fp, &err) == 0 && fp.found);
	REQUIRE(pack_read_trailer(repo, 0, fp.id, &e, &n, &size, &err) == 0);
	REQUIRE(blobwriter_new(repo, 0, &bw, &err) == 0);   /* the backup's zstd level */
	blobwriter_set_rewrite(bw, 1, on_new_pack, &q);
	for (size_t i = 0; i < n; i++) {
		uint8_t *plain = NULL;
		size_t len = 0;
		REQUIRE(blob_read(repo, ctx, e[i].type, e[i].id, &plain, &len, &err) == 0);
		REQUIRE(blobwriter_put(bw, ctx, e[i].type, e[i].id, plain, len, NULL, &err) == 0);
		free(plain);
	}
	REQUIRE(blobwriter_finish(bw, &err) == 0);
	REQUIRE(q.found == 1);
	REQUIRE(pack_read_trailer(repo, 0, q.id, &qe, &qn, &qsize, &err) == 0);
	REQUIRE(qn == n && qsize == size);
	for (size_t i = 0; i < n; i++)
		REQUIRE(qe[i].type == e[i].type && memcmp(qe[i].id, e[i].id, STRATA_ID_LEN) == 0 &&
		        qe[i].offset == e[i].offset && qe[i].length == e[i].length && qe[i].raw_len == e[i].raw_len);
	CHECK(memcmp(q.id, fp.id, STRATA_ID_LEN) != 0);

	pack_path(fp.id, path, sizeof path);
	pack_path(q.id, qpath, sizeof qpath);
	snprintf(saved, sizeof saved, "%s/saved.pack", tmp);
	/* Healthy, with --pack-hash: every pack hashes to its name. */
	REQUIRE(run_check_opts(repo, 1, 1, &r) == 0);
	CHECK_EQ_INT(r->damage, 0);
	CHECK_EQ_INT(r->warnings, 0);
	check_report_free(r);
	REQUIRE(copy_file(path, saved) == 0);
	REQUIRE(copy_file(qpath, path) == 0);
	/* Every blob at every indexed location is authentic: nothing that a
	 * restore needs is wrong, and read-data finds no damage. */
	REQUIRE(run_check_opts(repo, 1, 0, &r) == 0);
	CHECK_EQ_INT(r->damage, 0);
	CHECK(r->blobs_verified >= 2 * n);    /* P's blobs and Q's */
	check_report_free(r);
	/* --pack-hash names the pack whose bytes do not hash to its name. */
	REQUIRE(run_check_opts(repo, 1, 1, &r) == 0);
	CHECK_EQ_INT(r->damage, 1);
	CHECK_EQ_INT(r->nchunks, 0);
	CHECK(r->nproblems == 1 && r->problems[0].kind == CHECK_P_PACK_HASH &&
	      memcmp(r->problems[0].object, fp.id, STRATA_ID_LEN) == 0);
	check_report_free(r);
	/* The structure check does not read pack bodies: it sees nothing. */
	REQUIRE(run_check_opts(repo, 0, 1, &r) == 0);
	CHECK_EQ_INT(r->damage, 0);
	check_report_free(r);
	REQUIRE(copy_file(saved, path) == 0);
	REQUIRE(run_check_opts(repo, 1, 1, &r) == 0);
	CHECK_EQ_INT(r->damage, 0);
	check_report_free(r);

	blobwriter_free(bw);
	codec_ctx_free(ctx);
	free(e);
	free(qe);
	repo_close(repo);
	remove_tmp();
}

int main(void)
{
	codec_init();
	RUN(test_subset_parse);
	RUN(test_subset_partition);
	RUN(test_idmap);
	RUN(test_reason_of);
	RUN(test_faults);
	RUN(test_same_layout_pack);
	RUN(test_unchanged_file_in_changed_dir);
	return CHECK_EXIT();
}
