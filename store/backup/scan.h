/* scan.h — directory listings made ahead of the backup's walk.
 *
 * Owns: worker threads that list directories (sorted bytewise, as the
 * walk stores them) and lstat every entry (fstatat on the directory's
 * descriptor, AT_SYMLINK_NOFOLLOW), in the order the walk will want them:
 * a listed directory's subdirectories are queued first-child-on-top, so
 * the workers go depth first like the walk, a bounded distance ahead of
 * it. The walk takes each directory's listing when it reaches it; a
 * listing not made yet is made by the taker itself (never waits on a
 * queue), one being made is waited for. The tree built from the listings
 * is the one a serial walk builds: the listing of a directory is made
 * after its own lstat, and every entry's stat after the listing, as in
 * the serial walk; only how far ahead differs.
 *
 * Never does: open a file, follow a symlink, descend into an excluded
 * directory (ScanOptions.excluded) or the one directory left out
 * (skip_dev/skip_ino: the repository's cache).
 *
 * Thread safety: one walking thread calls scan_take; the workers are
 * internal. scan_free stops and joins them.
 */
#ifndef STRATA_STORE_BACKUP_SCAN_H
#define STRATA_STORE_BACKUP_SCAN_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "store/error.h"

typedef struct Scan Scan;

typedef struct ScanEntry {
	char *name;
	struct stat st;               /* valid when err is 0 */
	int err;                      /* -errno of its fstatat, or 0 */
} ScanEntry;

/* One directory's listing: entries in bytewise name order, "." and ".."
 * and excluded names left out. */
typedef struct ScanDir {
	ScanEntry *e;
	size_t n;
	int err;                      /* -errno of opening or reading it, or 0 */
} ScanDir;

typedef struct ScanOptions {
	unsigned threads;             /* workers; 0: none, every listing made by scan_take */
	/* 1 when the entry at path (a full path; name its last component)
	 * is left out of the backup; NULL: none is. Called from the workers. */
	int (*excluded)(const void *ctx, const char *path, const char *name);
	const void *excluded_ctx;
	int skip;                     /* leave out the directory skip_dev/skip_ino */
	dev_t skip_dev;
	ino_t skip_ino;
} ScanOptions;

/* scan_new — start the workers (fewer when threads cannot be made: the
 * walk then lists more itself). -ENOMEM. */
int scan_new(const ScanOptions *o, Scan **out);

/* scan_take — the listing of directory path (clean, absolute; a path of
 * at most PATH_MAX-1 bytes), moved to the caller: made by a worker,
 * waited for, or made now. Its subdirectories are queued for the
 * workers. Returns 0 (d->err tells whether the directory could be read)
 * or -ENOMEM. Free with scan_dir_clear. */
int scan_take(Scan *s, const char *path, ScanDir *out);
void scan_dir_clear(ScanDir *d);

/* scan_threads — workers to use: STRATA_SCAN_THREADS when set (0 or 1:
 * the caller walks serially, with no Scan at all), else the online CPUs,
 * at least 2 (a listing overlaps the walk's reads even on one CPU) and at
 * most 8. */
unsigned scan_threads(void);

/* scan_free — stop and join the workers; drop listings never taken.
 * Accepts NULL. */
void scan_free(Scan *s);

#endif
