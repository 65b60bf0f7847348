/* cli_pgrecovery.h — the restore_command `strata restore --pg-recovery`
 * writes into the restored server's postgresql.auto.conf when none is
 * given (--pg-restore-command).
 *
 * Owns: building "STRATA [--repo LOC] [--password-file FILE] [--cache-dir
 * DIR] wal-fetch %f %p" from this invocation, with absolute paths and
 * shell quoting (PostgreSQL runs restore_command through /bin/sh, without
 * this shell's environment). STRATA is this program (/proc/self/exe).
 * A password that does not come from a file (STRATA_PASSWORD, a prompt)
 * cannot be handed over: that is an error asking for --pg-restore-command
 * (a wrapper script that sets the environment, tools/cli/doc/postgresql.md).
 *
 * Never: writes anything. Thread safety: none needed.
 */
#ifndef STRATA_TOOLS_CLI_PGRECOVERY_H
#define STRATA_TOOLS_CLI_PGRECOVERY_H

#include "store/error.h"
#include "tools/cli/cli.h"

/* cli_pgrecovery_restore_command — *out malloc'ed (caller frees).
 * Errors: STRATA_EUSAGE (no repository, no password file), -errno
 * (realpath, readlink), -ENOMEM. */
int cli_pgrecovery_restore_command(const Cli *cli, char **out, StrataErr *err);

#endif
