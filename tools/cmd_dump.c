/* cmd_dump.c — `strata dump`: one file of a snapshot to standard output. */
#include <string.h>
#include <unistd.h>

#include "store/restore.h"
#include "store/snapshot.h"
#include "tools/cli.h"
#include "tools/cli_exit.h"
#include "tools/cli_lock.h"
#include "tools/cli_opts.h"
#include "tools/cli_repo.h"

static int run(Cli *cli, int argc, char **argv)
{
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	Snapshot snap;
	int rc, first, have_snap = 0;

	memset(&snap, 0, sizeof snap);
	if ((rc = cli_opts_parse(cli, argc, argv, "", NULL, NULL, NULL, &first)) != CLI_CONTINUE)
		return rc;
	if (argc - first != 2)
		return cli_usage(cli, argc - first < 2 ? "wants SNAPSHOT and PATH" :
		                 "too many arguments");
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = cli_lock(cli, repo, LOCK_SHARED, &err)) ||
	    (rc = snapshot_resolve(repo, argv[first], cli->include_partial, &snap, &err)))
		goto out;
	have_snap = 1;
	rc = restore_dump(repo, &snap, argv[first + 1], STDOUT_FILENO, &err);
out:
	if (have_snap)
		snapshot_clear(&snap);
	repo_close(repo);
	return rc ? cli_fail(cli, rc, &err) : CLI_EXIT_OK;
}

const CliCommand cmd_dump = {
	.name = "dump",
	.summary = "Write one file of a snapshot to standard output.",
	.usage = "strata dump SNAPSHOT PATH",
	.help =
		"Streams the content of the regular file PATH (as `strata ls` shows it)\n"
		"to standard output, authenticating every chunk on the way. Useful for\n"
		"a stream backed up with `backup --stdin`, and for piping a file\n"
		"somewhere without restoring it first.\n"
		"SNAPSHOT is \"latest\" or an ID prefix of at least 4 hex digits.\n"
		"\n"
		"Examples:\n"
		"  strata dump latest app.sql | psql app\n"
		"  strata dump 3fa1c2d4 etc/hosts\n",
	.run = run,
};
