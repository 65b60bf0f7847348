/* fuzz_keycache.c — keycache_key_id and keycache_open on an untrusted key
 * cache entry (FORMAT.md "Key cache entry"; a process of the same user can
 * put any bytes under the entry's name in the keyring).
 *
 * The seed (tools/dev/fuzz_seeds.c) is an authentic entry for the name, key
 * file bytes and password below, wrapping the harnesses' master key.
 *
 * Properties: no crash; key_id accepts exactly the 112-byte entries with
 * the magic; an entry that opens gives the master key it was sealed with
 * (a forgery would give anything else); a refused one leaves zeros.
 */
#include "fuzz/fuzz.h"
#include "store/keycache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t id[32], master[CODEC_KEY_LEN], want[CODEC_KEY_LEN], zero[CODEC_KEY_LEN] = {0};
	int rc;

	fuzz_keys();   /* codec_init */
	rc = keycache_key_id(data, size, id);
	FUZZ_ASSERT(rc == 0 || rc == -1);
	FUZZ_ASSERT((rc == 0) == (size == KEYCACHE_ENTRY_LEN && memcmp(data, "STRKCAC1", 8) == 0));
	rc = keycache_open(FUZZ_KEYCACHE_NAME, data, size, (const uint8_t *)FUZZ_KEYCACHE_KEYFILE,
	                   strlen(FUZZ_KEYCACHE_KEYFILE), FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), master);
	memset(want, FUZZ_MASTER_BYTE, sizeof want);
	if (rc == 0)
		FUZZ_ASSERT(memcmp(master, want, sizeof want) == 0);
	else
		FUZZ_ASSERT(rc == -1 && memcmp(master, zero, sizeof zero) == 0);
	return 0;
}
