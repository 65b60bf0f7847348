/* cli_snapedit.h — what `strata tag`, `hold` and `unhold` share: choosing
 * the snapshots (SNAPSHOT... operands, or the selectors of cli_select.h),
 * rewriting each (store/snapedit.h) and saying what became of it.
 *
 * Output: per snapshot one line "snapshot OLD is now NEW" (or "snapshot
 * OLD unchanged"); with --json an array of {"old", "new", "changed"}.
 * Never: parses options (each command does).
 */
#ifndef STRATA_TOOLS_CLI_SNAPEDIT_H
#define STRATA_TOOLS_CLI_SNAPEDIT_H

#include "store/snapedit.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_select.h"

/* cli_snapedit_run — apply e to the snapshots named by argv[first ..
 * argc) (each "latest", narrowed by cs's group, or an ID prefix), or, with
 * no operand, to the one cs's selector chooses. Resolves every snapshot
 * before changing any. Returns the exit code, having printed errors. */
int cli_snapedit_run(Cli *cli, CliSelect *cs, int argc, char **argv, int first, const SnapEdit *e);

#endif
