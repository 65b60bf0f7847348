/* replicate.h — copy a repository's objects to another backend.
 *
 * Owns: bringing a target location up to date with a source repository,
 * object by object, without any key: every name except "config" (and the
 * WAL archive's segment names) is the hash of the object's bytes
 * (store/FORMAT.md "Directory tree": BLAKE2b-256 or SHA-256, which the
 * caller's naming function reads from the config, opts->naming), so each
 * object is checked against its
 * name when read from the source (a damaged source object is never
 * copied). After it is written it is checked without reading it back,
 * so a target in any storage class works (GLACIER, DEEP_ARCHIVE answer
 * InvalidObjectState to a GET; STANDARD_IA, GLACIER_IR charge for it):
 * an S3 upload carries x-amz-checksum-sha256, which S3 verifies against
 * the bytes it received before it stores them, and a HEAD with
 * x-amz-checksum-mode then shows the size and that SHA-256 stored under
 * the name (backend_head); a local target's file is read and
 * hashed. tools/cli/doc/replicate.md "What a replica's check proves".
 *
 * Order (FORMAT.md "Write ordering"), so the target is a valid repository
 * at every moment and an interrupted run leaves only harmless extra packs:
 *   1. keys/, then config
 *   2. data/ and tree/ packs, wal/
 *   3. index/ files
 *   4. snapshots/
 *   5. verified/ (restore-test records, which name a snapshot)
 * Incremental and idempotent: what the target holds at the same size is
 * not read again; a run after an interruption copies what is missing.
 * Nothing is ever deleted from the target; locks/ are not copied.
 *
 * Concurrent changes to the source (a prune): the snapshot and index
 * listings are taken before the packs are listed, so everything they refer
 * to is either listed or was deleted; a listed object that is gone when
 * read means the source changed, and the pass then skips snapshots and
 * starts again (at most max_passes times).
 *
 * Never: decrypts or parses objects, not even the config (opts->naming
 * does, for the caller who knows the format); depends on nothing in
 * store/.
 * Thread safety: one replicate_run per target at a time; it runs its own
 * worker threads on the two backends (which are thread-safe).
 */
#ifndef STRATA_REMOTE_REPLICATE_H
#define STRATA_REMOTE_REPLICATE_H

#include <stddef.h>
#include <stdint.h>

#include "remote/backend.h"

typedef struct ReplicateProgress {
	const char *phase;          /* "keys", "config", "packs", "wal", "index", "snapshots", "verified" */
	uint64_t objects_done;      /* copied so far */
	uint64_t bytes_done;
	uint64_t objects_todo;      /* missing from the target in this phase */
} ReplicateProgress;

/* Called from the calling thread between objects, at most a few times a
 * second, and at the end of each phase. */
typedef void (*ReplicateProgressFn)(const ReplicateProgress *p, void *ctx);

/* Which hash names the objects of the repository whose config bytes are
 * config[0..len) (at location, for messages): *out_sha256 = 1 for SHA-256,
 * 0 for BLAKE2b-256. Returns 0, or a negative errno with err naming the
 * config: -EBADMSG (not a config, or damaged), -EPROTONOSUPPORT (a format
 * this code does not know). store/repo.h: repo_config_naming. */
typedef int (*ReplicateNamingFn)(const char *location, const uint8_t *config, size_t len, int *out_sha256,
                                 RemoteErr *err);

/* The packs an index file of the target lists, as object names
 * ("data/xx/<hex>", "tree/xx/<hex>"), and for each whether the source
 * still holds any of its blobs (*out_needed: then the target keeps the
 * pack, its own copy of live data after a repack at the source).
 * Decrypting needs the key, which only the caller holds
 * (store/replica/replica.h). The arrays and each name are malloc'ed; the
 * caller of the callback frees them. 0 or an error with err naming the
 * index file. */
typedef int (*ReplicateIndexPacksFn)(const char *index_name, char ***out_names, int **out_needed, size_t *out_n,
                                     void *ctx, RemoteErr *err);

/* Write one index file at the target listing packs keep[0..n) as index
 * files read through ReplicateIndexPacksFn listed them. */
typedef int (*ReplicateRewriteIndexFn)(const char *const *keep, size_t n, void *ctx, RemoteErr *err);

/* 1: the copy pass does not copy object name (a source pack whose blobs
 * the target holds already, an index file listing one). */
typedef int (*ReplicateSkipFn)(const char *name, void *ctx);

/* Called by each copy pass after the index files, before the snapshots. */
typedef int (*ReplicateHookFn)(void *ctx, RemoteErr *err);

/* Mirror mode (replicate_mirror.c): after the copy, remove from the
 * target what the source no longer holds. */
typedef struct ReplicateMirror {
	int on;
	int force_early_delete;     /* delete packs younger than their class's minimum too */
	/* The minimum storage duration of the class data/ packs (data) and
	 * tree/ packs (tree, the metadata class) were uploaded in: a pack
	 * younger than it is held back (deleting it costs the rest of the
	 * duration anyway). 0: none. Counted from the target's upload time
	 * (backend_list_info); a pack whose time the store does not give is
	 * held back whenever the minimum is not 0. */
	int64_t min_age_data_s, min_age_tree_s;
	/* Storage price of those classes per GiB-month, for the early-deletion
	 * fees a held-back pack avoids (what deleting it now would cost). */
	double usd_gib_month_data, usd_gib_month_tree;
	int64_t now_s;              /* "now" for the ages; 0 = time(NULL) */
	/* What the target's index files the source lacks list: a pack the
	 * source lacks is kept when held back or needed; an index file the
	 * source lacks is kept as it is when it lists no pack to delete,
	 * else deleted after rewrite_index wrote one listing its kept packs.
	 * NULL: every such index file and pack is kept while any pack is
	 * held back, and no pack is judged needed. */
	ReplicateIndexPacksFn index_packs;
	ReplicateRewriteIndexFn rewrite_index;
	void *index_ctx;
	/* A selective copy (store/replica/replica.h replica_select): every
	 * index file of the target is read, and a data pack the source
	 * holds is deleted too when index_packs says it is not needed; a
	 * snapshot or restore-test record the ReplicateOptions skip function
	 * names is deleted although the source holds it. */
	int selective;
} ReplicateMirror;

/* What a mirror pass removed (would remove, with dry_run) or held back. */
typedef struct ReplicateMirrorResult {
	uint64_t snapshots_deleted, keys_deleted, verified_deleted, index_deleted;
	uint64_t packs_deleted, bytes_deleted;
	uint64_t packs_held, bytes_held;        /* younger than their class's minimum */
	uint64_t packs_kept_with_index;         /* old enough, but listed by a kept index file */
	uint64_t bytes_kept_with_index;
	uint64_t index_held;                    /* index files kept as they are for kept packs */
	uint64_t packs_kept_needed;             /* the source holds some of their blobs (repacked there) */
	uint64_t bytes_kept_needed;
	uint64_t index_rewritten;               /* index files written for the kept packs of deleted ones */
	double fees_avoided_usd;                /* early-deletion fees of the held-back packs */
	uint64_t requests_planned;              /* deletions to send (S3: a HEAD and a DELETE each) */
} ReplicateMirrorResult;

typedef struct ReplicateOptions {
	ReplicateNamingFn naming;   /* required */
	int threads;                /* objects in flight; 0 = 6 */
	int max_passes;             /* 0 = 3 */
	int dry_run;                /* list and count what is missing; copy nothing */
	ReplicateProgressFn progress;
	void *progress_ctx;
	ReplicateMirror mirror;     /* zeroed: no deletion at the target */
	ReplicateSkipFn skip;       /* may be NULL */
	ReplicateHookFn before_snapshots;   /* may be NULL */
	void *hook_ctx;             /* for skip and before_snapshots */
} ReplicateOptions;

typedef struct ReplicateResult {
	uint64_t objects_source;    /* objects in the source (last pass) */
	uint64_t objects_present;   /* already in the target at the same size */
	uint64_t objects_copied;    /* written and verified (to copy, with dry_run) */
	uint64_t bytes_copied;
	uint64_t objects_sum_checked;   /* of those, size and SHA-256 as stored by the target */
	uint64_t objects_size_checked;  /* of those, size only (the target keeps no SHA-256) */
	uint64_t objects_vanished;  /* listed in the source, gone when read */
	uint64_t objects_damaged;   /* source bytes do not match the name: not copied */
	uint64_t objects_skipped;   /* opts->skip said not to copy (last pass) */
	uint64_t bytes_skipped;
	unsigned passes;
	ReplicateMirrorResult mirror;
} ReplicateResult;

/* replicate_run — make dst hold every object of the repository at src;
 * with opts->mirror.on, then remove from dst the snapshots, key files,
 * restore-test records, index files and packs src does not hold (in that
 * order, so dst stays a valid repository at every moment: no snapshot
 * outlives the data it needs, no index file a pack it lists), holding back
 * packs younger than their class's minimum storage duration. Nothing is
 * deleted when the copy pass did not complete (a source that kept
 * changing, damaged source objects).
 * *out (may be NULL) is filled in every case.
 * Errors: -ENOENT (no config at src: not a repository), -EEXIST (dst holds
 * a config different from src's: another repository), -EBADMSG (source
 * objects fail their hash: the rest was copied, those were not; run
 * `strata check` on the source), opts->naming's errors for the source's
 * config, -EAGAIN (the source kept changing for
 * max_passes passes: run again), -EIO (an object in dst, checked after
 * its upload, has another size or SHA-256 than the bytes written, twice), or a backend error; err names the object. */
int replicate_run(Backend *src, Backend *dst, const ReplicateOptions *opts,
                  ReplicateResult *out, RemoteErr *err);

#endif
