/* backup.h — the backup engine: source paths or a stream in, a snapshot out.
 *
 * Owns: walking source paths (with excludes), chunking and storing file
 * contents, building tree objects bottom-up, and writing the snapshot last,
 * after the index file that covers every new pack is durable.
 *
 * Never: prints. Progress and per-file reports go through callbacks.
 * Thread safety: one backup_run per Repo at a time.
 */
#ifndef STRATA_STORE_BACKUP_H
#define STRATA_STORE_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/lock.h"
#include "store/repo.h"
#include "store/snapshot.h"

typedef struct BackupProgress {
	uint64_t files_done;
	uint64_t bytes_done;       /* logical bytes processed */
	uint64_t bytes_read;
	uint64_t bytes_added;
	const char *current;       /* path being processed; valid during the call */
} BackupProgress;

typedef void (*BackupProgressFn)(const BackupProgress *p, void *ctx);

/* A file that could not be read (error != 0) or, with verbose reporting,
 * every file processed (error == 0; status "new", "changed", "unchanged"). */
typedef void (*BackupFileFn)(const char *path, const char *status, int error,
                             const char *message, void *ctx);

/* Stopping the processes that write the source while it is listed
 * (`backup --freeze-pid`; tools/cli/doc/consistency.md, store/backup/frozen.h).
 * stop returns 0 once the writers are stopped, 1 when they did not stop
 * within max_ns (they run again; the listing is then not point-in-time),
 * or an error (nothing stopped). resume returns 0, or 1 when the writers
 * had been resumed by something else meanwhile (a signal handler): the
 * listing is then not point-in-time either. */
typedef struct BackupFreeze {
	int  (*stop)(void *ctx, StrataErr *err);
	int  (*resume)(void *ctx);
	void *ctx;
	int64_t max_ns;           /* resume after this long, listing or not */
} BackupFreeze;
/* A source path read from another directory that holds a copy of it: a
 * filesystem snapshot (store/backup/fssnap.h) or a snapshot the operator
 * mounted (`backup --as`). Everything at or below path is read at the
 * same place below read_at, and recorded under path (tree names, the
 * files cache, partial lists), with device number dev: each snapshot has
 * a device number of its own, and the files cache must see the files
 * under one that stays the same from run to run (inode numbers,
 * sizes and times are those of the original in such copies).
 * Holes are paths below path that the copy does not hold (a filesystem
 * mounted there); a directory in the copy whose inode number is hole_ino
 * (btrfs: 2, where a nested subvolume was) is one too. A hole is read
 * live from its own path, which makes the snapshot partial (not a
 * point-in-time copy there), unless its name matches hide (fnmatch(3);
 * NULL: none): then it is left out silently. */
typedef struct BackupView {
	const char *path;             /* absolute and clean, as recorded */
	const char *read_at;
	uint64_t dev;
	uint64_t hole_ino;            /* 0: none */
	const char *const *holes;  size_t nholes;   /* absolute and clean, below path */
	const char *hide;
} BackupView;

/* BackupStreamEndFn — see BackupOptions.stream_end. */
typedef int (*BackupStreamEndFn)(void *ctx, uint64_t bytes, StrataErr *err);

typedef struct BackupOptions {
	const char *const *paths;  size_t npaths;    /* source paths */
	const char *host;                             /* NULL = this host's name */
	const char *const *tags;   size_t ntags;
	const char *const *labels; size_t nlabels;    /* "key=value" */
	const char *const *excludes; size_t nexcludes;/* fnmatch(3) globs */
	int   compression_level;                      /* zstd level; 0 = CODEC_ZSTD_DEFAULT_LEVEL */
	int   stdin_fd;                               /* >= 0: back up this stream */
	const char *stdin_name;                       /* its file name in the snapshot */
	const char *parent;                           /* snapshot ref; NULL = automatic */
	int   include_partial;                        /* the automatic parent, and "latest",
	                                               * may be a partial snapshot */
	int   force_reread;                           /* ignore the files cache */
	int   verify_prefix_full;                     /* appended files: re-read the whole old prefix */
	int   threads;                                /* 0 = number of cores */
	int64_t time_ns;                              /* 0 = now; for tests and imports */
	BackupProgressFn progress; void *progress_ctx;
	BackupFileFn     on_file;  void *file_ctx;
	int   report_all_files;                       /* call on_file for every file */
	Lock *lock;                                   /* held lock, checked just before the
	                                               * snapshot is written; NULL = none */
	const BackupFreeze *freeze;                   /* list the paths while these writers
	                                               * are stopped; NULL = read live */
	const BackupView *views;   size_t nviews;     /* read these source paths elsewhere
	                                               * (not with freeze); a path is read
	                                               * through the innermost view holding it */
	/* For tests only (NULL otherwise): called for each regular file read,
	 * with phase "open" between its lstat and its open, and "read" between
	 * the end of its read and its second stat, so that a test can make the
	 * file vanish, change or be replaced at exactly that point. */
	void (*test_hook)(const char *phase, const char *path, void *ctx);
	void *test_hook_ctx;
	/* With stdin_fd (and tar_import): called once the stream reached its
	 * end and all of it is stored, before anything is committed, with the
	 * bytes read. Non-zero (err filled): no snapshot is written and that
	 * error is returned. (--stdin-from-command: the producer's exit
	 * status.) NULL: none. */
	BackupStreamEndFn stream_end;
	void *stream_end_ctx;
	/* Change tracking (store/backup/changeset.h; NULL: none): the walk
	 * lists only the directories marked CHANGESET_RELIST, stats only the
	 * entries marked or on the way to a mark, and takes every other entry
	 * (a whole subtree for a directory) from snapshot changes_parent
	 * unchanged. Used only when changes_parent is the snapshot this backup
	 * records as its parent (opts->parent, else the automatic one), is
	 * complete (not partial) and has the same source paths; else the
	 * source is scanned whole (BackupResult.changes_fallback says why).
	 * The caller vouches that the parent was made with the same excludes
	 * and views, and that every path changed since holds a mark. */
	const struct ChangeSet *changes;
	const uint8_t *changes_parent;     /* STRATA_ID_LEN bytes */
	/* Hard links: every name of a file with more than one link in the
	 * parent must be marked CHANGESET_STAT | CHANGESET_LINK (from the
	 * previous run's BackupResult.link_paths), since a change through one
	 * name (chmod, a write, a link removed) changes the nodes of all of
	 * them. A file met with more than one link whose name is not so
	 * marked and whose (device, inode) is not one of link_inodes (the
	 * parent's hard-linked files: a link made since to a file that had
	 * one) may have other names nobody marked: the walk then starts again
	 * as a full scan, unless changes_links_exact (the change set names
	 * every name of every changed inode: btrfs). */
	int changes_links_exact;
	const uint64_t (*link_inodes)[2];  /* (device, inode) pairs sorted by backup_cmp_devino */
	size_t nlink_inodes;
} BackupOptions;

typedef struct BackupResult {
	uint8_t snapshot_id[STRATA_ID_LEN];
	SnapshotSummary summary;
	/* The snapshot is partial (FORMAT.md §12): partial_count paths
	 * vanished, could not be read or changed while read; the first
	 * npartial_paths of them, owned (backup_result_clear). */
	int partial;
	uint64_t partial_count;
	SnapshotPartialPath *partial_paths;
	size_t npartial_paths;
	/* With opts->changes: 1 when the change set was used, else why not
	 * ("" when it was). dirs_visited counts the directories whose entries
	 * were looked at (listed, or taken from the parent's tree and some
	 * re-stat'ed), with or without a change set. */
	int changes_used;
	char changes_fallback[256];
	uint64_t dirs_visited;
	/* The names of the files with more than one link in the snapshot
	 * (what the next backup marks CHANGESET_LINK), owned; NULL with
	 * link_paths_known 0 when the walk did not see all of them. */
	char **link_paths;
	uint64_t (*link_inodes)[2];        /* each one's (device, inode) */
	size_t nlink_paths;
	int link_paths_known;
} BackupResult;

/* backup_run — back up and write a snapshot.
 * A source file that vanished, could not be read (result->summary.errors
 * counts those) or changed while it was read (size, mtime or ctime
 * differ between the lstat before and the fstat after its read; another
 * file than the one lstat saw under its name; a directory whose entries
 * changed while it was read) makes the snapshot partial (FORMAT.md §12).
 * Returns 0; STRATA_EPARTIAL when a partial snapshot was written; another
 * error when no snapshot was written (the repository stays valid), among
 * them STRATA_EREFUSED when opts->freeze was given but the result would
 * not be a point-in-time copy (the listing outlasted max_ns, the writers
 * did not stop, or a changed file could not be kept open).
 * *out_result (may be NULL) is filled when a snapshot was written; clear
 * it with backup_result_clear. */
int backup_run(Repo *repo, const BackupOptions *opts, BackupResult *out_result, StrataErr *err);

/* backup_path_clean — path made absolute and lexically clean
 * ("a/./b/../c" → "/cwd/a/c"), as backup_run records source paths, into
 * out (PATH_MAX bytes). 0, -ENAMETOOLONG, or -errno from getcwd. */
int backup_path_clean(const char *in, char *out);

/* backup_result_clear — free what *r owns and zero it. Accepts NULL. */
void backup_result_clear(BackupResult *r);

/* backup_cmp_devino — qsort/bsearch order of (device, inode) pairs
 * (uint64_t[2]), as BackupOptions.link_inodes is sorted. */
int backup_cmp_devino(const void *a, const void *b);

#endif
