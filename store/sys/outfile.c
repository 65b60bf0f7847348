/* outfile.c — private, atomic writes of user-named files; see outfile.h. */
#include "store/sys/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TEMP_BASE_MAX 200     /* 200 + ".tmp-" + 12 stays under NAME_MAX (255) */
#define TEMP_RAND_LEN 12      /* 36^12 ~ 2^62 names: a guess never lands */
#define TEMP_TRIES 100        /* EEXIST retries before giving up */

struct OutFile {
	int dirfd;
	int fd;                   /* -1 once closed */
	int committed;
	unsigned flags;           /* outfile_open's */
	const char *base;         /* the target's name in dirfd (points into path) */
	char tmp[NAME_MAX + 1];   /* the temporary file's name, "" while unnamed */
	char path[];              /* as given, for messages */
};

/* A fresh `<base>.tmp-XXXXXXXXXXXX`. The name need not be secret (O_EXCL
 * and O_NOFOLLOW make a planted name harmless), only hard to pre-empt;
 * should getrandom fail (before the kernel's pool is ready) the clock, the
 * process and the attempt still give each try another name. */
static void temp_name(const char *base, int attempt, char out[NAME_MAX + 1])
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	unsigned char r[TEMP_RAND_LEN];
	char sfx[TEMP_RAND_LEN + 1];
	size_t blen = strlen(base);

	if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
		struct timespec ts;
		unsigned long long x;
		clock_gettime(CLOCK_REALTIME, &ts);
		x = ((unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec) ^
		    ((unsigned long long)getpid() << 40) ^ ((unsigned long long)attempt << 20);
		for (size_t i = 0; i < sizeof r; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;   /* Knuth's MMIX LCG */
			r[i] = (unsigned char)(x >> 56);
		}
	}
	for (size_t i = 0; i < TEMP_RAND_LEN; i++)
		sfx[i] = digits[r[i] % 36];
	sfx[TEMP_RAND_LEN] = '\0';
	snprintf(out, NAME_MAX + 1, "%.*s.tmp-%s", (int)(blen > TEMP_BASE_MAX ? TEMP_BASE_MAX : blen), base, sfx);
}

/* An O_TMPFILE can be given a name later through AT_EMPTY_PATH (which
 * needs CAP_DAC_READ_SEARCH) or through /proc/self/fd. Without either it
 * could never become the target: check /proc before writing a byte. */
static int linkable(int fd)
{
	char p[64];
	struct stat a, b;

	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	return fstat(fd, &a) == 0 && stat(p, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int open_named(OutFile *f, StrataErr *err)
{
	for (int i = 0; i < TEMP_TRIES; i++) {
		temp_name(f->base, i, f->tmp);
		f->fd = openat(f->dirfd, f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (f->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	f->tmp[0] = '\0';
	return strata_err_set(err, -errno, "cannot create a temporary file beside %s: %s", f->path,
	                      strerror(errno));
}

int outfile_open(const char *path, unsigned flags, OutFile **out, StrataErr *err)
{
	size_t len = strlen(path);
	const char *slash = strrchr(path, '/');
	char *dir = NULL;
	struct stat st;
	OutFile *f;
	int rc;

	f = calloc(1, sizeof *f + len + 1);
	if (!f)
		return strata_err_set(err, -ENOMEM, "out of memory");
	memcpy(f->path, path, len + 1);
	f->dirfd = f->fd = -1;
	f->flags = flags;
	f->base = slash ? f->path + (slash - path) + 1 : f->path;
	if (!*f->base || !strcmp(f->base, ".") || !strcmp(f->base, "..")) {
		rc = strata_err_set(err, STRATA_EUSAGE, "%s names a directory; give a file name", path);
		goto out;
	}
	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	f->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dirfd < 0) {
		rc = strata_err_set(err, -errno, "cannot open directory %s for %s: %s", dir, path, strerror(errno));
		goto out;
	}
	/* Refused now rather than at the rename, after all the writing. A
	 * FIFO or device (/dev/null, a tape) would be replaced by a regular
	 * file, not written into. */
	if (fstatat(f->dirfd, f->base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode) &&
	    !S_ISLNK(st.st_mode)) {
		rc = S_ISDIR(st.st_mode)
		     ? strata_err_set(err, -EISDIR, "%s is a directory; give a file name", path)
		     : strata_err_set(err, -EINVAL, "%s is a FIFO, socket or device, which would be replaced "
		                      "by a file; give a file name", path);
		goto out;
	}
	if (!(flags & OUTFILE_NAMED_TEMP)) {
		f->fd = openat(f->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
		if (f->fd >= 0 && !linkable(f->fd)) {
			close(f->fd);
			f->fd = -1;
		}
	}
	/* Any O_TMPFILE failure (no support: EOPNOTSUPP, EISDIR on old
	 * kernels; or EACCES, ENOSPC...) is settled by the named attempt,
	 * whose error is the one worth reporting. */
	rc = f->fd >= 0 ? 0 : open_named(f, err);
out:
	free(dir);
	if (rc) {
		outfile_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

int outfile_fd(const OutFile *f)
{
	return f->fd;
}

const char *outfile_temp_name(const OutFile *f)
{
	return f->tmp;
}

/* Give the O_TMPFILE a fresh exclusive name, for the rename. */
static int link_temp(OutFile *f, StrataErr *err)
{
	char proc[64];

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
	for (int i = 0; i < TEMP_TRIES; i++) {
		temp_name(f->base, i, f->tmp);
		if (linkat(f->fd, "", f->dirfd, f->tmp, AT_EMPTY_PATH) == 0)
			return 0;
		if (errno != EEXIST && linkat(AT_FDCWD, proc, f->dirfd, f->tmp, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	f->tmp[0] = '\0';
	return strata_err_set(err, -errno, "cannot link the temporary file for %s: %s", f->path, strerror(errno));
}

/* An unnamed temporary file given the target's name directly, when no
 * file has it: a process killed at any instant then leaves either nothing
 * or the whole target, never a named temporary file. 0 linked, 1 the name
 * is taken (replace it by rename), -errno. */
static int link_target(OutFile *f)
{
	char proc[64];

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
	if (linkat(f->fd, "", f->dirfd, f->base, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != EEXIST && linkat(AT_FDCWD, proc, f->dirfd, f->base, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	return errno == EEXIST ? 1 : -errno;
}

static int fsync_fd(int fd, int is_dir)
{
	/* EINVAL: a directory on a file system that cannot sync one. */
	return fsync(fd) == 0 || (is_dir && errno == EINVAL) ? 0 : -errno;
}

int outfile_commit(OutFile *f, unsigned mode, StrataErr *err)
{
	const char *what = f->tmp[0] ? f->tmp : "the temporary file";
	int rc;

	if (f->committed || f->fd < 0)
		return strata_err_set(err, -EINVAL, "%s: already committed", f->path);
	if (mode > 07777)
		return strata_err_set(err, STRATA_EUSAGE, "%s: mode %o is not a permission mode", f->path, mode);
	/* The mode first, so that the fsync makes it durable with the data. */
	if (fchmod(f->fd, (mode_t)mode) != 0)
		return strata_err_set(err, -errno, "cannot set mode %04o on %s for %s: %s", mode, what, f->path,
		                      strerror(errno));
	if (!(f->flags & OUTFILE_NO_SYNC) && (rc = fsync_fd(f->fd, 0)) != 0)
		return strata_err_set(err, rc, "fsync of %s for %s failed: %s", what, f->path, strerror(-rc));
	if (!f->tmp[0]) {
		rc = link_target(f);
		if (rc == 0) {
			rc = close(f->fd) == 0 ? 0 : -errno;
			f->fd = -1;
			f->committed = 1;
			if (rc)
				return strata_err_set(err, rc, "closing %s: %s", f->path, strerror(-rc));
			goto synced_dir;
		}
		if ((rc = link_temp(f, err)) != 0)
			return rc;
	}
	rc = close(f->fd) == 0 ? 0 : -errno;
	f->fd = -1;
	if (rc)
		return strata_err_set(err, rc, "closing %s for %s: %s", f->tmp, f->path, strerror(-rc));
	if (renameat(f->dirfd, f->tmp, f->dirfd, f->base) != 0)
		return strata_err_set(err, -errno, "cannot rename %s to %s: %s", f->tmp, f->path, strerror(errno));
	f->tmp[0] = '\0';
	f->committed = 1;
synced_dir:
	if (!(f->flags & OUTFILE_NO_SYNC) && (rc = fsync_fd(f->dirfd, 1)) != 0)
		return strata_err_set(err, rc, "fsync of the directory of %s failed: %s", f->path, strerror(-rc));
	return 0;
}

void outfile_free(OutFile *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	if (f->tmp[0] && f->dirfd >= 0)
		unlinkat(f->dirfd, f->tmp, 0);
	if (f->dirfd >= 0)
		close(f->dirfd);
	free(f);
}

int outfile_write(const char *path, const uint8_t *buf, size_t len, unsigned mode, unsigned flags,
                  StrataErr *err)
{
	OutFile *f = NULL;
	size_t done = 0;
	int rc;

	if ((rc = outfile_open(path, flags, &f, err)) != 0)
		return rc;
	while (done < len) {
		ssize_t w = write(f->fd, buf + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = strata_err_set(err, -errno, "writing %s: %s", path, strerror(errno));
			goto out;
		}
		done += (size_t)w;
	}
	rc = outfile_commit(f, mode, err);
out:
	outfile_free(f);
	return rc;
}
