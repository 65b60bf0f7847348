/* fuzz_indexfile.c — indexfile_decode on a decrypted, decompressed index
 * file (FORMAT.md §10), and indexfile_decode_frames, which also reads
 * CONTENT version 2 with frames (§9a, format 3).
 *
 * Properties: no crash and no allocation the input cannot back; only the
 * documented codes; every accepted pack is of a known kind, holds blobs of
 * the matching kind, each inside the pack and at least a sealed blob long;
 * the counts account for every input byte. With frames: whatever the
 * format-2 decoder accepts it accepts too, and version 2 is what the
 * other refuses as newer; every frame is in a data pack, inside it, and
 * followed by members that tile its plaintext; indexfile_encode of what
 * it accepted gives the input back byte for byte.
 */
#include <errno.h>

#include "fuzz/fuzz.h"
#include "store/frame.h"
#include "store/indexfile.h"

static void frames_mode(const uint8_t *data, size_t size, int v1_rc)
{
	IndexFilePack *p = NULL;
	uint8_t *again = NULL;
	size_t n = 0, len = 0;
	int rc = indexfile_decode_frames(data, size, 1, &p, &n);

	if (v1_rc == 0)
		FUZZ_ASSERT(rc == 0);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT || rc == STRATA_EVERSION || rc == -ENOMEM);
		return;
	}
	if (data[0] == FORMAT_VERSION_INDEX_FRAMES)
		FUZZ_ASSERT(v1_rc == STRATA_EVERSION);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < p[i].n;) {
			const PackEntry *e = &p[i].entries[j];
			FUZZ_ASSERT(e->type <= FORMAT_BLOB_FRAME);
			FUZZ_ASSERT((uint64_t)e->offset + e->length <= p[i].size && e->length >= CODEC_BLOB_OVERHEAD);
			if (e->type != FORMAT_BLOB_FRAME) {
				FUZZ_ASSERT((e->type == BLOB_DATA) == (p[i].kind == 0));
				j++;
				continue;
			}
			FUZZ_ASSERT(p[i].kind == PACK_KIND_DATA);
			size_t m = frame_members_check(p[i].entries, p[i].n, j);
			FUZZ_ASSERT(m >= 1);
			j += m + 1;
		}
	}
	rc = indexfile_encode(p, n, &again, &len);
	if (rc == 0) {
		FUZZ_ASSERT(len == size && memcmp(again, data, size) == 0);
		free(again);
	} else {
		FUZZ_ASSERT(rc == -ENOMEM);
	}
	indexfile_packs_free(p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	IndexFilePack *p = NULL;
	size_t n = 0, bytes = 5;
	int rc;

	rc = indexfile_decode(data, size, &p, &n);
	frames_mode(data, size, rc);
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
