/* replicate_mirror.c — mirror mode of replicate_run: remove from the
 * target what the source no longer holds (see replicate.h,
 * replicate_internal.h and tools/cli/doc/replicate.md "Mirror mode").
 *
 * Stale = at the target, not at the source, under snapshots/, verified/,
 * keys/, index/, data/ and tree/. Deleted in this order: snapshots (so no
 * snapshot outlives data it needs), restore-test records, index files,
 * packs, keys. A stale pack younger than its class's minimum storage
 * duration is held back; an index file that lists one is held back too,
 * with every stale pack it lists, so the target never holds an index file
 * naming a pack that is gone (a reader takes any listing of a blob,
 * FORMAT.md §10) nor needs a pack it cannot find. A held-back pack whose
 * index files are gone is an unindexed pack: `prune` on the copy deletes
 * it, `check` reports it; this module keeps the index file precisely so
 * that neither happens before the next mirror run deletes both.
 */
#include "remote/replicate.h"
#include "remote/replicate_internal.h"
#include "remote/backend_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GIB (1024.0 * 1024.0 * 1024.0)
#define MONTH_S (30.0 * 86400.0)   /* S3 bills storage per 30-day month */

typedef struct TObj {
	char *name;
	uint64_t size;
	int64_t mtime_s;
	int stale, held, keep;   /* keep: held, or listed by a held index file */
} TObj;

typedef struct TList {
	TObj *v;
	size_t n, cap;
} TList;

static void tlist_free(TList *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int tcollect(const char *name, uint64_t size, int64_t mtime_s, void *ctx)
{
	TList *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		TObj *q = realloc(l->v, cap * sizeof *q);
		if (!q)
			return -ENOMEM;
		l->v = q;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof l->v[l->n]);
	l->v[l->n].name = strdup(name);
	if (!l->v[l->n].name)
		return -ENOMEM;
	l->v[l->n].size = size;
	l->v[l->n++].mtime_s = mtime_s;
	return 0;
}

static int tcmp(const void *a, const void *b)
{
	return strcmp(((const TObj *)a)->name, ((const TObj *)b)->name);
}

static int tlist(Backend *be, const char *prefix, TList *out, RemoteErr *err)
{
	int rc = backend_list_timed(be, prefix, tcollect, out, err);

	if (rc == -ENOMEM)
		return backend_err_set(err, -ENOMEM, "%s: out of memory listing %s", be->location, prefix);
	if (rc)
		return rc;
	if (out->n)
		qsort(out->v, out->n, sizeof *out->v, tcmp);
	return 0;
}

static TObj *tfind(const TList *l, const char *name)
{
	TObj key;

	if (l->n == 0)
		return NULL;
	memset(&key, 0, sizeof key);
	key.name = (char *)(uintptr_t)name;
	return bsearch(&key, l->v, l->n, sizeof *l->v, tcmp);
}

/* The kinds, in deletion order. */
enum { K_SNAP, K_VERIFIED, K_INDEX, K_DATA, K_TREE, K_KEYS, K_N };
static const char *const prefixes[K_N] = {
	"snapshots/", "verified/", "index/", "data/", "tree/", "keys/"
};

/* mark_stale — flag what dst holds that src does not. */
static void mark_stale(const TList *src, TList *dst)
{
	for (size_t i = 0; i < dst->n; i++)
		dst->v[i].stale = tfind(src, dst->v[i].name) == NULL;
}

/* hold_young — hold back stale packs younger than min_s; their fees. */
static void hold_young(TList *packs, int64_t min_s, double usd_gib_month, const ReplicateMirror *m,
                       int64_t now, ReplicateMirrorResult *res)
{
	for (size_t i = 0; i < packs->n; i++) {
		TObj *o = &packs->v[i];
		int64_t age;

		if (!o->stale || m->force_early_delete || min_s <= 0)
			continue;
		age = o->mtime_s < 0 ? 0 : now - o->mtime_s;
		if (age >= min_s)
			continue;
		o->held = o->keep = 1;
		res->packs_held++;
		res->bytes_held += o->size;
		res->fees_avoided_usd += (double)o->size / GIB * (double)(min_s - age) / MONTH_S * usd_gib_month;
	}
}

/* keep_index_files — an index file the source lacks is kept when it lists
 * a held-back pack, and then so is every stale pack it lists. */
static int keep_index_files(const ReplicateMirror *m, TList *index, TList *data, TList *tree,
                            ReplicateMirrorResult *res, RemoteErr *err)
{
	int any_held = res->packs_held > 0;

	if (!any_held)
		return 0;
	for (size_t i = 0; i < index->n; i++) {
		TObj *ix = &index->v[i];
		char **names = NULL;
		size_t n = 0;
		int rc, keep = 0;

		if (!ix->stale)
			continue;
		if (!m->index_packs) {
			keep = 1;       /* cannot tell: keep every stale one */
		} else {
			rc = m->index_packs(ix->name, &names, &n, m->index_ctx, err);
			if (rc)
				return rc;
			for (size_t j = 0; j < n && !keep; j++) {
				TObj *p = tfind(strncmp(names[j], "tree/", 5) == 0 ? tree : data, names[j]);
				keep = p && p->held;
			}
		}
		if (keep) {
			ix->keep = 1;
			res->index_held++;
			for (size_t j = 0; j < n; j++) {
				TObj *p = tfind(strncmp(names[j], "tree/", 5) == 0 ? tree : data, names[j]);
				if (p && p->stale && !p->keep) {
					p->keep = 1;
					res->packs_kept_with_index++;
					res->bytes_kept_with_index += p->size;
				}
			}
		}
		for (size_t j = 0; j < n; j++)
			free(names[j]);
		free(names);
	}
	if (!m->index_packs)
		for (int k = 0; k < 2; k++) {
			TList *l = k ? tree : data;
			for (size_t i = 0; i < l->n; i++)
				if (l->v[i].stale && !l->v[i].keep) {
					l->v[i].keep = 1;
					res->packs_kept_with_index++;
					res->bytes_kept_with_index += l->v[i].size;
				}
		}
	return 0;
}

int replicate_mirror_pass(Backend *src, Backend *dst, const ReplicateOptions *opts, ReplicateMirrorResult *res,
                          RemoteErr *err)
{
	const ReplicateMirror *m = &opts->mirror;
	TList s[K_N], d[K_N];
	int64_t now = m->now_s ? m->now_s : (int64_t)time(NULL);
	int rc = 0;

	memset(s, 0, sizeof s);
	memset(d, 0, sizeof d);
	memset(res, 0, sizeof *res);
	/* The target first: what the source lists afterwards is at least as
	 * new, so an object written at the source meanwhile is never taken
	 * for one it deleted. */
	for (int k = 0; k < K_N; k++)
		if ((rc = tlist(dst, prefixes[k], &d[k], err)))
			goto out;
	for (int k = 0; k < K_N; k++)
		if ((rc = tlist(src, prefixes[k], &s[k], err)))
			goto out;
	if (s[K_KEYS].n == 0) {
		rc = backend_err_set(err, -ENOENT, "%s: no key files: not mirroring a repository without keys",
		                     src->location);
		goto out;
	}
	for (int k = 0; k < K_N; k++)
		mark_stale(&s[k], &d[k]);
	hold_young(&d[K_DATA], m->min_age_data_s, m->usd_gib_month_data, m, now, res);
	hold_young(&d[K_TREE], m->min_age_tree_s, m->usd_gib_month_tree, m, now, res);
	if ((rc = keep_index_files(m, &d[K_INDEX], &d[K_DATA], &d[K_TREE], res, err)))
		goto out;
	for (int k = 0; k < K_N; k++)
		for (size_t i = 0; i < d[k].n; i++) {
			TObj *o = &d[k].v[i];
			if (!o->stale || o->keep)
				continue;
			res->requests_planned++;
			switch (k) {
			case K_SNAP: res->snapshots_deleted++; break;
			case K_VERIFIED: res->verified_deleted++; break;
			case K_INDEX: res->index_deleted++; break;
			case K_KEYS: res->keys_deleted++; break;
			default:
				res->packs_deleted++;
				res->bytes_deleted += o->size;
			}
			if (opts->dry_run)
				continue;
			rc = backend_delete(dst, o->name, err);
			if (rc == -ENOENT)
				rc = 0;     /* gone already: another mirror run */
			if (rc)
				goto out;
		}
out:
	for (int k = 0; k < K_N; k++) {
		tlist_free(&s[k]);
		tlist_free(&d[k]);
	}
	return rc;
}
