/* wal_archiver.h — asynchronous WAL archiving: `wal-push --async` and the
 * long-lived archiver process it hands segments to.
 *
 * Owns: one archiver per (repository location, cluster's pg_wal directory),
 * started on demand, found through a unix socket in the local cache
 * (<cache root>/walarch/<16 hex>.sock, the hex an unkeyed BLAKE2b of the
 * location and the directory's real path) and made unique by an flock on
 * the .lock file beside it, which the archiver holds for its whole life; the
 * The .lock file holds the archiver's PID. The
 * protocol between the two (one request line, one answer line); and the
 * archiver's loop: it keeps the key, the repository, its shared lock and
 * the index open, takes the segment asked for plus the ones PostgreSQL has
 * already marked ready (pg_wal/archive_status/NAME.ready) and stores them
 * as one WalBatch (shared packs, one index file, one round of fsyncs,
 * chunking on every core), so the next requests are answered from memory.
 *
 * When archive_command returns 0: only after the archiver has answered
 * "OK" for that name, which it sends only once wal_batch_commit has made
 * the file's packs, the index file and its descriptor durable in the
 * repository (or it did so earlier for the same file: same size, mtime and
 * inode). A crash of the archiver at any moment drops the connection: the
 * waiting `wal-push` exits non-zero, PostgreSQL keeps the .ready file and
 * retries, and the retry starts a new archiver. Nothing the archiver holds
 * in memory is needed to recover: a segment half stored leaves only
 * unreferenced packs (`prune` removes them), never a descriptor.
 *
 * Never: answers OK for a file it has not stored durably; reads a file not
 * named NAME.ready or asked for. Thread safety: the CLI's single thread.
 */
#ifndef STRATA_TOOLS_CLI_WAL_ARCHIVER_H
#define STRATA_TOOLS_CLI_WAL_ARCHIVER_H

#include "store/error.h"
#include "store/lock.h"
#include "store/repo.h"
#include "tools/cli/cli.h"

#define WALARCH_IDLE_S_DEFAULT 60   /* an idle archiver exits after this */

/* walarch_push — hand path (made absolute) to the cluster's archiver,
 * starting it when none answers (with zlevel and idle_s, see
 * walarch_serve), and wait for its answer. 0 once the
 * archiver answered OK (durable). Errors: STRATA_EUSAGE (not a WAL file
 * name, no cache directory, a socket path longer than 107 bytes), the
 * archiver's own error for the file (its message in err: EEXIST when other
 * content is archived under the name), -EPIPE when the archiver ended
 * before answering, -errno starting it. */
int walarch_push(const Cli *cli, const char *path, int zlevel, int idle_s, StrataErr *err);

/* walarch_serve — run as the archiver of pg_wal (an absolute directory),
 * writing one byte to ready_fd ('R' listening, 'B' another archiver holds
 * the lock, 'E' then a message on failure) and closing it. Returns when
 * idle for idle_s seconds. */
int walarch_serve(Cli *cli, const char *pg_wal, int ready_fd, int zlevel, int idle_s);

/* cmd_wal_lock — the shared repository lock wal-push takes (cmd_wal.c). */
int cmd_wal_lock(const Cli *cli, Repo *repo, const char *command, int writer, Lock **out, StrataErr *err);

#endif
