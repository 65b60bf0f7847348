/* fastcdc.c — FastCDC cut-point search with normalized chunking.
 *
 * The algorithm is FastCDC (Xia et al., USENIX ATC 2016; extended in IEEE
 * TPDS 2020): a gear rolling hash fp = (fp << 1) + gear[byte], a cut after
 * the first byte whose fingerprint has every bit of a mask clear, with three
 * refinements:
 *
 *  - Cut-point skipping: the first min_len bytes of a chunk are never
 *    hashed; a cut there would only make a chunk below the minimum.
 *  - Normalized chunking, level 2: between min_len and avg_len the mask
 *    (mask_s) has log2(avg)+2 bits, so a cut is 4x less likely than 1/avg per
 *    byte; from avg_len on the mask (mask_l) has log2(avg)-2 bits, 4x more
 *    likely. Chunk sizes bunch around avg_len instead of following the long
 *    geometric tail of plain content-defined chunking, so fewer chunks hit
 *    max_len (where a forced cut stops being content-defined).
 *  - A hard cut at max_len.
 *
 * Mask bits. Shifting left by one per byte means bit j of fp is a function
 * of the last j+1 bytes only (a byte's gear value is shifted out of the
 * word after 64 steps, and carries only flow upward). The low bits therefore
 * see a window of a few bytes, which would make cuts depend on tiny local
 * patterns and repeat wherever such a pattern repeats. The 2016 paper
 * spreads its mask bits between bits 16 and 49 (e.g. 0x0003590703530000) to
 * widen the window; taking the TOP bits does better still: bit 63 sees the
 * last 64 bytes, and the lowest bit of a b-bit top mask sees the last 65-b.
 * So, for avg_len = 2^k:
 *
 *     mask_s = top k+2 bits     P(cut per byte) = 2^-(k+2) = 1/(4 avg)
 *     mask_l = top k-2 bits     P(cut per byte) = 2^-(k-2) = 4/avg
 *
 * With FASTCDC_MIN_AVG = 256 and avg_len < max_len <= 64 MiB, k lies in
 * [8, 25], so a mask has 6 to 27 bits: never 0 bits nor a 64-bit shift.
 * On random data with min = avg/4 the mean chunk is about 1.14 x avg (the
 * skipped min bytes and the strict stretch outweigh the loose one), and a
 * forced cut at max = 4 avg needs 3 avg bytes without a 4/avg match:
 * probability below e^-12, under 1 chunk in 160,000.
 *
 * Statelessness. fp starts at 0 at offset min_len of every chunk, and the
 * mask in force depends only on the offset from the chunk start, so a cut is
 * a function of (gear, params, bytes from the chunk start up to the cut) and
 * nothing else: no hash state is carried from one chunk to the next, and the
 * caller's buffer sizes cannot change where cuts fall.
 *
 * Speed. Each step depends on the previous fingerprint. As a shift and an
 * add that chain costs 2 cycles per byte, about 1.3 GB/s at 2.6 GHz (gcc
 * folds it into one lea, clang does not). The inner loop instead advances
 * two bytes per step using the identity (exact in arithmetic mod 2^64):
 *
 *     fp2 = (((fp << 1) + g0) << 1) + g1 = (fp << 2) + ((g0 << 1) + g1)
 *
 * so fp2 needs one shift-and-add after fp is known (a single lea on x86-64),
 * while (g0 << 1) + g1 is computed off the critical path. Both fp1 and fp2
 * are still tested, so the cut points are exactly those of the
 * byte-at-a-time loop (tests/test_chunker.c checks this against a
 * reference). Measured with tools/dev/bench_chunker on a shared 2-vCPU AMD EPYC,
 * 16K..256K average: gcc 12 -O2 3.6-4.5 GB/s (about the same as its
 * one-lea byte loop), clang 14 -O2 2.8-3.2 GB/s (2.4 GB/s one byte at a
 * time; clang re-associates the sum, so it gains less than the identity
 * promises). Four bytes per step measured slower with gcc (3.4 GB/s).
 */
#include "chunker/fastcdc.h"

#include <errno.h>
#include <string.h>

/* Number of bits of a power of two: log2(x). x must be a power of two. */
static unsigned
fastcdc_log2(uint32_t x)
{
	unsigned n = 0;

	while (x > 1) {
		x >>= 1;
		n++;
	}
	return n;
}

/* A mask with the top `bits` bits set; 0 < bits < 64. */
static uint64_t
fastcdc_top_bits(unsigned bits)
{
	return ~UINT64_C(0) << (64 - bits);
}

int
fastcdc_init(FastCdc *c, const uint64_t gear[256],
             uint32_t min_len, uint32_t avg_len, uint32_t max_len)
{
	unsigned avg_bits;

	if (c == NULL || gear == NULL)
		return -EINVAL;
	if (min_len < 64 || avg_len < FASTCDC_MIN_AVG ||
	    (avg_len & (avg_len - 1)) != 0 ||
	    min_len >= avg_len || avg_len >= max_len ||
	    max_len > FASTCDC_MAX_MAX)
		return -EINVAL;

	avg_bits = fastcdc_log2(avg_len);
	memcpy(c->gear, gear, sizeof c->gear);
	c->mask_s = fastcdc_top_bits(avg_bits + 2);
	c->mask_l = fastcdc_top_bits(avg_bits - 2);
	c->min_len = min_len;
	c->avg_len = avg_len;
	c->max_len = max_len;
	return 0;
}

/* Hash buf[i..end) continuing from *fp, testing each fingerprint against
 * mask. Returns the chunk length up to and including the first byte whose
 * fingerprint matches, or 0 when none does (then *fp holds the fingerprint
 * after buf[end-1], for the next stretch). */
static inline size_t
fastcdc_scan(const uint64_t *gear, const uint8_t *buf, size_t i, size_t end,
             uint64_t mask, uint64_t *fp)
{
	uint64_t h = *fp;

	/* Two bytes per step; see "Speed" above for why this is exact. */
	while (end - i >= 2) {
		uint64_t g0 = gear[buf[i]];
		uint64_t g1 = gear[buf[i + 1]];
		uint64_t h1 = (h << 1) + g0;
		uint64_t h2 = (h << 2) + ((g0 << 1) + g1);

		if (!(h1 & mask))
			return i + 1;
		if (!(h2 & mask))
			return i + 2;
		h = h2;
		i += 2;
	}
	if (i < end) {
		h = (h << 1) + gear[buf[i]];
		if (!(h & mask))
			return i + 1;
	}
	*fp = h;
	return 0;
}

size_t
fastcdc_cut(const FastCdc *c, const uint8_t *buf, size_t len, int at_eof)
{
	size_t end, normal, n;
	uint64_t fp = 0;

	if (len == 0)
		return 0;
	if (len <= c->min_len)
		return at_eof ? len : 0;

	end = len < c->max_len ? len : c->max_len;
	normal = end < c->avg_len ? end : c->avg_len;

	n = fastcdc_scan(c->gear, buf, c->min_len, normal, c->mask_s, &fp);
	if (n)
		return n;
	n = fastcdc_scan(c->gear, buf, normal, end, c->mask_l, &fp);
	if (n)
		return n;

	/* No content-defined cut in buf[0..end). A cut found above is final
	 * even with len < max_len, since it depends only on bytes before it;
	 * having found none, more bytes could still yield one. */
	if (end == c->max_len || at_eof)
		return end;
	return 0;
}
