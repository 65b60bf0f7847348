/* cmd_config.c — `strata config show`: what a repository is set to, in
 * one place: its config (format, chunker, packs) and, at a copy kept by
 * `replicate --mirror`, the settings the copy stores (FORMAT.md §12c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/replica/replica_settings.h"
#include "store/repo.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_lock.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_repo.h"

/* show — {"config": ..., "replica": ... or null}; the text form prints
 * the same two documents under their names. */
static int show(Cli *cli, Repo *repo, StrataErr *err)
{
	ReplicaSettings rs;
	json_t *doc, *config, *replica = NULL;
	json_error_t jerr;
	char *text = NULL, *rjs = NULL;
	int rc, found = 0;

	if ((rc = repo_config_json(repo, &text, err)))
		return rc;
	config = json_loads(text, 0, &jerr);
	free(text);
	if (!config)
		return strata_err_set(err, STRATA_EFORMAT, "%s: config is not JSON (%s); run `strata check`",
		                      repo_location(repo), jerr.text);
	if ((rc = replica_settings_load(repo, &rs, &found, err))) {
		json_decref(config);
		return rc;
	}
	if (found) {
		rjs = replica_settings_json(&rs);
		replica = rjs ? json_loads(rjs, 0, &jerr) : NULL;
		free(rjs);
		if (!replica) {
			json_decref(config);
			return strata_err_set(err, -ENOMEM, "out of memory");
		}
	}
	if (cli->json) {
		doc = json_pack("{s:o, s:o}", "config", config, "replica", replica ? replica : json_null());
		if (!doc)
			return strata_err_set(err, -ENOMEM, "out of memory");
		rc = cli_json_print(doc, 0);
	} else {
		printf("config (%s):\n", repo_location(repo));
		rc = cli_json_print(config, 0);
		if (rc == 0 && replica) {
			printf("replica settings (a copy kept by `replicate --mirror`; plain `replicate` and `prune` "
			       "follow them):\n");
			rc = cli_json_print(replica, 0);
		} else if (rc == 0) {
			printf("replica settings: none (not a copy kept by `replicate --mirror`)\n");
			rc = ferror(stdout) ? -EIO : 0;
		}
	}
	if (rc)
		return strata_err_set(err, rc, "cannot write to stdout");
	return 0;
}

static int run(Cli *cli, int argc, char **argv)
{
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	int rc, first;

	if ((rc = cli_opts_parse(cli, argc, argv, "", NULL, NULL, NULL, &first)) != CLI_CONTINUE)
		return rc;
	if (first >= argc)
		return cli_usage(cli, "what to do: show");
	if (strcmp(argv[first], "show") != 0)
		return cli_usage(cli, "unknown subcommand '%s': use show", argv[first]);
	if (first + 1 < argc)
		return cli_usage(cli, "config show takes no argument");
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = cli_lock(cli, repo, LOCK_SHARED, &err)))
		goto out;
	rc = show(cli, repo, &err);
out:
	repo_close(repo);
	return rc ? cli_fail(cli, rc, &err) : CLI_EXIT_OK;
}

const CliCommand cmd_config = {
	.name = "config",
	.summary = "Show the repository's settings, and a copy's stored replication settings.",
	.usage = "strata config show",
	.help =
		"Prints the repository's config (ID, format version, chunker and pack\n"
		"parameters) and, at a copy kept by `replicate --mirror`, the settings\n"
		"that copy stores: its storage classes, their minimum storage durations,\n"
		"and the snapshot selection (--host, --tag, --keep-*). A plain\n"
		"`replicate` to the copy and a plain `prune` on it follow them\n"
		"(store/FORMAT.md 12c). With --json, one object: {\"config\": ...,\n"
		"\"replica\": ... or null}, the same documents as `cat config` and\n"
		"`cat replica`.\n"
		"\n"
		"Examples:\n"
		"  strata config show\n"
		"  strata -r s3://offsite/node1 --json config show | jq .replica\n",
	.run = run,
};
