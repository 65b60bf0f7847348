/* filescache.c — see filescache.h. Entry layout: FORMAT.md "Local cache". */
#include "store/backup/filescache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/format.h"
#include "store/index.h"
#include "store/kv.h"
#include "store/repo_internal.h"

enum { T_FILES = 0, T_RUNNING = 1, T_META = 2 };
static const char *const TABLES[] = {"files", "running", "meta"};

#define ENTRY_VERSION 1
#define ENTRY_HDR (1 + 8 + 8 + 8 + 8 + 8 + 8 + 4)   /* version run dev ino size mtime ctime n */
#define ENTRY_CHUNK (STRATA_ID_LEN + 4)
#define BATCH_BYTES (2u << 20)

typedef struct Pending {
	char *path;
	uint8_t *val;
	size_t val_len;
} Pending;

struct FilesCache {
	Kv *kv;
	KvReader *rd;                 /* the lookups' (kv.h): no transaction per file */
	uint8_t done_run[8];          /* a run seen finished (have_done_run): its */
	int have_done_run;            /* entries need no T_RUNNING lookup */
	uint64_t run;
	Pending *pend;
	size_t npend, pend_cap, pend_bytes;
};

static const char EPOCH_KEY[] = "epoch";

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
	if (dir)
		snprintf(path, sizeof path, "%s", dir);
	else
		snprintf(path, sizeof path, "%s/files", repo->cache_dir);
	rc = kv_open(path, TABLES, 3, &fc->kv, err);
	if (rc) {
		free(fc);
		return rc;
	}
	codec_random(&fc->run, sizeof fc->run);
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
	if (kv_put(t, T_RUNNING, &fc->run, sizeof fc->run, "", 0)) {
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
};

/* Decode an entry in place (kv_view): 0, -ENOMEM, or STRATA_ENOTFOUND for
 * one this version cannot read (treated as absent). */
static int decode_entry(const uint8_t *val, size_t len, void *ctx)
{
	struct decode *d = ctx;
	CachedFile *out = d->out;
	const uint8_t *p;
	size_t n;

	if (len < ENTRY_HDR || val[0] != ENTRY_VERSION)
		return STRATA_ENOTFOUND;
	memcpy(d->run, val + 1, 8);
	p = val + 9;
	n = format_get_le32(p + 40);
	if (len != ENTRY_HDR + n * ENTRY_CHUNK)
		return STRATA_ENOTFOUND;
	out->meta.dev = format_get_le64(p);
	out->meta.ino = format_get_le64(p + 8);
	out->meta.size = format_get_le64(p + 16);
	out->meta.mtime_ns = (int64_t)format_get_le64(p + 24);
	out->meta.ctime_ns = (int64_t)format_get_le64(p + 32);
	out->chunks = malloc((n ? n : 1) * STRATA_ID_LEN);
	out->lens = malloc((n ? n : 1) * sizeof *out->lens);
	if (!out->chunks || !out->lens)
		return -ENOMEM;
	p = val + ENTRY_HDR;
	for (size_t i = 0; i < n; i++, p += ENTRY_CHUNK) {
		memcpy(out->chunks[i], p, STRATA_ID_LEN);
		out->lens[i] = format_get_le32(p + 32);
	}
	out->n = n;
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
 * run ID is drawn once, marked running before its first entry), so the
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
	struct decode d = { out, {0} };
	int rc;

	memset(out, 0, sizeof *out);
	rc = kv_reader_view(fc->rd, T_FILES, path, strlen(path), decode_entry, &d);
	if (rc == 0 && run_unfinished(fc, d.run))
		rc = STRATA_ENOTFOUND;
	if (rc) {
		cachedfile_clear(out);
		return rc == -ENOMEM ? rc : STRATA_ENOTFOUND;
	}
	return 0;
}

/* Decode only an entry's header (no chunk list): 0 or STRATA_ENOTFOUND. */
static int decode_meta(const uint8_t *val, size_t len, void *ctx)
{
	struct decode *d = ctx;
	const uint8_t *p = val + 9;
	size_t n;

	if (len < ENTRY_HDR || val[0] != ENTRY_VERSION)
		return STRATA_ENOTFOUND;
	n = format_get_le32(p + 40);
	if (len != ENTRY_HDR + n * ENTRY_CHUNK)
		return STRATA_ENOTFOUND;
	memcpy(d->run, val + 1, 8);
	d->out->meta.dev = format_get_le64(p);
	d->out->meta.ino = format_get_le64(p + 8);
	d->out->meta.size = format_get_le64(p + 16);
	d->out->meta.mtime_ns = (int64_t)format_get_le64(p + 24);
	d->out->meta.ctime_ns = (int64_t)format_get_le64(p + 32);
	return 0;
}

int filescache_lookup_meta(FilesCache *fc, const char *path, FileMeta *out)
{
	CachedFile cf = {0};
	struct decode d = { &cf, {0} };
	int rc;

	rc = kv_reader_view(fc->rd, T_FILES, path, strlen(path), decode_meta, &d);
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
			if (kv_put(t, T_FILES, fc->pend[i].path, strlen(fc->pend[i].path),
			           fc->pend[i].val, fc->pend[i].val_len) != 0)
				/* Paths too long for a key are simply not cached. */
				continue;
		if (rc == 0)
			rc = kv_commit(t, err);
		kv_reader_refresh(fc->rd);
	}
	for (size_t i = 0; i < fc->npend; i++) {
		free(fc->pend[i].path);
		free(fc->pend[i].val);
	}
	fc->npend = 0;
	fc->pend_bytes = 0;
	return rc;
}

int filescache_record(FilesCache *fc, const char *path, const FileMeta *meta,
                      const uint8_t (*chunks)[STRATA_ID_LEN], const uint32_t *lens, size_t n,
                      StrataErr *err)
{
	size_t len = ENTRY_HDR + n * ENTRY_CHUNK;
	uint8_t *val, *p;
	Pending *pd;

	if (n > UINT32_MAX)
		return 0;
	if (fc->npend == fc->pend_cap) {
		size_t cap = fc->pend_cap ? 2 * fc->pend_cap : 256;
		void *q = realloc(fc->pend, cap * sizeof *fc->pend);
		if (!q)
			return strata_err_set(err, -ENOMEM, "out of memory");
		fc->pend = q;
		fc->pend_cap = cap;
	}
	val = malloc(len);
	pd = &fc->pend[fc->npend];
	pd->path = strdup(path);
	if (!val || !pd->path) {
		free(val);
		free(pd->path);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	val[0] = ENTRY_VERSION;
	format_put_le64(val + 1, fc->run);
	format_put_le64(val + 9, meta->dev);
	format_put_le64(val + 17, meta->ino);
	format_put_le64(val + 25, meta->size);
	format_put_le64(val + 33, (uint64_t)meta->mtime_ns);
	format_put_le64(val + 41, (uint64_t)meta->ctime_ns);
	format_put_le32(val + 49, (uint32_t)n);
	p = val + ENTRY_HDR;
	for (size_t i = 0; i < n; i++, p += ENTRY_CHUNK) {
		memcpy(p, chunks[i], STRATA_ID_LEN);
		format_put_le32(p + 32, lens[i]);
	}
	pd->val = val;
	pd->val_len = len;
	fc->npend++;
	fc->pend_bytes += len;
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
	kv_del(t, T_RUNNING, &fc->run, sizeof fc->run);
	rc = kv_commit(t, err);
	kv_reader_refresh(fc->rd);
	return rc;
}

void filescache_close(FilesCache *fc)
{
	if (!fc)
		return;
	for (size_t i = 0; i < fc->npend; i++) {
		free(fc->pend[i].path);
		free(fc->pend[i].val);
	}
	free(fc->pend);
	kv_reader_close(fc->rd);
	kv_close(fc->kv);
	free(fc);
}
