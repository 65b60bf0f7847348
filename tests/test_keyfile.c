/* test_keyfile.c — unit tests for store/keyfile.c (FORMAT.md "Key file"):
 * create/unwrap round trip with libsodium's smallest Argon2id limits
 * (opslimit 1, memlimit 8 KiB), wrong passwords, and malformed, incomplete
 * or newer key files.
 */
#include "store/keyfile.h"
#include "tests/check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OPS 1
#define MEM 8192

static uint8_t master[CODEC_KEY_LEN];
static char *good;        /* a key file for password "pw" */
static size_t good_len;

static int unwrap(const char *text, const char *pw, uint8_t out[CODEC_KEY_LEN], StrataErr *err)
{
	return keyfile_unwrap((const uint8_t *)text, strlen(text), pw, strlen(pw), out, NULL, err);
}

/* good with the first occurrence of from replaced by to (malloc'ed). */
static char *edit(const char *from, const char *to)
{
	const char *at = strstr(good, from);
	size_t fl = strlen(from), tl = strlen(to);
	char *s;

	if (!at)
		return NULL;
	s = malloc(good_len - fl + tl + 1);
	if (!s)
		return NULL;
	memcpy(s, good, (size_t)(at - good));
	memcpy(s + (at - good), to, tl);
	strcpy(s + (at - good) + tl, at + fl);
	return s;
}

/* A JSON string field's value in good ("salt", "data"), malloc'ed. */
static char *field(const char *name)
{
	char key[32];
	const char *p, *end;

	snprintf(key, sizeof key, "\"%s\": \"", name);
	p = strstr(good, key);
	if (!p)
		return NULL;
	p += strlen(key);
	end = strchr(p, '"');
	return end ? strndup(p, (size_t)(end - p)) : NULL;
}

static void test_round_trip(void)
{
	uint8_t out[CODEC_KEY_LEN];
	KeyFileInfo info;
	StrataErr err = {0};
	time_t now = time(NULL);

	memset(&info, 0xee, sizeof info);
	CHECK_EQ_INT(keyfile_unwrap((const uint8_t *)good, good_len, "pw", 2, out, &info, &err), 0);
	CHECK(memcmp(out, master, CODEC_KEY_LEN) == 0);
	CHECK_EQ_INT(info.opslimit, OPS);
	CHECK_EQ_INT(info.memlimit, MEM);
	CHECK(info.host[0] != '\0' && memchr(info.host, '\0', sizeof info.host));
	CHECK(info.user[0] != '\0' && memchr(info.user, '\0', sizeof info.user));
	CHECK(info.created_s <= now && info.created_s > now - 600);
	/* The file is JSON text naming its KDF; the password is nowhere in it. */
	CHECK(strstr(good, "\"kdf\": \"argon2id13\"") != NULL);
	CHECK(strstr(good, "\"version\": 1") != NULL);
	memset(&info, 0, sizeof info);
	CHECK_EQ_INT(keyfile_info((const uint8_t *)good, good_len, &info, &err), 0);
	CHECK_EQ_INT(info.opslimit, OPS);
	CHECK_EQ_INT(info.memlimit, MEM);
}

static void test_two_files_same_master(void)
{
	uint8_t *other = NULL, out[CODEC_KEY_LEN];
	size_t other_len = 0;
	StrataErr err = {0};
	char *salt1 = field("salt");

	REQUIRE(keyfile_create(master, "pw", 2, OPS, MEM, &other, &other_len, &err) == 0);
	/* Fresh salt and nonce: the same key and password give another file. */
	CHECK(other_len != good_len || memcmp(other, good, good_len) != 0);
	CHECK(salt1 && strstr((char *)other, salt1) == NULL);
	CHECK_EQ_INT(keyfile_unwrap(other, other_len, "pw", 2, out, NULL, &err), 0);
	CHECK(memcmp(out, master, CODEC_KEY_LEN) == 0);
	free(salt1);
	free(other);
}

static void test_wrong_password(void)
{
	uint8_t out[CODEC_KEY_LEN];
	StrataErr err = {0};

	memset(out, 0x5a, sizeof out);
	CHECK_EQ_INT(unwrap(good, "pW", out, &err), STRATA_EPASSWORD);
	CHECK_EQ_INT(err.code, STRATA_EPASSWORD);
	CHECK(strstr(err.msg, "password") != NULL);
	CHECK_EQ_INT(unwrap(good, "", out, &err), STRATA_EPASSWORD);
	CHECK_EQ_INT(keyfile_unwrap((const uint8_t *)good, good_len, "pw", 1, out, NULL, &err), STRATA_EPASSWORD);
	CHECK_EQ_INT(keyfile_unwrap((const uint8_t *)good, good_len, "pw\0", 3, out, NULL, &err), STRATA_EPASSWORD);
	/* The out-parameter is written on success only. */
	for (size_t i = 0; i < sizeof out; i++)
		CHECK(out[i] == 0x5a);
}

static void test_empty_and_binary_password(void)
{
	static const char pw[] = {'a', '\0', '\xff', 'b'};
	uint8_t *kf = NULL, out[CODEC_KEY_LEN];
	size_t kf_len = 0;

	REQUIRE(keyfile_create(master, "", 0, OPS, MEM, &kf, &kf_len, NULL) == 0);
	CHECK_EQ_INT(keyfile_unwrap(kf, kf_len, "", 0, out, NULL, NULL), 0);
	CHECK_EQ_INT(keyfile_unwrap(kf, kf_len, "x", 1, out, NULL, NULL), STRATA_EPASSWORD);
	free(kf);
	REQUIRE(keyfile_create(master, pw, sizeof pw, OPS, MEM, &kf, &kf_len, NULL) == 0);
	CHECK_EQ_INT(keyfile_unwrap(kf, kf_len, pw, sizeof pw, out, NULL, NULL), 0);
	CHECK_EQ_INT(keyfile_unwrap(kf, kf_len, pw, 1, out, NULL, NULL), STRATA_EPASSWORD);
	free(kf);
}

static void expect_unwrap(const char *what, const char *text, int want)
{
	uint8_t out[CODEC_KEY_LEN];
	StrataErr err = {0};
	int rc;

	if (!text) {
		printf("  %s: edit failed\n", what);
		CHECK(0);
		return;
	}
	rc = unwrap(text, "pw", out, &err);
	/* A failure carries its code and a message saying what is wrong. */
	if (rc != want || (want != 0 && (err.code != want || err.msg[0] == '\0'))) {
		printf("  %s: got %d (%s), wanted %d\n", what, rc, err.msg, want);
		CHECK(0);
	}
}

static void expect_edit(const char *from, const char *to, int want)
{
	char *s = edit(from, to);

	expect_unwrap(from, s, want);
	free(s);
}

static void test_malformed_json(void)
{
	expect_unwrap("empty", "", STRATA_EFORMAT);
	expect_unwrap("array", "[1,2]", STRATA_EFORMAT);
	expect_unwrap("string", "\"key\"", STRATA_EFORMAT);
	expect_unwrap("truncated", "{\"version\": 1, ", STRATA_EFORMAT);
	expect_unwrap("empty object", "{}", STRATA_EFORMAT);
	{
		char *cut = strndup(good, good_len / 2);
		expect_unwrap("half a key file", cut, STRATA_EFORMAT);
		free(cut);
	}
}

static void test_missing_fields(void)
{
	expect_edit("\"version\"", "\"versio\"", STRATA_EFORMAT);
	expect_edit("\"kdf\"", "\"kd\"", STRATA_EFORMAT);
	expect_edit("\"opslimit\"", "\"opslimi\"", STRATA_EFORMAT);
	expect_edit("\"memlimit\"", "\"memlimi\"", STRATA_EFORMAT);
	expect_edit("\"salt\"", "\"sal\"", STRATA_EFORMAT);
	expect_edit("\"data\"", "\"dat\"", STRATA_EFORMAT);
	/* host, user and created are descriptive and optional. */
	expect_edit("\"host\"", "\"hos\"", 0);
	expect_edit("\"created\"", "\"create\"", 0);
}

static void test_bad_fields(void)
{
	char *salt = field("salt"), *data = field("data"), bad[256];

	REQUIRE(salt && data);
	expect_edit("\"version\": 1", "\"version\": \"1\"", STRATA_EFORMAT);
	expect_edit("\"version\": 1", "\"version\": 0", STRATA_EFORMAT);
	expect_edit("\"version\": 1", "\"version\": -1", STRATA_EFORMAT);
	expect_edit("argon2id13", "scrypt", STRATA_EFORMAT);
	expect_edit("\"opslimit\": 1", "\"opslimit\": 0", STRATA_EFORMAT);
	expect_edit("\"opslimit\": 1", "\"opslimit\": -1", STRATA_EFORMAT);
	expect_edit("\"memlimit\": 8192", "\"memlimit\": 0", STRATA_EFORMAT);
	/* Limits libsodium refuses: named as a bad file, not a bad password. */
	expect_edit("\"memlimit\": 8192", "\"memlimit\": 1024", STRATA_EFORMAT);
	/* Base64 that does not decode, or a salt of the wrong length. */
	expect_edit(salt, "!!!!", STRATA_EFORMAT);
	expect_edit(salt, "AAAA", STRATA_EFORMAT);
	expect_edit(data, "!!!!", STRATA_EFORMAT);
	snprintf(bad, sizeof bad, "%sAAAA", salt);
	expect_edit(salt, bad, STRATA_EFORMAT);
	/* Wrapped data longer than any wrapped key. */
	{
		char big[600];
		memset(big, 'A', 400);
		big[400] = '\0';
		expect_edit(data, big, STRATA_EFORMAT);
	}
	/* Damaged wrapped key: indistinguishable from a wrong password. */
	strcpy(bad, data);
	bad[10] = bad[10] == 'A' ? 'B' : 'A';
	expect_edit(data, bad, STRATA_EPASSWORD);
	/* Wrapped data too short to hold even a tag. */
	expect_edit(data, "AAAA", STRATA_EFORMAT);
	free(salt);
	free(data);
}

static void test_newer_version(void)
{
	uint8_t out[CODEC_KEY_LEN];
	KeyFileInfo info;
	StrataErr err = {0};
	char *s = edit("\"version\": 1", "\"version\": 2");

	REQUIRE(s);
	CHECK_EQ_INT(unwrap(s, "pw", out, &err), STRATA_EVERSION);
	CHECK(strstr(err.msg, "newer") != NULL);
	CHECK_EQ_INT(keyfile_info((const uint8_t *)s, strlen(s), &info, &err), STRATA_EVERSION);
	free(s);
}

/* A key file whose wrapped key authenticates but is not 32 bytes: built
 * the way keyfile.c builds one, with the same KDF and additional data. */
static void test_wrapped_key_wrong_length(void)
{
	static const uint8_t wrap_ad[] = "strata key v1";
	uint8_t salt[CODEC_SALT_LEN], wrap_key[CODEC_KEY_LEN], *sealed = NULL, out[CODEC_KEY_LEN];
	size_t sealed_len = 0;
	char *salt_b64, *data_b64, text[1024];
	StrataErr err = {0};

	memset(salt, 3, sizeof salt);
	REQUIRE(codec_pwhash(wrap_key, sizeof wrap_key, "pw", 2, salt, OPS, MEM) == 0);
	REQUIRE(codec_seal_with(wrap_key, wrap_ad, sizeof wrap_ad - 1, master, 31, &sealed, &sealed_len) == 0);
	salt_b64 = codec_b64(salt, sizeof salt);
	data_b64 = codec_b64(sealed, sealed_len);
	REQUIRE(salt_b64 && data_b64);
	snprintf(text, sizeof text,
	         "{\"version\": 1, \"kdf\": \"argon2id13\", \"opslimit\": %d, \"memlimit\": %d, "
	         "\"salt\": \"%s\", \"data\": \"%s\"}", OPS, MEM, salt_b64, data_b64);
	CHECK_EQ_INT(unwrap(text, "pw", out, &err), STRATA_EFORMAT);
	CHECK(strstr(err.msg, "length") != NULL);
	free(sealed);
	sealed = NULL;
	/* The same construction with 32 bytes opens: the test above failed for
	 * the length alone. */
	REQUIRE(codec_seal_with(wrap_key, wrap_ad, sizeof wrap_ad - 1, master, 32, &sealed, &sealed_len) == 0);
	free(data_b64);
	data_b64 = codec_b64(sealed, sealed_len);
	REQUIRE(data_b64);
	snprintf(text, sizeof text,
	         "{\"version\": 1, \"kdf\": \"argon2id13\", \"opslimit\": %d, \"memlimit\": %d, "
	         "\"salt\": \"%s\", \"data\": \"%s\"}", OPS, MEM, salt_b64, data_b64);
	CHECK_EQ_INT(unwrap(text, "pw", out, &err), 0);
	CHECK(memcmp(out, master, CODEC_KEY_LEN) == 0);
	free(sealed);
	free(salt_b64);
	free(data_b64);
}

static void test_create_rejects_bad_limits(void)
{
	uint8_t *kf = NULL;
	size_t kf_len = 0;
	StrataErr err = {0};

	CHECK_EQ_INT(keyfile_create(master, "pw", 2, OPS, 1024, &kf, &kf_len, &err), STRATA_EUSAGE);
	CHECK(kf == NULL);
	CHECK(strstr(err.msg, "Argon2id") != NULL);
}

int main(void)
{
	StrataErr err = {0};
	uint8_t *buf = NULL;

	if (codec_init() != 0)
		return 1;
	for (size_t i = 0; i < sizeof master; i++)
		master[i] = (uint8_t)(i * 7 + 1);
	if (keyfile_create(master, "pw", 2, OPS, MEM, &buf, &good_len, &err) != 0) {
		printf("FAIL keyfile_create: %s\n", err.msg);
		return 1;
	}
	good = (char *)buf;
	RUN(test_round_trip);
	RUN(test_two_files_same_master);
	RUN(test_wrong_password);
	RUN(test_empty_and_binary_password);
	RUN(test_malformed_json);
	RUN(test_missing_fields);
	RUN(test_bad_fields);
	RUN(test_newer_version);
	RUN(test_wrapped_key_wrong_length);
	RUN(test_create_rejects_bad_limits);
	free(good);
	return CHECK_EXIT();
}
