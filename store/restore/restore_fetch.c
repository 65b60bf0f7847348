/* restore_fetch.c — the workers of a restore batch: each fetches one
 * planned range of a pack (store/pack_read.h), opens each of its blobs
 * once and writes it to every place of every file that wants it, in runs
 * of adjacent bytes; a range of an archived pack is noted for
 * restore_cold.c. See restore_internal.h.
 */
#include "store/restore/restore_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "store/blob.h"
#include "store/frame.h"
#include "store/pack_read.h"
#include "store/repo_internal.h"


typedef struct RangeJob {
	Ctx *ctx;
	size_t range;
} RangeJob;

void restore_fetch_set_fatal(Ctx *c, int rc, const StrataErr *err)
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
	/* The frame opened last (FORMAT.md 9a): the members of a frame
	 * follow each other in the range, so each frame is opened once. */
	FrameCursor fc = {0};
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
		rc = 0;               /* archived: restore_cold_handle takes it from here */
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
		if (bl->frame_raw)
			rc = frame_cursor_member(&fc, cctx, c->repo->keys, bl->pack_off, buf + (bl->pack_off - r->off),
			                         bl->length, bl->frame_raw, bl->id, bl->member_off, bl->raw_len,
			                         c->opts->verify, out);
		else
			rc = pack_read_open(cctx, c->repo, BLOB_DATA, bl->id, buf + (bl->pack_off - r->off), bl->length,
			                    out, bl->raw_len, c->opts->verify);
		if (rc) {
			codec_hex(bl->id, STRATA_ID_LEN, idhex);
			rc = rc == -ENOMEM ? strata_err_set(err, rc, "out of memory") :
			     strata_err_set(err, STRATA_EDAMAGED, "%s (bytes %llu-%llu): chunk %.16s in pack %.16s at offset %u%s: %s",
			                    f->path, (unsigned long long)refs[bl->first_ref].file_off,
			                    (unsigned long long)(refs[bl->first_ref].file_off + bl->raw_len - 1),
			                    idhex, packhex, bl->pack_off, bl->frame_raw ? " (a frame)" : "",
			                    pack_read_damage(rc) == PACK_DAMAGE_AUTH ? "fails authentication" :
			                    pack_read_damage(rc) == PACK_DAMAGE_HASH ? "does not match its ID (sealed from wrong bytes)" :
			                    "cannot be decoded");
			goto out;
		}
		used += bl->raw_len;
		restored += (uint64_t)bl->raw_len * bl->nrefs;
		/* All-zero chunks become holes, never written: a file ending
		 * in one is sized after its content (restore_batch.c), so
		 * sparse files stay sparse. */
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
	frame_cursor_free(&fc);
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
		restore_fetch_set_fatal(j->ctx, rc, &err);
	free(j);
}

int restore_fetch_submit(Ctx *c, size_t ri)
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
int restore_fetch_wait(Ctx *c)
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
