/* cli_scratch.h — the scratch directory of `strata verify-restore`, and
 * the supervisor process that removes it whatever happens to the run.
 *
 * Owns: splitting the run into two processes before any thread exists:
 * the *supervisor* (the process the caller started, the one systemd or
 * cron waits for) only waits; the *worker* does everything else (the
 * repository, the restore, the command) and tells the supervisor over a
 * pipe which directory it is about to fill and which process group runs
 * the command. When the worker ends — normally, with an error, killed,
 * or by its lock being lost (which ends a process at once) — the
 * supervisor kills what is left of that process group and removes the
 * directory, unless the worker removed it already or the user asked to
 * keep it. On SIGTERM, SIGINT or SIGHUP the supervisor first stops the
 * worker and the command (SIGTERM, then SIGKILL after
 * CLI_SCRATCH_GRACE_S), cleans up, then dies of the same signal.
 *
 * If the supervisor itself is killed (SIGKILL), the worker dies with it
 * (PR_SET_PDEATHSIG) and the command gets SIGTERM; the directory, named
 * after the supervisor's PID, is removed by the next run
 * (cli_scratch_sweep).
 *
 * Also owns creating a scratch directory (refusing one that is not
 * empty) and removing a tree without following a symbolic link or
 * entering another file system mounted inside it.
 *
 * Process-wide state (allowed in tools/): the worker's end of the pipe.
 * Thread safety: the announce functions from the worker's main thread.
 */
#ifndef STRATA_TOOLS_CLI_SCRATCH_H
#define STRATA_TOOLS_CLI_SCRATCH_H

#include <sys/types.h>

#include "store/error.h"

#define CLI_SCRATCH_GRACE_S 10   /* SIGTERM to SIGKILL, for the command to stop cleanly */

/* cli_scratch_fork — become supervisor and worker. Returns 0 in the
 * worker. The supervisor never returns: it exits with the worker's exit
 * status (4 with a message when the worker died of a signal, or when the
 * directory could not be removed after a run that exited 0), or dies of
 * the signal it was sent. keep: never remove the directory. -errno when
 * the fork failed (nothing was started). Call before any thread starts. */
int cli_scratch_fork(int keep);

/* cli_scratch_announce_dir — tell the supervisor that path (absolute) is
 * the scratch directory; created: it did not exist (remove it too),
 * else only its contents go. Call before writing anything into it.
 * 0 or -errno. */
int cli_scratch_announce_dir(const char *path, int created);

/* cli_scratch_announce_pgid — the command runs as process group pgid
 * (its leader's PID); 0 once that group is gone or killed (its ID may
 * then be reused and must never be signalled again). */
void cli_scratch_announce_pgid(pid_t pgid);

/* cli_scratch_announce_removed — the worker removed the directory itself. */
void cli_scratch_announce_removed(void);

/* cli_scratch_prepare — make path ready: created (mode 0700, parents
 * too) when missing, else it must be an empty directory. *out_created
 * says which. Errors: STRATA_EREFUSED (not empty, or not a directory;
 * the message names it and says what to do), -errno. */
int cli_scratch_prepare(const char *path, int *out_created, StrataErr *err);

/* cli_scratch_remove — remove everything below path, and path itself when
 * remove_top. Symbolic links are removed, never followed; a directory of
 * another file system (a mount point) is not entered: -EXDEV naming it.
 * Directories without write or search permission are made 0700 first.
 * A path already gone is not an error. 0 or -errno with err naming the
 * entry that could not be removed. */
int cli_scratch_remove(const char *path, int remove_top, StrataErr *err);

/* cli_scratch_sweep — remove the entries of parent named "<pid>-<hex>"
 * (the default scratch directories) whose supervisor <pid> no longer
 * runs: left by a run that was killed with SIGKILL or lost its machine.
 * Calls warn(path) for each one removed. Returns how many were removed;
 * failures are skipped (the next run tries again). */
int cli_scratch_sweep(const char *parent, void (*warn)(const char *path));

#endif
