/* restore.c — the restore engine, see restore.h.
 *
 * Safety: everything is created relative to directory descriptors opened
 * with O_NOFOLLOW, entry names were checked by tree_decode (no '/', '.',
 * '..'), so a hostile tree cannot reach outside the target, and a symlink
 * created earlier in the restore is never followed. File contents are
 * written by the worker pool (one job per run of chunks, pwrite at known
 * offsets); a directory's metadata is applied once its jobs are done.
 */
#include "store/restore.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/index.h"
#include "store/repo_internal.h"
#include "store/tree.h"
#include "store/workpool.h"

#define JOB_BYTES (8u << 20)   /* a file's chunks are restored in runs of about this size */

typedef struct OpenFile {
	int fd;
	int refs;                  /* jobs still writing; guarded by Ctx.mu */
	char *path;
} OpenFile;

typedef struct LinkSeen {
	uint64_t dev, ino;
	char *path;                /* relative to the target */
} LinkSeen;

typedef struct Ctx {
	Repo *repo;
	Index *ix;
	const RestoreOptions *opts;
	WorkPool *pool;
	int root_fd;
	int is_root;
	pthread_mutex_t mu;
	int fatal;
	StrataErr ferr;
	StrataErr *err;
	RestoreResult res;
	RestoreProgress prog;
	LinkSeen *links;
	size_t nlinks, links_cap;
	char **includes;
	size_t nincludes;
} Ctx;

typedef struct WriteJob {
	Ctx *ctx;
	OpenFile *of;
	const TreeNode *node;      /* valid until the directory's wait */
	size_t first, count;
	uint64_t offset;
} WriteJob;

static void *make_codec(void) { return codec_ctx_new(); }
static void free_codec(void *p) { codec_ctx_free(p); }

static void set_fatal(Ctx *c, int rc, const StrataErr *err)
{
	pthread_mutex_lock(&c->mu);
	if (!c->fatal) {
		c->fatal = rc;
		if (err)
			c->ferr = *err;
	}
	pthread_mutex_unlock(&c->mu);
}

static int all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

static int write_chunks(Ctx *c, CodecCtx *cctx, int fd, const TreeNode *n, size_t first, size_t count,
                        uint64_t off, const char *path, StrataErr *err)
{
	char idhex[STRATA_ID_HEX_LEN + 1];
	uint8_t *buf = NULL;
	size_t cap = 0;
	int rc = 0;

	for (size_t i = first; i < first + count; i++) {
		IndexEntry e;
		codec_hex(n->chunks[i], STRATA_ID_LEN, idhex);
		rc = index_lookup(c->ix, n->chunks[i], &e);
		if (rc) {
			rc = strata_err_set(err, STRATA_EDAMAGED, "%s: chunk %.16s (bytes %llu-%llu) is missing from the repository",
			                    path, idhex, (unsigned long long)off,
			                    (unsigned long long)(off + n->chunk_lens[i] - 1));
			break;
		}
		if (e.raw_len != n->chunk_lens[i] || e.type != BLOB_DATA) {
			rc = strata_err_set(err, STRATA_EDAMAGED, "%s: chunk %.16s: index and tree disagree on its length or type",
			                    path, idhex);
			break;
		}
		if (cap < e.raw_len) {
			free(buf);
			cap = e.raw_len;
			buf = malloc(cap);
			if (!buf) {
				rc = strata_err_set(err, -ENOMEM, "out of memory");
				break;
			}
		}
		rc = blob_read_at(c->repo, cctx, n->chunks[i], &e, buf, err);
		if (rc) {
			strata_err_prefix(err, "%s (bytes %llu-%llu)", path, (unsigned long long)off,
			                  (unsigned long long)(off + e.raw_len - 1));
			break;
		}
		/* All-zero chunks become holes: sparse files stay sparse. */
		if (!all_zero(buf, e.raw_len)) {
			size_t done = 0;
			while (done < e.raw_len) {
				ssize_t w = pwrite(fd, buf + done, e.raw_len - done, (off_t)(off + done));
				if (w < 0) {
					if (errno == EINTR)
						continue;
					rc = strata_err_set(err, -errno, "%s: write failed: %s", path, strerror(errno));
					goto out;
				}
				done += (size_t)w;
			}
		}
		off += e.raw_len;
		pthread_mutex_lock(&c->mu);
		c->res.bytes += e.raw_len;
		c->prog.bytes_done += e.raw_len;
		pthread_mutex_unlock(&c->mu);
	}
out:
	free(buf);
	return rc;
}

static void release_file(Ctx *c, OpenFile *of)
{
	int last;

	pthread_mutex_lock(&c->mu);
	last = --of->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (last) {
		close(of->fd);
		free(of->path);
		free(of);
	}
}

static void write_job(void *arg, void *state)
{
	WriteJob *j = arg;
	StrataErr err = {0};
	int rc;

	if (!state)
		rc = strata_err_set(&err, -ENOMEM, "out of memory");
	else
		rc = write_chunks(j->ctx, state, j->of->fd, j->node, j->first, j->count, j->offset,
		                  j->of->path, &err);
	if (rc)
		set_fatal(j->ctx, rc, &err);
	release_file(j->ctx, j->of);
	free(j);
}

static int fail_errno(Ctx *c, const char *path, const char *what)
{
	int e = errno;
	return strata_err_set(c->err, -e, "%s: %s: %s", path, what, strerror(e));
}

/* Decide what to do with path: 2 restore it whole, 1 only descend (an
 * include lies below), 0 skip. */
static int wanted(const Ctx *c, const char *path)
{
	size_t pl = strlen(path);
	int r = 0;

	if (c->nincludes == 0)
		return 2;
	for (size_t i = 0; i < c->nincludes; i++) {
		const char *inc = c->includes[i];
		size_t il = strlen(inc);
		if (il == 0 || (strncmp(path, inc, il) == 0 && (path[il] == '\0' || path[il] == '/')))
			return 2;
		if (il > pl && strncmp(inc, path, pl) == 0 && inc[pl] == '/')
			r = 1;
	}
	return r;
}

static void apply_meta(Ctx *c, int dirfd, const char *name, const TreeNode *n)
{
	struct timespec ts[2];

	if (c->is_root && fchownat(dirfd, name, n->uid, n->gid, AT_SYMLINK_NOFOLLOW) != 0)
		c->res.errors++;
	if (n->type != NODE_SYMLINK)
		fchmodat(dirfd, name, n->mode & (c->is_root ? 07777 : 01777), 0);
	ts[0].tv_sec = n->mtime_ns / 1000000000LL;
	ts[0].tv_nsec = n->mtime_ns % 1000000000LL;
	if (ts[0].tv_nsec < 0) {
		ts[0].tv_nsec += 1000000000LL;
		ts[0].tv_sec--;
	}
	ts[1] = ts[0];
	utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW);
}

static int remember_link(Ctx *c, const TreeNode *n, const char *path)
{
	if (c->nlinks == c->links_cap) {
		size_t cap = c->links_cap ? 2 * c->links_cap : 16;
		void *p = realloc(c->links, cap * sizeof *c->links);
		if (!p)
			return -ENOMEM;
		c->links = p;
		c->links_cap = cap;
	}
	c->links[c->nlinks].dev = n->dev;
	c->links[c->nlinks].ino = n->ino;
	c->links[c->nlinks].path = strdup(path);
	if (!c->links[c->nlinks].path)
		return -ENOMEM;
	c->nlinks++;
	return 0;
}

static const char *seen_link(const Ctx *c, const TreeNode *n)
{
	for (size_t i = 0; i < c->nlinks; i++)
		if (c->links[i].dev == n->dev && c->links[i].ino == n->ino)
			return c->links[i].path;
	return NULL;
}

/* Remove an existing entry in the way (only with --overwrite). */
static int clear_way(Ctx *c, int dirfd, const char *name, const char *path)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : fail_errno(c, path, "cannot inspect existing entry");
	if (!c->opts->overwrite)
		return strata_err_set(c->err, STRATA_EEXIST, "%s already exists in the target; use --overwrite to replace it", path);
	if (S_ISDIR(st.st_mode))
		return strata_err_set(c->err, STRATA_EEXIST, "%s: a directory is in the way of a file", path);
	if (unlinkat(dirfd, name, 0) != 0)
		return fail_errno(c, path, "cannot remove existing entry");
	return 0;
}

static int restore_file(Ctx *c, int dirfd, const TreeNode *n, const char *path)
{
	const char *first = n->nlink > 1 ? seen_link(c, n) : NULL;
	OpenFile *of;
	uint64_t off = 0;
	size_t i = 0;
	int fd, rc;

	rc = clear_way(c, dirfd, n->name, path);
	if (rc)
		return rc;
	if (first) {
		if (linkat(c->root_fd, first, dirfd, n->name, 0) == 0) {
			c->res.files++;
			return 0;
		}
		/* Fall back to a copy (e.g. across an include boundary). */
	}
	fd = openat(dirfd, n->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail_errno(c, path, "cannot create file");
	if (ftruncate(fd, (off_t)n->size) != 0) {
		rc = fail_errno(c, path, "cannot size file");
		close(fd);
		return rc;
	}
	if (n->nlink > 1 && !first && remember_link(c, n, path) != 0) {
		close(fd);
		return strata_err_set(c->err, -ENOMEM, "out of memory");
	}
	of = calloc(1, sizeof *of);
	if (!of || !(of->path = strdup(path))) {
		free(of);
		close(fd);
		return strata_err_set(c->err, -ENOMEM, "out of memory");
	}
	of->fd = fd;
	of->refs = 1;                   /* held by this function until submitted */
	while (i < n->nchunks) {
		size_t start = i;
		uint64_t bytes = 0, start_off = off;
		while (i < n->nchunks && (bytes == 0 || bytes + n->chunk_lens[i] <= JOB_BYTES)) {
			bytes += n->chunk_lens[i];
			off += n->chunk_lens[i];
			i++;
		}
		WriteJob *j = malloc(sizeof *j);
		if (!j) {
			release_file(c, of);
			return strata_err_set(c->err, -ENOMEM, "out of memory");
		}
		j->ctx = c;
		j->of = of;
		j->node = n;
		j->first = start;
		j->count = i - start;
		j->offset = start_off;
		pthread_mutex_lock(&c->mu);
		of->refs++;
		pthread_mutex_unlock(&c->mu);
		rc = workpool_submit(c->pool, write_job, j, bytes);
		if (rc) {
			free(j);
			release_file(c, of);
			release_file(c, of);
			return strata_err_set(c->err, rc, "out of memory");
		}
	}
	release_file(c, of);
	c->res.files++;
	c->prog.files_done++;
	return 0;
}

static int restore_dir(Ctx *c, int dirfd, const uint8_t tree_id[STRATA_ID_LEN], char *path, size_t plen);

static int restore_entry(Ctx *c, int dirfd, const TreeNode *n, char *path, size_t plen, int how)
{
	int rc = 0;

	switch (n->type) {
	case NODE_DIR: {
		int fd;
		if (mkdirat(dirfd, n->name, 0700) != 0 && errno != EEXIST)
			return fail_errno(c, path, "cannot create directory");
		fd = openat(dirfd, n->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return fail_errno(c, path, "cannot open directory (a non-directory is in the way)");
		rc = restore_dir(c, fd, n->subtree, path, plen);
		close(fd);
		if (rc == 0 && how == 2) {
			apply_meta(c, dirfd, n->name, n);
			c->res.dirs++;
		}
		return rc;
	}
	case NODE_FILE:
		if (how != 2)
			return 0;
		rc = restore_file(c, dirfd, n, path);
		break;
	case NODE_SYMLINK:
		if (how != 2)
			return 0;
		rc = clear_way(c, dirfd, n->name, path);
		if (rc == 0 && symlinkat(n->link_target, dirfd, n->name) != 0)
			rc = fail_errno(c, path, "cannot create symlink");
		if (rc == 0) {
			apply_meta(c, dirfd, n->name, n);
			c->res.files++;
		}
		break;
	case NODE_FIFO:
	case NODE_CHARDEV:
	case NODE_BLOCKDEV:
		if (how != 2)
			return 0;
		rc = clear_way(c, dirfd, n->name, path);
		if (rc)
			break;
		if (n->type == NODE_FIFO ? mkfifoat(dirfd, n->name, 0600) != 0
		                         : mknodat(dirfd, n->name, (n->type == NODE_CHARDEV ? S_IFCHR : S_IFBLK) | 0600,
		                                   (dev_t)n->rdev) != 0) {
			/* Devices need privileges: counted, not fatal. */
			c->res.errors++;
			return 0;
		}
		apply_meta(c, dirfd, n->name, n);
		c->res.files++;
		break;
	default:
		break;        /* sockets are not restored */
	}
	return rc;
}

static int restore_dir(Ctx *c, int dirfd, const uint8_t tree_id[STRATA_ID_LEN], char *path, size_t plen)
{
	Tree t;
	int rc;

	rc = tree_load(c->repo, tree_id, &t, c->err);
	if (rc)
		return rc;
	for (size_t i = 0; i < t.n && rc == 0; i++) {
		const TreeNode *n = &t.nodes[i];
		size_t nl = strlen(n->name), len = plen ? plen + 1 + nl : nl;
		int how;
		if (len >= PATH_MAX) {
			rc = strata_err_set(c->err, -ENAMETOOLONG, "path too long under %s", path);
			break;
		}
		if (plen)
			path[plen] = '/';
		memcpy(path + (plen ? plen + 1 : 0), n->name, nl + 1);
		how = wanted(c, path);
		if (how)
			rc = restore_entry(c, dirfd, n, path, len, how);
		path[plen] = '\0';
		if (rc == 0 && c->opts->progress) {
			c->prog.current = n->name;
			c->opts->progress(&c->prog, c->opts->progress_ctx);
		}
	}
	/* File nodes are referenced by queued jobs until they finish. */
	workpool_wait(c->pool);
	pthread_mutex_lock(&c->mu);
	if (rc == 0 && c->fatal) {
		rc = c->fatal;
		if (c->err)
			*c->err = c->ferr;
	}
	pthread_mutex_unlock(&c->mu);
	/* Files' metadata after their content is written. */
	for (size_t i = 0; i < t.n && rc == 0; i++) {
		const TreeNode *n = &t.nodes[i];
		if (n->type == NODE_FILE) {
			size_t nl = strlen(n->name);
			if (plen)
				path[plen] = '/';
			memcpy(path + (plen ? plen + 1 : 0), n->name, nl + 1);
			if (wanted(c, path) == 2)
				apply_meta(c, dirfd, n->name, n);
			path[plen] = '\0';
		}
	}
	tree_clear(&t);
	return rc;
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof tmp)
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static char *clean_include(const char *in)
{
	while (*in == '/')
		in++;
	char *s = strdup(in);
	if (s) {
		size_t l = strlen(s);
		while (l > 0 && s[l - 1] == '/')
			s[--l] = '\0';
	}
	return s;
}

/* Every include must name something in the snapshot. */
static int check_includes(Ctx *c, const Snapshot *snap)
{
	for (size_t i = 0; i < c->nincludes; i++) {
		TreeNode n;
		int rc;
		if (c->includes[i][0] == '\0')
			continue;
		rc = tree_lookup(c->repo, snap->tree, c->includes[i], &n, c->err);
		if (rc)
			return rc;
		tree_node_clear(&n);
	}
	return 0;
}

int restore_run(Repo *repo, const Snapshot *snap, const RestoreOptions *opts,
                RestoreResult *out_result, StrataErr *err)
{
	Ctx c;
	char *path = NULL;
	int rc;

	memset(&c, 0, sizeof c);
	c.repo = repo;
	c.opts = opts;
	c.err = err;
	c.root_fd = -1;
	c.is_root = geteuid() == 0;
	pthread_mutex_init(&c.mu, NULL);
	rc = repo_index(repo, &c.ix, err);
	if (rc)
		goto out;
	if (opts->nincludes) {
		c.includes = calloc(opts->nincludes, sizeof *c.includes);
		if (!c.includes) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < opts->nincludes; i++) {
			c.includes[i] = clean_include(opts->includes[i]);
			if (!c.includes[i]) {
				rc = strata_err_set(err, -ENOMEM, "out of memory");
				goto out;
			}
			c.nincludes++;
		}
		rc = check_includes(&c, snap);
		if (rc)
			goto out;
	}
	if (!opts->target || !*opts->target) {
		rc = strata_err_set(err, STRATA_EUSAGE, "no target directory given (--target DIR)");
		goto out;
	}
	rc = mkdir_p(opts->target);
	if (rc) {
		strata_err_set(err, rc, "cannot create target %s: %s", opts->target, strerror(-rc));
		goto out;
	}
	c.root_fd = open(opts->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.root_fd < 0) {
		rc = strata_err_set(err, -errno, "cannot open target %s: %s", opts->target, strerror(errno));
		goto out;
	}
	c.pool = workpool_new(opts->threads > 0 ? opts->threads : workpool_default_threads() + 1,
	                      64u << 20, make_codec, free_codec);
	path = malloc(PATH_MAX);
	if (!c.pool || !path) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	path[0] = '\0';
	rc = restore_dir(&c, c.root_fd, snap->tree, path, 0);
	if (rc == 0 && fsync(c.root_fd) != 0 && errno != EINVAL)
		rc = strata_err_set(err, -errno, "%s: fsync failed: %s", opts->target, strerror(errno));
	if (out_result)
		*out_result = c.res;
out:
	workpool_free(c.pool);
	if (c.root_fd >= 0)
		close(c.root_fd);
	for (size_t i = 0; i < c.nincludes; i++)
		free(c.includes[i]);
	free(c.includes);
	for (size_t i = 0; i < c.nlinks; i++)
		free(c.links[i].path);
	free(c.links);
	free(path);
	pthread_mutex_destroy(&c.mu);
	return rc;
}

int restore_dump(Repo *repo, const Snapshot *snap, const char *path, int fd, StrataErr *err)
{
	CodecCtx *ctx = NULL;
	char *clean = clean_include(path);
	TreeNode n;
	int rc;

	if (!clean)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = tree_lookup(repo, snap->tree, clean, &n, err);
	free(clean);
	if (rc)
		return rc;
	if (n.type != NODE_FILE) {
		tree_node_clear(&n);
		return strata_err_set(err, STRATA_EUSAGE, "%s is not a regular file", path);
	}
	ctx = codec_ctx_new();
	if (!ctx) {
		tree_node_clear(&n);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n.nchunks && rc == 0; i++) {
		uint8_t *buf = NULL;
		size_t len = 0, done = 0;
		rc = blob_read(repo, ctx, BLOB_DATA, n.chunks[i], &buf, &len, err);
		if (rc)
			break;
		while (done < len) {
			ssize_t w = write(fd, buf + done, len - done);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				rc = strata_err_set(err, -errno, "writing %s: %s", path, strerror(errno));
				break;
			}
			done += (size_t)w;
		}
		free(buf);
	}
	codec_ctx_free(ctx);
	tree_node_clear(&n);
	return rc;
}
