/* restore_strays.c — see restore_strays.h. */
#include "store/restore/restore_strays.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The node of t named name, or NULL (t is sorted bytewise: strcmp). */
static const TreeNode *find_node(const Tree *t, const char *name)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->nodes[mid].name, name);
		if (c == 0)
			return &t->nodes[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Remove directory name of parent (on device dev) and everything below
 * it; path names it in messages. */
static int remove_dir(int parent, const char *name, dev_t dev, const char *path, StrataErr *err)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	char *sub;
	int fd, rc = 0;

	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return strata_err_set(err, -errno, "%s: cannot open the directory to remove it: %s", path,
		                      strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = strata_err_set(err, -errno, "%s: cannot inspect: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	if (st.st_dev != dev) {
		close(fd);
		return strata_err_set(err, STRATA_EREFUSED, "%s: not in the snapshot but another file system is "
		                      "mounted there; --delete does not cross file systems: unmount it or remove it "
		                      "yourself", path);
	}
	sub = malloc(PATH_MAX);   /* on the heap: the recursion is as deep as the tree */
	d = sub ? fdopendir(fd) : NULL;
	if (!d) {
		rc = sub ? strata_err_set(err, -errno, "%s: cannot list: %s", path, strerror(errno))
		         : strata_err_set(err, -ENOMEM, "out of memory");
		close(fd);
		free(sub);
		return rc;
	}
	while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
		struct stat es;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((size_t)snprintf(sub, PATH_MAX, "%s/%s", path, e->d_name) >= PATH_MAX) {
			rc = strata_err_set(err, -ENAMETOOLONG, "path too long under %s", path);
			break;
		}
		if (fstatat(fd, e->d_name, &es, AT_SYMLINK_NOFOLLOW) != 0) {
			rc = strata_err_set(err, -errno, "%s: cannot inspect: %s", sub, strerror(errno));
			break;
		}
		if (S_ISDIR(es.st_mode))
			rc = remove_dir(fd, e->d_name, dev, sub, err);
		else if (unlinkat(fd, e->d_name, 0) != 0)
			rc = strata_err_set(err, -errno, "%s: cannot remove: %s", sub, strerror(errno));
	}
	if (rc == 0 && errno != 0)
		rc = strata_err_set(err, -errno, "%s: cannot list: %s", path, strerror(errno));
	closedir(d);
	free(sub);
	if (rc == 0 && unlinkat(parent, name, AT_REMOVEDIR) != 0)
		rc = strata_err_set(err, -errno, "%s: cannot remove: %s", path, strerror(errno));
	return rc;
}

/* Call fn for each stray of the directory open as dirfd (see
 * restore_strays.h) with its name, its lstat and its path relative to the
 * target; fn returns 0 or an error, which stops the walk. */
typedef int (*StrayFn)(int dirfd, const char *name, const struct stat *st, const char *path, void *ctx,
                       StrataErr *err);

static int for_each_stray(int dirfd, const char *path, const Tree *t, StrayFn fn, void *ctx, StrataErr *err)
{
	struct dirent *e;
	DIR *d;
	char *sub = malloc(PATH_MAX);
	int fd = -1, rc = 0;

	if (!sub)
		return strata_err_set(err, -ENOMEM, "out of memory");
	/* A duplicate to list with: readdir owns and closes its descriptor. */
	if ((fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0 || !(d = fdopendir(fd))) {
		rc = strata_err_set(err, -errno, "%s: cannot list the directory: %s", *path ? path : ".",
		                    strerror(errno));
		if (fd >= 0)
			close(fd);
		free(sub);
		return rc;
	}
	rewinddir(d);   /* the duplicate shares the offset of dirfd */
	while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
		const TreeNode *n;
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue;          /* gone meanwhile */
			rc = strata_err_set(err, -errno, "%s%s%s: cannot inspect: %s", path, *path ? "/" : "",
			                    e->d_name, strerror(errno));
			break;
		}
		n = find_node(t, e->d_name);
		if (n && (n->type == NODE_DIR) == !!S_ISDIR(st.st_mode))
			continue;
		if ((size_t)snprintf(sub, PATH_MAX, "%s%s%s", path, *path ? "/" : "", e->d_name) >= PATH_MAX) {
			rc = strata_err_set(err, -ENAMETOOLONG, "path too long under %s", path);
			break;
		}
		rc = fn(dirfd, e->d_name, &st, sub, ctx, err);
	}
	if (rc == 0 && errno != 0)
		rc = strata_err_set(err, -errno, "%s: cannot list the directory: %s", *path ? path : ".",
		                    strerror(errno));
	closedir(d);
	free(sub);
	return rc;
}

typedef struct RemoveCtx {
	dev_t dev;
	int dry_run;
	RestoreDeleteFn fn;
	void *ctx;
	uint64_t *n;
} RemoveCtx;

static int remove_one(int dirfd, const char *name, const struct stat *st, const char *path, void *ctx,
                      StrataErr *err)
{
	RemoveCtx *r = ctx;
	int is_dir = S_ISDIR(st->st_mode);

	if (r->fn)
		r->fn(path, is_dir, r->ctx);
	(*r->n)++;
	if (r->dry_run)
		return 0;
	if (is_dir)
		return remove_dir(dirfd, name, r->dev, path, err);
	if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
		return strata_err_set(err, -errno, "%s: cannot remove: %s", path, strerror(errno));
	return 0;
}

int restore_strays_remove(int dirfd, const char *path, const Tree *t, int dry_run, RestoreDeleteFn fn,
                          void *ctx, uint64_t *out_n, StrataErr *err)
{
	struct stat dst;
	RemoveCtx r;

	if (fstat(dirfd, &dst) != 0)
		return strata_err_set(err, -errno, "%s: cannot inspect the directory: %s", *path ? path : ".",
		                      strerror(errno));
	r.dev = dst.st_dev;
	r.dry_run = dry_run;
	r.fn = fn;
	r.ctx = ctx;
	r.n = out_n;
	return for_each_stray(dirfd, path, t, remove_one, &r, err);
}

typedef struct OpenCtx {
	RestoreStrayFileFn fn;
	void *ctx;
} OpenCtx;

static int open_one(int dirfd, const char *name, const struct stat *st, const char *path, void *ctx,
                    StrataErr *err)
{
	OpenCtx *o = ctx;
	struct stat fst;
	int fd;

	if (!S_ISREG(st->st_mode))
		return 0;
	/* O_NONBLOCK: something else renamed in meanwhile must not block. */
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;          /* unreadable: simply no donor */
	if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode)) {
		close(fd);
		return 0;
	}
	return o->fn(fd, (uint64_t)fst.st_size, path, o->ctx, err);
}

int restore_strays_files(int dirfd, const char *path, const Tree *t, RestoreStrayFileFn fn, void *ctx,
                         StrataErr *err)
{
	OpenCtx o = { fn, ctx };

	return for_each_stray(dirfd, path, t, open_one, &o, err);
}
