/* fssnap.h — read-only filesystem snapshots of the source paths, taken
 * for one backup and deleted after it (`backup --fs-snapshot`;
 * tools/cli/doc/consistency.md "Filesystem snapshots").
 *
 * Owns: finding the btrfs subvolume that holds each source path (the
 * directory of inode 256 at or above it, on a filesystem whose statfs
 * magic is BTRFS_SUPER_MAGIC), one read-only snapshot of each such
 * subvolume (BTRFS_IOC_SNAP_CREATE_V2 with BTRFS_SUBVOL_RDONLY) made in
 * that subvolume's root under the name ".strata-snap-PID-START" (START:
 * the process's start time in clock ticks since boot, field 22 of
 * /proc/PID/stat, so a recycled PID is told apart), the views that map
 * each source path onto its snapshot (backup.h BackupView), deleting the
 * snapshots (BTRFS_IOC_SNAP_DESTROY), and deleting those a killed run left
 * behind: a ".strata-snap-PID-START" whose process is gone, found in a
 * subvolume root this run snapshots.
 *
 * Privileges: creating a snapshot needs ownership of the subvolume (or
 * CAP_FOWNER) and write access to its root directory; deleting one needs
 * CAP_SYS_ADMIN, or the mount option user_subvol_rm_allowed. fssnap_take
 * checks the latter before it creates anything, so a run that could not
 * delete its snapshot never makes one.
 *
 * Never: prints (notes go through FsSnapNoteFn), snapshots a filesystem
 * other than btrfs, or deletes a subvolume whose name it did not give.
 * Thread safety: one thread, except fssnap_release_signal_safe.
 */
#ifndef STRATA_STORE_FSSNAP_H
#define STRATA_STORE_FSSNAP_H

#include <stddef.h>
#include <stdint.h>

#include "store/backup/backup.h"
#include "store/error.h"

/* The name prefix of every snapshot strata makes. */
#define FSSNAP_PREFIX ".strata-snap-"

typedef enum FsSnapMode {
	FSSNAP_NONE = 0,       /* read the source live */
	FSSNAP_BTRFS,          /* every source path must be on btrfs */
	FSSNAP_AUTO            /* a snapshot where the filesystem has them, else live */
} FsSnapMode;

/* What became of one source path. */
typedef struct FsSnapSource {
	const char *path;       /* the source path as recorded (clean, absolute) */
	const char *snapshot;   /* the snapshot it is read from (its root), or NULL: read live */
	const char *fs;         /* the filesystem type's name ("btrfs", "ext4", ...) */
	int64_t create_ns;      /* how long making the snapshot took (0 when shared or live) */
} FsSnapSource;

/* A line for the operator: a leftover removed, a path read live. */
typedef void (*FsSnapNoteFn)(const char *msg, void *ctx);

typedef struct FsSnap FsSnap;

/* fssnap_parse_mode — "btrfs", "auto" or "none" into *out. 0 or -EINVAL. */
int fssnap_parse_mode(const char *s, FsSnapMode *out);

/* fssnap_take — snapshot the subvolume of each of paths (absolute, clean,
 * as backup_run records them; a subvolume holding several is snapshotted
 * once, so they are consistent with each other), after deleting the
 * leftovers of killed runs in those subvolume roots (each named through
 * note). With FSSNAP_AUTO a path not on btrfs is read live (note says
 * so). Errors (nothing is left created): STRATA_EREFUSED for a path not on
 * btrfs in FSSNAP_BTRFS mode; -EPERM when the snapshot could not be
 * deleted afterwards or not made (the message says which privilege and
 * what to do); -errno naming the path otherwise. */
int fssnap_take(const char *const *paths, size_t npaths, FsSnapMode mode, FsSnapNoteFn note, void *note_ctx,
                FsSnap **out, StrataErr *err);

/* fssnap_views — the views for BackupOptions.views (one per snapshotted
 * source path; *out_n of them), owned by s. */
const BackupView *fssnap_views(const FsSnap *s, size_t *out_n);

/* fssnap_source — what became of source path i (i < npaths). */
const FsSnapSource *fssnap_source(const FsSnap *s, size_t i);

/* fssnap_release — delete every snapshot made (once; later calls and
 * fssnap_release_signal_safe do nothing for those gone). 0, or the first
 * error naming the snapshot left behind (the next run deletes it). */
int fssnap_release(FsSnap *s, StrataErr *err);

/* fssnap_release_signal_safe — the same from a signal handler: only
 * atomic operations and ioctl(2). Accepts NULL. */
void fssnap_release_signal_safe(FsSnap *s);

/* fssnap_free — free s; does not delete snapshots (release first).
 * Accepts NULL. */
void fssnap_free(FsSnap *s);

/* fssnap_is_ours — 1 when name is a snapshot name fssnap gives, with its
 * PID and start time in *out_pid and *out_start. For tests and cleanup. */
int fssnap_name_parse(const char *name, long *out_pid, unsigned long long *out_start);

#endif
