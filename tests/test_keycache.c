/* test_keycache.c — unit tests for store/keycache.c (FORMAT.md "Key cache
 * entry"): an entry opens only with its name, key file bytes and password;
 * it does not hold the key in clear; any damaged byte makes it a miss; and
 * the kernel keyring keeps, replaces, times out and drops entries. The
 * keyring tests need a kernel with keyrings (every Linux since 2.6.10; a
 * container may forbid them, and then they fail with the errno).
 */
#include "store/keycache.h"
#include "tests/check.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

static uint8_t master[CODEC_KEY_LEN], key_id[32];
static const uint8_t keyfile[] = "{\"version\":1,\"kdf\":\"argon2id13\",\"data\":\"...\"}";
static const char PW[] = "correct horse";
static char name[KEYCACHE_NAME_LEN + 1];

static int open_with(const uint8_t *entry, const char *nm, const uint8_t *kf, size_t kf_len, const char *pw,
                     uint8_t out[CODEC_KEY_LEN])
{
	return keycache_open(nm, entry, KEYCACHE_ENTRY_LEN, kf, kf_len, pw, strlen(pw), out);
}

static void test_name(void)
{
	static const uint8_t cfg[] = "STRATACF config bytes";
	char a[KEYCACHE_NAME_LEN + 1], b[KEYCACHE_NAME_LEN + 1];
	uint8_t other[sizeof cfg];

	keycache_name(cfg, sizeof cfg, a);
	CHECK_EQ_INT(strlen(a), KEYCACHE_NAME_LEN);
	CHECK(strncmp(a, "strata:", 7) == 0);
	CHECK(strspn(a + 7, "0123456789abcdef") == 32);
	memcpy(other, cfg, sizeof cfg);
	other[3] ^= 1;
	keycache_name(other, sizeof other, b);
	CHECK(strcmp(a, b) != 0);
}

static void test_round_trip(void)
{
	uint8_t entry[KEYCACHE_ENTRY_LEN], out[CODEC_KEY_LEN], id[32];

	keycache_seal(name, key_id, keyfile, sizeof keyfile, PW, strlen(PW), master, entry);
	CHECK_EQ_INT(open_with(entry, name, keyfile, sizeof keyfile, PW, out), 0);
	CHECK(memcmp(out, master, sizeof master) == 0);
	CHECK_EQ_INT(keycache_key_id(entry, sizeof entry, id), 0);
	CHECK(memcmp(id, key_id, sizeof id) == 0);
	CHECK(memcmp(entry, "STRKCAC1", 8) == 0);
}

/* The key appears nowhere in the entry, nor any 8 bytes of it. */
static void test_no_clear_key(void)
{
	uint8_t entry[KEYCACHE_ENTRY_LEN];
	size_t i, j;

	keycache_seal(name, key_id, keyfile, sizeof keyfile, PW, strlen(PW), master, entry);
	for (i = 0; i + 8 <= sizeof master; i++)
		for (j = 0; j + 8 <= sizeof entry; j++)
			CHECK(memcmp(master + i, entry + j, 8) != 0);
}

static void test_refusals(void)
{
	uint8_t entry[KEYCACHE_ENTRY_LEN], bad[KEYCACHE_ENTRY_LEN], out[CODEC_KEY_LEN], kf[sizeof keyfile];
	char other[KEYCACHE_NAME_LEN + 1];
	size_t i;
	int opened = 0;

	keycache_seal(name, key_id, keyfile, sizeof keyfile, PW, strlen(PW), master, entry);
	/* wrong password, also a prefix of the right one */
	CHECK_EQ_INT(open_with(entry, name, keyfile, sizeof keyfile, "correct horsf", out), -1);
	CHECK_EQ_INT(open_with(entry, name, keyfile, sizeof keyfile, "correct hors", out), -1);
	for (i = 0; i < sizeof out; i++)
		CHECK(out[i] == 0);
	/* another key file (one byte differs, or one byte shorter) */
	memcpy(kf, keyfile, sizeof kf);
	kf[5] ^= 0x20;
	CHECK_EQ_INT(open_with(entry, name, kf, sizeof kf, PW, out), -1);
	CHECK_EQ_INT(open_with(entry, name, keyfile, sizeof keyfile - 1, PW, out), -1);
	/* another repository's name */
	memcpy(other, name, sizeof other);
	other[10] = other[10] == 'a' ? 'b' : 'a';
	CHECK_EQ_INT(open_with(entry, other, keyfile, sizeof keyfile, PW, out), -1);
	/* any flipped bit anywhere */
	for (i = 0; i < KEYCACHE_ENTRY_LEN * 8; i++) {
		memcpy(bad, entry, sizeof bad);
		bad[i / 8] ^= (uint8_t)(1u << (i % 8));
		opened += open_with(bad, name, keyfile, sizeof keyfile, PW, out) == 0;
	}
	CHECK_EQ_INT(opened, 0);
	/* wrong lengths */
	CHECK_EQ_INT(keycache_open(name, entry, KEYCACHE_ENTRY_LEN - 1, keyfile, sizeof keyfile, PW, strlen(PW), out), -1);
	CHECK_EQ_INT(keycache_key_id(entry, KEYCACHE_ENTRY_LEN + 1, out), -1);
	/* two seals of the same key differ (fresh nonce) */
	keycache_seal(name, key_id, keyfile, sizeof keyfile, PW, strlen(PW), master, bad);
	CHECK(memcmp(bad + 40, entry + 40, KEYCACHE_ENTRY_LEN - 40) != 0);
}

static void test_keyring(void)
{
	uint8_t entry[KEYCACHE_ENTRY_LEN], again[KEYCACHE_ENTRY_LEN], got[KEYCACHE_ENTRY_LEN];
	int rc;

	keycache_seal(name, key_id, keyfile, sizeof keyfile, PW, strlen(PW), master, entry);
	CHECK_EQ_INT(keycache_get(name, got), -ENOKEY);
	rc = keycache_put(name, entry, 60);
	if (rc)
		printf("  keycache_put: %s\n", strerror(-rc));
	REQUIRE(rc == 0);
	CHECK_EQ_INT(keycache_get(name, got), 0);
	CHECK(memcmp(got, entry, sizeof got) == 0);
	/* A second put under the name replaces the first. */
	keycache_seal(name, key_id, keyfile, sizeof keyfile, PW, strlen(PW), master, again);
	CHECK_EQ_INT(keycache_put(name, again, 60), 0);
	CHECK_EQ_INT(keycache_get(name, got), 0);
	CHECK(memcmp(got, again, sizeof got) == 0);
	CHECK_EQ_INT(keycache_drop(name), 0);
	CHECK_EQ_INT(keycache_get(name, got), -ENOKEY);
	CHECK_EQ_INT(keycache_drop(name), -ENOKEY);
	/* Time limits outside 1 .. KEYCACHE_TTL_MAX are refused. */
	CHECK_EQ_INT(keycache_put(name, entry, 0), -EINVAL);
	CHECK_EQ_INT(keycache_put(name, entry, KEYCACHE_TTL_MAX + 1), -EINVAL);
	CHECK_EQ_INT(keycache_get(name, got), -ENOKEY);
}

/* The kernel removes an entry at its time limit. */
static void test_keyring_expiry(void)
{
	uint8_t entry[KEYCACHE_ENTRY_LEN], got[KEYCACHE_ENTRY_LEN];
	int rc, i;

	keycache_seal(name, key_id, keyfile, sizeof keyfile, PW, strlen(PW), master, entry);
	REQUIRE(keycache_put(name, entry, 1) == 0);
	CHECK_EQ_INT(keycache_get(name, got), 0);
	/* Up to 3 s: the kernel's garbage collector runs on its own time. */
	for (i = 0; i < 30; i++) {
		usleep(100000);
		if ((rc = keycache_get(name, got)) != 0)
			break;
	}
	CHECK(rc == -ENOKEY || rc == -EKEYEXPIRED);
	keycache_drop(name);
}

int main(void)
{
	uint8_t cfg[32];

	if (sodium_init() < 0)
		return 1;
	randombytes_buf(master, sizeof master);
	randombytes_buf(key_id, sizeof key_id);
	/* a name of this run's own, so that runs side by side do not meet */
	randombytes_buf(cfg, sizeof cfg);
	keycache_name(cfg, sizeof cfg, name);
	RUN(test_name);
	RUN(test_round_trip);
	RUN(test_no_clear_key);
	RUN(test_refusals);
	RUN(test_keyring);
	RUN(test_keyring_expiry);
	printf("%d passed, %d failed\n", check_total_passed_, check_total_failed_);
	return CHECK_EXIT();
}
