/* restore_node.c — see restore_node.h. */
#include "store/restore/restore_node.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

/* "/proc/self/fd/" and an int. */
#define FD_PATH_LEN 32

static void fd_path(int fd, char out[FD_PATH_LEN])
{
	snprintf(out, FD_PATH_LEN, "/proc/self/fd/%d", fd);
}

static const char REPLACED_WHY[] =
	"replaced by another file while being restored (someone else can rename entries in its directory); "
	"left alone";

static const char FOREIGN_WHY[] =
	"restoring as root into a directory another user can change is refused (they could swap its entries "
	"for links while the restore runs); check the directory, or pass --allow-foreign-dirs";

int restore_node_dir_check(int fd, const char *path, int allow_foreign, int *out_private, StrataErr *err)
{
	struct stat st;
	int writable;

	if (fstat(fd, &st) != 0)
		return strata_err_set(err, -errno, "%s: cannot inspect directory: %s", path, strerror(errno));
	writable = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
	if (!allow_foreign && st.st_uid != 0)
		return strata_err_set(err, STRATA_EREFUSED, "%s: existing directory owned by uid %u: %s", path,
		                      (unsigned)st.st_uid, FOREIGN_WHY);
	if (!allow_foreign && writable && !(st.st_mode & S_ISVTX))
		return strata_err_set(err, STRATA_EREFUSED,
		                      "%s: existing directory writable by group or others (mode %04o, no sticky bit): %s",
		                      path, (unsigned)(st.st_mode & 07777), FOREIGN_WHY);
	*out_private = st.st_uid == 0 && !writable;
	return 0;
}

int restore_node_dir_new(int fd, uid_t owner, const char *path, StrataErr *err)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return strata_err_set(err, -errno, "%s: cannot inspect directory: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != owner || (st.st_mode & 077) != 0)
		return strata_err_set(err, STRATA_EREFUSED, "%s: %s", path, REPLACED_WHY);
	return 0;
}

int restore_node_open_new(int dirfd, const char *name, mode_t type, uint64_t rdev, uid_t owner,
                          const char *path, int *out_fd, StrataErr *err)
{
	struct stat st;
	int fd, e;

	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		return strata_err_set(err, -e, "%s: cannot open the entry just created: %s", path, strerror(e));
	}
	if (fstat(fd, &st) != 0) {
		e = errno;
		close(fd);
		return strata_err_set(err, -e, "%s: cannot inspect the entry just created: %s", path, strerror(e));
	}
	/* What was created: this type, our uid, one link, mode 0 for FIFOs
	 * and devices (made so on purpose: nobody else makes such nodes).
	 * A symlink or a hard link renamed over the name by whoever can
	 * write to the directory fails one of these. */
	if ((st.st_mode & S_IFMT) != type || st.st_uid != owner || st.st_nlink != 1 ||
	    (type != S_IFLNK && (st.st_mode & 07777) != 0) ||
	    ((type == S_IFCHR || type == S_IFBLK) && (uint64_t)st.st_rdev != rdev)) {
		close(fd);
		return strata_err_set(err, STRATA_EREFUSED, "%s: %s", path, REPLACED_WHY);
	}
	*out_fd = fd;
	return 0;
}

void restore_node_times(int64_t mtime_ns, struct timespec ts[2])
{
	ts[0].tv_sec = mtime_ns / 1000000000LL;
	ts[0].tv_nsec = mtime_ns % 1000000000LL;
	if (ts[0].tv_nsec < 0) {
		ts[0].tv_nsec += 1000000000LL;
		ts[0].tv_sec--;
	}
	ts[1] = ts[0];
}

int restore_node_set_meta(int fd, mode_t type, int set_owner, uint32_t uid, uint32_t gid, uint32_t mode,
                          int64_t mtime_ns)
{
	struct timespec ts[2];
	char p[FD_PATH_LEN];
	int failed = 0;

	/* fchownat with AT_EMPTY_PATH acts on an O_PATH descriptor's node,
	 * a symlink included. */
	if (set_owner && fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0)
		failed = 1;
	/* fchmod refuses O_PATH descriptors; the magic link leads to the
	 * very inode, whatever its name is now. */
	if (!S_ISLNK(type)) {
		fd_path(fd, p);
		if (chmod(p, mode) != 0)
			failed = 1;
	}
	restore_node_times(mtime_ns, ts);
	/* AT_EMPTY_PATH since Linux 5.8 (EINVAL before it). Best effort, as
	 * for files and directories. */
	if (utimensat(fd, "", ts, AT_EMPTY_PATH) != 0 && errno == EINVAL) {
		fd_path(fd, p);
		utimensat(AT_FDCWD, p, ts, 0);
	}
	return failed;
}

int restore_node_link(int fd, int dirfd, const char *name, int privileged)
{
	char p[FD_PATH_LEN];

	/* Both forms name the inode, not a path someone could change.
	 * AT_EMPTY_PATH is one call without a walk through /proc (2 to 4
	 * times faster on tmpfs) but needs CAP_DAC_READ_SEARCH, which root
	 * lacks in many containers (ENOENT then); the /proc form needs no
	 * capability but /proc (missing in a bare chroot). */
	if (privileged && linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0)
		return 0;
	if (privileged && errno != ENOENT)
		return -errno;
	fd_path(fd, p);
	if (linkat(AT_FDCWD, p, dirfd, name, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (!privileged && errno == ENOENT && linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0)
		return 0;
	return -errno;
}

/* path from root_fd one component at a time, O_NOFOLLOW on each: a
 * directory on the way that was swapped for a symlink stops the walk. */
static int walk_nofollow(int root_fd, const char *path)
{
	char comp[NAME_MAX + 1];
	const char *p = path;
	int cur = root_fd;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t l = slash ? (size_t)(slash - p) : strlen(p);
		int next, e;
		if (l == 0 || l > NAME_MAX) {
			if (cur != root_fd)
				close(cur);
			return -EINVAL;
		}
		memcpy(comp, p, l);
		comp[l] = '\0';
		next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC | (slash ? O_DIRECTORY : 0));
		e = errno;
		if (cur != root_fd)
			close(cur);
		if (next < 0)
			return -e;
		if (!slash)
			return next;
		cur = next;
		p = slash + 1;
	}
}

int restore_node_reopen(int root_fd, const char *path, dev_t dev, ino_t ino)
{
	struct stat st;
	int fd = -ENOSYS, rc = 0;

	if (path[0] == '\0' || strstr(path, "//") || path[strlen(path) - 1] == '/')
		return -EINVAL;
#ifdef SYS_openat2
	{
		/* One call for the whole path (Linux 5.6), refusing every
		 * symlink on the way; a kernel or a seccomp filter without it
		 * says ENOSYS or EPERM, and the walk does the same in steps. */
		struct open_how how;
		memset(&how, 0, sizeof how);
		how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
		how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH;
		fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
		if (fd < 0)
			fd = -errno;
	}
#endif
	if (fd == -ENOSYS || fd == -EPERM)
		fd = walk_nofollow(root_fd, path);
	if (fd < 0)
		return fd;
	/* Directories exchanged on the way (RENAME_EXCHANGE) may lead to
	 * another file of that name: only the inode restored will do. */
	if (fstat(fd, &st) != 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode) || st.st_dev != dev || st.st_ino != ino)
		rc = -ESTALE;
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}
