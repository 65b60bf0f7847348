/* cmd_unhold.c — `strata unhold`: lift a hold (cmd_hold.c). */
#include <string.h>

#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_select.h"
#include "tools/cli/cli_snapedit.h"


static int run(Cli *cli, int argc, char **argv)
{
	CliSelect sel;
	SnapEdit e;
	int rc, first;

	memset(&sel, 0, sizeof sel);
	memset(&e, 0, sizeof e);
	e.hold = -1;
	if ((rc = cli_opts_parse(cli, argc, argv, "", cli_select_options, cli_select_on_opt, &sel, &first)) == CLI_CONTINUE)
		rc = cli_snapedit_run(cli, &sel, argc, argv, first, &e);
	cli_select_free(&sel);
	return rc;
}

const CliCommand cmd_unhold = {
	.name = "unhold",
	.summary = "Lift the hold on a snapshot (strata hold).",
	.usage = "strata unhold SNAPSHOT...",
	.help =
		"Removes the hold `strata hold` put on snapshots, so that forget's rules\n"
		"apply to them again. Writes each snapshot anew under a new ID (printed);\n"
		"one without a hold is left as it is.\n"
		"SNAPSHOT is \"latest\" or an ID prefix of at least 4 hex digits.\n"
		"\n"
		CLI_SELECT_HELP
		"\n"
		"Examples:\n"
		"  strata unhold 3fa1c2d4\n",
	.run = run,
};
