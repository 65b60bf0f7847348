/* snapcat.c — see snapcat.h. FORMAT.md §16 "Local cache", snapshot
 * catalogue. */
#include "store/snapcat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/kv.h"
#include "store/repo_internal.h"

enum { T_BYTIME = 0, T_IDS = 1, T_META = 2 };
static const char *const TABLES[] = {"bytime", "ids", "meta"};
static const char SET_KEY[] = "idset";
#define TIMEKEY_LEN (8 + STRATA_ID_LEN)
/* An IDs-table value: the bytime key, then when the entry was added
 * (CLOCK_REALTIME ns, u64 LE; see RECENT_NS). */
#define IDVAL_LEN (TIMEKEY_LEN + 8)
/* A catalogue entry missing from a listing is stale, unless it was added
 * less than this before the listing began: then another process may have
 * saved it after the listing was taken, and it is stat'ed before it goes.
 * The catalogue is local, so every writer uses this machine's clock; the
 * margin covers clock adjustments. */
#define RECENT_NS 10000000000LL
/* Snapshot files read and decrypted per write transaction while building:
 * the writer lock is never held across network reads, and an interrupted
 * build keeps what it committed. */
#define FETCH_BATCH 256
/* A Repo re-lists snapshots/ when its last sync is older than this, so a
 * long-lived process (mount) sees other writers while one command's
 * repeated queries cost one listing. */
#define RESYNC_NS 1000000000LL

/* The catalogue's directory under <cache>/<repo-id>/, and the one catalogues
 * before the keyed ID-set fingerprint used (removed on open: a binary that
 * does not maintain "idset" must not share the tables). */
#define CAT_DIR "snapcat"
#define OLD_CAT_DIR "snapshots"

/* The ID set's fingerprint: how many IDs, and the XOR over them of a keyed
 * 128-bit PRF of the ID (FORMAT.md §16). Keyed, so that nobody without the
 * repository key can pick file names whose set collides with the
 * catalogue's (an unkeyed XOR of the names could be matched by two made-up
 * names after two deletions); SipHash, because a BLAKE2b per ID would
 * cost more than the listing itself. */
#define SET_X_LEN CODEC_SHORT_MAC_LEN
#define SET_LEN (8 + SET_X_LEN)

typedef struct IdSet {
	uint8_t  key[CODEC_SHORT_MAC_KEY_LEN];   /* not stored */
	uint64_t count;
	uint8_t  x[SET_X_LEN];
} IdSet;

/* An empty set; its key is BLAKE2b-256 keyed with id_key of a context
 * string, cut to 16 bytes: the same for every process of the repository. */
static void idset_init(const Repo *repo, IdSet *s)
{
	static const char ctx[] = "strata snapshot catalogue v1";
	uint8_t k[STRATA_ID_LEN];

	memset(s, 0, sizeof *s);
	codec_chunk_id(repo->keys, ctx, sizeof ctx - 1, k);
	memcpy(s->key, k, sizeof s->key);
	codec_wipe(k, sizeof k);
}

static void idset_toggle(IdSet *s, const uint8_t id[STRATA_ID_LEN], int add)
{
	uint8_t h[SET_X_LEN];

	codec_short_mac(s->key, id, STRATA_ID_LEN, h);
	for (size_t b = 0; b < SET_X_LEN; b++)
		s->x[b] ^= h[b];
	s->count = add ? s->count + 1 : s->count - 1;
}

static void idset_encode(const IdSet *s, uint8_t out[SET_LEN])
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(s->count >> (8 * i));
	memcpy(out + 8, s->x, SET_X_LEN);
}

/* The stored fingerprint into an initialised *out; 0, or -1 when absent
 * or malformed (unknown). */
static int idset_load(Kv *kv, IdSet *out)
{
	uint8_t *v = NULL;
	size_t len = 0;

	if (kv_get(kv, T_META, SET_KEY, sizeof SET_KEY - 1, &v, &len) != 0)
		return -1;
	if (len != SET_LEN) {
		free(v);
		return -1;
	}
	out->count = 0;
	for (int i = 0; i < 8; i++)
		out->count |= (uint64_t)v[i] << (8 * i);
	memcpy(out->x, v + 8, SET_X_LEN);
	free(v);
	return 0;
}

static int idset_store(KvTxn *t, const IdSet *s)
{
	uint8_t v[SET_LEN];

	idset_encode(s, v);
	return kv_put(t, T_META, SET_KEY, sizeof SET_KEY - 1, v, sizeof v);
}

static int idset_equal(const IdSet *a, const IdSet *b)
{
	return a->count == b->count && memcmp(a->x, b->x, SET_X_LEN) == 0;
}

/* Big-endian, sign bit flipped: byte order equals time order. */
static void time_key(uint8_t out[TIMEKEY_LEN], int64_t time_ns, const uint8_t id[STRATA_ID_LEN])
{
	uint64_t u = (uint64_t)time_ns ^ (1ULL << 63);

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(u >> (56 - 8 * i));
	memcpy(out + 8, id, STRATA_ID_LEN);
}

static int64_t key_time(const uint8_t key[TIMEKEY_LEN])
{
	uint64_t u = 0;

	for (int i = 0; i < 8; i++)
		u = u << 8 | key[i];
	return (int64_t)(u ^ (1ULL << 63));
}

static int64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void idval(uint8_t out[IDVAL_LEN], const uint8_t tk[TIMEKEY_LEN])
{
	uint64_t now = (uint64_t)clock_ns(CLOCK_REALTIME);

	memcpy(out, tk, TIMEKEY_LEN);
	for (int i = 0; i < 8; i++)
		out[TIMEKEY_LEN + i] = (uint8_t)(now >> (8 * i));
}

static int64_t idval_added(const uint8_t v[IDVAL_LEN])
{
	uint64_t u = 0;

	for (int i = 0; i < 8; i++)
		u |= (uint64_t)v[TIMEKEY_LEN + i] << (8 * i);
	return (int64_t)u;
}

/* The catalogue needs only the cache directory, not the chunk index: a
 * query must not wait for index files to be listed and fetched. */
static int open_cat(Repo *repo, StrataErr *err)
{
	char dir[PATH_MAX + 16];
	int rc;

	if (repo->snapcat)
		return 0;
	rc = repo_mkdir_p(repo->cache_dir);
	if (rc)
		return strata_err_set(err, rc, "cannot create cache directory %s: %s", repo->cache_dir, strerror(-rc));
	snprintf(dir, sizeof dir, "%s/" OLD_CAT_DIR "/data.mdb", repo->cache_dir);
	if (unlink(dir) == 0) {
		snprintf(dir, sizeof dir, "%s/" OLD_CAT_DIR "/lock.mdb", repo->cache_dir);
		unlink(dir);
		snprintf(dir, sizeof dir, "%s/" OLD_CAT_DIR, repo->cache_dir);
		rmdir(dir);
	}
	snprintf(dir, sizeof dir, "%s/" CAT_DIR, repo->cache_dir);
	return kv_open(dir, TABLES, 3, &repo->snapcat, err);
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, STRATA_ID_LEN);
}

/* Sort and drop duplicates (a listing should have none; a page repeated by
 * a store must not count twice). */
static size_t sort_unique(uint8_t (*ids)[STRATA_ID_LEN], size_t n)
{
	size_t w = 0;

	if (n < 2)
		return n;
	qsort(ids, n, STRATA_ID_LEN, cmp_id);
	for (size_t i = 1; i < n; i++)
		if (memcmp(ids[i], ids[w], STRATA_ID_LEN) != 0)
			memcpy(ids[++w], ids[i], STRATA_ID_LEN);
	return w + 1;
}

static int listed(uint8_t (*ids)[STRATA_ID_LEN], size_t n, const uint8_t *id)
{
	return bsearch(id, ids, n, STRATA_ID_LEN, cmp_id) != NULL;
}

/* ---- writes: every committed transaction keeps the invariant
 *      "idset present => idset == fingerprint of the ids table, and
 *       bytime holds exactly one entry per id" (FORMAT.md §16) ---- */

/* One IDs-table entry: the catalogue ID and its bytime key. */
struct entry {
	uint8_t id[STRATA_ID_LEN];
	uint8_t tk[TIMEKEY_LEN];
};

struct entries {
	struct entry *v;
	size_t n, cap;
	int oom;
};

static int push_entry(struct entries *e, const uint8_t *id, const uint8_t *tk)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 64;
		void *p = realloc(e->v, cap * sizeof *e->v);
		if (!p) {
			e->oom = 1;
			return 1;
		}
		e->v = p;
		e->cap = cap;
	}
	memcpy(e->v[e->n].id, id, STRATA_ID_LEN);
	memcpy(e->v[e->n].tk, tk, TIMEKEY_LEN);
	e->n++;
	return 0;
}

/* Walking the IDs table: the fingerprint of what it holds, the entries the
 * listing lacks (stale, or recent: to be checked), and malformed entries. */
struct scan {
	uint8_t (*ids)[STRATA_ID_LEN];
	size_t n;
	int64_t listed_ns;      /* CLOCK_REALTIME when the listing began */
	IdSet set;              /* of every well-formed entry */
	struct entries stale;   /* well-formed, not listed */
	struct entries recent;  /* not listed, but added near or after the listing */
	struct entries bad;     /* malformed: key and value as far as they go */
};

static int scan_one(const uint8_t *key, size_t key_len, const uint8_t *val, size_t val_len, void *ctx)
{
	struct scan *s = ctx;

	if (key_len != STRATA_ID_LEN || val_len != IDVAL_LEN || memcmp(val + 8, key, STRATA_ID_LEN) != 0) {
		uint8_t id[STRATA_ID_LEN] = {0}, tk[TIMEKEY_LEN] = {0};
		memcpy(id, key, key_len < sizeof id ? key_len : sizeof id);
		memcpy(tk, val, val_len < sizeof tk ? val_len : sizeof tk);
		return push_entry(&s->bad, id, tk);
	}
	idset_toggle(&s->set, key, 1);
	if (listed(s->ids, s->n, key))
		return 0;
	if (idval_added(val) > s->listed_ns - RECENT_NS)
		return push_entry(&s->recent, key, val);
	return push_entry(&s->stale, key, val);
}

/* A snapshot read and checked, ready to enter the catalogue. */
struct fetched {
	uint8_t id[STRATA_ID_LEN];
	uint8_t tk[TIMEKEY_LEN];
	uint8_t *plain;
	size_t len;
};

/* Read, decrypt and decode snapshots/<id>. 1 when it is gone (deleted
 * since the listing), 0 and *f, or an error naming the snapshot. */
static int fetch_one(Repo *repo, const uint8_t id[STRATA_ID_LEN], struct fetched *f, StrataErr *err)
{
	Snapshot snap;
	int rc;

	memset(f, 0, sizeof *f);
	rc = snapshot_read_plain(repo, id, &f->plain, &f->len, err);
	if (rc == -ENOENT)
		return 1;
	if (rc)
		return rc;
	rc = snapshot_decode(id, f->plain, f->len, &snap, err);
	if (rc) {
		free(f->plain);
		f->plain = NULL;
		return rc;
	}
	memcpy(f->id, id, STRATA_ID_LEN);
	time_key(f->tk, snap.time_ns, id);
	snapshot_clear(&snap);
	return 0;
}

/* Add one snapshot inside t unless the IDs table (committed state, stable
 * while t holds the writer lock) has it; *set (valid when have_set) follows. */
static int cat_add(Repo *repo, KvTxn *t, const struct fetched *f, IdSet *set, int have_set)
{
	uint8_t *old = NULL, v[IDVAL_LEN];
	size_t old_len = 0;

	if (kv_get(repo->snapcat, T_IDS, f->id, STRATA_ID_LEN, &old, &old_len) == 0) {
		free(old);
		return 0;
	}
	if (kv_put(t, T_BYTIME, f->tk, TIMEKEY_LEN, f->plain, f->len) ||
	    (idval(v, f->tk), kv_put(t, T_IDS, f->id, STRATA_ID_LEN, v, sizeof v)))
		return -EIO;
	if (have_set)
		idset_toggle(set, f->id, 1);
	return 0;
}

/* Remove an entry known to be in the IDs table. */
static int cat_del(KvTxn *t, const struct entry *e, IdSet *set, int have_set)
{
	if (kv_del(t, T_IDS, e->id, STRATA_ID_LEN) || kv_del(t, T_BYTIME, e->tk, TIMEKEY_LEN))
		return -EIO;
	if (have_set)
		idset_toggle(set, e->id, 0);
	return 0;
}

/* Add the listed snapshots the catalogue lacks, FETCH_BATCH per
 * transaction. Each batch drops the fingerprint (the final step of the
 * sync recomputes it), so other processes take the slow path meanwhile. */
static int add_missing(Repo *repo, uint8_t (*missing)[STRATA_ID_LEN], size_t nmissing, StrataErr *err)
{
	struct fetched batch[FETCH_BATCH];
	size_t nb = 0;
	KvTxn *t = NULL;
	int rc = 0;

	for (size_t i = 0; i < nmissing && rc == 0; i += FETCH_BATCH) {
		size_t end = i + FETCH_BATCH < nmissing ? i + FETCH_BATCH : nmissing;

		nb = 0;
		for (size_t j = i; j < end; j++) {
			rc = fetch_one(repo, missing[j], &batch[nb], err);
			if (rc == 1) {
				rc = 0;
				continue;
			}
			if (rc)
				break;
			nb++;
		}
		if (rc == 0 && nb)
			rc = kv_begin(repo->snapcat, &t, err);
		if (rc == 0 && nb) {
			kv_del(t, T_META, SET_KEY, sizeof SET_KEY - 1);
			for (size_t j = 0; j < nb && rc == 0; j++)
				if (cat_add(repo, t, &batch[j], NULL, 0))
					rc = strata_err_set(err, -EIO, "snapshot catalogue: write failed");
			if (rc == 0)
				rc = kv_commit(t, err);
			else
				kv_abort(t);
			t = NULL;
		}
		for (size_t j = 0; j < nb; j++)
			free(batch[j].plain);
	}
	return rc;
}

struct missing_scan {
	uint8_t (*ids)[STRATA_ID_LEN];
	size_t n, at;           /* merge position in the sorted listing */
	uint8_t (*miss)[STRATA_ID_LEN];
	size_t nmiss;
};

/* The IDs table walks in key order, the same order as the sorted listing:
 * a merge finds the listed IDs it lacks. */
static int missing_one(const uint8_t *key, size_t key_len, const uint8_t *val, size_t val_len, void *ctx)
{
	struct missing_scan *m = ctx;

	(void)val;
	(void)val_len;
	if (key_len != STRATA_ID_LEN)
		return 0;
	while (m->at < m->n) {
		int c = memcmp(m->ids[m->at], key, STRATA_ID_LEN);
		if (c > 0)
			break;
		if (c < 0)
			memcpy(m->miss[m->nmiss++], m->ids[m->at], STRATA_ID_LEN);
		m->at++;
	}
	return 0;
}

/* 1 when snapshots/<id> is certainly gone; an error keeps the entry (the
 * next sync looks again, as the fingerprint will differ). */
static int gone(Repo *repo, const uint8_t id[STRATA_ID_LEN])
{
	char name[REPO_NAME_MAX], hex[STRATA_ID_HEX_LEN + 1];
	RemoteErr rerr;
	uint64_t size;

	codec_hex(id, STRATA_ID_LEN, hex);
	snprintf(name, sizeof name, "snapshots/%s", hex);
	return backend_stat(repo->be, name, &size, &rerr) == -ENOENT;
}

/* The slow path: make the catalogue hold exactly the listed snapshots
 * (ids sorted and unique), then store its fingerprint. */
static int reconcile(Repo *repo, uint8_t (*ids)[STRATA_ID_LEN], size_t n, int64_t listed_ns, StrataErr *err)
{
	struct missing_scan m = {ids, n, 0, NULL, 0};
	struct scan s = {0};
	KvTxn *t = NULL;
	int rc, attempt;

	m.miss = malloc((n ? n : 1) * STRATA_ID_LEN);
	if (!m.miss)
		return strata_err_set(err, -ENOMEM, "out of memory");
	for (attempt = 0; attempt < 2; attempt++) {
		m.at = m.nmiss = 0;
		rc = kv_foreach(repo->snapcat, T_IDS, 0, missing_one, &m, err);
		if (rc)
			goto out;
		while (m.at < m.n)
			memcpy(m.miss[m.nmiss++], m.ids[m.at++], STRATA_ID_LEN);
		rc = add_missing(repo, m.miss, m.nmiss, err);
		if (rc)
			goto out;

		/* Under the writer lock the committed state cannot change:
		 * drop what is no longer listed and fingerprint the rest. */
		rc = kv_begin(repo->snapcat, &t, err);
		if (rc)
			goto out;
		memset(&s, 0, sizeof s);
		idset_init(repo, &s.set);
		s.ids = ids;
		s.n = n;
		s.listed_ns = listed_ns;
		rc = kv_foreach(repo->snapcat, T_IDS, 0, scan_one, &s, err);
		if (s.stale.oom || s.recent.oom || s.bad.oom)
			rc = strata_err_set(err, -ENOMEM, "out of memory");
		if (rc)
			goto out;
		if (s.bad.n == 0 && kv_count(repo->snapcat, T_BYTIME) == s.set.count) {
			for (size_t i = 0; i < s.stale.n && rc == 0; i++)
				rc = cat_del(t, &s.stale.v[i], &s.set, 1);
			for (size_t i = 0; i < s.recent.n && rc == 0; i++)
				if (gone(repo, s.recent.v[i].id))
					rc = cat_del(t, &s.recent.v[i], &s.set, 1);
			if (rc == 0)
				rc = idset_store(t, &s.set);
			if (rc) {
				rc = strata_err_set(err, -EIO, "snapshot catalogue: write failed");
				goto out;
			}
			rc = kv_commit(t, err);
			t = NULL;
			goto out;
		}
		/* The tables disagree (a damaged cache): start empty and
		 * build once more from the repository. */
		if (kv_drop(t, T_BYTIME) || kv_drop(t, T_IDS) || kv_drop(t, T_META)) {
			rc = strata_err_set(err, -EIO, "snapshot catalogue: write failed");
			goto out;
		}
		rc = kv_commit(t, err);
		t = NULL;
		if (rc)
			goto out;
		free(s.stale.v);
		free(s.recent.v);
		free(s.bad.v);
		s.stale.v = s.recent.v = s.bad.v = NULL;
	}
	rc = strata_err_set(err, -EIO, "snapshot catalogue %s/" CAT_DIR ": inconsistent after a rebuild",
	                    repo->cache_dir);
out:
	kv_abort(t);
	free(s.stale.v);
	free(s.recent.v);
	free(s.bad.v);
	free(m.miss);
	return rc;
}

int snapcat_sync(Repo *repo, StrataErr *err)
{
	uint8_t (*ids)[STRATA_ID_LEN] = NULL;
	IdSet now, stored;
	size_t n = 0;
	int64_t listed_ns;
	int rc;

	rc = open_cat(repo, err);
	if (rc)
		return rc;
	idset_init(repo, &now);
	stored = now;
	listed_ns = clock_ns(CLOCK_REALTIME);
	rc = repo_list_ids(repo, "snapshots/", &ids, &n, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		idset_toggle(&now, ids[i], 1);
	/* The fast path: by the invariant, an equal fingerprint means the
	 * catalogue holds exactly the listed snapshots. */
	if (idset_load(repo->snapcat, &stored) == 0 && idset_equal(&stored, &now) &&
	    kv_count(repo->snapcat, T_BYTIME) == now.count)
		goto out;
	n = sort_unique(ids, n);
	rc = reconcile(repo, ids, n, listed_ns, err);
out:
	free(ids);
	if (rc == 0)
		repo->snapcat_synced_ns = clock_ns(CLOCK_MONOTONIC);
	return rc;
}

/* ---- reading ---- */

struct walk {
	Repo *repo;
	SnapcatFn fn;
	void *ctx;
	int64_t max_time_ns;
	int rc;
	StrataErr *err;
	struct entries damaged;   /* entries to re-read on the next sync */
};

static int visit(const uint8_t *key, size_t key_len, const uint8_t *val, size_t val_len, void *ctx)
{
	struct walk *w = ctx;
	Snapshot snap;
	int rc;

	if (key_len != TIMEKEY_LEN)
		return 0;
	if (key_time(key) > w->max_time_ns)
		return 0;     /* newer than asked for: skipped without decoding */
	rc = snapshot_decode(key + 8, val, val_len, &snap, NULL);
	if (rc == 0 && snap.time_ns != key_time(key)) {
		snapshot_clear(&snap);
		rc = STRATA_EFORMAT;
	}
	if (rc) {
		/* A damaged catalogue entry only costs a read: take the
		 * snapshot from the repository and mend the entry later. */
		if (push_entry(&w->damaged, key + 8, key)) {
			w->rc = strata_err_set(w->err, -ENOMEM, "out of memory");
			return 1;
		}
		rc = snapshot_load(w->repo, key + 8, &snap, w->err);
		if (rc == -ENOENT)
			return 0;
		if (rc) {
			w->rc = rc;
			return 1;
		}
	}
	rc = w->fn(&snap, w->ctx);
	snapshot_clear(&snap);
	return rc;
}

/* Drop damaged entries and the fingerprint, so the next sync re-reads them. */
static void forget_damaged(Repo *repo, const struct entries *d)
{
	KvTxn *t = NULL;

	if (d->n == 0 || kv_begin(repo->snapcat, &t, NULL) != 0)
		return;
	kv_del(t, T_META, SET_KEY, sizeof SET_KEY - 1);
	for (size_t i = 0; i < d->n; i++) {
		kv_del(t, T_BYTIME, d->v[i].tk, TIMEKEY_LEN);
		kv_del(t, T_IDS, d->v[i].id, STRATA_ID_LEN);
	}
	kv_commit(t, NULL);
}

int snapcat_foreach_until(Repo *repo, int newest_first, int64_t max_time_ns, SnapcatFn fn, void *ctx,
                          StrataErr *err)
{
	struct walk w = {repo, fn, ctx, max_time_ns, 0, err, {0}};
	int rc;

	if (!repo->snapcat || !repo->snapcat_synced_ns || clock_ns(CLOCK_MONOTONIC) - repo->snapcat_synced_ns > RESYNC_NS) {
		rc = snapcat_sync(repo, err);
		if (rc)
			return rc;
	}
	rc = kv_foreach(repo->snapcat, T_BYTIME, newest_first, visit, &w, err);
	forget_damaged(repo, &w.damaged);
	free(w.damaged.v);
	return w.rc ? w.rc : rc;
}

int snapcat_foreach(Repo *repo, int newest_first, SnapcatFn fn, void *ctx, StrataErr *err)
{
	return snapcat_foreach_until(repo, newest_first, INT64_MAX, fn, ctx, err);
}

/* ---- this process's own writes ---- */

void snapcat_note_saved(Repo *repo, const uint8_t id[STRATA_ID_LEN], int64_t time_ns,
                        const uint8_t *plain, size_t len)
{
	struct fetched f;
	IdSet set;
	KvTxn *t = NULL;
	int have_set;

	if (open_cat(repo, NULL) != 0 || kv_begin(repo->snapcat, &t, NULL) != 0)
		return;
	/* Read under the writer lock: the committed fingerprint is current. */
	idset_init(repo, &set);
	have_set = idset_load(repo->snapcat, &set) == 0;
	memcpy(f.id, id, STRATA_ID_LEN);
	time_key(f.tk, time_ns, id);
	f.plain = (uint8_t *)(uintptr_t)plain;
	f.len = len;
	if (cat_add(repo, t, &f, &set, have_set) == 0 && (!have_set || idset_store(t, &set) == 0))
		kv_commit(t, NULL);
	else
		kv_abort(t);
}

void snapcat_note_deleted(Repo *repo, const uint8_t id[STRATA_ID_LEN])
{
	struct entry e;
	uint8_t *tk = NULL;
	size_t tk_len = 0;
	IdSet set;
	KvTxn *t = NULL;
	int have_set;

	if (open_cat(repo, NULL) != 0 || kv_begin(repo->snapcat, &t, NULL) != 0)
		return;
	if (kv_get(repo->snapcat, T_IDS, id, STRATA_ID_LEN, &tk, &tk_len) != 0 || tk_len != IDVAL_LEN) {
		free(tk);
		kv_abort(t);
		return;
	}
	idset_init(repo, &set);
	have_set = idset_load(repo->snapcat, &set) == 0;
	memcpy(e.id, id, STRATA_ID_LEN);
	memcpy(e.tk, tk, TIMEKEY_LEN);
	free(tk);
	if (cat_del(t, &e, &set, have_set) == 0 && (!have_set || idset_store(t, &set) == 0))
		kv_commit(t, NULL);
	else
		kv_abort(t);
}

void snapcat_close(Repo *repo)
{
	kv_close(repo->snapcat);
	repo->snapcat = NULL;
}
