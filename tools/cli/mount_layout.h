/* mount_layout.h — the directory layout `strata mount` shows:
 *
 *   by-id/<short id>/...                 each snapshot's tree
 *   by-time/<YYYY-MM-DDTHH:MM:SS>/...    local time, as `snapshots` shows it
 *   by-label/<key>=<value>/<time>/...    snapshots carrying that label
 *   by-label/<key>=<value>/latest        -> the newest of them
 *   latest                               -> by-id/<newest>
 * ("latest" skips partial snapshots unless include_partial: the rule of
 * snapshot_selectable.)
 *
 * A short ID shared by two snapshots is shown in full for both; a second
 * snapshot in the same second gets "_<short id>" after its time.
 *
 * Owns: the snapshot list and the names given to snapshots, re-read at
 * most every refresh_ns when a top-level directory is looked at (so new
 * snapshots appear in a long-lived mount); resolving a path to what it
 * names, walking into a snapshot's trees through the MountCache; and
 * listing the virtual directories (everything above a snapshot's tree).
 *
 * Never: reads file data, or fills in file attributes (mount_fs.h).
 * Thread safety: none; the FUSE loop is single-threaded (mount_fuse.h).
 */
#ifndef STRATA_TOOLS_MOUNT_LAYOUT_H
#define STRATA_TOOLS_MOUNT_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/repo.h"
#include "store/snapselect.h"
#include "store/snapshot.h"
#include "store/tree.h"
#include "tools/cli/mount_cache.h"
#include "tools/cli/mount_fuse.h"

#define MOUNT_TIME_NAME_LEN 48

/* A plain value: zero it, set repo and cache (borrowed) and refresh_ns,
 * then mount_layout_load; mount_layout_free at the end. */
typedef struct MountLayout {
	Repo *repo;
	MountCache *cache;        /* for walking into snapshots' trees */
	int64_t refresh_ns;       /* re-read the snapshot list at most this often */
	int include_partial;      /* "latest" links may name a partial snapshot */
	const SnapFilter *filter; /* NULL, or serve only the snapshots of this group
	                             (store/snapselect.h; mount --host/--tag/...) */
	Snapshot *snaps;          /* oldest first */
	size_t nsnaps;
	char (*id_names)[STRATA_ID_HEX_LEN + 1];
	char (*time_names)[MOUNT_TIME_NAME_LEN];
	int64_t loaded_ns;        /* CLOCK_MONOTONIC of the last snapshot_list */
} MountLayout;

typedef enum MountWhereKind {
	MOUNT_ROOT,        /* "/" */
	MOUNT_TOP,         /* "/by-id", "/by-time", "/by-label" */
	MOUNT_LABEL,       /* "/by-label/<k=v>" */
	MOUNT_LINK,        /* "/latest", "/by-label/<k=v>/latest" */
	MOUNT_SNAPROOT,    /* a snapshot's top directory */
	MOUNT_NODE         /* an entry inside a snapshot */
} MountWhereKind;

enum { MOUNT_TOP_ID, MOUNT_TOP_TIME, MOUNT_TOP_LABEL };

/* What a path names. */
typedef struct MountWhere {
	MountWhereKind kind;
	int top;                      /* MOUNT_TOP: MOUNT_TOP_* */
	const char *label;            /* MOUNT_LABEL: "k=v", points into the caller's path */
	const Snapshot *snap;         /* MOUNT_SNAPROOT, MOUNT_NODE */
	const TreeNode *node;         /* MOUNT_NODE: valid until the next mount_cache_tree */
	char link[STRATA_ID_HEX_LEN + MOUNT_TIME_NAME_LEN + 16];  /* MOUNT_LINK target */
} MountWhere;

/* mount_layout_load — (re)read the snapshot list and name each snapshot.
 * On failure the old list stays. Errors: those of snapshot_list, -ENOMEM. */
int mount_layout_load(MountLayout *l, StrataErr *err);

/* mount_layout_free — drop the snapshot list and its names. */
void mount_layout_free(MountLayout *l);

/* mount_layout_resolve — what the absolute path in buf names. buf is a
 * writable copy of the path (cut into components; w->label may point into
 * it). Re-reads the snapshot list first when the path is at most three
 * components deep and the list is older than refresh_ns (a failure warns
 * and keeps the old list). Errors: -ENOENT, -ENOTDIR, -ENAMETOOLONG, and
 * those of mount_cache_tree. */
int mount_layout_resolve(MountLayout *l, char *buf, MountWhere *w);

/* mount_layout_list — the entries of a virtual directory (w->kind
 * MOUNT_ROOT, MOUNT_TOP or MOUNT_LABEL), given to fill without
 * attributes. 0 or -ENOMEM. */
int mount_layout_list(const MountLayout *l, const MountWhere *w, MountFillFn fill, void *fill_ctx);

/* mount_layout_newest_time — the newest snapshot's time (Unix ns), the
 * time shown on the virtual directories; 0 without snapshots. */
int64_t mount_layout_newest_time(const MountLayout *l);

#endif
