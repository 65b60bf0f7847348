/* pagerun.h — chunking of page-structured files: cuts at page boundaries.
 *
 * Owns: the cut rule for a file that is an array of fixed-size pages that
 * never move within it (a PostgreSQL relation file: block N always sits at
 * N * 8 KiB): every chunk is a run of run_len bytes, a whole number of
 * pages, counted from the stream's start; the last chunk holds what is
 * left (FORMAT.md §13a). An updated page then changes exactly the one
 * chunk holding it, where content-defined cuts would change the chunk
 * around it and, as often as not, a neighbour whose cut moved.
 *
 * Never: reads files, allocates, or keeps state between chunks. Like
 * fastcdc_cut, a cut depends only on the bytes from the chunk start (here:
 * on how many there are), so cuts are the same whatever read sizes a
 * caller uses, and re-chunking from any earlier cut point reproduces all
 * later ones.
 *
 * Thread safety: pure functions.
 */
#ifndef STRATA_CHUNKER_PAGERUN_H
#define STRATA_CHUNKER_PAGERUN_H

#include <stddef.h>
#include <stdint.h>

/* pagerun_cut — length of the chunk that starts at the stream's offset
 * k * run_len, with len bytes of the stream available from there and
 * at_eof saying that no more follow.
 * Returns run_len when len >= run_len; len when at_eof (the last chunk,
 * 1 .. run_len bytes); 0 when more bytes are needed or len == 0, or when
 * run_len == 0 (not a valid run: the caller's bug, reported as "no cut"). */
size_t pagerun_cut(uint32_t run_len, size_t len, int at_eof);

#endif
