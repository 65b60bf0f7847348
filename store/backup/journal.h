/* journal.h — the change journal a watcher keeps (`strata watch`,
 * store/sys/fswatch.h) and what a backup reads from it (`backup --changes
 * journal`; tools/cli/doc/changes.md has the guarantees).
 *
 * Owns: the files of one watcher run in <cache root>/journal/<W>/
 * (FORMAT.md §16): `run` (the run's random ID, the watcher's PID and
 * start time, the roots watched), `log` (lines appended as changes are
 * seen: "R <dir>" its entries may have changed, "S <path>" the entry may
 * have changed, "O <why>" something may have been missed), and the sync
 * handshake (`req-<token>`, answered by `ack-<token>` holding the log's
 * length once every event queued before the request is in the log).
 *
 * Never: watches anything itself. Thread safety: none needed.
 */
#ifndef STRATA_STORE_JOURNAL_H
#define STRATA_STORE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "store/backup/changeset.h"
#include "store/error.h"

/* A position in a watcher run's log. */
typedef struct JournalPos {
	char run[17];          /* the run's ID, 16 hex digits */
	uint64_t offset;       /* bytes of log written before it */
	char dir[4096];        /* the run's directory */
} JournalPos;

/* journal_dir_for — the directory of a watcher of roots (absolute,
 * clean) under cache_root, into out (PATH_MAX). */
void journal_dir_for(const char *cache_root, const char *const *roots, size_t nroots, char *out);

/* journal_run_write — start a run in dir (created 0700 when missing): a
 * new random run ID, this process's PID and start time, roots; the log
 * truncated. Returns the log opened for appending in *out_log_fd and the
 * ID in run. */
int journal_run_write(const char *dir, const char *const *roots, size_t nroots, char run[17], int *out_log_fd,
                      StrataErr *err);

/* journal_sync — the position of the live watcher run whose roots cover
 * every one of paths (absolute, clean), taken now: found under
 * cache_root, its process still the one that started the run, and a
 * sync answered within timeout_ms. 0 with *out; 1 with why (no watcher,
 * it is gone, no answer, a path on another filesystem or with a mount
 * below it); or an error. */
int journal_sync(const char *cache_root, const char *const *paths, size_t npaths, int timeout_ms, JournalPos *out,
                 char *why, size_t why_len, StrataErr *err);

/* journal_read — mark in cs what the log of run from.dir holds between
 * from.offset and to.offset (same run). 0; 1 with why when the log says
 * something may be missing (an "O" line) or cannot be read as written. */
int journal_read(const JournalPos *from, const JournalPos *to, ChangeSet *cs, char *why, size_t why_len);

/* journal_answer_syncs — for the watcher: answer every pending request
 * in dir with offset (the log's length now). */
void journal_answer_syncs(const char *dir, uint64_t offset);

#endif
