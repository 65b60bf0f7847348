/* cmd_dump.c — `strata dump`: one file of a snapshot to standard output. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "store/restore/restore.h"
#include "store/snapshot.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_lock.h"
#include "tools/cli/cli_metrics.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_progress.h"
#include "tools/cli/cli_repo.h"
#include "tools/cli/cli_select.h"

enum {
	OPT_METRICS = CLI_OPT_CMD,
	OPT_JOB
};

static const struct option longopts[] = {
	{ "metrics-file", required_argument, NULL, OPT_METRICS },
	{ "job",          required_argument, NULL, OPT_JOB },
	CLI_SELECT_LONGOPTS,
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	CliSelect sel;
	const char *metrics, *job; /* --metrics-file, --job */
} Args;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;
	int rc;

	switch (opt) {
	case OPT_METRICS:
		return cli_metrics_opt_file(cli, arg, &a->metrics);
	case OPT_JOB:
		return cli_metrics_opt_job(cli, arg, &a->job);
	default:
		rc = cli_select_opt(cli, opt, arg, &a->sel);
		return rc == CLI_SELECT_NOT_MINE ? cli_usage(cli, "unexpected option") : rc;
	}
}

static int run(Cli *cli, int argc, char **argv)
{
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	Snapshot snap;
	Args a;
	uint64_t bytes = 0;
	int64_t t0 = cli_now_ns();
	int rc, first, have_snap = 0, exit_code;

	memset(&snap, 0, sizeof snap);
	memset(&a, 0, sizeof a);
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE ||
	    (rc = cli_select_operands(cli, &a.sel, argc, argv, &first, 1, NULL)) != CLI_CONTINUE) {
		exit_code = rc;
		goto done;
	}
	if (argc - first != 1) {
		exit_code = cli_usage(cli, argc - first < 1 ? "wants SNAPSHOT and PATH" : "too many arguments");
		goto done;
	}
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = cli_lock(cli, repo, LOCK_SHARED, &err)) ||
	    (rc = cli_select_find(&a.sel, repo, &snap, &err)))
		goto out;
	have_snap = 1;
	rc = restore_dump(repo, &snap, argv[first], STDOUT_FILENO, &bytes, &err);
out:
	exit_code = rc ? cli_fail(cli, rc, &err) : CLI_EXIT_OK;
	if (a.metrics) {
		StrataErr merr = { 0, "" };
		/* blob_read does not count what it fetched: no bytes_fetched. */
		if (cmd_restore_metrics(cli, a.metrics, a.job, exit_code, (double)(cli_now_ns() - t0) / 1e9, repo,
		                        have_snap ? &snap : NULL, bytes, UINT64_MAX, 0, &merr) != 0) {
			cli_warn("%s", merr.msg);
			if (exit_code == CLI_EXIT_OK)
				exit_code = CLI_EXIT_FAILURE;
		}
	}
done:
	if (have_snap)
		snapshot_clear(&snap);
	repo_close(repo);
	cli_select_free(&a.sel);
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
		"Options:\n"
		"      --metrics-file FILE  write recovery metrics to FILE (Prometheus\n"
		"                           textfile): strata_restore_duration_seconds,\n"
		"                           strata_restore_bytes, strata_restore_data_loss_seconds\n"
		"                           (now minus the snapshot's time), ...\n"
		"      --job NAME           the job label of those metrics (default: dump)\n"
		"\n"
		CLI_SELECT_HELP
		"\n"
		"Examples:\n"
		"  strata dump latest app.sql | psql app\n"
		"  strata dump --verified --tag export state.json\n"
		"  strata dump 3fa1c2d4 etc/hosts\n",
	.run = run,
};
