/* index.c — see index.h. FORMAT.md "Local cache". */
#include "store/index.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "store/format.h"
#include "store/repo_internal.h"

/* 1 TiB of address space: LMDB only maps it; the file grows as needed. */
#define INDEX_MAP_SIZE ((size_t)1 << 40)
/* A blob's key is CHUNK_ID || TYPE (FORMAT.md "Local cache"): a blob is
 * known by its type and ID together, since a data chunk and a tree object
 * with equal plaintexts have equal IDs. ID first keeps the blobs of one ID
 * adjacent (index_lookup_any) and lookups as spread as before. */
#define BLOB_KEY_LEN  (CODEC_ID_LEN + 1)
/* A blob's value (FORMAT.md §16): le32 PACK_NO || TYPE || le32 OFFSET ||
 * le32 LENGTH || le32 RAW_LENGTH. The pack is named by its number in this
 * index, resolved through table `packids`, not by its 32-byte ID: the
 * ID made up 32 of 45 bytes of every entry (layout 3, issue 34). */
#define PACK_NO_LEN   4
#define CHUNK_VAL_LEN (PACK_NO_LEN + 1 + 12)
/* A frame member's value: a blob's, with type byte 4, the frame's OFFSET
 * and LENGTH, the member's RAW_LENGTH, then the frame's RAW_LENGTH, the
 * member's RAW_OFFSET and the frame's M. */
#define MEMBER_VAL_LEN (CHUNK_VAL_LEN + 9)
/* A pack's value: KIND || le32 COUNT || le64 SIZE || le32 PACK_NO. */
#define PACK_VAL_LEN  (1 + 4 + 8 + PACK_NO_LEN)
/* Offsets in a chunk value. */
#define CV_TYPE       4
#define CV_OFFSET     5
#define CV_LENGTH     9
#define CV_RAW        13
#define CV_FRAME_RAW  17
#define CV_MEMBER_OFF 21
#define CV_MEMBERS    25
/* Each lookup of a random ID faults in one leaf page, and the kernel maps
 * up to 15 cached neighbours with it (fault-around, which MADV_RANDOM does
 * not turn off): about 64 KiB of resident map per lookup. Dropping the
 * mapping every 256 lookups bounds that to ~16 MiB whatever the index's
 * size, for a few re-faults of branch pages; every 128 (index_set_lean)
 * to ~8 MiB, for more faults. A backup sets it: at 256 a 10 GiB set's
 * first backup peaked at 95-98 MiB against 86-87 for a 2 GiB set, at 128
 * at 89.3-90.3 (at 64, 88.2-88.6), minor faults 0.48M -> 0.54-0.70M,
 * wall time within the noise of alternated pairs. `check` keeps 256: its
 * peak is elsewhere (70.4 MiB either way on the 10 GiB repository) and
 * 128 cost it 0.7-1.0 s of 7-8 (two alternated pairs). */
#define RELEASE_EVERY 256u
#define RELEASE_EVERY_LEAN 128u
/* ... but only when the map is larger than 16 MiB: below it the whole map
 * stays resident, since dropping it costs a 2 GiB set's index (~10 MiB)
 * re-faults on every lookup: releasing above 8 MiB made that set's first
 * backup 5-10 % slower (three alternated pairs) for 3 MiB less RSS. */
#define RELEASE_ABOVE (16u << 20)

struct Index {
	MDB_env *env;
	MDB_dbi chunks, packs, packids, indexfiles, unindexed, meta;
	char *map;          /* start of LMDB's read-only map; NULL if not found */
	atomic_uint lookups;/* leaf reads, for release_pages (touched) */
	atomic_uint release_every;  /* RELEASE_EVERY or RELEASE_EVERY_LEAN */
	char dir[PATH_MAX];
};

static int lmdb_err(StrataErr *err, const Index *ix, const char *what, int rc)
{
	int code = rc > 0 ? -rc : -EIO;   /* LMDB returns errno values or its own negatives */
	return strata_err_set(err, code, "index %s: %s: %s (delete the directory to rebuild it)",
	                      ix ? ix->dir : "", what, mdb_strerror(rc));
}

/* Where LMDB mapped data.mdb: the /proc/self/maps range holding a record
 * read from the map (LMDB does not report the address unless the map is
 * fixed). NULL when it cannot be found: release_pages then does nothing. */
static char *find_map(Index *ix)
{
	MDB_val k = {6, (void *)(uintptr_t)"chunks"}, v;
	MDB_txn *txn;
	MDB_dbi main_db;
	uintptr_t p = 0, lo, hi;
	char line[512];
	char *base = NULL;
	FILE *f;

	if (mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn))
		return NULL;
	if (mdb_dbi_open(txn, NULL, 0, &main_db) == 0 && mdb_get(txn, main_db, &k, &v) == 0)
		p = (uintptr_t)v.mv_data;
	mdb_txn_abort(txn);
	if (!p || !(f = fopen("/proc/self/maps", "re")))
		return NULL;
	while (!base && fgets(line, sizeof line, f))
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2 && lo <= p && p < hi)
			base = (char *)lo;
	fclose(f);
	return base;
}

/* Drop this process's mapping of the index pages read so far, once the
 * map is over RELEASE_ABOVE (a smaller map is resident whole). Lookups of
 * random chunk IDs touch every leaf page over a long backup, and those
 * file-backed pages count as the process's resident memory, so without
 * this a 10 GiB backup holds ~4x the index pages of a 2 GiB one. The
 * map is read-only and shared (no MDB_WRITEMAP: commits go through
 * pwrite), so MADV_DONTNEED loses nothing: the next touch maps the same
 * page again from the page cache. Advisory; a failure changes nothing. */
static void release_pages(Index *ix)
{
	MDB_envinfo info;
	MDB_stat st;
	size_t used;

	if (!ix->map || mdb_env_info(ix->env, &info) || mdb_env_stat(ix->env, &st))
		return;
	used = ((size_t)info.me_last_pgno + 1) * st.ms_psize;
	if (used > RELEASE_ABOVE)
		(void)madvise(ix->map, used, MADV_DONTNEED);
}

/* Count one random leaf page read through the map (a lookup or an
 * insert); every release_every of them, drop the map's pages. Safe inside
 * a write transaction too: its dirty pages are private copies, and a
 * dropped clean page maps again from the page cache on its next touch. */
static void touched(Index *ix)
{
	unsigned every = atomic_load_explicit(&ix->release_every, memory_order_relaxed);

	if (atomic_fetch_add_explicit(&ix->lookups, 1, memory_order_relaxed) % every == every - 1)
		release_pages(ix);
}

void index_set_lean(Index *ix)
{
	atomic_store_explicit(&ix->release_every, RELEASE_EVERY_LEAN, memory_order_relaxed);
}

static int env_open(Index *ix)
{
	MDB_txn *txn = NULL;
	int rc;

	rc = mdb_env_create(&ix->env);
	if (rc)
		return rc;
	mdb_env_set_maxdbs(ix->env, 8);
	mdb_env_set_mapsize(ix->env, INDEX_MAP_SIZE);
	mdb_env_set_maxreaders(ix->env, 256);
	/* NOSYNC: the index is a cache rebuilt from the repository; entries
	 * are only added for packs already durable there (FORMAT.md). */
	/* NORDAHEAD: LMDB marks the map MADV_RANDOM, so a lookup of a random
	 * chunk ID in an index that is not cached reads one page from disk,
	 * not a readahead window. */
	rc = mdb_env_open(ix->env, ix->dir, MDB_NOTLS | MDB_NOSYNC | MDB_NOMETASYNC | MDB_NORDAHEAD, 0600);
	if (rc)
		goto fail;
	rc = mdb_txn_begin(ix->env, NULL, 0, &txn);
	if (rc)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "chunks", MDB_CREATE, &ix->chunks)) ||
	    (rc = mdb_dbi_open(txn, "packs", MDB_CREATE, &ix->packs)) ||
	    (rc = mdb_dbi_open(txn, "packids", MDB_CREATE, &ix->packids)) ||
	    (rc = mdb_dbi_open(txn, "indexfiles", MDB_CREATE, &ix->indexfiles)) ||
	    (rc = mdb_dbi_open(txn, "unindexed", MDB_CREATE, &ix->unindexed)) ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &ix->meta))) {
		mdb_txn_abort(txn);
		goto fail;
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		goto fail;
	ix->map = find_map(ix);
	return 0;
fail:
	mdb_env_close(ix->env);
	ix->env = NULL;
	return rc;
}

static void remove_env_files(const char *dir)
{
	char p[PATH_MAX + 16];

	snprintf(p, sizeof p, "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/lock.mdb", dir);
	unlink(p);
}

static const char EPOCH_KEY[] = "epoch";

/* A new random epoch, inside txn: called whenever entries may have gone
 * (clear, pack removal), so caches built on the index know to re-check. */
static int new_epoch(Index *ix, MDB_txn *txn)
{
	uint64_t e;
	MDB_val k = {sizeof EPOCH_KEY - 1, (void *)(uintptr_t)EPOCH_KEY}, v = {sizeof e, &e};

	codec_random(&e, sizeof e);
	return mdb_put(txn, ix->meta, &k, &v, 0);
}

uint64_t index_epoch(Index *ix)
{
	MDB_val k = {sizeof EPOCH_KEY - 1, (void *)(uintptr_t)EPOCH_KEY}, v;
	MDB_txn *txn;
	uint64_t e = 0;

	if (mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn) != 0)
		return 0;
	if (mdb_get(txn, ix->meta, &k, &v) == 0 && v.mv_size == sizeof e)
		memcpy(&e, v.mv_data, sizeof e);
	mdb_txn_abort(txn);
	if (e == 0 && mdb_txn_begin(ix->env, NULL, 0, &txn) == 0) {
		if (new_epoch(ix, txn) == 0 && mdb_txn_commit(txn) == 0)
			return index_epoch(ix);
		mdb_txn_abort(txn);
	}
	return e;
}

int index_open(const char *dir, Index **out, StrataErr *err)
{
	Index *ix = calloc(1, sizeof *ix);
	int rc;

	if (!ix)
		return strata_err_set(err, -ENOMEM, "index: out of memory");
	atomic_init(&ix->release_every, RELEASE_EVERY);
	snprintf(ix->dir, sizeof ix->dir, "%s", dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		free(ix);
		return strata_err_set(err, rc, "cannot create index directory %s: %s", dir, strerror(-rc));
	}
	rc = env_open(ix);
	if (rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_VERSION_MISMATCH) {
		remove_env_files(dir);
		rc = env_open(ix);
	}
	if (rc) {
		lmdb_err(err, ix, "open", rc);
		rc = err ? err->code : -EIO;
		free(ix);
		return rc;
	}
	*out = ix;
	return 0;
}

int index_open_cache(const char *cache_dir, Index **out, StrataErr *err)
{
	static const char *const old[] = {INDEX_CACHE_SUBDIR_V1, INDEX_CACHE_SUBDIR_V2};
	char dir[PATH_MAX];

	for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) {
		if ((size_t)snprintf(dir, sizeof dir, "%s/%s", cache_dir, old[i]) >= sizeof dir)
			continue;
		/* Best effort: a leftover costs disk space, never correctness. */
		remove_env_files(dir);
		(void)rmdir(dir);
	}
	if ((size_t)snprintf(dir, sizeof dir, "%s/%s", cache_dir, INDEX_CACHE_SUBDIR) >= sizeof dir)
		return strata_err_set(err, -ENAMETOOLONG, "cache directory %s: path too long", cache_dir);
	return index_open(dir, out, err);
}

void index_close(Index *ix)
{
	if (!ix)
		return;
	if (ix->env) {
		mdb_env_sync(ix->env, 1);
		mdb_env_close(ix->env);
	}
	free(ix);
}

/* A chunk entry's value (FORMAT.md "Local cache"): pack number || type ||
 * offset || length || raw length, and for a member (type byte 4, len
 * MEMBER_VAL_LEN) frame raw length || member raw offset || M. */
static int chunk_val_ok(size_t len)
{
	return len == CHUNK_VAL_LEN || len == MEMBER_VAL_LEN;
}

/* A `packids` key: the pack number big-endian, so that LMDB's byte order
 * is numeric order (MDB_LAST finds the highest number, and numbers
 * allocated in increasing order append, filling the table's pages). */
static void pack_no_key(uint8_t key[PACK_NO_LEN], uint32_t no)
{
	format_put_be32(key, no);
}

/* The ID of pack number no, read in txn: 0, MDB_NOTFOUND (no such number,
 * or a damaged record) or LMDB's error. Every number a chunk entry holds
 * is in `packids` at every commit (the entry, its pack's record and the
 * mapping are only ever removed together), so MDB_NOTFOUND means damage. */
static int pack_id_of(Index *ix, MDB_txn *txn, uint32_t no, uint8_t out[CODEC_ID_LEN])
{
	uint8_t key[PACK_NO_LEN];
	MDB_val k = {sizeof key, key}, v;
	int rc;

	pack_no_key(key, no);
	rc = mdb_get(txn, ix->packids, &k, &v);
	if (rc == 0 && v.mv_size != CODEC_ID_LEN)
		rc = MDB_NOTFOUND;
	if (rc == 0)
		memcpy(out, v.mv_data, CODEC_ID_LEN);
	return rc;
}

/* Decode a chunk value read in txn, its pack number resolved to the ID:
 * 0 and *out, MDB_NOTFOUND (the number has no pack) or LMDB's error. */
static int decode_chunk(Index *ix, MDB_txn *txn, const uint8_t *p, size_t len, IndexEntry *out)
{
	IndexEntry e;
	int rc;

	rc = pack_id_of(ix, txn, format_get_le32(p), e.pack);
	if (rc)
		return rc;
	e.type = p[CV_TYPE];
	e.offset = format_get_le32(p + CV_OFFSET);
	e.length = format_get_le32(p + CV_LENGTH);
	e.raw_len = format_get_le32(p + CV_RAW);
	e.frame_raw = 0;
	e.member_off = 0;
	e.frame_members = 0;
	if (len == MEMBER_VAL_LEN) {
		e.type = BLOB_DATA;
		e.frame_raw = format_get_le32(p + CV_FRAME_RAW);
		e.member_off = format_get_le32(p + CV_MEMBER_OFF);
		e.frame_members = p[CV_MEMBERS];
	}
	*out = e;
	return 0;
}

static void blob_key(uint8_t key[BLOB_KEY_LEN], uint8_t type, const uint8_t id[CODEC_ID_LEN])
{
	memcpy(key, id, CODEC_ID_LEN);
	key[CODEC_ID_LEN] = type;
}

int index_lookup(Index *ix, uint8_t type, const uint8_t id[CODEC_ID_LEN], IndexEntry *out)
{
	uint8_t key[BLOB_KEY_LEN];
	MDB_txn *txn;
	MDB_val k = {sizeof key, key}, v;
	int rc;

	blob_key(key, type, id);
	if (mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn) != 0)
		return -EIO;
	rc = mdb_get(txn, ix->chunks, &k, &v);
	if (rc == 0 && !chunk_val_ok(v.mv_size))
		rc = MDB_NOTFOUND;
	if (rc == 0 && out)
		rc = decode_chunk(ix, txn, v.mv_data, v.mv_size, out);
	if (rc)
		rc = rc == MDB_NOTFOUND ? STRATA_ENOTFOUND : -EIO;
	mdb_txn_abort(txn);
	touched(ix);
	return rc;
}

int index_lookup_any(Index *ix, const uint8_t id[CODEC_ID_LEN], IndexEntry *out)
{
	uint8_t key[BLOB_KEY_LEN];
	MDB_cursor *cur = NULL;
	MDB_txn *txn;
	MDB_val k = {sizeof key, key}, v;
	int rc;

	blob_key(key, 0, id);
	if (mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn) != 0)
		return -EIO;
	rc = mdb_cursor_open(txn, ix->chunks, &cur);
	if (rc == 0)
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && (k.mv_size != BLOB_KEY_LEN || memcmp(k.mv_data, id, CODEC_ID_LEN) != 0 ||
	                !chunk_val_ok(v.mv_size)))
		rc = MDB_NOTFOUND;
	if (rc == 0 && out)
		rc = decode_chunk(ix, txn, v.mv_data, v.mv_size, out);
	if (rc)
		rc = rc == MDB_NOTFOUND ? STRATA_ENOTFOUND : -EIO;
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	touched(ix);
	return rc;
}

/* One write transaction of index_add_pack: entries [0, n), and with
 * them, when pack_val is set, the pack's record (and unindexed mark).
 *
 * Why batches: LMDB copies each page a write transaction changes into
 * memory of its own and keeps those copies for reuse until the
 * environment closes, so the largest transaction sets that memory for
 * the rest of the run. A pack's inserts land on random leaves: in one
 * transaction they dirtied 1,400 pages (5.7 MiB) of a 10 GiB set's index
 * against 2.2 MiB of a 2 GiB set's, the largest part of the 10 GiB
 * backup's extra memory. Batches of INDEX_ADD_BATCH hold it near 1 MiB
 * at any index size. */
static const char FRAMES_KEY[] = "frames";

/* The member entries right after frame entry f, entries ending at end. */
static uint8_t frame_m(const PackEntry *f, const PackEntry *end)
{
	size_t m = 0;

	while (f + 1 + m < end && f[1 + m].type == FORMAT_BLOB_MEMBER)
		m++;
	return m > 255 ? 255 : (uint8_t)m;
}

/* The number of pack in txn: the one its record holds, or, for a pack
 * the index lacks (first), a new one, the highest in `packids` plus one,
 * mapped to the pack's ID there. A number freed by index_remove_pack may
 * come back; its entries went in the same transaction. 0 and *out_no, or
 * MDB_NOTFOUND (not first and the pack has no record: another process
 * cleared the index or removed the pack), or LMDB's error. */
static int pack_number(Index *ix, MDB_txn *txn, const uint8_t pack[CODEC_ID_LEN], int first,
                       uint32_t *out_no)
{
	MDB_val k = {CODEC_ID_LEN, (void *)(uintptr_t)pack}, v;
	uint8_t key[PACK_NO_LEN];
	MDB_cursor *cur;
	uint32_t no = 0;
	int rc;

	rc = mdb_get(txn, ix->packs, &k, &v);
	if (rc == 0 && v.mv_size == PACK_VAL_LEN) {
		*out_no = format_get_le32((const uint8_t *)v.mv_data + PACK_VAL_LEN - PACK_NO_LEN);
		return 0;
	}
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	if (!first)
		return MDB_NOTFOUND;
	rc = mdb_cursor_open(txn, ix->packids, &cur);
	if (rc)
		return rc;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc == 0 && k.mv_size == PACK_NO_LEN) {
		no = format_get_be32(k.mv_data);
		/* 2^32 packs in one index: more than any repository holds
		 * (64 PiB of 16 MiB data packs, FORMAT.md §9); a clear and
		 * rebuild start again from 0. */
		rc = no == UINT32_MAX ? ENOSPC : 0;
		no++;
	} else if (rc == 0) {
		rc = MDB_CORRUPTED;
	} else if (rc == MDB_NOTFOUND) {
		rc = 0;
	}
	mdb_cursor_close(cur);
	if (rc)
		return rc;
	pack_no_key(key, no);
	k.mv_size = sizeof key;
	k.mv_data = key;
	v.mv_size = CODEC_ID_LEN;
	v.mv_data = (void *)(uintptr_t)pack;
	rc = mdb_put(txn, ix->packids, &k, &v, MDB_APPEND);
	if (rc == 0)
		*out_no = no;
	return rc;
}

/* entries[from, to) of a pack's entries[0, n): a member entry's frame is
 * the nearest frame entry before it, perhaps in an earlier batch. The
 * first batch (pack_val set) writes the pack's record, number and
 * unindexed mark; a later one finds the number in the record and returns
 * 1, adding nothing, when the record is gone (another process cleared
 * the index or removed the pack since the first batch): an entry must
 * never hold a number that is not its pack's (FORMAT.md §16). */
static int add_batch(Index *ix, const uint8_t pack[CODEC_ID_LEN], const PackEntry *entries, size_t n,
                     size_t from, size_t to, const uint8_t *pack_val, int unindexed, StrataErr *err)
{
	uint8_t cv[MEMBER_VAL_LEN], key[BLOB_KEY_LEN], pv[PACK_VAL_LEN];
	const PackEntry *frame = NULL;
	int members = 0;
	uint32_t no;
	MDB_val k, v;
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(ix->env, NULL, 0, &txn);
	if (rc)
		return lmdb_err(err, ix, "begin", rc);
	rc = pack_number(ix, txn, pack, pack_val != NULL, &no);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return 1;
	}
	if (rc)
		goto fail;
	if (pack_val) {
		memcpy(pv, pack_val, PACK_VAL_LEN - PACK_NO_LEN);
		format_put_le32(pv + PACK_VAL_LEN - PACK_NO_LEN, no);
		k.mv_size = CODEC_ID_LEN;
		k.mv_data = (void *)(uintptr_t)pack;
		v.mv_size = PACK_VAL_LEN;
		v.mv_data = pv;
		rc = mdb_put(txn, ix->packs, &k, &v, 0);
		if (rc)
			goto fail;
		if (unindexed) {
			v.mv_size = 0;
			rc = mdb_put(txn, ix->unindexed, &k, &v, 0);
			if (rc)
				goto fail;
		}
	}
	for (size_t i = from; i-- > 0 && !frame;)
		if (entries[i].type == FORMAT_BLOB_FRAME)
			frame = &entries[i];
	for (size_t i = from; i < to; i++) {
		const PackEntry *e = &entries[i];
		format_put_le32(cv, no);
		cv[CV_TYPE] = e->type;
		format_put_le32(cv + CV_OFFSET, e->offset);
		format_put_le32(cv + CV_LENGTH, e->length);
		format_put_le32(cv + CV_RAW, e->raw_len);
		v.mv_size = CHUNK_VAL_LEN;
		if (e->type == FORMAT_BLOB_FRAME) {
			frame = e;   /* no entry of its own: it holds no ID (§9a) */
			continue;
		}
		if (e->type == FORMAT_BLOB_MEMBER) {
			if (!frame) {
				/* pack_trailer_parse_frames and indexfile_decode_frames
				 * never give one: a caller's bug, not damage. */
				rc = EINVAL;
				goto fail;
			}
			format_put_le32(cv + CV_OFFSET, frame->offset);
			format_put_le32(cv + CV_LENGTH, frame->length);
			format_put_le32(cv + CV_FRAME_RAW, frame->raw_len);
			format_put_le32(cv + CV_MEMBER_OFF, e->offset);
			cv[CV_MEMBERS] = frame_m(frame, entries + n);
			v.mv_size = MEMBER_VAL_LEN;
			members = 1;
		}
		blob_key(key, e->type == FORMAT_BLOB_MEMBER ? BLOB_DATA : e->type, e->id);
		k.mv_size = sizeof key;
		k.mv_data = key;
		v.mv_data = cv;
		rc = mdb_put(txn, ix->chunks, &k, &v, MDB_NOOVERWRITE);
		if (rc && rc != MDB_KEYEXIST)
			goto fail;
		/* Each insert reads a random leaf through the map, like a lookup:
		 * a pack's ~500 inserts would otherwise map the whole index. */
		touched(ix);
	}
	if (members) {
		MDB_val fk = {sizeof FRAMES_KEY - 1, (void *)(uintptr_t)FRAMES_KEY}, fv = {0, cv};
		rc = mdb_put(txn, ix->meta, &fk, &fv, 0);
		if (rc)
			goto fail;
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		return lmdb_err(err, ix, "commit", rc);
	return 0;
fail:
	mdb_txn_abort(txn);
	return lmdb_err(err, ix, "write", rc);
}

int index_add_pack(Index *ix, const uint8_t pack[CODEC_ID_LEN], uint8_t kind, uint64_t size,
                   const PackEntry *entries, size_t n, int unindexed, StrataErr *err)
{
	uint8_t pv[PACK_VAL_LEN] = {0};   /* add_batch fills in the number */
	size_t done = 0;
	int rc;

	pv[0] = kind;
	format_put_le32(pv + 1, (uint32_t)n);
	format_put_le64(pv + 5, size);
	/* The pack first: an unindexed pack is marked before any of its IDs
	 * can be found. When another process clears the index (or removes
	 * the pack) between two batches, the rest is not added: the pack has
	 * no record, so the covering index file is not noted as ingested and
	 * the next sync ingests it again (FORMAT.md section 16). */
	do {
		size_t m = n - done < INDEX_ADD_BATCH ? n - done : INDEX_ADD_BATCH;

		rc = add_batch(ix, pack, entries, n, done, done + m, done == 0 ? pv : NULL, unindexed, err);
		if (rc < 0)
			return rc;
		if (rc > 0)
			break;
		done += m;
	} while (done < n);
	release_pages(ix);
	return 0;
}

int index_note_indexfile(Index *ix, const uint8_t file_id[CODEC_ID_LEN],
                         const uint8_t (*packs)[CODEC_ID_LEN], size_t n, StrataErr *err)
{
	MDB_val k = {CODEC_ID_LEN, (void *)(uintptr_t)file_id}, v = {0, (void *)(uintptr_t)file_id};
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(ix->env, NULL, 0, &txn);
	if (rc)
		return lmdb_err(err, ix, "begin", rc);
	/* Another process sharing this cache may have rebuilt the index (a
	 * clear) since the packs were added: then their entries are gone, and
	 * the file must stay unnoted so that the next sync ingests it. */
	for (size_t i = 0; i < n; i++) {
		MDB_val pk = {CODEC_ID_LEN, (void *)(uintptr_t)packs[i]}, pv;
		rc = mdb_get(txn, ix->packs, &pk, &pv);
		if (rc == MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			return 0;
		}
		if (rc)
			goto fail;
	}
	rc = mdb_put(txn, ix->indexfiles, &k, &v, 0);
	if (rc)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		MDB_val pk = {CODEC_ID_LEN, (void *)(uintptr_t)packs[i]};
		rc = mdb_del(txn, ix->unindexed, &pk, NULL);
		if (rc && rc != MDB_NOTFOUND)
			goto fail;
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		return lmdb_err(err, ix, "commit", rc);
	return 0;
fail:
	mdb_txn_abort(txn);
	return lmdb_err(err, ix, "write", rc);
}

/* Does table dbi hold key[0, len)? 0 also when it cannot be read. */
static int has_key(Index *ix, MDB_dbi dbi, const void *key, size_t len)
{
	MDB_val k = {len, (void *)(uintptr_t)key}, v;
	MDB_txn *txn;
	int rc;

	if (mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn) != 0)
		return 0;
	rc = mdb_get(txn, dbi, &k, &v);
	mdb_txn_abort(txn);
	return rc == 0;
}

int index_has_indexfile(Index *ix, const uint8_t file_id[CODEC_ID_LEN])
{
	return has_key(ix, ix->indexfiles, file_id, CODEC_ID_LEN);
}

static int list_keys(Index *ix, MDB_dbi dbi, uint8_t (**out)[CODEC_ID_LEN], size_t *out_n,
                     StrataErr *err)
{
	uint8_t (*ids)[CODEC_ID_LEN] = NULL;
	size_t n = 0, cap = 0;
	MDB_cursor *cur = NULL;
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return lmdb_err(err, ix, "begin", rc);
	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc)
		goto fail;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != CODEC_ID_LEN)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			void *p = realloc(ids, cap * sizeof *ids);
			if (!p) {
				rc = ENOMEM;
				goto fail;
			}
			ids = p;
		}
		memcpy(ids[n++], k.mv_data, CODEC_ID_LEN);
	}
	if (rc != MDB_NOTFOUND)
		goto fail;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	*out = ids;
	*out_n = n;
	return 0;
fail:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	free(ids);
	return lmdb_err(err, ix, "read", rc);
}

int index_list_indexfiles(Index *ix, uint8_t (**out)[CODEC_ID_LEN], size_t *out_n, StrataErr *err)
{
	return list_keys(ix, ix->indexfiles, out, out_n, err);
}

int index_list_unindexed(Index *ix, uint8_t (**out)[CODEC_ID_LEN], size_t *out_n, StrataErr *err)
{
	return list_keys(ix, ix->unindexed, out, out_n, err);
}

static void decode_pack(const MDB_val *v, IndexPackInfo *out)
{
	const uint8_t *p = v->mv_data;

	out->kind = p[0];
	out->count = format_get_le32(p + 1);
	out->size = format_get_le64(p + 5);
}

int index_pack_info(Index *ix, const uint8_t pack[CODEC_ID_LEN], IndexPackInfo *out)
{
	MDB_val k = {CODEC_ID_LEN, (void *)(uintptr_t)pack}, v;
	MDB_txn *txn;
	int rc;

	if (mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn) != 0)
		return -EIO;
	rc = mdb_get(txn, ix->packs, &k, &v);
	if (rc == 0 && v.mv_size == PACK_VAL_LEN)
		decode_pack(&v, out);
	else
		rc = STRATA_ENOTFOUND;
	mdb_txn_abort(txn);
	return rc;
}

int index_remove_pack(Index *ix, const uint8_t pack[CODEC_ID_LEN], StrataErr *err)
{
	MDB_val pk = {CODEC_ID_LEN, (void *)(uintptr_t)pack}, k, v;
	uint8_t nokey[PACK_NO_LEN];
	MDB_cursor *cur = NULL;
	MDB_txn *txn;
	uint32_t no;
	int rc;

	rc = mdb_txn_begin(ix->env, NULL, 0, &txn);
	if (rc)
		return lmdb_err(err, ix, "begin", rc);
	/* No record, no number: then no entry names the pack (an entry, its
	 * pack's record and number go away together). */
	rc = mdb_get(txn, ix->packs, &pk, &v);
	if (rc && rc != MDB_NOTFOUND)
		goto fail;
	if (rc == 0 && v.mv_size == PACK_VAL_LEN) {
		no = format_get_le32((const uint8_t *)v.mv_data + PACK_VAL_LEN - PACK_NO_LEN);
		rc = mdb_cursor_open(txn, ix->chunks, &cur);
		if (rc)
			goto fail;
		/* A full scan: pack removal happens in prune and repair only. */
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (chunk_val_ok(v.mv_size) && format_get_le32(v.mv_data) == no) {
				rc = mdb_cursor_del(cur, 0);
				if (rc)
					goto fail;
			}
		}
		if (rc != MDB_NOTFOUND)
			goto fail;
		mdb_cursor_close(cur);
		cur = NULL;
		pack_no_key(nokey, no);
		k.mv_size = sizeof nokey;
		k.mv_data = nokey;
		rc = mdb_del(txn, ix->packids, &k, NULL);
		if (rc && rc != MDB_NOTFOUND)
			goto fail;
	}
	rc = mdb_del(txn, ix->packs, &pk, NULL);
	if (rc && rc != MDB_NOTFOUND)
		goto fail;
	rc = mdb_del(txn, ix->unindexed, &pk, NULL);
	if (rc && rc != MDB_NOTFOUND)
		goto fail;
	rc = new_epoch(ix, txn);
	if (rc)
		goto fail;
	rc = mdb_txn_commit(txn);
	if (rc)
		return lmdb_err(err, ix, "commit", rc);
	return 0;
fail:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return lmdb_err(err, ix, "write", rc);
}

/* Visit every well-sized entry of a table in key order inside one read
 * transaction (txn, for reads of other tables); visit returning non-zero
 * stops the walk and is returned. */
typedef int (*TableVisitFn)(Index *ix, MDB_txn *txn, const MDB_val *k, const MDB_val *v, void *ctx);

static int walk_table(Index *ix, MDB_dbi dbi, size_t key_len, int (*val_ok)(size_t), TableVisitFn visit,
                      void *ctx, StrataErr *err)
{
	MDB_cursor *cur = NULL;
	MDB_txn *txn;
	MDB_val k, v;
	int rc, stop = 0;

	rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return lmdb_err(err, ix, "begin", rc);
	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc)
		goto out;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !stop;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if (k.mv_size == key_len && val_ok(v.mv_size))
			stop = visit(ix, txn, &k, &v, ctx);
	if (rc == MDB_NOTFOUND || stop)
		rc = 0;
out:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc)
		return lmdb_err(err, ix, "read", rc);
	return stop;
}

struct pack_visit { IndexPackFn fn; void *ctx; };

static int pack_val_ok(size_t len)
{
	return len == PACK_VAL_LEN;
}

static int visit_pack(Index *ix, MDB_txn *txn, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct pack_visit *pv = ctx;
	IndexPackInfo info;

	decode_pack(v, &info);
	return pv->fn(k->mv_data, &info, pv->ctx);
}

int index_foreach_pack(Index *ix, IndexPackFn fn, void *ctx, StrataErr *err)
{
	struct pack_visit pv = {fn, ctx};

	return walk_table(ix, ix->packs, CODEC_ID_LEN, pack_val_ok, visit_pack, &pv, err);
}

struct chunk_visit { IndexChunkFn fn; void *ctx; int rc; };

/* An entry whose number has no pack (damage) is skipped, like a value of
 * the wrong length; an LMDB error stops the walk. */
static int visit_chunk(Index *ix, MDB_txn *txn, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct chunk_visit *cv = ctx;
	IndexEntry e;
	int rc;

	rc = decode_chunk(ix, txn, v->mv_data, v->mv_size, &e);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc) {
		cv->rc = rc;
		return 1;
	}
	return cv->fn(k->mv_data, &e, cv->ctx);
}

int index_foreach_chunk(Index *ix, IndexChunkFn fn, void *ctx, StrataErr *err)
{
	struct chunk_visit cv = {fn, ctx, 0};
	int rc = walk_table(ix, ix->chunks, BLOB_KEY_LEN, chunk_val_ok, visit_chunk, &cv, err);

	if (cv.rc)
		return lmdb_err(err, ix, "read", cv.rc);
	return rc;
}

int index_has_frames(Index *ix)
{
	return has_key(ix, ix->meta, FRAMES_KEY, sizeof FRAMES_KEY - 1);
}

static int drop_frames_mark(Index *ix, MDB_txn *txn)
{
	MDB_val k = {sizeof FRAMES_KEY - 1, (void *)(uintptr_t)FRAMES_KEY};
	int rc = mdb_del(txn, ix->meta, &k, NULL);

	return rc == MDB_NOTFOUND ? 0 : rc;
}

int index_clear(Index *ix, StrataErr *err)
{
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(ix->env, NULL, 0, &txn);
	if (rc)
		return lmdb_err(err, ix, "begin", rc);
	if ((rc = mdb_drop(txn, ix->chunks, 0)) || (rc = mdb_drop(txn, ix->packs, 0)) ||
	    (rc = mdb_drop(txn, ix->packids, 0)) ||
	    (rc = mdb_drop(txn, ix->indexfiles, 0)) || (rc = mdb_drop(txn, ix->unindexed, 0)) ||
	    (rc = drop_frames_mark(ix, txn)) || (rc = new_epoch(ix, txn))) {
		mdb_txn_abort(txn);
		return lmdb_err(err, ix, "clear", rc);
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		return lmdb_err(err, ix, "commit", rc);
	return 0;
}

uint64_t index_count(Index *ix)
{
	MDB_txn *txn;
	MDB_stat st;
	uint64_t n = 0;

	if (mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn) != 0)
		return 0;
	if (mdb_stat(txn, ix->chunks, &st) == 0)
		n = st.ms_entries;
	mdb_txn_abort(txn);
	return n;
}

/* ---- IndexSet (see index.h): prune's marks ---- */

/* Commit the set's write transaction after this many additions, which
 * bounds the pages one transaction touches. */
#define SET_BATCH 65536
/* With MDB_WRITEMAP LMDB sizes the file to the map at once (sparse): 64 GiB
 * holds some hundreds of millions of IDs. */
#define SET_MAP_SIZE ((size_t)64 << 30)

struct IndexSet {
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn;              /* the open write transaction, or NULL */
	size_t batch;
	uint64_t count;
	char dir[PATH_MAX];
};

static int set_txn(IndexSet *s)
{
	int rc;

	if (s->txn && s->batch < SET_BATCH)
		return 0;
	if (s->txn) {
		rc = mdb_txn_commit(s->txn);
		s->txn = NULL;
		if (rc)
			return rc;
	}
	s->batch = 0;
	return mdb_txn_begin(s->env, NULL, 0, &s->txn);
}

void index_set_free(IndexSet *s)
{
	if (!s)
		return;
	if (s->txn)
		mdb_txn_abort(s->txn);
	if (s->env)
		mdb_env_close(s->env);
	remove_env_files(s->dir);
	rmdir(s->dir);
	free(s);
}

int index_set_open(const char *dir, IndexSet **out, StrataErr *err)
{
	IndexSet *s = calloc(1, sizeof *s);
	int rc;

	if (!s)
		return strata_err_set(err, -ENOMEM, "out of memory");
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		free(s);
		return strata_err_set(err, rc, "cannot create scratch directory %s: %s", dir, strerror(-rc));
	}
	remove_env_files(dir);
	rc = mdb_env_create(&s->env);
	if (rc == 0) {
		mdb_env_set_mapsize(s->env, SET_MAP_SIZE);
		/* Scratch data: never synced; the set dies with the process.
		 * WRITEMAP: a transaction's dirty pages live in the (file-backed,
		 * reclaimable) map instead of malloc'ed copies, so the process's
		 * own memory does not grow with the set. */
		rc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP |
		                  MDB_MAPASYNC, 0600);
	}
	if (rc == 0)
		rc = set_txn(s);
	if (rc == 0)
		rc = mdb_dbi_open(s->txn, NULL, 0, &s->dbi);
	if (rc) {
		strata_err_set(err, rc > 0 ? -rc : -EIO, "scratch set %s: %s", dir, mdb_strerror(rc));
		index_set_free(s);
		return err ? err->code : -EIO;
	}
	*out = s;
	return 0;
}

int index_set_add(IndexSet *s, uint8_t type, const uint8_t id[CODEC_ID_LEN], StrataErr *err)
{
	uint8_t key[BLOB_KEY_LEN];
	MDB_val k = {sizeof key, key}, v = {0, key};
	int rc;

	blob_key(key, type, id);
	rc = set_txn(s);
	if (rc == 0)
		rc = mdb_put(s->txn, s->dbi, &k, &v, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST)
		return 0;
	if (rc)
		return strata_err_set(err, rc > 0 ? -rc : -EIO, "scratch set %s: %s (is the cache disk full?)",
		                      s->dir, mdb_strerror(rc));
	s->batch++;
	s->count++;
	return 1;
}

int index_set_has(IndexSet *s, uint8_t type, const uint8_t id[CODEC_ID_LEN])
{
	uint8_t key[BLOB_KEY_LEN];
	MDB_val k = {sizeof key, key}, v;

	blob_key(key, type, id);
	if (set_txn(s) != 0)
		return 0;
	return mdb_get(s->txn, s->dbi, &k, &v) == 0;
}

uint64_t index_set_count(IndexSet *s)
{
	return s->count;
}
