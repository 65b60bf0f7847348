/* fuzz_pack_trailer.c — a whole pack file from storage: pack_footer_decode
 * on its last 12 bytes, then pack_trailer_decode (authenticate + parse) of
 * the trailer it names, under the fixed fuzz key (FORMAT.md §9).
 *
 * Seeds are packs sealed under that key, so the parse is reached; most
 * mutations fail authentication, which is why fuzz_trailer_plain.c fuzzes
 * the parser behind it directly.
 *
 * Properties: no crash; only the documented codes; an accepted trailer's
 * entries lie end to end from offset 0 exactly up to the trailer.
 */
#include "fuzz/fuzz.h"
#include "store/pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PackEntry *e = NULL;
	size_t n = 0;
	uint32_t tlen = 0;
	uint64_t next = 0;
	int rc;

	if (size < PACK_FOOTER_LEN)
		return 0;
	if (pack_footer_decode(data + size - PACK_FOOTER_LEN, size, &tlen) != 0)
		return 0;
	FUZZ_ASSERT((uint64_t)tlen + PACK_FOOTER_LEN <= size);
	rc = pack_trailer_decode(fuzz_keys(), data + size - PACK_FOOTER_LEN - tlen, tlen, size, &e, &n);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EAUTH || rc == STRATA_EFORMAT || rc == STRATA_EVERSION);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(e[i].type <= BLOB_TYPE_MAX && e[i].offset == next);
		FUZZ_ASSERT(e[i].length >= CODEC_BLOB_OVERHEAD);
		next += e[i].length;
	}
	FUZZ_ASSERT(next == size - PACK_FOOTER_LEN - tlen);
	free(e);
	return 0;
}
