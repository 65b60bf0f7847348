/* local.c — the backend for a directory on a local filesystem.
 *
 * Object "data/3f/3fa1..." is the file ROOT/data/3f/3fa1... . Writes go to a
 * ".tmp-XXXXXX" file in the target's directory, are fsync'ed and renamed over
 * the final name, then the directory is fsync'ed: after put() returns the
 * object survives a crash, and a reader opens either the old file or the
 * new one, never a partial one (rename is atomic within a filesystem).
 * Files are created 0600 and directories 0700: a repository holds only
 * ciphertext, but its layout and sizes are still nobody else's business.
 *
 * Thread safety: the handle is read-only after open; every call works on
 * its own file descriptors.
 */
#include "remote/backend.h"
#include "remote/backend_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest single read()/write(); Linux transfers at most 0x7ffff000 bytes
 * per call anyway. */
#define IO_CHUNK ((size_t)1 << 30)

typedef struct LocalBackend {
	Backend base;           /* first, so a Backend * is a LocalBackend * */
	char *root;             /* no trailing '/', except for "/" itself */
} LocalBackend;

static LocalBackend *local_of(Backend *be)
{
	return (LocalBackend *)be;
}

/* The errors of the contract, from what the filesystem said. */
static int map_errno(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:           /* a path component is a file: no such object */
		return -ENOENT;
	case EACCES:
	case EPERM:
	case EROFS:
		return -EACCES;
	case ENOSPC:
	case EDQUOT:
		return -ENOSPC;
	case ENOMEM:
		return -ENOMEM;
	case ENAMETOOLONG:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* fail — record "local:PATH: WHAT failed: strerror" and return the mapped
 * code. Takes errno as an argument because cleanup may clobber it. */
static int fail(RemoteErr *err, int e, const char *path, const char *what)
{
	return backend_err_set(err, map_errno(e), "local:%s: %s failed: %s", path, what, strerror(e));
}

/* join — "root/rel" (or "/rel" for root "/"), malloc'ed; NULL on ENOMEM. */
static char *join(const char *root, const char *rel)
{
	size_t rl = strlen(root), nl = strlen(rel);
	int slash = rl > 0 && root[rl - 1] != '/';
	char *p = malloc(rl + (size_t)slash + nl + 1);

	if (!p)
		return NULL;
	memcpy(p, root, rl);
	if (slash)
		p[rl] = '/';
	memcpy(p + rl + (size_t)slash, rel, nl + 1);
	return p;
}

/* The directory part of path, written into a malloc'ed copy: "a/b" -> "a",
 * "/b" -> "/", "b" -> ".". */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	d = strndup(path, (size_t)(slash - path));
	return d;
}

/* fsync_dir — make a directory's entries (a rename, a new subdirectory, an
 * unlink) durable. Returns 0 or the errno. */
static int fsync_dir(const char *dir)
{
	int fd, e = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fsync(fd) < 0)
		e = errno;
	close(fd);
	return e;
}

/* make_dirs — create dir and any missing parents, mode 0700, fsync'ing the
 * parent of each directory made so the new entry is durable too. Called
 * only after an open in dir failed with ENOENT, so the cost is paid once
 * per new directory. Returns 0 or a contract error. */
static int make_dirs(const char *dir, RemoteErr *err)
{
	char *parent = NULL;
	int rc = 0, e;

	parent = dir_of(dir);
	if (!parent) {
		rc = backend_err_set(err, -ENOMEM, "local:%s: out of memory", dir);
		goto out;
	}
	if (mkdir(dir, 0700) < 0) {
		e = errno;
		if (e == ENOENT && strcmp(parent, dir) != 0) {
			rc = make_dirs(parent, err);
			if (rc < 0)
				goto out;
			if (mkdir(dir, 0700) < 0)
				e = errno;
			else
				e = 0;
		}
		/* EEXIST: another writer made it; it may not have fsync'ed the
		 * parent yet, so do it here as well. */
		if (e != 0 && e != EEXIST) {
			rc = fail(err, e, dir, "mkdir");
			goto out;
		}
	}
	e = fsync_dir(parent);
	if (e) {
		rc = fail(err, e, parent, "fsync of directory");
		goto out;
	}
out:
	free(parent);
	return rc;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		size_t n = len - off < IO_CHUNK ? len - off : IO_CHUNK;
		ssize_t w = write(fd, p + off, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		off += (size_t)w;
	}
	return 0;
}

/* Reads exactly len bytes at off; returns 0, an errno, or -1 at an early
 * end of file. */
static int pread_all(int fd, uint8_t *p, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		size_t n = len - got < IO_CHUNK ? len - got : IO_CHUNK;
		ssize_t r = pread(fd, p + got, n, (off_t)(off + got));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (r == 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* Objects this large (packs) bypass the page cache: O_DIRECT for the
 * block-aligned part, straight from the caller's buffer when it is
 * aligned (pack buffers are, store/pack.c) and otherwise through an
 * aligned bounce buffer, then the tail with O_DIRECT cleared. A pack is
 * written once and not read back by the backup that wrote it; on the
 * machines measured (tools/cli/doc/performance.md) buffered writes of packs cost
 * 2-3 s of kernel copying per GiB and were throttled to a fraction of the
 * disk's speed. fsync() still follows, so
 * durability is unchanged. Where the file system refuses O_DIRECT (tmpfs
 * on older kernels, some network file systems) the write is buffered. */
#define DIRECT_MIN   ((size_t)1 << 20)
#define DIRECT_ALIGN ((size_t)4096)
#define DIRECT_BOUNCE ((size_t)1 << 20)

static int write_direct(int fd, const uint8_t *p, size_t len)
{
	size_t aligned = len & ~(DIRECT_ALIGN - 1), off = 0;
	int flags = fcntl(fd, F_GETFL);
	int in_place = ((uintptr_t)p & (DIRECT_ALIGN - 1)) == 0;
	void *bounce = NULL;
	int e = 0;

	if (len < DIRECT_MIN || flags < 0 || fcntl(fd, F_SETFL, flags | O_DIRECT) < 0 ||
	    (!in_place && posix_memalign(&bounce, DIRECT_ALIGN, DIRECT_BOUNCE) != 0)) {
		if (flags >= 0)
			(void)fcntl(fd, F_SETFL, flags);
		return write_all(fd, p, len);
	}
	while (off < aligned) {
		size_t n = in_place || aligned - off < DIRECT_BOUNCE ? aligned - off : DIRECT_BOUNCE;
		ssize_t w;

		if (in_place) {
			w = write(fd, p + off, n);
		} else {
			memcpy(bounce, p + off, n);
			w = write(fd, bounce, n);
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EINVAL && off == 0)
			break;                  /* O_DIRECT refused: buffered below */
		if (w < 0) {
			e = errno;
			break;
		}
		off += (size_t)w;
		if ((size_t)w != n)     /* short direct write: finish buffered */
			break;
	}
	free(bounce);
	if (fcntl(fd, F_SETFL, flags) < 0 && !e)
		e = errno;
	if (e)
		return e;
	if (off > 0 && lseek(fd, (off_t)off, SEEK_SET) < 0)
		return errno;
	return write_all(fd, p + off, len - off);
}

static int local_put(Backend *be, const char *name, const void *buf, size_t len, RemoteErr *err)
{
	LocalBackend *lb = local_of(be);
	char *path = NULL, *dir = NULL, *tmp = NULL;
	int fd = -1, rc = 0, e;

	if (backend_name_check(name) < 0)
		return backend_err_set(err, -EINVAL, "local:%s: invalid object name \"%s\"", lb->root, name);
	path = join(lb->root, name);
	dir = path ? dir_of(path) : NULL;
	tmp = dir ? join(dir, ".tmp-XXXXXX") : NULL;
	if (!tmp) {
		rc = backend_err_set(err, -ENOMEM, "local:%s/%s: out of memory", lb->root, name);
		goto out;
	}
	/* mkostemp opens with O_CREAT|O_EXCL and mode 0600 under a fresh
	 * random name, so concurrent writers never share a temp file. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		rc = make_dirs(dir, err);
		if (rc < 0)
			goto out;
		memcpy(tmp + strlen(tmp) - 6, "XXXXXX", 6);
		fd = mkostemp(tmp, O_CLOEXEC);
	}
	if (fd < 0) {
		e = errno;
		/* Never leave a path name in the temp buffer for cleanup. */
		tmp[0] = '\0';
		/* ENOTDIR here means a file sits where a directory should:
		 * damage, not a missing object. */
		rc = backend_err_set(err, e == ENOTDIR ? -EIO : map_errno(e),
		                     "local:%s: create temporary file failed: %s", path, strerror(e));
		goto out;
	}
	e = write_direct(fd, buf, len);
	if (e) {
		rc = fail(err, e, path, "write");
		goto out;
	}
	if (fsync(fd) < 0) {
		rc = fail(err, errno, path, "fsync");
		goto out;
	}
	e = close(fd) < 0 ? errno : 0;
	fd = -1;
	if (e) {
		rc = fail(err, e, path, "close");
		goto out;
	}
	if (rename(tmp, path) < 0) {
		rc = fail(err, errno, path, "rename");
		goto out;
	}
	tmp[0] = '\0';          /* renamed: nothing to clean up */
	e = fsync_dir(dir);
	if (e) {
		rc = fail(err, e, dir, "fsync of directory");
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	if (tmp && tmp[0])
		unlink(tmp);
	free(tmp);
	free(dir);
	free(path);
	return rc;
}

/* open_object — open name for reading and check it is a regular file; a
 * directory or anything else is not an object. */
static int open_object(LocalBackend *lb, const char *name, char **out_path, int *out_fd,
                       struct stat *st, RemoteErr *err)
{
	char *path;
	int fd;

	if (backend_name_check(name) < 0)
		return backend_err_set(err, -EINVAL, "local:%s: invalid object name \"%s\"", lb->root, name);
	path = join(lb->root, name);
	if (!path)
		return backend_err_set(err, -ENOMEM, "local:%s/%s: out of memory", lb->root, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int rc = fail(err, errno, path, "open");

		free(path);
		return rc;
	}
	if (fstat(fd, st) < 0) {
		int rc = fail(err, errno, path, "fstat");

		close(fd);
		free(path);
		return rc;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		free(path);
		return backend_err_set(err, -ENOENT, "local:%s/%s: not a regular file", lb->root, name);
	}
	*out_path = path;
	*out_fd = fd;
	return 0;
}

/* local_get — the size comes from fstat before anything is allocated, so
 * a huge (or sparse) file costs nothing beyond the refusal. The read
 * then stops at that size; one byte more past it means the file grew
 * meanwhile (objects are replaced by rename, never rewritten in place, so
 * someone else is writing into the repository): refused like a file that
 * shrank, rather than returning part of it. */
static int local_get(Backend *be, const char *name, size_t max_bytes, uint8_t **out_buf, size_t *out_len,
                     RemoteErr *err)
{
	LocalBackend *lb = local_of(be);
	struct stat st;
	char *path = NULL;
	uint8_t *buf = NULL, extra;
	size_t size;
	ssize_t r;
	int fd = -1, rc, e;

	rc = open_object(lb, name, &path, &fd, &st, err);
	if (rc < 0)
		return rc;
	if ((uint64_t)st.st_size > max_bytes) {
		char where[BACKEND_NAME_MAX + sizeof(be->location) + 8];

		snprintf(where, sizeof where, "local:%s", path);
		rc = backend_err_toobig(err, where, (uint64_t)st.st_size, max_bytes);
		goto out;
	}
	if ((uint64_t)st.st_size > SIZE_MAX - 1) {
		rc = backend_err_set(err, -ENOMEM, "local:%s: too large to read into memory", path);
		goto out;
	}
	size = (size_t)st.st_size;
	buf = malloc(size ? size : 1);
	if (!buf) {
		rc = backend_err_set(err, -ENOMEM, "local:%s: out of memory for %zu bytes", path, size);
		goto out;
	}
	e = pread_all(fd, buf, size, 0);
	if (e) {
		/* Files are replaced by rename, never rewritten in place, so
		 * an early end means someone else truncated it. */
		rc = e < 0 ? backend_err_set(err, -EIO, "local:%s: file shrank while being read", path)
		           : fail(err, e, path, "read");
		goto out;
	}
	do
		r = pread(fd, &extra, 1, (off_t)size);
	while (r < 0 && errno == EINTR);
	if (r != 0) {
		rc = r < 0 ? fail(err, errno, path, "read")
		           : backend_err_set(err, -EIO, "local:%s: file grew while being read", path);
		goto out;
	}
	*out_buf = buf;
	*out_len = size;
	buf = NULL;
out:
	free(buf);
	close(fd);
	free(path);
	return rc;
}

static int local_get_range(Backend *be, const char *name, uint64_t off, size_t len,
                           uint8_t *buf, RemoteErr *err)
{
	LocalBackend *lb = local_of(be);
	struct stat st;
	char *path = NULL;
	int fd = -1, rc, e;

	if (len > UINT64_MAX - off)
		return backend_err_set(err, -EINVAL, "local:%s/%s: range %llu+%zu overflows",
		                       lb->root, name, (unsigned long long)off, len);
	rc = open_object(lb, name, &path, &fd, &st, err);
	if (rc < 0)
		return rc;
	if (off + len > (uint64_t)st.st_size) {
		rc = backend_err_set(err, -ERANGE, "local:%s: range %llu+%zu is past the end (%llu bytes)",
		                     path, (unsigned long long)off, len, (unsigned long long)st.st_size);
		goto out;
	}
	e = pread_all(fd, buf, len, off);
	if (e) {
		rc = e < 0 ? backend_err_set(err, -ERANGE, "local:%s: range %llu+%zu is past the end",
		                             path, (unsigned long long)off, len)
		           : fail(err, e, path, "read");
		goto out;
	}
out:
	close(fd);
	free(path);
	return rc;
}

/* Where list_dir reports objects: with sizes (list) or names only
 * (list_names, which needs no stat for an entry whose type readdir gives). */
struct list_sink {
	BackendListFn sized;    /* exactly one of sized, named and info is set */
	BackendNameFn named;
	BackendInfoFn info;
	void *ctx;
};

static int report_info(const struct list_sink *sink, const char *rel, const struct stat *st)
{
	BackendObjInfo info;

	memset(&info, 0, sizeof(info));
	info.size = (uint64_t)st->st_size;
	info.mtime_s = (int64_t)st->st_mtime;
	return sink->info(rel, &info, sink->ctx);
}

/* list_dir — report every object below the directory open as dfd (taken
 * over, closed here) whose path relative to the root is rel[0..rel_len),
 * empty or ending in '/'. With filter, only entries of this directory whose
 * name starts with it count; below them everything does. rel has room for
 * BACKEND_NAME_MAX + 2 bytes. Dot-entries are skipped: ".", "..", and the
 * ".tmp-" files of writes in progress or interrupted. Symbolic links are
 * not followed, which keeps a link loop from recursing forever. An object
 * is a regular file; for a names-only sink the d_type readdir returns
 * decides, and fstatat is called only where it says DT_UNKNOWN (some
 * filesystems do), so both sinks see exactly the same objects. */
static int list_dir(LocalBackend *lb, int dfd, char *rel, size_t rel_len, const char *filter,
                    const struct list_sink *sink, RemoteErr *err)
{
	size_t flen = filter ? strlen(filter) : 0;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int rc = 0, e;

	d = fdopendir(dfd);
	if (!d) {
		e = errno;
		close(dfd);
		rel[rel_len] = '\0';
		return backend_err_set(err, map_errno(e), "local:%s/%s: opendir failed: %s",
		                       lb->root, rel, strerror(e));
	}
	for (;;) {
		size_t nlen;
		int is_reg, is_dir;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				e = errno;
				rel[rel_len] = '\0';
				rc = backend_err_set(err, map_errno(e), "local:%s/%s: read directory failed: %s",
				                     lb->root, rel, strerror(e));
			}
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		if (filter && strncmp(de->d_name, filter, flen) != 0)
			continue;
		nlen = strlen(de->d_name);
		if (rel_len + nlen + 1 > BACKEND_NAME_MAX)
			continue;       /* cannot be a valid object name */
		memcpy(rel + rel_len, de->d_name, nlen);
		rel[rel_len + nlen] = '\0';
		if (sink->named && de->d_type != DT_UNKNOWN) {
			is_reg = de->d_type == DT_REG;
			is_dir = de->d_type == DT_DIR;
			st.st_size = 0;
		} else {
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				e = errno;
				if (e == ENOENT)
					continue;       /* deleted while we listed */
				rc = backend_err_set(err, map_errno(e), "local:%s/%s: stat failed: %s",
				                     lb->root, rel, strerror(e));
				break;
			}
			is_reg = S_ISREG(st.st_mode);
			is_dir = S_ISDIR(st.st_mode);
		}
		if (is_reg) {
			if (backend_name_check(rel) < 0)
				continue;
			rc = sink->named ? sink->named(rel, sink->ctx)
			   : sink->info ? report_info(sink, rel, &st)
			   : sink->sized(rel, (uint64_t)st.st_size, sink->ctx);
			if (rc)
				break;
		} else if (is_dir) {
			int sub = openat(dirfd(d), de->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0) {
				e = errno;
				if (e == ENOENT)
					continue;
				rc = backend_err_set(err, map_errno(e), "local:%s/%s: open directory failed: %s",
				                     lb->root, rel, strerror(e));
				break;
			}
			rel[rel_len + nlen] = '/';
			rel[rel_len + nlen + 1] = '\0';
			rc = list_dir(lb, sub, rel, rel_len + nlen + 1, NULL, sink, err);
			if (rc)
				break;
		}
	}
	closedir(d);
	return rc;
}

static int list_prefix(Backend *be, const char *prefix, const struct list_sink *sink, RemoteErr *err)
{
	LocalBackend *lb = local_of(be);
	char rel[BACKEND_NAME_MAX + 2];
	const char *slash, *filter = NULL;
	size_t rel_len = 0;
	char *path = NULL;
	int dfd, rc = 0, e;

	if (backend_prefix_check(prefix) < 0)
		return backend_err_set(err, -EINVAL, "local:%s: invalid list prefix \"%s\"", lb->root, prefix);
	/* "snapshots/" names a directory; "data/3" lists data/ and keeps the
	 * entries starting with "3". */
	slash = strrchr(prefix, '/');
	if (slash)
		rel_len = (size_t)(slash - prefix) + 1;
	if (prefix[rel_len])
		filter = prefix + rel_len;
	memcpy(rel, prefix, rel_len);
	rel[rel_len] = '\0';
	path = join(lb->root, rel_len ? rel : ".");
	if (!path)
		return backend_err_set(err, -ENOMEM, "local:%s: out of memory", lb->root);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		e = errno;
		if (e != ENOENT && e != ENOTDIR)
			rc = fail(err, e, path, "open directory");
		goto out;       /* a missing prefix lists nothing */
	}
	rc = list_dir(lb, dfd, rel, rel_len, filter, sink, err);
out:
	free(path);
	return rc;
}

static int local_list(Backend *be, const char *prefix, BackendListFn fn, void *ctx, RemoteErr *err)
{
	struct list_sink sink = {fn, NULL, NULL, ctx};

	return list_prefix(be, prefix, &sink, err);
}

/* A directory has no storage classes; the file's mtime is the upload
 * time: objects are written once (temp file, rename) and never touched
 * again. */
static int local_list_info(Backend *be, const char *prefix, BackendInfoFn fn, void *ctx, RemoteErr *err)
{
	struct list_sink sink = {NULL, NULL, fn, ctx};

	return list_prefix(be, prefix, &sink, err);
}

static int local_list_names(Backend *be, const char *prefix, BackendNameFn fn, void *ctx, RemoteErr *err)
{
	struct list_sink sink = {NULL, fn, NULL, ctx};

	return list_prefix(be, prefix, &sink, err);
}

static int local_del(Backend *be, const char *name, RemoteErr *err)
{
	LocalBackend *lb = local_of(be);
	char *path = NULL, *dir = NULL;
	int rc = 0, e;

	if (backend_name_check(name) < 0)
		return backend_err_set(err, -EINVAL, "local:%s: invalid object name \"%s\"", lb->root, name);
	path = join(lb->root, name);
	dir = path ? dir_of(path) : NULL;
	if (!dir) {
		rc = backend_err_set(err, -ENOMEM, "local:%s/%s: out of memory", lb->root, name);
		goto out;
	}
	if (unlink(path) < 0) {
		e = errno;
		/* Linux says EISDIR for a directory: not an object either. */
		rc = fail(err, e == EISDIR ? ENOENT : e, path, "unlink");
		goto out;
	}
	e = fsync_dir(dir);
	if (e) {
		rc = fail(err, e, dir, "fsync of directory");
		goto out;
	}
out:
	free(dir);
	free(path);
	return rc;
}

static int local_stat(Backend *be, const char *name, uint64_t *out_size, RemoteErr *err)
{
	LocalBackend *lb = local_of(be);
	struct stat st;
	char *path;
	int rc = 0;

	if (backend_name_check(name) < 0)
		return backend_err_set(err, -EINVAL, "local:%s: invalid object name \"%s\"", lb->root, name);
	path = join(lb->root, name);
	if (!path)
		return backend_err_set(err, -ENOMEM, "local:%s/%s: out of memory", lb->root, name);
	if (stat(path, &st) < 0) {
		rc = fail(err, errno, path, "stat");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = backend_err_set(err, -ENOENT, "local:%s: not a regular file", path);
		goto out;
	}
	*out_size = (uint64_t)st.st_size;
out:
	free(path);
	return rc;
}

static void local_free(Backend *be)
{
	LocalBackend *lb = local_of(be);

	free(lb->root);
	free(lb);
}

static const BackendOps local_ops = {
	.put = local_put,
	.get = local_get,
	.get_range = local_get_range,
	.list = local_list,
	.del = local_del,
	.stat = local_stat,
	.free = local_free,
	.list_names = local_list_names,
	.list_info = local_list_info,
};

int backend_local_open(const char *dir, Backend **out_be, RemoteErr *err)
{
	LocalBackend *lb;
	size_t len;

	if (!dir || !*dir)
		return backend_err_set(err, -EINVAL, "empty local directory name");
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	lb = calloc(1, sizeof(*lb));
	if (!lb || !(lb->root = strndup(dir, len))) {
		free(lb);
		return backend_err_set(err, -ENOMEM, "local:%s: out of memory", dir);
	}
	lb->base.ops = &local_ops;
	snprintf(lb->base.location, sizeof(lb->base.location), "local:%s", lb->root);
	*out_be = &lb->base;
	return 0;
}
