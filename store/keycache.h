/* keycache.h — the opt-in key cache: an unwrapped master key kept for a
 * while in the kernel's keyring of the user, so that a job run every block
 * does not pay Argon2id (0.15–0.2 s and 64 MiB) on every run.
 *
 * Owns: the cache entry (FORMAT.md "Key cache entry") and its place in the
 * keyring: the user's persistent keyring when the kernel has one, else the
 * user keyring. An entry holds the master key sealed under a fast keyed
 * hash of the password and of the key file's bytes, so the password is
 * still checked on every open, a changed or removed key file stops the
 * entry from opening, and the keyring alone does not give the key away.
 *
 * Never: writes anything to disk; keeps an entry past its time limit (the
 * kernel removes it); fails an open because of the cache — every error
 * here is a miss and the caller unwraps the key file as usual.
 *
 * Thread safety: pure functions and keyring system calls.
 */
#ifndef STRATA_STORE_KEYCACHE_H
#define STRATA_STORE_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store/codec.h"

#define KEYCACHE_NAME_LEN 39       /* "strata:" + 32 hex */
#define KEYCACHE_ENTRY_LEN 112     /* magic 8, key id 32, nonce 24, sealed key 48 */
#define KEYCACHE_TTL_MAX (7 * 24 * 3600)

/* keycache_name — the entry's name for the repository whose config file
 * is cfg: "strata:" and the first 16 bytes of BLAKE2b-256(cfg) in hex. */
void keycache_name(const uint8_t *cfg, size_t cfg_len, char out[KEYCACHE_NAME_LEN + 1]);

/* keycache_seal — an entry for master, opened by key file key_id (its raw
 * 32-byte name) whose bytes are keyfile, with password. */
void keycache_seal(const char *name, const uint8_t key_id[32], const uint8_t *keyfile, size_t keyfile_len,
                   const char *password, size_t password_len, const uint8_t master[CODEC_KEY_LEN],
                   uint8_t out[KEYCACHE_ENTRY_LEN]);

/* keycache_key_id — the key file an entry was made from; -1 if entry is
 * not a version-1 entry. */
int keycache_key_id(const uint8_t *entry, size_t len, uint8_t out[32]);

/* keycache_open — the master key, if entry was made by keycache_seal with
 * the same name, key file bytes and password; else -1 and out is wiped. */
int keycache_open(const char *name, const uint8_t *entry, size_t len, const uint8_t *keyfile,
                  size_t keyfile_len, const char *password, size_t password_len,
                  uint8_t out[CODEC_KEY_LEN]);

/* keycache_get — read entry `name` from the keyring into out. 0, or a
 * negative errno (-ENOKEY when there is none, -ENOSYS without keyrings). */
int keycache_get(const char *name, uint8_t out[KEYCACHE_ENTRY_LEN]);

/* keycache_put — store entry under name for ttl_s seconds (1 ..
 * KEYCACHE_TTL_MAX), replacing one of the same name. 0 or -errno. */
int keycache_put(const char *name, const uint8_t entry[KEYCACHE_ENTRY_LEN], unsigned ttl_s);

/* keycache_drop — remove entry `name`. 0 if one was removed, -ENOKEY if
 * there was none, else -errno. */
int keycache_drop(const char *name);

#endif
