/* check_index.c — the tolerant local index and the pack listing that check
 * and repair share (check.h "shared with repair"). FORMAT.md "Index file",
 * "Local cache".
 */
#include "store/check/check_internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"
#include "store/indexfile.h"
#include "store/repo_internal.h"

int check_damage_code(int rc)
{
	return rc == STRATA_EAUTH || rc == STRATA_EFORMAT || rc == STRATA_EVERSION ||
	       rc == STRATA_EDAMAGED || rc == STRATA_ENOTFOUND;
}

/* indexfile_sync without the failure on a damaged file and without writing
 * anything: a file that cannot be read is left out (check reports it,
 * repair replaces it). */
int check_index_sync(Repo *repo, Index *ix, StrataErr *err)
{
	uint8_t (*stored)[STRATA_ID_LEN] = NULL, (*seen)[STRATA_ID_LEN] = NULL;
	size_t nstored = 0, nseen = 0;
	CheckIdMap set = {0};
	int rc, rebuild = 0;

	if ((rc = repo_list_ids(repo, "index/", &stored, &nstored, err)) ||
	    (rc = index_list_indexfiles(ix, &seen, &nseen, err)))
		goto out;
	for (size_t i = 0; i < nstored; i++) {
		if (check_idmap_put(&set, stored[i], i) != 0) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < nseen && !rebuild; i++)
		rebuild = !check_idmap_get(&set, seen[i], NULL);
	if (rebuild && (rc = index_clear(ix, err)))
		goto out;
	for (size_t i = 0; i < nstored; i++) {
		IndexFilePack *packs = NULL;
		StrataErr ferr = {0};
		size_t n = 0;
		if (!rebuild && index_has_indexfile(ix, stored[i]))
			continue;
		rc = indexfile_read(repo, stored[i], &packs, &n, &ferr);
		if (rc && check_damage_code(rc)) {
			rc = 0;
			continue;
		}
		if (rc) {
			if (err)
				*err = ferr;
			goto out;
		}
		for (size_t j = 0; j < n && rc == 0; j++)
			rc = index_add_pack(ix, packs[j].id, packs[j].kind, packs[j].size,
			                    packs[j].entries, packs[j].n, 0, err);
		if (rc == 0)
			rc = index_note_indexfile(ix, stored[i], NULL, 0, err);
		indexfile_packs_free(packs, n);
		if (rc)
			goto out;
	}
out:
	check_idmap_free(&set);
	free(stored);
	free(seen);
	return rc;
}

int check_index(Repo *repo, Index **out, StrataErr *err)
{
	StrataErr serr = {0};
	Index *ix = NULL;
	int rc;

	rc = repo_index(repo, out, &serr);
	if (rc == 0 || !check_damage_code(rc)) {
		if (rc && err)
			*err = serr;
		return rc;
	}
	/* repo_index created the cache directory before the sync failed. */
	pthread_mutex_lock(&repo->lock);
	if (repo->index) {
		*out = repo->index;
		rc = 0;
		goto out;
	}
	if ((rc = index_open_cache(repo->cache_dir, &ix, err)))
		goto out;
	if ((rc = check_index_sync(repo, ix, err))) {
		index_close(ix);
		goto out;
	}
	repo->index = ix;
	*out = ix;
out:
	pthread_mutex_unlock(&repo->lock);
	return rc;
}

/* ---- pack listing ---- */

struct pack_list {
	uint8_t kind;
	CheckPackInfoFn fn;
	void *ctx;
	int stop;
};

static int pack_name_cb(const char *name, const BackendObjInfo *info, void *ctx)
{
	struct pack_list *l = ctx;
	const char *base = strrchr(name, '/');
	uint8_t id[STRATA_ID_LEN];

	if (!base || base - name < 3 || strlen(base + 1) != STRATA_ID_HEX_LEN ||
	    memcmp(base - 2, base + 1, 2) != 0 || codec_unhex(base + 1, id, STRATA_ID_LEN) != 0)
		return 0;
	l->stop = l->fn(id, l->kind, info, l->ctx);
	return l->stop;
}

struct size_only {
	CheckPackFn fn;
	void *ctx;
};

static int size_only_cb(const uint8_t id[STRATA_ID_LEN], uint8_t kind, const BackendObjInfo *info, void *ctx)
{
	struct size_only *s = ctx;

	return s->fn(id, kind, info->size, s->ctx);
}

int check_list_packs(Repo *repo, CheckPackFn fn, void *ctx, StrataErr *err)
{
	struct size_only s = {fn, ctx};

	return check_list_packs_info(repo, size_only_cb, &s, err);
}

int check_list_packs_info(Repo *repo, CheckPackInfoFn fn, void *ctx, StrataErr *err)
{
	struct pack_list l = {PACK_KIND_DATA, fn, ctx, 0};
	RemoteErr rerr = {{0}};
	int rc;

	rc = backend_list_info(repo->be, "data/", pack_name_cb, &l, &rerr);
	if (rc == 0 && !l.stop) {
		l.kind = PACK_KIND_TREE;
		rc = backend_list_info(repo->be, "tree/", pack_name_cb, &l, &rerr);
	}
	if (l.stop)
		return l.stop;
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	return 0;
}
