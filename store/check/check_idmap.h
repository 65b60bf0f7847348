/* check_idmap.h — CheckIdMap: a hash map from 32-byte IDs to a u64, used
 * by check and repair for packs, chunks and trees met once each.
 *
 * Owns: its arrays. Open addressing on the ID's first 8 bytes, which is
 * enough because IDs are uniform hashes; grows at half full.
 *
 * Thread safety: none; the caller locks.
 */
#ifndef STRATA_STORE_CHECK_IDMAP_H
#define STRATA_STORE_CHECK_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "store/repo.h"      /* STRATA_ID_LEN */

/* A zeroed CheckIdMap is empty and ready. */
typedef struct CheckIdMap {
	uint8_t (*keys)[STRATA_ID_LEN];
	uint64_t *vals;
	uint8_t  *used;
	size_t    cap, n;
} CheckIdMap;

/* check_idmap_put — insert or replace. -ENOMEM (the map is unchanged). */
int check_idmap_put(CheckIdMap *m, const uint8_t id[STRATA_ID_LEN], uint64_t val);
/* check_idmap_get — 1 and *out_val (may be NULL) if present, else 0. */
int check_idmap_get(const CheckIdMap *m, const uint8_t id[STRATA_ID_LEN], uint64_t *out_val);
/* check_idmap_free — release the arrays; the map is then empty. */
void check_idmap_free(CheckIdMap *m);

#endif
