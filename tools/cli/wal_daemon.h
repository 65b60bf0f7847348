/* wal_daemon.h — what the WAL archiver and the WAL fetcher share: a
 * long-lived helper process per (repository location, cluster directory),
 * started on demand by a short-lived command and reached through a unix
 * socket in the local cache.
 *
 * Owns: the helper's files <cache root>/<kind>/<16 hex>.{sock,lock,log}
 * (the hex: an unkeyed BLAKE2b of the location and the directory's real
 * path); starting the helper detached (own session, standard error to the
 * .log, a pipe on which it says 'R' ready, 'B' another one holds the lock,
 * or 'E' and a message); the .lock file's flock, held by the helper for its
 * whole life (it makes the helper unique and a dead one's socket safe to
 * replace) and its PID written in it; one request line and one answer line
 * per connection.
 *
 * Opens the repository for the helper (wald_open), never reads it.
 * Thread safety: one thread.
 */
#ifndef STRATA_TOOLS_CLI_WAL_DAEMON_H
#define STRATA_TOOLS_CLI_WAL_DAEMON_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "store/error.h"
#include "store/repo.h"
#include "tools/cli/cli.h"

#define WALD_LINE_MAX (PATH_MAX + 64)

typedef struct WalDaemonPaths {
	char dir[PATH_MAX];               /* <cache root>/<kind> */
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char lock[PATH_MAX];
	char log[PATH_MAX];
	char hex[17];
} WalDaemonPaths;

/* wald_paths — the files of the kind ("walarch", "walfetch") helper for
 * cli's repository and the directory dir_real (a real path). Creates the
 * directories (0700). STRATA_EUSAGE: no repository or cache directory, or a
 * socket path over 107 bytes (a shorter --cache-dir helps). */
int wald_paths(const Cli *cli, const char *kind, const char *dir_real, WalDaemonPaths *out, StrataErr *err);

/* wald_call — send line to the helper and read its one-line answer into
 * ans (without the newline). When nobody listens, start the helper:
 * `strata <cli's global options> <args...> --ready-fd N` (args ends with
 * NULL). Errors: -EPIPE when the helper closed the connection before
 * answering (it died), the helper's start-up message (its 'E'),
 * -ETIMEDOUT when no helper came up within 10 s, -errno. */
int wald_call(const Cli *cli, const WalDaemonPaths *p, const char *const *args, const char *line, char *ans,
              size_t ans_len, StrataErr *err);

/* wald_start — a helper's first steps, archiver and fetcher alike: SIGPIPE
 * ignored, SIGTERM and SIGINT caught (wald_on_term), segment-sized buffers
 * kept in the heap, the kind's files for dir_real (wald_paths) into *out
 * and their flock (wald_lock). 0: this process is the helper, holding
 * *out_lock_fd; 1: another helper holds the lock (the starter has been
 * told 'B': leave with status 0); else an error in err (tell the starter
 * 'E'). */
int wald_start(const Cli *cli, const char *kind, const char *dir_real, int *ready_fd, WalDaemonPaths *out,
               int *out_lock_fd, StrataErr *err);

/* wald_open — open the repository for the helper's whole life (one key
 * derivation) and listen on p->sock (wald_listen). 0 with *out_repo and
 * *out_sock_fd; else an error in err and nothing open. */
int wald_open(const Cli *cli, const WalDaemonPaths *p, Repo **out_repo, int *out_sock_fd, StrataErr *err);

/* wald_detach — start `strata -q <cli's global options> <args...>` (args
 * ends with NULL; this program, from /proc/self/exe) detached: its own
 * session, nobody's child (init reaps it), standard input and output
 * /dev/null, standard error appended to log (NULL: /dev/null), keep_fd
 * left open across exec (-1: none). 0 or -errno (-E2BIG: too many args). */
int wald_detach(const Cli *cli, const char *const *args, const char *log, int keep_fd);

/* wald_lock — take the helper's flock without waiting and write this
 * PID into the file. 0 with *out_fd; 1 when another helper holds it;
 * -errno. */
int wald_lock(const WalDaemonPaths *p, int *out_fd);

/* wald_unlock — empty the lock file (its PID would name an unrelated
 * process once PIDs wrap) and release the flock (-1: nothing). */
void wald_unlock(int fd);

/* wald_listen — a non-blocking listening socket at p->sock (a stale one
 * removed first: call only holding the flock), mode 0600. -errno. */
int wald_listen(const WalDaemonPaths *p);

/* wald_ready — tell the starter state ('R', 'B', 'E' with msg) once; closes
 * *fd and sets it to -1 (nothing when already -1). */
void wald_ready(int *fd, char state, const char *msg);

/* wald_on_term — catch SIGTERM and SIGINT (without SA_RESTART, so a
 * blocking poll returns); wald_terminated — one arrived. A helper then
 * leaves as when idle: its repository lock released, its socket and spool
 * removed. */
void wald_on_term(void);
int wald_terminated(void);

/* wald_write_all — write all of buf (EINTR retried). 0 or -errno. */
int wald_write_all(int fd, const char *buf, size_t len);

/* wald_now_ms — CLOCK_MONOTONIC in milliseconds. */
int64_t wald_now_ms(void);

/* wald_answer_err — format "ERR <code> <msg>\n" into out. */
void wald_answer_err(char *out, size_t out_len, int code, const char *msg);

/* wald_parse_err — an "ERR <code> <msg>" answer into err; returns its code
 * (STRATA_EFORMAT for an answer that is not one). */
int wald_parse_err(const char *ans, StrataErr *err);

#endif
