/* codec.c — see codec.h. Byte layouts: FORMAT.md "Blob", "Sealed file". */
#include "store/codec.h"
#include "store/format.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <limits.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>
#include <zstd.h>

_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == CODEC_NONCE_LEN, "nonce width");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == CODEC_TAG_LEN, "tag width");
_Static_assert(crypto_pwhash_SALTBYTES == CODEC_SALT_LEN, "salt width");
_Static_assert(crypto_kdf_KEYBYTES == CODEC_KEY_LEN, "kdf key width");
_Static_assert(sizeof(crypto_generichash_state) <= sizeof(CodecHashState), "hash state");

/* FORMAT.md "Key derivation": crypto_kdf context and sub-key numbers. */
static const char KDF_CONTEXT[crypto_kdf_CONTEXTBYTES] = {'s','t','r','a','t','a','0','1'};
enum { SUBKEY_ID = 1, SUBKEY_ENC = 2, SUBKEY_GEAR = 3 };

/* Codec byte: first plaintext byte of every blob (FORMAT.md "Blob"). */
enum { CODEC_RAW = 0, CODEC_ZSTD = 1 };

/* Blob AEAD additional data: version || type || chunk ID. */
#define BLOB_AD_LEN (2 + CODEC_ID_LEN)

/* Nonces come from a per-context pool of OS randomness, refilled 4 KiB at
 * a time: one getrandom(2) per ~170 blobs instead of one per blob. */
#define NONCE_POOL 4096

/* auto_level's c * log2(c) for the counts a chunk of up to 9 KiB can
 * give (at most 2,047 samples): one log2 a byte value per small chunk
 * was 6 % of a first backup of 1-8 KiB files. */
#define CLOG_MAX 2048

struct CodecCtx {
	double *clog;        /* CLOG_MAX entries once auto_level has run, or NULL */
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	EVP_CIPHER_CTX *aead;  /* OpenSSL's, for blobs; NULL: libsodium's */
	uint8_t *buf;        /* scratch: codec byte + compressed body */
	size_t buf_cap;
	uint8_t pool[NONCE_POOL];
	size_t pool_left;
};

static void ctx_nonce(CodecCtx *ctx, uint8_t *out)
{
	if (ctx->pool_left < CODEC_NONCE_LEN) {
		randombytes_buf(ctx->pool, sizeof ctx->pool);
		ctx->pool_left = sizeof ctx->pool;
	}
	memcpy(out, ctx->pool + sizeof ctx->pool - ctx->pool_left, CODEC_NONCE_LEN);
	/* Each pool byte is used once, then wiped. */
	sodium_memzero(ctx->pool + sizeof ctx->pool - ctx->pool_left, CODEC_NONCE_LEN);
	ctx->pool_left -= CODEC_NONCE_LEN;
}

int codec_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

CodecKeys *codec_keys_new(const uint8_t master[CODEC_KEY_LEN])
{
	CodecKeys *k = sodium_malloc(sizeof *k);

	if (!k)
		return NULL;
	memcpy(k->master, master, CODEC_KEY_LEN);
	crypto_kdf_derive_from_key(k->id_key, CODEC_KEY_LEN, SUBKEY_ID, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(k->enc_key, CODEC_KEY_LEN, SUBKEY_ENC, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(k->gear_seed, CODEC_KEY_LEN, SUBKEY_GEAR, KDF_CONTEXT, master);
	/* Either may be NULL (OpenSSL configured without them): libsodium
	 * then computes the same bytes (codec.h "Speed"). */
	k->ossl_mac = EVP_MAC_fetch(NULL, "BLAKE2BMAC", NULL);
	k->ossl_aead = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	return k;
}

void codec_keys_free(CodecKeys *keys)
{
	if (!keys)
		return;
	EVP_MAC_free(keys->ossl_mac);
	EVP_CIPHER_free(keys->ossl_aead);
	sodium_free(keys);   /* wipes before unmapping */
}

/* Keyed BLAKE2b-256 through OpenSSL's BLAKE2BMAC (RFC 7693 keyed mode,
 * the same function as crypto_generichash with a key). 0 when OpenSSL
 * could not do it, so that the caller falls back to libsodium. */
static int ossl_keyed_hash(EVP_MAC *mac, const uint8_t key[CODEC_KEY_LEN], const void *data,
                           size_t len, uint8_t out[CODEC_ID_LEN])
{
	size_t size = CODEC_ID_LEN, got = 0;
	OSSL_PARAM params[] = { OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
	                        OSSL_PARAM_construct_end() };
	EVP_MAC_CTX *m = mac ? EVP_MAC_CTX_new(mac) : NULL;
	int ok = m && EVP_MAC_init(m, key, CODEC_KEY_LEN, params) == 1 &&
	         EVP_MAC_update(m, data, len) == 1 &&
	         EVP_MAC_final(m, out, &got, CODEC_ID_LEN) == 1 && got == CODEC_ID_LEN;

	EVP_MAC_CTX_free(m);   /* cleanses the key it copied */
	return ok;
}

/* XChaCha20-Poly1305-IETF through OpenSSL, built the way libsodium builds
 * it: HChaCha20(key, nonce[0..16)) is the ChaCha20-Poly1305-IETF key and
 * 0000 || nonce[16..24) its nonce. in and out are len bytes; tag is
 * written (enc) or checked (!enc). 0 done; 1 the tag does not match;
 * -1 OpenSSL could not do it (the caller falls back to libsodium). */
static int ossl_xchacha(EVP_CIPHER_CTX *c, EVP_CIPHER *aead, int enc,
                        const uint8_t key[CODEC_KEY_LEN], const uint8_t nonce[CODEC_NONCE_LEN],
                        const uint8_t *ad, size_t ad_len, const uint8_t *in, size_t len,
                        uint8_t *out, uint8_t tag[CODEC_TAG_LEN])
{
	uint8_t sub[CODEC_KEY_LEN], iv[12] = {0};
	int n, rc = -1;

	if (!c || !aead || len > INT_MAX || ad_len > INT_MAX)
		return -1;
	crypto_core_hchacha20(sub, nonce, key, NULL);
	memcpy(iv + 4, nonce + 16, 8);
	if (EVP_CipherInit_ex(c, aead, NULL, sub, iv, enc) != 1 ||
	    (ad_len && EVP_CipherUpdate(c, NULL, &n, ad, (int)ad_len) != 1) ||
	    (len && EVP_CipherUpdate(c, out, &n, in, (int)len) != 1) ||
	    (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, CODEC_TAG_LEN, tag) != 1))
		goto out;
	if (EVP_CipherFinal_ex(c, out + len, &n) != 1) {
		rc = enc ? -1 : 1;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, CODEC_TAG_LEN, tag) != 1)
		goto out;
	rc = 0;
out:
	sodium_memzero(sub, sizeof sub);
	return rc;
}

/* Seal msg into out = nonce || ciphertext || tag (out's nonce is set). */
static void blob_encrypt(CodecCtx *ctx, const CodecKeys *keys, const uint8_t *ad, size_t ad_len,
                         const uint8_t *msg, size_t msg_len, uint8_t *out)
{
	unsigned long long ct_len;

	if (ossl_xchacha(ctx->aead, keys->ossl_aead, 1, keys->enc_key, out, ad, ad_len, msg, msg_len,
	                 out + CODEC_NONCE_LEN, out + CODEC_NONCE_LEN + msg_len) == 0)
		return;
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + CODEC_NONCE_LEN, &ct_len, msg, msg_len,
	                                           ad, ad_len, NULL, out, keys->enc_key);
}

/* Open blob (nonce || ciphertext || tag, blob_len >= nonce + tag) into
 * out (blob_len - nonce - tag bytes). 0, or STRATA_EAUTH. */
static int blob_decrypt(CodecCtx *ctx, const CodecKeys *keys, const uint8_t *ad, size_t ad_len,
                        const uint8_t *blob, size_t blob_len, uint8_t *out)
{
	size_t len = blob_len - CODEC_NONCE_LEN - CODEC_TAG_LEN;
	uint8_t tag[CODEC_TAG_LEN];
	int rc;

	memcpy(tag, blob + CODEC_NONCE_LEN + len, CODEC_TAG_LEN);
	rc = ossl_xchacha(ctx->aead, keys->ossl_aead, 0, keys->enc_key, blob, ad, ad_len,
	                  blob + CODEC_NONCE_LEN, len, out, tag);
	if (rc == 0)
		return 0;
	if (rc == 1)
		return STRATA_EAUTH;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, blob + CODEC_NONCE_LEN,
	        blob_len - CODEC_NONCE_LEN, ad, ad_len, blob, keys->enc_key) != 0)
		return STRATA_EAUTH;
	return 0;
}

void codec_random(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

void codec_wipe(void *buf, size_t len)
{
	sodium_memzero(buf, len);
}

void codec_chunk_id(const CodecKeys *keys, const void *data, size_t len, uint8_t out[CODEC_ID_LEN])
{
	if (ossl_keyed_hash(keys->ossl_mac, keys->id_key, data, len, out))
		return;
	crypto_generichash(out, CODEC_ID_LEN, data, len, keys->id_key, CODEC_KEY_LEN);
}

void codec_short_mac(const uint8_t key[CODEC_SHORT_MAC_KEY_LEN], const void *data, size_t len,
                     uint8_t out[CODEC_SHORT_MAC_LEN])
{
	_Static_assert(CODEC_SHORT_MAC_LEN == crypto_shorthash_siphashx24_BYTES, "SipHash-2-4 128-bit output");
	_Static_assert(CODEC_SHORT_MAC_KEY_LEN == crypto_shorthash_siphashx24_KEYBYTES, "SipHash key size");
	crypto_shorthash_siphashx24(out, data, len, key);
}

void codec_file_hash(const void *data, size_t len, uint8_t out[CODEC_ID_LEN])
{
	crypto_generichash(out, CODEC_ID_LEN, data, len, NULL, 0);
}

void codec_file_hash_init(CodecHashState *st)
{
	crypto_generichash_init((crypto_generichash_state *)(void *)st->opaque, NULL, 0, CODEC_ID_LEN);
}

void codec_file_hash_update(CodecHashState *st, const void *data, size_t len)
{
	crypto_generichash_update((crypto_generichash_state *)(void *)st->opaque, data, len);
}

void codec_file_hash_final(CodecHashState *st, uint8_t out[CODEC_ID_LEN])
{
	crypto_generichash_final((crypto_generichash_state *)(void *)st->opaque, out, CODEC_ID_LEN);
}

int codec_name_hash(CodecNameHash alg, const void *data, size_t len, uint8_t out[CODEC_ID_LEN])
{
	unsigned int n = 0;

	if (alg == CODEC_NAME_BLAKE2B) {
		codec_file_hash(data, len, out);
		return 0;
	}
	_Static_assert(CODEC_ID_LEN == 32, "SHA-256 output");
	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != CODEC_ID_LEN)
		return -ENOMEM;
	return 0;
}

void codec_name_init(CodecNameState *st, CodecNameHash alg)
{
	st->alg = alg;
	st->failed = 0;
	if (alg == CODEC_NAME_BLAKE2B) {
		codec_file_hash_init(&st->b2);
		return;
	}
	if (!st->md)
		st->md = EVP_MD_CTX_new();
	if (!st->md || EVP_DigestInit_ex2(st->md, EVP_sha256(), NULL) != 1)
		st->failed = 1;
}

void codec_name_update(CodecNameState *st, const void *data, size_t len)
{
	if (st->failed || len == 0)
		return;
	if (st->alg == CODEC_NAME_BLAKE2B)
		codec_file_hash_update(&st->b2, data, len);
	else if (EVP_DigestUpdate(st->md, data, len) != 1)
		st->failed = 1;
}

int codec_name_final(CodecNameState *st, uint8_t out[CODEC_ID_LEN])
{
	unsigned int n = 0;

	if (st->failed)
		return -ENOMEM;
	if (st->alg == CODEC_NAME_BLAKE2B) {
		codec_file_hash_final(&st->b2, out);
		return 0;
	}
	if (EVP_DigestFinal_ex(st->md, out, &n) != 1 || n != CODEC_ID_LEN)
		return -ENOMEM;
	return 0;
}

void codec_name_release(CodecNameState *st)
{
	EVP_MD_CTX_free(st->md);
	st->md = NULL;
	st->failed = 0;
}

void codec_gear(const CodecKeys *keys, uint64_t gear[256])
{
	/* 2 KiB of XChaCha20 keystream under the gear sub-key and an all-zero
	 * nonce, read as 256 little-endian u64 (FORMAT.md "Chunking"). The
	 * sub-key is used for nothing else, so the fixed nonce is safe. */
	uint8_t stream[256 * 8];
	static const uint8_t zero_nonce[crypto_stream_xchacha20_NONCEBYTES];

	crypto_stream_xchacha20(stream, sizeof stream, zero_nonce, keys->gear_seed);
	for (size_t i = 0; i < 256; i++) {
		uint64_t v = 0;
		for (int b = 7; b >= 0; b--)
			v = (v << 8) | stream[i * 8 + (size_t)b];
		gear[i] = v;
	}
	sodium_memzero(stream, sizeof stream);
}

uint64_t codec_pwhash_default_ops(void)
{
	return crypto_pwhash_OPSLIMIT_INTERACTIVE;
}

uint64_t codec_pwhash_default_mem(void)
{
	return crypto_pwhash_MEMLIMIT_INTERACTIVE;
}

int codec_pwhash(uint8_t *out, size_t out_len, const char *password, size_t password_len,
                 const uint8_t salt[CODEC_SALT_LEN], uint64_t opslimit, uint64_t memlimit)
{
	if (opslimit < crypto_pwhash_OPSLIMIT_MIN || opslimit > crypto_pwhash_OPSLIMIT_MAX ||
	    memlimit < crypto_pwhash_MEMLIMIT_MIN || memlimit > crypto_pwhash_MEMLIMIT_MAX ||
	    memlimit > SIZE_MAX)
		return STRATA_EUSAGE;
	if (crypto_pwhash(out, out_len, password, password_len, salt, opslimit, (size_t)memlimit,
	                  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;
	return 0;
}

CodecCtx *codec_ctx_new(void)
{
	CodecCtx *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->cctx = ZSTD_createCCtx();
	c->dctx = ZSTD_createDCtx();
	c->aead = EVP_CIPHER_CTX_new();   /* NULL is fine: libsodium's path */
	if (!c->cctx || !c->dctx) {
		codec_ctx_free(c);
		return NULL;
	}
	return c;
}

void codec_ctx_free(CodecCtx *ctx)
{
	if (!ctx)
		return;
	ZSTD_freeCCtx(ctx->cctx);
	ZSTD_freeDCtx(ctx->dctx);
	EVP_CIPHER_CTX_free(ctx->aead);   /* cleanses the last sub-key */
	free(ctx->buf);
	free(ctx->clog);
	free(ctx);
}

static int ctx_reserve(CodecCtx *ctx, size_t need)
{
	if (ctx->buf_cap >= need)
		return 0;
	uint8_t *p = realloc(ctx->buf, need);
	if (!p)
		return -ENOMEM;
	ctx->buf = p;
	ctx->buf_cap = need;
	return 0;
}

static void blob_ad(uint8_t ad[BLOB_AD_LEN], uint8_t type, const uint8_t id[CODEC_ID_LEN])
{
	ad[0] = FORMAT_VERSION_BLOB_AD;
	ad[1] = type;
	memcpy(ad + 2, id, CODEC_ID_LEN);
}

/* The level for compression level 0 (auto, codec.h): the default level
 * when the chunk's bytes, sampled, have under CODEC_AUTO_ENTROPY_BITS of
 * entropy each, so that entropy-coding its literals pays; otherwise the
 * fast level, which codes literals raw and finds the same matches. The
 * terms come from ctx->clog where it has them: the same doubles, added in
 * the same order, so the same level. */
static int auto_level(CodecCtx *ctx, const uint8_t *p, size_t len)
{
	uint32_t count[256] = {0};
	size_t step = len / 1024, n = 0;
	double sum = 0;

	if (!ctx->clog && (ctx->clog = malloc(CLOG_MAX * sizeof *ctx->clog)) != NULL)
		for (uint32_t c = 0; c < CLOG_MAX; c++)
			ctx->clog[c] = c ? c * log2((double)c) : 0;

	if (step < 1)
		step = 1;
	if (step > 8)
		step = 8;
	for (size_t i = 0; i < len; i += step, n++)
		count[p[i]]++;
	/* Shannon entropy in bits per byte: log2(n) - sum(c log2 c) / n */
	for (int b = 0; b < 256; b++)
		if (count[b])
			sum += ctx->clog && count[b] < CLOG_MAX ? ctx->clog[count[b]] : count[b] * log2((double)count[b]);
	return log2((double)n) - sum / (double)n < CODEC_AUTO_ENTROPY_BITS ? CODEC_ZSTD_DEFAULT_LEVEL
	                                                                   : CODEC_ZSTD_FAST_LEVEL;
}

/* zstd plain[0..len) at level into ctx->buf + 1, which has room for
 * len - 1 bytes: the compressed size, or len when it does not fit. */
static size_t zstd_into(CodecCtx *ctx, const void *plain, size_t len, int level)
{
	size_t z;

	ZSTD_CCtx_reset(ctx->cctx, ZSTD_reset_session_only);
	ZSTD_CCtx_setParameter(ctx->cctx, ZSTD_c_compressionLevel, level);
	z = ZSTD_compress2(ctx->cctx, ctx->buf + 1, len - 1, plain, len);
	return ZSTD_isError(z) ? len : z;
}

int codec_blob_seal(CodecCtx *ctx, const CodecKeys *keys, uint8_t type,
                    const uint8_t id[CODEC_ID_LEN], const void *plain, size_t len,
                    int level, uint8_t *out, size_t *out_len)
{
	uint8_t ad[BLOB_AD_LEN];
	const uint8_t *msg;
	size_t msg_len;
	int rc;

	/* The scratch buffer holds codec byte + body; the body is raw or
	 * compressed, whichever is smaller (FORMAT.md "Blob"). */
	rc = ctx_reserve(ctx, 1 + (len > ZSTD_compressBound(len) ? len : ZSTD_compressBound(len)));
	if (rc)
		return rc;
	ctx->buf[0] = CODEC_RAW;
	msg_len = 1 + len;
	if (level >= 0 && len >= 64) {
		/* Only a result that saves bytes is kept (capacity len - 1). */
		size_t z = zstd_into(ctx, plain, len, level ? level : auto_level(ctx, plain, len));
		if (z < len - 1) {
			ctx->buf[0] = CODEC_ZSTD;
			msg_len = 1 + z;
		}
	}
	if (ctx->buf[0] == CODEC_RAW)
		memcpy(ctx->buf + 1, plain, len);
	msg = ctx->buf;

	blob_ad(ad, type, id);
	ctx_nonce(ctx, out);
	blob_encrypt(ctx, keys, ad, sizeof ad, msg, msg_len, out);
	*out_len = CODEC_NONCE_LEN + msg_len + CODEC_TAG_LEN;
	return 0;
}

int codec_blob_decrypt(CodecCtx *ctx, const CodecKeys *keys, uint8_t type,
                       const uint8_t id[CODEC_ID_LEN], const uint8_t *blob, size_t blob_len,
                       uint8_t *out, size_t raw_len)
{
	uint8_t ad[BLOB_AD_LEN];
	size_t body_len;
	int rc;

	if (blob_len < CODEC_BLOB_OVERHEAD)
		return STRATA_EFORMAT;
	rc = ctx_reserve(ctx, blob_len);
	if (rc)
		return rc;
	blob_ad(ad, type, id);
	rc = blob_decrypt(ctx, keys, ad, sizeof ad, blob, blob_len, ctx->buf);
	if (rc)
		return rc;
	body_len = blob_len - CODEC_NONCE_LEN - CODEC_TAG_LEN - 1;
	switch (ctx->buf[0]) {
	case CODEC_RAW:
		if (body_len != raw_len)
			return STRATA_EFORMAT;
		memcpy(out, ctx->buf + 1, raw_len);
		break;
	case CODEC_ZSTD: {
		size_t z = ZSTD_decompressDCtx(ctx->dctx, out, raw_len, ctx->buf + 1, body_len);
		if (ZSTD_isError(z) || z != raw_len)
			return STRATA_EFORMAT;
		break;
	}
	default:
		return STRATA_EFORMAT;
	}
	return 0;
}

int codec_blob_open(CodecCtx *ctx, const CodecKeys *keys, uint8_t type,
                    const uint8_t id[CODEC_ID_LEN], const uint8_t *blob, size_t blob_len,
                    uint8_t *out, size_t raw_len)
{
	uint8_t check[CODEC_ID_LEN];
	int rc = codec_blob_decrypt(ctx, keys, type, id, blob, blob_len, out, raw_len);

	if (rc)
		return rc;
	codec_chunk_id(keys, out, raw_len, check);
	if (sodium_memcmp(check, id, CODEC_ID_LEN) != 0)
		return STRATA_EDAMAGED;
	return 0;
}

int codec_seal_with(const uint8_t key[CODEC_KEY_LEN], const uint8_t *ad, size_t ad_len,
                    const void *plain, size_t len, uint8_t **out, size_t *out_len)
{
	size_t total = CODEC_NONCE_LEN + len + CODEC_TAG_LEN;
	unsigned long long ct_len;
	uint8_t *buf = malloc(total);

	if (!buf)
		return -ENOMEM;
	randombytes_buf(buf, CODEC_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + CODEC_NONCE_LEN, &ct_len, plain, len,
	                                           ad, ad_len, NULL, buf, key);
	*out = buf;
	*out_len = CODEC_NONCE_LEN + (size_t)ct_len;
	return 0;
}

int codec_open_with(const uint8_t key[CODEC_KEY_LEN], const uint8_t *ad, size_t ad_len,
                    const uint8_t *sealed, size_t sealed_len, uint8_t **out, size_t *out_len)
{
	unsigned long long len;
	uint8_t *buf;

	if (sealed_len < CODEC_NONCE_LEN + CODEC_TAG_LEN)
		return STRATA_EFORMAT;
	/* +1 so that an empty plaintext still gets a non-NULL buffer. */
	buf = malloc(sealed_len - CODEC_NONCE_LEN - CODEC_TAG_LEN + 1);
	if (!buf)
		return -ENOMEM;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(buf, &len, NULL, sealed + CODEC_NONCE_LEN,
	        sealed_len - CODEC_NONCE_LEN, ad, ad_len, sealed, key) != 0) {
		free(buf);
		return STRATA_EAUTH;
	}
	*out = buf;
	*out_len = (size_t)len;
	return 0;
}

int codec_seal(const CodecKeys *keys, const uint8_t *ad, size_t ad_len,
               const void *plain, size_t len, uint8_t **out, size_t *out_len)
{
	return codec_seal_with(keys->enc_key, ad, ad_len, plain, len, out, out_len);
}

int codec_open(const CodecKeys *keys, const uint8_t *ad, size_t ad_len,
               const uint8_t *sealed, size_t sealed_len, uint8_t **out, size_t *out_len)
{
	return codec_open_with(keys->enc_key, ad, ad_len, sealed, sealed_len, out, out_len);
}

int codec_compress(const void *src, size_t len, int level, uint8_t **out, size_t *out_len)
{
	size_t cap = ZSTD_compressBound(len);
	uint8_t *buf = malloc(cap ? cap : 1);
	size_t z;

	if (!buf)
		return -ENOMEM;
	z = ZSTD_compress(buf, cap, src, len, level);
	if (ZSTD_isError(z)) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	*out_len = z;
	return 0;
}

int codec_decompress(const void *src, size_t len, size_t max_len, uint8_t **out, size_t *out_len)
{
	unsigned long long size = ZSTD_getFrameContentSize(src, len);
	uint8_t *buf;
	size_t z;

	/* Frames strata writes always carry their content size. */
	if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > max_len)
		return STRATA_EFORMAT;
	buf = malloc(size ? (size_t)size : 1);
	if (!buf)
		return -ENOMEM;
	z = ZSTD_decompress(buf, (size_t)size, src, len);
	if (ZSTD_isError(z) || z != size) {
		free(buf);
		return STRATA_EFORMAT;
	}
	*out = buf;
	*out_len = z;
	return 0;
}

void codec_hex(const uint8_t *bin, size_t len, char *out)
{
	sodium_bin2hex(out, 2 * len + 1, bin, len);
}

int codec_unhex(const char *hex, uint8_t *out, size_t out_len)
{
	size_t got = 0;
	const char *end = NULL;

	if (strlen(hex) != 2 * out_len)
		return STRATA_EFORMAT;
	if (sodium_hex2bin(out, out_len, hex, 2 * out_len, NULL, &got, &end) != 0 || got != out_len)
		return STRATA_EFORMAT;
	return 0;
}

char *codec_b64(const uint8_t *bin, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(n);

	if (s)
		sodium_bin2base64(s, n, bin, len, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

int codec_unb64(const char *b64, uint8_t *out, size_t out_max, size_t *out_len)
{
	if (sodium_base642bin(out, out_max, b64, strlen(b64), NULL, out_len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0)
		return STRATA_EFORMAT;
	return 0;
}
