/* cli_freeze.h — stopping the processes that write the source for the
 * short while a point-in-time listing takes (`backup --freeze-pid`).
 *
 * Owns: the writer processes named by --freeze-pid, held as pidfds from
 * the moment they are named (so a PID the kernel recycles after a writer
 * exits is never signalled); stopping them (SIGSTOP) and waiting until
 * every thread of each is stopped; resuming them (SIGCONT); the pause's
 * length; and the guard process.
 *
 * The guard: a child forked by cli_freeze_open, in a session of its own,
 * holding copies of the pidfds and one end of a socket pair whose other
 * end only strata holds. strata tells it "stopping" before the first
 * SIGSTOP and "resumed" after the last SIGCONT. When the socket reaches
 * end of file while the writers are stopped (strata died, even by
 * SIGKILL: the kernel closes the socket), when it is told to end by
 * SIGTERM/SIGINT/SIGHUP, or when the writers have been stopped for
 * --freeze-max plus one second (strata alive but stuck), it resumes them.
 * It is forked and has answered before anything is stopped, and a
 * writer is never stopped while the guard is not alive.
 *
 * A writer that was already stopped before strata stopped it (by a
 * debugger or an operator) is left stopped.
 *
 * What it cannot help: SIGKILL of strata and of its guard together
 * (killing the whole control group at once); both then end and the
 * writers stay stopped until someone sends SIGCONT.
 *
 * Never: prints. Thread safety: one CliFreeze, used from one thread;
 * cli_freeze_resume_all is async-signal-safe.
 */
#ifndef STRATA_TOOLS_CLI_FREEZE_H
#define STRATA_TOOLS_CLI_FREEZE_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"

/* The default --freeze-max: long enough to list a large node's tree
 * (~1 µs per entry from the dentry cache, plus one files-cache lookup per
 * file), short enough that peers do not drop a stopped node. */
#define CLI_FREEZE_MAX_DEFAULT_NS (10LL * 1000000000LL)
/* --freeze-max at most: a writer stopped longer is an outage. */
#define CLI_FREEZE_MAX_LIMIT_NS (600LL * 1000000000LL)

typedef struct CliFreeze CliFreeze;

/* cli_freeze_parse_duration — "250ms", "2s", "1.5s", "1m" or a bare
 * number of seconds, from 1 ms to CLI_FREEZE_MAX_LIMIT_NS.
 * 0 or -EINVAL / -ERANGE. */
int cli_freeze_parse_duration(const char *s, int64_t *out_ns);

/* cli_freeze_open — take hold of the n processes pids (thread group IDs,
 * as in `pidof`), check that this process may stop each, raise this
 * process's open-file limit to its hard limit (the point-in-time listing
 * holds changed files open), and start the guard. max_ns is how long the
 * writers may stay stopped (the guard's backstop is one second more).
 * Errors, each naming the PID: -ESRCH ("--freeze-pid 123: no such
 * process"), -EPERM (not allowed to signal it), STRATA_EUSAGE (strata
 * itself, or PID 1), or -errno from starting the guard. */
int cli_freeze_open(const long *pids, size_t n, int64_t max_ns, CliFreeze **out, StrataErr *err);

/* cli_freeze_stop — tell the guard, send SIGSTOP to every writer, and
 * return once every thread of each is stopped (or the writer has exited).
 * Returns 0; 1 when some thread was still running after max_ns (then
 * the writers are resumed again, err says which thread and its state);
 * or an error with the writers resumed (-errno, or -ECHILD when the guard
 * is gone: nothing is stopped then). */
int cli_freeze_stop(CliFreeze *f, StrataErr *err);

/* cli_freeze_resume — SIGCONT every writer this stopped, then tell the
 * guard. Does nothing when nothing is stopped. Returns 1 when
 * cli_freeze_resume_all had resumed them meanwhile, else 0. */
int cli_freeze_resume(CliFreeze *f);

/* cli_freeze_paused_ns — how long the writers were stopped, summed over
 * the stops so far: from the first SIGSTOP to the last SIGCONT. */
int64_t cli_freeze_paused_ns(const CliFreeze *f);

/* cli_freeze_stopped_once — 1 once a stop succeeded (the pause is real). */
int cli_freeze_stopped_once(const CliFreeze *f);

/* cli_freeze_close — resume if stopped, end the guard, close the pidfds.
 * Accepts NULL. */
void cli_freeze_close(CliFreeze *f);

/* cli_freeze_resume_all — from a signal handler: SIGCONT the writers of
 * the open CliFreeze, if it has them stopped (cli_freeze_resume then
 * returns 1). Async-signal-safe. */
void cli_freeze_resume_all(void);

#endif
