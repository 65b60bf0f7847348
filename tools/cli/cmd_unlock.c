/* cmd_unlock.c — `strata unlock`: remove stale repository locks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/lock.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_repo.h"

enum {
	OPT_REMOVE_ALL = CLI_OPT_CMD,
	OPT_DRY_RUN
};

static const struct option longopts[] = {
	{ "remove-all", no_argument, NULL, OPT_REMOVE_ALL },
	{ "dry-run",    no_argument, NULL, OPT_DRY_RUN },
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	int remove_all, dry_run;
} Args;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;

	(void)arg;
	switch (opt) {
	case OPT_REMOVE_ALL: a->remove_all = 1; return CLI_CONTINUE;
	case OPT_DRY_RUN:    a->dry_run = 1; return CLI_CONTINUE;
	default:             return cli_usage(cli, "unexpected option");
	}
}

static json_t *lock_json(const LockInfo *li, const char *action)
{
	json_t *j = json_pack("{s:s, s:s, s:b, s:s}", "id", li->id, "action", action,
	                      "stale", li->stale, "why", li->why);

	if (j && li->readable) {
		json_object_set_new(j, "mode", json_string(lock_mode_name(li->mode)));
		json_object_set_new(j, "command", cli_json_str(li->command));
		json_object_set_new(j, "host", cli_json_str(li->host));
		json_object_set_new(j, "user", cli_json_str(li->user));
		json_object_set_new(j, "pid", json_integer(li->pid));
		json_object_set_new(j, "created", cli_json_time(li->created_ns));
		json_object_set_new(j, "refreshed", cli_json_time(li->refreshed_ns));
	}
	return j;
}

static void print_lock(const LockInfo *li, const char *action)
{
	char when[CLI_FMT_TIME_LEN];

	printf("%-8s %.8s  ", action, li->id);
	if (li->readable) {
		printf("%s lock of %s on host ", lock_mode_name(li->mode), li->command);
		cli_fmt_name(stdout, li->host);
		printf(" pid %lld (user ", (long long)li->pid);
		cli_fmt_name(stdout, li->user);
		printf(") since %s: ", cli_fmt_time_local(li->created_ns, when));
	}
	printf("%s\n", li->why);
}

static int run(Cli *cli, int argc, char **argv)
{
	Args a = { 0, 0 };
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	LockInfo *locks = NULL;
	json_t *arr = NULL;
	size_t n = 0, removed = 0, kept = 0;
	int rc, first, exit_code = CLI_EXIT_OK;

	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE)
		return rc;
	if (first < argc)
		return cli_usage(cli, "unexpected argument %s", argv[first]);
	/* No lock of our own: this command is how a stuck one gets removed. */
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = lock_list(repo, &locks, &n, &err))) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	if (cli->json && !(arr = json_array())) {
		exit_code = cli_failf(cli, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const LockInfo *li = &locks[i];
		const char *action;
		/* Stale: its holder is gone, or it is no lock of this
		 * repository (ignored by every command anyway). An authentic
		 * lock this strata cannot read may be a newer strata's live
		 * one: never stale, only --remove-all removes it. */
		if (a.remove_all || li->stale) {
			if (!a.dry_run && (rc = lock_remove(repo, li->id, &err)) && rc != -ENOENT) {
				exit_code = cli_fail(cli, rc, &err);
				goto out;
			}
			action = a.dry_run ? "would remove" : "removed";
			removed++;
		} else {
			action = "kept";
			kept++;
		}
		if (arr)
			json_array_append_new(arr, lock_json(li, action));
		else if (!cli->quiet || strcmp(action, "kept") == 0)
			print_lock(li, action);
	}
	if (arr) {
		if (cli_json_print(json_pack("{s:o, s:I, s:I}", "locks", arr, "removed", (json_int_t)removed,
		                             "kept", (json_int_t)kept), 0) < 0)
			exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
		arr = NULL;
	} else if (!cli->quiet) {
		printf("%zu lock%s %s, %zu kept%s\n", removed, removed == 1 ? "" : "s",
		       a.dry_run ? "would be removed" : "removed", kept,
		       kept && !a.remove_all ? " (alive: use --remove-all only if you know no other strata runs)" : "");
	}
out:
	json_decref(arr);
	free(locks);
	repo_close(repo);
	return exit_code;
}

const CliCommand cmd_unlock = {
	.name = "unlock",
	.summary = "Remove stale repository locks (left by crashed or killed strata runs).",
	.usage = "strata unlock [--remove-all] [--dry-run]",
	.help =
		"Lists the locks in the repository (locks/) and removes the stale ones: a\n"
		"lock not refreshed for its stale timeout (30 minutes by default; a live\n"
		"strata refreshes its lock every 5 minutes), one naming a process of this\n"
		"machine that no longer runs, or a file in locks/ that is no lock of this\n"
		"repository (larger than any lock, or not sealed with its key: every\n"
		"command ignores those, with a warning). Live locks, and locks written\n"
		"by a newer strata, are kept and printed.\n"
		"\n"
		"Options:\n"
		"      --remove-all   remove every lock, live or not, including ones of a\n"
		"                     newer strata. Only when you know no other strata\n"
		"                     uses the repository: a running strata whose lock is\n"
		"                     removed stops at its next refresh.\n"
		"      --dry-run      only print what would be removed\n"
		"\n"
		"Commands take locks themselves: backup, restore, dump, ls, cat, stats,\n"
		"check and forget a shared one (they run side by side); prune an exclusive\n"
		"one while it deletes (and a \"mark\" one, which allows backups, while it\n"
		"decides and repacks); repair an exclusive one.\n"
		"\n"
		"Examples:\n"
		"  strata unlock\n"
		"  strata unlock --dry-run\n"
		"  strata unlock --remove-all\n",
	.run = run,
};
