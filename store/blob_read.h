/* blob_read.h — a whole-pack cache for tree blobs read from a slow backend.
 *
 * Owns: while a Repo has one attached (repo->tree_packs), blob_read and
 * blob_read_at serve tree and tree-part blobs from whole tree packs held
 * in memory: the first blob wanted from a pack fetches the whole pack in
 * one GET, later ones are sliced out of it. Walking a snapshot from S3
 * otherwise costs a request, and a round trip, per directory (restic
 * caches whole tree packs for the same reason). Data blobs never go
 * through it. Every blob is still authenticated and its keyed hash
 * re-checked (codec_blob_open); the cache only changes where bytes come
 * from.
 *
 * Memory: at most max_bytes of packs (least recently used dropped first;
 * a pack larger than the bound is not kept, its blobs are read as ranges).
 *
 * Thread safety: any number of readers; a pack is fetched once even when
 * several threads miss it together (the others wait for it). Attach
 * before the threads start, detach after they stop.
 */
#ifndef STRATA_STORE_BLOB_READ_H
#define STRATA_STORE_BLOB_READ_H

#include <stddef.h>
#include <stdint.h>

#include "store/repo.h"

typedef struct TreePackCache TreePackCache;

/* blob_read_tree_cache_attach — give repo a cache of at most max_bytes.
 * -ENOMEM; -EBUSY if one is attached already. */
int blob_read_tree_cache_attach(Repo *repo, size_t max_bytes);

/* blob_read_tree_cache_detach — drop the cache (no-op without one); *out_gets,
 * when not NULL, receives the whole-pack GETs it made. */
void blob_read_tree_cache_detach(Repo *repo, uint64_t *out_gets);

#endif
