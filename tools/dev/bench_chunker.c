/* bench_chunker.c — single-core throughput of chunker/fastcdc.c.
 *
 * Usage: bench_chunker [MiB]   (default 256)
 *
 * Chunks MiB of pseudo-random data (from memory, so no I/O is measured) at
 * average sizes 16K, 64K and 256K with min = avg/4 and max = avg*4, and
 * copies the same data with memcpy as a ceiling. Each figure is the best of
 * 3 runs, since the machines strata runs on are often shared. Prints one
 * line per figure, e.g. "chunker avg=65536: 3100 MB/s" (MB = 10^6 bytes).
 */
#include "chunker/fastcdc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 3

/* splitmix64: deterministic bytes and gear table without a key. */
static uint64_t
bench_rng(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double
bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Chunk the whole buffer; returns the number of chunks so the work cannot
 * be optimised away. */
static size_t
bench_chunk_all(const FastCdc *c, const uint8_t *buf, size_t len)
{
	size_t off = 0, chunks = 0;

	while (off < len) {
		off += fastcdc_cut(c, buf + off, len - off, 1);
		chunks++;
	}
	return chunks;
}

int
main(int argc, char **argv)
{
	static const uint32_t avgs[] = { 16u << 10, 64u << 10, 256u << 10 };
	size_t mib = 256, len;
	uint8_t *src = NULL, *dst = NULL;
	uint64_t gear[256], seed = 42;
	double best;
	/* Results go here so the compiler cannot drop the timed work. */
	volatile size_t sink;
	/* Called through a volatile pointer so the copies are not merged or
	 * dropped (clang otherwise times nothing). */
	void *(*volatile copy)(void *, const void *, size_t) = memcpy;
	int rc = 1;

	if (argc > 2 || (argc == 2 && (mib = strtoul(argv[1], NULL, 10)) == 0)) {
		fprintf(stderr, "usage: bench_chunker [MiB]\n");
		return 2;
	}
	len = mib << 20;
	src = malloc(len);
	dst = malloc(len);
	if (src == NULL || dst == NULL) {
		fprintf(stderr, "bench_chunker: cannot allocate 2 x %zu MiB\n", mib);
		goto out;
	}
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = bench_rng(&seed);

		memcpy(src + i, &v, 8);
	}
	memset(dst, 0, len);    /* fault the pages in before timing memcpy */
	for (int i = 0; i < 256; i++)
		gear[i] = bench_rng(&seed);

	for (size_t a = 0; a < sizeof avgs / sizeof avgs[0]; a++) {
		FastCdc c;
		size_t chunks = 0;

		if (fastcdc_init(&c, gear, avgs[a] / 4, avgs[a], avgs[a] * 4) != 0) {
			fprintf(stderr, "bench_chunker: fastcdc_init failed\n");
			goto out;
		}
		best = 1e30;
		for (int r = 0; r < RUNS; r++) {
			double t0 = bench_now_s(), t;

			chunks = bench_chunk_all(&c, src, len);
			t = bench_now_s() - t0;
			if (t < best)
				best = t;
		}
		sink = chunks;
		printf("chunker avg=%u: %.0f MB/s\n", (unsigned)avgs[a],
		       (double)len / best / 1e6);
	}

	best = 1e30;
	for (int r = 0; r < RUNS; r++) {
		double t0 = bench_now_s(), t;

		copy(dst, src, len);
		t = bench_now_s() - t0;
		if (t < best)
			best = t;
	}
	sink = dst[len / 2];
	printf("memcpy: %.0f MB/s\n", (double)len / best / 1e6);
	(void)sink;
	rc = 0;
out:
	free(src);
	free(dst);
	return rc;
}
