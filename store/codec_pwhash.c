/* codec_pwhash.c — Argon2id for key files (codec.h "codec_pwhash";
 * FORMAT.md "Key file").
 *
 * Two engines compute the same function, Argon2id version 1.3 with one
 * lane, t = opslimit passes over m = memlimit / 1024 KiB:
 *
 *  - libsodium's crypto_pwhash (SIMD code). It maps its memory itself, in
 *    4 KiB pages unless the kernel gives every large mapping huge pages.
 *  - libargon2, the reference implementation, which lets the caller
 *    allocate that memory: strata gives it hugebuf_alloc's 2 MiB pages.
 *
 * Argon2id reads its 64 MiB at random, so page size decides its speed on
 * the VMs this project runs on, where every first touch of a 4 KiB page
 * and every TLB miss is paid to the host: libsodium took 0.14 s on 4 KiB
 * pages and 0.046 s on huge pages, libargon2 0.27 s on 4 KiB pages and
 * 0.085 s on huge pages. The automatic choice is therefore libargon2 when
 * the kernel gives huge pages only on request (THP "madvise", the Debian
 * default), libsodium otherwise. tests/test_codec.c checks that both
 * engines give the same bytes.
 */
#include "store/codec.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <argon2.h>
#include <sodium.h>

#include "store/hugebuf.h"

uint64_t codec_pwhash_default_ops(void)
{
	return crypto_pwhash_OPSLIMIT_INTERACTIVE;
}

uint64_t codec_pwhash_default_mem(void)
{
	return crypto_pwhash_MEMLIMIT_INTERACTIVE;
}

/* libargon2's allocation callbacks. It wipes the memory before freeing it
 * (its FLAG_clear_internal_memory, on by default). */
static int argon2_huge_alloc(uint8_t **memory, size_t len)
{
	*memory = hugebuf_alloc(len, NULL);
	return *memory ? ARGON2_OK : ARGON2_MEMORY_ALLOCATION_ERROR;
}

static void argon2_huge_free(uint8_t *memory, size_t len)
{
	(void)len;
	free(memory);
}

static int pwhash_argon2_huge(uint8_t *out, size_t out_len, const char *password,
                              size_t password_len, const uint8_t salt[CODEC_SALT_LEN],
                              uint64_t opslimit, uint64_t memlimit)
{
	argon2_context c = {
		.out = out,
		.outlen = (uint32_t)out_len,
		/* read only: flags ask for no clearing of the password */
		.pwd = (uint8_t *)(uintptr_t)password,
		.pwdlen = (uint32_t)password_len,
		.salt = (uint8_t *)(uintptr_t)salt,
		.saltlen = CODEC_SALT_LEN,
		.t_cost = (uint32_t)opslimit,
		.m_cost = (uint32_t)(memlimit / 1024u),   /* as libsodium counts it */
		.lanes = 1,
		.threads = 1,
		.version = ARGON2_VERSION_13,
		.allocate_cbk = argon2_huge_alloc,
		.free_cbk = argon2_huge_free,
		.flags = ARGON2_DEFAULT_FLAGS,
	};
	int rc;

	if (out_len > UINT32_MAX || password_len > UINT32_MAX)
		return STRATA_EUSAGE;
	rc = argon2_ctx(&c, Argon2_id);
	if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
		return -ENOMEM;
	return rc == ARGON2_OK ? 0 : STRATA_EUSAGE;
}

int codec_pwhash_engine(CodecPwhashEngine engine, uint8_t *out, size_t out_len,
                        const char *password, size_t password_len,
                        const uint8_t salt[CODEC_SALT_LEN], uint64_t opslimit, uint64_t memlimit)
{
	if (opslimit < crypto_pwhash_OPSLIMIT_MIN || opslimit > crypto_pwhash_OPSLIMIT_MAX ||
	    memlimit < crypto_pwhash_MEMLIMIT_MIN || memlimit > crypto_pwhash_MEMLIMIT_MAX ||
	    memlimit > SIZE_MAX || out_len < crypto_pwhash_BYTES_MIN ||
	    out_len > crypto_pwhash_BYTES_MAX)
		return STRATA_EUSAGE;
	if (engine == CODEC_PWHASH_AUTO)
		engine = hugebuf_thp_mode() == HUGEBUF_THP_MADVISE ? CODEC_PWHASH_ARGON2_HUGE
		                                                   : CODEC_PWHASH_SODIUM;
	if (engine == CODEC_PWHASH_ARGON2_HUGE)
		return pwhash_argon2_huge(out, out_len, password, password_len, salt, opslimit,
		                          memlimit);
	if (crypto_pwhash(out, out_len, password, password_len, salt, opslimit, (size_t)memlimit,
	                  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;
	return 0;
}

int codec_pwhash(uint8_t *out, size_t out_len, const char *password, size_t password_len,
                 const uint8_t salt[CODEC_SALT_LEN], uint64_t opslimit, uint64_t memlimit)
{
	return codec_pwhash_engine(CODEC_PWHASH_AUTO, out, out_len, password, password_len, salt,
	                           opslimit, memlimit);
}
