/* pack.c — see pack.h. FORMAT.md "Pack file". */
#include "store/pack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/format.h"
#include "store/frame.h"
#include "store/repo_internal.h"

/* The table's trailer bound is what a reader of this layout accepts. */
_Static_assert(OBJSIZE_TRAILER_MAX == SEALED_HEADER_LEN + CODEC_NONCE_LEN + CODEC_TAG_LEN + 5 +
               (size_t)PACK_MAX_ENTRIES * PACK_ENTRY_LEN, "remote/objsize.h: OBJSIZE_TRAILER_MAX");
_Static_assert(OBJSIZE_SEALED_OVERHEAD == SEALED_HEADER_LEN + CODEC_NONCE_LEN + CODEC_TAG_LEN,
               "remote/objsize.h: OBJSIZE_SEALED_OVERHEAD");


void pack_builder_init(PackBuilder *pb, CodecNameHash alg)
{
	memset(pb, 0, sizeof *pb);
	codec_name_init(&pb->hash, alg);
}

void pack_builder_free(PackBuilder *pb)
{
	free(pb->buf);
	free(pb->entries);
	codec_name_release(&pb->hash);
	memset(pb, 0, sizeof *pb);
}

void pack_builder_reset(PackBuilder *pb)
{
	pb->len = 0;
	pb->n = 0;
	pb->hashed = 0;
	pb->nframes = 0;
	codec_name_init(&pb->hash, pb->hash.alg);
}

/* Page-aligned, so that a local backend writes the pack straight from it
 * with O_DIRECT (remote/local.c) instead of copying it through a bounce
 * buffer: 1.5 GB of copies and 17,500 page faults in a 2 GiB first
 * backup. realloc keeps no alignment, so growing copies (data packs are
 * sized once; only tree packs grow). */
#define PACK_BUF_ALIGN 4096

static int grow(PackBuilder *pb, size_t need)
{
	size_t cap;
	void *p;

	if (pb->cap >= need)
		return 0;
	cap = pb->cap ? pb->cap : (1u << 20);
	while (cap < need)
		cap *= 2;
	if (posix_memalign(&p, PACK_BUF_ALIGN, cap) != 0)
		return -ENOMEM;
	if (pb->len)
		memcpy(p, pb->buf, pb->len);
	free(pb->buf);
	pb->buf = p;
	pb->cap = cap;
	return 0;
}

int pack_builder_reserve(PackBuilder *pb, size_t len, uint8_t **out_dst)
{
	int rc;

	if (pb->len + len > UINT32_MAX - (1u << 20))
		return -EFBIG;
	rc = grow(pb, pb->len + len);
	if (rc)
		return rc;
	*out_dst = pb->buf + pb->len;
	return 0;
}

/* Room for k more entries. */
static int entries_room(PackBuilder *pb, size_t k)
{
	if (pb->n + k > pb->entries_cap) {
		size_t cap = pb->entries_cap ? 2 * pb->entries_cap : 256;
		while (cap < pb->n + k)
			cap *= 2;
		PackEntry *p = realloc(pb->entries, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		pb->entries = p;
		pb->entries_cap = cap;
	}
	return 0;
}

int pack_builder_commit(PackBuilder *pb, uint8_t type, const uint8_t id[CODEC_ID_LEN],
                        size_t sealed_len, uint32_t raw_len)
{
	PackEntry *e;
	int rc = entries_room(pb, 1);

	if (rc)
		return rc;
	e = &pb->entries[pb->n++];
	e->type = type;
	memcpy(e->id, id, CODEC_ID_LEN);
	e->offset = (uint32_t)pb->len;
	e->length = (uint32_t)sealed_len;
	e->raw_len = raw_len;
	pb->len += sealed_len;
	return 0;
}

int pack_builder_commit_frame(PackBuilder *pb, const uint8_t (*ids)[CODEC_ID_LEN], const uint32_t *lens,
                              size_t m, size_t sealed_len, uint32_t p_len)
{
	uint64_t off = FRAME_HEADER_LEN(m);
	PackEntry *e;
	int rc;

	if (m < 1 || m > FRAME_MAX_MEMBERS)
		return STRATA_EUSAGE;
	rc = entries_room(pb, m + 1);
	if (rc)
		return rc;
	e = &pb->entries[pb->n];
	memset(e, 0, sizeof *e);
	e->type = FORMAT_BLOB_FRAME;
	e->offset = (uint32_t)pb->len;
	e->length = (uint32_t)sealed_len;
	e->raw_len = p_len;
	for (size_t i = 0; i < m; i++) {
		PackEntry *x = &e[1 + i];

		x->type = FORMAT_BLOB_MEMBER;
		memcpy(x->id, ids[i], CODEC_ID_LEN);
		x->offset = (uint32_t)off;
		x->length = 0;
		x->raw_len = lens[i];
		off += lens[i];
	}
	if (off != p_len)
		return STRATA_EUSAGE;
	pb->n += m + 1;
	pb->nframes++;
	pb->len += sealed_len;
	return 0;
}

void pack_builder_hash(PackBuilder *pb, size_t len)
{
	codec_name_update(&pb->hash, pb->buf + pb->hashed, len);
	pb->hashed += len;
}

int pack_builder_finish(PackBuilder *pb, const CodecKeys *keys, uint8_t out_id[CODEC_ID_LEN])
{
	size_t plain_len = 1 + 4 + pb->n * PACK_ENTRY_LEN, sealed_len = 0;
	uint8_t *plain = malloc(plain_len), *sealed = NULL, *p;
	int rc;

	if (!plain)
		return -ENOMEM;
	if (pb->hashed < pb->len)
		pack_builder_hash(pb, pb->len - pb->hashed);
	/* A pack without frames keeps ENTRIES version 1, byte for byte. */
	plain[0] = pb->nframes ? FORMAT_VERSION_TRAILER_FRAMES : FORMAT_VERSION_TRAILER;
	format_put_le32(plain + 1, (uint32_t)pb->n);
	p = plain + 5;
	for (size_t i = 0; i < pb->n; i++) {
		const PackEntry *e = &pb->entries[i];
		*p++ = e->type;
		memcpy(p, e->id, CODEC_ID_LEN);
		p += CODEC_ID_LEN;
		format_put_le32(p, e->offset);
		format_put_le32(p + 4, e->length);
		format_put_le32(p + 8, e->raw_len);
		p += 12;
	}
	rc = sealed_encode(keys, FORMAT_MAGIC_TRAILER, FORMAT_VERSION_TRAILER, plain, plain_len, &sealed, &sealed_len);
	free(plain);
	if (rc)
		return rc;
	rc = grow(pb, pb->len + sealed_len + PACK_FOOTER_LEN);
	if (rc) {
		free(sealed);
		return rc;
	}
	p = pb->buf + pb->len;
	memcpy(p, sealed, sealed_len);
	format_put_le32(p + sealed_len, (uint32_t)sealed_len);
	memcpy(p + sealed_len + 4, FORMAT_MAGIC_PACK, FORMAT_MAGIC_LEN);
	pb->len += sealed_len + PACK_FOOTER_LEN;
	pack_builder_hash(pb, sealed_len + PACK_FOOTER_LEN);
	free(sealed);
	return codec_name_final(&pb->hash, out_id);
}

int pack_footer_decode(const uint8_t footer[PACK_FOOTER_LEN], uint64_t pack_size,
                       uint32_t *out_trailer_len)
{
	uint32_t len;

	if (memcmp(footer + 4, FORMAT_MAGIC_PACK, FORMAT_MAGIC_LEN) != 0)
		return STRATA_EFORMAT;
	len = format_get_le32(footer);
	/* Bounded before the trailer is read (remote/objsize.h): no trailer
	 * longer than one listing PACK_MAX_ENTRIES entries can be accepted,
	 * so reading one would only cost memory. */
	if (len < SEALED_HEADER_LEN + CODEC_NONCE_LEN + CODEC_TAG_LEN || len > OBJSIZE_TRAILER_MAX ||
	    (uint64_t)len + PACK_FOOTER_LEN > pack_size)
		return STRATA_EFORMAT;
	*out_trailer_len = len;
	return 0;
}

int pack_trailer_parse(const uint8_t *plain, size_t plain_len, uint64_t blob_area,
                       PackEntry **out, size_t *out_n)
{
	return pack_trailer_parse_frames(plain, plain_len, blob_area, 0, out, out_n);
}

int pack_trailer_parse_frames(const uint8_t *plain, size_t plain_len, uint64_t blob_area, int frames,
                              PackEntry **out, size_t *out_n)
{
	PackEntry *entries = NULL;
	uint64_t next = 0;
	const uint8_t *p;
	size_t n;
	int rc = STRATA_EFORMAT;

	if (plain_len < 5)
		goto out;
	int v2 = frames && plain[0] == FORMAT_VERSION_TRAILER_FRAMES;
	if (plain[0] != FORMAT_VERSION_TRAILER && !v2) {
		rc = plain[0] > FORMAT_VERSION_TRAILER ? STRATA_EVERSION : STRATA_EFORMAT;
		goto out;
	}
	n = format_get_le32(plain + 1);
	if (n > PACK_MAX_ENTRIES || plain_len != 5 + n * PACK_ENTRY_LEN)
		goto out;
	entries = malloc((n ? n : 1) * sizeof *entries);
	if (!entries) {
		rc = -ENOMEM;
		goto out;
	}
	p = plain + 5;
	for (size_t i = 0; i < n; i++, p += PACK_ENTRY_LEN) {
		PackEntry *e = &entries[i];
		e->type = p[0];
		memcpy(e->id, p + 1, CODEC_ID_LEN);
		e->offset = format_get_le32(p + 33);
		e->length = format_get_le32(p + 37);
		e->raw_len = format_get_le32(p + 41);
		if (v2)
			continue;               /* frame_entries_check below */
		/* Blobs are laid end to end from offset 0 (FORMAT.md invariant). */
		if (e->type > BLOB_TYPE_MAX || e->offset != next || e->length < CODEC_BLOB_OVERHEAD ||
		    (uint64_t)e->offset + e->length > blob_area ||
		    e->length > (uint64_t)e->raw_len + CODEC_BLOB_OVERHEAD)
			goto out;
		next = (uint64_t)e->offset + e->length;
	}
	if (v2 ? frame_entries_check(entries, n, blob_area) != 0 : next != blob_area)
		goto out;
	/* Version 2 is written only for a frame: without one it is malformed. */
	int has_frame = 0;
	for (size_t i = 0; v2 && i < n; i++)
		has_frame |= entries[i].type == FORMAT_BLOB_FRAME;
	if (v2 && !has_frame)
		goto out;
	*out = entries;
	*out_n = n;
	entries = NULL;
	rc = 0;
out:
	free(entries);
	return rc;
}

int pack_trailer_decode(const CodecKeys *keys, const uint8_t *trailer, size_t trailer_len,
                        uint64_t pack_size, PackEntry **out, size_t *out_n)
{
	return pack_trailer_decode_frames(keys, trailer, trailer_len, pack_size, 0, out, out_n);
}

int pack_trailer_decode_frames(const CodecKeys *keys, const uint8_t *trailer, size_t trailer_len,
                               uint64_t pack_size, int frames, PackEntry **out, size_t *out_n)
{
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	uint64_t blob_area;
	int rc;

	if ((uint64_t)trailer_len + PACK_FOOTER_LEN > pack_size)
		return STRATA_EFORMAT;
	blob_area = pack_size - trailer_len - PACK_FOOTER_LEN;
	rc = sealed_decode(keys, FORMAT_MAGIC_TRAILER, FORMAT_VERSION_TRAILER, trailer, trailer_len,
	                   &plain, &plain_len, NULL);
	if (rc)
		return rc;
	rc = pack_trailer_parse_frames(plain, plain_len, blob_area, frames, out, out_n);
	free(plain);
	return rc;
}
