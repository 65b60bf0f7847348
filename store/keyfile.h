/* keyfile.h — key files: the master key wrapped by a password.
 *
 * Owns: the JSON key-file format (FORMAT.md "Key file"): Argon2id
 * parameters and their bounds, salt, the master key sealed with
 * XChaCha20-Poly1305 under the Argon2id output, and the creator's host and
 * user sealed under the repository's key. Several key files may wrap the
 * same master key.
 *
 * Never: stores the password or the unwrapped key anywhere but the
 * caller's buffer; runs Argon2id for settings outside the bounds below
 * (a key file is untrusted input: anyone who can write keys/ can plant
 * one). Thread safety: pure functions.
 */
#ifndef STRATA_STORE_KEYFILE_H
#define STRATA_STORE_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "store/codec.h"
#include "remote/objsize.h"
#include "store/error.h"
#include "store/format.h"

/* The Argon2id settings strata accepts, in a key file it reads and in one
 * it writes (FORMAT.md "Key file", bounds). The minima are libsodium's
 * own (Argon2id needs a pass and 8 blocks of 1 KiB); the maxima are four
 * times libsodium's strongest preset, SENSITIVE (4 passes, 1 GiB), in each
 * dimension, so that no setting anyone would choose is refused while a
 * planted key file costs at most 16 passes over 4 GiB. */
#define KEYFILE_OPSLIMIT_MIN 1ull
#define KEYFILE_OPSLIMIT_MAX 16ull
#define KEYFILE_MEMLIMIT_MIN 8192ull
#define KEYFILE_MEMLIMIT_MAX (4ull << 30)
#define KEYFILE_BOUNDS_TEXT "strata accepts 1 to 16 passes and 8 KiB to 4 GiB"

/* The largest key file strata reads: one it writes is under 1 KiB
 * whatever its host and user names; the rest is room for whitespace and
 * fields of later versions. */
#define KEYFILE_MAX_LEN (64u << 10)
_Static_assert(KEYFILE_MAX_LEN == OBJSIZE_KEY_MAX, "remote/objsize.h bounds key files too");

/* Where a key file's host and user came from. */
typedef enum KeyFileWho {
	KEYFILE_WHO_NONE = 0,     /* the file names neither */
	KEYFILE_WHO_CLEAR,        /* in clear JSON fields: a key file written before 2026-12-07 */
	KEYFILE_WHO_SEALED,       /* sealed ("info"), and no key was given to open them */
	KEYFILE_WHO_OPENED,       /* sealed, and opened with the key given */
	KEYFILE_WHO_UNREADABLE    /* sealed, but they do not open with the key given
	                           * (written with another master key) or do not decode */
} KeyFileWho;

typedef struct KeyFileInfo {
	char host[256];           /* "" unless who is CLEAR or OPENED */
	char user[64];
	KeyFileWho who;
	int64_t created_s;
	uint64_t opslimit, memlimit;   /* always within the bounds above */
} KeyFileInfo;

/* keyfile_kdf_in_bounds — 1 if Argon2id settings are within
 * KEYFILE_{OPS,MEM}LIMIT_{MIN,MAX}, else 0. */
int keyfile_kdf_in_bounds(uint64_t opslimit, uint64_t memlimit);

/* keyfile_create — a key file wrapping keys->master with password, its
 * host and user sealed under keys (so any holder of the master key can
 * read them, and nobody else); *out_buf is malloc'ed JSON text.
 * opslimit/memlimit 0 = defaults. STRATA_EUSAGE for settings outside the
 * bounds (the message says which are accepted). */
int keyfile_create(const CodecKeys *keys, const char *password, size_t password_len,
                   uint64_t opslimit, uint64_t memlimit, uint8_t **out_buf, size_t *out_len,
                   StrataErr *err);

/* keyfile_unwrap — recover the master key. STRATA_EPASSWORD when the
 * password does not open it; STRATA_EFORMAT / STRATA_EVERSION for a
 * malformed or newer key file, or Argon2id settings out of bounds — all
 * found before any Argon2id work. info may be NULL; when given, the sealed
 * host and user are opened with the unwrapped key (who OPENED, or
 * UNREADABLE). */
int keyfile_unwrap(const uint8_t *buf, size_t len, const char *password, size_t password_len,
                   uint8_t out_master[CODEC_KEY_LEN], KeyFileInfo *info, StrataErr *err);

/* keyfile_info — the fields readable without a key (sealed host and user
 * stay empty, who SEALED). Same format errors as keyfile_unwrap, so a key
 * file that passes here is one keyfile_unwrap will run Argon2id for. */
int keyfile_info(const uint8_t *buf, size_t len, KeyFileInfo *out, StrataErr *err);

/* keyfile_info_open — keyfile_info, and the sealed host and user opened
 * with keys (the repository's): who OPENED, or UNREADABLE when they do not
 * open with them (that file was not written with this repository's key).
 * Their failing to open is not an error. */
int keyfile_info_open(const uint8_t *buf, size_t len, const CodecKeys *keys, KeyFileInfo *out,
                      StrataErr *err);

#endif
