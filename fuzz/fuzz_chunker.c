/* fuzz_chunker.c — FastCDC cut points (chunker/fastcdc.h) and page-run
 * cut points (chunker/pagerun.h) on arbitrary data and parameters.
 *
 * Input: P0 P1 P2 (parameters) || S (split seed, u32 LE) || data.
 * P0 >= 0x80: page runs (FORMAT.md §13a), run_len = 64 * (1 + (P1 | P2 << 8) % 2048)
 *   (64 B .. 128 KiB): every chunk is run_len bytes but the last, which
 *   is 1 .. run_len; plus the streaming property below.
 * Otherwise FastCDC:
 *   avg = 256 << (P0 % 5)            (256 .. 4 KiB)
 *   min = 64 + P1 * (avg - 64) / 256 (64 .. avg - 1)
 *   max = avg + 1 + P2 * 7 * avg / 255 (avg + 1 .. 8 avg)
 * The gear table is a fixed pseudo-random one (the product derives it
 * from the key; any table must satisfy these properties).
 *
 * Properties: chunking the whole buffer at eof gives chunks that cover it
 * exactly, each at most max and all but the last longer than min; feeding
 * the same bytes as a stream, in pieces of two different pseudo-random
 * sequences of sizes, gives identical cuts (cut points depend only on the
 * bytes from the chunk start).
 */
#include "chunker/fastcdc.h"
#include "chunker/pagerun.h"
#include "fuzz/fuzz.h"

#define MAX_CUTS 65536

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Chunk data as a reader would: bytes arrive in pieces of pseudo-random
 * size (seeded by seed; 0 = all at once) into a window that is compacted
 * after each cut. Returns the number of cuts written to cuts. */
static size_t stream(const FastCdc *c, uint32_t run_len, const uint8_t *data, size_t size,
                     uint64_t seed, size_t *cuts)
{
	size_t start = 0, avail = 0, n = 0;

	for (;;) {
		int eof = start + avail == size;
		size_t cut = run_len ? pagerun_cut(run_len, avail, eof) : fastcdc_cut(c, data + start, avail, eof);
		if (cut == 0) {
			size_t piece;
			if (eof) {
				FUZZ_ASSERT(avail == 0);   /* at eof a non-empty buffer must cut */
				return n;
			}
			piece = seed ? 1 + (size_t)(splitmix(&seed) % (2 * c->max_len)) : size;
			if (piece > size - start - avail)
				piece = size - start - avail;
			avail += piece;
			continue;
		}
		FUZZ_ASSERT(cut <= avail && n < MAX_CUTS);
		cuts[n++] = cut;
		start += cut;
		avail -= cut;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static size_t whole[MAX_CUTS], a[MAX_CUTS], b[MAX_CUTS];
	static uint64_t gear[256];
	uint32_t avg, min, max, seed, run_len;
	size_t nw = 0, na, nb, off = 0;
	uint64_t g = 42;
	FastCdc c;

	if (size < 7)
		return 0;
	avg = 256u << (data[0] % 5);
	min = 64 + (uint32_t)data[1] * (avg - 64) / 256;
	max = avg + 1 + (uint32_t)data[2] * 7 * avg / 255;
	run_len = data[0] >= 0x80 ? 64u * (1u + ((uint32_t)data[1] | (uint32_t)data[2] << 8) % 2048u) : 0;
	seed = fuzz_le32(data + 3);
	data += 7;
	size -= 7;
	for (int i = 0; i < 256; i++)
		gear[i] = splitmix(&g);
	FUZZ_ASSERT(fastcdc_init(&c, gear, min, avg, max) == 0);
	if (run_len)
		max = run_len;      /* the bound on every cut below */

	while (off < size) {
		size_t cut = run_len ? pagerun_cut(run_len, size - off, 1) : fastcdc_cut(&c, data + off, size - off, 1);
		FUZZ_ASSERT(cut >= 1 && cut <= size - off && cut <= max && nw < MAX_CUTS);
		if (off + cut < size)
			FUZZ_ASSERT(run_len ? cut == run_len : cut > min);
		whole[nw++] = cut;
		off += cut;
	}
	FUZZ_ASSERT(fastcdc_cut(&c, data, 0, 1) == 0 && pagerun_cut(run_len, 0, 1) == 0);

	na = stream(&c, run_len, data, size, (uint64_t)seed * 2 + 1, a);
	nb = stream(&c, run_len, data, size, (uint64_t)seed * 2 + 2, b);
	FUZZ_ASSERT(na == nw && nb == nw);
	FUZZ_ASSERT(memcmp(a, whole, nw * sizeof *a) == 0);
	FUZZ_ASSERT(memcmp(b, whole, nw * sizeof *b) == 0);
	return 0;
}
