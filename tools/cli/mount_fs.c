/* mount_fs.c — the MountFsOps of `strata mount`, see mount_fs.h. */
#include "tools/cli/mount_fs.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tools/cli/cli_exit.h"

/* One open file: everything read needs, copied out of the tree cache. */
typedef struct OpenFile {
	uint8_t (*chunks)[STRATA_ID_LEN];
	uint64_t *starts;         /* offset of each chunk in the file */
	uint32_t *lens;
	size_t nchunks;
	uint64_t size;
	char *path;               /* for error messages */
} OpenFile;

/* ---- attributes ---- */

static void set_times(struct stat *st, int64_t ns)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	if (ts.tv_nsec < 0) {
		ts.tv_sec--;
		ts.tv_nsec += 1000000000;
	}
	st->st_mtim = st->st_atim = st->st_ctim = ts;
}

static void dir_stat(const MountFs *m, int64_t time_ns, struct stat *st)
{
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	set_times(st, time_ns);
}

static void node_stat(const TreeNode *n, struct stat *st)
{
	mode_t type;

	switch (n->type) {
	case NODE_DIR:      type = S_IFDIR; break;
	case NODE_SYMLINK:  type = S_IFLNK; break;
	case NODE_FIFO:     type = S_IFIFO; break;
	case NODE_CHARDEV:  type = S_IFCHR; break;
	case NODE_BLOCKDEV: type = S_IFBLK; break;
	case NODE_SOCKET:   type = S_IFSOCK; break;
	default:            type = S_IFREG; break;
	}
	st->st_mode = type | (n->mode & 07777);
	st->st_nlink = n->type == NODE_DIR ? 2 : n->nlink ? n->nlink : 1;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_rdev = (dev_t)n->rdev;
	if (n->type != NODE_DIR) {
		st->st_size = (off_t)n->size;
		st->st_blocks = (blkcnt_t)((n->size + 511) / 512);
	}
	set_times(st, n->mtime_ns);
}

static int fs_getattr(void *ctx, const char *path, struct stat *st)
{
	MountFs *m = ctx;
	MountWhere w;
	char *buf = strdup(path);
	int rc;

	if (!buf)
		return -ENOMEM;
	if ((rc = mount_layout_resolve(&m->layout, buf, &w)) != 0)
		goto out;
	switch (w.kind) {
	case MOUNT_ROOT:
	case MOUNT_TOP:
	case MOUNT_LABEL:
		dir_stat(m, mount_layout_newest_time(&m->layout), st);
		break;
	case MOUNT_LINK:
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		st->st_uid = m->uid;
		st->st_gid = m->gid;
		st->st_size = (off_t)strlen(w.link);
		set_times(st, mount_layout_newest_time(&m->layout));
		break;
	case MOUNT_SNAPROOT:
		dir_stat(m, w.snap->time_ns, st);
		break;
	case MOUNT_NODE:
		node_stat(w.node, st);
		break;
	}
out:
	free(buf);
	return rc;
}

/* ---- directories and links ---- */

static int fill_tree(MountFs *m, const uint8_t id[STRATA_ID_LEN], MountFillFn fill, void *fill_ctx)
{
	const Tree *t;
	struct stat st;
	int rc;

	if ((rc = mount_cache_tree(&m->cache, id, &t)) != 0)
		return rc;
	for (size_t i = 0; i < t->n; i++) {
		memset(&st, 0, sizeof st);
		node_stat(&t->nodes[i], &st);
		if (fill(fill_ctx, t->nodes[i].name, &st))
			break;
	}
	return 0;
}

static int fs_readdir(void *ctx, const char *path, MountFillFn fill, void *fill_ctx)
{
	MountFs *m = ctx;
	uint8_t id[STRATA_ID_LEN];
	MountWhere w;
	char *buf = strdup(path);
	int rc;

	if (!buf)
		return -ENOMEM;
	if ((rc = mount_layout_resolve(&m->layout, buf, &w)) != 0)
		goto out;
	switch (w.kind) {
	case MOUNT_ROOT:
	case MOUNT_TOP:
	case MOUNT_LABEL:
		rc = mount_layout_list(&m->layout, &w, fill, fill_ctx);
		break;
	case MOUNT_LINK:
		rc = -ENOTDIR;
		break;
	case MOUNT_SNAPROOT:
		rc = fill_tree(m, w.snap->tree, fill, fill_ctx);
		break;
	case MOUNT_NODE:
		if (w.node->type != NODE_DIR) {
			rc = -ENOTDIR;
			break;
		}
		memcpy(id, w.node->subtree, STRATA_ID_LEN);
		rc = fill_tree(m, id, fill, fill_ctx);
		break;
	}
out:
	free(buf);
	return rc;
}

static int fs_readlink(void *ctx, const char *path, char *out, size_t len)
{
	MountFs *m = ctx;
	MountWhere w;
	char *buf = strdup(path);
	const char *target = NULL;
	int rc;

	if (!buf)
		return -ENOMEM;
	if (len == 0)
		rc = -EINVAL;
	else if ((rc = mount_layout_resolve(&m->layout, buf, &w)) == 0) {
		if (w.kind == MOUNT_LINK)
			target = w.link;
		else if (w.kind == MOUNT_NODE && w.node->type == NODE_SYMLINK && w.node->link_target)
			target = w.node->link_target;
		else
			rc = -EINVAL;
	}
	if (target)
		snprintf(out, len, "%s", target);
	free(buf);
	return rc;
}

/* ---- files ---- */

static void file_free(OpenFile *f)
{
	if (!f)
		return;
	free(f->chunks);
	free(f->starts);
	free(f->lens);
	free(f->path);
	free(f);
}

static int fs_open(void *ctx, const char *path, uint64_t *out_fh)
{
	MountFs *m = ctx;
	OpenFile *f = NULL;
	const TreeNode *n;
	MountWhere w;
	char *buf = strdup(path);
	uint64_t off = 0;
	int rc;

	if (!buf)
		return -ENOMEM;
	if ((rc = mount_layout_resolve(&m->layout, buf, &w)) != 0)
		goto out;
	if (w.kind != MOUNT_NODE || w.node->type != NODE_FILE) {
		rc = w.kind == MOUNT_NODE && w.node->type != NODE_DIR ? -EINVAL : -EISDIR;
		goto out;
	}
	n = w.node;
	if (!(f = calloc(1, sizeof *f)) || !(f->path = strdup(path)) ||
	    !(f->chunks = malloc((n->nchunks ? n->nchunks : 1) * sizeof *f->chunks)) ||
	    !(f->starts = malloc((n->nchunks ? n->nchunks : 1) * sizeof *f->starts)) ||
	    !(f->lens = malloc((n->nchunks ? n->nchunks : 1) * sizeof *f->lens))) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n->nchunks; i++) {
		memcpy(f->chunks[i], n->chunks[i], STRATA_ID_LEN);
		f->lens[i] = n->chunk_lens[i];
		f->starts[i] = off;
		off += n->chunk_lens[i];
	}
	f->nchunks = n->nchunks;
	/* The chunks define the content; a size disagreeing with them is
	 * damage, shown as a short file rather than made-up bytes. */
	f->size = off;
	if (off != n->size)
		cli_warn("mount: %s: its chunks hold %llu bytes, its tree says %llu", path,
		         (unsigned long long)off, (unsigned long long)n->size);
	*out_fh = (uint64_t)(uintptr_t)f;
	f = NULL;
out:
	file_free(f);
	free(buf);
	return rc;
}

static int fs_read(void *ctx, uint64_t fh, char *buf, size_t len, off_t off)
{
	MountFs *m = ctx;
	OpenFile *f = (OpenFile *)(uintptr_t)fh;
	const uint8_t *data;
	uint64_t pos = (uint64_t)off;
	size_t done = 0, lo = 0, hi;
	int rc;

	if (off < 0)
		return -EINVAL;
	if (len > INT32_MAX)
		len = INT32_MAX;   /* the byte count must fit the int returned */
	if (pos >= f->size || f->nchunks == 0)
		return 0;
	/* The last chunk starting at or before pos. */
	hi = f->nchunks;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->starts[mid] <= pos)
			lo = mid;
		else
			hi = mid;
	}
	for (size_t i = lo; i < f->nchunks && done < len; i++) {
		uint64_t in = pos - f->starts[i];
		size_t take;
		if (in >= f->lens[i])
			continue;   /* empty chunks, if a tree holds any */
		if ((rc = mount_cache_chunk(&m->cache, f->chunks[i], f->lens[i], f->path, &data)) != 0)
			return done ? (int)done : rc;
		take = (size_t)(f->lens[i] - in);
		if (take > len - done)
			take = len - done;
		memcpy(buf + done, data + in, take);
		done += take;
		pos += take;
	}
	return (int)done;
}

static void fs_release(void *ctx, uint64_t fh)
{
	(void)ctx;
	file_free((OpenFile *)(uintptr_t)fh);
}

const MountFsOps mount_fs_ops = {
	.getattr  = fs_getattr,
	.readdir  = fs_readdir,
	.readlink = fs_readlink,
	.open     = fs_open,
	.read     = fs_read,
	.release  = fs_release,
};
