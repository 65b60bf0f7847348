/* repair.h — putting a damaged repository back in order.
 *
 * Owns: rebuilding the index from the packs themselves (repair_index) and
 * rewriting snapshots around data that is gone (repair_snapshots).
 *
 * repair_index: every pack in storage is read back through its trailer;
 * new index files covering every usable pack are written and made durable,
 * then the old index files are deleted, and the local index is rebuilt to
 * match. A pack whose trailer is damaged but whose blobs an old index file
 * still locates, and (with read_data) a pack holding damaged blobs, is
 * salvaged: its healthy blobs are stored again in new packs, then it is
 * deleted. A pack whose trailer is damaged and that no index file locates
 * cannot be identified and is deleted. Chunks that were lost leave the
 * index, so the next backup that produces them stores them again, and the
 * snapshots that referenced them become whole (self-healing).
 *
 * repair_snapshots: for each snapshot that references chunks which are
 * not in the index (run repair_index first), writes a new snapshot in
 * which each damaged file keeps only its healthy chunks, in order (its size
 * shrinks by the bytes lost), and each directory whose tree cannot be
 * loaded is left out. The new snapshot keeps the original's time, host,
 * paths, tags and labels, gains the tag "repaired" and the labels
 * "repaired-from=<original ID>" and "repaired-files=<count>". The original
 * stays unless forget is set. A repaired copy already in the repository
 * (same repaired-from, same tree) is reused, so running it again, or again
 * with forget, saves nothing twice. A snapshot file that does not decode
 * cannot be rewritten; with forget it is deleted. A blob the snapshot
 * needs that is stored only under another blob type with the same ID
 * (repositories written before 2026-12-07, FORMAT.md "Index file") is
 * first stored again under its own type from the other blob's plaintext
 * (RepairSnap.healed); it is then no longer missing.
 *
 * Never: prints. Thread safety: one repair per Repo at a time, and no
 * other command should write to the repository meanwhile.
 */
#ifndef STRATA_STORE_REPAIR_H
#define STRATA_STORE_REPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/repo.h"

typedef struct RepairProgress {
	const char *phase;         /* "trailers", "salvage", "snapshots" */
	uint64_t done, total;
} RepairProgress;

typedef void (*RepairProgressFn)(const RepairProgress *p, void *ctx);

typedef struct RepairIndexOptions {
	int read_data;             /* verify every blob; salvage packs with damaged ones */
	int dry_run;               /* decide and report, change nothing */
	int threads;               /* 0 = one per core */
	RepairProgressFn progress; void *progress_ctx;
} RepairIndexOptions;

/* What happened to one pack that was not simply kept. */
typedef enum RepairPackAction {
	REPAIR_PACK_SALVAGED = 1,  /* healthy blobs stored again, pack deleted */
	REPAIR_PACK_DELETED        /* nothing identifiable in it, pack deleted */
} RepairPackAction;

typedef struct RepairPack {
	uint8_t id[STRATA_ID_LEN];
	RepairPackAction action;
	uint64_t chunks_kept;      /* stored again (or already held elsewhere) */
	uint64_t chunks_lost;
	char reason[256];
} RepairPack;

typedef struct RepairIndexResult {
	uint64_t packs;            /* in storage */
	uint64_t packs_kept;
	uint64_t index_files_written;
	uint64_t index_files_removed;
	uint64_t chunks_indexed;
	uint64_t chunks_lost;
	RepairPack *changed; size_t nchanged;
	uint8_t (*lost)[STRATA_ID_LEN]; size_t nlost;   /* IDs of lost chunks */
} RepairIndexResult;

/* repair_index — see above. Returns 0 with *out filled (free with
 * repair_index_result_free), or -errno / backend failures (nothing is
 * deleted before everything written is durable). */
int repair_index(Repo *repo, const RepairIndexOptions *opts, RepairIndexResult *out, StrataErr *err);
void repair_index_result_free(RepairIndexResult *r);

typedef struct RepairSnapshotsOptions {
	const char *const *refs;  size_t nrefs;   /* snapshots to repair; none = all */
	int forget;                /* delete each original once its repair is saved */
	int dry_run;
	RepairProgressFn progress; void *progress_ctx;
} RepairSnapshotsOptions;

typedef enum RepairSnapStatus {
	REPAIR_SNAP_INTACT = 0,    /* nothing missing: left alone */
	REPAIR_SNAP_REWRITTEN,     /* a repaired copy was saved as new_id */
	REPAIR_SNAP_EMPTY,         /* its root tree is unreadable: nothing to save */
	REPAIR_SNAP_UNDECODABLE    /* the snapshot file itself is damaged */
} RepairSnapStatus;

typedef struct RepairDamage {
	char    *path;             /* in the snapshot */
	int      is_dir;           /* a directory left out */
	uint64_t chunks_dropped, bytes_dropped;
} RepairDamage;

typedef struct RepairSnap {
	uint8_t id[STRATA_ID_LEN];
	uint8_t new_id[STRATA_ID_LEN];
	RepairSnapStatus status;
	int forgotten;             /* the original was deleted */
	uint64_t files, dirs;      /* damaged files, directories left out */
	uint64_t bytes_dropped;
	uint64_t healed;           /* blobs stored again under their own type (heal) */
	RepairDamage *damage; size_t ndamage;          /* at most 1000 listed */
	char message[STRATA_ERRMSG_LEN];               /* UNDECODABLE: why */
} RepairSnap;

typedef struct RepairSnapshotsResult {
	RepairSnap *snaps; size_t n;
} RepairSnapshotsResult;

/* repair_snapshots — see above. STRATA_ENOTFOUND / STRATA_EAMBIGUOUS for
 * a ref; -errno / backend failures. */
int repair_snapshots(Repo *repo, const RepairSnapshotsOptions *opts, RepairSnapshotsResult *out,
                     StrataErr *err);
void repair_snapshots_result_free(RepairSnapshotsResult *r);

#endif
