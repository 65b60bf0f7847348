/* test_tree.c — unit tests for tree_encode/tree_decode (store/tree.c,
 * FORMAT.md "Tree object"): every node type round-trips with odd-byte
 * names, and the decoder refuses every malformed input it must refuse
 * without allocating for counts the input cannot back.
 *
 * Encoding (as tree.c writes it): VERSION(1) || uvarint COUNT || COUNT x
 * node; node = uvarint NAME_LEN || NAME || TYPE(1) || uvarint MODE ||
 * uvarint UID || uvarint GID || svarint MTIME_NS || uvarint SIZE ||
 * FLAGS(1) || [uvarint DEV, INO, NLINK if FLAGS & 1] || per type: file:
 * uvarint NCHUNKS || NCHUNKS x (ID(32) || uvarint LEN); dir: ID(32);
 * symlink: uvarint LEN || TARGET; char/block device: uvarint RDEV.
 */
#include "chunker/fastcdc.h"
#include "store/format.h"
#include "store/tree.h"
#include "tests/check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- a hand encoder for malformed inputs ---- */

typedef struct Enc { uint8_t b[16384]; size_t n; } Enc;

static void e_u8(Enc *e, uint8_t v) { e->b[e->n++] = v; }

static void e_bytes(Enc *e, const void *p, size_t n)
{
	memcpy(e->b + e->n, p, n);
	e->n += n;
}

static void e_uv(Enc *e, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		e_u8(e, (uint8_t)(c | (v ? 0x80 : 0)));
	} while (v);
}

/* A node header: name, type, mode 0644, uid/gid 1000, mtime 5, size. */
static void e_node(Enc *e, const char *name, size_t name_len, uint8_t type, uint64_t size, uint8_t flags)
{
	e_uv(e, name_len);
	e_bytes(e, name, name_len);
	e_u8(e, type);
	e_uv(e, 0644);
	e_uv(e, 1000);
	e_uv(e, 1000);
	e_uv(e, 10);     /* zigzag(5) */
	e_uv(e, size);
	e_u8(e, flags);
}

static void e_start(Enc *e, uint64_t count)
{
	e->n = 0;
	e_u8(e, 1);
	e_uv(e, count);
}

static int decode(const Enc *e)
{
	Tree t;
	StrataErr err = {0};
	int rc = tree_decode(e->b, e->n, &t, &err);

	if (rc == 0)
		tree_clear(&t);
	else if (t.n != 0 || t.nodes != NULL || err.code != rc || strstr(err.msg, "tree") == NULL)
		return 1;   /* a failure must leave out empty and name the tree */
	return rc;
}

/* ---- round trip ---- */

static char *dup_str(const char *s) { return strdup(s); }

static void add(Tree *t, const char *name, uint8_t type)
{
	TreeNode n = {0};

	n.name = dup_str(name);
	n.type = type;
	n.mode = 0640;
	n.uid = 1000;
	n.gid = 100;
	n.mtime_ns = 1700000000123456789;
	n.nlink = 1;
	tree_add(t, &n);
}

static TreeNode *last(Tree *t) { return &t->nodes[t->n - 1]; }

static void set_chunks(TreeNode *n, size_t count, uint32_t len)
{
	n->chunks = malloc((count ? count : 1) * STRATA_ID_LEN);
	n->chunk_lens = malloc((count ? count : 1) * sizeof *n->chunk_lens);
	n->nchunks = count;
	n->size = 0;
	for (size_t i = 0; i < count; i++) {
		memset(n->chunks[i], (int)(i + 1), STRATA_ID_LEN);
		n->chunks[i][0] = 0xc0;
		n->chunk_lens[i] = len + (uint32_t)i;
		n->size += len + i;
	}
}

static void build_every_type(Tree *t)
{
	static char longname[4097];

	memset(t, 0, sizeof *t);
	add(t, "\x01" "ctl", NODE_FILE);
	set_chunks(last(t), 3, 65536);
	add(t, " lead space", NODE_FILE);                      /* empty file */
	set_chunks(last(t), 0, 0);
	add(t, "...", NODE_FILE);                              /* hard-linked */
	set_chunks(last(t), 1, 1);
	last(t)->nlink = 3;
	last(t)->dev = UINT64_MAX;
	last(t)->ino = 1234567890123ull;
	add(t, ".hidden", NODE_DIR);
	memset(last(t)->subtree, 0xd1, STRATA_ID_LEN);
	last(t)->nlink = 5;                                    /* dirs never carry link IDs */
	add(t, "a\nnew\tline", NODE_SYMLINK);
	last(t)->link_target = dup_str("../x y/\xff\xfe/..");
	last(t)->size = strlen(last(t)->link_target);
	add(t, "caf\xc3\xa9", NODE_FIFO);
	add(t, "dev-c", NODE_CHARDEV);
	last(t)->rdev = (1ull << 40) | 7;
	add(t, "dev-b", NODE_BLOCKDEV);
	last(t)->rdev = 0;
	add(t, "sock\\et", NODE_SOCKET);
	last(t)->mode = 07777;
	last(t)->uid = UINT32_MAX;
	last(t)->gid = 0;
	last(t)->mtime_ns = -1234567890;                       /* before 1970 */
	add(t, "\xff\xfe\x80", NODE_FIFO);
	last(t)->mtime_ns = INT64_MIN;
	memset(longname, 'n', 4096);                           /* the longest name allowed */
	add(t, longname, NODE_FIFO);
	last(t)->mtime_ns = INT64_MAX;
	tree_sort(t);
}

static int same_node(const TreeNode *a, const TreeNode *b)
{
	int linkid = a->type != NODE_DIR && a->nlink > 1;

	if (strcmp(a->name, b->name) != 0 || a->type != b->type || a->mode != b->mode ||
	    a->uid != b->uid || a->gid != b->gid || a->mtime_ns != b->mtime_ns || a->size != b->size)
		return 0;
	if (linkid && (a->dev != b->dev || a->ino != b->ino || a->nlink != b->nlink))
		return 0;
	if (!linkid && b->nlink != 1)
		return 0;
	switch (a->type) {
	case NODE_FILE:
		return a->nchunks == b->nchunks &&
		       (a->nchunks == 0 || (memcmp(a->chunks, b->chunks, a->nchunks * STRATA_ID_LEN) == 0 &&
		        memcmp(a->chunk_lens, b->chunk_lens, a->nchunks * sizeof *a->chunk_lens) == 0));
	case NODE_DIR:
		return memcmp(a->subtree, b->subtree, STRATA_ID_LEN) == 0;
	case NODE_SYMLINK:
		return b->link_target && strcmp(a->link_target, b->link_target) == 0;
	case NODE_CHARDEV:
	case NODE_BLOCKDEV:
		return a->rdev == b->rdev;
	default:
		return 1;
	}
}

static void test_round_trip_every_type(void)
{
	Tree t, back;
	uint8_t *buf = NULL, *again = NULL;
	size_t len = 0, again_len = 0;
	StrataErr err = {0};

	build_every_type(&t);
	REQUIRE(t.n == 11);
	REQUIRE(tree_encode(&t, &buf, &len) == 0);
	CHECK(buf[0] == 1);
	REQUIRE(tree_decode(buf, len, &back, &err) == 0);
	CHECK_EQ_INT(back.n, t.n);
	for (size_t i = 0; i < t.n && i < back.n; i++) {
		if (!same_node(&t.nodes[i], &back.nodes[i])) {
			printf("  node %zu (%s) differs\n", i, t.nodes[i].name);
			CHECK(0);
		}
	}
	/* The encoding is canonical: decode then encode gives the same bytes. */
	REQUIRE(tree_encode(&back, &again, &again_len) == 0);
	CHECK_EQ_INT(again_len, len);
	CHECK(memcmp(again, buf, len) == 0);
	free(again);
	free(buf);
	tree_clear(&back);
	tree_clear(&t);
	CHECK(t.n == 0 && t.nodes == NULL);
}

static void test_empty_tree(void)
{
	Tree t = {0}, back;
	uint8_t *buf = NULL;
	size_t len = 0;

	REQUIRE(tree_encode(&t, &buf, &len) == 0);
	CHECK_EQ_INT(len, 2);
	CHECK_EQ_INT(tree_decode(buf, len, &back, NULL), 0);
	CHECK_EQ_INT(back.n, 0);
	tree_clear(&back);
	free(buf);
}

static void test_sort_is_bytewise(void)
{
	Tree t = {0};

	add(&t, "b", NODE_FIFO);
	add(&t, "\xff", NODE_FIFO);
	add(&t, "B", NODE_FIFO);
	add(&t, "a", NODE_FIFO);
	add(&t, "\x01", NODE_FIFO);
	tree_sort(&t);
	CHECK_STR(t.nodes[0].name, "\x01");
	CHECK_STR(t.nodes[1].name, "B");
	CHECK_STR(t.nodes[2].name, "a");
	CHECK_STR(t.nodes[3].name, "b");
	CHECK_STR(t.nodes[4].name, "\xff");
	tree_clear(&t);
}

/* Every proper prefix of a valid tree is refused as malformed. */
static void test_truncated_at_every_length(void)
{
	Tree t, back;
	uint8_t *buf = NULL;
	size_t len = 0;
	int bad = 0;

	build_every_type(&t);
	REQUIRE(tree_encode(&t, &buf, &len) == 0);
	for (size_t l = 0; l < len; l++) {
		StrataErr err = {0};
		int rc = tree_decode(buf, l, &back, &err);
		if (rc != STRATA_EFORMAT || back.n != 0) {
			printf("  prefix %zu: %d\n", l, rc);
			bad++;
		}
		if (rc == 0)
			tree_clear(&back);
	}
	CHECK_EQ_INT(bad, 0);
	free(buf);
	tree_clear(&t);
}

static void test_rejects_bad_names(void)
{
	static const struct { const char *name; size_t len; } bad[] = {
		{".", 1}, {"..", 2}, {"a/b", 3}, {"/", 1}, {"a/", 2}, {"a\0b", 3}, {"\0", 1}, {"", 0},
	};
	static char longname[4097];
	Enc e;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		e_start(&e, 1);
		e_node(&e, bad[i].name, bad[i].len, NODE_FIFO, 0, 0);
		CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	}
	memset(longname, 'n', sizeof longname);
	e_start(&e, 1);
	e_node(&e, longname, 4097, NODE_FIFO, 0, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);
	e_node(&e, longname, 4096, NODE_FIFO, 0, 0);
	CHECK_EQ_INT(decode(&e), 0);
	/* "..." and ".x" are ordinary names. */
	e_start(&e, 2);
	e_node(&e, "...", 3, NODE_FIFO, 0, 0);
	e_node(&e, ".x", 2, NODE_FIFO, 0, 0);
	CHECK_EQ_INT(decode(&e), 0);
}

static void test_rejects_unsorted_and_duplicates(void)
{
	Enc e;

	e_start(&e, 2);
	e_node(&e, "b", 1, NODE_FIFO, 0, 0);
	e_node(&e, "a", 1, NODE_FIFO, 0, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 2);
	e_node(&e, "a", 1, NODE_FIFO, 0, 0);
	e_node(&e, "a", 1, NODE_SOCKET, 0, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 3);
	e_node(&e, "a", 1, NODE_FIFO, 0, 0);
	e_node(&e, "ab", 2, NODE_FIFO, 0, 0);
	e_node(&e, "ab", 2, NODE_FIFO, 0, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	/* Bytewise: 0xff sorts after 'z'. */
	e_start(&e, 2);
	e_node(&e, "\xff", 1, NODE_FIFO, 0, 0);
	e_node(&e, "z", 1, NODE_FIFO, 0, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 2);
	e_node(&e, "z", 1, NODE_FIFO, 0, 0);
	e_node(&e, "\xff", 1, NODE_FIFO, 0, 0);
	CHECK_EQ_INT(decode(&e), 0);
}

static void e_chunk(Enc *e, uint8_t fill, uint64_t len)
{
	uint8_t id[STRATA_ID_LEN];

	memset(id, fill, sizeof id);
	e_bytes(e, id, sizeof id);
	e_uv(e, len);
}

static void test_rejects_bad_chunk_lists(void)
{
	Enc e;

	e_start(&e, 1);                              /* valid: 100 + 200 = 300 */
	e_node(&e, "f", 1, NODE_FILE, 300, 0);
	e_uv(&e, 2);
	e_chunk(&e, 1, 100);
	e_chunk(&e, 2, 200);
	CHECK_EQ_INT(decode(&e), 0);
	e_start(&e, 1);                              /* sum short of size */
	e_node(&e, "f", 1, NODE_FILE, 301, 0);
	e_uv(&e, 2);
	e_chunk(&e, 1, 100);
	e_chunk(&e, 2, 200);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);                              /* sum past size */
	e_node(&e, "f", 1, NODE_FILE, 299, 0);
	e_uv(&e, 2);
	e_chunk(&e, 1, 100);
	e_chunk(&e, 2, 200);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);                              /* zero-length chunk */
	e_node(&e, "f", 1, NODE_FILE, 100, 0);
	e_uv(&e, 2);
	e_chunk(&e, 1, 100);
	e_chunk(&e, 2, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);                              /* chunk above the chunker's maximum */
	e_node(&e, "f", 1, NODE_FILE, FASTCDC_MAX_MAX + 1ull, 0);
	e_uv(&e, 1);
	e_chunk(&e, 1, FASTCDC_MAX_MAX + 1ull);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);                              /* size without chunks */
	e_node(&e, "f", 1, NODE_FILE, 1, 0);
	e_uv(&e, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	/* Sizes that would wrap: 2^63 + 2^63 chunk lengths are refused per chunk. */
	e_start(&e, 1);
	e_node(&e, "f", 1, NODE_FILE, 0, 0);
	e_uv(&e, 2);
	e_chunk(&e, 1, UINT64_C(1) << 63);
	e_chunk(&e, 2, UINT64_C(1) << 63);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
}

/* Counts the input cannot back are refused before allocating: under
 * ASan (make test-asan) a multi-gigabyte malloc would abort the test. */
static void test_rejects_huge_counts(void)
{
	Enc e;

	e_start(&e, UINT64_C(1) << 62);
	e_node(&e, "a", 1, NODE_FIFO, 0, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, UINT64_MAX);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 2);                              /* one node short */
	e_node(&e, "a", 1, NODE_FIFO, 0, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);                              /* chunk count */
	e_node(&e, "f", 1, NODE_FILE, 0, 0);
	e_uv(&e, UINT64_C(1) << 40);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);
	e_node(&e, "f", 1, NODE_FILE, 0, 0);
	e_uv(&e, UINT64_MAX);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);                              /* name length */
	e_uv(&e, UINT64_MAX);
	e_u8(&e, 'a');
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);                              /* symlink target length */
	e_node(&e, "l", 1, NODE_SYMLINK, 1, 0);
	e_uv(&e, UINT64_C(1) << 60);
	e_u8(&e, 'x');
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
}

static void test_rejects_unknown_type_and_flags(void)
{
	static const uint8_t types[] = {0, 8, 0x7f, 0xff};
	Enc e;

	for (size_t i = 0; i < sizeof types; i++) {
		e_start(&e, 1);
		e_node(&e, "x", 1, types[i], 0, 0);
		CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	}
	e_start(&e, 1);
	e_node(&e, "x", 1, NODE_FIFO, 0, 2);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);
	e_node(&e, "x", 1, NODE_FIFO, 0, 0x81);
	e_uv(&e, 1); e_uv(&e, 2); e_uv(&e, 3);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);                              /* flag 1 with its fields: valid */
	e_node(&e, "x", 1, NODE_FIFO, 0, 1);
	e_uv(&e, 1); e_uv(&e, 2); e_uv(&e, 3);
	CHECK_EQ_INT(decode(&e), 0);
	e_start(&e, 1);                              /* flag 1 without them */
	e_node(&e, "x", 1, NODE_FIFO, 0, 1);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
}

static void test_rejects_bad_symlinks(void)
{
	Enc e;

	e_start(&e, 1);
	e_node(&e, "l", 1, NODE_SYMLINK, 0, 0);
	e_uv(&e, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);
	e_node(&e, "l", 1, NODE_SYMLINK, 3, 0);
	e_uv(&e, 3);
	e_bytes(&e, "a\0b", 3);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);
	e_node(&e, "l", 1, NODE_SYMLINK, 3, 0);
	e_uv(&e, 3);
	e_bytes(&e, "a/b", 3);
	CHECK_EQ_INT(decode(&e), 0);
}

static void test_rejects_versions_and_framing(void)
{
	Enc e;
	Tree t;
	StrataErr err = {0};

	e_start(&e, 0);
	CHECK_EQ_INT(tree_decode(e.b, 0, &t, &err), STRATA_EFORMAT);
	CHECK_EQ_INT(decode(&e), 0);
	e.b[0] = 2;
	CHECK_EQ_INT(tree_decode(e.b, e.n, &t, &err), STRATA_EVERSION);
	CHECK(strstr(err.msg, "version") != NULL);
	e.b[0] = 0xff;
	CHECK_EQ_INT(tree_decode(e.b, e.n, &t, &err), STRATA_EVERSION);
	e.b[0] = 0;
	CHECK_EQ_INT(tree_decode(e.b, e.n, &t, &err), STRATA_EFORMAT);
	e_start(&e, 0);                              /* trailing byte */
	e_u8(&e, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e_start(&e, 1);
	e_node(&e, "d", 1, NODE_DIR, 0, 0);
	e_chunk(&e, 9, 0);                           /* subtree ID + a stray byte */
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
	e.n--;
	CHECK_EQ_INT(decode(&e), 0);
	e_start(&e, 1);                              /* varint longer than 64 bits */
	e.n--;
	for (int i = 0; i < 11; i++)
		e_u8(&e, 0xff);
	e_u8(&e, 0);
	CHECK_EQ_INT(decode(&e), STRATA_EFORMAT);
}

/* tree_object_parse (FORMAT.md §11): the stored object's first byte says
 * inline or parts; a part list is NPARTS, then ID(32) || LEN per part. */
static void test_object_parse(void)
{
	uint8_t obj[256];
	TreeObject o;
	int unknown = 0;

	/* inline: the tree's bytes follow */
	obj[0] = FORMAT_TREE_INLINE;
	memcpy(obj + 1, "abc", 3);
	REQUIRE(tree_object_parse(obj, 4, &o, &unknown) == 0);
	CHECK(o.tree == obj + 1 && o.tree_len == 3 && o.parts == NULL && o.nparts == 0);
	tree_object_clear(&o);
	/* two parts of 300 and 5 bytes (300 = uvarint ac 02) */
	memset(obj, 0, sizeof obj);
	obj[0] = FORMAT_TREE_PARTS;
	obj[1] = 2;
	memset(obj + 2, 0x11, 32);
	obj[34] = 0xac;
	obj[35] = 0x02;
	memset(obj + 36, 0x22, 32);
	obj[68] = 5;
	REQUIRE(tree_object_parse(obj, 69, &o, &unknown) == 0);
	CHECK(o.tree == NULL);
	REQUIRE(o.nparts == 2);
	CHECK(o.parts[0].id[0] == 0x11 && o.parts[0].id[31] == 0x11 && o.parts[0].len == 300);
	CHECK(o.parts[1].id[0] == 0x22 && o.parts[1].len == 5);
	CHECK_EQ_INT(o.parts_len, 305);
	tree_object_clear(&o);
	CHECK(o.parts == NULL && o.nparts == 0);
	/* zero parts: an empty tree */
	obj[1] = 0;
	REQUIRE(tree_object_parse(obj, 2, &o, &unknown) == 0);
	CHECK(o.nparts == 0 && o.parts_len == 0 && o.tree == NULL);
	tree_object_clear(&o);
	/* every cut of the two-part list is malformed, not an unknown kind */
	obj[1] = 2;
	for (size_t len = 1; len < 69; len++) {
		CHECK_EQ_INT(tree_object_parse(obj, len, &o, &unknown), STRATA_EFORMAT);
		CHECK_EQ_INT(unknown, 0);
	}
	/* a count larger than the bytes can hold */
	obj[1] = 3;
	CHECK_EQ_INT(tree_object_parse(obj, 69, &o, &unknown), STRATA_EFORMAT);
	/* parts adding up to exactly 2 GiB pass, one byte more does not:
	 * 2^31 (uvarint 80 80 80 80 08), then 0 or 1 */
	memset(obj, 0, sizeof obj);
	obj[0] = FORMAT_TREE_PARTS;
	obj[1] = 2;
	memset(obj + 2, 0x33, 32);
	obj[34] = 0x80; obj[35] = 0x80; obj[36] = 0x80; obj[37] = 0x80; obj[38] = 0x08;
	memset(obj + 39, 0x44, 32);
	obj[71] = 0;
	REQUIRE(tree_object_parse(obj, 72, &o, &unknown) == 0);
	CHECK_EQ_INT(o.parts_len, (uint64_t)1 << 31);
	tree_object_clear(&o);
	obj[71] = 1;
	CHECK_EQ_INT(tree_object_parse(obj, 72, &o, &unknown), STRATA_EFORMAT);
	CHECK_EQ_INT(unknown, 0);
	/* unknown kinds, and an empty object */
	obj[0] = 2;
	CHECK_EQ_INT(tree_object_parse(obj, 10, &o, &unknown), STRATA_EFORMAT);
	CHECK_EQ_INT(unknown, 1);
	CHECK_EQ_INT(tree_object_parse(obj, 0, &o, &unknown), STRATA_EFORMAT);
	CHECK_EQ_INT(unknown, 1);
}

int main(void)
{
	RUN(test_round_trip_every_type);
	RUN(test_empty_tree);
	RUN(test_sort_is_bytewise);
	RUN(test_truncated_at_every_length);
	RUN(test_rejects_bad_names);
	RUN(test_rejects_unsorted_and_duplicates);
	RUN(test_rejects_bad_chunk_lists);
	RUN(test_rejects_huge_counts);
	RUN(test_rejects_unknown_type_and_flags);
	RUN(test_rejects_bad_symlinks);
	RUN(test_rejects_versions_and_framing);
	RUN(test_object_parse);
	return CHECK_EXIT();
}
