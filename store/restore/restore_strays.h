/* restore_strays.h — restore --delete: what a directory of the target
 * holds that the snapshot's directory does not.
 *
 * Owns: listing one target directory against its tree and removing the
 * strays: names the tree lacks, and names of the wrong kind (a directory
 * where the tree has something else, or something else where it has a
 * directory). A stray directory goes with everything below it.
 *
 * Safety: works only below the directory descriptor it is given (the
 * restore's walk opened it without following symlinks); a symlink is
 * removed, never followed; a directory is entered only through
 * openat(O_NOFOLLOW|O_DIRECTORY) and only on the file system of the
 * directory being cleaned (a mount point below is refused, not emptied).
 *
 * Never: prints (each removal is reported through the callback).
 * Thread safety: stateless.
 */
#ifndef STRATA_STORE_RESTORE_STRAYS_H
#define STRATA_STORE_RESTORE_STRAYS_H

#include <stdint.h>

#include "store/error.h"
#include "store/restore/restore.h"
#include "store/tree.h"

/* restore_strays_remove — remove the strays of the directory open as
 * dirfd (path: its path relative to the target, "" for the target) with
 * respect to t (its tree, sorted by name); with dry_run only report them.
 * fn (may be NULL) gets each stray's path before it is removed; *out_n
 * counts them. Errors: STRATA_EREFUSED for a stray directory on another
 * file system (message naming it), -errno (message naming the entry). */
int restore_strays_remove(int dirfd, const char *path, const Tree *t, int dry_run, RestoreDeleteFn fn,
                          void *ctx, uint64_t *out_n, StrataErr *err);

/* restore_strays_files — open each stray of the directory that is a
 * regular file (read-only, O_NOFOLLOW; one that cannot be opened is
 * passed over) and give it to fn with its size and path, which takes the
 * descriptor whatever it returns; an error from fn stops the walk. For a
 * delta restore's donors (store/restore/restore_delta.h). */
typedef int (*RestoreStrayFileFn)(int fd, uint64_t size, const char *path, void *ctx, StrataErr *err);
int restore_strays_files(int dirfd, const char *path, const Tree *t, RestoreStrayFileFn fn, void *ctx,
                         StrataErr *err);

#endif
