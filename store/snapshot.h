/* snapshot.h — snapshots: what a backup recorded, and finding them again.
 *
 * Owns: the Snapshot value, its encoding in "snapshots/<id>" files
 * (FORMAT.md "Snapshot file"), listing, and resolving a user's reference
 * ("latest", a hex prefix) to one snapshot.
 *
 * Never: walks trees or reads data packs.
 * Thread safety: functions on one Repo from one thread at a time.
 */
#ifndef STRATA_STORE_SNAPSHOT_H
#define STRATA_STORE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/repo.h"

typedef struct SnapshotSummary {
	uint64_t files;            /* regular files in the snapshot */
	uint64_t dirs;
	uint64_t files_new;        /* not in the parent */
	uint64_t files_changed;
	uint64_t files_unchanged;  /* taken from the parent without reading */
	uint64_t bytes_total;      /* logical bytes of all files */
	uint64_t bytes_read;       /* bytes actually read from the source */
	uint64_t bytes_added;      /* raw bytes of chunks new to the repository */
	uint64_t bytes_stored;     /* bytes written to packs (after zstd + AEAD) */
	uint64_t chunks_new;
	uint64_t tree_bytes_added; /* stored bytes of new tree objects */
	uint64_t errors;           /* source files that could not be read */
	double   duration_s;
} SnapshotSummary;

/* SNAPSHOT_PARTIAL_PATHS_MAX — how many affected paths a partial snapshot
 * lists (the first met); partial_count counts them all. 1000 paths of at
 * most PATH_MAX bytes keep the snapshot file far below its 16 MiB limit. */
#define SNAPSHOT_PARTIAL_PATHS_MAX 1000

/* One source path a partial snapshot lacks, or may hold inconsistently
 * (FORMAT.md §12). reason: "vanished" (gone between the directory listing
 * and its read), "unreadable" (an error opening or reading it), "changed"
 * (its size, mtime or ctime, or for a directory its entries, changed while
 * it was read, or another file took its name between lstat and open),
 * "skipped" (an archive entry strata refused); a newer strata may add
 * more. detail: what happened, for people ("Permission denied"). */
typedef struct SnapshotPartialPath {
	char *path;
	char *reason;
	char *detail;
} SnapshotPartialPath;

/* One owner ID with the name it had on the backup host (FORMAT.md §12
 * "owners"). name NULL: the ID had no name there (not written). */
typedef struct SnapshotOwner {
	uint32_t id;
	char    *name;
} SnapshotOwner;

/* SNAPSHOT_OWNERS_MAX — distinct user and group IDs a snapshot names
 * (each); past it further IDs go unnamed and restore keeps them numeric. */
#define SNAPSHOT_OWNERS_MAX 4096

typedef struct Snapshot {
	uint8_t  id[STRATA_ID_LEN];      /* name of the snapshot file */
	int64_t  time_ns;                /* unix time, nanoseconds */
	char    *host;
	char    *user;
	char   **paths;   size_t npaths;
	char   **tags;    size_t ntags;
	char   **labels;  size_t nlabels; /* "key=value" */
	uint8_t  tree[STRATA_ID_LEN];    /* root tree */
	int      has_parent;
	uint8_t  parent[STRATA_ID_LEN];
	SnapshotSummary summary;
	/* Partial (FORMAT.md §12): some source paths vanished, could not be
	 * read or changed while being read. `latest`, a backup's parent,
	 * --at/--at-height/--label and forget's keep counts skip it unless
	 * asked (snapshot_selectable). */
	int      partial;
	uint64_t partial_count;          /* paths affected, >= npartial_paths */
	SnapshotPartialPath *partial_paths; size_t npartial_paths;  /* the first ones met */
	/* A hold (FORMAT.md §12 "hold"): forget never removes the snapshot
	 * while it is held (snapshot_held). */
	int      held;
	char    *hold_reason;            /* why, for people; "" when none was given */
	int64_t  hold_time_ns;           /* when it was put */
	int64_t  hold_until_ns;          /* 0: until unhold; else it lapses then */
	/* Set when this file rewrote another (strata tag/hold, §12): the ID of
	 * the first snapshot file of the chain, as backed up. */
	int      has_original;
	uint8_t  original[STRATA_ID_LEN];
	/* The names of the owners of its entries on the backup host, so that
	 * a restore can map them to the restoring host's IDs (§12 "owners"). */
	SnapshotOwner *users;  size_t nusers;
	SnapshotOwner *groups; size_t ngroups;
} Snapshot;

/* snapshot_list — every snapshot, sorted by time (oldest first, ties by ID).
 * A snapshot file that fails to decode is an error naming it (STRATA_EAUTH
 * or STRATA_EFORMAT). *out array malloc'ed; free with snapshot_list_free. */
int snapshot_list(Repo *repo, Snapshot **out, size_t *out_n, StrataErr *err);
void snapshot_list_free(Snapshot *snaps, size_t n);

/* snapshot_selectable — 1 if a selection may pick snap: every rule that
 * chooses a snapshot for the user ("latest", a backup's parent, --at,
 * --at-height, --label, forget's --keep-last/--keep-hourly/... counts)
 * asks this, the one place the rule lives: a partial snapshot only with
 * include_partial (`--include-partial`). Listings show every snapshot. */
int snapshot_selectable(const Snapshot *snap, int include_partial);

/* snapshot_owner_name — the name v[0..n) gives id, or NULL. */
const char *snapshot_owner_name(const SnapshotOwner *v, size_t n, uint32_t id);

/* snapshot_owner_note — record id in *v (of *n) unless there, with the
 * name lookup() gives it (may be NULL: then no name); no more than
 * SNAPSHOT_OWNERS_MAX. Never fails: without memory the ID stays unnamed. */
void snapshot_owner_note(SnapshotOwner **v, size_t *n, uint32_t id, char *(*lookup)(uint32_t id));

/* snapshot_held — 1 if snap is held at now_ns (a hold without an end, or
 * one whose end is later). */
int snapshot_held(const Snapshot *snap, int64_t now_ns);

/* Which snapshots a query wants; NULL fields (or zero counts) match all. */
typedef struct SnapshotFilter {
	const char *host;
	const char *const *tags;  size_t ntags;    /* every one must be present */
	const char *const *paths; size_t npaths;   /* exactly this set of paths */
	int (*match)(const Snapshot *snap, void *ctx);  /* optional extra test */
	void *match_ctx;
	int include_partial;       /* 0: a partial snapshot never matches (a
	                            * selection); 1: it does (a listing) */
} SnapshotFilter;

/* snapshot_matches — 1 if snap passes f. f NULL matches every snapshot,
 * partial ones included. */
int snapshot_matches(const Snapshot *snap, const SnapshotFilter *f);

/* snapshot_latest — up to max (0 = all) snapshots matching f, newest
 * first. Served from the local snapshot catalogue: with 100,000 snapshots
 * the newest few cost no decryption. Free with snapshot_list_free. */
int snapshot_latest(Repo *repo, const SnapshotFilter *f, size_t max, Snapshot **out, size_t *out_n,
                    StrataErr *err);

/* snapshot_latest_before — snapshot_latest over the snapshots taken at or
 * before max_time_ns only; the newer ones are skipped in the catalogue
 * without being decoded. */
int snapshot_latest_before(Repo *repo, const SnapshotFilter *f, int64_t max_time_ns, size_t max,
                           Snapshot **out, size_t *out_n, StrataErr *err);

/* snapshot_resolve — resolve ref: "latest" (the newest snapshot
 * snapshot_selectable accepts) or a hex prefix of at least 4 characters
 * (any snapshot, partial or not).
 * Errors: STRATA_ENOTFOUND (the message names ref, and says when only
 * partial snapshots exist), STRATA_EAMBIGUOUS. */
int snapshot_resolve(Repo *repo, const char *ref, int include_partial, Snapshot *out, StrataErr *err);

/* snapshot_find — snapshot_resolve without partial snapshots for "latest". */
int snapshot_find(Repo *repo, const char *ref, Snapshot *out, StrataErr *err);

/* snapshot_load — read and decode snapshots/<id>. */
int snapshot_load(Repo *repo, const uint8_t id[STRATA_ID_LEN], Snapshot *out, StrataErr *err);

/* snapshot_decode — parse the decrypted JSON of snapshot file id (bytes
 * from storage: untrusted) into *out (free with snapshot_clear); on
 * failure *out is left empty. Errors: STRATA_EFORMAT, STRATA_EVERSION
 * (newer snapshot version), -ENOMEM; the message names the snapshot. */
int snapshot_decode(const uint8_t id[STRATA_ID_LEN], const uint8_t *buf, size_t len,
                    Snapshot *out, StrataErr *err);

/* snapshot_save — encode, encrypt and store snap; fills snap->id. A
 * complete snapshot is written as version 1, a partial one as version 2
 * (FORMAT.md §12: an older strata refuses it rather than take it for a
 * complete one). Caller guarantees every object snap references is
 * already durable. */
int snapshot_save(Repo *repo, Snapshot *snap, StrataErr *err);

/* snapshot_delete — remove snapshots/<id> (used by forget). */
int snapshot_delete(Repo *repo, const uint8_t id[STRATA_ID_LEN], StrataErr *err);

/* snapshot_label — value of label key in snap ("height" → "1234"), or NULL. */
const char *snapshot_label(const Snapshot *snap, const char *key);

/* snapshot_clear — free the fields of one snapshot. Accepts NULL. */
void snapshot_clear(Snapshot *snap);

/* id helpers: hex encoding (65 bytes with NUL) and the 8-char short form. */
void strata_id_hex(const uint8_t id[STRATA_ID_LEN], char out[STRATA_ID_HEX_LEN + 1]);
int  strata_id_parse(const char *hex, uint8_t out[STRATA_ID_LEN]);

#endif
