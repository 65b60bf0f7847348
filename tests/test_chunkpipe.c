/* test_chunkpipe.c — unit tests for store/chunkpipe.c: chunks are hashed
 * and sealed in place in a few shared read segments, so every test checks
 * what would go wrong if a segment were reused too early or a stream's
 * tail were lost at a segment's end: each stream's chunk list must equal
 * FastCDC's cuts and keyed IDs computed directly on the same bytes, and
 * every stored chunk must read back bit-exact. Streams: thousands of small
 * ones that share and wrap the segments, large ones read in odd-sized
 * pieces, and one whose read fails half-way (the next stream is still
 * right).
 *
 * Test data comes from a local splitmix64 so every run sees the same bytes.
 */
#include "store/blob.h"
#include "store/check/check.h"
#include "store/pack.h"
#include "store/chunkpipe.h"
#include "store/frame.h"
#include "store/codec.h"
#include "store/repo.h"
#include "store/repo_internal.h"
#include "tests/check.h"
#include "tests/test_repo.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char tmp[256];
static Repo *repo;
static CodecCtx *cctx;

/* splitmix64 (Steele, Lea, Flood 2014). */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Bytes with some repetition, so that zstd has work and chunks repeat. */
static uint8_t *make_data(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len ? len : 1);
	size_t i = 0;

	while (p && i < len) {
		uint64_t v = rng_next(&seed);
		size_t n = len - i < 512 ? len - i : 512;

		if ((v & 7) == 0 && i >= 4096) {
			memcpy(p + i, p + i - 4096, n);   /* a repeat 4 KiB back */
			i += n;
			continue;
		}
		for (size_t b = 0; b < 8 && i < len; b++, i++)
			p[i] = (uint8_t)(v >> (8 * b));
	}
	return p;
}

/* A stream from memory, in reads of at most step bytes; fail_at: a read
 * that would go past it fails with -EIO (SIZE_MAX: never). */
typedef struct MemSrc {
	const uint8_t *p;
	size_t len, off, step, fail_at;
} MemSrc;

static ssize_t mem_read(void *src, uint8_t *buf, size_t len)
{
	MemSrc *m = src;
	size_t n = m->len - m->off;

	if (n > len)
		n = len;
	if (n > m->step)
		n = m->step;
	if (m->off + n > m->fail_at)
		return -EIO;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

/* list must hold exactly FastCDC's chunks of data[0..len) with their keyed
 * IDs. Returns the number of mismatches (reported). */
static int check_list(const ChunkList *l, const uint8_t *data, size_t len, const char *what)
{
	size_t pos = 0, i = 0;
	int bad = 0;

	for (; pos < len; i++) {
		size_t cut = fastcdc_cut(&repo->cdc, data + pos, len - pos, 1);
		uint8_t id[STRATA_ID_LEN];

		codec_chunk_id(repo->keys, data + pos, cut, id);
		if (i >= l->n || l->lens[i] != cut || memcmp(l->ids[i], id, STRATA_ID_LEN) != 0) {
			if (!bad)
				printf("  %s: chunk %zu (offset %zu, %zu bytes) differs\n", what, i, pos, cut);
			bad++;
		}
		pos += cut;
	}
	if (i != l->n) {
		printf("  %s: %zu chunks listed, %zu expected\n", what, l->n, i);
		bad++;
	}
	return bad;
}

/* Every chunk of list reads back from the repository as data's bytes. */
static int check_stored(const ChunkList *l, const uint8_t *data)
{
	size_t pos = 0;
	int bad = 0;

	for (size_t i = 0; i < l->n; i++) {
		StrataErr err = {0};
		uint8_t *out = NULL;
		size_t out_len = 0;
		int rc = blob_read(repo, cctx, BLOB_DATA, l->ids[i], &out, &out_len, &err);

		if (rc || out_len != l->lens[i] || memcmp(out, data + pos, out_len) != 0) {
			if (!bad)
				printf("  chunk %zu at offset %zu: %s\n", i, pos, rc ? err.msg : "wrong bytes");
			bad++;
		}
		free(out);
		pos += l->lens[i];
	}
	return bad;
}

static void test_setup(void)
{
	snprintf(tmp, sizeof tmp, "%s/test_chunkpipe.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	REQUIRE(mkdtemp(tmp));
	REQUIRE(test_repo_create(tmp, &repo) == 0);
	cctx = codec_ctx_new();
	REQUIRE(cctx != NULL);
}

#define N_SMALL 4000

/* 4,000 streams of 0..20,000 bytes (about 40 MB: the pipe's read segments
 * are refilled several times over), then two of 12 MB read in 7,777- and
 * 1 MiB-byte pieces, one of which fails at 5 MB; then a small stream. */
static void test_streams(void)
{
	StrataErr err = {0};
	BlobWriter *bw = NULL;
	ChunkPipe *pipe = NULL;
	static ChunkList lists[N_SMALL + 4];
	static uint8_t *datas[N_SMALL + 4];
	static size_t lens[N_SMALL + 4];
	uint64_t seed = 42, size = 0;
	int bad = 0, rc;

	REQUIRE(blobwriter_new(repo, 0, &bw, &err) == 0);
	REQUIRE(chunkpipe_new(repo, bw, 2, &pipe, &err) == 0);
	for (size_t i = 0; i < N_SMALL; i++) {
		MemSrc m = {0};
		lens[i] = (size_t)(rng_next(&seed) % 20001);
		datas[i] = make_data(lens[i], 1000 + i);
		REQUIRE(datas[i]);
		m.p = datas[i];
		m.len = lens[i];
		m.step = 1 + (size_t)(rng_next(&seed) % 9000);
		m.fail_at = SIZE_MAX;
		rc = chunkpipe_stream(pipe, mem_read, &m, &lists[i], NULL, NULL, &size, &err);
		CHECK_EQ_INT(rc, 0);
		CHECK_EQ_INT((long long)size, (long long)lens[i]);
	}
	for (size_t k = 0; k < 3; k++) {
		size_t i = N_SMALL + k;
		MemSrc m = {0};
		lens[i] = k == 2 ? 3000 : (size_t)12 << 20;
		datas[i] = make_data(lens[i], 7 + k);
		REQUIRE(datas[i]);
		m.p = datas[i];
		m.len = lens[i];
		m.step = k == 0 ? 7777 : (size_t)1 << 20;
		m.fail_at = k == 1 ? (size_t)5 << 20 : SIZE_MAX;
		rc = chunkpipe_stream(pipe, mem_read, &m, &lists[i], NULL, NULL, &size, &err);
		if (k == 1) {
			/* The source failed: 1, its -errno, and a prefix of its chunks. */
			CHECK_EQ_INT(rc, 1);
			CHECK_EQ_INT(err.code, -EIO);
			memset(&err, 0, sizeof err);
		} else {
			CHECK_EQ_INT(rc, 0);
			CHECK_EQ_INT((long long)size, (long long)lens[i]);
		}
	}
	REQUIRE(chunkpipe_wait(pipe, &err) == 0);
	for (size_t i = 0; i < N_SMALL + 3; i++) {
		char what[64];
		if (i == N_SMALL + 1)
			continue;
		snprintf(what, sizeof what, "stream %zu (%zu bytes)", i, lens[i]);
		bad += check_list(&lists[i], datas[i], lens[i], what);
	}
	/* The failed stream's chunks are a prefix of its cuts, under 5 MB. */
	{
		ChunkList *l = &lists[N_SMALL + 1];
		uint64_t sum = 0;
		size_t pos = 0;
		for (size_t c = 0; c < l->n; c++) {
			size_t cut = fastcdc_cut(&repo->cdc, datas[N_SMALL + 1] + pos, lens[N_SMALL + 1] - pos, 1);
			CHECK_EQ_INT(l->lens[c], (long long)cut);
			pos += cut;
			sum += l->lens[c];
		}
		CHECK(sum <= (uint64_t)5 << 20);
		CHECK(l->n > 0);
	}
	CHECK_EQ_INT(bad, 0);
	chunkpipe_free(pipe);
	REQUIRE(blobwriter_finish(bw, &err) == 0);
	blobwriter_free(bw);
	bad = 0;
	for (size_t i = 0; i < N_SMALL + 3; i++)
		bad += check_stored(&lists[i], datas[i]);
	CHECK_EQ_INT(bad, 0);
	for (size_t i = 0; i < N_SMALL + 3; i++) {
		chunklist_free(&lists[i]);
		free(datas[i]);
	}
}

/* A stream whose list knows some of its chunk IDs (the files cache's old
 * version of a re-read file): its list is still exactly FastCDC's chunks
 * with their IDs, the chunks it did not know are stored, and the known
 * ones are neither looked up nor stored (here they were never stored at
 * all, so reading them back fails: the pipe took the list's word). */
static void test_known_chunks_skip_the_index(void)
{
	StrataErr err = {0};
	BlobWriter *bw = NULL;
	ChunkPipe *pipe = NULL;
	ChunkList l = {0};
	MemSrc m = {0};
	size_t len = (size_t)3 << 20, pos = 0, nchunks = 0, nknown = 0, nknown_at = 0, stored = 0, absent = 0;
	uint8_t *data = make_data(len, 99);
	uint8_t (*known)[STRATA_ID_LEN] = calloc(len / 1024, STRATA_ID_LEN);
	uint64_t size = 0;

	REQUIRE(data && known);
	/* Every other chunk, listed in reverse so that the list must sort. */
	while (pos < len) {
		size_t cut = fastcdc_cut(&repo->cdc, data + pos, len - pos, 1);
		if (nchunks % 2 == 0)
			codec_chunk_id(repo->keys, data + pos, cut, known[nknown++]);
		pos += cut;
		nchunks++;
	}
	REQUIRE(nchunks >= 8);
	for (size_t i = 0; i < nknown / 2; i++) {
		uint8_t t[STRATA_ID_LEN];
		memcpy(t, known[i], STRATA_ID_LEN);
		memcpy(known[i], known[nknown - 1 - i], STRATA_ID_LEN);
		memcpy(known[nknown - 1 - i], t, STRATA_ID_LEN);
	}
	chunklist_set_known(&l, known, nknown);
	REQUIRE(blobwriter_new(repo, 0, &bw, &err) == 0);
	REQUIRE(chunkpipe_new(repo, bw, 2, &pipe, &err) == 0);
	m.p = data;
	m.len = len;
	m.step = 65537;
	m.fail_at = SIZE_MAX;
	CHECK_EQ_INT(chunkpipe_stream(pipe, mem_read, &m, &l, NULL, NULL, &size, &err), 0);
	REQUIRE(chunkpipe_wait(pipe, &err) == 0);
	chunkpipe_free(pipe);
	REQUIRE(blobwriter_finish(bw, &err) == 0);
	blobwriter_free(bw);
	CHECK_EQ_INT((long long)size, (long long)len);
	CHECK_EQ_INT(check_list(&l, data, len, "stream with known chunks"), 0);
	/* By ID, not by position: the data repeats 4 KiB runs, and with some
	 * chunker keys (random per repository) an odd chunk has the same
	 * bytes as a known even one, so it is known too (1 of ~500 runs). */
	pos = 0;
	for (size_t i = 0; i < l.n; i++) {
		StrataErr rerr = {0};
		uint8_t *out = NULL;
		size_t out_len = 0, k;
		int rc = blob_read(repo, cctx, BLOB_DATA, l.ids[i], &out, &out_len, &rerr);
		for (k = 0; k < l.nknown && memcmp(l.known[k], l.ids[i], STRATA_ID_LEN) != 0; k++)
			;
		if (k < l.nknown) {
			absent += rc != 0;
			nknown_at++;
		} else if (rc == 0 && out_len == l.lens[i] && memcmp(out, data + pos, out_len) == 0) {
			stored++;
		}
		free(out);
		pos += l.lens[i];
	}
	CHECK(nknown_at >= nknown);   /* every even chunk, and its repeats */
	CHECK_EQ_INT((long long)absent, (long long)nknown_at);
	CHECK_EQ_INT((long long)stored, (long long)(nchunks - nknown_at));
	chunklist_free(&l);
	CHECK(l.known == NULL && l.nknown == 0);
	free(data);
}

/* A PostgreSQL relation file (run_len = 2 pages, FORMAT.md §13a): 96
 * pages of page-like data, then pages 5, 40 and 41 updated in place as a
 * server would (a few bytes of each page rewritten). Both versions are
 * cut in 16 KiB runs from the file's start, whatever the read sizes, and
 * the second differs from the first in exactly the chunks holding the
 * updated pages (2, 20). Every chunk reads back bit-exact. */
static void test_page_runs(void)
{
	StrataErr err = {0};
	BlobWriter *bw = NULL;
	ChunkPipe *pipe = NULL;
	ChunkList a = {0}, b = {0};
	const size_t page = 8192, run = 2 * page, npages = 96, len = npages * page;
	const size_t upd[] = { 5, 40, 41 };
	uint8_t *v1 = make_data(len, 2024), *v2 = malloc(len);
	uint64_t size = 0, seed = 5;
	size_t differ = 0;

	REQUIRE(v1 && v2);
	memcpy(v2, v1, len);
	for (size_t k = 0; k < sizeof upd / sizeof upd[0]; k++)
		for (size_t j = 0; j < 24; j++)      /* header, line pointer and tuple bytes */
			v2[upd[k] * page + (j < 12 ? j : page - 100 + j)] ^= (uint8_t)(1 + rng_next(&seed) % 255);
	REQUIRE(blobwriter_new(repo, 0, &bw, &err) == 0);
	REQUIRE(chunkpipe_new(repo, bw, 2, &pipe, &err) == 0);
	a.run_len = b.run_len = (uint32_t)run;
	{
		MemSrc m = { v1, len, 0, 5000, SIZE_MAX };
		CHECK_EQ_INT(chunkpipe_stream(pipe, mem_read, &m, &a, NULL, NULL, &size, &err), 0);
		CHECK_EQ_INT((long long)size, (long long)len);
	}
	{
		MemSrc m = { v2, len, 0, 1 << 20, SIZE_MAX };
		CHECK_EQ_INT(chunkpipe_stream(pipe, mem_read, &m, &b, NULL, NULL, &size, &err), 0);
	}
	REQUIRE(chunkpipe_wait(pipe, &err) == 0);
	REQUIRE(a.n == len / run && b.n == len / run);
	for (size_t i = 0; i < a.n; i++) {
		uint8_t id[STRATA_ID_LEN];
		CHECK_EQ_INT(a.lens[i], (long long)run);
		CHECK_EQ_INT(b.lens[i], (long long)run);
		codec_chunk_id(repo->keys, v1 + i * run, run, id);
		CHECK(memcmp(a.ids[i], id, STRATA_ID_LEN) == 0);
		if (memcmp(a.ids[i], b.ids[i], STRATA_ID_LEN) != 0) {
			CHECK(i == 2 || i == 20);
			differ++;
		}
	}
	CHECK_EQ_INT(differ, 2);
	chunkpipe_free(pipe);
	REQUIRE(blobwriter_finish(bw, &err) == 0);
	blobwriter_free(bw);
	CHECK_EQ_INT(check_stored(&a, v1), 0);
	CHECK_EQ_INT(check_stored(&b, v2), 0);
	chunklist_free(&a);
	chunklist_free(&b);
	free(v1);
	free(v2);
}

/* Pack sizes of one writer session, by listing data packs. */
typedef struct PackSizes {
	uint64_t sizes[64];
	size_t n;
} PackSizes;

static int note_pack(const uint8_t id[STRATA_ID_LEN], uint8_t kind, uint64_t size, void *ctx)
{
	PackSizes *ps = ctx;

	if (kind == PACK_KIND_DATA && ps->n < 64)
		ps->sizes[ps->n++] = size;
	return 0;
}

/* Data packs of every pack in the repository not in before (same order
 * of listing is not assumed: sizes are matched as a multiset). */
static void new_pack_sizes(const PackSizes *before, PackSizes *out)
{
	PackSizes all = {0};
	StrataErr err = {0};
	int used[64] = {0};

	out->n = 0;
	if (check_list_packs(repo, note_pack, &all, &err) != 0)
		return;
	for (size_t i = 0; i < all.n; i++) {
		size_t k;
		for (k = 0; k < before->n; k++)
			if (!used[k] && before->sizes[k] == all.sizes[i])
				break;
		if (k < before->n)
			used[k] = 1;
		else
			out->sizes[out->n++] = all.sizes[i];
	}
}

/* One writer session storing total bytes of incompressible data. */
static int store_random(size_t total, uint64_t seed, ChunkList *l, uint8_t **out_data, StrataErr *err)
{
	BlobWriter *bw = NULL;
	ChunkPipe *pipe = NULL;
	uint64_t size = 0;
	uint8_t *d = malloc(total);
	int rc;

	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < total; i += 8) {
		uint64_t v = rng_next(&seed);
		memcpy(d + i, &v, total - i < 8 ? total - i : 8);
	}
	*out_data = d;
	if ((rc = blobwriter_new(repo, 0, &bw, err)) != 0)
		return rc;
	if ((rc = chunkpipe_new(repo, bw, 2, &pipe, err)) == 0) {
		MemSrc m = { d, total, 0, 65536, SIZE_MAX };
		rc = chunkpipe_stream(pipe, mem_read, &m, l, NULL, NULL, &size, err);
		if (rc == 0)
			rc = chunkpipe_wait(pipe, err);
		chunkpipe_free(pipe);
	}
	if (rc == 0)
		rc = blobwriter_finish(bw, err);
	blobwriter_free(bw);
	return rc;
}

/* A backend with a minimum billable object size (STANDARD_IA: 128 KiB;
 * here 64 KiB with 256 KiB packs, the same rule at a test's scale): a
 * session of two packs and 40 KiB (a tail of 8..40 KiB once the two have
 * passed 256 KiB by at most a chunk each) writes two packs, the second
 * holding the tail, none below the minimum; a session smaller than the
 * minimum writes one pack of its size; without a minimum the same amount
 * makes three packs. Every chunk reads back bit-exact. Whatever the
 * repository's chunker key and the workers' timing: a session whose last
 * pack was written alone below the minimum (a worker queued the pack held
 * before it, about 1 run in 20 on a loaded machine) was a race in the
 * writer, test_hold_decided_after_wait. */
static void test_pack_minimum(void)
{
	const uint32_t saved_size = repo->pack_size, saved_min = repo->be->min_data_object;
	const size_t min = 64u << 10, psize = 256u << 10;
	PackSizes before = {0}, got = {0};
	StrataErr err = {0};
	ChunkList l1 = {0}, l2 = {0}, l3 = {0};
	uint8_t *d1 = NULL, *d2 = NULL, *d3 = NULL;
	uint64_t sum = 0;

	repo->pack_size = (uint32_t)psize;
	repo->be->min_data_object = (uint32_t)min;
	REQUIRE(check_list_packs(repo, note_pack, &before, &err) == 0);
	REQUIRE(store_random(psize * 2 + (40u << 10), 71, &l1, &d1, &err) == 0);
	new_pack_sizes(&before, &got);
	CHECK_EQ_INT(got.n, 2);
	for (size_t i = 0; i < got.n; i++) {
		CHECK(got.sizes[i] >= min);
		sum += got.sizes[i];
	}
	CHECK(sum > psize * 2 + (40u << 10));     /* everything, sealed */

	before.n = 0;
	REQUIRE(check_list_packs(repo, note_pack, &before, &err) == 0);
	REQUIRE(store_random(min / 2, 72, &l2, &d2, &err) == 0);
	new_pack_sizes(&before, &got);
	CHECK_EQ_INT(got.n, 1);
	CHECK(got.n == 1 && got.sizes[0] < min);

	repo->be->min_data_object = 0;
	before.n = 0;
	REQUIRE(check_list_packs(repo, note_pack, &before, &err) == 0);
	REQUIRE(store_random(psize * 2 + (40u << 10), 73, &l3, &d3, &err) == 0);
	new_pack_sizes(&before, &got);
	CHECK_EQ_INT(got.n, 3);

	CHECK_EQ_INT(check_stored(&l1, d1), 0);
	CHECK_EQ_INT(check_stored(&l2, d2), 0);
	CHECK_EQ_INT(check_stored(&l3, d3), 0);
	repo->pack_size = saved_size;
	repo->be->min_data_object = saved_min;
	chunklist_free(&l1);
	chunklist_free(&l2);
	chunklist_free(&l3);
	free(d1);
	free(d2);
	free(d3);
}

/* A gate on the backend's put: the pack uploader stops in front of it
 * until the test lets a given number of puts through (-1: all). */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int permits;
	const BackendOps *ops;
	BackendOps gated;
} gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, -1, NULL, {0} };

static int gated_put(Backend *be, const char *name, const void *buf, size_t len, RemoteErr *err)
{
	pthread_mutex_lock(&gate.mu);
	while (gate.permits == 0)
		pthread_cond_wait(&gate.cv, &gate.mu);
	if (gate.permits > 0)
		gate.permits--;
	pthread_mutex_unlock(&gate.mu);
	return gate.ops->put(be, name, buf, len, err);
}

static void gate_set(int permits)
{
	pthread_mutex_lock(&gate.mu);
	gate.permits = permits;
	pthread_cond_broadcast(&gate.cv);
	pthread_mutex_unlock(&gate.mu);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

#define HOLD_BLOB 16384u   /* incompressible: sealed a little larger */

/* Blob i of a round (seed): HOLD_BLOB random bytes and their chunk ID. */
static void hold_blob(uint64_t seed, size_t i, uint8_t buf[HOLD_BLOB], uint8_t id[STRATA_ID_LEN])
{
	uint64_t state = seed * 1000 + i;

	for (size_t k = 0; k < HOLD_BLOB; k += 8) {
		uint64_t v = rng_next(&state);
		memcpy(buf + k, &v, 8);
	}
	codec_chunk_id(repo->keys, buf, HOLD_BLOB, id);
}

/* Store blobs [first, first + n) of a round. */
typedef struct HoldPuts {
	BlobWriter *bw;
	uint8_t type;
	uint64_t seed;
	size_t first, n;
	int rc;
} HoldPuts;

static void *hold_puts(void *arg)
{
	HoldPuts *h = arg;
	CodecCtx *ctx = codec_ctx_new();
	uint8_t buf[HOLD_BLOB], id[STRATA_ID_LEN];

	h->rc = ctx ? 0 : -ENOMEM;
	for (size_t i = h->first; i < h->first + h->n && h->rc == 0; i++) {
		StrataErr err = {0};
		hold_blob(h->seed, i, buf, id);
		h->rc = blobwriter_put(h->bw, ctx, h->type, id, buf, HOLD_BLOB, NULL, &err);
		if (h->rc)
			printf("  put %zu: %s\n", i, err.msg);
	}
	codec_ctx_free(ctx);
	return NULL;
}

/* The held pack's release is decided after the wait for the upload queue,
 * not before it (issue 33, blob_write.c release_held). With 64 KiB
 * minimum and 256 KiB packs, 16 blobs of 16 KiB fill a pack: pack 1 is
 * held; worker A's blob takes pack 2 past the minimum, so A queues pack 1,
 * but the queue is full (a tree pack is stuck in the gated put) and A
 * waits; worker B waits too, to put its blob. One put is let through:
 * when B gets the room first, B queues pack 1, fills pack 2 and holds it
 * while A still waits (the put of pack 1 is stuck). Then everything goes
 * through and a tail of two blobs follows. Two data packs, none below the
 * minimum, whoever got the room first; before the fix A then queued pack
 * 2, so the tail went alone, below the minimum, whenever B got it first
 * (about one round in two: ten rounds). Every blob reads back. */
static void test_hold_decided_after_wait(void)
{
	const uint32_t saved_size = repo->pack_size, saved_min = repo->be->min_data_object;
	const BackendOps *saved_ops = repo->be->ops;
	int bad = 0;

	repo->pack_size = 256u << 10;
	repo->be->min_data_object = 64u << 10;
	gate.ops = saved_ops;
	gate.gated = *saved_ops;
	gate.gated.put = gated_put;
	repo->be->ops = &gate.gated;
	for (uint64_t round = 1; round <= 10; round++) {
		PackSizes before = {0}, got = {0};
		StrataErr err = {0};
		BlobWriter *bw = NULL;
		pthread_t ta, tb;
		HoldPuts tree = { NULL, BLOB_TREE, 900 + round, 0, 16, 0 };
		HoldPuts pre = { NULL, BLOB_DATA, round, 0, 19, 0 };
		HoldPuts a = { NULL, BLOB_DATA, round, 19, 1, 0 };
		HoldPuts b = { NULL, BLOB_DATA, round, 20, 12, 0 };
		HoldPuts tail = { NULL, BLOB_DATA, round, 32, 2, 0 };

		REQUIRE(check_list_packs(repo, note_pack, &before, &err) == 0);
		REQUIRE(blobwriter_new(repo, 0, &bw, &err) == 0);
		gate_set(0);
		tree.bw = pre.bw = a.bw = b.bw = tail.bw = bw;
		hold_puts(&tree);           /* a full tree pack, stuck in the put */
		hold_puts(&pre);            /* pack 1 held, 3 blobs in pack 2 */
		REQUIRE(pthread_create(&ta, NULL, hold_puts, &a) == 0);
		sleep_ms(20);
		REQUIRE(pthread_create(&tb, NULL, hold_puts, &b) == 0);
		sleep_ms(20);
		gate_set(1);                /* the tree pack */
		sleep_ms(50);
		gate_set(-1);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		hold_puts(&tail);
		CHECK_EQ_INT(tree.rc | pre.rc | a.rc | b.rc | tail.rc, 0);
		CHECK_EQ_INT(blobwriter_finish(bw, &err), 0);
		blobwriter_free(bw);
		new_pack_sizes(&before, &got);
		if (got.n != 2) {
			printf("  round %llu: %zu data packs, 2 expected\n", (unsigned long long)round, got.n);
			bad++;
		}
		for (size_t i = 0; i < got.n; i++)
			if (got.sizes[i] < repo->be->min_data_object) {
				printf("  round %llu: a data pack of %llu bytes\n", (unsigned long long)round,
				       (unsigned long long)got.sizes[i]);
				bad++;
			}
		for (size_t i = 0; i < 34; i++) {
			/* Every data blob reads back bit-exact. */
			uint8_t want[HOLD_BLOB], id[STRATA_ID_LEN], *out = NULL;
			size_t out_len = 0;
			hold_blob(round, i, want, id);
			if (blob_read(repo, cctx, BLOB_DATA, id, &out, &out_len, &err) != 0 || out_len != HOLD_BLOB ||
			    memcmp(out, want, HOLD_BLOB) != 0)
				bad++;
			free(out);
		}
	}
	CHECK_EQ_INT(bad, 0);
	repo->be->ops = saved_ops;
	repo->pack_size = saved_size;
	repo->be->min_data_object = saved_min;
}

typedef struct NameCheck {
	int packs, bad;
} NameCheck;

static int check_pack_name(const uint8_t id[STRATA_ID_LEN], uint8_t kind, uint64_t size, void *ctx)
{
	NameCheck *nc = ctx;
	char hex[STRATA_ID_HEX_LEN + 1], path[800];
	uint8_t sum[STRATA_ID_LEN], *buf = malloc(size ? size : 1);
	FILE *f;

	codec_hex(id, STRATA_ID_LEN, hex);
	snprintf(path, sizeof path, "%s/repo/%s/%.2s/%s", tmp, kind == PACK_KIND_DATA ? "data" : "tree", hex, hex);
	f = fopen(path, "rb");
	if (!buf || !f || fread(buf, 1, size, f) != size) {
		printf("  cannot read %s\n", path);
		nc->bad++;
	} else {
		/* A new repository is format 2: packs are named by SHA-256. */
		if (codec_name_hash(CODEC_NAME_SHA256, buf, size, sum) != 0 || repo_format_version(repo) != 2 ||
		    memcmp(sum, id, STRATA_ID_LEN) != 0) {
			printf("  pack %s does not hash to its name\n", hex);
			nc->bad++;
		}
	}
	if (f)
		fclose(f);
	free(buf);
	nc->packs++;
	return 0;
}

/* The workers hash each pack's blobs for its name outside the writer's
 * lock, one at a time and in order (blob_write.c): every pack the streams
 * above stored, several of them filled by both workers at once, is named
 * by the BLAKE2b-256 of its bytes. */
static void test_pack_names(void)
{
	NameCheck nc = {0, 0};
	StrataErr err = {0};

	REQUIRE(check_list_packs(repo, check_pack_name, &nc, &err) == 0);
	CHECK(nc.packs >= 4);
	CHECK_EQ_INT(nc.bad, 0);
}

/* Is the i-th chunk of l a repeat of an earlier one of l? */
static int repeated(const ChunkList *l, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (memcmp(l->ids[k], l->ids[i], STRATA_ID_LEN) == 0)
			return 1;
	return 0;
}

/* Does l hold chunk id? */
static int in_list(const ChunkList *l, const uint8_t id[STRATA_ID_LEN])
{
	for (size_t k = 0; k < l->n; k++)
		if (memcmp(l->ids[k], id, STRATA_ID_LEN) == 0)
			return 1;
	return 0;
}

/* Distinct chunk IDs of l. */
static size_t distinct(const ChunkList *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += !repeated(l, i);
	return n;
}

/* Frames (format 3, FORMAT.md 9a): walk one stream's chunk list and
 * count how its chunks are stored. Every chunk is indexed as a data blob;
 * the members of one frame are consecutive new chunks of this stream in
 * stream order (increasing RAW_OFFSET), at most FRAME_WRITE_MEMBERS and
 * FRAME_WRITE_RAW bytes of them, starting right after the HEADER. A chunk
 * repeating an earlier one of the stream (the test data repeats 4 KiB
 * runs) was deduplicated: it is skipped. */
static int check_frames(Index *ix, const ChunkList *l, size_t *out_frames, size_t *out_members, const char *what)
{
	IndexEntry prev = {0}, e;
	size_t run = 0, run_bytes = 0;
	int bad = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (index_lookup(ix, BLOB_DATA, l->ids[i], &e) != 0) {
			printf("  %s: chunk %zu is not indexed\n", what, i);
			return 1;
		}
		if (repeated(l, i))
			continue;
		if (!e.frame_raw) {
			run = 0;
			continue;
		}
		if (run && memcmp(prev.pack, e.pack, STRATA_ID_LEN) == 0 && prev.offset == e.offset) {
			if (e.member_off != prev.member_off + prev.raw_len) {
				if (!bad++)
					printf("  %s: chunk %zu at raw offset %u, not after the one before\n", what, i, e.member_off);
				continue;
			}
			run++;
			run_bytes += e.raw_len;
		} else {
			/* The frame before held exactly the run just walked. */
			if (run && prev.frame_raw != FRAME_HEADER_LEN(run) + run_bytes && !bad++)
				printf("  %s: chunk %zu: the frame before has %u raw bytes, not %zu members' %zu\n", what, i,
				       prev.frame_raw, run, run_bytes);
			if (e.member_off < FRAME_HEADER_LEN(2) && !bad++)
				printf("  %s: a frame's first member at raw offset %u\n", what, e.member_off);
			run = 1;
			run_bytes = e.raw_len;
			(*out_frames)++;
		}
		(*out_members)++;
		if ((run > FRAME_WRITE_MEMBERS || run_bytes > FRAME_WRITE_RAW) && !bad++)
			printf("  %s: a frame of %zu members, %zu bytes\n", what, run, run_bytes);
		prev = e;
	}
	return bad;
}

/* In a format 3 repository the pipe stores the new chunks of a stream in
 * frames (FORMAT.md 9a): a large stream's chunks go in frames of up to 8
 * within 256 KiB, each member indexed as its own data blob; a stream
 * with one new chunk stores it as a blob; a stream whose chunks repeat
 * (zero pages) frames each distinct chunk once; a second backup of the
 * same data adds nothing (deduplication per chunk). Every chunk reads back bit-exact,
 * and the format 2 repository of the other tests holds no frame. */
static void test_frames(void)
{
	char dir[300];
	RepoParams params = { .chunk_min = 1024, .chunk_avg = 4096, .chunk_max = 16384, .format_version = 3,
	                      .kdf_opslimit = 1, .kdf_memlimit = 8 << 20 };
	StrataErr err = {0};
	Repo *r3 = NULL, *saved = repo;
	BlobWriter *bw = NULL;
	ChunkPipe *pipe = NULL;
	ChunkList big = {0}, one = {0}, zeros = {0}, again = {0};
	uint8_t *data = make_data((size_t)3 << 20, 99), *z = calloc(1, 200000);
	uint64_t size = 0;
	size_t frames = 0, members = 0, f1 = 0, m1 = 0, fz = 0, mz = 0, lone_new, zlen, zdistinct;
	BlobWriterStats st;
	Index *ix = NULL;
	MemSrc m = {0};

	REQUIRE(data && z);
	REQUIRE(repo_index(repo, &ix, &err) == 0);
	CHECK_EQ_INT(index_has_frames(ix), 0);   /* format 2: never a frame */
	snprintf(dir, sizeof dir, "%s/f3", tmp);
	REQUIRE(repo_init(dir, TEST_REPO_PW, strlen(TEST_REPO_PW), &params, NULL, &err) == 0);
	REQUIRE(repo_open(dir, TEST_REPO_PW, strlen(TEST_REPO_PW), NULL, &r3, &err) == 0);
	CHECK_EQ_INT(repo_format_version(r3), 3);
	REQUIRE(blobwriter_new(r3, 0, &bw, &err) == 0);
	REQUIRE(chunkpipe_new(r3, bw, 2, &pipe, &err) == 0);
	m = (MemSrc){ data, (size_t)3 << 20, 0, 100000, SIZE_MAX };
	CHECK_EQ_INT(chunkpipe_stream(pipe, mem_read, &m, &big, NULL, NULL, &size, &err), 0);
	m = (MemSrc){ data, 1500, 0, 100000, SIZE_MAX };
	CHECK_EQ_INT(chunkpipe_stream(pipe, mem_read, &m, &one, NULL, NULL, &size, &err), 0);
	m = (MemSrc){ z, 200000, 0, 100000, SIZE_MAX };
	CHECK_EQ_INT(chunkpipe_stream(pipe, mem_read, &m, &zeros, NULL, NULL, &size, &err), 0);
	CHECK_EQ_INT(chunkpipe_wait(pipe, &err), 0);
	REQUIRE(blobwriter_finish(bw, &err) == 0);
	blobwriter_stats(bw, &st);
	/* 200,000 zero bytes: the chunker's gear table comes from the
	 * repository's key, so where a run of zeros is cut depends on the key:
	 * at the same length zlen after every cut (FastCDC is a function of
	 * the bytes since the cut), 16 KiB for most keys, less for a few (2
	 * of 100 runs here cut them at 1-4 KiB). So ceil(200,000 / zlen) chunks, one
	 * distinct and the tail when it is shorter. */
	zlen = fastcdc_cut(&r3->cdc, z, 200000, 1);
	CHECK_EQ_INT(zeros.n, (200000 + zlen - 1) / zlen);
	CHECK(zeros.n >= 13);
	zdistinct = 200000 % zlen ? 2 : 1;
	CHECK_EQ_INT(distinct(&zeros), zdistinct);
	/* The lone stream's 1,500 bytes are one chunk unless the key cuts
	 * them (past chunk_min, 1,024): then its first chunk is big's first
	 * and only the rest is new. Either way at most one of its chunks is
	 * new: none when big holds it too. */
	lone_new = 0;
	for (size_t i = 0; i < one.n; i++)
		lone_new += !in_list(&big, one.ids[i]) && !repeated(&one, i);
	CHECK(lone_new <= 1);
	CHECK_EQ_INT(st.chunks_new, distinct(&big) + lone_new + zdistinct);
	chunkpipe_free(pipe);
	blobwriter_free(bw);

	repo = r3;   /* check_list / check_stored read the repository in repo */
	CHECK_EQ_INT(check_list(&big, data, (size_t)3 << 20, "big"), 0);
	CHECK_EQ_INT(check_list(&one, data, 1500, "one"), 0);
	CHECK_EQ_INT(check_list(&zeros, z, 200000, "zeros"), 0);
	CHECK_EQ_INT(check_stored(&big, data), 0);
	CHECK_EQ_INT(check_stored(&one, data), 0);
	CHECK_EQ_INT(check_stored(&zeros, z), 0);
	REQUIRE(repo_index(r3, &ix, &err) == 0);
	CHECK_EQ_INT(index_has_frames(ix), 1);
	CHECK_EQ_INT(check_frames(ix, &big, &frames, &members, "big"), 0);
	CHECK_EQ_INT(check_frames(ix, &one, &f1, &m1, "one"), 0);
	CHECK_EQ_INT(check_frames(ix, &zeros, &fz, &mz, "zeros"), 0);
	/* 3 MiB of 4 KiB chunks: nearly every chunk is a member; frames of 8
	 * or fewer; the lone stream's new chunk is a blob. */
	CHECK(frames >= big.n / FRAME_WRITE_MEMBERS);
	CHECK(members + 8 >= distinct(&big));
	for (size_t i = 0; i < one.n; i++) {
		IndexEntry e;
		if (!in_list(&big, one.ids[i]))
			CHECK(index_lookup(ix, BLOB_DATA, one.ids[i], &e) == 0 && e.frame_raw == 0);
	}
	if (one.n == 1 && lone_new)
		CHECK_EQ_INT(f1 + m1, 0);
	printf("  %zu chunks: %zu frames holding %zu members\n", big.n, frames, members);

	/* Again: every chunk is stored, nothing is added. */
	REQUIRE(blobwriter_new(r3, 0, &bw, &err) == 0);
	REQUIRE(chunkpipe_new(r3, bw, 2, &pipe, &err) == 0);
	m = (MemSrc){ data, (size_t)3 << 20, 0, 77777, SIZE_MAX };
	CHECK_EQ_INT(chunkpipe_stream(pipe, mem_read, &m, &again, NULL, NULL, &size, &err), 0);
	CHECK_EQ_INT(chunkpipe_wait(pipe, &err), 0);
	REQUIRE(blobwriter_finish(bw, &err) == 0);
	blobwriter_stats(bw, &st);
	CHECK_EQ_INT(st.chunks_new, 0);
	CHECK_EQ_INT(st.packs_written, 0);
	chunkpipe_free(pipe);
	blobwriter_free(bw);

	/* A class minimum (test_pack_minimum): the last small pack joins the
	 * held one, frame by frame; every trailer still parses (check
	 * --read-data opens every frame against its members). How many packs
	 * that makes is test_pack_minimum's to check. */
	{
		const size_t min = 64u << 10, psize = 256u << 10;
		CheckOptions co = { .read_data = 1 };
		CheckReport *rep = NULL;
		ChunkList l4 = {0};
		uint8_t *d4 = NULL;
		size_t f4 = 0, m4 = 0;

		r3->pack_size = (uint32_t)psize;
		r3->be->min_data_object = (uint32_t)min;
		REQUIRE(store_random(psize * 2 + (40u << 10), 74, &l4, &d4, &err) == 0);
		CHECK_EQ_INT(check_stored(&l4, d4), 0);
		CHECK_EQ_INT(check_frames(ix, &l4, &f4, &m4, "merged"), 0);
		CHECK(f4 > 0);
		REQUIRE(check_run(r3, &co, &rep, &err) == 0);
		CHECK_EQ_INT(rep->damage, 0);
		CHECK_EQ_INT(rep->blobs_verified, index_count(ix));
		check_report_free(rep);
		chunklist_free(&l4);
		free(d4);
	}
	repo = saved;
	chunklist_free(&big);
	chunklist_free(&one);
	chunklist_free(&zeros);
	chunklist_free(&again);
	repo_close(r3);
	free(data);
	free(z);
}

int main(void)
{
	char cmd[400];

	if (codec_init() != 0)
		return 1;
	RUN(test_setup);
	RUN(test_streams);
	RUN(test_pack_names);
	RUN(test_known_chunks_skip_the_index);
	RUN(test_page_runs);
	RUN(test_pack_minimum);
	RUN(test_hold_decided_after_wait);
	RUN(test_frames);
	codec_ctx_free(cctx);
	repo_close(repo);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		printf("  could not remove %s\n", tmp);
	return CHECK_EXIT();
}
