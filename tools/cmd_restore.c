/* cmd_restore.c — `strata restore`: a snapshot, or parts of it, to a directory. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/restore.h"
#include "store/snapshot.h"
#include "tools/cli.h"
#include "tools/cli_exit.h"
#include "tools/cli_fmt.h"
#include "tools/cli_json.h"
#include "tools/cli_opts.h"
#include "tools/cli_progress.h"
#include "tools/cli_repo.h"

enum {
	OPT_TARGET = CLI_OPT_CMD,
	OPT_INCLUDE,
	OPT_OVERWRITE,
	OPT_THREADS
};

static const struct option longopts[] = {
	{ "target",    required_argument, NULL, OPT_TARGET },
	{ "include",   required_argument, NULL, OPT_INCLUDE },
	{ "overwrite", no_argument,       NULL, OPT_OVERWRITE },
	{ "threads",   required_argument, NULL, OPT_THREADS },
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	const char *target;
	CliList includes;
	int overwrite;
	long threads;
} Args;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;

	switch (opt) {
	case OPT_TARGET:
		if (!*arg)
			return cli_usage(cli, "--target wants a directory");
		a->target = arg;
		return CLI_CONTINUE;
	case OPT_INCLUDE:
		if (cli_list_push(&a->includes, (char *)(uintptr_t)arg) < 0)
			return cli_failf(cli, -ENOMEM, "out of memory");
		return CLI_CONTINUE;
	case OPT_OVERWRITE:
		a->overwrite = 1;
		return CLI_CONTINUE;
	case OPT_THREADS:
		if (cli_parse_int(arg, 0, 1024, &a->threads) < 0)
			return cli_usage(cli, "--threads wants a number from 0 (one per core) to 1024: %s", arg);
		return CLI_CONTINUE;
	default:
		return cli_usage(cli, "unexpected option");
	}
}

static void on_progress(const RestoreProgress *p, void *ctx)
{
	cli_progress_update(ctx, p->files_done, p->bytes_done, p->current);
}

static int run(Cli *cli, int argc, char **argv)
{
	Args a;
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	Snapshot snap;
	RestoreOptions opts;
	RestoreResult res;
	CliProgress progress;
	char id[CLI_FMT_SHORT_ID_LEN], hex[STRATA_ID_HEX_LEN + 1], bytes[CLI_FMT_BYTES_LEN];
	int rc, first, exit_code = CLI_EXIT_OK, have_snap = 0;

	memset(&a, 0, sizeof a);
	memset(&snap, 0, sizeof snap);
	memset(&opts, 0, sizeof opts);
	memset(&res, 0, sizeof res);
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE) {
		exit_code = rc;
		goto out;
	}
	if (first >= argc) {
		exit_code = cli_usage(cli, "missing SNAPSHOT");
		goto out;
	}
	if (argc - first > 1) {
		exit_code = cli_usage(cli, "unexpected argument %s", argv[first + 1]);
		goto out;
	}
	if (!a.target) {
		exit_code = cli_usage(cli, "missing --target DIR");
		goto out;
	}
	if ((rc = cli_repo_open(cli, &repo, &err)) ||
	    (rc = snapshot_find(repo, argv[first], &snap, &err))) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	have_snap = 1;
	opts.target = a.target;
	opts.includes = (const char *const *)a.includes.v;
	opts.nincludes = a.includes.n;
	opts.overwrite = a.overwrite;
	opts.threads = (int)a.threads;
	opts.progress = on_progress;
	opts.progress_ctx = &progress;
	cli_progress_init(&progress, cli);
	rc = restore_run(repo, &snap, &opts, &res, &err);
	cli_progress_done(&progress);
	if (rc) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	if (cli->json) {
		strata_id_hex(snap.id, hex);
		if (cli_json_print(json_pack("{s:s,s:o,s:I,s:I,s:I,s:I}",
		                             "snapshot_id", hex,
		                             "target", cli_json_str(a.target),
		                             "files", (json_int_t)res.files,
		                             "dirs", (json_int_t)res.dirs,
		                             "bytes", (json_int_t)res.bytes,
		                             "errors", (json_int_t)res.errors), 0) < 0)
			exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
	} else if (!cli->quiet) {
		printf("restored snapshot %s to ", cli_fmt_short_id(snap.id, id));
		cli_fmt_name(stdout, a.target);
		printf(": %llu files, %llu dirs, %s\n", (unsigned long long)res.files,
		       (unsigned long long)res.dirs, cli_fmt_bytes(res.bytes, bytes));
	}
	/* An engine that skips entries it could not create reports them in
	 * res.errors and still returns 0: the restore is then incomplete. */
	if (exit_code == CLI_EXIT_OK && res.errors)
		exit_code = cli_failf(cli, -EIO, "%llu entries could not be restored",
		                      (unsigned long long)res.errors);
out:
	if (have_snap)
		snapshot_clear(&snap);
	repo_close(repo);
	cli_list_free(&a.includes);
	return exit_code;
}

const CliCommand cmd_restore = {
	.name = "restore",
	.summary = "Restore a snapshot, or some paths of it, into a directory.",
	.usage = "strata restore SNAPSHOT --target DIR [--include PATH]... [--overwrite]",
	.help =
		"Recreates files, directories, symlinks, hard links and FIFOs with their\n"
		"modes, owners (when run as root) and modification times under DIR\n"
		"(created if missing). Every chunk is authenticated and its hash checked\n"
		"before it is written. Nothing is ever written outside DIR.\n"
		"SNAPSHOT is \"latest\" or an ID prefix of at least 4 hex digits.\n"
		"\n"
		"Options:\n"
		"      --target DIR      where to restore (required)\n"
		"      --include PATH    restore only PATH, a path as `strata ls` shows it\n"
		"                        (repeatable; a directory brings everything below)\n"
		"      --overwrite       replace files that already exist in DIR; without\n"
		"                        it, an existing file stops the restore\n"
		"      --threads N       worker threads (default: one per core)\n"
		"\n"
		"Examples:\n"
		"  strata restore latest --target /srv/restore\n"
		"  strata restore 3fa1c2d4 --target /tmp/r --include etc/nginx\n"
		"  strata restore latest --target /var/lib/node --overwrite\n",
	.run = run,
};
