/* changeset.h — the paths that may have changed since a parent snapshot.
 *
 * Owns: a set of recorded source paths (absolute and clean, as
 * backup_run records them), each marked as an entry that may have changed
 * (CHANGESET_STAT: its inode's metadata or contents) or a directory whose
 * entries may have changed (CHANGESET_RELIST: list it again), and the two
 * questions the backup engine asks while it walks: what is marked at this
 * path, and is anything marked strictly below it.
 *
 * A change set is only ever a hint that narrows the walk (backup.h
 * BackupOptions.changes): a path not in it, with nothing below it, is
 * taken from the parent snapshot unchanged. Whoever builds one (btrfs
 * generations, store/backup/btrfschanges.h; the change journal,
 * store/backup/journal.h) must put in it every path whose entry differs
 * from the parent's, or not build one at all.
 *
 * Never: touches the filesystem. Thread safety: build in one thread, then
 * query from any once sealed.
 */
#ifndef STRATA_STORE_CHANGESET_H
#define STRATA_STORE_CHANGESET_H

#include <stddef.h>

enum {
	CHANGESET_STAT   = 1,   /* the entry at this path may differ */
	CHANGESET_RELIST = 2,   /* a directory: its entries may differ */
	CHANGESET_LINK   = 4    /* a name of a hard-linked file in the parent:
	                         * visited, since a change through another
	                         * of its names changes it too (backup.h) */
};

typedef struct ChangeSet ChangeSet;

/* changeset_new — an empty set into *out. 0 or -ENOMEM. */
int changeset_new(ChangeSet **out);

/* changeset_add — mark path (absolute and clean; copied) with flags
 * (CHANGESET_*; marks of the same path add up). 0, -EINVAL for a path
 * that is not absolute, -ENOMEM. Not after changeset_seal. */
int changeset_add(ChangeSet *cs, const char *path, int flags);

/* changeset_seal — sort and merge; required before the queries (and
 * again after more changeset_add). */
void changeset_seal(ChangeSet *cs);

/* changeset_flags — the marks at path exactly (0: none). */
int changeset_flags(const ChangeSet *cs, const char *path);

/* changeset_below — 1 when some marked path lies strictly below dir. */
int changeset_below(const ChangeSet *cs, const char *dir);

/* changeset_count — distinct paths marked (after seal). */
size_t changeset_count(const ChangeSet *cs);

/* changeset_path — the i-th path in sorted order (i < count). */
const char *changeset_path(const ChangeSet *cs, size_t i);

/* changeset_free — accepts NULL. */
void changeset_free(ChangeSet *cs);

#endif
