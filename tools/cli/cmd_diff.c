/* cmd_diff.c — `strata diff`: what changed between two snapshots.
 *
 * Walks both trees side by side. Two directories with the same subtree ID
 * hold identical content (a tree's ID is the hash of its encoding), so the
 * walk skips them without loading either: a diff costs the directories
 * that changed, not the size of the snapshots.
 */
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

enum Change { CH_ADDED, CH_REMOVED, CH_MODIFIED, CH_TYPE };

static const char *const change_names[] = { "added", "removed", "modified", "type" };
static const char change_marks[] = { '+', '-', 'M', 'T' };

typedef struct Differ {
	const Cli *cli;
	Repo *repo;
	char *path;                  /* the entry's path, built as the walk descends */
	size_t len, cap;
	uint64_t count[4];           /* per enum Change */
	uint64_t bytes_added;        /* file bytes of added entries */
	uint64_t bytes_removed;
	uint64_t dirs_compared;      /* directory pairs loaded and merged */
	uint64_t dirs_skipped;       /* pairs with equal subtree IDs */
	size_t printed;
} Differ;

/* path_push — append "/name" (or "name" at the top); returns the old
 * length, to restore with path_pop. -ENOMEM as (size_t)-1. */
static size_t path_push(Differ *d, const char *name)
{
	size_t old = d->len, nl = strlen(name), need = d->len + nl + 2;

	if (need > d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 256;
		char *p;
		while (cap < need)
			cap *= 2;
		if (!(p = realloc(d->path, cap)))
			return (size_t)-1;
		d->path = p;
		d->cap = cap;
	}
	if (d->len)
		d->path[d->len++] = '/';
	memcpy(d->path + d->len, name, nl + 1);
	d->len += nl;
	return old;
}

static void path_pop(Differ *d, size_t old)
{
	d->len = old;
	d->path[old] = '\0';
}

/* The size a change reports: content bytes for files, target length for
 * symlinks, none for the rest. */
static int has_size(const TreeNode *n)
{
	return n && (n->type == NODE_FILE || n->type == NODE_SYMLINK);
}

static int emit(Differ *d, enum Change ch, const TreeNode *before, const TreeNode *after)
{
	char b1[CLI_FMT_BYTES_LEN], b2[CLI_FMT_BYTES_LEN];
	const TreeNode *one = after ? after : before;

	d->count[ch]++;
	if (ch == CH_ADDED && after->type == NODE_FILE)
		d->bytes_added += after->size;
	if (ch == CH_REMOVED && before->type == NODE_FILE)
		d->bytes_removed += before->size;
	if (d->cli->json) {
		json_t *o = json_object();
		char *line = NULL;
		if (o && cli_json_set_name(o, "path", d->path) == 0 &&
		    json_object_set_new(o, "change", json_string(change_names[ch])) == 0 &&
		    json_object_set_new(o, "type_before", before ? json_string(cli_fmt_type_name(before->type)) : json_null()) == 0 &&
		    json_object_set_new(o, "type_after", after ? json_string(cli_fmt_type_name(after->type)) : json_null()) == 0 &&
		    json_object_set_new(o, "size_before", has_size(before) ? json_integer((json_int_t)before->size) : json_null()) == 0 &&
		    json_object_set_new(o, "size_after", has_size(after) ? json_integer((json_int_t)after->size) : json_null()) == 0)
			line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (!line) {
			json_decref(o);
			return -ENOMEM;
		}
		json_decref(o);
		printf("%s%s", d->printed ? ",\n" : "[\n", line);
		free(line);
	} else if (!d->cli->quiet) {
		printf("%c ", change_marks[ch]);
		cli_fmt_name(stdout, d->path);
		if (one->type == NODE_DIR && ch != CH_TYPE)
			putchar('/');
		if (ch == CH_TYPE)
			printf(" (%s -> %s)", cli_fmt_type_name(before->type), cli_fmt_type_name(after->type));
		else if (ch == CH_MODIFIED && has_size(before))
			printf(" (%s -> %s)", cli_fmt_bytes(before->size, b1), cli_fmt_bytes(after->size, b2));
		else if (has_size(one))
			printf(" (%s)", cli_fmt_bytes(one->size, b1));
		putchar('\n');
	}
	d->printed++;
	return ferror(stdout) ? -EIO : 0;
}

/* node_changed — 1 if b differs from a (same type). A directory's own
 * mtime is not compared: it moves whenever an entry is added or removed,
 * and those entries are listed themselves. */
static int node_changed(const TreeNode *a, const TreeNode *b)
{
	if (a->mode != b->mode || a->uid != b->uid || a->gid != b->gid)
		return 1;
	if (a->type == NODE_DIR)
		return 0;
	if (a->size != b->size || a->mtime_ns != b->mtime_ns)
		return 1;
	switch (a->type) {
	case NODE_FILE:
		return a->nchunks != b->nchunks ||
		       (a->nchunks && memcmp(a->chunks, b->chunks, a->nchunks * sizeof a->chunks[0]) != 0);
	case NODE_SYMLINK:
		return strcmp(a->link_target ? a->link_target : "", b->link_target ? b->link_target : "") != 0;
	case NODE_CHARDEV:
	case NODE_BLOCKDEV:
		return a->rdev != b->rdev;
	default:
		return 0;
	}
}

/* ---- whole subtrees added or removed ---- */

typedef struct AllCtx {
	Differ *d;
	enum Change ch;
} AllCtx;

static int on_all(const char *path, const TreeNode *node, void *ctx)
{
	AllCtx *c = ctx;
	size_t old = path_push(c->d, path);
	int rc;

	if (old == (size_t)-1)
		return -ENOMEM;
	rc = emit(c->d, c->ch, c->ch == CH_REMOVED ? node : NULL, c->ch == CH_ADDED ? node : NULL);
	path_pop(c->d, old);
	return rc;
}

/* every entry below directory node (at d->path) as ch */
static int diff_all_below(Differ *d, const TreeNode *dir, enum Change ch, StrataErr *err)
{
	AllCtx c = { d, ch };

	return tree_walk(d->repo, dir->subtree, on_all, &c, err);
}

static int diff_one(Differ *d, const TreeNode *a, const TreeNode *b, StrataErr *err);

/* diff_trees — compare directory trees ta and tb, whose path is d->path. */
static int diff_trees(Differ *d, const uint8_t ta[STRATA_ID_LEN], const uint8_t tb[STRATA_ID_LEN],
                      StrataErr *err)
{
	Tree a = { NULL, 0, 0 }, b = { NULL, 0, 0 };
	size_t i = 0, j = 0;
	int rc;

	if (!memcmp(ta, tb, STRATA_ID_LEN)) {
		d->dirs_skipped++;
		return 0;
	}
	d->dirs_compared++;
	if ((rc = tree_load(d->repo, ta, &a, err)) != 0 || (rc = tree_load(d->repo, tb, &b, err)) != 0)
		goto out;
	while (rc == 0 && (i < a.n || j < b.n)) {
		int c = i == a.n ? 1 : j == b.n ? -1 : strcmp(a.nodes[i].name, b.nodes[j].name);
		if (c < 0)
			rc = diff_one(d, &a.nodes[i++], NULL, err);
		else if (c > 0)
			rc = diff_one(d, NULL, &b.nodes[j++], err);
		else
			rc = diff_one(d, &a.nodes[i++], &b.nodes[j++], err);
	}
out:
	tree_clear(&a);
	tree_clear(&b);
	return rc;
}

/* diff_one — one name present in a, b or both. */
static int diff_one(Differ *d, const TreeNode *a, const TreeNode *b, StrataErr *err)
{
	size_t old = path_push(d, a ? a->name : b->name);
	int rc = 0;

	if (old == (size_t)-1)
		return strata_err_set(err, -ENOMEM, "out of memory");
	if (!b) {
		if ((rc = emit(d, CH_REMOVED, a, NULL)) == 0 && a->type == NODE_DIR)
			rc = diff_all_below(d, a, CH_REMOVED, err);
	} else if (!a) {
		if ((rc = emit(d, CH_ADDED, NULL, b)) == 0 && b->type == NODE_DIR)
			rc = diff_all_below(d, b, CH_ADDED, err);
	} else if (a->type != b->type) {
		/* A directory replaced by a file loses everything below it. */
		if ((rc = emit(d, CH_TYPE, a, b)) == 0 && a->type == NODE_DIR)
			rc = diff_all_below(d, a, CH_REMOVED, err);
		if (rc == 0 && b->type == NODE_DIR)
			rc = diff_all_below(d, b, CH_ADDED, err);
	} else {
		if (node_changed(a, b))
			rc = emit(d, CH_MODIFIED, a, b);
		if (rc == 0 && a->type == NODE_DIR)
			rc = diff_trees(d, a->subtree, b->subtree, err);
	}
	path_pop(d, old);
	if (rc == -ENOMEM || rc == -EIO)
		strata_err_set(err, rc, "%s", rc == -EIO ? "cannot write to stdout" : "out of memory");
	return rc;
}

static void print_summary(const Differ *d)
{
	char b1[CLI_FMT_BYTES_LEN], b2[CLI_FMT_BYTES_LEN];

	printf("%llu added (%s), %llu removed (%s), %llu modified, %llu changed type\n",
	       (unsigned long long)d->count[CH_ADDED], cli_fmt_bytes(d->bytes_added, b1),
	       (unsigned long long)d->count[CH_REMOVED], cli_fmt_bytes(d->bytes_removed, b2),
	       (unsigned long long)d->count[CH_MODIFIED], (unsigned long long)d->count[CH_TYPE]);
	if (d->cli->verbose)
		printf("compared %llu directories, skipped %llu unchanged ones unread\n",
		       (unsigned long long)d->dirs_compared, (unsigned long long)d->dirs_skipped);
}


static int run(Cli *cli, int argc, char **argv)
{
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	Snapshot s1, s2;
	CliSelect cs;
	Differ d;
	int rc, first, nops, exit_code = CLI_EXIT_OK, have1 = 0, have2 = 0;

	memset(&s1, 0, sizeof s1);
	memset(&s2, 0, sizeof s2);
	memset(&d, 0, sizeof d);
	memset(&cs, 0, sizeof cs);
	if ((rc = cli_opts_parse(cli, argc, argv, "", cli_select_options, cli_select_on_opt, &cs, &first)) != CLI_CONTINUE) {
		cli_select_free(&cs);
		return rc;
	}
	nops = argc - first;
	/* Two SNAPSHOTs, or a selector for SNAPSHOT1 and one SNAPSHOT. */
	if (cs.nselectors > 1)
		exit_code = cli_usage(cli, "give one of --at and --at-height");
	else if (cs.nselectors && nops != 1)
		exit_code = cli_usage(cli, "with --at or --at-height choosing SNAPSHOT1, give one SNAPSHOT2");
	else if (nops < 2 && !(nops == 1 && cli_select_is_selector(&cs)))
		exit_code = cli_usage(cli, "diff needs two snapshots: SNAPSHOT1 SNAPSHOT2 (or a selector for "
		                      "SNAPSHOT1, such as --at-height N, and SNAPSHOT2)");
	else if (nops > 2)
		exit_code = cli_usage(cli, "unexpected argument %s", argv[first + 2]);
	if (exit_code != CLI_EXIT_OK) {
		cli_select_free(&cs);
		return exit_code;
	}
	cli_select_group(cli, &cs);
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = cli_lock(cli, repo, LOCK_SHARED, &err)))
		goto fail;
	rc = nops == 1 ? cli_select_find(&cs, repo, &s1, &err) : cli_select_find_ref(&cs, repo, argv[first], &s1, &err);
	if (rc != 0)
		goto fail;
	have1 = 1;
	if ((rc = cli_select_find_ref(&cs, repo, argv[argc - 1], &s2, &err)) != 0)
		goto fail;
	have2 = 1;
	d.cli = cli;
	d.repo = repo;
	if (path_push(&d, "") == (size_t)-1) {
		exit_code = cli_failf(cli, -ENOMEM, "out of memory");
		goto out;
	}
	rc = diff_trees(&d, s1.tree, s2.tree, &err);
	if (cli->json && (rc == 0 || d.printed))
		fputs(d.printed ? "\n]\n" : "[]\n", stdout);
	if (rc)
		goto fail;
	if (!cli->json && !cli->quiet)
		print_summary(&d);
	if (fflush(stdout) != 0 || ferror(stdout))
		exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
	goto out;
fail:
	exit_code = cli_fail(cli, rc, &err);
out:
	if (have1)
		snapshot_clear(&s1);
	if (have2)
		snapshot_clear(&s2);
	repo_close(repo);
	free(d.path);
	cli_select_free(&cs);
	return exit_code;
}

const CliCommand cmd_diff = {
	.name = "diff",
	.summary = "Show the files added, removed and changed between two snapshots.",
	.usage = "strata diff SNAPSHOT1 SNAPSHOT2 [--host H] [--tag T]... [--path P]... [--label K=V]...\n"
	         "       strata diff (--at TIME | --at-height N | --label K=V | --verified) SNAPSHOT2",
	.help =
		"Compares the trees of two snapshots and prints one line per entry that\n"
		"differs, in path order:\n"
		"  + path (size)             in SNAPSHOT2 only (a directory: every entry\n"
		"                            below it follows)\n"
		"  - path (size)             in SNAPSHOT1 only\n"
		"  M path (before -> after)  modified: content (its chunk list), size,\n"
		"                            mtime, mode or owner differ; a directory\n"
		"                            only for mode or owner\n"
		"  T path (file -> symlink)  the entry changed type\n"
		"then a line with the totals. Directories end in '/'. Directories whose\n"
		"content is identical (same subtree ID) are skipped unread, so a diff\n"
		"costs what changed, not the size of the snapshots; -v says how many.\n"
		"SNAPSHOT is \"latest\" or an ID prefix of at least 4 hex digits.\n"
		"\n"
		"With --json, a JSON array with one object per line: path, change\n"
		"(\"added\", \"removed\", \"modified\", \"type\"), type_before, type_after,\n"
		"size_before, size_after (null when absent, and for entries other than\n"
		"files and symlinks).\n"
		"\n"
		CLI_SELECT_HELP
		"Beside one SNAPSHOT, a selector (--at, --at-height, --label, --verified)\n"
		"chooses SNAPSHOT1: `diff --at-height 812000 latest` shows what changed\n"
		"since that height.\n"
		"\n"
		"Examples:\n"
		"  strata diff 3fa1c2d4 latest\n"
		"  strata diff 3fa1 9b07 --json | jq -r '.[] | select(.change==\"removed\") | .path'\n",
	.run = run,
};
