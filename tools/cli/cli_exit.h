/* cli_exit.h — exit codes, and printing the one error line.
 *
 * Owns: the exit-code table (the only place a StrataErr code becomes a
 * process exit status) and the error output format:
 *   human:  one line on stderr, "strata: <message>"
 *   --json: {"error":{"code":"wrong_password","exit":12,"message":"..."}}
 *           on stdout (so a script reads one JSON document either way).
 * Warnings (a file that could not be read) are always human lines on stderr.
 */
#ifndef STRATA_TOOLS_CLI_EXIT_H
#define STRATA_TOOLS_CLI_EXIT_H

#include "store/error.h"
#include "tools/cli/cli.h"

enum {
	CLI_EXIT_OK         = 0,
	CLI_EXIT_DAMAGED    = 1,   /* integrity: damaged or tampered repository data;
	                              verify-restore: the snapshot did not pass its test */
	CLI_EXIT_USAGE      = 2,   /* bad option or argument */
	CLI_EXIT_PARTIAL    = 3,   /* snapshot saved as partial: files vanished, unreadable, changed */
	CLI_EXIT_FAILURE    = 4,   /* I/O, network, disk full, a failed producer, anything else */
	CLI_EXIT_NOREPO     = 10,  /* no repository at the location */
	CLI_EXIT_LOCKED     = 11,  /* repository locked by another process */
	CLI_EXIT_PASSWORD   = 12,  /* wrong password / no key */
	CLI_EXIT_VERSION    = 13,  /* repository format newer than this binary */
	CLI_EXIT_NOTFOUND   = 14   /* snapshot, path or key not found (or ambiguous) */
};

/* The table as printed by `strata --help` and README.md. */
extern const char cli_exit_table[];

/* cli_exit_code — the exit status for a store return code (0, STRATA_E*,
 * or -errno). */
int cli_exit_code(int code);

/* cli_exit_name — a stable lower_snake_case name for code, used as
 * "code" in --json errors ("wrong_password", "not_found", "os_error"...). */
const char *cli_exit_name(int code);

/* cli_fail — print err (or strata_strerror(code) when err has no message)
 * in the format above and return the exit status for code. */
int cli_fail(const Cli *cli, int code, const StrataErr *err);

/* cli_failf — the same with a message built here. */
int cli_failf(const Cli *cli, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* cli_usage — a usage error: prints the message plus a pointer to the
 * command's help and returns CLI_EXIT_USAGE. */
int cli_usage(const Cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* cli_warn — "strata: warning: <message>" on stderr (never JSON). */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
