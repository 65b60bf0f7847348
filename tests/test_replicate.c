/* test_replicate.c — unit tests for remote/replicate.c between two local
 * directories: a source laid out as a repository (a config whose clear
 * header says the format, objects named by the hash of their bytes) is
 * copied whole and byte for byte; a second run copies nothing; a dry run
 * counts without writing; an object whose bytes do not match its name is
 * counted and never copied; a target holding another repository, a source
 * without a repository or of an unknown format are refused with their
 * exact messages; the keyless mirror pass deletes what the source lost,
 * holding back a pack younger than its minimum age. Replication holds no key: the objects' bytes here are
 * arbitrary, only their names matter. */
#include "remote/backend.h"
#include "remote/replicate.h"
#include "store/codec.h"
#include "store/repo.h"
#include "tests/check.h"
#include "tests/test_tmp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char base[64];
static int seq;

static Backend *open_dir(const char *tag)
{
	char loc[256];
	Backend *be = NULL;
	RemoteErr err = {{0}};

	snprintf(loc, sizeof loc, "%s/%s%d", base, tag, ++seq);
	if (backend_open(loc, &be, &err) != 0) {
		printf("  backend_open %s: %s\n", loc, err.msg);
		exit(2);
	}
	return be;
}

/* config: "STRATACF" || VERSION (u32 LE) || bytes (FORMAT.md "Sealed file"). */
static void put_config(Backend *be, uint32_t version, const char *tail)
{
	uint8_t buf[128];
	size_t len = strlen(tail);
	RemoteErr err = {{0}};

	memcpy(buf, "STRATACF", 8);
	buf[8] = (uint8_t)version;
	buf[9] = (uint8_t)(version >> 8);
	buf[10] = (uint8_t)(version >> 16);
	buf[11] = (uint8_t)(version >> 24);
	memcpy(buf + 12, tail, len);
	if (backend_put(be, "config", buf, 12 + len, &err) != 0)
		exit(2);
}

/* dir/<hash of text>; the name is written to name. */
static void put_named(Backend *be, CodecNameHash alg, const char *dir, const char *text, char name[160])
{
	uint8_t id[CODEC_ID_LEN];
	char hex[2 * CODEC_ID_LEN + 1];
	RemoteErr err = {{0}};

	if (codec_name_hash(alg, text, strlen(text), id) != 0)
		exit(2);
	codec_hex(id, sizeof id, hex);
	snprintf(name, 160, "%s/%s", dir, hex);
	if (backend_put(be, name, text, strlen(text), &err) != 0)
		exit(2);
}

/* A small repository: 9 objects of every kind replication copies, and a
 * lock, which it never copies. */
static void fill(Backend *be, uint32_t version)
{
	CodecNameHash alg = version >= 2 ? CODEC_NAME_SHA256 : CODEC_NAME_BLAKE2B;
	char name[160];
	RemoteErr err = {{0}};

	put_config(be, version, "sealed config bytes");
	put_named(be, alg, "keys", "a key file", name);
	put_named(be, alg, "data", "a data pack", name);
	put_named(be, alg, "data", "another data pack", name);
	put_named(be, alg, "tree", "a tree pack", name);
	put_named(be, alg, "index", "an index file", name);
	put_named(be, alg, "snapshots", "a snapshot", name);
	put_named(be, alg, "verified", "a restore-test record", name);
	/* WAL objects are named by the WAL, compared byte for byte */
	if (backend_put(be, "wal/1/000000010000000000000001", "segment", 7, &err) != 0 ||
	    backend_put(be, "locks/00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "lock", 4, &err) != 0)
		exit(2);
}

typedef struct Seen {
	char names[32][160];
	size_t n;
} Seen;

static int seen_add(const char *name, uint64_t size, void *ctx)
{
	Seen *s = ctx;

	(void)size;
	if (s->n < 32)
		snprintf(s->names[s->n++], 160, "%s", name);
	return 0;
}

/* Every object of a, except locks, is in b with the same bytes; b holds
 * nothing else. */
static int same_objects(Backend *a, Backend *b)
{
	static const char *const dirs[] = { "keys/", "data/", "tree/", "index/", "snapshots/", "verified/", "wal/" };
	size_t total_a = 0, total_b = 0;

	for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
		Seen sa = {0}, sb = {0};
		RemoteErr err = {{0}};
		if (backend_list(a, dirs[d], seen_add, &sa, &err) != 0 || backend_list(b, dirs[d], seen_add, &sb, &err) != 0)
			return 0;
		total_a += sa.n;
		total_b += sb.n;
		for (size_t i = 0; i < sa.n; i++) {
			uint8_t *x = NULL, *y = NULL;
			size_t xl = 0, yl = 0;
			int same = backend_get(a, sa.names[i], 1 << 20, &x, &xl, &err) == 0 &&
			           backend_get(b, sa.names[i], 1 << 20, &y, &yl, &err) == 0 && xl == yl &&
			           memcmp(x, y, xl) == 0;
			free(x);
			free(y);
			if (!same) {
				printf("  %s differs or is missing\n", sa.names[i]);
				return 0;
			}
		}
	}
	{
		uint8_t *x = NULL, *y = NULL;
		size_t xl = 0, yl = 0;
		RemoteErr err = {{0}};
		Seen locks = {0};
		int same = backend_get(a, "config", 4096, &x, &xl, &err) == 0 &&
		           backend_get(b, "config", 4096, &y, &yl, &err) == 0 && xl == yl && memcmp(x, y, xl) == 0;
		free(x);
		free(y);
		if (!same || backend_list(b, "locks/", seen_add, &locks, &err) != 0 || locks.n != 0)
			return 0;
	}
	return total_a == total_b;
}

static void test_copy_all(void)
{
	for (uint32_t v = 1; v <= 2; v++) {
		Backend *src = open_dir("src"), *dst = open_dir("dst");
		ReplicateOptions o = { .naming = repo_config_naming, .threads = 3 };
		ReplicateResult r;
		RemoteErr err = {{0}};

		fill(src, v);
		CHECK_EQ_INT(replicate_run(src, dst, &o, &r, &err), 0);
		CHECK_EQ_INT(r.objects_source, 9);
		CHECK_EQ_INT(r.objects_present, 0);
		CHECK_EQ_INT(r.objects_copied, 9);
		CHECK_EQ_INT(r.bytes_copied, 12 + 19 + 10 + 11 + 17 + 11 + 13 + 10 + 21 + 7);
		CHECK_EQ_INT(r.objects_damaged, 0);
		CHECK_EQ_INT(r.passes, 1);
		CHECK(same_objects(src, dst));
		/* again: everything is there at the same size */
		CHECK_EQ_INT(replicate_run(src, dst, &o, &r, &err), 0);
		CHECK_EQ_INT(r.objects_source, 9);
		CHECK_EQ_INT(r.objects_present, 9);
		CHECK_EQ_INT(r.objects_copied, 0);
		backend_free(src);
		backend_free(dst);
	}
}

/* Mirror pass without a key (replicate_mirror.c): what the source lost is
 * deleted at the target in a valid order; a pack younger than its minimum
 * (ages from the local files' mtime) is held back, with every index file
 * and pack the source lost (which index file lists it is unknown without
 * the key); --force-early-delete style deletes it; each object's check
 * after upload reads the local file (objects_sum_checked). */
static void test_mirror_keyless(void)
{
	Backend *src = open_dir("src"), *dst = open_dir("dst");
	ReplicateOptions o = { .naming = repo_config_naming, .threads = 2 };
	ReplicateResult r;
	RemoteErr err = {{0}};
	char snap[160], pack[160], ix[160], key[160];
	uint64_t size = 0;

	fill(src, 2);
	CHECK_EQ_INT(replicate_run(src, dst, &o, &r, &err), 0);
	CHECK_EQ_INT(r.objects_sum_checked, 9);
	CHECK_EQ_INT(r.objects_size_checked, 0);
	/* At the target only: what a forget, a prune and a key remove at the
	 * source leave behind. */
	put_named(dst, CODEC_NAME_SHA256, "snapshots", "a forgotten snapshot", snap);
	put_named(dst, CODEC_NAME_SHA256, "data", "a pruned pack", pack);
	put_named(dst, CODEC_NAME_SHA256, "index", "its index file", ix);
	put_named(dst, CODEC_NAME_SHA256, "keys", "a removed key", key);
	o.mirror.on = 1;
	/* The pack was just written: 90 days (GLACIER) hold it back. */
	o.mirror.min_age_data_s = 90 * 86400;
	o.mirror.usd_gib_month_data = 0.0036;
	o.dry_run = 1;
	CHECK_EQ_INT(replicate_run(src, dst, &o, &r, &err), 0);
	CHECK_EQ_INT(r.mirror.snapshots_deleted, 1);
	CHECK_EQ_INT(r.mirror.keys_deleted, 1);
	CHECK_EQ_INT(r.mirror.packs_held, 1);
	CHECK_EQ_INT(r.mirror.bytes_held, 13);
	CHECK(r.mirror.fees_avoided_usd > 0);
	CHECK_EQ_INT(r.mirror.index_held, 1);
	CHECK_EQ_INT(r.mirror.index_deleted, 0);
	CHECK_EQ_INT(r.mirror.packs_deleted, 0);
	CHECK_EQ_INT(backend_stat(dst, snap, &size, &err), 0);   /* dry run: all there */
	o.dry_run = 0;
	CHECK_EQ_INT(replicate_run(src, dst, &o, &r, &err), 0);
	CHECK_EQ_INT(backend_stat(dst, snap, &size, &err), -ENOENT);
	CHECK_EQ_INT(backend_stat(dst, key, &size, &err), -ENOENT);
	CHECK_EQ_INT(backend_stat(dst, pack, &size, &err), 0);
	CHECK_EQ_INT(backend_stat(dst, ix, &size, &err), 0);
	/* Once old enough (now 91 days on), both go. */
	o.mirror.now_s = (int64_t)time(NULL) + 91 * 86400;
	CHECK_EQ_INT(replicate_run(src, dst, &o, &r, &err), 0);
	CHECK_EQ_INT(r.mirror.packs_deleted, 1);
	CHECK_EQ_INT(r.mirror.bytes_deleted, 13);
	CHECK_EQ_INT(r.mirror.index_deleted, 1);
	CHECK_EQ_INT(r.mirror.packs_held, 0);
	CHECK_EQ_INT(backend_stat(dst, pack, &size, &err), -ENOENT);
	CHECK_EQ_INT(backend_stat(dst, ix, &size, &err), -ENOENT);
	CHECK(same_objects(src, dst));
	/* A source without key files is not mirrored (nothing deleted). */
	{
		Backend *empty = open_dir("nokeys");
		put_config(empty, 2, "sealed config bytes");
		CHECK_EQ_INT(replicate_run(empty, dst, &o, &r, &err), -ENOENT);
		CHECK(strstr(err.msg, "no key files") != NULL);
		backend_free(empty);
	}
	backend_free(src);
	backend_free(dst);
}

static void test_dry_run(void)
{
	Backend *src = open_dir("src"), *dst = open_dir("dst");
	ReplicateOptions o = { .naming = repo_config_naming, .dry_run = 1 };
	ReplicateResult r;
	RemoteErr err = {{0}};
	Seen s = {0};
	uint64_t size;

	fill(src, 1);
	CHECK_EQ_INT(replicate_run(src, dst, &o, &r, &err), 0);
	CHECK_EQ_INT(r.objects_copied, 9);
	CHECK_EQ_INT(r.bytes_copied, 0 + 10 + 11 + 17 + 11 + 13 + 10 + 21 + 7);  /* config: size unknown */
	CHECK_EQ_INT(backend_stat(dst, "config", &size, &err), -ENOENT);
	CHECK_EQ_INT(backend_list(dst, "data/", seen_add, &s, &err), 0);
	CHECK_EQ_INT(s.n, 0);
	backend_free(src);
	backend_free(dst);
}

/* Progress: each phase reported, in write order. */
static void on_progress(const ReplicateProgress *p, void *ctx)
{
	char *log = ctx;
	size_t used = strlen(log);
	size_t last = used ? used - 1 : 0;

	/* one line per phase: the last report of each */
	while (last > 0 && log[last - 1] != '\n')
		last--;
	if (used && strncmp(log + last, p->phase, strlen(p->phase)) == 0 && log[last + strlen(p->phase)] == ' ')
		used = last;
	snprintf(log + used, 512 - used, "%s %llu/%llu\n", p->phase, (unsigned long long)p->objects_done,
	         (unsigned long long)p->objects_todo);
}

static void test_progress(void)
{
	Backend *src = open_dir("src"), *dst = open_dir("dst");
	char log[512] = "";
	ReplicateOptions o = { .naming = repo_config_naming, .threads = 1, .progress = on_progress, .progress_ctx = log };
	ReplicateResult r;
	RemoteErr err = {{0}};

	fill(src, 1);
	CHECK_EQ_INT(replicate_run(src, dst, &o, &r, &err), 0);
	/* data/ then tree/, both "packs": the line shows the last, tree/ */
	CHECK_STR(log, "keys 1/1\nconfig 1/1\npacks 1/1\nwal 1/1\nindex 1/1\nsnapshots 1/1\nverified 1/1\n");
	backend_free(src);
	backend_free(dst);
}

static void test_damaged_not_copied(void)
{
	Backend *src = open_dir("src"), *dst = open_dir("dst");
	ReplicateOptions o = { .naming = repo_config_naming };
	ReplicateResult r;
	RemoteErr err = {{0}};
	char name[160], want[1024];
	uint64_t size;

	fill(src, 1);
	put_named(src, CODEC_NAME_BLAKE2B, "data", "a pack about to be damaged", name);
	REQUIRE(backend_put(src, name, "a pack now damaged!", 19, &err) == 0);
	CHECK_EQ_INT(replicate_run(src, dst, &o, &r, &err), -EBADMSG);
	CHECK_EQ_INT(r.objects_damaged, 1);
	CHECK_EQ_INT(r.objects_copied, 9);
	snprintf(want, sizeof want, "1 objects of the source fail their hash and were not copied (first: %s: %s: its "
	         "BLAKE2b-256 does not match its name); run `strata check` on the source", src->location, name);
	CHECK_STR(err.msg, want);
	CHECK_EQ_INT(backend_stat(dst, name, &size, &err), -ENOENT);
	backend_free(src);
	backend_free(dst);
}

static void test_refusals(void)
{
	Backend *src = open_dir("src"), *dst = open_dir("dst");
	ReplicateOptions o = { .naming = repo_config_naming };
	ReplicateResult r;
	RemoteErr err = {{0}};
	char want[1024];

	CHECK_EQ_INT(replicate_run(src, dst, &o, &r, &err), -ENOENT);
	snprintf(want, sizeof want, "%s: no repository there (no config)", src->location);
	CHECK_STR(err.msg, want);

	put_config(src, 4, "x");
	CHECK_EQ_INT(replicate_run(src, dst, &o, &r, &err), -EPROTONOSUPPORT);
	snprintf(want, sizeof want, "%s has repository format version 4, this strata replicates versions 1 to 3; upgrade strata",
	         src->location);
	CHECK_STR(err.msg, want);

	put_config(src, 0, "x");
	CHECK_EQ_INT(replicate_run(src, dst, &o, &r, &err), -EBADMSG);
	snprintf(want, sizeof want, "%s/config has format version 0, which no strata writes (damaged)", src->location);
	CHECK_STR(err.msg, want);

	REQUIRE(backend_put(src, "config", "STRATAXX\1\0\0\0", 12, &err) == 0);
	CHECK_EQ_INT(replicate_run(src, dst, &o, &r, &err), -EBADMSG);
	snprintf(want, sizeof want, "%s/config is not a strata config file", src->location);
	CHECK_STR(err.msg, want);
	REQUIRE(backend_put(src, "config", "STRATACF\1", 9, &err) == 0);   /* cut short */
	CHECK_EQ_INT(replicate_run(src, dst, &o, &r, &err), -EBADMSG);
	CHECK_STR(err.msg, want);

	/* another repository at the target */
	put_config(src, 1, "this repository");
	put_config(dst, 1, "that repository");
	CHECK_EQ_INT(replicate_run(src, dst, &o, &r, &err), -EEXIST);
	snprintf(want, sizeof want, "%s holds another repository (its config differs from that of %s); replicate to an "
	         "empty location", dst->location, src->location);
	CHECK_STR(err.msg, want);
	backend_free(src);
	backend_free(dst);
}

int main(void)
{
	snprintf(base, sizeof base, "/tmp/strata-test-replicate-XXXXXX");
	if (!mkdtemp(base) || codec_init() != 0)
		return 2;
	RUN(test_copy_all);
	RUN(test_dry_run);
	RUN(test_progress);
	RUN(test_damaged_not_copied);
	RUN(test_refusals);
	RUN(test_mirror_keyless);
	rm_rf(base);
	return CHECK_EXIT();
}
