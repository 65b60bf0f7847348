/* chunkpipe.c — see chunkpipe.h. */
#include "store/chunkpipe.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/repo_internal.h"
#include "store/workpool.h"

#define READ_BUF_MIN   (8u << 20)
#define INFLIGHT_BYTES (16u << 20)   /* chunk bytes queued or being sealed: ~500
                                       * chunks, far more than the workers drain
                                       * between two submissions; 32 MiB was no
                                       * faster and 16 MiB more resident */

struct ChunkPipe {
	Repo *repo;
	BlobWriter *bw;
	WorkPool *pool;
	uint8_t *rbuf;
	size_t rbuf_cap;
	pthread_mutex_t mu;              /* guards fatal/ferr */
	int fatal;
	StrataErr ferr;
};

typedef struct ChunkJob {
	ChunkPipe *p;
	ChunkList *list;
	size_t idx;
	size_t len;
	uint8_t data[];
} ChunkJob;

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
	memset(l, 0, sizeof *l);
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
	} else {
		codec_chunk_id(p->repo->keys, j->data, j->len, j->list->ids[j->idx]);
		j->list->lens[j->idx] = (uint32_t)j->len;
		rc = blobwriter_put(p->bw, state, BLOB_DATA, j->list->ids[j->idx], j->data, j->len, NULL, &err);
	}
	if (rc) {
		pthread_mutex_lock(&p->mu);
		if (!p->fatal) {
			p->fatal = rc;
			p->ferr = err;
		}
		pthread_mutex_unlock(&p->mu);
	}
	/* The last touch of the list: once it reads 0 its owner may free it. */
	__atomic_sub_fetch(&j->list->inflight, 1, __ATOMIC_RELEASE);
	free(j);
}

int chunkpipe_new(Repo *repo, BlobWriter *bw, int threads, ChunkPipe **out, StrataErr *err)
{
	ChunkPipe *p = calloc(1, sizeof *p);

	if (!p)
		return strata_err_set(err, -ENOMEM, "out of memory");
	p->repo = repo;
	p->bw = bw;
	pthread_mutex_init(&p->mu, NULL);
	/* Room to keep max_len bytes ahead of the cut position while reading
	 * in large, efficient reads. */
	p->rbuf_cap = 2u * repo->chunk_max > READ_BUF_MIN ? 2u * repo->chunk_max : READ_BUF_MIN;
	p->rbuf = malloc(p->rbuf_cap);
	p->pool = workpool_new(threads > 0 ? threads : workpool_default_threads(), INFLIGHT_BYTES,
	                       make_codec, free_codec);
	if (!p->rbuf || !p->pool) {
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

int chunkpipe_stream(ChunkPipe *p, ChunkReadFn rd, void *src, ChunkList *list,
                     ChunkTickFn tick, void *tick_ctx, uint64_t *out_size, StrataErr *err)
{
	const Repo *repo = p->repo;
	size_t have = 0, pos = 0;
	uint64_t total = 0;
	int eof = 0, rc;

	for (;;) {
		/* Refill: keep at least max_len bytes ahead of pos unless at eof. */
		if (!eof && have - pos < repo->chunk_max) {
			memmove(p->rbuf, p->rbuf + pos, have - pos);
			have -= pos;
			pos = 0;
			while (!eof && have < p->rbuf_cap) {
				ssize_t r = rd(src, p->rbuf + have, p->rbuf_cap - have);
				if (r < 0) {
					/* The source's fault, not the repository's: 1 tells
					 * the caller to skip this input and go on. */
					strata_err_set(err, (int)r, "read failed: %s", strerror((int)-r));
					return 1;
				}
				if (r == 0)
					eof = 1;
				have += (size_t)r;
				if (tick && r)
					tick(tick_ctx, (uint64_t)r);
			}
		}
		size_t cut = fastcdc_cut(&repo->cdc, p->rbuf + pos, have - pos, eof);
		if (cut == 0) {
			if (eof)
				break;
			continue;
		}
		if (list->n == list->cap) {
			/* Workers write into the arrays: let them finish first.
			 * Only this list's chunks matter: a new list (a file's
			 * first chunk) has none in flight and waits for nothing. */
			if (!chunklist_done(list))
				workpool_wait(p->pool);
			if (chunklist_reserve(list, list->cap ? 2 * list->cap : 16) != 0)
				return strata_err_set(err, -ENOMEM, "out of memory");
		}
		ChunkJob *j = malloc(sizeof *j + cut);
		if (!j)
			return strata_err_set(err, -ENOMEM, "out of memory");
		j->p = p;
		j->list = list;
		j->idx = list->n++;
		j->len = cut;
		memcpy(j->data, p->rbuf + pos, cut);
		pos += cut;
		total += cut;
		__atomic_add_fetch(&list->inflight, 1, __ATOMIC_RELAXED);
		rc = workpool_submit(p->pool, chunk_job, j, cut);
		if (rc) {
			__atomic_sub_fetch(&list->inflight, 1, __ATOMIC_RELAXED);
			free(j);
			return strata_err_set(err, rc, "out of memory");
		}
		if (chunkpipe_failed(p))
			return chunkpipe_wait(p, err);
	}
	*out_size = total;
	return 0;
}

void chunkpipe_free(ChunkPipe *p)
{
	if (!p)
		return;
	workpool_free(p->pool);
	free(p->rbuf);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
