/* tar.h — tar streams in and out of the repository. The only module that
 * calls libarchive, through store/tar/archive_api.h, which loads it on first
 * use.
 *
 * Owns: importing an archive read from a descriptor (tar in any of its
 * dialects — ustar, pax, GNU — plain or compressed with gzip, bzip2, xz,
 * lz4 or zstd; also cpio and zip, which libarchive reads alike) as a new
 * snapshot whose tree is the archive's content, each file chunked and
 * deduplicated on its own; and exporting any snapshot as a pax tar
 * stream, plain or zstd-compressed.
 *
 * Import keeps: regular files, directories, symlinks, hard links (restored
 * as hard links), FIFOs and device nodes; mode, numeric owner and group,
 * modification time (with nanoseconds when the archive has them). It drops
 * user and group names, extended attributes and ACLs. Directories the
 * archive implies but does not list get mode 0755 and the snapshot's
 * time. A later entry of the same path replaces an earlier one, as tar -x
 * does. Entries whose path holds a ".." component are refused (reported
 * through opts->on_file and counted in summary.errors); leading "/" and
 * "./" are dropped. The chunk lists of all files are held in memory until
 * the end of the stream (about 40 bytes per chunk).
 *
 * Export writes entries depth-first in name order with paths relative to
 * the snapshot root, hard links as hard-link entries, and skips sockets.
 * Every chunk is authenticated before it is written.
 *
 * Names are bytes; pax headers carry them as UTF-8, or as raw bytes
 * (hdrcharset=BINARY) when they are not valid UTF-8, so any name survives
 * an export and re-import.
 *
 * Never: prints. Thread safety: one import or export per Repo at a time.
 */
#ifndef STRATA_STORE_TAR_H
#define STRATA_STORE_TAR_H

#include <stddef.h>
#include <stdint.h>

#include "store/backup/backup.h"
#include "store/error.h"
#include "store/repo.h"
#include "store/snapshot.h"

/* tar_import — read an archive from fd to its end and write a snapshot.
 * Uses from opts: host, tags, labels, compression_level, threads, time_ns,
 * progress, on_file; stdin_name becomes the snapshot's one path (default
 * "stdin.tar"). paths, excludes and parent are ignored.
 * Returns 0; STRATA_EPARTIAL when the snapshot was written but entries
 * were skipped (summary.errors counts them). Without a snapshot written:
 * STRATA_EUSAGE when the input is empty or not an archive, -EIO when the
 * archive is damaged or cut short inside an entry (the message quotes
 * libarchive), -errno on a read error, other store errors. An archive cut
 * exactly between two entries cannot be told from a complete one (tar's
 * end blocks are optional): check the producer's exit status
 * (`set -o pipefail`). */
int tar_import(Repo *repo, int fd, const BackupOptions *opts, BackupResult *out_result,
               StrataErr *err);

enum TarCompression {
	TAR_PLAIN = 0,
	TAR_ZSTD  = 1
};

typedef struct TarExportResult {
	uint64_t entries;     /* headers written */
	uint64_t files;       /* regular files with content */
	uint64_t bytes;       /* content bytes */
	uint64_t skipped;     /* sockets */
} TarExportResult;

/* tar_export — write snap as a tar stream to fd (which the caller opens
 * and closes; nothing else is written to it). compression: enum
 * TarCompression. out_result may be NULL.
 * Errors: STRATA_EDAMAGED (a chunk is missing or fails its check; the
 * message names the path), -errno writing fd (-EPIPE when the reader went
 * away), STRATA_EUSAGE for an unknown compression. */
int tar_export(Repo *repo, const Snapshot *snap, int fd, int compression,
               TarExportResult *out_result, StrataErr *err);

#endif
