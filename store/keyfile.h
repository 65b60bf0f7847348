/* keyfile.h — key files: the master key wrapped by a password.
 *
 * Owns: the JSON key-file format (FORMAT.md "Key file"): Argon2id
 * parameters, salt, and the master key sealed with XChaCha20-Poly1305
 * under the Argon2id output. Several key files may wrap the same master key.
 *
 * Never: stores the password or the unwrapped key anywhere but the
 * caller's buffer. Thread safety: pure functions.
 */
#ifndef STRATA_STORE_KEYFILE_H
#define STRATA_STORE_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "store/codec.h"
#include "store/error.h"

#define KEYFILE_VERSION 1

typedef struct KeyFileInfo {
	char host[256];
	char user[64];
	int64_t created_s;
	uint64_t opslimit, memlimit;
} KeyFileInfo;

/* keyfile_create — a key file wrapping master with password; *out_buf is
 * malloc'ed JSON text. opslimit/memlimit 0 = defaults. */
int keyfile_create(const uint8_t master[CODEC_KEY_LEN], const char *password, size_t password_len,
                   uint64_t opslimit, uint64_t memlimit, uint8_t **out_buf, size_t *out_len,
                   StrataErr *err);

/* keyfile_unwrap — recover the master key. STRATA_EPASSWORD when the
 * password does not open it; STRATA_EFORMAT / STRATA_EVERSION for a
 * malformed or newer key file. info may be NULL. */
int keyfile_unwrap(const uint8_t *buf, size_t len, const char *password, size_t password_len,
                   uint8_t out_master[CODEC_KEY_LEN], KeyFileInfo *info, StrataErr *err);

/* keyfile_info — the unencrypted descriptive fields. */
int keyfile_info(const uint8_t *buf, size_t len, KeyFileInfo *out, StrataErr *err);

#endif
