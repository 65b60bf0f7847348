/* check_internal.h — what the check files share; not part of the API.
 *
 *   check.c         check_run: the phases in order; the context's fatal
 *                   error and progress; names, subsets
 *   check_idmap.c   CheckIdMap, the ID hash map (check_idmap.h)
 *   check_index.c   the tolerant local index and the pack listing, shared
 *                   with repair
 *   check_struct.c  phases 1-4: config, key files, packs in storage, index
 *                   files against packs and their trailers
 *   check_data.c    phase 5, read-data: packs streamed, every blob opened
 *   check_thaw.c    phase 5 for archived packs: left out, or thawed
 *                   (RestoreObject) within a budget and waited for
 *   check_walk.c    phases 6-7: snapshots, their trees and the WAL archive,
 *                   every chunk reference against the index and the damage
 *   check_verified.c  phase 8: the restore-test records (store/verified.h)
 *   check_report.c  recording problems, damaged chunks and the entries that
 *                   depend on them; the report's order and its freeing
 *
 * Threads: the structure and read-data phases run jobs on CheckCtx.pool;
 * everything in CheckCtx below mu is guarded by it while they run. The
 * walk runs on the calling thread alone. Functions named *_locked want mu
 * held.
 */
#ifndef STRATA_STORE_CHECK_INTERNAL_H
#define STRATA_STORE_CHECK_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store/check/check.h"
#include "store/check/check_idmap.h"
#include "store/pack.h"
#include "store/sys/workpool.h"

#define WALK_MAX_DEPTH 1024
#define WALK_PATH_MAX  8192
#define RAW_MAX        (1u << 30)   /* refuse to allocate for a blob claiming more */

/* A tree's state in CheckCtx.trees. */
enum { WALK_CLEAN = 1, WALK_DAMAGED = 2, WALK_UNREADABLE = 3 };

/* check_report_chunk_locked's returns besides an index: out of memory,
 * and damage counted but not listed (past CHECK_MAX_CHUNKS; also the
 * CheckCtx.dmg value). */
#define CHUNK_OOM      SIZE_MAX
#define CHUNK_UNLISTED (SIZE_MAX - 1)

typedef struct CheckPack {
	uint8_t  id[STRATA_ID_LEN];
	uint8_t  kind;
	uint8_t  in_storage, in_index;
	uint8_t  trailer_bad;      /* its footer or trailer does not decode (reported) */
	uint8_t  reported;         /* its size differs from an index file's (reported) */
	uint8_t  mismatch;         /* its trailer or kind disagrees with an index file (reported) */
	uint8_t  archived;         /* the listing names an archive class (GLACIER, DEEP_ARCHIVE) */
	uint8_t  cold;             /* archived and not readable now: its trailer was not read
	                            * (a HEAD said so, or a GET answered InvalidObjectState) */
	uint64_t size;             /* in storage */
	PackEntry *ix_entries;     /* an index file's entries, kept when the trailer is bad */
	size_t   ix_n;
} CheckPack;

typedef struct CheckCtx {
	Repo *repo;
	Index *ix;
	const CheckOptions *opts;
	CheckReport *r;
	WorkPool *pool;
	pthread_mutex_t mu;        /* guards everything below from the workers */
	int fatal;
	StrataErr ferr;
	CheckPack *packs;
	size_t npacks, packs_cap;
	CheckIdMap pack_of;        /* pack ID → index in packs */
	CheckIdMap dmg;            /* chunk ID → index in r->chunks, or CHUNK_UNLISTED */
	CheckIdMap orphan;         /* chunk ID → pack index, for packs no index file lists */
	CheckIdMap trees;          /* tree ID → WALK_*; unreadable: | (record index + 1) << 2 */
	CheckIdMap clean_files;    /* BLAKE2b of a file's chunk list → 1: every chunk usable */
	CheckProgress prog;
	/* Listed before the index is synced and the packs are listed: every
	 * object they name was durable before them (FORMAT.md "Write
	 * ordering"), so a backup running meanwhile cannot make a pack look
	 * missing. */
	uint8_t (*snap_ids)[STRATA_ID_LEN]; size_t nsnap_ids;
	uint8_t (*ix_ids)[STRATA_ID_LEN];   size_t nix_ids;
	struct timespec last_sync;  /* of the local index by check_walk; 0: never */
	char path[WALK_PATH_MAX];
} CheckCtx;

/* ---- check.c ---- */

/* check_fatal[_locked] — stop the check with rc (the first one wins); e's
 * message when it has one, else "fallback: strerror(rc)". */
void check_fatal_locked(CheckCtx *c, int rc, const StrataErr *e, const char *fallback);
void check_fatal(CheckCtx *c, int rc, const StrataErr *e, const char *fallback);
int  check_is_fatal(CheckCtx *c);
/* check_phase — a new phase of total items; check_step_locked — one done. */
void check_phase(CheckCtx *c, const char *name, uint64_t total);
void check_step_locked(CheckCtx *c);
void check_progress_locked(CheckCtx *c);
int  check_cmp_id(const void *a, const void *b);   /* memcmp of STRATA_ID_LEN bytes */

/* ---- check_index.c ---- */

/* check_damage_code — 1 when rc means the object read is damaged (as
 * opposed to the check failing: I/O, memory). */
int check_damage_code(int rc);
/* check_index_sync — indexfile_sync that skips, instead of failing on, a
 * stored index file that cannot be read, and writes nothing. */
int check_index_sync(Repo *repo, Index *ix, StrataErr *err);

/* ---- check_report.c ---- */

void check_report_problem_locked(CheckCtx *c, CheckProblemKind kind, int warning, const uint8_t *object,
                                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* check_report_problem — the same, taking mu. */
void check_report_problem(CheckCtx *c, CheckProblemKind kind, int warning, const uint8_t *object,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* check_report_chunk_locked — record a damaged chunk (pack NULL: no
 * location). Its index in r->chunks, CHUNK_UNLISTED past
 * CHECK_MAX_CHUNKS, or CHUNK_OOM (fatal set). */
size_t check_report_chunk_locked(CheckCtx *c, const uint8_t id[STRATA_ID_LEN], uint8_t type,
                                 CheckChunkReason reason, const uint8_t *pack, uint32_t offset,
                                 uint32_t length, uint32_t raw_len, const char *detail);
/* check_report_add_user — an entry depending on chunk record k (snap NULL:
 * the WAL archive); nothing past the listing limits. -ENOMEM. */
int check_report_add_user(CheckCtx *c, size_t k, const uint8_t *snap, const char *path, int is_tree,
                          uint64_t offset, uint64_t length);
/* check_report_sort — chunks by location, packs read by ID. */
void check_report_sort(CheckReport *r);

/* ---- check_struct.c ---- */

int check_struct_keys(CheckCtx *c, StrataErr *err);
/* check_struct_on_pack — a pack found in storage (a CheckPackInfoFn over
 * ctx = the CheckCtx); -ENOMEM. */
int check_struct_on_pack(const uint8_t id[STRATA_ID_LEN], uint8_t kind, const BackendObjInfo *info, void *ctx);
int check_struct_indexfiles(CheckCtx *c, StrataErr *err);
int check_struct_orphans(CheckCtx *c, StrataErr *err);
/* check_struct_missing — after the walk: name the snapshots that need
 * each missing pack (CheckProblem.snapshots) in its problem. -ENOMEM. */
int check_struct_missing(CheckCtx *c, StrataErr *err);

/* ---- check_thaw.c ---- */

/* check_thaw_select — of the selected packs sel[0..*nsel), leave those
 * that can be read now: archived ones without opts->thaw are dropped
 * (counted unread); with thaw, restores are requested for the archived
 * ones within max_thaw_bytes, and with cold_wait the wait for them ends
 * when all are readable. Rewrites sel and *nsel. */
int check_thaw_select(CheckCtx *c, size_t *sel, size_t *nsel, StrataErr *err);

/* ---- check_data.c ---- */

/* Worker state of the pool (make_state/free_state of workpool_new). */
void *check_data_worker_new(void);
void check_data_worker_free(void *w);
int check_data_run(CheckCtx *c, StrataErr *err);

/* ---- check_walk.c ---- */

int check_walk_snapshots(CheckCtx *c, StrataErr *err);
int check_walk_wal(CheckCtx *c, StrataErr *err);

/* ---- check_verified.c ---- */

int check_verified(CheckCtx *c, StrataErr *err);

#endif
