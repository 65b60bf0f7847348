/* tar.c — tar streams out (export), and what import shares; see tar.h.
 * Import is in tar_import.c.
 *
 * Export walks the snapshot's tree depth-first (tree_walk) and writes one
 * pax entry per node, file content chunk by chunk, each authenticated
 * before a byte of it is written. On failure no end-of-archive blocks are
 * written, so a reader sees the stream cut short.
 *
 * libarchive is called through store/tar/archive_api.h, loaded by the first
 * import or export.
 */
#include "store/tar/tar.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/tar/archive_api.h"
#include "store/blob.h"
#include "store/index.h"
#include "store/repo_internal.h"
#include "store/tar/tar_internal.h"
#include "store/tree.h"

void tar_locale_enter(TarLocale *l)
{
	l->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	l->old = l->utf8 ? uselocale(l->utf8) : (locale_t)0;
}

void tar_locale_leave(TarLocale *l)
{
	if (!l->utf8)
		return;
	uselocale(l->old);
	freelocale(l->utf8);
}

int tar_os_errno(int e)
{
	return e > 0 && e != EILSEQ && e != EINVAL;
}

typedef struct LinkSeen {
	uint64_t dev, ino;
	char *path;
} LinkSeen;

typedef struct Exp {
	const ArchiveApi *ar;
	Repo *repo;
	Index *ix;
	struct archive *a;
	struct archive_entry *ent;
	CodecCtx *cctx;
	StrataErr *err;
	uint8_t *buf;
	size_t buf_cap;
	LinkSeen *links;
	size_t nlinks, links_cap;
	TarExportResult res;
} Exp;

static const char *seen_link(const Exp *x, const TreeNode *n)
{
	for (size_t i = 0; i < x->nlinks; i++)
		if (x->links[i].dev == n->dev && x->links[i].ino == n->ino)
			return x->links[i].path;
	return NULL;
}

static int remember_link(Exp *x, const TreeNode *n, const char *path)
{
	if (x->nlinks == x->links_cap) {
		size_t cap = x->links_cap ? 2 * x->links_cap : 16;
		void *p = realloc(x->links, cap * sizeof *x->links);
		if (!p)
			return -ENOMEM;
		x->links = p;
		x->links_cap = cap;
	}
	if (!(x->links[x->nlinks].path = strdup(path)))
		return -ENOMEM;
	x->links[x->nlinks].dev = n->dev;
	x->links[x->nlinks].ino = n->ino;
	x->nlinks++;
	return 0;
}

static int write_fail(Exp *x, const char *path)
{
	int e = x->ar->errnum(x->a);
	const char *s = x->ar->error_string(x->a);

	if (tar_os_errno(e))
		return strata_err_set(x->err, -e, "writing the tar stream at %s: %s", path, s ? s : strerror(e));
	return strata_err_set(x->err, -EIO, "writing the tar stream at %s: %s", path, s ? s : "archive error");
}

/* Write the content of file node n (its header is written). */
static int write_content(Exp *x, const char *path, const TreeNode *n)
{
	char idhex[STRATA_ID_HEX_LEN + 1];
	uint64_t off = 0;
	int rc;

	for (size_t i = 0; i < n->nchunks; i++) {
		IndexEntry e;
		codec_hex(n->chunks[i], STRATA_ID_LEN, idhex);
		if (index_lookup(x->ix, BLOB_DATA, n->chunks[i], &e) != 0)
			return strata_err_set(x->err, STRATA_EDAMAGED, "%s: chunk %.16s (bytes %llu-%llu) is missing from the repository",
			                      path, idhex, (unsigned long long)off,
			                      (unsigned long long)(off + n->chunk_lens[i] - 1));
		if (e.raw_len != n->chunk_lens[i] || e.type != BLOB_DATA)
			return strata_err_set(x->err, STRATA_EDAMAGED, "%s: chunk %.16s: index and tree disagree on its length or type",
			                      path, idhex);
		if (x->buf_cap < e.raw_len) {
			free(x->buf);
			x->buf_cap = e.raw_len;
			if (!(x->buf = malloc(x->buf_cap))) {
				x->buf_cap = 0;
				return strata_err_set(x->err, -ENOMEM, "out of memory");
			}
		}
		rc = blob_read_at(x->repo, x->cctx, n->chunks[i], &e, x->buf, x->err);
		if (rc)
			return strata_err_prefix(x->err, "%s (bytes %llu-%llu)", path, (unsigned long long)off,
			                         (unsigned long long)(off + e.raw_len - 1));
		for (size_t done = 0; done < e.raw_len;) {
			la_ssize_t w = x->ar->write_data(x->a, x->buf + done, e.raw_len - done);
			if (w <= 0)
				return write_fail(x, path);
			done += (size_t)w;
		}
		off += e.raw_len;
	}
	if (off != n->size)
		return strata_err_set(x->err, STRATA_EDAMAGED, "%s: chunks hold %llu bytes but the tree says %llu",
		                      path, (unsigned long long)off, (unsigned long long)n->size);
	x->res.bytes += off;
	x->res.files++;
	return 0;
}

static int export_node(const char *path, const TreeNode *n, void *ctx)
{
	Exp *x = ctx;
	struct archive_entry *e = x->ent;
	const char *first = NULL;
	int r;

	x->ar->entry_clear(e);
	x->ar->entry_set_pathname(e, path);
	x->ar->entry_set_perm(e, (mode_t)(n->mode & 07777));
	x->ar->entry_set_uid(e, n->uid);
	x->ar->entry_set_gid(e, n->gid);
	{
		int64_t s = n->mtime_ns / 1000000000LL, ns = n->mtime_ns % 1000000000LL;
		if (ns < 0) {
			ns += 1000000000LL;
			s--;
		}
		x->ar->entry_set_mtime(e, (time_t)s, (long)ns);
	}
	switch (n->type) {
	case NODE_FILE:
		x->ar->entry_set_filetype(e, AE_IFREG);
		if (n->nlink > 1 && (first = seen_link(x, n)) != NULL) {
			x->ar->entry_set_hardlink(e, first);
			x->ar->entry_set_size(e, 0);
		} else {
			x->ar->entry_set_size(e, (la_int64_t)n->size);
			if (n->nlink > 1 && remember_link(x, n, path) != 0)
				return strata_err_set(x->err, -ENOMEM, "out of memory");
		}
		break;
	case NODE_DIR:
		x->ar->entry_set_filetype(e, AE_IFDIR);
		break;
	case NODE_SYMLINK:
		x->ar->entry_set_filetype(e, AE_IFLNK);
		x->ar->entry_set_symlink(e, n->link_target ? n->link_target : "");
		break;
	case NODE_FIFO:
		x->ar->entry_set_filetype(e, AE_IFIFO);
		break;
	case NODE_CHARDEV:
	case NODE_BLOCKDEV:
		x->ar->entry_set_filetype(e, n->type == NODE_CHARDEV ? AE_IFCHR : AE_IFBLK);
		x->ar->entry_set_rdev(e, (dev_t)n->rdev);
		break;
	default:
		x->res.skipped++;   /* sockets have no tar form */
		return 0;
	}
	r = x->ar->write_header(x->a, e);
	if (r < ARCHIVE_WARN)
		return write_fail(x, path);
	x->res.entries++;
	if (n->type == NODE_FILE && !first)
		return write_content(x, path, n);
	return 0;
}

int tar_export(Repo *repo, const Snapshot *snap, int fd, int compression,
               TarExportResult *out_result, StrataErr *err)
{
	Exp x;
	TarLocale loc;
	char why[256];
	int rc;

	memset(&x, 0, sizeof x);
	x.repo = repo;
	x.err = err;
	if (compression != TAR_PLAIN && compression != TAR_ZSTD)
		return strata_err_set(err, STRATA_EUSAGE, "unknown tar compression %d", compression);
	if (!(x.ar = archive_api_load(why, sizeof why)))
		return strata_err_set(err, -ENOSYS, "tar export needs libarchive: %s", why);
	rc = repo_index(repo, &x.ix, err);
	if (rc)
		return rc;
	tar_locale_enter(&loc);
	x.a = x.ar->write_new();
	x.ent = x.ar->entry_new();
	x.cctx = codec_ctx_new();
	if (!x.a || !x.ent || !x.cctx) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* pax: long names, large files and nanosecond times without limits.
	 * On standard output libarchive pads the last 10 KiB block with
	 * zeros, as tar does for tapes; after zstd those zeros are junk past
	 * the frame (`zstd -d` fails), so a compressed stream ends unpadded. */
	if (x.ar->write_set_format_pax(x.a) != ARCHIVE_OK ||
	    (compression == TAR_ZSTD && (x.ar->write_add_filter_zstd(x.a) != ARCHIVE_OK ||
	                                 x.ar->write_set_bytes_in_last_block(x.a, 1) != ARCHIVE_OK)) ||
	    x.ar->write_open_fd(x.a, fd) != ARCHIVE_OK) {
		rc = write_fail(&x, "the start");
		goto out;
	}
	rc = tree_walk(repo, snap->tree, export_node, &x, err);
	if (rc)
		goto out;
	if (x.ar->write_close(x.a) != ARCHIVE_OK) {
		rc = write_fail(&x, "the end");
		goto out;
	}
	if (out_result)
		*out_result = x.res;
out:
	/* On failure, no end-of-archive blocks: a reader must see the stream
	 * cut short, not a well-formed tar missing data. */
	if (x.a && rc)
		x.ar->write_fail(x.a);
	if (x.a)
		x.ar->write_free(x.a);
	if (x.ent)
		x.ar->entry_free(x.ent);
	codec_ctx_free(x.cctx);
	for (size_t i = 0; i < x.nlinks; i++)
		free(x.links[i].path);
	free(x.links);
	free(x.buf);
	tar_locale_leave(&loc);
	return rc;
}
