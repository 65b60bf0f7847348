/* index.h — the local chunk index: (blob type, chunk ID) → where that blob
 * is stored.
 *
 * Owns: the LMDB environment in the repository's cache directory
 * (FORMAT.md "Local cache"): chunk entries, the packs they live in (an
 * entry names its pack by a 4-byte number local to this index, mapped to
 * the pack's ID in the same environment), which stored index files have
 * been ingested, and packs this machine wrote whose index file is not yet
 * durable. The only module that includes <lmdb.h>.
 *
 * The index is a cache: everything in it can be rebuilt from the stored
 * index files (and those from pack trailers). Memory is bounded by LMDB's
 * page cache, not by the number of chunks.
 *
 * A blob is known by its type and chunk ID together, never by the ID
 * alone: a data chunk whose bytes equal a tree object's has the tree's ID,
 * and both blobs must be stored (FORMAT.md "Index file", "Local cache").
 *
 * Thread safety: lookups from any number of threads; writes serialize
 * inside LMDB (one write transaction at a time).
 */
#ifndef STRATA_STORE_INDEX_H
#define STRATA_STORE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/pack.h"

typedef struct Index Index;

/* A blob's place, or a frame member's (FORMAT.md §9a, §16): for a member
 * (frame_raw != 0) type is BLOB_DATA, offset and length are the frame's
 * in the pack, raw_len the chunk's RAW_LENGTH, and member_off where the
 * chunk starts in the frame's plaintext of frame_raw bytes, frame_members
 * the frame's M. A blob has frame_raw, member_off and frame_members 0.
 * pack is the pack's full ID: the index stores a pack number and resolves
 * it in the lookup's own read transaction, so a concurrent removal or
 * rebuild never pairs an entry with another pack's ID. */
typedef struct IndexEntry {
	uint8_t  pack[CODEC_ID_LEN];
	uint8_t  type;
	uint32_t offset;
	uint32_t length;
	uint32_t raw_len;
	uint32_t frame_raw;
	uint32_t member_off;
	uint8_t  frame_members;
} IndexEntry;

typedef struct IndexPackInfo {
	uint8_t  kind;        /* PACK_KIND_DATA or PACK_KIND_TREE */
	uint32_t count;       /* entries */
	uint64_t size;        /* bytes of the pack file */
} IndexPackInfo;

/* index_open — open (creating) the LMDB environment in dir. A damaged
 * environment is deleted and recreated empty (it is only a cache). */
int index_open(const char *dir, Index **out, StrataErr *err);
void index_close(Index *ix);

/* index_open_cache — index_open of the index directory under a
 * repository's cache directory: "index3" (FORMAT.md "Local cache"). The
 * directories of earlier layouts beside it are deleted, each a directory
 * of its own so that an older strata sharing the cache (a downgrade, two
 * versions on one host) rebuilds its own index instead of misreading
 * this one:
 *   "index"  (before 2026-12-07) keyed by chunk ID alone: its entries
 *            cannot tell a data blob from a tree blob of the same ID;
 *   "index2" (until 2026-12-08) values naming the pack by its 32-byte ID,
 *            where "index3" holds a 4-byte pack number (issue 34).
 * A new, empty index is filled from the stored index files by the caller's
 * sync, and its new epoch drops the files cache, so the next backup reads
 * every file again (after the "index" upgrade, that also stores what the
 * old layout had deduplicated away). */
#define INDEX_CACHE_SUBDIR "index3"
#define INDEX_CACHE_SUBDIR_V1 "index"
#define INDEX_CACHE_SUBDIR_V2 "index2"
int index_open_cache(const char *cache_dir, Index **out, StrataErr *err);

/* index_set_lean — hold half as many of the map's pages between releases
 * (~8 MiB instead of ~16 once the map passes 16 MiB; store/index.c
 * "RELEASE_EVERY"), for more page faults. For a backup, whose peak memory
 * has them; from then on, for every user of ix. */
void index_set_lean(Index *ix);

/* index_lookup — the blob of type (enum BlobType) and id: 0 and *out (may
 * be NULL), or STRATA_ENOTFOUND (a blob of another type with this ID does
 * not count), or -EIO. */
int index_lookup(Index *ix, uint8_t type, const uint8_t id[CODEC_ID_LEN], IndexEntry *out);

/* index_lookup_any — a blob of id of any type (the lowest type held; its
 * type in out->type): 0 and *out (may be NULL), STRATA_ENOTFOUND or -EIO.
 * For diagnosis and repair of a blob stored under another type only
 * (repositories written before blobs were known by type, FORMAT.md
 * "Index file"); readers and writers use index_lookup. */
int index_lookup_any(Index *ix, const uint8_t id[CODEC_ID_LEN], IndexEntry *out);

/* index_add_pack — record a durable pack and its entries (a trailer's or
 * an index file's: frame entries are not blobs and get none of their own,
 * each member entry becomes a data blob's entry naming its frame, which
 * is the nearest frame entry before it in entries[]); unindexed=1
 * also notes that no stored index file covers it yet. An ID already
 * present with the same type keeps its first location. The pack (its
 * number, taken in that transaction, or kept when the pack is already
 * present, and its unindexed mark) commits with the first INDEX_ADD_BATCH
 * entries, the rest in further transactions of that many: an interrupted
 * call leaves a pack whose entries are partly indexed, which only costs
 * deduplication until the index file that covers it is ingested again or,
 * for an unindexed pack, until indexfile_sync re-adds them from the pack's
 * trailer. When another process clears the index or removes the pack
 * between two batches, the remaining batches are dropped (returns 0): the
 * pack has no record then, so index_note_indexfile notes nothing and the
 * next sync ingests the covering file again. */
#define INDEX_ADD_BATCH 256u
int index_add_pack(Index *ix, const uint8_t pack[CODEC_ID_LEN], uint8_t kind, uint64_t size,
                   const PackEntry *entries, size_t n, int unindexed, StrataErr *err);

/* index_note_indexfile — record that stored index file file_id, covering
 * packs[0..n), is durable and ingested: the packs leave the unindexed set.
 * When one of the packs is no longer in the index (a concurrent rebuild by
 * another process cleared it), nothing is recorded, so that the next sync
 * ingests the file: "ingested" always implies its entries are present. */
int index_note_indexfile(Index *ix, const uint8_t file_id[CODEC_ID_LEN],
                         const uint8_t (*packs)[CODEC_ID_LEN], size_t n, StrataErr *err);

/* index_has_indexfile — 1 if file_id was ingested, 0 if not. */
int index_has_indexfile(Index *ix, const uint8_t file_id[CODEC_ID_LEN]);

/* index_list_indexfiles / index_list_unindexed — IDs; *out malloc'ed. */
int index_list_indexfiles(Index *ix, uint8_t (**out)[CODEC_ID_LEN], size_t *out_n, StrataErr *err);
int index_list_unindexed(Index *ix, uint8_t (**out)[CODEC_ID_LEN], size_t *out_n, StrataErr *err);

/* index_pack_info — 0 and *out, or STRATA_ENOTFOUND. */
int index_pack_info(Index *ix, const uint8_t pack[CODEC_ID_LEN], IndexPackInfo *out);

/* index_remove_pack — drop a pack, the entries that point into it and
 * its number, in one transaction (the number may be given to a later
 * pack). */
int index_remove_pack(Index *ix, const uint8_t pack[CODEC_ID_LEN], StrataErr *err);

/* index_foreach_pack — call fn for every pack; non-zero stops. */
typedef int (*IndexPackFn)(const uint8_t pack[CODEC_ID_LEN], const IndexPackInfo *info, void *ctx);
int index_foreach_pack(Index *ix, IndexPackFn fn, void *ctx, StrataErr *err);

/* index_foreach_chunk — call fn for every blob entry (its type in e->type),
 * in ID order; non-zero stops. */
typedef int (*IndexChunkFn)(const uint8_t id[CODEC_ID_LEN], const IndexEntry *e, void *ctx);
int index_foreach_chunk(Index *ix, IndexChunkFn fn, void *ctx, StrataErr *err);

/* index_has_frames — 1 when a member entry (FORMAT.md §9a) was added
 * since the index was created or last cleared, else 0 (a format 1 or 2
 * repository's index never has one; the tests check it). */
int index_has_frames(Index *ix);

/* index_clear — empty every table (before a rebuild). */
int index_clear(Index *ix, StrataErr *err);

/* index_epoch — a random value that changes whenever entries may have
 * been removed (clear, pack removal). Caches holding chunk IDs (the files
 * cache) compare it to know whether their IDs may be stale. */
uint64_t index_epoch(Index *ix);

/* index_count — number of chunk entries. */
uint64_t index_count(Index *ix);

/* ---- IndexSet: a temporary on-disk set of blobs, (type, ID) (prune's marks) ----
 *
 * Added for prune (store/prune/prune.c): the set of chunks reachable from the
 * snapshots, which must not live in RAM on a repository of millions of
 * chunks. An LMDB environment of its own in a scratch directory, deleted
 * by index_set_free. One thread at a time.
 */
typedef struct IndexSet IndexSet;

/* index_set_open — a new, empty set in directory dir (created; an old
 * environment there is discarded). */
int index_set_open(const char *dir, IndexSet **out, StrataErr *err);

/* index_set_add — add the blob (type, id). Returns 1 if it was not in the
 * set, 0 if it was, or a negative error (message in err). */
int index_set_add(IndexSet *s, uint8_t type, const uint8_t id[CODEC_ID_LEN], StrataErr *err);

/* index_set_has — 1 if (type, id) is in the set, 0 if not (or on a read
 * error, which the next index_set_add reports). */
int index_set_has(IndexSet *s, uint8_t type, const uint8_t id[CODEC_ID_LEN]);

/* index_set_count — members so far. */
uint64_t index_set_count(IndexSet *s);

/* index_set_free — close and delete the environment and dir. Accepts NULL. */
void index_set_free(IndexSet *s);

#endif
