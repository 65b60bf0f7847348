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
	uint64_t mask_s;      /* used between min_len and avg_len: harder to match */
	uint64_t mask_l;      /* used between avg_len and max_len: easier to match */
	uint32_t min_len;
	uint32_t avg_len;
	uint32_t max_len;
} FastCdc;

/* fastcdc_init — set up a chunker.
 * gear: 256 pseudo-random 64-bit values (copied).
 * Requires min_len >= 64, avg_len a power of two with
 * FASTCDC_MIN_AVG <= avg_len, min_len < avg_len < max_len <= FASTCDC_MAX_MAX.
 * Returns 0, or -EINVAL when the sizes break those rules (c untouched). */
int fastcdc_init(FastCdc *c, const uint64_t gear[256],
                 uint32_t min_len, uint32_t avg_len, uint32_t max_len);

/* fastcdc_cut — length of the chunk that starts at buf[0].
 * buf holds len bytes from the chunk start; at_eof says no more follow.
 * Returns:
 *   n in [1, len]  the chunk is buf[0..n)
 *   0              more bytes are needed (len < max_len and !at_eof),
 *                  or len == 0.
 * Never returns more than max_len; returns less than min_len only at eof. */
size_t fastcdc_cut(const FastCdc *c, const uint8_t *buf, size_t len, int at_eof);

#endif
