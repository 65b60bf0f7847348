/* restore_plan.h — the restore read planner: which byte ranges of which
 * packs to fetch so that a batch of chunk references is served with few
 * requests and every chunk is fetched and decrypted once.
 *
 * Owns: collecting references "chunk ID -> (file, offset in file)", looking
 * each distinct chunk up once in the index, grouping the chunks by pack,
 * sorting them by offset in their pack, and coalescing neighbours into
 * ranges: two blobs of one pack share a range when the gap between them is
 * at most gap_max bytes and the range stays within range_max bytes. A pack
 * whose needed blobs are dense becomes one range (one GET of most of the
 * pack); a big pack of which a restore needs a few chunks becomes a few
 * small ranges.
 *
 * Why coalesce at all: on S3 each request costs ~10-50 ms of latency and a
 * fee, a 32 KiB chunk a few microseconds of transfer; reading up to 1 MiB
 * of unneeded bytes is cheaper than one more request.
 *
 * Never: fetches or decrypts (restore.c does, with the plan), prints,
 * touches files. Memory: 48 bytes per reference plus 96 per distinct
 * chunk; the caller bounds a batch.
 *
 * Frames (FORMAT.md 9a): a chunk that is a frame's member is planned as
 * its frame's bytes; the members of one frame a batch needs sort next to
 * each other (by RAW_OFFSET) in one range, so that the frame is fetched
 * and opened once for all of them.
 *
 * Thread safety: a plan belongs to one thread while it is built; once
 * built, ranges, blobs and refs may be read from any number of threads.
 */
#ifndef STRATA_STORE_RESTORE_PLAN_H
#define STRATA_STORE_RESTORE_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/index.h"
#include "store/repo.h"

/* Defaults: ranges closer than 1 MiB are merged (at ~100 MB/s and ~20 ms
 * per request, 1 MiB of waste costs about what one more request does);
 * a range holds at most 17 MiB: a pack closes once it reaches the pack
 * size (16 MiB by default), so it overshoots by at most one blob (128 KiB
 * + 41), and a whole default pack is one request while the memory per
 * job stays bounded. */
#define RESTORE_PLAN_GAP_MAX   (1u << 20)
#define RESTORE_PLAN_RANGE_MAX (17u << 20)

/* One place a chunk goes: file number (the caller's) and offset in it. */
typedef struct RestorePlanRef {
	uint32_t file;
	uint64_t file_off;
} RestorePlanRef;

/* One distinct chunk: where it lives and which refs want it. */
typedef struct RestorePlanBlob {
	uint8_t  id[STRATA_ID_LEN];
	uint32_t pack_off;          /* sealed blob's offset in its pack (a member's: its frame's) */
	uint32_t length;            /* sealed length (a member's: its frame's) */
	uint32_t raw_len;
	uint32_t frame_raw;         /* a frame member (FORMAT.md 9a): the frame's RAW_LENGTH; 0 for a blob */
	uint32_t member_off;        /* a member: where it starts in the frame's plaintext */
	size_t   first_ref, nrefs;  /* into restore_plan_refs() */
} RestorePlanBlob;

/* One request: bytes [off, off + len) of a pack, holding blobs
 * [first_blob, first_blob + nblobs) in offset order. */
typedef struct RestorePlanRange {
	uint8_t  pack[STRATA_ID_LEN];
	uint64_t off, len;
	uint64_t raw_bytes;         /* sum of the blobs' raw lengths */
	size_t   first_blob, nblobs;
} RestorePlanRange;

typedef struct RestorePlan RestorePlan;

/* restore_plan_new — an empty plan; gap_max/range_max 0 pick the defaults.
 * NULL when out of memory. */
RestorePlan *restore_plan_new(uint32_t gap_max, uint32_t range_max);

/* restore_plan_add — chunk id of raw_len bytes goes to file at file_off.
 * -ENOMEM. */
int restore_plan_add(RestorePlan *p, const uint8_t id[STRATA_ID_LEN], uint32_t raw_len,
                     uint32_t file, uint64_t file_off);

/* restore_plan_nrefs — references added since the last reset. */
size_t restore_plan_nrefs(const RestorePlan *p);

/* restore_plan_build — look every distinct chunk up in ix, check the
 * index agrees with the references (a data blob of that raw length), and
 * make the ranges. On STRATA_EDAMAGED (a chunk missing from the index or
 * disagreeing with it) *out_bad holds one reference to it and *out_bad_id
 * its ID, so the caller can name the file; -ENOMEM. */
int restore_plan_build(RestorePlan *p, Index *ix, RestorePlanRef *out_bad,
                       uint8_t out_bad_id[STRATA_ID_LEN]);

/* The built plan; valid until the next add, reset or free. */
size_t restore_plan_nranges(const RestorePlan *p);
const RestorePlanRange *restore_plan_ranges(const RestorePlan *p);
const RestorePlanBlob *restore_plan_blobs(const RestorePlan *p);
const RestorePlanRef *restore_plan_refs(const RestorePlan *p);

/* restore_plan_fetch_bytes — total bytes the ranges ask for. */
uint64_t restore_plan_fetch_bytes(const RestorePlan *p);

/* restore_plan_reset — empty the plan for the next batch (keeps memory). */
void restore_plan_reset(RestorePlan *p);

/* restore_plan_free — accepts NULL. */
void restore_plan_free(RestorePlan *p);

#endif
