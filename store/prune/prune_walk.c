/* prune_walk.c — walking roots for prune, see prune_internal.h.
 * FORMAT.md "Tree object", "WAL archive", "Prune and concurrent writers".
 *
 * Each distinct tree is read once: the scratch set m->seen doubles as the
 * "visited" set. Marking charges each newly reached blob to the pack the
 * index places it in; a blob stored in several packs (two hosts wrote it
 * concurrently) is charged to one of them, the others count it as unused,
 * which is right: after the sweep every reader resolves it to a survivor.
 */
#include "store/prune/prune_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/blob.h"
#include "store/indexfile.h"
#include "store/repo_internal.h"
#include "store/tree.h"
#include "store/wal/wal.h"

#define TREE_DEPTH_MAX  1024          /* as tree_walk */
#define MAX_RESYNCS     3             /* index re-syncs after misses, per walk */

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
	if (!prune_pack_push(l))
		return -ENOMEM;
	while (at < l->n - 1 && memcmp(l->v[at].id, id, STRATA_ID_LEN) < 0)
		at++;
	memmove(&l->v[at + 1], &l->v[at], (l->n - 1 - at) * sizeof *l->v);
	l->v[at] = ps;
	*out = &l->v[at];
	return 0;
}

/* Reach blob id of type: 1 when reached for the first time (its location
 * in *out_e when out_e), 0 when seen before (or known safe), < 0 error. */
static int visit_blob(Marker *m, uint8_t type, const uint8_t id[STRATA_ID_LEN], IndexEntry *out_e)
{
	char hex[STRATA_ID_HEX_LEN + 1];
	IndexEntry e;
	PackStat *ps;
	int rc;

	rc = index_set_add(m->seen, type, id, m->err);
	if (rc <= 0)
		return rc;
	rc = index_lookup(m->ix, type, id, &e);
	/* The local index is a cache another process on this machine may be
	 * rebuilding right now: sync and look again before calling it damage. */
	if (rc == STRATA_ENOTFOUND && m->resyncs < MAX_RESYNCS) {
		m->resyncs++;
		rc = indexfile_sync(m->repo, m->ix, m->err);
		if (rc)
			return rc;
		rc = index_lookup(m->ix, type, id, &e);
	}
	if (rc != 0) {
		codec_hex(id, STRATA_ID_LEN, hex);
		return strata_err_set(m->err, STRATA_EDAMAGED,
		                      "%s needs %s blob %.16s, which no index file lists%s: prune deletes nothing until `strata check` and `strata repair` have dealt with it",
		                      m->root, codec_blob_type_name(type), hex,
		                      rc == STRATA_ENOTFOUND && index_lookup_any(m->ix, id, NULL) == 0
		                      ? " with that type" : "");
	}
	ps = prune_pack_find(m->packs, e.pack);
	if (!m->sweep) {
		/* A pack a backup stored after the packs were listed: charge it
		 * all the same, so it is kept. */
		if (!ps && (rc = pack_insert(m->ix, m->packs, e.pack, &ps)) != 0) {
			codec_hex(e.pack, STRATA_ID_LEN, hex);
			return strata_err_set(m->err, rc == -ENOMEM ? rc : STRATA_EDAMAGED,
			                      rc == -ENOMEM ? "out of memory" :
			                      "the index places a blob in pack %.16s, which it does not list; delete the cache directory to rebuild it",
			                      hex);
		}
		ps->used_count++;
		ps->used_bytes += prune_charge(&e);
	} else if (ps && !ps->resurrected && !(m->rescued && index_set_has(m->rescued, type, id))) {
		ps->resurrected = 1;
	}
	if (out_e)
		*out_e = e;
	return 1;
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

/* Load tree id (located at e), reaching its parts: tree.c parses the
 * stored object (tree_object_parse); prune reads and charges each part
 * itself, since it must reach them. */
static int load_tree(Marker *m, const uint8_t id[STRATA_ID_LEN], const IndexEntry *e, Tree *out)
{
	uint8_t *obj = NULL, *whole = NULL;
	TreeObject to = {0};
	size_t len = 0;
	int rc, unknown = 0;

	rc = read_blob(m, id, e, &obj);
	if (rc)
		return rc;
	rc = tree_object_parse(obj, e->raw_len, &to, &unknown);
	if (rc == -ENOMEM) {
		rc = strata_err_set(m->err, rc, "out of memory");
		goto out;
	}
	if (rc)
		goto malformed;
	if (to.tree) {
		rc = tree_decode(to.tree, to.tree_len, out, m->err);
		goto out;
	}
	for (size_t i = 0; i < to.nparts; i++) {
		const uint8_t *pid = to.parts[i].id;
		uint64_t plen = to.parts[i].len;
		IndexEntry pe;
		uint8_t *part = NULL;
		rc = visit_blob(m, BLOB_TREEPART, pid, &pe);
		if (rc == 0 && index_lookup(m->ix, BLOB_TREEPART, pid, &pe) != 0)
			rc = strata_err_set(m->err, STRATA_EDAMAGED, "tree part vanished from the index");
		if (rc < 0)
			goto out;
		if (pe.raw_len != plen)
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
	tree_object_clear(&to);
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
		codec_hex(id, STRATA_ID_LEN, hex);
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

int prune_walk_snapshot(Marker *m, const Snapshot *s)
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
int prune_walk_wal(Marker *m)
{
	snprintf(m->root, sizeof m->root, "the WAL archive");
	return wal_foreach_chunk(m->repo, visit_wal_chunk, m, m->err);
}

