/* mount_cache.h — the decoded trees and data chunks `strata mount` keeps.
 *
 * Owns: two small LRU caches over one repository: decoded trees (a few
 * directory levels of several snapshots browsed side by side) and decoded
 * data chunks (so that reads of a file at nearby offsets fetch each chunk
 * once). A miss reads through the store (tree_load, blob_read) and warns
 * on stderr naming the object and the path.
 *
 * Never: resolves paths or knows the mount's layout (mount_layout.h).
 * Thread safety: none; the FUSE loop is single-threaded (mount_fuse.h).
 */
#ifndef STRATA_TOOLS_MOUNT_CACHE_H
#define STRATA_TOOLS_MOUNT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store/blob.h"
#include "store/codec.h"
#include "store/repo.h"
#include "store/tree.h"

/* Decoded trees kept: enough for a few directory levels of several
 * snapshots being browsed side by side. */
#define MOUNT_TREE_CACHE_N 64
/* Decoded chunks kept: two readers' sequential streams plus the chunks
 * random reads bounce between (a chunk is at most the repository's
 * chunk_max, 8 MiB by default: 64 MiB at worst). */
#define MOUNT_CHUNK_CACHE_N 8

typedef struct MountTreeSlot {
	uint8_t id[STRATA_ID_LEN];
	Tree tree;
	uint64_t used;            /* LRU clock; 0 = empty */
} MountTreeSlot;

typedef struct MountChunkSlot {
	uint8_t id[STRATA_ID_LEN];
	uint8_t *data;
	size_t len;
	uint64_t used;
} MountChunkSlot;

/* A plain value: zero it, set repo and codec (borrowed, they must outlive
 * the cache), use, then mount_cache_free. */
typedef struct MountCache {
	Repo *repo;
	CodecCtx *codec;
	uint64_t clock;
	MountTreeSlot trees[MOUNT_TREE_CACHE_N];
	MountChunkSlot chunks[MOUNT_CHUNK_CACHE_N];
} MountCache;

/* mount_cache_tree — the decoded tree id. *out stays valid until the next
 * mount_cache_tree (which may evict it). Errors (warned on stderr, for
 * the FUSE caller): -ENOMEM, -EIO for anything else. */
int mount_cache_tree(MountCache *c, const uint8_t id[STRATA_ID_LEN], const Tree **out);

/* mount_cache_chunk — the decoded data chunk id, which must hold want_len
 * bytes (its length in the file's tree); path names the file in warnings.
 * *out_data (want_len bytes) stays valid until the next mount_cache_chunk.
 * Errors (warned): -ENOMEM, -EIO (unreadable, or another length). */
int mount_cache_chunk(MountCache *c, const uint8_t id[STRATA_ID_LEN], uint32_t want_len,
                      const char *path, const uint8_t **out_data);

/* mount_cache_free — drop every cached tree and chunk. */
void mount_cache_free(MountCache *c);

#endif
