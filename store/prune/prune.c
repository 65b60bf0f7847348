/* prune.c — see prune.h; the files of the module in prune_internal.h.
 * FORMAT.md "Prune and concurrent writers". */
#include "store/prune/prune.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/blob.h"
#include "store/frame.h"
#include "store/index.h"
#include "store/indexfile.h"
#include "store/pack_read.h"
#include "store/prune/prune_internal.h"
#include "store/repo_internal.h"
#include "store/snapshot.h"
#include "store/verified.h"

void prune_say(const PruneOptions *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!o->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	o->log(line, o->log_ctx);
}

int64_t prune_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int prune_cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, STRATA_ID_LEN);
}

PackStat *prune_pack_find(const PackList *l, const uint8_t id[STRATA_ID_LEN])
{
	return l->n ? bsearch(id, l->v, l->n, sizeof *l->v, prune_cmp_id) : NULL;
}

PackStat *prune_pack_push(PackList *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		void *p = realloc(l->v, cap * sizeof *l->v);
		if (!p)
			return NULL;
		l->v = p;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof l->v[l->n]);
	return &l->v[l->n++];
}

int prune_scratch_dir(Repo *repo, const char *what, char *out, size_t len, StrataErr *err)
{
	Index *ix;
	int rc = repo_index(repo, &ix, err);   /* creates the cache directory */

	if (rc)
		return rc;
	if (snprintf(out, len, "%s/prune-%s", repo->cache_dir, what) >= (int)len)
		return strata_err_set(err, -ENAMETOOLONG, "cache directory path too long: %s", repo->cache_dir);
	return 0;
}

int prune_delete(Repo *repo, const char *name, StrataErr *err)
{
	RemoteErr rerr = {{0}};
	int rc = backend_delete(repo->be, name, &rerr);

	return rc && rc != -ENOENT ? repo_remote_err(err, rc, &rerr) : 0;
}

/* Bytes of a pack of n entries that are not blobs: the sealed trailer and
 * the footer (FORMAT.md "Sealed file", "Pack file"). */
static uint64_t pack_overhead(uint32_t n)
{
	return SEALED_HEADER_LEN + CODEC_NONCE_LEN + 5 + (uint64_t)PACK_ENTRY_LEN * n + CODEC_TAG_LEN +
	       PACK_FOOTER_LEN;
}

uint64_t prune_charge(const IndexEntry *e)
{
	uint64_t m, num, den;

	if (!e->frame_raw || !e->frame_members)
		return e->length;
	m = e->frame_members;
	num = (uint64_t)e->length * ((uint64_t)e->raw_len * m + FRAME_HEADER_LEN(m));
	den = (uint64_t)e->frame_raw * m;
	return (num + den - 1) / den;
}

static int collect_pack(const uint8_t pack[CODEC_ID_LEN], const IndexPackInfo *info, void *ctx)
{
	PackList *l = ctx;
	PackStat *ps = prune_pack_push(l);

	if (!ps)
		return -ENOMEM;
	memcpy(ps->id, pack, STRATA_ID_LEN);
	ps->kind = info->kind;
	ps->count = info->count;
	ps->size = info->size;
	return 0;
}

typedef struct OrphanScan {
	const PackList *known;
	PackList *orphans;
	uint8_t kind;
	int oom;
} OrphanScan;

static int collect_orphan(const char *name, uint64_t size, void *ctx)
{
	OrphanScan *s = ctx;
	const char *base = strrchr(name, '/');
	uint8_t id[STRATA_ID_LEN];
	PackStat *ps;

	if (!base || codec_unhex(base + 1, id, STRATA_ID_LEN) != 0 || prune_pack_find(s->known, id))
		return 0;
	ps = prune_pack_push(s->orphans);
	if (!ps) {
		s->oom = 1;
		return 1;
	}
	memcpy(ps->id, id, STRATA_ID_LEN);
	ps->kind = s->kind;
	ps->size = size;
	ps->why = WHY_ORPHAN;
	return 0;
}

static int find_orphans(Repo *repo, const PackList *known, PackList *orphans, StrataErr *err)
{
	static const char *const dirs[2] = { "data/", "tree/" };
	RemoteErr rerr = {{0}};

	for (uint8_t k = 0; k < 2; k++) {
		OrphanScan s = { known, orphans, k, 0 };
		int rc = backend_list(repo->be, dirs[k], collect_orphan, &s, &rerr);
		if (s.oom)
			return strata_err_set(err, -ENOMEM, "out of memory");
		if (rc)
			return repo_remote_err(err, rc, &rerr);
	}
	return 0;
}

typedef struct Candidate {
	size_t idx;
	uint64_t unused;
	double share;        /* unused / blob area */
} Candidate;

static int by_share_desc(const void *a, const void *b)
{
	const Candidate *x = a, *y = b;

	return x->share < y->share ? 1 : x->share > y->share ? -1 : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Condemn packs holding nothing reachable; then, as restic does, repack
 * only while the unreachable bytes left in the remaining packs exceed
 * max_unused of the repository's pack data (unused / (used + unused)),
 * the packs with the largest unused share first. max_unused 0 repacks
 * every pack with anything unreachable; 1 never repacks. */
static int decide(PackList *packs, const PackList *orphans, double max_unused, PruneStats *st)
{
	Candidate *c = calloc(packs->n ? packs->n : 1, sizeof *c);
	uint64_t total_unused = 0, total_used = 0;
	double allowed;
	size_t nc = 0;

	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < packs->n; i++) {
		PackStat *ps = &packs->v[i];
		uint64_t over = pack_overhead(ps->count);
		uint64_t area = ps->size > over ? ps->size - over : 0;
		uint64_t unused = area > ps->used_bytes ? area - ps->used_bytes : 0;

		st->packs++;
		st->pack_bytes += ps->size;
		st->used_blobs += ps->used_count;
		st->used_bytes += ps->used_bytes;
		if (ps->used_count == 0) {
			ps->why = WHY_UNUSED;
			st->unused_packs++;
			st->unused_pack_bytes += ps->size;
			continue;
		}
		total_used += ps->used_bytes;
		total_unused += unused;
		if (unused > 0)
			c[nc++] = (Candidate){ i, unused, area ? (double)unused / (double)area : 1.0 };
	}
	allowed = max_unused >= 1.0 ? -1.0 : max_unused / (1.0 - max_unused) * (double)total_used;
	qsort(c, nc, sizeof *c, by_share_desc);
	for (size_t k = 0; k < nc; k++) {
		PackStat *ps = &packs->v[c[k].idx];

		if (allowed >= 0 && (double)total_unused > allowed) {
			ps->why = WHY_REPACK;
			st->repack_packs++;
			st->repack_bytes += ps->size;
			st->repack_used_bytes += ps->used_bytes;
			total_unused -= c[k].unused;
		} else {
			st->kept_unused_bytes += c[k].unused;
		}
	}
	free(c);
	for (size_t i = 0; i < orphans->n; i++) {
		st->orphan_packs++;
		st->orphan_bytes += orphans->v[i].size;
	}
	return 0;
}

/* Copy the live blobs of every WHY_REPACK pack into new packs: every
 * marked blob the pack holds, once. Locations come from the pack's trailer,
 * not the local index: another process may rebuild that index meanwhile,
 * and a marked blob charged to this pack must be copied whatever the index
 * says now (the sweep trusts marked blobs to survive). */
typedef struct Written {
	PackList *list;
	int oom;
} Written;

static void note_written(const uint8_t pack[CODEC_ID_LEN], uint8_t kind, void *ctx)
{
	Written *w = ctx;
	PackStat *ps = prune_pack_push(w->list);

	if (!ps) {
		w->oom = 1;
		return;
	}
	memcpy(ps->id, pack, STRATA_ID_LEN);
	ps->kind = kind;
}

/* Live members of one frame read so far, to be written again together
 * as a frame (FORMAT.md 9a): at most FRAME_WRITE_MEMBERS of them and
 * FRAME_WRITE_RAW bytes. data[i] is owned. */
typedef struct Regroup {
	const PackEntry *frame;
	uint8_t ids[FRAME_WRITE_MEMBERS][STRATA_ID_LEN];
	uint8_t *data[FRAME_WRITE_MEMBERS];
	uint32_t lens[FRAME_WRITE_MEMBERS];
	size_t n, bytes;
} Regroup;

/* Write g's members (with bw; none when bw is NULL) and empty it. */
static int regroup_flush(BlobWriter *bw, CodecCtx *ctx, Regroup *g, StrataErr *err)
{
	const uint8_t *data[FRAME_WRITE_MEMBERS];
	int rc = 0;

	for (size_t i = 0; i < g->n; i++)
		data[i] = g->data[i];
	if (bw && g->n)
		rc = blobwriter_put_frame(bw, ctx, (const uint8_t (*)[STRATA_ID_LEN])g->ids, data, g->lens, g->n, err);
	for (size_t i = 0; i < g->n; i++)
		free(g->data[i]);
	g->n = 0;
	g->bytes = 0;
	g->frame = NULL;
	return rc;
}

static int repack(Repo *repo, const PruneOptions *o, const PackList *packs, IndexSet *marks,
                  PackList *written, PruneStats *st, StrataErr *err)
{
	Written w = { written, 0 };
	BlobWriter *bw = NULL;
	IndexSet *copied = NULL;
	CodecCtx *ctx = codec_ctx_new();
	BlobWriterStats bs;
	char dir[PATH_MAX];
	size_t done = 0;
	uint64_t read_bytes = 0;     /* sizes of the packs taken so far, for progress */
	int rc;

	if (!ctx)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = prune_scratch_dir(repo, "copied", dir, sizeof dir, err);
	if (rc == 0)
		rc = index_set_open(dir, &copied, err);
	if (rc == 0)
		rc = blobwriter_new(repo, 0, &bw, err);
	if (rc)
		goto out;
	blobwriter_set_rewrite(bw, 1, note_written, &w);
	for (size_t i = 0; i < packs->n && rc == 0; i++) {
		const PackStat *ps = &packs->v[i];
		PackEntry *entries = NULL;
		size_t n = 0;
		uint64_t size;
		if (ps->why != WHY_REPACK)
			continue;
		if (++done % 16 == 0)
			prune_say(o, "repacking: %zu of %llu packs", done, (unsigned long long)st->repack_packs);
		if (o->progress) {
			PruneProgress pp = { "repack", done - 1, st->repack_packs, read_bytes, st->repack_bytes };
			o->progress(&pp, o->progress_ctx);
		}
		read_bytes += ps->size;
		rc = pack_read_trailer(repo, ps->kind, ps->id, &entries, &n, &size, err);
		const PackEntry *frame = NULL;
		Regroup g = {0};
		for (size_t j = 0; j < n && rc == 0; j++) {
			/* A frame's member (FORMAT.md 9a) is the data blob it
			 * stands for: a live one is read from its frame (which
			 * checks it against HEADER and its keyed hash); the live
			 * members of a frame are written again together, as a
			 * new frame (a blob when one is left); the frame itself
			 * is not copied. */
			uint8_t type = entries[j].type == FORMAT_BLOB_MEMBER ? BLOB_DATA : entries[j].type;
			IndexEntry e;
			uint8_t *buf;
			if (entries[j].type == FORMAT_BLOB_FRAME) {
				frame = &entries[j];
				continue;
			}
			if (!index_set_has(marks, type, entries[j].id))
				continue;
			rc = index_set_add(copied, type, entries[j].id, err);
			if (rc <= 0)
				continue;
			memset(&e, 0, sizeof e);
			memcpy(e.pack, ps->id, STRATA_ID_LEN);
			e.type = type;
			e.offset = entries[j].offset;
			e.length = entries[j].length;
			e.raw_len = entries[j].raw_len;
			if (entries[j].type == FORMAT_BLOB_MEMBER) {
				/* pack_trailer_decode_frames put its frame before it. */
				if (!frame) {   /* never: pack_trailer_parse_frames refuses it */
					char hex[STRATA_ID_HEX_LEN + 1];
					codec_hex(ps->id, STRATA_ID_LEN, hex);
					rc = strata_err_set(err, STRATA_EFORMAT, "pack %.16s: a frame member without its frame", hex);
					break;
				}
				e.offset = frame->offset;
				e.length = frame->length;
				e.frame_raw = frame->raw_len;
				e.member_off = entries[j].offset;
			}
			buf = malloc(e.raw_len ? e.raw_len : 1);
			if (!buf) {
				rc = strata_err_set(err, -ENOMEM, "out of memory");
				break;
			}
			rc = blob_read_at(repo, ctx, entries[j].id, &e, buf, err);
			if (rc == 0 && entries[j].type == FORMAT_BLOB_MEMBER) {
				if (g.n && (g.frame != frame || g.n == FRAME_WRITE_MEMBERS ||
				            g.bytes + e.raw_len > FRAME_WRITE_RAW))
					rc = regroup_flush(bw, ctx, &g, err);
				if (rc == 0) {
					g.frame = frame;
					memcpy(g.ids[g.n], entries[j].id, STRATA_ID_LEN);
					g.data[g.n] = buf;
					g.lens[g.n++] = e.raw_len;
					g.bytes += e.raw_len;
					buf = NULL;
				}
			} else if (rc == 0) {
				rc = blobwriter_put(bw, ctx, e.type, entries[j].id, buf, e.raw_len, NULL, err);
			}
			free(buf);
		}
		if (rc == 0)
			rc = regroup_flush(bw, ctx, &g, err);
		else
			regroup_flush(NULL, ctx, &g, NULL);
		free(entries);
	}
	if (rc == 0)
		rc = blobwriter_finish(bw, err);
	if (rc == 0 && w.oom)
		rc = strata_err_set(err, -ENOMEM, "out of memory");
	if (rc == 0) {
		blobwriter_stats(bw, &bs);
		st->packs_written = bs.packs_written;
		st->bytes_written = bs.bytes_stored + bs.tree_bytes_stored;
	}
out:
	blobwriter_free(bw);
	index_set_free(copied);
	codec_ctx_free(ctx);
	return rc;
}

/* Every snapshot, like snapshot_list, except that one removed between the
 * listing and its reading (a concurrent forget) is skipped: it needs
 * nothing any more. */
static int list_snapshots(Repo *repo, Snapshot **out, size_t *out_n, StrataErr *err)
{
	uint8_t (*ids)[STRATA_ID_LEN] = NULL;
	Snapshot *snaps = NULL;
	size_t nids = 0, n = 0;
	int rc;

	rc = repo_list_ids(repo, "snapshots/", &ids, &nids, err);
	if (rc)
		return rc;
	snaps = calloc(nids ? nids : 1, sizeof *snaps);
	if (!snaps)
		rc = strata_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < nids && rc == 0; i++) {
		rc = snapshot_load(repo, ids[i], &snaps[n], err);
		if (rc == STRATA_ENOTFOUND) {
			strata_err_clear(err);
			rc = 0;
			continue;
		}
		n += rc == 0;
	}
	free(ids);
	if (rc) {
		snapshot_list_free(snaps, n);
		return rc;
	}
	*out = snaps;
	*out_n = n;
	return 0;
}

static int is_ignored(const PruneOptions *o, const uint8_t id[STRATA_ID_LEN])
{
	for (size_t i = 0; i < o->nignore; i++)
		if (memcmp(o->ignore[i], id, STRATA_ID_LEN) == 0)
			return 1;
	return 0;
}

int prune_run(Repo *repo, const PruneOptions *o, PruneStats *st, StrataErr *err)
{
	Snapshot *snaps = NULL;
	size_t nsnaps = 0;
	PackList packs = {0}, orphans = {0};
	Plan plan;
	IndexSet *marks = NULL;
	Marker m;
	Index *ix = NULL;
	char dir[PATH_MAX], hex[STRATA_ID_HEX_LEN + 1];
	int rc;

	memset(st, 0, sizeof *st);
	memset(&plan, 0, sizeof plan);
	memset(&m, 0, sizeof m);
	if (o->nignore && !o->dry_run)
		return strata_err_set(err, STRATA_EUSAGE, "prune: ignoring snapshots is for dry runs only");
	if (o->max_unused < 0 || o->max_unused > 1)
		return strata_err_set(err, STRATA_EUSAGE, "prune: the unused share must lie between 0 and 1");
	/* Restore-test records of forgotten snapshots: small files nothing
	 * depends on, so they go first, whatever happens to the packs. */
	rc = verified_prune(repo, o->ignore, o->nignore, o->dry_run, &st->verified_removed,
	                    &st->verified_snapshots, err);
	if (rc == 0 && st->verified_removed)
		prune_say(o, "%s %llu restore-test records of %llu forgotten snapshots",
		          o->dry_run ? "would delete" : "deleted", (unsigned long long)st->verified_removed,
		          (unsigned long long)st->verified_snapshots);
	if (rc == 0)
		rc = repo_index(repo, &ix, err);
	if (rc)
		goto out;
	/* Older plans first; no new plan while one is pending (its condemned
	 * packs would confuse this run's accounting of repacked copies). */
	rc = prune_sweep_plans(repo, ix, o, NULL, NULL, st, err);
	if (rc || (st->plans_pending && !o->dry_run))
		goto out;

	/* Snapshots first, then the index: every snapshot listed has its index
	 * files stored before it (FORMAT.md "Write ordering"), so the sync
	 * that follows sees every blob they need. */
	rc = list_snapshots(repo, &snaps, &nsnaps, err);
	if (rc == 0)
		rc = indexfile_sync(repo, ix, err);
	if (rc == 0) {
		rc = index_foreach_pack(ix, collect_pack, &packs, err);
		if (rc == -ENOMEM)
			strata_err_set(err, rc, "out of memory");
	}
	if (rc)
		goto out;
	if (packs.n)
		qsort(packs.v, packs.n, sizeof *packs.v, prune_cmp_id);
	rc = prune_scratch_dir(repo, "marks", dir, sizeof dir, err);
	if (rc == 0)
		rc = index_set_open(dir, &marks, err);
	if (rc)
		goto out;
	m.repo = repo;
	m.ix = ix;
	m.ctx = codec_ctx_new();
	m.seen = marks;
	m.packs = &packs;
	m.err = err;
	if (!m.ctx) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nsnaps && rc == 0; i++) {
		if (is_ignored(o, snaps[i].id))
			continue;
		st->snapshots++;
		rc = prune_walk_snapshot(&m, &snaps[i]);
		if (o->progress) {
			PruneProgress pp = { "mark", i + 1, nsnaps, 0, 0 };
			o->progress(&pp, o->progress_ctx);
		}
	}
	if (rc == 0)
		rc = prune_walk_wal(&m);
	if (rc == 0)
		rc = find_orphans(repo, &packs, &orphans, err);
	if (rc)
		goto out;
	if (decide(&packs, &orphans, o->max_unused, st) != 0) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	prune_say(o, "marked %llu blobs (%llu bytes) reachable from %llu snapshots and the WAL archive in %llu packs",
	    (unsigned long long)st->used_blobs, (unsigned long long)st->used_bytes,
	    (unsigned long long)st->snapshots, (unsigned long long)st->packs);
	if (o->dry_run) {
		/* The copies would hold the live bytes plus one trailer per pack. */
		uint64_t copies = st->repack_used_bytes + (st->repack_packs ? pack_overhead(0) : 0);
		st->bytes_to_free = st->unused_pack_bytes + st->orphan_bytes + st->repack_bytes - copies;
		goto out;
	}
	if (st->unused_packs + st->orphan_packs + st->repack_packs == 0)
		goto out;
	if (st->repack_packs) {
		prune_say(o, "repacking %llu packs (%llu live bytes)", (unsigned long long)st->repack_packs,
		    (unsigned long long)st->repack_used_bytes);
		rc = repack(repo, o, &packs, marks, &plan.written, st, err);
		if (rc)
			goto out;
	}
	plan.created_ns = prune_now_ns();
	plan.snaps = malloc((nsnaps ? nsnaps : 1) * sizeof *plan.snaps);
	if (!plan.snaps) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nsnaps; i++)
		memcpy(plan.snaps[plan.nsnaps++], snaps[i].id, STRATA_ID_LEN);
	for (size_t i = 0; i < packs.n + orphans.n; i++) {
		const PackStat *src = i < packs.n ? &packs.v[i] : &orphans.v[i - packs.n];
		PackStat *ps;
		if (src->why == WHY_KEEP)
			continue;
		if (!(ps = prune_pack_push(&plan.packs))) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		*ps = *src;
	}
	rc = prune_plan_write(repo, &plan, err);
	if (rc)
		goto out;
	st->plan_written = 1;
	memcpy(st->plan_id, plan.id, STRATA_ID_LEN);
	/* Recompressing at the default level may make copies larger than the
	 * blobs they came from: never report a negative saving. */
	uint64_t condemned = st->unused_pack_bytes + st->orphan_bytes + st->repack_bytes;
	st->bytes_to_free = condemned > st->bytes_written ? condemned - st->bytes_written : 0;
	codec_hex(plan.id, STRATA_ID_LEN, hex);
	prune_say(o, "prune plan %.8s written: %zu pack(s) condemned", hex, plan.packs.n);
	if (!o->mark_only)
		rc = prune_sweep_plans(repo, ix, o, plan.id, marks, st, err);
	else
		st->plans_pending++;
out:
	codec_ctx_free(m.ctx);
	index_set_free(marks);
	snapshot_list_free(snaps, nsnaps);
	free(packs.v);
	free(orphans.v);
	prune_plan_free(&plan);
	return rc;
}
