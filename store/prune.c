/* prune.c — see prune.h. FORMAT.md "Prune and concurrent writers".
 *
 * Mark: every snapshot's trees are walked once per distinct tree (the
 * scratch set doubles as the "visited" set), and each newly reached blob is
 * charged to the pack the index places it in. A blob stored in several
 * packs (two hosts wrote it concurrently) is charged to one of them only;
 * the others count it as unused, which is right: after the sweep every
 * reader resolves it to a surviving copy (see the invariants in FORMAT.md).
 */
#include "store/prune.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "store/blob.h"
#include "store/index.h"
#include "store/indexfile.h"
#include "store/repo_internal.h"
#include "store/snapshot.h"
#include "store/tree.h"
#include "store/wal.h"

static const char PLAN_MAGIC[8] = {'S','T','R','A','T','A','P','L'};
#define PLAN_VERSION 1
#define PLAN_DIR "prune"
/* FORMAT.md "Tree object": the first byte of a tree object. */
#define TREE_OBJ_INLINE 0
#define TREE_OBJ_PARTS  1
#define TREE_DEPTH_MAX  1024          /* as tree_walk */
/* Replacement index files list at most this many packs each (about 23 MiB
 * of entries at 512 blobs per pack before compression). */
#define REWRITE_PACKS   1024
#define MAX_RESYNCS     3

enum { WHY_KEEP = 0, WHY_UNUSED, WHY_ORPHAN, WHY_REPACK };
static const char *const WHY_NAME[] = { "keep", "unused", "orphan", "repack" };

typedef struct PackStat {
	uint8_t  id[STRATA_ID_LEN];
	uint8_t  kind;               /* PACK_KIND_DATA / PACK_KIND_TREE */
	uint8_t  why;                /* WHY_* */
	uint8_t  resurrected;        /* sweep: a newer snapshot needs it */
	uint8_t  in_mixed;           /* sweep: listed by an index file that keeps other packs */
	uint32_t count;              /* entries (0 for orphans: unknown) */
	uint64_t size;
	uint64_t used_count, used_bytes;
} PackStat;

typedef struct PackList {
	PackStat *v;
	size_t n, cap;
} PackList;

typedef struct Plan {
	uint8_t  id[STRATA_ID_LEN];
	int64_t  created_ns;
	uint8_t (*snaps)[STRATA_ID_LEN];   /* sorted */
	size_t   nsnaps;
	PackList packs;                    /* condemned, sorted by id */
	PackList written;                  /* repack copies */
} Plan;

/* Walking trees, in one of two modes. */
typedef struct Marker {
	Repo     *repo;
	Index    *ix;
	CodecCtx *ctx;
	IndexSet *seen;              /* blobs reached (mark) or known safe (sweep) */
	int       sweep;             /* 0: charge packs; 1: resurrect condemned ones */
	PackList *packs;             /* mark: every pack; sweep: the condemned ones */
	IndexSet *rescued;           /* sweep: blobs the plan copied; may be NULL */
	char      root[64];          /* what is being walked: "snapshot 3fa1c2d4", "the WAL archive" */
	int       depth;
	int       resyncs;           /* index re-syncs after a miss, at most MAX_RESYNCS */
	StrataErr *err;
} Marker;

static void say(const PruneOptions *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(const PruneOptions *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!o->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	o->log(line, o->log_ctx);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, STRATA_ID_LEN);
}

/* PackStat starts with its ID, so cmp_id orders and finds both. */
static PackStat *pack_find(const PackList *l, const uint8_t id[STRATA_ID_LEN])
{
	return l->n ? bsearch(id, l->v, l->n, sizeof *l->v, cmp_id) : NULL;
}

static PackStat *pack_push(PackList *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		void *p = realloc(l->v, cap * sizeof *l->v);
		if (!p)
			return NULL;
		l->v = p;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof l->v[l->n]);
	return &l->v[l->n++];
}

/* Insert pack id (from the index) into the sorted list l. */
static int pack_insert(Index *ix, PackList *l, const uint8_t id[STRATA_ID_LEN], PackStat **out)
{
	IndexPackInfo info;
	PackStat ps;
	size_t at = 0;

	if (index_pack_info(ix, id, &info) != 0)
		return STRATA_ENOTFOUND;
	memset(&ps, 0, sizeof ps);
	memcpy(ps.id, id, STRATA_ID_LEN);
	ps.kind = info.kind;
	ps.count = info.count;
	ps.size = info.size;
	if (!pack_push(l))
		return -ENOMEM;
	while (at < l->n - 1 && memcmp(l->v[at].id, id, STRATA_ID_LEN) < 0)
		at++;
	memmove(&l->v[at + 1], &l->v[at], (l->n - 1 - at) * sizeof *l->v);
	l->v[at] = ps;
	*out = &l->v[at];
	return 0;
}

/* Bytes of a pack of n entries that are not blobs: the sealed trailer and
 * the footer (FORMAT.md "Sealed file", "Pack file"). */
static uint64_t pack_overhead(uint32_t n)
{
	return SEALED_HEADER_LEN + CODEC_NONCE_LEN + 5 + (uint64_t)PACK_ENTRY_LEN * n + CODEC_TAG_LEN +
	       PACK_FOOTER_LEN;
}

static void id_short(const uint8_t id[STRATA_ID_LEN], char out[STRATA_ID_HEX_LEN + 1])
{
	codec_hex(id, STRATA_ID_LEN, out);
}

static int scratch_dir(Repo *repo, const char *what, char *out, size_t len, StrataErr *err)
{
	Index *ix;
	int rc = repo_index(repo, &ix, err);   /* creates the cache directory */

	if (rc)
		return rc;
	if (snprintf(out, len, "%s/prune-%s", repo->cache_dir, what) >= (int)len)
		return strata_err_set(err, -ENAMETOOLONG, "cache directory path too long: %s", repo->cache_dir);
	return 0;
}

/* ---- walking trees ---- */

/* Reach blob id of type: 1 when reached for the first time (its location
 * in *out_e when out_e), 0 when seen before (or known safe), < 0 error. */
static int visit_blob(Marker *m, uint8_t type, const uint8_t id[STRATA_ID_LEN], IndexEntry *out_e)
{
	char hex[STRATA_ID_HEX_LEN + 1];
	IndexEntry e;
	PackStat *ps;
	int rc;

	rc = index_set_add(m->seen, id, m->err);
	if (rc <= 0)
		return rc;
	rc = index_lookup(m->ix, id, &e);
	/* The local index is a cache another process on this machine may be
	 * rebuilding right now: sync and look again before calling it damage. */
	if (rc == STRATA_ENOTFOUND && m->resyncs < MAX_RESYNCS) {
		m->resyncs++;
		rc = indexfile_sync(m->repo, m->ix, m->err);
		if (rc)
			return rc;
		rc = index_lookup(m->ix, id, &e);
	}
	if (rc != 0 || e.type != type) {
		id_short(id, hex);
		return strata_err_set(m->err, STRATA_EDAMAGED,
		                      "%s needs %s blob %.16s, which no index file lists%s: prune deletes nothing until `strata check` and `strata repair` have dealt with it",
		                      m->root, type == BLOB_DATA ? "data" : "tree", hex,
		                      rc == 0 ? " with that type" : "");
	}
	ps = pack_find(m->packs, e.pack);
	if (!m->sweep) {
		/* A pack a backup stored after the packs were listed: charge it
		 * all the same, so it is kept. */
		if (!ps && (rc = pack_insert(m->ix, m->packs, e.pack, &ps)) != 0) {
			id_short(e.pack, hex);
			return strata_err_set(m->err, rc == -ENOMEM ? rc : STRATA_EDAMAGED,
			                      rc == -ENOMEM ? "out of memory" :
			                      "the index places a blob in pack %.16s, which it does not list; delete the cache directory to rebuild it",
			                      hex);
		}
		ps->used_count++;
		ps->used_bytes += e.length;
	} else if (ps && !ps->resurrected && !(m->rescued && index_set_has(m->rescued, id))) {
		ps->resurrected = 1;
	}
	if (out_e)
		*out_e = e;
	return 1;
}

static uint64_t read_uvarint(const uint8_t **p, const uint8_t *end, int *bad)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			break;
		uint8_t c = *(*p)++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	*bad = 1;
	return 0;
}

static int read_blob(Marker *m, const uint8_t id[STRATA_ID_LEN], const IndexEntry *e, uint8_t **out)
{
	uint8_t *buf = malloc(e->raw_len ? e->raw_len : 1);
	int rc;

	if (!buf)
		return strata_err_set(m->err, -ENOMEM, "out of memory");
	rc = blob_read_at(m->repo, m->ctx, id, e, buf, m->err);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

/* Load tree id (located at e), reaching its parts (FORMAT.md "Tree
 * object"). tree.c assembles trees the same way but does not expose the
 * part IDs, which prune must reach. */
static int load_tree(Marker *m, const uint8_t id[STRATA_ID_LEN], const IndexEntry *e, Tree *out)
{
	uint8_t *obj = NULL, *whole = NULL;
	const uint8_t *p, *end;
	size_t len = 0;
	int rc, bad = 0;

	rc = read_blob(m, id, e, &obj);
	if (rc)
		return rc;
	p = obj + 1;
	end = obj + e->raw_len;
	if (e->raw_len >= 1 && obj[0] == TREE_OBJ_INLINE) {
		rc = tree_decode(p, (size_t)(end - p), out, m->err);
		goto out;
	}
	if (e->raw_len < 1 || obj[0] != TREE_OBJ_PARTS)
		goto malformed;
	uint64_t nparts = read_uvarint(&p, end, &bad);
	if (bad || nparts > (uint64_t)(end - p) / (STRATA_ID_LEN + 1))
		goto malformed;
	for (uint64_t i = 0; i < nparts; i++) {
		const uint8_t *pid = p;
		IndexEntry pe;
		uint8_t *part = NULL;
		if ((size_t)(end - p) < STRATA_ID_LEN)
			goto malformed;
		p += STRATA_ID_LEN;
		uint64_t plen = read_uvarint(&p, end, &bad);
		if (bad)
			goto malformed;
		rc = visit_blob(m, BLOB_TREEPART, pid, &pe);
		if (rc == 0 && index_lookup(m->ix, pid, &pe) != 0)
			rc = strata_err_set(m->err, STRATA_EDAMAGED, "tree part vanished from the index");
		if (rc < 0)
			goto out;
		if (pe.raw_len != plen || len + plen > ((size_t)1 << 31))
			goto malformed;
		void *grown = realloc(whole, len + plen + 1);
		if (!grown) {
			rc = strata_err_set(m->err, -ENOMEM, "out of memory");
			goto out;
		}
		whole = grown;
		rc = read_blob(m, pid, &pe, &part);
		if (rc)
			goto out;
		memcpy(whole + len, part, plen);
		len += plen;
		free(part);
	}
	rc = tree_decode(whole ? whole : obj, len, out, m->err);
	goto out;
malformed:
	rc = strata_err_set(m->err, STRATA_EDAMAGED, "tree object is malformed");
out:
	free(obj);
	free(whole);
	return rc;
}

static int mark_tree(Marker *m, const uint8_t id[STRATA_ID_LEN])
{
	char hex[STRATA_ID_HEX_LEN + 1];
	IndexEntry e;
	Tree t = {0};
	int rc;

	rc = visit_blob(m, BLOB_TREE, id, &e);
	if (rc <= 0)
		return rc;
	if (++m->depth > TREE_DEPTH_MAX) {
		rc = strata_err_set(m->err, STRATA_EDAMAGED, "trees nested deeper than %d levels", TREE_DEPTH_MAX);
		goto out;
	}
	rc = load_tree(m, id, &e, &t);
	if (rc) {
		id_short(id, hex);
		strata_err_prefix(m->err, "%s, tree %.16s", m->root, hex);
		goto out;
	}
	for (size_t i = 0; i < t.n && rc >= 0; i++) {
		const TreeNode *n = &t.nodes[i];
		if (n->type == NODE_FILE)
			for (size_t c = 0; c < n->nchunks && rc >= 0; c++)
				rc = visit_blob(m, BLOB_DATA, n->chunks[c], NULL);
		else if (n->type == NODE_DIR)
			rc = mark_tree(m, n->subtree);
	}
	rc = rc < 0 ? rc : 0;
out:
	tree_clear(&t);
	m->depth--;
	return rc;
}

static int walk_snapshot(Marker *m, const Snapshot *s)
{
	char hex[STRATA_ID_HEX_LEN + 1];

	codec_hex(s->id, STRATA_ID_LEN, hex);
	snprintf(m->root, sizeof m->root, "snapshot %.8s", hex);
	m->depth = 0;
	return mark_tree(m, s->tree);
}

static int visit_wal_chunk(const uint8_t id[STRATA_ID_LEN], uint32_t raw_len, void *ctx)
{
	int rc = visit_blob(ctx, BLOB_DATA, id, NULL);

	(void)raw_len;
	return rc < 0 ? rc : 0;
}

/* WAL descriptors are roots like snapshots (FORMAT.md "WAL archive"). */
static int walk_wal(Marker *m)
{
	snprintf(m->root, sizeof m->root, "the WAL archive");
	return wal_foreach_chunk(m->repo, visit_wal_chunk, m, m->err);
}

/* ---- the plan file (FORMAT.md "Prune plan") ---- */

static void plan_free(Plan *p)
{
	if (!p)
		return;
	free(p->snaps);
	free(p->packs.v);
	free(p->written.v);
	memset(p, 0, sizeof *p);
}

static int plan_write(Repo *repo, Plan *p, StrataErr *err)
{
	json_t *o = json_object(), *snaps = json_array(), *packs = json_array(), *written = json_array();
	char hex[STRATA_ID_HEX_LEN + 1], host[256];
	char *text = NULL;
	int rc = -ENOMEM;

	if (!o || !snaps || !packs || !written)
		goto out;
	if (gethostname(host, sizeof host) != 0)
		strcpy(host, "unknown");
	host[sizeof host - 1] = '\0';
	for (size_t i = 0; i < p->nsnaps; i++) {
		codec_hex(p->snaps[i], STRATA_ID_LEN, hex);
		if (json_array_append_new(snaps, json_string(hex)))
			goto out;
	}
	for (size_t i = 0; i < p->packs.n; i++) {
		const PackStat *ps = &p->packs.v[i];
		codec_hex(ps->id, STRATA_ID_LEN, hex);
		if (json_array_append_new(packs, json_pack("[s, i, I, s]", hex, ps->kind, (json_int_t)ps->size,
		                                           WHY_NAME[ps->why])))
			goto out;
	}
	for (size_t i = 0; i < p->written.n; i++) {
		codec_hex(p->written.v[i].id, STRATA_ID_LEN, hex);
		if (json_array_append_new(written, json_pack("[s, i]", hex, p->written.v[i].kind)))
			goto out;
	}
	if (json_object_set_new(o, "version", json_integer(PLAN_VERSION)) ||
	    json_object_set_new(o, "created_ns", json_integer(p->created_ns)) ||
	    json_object_set_new(o, "host", json_string(host)) ||
	    json_object_set(o, "snapshots", snaps) || json_object_set(o, "packs", packs) ||
	    json_object_set(o, "written", written))
		goto out;
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		goto out;
	rc = repo_write_named(repo, PLAN_DIR, PLAN_MAGIC, PLAN_VERSION, text, strlen(text), p->id, err);
out:
	if (rc == -ENOMEM)
		strata_err_set(err, rc, "out of memory writing the prune plan");
	free(text);
	json_decref(o);
	json_decref(snaps);
	json_decref(packs);
	json_decref(written);
	return rc;
}

static int parse_id(json_t *v, uint8_t out[STRATA_ID_LEN])
{
	const char *s = json_string_value(v);

	return s && codec_unhex(s, out, STRATA_ID_LEN) == 0 ? 0 : STRATA_EFORMAT;
}

static int plan_read(Repo *repo, const uint8_t id[STRATA_ID_LEN], Plan *p, StrataErr *err)
{
	uint8_t *buf = NULL;
	size_t len = 0, i;
	json_t *o = NULL, *snaps, *packs, *written, *v;
	json_error_t jerr;
	json_int_t created = 0;
	char hex[STRATA_ID_HEX_LEN + 1];
	int rc;

	memset(p, 0, sizeof *p);
	memcpy(p->id, id, STRATA_ID_LEN);
	rc = repo_read_named(repo, PLAN_DIR, id, PLAN_MAGIC, PLAN_VERSION, &buf, &len, err);
	if (rc)
		return rc;
	o = json_loadb((const char *)buf, len, 0, &jerr);
	free(buf);
	rc = STRATA_EFORMAT;
	if (!o || json_unpack(o, "{s:I, s:o, s:o, s:o}", "created_ns", &created, "snapshots", &snaps,
	                      "packs", &packs, "written", &written) != 0 ||
	    !json_is_array(snaps) || !json_is_array(packs) || !json_is_array(written))
		goto out;
	p->created_ns = created;
	p->snaps = malloc((json_array_size(snaps) + 1) * sizeof *p->snaps);
	if (!p->snaps) {
		rc = -ENOMEM;
		goto out;
	}
	json_array_foreach(snaps, i, v) {
		if (parse_id(v, p->snaps[i]) != 0)
			goto out;
	}
	p->nsnaps = json_array_size(snaps);
	qsort(p->snaps, p->nsnaps, sizeof *p->snaps, cmp_id);
	json_array_foreach(packs, i, v) {
		const char *why = NULL, *idhex = NULL;
		int kind = 0;
		json_int_t size = 0;
		PackStat *ps = pack_push(&p->packs);
		if (!ps) {
			rc = -ENOMEM;
			goto out;
		}
		if (json_unpack(v, "[s, i, I, s]", &idhex, &kind, &size, &why) != 0 ||
		    codec_unhex(idhex, ps->id, STRATA_ID_LEN) != 0 || (kind != PACK_KIND_DATA && kind != PACK_KIND_TREE))
			goto out;
		ps->kind = (uint8_t)kind;
		ps->size = (uint64_t)size;
		ps->why = strcmp(why, "orphan") == 0 ? WHY_ORPHAN : strcmp(why, "repack") == 0 ? WHY_REPACK : WHY_UNUSED;
	}
	qsort(p->packs.v, p->packs.n, sizeof *p->packs.v, cmp_id);
	json_array_foreach(written, i, v) {
		const char *idhex = NULL;
		int kind = 0;
		PackStat *ps = pack_push(&p->written);
		if (!ps) {
			rc = -ENOMEM;
			goto out;
		}
		if (json_unpack(v, "[s, i]", &idhex, &kind) != 0 || codec_unhex(idhex, ps->id, STRATA_ID_LEN) != 0 ||
		    (kind != PACK_KIND_DATA && kind != PACK_KIND_TREE))
			goto out;
		ps->kind = (uint8_t)kind;
	}
	rc = 0;
out:
	json_decref(o);
	if (rc) {
		plan_free(p);
		codec_hex(id, STRATA_ID_LEN, hex);
		return strata_err_set(err, rc, PLAN_DIR "/%s: %s", hex,
		                      rc == -ENOMEM ? "out of memory" : "content is malformed");
	}
	return 0;
}

static int plan_delete(Repo *repo, const uint8_t id[STRATA_ID_LEN], StrataErr *err)
{
	char name[REPO_NAME_MAX], hex[STRATA_ID_HEX_LEN + 1];
	RemoteErr rerr = {{0}};
	int rc;

	codec_hex(id, STRATA_ID_LEN, hex);
	snprintf(name, sizeof name, PLAN_DIR "/%s", hex);
	rc = backend_delete(repo->be, name, &rerr);
	return rc && rc != -ENOENT ? repo_remote_err(err, rc, &rerr) : 0;
}

/* ---- the sweep ---- */

/* Index file covering the packs resurrected by a sweep, read from their
 * trailers: whatever index files are replaced, they stay listed. */
static int cover_resurrected(Repo *repo, const PackList *condemned, PruneStats *st, StrataErr *err)
{
	IndexFilePack *ifp = NULL;
	uint8_t file_id[STRATA_ID_LEN];
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < condemned->n; i++)
		n += condemned->v[i].resurrected;
	if (n == 0)
		return 0;
	ifp = calloc(n, sizeof *ifp);
	if (!ifp)
		return strata_err_set(err, -ENOMEM, "out of memory");
	n = 0;
	for (size_t i = 0; i < condemned->n && rc == 0; i++) {
		const PackStat *ps = &condemned->v[i];
		if (!ps->resurrected)
			continue;
		memcpy(ifp[n].id, ps->id, STRATA_ID_LEN);
		ifp[n].kind = ps->kind;
		rc = blob_pack_trailer(repo, ps->kind, ps->id, &ifp[n].entries, &ifp[n].n, &ifp[n].size, err);
		if (rc)
			strata_err_prefix(err, "a snapshot made since the prune plan needs this pack");
		else
			n++;
	}
	if (rc == 0) {
		rc = indexfile_write(repo, ifp, n, file_id, err);
		st->index_files_written += rc == 0;
	}
	indexfile_packs_free(ifp, n);
	return rc;
}

static int is_condemned(const PackList *condemned, const uint8_t id[STRATA_ID_LEN])
{
	const PackStat *ps = pack_find(condemned, id);

	return ps && !ps->resurrected;
}

static int flush_batch(Repo *repo, IndexFilePack *batch, size_t *n, PruneStats *st, StrataErr *err)
{
	uint8_t id[STRATA_ID_LEN];
	int rc = 0;

	if (*n)
		rc = indexfile_write(repo, batch, *n, id, err);
	st->index_files_written += *n && rc == 0;
	for (size_t i = 0; i < *n; i++)
		free(batch[i].entries);
	*n = 0;
	return rc;
}

static int delete_name(Repo *repo, const char *name, StrataErr *err)
{
	RemoteErr rerr = {{0}};
	int rc = backend_delete(repo->be, name, &rerr);

	return rc && rc != -ENOENT ? repo_remote_err(err, rc, &rerr) : 0;
}

static int delete_index_files(Repo *repo, uint8_t (*ids)[STRATA_ID_LEN], size_t n, PruneStats *st,
                              StrataErr *err)
{
	char name[REPO_NAME_MAX], hex[STRATA_ID_HEX_LEN + 1];
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		codec_hex(ids[i], STRATA_ID_LEN, hex);
		snprintf(name, sizeof name, "index/%s", hex);
		rc = delete_name(repo, name, err);
		st->index_files_replaced += rc == 0;
	}
	return rc;
}

/* Delete the condemned packs (not resurrected) with in_mixed == mixed. */
static int delete_packs(Repo *repo, const PackList *condemned, int mixed, PruneStats *st, StrataErr *err)
{
	char name[REPO_NAME_MAX];
	int rc = 0;

	for (size_t i = 0; i < condemned->n && rc == 0; i++) {
		const PackStat *ps = &condemned->v[i];
		if (ps->resurrected || ps->in_mixed != mixed)
			continue;
		repo_pack_name(ps->kind, ps->id, name);
		rc = delete_name(repo, name, err);
		if (rc == 0) {
			st->packs_deleted++;
			st->bytes_deleted += ps->size;
		}
	}
	return rc;
}

/* Replace the index files and delete the condemned packs, in an order that
 * frees space before writing anything (a sweep must work on a full disk
 * when it only has to delete):
 *   1. index files listing only condemned packs: nothing replaces them;
 *   2. the condemned packs no remaining index file lists;
 *   3. replacements for the files that mix kept and condemned packs, then
 *      those files, then the remaining condemned packs.
 * Invariant at every step: a pack is deleted only once no index file
 * lists it (FORMAT.md "Prune and concurrent writers"). */
static int sweep_delete(Repo *repo, PackList *condemned, Lock *xl, PruneStats *st, StrataErr *err)
{
	uint8_t (*ids)[STRATA_ID_LEN] = NULL, (*whole)[STRATA_ID_LEN] = NULL, (*mixed)[STRATA_ID_LEN] = NULL;
	IndexFilePack *batch = calloc(REWRITE_PACKS, sizeof *batch);
	size_t nids = 0, nwhole = 0, nmixed = 0, nbatch = 0;
	int rc;

	if (!batch)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = repo_list_ids(repo, "index/", &ids, &nids, err);
	if (rc)
		goto out;
	whole = malloc((nids ? nids : 1) * sizeof *whole);
	mixed = malloc((nids ? nids : 1) * sizeof *mixed);
	if (!whole || !mixed) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nids && rc == 0; i++) {
		IndexFilePack *packs = NULL;
		size_t n = 0, hit = 0;
		rc = indexfile_read(repo, ids[i], &packs, &n, err);
		if (rc)
			break;
		for (size_t j = 0; j < n; j++)
			hit += is_condemned(condemned, packs[j].id);
		if (hit && hit == n) {
			memcpy(whole[nwhole++], ids[i], STRATA_ID_LEN);
		} else if (hit) {
			memcpy(mixed[nmixed++], ids[i], STRATA_ID_LEN);
			for (size_t j = 0; j < n; j++) {
				PackStat *ps = pack_find(condemned, packs[j].id);
				if (ps)
					ps->in_mixed = 1;
			}
		}
		indexfile_packs_free(packs, n);
	}
	/* Nothing is deleted unless the exclusive lock still holds. */
	if (rc == 0)
		rc = lock_check(xl, err);
	if (rc == 0)
		rc = delete_index_files(repo, whole, nwhole, st, err);
	if (rc == 0)
		rc = delete_packs(repo, condemned, 0, st, err);
	for (size_t i = 0; i < nmixed && rc == 0; i++) {
		IndexFilePack *packs = NULL;
		size_t n = 0;
		rc = indexfile_read(repo, mixed[i], &packs, &n, err);
		for (size_t j = 0; j < n && rc == 0; j++) {
			if (is_condemned(condemned, packs[j].id))
				continue;
			batch[nbatch++] = packs[j];
			packs[j].entries = NULL;
			if (nbatch == REWRITE_PACKS)
				rc = flush_batch(repo, batch, &nbatch, st, err);
		}
		indexfile_packs_free(packs, n);
	}
	if (rc == 0)
		rc = flush_batch(repo, batch, &nbatch, st, err);
	if (rc == 0)
		rc = lock_check(xl, err);
	if (rc == 0)
		rc = delete_index_files(repo, mixed, nmixed, st, err);
	if (rc == 0)
		rc = delete_packs(repo, condemned, 1, st, err);
out:
	for (size_t i = 0; i < nbatch; i++)
		free(batch[i].entries);
	free(batch);
	free(ids);
	free(whole);
	free(mixed);
	return rc;
}

/* Fill rescued with every blob of the plan's repack copies. 1 when a copy
 * is missing (the plan must not be swept), 0, or an error. */
static int load_rescued(Repo *repo, const Plan *p, IndexSet *rescued, StrataErr *err)
{
	for (size_t i = 0; i < p->written.n; i++) {
		PackEntry *entries = NULL;
		size_t n = 0;
		uint64_t size;
		StrataErr perr = {0, ""};
		int rc = blob_pack_trailer(repo, p->written.v[i].kind, p->written.v[i].id, &entries, &n, &size, &perr);
		if (rc == -ENOENT || rc == STRATA_EAUTH || rc == STRATA_EFORMAT || rc == STRATA_EVERSION)
			return 1;
		if (rc) {
			if (err)
				*err = perr;
			return rc;
		}
		for (size_t j = 0; j < n && rc >= 0; j++)
			rc = index_set_add(rescued, entries[j].id, err);
		free(entries);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Carry plan p out; the caller holds the exclusive lock xl. marks: the
 * plan's own mark set when this process wrote it (then blobs in it are
 * known safe and the re-check skips them), else NULL. */
static int sweep_one(Repo *repo, Index *ix, const PruneOptions *o, Plan *p, IndexSet *marks, Lock *xl,
                     PruneStats *st, StrataErr *err)
{
	char dir[PATH_MAX], hex[STRATA_ID_HEX_LEN + 1];
	IndexSet *rescued = NULL, *fresh = NULL;
	Snapshot *snaps = NULL;
	size_t nsnaps = 0, nnew = 0;
	Marker m;
	int rc;

	codec_hex(p->id, STRATA_ID_LEN, hex);
	memset(&m, 0, sizeof m);
	if (p->written.n) {
		rc = scratch_dir(repo, "rescued", dir, sizeof dir, err);
		if (rc == 0)
			rc = index_set_open(dir, &rescued, err);
		if (rc == 0)
			rc = load_rescued(repo, p, rescued, err);
		if (rc == 1) {
			/* Only repair or a person deletes packs outside a sweep; the
			 * blobs of the repacked packs may exist nowhere else now. */
			say(o, "prune plan %.8s: a repacked copy is missing; dropping the plan without deleting anything", hex);
			st->plans_abandoned++;
			rc = plan_delete(repo, p->id, err);
			goto out;
		}
		if (rc)
			goto out;
	}
	if (!marks) {
		rc = scratch_dir(repo, "recheck", dir, sizeof dir, err);
		if (rc == 0)
			rc = index_set_open(dir, &fresh, err);
		if (rc)
			goto out;
	}
	m.repo = repo;
	m.ix = ix;
	m.ctx = codec_ctx_new();
	m.seen = marks ? marks : fresh;
	m.sweep = 1;
	m.packs = &p->packs;
	m.rescued = rescued;
	m.err = err;
	if (!m.ctx) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* Re-check every snapshot the plan did not know. */
	rc = snapshot_list(repo, &snaps, &nsnaps, err);
	for (size_t i = 0; i < nsnaps && rc == 0; i++) {
		if (p->nsnaps && bsearch(snaps[i].id, p->snaps, p->nsnaps, sizeof *p->snaps, cmp_id))
			continue;
		nnew++;
		rc = walk_snapshot(&m, &snaps[i]);
	}
	/* Every WAL descriptor: they carry no creation order to tell new from
	 * old, and cost one small read each. */
	if (rc == 0)
		rc = walk_wal(&m);
	if (rc)
		goto out;
	for (size_t i = 0; i < p->packs.n; i++)
		st->packs_resurrected += p->packs.v[i].resurrected;
	say(o, "prune plan %.8s: %zu snapshot(s) made since it was written re-checked, %llu condemned pack(s) still needed",
	    hex, nnew, (unsigned long long)st->packs_resurrected);
	rc = cover_resurrected(repo, &p->packs, st, err);
	if (rc == 0)
		rc = sweep_delete(repo, &p->packs, xl, st, err);
	if (rc == 0)
		rc = plan_delete(repo, p->id, err);
	if (rc == 0)
		st->plans_swept++;
out:
	codec_ctx_free(m.ctx);
	snapshot_list_free(snaps, nsnaps);
	index_set_free(rescued);
	index_set_free(fresh);
	return rc;
}

static int cmp_plan_time(const void *a, const void *b)
{
	const Plan *x = a, *y = b;

	return x->created_ns < y->created_ns ? -1 : x->created_ns > y->created_ns;
}

/* A reason to wait with plan p, or NULL when it may be swept now. */
static const char *not_ready(const PruneOptions *o, const Plan *p, int64_t now)
{
	int64_t age_s = (now - p->created_ns) / 1000000000LL;
	int has[2] = {0, 0};

	for (size_t i = 0; i < p->packs.n; i++)
		has[p->packs.v[i].kind == PACK_KIND_TREE] = 1;
	if (age_s < o->grace_s)
		return "its grace period has not passed";
	if (has[0] && age_s < o->min_age_data_s)
		return "data packs have not reached their minimum age before deletion";
	if (has[1] && age_s < o->min_age_tree_s)
		return "tree packs have not reached their minimum age before deletion";
	return NULL;
}

/* Sweep every pending plan that is ready. fresh_id/marks: the plan this run
 * just wrote and its mark set (NULL when none). */
static int sweep_plans(Repo *repo, Index *ix, const PruneOptions *o, const uint8_t *fresh_id,
                       IndexSet *marks, PruneStats *st, StrataErr *err)
{
	uint8_t (*ids)[STRATA_ID_LEN] = NULL;
	Plan *plans = NULL;
	size_t nids = 0, nplans = 0, ready = 0;
	LockOptions lo;
	Lock *xl = NULL;
	int64_t now = now_ns();
	char hex[STRATA_ID_HEX_LEN + 1];
	int rc;

	rc = repo_list_ids(repo, PLAN_DIR "/", &ids, &nids, err);
	if (rc || nids == 0)
		goto out;
	plans = calloc(nids, sizeof *plans);
	if (!plans) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (nplans = 0; nplans < nids; nplans++) {
		rc = plan_read(repo, ids[nplans], &plans[nplans], err);
		if (rc)
			goto out;
	}
	qsort(plans, nplans, sizeof *plans, cmp_plan_time);
	for (size_t i = 0; i < nplans; i++) {
		const char *why = not_ready(o, &plans[i], now);
		if (!why) {
			ready++;
			continue;
		}
		codec_hex(plans[i].id, STRATA_ID_LEN, hex);
		snprintf(st->deferred, sizeof st->deferred, "prune plan %.8s waits: %s", hex, why);
		st->plans_pending++;
	}
	if (ready == 0 || o->dry_run)
		goto out;
	memset(&lo, 0, sizeof lo);
	if (o->lock)
		lo = *o->lock;
	lo.command = "prune";
	rc = lock_acquire(repo, LOCK_EXCLUSIVE, &lo, &xl, err);
	if (rc == STRATA_ELOCKED) {
		snprintf(st->deferred, sizeof st->deferred,
		         "deleting waits until no other strata uses the repository (%s); run `strata prune` again later",
		         err ? err->msg : "locked");
		st->plans_pending += ready;
		strata_err_clear(err);
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	/* Index files written since this process synced (by backups that have
	 * finished: we hold the exclusive lock) are needed for the re-check. */
	rc = indexfile_sync(repo, ix, err);
	for (size_t i = 0; i < nplans && rc == 0; i++) {
		if (not_ready(o, &plans[i], now))
			continue;
		codec_hex(plans[i].id, STRATA_ID_LEN, hex);
		say(o, "sweeping prune plan %.8s: %zu condemned pack(s)", hex, plans[i].packs.n);
		rc = sweep_one(repo, ix, o, &plans[i],
		               fresh_id && memcmp(fresh_id, plans[i].id, STRATA_ID_LEN) == 0 ? marks : NULL,
		               xl, st, err);
	}
	/* The replaced index files are gone: this rebuilds the local index. */
	if (rc == 0)
		rc = indexfile_sync(repo, ix, err);
out:
	lock_release(xl);
	for (size_t i = 0; i < nplans; i++)
		plan_free(&plans[i]);
	free(plans);
	free(ids);
	return rc;
}

/* ---- the mark phase ---- */

static int collect_pack(const uint8_t pack[CODEC_ID_LEN], const IndexPackInfo *info, void *ctx)
{
	PackList *l = ctx;
	PackStat *ps = pack_push(l);

	if (!ps)
		return -ENOMEM;
	memcpy(ps->id, pack, STRATA_ID_LEN);
	ps->kind = info->kind;
	ps->count = info->count;
	ps->size = info->size;
	return 0;
}

typedef struct OrphanScan {
	const PackList *known;
	PackList *orphans;
	uint8_t kind;
	int oom;
} OrphanScan;

static int collect_orphan(const char *name, uint64_t size, void *ctx)
{
	OrphanScan *s = ctx;
	const char *base = strrchr(name, '/');
	uint8_t id[STRATA_ID_LEN];
	PackStat *ps;

	if (!base || codec_unhex(base + 1, id, STRATA_ID_LEN) != 0 || pack_find(s->known, id))
		return 0;
	ps = pack_push(s->orphans);
	if (!ps) {
		s->oom = 1;
		return 1;
	}
	memcpy(ps->id, id, STRATA_ID_LEN);
	ps->kind = s->kind;
	ps->size = size;
	ps->why = WHY_ORPHAN;
	return 0;
}

static int find_orphans(Repo *repo, const PackList *known, PackList *orphans, StrataErr *err)
{
	static const char *const dirs[2] = { "data/", "tree/" };
	RemoteErr rerr = {{0}};

	for (uint8_t k = 0; k < 2; k++) {
		OrphanScan s = { known, orphans, k, 0 };
		int rc = backend_list(repo->be, dirs[k], collect_orphan, &s, &rerr);
		if (s.oom)
			return strata_err_set(err, -ENOMEM, "out of memory");
		if (rc)
			return repo_remote_err(err, rc, &rerr);
	}
	return 0;
}

static void decide(PackList *packs, const PackList *orphans, double max_unused, PruneStats *st)
{
	for (size_t i = 0; i < packs->n; i++) {
		PackStat *ps = &packs->v[i];
		uint64_t over = pack_overhead(ps->count);
		uint64_t area = ps->size > over ? ps->size - over : 0;
		uint64_t unused = area > ps->used_bytes ? area - ps->used_bytes : 0;

		st->packs++;
		st->pack_bytes += ps->size;
		st->used_blobs += ps->used_count;
		st->used_bytes += ps->used_bytes;
		if (ps->used_count == 0) {
			ps->why = WHY_UNUSED;
			st->unused_packs++;
			st->unused_pack_bytes += ps->size;
		} else if ((double)unused > max_unused * (double)area) {
			ps->why = WHY_REPACK;
			st->repack_packs++;
			st->repack_bytes += ps->size;
			st->repack_used_bytes += ps->used_bytes;
		} else {
			st->kept_unused_bytes += unused;
		}
	}
	for (size_t i = 0; i < orphans->n; i++) {
		st->orphan_packs++;
		st->orphan_bytes += orphans->v[i].size;
	}
}

/* Copy the live blobs of every WHY_REPACK pack into new packs: every
 * marked blob the pack holds, once. Locations come from the pack's trailer,
 * not the local index: another process may rebuild that index meanwhile,
 * and a marked blob charged to this pack must be copied whatever the index
 * says now (the sweep trusts marked blobs to survive). */
typedef struct Written {
	PackList *list;
	int oom;
} Written;

static void note_written(const uint8_t pack[CODEC_ID_LEN], uint8_t kind, void *ctx)
{
	Written *w = ctx;
	PackStat *ps = pack_push(w->list);

	if (!ps) {
		w->oom = 1;
		return;
	}
	memcpy(ps->id, pack, STRATA_ID_LEN);
	ps->kind = kind;
}

static int repack(Repo *repo, const PruneOptions *o, const PackList *packs, IndexSet *marks,
                  PackList *written, PruneStats *st, StrataErr *err)
{
	Written w = { written, 0 };
	BlobWriter *bw = NULL;
	IndexSet *copied = NULL;
	CodecCtx *ctx = codec_ctx_new();
	BlobWriterStats bs;
	char dir[PATH_MAX];
	size_t done = 0;
	int rc;

	if (!ctx)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = scratch_dir(repo, "copied", dir, sizeof dir, err);
	if (rc == 0)
		rc = index_set_open(dir, &copied, err);
	if (rc == 0)
		rc = blobwriter_new(repo, 0, &bw, err);
	if (rc)
		goto out;
	blobwriter_set_rewrite(bw, 1, note_written, &w);
	for (size_t i = 0; i < packs->n && rc == 0; i++) {
		const PackStat *ps = &packs->v[i];
		PackEntry *entries = NULL;
		size_t n = 0;
		uint64_t size;
		if (ps->why != WHY_REPACK)
			continue;
		if (++done % 16 == 0)
			say(o, "repacking: %zu of %llu packs", done, (unsigned long long)st->repack_packs);
		rc = blob_pack_trailer(repo, ps->kind, ps->id, &entries, &n, &size, err);
		for (size_t j = 0; j < n && rc == 0; j++) {
			IndexEntry e;
			uint8_t *buf;
			if (!index_set_has(marks, entries[j].id))
				continue;
			rc = index_set_add(copied, entries[j].id, err);
			if (rc <= 0)
				continue;
			memcpy(e.pack, ps->id, STRATA_ID_LEN);
			e.type = entries[j].type;
			e.offset = entries[j].offset;
			e.length = entries[j].length;
			e.raw_len = entries[j].raw_len;
			buf = malloc(e.raw_len ? e.raw_len : 1);
			if (!buf) {
				rc = strata_err_set(err, -ENOMEM, "out of memory");
				break;
			}
			rc = blob_read_at(repo, ctx, entries[j].id, &e, buf, err);
			if (rc == 0)
				rc = blobwriter_put(bw, ctx, e.type, entries[j].id, buf, e.raw_len, NULL, err);
			free(buf);
		}
		free(entries);
	}
	if (rc == 0)
		rc = blobwriter_finish(bw, err);
	if (rc == 0 && w.oom)
		rc = strata_err_set(err, -ENOMEM, "out of memory");
	if (rc == 0) {
		blobwriter_stats(bw, &bs);
		st->packs_written = bs.packs_written;
		st->bytes_written = bs.bytes_stored + bs.tree_bytes_stored;
	}
out:
	blobwriter_free(bw);
	index_set_free(copied);
	codec_ctx_free(ctx);
	return rc;
}

/* Every snapshot, like snapshot_list, except that one removed between the
 * listing and its reading (a concurrent forget) is skipped: it needs
 * nothing any more. */
static int list_snapshots(Repo *repo, Snapshot **out, size_t *out_n, StrataErr *err)
{
	uint8_t (*ids)[STRATA_ID_LEN] = NULL;
	Snapshot *snaps = NULL;
	size_t nids = 0, n = 0;
	int rc;

	rc = repo_list_ids(repo, "snapshots/", &ids, &nids, err);
	if (rc)
		return rc;
	snaps = calloc(nids ? nids : 1, sizeof *snaps);
	if (!snaps)
		rc = strata_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < nids && rc == 0; i++) {
		rc = snapshot_load(repo, ids[i], &snaps[n], err);
		if (rc == STRATA_ENOTFOUND) {
			strata_err_clear(err);
			rc = 0;
			continue;
		}
		n += rc == 0;
	}
	free(ids);
	if (rc) {
		snapshot_list_free(snaps, n);
		return rc;
	}
	*out = snaps;
	*out_n = n;
	return 0;
}

static int is_ignored(const PruneOptions *o, const uint8_t id[STRATA_ID_LEN])
{
	for (size_t i = 0; i < o->nignore; i++)
		if (memcmp(o->ignore[i], id, STRATA_ID_LEN) == 0)
			return 1;
	return 0;
}

int prune_run(Repo *repo, const PruneOptions *o, PruneStats *st, StrataErr *err)
{
	Snapshot *snaps = NULL;
	size_t nsnaps = 0;
	PackList packs = {0}, orphans = {0};
	Plan plan;
	IndexSet *marks = NULL;
	Marker m;
	Index *ix = NULL;
	char dir[PATH_MAX], hex[STRATA_ID_HEX_LEN + 1];
	int rc;

	memset(st, 0, sizeof *st);
	memset(&plan, 0, sizeof plan);
	memset(&m, 0, sizeof m);
	if (o->nignore && !o->dry_run)
		return strata_err_set(err, STRATA_EUSAGE, "prune: ignoring snapshots is for dry runs only");
	if (o->max_unused < 0 || o->max_unused > 1)
		return strata_err_set(err, STRATA_EUSAGE, "prune: the unused share must lie between 0 and 1");
	rc = repo_index(repo, &ix, err);
	if (rc)
		goto out;
	/* Older plans first; no new plan while one is pending (its condemned
	 * packs would confuse this run's accounting of repacked copies). */
	rc = sweep_plans(repo, ix, o, NULL, NULL, st, err);
	if (rc || (st->plans_pending && !o->dry_run))
		goto out;

	/* Snapshots first, then the index: every snapshot listed has its index
	 * files stored before it (FORMAT.md "Write ordering"), so the sync
	 * that follows sees every blob they need. */
	rc = list_snapshots(repo, &snaps, &nsnaps, err);
	if (rc == 0)
		rc = indexfile_sync(repo, ix, err);
	if (rc == 0) {
		rc = index_foreach_pack(ix, collect_pack, &packs, err);
		if (rc == -ENOMEM)
			strata_err_set(err, rc, "out of memory");
	}
	if (rc)
		goto out;
	qsort(packs.v, packs.n, sizeof *packs.v, cmp_id);
	rc = scratch_dir(repo, "marks", dir, sizeof dir, err);
	if (rc == 0)
		rc = index_set_open(dir, &marks, err);
	if (rc)
		goto out;
	m.repo = repo;
	m.ix = ix;
	m.ctx = codec_ctx_new();
	m.seen = marks;
	m.packs = &packs;
	m.err = err;
	if (!m.ctx) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nsnaps && rc == 0; i++) {
		if (is_ignored(o, snaps[i].id))
			continue;
		st->snapshots++;
		rc = walk_snapshot(&m, &snaps[i]);
	}
	if (rc == 0)
		rc = walk_wal(&m);
	if (rc == 0)
		rc = find_orphans(repo, &packs, &orphans, err);
	if (rc)
		goto out;
	decide(&packs, &orphans, o->max_unused, st);
	say(o, "marked %llu blobs (%llu bytes) reachable from %llu snapshots and the WAL archive in %llu packs",
	    (unsigned long long)st->used_blobs, (unsigned long long)st->used_bytes,
	    (unsigned long long)st->snapshots, (unsigned long long)st->packs);
	if (o->dry_run) {
		/* The copies would hold the live bytes plus one trailer per pack. */
		uint64_t copies = st->repack_used_bytes + (st->repack_packs ? pack_overhead(0) : 0);
		st->bytes_to_free = st->unused_pack_bytes + st->orphan_bytes + st->repack_bytes - copies;
		goto out;
	}
	if (st->unused_packs + st->orphan_packs + st->repack_packs == 0)
		goto out;
	if (st->repack_packs) {
		say(o, "repacking %llu packs (%llu live bytes)", (unsigned long long)st->repack_packs,
		    (unsigned long long)st->repack_used_bytes);
		rc = repack(repo, o, &packs, marks, &plan.written, st, err);
		if (rc)
			goto out;
	}
	plan.created_ns = now_ns();
	plan.snaps = malloc((nsnaps ? nsnaps : 1) * sizeof *plan.snaps);
	if (!plan.snaps) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nsnaps; i++)
		memcpy(plan.snaps[plan.nsnaps++], snaps[i].id, STRATA_ID_LEN);
	for (size_t i = 0; i < packs.n + orphans.n; i++) {
		const PackStat *src = i < packs.n ? &packs.v[i] : &orphans.v[i - packs.n];
		PackStat *ps;
		if (src->why == WHY_KEEP)
			continue;
		if (!(ps = pack_push(&plan.packs))) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		*ps = *src;
	}
	rc = plan_write(repo, &plan, err);
	if (rc)
		goto out;
	st->plan_written = 1;
	memcpy(st->plan_id, plan.id, STRATA_ID_LEN);
	/* Recompressing at the default level may make copies larger than the
	 * blobs they came from: never report a negative saving. */
	uint64_t condemned = st->unused_pack_bytes + st->orphan_bytes + st->repack_bytes;
	st->bytes_to_free = condemned > st->bytes_written ? condemned - st->bytes_written : 0;
	codec_hex(plan.id, STRATA_ID_LEN, hex);
	say(o, "prune plan %.8s written: %zu pack(s) condemned", hex, plan.packs.n);
	if (!o->mark_only)
		rc = sweep_plans(repo, ix, o, plan.id, marks, st, err);
	else
		st->plans_pending++;
out:
	codec_ctx_free(m.ctx);
	index_set_free(marks);
	snapshot_list_free(snaps, nsnaps);
	free(packs.v);
	free(orphans.v);
	plan_free(&plan);
	return rc;
}
