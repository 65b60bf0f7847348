/* repair.c — see repair.h. FORMAT.md "Index file", "Write ordering".
 *
 * repair_index, in order (nothing is deleted before what replaces it is
 * durable; a crash anywhere leaves old and new index files side by side,
 * which every reader already tolerates: the first location of a chunk
 * wins, and all of them are valid):
 *   1. with read_data, a check --read-data names the packs holding damaged
 *      blobs, or whose bytes do not hash to their name;
 *   2. every pack's trailer is read by the worker pool; usable packs enter
 *      the (cleared) local index and new index files, REPAIR_INDEX_PACKS
 *      packs per file;
 *   3. packs with a damaged trailer get their entries from the old index
 *      files, when one still lists them;
 *   4. packs to salvage: each blob not already indexed elsewhere is read,
 *      opened (authenticated, re-hashed) and stored again through a
 *      BlobWriter, which writes its own index file;
 *   5. old index files are deleted, then the salvaged and unusable packs.
 */
#include "store/repair/repair.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/blob.h"
#include "store/check/check.h"
#include "store/check/check_idmap.h"
#include "store/codec.h"
#include "store/frame.h"
#include "store/index.h"
#include "store/indexfile.h"
#include "store/pack.h"
#include "store/pack_read.h"
#include "store/repo_internal.h"
#include "store/snapshot.h"
#include "store/tree.h"
#include "store/sys/workpool.h"

#define REPAIR_INDEX_PACKS 256       /* packs per new index file: ~6 MB of entries at 16 MiB packs */
#define REPAIR_MAX_LOST    (1u << 20) /* lost chunk IDs listed in the result */
#define REPAIR_MAX_DAMAGE  1000      /* damaged paths listed per snapshot */
#define REPAIR_MAX_DEPTH   1024

enum { RP_PENDING = 0, RP_KEEP, RP_SALVAGE, RP_BAD };

static int damage_code(int rc)
{
	return rc == STRATA_EAUTH || rc == STRATA_EFORMAT || rc == STRATA_EVERSION ||
	       rc == STRATA_EDAMAGED || rc == STRATA_ENOTFOUND || rc == -ERANGE;
}

typedef struct RPack {
	uint8_t  id[STRATA_ID_LEN];
	uint8_t  kind;
	int      state;
	uint64_t size;
	PackEntry *ix_entries;     /* RP_BAD: an old index file's entries */
	size_t   ix_n;
	char     reason[256];
} RPack;

typedef struct RCtx {
	Repo *repo;
	Index *ix;
	const RepairIndexOptions *o;
	RepairIndexResult *res;
	WorkPool *pool;
	pthread_mutex_t mu;        /* guards what workers share below */
	int fatal;
	StrataErr ferr;
	RPack *packs;
	size_t npacks, cap;
	CheckIdMap pack_of;        /* pack ID → index in packs */
	CheckIdMap salvage;        /* packs read-data found damage in */
	CheckIdMap written;        /* index files this repair wrote */
	IndexFilePack *batch;      /* usable packs not yet in a written file */
	size_t nbatch;
	RepairProgress prog;
} RCtx;

static void rset_fatal(RCtx *c, int rc, const StrataErr *e)
{
	pthread_mutex_lock(&c->mu);
	if (!c->fatal) {
		c->fatal = rc;
		if (e && e->msg[0])
			c->ferr = *e;
		else
			strata_err_set(&c->ferr, rc, "repair: %s", strata_strerror(rc));
	}
	pthread_mutex_unlock(&c->mu);
}

static int rfatal(RCtx *c)
{
	int f;

	pthread_mutex_lock(&c->mu);
	f = c->fatal;
	pthread_mutex_unlock(&c->mu);
	return f;
}

static void rphase(RCtx *c, const char *name, uint64_t total)
{
	c->prog.phase = name;
	c->prog.done = 0;
	c->prog.total = total;
	if (c->o->progress)
		c->o->progress(&c->prog, c->o->progress_ctx);
}

/* Caller holds c->mu (or no worker runs). */
static void rstep_locked(RCtx *c)
{
	c->prog.done++;
	if (c->o->progress)
		c->o->progress(&c->prog, c->o->progress_ctx);
}

static void batch_free(IndexFilePack *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(b[i].entries);
	free(b);
}

/* Write one new index file for packs (then owned and freed here). */
static int flush_batch(RCtx *c, IndexFilePack *packs, size_t n, StrataErr *err)
{
	uint8_t (*ids)[STRATA_ID_LEN] = NULL, file[STRATA_ID_LEN];
	int rc = 0;

	if (n == 0 || c->o->dry_run)
		goto out;
	if (!(ids = malloc(n * sizeof *ids))) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		memcpy(ids[i], packs[i].id, STRATA_ID_LEN);
	if ((rc = indexfile_write(c->repo, packs, n, file, err)) ||
	    (rc = index_note_indexfile(c->ix, file, (const uint8_t (*)[STRATA_ID_LEN])ids, n, err)))
		goto out;
	pthread_mutex_lock(&c->mu);
	if (check_idmap_put(&c->written, file, 1) != 0)
		rc = strata_err_set(err, -ENOMEM, "out of memory");
	pthread_mutex_unlock(&c->mu);
out:
	free(ids);
	batch_free(packs, n);
	return rc;
}

static int on_pack(const uint8_t id[STRATA_ID_LEN], uint8_t kind, uint64_t size, void *ctx)
{
	RCtx *c = ctx;
	RPack *p;

	if (check_idmap_get(&c->pack_of, id, NULL))
		return 0;
	if (c->npacks == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 256;
		void *q = realloc(c->packs, cap * sizeof *c->packs);
		if (!q)
			return -ENOMEM;
		c->packs = q;
		c->cap = cap;
	}
	if (check_idmap_put(&c->pack_of, id, c->npacks) != 0)
		return -ENOMEM;
	p = &c->packs[c->npacks++];
	memset(p, 0, sizeof *p);
	memcpy(p->id, id, STRATA_ID_LEN);
	p->kind = kind;
	p->size = size;
	return 0;
}

typedef struct RJob {
	RCtx *c;
	size_t pack;
} RJob;

static void trailer_job(void *arg, void *state)
{
	RJob *j = arg;
	RCtx *c = j->c;
	RPack *p = &c->packs[j->pack];      /* the array no longer moves */
	IndexFilePack *flush = NULL;
	PackEntry *e = NULL;
	size_t n = 0, nflush = 0;
	uint64_t size = 0;
	StrataErr terr = {0};
	int rc, salvage;

	(void)state;
	if (rfatal(c))
		goto out;
	rc = pack_read_trailer(c->repo, p->kind, p->id, &e, &n, &size, &terr);
	if (rc && !damage_code(rc) && rc != -ENOENT) {
		rset_fatal(c, rc, &terr);
		goto out;
	}
	pthread_mutex_lock(&c->mu);
	salvage = check_idmap_get(&c->salvage, p->id, NULL);
	pthread_mutex_unlock(&c->mu);
	if (rc) {
		pthread_mutex_lock(&c->mu);
		p->state = RP_BAD;
		snprintf(p->reason, sizeof p->reason, "%s", terr.msg);
		rstep_locked(c);
		pthread_mutex_unlock(&c->mu);
		goto out;
	}
	if (salvage) {
		pthread_mutex_lock(&c->mu);
		p->state = RP_SALVAGE;
		snprintf(p->reason, sizeof p->reason, "holds damaged chunks (found by reading its data)");
		rstep_locked(c);
		pthread_mutex_unlock(&c->mu);
		goto out;
	}
	if (!c->o->dry_run && (rc = index_add_pack(c->ix, p->id, p->kind, p->size, e, n, 0, &terr)) != 0) {
		rset_fatal(c, rc, &terr);
		goto out;
	}
	pthread_mutex_lock(&c->mu);
	p->state = RP_KEEP;
	c->res->packs_kept++;
	for (size_t i = 0; i < n; i++)
		c->res->chunks_indexed += e[i].type != FORMAT_BLOB_FRAME;   /* a frame is no chunk (FORMAT.md 9a) */
	if (c->nbatch % REPAIR_INDEX_PACKS == 0) {
		void *q = realloc(c->batch, (c->nbatch + REPAIR_INDEX_PACKS) * sizeof *c->batch);
		if (!q) {
			pthread_mutex_unlock(&c->mu);
			rset_fatal(c, -ENOMEM, NULL);
			goto out;
		}
		c->batch = q;
	}
	memcpy(c->batch[c->nbatch].id, p->id, STRATA_ID_LEN);
	c->batch[c->nbatch].kind = p->kind;
	c->batch[c->nbatch].size = p->size;
	c->batch[c->nbatch].entries = e;
	c->batch[c->nbatch].n = n;
	c->nbatch++;
	e = NULL;
	if (c->nbatch == REPAIR_INDEX_PACKS) {
		flush = c->batch;
		nflush = c->nbatch;
		c->batch = NULL;
		c->nbatch = 0;
	}
	rstep_locked(c);
	pthread_mutex_unlock(&c->mu);
	if (flush && (rc = flush_batch(c, flush, nflush, &terr)) != 0)
		rset_fatal(c, rc, &terr);
out:
	free(e);
	free(j);
}

/* Step 1: with read_data, which packs hold damage. */
static int find_damaged(RCtx *c, StrataErr *err)
{
	CheckOptions co;
	CheckReport *r = NULL;
	int rc;

	memset(&co, 0, sizeof co);
	co.read_data = 1;
	co.pack_hash = 1;      /* a misnamed pack is salvaged too */
	co.threads = c->o->threads;
	if ((rc = check_run(c->repo, &co, &r, err)))
		return rc;
	for (size_t i = 0; i < r->nchunks && rc == 0; i++) {
		const CheckChunk *k = &r->chunks[i];
		if (k->has_location && (k->reason == CHECK_C_AUTH || k->reason == CHECK_C_FORMAT ||
		                        k->reason == CHECK_C_HASH))
			rc = check_idmap_put(&c->salvage, k->pack, 1);
	}
	for (size_t i = 0; i < r->nproblems && rc == 0; i++)
		if (r->problems[i].kind == CHECK_P_PACK_HASH)
			rc = check_idmap_put(&c->salvage, r->problems[i].object, 1);
	check_report_free(r);
	return rc ? strata_err_set(err, -ENOMEM, "out of memory") : 0;
}

static int note_lost(RepairIndexResult *res, const uint8_t id[STRATA_ID_LEN])
{
	res->chunks_lost++;
	if (res->nlost >= REPAIR_MAX_LOST)
		return 0;
	if (res->nlost % 256 == 0) {
		void *q = realloc(res->lost, (res->nlost + 256) * sizeof *res->lost);
		if (!q)
			return -ENOMEM;
		res->lost = q;
	}
	memcpy(res->lost[res->nlost++], id, STRATA_ID_LEN);
	return 0;
}

/* Step 3: entries for packs whose trailer is damaged, from old index files. */
static int entries_from_old(RCtx *c, uint8_t (*old)[STRATA_ID_LEN], size_t nold, StrataErr *err)
{
	CheckIdMap gone = {0};         /* missing packs already counted */
	int rc = 0;

	for (size_t i = 0; i < nold && rc == 0; i++) {
		IndexFilePack *packs = NULL;
		StrataErr ferr = {0};
		size_t n = 0;
		rc = indexfile_read(c->repo, old[i], &packs, &n, &ferr);
		if (rc && damage_code(rc)) {
			rc = 0;
			continue;
		}
		if (rc) {
			if (err)
				*err = ferr;
			break;
		}
		for (size_t k = 0; k < n; k++) {
			uint64_t v;
			if (!check_idmap_get(&c->pack_of, packs[k].id, &v)) {
				/* Listed, but not in storage: its chunks are gone,
				 * unless a kept pack holds a copy. */
				if (check_idmap_get(&gone, packs[k].id, NULL))
					continue;
				if (check_idmap_put(&gone, packs[k].id, 1) != 0)
					rc = strata_err_set(err, -ENOMEM, "out of memory");
				for (size_t e = 0; e < packs[k].n && rc == 0; e++) {
					uint8_t t = packs[k].entries[e].type;
					if (t == FORMAT_BLOB_FRAME)
						continue;   /* no chunk of its own: its members are (FORMAT.md 9a) */
					if (!c->o->dry_run && index_lookup(c->ix, t == FORMAT_BLOB_MEMBER ? BLOB_DATA : t,
					                                   packs[k].entries[e].id, NULL) == 0)
						continue;
					if (note_lost(c->res, packs[k].entries[e].id) != 0)
						rc = strata_err_set(err, -ENOMEM, "out of memory");
				}
				continue;
			}
			RPack *p = &c->packs[v];
			if (p->state == RP_BAD && !p->ix_entries && packs[k].kind == p->kind) {
				p->ix_entries = packs[k].entries;
				p->ix_n = packs[k].n;
				packs[k].entries = NULL;
			}
		}
		indexfile_packs_free(packs, n);
	}
	check_idmap_free(&gone);
	return rc;
}


/* Step 4: store the healthy blobs of pack p again. */
static int salvage_pack(RCtx *c, BlobWriter *bw, CodecCtx *codec, RPack *p, RepairPack *out, StrataErr *err)
{
	PackEntry *e = NULL;
	size_t n = 0;
	uint64_t size = 0;
	uint8_t *blob = NULL, *plain = NULL;
	StrataErr terr = {0}, rerr = {0};
	int rc = 0;

	if (p->state == RP_SALVAGE) {
		rc = pack_read_trailer(c->repo, p->kind, p->id, &e, &n, &size, &terr);
		if (rc) {
			if (err)
				*err = terr;
			return rc;
		}
	} else {
		e = p->ix_entries;
		n = p->ix_n;
		p->ix_entries = NULL;
	}
	const PackEntry *frame = NULL;
	for (size_t i = 0; i < n; i++) {
		/* A frame's member (FORMAT.md 9a) is the data blob it stands for,
		 * read from its frame (the nearest frame entry before it) and
		 * stored again as a single blob. */
		int member = e[i].type == FORMAT_BLOB_MEMBER;
		uint8_t type = member ? BLOB_DATA : e[i].type;
		const PackEntry *at = member ? frame : &e[i];
		if (e[i].type == FORMAT_BLOB_FRAME) {
			frame = &e[i];
			continue;
		}
		uint64_t end = at ? (uint64_t)at->offset + at->length : UINT64_MAX;
		if (!c->o->dry_run && index_lookup(c->ix, type, e[i].id, NULL) == 0) {
			out->chunks_kept++;       /* a healthy copy is already indexed */
			continue;
		}
		rc = -1;
		if (end <= p->size && e[i].raw_len <= (1u << 30) && at->raw_len <= (1u << 30)) {
			uint8_t *b1 = realloc(blob, at->length ? at->length : 1);
			uint8_t *b2 = b1 ? realloc(plain, e[i].raw_len ? e[i].raw_len : 1) : NULL;
			if (b1)
				blob = b1;
			if (!b1 || !b2) {
				rc = strata_err_set(err, -ENOMEM, "out of memory");
				goto out;
			}
			plain = b2;
			/* A pack missing or cut short loses the chunk; an I/O
			 * failure stops the repair. */
			rc = pack_read_range(c->repo, p->kind, p->id, at->offset, at->length, blob, &rerr);
			if (rc && pack_read_damage(rc) == PACK_READ_FAILED) {
				strata_err_set(err, rc, "%s", rerr.msg);
				goto out;
			}
			if (rc == 0 && member)
				rc = frame_open_member(codec, c->repo->keys, blob, at->length, at->raw_len, e[i].id,
				                       e[i].offset, e[i].raw_len, 1, plain);
			else if (rc == 0)
				rc = pack_read_open(codec, c->repo, e[i].type, e[i].id, blob, e[i].length, plain,
				                    e[i].raw_len, 1);
			if (rc == -ENOMEM) {
				strata_err_set(err, rc, "out of memory");
				goto out;
			}
		}
		if (rc) {
			out->chunks_lost++;
			if (note_lost(c->res, e[i].id) != 0) {
				rc = strata_err_set(err, -ENOMEM, "out of memory");
				goto out;
			}
			continue;
		}
		if (!c->o->dry_run &&
		    (rc = blobwriter_put(bw, codec, type, e[i].id, plain, e[i].raw_len, NULL, err)) != 0)
			goto out;
		out->chunks_kept++;
	}
	rc = 0;
out:
	free(e);
	free(blob);
	free(plain);
	return rc;
}

static int delete_name(Repo *repo, const char *name, StrataErr *err)
{
	RemoteErr rerr = {{0}};
	int rc = backend_delete(repo->be, name, &rerr);

	if (rc && rc != -ENOENT)
		return repo_remote_err(err, rc, &rerr);
	return 0;
}

static int add_changed(RepairIndexResult *res, const RPack *p, RepairPackAction action, RepairPack **out)
{
	void *q = realloc(res->changed, (res->nchanged + 1) * sizeof *res->changed);

	if (!q)
		return -ENOMEM;
	res->changed = q;
	*out = &res->changed[res->nchanged++];
	memset(*out, 0, sizeof **out);
	memcpy((*out)->id, p->id, STRATA_ID_LEN);
	(*out)->action = action;
	snprintf((*out)->reason, sizeof (*out)->reason, "%s", p->reason);
	return 0;
}

void repair_index_result_free(RepairIndexResult *r)
{
	if (!r)
		return;
	free(r->changed);
	free(r->lost);
	memset(r, 0, sizeof *r);
}

int repair_index(Repo *repo, const RepairIndexOptions *opts, RepairIndexResult *out, StrataErr *err)
{
	uint8_t (*old)[STRATA_ID_LEN] = NULL, (*now)[STRATA_ID_LEN] = NULL;
	size_t nold = 0, nnow = 0;
	int threads = opts->threads > 0 ? opts->threads : workpool_default_threads();
	BlobWriter *bw = NULL;
	CodecCtx *codec = NULL;
	RCtx c;
	int rc;

	memset(&c, 0, sizeof c);
	memset(out, 0, sizeof *out);
	pthread_mutex_init(&c.mu, NULL);
	c.repo = repo;
	c.o = opts;
	c.res = out;
	if ((rc = check_index(repo, &c.ix, err)))
		goto out;
	if (opts->read_data && (rc = find_damaged(&c, err)))
		goto out;
	if ((rc = repo_list_ids(repo, "index/", &old, &nold, err)))
		goto out;
	rc = check_list_packs(repo, on_pack, &c, err);
	if (rc == -ENOMEM)
		strata_err_set(err, rc, "out of memory");
	if (rc)
		goto out;
	out->packs = c.npacks;

	/* Step 2. */
	if (!opts->dry_run && (rc = index_clear(c.ix, err)))
		goto out;
	if (!(c.pool = workpool_new(threads, (uint64_t)threads * 4, NULL, NULL))) {
		rc = strata_err_set(err, -ENOMEM, "cannot start %d worker threads", threads);
		goto out;
	}
	rphase(&c, "trailers", c.npacks);
	for (size_t i = 0; i < c.npacks && !rfatal(&c); i++) {
		RJob *j = malloc(sizeof *j);
		if (j) {
			j->c = &c;
			j->pack = i;
		}
		if (!j || workpool_submit(c.pool, trailer_job, j, 1) != 0) {
			free(j);
			rset_fatal(&c, -ENOMEM, NULL);
		}
	}
	workpool_wait(c.pool);
	if (c.fatal) {
		rc = c.fatal;
		if (err)
			*err = c.ferr;
		goto out;
	}
	rc = flush_batch(&c, c.batch, c.nbatch, err);
	c.batch = NULL;
	c.nbatch = 0;
	if (rc)
		goto out;

	/* Steps 3 and 4. */
	if ((rc = entries_from_old(&c, old, nold, err)))
		goto out;
	if (!(codec = codec_ctx_new())) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (!opts->dry_run && (rc = blobwriter_new(repo, 0, &bw, err)))
		goto out;
	rphase(&c, "salvage", 0);
	for (size_t i = 0; i < c.npacks; i++) {
		RPack *p = &c.packs[i];
		RepairPack *rp;
		if (p->state != RP_SALVAGE && p->state != RP_BAD)
			continue;
		if (add_changed(out, p, p->state == RP_BAD && !p->ix_entries ? REPAIR_PACK_DELETED
		                                                           : REPAIR_PACK_SALVAGED, &rp) != 0) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		if (rp->action == REPAIR_PACK_SALVAGED && (rc = salvage_pack(&c, bw, codec, p, rp, err)))
			goto out;
		rstep_locked(&c);
	}
	if (bw && (rc = blobwriter_finish(bw, err)))
		goto out;

	/* Step 5: everything written is durable; now remove what it replaces. */
	if (!opts->dry_run) {
		for (size_t i = 0; i < nold; i++) {
			char name[REPO_NAME_MAX], hex[STRATA_ID_HEX_LEN + 1];
			if (check_idmap_get(&c.written, old[i], NULL))
				continue;
			codec_hex(old[i], STRATA_ID_LEN, hex);
			snprintf(name, sizeof name, "index/%s", hex);
			if ((rc = delete_name(repo, name, err)))
				goto out;
			out->index_files_removed++;
		}
		for (size_t i = 0; i < out->nchanged; i++) {
			char name[REPO_NAME_MAX];
			uint64_t v = 0;
			check_idmap_get(&c.pack_of, out->changed[i].id, &v);
			repo_pack_name(c.packs[v].kind, out->changed[i].id, name);
			if ((rc = delete_name(repo, name, err)))
				goto out;
		}
		if ((rc = repo_list_ids(repo, "index/", &now, &nnow, err)))
			goto out;
		out->index_files_written = nnow;
	}
	rc = 0;
out:
	workpool_free(c.pool);
	blobwriter_free(bw);
	codec_ctx_free(codec);
	batch_free(c.batch, c.nbatch);
	for (size_t i = 0; i < c.npacks; i++)
		free(c.packs[i].ix_entries);
	free(c.packs);
	check_idmap_free(&c.pack_of);
	check_idmap_free(&c.salvage);
	check_idmap_free(&c.written);
	pthread_mutex_destroy(&c.mu);
	free(old);
	free(now);
	if (rc)
		repair_index_result_free(out);
	return rc;
}

/* ---- repair_snapshots ---- */

enum { TREE_CLEAN = 1 };

typedef struct SCtx {
	Repo *repo;
	Index *ix;
	const RepairSnapshotsOptions *o;
	BlobWriter *bw;            /* for the snapshot being repaired */
	CodecCtx *codec;
	CheckIdMap packs;          /* packs in storage → their size */
	CheckIdMap clean;          /* trees with nothing missing below */
	RepairSnap *cur;
	struct Prior {             /* earlier repairs: repaired-from=ID → the copy */
		uint8_t from[STRATA_ID_LEN], id[STRATA_ID_LEN], tree[STRATA_ID_LEN];
	} *prior;
	size_t nprior;
	char path[8192];
} SCtx;

static int on_pack_size(const uint8_t id[STRATA_ID_LEN], uint8_t kind, uint64_t size, void *ctx)
{
	(void)kind;
	return check_idmap_put(ctx, id, size);
}

/* Does the pack the index gives for e exist and hold its bytes, of the
 * raw length wanted (0: any)? */
static int located(SCtx *s, const IndexEntry *e, uint32_t raw_len)
{
	uint64_t size;

	return check_idmap_get(&s->packs, e->pack, &size) && (uint64_t)e->offset + e->length <= size &&
	       (!raw_len || e->raw_len == raw_len);
}

/* The blob (type, id) is not stored, but a blob of another type with the
 * same ID is: a strata before 2026-12-07 knew a blob by its ID alone and
 * kept only one of the two (FORMAT.md "Index file"). Equal IDs mean equal
 * plaintexts (the keyed hash, which blob_read_at recomputes), so the other
 * blob's plaintext sealed as type is exactly the missing blob. It goes
 * through a writer of its own, finished at once, so that it is indexed
 * before a tree that needs it is loaded (collisions are rare: a small pack
 * and index file each). 1 stored (dry run: could be), 0 not possible,
 * < 0 error. */
static int heal(SCtx *s, const uint8_t id[STRATA_ID_LEN], uint8_t type, uint32_t raw_len, StrataErr *err)
{
	StrataErr rerr = {0};
	BlobWriter *bw = NULL;
	uint8_t *plain;
	IndexEntry o;
	int rc;

	if (index_lookup_any(s->ix, id, &o) != 0 || o.type == type || !located(s, &o, raw_len))
		return 0;
	if (!(plain = malloc(o.raw_len ? o.raw_len : 1)))
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = blob_read_at(s->repo, s->codec, id, &o, plain, &rerr);
	if (rc) {
		free(plain);
		if (damage_code(rc))
			return 0;
		if (err)
			*err = rerr;
		return rc;
	}
	if (!s->o->dry_run) {
		rc = blobwriter_new(s->repo, 0, &bw, err);
		if (rc == 0)
			rc = blobwriter_put(bw, s->codec, type, id, plain, o.raw_len, NULL, err);
		if (rc == 0)
			rc = blobwriter_finish(bw, err);
		blobwriter_free(bw);
	}
	free(plain);
	if (rc)
		return rc;
	s->cur->healed++;
	return 1;
}

/* Can the blob be read back, as far as the index and storage tell (its
 * pack exists and holds its bytes)? Damaged bytes need repair_index with
 * read_data first. One stored only under another type is stored under its
 * own (heal). 1 yes, 0 no, < 0 error. */
static int usable(SCtx *s, const uint8_t id[STRATA_ID_LEN], uint8_t type, uint32_t raw_len, StrataErr *err)
{
	IndexEntry e;

	if (index_lookup(s->ix, type, id, &e) == 0)
		return located(s, &e, raw_len);
	return heal(s, id, type, raw_len, err);
}

static int note_damage(SCtx *s, int is_dir, uint64_t chunks, uint64_t bytes)
{
	RepairSnap *r = s->cur;
	RepairDamage *d;

	if (is_dir)
		r->dirs++;
	else
		r->files++;
	r->bytes_dropped += bytes;
	if (r->ndamage >= REPAIR_MAX_DAMAGE)
		return 0;
	if (r->ndamage % 16 == 0) {
		void *q = realloc(r->damage, (r->ndamage + 16) * sizeof *r->damage);
		if (!q)
			return -ENOMEM;
		r->damage = q;
	}
	d = &r->damage[r->ndamage];
	d->is_dir = is_dir;
	d->chunks_dropped = chunks;
	d->bytes_dropped = bytes;
	if (!(d->path = strdup(s->path[0] ? s->path : "/")))
		return -ENOMEM;
	r->ndamage++;
	return 0;
}

/* Rewrite tree id (the directory at s->path[0..plen)): 0 nothing missing,
 * 1 rewritten as *out_id, 2 unreadable (the caller leaves it out), < 0
 * error. */
static int rewrite_tree(SCtx *s, const uint8_t id[STRATA_ID_LEN], size_t plen, int depth,
                        uint8_t out_id[STRATA_ID_LEN], StrataErr *err)
{
	StrataErr lerr = {0};
	Tree t = {0};
	size_t keep = 0;
	int rc, changed = 0;

	if (check_idmap_get(&s->clean, id, NULL))
		return 0;
	if (depth > REPAIR_MAX_DEPTH)
		return 2;
	if ((rc = usable(s, id, BLOB_TREE, 0, err)) <= 0)
		return rc < 0 ? rc : 2;
	rc = tree_load(s->repo, id, &t, &lerr);
	/* A dry run found the tree stored only under another type, and did
	 * not store it: what lies below is not looked at. */
	if (rc && damage_code(rc) && s->o->dry_run && index_lookup(s->ix, BLOB_TREE, id, NULL) != 0)
		return 0;
	if (rc && damage_code(rc))
		return 2;
	if (rc) {
		if (err)
			*err = lerr;
		return rc;
	}
	for (size_t i = 0; i < t.n; i++) {
		TreeNode *n = &t.nodes[i];
		size_t nl = strlen(n->name), len = plen ? plen + 1 + nl : nl, j = 0;
		uint64_t dropped = 0, bytes = 0;
		int drop = 0;
		if (len >= sizeof s->path) {
			rc = strata_err_set(err, -ENAMETOOLONG, "a path is longer than %zu bytes under %s",
			                    sizeof s->path, s->path);
			goto out;
		}
		if (plen)
			s->path[plen] = '/';
		memcpy(s->path + (plen ? plen + 1 : 0), n->name, nl + 1);
		if (n->type == NODE_FILE) {
			for (size_t ci = 0; ci < n->nchunks && rc >= 0; ci++) {
				rc = usable(s, n->chunks[ci], BLOB_DATA, n->chunk_lens[ci], err);
				if (rc > 0) {
					memmove(n->chunks[j], n->chunks[ci], STRATA_ID_LEN);
					n->chunk_lens[j++] = n->chunk_lens[ci];
				} else if (rc == 0) {
					dropped++;
					bytes += n->chunk_lens[ci];
				}
			}
			if (rc >= 0)
				rc = 0;
			if (rc == 0 && dropped) {
				n->nchunks = j;
				n->size -= bytes;
				changed = 1;
				rc = note_damage(s, 0, dropped, bytes);
			}
		} else if (n->type == NODE_DIR) {
			uint8_t sub[STRATA_ID_LEN];
			rc = rewrite_tree(s, n->subtree, len, depth + 1, sub, err);
			if (rc == 1) {
				memcpy(n->subtree, sub, STRATA_ID_LEN);
				changed = 1;
				rc = 0;
			} else if (rc == 2) {
				drop = changed = 1;
				rc = note_damage(s, 1, 0, 0);
			}
		}
		s->path[plen] = '\0';
		if (rc < 0) {
			if (rc == -ENOMEM)
				strata_err_set(err, rc, "out of memory");
			goto out;
		}
		if (drop) {
			tree_node_clear(n);
		} else if (keep++ != i) {
			/* Move, leaving a zeroed node so tree_clear frees it once. */
			t.nodes[keep - 1] = *n;
			memset(n, 0, sizeof *n);
		}
	}
	t.n = keep;
	if (!changed) {
		rc = check_idmap_put(&s->clean, id, TREE_CLEAN) ? strata_err_set(err, -ENOMEM, "out of memory") : 0;
		goto out;
	}
	if (s->o->dry_run)
		memset(out_id, 0, STRATA_ID_LEN);
	else if ((rc = tree_store(s->repo, s->bw, s->codec, &t, out_id, err)))
		goto out;
	rc = 1;
out:
	s->path[plen] = '\0';
	tree_clear(&t);
	return rc;
}

static int strv_copy(char ***out, size_t *out_n, char *const *v, size_t n, size_t extra)
{
	char **c = calloc(n + extra + 1, sizeof *c);

	*out = c;
	*out_n = 0;
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!(c[i] = strdup(v[i])))
			return -ENOMEM;
		(*out_n)++;
	}
	return 0;
}

static int strv_push(char **v, size_t *n, const char *s)
{
	if (!(v[*n] = strdup(s)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* Remember the repaired copies already in the repository, so that a
 * second run (or one with --forget after one without) reuses them instead
 * of saving the same snapshot again under a new name (a sealed file's
 * name hashes its random nonce too). */
static int load_prior(SCtx *s, StrataErr *err)
{
	uint8_t (*ids)[STRATA_ID_LEN] = NULL;
	size_t n = 0;
	int rc;

	if ((rc = repo_list_ids(s->repo, "snapshots/", &ids, &n, err)))
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		StrataErr lerr = {0};
		Snapshot snap;
		const char *from;
		if (snapshot_load(s->repo, ids[i], &snap, &lerr) != 0)
			continue;
		from = snapshot_label(&snap, "repaired-from");
		if (from && strlen(from) == STRATA_ID_HEX_LEN) {
			void *q = realloc(s->prior, (s->nprior + 1) * sizeof *s->prior);
			if (!q) {
				rc = strata_err_set(err, -ENOMEM, "out of memory");
			} else {
				s->prior = q;
				if (codec_unhex(from, s->prior[s->nprior].from, STRATA_ID_LEN) == 0) {
					memcpy(s->prior[s->nprior].id, snap.id, STRATA_ID_LEN);
					memcpy(s->prior[s->nprior].tree, snap.tree, STRATA_ID_LEN);
					s->nprior++;
				}
			}
		}
		snapshot_clear(&snap);
	}
	free(ids);
	return rc;
}

static const struct Prior *find_prior(const SCtx *s, const uint8_t from[STRATA_ID_LEN],
                                      const uint8_t tree[STRATA_ID_LEN])
{
	for (size_t i = 0; i < s->nprior; i++)
		if (memcmp(s->prior[i].from, from, STRATA_ID_LEN) == 0 &&
		    memcmp(s->prior[i].tree, tree, STRATA_ID_LEN) == 0)
			return &s->prior[i];
	return NULL;
}

/* Save the repaired copy of snap with root tree root. */
static int save_repaired(SCtx *s, const Snapshot *snap, const uint8_t root[STRATA_ID_LEN],
                         uint8_t out_id[STRATA_ID_LEN], StrataErr *err)
{
	char hex[STRATA_ID_HEX_LEN + 1], label[128];
	Snapshot ns;
	int rc, tagged = 0;

	memset(&ns, 0, sizeof ns);
	ns.time_ns = snap->time_ns;
	ns.has_parent = snap->has_parent;
	memcpy(ns.parent, snap->parent, STRATA_ID_LEN);
	memcpy(ns.tree, root, STRATA_ID_LEN);
	ns.summary = snap->summary;
	ns.summary.bytes_total -= s->cur->bytes_dropped <= ns.summary.bytes_total ? s->cur->bytes_dropped
	                                                                          : ns.summary.bytes_total;
	ns.host = strdup(snap->host ? snap->host : "");
	ns.user = strdup(snap->user ? snap->user : "");
	rc = (!ns.host || !ns.user) ? -ENOMEM : 0;
	if (!rc)
		rc = strv_copy(&ns.paths, &ns.npaths, snap->paths, snap->npaths, 0);
	if (!rc)
		rc = strv_copy(&ns.tags, &ns.ntags, snap->tags, snap->ntags, 1);
	for (size_t i = 0; !rc && i < snap->ntags; i++)
		tagged |= strcmp(snap->tags[i], "repaired") == 0;
	if (!rc && !tagged)
		rc = strv_push(ns.tags, &ns.ntags, "repaired");
	/* Labels: the original's, minus those of an earlier repair, plus ours. */
	ns.labels = calloc(snap->nlabels + 3, sizeof *ns.labels);
	if (!rc && !ns.labels)
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < snap->nlabels; i++)
		if (strncmp(snap->labels[i], "repaired-", 9) != 0)
			rc = strv_push(ns.labels, &ns.nlabels, snap->labels[i]);
	codec_hex(snap->id, STRATA_ID_LEN, hex);
	snprintf(label, sizeof label, "repaired-from=%s", hex);
	if (!rc)
		rc = strv_push(ns.labels, &ns.nlabels, label);
	snprintf(label, sizeof label, "repaired-files=%llu", (unsigned long long)s->cur->files);
	if (!rc)
		rc = strv_push(ns.labels, &ns.nlabels, label);
	if (rc) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = snapshot_save(s->repo, &ns, err)))
		goto out;
	memcpy(out_id, ns.id, STRATA_ID_LEN);
out:
	snapshot_clear(&ns);
	return rc;
}

static int repair_one(SCtx *s, const uint8_t id[STRATA_ID_LEN], StrataErr *err)
{
	RepairSnap *r = s->cur;
	StrataErr lerr = {0};
	uint8_t root[STRATA_ID_LEN];
	Snapshot snap;
	int rc;

	memcpy(r->id, id, STRATA_ID_LEN);
	rc = snapshot_load(s->repo, id, &snap, &lerr);
	if (rc && damage_code(rc) && rc != STRATA_ENOTFOUND) {
		r->status = REPAIR_SNAP_UNDECODABLE;
		snprintf(r->message, sizeof r->message, "%s", lerr.msg);
		goto forget;
	}
	if (rc) {
		if (err)
			*err = lerr;
		return rc;
	}
	if (!s->o->dry_run && (rc = blobwriter_new(s->repo, 0, &s->bw, err)))
		goto out;
	s->path[0] = '\0';
	rc = rewrite_tree(s, snap.tree, 0, 0, root, err);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		r->status = REPAIR_SNAP_INTACT;
		rc = 0;
		goto out;
	}
	if (rc == 2) {
		r->status = REPAIR_SNAP_EMPTY;
		snapshot_clear(&snap);
		blobwriter_free(s->bw);
		s->bw = NULL;
		goto forget;
	}
	r->status = REPAIR_SNAP_REWRITTEN;
	rc = 0;
	if (!s->o->dry_run) {
		const struct Prior *p;
		/* The trees first, durable and indexed; then the snapshot. */
		if ((rc = blobwriter_finish(s->bw, err)))
			goto out;
		if ((p = find_prior(s, id, root)) != NULL)
			memcpy(r->new_id, p->id, STRATA_ID_LEN);
		else if ((rc = save_repaired(s, &snap, root, r->new_id, err)))
			goto out;
		if (s->o->forget) {
			if ((rc = snapshot_delete(s->repo, id, err)))
				goto out;
			r->forgotten = 1;
		}
	}
out:
	blobwriter_free(s->bw);
	s->bw = NULL;
	snapshot_clear(&snap);
	return rc;
forget:
	if (s->o->forget && !s->o->dry_run) {
		if ((rc = snapshot_delete(s->repo, id, err)) && rc != -ENOENT)
			return rc;
		r->forgotten = 1;
	}
	return 0;
}

void repair_snapshots_result_free(RepairSnapshotsResult *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		for (size_t d = 0; d < r->snaps[i].ndamage; d++)
			free(r->snaps[i].damage[d].path);
		free(r->snaps[i].damage);
	}
	free(r->snaps);
	memset(r, 0, sizeof *r);
}

int repair_snapshots(Repo *repo, const RepairSnapshotsOptions *opts, RepairSnapshotsResult *out,
                     StrataErr *err)
{
	uint8_t (*ids)[STRATA_ID_LEN] = NULL;
	size_t nids = 0;
	SCtx *s = calloc(1, sizeof *s);
	int rc;

	memset(out, 0, sizeof *out);
	if (!s)
		return strata_err_set(err, -ENOMEM, "out of memory");
	s->repo = repo;
	s->o = opts;
	if ((rc = check_index(repo, &s->ix, err)) || (rc = load_prior(s, err)))
		goto out;
	rc = check_list_packs(repo, on_pack_size, &s->packs, err);
	if (rc == -ENOMEM)
		strata_err_set(err, rc, "out of memory");
	if (rc)
		goto out;
	if (opts->nrefs) {
		if (!(ids = calloc(opts->nrefs, sizeof *ids))) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		for (nids = 0; nids < opts->nrefs; nids++) {
			const char *ref = opts->refs[nids];
			if (strcmp(ref, "latest") == 0) {
				Snapshot snap;
				if ((rc = snapshot_find(repo, ref, &snap, err)))
					goto out;
				memcpy(ids[nids], snap.id, STRATA_ID_LEN);
				snapshot_clear(&snap);
			} else if ((rc = repo_resolve_prefix(repo, "snapshots/", "snapshot", ref, ids[nids], err))) {
				goto out;
			}
		}
	} else if ((rc = repo_list_ids(repo, "snapshots/", &ids, &nids, err))) {
		goto out;
	}
	if (!(out->snaps = calloc(nids ? nids : 1, sizeof *out->snaps)) || !(s->codec = codec_ctx_new())) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (opts->progress) {
		RepairProgress p = { "snapshots", 0, nids };
		opts->progress(&p, opts->progress_ctx);
	}
	for (size_t i = 0; i < nids; i++) {
		s->cur = &out->snaps[out->n++];
		if ((rc = repair_one(s, ids[i], err)))
			goto out;
		if (opts->progress) {
			RepairProgress p = { "snapshots", i + 1, nids };
			opts->progress(&p, opts->progress_ctx);
		}
	}
out:
	if (s->codec)
		codec_ctx_free(s->codec);
	check_idmap_free(&s->packs);
	check_idmap_free(&s->clean);
	free(s->prior);
	free(s);
	free(ids);
	if (rc)
		repair_snapshots_result_free(out);
	return rc;
}
