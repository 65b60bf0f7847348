/* prune_internal.h — what the prune files share; not part of the API.
 *
 *   prune.c        prune_run: options, the mark phase (charging, orphans,
 *                  deciding, repacking), writing the plan; shared helpers
 *   prune_walk.c   walking roots (snapshot trees, WAL descriptors) to mark
 *                  blobs or, in a sweep, to find condemned packs still needed
 *   prune_plan.c   the plan file prune/<id> (FORMAT.md §19.2)
 *   prune_sweep.c  carrying plans out under the exclusive lock (§19.4)
 */
#ifndef STRATA_STORE_PRUNE_INTERNAL_H
#define STRATA_STORE_PRUNE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "store/codec.h"
#include "store/index.h"
#include "store/prune/prune.h"
#include "store/snapshot.h"

#define PRUNE_PLAN_DIR "prune"

/* Why a pack is condemned (as written in plans, FORMAT.md §19.2). */
enum { WHY_KEEP = 0, WHY_UNUSED, WHY_ORPHAN, WHY_REPACK };

typedef struct PackStat {
	uint8_t  id[STRATA_ID_LEN];
	uint8_t  kind;               /* PACK_KIND_DATA / PACK_KIND_TREE */
	uint8_t  why;                /* WHY_* */
	uint8_t  resurrected;        /* sweep: a newer snapshot needs it */
	uint8_t  in_mixed;           /* sweep: listed by an index file that keeps other packs */
	uint8_t  locked_index;       /* sweep: listed by an index file under retention: kept */
	uint32_t count;              /* entries (0 for orphans: unknown) */
	uint64_t size;
	uint64_t used_count, used_bytes;
} PackStat;

typedef struct PackList {
	PackStat *v;
	size_t n, cap;
} PackList;

typedef struct Plan {
	uint8_t  id[STRATA_ID_LEN];
	int64_t  created_ns;
	uint8_t (*snaps)[STRATA_ID_LEN];   /* sorted */
	size_t   nsnaps;
	PackList packs;                    /* condemned, sorted by id */
	PackList written;                  /* repack copies */
} Plan;

/* Walking trees, in one of two modes. */
typedef struct Marker {
	Repo     *repo;
	Index    *ix;
	CodecCtx *ctx;
	IndexSet *seen;              /* blobs reached (mark) or known safe (sweep) */
	int       sweep;             /* 0: charge packs; 1: resurrect condemned ones */
	PackList *packs;             /* mark: every pack; sweep: the condemned ones */
	IndexSet *rescued;           /* sweep: blobs the plan copied; may be NULL */
	char      root[64];          /* what is being walked: "snapshot 3fa1c2d4", "the WAL archive" */
	int       depth;
	int       resyncs;           /* index re-syncs after a miss (prune_walk.c) */
	StrataErr *err;
} Marker;

/* ---- prune.c ---- */

/* prune_say — a progress line through o->log (if set). */
void prune_say(const PruneOptions *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int64_t prune_now_ns(void);                      /* CLOCK_REALTIME */
int prune_cmp_id(const void *a, const void *b);  /* memcmp of STRATA_ID_LEN bytes */
/* PackStat starts with its ID, so prune_cmp_id orders and finds both. */
PackStat *prune_pack_find(const PackList *l, const uint8_t id[STRATA_ID_LEN]);
PackStat *prune_pack_push(PackList *l);          /* zeroed new last element; NULL on ENOMEM */
/* prune_delete — delete repository object name; already gone is success
 * (sweeps are repeated after a crash). */
int prune_delete(Repo *repo, const char *name, StrataErr *err);
/* prune_scratch_dir — "<cache>/prune-<what>", for a scratch IndexSet. */
int prune_scratch_dir(Repo *repo, const char *what, char *out, size_t len, StrataErr *err);

/* prune_charge — the sealed bytes of its pack a reached blob keeps: its
 * length, or for a frame's member (FORMAT.md 9a) its share of the frame,
 * rounded up: its plaintext and 1/M of the HEADER over the frame's
 * plaintext. The members of a live frame add up to at least its length,
 * so a pack whose frames are all live has nothing unused; a dead member
 * leaves about its share unused, which repacking wins back. */
uint64_t prune_charge(const IndexEntry *e);

/* ---- prune_walk.c ---- */

/* Walk a snapshot's trees / every WAL descriptor with m (its mode decides
 * whether reached blobs are charged or checked). Errors: STRATA_EDAMAGED
 * naming the root and blob; backend and scratch-set errors. */
int prune_walk_snapshot(Marker *m, const Snapshot *s);
int prune_walk_wal(Marker *m);

/* ---- prune_plan.c ---- */

/* prune_plan_write — seal and store p (fills p->id). prune_plan_read —
 * load prune/<id>, snaps and packs sorted. prune_plan_delete — ENOENT is
 * not an error. prune_plan_free accepts a zeroed Plan. */
int prune_plan_write(Repo *repo, Plan *p, StrataErr *err);
int prune_plan_read(Repo *repo, const uint8_t id[STRATA_ID_LEN], Plan *p, StrataErr *err);
int prune_plan_delete(Repo *repo, const uint8_t id[STRATA_ID_LEN], StrataErr *err);
void prune_plan_free(Plan *p);

/* ---- prune_sweep.c ---- */

/* prune_sweep_plans — sweep every pending plan that is ready (taking the
 * exclusive lock); count the others in st->plans_pending with a reason in
 * st->deferred. fresh_id/marks: the plan this run just wrote and its mark
 * set, or NULL. With o->dry_run only counts. */
int prune_sweep_plans(Repo *repo, Index *ix, const PruneOptions *o, const uint8_t *fresh_id,
                      IndexSet *marks, PruneStats *st, StrataErr *err);

#endif
