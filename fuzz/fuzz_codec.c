/* fuzz_codec.c — the object codec (store/codec.c, FORMAT.md §8 "Blob")
 * under the fixed fuzz key. The first byte picks a mode:
 *
 *   0  MODE TYPE RAWLEN(u32) ID(32) || bytes: the bytes as a stored blob.
 *      Without the key nothing authenticates: codec_blob_open must fail
 *      (STRATA_EAUTH or STRATA_EFORMAT), never succeed or crash.
 *   1  MODE TYPE RAWLEN(u32) ID(32) || message: the message sealed as an
 *      authentic blob (what a key holder or a writer bug could store), so
 *      the codec byte and the zstd body are hostile. Must not crash or
 *      fail authentication; may only succeed if the plaintext hashes to ID.
 *   2  MODE TYPE LEVEL || plaintext: seal at a zstd level, open to the same
 *      bytes; then one flipped bit must fail authentication.
 *   3  MODE || bytes: codec_open of a sealed file (must fail), bounded
 *      codec_decompress, and the hex and base64 decoders.
 * RAWLEN is taken modulo 1 MiB (a blob's raw length comes from the index).
 */
#include "fuzz/fuzz.h"

#define HDR (1 + 1 + 4 + CODEC_ID_LEN)
#define MAX_RAW (1u << 20)

static CodecCtx *ctx(void)
{
	static CodecCtx *c;

	if (!c)
		c = codec_ctx_new();
	FUZZ_ASSERT(c != NULL);
	return c;
}

static void open_stored(const uint8_t *data, size_t size, int authentic)
{
	const CodecKeys *k = fuzz_keys();
	uint8_t type = data[1], ad[2 + CODEC_ID_LEN], *sealed = NULL, *out;
	uint32_t raw_len = fuzz_le32(data + 2) % MAX_RAW;
	const uint8_t *id = data + 6, *blob = data + HDR;
	size_t blob_len = size - HDR;
	int rc;

	if (authentic) {
		/* FORMAT.md §8: AD = 0x01 || TYPE || CHUNK_ID; a blob is a
		 * sealed file of that AD without a header. */
		ad[0] = 1;
		ad[1] = type;
		memcpy(ad + 2, id, CODEC_ID_LEN);
		FUZZ_ASSERT(codec_seal_with(k->enc_key, ad, sizeof ad, blob, blob_len, &sealed, &blob_len) == 0);
		blob = sealed;
	}
	out = malloc(raw_len ? raw_len : 1);
	FUZZ_ASSERT(out);
	rc = codec_blob_open(ctx(), k, type, id, blob, blob_len, out, raw_len);
	if (!authentic) {
		FUZZ_ASSERT(rc == STRATA_EAUTH || rc == STRATA_EFORMAT);
	} else if (rc == 0) {
		uint8_t check[CODEC_ID_LEN];
		codec_chunk_id(k, out, raw_len, check);
		FUZZ_ASSERT(memcmp(check, id, CODEC_ID_LEN) == 0);
	} else {
		FUZZ_ASSERT(rc == STRATA_EFORMAT || rc == STRATA_EDAMAGED);
	}
	free(out);
	free(sealed);
}

static void round_trip(const uint8_t *data, size_t size)
{
	const CodecKeys *k = fuzz_keys();
	uint8_t type = data[1] % (BLOB_TYPE_MAX + 1), id[CODEC_ID_LEN], *blob, *out;
	int level = data[2] % 11 - 1;
	const uint8_t *plain = data + 3;
	size_t len = size - 3, blob_len = 0, bit = 0;

	blob = malloc(len + CODEC_BLOB_OVERHEAD);
	out = malloc(len ? len : 1);
	FUZZ_ASSERT(blob && out);
	codec_chunk_id(k, plain, len, id);
	FUZZ_ASSERT(codec_blob_seal(ctx(), k, type, id, plain, len, level, blob, &blob_len) == 0);
	FUZZ_ASSERT(blob_len <= len + CODEC_BLOB_OVERHEAD && blob_len >= CODEC_BLOB_OVERHEAD);
	FUZZ_ASSERT(codec_blob_open(ctx(), k, type, id, blob, blob_len, out, len) == 0);
	FUZZ_ASSERT(len == 0 || memcmp(out, plain, len) == 0);
	for (size_t i = 0; i < len; i++)
		bit += plain[i];
	bit %= blob_len * 8;
	blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	FUZZ_ASSERT(codec_blob_open(ctx(), k, type, id, blob, blob_len, out, len) == STRATA_EAUTH);
	free(blob);
	free(out);
}

static void misc(const uint8_t *data, size_t size)
{
	uint8_t *out = NULL, bin[2048];
	size_t out_len = 0;
	char text[4097], hex[4097];
	int rc;

	rc = codec_open(fuzz_keys(), NULL, 0, data, size, &out, &out_len);
	FUZZ_ASSERT(rc == STRATA_EAUTH || rc == STRATA_EFORMAT);
	rc = codec_decompress(data, size, MAX_RAW, &out, &out_len);
	if (rc == 0) {
		FUZZ_ASSERT(out_len <= MAX_RAW);
		free(out);
	} else {
		FUZZ_ASSERT(rc == STRATA_EFORMAT);
	}
	if (size >= sizeof text)
		size = sizeof text - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	if (codec_unhex(text, bin, strlen(text) / 2) == 0) {
		/* Accepted hex re-encodes to its lower-case self. */
		codec_hex(bin, strlen(text) / 2, hex);
		for (size_t i = 0; text[i]; i++)
			FUZZ_ASSERT(hex[i] == (text[i] >= 'A' && text[i] <= 'F' ? text[i] + 32 : text[i]));
	}
	if (codec_unb64(text, bin, sizeof bin, &out_len) == 0)
		FUZZ_ASSERT(out_len <= sizeof bin && out_len <= strlen(text));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
	case 1:
		if (size >= HDR)
			open_stored(data, size, data[0] % 4 == 1);
		break;
	case 2:
		if (size >= 3)
			round_trip(data, size);
		break;
	default:
		misc(data + 1, size - 1);
		break;
	}
	return 0;
}
