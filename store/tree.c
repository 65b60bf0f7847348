/* tree.c — tree objects, see tree.h. FORMAT.md "Tree object". */
#include "store/tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/blob.h"
#include "store/format.h"
#include "store/repo_internal.h"

/* A serialized directory above this size is cut into tree parts by the
 * repository's chunker, so a directory holding a growing large file (its
 * chunk list grows at the end) re-stores only the changed tail part. */
#define TREE_INLINE_MAX (256u << 10)
#define TREE_MAX_BYTES  ((size_t)1 << 31)   /* refuse to assemble larger trees */
#define NODE_FLAG_LINKID 1u                 /* dev/ino/nlink follow (hard links) */

/* ---- growable byte buffer ---- */

typedef struct Buf { uint8_t *p; size_t len, cap; int oom; } Buf;

static void buf_need(Buf *b, size_t n)
{
	if (b->oom || b->len + n <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void buf_put(Buf *b, const void *src, size_t n)
{
	buf_need(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void buf_u8(Buf *b, uint8_t v) { buf_put(b, &v, 1); }

/* put_uv — v as a uvarint at p (at most 10 bytes); returns its length. */
static size_t put_uv(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			p[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

static void buf_uv(Buf *b, uint64_t v)
{
	uint8_t tmp[10];

	buf_put(b, tmp, put_uv(tmp, v));
}

static void buf_sv(Buf *b, int64_t v)
{
	buf_uv(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* ---- reader over untrusted bytes ---- */

typedef struct Rd { const uint8_t *p, *end; int bad; } Rd;

static uint64_t rd_uv(Rd *r)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end) {
			r->bad = 1;
			return 0;
		}
		uint8_t c = *r->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

static int64_t rd_sv(Rd *r)
{
	uint64_t u = rd_uv(r);
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static uint8_t rd_u8(Rd *r)
{
	if (r->p >= r->end) {
		r->bad = 1;
		return 0;
	}
	return *r->p++;
}

static const uint8_t *rd_bytes(Rd *r, uint64_t n)
{
	const uint8_t *p = r->p;

	if (r->bad || n > (uint64_t)(r->end - r->p)) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	return p;
}

/* ---- nodes ---- */

void tree_node_clear(TreeNode *node)
{
	if (!node)
		return;
	free(node->name);
	free(node->link_target);
	free(node->chunks);
	free(node->chunk_lens);
	memset(node, 0, sizeof *node);
}

void tree_clear(Tree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		tree_node_clear(&t->nodes[i]);
	free(t->nodes);
	memset(t, 0, sizeof *t);
}

int tree_add(Tree *t, TreeNode *node)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		TreeNode *p = realloc(t->nodes, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		t->nodes = p;
		t->cap = cap;
	}
	t->nodes[t->n++] = *node;
	memset(node, 0, sizeof *node);
	return 0;
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const TreeNode *)a)->name, ((const TreeNode *)b)->name);
}

void tree_sort(Tree *t)
{
	if (t->n > 1)
		qsort(t->nodes, t->n, sizeof *t->nodes, cmp_node);
}

static int has_linkid(const TreeNode *n)
{
	return n->type != NODE_DIR && n->nlink > 1;
}

/* encode_head — a node's fields up to TYPE_DATA, and TYPE_DATA itself
 * for every type but files (whose chunk list follows separately). */
static void encode_head(Buf *b, const TreeNode *n)
{
	size_t name_len = strlen(n->name);

	buf_uv(b, name_len);
	buf_put(b, n->name, name_len);
	buf_u8(b, n->type);
	buf_uv(b, n->mode);
	buf_uv(b, n->uid);
	buf_uv(b, n->gid);
	buf_sv(b, n->mtime_ns);
	buf_uv(b, n->size);
	buf_u8(b, has_linkid(n) ? NODE_FLAG_LINKID : 0);
	if (has_linkid(n)) {
		buf_uv(b, n->dev);
		buf_uv(b, n->ino);
		buf_uv(b, n->nlink);
	}
	switch (n->type) {
	case NODE_DIR:
		buf_put(b, n->subtree, STRATA_ID_LEN);
		break;
	case NODE_SYMLINK: {
		size_t l = n->link_target ? strlen(n->link_target) : 0;
		buf_uv(b, l);
		buf_put(b, n->link_target ? n->link_target : "", l);
		break;
	}
	case NODE_CHARDEV:
	case NODE_BLOCKDEV:
		buf_uv(b, n->rdev);
		break;
	default:
		break;
	}
}

size_t tree_file_data(uint8_t *out, int first, size_t total, const uint8_t (*ids)[STRATA_ID_LEN],
                      const uint32_t *lens, size_t n)
{
	size_t len = first ? put_uv(out, total) : 0;

	for (size_t i = 0; i < n; i++) {
		memcpy(out + len, ids[i], STRATA_ID_LEN);
		len += STRATA_ID_LEN;
		len += put_uv(out + len, lens[i]);
	}
	return len;
}

static void encode_file_data(Buf *b, const TreeNode *n)
{
	buf_need(b, TREE_FILE_DATA_MAX(n->nchunks));
	if (!b->oom)
		b->len += tree_file_data(b->p + b->len, 1, n->nchunks,
		                         (const uint8_t (*)[STRATA_ID_LEN])n->chunks, n->chunk_lens, n->nchunks);
}

int tree_encode(const Tree *t, uint8_t **out, size_t *out_len)
{
	Buf b = {0};

	buf_u8(&b, FORMAT_VERSION_TREE);
	buf_uv(&b, t->n);
	for (size_t i = 0; i < t->n; i++) {
		encode_head(&b, &t->nodes[i]);
		if (t->nodes[i].type == NODE_FILE)
			encode_file_data(&b, &t->nodes[i]);
	}
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*out = b.p;
	*out_len = b.len;
	return 0;
}

static int valid_name(const uint8_t *name, size_t len)
{
	if (len == 0 || len > 4096)
		return 0;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	return memchr(name, '/', len) == NULL && memchr(name, '\0', len) == NULL;
}

static char *dup_bytes(const uint8_t *p, size_t len)
{
	char *s = malloc(len + 1);

	if (s) {
		memcpy(s, p, len);
		s[len] = '\0';
	}
	return s;
}

int tree_decode(const uint8_t *buf, size_t len, Tree *out, StrataErr *err)
{
	Rd r = {buf, buf + len, 0};
	Tree t = {0};
	uint64_t count;
	uint8_t version;
	const char *why = "truncated";

	memset(out, 0, sizeof *out);
	version = rd_u8(&r);
	if (r.bad)
		return strata_err_set(err, STRATA_EFORMAT, "tree is empty");
	if (version != FORMAT_VERSION_TREE)
		return strata_err_set(err, version > FORMAT_VERSION_TREE ? STRATA_EVERSION : STRATA_EFORMAT,
		                      "tree version %u is not supported", version);
	count = rd_uv(&r);
	/* Each node takes at least 9 bytes: bounds count before allocating. */
	if (r.bad || count > (uint64_t)(r.end - r.p) / 9)
		return strata_err_set(err, STRATA_EFORMAT, "tree entry count is malformed");
	for (uint64_t i = 0; i < count; i++) {
		TreeNode n = {0};
		uint64_t name_len = rd_uv(&r), v;
		const uint8_t *name = rd_bytes(&r, name_len);
		if (r.bad)
			goto bad;
		if (!valid_name(name, name_len)) {
			why = "an entry name is empty, '.', '..', or contains '/' or NUL";
			goto bad;
		}
		n.name = dup_bytes(name, name_len);
		if (!n.name)
			goto oom;
		if (t.n && strcmp(t.nodes[t.n - 1].name, n.name) >= 0) {
			why = "entries are not sorted or a name repeats";
			tree_node_clear(&n);
			goto bad;
		}
		n.type = rd_u8(&r);
		v = rd_uv(&r); n.mode = (uint32_t)(v & 07777);
		v = rd_uv(&r); n.uid = (uint32_t)v;
		v = rd_uv(&r); n.gid = (uint32_t)v;
		n.mtime_ns = rd_sv(&r);
		n.size = rd_uv(&r);
		uint8_t flags = rd_u8(&r);
		if (flags & ~NODE_FLAG_LINKID) {
			why = "unknown entry flags";
			tree_node_clear(&n);
			goto bad;
		}
		if (flags & NODE_FLAG_LINKID) {
			n.dev = rd_uv(&r);
			n.ino = rd_uv(&r);
			n.nlink = (uint32_t)rd_uv(&r);
		} else {
			n.nlink = 1;
		}
		switch (n.type) {
		case NODE_FILE: {
			uint64_t nc = rd_uv(&r), total = 0;
			if (r.bad || nc > (uint64_t)(r.end - r.p) / (STRATA_ID_LEN + 1)) {
				tree_node_clear(&n);
				goto bad;
			}
			n.chunks = malloc((nc ? nc : 1) * STRATA_ID_LEN);
			n.chunk_lens = malloc((nc ? nc : 1) * sizeof *n.chunk_lens);
			if (!n.chunks || !n.chunk_lens) {
				tree_node_clear(&n);
				goto oom;
			}
			n.nchunks = nc;
			for (uint64_t c = 0; c < nc; c++) {
				const uint8_t *id = rd_bytes(&r, STRATA_ID_LEN);
				uint64_t cl = rd_uv(&r);
				if (r.bad || cl == 0 || cl > FASTCDC_MAX_MAX) {
					tree_node_clear(&n);
					goto bad;
				}
				memcpy(n.chunks[c], id, STRATA_ID_LEN);
				n.chunk_lens[c] = (uint32_t)cl;
				total += cl;
			}
			if (total != n.size) {
				why = "a file's chunk lengths do not add up to its size";
				tree_node_clear(&n);
				goto bad;
			}
			break;
		}
		case NODE_DIR: {
			const uint8_t *id = rd_bytes(&r, STRATA_ID_LEN);
			if (id)
				memcpy(n.subtree, id, STRATA_ID_LEN);
			break;
		}
		case NODE_SYMLINK: {
			uint64_t l = rd_uv(&r);
			const uint8_t *target = rd_bytes(&r, l);
			if (r.bad || l == 0 || l > 65536 || memchr(target, '\0', l)) {
				why = "a symlink target is empty, too long or contains NUL";
				tree_node_clear(&n);
				goto bad;
			}
			n.link_target = dup_bytes(target, l);
			if (!n.link_target) {
				tree_node_clear(&n);
				goto oom;
			}
			break;
		}
		case NODE_CHARDEV:
		case NODE_BLOCKDEV:
			n.rdev = rd_uv(&r);
			break;
		case NODE_FIFO:
		case NODE_SOCKET:
			break;
		default:
			why = "unknown entry type";
			tree_node_clear(&n);
			goto bad;
		}
		if (r.bad) {
			tree_node_clear(&n);
			goto bad;
		}
		if (tree_add(&t, &n) != 0) {
			tree_node_clear(&n);
			goto oom;
		}
	}
	if (r.p != r.end) {
		why = "trailing bytes";
		goto bad;
	}
	*out = t;
	return 0;
bad:
	tree_clear(&t);
	return strata_err_set(err, STRATA_EFORMAT, "tree is malformed: %s", why);
oom:
	tree_clear(&t);
	return strata_err_set(err, -ENOMEM, "out of memory decoding a tree");
}

/* ---- storing: a stream of encoded bytes cut into parts as it comes ---- */

struct TreeStream {
	Repo *repo;
	BlobWriter *bw;
	CodecCtx *ctx;
	Buf win;                      /* bytes not yet in a part, from off */
	size_t off;
	int cutting;                  /* past TREE_INLINE_MAX: parts form */
	Buf parts;                    /* PART_ID || PART_LEN of the stored parts */
	size_t nparts;
	size_t total;                 /* TREE bytes so far */
	int rc;                       /* first failure; later calls return it */
};

int tree_stream_begin(TreeStream **out, Repo *repo, BlobWriter *bw, CodecCtx *ctx, size_t count)
{
	TreeStream *s = calloc(1, sizeof *s);

	if (!s)
		return -ENOMEM;
	s->repo = repo;
	s->bw = bw;
	s->ctx = ctx;
	buf_u8(&s->win, FORMAT_VERSION_TREE);
	buf_uv(&s->win, count);
	if (s->win.oom) {
		free(s->win.p);
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void tree_stream_free(TreeStream *s)
{
	if (!s)
		return;
	free(s->win.p);
	free(s->parts.p);
	free(s);
}

/* Store the parts the window holds: while it holds at least a maximum
 * chunk (the cut is then what the whole serialization would give), or
 * everything at the end. Cut points depend only on the bytes from a
 * part's start, so the parts equal those of the tree encoded at once. */
static int emit_parts(TreeStream *s, int at_end, StrataErr *err)
{
	const FastCdc *cdc = &s->repo->cdc;

	while (s->win.len - s->off > 0 && (at_end || s->win.len - s->off >= cdc->max_len)) {
		const uint8_t *p = s->win.p + s->off;
		size_t cut = fastcdc_cut(cdc, p, s->win.len - s->off, at_end);
		uint8_t pid[STRATA_ID_LEN];
		int rc;

		codec_chunk_id(s->repo->keys, p, cut, pid);
		rc = blobwriter_put(s->bw, s->ctx, BLOB_TREEPART, pid, p, cut, NULL, err);
		if (rc)
			return rc;
		buf_put(&s->parts, pid, STRATA_ID_LEN);
		buf_uv(&s->parts, cut);
		if (s->parts.oom)
			return strata_err_set(err, -ENOMEM, "out of memory storing a tree");
		s->nparts++;
		s->off += cut;
	}
	/* Keep the window small: drop the stored bytes once they dominate. */
	if (s->off > s->win.len / 2) {
		memmove(s->win.p, s->win.p + s->off, s->win.len - s->off);
		s->win.len -= s->off;
		s->off = 0;
	}
	return 0;
}

/* After bytes went into the window: account, and cut once it is clear
 * the tree is stored in parts. */
static int stream_added(TreeStream *s, size_t before, StrataErr *err)
{
	if (s->win.oom)
		return s->rc = strata_err_set(err, -ENOMEM, "out of memory storing a tree");
	s->total += s->win.len - before;
	if (s->total > TREE_MAX_BYTES)
		return s->rc = strata_err_set(err, -EFBIG, "a directory's tree is larger than %zu bytes",
		                              (size_t)TREE_MAX_BYTES);
	if (!s->cutting && s->total > TREE_INLINE_MAX)
		s->cutting = 1;
	if (s->cutting && s->win.len - s->off >= 2 * (size_t)s->repo->cdc.max_len)
		s->rc = emit_parts(s, 0, err);
	return s->rc;
}

int tree_stream_node(TreeStream *s, const TreeNode *n, int with_chunks, StrataErr *err)
{
	size_t before = s->win.len;

	if (s->rc)
		return s->rc;
	encode_head(&s->win, n);
	if (with_chunks && n->type == NODE_FILE)
		encode_file_data(&s->win, n);
	return stream_added(s, before, err);
}

int tree_stream_raw(TreeStream *s, const uint8_t *p, size_t len, StrataErr *err)
{
	size_t before = s->win.len;

	if (s->rc)
		return s->rc;
	buf_put(&s->win, p, len);
	return stream_added(s, before, err);
}

int tree_stream_finish(TreeStream *s, uint8_t out_id[STRATA_ID_LEN], StrataErr *err)
{
	Buf obj = {0};
	int rc;

	if (s->rc)
		return s->rc;
	if (!s->cutting) {
		buf_u8(&obj, FORMAT_TREE_INLINE);
		buf_put(&obj, s->win.p + s->off, s->win.len - s->off);
	} else {
		rc = emit_parts(s, 1, err);
		if (rc)
			return s->rc = rc;
		buf_u8(&obj, FORMAT_TREE_PARTS);
		buf_uv(&obj, s->nparts);
		buf_put(&obj, s->parts.p, s->parts.len);
	}
	if (obj.oom) {
		free(obj.p);
		return s->rc = strata_err_set(err, -ENOMEM, "out of memory storing a tree");
	}
	codec_chunk_id(s->repo->keys, obj.p, obj.len, out_id);
	rc = blobwriter_put(s->bw, s->ctx, BLOB_TREE, out_id, obj.p, obj.len, NULL, err);
	free(obj.p);
	return s->rc = rc;
}

int tree_store(Repo *repo, BlobWriter *bw, CodecCtx *ctx, const Tree *t,
               uint8_t out_id[STRATA_ID_LEN], StrataErr *err)
{
	TreeStream *s;
	int rc;

	if (tree_stream_begin(&s, repo, bw, ctx, t->n) != 0)
		return strata_err_set(err, -ENOMEM, "out of memory encoding a tree");
	rc = 0;
	for (size_t i = 0; i < t->n && rc == 0; i++)
		rc = tree_stream_node(s, &t->nodes[i], 1, err);
	if (rc == 0)
		rc = tree_stream_finish(s, out_id, err);
	tree_stream_free(s);
	return rc;
}

int tree_object_parse(const uint8_t *obj, size_t len, TreeObject *out, int *out_unknown_kind)
{
	Rd r = {obj + 1, obj + len, 0};
	uint64_t nparts, total = 0;

	memset(out, 0, sizeof *out);
	*out_unknown_kind = 0;
	if (len >= 1 && obj[0] == FORMAT_TREE_INLINE) {
		out->tree = obj + 1;
		out->tree_len = len - 1;
		return 0;
	}
	if (len < 1 || obj[0] != FORMAT_TREE_PARTS) {
		*out_unknown_kind = 1;
		return STRATA_EFORMAT;
	}
	nparts = rd_uv(&r);
	/* Each entry takes at least 33 bytes: bounds the count before
	 * allocating. */
	if (r.bad || nparts > (uint64_t)(r.end - r.p) / (STRATA_ID_LEN + 1))
		return STRATA_EFORMAT;
	out->parts = malloc((nparts ? nparts : 1) * sizeof *out->parts);
	if (!out->parts)
		return -ENOMEM;
	for (uint64_t i = 0; i < nparts; i++) {
		const uint8_t *pid = rd_bytes(&r, STRATA_ID_LEN);
		uint64_t plen = rd_uv(&r);
		if (r.bad || plen > TREE_MAX_BYTES - total) {
			tree_object_clear(out);
			return STRATA_EFORMAT;
		}
		memcpy(out->parts[i].id, pid, STRATA_ID_LEN);
		out->parts[i].len = plen;
		total += plen;
	}
	out->nparts = (size_t)nparts;
	out->parts_len = total;
	return 0;
}

void tree_object_clear(TreeObject *o)
{
	free(o->parts);
	memset(o, 0, sizeof *o);
}

static int load_with(Repo *repo, CodecCtx *ctx, const uint8_t id[STRATA_ID_LEN], Tree *out, StrataErr *err)
{
	uint8_t *obj = NULL;
	size_t obj_len = 0;
	char hex[STRATA_ID_HEX_LEN + 1];
	TreeObject to = {0};
	Buf s = {0};
	int rc, unknown = 0;

	codec_hex(id, STRATA_ID_LEN, hex);
	rc = blob_read(repo, ctx, BLOB_TREE, id, &obj, &obj_len, err);
	if (rc)
		return rc;
	rc = tree_object_parse(obj, obj_len, &to, &unknown);
	if (rc == -ENOMEM) {
		rc = strata_err_set(err, rc, "out of memory loading tree %.16s", hex);
		goto out;
	}
	if (rc) {
		rc = strata_err_set(err, STRATA_EFORMAT, "tree %.16s: %s", hex,
		                    unknown ? "unknown tree object kind" : "part list is malformed");
		goto out;
	}
	if (to.tree) {
		rc = tree_decode(to.tree, to.tree_len, out, err);
	} else {
		for (size_t i = 0; i < to.nparts; i++) {
			uint8_t *part = NULL;
			size_t part_len = 0;
			rc = blob_read(repo, ctx, BLOB_TREEPART, to.parts[i].id, &part, &part_len, err);
			if (rc)
				goto out;
			if (part_len != to.parts[i].len) {
				free(part);
				rc = strata_err_set(err, STRATA_EFORMAT, "tree %.16s: a part has the wrong length", hex);
				goto out;
			}
			buf_put(&s, part, part_len);
			free(part);
		}
		if (s.oom) {
			rc = strata_err_set(err, -ENOMEM, "out of memory loading tree %.16s", hex);
			goto out;
		}
		rc = tree_decode(s.p, s.len, out, err);
	}
	if (rc)
		strata_err_prefix(err, "tree %.16s", hex);
out:
	tree_object_clear(&to);
	free(obj);
	free(s.p);
	return rc;
}

int tree_load(Repo *repo, const uint8_t id[STRATA_ID_LEN], Tree *out, StrataErr *err)
{
	CodecCtx *ctx = codec_ctx_new();
	int rc;

	if (!ctx)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = load_with(repo, ctx, id, out, err);
	codec_ctx_free(ctx);
	return rc;
}

struct walk {
	Repo *repo;
	CodecCtx *ctx;
	TreeWalkFn fn;
	void *fctx;
	char path[8192];
	StrataErr *err;
	int depth;
};

static int walk_dir(struct walk *w, const uint8_t id[STRATA_ID_LEN], size_t plen)
{
	Tree t;
	int rc;

	if (++w->depth > 1024)
		return strata_err_set(w->err, STRATA_EFORMAT, "tree nesting deeper than 1024 levels at %s", w->path);
	rc = load_with(w->repo, w->ctx, id, &t, w->err);
	if (rc)
		return rc;
	for (size_t i = 0; i < t.n && rc == 0; i++) {
		const TreeNode *n = &t.nodes[i];
		size_t nl = strlen(n->name), len = plen ? plen + 1 + nl : nl;
		if (len >= sizeof w->path) {
			rc = strata_err_set(w->err, -ENAMETOOLONG, "path too long under %s", w->path);
			break;
		}
		if (plen)
			w->path[plen] = '/';
		memcpy(w->path + (plen ? plen + 1 : 0), n->name, nl + 1);
		rc = w->fn(w->path, n, w->fctx);
		if (rc == 0 && n->type == NODE_DIR)
			rc = walk_dir(w, n->subtree, len);
		w->path[plen] = '\0';
	}
	tree_clear(&t);
	w->depth--;
	return rc;
}

int tree_walk(Repo *repo, const uint8_t root[STRATA_ID_LEN], TreeWalkFn fn, void *ctx, StrataErr *err)
{
	struct walk *w = calloc(1, sizeof *w);
	int rc;

	if (!w)
		return strata_err_set(err, -ENOMEM, "out of memory");
	w->ctx = codec_ctx_new();
	if (!w->ctx) {
		free(w);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	w->repo = repo;
	w->fn = fn;
	w->fctx = ctx;
	w->err = err;
	rc = walk_dir(w, root, 0);
	codec_ctx_free(w->ctx);
	free(w);
	return rc;
}

static int copy_node(const TreeNode *src, TreeNode *dst)
{
	*dst = *src;
	dst->name = strdup(src->name);
	dst->link_target = src->link_target ? strdup(src->link_target) : NULL;
	dst->chunks = NULL;
	dst->chunk_lens = NULL;
	if (src->nchunks) {
		dst->chunks = malloc(src->nchunks * STRATA_ID_LEN);
		dst->chunk_lens = malloc(src->nchunks * sizeof *dst->chunk_lens);
		if (dst->chunks && dst->chunk_lens) {
			memcpy(dst->chunks, src->chunks, src->nchunks * STRATA_ID_LEN);
			memcpy(dst->chunk_lens, src->chunk_lens, src->nchunks * sizeof *dst->chunk_lens);
		}
	}
	if (!dst->name || (src->link_target && !dst->link_target) ||
	    (src->nchunks && (!dst->chunks || !dst->chunk_lens))) {
		tree_node_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

int tree_lookup(Repo *repo, const uint8_t root[STRATA_ID_LEN], const char *path,
                TreeNode *out, StrataErr *err)
{
	uint8_t cur[STRATA_ID_LEN];
	char *copy = strdup(path), *save = NULL, *comp;
	int rc = 0;

	if (!copy)
		return strata_err_set(err, -ENOMEM, "out of memory");
	memcpy(cur, root, STRATA_ID_LEN);
	memset(out, 0, sizeof *out);
	comp = strtok_r(copy, "/", &save);
	if (!comp) {
		/* The root itself: a synthetic directory node. */
		out->name = strdup("");
		out->type = NODE_DIR;
		out->mode = 0755;
		memcpy(out->subtree, root, STRATA_ID_LEN);
		free(copy);
		return out->name ? 0 : strata_err_set(err, -ENOMEM, "out of memory");
	}
	while (comp) {
		char *next = strtok_r(NULL, "/", &save);
		Tree t;
		size_t i;
		rc = tree_load(repo, cur, &t, err);
		if (rc)
			break;
		for (i = 0; i < t.n; i++)
			if (strcmp(t.nodes[i].name, comp) == 0)
				break;
		if (i == t.n || (next && t.nodes[i].type != NODE_DIR)) {
			tree_clear(&t);
			rc = strata_err_set(err, STRATA_ENOTFOUND, "path %s not found in the snapshot", path);
			break;
		}
		if (!next) {
			rc = copy_node(&t.nodes[i], out);
			if (rc)
				strata_err_set(err, rc, "out of memory");
		} else {
			memcpy(cur, t.nodes[i].subtree, STRATA_ID_LEN);
		}
		tree_clear(&t);
		comp = next;
	}
	free(copy);
	return rc;
}
