/* test_codec.c — unit tests for store/codec.c: blob sealing and opening
 * (raw and zstd bodies), every way a blob can be refused, whole-file
 * sealing with additional data, compression bounds, hex and base64,
 * keyed chunk IDs, file hashes, key derivation and the gear table; and
 * that OpenSSL's path for chunk IDs and blob encryption gives libsodium's
 * bytes exactly, both ways, and that the libsodium fallback is used when
 * OpenSSL's algorithms are missing.
 *
 * Test data comes from a local splitmix64 so every run sees the same bytes.
 */
#include "store/codec.h"
#include "tests/check.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <zstd.h>

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

static uint8_t *random_bytes(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len ? len : 1);

	for (size_t i = 0; p && i < len; i++)
		p[i] = (uint8_t)rng_next(&seed);
	return p;
}

/* Text-like bytes that zstd shrinks well. */
static uint8_t *compressible_bytes(size_t len)
{
	static const char words[] = "the quick brown fox jumps over the lazy dog; ";
	uint8_t *p = malloc(len ? len : 1);

	for (size_t i = 0; p && i < len; i++)
		p[i] = (uint8_t)words[i % (sizeof words - 1)];
	return p;
}

/* Seal plain as a blob of type under keys with its real chunk ID; returns
 * the malloc'ed blob or NULL. */
static uint8_t *seal(const CodecKeys *k, uint8_t type, const uint8_t *plain, size_t len, int level,
                     uint8_t id[CODEC_ID_LEN], size_t *out_len)
{
	uint8_t *blob = malloc(len + CODEC_BLOB_OVERHEAD);

	if (!blob)
		return NULL;
	codec_chunk_id(k, plain, len, id);
	if (codec_blob_seal(ctx, k, type, id, plain, len, level, blob, out_len) != 0) {
		free(blob);
		return NULL;
	}
	return blob;
}

/* Open blob and compare with plain; returns codec_blob_open's code, or 1
 * when it succeeded with different bytes. */
static int open_cmp(const CodecKeys *k, uint8_t type, const uint8_t id[CODEC_ID_LEN],
                    const uint8_t *blob, size_t blob_len, const uint8_t *plain, size_t raw_len)
{
	uint8_t *out = malloc(raw_len ? raw_len : 1);
	int rc;

	if (!out)
		return -ENOMEM;
	rc = codec_blob_open(ctx, k, type, id, blob, blob_len, out, raw_len);
	if (rc == 0 && raw_len && memcmp(out, plain, raw_len) != 0)
		rc = 1;
	free(out);
	return rc;
}

static void round_trip(const uint8_t *plain, size_t len, int level, int expect_raw)
{
	uint8_t id[CODEC_ID_LEN];
	size_t blob_len = 0;
	uint8_t *blob = seal(keys_a, BLOB_DATA, plain, len, level, id, &blob_len);

	REQUIRE(blob);
	if (expect_raw)
		CHECK_EQ_INT(blob_len, len + CODEC_BLOB_OVERHEAD);
	else
		CHECK(blob_len < len + CODEC_BLOB_OVERHEAD);
	CHECK_EQ_INT(open_cmp(keys_a, BLOB_DATA, id, blob, blob_len, plain, len), 0);
	free(blob);
}

static void test_blob_round_trip_raw(void)
{
	uint8_t *rnd = random_bytes(100000, 1), *txt = compressible_bytes(100000);

	REQUIRE(rnd && txt);
	round_trip(rnd, 0, 3, 1);                 /* empty */
	round_trip(rnd, 1, 3, 1);                 /* 1 byte */
	round_trip(txt, 63, 3, 1);                /* below the 64-byte compression floor */
	round_trip(rnd, 100000, 3, 1);            /* incompressible: stored raw */
	round_trip(txt, 100000, -1, 1);           /* level < 0: never compressed */
	free(rnd);
	free(txt);
}

static void test_blob_round_trip_zstd(void)
{
	uint8_t *txt = compressible_bytes(1 << 20);

	REQUIRE(txt);
	round_trip(txt, 128, 3, 0);
	round_trip(txt, 4096, 0, 0);              /* level 0 means auto */
	round_trip(txt, 1 << 20, 19, 0);
	free(txt);
}

/* Size of plain compressed at level by zstd's one-shot API. */
static size_t zstd_size(const uint8_t *plain, size_t len, int level)
{
	size_t cap = ZSTD_compressBound(len), z;
	void *buf = malloc(cap);

	if (!buf)
		return 0;
	z = ZSTD_compress(buf, cap, plain, len, level);
	free(buf);
	return ZSTD_isError(z) ? 0 : z;
}

/* Seal plain at level 0 (auto) and check that its sealed length is, byte
 * for byte, what zstd gives at want_level; then open it. */
static void auto_picks(const uint8_t *plain, size_t len, int want_level)
{
	uint8_t id[CODEC_ID_LEN], *blob;
	size_t blob_len = 0, z = zstd_size(plain, len, want_level);

	REQUIRE(z > 0 && z < len);
	REQUIRE((blob = seal(keys_a, BLOB_DATA, plain, len, 0, id, &blob_len)) != NULL);
	CHECK_EQ_INT(blob_len, z + CODEC_BLOB_OVERHEAD);
	CHECK_EQ_INT(open_cmp(keys_a, BLOB_DATA, id, blob, blob_len, plain, len), 0);
	free(blob);
}

/* Level 0 (auto): a chunk of low byte entropy is compressed at the
 * default level, whose entropy-coded literals pay there; a chunk of
 * high-entropy bytes with repeats at the fast level, which finds the same
 * repeats. Each case also checks that the other level would differ. */
static void test_blob_auto_level(void)
{
	enum { LEN = 64 * 1024 };
	uint8_t *json = malloc(LEN + 128), *low = random_bytes(LEN, 7), *rep = random_bytes(LEN, 9);
	uint64_t seed = 11;
	size_t n = 0;

	REQUIRE(json && low && rep);
	while (n < LEN)   /* a JSON export */
		n += (size_t)snprintf((char *)json + n, 128, "{\"account\":\"%016llx\",\"balance\":%llu,\"nonce\":%u},\n",
		                      (unsigned long long)(rng_next(&seed) & 0xffff0000ffffULL),
		                      (unsigned long long)(rng_next(&seed) % 100000), (unsigned)(rng_next(&seed) % 50));
	for (size_t i = 0; i < LEN; i++)   /* 6 bits a byte, no repeats */
		low[i] &= 0x3f;
	for (size_t i = 0; i < LEN; i++)   /* 7.6 bits a byte ... */
		rep[i] %= 200;
	for (size_t i = 0; i < LEN; i += 4096)   /* ... and each 4 KiB half a copy */
		memcpy(rep + i + 2048, rep + i, 2048);
	CHECK(zstd_size(json, LEN, CODEC_ZSTD_DEFAULT_LEVEL) < zstd_size(json, LEN, CODEC_ZSTD_FAST_LEVEL));
	CHECK(zstd_size(low, LEN, CODEC_ZSTD_DEFAULT_LEVEL) < zstd_size(low, LEN, CODEC_ZSTD_FAST_LEVEL));
	/* Level 1 would save a few % more here: the price of the fast level's speed */
	CHECK(zstd_size(rep, LEN, CODEC_ZSTD_DEFAULT_LEVEL) < zstd_size(rep, LEN, CODEC_ZSTD_FAST_LEVEL));
	auto_picks(json, LEN, CODEC_ZSTD_DEFAULT_LEVEL);
	auto_picks(low, LEN, CODEC_ZSTD_DEFAULT_LEVEL);
	auto_picks(rep, LEN, CODEC_ZSTD_FAST_LEVEL);
	free(json);
	free(low);
	free(rep);
}

static void test_blob_types_round_trip(void)
{
	uint8_t *txt = compressible_bytes(3000), id[CODEC_ID_LEN];
	size_t blob_len;

	REQUIRE(txt);
	for (uint8_t type = 0; type <= BLOB_TYPE_MAX; type++) {
		uint8_t *blob = seal(keys_a, type, txt, 3000, 3, id, &blob_len);
		REQUIRE(blob);
		CHECK_EQ_INT(open_cmp(keys_a, type, id, blob, blob_len, txt, 3000), 0);
		free(blob);
	}
	free(txt);
}

/* Flipping any bit of any byte of a blob must fail authentication. */
static void tamper_every_byte(const uint8_t *plain, size_t len)
{
	uint8_t id[CODEC_ID_LEN];
	size_t blob_len = 0;
	uint8_t *blob = seal(keys_a, BLOB_TREE, plain, len, 3, id, &blob_len);
	int bad = 0;

	REQUIRE(blob);
	for (size_t i = 0; i < blob_len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			blob[i] ^= (uint8_t)(1u << bit);
			if (open_cmp(keys_a, BLOB_TREE, id, blob, blob_len, plain, len) != STRATA_EAUTH)
				bad++;
			blob[i] ^= (uint8_t)(1u << bit);
		}
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(open_cmp(keys_a, BLOB_TREE, id, blob, blob_len, plain, len), 0);
	free(blob);
}

static void test_blob_tamper_every_byte(void)
{
	uint8_t *rnd = random_bytes(20, 2), *txt = compressible_bytes(300);

	REQUIRE(rnd && txt);
	tamper_every_byte(rnd, 20);     /* raw body */
	tamper_every_byte(txt, 300);    /* zstd body */
	tamper_every_byte(rnd, 0);      /* codec byte and tag only */
	free(rnd);
	free(txt);
}

static void test_blob_tampered_nonce(void)
{
	uint8_t *txt = compressible_bytes(500), id[CODEC_ID_LEN];
	size_t blob_len;
	uint8_t *blob = seal(keys_a, BLOB_DATA, txt, 500, 3, id, &blob_len);

	REQUIRE(txt && blob);
	/* A whole new nonce, as a replay with another nonce would have. */
	for (size_t i = 0; i < CODEC_NONCE_LEN; i++)
		blob[i] = (uint8_t)~blob[i];
	CHECK_EQ_INT(open_cmp(keys_a, BLOB_DATA, id, blob, blob_len, txt, 500), STRATA_EAUTH);
	free(blob);
	free(txt);
}

static void test_blob_wrong_id_type_key(void)
{
	uint8_t *txt = compressible_bytes(500), id[CODEC_ID_LEN], other[CODEC_ID_LEN];
	size_t blob_len;
	uint8_t *blob = seal(keys_a, BLOB_DATA, txt, 500, 3, id, &blob_len);

	REQUIRE(txt && blob);
	memcpy(other, id, sizeof other);
	other[CODEC_ID_LEN - 1] ^= 1;
	CHECK_EQ_INT(open_cmp(keys_a, BLOB_DATA, other, blob, blob_len, txt, 500), STRATA_EAUTH);
	CHECK_EQ_INT(open_cmp(keys_a, BLOB_TREE, id, blob, blob_len, txt, 500), STRATA_EAUTH);
	CHECK_EQ_INT(open_cmp(keys_a, BLOB_TREEPART, id, blob, blob_len, txt, 500), STRATA_EAUTH);
	CHECK_EQ_INT(open_cmp(keys_b, BLOB_DATA, id, blob, blob_len, txt, 500), STRATA_EAUTH);
	CHECK_EQ_INT(open_cmp(keys_a, BLOB_DATA, id, blob, blob_len, txt, 500), 0);
	free(blob);
	free(txt);
}

static void test_blob_raw_len_mismatch(void)
{
	uint8_t *rnd = random_bytes(200, 3), *txt = compressible_bytes(2000);
	uint8_t id_r[CODEC_ID_LEN], id_z[CODEC_ID_LEN];
	size_t len_r, len_z;
	uint8_t *blob_r = seal(keys_a, BLOB_DATA, rnd, 200, 3, id_r, &len_r);
	uint8_t *blob_z = seal(keys_a, BLOB_DATA, txt, 2000, 3, id_z, &len_z);

	REQUIRE(rnd && txt && blob_r && blob_z);
	REQUIRE(len_r == 200 + CODEC_BLOB_OVERHEAD);
	REQUIRE(len_z < 2000);
	CHECK_EQ_INT(open_cmp(keys_a, BLOB_DATA, id_r, blob_r, len_r, rnd, 199), STRATA_EFORMAT);
	CHECK_EQ_INT(open_cmp(keys_a, BLOB_DATA, id_r, blob_r, len_r, rnd, 201), STRATA_EFORMAT);
	CHECK_EQ_INT(open_cmp(keys_a, BLOB_DATA, id_r, blob_r, len_r, rnd, 0), STRATA_EFORMAT);
	CHECK_EQ_INT(open_cmp(keys_a, BLOB_DATA, id_z, blob_z, len_z, txt, 1999), STRATA_EFORMAT);
	CHECK_EQ_INT(open_cmp(keys_a, BLOB_DATA, id_z, blob_z, len_z, txt, 2001), STRATA_EFORMAT);
	free(blob_r);
	free(blob_z);
	free(rnd);
	free(txt);
}

static void test_blob_short_and_truncated(void)
{
	uint8_t *txt = compressible_bytes(400), id[CODEC_ID_LEN], out[400];
	size_t blob_len;
	uint8_t *blob = seal(keys_a, BLOB_DATA, txt, 400, 3, id, &blob_len);
	int bad = 0;

	REQUIRE(txt && blob);
	for (size_t n = 0; n < blob_len; n++) {
		int rc = codec_blob_open(ctx, keys_a, BLOB_DATA, id, blob, n, out, 400);
		if (rc != (n < CODEC_BLOB_OVERHEAD ? STRATA_EFORMAT : STRATA_EAUTH))
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	free(blob);
	free(txt);
}

/* Authentic bytes whose plaintext does not hash to the ID (only the key
 * holder can make these): reported as damage, not as success. */
static void test_blob_id_not_hash_of_content(void)
{
	uint8_t *txt = compressible_bytes(300), id[CODEC_ID_LEN], blob[300 + CODEC_BLOB_OVERHEAD];
	size_t blob_len;

	REQUIRE(txt);
	codec_chunk_id(keys_a, "something else", 14, id);
	REQUIRE(codec_blob_seal(ctx, keys_a, BLOB_DATA, id, txt, 300, 3, blob, &blob_len) == 0);
	CHECK_EQ_INT(open_cmp(keys_a, BLOB_DATA, id, blob, blob_len, txt, 300), STRATA_EDAMAGED);
	free(txt);
}

/* Two seals of the same blob differ (random nonce) and both open. */
static void test_blob_nonce_is_random(void)
{
	uint8_t *txt = compressible_bytes(300), id[CODEC_ID_LEN];
	size_t l1, l2;
	uint8_t *b1 = seal(keys_a, BLOB_DATA, txt, 300, 3, id, &l1);
	uint8_t *b2 = seal(keys_a, BLOB_DATA, txt, 300, 3, id, &l2);

	REQUIRE(txt && b1 && b2);
	CHECK_EQ_INT(l1, l2);
	CHECK(memcmp(b1, b2, CODEC_NONCE_LEN) != 0);
	CHECK(memcmp(b1, b2, l1) != 0);
	CHECK_EQ_INT(open_cmp(keys_a, BLOB_DATA, id, b2, l2, txt, 300), 0);
	free(b1);
	free(b2);
	free(txt);
}

static void test_seal_open_with_ad(void)
{
	static const uint8_t ad[] = "STRATACF\x01\x00\x00\x00";
	static const uint8_t ad2[] = "STRATACF\x02\x00\x00\x00";
	const char *msg = "a whole sealed file";
	uint8_t *sealed = NULL, *plain = NULL;
	size_t sealed_len = 0, plain_len = 0;

	REQUIRE(codec_seal(keys_a, ad, 12, msg, strlen(msg), &sealed, &sealed_len) == 0);
	CHECK_EQ_INT(sealed_len, CODEC_NONCE_LEN + strlen(msg) + CODEC_TAG_LEN);
	CHECK_EQ_INT(codec_open(keys_a, ad, 12, sealed, sealed_len, &plain, &plain_len), 0);
	CHECK_EQ_INT(plain_len, strlen(msg));
	CHECK(plain && memcmp(plain, msg, plain_len) == 0);
	free(plain);
	plain = NULL;
	CHECK_EQ_INT(codec_open(keys_a, ad2, 12, sealed, sealed_len, &plain, &plain_len), STRATA_EAUTH);
	CHECK_EQ_INT(codec_open(keys_a, ad, 11, sealed, sealed_len, &plain, &plain_len), STRATA_EAUTH);
	CHECK_EQ_INT(codec_open(keys_a, NULL, 0, sealed, sealed_len, &plain, &plain_len), STRATA_EAUTH);
	CHECK_EQ_INT(codec_open(keys_b, ad, 12, sealed, sealed_len, &plain, &plain_len), STRATA_EAUTH);
	CHECK_EQ_INT(codec_open_with(keys_a->master, ad, 12, sealed, sealed_len, &plain, &plain_len),
	             STRATA_EAUTH);
	CHECK_EQ_INT(codec_open_with(keys_a->enc_key, ad, 12, sealed, sealed_len, &plain, &plain_len), 0);
	free(plain);
	plain = NULL;
	for (size_t i = 0; i < sealed_len; i++) {
		sealed[i] ^= 0x80;
		CHECK_EQ_INT(codec_open(keys_a, ad, 12, sealed, sealed_len, &plain, &plain_len), STRATA_EAUTH);
		sealed[i] ^= 0x80;
	}
	CHECK_EQ_INT(codec_open(keys_a, ad, 12, sealed, CODEC_NONCE_LEN + CODEC_TAG_LEN - 1, &plain, &plain_len),
	             STRATA_EFORMAT);
	CHECK_EQ_INT(codec_open(keys_a, ad, 12, sealed, sealed_len - 1, &plain, &plain_len), STRATA_EAUTH);
	CHECK(plain == NULL);
	free(sealed);
}

static void test_seal_open_empty(void)
{
	uint8_t key[CODEC_KEY_LEN], *sealed = NULL, *plain = NULL;
	size_t sealed_len = 0, plain_len = 99;

	memset(key, 7, sizeof key);
	REQUIRE(codec_seal_with(key, NULL, 0, "", 0, &sealed, &sealed_len) == 0);
	CHECK_EQ_INT(sealed_len, CODEC_NONCE_LEN + CODEC_TAG_LEN);
	CHECK_EQ_INT(codec_open_with(key, NULL, 0, sealed, sealed_len, &plain, &plain_len), 0);
	CHECK_EQ_INT(plain_len, 0);
	CHECK(plain != NULL);
	free(plain);
	free(sealed);
}

static void test_compress_bounds(void)
{
	uint8_t *txt = compressible_bytes(50000), *z = NULL, *back = NULL;
	size_t zlen = 0, back_len = 0;

	REQUIRE(txt);
	REQUIRE(codec_compress(txt, 50000, 3, &z, &zlen) == 0);
	CHECK(zlen < 50000);
	CHECK_EQ_INT(codec_decompress(z, zlen, 50000, &back, &back_len), 0);
	CHECK_EQ_INT(back_len, 50000);
	CHECK(back && memcmp(back, txt, 50000) == 0);
	free(back);
	back = NULL;
	/* A frame that would inflate past the caller's limit is refused. */
	CHECK_EQ_INT(codec_decompress(z, zlen, 49999, &back, &back_len), STRATA_EFORMAT);
	CHECK_EQ_INT(codec_decompress(z, zlen - 1, 50000, &back, &back_len), STRATA_EFORMAT);
	CHECK_EQ_INT(codec_decompress(txt, 1000, 1 << 20, &back, &back_len), STRATA_EFORMAT);
	CHECK_EQ_INT(codec_decompress(z, 0, 1 << 20, &back, &back_len), STRATA_EFORMAT);
	CHECK(back == NULL);
	free(z);
	z = NULL;
	REQUIRE(codec_compress("", 0, 3, &z, &zlen) == 0);
	CHECK_EQ_INT(codec_decompress(z, zlen, 0, &back, &back_len), 0);
	CHECK_EQ_INT(back_len, 0);
	free(back);
	free(z);
	free(txt);
}

static void test_hex(void)
{
	static const uint8_t bin[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	uint8_t out[6];
	char hex[13];

	codec_hex(bin, sizeof bin, hex);
	CHECK_STR(hex, "00017f80abff");
	CHECK_EQ_INT(codec_unhex("00017f80abff", out, 6), 0);
	CHECK(memcmp(out, bin, 6) == 0);
	CHECK_EQ_INT(codec_unhex("00017F80ABFF", out, 6), 0);
	CHECK(memcmp(out, bin, 6) == 0);
	CHECK_EQ_INT(codec_unhex("00017f80abf", out, 6), STRATA_EFORMAT);
	CHECK_EQ_INT(codec_unhex("00017f80abff00", out, 6), STRATA_EFORMAT);
	CHECK_EQ_INT(codec_unhex("00017f80abfg", out, 6), STRATA_EFORMAT);
	CHECK_EQ_INT(codec_unhex("00017f 80abf", out, 6), STRATA_EFORMAT);
	CHECK_EQ_INT(codec_unhex("", out, 0), 0);
	codec_hex(bin, 0, hex);
	CHECK_STR(hex, "");
}

static void test_base64(void)
{
	static const struct { const char *bin, *b64; } v[] = {   /* RFC 4648 §10 */
		{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
		{"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
	};
	uint8_t out[16], all[256];
	size_t out_len = 0;

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char *s = codec_b64((const uint8_t *)v[i].bin, strlen(v[i].bin));
		CHECK_STR(s, v[i].b64);
		free(s);
		CHECK_EQ_INT(codec_unb64(v[i].b64, out, sizeof out, &out_len), 0);
		CHECK_EQ_INT(out_len, strlen(v[i].bin));
		CHECK(memcmp(out, v[i].bin, out_len) == 0);
	}
	CHECK_EQ_INT(codec_unb64("Zm9vYmFy", out, 5, &out_len), STRATA_EFORMAT);   /* no room */
	CHECK_EQ_INT(codec_unb64("Zm9v!mFy", out, sizeof out, &out_len), STRATA_EFORMAT);
	CHECK_EQ_INT(codec_unb64("Zm9vYg", out, sizeof out, &out_len), STRATA_EFORMAT); /* padding */
	CHECK_EQ_INT(codec_unb64("Zm9v_-Fy", out, sizeof out, &out_len), STRATA_EFORMAT); /* URL alphabet */
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	char *s = codec_b64(all, sizeof all);
	uint8_t back[256];
	REQUIRE(s);
	CHECK_EQ_INT(codec_unb64(s, back, sizeof back, &out_len), 0);
	CHECK_EQ_INT(out_len, 256);
	CHECK(memcmp(back, all, 256) == 0);
	free(s);
}

static void test_chunk_id_keyed(void)
{
	uint8_t a1[CODEC_ID_LEN], a2[CODEC_ID_LEN], b[CODEC_ID_LEN], plain[CODEC_ID_LEN];
	uint8_t c[CODEC_ID_LEN];
	CodecKeys *again;

	codec_chunk_id(keys_a, "chunk", 5, a1);
	codec_chunk_id(keys_a, "chunk", 5, a2);
	codec_chunk_id(keys_b, "chunk", 5, b);
	codec_file_hash("chunk", 5, plain);
	codec_chunk_id(keys_a, "chunK", 5, c);
	CHECK(memcmp(a1, a2, CODEC_ID_LEN) == 0);
	CHECK(memcmp(a1, b, CODEC_ID_LEN) != 0);
	CHECK(memcmp(a1, plain, CODEC_ID_LEN) != 0);   /* keyed, not the plain hash */
	CHECK(memcmp(a1, c, CODEC_ID_LEN) != 0);
	/* The same master key gives the same IDs in another process/run. */
	again = codec_keys_new(keys_a->master);
	REQUIRE(again);
	codec_chunk_id(again, "chunk", 5, a2);
	CHECK(memcmp(a1, a2, CODEC_ID_LEN) == 0);
	codec_keys_free(again);
}

/* Lengths around BLAKE2b's 128-byte block and Poly1305's 16-byte block,
 * and chunk-sized ones. */
static const size_t CROSS_LENS[] = { 0, 1, 15, 16, 17, 63, 64, 127, 128, 129, 255, 256, 1000,
                                     4096, 65535, 65536, 65537, 1 << 20 };
#define N_CROSS (sizeof CROSS_LENS / sizeof CROSS_LENS[0])

static void test_chunk_id_matches_libsodium(void)
{
	uint8_t got[CODEC_ID_LEN], want[CODEC_ID_LEN];

	/* On this project's machines OpenSSL provides BLAKE2BMAC and
	 * ChaCha20-Poly1305: without them this test would compare libsodium
	 * with itself. */
	CHECK(keys_a->ossl_mac != NULL);
	CHECK(keys_a->ossl_aead != NULL);
	for (size_t i = 0; i < N_CROSS; i++) {
		uint8_t *data = random_bytes(CROSS_LENS[i], 100 + i);

		REQUIRE(data);
		codec_chunk_id(keys_a, data, CROSS_LENS[i], got);
		crypto_generichash(want, sizeof want, data, CROSS_LENS[i], keys_a->id_key, CODEC_KEY_LEN);
		CHECK(memcmp(got, want, CODEC_ID_LEN) == 0);
		free(data);
	}
}

/* A blob sealed by the codec opens with libsodium's XChaCha20-Poly1305,
 * and one sealed by libsodium opens with the codec (and is refused when
 * its tag is damaged): the OpenSSL path writes the format's bytes. */
static void test_blob_aead_matches_libsodium(void)
{
	uint8_t id[CODEC_ID_LEN], ad[2 + CODEC_ID_LEN];

	memset(id, 0x3c, sizeof id);
	ad[0] = 1;   /* FORMAT.md "Blob": AD version, type, chunk ID */
	ad[1] = BLOB_DATA;
	memcpy(ad + 2, id, CODEC_ID_LEN);
	for (size_t i = 0; i < N_CROSS; i++) {
		size_t len = CROSS_LENS[i], sealed_len = 0;
		uint8_t *data = random_bytes(len, 200 + i);
		uint8_t *msg = malloc(len + 1), *sealed = malloc(len + CODEC_BLOB_OVERHEAD);
		uint8_t *back = malloc(len + 1);
		unsigned long long n = 0;

		REQUIRE(data && msg && sealed && back);
		/* codec -> libsodium (level -1: stored raw, codec byte 0) */
		REQUIRE(codec_blob_seal(ctx, keys_a, BLOB_DATA, id, data, len, -1, sealed,
		                        &sealed_len) == 0);
		CHECK_EQ_INT((long long)sealed_len, (long long)(len + CODEC_BLOB_OVERHEAD));
		CHECK_EQ_INT(crypto_aead_xchacha20poly1305_ietf_decrypt(back, &n, NULL,
		                 sealed + CODEC_NONCE_LEN, sealed_len - CODEC_NONCE_LEN, ad, sizeof ad,
		                 sealed, keys_a->enc_key), 0);
		CHECK_EQ_INT((long long)n, (long long)(len + 1));
		CHECK_EQ_INT(back[0], 0);
		CHECK(memcmp(back + 1, data, len) == 0);
		/* libsodium -> codec */
		msg[0] = 0;
		memcpy(msg + 1, data, len);
		randombytes_buf(sealed, CODEC_NONCE_LEN);
		crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + CODEC_NONCE_LEN, &n, msg, len + 1,
		                                           ad, sizeof ad, NULL, sealed, keys_a->enc_key);
		memset(back, 0xee, len + 1);
		CHECK_EQ_INT(codec_blob_decrypt(ctx, keys_a, BLOB_DATA, id, sealed,
		                                CODEC_NONCE_LEN + (size_t)n, back, len), 0);
		CHECK(memcmp(back, data, len) == 0);
		sealed[CODEC_NONCE_LEN + (size_t)n - 1] ^= 0x01;   /* last tag byte */
		CHECK_EQ_INT(codec_blob_decrypt(ctx, keys_a, BLOB_DATA, id, sealed,
		                                CODEC_NONCE_LEN + (size_t)n, back, len), STRATA_EAUTH);
		free(data);
		free(msg);
		free(sealed);
		free(back);
	}
}

/* Keys whose OpenSSL algorithms are missing (an OpenSSL configured
 * without them) compute the same IDs and blobs through libsodium. */
static void test_libsodium_fallback(void)
{
	CodecKeys *k = codec_keys_new(keys_a->master);
	struct evp_mac_st *mac;
	struct evp_cipher_st *aead;
	uint8_t a[CODEC_ID_LEN], b[CODEC_ID_LEN], *data = random_bytes(70000, 300);
	uint8_t *sealed = malloc(70000 + CODEC_BLOB_OVERHEAD), *back = malloc(70000);
	size_t sealed_len = 0;

	REQUIRE(k && data && sealed && back);
	mac = k->ossl_mac;
	aead = k->ossl_aead;
	k->ossl_mac = NULL;
	k->ossl_aead = NULL;
	codec_chunk_id(k, data, 70000, a);
	codec_chunk_id(keys_a, data, 70000, b);
	CHECK(memcmp(a, b, CODEC_ID_LEN) == 0);
	/* sealed without OpenSSL, opened with it; then the other way round */
	REQUIRE(codec_blob_seal(ctx, k, BLOB_TREE, a, data, 70000, 0, sealed, &sealed_len) == 0);
	CHECK_EQ_INT(codec_blob_open(ctx, keys_a, BLOB_TREE, a, sealed, sealed_len, back, 70000), 0);
	CHECK(memcmp(back, data, 70000) == 0);
	REQUIRE(codec_blob_seal(ctx, keys_a, BLOB_TREE, a, data, 70000, 0, sealed, &sealed_len) == 0);
	memset(back, 0, 70000);
	CHECK_EQ_INT(codec_blob_open(ctx, k, BLOB_TREE, a, sealed, sealed_len, back, 70000), 0);
	CHECK(memcmp(back, data, 70000) == 0);
	sealed[sealed_len / 2] ^= 0x80;
	CHECK_EQ_INT(codec_blob_open(ctx, k, BLOB_TREE, a, sealed, sealed_len, back, 70000),
	             STRATA_EAUTH);
	k->ossl_mac = mac;
	k->ossl_aead = aead;
	codec_keys_free(k);
	free(data);
	free(sealed);
	free(back);
}

static void test_file_hash_vectors(void)
{
	/* BLAKE2b-256 (RFC 7693 parameters, digest length 32): `b2sum -l 256`. */
	static const char *empty = "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8";
	static const char *abc = "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319";
	uint8_t h[CODEC_ID_LEN], inc[CODEC_ID_LEN];
	char hex[2 * CODEC_ID_LEN + 1];
	CodecHashState st;
	uint8_t *rnd = random_bytes(10000, 4);

	REQUIRE(rnd);
	codec_file_hash("", 0, h);
	codec_hex(h, CODEC_ID_LEN, hex);
	CHECK_STR(hex, empty);
	codec_file_hash("abc", 3, h);
	codec_hex(h, CODEC_ID_LEN, hex);
	CHECK_STR(hex, abc);
	/* Incremental in uneven pieces equals one shot. */
	codec_file_hash(rnd, 10000, h);
	codec_file_hash_init(&st);
	codec_file_hash_update(&st, rnd, 1);
	codec_file_hash_update(&st, rnd + 1, 0);
	codec_file_hash_update(&st, rnd + 1, 4095);
	codec_file_hash_update(&st, rnd + 4096, 10000 - 4096);
	codec_file_hash_final(&st, inc);
	CHECK(memcmp(h, inc, CODEC_ID_LEN) == 0);
	free(rnd);
}

/* Name hashes (codec_name_*): SHA-256 against FIPS 180-2's vectors
 * (what `sha256sum` prints), BLAKE2b-256 as codec_file_hash; incremental
 * in uneven pieces equals one shot, also on a state used before. */
static void test_name_hash(void)
{
	static const char *empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	static const char *abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	static const char *two = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
	static const char *two_in = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	uint8_t h[CODEC_ID_LEN], inc[CODEC_ID_LEN], b2[CODEC_ID_LEN];
	char hex[2 * CODEC_ID_LEN + 1];
	CodecNameState st = {0}, never = {0};
	uint8_t *rnd = random_bytes(100000, 5);

	REQUIRE(rnd);
	REQUIRE(codec_name_hash(CODEC_NAME_SHA256, "", 0, h) == 0);
	codec_hex(h, CODEC_ID_LEN, hex);
	CHECK_STR(hex, empty);
	REQUIRE(codec_name_hash(CODEC_NAME_SHA256, "abc", 3, h) == 0);
	codec_hex(h, CODEC_ID_LEN, hex);
	CHECK_STR(hex, abc);
	REQUIRE(codec_name_hash(CODEC_NAME_SHA256, two_in, strlen(two_in), h) == 0);
	codec_hex(h, CODEC_ID_LEN, hex);
	CHECK_STR(hex, two);
	REQUIRE(codec_name_hash(CODEC_NAME_BLAKE2B, rnd, 100000, h) == 0);
	codec_file_hash(rnd, 100000, b2);
	CHECK(memcmp(h, b2, CODEC_ID_LEN) == 0);
	for (int round = 0; round < 3; round++) {
		CodecNameHash alg = round == 1 ? CODEC_NAME_BLAKE2B : CODEC_NAME_SHA256;
		size_t len = 100000 - (size_t)round * 777;
		REQUIRE(codec_name_hash(alg, rnd, len, h) == 0);
		codec_name_init(&st, alg);
		codec_name_update(&st, rnd, 1);
		codec_name_update(&st, rnd + 1, 0);
		codec_name_update(&st, rnd + 1, 63);
		codec_name_update(&st, rnd + 64, 4033);
		codec_name_update(&st, rnd + 4097, len - 4097);
		CHECK_EQ_INT(codec_name_final(&st, inc), 0);
		CHECK(memcmp(h, inc, CODEC_ID_LEN) == 0);
	}
	CHECK(memcmp(h, b2, CODEC_ID_LEN) != 0);   /* SHA-256 is not BLAKE2b */
	codec_name_release(&st);
	CHECK(st.md == NULL);
	codec_name_release(&never);                 /* a zeroed state */
	free(rnd);
}

static void test_subkeys_distinct(void)
{
	CHECK(memcmp(keys_a->id_key, keys_a->enc_key, CODEC_KEY_LEN) != 0);
	CHECK(memcmp(keys_a->id_key, keys_a->gear_seed, CODEC_KEY_LEN) != 0);
	CHECK(memcmp(keys_a->enc_key, keys_a->gear_seed, CODEC_KEY_LEN) != 0);
	CHECK(memcmp(keys_a->master, keys_a->enc_key, CODEC_KEY_LEN) != 0);
	CHECK(memcmp(keys_a->id_key, keys_b->id_key, CODEC_KEY_LEN) != 0);
}

static void test_gear_deterministic_per_key(void)
{
	static uint64_t g1[256], g2[256], g3[256];
	int zero = 0, dup = 0;

	codec_gear(keys_a, g1);
	codec_gear(keys_a, g2);
	codec_gear(keys_b, g3);
	CHECK(memcmp(g1, g2, sizeof g1) == 0);
	CHECK(memcmp(g1, g3, sizeof g1) != 0);
	for (int i = 0; i < 256; i++) {
		zero += g1[i] == 0;
		for (int j = 0; j < i; j++)
			dup += g1[i] == g1[j];
	}
	CHECK_EQ_INT(zero, 0);
	CHECK_EQ_INT(dup, 0);
}

static void test_pwhash(void)
{
	uint8_t salt[CODEC_SALT_LEN] = {1, 2, 3}, k1[32], k2[32], k3[32];

	CHECK_EQ_INT(codec_pwhash(k1, 32, "pw", 2, salt, 1, 8192), 0);
	CHECK_EQ_INT(codec_pwhash(k2, 32, "pw", 2, salt, 1, 8192), 0);
	CHECK(memcmp(k1, k2, 32) == 0);
	CHECK_EQ_INT(codec_pwhash(k3, 32, "pW", 2, salt, 1, 8192), 0);
	CHECK(memcmp(k1, k3, 32) != 0);
	salt[0] ^= 1;
	CHECK_EQ_INT(codec_pwhash(k3, 32, "pw", 2, salt, 1, 8192), 0);
	CHECK(memcmp(k1, k3, 32) != 0);
	CHECK_EQ_INT(codec_pwhash(k3, 32, "pw", 2, salt, 0, 8192), STRATA_EUSAGE);
	CHECK_EQ_INT(codec_pwhash(k3, 32, "pw", 2, salt, 1, 1024), STRATA_EUSAGE);
	CHECK(codec_pwhash_default_ops() >= 1);
	CHECK(codec_pwhash_default_mem() >= 8192);
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
	RUN(test_blob_round_trip_raw);
	RUN(test_blob_round_trip_zstd);
	RUN(test_blob_auto_level);
	RUN(test_blob_types_round_trip);
	RUN(test_blob_tamper_every_byte);
	RUN(test_blob_tampered_nonce);
	RUN(test_blob_wrong_id_type_key);
	RUN(test_blob_raw_len_mismatch);
	RUN(test_blob_short_and_truncated);
	RUN(test_blob_id_not_hash_of_content);
	RUN(test_blob_nonce_is_random);
	RUN(test_seal_open_with_ad);
	RUN(test_seal_open_empty);
	RUN(test_compress_bounds);
	RUN(test_hex);
	RUN(test_base64);
	RUN(test_chunk_id_keyed);
	RUN(test_chunk_id_matches_libsodium);
	RUN(test_blob_aead_matches_libsodium);
	RUN(test_libsodium_fallback);
	RUN(test_file_hash_vectors);
	RUN(test_name_hash);
	RUN(test_subkeys_distinct);
	RUN(test_gear_deterministic_per_key);
	RUN(test_pwhash);
	codec_ctx_free(ctx);
	codec_keys_free(keys_a);
	codec_keys_free(keys_b);
	return CHECK_EXIT();
}
