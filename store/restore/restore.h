/* restore.h — the restore engine: a snapshot (or part of it) back to files.
 *
 * Owns: recreating files, directories, symlinks, hard links, devices and
 * FIFOs with their metadata under a target directory; streaming one file to
 * a descriptor (dump). Every chunk is authenticated (its AEAD tag binds
 * type and ID) before a byte of it is written; dump also re-checks the
 * keyed hash, restore does not (FORMAT.md section 8: check --read-data
 * does).
 *
 * Safety: never writes outside the target (names from a tree are checked:
 * no "/", no ".", no ".."; the engine never follows a symlink it created);
 * existing files are not replaced unless overwrite is set. Another local
 * user who can rename entries in a directory of the target during the
 * restore cannot redirect a change of owner, mode or time, or a hard link,
 * to a file elsewhere (store/restore/restore_node.h); as root, existing
 * directories such a user controls are refused unless allow_foreign_dirs.
 *
 * Never: prints. Thread safety: one restore per Repo at a time.
 */
#ifndef STRATA_STORE_RESTORE_H
#define STRATA_STORE_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/repo.h"
#include "store/snapshot.h"

typedef struct RestoreProgress {
	uint64_t files_done;
	uint64_t bytes_done;
	const char *current;
	uint64_t cold_pending;     /* with cold_wait: packs still being thawed */
} RestoreProgress;

typedef void (*RestoreProgressFn)(const RestoreProgress *p, void *ctx);

/* Called (from the walk's thread) for each entry --delete removes, or
 * would remove with dry_run: path relative to the target, is_dir 1 for a
 * directory (removed with everything below it). */
typedef void (*RestoreDeleteFn)(const char *path, int is_dir, void *ctx);

/* RestoreOptions.delta */
enum {
	RESTORE_DELTA_OFF = 0,
	RESTORE_DELTA_FULL,    /* reuse an existing file's chunks whose keyed hash matches */
	RESTORE_DELTA_FAST     /* the same, but trust a file whose size and mtime match */
};

typedef struct RestoreOptions {
	const char *target;                             /* created if missing */
	const char *const *includes; size_t nincludes;  /* snapshot paths to restore; none = all */
	int overwrite;                                  /* replace existing files */
	int threads;                                    /* 0 = max(8, 2 x cores), 16 for S3 */
	/* Called by the tree walk after each entry and by fetch workers after
	 * each range written, possibly from several threads at once; current
	 * is NULL in the workers' calls. */
	RestoreProgressFn progress; void *progress_ctx;
	int cold_wait;             /* archived packs: request a thaw, then poll until readable */
	unsigned cold_poll_s;      /* seconds between polls; 0 = 60 */
	unsigned cold_days;        /* days a thawed copy stays readable; 0 = 7 */
	int verify;                /* also recompute each data chunk's keyed hash */
	/* As root: work inside existing directories (the target included)
	 * owned by another user or writable by group or others without the
	 * sticky bit. Still safe against renames there, but what lies below
	 * such a directory can be redirected by its owner to places that
	 * user may write to. */
	int allow_foreign_dirs;
	/* Delta restore over an existing tree (implies overwrite): a regular
	 * file already at a file's place is compared with the snapshot's
	 * chunks (store/restore/restore_delta.h); one that holds them all is
	 * kept (only its metadata set), one that holds some is rebuilt in a
	 * temporary file of its directory from its own bytes plus the chunks
	 * fetched, then renamed over it: each file is either old or new,
	 * whenever the restore stops. Chunks a file lacks are also taken
	 * from the directory's strays (files the snapshot does not hold
	 * there: a compacted table's successor). Pack ranges are merged
	 * across gaps of 64 KiB only: the chunks needed are scattered. */
	int delta;                 /* RESTORE_DELTA_* */
	/* --delete: in each directory restored whole, remove the entries the
	 * snapshot does not hold there (and one of the wrong kind: a directory
	 * where the snapshot has a file, or the reverse), never following a
	 * symlink, never crossing into another file system; outside the
	 * restored paths nothing is touched. */
	int delete_strays;
	/* Change nothing: only report (on_delete) what --delete would remove. */
	int dry_run;
	RestoreDeleteFn on_delete; void *delete_ctx;
	/* Owners (as root): by default an entry's user and group are the IDs
	 * the restoring host gives the names the snapshot recorded for them
	 * (FORMAT.md §12 "owners"), as tar does; an ID without a recorded
	 * name, or whose name this host lacks, stays as it is. numeric_owner:
	 * the IDs as stored, always. */
	int numeric_owner;
	/* Restore into a new place: the first strip_components directories
	 * of every path are left out (their entries land one level up, at
	 * the target; files at those levels are not restored), as tar's
	 * --strip-components: /var/lib/node/data with 3 comes back as
	 * TARGET/data. --delete then cleans only directories below that
	 * level, never the target itself (several stripped directories may
	 * land there). */
	unsigned strip_components;
	/* Entries not to restore: a pattern (fnmatch, '*' also matches '/')
	 * matching an entry's path in the snapshot or a tail of it made of
	 * whole names ("state/sub", "*.log"; one starting with '/' only the
	 * whole path); an excluded directory is not entered. --delete leaves
	 * what an exclude matches alone. */
	const char *const *excludes; size_t nexcludes;
} RestoreOptions;

typedef struct RestoreResult {
	uint64_t files;
	uint64_t dirs;
	uint64_t bytes;
	uint64_t errors;       /* entries that could not be restored */
	uint64_t requests;     /* ranged reads of data packs (one per planned range) */
	uint64_t bytes_fetched;/* bytes those reads returned */
	uint64_t cold_packs;   /* packs found archived (thaw requested or under way) */
	/* With delta: */
	uint64_t files_skipped;/* existing files kept: they hold the snapshot's content */
	uint64_t files_updated;/* files rebuilt from bytes already there (their own or a stray's) plus fetched chunks */
	uint64_t bytes_reused; /* content bytes taken from existing files, not fetched */
	uint64_t bytes_compared;/* bytes of existing files read to compare them */
	uint64_t deleted;      /* entries --delete removed (or would, with dry_run) */
} RestoreResult;

/* restore_run — restore snap under opts->target.
 *
 * Reads (store/restore/restore_plan.h): the walk creates entries and queues the
 * chunks of files in batches (bounded by open files and references);
 * each batch is planned by pack, each pack read once or in a few
 * coalesced ranges (from S3 at most 8 MiB each, about eight in flight;
 * locally whole packs, two or three), every distinct chunk decrypted once
 * and written to each place that needs it (pwritev of runs). From S3 the
 * walk's trees come from whole tree packs fetched once
 * (store/blob_read.h) and are loaded ahead of the walk. All-zero
 * chunks become holes. File metadata is applied through the open
 * descriptor once its content is written; a directory's once its entries
 * exist. The process's open-file soft limit is raised to its hard limit.
 *
 * Archived packs (S3 GLACIER/DEEP_ARCHIVE, backend -ENODATA): every data
 * pack the restore needs gets a thaw request (backend_thaw); without
 * cold_wait the restore stops with -EAGAIN saying how many are pending
 * (out_result->cold_packs); with it, the restore polls the archived ranges
 * every cold_poll_s seconds and finishes.
 *
 * Errors: STRATA_EDAMAGED (a chunk is missing or fails its check; the
 * message names chunk, pack and path), STRATA_ENOTFOUND (an include path
 * is not in the snapshot), STRATA_EEXIST (a file exists and !overwrite),
 * STRATA_EREFUSED (as root, an existing directory another user controls
 * and !allow_foreign_dirs; or an entry replaced by someone else between
 * its creation and its metadata: the message names the path), -errno for
 * the target filesystem. */
int restore_run(Repo *repo, const Snapshot *snap, const RestoreOptions *opts,
                RestoreResult *out_result, StrataErr *err);

/* restore_dump — write the content of the regular file at path in snap to
 * fd; *out_bytes (may be NULL) counts the bytes written, also on failure.
 * STRATA_ENOTFOUND if absent, STRATA_EUSAGE if it is not a file. */
int restore_dump(Repo *repo, const Snapshot *snap, const char *path, int fd, uint64_t *out_bytes,
                 StrataErr *err);

#endif
