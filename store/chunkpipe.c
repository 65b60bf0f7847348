/* chunkpipe.c — see chunkpipe.h. */
#include "store/chunkpipe.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunker/pagerun.h"
#include "store/frame.h"
#include "store/sys/hugebuf.h"
#include "store/repo_internal.h"
#include "store/sys/workpool.h"

#define SEG_MIN        (8u << 20)    /* a read segment: at least 8 MiB */
#define SEG_COUNT      3             /* segments per pipe: one being read into,
                                      * two whose chunks are being sealed */
#define INFLIGHT_BYTES (16u << 20)   /* chunk bytes queued or being sealed: ~500
                                       * chunks, far more than the workers drain
                                       * between two submissions; 32 MiB was no
                                       * faster and 16 MiB more resident */

/* A read buffer. Chunks are hashed and sealed where they were read: a job
 * points into its segment, which goes back to the free list once the
 * reader has moved on and the last of its chunks is stored. refs counts
 * the reader (while it reads into it) and each queued chunk. */
typedef struct Seg {
	struct Seg *next;
	uint8_t *buf;
	size_t refs;
} Seg;

struct ChunkPipe {
	Repo *repo;
	BlobWriter *bw;
	WorkPool *pool;
	size_t seg_cap;                  /* bytes per segment, >= 2 * chunk_max */
	Seg segs[SEG_COUNT];
	Seg *cur;                        /* the reader's segment, or NULL */
	size_t cur_used;                 /* its bytes already handed out */
	pthread_mutex_t mu;              /* guards fatal/ferr and the free list */
	pthread_cond_t seg_freed;
	Seg *free_segs;
	int fatal;
	StrataErr ferr;
	size_t group_max;                /* chunks a job takes: 1, or in a format 3
	                                  * repository FRAME_WRITE_MEMBERS (frames) */
};

/* A job: m consecutive chunks of one list, laid end to end from data in
 * one segment, list slots idx..idx + m. In a format 3 repository the new
 * ones among them become one frame (FORMAT.md 9a): the reader groups up
 * to FRAME_WRITE_MEMBERS chunks and FRAME_WRITE_RAW bytes. */
typedef struct ChunkJob {
	ChunkPipe *p;
	ChunkList *list;
	Seg *seg;
	const uint8_t *data;
	size_t idx;
	size_t m;
	size_t bytes;
	uint32_t lens[FRAME_WRITE_MEMBERS];
} ChunkJob;

static void seg_release(ChunkPipe *p, Seg *s)
{
	if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	pthread_mutex_lock(&p->mu);
	s->next = p->free_segs;
	p->free_segs = s;
	pthread_cond_signal(&p->seg_freed);
	pthread_mutex_unlock(&p->mu);
}

/* The reader's next segment, waiting for the workers to free one; the
 * first keep bytes are copied from src (the unchunked tail of the last). */
static Seg *seg_take(ChunkPipe *p, const uint8_t *src, size_t keep)
{
	Seg *s;

	pthread_mutex_lock(&p->mu);
	while (!p->free_segs)
		pthread_cond_wait(&p->seg_freed, &p->mu);
	s = p->free_segs;
	p->free_segs = s->next;
	pthread_mutex_unlock(&p->mu);
	s->refs = 1;
	if (keep)
		memcpy(s->buf, src, keep);
	return s;
}

int chunklist_reserve(ChunkList *l, size_t cap)
{
	void *a, *b;

	if (l->cap >= cap)
		return 0;
	a = realloc(l->ids, cap * sizeof *l->ids);
	if (a)
		l->ids = a;
	b = a ? realloc(l->lens, cap * sizeof *l->lens) : NULL;
	if (b)
		l->lens = b;
	if (!a || !b)
		return -ENOMEM;
	l->cap = cap;
	return 0;
}

int chunklist_done(const ChunkList *l)
{
	return __atomic_load_n(&l->inflight, __ATOMIC_ACQUIRE) == 0;
}

void chunklist_free(ChunkList *l)
{
	if (!l)
		return;
	free(l->ids);
	free(l->lens);
	free(l->known);
	memset(l, 0, sizeof *l);
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, STRATA_ID_LEN);
}

void chunklist_set_known(ChunkList *l, uint8_t (*ids)[STRATA_ID_LEN], size_t n)
{
	free(l->known);
	if (ids && n)
		qsort(ids, n, STRATA_ID_LEN, id_cmp);
	l->known = ids;
	l->nknown = ids ? n : 0;
}

static int chunklist_knows(const ChunkList *l, const uint8_t id[STRATA_ID_LEN])
{
	return l->nknown && bsearch(id, l->known, l->nknown, STRATA_ID_LEN, id_cmp) != NULL;
}

ssize_t chunkpipe_read_fd(void *src, uint8_t *buf, size_t len)
{
	for (;;) {
		ssize_t r = read(*(int *)src, buf, len);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return -errno;
	}
}

static void *make_codec(void) { return codec_ctx_new(); }
static void free_codec(void *p) { codec_ctx_free(p); }

static void chunk_job(void *arg, void *state)
{
	ChunkJob *j = arg;
	ChunkPipe *p = j->p;
	StrataErr err = {0};
	int rc;

	if (!state) {
		rc = strata_err_set(&err, -ENOMEM, "out of memory");
	} else if (j->m == 1) {
		codec_chunk_id(p->repo->keys, j->data, j->lens[0], j->list->ids[j->idx]);
		j->list->lens[j->idx] = j->lens[0];
		rc = chunklist_knows(j->list, j->list->ids[j->idx])
			? 0 : blobwriter_put(p->bw, state, BLOB_DATA, j->list->ids[j->idx], j->data, j->lens[0],
			                     NULL, &err);
	} else {
		uint8_t ids[FRAME_WRITE_MEMBERS][STRATA_ID_LEN];
		const uint8_t *data[FRAME_WRITE_MEMBERS], *at = j->data;
		uint32_t lens[FRAME_WRITE_MEMBERS];
		size_t n = 0;

		for (size_t k = 0; k < j->m; k++) {
			uint8_t *id = j->list->ids[j->idx + k];
			codec_chunk_id(p->repo->keys, at, j->lens[k], id);
			j->list->lens[j->idx + k] = j->lens[k];
			if (!chunklist_knows(j->list, id)) {
				memcpy(ids[n], id, STRATA_ID_LEN);
				data[n] = at;
				lens[n++] = j->lens[k];
			}
			at += j->lens[k];
		}
		rc = n ? blobwriter_put_frame(p->bw, state, (const uint8_t (*)[STRATA_ID_LEN])ids, data, lens, n, &err) : 0;
	}
	if (rc) {
		pthread_mutex_lock(&p->mu);
		if (!p->fatal) {
			p->fatal = rc;
			p->ferr = err;
		}
		pthread_mutex_unlock(&p->mu);
	}
	seg_release(p, j->seg);
	/* The last touch of the list: once it reads 0 its owner may free it. */
	__atomic_sub_fetch(&j->list->inflight, j->m, __ATOMIC_RELEASE);
	free(j);
}

int chunkpipe_new(Repo *repo, BlobWriter *bw, int threads, ChunkPipe **out, StrataErr *err)
{
	ChunkPipe *p = calloc(1, sizeof *p);
	int ok = 1;

	if (!p)
		return strata_err_set(err, -ENOMEM, "out of memory");
	p->repo = repo;
	p->bw = bw;
	p->group_max = repo_format_version(repo) >= 3 ? FRAME_WRITE_MEMBERS : 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->seg_freed, NULL);
	/* Room to keep max_len bytes ahead of the cut position while reading
	 * in large, efficient reads. Segments are on huge pages (hugebuf.h):
	 * filled once per run, on a VM where each 4 KiB first touch traps to
	 * the host that is 4,096 faults per segment. */
	size_t seg_len = 2u * repo->chunk_max > SEG_MIN ? 2u * repo->chunk_max : SEG_MIN;
	for (int i = 0; i < SEG_COUNT; i++) {
		uint8_t *b = hugebuf_alloc(seg_len, &p->seg_cap);
		if (!b) {
			ok = 0;
			break;
		}
		p->segs[i].buf = b;
		p->segs[i].next = p->free_segs;
		p->free_segs = &p->segs[i];
	}
	p->pool = workpool_new(threads > 0 ? threads : workpool_default_threads(), INFLIGHT_BYTES,
	                       make_codec, free_codec);
	if (!ok || !p->pool) {
		chunkpipe_free(p);
		return strata_err_set(err, -ENOMEM, "cannot start the chunking workers");
	}
	*out = p;
	return 0;
}

int chunkpipe_failed(ChunkPipe *p)
{
	int f;

	pthread_mutex_lock(&p->mu);
	f = p->fatal;
	pthread_mutex_unlock(&p->mu);
	return f;
}

int chunkpipe_wait(ChunkPipe *p, StrataErr *err)
{
	int rc;

	workpool_wait(p->pool);
	pthread_mutex_lock(&p->mu);
	rc = p->fatal;
	if (rc && err)
		*err = p->ferr;
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* Hand the reader's group of chunks (*g, may be NULL) to the workers. */
static int group_submit(ChunkPipe *p, ChunkJob **g)
{
	ChunkJob *j = *g;
	int rc;

	if (!j)
		return 0;
	*g = NULL;
	rc = workpool_submit(p->pool, chunk_job, j, j->bytes);
	if (rc) {
		__atomic_sub_fetch(&j->list->inflight, j->m, __ATOMIC_RELAXED);
		seg_release(p, j->seg);
		free(j);
	}
	return rc;
}

int chunkpipe_stream(ChunkPipe *p, ChunkReadFn rd, void *src, ChunkList *list,
                     ChunkTickFn tick, void *tick_ctx, uint64_t *out_size, StrataErr *err)
{
	const Repo *repo = p->repo;
	ChunkJob *g = NULL;              /* chunks read, not yet handed to a worker */
	uint64_t total = 0;
	int eof = 0, rc;

	/* This stream starts where the last one ended in the reader's
	 * segment, so that small files share one. */
	if (!p->cur || p->seg_cap - p->cur_used < repo->chunk_max) {
		if (p->cur)
			seg_release(p, p->cur);
		p->cur = seg_take(p, NULL, 0);
		p->cur_used = 0;
	}
	size_t have = p->cur_used, pos = p->cur_used;
	for (;;) {
		/* Refill: keep at least max_len bytes ahead of pos unless at
		 * eof; a full segment passes its tail on to the next one. */
		while (!eof && have - pos < repo->chunk_max) {
			if (have == p->seg_cap) {
				/* A group's chunks lie end to end in one segment. */
				if ((rc = group_submit(p, &g))) {
					p->cur_used = have;
					return strata_err_set(err, rc, "out of memory");
				}
				Seg *next = seg_take(p, p->cur->buf + pos, have - pos);
				seg_release(p, p->cur);
				p->cur = next;
				have -= pos;
				pos = 0;
			}
			ssize_t r = rd(src, p->cur->buf + have, p->seg_cap - have);
			if (r < 0) {
				/* The source's fault, not the repository's: 1 tells
				 * the caller to skip this input and go on. The chunks
				 * already cut fill their slots. */
				p->cur_used = have;
				rc = group_submit(p, &g);
				strata_err_set(err, rc ? rc : (int)r, "read failed: %s", strerror((int)-r));
				return rc ? rc : 1;
			}
			if (r == 0)
				eof = 1;
			have += (size_t)r;
			if (tick && r)
				tick(tick_ctx, (uint64_t)r);
		}
		size_t cut = list->run_len && list->run_len <= repo->chunk_max
			? pagerun_cut(list->run_len, have - pos, eof)
			: fastcdc_cut(&repo->cdc, p->cur->buf + pos, have - pos, eof);
		if (cut == 0) {
			if (eof)
				break;
			continue;
		}
		if (g && (g->m == p->group_max || g->bytes + cut > FRAME_WRITE_RAW) && (rc = group_submit(p, &g))) {
			p->cur_used = have;
			return strata_err_set(err, rc, "out of memory");
		}
		if (list->n == list->cap) {
			/* Workers write into the arrays: let them finish first.
			 * Only this list's chunks matter: a new list (a file's
			 * first chunk) has none in flight and waits for nothing.
			 * The reader's group is not handed out yet: its slots
			 * are written after the move. */
			if (!chunklist_done(list))
				workpool_wait(p->pool);
			if (chunklist_reserve(list, list->cap ? 2 * list->cap : 16) != 0) {
				p->cur_used = have;
				(void)group_submit(p, &g);
				return strata_err_set(err, -ENOMEM, "out of memory");
			}
		}
		if (!g) {
			g = malloc(sizeof *g);
			if (!g) {
				p->cur_used = have;
				return strata_err_set(err, -ENOMEM, "out of memory");
			}
			g->p = p;
			g->list = list;
			g->seg = p->cur;
			g->data = p->cur->buf + pos;
			g->idx = list->n;
			g->m = 0;
			g->bytes = 0;
			__atomic_add_fetch(&p->cur->refs, 1, __ATOMIC_RELAXED);
		}
		g->lens[g->m++] = (uint32_t)cut;
		g->bytes += cut;
		list->n++;
		pos += cut;
		total += cut;
		__atomic_add_fetch(&list->inflight, 1, __ATOMIC_RELAXED);
		if (g->m == p->group_max && (rc = group_submit(p, &g))) {
			p->cur_used = have;
			return strata_err_set(err, rc, "out of memory");
		}
		if (chunkpipe_failed(p)) {
			p->cur_used = have;
			(void)group_submit(p, &g);
			return chunkpipe_wait(p, err);
		}
	}
	p->cur_used = have;
	if ((rc = group_submit(p, &g)))   /* a group never spans two streams */
		return strata_err_set(err, rc, "out of memory");
	*out_size = total;
	return 0;
}

void chunkpipe_free(ChunkPipe *p)
{
	if (!p)
		return;
	workpool_free(p->pool);   /* waits: no job holds a segment after this */
	for (int i = 0; i < SEG_COUNT; i++)
		free(p->segs[i].buf);
	pthread_cond_destroy(&p->seg_freed);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
