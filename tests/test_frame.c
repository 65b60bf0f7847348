/* test_frame.c — unit tests for store/frame.c (FORMAT.md §9a,
 * format version 3): a frame's plaintext built from its members, sealed
 * and opened back bit-exactly; that it compresses what its chunks share
 * (which chunks sealed alone cannot); every way a frame, its HEADER or a
 * member lookup is refused; the members' keyed hashes; and the ENTRIES
 * version 2 rules for frame and member entries of a trailer, and a pack
 * holding a frame (pack_builder_commit_frame, pack_trailer_decode_frames)
 * and an index file listing one (indexfile_encode, indexfile_decode_frames).
 *
 * Test data comes from a local splitmix64 so every run sees the same bytes.
 */
#include "store/frame.h"
#include "store/indexfile.h"
#include "tests/check.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static CodecKeys *keys_a, *keys_b;
static CodecCtx *ctx;

/* splitmix64 (Steele, Lea, Flood 2014). */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void fill_random(uint8_t *p, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)rng_next(&seed);
}

#define NCHUNK 8
#define CHUNK_LEN 16384u

/* Eight 16 KiB chunks: the same 12 KiB of random bytes in each, then
 * 4 KiB of its own. Each alone is incompressible; together, seven eighths
 * of the later chunks repeat the first. */
typedef struct Chunks {
	uint8_t data[NCHUNK][CHUNK_LEN];
	const uint8_t *ptr[NCHUNK];
	uint32_t lens[NCHUNK];
	uint8_t ids[NCHUNK][CODEC_ID_LEN];
} Chunks;

static Chunks *make_chunks(const CodecKeys *k)
{
	Chunks *c = malloc(sizeof *c);

	if (!c)
		return NULL;
	fill_random(c->data[0], 12288, 7);
	for (size_t i = 0; i < NCHUNK; i++) {
		memcpy(c->data[i], c->data[0], 12288);
		fill_random(c->data[i] + 12288, CHUNK_LEN - 12288, 100 + i);
		c->ptr[i] = c->data[i];
		c->lens[i] = CHUNK_LEN - (uint32_t)i;          /* lengths differ */
		codec_chunk_id(k, c->data[i], c->lens[i], c->ids[i]);
	}
	return c;
}

/* Build and seal a frame of c's first m chunks: the sealed bytes
 * (malloc'ed), *sealed_len, *raw_len. */
static uint8_t *seal_frame(const CodecKeys *k, const Chunks *c, size_t m, size_t *sealed_len,
                           size_t *raw_len)
{
	uint8_t *p = NULL, *sealed;

	if (frame_plain_build((const uint8_t (*)[CODEC_ID_LEN])c->ids, c->ptr, c->lens, m, &p, raw_len) != 0)
		return NULL;
	sealed = malloc(*raw_len + CODEC_BLOB_OVERHEAD);
	if (!sealed || frame_seal(ctx, k, p, *raw_len, 1, sealed, sealed_len) != 0) {
		free(sealed);
		sealed = NULL;
	}
	free(p);
	return sealed;
}

static void test_round_trip(void)
{
	Chunks *c = make_chunks(keys_a);
	FrameMember mem[FRAME_MAX_MEMBERS];
	size_t sealed_len = 0, raw_len = 0, m = 0, expect_raw = FRAME_HEADER_LEN(NCHUNK);
	uint8_t *sealed, *out;

	REQUIRE(c);
	sealed = seal_frame(keys_a, c, NCHUNK, &sealed_len, &raw_len);
	REQUIRE(sealed);
	for (size_t i = 0; i < NCHUNK; i++)
		expect_raw += c->lens[i];
	CHECK_EQ_INT(raw_len, expect_raw);
	CHECK_EQ_INT(FRAME_HEADER_LEN(NCHUNK), 2 + 36 * NCHUNK);
	out = malloc(raw_len);
	REQUIRE(out);
	CHECK_EQ_INT(frame_open(ctx, keys_a, sealed, sealed_len, out, raw_len, mem, &m), 0);
	CHECK_EQ_INT(m, NCHUNK);
	uint32_t off = (uint32_t)FRAME_HEADER_LEN(NCHUNK);
	for (size_t i = 0; i < m; i++) {
		CHECK_EQ_INT(mem[i].off, off);
		CHECK_EQ_INT(mem[i].len, c->lens[i]);
		CHECK(memcmp(mem[i].id, c->ids[i], CODEC_ID_LEN) == 0);
		CHECK(memcmp(out + mem[i].off, c->data[i], c->lens[i]) == 0);
		CHECK_EQ_INT(frame_member_at(mem, m, c->ids[i], off, c->lens[i]), 0);
		off += c->lens[i];
	}
	CHECK_EQ_INT(frame_verify(keys_a, out, mem, m, NULL), 0);
	/* The header bytes as FORMAT.md §9a lays them out. */
	CHECK_EQ_INT(out[0], 1);
	CHECK_EQ_INT(out[1], NCHUNK);
	CHECK(memcmp(out + 2, c->ids[0], CODEC_ID_LEN) == 0);
	CHECK_EQ_INT(format_get_le32(out + 2 + 32), c->lens[0]);
	CHECK(memcmp(out + 2 + 36, c->ids[1], CODEC_ID_LEN) == 0);
	free(out);
	free(sealed);
	free(c);
}

/* The point of a frame: what chunks share is stored once. Each chunk
 * sealed alone stays raw (random bytes); the frame of all eight stores
 * little more than the shared 12 KiB and eight 4 KiB tails. */
static void test_compresses_across_chunks(void)
{
	Chunks *c = make_chunks(keys_a);
	size_t alone = 0, sealed_len = 0, raw_len = 0;
	uint8_t *blob = malloc(CHUNK_LEN + CODEC_BLOB_OVERHEAD), *sealed;

	REQUIRE(c && blob);
	for (size_t i = 0; i < NCHUNK; i++) {
		size_t len = 0;

		REQUIRE(codec_blob_seal(ctx, keys_a, BLOB_DATA, c->ids[i], c->data[i], c->lens[i], 1, blob, &len) == 0);
		CHECK_EQ_INT(len, c->lens[i] + CODEC_BLOB_OVERHEAD);   /* stored raw */
		alone += len;
	}
	sealed = seal_frame(keys_a, c, NCHUNK, &sealed_len, &raw_len);
	REQUIRE(sealed);
	CHECK(sealed_len < 12288 + NCHUNK * 4096 + 2048);
	CHECK(sealed_len * 2 < alone);
	free(sealed);
	free(blob);
	free(c);
}

static void test_open_refused(void)
{
	Chunks *c = make_chunks(keys_a);
	FrameMember mem[FRAME_MAX_MEMBERS];
	size_t sealed_len = 0, raw_len = 0, m = 0;
	uint8_t *sealed, *out, zero[CODEC_ID_LEN] = {0};

	REQUIRE(c);
	sealed = seal_frame(keys_a, c, 3, &sealed_len, &raw_len);
	out = malloc(raw_len + 1);
	REQUIRE(sealed && out);
	/* another key */
	CHECK_EQ_INT(frame_open(ctx, keys_b, sealed, sealed_len, out, raw_len, mem, &m), STRATA_EAUTH);
	/* one flipped bit in the nonce, the body, the tag */
	size_t at[3] = {0, sealed_len / 2, sealed_len - 1};
	for (size_t i = 0; i < 3; i++) {
		sealed[at[i]] ^= 0x10;
		CHECK_EQ_INT(frame_open(ctx, keys_a, sealed, sealed_len, out, raw_len, mem, &m), STRATA_EAUTH);
		sealed[at[i]] ^= 0x10;
	}
	/* a RAW_LENGTH that is not the frame's */
	CHECK_EQ_INT(frame_open(ctx, keys_a, sealed, sealed_len, out, raw_len - 1, mem, &m), STRATA_EFORMAT);
	CHECK_EQ_INT(frame_open(ctx, keys_a, sealed, sealed_len, out, raw_len + 1, mem, &m), STRATA_EFORMAT);
	CHECK_EQ_INT(frame_open(ctx, keys_a, sealed, sealed_len, out, raw_len, mem, &m), 0);
	/* a frame is not a data blob (TYPE 3 in the AD), whatever the ID */
	CHECK_EQ_INT(codec_blob_decrypt(ctx, keys_a, BLOB_DATA, zero, sealed, sealed_len, out, raw_len), STRATA_EAUTH);
	/* a data blob of the same plaintext under the zero ID is not a frame */
	uint8_t *p = NULL, *blob;
	size_t p_len = 0, blob_len = 0;
	REQUIRE(frame_plain_build((const uint8_t (*)[CODEC_ID_LEN])c->ids, c->ptr, c->lens, 3, &p, &p_len) == 0);
	blob = malloc(p_len + CODEC_BLOB_OVERHEAD);
	REQUIRE(blob);
	REQUIRE(codec_blob_seal(ctx, keys_a, BLOB_DATA, zero, p, p_len, 1, blob, &blob_len) == 0);
	CHECK_EQ_INT(frame_open(ctx, keys_a, blob, blob_len, out, p_len, mem, &m), STRATA_EAUTH);
	/* too short to be a blob */
	CHECK_EQ_INT(frame_open(ctx, keys_a, sealed, CODEC_BLOB_OVERHEAD - 1, out, raw_len, mem, &m), STRATA_EFORMAT);
	free(blob);
	free(p);
	free(out);
	free(sealed);
	free(c);
}

/* A header with version v, count m and the given member lengths, followed
 * by body bytes of value 0x33: *len is the total. */
static uint8_t *header(uint8_t v, size_t m, const uint32_t *lens, size_t body, size_t *len)
{
	size_t h = 2 + 36 * m;
	uint8_t *p = calloc(1, h + body + 1);

	if (!p)
		return NULL;
	p[0] = v;
	p[1] = (uint8_t)m;
	for (size_t i = 0; i < m; i++) {
		memset(p + 2 + 36 * i, (int)(0x40 + i), 32);
		format_put_le32(p + 2 + 36 * i + 32, lens[i]);
	}
	memset(p + h, 0x33, body);
	*len = h + body;
	return p;
}

static void test_header_parse(void)
{
	FrameMember mem[FRAME_MAX_MEMBERS];
	uint32_t lens[3] = {5, 1, 9};
	size_t len = 0, m = 0;
	uint8_t *p;

	p = header(1, 3, lens, 15, &len);
	REQUIRE(p);
	CHECK_EQ_INT(frame_header_parse(p, len, mem, &m), 0);
	CHECK_EQ_INT(m, 3);
	CHECK_EQ_INT(mem[0].off, 110);
	CHECK_EQ_INT(mem[1].off, 115);
	CHECK_EQ_INT(mem[2].off, 116);
	CHECK_EQ_INT(mem[2].len, 9);
	CHECK_EQ_INT(mem[1].id[0], 0x41);
	/* member lookups: only the exact (ID, offset, length) */
	CHECK_EQ_INT(frame_member_at(mem, m, mem[1].id, 115, 1), 0);
	CHECK_EQ_INT(frame_member_at(mem, m, mem[1].id, 116, 1), STRATA_EDAMAGED);
	CHECK_EQ_INT(frame_member_at(mem, m, mem[1].id, 115, 2), STRATA_EDAMAGED);
	CHECK_EQ_INT(frame_member_at(mem, m, mem[0].id, 115, 1), STRATA_EDAMAGED);
	CHECK_EQ_INT(frame_member_at(mem, m, mem[2].id, 125, 9), STRATA_EDAMAGED);
	/* one ID twice: refused (else (ID, offset) could name two members) */
	memcpy(p + 2 + 36 * 2, p + 2 + 36 * 1, 32);
	CHECK_EQ_INT(frame_header_parse(p, len, mem, &m), STRATA_EFORMAT);
	memset(p + 2 + 36 * 2, 0x42, 32);
	CHECK_EQ_INT(frame_header_parse(p, len, mem, &m), 0);
	/* one byte more or less than the members account for */
	CHECK_EQ_INT(frame_header_parse(p, len - 1, mem, &m), STRATA_EFORMAT);
	CHECK_EQ_INT(frame_header_parse(p, len + 1, mem, &m), STRATA_EFORMAT);
	/* versions */
	p[0] = 2;
	CHECK_EQ_INT(frame_header_parse(p, len, mem, &m), STRATA_EVERSION);
	p[0] = 0;
	CHECK_EQ_INT(frame_header_parse(p, len, mem, &m), STRATA_EFORMAT);
	p[0] = 1;
	/* a count whose header does not fit, and none */
	p[1] = 200;
	CHECK_EQ_INT(frame_header_parse(p, len, mem, &m), STRATA_EFORMAT);
	p[1] = 0;
	CHECK_EQ_INT(frame_header_parse(p, len, mem, &m), STRATA_EFORMAT);
	CHECK_EQ_INT(frame_header_parse(p, 1, mem, &m), STRATA_EFORMAT);
	free(p);
	/* an empty member */
	lens[1] = 0;
	p = header(1, 3, lens, 14, &len);
	REQUIRE(p);
	CHECK_EQ_INT(frame_header_parse(p, len, mem, &m), STRATA_EFORMAT);
	free(p);
	/* a length that runs past the end (and would wrap a u32 sum) */
	uint32_t big[2] = {UINT32_MAX, 2};
	p = header(1, 2, big, 1, &len);
	REQUIRE(p);
	CHECK_EQ_INT(frame_header_parse(p, len, mem, &m), STRATA_EFORMAT);
	free(p);
}

static void test_build_limits(void)
{
	Chunks *c = make_chunks(keys_a);
	uint8_t *p = NULL;
	size_t len = 0;
	uint32_t zero_len[1] = {0};

	REQUIRE(c);
	CHECK_EQ_INT(frame_plain_build((const uint8_t (*)[CODEC_ID_LEN])c->ids, c->ptr, c->lens, 0, &p, &len), STRATA_EUSAGE);
	CHECK_EQ_INT(frame_plain_build((const uint8_t (*)[CODEC_ID_LEN])c->ids, c->ptr, c->lens, 256, &p, &len), STRATA_EUSAGE);
	CHECK_EQ_INT(frame_plain_build((const uint8_t (*)[CODEC_ID_LEN])c->ids, c->ptr, zero_len, 1, &p, &len), STRATA_EUSAGE);
	CHECK(p == NULL);
	/* one member is a valid frame for a reader (writers make two or more) */
	CHECK_EQ_INT(frame_plain_build((const uint8_t (*)[CODEC_ID_LEN])c->ids, c->ptr, c->lens, 1, &p, &len), 0);
	CHECK_EQ_INT(len, 38 + c->lens[0]);
	free(p);
	free(c);
}

/* An authentic frame whose HEADER names a chunk that is not its bytes (a
 * writer's bug): it opens, and frame_verify names the member. */
static void test_verify_names_bad_member(void)
{
	Chunks *c = make_chunks(keys_a);
	FrameMember mem[FRAME_MAX_MEMBERS];
	size_t bad[NCHUNK], sealed_len = 0, raw_len = 0, m = 0;
	uint8_t *sealed, *out;

	REQUIRE(c);
	c->ids[2][5] ^= 1;
	c->ids[6][0] ^= 1;
	sealed = seal_frame(keys_a, c, NCHUNK, &sealed_len, &raw_len);
	out = malloc(raw_len);
	REQUIRE(sealed && out);
	CHECK_EQ_INT(frame_open(ctx, keys_a, sealed, sealed_len, out, raw_len, mem, &m), 0);
	CHECK_EQ_INT(frame_verify(keys_a, out, mem, m, bad), 2);
	CHECK_EQ_INT(bad[0], 2);
	CHECK_EQ_INT(bad[1], 6);
	free(out);
	free(sealed);
	free(c);
}

static PackEntry ent(uint8_t type, uint8_t idb, uint32_t off, uint32_t len, uint32_t raw)
{
	PackEntry e;

	memset(&e, 0, sizeof e);
	e.type = type;
	memset(e.id, idb, sizeof e.id);
	e.offset = off;
	e.length = len;
	e.raw_len = raw;
	return e;
}

static void test_entries_check(void)
{
	/* blob 0..100, frame 100..400 of 2 members (raw 2 + 72 + 300 + 200 = 574), blob 400..500 */
	PackEntry e[5];

	e[0] = ent(BLOB_DATA, 1, 0, 100, 100);
	e[1] = ent(FORMAT_BLOB_FRAME, 0, 100, 300, 574);
	e[2] = ent(FORMAT_BLOB_MEMBER, 2, 74, 0, 300);
	e[3] = ent(FORMAT_BLOB_MEMBER, 3, 374, 0, 200);
	e[4] = ent(BLOB_DATA, 4, 400, 100, 80);
	CHECK_EQ_INT(frame_entries_check(e, 5, 500), 0);
	CHECK_EQ_INT(frame_entries_check(e, 5, 501), STRATA_EFORMAT);   /* a gap before the trailer */
	CHECK_EQ_INT(frame_entries_check(e, 4, 400), 0);                /* ends on a member */
	CHECK_EQ_INT(frame_entries_check(e, 2, 400), STRATA_EFORMAT);   /* a frame without members */
	CHECK_EQ_INT(frame_entries_check(e + 2, 3, 500), STRATA_EFORMAT);  /* members without a frame */
	e[3].offset = 375;                                              /* members not end to end */
	CHECK_EQ_INT(frame_entries_check(e, 5, 500), STRATA_EFORMAT);
	e[3].offset = 374;
	e[3].raw_len = 199;                                             /* do not reach RAW_LENGTH */
	CHECK_EQ_INT(frame_entries_check(e, 5, 500), STRATA_EFORMAT);
	e[3].raw_len = 200;
	e[2].offset = 0;                                                /* over the header */
	CHECK_EQ_INT(frame_entries_check(e, 5, 500), STRATA_EFORMAT);
	e[2].offset = 74;
	e[2].length = 1;                                                /* a member occupies no pack bytes */
	CHECK_EQ_INT(frame_entries_check(e, 5, 500), STRATA_EFORMAT);
	e[2].length = 0;
	e[1].id[31] = 1;                                                /* a frame has the zero ID */
	CHECK_EQ_INT(frame_entries_check(e, 5, 500), STRATA_EFORMAT);
	e[1].id[31] = 0;
	memset(e[3].id, 2, sizeof e[3].id);                             /* one ID twice in a frame */
	CHECK_EQ_INT(frame_entries_check(e, 5, 500), STRATA_EFORMAT);
	memset(e[3].id, 3, sizeof e[3].id);
	CHECK_EQ_INT(frame_entries_check(e, 5, 500), 0);
	e[4].type = 5;                                                  /* unknown type */
	CHECK_EQ_INT(frame_entries_check(e, 5, 500), STRATA_EFORMAT);
	e[4].type = BLOB_DATA;
	e[4].length = 40;                                               /* shorter than a blob */
	e[4].raw_len = 80;
	CHECK_EQ_INT(frame_entries_check(e, 5, 440), STRATA_EFORMAT);
	e[4].length = 100;
	e[1].raw_len = 200;                                             /* LENGTH > RAW_LENGTH + 41 */
	CHECK_EQ_INT(frame_entries_check(e, 5, 500), STRATA_EFORMAT);
	e[1].raw_len = 574;
	CHECK_EQ_INT(frame_entries_check(e, 5, 500), 0);
	CHECK_EQ_INT(frame_entries_check(e, 0, 0), 0);
}

/* A pack of a blob, a frame of three chunks and a blob (FORMAT.md §9a):
 * its trailer is ENTRIES version 2, which a reader of format 2 refuses as
 * newer and pack_trailer_decode_frames accepts, listing the frame and its
 * members; the frame opens from the pack's bytes at its entry. A pack
 * without frames keeps ENTRIES version 1. */
static void test_pack_with_frame(void)
{
	Chunks *c = make_chunks(keys_a);
	FrameMember mem[FRAME_MAX_MEMBERS];
	PackBuilder pb;
	PackEntry *e = NULL;
	uint8_t pack_id[CODEC_ID_LEN], *dst, *p = NULL, *out;
	size_t n = 0, len = 0, p_len = 0, m = 0;
	uint32_t tlen = 0;

	REQUIRE(c);
	pack_builder_init(&pb, CODEC_NAME_SHA256);
	REQUIRE(pack_builder_reserve(&pb, c->lens[0] + CODEC_BLOB_OVERHEAD, &dst) == 0);
	REQUIRE(codec_blob_seal(ctx, keys_a, BLOB_DATA, c->ids[0], c->data[0], c->lens[0], 1, dst, &len) == 0);
	REQUIRE(pack_builder_commit(&pb, BLOB_DATA, c->ids[0], len, c->lens[0]) == 0);
	REQUIRE(frame_plain_build((const uint8_t (*)[CODEC_ID_LEN])(c->ids + 1), c->ptr + 1, c->lens + 1, 3, &p, &p_len) == 0);
	REQUIRE(pack_builder_reserve(&pb, p_len + CODEC_BLOB_OVERHEAD, &dst) == 0);
	REQUIRE(frame_seal(ctx, keys_a, p, p_len, 1, dst, &len) == 0);
	/* lengths that do not make up the plaintext are refused, nothing recorded */
	CHECK_EQ_INT(pack_builder_commit_frame(&pb, (const uint8_t (*)[CODEC_ID_LEN])(c->ids + 1), c->lens + 1, 3, len,
	                                       (uint32_t)p_len + 1), STRATA_EUSAGE);
	CHECK_EQ_INT(pb.n, 1);
	REQUIRE(pack_builder_commit_frame(&pb, (const uint8_t (*)[CODEC_ID_LEN])(c->ids + 1), c->lens + 1, 3, len,
	                                  (uint32_t)p_len) == 0);
	size_t frame_off = pb.entries[1].offset, frame_len = len;
	REQUIRE(pack_builder_reserve(&pb, c->lens[4] + CODEC_BLOB_OVERHEAD, &dst) == 0);
	REQUIRE(codec_blob_seal(ctx, keys_a, BLOB_DATA, c->ids[4], c->data[4], c->lens[4], 1, dst, &len) == 0);
	REQUIRE(pack_builder_commit(&pb, BLOB_DATA, c->ids[4], len, c->lens[4]) == 0);
	REQUIRE(pack_builder_finish(&pb, keys_a, pack_id) == 0);

	REQUIRE(pack_footer_decode(pb.buf + pb.len - PACK_FOOTER_LEN, pb.len, &tlen) == 0);
	const uint8_t *trailer = pb.buf + pb.len - PACK_FOOTER_LEN - tlen;
	CHECK_EQ_INT(pack_trailer_decode(keys_a, trailer, tlen, pb.len, &e, &n), STRATA_EVERSION);
	REQUIRE(pack_trailer_decode_frames(keys_a, trailer, tlen, pb.len, 1, &e, &n) == 0);
	CHECK_EQ_INT(n, 6);
	CHECK_EQ_INT(e[0].type, BLOB_DATA);
	CHECK_EQ_INT(e[1].type, FORMAT_BLOB_FRAME);
	CHECK_EQ_INT(e[1].offset, frame_off);
	CHECK_EQ_INT(e[1].length, frame_len);
	CHECK_EQ_INT(e[1].raw_len, p_len);
	uint32_t off = (uint32_t)FRAME_HEADER_LEN(3);
	for (size_t i = 0; i < 3; i++) {
		CHECK_EQ_INT(e[2 + i].type, FORMAT_BLOB_MEMBER);
		CHECK(memcmp(e[2 + i].id, c->ids[1 + i], CODEC_ID_LEN) == 0);
		CHECK_EQ_INT(e[2 + i].offset, off);
		CHECK_EQ_INT(e[2 + i].length, 0);
		CHECK_EQ_INT(e[2 + i].raw_len, c->lens[1 + i]);
		off += c->lens[1 + i];
	}
	CHECK_EQ_INT(e[5].type, BLOB_DATA);
	CHECK_EQ_INT(e[5].offset, frame_off + frame_len);
	/* the frame, read from the pack where its entry says */
	out = malloc(p_len);
	REQUIRE(out);
	CHECK_EQ_INT(frame_open(ctx, keys_a, pb.buf + e[1].offset, e[1].length, out, e[1].raw_len, mem, &m), 0);
	CHECK_EQ_INT(m, 3);
	for (size_t i = 0; i < 3; i++) {
		CHECK_EQ_INT(frame_member_at(mem, m, e[2 + i].id, e[2 + i].offset, e[2 + i].raw_len), 0);
		CHECK(memcmp(out + e[2 + i].offset, c->data[1 + i], c->lens[1 + i]) == 0);
	}
	free(out);
	free(e);
	e = NULL;

	/* the same builder without a frame: ENTRIES version 1, read by both */
	pack_builder_reset(&pb);
	REQUIRE(pack_builder_reserve(&pb, c->lens[0] + CODEC_BLOB_OVERHEAD, &dst) == 0);
	REQUIRE(codec_blob_seal(ctx, keys_a, BLOB_DATA, c->ids[0], c->data[0], c->lens[0], 1, dst, &len) == 0);
	REQUIRE(pack_builder_commit(&pb, BLOB_DATA, c->ids[0], len, c->lens[0]) == 0);
	REQUIRE(pack_builder_finish(&pb, keys_a, pack_id) == 0);
	REQUIRE(pack_footer_decode(pb.buf + pb.len - PACK_FOOTER_LEN, pb.len, &tlen) == 0);
	trailer = pb.buf + pb.len - PACK_FOOTER_LEN - tlen;
	CHECK_EQ_INT(pack_trailer_decode(keys_a, trailer, tlen, pb.len, &e, &n), 0);
	CHECK_EQ_INT(n, 1);
	free(e);
	CHECK_EQ_INT(pack_trailer_decode_frames(keys_a, trailer, tlen, pb.len, 1, &e, &n), 0);
	CHECK_EQ_INT(n, 1);
	free(e);
	/* its plaintext starts with version 1 */
	uint8_t plain[5 + PACK_ENTRY_LEN];
	uint8_t *op = NULL;
	size_t op_len = 0;
	uint8_t ad[12];
	memcpy(ad, trailer, 12);
	REQUIRE(codec_open(keys_a, ad, 12, trailer + 12, tlen - 12, &op, &op_len) == 0);
	CHECK_EQ_INT(op_len, sizeof plain);
	CHECK_EQ_INT(op[0], 1);
	free(op);
	pack_builder_free(&pb);
	free(p);
	free(c);
}

/* Parsed plaintexts of ENTRIES version 2: refused unless frames are
 * allowed, and then held to §9a's rules. */
static void test_trailer_parse_v2(void)
{
	uint8_t plain[5 + 4 * PACK_ENTRY_LEN], *r;
	PackEntry *e = NULL;
	size_t n = 0;

	memset(plain, 0, sizeof plain);
	plain[0] = 2;
	format_put_le32(plain + 1, 4);
	r = plain + 5;                                   /* blob 0..100 */
	r[0] = BLOB_DATA; memset(r + 1, 1, 32);
	format_put_le32(r + 37, 100); format_put_le32(r + 41, 100);
	r += PACK_ENTRY_LEN;                             /* frame 100..300, raw 74 + 150 + 50 */
	r[0] = FORMAT_BLOB_FRAME;
	format_put_le32(r + 33, 100); format_put_le32(r + 37, 200); format_put_le32(r + 41, 274);
	r += PACK_ENTRY_LEN;
	r[0] = FORMAT_BLOB_MEMBER; memset(r + 1, 2, 32);
	format_put_le32(r + 33, 74); format_put_le32(r + 41, 150);
	r += PACK_ENTRY_LEN;
	r[0] = FORMAT_BLOB_MEMBER; memset(r + 1, 3, 32);
	format_put_le32(r + 33, 224); format_put_le32(r + 41, 50);
	CHECK_EQ_INT(pack_trailer_parse(plain, sizeof plain, 300, &e, &n), STRATA_EVERSION);
	CHECK_EQ_INT(pack_trailer_parse_frames(plain, sizeof plain, 300, 0, &e, &n), STRATA_EVERSION);
	CHECK_EQ_INT(pack_trailer_parse_frames(plain, sizeof plain, 300, 1, &e, &n), 0);
	CHECK_EQ_INT(n, 4);
	free(e);
	CHECK_EQ_INT(pack_trailer_parse_frames(plain, sizeof plain, 301, 1, &e, &n), STRATA_EFORMAT);
	CHECK_EQ_INT(pack_trailer_parse_frames(plain, sizeof plain - 1, 300, 1, &e, &n), STRATA_EFORMAT);
	r[33] = 225;                                     /* members not end to end */
	CHECK_EQ_INT(pack_trailer_parse_frames(plain, sizeof plain, 300, 1, &e, &n), STRATA_EFORMAT);
	r[33] = 224;
	plain[0] = 3;                                    /* a version above 2 */
	CHECK_EQ_INT(pack_trailer_parse_frames(plain, sizeof plain, 300, 1, &e, &n), STRATA_EVERSION);
	plain[0] = 1;                                    /* version 1 knows no frames */
	CHECK_EQ_INT(pack_trailer_parse_frames(plain, sizeof plain, 300, 1, &e, &n), STRATA_EFORMAT);
	/* version 2 without a frame (no writer makes one): the blob alone, and no entry */
	plain[0] = 2;
	format_put_le32(plain + 1, 1);
	CHECK_EQ_INT(pack_trailer_parse_frames(plain, 5 + PACK_ENTRY_LEN, 100, 1, &e, &n), STRATA_EFORMAT);
	plain[0] = 1;
	CHECK_EQ_INT(pack_trailer_parse_frames(plain, 5 + PACK_ENTRY_LEN, 100, 1, &e, &n), 0);
	free(e);
	plain[0] = 2;
	format_put_le32(plain + 1, 0);
	CHECK_EQ_INT(pack_trailer_parse_frames(plain, 5, 0, 1, &e, &n), STRATA_EFORMAT);
}

/* Index file CONTENT version 2 (§9a): written only when a pack lists a
 * frame, refused as newer by indexfile_decode, read back entry for entry
 * by indexfile_decode_frames, which holds frames to the rules. */
static void test_indexfile_frames(void)
{
	PackEntry e[5];
	IndexFilePack ip, *got = NULL;
	uint8_t *plain = NULL;
	size_t len = 0, n = 0;

	e[0] = ent(BLOB_DATA, 1, 0, 100, 100);
	e[1] = ent(FORMAT_BLOB_FRAME, 0, 100, 300, 574);
	e[2] = ent(FORMAT_BLOB_MEMBER, 2, 74, 0, 300);
	e[3] = ent(FORMAT_BLOB_MEMBER, 3, 374, 0, 200);
	e[4] = ent(BLOB_DATA, 4, 400, 100, 80);
	memset(&ip, 0, sizeof ip);
	memset(ip.id, 0x77, sizeof ip.id);
	ip.kind = PACK_KIND_DATA;
	ip.size = 700;
	ip.entries = e;
	ip.n = 5;
	REQUIRE(indexfile_encode(&ip, 1, &plain, &len) == 0);
	CHECK_EQ_INT(plain[0], 2);
	CHECK_EQ_INT(len, 5 + 45 + 5 * PACK_ENTRY_LEN);
	CHECK_EQ_INT(indexfile_decode(plain, len, &got, &n), STRATA_EVERSION);
	REQUIRE(indexfile_decode_frames(plain, len, 1, &got, &n) == 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(got[0].n, 5);
	for (size_t i = 0; i < 5 && got[0].n == 5; i++) {
		CHECK_EQ_INT(got[0].entries[i].type, e[i].type);
		CHECK(memcmp(got[0].entries[i].id, e[i].id, CODEC_ID_LEN) == 0);
		CHECK_EQ_INT(got[0].entries[i].offset, e[i].offset);
		CHECK_EQ_INT(got[0].entries[i].length, e[i].length);
		CHECK_EQ_INT(got[0].entries[i].raw_len, e[i].raw_len);
	}
	indexfile_packs_free(got, n);
	free(plain);

	/* what each rule refuses */
	ip.kind = PACK_KIND_TREE;                         /* a frame in a tree pack */
	e[0].type = BLOB_TREE;
	e[4].type = BLOB_TREE;
	REQUIRE(indexfile_encode(&ip, 1, &plain, &len) == 0);
	CHECK_EQ_INT(indexfile_decode_frames(plain, len, 1, &got, &n), STRATA_EFORMAT);
	free(plain);
	ip.kind = PACK_KIND_DATA;
	e[0].type = BLOB_DATA;
	e[4].type = BLOB_DATA;
	ip.size = 399;                                    /* the frame past the pack's end */
	REQUIRE(indexfile_encode(&ip, 1, &plain, &len) == 0);
	CHECK_EQ_INT(indexfile_decode_frames(plain, len, 1, &got, &n), STRATA_EFORMAT);
	free(plain);
	ip.size = 700;
	e[3].offset = 375;                                /* members not end to end */
	REQUIRE(indexfile_encode(&ip, 1, &plain, &len) == 0);
	CHECK_EQ_INT(indexfile_decode_frames(plain, len, 1, &got, &n), STRATA_EFORMAT);
	free(plain);
	e[3].offset = 374;
	ip.entries = e + 2;                               /* members without their frame */
	ip.n = 3;
	e[4].type = FORMAT_BLOB_FRAME;                    /* (and a frame so version 2 is written) */
	REQUIRE(indexfile_encode(&ip, 1, &plain, &len) == 0);
	CHECK_EQ_INT(plain[0], 2);
	CHECK_EQ_INT(indexfile_decode_frames(plain, len, 1, &got, &n), STRATA_EFORMAT);
	free(plain);
	e[4].type = BLOB_DATA;

	/* version 2 without a frame (no writer makes one), here with no pack */
	uint8_t empty_v2[5] = {2, 0, 0, 0, 0};
	CHECK_EQ_INT(indexfile_decode_frames(empty_v2, 5, 1, &got, &n), STRATA_EFORMAT);

	/* no frame: version 1, byte for byte what both decoders read */
	ip.entries = e + 4;
	ip.n = 1;
	REQUIRE(indexfile_encode(&ip, 1, &plain, &len) == 0);
	CHECK_EQ_INT(plain[0], 1);
	CHECK_EQ_INT(indexfile_decode(plain, len, &got, &n), 0);
	indexfile_packs_free(got, n);
	CHECK_EQ_INT(indexfile_decode_frames(plain, len, 1, &got, &n), 0);
	indexfile_packs_free(got, n);
	free(plain);
}

int main(void)
{
	uint8_t ma[CODEC_KEY_LEN], mb[CODEC_KEY_LEN];

	if (codec_init() != 0)
		return 1;
	memset(ma, 0xa5, sizeof ma);
	memset(mb, 0xa5, sizeof mb);
	mb[31] ^= 1;
	keys_a = codec_keys_new(ma);
	keys_b = codec_keys_new(mb);
	ctx = codec_ctx_new();
	if (!keys_a || !keys_b || !ctx)
		return 1;
	RUN(test_round_trip);
	RUN(test_compresses_across_chunks);
	RUN(test_open_refused);
	RUN(test_header_parse);
	RUN(test_build_limits);
	RUN(test_verify_names_bad_member);
	RUN(test_entries_check);
	RUN(test_pack_with_frame);
	RUN(test_trailer_parse_v2);
	RUN(test_indexfile_frames);
	codec_ctx_free(ctx);
	codec_keys_free(keys_a);
	codec_keys_free(keys_b);
	return CHECK_EXIT();
}
