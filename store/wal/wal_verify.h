/* wal_verify.h — `strata wal-verify`: does the WAL archive let every base
 * backup kept be recovered to the newest WAL it holds?
 *
 * Owns: gathering what store/wal/wal_timeline.h judges, from the
 * repository: the archive's listing (wal/<TTTTTTTT>/<NAME>, FORMAT.md §3),
 * every timeline history file's content, the segment size, and the
 * backup_label of each base backup.
 *
 * Base backups are the snapshots labelled kind=pg-base (the rule
 * `wal-prune` uses, and what tools/cli/doc/postgresql.md tells operators
 * to label them), whose backup_label sits at the snapshot root (a
 * pg_basebackup tar stream imported with `backup --stdin-tar`).
 *
 * The segment size is the one the repository records: the SIZE of a
 * segment's descriptor (PostgreSQL archives only whole segments, so every
 * segment descriptor holds exactly wal_segment_size bytes); one
 * descriptor is read, that of the oldest segment. With no segment
 * archived at all, it is the size at which the first base backup's start
 * LSN falls in its start file (wal_label_segsize), else 16 MiB.
 *
 * The backup's stop segment comes from its backup history file
 * (START.OFFSET.backup, "STOP WAL LOCATION") when the archive holds it
 * and it reads; recovery never reads that file, so one absent or
 * unreadable only leaves the stop unknown.
 *
 * Segments are checked by name in the listing; their content is what
 * `strata check` (chunks) and `wal-fetch` (the descriptor) verify.
 *
 * Never: writes to the repository, prints. Thread safety: one call per
 * Repo at a time.
 */
#ifndef STRATA_STORE_WAL_VERIFY_H
#define STRATA_STORE_WAL_VERIFY_H

#include "store/error.h"
#include "store/repo.h"
#include "store/wal/wal_timeline.h"

#define WAL_VERIFY_DEFAULT_SEGSIZE (16u << 20)

/* wal_verify_run — the verdict for this repository (wal_timeline.h).
 * A base backup whose backup_label is missing or unreadable is in the
 * report, not ok, with the reason in its error. *out: free with
 * wal_verify_report_free.
 * Errors: STRATA_EFORMAT / STRATA_EDAMAGED / STRATA_EAUTH for a history
 * file or descriptor that cannot be read (the message names it: recovery
 * across that timeline would fail the same way); STRATA_EFORMAT for a
 * first segment whose size is no WAL segment size; -ENOMEM; backend
 * errors. */
int wal_verify_run(Repo *repo, WalVerifyReport **out, StrataErr *err);

#endif
