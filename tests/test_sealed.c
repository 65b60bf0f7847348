/* test_sealed.c — unit tests for the sealed-file layer in store/sealed.c
 * (FORMAT.md "Sealed file": MAGIC(8) || VERSION(u32 LE) || NONCE || CT ||
 * TAG, with MAGIC || VERSION as additional data): round trip, magic,
 * version bounds, and that the header cannot be changed without the key.
 */
#include "store/repo_internal.h"
#include "tests/check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static CodecKeys *keys_a, *keys_b;
static const char MAGIC[8] = {'S','T','R','A','T','A','T','T'};

static uint8_t *encode(const CodecKeys *k, uint32_t version, const char *text, size_t *out_len)
{
	uint8_t *buf = NULL;

	if (sealed_encode(k, MAGIC, version, text, strlen(text), &buf, out_len) != 0)
		return NULL;
	return buf;
}

static int decode(const CodecKeys *k, uint32_t max, const uint8_t *buf, size_t len, uint32_t *ver)
{
	uint8_t *out = NULL;
	size_t out_len = 0;
	int rc = sealed_decode(k, MAGIC, max, buf, len, &out, &out_len, ver);

	free(out);
	return rc;
}

static void test_round_trip(void)
{
	const char *text = "{\"version\":1}";
	uint8_t *buf, *out = NULL;
	size_t len = 0, out_len = 0;
	uint32_t ver = 0;

	buf = encode(keys_a, 3, text, &len);
	REQUIRE(buf);
	CHECK_EQ_INT(len, SEALED_HEADER_LEN + CODEC_NONCE_LEN + strlen(text) + CODEC_TAG_LEN);
	CHECK(memcmp(buf, MAGIC, 8) == 0);
	CHECK(buf[8] == 3 && buf[9] == 0 && buf[10] == 0 && buf[11] == 0);   /* u32 LE */
	CHECK_EQ_INT(sealed_decode(keys_a, MAGIC, 3, buf, len, &out, &out_len, &ver), 0);
	CHECK_EQ_INT(ver, 3);
	CHECK_EQ_INT(out_len, strlen(text));
	CHECK(out && memcmp(out, text, out_len) == 0);
	free(out);
	out = NULL;
	/* out_version may be NULL; a higher max accepts older files. */
	CHECK_EQ_INT(sealed_decode(keys_a, MAGIC, 9, buf, len, &out, &out_len, NULL), 0);
	free(out);
	free(buf);
}

static void test_magic_and_short(void)
{
	static const char other[8] = {'S','T','R','A','T','A','C','F'};
	uint8_t *buf, *out = NULL;
	size_t len = 0, out_len = 0;

	buf = encode(keys_a, 1, "x", &len);
	REQUIRE(buf);
	CHECK_EQ_INT(sealed_decode(keys_a, other, 1, buf, len, &out, &out_len, NULL), STRATA_EFORMAT);
	for (size_t n = 0; n < SEALED_HEADER_LEN; n++)
		CHECK_EQ_INT(decode(keys_a, 1, buf, n, NULL), STRATA_EFORMAT);
	/* A header with no sealed body behind it. */
	CHECK_EQ_INT(decode(keys_a, 1, buf, SEALED_HEADER_LEN, NULL), STRATA_EFORMAT);
	CHECK_EQ_INT(decode(keys_a, 1, buf, len - 1, NULL), STRATA_EAUTH);
	CHECK(out == NULL);
	free(buf);
}

static void test_version_bounds(void)
{
	uint8_t *v2, *v0;
	size_t len2 = 0, len0 = 0;

	v2 = encode(keys_a, 2, "newer", &len2);
	v0 = encode(keys_a, 0, "zero", &len0);
	REQUIRE(v2 && v0);
	CHECK_EQ_INT(decode(keys_a, 1, v2, len2, NULL), STRATA_EVERSION);
	CHECK_EQ_INT(decode(keys_a, 2, v2, len2, NULL), 0);
	/* Version 0 is never valid, whatever the caller accepts. */
	CHECK_EQ_INT(decode(keys_a, 5, v0, len0, NULL), STRATA_EFORMAT);
	/* The newer-version answer comes before authentication, so an old
	 * binary says "upgrade" even without the right key. */
	CHECK_EQ_INT(decode(keys_b, 1, v2, len2, NULL), STRATA_EVERSION);
	v2[11] = 0x80;   /* version 2^31 + 2 */
	CHECK_EQ_INT(decode(keys_a, 1, v2, len2, NULL), STRATA_EVERSION);
	free(v2);
	free(v0);
}

static void test_header_is_authenticated(void)
{
	uint8_t *buf;
	size_t len = 0;
	uint32_t ver = 0;

	buf = encode(keys_a, 2, "downgrade me", &len);
	REQUIRE(buf);
	buf[8] = 1;   /* claims version 1: the header is AD, so this fails */
	CHECK_EQ_INT(decode(keys_a, 3, buf, len, &ver), STRATA_EAUTH);
	CHECK_EQ_INT(ver, 0);   /* written on success only */
	buf[8] = 2;
	CHECK_EQ_INT(decode(keys_a, 3, buf, len, &ver), 0);
	CHECK_EQ_INT(ver, 2);
	free(buf);
}

static void test_tamper_every_byte(void)
{
	uint8_t *buf;
	size_t len = 0;
	int bad = 0;

	buf = encode(keys_a, 1, "index file body", &len);
	REQUIRE(buf);
	for (size_t i = 0; i < len; i++) {
		int want, rc;
		buf[i] ^= 0x01;
		rc = decode(keys_a, 1, buf, len, NULL);
		/* Magic: EFORMAT; version 1 -> 0: EFORMAT; other version bytes
		 * make it newer: EVERSION; everything else: EAUTH. */
		want = i < 8 || i == 8 ? STRATA_EFORMAT : i < SEALED_HEADER_LEN ? STRATA_EVERSION : STRATA_EAUTH;
		if (rc != want) {
			printf("  byte %zu: got %d, wanted %d\n", i, rc, want);
			bad++;
		}
		buf[i] ^= 0x01;
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(decode(keys_a, 1, buf, len, NULL), 0);
	free(buf);
}

static void test_wrong_key(void)
{
	uint8_t *buf;
	size_t len = 0;

	buf = encode(keys_a, 1, "secret", &len);
	REQUIRE(buf);
	CHECK_EQ_INT(decode(keys_b, 1, buf, len, NULL), STRATA_EAUTH);
	free(buf);
}

static void test_empty_plaintext(void)
{
	uint8_t *buf, *out = NULL;
	size_t len = 0, out_len = 7;

	buf = encode(keys_a, 1, "", &len);
	REQUIRE(buf);
	CHECK_EQ_INT(sealed_decode(keys_a, MAGIC, 1, buf, len, &out, &out_len, NULL), 0);
	CHECK_EQ_INT(out_len, 0);
	free(out);
	free(buf);
}

int main(void)
{
	uint8_t ma[CODEC_KEY_LEN], mb[CODEC_KEY_LEN];

	if (codec_init() != 0)
		return 1;
	memset(ma, 0x11, sizeof ma);
	memset(mb, 0x22, sizeof mb);
	keys_a = codec_keys_new(ma);
	keys_b = codec_keys_new(mb);
	if (!keys_a || !keys_b)
		return 1;
	RUN(test_round_trip);
	RUN(test_magic_and_short);
	RUN(test_version_bounds);
	RUN(test_header_is_authenticated);
	RUN(test_tamper_every_byte);
	RUN(test_wrong_key);
	RUN(test_empty_plaintext);
	codec_keys_free(keys_a);
	codec_keys_free(keys_b);
	return CHECK_EXIT();
}
