/* cli_fssnap.h — `backup --fs-snapshot MODE` and `backup --as PATH`: the
 * source read from a snapshot and recorded under its original path
 * (tools/cli/doc/consistency.md).
 *
 * Owns: the filesystem snapshots of the running backup as far as the
 * signal handlers see them (one process-wide pointer: SIGTERM, SIGINT
 * and SIGHUP delete them before strata ends, cli_hook.h), the operator's
 * notes on stderr, and their part of the JSON result and the summary.
 *
 * Never: creates or deletes anything itself (store/backup/fssnap.h does).
 * Thread safety: one thread; cli_fssnap_release_all is async-signal-safe.
 */
#ifndef STRATA_TOOLS_CLI_FSSNAP_H
#define STRATA_TOOLS_CLI_FSSNAP_H

#include <jansson.h>
#include <stddef.h>

#include "store/backup/backup.h"
#include "store/backup/fssnap.h"

/* cli_fssnap_take — fssnap_take for the source paths, notes printed as
 * warnings (unless quiet), the result made the one the signal handlers
 * delete. 0 or an error (nothing left created). */
int cli_fssnap_take(char *const *paths, size_t npaths, FsSnapMode mode, int quiet, FsSnap **out,
                    StrataErr *err);

/* cli_fssnap_release — delete s's snapshots (the signal handlers no
 * longer see them); s stays for the report (fssnap_free). NULL is fine.
 * 0, or the error naming a snapshot left behind. */
int cli_fssnap_release(FsSnap *s, StrataErr *err);

/* cli_fssnap_release_all — from a signal handler: delete the snapshots
 * of the running backup, if any. */
void cli_fssnap_release_all(void);

/* cli_fssnap_json — {"mode", "sources": [{"path", "fs", "snapshot"
 * (or "live": true), "create_ms"}]} for mode and s (may be NULL: none). */
json_t *cli_fssnap_json(const char *mode, const FsSnap *s, size_t npaths);

/* cli_fssnap_print — the summary's lines about s. */
void cli_fssnap_print(const FsSnap *s, size_t npaths);

/* cli_fssnap_as_view — the view of `--as PATH` for the directory src:
 * read src, record PATH (as the live PATH's device, or 0 when PATH does
 * not exist here). Errors: src missing or not readable (-errno, naming it). */
int cli_fssnap_as_view(const char *as, const char *src, BackupView *out, StrataErr *err);

#endif
