/* fuzz_indexfile.c — indexfile_decode on a decrypted, decompressed index
 * file (FORMAT.md §10).
 *
 * Properties: no crash and no allocation the input cannot back; only the
 * documented codes; every accepted pack is of a known kind, holds blobs of
 * the matching kind, each inside the pack and at least a sealed blob long;
 * the counts account for every input byte.
 */
#include "fuzz/fuzz.h"
#include "store/indexfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	IndexFilePack *p = NULL;
	size_t n = 0, bytes = 5;
	int rc;

	rc = indexfile_decode(data, size, &p, &n);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT || rc == STRATA_EVERSION);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(p[i].kind <= 1);
		bytes += CODEC_ID_LEN + 1 + 8 + 4 + p[i].n * PACK_ENTRY_LEN;
		for (size_t j = 0; j < p[i].n; j++) {
			const PackEntry *e = &p[i].entries[j];
			FUZZ_ASSERT(e->type <= BLOB_TYPE_MAX);
			FUZZ_ASSERT((e->type == BLOB_DATA) == (p[i].kind == 0));
			FUZZ_ASSERT((uint64_t)e->offset + e->length <= p[i].size);
			FUZZ_ASSERT(e->length >= CODEC_BLOB_OVERHEAD);
		}
	}
	FUZZ_ASSERT(bytes == size);
	indexfile_packs_free(p, n);
	return 0;
}
