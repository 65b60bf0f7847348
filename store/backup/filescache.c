/* filescache.c — see filescache.h. Entry layout: FORMAT.md "Local cache". */
#include "store/backup/filescache.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/format.h"
#include "store/index.h"
#include "store/kv.h"
#include "store/repo_internal.h"

enum { T_FILES = 0, T_RUNNING = 1, T_META = 2 };
static const char *const TABLES[] = {"files", "running", "meta"};

/* Entry layout 2 (FORMAT.md "Local cache", files2/): version || varint
 * run || varint dev || varint ino || varint size || le64 mtime || varint
 * zigzag(ctime - mtime) || varint n || n x (ID || varint length). Layout 1
 * (files/, fixed-width fields, the path as key) is never read: its
 * directory is deleted on open. */
#define ENTRY_VERSION 2
#define ENTRY_FIXED (1 + 5 + 8)                    /* version, five varints of a byte, mtime */
#define ENTRY_MAX_HDR (1 + 8 + 6 * 10)              /* version, mtime, six varints of at most 10 bytes */
#define ENTRY_MAX_CHUNK (STRATA_ID_LEN + 5)
#define TAIL_MAX_KEY 96
#define KEY_MAX (4 + TAIL_MAX_KEY)
#define BATCH_BYTES (2u << 20)
static const char FILES_DIR[] = "files2";
static const char FILES_DIR_OLD[] = "files";

typedef struct Pending {
	uint8_t key[KEY_MAX];
	size_t key_len;
	uint8_t *val;
	size_t val_len;
} Pending;

static uint64_t fnv64(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 0x100000001b3ULL;
	return h;
}

/* An entry's key (at most KEY_MAX bytes, written to key; returns its
 * length): le32 of a hash of the path's grandparent directory, then the
 * path's last two components ("parent/name"), or, when those are longer
 * than TAIL_MAX_KEY, a zero byte (never in a path) and le64 of their
 * hash. The walk visits a directory's subdirectories in name order, one
 * after another, and records their files in name order, so entries are
 * written as appends to a run of keys and LMDB fills its pages (keys of
 * hashes throughout, as tried first, split a page at random on every
 * insert: 15.7 MB for 100,000 files against 13.9 with whole paths as
 * keys). Two paths of one key share an entry, the last recorded winning:
 * an entry is only used when device, inode, size, mtime and ctime all
 * match the file (filescache_meta_same), which a different file never
 * does, so a collision costs a re-read, never a wrong chunk list. */
static size_t path_key(const char *path, uint8_t key[KEY_MAX])
{
	const char *last = strrchr(path, '/'), *tail = path;
	size_t glen = 0, tlen;

	if (last && last > path) {
		const char *p = last - 1;
		while (p > path && *p != '/')
			p--;
		if (*p == '/') {
			glen = (size_t)(p - path);
			tail = p + 1;
		}
	}
	tlen = strlen(tail);
	format_put_le32(key, (uint32_t)fnv64(path, glen));
	if (tlen > 0 && tlen <= TAIL_MAX_KEY) {
		memcpy(key + 4, tail, tlen);
		return 4 + tlen;
	}
	key[4] = 0;
	format_put_le64(key + 5, fnv64(tail, tlen));
	return 13;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* A varint from [*p, end): 0 and *p advanced, or -1 when cut short or
 * longer than 10 bytes. */
static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

struct FilesCache {
	Kv *kv;
	KvReader *rd;                 /* the lookups' (kv.h): no transaction per file */
	uint8_t done_run[8];          /* a run seen finished (have_done_run): its */
	int have_done_run;            /* entries need no T_RUNNING lookup */
	uint64_t run;
	uint8_t run_key[8];           /* le64 run: its key in T_RUNNING */
	Pending *pend;
	size_t npend, pend_cap, pend_bytes;
};

static const char EPOCH_KEY[] = "epoch";
/* The next run's number (le64): runs are numbered, not drawn at random,
 * so that an entry holds its run in a varint of a byte or two. Taken and
 * advanced in the write transaction that marks the run running, so two
 * processes never share one. */
static const char NEXT_RUN_KEY[] = "next_run";

int filescache_open(Repo *repo, const char *dir, FilesCache **out, StrataErr *err)
{
	char path[PATH_MAX + 16];
	FilesCache *fc;
	Index *ix;
	KvTxn *t = NULL;
	uint8_t *val = NULL, ebuf[8];
	size_t len = 0;
	uint64_t epoch;
	int rc;

	rc = repo_index(repo, &ix, err);
	if (rc)
		return rc;
	epoch = index_epoch(ix);
	fc = calloc(1, sizeof *fc);
	if (!fc)
		return strata_err_set(err, -ENOMEM, "out of memory");
	/* The repository cache directory exists once the index is open. */
	if (dir) {
		snprintf(path, sizeof path, "%s", dir);
	} else {
		/* Layout 1's cache: rebuilt as files2/ by re-reading every
		 * file once. Best effort: a leftover costs disk, never a misread. */
		snprintf(path, sizeof path, "%s/%s/data.mdb", repo->cache_dir, FILES_DIR_OLD);
		unlink(path);
		snprintf(path, sizeof path, "%s/%s/lock.mdb", repo->cache_dir, FILES_DIR_OLD);
		unlink(path);
		snprintf(path, sizeof path, "%s/%s", repo->cache_dir, FILES_DIR_OLD);
		rmdir(path);
		snprintf(path, sizeof path, "%s/%s", repo->cache_dir, FILES_DIR);
	}
	rc = kv_open(path, TABLES, 3, &fc->kv, err);
	if (rc) {
		free(fc);
		return rc;
	}
	rc = kv_begin(fc->kv, &t, err);
	if (rc)
		goto fail;
	if (kv_get(fc->kv, T_META, EPOCH_KEY, sizeof EPOCH_KEY - 1, &val, &len) != 0 ||
	    len != 8 || format_get_le64(val) != epoch) {
		/* The index lost entries since these were written: drop them all. */
		format_put_le64(ebuf, epoch);
		if (kv_drop(t, T_FILES) || kv_drop(t, T_RUNNING) ||
		    kv_put(t, T_META, EPOCH_KEY, sizeof EPOCH_KEY - 1, ebuf, 8)) {
			rc = strata_err_set(err, -EIO, "files cache %s: cannot reset", path);
			goto fail;
		}
	}
	free(val);
	val = NULL;
	/* Read while this write transaction holds the writer's lock: no other
	 * run can take the number meanwhile. */
	fc->run = 1;
	if (kv_get(fc->kv, T_META, NEXT_RUN_KEY, sizeof NEXT_RUN_KEY - 1, &val, &len) == 0 && len == 8)
		fc->run = format_get_le64(val);
	free(val);
	val = NULL;
	format_put_le64(fc->run_key, fc->run);
	format_put_le64(ebuf, fc->run + 1);
	if (kv_put(t, T_META, NEXT_RUN_KEY, sizeof NEXT_RUN_KEY - 1, ebuf, 8) ||
	    kv_put(t, T_RUNNING, fc->run_key, 8, "", 0)) {
		rc = strata_err_set(err, -EIO, "files cache %s: cannot start a run", path);
		goto fail;
	}
	rc = kv_commit(t, err);
	t = NULL;
	if (rc)
		goto fail;
	if (kv_reader_open(fc->kv, &fc->rd) != 0) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	*out = fc;
	return 0;
fail:
	free(val);
	kv_abort(t);
	kv_close(fc->kv);
	free(fc);
	return rc;
}

void cachedfile_clear(CachedFile *cf)
{
	if (!cf)
		return;
	free(cf->chunks);
	free(cf->lens);
	memset(cf, 0, sizeof *cf);
}

struct decode {
	CachedFile *out;
	uint8_t run[8];
	int meta_only;
};

/* Decode an entry in place (kv_view): 0, -ENOMEM, or STRATA_ENOTFOUND for
 * one this version cannot read (another layout, or bytes that do not
 * parse to exactly the value's length: treated as absent). */
static int decode_entry(const uint8_t *val, size_t len, void *ctx)
{
	struct decode *d = ctx;
	CachedFile *out = d->out;
	const uint8_t *p = val + 1, *end = val + len;
	uint64_t run, dev, ino, size, zz, n, clen;
	int64_t mtime;

	if (len < ENTRY_FIXED || val[0] != ENTRY_VERSION || get_varint(&p, end, &run))
		return STRATA_ENOTFOUND;
	format_put_le64(d->run, run);
	if (get_varint(&p, end, &dev) || get_varint(&p, end, &ino) || get_varint(&p, end, &size) ||
	    end - p < 8)
		return STRATA_ENOTFOUND;
	mtime = (int64_t)format_get_le64(p);
	p += 8;
	if (get_varint(&p, end, &zz) || get_varint(&p, end, &n) ||
	    n > (uint64_t)(end - p) / (STRATA_ID_LEN + 1))
		return STRATA_ENOTFOUND;
	out->meta.dev = dev;
	out->meta.ino = ino;
	out->meta.size = size;
	out->meta.mtime_ns = mtime;
	out->meta.ctime_ns = (int64_t)((uint64_t)mtime + (uint64_t)((zz >> 1) ^ -(zz & 1)));
	/* Metadata only: the chunk list is still parsed, not kept, so that
	 * both lookups agree on which entries exist. */
	if (!d->meta_only) {
		out->chunks = malloc((n ? n : 1) * STRATA_ID_LEN);
		out->lens = malloc((n ? n : 1) * sizeof *out->lens);
		if (!out->chunks || !out->lens)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (end - p < STRATA_ID_LEN + 1)
			return STRATA_ENOTFOUND;
		if (!d->meta_only)
			memcpy(out->chunks[i], p, STRATA_ID_LEN);
		p += STRATA_ID_LEN;
		if (get_varint(&p, end, &clen) || clen > UINT32_MAX)
			return STRATA_ENOTFOUND;
		if (!d->meta_only)
			out->lens[i] = (uint32_t)clen;
	}
	if (p != end)
		return STRATA_ENOTFOUND;
	out->n = d->meta_only ? 0 : n;
	return 0;
}

static int present(const uint8_t *val, size_t len, void *ctx)
{
	(void)val, (void)len, (void)ctx;
	return 0;
}

/* Entries of a run that has not committed (crashed or still going in
 * another process) may name chunks that never became durable: 1 when
 * run is still marked running. A run found finished stays finished (a
 * run number is taken once, marked running before its first entry), so the
 * last one found is remembered: most entries share it. */
static int run_unfinished(FilesCache *fc, const uint8_t run[8])
{
	if (fc->have_done_run && memcmp(fc->done_run, run, 8) == 0)
		return 0;
	if (kv_reader_view(fc->rd, T_RUNNING, run, 8, present, NULL) == 0)
		return 1;
	memcpy(fc->done_run, run, 8);
	fc->have_done_run = 1;
	return 0;
}

int filescache_lookup(FilesCache *fc, const char *path, CachedFile *out)
{
	struct decode d = { out, {0}, 0 };
	uint8_t key[KEY_MAX];
	size_t klen = path_key(path, key);
	int rc;

	memset(out, 0, sizeof *out);
	rc = kv_reader_view(fc->rd, T_FILES, key, klen, decode_entry, &d);
	if (rc == 0 && run_unfinished(fc, d.run))
		rc = STRATA_ENOTFOUND;
	if (rc) {
		cachedfile_clear(out);
		return rc == -ENOMEM ? rc : STRATA_ENOTFOUND;
	}
	return 0;
}

int filescache_lookup_meta(FilesCache *fc, const char *path, FileMeta *out)
{
	CachedFile cf = {0};
	struct decode d = { &cf, {0}, 1 };
	uint8_t key[KEY_MAX];
	size_t klen = path_key(path, key);
	int rc;

	rc = kv_reader_view(fc->rd, T_FILES, key, klen, decode_entry, &d);
	if (rc == 0 && run_unfinished(fc, d.run))
		rc = STRATA_ENOTFOUND;
	if (rc)
		return STRATA_ENOTFOUND;
	*out = cf.meta;
	return 0;
}

int filescache_meta_same(const FileMeta *a, const FileMeta *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

static int flush(FilesCache *fc, StrataErr *err)
{
	KvTxn *t = NULL;
	int rc = 0;

	if (fc->npend) {
		rc = kv_begin(fc->kv, &t, err);
		for (size_t i = 0; rc == 0 && i < fc->npend; i++)
			rc = kv_put(t, T_FILES, fc->pend[i].key, fc->pend[i].key_len, fc->pend[i].val, fc->pend[i].val_len);
		if (rc == 0)
			rc = kv_commit(t, err);
		else
			kv_abort(t);
		kv_reader_refresh(fc->rd);
	}
	for (size_t i = 0; i < fc->npend; i++)
		free(fc->pend[i].val);
	fc->npend = 0;
	fc->pend_bytes = 0;
	return rc;
}

int filescache_record(FilesCache *fc, const char *path, const FileMeta *meta,
                      const uint8_t (*chunks)[STRATA_ID_LEN], const uint32_t *lens, size_t n,
                      StrataErr *err)
{
	size_t len;
	uint8_t *val, *p;
	uint64_t zz;
	Pending *pd;

	if (n > (SIZE_MAX - ENTRY_MAX_HDR) / ENTRY_MAX_CHUNK)
		return 0;
	len = ENTRY_MAX_HDR + n * ENTRY_MAX_CHUNK;
	if (fc->npend == fc->pend_cap) {
		size_t cap = fc->pend_cap ? 2 * fc->pend_cap : 256;
		void *q = realloc(fc->pend, cap * sizeof *fc->pend);
		if (!q)
			return strata_err_set(err, -ENOMEM, "out of memory");
		fc->pend = q;
		fc->pend_cap = cap;
	}
	val = malloc(len);
	if (!val)
		return strata_err_set(err, -ENOMEM, "out of memory");
	pd = &fc->pend[fc->npend];
	pd->key_len = path_key(path, pd->key);
	val[0] = ENTRY_VERSION;
	p = val + 1;
	p += put_varint(p, fc->run);
	p += put_varint(p, meta->dev);
	p += put_varint(p, meta->ino);
	p += put_varint(p, meta->size);
	format_put_le64(p, (uint64_t)meta->mtime_ns);
	p += 8;
	/* ctime - mtime, zigzag: a few bytes, as both usually come together. */
	zz = (uint64_t)meta->ctime_ns - (uint64_t)meta->mtime_ns;
	zz = (zz << 1) ^ (uint64_t)-(int64_t)(zz >> 63);
	p += put_varint(p, zz);
	p += put_varint(p, n);
	for (size_t i = 0; i < n; i++) {
		memcpy(p, chunks[i], STRATA_ID_LEN);
		p += STRATA_ID_LEN;
		p += put_varint(p, lens[i]);
	}
	pd->val = val;
	pd->val_len = (size_t)(p - val);
	fc->npend++;
	fc->pend_bytes += pd->val_len;
	if (fc->pend_bytes >= BATCH_BYTES)
		return flush(fc, err);
	return 0;
}

int filescache_commit(FilesCache *fc, StrataErr *err)
{
	KvTxn *t = NULL;
	int rc;

	rc = flush(fc, err);
	if (rc)
		return rc;
	rc = kv_begin(fc->kv, &t, err);
	if (rc)
		return rc;
	kv_del(t, T_RUNNING, fc->run_key, 8);
	rc = kv_commit(t, err);
	kv_reader_refresh(fc->rd);
	return rc;
}

void filescache_close(FilesCache *fc)
{
	if (!fc)
		return;
	for (size_t i = 0; i < fc->npend; i++)
		free(fc->pend[i].val);
	free(fc->pend);
	kv_reader_close(fc->rd);
	kv_close(fc->kv);
	free(fc);
}
