/* snapcat.c — see snapcat.h. */
#include "store/snapcat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/kv.h"
#include "store/repo_internal.h"

enum { T_BYTIME = 0, T_IDS = 1, T_META = 2 };
static const char *const TABLES[] = {"bytime", "ids", "meta"};
static const char FP_KEY[] = "fingerprint";
#define TIMEKEY_LEN (8 + STRATA_ID_LEN)
#define FP_LEN (8 + STRATA_ID_LEN)

/* Big-endian, sign bit flipped: byte order equals time order. */
static void time_key(uint8_t out[TIMEKEY_LEN], int64_t time_ns, const uint8_t id[STRATA_ID_LEN])
{
	uint64_t u = (uint64_t)time_ns ^ (1ULL << 63);

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(u >> (56 - 8 * i));
	memcpy(out + 8, id, STRATA_ID_LEN);
}

static int open_cat(Repo *repo, StrataErr *err)
{
	char dir[PATH_MAX + 16];
	Index *ix;
	int rc;

	if (repo->snapcat)
		return 0;
	/* The index creates the repository's cache directory. */
	rc = repo_index(repo, &ix, err);
	if (rc)
		return rc;
	snprintf(dir, sizeof dir, "%s/snapshots", repo->cache_dir);
	return kv_open(dir, TABLES, 3, &repo->snapcat, err);
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, STRATA_ID_LEN);
}

struct stale {
	uint8_t (*listed)[STRATA_ID_LEN];
	size_t nlisted;
	uint8_t (*gone)[STRATA_ID_LEN];
	uint8_t (*gone_time)[TIMEKEY_LEN];
	size_t ngone, cap;
	int oom;
};

static int find_stale(const uint8_t *key, size_t key_len, const uint8_t *val, size_t val_len, void *ctx)
{
	struct stale *s = ctx;

	if (key_len != STRATA_ID_LEN || val_len != TIMEKEY_LEN)
		return 0;
	if (bsearch(key, s->listed, s->nlisted, STRATA_ID_LEN, cmp_id))
		return 0;
	if (s->ngone == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		void *a = realloc(s->gone, cap * STRATA_ID_LEN);
		if (a)
			s->gone = a;
		void *b = a ? realloc(s->gone_time, cap * TIMEKEY_LEN) : NULL;
		if (b)
			s->gone_time = b;
		if (!a || !b) {
			s->oom = 1;
			return 1;
		}
		s->cap = cap;
	}
	memcpy(s->gone[s->ngone], key, STRATA_ID_LEN);
	memcpy(s->gone_time[s->ngone], val, TIMEKEY_LEN);
	s->ngone++;
	return 0;
}

static int add_one(Repo *repo, KvTxn *t, const uint8_t id[STRATA_ID_LEN], StrataErr *err)
{
	uint8_t *plain = NULL, tk[TIMEKEY_LEN];
	size_t len = 0;
	Snapshot snap;
	int rc;

	rc = snapshot_read_plain(repo, id, &plain, &len, err);
	if (rc)
		return rc;
	rc = snapshot_decode(id, plain, len, &snap, err);
	if (rc == 0) {
		time_key(tk, snap.time_ns, id);
		if (kv_put(t, T_BYTIME, tk, sizeof tk, plain, len) || kv_put(t, T_IDS, id, STRATA_ID_LEN, tk, sizeof tk))
			rc = strata_err_set(err, -EIO, "snapshot catalogue: write failed");
		snapshot_clear(&snap);
	}
	free(plain);
	return rc;
}

int snapcat_sync(Repo *repo, StrataErr *err)
{
	uint8_t (*ids)[STRATA_ID_LEN] = NULL, fp[FP_LEN] = {0}, *old = NULL;
	struct stale st = {0};
	size_t n = 0, old_len = 0;
	KvTxn *t = NULL;
	uint64_t count;
	int rc;

	rc = open_cat(repo, err);
	if (rc)
		return rc;
	rc = repo_list_ids(repo, "snapshots/", &ids, &n, err);
	if (rc)
		return rc;
	count = n;
	memcpy(fp, &count, 8);
	for (size_t i = 0; i < n; i++)
		for (size_t b = 0; b < STRATA_ID_LEN; b++)
			fp[8 + b] ^= ids[i][b];
	if (kv_get(repo->snapcat, T_META, FP_KEY, sizeof FP_KEY - 1, &old, &old_len) == 0 &&
	    old_len == FP_LEN && memcmp(old, fp, FP_LEN) == 0)
		goto out;   /* the catalogue already holds exactly these snapshots */

	if (n > 1)   /* ids is NULL when the repository has no snapshots */
		qsort(ids, n, STRATA_ID_LEN, cmp_id);
	rc = kv_begin(repo->snapcat, &t, err);
	if (rc)
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint8_t *tk = NULL;
		size_t tk_len = 0;
		if (kv_get(repo->snapcat, T_IDS, ids[i], STRATA_ID_LEN, &tk, &tk_len) == 0) {
			free(tk);
			continue;
		}
		rc = add_one(repo, t, ids[i], err);
		if (rc)
			goto out;
	}
	st.listed = ids;
	st.nlisted = n;
	rc = kv_foreach(repo->snapcat, T_IDS, 0, find_stale, &st, err);
	if (st.oom)
		rc = strata_err_set(err, -ENOMEM, "out of memory");
	if (rc)
		goto out;
	for (size_t i = 0; i < st.ngone; i++) {
		kv_del(t, T_IDS, st.gone[i], STRATA_ID_LEN);
		kv_del(t, T_BYTIME, st.gone_time[i], TIMEKEY_LEN);
	}
	if (kv_put(t, T_META, FP_KEY, sizeof FP_KEY - 1, fp, FP_LEN)) {
		rc = strata_err_set(err, -EIO, "snapshot catalogue: write failed");
		goto out;
	}
	rc = kv_commit(t, err);
	t = NULL;
out:
	kv_abort(t);
	free(old);
	free(ids);
	free(st.gone);
	free(st.gone_time);
	return rc;
}

struct walk {
	SnapcatFn fn;
	void *ctx;
	int rc;
	StrataErr *err;
};

static int visit(const uint8_t *key, size_t key_len, const uint8_t *val, size_t val_len, void *ctx)
{
	struct walk *w = ctx;
	Snapshot snap;
	int rc;

	if (key_len != TIMEKEY_LEN)
		return 0;
	rc = snapshot_decode(key + 8, val, val_len, &snap, w->err);
	if (rc) {
		w->rc = rc;
		return 1;
	}
	rc = w->fn(&snap, w->ctx);
	snapshot_clear(&snap);
	return rc;
}

int snapcat_foreach(Repo *repo, int newest_first, SnapcatFn fn, void *ctx, StrataErr *err)
{
	struct walk w = {fn, ctx, 0, err};
	int rc;

	if (!repo->snapcat_synced) {
		rc = snapcat_sync(repo, err);
		if (rc)
			return rc;
		repo->snapcat_synced = 1;
	}
	rc = kv_foreach(repo->snapcat, T_BYTIME, newest_first, visit, &w, err);
	return w.rc ? w.rc : rc;
}

/* The fingerprint is updated too, so the next sync stays a no-op. */
static void update_fp(Repo *repo, KvTxn *t, const uint8_t id[STRATA_ID_LEN], int add)
{
	uint8_t *old = NULL, fp[FP_LEN];
	size_t len = 0;
	uint64_t count;

	if (kv_get(repo->snapcat, T_META, FP_KEY, sizeof FP_KEY - 1, &old, &len) != 0 || len != FP_LEN) {
		free(old);
		kv_del(t, T_META, FP_KEY, sizeof FP_KEY - 1);
		return;
	}
	memcpy(fp, old, FP_LEN);
	free(old);
	memcpy(&count, fp, 8);
	count = add ? count + 1 : count - 1;
	memcpy(fp, &count, 8);
	for (size_t b = 0; b < STRATA_ID_LEN; b++)
		fp[8 + b] ^= id[b];
	kv_put(t, T_META, FP_KEY, sizeof FP_KEY - 1, fp, FP_LEN);
}

void snapcat_note_saved(Repo *repo, const uint8_t id[STRATA_ID_LEN], int64_t time_ns,
                        const uint8_t *plain, size_t len)
{
	uint8_t tk[TIMEKEY_LEN];
	KvTxn *t = NULL;

	if (open_cat(repo, NULL) != 0 || kv_begin(repo->snapcat, &t, NULL) != 0)
		return;
	time_key(tk, time_ns, id);
	if (kv_put(t, T_BYTIME, tk, sizeof tk, plain, len) == 0 &&
	    kv_put(t, T_IDS, id, STRATA_ID_LEN, tk, sizeof tk) == 0) {
		update_fp(repo, t, id, 1);
		kv_commit(t, NULL);
	} else {
		kv_abort(t);
	}
}

void snapcat_note_deleted(Repo *repo, const uint8_t id[STRATA_ID_LEN])
{
	uint8_t *tk = NULL;
	size_t tk_len = 0;
	KvTxn *t = NULL;

	if (open_cat(repo, NULL) != 0)
		return;
	if (kv_get(repo->snapcat, T_IDS, id, STRATA_ID_LEN, &tk, &tk_len) != 0)
		return;
	if (kv_begin(repo->snapcat, &t, NULL) == 0) {
		kv_del(t, T_IDS, id, STRATA_ID_LEN);
		kv_del(t, T_BYTIME, tk, tk_len);
		update_fp(repo, t, id, 0);
		kv_commit(t, NULL);
	}
	free(tk);
}

void snapcat_close(Repo *repo)
{
	kv_close(repo->snapcat);
	repo->snapcat = NULL;
}
