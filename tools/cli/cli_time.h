/* cli_time.h — the points in time a user types (`--at TIME`).
 *
 * Owns: turning a time written by a person into nanoseconds since the
 * Unix epoch. Accepted forms (ISO 8601 and the form `snapshots` prints):
 *   2024-05-01                          midnight
 *   2024-05-01 12:00 / 2024-05-01T12:00
 *   2024-05-01 12:00:00 / 2024-05-01T12:00:00
 *   2024-05-01T12:00:00.123456789       up to 9 fraction digits (more are cut)
 * each optionally followed (after an optional space) by a zone:
 *   Z (UTC), +HH:MM, -HH:MM, +HHMM, +HH
 * and "@SECONDS[.FRACTION]" (Unix time). Without a zone the time is local
 * (the TZ environment variable), as `strata snapshots` shows it.
 *
 * Never: prints. Thread safety: reentrant (local time goes through
 * mktime, which reads TZ).
 */
#ifndef STRATA_TOOLS_CLI_TIME_H
#define STRATA_TOOLS_CLI_TIME_H

#include <stdint.h>

/* The accepted forms in one line, for error messages. */
#define CLI_TIME_FORMS "YYYY-MM-DD[ HH:MM[:SS[.FRACTION]]] (or with T), optionally followed by Z or +HH:MM, or @UNIXSECONDS"

/* cli_time_parse — parse s into *out_ns (written only on success).
 * Returns 0, -EINVAL for text that is not one of the forms above or names
 * an impossible date (2023-02-29, 24:00), -ERANGE for a time outside
 * what nanoseconds in an int64 hold (1677-09-21 to 2262-04-11), or a
 * local time that does not exist (skipped by a daylight-saving change). */
int cli_time_parse(const char *s, int64_t *out_ns);

#endif
