/* restore_delta.h — what an existing file in a restore target already
 * holds of the file a snapshot records there (restore --delta).
 *
 * Owns: comparing an open regular file with a tree node's chunk list and
 * copying the chunks it holds into the file being restored. Two passes:
 * first each of the snapshot's chunks is read at its own offset and its
 * keyed hash compared with the chunk ID (a file that is unchanged, grew
 * at the end, or changed in place matches there); then, only if chunks
 * are still missing below the old file's end, the old file is cut with
 * the repository's chunker (the backup's cut points: content that moved
 * inside the file is found again) and each piece hashed and looked up.
 * A chunk counts as present only when its keyed hash equals its ID, so
 * reused bytes are exactly the snapshot's (FORMAT.md §8: chunk ID).
 *
 * Never: writes the old file, fetches from the repository, prints.
 * Thread safety: stateless apart from the RestoreDelta the caller owns;
 * repo is only read (keys and chunker).
 */
#ifndef STRATA_STORE_RESTORE_DELTA_H
#define STRATA_STORE_RESTORE_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/repo.h"
#include "store/tree.h"

/* RESTORE_DELTA_NONE — old_off of a chunk the old file lacks. */
#define RESTORE_DELTA_NONE UINT64_MAX

typedef struct RestoreDelta {
	uint64_t *old_off;         /* per chunk of the node: its offset in the old file, or NONE */
	size_t nchunks;
	int identical;             /* old file == the node's content, byte for byte */
	uint64_t bytes_present;    /* raw bytes of the node's chunks the old file holds */
	uint64_t bytes_read;       /* bytes of the old file read to find out */
} RestoreDelta;

/* restore_delta_scan — compare the regular file open (readable) as fd,
 * old_size bytes long, with node n (a NODE_FILE) of a snapshot of repo.
 * Fills *out (free with restore_delta_free). path names the file in
 * messages. Errors: -errno reading fd (message naming path), -ENOMEM. */
int restore_delta_scan(Repo *repo, int fd, uint64_t old_size, const TreeNode *n, const char *path,
                       RestoreDelta *out, StrataErr *err);

/* restore_delta_copy — write the chunks d found in old_fd to their places
 * in new_fd (a file already sized to n->size), runs of adjacent chunks in
 * one copy_file_range (a reflink where the file system shares extents);
 * returns the bytes copied in *out_bytes. -errno (message naming path). */
int restore_delta_copy(int old_fd, int new_fd, const TreeNode *n, const RestoreDelta *d, const char *path,
                       uint64_t *out_bytes, StrataErr *err);

/* restore_delta_free — accepts a zeroed RestoreDelta. */
void restore_delta_free(RestoreDelta *d);

#endif
