/* cli_hook.h — `backup --pre-hook CMD` and `--post-hook CMD`, and what
 * SIGTERM, SIGINT and SIGHUP do while such a backup (or one with
 * --freeze-pid) runs.
 *
 * Owns: running a hook (`/bin/sh -c CMD`, standard input from /dev/null
 * so it never eats a --stdin stream, standard output sent to strata's
 * standard error so that strata's own output stays one document with
 * --json), its environment, and the signal handlers.
 *
 * The pre-hook runs right before the source is read (after the
 * repository is open and locked). When it fails (non-zero exit, killed
 * by a signal, /bin/sh missing) nothing is read and no snapshot is made.
 *
 * The post-hook runs once, whatever happened, after strata printed its
 * result and wrote its metrics file: also after an error before the
 * pre-hook ran (STRATA_PRE_HOOK=none tells), and after SIGTERM, SIGINT or
 * SIGHUP. On such a signal strata first resumes any writer it stopped
 * (--freeze-pid) and deletes its filesystem snapshots (--fs-snapshot), lets a pre-hook that is running end (passing the
 * signal on), runs the post-hook with STRATA_BACKUP_STATUS=failed, then
 * ends as the signal's default action does (exit status 128+N in a
 * shell). A second signal ends strata at once. Its exit status does not
 * change strata's; a failure is a warning.
 *
 * Environment of both hooks, besides strata's own:
 *   STRATA_HOOK           pre or post
 *   STRATA_JOB            the --job name (default: backup)
 * and of the post-hook:
 *   STRATA_BACKUP_STATUS  success (exit 0), partial (exit 3: a snapshot
 *                         was saved, with what could not be read left
 *                         out), or failed (anything else: no snapshot)
 *   STRATA_EXIT_CODE      the exit status strata ends with
 *   STRATA_SNAPSHOT_ID    the new snapshot's full ID, when one was saved
 *   STRATA_ERROR          the error line strata printed, if any
 *   STRATA_PRE_HOOK       ok, failed (also: ended by a signal while it
 *                         ran), or none (none given, or strata failed
 *                         before its turn)
 *   STRATA_PAUSED_MS      with --freeze-pid, how long the writers were
 *                         stopped (milliseconds, fractional)
 *   STRATA_SIGNAL         TERM, INT or HUP when a signal ended the run
 *
 * Never: changes anything for a command without hooks, --freeze-pid or
 * --fs-snapshot
 * (cli_hooks_init is then not called). Process-wide state (tools/).
 */
#ifndef STRATA_TOOLS_CLI_HOOK_H
#define STRATA_TOOLS_CLI_HOOK_H

#include "store/error.h"

/* What the post-hook is told. */
typedef struct CliHookOutcome {
	int exit_code;
	const char *snapshot_id;   /* hex, NULL when no snapshot was saved */
	const char *error;         /* the error message, NULL if none */
	double paused_ms;          /* < 0: nothing was stopped */
} CliHookOutcome;

/* cli_hooks_init — remember the hooks (either may be NULL) and the job
 * name, and install the signal handlers described above. Call before
 * anything is stopped, and before cli_freeze_open raises the open-file
 * limit (hooks get the limit as it was). 0 or -errno. */
int cli_hooks_init(const char *pre, const char *post, const char *job, StrataErr *err);

/* cli_hooks_pre — run the pre-hook, if any, and wait for it. 0, or
 * STRATA_EREFUSED naming how it failed ("--pre-hook exited with status
 * 7; nothing was backed up"). */
int cli_hooks_pre(StrataErr *err);

/* cli_hooks_post — run the post-hook, if any and not run yet, and wait
 * for it; its failure is printed as a warning. */
void cli_hooks_post(const CliHookOutcome *o);

/* cli_hooks_signalled — the signal (SIGTERM, SIGINT, SIGHUP) whose
 * post-hook run has begun, or 0. Async-signal-safe. A child started
 * after that signal would outlive strata: cli_producer.c checks this once
 * its own handlers are in place. */
int cli_hooks_signalled(void);

/* cli_hooks_end — put the signal handlers back. */
void cli_hooks_end(void);

#endif
