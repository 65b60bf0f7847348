/* test_tree_stream.c — unit tests for storing trees (store/tree.c
 * tree_store and tree_stream_*, FORMAT.md "Tree object"): a tree's ID is
 * computed here independently from the format, for a small tree (inline
 * form) and large ones (cut into parts by the repository's chunker); the
 * streaming writer, fed file chunk lists as raw TYPE_DATA in pieces of
 * every size, must give the same ID and store parts that load back to the
 * same nodes. This is what lets a backup spill its chunk lists and still
 * produce the tree IDs of earlier snapshots (unchanged directories dedupe).
 *
 * Test data comes from a local splitmix64 so every run sees the same bytes.
 */
#include "chunker/fastcdc.h"
#include "store/blob.h"
#include "store/codec.h"
#include "store/repo.h"
#include "store/repo_internal.h"
#include "store/tree.h"
#include "tests/check.h"
#include "tests/test_repo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmp[256];
static Repo *repo;
static CodecCtx *cctx;

/* splitmix64 (Steele, Lea, Flood 2014). */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void test_setup(void)
{
	snprintf(tmp, sizeof tmp, "%s/test_tree_stream.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	REQUIRE(mkdtemp(tmp));
	REQUIRE(test_repo_create(tmp, &repo) == 0);
	cctx = codec_ctx_new();
	REQUIRE(cctx != NULL);
}

/* ---- the format, written out independently of tree.c ---- */

typedef struct Bytes { uint8_t *p; size_t n, cap; } Bytes;

static void b_put(Bytes *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void b_uv(Bytes *b, uint64_t v)
{
	do {
		uint8_t c = (uint8_t)((v & 0x7f) | (v >> 7 ? 0x80 : 0));
		b_put(b, &c, 1);
		v >>= 7;
	} while (v);
}

static void b_u8(Bytes *b, uint8_t v) { b_put(b, &v, 1); }

/* TREE for nodes (sorted, files and directories only, nlink 1). */
static void encode(const TreeNode *nodes, size_t n, Bytes *out)
{
	b_u8(out, 1);
	b_uv(out, n);
	for (size_t i = 0; i < n; i++) {
		const TreeNode *x = &nodes[i];
		b_uv(out, strlen(x->name));
		b_put(out, x->name, strlen(x->name));
		b_u8(out, x->type);
		b_uv(out, x->mode);
		b_uv(out, x->uid);
		b_uv(out, x->gid);
		b_uv(out, ((uint64_t)x->mtime_ns << 1) ^ (uint64_t)(x->mtime_ns >> 63));
		b_uv(out, x->size);
		b_u8(out, 0);
		if (x->type == NODE_DIR) {
			b_put(out, x->subtree, STRATA_ID_LEN);
			continue;
		}
		b_uv(out, x->nchunks);
		for (size_t c = 0; c < x->nchunks; c++) {
			b_put(out, x->chunks[c], STRATA_ID_LEN);
			b_uv(out, x->chunk_lens[c]);
		}
	}
}

/* The ID FORMAT.md gives TREE: inline up to 256 KiB, else parts cut by
 * the chunker over the whole serialization. */
static void expected_id(const Bytes *tree, uint8_t id[STRATA_ID_LEN], size_t *out_nparts)
{
	Bytes obj = {0};

	*out_nparts = 0;
	if (tree->n <= (256u << 10)) {
		b_u8(&obj, 0);
		b_put(&obj, tree->p, tree->n);
	} else {
		Bytes parts = {0};
		size_t off = 0;
		while (off < tree->n) {
			uint8_t pid[STRATA_ID_LEN];
			size_t cut = fastcdc_cut(&repo->cdc, tree->p + off, tree->n - off, 1);
			codec_chunk_id(repo->keys, tree->p + off, cut, pid);
			b_put(&parts, pid, STRATA_ID_LEN);
			b_uv(&parts, cut);
			off += cut;
			(*out_nparts)++;
		}
		b_u8(&obj, 1);
		b_uv(&obj, *out_nparts);
		b_put(&obj, parts.p, parts.n);
		free(parts.p);
	}
	codec_chunk_id(repo->keys, obj.p, obj.n, id);
	free(obj.p);
}

/* expected_id of the serialization of nodes[0..n); returns its parts. */
static size_t spec_id(const TreeNode *nodes, size_t n, uint8_t id[STRATA_ID_LEN])
{
	Bytes enc = {0};
	size_t nparts;

	encode(nodes, n, &enc);
	expected_id(&enc, id, &nparts);
	free(enc.p);
	return nparts;
}

/* nfiles files of up to max_chunks random chunks each, and a directory
 * every seventh node; names sorted by construction. */
static TreeNode *make_nodes(size_t n, size_t max_chunks, uint64_t seed)
{
	TreeNode *nodes = calloc(n, sizeof *nodes);

	for (size_t i = 0; i < n; i++) {
		TreeNode *x = &nodes[i];
		char name[32];
		snprintf(name, sizeof name, "f%06zu", i);
		x->name = strdup(name);
		x->mode = 0644;
		x->uid = 1000;
		x->gid = 1000;
		x->mtime_ns = (int64_t)(rng_next(&seed) >> 2) - (INT64_C(1) << 60);
		x->nlink = 1;
		if (i % 7 == 6) {
			x->type = NODE_DIR;
			for (size_t b = 0; b < STRATA_ID_LEN; b++)
				x->subtree[b] = (uint8_t)rng_next(&seed);
			continue;
		}
		x->type = NODE_FILE;
		x->nchunks = max_chunks ? rng_next(&seed) % (max_chunks + 1) : 0;
		x->chunks = malloc((x->nchunks ? x->nchunks : 1) * STRATA_ID_LEN);
		x->chunk_lens = malloc((x->nchunks ? x->nchunks : 1) * sizeof *x->chunk_lens);
		for (size_t c = 0; c < x->nchunks; c++) {
			for (size_t b = 0; b < STRATA_ID_LEN; b++)
				x->chunks[c][b] = (uint8_t)rng_next(&seed);
			x->chunk_lens[c] = 1 + (uint32_t)(rng_next(&seed) % (1u << 21));
			x->size += x->chunk_lens[c];
		}
	}
	return nodes;
}

static void free_nodes(TreeNode *nodes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tree_node_clear(&nodes[i]);
	free(nodes);
}

/* Through the stream: files' lists as raw TYPE_DATA in pieces of `piece`
 * entries (the first with NCHUNKS), cut again into raw writes of `raw`
 * bytes. */
static int store_streamed(const TreeNode *nodes, size_t n, BlobWriter *bw, size_t piece, size_t raw,
                          uint8_t id[STRATA_ID_LEN])
{
	StrataErr err = {0};
	TreeStream *s = NULL;
	uint8_t *buf = malloc(TREE_FILE_DATA_MAX(piece));
	int rc = tree_stream_begin(&s, repo, bw, cctx, n);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		const TreeNode *x = &nodes[i];
		rc = tree_stream_node(s, x, 0, &err);
		if (x->type != NODE_FILE)
			continue;
		for (size_t k = 0; rc == 0 && (k < x->nchunks || k == 0); k += piece) {
			size_t m = x->nchunks - k < piece ? x->nchunks - k : piece;
			size_t len = tree_file_data(buf, k == 0, x->nchunks,
			                            (const uint8_t (*)[STRATA_ID_LEN])x->chunks + k, x->chunk_lens + k, m);
			for (size_t o = 0; rc == 0 && o < len; o += raw)
				rc = tree_stream_raw(s, buf + o, len - o < raw ? len - o : raw, &err);
		}
	}
	if (rc == 0)
		rc = tree_stream_finish(s, id, &err);
	if (rc)
		printf("  tree stream: %s\n", err.msg);
	tree_stream_free(s);
	free(buf);
	return rc;
}

static int same_nodes(const Tree *t, const TreeNode *nodes, size_t n)
{
	if (t->n != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const TreeNode *a = &t->nodes[i], *b = &nodes[i];
		if (strcmp(a->name, b->name) || a->type != b->type || a->size != b->size ||
		    a->mtime_ns != b->mtime_ns || a->nchunks != b->nchunks)
			return 0;
		if (a->type == NODE_DIR && memcmp(a->subtree, b->subtree, STRATA_ID_LEN))
			return 0;
		for (size_t c = 0; c < a->nchunks; c++)
			if (memcmp(a->chunks[c], b->chunks[c], STRATA_ID_LEN) || a->chunk_lens[c] != b->chunk_lens[c])
				return 0;
	}
	return 1;
}

/* Sizes around the inline limit and well past it: 3 nodes; ~220 KB
 * (inline); ~268 KB (just cut); ~2.5 MB (many parts, the stream's window
 * refilled many times). */
static void test_ids_match_format(void)
{
	static const struct { size_t n, max_chunks; size_t want_parts_min; } cases[] = {
		{ 3, 4, 0 }, { 3500, 2, 0 }, { 290, 60, 2 }, { 700, 240, 20 },
	};
	StrataErr err = {0};
	BlobWriter *bw = NULL;

	REQUIRE(blobwriter_new(repo, 0, &bw, &err) == 0);
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		TreeNode *nodes = make_nodes(cases[k].n, cases[k].max_chunks, 1000 + k);
		Tree t = { nodes, cases[k].n, cases[k].n };
		Bytes enc = {0};
		uint8_t want[STRATA_ID_LEN], got[STRATA_ID_LEN];
		size_t nparts;

		encode(nodes, cases[k].n, &enc);
		expected_id(&enc, want, &nparts);
		if (cases[k].want_parts_min)
			CHECK(nparts >= cases[k].want_parts_min);
		else
			CHECK_EQ_INT(nparts, 0);
		CHECK(tree_store(repo, bw, cctx, &t, got, &err) == 0);
		CHECK(memcmp(got, want, STRATA_ID_LEN) == 0);
		/* Raw pieces of 1 entry / 1 byte, 3 / 17, 1000 / 4096 bytes. */
		memset(got, 0, sizeof got);
		CHECK(store_streamed(nodes, cases[k].n, bw, 1, 1, got) == 0);
		CHECK(memcmp(got, want, STRATA_ID_LEN) == 0);
		memset(got, 0, sizeof got);
		CHECK(store_streamed(nodes, cases[k].n, bw, 3, 17, got) == 0);
		CHECK(memcmp(got, want, STRATA_ID_LEN) == 0);
		memset(got, 0, sizeof got);
		CHECK(store_streamed(nodes, cases[k].n, bw, 1000, 4096, got) == 0);
		CHECK(memcmp(got, want, STRATA_ID_LEN) == 0);
		free(enc.p);
		free_nodes(nodes, cases[k].n);
	}
	CHECK(blobwriter_finish(bw, &err) == 0);
	blobwriter_free(bw);
}

/* A streamed tree in parts loads back to the same nodes. */
static void test_streamed_parts_load_back(void)
{
	StrataErr err = {0};
	BlobWriter *bw = NULL;
	TreeNode *nodes = make_nodes(500, 300, 77);
	uint8_t id[STRATA_ID_LEN];
	uint8_t want[STRATA_ID_LEN];
	Tree t = {0};

	/* 500 entries of up to 300 chunks serialize past 256 KiB: in parts. */
	CHECK(spec_id(nodes, 500, want) > 0);
	REQUIRE(blobwriter_new(repo, 0, &bw, &err) == 0);
	CHECK(store_streamed(nodes, 500, bw, 64, 1000, id) == 0);
	CHECK(memcmp(id, want, STRATA_ID_LEN) == 0);
	REQUIRE(blobwriter_finish(bw, &err) == 0);
	blobwriter_free(bw);
	REQUIRE(tree_load(repo, id, &t, &err) == 0);
	CHECK(same_nodes(&t, nodes, 500));
	tree_clear(&t);
	free_nodes(nodes, 500);
}

/* A count that disagrees with the nodes given cannot be caught by the
 * stream, but an empty stream is a valid empty tree: its ID is the one
 * tree_store gives an empty Tree, and the one FORMAT.md gives. */
static void test_empty_stream(void)
{
	StrataErr err = {0};
	BlobWriter *bw = NULL;
	TreeStream *s = NULL;
	uint8_t a[STRATA_ID_LEN], b[STRATA_ID_LEN], want[STRATA_ID_LEN];
	Tree t = {0};

	REQUIRE(blobwriter_new(repo, 0, &bw, &err) == 0);
	REQUIRE(tree_stream_begin(&s, repo, bw, cctx, 0) == 0);
	CHECK(tree_stream_finish(s, a, &err) == 0);
	tree_stream_free(s);
	CHECK(tree_store(repo, bw, cctx, &t, b, &err) == 0);
	CHECK(memcmp(a, b, STRATA_ID_LEN) == 0);
	CHECK(spec_id(NULL, 0, want) == 0 && memcmp(a, want, STRATA_ID_LEN) == 0);
	CHECK(blobwriter_finish(bw, &err) == 0);
	blobwriter_free(bw);
}

int main(void)
{
	char cmd[400];

	if (codec_init() != 0)
		return 1;
	RUN(test_setup);
	RUN(test_ids_match_format);
	RUN(test_streamed_parts_load_back);
	RUN(test_empty_stream);
	codec_ctx_free(cctx);
	repo_close(repo);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		printf("  could not remove %s\n", tmp);
	return CHECK_EXIT();
}
