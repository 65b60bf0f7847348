/* filescache.h — what each source file looked like at its last backup.
 *
 * Owns: the files cache (FORMAT.md "Local cache"): source path →
 * (device, inode, size, mtime, ctime, chunk list). A file whose metadata is
 * unchanged is taken from here without being read; a file that only grew
 * is re-chunked from its old last chunk (backup.c).
 *
 * Correctness never depends on the cache: entries written by a backup that
 * did not finish are ignored (each run is marked in progress until its
 * packs and index are durable), and every entry is dropped when the chunk
 * index's epoch changes (a rebuild or prune may have removed chunks).
 * A damaged cache is recreated empty.
 *
 * Thread safety: one backup at a time per FilesCache; lookups and records
 * from the backup's walking thread.
 */
#ifndef STRATA_STORE_FILESCACHE_H
#define STRATA_STORE_FILESCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/repo.h"

typedef struct FilesCache FilesCache;

typedef struct FileMeta {
	uint64_t dev, ino, size;
	int64_t  mtime_ns, ctime_ns;
} FileMeta;

typedef struct CachedFile {
	FileMeta meta;
	uint8_t (*chunks)[STRATA_ID_LEN];
	uint32_t *lens;
	size_t n;
} CachedFile;

/* filescache_open — open the repository's files cache (in its cache
 * directory, or dir when not NULL) and start a run. */
int filescache_open(Repo *repo, const char *dir, FilesCache **out, StrataErr *err);

/* filescache_lookup — the entry for path from a finished run, or
 * STRATA_ENOTFOUND. Free with cachedfile_clear. */
int filescache_lookup(FilesCache *fc, const char *path, CachedFile *out);
void cachedfile_clear(CachedFile *cf);

/* filescache_lookup_meta — only the metadata of path's entry from a
 * finished run (no chunk list: cheap enough for every file of a listing
 * taken while writers are stopped), or STRATA_ENOTFOUND. */
int filescache_lookup_meta(FilesCache *fc, const char *path, FileMeta *out);

/* filescache_meta_same — 1 when a file with meta b may be taken from an
 * entry with meta a without reading it (device, inode, size, mtime and
 * ctime all equal); the one rule every user of the cache applies. */
int filescache_meta_same(const FileMeta *a, const FileMeta *b);

/* filescache_record — remember path's state (buffered; written in
 * batches). The entry only counts once filescache_commit returns. */
int filescache_record(FilesCache *fc, const char *path, const FileMeta *meta,
                      const uint8_t (*chunks)[STRATA_ID_LEN], const uint32_t *lens, size_t n,
                      StrataErr *err);

/* filescache_commit — write buffered records and mark the run finished.
 * Call only after everything the records refer to is durable. */
int filescache_commit(FilesCache *fc, StrataErr *err);

/* filescache_close — accepts NULL; an uncommitted run stays ignored. */
void filescache_close(FilesCache *fc);

#endif
