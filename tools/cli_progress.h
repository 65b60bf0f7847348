/* cli_progress.h — the one-line progress display on stderr.
 *
 * Shown only when stderr is a terminal and neither --quiet nor --json is
 * set; redrawn at most 5 times a second; erased with "\r\033[K" at the end
 * and before any other line is printed (cli_progress_pause/resume), so
 * warnings and --verbose lines never mix with it.
 *
 * Thread safety: engines may report from worker threads; every function
 * takes the display's mutex.
 */
#ifndef STRATA_TOOLS_CLI_PROGRESS_H
#define STRATA_TOOLS_CLI_PROGRESS_H

#include <pthread.h>
#include <stdint.h>

#include "tools/cli.h"

typedef struct CliProgress {
	int enabled;
	int shown;                 /* a progress line is on the terminal now */
	int64_t start_ns, last_ns; /* CLOCK_MONOTONIC */
	pthread_mutex_t mu;
} CliProgress;

void cli_progress_init(CliProgress *p, const Cli *cli);

/* cli_progress_update — redraw if 200 ms have passed since the last draw:
 * "<files> files, <bytes>, <rate>/s, <current>". */
void cli_progress_update(CliProgress *p, uint64_t files, uint64_t bytes, const char *current);

/* cli_progress_pause — take the lock and erase the line; the caller prints,
 * then calls cli_progress_resume. */
void cli_progress_pause(CliProgress *p);
void cli_progress_resume(CliProgress *p);

/* cli_progress_done — erase the line for good and free the mutex. */
void cli_progress_done(CliProgress *p);

/* cli_now_ns — CLOCK_MONOTONIC in nanoseconds. */
int64_t cli_now_ns(void);

#endif
