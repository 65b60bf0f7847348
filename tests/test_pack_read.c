/* test_pack_read.c — unit tests for store/pack_read.c, the one reader of
 * stored packs (FORMAT.md §9): a pack stored in a repository reads back
 * through its trailer, its ranges and its whole bytes, every blob opens to
 * its plaintext (with and without the ID re-check); a flipped byte, a cut
 * pack, a missing pack and a pack over the caller's bound come back as the
 * codes pack_read_damage classifies, and the trailer's errors name the
 * pack. */
#include "store/format.h"
#include "store/pack.h"
#include "store/pack_read.h"
#include "store/repo_internal.h"
#include "tests/check.h"
#include "tests/test_repo.h"
#include "tests/test_tmp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBLOBS 5

static Repo *repo;
static CodecCtx *ctx;
static uint8_t plain[NBLOBS][3000];
static size_t plain_len[NBLOBS];
static uint8_t ids[NBLOBS][STRATA_ID_LEN];
static uint8_t pack_id[STRATA_ID_LEN];
static uint8_t *pack_bytes;
static size_t pack_len;

static void put_pack(const char *name, const void *p, size_t len)
{
	RemoteErr rerr = {{0}};

	if (backend_put(repo->be, name, p, len, &rerr) != 0)
		exit(2);
}

/* A data pack of NBLOBS blobs, stored under its name. */
static int make_pack(void)
{
	PackBuilder pb;
	char name[REPO_NAME_MAX];
	uint32_t x = 7;

	pack_builder_init(&pb, repo->name_hash);
	for (size_t i = 0; i < NBLOBS; i++) {
		uint8_t *dst;
		size_t sealed_len = 0;
		plain_len[i] = 100 + i * 500;
		for (size_t j = 0; j < plain_len[i]; j++) {
			x = x * 1103515245u + 12345u;
			plain[i][j] = i % 2 ? (uint8_t)(x >> 24) : (uint8_t)('a' + j % 5);
		}
		codec_chunk_id(repo->keys, plain[i], plain_len[i], ids[i]);
		if (pack_builder_reserve(&pb, plain_len[i] + CODEC_BLOB_OVERHEAD, &dst) != 0 ||
		    codec_blob_seal(ctx, repo->keys, BLOB_DATA, ids[i], plain[i], plain_len[i], 3, dst, &sealed_len) != 0 ||
		    pack_builder_commit(&pb, BLOB_DATA, ids[i], sealed_len, (uint32_t)plain_len[i]) != 0)
			return -1;
	}
	if (pack_builder_finish(&pb, repo->keys, pack_id) != 0)
		return -1;
	pack_len = pb.len;
	pack_bytes = malloc(pack_len);
	if (!pack_bytes)
		return -1;
	memcpy(pack_bytes, pb.buf, pack_len);
	pack_builder_free(&pb);
	repo_pack_name(PACK_KIND_DATA, pack_id, name);
	put_pack(name, pack_bytes, pack_len);
	return 0;
}

static void test_trailer_and_blobs(void)
{
	PackEntry *e = NULL;
	size_t n = 0;
	uint64_t size = 0;
	StrataErr err = {0};
	uint8_t sealed[4000], out[3000];

	REQUIRE(pack_read_trailer(repo, PACK_KIND_DATA, pack_id, &e, &n, &size, &err) == 0);
	CHECK_EQ_INT(size, pack_len);
	REQUIRE(n == NBLOBS);
	for (size_t i = 0; i < n; i++) {
		CHECK(memcmp(e[i].id, ids[i], STRATA_ID_LEN) == 0);
		CHECK_EQ_INT(e[i].raw_len, plain_len[i]);
		REQUIRE(e[i].length <= sizeof sealed);
		REQUIRE(pack_read_range(repo, PACK_KIND_DATA, pack_id, e[i].offset, e[i].length, sealed, &err) == 0);
		CHECK(memcmp(sealed, pack_bytes + e[i].offset, e[i].length) == 0);
		memset(out, 0, sizeof out);
		CHECK_EQ_INT(pack_read_open(ctx, repo, BLOB_DATA, ids[i], sealed, e[i].length, out, e[i].raw_len, 1), 0);
		CHECK(memcmp(out, plain[i], plain_len[i]) == 0);
		memset(out, 0, sizeof out);
		CHECK_EQ_INT(pack_read_open(ctx, repo, BLOB_DATA, ids[i], sealed, e[i].length, out, e[i].raw_len, 0), 0);
		CHECK(memcmp(out, plain[i], plain_len[i]) == 0);
	}
	/* a flipped byte fails authentication; a wrong type or ID too */
	REQUIRE(pack_read_range(repo, PACK_KIND_DATA, pack_id, e[1].offset, e[1].length, sealed, &err) == 0);
	CHECK_EQ_INT(pack_read_open(ctx, repo, BLOB_TREE, ids[1], sealed, e[1].length, out, e[1].raw_len, 1),
	             STRATA_EAUTH);
	CHECK_EQ_INT(pack_read_open(ctx, repo, BLOB_DATA, ids[2], sealed, e[1].length, out, e[1].raw_len, 1),
	             STRATA_EAUTH);
	sealed[e[1].length / 2] ^= 0x40;
	CHECK_EQ_INT(pack_read_open(ctx, repo, BLOB_DATA, ids[1], sealed, e[1].length, out, e[1].raw_len, 1),
	             STRATA_EAUTH);
	CHECK_EQ_INT(pack_read_damage(STRATA_EAUTH), PACK_DAMAGE_AUTH);
	/* authentic, but a raw length other than the one sealed */
	sealed[e[1].length / 2] ^= 0x40;
	CHECK_EQ_INT(pack_read_open(ctx, repo, BLOB_DATA, ids[1], sealed, e[1].length, out, e[1].raw_len - 1, 1),
	             STRATA_EFORMAT);
	CHECK_EQ_INT(pack_read_damage(STRATA_EFORMAT), PACK_DAMAGE_DECODE);
	free(e);
}

static void test_whole(void)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	StrataErr err = {0};

	REQUIRE(pack_read_whole(repo, PACK_KIND_DATA, pack_id, pack_len, &buf, &len, &err) == 0);
	CHECK(len == pack_len && memcmp(buf, pack_bytes, len) == 0);
	free(buf);
	buf = NULL;
	/* over the caller's bound: nothing read */
	CHECK_EQ_INT(pack_read_whole(repo, PACK_KIND_DATA, pack_id, pack_len - 1, &buf, &len, &err), -EFBIG);
	CHECK(buf == NULL);
	CHECK_EQ_INT(pack_read_damage(-EFBIG), PACK_READ_FAILED);
}

static void test_missing_and_short(void)
{
	uint8_t other[STRATA_ID_LEN], b[16];
	char hex[STRATA_ID_HEX_LEN + 1], want[STRATA_ERRMSG_LEN];
	PackEntry *e = NULL;
	size_t n = 0;
	uint64_t size = 0;
	StrataErr err = {0};
	uint8_t *buf = NULL;
	size_t len = 0;

	memset(other, 0xab, sizeof other);
	CHECK_EQ_INT(pack_read_range(repo, PACK_KIND_DATA, other, 0, sizeof b, b, &err), -ENOENT);
	CHECK_EQ_INT(pack_read_damage(-ENOENT), PACK_DAMAGE_MISSING);
	CHECK_EQ_INT(pack_read_whole(repo, PACK_KIND_TREE, other, 1 << 20, &buf, &len, &err), -ENOENT);
	CHECK_EQ_INT(pack_read_trailer(repo, PACK_KIND_DATA, other, &e, &n, &size, &err), -ENOENT);
	/* the range past the end */
	CHECK_EQ_INT(pack_read_range(repo, PACK_KIND_DATA, pack_id, pack_len - 4, sizeof b, b, &err), -ERANGE);
	CHECK_EQ_INT(pack_read_damage(-ERANGE), PACK_DAMAGE_SHORT);
	/* a tree pack of 5 bytes, and one whose footer is damaged */
	codec_hex(other, STRATA_ID_LEN, hex);
	snprintf(want, sizeof want, "tree/ab/%s", hex);
	put_pack(want, "short", 5);
	CHECK_EQ_INT(pack_read_trailer(repo, PACK_KIND_TREE, other, &e, &n, &size, &err), STRATA_EFORMAT);
	snprintf(want, sizeof want, "pack tree/ab/%s: 5 bytes is too short to be a pack", hex);
	CHECK_STR(err.msg, want);
	snprintf(want, sizeof want, "tree/ab/%s", hex);
	put_pack(want, "0123456789abcdefSTRATAPX", 24);
	CHECK_EQ_INT(pack_read_trailer(repo, PACK_KIND_TREE, other, &e, &n, &size, &err), STRATA_EFORMAT);
	snprintf(want, sizeof want, "pack tree/ab/%s: footer is damaged", hex);
	CHECK_STR(err.msg, want);
	CHECK_EQ_INT(pack_read_damage(0), PACK_READ_OK);
	CHECK_EQ_INT(pack_read_damage(-EIO), PACK_READ_FAILED);
	CHECK_EQ_INT(pack_read_damage(STRATA_EDAMAGED), PACK_DAMAGE_HASH);
}

/* A trailer that fails authentication: the pack's last bytes before the
 * footer flipped. */
static void test_trailer_damaged(void)
{
	char name[REPO_NAME_MAX], want[STRATA_ERRMSG_LEN];
	uint8_t *copy = malloc(pack_len), id[STRATA_ID_LEN];
	PackEntry *e = NULL;
	size_t n = 0;
	uint64_t size = 0;
	StrataErr err = {0};

	REQUIRE(copy);
	memcpy(copy, pack_bytes, pack_len);
	copy[pack_len - PACK_FOOTER_LEN - 1] ^= 1;
	memset(id, 0xcd, sizeof id);
	repo_pack_name(PACK_KIND_DATA, id, name);
	put_pack(name, copy, pack_len);
	CHECK_EQ_INT(pack_read_trailer(repo, PACK_KIND_DATA, id, &e, &n, &size, &err), STRATA_EAUTH);
	snprintf(want, sizeof want, "pack %s: trailer fails authentication", name);
	CHECK_STR(err.msg, want);
	free(copy);
}

int main(void)
{
	char dir[] = "/tmp/strata-test-pack-read-XXXXXX";

	if (!mkdtemp(dir) || test_repo_create(dir, &repo) != 0 || !(ctx = codec_ctx_new()) || make_pack() != 0)
		return 2;
	RUN(test_trailer_and_blobs);
	RUN(test_whole);
	RUN(test_missing_and_short);
	RUN(test_trailer_damaged);
	free(pack_bytes);
	codec_ctx_free(ctx);
	repo_close(repo);
	rm_rf(dir);
	return CHECK_EXIT();
}
