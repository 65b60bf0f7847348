/* replica.c — see replica.h. FORMAT.md §3 (names), §10 (index files). */
#include "store/replica/replica.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/backend.h"
#include "store/codec.h"
#include "store/index.h"
#include "store/indexfile.h"
#include "store/repo_internal.h"
#include "store/snapshot.h"
#include "store/tree.h"

/* A sorted set of object names. */
typedef struct Names {
	char **v;
	size_t n, cap;
} Names;

/* An index file of the copy as read, for a rewrite. */
typedef struct ReadIndex {
	IndexFilePack *packs;
	size_t n;
} ReadIndex;

struct Replica {
	Repo *src, *copy;
	Names skip;               /* packs and index files not to copy, sorted */
	IndexFilePack *cover;     /* packs for the cover index file */
	size_t ncover, cover_cap;
	ReadIndex *read;          /* copy index files read for the mirror pass */
	size_t nread, read_cap;
	int selective;            /* replica_select was called */
	Names snaps;              /* selective: "snapshots/<hex>" chosen, sorted */
	IndexSet *needed;         /* selective: data blobs they need */
	uint64_t blobs_selected;
};

static void names_free(Names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}

static int names_add(const char *name, void *ctx)
{
	Names *s = ctx;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		char **q = realloc(s->v, cap * sizeof *q);
		if (!q)
			return -ENOMEM;
		s->v = q;
		s->cap = cap;
	}
	s->v[s->n] = strdup(name);
	if (!s->v[s->n])
		return -ENOMEM;
	s->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_sort(Names *s)
{
	if (s->n)
		qsort(s->v, s->n, sizeof *s->v, cmp_str);
}

static int names_has(const Names *s, const char *name)
{
	return s->n && bsearch(&name, s->v, s->n, sizeof *s->v, cmp_str) != NULL;
}

static int list_into(Repo *repo, const char *prefix, Names *out, StrataErr *err)
{
	RemoteErr rerr;
	int rc = backend_list_names(repo->be, prefix, names_add, out, &rerr);

	if (rc == -ENOMEM)
		return strata_err_set(err, -ENOMEM, "out of memory listing %s", prefix);
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	names_sort(out);
	return 0;
}

int replica_new(Repo *src, Repo *copy, Replica **out, StrataErr *err)
{
	Replica *r = calloc(1, sizeof *r);

	if (!r)
		return strata_err_set(err, -ENOMEM, "out of memory");
	r->src = src;
	r->copy = copy;
	*out = r;
	return 0;
}

void replica_set_copy(Replica *r, Repo *copy)
{
	r->copy = copy;
}

void replica_free(Replica *r)
{
	if (!r)
		return;
	names_free(&r->skip);
	names_free(&r->snaps);
	index_set_free(r->needed);
	indexfile_packs_free(r->cover, r->ncover);
	for (size_t i = 0; i < r->nread; i++)
		indexfile_packs_free(r->read[i].packs, r->read[i].n);
	free(r->read);
	free(r);
}

/* TreeWalkFn: a file's chunks into the needed set. */
static int collect_chunks(const char *path, const TreeNode *node, void *vctx)
{
	Replica *r = vctx;
	StrataErr e;
	int rc;

	(void)path;
	if (node->type != NODE_FILE)
		return 0;
	for (size_t i = 0; i < node->nchunks; i++) {
		rc = index_set_add(r->needed, BLOB_DATA, node->chunks[i], &e);
		if (rc < 0)
			return rc;
		r->blobs_selected += rc == 1;
	}
	return 0;
}

int replica_select(Replica *r, const uint8_t (*ids)[STRATA_ID_LEN], size_t n, const char *scratch_dir,
                   StrataErr *err)
{
	char hex[STRATA_ID_HEX_LEN + 1], name[32 + STRATA_ID_HEX_LEN];
	Snapshot snap;
	int rc;

	r->selective = 1;
	if ((rc = index_set_open(scratch_dir, &r->needed, err)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		strata_id_hex(ids[i], hex);
		snprintf(name, sizeof name, "snapshots/%s", hex);
		if (names_add(name, &r->snaps))
			return strata_err_set(err, -ENOMEM, "out of memory");
		memset(&snap, 0, sizeof snap);
		if ((rc = snapshot_load(r->src, ids[i], &snap, err)))
			return rc;
		rc = tree_walk(r->src, snap.tree, collect_chunks, r, err);
		snapshot_clear(&snap);
		if (rc) {
			if (!err->msg[0] || err->code == 0)
				strata_err_set(err, rc, "snapshot %s: walking its trees: %s", hex, strata_strerror(rc));
			return rc;
		}
	}
	names_sort(&r->snaps);
	return 0;
}

int replica_selective(const Replica *r)
{
	return r->selective;
}

/* The blob type an index entry stands for: a frame's member (FORMAT.md
 * 9a) is the data blob of its ID; -1 for a frame entry, which is none. */
static int blob_type_of(const PackEntry *e)
{
	if (e->type == FORMAT_BLOB_FRAME)
		return -1;
	return e->type == FORMAT_BLOB_MEMBER ? BLOB_DATA : e->type;
}

/* Some data blob of p is needed by the chosen snapshots. */
static int selected(Replica *r, const IndexFilePack *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (blob_type_of(&p->entries[i]) == BLOB_DATA && index_set_has(r->needed, BLOB_DATA, p->entries[i].id) == 1)
			return 1;
	return 0;
}

/* Every blob of p is in the copy's index. */
static int covered(Index *cix, const IndexFilePack *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (blob_type_of(&p->entries[i]) >= 0 &&
		    index_lookup(cix, (uint8_t)blob_type_of(&p->entries[i]), p->entries[i].id, NULL) != 0)
			return 0;
	return 1;
}

static int cover_add(Replica *r, const IndexFilePack *p)
{
	IndexFilePack *c;

	for (size_t i = 0; i < r->ncover; i++)
		if (memcmp(r->cover[i].id, p->id, CODEC_ID_LEN) == 0)
			return 0;
	if (r->ncover == r->cover_cap) {
		size_t cap = r->cover_cap ? 2 * r->cover_cap : 16;
		IndexFilePack *q = realloc(r->cover, cap * sizeof *q);
		if (!q)
			return -ENOMEM;
		r->cover = q;
		r->cover_cap = cap;
	}
	c = &r->cover[r->ncover];
	*c = *p;
	c->entries = malloc((p->n ? p->n : 1) * sizeof *c->entries);
	if (!c->entries)
		return -ENOMEM;
	memcpy(c->entries, p->entries, p->n * sizeof *c->entries);
	r->ncover++;
	return 0;
}

/* One source index file the copy lacks: skip the packs the copy's blobs
 * cover; if any, skip the file and remember its other packs for the
 * cover index file (unless an index file of the copy lists them). */
static int plan_index_file(Replica *r, Index *cix, const Names *cpacks, const char *name, Names *skip_packs,
                           ReplicaUploadStats *st, StrataErr *err)
{
	IndexFilePack *packs = NULL;
	uint8_t id[CODEC_ID_LEN];
	char pname[REPO_NAME_MAX];
	IndexPackInfo info;
	size_t n = 0;
	int rc, any = 0;

	if (codec_unhex(name + strlen("index/"), id, sizeof id) != 0)
		return 0;       /* not an index file's name: the copy pass judges it */
	rc = indexfile_read(r->src, id, &packs, &n, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		repo_pack_name(packs[i].kind, packs[i].id, pname);
		if (names_has(skip_packs, pname)) {
			any = 1;
			continue;
		}
		if (names_has(cpacks, pname))
			continue;
		if (r->selective && packs[i].kind == PACK_KIND_DATA && !selected(r, &packs[i])) {
			st->packs_unselected++;
			st->bytes_unselected += packs[i].size;
		} else if (cix && covered(cix, &packs[i])) {
			st->packs_skipped++;
			st->bytes_skipped += packs[i].size;
		} else {
			continue;
		}
		if ((rc = names_add(pname, skip_packs)))
			goto out;
		names_sort(skip_packs);
		any = 1;
	}
	if (!any)
		goto out;
	if ((rc = names_add(name, &r->skip)))
		goto out;
	st->index_skipped++;
	for (size_t i = 0; i < n; i++) {
		repo_pack_name(packs[i].kind, packs[i].id, pname);
		if (names_has(skip_packs, pname) || (cix && index_pack_info(cix, packs[i].id, &info) == 0))
			continue;
		if ((rc = cover_add(r, &packs[i])))
			goto out;
		st->cover_packs++;
	}
out:
	if (rc == -ENOMEM)
		strata_err_set(err, rc, "out of memory");
	indexfile_packs_free(packs, n);
	return rc;
}

int replica_plan_uploads(Replica *r, ReplicaUploadStats *st, StrataErr *err)
{
	Names sidx = {0}, cidx = {0}, cpacks = {0}, skip_packs = {0};
	Index *cix = NULL;
	int rc = 0;

	memset(st, 0, sizeof *st);
	st->blobs_selected = r->blobs_selected;
	if (!r->copy && !r->selective)
		return 0;       /* nothing at the copy to spare uploads with */
	/* No copy yet (a first selective run): nothing is there, all is to
	 * judge by the selection alone. */
	if ((rc = list_into(r->src, "index/", &sidx, err)) ||
	    (r->copy && (rc = list_into(r->copy, "index/", &cidx, err))) ||
	    (r->copy && (rc = list_into(r->copy, "data/", &cpacks, err))) ||
	    (r->copy && (rc = list_into(r->copy, "tree/", &cpacks, err))))
		goto out;
	names_sort(&cpacks);
	if (r->copy && (rc = repo_index(r->copy, &cix, err)))
		goto out;
	for (size_t i = 0; i < sidx.n; i++) {
		if (names_has(&cidx, sidx.v[i]))
			continue;
		if ((rc = plan_index_file(r, cix, &cpacks, sidx.v[i], &skip_packs, st, err)))
			goto out;
	}
	for (size_t i = 0; i < skip_packs.n; i++)
		if ((rc = names_add(skip_packs.v[i], &r->skip))) {
			rc = strata_err_set(err, rc, "out of memory");
			goto out;
		}
	names_sort(&r->skip);
out:
	names_free(&sidx);
	names_free(&cidx);
	names_free(&cpacks);
	names_free(&skip_packs);
	return rc;
}

int replica_skips(const Replica *r, const char *name)
{
	char snap[32 + STRATA_ID_HEX_LEN];
	const char *sid;

	if (names_has(&r->skip, name))
		return 1;
	if (!r->selective)
		return 0;
	if (strncmp(name, "wal/", 4) == 0)
		return 1;       /* its chunks are no chosen snapshot's */
	if (strncmp(name, "snapshots/", 10) == 0)
		return !names_has(&r->snaps, name);
	if (strncmp(name, "verified/", 9) == 0) {
		sid = name + 9;
		snprintf(snap, sizeof snap, "snapshots/%.*s", (int)strcspn(sid, "/"), sid);
		return !names_has(&r->snaps, snap);
	}
	return 0;
}

int replica_write_cover(Replica *r, int *out_written, StrataErr *err)
{
	uint8_t id[CODEC_ID_LEN];
	int rc;

	*out_written = 0;
	if (!r->ncover)
		return 0;
	rc = indexfile_write(r->copy, r->cover, r->ncover, id, err);
	if (rc == 0)
		*out_written = 1;
	return rc;
}

int replica_index_packs(Replica *r, const char *index_name, char ***out_names, int **out_needed,
                        size_t *out_n, StrataErr *err)
{
	IndexFilePack *packs = NULL;
	uint8_t id[CODEC_ID_LEN];
	Index *six = NULL;
	char **names = NULL, pname[REPO_NAME_MAX];
	int *needed = NULL, rc;
	size_t n = 0;

	if (strncmp(index_name, "index/", 6) != 0 || codec_unhex(index_name + 6, id, sizeof id) != 0)
		return strata_err_set(err, STRATA_EFORMAT, "%s: not an index file name", index_name);
	if ((rc = repo_index(r->src, &six, err)) || (rc = indexfile_read(r->copy, id, &packs, &n, err)))
		return rc;
	if (r->nread == r->read_cap) {
		size_t cap = r->read_cap ? 2 * r->read_cap : 16;
		ReadIndex *q = realloc(r->read, cap * sizeof *q);
		if (!q)
			goto oom;
		r->read = q;
		r->read_cap = cap;
	}
	names = calloc(n ? n : 1, sizeof *names);
	needed = calloc(n ? n : 1, sizeof *needed);
	if (!names || !needed)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		repo_pack_name(packs[i].kind, packs[i].id, pname);
		names[i] = strdup(pname);
		if (!names[i])
			goto oom;
		if (r->selective && packs[i].kind == PACK_KIND_DATA)
			needed[i] = selected(r, &packs[i]);
		else
			for (size_t j = 0; j < packs[i].n && !needed[i]; j++)
				needed[i] = blob_type_of(&packs[i].entries[j]) >= 0 &&
				            index_lookup(six, (uint8_t)blob_type_of(&packs[i].entries[j]),
				                         packs[i].entries[j].id, NULL) == 0;
	}
	r->read[r->nread].packs = packs;
	r->read[r->nread++].n = n;
	*out_names = names;
	*out_needed = needed;
	*out_n = n;
	return 0;
oom:
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	free(needed);
	indexfile_packs_free(packs, n);
	return strata_err_set(err, -ENOMEM, "out of memory");
}

int replica_rewrite_index(Replica *r, const char *const *keep, size_t nkeep, StrataErr *err)
{
	IndexFilePack *out = NULL;
	uint8_t id[CODEC_ID_LEN];
	char pname[REPO_NAME_MAX];
	size_t n = 0;
	int rc = 0;

	if (nkeep == 0)
		return 0;
	out = calloc(nkeep, sizeof *out);
	if (!out)
		return strata_err_set(err, -ENOMEM, "out of memory");
	for (size_t k = 0; k < nkeep; k++) {
		const IndexFilePack *found = NULL;

		for (size_t i = 0; i < r->nread && !found; i++)
			for (size_t j = 0; j < r->read[i].n && !found; j++) {
				repo_pack_name(r->read[i].packs[j].kind, r->read[i].packs[j].id, pname);
				if (strcmp(pname, keep[k]) == 0)
					found = &r->read[i].packs[j];
			}
		if (!found) {
			rc = strata_err_set(err, STRATA_ENOTFOUND, "%s: listed by no index file read", keep[k]);
			goto out;
		}
		out[n] = *found;    /* entries borrowed */
		n++;
	}
	rc = indexfile_write(r->copy, out, n, id, err);
out:
	free(out);
	return rc;
}
