/* cmd_cat.c — `strata cat`: show a repository object as JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/replica/replica_settings.h"
#include "store/repo.h"
#include "store/snapshot.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_lock.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_repo.h"
#include "tools/cli/cli_select.h"

static int cat_config(Repo *repo, StrataErr *err)
{
	char *text = NULL;
	json_t *v;
	int rc;

	if ((rc = repo_config_json(repo, &text, err)))
		return rc;
	/* Re-indent through jansson so every `cat` prints alike; a config that
	 * is not JSON is printed as it is. */
	v = json_loads(text, 0, NULL);
	if (v) {
		rc = cli_json_print(v, 0);
	} else {
		fputs(text, stdout);
		if (*text && text[strlen(text) - 1] != '\n')
			putchar('\n');
		rc = ferror(stdout) ? -EIO : 0;
	}
	free(text);
	if (rc)
		return strata_err_set(err, rc, "cannot write to stdout");
	return 0;
}

static int cat_snapshot(Repo *repo, CliSelect *cs, StrataErr *err)
{
	Snapshot snap;
	int rc;

	memset(&snap, 0, sizeof snap);
	if ((rc = cli_select_find(cs, repo, &snap, err)))
		return rc;
	rc = cli_json_print(cli_json_snapshot(&snap), 0);
	snapshot_clear(&snap);
	if (rc)
		return strata_err_set(err, rc, "cannot write to stdout");
	return 0;
}


/* The settings a copy kept by `replicate --mirror` stores (FORMAT.md
 * §12c), as stored. */
static int cat_replica(Repo *repo, StrataErr *err)
{
	ReplicaSettings rs;
	char *js;
	int rc, found = 0;

	if ((rc = replica_settings_load(repo, &rs, &found, err)))
		return rc;
	if (!found)
		return strata_err_set(err, STRATA_ENOTFOUND, "%s holds no replica settings (written by `replicate "
		                      "--mirror` at a copy)", repo_location(repo));
	js = replica_settings_json(&rs);
	if (!js)
		return strata_err_set(err, -ENOMEM, "out of memory");
	printf("%s\n", js);
	free(js);
	return 0;
}

static int run(Cli *cli, int argc, char **argv)
{
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	CliSelect cs;
	const char *what;
	int rc, first, nargs;

	memset(&cs, 0, sizeof cs);
	if ((rc = cli_opts_parse(cli, argc, argv, "", cli_select_options, cli_select_on_opt, &cs, &first)) != CLI_CONTINUE)
		goto usage;
	rc = CLI_CONTINUE;
	if (first >= argc) {
		rc = cli_usage(cli, "what to show: config or snapshot ID");
		goto usage;
	}
	what = argv[first++];
	nargs = argc - first;
	if (!strcmp(what, "config")) {
		if (nargs != 0 || cs.nselectors || cli_select_is_grouped(&cs))
			rc = cli_usage(cli, "cat config takes no argument");
	} else if (!strcmp(what, "replica")) {
		if (nargs != 0 || cs.nselectors || cli_select_is_grouped(&cs))
			rc = cli_usage(cli, "cat replica takes no argument");
	} else if (!strcmp(what, "snapshot")) {
		if ((rc = cli_select_operands(cli, &cs, argc, argv, &first, 0, NULL)) == CLI_CONTINUE && first < argc)
			rc = cli_usage(cli, "unexpected argument %s", argv[first]);
	} else {
		rc = cli_usage(cli, "cannot show '%s': use config, replica or snapshot", what);
	}
	if (rc != CLI_CONTINUE)
		goto usage;
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = cli_lock(cli, repo, LOCK_SHARED, &err)))
		goto out;
	if (!strcmp(what, "config"))
		rc = cat_config(repo, &err);
	else if (!strcmp(what, "replica"))
		rc = cat_replica(repo, &err);
	else
		rc = cat_snapshot(repo, &cs, &err);
out:
	repo_close(repo);
	cli_select_free(&cs);
	return rc ? cli_fail(cli, rc, &err) : CLI_EXIT_OK;
usage:
	cli_select_free(&cs);
	return rc;
}

const CliCommand cmd_cat = {
	.name = "cat",
	.summary = "Print the repository config or a snapshot as JSON.",
	.usage = "strata cat config\n"
	         "       strata cat replica\n"
	         "       strata cat snapshot SNAPSHOT [--host H] [--tag T]... [--path P]...\n"
	         "       strata cat snapshot (--at TIME | --at-height N | --label K=V | --verified)",
	.help =
		"Decrypts and prints, as indented JSON:\n"
		"  config             the repository config: ID, format version, chunker\n"
		"                     and pack parameters\n"
		"  replica            at a copy kept by `replicate --mirror`: the settings\n"
		"                     it stores (storage classes, their minimum ages, the\n"
		"                     snapshot selection), which a plain `replicate` to it\n"
		"                     and a plain `prune` on it honour (compact JSON;\n"
		"                     store/FORMAT.md 12c); exit 14 where there are none\n"
		"  snapshot SNAPSHOT  one snapshot with every field (same shape as\n"
		"                     `strata snapshots --json`)\n"
		"SNAPSHOT is \"latest\" or an ID prefix of at least 4 hex digits.\n"
		"\n"
		CLI_SELECT_HELP
		"\n"
		"Examples:\n"
		"  strata cat config\n"
		"  strata -r s3://offsite/node1 cat replica\n"
		"  strata cat snapshot --tag db --host pg1 latest\n"
		"  strata cat snapshot latest | jq .summary\n",
	.run = run,
};
