/* check_walk.c — phases 6 and 7 (check_internal.h): every snapshot and
 * every tree it reaches, and the WAL archive's descriptors; each chunk
 * reference is looked up in the index and against the damage found so
 * far, and each damaged one gets the snapshot, path and byte range that
 * need it. A tree ID is walked once (remembered as clean) unless damage
 * lies below it; then it is walked again for each snapshot that holds it,
 * so that each gets its own paths. A file's chunk list found usable is
 * remembered too (by its hash), so the unchanged files of a changed
 * directory are not looked up again. Runs on the calling thread.
 * FORMAT.md "Tree object", "Snapshot file", "WAL archive".
 */
#include "store/check/check_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"
#include "store/repo_internal.h"
#include "store/snapshot.h"
#include "store/tree.h"
#include "store/wal/wal.h"

typedef struct Tally {
	uint64_t files, trees;
} Tally;

/* ---- phase 6: snapshots and trees ---- */

/* Before calling a chunk missing from the index: a backup running beside
 * the check may have indexed it since the sync (snapshots and WAL files
 * are written after their index files). Sync again, at most once a
 * second. 1 if the index may have changed. */
static int fresh_look(CheckCtx *c, StrataErr *err)
{
	struct timespec now;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (c->last_sync.tv_sec && now.tv_sec - c->last_sync.tv_sec < 1)
		return 0;
	c->last_sync = now;
	if ((rc = check_index_sync(c->repo, c->ix, err)))
		return rc;
	return 1;
}

/* Before calling a pack missing: it may have been written since the
 * listing. Records it when it is there now. */
static int pack_now(CheckCtx *c, const uint8_t id[STRATA_ID_LEN], uint8_t kind, uint64_t *out_v, StrataErr *err)
{
	char name[REPO_NAME_MAX];
	RemoteErr rerr = {{0}};
	BackendObjInfo info;
	int rc;

	repo_pack_name(kind, id, name);
	rc = backend_head(c->repo->be, name, &info, &rerr);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	if (check_struct_on_pack(id, kind, &info, c) != 0)
		return strata_err_set(err, -ENOMEM, "out of memory");
	check_idmap_get(&c->pack_of, id, out_v);
	return 1;
}

/* Is chunk id, where the index locates it, usable? 0 yes; 1 no, with
 * *out_k its record in c->r->chunks; < 0 when the check cannot go on.
 * raw_len 0 means the length is not known to the caller. */
static int ref_state(CheckCtx *c, const uint8_t id[STRATA_ID_LEN], uint8_t type, uint32_t raw_len,
                     size_t *out_k, StrataErr *err)
{
	char detail[256], phex[STRATA_ID_HEX_LEN + 1];
	CheckChunkReason reason;
	IndexEntry e;
	uint64_t v = 0;
	size_t k;
	int rc, found;

	rc = index_lookup(c->ix, type, id, &e);
	if (rc == STRATA_ENOTFOUND && !check_idmap_get(&c->dmg, id, NULL)) {
		if ((rc = fresh_look(c, err)) < 0)
			return rc;
		rc = rc ? index_lookup(c->ix, type, id, &e) : STRATA_ENOTFOUND;
	}
	if (rc && rc != STRATA_ENOTFOUND)
		return strata_err_set(err, rc, "local index lookup failed: %s", strata_strerror(rc));
	found = rc == 0;
	if (check_idmap_get(&c->dmg, id, &v)) {
		const CheckChunk *ch = v == CHUNK_UNLISTED ? NULL : &c->r->chunks[v];
		/* Damage at the location the index gives (an unlisted record keeps
		 * no location: taken as damaged wherever it is). */
		if (!ch || (found ? ch->has_location && memcmp(ch->pack, e.pack, STRATA_ID_LEN) == 0 &&
		                    ch->offset == e.offset
		                  : !ch->has_location)) {
			*out_k = (size_t)v;
			return 1;
		}
	}
	if (!found && index_lookup_any(c->ix, id, &e) == 0) {
		/* Written by a strata that knew a blob by its ID alone and so
		 * stored one of the two (FORMAT.md "Index file"). The bytes are
		 * there under the other type: repair copies them. */
		snprintf(detail, sizeof detail,
		         "stored only as a %s blob with the same ID (a strata before 2026-12-07 stored one blob per ID): `strata repair snapshots` stores it as %s too",
		         codec_blob_type_name(e.type), codec_blob_type_name(type));
		pthread_mutex_lock(&c->mu);
		k = check_report_chunk_locked(c, id, type, CHECK_C_MISMATCH, e.pack, e.offset, e.length, e.raw_len,
		                              detail);
		pthread_mutex_unlock(&c->mu);
	} else if (!found) {
		if (check_idmap_get(&c->orphan, id, &v)) {
			codec_hex(c->packs[v].id, STRATA_ID_LEN, phex);
			snprintf(detail, sizeof detail,
			         "not in any index file, but pack %.16s holds it: `strata repair index` makes it reachable again", phex);
		} else {
			snprintf(detail, sizeof detail, "not in the index, and no pack in the repository holds it");
		}
		pthread_mutex_lock(&c->mu);
		k = check_report_chunk_locked(c, id, type, CHECK_C_NOT_INDEXED, NULL, 0, 0, 0, detail);
		pthread_mutex_unlock(&c->mu);
	} else {
		const CheckPack *p = check_idmap_get(&c->pack_of, e.pack, &v) ? &c->packs[v] : NULL;
		if ((!p || !p->in_storage) && (rc = pack_now(c, e.pack, pack_kind_of_blob(e.type), &v, err)) != 0) {
			if (rc < 0)
				return rc;
			p = &c->packs[v];
		}
		/* The pack's name is formatted only for a report: a usable
		 * reference, the common case, returns without it. */
		if (!p || !p->in_storage) {
			reason = CHECK_C_PACK_MISSING;
			codec_hex(e.pack, STRATA_ID_LEN, phex);
			snprintf(detail, sizeof detail, "its pack %.16s is missing from the repository", phex);
		} else if ((uint64_t)e.offset + e.length > p->size) {
			reason = CHECK_C_TRUNCATED;
			codec_hex(e.pack, STRATA_ID_LEN, phex);
			snprintf(detail, sizeof detail, "lies past the end of pack %.16s (%llu bytes: truncated)",
			         phex, (unsigned long long)p->size);
		} else if (e.type != type || (raw_len && e.raw_len != raw_len)) {
			reason = CHECK_C_MISMATCH;
			snprintf(detail, sizeof detail, "the index says blob type %u of %u bytes, the tree wants type %u of %u bytes",
			         e.type, e.raw_len, type, raw_len);
		} else {
			return 0;
		}
		pthread_mutex_lock(&c->mu);
		k = check_report_chunk_locked(c, id, type, reason, e.pack, e.offset, e.length, e.raw_len, detail);
		pthread_mutex_unlock(&c->mu);
	}
	if (k == CHUNK_OOM)
		return strata_err_set(err, -ENOMEM, "out of memory");
	*out_k = k;
	return 1;
}

/* The name of a file's content for CheckCtx.clean_files: BLAKE2b-256 of
 * its chunk IDs and their lengths. Each new snapshot repeats the nodes of
 * every file that did not change in a directory where one did (a block
 * directory, after a new block); a list found usable once is not looked
 * up chunk by chunk again (a usable answer cannot change during the walk:
 * the damage and packs it consults grow only by references it reports,
 * and a list with one of those is never remembered). */
static void chunk_list_key(const TreeNode *n, uint8_t out[STRATA_ID_LEN])
{
	CodecHashState hs;

	codec_file_hash_init(&hs);
	codec_file_hash_update(&hs, n->chunks, n->nchunks * sizeof *n->chunks);
	codec_file_hash_update(&hs, n->chunk_lens, n->nchunks * sizeof *n->chunk_lens);
	codec_file_hash_final(&hs, out);
}

/* Walk tree (the directory at c->path[0..plen)) for snapshot s. Returns 1
 * when damage lies at or below it, 0 when clean, < 0 to stop. */
static int walk(CheckCtx *c, const Snapshot *s, const uint8_t tree[STRATA_ID_LEN], size_t plen, int depth,
                Tally *t, StrataErr *err)
{
	StrataErr lerr = {0};
	Tree tr = {0};
	uint64_t st = 0;
	size_t k = 0;
	int rc, known, damaged = 0;

	known = check_idmap_get(&c->trees, tree, &st);
	if (known && st == WALK_CLEAN)
		return 0;
	if (known && (st & 3) == WALK_UNREADABLE) {
		k = st >> 2 ? (size_t)(st >> 2) - 1 : CHUNK_UNLISTED;
		goto unreadable;
	}
	rc = ref_state(c, tree, BLOB_TREE, 0, &k, err);
	if (rc < 0)
		return rc;
	if (rc == 0 && depth > WALK_MAX_DEPTH) {
		strata_err_set(&lerr, STRATA_EFORMAT, "directories nest deeper than %d levels", WALK_MAX_DEPTH);
		rc = STRATA_EFORMAT;
	} else if (rc == 0) {
		rc = tree_load(c->repo, tree, &tr, &lerr);
	} else {
		rc = 1;
	}
	if (rc == -ENODATA)
		/* Trees are metadata (FORMAT.md 14a): the check cannot go on
		 * without them, and neither can ls or a restore. */
		strata_err_prefix(&lerr, "a tree pack is in an archive storage class; tree packs must stay in a class "
		                  "readable without a restore (--storage-class metadata=STANDARD, no lifecycle "
		                  "transition of tree/): thaw it or copy it back");
	if (rc < 0 && !check_damage_code(rc)) {
		if (err)
			*err = lerr;
		return rc;
	}
	if (rc < 0) {
		IndexEntry e;
		int have = index_lookup(c->ix, BLOB_TREE, tree, &e) == 0;
		pthread_mutex_lock(&c->mu);
		k = check_report_chunk_locked(c, tree, BLOB_TREE, CHECK_C_TREE, have ? e.pack : NULL, e.offset, e.length,
		                              e.raw_len, lerr.msg);
		pthread_mutex_unlock(&c->mu);
		if (k == CHUNK_OOM)
			return strata_err_set(err, -ENOMEM, "out of memory");
	}
	if (rc) {
		/* The chunk's record index + 1 rides above the state; 0: unlisted. */
		uint64_t rec = k == CHUNK_UNLISTED ? 0 : (uint64_t)k + 1;
		if (check_idmap_put(&c->trees, tree, WALK_UNREADABLE | rec << 2) != 0)
			return strata_err_set(err, -ENOMEM, "out of memory");
		goto unreadable;
	}
	if (!known)
		c->r->trees++;
	for (size_t i = 0; i < tr.n; i++) {
		const TreeNode *n = &tr.nodes[i];
		size_t nl = strlen(n->name), len = plen ? plen + 1 + nl : nl;
		if (len >= sizeof c->path) {
			rc = strata_err_set(err, -ENAMETOOLONG, "a path is longer than %d bytes under %s",
			                    WALK_PATH_MAX, c->path);
			goto out;
		}
		if (plen)
			c->path[plen] = '/';
		memcpy(c->path + (plen ? plen + 1 : 0), n->name, nl + 1);
		if (n->type == NODE_FILE) {
			uint8_t list[STRATA_ID_LEN];
			uint64_t off = 0;
			int bad = 0;
			if (!known) {
				c->r->files++;
				c->r->chunk_refs += n->nchunks;
			}
			chunk_list_key(n, list);
			if (check_idmap_get(&c->clean_files, list, NULL))
				goto next;
			for (size_t ci = 0; ci < n->nchunks; ci++) {
				rc = ref_state(c, n->chunks[ci], BLOB_DATA, n->chunk_lens[ci], &k, err);
				if (rc < 0)
					goto out;
				if (rc && check_report_add_user(c, k, s->id, c->path, 0, off, n->chunk_lens[ci]) != 0) {
					rc = strata_err_set(err, -ENOMEM, "out of memory");
					goto out;
				}
				bad |= rc;
				off += n->chunk_lens[ci];
			}
			if (bad)
				t->files++;
			else if (check_idmap_put(&c->clean_files, list, 1) != 0) {
				rc = strata_err_set(err, -ENOMEM, "out of memory");
				goto out;
			}
			damaged |= bad;
		} else if (n->type == NODE_DIR) {
			rc = walk(c, s, n->subtree, len, depth + 1, t, err);
			if (rc < 0)
				goto out;
			damaged |= rc;
		}
next:
		c->path[plen] = '\0';
	}
	if (check_idmap_put(&c->trees, tree, damaged ? WALK_DAMAGED : WALK_CLEAN) != 0) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	rc = damaged;
out:
	c->path[plen] = '\0';
	tree_clear(&tr);
	return rc;
unreadable:
	t->trees++;
	if (check_report_add_user(c, k, s->id, c->path, 1, 0, 0) != 0)
		return strata_err_set(err, -ENOMEM, "out of memory");
	return 1;
}

static int cmp_snap_time(const void *a, const void *b)
{
	const Snapshot *x = a, *y = b;

	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return memcmp(x->id, y->id, STRATA_ID_LEN);
}

int check_walk_snapshots(CheckCtx *c, StrataErr *err)
{
	uint8_t (*ids)[STRATA_ID_LEN] = c->snap_ids;
	Snapshot *snaps = NULL;
	size_t nids = c->nsnap_ids, n = 0;
	int rc = 0;

	snaps = calloc(nids ? nids : 1, sizeof *snaps);
	if (!snaps) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nids; i++) {
		StrataErr serr = {0};
		rc = snapshot_load(c->repo, ids[i], &snaps[n], &serr);
		if (rc == STRATA_ENOTFOUND) {
			rc = 0;        /* forgotten since the listing */
			continue;
		}
		if (rc && check_damage_code(rc)) {
			check_report_problem(c, CHECK_P_SNAPSHOT, 0, ids[i],
			                     "%s; it cannot be restored: `strata repair snapshots --forget` removes it", serr.msg);
			rc = 0;
			continue;
		}
		if (rc) {
			if (err)
				*err = serr;
			goto out;
		}
		n++;
	}
	qsort(snaps, n, sizeof *snaps, cmp_snap_time);
	check_phase(c, "snapshots", n);
	for (size_t i = 0; i < n; i++) {
		Tally t = {0, 0};
		c->path[0] = '\0';
		c->r->snapshots++;
		rc = walk(c, &snaps[i], snaps[i].tree, 0, 0, &t, err);
		if (rc < 0) {
			strata_err_prefix(err, "snapshot %02x%02x%02x%02x", snaps[i].id[0], snaps[i].id[1],
			                  snaps[i].id[2], snaps[i].id[3]);
			goto out;
		}
		rc = 0;
		if (t.files || t.trees) {
			CheckReport *r = c->r;
			void *p = realloc(r->snaps, (r->nsnaps + 1) * sizeof *r->snaps);
			if (!p) {
				rc = strata_err_set(err, -ENOMEM, "out of memory");
				goto out;
			}
			r->snaps = p;
			memcpy(r->snaps[r->nsnaps].id, snaps[i].id, STRATA_ID_LEN);
			r->snaps[r->nsnaps].files = t.files;
			r->snaps[r->nsnaps].trees = t.trees;
			r->nsnaps++;
		}
		pthread_mutex_lock(&c->mu);
		check_step_locked(c);
		pthread_mutex_unlock(&c->mu);
	}
out:
	snapshot_list_free(snaps, n);
	return rc;
}

/* ---- phase 7: the WAL archive ---- */

struct wal_walk {
	CheckCtx *c;
	StrataErr *err;
};

static int on_wal_chunk(const uint8_t id[STRATA_ID_LEN], uint32_t raw_len, void *ctx)
{
	struct wal_walk *w = ctx;
	size_t k;
	int rc;

	w->c->r->wal_chunk_refs++;
	rc = ref_state(w->c, id, BLOB_DATA, raw_len, &k, w->err);
	if (rc <= 0)
		return rc;
	return check_report_add_user(w->c, k, NULL, "", 0, 0, raw_len) ? strata_err_set(w->err, -ENOMEM, "out of memory") : 0;
}

int check_walk_wal(CheckCtx *c, StrataErr *err)
{
	StrataErr werr = {0};
	struct wal_walk w = {c, &werr};
	int rc;

	check_phase(c, "wal", 0);
	rc = wal_foreach_chunk(c->repo, on_wal_chunk, &w, &werr);
	if (rc && check_damage_code(rc)) {
		check_report_problem(c, CHECK_P_WAL, 0, NULL,
		                     "WAL archive: %s; the descriptors after it were not checked", werr.msg);
		return 0;
	}
	if (rc && err)
		*err = werr;
	return rc;
}
