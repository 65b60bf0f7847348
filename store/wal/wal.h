/* wal.h — the PostgreSQL WAL archive: archive_command and restore_command
 * targets, listing and retention.
 *
 * Owns: storing a WAL file (a segment, a .partial segment, a timeline
 * .history file or a .backup label file) as deduplicated chunks in packs
 * plus one small sealed descriptor; fetching it back byte-exact; a local
 * spool of prefetched segments in the repository's cache; listing what
 * the archive holds per timeline; removing descriptors older than a base
 * backup; and the chunk IDs the descriptors keep alive (for prune).
 *
 * Repository layout (store/FORMAT.md §3 "wal/..."):
 *   wal/<TTTTTTTT>/<NAME>   one descriptor per WAL file; TTTTTTTT is the
 *                           timeline (the first 8 hex digits of NAME)
 * The names are in the clear, like pack names: they reveal the timeline
 * and WAL position of each file, not its content.
 *
 * Descriptor: a sealed file (FORMAT.md §5) with MAGIC "STRATAWL",
 * VERSION 2 (1 is still read), whose plaintext is (little-endian):
 *   NAME_LEN (u8) || NAME || KIND (u8) || SIZE (u64) || MTIME_NS (u64, two's
 *   complement) || CONTENT_ID (32) || NCHUNKS (u32) ||
 *   NCHUNKS x (CHUNK_ID (32) || CHUNK_LEN (u32))
 * CONTENT_ID is, in version 2, BLAKE2b-256_{id_key} of a domain string,
 * SIZE and the chunk records (computed from the chunk IDs, so the file is
 * read once, by the chunker); in version 1 it was the keyed hash of the
 * whole file. A second push of a name compares content with the archived
 * chunk IDs (or, version 1, CONTENT_ID) without reading any chunk. NAME inside
 * the sealed plaintext binds the descriptor to its name: a descriptor
 * copied or renamed to another name is refused on fetch. A reader must
 * check that the chunk lengths add up to SIZE.
 *
 * Write ordering (FORMAT.md §15): chunks are put through a BlobWriter and
 * blobwriter_finish makes their packs and index file durable before the
 * descriptor is written; the descriptor is written last and durably, so a
 * descriptor never names a chunk that is not stored. Once written it is
 * never replaced (a push of other content under the same name fails).
 *
 * Never: prints, forks, or decides exit codes (tools/cli/cmd_wal.c maps errors
 * to PostgreSQL's rules). Thread safety: one call per Repo at a time,
 * except wal_fetch, which several threads may call at once for different
 * names and destinations (the async fetcher's workers); several processes
 * may push and fetch against one repository at once.
 */
#ifndef STRATA_STORE_WAL_H
#define STRATA_STORE_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/repo.h"
#include "store/snapshot.h"

#define WAL_NAME_MAX 40                /* "TTTTTTTTXXXXXXXXYYYYYYYY.OOOOOOOO.backup" */
#define WAL_SEG_NAME_LEN 24
#define WAL_MAX_FILE_BYTES (1u << 30)  /* PostgreSQL's largest WAL segment size */

enum WalKind {
	WAL_SEGMENT = 1,   /* 000000010000000A000000FE */
	WAL_PARTIAL = 2,   /* 000000010000000A000000FE.partial */
	WAL_HISTORY = 3,   /* 00000002.history */
	WAL_BACKUP  = 4    /* 000000010000000A000000FE.00000028.backup */
};

/* wal_name_parse — the kind and timeline of a WAL file name (upper-case
 * hex as PostgreSQL writes it). 0, or STRATA_EUSAGE for anything else
 * (a path, a temporary file, "RECOVERYXLOG"). */
int wal_name_parse(const char *name, int *out_kind, uint32_t *out_timeline);

typedef struct WalPushResult {
	int      already;      /* 1: an identical copy was archived before */
	uint64_t size;         /* bytes of the WAL file */
	uint64_t chunks;       /* chunks it was cut into */
	uint64_t chunks_new;   /* of those, new to the repository */
	uint64_t bytes_new;    /* raw bytes of the new chunks */
	uint64_t bytes_stored; /* bytes written to packs (after zstd + AEAD) */
} WalPushResult;

/* wal_push — archive the file at path under name (NULL: its base name).
 * Returns 0 only once the content and the descriptor are durable. Pushing
 * identical content again returns 0 with already = 1 (and re-stores any
 * chunk the repository lost).
 * Errors: STRATA_EEXIST when the archive holds different content under
 * this name (the message gives both sizes and says what to check; nothing
 * is changed); STRATA_EUSAGE for a name that is not a WAL file name;
 * -errno reading path (-EFBIG above WAL_MAX_FILE_BYTES); backend errors.
 * zlevel: zstd level for new chunks, 0 = default. */
int wal_push(Repo *repo, const char *path, const char *name, int zlevel,
             WalPushResult *out, StrataErr *err);

/* A batch: many WAL files stored through one BlobWriter and one chunk
 * pipeline, so they share packs, one index file and one round of fsyncs
 * (the asynchronous archiver's unit of work, store/wal/walarch.h).
 *   wal_batch_new    — a batch for repo, zstd level zlevel (0 = default).
 *   wal_batch_add    — read the file at path (stored as name, NULL: its
 *                      base name) into the batch. Checks an archived copy
 *                      under that name first (STRATA_EEXIST for other
 *                      content, as wal_push). A file that fails here is
 *                      left out; the batch goes on unless the pipeline
 *                      itself failed (then every later call fails).
 *                      Adding a name already in the batch is a no-op.
 *   wal_batch_commit — make the packs and index file durable, then write
 *                      each file's descriptor durably. Returns non-zero
 *                      when the packs could not be stored (no file of the
 *                      batch is archived); otherwise 0, with out_rc[i]
 *                      (and errs[i]) each file's own outcome, in the
 *                      order added (wal_batch_name(b, i)); out[i] its
 *                      counters (the writer's byte counts on out[0]).
 *                      out, out_rc, errs have wal_batch_count() room.
 *   wal_batch_free   — waits for chunks in flight; accepts NULL. */
typedef struct WalBatch WalBatch;
int wal_batch_new(Repo *repo, int zlevel, WalBatch **out, StrataErr *err);
int wal_batch_add(WalBatch *b, const char *path, const char *name, StrataErr *err);
size_t wal_batch_count(const WalBatch *b);
const char *wal_batch_name(const WalBatch *b, size_t i);
int wal_batch_commit(WalBatch *b, WalPushResult *out, int *out_rc, StrataErr *errs, StrataErr *err);
void wal_batch_free(WalBatch *b);

typedef struct WalFetchResult {
	uint64_t size;
	int      from_spool;   /* 1: taken from the prefetch spool */
	uint64_t segment_size; /* for a segment: its size, to name the next */
} WalFetchResult;

/* wal_fetch — write the archived file name to dest (mode 0600) through
 * store/sys/outfile.h: a private temporary file beside dest is written,
 * fsynced and renamed over dest, then dest's directory is fsynced, so dest
 * never holds a partial file and an interrupted fetch leaves nothing (or,
 * on a file system without O_TMPFILE, a dest.tmp-XXXXXXXXXXXX). A file or
 * symlink planted beside dest is never written. A prefetched copy in the
 * spool is used when its keyed hash matches the descriptor.
 * Errors: STRATA_ENOTFOUND only when the archive holds no file of that
 * name (the one answer PostgreSQL may take as "end of the archive");
 * STRATA_EUSAGE for a name that is not a WAL file name; STRATA_EDAMAGED /
 * STRATA_EAUTH / STRATA_EFORMAT for a damaged or foreign descriptor or
 * chunk; -errno and backend errors (network, credentials) otherwise. */
int wal_fetch(Repo *repo, const char *name, const char *dest, WalFetchResult *out,
              StrataErr *err);

/* wal_next_segment — the name of the segment after seg (a WAL_SEGMENT
 * name) for segments of segment_size bytes (a power of two from 1 MiB to
 * 1 GiB). STRATA_EUSAGE otherwise. out has room for WAL_NAME_MAX + 1. */
int wal_next_segment(const char *seg, uint64_t segment_size, char out[WAL_NAME_MAX + 1]);

/* wal_prefetch — fetch up to count segments following after (a segment
 * name) into the spool <cache>/<repo-id>/wal-spool/, stopping at the first
 * one the archive does not hold; drop spool files of that timeline older
 * than after. Only one prefetch runs per cache: when another holds the
 * spool's lock, returns 0 at once. *out_fetched (may be NULL) counts the
 * files written. Errors as wal_fetch (STRATA_ENOTFOUND is not one). */
int wal_prefetch(Repo *repo, const char *after, unsigned count, unsigned *out_fetched,
                 StrataErr *err);

typedef struct WalTimeline {
	uint32_t timeline;
	char     first[WAL_NAME_MAX + 1];   /* oldest segment ("" if none) */
	char     last[WAL_NAME_MAX + 1];    /* newest segment */
	uint64_t segments;
	uint64_t missing;        /* segments absent between first and last */
	uint64_t segment_size;   /* bytes of one segment, 0 when unknown */
	uint64_t partials, histories, backups;
} WalTimeline;

/* wal_list — what the archive holds, one entry per timeline, by timeline.
 * Reads one descriptor per timeline (for the segment size). *out
 * malloc'ed (caller frees). */
int wal_list(Repo *repo, WalTimeline **out, size_t *out_n, StrataErr *err);

/* wal_backup_start — the WAL segment a base backup needs first, from the
 * backup_label file at the root of snap (pg_basebackup writes it:
 * "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)").
 * Errors: STRATA_ENOTFOUND (no backup_label: not a base backup),
 * STRATA_EFORMAT (no START WAL LOCATION line), read errors. */
int wal_backup_start(Repo *repo, const Snapshot *snap, char out[WAL_NAME_MAX + 1],
                     StrataErr *err);

typedef struct WalPruneResult {
	uint64_t removed;        /* descriptors deleted (or, dry run, to delete) */
	uint64_t kept;
} WalPruneResult;

/* wal_prune — delete the descriptors of segments, .partial and .backup
 * files that precede before (a segment name) in WAL order, on every
 * timeline (the rule of pg_archivecleanup: the timeline is ignored and
 * the log and segment numbers compared). .history files are always kept.
 * dry_run: count only. Chunks are freed by a later `strata prune`. */
int wal_prune(Repo *repo, const char *before, int dry_run, WalPruneResult *out,
              StrataErr *err);

/* wal_foreach_chunk — call fn with every chunk ID a WAL descriptor names
 * (duplicates included); a non-zero return stops the walk and is returned.
 * For prune and check: WAL descriptors are roots like snapshots. */
typedef int (*WalChunkFn)(const uint8_t id[STRATA_ID_LEN], uint32_t raw_len, void *ctx);
int wal_foreach_chunk(Repo *repo, WalChunkFn fn, void *ctx, StrataErr *err);

#endif
