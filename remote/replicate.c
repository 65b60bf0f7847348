/* replicate.c — copy a repository to another backend, see replicate.h. */
#include "remote/replicate.h"
#include "remote/replicate_internal.h"
#include "remote/backend_internal.h"
#include "remote/objsize.h"

#include <errno.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_THREADS 6
#define DEFAULT_PASSES  3
#define ID_HEX_LEN      64
#define ID_LEN          32

/* One object name with its size, from a listing. */
typedef struct Obj {
	char *name;
	uint64_t size;
} Obj;

typedef struct ObjList {
	Obj *v;
	size_t n, cap;
} ObjList;

typedef struct Run {
	Backend *src, *dst;
	const ReplicateOptions *opts;
	ReplicateResult *res;
	pthread_mutex_t mu;
	/* the phase being copied, shared by the workers under mu */
	const ObjList *todo;
	size_t next;
	int fatal;
	RemoteErr ferr;
	int vanished;              /* in this pass */
	RemoteErr damaged_err;     /* the first damaged object, for the message */
	ReplicateProgress prog;
	struct timespec last_report;
	int sha256;                /* names are SHA-256 (format 2), else BLAKE2b-256 */
} Run;

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_rc;   /* written once under sodium_once */

static void sodium_start(void)
{
	sodium_rc = sodium_init() < 0 ? -ENOMEM : 0;
}

static void objlist_free(ObjList *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int collect(const char *name, uint64_t size, void *ctx)
{
	ObjList *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		Obj *q = realloc(l->v, cap * sizeof *q);
		if (!q)
			return -ENOMEM;
		l->v = q;
		l->cap = cap;
	}
	l->v[l->n].name = strdup(name);
	if (!l->v[l->n].name)
		return -ENOMEM;
	l->v[l->n++].size = size;
	return 0;
}

static int cmp_obj(const void *a, const void *b)
{
	return strcmp(((const Obj *)a)->name, ((const Obj *)b)->name);
}

/* list prefix of be into *out, sorted by name. */
static int list_sorted(Backend *be, const char *prefix, ObjList *out, RemoteErr *err)
{
	int rc = backend_list(be, prefix, collect, out, err);

	if (rc == -ENOMEM)
		return backend_err_set(err, -ENOMEM, "%s: out of memory listing %s", be->location, prefix);
	if (rc)
		return rc;
	if (out->n)
		qsort(out->v, out->n, sizeof *out->v, cmp_obj);
	return 0;
}

static const Obj *find(const ObjList *l, const char *name)
{
	Obj key = { (char *)(uintptr_t)name, 0 };

	if (l->n == 0)
		return NULL;
	return bsearch(&key, l->v, l->n, sizeof *l->v, cmp_obj);
}

/* The hex ID a name must hash to, or NULL for objects checked byte for
 * byte (config, wal/...): the last component when it is 64 hex digits. */
static const char *name_id(const char *name)
{
	const char *base = strrchr(name, '/');

	if (!base || strncmp(name, "wal/", 4) == 0)
		return NULL;
	base++;
	if (strlen(base) != ID_HEX_LEN || strspn(base, "0123456789abcdef") != ID_HEX_LEN)
		return NULL;
	return base;
}

/* The largest object of name's kind (remote/objsize.h): what a read of it
 * may cost. A WAL descriptor's bound depends on the repository's chunker,
 * which replication does not know: the loosest one. */
static size_t max_bytes_of(const char *name)
{
	static const struct { const char *prefix; size_t max; } kinds[] = {
		{ "keys/", OBJSIZE_KEY_MAX },
		{ "snapshots/", OBJSIZE_SNAPSHOT_MAX },
		{ "index/", OBJSIZE_INDEX_MAX },
		{ "locks/", OBJSIZE_LOCK_MAX },
		{ "prune/", OBJSIZE_PLAN_MAX },
		{ "verified/", OBJSIZE_VERIFIED_MAX },
		{ "wal/", OBJSIZE_WAL_DESC_MAX(OBJSIZE_CHUNK_MIN_LEAST) },
	};

	if (strcmp(name, "config") == 0)
		return OBJSIZE_CONFIG_MAX;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strncmp(name, kinds[i].prefix, strlen(kinds[i].prefix)) == 0)
			return kinds[i].max;
	return OBJSIZE_PACK_MAX;
}

/* 1 when buf hashes to hex, 0 when not, -ENOMEM when OpenSSL could not
 * allocate. */
static int hash_matches(const Run *r, const uint8_t *buf, size_t len, const char *hex)
{
	uint8_t h[ID_LEN];
	char got[ID_HEX_LEN + 1];
	unsigned int n = 0;

	if (!r->sha256)
		crypto_generichash(h, sizeof h, buf, len, NULL, 0);
	else if (EVP_Digest(buf, len, h, &n, EVP_sha256(), NULL) != 1 || n != sizeof h)
		return -ENOMEM;
	sodium_bin2hex(got, sizeof got, h, sizeof h);
	return strcmp(got, hex) == 0;
}

static const char *hash_label(const Run *r)
{
	return r->sha256 ? "SHA-256" : "BLAKE2b-256";
}

/* Check name in the target without reading it back (a read of a GLACIER
 * or DEEP_ARCHIVE object fails with InvalidObjectState, and one of
 * STANDARD_IA or GLACIER_IR costs a retrieval fee): the store's size and,
 * where it keeps one, the SHA-256 it verified when the upload arrived
 * (backend_head: an S3 HEAD with x-amz-checksum-mode) must be those of
 * the bytes written. A store without buckets (a local directory, where
 * reading costs nothing) keeps no checksum: the file is read back and
 * hashed. */
static int verify(Run *r, const char *name, const uint8_t *want, size_t want_len, RemoteErr *err)
{
	uint8_t want_sum[ID_LEN];
	BackendObjInfo info;
	BackendWhere where;
	unsigned int n = 0;
	int rc;

	rc = backend_head(r->dst, name, &info, err);
	if (rc)
		return rc;
	if (!info.has_sha256 && backend_where(r->dst, &where) == -ENOTSUP) {
		uint8_t *buf = NULL;
		size_t len = 0;

		rc = backend_get(r->dst, name, SIZE_MAX, &buf, &len, err);
		if (rc)
			return rc;
		info.size = len;
		rc = EVP_Digest(buf, len, info.sha256, &n, EVP_sha256(), NULL) == 1 && n == sizeof info.sha256;
		free(buf);
		if (!rc)
			return backend_err_set(err, -ENOMEM, "%s: cannot hash: out of memory", name);
		info.has_sha256 = 1;
	}
	if (info.size != want_len)
		return backend_err_set(err, -EIO, "%s: %s: checked after upload, the store holds %llu bytes, not "
		                       "the %zu written", r->dst->location, name, (unsigned long long)info.size, want_len);
	if (info.has_sha256) {
		if (EVP_Digest(want, want_len, want_sum, &n, EVP_sha256(), NULL) != 1 || n != sizeof want_sum)
			return backend_err_set(err, -ENOMEM, "%s: cannot hash: out of memory", name);
		if (memcmp(info.sha256, want_sum, sizeof want_sum) != 0)
			return backend_err_set(err, -EIO, "%s: %s: checked after upload, the store's SHA-256 of it "
			                       "differs from that of the bytes written", r->dst->location, name);
	}
	pthread_mutex_lock(&r->mu);
	if (info.has_sha256)
		r->res->objects_sum_checked++;
	else
		r->res->objects_size_checked++;
	pthread_mutex_unlock(&r->mu);
	return 0;
}

/* copy_one — src -> dst for one object, checked on both sides. A vanished
 * or damaged source object is counted, not fatal. */
static int copy_one(Run *r, const Obj *o, RemoteErr *err)
{
	const char *id = name_id(o->name);
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	rc = backend_get(r->src, o->name, max_bytes_of(o->name), &buf, &len, err);
	if (rc == -EFBIG) {
		/* Larger than its kind allows: not written by strata, like
		 * a damaged object counted and never copied. */
		pthread_mutex_lock(&r->mu);
		if (r->res->objects_damaged++ == 0)
			backend_err_set(&r->damaged_err, -EBADMSG, "%s (not copied)", err->msg);
		pthread_mutex_unlock(&r->mu);
		return 0;
	}
	if (rc == -ENOENT) {
		pthread_mutex_lock(&r->mu);
		r->res->objects_vanished++;
		r->vanished = 1;
		pthread_mutex_unlock(&r->mu);
		return 0;
	}
	if (rc)
		return rc;
	rc = id ? hash_matches(r, buf, len, id) : 1;
	if (rc < 0) {
		free(buf);
		return backend_err_set(err, rc, "%s: cannot hash: out of memory", o->name);
	}
	if (!rc) {
		pthread_mutex_lock(&r->mu);
		if (r->res->objects_damaged++ == 0)
			backend_err_set(&r->damaged_err, -EBADMSG, "%s: %s: its %s does not match its name",
			                r->src->location, o->name, hash_label(r));
		pthread_mutex_unlock(&r->mu);
		free(buf);
		return 0;
	}
	rc = backend_put(r->dst, o->name, buf, len, err);
	if (rc == 0)
		rc = verify(r, o->name, buf, len, err);
	if (rc == -EIO && strstr(err->msg, "checked after upload")) {
		/* Once more: a store may have kept a torn write we never saw. */
		rc = backend_put(r->dst, o->name, buf, len, err);
		if (rc == 0)
			rc = verify(r, o->name, buf, len, err);
	}
	free(buf);
	if (rc == 0) {
		pthread_mutex_lock(&r->mu);
		r->res->objects_copied++;
		r->res->bytes_copied += len;
		r->prog.objects_done++;
		r->prog.bytes_done += len;
		pthread_mutex_unlock(&r->mu);
	}
	return rc;
}

static void *worker(void *arg)
{
	Run *r = arg;
	RemoteErr err;

	for (;;) {
		const Obj *o;
		int rc;

		pthread_mutex_lock(&r->mu);
		if (r->fatal || r->next >= r->todo->n) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		o = &r->todo->v[r->next++];
		pthread_mutex_unlock(&r->mu);
		memset(&err, 0, sizeof err);
		rc = copy_one(r, o, &err);
		if (rc) {
			pthread_mutex_lock(&r->mu);
			if (!r->fatal) {
				r->fatal = rc;
				r->ferr = err;
			}
			pthread_mutex_unlock(&r->mu);
			break;
		}
	}
	return NULL;
}

static void report(Run *r, int force)
{
	struct timespec now;
	ReplicateProgress p;

	if (!r->opts->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force && (now.tv_sec - r->last_report.tv_sec) * 1000000000LL +
	              (now.tv_nsec - r->last_report.tv_nsec) < 250000000LL)
		return;
	r->last_report = now;
	pthread_mutex_lock(&r->mu);
	p = r->prog;
	pthread_mutex_unlock(&r->mu);
	r->opts->progress(&p, r->opts->progress_ctx);
}

/* copy_missing — copy the objects of src (a sorted listing) that dst
 * lacks or holds at another size, with the run's worker threads. */
static int copy_missing(Run *r, const char *phase, const ObjList *src, const ObjList *dst, RemoteErr *err)
{
	ObjList todo = {0};
	pthread_t *th = NULL;
	int nth = r->opts->threads > 0 ? r->opts->threads : DEFAULT_THREADS, started = 0, rc = 0;

	for (size_t i = 0; i < src->n; i++) {
		const Obj *d = find(dst, src->v[i].name);
		r->res->objects_source++;
		if (d && d->size == src->v[i].size) {
			r->res->objects_present++;
			continue;
		}
		if (!d && r->opts->skip && r->opts->skip(src->v[i].name, r->opts->hook_ctx)) {
			r->res->objects_skipped++;
			r->res->bytes_skipped += src->v[i].size;
			continue;
		}
		if (todo.n == todo.cap) {
			size_t cap = todo.cap ? 2 * todo.cap : 256;
			Obj *q = realloc(todo.v, cap * sizeof *q);
			if (!q) {
				rc = backend_err_set(err, -ENOMEM, "out of memory");
				goto out;
			}
			todo.v = q;
			todo.cap = cap;
		}
		todo.v[todo.n++] = src->v[i];    /* borrowed names */
	}
	r->prog.phase = phase;
	r->prog.objects_todo = todo.n;
	r->prog.objects_done = 0;
	if (r->opts->dry_run) {
		r->res->objects_copied += todo.n;
		for (size_t i = 0; i < todo.n; i++)
			r->res->bytes_copied += todo.v[i].size;
		goto out;
	}
	if (todo.n == 0)
		goto out;
	if ((size_t)nth > todo.n)
		nth = (int)todo.n;
	th = calloc((size_t)nth, sizeof *th);
	if (!th) {
		rc = backend_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	r->todo = &todo;
	r->next = 0;
	for (started = 0; started < nth; started++)
		if (pthread_create(&th[started], NULL, worker, r) != 0)
			break;
	if (started == 0) {
		rc = backend_err_set(err, -EAGAIN, "cannot start a replication thread");
		goto out;
	}
	for (;;) {
		struct timespec ts = { 0, 100000000L };
		int done;

		pthread_mutex_lock(&r->mu);
		done = r->fatal || r->next >= todo.n;
		pthread_mutex_unlock(&r->mu);
		if (done)
			break;
		report(r, 0);
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (r->fatal) {
		rc = r->fatal;
		*err = r->ferr;
	}
out:
	report(r, 1);
	r->todo = NULL;
	free(th);
	free(todo.v);
	return rc;
}

/* The config: the target must hold none or the same bytes; sets the
 * name hash from the source's. */
static int check_config(Run *r, int *out_present, RemoteErr *err)
{
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int rc;

	rc = backend_get(r->src, "config", OBJSIZE_CONFIG_MAX, &a, &alen, err);
	if (rc == -ENOENT)
		return backend_err_set(err, -ENOENT, "%s: no repository there (no config)", r->src->location);
	if (rc)
		return rc;
	/* The name hash, from the caller who knows the format. */
	rc = r->opts->naming(r->src->location, a, alen, &r->sha256, err);
	if (rc) {
		free(a);
		return rc;
	}
	rc = backend_get(r->dst, "config", OBJSIZE_CONFIG_MAX, &b, &blen, err);
	if (rc == -ENOENT) {
		*out_present = 0;
		rc = 0;
	} else if (rc == 0) {
		*out_present = 1;
		if (alen != blen || memcmp(a, b, alen) != 0)
			rc = backend_err_set(err, -EEXIST, "%s holds another repository (its config differs from "
			                     "that of %s); replicate to an empty location", r->dst->location,
			                     r->src->location);
	}
	free(a);
	free(b);
	return rc;
}

/* One pass over every kind, in write order. */
static int run_pass(Run *r, RemoteErr *err)
{
	static const char *const pack_dirs[] = { "data/", "tree/", "wal/" };
	ObjList s_snap = {0}, s_index = {0}, s_keys = {0}, s_verified = {0}, src = {0}, dst = {0}, cfg = {0};
	int rc, present = 0;

	r->vanished = 0;
	/* Restore-test records, then snapshots, then index files, are listed
	 * before the packs: what a listed object needs was written before it,
	 * so it is listed too unless deleted in between, which shows as a
	 * vanished object. */
	if ((rc = list_sorted(r->src, "verified/", &s_verified, err)) ||
	    (rc = list_sorted(r->src, "snapshots/", &s_snap, err)) ||
	    (rc = list_sorted(r->src, "index/", &s_index, err)) ||
	    (rc = list_sorted(r->src, "keys/", &s_keys, err)))
		goto out;
	/* The config is compared (and its version read) before the keys are
	 * copied, and copied after them. */
	if ((rc = check_config(r, &present, err)))
		goto out;
	if ((rc = list_sorted(r->dst, "keys/", &dst, err)) ||
	    (rc = copy_missing(r, "keys", &s_keys, &dst, err)))
		goto out;
	objlist_free(&dst);
	if (present) {
		r->res->objects_source++;
		r->res->objects_present++;
	} else if (collect("config", 0, &cfg) != 0) {
		rc = backend_err_set(err, -ENOMEM, "out of memory");
		goto out;
	} else if ((rc = copy_missing(r, "config", &cfg, &dst, err))) {
		goto out;
	}
	for (size_t i = 0; i < sizeof pack_dirs / sizeof pack_dirs[0]; i++) {
		if ((rc = list_sorted(r->src, pack_dirs[i], &src, err)) ||
		    (rc = list_sorted(r->dst, pack_dirs[i], &dst, err)) ||
		    (rc = copy_missing(r, i < 2 ? "packs" : "wal", &src, &dst, err)))
			goto out;
		objlist_free(&src);
		objlist_free(&dst);
	}
	if ((rc = list_sorted(r->dst, "index/", &dst, err)) ||
	    (rc = copy_missing(r, "index", &s_index, &dst, err)))
		goto out;
	objlist_free(&dst);
	if (r->vanished)
		goto out;      /* the source changed: no snapshot of this pass */
	if (r->opts->before_snapshots && !r->opts->dry_run &&
	    (rc = r->opts->before_snapshots(r->opts->hook_ctx, err)))
		goto out;
	if ((rc = list_sorted(r->dst, "snapshots/", &dst, err)) ||
	    (rc = copy_missing(r, "snapshots", &s_snap, &dst, err)))
		goto out;
	objlist_free(&dst);
	/* Records name their snapshot: after it, as the source wrote them. */
	if ((rc = list_sorted(r->dst, "verified/", &dst, err)) ||
	    (rc = copy_missing(r, "verified", &s_verified, &dst, err)))
		goto out;
out:
	objlist_free(&s_verified);
	objlist_free(&s_snap);
	objlist_free(&s_index);
	objlist_free(&s_keys);
	objlist_free(&src);
	objlist_free(&dst);
	objlist_free(&cfg);
	return rc;
}

int replicate_run(Backend *src, Backend *dst, const ReplicateOptions *opts,
                  ReplicateResult *out, RemoteErr *err)
{
	ReplicateResult res;
	Run r;
	int passes = opts->max_passes > 0 ? opts->max_passes : DEFAULT_PASSES, rc = 0;

	memset(&res, 0, sizeof res);
	memset(&r, 0, sizeof r);
	pthread_once(&sodium_once, sodium_start);
	if (sodium_rc < 0) {
		rc = backend_err_set(err, sodium_rc, "cannot initialise libsodium");
		goto out;
	}
	r.src = src;
	r.dst = dst;
	r.opts = opts;
	r.res = &res;
	pthread_mutex_init(&r.mu, NULL);
	for (;;) {
		/* Copies add up over passes; the rest describes the last. */
		res.passes++;
		res.objects_source = res.objects_present = 0;
		res.objects_vanished = res.objects_damaged = 0;
		res.objects_skipped = res.bytes_skipped = 0;
		rc = run_pass(&r, err);
		if (rc || !r.vanished)
			break;
		if ((int)res.passes >= passes) {
			rc = backend_err_set(err, -EAGAIN, "%s: objects kept disappearing during %u passes (is a prune "
			                     "running?); the target is valid but lacks the newest snapshots: run again",
			                     src->location, res.passes);
			break;
		}
	}
	if (rc == 0 && res.objects_damaged) {
		rc = -EBADMSG;
		backend_err_set(err, rc, "%llu objects of the source fail their hash and were not copied "
		                "(first: %s); run `strata check` on the source",
		                (unsigned long long)res.objects_damaged, r.damaged_err.msg);
	}
	/* Only after a complete copy: the target then holds every snapshot
	 * of the source, and whatever it deletes the source no longer has. */
	if (rc == 0 && opts->mirror.on)
		rc = replicate_mirror_pass(src, dst, opts, &res.mirror, err);
	pthread_mutex_destroy(&r.mu);
out:
	if (out)
		*out = res;
	return rc;
}
