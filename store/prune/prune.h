/* prune.h — removing what no snapshot needs, while other hosts keep backing
 * up into the same repository.
 *
 * Owns: marking every blob reachable from the snapshots and the WAL
 * archive's descriptors (in a scratch LMDB
 * set, so memory stays flat whatever the repository size), choosing packs
 * to delete (nothing reachable, or listed by no index file) and to repack
 * (the most unused, until at most max_unused of all pack data is
 * unreachable), copying live blobs out of the
 * latter, the prune plan file "prune/<id>" that condemns packs, and carrying
 * plans out: re-checking snapshots made since, rewriting the index files
 * that list condemned packs, and deleting. Also deletes the restore-test
 * records of snapshots that are gone (store/verified.h). FORMAT.md "Prune and concurrent
 * writers" gives the argument for why no snapshot can lose a blob.
 *
 * Two phases:
 *   mark     under a LOCK_MARK lock (the caller's), concurrent with
 *            backups: decide, repack, write the plan. Deletes nothing.
 *   sweep    under a LOCK_EXCLUSIVE lock that prune_run takes itself for a
 *            short time (so no backup runs): re-check snapshots newer than
 *            the plan, keep any condemned pack they need, replace index
 *            files, delete packs, delete the plan.
 * A plan whose sweep cannot happen now (backups running, grace period or
 * storage-class minimum age not reached) stays in the repository; the next
 * prune_run carries it out before marking anew, and marks nothing new while
 * a plan is pending.
 *
 * Never: prints (progress lines go through opts->log).
 * Thread safety: one prune_run per repository (the LOCK_MARK lock).
 */
#ifndef STRATA_STORE_PRUNE_H
#define STRATA_STORE_PRUNE_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/lock.h"
#include "store/repo.h"

#define PRUNE_DEFAULT_MAX_UNUSED 0.05

typedef void (*PruneLogFn)(const char *line, void *ctx);

/* Where a run is, for a progress display: phase "mark" (snapshots walked),
 * "repack" (packs copied; bytes of them read), "delete" (packs deleted). */
typedef struct PruneProgress {
	const char *phase;
	uint64_t done, total;         /* items of this phase */
	uint64_t bytes, bytes_total;  /* repack: pack bytes; else 0 */
} PruneProgress;

typedef void (*PruneProgressFn)(const PruneProgress *p, void *ctx);

typedef struct PruneOptions {
	double   max_unused;          /* repack the most unused packs while unreachable
	                                 bytes exceed this share of all pack data (0..1) */
	int      dry_run;             /* decide and report; write and delete nothing */
	int      mark_only;           /* write the plan but leave the sweep for later */
	int64_t  grace_s;             /* sweep a plan only once it is this old */
	/* Storage-tier hook: a plan condemning packs of a kind is swept only once
	 * it is at least this old, e.g. 90 days for data packs kept in a
	 * Glacier-class tier (deleting earlier costs the tier's minimum storage
	 * duration). 0: no minimum. */
	int64_t  min_age_data_s, min_age_tree_s;
	/* Snapshots to treat as already forgotten (forget --dry-run --prune). */
	const uint8_t (*ignore)[STRATA_ID_LEN];
	size_t   nignore;
	const LockOptions *lock;      /* for the exclusive lock of the sweep */
	PruneLogFn log;               /* may be NULL */
	void    *log_ctx;
	/* Called from the calling thread after each snapshot marked, each pack
	 * repacked, and before and after the deletions; may be NULL. */
	PruneProgressFn progress;
	void    *progress_ctx;
} PruneOptions;

typedef struct PruneStats {
	/* what the mark phase found */
	uint64_t snapshots;               /* snapshots marked from */
	uint64_t packs, pack_bytes;       /* packs in the index */
	uint64_t used_blobs, used_bytes;  /* reachable blobs, their stored bytes */
	uint64_t unused_packs, unused_pack_bytes;    /* nothing reachable: condemned */
	uint64_t orphan_packs, orphan_bytes;         /* in no index file: condemned */
	uint64_t repack_packs, repack_bytes;         /* rewritten (their whole size) */
	uint64_t repack_used_bytes;                  /* live bytes copied out of them */
	uint64_t kept_unused_bytes;       /* unreachable bytes left in kept packs */
	uint64_t bytes_to_free;           /* condemned bytes minus the copies' size
	                                     (an estimate in a dry run) */
	/* what this run did (zero in a dry run) */
	uint64_t packs_written, bytes_written;       /* repack copies */
	int      plan_written;
	uint8_t  plan_id[STRATA_ID_LEN];
	uint64_t plans_swept;             /* plans carried out */
	uint64_t plans_pending;           /* plans left for a later run */
	uint64_t plans_abandoned;         /* plans dropped unswept (their copies vanished) */
	uint64_t packs_deleted, bytes_deleted;
	uint64_t packs_resurrected;       /* condemned packs a newer snapshot needs */
	uint64_t index_files_replaced, index_files_written;
	/* objects under a retention that has not ended (S3 Object Lock):
	 * kept, with the packs that kept index files list; they go in a
	 * later prune. locked_example: the first one's message (names it
	 * and says until when), "" if none. */
	uint64_t locked_index_files, locked_packs;
	char     locked_example[STRATA_ERRMSG_LEN];
	/* restore-test records of snapshots no longer in the repository
	 * (store/verified.h), deleted (to delete, in a dry run) */
	uint64_t verified_removed, verified_snapshots;
	char     deferred[STRATA_ERRMSG_LEN];   /* why a plan is pending; "" if none */
} PruneStats;

/* prune_run — sweep pending plans, then (when none is left) mark, repack,
 * write a plan and sweep it when opts allow.
 * The caller holds a LOCK_MARK (or LOCK_EXCLUSIVE) lock on repo.
 * Returns 0 also when the sweep is deferred (stats->deferred says why).
 * Errors: STRATA_EDAMAGED (a snapshot needs a blob the index does not have,
 * or a tree fails to decode: prune deletes nothing until `check`/`repair`
 * sort it out; the message names snapshot and blob), backend errors
 * (-ENOSPC while repacking: the repository stays as it was), STRATA_ELOCKED
 * when the lock was lost before deleting. */
int prune_run(Repo *repo, const PruneOptions *opts, PruneStats *stats, StrataErr *err);

#endif
