/* fuzz_keyfile.c — keyfile_info and keyfile_unwrap on an untrusted key
 * file (FORMAT.md §6; anyone who can write to the repository can plant
 * one, and repo_open tries every key file).
 *
 * keyfile_unwrap runs Argon2id with the limits the file asks for; it is
 * called only when they are tiny (opslimit <= 3, memlimit <= 64 KiB), so a
 * mutated limit costs no time or memory. The seed key files wrap a key
 * with FUZZ_PASSWORD at opslimit 1, memlimit 8 KiB.
 *
 * Properties: no crash; only documented codes; info and unwrap agree on
 * the limits; a successful unwrap reports the same info.
 */
#include "fuzz/fuzz.h"
#include "store/keyfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	KeyFileInfo info, info2;
	StrataErr err = {0};
	uint8_t master[CODEC_KEY_LEN];
	int rc;

	fuzz_keys();   /* codec_init */
	rc = keyfile_info(data, size, &info, &err);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT || rc == STRATA_EVERSION);
		FUZZ_ASSERT(err.code == rc && err.msg[0]);
		return 0;
	}
	FUZZ_ASSERT(info.opslimit > 0 && info.memlimit > 0);
	FUZZ_ASSERT(memchr(info.host, '\0', sizeof info.host) && memchr(info.user, '\0', sizeof info.user));
	if (info.opslimit > 3 || info.memlimit > (64u << 10))
		return 0;
	rc = keyfile_unwrap(data, size, FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), master, &info2, &err);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT || rc == STRATA_EPASSWORD);
		FUZZ_ASSERT(err.code == rc && err.msg[0]);
		return 0;
	}
	FUZZ_ASSERT(info2.opslimit == info.opslimit && info2.memlimit == info.memlimit);
	FUZZ_ASSERT(info2.created_s == info.created_s && strcmp(info2.host, info.host) == 0);
	return 0;
}
