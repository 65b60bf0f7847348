/* chunkpipe.h — the chunking pipeline shared by every way data comes in
 * (files in backup.c, archive members in tar_import.c, WAL segments).
 *
 * Owns: reading streams into a few read segments of at least twice the
 * maximum chunk size (consecutive small streams share one), cutting them
 * with the repository's chunker, and handing each chunk, in place, to a
 * pool of worker threads that hash, deduplicate, compress, encrypt and
 * pack it (blobwriter_put), writing its ID and length into a ChunkList
 * slot. A segment is reused once its last chunk is stored; the segments
 * and the pool's bound on queued bytes keep memory flat. The first worker
 * failure is kept and returned.
 *
 * Thread safety: chunkpipe_stream / chunkpipe_wait from one producer thread.
 * A ChunkList being filled must not be moved or freed before
 * chunkpipe_wait returns or chunklist_done says its chunks are in.
 */
#ifndef STRATA_STORE_CHUNKPIPE_H
#define STRATA_STORE_CHUNKPIPE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/blob.h"
#include "store/error.h"
#include "store/repo.h"

typedef struct ChunkPipe ChunkPipe;

/* The chunks of one stream, in order. inflight counts its chunks queued
 * or being sealed (atomic: workers decrement it).
 *
 * known (optional, owned by the list, sorted by chunklist_set_known): IDs
 * the caller knows to be stored in the repository already, such as the
 * chunks of the file's previous version from the files cache. A chunk
 * found there is not looked up in the index: on a large repository each
 * lookup of a random ID faults in index pages (store/index.c), and a
 * regenerated export is thousands of such lookups.
 *
 * run_len (set before the list's first chunk is queued): 0 cuts the
 * stream by content (chunker/fastcdc.h); non-zero cuts it in runs of
 * run_len bytes from the stream's start, a page-structured file
 * (chunker/pagerun.h, FORMAT.md §13a). At most the repository's chunk_max. */
typedef struct ChunkList {
	uint8_t (*ids)[STRATA_ID_LEN];
	uint32_t *lens;
	size_t n, cap;
	size_t inflight;
	uint8_t (*known)[STRATA_ID_LEN];
	size_t nknown;
	uint32_t run_len;
} ChunkList;

/* chunklist_reserve — room for cap entries (only while none of l's chunks
 * is in flight, see chunklist_done: workers write into the arrays).
 * chunklist_free — free and zero (NULL ok). */
int chunklist_reserve(ChunkList *l, size_t cap);
void chunklist_free(ChunkList *l);

/* chunklist_set_known — give l the n IDs at ids (malloc'ed; l owns and
 * sorts them, chunklist_free frees them). Only before l's first chunk is
 * queued, and only with IDs whose chunks are durable in the repository
 * for as long as the backup runs. */
void chunklist_set_known(ChunkList *l, uint8_t (*ids)[STRATA_ID_LEN], size_t n);

/* chunklist_done — every chunk queued for l has its ID and length, and a
 * failed one has been recorded (chunkpipe_failed sees it): l may be read,
 * moved or freed without chunkpipe_wait. */
int chunklist_done(const ChunkList *l);

/* A stream: returns bytes read (0 at the end) or -errno. */
typedef ssize_t (*ChunkReadFn)(void *src, uint8_t *buf, size_t len);
/* Called after each read with the bytes it returned (progress, counters). */
typedef void (*ChunkTickFn)(void *ctx, uint64_t bytes);

/* chunkpipe_read_fd — a ChunkReadFn for a file descriptor (src: int *). */
ssize_t chunkpipe_read_fd(void *src, uint8_t *buf, size_t len);

/* chunkpipe_new — threads workers (0 = one per core) storing through bw. */
int chunkpipe_new(Repo *repo, BlobWriter *bw, int threads, ChunkPipe **out, StrataErr *err);

/* chunkpipe_stream — read src to its end, appending its chunks to list
 * (after list->n). *out_size gets the bytes read. Returns 0; 1 when the
 * source failed to read (err->code holds its -errno; list holds a prefix:
 * wait before reusing it); or a negative error when the repository side
 * failed (a worker's failure such as -ENOSPC, or out of memory). */
int chunkpipe_stream(ChunkPipe *p, ChunkReadFn rd, void *src, ChunkList *list,
                     ChunkTickFn tick, void *tick_ctx, uint64_t *out_size, StrataErr *err);

/* chunkpipe_wait — every queued chunk is stored (or pending in a pack)
 * and its slot filled; returns the first worker failure with its message. */
int chunkpipe_wait(ChunkPipe *p, StrataErr *err);

/* chunkpipe_failed — non-zero once a worker has failed (cheap to poll). */
int chunkpipe_failed(ChunkPipe *p);

/* chunkpipe_free — wait, stop the workers, free. Accepts NULL. */
void chunkpipe_free(ChunkPipe *p);

#endif
