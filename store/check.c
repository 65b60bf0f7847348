/* check.c — integrity verification, see check.h.
 *
 * Order of work, each phase needing the ones before it:
 *   1. config and key files;
 *   2. the list of pack files in storage (one record per pack);
 *   3. every stored index file: its packs must exist with the size it
 *      says, and each pack's trailer must decode and list the same entries
 *      (trailers are read by the worker pool);
 *   4. packs no index file lists: their trailers (a hint for chunks that
 *      are missing from the index: "pack P holds it");
 *   5. read-data: the selected packs streamed, every blob opened;
 *   6. every snapshot and every tree it reaches, checking each chunk
 *      reference against the index and the damage found so far, and
 *      naming the snapshots and paths that depend on damaged chunks;
 *   7. the chunks the WAL archive's descriptors name (store/wal.h).
 * A tree ID is walked once (remembered as clean) unless damage lies below
 * it; then it is walked again for each snapshot that holds it, so that
 * each gets its own paths.
 */
#include "store/check.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/blob.h"
#include "store/codec.h"
#include "store/indexfile.h"
#include "store/keyfile.h"
#include "store/pack.h"
#include "store/repo_internal.h"
#include "store/snapshot.h"
#include "store/tree.h"
#include "store/wal.h"
#include "store/workpool.h"

/* FORMAT.md "Config file": the sealed config's magic (as in repo.c). */
static const char CONFIG_MAGIC[8] = {'S','T','R','A','T','A','C','F'};

#define WALK_MAX_DEPTH 1024
#define WALK_PATH_MAX  8192
#define RAW_MAX        (1u << 30)   /* refuse to allocate for a blob claiming more */

enum { WALK_CLEAN = 1, WALK_DAMAGED = 2, WALK_UNREADABLE = 3 };

/* chunk_locked's returns besides an index: out of memory, and damage
 * counted but not listed (past CHECK_MAX_CHUNKS; also the c->dmg value). */
#define CHUNK_OOM      SIZE_MAX
#define CHUNK_UNLISTED (SIZE_MAX - 1)

/* ---- ID map ---- */

static size_t idmap_slot(const CheckIdMap *m, const uint8_t id[STRATA_ID_LEN])
{
	uint64_t h;

	memcpy(&h, id, sizeof h);
	return (size_t)(h & (m->cap - 1));
}

static int idmap_find(const CheckIdMap *m, const uint8_t id[STRATA_ID_LEN], size_t *out)
{
	size_t i;

	if (!m->cap)
		return 0;
	for (i = idmap_slot(m, id); m->used[i]; i = (i + 1) & (m->cap - 1)) {
		if (memcmp(m->keys[i], id, STRATA_ID_LEN) == 0) {
			*out = i;
			return 1;
		}
	}
	*out = i;
	return 0;
}

static int idmap_grow(CheckIdMap *m)
{
	CheckIdMap b = {0};
	size_t slot;

	b.cap = m->cap ? 2 * m->cap : 1024;
	b.keys = malloc(b.cap * sizeof *b.keys);
	b.vals = malloc(b.cap * sizeof *b.vals);
	b.used = calloc(b.cap, 1);
	if (!b.keys || !b.vals || !b.used) {
		check_idmap_free(&b);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->used[i])
			continue;
		idmap_find(&b, m->keys[i], &slot);
		memcpy(b.keys[slot], m->keys[i], STRATA_ID_LEN);
		b.vals[slot] = m->vals[i];
		b.used[slot] = 1;
		b.n++;
	}
	check_idmap_free(m);
	*m = b;
	return 0;
}

int check_idmap_put(CheckIdMap *m, const uint8_t id[STRATA_ID_LEN], uint64_t val)
{
	size_t slot;

	if ((m->n + 1) * 2 > m->cap && idmap_grow(m) != 0)
		return -ENOMEM;
	if (!idmap_find(m, id, &slot)) {
		memcpy(m->keys[slot], id, STRATA_ID_LEN);
		m->used[slot] = 1;
		m->n++;
	}
	m->vals[slot] = val;
	return 0;
}

int check_idmap_get(const CheckIdMap *m, const uint8_t id[STRATA_ID_LEN], uint64_t *out_val)
{
	size_t slot;

	if (!idmap_find(m, id, &slot))
		return 0;
	if (out_val)
		*out_val = m->vals[slot];
	return 1;
}

void check_idmap_free(CheckIdMap *m)
{
	free(m->keys);
	free(m->vals);
	free(m->used);
	memset(m, 0, sizeof *m);
}

/* ---- names, subsets ---- */

const char *check_problem_name(CheckProblemKind kind)
{
	switch (kind) {
	case CHECK_P_CONFIG:         return "config";
	case CHECK_P_KEYFILE:        return "key_file";
	case CHECK_P_INDEXFILE:      return "index_file";
	case CHECK_P_PACK_MISSING:   return "pack_missing";
	case CHECK_P_PACK_SIZE:      return "pack_size";
	case CHECK_P_PACK_TRAILER:   return "pack_trailer";
	case CHECK_P_PACK_MISMATCH:  return "pack_mismatch";
	case CHECK_P_PACK_HASH:      return "pack_hash";
	case CHECK_P_PACK_UNINDEXED: return "pack_unindexed";
	case CHECK_P_SNAPSHOT:       return "snapshot";
	case CHECK_P_WAL:            return "wal";
	}
	return "unknown";
}

const char *check_reason_name(CheckChunkReason reason)
{
	switch (reason) {
	case CHECK_C_NOT_INDEXED:  return "not_indexed";
	case CHECK_C_PACK_MISSING: return "pack_missing";
	case CHECK_C_TRUNCATED:    return "truncated";
	case CHECK_C_MISMATCH:     return "mismatch";
	case CHECK_C_AUTH:         return "auth_failed";
	case CHECK_C_FORMAT:       return "bad_format";
	case CHECK_C_HASH:         return "hash_mismatch";
	case CHECK_C_TREE:         return "tree_unreadable";
	}
	return "unknown";
}

int check_reason_of(int codec_rc)
{
	switch (codec_rc) {
	case 0:               return 0;
	case STRATA_EAUTH:    return CHECK_C_AUTH;
	case STRATA_EFORMAT:  return CHECK_C_FORMAT;
	case STRATA_EDAMAGED: return CHECK_C_HASH;
	default:              return -1;
	}
}

int check_subset_has(const uint8_t pack[STRATA_ID_LEN], uint32_t n, uint32_t t)
{
	uint32_t v = (uint32_t)pack[0] << 24 | (uint32_t)pack[1] << 16 | (uint32_t)pack[2] << 8 | pack[3];

	return t == 0 || v % t == n - 1;
}

int check_subset_parse(const char *text, CheckOptions *opts, StrataErr *err)
{
	const char *slash = strchr(text, '/');
	size_t len = strlen(text);
	char *end = NULL;

	if (slash) {
		unsigned long n, t;
		errno = 0;
		n = strtoul(text, &end, 10);
		if (errno || end != slash || end == text || slash[1] < '0' || slash[1] > '9')
			goto bad;
		t = strtoul(slash + 1, &end, 10);
		if (errno || *end || n < 1 || t < 1 || n > t || t > 1000000)
			goto bad;
		opts->subset_n = (uint32_t)n;
		opts->subset_t = (uint32_t)t;
		opts->subset_percent = 0;
		return 0;
	}
	if (len >= 2 && text[len - 1] == '%' && text[0] >= '0' && text[0] <= '9') {
		double p;
		errno = 0;
		p = strtod(text, &end);
		if (errno || end != text + len - 1 || !(p > 0) || p > 100)
			goto bad;
		opts->subset_percent = p;
		opts->subset_n = opts->subset_t = 0;
		return 0;
	}
bad:
	return strata_err_set(err, STRATA_EUSAGE,
	                      "invalid subset '%s': want N/T (1 <= N <= T, e.g. 3/7) or P%% (0 < P <= 100, e.g. 5%%)",
	                      text);
}

/* ---- the tolerant index ---- */

static int damage_code(int rc)
{
	return rc == STRATA_EAUTH || rc == STRATA_EFORMAT || rc == STRATA_EVERSION ||
	       rc == STRATA_EDAMAGED || rc == STRATA_ENOTFOUND;
}

/* indexfile_sync without the failure on a damaged file and without writing
 * anything: a file that cannot be read is left out (check reports it,
 * repair replaces it). */
static int sync_tolerant(Repo *repo, Index *ix, StrataErr *err)
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
		if (rc && damage_code(rc)) {
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
	char dir[PATH_MAX + 16];
	StrataErr serr = {0};
	Index *ix = NULL;
	int rc;

	rc = repo_index(repo, out, &serr);
	if (rc == 0 || !damage_code(rc)) {
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
	snprintf(dir, sizeof dir, "%s/index", repo->cache_dir);
	if ((rc = index_open(dir, &ix, err)))
		goto out;
	if ((rc = sync_tolerant(repo, ix, err))) {
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
	CheckPackFn fn;
	void *ctx;
	int stop;
};

static int pack_name_cb(const char *name, uint64_t size, void *ctx)
{
	struct pack_list *l = ctx;
	const char *base = strrchr(name, '/');
	uint8_t id[STRATA_ID_LEN];

	if (!base || base - name < 3 || strlen(base + 1) != STRATA_ID_HEX_LEN ||
	    memcmp(base - 2, base + 1, 2) != 0 || codec_unhex(base + 1, id, STRATA_ID_LEN) != 0)
		return 0;
	l->stop = l->fn(id, l->kind, size, l->ctx);
	return l->stop;
}

int check_list_packs(Repo *repo, CheckPackFn fn, void *ctx, StrataErr *err)
{
	struct pack_list l = {PACK_KIND_DATA, fn, ctx, 0};
	RemoteErr rerr = {{0}};
	int rc;

	rc = backend_list(repo->be, "data/", pack_name_cb, &l, &rerr);
	if (rc == 0 && !l.stop) {
		l.kind = PACK_KIND_TREE;
		rc = backend_list(repo->be, "tree/", pack_name_cb, &l, &rerr);
	}
	if (l.stop)
		return l.stop;
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	return 0;
}

/* ---- the check's state ---- */

typedef struct CPack {
	uint8_t  id[STRATA_ID_LEN];
	uint8_t  kind;
	uint8_t  in_storage, in_index, trailer_bad, reported;
	uint8_t  mismatch;         /* its trailer or kind disagrees with an index file */
	uint64_t size;             /* in storage */
	PackEntry *ix_entries;     /* an index file's entries, kept when the trailer is bad */
	size_t   ix_n;
} CPack;

typedef struct Ctx {
	Repo *repo;
	Index *ix;
	const CheckOptions *opts;
	CheckReport *r;
	WorkPool *pool;
	pthread_mutex_t mu;        /* guards everything below from the workers */
	int fatal;
	StrataErr ferr;
	CPack *packs;
	size_t npacks, packs_cap;
	CheckIdMap pack_of;        /* pack ID → index in packs */
	CheckIdMap dmg;            /* chunk ID → index in r->chunks, or CHUNK_UNLISTED */
	CheckIdMap orphan;         /* chunk ID → pack index, for packs no index file lists */
	CheckIdMap trees;          /* tree ID → WALK_*; unreadable: | (record index + 1) << 2 */
	CheckProgress prog;
	/* Listed before the index is synced and the packs are listed: every
	 * object they name was durable before them (FORMAT.md "Write
	 * ordering"), so a backup running meanwhile cannot make a pack look
	 * missing. */
	uint8_t (*snap_ids)[STRATA_ID_LEN]; size_t nsnap_ids;
	uint8_t (*ix_ids)[STRATA_ID_LEN];   size_t nix_ids;
	struct timespec last_sync;  /* of the local index by fresh_look; 0: never */
	char path[WALK_PATH_MAX];
} Ctx;

typedef struct Worker {
	CodecCtx *codec;
	uint8_t *buf, *out;
	size_t cap, out_cap;
} Worker;

static void *worker_new(void)
{
	Worker *w = calloc(1, sizeof *w);

	if (w && !(w->codec = codec_ctx_new())) {
		free(w);
		w = NULL;
	}
	return w;
}

static void worker_free(void *p)
{
	Worker *w = p;

	if (!w)
		return;
	codec_ctx_free(w->codec);
	free(w->buf);
	free(w->out);
	free(w);
}

static void set_fatal_locked(Ctx *c, int rc, const StrataErr *e, const char *fallback)
{
	if (c->fatal)
		return;
	c->fatal = rc;
	if (e && e->msg[0])
		c->ferr = *e;
	else
		strata_err_set(&c->ferr, rc, "%s: %s", fallback, strata_strerror(rc));
}

static void set_fatal(Ctx *c, int rc, const StrataErr *e, const char *fallback)
{
	pthread_mutex_lock(&c->mu);
	set_fatal_locked(c, rc, e, fallback);
	pthread_mutex_unlock(&c->mu);
}

static int is_fatal(Ctx *c)
{
	int f;

	pthread_mutex_lock(&c->mu);
	f = c->fatal;
	pthread_mutex_unlock(&c->mu);
	return f;
}

static void progress_locked(Ctx *c)
{
	if (c->opts->progress)
		c->opts->progress(&c->prog, c->opts->progress_ctx);
}

static void phase(Ctx *c, const char *name, uint64_t total)
{
	pthread_mutex_lock(&c->mu);
	c->prog.phase = name;
	c->prog.done = 0;
	c->prog.total = total;
	progress_locked(c);
	pthread_mutex_unlock(&c->mu);
}

static void step_locked(Ctx *c)
{
	c->prog.done++;
	progress_locked(c);
}

/* Add a problem; caller holds c->mu. */
static void vproblem_locked(Ctx *c, CheckProblemKind kind, int warning, const uint8_t *object,
                            const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void vproblem_locked(Ctx *c, CheckProblemKind kind, int warning, const uint8_t *object,
                            const char *fmt, va_list ap)
{
	CheckReport *r = c->r;
	CheckProblem *p;

	if (r->nproblems % 16 == 0) {
		void *q = realloc(r->problems, (r->nproblems + 16) * sizeof *r->problems);
		if (!q) {
			set_fatal_locked(c, -ENOMEM, NULL, "recording a problem");
			return;
		}
		r->problems = q;
	}
	p = &r->problems[r->nproblems++];
	memset(p, 0, sizeof *p);
	p->kind = kind;
	p->warning = warning;
	if (object) {
		memcpy(p->object, object, STRATA_ID_LEN);
		p->has_object = 1;
	}
	vsnprintf(p->message, sizeof p->message, fmt, ap);
	if (warning)
		r->warnings++;
	else
		r->damage++;
}

static void problem_locked(Ctx *c, CheckProblemKind kind, int warning, const uint8_t *object,
                           const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void problem_locked(Ctx *c, CheckProblemKind kind, int warning, const uint8_t *object,
                           const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vproblem_locked(c, kind, warning, object, fmt, ap);
	va_end(ap);
}

/* The same, from a thread not holding c->mu. */
static void problem(Ctx *c, CheckProblemKind kind, int warning, const uint8_t *object,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void problem(Ctx *c, CheckProblemKind kind, int warning, const uint8_t *object,
                    const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&c->mu);
	va_start(ap, fmt);
	vproblem_locked(c, kind, warning, object, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&c->mu);
}

/* Record a damaged chunk; caller holds c->mu. Returns its index in
 * r->chunks, CHUNK_UNLISTED past CHECK_MAX_CHUNKS, or CHUNK_OOM (fatal
 * set). */
static size_t chunk_locked(Ctx *c, const uint8_t id[STRATA_ID_LEN], uint8_t type, CheckChunkReason reason,
                           const uint8_t *pack, uint32_t offset, uint32_t length, uint32_t raw_len,
                           const char *detail)
{
	CheckReport *r = c->r;
	CheckChunk *k;

	if (r->nchunks >= CHECK_MAX_CHUNKS) {
		if (check_idmap_put(&c->dmg, id, CHUNK_UNLISTED) != 0)
			goto oom;
		r->chunks_unlisted++;
		r->damage++;
		return CHUNK_UNLISTED;
	}
	if (r->nchunks % 16 == 0) {
		void *q = realloc(r->chunks, (r->nchunks + 16) * sizeof *r->chunks);
		if (!q)
			goto oom;
		r->chunks = q;
	}
	if (check_idmap_put(&c->dmg, id, r->nchunks) != 0)
		goto oom;
	k = &r->chunks[r->nchunks];
	memset(k, 0, sizeof *k);
	memcpy(k->id, id, STRATA_ID_LEN);
	k->type = type;
	k->reason = reason;
	if (pack) {
		k->has_location = 1;
		memcpy(k->pack, pack, STRATA_ID_LEN);
		k->offset = offset;
		k->length = length;
		k->raw_len = raw_len;
	}
	snprintf(k->detail, sizeof k->detail, "%s", detail ? detail : "");
	r->damage++;
	return r->nchunks++;
oom:
	set_fatal_locked(c, -ENOMEM, NULL, "recording a damaged chunk");
	return CHUNK_OOM;
}

static const char *kind_name(uint8_t kind)
{
	return kind == PACK_KIND_DATA ? "data" : "tree";
}

/* ---- phase 1: config and key files ---- */

typedef struct NameList {
	char **v;
	size_t n, cap;
} NameList;

static int collect_name(const char *name, uint64_t size, void *ctx)
{
	NameList *l = ctx;

	(void)size;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		void *p = realloc(l->v, cap * sizeof *l->v);
		if (!p)
			return -ENOMEM;
		l->v = p;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(name)))
		return -ENOMEM;
	l->n++;
	return 0;
}

static int check_keys(Ctx *c, StrataErr *err)
{
	NameList names = {0};
	char hex[STRATA_ID_HEX_LEN + 1];
	uint8_t *buf = NULL, *plain = NULL, id[STRATA_ID_LEN], sum[STRATA_ID_LEN];
	size_t len = 0, plain_len = 0;
	RemoteErr rerr = {{0}};
	int rc;

	rc = backend_get(c->repo->be, "config", &buf, &len, &rerr);
	if (rc) {
		repo_remote_err(err, rc, &rerr);
		goto out;
	}
	rc = sealed_decode(c->repo->keys, CONFIG_MAGIC, STRATA_FORMAT_VERSION, buf, len, &plain, &plain_len, NULL);
	if (rc == -ENOMEM) {
		strata_err_set(err, rc, "out of memory");
		goto out;
	}
	if (rc)
		problem(c, CHECK_P_CONFIG, 0, NULL,
		        "config no longer decodes (%s; it changed after strata opened it): restore it from a copy",
		        rc == STRATA_EAUTH ? "fails authentication" : strata_strerror(rc));
	free(buf);
	buf = NULL;
	rc = backend_list(c->repo->be, "keys/", collect_name, &names, &rerr);
	if (rc) {
		if (rc == -ENOMEM)
			strata_err_set(err, rc, "out of memory");
		else
			repo_remote_err(err, rc, &rerr);
		goto out;
	}
	for (size_t i = 0; i < names.n; i++) {
		const char *base = strrchr(names.v[i], '/');
		StrataErr kerr = {0};
		KeyFileInfo info;
		base = base ? base + 1 : names.v[i];
		if (codec_unhex(base, id, STRATA_ID_LEN) != 0)
			continue;
		rc = backend_get(c->repo->be, names.v[i], &buf, &len, &rerr);
		if (rc == -ENOENT)
			continue;      /* removed since the listing (key remove) */
		c->r->key_files++;
		if (rc) {
			repo_remote_err(err, rc, &rerr);
			goto out;
		}
		codec_file_hash(buf, len, sum);
		codec_hex(id, STRATA_ID_LEN, hex);
		if (memcmp(sum, id, STRATA_ID_LEN) != 0)
			problem(c, CHECK_P_KEYFILE, 0, id,
			        "key file %.16s: content does not match its name (damaged); if another key works, remove it with `strata key remove %.16s`",
			        hex, hex);
		else if (keyfile_info(buf, len, &info, &kerr) != 0)
			problem(c, CHECK_P_KEYFILE, 0, id, "key file %.16s does not decode: %s", hex, kerr.msg);
		free(buf);
		buf = NULL;
	}
	rc = 0;
out:
	for (size_t i = 0; i < names.n; i++)
		free(names.v[i]);
	free(names.v);
	free(buf);
	free(plain);
	return rc;
}

/* ---- phase 2: packs in storage ---- */

/* The record for pack id, created if new; caller holds c->mu while
 * workers run (the array moves). */
static int pack_slot_locked(Ctx *c, const uint8_t id[STRATA_ID_LEN], uint8_t kind, size_t *out)
{
	uint64_t v;
	CPack *p;

	if (check_idmap_get(&c->pack_of, id, &v)) {
		*out = (size_t)v;
		return 0;
	}
	if (c->npacks == c->packs_cap) {
		size_t cap = c->packs_cap ? 2 * c->packs_cap : 256;
		void *q = realloc(c->packs, cap * sizeof *c->packs);
		if (!q)
			return -ENOMEM;
		c->packs = q;
		c->packs_cap = cap;
	}
	if (check_idmap_put(&c->pack_of, id, c->npacks) != 0)
		return -ENOMEM;
	p = &c->packs[c->npacks];
	memset(p, 0, sizeof *p);
	memcpy(p->id, id, STRATA_ID_LEN);
	p->kind = kind;
	*out = c->npacks++;
	return 0;
}

static int on_storage_pack(const uint8_t id[STRATA_ID_LEN], uint8_t kind, uint64_t size, void *ctx)
{
	Ctx *c = ctx;
	size_t i;

	if (pack_slot_locked(c, id, kind, &i) != 0)
		return -ENOMEM;
	if (!c->packs[i].in_storage) {
		c->packs[i].in_storage = 1;
		c->packs[i].size = size;
		c->packs[i].kind = kind;
		c->r->packs++;
	}
	return 0;
}

/* ---- phases 3 and 4: index files and trailers ---- */

typedef struct TrailerJob {
	Ctx *c;
	size_t pack;                      /* index in c->packs */
	int orphan;                       /* no index file lists the pack */
	uint8_t file[STRATA_ID_LEN];      /* the index file listing it */
	PackEntry *entries;               /* that file's entries for it (owned) */
	size_t n;
} TrailerJob;

static int cmp_offset(const void *a, const void *b)
{
	const PackEntry *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int same_entry(const PackEntry *a, const PackEntry *b)
{
	return a->type == b->type && a->offset == b->offset && a->length == b->length &&
	       a->raw_len == b->raw_len && memcmp(a->id, b->id, STRATA_ID_LEN) == 0;
}

/* Compare an index file's entries for a pack with its trailer; record
 * every index entry the trailer does not confirm. Caller holds c->mu. */
static void compare_locked(Ctx *c, TrailerJob *j, const PackEntry *te, size_t tn)
{
	const CPack *p = &c->packs[j->pack];
	char hex[STRATA_ID_HEX_LEN + 1], fhex[STRATA_ID_HEX_LEN + 1], chex[STRATA_ID_HEX_LEN + 1] = "";
	CheckIdMap at = {0};
	size_t bad = 0;
	uint8_t pack[STRATA_ID_LEN];

	memcpy(pack, p->id, STRATA_ID_LEN);
	for (size_t i = 0; i < tn; i++) {
		if (check_idmap_put(&at, te[i].id, i) != 0) {
			set_fatal_locked(c, -ENOMEM, NULL, "comparing a trailer");
			goto out;
		}
	}
	codec_hex(pack, STRATA_ID_LEN, hex);
	codec_hex(j->file, STRATA_ID_LEN, fhex);
	for (size_t i = 0; i < j->n; i++) {
		const PackEntry *e = &j->entries[i];
		uint64_t ti;
		if (check_idmap_get(&at, e->id, &ti) && same_entry(e, &te[ti]))
			continue;
		if (!bad++)
			codec_hex(e->id, STRATA_ID_LEN, chex);
		chunk_locked(c, e->id, e->type, CHECK_C_MISMATCH, pack, e->offset, e->length, e->raw_len,
		             "index file and pack trailer disagree on this chunk");
	}
	if (bad || tn != j->n) {
		c->packs[j->pack].mismatch = 1;
		problem_locked(c, CHECK_P_PACK_MISMATCH, 0, pack,
		               "pack %.16s: index file %.8s lists %zu chunks, the trailer %zu; %zu index entries are not in the trailer%s%.16s; `strata repair index` rebuilds the index from the trailers",
		               hex, fhex, j->n, tn, bad, bad ? " (first: chunk " : "", chex);
	}
out:
	check_idmap_free(&at);
}

static void trailer_job(void *arg, void *state)
{
	TrailerJob *j = arg;
	Ctx *c = j->c;
	uint8_t id[STRATA_ID_LEN], kind;
	char hex[STRATA_ID_HEX_LEN + 1], fhex[STRATA_ID_HEX_LEN + 1];
	PackEntry *te = NULL;
	size_t tn = 0;
	uint64_t size = 0;
	StrataErr terr = {0};
	CPack *p;
	int rc;

	(void)state;
	if (is_fatal(c))
		goto out;
	pthread_mutex_lock(&c->mu);
	memcpy(id, c->packs[j->pack].id, STRATA_ID_LEN);
	kind = c->packs[j->pack].kind;
	pthread_mutex_unlock(&c->mu);
	codec_hex(id, STRATA_ID_LEN, hex);
	codec_hex(j->file, STRATA_ID_LEN, fhex);
	rc = blob_pack_trailer(c->repo, kind, id, &te, &tn, &size, &terr);
	pthread_mutex_lock(&c->mu);
	p = &c->packs[j->pack];
	if (rc == 0 && j->orphan) {
		for (size_t i = 0; i < tn; i++) {
			if (check_idmap_put(&c->orphan, te[i].id, j->pack) != 0) {
				set_fatal_locked(c, -ENOMEM, NULL, "recording an unindexed pack");
				break;
			}
		}
		problem_locked(c, CHECK_P_PACK_UNINDEXED, 1, id,
		               "pack %.16s (%s, %zu chunks, %llu bytes) is not listed in any index file (an interrupted or running backup, or a lost index file); `strata repair index` lists it",
		               hex, kind_name(kind), tn, (unsigned long long)size);
	} else if (rc == 0) {
		compare_locked(c, j, te, tn);
	} else if (damage_code(rc) || rc == -ERANGE || rc == -ENOENT) {
		if (!p->trailer_bad) {
			p->trailer_bad = 1;
			/* terr names the pack ("pack data/3f/3fa1...: trailer ..."). */
			if (j->orphan)
				problem_locked(c, CHECK_P_PACK_TRAILER, 0, id,
				               "%s; no index file lists it, so its content cannot be identified: `strata repair index` removes it",
				               terr.msg);
			else
				problem_locked(c, CHECK_P_PACK_TRAILER, 0, id,
				               "%s; index file %.8s still locates its %zu chunks: `strata repair index` rewrites the pack",
				               terr.msg, fhex, j->n);
		}
		if (!j->orphan && !p->ix_entries) {
			p->ix_entries = j->entries;
			p->ix_n = j->n;
			j->entries = NULL;
		}
	} else {
		set_fatal_locked(c, rc, &terr, "reading a pack trailer");
	}
	pthread_mutex_unlock(&c->mu);
out:
	free(te);
	free(j->entries);
	free(j);
}

static int submit_trailer(Ctx *c, size_t pack, int orphan, const uint8_t *file, PackEntry *entries, size_t n)
{
	TrailerJob *j = calloc(1, sizeof *j);

	if (!j) {
		free(entries);
		return -ENOMEM;
	}
	j->c = c;
	j->pack = pack;
	j->orphan = orphan;
	if (file)
		memcpy(j->file, file, STRATA_ID_LEN);
	j->entries = entries;
	j->n = n;
	if (workpool_submit(c->pool, trailer_job, j, 4096 + n * sizeof *entries) != 0) {
		free(entries);
		free(j);
		return -ENOMEM;
	}
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, STRATA_ID_LEN);
}

/* Main-thread checks of one index file's pack against storage; 1 when
 * the trailer should then be compared. Caller holds c->mu. */
static int pack_vs_storage_locked(Ctx *c, const IndexFilePack *ip, const uint8_t file[STRATA_ID_LEN],
                                  size_t *out_pack)
{
	char hex[STRATA_ID_HEX_LEN + 1], fhex[STRATA_ID_HEX_LEN + 1];
	CPack *p;
	int first;

	if (pack_slot_locked(c, ip->id, ip->kind, out_pack) != 0) {
		set_fatal_locked(c, -ENOMEM, NULL, "recording a pack");
		return 0;
	}
	p = &c->packs[*out_pack];
	first = !p->in_index;
	p->in_index = 1;
	codec_hex(ip->id, STRATA_ID_LEN, hex);
	codec_hex(file, STRATA_ID_LEN, fhex);
	if (!p->in_storage) {
		if (first)
			problem_locked(c, CHECK_P_PACK_MISSING, 0, ip->id,
			               "pack %.16s (%s, %zu chunks, %llu bytes) listed in index file %.8s is missing from the repository; put it back from a copy if there is one, else see the damaged chunks below",
			               hex, kind_name(ip->kind), ip->n, (unsigned long long)ip->size, fhex);
		return 0;
	}
	if (p->kind != ip->kind) {
		p->mismatch = 1;
		problem_locked(c, CHECK_P_PACK_MISMATCH, 0, ip->id,
		               "pack %.16s is stored as a %s pack but index file %.8s lists it as a %s pack",
		               hex, kind_name(p->kind), fhex, kind_name(ip->kind));
		return 0;
	}
	if (p->size != ip->size && !p->reported) {
		p->reported = 1;
		problem_locked(c, CHECK_P_PACK_SIZE, 0, ip->id,
		               "pack %.16s is %llu bytes but index file %.8s says %llu (%s)",
		               hex, (unsigned long long)p->size, fhex, (unsigned long long)ip->size,
		               p->size < ip->size ? "truncated" : "overwritten or extended");
	}
	return 1;
}

static int check_indexfiles(Ctx *c, StrataErr *err)
{
	uint8_t (*ids)[STRATA_ID_LEN] = c->ix_ids;
	size_t nids = c->nix_ids;
	int rc = 0;

	qsort(ids, nids, sizeof *ids, cmp_id);
	phase(c, "index", nids);
	for (size_t i = 0; i < nids && rc == 0 && !is_fatal(c); i++) {
		IndexFilePack *packs = NULL;
		StrataErr ferr = {0};
		size_t n = 0, pi;
		rc = indexfile_read(c->repo, ids[i], &packs, &n, &ferr);
		if (rc && damage_code(rc)) {
			problem(c, CHECK_P_INDEXFILE, 0, ids[i],
			        "%s; `strata repair index` replaces the index files from the pack trailers", ferr.msg);
			rc = 0;
			continue;
		}
		if (rc) {
			if (err)
				*err = ferr;
			break;
		}
		c->r->index_files++;
		for (size_t k = 0; k < n && rc == 0; k++) {
			int compare;
			pthread_mutex_lock(&c->mu);
			compare = pack_vs_storage_locked(c, &packs[k], ids[i], &pi);
			pthread_mutex_unlock(&c->mu);
			if (compare) {
				rc = submit_trailer(c, pi, 0, ids[i], packs[k].entries, packs[k].n);
				packs[k].entries = NULL;
				if (rc)
					strata_err_set(err, rc, "out of memory");
			}
		}
		indexfile_packs_free(packs, n);
		pthread_mutex_lock(&c->mu);
		step_locked(c);
		pthread_mutex_unlock(&c->mu);
	}
	workpool_wait(c->pool);
	return rc;
}

static int check_orphans(Ctx *c, StrataErr *err)
{
	int rc = 0;

	for (size_t i = 0; i < c->npacks && rc == 0; i++)
		if (c->packs[i].in_storage && !c->packs[i].in_index)
			rc = submit_trailer(c, i, 1, NULL, NULL, 0);
	workpool_wait(c->pool);
	return rc ? strata_err_set(err, rc, "out of memory") : 0;
}

/* ---- phase 5: read-data ---- */

typedef struct DataJob {
	Ctx *c;
	size_t pack;
} DataJob;

static const char *reason_text(int reason)
{
	switch (reason) {
	case CHECK_C_AUTH:   return "fails authentication (its bytes changed, or they are not this chunk)";
	case CHECK_C_FORMAT: return "authentic, but does not decompress to its recorded length";
	case CHECK_C_HASH:   return "decrypts, but its content does not hash to its ID";
	default:             return "is damaged";
	}
}

/* Open one blob: authenticate, decompress, re-hash against its ID. 1 when
 * it is recorded as damaged, else 0. */
static int verify_blob(Ctx *c, Worker *w, const uint8_t pack[STRATA_ID_LEN], const PackEntry *e,
                       const uint8_t *blob)
{
	int rc = STRATA_EFORMAT, reason;

	if (e->raw_len <= RAW_MAX && w->out_cap < (size_t)e->raw_len + 1) {
		void *p = realloc(w->out, (size_t)e->raw_len + 1);
		if (!p) {
			set_fatal(c, -ENOMEM, NULL, "verifying a blob");
			return 0;
		}
		w->out = p;
		w->out_cap = (size_t)e->raw_len + 1;
	}
	if (e->raw_len <= RAW_MAX)
		rc = codec_blob_open(w->codec, c->repo->keys, e->type, e->id, blob, e->length, w->out, e->raw_len);
	reason = check_reason_of(rc);
	pthread_mutex_lock(&c->mu);
	if (reason < 0)
		set_fatal_locked(c, rc, NULL, "verifying a blob");
	else if (reason)
		chunk_locked(c, e->id, e->type, (CheckChunkReason)reason, pack, e->offset, e->length, e->raw_len,
		             reason_text(reason));
	else
		c->r->blobs_verified++;
	pthread_mutex_unlock(&c->mu);
	return reason > 0;
}

/* One blob read on its own (entries from an index file may overlap); as
 * verify_blob. */
static int verify_alone(Ctx *c, Worker *w, const char *name, const uint8_t pack[STRATA_ID_LEN],
                        const PackEntry *e)
{
	uint8_t *b = malloc(e->length ? e->length : 1);
	RemoteErr rerr = {{0}};
	int rc, bad = 0;

	if (!b) {
		set_fatal(c, -ENOMEM, NULL, "verifying a blob");
		return 0;
	}
	rc = backend_get_range(c->repo->be, name, e->offset, e->length, b, &rerr);
	if (rc == 0) {
		bad = verify_blob(c, w, pack, e, b);
	} else {
		StrataErr rerr2 = {0};
		repo_remote_err(&rerr2, rc, &rerr);
		set_fatal(c, rc, &rerr2, "reading a blob");
	}
	free(b);
	return bad;
}

/* Stream the pack, opening every blob of e[0..n) (sorted by offset) once
 * its bytes are in the window; with hash, also hash every byte and report
 * a pack that does not hash to its name; with count, add the bytes to
 * bytes_read. Returns the number of damaged blobs recorded, or -1 when the
 * pack could not be read to its end (reported, or fatal). */
static int stream_pack(Ctx *c, Worker *w, const uint8_t id[STRATA_ID_LEN], uint8_t kind, uint64_t size,
                       const PackEntry *e, size_t n, int hash, int count)
{
	char name[REPO_NAME_MAX], hex[STRATA_ID_HEX_LEN + 1];
	uint8_t sum[STRATA_ID_LEN];
	uint64_t buf_off = 0, pos = 0;
	size_t blen = 0, i = 0;
	CodecHashState hs;
	RemoteErr rerr = {{0}};
	int rc, bad = 0;

	repo_pack_name(kind, id, name);
	codec_hex(id, STRATA_ID_LEN, hex);
	if (hash)
		codec_file_hash_init(&hs);
	for (;;) {
		while (i < n && !is_fatal(c)) {
			uint64_t end = (uint64_t)e[i].offset + e[i].length;
			if (end > size) {
				pthread_mutex_lock(&c->mu);
				chunk_locked(c, e[i].id, e[i].type, CHECK_C_TRUNCATED, id, e[i].offset, e[i].length,
				             e[i].raw_len, "lies past the end of its pack");
				pthread_mutex_unlock(&c->mu);
				bad++;
			} else if (e[i].offset < buf_off) {
				bad += verify_alone(c, w, name, id, &e[i]);
			} else if (end <= buf_off + blen) {
				bad += verify_blob(c, w, id, &e[i], w->buf + (e[i].offset - buf_off));
			} else {
				break;
			}
			i++;
		}
		if (pos >= size || is_fatal(c))
			break;
		/* Keep the bytes of the next blob not yet complete. */
		uint64_t keep = i < n && e[i].offset < pos ? e[i].offset : pos;
		if (keep > buf_off) {
			size_t drop = (size_t)(keep - buf_off);
			memmove(w->buf, w->buf + drop, blen - drop);
			blen -= drop;
			buf_off = keep;
		}
		size_t want = size - pos < CHECK_WINDOW_BYTES ? (size_t)(size - pos) : CHECK_WINDOW_BYTES;
		if (w->cap < blen + want) {
			void *p = realloc(w->buf, blen + want);
			if (!p) {
				set_fatal(c, -ENOMEM, NULL, "reading a pack");
				return -1;
			}
			w->buf = p;
			w->cap = blen + want;
		}
		rc = backend_get_range(c->repo->be, name, pos, want, w->buf + blen, &rerr);
		if (rc == -ERANGE || rc == -ENOENT) {
			problem(c, rc == -ENOENT ? CHECK_P_PACK_MISSING : CHECK_P_PACK_SIZE, 0, id,
			        "pack %.16s %s while it was being read", hex,
			        rc == -ENOENT ? "disappeared" : "shrank");
			return -1;
		}
		if (rc) {
			StrataErr e2 = {0};
			repo_remote_err(&e2, rc, &rerr);
			set_fatal(c, rc, &e2, "reading a pack");
			return -1;
		}
		if (hash)
			codec_file_hash_update(&hs, w->buf + blen, want);
		blen += want;
		pos += want;
		if (count) {
			pthread_mutex_lock(&c->mu);
			c->r->bytes_read += want;
			c->prog.bytes += want;
			progress_locked(c);
			pthread_mutex_unlock(&c->mu);
		}
	}
	if (is_fatal(c))
		return -1;
	if (hash) {
		codec_file_hash_final(&hs, sum);
		if (memcmp(sum, id, STRATA_ID_LEN) != 0)
			problem(c, CHECK_P_PACK_HASH, 0, id,
			        "pack %.16s: its content does not hash to its name (damaged or replaced)", hex);
	}
	return bad;
}

static void data_job(void *arg, void *state)
{
	DataJob *j = arg;
	Ctx *c = j->c;
	Worker *w = state;
	uint8_t id[STRATA_ID_LEN], kind;
	PackEntry *e = NULL;
	size_t n = 0;
	uint64_t size, tsize = 0;
	StrataErr terr = {0};
	int rc, hash, bad;

	if (!w) {
		set_fatal(c, -ENOMEM, NULL, "starting a worker");
		goto out;
	}
	if (is_fatal(c))
		goto out;
	pthread_mutex_lock(&c->mu);
	memcpy(id, c->packs[j->pack].id, STRATA_ID_LEN);
	kind = c->packs[j->pack].kind;
	size = c->packs[j->pack].size;
	/* The structure check already found this pack wrong: hash it too. */
	hash = c->opts->pack_hash || c->packs[j->pack].trailer_bad || c->packs[j->pack].reported ||
	       c->packs[j->pack].mismatch;
	pthread_mutex_unlock(&c->mu);
	rc = blob_pack_trailer(c->repo, kind, id, &e, &n, &tsize, &terr);
	if (rc && !(damage_code(rc) || rc == -ERANGE || rc == -ENOENT)) {
		set_fatal(c, rc, &terr, "reading a pack trailer");
		goto out;
	}
	if (rc) {
		/* Damaged trailer: the index file's entries, if any, say where
		 * the blobs are. They need not cover every byte, so the pack's
		 * hash must be checked. */
		hash = 1;
		pthread_mutex_lock(&c->mu);
		n = c->packs[j->pack].ix_n;
		e = n ? malloc(n * sizeof *e) : NULL;
		if (e)
			memcpy(e, c->packs[j->pack].ix_entries, n * sizeof *e);
		else
			n = 0;
		pthread_mutex_unlock(&c->mu);
	}
	if (n)
		qsort(e, n, sizeof *e, cmp_offset);
	/* Without hash, the trailer decoded: it is authentic and its entries
	 * lie end to end over every byte before it (pack_trailer_parse), so
	 * opening every blob authenticates every byte of the pack (FORMAT.md
	 * "Check"). A pack found damaged is hashed after all, in a second
	 * read, so that the report names it as before. */
	bad = stream_pack(c, w, id, kind, size, e, n, hash, 1);
	if (bad > 0 && !hash && !is_fatal(c))
		stream_pack(c, w, id, kind, size, NULL, 0, 1, 0);
	pthread_mutex_lock(&c->mu);
	memcpy(c->r->packs_read[c->r->npacks_read++], id, STRATA_ID_LEN);
	step_locked(c);
	pthread_mutex_unlock(&c->mu);
out:
	free(e);
	free(j);
}

/* Uniform in [0, bound) from libsodium's generator. */
static size_t random_below(size_t bound)
{
	uint64_t r, limit = UINT64_MAX - UINT64_MAX % bound;

	do
		codec_random(&r, sizeof r);
	while (r >= limit);
	return (size_t)(r % bound);
}

static int check_data(Ctx *c, StrataErr *err)
{
	const CheckOptions *o = c->opts;
	size_t *sel = malloc((c->npacks ? c->npacks : 1) * sizeof *sel), nsel = 0;
	int rc = 0;

	if (!sel)
		return strata_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < c->npacks; i++)
		if (c->packs[i].in_storage && (!o->subset_t || check_subset_has(c->packs[i].id, o->subset_n, o->subset_t)))
			sel[nsel++] = i;
	if (o->subset_percent > 0 && nsel > 0) {
		size_t k = (size_t)ceil((double)nsel * o->subset_percent / 100.0);
		if (k > nsel)
			k = nsel;
		for (size_t i = 0; i < k; i++) {     /* partial Fisher-Yates */
			size_t r = i + random_below(nsel - i), t = sel[i];
			sel[i] = sel[r];
			sel[r] = t;
		}
		nsel = k;
	}
	c->r->packs_selected = nsel;
	c->r->packs_read = malloc((nsel ? nsel : 1) * sizeof *c->r->packs_read);
	if (!c->r->packs_read) {
		free(sel);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	phase(c, "read-data", nsel);
	for (size_t i = 0; i < nsel && !is_fatal(c); i++) {
		DataJob *j = malloc(sizeof *j);
		if (j) {
			j->c = c;
			j->pack = sel[i];
		}
		if (!j || workpool_submit(c->pool, data_job, j, CHECK_WINDOW_BYTES) != 0) {
			free(j);
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			break;
		}
	}
	workpool_wait(c->pool);
	free(sel);
	return rc;
}

/* ---- phase 6: snapshots and trees ---- */

typedef struct Tally {
	uint64_t files, trees;
} Tally;

static int add_user(Ctx *c, size_t k, const uint8_t *snap, const char *path, int is_tree,
                    uint64_t offset, uint64_t length)
{
	CheckChunk *ch;
	CheckUser *u;

	if (k == CHUNK_UNLISTED)
		return 0;
	ch = &c->r->chunks[k];
	ch->users_total++;
	if (ch->nusers >= CHECK_MAX_USERS || c->r->users_listed >= CHECK_MAX_LISTED_USERS)
		return 0;
	if (ch->nusers == 0 || (ch->nusers >= 4 && (ch->nusers & (ch->nusers - 1)) == 0)) {
		void *p = realloc(ch->users, (ch->nusers ? 2 * ch->nusers : 4) * sizeof *ch->users);
		if (!p)
			return -ENOMEM;
		ch->users = p;
	}
	u = &ch->users[ch->nusers];
	memset(u, 0, sizeof *u);
	if (snap)
		memcpy(u->snapshot, snap, STRATA_ID_LEN);
	u->is_wal = !snap;
	u->is_tree = is_tree;
	u->offset = offset;
	u->length = length;
	if (!(u->path = strdup(path)))
		return -ENOMEM;
	ch->nusers++;
	c->r->users_listed++;
	return 0;
}

/* Before calling a chunk missing from the index: a backup running beside
 * the check may have indexed it since the sync (snapshots and WAL files
 * are written after their index files). Sync again, at most once a
 * second. 1 if the index may have changed. */
static int fresh_look(Ctx *c, StrataErr *err)
{
	struct timespec now;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (c->last_sync.tv_sec && now.tv_sec - c->last_sync.tv_sec < 1)
		return 0;
	c->last_sync = now;
	if ((rc = sync_tolerant(c->repo, c->ix, err)))
		return rc;
	return 1;
}

/* Before calling a pack missing: it may have been written since the
 * listing. Records it when it is there now. */
static int pack_now(Ctx *c, const uint8_t id[STRATA_ID_LEN], uint8_t kind, uint64_t *out_v, StrataErr *err)
{
	char name[REPO_NAME_MAX];
	RemoteErr rerr = {{0}};
	uint64_t size;
	int rc;

	repo_pack_name(kind, id, name);
	rc = backend_stat(c->repo->be, name, &size, &rerr);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	if (on_storage_pack(id, kind, size, c) != 0)
		return strata_err_set(err, -ENOMEM, "out of memory");
	check_idmap_get(&c->pack_of, id, out_v);
	return 1;
}

/* Is chunk id, where the index locates it, usable? 0 yes; 1 no, with
 * *out_k its record in c->r->chunks; < 0 when the check cannot go on.
 * raw_len 0 means the length is not known to the caller. */
static int ref_state(Ctx *c, const uint8_t id[STRATA_ID_LEN], uint8_t type, uint32_t raw_len,
                     size_t *out_k, StrataErr *err)
{
	char detail[256], phex[STRATA_ID_HEX_LEN + 1];
	CheckChunkReason reason;
	IndexEntry e;
	uint64_t v = 0;
	size_t k;
	int rc, found;

	rc = index_lookup(c->ix, id, &e);
	if (rc == STRATA_ENOTFOUND && !check_idmap_get(&c->dmg, id, NULL)) {
		if ((rc = fresh_look(c, err)) < 0)
			return rc;
		rc = rc ? index_lookup(c->ix, id, &e) : STRATA_ENOTFOUND;
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
	if (!found) {
		if (check_idmap_get(&c->orphan, id, &v)) {
			codec_hex(c->packs[v].id, STRATA_ID_LEN, phex);
			snprintf(detail, sizeof detail,
			         "not in any index file, but pack %.16s holds it: `strata repair index` makes it reachable again", phex);
		} else {
			snprintf(detail, sizeof detail, "not in the index, and no pack in the repository holds it");
		}
		pthread_mutex_lock(&c->mu);
		k = chunk_locked(c, id, type, CHECK_C_NOT_INDEXED, NULL, 0, 0, 0, detail);
		pthread_mutex_unlock(&c->mu);
	} else {
		const CPack *p = check_idmap_get(&c->pack_of, e.pack, &v) ? &c->packs[v] : NULL;
		if ((!p || !p->in_storage) && (rc = pack_now(c, e.pack, pack_kind_of_blob(e.type), &v, err)) != 0) {
			if (rc < 0)
				return rc;
			p = &c->packs[v];
		}
		codec_hex(e.pack, STRATA_ID_LEN, phex);
		if (!p || !p->in_storage) {
			reason = CHECK_C_PACK_MISSING;
			snprintf(detail, sizeof detail, "its pack %.16s is missing from the repository", phex);
		} else if ((uint64_t)e.offset + e.length > p->size) {
			reason = CHECK_C_TRUNCATED;
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
		k = chunk_locked(c, id, type, reason, e.pack, e.offset, e.length, e.raw_len, detail);
		pthread_mutex_unlock(&c->mu);
	}
	if (k == CHUNK_OOM)
		return strata_err_set(err, -ENOMEM, "out of memory");
	*out_k = k;
	return 1;
}

/* Walk tree (the directory at c->path[0..plen)) for snapshot s. Returns 1
 * when damage lies at or below it, 0 when clean, < 0 to stop. */
static int walk(Ctx *c, const Snapshot *s, const uint8_t tree[STRATA_ID_LEN], size_t plen, int depth,
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
	if (rc < 0 && !damage_code(rc)) {
		if (err)
			*err = lerr;
		return rc;
	}
	if (rc < 0) {
		IndexEntry e;
		int have = index_lookup(c->ix, tree, &e) == 0;
		pthread_mutex_lock(&c->mu);
		k = chunk_locked(c, tree, BLOB_TREE, CHECK_C_TREE, have ? e.pack : NULL, e.offset, e.length,
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
			uint64_t off = 0;
			int bad = 0;
			if (!known)
				c->r->files++;
			for (size_t ci = 0; ci < n->nchunks; ci++) {
				if (!known)
					c->r->chunk_refs++;
				rc = ref_state(c, n->chunks[ci], BLOB_DATA, n->chunk_lens[ci], &k, err);
				if (rc < 0)
					goto out;
				if (rc && add_user(c, k, s->id, c->path, 0, off, n->chunk_lens[ci]) != 0) {
					rc = strata_err_set(err, -ENOMEM, "out of memory");
					goto out;
				}
				bad |= rc;
				off += n->chunk_lens[ci];
			}
			if (bad)
				t->files++;
			damaged |= bad;
		} else if (n->type == NODE_DIR) {
			rc = walk(c, s, n->subtree, len, depth + 1, t, err);
			if (rc < 0)
				goto out;
			damaged |= rc;
		}
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
	if (add_user(c, k, s->id, c->path, 1, 0, 0) != 0)
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

static int check_snapshots(Ctx *c, StrataErr *err)
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
		if (rc && damage_code(rc)) {
			problem(c, CHECK_P_SNAPSHOT, 0, ids[i],
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
	phase(c, "snapshots", n);
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
		step_locked(c);
		pthread_mutex_unlock(&c->mu);
	}
out:
	snapshot_list_free(snaps, n);
	return rc;
}

/* ---- phase 7: the WAL archive ---- */

struct wal_walk {
	Ctx *c;
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
	return add_user(w->c, k, NULL, "", 0, 0, raw_len) ? strata_err_set(w->err, -ENOMEM, "out of memory") : 0;
}

static int check_wal(Ctx *c, StrataErr *err)
{
	StrataErr werr = {0};
	struct wal_walk w = {c, &werr};
	int rc;

	phase(c, "wal", 0);
	rc = wal_foreach_chunk(c->repo, on_wal_chunk, &w, &werr);
	if (rc && damage_code(rc)) {
		problem(c, CHECK_P_WAL, 0, NULL,
		        "WAL archive: %s; the descriptors after it were not checked", werr.msg);
		return 0;
	}
	if (rc && err)
		*err = werr;
	return rc;
}

/* ---- the run ---- */

static int cmp_chunk(const void *a, const void *b)
{
	const CheckChunk *x = a, *y = b;
	int d;

	if (x->has_location != y->has_location)
		return y->has_location - x->has_location;
	if ((d = memcmp(x->pack, y->pack, STRATA_ID_LEN)) != 0)
		return d;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return memcmp(x->id, y->id, STRATA_ID_LEN);
}

void check_report_free(CheckReport *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nchunks; i++) {
		for (size_t u = 0; u < r->chunks[i].nusers; u++)
			free(r->chunks[i].users[u].path);
		free(r->chunks[i].users);
	}
	free(r->chunks);
	free(r->problems);
	free(r->snaps);
	free(r->packs_read);
	free(r);
}

int check_run(Repo *repo, const CheckOptions *opts, CheckReport **out_report, StrataErr *err)
{
	struct timespec t0, t1;
	Ctx *c = calloc(1, sizeof *c);
	CheckReport *r = calloc(1, sizeof *r);
	int rc, threads = opts->threads > 0 ? opts->threads : workpool_default_threads();

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!c || !r) {
		free(c);
		free(r);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	pthread_mutex_init(&c->mu, NULL);
	c->repo = repo;
	c->opts = opts;
	c->r = r;
	if (opts->subset_t && (opts->subset_n < 1 || opts->subset_n > opts->subset_t)) {
		rc = strata_err_set(err, STRATA_EUSAGE, "invalid subset %u/%u", opts->subset_n, opts->subset_t);
		goto out;
	}
	if ((rc = repo_list_ids(repo, "snapshots/", &c->snap_ids, &c->nsnap_ids, err)) ||
	    (rc = repo_list_ids(repo, "index/", &c->ix_ids, &c->nix_ids, err)) ||
	    (rc = check_index(repo, &c->ix, err)))
		goto out;
	c->pool = workpool_new(threads, (uint64_t)threads * 4 * CHECK_WINDOW_BYTES, worker_new, worker_free);
	if (!c->pool) {
		rc = strata_err_set(err, -ENOMEM, "cannot start %d worker threads", threads);
		goto out;
	}
	rc = check_keys(c, err);
	if (rc == 0) {
		rc = check_list_packs(repo, on_storage_pack, c, err);
		if (rc == -ENOMEM)
			strata_err_set(err, rc, "out of memory");
	}
	if (rc == 0 && !c->fatal)
		rc = check_indexfiles(c, err);
	if (rc == 0 && !c->fatal)
		rc = check_orphans(c, err);
	if (rc == 0 && !c->fatal && opts->read_data)
		rc = check_data(c, err);
	if (rc == 0 && !c->fatal)
		rc = check_snapshots(c, err);
	if (rc == 0 && !c->fatal)
		rc = check_wal(c, err);
	if (rc == 0 && c->fatal) {
		rc = c->fatal;
		if (err)
			*err = c->ferr;
	}
	if (rc)
		goto out;
	if (r->nchunks)
		qsort(r->chunks, r->nchunks, sizeof *r->chunks, cmp_chunk);
	if (r->npacks_read)
		qsort(r->packs_read, r->npacks_read, sizeof *r->packs_read, cmp_id);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->duration_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	*out_report = r;
	r = NULL;
out:
	workpool_free(c->pool);
	for (size_t i = 0; i < c->npacks; i++)
		free(c->packs[i].ix_entries);
	free(c->packs);
	check_idmap_free(&c->pack_of);
	check_idmap_free(&c->dmg);
	check_idmap_free(&c->orphan);
	check_idmap_free(&c->trees);
	free(c->snap_ids);
	free(c->ix_ids);
	pthread_mutex_destroy(&c->mu);
	free(c);
	check_report_free(r);
	return rc;
}
