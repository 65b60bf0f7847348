/* test_indexfile.c — unit tests for store/indexfile.c: indexfile_decode on
 * bytes built by hand per the layout indexfile.c writes, its rejection
 * cases, and indexfile_write/indexfile_read through a real repository in
 * a temporary directory.
 *
 * Index file plaintext (FORMAT.md "Index file", before zstd and sealing):
 *   VERSION(1) || NPACKS(u32 LE) || NPACKS x pack
 *   pack  = ID(32) || KIND(1) || SIZE(u64 LE) || NENTRIES(u32 LE) || NENTRIES x entry
 *   entry = TYPE(1) || ID(32) || OFFSET(u32 LE) || LENGTH(u32 LE) || RAW(u32 LE)
 */
#include "store/blob.h"
#include "store/codec.h"
#include "store/format.h"
#include "store/index.h"
#include "store/indexfile.h"
#include "store/pack_read.h"
#include "store/repo.h"
#include "store/repo_internal.h"
#include "tests/check.h"
#include "tests/test_tmp.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct Enc { uint8_t b[8192]; size_t n; } Enc;

static void e_u8(Enc *e, uint8_t v) { e->b[e->n++] = v; }

static void e_u32(Enc *e, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		e_u8(e, (uint8_t)(v >> (8 * i)));
}

static void e_fill(Enc *e, uint8_t fill, size_t n)
{
	memset(e->b + e->n, fill, n);
	e->n += n;
}

static void e_start(Enc *e, uint32_t npacks)
{
	e->n = 0;
	e_u8(e, FORMAT_VERSION_INDEX);
	e_u32(e, npacks);
}

static void e_pack(Enc *e, uint8_t fill, uint8_t kind, uint64_t size, uint32_t nentries)
{
	e_fill(e, fill, CODEC_ID_LEN);
	e_u8(e, kind);
	e_u32(e, (uint32_t)size);
	e_u32(e, (uint32_t)(size >> 32));
	e_u32(e, nentries);
}

static void e_entry(Enc *e, uint8_t type, uint8_t fill, uint32_t off, uint32_t len, uint32_t raw)
{
	e_u8(e, type);
	e_fill(e, fill, CODEC_ID_LEN);
	e_u32(e, off);
	e_u32(e, len);
	e_u32(e, raw);
}

/* Two packs: a data pack of two blobs and a tree pack above 4 GiB (its
 * size needs the high word) holding a tree and a tree part. */
static void e_valid(Enc *e)
{
	e_start(e, 2);
	e_pack(e, 0xa1, 0, 1000, 2);
	e_entry(e, BLOB_DATA, 0x01, 0, 100, 59);
	e_entry(e, BLOB_DATA, 0x02, 100, 900, 5000);
	e_pack(e, 0xa2, 1, (UINT64_C(1) << 32) + 77, 2);
	e_entry(e, BLOB_TREE, 0x03, 0, 41, 0);
	e_entry(e, BLOB_TREEPART, 0x04, 0xfffffff0u, 0x40, 0x30);
}

static int decode(const Enc *e)
{
	IndexFilePack *packs = NULL;
	size_t n = 0;
	int rc = indexfile_decode(e->b, e->n, &packs, &n);

	indexfile_packs_free(packs, n);
	return rc;
}

static void test_decode_valid(void)
{
	Enc e;
	IndexFilePack *p = NULL;
	size_t n = 0;

	e_valid(&e);
	REQUIRE(indexfile_decode(e.b, e.n, &p, &n) == 0);
	REQUIRE(n == 2);
	CHECK(p[0].id[0] == 0xa1 && p[0].id[31] == 0xa1);
	CHECK_EQ_INT(p[0].kind, 0);
	CHECK_EQ_INT(p[0].size, 1000);
	REQUIRE(p[0].n == 2);
	CHECK_EQ_INT(p[0].entries[1].type, BLOB_DATA);
	CHECK(p[0].entries[1].id[0] == 0x02);
	CHECK_EQ_INT(p[0].entries[1].offset, 100);
	CHECK_EQ_INT(p[0].entries[1].length, 900);
	CHECK_EQ_INT(p[0].entries[1].raw_len, 5000);
	CHECK_EQ_INT(p[1].kind, 1);
	CHECK(p[1].size == (UINT64_C(1) << 32) + 77);
	REQUIRE(p[1].n == 2);
	CHECK_EQ_INT(p[1].entries[0].type, BLOB_TREE);
	CHECK_EQ_INT(p[1].entries[1].type, BLOB_TREEPART);
	CHECK_EQ_INT(p[1].entries[1].offset, 0xfffffff0u);
	CHECK_EQ_INT(p[1].entries[1].raw_len, 0x30);
	indexfile_packs_free(p, n);
	indexfile_packs_free(NULL, 0);

	e_start(&e, 0);                                  /* no packs */
	CHECK_EQ_INT(decode(&e), 0);
	e_start(&e, 1);                                  /* a pack with no entries */
	e_pack(&e, 1, 0, 0, 0);
	CHECK_EQ_INT(decode(&e), 0);
}

static void test_rejects_version_and_truncation(void)
{
	Enc e;
	size_t full;
	int bad = 0;

	e_valid(&e);
	full = e.n;
	for (size_t l = 0; l < full; l++) {
		e.n = l;
		if (decode(&e) != STRATA_EFORMAT) {
			printf("  prefix %zu accepted\n", l);
			bad++;
		}
	}
	CHECK_EQ_INT(bad, 0);
	e.n = full;
	e_u8(&e, 0);                                     /* trailing byte */
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e.n = full;
	CHECK_EQ_INT(decode(&e), 0);
	e.b[0] = FORMAT_VERSION_INDEX + 1;
	CHECK_EQ_INT(decode(&e), STRATA_EVERSION);
	e.b[0] = 0xff;
	CHECK_EQ_INT(decode(&e), STRATA_EVERSION);
	e.b[0] = 0;
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
}

/* Counts the bytes cannot back fail before any large allocation (under
 * ASan a huge malloc would abort the test). */
static void test_rejects_huge_counts(void)
{
	Enc e;

	e_start(&e, 0xffffffffu);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 0xffffffffu);
	e_pack(&e, 1, 0, 100, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 2);                                  /* one pack short */
	e_pack(&e, 1, 0, 100, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);
	e_pack(&e, 1, 0, 100, 0xffffffffu);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);                                  /* one entry short */
	e_pack(&e, 1, 0, 1000, 2);
	e_entry(&e, BLOB_DATA, 1, 0, 100, 100);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);                                  /* a pack the count leaves out */
	e_pack(&e, 1, 0, 1000, 2);
	e_entry(&e, BLOB_DATA, 1, 0, 100, 100);
	e_entry(&e, BLOB_DATA, 2, 100, 100, 100);
	e_pack(&e, 2, 0, 1000, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
}

static void test_rejects_bad_fields(void)
{
	Enc e;

	e_start(&e, 1);                                  /* unknown pack kind */
	e_pack(&e, 1, 2, 1000, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);                                  /* unknown blob type */
	e_pack(&e, 1, 1, 1000, 1);
	e_entry(&e, BLOB_TYPE_MAX + 1, 1, 0, 100, 100);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);                                  /* tree blob in a data pack */
	e_pack(&e, 1, 0, 1000, 1);
	e_entry(&e, BLOB_TREE, 1, 0, 100, 100);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);                                  /* data blob in a tree pack */
	e_pack(&e, 1, 1, 1000, 1);
	e_entry(&e, BLOB_DATA, 1, 0, 100, 100);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);                                  /* blob ends past the pack */
	e_pack(&e, 1, 0, 1000, 1);
	e_entry(&e, BLOB_DATA, 1, 901, 100, 100);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);                                  /* ... exactly at the end is fine */
	e_pack(&e, 1, 0, 1000, 1);
	e_entry(&e, BLOB_DATA, 1, 900, 100, 100);
	CHECK_EQ_INT(decode(&e), 0);
	e_start(&e, 1);                                  /* 32-bit offset + length wrap */
	e_pack(&e, 1, 0, 1000, 1);
	e_entry(&e, BLOB_DATA, 1, 0xffffffffu, 0xffffffffu, 100);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);                                  /* shorter than any sealed blob */
	e_pack(&e, 1, 0, 1000, 1);
	e_entry(&e, BLOB_DATA, 1, 0, CODEC_BLOB_OVERHEAD - 1, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
}

/* ---- through a repository ---- */

static char tmp_dir[] = "/tmp/strata-test-indexfile.XXXXXX";

static int same_packs(const IndexFilePack *a, const IndexFilePack *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (memcmp(a[i].id, b[i].id, CODEC_ID_LEN) != 0 || a[i].kind != b[i].kind ||
		    a[i].size != b[i].size || a[i].n != b[i].n)
			return 0;
		for (size_t j = 0; j < a[i].n; j++) {
			const PackEntry *x = &a[i].entries[j], *y = &b[i].entries[j];
			if (x->type != y->type || memcmp(x->id, y->id, CODEC_ID_LEN) != 0 ||
			    x->offset != y->offset || x->length != y->length || x->raw_len != y->raw_len)
				return 0;
		}
	}
	return 1;
}

static void test_write_read_repository(void)
{
	char repo_dir[256], cache[256], path[512], hex[STRATA_ID_HEX_LEN + 1];
	RepoParams params = {0};
	StrataErr err = {0};
	Repo *repo = NULL;
	PackEntry e0[2], e1[1];
	IndexFilePack in[2], *out = NULL;
	uint8_t id[CODEC_ID_LEN];
	size_t n = 0;
	FILE *f;
	int c;

	snprintf(repo_dir, sizeof repo_dir, "%s/repo", tmp_dir);
	snprintf(cache, sizeof cache, "%s/cache", tmp_dir);
	params.kdf_opslimit = 1;
	params.kdf_memlimit = 8192;
	REQUIRE(repo_init(repo_dir, "pw", 2, &params, NULL, &err) == 0);
	REQUIRE(repo_open(repo_dir, "pw", 2, cache, &repo, &err) == 0);
	memset(in, 0, sizeof in);
	memset(e0, 0, sizeof e0);
	memset(e1, 0, sizeof e1);
	e0[0] = (PackEntry){.type = BLOB_DATA, .offset = 0, .length = 50, .raw_len = 20};
	e0[1] = (PackEntry){.type = BLOB_DATA, .offset = 50, .length = 60, .raw_len = 70};
	memset(e0[0].id, 5, CODEC_ID_LEN);
	memset(e0[1].id, 6, CODEC_ID_LEN);
	e1[0] = (PackEntry){.type = BLOB_TREE, .offset = 0, .length = 45, .raw_len = 4};
	memset(e1[0].id, 7, CODEC_ID_LEN);
	memset(in[0].id, 0xaa, CODEC_ID_LEN);
	in[0].kind = 0;
	in[0].size = 500;
	in[0].entries = e0;
	in[0].n = 2;
	memset(in[1].id, 0xbb, CODEC_ID_LEN);
	in[1].kind = 1;
	in[1].size = (UINT64_C(1) << 33) + 1;
	in[1].entries = e1;
	in[1].n = 1;
	REQUIRE(indexfile_write(repo, in, 2, id, &err) == 0);
	CHECK_EQ_INT(indexfile_read(repo, id, &out, &n, &err), 0);
	CHECK_EQ_INT(n, 2);
	CHECK(n == 2 && same_packs(in, out, 2));
	indexfile_packs_free(out, n);
	out = NULL;

	/* A stored file whose bytes no longer match its name. */
	codec_hex(id, CODEC_ID_LEN, hex);
	snprintf(path, sizeof path, "%s/index/%s", repo_dir, hex);
	f = fopen(path, "r+b");
	REQUIRE(f);
	fseek(f, 40, SEEK_SET);
	c = fgetc(f);   /* flip it: writing 0 changed nothing when it was 0 (1 run in 256) */
	REQUIRE(c != EOF);
	fseek(f, 40, SEEK_SET);
	fputc(c ^ 0xff, f);
	fclose(f);
	CHECK_EQ_INT(indexfile_read(repo, id, &out, &n, &err), STRATA_EDAMAGED);
	CHECK(strstr(err.msg, hex) != NULL);
	id[0] ^= 1;
	CHECK_EQ_INT(indexfile_read(repo, id, &out, &n, &err), STRATA_ENOTFOUND);
	CHECK(out == NULL);
	repo_close(repo);
}

static int on_list(const uint8_t pack[CODEC_ID_LEN], const IndexPackInfo *info, void *ctx)
{
	uint8_t (*first)[CODEC_ID_LEN] = ctx;

	(void)info;
	memcpy(*first, pack, CODEC_ID_LEN);
	return 1;
}

/* A backup stopped inside index_add_pack leaves a stored pack marked
 * unindexed with only some of its entries in the local index (the pack
 * commits with the first batch). The next sync writes its index file from
 * the trailer and puts every entry back, so its chunks deduplicate. */
static void test_unindexed_pack_completed(void)
{
	char dir[256], cache[256];
	RepoParams params = { .chunk_min = 1024, .chunk_avg = 4096, .chunk_max = 16384,
	                      .pack_size = 128 << 10, .kdf_opslimit = 1, .kdf_memlimit = 8192 };
	uint8_t pack[CODEC_ID_LEN], (*ids)[CODEC_ID_LEN] = NULL, (*files)[CODEC_ID_LEN] = NULL;
	uint8_t buf[4096];
	PackEntry *e = NULL;
	size_t n = 0, nids = 0, nfiles = 0, nfiles0 = 0;
	uint64_t size = 0;
	CodecCtx *ctx = codec_ctx_new();
	BlobWriter *bw = NULL;
	StrataErr err = {0};
	Repo *repo = NULL;
	Index *ix = NULL;

	REQUIRE(ctx);
	snprintf(dir, sizeof dir, "%s/partial", tmp_dir);
	snprintf(cache, sizeof cache, "%s/partial-cache", tmp_dir);
	REQUIRE(repo_init(dir, "pw", 2, &params, NULL, &err) == 0);
	REQUIRE(repo_open(dir, "pw", 2, cache, &repo, &err) == 0);
	REQUIRE(blobwriter_new(repo, 0, &bw, &err) == 0);
	for (uint32_t i = 0; i < 60; i++) {
		uint8_t id[CODEC_ID_LEN];
		codec_random(buf, sizeof buf);
		codec_chunk_id(repo->keys, buf, sizeof buf, id);
		REQUIRE(blobwriter_put(bw, ctx, BLOB_DATA, id, buf, sizeof buf, NULL, &err) == 0);
	}
	/* Stopped before finish: the closed packs are stored and unindexed. */
	blobwriter_free(bw);
	REQUIRE(repo_index(repo, &ix, &err) == 0);
	REQUIRE(index_list_indexfiles(ix, &files, &nfiles0, &err) == 0);
	free(files);
	memset(pack, 0, sizeof pack);
	REQUIRE(index_foreach_pack(ix, on_list, pack, &err) == 1);   /* stopped at the first */
	REQUIRE(pack_read_trailer(repo, 0, pack, &e, &n, &size, &err) == 0);
	REQUIRE(n > 20);
	/* As if stopped after the first batch: the pack, its mark, 7 entries. */
	REQUIRE(index_remove_pack(ix, pack, &err) == 0);
	REQUIRE(index_add_pack(ix, pack, 0, size, e, 7, 1, &err) == 0);
	CHECK(index_lookup(ix, BLOB_DATA, e[7].id, NULL) == STRATA_ENOTFOUND);
	repo_close(repo);

	REQUIRE(repo_open(dir, "pw", 2, cache, &repo, &err) == 0);
	REQUIRE(repo_index(repo, &ix, &err) == 0);
	for (size_t i = 0; i < n; i++) {
		IndexEntry got;
		REQUIRE(index_lookup(ix, BLOB_DATA, e[i].id, &got) == 0);
		CHECK(memcmp(got.pack, pack, CODEC_ID_LEN) == 0);
		CHECK_EQ_INT(got.offset, e[i].offset);
		CHECK_EQ_INT(got.length, e[i].length);
	}
	REQUIRE(index_list_unindexed(ix, &ids, &nids, &err) == 0);
	CHECK_EQ_INT(nids, 0);
	REQUIRE(index_list_indexfiles(ix, &files, &nfiles, &err) == 0);
	CHECK_EQ_INT(nfiles, nfiles0 + 1);   /* one index file covering them */
	free(files);
	free(ids);
	free(e);
	repo_close(repo);
	codec_ctx_free(ctx);
}

int main(void)
{
	RUN(test_decode_valid);
	RUN(test_rejects_version_and_truncation);
	RUN(test_rejects_huge_counts);
	RUN(test_rejects_bad_fields);
	if (!mkdtemp(tmp_dir)) {
		printf("FAIL mkdtemp\n");
		return 1;
	}
	RUN(test_write_read_repository);
	RUN(test_unindexed_pack_completed);
	rm_rf(tmp_dir);
	return CHECK_EXIT();
}
