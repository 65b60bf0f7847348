/* cmd_find.c — `strata find`: which snapshots hold files matching a glob.
 *
 * Snapshots of one source share most of their directories, at the same
 * paths. The walk remembers each (subtree ID, path) pair below which
 * nothing matched, and skips that pair in every later snapshot without
 * loading it: searching a thousand snapshots of a mostly unchanged data
 * directory costs little more than searching one.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"
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

enum {
	OPT_SNAPSHOT = CLI_OPT_CMD
};

static const struct option longopts[] = {
	{ "snapshot", required_argument, NULL, OPT_SNAPSHOT },
	CLI_SELECT_LONGOPTS,
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	CliList snapshots;
	CliSelect sel;            /* the group searched, or the one snapshot chosen */
} Args;

/* A set of 32-byte keys (open addressing, linear probing); the keys are
 * hashes, so their first bytes index the table directly. */
typedef struct KeySet {
	uint8_t (*keys)[CODEC_ID_LEN];
	uint8_t *used;
	size_t n, cap;            /* cap: a power of two, or 0 */
} KeySet;

typedef struct Finder {
	const Cli *cli;
	Repo *repo;
	const char *const *patterns;
	size_t npatterns;
	const Snapshot *snap;     /* being searched */
	char *path;
	size_t len, cap;
	KeySet barren;            /* (subtree, path) pairs with no match below */
	uint64_t matches;
	uint64_t dirs_skipped;
	size_t printed;
} Finder;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;
	int rc;

	if (opt != OPT_SNAPSHOT) {
		rc = cli_select_opt(cli, opt, arg, &a->sel);
		return rc == CLI_SELECT_NOT_MINE ? cli_usage(cli, "unexpected option") : rc;
	}
	if (cli_list_push(&a->snapshots, (char *)(uintptr_t)arg) < 0)
		return cli_failf(cli, -ENOMEM, "out of memory");
	return CLI_CONTINUE;
}

static size_t slot_of(const KeySet *s, const uint8_t key[CODEC_ID_LEN])
{
	size_t h;

	memcpy(&h, key, sizeof h);
	return h & (s->cap - 1);
}

static int keyset_has(const KeySet *s, const uint8_t key[CODEC_ID_LEN])
{
	if (!s->cap)
		return 0;
	for (size_t i = slot_of(s, key);; i = (i + 1) & (s->cap - 1)) {
		if (!s->used[i])
			return 0;
		if (!memcmp(s->keys[i], key, CODEC_ID_LEN))
			return 1;
	}
}

static int keyset_add(KeySet *s, const uint8_t key[CODEC_ID_LEN])
{
	size_t i;

	if (2 * (s->n + 1) > s->cap) {   /* at most half full: probes stay short */
		KeySet g = { NULL, NULL, 0, s->cap ? s->cap * 2 : 1024 };
		if (!(g.keys = malloc(g.cap * sizeof *g.keys)) || !(g.used = calloc(g.cap, 1))) {
			free(g.keys);
			return -ENOMEM;
		}
		for (i = 0; i < s->cap; i++)
			if (s->used[i])
				keyset_add(&g, s->keys[i]);
		free(s->keys);
		free(s->used);
		*s = g;
	}
	for (i = slot_of(s, key); s->used[i]; i = (i + 1) & (s->cap - 1))
		if (!memcmp(s->keys[i], key, CODEC_ID_LEN))
			return 0;
	memcpy(s->keys[i], key, CODEC_ID_LEN);
	s->used[i] = 1;
	s->n++;
	return 0;
}

static void keyset_free(KeySet *s)
{
	free(s->keys);
	free(s->used);
}

static size_t path_push(Finder *f, const char *name)
{
	size_t old = f->len, nl = strlen(name), need = f->len + nl + 2;

	if (need > f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 256;
		char *p;
		while (cap < need)
			cap *= 2;
		if (!(p = realloc(f->path, cap)))
			return (size_t)-1;
		f->path = p;
		f->cap = cap;
	}
	if (f->len)
		f->path[f->len++] = '/';
	memcpy(f->path + f->len, name, nl + 1);
	f->len += nl;
	return old;
}

static void path_pop(Finder *f, size_t old)
{
	f->len = old;
	f->path[old] = '\0';
}

/* matches — a pattern matches the path from the root when it starts with
 * '/', else any tail of the path that starts at a name: the base name,
 * "parent/name", and so on up to the whole path. fnmatch without flags:
 * '*' also matches '/'. */
static int matches(const Finder *f)
{
	for (size_t i = 0; i < f->npatterns; i++) {
		const char *p = f->patterns[i], *tail = f->path;
		if (p[0] == '/') {
			if (fnmatch(p + 1, f->path, 0) == 0)
				return 1;
			continue;
		}
		for (;;) {
			if (fnmatch(p, tail, 0) == 0)
				return 1;
			if (!(tail = strchr(tail, '/')))
				break;
			tail++;
		}
	}
	return 0;
}

static int print_match(Finder *f, const TreeNode *node)
{
	char sid[CLI_FMT_SHORT_ID_LEN], tm[CLI_FMT_TIME_LEN];
	char *line;

	if (f->cli->json) {
		json_t *o = cli_json_node(f->path, node);
		if (!o || json_object_set_new(o, "snapshot", cli_json_id(f->snap->id)) != 0 ||
		    json_object_set_new(o, "short_id", json_string(cli_fmt_short_id(f->snap->id, sid))) != 0 ||
		    json_object_set_new(o, "snapshot_time", cli_json_time(f->snap->time_ns)) != 0 ||
		    !(line = json_dumps(o, JSON_COMPACT))) {
			json_decref(o);
			return -ENOMEM;
		}
		json_decref(o);
		printf("%s%s", f->printed ? ",\n" : "[\n", line);
		free(line);
	} else {
		printf("%s  %s  %12llu  ", cli_fmt_short_id(f->snap->id, sid),
		       cli_fmt_time_local(f->snap->time_ns, tm), (unsigned long long)node->size);
		cli_fmt_name(stdout, f->path);
		if (node->type == NODE_DIR)
			putchar('/');
		putchar('\n');
	}
	f->printed++;
	return ferror(stdout) ? -EIO : 0;
}

static void barren_key(const uint8_t subtree[STRATA_ID_LEN], const char *path, uint8_t out[CODEC_ID_LEN])
{
	CodecHashState st;

	codec_file_hash_init(&st);
	codec_file_hash_update(&st, subtree, STRATA_ID_LEN);
	codec_file_hash_update(&st, path, strlen(path) + 1);
	codec_file_hash_final(&st, out);
}

/* search — the directory tree id at f->path; *out_found counts matches. */
static int search(Finder *f, const uint8_t id[STRATA_ID_LEN], uint64_t *out_found, StrataErr *err)
{
	Tree t = { NULL, 0, 0 };
	uint8_t key[CODEC_ID_LEN];
	uint64_t found = 0;
	int rc;

	barren_key(id, f->path, key);
	if (keyset_has(&f->barren, key)) {
		f->dirs_skipped++;
		*out_found = 0;
		return 0;
	}
	if ((rc = tree_load(f->repo, id, &t, err)) != 0)
		return rc;
	for (size_t i = 0; i < t.n && rc == 0; i++) {
		const TreeNode *n = &t.nodes[i];
		size_t old = path_push(f, n->name);
		if (old == (size_t)-1) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			break;
		}
		if (matches(f)) {
			found++;
			if ((rc = print_match(f, n)) != 0)
				strata_err_set(err, rc, "%s", rc == -EIO ? "cannot write to stdout" : "out of memory");
		}
		if (rc == 0 && n->type == NODE_DIR) {
			uint64_t below = 0;
			rc = search(f, n->subtree, &below, err);
			found += below;
		}
		path_pop(f, old);
	}
	tree_clear(&t);
	if (rc == 0 && found == 0 && keyset_add(&f->barren, key) != 0)
		rc = strata_err_set(err, -ENOMEM, "out of memory");
	*out_found = found;
	return rc;
}

static int search_snapshot(Finder *f, const Snapshot *snap, StrataErr *err)
{
	uint64_t found = 0;
	int rc;

	f->snap = snap;
	path_pop(f, 0);
	rc = search(f, snap->tree, &found, err);
	f->matches += found;
	return rc;
}

static int run(Cli *cli, int argc, char **argv)
{
	Args a;
	Finder f;
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	Snapshot *snaps = NULL, one;
	size_t nsnaps = 0, i;
	int rc = 0, first, exit_code = CLI_EXIT_OK;

	memset(&a, 0, sizeof a);
	memset(&f, 0, sizeof f);
	memset(&one, 0, sizeof one);
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE) {
		exit_code = rc;
		goto out;
	}
	if (first >= argc) {
		exit_code = cli_usage(cli, "missing PATTERN");
		goto out;
	}
	for (i = (size_t)first; i < (size_t)argc; i++)
		if (!argv[i][0]) {
			exit_code = cli_usage(cli, "an empty PATTERN matches nothing");
			goto out;
		}
	if (a.sel.nselectors > 1) {
		exit_code = cli_usage(cli, "give one of --at and --at-height");
		goto out;
	}
	if (a.sel.nselectors && a.snapshots.n) {
		exit_code = cli_usage(cli, "give --snapshot or --at/--at-height, not both");
		goto out;
	}
	cli_select_group(cli, &a.sel);
	f.cli = cli;
	f.patterns = (const char *const *)(argv + first);
	f.npatterns = (size_t)(argc - first);
	if (path_push(&f, "") == (size_t)-1) {
		exit_code = cli_failf(cli, -ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = cli_lock(cli, repo, LOCK_SHARED, &err)))
		goto fail;
	f.repo = repo;
	if (a.snapshots.n) {
		/* In the order given, each resolved before any output. */
		if (!(snaps = calloc(a.snapshots.n, sizeof *snaps))) {
			exit_code = cli_failf(cli, -ENOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < a.snapshots.n; i++) {
			if ((rc = cli_select_find_ref(&a.sel, repo, a.snapshots.v[i], &snaps[i], &err)) != 0)
				goto fail;
			nsnaps++;
		}
	} else if (a.sel.nselectors) {
		/* --at/--at-height: the one snapshot they choose. */
		if (!(snaps = calloc(1, sizeof *snaps))) {
			exit_code = cli_failf(cli, -ENOMEM, "out of memory");
			goto out;
		}
		if ((rc = cli_select_find(&a.sel, repo, &snaps[0], &err)) != 0)
			goto fail;
		nsnaps = 1;
	} else if ((rc = snapshot_list(repo, &snaps, &nsnaps, &err)) != 0) {
		goto fail;
	} else if (cli_select_is_grouped(&a.sel)) {
		/* The group only (every snapshot of it, partial ones listed too). */
		size_t w = 0;
		if (a.sel.verified && !a.sel.vset) {
			if ((rc = cli_select_load_verified(repo, &a.sel.vset, &err)) != 0)
				goto fail;
			a.sel.sel.filter.verified = a.sel.vset;
		}
		/* --label here narrows: all of them, the first included. */
		a.sel.sel.filter.labels = (const char *const *)a.sel.labels.v;
		a.sel.sel.filter.nlabels = a.sel.labels.n;
		for (i = 0; i < nsnaps; i++) {
			if (snapselect_matches(&snaps[i], &a.sel.sel.filter)) {
				if (w != i) {
					Snapshot tmp = snaps[w];
					snaps[w] = snaps[i];
					snaps[i] = tmp;
				}
				w++;
			}
		}
		for (i = w; i < nsnaps; i++)
			snapshot_clear(&snaps[i]);
		nsnaps = w;
	}
	for (i = 0; i < nsnaps && rc == 0; i++)
		rc = search_snapshot(&f, &snaps[i], &err);
	if (cli->json && (rc == 0 || f.printed))
		fputs(f.printed ? "\n]\n" : "[]\n", stdout);
	if (rc)
		goto fail;
	if (cli->verbose && !cli->json)
		fprintf(stderr, "%llu matches in %zu snapshots; %llu directories skipped as already searched\n",
		        (unsigned long long)f.matches, nsnaps, (unsigned long long)f.dirs_skipped);
	if (fflush(stdout) != 0 || ferror(stdout))
		exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
	goto out;
fail:
	exit_code = cli_fail(cli, rc, &err);
out:
	snapshot_list_free(snaps, nsnaps);
	repo_close(repo);
	keyset_free(&f.barren);
	free(f.path);
	cli_list_free(&a.snapshots);
	cli_select_free(&a.sel);
	return exit_code;
}

const CliCommand cmd_find = {
	.name = "find",
	.summary = "Find files matching a pattern in every snapshot (or some).",
	.usage = "strata find [--snapshot SNAPSHOT]... [--host H] [--tag T]... [--path P]... [--label K=V]...\n"
	         "                   [--verified] PATTERN...\n"
	         "       strata find (--at TIME | --at-height N) [--host H] [--tag T]... PATTERN...",
	.help =
		"Prints every entry whose path matches a PATTERN (fnmatch(3) globs:\n"
		"* ? [...]; '*' also matches '/'): a PATTERN matches the base name or\n"
		"any longer tail of the path made of whole names (\"d1/*.txt\" finds\n"
		"srv/d1/a.txt), or, starting with '/', the whole path from the\n"
		"snapshot's root. One line per entry and snapshot: the snapshot's short\n"
		"ID and time (local), the size and the path (directories end in '/').\n"
		"Snapshots are searched oldest first, or those given with --snapshot in\n"
		"the order given. Directories identical to one already searched at the\n"
		"same path are not read again, so searching many similar snapshots\n"
		"stays cheap. Finding nothing is not an error (exit 0, no output).\n"
		"\n"
		"Options:\n"
		"      --snapshot SNAPSHOT  search only this snapshot (repeatable):\n"
		"                           \"latest\" or an ID prefix\n"
		"\n"		CLI_SELECT_HELP
		"Here --host, --tag, --path, --label and --verified alone search every\n"
		"snapshot of that group; --at and --at-height search the one they choose.\n"
		"\n"
		"With --json, a JSON array with one object per line: the fields of\n"
		"`strata ls --json` plus snapshot, short_id and snapshot_time.\n"
		"\n"
		"Examples:\n"
		"  strata find '*.toml'\n"
		"  strata find 'var/lib/node/*/LOCK' --snapshot latest\n"
		"  strata find /etc/passwd --json | jq -r '.[] | [.short_id, .size] | @tsv'\n",
	.run = run,
};
