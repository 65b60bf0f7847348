/* test_index.c — unit tests for the LMDB chunk index (store/index.c) in a
 * temporary directory: adding packs, lookups by (type, ID) — a data and a
 * tree blob of one ID are two blobs —, first location wins, the
 * index-file and unindexed sets, pack removal, pack numbers (each entry
 * resolves to its own pack's ID; removal drops the mapping), iteration,
 * clearing, the epoch, persistence across reopen, the move from earlier
 * cache directories, and recovery from a damaged file.
 */
#include "store/index.h"
#include "tests/check.h"
#include "tests/test_tmp.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

static char tmp_dir[] = "/tmp/strata-test-index.XXXXXX";
static int dir_seq;

static Index *open_new(char *dir, size_t len)
{
	StrataErr err = {0};
	Index *ix = NULL;

	snprintf(dir, len, "%s/ix%d", tmp_dir, ++dir_seq);
	if (index_open(dir, &ix, &err) != 0) {
		printf("  index_open %s: %s\n", dir, err.msg);
		return NULL;
	}
	return ix;
}

static void id_of(uint8_t id[CODEC_ID_LEN], uint8_t tag, uint32_t i)
{
	memset(id, tag, CODEC_ID_LEN);
	/* Spread i over the leading bytes so packs' chunks interleave in key
	 * order (LMDB sorts keys bytewise). */
	id[0] = (uint8_t)i;
	id[1] = (uint8_t)(i >> 8);
}

/* n entries laid end to end; IDs tagged so two packs' chunks interleave. */
static PackEntry *entries(size_t n, uint8_t tag, uint8_t type)
{
	PackEntry *e = calloc(n ? n : 1, sizeof *e);
	uint32_t off = 0;

	for (size_t i = 0; e && i < n; i++) {
		e[i].type = type;
		id_of(e[i].id, tag, (uint32_t)i);
		e[i].offset = off;
		e[i].length = 100 + (uint32_t)i;
		e[i].raw_len = 1000 + (uint32_t)i;
		off += e[i].length;
	}
	return e;
}

static void test_empty_lookup(void)
{
	char dir[256];
	uint8_t id[CODEC_ID_LEN] = {1};
	IndexEntry e;
	IndexPackInfo info;
	Index *ix = open_new(dir, sizeof dir);

	REQUIRE(ix);
	CHECK_EQ_INT(index_lookup(ix, BLOB_DATA, id, &e), STRATA_ENOTFOUND);
	CHECK_EQ_INT(index_lookup(ix, BLOB_DATA, id, NULL), STRATA_ENOTFOUND);
	CHECK_EQ_INT(index_pack_info(ix, id, &info), STRATA_ENOTFOUND);
	CHECK_EQ_INT(index_has_indexfile(ix, id), 0);
	CHECK_EQ_INT(index_count(ix), 0);
	index_close(ix);
	index_close(NULL);
}

static void test_add_and_lookup(void)
{
	char dir[256];
	uint8_t pack[CODEC_ID_LEN], other[CODEC_ID_LEN];
	PackEntry *e = entries(300, 0x11, BLOB_DATA);
	StrataErr err = {0};
	IndexPackInfo info;
	IndexEntry got;
	Index *ix = open_new(dir, sizeof dir);
	int bad = 0;

	REQUIRE(ix && e);
	memset(pack, 0xa1, sizeof pack);
	REQUIRE(index_add_pack(ix, pack, 0, 123456789012ull, e, 300, 0, &err) == 0);
	CHECK_EQ_INT(index_count(ix), 300);
	for (size_t i = 0; i < 300; i++) {
		if (index_lookup(ix, BLOB_DATA, e[i].id, &got) != 0 || memcmp(got.pack, pack, CODEC_ID_LEN) != 0 ||
		    got.type != BLOB_DATA || got.offset != e[i].offset || got.length != e[i].length ||
		    got.raw_len != e[i].raw_len)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(index_pack_info(ix, pack, &info), 0);
	CHECK_EQ_INT(info.kind, 0);
	CHECK_EQ_INT(info.count, 300);
	CHECK(info.size == 123456789012ull);
	/* Another data pack holding one chunk already known: the first
	 * location stays. */
	memset(other, 0xb2, sizeof other);
	e[5].offset = 7;
	REQUIRE(index_add_pack(ix, other, 0, 999, &e[5], 1, 0, &err) == 0);
	CHECK_EQ_INT(index_lookup(ix, BLOB_DATA, e[5].id, &got), 0);
	CHECK(memcmp(got.pack, pack, CODEC_ID_LEN) == 0);
	CHECK_EQ_INT(got.type, BLOB_DATA);
	CHECK_EQ_INT(got.offset, e[4].offset + e[4].length);
	CHECK_EQ_INT(index_count(ix), 300);
	CHECK_EQ_INT(index_pack_info(ix, other, &info), 0);
	CHECK_EQ_INT(info.kind, 0);
	CHECK_EQ_INT(info.count, 1);
	/* An empty pack is recorded too. */
	other[0] = 0;
	CHECK_EQ_INT(index_add_pack(ix, other, 0, 0, NULL, 0, 0, &err), 0);
	CHECK_EQ_INT(index_pack_info(ix, other, &info), 0);
	CHECK_EQ_INT(info.count, 0);
	index_close(ix);
	free(e);
}

struct typed_visit { size_t n; uint8_t types[4]; };

static int visit_typed(const uint8_t id[CODEC_ID_LEN], const IndexEntry *e, void *ctx)
{
	struct typed_visit *v = ctx;

	(void)id;
	if (v->n < sizeof v->types)
		v->types[v->n] = e->type;
	v->n++;
	return 0;
}

/* A blob is its type and ID together: a data chunk and a tree object (or
 * tree part) with equal plaintexts have one ID, and each is its own blob
 * with its own location (the bug of strata before 2026-12-07 kept one). */
static void test_type_and_id(void)
{
	char dir[256];
	uint8_t dpack[CODEC_ID_LEN], tpack[CODEC_ID_LEN], ppack[CODEC_ID_LEN], lone[CODEC_ID_LEN];
	PackEntry d = {0}, t = {0}, part = {0};
	StrataErr err = {0};
	struct typed_visit v = {0};
	IndexEntry got;
	IndexSet *set = NULL;
	char sdir[300];
	Index *ix = open_new(dir, sizeof dir);

	REQUIRE(ix);
	memset(dpack, 0xd0, sizeof dpack);
	memset(tpack, 0xe0, sizeof tpack);
	memset(ppack, 0xf0, sizeof ppack);
	d.type = BLOB_DATA;
	memset(d.id, 0x5a, sizeof d.id);
	d.offset = 0; d.length = 44; d.raw_len = 3;
	t = d;
	t.type = BLOB_TREE;
	t.length = 45;
	part = d;
	part.type = BLOB_TREEPART;
	part.offset = 45;
	/* Tree first, as a backup stores an empty directory before a later
	 * file: the data blob must still go in, and be found as data. */
	REQUIRE(index_add_pack(ix, tpack, 1, 100, &t, 1, 0, &err) == 0);
	CHECK_EQ_INT(index_lookup(ix, BLOB_DATA, d.id, &got), STRATA_ENOTFOUND);
	CHECK_EQ_INT(index_lookup_any(ix, d.id, &got), 0);
	CHECK_EQ_INT(got.type, BLOB_TREE);
	REQUIRE(index_add_pack(ix, dpack, 0, 100, &d, 1, 0, &err) == 0);
	CHECK_EQ_INT(index_count(ix), 2);
	CHECK_EQ_INT(index_lookup(ix, BLOB_DATA, d.id, &got), 0);
	CHECK(memcmp(got.pack, dpack, CODEC_ID_LEN) == 0);
	CHECK_EQ_INT(got.type, BLOB_DATA);
	CHECK_EQ_INT(got.length, 44);
	CHECK_EQ_INT(index_lookup(ix, BLOB_TREE, d.id, &got), 0);
	CHECK(memcmp(got.pack, tpack, CODEC_ID_LEN) == 0);
	CHECK_EQ_INT(got.type, BLOB_TREE);
	CHECK_EQ_INT(got.length, 45);
	CHECK_EQ_INT(index_lookup(ix, BLOB_TREEPART, d.id, &got), STRATA_ENOTFOUND);
	/* The lowest type held; an ID held by no blob is not found. */
	CHECK_EQ_INT(index_lookup_any(ix, d.id, &got), 0);
	CHECK_EQ_INT(got.type, BLOB_DATA);
	memset(lone, 0x5a, sizeof lone);
	lone[31] = 0x5b;
	CHECK_EQ_INT(index_lookup_any(ix, lone, NULL), STRATA_ENOTFOUND);
	lone[31] = 0x59;
	CHECK_EQ_INT(index_lookup_any(ix, lone, NULL), STRATA_ENOTFOUND);
	/* A tree part of the same ID in a third pack: three blobs. */
	REQUIRE(index_add_pack(ix, ppack, 1, 100, &part, 1, 0, &err) == 0);
	CHECK_EQ_INT(index_count(ix), 3);
	CHECK_EQ_INT(index_foreach_chunk(ix, visit_typed, &v, &err), 0);
	CHECK_EQ_INT(v.n, 3);
	CHECK(v.types[0] == BLOB_DATA && v.types[1] == BLOB_TREE && v.types[2] == BLOB_TREEPART);
	/* Removing the tree's pack keeps the data blob, and the reverse. */
	REQUIRE(index_remove_pack(ix, tpack, &err) == 0);
	CHECK_EQ_INT(index_lookup(ix, BLOB_TREE, d.id, NULL), STRATA_ENOTFOUND);
	CHECK_EQ_INT(index_lookup(ix, BLOB_DATA, d.id, &got), 0);
	CHECK(memcmp(got.pack, dpack, CODEC_ID_LEN) == 0);
	REQUIRE(index_remove_pack(ix, dpack, &err) == 0);
	CHECK_EQ_INT(index_lookup(ix, BLOB_DATA, d.id, NULL), STRATA_ENOTFOUND);
	CHECK_EQ_INT(index_lookup(ix, BLOB_TREEPART, d.id, &got), 0);
	CHECK_EQ_INT(index_lookup_any(ix, d.id, &got), 0);
	CHECK_EQ_INT(got.type, BLOB_TREEPART);
	CHECK_EQ_INT(index_count(ix), 1);
	index_close(ix);

	/* Prune's marks: (type, ID) too, or a reachable tree blob whose ID a
	 * data blob already marked would go unmarked and be deleted. */
	snprintf(sdir, sizeof sdir, "%s/set", tmp_dir);
	REQUIRE(index_set_open(sdir, &set, &err) == 0);
	CHECK_EQ_INT(index_set_add(set, BLOB_DATA, d.id, &err), 1);
	CHECK_EQ_INT(index_set_has(set, BLOB_DATA, d.id), 1);
	CHECK_EQ_INT(index_set_has(set, BLOB_TREE, d.id), 0);
	CHECK_EQ_INT(index_set_add(set, BLOB_TREE, d.id, &err), 1);
	CHECK_EQ_INT(index_set_add(set, BLOB_TREE, d.id, &err), 0);
	CHECK_EQ_INT(index_set_has(set, BLOB_TREE, d.id), 1);
	CHECK_EQ_INT(index_set_has(set, BLOB_TREEPART, d.id), 0);
	CHECK_EQ_INT(index_set_count(set), 2);
	index_set_free(set);
}

/* index_open_cache: earlier layouts lived in "index" (keyed by ID alone)
 * and "index2" (values naming the pack by its ID); each is deleted and
 * the current one opened in "index3", empty (filled from the stored index
 * files by the sync), with an epoch of its own so that the files cache is
 * dropped. */
static void test_open_cache_drops_old_layout(void)
{
	static const char *const olds[] = {INDEX_CACHE_SUBDIR_V1, INDEX_CACHE_SUBDIR_V2};

	for (size_t o = 0; o < sizeof olds / sizeof olds[0]; o++) {
		char cache[256], old[300], path[320];
		StrataErr err = {0};
		Index *ix = NULL;
		PackEntry *e = entries(3, 0x71, BLOB_DATA);
		uint8_t p[CODEC_ID_LEN];
		uint64_t old_epoch;

		REQUIRE(e);
		snprintf(cache, sizeof cache, "%s/cache%d", tmp_dir, ++dir_seq);
		REQUIRE(mkdir(cache, 0700) == 0);
		snprintf(old, sizeof old, "%s/%s", cache, olds[o]);
		REQUIRE(index_open(old, &ix, &err) == 0);
		memset(p, 0x72, sizeof p);
		REQUIRE(index_add_pack(ix, p, 0, 10, e, 3, 0, &err) == 0);
		old_epoch = index_epoch(ix);
		index_close(ix);
		ix = NULL;
		REQUIRE(index_open_cache(cache, &ix, &err) == 0);
		CHECK_EQ_INT(index_count(ix), 0);
		CHECK(index_epoch(ix) != old_epoch);
		snprintf(path, sizeof path, "%s/data.mdb", old);
		CHECK(access(path, F_OK) != 0);
		CHECK(access(old, F_OK) != 0);
		snprintf(path, sizeof path, "%s/%s/data.mdb", cache, INDEX_CACHE_SUBDIR);
		CHECK(access(path, F_OK) == 0);
		REQUIRE(index_add_pack(ix, p, 0, 10, e, 3, 0, &err) == 0);
		index_close(ix);
		ix = NULL;
		/* Reopened: the current layout stays. */
		REQUIRE(index_open_cache(cache, &ix, &err) == 0);
		CHECK_EQ_INT(index_count(ix), 3);
		CHECK_EQ_INT(index_lookup(ix, BLOB_DATA, e[2].id, NULL), 0);
		index_close(ix);
		free(e);
	}
}

static int has_id(uint8_t (*ids)[CODEC_ID_LEN], size_t n, const uint8_t id[CODEC_ID_LEN])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(ids[i], id, CODEC_ID_LEN) == 0)
			return 1;
	return 0;
}

static void test_indexfiles_and_unindexed(void)
{
	char dir[256];
	uint8_t p1[CODEC_ID_LEN], p2[CODEC_ID_LEN], p3[CODEC_ID_LEN], file[CODEC_ID_LEN];
	uint8_t (*ids)[CODEC_ID_LEN] = NULL;
	size_t n = 99;
	PackEntry *e = entries(3, 0x22, BLOB_DATA);
	StrataErr err = {0};
	Index *ix = open_new(dir, sizeof dir);

	REQUIRE(ix && e);
	memset(p1, 1, sizeof p1);
	memset(p2, 2, sizeof p2);
	memset(p3, 3, sizeof p3);
	memset(file, 0xf0, sizeof file);
	CHECK_EQ_INT(index_list_unindexed(ix, &ids, &n, &err), 0);
	CHECK_EQ_INT(n, 0);
	free(ids);
	ids = NULL;
	REQUIRE(index_add_pack(ix, p1, 0, 500, e, 1, 1, &err) == 0);
	REQUIRE(index_add_pack(ix, p2, 0, 500, e + 1, 1, 1, &err) == 0);
	REQUIRE(index_add_pack(ix, p3, 0, 500, e + 2, 1, 0, &err) == 0);
	REQUIRE(index_list_unindexed(ix, &ids, &n, &err) == 0);
	CHECK_EQ_INT(n, 2);
	CHECK(has_id(ids, n, p1) && has_id(ids, n, p2) && !has_id(ids, n, p3));
	free(ids);
	ids = NULL;
	/* An index file covering p1 only. */
	REQUIRE(index_note_indexfile(ix, file, (const uint8_t (*)[CODEC_ID_LEN])p1, 1, &err) == 0);
	CHECK_EQ_INT(index_has_indexfile(ix, file), 1);
	CHECK_EQ_INT(index_has_indexfile(ix, p1), 0);
	REQUIRE(index_list_unindexed(ix, &ids, &n, &err) == 0);
	CHECK_EQ_INT(n, 1);
	CHECK(n == 1 && memcmp(ids[0], p2, CODEC_ID_LEN) == 0);
	free(ids);
	ids = NULL;
	REQUIRE(index_list_indexfiles(ix, &ids, &n, &err) == 0);
	CHECK_EQ_INT(n, 1);
	CHECK(n == 1 && memcmp(ids[0], file, CODEC_ID_LEN) == 0);
	free(ids);
	ids = NULL;
	/* Noting an ingested file that covers no packs (indexfile_sync). */
	file[0] = 0;
	REQUIRE(index_note_indexfile(ix, file, NULL, 0, &err) == 0);
	REQUIRE(index_list_indexfiles(ix, &ids, &n, &err) == 0);
	CHECK_EQ_INT(n, 2);
	free(ids);
	ids = NULL;
	/* Removing an unindexed pack also drops it from the unindexed set. */
	REQUIRE(index_remove_pack(ix, p2, &err) == 0);
	REQUIRE(index_list_unindexed(ix, &ids, &n, &err) == 0);
	CHECK_EQ_INT(n, 0);
	free(ids);
	index_close(ix);
	free(e);
}

/* Removing a pack whose chunks interleave with another's in key order:
 * consecutive cursor deletes must not skip entries. */
static void test_remove_pack(void)
{
	char dir[256];
	uint8_t a[CODEC_ID_LEN], b[CODEC_ID_LEN];
	PackEntry *ea = entries(500, 0x33, BLOB_DATA), *eb = entries(500, 0x34, BLOB_DATA);
	StrataErr err = {0};
	IndexPackInfo info;
	IndexEntry got;
	Index *ix = open_new(dir, sizeof dir);
	int left = 0, lost = 0;

	REQUIRE(ix && ea && eb);
	memset(a, 0xaa, sizeof a);
	memset(b, 0xbb, sizeof b);
	REQUIRE(index_add_pack(ix, a, 0, 1, ea, 500, 0, &err) == 0);
	REQUIRE(index_add_pack(ix, b, 0, 1, eb, 500, 0, &err) == 0);
	CHECK_EQ_INT(index_count(ix), 1000);
	REQUIRE(index_remove_pack(ix, a, &err) == 0);
	CHECK_EQ_INT(index_count(ix), 500);
	for (size_t i = 0; i < 500; i++) {
		left += index_lookup(ix, BLOB_DATA, ea[i].id, &got) == 0;
		lost += index_lookup(ix, BLOB_DATA, eb[i].id, &got) != 0;
	}
	CHECK_EQ_INT(left, 0);
	CHECK_EQ_INT(lost, 0);
	CHECK_EQ_INT(index_pack_info(ix, a, &info), STRATA_ENOTFOUND);
	CHECK_EQ_INT(index_pack_info(ix, b, &info), 0);
	/* Removing what is not there is not an error. */
	CHECK_EQ_INT(index_remove_pack(ix, a, &err), 0);
	CHECK_EQ_INT(index_count(ix), 500);
	index_close(ix);
	free(ea);
	free(eb);
}

struct count { size_t packs, chunks, stop_at; uint64_t bytes; };

static int count_pack(const uint8_t pack[CODEC_ID_LEN], const IndexPackInfo *info, void *ctx)
{
	struct count *c = ctx;

	(void)pack;
	c->bytes += info->size;
	return ++c->packs == c->stop_at ? 7 : 0;
}

static int count_chunk(const uint8_t id[CODEC_ID_LEN], const IndexEntry *e, void *ctx)
{
	struct count *c = ctx;

	(void)id;
	c->bytes += e->raw_len;
	return ++c->chunks == c->stop_at ? 9 : 0;
}

static void test_foreach(void)
{
	char dir[256];
	uint8_t p[CODEC_ID_LEN];
	PackEntry *e = entries(40, 0x44, BLOB_DATA);
	StrataErr err = {0};
	struct count c = {0};
	uint64_t raw = 0;
	Index *ix = open_new(dir, sizeof dir);

	REQUIRE(ix && e);
	for (int i = 0; i < 4; i++) {
		memset(p, 0x50 + i, sizeof p);
		REQUIRE(index_add_pack(ix, p, 0, 1000u * (unsigned)(i + 1), e + 10 * i, 10, 0, &err) == 0);
	}
	for (size_t i = 0; i < 40; i++)
		raw += e[i].raw_len;
	CHECK_EQ_INT(index_foreach_pack(ix, count_pack, &c, &err), 0);
	CHECK_EQ_INT(c.packs, 4);
	CHECK_EQ_INT(c.bytes, 10000);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(index_foreach_chunk(ix, count_chunk, &c, &err), 0);
	CHECK_EQ_INT(c.chunks, 40);
	CHECK_EQ_INT(c.bytes, raw);
	/* A callback's non-zero return stops the walk and is returned. */
	memset(&c, 0, sizeof c);
	c.stop_at = 2;
	CHECK_EQ_INT(index_foreach_pack(ix, count_pack, &c, &err), 7);
	CHECK_EQ_INT(c.packs, 2);
	memset(&c, 0, sizeof c);
	c.stop_at = 5;
	CHECK_EQ_INT(index_foreach_chunk(ix, count_chunk, &c, &err), 9);
	CHECK_EQ_INT(c.chunks, 5);
	index_close(ix);
	free(e);
}

static void test_clear_and_epoch(void)
{
	char dir[256];
	uint8_t p[CODEC_ID_LEN], file[CODEC_ID_LEN];
	uint8_t (*ids)[CODEC_ID_LEN] = NULL;
	size_t n = 0;
	PackEntry *e = entries(10, 0x55, BLOB_TREE);
	StrataErr err = {0};
	IndexPackInfo info;
	uint64_t ep0, ep1, ep2;
	Index *ix = open_new(dir, sizeof dir);

	REQUIRE(ix && e);
	ep0 = index_epoch(ix);
	CHECK(ep0 != 0);
	CHECK(index_epoch(ix) == ep0);
	memset(p, 0x66, sizeof p);
	memset(file, 0x77, sizeof file);
	REQUIRE(index_add_pack(ix, p, 1, 10, e, 10, 1, &err) == 0);
	REQUIRE(index_note_indexfile(ix, file, NULL, 0, &err) == 0);
	CHECK(index_epoch(ix) == ep0);              /* adding removes nothing */
	REQUIRE(index_clear(ix, &err) == 0);
	ep1 = index_epoch(ix);
	CHECK(ep1 != 0 && ep1 != ep0);
	CHECK_EQ_INT(index_count(ix), 0);
	CHECK_EQ_INT(index_pack_info(ix, p, &info), STRATA_ENOTFOUND);
	CHECK_EQ_INT(index_has_indexfile(ix, file), 0);
	REQUIRE(index_list_unindexed(ix, &ids, &n, &err) == 0);
	CHECK_EQ_INT(n, 0);
	free(ids);
	/* Usable after clearing. */
	REQUIRE(index_add_pack(ix, p, 1, 10, e, 10, 0, &err) == 0);
	CHECK_EQ_INT(index_count(ix), 10);
	REQUIRE(index_remove_pack(ix, p, &err) == 0);
	ep2 = index_epoch(ix);
	CHECK(ep2 != ep1);
	index_close(ix);
	/* The epoch persists with the index. */
	REQUIRE(index_open(dir, &ix, &err) == 0);
	CHECK(index_epoch(ix) == ep2);
	index_close(ix);
	free(e);
}

static void test_persists_across_reopen(void)
{
	char dir[256];
	uint8_t p[CODEC_ID_LEN], file[CODEC_ID_LEN];
	PackEntry *e = entries(20, 0x66, BLOB_DATA);
	StrataErr err = {0};
	IndexEntry got;
	Index *ix = open_new(dir, sizeof dir);

	REQUIRE(ix && e);
	memset(p, 0x88, sizeof p);
	memset(file, 0x99, sizeof file);
	REQUIRE(index_add_pack(ix, p, 0, 5000, e, 20, 0, &err) == 0);
	REQUIRE(index_note_indexfile(ix, file, NULL, 0, &err) == 0);
	index_close(ix);
	ix = NULL;
	REQUIRE(index_open(dir, &ix, &err) == 0);
	CHECK_EQ_INT(index_count(ix), 20);
	CHECK_EQ_INT(index_lookup(ix, BLOB_DATA, e[19].id, &got), 0);
	CHECK_EQ_INT(got.offset, e[19].offset);
	CHECK_EQ_INT(index_has_indexfile(ix, file), 1);
	index_close(ix);
	free(e);
}

/* Transactions committed in dir's environment so far (the index closed). */
static size_t last_txnid(const char *dir)
{
	MDB_env *env = NULL;
	MDB_envinfo info;
	size_t id = 0;

	if (mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 8) == 0 &&
	    mdb_env_open(env, dir, MDB_RDONLY, 0600) == 0 && mdb_env_info(env, &info) == 0)
		id = info.me_last_txnid;
	mdb_env_close(env);
	return id;
}

/* Entries of table name in dir's environment (the index closed), or -1;
 * with val_len, also each value's length must be val_len or val_len2,
 * else -2 (FORMAT.md section 16). */
static long table_entries(const char *dir, const char *name, size_t val_len, size_t val_len2)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_dbi dbi;
	MDB_val k, v;
	long n = -1;
	int rc;

	if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 8) || mdb_env_open(env, dir, MDB_RDONLY, 0600) ||
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) || mdb_dbi_open(txn, name, 0, &dbi) ||
	    mdb_cursor_open(txn, dbi, &cur))
		goto out;
	n = 0;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (val_len && v.mv_size != val_len && v.mv_size != val_len2) {
			n = -2;
			break;
		}
		n++;
	}
out:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return n;
}

enum { MANY_PACKS = 300, PER_PACK = 7 };

static void many_pack_id(uint8_t p[CODEC_ID_LEN], uint32_t i)
{
	memset(p, 0xc3, CODEC_ID_LEN);
	p[5] = (uint8_t)i;
	p[6] = (uint8_t)(i >> 8);
}

/* Entries of pack i: IDs unique to it, interleaved with every other
 * pack's in key order. */
static void many_entries(PackEntry e[PER_PACK], uint32_t i)
{
	memset(e, 0, PER_PACK * sizeof *e);
	for (uint32_t j = 0; j < PER_PACK; j++) {
		e[j].type = j == PER_PACK - 1 ? BLOB_TREE : BLOB_DATA;
		memset(e[j].id, 0x4d, CODEC_ID_LEN);
		e[j].id[0] = (uint8_t)j;
		e[j].id[1] = (uint8_t)i;
		e[j].id[2] = (uint8_t)(i >> 8);
		e[j].offset = 10 * j + i;
		e[j].length = 10;
		e[j].raw_len = 20 + i;
	}
}

/* How many of pack i's entries are found where they were put, and how
 * many are found at all. */
static void many_check(Index *ix, uint32_t i, int *right, int *found)
{
	PackEntry e[PER_PACK];
	uint8_t p[CODEC_ID_LEN];
	IndexEntry got;

	many_entries(e, i);
	many_pack_id(p, i);
	for (uint32_t j = 0; j < PER_PACK; j++) {
		if (index_lookup(ix, e[j].type, e[j].id, &got) != 0)
			continue;
		(*found)++;
		*right += memcmp(got.pack, p, CODEC_ID_LEN) == 0 && got.type == e[j].type &&
		          got.offset == e[j].offset && got.raw_len == e[j].raw_len;
	}
}

struct pack_check { int wrong, seen; };

static int check_chunk_pack(const uint8_t id[CODEC_ID_LEN], const IndexEntry *e, void *ctx)
{
	struct pack_check *pc = ctx;
	uint8_t p[CODEC_ID_LEN];

	many_pack_id(p, (uint32_t)id[1] | (uint32_t)id[2] << 8);
	pc->seen++;
	pc->wrong += memcmp(e->pack, p, CODEC_ID_LEN) != 0;
	return 0;
}

/* A chunk entry names its pack by a 4-byte number (FORMAT.md section 16):
 * entries of many packs resolve to their own pack's ID, after a reopen
 * too; removing a pack drops its entries and its number's mapping; a
 * number freed by removing the last pack is taken again by the next pack
 * without making any surviving entry point elsewhere. */
static void test_pack_numbers(void)
{
	char dir[256];
	PackEntry e[PER_PACK];
	uint8_t p[CODEC_ID_LEN];
	StrataErr err = {0};
	struct pack_check pc = {0, 0};
	Index *ix = open_new(dir, sizeof dir);
	int right = 0, found = 0;

	REQUIRE(ix);
	for (uint32_t i = 0; i < MANY_PACKS; i++) {
		many_entries(e, i);
		many_pack_id(p, i);
		REQUIRE(index_add_pack(ix, p, 0, 1000 + i, e, PER_PACK, 0, &err) == 0);
	}
	/* Added again (an index file and a trailer listing one pack): keeps
	 * its number, adds no mapping. */
	many_entries(e, 5);
	many_pack_id(p, 5);
	REQUIRE(index_add_pack(ix, p, 0, 1005, e, PER_PACK, 0, &err) == 0);
	index_close(ix);
	ix = NULL;
	CHECK_EQ_INT(table_entries(dir, "packids", CODEC_ID_LEN, CODEC_ID_LEN), MANY_PACKS);
	CHECK_EQ_INT(table_entries(dir, "packs", 1 + 4 + 8 + 4, 1 + 4 + 8 + 4), MANY_PACKS);
	CHECK_EQ_INT(table_entries(dir, "chunks", 4 + 1 + 12, 4 + 1 + 12), MANY_PACKS * PER_PACK);
	REQUIRE(index_open(dir, &ix, &err) == 0);
	for (uint32_t i = 0; i < MANY_PACKS; i++)
		many_check(ix, i, &right, &found);
	CHECK_EQ_INT(found, MANY_PACKS * PER_PACK);
	CHECK_EQ_INT(right, MANY_PACKS * PER_PACK);
	REQUIRE(index_foreach_chunk(ix, check_chunk_pack, &pc, &err) == 0);
	CHECK_EQ_INT(pc.seen, MANY_PACKS * PER_PACK);
	CHECK_EQ_INT(pc.wrong, 0);

	/* Remove a pack in the middle and the last one (the highest number). */
	many_pack_id(p, 100);
	REQUIRE(index_remove_pack(ix, p, &err) == 0);
	many_pack_id(p, MANY_PACKS - 1);
	REQUIRE(index_remove_pack(ix, p, &err) == 0);
	CHECK_EQ_INT(index_count(ix), (MANY_PACKS - 2) * PER_PACK);
	right = found = 0;
	many_check(ix, 100, &right, &found);
	many_check(ix, MANY_PACKS - 1, &right, &found);
	CHECK_EQ_INT(found, 0);
	index_close(ix);
	ix = NULL;
	CHECK_EQ_INT(table_entries(dir, "packids", 0, 0), MANY_PACKS - 2);
	CHECK_EQ_INT(table_entries(dir, "packs", 0, 0), MANY_PACKS - 2);

	/* A new pack (number MANY_PACKS - 1 again): the rest still resolve. */
	REQUIRE(index_open(dir, &ix, &err) == 0);
	many_entries(e, MANY_PACKS);
	many_pack_id(p, MANY_PACKS);
	REQUIRE(index_add_pack(ix, p, 0, 1, e, PER_PACK, 0, &err) == 0);
	right = found = 0;
	for (uint32_t i = 0; i <= MANY_PACKS; i++)
		if (i != 100 && i != MANY_PACKS - 1)
			many_check(ix, i, &right, &found);
	CHECK_EQ_INT(found, (MANY_PACKS - 1) * PER_PACK);
	CHECK_EQ_INT(right, (MANY_PACKS - 1) * PER_PACK);
	pc.seen = pc.wrong = 0;
	REQUIRE(index_foreach_chunk(ix, check_chunk_pack, &pc, &err) == 0);
	CHECK_EQ_INT(pc.seen, (MANY_PACKS - 1) * PER_PACK);
	CHECK_EQ_INT(pc.wrong, 0);

	/* A clear drops every mapping; numbering starts again. */
	REQUIRE(index_clear(ix, &err) == 0);
	many_entries(e, 7);
	many_pack_id(p, 7);
	REQUIRE(index_add_pack(ix, p, 0, 1, e, PER_PACK, 0, &err) == 0);
	right = found = 0;
	many_check(ix, 7, &right, &found);
	CHECK_EQ_INT(right, PER_PACK);
	index_close(ix);
	CHECK_EQ_INT(table_entries(dir, "packids", 0, 0), 1);
}

/* A pack of more than INDEX_ADD_BATCH entries commits in batches (LMDB
 * keeps every page a transaction dirtied, so the largest transaction sets
 * the memory), the pack and its unindexed mark with the first; all its
 * entries are found afterwards, in their places. */
static void test_large_pack_in_batches(void)
{
	enum { N = 3 * INDEX_ADD_BATCH + 17 };
	char dir[256];
	uint8_t p[CODEC_ID_LEN], (*ids)[CODEC_ID_LEN] = NULL;
	PackEntry *e = entries(N, 0x2c, BLOB_DATA);
	StrataErr err = {0};
	IndexPackInfo info;
	IndexEntry got;
	size_t before, n = 0;
	Index *ix = open_new(dir, sizeof dir);

	REQUIRE(ix && e);
	index_close(ix);
	before = last_txnid(dir);
	REQUIRE(before > 0);
	REQUIRE(index_open(dir, &ix, &err) == 0);
	memset(p, 0x3d, sizeof p);
	REQUIRE(index_add_pack(ix, p, 0, 777, e, N, 1, &err) == 0);
	CHECK_EQ_INT(index_count(ix), N);
	for (size_t i = 0; i < N; i += 97) {
		REQUIRE(index_lookup(ix, BLOB_DATA, e[i].id, &got) == 0);
		CHECK_EQ_INT(got.offset, e[i].offset);
		CHECK_EQ_INT(got.raw_len, e[i].raw_len);
	}
	REQUIRE(index_lookup(ix, BLOB_DATA, e[N - 1].id, &got) == 0);
	CHECK_EQ_INT(got.length, e[N - 1].length);
	REQUIRE(index_pack_info(ix, p, &info) == 0);
	CHECK_EQ_INT(info.count, N);
	CHECK_EQ_INT(info.size, 777);
	REQUIRE(index_list_unindexed(ix, &ids, &n, &err) == 0);
	CHECK_EQ_INT(n, 1);
	CHECK(n == 1 && memcmp(ids[0], p, CODEC_ID_LEN) == 0);
	free(ids);
	index_close(ix);
	/* Four batches; reopening an existing index commits nothing. */
	CHECK_EQ_INT(last_txnid(dir) - before, 4);
	free(e);
}

static int count_members(const uint8_t id[CODEC_ID_LEN], const IndexEntry *e, void *ctx)
{
	size_t *n = ctx;

	n[0]++;
	if (e->frame_raw)
		n[1]++;
	return 0;
}

/* Frame members (FORMAT.md 9a, 16): a pack of blobs, then a frame entry
 * and its 3 members placed so that the frame entry ends one batch and
 * its members start the next: each member is a data blob's entry naming
 * the frame (OFFSET, LENGTH, RAW_LENGTH) and its own RAW_OFFSET and
 * RAW_LENGTH; the frame has no entry; index_has_frames says so until a
 * clear; removing the pack removes the members. */
static void test_frame_members(void)
{
	enum { NB = INDEX_ADD_BATCH - 1, N = NB + 4 };
	char dir[256];
	uint8_t p[CODEC_ID_LEN], zero[CODEC_ID_LEN] = {0};
	PackEntry *e = entries(N, 0x5e, BLOB_DATA);
	StrataErr err = {0};
	IndexEntry got;
	size_t seen[2] = {0, 0};
	uint32_t off;
	Index *ix = open_new(dir, sizeof dir);

	REQUIRE(ix && e);
	off = e[NB - 1].offset + e[NB - 1].length;
	e[NB].type = FORMAT_BLOB_FRAME;
	memset(e[NB].id, 0, CODEC_ID_LEN);
	e[NB].offset = off;
	e[NB].length = 5000;
	e[NB].raw_len = 2 + 3 * 36 + 300 + 400 + 500;
	for (uint32_t k = 0, roff = 2 + 3 * 36; k < 3; k++) {
		PackEntry *m = &e[NB + 1 + k];
		m->type = FORMAT_BLOB_MEMBER;
		m->offset = roff;
		m->length = 0;
		m->raw_len = 300 + 100 * k;
		roff += m->raw_len;
	}
	memset(p, 0x71, sizeof p);
	CHECK_EQ_INT(index_has_frames(ix), 0);
	REQUIRE(index_add_pack(ix, p, 0, 99999, e, N, 0, &err) == 0);
	CHECK_EQ_INT(index_has_frames(ix), 1);
	CHECK_EQ_INT(index_count(ix), NB + 3);
	CHECK_EQ_INT(index_lookup(ix, FORMAT_BLOB_FRAME, zero, NULL), STRATA_ENOTFOUND);
	CHECK_EQ_INT(index_lookup(ix, FORMAT_BLOB_MEMBER, e[NB + 1].id, NULL), STRATA_ENOTFOUND);
	for (uint32_t k = 0; k < 3; k++) {
		REQUIRE(index_lookup(ix, BLOB_DATA, e[NB + 1 + k].id, &got) == 0);
		CHECK(memcmp(got.pack, p, CODEC_ID_LEN) == 0);
		CHECK_EQ_INT(got.type, BLOB_DATA);
		CHECK_EQ_INT(got.offset, off);
		CHECK_EQ_INT(got.length, 5000);
		CHECK_EQ_INT(got.frame_raw, e[NB].raw_len);
		CHECK_EQ_INT(got.member_off, e[NB + 1 + k].offset);
		CHECK_EQ_INT(got.raw_len, 300 + 100 * k);
		CHECK_EQ_INT(got.frame_members, 3);
		REQUIRE(index_lookup_any(ix, e[NB + 1 + k].id, &got) == 0);
		CHECK_EQ_INT(got.frame_raw, e[NB].raw_len);
	}
	/* A plain blob keeps frame_raw 0. */
	REQUIRE(index_lookup(ix, BLOB_DATA, e[3].id, &got) == 0);
	CHECK_EQ_INT(got.frame_raw, 0);
	CHECK_EQ_INT(got.member_off, 0);
	CHECK_EQ_INT(got.offset, e[3].offset);
	REQUIRE(index_foreach_chunk(ix, count_members, seen, &err) == 0);
	CHECK_EQ_INT(seen[0], NB + 3);
	CHECK_EQ_INT(seen[1], 3);
	/* Persisted: a reopen reads the same member entry. A blob's value is
	 * 17 bytes, a member's 26 (FORMAT.md section 16). */
	index_close(ix);
	CHECK_EQ_INT(table_entries(dir, "chunks", 4 + 1 + 12, 4 + 1 + 12 + 9), NB + 3);
	REQUIRE(index_open(dir, &ix, &err) == 0);
	REQUIRE(index_lookup(ix, BLOB_DATA, e[NB + 3].id, &got) == 0);
	CHECK_EQ_INT(got.member_off, e[NB + 3].offset);
	CHECK_EQ_INT(index_has_frames(ix), 1);
	REQUIRE(index_remove_pack(ix, p, &err) == 0);
	CHECK_EQ_INT(index_lookup(ix, BLOB_DATA, e[NB + 1].id, NULL), STRATA_ENOTFOUND);
	CHECK_EQ_INT(index_count(ix), 0);
	REQUIRE(index_clear(ix, &err) == 0);
	CHECK_EQ_INT(index_has_frames(ix), 0);
	/* A member entry with no frame before it is refused (a caller's bug). */
	CHECK(index_add_pack(ix, p, 0, 99999, e + NB + 1, 3, 0, &err) < 0);
	CHECK_EQ_INT(index_lookup(ix, BLOB_DATA, e[NB + 1].id, NULL), STRATA_ENOTFOUND);
	index_close(ix);
	free(e);
}

/* The index is a cache: a damaged environment is recreated empty. */
static void test_damaged_file_recreated(void)
{
	char dir[256], path[300];
	uint8_t p[CODEC_ID_LEN], junk[8192];
	PackEntry *e = entries(5, 0x77, BLOB_DATA);
	StrataErr err = {0};
	Index *ix = open_new(dir, sizeof dir);
	int fd;

	REQUIRE(ix && e);
	memset(p, 0x12, sizeof p);
	REQUIRE(index_add_pack(ix, p, 0, 5000, e, 5, 0, &err) == 0);
	index_close(ix);
	ix = NULL;
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	memset(junk, 0x5c, sizeof junk);
	fd = open(path, O_WRONLY | O_TRUNC);
	REQUIRE(fd >= 0);
	CHECK(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
	close(fd);
	CHECK_EQ_INT(index_open(dir, &ix, &err), 0);
	if (ix) {
		CHECK_EQ_INT(index_count(ix), 0);
		CHECK_EQ_INT(index_add_pack(ix, p, 0, 5000, e, 5, 0, &err), 0);
		CHECK_EQ_INT(index_count(ix), 5);
		index_close(ix);
	}
	free(e);
}

static void test_open_errors(void)
{
	char path[300];
	StrataErr err = {0};
	Index *ix = NULL;
	FILE *f;

	/* A regular file where the directory should be. */
	snprintf(path, sizeof path, "%s/not-a-dir", tmp_dir);
	f = fopen(path, "w");
	REQUIRE(f);
	fclose(f);
	CHECK(index_open(path, &ix, &err) != 0);
	CHECK(ix == NULL);
	CHECK(err.msg[0] != '\0');
	snprintf(path, sizeof path, "%s/missing/parent/ix", tmp_dir);
	CHECK(index_open(path, &ix, &err) < 0);
	CHECK(ix == NULL);
}

int main(void)
{
	if (codec_init() != 0 || !mkdtemp(tmp_dir)) {
		printf("FAIL setup\n");
		return 1;
	}
	RUN(test_empty_lookup);
	RUN(test_add_and_lookup);
	RUN(test_type_and_id);
	RUN(test_open_cache_drops_old_layout);
	RUN(test_indexfiles_and_unindexed);
	RUN(test_remove_pack);
	RUN(test_foreach);
	RUN(test_clear_and_epoch);
	RUN(test_persists_across_reopen);
	RUN(test_pack_numbers);
	RUN(test_large_pack_in_batches);
	RUN(test_frame_members);
	RUN(test_damaged_file_recreated);
	RUN(test_open_errors);
	rm_rf(tmp_dir);
	return CHECK_EXIT();
}
