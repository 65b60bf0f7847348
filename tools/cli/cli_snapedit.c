/* cli_snapedit.c — see cli_snapedit.h. */
#include "tools/cli/cli_snapedit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_lock.h"
#include "tools/cli/cli_repo.h"

int cli_snapedit_run(Cli *cli, CliSelect *cs, int argc, char **argv, int first, const SnapEdit *e)
{
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	Snapshot *snaps = NULL;
	json_t *out = NULL;
	size_t want, n = 0;
	char a[CLI_FMT_SHORT_ID_LEN], b[CLI_FMT_SHORT_ID_LEN];
	int rc = 0, exit_code = CLI_EXIT_OK;

	if (cs->nselectors > 1)
		return cli_usage(cli, "give one of --at and --at-height");
	if (first >= argc && !cli_select_is_selector(cs))
		return cli_usage(cli, "missing SNAPSHOT (or --at TIME, --at-height N, --label KEY=VALUE, --verified)");
	if (first < argc && cs->nselectors)
		return cli_usage(cli, "give SNAPSHOT or --at/--at-height, not both");
	cli_select_group(cli, cs);
	want = first < argc ? (size_t)(argc - first) : 1;
	if (!(snaps = calloc(want, sizeof *snaps)) || (cli->json && !(out = json_array()))) {
		exit_code = cli_failf(cli, -ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = cli_lock(cli, repo, LOCK_SHARED, &err)))
		goto fail;
	/* Every snapshot first: a typo in the third stops before the first
	 * is changed. */
	for (n = 0; n < want; n++) {
		rc = first < argc ? cli_select_find_ref(cs, repo, argv[first + (int)n], &snaps[n], &err)
		                  : cli_select_find(cs, repo, &snaps[n], &err);
		if (rc)
			goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t id[STRATA_ID_LEN];
		int changed = 0;
		if ((rc = snapedit_apply(repo, &snaps[i], e, id, &changed, &err)) != 0)
			goto fail;
		if (out) {
			if (json_array_append_new(out, json_pack("{s:o, s:o, s:b}", "old", cli_json_id(snaps[i].id),
			                                         "new", cli_json_id(id), "changed", changed)) != 0) {
				exit_code = cli_failf(cli, -ENOMEM, "out of memory");
				goto out;
			}
		} else if (!cli->quiet) {
			if (changed)
				printf("snapshot %s is now %s\n", cli_fmt_short_id(snaps[i].id, a), cli_fmt_short_id(id, b));
			else
				printf("snapshot %s unchanged\n", cli_fmt_short_id(snaps[i].id, a));
		}
	}
	if (out) {
		if (cli_json_print(out, 0) < 0)
			exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
		out = NULL;
	}
	goto out;
fail:
	exit_code = cli_fail(cli, rc, &err);
out:
	json_decref(out);
	for (size_t i = 0; i < n; i++)
		snapshot_clear(&snaps[i]);
	free(snaps);
	repo_close(repo);
	return exit_code;
}
