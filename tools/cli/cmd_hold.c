/* cmd_hold.c — `strata hold`: keep a snapshot through every forget. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_select.h"
#include "tools/cli/cli_snapedit.h"
#include "tools/cli/cli_time.h"

enum {
	OPT_REASON = CLI_OPT_CMD,
	OPT_UNTIL
};

static const struct option longopts[] = {
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "until",  required_argument, NULL, OPT_UNTIL },
	CLI_SELECT_LONGOPTS,
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	const char *reason;
	int64_t until_ns;
	CliSelect sel;
} Args;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;
	int rc;

	switch (opt) {
	case OPT_REASON:
		if (!*arg)
			return cli_usage(cli, "--reason wants a text saying why the snapshot is held");
		a->reason = arg;
		return CLI_CONTINUE;
	case OPT_UNTIL:
		if (cli_time_parse(arg, &a->until_ns) != 0)
			return cli_usage(cli, "--until '%s': not a time; expected %s", arg, CLI_TIME_FORMS);
		return CLI_CONTINUE;
	default:
		rc = cli_select_opt(cli, opt, arg, &a->sel);
		return rc == CLI_SELECT_NOT_MINE ? cli_usage(cli, "unexpected option") : rc;
	}
}

static int run(Cli *cli, int argc, char **argv)
{
	Args a;
	SnapEdit e;
	struct timespec now;
	int rc, first;

	memset(&a, 0, sizeof a);
	memset(&e, 0, sizeof e);
	clock_gettime(CLOCK_REALTIME, &now);
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE)
		goto out;
	e.now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	if (!a.reason) {
		rc = cli_usage(cli, "missing --reason TEXT: say why the snapshot is held (forget shows it)");
		goto out;
	}
	if (a.until_ns && a.until_ns <= e.now_ns) {
		rc = cli_usage(cli, "--until lies in the past: the hold would have lapsed already");
		goto out;
	}
	e.hold = 1;
	e.hold_reason = a.reason;
	e.hold_until_ns = a.until_ns;
	rc = cli_snapedit_run(cli, &a.sel, argc, argv, first, &e);
out:
	cli_select_free(&a.sel);
	return rc;
}

const CliCommand cmd_hold = {
	.name = "hold",
	.summary = "Keep a snapshot through every forget until unhold (or --until).",
	.usage = "strata hold SNAPSHOT... --reason TEXT [--until TIME]",
	.help =
		"Puts a hold on snapshots: `forget` keeps a held snapshot whatever its\n"
		"rules say (its plan shows \"held: TEXT\"), `forget ID` refuses it, and\n"
		"so prune keeps its data. For the last good state before an incident,\n"
		"or a snapshot under legal hold. `strata unhold` lifts it; with --until\n"
		"it lapses by itself at TIME. Like `tag`, this writes the snapshot anew\n"
		"under a new ID (printed); `snapshots` shows the hold.\n"
		"SNAPSHOT is \"latest\" or an ID prefix of at least 4 hex digits.\n"
		"\n"
		"Options:\n"
		"      --reason TEXT     why (required; forget and snapshots show it)\n"
		"      --until TIME      the hold lapses then (the forms of --at)\n"
		"\n"
		CLI_SELECT_HELP
		"\n"
		"Examples:\n"
		"  strata hold --at-height 812345 --host node1 --reason 'last good before INC-42'\n"
		"  strata hold 3fa1c2d4 --reason audit --until 2027-01-01\n",
	.run = run,
};
