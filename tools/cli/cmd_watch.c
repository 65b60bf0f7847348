/* cmd_watch.c — `strata watch`: keep a change journal of source paths for
 * `backup --changes journal|auto` (store/sys/fswatch.h,
 * tools/cli/doc/changes.md). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/backup/backup.h"
#include "store/backup/journal.h"
#include "store/repo.h"
#include "store/sys/fswatch.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_opts.h"

typedef struct Ready {
	const Cli *cli;
	const char *dir;
	char **roots;
	size_t nroots;
} Ready;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	(void)opt;
	(void)arg;
	(void)ctx;
	return cli_usage(cli, "unexpected option");
}

/* Once the marks are in place: say so (a script waits for this line). */
static void on_ready(const char *run, void *ctx)
{
	Ready *r = ctx;

	if (r->cli->json) {
		json_t *roots = json_array();
		for (size_t i = 0; roots && i < r->nroots; i++)
			json_array_append_new(roots, json_string(r->roots[i]));
		cli_json_print(json_pack("{s:s,s:s,s:o}", "run", run, "journal", r->dir, "roots", roots), 0);
	} else if (!r->cli->quiet) {
		fprintf(stderr, "strata watch: journal %s, run %s: watching", r->dir, run);
		for (size_t i = 0; i < r->nroots; i++)
			fprintf(stderr, " %s", r->roots[i]);
		fprintf(stderr, "\n");
	}
	fflush(stdout);
	fflush(stderr);
}

static int run(Cli *cli, int argc, char **argv)
{
	StrataErr err = { 0, "" };
	char cache[PATH_MAX], dir[PATH_MAX];
	Ready r = { cli, dir, NULL, 0 };
	int first, rc, exit_code = CLI_EXIT_OK;

	if ((rc = cli_opts_parse(cli, argc, argv, "", NULL, on_opt, NULL, &first)) != CLI_CONTINUE)
		return rc;
	if (first >= argc)
		return cli_usage(cli, "give one or more PATHs to watch");
	if (repo_cache_root(cli->cache_dir, cache, sizeof cache) != 0)
		return cli_failf(cli, -ENOENT, "no local cache directory: set STRATA_CACHE_DIR or HOME");
	r.nroots = (size_t)(argc - first);
	if (!(r.roots = calloc(r.nroots, sizeof *r.roots)))
		return cli_failf(cli, -ENOMEM, "out of memory");
	for (size_t i = 0; i < r.nroots; i++) {
		char clean[PATH_MAX];
		if ((rc = backup_path_clean(argv[first + (int)i], clean)) != 0 || !(r.roots[i] = strdup(clean))) {
			exit_code = cli_usage(cli, "PATH %s: %s", argv[first + (int)i], strerror(rc ? -rc : ENOMEM));
			goto out;
		}
	}
	journal_dir_for(cache, (const char *const *)r.roots, r.nroots, dir);
	if ((rc = fswatch_run((const char *const *)r.roots, r.nroots, dir, cache, on_ready, &r, &err)) != 0)
		exit_code = cli_fail(cli, rc, &err);
out:
	for (size_t i = 0; i < r.nroots; i++)
		free(r.roots[i]);
	free(r.roots);
	return exit_code;
}

const CliCommand cmd_watch = {
	.name = "watch",
	.summary = "Keep a change journal of PATHs so that backups look only at what changed.",
	.usage = "strata watch PATH...",
	.help =
		"Watches the filesystems holding PATH... (fanotify filesystem marks) and\n"
		"appends every directory and entry that changes below them to a journal in\n"
		"the local cache (<cache>/journal/). `backup --changes journal` (and auto,\n"
		"without --fs-snapshot btrfs) then visits only the directories on the way\n"
		"to a change instead of every file, and takes the rest from the parent\n"
		"snapshot. Runs in the foreground until SIGTERM, SIGINT or SIGHUP; start it\n"
		"before the backups (a systemd service: tools/dist/).\n"
		"\n"
		"A journal never makes a snapshot miss a change: the first backup after the\n"
		"watcher starts scans fully; so does every backup when the watcher was not\n"
		"running for the whole time since the parent snapshot (it is restarted, or\n"
		"gone), when the kernel's event queue overflowed, or when anything about the\n"
		"journal is unsure; a backup asks the watcher to write out everything queued\n"
		"before it starts, and changes made during a backup are in the journal for\n"
		"the next one (tools/cli/doc/changes.md).\n"
		"\n"
		"Needs root (CAP_SYS_ADMIN for filesystem marks, CAP_DAC_READ_SEARCH to turn\n"
		"file handles into paths) and Linux 5.9 or later. Without them it exits 1\n"
		"with the reason, and backups scan every file as before.\n"
		"\n"
		"With --json, one line once watching: {\"run\", \"journal\", \"roots\"}.\n"
		"\n"
		"Example:\n"
		"  strata watch /srv/ledger &\n"
		"  strata backup /srv/ledger --json | jq .changes\n",
	.run = run,
};
