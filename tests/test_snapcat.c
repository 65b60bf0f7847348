/* test_snapcat.c — the snapshot catalogue (store/snapcat.c) against a real
 * local repository: snapshots another process or host adds or removes
 * always show up, whatever state the local catalogue is in; a stale,
 * damaged or deleted catalogue only costs reads; made-up file names cannot
 * pass for a known set of snapshots. Two caches stand for two hosts, two
 * Repo handles on one cache for two processes. */
#include "store/kv.h"
#include "store/repo.h"
#include "store/snapcat.h"
#include "store/snapselect.h"
#include "store/snapshot.h"
#include "tests/check.h"
#include "tests/test_tmp.h"

#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp_dir[256], repo_dir[300], cache_a[300], cache_b[300];
static char repo_id[STRATA_ID_HEX_LEN + 1];
static int64_t clock_ns = 1700000000000000000LL;

static Repo *open_repo(const char *cache)
{
	StrataErr err = {0};
	Repo *r = NULL;

	if (repo_open(repo_dir, "pw", 2, cache, &r, &err) != 0) {
		printf("  repo_open: %s\n", err.msg);
		return NULL;
	}
	return r;
}

/* A fresh repository and empty caches for each test. */
static int fresh(void)
{
	RepoParams params = {0};
	StrataErr err = {0};

	rm_rf(repo_dir);
	rm_rf(cache_a);
	rm_rf(cache_b);
	params.kdf_opslimit = 1;
	params.kdf_memlimit = 8192;
	if (repo_init(repo_dir, "pw", 2, &params, repo_id, &err) != 0) {
		printf("  repo_init: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* Save a snapshot taken on host at time_ns carrying label (or none). */
static int save_at(Repo *r, const char *host, int64_t time_ns, const char *label, uint8_t out_id[STRATA_ID_LEN])
{
	char *paths[1] = {(char *)(uintptr_t)"/srv"}, *labels[1] = {(char *)(uintptr_t)label};
	StrataErr err = {0};
	Snapshot s;
	int rc;

	memset(&s, 0, sizeof s);
	s.time_ns = time_ns;
	s.host = (char *)(uintptr_t)host;
	s.labels = label ? labels : NULL;
	s.nlabels = label ? 1 : 0;
	s.user = (char *)(uintptr_t)"ops";
	s.paths = paths;
	s.npaths = 1;
	memset(s.tree, 0x5a, sizeof s.tree);
	rc = snapshot_save(r, &s, &err);
	if (rc)
		printf("  snapshot_save: %s\n", err.msg);
	else
		memcpy(out_id, s.id, STRATA_ID_LEN);
	return rc;
}

/* Save a snapshot taken on host at the next tick of a test clock. */
static int save(Repo *r, const char *host, uint8_t out_id[STRATA_ID_LEN])
{
	clock_ns += 1000000000LL;
	return save_at(r, host, clock_ns, NULL, out_id);
}

static int del(Repo *r, const uint8_t id[STRATA_ID_LEN])
{
	StrataErr err = {0};
	int rc = snapshot_delete(r, id, &err);

	if (rc)
		printf("  snapshot_delete: %s\n", err.msg);
	return rc;
}

/* Remove a snapshot file behind strata's back (another host's forget). */
static int unlink_snapshot(const uint8_t id[STRATA_ID_LEN])
{
	char hex[STRATA_ID_HEX_LEN + 1], path[512];

	strata_id_hex(id, hex);
	snprintf(path, sizeof path, "%s/snapshots/%s", repo_dir, hex);
	return unlink(path);
}

/* 1 when r lists exactly want[0..n), oldest first, after a sync (or
 * without one when sync is 0: what a query right after another pays). */
static int lists_exactly(Repo *r, int sync, uint8_t (*want)[STRATA_ID_LEN], size_t n)
{
	StrataErr err = {0};
	Snapshot *snaps = NULL;
	size_t got = 0;
	int ok = 1;

	if (sync && snapcat_sync(r, &err) != 0) {
		printf("  snapcat_sync: %s\n", err.msg);
		return 0;
	}
	if (snapshot_list(r, &snaps, &got, &err) != 0) {
		printf("  snapshot_list: %s\n", err.msg);
		return 0;
	}
	if (got != n) {
		printf("  listed %zu snapshots, wanted %zu\n", got, n);
		ok = 0;
	}
	for (size_t i = 0; ok && i < n; i++)
		if (memcmp(snaps[i].id, want[i], STRATA_ID_LEN) != 0) {
			printf("  snapshot %zu differs\n", i);
			ok = 0;
		}
	snapshot_list_free(snaps, got);
	return ok;
}

/* The newest snapshot as snapshot_latest gives it equals want. */
static int newest_is(Repo *r, const uint8_t want[STRATA_ID_LEN])
{
	StrataErr err = {0};
	Snapshot *snaps = NULL;
	size_t n = 0;
	int ok;

	if (snapshot_latest(r, NULL, 1, &snaps, &n, &err) != 0) {
		printf("  snapshot_latest: %s\n", err.msg);
		return 0;
	}
	ok = n == 1 && memcmp(snaps[0].id, want, STRATA_ID_LEN) == 0;
	snapshot_list_free(snaps, n);
	return ok;
}

static void cat_dir(const char *cache, char *out, size_t len)
{
	snprintf(out, len, "%s/%s/snapcat", cache, repo_id);
}

/* Another host (its own cache) adds and forgets snapshots: both show up
 * on the next sync, and on the next query once a second has passed. */
static void test_other_host(void)
{
	uint8_t ids[6][STRATA_ID_LEN], want[6][STRATA_ID_LEN];
	Repo *a, *b;

	REQUIRE(fresh() == 0);
	a = open_repo(cache_a);
	b = open_repo(cache_b);
	REQUIRE(a && b);
	for (int i = 0; i < 3; i++)
		REQUIRE(save(a, "hostA", ids[i]) == 0);
	CHECK(lists_exactly(a, 1, ids, 3));
	REQUIRE(save(b, "hostB", ids[3]) == 0);
	REQUIRE(del(b, ids[1]) == 0);
	memcpy(want[0], ids[0], STRATA_ID_LEN);
	memcpy(want[1], ids[2], STRATA_ID_LEN);
	memcpy(want[2], ids[3], STRATA_ID_LEN);
	CHECK(lists_exactly(a, 1, want, 3));
	CHECK(lists_exactly(b, 1, want, 3));

	/* Without an explicit sync: a query more than a second after the
	 * last sync lists snapshots/ again. */
	REQUIRE(save(b, "hostB", ids[4]) == 0);
	usleep(1100 * 1000);
	CHECK(newest_is(a, ids[4]));
	repo_close(a);
	repo_close(b);
}

/* Two processes on one cache: each one's writes update the shared
 * catalogue, and deletions behind both their backs still show up. */
static void test_shared_cache(void)
{
	uint8_t ids[5][STRATA_ID_LEN], want[5][STRATA_ID_LEN];
	Repo *a1, *a2, *a3;

	REQUIRE(fresh() == 0);
	a1 = open_repo(cache_a);
	a2 = open_repo(cache_a);
	REQUIRE(a1 && a2);
	REQUIRE(save(a1, "h", ids[0]) == 0);
	REQUIRE(save(a2, "h", ids[1]) == 0);
	REQUIRE(save(a1, "h", ids[2]) == 0);
	CHECK(lists_exactly(a2, 1, ids, 3));
	REQUIRE(del(a2, ids[0]) == 0);
	CHECK(lists_exactly(a1, 1, ids + 1, 2));
	REQUIRE(unlink_snapshot(ids[2]) == 0);
	CHECK(lists_exactly(a1, 1, ids + 1, 1));
	CHECK(lists_exactly(a2, 1, ids + 1, 1));
	repo_close(a1);
	repo_close(a2);

	/* A fresh process after all that. */
	a3 = open_repo(cache_a);
	REQUIRE(a3);
	REQUIRE(save(a3, "h", ids[3]) == 0);
	memcpy(want[0], ids[1], STRATA_ID_LEN);
	memcpy(want[1], ids[3], STRATA_ID_LEN);
	CHECK(lists_exactly(a3, 0, want, 2));
	repo_close(a3);
}

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
	char buf[65536];
	size_t n;
	int rc = 0;

	if (!in || !out)
		rc = -1;
	while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		rc = -1;
	return rc;
}

/* A catalogue put back from an older copy (a restored home directory)
 * holds a snapshot since forgotten and lacks one since added. */
static void test_stale_catalogue(void)
{
	uint8_t ids[4][STRATA_ID_LEN], want[4][STRATA_ID_LEN];
	char dir[512], db[600], saved[600];
	Repo *a, *b;

	REQUIRE(fresh() == 0);
	a = open_repo(cache_a);
	b = open_repo(cache_b);
	REQUIRE(a && b);
	for (int i = 0; i < 3; i++)
		REQUIRE(save(a, "h", ids[i]) == 0);
	CHECK(lists_exactly(a, 1, ids, 3));
	repo_close(a);
	cat_dir(cache_a, dir, sizeof dir);
	snprintf(db, sizeof db, "%s/data.mdb", dir);
	snprintf(saved, sizeof saved, "%s/old.mdb", tmp_dir);
	REQUIRE(copy_file(db, saved) == 0);

	REQUIRE(del(b, ids[0]) == 0);
	REQUIRE(save(b, "h", ids[3]) == 0);
	repo_close(b);
	REQUIRE(copy_file(saved, db) == 0);
	a = open_repo(cache_a);
	REQUIRE(a);
	memcpy(want[0], ids[1], STRATA_ID_LEN);
	memcpy(want[1], ids[2], STRATA_ID_LEN);
	memcpy(want[2], ids[3], STRATA_ID_LEN);
	CHECK(lists_exactly(a, 0, want, 3));
	repo_close(a);
}

/* Damage the closed catalogue of cache through kv directly. */
enum { DMG_BYTIME_VALUE, DMG_IDS_ENTRY, DMG_BYTIME_ENTRY, DMG_FINGERPRINT, DMG_FILE };

struct first_key {
	uint8_t key[64];
	size_t len;
	int skip;
};

static int take_key(const uint8_t *key, size_t key_len, const uint8_t *val, size_t val_len, void *ctx)
{
	struct first_key *f = ctx;

	(void)val;
	(void)val_len;
	if (f->skip-- > 0)
		return 0;
	f->len = key_len < sizeof f->key ? key_len : sizeof f->key;
	memcpy(f->key, key, f->len);
	return 1;
}

static int damage(const char *cache, int how)
{
	static const char *const tables[] = {"bytime", "ids", "meta"};
	struct first_key fk = {{0}, 0, 1};     /* the second entry */
	char dir[512], path[600];
	StrataErr err = {0};
	KvTxn *t = NULL;
	Kv *kv = NULL;
	int rc;

	cat_dir(cache, dir, sizeof dir);
	if (how == DMG_FILE) {
		FILE *f;
		snprintf(path, sizeof path, "%s/data.mdb", dir);
		f = fopen(path, "r+b");
		if (!f)
			return -1;
		for (int i = 0; i < 64; i++)
			fputs("not an LMDB page at all ", f);
		return fclose(f);
	}
	if (kv_open(dir, tables, 3, &kv, &err) != 0)
		return -1;
	rc = kv_begin(kv, &t, &err);
	if (rc == 0) {
		switch (how) {
		case DMG_BYTIME_VALUE:
			kv_foreach(kv, 0, 0, take_key, &fk, NULL);
			rc = kv_put(t, 0, fk.key, fk.len, "{\"garbage\":", 11);
			break;
		case DMG_IDS_ENTRY:
			kv_foreach(kv, 1, 0, take_key, &fk, NULL);
			rc = kv_del(t, 1, fk.key, fk.len);
			break;
		case DMG_BYTIME_ENTRY:
			kv_foreach(kv, 0, 0, take_key, &fk, NULL);
			rc = kv_del(t, 0, fk.key, fk.len);
			break;
		default:
			rc = kv_put(t, 2, "idset", 5, "\x01\x02\x03", 3);
			break;
		}
		rc = rc ? (kv_abort(t), rc) : kv_commit(t, &err);
	}
	kv_close(kv);
	return fk.len || how == DMG_FINGERPRINT ? rc : -1;
}

/* Each kind of damage: the listing stays exact, and a second fresh
 * process (after the first mended what it found) too. */
static void test_damaged_catalogue(void)
{
	static const int kinds[] = {DMG_BYTIME_VALUE, DMG_IDS_ENTRY, DMG_BYTIME_ENTRY, DMG_FINGERPRINT, DMG_FILE};
	uint8_t ids[4][STRATA_ID_LEN];
	Repo *a;

	REQUIRE(fresh() == 0);
	a = open_repo(cache_a);
	REQUIRE(a);
	for (int i = 0; i < 4; i++)
		REQUIRE(save(a, "h", ids[i]) == 0);
	repo_close(a);
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		if (damage(cache_a, kinds[k]) != 0) {
			printf("  damage %d failed\n", kinds[k]);
			CHECK(0);
			continue;
		}
		for (int round = 0; round < 2; round++) {
			a = open_repo(cache_a);
			REQUIRE(a);
			if (!lists_exactly(a, 0, ids, 4)) {
				printf("  after damage %d, round %d\n", kinds[k], round);
				CHECK(0);
			}
			CHECK(newest_is(a, ids[3]));
			repo_close(a);
		}
	}
}

/* Made-up names: someone with write access to the store (not the key)
 * deletes two snapshots and adds two files whose names XOR to the same as
 * theirs. The set of names differs, so the sync must not trust the
 * catalogue: it reads the new files (and fails on them, naming one), and
 * never lists the deleted snapshots as present. */
static void test_forged_names(void)
{
	uint8_t ids[3][STRATA_ID_LEN], g1[STRATA_ID_LEN], g2[STRATA_ID_LEN];
	char hex[STRATA_ID_HEX_LEN + 1], path[512];
	StrataErr err = {0};
	Snapshot *snaps = NULL;
	size_t n = 0;
	FILE *f;
	Repo *a;
	int rc;

	REQUIRE(fresh() == 0);
	a = open_repo(cache_a);
	REQUIRE(a);
	for (int i = 0; i < 3; i++)
		REQUIRE(save(a, "h", ids[i]) == 0);
	CHECK(lists_exactly(a, 1, ids, 3));
	repo_close(a);
	memset(g1, 0x11, sizeof g1);
	for (int b = 0; b < STRATA_ID_LEN; b++)
		g2[b] = (uint8_t)(ids[0][b] ^ ids[1][b] ^ g1[b]);
	REQUIRE(unlink_snapshot(ids[0]) == 0 && unlink_snapshot(ids[1]) == 0);
	for (int i = 0; i < 2; i++) {
		strata_id_hex(i ? g2 : g1, hex);
		snprintf(path, sizeof path, "%s/snapshots/%s", repo_dir, hex);
		f = fopen(path, "w");
		REQUIRE(f);
		fputs("made up", f);
		fclose(f);
	}
	a = open_repo(cache_a);
	REQUIRE(a);
	rc = snapshot_list(a, &snaps, &n, &err);
	CHECK(rc != 0);
	{
		char h1[STRATA_ID_HEX_LEN + 1], h2[STRATA_ID_HEX_LEN + 1];

		strata_id_hex(g1, h1);
		strata_id_hex(g2, h2);
		int named = strstr(err.msg, h1) != NULL || strstr(err.msg, h2) != NULL;

		CHECK(named);
		if (!named)
			printf("  forged names: \"%s\"\n", err.msg);
	}
	for (size_t i = 0; rc == 0 && i < n; i++)
		CHECK(memcmp(snaps[i].id, ids[0], STRATA_ID_LEN) != 0 && memcmp(snaps[i].id, ids[1], STRATA_ID_LEN) != 0);
	snapshot_list_free(snaps, n);
	repo_close(a);
}

/* The test's own reading of an exact KEY=VALUE label rule (ctx), or any
 * snapshot when ctx is NULL. */
static int has_label(const Snapshot *s, void *ctx)
{
	const char *rule = ctx, *eq, *v;
	char key[64];

	if (!rule)
		return 1;
	eq = strchr(rule, '=');
	if (!eq || (size_t)(eq - rule) >= sizeof key)
		return 0;
	memcpy(key, rule, (size_t)(eq - rule));
	key[eq - rule] = '\0';
	v = snapshot_label(s, key);
	return v && strcmp(v, eq + 1) == 0;
}

/* snapselect_find walks the catalogue newest first for latest, --at and
 * exact labels: it must pick what snapselect_pick picks over the whole
 * list, ties in time included, and fail with the same message. Since
 * snapselect_find falls back to the whole list when its walk finds
 * nothing, the walk itself (snapshot_latest_before) is also asked, and
 * must find the same snapshot in every case that has one. */
static void test_select_newest_first(void)
{
	static const char *const hosts[] = {"a", "b"};
	static const char *const labels[] = {"height=10", "height=20", NULL, "kind=base", "height=20"};
	static const char *const want_labels[] = {"height=20", "kind=base", "height=15", "kind=none", "x"};
	uint8_t id[STRATA_ID_LEN];
	StrataErr e1 = {0}, e2 = {0};
	Snapshot *all = NULL, got;
	size_t n = 0, at = 0;
	int64_t t0 = 1800000000000000000LL;
	int walked = 0;
	Repo *r;

	REQUIRE(fresh() == 0);
	r = open_repo(cache_a);
	REQUIRE(r);
	/* Twelve snapshots, three sharing each time. */
	for (int i = 0; i < 12; i++)
		REQUIRE(save_at(r, hosts[i % 2], t0 + (i / 3) * 1000, labels[i % 5], id) == 0);
	REQUIRE(snapshot_list(r, &all, &n, &e1) == 0);
	REQUIRE(n == 12);
	for (int by = 0; by < 3; by++) {
		for (int h = -1; h < 2; h++) {
			for (int k = 0; k < 7; k++) {
				SnapSelect sel;
				int rc1, rc2;

				memset(&sel, 0, sizeof sel);
				sel.filter.host = h < 0 ? NULL : hosts[h];
				if (by == 0) {
					if (k)
						continue;
					sel.by = SNAPSELECT_LATEST;
				} else if (by == 1) {
					sel.by = SNAPSELECT_AT_TIME;
					sel.time_ns = t0 + (k - 1) * 1000 + (k % 2) * 500;
				} else {
					if (k >= 5)
						continue;
					sel.by = SNAPSELECT_LABEL;
					sel.label = want_labels[k];
				}
				rc1 = snapselect_pick(all, n, &sel, &at, &e1);
				rc2 = snapselect_find(r, &sel, &got, &e2);
				CHECK_EQ_INT(rc2, rc1);
				if (rc1 == 0 && rc2 == 0)
					CHECK(memcmp(got.id, all[at].id, STRATA_ID_LEN) == 0);
				if (rc1 == 0) {
					SnapshotFilter f = {0};
					Snapshot *w = NULL;
					size_t wn = 0;

					f.host = sel.filter.host;
					f.match = has_label;
					f.match_ctx = (void *)(uintptr_t)(by == 2 ? sel.label : NULL);
					CHECK_EQ_INT(snapshot_latest_before(r, &f, by == 1 ? sel.time_ns : INT64_MAX, 1, &w, &wn, &e2), 0);
					CHECK(wn == 1 && memcmp(w[0].id, all[at].id, STRATA_ID_LEN) == 0);
					snapshot_list_free(w, wn);
					walked++;
				}
				else if (rc1 && rc2)
					CHECK_STR(e2.msg, e1.msg);
				if (rc2 == 0)
					snapshot_clear(&got);
			}
		}
	}
	/* 27 of the cases above have an answer: the walk was asked for each. */
	CHECK_EQ_INT(walked, 27);
	snapshot_list_free(all, n);
	repo_close(r);
}

/* Save a partial snapshot (two paths listed, three counted) at time_ns. */
static int save_partial(Repo *r, int64_t time_ns, uint8_t out_id[STRATA_ID_LEN])
{
	char *paths[1] = {(char *)(uintptr_t)"/srv"};
	SnapshotPartialPath pp[2] = {
		{ (char *)(uintptr_t)"/srv/db/000069.ldb", (char *)(uintptr_t)"vanished",
		  (char *)(uintptr_t)"vanished during the backup" },
		{ (char *)(uintptr_t)"/srv/db/MANIFEST-000005", (char *)(uintptr_t)"changed",
		  (char *)(uintptr_t)"size changed from 10 to 20 bytes while it was read" },
	};
	StrataErr err = {0};
	Snapshot s;
	int rc;

	memset(&s, 0, sizeof s);
	s.time_ns = time_ns;
	s.host = (char *)(uintptr_t)"h";
	s.user = (char *)(uintptr_t)"ops";
	s.paths = paths;
	s.npaths = 1;
	s.partial = 1;
	s.partial_count = 3;
	s.partial_paths = pp;
	s.npartial_paths = 2;
	memset(s.tree, 0x5a, sizeof s.tree);
	rc = snapshot_save(r, &s, &err);
	if (rc)
		printf("  snapshot_save: %s\n", err.msg);
	else
		memcpy(out_id, s.id, STRATA_ID_LEN);
	return rc;
}

/* 1 when "latest" (without / with partial ones) resolves to want, and a
 * partial answer carries exactly what save_partial wrote. */
static int latest_is(Repo *r, int include_partial, const uint8_t want[STRATA_ID_LEN])
{
	StrataErr err = {0};
	Snapshot s;
	int ok;

	if (snapshot_resolve(r, "latest", include_partial, &s, &err) != 0) {
		printf("  snapshot_resolve: %s\n", err.msg);
		return 0;
	}
	ok = memcmp(s.id, want, STRATA_ID_LEN) == 0;
	if (ok && s.partial)
		ok = s.partial_count == 3 && s.npartial_paths == 2 &&
		     strcmp(s.partial_paths[0].path, "/srv/db/000069.ldb") == 0 &&
		     strcmp(s.partial_paths[0].reason, "vanished") == 0 &&
		     strcmp(s.partial_paths[1].detail, "size changed from 10 to 20 bytes while it was read") == 0;
	if (!ok)
		printf("  latest (include_partial %d) is not the snapshot wanted, or lost its partial list\n",
		       include_partial);
	snapshot_clear(&s);
	return ok;
}

/* The partial flag lives in the snapshot's own plaintext, which is what
 * the catalogue stores: wherever an entry comes from (this process's
 * save, another host's sync, a catalogue reopened or rebuilt after the
 * entry was lost, as when an older strata, which cannot decode a version
 * 2 snapshot, left it out), latest and the selections pass over it. */
static void test_partial_through_catalogue(void)
{
	uint8_t c1[STRATA_ID_LEN], p1[STRATA_ID_LEN], hex_id[STRATA_ID_LEN];
	char hex[STRATA_ID_HEX_LEN + 1], path[512];
	SnapSelect sel;
	StrataErr err = {0};
	Snapshot got;
	Repo *a, *b;
	FILE *f;
	uint8_t hdr[12];

	REQUIRE(fresh() == 0);
	a = open_repo(cache_a);
	REQUIRE(a);
	REQUIRE(save_at(a, "h", 1900000000000000000LL, "height=10", c1) == 0);
	REQUIRE(save_partial(a, 1900000001000000000LL, p1) == 0);
	/* The file: sealed version 2 (a complete snapshot stays 1). */
	for (int k = 0; k < 2; k++) {
		memcpy(hex_id, k ? p1 : c1, STRATA_ID_LEN);
		strata_id_hex(hex_id, hex);
		snprintf(path, sizeof path, "%s/snapshots/%s", repo_dir, hex);
		f = fopen(path, "rb");
		REQUIRE(f);
		REQUIRE(fread(hdr, 1, sizeof hdr, f) == sizeof hdr);
		fclose(f);
		CHECK_EQ_INT(hdr[8] | hdr[9] << 8 | hdr[10] << 16 | (uint32_t)hdr[11] << 24, k ? 2 : 1);
	}
	/* This process: the catalogue entry its save wrote. */
	CHECK(latest_is(a, 0, c1));
	CHECK(latest_is(a, 1, p1));
	memset(&sel, 0, sizeof sel);
	sel.by = SNAPSELECT_AT_TIME;
	sel.time_ns = INT64_MAX;
	REQUIRE(snapselect_find(a, &sel, &got, &err) == 0);
	CHECK(memcmp(got.id, c1, STRATA_ID_LEN) == 0);
	snapshot_clear(&got);
	repo_close(a);
	/* Another host: its catalogue is built by a sync reading the files. */
	b = open_repo(cache_b);
	REQUIRE(b);
	CHECK(latest_is(b, 0, c1));
	CHECK(latest_is(b, 1, p1));
	repo_close(b);
	/* The same cache reopened: the stored plaintext still says partial. */
	a = open_repo(cache_a);
	REQUIRE(a);
	CHECK(latest_is(a, 0, c1));
	repo_close(a);
	/* A catalogue that lacks the entry (an older strata cannot decode a
	 * version 2 snapshot, so its catalogue never holds one): rebuilt,
	 * the entry comes from the file, still partial. */
	REQUIRE(damage(cache_a, DMG_IDS_ENTRY) == 0);
	a = open_repo(cache_a);
	REQUIRE(a);
	CHECK(latest_is(a, 0, c1));
	CHECK(latest_is(a, 1, p1));
	repo_close(a);
	/* Only partial snapshots: latest says so. */
	REQUIRE(fresh() == 0);
	a = open_repo(cache_a);
	REQUIRE(a);
	REQUIRE(save_partial(a, 1900000001000000000LL, p1) == 0);
	memset(&got, 0, sizeof got);
	CHECK_EQ_INT(snapshot_find(a, "latest", &got, &err), STRATA_ENOTFOUND);
	CHECK_STR(err.msg, "no complete snapshot found: the repository holds only 1 partial snapshot (some files "
	          "vanished, were unreadable or changed while read); --include-partial lets latest pick one");
	/* By ID, a partial snapshot is found like any other. */
	strata_id_hex(p1, hex);
	hex[8] = '\0';
	REQUIRE(snapshot_find(a, hex, &got, &err) == 0);
	CHECK(got.partial == 1 && got.partial_count == 3);
	snapshot_clear(&got);
	repo_close(a);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(tmp_dir, sizeof tmp_dir, "%s/strata-test-snapcat.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(repo_dir, sizeof repo_dir, "%s/repo", tmp_dir);
	snprintf(cache_a, sizeof cache_a, "%s/cache-a", tmp_dir);
	snprintf(cache_b, sizeof cache_b, "%s/cache-b", tmp_dir);
	RUN(test_other_host);
	RUN(test_shared_cache);
	RUN(test_stale_catalogue);
	RUN(test_damaged_catalogue);
	RUN(test_forged_names);
	RUN(test_select_newest_first);
	RUN(test_partial_through_catalogue);
	rm_rf(tmp_dir);
	return CHECK_EXIT();
}
