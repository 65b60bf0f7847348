/* cli_spawn.h — running a user's command: fork and exec, no shell.
 *
 * Owns: starting argv (found through PATH, as execvp does) with a given
 * environment and working directory, in a process group of its own (so
 * that a timeout or a stop reaches everything it started there), standard
 * input from /dev/null and standard output sent to standard error (strata's
 * own output, and its --json document, stay alone on standard output), no
 * other descriptor of strata's;
 * waiting for it with an optional time limit (SIGTERM to the group, then
 * SIGKILL after a grace period); and telling "it ran and exited" from "it
 * could not be started" (an exec failure reaches the parent through a
 * close-on-exec pipe, not as exit status 127).
 *
 * Never: interprets argv through a shell. Thread safety: one spawn per
 * thread; the child runs only async-signal-safe code between fork and exec.
 */
#ifndef STRATA_TOOLS_CLI_SPAWN_H
#define STRATA_TOOLS_CLI_SPAWN_H

#include <stdint.h>
#include <sys/types.h>

#include "store/error.h"

typedef struct CliSpawn {
	char *const *argv;            /* argv[0]: a name looked up in PATH, or a path */
	char *const *envp;            /* the command's whole environment */
	const char *cwd;              /* its working directory */
	int64_t timeout_ms;           /* 0: no limit */
	int grace_s;                  /* after the timeout's SIGTERM, before SIGKILL; 0 = 10 */
	/* Called in the parent once the group exists, before the command's
	 * program starts (the child waits for it), so that whoever on_start
	 * tells can stop the whole group from then on. */
	void (*on_start)(pid_t pgid, void *ctx);
	void *ctx;
} CliSpawn;

typedef struct CliSpawnResult {
	int exited;                   /* 1: it exited, exit_status holds its status */
	int exit_status;
	int signal;                   /* killed by this signal (0: exited); timed_out:
	                                 the last one strata sent (SIGTERM, SIGKILL) */
	int timed_out;                /* 1: strata killed it at the time limit */
	double duration_s;
} CliSpawnResult;

/* cli_spawn_run — run s->argv and wait for it. After it ends, whatever it
 * left running in its process group is killed (SIGKILL). Returns 0 when
 * the command ran (its outcome in *out), or -errno when it could not be
 * started: -ENOENT (no such program), -EACCES, -ENOEXEC, a failed chdir
 * (err names the program or the directory). */
int cli_spawn_run(const CliSpawn *s, CliSpawnResult *out, StrataErr *err);

#endif
