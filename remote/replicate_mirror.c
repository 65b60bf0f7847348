/* replicate_mirror.c — mirror mode of replicate_run: remove from the
 * target what the source no longer holds (see replicate.h,
 * replicate_internal.h and tools/cli/doc/replicate.md "Mirror mode").
 *
 * Stale = at the target, not at the source, under snapshots/, verified/,
 * keys/, index/, data/ and tree/. Deleted in this order: snapshots (so no
 * snapshot outlives data it needs), restore-test records, index files,
 * packs, keys. A stale pack is kept when younger than its class's
 * minimum storage duration (held back) or when the source still holds
 * one of its blobs (the copy's own copy of data the source repacked and
 * the copy did not receive again, store/replica/replica.h). A stale index
 * file listing no pack to delete is kept as it is; one that lists a pack
 * to delete is replaced: first one new index file listing the kept packs
 * of all such files is written, then they are deleted, then the packs.
 * So the target never holds an index file naming a pack that is gone (a
 * reader takes any listing of a blob, FORMAT.md §10), nor a kept pack no
 * index file lists.
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

static int tcollect(const char *name, const BackendObjInfo *info, void *ctx)
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
	l->v[l->n].size = info->size;
	l->v[l->n++].mtime_s = info->mtime_s;
	return 0;
}

static int tcmp(const void *a, const void *b)
{
	return strcmp(((const TObj *)a)->name, ((const TObj *)b)->name);
}

static int tlist(Backend *be, const char *prefix, TList *out, RemoteErr *err)
{
	int rc = backend_list_info(be, prefix, tcollect, out, err);

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

/* mark_stale — flag what dst holds that src does not (or, with skip, that
 * the copy is not to hold). */
static void mark_stale(const TList *src, TList *dst, const ReplicateOptions *opts, int use_skip)
{
	for (size_t i = 0; i < dst->n; i++)
		dst->v[i].stale = tfind(src, dst->v[i].name) == NULL ||
		                  (use_skip && opts->skip && opts->skip(dst->v[i].name, opts->hook_ctx));
}

/* hold_young — hold back stale packs younger than min_s; their fees. */
static void hold_young(TList *packs, int64_t min_s, double usd_gib_month, const ReplicateMirror *m,
                       int64_t now, ReplicateMirrorResult *res)
{
	for (size_t i = 0; i < packs->n; i++) {
		TObj *o = &packs->v[i];
		int64_t age;

		if (!o->stale || o->keep || m->force_early_delete || min_s <= 0)
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

/* One stale index file as read: what it lists. */
typedef struct ReadIx {
	char **names;
	int *needed;
	size_t n;
} ReadIx;

static void readix_free(ReadIx *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		for (size_t j = 0; j < v[i].n; j++)
			free(v[i].names[j]);
		free(v[i].names);
		free(v[i].needed);
	}
	free(v);
}

static TObj *pack_of(TList *data, TList *tree, const char *name)
{
	return tfind(strncmp(name, "tree/", 5) == 0 ? tree : data, name);
}

/* Without the key: every stale index file and pack is kept while any
 * pack is held back (which index file lists it is unknown). */
static void keep_all_while_held(TList *index, TList *data, TList *tree, ReplicateMirrorResult *res)
{
	if (!res->packs_held)
		return;
	for (size_t i = 0; i < index->n; i++)
		if (index->v[i].stale) {
			index->v[i].keep = 1;
			res->index_held++;
		}
	for (int k = 0; k < 2; k++) {
		TList *l = k ? tree : data;
		for (size_t i = 0; i < l->n; i++)
			if (l->v[i].stale && !l->v[i].keep) {
				l->v[i].keep = 1;
				res->packs_kept_with_index++;
				res->bytes_kept_with_index += l->v[i].size;
			}
	}
}

/* read_index_files — with the key (m->index_packs): read the index files
 * to judge (those the source lacks; every one for a selective copy) and
 * keep the stale packs the source (or the selection) still needs blobs
 * of. A selective copy's data pack no chosen snapshot needs becomes
 * stale although the source holds it. *out: one entry per index file. */
static int read_index_files(const ReplicateMirror *m, TList *index, TList *data, TList *tree, ReadIx **out,
                            ReplicateMirrorResult *res, RemoteErr *err)
{
	ReadIx *rd;
	int rc;

	*out = NULL;
	if (!m->index_packs)
		return 0;
	rd = calloc(index->n ? index->n : 1, sizeof *rd);
	if (!rd)
		return backend_err_set(err, -ENOMEM, "out of memory");
	*out = rd;
	for (size_t i = 0; i < index->n; i++) {
		if (!index->v[i].stale && !m->selective)
			continue;
		if ((rc = m->index_packs(index->v[i].name, &rd[i].names, &rd[i].needed, &rd[i].n, m->index_ctx, err)))
			return rc;
		for (size_t j = 0; j < rd[i].n; j++) {
			TObj *p = pack_of(data, tree, rd[i].names[j]);
			if (p && m->selective && !rd[i].needed[j] && strncmp(p->name, "data/", 5) == 0)
				p->stale = 1;
		}
	}
	for (size_t i = 0; i < index->n; i++)
		for (size_t j = 0; j < rd[i].n; j++) {
			TObj *p = pack_of(data, tree, rd[i].names[j]);
			if (p && p->stale && rd[i].needed[j] && !p->keep) {
				p->keep = 1;
				res->packs_kept_needed++;
				res->bytes_kept_needed += p->size;
			}
		}
	return 0;
}

/* judge_index_files — keep an index file as it is when it lists no pack
 * to delete, else rewrite its kept packs into one new index file
 * (written here, before any deletion) and delete it. Without the key
 * (no m->index_packs): keep_all_while_held. */
static int judge_index_files(const ReplicateMirror *m, int dry_run, TList *index, TList *data, TList *tree,
                             const ReadIx *rd, ReplicateMirrorResult *res, RemoteErr *err)
{
	const char **keep = NULL;
	size_t nkeep = 0, cap_keep = 0;
	int rc = 0;

	if (!m->index_packs) {
		keep_all_while_held(index, data, tree, res);
		return 0;
	}
	for (size_t i = 0; i < index->n; i++) {
		int drops = 0, kept_stale = 0;

		if (!index->v[i].stale && !m->selective)
			continue;
		for (size_t j = 0; j < rd[i].n; j++) {
			TObj *p = pack_of(data, tree, rd[i].names[j]);
			if (p && p->stale) {
				drops |= !p->keep;
				kept_stale |= p->keep;
			}
		}
		if (!drops) {
			if (index->v[i].stale) {
				index->v[i].keep = 1;
				if (kept_stale)
					res->index_held++;
			}
			continue;
		}
		/* Deleted: what it lists and stays must be listed anew. */
		index->v[i].stale = 1;
		index->v[i].keep = 0;
		for (size_t j = 0; j < rd[i].n; j++) {
			TObj *p = pack_of(data, tree, rd[i].names[j]);
			int dup = 0;
			if (!p || (p->stale && !p->keep))
				continue;
			for (size_t k = 0; k < nkeep && !dup; k++)
				dup = strcmp(keep[k], p->name) == 0;
			if (dup)
				continue;
			if (nkeep == cap_keep) {
				size_t cap = cap_keep ? 2 * cap_keep : 16;
				const char **q = realloc(keep, cap * sizeof *q);
				if (!q) {
					rc = backend_err_set(err, -ENOMEM, "out of memory");
					goto out;
				}
				keep = q;
				cap_keep = cap;
			}
			keep[nkeep++] = p->name;
		}
	}
	if (nkeep) {
		res->index_rewritten++;
		res->requests_planned++;
		if (!dry_run && (rc = m->rewrite_index(keep, nkeep, m->index_ctx, err)))
			goto out;
	}
out:
	free(keep);
	return rc;
}

int replicate_mirror_pass(Backend *src, Backend *dst, const ReplicateOptions *opts, ReplicateMirrorResult *res,
                          RemoteErr *err)
{
	const ReplicateMirror *m = &opts->mirror;
	TList s[K_N], d[K_N];
	ReadIx *rd = NULL;
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
		mark_stale(&s[k], &d[k], opts, m->selective && (k == K_SNAP || k == K_VERIFIED));
	if ((rc = read_index_files(m, &d[K_INDEX], &d[K_DATA], &d[K_TREE], &rd, res, err)))
		goto out;
	hold_young(&d[K_DATA], m->min_age_data_s, m->usd_gib_month_data, m, now, res);
	hold_young(&d[K_TREE], m->min_age_tree_s, m->usd_gib_month_tree, m, now, res);
	if ((rc = judge_index_files(m, opts->dry_run, &d[K_INDEX], &d[K_DATA], &d[K_TREE], rd, res, err)))
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
	readix_free(rd, d[K_INDEX].n);
	for (int k = 0; k < K_N; k++) {
		tlist_free(&s[k]);
		tlist_free(&d[k]);
	}
	return rc;
}
