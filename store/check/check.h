/* check.h — integrity verification of a repository.
 *
 * Owns: the structure check (config, key files, stored index files, pack
 * trailers against the index, snapshots, every tree they reach, every chunk
 * they reference, the restore-test records), the data check (every blob of the selected packs
 * authenticated, decompressed and re-hashed against its ID; a pack found
 * damaged, or every pack with CheckOptions.pack_hash, re-hashed against its
 * name), the deterministic and random pack subsets,
 * and the damage report: for each damaged or missing chunk its pack and
 * offset, and the snapshots, paths and byte ranges that depend on it.
 *
 * Also owns the tolerant opening of the local index that check and repair
 * share (check_index); the ID hash map they both use is check_idmap.h.
 *
 * Never: writes to the repository (the structure check may refresh the
 * local cache, like every command), prints, or reads data bytes without
 * CheckOptions.read_data.
 *
 * Memory: the report grows with the damage found, not with the repository.
 * The check itself keeps one small record per pack and per distinct tree;
 * data is streamed in windows of CHECK_WINDOW_BYTES per worker.
 *
 * Thread safety: one check_run per Repo at a time; it runs its own worker
 * pool (store/sys/workpool.h). progress may be called from any of its threads,
 * one call at a time.
 */
#ifndef STRATA_STORE_CHECK_H
#define STRATA_STORE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/index.h"
#include "store/repo.h"
#include "remote/backend.h"

#define CHECK_WINDOW_BYTES (4u << 20)   /* read size when streaming a pack */
#define CHECK_MAX_USERS 256             /* users listed per damaged chunk; more are counted */
/* Past these, damage is counted but not listed, so that a catastrophe (all
 * of data/ lost) still gives a report of bounded size. */
#define CHECK_MAX_CHUNKS 100000         /* damaged chunks listed */
#define CHECK_MAX_LISTED_USERS 200000   /* users listed over all chunks */

/* What a problem is about. Values are stable: the CLI prints their names. */
typedef enum CheckProblemKind {
	CHECK_P_CONFIG = 1,     /* config no longer decodes */
	CHECK_P_KEYFILE,        /* a key file does not decode or is not named by its hash */
	CHECK_P_INDEXFILE,      /* a stored index file cannot be read */
	CHECK_P_PACK_MISSING,   /* an index file lists a pack the repository does not hold */
	CHECK_P_PACK_SIZE,      /* a pack's size differs from its index (truncated, extended) */
	CHECK_P_PACK_TRAILER,   /* a pack's footer or trailer does not decode */
	CHECK_P_PACK_MISMATCH,  /* trailer and index file disagree */
	CHECK_P_PACK_HASH,      /* read-data: the pack's bytes do not hash to its name
	                         * (hashed when found damaged, or with pack_hash) */
	CHECK_P_PACK_UNINDEXED, /* warning: a pack no index file lists */
	CHECK_P_SNAPSHOT,       /* a snapshot file does not decode */
	CHECK_P_WAL,            /* a WAL archive descriptor does not decode */
	CHECK_P_VERIFIED        /* a restore-test record does not decode (damage), or
	                         * records of forgotten snapshots remain (warning) */
} CheckProblemKind;

typedef struct CheckProblem {
	CheckProblemKind kind;
	int warning;                  /* 1: worth knowing, not damage (exit status stays 0) */
	uint8_t object[STRATA_ID_LEN];/* the key file, index file, pack or snapshot */
	int has_object;
	char message[STRATA_ERRMSG_LEN]; /* one line naming the objects and what to do */
	/* CHECK_P_PACK_MISSING: the snapshots with an entry that needs a chunk
	 * of the pack (from the damaged chunks' users, so at most
	 * CHECK_MAX_USERS per chunk are seen), sorted; owned by the report. */
	uint8_t (*snapshots)[STRATA_ID_LEN];
	size_t nsnapshots;
} CheckProblem;

/* Why a chunk is reported. */
typedef enum CheckChunkReason {
	CHECK_C_NOT_INDEXED = 1,  /* referenced, but no index entry */
	CHECK_C_PACK_MISSING,     /* its pack is not in the repository */
	CHECK_C_TRUNCATED,        /* its bytes lie past the end of its pack */
	CHECK_C_MISMATCH,         /* index, trailer and tree disagree on it */
	CHECK_C_AUTH,             /* fails authentication */
	CHECK_C_FORMAT,           /* authentic but does not decompress to its length */
	CHECK_C_HASH,             /* decrypts, but its content does not hash to its ID */
	CHECK_C_TREE              /* a tree that cannot be loaded or decoded */
} CheckChunkReason;

/* A snapshot entry that depends on a damaged chunk. */
typedef struct CheckUser {
	uint8_t  snapshot[STRATA_ID_LEN];  /* zero for the WAL archive */
	char    *path;                /* in the snapshot, "a/b/c"; "" is the root */
	int      is_tree;             /* the chunk is the tree of directory path */
	int      is_wal;              /* a file of the WAL archive (store/wal/wal.h) needs it */
	uint64_t offset, length;      /* files: the bytes of the file the chunk held */
} CheckUser;

typedef struct CheckChunk {
	uint8_t  id[STRATA_ID_LEN];
	uint8_t  type;                /* enum BlobType */
	CheckChunkReason reason;
	int      has_location;
	uint8_t  pack[STRATA_ID_LEN];
	uint32_t offset, length, raw_len;
	char     detail[256];         /* the failure, as the reader saw it */
	CheckUser *users;             /* at most CHECK_MAX_USERS */
	size_t   nusers;
	uint64_t users_total;         /* every dependent entry, listed or not */
} CheckChunk;

/* A snapshot that has at least one damaged dependency. */
typedef struct CheckSnapshotDamage {
	uint8_t  id[STRATA_ID_LEN];
	uint64_t files;               /* damaged files (by entry, counted once per chunk) */
	uint64_t trees;               /* unreadable directories */
} CheckSnapshotDamage;

typedef struct CheckProgress {
	const char *phase;            /* "index", "packs", "read-data", "snapshots" */
	uint64_t done, total;         /* items of this phase */
	uint64_t bytes;               /* bytes read so far (read-data) */
} CheckProgress;

typedef void (*CheckProgressFn)(const CheckProgress *p, void *ctx);

typedef struct CheckOptions {
	int read_data;                /* read and verify every blob of the selected packs */
	/* Subset of packs read (read_data only); all zero: every pack.
	 * subset_n/subset_t (1 <= n <= t): packs whose ID's first 4 bytes, as a
	 * big-endian integer, are == n-1 mod t; 1/t .. t/t partition the packs.
	 * subset_percent (0 < p <= 100): a random sample of that share,
	 * rounded up to whole packs. */
	uint32_t subset_n, subset_t;
	double   subset_percent;
	/* read_data only: also hash every pack read against its name, as
	 * `sha256sum` would (`b2sum -l 256` in a format 1 repository).
	 * Without it, a pack is hashed only when it is found damaged:
	 * authenticating every blob and the trailer already covers every
	 * byte (FORMAT.md "Check"). */
	int      pack_hash;
	int      threads;             /* 0 = one per core */
	/* Data packs in an archive storage class (GLACIER, DEEP_ARCHIVE: the
	 * listing's class, or a GET answered InvalidObjectState) are never
	 * read unless thawed. Without thaw, read_data leaves the selected ones
	 * unread (CheckReport.cold_unread). With thaw (read_data only), a
	 * restore of each selected archived pack is requested (backend_thaw,
	 * kept cold_days, 0 = 7); those readable already are read; with
	 * cold_wait the check then polls every cold_poll_s seconds (0 = 60)
	 * until the rest are readable and reads them too. max_thaw_bytes (0:
	 * none) bounds the archived bytes thawed: the selected archived packs
	 * in ID order, as long as their sizes add up to at most it; the rest
	 * are trimmed (CheckReport.thaw_trimmed). */
	int      thaw, cold_wait;
	unsigned cold_days, cold_poll_s;
	uint64_t max_thaw_bytes;
	CheckProgressFn progress; void *progress_ctx;
} CheckOptions;

typedef struct CheckReport {
	/* what was checked */
	uint64_t key_files, index_files, packs, snapshots, trees, files, chunk_refs;
	uint64_t wal_chunk_refs;      /* chunk references of the WAL archive's descriptors */
	uint64_t verified_records;    /* restore-test records read (store/verified.h) */
	uint64_t packs_selected;      /* read-data: packs in the subset */
	uint64_t bytes_read;          /* read-data: pack bytes read and verified (once per pack) */
	uint64_t blobs_verified;      /* read-data: blobs authenticated and re-hashed */
	/* Archived data packs (see CheckOptions.thaw): what was checked of them
	 * without a GET, and what was not. */
	uint64_t cold_packs, cold_bytes;  /* archived and not readable: trailers unread */
	uint64_t cold_sha256_ok;      /* the SHA-256 the store recorded at upload is the
	                               * pack's name (format 2: every byte as uploaded) */
	uint64_t cold_sha256_none;    /* no SHA-256 to compare: none returned (multipart
	                               * upload, a store without checksums) or format 1 */
	uint64_t cold_chunks_unchecked; /* index entries of those packs no trailer confirmed */
	uint64_t cold_unread, cold_unread_bytes; /* read-data: selected, archived, not read */
	uint64_t thaw_requested;      /* restore requests sent */
	uint64_t thaw_read, thaw_read_bytes;  /* archived packs read after a thaw */
	uint64_t thaw_trimmed, thaw_trimmed_bytes; /* left out by max_thaw_bytes */
	double   duration_s;
	/* what was found */
	uint64_t damage;              /* problems that are damage (incl. damaged chunks) */
	uint64_t warnings;
	CheckProblem *problems;  size_t nproblems;
	CheckChunk   *chunks;    size_t nchunks;
	uint64_t chunks_unlisted;     /* damaged chunks past CHECK_MAX_CHUNKS */
	uint64_t users_listed;
	CheckSnapshotDamage *snaps; size_t nsnaps;
	uint8_t (*packs_read)[STRATA_ID_LEN]; size_t npacks_read;  /* sorted */
} CheckReport;

/* check_run — check the repository; with opts->read_data also its data.
 * Returns 0 with *out_report (free with check_report_free) whenever the
 * check ran to the end, damage or not: report->damage tells. Other
 * returns mean the check itself could not run: -errno / backend failures
 * (I/O), -ENOMEM, STRATA_EUSAGE (bad subset). */
int check_run(Repo *repo, const CheckOptions *opts, CheckReport **out_report, StrataErr *err);

void check_report_free(CheckReport *r);

/* check_subset_parse — "N/T" (1 <= N <= T <= 1000000) or "P%" (0 < P <= 100)
 * into opts' subset fields. STRATA_EUSAGE naming the text otherwise. */
int check_subset_parse(const char *text, CheckOptions *opts, StrataErr *err);

/* check_subset_has — 1 if pack belongs to subset n/t (see CheckOptions). */
int check_subset_has(const uint8_t pack[STRATA_ID_LEN], uint32_t n, uint32_t t);

/* check_problem_name / check_reason_name — stable lower_snake_case names. */
const char *check_problem_name(CheckProblemKind kind);
const char *check_reason_name(CheckChunkReason reason);

/* ---- shared with repair (store/repair/repair.c) ---- */

/* check_index — the local index, opened as repo_index() does, but when a
 * stored index file is damaged it is skipped instead of failing, so that
 * check can report it and repair can replace it. The index is then the
 * Repo's (blob_read and BlobWriter use it). */
int check_index(Repo *repo, Index **out, StrataErr *err);

/* check_reason_of — codec_blob_open's return as a CheckChunkReason; 0 for
 * success, -1 for failures that are not damage (-ENOMEM). */
int check_reason_of(int codec_rc);

/* check_list_packs — every pack file under data/ and tree/: fn(id, kind,
 * size, ctx) for each; names that are not <2 hex>/<64 hex> are skipped. */
typedef int (*CheckPackFn)(const uint8_t id[STRATA_ID_LEN], uint8_t kind, uint64_t size, void *ctx);
int check_list_packs(Repo *repo, CheckPackFn fn, void *ctx, StrataErr *err);

/* check_list_packs_info — the same listing, with what it says of each
 * pack's storage class (backend_list_info). */
typedef int (*CheckPackInfoFn)(const uint8_t id[STRATA_ID_LEN], uint8_t kind, const BackendObjInfo *info,
                               void *ctx);
int check_list_packs_info(Repo *repo, CheckPackInfoFn fn, void *ctx, StrataErr *err);

#endif
