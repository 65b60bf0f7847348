/* cmd_dump.c — `strata dump`: one file of a snapshot to standard output. */
#include <string.h>
#include <unistd.h>

#include "store/restore/restore.h"
#include "store/snapshot.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_lock.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_repo.h"
#include "tools/cli/cli_select.h"

static const struct option longopts[] = {
	CLI_SELECT_LONGOPTS,
	{ NULL, 0, NULL, 0 }
};

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	int rc = cli_select_opt(cli, opt, arg, ctx);

	return rc == CLI_SELECT_NOT_MINE ? cli_usage(cli, "unexpected option") : rc;
}

static int run(Cli *cli, int argc, char **argv)
{
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	Snapshot snap;
	CliSelect sel;
	int rc, first, have_snap = 0, exit_code;

	memset(&snap, 0, sizeof snap);
	memset(&sel, 0, sizeof sel);
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &sel, &first)) != CLI_CONTINUE ||
	    (rc = cli_select_operands(cli, &sel, argc, argv, &first, 1, NULL)) != CLI_CONTINUE) {
		exit_code = rc;
		goto done;
	}
	if (argc - first != 1) {
		exit_code = cli_usage(cli, argc - first < 1 ? "wants SNAPSHOT and PATH" : "too many arguments");
		goto done;
	}
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = cli_lock(cli, repo, LOCK_SHARED, &err)) ||
	    (rc = cli_select_find(&sel, repo, &snap, &err)))
		goto out;
	have_snap = 1;
	rc = restore_dump(repo, &snap, argv[first], STDOUT_FILENO, &err);
out:
	exit_code = rc ? cli_fail(cli, rc, &err) : CLI_EXIT_OK;
done:
	if (have_snap)
		snapshot_clear(&snap);
	repo_close(repo);
	cli_select_free(&sel);
	return exit_code;
}

const CliCommand cmd_dump = {
	.name = "dump",
	.summary = "Write one file of a snapshot to standard output.",
	.usage = "strata dump SNAPSHOT PATH\n"
	         "       strata dump [latest] (--at TIME | --at-height N | --label KEY=VALUE | --verified)\n"
	         "                   [--host H] [--tag T]... [--path P]... PATH",
	.help =
		"Streams the content of the regular file PATH (as `strata ls` shows it)\n"
		"to standard output, authenticating every chunk on the way. Useful for\n"
		"a stream backed up with `backup --stdin`, and for piping a file\n"
		"somewhere without restoring it first.\n"
		"SNAPSHOT is \"latest\" or an ID prefix of at least 4 hex digits.\n"
		"\n"
		CLI_SELECT_HELP
		"\n"
		"Examples:\n"
		"  strata dump latest app.sql | psql app\n"
		"  strata dump --verified --tag export state.json\n"
		"  strata dump 3fa1c2d4 etc/hosts\n",
	.run = run,
};
