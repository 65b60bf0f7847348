/* restore_node.h — creating entries under a restore target and setting
 * their metadata without ever naming them again.
 *
 * Owns: the rules that keep a restore safe against another local user who
 * can rename entries in a directory of the target while the restore runs
 * (FORMAT.md §14 "Restore into directories other users control"): an
 * entry's owner, mode and times are changed only through a descriptor of
 * that entry, opened with O_PATH|O_NOFOLLOW right after it was created and
 * checked to be the node just made; a hard link is made from a descriptor
 * of the group's first member, never from a path; and, as root, a
 * directory that another user owns or may write to is refused unless the
 * caller allows it, and one made in such a directory is checked to be the
 * one made.
 *
 * Never: follows a symlink at or below the target, changes anything by
 * name, prints. Thread safety: stateless; call from any thread.
 *
 * Needs /proc for two things Linux offers no descriptor call for: the mode
 * of a node open with O_PATH (fchmod refuses such descriptors; chmod of
 * /proc/self/fd/N reaches the inode itself), and a hard link from a
 * descriptor without CAP_DAC_READ_SEARCH. Without /proc, those fail (and
 * restore falls back to copies for hard links); nothing becomes unsafe.
 */
#ifndef STRATA_STORE_RESTORE_NODE_H
#define STRATA_STORE_RESTORE_NODE_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "store/error.h"

/* restore_node_dir_check — for a restore as root: may it work inside the
 * existing directory open as fd, and can anyone but root rename entries
 * in it? Refuses (STRATA_EREFUSED, message naming path and the option
 * --allow-foreign-dirs) a directory owned by anyone but root, or writable
 * by its group or others without the sticky bit, unless allow_foreign. A
 * sticky root-owned directory (/tmp's 01777) passes: others may add names
 * to it but cannot rename or remove root's entries, so they cannot swap
 * what the restore creates, and names they planted first are met as
 * existing entries (directories are checked by this call, the rest need
 * --overwrite). *out_private: 1 if only root can rename entries in it
 * (root's, no write for group or others), else 0. -errno if fstat fails. */
int restore_node_dir_check(int fd, const char *path, int allow_foreign, int *out_private, StrataErr *err);

/* restore_node_dir_new — check that the directory open as fd is the one
 * the restore just made with mkdirat(..., 0700) in a directory others may
 * rename entries in: a directory of owner (the effective uid) that grants
 * nothing to group or others (one moved in from elsewhere is writable by
 * whoever moved it). STRATA_EREFUSED (message naming path) otherwise,
 * -errno if fstat fails. */
int restore_node_dir_new(int fd, uid_t owner, const char *path, StrataErr *err);

/* restore_node_open_new — open the node just created as name in dirfd
 * (mkfifoat/mknodat with mode 0, or symlinkat) with O_PATH|O_NOFOLLOW
 * and check that it still is that node: of type type (S_IFIFO, S_IFCHR,
 * S_IFBLK or S_IFLNK), owned by owner (the effective uid), with one link,
 * and for FIFOs and devices mode 0 and, for devices, device number rdev.
 * Writes *out_fd on success. Returns 0; STRATA_EREFUSED (message naming
 * path) if something else has taken the name since; -errno (message too)
 * if it cannot be opened. */
int restore_node_open_new(int dirfd, const char *name, mode_t type, uint64_t rdev, uid_t owner,
                          const char *path, int *out_fd, StrataErr *err);

/* restore_node_set_meta — owner (when set_owner), then mode (not for
 * symlinks: S_ISLNK(type)), then times, through fd, which may be an
 * O_PATH descriptor (of a symlink too). Owner first because chown clears
 * setuid/setgid. Returns 1 if the owner or the mode could not be set, else
 * 0; times are best effort (as restore sets them for files). */
int restore_node_set_meta(int fd, mode_t type, int set_owner, uint32_t uid, uint32_t gid, uint32_t mode,
                          int64_t mtime_ns);

/* restore_node_times — mtime_ns as the atime/mtime pair of utimensat. */
void restore_node_times(int64_t mtime_ns, struct timespec ts[2]);

/* restore_node_link — a new name in dirfd for the file open as fd (any
 * kind of descriptor). privileged (root): linkat(fd, "", AT_EMPTY_PATH)
 * first, which needs CAP_DAC_READ_SEARCH (root outside a container has
 * it), then, where that fails with ENOENT (no such capability),
 * /proc/self/fd/N with AT_SYMLINK_FOLLOW, which needs none; others the
 * other way round (/proc missing). Returns 0 or -errno (-EEXIST: the name
 * is taken). */
int restore_node_link(int fd, int dirfd, const char *name, int privileged);

/* restore_node_reopen — open path (relative to root_fd, components
 * separated by '/', none of them "." or "..") with O_PATH, following no
 * symlink on the way (openat2 RESOLVE_NO_SYMLINKS, or where the kernel or
 * a seccomp filter lacks it, one component at a time with O_NOFOLLOW),
 * and only if it ends at the regular file with device dev and inode ino.
 * Returns the descriptor, or -errno (-ESTALE: the path leads to another
 * file now; -ELOOP/-ENOTDIR: a symlink on the way; -EINVAL: an empty
 * component). */
int restore_node_reopen(int root_fd, const char *path, dev_t dev, ino_t ino);

#endif
