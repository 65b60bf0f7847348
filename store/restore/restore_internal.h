/* restore_internal.h — what the files of the restore engine share
 * (restore.c the walk, restore_batch.c the batch of open files,
 * restore_fetch.c the range workers, restore_cold.c archived packs,
 * restore_trees.c the tree prefetch, restore_meta.c owners and metadata,
 * restore_update.c a --delta file over its old version, restore_ahead.c
 * directories whose files a pool creates ahead of the walk): the context of
 * one restore_run and the functions they call across files. Nothing
 * outside store/restore/ includes it.
 *
 * Thread safety: Ctx belongs to the walk's thread; the range and thaw
 * workers touch only what is marked "under mu" (and read the batch's
 * files and plan, which the walk leaves alone while jobs run); the tree
 * prefetch workers only TreeFetch records, under tmu; the create
 * workers only their AheadDir (done under amu).
 */
#ifndef STRATA_STORE_RESTORE_INTERNAL_H
#define STRATA_STORE_RESTORE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "store/error.h"
#include "store/index.h"
#include "store/repo.h"
#include "store/restore/bufpool.h"
#include "store/restore/restore.h"
#include "store/restore/restore_delta.h"
#include "store/restore/restore_links.h"
#include "store/restore/restore_plan.h"
#include "store/snapshot.h"
#include "store/sys/workpool.h"
#include "store/tree.h"

/* ---- tree prefetch ----
 *
 * The walk loads one tree per directory, each a request; from S3 that is
 * a round trip per directory, in series (thousands of directories:
 * minutes). So the walk asks a small pool to load the trees of the next
 * TREE_AHEAD subdirectories of each directory while it works, and takes
 * them from restore_trees.c when it descends. Held trees are bounded by
 * TREE_AHEAD per level of the current path. */
#define TREE_AHEAD   64
#define TREE_THREADS 16
/* Tree packs held (store/blob_read.h): four default 16 MiB packs. */
#define TREE_CACHE_MAX ((size_t)64 << 20)

/* ---- files created ahead of the walk (restore_ahead.c) ----
 *
 * Creating a small file costs the kernel far more than anything strata
 * does for it (ext4's inode allocation: 95 % of a 100,000-file restore's
 * time), and creates in one directory are serialised by its lock. So in
 * each directory the walk makes the next AHEAD_DIRS subdirectories
 * itself (mkdirat, open, their trees) and a pool of AHEAD_THREADS creates
 * their files, one job per directory, while the walk works on the
 * current one. */
#define AHEAD_DIRS    4
#define AHEAD_THREADS 4

typedef struct AheadDir {
	struct Ctx *ctx;
	size_t idx;                /* its entry in the parent's tree */
	int fd;                    /* the directory, made by this restore (0700); counted in
	                            * Ctx.nahead until the walk takes it */
	Tree t;
	int *fds;                  /* per entry of t: the file created (O_EXCL), or -1 */
	size_t held;               /* descriptors the walk counted in Ctx.nahead */
	int done;                  /* the job has finished; under ctx->amu */
} AheadDir;

typedef struct PendFile {
	int fd;
	int complete;              /* every chunk queued: metadata may follow */
	uint32_t mode, uid, gid;
	int64_t mtime_ns;
	uint64_t size;
	/* Made by this restore (O_EXCL) and not yet sized: after its content
	 * the finish checks size, owner and mode with one fstat and changes
	 * only what differs (a file ending in a hole is short). */
	int fresh;
	char *path;                /* relative to the target, for messages */
	/* Delta restore: the file is written as tmp in dirfd (a duplicate,
	 * -1 otherwise) and renamed over its name once complete. */
	int dirfd;
	char *tmp;
} PendFile;

/* The IDs of this host for the owners a snapshot names (map_owner). */
typedef struct IdMapEntry {
	uint32_t from, to;
} IdMapEntry;

typedef struct IdMap {
	IdMapEntry *v;
	size_t n;
} IdMap;

typedef struct Ctx {
	Repo *repo;
	Index *ix;
	const RestoreOptions *opts;
	WorkPool *pool;
	int root_fd;
	int is_root;
	uid_t euid;
	gid_t egid;
	pthread_mutex_t mu;
	int fatal;
	StrataErr ferr;
	StrataErr *err;
	RestoreResult res;
	RestoreProgress prog;
	RestoreLinks links;            /* hard-link groups */
	char **includes;
	size_t nincludes;
	const Snapshot *snap;
	RestorePlan *plan;
	PendFile *files;
	size_t nfiles, files_cap, files_max;
	size_t ndirfds;            /* PendFile.dirfd held: they count against files_max */
	RestoreDonors *donors;     /* delta: the current directory's strays, or NULL */
	IdMap users, groups;       /* snapshot's owner IDs -> this host's (as root) */
	size_t *cold;              /* ranges of the batch that met archived packs; under mu */
	size_t ncold, cold_cap;
	int thawed;                /* thaw requests sent for the whole restore */
	BufPool bufs;              /* range buffers and windows, reused */
	/* Tree prefetch (S3 only, see restore_trees_get): a pool loading the trees of
	 * the next subdirectories while the walk works, and what it loaded. */
	WorkPool *tpool;
	pthread_mutex_t tmu;
	pthread_cond_t tcv;
	struct TreeFetch *tfetch;  /* under tmu */
	/* Files created ahead (restore_ahead.c): on only where nothing can be
	 * in a new directory's way (ahead_on); the descriptors they hold
	 * count against files_max. */
	int ahead_on;
	WorkPool *cpool;
	pthread_mutex_t amu;
	pthread_cond_t acv;
	size_t nahead, ahead_max;
	AheadDir *ready;           /* prepared, for the restore_entry about to run */
	AheadDir *cur;             /* the directory the walk is in, if it was prepared */
} Ctx;

/* One tree being loaded ahead of the walk. */
typedef struct TreeFetch {
	Ctx *ctx;
	uint8_t id[STRATA_ID_LEN];
	int done;                  /* under ctx->tmu */
	int rc;
	StrataErr err;
	Tree t;
	struct TreeFetch *next;
} TreeFetch;

/* restore.c, the walk. */

/* errno as the restore's error: "PATH: WHAT: strerror". Returns -errno. */
int restore_fail_errno(Ctx *c, const char *path, const char *what);

/* 2 restore path whole, 1 only descend (an include lies below), 0 skip. */
int restore_wanted(const Ctx *c, const char *path);

/* restore_batch.c: the files of a batch, created and open, and their chunks. */

/* Room for one more open file in the batch (flushing it when full). */
int restore_batch_reserve(Ctx *c);

/* Add the file just created, open as fd, to the batch and queue its
 * chunks (those delta lacks, with delta); takes fd, dirfd and tmp (a
 * delta file: written as tmp in dirfd) whatever happens. */
int restore_batch_queue(Ctx *c, int fd, int dirfd, char *tmp, const TreeNode *n, const char *path,
                        const RestoreLink *first, const RestoreDelta *delta, int old_fd);

/* Restore the batch: plan, fetch and write every range, then apply the
 * metadata of the complete files and close them. */
int restore_batch_flush(Ctx *c);

/* Close the batch's files from from on (no temporary left behind). */
void restore_batch_close(Ctx *c, size_t from);

/* restore_fetch.c: the workers that fetch a batch's ranges. */

/* The first error of a job becomes the restore's (under mu). */
void restore_fetch_set_fatal(Ctx *c, int rc, const StrataErr *err);

/* Queue range ri of the plan for the pool. -ENOMEM (message). */
int restore_fetch_submit(Ctx *c, size_t ri);

/* Wait for the pool; the first job error becomes the restore's. */
int restore_fetch_wait(Ctx *c);

/* restore_cold.c: ranges that met archived packs (c->cold). */
int restore_cold_handle(Ctx *c);

/* restore_trees.c: trees loaded ahead of the walk (S3 only). */
void restore_trees_prefetch(Ctx *c, const uint8_t id[STRATA_ID_LEN]);
int restore_trees_get(Ctx *c, const uint8_t id[STRATA_ID_LEN], Tree *out);
void restore_trees_free(Ctx *c);

/* restore_meta.c: owners and metadata through descriptors. */
int restore_meta_idmap(IdMap *m, const SnapshotOwner *v, size_t n, int group);
uint32_t restore_meta_map_id(const IdMap *m, uint32_t id);
/* Owner, mode and times of a file through fd; st (or NULL) its status
 * now, so what already is as wanted is not set again. Returns the errors
 * to count (a chown refused): 0 or 1. Safe from several threads at once
 * (reads c only). */
int restore_meta_file(const Ctx *c, int fd, uint32_t uid, uint32_t gid, uint32_t mode, int64_t mtime_ns,
                      const struct stat *st);
void restore_meta_dir(Ctx *c, int fd, const TreeNode *n);

/* restore_ahead.c: directories prepared ahead of the walk. */

/* Whether this restore creates files ahead: only where nothing can be in
 * the way or left out (no includes, excludes, stripped levels, --delta,
 * --delete), and only with the pool made. */
int restore_ahead_enabled(const Ctx *c);

/* Make directory n (entry idx of the directory open as dirfd) now, load
 * its tree and queue the creation of its single-link files; NULL when it
 * is not prepared (no room, it exists, anything failed): the walk then
 * does it all itself, with the messages. private as restore_entry's. */
AheadDir *restore_ahead_prepare(Ctx *c, int dirfd, int private, const TreeNode *n, size_t idx);

/* Wait for a's job. */
void restore_ahead_wait(Ctx *c, AheadDir *a);

/* The file created ahead for n in the directory the walk is in, or -1. */
int restore_ahead_take(Ctx *c, const TreeNode *n);

/* Close what a still holds (files never taken, its directory and tree
 * unless taken) and free it. Accepts NULL. */
void restore_ahead_free(Ctx *c, AheadDir *a);

/* restore_update.c: restore --delta of one file over the entry of its name. */
int restore_update_file(Ctx *c, int dirfd, const TreeNode *n, const char *path, const RestoreLink *first);

#endif
