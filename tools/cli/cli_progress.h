/* cli_progress.h — the one-line progress display on stderr, and the JSON
 * progress lines of `backup --json-progress`.
 *
 * Terminal mode: shown only when stderr is a terminal and neither --quiet
 * nor --json is set; redrawn at most 5 times a second; erased with
 * "\r\033[K" at the end and before any other line is printed
 * (cli_progress_pause/resume), so warnings and --verbose lines never mix
 * with it. The line reads
 *   [PHASE: ]ITEMS[/TOTAL] UNIT[, BYTES[/TOTAL]], RATE/s[, ETA T][, CURRENT]
 * where RATE is bytes (or, with no bytes counted, items) per second since
 * the phase began, and ETA appears when the engine knows a total.
 *
 * JSON-lines mode (cli_progress_json_lines): one compact object per line on
 * stdout at most once a second, {"type":"progress", ...}; tools/cli/doc/JSON.md
 * "backup --json-progress" gives the fields. Nothing goes to stderr.
 *
 * Never: prints anything when disabled; reads engine state beyond what a
 * call passes (pointers in a status are used during the call only).
 * Thread safety: engines may report from worker threads; every function
 * takes the display's mutex.
 */
#ifndef STRATA_TOOLS_CLI_PROGRESS_H
#define STRATA_TOOLS_CLI_PROGRESS_H

#include <pthread.h>
#include <stdint.h>

#include "tools/cli/cli.h"

typedef struct CliProgress {
	int enabled;
	int json_lines;            /* JSON objects on stdout instead of a line on stderr */
	int shown;                 /* a progress line is on the terminal now */
	int64_t start_ns, last_ns; /* CLOCK_MONOTONIC */
	int64_t interval_ns;       /* least time between two draws */
	/* The current phase, for rates and ETAs that restart with each phase. */
	char phase[32];
	int64_t phase_ns;
	uint64_t phase_items, phase_bytes;   /* counters when the phase began */
	long test_delay_ms;        /* STRATA_TESTONLY_PROGRESS_DELAY_MS: each
	                            * call of an enabled display sleeps this (under 1,000)
	                            * long, so that a test's short run lives
	                            * long enough to draw a few times */
	pthread_mutex_t mu;
} CliProgress;

/* What an engine reports; only items is required. */
typedef struct CliProgressStatus {
	const char *phase;         /* NULL, or a stage name shown first ("read-data") */
	const char *unit;          /* what items counts: "files" (default), "packs", ... */
	uint64_t items, items_total;   /* items_total 0: unknown */
	uint64_t bytes, bytes_total;   /* both 0: no byte column; bytes_total 0: unknown */
	const char *current;       /* a path or object name, or NULL */
} CliProgressStatus;

/* cli_progress_init — terminal mode, enabled as above. */
void cli_progress_init(CliProgress *p, const Cli *cli);

/* cli_progress_json_lines — switch p (after init) to JSON-lines mode,
 * enabled whatever stderr is. */
void cli_progress_json_lines(CliProgress *p);

/* cli_progress_show — redraw with s if the interval has passed since the
 * last draw (the first call always draws). */
void cli_progress_show(CliProgress *p, const CliProgressStatus *s);

/* cli_progress_update — cli_progress_show with items counted in files,
 * bytes, current, and no totals. */
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
