/* blob.h — storing and fetching blobs by chunk ID, through packs and the
 * index.
 *
 * Owns: BlobWriter, the deduplicating writer that seals new blobs into
 * packs (data and tree blobs in separate packs), stores each pack durably,
 * records it in the LMDB index only after that, and writes a stored index
 * file covering the packs of the session; and blob_read, which finds a
 * blob through the index, fetches exactly its bytes and authenticates it.
 *
 * Invariant kept here (FORMAT.md "Write ordering"): an ID enters the LMDB
 * index only after its pack is durable; until then it is "pending" in the
 * writer, which is how concurrent workers avoid storing a chunk twice.
 *
 * Thread safety: blobwriter_put and blob_read may be called from many
 * threads (each with its own CodecCtx); new/finish/free from one.
 */
#ifndef STRATA_STORE_BLOB_H
#define STRATA_STORE_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "store/codec.h"
#include "store/error.h"
#include "store/index.h"
#include "store/pack.h"
#include "store/repo.h"

typedef struct BlobWriter BlobWriter;

typedef struct BlobWriterStats {
	uint64_t chunks_new;
	uint64_t bytes_new;        /* raw bytes of new blobs */
	uint64_t bytes_stored;     /* sealed bytes of new data blobs */
	uint64_t tree_bytes_stored;/* sealed bytes of new tree blobs */
	uint64_t packs_written;
} BlobWriterStats;

/* blobwriter_new — zlevel: zstd level for data blobs (tree blobs always
 * use a higher level; they are small and read often). */
int blobwriter_new(Repo *repo, int zlevel, BlobWriter **out, StrataErr *err);

/* blobwriter_put — store data as the blob (type, id) (the caller computed
 * id with codec_chunk_id) unless the repository already has that blob: a
 * blob of another type with the same ID does not count (FORMAT.md "Index
 * file"). *out_added (may be NULL) is 1 when this call stored it. */
int blobwriter_put(BlobWriter *bw, CodecCtx *ctx, uint8_t type, const uint8_t id[CODEC_ID_LEN],
                   const void *data, size_t len, int *out_added, StrataErr *err);

/* blobwriter_put_frame — store the data chunks ids[i] (data[i], lens[i]
 * bytes; m <= FRAME_WRITE_MEMBERS, consecutive chunks of one stream, the
 * caller keeps them within FRAME_WRITE_RAW) of a format 3 repository:
 * those the repository has neither stored nor pending, in order, as one
 * frame (FORMAT.md 9a), or as a blob when only one is new; none when
 * none is. Each member is deduplicated, indexed and pending as its own
 * data blob (in rewrite mode against pending chunks only, as
 * blobwriter_put). */
int blobwriter_put_frame(BlobWriter *bw, CodecCtx *ctx, const uint8_t (*ids)[CODEC_ID_LEN],
                         const uint8_t *const *data, const uint32_t *lens, size_t m, StrataErr *err);

/* blobwriter_set_rewrite — on != 0: blobwriter_put stores every blob even
 * when the index already holds it (prune repacks live blobs out of mostly
 * unused packs). A pending blob is still stored once; the caller puts
 * each (type, ID) once per writer. on_pack (may be NULL) is called, under
 * the writer's lock, with the ID and kind of every pack once it is durable, so
 * that the caller knows exactly which packs hold its copies. Call before
 * the first put. */
typedef void (*BlobWriterPackFn)(const uint8_t pack[CODEC_ID_LEN], uint8_t kind, void *ctx);
void blobwriter_set_rewrite(BlobWriter *bw, int on, BlobWriterPackFn on_pack, void *ctx);

/* blobwriter_has — 1 if the blob (type, id) is stored or pending, 0 if
 * not (a blob of another type with this ID does not count). */
int blobwriter_has(BlobWriter *bw, uint8_t type, const uint8_t id[CODEC_ID_LEN]);

/* blobwriter_finish — store the open packs and an index file for every
 * pack of the session. After it returns 0 everything put is durable and
 * indexed, and a snapshot may refer to it. */
int blobwriter_finish(BlobWriter *bw, StrataErr *err);

void blobwriter_stats(BlobWriter *bw, BlobWriterStats *out);

/* blobwriter_free — accepts NULL. Without finish, stored packs stay
 * "unindexed" and the next run covers them (indexfile_sync). */
void blobwriter_free(BlobWriter *bw);

/* blob_read — fetch, authenticate and decompress blob id of type.
 * *out malloc'ed (raw length in *out_len). Errors: STRATA_ENOTFOUND (not in
 * the index), STRATA_EDAMAGED (pack missing or blob fails its checks; the
 * message names chunk, pack and offset). */
int blob_read(Repo *repo, CodecCtx *ctx, uint8_t type, const uint8_t id[CODEC_ID_LEN],
              uint8_t **out, size_t *out_len, StrataErr *err);

/* blob_read_at — as blob_read with a known location (check, restore). */
int blob_read_at(Repo *repo, CodecCtx *ctx, const uint8_t id[CODEC_ID_LEN], const IndexEntry *e,
                 uint8_t *out, StrataErr *err);

/* A pack's trailer, and any other read of a pack's bytes: pack_read.h. */

#endif
