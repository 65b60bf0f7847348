/* lock.h — repository locks: who may write, delete or read at the same time.
 *
 * Owns: lock files "locks/<id>" in the repository (FORMAT.md "Prune and
 * concurrent writers", "Locks"): taking one (write own file, then list and
 * look for a conflicting live lock), keeping it fresh from a background
 * thread, deciding when another process's lock is stale, and listing and
 * removing locks for `strata unlock`.
 *
 * Locks live in the repository, through the Backend interface, so they work
 * the same on a local disk and on S3. They are advisory: every strata
 * command that reads packs, writes or deletes takes one.
 *
 * Modes and what they exclude (a row's holder blocks the column's taker):
 *
 *              shared   mark   exclusive
 *   shared       -       -        X        backup, restore, dump, check, forget
 *   mark         -       X        X        prune while it marks and repacks
 *   exclusive    X       X        X        prune while it deletes; repair
 *
 * Locks held by the calling process itself never conflict with each other
 * (prune holds "mark" and takes "exclusive" for its short deleting phase).
 *
 * Never: prints. The refresher thread touches only its own Lock.
 * Thread safety: a Lock is used by the thread that took it; lock_check may
 * be called from any thread.
 */
#ifndef STRATA_STORE_LOCK_H
#define STRATA_STORE_LOCK_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/repo.h"

typedef enum LockMode {
	LOCK_SHARED    = 0,
	LOCK_MARK      = 1,
	LOCK_EXCLUSIVE = 2
} LockMode;

/* Defaults: refreshed every 5 minutes, stale after 30 minutes without a
 * refresh (six missed refreshes: a slow S3 PUT or a busy machine does not
 * make a live lock look stale). */
#define LOCK_REFRESH_S     300
#define LOCK_STALE_AFTER_S 1800
/* While waiting for a conflicting lock: the first pause about this long,
 * doubling up to LOCK_RETRY_MAX_MS, each between half and one and a half
 * times that so that two waiters do not keep colliding. A try costs a
 * PUT, a LIST, a GET per lock and a DELETE: 5 s keeps a long wait on S3
 * at about 1 request a second. */
#define LOCK_RETRY_MIN_MS  200
#define LOCK_RETRY_MAX_MS  5000

typedef struct Lock Lock;

/* Called from the refresher thread, once, when the lock can no longer be
 * trusted: its file was removed (`strata unlock --remove-all`), or it went
 * unrefreshed longer than its stale timeout (machine suspended, process
 * stopped, storage unreachable) so another process may have treated it as
 * stale. why names the cause. A command that writes must stop before it
 * writes anything else (the CLI exits at once). */
typedef void (*LockLostFn)(const char *why, void *ctx);

/* Called from lock_acquire, in the calling thread, once per file in
 * locks/ that it ignores because it cannot be a lock of this repository
 * (larger than any lock, not a sealed lock file, or failing
 * authentication: FORMAT.md §14 "Locks that cannot be read"). msg names
 * the object and why, in one line. */
typedef void (*LockWarnFn)(const char *msg, void *ctx);

typedef struct LockOptions {
	const char *command;        /* recorded in the lock, e.g. "backup" */
	int64_t refresh_s;          /* 0 = LOCK_REFRESH_S */
	int64_t stale_after_s;      /* 0 = LOCK_STALE_AFTER_S; written into the
	                               lock: readers use the holder's value */
	int64_t wait_s;             /* keep retrying a conflict this long; 0 = fail at once */
	int64_t retry_max_ms;       /* longest pause between two tries while waiting
	                               (at least 2: never a busy loop); 0 =
	                               LOCK_RETRY_MAX_MS */
	LockLostFn on_lost;         /* may be NULL: then only lock_check reports it */
	void *lost_ctx;
	LockWarnFn on_warn;         /* may be NULL: ignored files then go unmentioned */
	void *warn_ctx;
} LockOptions;

/* lock_acquire — take a lock of mode on repo: write locks/<random id>,
 * list locks/, and if a live lock of another process conflicts (table
 * above), delete ours and fail — after retrying for opts->wait_s seconds
 * (first after 0.1-0.3 s, the pause doubling up to 2.5-7.5 s or
 * opts->retry_max_ms, the last
 * try when wait_s has passed; the error is the last try's). SIGTERM,
 * SIGINT, SIGHUP and SIGQUIT are blocked in the calling thread from
 * writing our file until it is deleted after a failed try (or taken), so
 * one sent to a waiting process ends it without leaving its lock file.
 * A file in locks/ that cannot be a lock of this repository (larger than
 * OBJSIZE_LOCK_MAX, not a sealed lock file, failing authentication) is
 * ignored, reported through opts->on_warn; an authentic lock this strata
 * cannot read (a newer lock version) blocks every mode.
 * On success a thread refreshes the lock every refresh_s seconds until
 * lock_release. The Lock keeps its own backend handle and key copy, so it
 * may outlive repo.
 * Errors: STRATA_ELOCKED with a message naming the holder's command, host,
 * PID, user and start time ("repository is locked exclusively by prune on
 * host h pid 42 since ...; run `strata unlock` if it is stale"); backend
 * errors (-ENOSPC, -EACCES, -EIO) from writing the lock file. */
int lock_acquire(Repo *repo, LockMode mode, const LockOptions *opts, Lock **out,
                 StrataErr *err);

/* lock_check — 0 while the lock is held and fresh; STRATA_ELOCKED (with
 * the reason) once it is lost: its file is gone or the last successful
 * refresh is older than its stale timeout. Call before an irreversible
 * step (deleting packs). */
int lock_check(Lock *lock, StrataErr *err);

/* lock_release — stop the refresher, delete the lock file, free.
 * Accepts NULL. A failed delete leaves a lock that others will see as
 * stale (its process is gone) — never an error for the caller. */
void lock_release(Lock *lock);

/* lock_mode_name — "shared", "mark", "exclusive". */
const char *lock_mode_name(LockMode mode);

/* ---- listing and removal (strata unlock) ---- */

typedef struct LockInfo {
	char     id[STRATA_ID_HEX_LEN + 1];   /* the name below locks/ */
	int      readable;        /* 0: the file does not decode (see stale and
	                             why); the fields below are empty */
	LockMode mode;
	char     command[32];
	char     host[256];
	char     user[64];
	int64_t  pid;
	int64_t  created_ns;      /* Unix ns, holder's clock */
	int64_t  refreshed_ns;
	int64_t  stale_after_s;
	int      stale;           /* 1: no longer protects anything: its holder
	                             is gone, or (unreadable) it is not a lock of
	                             this repository and every taker ignores it;
	                             an authentic lock this strata cannot read is
	                             never stale */
	char     why[128];        /* why stale, or "alive (refreshed 2 min ago)" */
} LockInfo;

/* lock_list — every lock file with its staleness judged now (stale when
 * not refreshed for its stale_after_s, or when it names a process of this
 * machine — same host name, boot and PID namespace — that no longer runs).
 * *out malloc'ed (caller frees). */
int lock_list(Repo *repo, LockInfo **out, size_t *out_n, StrataErr *err);

/* lock_remove — delete locks/<id>. -ENOENT when already gone. */
int lock_remove(Repo *repo, const char *id, StrataErr *err);

#endif
