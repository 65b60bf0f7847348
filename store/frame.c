/* frame.c — the frame codec, see frame.h. FORMAT.md §9a. */
#include "store/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/format.h"

/* A frame is sealed under the zero ID: it has no ID of its own; its
 * HEADER, inside the sealed plaintext, names its chunks (§9a). */
static const uint8_t frame_zero_id[CODEC_ID_LEN];

int frame_plain_build(const uint8_t (*ids)[CODEC_ID_LEN], const uint8_t *const *data,
                      const uint32_t *lens, size_t m, uint8_t **out, size_t *out_len)
{
	size_t total, pos;
	uint8_t *p;

	if (m < 1 || m > FRAME_MAX_MEMBERS)
		return STRATA_EUSAGE;
	total = FRAME_HEADER_LEN(m);
	for (size_t i = 0; i < m; i++) {
		if (lens[i] < 1 || lens[i] > FRAME_MAX_RAW - total)
			return STRATA_EUSAGE;
		total += lens[i];
	}
	p = malloc(total);
	if (!p)
		return -ENOMEM;
	p[0] = FORMAT_VERSION_FRAME;
	p[1] = (uint8_t)m;
	pos = FRAME_HEADER_LEN(m);
	for (size_t i = 0; i < m; i++) {
		uint8_t *h = p + 2 + FRAME_MEMBER_LEN * i;

		memcpy(h, ids[i], CODEC_ID_LEN);
		format_put_le32(h + CODEC_ID_LEN, lens[i]);
		memcpy(p + pos, data[i], lens[i]);
		pos += lens[i];
	}
	*out = p;
	*out_len = total;
	return 0;
}

/* The IDs of one frame are distinct (FORMAT.md §9a): a repeat would let
 * one (ID, offset) lookup match two members. m <= 255: pairs are cheap. */
static int ids_distinct(const uint8_t *first, size_t stride, size_t m)
{
	for (size_t i = 1; i < m; i++)
		for (size_t j = 0; j < i; j++)
			if (memcmp(first + i * stride, first + j * stride, CODEC_ID_LEN) == 0)
				return 0;
	return 1;
}

int frame_header_parse(const uint8_t *p, size_t p_len, FrameMember *members, size_t *out_m)
{
	size_t m, pos;

	if (p_len < 2 || p_len > FRAME_MAX_RAW)
		return STRATA_EFORMAT;
	if (p[0] != FORMAT_VERSION_FRAME)
		return p[0] > FORMAT_VERSION_FRAME ? STRATA_EVERSION : STRATA_EFORMAT;
	m = p[1];
	if (m < 1 || FRAME_HEADER_LEN(m) > p_len)
		return STRATA_EFORMAT;
	pos = FRAME_HEADER_LEN(m);
	for (size_t i = 0; i < m; i++) {
		const uint8_t *h = p + 2 + FRAME_MEMBER_LEN * i;
		uint32_t len = format_get_le32(h + CODEC_ID_LEN);

		if (len < 1 || len > p_len - pos)
			return STRATA_EFORMAT;
		memcpy(members[i].id, h, CODEC_ID_LEN);
		members[i].off = (uint32_t)pos;
		members[i].len = len;
		pos += len;
	}
	if (pos != p_len || !ids_distinct(p + 2, FRAME_MEMBER_LEN, m))
		return STRATA_EFORMAT;
	*out_m = m;
	return 0;
}

int frame_seal(CodecCtx *ctx, const CodecKeys *keys, const uint8_t *p, size_t p_len, int level,
               uint8_t *out, size_t *out_len)
{
	return codec_blob_seal(ctx, keys, FORMAT_BLOB_FRAME, frame_zero_id, p, p_len, level, out, out_len);
}

int frame_open(CodecCtx *ctx, const CodecKeys *keys, const uint8_t *sealed, size_t sealed_len,
               uint8_t *out, size_t raw_len, FrameMember *members, size_t *out_m)
{
	int rc;

	if (raw_len > FRAME_MAX_RAW)
		return STRATA_EFORMAT;
	rc = codec_blob_decrypt(ctx, keys, FORMAT_BLOB_FRAME, frame_zero_id, sealed, sealed_len, out, raw_len);
	if (rc)
		return rc;
	return frame_header_parse(out, raw_len, members, out_m);
}

int frame_member_at(const FrameMember *members, size_t m, const uint8_t id[CODEC_ID_LEN],
                    uint32_t off, uint32_t len)
{
	/* Members are in offset order: binary search on off. */
	size_t lo = 0, hi = m;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (members[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < m && members[lo].off == off && members[lo].len == len &&
	    memcmp(members[lo].id, id, CODEC_ID_LEN) == 0)
		return 0;
	return STRATA_EDAMAGED;
}

int frame_open_member(CodecCtx *ctx, const CodecKeys *keys, const uint8_t *sealed, size_t sealed_len,
                      uint32_t frame_raw, const uint8_t id[CODEC_ID_LEN], uint32_t off, uint32_t len,
                      int check_id, uint8_t *out)
{
	FrameCursor fc = {0};
	int rc = frame_cursor_member(&fc, ctx, keys, 0, sealed, sealed_len, frame_raw, id, off, len, check_id, out);

	frame_cursor_free(&fc);
	return rc;
}

int frame_cursor_member(FrameCursor *fc, CodecCtx *ctx, const CodecKeys *keys, int64_t at, const uint8_t *sealed,
                        size_t sealed_len, uint32_t frame_raw, const uint8_t id[CODEC_ID_LEN], uint32_t off,
                        uint32_t len, int check_id, uint8_t *out)
{
	uint8_t got[CODEC_ID_LEN];
	int rc;

	if (!fc->valid || fc->at != at) {
		fc->valid = 0;
		if (!fc->members && !(fc->members = malloc(FRAME_MAX_MEMBERS * sizeof *fc->members)))
			return -ENOMEM;
		if (fc->cap < frame_raw) {
			free(fc->p);
			fc->cap = 0;
			if (!(fc->p = malloc(frame_raw ? frame_raw : 1)))
				return -ENOMEM;
			fc->cap = frame_raw;
		}
		rc = frame_open(ctx, keys, sealed, sealed_len, fc->p, frame_raw, fc->members, &fc->m);
		if (rc)
			return rc;
		fc->at = at;
		fc->valid = 1;
	}
	rc = frame_member_at(fc->members, fc->m, id, off, len);
	if (rc == 0 && check_id) {
		codec_chunk_id(keys, fc->p + off, len, got);
		if (memcmp(got, id, CODEC_ID_LEN) != 0)
			rc = STRATA_EDAMAGED;
	}
	if (rc == 0)
		memcpy(out, fc->p + off, len);
	return rc;
}

void frame_cursor_free(FrameCursor *fc)
{
	free(fc->p);
	free(fc->members);
	memset(fc, 0, sizeof *fc);
}

size_t frame_verify(const CodecKeys *keys, const uint8_t *p, const FrameMember *members, size_t m,
                    size_t *bad)
{
	size_t nbad = 0;

	for (size_t i = 0; i < m; i++) {
		uint8_t id[CODEC_ID_LEN];

		codec_chunk_id(keys, p + members[i].off, members[i].len, id);
		if (memcmp(id, members[i].id, CODEC_ID_LEN) != 0) {
			if (bad)
				bad[nbad] = i;
			nbad++;
		}
	}
	return nbad;
}

size_t frame_members_check(const PackEntry *e, size_t n, size_t i)
{
	const PackEntry *x = &e[i];
	size_t k = i + 1, m;
	uint64_t pos;

	for (size_t b = 0; b < CODEC_ID_LEN; b++)
		if (x->id[b])
			return 0;
	while (k < n && e[k].type == FORMAT_BLOB_MEMBER)
		k++;
	m = k - i - 1;
	if (m < 1 || m > FRAME_MAX_MEMBERS || x->raw_len > FRAME_MAX_RAW)
		return 0;
	pos = FRAME_HEADER_LEN(m);
	for (k = i + 1; k <= i + m; k++) {
		if (e[k].offset != pos || e[k].length != 0 || e[k].raw_len < 1)
			return 0;
		pos += e[k].raw_len;
	}
	if (pos != x->raw_len || !ids_distinct(e[i + 1].id, sizeof *e, m))
		return 0;
	return m;
}

int frame_entries_check(const PackEntry *e, size_t n, uint64_t blob_area)
{
	uint64_t next = 0;
	size_t i = 0;

	while (i < n) {
		const PackEntry *x = &e[i];

		if (x->type > FORMAT_BLOB_FRAME)
			return STRATA_EFORMAT;    /* a member entry without its frame, or unknown */
		if (x->offset != next || x->length < CODEC_BLOB_OVERHEAD ||
		    (uint64_t)x->length > (uint64_t)x->raw_len + CODEC_BLOB_OVERHEAD)
			return STRATA_EFORMAT;
		next += x->length;
		if (x->type != FORMAT_BLOB_FRAME) {
			i++;
			continue;
		}
		size_t m = frame_members_check(e, n, i);
		if (m == 0)
			return STRATA_EFORMAT;
		i += m + 1;
	}
	return next == blob_area ? 0 : STRATA_EFORMAT;
}
