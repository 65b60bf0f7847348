/* restore.c — the restore engine, see restore.h.
 *
 * Safety: everything is created relative to directory descriptors opened
 * with O_NOFOLLOW, entry names were checked by tree_decode (no '/', '.',
 * '..'), so a hostile tree cannot reach outside the target, and a symlink
 * created earlier in the restore is never followed. Files are created
 * (O_EXCL) during the walk and kept open; their chunks go into a batch
 * planned by restore_plan.c; the worker pool fetches each planned range,
 * opens each blob once and writes it through the open descriptors. A
 * file's metadata is applied through its descriptor after its content.
 *
 * Against a local user who can rename entries in a directory of the
 * target while the restore runs (FORMAT.md §14): no metadata is changed
 * by name (directories and files through their descriptors, symlinks,
 * FIFOs and devices through an O_PATH descriptor checked to be the node
 * just made, restore_node.h), hard links come from a descriptor kept for
 * the group's first member, and as root an existing directory another
 * user controls stops the restore unless allow_foreign_dirs.
 */
#include "store/restore/restore.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/blob_read.h"
#include "store/restore/bufpool.h"
#include "store/index.h"
#include "store/pack_read.h"
#include "store/repo_internal.h"
#include "store/restore/restore_delta.h"
#include "store/restore/restore_links.h"
#include "store/restore/restore_node.h"
#include "store/restore/restore_plan.h"
#include "store/restore/restore_strays.h"
#include "store/tree.h"
#include "store/sys/workpool.h"

/* A batch closes at this many chunk references (48 + ~100 bytes each:
 * ~19 MiB of plan for ~4 GiB of content at 32 KiB chunks). At 512 Ki the
 * plan of a 10 GiB restore took 84 MiB and its peak RSS passed restic's;
 * at 128 Ki it peaked at 106 MiB in the same time (64 Ki saved 2 MiB
 * more for 25 % more page faults) ... */
#define BATCH_REFS_MAX   (128u * 1024)
/* ... or this many open files (bounded further by RLIMIT_NOFILE). */
#define BATCH_FILES_MAX  16384u
/* Bytes in flight: ranges are at most RESTORE_PLAN_RANGE_MAX (17 MiB)
 * plus a RAW_WINDOW, so two or three whole packs at once: peak memory
 * stays under restic's while two cores decrypt. */
#define INFLIGHT_MAX     (48ull << 20)
/* From an object store, throughput comes from parallel requests, and
 * each request costs the store time of its own besides its bytes. Ranges
 * are as for a local restore (a default pack is one request) with 72 MiB
 * in flight: four whole packs at once (peak RSS about restic's). Ranges
 * of at most 8 MiB, eight in flight, made 2.4 times the requests; against
 * the local S3 server of `make bench-s3` (2026-12-05) whole packs restored
 * 525 MiB in 1.78-1.88 s against 2.27 s, and still won through a proxy
 * adding 20 ms of round trip (2.61-2.69 s against 3.00 s). */
#define REMOTE_INFLIGHT_MAX  (72ull << 20)
/* A delta restore needs a few chunks scattered over many packs: merging
 * ranges across gaps of up to 1 MiB (RESTORE_PLAN_GAP_MAX) read a rollback
 * of the 1 GiB bench set 20 blocks back as 170 MB for 62 MB of chunks.
 * Two average chunks (64 KiB) of gap keep requests few where needed
 * chunks sit together and read little else. */
#define DELTA_GAP_MAX    (64u << 10)
#define COLD_POLL_S      60
#define COLD_DAYS        7
#define COLD_PACKS_SORT  65536   /* dedupe the pack list every this many */

typedef struct PendFile {
	int fd;
	int complete;              /* every chunk queued: metadata may follow */
	uint32_t mode, uid, gid;
	int64_t mtime_ns;
	char *path;                /* relative to the target, for messages */
	/* Delta restore: the file is written as tmp in dirfd (a duplicate,
	 * -1 otherwise) and renamed over its name once complete. */
	int dirfd;
	char *tmp;
} PendFile;

/* The IDs of this host for the owners a snapshot names (map_owner). */
typedef struct IdMapEntry {
	uint32_t from, to;
} IdMapEntry;

typedef struct IdMap {
	IdMapEntry *v;
	size_t n;
} IdMap;

typedef struct Ctx {
	Repo *repo;
	Index *ix;
	const RestoreOptions *opts;
	WorkPool *pool;
	int root_fd;
	int is_root;
	uid_t euid;
	pthread_mutex_t mu;
	int fatal;
	StrataErr ferr;
	StrataErr *err;
	RestoreResult res;
	RestoreProgress prog;
	RestoreLinks links;            /* hard-link groups */
	char **includes;
	size_t nincludes;
	const Snapshot *snap;
	RestorePlan *plan;
	PendFile *files;
	size_t nfiles, files_cap, files_max;
	size_t ndirfds;            /* PendFile.dirfd held: they count against files_max */
	RestoreDonors *donors;     /* delta: the current directory's strays, or NULL */
	IdMap users, groups;       /* snapshot's owner IDs -> this host's (as root) */
	size_t *cold;              /* ranges of the batch that met archived packs; under mu */
	size_t ncold, cold_cap;
	int thawed;                /* thaw requests sent for the whole restore */
	BufPool bufs;              /* range buffers and windows, reused */
	/* Tree prefetch (S3 only, see get_tree): a pool loading the trees of
	 * the next subdirectories while the walk works, and what it loaded. */
	WorkPool *tpool;
	pthread_mutex_t tmu;
	pthread_cond_t tcv;
	struct TreeFetch *tfetch;  /* under tmu */
} Ctx;

/* One tree being loaded ahead of the walk. */
typedef struct TreeFetch {
	Ctx *ctx;
	uint8_t id[STRATA_ID_LEN];
	int done;                  /* under ctx->tmu */
	int rc;
	StrataErr err;
	Tree t;
	struct TreeFetch *next;
} TreeFetch;

typedef struct RangeJob {
	Ctx *ctx;
	size_t range;
} RangeJob;

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

static int has_fatal(Ctx *c)
{
	int f;

	pthread_mutex_lock(&c->mu);
	f = c->fatal;
	pthread_mutex_unlock(&c->mu);
	return f;
}

static int all_zero(const uint8_t *p, size_t len)
{
	static const uint8_t zero[256];

	while (len >= sizeof zero) {
		if (memcmp(p, zero, sizeof zero))
			return 0;
		p += sizeof zero;
		len -= sizeof zero;
	}
	return memcmp(p, zero, len) == 0;
}

/* pwritev all of iov[0..n) at off, resuming after short writes. */
static int pwritev_all(int fd, struct iovec *iov, int n, uint64_t off)
{
	while (n > 0) {
		ssize_t w = pwritev(fd, iov, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (uint64_t)w;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Consecutive chunks of a file usually sit side by side in a pack, so
 * pieces are gathered into runs of adjacent bytes of one file and each run
 * is one pwritev: a 16 MiB range is a handful of calls, not 500 pwrites. */
#define RUN_IOV_MAX 256
/* Blobs are decrypted into a window of this size (or the largest blob),
 * reused once its runs are written: the content never needs a second
 * range-sized buffer. */
#define RAW_WINDOW (1u << 20)

typedef struct Run {
	const PendFile *f;
	uint64_t start, end;
	struct iovec iov[RUN_IOV_MAX];
	int n;
} Run;

static int run_flush(Run *w, StrataErr *err)
{
	int rc;

	if (w->n == 0)
		return 0;
	rc = pwritev_all(w->f->fd, w->iov, w->n, w->start);
	w->n = 0;
	if (rc)
		return strata_err_set(err, rc, "%s: write failed: %s", w->f->path, strerror(-rc));
	return 0;
}

/* Append len bytes at p for file f at off, writing the run so far first
 * when this piece does not continue it. */
static int run_add(Run *w, const PendFile *f, uint64_t off, const uint8_t *p, size_t len, StrataErr *err)
{
	int rc;

	if (w->n > 0 && (w->f != f || off != w->end || w->n == RUN_IOV_MAX) && (rc = run_flush(w, err)) != 0)
		return rc;
	if (w->n == 0) {
		w->f = f;
		w->start = w->end = off;
	}
	w->iov[w->n].iov_base = (void *)(uintptr_t)p;
	w->iov[w->n].iov_len = len;
	w->n++;
	w->end += len;
	return 0;
}

/* Note range ri as archived; called with c->mu held. */
static int note_cold(Ctx *c, size_t ri)
{
	if (c->ncold == c->cold_cap) {
		size_t cap = c->cold_cap ? 2 * c->cold_cap : 64;
		size_t *q = realloc(c->cold, cap * sizeof *q);
		if (!q)
			return -ENOMEM;
		c->cold = q;
		c->cold_cap = cap;
	}
	c->cold[c->ncold++] = ri;
	return 0;
}

/* Fetch one planned range, open each of its blobs once and write it to
 * every place that wants it. An archived pack is noted, not an error. */
static int fetch_range(Ctx *c, CodecCtx *cctx, size_t ri, StrataErr *err)
{
	const RestorePlanRange *r = &restore_plan_ranges(c->plan)[ri];
	const RestorePlanBlob *blobs = restore_plan_blobs(c->plan) + r->first_blob;
	const RestorePlanRef *refs = restore_plan_refs(c->plan);
	char idhex[STRATA_ID_HEX_LEN + 1], packhex[STRATA_ID_HEX_LEN + 1];
	const char *path = c->files[refs[blobs[0].first_ref].file].path;
	uint8_t *buf = NULL, *win = NULL;
	size_t used = 0, buf_cap = 0, win_cap = 0, win_need = RAW_WINDOW;
	uint64_t restored = 0;
	Run *run = NULL;
	StrataErr rerr = {0};
	int rc;

	codec_hex(r->pack, STRATA_ID_LEN, packhex);
	for (size_t b = 0; b < r->nblobs; b++)
		if (blobs[b].raw_len > win_need)
			win_need = blobs[b].raw_len;
	buf = bufpool_get(&c->bufs, r->len, &buf_cap);
	win = bufpool_get(&c->bufs, win_need, &win_cap);
	run = calloc(1, sizeof *run);   /* n = 0: an empty run */
	if (!buf || !win || !run) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	rc = pack_read_range(c->repo, PACK_KIND_DATA, r->pack, r->off, r->len, buf, &rerr);
	pthread_mutex_lock(&c->mu);
	c->res.requests++;
	if (rc == 0)
		c->res.bytes_fetched += r->len;
	else if (rc == -ENODATA)
		rc = note_cold(c, ri) ? -ENOMEM : 1;
	pthread_mutex_unlock(&c->mu);
	if (rc == 1) {
		rc = 0;               /* archived: handle_cold takes it from here */
		goto out;
	}
	if (rc == -ENOMEM) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (rc == -ENOENT || rc == -ERANGE) {
		rc = strata_err_set(err, STRATA_EDAMAGED, "%s: pack %.16s %s (bytes %llu-%llu of it are needed)",
		                    path, packhex, rc == -ENOENT ? "is missing" : "is truncated",
		                    (unsigned long long)r->off, (unsigned long long)(r->off + r->len - 1));
		goto out;
	}
	if (rc) {
		rc = strata_err_set(err, rc, "%s", rerr.msg);
		strata_err_prefix(err, "%s", path);
		goto out;
	}
	for (size_t b = 0; b < r->nblobs; b++) {
		const RestorePlanBlob *bl = &blobs[b];
		const PendFile *f = &c->files[refs[bl->first_ref].file];
		uint8_t *out;

		/* The window is reused: what points into it is written first. */
		if (used + bl->raw_len > win_cap) {
			if ((rc = run_flush(run, err)) != 0)
				goto out;
			used = 0;
		}
		out = win + used;
		/* The AEAD tag binds type and ID (FORMAT.md §8): recomputing the
		 * keyed hash of every restored byte only re-checks what the
		 * writer, holding the same key, vouched for, at about half of a
		 * restore's CPU; check --read-data and restore --verify do. */
		rc = pack_read_open(cctx, c->repo, BLOB_DATA, bl->id, buf + (bl->pack_off - r->off), bl->length, out,
		                    bl->raw_len, c->opts->verify);
		if (rc) {
			codec_hex(bl->id, STRATA_ID_LEN, idhex);
			rc = rc == -ENOMEM ? strata_err_set(err, rc, "out of memory") :
			     strata_err_set(err, STRATA_EDAMAGED, "%s (bytes %llu-%llu): chunk %.16s in pack %.16s at offset %u: %s",
			                    f->path, (unsigned long long)refs[bl->first_ref].file_off,
			                    (unsigned long long)(refs[bl->first_ref].file_off + bl->raw_len - 1),
			                    idhex, packhex, bl->pack_off,
			                    pack_read_damage(rc) == PACK_DAMAGE_AUTH ? "fails authentication" :
			                    pack_read_damage(rc) == PACK_DAMAGE_HASH ? "does not match its ID (sealed from wrong bytes)" :
			                    "cannot be decoded");
			goto out;
		}
		used += bl->raw_len;
		restored += (uint64_t)bl->raw_len * bl->nrefs;
		/* All-zero chunks become holes: files were sized with
		 * ftruncate, so sparse files stay sparse. */
		if (bl->raw_len == 0 || all_zero(out, bl->raw_len))
			continue;
		for (size_t k = bl->first_ref; k < bl->first_ref + bl->nrefs; k++)
			if ((rc = run_add(run, &c->files[refs[k].file], refs[k].file_off, out, bl->raw_len, err)) != 0)
				goto out;
	}
	rc = run_flush(run, err);
	if (rc == 0) {
		RestoreProgress prog;
		pthread_mutex_lock(&c->mu);
		c->res.bytes += restored;
		c->prog.bytes_done += restored;
		prog = c->prog;
		pthread_mutex_unlock(&c->mu);
		/* A worker: the name the walk last reported may be freed. */
		prog.current = NULL;
		if (c->opts->progress)
			c->opts->progress(&prog, c->opts->progress_ctx);
	}
out:
	free(run);
	bufpool_put(&c->bufs, win, win_cap);
	bufpool_put(&c->bufs, buf, buf_cap);
	return rc;
}

static void range_job(void *arg, void *state)
{
	RangeJob *j = arg;
	StrataErr err = {0};
	int rc;

	if (has_fatal(j->ctx))
		rc = 0;
	else if (!state)
		rc = strata_err_set(&err, -ENOMEM, "out of memory");
	else
		rc = fetch_range(j->ctx, state, j->range, &err);
	if (rc)
		set_fatal(j->ctx, rc, &err);
	free(j);
}

static int submit_range(Ctx *c, size_t ri)
{
	const RestorePlanRange *r = &restore_plan_ranges(c->plan)[ri];
	RangeJob *j = malloc(sizeof *j);
	int rc;

	if (!j)
		return strata_err_set(c->err, -ENOMEM, "out of memory");
	j->ctx = c;
	j->range = ri;
	rc = workpool_submit(c->pool, range_job, j, r->len + RAW_WINDOW);
	if (rc) {
		free(j);
		return strata_err_set(c->err, rc, "out of memory");
	}
	return 0;
}

/* Wait for the pool; the first job error becomes the restore's. */
static int wait_jobs(Ctx *c)
{
	int rc;

	workpool_wait(c->pool);
	pthread_mutex_lock(&c->mu);
	rc = c->fatal;
	if (rc && c->err)
		*c->err = c->ferr;
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int thaw_all(Ctx *c, uint64_t *out_pending);

static void sleep_s(unsigned s)
{
	struct timespec ts = { (time_t)s, 0 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Some ranges met archived packs: ask for every pack the restore needs to
 * be thawed (once), then stop, or with cold_wait poll until they read. */
static int handle_cold(Ctx *c)
{
	uint64_t pending = 0;
	size_t *again = NULL, n;
	int rc = 0;

	if (!c->thawed) {
		rc = thaw_all(c, &pending);
		if (rc)
			return rc;
		c->thawed = 1;
		c->res.cold_packs = pending;
	}
	if (!c->opts->cold_wait) {
		if (!c->res.cold_packs)
			c->res.cold_packs = c->ncold;
		return strata_err_set(c->err, -EAGAIN,
		                      "%llu packs this restore needs are in an archive storage class; a restore of "
		                      "each was requested: run the same restore again with --overwrite once they "
		                      "are readable (hours for GLACIER, up to 48 h for DEEP_ARCHIVE), or add "
		                      "--cold-wait to wait for them",
		                      (unsigned long long)c->res.cold_packs);
	}
	while (c->ncold > 0) {
		n = c->ncold;
		free(again);
		again = malloc(n * sizeof *again);
		if (!again)
			return strata_err_set(c->err, -ENOMEM, "out of memory");
		memcpy(again, c->cold, n * sizeof *again);
		c->ncold = 0;
		c->prog.cold_pending = n;
		if (c->opts->progress)
			c->opts->progress(&c->prog, c->opts->progress_ctx);
		sleep_s(c->opts->cold_poll_s ? c->opts->cold_poll_s : COLD_POLL_S);
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = submit_range(c, again[i]);
		if (rc == 0)
			rc = wait_jobs(c);
		if (rc)
			break;
	}
	c->prog.cold_pending = 0;
	free(again);
	return rc;
}

/* name's ID on this host (getpwnam_r/getgrnam_r), or -1. */
static int64_t local_id(const char *name, int group)
{
	char *buf = malloc(65536);    /* a group line lists its members */
	int64_t id = -1;

	if (!buf)
		return -1;
	if (group) {
		struct group gr, *res = NULL;
		if (getgrnam_r(name, &gr, buf, 65536, &res) == 0 && res)
			id = res->gr_gid;
	} else {
		struct passwd pw, *res = NULL;
		if (getpwnam_r(name, &pw, buf, 65536, &res) == 0 && res)
			id = res->pw_uid;
	}
	free(buf);
	return id;
}

/* The map of the snapshot's named owners to this host's IDs, built once
 * (as root, without numeric_owner): a few lookups per restore. */
static int build_idmap(IdMap *m, const SnapshotOwner *v, size_t n, int group)
{
	m->v = calloc(n ? n : 1, sizeof *m->v);
	if (!m->v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int64_t id;
		if (!v[i].name || (id = local_id(v[i].name, group)) < 0 || (uint32_t)id == v[i].id)
			continue;
		m->v[m->n].from = v[i].id;
		m->v[m->n++].to = (uint32_t)id;
	}
	return 0;
}

static uint32_t map_id(const IdMap *m, uint32_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].from == id)
			return m->v[i].to;
	return id;
}

/* chown through fd to the owner the snapshot means (RestoreOptions
 * numeric_owner); 0 or -1. */
static int chown_mapped(const Ctx *c, int fd, uint32_t uid, uint32_t gid)
{
	return fchown(fd, map_id(&c->users, uid), map_id(&c->groups, gid));
}

/* Metadata through an open descriptor: owner first (chown clears
 * setuid/setgid), then mode, then times. */
static void file_meta(Ctx *c, int fd, uint32_t uid, uint32_t gid, uint32_t mode, int64_t mtime_ns)
{
	struct timespec ts[2];

	if (c->is_root && chown_mapped(c, fd, uid, gid) != 0)
		c->res.errors++;
	fchmod(fd, mode & (c->is_root ? 07777 : 01777));
	restore_node_times(mtime_ns, ts);
	futimens(fd, ts);
}

static const char *base_name(const char *path)
{
	const char *sl = strrchr(path, '/');

	return sl ? sl + 1 : path;
}

/* After its content: the metadata; a delta file is then made durable and
 * renamed over the old one (FORMAT.md §15: either old or new). */
static int finish_file(Ctx *c, PendFile *f)
{
	struct timespec ts[2];
	struct stat dst;

	file_meta(c, f->fd, f->uid, f->gid, f->mode, f->mtime_ns);
	if (!f->tmp)
		return 0;
	if (fsync(f->fd) != 0)
		return strata_err_set(c->err, -errno, "%s: fsync of the new version failed: %s", f->path,
		                      strerror(errno));
	/* The rename changes the directory's times, which the walk may have
	 * set already: they are put back as they were. */
	if (fstat(f->dirfd, &dst) != 0)
		return strata_err_set(c->err, -errno, "%s: cannot inspect its directory: %s", f->path, strerror(errno));
	if (renameat(f->dirfd, f->tmp, f->dirfd, base_name(f->path)) != 0)
		return strata_err_set(c->err, -errno, "%s: cannot put the new version in place: %s", f->path,
		                      strerror(errno));
	ts[0] = dst.st_atim;
	ts[1] = dst.st_mtim;
	futimens(f->dirfd, ts);
	free(f->tmp);
	f->tmp = NULL;
	return 0;
}

/* Close the batch's files from from on; a delta file not renamed yet (the
 * restore stopped) leaves no temporary behind. */
static void close_files(Ctx *c, size_t from)
{
	for (size_t i = from; i < c->nfiles; i++) {
		PendFile *f = &c->files[i];
		close(f->fd);
		if (f->tmp)
			unlinkat(f->dirfd, f->tmp, 0);
		if (f->dirfd >= 0) {
			close(f->dirfd);
			c->ndirfds--;
		}
		free(f->tmp);
		free(f->path);
	}
	c->nfiles = from;
}

/* flush — restore the batch: plan, fetch and write every range, then
 * apply the metadata of the complete files and close them. A file still
 * being queued (the last one) stays open as file 0 of the next batch. */
static int flush(Ctx *c)
{
	RestorePlanRef bad;
	uint8_t bad_id[STRATA_ID_LEN];
	char idhex[STRATA_ID_HEX_LEN + 1];
	size_t n, keep;
	int rc;

	if (c->nfiles == 0)
		return 0;
	rc = restore_plan_build(c->plan, c->ix, &bad, bad_id);
	if (rc == STRATA_EDAMAGED) {
		IndexEntry other;
		codec_hex(bad_id, STRATA_ID_LEN, idhex);
		if (index_lookup_any(c->ix, bad_id, &other) == 0 && other.type != BLOB_DATA)
			return strata_err_set(c->err, rc, "%s: data chunk %.16s (at byte %llu) is stored only as a %s blob "
			                      "with the same ID (written by strata before 2026-12-07): "
			                      "`strata repair snapshots` stores it as data",
			                      c->files[bad.file].path, idhex, (unsigned long long)bad.file_off,
			                      codec_blob_type_name(other.type));
		return strata_err_set(c->err, rc, "%s: chunk %.16s (at byte %llu) is missing from the repository "
		                      "or the index disagrees with the tree",
		                      c->files[bad.file].path, idhex, (unsigned long long)bad.file_off);
	}
	if (rc)
		return strata_err_set(c->err, rc, "out of memory planning the restore");
	n = restore_plan_nranges(c->plan);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = submit_range(c, i);
	if (rc == 0)
		rc = wait_jobs(c);
	if (rc == 0 && c->ncold)
		rc = handle_cold(c);
	if (rc)
		return rc;
	keep = c->files[c->nfiles - 1].complete ? 0 : 1;
	for (size_t i = 0; i < c->nfiles - keep && rc == 0; i++)
		rc = finish_file(c, &c->files[i]);
	if (rc)
		return rc;
	if (keep) {
		PendFile last = c->files[c->nfiles - 1];
		c->nfiles--;
		close_files(c, 0);
		c->files[0] = last;
		c->nfiles = 1;
	} else {
		close_files(c, 0);
	}
	restore_plan_reset(c->plan);
	return 0;
}

static int fail_errno(Ctx *c, const char *path, const char *what)
{
	int e = errno;
	return strata_err_set(c->err, -e, "%s: %s: %s", path, what, strerror(e));
}

/* How many directories deep path is ("" 0, "a" 1, "a/b" 2). */
static unsigned depth_of(const char *path)
{
	unsigned d = *path ? 1 : 0;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

/* RestoreOptions.excludes: a pattern matches the path or any tail of it
 * made of whole names (as `strata find`: "state/sub" matches
 * var/lib/node/state/sub, "*.log" any name ending in .log); one starting
 * with '/' only the whole path. */
static int excluded(const Ctx *c, const char *path)
{
	for (size_t i = 0; i < c->opts->nexcludes; i++) {
		const char *pat = c->opts->excludes[i];
		if (*pat == '/') {
			while (*pat == '/')
				pat++;
			if (fnmatch(pat, path, 0) == 0)
				return 1;
			continue;
		}
		for (const char *p = path; p; p = strchr(p, '/'), p = p ? p + 1 : NULL)
			if (fnmatch(pat, p, 0) == 0)
				return 1;
	}
	return 0;
}

/* Decide what to do with path: 2 restore it whole, 1 only descend (an
 * include lies below), 0 skip. */
static int wanted(const Ctx *c, const char *path)
{
	size_t pl = strlen(path);
	int r = 0;

	if (*path && c->opts->nexcludes && excluded(c, path))
		return 0;
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

/* --delete cleans a directory only when it is restored whole and lies at
 * or below one of the snapshot's own paths: the directories above them
 * (/, /var, /var/lib of a backup of /var/lib/node) hold only the way
 * down in the snapshot, and everything else in them is not the
 * snapshot's business. */
static int deletable(const Ctx *c, const char *path)
{
	if (wanted(c, path) != 2 || (c->opts->strip_components && depth_of(path) <= c->opts->strip_components))
		return 0;
	for (size_t i = 0; i < c->snap->npaths; i++) {
		const char *r = c->snap->paths[i];
		size_t rl;
		while (*r == '/')
			r++;
		rl = strlen(r);
		while (rl > 0 && r[rl - 1] == '/')
			rl--;
		if (rl == 0 || (strncmp(path, r, rl) == 0 && (path[rl] == '\0' || path[rl] == '/')))
			return 1;
	}
	return 0;
}

/* A directory's metadata, through its descriptor (never by name: the
 * name may lead elsewhere by now). */
static void dir_meta(Ctx *c, int fd, const TreeNode *n)
{
	struct timespec ts[2];

	if (c->is_root && chown_mapped(c, fd, n->uid, n->gid) != 0)
		c->res.errors++;
	fchmod(fd, n->mode & (c->is_root ? 07777 : 01777));
	restore_node_times(n->mtime_ns, ts);
	futimens(fd, ts);
}

/* Remove an existing entry in the way (only with --overwrite). */
static int clear_way(Ctx *c, int dirfd, const char *name, const char *path)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : fail_errno(c, path, "cannot inspect existing entry");
	if (!c->opts->overwrite && !c->opts->delta)
		return strata_err_set(c->err, STRATA_EEXIST, "%s already exists in the target; use --overwrite to replace it", path);
	if (S_ISDIR(st.st_mode))
		return strata_err_set(c->err, STRATA_EEXIST, "%s: a directory is in the way of a file", path);
	if (unlinkat(dirfd, name, 0) != 0)
		return fail_errno(c, path, "cannot remove existing entry");
	return 0;
}

/* Room for one more open file in the batch (flushing it when full). */
static int reserve_file(Ctx *c)
{
	int rc;

	if (c->nfiles + c->ndirfds >= c->files_max && (rc = flush(c)) != 0)
		return rc;
	if (c->nfiles == c->files_cap) {
		size_t cap = c->files_cap ? 2 * c->files_cap : 256;
		void *q = realloc(c->files, cap * sizeof *c->files);
		if (!q)
			return strata_err_set(c->err, -ENOMEM, "out of memory");
		c->files = q;
		c->files_cap = cap;
	}
	return 0;
}

/* Link n as a further member of group g: 1 if it was linked, 0 if it
 * must be a copy (the first member's file cannot be reached as the inode
 * restored there, or the link fails, e.g. across filesystems), or an
 * error (the name is taken and clear_way refused). */
static int link_member(Ctx *c, int dirfd, const TreeNode *n, const char *path, RestoreLink *g)
{
	int reopened, fd = restore_links_source(g, c->root_fd, &reopened), rc;

	if (fd < 0)
		return 0;
	rc = restore_node_link(fd, dirfd, n->name, c->is_root);
	if (rc == -EEXIST) {
		rc = clear_way(c, dirfd, n->name, path);
		if (rc)
			goto out;
		rc = restore_node_link(fd, dirfd, n->name, c->is_root);
	}
	if (rc == 0) {
		rc = 1;
		restore_links_linked(&c->links, g);
	} else {
		rc = 0;
	}
out:
	if (reopened)
		close(fd);
	return rc;
}

static int queue_file(Ctx *c, int fd, int dirfd, char *tmp, const TreeNode *n, const char *path,
                      const RestoreLink *first, const RestoreDelta *delta, int old_fd);

/* Delta restore of n over the existing entry of its name (restore.h,
 * RestoreOptions.delta). Returns 1 when that entry is no regular file
 * the restore can read (it is replaced as without delta), 0 when done
 * (kept, or queued as a temporary file), or an error. */
static int delta_file(Ctx *c, int dirfd, const TreeNode *n, const char *path, const RestoreLink *first)
{
	RestoreDelta d;
	struct stat st;
	char tmp[32];
	char *tmpdup = NULL;
	uint64_t rnd;
	int old, fd = -1, dfd = -1, rc;

	memset(&d, 0, sizeof d);
	/* O_NONBLOCK: a FIFO planted under the name must not block the open. */
	old = openat(dirfd, n->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (old < 0)
		return 1;      /* a symlink (ELOOP), unreadable, ...: replaced */
	if (fstat(old, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(old);
		return 1;
	}
	/* One name only: a file with more may be linked from outside the
	 * target, and keeping it would change that file too (its metadata);
	 * its bytes are still reused, through a new file. */
	if (c->opts->delta == RESTORE_DELTA_FAST && st.st_nlink == 1 && (uint64_t)st.st_size == n->size &&
	    (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec == n->mtime_ns) {
		d.identical = 1;
	} else {
		rc = restore_delta_scan(c->repo, old, (uint64_t)st.st_size, n, c->donors, path, &d, c->err);
		if (rc)
			goto out;
		c->res.bytes_compared += d.bytes_read;
	}
	if (d.identical && st.st_nlink == 1) {
		if (n->nlink > 1 && !first && restore_links_add(&c->links, n->dev, n->ino, n->nlink, path, old) != 0) {
			rc = strata_err_set(c->err, -ENOMEM, "out of memory");
			goto out;
		}
		file_meta(c, old, n->uid, n->gid, n->mode, n->mtime_ns);
		c->res.files++;
		c->res.files_skipped++;
		c->res.bytes_reused += n->size;
		c->prog.files_done++;
		rc = 0;
		goto out;
	}
	rc = reserve_file(c);
	if (rc)
		goto out;
	/* The new version beside the old, under a name no snapshot entry
	 * of a strata restore uses; left behind only by a crash (--delete
	 * removes it then). */
	codec_random(&rnd, sizeof rnd);
	snprintf(tmp, sizeof tmp, ".strata-delta-%016llx", (unsigned long long)rnd);
	fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = fail_errno(c, path, "cannot create the new version beside it");
		goto out;
	}
	dfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	tmpdup = strdup(tmp);
	if (dfd < 0 || !tmpdup) {
		rc = dfd < 0 ? fail_errno(c, path, "cannot keep its directory open")
		             : strata_err_set(c->err, -ENOMEM, "out of memory");
		unlinkat(dirfd, tmp, 0);
		close(fd);
		if (dfd >= 0)
			close(dfd);
		free(tmpdup);
		goto out;
	}
	c->res.files_updated++;
	rc = queue_file(c, fd, dfd, tmpdup, n, path, first, &d, old);
out:
	restore_delta_free(&d);
	close(old);
	return rc;
}

static int restore_file(Ctx *c, int dirfd, const TreeNode *n, const char *path)
{
	RestoreLink *first = n->nlink > 1 ? restore_links_find(&c->links, n->dev, n->ino) : NULL;
	int fd = -1, rc = 0;

	/* Each create is exclusive; only when the name is taken (EEXIST) does
	 * clear_way decide, and the create is tried again. A restore into an
	 * empty target, the common case, costs no lookup before each file. */
	if (first) {
		rc = link_member(c, dirfd, n, path, first);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			c->res.files++;
			return 0;
		}
		/* Fall back to a copy. */
	}
	rc = reserve_file(c);
	if (rc)
		return rc;
	fd = openat(dirfd, n->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		if (c->opts->delta && (rc = delta_file(c, dirfd, n, path, first)) != 1)
			return rc;
		if ((rc = clear_way(c, dirfd, n->name, path)) != 0)
			return rc;
		fd = openat(dirfd, n->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return fail_errno(c, path, "cannot create file");
	if (c->donors && c->donors->n && n->nchunks) {
		/* A file the target lacks: its chunks may be in a stray beside it. */
		RestoreDelta d;
		memset(&d, 0, sizeof d);
		rc = restore_delta_scan(c->repo, -1, 0, n, c->donors, path, &d, c->err);
		if (rc == 0 && d.bytes_present) {
			c->res.files_updated++;
			rc = queue_file(c, fd, -1, NULL, n, path, first, &d, -1);
		} else if (rc == 0) {
			rc = queue_file(c, fd, -1, NULL, n, path, first, NULL, -1);
		} else {
			close(fd);
		}
		restore_delta_free(&d);
		return rc;
	}
	return queue_file(c, fd, -1, NULL, n, path, first, NULL, -1);
}

/* Add the file just created, open as fd, to the batch and queue its
 * chunks (those delta lacks, with delta); takes fd, dirfd and tmp (a
 * delta file: written as tmp in dirfd) whatever happens. */
static int queue_file(Ctx *c, int fd, int dirfd, char *tmp, const TreeNode *n, const char *path,
                      const RestoreLink *first, const RestoreDelta *delta, int old_fd)
{
	PendFile *f;
	uint64_t off = 0;
	int rc;

	if (n->size && ftruncate(fd, (off_t)n->size) != 0) {
		rc = fail_errno(c, path, "cannot size file");
		goto fail;
	}
	if (n->nlink > 1 && !first && restore_links_add(&c->links, n->dev, n->ino, n->nlink, path, fd) != 0) {
		rc = strata_err_set(c->err, -ENOMEM, "out of memory");
		goto fail;
	}
	f = &c->files[c->nfiles];
	memset(f, 0, sizeof *f);
	f->fd = fd;
	f->dirfd = dirfd;
	f->tmp = tmp;
	f->mode = n->mode;
	f->uid = n->uid;
	f->gid = n->gid;
	f->mtime_ns = n->mtime_ns;
	f->path = strdup(path);
	c->nfiles++;
	if (dirfd >= 0)
		c->ndirfds++;
	if (!f->path)
		return strata_err_set(c->err, -ENOMEM, "out of memory");
	if (delta) {
		uint64_t copied;
		rc = restore_delta_copy(old_fd, c->donors, fd, n, delta, path, &copied, c->err);
		if (rc)
			return rc;
		c->res.bytes_reused += copied;
	}
	for (size_t i = 0; i < n->nchunks; i++) {
		if (delta && delta->old_off[i] != RESTORE_DELTA_NONE) {
			off += n->chunk_lens[i];
			continue;
		}
		if (restore_plan_add(c->plan, n->chunks[i], n->chunk_lens[i], (uint32_t)(c->nfiles - 1), off))
			return strata_err_set(c->err, -ENOMEM, "out of memory");
		off += n->chunk_lens[i];
		/* A huge file may span batches: it stays open until its
		 * last chunk is queued and written. */
		if (restore_plan_nrefs(c->plan) >= BATCH_REFS_MAX && i + 1 < n->nchunks &&
		    (rc = flush(c)) != 0)
			return rc;
	}
	c->files[c->nfiles - 1].complete = 1;
	c->res.files++;
	c->prog.files_done++;
	if (restore_plan_nrefs(c->plan) >= BATCH_REFS_MAX)
		return flush(c);
	return 0;
fail:
	close(fd);
	if (tmp)
		unlinkat(dirfd, tmp, 0);
	free(tmp);
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

static int restore_dir(Ctx *c, int dirfd, int private, const uint8_t tree_id[STRATA_ID_LEN], char *path,
                       size_t plen);

/* A symlink, FIFO or device node: created with no permissions (mode 0
 * for FIFOs and devices), then opened with O_PATH|O_NOFOLLOW and checked
 * to be that node, and its metadata set through the descriptor. Anyone
 * who can rename entries in dirfd may have put something else under the
 * name by then: a symlink to a file outside the target, or a hard link to
 * one; both fail the check and are left alone. */
static int restore_special(Ctx *c, int dirfd, const TreeNode *n, const char *path)
{
	mode_t type = n->type == NODE_SYMLINK ? S_IFLNK : n->type == NODE_FIFO ? S_IFIFO :
	              n->type == NODE_CHARDEV ? S_IFCHR : S_IFBLK;
	int fd = -1, rc;

	if (type == S_IFLNK) {
		rc = 0;
		if (symlinkat(n->link_target, dirfd, n->name) != 0) {
			int made = 0;
			/* Taken: as for files (restore_file). */
			if (errno == EEXIST && (rc = clear_way(c, dirfd, n->name, path)) == 0)
				made = symlinkat(n->link_target, dirfd, n->name) == 0;
			if (!made && rc == 0)
				rc = fail_errno(c, path, "cannot create symlink");
		}
		if (rc)
			return rc;
	} else {
		rc = clear_way(c, dirfd, n->name, path);
		if (rc)
			return rc;
		if (type == S_IFIFO ? mkfifoat(dirfd, n->name, 0) != 0
		                    : mknodat(dirfd, n->name, type, (dev_t)n->rdev) != 0) {
			/* Devices need privileges: counted, not fatal. */
			c->res.errors++;
			return 0;
		}
	}
	rc = restore_node_open_new(dirfd, n->name, type, n->rdev, c->euid, path, &fd, c->err);
	if (rc)
		return rc;
	c->res.errors += (uint64_t)restore_node_set_meta(fd, type, c->is_root, map_id(&c->users, n->uid),
	                                                 map_id(&c->groups, n->gid),
	                                                 n->mode & (c->is_root ? 07777 : 01777), n->mtime_ns);
	close(fd);
	c->res.files++;
	return 0;
}

/* private: only root can rename entries in dirfd (or the restore does not
 * run as root); see restore_node_dir_check. */
static int restore_entry(Ctx *c, int dirfd, int private, const TreeNode *n, char *path, size_t plen, int how)
{
	int rc = 0;

	/* Stripped levels (RestoreOptions.strip_components): a directory's
	 * entries land where it would have been; nothing else there is. */
	if (c->opts->strip_components && depth_of(path) <= c->opts->strip_components)
		return n->type == NODE_DIR ? restore_dir(c, dirfd, private, n->subtree, path, plen) : 0;
	switch (n->type) {
	case NODE_DIR: {
		int fd, made = 1, mine = 1, meta = how == 2;
		if (mkdirat(dirfd, n->name, 0700) != 0) {
			if (errno != EEXIST)
				return fail_errno(c, path, "cannot create directory");
			made = 0;
		}
		fd = openat(dirfd, n->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return fail_errno(c, path, "cannot open directory (a non-directory is in the way)");
		/* One made just now (0700) in a directory only root can change
		 * is ours; elsewhere it is checked to be. One that was there may
		 * belong to someone who can swap names in it while we work: as
		 * root, refused unless allowed; allowed, and found where others
		 * could have moved it in from elsewhere, it keeps its owner, mode
		 * and times (FORMAT.md §14). */
		if (c->is_root && !made) {
			rc = restore_node_dir_check(fd, path, c->opts->allow_foreign_dirs, &mine, c->err);
			if (!mine && !private)
				meta = 0;
		} else if (c->is_root && !private) {
			rc = restore_node_dir_new(fd, c->euid, path, c->err);
		}
		if (rc == 0)
			rc = restore_dir(c, fd, mine, n->subtree, path, plen);
		/* Writing file content later does not touch a directory's
		 * mtime; only creating entries does, and those exist now. */
		if (rc == 0 && how == 2) {
			if (meta)
				dir_meta(c, fd, n);
			c->res.dirs++;
		}
		close(fd);
		return rc;
	}
	case NODE_FILE:
		if (how != 2)
			return 0;
		rc = restore_file(c, dirfd, n, path);
		break;
	case NODE_SYMLINK:
	case NODE_FIFO:
	case NODE_CHARDEV:
	case NODE_BLOCKDEV:
		if (how != 2)
			return 0;
		rc = restore_special(c, dirfd, n, path);
		break;
	default:
		break;        /* sockets are not restored */
	}
	return rc;
}

/* ---- tree prefetch ----
 *
 * The walk loads one tree per directory, each a request; from S3 that is
 * a round trip per directory, in series (thousands of directories:
 * minutes). So the walk asks a small pool to load the trees of the next
 * TREE_AHEAD subdirectories of each directory while it works, and takes
 * them from here when it descends. Held trees are bounded by TREE_AHEAD
 * per level of the current path. */
#define TREE_AHEAD   64
#define TREE_THREADS 16
/* Tree packs held (store/blob_read.h): four default 16 MiB packs. */
#define TREE_CACHE_MAX ((size_t)64 << 20)

static void tree_fetch_job(void *arg, void *state)
{
	TreeFetch *f = arg;
	Ctx *c = f->ctx;
	StrataErr err = {0};
	Tree t;
	int rc;

	(void)state;
	memset(&t, 0, sizeof t);
	rc = tree_load(c->repo, f->id, &t, &err);
	pthread_mutex_lock(&c->tmu);
	f->t = t;
	f->rc = rc;
	f->err = err;
	f->done = 1;
	pthread_cond_broadcast(&c->tcv);
	pthread_mutex_unlock(&c->tmu);
}

/* Start loading tree id; a failure to start is no error (get_tree loads
 * it itself then). */
static void prefetch_tree(Ctx *c, const uint8_t id[STRATA_ID_LEN])
{
	TreeFetch *f = calloc(1, sizeof *f);

	if (!f)
		return;
	f->ctx = c;
	memcpy(f->id, id, STRATA_ID_LEN);
	pthread_mutex_lock(&c->tmu);
	f->next = c->tfetch;
	c->tfetch = f;
	pthread_mutex_unlock(&c->tmu);
	if (workpool_submit(c->tpool, tree_fetch_job, f, 1) != 0) {
		pthread_mutex_lock(&c->tmu);
		f->done = 1;
		f->rc = -ENOMEM;       /* get_tree retries it itself */
		pthread_mutex_unlock(&c->tmu);
	}
}

/* The tree id: prefetched if it was, else loaded now. */
static int get_tree(Ctx *c, const uint8_t id[STRATA_ID_LEN], Tree *out)
{
	TreeFetch **pp, *f = NULL;
	int rc;

	if (c->tpool) {
		pthread_mutex_lock(&c->tmu);
		for (pp = &c->tfetch; *pp; pp = &(*pp)->next)
			if (memcmp((*pp)->id, id, STRATA_ID_LEN) == 0) {
				f = *pp;
				*pp = f->next;
				break;
			}
		while (f && !f->done)
			pthread_cond_wait(&c->tcv, &c->tmu);
		pthread_mutex_unlock(&c->tmu);
	}
	if (!f || f->rc == -ENOMEM) {
		free(f);
		return tree_load(c->repo, id, out, c->err);
	}
	rc = f->rc;
	if (rc == 0)
		*out = f->t;
	else if (c->err)
		*c->err = f->err;
	free(f);
	return rc;
}

/* After the pool has stopped: trees prefetched but never used (the
 * restore stopped early). */
static void free_prefetched(Ctx *c)
{
	while (c->tfetch) {
		TreeFetch *f = c->tfetch;
		c->tfetch = f->next;
		if (f->done && f->rc == 0)
			tree_clear(&f->t);
		free(f);
	}
}

/* path (plen bytes, a directory's path relative to the target) extended
 * by name in place; *out_len its new length. -ENAMETOOLONG (message). */
static int child_path(Ctx *c, char *path, size_t plen, const char *name, size_t *out_len)
{
	size_t nl = strlen(name), len = plen ? plen + 1 + nl : nl;

	if (len >= PATH_MAX)
		return strata_err_set(c->err, -ENAMETOOLONG, "path too long under %s", path);
	if (plen)
		path[plen] = '/';
	memcpy(path + (plen ? plen + 1 : 0), name, nl + 1);
	*out_len = len;
	return 0;
}

/* restore_strays_files' callback: one more donor for c->donors. */
static int add_donor(int fd, uint64_t size, const char *path, void *ctx, StrataErr *err)
{
	Ctx *c = ctx;

	return restore_donors_add(c->repo, c->donors, fd, size, path, err);
}

static int restore_dir(Ctx *c, int dirfd, int private, const uint8_t tree_id[STRATA_ID_LEN], char *path,
                       size_t plen)
{
	RestoreDonors donors, *outer = c->donors;
	Tree t;
	size_t ahead = 0;          /* entries below this were looked at for prefetch */
	size_t pending = 0;        /* directories among entries [i, ahead) */
	int rc;

	rc = get_tree(c, tree_id, &t);
	if (rc)
		return rc;
	/* Delta: the strays' chunks, before --delete removes them (their
	 * descriptors keep them readable). Subdirectories have their own. */
	memset(&donors, 0, sizeof donors);
	c->donors = NULL;
	if (c->opts->delta && wanted(c, path) == 2 && depth_of(path) >= c->opts->strip_components) {
		c->donors = &donors;
		rc = restore_strays_files(dirfd, path, &t, add_donor, c, c->err);
		restore_donors_seal(&donors);
		c->res.bytes_compared += donors.bytes_read;
	}
	/* Strays first: a stray directory may be in the way of a file. */
	if (rc == 0 && c->opts->delete_strays && deletable(c, path))
		rc = restore_strays_remove(dirfd, path, &t, 0, c->opts->on_delete, c->opts->delete_ctx,
		                           &c->res.deleted, c->err);
	for (size_t i = 0; i < t.n && rc == 0; i++) {
		const TreeNode *n = &t.nodes[i];
		size_t len;
		int how;
		/* Includes would need each child's path here: with includes
		 * the walk loads its trees as it goes. */
		if (c->tpool && c->nincludes == 0) {
			if (i > 0 && i <= ahead && t.nodes[i - 1].type == NODE_DIR)
				pending--;
			for (; ahead < t.n && pending < TREE_AHEAD; ahead++)
				if (t.nodes[ahead].type == NODE_DIR) {
					prefetch_tree(c, t.nodes[ahead].subtree);
					pending++;
				}
		}
		if ((rc = child_path(c, path, plen, n->name, &len)) != 0)
			break;
		how = wanted(c, path);
		if (how)
			rc = restore_entry(c, dirfd, private, n, path, len, how);
		path[plen] = '\0';
		if (rc == 0 && c->opts->progress) {
			c->prog.current = n->name;
			c->opts->progress(&c->prog, c->opts->progress_ctx);
		}
	}
	tree_clear(&t);
	restore_donors_clear(&donors);
	c->donors = outer;
	return rc;
}

/* restore --delete --dry-run: the walk over the directories that exist
 * in the target, reporting the strays of those restored whole; nothing
 * is created or changed. */
static int dry_dir(Ctx *c, int dirfd, const uint8_t tree_id[STRATA_ID_LEN], char *path, size_t plen)
{
	Tree t;
	int rc;

	rc = tree_load(c->repo, tree_id, &t, c->err);
	if (rc)
		return rc;
	if (c->opts->delete_strays && deletable(c, path))
		rc = restore_strays_remove(dirfd, path, &t, 1, c->opts->on_delete, c->opts->delete_ctx,
		                           &c->res.deleted, c->err);
	for (size_t i = 0; i < t.n && rc == 0; i++) {
		const TreeNode *n = &t.nodes[i];
		size_t len;
		int fd;
		if (n->type != NODE_DIR)
			continue;
		if ((rc = child_path(c, path, plen, n->name, &len)) != 0)
			break;
		if (wanted(c, path) && c->opts->strip_components && depth_of(path) <= c->opts->strip_components)
			rc = dry_dir(c, dirfd, n->subtree, path, len);     /* a stripped level */
		else if (wanted(c, path) &&
		         (fd = openat(dirfd, n->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			rc = dry_dir(c, fd, n->subtree, path, len);
			close(fd);
		}
		path[plen] = '\0';
	}
	tree_clear(&t);
	return rc;
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

/* ---- archived packs: which packs the whole restore needs ---- */

typedef struct PackSet {
	uint8_t (*ids)[STRATA_ID_LEN];
	size_t n, cap, sorted;
} PackSet;

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, STRATA_ID_LEN);
}

static void packset_unique(PackSet *s)
{
	size_t w = 0;

	if (s->n == 0)
		return;
	qsort(s->ids, s->n, STRATA_ID_LEN, cmp_id);
	for (size_t i = 0; i < s->n; i++)
		if (w == 0 || memcmp(s->ids[w - 1], s->ids[i], STRATA_ID_LEN) != 0)
			memmove(s->ids[w++], s->ids[i], STRATA_ID_LEN);
	s->n = w;
	s->sorted = w;
}

static int packset_add(PackSet *s, const uint8_t id[STRATA_ID_LEN])
{
	if (s->n > 0 && memcmp(s->ids[s->n - 1], id, STRATA_ID_LEN) == 0)
		return 0;     /* consecutive chunks mostly share a pack */
	if (s->n == s->cap && s->n - s->sorted >= COLD_PACKS_SORT)
		packset_unique(s);
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		void *q = realloc(s->ids, cap * STRATA_ID_LEN);
		if (!q)
			return -ENOMEM;
		s->ids = q;
		s->cap = cap;
	}
	memcpy(s->ids[s->n++], id, STRATA_ID_LEN);
	return 0;
}

/* Walk the wanted part of the snapshot (trees only: hot metadata) and
 * collect the data packs its files' chunks live in. */
static int collect_packs(Ctx *c, const uint8_t tree_id[STRATA_ID_LEN], char *path, size_t plen, PackSet *set)
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
		if (len >= PATH_MAX)
			continue;
		if (plen)
			path[plen] = '/';
		memcpy(path + (plen ? plen + 1 : 0), n->name, nl + 1);
		how = wanted(c, path);
		if (how && n->type == NODE_DIR)
			rc = collect_packs(c, n->subtree, path, len, set);
		else if (how == 2 && n->type == NODE_FILE)
			for (size_t k = 0; k < n->nchunks && rc == 0; k++) {
				IndexEntry e;
				if (index_lookup(c->ix, BLOB_DATA, n->chunks[k], &e) == 0 && packset_add(set, e.pack))
					rc = strata_err_set(c->err, -ENOMEM, "out of memory");
			}
		path[plen] = '\0';
	}
	tree_clear(&t);
	return rc;
}

typedef struct ThawJob {
	Ctx *ctx;
	const uint8_t *pack;
	uint64_t *pending;
} ThawJob;

static void thaw_job(void *arg, void *state)
{
	ThawJob *j = arg;
	Ctx *c = j->ctx;
	char name[REPO_NAME_MAX];
	RemoteErr rerr = {{0}};
	StrataErr err = {0};
	unsigned days = c->opts->cold_days ? c->opts->cold_days : COLD_DAYS;
	int rc;

	repo_pack_name(PACK_KIND_DATA, j->pack, name);
	rc = backend_thaw(c->repo->be, name, days, &rerr);
	pthread_mutex_lock(&c->mu);
	c->res.requests++;
	if (rc == 0)
		(*j->pending)++;
	pthread_mutex_unlock(&c->mu);
	/* 1: readable already; -ENOTSUP: not archived. */
	if (rc < 0 && rc != -ENOTSUP) {
		repo_remote_err(&err, rc, &rerr);
		strata_err_prefix(&err, "requesting the restore of an archived pack");
		set_fatal(c, rc, &err);
	}
	free(j);
}

/* thaw_all — a thaw request for every data pack the restore needs, in
 * parallel; *out_pending counts those not readable yet. */
static int thaw_all(Ctx *c, uint64_t *out_pending)
{
	PackSet set = {0};
	char *path = malloc(PATH_MAX);
	uint64_t pending = 0;
	int rc;

	if (!path)
		return strata_err_set(c->err, -ENOMEM, "out of memory");
	path[0] = '\0';
	rc = collect_packs(c, c->snap->tree, path, 0, &set);
	if (rc == 0)
		packset_unique(&set);
	for (size_t i = 0; i < set.n && rc == 0; i++) {
		ThawJob *j = malloc(sizeof *j);
		if (!j) {
			rc = strata_err_set(c->err, -ENOMEM, "out of memory");
			break;
		}
		j->ctx = c;
		j->pack = set.ids[i];
		j->pending = &pending;
		rc = workpool_submit(c->pool, thaw_job, j, 1);
		if (rc) {
			free(j);
			rc = strata_err_set(c->err, rc, "out of memory");
		}
	}
	if (rc == 0)
		rc = wait_jobs(c);
	else
		workpool_wait(c->pool);
	free(set.ids);
	free(path);
	if (rc == 0)
		*out_pending = pending;
	return rc;
}

/* The open-file budget of a batch: half the soft limit (raised to the
 * hard limit first), leaving room for directories, the index and the
 * backend's connections. */
static size_t files_budget(void)
{
	struct rlimit rl;
	size_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 256;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = rl;
		want.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
		if (want.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
	}
	n = rl.rlim_cur == RLIM_INFINITY ? BATCH_FILES_MAX : (size_t)rl.rlim_cur / 2;
	n = n > 128 ? n - 64 : 64;
	return n < BATCH_FILES_MAX ? n : BATCH_FILES_MAX;
}

static int default_threads(int remote)
{
	int n = 2 * workpool_default_threads();

	/* Requests to S3 wait on latency, not on the CPU: as many workers as
	 * ranges REMOTE_INFLIGHT_MAX lets fly, whatever the core count; more
	 * than 32 only adds memory. */
	if (remote)
		n = n < 16 ? 16 : n;
	return n < 8 ? 8 : n > 32 ? 32 : n;
}

int restore_run(Repo *repo, const Snapshot *snap, const RestoreOptions *opts,
                RestoreResult *out_result, StrataErr *err)
{
	Ctx c;
	char *path = NULL;
	int remote, nthreads, cached = 0, root_private = 1, rc;
	uint64_t inflight;

	memset(&c, 0, sizeof c);
	c.repo = repo;
	c.opts = opts;
	c.err = err;
	c.snap = snap;
	c.root_fd = -1;
	c.euid = geteuid();
	c.is_root = c.euid == 0;
	pthread_mutex_init(&c.mu, NULL);
	pthread_mutex_init(&c.tmu, NULL);
	pthread_cond_init(&c.tcv, NULL);
	/* "s3:http(s)://..." or "s3://...": the one backend where requests
	 * wait on the network (remote/backend.h has no such property). */
	remote = strncmp(repo->location, "s3:", 3) == 0;
	nthreads = opts->threads > 0 ? opts->threads : default_threads(remote);
	inflight = remote ? REMOTE_INFLIGHT_MAX : INFLIGHT_MAX;
	/* What is out is bounded by the weight in flight, plus up to 2 MiB a
	 * job of rounding; idle buffers are kept only within that. */
	bufpool_init(&c.bufs, (size_t)inflight + (size_t)nthreads * (2u << 20));
	/* Trees from whole tree packs, one GET each (store/blob_read.h). */
	if (remote) {
		rc = blob_read_tree_cache_attach(repo, TREE_CACHE_MAX);
		if (rc) {
			rc = strata_err_set(err, rc, "out of memory");
			goto out;
		}
		cached = 1;
	}
	rc = repo_index(repo, &c.ix, err);
	if (rc)
		goto out;
	if (c.is_root && !opts->numeric_owner &&
	    (build_idmap(&c.users, snap->users, snap->nusers, 0) || build_idmap(&c.groups, snap->groups, snap->ngroups, 1))) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
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
	if (opts->dry_run) {
		/* A target that does not exist holds no strays. */
		path = malloc(PATH_MAX);
		if (!path) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		path[0] = '\0';
		c.root_fd = open(opts->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (c.root_fd < 0 && errno != ENOENT)
			rc = strata_err_set(err, -errno, "cannot open target %s: %s", opts->target, strerror(errno));
		else if (c.root_fd >= 0)
			rc = dry_dir(&c, c.root_fd, snap->tree, path, 0);
		goto out;
	}
	rc = repo_mkdir_p(opts->target);
	if (rc) {
		strata_err_set(err, rc, "cannot create target %s: %s", opts->target, strerror(-rc));
		goto out;
	}
	c.root_fd = open(opts->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.root_fd < 0) {
		rc = strata_err_set(err, -errno, "cannot open target %s: %s", opts->target, strerror(errno));
		goto out;
	}
	/* The target is a directory the restore works in like any other. */
	if (c.is_root && (rc = restore_node_dir_check(c.root_fd, opts->target, opts->allow_foreign_dirs, &root_private,
	                                              err)) != 0)
		goto out;
	c.files_max = files_budget();
	/* Hard-link groups may hold half as many descriptors as a batch
	 * (8,160 at the usual limit of 65,536); a duplicate shares the open
	 * file, so each costs only a slot in the descriptor table. */
	restore_links_init(&c.links, c.files_max / 2);
	c.pool = workpool_new(nthreads, inflight, make_codec, free_codec);
	c.plan = restore_plan_new(opts->delta ? DELTA_GAP_MAX : 0, 0);
	if (remote) {
		/* Weight 1 per tree and no bound that could block the walk:
		 * TREE_AHEAD per level bounds it. */
		c.tpool = workpool_new(TREE_THREADS, UINT64_MAX / 2, NULL, NULL);
		if (!c.tpool) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	path = malloc(PATH_MAX);
	if (!c.pool || !c.plan || !path) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	path[0] = '\0';
	rc = restore_dir(&c, c.root_fd, root_private, snap->tree, path, 0);
	if (rc == 0)
		rc = flush(&c);
	if (rc == 0 && fsync(c.root_fd) != 0 && errno != EINVAL)
		rc = strata_err_set(err, -errno, "%s: fsync failed: %s", opts->target, strerror(errno));
out:
	/* The pools first: no job may still use a descriptor, the plan or a
	 * prefetch record. */
	workpool_free(c.pool);
	workpool_free(c.tpool);
	free_prefetched(&c);
	if (cached)
		blob_read_tree_cache_detach(repo, NULL);
	pthread_cond_destroy(&c.tcv);
	pthread_mutex_destroy(&c.tmu);
	if (out_result)
		*out_result = c.res;
	close_files(&c, 0);
	free(c.files);
	free(c.cold);
	bufpool_destroy(&c.bufs);
	restore_plan_free(c.plan);
	if (c.root_fd >= 0)
		close(c.root_fd);
	for (size_t i = 0; i < c.nincludes; i++)
		free(c.includes[i]);
	free(c.includes);
	restore_links_free(&c.links);
	free(c.users.v);
	free(c.groups.v);
	free(path);
	pthread_mutex_destroy(&c.mu);
	return rc;
}

int restore_dump(Repo *repo, const Snapshot *snap, const char *path, int fd, uint64_t *out_bytes,
                 StrataErr *err)
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
			if (out_bytes)
				*out_bytes += (uint64_t)w;
		}
		free(buf);
	}
	codec_ctx_free(ctx);
	tree_node_clear(&n);
	return rc;
}
