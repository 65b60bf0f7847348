/* restore.h — the restore engine: a snapshot (or part of it) back to files.
 *
 * Owns: recreating files, directories, symlinks, hard links, devices and
 * FIFOs with their metadata under a target directory; streaming one file to
 * a descriptor (dump). Every chunk is authenticated and its keyed hash
 * re-checked before a byte of it is written.
 *
 * Safety: never writes outside the target (names from a tree are checked:
 * no "/", no ".", no ".."; the engine never follows a symlink it created);
 * existing files are not replaced unless overwrite is set.
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
} RestoreProgress;

typedef void (*RestoreProgressFn)(const RestoreProgress *p, void *ctx);

typedef struct RestoreOptions {
	const char *target;                             /* created if missing */
	const char *const *includes; size_t nincludes;  /* snapshot paths to restore; none = all */
	int overwrite;                                  /* replace existing files */
	int threads;                                    /* 0 = number of cores */
	RestoreProgressFn progress; void *progress_ctx;
} RestoreOptions;

typedef struct RestoreResult {
	uint64_t files;
	uint64_t dirs;
	uint64_t bytes;
	uint64_t errors;       /* entries that could not be restored */
} RestoreResult;

/* restore_run — restore snap under opts->target.
 * Errors: STRATA_EDAMAGED (a chunk is missing or fails its check; the
 * message names chunk, pack and path), STRATA_ENOTFOUND (an include path
 * is not in the snapshot), STRATA_EEXIST (a file exists and !overwrite),
 * -errno for the target filesystem. */
int restore_run(Repo *repo, const Snapshot *snap, const RestoreOptions *opts,
                RestoreResult *out_result, StrataErr *err);

/* restore_dump — write the content of the regular file at path in snap to
 * fd. STRATA_ENOTFOUND if absent, STRATA_EUSAGE if it is not a file. */
int restore_dump(Repo *repo, const Snapshot *snap, const char *path, int fd, StrataErr *err);

#endif
