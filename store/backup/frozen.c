/* frozen.c — see frozen.h.
 *
 * The listing is a tree of FrozenEntry under each root, built depth first
 * in the order backup.c walks (names sorted bytewise), so the walk after
 * the resume finds each of its paths by a few binary searches. Every
 * entry costs one lstat and, for a regular file, one files-cache lookup
 * of its metadata; only changed files are opened. The clock is read at
 * every entry, so a listing that outlasts max_ns resumes the writers
 * within one entry's time of it.
 */
#include "store/backup/frozen.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "store/backup/backup_internal.h"

/* Descriptors the listing leaves to the rest of the backup: the
 * repository's files, packs being written, S3 connections. */
#define FD_RESERVE_MIN 256

struct Frozen {
	FrozenEntry *roots;           /* name: the root's full path */
	size_t nroots;
	FilesCache *fc;
	const BackupOptions *opts;
	FrozenStats st;
	int64_t t0;                   /* stop requested */
	int stopped;                  /* writers stopped now */
	uint64_t fd_budget, copy_left;
	char *path;                   /* PATH_MAX scratch */
	uint8_t *buf;                 /* FROZEN_COPY_MAX bytes, also symlink targets */
	StrataErr *err;
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t ts_ns(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void resume(Frozen *fz)
{
	if (!fz->stopped)
		return;
	if (fz->opts->freeze->resume(fz->opts->freeze->ctx) && !fz->st.overrun) {
		fz->st.overrun = 1;
		snprintf(fz->st.overrun_at, sizeof fz->st.overrun_at, "%s", fz->path);
	}
	fz->stopped = 0;
	fz->st.listing_ns = mono_ns() - fz->t0;
}

/* Called before each entry: past max_ns the writers run again, and the
 * rest is listed live. */
static void check_clock(Frozen *fz, const char *path)
{
	if (fz->stopped && mono_ns() - fz->t0 > fz->opts->freeze->max_ns) {
		resume(fz);
		fz->st.overrun = 1;
		snprintf(fz->st.overrun_at, sizeof fz->st.overrun_at, "%s", path);
	}
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_entry(const void *key, const void *e)
{
	return strcmp(key, ((const FrozenEntry *)e)->name);
}

/* Open name in at the way backup.c opens sources. */
static int open_source(int at, const char *name)
{
	int fd = openat(at, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);

	if (fd < 0 && errno == EPERM)
		fd = openat(at, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

/* Copy the first size bytes of fd into memory. Returns the copy, or
 * NULL (then fd is kept instead). */
static uint8_t *copy_small(int fd, uint64_t size)
{
	uint8_t *copy = malloc(size ? (size_t)size : 1);
	size_t got = 0;

	while (copy && got < size) {
		ssize_t r = pread(fd, copy + got, (size_t)size - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(copy);
			return NULL;
		}
		got += (size_t)r;
	}
	return copy;
}

/* A regular file (name in at, fz->path): keep it when the files
 * cache would not take it as it is (backup.c's rule, filescache_meta_same). */
static void keep_file(Frozen *fz, FrozenEntry *e, int at, const char *name)
{
	const char *path = fz->path;
	FileMeta now, was;
	struct stat fst;
	int fd;

	now.dev = e->st.st_dev;
	now.ino = e->st.st_ino;
	now.size = (uint64_t)e->st.st_size;
	now.mtime_ns = ts_ns(e->st.st_mtim);
	now.ctime_ns = ts_ns(e->st.st_ctim);
	if (fz->fc && !fz->opts->force_reread && filescache_lookup_meta(fz->fc, path, &was) == 0 &&
	    filescache_meta_same(&was, &now))
		return;
	if (e->st.st_size == 0) {
		e->empty = 1;
		return;
	}
	if (fz->st.files_held >= fz->fd_budget) {
		e->unheld = 1;
		fz->st.files_unheld++;
		return;
	}
	fd = open_source(at, name);
	if (fd < 0) {
		e->open_err = -errno;
		return;
	}
	/* The file kept is the one described: if something not stopped
	 * replaced it between the lstat and the open, describe this one. */
	if (fstat(fd, &fst) == 0 && (fst.st_dev != e->st.st_dev || fst.st_ino != e->st.st_ino ||
	                             !S_ISREG(fst.st_mode)))
		e->st = fst;
	if ((uint64_t)e->st.st_size <= FROZEN_COPY_MAX && (uint64_t)e->st.st_size <= fz->copy_left &&
	    S_ISREG(e->st.st_mode) && (e->copy = copy_small(fd, (uint64_t)e->st.st_size)) != NULL) {
		close(fd);
		fz->copy_left -= (uint64_t)e->st.st_size;
		fz->st.files_copied++;
		fz->st.bytes_copied += (uint64_t)e->st.st_size;
		return;
	}
	e->fd = fd;
	fz->st.files_held++;
}

static int list_entry(Frozen *fz, FrozenEntry *e, int at, const char *name, size_t len);

/* List directory fz->path (len bytes; name in at) into e->kids. Each
 * entry is looked at relative to the directory's descriptor: a path
 * walked from the root at every entry costs more than the lstat itself. */
static int list_dir(Frozen *fz, FrozenEntry *e, int at, const char *name, size_t len)
{
	char **names = NULL;
	size_t n = 0, cap = 0, kept = 0;
	struct dirent *de;
	DIR *dir = NULL;
	int rc = 0, fd;

	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		e->dir_err = -errno;
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(dir)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			void *p;
			cap = cap ? 2 * cap : 32;
			if (!(p = realloc(names, cap * sizeof *names))) {
				rc = -ENOMEM;
				break;
			}
			names = p;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	if (rc)
		goto out;
	if (n > 1)
		qsort(names, n, sizeof *names, cmp_name);
	e->kids = calloc(n ? n : 1, sizeof *e->kids);
	if (!e->kids) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names[i]);
		FrozenEntry *k;
		/* backup.c reports an over-long path itself (it finds no entry). */
		if (len + 1 + nl >= PATH_MAX)
			continue;
		fz->path[len] = '/';
		memcpy(fz->path + len + 1, names[i], nl + 1);
		if (backup_excluded(fz->opts, fz->path, names[i]))
			continue;
		k = &e->kids[kept++];
		k->fd = -1;
		k->name = names[i];
		names[i] = NULL;
		e->nkids = kept;
		if ((rc = list_entry(fz, k, dirfd(dir), k->name, len + 1 + nl)) != 0)
			break;
	}
	fz->path[len] = '\0';
out:
	closedir(dir);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* Describe fz->path (len bytes), which is name in at, into e (name
 * set, fd -1). */
static int list_entry(Frozen *fz, FrozenEntry *e, int at, const char *name, size_t len)
{
	check_clock(fz, fz->path);
	if (fstatat(at, name, &e->st, AT_SYMLINK_NOFOLLOW) != 0) {
		e->err = -errno;
		return 0;
	}
	fz->st.entries++;
	if (S_ISLNK(e->st.st_mode)) {
		ssize_t n = readlinkat(at, name, (char *)fz->buf, FROZEN_COPY_MAX - 1);
		if (n <= 0) {
			e->link_err = n == 0 ? -EINVAL : -errno;
		} else {
			fz->buf[n] = '\0';
			if (!(e->link = strdup((char *)fz->buf)))
				return -ENOMEM;
		}
	} else if (S_ISREG(e->st.st_mode)) {
		keep_file(fz, e, at, name);
	} else if (S_ISDIR(e->st.st_mode)) {
		return list_dir(fz, e, at, name, len);
	}
	return 0;
}

/* Is path inside root (or root itself)? Both clean and absolute. */
static int under(const char *path, const char *root)
{
	size_t rl = strlen(root);

	if (!strcmp(root, "/"))
		return 1;
	return !strncmp(path, root, rl) && (path[rl] == '\0' || path[rl] == '/');
}

int frozen_scan(FilesCache *fc, const char *const *roots, size_t nroots, const BackupOptions *opts,
                Frozen **out, StrataErr *err)
{
	Frozen *fz = calloc(1, sizeof *fz);
	struct rlimit rl;
	uint64_t lim = 1024, reserve;
	int rc = 0;

	if (!fz)
		return strata_err_set(err, -ENOMEM, "out of memory");
	fz->fc = fc;
	fz->opts = opts;
	fz->err = err;
	fz->path = malloc(PATH_MAX);
	fz->buf = malloc(FROZEN_COPY_MAX);
	fz->roots = calloc(nroots ? nroots : 1, sizeof *fz->roots);
	if (!fz->path || !fz->buf || !fz->roots) {
		frozen_free(fz);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		lim = rl.rlim_cur;
	reserve = lim / 4 > FD_RESERVE_MIN ? lim / 4 : FD_RESERVE_MIN;
	fz->fd_budget = lim > reserve ? lim - reserve : 0;
	fz->copy_left = FROZEN_COPY_TOTAL;
	/* The roots, before anything is stopped. */
	for (size_t i = 0; i < nroots; i++) {
		int inside = 0;
		for (size_t j = 0; j < nroots && !inside; j++)
			inside = j != i && under(roots[i], roots[j]) && (strcmp(roots[i], roots[j]) != 0 || j < i);
		if (inside)
			continue;
		FrozenEntry *e = &fz->roots[fz->nroots];
		e->fd = -1;
		if (!(e->name = strdup(roots[i]))) {
			frozen_free(fz);
			return strata_err_set(err, -ENOMEM, "out of memory");
		}
		fz->nroots++;
	}

	fz->t0 = mono_ns();
	rc = opts->freeze->stop(opts->freeze->ctx, err);
	if (rc < 0) {
		frozen_free(fz);
		return rc;
	}
	if (rc == 1) {
		/* Not stopped in time: list live, and say so. */
		fz->st.not_stopped = 1;
		fz->st.listing_ns = mono_ns() - fz->t0;
		rc = 0;
	} else {
		fz->stopped = 1;
	}
	for (size_t i = 0; i < fz->nroots && rc == 0; i++) {
		size_t len = strlen(fz->roots[i].name);
		memcpy(fz->path, fz->roots[i].name, len + 1);
		/* "/": its entries are "/name", not "//name". */
		rc = list_entry(fz, &fz->roots[i], AT_FDCWD, fz->roots[i].name, !strcmp(fz->path, "/") ? 0 : len);
	}
	resume(fz);
	if (rc) {
		frozen_free(fz);
		return strata_err_set(err, rc, "listing the source paths: %s", strerror(-rc));
	}
	*out = fz;
	return 0;
}

FrozenEntry *frozen_find(Frozen *fz, const char *path)
{
	for (size_t i = 0; i < fz->nroots; i++) {
		FrozenEntry *e = &fz->roots[i];
		const char *p;

		if (!under(path, e->name))
			continue;
		p = path + (strcmp(e->name, "/") ? strlen(e->name) : 0);
		while (*p == '/') {
			char comp[NAME_MAX + 1];
			const char *end = strchr(p + 1, '/');
			size_t cl = end ? (size_t)(end - p - 1) : strlen(p + 1);
			if (cl == 0)
				break;          /* "/" itself */
			if (cl > NAME_MAX || !e->kids)
				return NULL;
			memcpy(comp, p + 1, cl);
			comp[cl] = '\0';
			e = bsearch(comp, e->kids, e->nkids, sizeof *e->kids, cmp_entry);
			if (!e)
				return NULL;
			p += 1 + cl;
		}
		return e;
	}
	return NULL;
}

int frozen_kept(const FrozenEntry *e)
{
	return e->fd >= 0 || e->copy;
}

/* A copy becomes a memfd only now, after the resume: the stop does not
 * pay for it, and copies take no descriptor while they wait. */
int frozen_take_fd(FrozenEntry *e)
{
	int fd = e->fd, err;

	e->fd = -1;
	if (fd >= 0 || !e->copy)
		return fd;
	fd = memfd_create("strata-frozen", MFD_CLOEXEC);
	for (size_t put = 0; fd >= 0 && put < (size_t)e->st.st_size;) {
		ssize_t w = write(fd, e->copy + put, (size_t)e->st.st_size - put);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w < 0 ? errno : EIO;
			close(fd);
			fd = -1;
			errno = err;
			break;
		}
		put += (size_t)w;
	}
	if (fd >= 0 && lseek(fd, 0, SEEK_SET) != 0) {
		err = errno;
		close(fd);
		fd = -1;
		errno = err;
	}
	free(e->copy);
	e->copy = NULL;
	return fd;
}

const FrozenStats *frozen_stats(const Frozen *fz)
{
	return &fz->st;
}

static void entry_clear(FrozenEntry *e)
{
	for (size_t i = 0; i < e->nkids; i++)
		entry_clear(&e->kids[i]);
	free(e->kids);
	free(e->name);
	free(e->link);
	free(e->copy);
	if (e->fd >= 0)
		close(e->fd);
}

void frozen_free(Frozen *fz)
{
	if (!fz)
		return;
	if (fz->roots)
		for (size_t i = 0; i < fz->nroots; i++)
			entry_clear(&fz->roots[i]);
	free(fz->roots);
	free(fz->path);
	free(fz->buf);
	free(fz);
}
