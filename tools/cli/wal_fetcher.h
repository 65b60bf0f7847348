/* wal_fetcher.h — asynchronous WAL recovery: `wal-fetch --async` and the
 * long-lived fetcher process that fills a spool ahead of PostgreSQL.
 *
 * Owns: one fetcher per (repository location, the cluster's pg_wal
 * directory), started on demand and found as wal_daemon.h says (kind
 * "walfetch"); its spool <pg_wal>/.strata-spool/<hex>-<boot id>/, in
 * pg_wal's own file system so that a segment is handed to PostgreSQL by
 * rename(2), never copied; and the fetcher's loop: it opens the repository
 * once (one key derivation per recovery), and worker threads (a few, each
 * on a different file) fetch the file asked for first, then the next
 * `prefetch` segments after it, each
 * into the spool (chunks in parallel, checked as wal_fetch checks them, a
 * private temporary file renamed into place, nothing fsynced).
 *
 * Why nothing is fsynced: the spool is named after the boot (the kernel's
 * boot_id), and a fetcher removes the spools of other boots, so a file a
 * machine crash may have torn is never handed over; a process crash loses
 * nothing the page cache holds, and rename makes each file whole or absent.
 * DEST (pg_wal/RECOVERYXLOG) is PostgreSQL's to read at once; after a
 * machine crash recovery asks for it again.
 *
 * Exit status rules stay wal-fetch's (cmd_wal.c): 1 only when the archive
 * does not hold NAME, 128 for anything else (including a fetcher that
 * died: PostgreSQL then stops instead of promoting early).
 *
 * Thread safety: the CLI's thread plus the fetcher's workers; the workers
 * alone use the repository (wal_fetch for different names at once).
 */
#ifndef STRATA_TOOLS_CLI_WAL_FETCHER_H
#define STRATA_TOOLS_CLI_WAL_FETCHER_H

#include "store/error.h"
#include "tools/cli/cli.h"

#define WALFETCH_IDLE_S_DEFAULT 60

/* walfetch_get — have the fetcher of dest's directory put NAME in its
 * spool and rename it to dest. 0: dest holds the whole file. Errors:
 * STRATA_ENOTFOUND when the archive does not hold name; STRATA_EUSAGE for
 * a name that is not a WAL file name; the fetcher's error otherwise;
 * -EPIPE when the fetcher died before answering. */
int walfetch_get(const Cli *cli, const char *name, const char *dest, int prefetch, int idle_s, StrataErr *err);

/* walfetch_serve — run as the fetcher of pg_wal (a real path); ready_fd
 * as walarch_serve's. Returns when idle for idle_s seconds, removing its
 * spool. */
int walfetch_serve(Cli *cli, const char *pg_wal, int ready_fd, int prefetch, int idle_s);

#endif
