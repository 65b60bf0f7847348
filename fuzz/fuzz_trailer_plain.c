/* fuzz_trailer_plain.c — pack_trailer_parse on a decrypted trailer
 * (FORMAT.md §9): what an attacker holding the key, or a bug in a writer,
 * could put behind a valid tag.
 *
 * Input: BLOB_AREA (u64 LE, the bytes of the pack before its trailer) ||
 * trailer plaintext.
 * Properties: no crash and no allocation the input cannot back; only the
 * documented codes; accepted entries are of known types, lie end to end
 * from offset 0, cover the blob area exactly and are no longer than their
 * raw length plus the blob overhead.
 */
#include "fuzz/fuzz.h"
#include "store/pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PackEntry *e = NULL;
	size_t n = 0;
	uint64_t area, next = 0;
	int rc;

	if (size < 8)
		return 0;
	area = fuzz_le64(data);
	rc = pack_trailer_parse(data + 8, size - 8, area, &e, &n);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT || rc == STRATA_EVERSION);
		return 0;
	}
	FUZZ_ASSERT(size - 8 == 5 + n * PACK_ENTRY_LEN && n <= PACK_MAX_ENTRIES);
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(e[i].type <= BLOB_TYPE_MAX && e[i].offset == next);
		FUZZ_ASSERT(e[i].length >= CODEC_BLOB_OVERHEAD);
		FUZZ_ASSERT(e[i].length <= (uint64_t)e[i].raw_len + CODEC_BLOB_OVERHEAD);
		next += e[i].length;
	}
	FUZZ_ASSERT(next == area);
	free(e);
	return 0;
}
