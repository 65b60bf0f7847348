/* test_pack.c — unit tests for store/pack.c: packs built with
 * PackBuilder decode back to the same entries and blobs, the pack ID is
 * the BLAKE2b-256 of its bytes, and damaged footers and trailers are
 * refused with the right code (FORMAT.md "Pack file").
 *
 * Trailer plaintext (FORMAT.md "Pack file"): VERSION(1) || COUNT(u32 LE)
 * || COUNT x (TYPE(1) || ID(32) || OFFSET(u32) || LENGTH(u32) || RAW(u32)).
 * Footer: TRAILER_LEN(u32 LE) || "STRATAPK".
 */
#include "store/format.h"
#include "store/pack.h"
#include "store/repo_internal.h"
#include "tests/check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static CodecKeys *keys_a, *keys_b;
static CodecCtx *ctx;

/* Blob i's plaintext: i-dependent length and content, some compressible. */
static size_t blob_plain(size_t i, uint8_t *out)
{
	size_t len = 1 + (i * 977) % 5000;
	uint32_t x = (uint32_t)i * 2654435761u + 1;

	for (size_t j = 0; j < len; j++) {
		x = x * 1103515245u + 12345u;
		out[j] = i % 3 == 0 ? (uint8_t)('a' + j % 7) : (uint8_t)(x >> 24);
	}
	return len;
}

/* Build a pack of n blobs of type; returns 0 and the pack ID. */
static int build(PackBuilder *pb, const CodecKeys *k, uint8_t type, size_t n, uint8_t out_id[CODEC_ID_LEN])
{
	static uint8_t plain[5000];

	for (size_t i = 0; i < n; i++) {
		uint8_t id[CODEC_ID_LEN], *dst;
		size_t len = blob_plain(i, plain), sealed_len = 0;
		codec_chunk_id(k, plain, len, id);
		if (pack_builder_reserve(pb, len + CODEC_BLOB_OVERHEAD, &dst) != 0 ||
		    codec_blob_seal(ctx, k, type, id, plain, len, 3, dst, &sealed_len) != 0 ||
		    pack_builder_commit(pb, type, id, sealed_len, (uint32_t)len) != 0)
			return -1;
	}
	return pack_builder_finish(pb, k, out_id);
}

/* Split a finished pack into its trailer; returns trailer length or 0. */
static uint32_t trailer_of(const uint8_t *pack, size_t len, const uint8_t **out)
{
	uint32_t tlen = 0;

	if (len < PACK_FOOTER_LEN || pack_footer_decode(pack + len - PACK_FOOTER_LEN, len, &tlen) != 0)
		return 0;
	*out = pack + len - PACK_FOOTER_LEN - tlen;
	return tlen;
}

/* Field by field: the struct has padding. */
static int same_entry(const PackEntry *a, const PackEntry *b)
{
	return a->type == b->type && memcmp(a->id, b->id, CODEC_ID_LEN) == 0 && a->offset == b->offset &&
	       a->length == b->length && a->raw_len == b->raw_len;
}

/* The name each pack of these tests is checked against; the name hashes
 * themselves are checked against published vectors in test_codec.c. */
static CodecNameHash name_alg = CODEC_NAME_SHA256;

static void check_pack(const PackBuilder *pb, const CodecKeys *k, size_t n, const uint8_t id[CODEC_ID_LEN])
{
	uint8_t hash[CODEC_ID_LEN];
	static uint8_t plain[5000], out[5000];
	const uint8_t *trailer = NULL;
	PackEntry *e = NULL;
	size_t got = 0;
	uint32_t tlen;

	REQUIRE(codec_name_hash(name_alg, pb->buf, pb->len, hash) == 0);
	CHECK(memcmp(hash, id, CODEC_ID_LEN) == 0);
	tlen = trailer_of(pb->buf, pb->len, &trailer);
	REQUIRE(tlen > 0);
	CHECK_EQ_INT(format_get_le32(pb->buf + pb->len - PACK_FOOTER_LEN), tlen);
	CHECK(memcmp(pb->buf + pb->len - 8, "STRATAPK", 8) == 0);
	REQUIRE(pack_trailer_decode(k, trailer, tlen, pb->len, &e, &got) == 0);
	CHECK_EQ_INT(got, n);
	CHECK_EQ_INT(pb->n, n);
	for (size_t i = 0; i < got && i < pb->n; i++) {
		size_t len = blob_plain(i, plain);
		CHECK(same_entry(&e[i], &pb->entries[i]));
		CHECK_EQ_INT(e[i].raw_len, len);
		CHECK_EQ_INT(codec_blob_open(ctx, k, e[i].type, e[i].id, pb->buf + e[i].offset, e[i].length,
		                             out, e[i].raw_len), 0);
		CHECK(memcmp(out, plain, len) == 0);
	}
	free(e);
}

static void test_build_and_decode(void)
{
	PackBuilder pb;
	uint8_t id[CODEC_ID_LEN];

	pack_builder_init(&pb, name_alg);
	REQUIRE(build(&pb, keys_a, BLOB_DATA, 40, id) == 0);
	check_pack(&pb, keys_a, 40, id);
	pack_builder_free(&pb);
	pack_builder_free(&pb);   /* a freed builder is a zeroed one */
}

static void test_tree_blob_types(void)
{
	PackBuilder pb;
	uint8_t id[CODEC_ID_LEN];

	pack_builder_init(&pb, name_alg);
	REQUIRE(build(&pb, keys_a, BLOB_TREE, 3, id) == 0);
	check_pack(&pb, keys_a, 3, id);
	pack_builder_free(&pb);
}

static void test_empty_pack(void)
{
	PackBuilder pb;
	uint8_t id[CODEC_ID_LEN];

	pack_builder_init(&pb, name_alg);
	REQUIRE(build(&pb, keys_a, BLOB_DATA, 0, id) == 0);
	check_pack(&pb, keys_a, 0, id);
	pack_builder_free(&pb);
}

/* Reset must restart the running hash, or the second pack is misnamed. */
static void builder_reuse(void)
{
	PackBuilder pb;
	uint8_t id1[CODEC_ID_LEN], id2[CODEC_ID_LEN];

	pack_builder_init(&pb, name_alg);
	REQUIRE(build(&pb, keys_a, BLOB_DATA, 5, id1) == 0);
	pack_builder_reset(&pb);
	CHECK_EQ_INT(pb.len, 0);
	CHECK_EQ_INT(pb.n, 0);
	REQUIRE(build(&pb, keys_a, BLOB_DATA, 7, id2) == 0);
	check_pack(&pb, keys_a, 7, id2);
	CHECK(memcmp(id1, id2, CODEC_ID_LEN) != 0);
	pack_builder_free(&pb);
}

static void test_builder_reuse(void)
{
	builder_reuse();
	name_alg = CODEC_NAME_BLAKE2B;     /* format 1 */
	builder_reuse();
	name_alg = CODEC_NAME_SHA256;
}

/* A format-1 builder names its pack by BLAKE2b-256 (what `b2sum -l 256`
 * prints), a format-2 one by SHA-256. */
static void test_name_by_format(void)
{
	PackBuilder pb;
	uint8_t id1[CODEC_ID_LEN], id2[CODEC_ID_LEN], h[CODEC_ID_LEN];

	name_alg = CODEC_NAME_BLAKE2B;
	pack_builder_init(&pb, name_alg);
	REQUIRE(build(&pb, keys_a, BLOB_DATA, 6, id1) == 0);
	check_pack(&pb, keys_a, 6, id1);
	codec_file_hash(pb.buf, pb.len, h);
	CHECK(memcmp(h, id1, CODEC_ID_LEN) == 0);
	pack_builder_free(&pb);
	name_alg = CODEC_NAME_SHA256;
	pack_builder_init(&pb, name_alg);
	REQUIRE(build(&pb, keys_a, BLOB_DATA, 6, id2) == 0);
	check_pack(&pb, keys_a, 6, id2);
	codec_file_hash(pb.buf, pb.len, h);
	CHECK(memcmp(h, id2, CODEC_ID_LEN) != 0);
	pack_builder_free(&pb);
}

static void test_footer_rejects(void)
{
	uint8_t f[PACK_FOOTER_LEN];
	uint32_t tlen = 12345;
	const uint32_t min = SEALED_HEADER_LEN + CODEC_NONCE_LEN + CODEC_TAG_LEN;

	format_put_le32(f, 100);
	memcpy(f + 4, "STRATAPK", 8);
	CHECK_EQ_INT(pack_footer_decode(f, 112, &tlen), 0);
	CHECK_EQ_INT(tlen, 100);
	CHECK_EQ_INT(pack_footer_decode(f, 5000, &tlen), 0);
	tlen = 12345;
	CHECK_EQ_INT(pack_footer_decode(f, 111, &tlen), STRATA_EFORMAT);   /* trailer past the start */
	CHECK_EQ_INT(tlen, 12345);
	format_put_le32(f, min - 1);
	CHECK_EQ_INT(pack_footer_decode(f, 5000, &tlen), STRATA_EFORMAT);  /* too short to be sealed */
	format_put_le32(f, min);
	CHECK_EQ_INT(pack_footer_decode(f, 5000, &tlen), 0);
	format_put_le32(f, 0xffffffffu);
	CHECK_EQ_INT(pack_footer_decode(f, 5000, &tlen), STRATA_EFORMAT);
	/* Longer than any trailer a reader accepts (2^22 entries): refused
	 * before it is read, whatever the pack's size. */
	CHECK_EQ_INT(pack_footer_decode(f, UINT64_MAX, &tlen), STRATA_EFORMAT);
	format_put_le32(f, (uint32_t)OBJSIZE_TRAILER_MAX + 1);
	CHECK_EQ_INT(pack_footer_decode(f, UINT64_MAX, &tlen), STRATA_EFORMAT);
	format_put_le32(f, (uint32_t)OBJSIZE_TRAILER_MAX);
	CHECK_EQ_INT(pack_footer_decode(f, UINT64_MAX, &tlen), 0);          /* no overflow */
	CHECK_EQ_INT(tlen, OBJSIZE_TRAILER_MAX);
	format_put_le32(f, 100);
	for (int i = 4; i < PACK_FOOTER_LEN; i++) {
		f[i] ^= 0x20;
		CHECK_EQ_INT(pack_footer_decode(f, 5000, &tlen), STRATA_EFORMAT);
		f[i] ^= 0x20;
	}
}

static void test_trailer_tampered_and_wrong_key(void)
{
	PackBuilder pb;
	uint8_t id[CODEC_ID_LEN], *copy;
	const uint8_t *trailer = NULL;
	PackEntry *e = NULL;
	size_t n = 0;
	uint32_t tlen;
	int bad = 0;

	pack_builder_init(&pb, name_alg);
	REQUIRE(build(&pb, keys_a, BLOB_DATA, 4, id) == 0);
	tlen = trailer_of(pb.buf, pb.len, &trailer);
	REQUIRE(tlen > 0);
	CHECK_EQ_INT(pack_trailer_decode(keys_b, trailer, tlen, pb.len, &e, &n), STRATA_EAUTH);
	copy = malloc(tlen);
	REQUIRE(copy);
	memcpy(copy, trailer, tlen);
	for (uint32_t i = 0; i < tlen; i++) {
		int want = i < 8 ? STRATA_EFORMAT : i < SEALED_HEADER_LEN ? STRATA_EVERSION : STRATA_EAUTH;
		if (i == 8)
			want = STRATA_EFORMAT;   /* version 1 -> 0 */
		copy[i] ^= 1;
		if (pack_trailer_decode(keys_a, copy, tlen, pb.len, &e, &n) != want)
			bad++;
		copy[i] ^= 1;
	}
	CHECK_EQ_INT(bad, 0);
	/* Bad magic named as such. */
	copy[0] = 'X';
	CHECK_EQ_INT(pack_trailer_decode(keys_a, copy, tlen, pb.len, &e, &n), STRATA_EFORMAT);
	copy[0] = trailer[0];
	/* Trailer length inconsistent with the pack. */
	CHECK_EQ_INT(pack_trailer_decode(keys_a, copy, tlen, tlen + PACK_FOOTER_LEN - 1, &e, &n), STRATA_EFORMAT);
	CHECK_EQ_INT(pack_trailer_decode(keys_a, copy, tlen - 1, pb.len, &e, &n), STRATA_EAUTH);
	/* Authentic trailer, but the pack is not the size it describes. */
	CHECK_EQ_INT(pack_trailer_decode(keys_a, copy, tlen, pb.len - 1, &e, &n), STRATA_EFORMAT);
	CHECK_EQ_INT(pack_trailer_decode(keys_a, copy, tlen, pb.len + 1, &e, &n), STRATA_EFORMAT);
	CHECK(e == NULL);
	CHECK_EQ_INT(pack_trailer_decode(keys_a, copy, tlen, pb.len, &e, &n), 0);
	CHECK_EQ_INT(n, 4);
	free(e);
	free(copy);
	pack_builder_free(&pb);
}

/* ---- trailer plaintext, built by hand ---- */

typedef struct Plain { uint8_t buf[5 + 8 * PACK_ENTRY_LEN]; size_t len; } Plain;

/* A valid plaintext of n entries of the given sealed lengths laid end to
 * end from offset 0; returns the blob area they cover. */
static uint64_t make_plain(Plain *p, size_t n, const uint32_t *lens)
{
	uint32_t off = 0;

	p->buf[0] = FORMAT_VERSION_TRAILER;
	format_put_le32(p->buf + 1, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = p->buf + 5 + i * PACK_ENTRY_LEN;
		e[0] = (uint8_t)(i % 3);
		memset(e + 1, (int)(0x40 + i), CODEC_ID_LEN);
		format_put_le32(e + 33, off);
		format_put_le32(e + 37, lens[i]);
		format_put_le32(e + 41, lens[i]);   /* raw length = sealed: a stored-raw blob */
		off += lens[i];
	}
	p->len = 5 + n * PACK_ENTRY_LEN;
	return off;
}

static int parse(const Plain *p, uint64_t area)
{
	PackEntry *e = NULL;
	size_t n = 0;
	int rc = pack_trailer_parse(p->buf, p->len, area, &e, &n);

	free(e);
	return rc;
}

static uint8_t *entry(Plain *p, size_t i) { return p->buf + 5 + i * PACK_ENTRY_LEN; }

static void test_parse_valid(void)
{
	static const uint32_t lens[] = {50, 60, 41};
	Plain p;
	PackEntry *e = NULL;
	size_t n = 0;
	uint64_t area = make_plain(&p, 3, lens);

	REQUIRE(pack_trailer_parse(p.buf, p.len, area, &e, &n) == 0);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(e[0].type, 0);
	CHECK_EQ_INT(e[2].type, 2);
	CHECK_EQ_INT(e[1].offset, 50);
	CHECK_EQ_INT(e[1].length, 60);
	CHECK_EQ_INT(e[2].raw_len, 41);
	CHECK(e[1].id[0] == 0x41 && e[1].id[31] == 0x41);
	free(e);
	make_plain(&p, 0, lens);
	CHECK_EQ_INT(parse(&p, 0), 0);
	CHECK_EQ_INT(parse(&p, 1), STRATA_EFORMAT);   /* bytes no entry accounts for */
}

static void test_parse_version_and_truncation(void)
{
	static const uint32_t lens[] = {50, 60, 41};
	Plain p;
	uint64_t area = make_plain(&p, 3, lens);
	size_t full = p.len;
	int bad = 0;

	for (size_t l = 0; l < full; l++) {
		p.len = l;
		if (parse(&p, area) != STRATA_EFORMAT)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	p.len = full;
	p.buf[0] = 2;
	CHECK_EQ_INT(parse(&p, area), STRATA_EVERSION);
	p.buf[0] = 0xff;
	CHECK_EQ_INT(parse(&p, area), STRATA_EVERSION);
	p.buf[0] = 0;
	CHECK_EQ_INT(parse(&p, area), STRATA_EFORMAT);
	p.buf[0] = FORMAT_VERSION_TRAILER;
	CHECK_EQ_INT(parse(&p, area), 0);
}

static void test_parse_counts(void)
{
	static const uint32_t lens[] = {50, 60, 41};
	Plain p;
	uint64_t area = make_plain(&p, 3, lens);

	format_put_le32(p.buf + 1, 4);          /* more than present */
	CHECK_EQ_INT(parse(&p, area), STRATA_EFORMAT);
	format_put_le32(p.buf + 1, 2);          /* fewer than present */
	CHECK_EQ_INT(parse(&p, area), STRATA_EFORMAT);
	format_put_le32(p.buf + 1, 0xffffffffu);
	CHECK_EQ_INT(parse(&p, area), STRATA_EFORMAT);
	format_put_le32(p.buf + 1, PACK_MAX_ENTRIES + 1);
	CHECK_EQ_INT(parse(&p, area), STRATA_EFORMAT);
	/* A count whose entries would wrap 32-bit arithmetic:
	 * 95443718 * 45 = 2^32 + 14. */
	format_put_le32(p.buf + 1, 95443718u);
	CHECK_EQ_INT(parse(&p, area), STRATA_EFORMAT);
}

static void test_parse_entry_rejects(void)
{
	static const uint32_t lens[] = {50, 60, 41};
	Plain p;
	uint64_t area;

	area = make_plain(&p, 3, lens);
	CHECK_EQ_INT(parse(&p, area - 1), STRATA_EFORMAT);   /* last entry out of range */
	CHECK_EQ_INT(parse(&p, area + 1), STRATA_EFORMAT);   /* gap before the trailer */
	CHECK_EQ_INT(parse(&p, 0), STRATA_EFORMAT);

	format_put_le32(entry(&p, 1) + 33, 49);                      /* overlaps entry 0 */
	CHECK_EQ_INT(parse(&p, area), STRATA_EFORMAT);
	format_put_le32(entry(&p, 1) + 33, 51);                      /* gap after entry 0 */
	CHECK_EQ_INT(parse(&p, area), STRATA_EFORMAT);
	format_put_le32(entry(&p, 1) + 33, 50);
	CHECK_EQ_INT(parse(&p, area), 0);

	format_put_le32(entry(&p, 0) + 33, 1);                       /* first not at 0 */
	CHECK_EQ_INT(parse(&p, area), STRATA_EFORMAT);
	format_put_le32(entry(&p, 0) + 33, 0);

	entry(&p, 1)[0] = BLOB_TYPE_MAX + 1;                  /* unknown type */
	CHECK_EQ_INT(parse(&p, area), STRATA_EFORMAT);
	entry(&p, 1)[0] = 0xff;
	CHECK_EQ_INT(parse(&p, area), STRATA_EFORMAT);
	entry(&p, 1)[0] = BLOB_DATA;
	CHECK_EQ_INT(parse(&p, area), 0);

	/* Sealed length below the blob overhead. */
	{
		static const uint32_t small[] = {50, 40, 51};
		area = make_plain(&p, 3, small);
		CHECK_EQ_INT(parse(&p, area), STRATA_EFORMAT);
	}
	/* Sealed length larger than raw + overhead: not a blob strata wrote. */
	area = make_plain(&p, 3, lens);
	format_put_le32(entry(&p, 1) + 41, 60 - CODEC_BLOB_OVERHEAD - 1);
	CHECK_EQ_INT(parse(&p, area), STRATA_EFORMAT);
	format_put_le32(entry(&p, 1) + 41, 60 - CODEC_BLOB_OVERHEAD);
	CHECK_EQ_INT(parse(&p, area), 0);
	/* An offset + length that wraps 32 bits. */
	area = make_plain(&p, 3, lens);
	format_put_le32(entry(&p, 2) + 33, 0xfffffff0u);
	format_put_le32(entry(&p, 2) + 37, 0x20);
	CHECK_EQ_INT(parse(&p, area), STRATA_EFORMAT);
}

/* The whole decode path on authentic but malformed trailers. */
static void test_decode_authentic_malformed(void)
{
	static const uint32_t lens[] = {50, 60, 41};
	Plain p;
	uint8_t *sealed = NULL;
	size_t sealed_len = 0, n = 0;
	PackEntry *e = NULL;
	uint64_t area = make_plain(&p, 3, lens);

	entry(&p, 2)[0] = 7;
	REQUIRE(sealed_encode(keys_a, FORMAT_MAGIC_TRAILER, FORMAT_VERSION_TRAILER, p.buf, p.len, &sealed, &sealed_len) == 0);
	CHECK_EQ_INT(pack_trailer_decode(keys_a, sealed, sealed_len, area + sealed_len + PACK_FOOTER_LEN, &e, &n),
	             STRATA_EFORMAT);
	free(sealed);
	entry(&p, 2)[0] = 0;
	p.buf[0] = 2;
	REQUIRE(sealed_encode(keys_a, FORMAT_MAGIC_TRAILER, FORMAT_VERSION_TRAILER, p.buf, p.len, &sealed, &sealed_len) == 0);
	CHECK_EQ_INT(pack_trailer_decode(keys_a, sealed, sealed_len, area + sealed_len + PACK_FOOTER_LEN, &e, &n),
	             STRATA_EVERSION);
	free(sealed);
	p.buf[0] = 1;
	/* A newer sealed-file version in the header. */
	REQUIRE(sealed_encode(keys_a, FORMAT_MAGIC_TRAILER, 2, p.buf, p.len, &sealed, &sealed_len) == 0);
	CHECK_EQ_INT(pack_trailer_decode(keys_a, sealed, sealed_len, area + sealed_len + PACK_FOOTER_LEN, &e, &n),
	             STRATA_EVERSION);
	free(sealed);
	REQUIRE(sealed_encode(keys_a, FORMAT_MAGIC_TRAILER, 1, p.buf, p.len, &sealed, &sealed_len) == 0);
	CHECK_EQ_INT(pack_trailer_decode(keys_a, sealed, sealed_len, area + sealed_len + PACK_FOOTER_LEN, &e, &n), 0);
	CHECK_EQ_INT(n, 3);
	free(e);
	free(sealed);
}

int main(void)
{
	uint8_t ma[CODEC_KEY_LEN], mb[CODEC_KEY_LEN];

	if (codec_init() != 0)
		return 1;
	memset(ma, 0x33, sizeof ma);
	memset(mb, 0x44, sizeof mb);
	keys_a = codec_keys_new(ma);
	keys_b = codec_keys_new(mb);
	ctx = codec_ctx_new();
	if (!keys_a || !keys_b || !ctx)
		return 1;
	RUN(test_build_and_decode);
	RUN(test_tree_blob_types);
	RUN(test_empty_pack);
	RUN(test_builder_reuse);
	RUN(test_name_by_format);
	RUN(test_footer_rejects);
	RUN(test_trailer_tampered_and_wrong_key);
	RUN(test_parse_valid);
	RUN(test_parse_version_and_truncation);
	RUN(test_parse_counts);
	RUN(test_parse_entry_rejects);
	RUN(test_decode_authentic_malformed);
	codec_ctx_free(ctx);
	codec_keys_free(keys_a);
	codec_keys_free(keys_b);
	return CHECK_EXIT();
}
