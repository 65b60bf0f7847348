/* cmd_ls.c — `strata ls`: list the entries of a snapshot. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/snapshot.h"
#include "store/tree.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_lock.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_repo.h"
#include "tools/cli/cli_select.h"


typedef struct Lister {
	const Cli *cli;
	const char *prefix;       /* "" or "dir/sub/" put before walked paths */
	size_t count;
	char *buf;                /* prefix + path */
	size_t cap;
} Lister;

static int print_node(Lister *l, const char *path, const TreeNode *node)
{
	char mode[11], tm[CLI_FMT_TIME_LEN];
	char *line;

	if (l->cli->json) {
		json_t *o = cli_json_node(path, node);
		if (!o || !(line = json_dumps(o, JSON_COMPACT))) {
			json_decref(o);
			return -ENOMEM;
		}
		json_decref(o);
		printf("%s%s", l->count ? ",\n" : "[\n", line);
		free(line);
	} else {
		printf("%s %12llu  %s  ", cli_fmt_mode(node->type, node->mode, mode),
		       (unsigned long long)node->size, cli_fmt_time_local(node->mtime_ns, tm));
		cli_fmt_name(stdout, path);
		if (node->type == NODE_SYMLINK && node->link_target) {
			fputs(" -> ", stdout);
			cli_fmt_name(stdout, node->link_target);
		}
		putchar('\n');
	}
	l->count++;
	return ferror(stdout) ? -EIO : 0;
}

static int on_node(const char *path, const TreeNode *node, void *ctx)
{
	Lister *l = ctx;
	size_t need = strlen(l->prefix) + strlen(path) + 1;

	if (need > l->cap) {
		char *b = realloc(l->buf, need);
		if (!b)
			return -ENOMEM;
		l->buf = b;
		l->cap = need;
	}
	snprintf(l->buf, l->cap, "%s%s", l->prefix, path);
	return print_node(l, l->buf, node);
}

static int run(Cli *cli, int argc, char **argv)
{
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	Snapshot snap;
	TreeNode node;
	Lister l;
	CliSelect sel;
	char *path = NULL, *prefix = NULL;
	size_t len;
	int rc, first, exit_code = CLI_EXIT_OK, have_snap = 0, have_node = 0;

	memset(&snap, 0, sizeof snap);
	memset(&node, 0, sizeof node);
	memset(&l, 0, sizeof l);
	memset(&sel, 0, sizeof sel);
	if ((rc = cli_opts_parse(cli, argc, argv, "", cli_select_options, cli_select_on_opt, &sel, &first)) != CLI_CONTINUE) {
		exit_code = rc;
		goto out;
	}
	if (first >= argc && !(sel.nselectors || sel.labels.n || sel.verified)) {
		exit_code = cli_usage(cli, "missing SNAPSHOT");
		goto out;
	}
	if ((rc = cli_select_operands(cli, &sel, argc, argv, &first, 1, NULL)) != CLI_CONTINUE) {
		exit_code = rc;
		goto out;
	}
	if (argc - first > 1) {
		exit_code = cli_usage(cli, "unexpected argument %s", argv[first + 1]);
		goto out;
	}
	/* "a/b/" and "/a/b" both name "a/b": tree paths have no leading or
	 * trailing slash. */
	if (!(path = strdup(argc - first == 1 ? argv[first] : "")))
		goto oom;
	for (len = strlen(path); len > 0 && path[len - 1] == '/'; len--)
		path[len - 1] = '\0';
	memmove(path, path + strspn(path, "/"), strlen(path + strspn(path, "/")) + 1);

	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = cli_lock(cli, repo, LOCK_SHARED, &err)) ||
	    (rc = cli_select_find(&sel, repo, &snap, &err)))
		goto fail;
	have_snap = 1;
	l.cli = cli;
	if (!*path) {
		l.prefix = "";
		rc = tree_walk(repo, snap.tree, on_node, &l, &err);
	} else {
		if ((rc = tree_lookup(repo, snap.tree, path, &node, &err)))
			goto fail;
		have_node = 1;
		if ((rc = print_node(&l, path, &node)) == 0 && node.type == NODE_DIR) {
			if (!(prefix = malloc(strlen(path) + 2)))
				goto oom;
			sprintf(prefix, "%s/", path);
			l.prefix = prefix;
			rc = tree_walk(repo, node.subtree, on_node, &l, &err);
		}
	}
	if (cli->json && (rc == 0 || l.count))
		fputs(l.count ? "\n]\n" : "[]\n", stdout);
	if (rc == -ENOMEM || rc == -EIO) {
		exit_code = cli_failf(cli, rc, "%s", rc == -EIO ? "cannot write to stdout" : "out of memory");
		goto out;
	}
	if (rc)
		goto fail;
	goto out;
oom:
	exit_code = cli_failf(cli, -ENOMEM, "out of memory");
	goto out;
fail:
	exit_code = cli_fail(cli, rc, &err);
out:
	if (have_node)
		tree_node_clear(&node);
	if (have_snap)
		snapshot_clear(&snap);
	repo_close(repo);
	free(path);
	free(prefix);
	free(l.buf);
	cli_select_free(&sel);
	return exit_code;
}

const CliCommand cmd_ls = {
	.name = "ls",
	.summary = "List the files in a snapshot.",
	.usage = "strata ls SNAPSHOT [PATH]\n"
	         "       strata ls [latest] (--at TIME | --at-height N | --label KEY=VALUE | --verified)\n"
	         "                 [--host H] [--tag T]... [--path P]... [PATH]",
	.help =
		"Lists every entry under PATH (default: the whole snapshot), recursively:\n"
		"mode, size, modification time (local) and path; a symlink shows its\n"
		"target. Control characters and bytes that are not UTF-8 print as \\xNN.\n"
		"SNAPSHOT is \"latest\" or an ID prefix of at least 4 hex digits.\n"
		"\n"
		"With --json, a JSON array with one object per entry (one per line):\n"
		"path, type, mode, mode_string, size, mtime, uid, gid, nlink, and\n"
		"link_target for symlinks; a name that is not UTF-8 also gets\n"
		"path_hex with its exact bytes.\n"
		"\n"
		CLI_SELECT_HELP
		"With a selector, a first operand other than \"latest\" is PATH.\n"
		"\n"
		"Examples:\n"
		"  strata ls latest\n"
		"  strata ls --verified --tag chain var/lib/node\n"
		"  strata ls 3fa1c2d4 var/lib/node/chaindata\n"
		"  strata ls latest --json | jq -r '.[] | select(.type==\"file\") | .path'\n",
	.run = run,
};
