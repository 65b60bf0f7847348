/* replicate.h — copy a repository's objects to another backend.
 *
 * Owns: bringing a target location up to date with a source repository,
 * object by object, without any key: every name except "config" (and the
 * WAL archive's segment names) is the hash of the object's bytes
 * (store/FORMAT.md "Directory tree": BLAKE2b-256 or SHA-256, which the
 * caller's naming function reads from the config, opts->naming), so each
 * object is checked against its
 * name when read from the source (a damaged source object is never
 * copied) and again after it is written, by reading it back from the
 * target. config and wal/ objects are compared byte for byte.
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

typedef struct ReplicateOptions {
	ReplicateNamingFn naming;   /* required */
	int threads;                /* objects in flight; 0 = 6 */
	int max_passes;             /* 0 = 3 */
	int dry_run;                /* list and count what is missing; copy nothing */
	ReplicateProgressFn progress;
	void *progress_ctx;
} ReplicateOptions;

typedef struct ReplicateResult {
	uint64_t objects_source;    /* objects in the source (last pass) */
	uint64_t objects_present;   /* already in the target at the same size */
	uint64_t objects_copied;    /* written and verified (to copy, with dry_run) */
	uint64_t bytes_copied;
	uint64_t objects_vanished;  /* listed in the source, gone when read */
	uint64_t objects_damaged;   /* source bytes do not match the name: not copied */
	unsigned passes;
} ReplicateResult;

/* replicate_run — make dst hold every object of the repository at src.
 * *out (may be NULL) is filled in every case.
 * Errors: -ENOENT (no config at src: not a repository), -EEXIST (dst holds
 * a config different from src's: another repository), -EBADMSG (source
 * objects fail their hash: the rest was copied, those were not; run
 * `strata check` on the source), opts->naming's errors for the source's
 * config, -EAGAIN (the source kept changing for
 * max_passes passes: run again), -EIO (an object read back from dst does
 * not match), or a backend error; err names the object. */
int replicate_run(Backend *src, Backend *dst, const ReplicateOptions *opts,
                  ReplicateResult *out, RemoteErr *err);

#endif
