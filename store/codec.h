/* codec.h — the object codec: hashing, key derivation, compression and
 * authenticated encryption. The only module that includes <sodium.h>,
 * <zstd.h> or OpenSSL's <openssl/evp.h>.
 *
 * Owns: chunk IDs (keyed BLAKE2b-256), file names (unkeyed BLAKE2b-256 of
 * stored bytes), sub-key derivation from the master key (crypto_kdf),
 * the chunker gear table, Argon2id password hashing, sealing and opening of
 * blobs (FORMAT.md "Blob") and of whole files (FORMAT.md "Sealed file"),
 * zstd compression with "store raw if it does not shrink".
 *
 * Speed: the two per-byte primitives of every chunk, keyed BLAKE2b and
 * XChaCha20-Poly1305, run through OpenSSL's libcrypto (already loaded by
 * libcurl) when it provides them: on this project's x86-64 machines they
 * run 2x and 3x faster than libsodium's (README "Dependencies"). The
 * bytes are the same, bit for bit (tests/test_codec.c checks each against
 * libsodium); when OpenSSL lacks them or fails, libsodium computes them.
 *
 * Never: touches the backend or the filesystem.
 *
 * Thread safety: all functions are reentrant. A CodecCtx holds zstd
 * contexts and must be used by one thread at a time (one per worker).
 * CodecKeys live in sodium_malloc'ed, mlocked memory (codec_keys_new).
 */
#ifndef STRATA_STORE_CODEC_H
#define STRATA_STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/format.h"

#define CODEC_ID_LEN       32
#define CODEC_KEY_LEN      32
#define CODEC_NONCE_LEN    24   /* XChaCha20-Poly1305-IETF */
#define CODEC_TAG_LEN      16
#define CODEC_SALT_LEN     16   /* crypto_pwhash_SALTBYTES */
/* bytes a blob grows by when sealed: nonce, tag, the codec byte */
#define CODEC_BLOB_OVERHEAD (CODEC_NONCE_LEN + CODEC_TAG_LEN + 1)

/* Blob types (enum BlobType): store/format.h. */

/* codec_blob_type_name — "data", "tree", "tree part" (messages). */
static inline const char *codec_blob_type_name(uint8_t type)
{
	return type == BLOB_DATA ? "data" : type == BLOB_TREE ? "tree" : type == BLOB_TREEPART ? "tree part" : "unknown";
}

struct evp_mac_st;
struct evp_cipher_st;

typedef struct CodecKeys {
	uint8_t master[CODEC_KEY_LEN];
	uint8_t id_key[CODEC_KEY_LEN];    /* keyed BLAKE2b for chunk IDs */
	uint8_t enc_key[CODEC_KEY_LEN];   /* XChaCha20-Poly1305 for every object */
	uint8_t gear_seed[CODEC_KEY_LEN]; /* chunker gear table */
	/* OpenSSL's BLAKE2BMAC and ChaCha20-Poly1305, fetched once (shared by
	 * all threads, read-only); NULL: libsodium does that work. */
	struct evp_mac_st *ossl_mac;
	struct evp_cipher_st *ossl_aead;
} CodecKeys;

typedef struct CodecCtx CodecCtx;

/* codec_init — initialise libsodium once per process. -EIO if it fails. */
int codec_init(void);

/* codec_keys_new — guarded, mlocked storage for keys derived from master.
 * NULL on allocation failure. codec_keys_free wipes and frees (NULL ok). */
CodecKeys *codec_keys_new(const uint8_t master[CODEC_KEY_LEN]);
void codec_keys_free(CodecKeys *keys);

/* codec_random — fill buf with random bytes. */
void codec_random(void *buf, size_t len);

/* codec_wipe — zero memory in a way the compiler will not drop. */
void codec_wipe(void *buf, size_t len);

/* codec_chunk_id — keyed BLAKE2b-256 of data under keys->id_key. */
void codec_chunk_id(const CodecKeys *keys, const void *data, size_t len, uint8_t out[CODEC_ID_LEN]);

/* codec_short_mac — SipHash-2-4 with a 128-bit output (libsodium
 * crypto_shorthash_siphashx24) of data under a 16-byte key: a fast keyed
 * PRF for fingerprints kept in local caches, where a full BLAKE2b per item
 * costs too much (100,000 snapshot IDs: 2 ms instead of 60 ms). Not for
 * anything stored in the repository. */
#define CODEC_SHORT_MAC_LEN 16
#define CODEC_SHORT_MAC_KEY_LEN 16
void codec_short_mac(const uint8_t key[CODEC_SHORT_MAC_KEY_LEN], const void *data, size_t len,
                     uint8_t out[CODEC_SHORT_MAC_LEN]);

/* codec_file_hash — unkeyed BLAKE2b-256 (libsodium): the names of
 * format-1 repositories (through codec_name_*), and fingerprints kept in
 * memory or local caches. */
void codec_file_hash(const void *data, size_t len, uint8_t out[CODEC_ID_LEN]);

/* Incremental unkeyed BLAKE2b-256. */
typedef struct CodecHashState { uint8_t opaque[384] __attribute__((aligned(64))); } CodecHashState;
void codec_file_hash_init(CodecHashState *st);
void codec_file_hash_update(CodecHashState *st, const void *data, size_t len);
void codec_file_hash_final(CodecHashState *st, uint8_t out[CODEC_ID_LEN]);

/* Name hashes: the unkeyed hash a repository names its packs, index,
 * snapshot and key files by (FORMAT.md "Directory tree"), fixed by its
 * format version. SHA-256 (format 2) runs through OpenSSL, which uses the
 * CPU's SHA extensions: 1.7 GB/s on this project's machines against
 * libsodium's BLAKE2b at 0.5-0.6 GB/s (README "Dependencies"). */
typedef enum CodecNameHash {
	CODEC_NAME_BLAKE2B = 1,          /* format 1; `b2sum -l 256` */
	CODEC_NAME_SHA256 = 2            /* format 2; `sha256sum` */
} CodecNameHash;

/* codec_name_hash — the name of data[0..len). 0, or -ENOMEM when OpenSSL
 * could not allocate its context. */
int codec_name_hash(CodecNameHash alg, const void *data, size_t len, uint8_t out[CODEC_ID_LEN]);

/* Incremental name hash. init takes a zeroed state or one that was
 * initialised before (its OpenSSL context is reused); a failure in init
 * or update is kept and reported by final (0, or -ENOMEM), so that
 * callers feeding bytes from several places check once. final leaves the
 * state ready for another init; release frees it (a zeroed state too). */
typedef struct CodecNameState {
	CodecNameHash alg;
	int failed;
	void *md;                        /* EVP_MD_CTX, SHA-256 only */
	CodecHashState b2;               /* BLAKE2b only */
} CodecNameState;
void codec_name_init(CodecNameState *st, CodecNameHash alg);
void codec_name_update(CodecNameState *st, const void *data, size_t len);
int codec_name_final(CodecNameState *st, uint8_t out[CODEC_ID_LEN]);
void codec_name_release(CodecNameState *st);

/* codec_gear — the chunker's 256-entry gear table from keys->gear_seed
 * (XChaCha20 keystream, FORMAT.md "Chunking"). */
void codec_gear(const CodecKeys *keys, uint64_t gear[256]);

/* codec_pwhash — Argon2id13 of password into a key of out_len bytes.
 * -ENOMEM when memlimit cannot be had; STRATA_EUSAGE for limits outside
 * libsodium's range. */
int codec_pwhash(uint8_t *out, size_t out_len, const char *password, size_t password_len,
                 const uint8_t salt[CODEC_SALT_LEN], uint64_t opslimit, uint64_t memlimit);
uint64_t codec_pwhash_default_ops(void);
uint64_t codec_pwhash_default_mem(void);

/* codec_ctx_new/free — per-thread zstd contexts. free accepts NULL. */
CodecCtx *codec_ctx_new(void);
void codec_ctx_free(CodecCtx *ctx);

/* codec_blob_seal — compress (zstd level; stored raw when that does not
 * shrink it or level < 0) and seal plain[0..len) as a blob of type with
 * chunk ID id. Writes at most len + CODEC_BLOB_OVERHEAD bytes to out
 * (caller provides that much room) and sets *out_len. */
/* Level 0 means auto. A chunk whose sampled bytes carry under
 * CODEC_AUTO_ENTROPY_BITS of entropy each (text, JSON, hex, most
 * binaries) is compressed at CODEC_ZSTD_DEFAULT_LEVEL (1), which
 * Huffman-codes the literals; any other at CODEC_ZSTD_FAST_LEVEL
 * (zstd's --fast=1), which finds the same repeats but stores literals
 * raw. On chain-like block data (7.2 bits a byte, ratio 1.4) that is the
 * same stored size at 1.5x the speed of level 1 (tools/cli/doc/performance.md,
 * compression level). */
#define CODEC_ZSTD_DEFAULT_LEVEL 1
#define CODEC_ZSTD_FAST_LEVEL   (-1)
#define CODEC_AUTO_ENTROPY_BITS 7.0

int codec_blob_seal(CodecCtx *ctx, const CodecKeys *keys, uint8_t type,
                    const uint8_t id[CODEC_ID_LEN], const void *plain, size_t len,
                    int level, uint8_t *out, size_t *out_len);

/* codec_blob_open — authenticate and decompress a blob into out, which
 * has room for exactly raw_len bytes; checks the decoded length is raw_len
 * and that the keyed hash of the plaintext equals id.
 * Errors: STRATA_EAUTH (tampered, wrong ID/type/key), STRATA_EFORMAT
 * (short blob, bad codec byte, zstd error or wrong length), STRATA_EDAMAGED
 * (authentic but the plaintext hash is not id — cannot happen without the
 * key; reported separately for completeness). */
int codec_blob_open(CodecCtx *ctx, const CodecKeys *keys, uint8_t type,
                    const uint8_t id[CODEC_ID_LEN], const uint8_t *blob, size_t blob_len,
                    uint8_t *out, size_t raw_len);

/* codec_blob_decrypt — codec_blob_open without recomputing the keyed hash:
 * the AEAD tag alone vouches that a holder of the key sealed this plaintext
 * under this type and ID (FORMAT.md §8). For bulk readers that rely on
 * that (restore); check and dump use codec_blob_open. Same errors but
 * never STRATA_EDAMAGED. */
int codec_blob_decrypt(CodecCtx *ctx, const CodecKeys *keys, uint8_t type,
                       const uint8_t id[CODEC_ID_LEN], const uint8_t *blob, size_t blob_len,
                       uint8_t *out, size_t raw_len);

/* codec_seal — seal a whole file: out = NONCE || CIPHERTEXT || TAG with
 * additional data ad. *out malloc'ed. */
int codec_seal(const CodecKeys *keys, const uint8_t *ad, size_t ad_len,
               const void *plain, size_t len, uint8_t **out, size_t *out_len);

/* codec_open — inverse of codec_seal. STRATA_EAUTH / STRATA_EFORMAT. */
int codec_open(const CodecKeys *keys, const uint8_t *ad, size_t ad_len,
               const uint8_t *sealed, size_t sealed_len, uint8_t **out, size_t *out_len);

/* codec_seal_with — as codec_seal, with an explicit 32-byte key (key files). */
int codec_seal_with(const uint8_t key[CODEC_KEY_LEN], const uint8_t *ad, size_t ad_len,
                    const void *plain, size_t len, uint8_t **out, size_t *out_len);
int codec_open_with(const uint8_t key[CODEC_KEY_LEN], const uint8_t *ad, size_t ad_len,
                    const uint8_t *sealed, size_t sealed_len, uint8_t **out, size_t *out_len);

/* codec_compress — zstd-compress a whole buffer (index files). *out
 * malloc'ed. codec_decompress — inverse, refusing frames that would decode
 * to more than max_len bytes (STRATA_EFORMAT). */
int codec_compress(const void *src, size_t len, int level, uint8_t **out, size_t *out_len);
int codec_decompress(const void *src, size_t len, size_t max_len, uint8_t **out, size_t *out_len);

/* Encoding helpers (libsodium's): hex and base64 (standard, padded). */
void codec_hex(const uint8_t *bin, size_t len, char *out);   /* out has 2*len+1 */
int  codec_unhex(const char *hex, uint8_t *out, size_t out_len); /* exact length; STRATA_EFORMAT */
char *codec_b64(const uint8_t *bin, size_t len);              /* malloc'ed */
int  codec_unb64(const char *b64, uint8_t *out, size_t out_max, size_t *out_len);

#endif
