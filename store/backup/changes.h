/* changes.h — choosing how a backup finds what changed since its parent
 * (`backup --changes auto|btrfs|journal|scan`; tools/cli/doc/changes.md).
 *
 * Owns: the decision before a backup (a change set from btrfs
 * generations, store/backup/btrfschanges.h; or a full scan, with the
 * reason), and what is recorded after it (store/backup/changestate.h) so
 * that the next backup can find its changes.
 *
 * Never: decides alone that a change set is safe to use: the engine
 * (backup.h BackupOptions.changes) checks again that the parent is the
 * snapshot the set belongs to. Thread safety: one thread.
 */
#ifndef STRATA_STORE_CHANGES_H
#define STRATA_STORE_CHANGES_H

#include <stddef.h>
#include <stdint.h>

#include "store/backup/backup.h"
#include "store/backup/fssnap.h"
#include "store/error.h"

typedef enum ChangesMode {
	CHANGES_AUTO = 0,   /* btrfs with --fs-snapshot btrfs, else scan */
	CHANGES_BTRFS,      /* btrfs generations; --fs-snapshot btrfs required */
	CHANGES_JOURNAL,    /* a change journal (`strata watch`) */
	CHANGES_SCAN        /* look at everything; record nothing */
} ChangesMode;

typedef struct ChangesPlan ChangesPlan;

/* changes_parse_mode — "auto", "btrfs", "journal" or "scan". 0 or -EINVAL. */
int changes_parse_mode(const char *s, ChangesMode *out);

/* changes_plan — before backup_run: decide for opts (paths, host,
 * excludes; fss: its filesystem snapshots, or NULL) and, when changes can
 * be found, set opts->changes and opts->changes_parent (owned by *out:
 * keep it until backup_run returned). Errors: STRATA_EUSAGE for btrfs
 * without fss; -ENOMEM. Anything else that stands in the way becomes a
 * full scan with its reason (changes_fallback). */
int changes_plan(Repo *repo, ChangesMode mode, const FsSnap *fss, BackupOptions *opts, ChangesPlan **out,
                 StrataErr *err);

/* changes_finish — after backup_run returned rc (0, STRATA_EPARTIAL or an
 * error) with *res: record the state the next backup starts from (a
 * complete snapshot), or drop it (anything else). Never fails: without a
 * record the next backup scans. */
void changes_finish(ChangesPlan *p, Repo *repo, int rc, const BackupResult *res);

/* changes_mode_used — "btrfs", "journal" or "scan"; changes_fallback —
 * why a full scan ran although changes were asked for ("" when not). */
const char *changes_mode_used(const ChangesPlan *p, const BackupResult *res);
const char *changes_fallback(const ChangesPlan *p, const BackupResult *res);
/* changes_marked — paths in the change set (0 without one). */
size_t changes_marked(const ChangesPlan *p);

/* changes_free — accepts NULL. */
void changes_free(ChangesPlan *p);

#endif
