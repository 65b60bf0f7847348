/* prune_sweep.c — carrying prune plans out, see prune_internal.h.
 * FORMAT.md "Prune and concurrent writers" (§19.4, §19.5). */
#include "store/prune/prune_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/blob.h"
#include "store/indexfile.h"
#include "store/lock.h"
#include "store/pack_read.h"
#include "store/repo_internal.h"

/* Replacement index files list at most this many packs each (about 23 MiB
 * of entries at 512 blobs per pack before compression). */
#define REWRITE_PACKS   1024

/* Index file covering the packs resurrected by a sweep, read from their
 * trailers: whatever index files are replaced, they stay listed. */
static int cover_resurrected(Repo *repo, const PackList *condemned, PruneStats *st, StrataErr *err)
{
	IndexFilePack *ifp = NULL;
	uint8_t file_id[STRATA_ID_LEN];
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < condemned->n; i++)
		n += condemned->v[i].resurrected;
	if (n == 0)
		return 0;
	ifp = calloc(n, sizeof *ifp);
	if (!ifp)
		return strata_err_set(err, -ENOMEM, "out of memory");
	n = 0;
	for (size_t i = 0; i < condemned->n && rc == 0; i++) {
		const PackStat *ps = &condemned->v[i];
		if (!ps->resurrected)
			continue;
		memcpy(ifp[n].id, ps->id, STRATA_ID_LEN);
		ifp[n].kind = ps->kind;
		rc = pack_read_trailer(repo, ps->kind, ps->id, &ifp[n].entries, &ifp[n].n, &ifp[n].size, err);
		if (rc)
			strata_err_prefix(err, "a snapshot made since the prune plan needs this pack");
		else
			n++;
	}
	if (rc == 0) {
		rc = indexfile_write(repo, ifp, n, file_id, err);
		st->index_files_written += rc == 0;
	}
	indexfile_packs_free(ifp, n);
	return rc;
}

static int is_condemned(const PackList *condemned, const uint8_t id[STRATA_ID_LEN])
{
	const PackStat *ps = prune_pack_find(condemned, id);

	return ps && !ps->resurrected;
}

static int flush_batch(Repo *repo, IndexFilePack *batch, size_t *n, PruneStats *st, StrataErr *err)
{
	uint8_t id[STRATA_ID_LEN];
	int rc = 0;

	if (*n)
		rc = indexfile_write(repo, batch, *n, id, err);
	st->index_files_written += *n && rc == 0;
	for (size_t i = 0; i < *n; i++)
		free(batch[i].entries);
	*n = 0;
	return rc;
}

/* note_locked — an object a deletion found under retention: keep the
 * first message, forget the error. */
static void note_locked(PruneStats *st, const StrataErr *err)
{
	if (!st->locked_example[0])
		snprintf(st->locked_example, sizeof st->locked_example, "%s", err->msg);
}

/* delete_index_files — delete each; one under retention (-EPERM) stays
 * and its ID goes to kept[*nkept] (room for n). */
static int delete_index_files(Repo *repo, uint8_t (*ids)[STRATA_ID_LEN], size_t n, PruneStats *st,
                              uint8_t (*kept)[STRATA_ID_LEN], size_t *nkept, StrataErr *err)
{
	char name[REPO_NAME_MAX], hex[STRATA_ID_HEX_LEN + 1];
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		codec_hex(ids[i], STRATA_ID_LEN, hex);
		snprintf(name, sizeof name, "index/%s", hex);
		rc = prune_delete(repo, name, err);
		if (rc == -EPERM) {
			note_locked(st, err);
			st->locked_index_files++;
			memcpy(kept[(*nkept)++], ids[i], STRATA_ID_LEN);
			rc = 0;
			continue;
		}
		st->index_files_replaced += rc == 0;
	}
	return rc;
}

/* keep_listed — the condemned packs a kept index file lists must stay
 * (a pack is deleted only once no index file lists it): take them off
 * the condemned list. */
static int keep_listed(Repo *repo, PackList *condemned, uint8_t (*kept)[STRATA_ID_LEN], size_t n,
                       StrataErr *err)
{
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		IndexFilePack *packs = NULL;
		size_t np = 0;

		rc = indexfile_read(repo, kept[i], &packs, &np, err);
		for (size_t j = 0; j < np && rc == 0; j++) {
			PackStat *ps = prune_pack_find(condemned, packs[j].id);

			if (ps)
				ps->locked_index = 1;
		}
		indexfile_packs_free(packs, np);
	}
	return rc;
}

/* Delete the condemned packs (not resurrected, not listed by a kept index
 * file) with in_mixed == mixed; one under retention stays (a later prune
 * finds it in no index file and deletes it then). */
static int delete_packs(Repo *repo, const PackList *condemned, int mixed, PruneStats *st, StrataErr *err)
{
	char name[REPO_NAME_MAX];
	int rc = 0;

	for (size_t i = 0; i < condemned->n && rc == 0; i++) {
		const PackStat *ps = &condemned->v[i];
		if (ps->resurrected || ps->in_mixed != mixed)
			continue;
		if (ps->locked_index) {
			st->locked_packs++;
			continue;
		}
		repo_pack_name(ps->kind, ps->id, name);
		rc = prune_delete(repo, name, err);
		if (rc == -EPERM) {
			note_locked(st, err);
			st->locked_packs++;
			rc = 0;
		} else if (rc == 0) {
			st->packs_deleted++;
			st->bytes_deleted += ps->size;
		}
	}
	return rc;
}

/* Replace the index files and delete the condemned packs, in an order that
 * frees space before writing anything (a sweep must work on a full disk
 * when it only has to delete):
 *   1. index files listing only condemned packs: nothing replaces them;
 *   2. the condemned packs no remaining index file lists;
 *   3. replacements for the files that mix kept and condemned packs, then
 *      those files, then the remaining condemned packs.
 * Invariant at every step: a pack is deleted only once no index file
 * lists it (FORMAT.md "Prune and concurrent writers"). */
static int sweep_delete(Repo *repo, PackList *condemned, Lock *xl, PruneStats *st, StrataErr *err)
{
	uint8_t (*ids)[STRATA_ID_LEN] = NULL, (*whole)[STRATA_ID_LEN] = NULL, (*mixed)[STRATA_ID_LEN] = NULL;
	uint8_t (*kept)[STRATA_ID_LEN] = NULL;
	IndexFilePack *batch = calloc(REWRITE_PACKS, sizeof *batch);
	size_t nids = 0, nwhole = 0, nmixed = 0, nbatch = 0, nkept = 0;
	int rc;

	if (!batch)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = repo_list_ids(repo, "index/", &ids, &nids, err);
	if (rc)
		goto out;
	whole = malloc((nids ? nids : 1) * sizeof *whole);
	mixed = malloc((nids ? nids : 1) * sizeof *mixed);
	kept = malloc((nids ? nids : 1) * sizeof *kept);
	if (!whole || !mixed || !kept) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nids && rc == 0; i++) {
		IndexFilePack *packs = NULL;
		size_t n = 0, hit = 0;
		rc = indexfile_read(repo, ids[i], &packs, &n, err);
		if (rc)
			break;
		for (size_t j = 0; j < n; j++)
			hit += is_condemned(condemned, packs[j].id);
		if (hit && hit == n) {
			memcpy(whole[nwhole++], ids[i], STRATA_ID_LEN);
		} else if (hit) {
			memcpy(mixed[nmixed++], ids[i], STRATA_ID_LEN);
			for (size_t j = 0; j < n; j++) {
				PackStat *ps = prune_pack_find(condemned, packs[j].id);
				if (ps)
					ps->in_mixed = 1;
			}
		}
		indexfile_packs_free(packs, n);
	}
	/* Nothing is deleted unless the exclusive lock still holds. */
	if (rc == 0)
		rc = lock_check(xl, err);
	if (rc == 0)
		rc = delete_index_files(repo, whole, nwhole, st, kept, &nkept, err);
	if (rc == 0)
		rc = keep_listed(repo, condemned, kept, nkept, err);
	if (rc == 0)
		rc = delete_packs(repo, condemned, 0, st, err);
	for (size_t i = 0; i < nmixed && rc == 0; i++) {
		IndexFilePack *packs = NULL;
		size_t n = 0;
		rc = indexfile_read(repo, mixed[i], &packs, &n, err);
		for (size_t j = 0; j < n && rc == 0; j++) {
			if (is_condemned(condemned, packs[j].id))
				continue;
			batch[nbatch++] = packs[j];
			packs[j].entries = NULL;
			if (nbatch == REWRITE_PACKS)
				rc = flush_batch(repo, batch, &nbatch, st, err);
		}
		indexfile_packs_free(packs, n);
	}
	if (rc == 0)
		rc = flush_batch(repo, batch, &nbatch, st, err);
	if (rc == 0)
		rc = lock_check(xl, err);
	nkept = 0;
	if (rc == 0)
		rc = delete_index_files(repo, mixed, nmixed, st, kept, &nkept, err);
	if (rc == 0)
		rc = keep_listed(repo, condemned, kept, nkept, err);
	if (rc == 0)
		rc = delete_packs(repo, condemned, 1, st, err);
out:
	for (size_t i = 0; i < nbatch; i++)
		free(batch[i].entries);
	free(batch);
	free(ids);
	free(whole);
	free(mixed);
	free(kept);
	return rc;
}

/* Fill rescued with every blob of the plan's repack copies. 1 when a copy
 * is missing (the plan must not be swept), 0, or an error. */
static int load_rescued(Repo *repo, const Plan *p, IndexSet *rescued, StrataErr *err)
{
	for (size_t i = 0; i < p->written.n; i++) {
		PackEntry *entries = NULL;
		size_t n = 0;
		uint64_t size;
		StrataErr perr = {0, ""};
		int rc = pack_read_trailer(repo, p->written.v[i].kind, p->written.v[i].id, &entries, &n, &size, &perr);
		if (rc == -ENOENT || rc == STRATA_EAUTH || rc == STRATA_EFORMAT || rc == STRATA_EVERSION)
			return 1;
		if (rc) {
			if (err)
				*err = perr;
			return rc;
		}
		/* A frame's member is the data blob it stands for (FORMAT.md
		 * 9a); a frame entry is none. */
		for (size_t j = 0; j < n && rc >= 0; j++)
			if (entries[j].type != FORMAT_BLOB_FRAME)
				rc = index_set_add(rescued, entries[j].type == FORMAT_BLOB_MEMBER ? BLOB_DATA : entries[j].type,
				                   entries[j].id, err);
		free(entries);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Carry plan p out; the caller holds the exclusive lock xl. marks: the
 * plan's own mark set when this process wrote it (then blobs in it are
 * known safe and the re-check skips them), else NULL. */
static int sweep_one(Repo *repo, Index *ix, const PruneOptions *o, Plan *p, IndexSet *marks, Lock *xl,
                     PruneStats *st, StrataErr *err)
{
	char dir[PATH_MAX], hex[STRATA_ID_HEX_LEN + 1];
	IndexSet *rescued = NULL, *fresh = NULL;
	Snapshot *snaps = NULL;
	size_t nsnaps = 0, nnew = 0;
	Marker m;
	int rc;

	codec_hex(p->id, STRATA_ID_LEN, hex);
	memset(&m, 0, sizeof m);
	if (p->written.n) {
		rc = prune_scratch_dir(repo, "rescued", dir, sizeof dir, err);
		if (rc == 0)
			rc = index_set_open(dir, &rescued, err);
		if (rc == 0)
			rc = load_rescued(repo, p, rescued, err);
		if (rc == 1) {
			/* Only repair or a person deletes packs outside a sweep; the
			 * blobs of the repacked packs may exist nowhere else now. */
			prune_say(o, "prune plan %.8s: a repacked copy is missing; dropping the plan without deleting anything", hex);
			st->plans_abandoned++;
			rc = prune_plan_delete(repo, p->id, err);
			goto out;
		}
		if (rc)
			goto out;
	}
	if (!marks) {
		rc = prune_scratch_dir(repo, "recheck", dir, sizeof dir, err);
		if (rc == 0)
			rc = index_set_open(dir, &fresh, err);
		if (rc)
			goto out;
	}
	m.repo = repo;
	m.ix = ix;
	m.ctx = codec_ctx_new();
	m.seen = marks ? marks : fresh;
	m.sweep = 1;
	m.packs = &p->packs;
	m.rescued = rescued;
	m.err = err;
	if (!m.ctx) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* Re-check every snapshot the plan did not know. */
	rc = snapshot_list(repo, &snaps, &nsnaps, err);
	for (size_t i = 0; i < nsnaps && rc == 0; i++) {
		if (p->nsnaps && bsearch(snaps[i].id, p->snaps, p->nsnaps, sizeof *p->snaps, prune_cmp_id))
			continue;
		nnew++;
		rc = prune_walk_snapshot(&m, &snaps[i]);
	}
	/* Every WAL descriptor: they carry no creation order to tell new from
	 * old, and cost one small read each. */
	if (rc == 0)
		rc = prune_walk_wal(&m);
	if (rc)
		goto out;
	for (size_t i = 0; i < p->packs.n; i++)
		st->packs_resurrected += p->packs.v[i].resurrected;
	prune_say(o, "prune plan %.8s: %zu snapshot(s) made since it was written re-checked, %llu condemned pack(s) still needed",
	    hex, nnew, (unsigned long long)st->packs_resurrected);
	rc = cover_resurrected(repo, &p->packs, st, err);
	if (rc == 0 && o->progress) {
		PruneProgress pp = { "delete", 0, p->packs.n, 0, 0 };
		o->progress(&pp, o->progress_ctx);
	}
	if (rc == 0)
		rc = sweep_delete(repo, &p->packs, xl, st, err);
	if (rc == 0 && o->progress) {
		PruneProgress pp = { "delete", p->packs.n, p->packs.n, 0, 0 };
		o->progress(&pp, o->progress_ctx);
	}
	if (rc == 0)
		rc = prune_plan_delete(repo, p->id, err);
	if (rc == 0)
		st->plans_swept++;
out:
	codec_ctx_free(m.ctx);
	snapshot_list_free(snaps, nsnaps);
	index_set_free(rescued);
	index_set_free(fresh);
	return rc;
}

static int cmp_plan_time(const void *a, const void *b)
{
	const Plan *x = a, *y = b;

	return x->created_ns < y->created_ns ? -1 : x->created_ns > y->created_ns;
}

/* A reason to wait with plan p, or NULL when it may be swept now. */
static const char *not_ready(const PruneOptions *o, const Plan *p, int64_t now)
{
	int64_t age_s = (now - p->created_ns) / 1000000000LL;
	int has[2] = {0, 0};

	for (size_t i = 0; i < p->packs.n; i++)
		has[p->packs.v[i].kind == PACK_KIND_TREE] = 1;
	if (age_s < o->grace_s)
		return "its grace period has not passed";
	if (has[0] && age_s < o->min_age_data_s)
		return "data packs have not reached their minimum age before deletion";
	if (has[1] && age_s < o->min_age_tree_s)
		return "tree packs have not reached their minimum age before deletion";
	return NULL;
}

/* Sweep every pending plan that is ready. fresh_id/marks: the plan this run
 * just wrote and its mark set (NULL when none). */
int prune_sweep_plans(Repo *repo, Index *ix, const PruneOptions *o, const uint8_t *fresh_id,
                       IndexSet *marks, PruneStats *st, StrataErr *err)
{
	uint8_t (*ids)[STRATA_ID_LEN] = NULL;
	Plan *plans = NULL;
	size_t nids = 0, nplans = 0, ready = 0;
	LockOptions lo;
	Lock *xl = NULL;
	int64_t now = prune_now_ns();
	char hex[STRATA_ID_HEX_LEN + 1];
	int rc;

	rc = repo_list_ids(repo, PRUNE_PLAN_DIR "/", &ids, &nids, err);
	if (rc || nids == 0)
		goto out;
	plans = calloc(nids, sizeof *plans);
	if (!plans) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (nplans = 0; nplans < nids; nplans++) {
		rc = prune_plan_read(repo, ids[nplans], &plans[nplans], err);
		if (rc)
			goto out;
	}
	qsort(plans, nplans, sizeof *plans, cmp_plan_time);
	for (size_t i = 0; i < nplans; i++) {
		const char *why = not_ready(o, &plans[i], now);
		if (!why) {
			ready++;
			continue;
		}
		codec_hex(plans[i].id, STRATA_ID_LEN, hex);
		snprintf(st->deferred, sizeof st->deferred, "prune plan %.8s waits: %s", hex, why);
		st->plans_pending++;
	}
	if (ready == 0 || o->dry_run)
		goto out;
	memset(&lo, 0, sizeof lo);
	if (o->lock)
		lo = *o->lock;
	lo.command = "prune";
	rc = lock_acquire(repo, LOCK_EXCLUSIVE, &lo, &xl, err);
	if (rc == STRATA_ELOCKED) {
		snprintf(st->deferred, sizeof st->deferred,
		         "deleting waits until no other strata uses the repository (%s); run `strata prune` again later",
		         err ? err->msg : "locked");
		st->plans_pending += ready;
		strata_err_clear(err);
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	/* Index files written since this process synced (by backups that have
	 * finished: we hold the exclusive lock) are needed for the re-check. */
	rc = indexfile_sync(repo, ix, err);
	for (size_t i = 0; i < nplans && rc == 0; i++) {
		if (not_ready(o, &plans[i], now))
			continue;
		codec_hex(plans[i].id, STRATA_ID_LEN, hex);
		prune_say(o, "sweeping prune plan %.8s: %zu condemned pack(s)", hex, plans[i].packs.n);
		rc = sweep_one(repo, ix, o, &plans[i],
		               fresh_id && memcmp(fresh_id, plans[i].id, STRATA_ID_LEN) == 0 ? marks : NULL,
		               xl, st, err);
		/* The replaced index files are gone: this rebuilds the local
		 * index, so the next plan's re-check sees no deleted pack. */
		if (rc == 0)
			rc = indexfile_sync(repo, ix, err);
	}
out:
	lock_release(xl);
	for (size_t i = 0; i < nplans; i++)
		prune_plan_free(&plans[i]);
	free(plans);
	free(ids);
	return rc;
}

