/* kv.c — see kv.h. */
#include "store/kv.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#define KV_MAP_SIZE ((size_t)1 << 38)   /* 256 GiB of address space; the file grows as used */

struct Kv {
	MDB_env *env;
	MDB_dbi dbi[KV_MAX_TABLES];
	int ntables;
	char dir[PATH_MAX];
};

struct KvTxn {
	Kv *kv;
	MDB_txn *txn;
};

static int env_open(Kv *kv, const char *const *tables)
{
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_env_create(&kv->env)) != 0)
		return rc;
	mdb_env_set_maxdbs(kv->env, KV_MAX_TABLES);
	mdb_env_set_mapsize(kv->env, KV_MAP_SIZE);
	mdb_env_set_maxreaders(kv->env, 256);
	/* NOSYNC: a cache; a lost tail of writes only costs speed. */
	rc = mdb_env_open(kv->env, kv->dir, MDB_NOTLS | MDB_NOSYNC | MDB_NOMETASYNC, 0600);
	if (rc == 0)
		rc = mdb_txn_begin(kv->env, NULL, 0, &txn);
	if (rc == 0) {
		for (int i = 0; i < kv->ntables && rc == 0; i++)
			rc = mdb_dbi_open(txn, tables[i], MDB_CREATE, &kv->dbi[i]);
		rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
	}
	if (rc) {
		mdb_env_close(kv->env);
		kv->env = NULL;
	}
	return rc;
}

int kv_open(const char *dir, const char *const *tables, int ntables, Kv **out, StrataErr *err)
{
	Kv *kv;
	int rc;

	if (ntables < 1 || ntables > KV_MAX_TABLES)
		return strata_err_set(err, -EINVAL, "kv: bad table count");
	kv = calloc(1, sizeof *kv);
	if (!kv)
		return strata_err_set(err, -ENOMEM, "out of memory");
	kv->ntables = ntables;
	snprintf(kv->dir, sizeof kv->dir, "%s", dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		free(kv);
		return strata_err_set(err, rc, "cannot create cache directory %s: %s", dir, strerror(-rc));
	}
	rc = env_open(kv, tables);
	if (rc) {
		/* Damaged or from an incompatible LMDB: start empty. */
		char p[PATH_MAX + 16];
		snprintf(p, sizeof p, "%s/data.mdb", dir);
		unlink(p);
		snprintf(p, sizeof p, "%s/lock.mdb", dir);
		unlink(p);
		rc = env_open(kv, tables);
	}
	if (rc) {
		free(kv);
		return strata_err_set(err, -EIO, "cache %s cannot be opened: %s", dir, mdb_strerror(rc));
	}
	*out = kv;
	return 0;
}

void kv_close(Kv *kv)
{
	if (!kv)
		return;
	if (kv->env) {
		mdb_env_sync(kv->env, 1);
		mdb_env_close(kv->env);
	}
	free(kv);
}

int kv_view(Kv *kv, int table, const void *key, size_t key_len, KvViewFn fn, void *ctx)
{
	MDB_val k = {key_len, (void *)(uintptr_t)key}, v;
	MDB_txn *txn;
	int rc;

	if (mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn) != 0)
		return -EIO;
	rc = mdb_get(txn, kv->dbi[table], &k, &v);
	if (rc == 0)
		rc = fn(v.mv_data, v.mv_size, ctx);
	else
		rc = rc == MDB_NOTFOUND ? STRATA_ENOTFOUND : -EIO;
	mdb_txn_abort(txn);
	return rc;
}

struct KvReader {
	Kv *kv;
	MDB_txn *txn;                 /* NULL until the first view, or after a failure */
	unsigned views;               /* since the transaction began or was renewed */
};

int kv_reader_open(Kv *kv, KvReader **out)
{
	KvReader *r = calloc(1, sizeof *r);

	if (!r)
		return -ENOMEM;
	r->kv = kv;
	*out = r;
	return 0;
}

int kv_reader_view(KvReader *r, int table, const void *key, size_t key_len, KvViewFn fn, void *ctx)
{
	MDB_val k = {key_len, (void *)(uintptr_t)key}, v;
	int rc;

	if (r->txn && r->views >= KV_READER_RENEW) {
		mdb_txn_reset(r->txn);
		if (mdb_txn_renew(r->txn) != 0) {
			mdb_txn_abort(r->txn);
			r->txn = NULL;
		}
		r->views = 0;
	}
	if (!r->txn && mdb_txn_begin(r->kv->env, NULL, MDB_RDONLY, &r->txn) != 0) {
		r->txn = NULL;
		return -EIO;
	}
	r->views++;
	rc = mdb_get(r->txn, r->kv->dbi[table], &k, &v);
	if (rc == 0)
		return fn(v.mv_data, v.mv_size, ctx);
	return rc == MDB_NOTFOUND ? STRATA_ENOTFOUND : -EIO;
}

void kv_reader_refresh(KvReader *r)
{
	r->views = KV_READER_RENEW;
}

void kv_reader_close(KvReader *r)
{
	if (!r)
		return;
	if (r->txn)
		mdb_txn_abort(r->txn);
	free(r);
}

struct copy_out {
	uint8_t **out;
	size_t *out_len;
};

static int copy_value(const uint8_t *val, size_t len, void *ctx)
{
	struct copy_out *c = ctx;

	*c->out = malloc(len ? len : 1);
	if (!*c->out)
		return -ENOMEM;
	memcpy(*c->out, val, len);
	*c->out_len = len;
	return 0;
}

int kv_get(Kv *kv, int table, const void *key, size_t key_len, uint8_t **out, size_t *out_len)
{
	struct copy_out c = { out, out_len };

	return kv_view(kv, table, key, key_len, copy_value, &c);
}

int kv_begin(Kv *kv, KvTxn **out, StrataErr *err)
{
	KvTxn *t = malloc(sizeof *t);
	int rc;

	if (!t)
		return strata_err_set(err, -ENOMEM, "out of memory");
	t->kv = kv;
	rc = mdb_txn_begin(kv->env, NULL, 0, &t->txn);
	if (rc) {
		free(t);
		return strata_err_set(err, -EIO, "cache %s: %s", kv->dir, mdb_strerror(rc));
	}
	*out = t;
	return 0;
}

int kv_put(KvTxn *t, int table, const void *key, size_t key_len, const void *val, size_t val_len)
{
	MDB_val k = {key_len, (void *)(uintptr_t)key}, v = {val_len, (void *)(uintptr_t)val};

	if (key_len == 0 || key_len > 511)   /* LMDB's default key size limit */
		return -EINVAL;
	return mdb_put(t->txn, t->kv->dbi[table], &k, &v, 0) ? -EIO : 0;
}

int kv_del(KvTxn *t, int table, const void *key, size_t key_len)
{
	MDB_val k = {key_len, (void *)(uintptr_t)key};
	int rc;

	if (key_len == 0 || key_len > 511)
		return 0;
	rc = mdb_del(t->txn, t->kv->dbi[table], &k, NULL);
	return rc && rc != MDB_NOTFOUND ? -EIO : 0;
}

int kv_drop(KvTxn *t, int table)
{
	return mdb_drop(t->txn, t->kv->dbi[table], 0) ? -EIO : 0;
}

int kv_commit(KvTxn *t, StrataErr *err)
{
	int rc = mdb_txn_commit(t->txn);
	char dir[PATH_MAX];

	snprintf(dir, sizeof dir, "%s", t->kv->dir);
	free(t);
	if (rc)
		return strata_err_set(err, -EIO, "cache %s: commit failed: %s", dir, mdb_strerror(rc));
	return 0;
}

void kv_abort(KvTxn *t)
{
	if (!t)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

int kv_foreach(Kv *kv, int table, int reverse, KvFn fn, void *ctx, StrataErr *err)
{
	MDB_cursor *cur = NULL;
	MDB_txn *txn;
	MDB_val k, v;
	int rc, stop = 0;

	rc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return strata_err_set(err, -EIO, "cache %s: %s", kv->dir, mdb_strerror(rc));
	rc = mdb_cursor_open(txn, kv->dbi[table], &cur);
	if (rc == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, reverse ? MDB_LAST : MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, reverse ? MDB_PREV : MDB_NEXT)) {
			stop = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, ctx);
			if (stop)
				break;
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	if (stop)
		return stop;
	if (rc && rc != MDB_NOTFOUND)
		return strata_err_set(err, -EIO, "cache %s: %s", kv->dir, mdb_strerror(rc));
	return 0;
}

uint64_t kv_count(Kv *kv, int table)
{
	MDB_txn *txn;
	MDB_stat st;
	uint64_t n = 0;

	if (mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn) != 0)
		return 0;
	if (mdb_stat(txn, kv->dbi[table], &st) == 0)
		n = st.ms_entries;
	mdb_txn_abort(txn);
	return n;
}
