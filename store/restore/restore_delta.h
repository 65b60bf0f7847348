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
 * Chunks still missing are then looked up among the donors: other files
 * of the same directory the snapshot does not hold (strays, about to be
 * removed by --delete), cut and hashed once per directory. A table that
 * a database compacted into a new file after the snapshot, a rotated log:
 * their bytes come from the file that replaced them.
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

/* One chunk of a donor file. */
typedef struct RestoreDonorChunk {
	uint8_t  id[STRATA_ID_LEN];
	uint32_t donor;            /* index into RestoreDonors.fds */
	uint32_t len;
	uint64_t off;
} RestoreDonorChunk;

/* The donors of one directory: a plain value, zeroed to start. */
typedef struct RestoreDonors {
	int *fds;                  /* open read-only; closed by restore_donors_clear */
	size_t nfds, fds_cap;
	RestoreDonorChunk *chunks; /* sorted by ID once restore_donors_seal ran */
	size_t n, cap;
	uint64_t bytes_read;
} RestoreDonors;

/* restore_donors_add — cut the regular file open as fd (size bytes) with
 * repo's chunker, hash every piece, and keep fd (closed by
 * restore_donors_clear, also on failure). -errno reading (message naming
 * path), -ENOMEM. */
int restore_donors_add(Repo *repo, RestoreDonors *dn, int fd, uint64_t size, const char *path, StrataErr *err);

/* restore_donors_seal — sort what was added, for lookups. */
void restore_donors_seal(RestoreDonors *dn);

/* restore_donors_clear — close the files, free, zero. */
void restore_donors_clear(RestoreDonors *dn);

typedef struct RestoreDelta {
	uint64_t *old_off;         /* per chunk of the node: its offset in the old file, or NONE */
	uint32_t *src;             /* per chunk: 0 the old file, k > 0 donor k - 1 */
	size_t nchunks;
	int identical;             /* old file == the node's content, byte for byte */
	uint64_t bytes_present;    /* raw bytes of the node's chunks the old file holds */
	uint64_t bytes_read;       /* bytes of the old file read to find out */
} RestoreDelta;

/* restore_delta_scan — compare the regular file open (readable) as fd,
 * old_size bytes long (fd -1: there is none), with node n (a NODE_FILE)
 * of a snapshot of repo, then look what is missing up in donors (sealed;
 * may be NULL). Fills *out (free with restore_delta_free). path names the
 * file in messages. Errors: -errno reading fd (message naming path),
 * -ENOMEM. */
int restore_delta_scan(Repo *repo, int fd, uint64_t old_size, const TreeNode *n, const RestoreDonors *donors,
                       const char *path, RestoreDelta *out, StrataErr *err);

/* restore_delta_copy — write the chunks d found in old_fd or a donor to their places
 * in new_fd (a file already sized to n->size), runs of adjacent chunks in
 * one copy_file_range (a reflink where the file system shares extents);
 * returns the bytes copied in *out_bytes. -errno (message naming path). */
int restore_delta_copy(int old_fd, const RestoreDonors *donors, int new_fd, const TreeNode *n,
                       const RestoreDelta *d, const char *path, uint64_t *out_bytes, StrataErr *err);

/* restore_delta_free — accepts a zeroed RestoreDelta. */
void restore_delta_free(RestoreDelta *d);

#endif
