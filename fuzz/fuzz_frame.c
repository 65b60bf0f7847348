/* fuzz_frame.c — the frame codec of FORMAT.md §9a (format 3):
 * the first byte picks the decoder, the rest is its input.
 *   0: frame_header_parse of a frame plaintext P;
 *   1: frame_entries_check of BLOB_AREA (u64 LE) || 45-byte trailer
 *      entries (§9 layout; for a member entry OFFSET is RAW_OFFSET), and
 *      pack_trailer_parse_frames / pack_trailer_parse of the same entries
 *      as an ENTRIES version 2 plaintext;
 *   2: frame_open of a sealed frame under the fixed fuzz key, RAW_LENGTH
 *      (u32 LE) || sealed bytes.
 *
 * Properties: no crash; only the documented codes; an accepted header's
 * members have lengths >= 1 and lie end to end from the header's end to
 * the end of P, and frame_plain_build of them rebuilds P byte for byte;
 * the trailer parser with frames accepts exactly the entries the rules
 * accept that hold a frame, as they are, and without frames refuses them
 * as newer;
 * accepted entries: blob and frame entries end to end from 0 exactly up
 * to BLOB_AREA, each frame followed by members that tile its plaintext
 * after its header; an opened frame's members tile its RAW_LENGTH.
 */
#include <errno.h>

#include "fuzz/fuzz.h"
#include "store/frame.h"

static void header_mode(const uint8_t *p, size_t len)
{
	static FrameMember mem[FRAME_MAX_MEMBERS];
	uint8_t ids[FRAME_MAX_MEMBERS][CODEC_ID_LEN];
	const uint8_t *data[FRAME_MAX_MEMBERS];
	uint32_t lens[FRAME_MAX_MEMBERS];
	uint8_t *out = NULL;
	size_t m = 0, out_len = 0;
	int rc = frame_header_parse(p, len, mem, &m);

	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT || rc == STRATA_EVERSION);
		return;
	}
	FUZZ_ASSERT(m >= 1 && m <= FRAME_MAX_MEMBERS && m == p[1]);
	uint64_t pos = FRAME_HEADER_LEN(m);
	for (size_t i = 0; i < m; i++) {
		FUZZ_ASSERT(mem[i].off == pos && mem[i].len >= 1);
		pos += mem[i].len;
		memcpy(ids[i], mem[i].id, CODEC_ID_LEN);
		data[i] = p + mem[i].off;
		lens[i] = mem[i].len;
		FUZZ_ASSERT(frame_member_at(mem, m, mem[i].id, mem[i].off, mem[i].len) == 0);
		FUZZ_ASSERT(frame_member_at(mem, m, mem[i].id, mem[i].off + 1, mem[i].len) == STRATA_EDAMAGED);
	}
	FUZZ_ASSERT(pos == len);
	rc = frame_plain_build((const uint8_t (*)[CODEC_ID_LEN])ids, data, lens, m, &out, &out_len);
	if (rc == -ENOMEM)
		return;
	FUZZ_ASSERT(rc == 0 && out_len == len && memcmp(out, p, len) == 0);
	free(out);
}

static void entries_mode(const uint8_t *p, size_t len)
{
	PackEntry *e;
	size_t n;
	uint64_t area, next = 0;

	if (len < 8)
		return;
	area = format_get_le64(p);
	p += 8;
	len -= 8;
	n = len / PACK_ENTRY_LEN;
	e = calloc(n ? n : 1, sizeof *e);
	if (!e)
		return;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *r = p + i * PACK_ENTRY_LEN;

		e[i].type = r[0];
		memcpy(e[i].id, r + 1, CODEC_ID_LEN);
		e[i].offset = format_get_le32(r + 33);
		e[i].length = format_get_le32(r + 37);
		e[i].raw_len = format_get_le32(r + 41);
	}
	int rc = frame_entries_check(e, n, area);
	/* The same entries as an ENTRIES version 2 trailer plaintext: a reader
	 * of format 3 takes exactly what the rules take; one of format 2
	 * refuses it as newer. */
	uint8_t *plain = malloc(5 + n * PACK_ENTRY_LEN);
	if (plain) {
		PackEntry *pe = NULL;
		size_t pn = 0;
		int prc;

		plain[0] = FORMAT_VERSION_TRAILER_FRAMES;
		format_put_le32(plain + 1, (uint32_t)n);
		memcpy(plain + 5, p, n * PACK_ENTRY_LEN);
		prc = pack_trailer_parse_frames(plain, 5 + n * PACK_ENTRY_LEN, area, 1, &pe, &pn);
		int has_frame = 0;
		for (size_t i = 0; i < n; i++)
			has_frame |= e[i].type == FORMAT_BLOB_FRAME;
		/* version 2 without a frame is malformed (no writer makes it) */
		FUZZ_ASSERT(prc == -ENOMEM || (prc == 0) == (rc == 0 && has_frame));
		FUZZ_ASSERT(prc != 0 || pn == n);
		for (size_t i = 0; prc == 0 && i < n; i++)
			FUZZ_ASSERT(pe[i].type == e[i].type && memcmp(pe[i].id, e[i].id, CODEC_ID_LEN) == 0 &&
			            pe[i].offset == e[i].offset && pe[i].length == e[i].length &&
			            pe[i].raw_len == e[i].raw_len);
		free(pe);
		FUZZ_ASSERT(pack_trailer_parse(plain, 5 + n * PACK_ENTRY_LEN, area, &pe, &pn) == STRATA_EVERSION);
		free(plain);
	}
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT);
		free(e);
		return;
	}
	for (size_t i = 0; i < n;) {
		FUZZ_ASSERT(e[i].type <= FORMAT_BLOB_FRAME && e[i].offset == next);
		FUZZ_ASSERT(e[i].length >= CODEC_BLOB_OVERHEAD && e[i].length <= (uint64_t)e[i].raw_len + CODEC_BLOB_OVERHEAD);
		next += e[i].length;
		if (e[i].type != FORMAT_BLOB_FRAME) {
			i++;
			continue;
		}
		size_t k = i + 1;
		while (k < n && e[k].type == FORMAT_BLOB_MEMBER)
			k++;
		FUZZ_ASSERT(k > i + 1);
		uint64_t pos = FRAME_HEADER_LEN(k - i - 1);
		for (size_t j = i + 1; j < k; j++) {
			FUZZ_ASSERT(e[j].offset == pos && e[j].length == 0 && e[j].raw_len >= 1);
			pos += e[j].raw_len;
		}
		FUZZ_ASSERT(pos == e[i].raw_len);
		i = k;
	}
	FUZZ_ASSERT(next == area);
	free(e);
}

static void open_mode(const uint8_t *p, size_t len)
{
	static FrameMember mem[FRAME_MAX_MEMBERS];
	CodecCtx *ctx;
	uint8_t *out;
	uint32_t raw;
	size_t m = 0;
	int rc;

	if (len < 4)
		return;
	raw = format_get_le32(p);
	if (raw > len * 4 + 4096 || raw > FRAME_MAX_RAW)
		return;                  /* keep allocations backed by the input */
	ctx = codec_ctx_new();
	out = malloc(raw ? raw : 1);
	if (ctx && out) {
		rc = frame_open(ctx, fuzz_keys(), p + 4, len - 4, out, raw, mem, &m);
		if (rc == 0) {
			FUZZ_ASSERT(m >= 1 && mem[m - 1].off + (uint64_t)mem[m - 1].len == raw);
			(void)frame_verify(fuzz_keys(), out, mem, m, NULL);
		} else {
			FUZZ_ASSERT(rc == STRATA_EAUTH || rc == STRATA_EFORMAT || rc == STRATA_EVERSION || rc == -ENOMEM);
		}
	}
	free(out);
	codec_ctx_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: header_mode(data + 1, size - 1); break;
	case 1: entries_mode(data + 1, size - 1); break;
	default: open_mode(data + 1, size - 1); break;
	}
	return 0;
}
