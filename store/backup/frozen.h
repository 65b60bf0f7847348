/* frozen.h — a point-in-time listing of the source paths, taken while the
 * processes that write them are stopped (`backup --freeze-pid`; README
 * "Consistent snapshots of a running node").
 *
 * Owns: listing every source path between BackupFreeze's stop and resume
 * (lstat of every entry, directory contents, symlink targets), and keeping
 * what the read after the resume needs of each regular file that changed
 * since the files cache saw it: the file is opened while the writers are
 * stopped and the descriptor kept until backup.c reads it, up to the size
 * it had then; a file of at most FROZEN_COPY_MAX bytes is copied whole
 * into memory instead. Files the cache says are unchanged are not
 * touched: their chunks come from the cache.
 *
 * The guarantee: the snapshot holds the source as it was at the moment
 * every writer thread stopped, the state a crash-safe writer recovers
 * from after being killed, given that after its resume the writer does
 * not overwrite bytes of a file below the size the file had at the
 * freeze. Appending, creating, renaming and deleting files are fine (a
 * deleted file lives on in the kept descriptor); rewriting in place is
 * only covered for files of at most FROZEN_COPY_MAX bytes.
 *
 * Never: writes to the source file system (no staging directory: nothing
 * to clean up after a crash or SIGKILL, since the kernel closes the
 * descriptors; no hard links, whose ctime change would make the files
 * cache re-read every such file on the next run; works on a full or
 * read-only file system); reads file contents beyond the small copies.
 * Thread safety: one thread.
 */
#ifndef STRATA_STORE_FROZEN_H
#define STRATA_STORE_FROZEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "store/backup/backup.h"
#include "store/error.h"
#include "store/backup/filescache.h"

/* Changed files up to this size are copied into memory while the writers
 * are stopped (a read from the page cache, ~10 µs), so that small files a
 * writer rewrites in place (state files, CURRENT-like pointers) are exact
 * too; copies take no file descriptor. */
#define FROZEN_COPY_MAX ((uint64_t)64 << 10)
/* At most this much copied in one listing: beyond it files are kept open
 * instead, so a first backup of many small files does not stop the
 * writers for long. */
#define FROZEN_COPY_TOTAL ((uint64_t)16 << 20)

/* One entry as it was at the freeze. */
typedef struct FrozenEntry {
	char *name;                   /* for a root: its full path */
	int err;                      /* lstat's -errno at the freeze; then st is unset */
	struct stat st;               /* lstat at the freeze (fstat of the file kept) */
	char *link;                   /* symlink target; NULL with link_err set */
	int link_err;
	int fd;                       /* changed regular file kept open; -1: none */
	uint8_t *copy;                /* or its bytes copied (st.st_size of them) */
	int open_err;                 /* changed file that could not be opened: -errno */
	int unheld;                   /* changed, but over the open-file budget: not kept */
	int empty;                    /* changed and empty: nothing to keep */
	struct FrozenEntry *kids;     /* directory: entries sorted bytewise, excludes left out */
	size_t nkids;
	int dir_err;                  /* directory that could not be listed: -errno */
} FrozenEntry;

typedef struct FrozenStats {
	uint64_t entries;             /* entries listed */
	uint64_t files_held;          /* changed files kept open */
	uint64_t files_copied;        /* changed files copied into memory */
	uint64_t bytes_copied;
	uint64_t files_unheld;        /* changed files beyond the open-file budget */
	int      not_stopped;         /* the writers did not stop within max_ns */
	int      overrun;             /* resumed at max_ns before the listing ended */
	char     overrun_at[256];     /* the first path listed after that resume */
	int64_t  listing_ns;          /* from the stop request to the resume */
} FrozenStats;

typedef struct Frozen Frozen;

/* frozen_scan — stop the writers (opts->freeze), list roots (absolute,
 * clean paths; one inside another is listed once) with opts->excludes
 * applied below each root as backup.c applies them, keep the changed
 * files (compared with fc, which may be NULL: then every file changed;
 * so does opts->force_reread), and resume the writers — at the latest
 * after opts->freeze->max_ns, finishing the listing live (stats say so).
 * The per-process open-file limit bounds the files kept (a quarter of it
 * beyond 256 stays free for the repository). Returns 0, or an error
 * (out of memory, the writers could not be stopped) with the writers
 * running. */
int frozen_scan(FilesCache *fc, const char *const *roots, size_t nroots, const BackupOptions *opts,
                Frozen **out, StrataErr *err);

/* frozen_find — the entry for an absolute clean path under one of the
 * roots, or NULL (a path above the roots, or one the listing did not
 * see). Owned by fz. */
FrozenEntry *frozen_find(Frozen *fz, const char *path);

/* frozen_kept — 1 when e is a changed file kept (open or copied). */
int frozen_kept(const FrozenEntry *e);

/* frozen_take_fd — hand over e's kept file as a descriptor positioned at
 * 0 (the caller closes it): the one kept open, or a memfd made from the
 * copy. -1 when none is kept, or with errno set when the memfd cannot be
 * made. */
int frozen_take_fd(FrozenEntry *e);

const FrozenStats *frozen_stats(const Frozen *fz);

/* frozen_free — close every descriptor still kept, free. Accepts NULL. */
void frozen_free(Frozen *fz);

#endif
