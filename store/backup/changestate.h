/* changestate.h — what change tracking remembers between backups, in the
 * local cache (FORMAT.md "Local cache", tools/cli/doc/changes.md).
 *
 * Owns: one small file per set of source paths,
 * <cache>/changes/<key>, naming the snapshot the last complete backup of
 * those paths wrote and, per source path read from a btrfs snapshot, the
 * subvolume snapshotted (its UUID) and the transaction of that snapshot.
 * The key (changestate_key) covers the host, the source paths and the
 * excludes, so a backup with other excludes never starts from state
 * recorded under different ones.
 *
 * Correctness never depends on this file: a missing, damaged or
 * unfamiliar one means a full scan, and the backup engine uses a change
 * set only when its parent is the snapshot named here (backup.h).
 * Never: reads the source. Thread safety: none needed (no state).
 */
#ifndef STRATA_STORE_CHANGESTATE_H
#define STRATA_STORE_CHANGESTATE_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/repo.h"

/* Per source path (in the order of the snapshot's paths). */
typedef struct ChangeSource {
	int btrfs;                  /* read from a btrfs snapshot: */
	uint8_t uuid[16];           /* the subvolume snapshotted */
	uint64_t gen;               /* the snapshot's otransid */
} ChangeSource;

typedef struct ChangeState {
	uint8_t snapshot[STRATA_ID_LEN];
	ChangeSource *src;          /* malloc'ed */
	size_t nsrc;
	/* A change journal's position (store/backup/journal.h), taken
	 * before that backup's walk: */
	int journal;
	char journal_run[17];
	uint64_t journal_offset;
	/* The names of the files with more than one link in the snapshot
	 * (backup.h BackupResult.link_paths), malloc'ed. */
	char **links;
	uint64_t (*link_inodes)[2];        /* (device, inode) of each */
	size_t nlinks;
} ChangeState;

/* changestate_key — the file name for host, paths and excludes (in the
 * order given), 16 hex digits and a NUL, into out. */
void changestate_key(const char *host, const char *const *paths, size_t npaths, const char *const *excludes,
                     size_t nexcludes, char out[17]);

/* changestate_load — the state saved under key. STRATA_ENOTFOUND when
 * none, STRATA_EFORMAT when unreadable (err says why); *out written only
 * on success (changestate_clear). */
int changestate_load(Repo *repo, const char *key, ChangeState *out, StrataErr *err);

/* changestate_save — replace the state under key (atomically). */
int changestate_save(Repo *repo, const char *key, const ChangeState *st, StrataErr *err);

/* changestate_drop — remove the state under key (a later backup scans
 * whole). 0, or -errno other than -ENOENT. */
int changestate_drop(Repo *repo, const char *key);

void changestate_clear(ChangeState *st);

#endif
