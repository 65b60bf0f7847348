/* mount_fs.h — the file system `strata mount` serves: the MountFsOps
 * callbacks (mount_fuse.h) over a repository's snapshots.
 *
 * Owns: attributes (snapshot entries keep their modes, owners and times;
 * the virtual directories above them are read-only directories of the
 * mounting user, dated by the newest snapshot), directory listings,
 * symlink targets, and reading files at any offset: an open file keeps
 * its chunk list, and a read fetches only the chunks covering the bytes
 * asked for (through the MountCache), so one file comes back without a
 * full restore.
 *
 * Never: names snapshots or parses the layout (mount_layout.h); parses
 * options, locks or opens the repository (cmd_mount.c).
 * Thread safety: none; the FUSE loop is single-threaded (mount_fuse.h).
 */
#ifndef STRATA_TOOLS_MOUNT_FS_H
#define STRATA_TOOLS_MOUNT_FS_H

#include <sys/types.h>

#include "tools/cli/mount_cache.h"
#include "tools/cli/mount_fuse.h"
#include "tools/cli/mount_layout.h"

/* The ctx of mount_fs_ops. A plain value: zero it, then set up the cache
 * and the layout (layout.cache = &cache) and uid/gid. */
typedef struct MountFs {
	MountCache cache;
	MountLayout layout;
	uid_t uid;                /* owner shown on the virtual directories */
	gid_t gid;
} MountFs;

/* The callbacks; their ctx is a MountFs. Errors as mount_fuse.h says:
 * -ENOENT, -ENOTDIR, -EISDIR, -EINVAL, -EIO (damaged or unreadable
 * repository data, warned on stderr), -ENOMEM. */
extern const MountFsOps mount_fs_ops;

#endif
