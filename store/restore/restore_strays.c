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

int restore_strays_remove(int dirfd, const char *path, const Tree *t, int dry_run, RestoreDeleteFn fn,
                          void *ctx, uint64_t *out_n, StrataErr *err)
{
	struct stat dst;
	struct dirent *e;
	DIR *d;
	char *sub = malloc(PATH_MAX);
	int fd = -1, rc = 0;

	if (!sub)
		return strata_err_set(err, -ENOMEM, "out of memory");
	/* A duplicate to list with: readdir owns and closes its descriptor. */
	if (fstat(dirfd, &dst) != 0 || (fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0) {
		rc = strata_err_set(err, -errno, "%s: cannot list the directory: %s", *path ? path : ".",
		                    strerror(errno));
		free(sub);
		return rc;
	}
	d = fdopendir(fd);
	if (!d) {
		rc = strata_err_set(err, -errno, "%s: cannot list the directory: %s", *path ? path : ".",
		                    strerror(errno));
		close(fd);
		free(sub);
		return rc;
	}
	rewinddir(d);   /* the duplicate shares the offset of dirfd */
	while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
		const TreeNode *n;
		struct stat st;
		int is_dir;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue;          /* gone meanwhile */
			rc = strata_err_set(err, -errno, "%s%s%s: cannot inspect: %s", path, *path ? "/" : "",
			                    e->d_name, strerror(errno));
			break;
		}
		is_dir = S_ISDIR(st.st_mode);
		n = find_node(t, e->d_name);
		if (n && (n->type == NODE_DIR) == is_dir)
			continue;
		if ((size_t)snprintf(sub, PATH_MAX, "%s%s%s", path, *path ? "/" : "", e->d_name) >= PATH_MAX) {
			rc = strata_err_set(err, -ENAMETOOLONG, "path too long under %s", path);
			break;
		}
		if (fn)
			fn(sub, is_dir, ctx);
		(*out_n)++;
		if (dry_run)
			continue;
		if (is_dir)
			rc = remove_dir(dirfd, e->d_name, dst.st_dev, sub, err);
		else if (unlinkat(dirfd, e->d_name, 0) != 0 && errno != ENOENT)
			rc = strata_err_set(err, -errno, "%s: cannot remove: %s", sub, strerror(errno));
	}
	if (rc == 0 && errno != 0)
		rc = strata_err_set(err, -errno, "%s: cannot list the directory: %s", *path ? path : ".",
		                    strerror(errno));
	closedir(d);
	free(sub);
	return rc;
}
