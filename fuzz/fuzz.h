/* fuzz.h — shared by the fuzz/fuzz_*.c harnesses and tools/dev/fuzz_seeds.c.
 *
 * The harnesses that need keys (pack trailers, sealed files, blobs) use one
 * fixed master key, so that tools/dev/fuzz_seeds can write seeds sealed under
 * it. Those seeds authenticate; a fuzzer mutation of them almost never
 * does, which is the point of the separate plaintext harnesses.
 *
 * Every harness defines LLVMFuzzerTestOneInput and nothing else global:
 * libFuzzer provides main() (fuzz/run.sh), or fuzz/replay.c does
 * (tests/e2e_fuzz_replay.sh, without libFuzzer). A broken property calls
 * FUZZ_ASSERT, which aborts so that both drivers report it.
 */
#ifndef STRATA_FUZZ_FUZZ_H
#define STRATA_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"

/* The harnesses' master key: 32 bytes of 0x5a. */
#define FUZZ_MASTER_BYTE 0x5a
/* Key files in the seed corpus wrap their key with this password and
 * Argon2id opslimit 1, memlimit 8 KiB (libsodium's minimum). */
#define FUZZ_PASSWORD "fuzz"
/* fuzz_keycache's entry name and key file bytes (its seed is sealed for them). */
#define FUZZ_KEYCACHE_NAME "strata:00000000000000000000000000000000"
#define FUZZ_KEYCACHE_KEYFILE "{\"version\": 1, \"kdf\": \"argon2id13\"}"

#define FUZZ_ASSERT(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_keys — the fixed keys, derived once per process on first use and
 * freed at exit: they hold
 * OpenSSL objects (codec.h "Speed") in memory LeakSanitizer does not scan,
 * which it would otherwise report as leaked. */
static CodecKeys *fuzz_keys_held;

static inline void fuzz_keys_free(void)
{
	codec_keys_free(fuzz_keys_held);
	fuzz_keys_held = NULL;
}

static inline const CodecKeys *fuzz_keys(void)
{
	if (!fuzz_keys_held) {
		uint8_t master[CODEC_KEY_LEN];
		memset(master, FUZZ_MASTER_BYTE, sizeof master);
		FUZZ_ASSERT(codec_init() == 0);
		fuzz_keys_held = codec_keys_new(master);
		FUZZ_ASSERT(fuzz_keys_held != NULL);
		FUZZ_ASSERT(atexit(fuzz_keys_free) == 0);
	}
	return fuzz_keys_held;
}

static inline uint32_t fuzz_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t fuzz_le64(const uint8_t *p)
{
	return (uint64_t)fuzz_le32(p) | (uint64_t)fuzz_le32(p + 4) << 32;
}

#endif
