/* btrfschanges.h — what changed in a btrfs subvolume between two of the
 * read-only snapshots `backup --fs-snapshot btrfs` takes (backup
 * --changes btrfs; tools/cli/doc/changes.md).
 *
 * Owns: reading a snapshot's identity (BTRFS_IOC_GET_SUBVOL_INFO: the
 * UUID of the subvolume it was taken of, and otransid, the transaction
 * that made it), and the search of a newer snapshot's fs tree for every
 * item written after that transaction, as `btrfs subvolume find-new`
 * does (BTRFS_IOC_TREE_SEARCH_V2 with min_transid): an INODE_ITEM whose
 * transid, a DIR_ITEM/DIR_INDEX whose transid, or an EXTENT_DATA whose
 * generation is after it marks its inode changed; in the transaction
 * itself only a directory entry naming a subvolume root does (written by
 * a snapshot's creation after the copy: btrfschanges.c "Found"). Every
 * change to a file's data or metadata made after the snapshot rewrites its
 * inode item or an extent in a later transaction, and every entry
 * added, removed or renamed rewrites its directory's inode item (mtime)
 * and dir items; so the changed inodes cover every difference. Changed
 * directories become CHANGESET_RELIST, other inodes CHANGESET_STAT at
 * each of their names (INODE_REF/INODE_EXTREF, directories' paths by
 * BTRFS_IOC_INO_LOOKUP).
 *
 * Privileges: the tree search and INO_LOOKUP need CAP_SYS_ADMIN; without
 * it btrfschanges_find fails with -EPERM and the caller scans.
 * Never: writes to the filesystem. Thread safety: none needed (no state).
 */
#ifndef STRATA_STORE_BTRFSCHANGES_H
#define STRATA_STORE_BTRFSCHANGES_H

#include <stddef.h>
#include <stdint.h>

#include "store/backup/changeset.h"
#include "store/error.h"

/* btrfschanges_info — of the snapshot whose root directory is snap_root:
 * the UUID of the subvolume it was taken of (out_src_uuid, 16 bytes) and
 * the transaction that made it (*out_gen). 0, or -errno naming snap_root
 * (-ENOTTY: not btrfs, or a kernel before 4.18). */
int btrfschanges_info(const char *snap_root, uint8_t out_src_uuid[16], uint64_t *out_gen, StrataErr *err);

/* btrfschanges_item — does one fs-tree item (type, data[0..len), as a
 * tree search returns it) mark its inode, given the recorded snapshot's
 * transaction since? BTRFSCHANGES_DIR (a directory: list it again),
 * BTRFSCHANGES_OTHER (stat it at its names), 0 (no), or -EIO when the
 * item is too short. Written after since: any INODE_ITEM (transid),
 * DIR_ITEM/DIR_INDEX (transid) or EXTENT_DATA (generation); in since
 * itself only a DIR_ITEM/DIR_INDEX naming a subvolume root (the entry a
 * snapshot's creation adds after copying the root). */
enum { BTRFSCHANGES_DIR = 1, BTRFSCHANGES_OTHER = 2 };
int btrfschanges_item(uint8_t type, const uint8_t *data, size_t len, uint64_t since);

/* btrfschanges_find — mark in cs every path of snapshot snap_root whose
 * inode changed after transaction since_gen (the recorded snapshot's
 * otransid; see "Found" in btrfschanges.c for the one kind of item of
 * since_gen itself that counts), as recorded paths:
 * live_root (absolute, clean: where the subvolume's root is backed up
 * from) joined with the path inside the snapshot. Only paths at or below
 * within (absolute, clean) are marked. *out_inodes gets the inodes
 * found changed. 0, or -errno (-EPERM without CAP_SYS_ADMIN) with err
 * naming snap_root; cs may then hold some marks: discard it. */
int btrfschanges_find(const char *snap_root, uint64_t since_gen, const char *live_root, const char *within,
                      ChangeSet *cs, uint64_t *out_inodes, StrataErr *err);

#endif
