/* cli_select.h — the point-in-time options `snapshots` and `restore`
 * share: `--at TIME` and `--at-height N`, parsed into a SnapSelect.
 *
 * Never: prints anything but usage errors (through cli_usage).
 */
#ifndef STRATA_TOOLS_CLI_SELECT_H
#define STRATA_TOOLS_CLI_SELECT_H

#include "store/snapselect.h"
#include "tools/cli.h"

/* cli_select_at / cli_select_at_height — set sel to pick by time (TIME in
 * the forms of tools/cli_time.h) or by height label (a whole number) and
 * count the selector in *nselectors. Return CLI_CONTINUE, or the usage
 * error's exit code after printing it. */
int cli_select_at(const Cli *cli, const char *arg, SnapSelect *sel, int *nselectors);
int cli_select_at_height(const Cli *cli, const char *arg, SnapSelect *sel, int *nselectors);

#endif
