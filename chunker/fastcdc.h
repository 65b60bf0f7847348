/* fastcdc.h — content-defined chunking: bytes in, cut points out.
 *
 * Owns: the FastCDC cut-point search with normalized chunking (a strict
 * mask below the average size, a loose one above), over a gear table that
 * the caller supplies (strata derives it from the repository key, so chunk
 * boundaries reveal nothing about content to someone without the key).
 *
 * Never: reads files, allocates, or keeps state between chunks. A cut is a
 * pure function of (gear, params, the bytes from the chunk start), which is
 * what makes cut points identical whatever read-buffer sizes a caller uses.
 *
 * Thread safety: a FastCdc is read-only after fastcdc_init(); share freely.
 */
#ifndef STRATA_CHUNKER_FASTCDC_H
#define STRATA_CHUNKER_FASTCDC_H

#include <stddef.h>
#include <stdint.h>

/* Bounds on parameters accepted by fastcdc_init(). */
#define FASTCDC_MIN_AVG  256u
#define FASTCDC_MAX_MAX  (64u << 20)

typedef struct FastCdc {
	uint64_t gear[256];
	uint64_t mask_s;      /* top log2(avg)+2 bits; used from min_len to avg_len:
	                       * harder to match (P = 1/(4 avg) per byte) */
	uint64_t mask_l;      /* top log2(avg)-2 bits; used from avg_len to max_len:
	                       * easier to match (P = 4/avg per byte) */
	uint32_t min_len;
	uint32_t avg_len;
	uint32_t max_len;
} FastCdc;

/* fastcdc_init — set up a chunker.
 * gear: 256 pseudo-random 64-bit values (copied).
 * Requires min_len >= 64, avg_len a power of two with
 * FASTCDC_MIN_AVG <= avg_len, min_len < avg_len < max_len <= FASTCDC_MAX_MAX.
 * Returns 0, or -EINVAL when c or gear is NULL or the sizes break those
 * rules (c untouched). */
int fastcdc_init(FastCdc *c, const uint64_t gear[256],
                 uint32_t min_len, uint32_t avg_len, uint32_t max_len);

/* fastcdc_cut — length of the chunk that starts at buf[0].
 * buf holds len bytes from the chunk start; at_eof says no more follow.
 * Returns:
 *   n in [1, len]  the chunk is buf[0..n). A cut found before max_len is
 *                  final even when len < max_len, because it depends only on
 *                  the bytes before it.
 *   0              no cut in buf[0..len) yet and more bytes could make one
 *                  (len < max_len and !at_eof), or len == 0.
 * Never returns more than max_len; unless at eof, returns more than min_len
 * (the first min_len bytes are skipped, so the shortest cut is min_len + 1).
 * Cost: each call scans from offset min_len again, so a caller should offer
 * at least max_len bytes whenever it has them (a read buffer of max_len plus
 * one read); calling again after every small read is correct but slower. */
size_t fastcdc_cut(const FastCdc *c, const uint8_t *buf, size_t len, int at_eof);

#endif
