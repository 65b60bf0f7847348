/* backup.c — the backup engine, see backup.h.
 *
 * Pipeline: this thread walks the source, reads each file and cuts it into
 * chunks (FastCDC runs at several GB/s, far ahead of the rest); the chunk
 * pipe (store/chunkpipe.h) hands each chunk, where it was read, to the
 * worker pool, which hashes, deduplicates, compresses, encrypts and packs
 * it (blobwriter_put). A few read segments bound the bytes in flight, so
 * memory stays flat whatever the input size. A
 * directory's tree is stored once all its files' jobs are done, without
 * stopping the walk: walked directories queue (PendingDir) until their
 * chunks are in, bounded by PENDING_NODES entries. Meanwhile a done
 * file's chunk list (36 bytes a chunk) moves to the spill (store/backup/spill.h),
 * and the tree is streamed from there when stored, so a directory of
 * large files does not hold them all in memory. The snapshot is written
 * last, after blobwriter_finish made every pack and index file durable
 * (FORMAT.md "Write ordering").
 */
#include "store/backup/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/backup/backup_internal.h"
#include "store/backup/changeset.h"
#include "store/chunkpipe.h"
#include "store/backup/filescache.h"
#include "store/backup/pgrel.h"
#include "store/backup/frozen.h"
#include "store/repo_internal.h"
#include "store/backup/scan.h"
#include "store/backup/spill.h"
#include "store/tree.h"

/* Most chunk IDs of a re-read file's old version kept to skip index
 * lookups (file_node): 32 MiB of IDs, a ~32 GiB file at 32 KiB chunks. */
#define KNOWN_MAX ((size_t)1 << 20)

/* One file being backed up: its chunk list (filled by the pipeline's
 * workers) and what to record in the files cache once done. */
typedef struct FileWork {
	ChunkList cl;
	FileMeta meta;
	int record;
	int spilled;                  /* cl moved to the spill: */
	uint64_t spill_off;           /* its TYPE_DATA bytes there */
	size_t spill_len;
} FileWork;

/* A done file's chunk list of at least this many chunks goes to the spill
 * (see spill_ready); smaller ones wait in memory for their tree. */
#define SPILL_MIN_CHUNKS 16
/* Spilled bytes kept in memory before the spill writes them out. */
#define SPILL_MEM (1u << 20)

/* Chunks of an appended file's old prefix re-hashed before trusting it
 * (besides the first one): see FORMAT.md "Append-aware backups". */
#define PREFIX_SAMPLES 16

/* A directory walked whose tree waits for its files' chunks: nodes and
 * fw are allocated for every entry up front and never move, so the
 * subdirectories (queued before it) write their tree IDs into nodes. */
typedef struct PendingDir {
	struct PendingDir *next;
	char *path;
	TreeNode *nodes;              /* n made, of cap */
	FileWork *fw;                 /* parallel to nodes */
	size_t n, cap;
	size_t ready;                 /* nodes[0..ready) known done */
	size_t spilled;               /* nodes[0..spilled) looked at by spill_ready */
	uint8_t *out;                 /* where the tree's ID goes */
} PendingDir;

/* Directory entries queued before the walk waits for the workers: bounds
 * the memory of a walk that runs ahead (~200 bytes an entry). */
#define PENDING_NODES 16384

/* A node of the tree of source paths above what is backed up whole. */
typedef struct VDir {
	char *name;
	struct VDir **kids;
	size_t nkids;
	int leaf;                     /* back this path up whole */
} VDir;

/* A BackupView with its path cleaned (backup_run). */
typedef struct View {
	const BackupView *v;
	char *path;
	size_t len;
} View;

typedef struct Ctx {
	Repo *repo;
	const BackupOptions *opts;
	BlobWriter *bw;
	FilesCache *fc;               /* NULL: every file is read */
	ChunkPipe *pipe;
	CodecCtx *cctx;               /* this thread's, for trees */
	uint8_t *scratch;             /* one chunk, for prefix verification */
	Spill *spill;                 /* done files' chunk lists (NULL: none) */
	char *spath;                  /* a path, for the files cache */
	PendingDir *pending, *pending_tail;   /* oldest first */
	size_t pending_nodes;
	SnapshotSummary sum;
	Snapshot *snap;               /* being built: its partial list */
	int skip_cache;               /* cache_dev/cache_ino: the repository's cache */
	dev_t cache_dev;
	ino_t cache_ino;
	StrataErr *err;
	Frozen *frozen;               /* --freeze-pid: the listing taken while stopped */
	View *views;                  /* opts->views, cleaned */
	size_t nviews;
	char **holes;                 /* directories of a view found not held by it (hole_ino) */
	size_t nholes, holes_cap;
	BackupProgress prog;
	struct timespec last_progress;
	PgRelMemo pgrel;              /* the last data directory looked at (pgrel.h) */
	/* Change tracking (BackupOptions.changes), NULL: scan everything.
	 * old_*: what the parent's entries that were not taken over whole
	 * counted in its summary (see changes_summary). */
	const ChangeSet *cs;
	uint64_t old_files, old_dirs, old_bytes;
	uint64_t dirs_visited;
	char **links;                 /* names of files met with nlink > 1 */
	uint64_t (*link_inodes)[2];   /* and their (device, inode) */
	size_t nlinks, links_cap;
	int links_lost;               /* out of memory: the list is not whole */
	Scan *scan;                   /* listings made ahead (scan.h); NULL: listed here */
} Ctx;

/* store_dir/make_node: the change-driven walk met a hard-linked file
 * whose other names may have changed unseen: start again, scanning. */
#define RESCAN 2

/* Reasons a path makes the snapshot partial (snapshot.h, FORMAT.md §12). */
static const char VANISHED[] = "vanished";
static const char UNREADABLE[] = "unreadable";
static const char CHANGED[] = "changed";

static void report(Ctx *c, const char *path, const char *status, int error, const char *msg)
{
	if (c->opts->on_file && (error || c->opts->report_all_files))
		c->opts->on_file(path, status, error, msg, c->opts->file_ctx);
}

/* A source path the snapshot lacks (vanished, unreadable: counted in
 * summary.errors) or may hold inconsistently (changed): listed in the
 * snapshot, which becomes partial, and reported as a warning whose text
 * is detail. */
static void incomplete(Ctx *c, const char *path, const char *reason, int error, const char *detail)
{
	if (reason != CHANGED)
		c->sum.errors++;
	backup_partial_note(c->snap, path, reason, detail);
	report(c, path, reason == CHANGED ? "changed" : "error", error ? error : STRATA_EPARTIAL, detail);
}

/* The kind of file st_mode names, for messages. */
static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:  return "regular file";
	case S_IFDIR:  return "directory";
	case S_IFLNK:  return "symlink";
	case S_IFIFO:  return "FIFO";
	case S_IFSOCK: return "socket";
	case S_IFCHR:  return "character device";
	case S_IFBLK:  return "block device";
	default:       return "file of unknown type";
	}
}

/* freeze_not_point_in_time — the snapshot being made under --freeze-pid
 * is not a point-in-time copy at path (and, for a listing cut short,
 * what came after it), for the reason why: its writers ran while that
 * part was listed or read. The snapshot is saved partial, with path and
 * why in its list (FORMAT.md §12), so that nothing takes it for a
 * consistent copy. */
static void freeze_not_point_in_time(Ctx *c, const char *path, const char *why)
{
	incomplete(c, path, CHANGED, STRATA_EPARTIAL, why);
}

static void progress(Ctx *c, const char *path, int force)
{
	struct timespec now;

	if (!c->opts->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force && (now.tv_sec - c->last_progress.tv_sec) * 1000000000L +
	              (now.tv_nsec - c->last_progress.tv_nsec) < 200000000L)
		return;
	c->last_progress = now;
	c->prog.current = path;
	c->prog.bytes_read = c->sum.bytes_read;
	{
		BlobWriterStats st;
		blobwriter_stats(c->bw, &st);
		c->prog.bytes_added = st.bytes_new;
	}
	c->opts->progress(&c->prog, c->opts->progress_ctx);
}

static void tick(void *ctx, uint64_t bytes)
{
	Ctx *c = ctx;

	c->sum.bytes_read += bytes;
	c->prog.bytes_done += bytes;
	progress(c, c->prog.current ? c->prog.current : "", 0);
}

/* A file descriptor read up to a number of bytes (a file kept at the
 * freeze: only what it held then). */
typedef struct CappedFd {
	int fd;
	uint64_t left;
} CappedFd;

static ssize_t read_capped(void *src, uint8_t *buf, size_t len)
{
	CappedFd *cf = src;
	ssize_t r;

	if (len > cf->left)
		len = (size_t)cf->left;
	if (len == 0)
		return 0;
	r = chunkpipe_read_fd(&cf->fd, buf, len);
	if (r > 0)
		cf->left -= (uint64_t)r;
	return r;
}

/* Read fd from its current offset to the end (at most limit bytes) into
 * fw's chunk list. Returns 0, 1 for a read error (reported; the caller
 * drops the file), or a fatal error. */
static int read_file(Ctx *c, int fd, uint64_t limit, const char *path, FileWork *fw, uint64_t *out_size)
{
	StrataErr rerr = {0};
	CappedFd cf = { fd, limit };
	int rc;

	c->prog.current = path;
	rc = chunkpipe_stream(c->pipe, read_capped, &cf, &fw->cl, tick, c, out_size, &rerr);
	c->prog.current = NULL;
	if (rc == 1) {
		incomplete(c, path, UNREADABLE, rerr.code, strerror(-rerr.code));
		return 1;
	}
	if (rc && c->err)
		*c->err = rerr;
	return rc;
}

static void node_from_stat(TreeNode *n, const struct stat *st)
{
	n->mode = st->st_mode & 07777;
	n->uid = st->st_uid;
	n->gid = st->st_gid;
	n->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->nlink = (uint32_t)st->st_nlink;
	if (S_ISREG(st->st_mode))
		n->type = NODE_FILE;
	else if (S_ISDIR(st->st_mode))
		n->type = NODE_DIR;
	else if (S_ISLNK(st->st_mode))
		n->type = NODE_SYMLINK;
	else if (S_ISFIFO(st->st_mode))
		n->type = NODE_FIFO;
	else if (S_ISCHR(st->st_mode))
		n->type = NODE_CHARDEV;
	else if (S_ISBLK(st->st_mode))
		n->type = NODE_BLOCKDEV;
	else if (S_ISSOCK(st->st_mode))
		n->type = NODE_SOCKET;
	if (n->type == NODE_CHARDEV || n->type == NODE_BLOCKDEV)
		n->rdev = st->st_rdev;
}

int backup_excluded(const BackupOptions *o, const char *path, const char *name)
{
	for (size_t i = 0; i < o->nexcludes; i++) {
		const char *pat = o->excludes[i];
		if (fnmatch(pat, path, 0) == 0 || fnmatch(pat, name, 0) == 0)
			return 1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int store_dir(Ctx *c, const char *path, const VDir *virt, const Tree *old, uint8_t out_id[STRATA_ID_LEN]);

/* Open for reading the regular file that lstat described as *st. Never
 * blocks and never follows a symlink: between the lstat and the open,
 * anyone who can write the directory can rename a FIFO over the file,
 * whose blocking open would wait for a writer for ever (issue 27 finding
 * 6), or a symlink to a file they may not read. The descriptor must then
 * name the file the lstat saw (device, inode and type); O_NOATIME where
 * allowed (the owner or root), so a backup leaves atimes alone. Returns a
 * blocking descriptor, or -1 after reporting why the file is left out:
 * vanished, unreadable, or changed (another file took its name). io is
 * where the file is read (path itself, or its place in a view). */
static int open_source(Ctx *c, const char *io, const char *path, const struct stat *st)
{
	const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	char why[128];
	struct stat fst;
	int fd = open(io, flags | O_NOATIME), e, noatime = O_NOATIME;

	if (fd < 0 && errno == EPERM) {
		fd = open(io, flags);
		noatime = 0;
	}
	if (fd < 0) {
		e = errno;
		if (e == ENOENT || e == ENOTDIR)
			incomplete(c, path, VANISHED, -e, "vanished during the backup");
		else if (e == ELOOP || e == ENXIO)
			incomplete(c, path, CHANGED, -e, e == ELOOP ? "replaced by a symlink between its stat and its open" :
			           "replaced by a socket between its stat and its open");
		else
			incomplete(c, path, UNREADABLE, -e, strerror(e));
		return -1;
	}
	if (fstat(fd, &fst) != 0) {
		e = errno;
		close(fd);
		incomplete(c, path, UNREADABLE, -e, strerror(e));
		return -1;
	}
	if (fst.st_dev != st->st_dev || fst.st_ino != st->st_ino ||
	    (fst.st_mode & S_IFMT) != (st->st_mode & S_IFMT)) {
		close(fd);
		snprintf(why, sizeof why, "replaced by %s %s between its stat and its open",
		         (fst.st_mode & S_IFMT) == (st->st_mode & S_IFMT) ? "another" : "a", type_name(fst.st_mode));
		incomplete(c, path, CHANGED, STRATA_EPARTIAL, why);
		return -1;
	}
	/* A regular file: blocking reads (O_NONBLOCK only guarded the open).
	 * F_SETFL sets all of O_APPEND, O_ASYNC, O_DIRECT, O_NOATIME and
	 * O_NONBLOCK: of those the open set only these two. */
	fcntl(fd, F_SETFL, noatime);
	return fd;
}

static int64_t ts_ns(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Did the file change between the stat *a (before its read) and *b
 * (after)? Size, mtime and ctime; 1 with why filled if so. A file written
 * within the filesystem's timestamp granularity of the first stat and not
 * resized is not seen (FORMAT.md §12). */
static int changed_between(const struct stat *a, const struct stat *b, char *why, size_t len)
{
	if (a->st_size != b->st_size)
		snprintf(why, len, "size changed from %lld to %lld bytes while it was read",
		         (long long)a->st_size, (long long)b->st_size);
	else if (ts_ns(a->st_mtim) != ts_ns(b->st_mtim))
		snprintf(why, len, "modified while it was read (mtime changed)");
	else if (ts_ns(a->st_ctim) != ts_ns(b->st_ctim))
		snprintf(why, len, "changed while it was read (ctime changed)");
	else
		return 0;
	return 1;
}

/* Does the file still hold the old chunks before the last one? Re-hash
 * the first chunk and PREFIX_SAMPLES others spread over the prefix (all of
 * them with verify_prefix_full). Returns 1 if every one matches. */
static int prefix_unchanged(Ctx *c, int fd, const CachedFile *cf)
{
	size_t last = cf->n - 1, step = 1;
	uint64_t off = 0;
	uint8_t id[STRATA_ID_LEN];

	if (!c->opts->verify_prefix_full && last > PREFIX_SAMPLES)
		step = last / PREFIX_SAMPLES;
	for (size_t i = 0; i < last; i++) {
		uint32_t len = cf->lens[i];
		if (i % step == 0 || i == last - 1) {
			size_t got = 0;
			while (got < len) {
				ssize_t r = pread(fd, c->scratch + got, len - got, (off_t)(off + got));
				if (r <= 0) {
					if (r < 0 && errno == EINTR)
						continue;
					return 0;
				}
				got += (size_t)r;
			}
			c->sum.bytes_read += len;
			codec_chunk_id(c->repo->keys, c->scratch, len, id);
			if (len > c->repo->chunk_max || memcmp(id, cf->chunks[i], STRATA_ID_LEN) != 0)
				return 0;
		}
		off += len;
	}
	return 1;
}

/* A regular file: from the files cache when unchanged, re-chunked from
 * its old last chunk when it only grew, else read whole. Read at io,
 * recorded as path on device dev (BackupView). */
static int file_node(Ctx *c, const char *path, const char *io, const struct stat *st, uint64_t dev,
                     FrozenEntry *fe, TreeNode *n, FileWork *fw)
{
	CachedFile cf = {0};
	const char *status = "new";
	uint64_t size = 0, start = 0, limit = UINT64_MAX;
	int fd, rc, cached = 0, changed = 0;

	fw->meta.dev = dev;
	fw->meta.ino = st->st_ino;
	fw->meta.size = (uint64_t)st->st_size;
	fw->meta.mtime_ns = ts_ns(st->st_mtim);
	fw->meta.ctime_ns = ts_ns(st->st_ctim);
	if (c->fc && !c->opts->force_reread && filescache_lookup(c->fc, path, &cf) == 0) {
		cached = 1;
		status = "changed";
		if (filescache_meta_same(&cf.meta, &fw->meta)) {
			/* Unchanged: not read at all. */
			fw->cl.ids = cf.chunks;
			fw->cl.lens = cf.lens;
			fw->cl.n = fw->cl.cap = cf.n;
			fw->record = 0;      /* its entry from a committed run stays valid */
			n->size = cf.meta.size;
			c->sum.files++;
			c->sum.files_unchanged++;
			c->sum.bytes_total += n->size;
			c->prog.files_done++;
			c->prog.bytes_done += n->size;
			report(c, path, "unchanged", 0, NULL);
			progress(c, path, 0);
			return 0;
		}
	}
	if (fe && fe->empty) {
		fd = -1;            /* empty at the freeze: nothing to read */
		limit = 0;
	} else if (fe && frozen_kept(fe)) {
		/* Kept at the freeze: read what it held then. */
		fd = frozen_take_fd(fe);
		limit = fw->meta.size;
	} else if (fe && fe->open_err) {
		fd = -1;
		incomplete(c, path, fe->open_err == -ENOENT ? VANISHED : UNREADABLE, fe->open_err,
		           fe->open_err == -ENOENT ? "vanished during the backup" : strerror(-fe->open_err));
	} else {
		if (fe)
			freeze_not_point_in_time(c, path, fe->unheld ?
			    "read while the writers ran: more changed files than the open-file limit lets strata keep "
			    "(raise it: ulimit -n, LimitNOFILE=)" : "read while the writers ran");
		if (c->opts->test_hook)
			c->opts->test_hook("open", path, c->opts->test_hook_ctx);
		fd = open_source(c, io, path, st);
	}
	if (fd < 0 && limit != 0) {
		cachedfile_clear(&cf);
		return 1;
	}
	/* A PostgreSQL relation file is cut in runs of pages (FORMAT.md §13a). */
	fw->cl.run_len = pgrel_run_len(io, st, &c->pgrel);
	if (cached && cf.n > 0 && cf.meta.dev == fw->meta.dev && cf.meta.ino == fw->meta.ino &&
	    fw->meta.size > cf.meta.size && prefix_unchanged(c, fd, &cf)) {
		/* Grown in place: keep all old chunks but the last, re-chunk from
		 * the last one's start. Cut points only depend on the bytes from a
		 * chunk's start, so this equals a full re-chunk of the file. */
		size_t keep = cf.n - 1;
		if (chunklist_reserve(&fw->cl, keep + 16) != 0) {
			close(fd);
			cachedfile_clear(&cf);
			return strata_err_set(c->err, -ENOMEM, "out of memory");
		}
		for (size_t i = 0; i < keep; i++) {
			memcpy(fw->cl.ids[i], cf.chunks[i], STRATA_ID_LEN);
			fw->cl.lens[i] = cf.lens[i];
			start += cf.lens[i];
		}
		fw->cl.n = keep;
		/* Runs of pages are counted from the file's start: an old prefix
		 * cut otherwise (by content, before the file was recognised)
		 * is re-read whole. */
		if ((fw->cl.run_len && start % fw->cl.run_len != 0) ||
		    lseek(fd, (off_t)start, SEEK_SET) != (off_t)start) {
			fw->cl.n = 0;
			start = 0;
		} else {
			status = "appended";
		}
	}
	/* The old version's chunks are in the repository (an entry only counts
	 * from a finished run, and prune or an index rebuild drops them all,
	 * filescache.h): a chunk of a whole re-read found among them needs no
	 * index lookup. A regenerated export is mostly the same chunks. Not
	 * for a grown file (its new tail is new chunks), nor above
	 * KNOWN_MAX chunks, where the list would cost as much memory as the
	 * file's own chunk list being filled. */
	if (cached && cf.n > 0 && cf.n <= KNOWN_MAX && fw->cl.n == 0) {
		chunklist_set_known(&fw->cl, cf.chunks, cf.n);
		cf.chunks = NULL;
	}
	cachedfile_clear(&cf);
	/* A read error (1) leaves the file out of the snapshot. */
	rc = read_file(c, fd, limit == UINT64_MAX ? limit : limit - start, path, fw, &size);
	if (rc == 0 && c->opts->test_hook)
		c->opts->test_hook("read", path, c->opts->test_hook_ctx);
	if (rc == 0 && limit == UINT64_MAX) {
		/* Kept in the snapshot as read, which then is partial: its
		 * bytes may mix the file's states. (A file kept open at a
		 * freeze is read up to its size then, whatever it became.) */
		struct stat after;
		char why[128];
		if (fstat(fd, &after) != 0) {
			int e = errno;
			snprintf(why, sizeof why, "cannot stat it after reading it: %s", strerror(e));
			incomplete(c, path, UNREADABLE, -e, why);
			changed = 1;
		} else if (changed_between(st, &after, why, sizeof why)) {
			incomplete(c, path, CHANGED, STRATA_EPARTIAL, why);
			changed = 1;
		}
	}
	if (fd >= 0)
		close(fd);
	if (rc)
		return rc;
	n->size = start + size;
	if (limit != UINT64_MAX && n->size != limit) {
		/* Truncated after the resume: what was read is not what the file
		 * held at the freeze (frozen.h). */
		incomplete(c, path, UNREADABLE, -EIO, "shorter than when the writers were stopped: it was truncated "
		           "after they resumed, and cannot be copied as it was");
		return 1;
	}
	/* Record only what was read as of the stat: a file that changed while
	 * being read gets read again next time. */
	fw->record = n->size == fw->meta.size && !changed;
	c->sum.files++;
	if (cached)
		c->sum.files_changed++;
	else
		c->sum.files_new++;
	c->sum.bytes_total += n->size;
	c->prog.files_done++;
	report(c, path, status, 0, NULL);
	progress(c, path, 0);
	return 0;
}

/* Is path at or below dir (of length len; both clean and absolute)? */
static int path_under(const char *path, const char *dir, size_t len)
{
	if (len == 1)
		return 1;    /* "/" */
	return strncmp(path, dir, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

/* A hole of a view: given (BackupView.holes) or found (c->holes). */
static int in_hole(const Ctx *c, const View *w, const char *path, int exact)
{
	for (size_t i = 0; i < w->v->nholes; i++) {
		size_t hl = strlen(w->v->holes[i]);
		if (exact ? strcmp(path, w->v->holes[i]) == 0 : path_under(path, w->v->holes[i], hl))
			return 1;
	}
	for (size_t i = 0; i < c->nholes; i++)
		if (exact ? strcmp(path, c->holes[i]) == 0 : path_under(path, c->holes[i], strlen(c->holes[i])))
			return 1;
	return 0;
}

/* Where the entry recorded as path is read (BackupView): path itself, or
 * its place in the view that holds it, written to buf (PATH_MAX bytes).
 * *out_w gets that view, NULL when read live. NULL when the path in the
 * view would be too long. */
/* The innermost view holding path, or NULL: a nested subvolume given as
 * a source path of its own is read from its own snapshot, not as a hole
 * of its parent's. */
static const View *view_of(const Ctx *c, const char *path)
{
	const View *w = NULL;

	for (size_t i = 0; i < c->nviews; i++)
		if (path_under(path, c->views[i].path, c->views[i].len) && (!w || c->views[i].len > w->len))
			w = &c->views[i];
	return w;
}

static const char *source_of(const Ctx *c, const char *path, char *buf, const View **out_w)
{
	const View *w = view_of(c, path);

	*out_w = NULL;
	if (!w || in_hole(c, w, path, 0))
		return path;
	if (snprintf(buf, PATH_MAX, "%s%s", w->v->read_at, w->len == 1 ? path : path + w->len) >= PATH_MAX)
		return NULL;
	*out_w = w;
	return buf;
}

/* Entry path, a directory read through view w, is a hole of it (w's
 * hole_ino, or path one of its holes): leave it out when its name
 * matches hide (1), else remember it, so that it and all below it are
 * read live, and make the snapshot partial there (0). */
static int view_hole(Ctx *c, const View *w, const char *path)
{
	const char *name = strrchr(path, '/') + 1;

	if (w->v->hide && fnmatch(w->v->hide, name, 0) == 0)
		return 1;
	if (!in_hole(c, w, path, 1)) {
		if (c->nholes == c->holes_cap) {
			size_t cap = c->holes_cap ? 2 * c->holes_cap : 8;
			char **p = realloc(c->holes, cap * sizeof *p);
			if (!p)
				return strata_err_set(c->err, -ENOMEM, "out of memory");
			c->holes = p;
			c->holes_cap = cap;
		}
		if (!(c->holes[c->nholes] = strdup(path)))
			return strata_err_set(c->err, -ENOMEM, "out of memory");
		c->nholes++;
	}
	incomplete(c, path, CHANGED, STRATA_EPARTIAL, "not in the filesystem snapshot (a nested subvolume or another "
	           "filesystem mounted there): read live, so not point-in-time; give it as a source path of its "
	           "own (a subvolume then gets its own snapshot), or --exclude it");
	return 0;
}

int backup_cmp_devino(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* A file with more than one link met at path: listed for the next
 * backup (BackupResult.link_paths). With a change set, its name must
 * have been marked as one of the parent's hard links (backup.h): else
 * RESCAN. */
static int link_note(Ctx *c, const char *path, const TreeNode *n)
{
	uint64_t key[2] = { n->dev, n->ino };

	if (c->cs && !c->opts->changes_links_exact && !(changeset_flags(c->cs, path) & CHANGESET_LINK) &&
	    !(c->opts->nlink_inodes &&
	      bsearch(key, c->opts->link_inodes, c->opts->nlink_inodes, sizeof key, backup_cmp_devino)))
		return RESCAN;
	if (c->nlinks == c->links_cap) {
		size_t cap = c->links_cap ? 2 * c->links_cap : 64;
		char **p = realloc(c->links, cap * sizeof *p);
		uint64_t (*q)[2] = p ? realloc(c->link_inodes, cap * sizeof *q) : NULL;
		if (p)
			c->links = p;
		if (!q) {
			c->links_lost = 1;
			return 0;
		}
		c->link_inodes = q;
		c->links_cap = cap;
	}
	if (!(c->links[c->nlinks] = strdup(path))) {
		c->links_lost = 1;
	} else {
		c->link_inodes[c->nlinks][0] = n->dev;
		c->link_inodes[c->nlinks][1] = n->ino;
		c->nlinks++;
	}
	return 0;
}

/* Fill node n (name already set) for the entry at path. old: the
 * parent snapshot's node of that name, with change tracking (else NULL):
 * se: the entry as the parallel scan listed and statted it (scan.h; only
 * without change tracking), else NULL:
 * a directory then walks its old tree, and *out_old_used says so.
 * Returns 0, 1 to skip the entry (an unreadable source, reported), or a
 * fatal error. */
static int make_node(Ctx *c, const char *path, const VDir *virt, const ScanEntry *se, const TreeNode *old,
                     TreeNode *n, FileWork *fw, int *out_old_used)
{
	FrozenEntry *fe = c->frozen ? frozen_find(c->frozen, path) : NULL;
	struct stat st, st2;
	char iob[PATH_MAX];
	const View *w = NULL;
	const char *io = c->nviews ? source_of(c, path, iob, &w) : path;
	uint64_t dev;
	int rc, e;

	if (!io) {
		incomplete(c, path, UNREADABLE, -ENAMETOOLONG, "its path in the filesystem snapshot is too long");
		return 1;
	}

	if (fe) {
		/* As listed while the writers were stopped. */
		if (fe->err) {
			if (fe->err == -ENOENT && !virt)
				incomplete(c, path, VANISHED, fe->err, "vanished during the backup");
			else
				incomplete(c, path, UNREADABLE, fe->err, strerror(-fe->err));
			return 1;
		}
		st = fe->st;
	} else if (se && se->err) {
		/* Listed, then gone or unstatable, as the lstat below reports. */
		e = -se->err;
		if (e == ENOENT)
			incomplete(c, path, VANISHED, -e, "vanished during the backup");
		else
			incomplete(c, path, UNREADABLE, -e, strerror(e));
		return 1;
	} else if (se) {
		st = se->st;      /* stat as listed (scan.h) */
	} else if (lstat(io, &st) != 0 || (virt && !virt->leaf && !S_ISDIR(st.st_mode) && stat(io, &st) != 0)) {
		e = errno;
		/* A listed entry that is gone vanished; a source path given
		 * (virt) that does not exist was never there. */
		if (e == ENOENT && !virt)
			incomplete(c, path, VANISHED, -e, "vanished during the backup");
		else
			incomplete(c, path, UNREADABLE, -e, strerror(e));
		return 1;
	}
	if (w && S_ISDIR(st.st_mode) && w->v->hole_ino && st.st_ino == w->v->hole_ino && strcmp(path, w->path) != 0) {
		if ((rc = view_hole(c, w, path)) != 0)
			return rc;
		io = path;
		w = NULL;
		if (lstat(io, &st) != 0) {
			e = errno;
			incomplete(c, path, e == ENOENT ? VANISHED : UNREADABLE, -e, strerror(e));
			return 1;
		}
	} else if (!w && c->nviews && S_ISDIR(st.st_mode)) {
		/* A hole given up front (a mount point below a view's path),
		 * reached live: source_of mapped it to itself. */
		const View *hv = view_of(c, path);
		if (hv && in_hole(c, hv, path, 1) && (rc = view_hole(c, hv, path)) != 0)
			return rc;
	}
	dev = w ? w->v->dev : (uint64_t)st.st_dev;
	/* strata's own cache changes under the backup (the files cache is
	 * written as it goes) and is rebuilt from the repository: left out. */
	if (c->skip_cache && S_ISDIR(st.st_mode) && dev == c->cache_dev && st.st_ino == c->cache_ino)
		return 1;
	node_from_stat(n, &st);
	n->dev = dev;
	/* The owners' names, for a restore on a host whose IDs differ. */
	snapshot_owner_note(&c->snap->users, &c->snap->nusers, n->uid, backup_user_name);
	snapshot_owner_note(&c->snap->groups, &c->snap->ngroups, n->gid, backup_group_name);
	switch (n->type) {
	case NODE_DIR: {
		Tree ot = {0};
		int have_old = 0;
		if (c->cs && old && old->type == NODE_DIR) {
			if ((rc = tree_load(c->repo, old->subtree, &ot, c->err)) != 0)
				return strata_err_prefix(c->err, "the parent snapshot's tree of %s", path);
			have_old = 1;
			*out_old_used = 1;
		}
		rc = store_dir(c, path, virt && !virt->leaf ? virt : NULL, have_old ? &ot : NULL, n->subtree);
		tree_clear(&ot);
		if (rc)
			return rc;
		c->sum.dirs++;
		/* A directory read whole: its entries as listed must still be
		 * its entries once all of them were read (a file created or
		 * renamed after the listing, as a database's compaction does,
		 * is otherwise missed without a trace). Its mtime and ctime
		 * change with any entry added, removed or renamed. */
		if ((virt && !virt->leaf) || fe)
			break;      /* fe: entries as listed at the freeze */
		if (lstat(io, &st2) != 0) {
			e = errno;
			if (e == ENOENT)
				incomplete(c, path, VANISHED, -e, "vanished during the backup (its entries were read)");
			else
				incomplete(c, path, UNREADABLE, -e, strerror(e));
		} else if (st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
			incomplete(c, path, CHANGED, STRATA_EPARTIAL, "replaced by another directory while it was read");
		} else if (ts_ns(st2.st_mtim) != ts_ns(st.st_mtim) || ts_ns(st2.st_ctim) != ts_ns(st.st_ctim)) {
			incomplete(c, path, CHANGED, STRATA_EPARTIAL, "entries added, removed or renamed while it was read");
		}
		break;
	}
	case NODE_SYMLINK: {
		char target[65536];
		ssize_t len;
		if (fe) {
			len = fe->link ? (ssize_t)strlen(fe->link) : (fe->link_err == -EINVAL ? 0 : -1);
			errno = -fe->link_err;
			if (fe->link)
				memcpy(target, fe->link, (size_t)len + 1);
		} else {
			len = readlink(io, target, sizeof target - 1);
		}
		if (len <= 0) {
			e = errno;
			if (len == 0)
				incomplete(c, path, UNREADABLE, -EINVAL, "empty symlink");
			else if (e == ENOENT)
				incomplete(c, path, VANISHED, -e, "vanished during the backup");
			else if (e == EINVAL)
				incomplete(c, path, CHANGED, -e, "replaced by another file between its stat and its readlink");
			else
				incomplete(c, path, UNREADABLE, -e, strerror(e));
			return 1;
		}
		target[len] = '\0';
		n->link_target = strdup(target);
		if (!n->link_target)
			return strata_err_set(c->err, -ENOMEM, "out of memory");
		n->size = (uint64_t)len;
		break;
	}
	case NODE_FILE:
		rc = file_node(c, path, io, &st, dev, fe, n, fw);
		if (rc == 0 && n->nlink > 1)
			rc = link_note(c, path, n);
		return rc;
	default:
		break;
	}
	return 0;
}

/* Free d and everything it holds; its files' chunks must be done. */
static void pending_free(PendingDir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->cap; i++)
		chunklist_free(&d->fw[i].cl);
	for (size_t i = 0; i < d->n; i++)
		tree_node_clear(&d->nodes[i]);
	free(d->nodes);
	free(d->fw);
	free(d->path);
	free(d);
}

/* Record file i of d in the files cache, from its chunk list. */
static void record_file(Ctx *c, PendingDir *d, size_t i)
{
	StrataErr ferr = {0};

	if (!c->fc || !d->fw[i].record)
		return;
	snprintf(c->spath, PATH_MAX, "%s/%s", strcmp(d->path, "/") == 0 ? "" : d->path, d->nodes[i].name);
	if (filescache_record(c->fc, c->spath, &d->fw[i].meta,
	                      (const uint8_t (*)[STRATA_ID_LEN])d->fw[i].cl.ids,
	                      d->fw[i].cl.lens, d->fw[i].cl.n, &ferr) != 0) {
		/* Only speed depends on the cache: carry on without it. */
		filescache_close(c->fc);
		c->fc = NULL;
	}
}

/* Move done file i's chunk list to the spill as its tree bytes, in pieces
 * of the scratch buffer, after recording it in the files cache. Left in
 * memory when the spill cannot take it. */
static void spill_file(Ctx *c, PendingDir *d, size_t i)
{
	FileWork *fw = &d->fw[i];
	size_t per = (c->repo->chunk_max - 10) / (STRATA_ID_LEN + 5);
	uint64_t off = 0, first_off = 0;
	size_t total = 0;

	for (size_t k = 0; k < fw->cl.n || k == 0; k += per) {
		size_t n = fw->cl.n - k < per ? fw->cl.n - k : per;
		size_t len = tree_file_data(c->scratch, k == 0, fw->cl.n, fw->cl.ids + k, fw->cl.lens + k, n);
		if (spill_put(c->spill, c->scratch, len, &off) != 0)
			return;   /* the bytes put so far are only wasted */
		if (k == 0)
			first_off = off;
		total += len;
	}
	record_file(c, d, i);
	fw->spilled = 1;
	fw->spill_off = first_off;
	fw->spill_len = total;
	chunklist_free(&fw->cl);
}

/* Spill the chunk lists of d's files that are done, in order from where
 * the last call stopped, so that a directory of large files holds at most
 * the lists of the files still being read. */
static void spill_ready(Ctx *c, PendingDir *d)
{
	if (!c->spill)
		return;
	while (d->spilled < d->n) {
		FileWork *fw = &d->fw[d->spilled];
		if (d->nodes[d->spilled].type == NODE_FILE && !fw->spilled) {
			if (!chunklist_done(&fw->cl))
				return;
			/* A failed chunk is recorded before its list reads done. */
			if (chunkpipe_failed(c->pipe))
				return;
			if (fw->cl.n >= SPILL_MIN_CHUNKS)
				spill_file(c, d, d->spilled);
		}
		d->spilled++;
	}
}

/* Stream a spilled file's TYPE_DATA bytes back into ts. */
static int stream_spilled(Ctx *c, TreeStream *ts, const FileWork *fw)
{
	for (size_t done = 0; done < fw->spill_len;) {
		size_t n = fw->spill_len - done < c->repo->chunk_max ? fw->spill_len - done : c->repo->chunk_max;
		int rc = spill_read(c->spill, fw->spill_off + done, c->scratch, n);
		if (rc)
			return strata_err_set(c->err, rc, "cannot read back the chunk lists kept in a temporary file "
			                      "in %s: %s", c->repo->cache_dir, strerror(-rc));
		rc = tree_stream_raw(ts, c->scratch, n, c->err);
		if (rc)
			return rc;
		done += n;
	}
	return 0;
}

/* Store d's tree (all its files' chunks done, all its subdirectories
 * stored) as it is encoded, node by node in name order; record its
 * files in the cache; write the ID to d->out. */
static int pending_store(Ctx *c, PendingDir *d)
{
	TreeStream *ts = NULL;
	int rc;

	/* Nodes are already in name order: store_dir makes them from names
	 * sorted bytewise (cmp_str) or from a VDir's kids, kept sorted by
	 * vdir_child; skipped entries leave the order as it was. */
	rc = tree_stream_begin(&ts, c->repo, c->bw, c->cctx, d->n);
	if (rc)
		return strata_err_set(c->err, rc, "out of memory");
	for (size_t i = 0; i < d->n && rc == 0; i++) {
		TreeNode *n = &d->nodes[i];
		FileWork *fw = &d->fw[i];
		if (n->type != NODE_FILE) {
			rc = tree_stream_node(ts, n, 1, c->err);
		} else if (fw->spilled) {
			rc = tree_stream_node(ts, n, 0, c->err);
			if (rc == 0)
				rc = stream_spilled(c, ts, fw);
		} else {
			record_file(c, d, i);
			n->chunks = fw->cl.ids;        /* lent, not given */
			n->chunk_lens = fw->cl.lens;
			n->nchunks = fw->cl.n;
			rc = tree_stream_node(ts, n, 1, c->err);
			n->chunks = NULL;
			n->chunk_lens = NULL;
			n->nchunks = 0;
		}
	}
	if (rc == 0)
		rc = tree_stream_finish(ts, d->out, c->err);
	tree_stream_free(ts);
	return rc;
}

/* Store the trees of pending directories, oldest first, while their
 * files' chunks are done; with all, wait for every chunk and store them
 * all. Children are queued before their parent, so a parent's tree is
 * stored after its subdirectories wrote their IDs into its nodes. */
static int pending_drain(Ctx *c, int all)
{
	int rc;

	if (all && (rc = chunkpipe_wait(c->pipe, c->err)) != 0)
		return rc;
	while (c->pending) {
		PendingDir *d = c->pending;
		while (d->ready < d->n &&
		       (d->nodes[d->ready].type != NODE_FILE || chunklist_done(&d->fw[d->ready].cl)))
			d->ready++;
		if (d->ready < d->n) {
			spill_ready(c, d);
			return 0;
		}
		/* A failed chunk is recorded before its list reads done. */
		if (chunkpipe_failed(c->pipe))
			return chunkpipe_wait(c->pipe, c->err);
		c->pending = d->next;
		if (!c->pending)
			c->pending_tail = NULL;
		c->pending_nodes -= d->cap;
		rc = pending_store(c, d);
		pending_free(d);
		if (rc)
			return rc;
	}
	return 0;
}

/* Drop every pending directory after a failure (waits for the workers). */
static void pending_abort(Ctx *c)
{
	chunkpipe_wait(c->pipe, NULL);
	while (c->pending) {
		PendingDir *d = c->pending;
		c->pending = d->next;
		pending_free(d);
	}
	c->pending_tail = NULL;
	c->pending_nodes = 0;
}

/* What became of a parent's node in a directory walked with change
 * tracking (store_dir's used[]): taken over whole, or a directory whose
 * old tree was walked; else replaced or gone. */
enum { OLD_TAKEN = 1, OLD_WALKED = 2 };

/* The inode number readdir gave for a name store_dir listed. */
static uint64_t listed_ino(const char *name)
{
	uint64_t ino;

	memcpy(&ino, name + strlen(name) + 1, sizeof ino);
	return ino;
}

/* The parent's node named name in old (sorted by name), or NULL. */
static const TreeNode *old_find(const Tree *old, const char *name)
{
	size_t lo = 0, hi = old->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(old->nodes[mid].name, name);
		if (r == 0)
			return &old->nodes[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* n (and for a file fw's chunk list, done, not to be recorded: the files
 * cache entry of the run that made the parent stays valid) as a copy of
 * the parent's node o. */
static int node_take(Ctx *c, const TreeNode *o, TreeNode *n, FileWork *fw)
{
	*n = *o;
	n->name = strdup(o->name);
	n->link_target = o->link_target ? strdup(o->link_target) : NULL;
	n->chunks = NULL;
	n->chunk_lens = NULL;
	n->nchunks = 0;
	if (!n->name || (o->link_target && !n->link_target))
		goto oom;
	if (o->type == NODE_FILE && o->nchunks) {
		if (chunklist_reserve(&fw->cl, o->nchunks) != 0)
			goto oom;
		memcpy(fw->cl.ids, o->chunks, o->nchunks * sizeof *o->chunks);
		memcpy(fw->cl.lens, o->chunk_lens, o->nchunks * sizeof *o->chunk_lens);
		fw->cl.n = o->nchunks;
	}
	fw->record = 0;
	return 0;
oom:
	tree_node_clear(n);
	memset(n, 0, sizeof *n);
	return strata_err_set(c->err, -ENOMEM, "out of memory");
}

static int count_old(const char *path, const TreeNode *node, void *ctx)
{
	Ctx *c = ctx;

	(void)path;
	if (node->type == NODE_FILE) {
		c->old_files++;
		c->old_bytes += node->size;
	} else if (node->type == NODE_DIR) {
		c->old_dirs++;
	}
	return 0;
}

/* Count in c->old_* what the parent's nodes of a walked directory that
 * were not taken over whole counted in its summary: a directory whose old
 * tree was walked counts itself (its entries were met there), anything
 * else all it held. */
static int old_account(Ctx *c, const Tree *old, const uint8_t *used)
{
	for (size_t i = 0; i < old->n; i++) {
		const TreeNode *o = &old->nodes[i];
		if (used[i] == OLD_TAKEN)
			continue;
		count_old(NULL, o, c);
		if (used[i] != OLD_WALKED && o->type == NODE_DIR &&
		    tree_walk(c->repo, o->subtree, count_old, c, c->err) != 0)
			return strata_err_prefix(c->err, "the parent snapshot's tree of %s", o->name);
	}
	return 0;
}

/* Make the nodes of directory path and queue its tree to be stored into
 * out_id once its files' chunks are done (pending_drain): the walk goes on
 * while the workers seal, instead of waiting at every directory. */
/* Directory path could not be listed (-e): stored empty, reported. */
static void dir_unlisted(Ctx *c, const char *path, int e)
{
	if (e == ENOENT)
		incomplete(c, path, VANISHED, -e, "vanished during the backup");
	else if (e == ENOTDIR)
		incomplete(c, path, CHANGED, -e, "replaced by a non-directory between its stat and its listing");
	else
		incomplete(c, path, UNREADABLE, -e, strerror(e));
}

static int scan_excluded(const void *opts, const char *path, const char *name)
{
	return backup_excluded(opts, path, name);
}

static int store_dir(Ctx *c, const char *path, const VDir *virt, const Tree *old, uint8_t out_id[STRATA_ID_LEN])
{
	char **names = NULL, *full = NULL;
	size_t nnames = 0, cap = 0;
	ScanDir sd = {0};
	PendingDir *d = NULL;
	FrozenEntry *fe = !virt && c->frozen ? frozen_find(c->frozen, path) : NULL;
	const View *w;
	uint8_t *used = NULL;        /* per old node: OLD_TAKEN or OLD_WALKED */
	int rc = 0, listed = 0;

	c->dirs_visited++;
	if (old && !(used = calloc(old->n ? old->n : 1, 1))) {
		rc = strata_err_set(c->err, -ENOMEM, "out of memory");
		goto out;
	}
	if (!fe && !virt && old && !(changeset_flags(c->cs, path) & CHANGESET_RELIST)) {
		/* Its entries are the parent's (none added, removed or renamed):
		 * not listed. */
		if (!(names = calloc(old->n ? old->n : 1, sizeof *names))) {
			rc = strata_err_set(c->err, -ENOMEM, "out of memory");
			goto out;
		}
		for (; nnames < old->n; nnames++)
			if (!(names[nnames] = strdup(old->nodes[nnames].name))) {
				rc = strata_err_set(c->err, -ENOMEM, "out of memory");
				goto out;
			}
	} else if (fe) {
		/* As listed while the writers were stopped (sorted, excludes out). */
		if (fe->dir_err) {
			c->sum.errors++;
			report(c, path, "error", fe->dir_err, strerror(-fe->dir_err));
			goto queue;
		}
		names = calloc(fe->nkids ? fe->nkids : 1, sizeof *names);
		if (!names) {
			rc = strata_err_set(c->err, -ENOMEM, "out of memory");
			goto out;
		}
		for (; nnames < fe->nkids; nnames++)
			if (!(names[nnames] = strdup(fe->kids[nnames].name))) {
				rc = strata_err_set(c->err, -ENOMEM, "out of memory");
				goto out;
			}
	} else if (!virt && c->scan) {
		/* Listed and statted ahead by the scan's workers. */
		if (scan_take(c->scan, path, &sd) != 0) {
			rc = strata_err_set(c->err, -ENOMEM, "out of memory");
			goto out;
		}
		if (sd.err) {
			dir_unlisted(c, path, -sd.err);
			goto queue;
		}
		names = calloc(sd.n ? sd.n : 1, sizeof *names);
		if (!names) {
			rc = strata_err_set(c->err, -ENOMEM, "out of memory");
			goto out;
		}
		for (; nnames < sd.n; nnames++) {
			names[nnames] = sd.e[nnames].name;   /* moved */
			sd.e[nnames].name = NULL;
		}
	} else if (!virt) {
		char iob[PATH_MAX];
		const char *io = c->nviews ? source_of(c, path, iob, &w) : path;
		DIR *dir = io ? opendir(io) : NULL;
		struct dirent *de;
		if (!io)
			errno = ENAMETOOLONG;
		if (!dir) {
			dir_unlisted(c, path, errno);
			goto queue;
		}
		while ((de = readdir(dir)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (nnames == cap) {
				cap = cap ? 2 * cap : 32;
				void *p = realloc(names, cap * sizeof *names);
				if (!p) {
					closedir(dir);
					rc = strata_err_set(c->err, -ENOMEM, "out of memory");
					goto out;
				}
				names = p;
			}
			/* The entry's inode number rides behind the name's NUL (see
			 * listed_ino). */
			size_t nl = strlen(de->d_name);
			uint64_t dino = (uint64_t)de->d_ino;
			names[nnames] = malloc(nl + 1 + sizeof dino);
			if (!names[nnames]) {
				closedir(dir);
				rc = strata_err_set(c->err, -ENOMEM, "out of memory");
				goto out;
			}
			memcpy(names[nnames], de->d_name, nl + 1);
			memcpy(names[nnames] + nl + 1, &dino, sizeof dino);
			nnames++;
		}
		closedir(dir);
		listed = 1;
		if (nnames > 1)
			qsort(names, nnames, sizeof *names, cmp_str);
	} else {
		nnames = virt->nkids;
	}
queue:
	d = calloc(1, sizeof *d);
	full = malloc(PATH_MAX);
	if (d) {
		d->cap = nnames;
		d->out = out_id;
		d->path = strdup(path);
		d->nodes = calloc(nnames ? nnames : 1, sizeof *d->nodes);
		d->fw = calloc(nnames ? nnames : 1, sizeof *d->fw);
	}
	if (!d || !full || !d->path || !d->nodes || !d->fw) {
		rc = strata_err_set(c->err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nnames; i++) {
		const char *name = virt ? virt->kids[i]->name : names[i];
		/* Stable: a subdirectory writes its tree ID here later. */
		TreeNode *n = &d->nodes[d->n];
		if (snprintf(full, PATH_MAX, "%s/%s", strcmp(path, "/") == 0 ? "" : path, name) >= PATH_MAX) {
			incomplete(c, path, UNREADABLE, -ENAMETOOLONG, "an entry's path is too long");
			continue;
		}
		if (!virt && backup_excluded(c->opts, full, name))
			continue;
		const TreeNode *o = old ? old_find(old, name) : NULL;
		int walked = 0;
		/* Listed again: the name must still be the parent's inode
		 * (readdir's d_ino): a file renamed over it is another one,
		 * whatever the change set says. */
		if (o && !virt && !changeset_flags(c->cs, full) && !changeset_below(c->cs, full) &&
		    (!listed || listed_ino(name) == o->ino)) {
			/* Nothing changed at or below it: the parent's node. */
			if ((rc = node_take(c, o, n, &d->fw[d->n])) != 0)
				goto out;
			used[o - old->nodes] = OLD_TAKEN;
			d->n++;
			spill_ready(c, d);
			continue;
		}
		n->name = strdup(name);
		if (!n->name) {
			rc = strata_err_set(c->err, -ENOMEM, "out of memory");
			goto out;
		}
		rc = make_node(c, full, virt ? virt->kids[i] : NULL, sd.e && !virt ? &sd.e[i] : NULL, o, n,
		               &d->fw[d->n], &walked);
		if (o && walked)
			used[o - old->nodes] = OLD_WALKED;
		if (rc == 1) {
			/* Skipped: drop any chunks queued for it before reusing the slot. */
			rc = chunkpipe_wait(c->pipe, c->err);
			chunklist_free(&d->fw[d->n].cl);
			memset(&d->fw[d->n], 0, sizeof d->fw[d->n]);
			tree_node_clear(n);
			memset(n, 0, sizeof *n);
			if (rc)
				goto out;
			continue;
		}
		if (rc) {
			tree_node_clear(n);
			memset(n, 0, sizeof *n);
			goto out;
		}
		d->n++;
		spill_ready(c, d);
	}
	if (old && (rc = old_account(c, old, used)) != 0)
		goto out;
	if (c->pending_tail)
		c->pending_tail->next = d;
	else
		c->pending = d;
	c->pending_tail = d;
	c->pending_nodes += d->cap;
	d = NULL;
	/* Bounded: past PENDING_NODES entries, wait for the workers. */
	rc = pending_drain(c, c->pending_nodes > PENDING_NODES);
out:
	if (rc)
		pending_abort(c);     /* also waits: d's chunks are no longer in flight */
	pending_free(d);
	free(full);
	free(used);
	scan_dir_clear(&sd);
	if (names) {
		for (size_t i = 0; i < nnames; i++)
			free(names[i]);
		free(names);
	}
	return rc;
}

static void vdir_free(VDir *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nkids; i++)
		vdir_free(v->kids[i]);
	free(v->kids);
	free(v->name);
	free(v);
}

static VDir *vdir_child(VDir *v, const char *name)
{
	VDir *k;
	size_t i;

	for (i = 0; i < v->nkids; i++)
		if (strcmp(v->kids[i]->name, name) == 0)
			return v->kids[i];
	k = calloc(1, sizeof *k);
	VDir **p = k ? realloc(v->kids, (v->nkids + 1) * sizeof *p) : NULL;
	if (p)
		v->kids = p;
	if (!k || !p || !(k->name = strdup(name))) {
		free(k);
		return NULL;
	}
	v->kids = p;
	/* Keep children sorted so trees come out sorted. */
	for (i = v->nkids; i > 0 && strcmp(v->kids[i - 1]->name, name) > 0; i--)
		v->kids[i] = v->kids[i - 1];
	v->kids[i] = k;
	v->nkids++;
	return k;
}

int backup_path_clean(const char *in, char *out)
{
	char tmp[PATH_MAX], *save = NULL, *comp;
	size_t len = 0;

	if (in[0] == '/') {
		if (snprintf(tmp, sizeof tmp, "%s", in) >= (int)sizeof tmp)
			return -ENAMETOOLONG;
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof cwd))
			return -errno;
		if (snprintf(tmp, sizeof tmp, "%s/%s", cwd, in) >= (int)sizeof tmp)
			return -ENAMETOOLONG;
	}
	out[0] = '\0';
	for (comp = strtok_r(tmp, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			char *slash = strrchr(out, '/');
			len = slash ? (size_t)(slash - out) : 0;
			out[len] = '\0';
			continue;
		}
		size_t cl = strlen(comp);
		if (len + 1 + cl >= PATH_MAX)
			return -ENAMETOOLONG;
		out[len++] = '/';
		memcpy(out + len, comp, cl + 1);
		len += cl;
	}
	if (len == 0)
		strcpy(out, "/");
	return 0;
}

static int build_vdirs(const BackupOptions *o, VDir **out_root, char ***out_paths, StrataErr *err)
{
	VDir *root = calloc(1, sizeof *root);
	char **paths = calloc(o->npaths ? o->npaths : 1, sizeof *paths);
	char clean[PATH_MAX];

	if (!root || !paths)
		goto oom;
	for (size_t i = 0; i < o->npaths; i++) {
		char *save = NULL, *comp, *copy;
		VDir *v = root;
		int rc = backup_path_clean(o->paths[i], clean);
		if (rc) {
			vdir_free(root);
			for (size_t j = 0; j < i; j++)
				free(paths[j]);
			free(paths);
			return strata_err_set(err, STRATA_EUSAGE, "source path %s: %s", o->paths[i], strerror(-rc));
		}
		paths[i] = strdup(clean);
		copy = strdup(clean);
		if (!paths[i] || !copy) {
			free(copy);
			goto oom;
		}
		for (comp = strtok_r(copy, "/", &save); comp && !v->leaf; comp = strtok_r(NULL, "/", &save)) {
			v = vdir_child(v, comp);
			if (!v) {
				free(copy);
				goto oom;
			}
		}
		free(copy);
		v->leaf = 1;   /* "/" itself as a source makes the root a leaf */
	}
	*out_root = root;
	*out_paths = paths;
	return 0;
oom:
	vdir_free(root);
	if (paths)
		for (size_t j = 0; j < o->npaths; j++)
			free(paths[j]);
	free(paths);
	return strata_err_set(err, -ENOMEM, "out of memory");
}

/* c->views from opts->views, their paths cleaned as the source paths are. */
static int views_init(Ctx *c, const BackupOptions *opts, StrataErr *err)
{
	char clean[PATH_MAX];
	int rc;

	if (opts->freeze || opts->stdin_fd >= 0)
		return strata_err_set(err, STRATA_EUSAGE, "a source read from a snapshot (--fs-snapshot, --as) takes "
		                      "PATHs and no --freeze-pid: the snapshot is the point in time");
	if (!(c->views = calloc(opts->nviews, sizeof *c->views)))
		return strata_err_set(err, -ENOMEM, "out of memory");
	for (; c->nviews < opts->nviews; c->nviews++) {
		const BackupView *v = &opts->views[c->nviews];
		if ((rc = backup_path_clean(v->path, clean)) != 0)
			return strata_err_set(err, STRATA_EUSAGE, "source path %s: %s", v->path, strerror(-rc));
		if (!(c->views[c->nviews].path = strdup(clean)))
			return strata_err_set(err, -ENOMEM, "out of memory");
		c->views[c->nviews].v = v;
		c->views[c->nviews].len = strlen(clean);
	}
	return 0;
}

/* Whether the change set of opts can be used for a snapshot of paths: its
 * parent (the one backup_commit will record) must be the snapshot the set
 * is relative to, complete and of the same paths. 1 with *parent loaded
 * and its root tree in *old_root; 0 with why not in why; or an error. */
static int changes_usable(Ctx *c, const BackupOptions *opts, char **paths, Snapshot *parent, Tree *old_root,
                          char *why, size_t why_len)
{
	uint8_t id[STRATA_ID_LEN];
	char host[256];
	StrataErr perr = {0};
	int has = 0;

	if (opts->freeze) {
		snprintf(why, why_len, "--freeze-pid lists the source whole while the writers are stopped");
		return 0;
	}
	backup_host(opts, host);
	if (backup_parent_find(c->repo, opts, host, (const char *const *)paths, opts->npaths, &has, id, &perr) != 0) {
		snprintf(why, why_len, "the parent snapshot: %s", perr.msg);
		return 0;
	}
	if (!has) {
		snprintf(why, why_len, "no parent snapshot");
		return 0;
	}
	if (memcmp(id, opts->changes_parent, STRATA_ID_LEN) != 0) {
		snprintf(why, why_len, "the parent snapshot is not the one the changes were recorded against");
		return 0;
	}
	if (snapshot_load(c->repo, id, parent, &perr) != 0) {
		snprintf(why, why_len, "the parent snapshot: %s", perr.msg);
		return 0;
	}
	if (parent->partial) {
		snprintf(why, why_len, "the parent snapshot is partial");
		return 0;
	}
	if (parent->npaths != opts->npaths) {
		snprintf(why, why_len, "the parent snapshot has other source paths");
		return 0;
	}
	for (size_t i = 0; i < opts->npaths; i++) {
		size_t j = 0;
		while (j < parent->npaths && strcmp(parent->paths[j], paths[i]) != 0)
			j++;
		if (j == parent->npaths) {
			snprintf(why, why_len, "the parent snapshot has other source paths");
			return 0;
		}
	}
	if (tree_load(c->repo, parent->tree, old_root, c->err) != 0)
		return strata_err_prefix(c->err, "the parent snapshot's root tree");
	return 1;
}

/* Forget a change-driven walk given up (RESCAN; store_dir dropped what
 * it queued): counts, partial notes and hard links start again, without
 * the change set. */
static void rescan_reset(Ctx *c, Snapshot *snap)
{
	for (size_t i = 0; i < snap->npartial_paths; i++) {
		free(snap->partial_paths[i].path);
		free(snap->partial_paths[i].reason);
		free(snap->partial_paths[i].detail);
	}
	free(snap->partial_paths);
	snap->partial_paths = NULL;
	snap->npartial_paths = 0;
	snap->partial = 0;
	snap->partial_count = 0;
	for (size_t i = 0; i < c->nlinks; i++)
		free(c->links[i]);
	c->nlinks = 0;
	c->links_lost = 0;
	memset(&c->sum, 0, sizeof c->sum);
	c->old_files = c->old_dirs = c->old_bytes = 0;
	c->cs = NULL;
}

/* The summary of a snapshot made with change tracking: the parent's
 * totals, less what its entries that were not taken over whole counted
 * (c->old_*), plus what their replacements count (c->sum): the same as a
 * full scan finds. Files taken over count as unchanged. */
static void changes_summary(Ctx *c, const SnapshotSummary *ps)
{
	uint64_t kept = ps->files - c->old_files;

	c->sum.files += kept;
	c->sum.files_unchanged += kept;
	c->sum.dirs += ps->dirs - c->old_dirs;
	c->sum.bytes_total += ps->bytes_total - c->old_bytes;
}

static int backup_stdin(Ctx *c, uint8_t out_id[STRATA_ID_LEN])
{
	const char *name = c->opts->stdin_name && *c->opts->stdin_name ? c->opts->stdin_name : "stdin";
	ChunkList cl = {0};
	TreeNode n = {0};
	Tree t = {0};
	uint64_t size = 0;
	int rc, fd = c->opts->stdin_fd;

	if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return strata_err_set(c->err, STRATA_EUSAGE, "--stdin-name %s: must be a plain file name without '/'", name);
	c->prog.current = name;
	rc = chunkpipe_stream(c->pipe, chunkpipe_read_fd, &fd, &cl, tick, c, &size, c->err);
	if (rc == 1)
		rc = strata_err_prefix(c->err, "reading standard input");
	if (rc == 0)
		rc = chunkpipe_wait(c->pipe, c->err);
	else
		chunkpipe_wait(c->pipe, NULL);
	if (rc)
		goto out;
	n.name = strdup(name);
	if (!n.name) {
		rc = strata_err_set(c->err, -ENOMEM, "out of memory");
		goto out;
	}
	n.type = NODE_FILE;
	n.mode = 0644;
	n.uid = getuid();
	n.gid = getgid();
	n.mtime_ns = c->opts->time_ns;
	n.nlink = 1;
	n.size = size;
	n.chunks = cl.ids;
	n.chunk_lens = cl.lens;
	n.nchunks = cl.n;
	memset(&cl, 0, sizeof cl);
	rc = tree_add(&t, &n);
	if (rc) {
		tree_node_clear(&n);
		rc = strata_err_set(c->err, rc, "out of memory");
		goto out;
	}
	c->sum.files = c->sum.files_new = 1;
	c->sum.bytes_total = size;
	rc = tree_store(c->repo, c->bw, c->cctx, &t, out_id, c->err);
out:
	chunklist_free(&cl);
	tree_clear(&t);
	return rc;
}

int backup_run(Repo *repo, const BackupOptions *opts, BackupResult *out_result, StrataErr *err)
{
	Ctx c;
	Snapshot parent = {0};
	Tree oldroot = {0};
	char changes_why[256] = "";
	VDir *root = NULL;
	char **paths = NULL;
	Snapshot snap = {0};
	struct timespec t0;
	int64_t now_ns;
	int rc;

	memset(&c, 0, sizeof c);
	c.repo = repo;
	c.opts = opts;
	c.err = err;
	c.snap = &snap;
	{
		struct stat cst;
		if (repo->cache_dir[0] && stat(repo->cache_dir, &cst) == 0) {
			c.skip_cache = 1;
			c.cache_dev = cst.st_dev;
			c.cache_ino = cst.st_ino;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	{
		struct timespec rt;
		clock_gettime(CLOCK_REALTIME, &rt);
		now_ns = opts->time_ns ? opts->time_ns : (int64_t)rt.tv_sec * 1000000000LL + rt.tv_nsec;
	}
	for (size_t i = 0; i < opts->nlabels; i++) {
		const char *eq = strchr(opts->labels[i], '=');
		if (!eq || eq == opts->labels[i]) {
			rc = strata_err_set(err, STRATA_EUSAGE, "label %s: expected key=value", opts->labels[i]);
			goto out;
		}
	}
	if (opts->stdin_fd < 0 && opts->npaths == 0) {
		rc = strata_err_set(err, STRATA_EUSAGE, "nothing to back up: give one or more paths, or --stdin");
		goto out;
	}
	if (opts->stdin_fd < 0) {
		rc = build_vdirs(opts, &root, &paths, err);
		if (rc)
			goto out;
	}
	if (opts->nviews && (rc = views_init(&c, opts, err)) != 0)
		goto out;
	c.scratch = malloc(repo->chunk_max);
	c.spath = malloc(PATH_MAX);
	c.cctx = codec_ctx_new();
	/* Beside the files cache, on disk rather than on a /tmp that may be
	 * memory; without it the lists stay in memory. */
	c.spill = spill_new(repo->cache_dir, SPILL_MEM);
	if (!c.scratch || !c.spath || !c.cctx) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	rc = blobwriter_new(repo, opts->compression_level, &c.bw, err);
	if (rc)
		goto out;
	if (opts->stdin_fd < 0) {
		StrataErr ferr = {0};
		/* Without a usable cache every file is read: slower, same result. */
		if (filescache_open(repo, NULL, &c.fc, &ferr) != 0)
			c.fc = NULL;
	}
	if (opts->freeze && opts->stdin_fd < 0) {
		const FrozenStats *fs;
		rc = frozen_scan(c.fc, (const char *const *)paths, opts->npaths, opts, &c.frozen, err);
		if (rc)
			goto out;
		fs = frozen_stats(c.frozen);
		if (fs->not_stopped)
			freeze_not_point_in_time(&c, paths[0], "the writers did not stop within --freeze-max; "
			                         "everything was listed while they ran");
		else if (fs->overrun)
			freeze_not_point_in_time(&c, fs->overrun_at, "listed after the writers were resumed at "
			                         "--freeze-max (this path and those listed after it)");
	}
	if (opts->changes && opts->changes_parent && opts->stdin_fd < 0) {
		rc = changes_usable(&c, opts, paths, &parent, &oldroot, changes_why, sizeof changes_why);
		if (rc < 0)
			goto out;
		if (rc == 1) {
			c.cs = opts->changes;
			/* The owners of the entries taken over are the parent's. */
			snap.users = parent.users;
			snap.nusers = parent.nusers;
			snap.groups = parent.groups;
			snap.ngroups = parent.ngroups;
			parent.users = parent.groups = NULL;
			parent.nusers = parent.ngroups = 0;
		}
	} else if (opts->changes) {
		snprintf(changes_why, sizeof changes_why, "%s", opts->stdin_fd >= 0 ? "a stream has no changes to track" :
		         "no parent snapshot given for the changes");
	}
	rc = chunkpipe_new(repo, c.bw, opts->threads, &c.pipe, err);
	if (rc)
		goto out;
	if (opts->stdin_fd < 0 && !c.frozen && !c.nviews && !c.cs && scan_threads() > 1) {
		/* Listings and stats made ahead on all cores; not under
		 * --freeze-pid (listed while stopped), nor from a filesystem
		 * snapshot's views (their holes are found as the walk goes), nor
		 * with a change set (the walk visits only the directories on the
		 * way to a change; a scan ahead would list them all). */
		ScanOptions so = { scan_threads(), opts->nexcludes ? scan_excluded : NULL, opts,
		                   c.skip_cache, c.cache_dev, c.cache_ino };
		if (scan_new(&so, &c.scan) != 0) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	if (opts->stdin_fd >= 0) {
		BackupOptions o2 = *opts;
		o2.time_ns = now_ns;
		c.opts = &o2;
		rc = backup_stdin(&c, snap.tree);
		c.opts = opts;
		/* Before anything is committed: a failed producer leaves no
		 * snapshot (its chunks are garbage for prune). */
		if (rc == 0 && opts->stream_end)
			rc = opts->stream_end(opts->stream_end_ctx, c.sum.bytes_read, err);
	} else {
		/* store_dir drops what is queued when it fails; a failed drain
		 * leaves the rest to drop here. */
		rc = store_dir(&c, "/", root->leaf ? NULL : root, c.cs ? &oldroot : NULL, snap.tree);
		if (rc == RESCAN) {
			/* Everything stored so far is deduplicated on the way. */
			snprintf(changes_why, sizeof changes_why, "a file with several links that the parent did not have "
			         "(a new hard link): its other names are unknown, so the source was scanned whole");
			rescan_reset(&c, &snap);
			rc = store_dir(&c, "/", root->leaf ? NULL : root, NULL, snap.tree);
		}
		if (rc == 0 && (rc = pending_drain(&c, 1)) != 0)
			pending_abort(&c);
	}
	if (rc)
		goto out;
	chunkpipe_free(c.pipe);
	c.pipe = NULL;
	if (c.cs)
		changes_summary(&c, &parent.summary);
	if (opts->stdin_fd >= 0) {
		const char *p = opts->stdin_name && *opts->stdin_name ? opts->stdin_name : "stdin";
		rc = backup_commit(repo, opts, c.bw, &p, 1, now_ns, &t0, &c.sum, &snap, err);
	} else {
		rc = backup_commit(repo, opts, c.bw, (const char *const *)paths, opts->npaths, now_ns,
		                   &t0, &c.sum, &snap, err);
	}
	if (rc)
		goto out;
	if (c.fc)
		filescache_commit(c.fc, NULL);
	progress(&c, "", 1);
	rc = 0;
	if (snap.partial)
		rc = backup_partial_err(&snap, "source path vanished, could not be read or changed while being read",
		                        "source paths vanished, could not be read or changed while being read", err);
	backup_result_fill(out_result, &snap, &c.sum);
	if (out_result) {
		out_result->link_paths_known = !c.links_lost;
		if (!c.links_lost) {
			out_result->link_paths = c.links;
			out_result->link_inodes = c.link_inodes;
			out_result->nlink_paths = c.nlinks;
			c.links = NULL;
			c.link_inodes = NULL;
			c.nlinks = 0;
		}
		out_result->changes_used = c.cs != NULL;
		snprintf(out_result->changes_fallback, sizeof out_result->changes_fallback, "%s", changes_why);
		out_result->dirs_visited = c.dirs_visited;
	}
out:
	scan_free(c.scan);
	chunkpipe_free(c.pipe);
	frozen_free(c.frozen);
	filescache_close(c.fc);
	blobwriter_free(c.bw);
	codec_ctx_free(c.cctx);
	free(c.scratch);
	free(c.spath);
	spill_free(c.spill);
	vdir_free(root);
	for (size_t i = 0; i < c.nviews; i++)
		free(c.views[i].path);
	free(c.views);
	for (size_t i = 0; i < c.nholes; i++)
		free(c.holes[i]);
	free(c.holes);
	if (paths) {
		for (size_t i = 0; i < opts->npaths; i++)
			free(paths[i]);
		free(paths);
	}
	for (size_t i = 0; i < c.nlinks; i++)
		free(c.links[i]);
	free(c.links);
	free(c.link_inodes);
	snapshot_clear(&snap);
	snapshot_clear(&parent);
	tree_clear(&oldroot);
	return rc;
}
