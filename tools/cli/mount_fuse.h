/* mount_fuse.h — serving a read-only file system through FUSE.
 *
 * Owns: the only use of libfuse3 in strata. It mounts a file system whose
 * content comes from a MountFsOps table (tools/cli/mount_fs.c fills it from a
 * repository), runs the FUSE loop in the calling thread until the mount is
 * unmounted (`fusermount3 -u`, `umount`) or the process gets SIGINT,
 * SIGTERM or SIGHUP, and unmounts on the way out.
 *
 * Never: knows about repositories, snapshots or trees; prints (libfuse may
 * print its own lines to stderr). Built without libfuse3 (no
 * STRATA_HAVE_FUSE), mount_fuse_run fails with STRATA_EREFUSED and says so.
 *
 * Thread safety: the loop is single-threaded: the MountFsOps callbacks run
 * one at a time, in the thread that called mount_fuse_run, so they need no
 * locking of their own.
 */
#ifndef STRATA_TOOLS_MOUNT_FUSE_H
#define STRATA_TOOLS_MOUNT_FUSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "store/error.h"

/* MountFillFn — add one entry to a directory listing; st may be NULL
 * (the kernel then asks getattr). Returns 1 when the listing buffer is
 * full (stop adding), else 0. */
typedef int (*MountFillFn)(void *fill_ctx, const char *name, const struct stat *st);

/* The file system. Paths are absolute within the mount ("/", "/by-id/x").
 * Every callback returns 0 (read: the byte count) or a negative errno,
 * which the caller of the system call sees (-ENOENT, -EIO, ...). */
typedef struct MountFsOps {
	int (*getattr)(void *ctx, const char *path, struct stat *out_st);
	/* every entry except "." and "..", which the adapter adds */
	int (*readdir)(void *ctx, const char *path, MountFillFn fill, void *fill_ctx);
	/* target NUL-terminated in buf[0..len), truncated if longer */
	int (*readlink)(void *ctx, const char *path, char *buf, size_t len);
	/* open a regular file for reading; *out_fh is handed to read and release */
	int (*open)(void *ctx, const char *path, uint64_t *out_fh);
	/* up to len bytes at off; fewer only at the end of the file */
	int (*read)(void *ctx, uint64_t fh, char *buf, size_t len, off_t off);
	void (*release)(void *ctx, uint64_t fh);
} MountFsOps;

typedef struct MountFuseOptions {
	int allow_other;         /* other users may use the mount (needs user_allow_other in /etc/fuse.conf unless root) */
	const char *fsname;      /* shown by mount(8) and df; NULL = "strata" */
	int debug;               /* libfuse's request trace on stderr */
} MountFuseOptions;

/* mount_fuse_available — 1 if this binary was built with libfuse3. */
int mount_fuse_available(void);

/* mount_fuse_run — mount ops at mountpoint (an existing directory) and
 * serve requests until unmounted or signalled; then unmount and return 0.
 * The mount is read-only ("ro"); the kernel keeps a file's data cached
 * between opens while its mtime and size stay the same.
 * Errors: STRATA_EREFUSED (built without FUSE support), -EIO when the
 * mount fails (no /dev/fuse, no permission, mountpoint busy: libfuse has
 * printed why), -ENOMEM; err says which. */
int mount_fuse_run(const char *mountpoint, const MountFuseOptions *opts, const MountFsOps *ops,
                   void *ctx, StrataErr *err);

#endif
