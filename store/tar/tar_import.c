/* tar_import.c — an archive in as a snapshot, see tar.h.
 *
 * Import: this thread reads entries with libarchive and cuts each file's
 * content into chunks (repo->cdc); every chunk goes to the worker pool,
 * which hashes, deduplicates, compresses, encrypts and packs it, exactly
 * as the backup engine does. Directories are collected in memory (a path
 * → directory map) because a tar stream may list a directory's entries
 * anywhere; once the stream ends and every chunk has its ID, hard links
 * are resolved and the trees are stored bottom-up, then blobwriter_finish
 * makes packs and the index file durable, and the snapshot is written
 * last (FORMAT.md "Write ordering").
 */
#include "store/tar/tar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/tar/archive_api.h"
#include "store/blob.h"
#include "store/repo_internal.h"
#include "store/tar/tar_internal.h"
#include "store/tree.h"
#include "store/backup/backup_internal.h"
#include "store/chunkpipe.h"

#define TAR_READ_BLOCK (64u << 10)
#define TAR_MAX_DEPTH  1000          /* tree_walk refuses deeper than 1024 */
#define DEFAULT_NAME   "stdin.tar"

typedef ChunkList FileWork;

/* A non-directory entry of one directory. */
typedef struct ImpEnt {
	TreeNode node;          /* name: the last path component */
	FileWork *fw;           /* regular file content (workers fill it) */
	char *link_to;          /* hard link: cleaned path of its target */
	uint64_t seq;           /* order in the stream: a later one replaces */
	int skip;
} ImpEnt;

typedef struct ImpDir {
	char *path;             /* "" for the root, else "a/b" */
	TreeNode meta;          /* type NODE_DIR; name: the last component */
	uint64_t seq;
	ImpEnt *ents;
	size_t nents, ents_cap;
	struct ImpDir **kids;
	size_t nkids, kids_cap;
} ImpDir;

/* Open addressing over path hashes; never shrinks. */
typedef struct DirMap {
	ImpDir **slots;
	size_t cap, n;
} DirMap;

typedef struct LinkRef {
	ImpDir *dir;
	size_t idx;
} LinkRef;

typedef struct Imp {
	const ArchiveApi *ar;
	Repo *repo;
	const BackupOptions *opts;
	StrataErr *err;
	struct archive *a;
	BlobWriter *bw;
	ChunkPipe *pipe;
	CodecCtx *cctx;
	DirMap dirs;
	ImpDir *root;
	LinkRef *links;
	size_t nlinks, links_cap;
	uint64_t seq;
	uint64_t entries;       /* headers read */
	int64_t now_ns;
	SnapshotSummary sum;
	Snapshot *snap;         /* being built: its partial list */
	uint64_t input_bytes;   /* of the archive stream, as read */
	int archive_failed;     /* the archive, not the repository, failed a read */
	BackupProgress prog;
	struct timespec last_progress;
} Imp;

/* An error is an entry skipped: the snapshot lacks it and is partial
 * (FORMAT.md §12, reason "skipped"). */
static void report(Imp *c, const char *path, const char *status, int error, const char *msg)
{
	if (error)
		backup_partial_note(c->snap, path, "skipped", msg);
	if (c->opts->on_file && (error || c->opts->report_all_files))
		c->opts->on_file(path, status, error, msg, c->opts->file_ctx);
}

static void progress(Imp *c, const char *path, int force)
{
	struct timespec now;
	BlobWriterStats st;

	if (!c->opts->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force && (now.tv_sec - c->last_progress.tv_sec) * 1000000000L +
	              (now.tv_nsec - c->last_progress.tv_nsec) < 200000000L)
		return;
	c->last_progress = now;
	c->prog.current = path;
	c->prog.bytes_read = c->sum.bytes_read;
	blobwriter_stats(c->bw, &st);
	c->prog.bytes_added = st.bytes_new;
	c->opts->progress(&c->prog, c->opts->progress_ctx);
}

/* The error libarchive reports while reading, as a StrataErr: an OS errno
 * stays -errno; bad bytes before the first entry mean the input is not an
 * archive (STRATA_EUSAGE), after it that the archive is damaged or cut
 * short (-EIO). Neither is damage in the repository. */
static int archive_fail(const ArchiveApi *ar, struct archive *a, uint64_t entries, StrataErr *err,
                        const char *what)
{
	int e = ar->errnum(a);
	const char *s = ar->error_string(a);

	if (tar_os_errno(e))
		return strata_err_set(err, -e, "%s: %s", what, s ? s : strerror(e));
	if (entries == 0 && ar->format(a) == 0 && ar->filter_count(a) <= 1)
		return strata_err_set(err, STRATA_EUSAGE, "%s: not an archive strata can read (%s); "
		                      "expected tar (plain, gzip, bzip2, xz, lz4 or zstd), cpio or zip",
		                      what, s ? s : "unrecognized format");
	return strata_err_set(err, -EIO, "%s: the archive is damaged or cut short after %llu entr%s: %s",
	                      what, (unsigned long long)entries, entries == 1 ? "y" : "ies", s ? s : "archive error");
}

/* Lexically clean an archive path into out (PATH_MAX): drop leading "/",
 * "." and empty components; refuse "..". "" is the root. */
static int clean_path(const char *in, char *out)
{
	size_t len = 0, depth = 0;
	const char *p = in;

	out[0] = '\0';
	while (*p) {
		const char *q = p;
		size_t cl;
		while (*q && *q != '/')
			q++;
		cl = (size_t)(q - p);
		if (cl == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		if (cl > 0 && !(cl == 1 && p[0] == '.')) {
			if (len + cl + 2 > PATH_MAX || ++depth > TAR_MAX_DEPTH)
				return -ENAMETOOLONG;
			if (len)
				out[len++] = '/';
			memcpy(out + len, p, cl);
			len += cl;
			out[len] = '\0';
		}
		p = *q ? q + 1 : q;
	}
	return 0;
}

static uint64_t path_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a 64 */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static ImpDir *map_find(const DirMap *m, const char *path)
{
	if (!m->cap)
		return NULL;
	for (size_t i = path_hash(path) & (m->cap - 1); m->slots[i]; i = (i + 1) & (m->cap - 1))
		if (strcmp(m->slots[i]->path, path) == 0)
			return m->slots[i];
	return NULL;
}

static int map_insert(DirMap *m, ImpDir *d)
{
	if (2 * (m->n + 1) > m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 1024;
		ImpDir **slots = calloc(cap, sizeof *slots);
		if (!slots)
			return -ENOMEM;
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->slots[i])
				continue;
			size_t j = path_hash(m->slots[i]->path) & (cap - 1);
			while (slots[j])
				j = (j + 1) & (cap - 1);
			slots[j] = m->slots[i];
		}
		free(m->slots);
		m->slots = slots;
		m->cap = cap;
	}
	size_t i = path_hash(d->path) & (m->cap - 1);
	while (m->slots[i])
		i = (i + 1) & (m->cap - 1);
	m->slots[i] = d;
	m->n++;
	return 0;
}

static void dir_free(ImpDir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nents; i++) {
		tree_node_clear(&d->ents[i].node);
		if (d->ents[i].fw) {
			chunklist_free(d->ents[i].fw);
			free(d->ents[i].fw);
		}
		free(d->ents[i].link_to);
	}
	free(d->ents);
	free(d->kids);
	tree_node_clear(&d->meta);
	free(d->path);
	free(d);
}

/* The directory at a cleaned path, created (with its parents) when the
 * archive has not named it yet. NULL when out of memory. */
static ImpDir *get_dir(Imp *c, const char *path)
{
	ImpDir *d = map_find(&c->dirs, path), *parent;
	const char *slash;
	char *ppath;

	if (d)
		return d;
	slash = strrchr(path, '/');
	ppath = strndup(path, slash ? (size_t)(slash - path) : 0);
	if (!ppath)
		return NULL;
	parent = get_dir(c, ppath);
	free(ppath);
	if (!parent)
		return NULL;
	if (parent->nkids == parent->kids_cap) {
		size_t cap = parent->kids_cap ? 2 * parent->kids_cap : 8;
		void *p = realloc(parent->kids, cap * sizeof *parent->kids);
		if (!p)
			return NULL;
		parent->kids = p;
		parent->kids_cap = cap;
	}
	d = calloc(1, sizeof *d);
	if (!d || !(d->path = strdup(path)) || !(d->meta.name = strdup(slash ? slash + 1 : path)) ||
	    map_insert(&c->dirs, d) != 0) {
		dir_free(d);
		return NULL;
	}
	d->meta.type = NODE_DIR;
	d->meta.mode = 0755;
	d->meta.uid = getuid();
	d->meta.gid = getgid();
	d->meta.mtime_ns = c->now_ns;
	d->meta.nlink = 1;
	d->seq = ++c->seq;
	parent->kids[parent->nkids++] = d;
	return d;
}

static void node_from_entry(const ArchiveApi *ar, TreeNode *n, struct archive_entry *e, int64_t dflt_ns)
{
	n->mode = (uint32_t)ar->entry_perm(e) & 07777;
	n->uid = (uint32_t)ar->entry_uid(e);
	n->gid = (uint32_t)ar->entry_gid(e);
	n->mtime_ns = ar->entry_mtime_is_set(e)
		? (int64_t)ar->entry_mtime(e) * 1000000000LL + ar->entry_mtime_nsec(e)
		: dflt_ns;
	n->nlink = 1;
}

static ssize_t archive_src(void *src, uint8_t *buf, size_t len)
{
	Imp *c = src;

	for (;;) {
		la_ssize_t r = c->ar->read_data(c->a, buf, len);
		if (r == ARCHIVE_RETRY)
			continue;
		if (r < 0) {
			c->archive_failed = 1;
			return -EIO;
		}
		return (ssize_t)r;
	}
}

static void tick(void *ctx, uint64_t bytes)
{
	Imp *c = ctx;

	c->sum.bytes_read += bytes;
	c->prog.bytes_done += bytes;
	progress(c, c->prog.current ? c->prog.current : "", 0);
}

/* Read the current entry's data to its end, chunking into fw. */
static int read_content(Imp *c, FileWork *fw, const char *path, uint64_t *out_size)
{
	int rc;

	c->prog.current = path;
	rc = chunkpipe_stream(c->pipe, archive_src, c, fw, tick, c, out_size, c->err);
	c->prog.current = NULL;
	if (rc == 1)
		return archive_fail(c->ar, c->a, c->entries, c->err, path);
	return rc;
}

static int push_ent(ImpDir *d, ImpEnt *ent)
{
	if (d->nents == d->ents_cap) {
		size_t cap = d->ents_cap ? 2 * d->ents_cap : 16;
		void *p = realloc(d->ents, cap * sizeof *d->ents);
		if (!p)
			return -ENOMEM;
		d->ents = p;
		d->ents_cap = cap;
	}
	d->ents[d->nents++] = *ent;
	return 0;
}

static int push_link(Imp *c, ImpDir *d, size_t idx)
{
	if (c->nlinks == c->links_cap) {
		size_t cap = c->links_cap ? 2 * c->links_cap : 16;
		void *p = realloc(c->links, cap * sizeof *c->links);
		if (!p)
			return -ENOMEM;
		c->links = p;
		c->links_cap = cap;
	}
	c->links[c->nlinks].dir = d;
	c->links[c->nlinks].idx = idx;
	c->nlinks++;
	return 0;
}

/* One archive entry. Returns 0 (stored or skipped and reported) or a
 * fatal error. */
static int add_entry(Imp *c, struct archive_entry *e, char *path)
{
	const char *raw = c->ar->entry_pathname(e), *hard = c->ar->entry_hardlink(e), *base;
	mode_t ft = c->ar->entry_filetype(e);
	ImpEnt ent;
	ImpDir *parent;
	char *slash;
	int rc;

	memset(&ent, 0, sizeof ent);
	if (!raw || clean_path(raw, path) != 0) {
		c->sum.errors++;
		report(c, raw ? raw : "(no name)", "error", STRATA_EREFUSED,
		       "entry skipped: its path is empty, too long or holds a \"..\" component");
		return 0;
	}
	if (ft == AE_IFDIR && !hard) {
		ImpDir *d;
		if (!path[0])
			return 0;   /* "./": the root has no metadata of its own */
		d = get_dir(c, path);
		if (!d)
			return strata_err_set(c->err, -ENOMEM, "out of memory");
		node_from_entry(c->ar, &d->meta, e, c->now_ns);
		d->seq = ++c->seq;
		c->sum.dirs++;
		report(c, path, "new", 0, NULL);
		return 0;
	}
	if (!path[0]) {
		c->sum.errors++;
		report(c, raw, "error", STRATA_EREFUSED, "entry skipped: a non-directory cannot be the root");
		return 0;
	}
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	if (slash)
		*slash = '\0';
	parent = get_dir(c, slash ? path : "");
	if (slash)
		*slash = '/';
	if (!parent)
		return strata_err_set(c->err, -ENOMEM, "out of memory");
	node_from_entry(c->ar, &ent.node, e, c->now_ns);
	ent.seq = ++c->seq;
	if (!(ent.node.name = strdup(base)))
		goto oom;
	if (hard) {
		char target[PATH_MAX];
		if (clean_path(hard, target) != 0 || !target[0]) {
			c->sum.errors++;
			report(c, path, "error", STRATA_EREFUSED, "hard link skipped: its target path is empty or holds \"..\"");
			tree_node_clear(&ent.node);
			return 0;
		}
		ent.node.type = NODE_FILE;
		if (!(ent.link_to = strdup(target)))
			goto oom;
		if (push_ent(parent, &ent) != 0 || push_link(c, parent, parent->nents - 1) != 0)
			goto oom;
		return 0;
	}
	switch (ft) {
	case AE_IFREG: {
		uint64_t size = 0;
		ent.node.type = NODE_FILE;
		if (!(ent.fw = calloc(1, sizeof *ent.fw)))
			goto oom;
		rc = read_content(c, ent.fw, path, &size);
		if (rc) {
			/* The workers may still hold ent.fw: drain them first. */
			chunkpipe_wait(c->pipe, NULL);
			chunklist_free(ent.fw);
			free(ent.fw);
			tree_node_clear(&ent.node);
			return rc;
		}
		ent.node.size = size;
		c->sum.files++;
		c->sum.files_new++;
		c->sum.bytes_total += size;
		c->prog.files_done++;
		break;
	}
	case AE_IFLNK: {
		const char *t = c->ar->entry_symlink(e);
		ent.node.type = NODE_SYMLINK;
		if (!t || !*t) {
			c->sum.errors++;
			report(c, path, "error", STRATA_EREFUSED, "symlink skipped: it has no target");
			tree_node_clear(&ent.node);
			return 0;
		}
		if (!(ent.node.link_target = strdup(t)))
			goto oom;
		ent.node.size = strlen(t);
		break;
	}
	case AE_IFIFO:
		ent.node.type = NODE_FIFO;
		break;
	case AE_IFCHR:
	case AE_IFBLK:
		ent.node.type = ft == AE_IFCHR ? NODE_CHARDEV : NODE_BLOCKDEV;
		ent.node.rdev = (uint64_t)c->ar->entry_rdev(e);
		break;
	case AE_IFSOCK:
		ent.node.type = NODE_SOCKET;
		break;
	default:
		c->sum.errors++;
		report(c, path, "error", STRATA_EREFUSED, "entry skipped: unknown file type");
		tree_node_clear(&ent.node);
		return 0;
	}
	if (push_ent(parent, &ent) != 0)
		goto oom;
	report(c, path, "new", 0, NULL);
	progress(c, path, 0);
	return 0;
oom:
	if (ent.fw) {
		chunkpipe_wait(c->pipe, NULL);
		chunklist_free(ent.fw);
		free(ent.fw);
	}
	free(ent.link_to);
	tree_node_clear(&ent.node);
	return strata_err_set(c->err, -ENOMEM, "out of memory");
}

/* The entry a hard link points at: the latest of that path before the
 * link. NULL when the archive has no such regular file. */
static ImpEnt *link_target(Imp *c, const ImpEnt *link)
{
	const char *slash = strrchr(link->link_to, '/'), *base = slash ? slash + 1 : link->link_to;
	char *dpath = strndup(link->link_to, slash ? (size_t)(slash - link->link_to) : 0);
	ImpDir *d = dpath ? map_find(&c->dirs, dpath) : NULL;
	ImpEnt *best = NULL;

	free(dpath);
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->nents; i++) {
		ImpEnt *t = &d->ents[i];
		if (t->skip || t->seq >= link->seq || t->node.type != NODE_FILE || strcmp(t->node.name, base) != 0)
			continue;
		if (!best || t->seq > best->seq)
			best = t;
	}
	return best;
}

static FileWork *fw_copy(const FileWork *src)
{
	FileWork *fw = calloc(1, sizeof *fw);
	size_t n = src ? src->n : 0;

	if (!fw)
		return NULL;
	fw->ids = malloc((n ? n : 1) * sizeof *fw->ids);
	fw->lens = malloc((n ? n : 1) * sizeof *fw->lens);
	if (!fw->ids || !fw->lens) {
		free(fw->ids);
		free(fw->lens);
		free(fw);
		return NULL;
	}
	if (n) {
		memcpy(fw->ids, src->ids, n * sizeof *fw->ids);
		memcpy(fw->lens, src->lens, n * sizeof *fw->lens);
	}
	fw->n = fw->cap = n;
	return fw;
}

/* Give each hard-link group one synthetic (dev 1, ino) identity and its
 * size as nlink, so restore recreates the links. Links are in stream
 * order, so a link to a link finds its target already resolved. */
static int resolve_links(Imp *c)
{
	uint64_t groups = 0, *counts = NULL;
	char path[PATH_MAX];
	int rc = 0;

	for (size_t i = 0; i < c->nlinks; i++) {
		ImpEnt *l = &c->links[i].dir->ents[c->links[i].idx];
		ImpEnt *t = link_target(c, l);
		if (!t) {
			l->skip = 1;
			c->sum.errors++;
			snprintf(path, sizeof path, "%s%s%s", c->links[i].dir->path, c->links[i].dir->path[0] ? "/" : "",
			         l->node.name);
			report(c, path, "error", STRATA_ENOTFOUND, "hard link skipped: its target is not an earlier file of the archive");
			continue;
		}
		if (!(l->fw = fw_copy(t->fw)))
			return strata_err_set(c->err, -ENOMEM, "out of memory");
		if (!t->node.ino) {
			t->node.ino = ++groups;
			t->node.dev = 1;
		}
		l->node.ino = t->node.ino;
		l->node.dev = 1;
		l->node.size = t->node.size;
		c->sum.files++;
		c->sum.files_new++;
	}
	if (!groups)
		return 0;
	counts = calloc(groups + 1, sizeof *counts);
	if (!counts)
		return strata_err_set(c->err, -ENOMEM, "out of memory");
	for (size_t pass = 0; pass < 2; pass++)
		for (size_t s = 0; s < c->dirs.cap; s++) {
			ImpDir *d = c->dirs.slots[s];
			for (size_t i = 0; d && i < d->nents; i++) {
				ImpEnt *x = &d->ents[i];
				if (x->skip || !x->node.ino || x->node.type != NODE_FILE)
					continue;
				if (pass == 0)
					counts[x->node.ino]++;
				else
					x->node.nlink = (uint32_t)counts[x->node.ino];
			}
		}
	free(counts);
	return rc;
}

typedef struct Cand {
	const char *name;
	uint64_t seq;
	ImpDir *dir;            /* a subdirectory, or */
	ImpEnt *ent;            /* an entry */
} Cand;

static int cmp_cand(const void *a, const void *b)
{
	const Cand *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	if (r)
		return r;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Store d and everything below it; the latest entry of each name wins. */
static int store_dir(Imp *c, ImpDir *d, uint8_t out_id[STRATA_ID_LEN])
{
	size_t n = d->nents + d->nkids, k = 0;
	Cand *cand = calloc(n ? n : 1, sizeof *cand);
	Tree t = {0};
	int rc = 0;

	if (!cand)
		return strata_err_set(c->err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < d->nents; i++)
		if (!d->ents[i].skip)
			cand[k++] = (Cand){ d->ents[i].node.name, d->ents[i].seq, NULL, &d->ents[i] };
	for (size_t i = 0; i < d->nkids; i++)
		cand[k++] = (Cand){ d->kids[i]->meta.name, d->kids[i]->seq, d->kids[i], NULL };
	qsort(cand, k, sizeof *cand, cmp_cand);
	for (size_t i = 0; i < k && rc == 0; i++) {
		TreeNode node;
		if (i + 1 < k && strcmp(cand[i].name, cand[i + 1].name) == 0)
			continue;   /* replaced by a later entry of the same name */
		if (cand[i].dir) {
			rc = store_dir(c, cand[i].dir, cand[i].dir->meta.subtree);
			if (rc)
				break;
			node = cand[i].dir->meta;
			memset(&cand[i].dir->meta, 0, sizeof cand[i].dir->meta);
		} else {
			ImpEnt *x = cand[i].ent;
			node = x->node;
			memset(&x->node, 0, sizeof x->node);
			if (x->fw) {
				node.chunks = x->fw->ids;
				node.chunk_lens = x->fw->lens;
				node.nchunks = x->fw->n;
				x->fw->ids = NULL;
				x->fw->lens = NULL;
			}
		}
		if (tree_add(&t, &node) != 0) {
			tree_node_clear(&node);
			rc = strata_err_set(c->err, -ENOMEM, "out of memory");
		}
	}
	if (rc == 0) {
		tree_sort(&t);
		rc = tree_store(c->repo, c->bw, c->cctx, &t, out_id, c->err);
	}
	tree_clear(&t);
	free(cand);
	return rc;
}


/* libarchive's input: fd through our own buffer, counting bytes (an
 * empty input then gets its own message). */
typedef struct ReadSrc {
	const ArchiveApi *ar;
	int fd;
	uint8_t *buf;
	uint64_t total;
} ReadSrc;

static la_ssize_t src_read(struct archive *a, void *ctx, const void **out)
{
	ReadSrc *src = ctx;
	ssize_t r;

	do
		r = read(src->fd, src->buf, TAR_READ_BLOCK);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		src->ar->set_error(a, errno, "reading standard input: %s", strerror(errno));
		return -1;
	}
	src->total += (uint64_t)r;
	*out = src->buf;
	return r;
}

/* Read every entry of the archive on fd into c's directories. */
static int read_archive(Imp *c, int fd)
{
	struct archive_entry *e;
	char *path = malloc(PATH_MAX);
	ReadSrc src = { c->ar, fd, malloc(TAR_READ_BLOCK), 0 };
	int r, rc = 0;

	if (!path || !src.buf) {
		rc = strata_err_set(c->err, -ENOMEM, "out of memory");
		goto out;
	}
	/* Every filter, but not format_all: its "mtree" and "raw" readers
	 * would take any text as an archive, and "empty" an empty stream (a
	 * producer that died before writing) as an empty one. */
	c->ar->read_support_filter_all(c->a);
	c->ar->read_support_format_tar(c->a);
	c->ar->read_support_format_cpio(c->a);
	c->ar->read_support_format_zip(c->a);
	r = c->ar->read_open(c->a, &src, NULL, src_read, NULL);
	for (;;) {
		if (r == ARCHIVE_OK)
			r = c->ar->read_next_header(c->a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r == ARCHIVE_RETRY) {
			r = ARCHIVE_OK;
			continue;
		}
		if (r < ARCHIVE_WARN) {
			if (src.total == 0 && !tar_os_errno(c->ar->errnum(c->a)))
				rc = strata_err_set(c->err, STRATA_EUSAGE, "reading the archive: the input is empty "
				                    "(did the program writing it fail?)");
			else
				rc = archive_fail(c->ar, c->a, c->entries, c->err, "reading the archive");
			goto out;
		}
		r = ARCHIVE_OK;
		c->entries++;
		rc = add_entry(c, e, path);
		if (rc)
			goto out;
	}
out:
	c->input_bytes = src.total;
	free(src.buf);
	free(path);
	return rc;
}

int tar_import(Repo *repo, int fd, const BackupOptions *opts, BackupResult *out_result, StrataErr *err)
{
	const char *name = opts->stdin_name && *opts->stdin_name ? opts->stdin_name : DEFAULT_NAME;
	Imp c;
	TarLocale loc;
	Snapshot snap = {0};
	struct timespec t0, rt;
	char why[256];
	int rc;

	memset(&c, 0, sizeof c);
	c.repo = repo;
	c.opts = opts;
	c.err = err;
	c.snap = &snap;
	tar_locale_enter(&loc);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_REALTIME, &rt);
	c.now_ns = opts->time_ns ? opts->time_ns : (int64_t)rt.tv_sec * 1000000000LL + rt.tv_nsec;
	for (size_t i = 0; i < opts->nlabels; i++) {
		const char *eq = strchr(opts->labels[i], '=');
		if (!eq || eq == opts->labels[i]) {
			rc = strata_err_set(err, STRATA_EUSAGE, "label %s: expected key=value", opts->labels[i]);
			goto out;
		}
	}
	/* Before a byte of the input is read. */
	if (!(c.ar = archive_api_load(why, sizeof why))) {
		rc = strata_err_set(err, -ENOSYS, "tar import needs libarchive: %s", why);
		goto out;
	}
	c.cctx = codec_ctx_new();
	c.a = c.ar->read_new();
	if (!c.cctx || !c.a) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	c.root = calloc(1, sizeof *c.root);
	if (!c.root || !(c.root->path = strdup("")) || map_insert(&c.dirs, c.root) != 0) {
		dir_free(c.root);   /* not in the map, or the map is empty */
		c.root = NULL;
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	rc = blobwriter_new(repo, opts->compression_level, &c.bw, err);
	if (rc)
		goto out;
	rc = chunkpipe_new(repo, c.bw, opts->threads, &c.pipe, err);
	if (rc)
		goto out;
	rc = read_archive(&c, fd);
	if (rc == 0)
		rc = chunkpipe_wait(c.pipe, err);
	else
		chunkpipe_wait(c.pipe, NULL);
	/* Before anything is committed: a failed producer leaves no snapshot. */
	if (rc == 0 && opts->stream_end)
		rc = opts->stream_end(opts->stream_end_ctx, c.input_bytes, err);
	if (rc)
		goto out;
	rc = resolve_links(&c);
	if (rc == 0)
		rc = store_dir(&c, c.root, snap.tree);
	if (rc)
		goto out;
	chunkpipe_free(c.pipe);
	c.pipe = NULL;
	rc = backup_commit(repo, opts, c.bw, &name, 1, c.now_ns, &t0, &c.sum, &snap, err);
	if (rc)
		goto out;
	progress(&c, "", 1);
	rc = 0;
	if (snap.partial)
		rc = backup_partial_err(&snap, "archive entry could not be imported", "archive entries could not be imported",
		                        err);
	backup_result_fill(out_result, &snap, &c.sum);
out:
	chunkpipe_free(c.pipe);
	blobwriter_free(c.bw);
	codec_ctx_free(c.cctx);
	if (c.a)
		c.ar->read_free(c.a);
	for (size_t i = 0; i < c.dirs.cap; i++)
		dir_free(c.dirs.slots[i]);
	free(c.dirs.slots);
	free(c.links);
	snapshot_clear(&snap);
	tar_locale_leave(&loc);
	return rc;
}

