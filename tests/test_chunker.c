/* test_chunker.c — unit tests for chunker/fastcdc.c.
 *
 * Gear tables and data come from a local splitmix64 so every run sees the
 * same bytes; in the product the store derives the gear table from the key.
 */
#include "chunker/fastcdc.h"
#include "tests/check.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KIB 1024u
#define MIB (1024u * 1024u)

/* splitmix64 (Steele, Lea, Flood 2014): a tiny, well-mixed PRNG. */
static uint64_t
rng_next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void
make_gear(uint64_t gear[256], uint64_t seed)
{
	for (int i = 0; i < 256; i++)
		gear[i] = rng_next(&seed);
}

static uint8_t *
make_random(size_t len, uint64_t seed)
{
	uint8_t *buf = malloc(len ? len : 1);

	if (buf == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = rng_next(&seed);
		size_t n = len - i < 8 ? len - i : 8;

		memcpy(buf + i, &v, n);
	}
	return buf;
}

/* A growable list of chunk lengths. */
typedef struct Cuts {
	size_t *len;
	size_t count;
	size_t cap;
} Cuts;

static int
cuts_push(Cuts *c, size_t n)
{
	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		size_t *p = realloc(c->len, cap * sizeof *p);

		if (p == NULL)
			return -ENOMEM;
		c->len = p;
		c->cap = cap;
	}
	c->len[c->count++] = n;
	return 0;
}

static void
cuts_free(Cuts *c)
{
	free(c->len);
	memset(c, 0, sizeof *c);
}

static int
cuts_equal(const Cuts *a, const Cuts *b)
{
	return a->count == b->count &&
	       (a->count == 0 ||
	        memcmp(a->len, b->len, a->count * sizeof *a->len) == 0);
}

/* Chunk a whole in-memory buffer. Returns 0, or -1 if fastcdc_cut broke its
 * contract (returned 0 at eof on a non-empty buffer). */
static int
chunk_all(const FastCdc *c, const uint8_t *buf, size_t len, Cuts *out)
{
	size_t off = 0;

	while (off < len) {
		size_t n = fastcdc_cut(c, buf + off, len - off, 1);

		if (n == 0 || n > len - off || cuts_push(out, n) != 0)
			return -1;
		off += n;
	}
	return 0;
}

/* A random read size in 1 .. 1 MiB, log-uniform so that tiny reads (the
 * worst case for a caller's buffering) are as common as large ones. */
static size_t
random_read_len(uint64_t *rng)
{
	unsigned bits = (unsigned)(rng_next(rng) % 21);    /* 0 .. 20 */
	size_t top = (size_t)1 << bits;                    /* 1 .. 1 MiB */

	return 1 + (size_t)(rng_next(rng) % top);
}

/* Chunk src as a streaming caller would: a buffer of max_len + 1 MiB bytes
 * refilled by reads of random sizes, compacted when a chunk is consumed. */
static int
chunk_streaming(const FastCdc *c, const uint8_t *src, size_t src_len,
                uint64_t seed, Cuts *out)
{
	size_t cap = c->max_len + MIB;
	uint8_t *buf = malloc(cap);
	size_t start = 0, fill = 0, src_off = 0;
	int rc = -1;

	if (buf == NULL)
		return -1;
	for (;;) {
		int eof = src_off == src_len;
		size_t n;

		if (start == fill && eof)
			break;
		n = fastcdc_cut(c, buf + start, fill - start, eof);
		if (n > fill - start)
			goto out;
		if (n > 0) {
			if (cuts_push(out, n) != 0)
				goto out;
			start += n;
			continue;
		}
		if (eof)
			goto out;       /* contract: at eof a non-empty buffer cuts */
		if (start > 0) {
			memmove(buf, buf + start, fill - start);
			fill -= start;
			start = 0;
		}
		if (fill == cap)
			goto out;       /* contract: a full max_len never asks for more */
		n = random_read_len(&seed);
		if (n > cap - fill)
			n = cap - fill;
		if (n > src_len - src_off)
			n = src_len - src_off;
		memcpy(buf + fill, src + src_off, n);
		fill += n;
		src_off += n;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

/* The byte-at-a-time reference the unrolled loop must match, with the masks
 * derived independently from the header's description. */
static size_t
ref_cut(const uint64_t gear[256], uint32_t min_len, uint32_t avg_len,
        uint32_t max_len, const uint8_t *buf, size_t len)
{
	unsigned bits = 0;
	uint64_t mask_s, mask_l, fp = 0;
	size_t i;

	while ((1u << bits) < avg_len)
		bits++;
	mask_s = ~UINT64_C(0) << (64 - (bits + 2));
	mask_l = ~UINT64_C(0) << (64 - (bits - 2));
	if (len <= min_len)
		return len;
	if (len > max_len)
		len = max_len;
	for (i = min_len; i < len; i++) {
		fp = (fp << 1) + gear[buf[i]];
		if (!(fp & (i < avg_len ? mask_s : mask_l)))
			return i + 1;
	}
	return len;
}

static int
popcount64(uint64_t x)
{
	int n = 0;

	for (; x; x &= x - 1)
		n++;
	return n;
}

static void
test_init_validates(void)
{
	uint64_t gear[256];
	FastCdc c, before;

	make_gear(gear, 1);
	memset(&c, 0xa5, sizeof c);
	before = c;

	CHECK_EQ_INT(fastcdc_init(NULL, gear, 2 * KIB, 8 * KIB, 32 * KIB), -EINVAL);
	CHECK_EQ_INT(fastcdc_init(&c, NULL, 2 * KIB, 8 * KIB, 32 * KIB), -EINVAL);
	CHECK_EQ_INT(fastcdc_init(&c, gear, 63, 256, 1024), -EINVAL);         /* min < 64 */
	CHECK_EQ_INT(fastcdc_init(&c, gear, 0, 8 * KIB, 32 * KIB), -EINVAL);
	CHECK_EQ_INT(fastcdc_init(&c, gear, 2 * KIB, 12 * KIB, 32 * KIB), -EINVAL); /* not 2^k */
	CHECK_EQ_INT(fastcdc_init(&c, gear, 64, 128, 1024), -EINVAL);         /* avg < MIN_AVG */
	CHECK_EQ_INT(fastcdc_init(&c, gear, 64, 0, 1024), -EINVAL);
	CHECK_EQ_INT(fastcdc_init(&c, gear, 8 * KIB, 8 * KIB, 32 * KIB), -EINVAL); /* min == avg */
	CHECK_EQ_INT(fastcdc_init(&c, gear, 9 * KIB, 8 * KIB, 32 * KIB), -EINVAL); /* min > avg */
	CHECK_EQ_INT(fastcdc_init(&c, gear, 2 * KIB, 8 * KIB, 8 * KIB), -EINVAL);  /* max == avg */
	CHECK_EQ_INT(fastcdc_init(&c, gear, 2 * KIB, 8 * KIB, 4 * KIB), -EINVAL);
	CHECK_EQ_INT(fastcdc_init(&c, gear, 1 * MIB, 32 * MIB, FASTCDC_MAX_MAX + 1), -EINVAL);
	CHECK_EQ_INT(fastcdc_init(&c, gear, 1 * MIB, 64 * MIB, 128 * MIB), -EINVAL);
	CHECK(memcmp(&c, &before, sizeof c) == 0);      /* untouched on error */

	/* The extremes the header allows. */
	CHECK_EQ_INT(fastcdc_init(&c, gear, 64, FASTCDC_MIN_AVG, FASTCDC_MIN_AVG + 1), 0);
	CHECK_EQ_INT(popcount64(c.mask_s), 8 + 2);
	CHECK_EQ_INT(popcount64(c.mask_l), 8 - 2);
	CHECK_EQ_INT(fastcdc_init(&c, gear, 1 * MIB, 32 * MIB, FASTCDC_MAX_MAX), 0);
	CHECK_EQ_INT(popcount64(c.mask_s), 25 + 2);
	CHECK_EQ_INT(popcount64(c.mask_l), 25 - 2);

	/* Masks are the top bits, and the parameters and table are kept. */
	CHECK_EQ_INT(fastcdc_init(&c, gear, 16 * KIB, 64 * KIB, 256 * KIB), 0);
	CHECK(c.mask_s == ~UINT64_C(0) << (64 - 18));
	CHECK(c.mask_l == ~UINT64_C(0) << (64 - 14));
	CHECK_EQ_INT(c.min_len, 16 * KIB);
	CHECK_EQ_INT(c.avg_len, 64 * KIB);
	CHECK_EQ_INT(c.max_len, 256 * KIB);
	CHECK(memcmp(c.gear, gear, sizeof gear) == 0);
}

static void
test_cut_short_buffers(void)
{
	uint64_t gear[256];
	FastCdc c;
	uint8_t *data = make_random(64 * KIB, 2);

	REQUIRE(data != NULL);
	make_gear(gear, 1);
	REQUIRE(fastcdc_init(&c, gear, 1 * KIB, 4 * KIB, 16 * KIB) == 0);

	CHECK_EQ_INT(fastcdc_cut(&c, data, 0, 0), 0);
	CHECK_EQ_INT(fastcdc_cut(&c, data, 0, 1), 0);
	CHECK_EQ_INT(fastcdc_cut(&c, data, 1, 0), 0);
	CHECK_EQ_INT(fastcdc_cut(&c, data, 1, 1), 1);
	CHECK_EQ_INT(fastcdc_cut(&c, data, 1 * KIB, 0), 0);
	CHECK_EQ_INT(fastcdc_cut(&c, data, 1 * KIB, 1), 1 * KIB);

	/* With the whole chunk in view, any prefix that contains the cut finds
	 * the same cut, and any prefix that does not asks for more. */
	{
		size_t full = fastcdc_cut(&c, data, 64 * KIB, 0);

		CHECK(full > 1 * KIB && full <= 16 * KIB);
		for (size_t len = 1; len <= 16 * KIB; len += 37) {
			size_t n = fastcdc_cut(&c, data, len, 0);

			CHECK_EQ_INT(n, len >= full ? full : 0);
			n = fastcdc_cut(&c, data, len, 1);
			CHECK_EQ_INT(n, len >= full ? full : len);
		}
	}

	/* A full max_len buffer always yields a chunk, eof or not. */
	memset(data, 0, 64 * KIB);
	CHECK(fastcdc_cut(&c, data, 16 * KIB, 0) > 0);
	{
		size_t n = fastcdc_cut(&c, data, 64 * KIB, 0);

		CHECK(n > 0 && n <= 16 * KIB);
	}
	free(data);
}

/* The two-bytes-per-step loop must cut exactly where a byte-at-a-time loop
 * does, including odd min/max values that start or end a stretch mid-pair. */
static void
test_matches_reference(void)
{
	static const uint32_t params[][3] = {
		{ 64, 256, 1024 },
		{ 65, 256, 1023 },
		{ 1 * KIB, 4 * KIB, 16 * KIB },
		{ 1 * KIB + 1, 4 * KIB, 16 * KIB + 1 },
		{ 2 * KIB - 1, 8 * KIB, 32 * KIB - 1 },
		{ 16 * KIB, 64 * KIB, 256 * KIB },
		{ 4 * KIB + 3, 16 * KIB, 17 * KIB },
	};
	size_t len = 8 * MIB;
	uint8_t *data = make_random(len, 3);
	uint64_t gear[256];

	REQUIRE(data != NULL);
	make_gear(gear, 4);
	for (size_t p = 0; p < sizeof params / sizeof params[0]; p++) {
		FastCdc c;
		size_t off = 0, chunks = 0;

		REQUIRE(fastcdc_init(&c, gear, params[p][0], params[p][1], params[p][2]) == 0);
		while (off < len) {
			size_t want = ref_cut(gear, params[p][0], params[p][1], params[p][2],
			                      data + off, len - off);
			size_t got = fastcdc_cut(&c, data + off, len - off, 1);

			if (got != want) {
				CHECK_EQ_INT(got, want);
				break;
			}
			off += got;
			chunks++;
		}
		CHECK(chunks > 8);
	}
	free(data);
}

static void
test_same_cuts_any_buffering(void)
{
	static const uint32_t params[][3] = {
		{ 1 * KIB, 4 * KIB, 16 * KIB },
		{ 4 * KIB, 16 * KIB, 64 * KIB },
		{ 16 * KIB, 64 * KIB, 256 * KIB },
		{ 256 * KIB, 1 * MIB, 4 * MIB },
	};
	size_t len = 24 * MIB + 12345;
	uint8_t *data = make_random(len, 5);
	uint64_t gear[256];

	REQUIRE(data != NULL);
	make_gear(gear, 6);
	for (size_t p = 0; p < sizeof params / sizeof params[0]; p++) {
		FastCdc c;
		Cuts whole = { 0 };

		REQUIRE(fastcdc_init(&c, gear, params[p][0], params[p][1], params[p][2]) == 0);
		CHECK_EQ_INT(chunk_all(&c, data, len, &whole), 0);
		CHECK(whole.count > 4);
		for (uint64_t seed = 100; seed < 104; seed++) {
			Cuts streamed = { 0 };

			CHECK_EQ_INT(chunk_streaming(&c, data, len, seed, &streamed), 0);
			CHECK(cuts_equal(&whole, &streamed));
			cuts_free(&streamed);
		}
		cuts_free(&whole);
	}
	free(data);
}

/* Every chunk but the last is longer than min_len (a cut needs at least one
 * hashed byte); none is longer than max_len. Checked on random data and on
 * low-entropy data that rarely matches a mask. */
static void
test_min_max_respected(void)
{
	static const uint32_t params[][3] = {
		{ 64, 256, 300 },
		{ 1 * KIB, 4 * KIB, 8 * KIB },
		{ 2 * KIB, 8 * KIB, 32 * KIB },
		{ 16 * KIB, 64 * KIB, 256 * KIB },
	};
	size_t len = 8 * MIB + 777;
	uint8_t *rnd = make_random(len, 7);
	uint8_t *low = make_random(len, 8);
	uint64_t gear[256];

	REQUIRE(rnd != NULL && low != NULL);
	for (size_t i = 0; i < len; i++)
		low[i] = (uint8_t)(low[i] & 0x03);      /* two bits per byte */
	make_gear(gear, 9);
	for (size_t p = 0; p < sizeof params / sizeof params[0]; p++) {
		const uint8_t *inputs[2] = { rnd, low };

		for (int k = 0; k < 2; k++) {
			FastCdc c;
			Cuts cuts = { 0 };
			size_t total = 0, bad = 0;

			REQUIRE(fastcdc_init(&c, gear, params[p][0], params[p][1], params[p][2]) == 0);
			CHECK_EQ_INT(chunk_all(&c, inputs[k], len, &cuts), 0);
			for (size_t i = 0; i < cuts.count; i++) {
				size_t n = cuts.len[i];

				if (n > c.max_len || (i + 1 < cuts.count && n <= c.min_len))
					bad++;
				total += n;
			}
			CHECK_EQ_INT(bad, 0);
			CHECK_EQ_INT(total, len);
			cuts_free(&cuts);
		}
	}
	free(rnd);
	free(low);
}

/* Normalized chunking with min = avg/4 gives a mean a little above avg on
 * random data (about 1.15x: the skipped min bytes plus the strict mask up to
 * avg); it must stay well inside 0.6x .. 1.6x, and few chunks may hit max. */
static void
test_mean_near_average(void)
{
	static const uint32_t avgs[] = { 4 * KIB, 16 * KIB, 64 * KIB };
	size_t len = 32 * MIB;
	uint8_t *data = make_random(len, 10);
	uint64_t gear[256];

	REQUIRE(data != NULL);
	make_gear(gear, 11);
	for (size_t a = 0; a < sizeof avgs / sizeof avgs[0]; a++) {
		uint32_t avg = avgs[a];
		FastCdc c;
		Cuts cuts = { 0 };
		size_t at_max = 0;
		double mean;

		REQUIRE(fastcdc_init(&c, gear, avg / 4, avg, avg * 4) == 0);
		CHECK_EQ_INT(chunk_all(&c, data, len, &cuts), 0);
		REQUIRE(cuts.count > 0);
		mean = (double)len / (double)cuts.count;
		CHECK(mean >= 0.6 * avg && mean <= 1.6 * avg);
		for (size_t i = 0; i < cuts.count; i++)
			at_max += cuts.len[i] == c.max_len;
		/* P(no cut in avg..4avg at 4/avg per byte) = e^-12, so none. */
		CHECK(at_max * 1000 <= cuts.count);
		cuts_free(&cuts);
	}
	free(data);
}

/* The gear table is the key: another table must cut elsewhere. */
static void
test_gear_changes_cuts(void)
{
	size_t len = 8 * MIB;
	uint8_t *data = make_random(len, 12);
	uint64_t gear_a[256], gear_b[256];
	FastCdc ca, cb;
	Cuts a = { 0 }, b = { 0 };
	size_t i = 0, j = 0, off_a = 0, off_b = 0, common = 0;

	REQUIRE(data != NULL);
	make_gear(gear_a, 13);
	make_gear(gear_b, 14);
	REQUIRE(fastcdc_init(&ca, gear_a, 2 * KIB, 8 * KIB, 32 * KIB) == 0);
	REQUIRE(fastcdc_init(&cb, gear_b, 2 * KIB, 8 * KIB, 32 * KIB) == 0);
	CHECK_EQ_INT(chunk_all(&ca, data, len, &a), 0);
	CHECK_EQ_INT(chunk_all(&cb, data, len, &b), 0);
	CHECK(!cuts_equal(&a, &b));

	/* Count cut offsets the two share (merge of two sorted lists). */
	while (i < a.count && j < b.count) {
		size_t na = off_a + a.len[i], nb = off_b + b.len[j];

		if (na == nb)
			common++;
		if (na <= nb) {
			off_a = na;
			i++;
		}
		if (nb <= na) {
			off_b = nb;
			j++;
		}
	}
	CHECK(common * 20 < a.count);   /* chance alone gives about 1 in 9000 */
	cuts_free(&a);
	cuts_free(&b);
	free(data);
}

/* Content-defined cuts resynchronise: after one byte inserted near the
 * start, every cut from the second or third on is the old one plus 1. */
static void
test_insertion_resyncs(void)
{
	size_t len = 16 * MIB;
	uint8_t *old = make_random(len, 15);
	uint8_t *new = malloc(len + 1);
	uint64_t gear[256];
	static const uint32_t params[][3] = {
		{ 2 * KIB, 8 * KIB, 32 * KIB },
		{ 16 * KIB, 64 * KIB, 256 * KIB },
	};
	static const size_t insert_at[] = { 0, 10, 1000 };

	REQUIRE(old != NULL && new != NULL);
	make_gear(gear, 16);
	for (size_t p = 0; p < sizeof params / sizeof params[0]; p++) {
		for (size_t k = 0; k < sizeof insert_at / sizeof insert_at[0]; k++) {
			size_t at = insert_at[k];
			FastCdc c;
			Cuts a = { 0 }, b = { 0 };
			size_t ia, ib, end_a = 0, end_b = 0;

			memcpy(new, old, at);
			new[at] = 0x5a;
			memcpy(new + at + 1, old + at, len - at);
			REQUIRE(fastcdc_init(&c, gear, params[p][0], params[p][1], params[p][2]) == 0);
			CHECK_EQ_INT(chunk_all(&c, old, len, &a), 0);
			CHECK_EQ_INT(chunk_all(&c, new, len + 1, &b), 0);
			REQUIRE(a.count > 10 && b.count > 10);

			/* Walk both lists to the first cut offset where new == old + 1. */
			ia = ib = 0;
			while (ia < a.count && ib < b.count && end_b != end_a + 1) {
				if (end_b < end_a + 1)
					end_b += b.len[ib++];
				else
					end_a += a.len[ia++];
			}
			CHECK(end_b == end_a + 1);
			CHECK(ib <= 2);                 /* at most 2 new chunks */
			CHECK_EQ_INT(a.count - ia, b.count - ib);
			if (a.count - ia == b.count - ib)
				CHECK(memcmp(a.len + ia, b.len + ib,
				             (a.count - ia) * sizeof *a.len) == 0);
			cuts_free(&a);
			cuts_free(&b);
		}
	}
	free(old);
	free(new);
}

/* All-zero input: after 64 zero bytes fp settles at gear[0] * (2^64 - 1),
 * a constant, so whether zeros ever cut is a property of the table. For
 * this table (as for most: a cut needs the top 14..18 bits of -gear[0] and
 * of the first 64 partial sums all clear) it never does, and every chunk is
 * max_len; the last holds the remainder. */
static void
test_zeros_cut_at_max(void)
{
	size_t len = 4 * MIB + 100;
	uint8_t *zeros = calloc(1, len);
	uint64_t gear[256];
	FastCdc c;
	Cuts cuts = { 0 };
	size_t bad = 0;

	REQUIRE(zeros != NULL);
	make_gear(gear, 17);
	REQUIRE(fastcdc_init(&c, gear, 16 * KIB, 64 * KIB, 256 * KIB) == 0);
	CHECK_EQ_INT(chunk_all(&c, zeros, len, &cuts), 0);
	CHECK_EQ_INT(cuts.count, len / c.max_len + 1);
	for (size_t i = 0; i + 1 < cuts.count; i++)
		bad += cuts.len[i] != c.max_len;
	CHECK_EQ_INT(bad, 0);
	if (cuts.count > 0)
		CHECK_EQ_INT(cuts.len[cuts.count - 1], len % c.max_len);
	cuts_free(&cuts);
	free(zeros);
}

int
main(void)
{
	RUN(test_init_validates);
	RUN(test_cut_short_buffers);
	RUN(test_matches_reference);
	RUN(test_same_cuts_any_buffering);
	RUN(test_min_max_respected);
	RUN(test_mean_near_average);
	RUN(test_gear_changes_cuts);
	RUN(test_insertion_resyncs);
	RUN(test_zeros_cut_at_max);
	return CHECK_EXIT();
}
