/* test_keyfile.c — unit tests for store/keyfile.c (FORMAT.md "Key file"):
 * create/unwrap round trip with libsodium's smallest Argon2id limits
 * (opslimit 1, memlimit 8 KiB), wrong passwords, and malformed, incomplete
 * or newer key files; the bounds on Argon2id settings, refused before any
 * Argon2id work and when creating; host and user sealed, and old key files
 * with them in clear still read.
 *
 * And how repo_open picks among key files (store/repo_keys.c): hostile
 * key files planted in keys/ (settings out of bounds, wrong names) are
 * skipped with one warning each; the key that opened the repository last
 * time is tried first, then the cheapest; a hostile last-used record in
 * the cache only changes the order; the key cache checks its key file as
 * well; key list says what is wrong with each file.
 */
#include "store/keycache.h"
#include "store/keyfile.h"
#include "store/repo.h"
#include "tests/check.h"
#include "tests/test_tmp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OPS 1
#define MEM 8192

static uint8_t master[CODEC_KEY_LEN];
static CodecKeys *keys;   /* derived from master */
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

	REQUIRE(keyfile_create(keys, "pw", 2, OPS, MEM, &other, &other_len, &err) == 0);
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

	REQUIRE(keyfile_create(keys, "", 0, OPS, MEM, &kf, &kf_len, NULL) == 0);
	CHECK_EQ_INT(keyfile_unwrap(kf, kf_len, "", 0, out, NULL, NULL), 0);
	CHECK_EQ_INT(keyfile_unwrap(kf, kf_len, "x", 1, out, NULL, NULL), STRATA_EPASSWORD);
	free(kf);
	REQUIRE(keyfile_create(keys, pw, sizeof pw, OPS, MEM, &kf, &kf_len, NULL) == 0);
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

/* The parser's message quotes the input near the error; a planted file's
 * control bytes (a terminal escape) come out as '?'. */
static void test_error_has_no_control_bytes(void)
{
	uint8_t out[CODEC_KEY_LEN];
	StrataErr err = {0};

	CHECK_EQ_INT(unwrap("\033[31mX", "pw", out, &err), STRATA_EFORMAT);
	CHECK_STR(err.msg, "not a JSON key file ('[' or '{' expected near '?')");
	for (const char *c = err.msg; *c; c++)
		CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
}

static void test_missing_fields(void)
{
	expect_edit("\"version\"", "\"versio\"", STRATA_EFORMAT);
	expect_edit("\"kdf\"", "\"kd\"", STRATA_EFORMAT);
	expect_edit("\"opslimit\"", "\"opslimi\"", STRATA_EFORMAT);
	expect_edit("\"memlimit\"", "\"memlimi\"", STRATA_EFORMAT);
	expect_edit("\"salt\"", "\"sal\"", STRATA_EFORMAT);
	expect_edit("\"data\"", "\"dat\"", STRATA_EFORMAT);
	/* The sealed host and user (info) and created are descriptive and
	 * optional. */
	expect_edit("\"info\"", "\"inf\"", 0);
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

	CHECK_EQ_INT(keyfile_create(keys, "pw", 2, OPS, 1024, &kf, &kf_len, &err), STRATA_EUSAGE);
	CHECK(kf == NULL);
	CHECK(strstr(err.msg, "Argon2id") != NULL);
}

/* ---- bounds on the Argon2id settings (FORMAT.md "Key file") ---- */

#define BOUNDS_MSG(ops, mem) "Argon2id settings out of bounds (opslimit " ops ", memlimit " mem \
	" bytes; strata accepts 1 to 16 passes and 8 KiB to 4 GiB)"

/* Out of bounds: refused by keyfile_info and by keyfile_unwrap with the
 * same message. keyfile_info is asked first, and a failure there ends the
 * test: on code without the bounds the unwrap would run Argon2id for
 * 4294967295 passes, for hours. */
static void test_bounds_refused_before_argon2(void)
{
	static const struct { const char *from, *to, *msg; } cases[] = {
		{ "\"opslimit\": 1", "\"opslimit\": 4294967295", BOUNDS_MSG("4294967295", "8192") },
		{ "\"opslimit\": 1", "\"opslimit\": 17", BOUNDS_MSG("17", "8192") },
		{ "\"opslimit\": 1", "\"opslimit\": 9223372036854775807", BOUNDS_MSG("9223372036854775807", "8192") },
		{ "\"memlimit\": 8192", "\"memlimit\": 1099511627776", BOUNDS_MSG("1", "1099511627776") },
		{ "\"memlimit\": 8192", "\"memlimit\": 4294967297", BOUNDS_MSG("1", "4294967297") },
		{ "\"memlimit\": 8192", "\"memlimit\": 8191", BOUNDS_MSG("1", "8191") },
	};
	uint8_t out[CODEC_KEY_LEN];
	KeyFileInfo info;
	StrataErr err = {0};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *s = edit(cases[i].from, cases[i].to);

		REQUIRE(s);
		memset(&err, 0, sizeof err);
		CHECK_EQ_INT(keyfile_info((const uint8_t *)s, strlen(s), &info, &err), STRATA_EFORMAT);
		CHECK_STR(err.msg, cases[i].msg);
		if (err.code != STRATA_EFORMAT) {
			printf("  %s accepted: not unwrapping it\n", cases[i].to);
			free(s);
			return;
		}
		memset(&err, 0, sizeof err);
		CHECK_EQ_INT(unwrap(s, "pw", out, &err), STRATA_EFORMAT);
		CHECK_STR(err.msg, cases[i].msg);
		free(s);
	}
	/* The bounds themselves are accepted: a key file of 16 passes over
	 * 8 KiB is made and opens; 4 GiB passes keyfile_info (not unwrapped:
	 * that would take a minute and 4 GiB). */
	{
		char *big = edit("\"memlimit\": 8192", "\"memlimit\": 4294967296");
		uint8_t *kf = NULL;
		size_t kf_len = 0;

		REQUIRE(big);
		REQUIRE(keyfile_create(keys, "pw", 2, 16, MEM, &kf, &kf_len, &err) == 0);
		CHECK_EQ_INT(keyfile_unwrap(kf, kf_len, "pw", 2, out, &info, &err), 0);
		CHECK(memcmp(out, master, CODEC_KEY_LEN) == 0);
		CHECK_EQ_INT(info.opslimit, 16);
		CHECK_EQ_INT(keyfile_info((const uint8_t *)big, strlen(big), &info, &err), 0);
		CHECK_EQ_INT(info.memlimit, 4294967296ull);
		free(kf);
		free(big);
	}
	CHECK_EQ_INT(keyfile_kdf_in_bounds(1, 8192), 1);
	CHECK_EQ_INT(keyfile_kdf_in_bounds(16, 4ull << 30), 1);
	CHECK_EQ_INT(keyfile_kdf_in_bounds(0, 8192), 0);
	CHECK_EQ_INT(keyfile_kdf_in_bounds(17, 8192), 0);
	CHECK_EQ_INT(keyfile_kdf_in_bounds(1, 8191), 0);
	CHECK_EQ_INT(keyfile_kdf_in_bounds(1, (4ull << 30) + 1), 0);
}

/* keyfile_create and repo_init refuse settings out of bounds, with the
 * message, before writing anything. */
static void test_create_refuses_out_of_bounds(void)
{
	char dir[] = "/tmp/test_keyfile.XXXXXX", loc[128];
	RepoParams params = { .kdf_opslimit = 17, .kdf_memlimit = MEM };
	uint8_t *kf = NULL;
	size_t kf_len = 0;
	StrataErr err = {0};
	struct stat st;

	CHECK_EQ_INT(keyfile_create(keys, "pw", 2, 17, MEM, &kf, &kf_len, &err), STRATA_EUSAGE);
	CHECK_STR(err.msg, BOUNDS_MSG("17", "8192"));
	CHECK(kf == NULL);
	free(kf);
	kf = NULL;
	CHECK_EQ_INT(keyfile_create(keys, "pw", 2, OPS, (4ull << 30) + 1024, &kf, &kf_len, &err), STRATA_EUSAGE);
	CHECK_STR(err.msg, BOUNDS_MSG("1", "4294968320"));
	CHECK(kf == NULL);
	free(kf);
	REQUIRE(mkdtemp(dir));
	snprintf(loc, sizeof loc, "%s/repo", dir);
	CHECK_EQ_INT(repo_init(loc, "pw", 2, &params, NULL, &err), STRATA_EUSAGE);
	CHECK_STR(err.msg, BOUNDS_MSG("17", "8192"));
	{
		char p[200];
		snprintf(p, sizeof p, "%s/config", loc);
		CHECK(stat(p, &st) != 0);
		snprintf(p, sizeof p, "%s/keys", loc);
		CHECK(stat(p, &st) != 0);
	}
	rm_rf(dir);
}

/* ---- host and user sealed (FORMAT.md "Key file", security) ---- */

static void test_sealed_identity(void)
{
	char host[256] = "", *other_text = NULL, *info_good = NULL, *info_other = NULL, *moved = NULL;
	uint8_t other_master[CODEC_KEY_LEN], out[CODEC_KEY_LEN], *other = NULL;
	size_t other_len = 0;
	CodecKeys *stranger;
	KeyFileInfo info;
	StrataErr err = {0};

	REQUIRE(gethostname(host, sizeof host - 1) == 0);
	/* Neither in clear: no such JSON field (base64 has no quotes). */
	CHECK(strstr(good, "\"host\"") == NULL);
	CHECK(strstr(good, "\"user\"") == NULL);
	CHECK(strstr(good, "\"info\": \"") != NULL);
	CHECK_EQ_INT(keyfile_info((const uint8_t *)good, good_len, &info, &err), 0);
	CHECK_EQ_INT(info.who, KEYFILE_WHO_SEALED);
	CHECK_STR(info.host, "");
	CHECK_STR(info.user, "");
	/* The repository's key opens them; unwrapping does too. */
	CHECK_EQ_INT(keyfile_info_open((const uint8_t *)good, good_len, keys, &info, &err), 0);
	CHECK_EQ_INT(info.who, KEYFILE_WHO_OPENED);
	CHECK_STR(info.host, host);
	CHECK(info.user[0] != '\0');
	CHECK_EQ_INT(keyfile_unwrap((const uint8_t *)good, good_len, "pw", 2, out, &info, &err), 0);
	CHECK_EQ_INT(info.who, KEYFILE_WHO_OPENED);
	CHECK_STR(info.host, host);
	/* Another master key does not. */
	memset(other_master, 0x33, sizeof other_master);
	stranger = codec_keys_new(other_master);
	REQUIRE(stranger);
	CHECK_EQ_INT(keyfile_info_open((const uint8_t *)good, good_len, stranger, &info, &err), 0);
	CHECK_EQ_INT(info.who, KEYFILE_WHO_UNREADABLE);
	CHECK_STR(info.host, "");
	codec_keys_free(stranger);
	/* Bound to its file (its salt): moved into another key file of the
	 * same master key it no longer opens, and that file still unwraps. */
	REQUIRE(keyfile_create(keys, "pw", 2, OPS, MEM, &other, &other_len, &err) == 0);
	other_text = strndup((const char *)other, other_len);
	info_good = field("info");
	REQUIRE(other_text && info_good);
	{
		const char *p = strstr(other_text, "\"info\": \"") + 9, *end = strchr(p, '"');
		info_other = strndup(p, (size_t)(end - p));
	}
	REQUIRE(info_other && strcmp(info_other, info_good) != 0);
	{
		char *at = strstr(other_text, info_other);
		size_t head = (size_t)(at - other_text);

		moved = malloc(strlen(other_text) + strlen(info_good) + 1);
		REQUIRE(moved);
		memcpy(moved, other_text, head);
		strcpy(moved + head, info_good);
		strcat(moved, at + strlen(info_other));
	}
	CHECK_EQ_INT(keyfile_info_open((const uint8_t *)moved, strlen(moved), keys, &info, &err), 0);
	CHECK_EQ_INT(info.who, KEYFILE_WHO_UNREADABLE);
	CHECK_EQ_INT(keyfile_unwrap((const uint8_t *)moved, strlen(moved), "pw", 2, out, &info, &err), 0);
	CHECK(memcmp(out, master, CODEC_KEY_LEN) == 0);
	CHECK_EQ_INT(info.who, KEYFILE_WHO_UNREADABLE);
	/* A damaged info field: the key file still unwraps. */
	{
		char *bad = strdup(info_good), *s;

		REQUIRE(bad);
		bad[5] = bad[5] == 'A' ? 'B' : 'A';
		s = edit(info_good, bad);
		REQUIRE(s);
		CHECK_EQ_INT(unwrap(s, "pw", out, &err), 0);
		CHECK_EQ_INT(keyfile_info_open((const uint8_t *)s, strlen(s), keys, &info, &err), 0);
		CHECK_EQ_INT(info.who, KEYFILE_WHO_UNREADABLE);
		free(s);
		free(bad);
	}
	free(other);
	free(other_text);
	free(info_good);
	free(info_other);
	free(moved);
}

/* A key file written before host and user were sealed (them in clear, no
 * info field) still opens, and its host and user still read. */
static void test_old_clear_identity(void)
{
	static const uint8_t wrap_ad[] = "strata key v1";
	uint8_t salt[CODEC_SALT_LEN], wrap_key[CODEC_KEY_LEN], *sealed = NULL, out[CODEC_KEY_LEN];
	size_t sealed_len = 0;
	char *salt_b64, *data_b64, text[1024];
	KeyFileInfo info;
	StrataErr err = {0};

	memset(salt, 9, sizeof salt);
	REQUIRE(codec_pwhash(wrap_key, sizeof wrap_key, "pw", 2, salt, OPS, MEM) == 0);
	REQUIRE(codec_seal_with(wrap_key, wrap_ad, sizeof wrap_ad - 1, master, 32, &sealed, &sealed_len) == 0);
	salt_b64 = codec_b64(salt, sizeof salt);
	data_b64 = codec_b64(sealed, sealed_len);
	REQUIRE(salt_b64 && data_b64);
	snprintf(text, sizeof text,
	         "{\n  \"created\": 1795000000,\n  \"data\": \"%s\",\n  \"host\": \"node-1\",\n"
	         "  \"kdf\": \"argon2id13\",\n  \"memlimit\": %d,\n  \"opslimit\": %d,\n  \"salt\": \"%s\",\n"
	         "  \"user\": \"ops\",\n  \"version\": 1\n}", data_b64, MEM, OPS, salt_b64);
	CHECK_EQ_INT(keyfile_unwrap((const uint8_t *)text, strlen(text), "pw", 2, out, &info, &err), 0);
	CHECK(memcmp(out, master, CODEC_KEY_LEN) == 0);
	CHECK_EQ_INT(info.who, KEYFILE_WHO_CLEAR);
	CHECK_STR(info.host, "node-1");
	CHECK_STR(info.user, "ops");
	CHECK_EQ_INT(info.created_s, 1795000000);
	CHECK_EQ_INT(keyfile_info_open((const uint8_t *)text, strlen(text), keys, &info, &err), 0);
	CHECK_EQ_INT(info.who, KEYFILE_WHO_CLEAR);
	CHECK_STR(info.host, "node-1");
	codec_wipe(wrap_key, sizeof wrap_key);
	free(sealed);
	free(salt_b64);
	free(data_b64);
}

/* ---- repo_open among hostile key files (store/repo_keys.c) ---- */

static char tdir[64], repo_dir[128], cache_dir[128];
static char lines[64][STRATA_ERRMSG_LEN + 80];
static size_t nlines;

static void collect_line(int warning, const char *line, void *ctx)
{
	(void)ctx;
	if (nlines < sizeof lines / sizeof lines[0])
		snprintf(lines[nlines++], sizeof lines[0], "%s%s", warning ? "warning: " : "", line);
}

/* How many collected lines are exactly want. */
static int count_line(const char *want)
{
	int n = 0;

	for (size_t i = 0; i < nlines; i++)
		n += strcmp(lines[i], want) == 0;
	return n;
}

static size_t count_warnings(void)
{
	size_t n = 0;

	for (size_t i = 0; i < nlines; i++)
		n += strncmp(lines[i], "warning: ", 9) == 0;
	return n;
}

/* The "key file: trying ..." lines, in order, joined by '|'. */
static void tried(char *out, size_t cap)
{
	out[0] = '\0';
	for (size_t i = 0; i < nlines; i++) {
		if (strncmp(lines[i], "key file: ", 10) != 0)
			continue;
		if (out[0])
			strncat(out, "|", cap - strlen(out) - 1);
		strncat(out, lines[i] + 10, cap - strlen(out) - 1);
	}
}

static int open_logged(const char *pw, unsigned key_cache_ttl, Repo **out, StrataErr *err)
{
	RepoOpenOpts o = { .cache_dir = cache_dir, .key_cache_ttl = key_cache_ttl, .log = collect_line };

	nlines = 0;
	memset(err, 0, sizeof *err);
	*out = NULL;
	return repo_open_opts(repo_dir, pw, strlen(pw), &o, out, err);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = '\0';
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int spit(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(buf, 1, len, f) == len;

	if (f && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* Put text in keys/ under name, or under its SHA-256 (format 2) when name
 * is NULL; the name used goes to out (65 bytes). */
static int plant(const char *text, const char *name, char *out)
{
	uint8_t id[32];
	char path[300];

	if (!name) {
		if (codec_name_hash(CODEC_NAME_SHA256, text, strlen(text), id) != 0)
			return -1;
		codec_hex(id, sizeof id, out);
	} else if (out != name) {
		snprintf(out, 65, "%s", name);
	}
	snprintf(path, sizeof path, "%s/keys/%s", repo_dir, out);
	return spit(path, text, strlen(text));
}

/* A name that is not the hash of its file: id with its last digit changed. */
static void wrong_name(const char *id, char out[65])
{
	memcpy(out, id, 65);
	out[63] = out[63] == '0' ? '1' : '0';
}

/* A fresh repository (format 2, Argon2id 1 pass over 8 KiB) in a new
 * directory, its cache beside it; its key file's ID into k1 and bytes
 * into *text (malloc'ed). */
static int repo_setup(char k1[65], char **text)
{
	RepoParams params = { .kdf_opslimit = OPS, .kdf_memlimit = MEM };
	StrataErr err = {0};
	char path[300];
	size_t len;
	FILE *p;

	strcpy(tdir, "/tmp/test_keyfile.XXXXXX");
	if (!mkdtemp(tdir))
		return -1;
	snprintf(repo_dir, sizeof repo_dir, "%s/repo", tdir);
	snprintf(cache_dir, sizeof cache_dir, "%s/cache", tdir);
	if (repo_init(repo_dir, "pw", 2, &params, NULL, &err) != 0) {
		printf("  repo_init: %s\n", err.msg);
		return -1;
	}
	snprintf(path, sizeof path, "ls %s/keys", repo_dir);
	p = popen(path, "r");
	if (!p || !fgets(k1, 65, p) || strlen(k1) != 64) {
		if (p)
			pclose(p);
		return -1;
	}
	pclose(p);
	snprintf(path, sizeof path, "%s/keys/%s", repo_dir, k1);
	*text = (char *)slurp(path, &len);
	return *text ? 0 : -1;
}

/* text with the first from replaced by to (malloc'ed). */
static char *edit_in(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	char *s;

	if (!at)
		return NULL;
	s = malloc(strlen(text) - strlen(from) + strlen(to) + 1);
	if (!s)
		return NULL;
	memcpy(s, text, (size_t)(at - text));
	strcpy(s + (at - text), to);
	strcat(s, at + strlen(from));
	return s;
}

/* Copies of the real key file with opslimit 4294967295 and with memlimit
 * 1 TiB, each under its right name and under a wrong one: the repository
 * opens with the real key, one warning names each copy, no copy is tried,
 * and the next open (the real key remembered) reads none of them. */
static void test_open_skips_hostile_key_files(void)
{
	char k1[65], a[65], b[65], wa[65], wb[65], want[STRATA_ERRMSG_LEN + 80], order[1024];
	char *text = NULL, *ops = NULL, *mem = NULL;
	RepoKeyInfo *list = NULL;
	size_t n = 0;
	Repo *repo = NULL;
	StrataErr err;

	REQUIRE(repo_setup(k1, &text) == 0);
	ops = edit_in(text, "\"opslimit\": 1", "\"opslimit\": 4294967295");
	mem = edit_in(text, "\"memlimit\": 8192", "\"memlimit\": 1099511627776");
	REQUIRE(ops && mem);
	REQUIRE(plant(ops, NULL, a) == 0);
	REQUIRE(plant(mem, NULL, b) == 0);
	wrong_name(a, wa);
	wrong_name(b, wb);
	REQUIRE(plant(ops, wa, wa) == 0 && plant(mem, wb, wb) == 0);
	CHECK_EQ_INT(open_logged("pw", 0, &repo, &err), 0);
	if (!repo)
		printf("  open: %s\n", err.msg);
	CHECK_EQ_INT(count_warnings(), 4);
	snprintf(want, sizeof want, "warning: key file keys/%s: " BOUNDS_MSG("4294967295", "8192") "; skipped", a);
	CHECK_EQ_INT(count_line(want), 1);
	snprintf(want, sizeof want, "warning: key file keys/%s: " BOUNDS_MSG("1", "1099511627776") "; skipped", b);
	CHECK_EQ_INT(count_line(want), 1);
	snprintf(want, sizeof want,
	         "warning: key file keys/%s: content does not match its name (damaged, or not written by strata); skipped", wa);
	CHECK_EQ_INT(count_line(want), 1);
	snprintf(want, sizeof want,
	         "warning: key file keys/%s: content does not match its name (damaged, or not written by strata); skipped", wb);
	CHECK_EQ_INT(count_line(want), 1);
	tried(order, sizeof order);
	snprintf(want, sizeof want, "trying keys/%s", k1);
	CHECK_STR(order, want);
	if (repo) {
		REQUIRE(repo_key_list(repo, &list, &n, &err) == 0);
		for (size_t i = 0; i < n; i++)
			if (list[i].current)
				CHECK_STR(list[i].id, k1);
		free(list);
	}
	repo_close(repo);
	/* Remembered: the next open reads the real key file alone. */
	CHECK_EQ_INT(open_logged("pw", 0, &repo, &err), 0);
	CHECK_EQ_INT(count_warnings(), 0);
	tried(order, sizeof order);
	snprintf(want, sizeof want, "trying keys/%s (it opened the repository last time)", k1);
	CHECK_STR(order, want);
	repo_close(repo);
	free(text);
	free(ops);
	free(mem);
	rm_rf(tdir);
}

/* A key file under a name that is not the hash of its bytes is skipped
 * with a warning, never silently; when it is the only one, that is the
 * error. A file of keys/ not named like a key file is a warning too. */
static void test_misnamed_key_file(void)
{
	char k1[65], w[65], from[300], to[300], want[STRATA_ERRMSG_LEN + 80];
	char *text = NULL;
	Repo *repo = NULL;
	StrataErr err;

	REQUIRE(repo_setup(k1, &text) == 0);
	wrong_name(k1, w);
	REQUIRE(plant(text, w, w) == 0);
	REQUIRE(plant("not a key file\n", "README", to) == 0);
	CHECK_EQ_INT(open_logged("pw", 0, &repo, &err), 0);
	CHECK_EQ_INT(count_warnings(), 2);
	snprintf(want, sizeof want,
	         "warning: key file keys/%s: content does not match its name (damaged, or not written by strata); skipped", w);
	CHECK_EQ_INT(count_line(want), 1);
	CHECK_EQ_INT(count_line("warning: keys/README: not a key file (a key file's name is 64 lowercase hex digits); skipped"), 1);
	repo_close(repo);
	/* The real key file gone (and the record of it): the misnamed copy
	 * is all there is, and is refused, naming it; README still warned. */
	snprintf(from, sizeof from, "%s/keys/%s", repo_dir, k1);
	REQUIRE(unlink(from) == 0);
	CHECK_EQ_INT(open_logged("pw", 0, &repo, &err), STRATA_EDAMAGED);
	snprintf(want, sizeof want, "key file keys/%s: content does not match its name (damaged, or not written by strata)", w);
	CHECK_STR(err.msg, want);
	CHECK_EQ_INT(count_warnings(), 1);
	CHECK_EQ_INT(count_line("warning: keys/README: not a key file (a key file's name is 64 lowercase hex digits); skipped"), 1);
	CHECK(repo == NULL);
	/* Nothing named like a key file: no key files. */
	snprintf(from, sizeof from, "%s/keys/%s", repo_dir, w);
	REQUIRE(unlink(from) == 0);
	CHECK_EQ_INT(open_logged("pw", 0, &repo, &err), STRATA_EPASSWORD);
	snprintf(want, sizeof want, "repository %s has no key files", repo_dir);
	CHECK_STR(err.msg, want);
	free(text);
	rm_rf(tdir);
}

/* The record of the last-used key: <cache>/last-key/<config fingerprint>. */
static void hint_path(char *out, size_t cap)
{
	char cfg_path[300], kname[KEYCACHE_NAME_LEN + 1];
	uint8_t *cfg;
	size_t len = 0;

	snprintf(cfg_path, sizeof cfg_path, "%s/config", repo_dir);
	cfg = slurp(cfg_path, &len);
	keycache_name(cfg ? cfg : (const uint8_t *)"", cfg ? len : 0, kname);
	free(cfg);
	snprintf(out, cap, "%s/last-key/%s", cache_dir, kname + 7);
}

/* Order of the trial: the last-used key first, then the cheapest Argon2id
 * first, whatever the names; a record of the last-used key that is junk, a
 * link, a FIFO, or names a key that is gone or another key only changes
 * that order. */
static void test_last_used_first_then_cheapest(void)
{
	char k1[65], k2[65], k3[65], hint[400], want[1024], order[1024], link_target[420];
	char *text = NULL;
	uint8_t m[CODEC_KEY_LEN], *buf = NULL, *rec;
	size_t len = 0;
	CodecKeys *mk = NULL;
	Repo *repo = NULL;
	StrataErr err = {0};

	REQUIRE(repo_setup(k1, &text) == 0);
	REQUIRE(keyfile_unwrap((const uint8_t *)text, strlen(text), "pw", 2, m, NULL, &err) == 0);
	mk = codec_keys_new(m);
	REQUIRE(mk);
	/* k2 and k3 cost more than k1 (1 pass over 8 KiB), k3 most. */
	REQUIRE(keyfile_create(mk, "pw2", 3, 2, MEM, &buf, &len, &err) == 0);
	buf = realloc(buf, len + 1);
	REQUIRE(buf);
	buf[len] = '\0';
	REQUIRE(plant((char *)buf, NULL, k2) == 0);
	free(buf);
	REQUIRE(keyfile_create(mk, "pw3", 3, 3, 2 * MEM, &buf, &len, &err) == 0);
	buf = realloc(buf, len + 1);
	REQUIRE(buf);
	buf[len] = '\0';
	REQUIRE(plant((char *)buf, NULL, k3) == 0);
	free(buf);
	codec_keys_free(mk);
	hint_path(hint, sizeof hint);

	CHECK_EQ_INT(open_logged("pw3", 0, &repo, &err), 0);
	repo_close(repo);
	tried(order, sizeof order);
	snprintf(want, sizeof want, "trying keys/%s|trying keys/%s|trying keys/%s", k1, k2, k3);
	CHECK_STR(order, want);
	rec = slurp(hint, &len);
	snprintf(want, sizeof want, "%s\n", k3);
	CHECK_STR((char *)rec, want);
	free(rec);

	CHECK_EQ_INT(open_logged("pw3", 0, &repo, &err), 0);
	repo_close(repo);
	tried(order, sizeof order);
	snprintf(want, sizeof want, "trying keys/%s (it opened the repository last time)", k3);
	CHECK_STR(order, want);

	CHECK_EQ_INT(open_logged("pw", 0, &repo, &err), 0);
	repo_close(repo);
	tried(order, sizeof order);
	snprintf(want, sizeof want, "trying keys/%s (it opened the repository last time)|trying keys/%s", k3, k1);
	CHECK_STR(order, want);

	/* Written by someone else: naming another key, one that is gone. */
	snprintf(want, sizeof want, "%s\n", k2);
	REQUIRE(spit(hint, want, strlen(want)) == 0);
	CHECK_EQ_INT(open_logged("pw", 0, &repo, &err), 0);
	repo_close(repo);
	tried(order, sizeof order);
	snprintf(want, sizeof want, "trying keys/%s (it opened the repository last time)|trying keys/%s", k2, k1);
	CHECK_STR(order, want);
	REQUIRE(spit(hint, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n", 65) == 0);
	CHECK_EQ_INT(open_logged("pw3", 0, &repo, &err), 0);
	repo_close(repo);
	tried(order, sizeof order);
	snprintf(want, sizeof want,
	         "keys/ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff opened the repository last time, but is gone"
	         "|trying keys/%s|trying keys/%s|trying keys/%s", k1, k2, k3);
	CHECK_STR(order, want);

	/* Not a record: junk, upper case, a link to a good record, a FIFO
	 * (opening one to read would wait for a writer for ever). */
	snprintf(link_target, sizeof link_target, "%s.target", hint);
	for (int kind = 0; kind < 4; kind++) {
		unlink(hint);
		if (kind == 0) {
			REQUIRE(spit(hint, "hello\n", 6) == 0);
		} else if (kind == 1) {
			char up[66];
			for (int i = 0; i < 64; i++)
				up[i] = (char)(k3[i] >= 'a' ? k3[i] - 32 : k3[i]);
			up[64] = '\n';
			up[65] = '\0';
			REQUIRE(spit(hint, up, 65) == 0);
		} else if (kind == 2) {
			snprintf(want, sizeof want, "%s\n", k3);
			REQUIRE(spit(link_target, want, 65) == 0);
			REQUIRE(symlink(link_target, hint) == 0);
		} else {
			REQUIRE(mkfifo(hint, 0600) == 0);
		}
		CHECK_EQ_INT(open_logged("pw3", 0, &repo, &err), 0);
		repo_close(repo);
		tried(order, sizeof order);
		snprintf(want, sizeof want, "trying keys/%s|trying keys/%s|trying keys/%s", k1, k2, k3);
		if (strcmp(order, want) != 0)
			printf("  record kind %d\n", kind);
		CHECK_STR(order, want);
		/* Replaced by a real record of k3, whatever it was. */
		rec = slurp(hint, &len);
		snprintf(want, sizeof want, "%s\n", k3);
		CHECK_STR((char *)rec, want);
		free(rec);
	}

	/* key passwd: its new key file is the one tried first next time. */
	CHECK_EQ_INT(open_logged("pw3", 0, &repo, &err), 0);
	if (repo) {
		char k4[STRATA_ID_HEX_LEN + 1];

		CHECK_EQ_INT(repo_key_passwd(repo, "pw4", 3, k4, &err), 0);
		repo_close(repo);
		CHECK_EQ_INT(open_logged("pw4", 0, &repo, &err), 0);
		repo_close(repo);
		tried(order, sizeof order);
		snprintf(want, sizeof want, "trying keys/%s (it opened the repository last time)", k4);
		CHECK_STR(order, want);
	}
	free(text);
	rm_rf(tdir);
}

/* key list: every file named like a key file, with what is wrong with it;
 * key remove deletes a planted one. */
static void test_key_list_problems(void)
{
	char k1[65], a[65], w[65], f[65], host[256] = "", path[300];
	char *text = NULL, *ops = NULL;
	uint8_t other_master[CODEC_KEY_LEN], *buf = NULL;
	size_t n = 0, len = 0, seen = 0;
	CodecKeys *stranger;
	RepoKeyInfo *list = NULL;
	Repo *repo = NULL;
	StrataErr err;
	struct stat st;

	REQUIRE(gethostname(host, sizeof host - 1) == 0);
	REQUIRE(repo_setup(k1, &text) == 0);
	ops = edit_in(text, "\"opslimit\": 1", "\"opslimit\": 4294967295");
	REQUIRE(ops && plant(ops, NULL, a) == 0);
	wrong_name(k1, w);
	REQUIRE(plant(text, w, w) == 0);
	/* A sound key file of another repository (another master key). */
	memset(other_master, 0x44, sizeof other_master);
	stranger = codec_keys_new(other_master);
	REQUIRE(stranger);
	REQUIRE(keyfile_create(stranger, "other", 5, OPS, MEM, &buf, &len, &err) == 0);
	codec_keys_free(stranger);
	buf = realloc(buf, len + 1);
	REQUIRE(buf);
	buf[len] = '\0';
	REQUIRE(plant((char *)buf, NULL, f) == 0);
	free(buf);
	REQUIRE(plant("junk", "README", path) == 0);
	REQUIRE(open_logged("pw", 0, &repo, &err) == 0);
	REQUIRE(repo_key_list(repo, &list, &n, &err) == 0);
	CHECK_EQ_INT(n, 4);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i].id, k1) == 0) {
			CHECK(list[i].current);
			CHECK_STR(list[i].problem, "");
			CHECK_STR(list[i].host, host);
			seen |= 1;
		} else if (strcmp(list[i].id, a) == 0) {
			CHECK(!list[i].current);
			CHECK_STR(list[i].problem, BOUNDS_MSG("4294967295", "8192"));
			seen |= 2;
		} else if (strcmp(list[i].id, w) == 0) {
			CHECK_STR(list[i].problem, "content does not match its name (damaged, or not written by strata)");
			seen |= 4;
		} else if (strcmp(list[i].id, f) == 0) {
			CHECK_STR(list[i].problem,
			          "its host and user do not open with this repository's key: it was not written with it");
			CHECK_STR(list[i].host, "");
			seen |= 8;
		}
	}
	CHECK_EQ_INT(seen, 15);
	free(list);
	CHECK_EQ_INT(repo_key_remove(repo, a, &err), 0);
	snprintf(path, sizeof path, "%s/keys/%s", repo_dir, a);
	CHECK(stat(path, &st) != 0);
	repo_close(repo);
	free(text);
	free(ops);
	rm_rf(tdir);
}

/* The key cache takes an entry only for a key file that passes the same
 * checks: an entry made for a planted out-of-bounds key file (as a strata
 * without the bounds would have made it) is a miss. Needs kernel keyrings,
 * like test_keycache. */
static void test_key_cache_checks_its_key_file(void)
{
	char k1[65], a[65], cfg_path[300], kname[KEYCACHE_NAME_LEN + 1];
	char *text = NULL, *ops = NULL;
	uint8_t entry[KEYCACHE_ENTRY_LEN], id[32], m[CODEC_KEY_LEN], *cfg;
	size_t len = 0;
	Repo *repo = NULL;
	StrataErr err = {0};

	REQUIRE(repo_setup(k1, &text) == 0);
	REQUIRE(keyfile_unwrap((const uint8_t *)text, strlen(text), "pw", 2, m, NULL, &err) == 0);
	ops = edit_in(text, "\"opslimit\": 1", "\"opslimit\": 4294967295");
	REQUIRE(ops && plant(ops, NULL, a) == 0);
	snprintf(cfg_path, sizeof cfg_path, "%s/config", repo_dir);
	cfg = slurp(cfg_path, &len);
	REQUIRE(cfg);
	keycache_name(cfg, len, kname);
	free(cfg);
	REQUIRE(codec_unhex(a, id, sizeof id) == 0);
	keycache_seal(kname, id, (const uint8_t *)ops, strlen(ops), "pw", 2, m, entry);
	codec_wipe(m, sizeof m);
	REQUIRE(keycache_put(kname, entry, 60) == 0);
	CHECK_EQ_INT(open_logged("pw", 60, &repo, &err), 0);
	if (repo) {
		/* Unwrapped from the real key file, and that one cached. */
		CHECK_EQ_INT(repo_key_cache_state(repo), 0);
		repo_close(repo);
	}
	CHECK_EQ_INT(open_logged("pw", 60, &repo, &err), 0);
	if (repo) {
		CHECK_EQ_INT(repo_key_cache_state(repo), 1);
		repo_key_cache_drop(repo);
		repo_close(repo);
	}
	keycache_drop(kname);
	free(text);
	free(ops);
	rm_rf(tdir);
}

int main(void)
{
	StrataErr err = {0};
	uint8_t *buf = NULL;

	if (codec_init() != 0)
		return 1;
	for (size_t i = 0; i < sizeof master; i++)
		master[i] = (uint8_t)(i * 7 + 1);
	keys = codec_keys_new(master);
	if (!keys) {
		printf("FAIL codec_keys_new\n");
		return 1;
	}
	if (keyfile_create(keys, "pw", 2, OPS, MEM, &buf, &good_len, &err) != 0) {
		printf("FAIL keyfile_create: %s\n", err.msg);
		return 1;
	}
	good = (char *)buf;
	RUN(test_round_trip);
	RUN(test_two_files_same_master);
	RUN(test_wrong_password);
	RUN(test_empty_and_binary_password);
	RUN(test_malformed_json);
	RUN(test_error_has_no_control_bytes);
	RUN(test_missing_fields);
	RUN(test_bad_fields);
	RUN(test_newer_version);
	RUN(test_wrapped_key_wrong_length);
	RUN(test_create_rejects_bad_limits);
	RUN(test_bounds_refused_before_argon2);
	RUN(test_create_refuses_out_of_bounds);
	RUN(test_sealed_identity);
	RUN(test_old_clear_identity);
	RUN(test_open_skips_hostile_key_files);
	RUN(test_misnamed_key_file);
	RUN(test_last_used_first_then_cheapest);
	RUN(test_key_list_problems);
	RUN(test_key_cache_checks_its_key_file);
	codec_keys_free(keys);
	free(good);
	return CHECK_EXIT();
}
