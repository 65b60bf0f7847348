/* backup_internal.h — what the ways of taking a snapshot share inside
 * store/ (backup.c for paths and stdin, tar_import.c for archives). */
#ifndef STRATA_STORE_BACKUP_INTERNAL_H
#define STRATA_STORE_BACKUP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store/backup/backup.h"
#include "store/blob.h"

/* backup_commit — finish a backup whose trees are stored through bw:
 * make every pack and index file durable (blobwriter_finish), complete
 * *sum from the writer's counters and the time since *t0, fill snap
 * (time, host, user, paths, tags, labels, parent: --parent or the newest
 * snapshot of the same host and paths) and save it last (FORMAT.md
 * "Write ordering"). snap->tree must be set; snap is the caller's to
 * clear. */
int backup_commit(Repo *repo, const BackupOptions *opts, BlobWriter *bw,
                  const char *const *paths, size_t npaths, int64_t time_ns,
                  const struct timespec *t0, SnapshotSummary *sum, Snapshot *snap,
                  StrataErr *err);

/* backup_parent_find — the parent backup_commit records for a snapshot
 * of host and paths (clean, in the order given): --parent
 * (opts->parent), else the newest snapshot of the same host and paths.
 * *out_has 0 when there is none; out_id (STRATA_ID_LEN bytes) written
 * only then. */
int backup_parent_find(Repo *repo, const BackupOptions *opts, const char *host, const char *const *paths,
                       size_t npaths, int *out_has, uint8_t *out_id, StrataErr *err);

/* backup_host — opts->host, else this host's name, into out (256 bytes),
 * as backup_commit records it. */
void backup_host(const BackupOptions *opts, char out[256]);

/* backup_user_name / backup_group_name — the name of uid/gid on this host
 * (getpwuid_r/getgrgid_r), malloc'ed, or NULL (no name, or no memory):
 * the lookups snapshot_owner_note makes for a snapshot's "owners". */
char *backup_user_name(uint32_t uid);
char *backup_group_name(uint32_t gid);

/* backup_excluded — does one of o->excludes match path or its last
 * component name? The one rule the walk (backup.c) and the listing taken
 * under --freeze-pid (frozen.c) apply, below each source path. */
int backup_excluded(const BackupOptions *o, const char *path, const char *name);
/* backup_partial_note — make snap (being built) partial for one source
 * path it lacks or may hold inconsistently (FORMAT.md §12; reason and
 * detail as SnapshotPartialPath's): the first SNAPSHOT_PARTIAL_PATHS_MAX
 * are listed, all counted. Never fails: without memory a path is only
 * counted. */
void backup_partial_note(Snapshot *snap, const char *path, const char *reason, const char *detail);

/* backup_result_fill — after snap was saved: its ID, *sum and its partial
 * fields into *r (may be NULL), the list moved out of snap. */
void backup_result_fill(BackupResult *r, Snapshot *snap, const SnapshotSummary *sum);

/* backup_partial_err — the STRATA_EPARTIAL message of a saved partial
 * snapshot: "... partial: N " then one or many (what happened to that
 * many paths). Returns STRATA_EPARTIAL. */
int backup_partial_err(const Snapshot *snap, const char *one, const char *many, StrataErr *err);

#endif
