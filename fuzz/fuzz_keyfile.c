/* fuzz_keyfile.c — keyfile_info, keyfile_info_open and keyfile_unwrap on an
 * untrusted key file (FORMAT.md §6; anyone who can write to the repository
 * can plant one, and repo_open reads every key file).
 *
 * The Argon2id bounds are checked before any Argon2id work, so the
 * harness calls keyfile_unwrap on every input that keyfile_info refuses:
 * those calls are as cheap as the parse, and one that ran Argon2id for
 * settings out of bounds (4294967295 passes, a terabyte) would time out.
 * For accepted files Argon2id runs with the settings they ask for, so
 * unwrap is called only when those are tiny (opslimit <= 3, memlimit
 * <= 64 KiB). The seed key files wrap a key with FUZZ_PASSWORD at opslimit
 * 1, memlimit 8 KiB.
 *
 * Properties: no crash; only documented codes; an accepted file's settings
 * are within KEYFILE_{OPS,MEM}LIMIT_{MIN,MAX}; unwrap refuses what info
 * refuses, with the same code and message; info and unwrap agree on the
 * limits; the sealed host and user open only with the file's own key
 * (never with the fuzz key unless they were sealed under it) and are
 * NUL-terminated.
 */
#include "fuzz/fuzz.h"
#include "store/keyfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	KeyFileInfo info, info2;
	StrataErr err = {0}, err2 = {0};
	uint8_t master[CODEC_KEY_LEN];
	int rc, rc2;

	fuzz_keys();   /* codec_init */
	rc = keyfile_info(data, size, &info, &err);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT || rc == STRATA_EVERSION);
		FUZZ_ASSERT(err.code == rc && err.msg[0]);
		/* Refused before any Argon2id work, by unwrap too. */
		rc2 = keyfile_unwrap(data, size, FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), master, &info2, &err2);
		FUZZ_ASSERT(rc2 == rc && err2.code == rc && strcmp(err2.msg, err.msg) == 0);
		return 0;
	}
	FUZZ_ASSERT(keyfile_kdf_in_bounds(info.opslimit, info.memlimit));
	FUZZ_ASSERT(info.opslimit >= KEYFILE_OPSLIMIT_MIN && info.opslimit <= KEYFILE_OPSLIMIT_MAX);
	FUZZ_ASSERT(info.memlimit >= KEYFILE_MEMLIMIT_MIN && info.memlimit <= KEYFILE_MEMLIMIT_MAX);
	FUZZ_ASSERT(size <= KEYFILE_MAX_LEN);
	FUZZ_ASSERT(memchr(info.host, '\0', sizeof info.host) && memchr(info.user, '\0', sizeof info.user));
	FUZZ_ASSERT(info.who == KEYFILE_WHO_NONE || info.who == KEYFILE_WHO_CLEAR || info.who == KEYFILE_WHO_SEALED);
	if (info.who != KEYFILE_WHO_CLEAR)
		FUZZ_ASSERT(info.host[0] == '\0' && info.user[0] == '\0');
	/* Sealed host and user, under the fuzz key: opening them is never an
	 * error (keyfile_info_open is keyfile_info otherwise). */
	if (info.who == KEYFILE_WHO_SEALED) {
		rc2 = keyfile_info_open(data, size, fuzz_keys(), &info2, &err2);
		FUZZ_ASSERT(rc2 == 0);
		FUZZ_ASSERT(info2.opslimit == info.opslimit && info2.memlimit == info.memlimit);
		FUZZ_ASSERT(memchr(info2.host, '\0', sizeof info2.host) && memchr(info2.user, '\0', sizeof info2.user));
		FUZZ_ASSERT(info2.who == KEYFILE_WHO_OPENED || info2.who == KEYFILE_WHO_UNREADABLE);
		if (info2.who == KEYFILE_WHO_UNREADABLE)
			FUZZ_ASSERT(info2.host[0] == '\0' && info2.user[0] == '\0');
	}
	if (info.opslimit > 3 || info.memlimit > (64u << 10))
		return 0;
	rc = keyfile_unwrap(data, size, FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), master, &info2, &err);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT || rc == STRATA_EPASSWORD);
		FUZZ_ASSERT(err.code == rc && err.msg[0]);
		return 0;
	}
	FUZZ_ASSERT(info2.opslimit == info.opslimit && info2.memlimit == info.memlimit);
	FUZZ_ASSERT(info2.created_s == info.created_s);
	FUZZ_ASSERT(memchr(info2.host, '\0', sizeof info2.host) && memchr(info2.user, '\0', sizeof info2.user));
	if (info.who == KEYFILE_WHO_SEALED)
		FUZZ_ASSERT(info2.who == KEYFILE_WHO_OPENED || info2.who == KEYFILE_WHO_UNREADABLE);
	else
		FUZZ_ASSERT(info2.who == info.who && strcmp(info2.host, info.host) == 0);
	return 0;
}
