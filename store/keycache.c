/* keycache.c — see keycache.h. FORMAT.md "Key cache entry". */
#include "store/keycache.h"

#include <errno.h>
#include <string.h>

#include <keyutils.h>
#include <sodium.h>

static const uint8_t MAGIC[8] = { 'S', 'T', 'R', 'K', 'C', 'A', 'C', '1' };
static const char PW_CONTEXT[] = "strata key cache v1";

#define OFF_ID 8
#define OFF_NONCE 40
#define OFF_SEALED 64

void keycache_name(const uint8_t *cfg, size_t cfg_len, char out[KEYCACHE_NAME_LEN + 1])
{
	uint8_t h[32];

	crypto_generichash(h, sizeof h, cfg, cfg_len, NULL, 0);
	memcpy(out, "strata:", 7);
	sodium_bin2hex(out + 7, 33, h, 16);
}

/* The sealing key: BLAKE2b-256 keyed by BLAKE2b-256(key file), over the
 * context string (with its NUL) and the password. */
static void wrap_key(const uint8_t *keyfile, size_t keyfile_len, const char *password, size_t password_len,
                     uint8_t out[32])
{
	crypto_generichash_state st;
	uint8_t kf[32];

	crypto_generichash(kf, sizeof kf, keyfile, keyfile_len, NULL, 0);
	crypto_generichash_init(&st, kf, sizeof kf, 32);
	crypto_generichash_update(&st, (const uint8_t *)PW_CONTEXT, sizeof PW_CONTEXT);
	crypto_generichash_update(&st, (const uint8_t *)password, password_len);
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(&st, sizeof st);
	sodium_memzero(kf, sizeof kf);
}

/* Additional data: the entry's header (magic, key id) and its name, so an
 * entry copied under another repository's name does not open. */
static void entry_ad(const char *name, const uint8_t *entry, uint8_t ad[OFF_ID + 32 + KEYCACHE_NAME_LEN])
{
	memcpy(ad, entry, OFF_NONCE);
	memcpy(ad + OFF_NONCE, name, KEYCACHE_NAME_LEN);
}

void keycache_seal(const char *name, const uint8_t key_id[32], const uint8_t *keyfile, size_t keyfile_len,
                   const char *password, size_t password_len, const uint8_t master[CODEC_KEY_LEN],
                   uint8_t out[KEYCACHE_ENTRY_LEN])
{
	uint8_t k[32], ad[OFF_ID + 32 + KEYCACHE_NAME_LEN];

	memcpy(out, MAGIC, sizeof MAGIC);
	memcpy(out + OFF_ID, key_id, 32);
	randombytes_buf(out + OFF_NONCE, 24);
	entry_ad(name, out, ad);
	wrap_key(keyfile, keyfile_len, password, password_len, k);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + OFF_SEALED, NULL, master, CODEC_KEY_LEN, ad, sizeof ad,
	                                           NULL, out + OFF_NONCE, k);
	sodium_memzero(k, sizeof k);
}

int keycache_key_id(const uint8_t *entry, size_t len, uint8_t out[32])
{
	if (len != KEYCACHE_ENTRY_LEN || memcmp(entry, MAGIC, sizeof MAGIC) != 0)
		return -1;
	memcpy(out, entry + OFF_ID, 32);
	return 0;
}

int keycache_open(const char *name, const uint8_t *entry, size_t len, const uint8_t *keyfile,
                  size_t keyfile_len, const char *password, size_t password_len,
                  uint8_t out[CODEC_KEY_LEN])
{
	uint8_t k[32], ad[OFF_ID + 32 + KEYCACHE_NAME_LEN];
	int rc;

	sodium_memzero(out, CODEC_KEY_LEN);
	if (len != KEYCACHE_ENTRY_LEN || memcmp(entry, MAGIC, sizeof MAGIC) != 0)
		return -1;
	entry_ad(name, entry, ad);
	wrap_key(keyfile, keyfile_len, password, password_len, k);
	rc = crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, entry + OFF_SEALED,
	                                                KEYCACHE_ENTRY_LEN - OFF_SEALED, ad, sizeof ad,
	                                                entry + OFF_NONCE, k);
	sodium_memzero(k, sizeof k);
	if (rc != 0) {
		sodium_memzero(out, CODEC_KEY_LEN);
		return -1;
	}
	return 0;
}

/* The keyring entries live in: the user's persistent keyring (it outlives
 * the user's last process, which a cron job's user keyring does not), else
 * the user keyring. */
static key_serial_t ring(void)
{
	long r = keyctl_get_persistent(-1, KEY_SPEC_PROCESS_KEYRING);

	return r >= 0 ? (key_serial_t)r : KEY_SPEC_USER_KEYRING;
}

/* The entry's serial, or -errno. An entry past its time or dropped but not
 * yet collected by the kernel is no entry. */
static key_serial_t find(const char *name)
{
	key_serial_t k = (key_serial_t)keyctl_search(ring(), "user", name, 0);

	if (k >= 0)
		return k;
	if (errno == EKEYEXPIRED || errno == EKEYREVOKED || errno == 0)
		return -ENOKEY;
	return -errno;
}

int keycache_get(const char *name, uint8_t out[KEYCACHE_ENTRY_LEN])
{
	key_serial_t k = find(name);
	long n;

	if (k < 0)
		return k;
	n = keyctl_read(k, (char *)out, KEYCACHE_ENTRY_LEN);
	if (n < 0)
		return errno == EKEYEXPIRED || errno == EKEYREVOKED ? -ENOKEY : errno ? -errno : -EIO;
	if (n != KEYCACHE_ENTRY_LEN)
		return -EBADMSG;
	return 0;
}

int keycache_put(const char *name, const uint8_t entry[KEYCACHE_ENTRY_LEN], unsigned ttl_s)
{
	key_serial_t k;

	if (ttl_s == 0 || ttl_s > KEYCACHE_TTL_MAX)
		return -EINVAL;
	k = add_key("user", name, entry, KEYCACHE_ENTRY_LEN, ring());
	if (k < 0)
		return errno ? -errno : -EIO;
	if (keyctl_set_timeout(k, ttl_s) < 0) {
		int e = errno ? -errno : -EIO;

		/* An entry without its time limit must not stay. */
		keyctl_invalidate(k);
		return e;
	}
	return 0;
}

int keycache_drop(const char *name)
{
	key_serial_t k = find(name);

	if (k < 0)
		return k;
	if (keyctl_invalidate(k) < 0)
		return errno ? -errno : -EIO;
	return 0;
}
