/* cmd_snapshots.c — `strata snapshots`: list snapshots, optionally filtered. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/snapselect.h"
#include "store/snapshot.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_repo.h"
#include "tools/cli/cli_select.h"

enum {
	OPT_HOST = CLI_OPT_CMD,
	OPT_TAG,
	OPT_LATEST,
	OPT_AT,
	OPT_AT_HEIGHT,
	OPT_LABEL,
	OPT_PATH,
	OPT_VERIFIED
};

static const struct option longopts[] = {
	{ "host",   required_argument, NULL, OPT_HOST },
	{ "tag",    required_argument, NULL, OPT_TAG },
	{ "latest", required_argument, NULL, OPT_LATEST },
	{ "at",        required_argument, NULL, OPT_AT },
	{ "at-height", required_argument, NULL, OPT_AT_HEIGHT },
	{ "label",     required_argument, NULL, OPT_LABEL },
	{ "path",      required_argument, NULL, OPT_PATH },
	{ "verified",  no_argument,       NULL, OPT_VERIFIED },
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	const char *host;
	CliList tags;
	long latest;        /* 0 = all */
	CliList labels, paths;
	SnapSelect sel;     /* --at / --at-height: show only the one chosen */
	int nselectors;
	int verified;       /* --verified: only snapshots whose newest restore test passed */
} Args;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;

	switch (opt) {
	case OPT_HOST:
		a->host = arg;
		return CLI_CONTINUE;
	case OPT_TAG:
		if (cli_list_push(&a->tags, (char *)(uintptr_t)arg) < 0)
			return cli_failf(cli, -ENOMEM, "out of memory");
		return CLI_CONTINUE;
	case OPT_LATEST:
		if (cli_parse_int(arg, 1, 1L << 30, &a->latest) < 0)
			return cli_usage(cli, "--latest wants a positive number: %s", arg);
		return CLI_CONTINUE;
	case OPT_AT:
		return cli_select_at(cli, arg, &a->sel, &a->nselectors);
	case OPT_AT_HEIGHT:
		return cli_select_at_height(cli, arg, &a->sel, &a->nselectors);
	case OPT_VERIFIED:
		a->verified = 1;
		return CLI_CONTINUE;
	case OPT_LABEL:
		if (!strchr(arg, '=') || *arg == '=')
			return cli_usage(cli, "--label wants KEY=VALUE: '%s'", arg);
		/* fall through */
	case OPT_PATH:
		if (cli_list_push(opt == OPT_LABEL ? &a->labels : &a->paths, (char *)(uintptr_t)arg) < 0)
			return cli_failf(cli, -ENOMEM, "out of memory");
		return CLI_CONTINUE;
	default:
		return cli_usage(cli, "unexpected option");
	}
}

static int has_tag(const Snapshot *s, const char *tag)
{
	size_t i;

	for (i = 0; i < s->ntags; i++)
		if (!strcmp(s->tags[i], tag))
			return 1;
	return 0;
}

static int matches(const Snapshot *s, const Args *a)
{
	size_t i;

	if (a->host && (!s->host || strcmp(s->host, a->host)))
		return 0;
	for (i = 0; i < a->tags.n; i++)
		if (!has_tag(s, a->tags.v[i]))
			return 0;
	return snapselect_matches(s, &a->sel.filter);
}

static int match_args(const Snapshot *s, void *ctx)
{
	return matches(s, ctx);
}

/* Print the elements of v joined by sep, returning the width used. */
static size_t print_joined(char *const *v, size_t n, const char *sep)
{
	size_t i, w = 0;

	for (i = 0; i < n; i++) {
		if (i) {
			fputs(sep, stdout);
			w += strlen(sep);
		}
		cli_fmt_name(stdout, v[i]);
		w += cli_fmt_name_width(v[i]);
	}
	return w;
}

static size_t joined_width(char *const *v, size_t n, size_t sep_len)
{
	size_t i, w = 0;

	for (i = 0; i < n; i++)
		w += cli_fmt_name_width(v[i]) + (i ? sep_len : 0);
	return w;
}

static void pad(size_t used, size_t width)
{
	while (used++ < width + 2)
		putchar(' ');
}

/* The restore-test column: "passed " or "FAILED " and the local time of
 * the snapshot's newest record, "" when it has none. */
#define TESTED_W 26
static const char *tested(const VerifiedSet *vs, const Snapshot *s, char out[CLI_FMT_TIME_LEN + 8])
{
	const VerifiedRecord *r = verified_newest(vs, s->id);
	char tm[CLI_FMT_TIME_LEN];

	if (!r)
		return "";
	snprintf(out, CLI_FMT_TIME_LEN + 8, "%s %s", r->outcome == VERIFIED_PASSED ? "passed" : "FAILED",
	         cli_fmt_time_local(r->time_ns, tm));
	return out;
}

static void print_table(Snapshot *const *sel, size_t n, const VerifiedSet *vs)
{
	size_t wh = 4, wt = 4, wl = 6, wv = 0, i, j, w, npartial = 0;
	char id[CLI_FMT_SHORT_ID_LEN], tm[CLI_FMT_TIME_LEN], tv[CLI_FMT_TIME_LEN + 8];

	/* The column shows only once some snapshot has a restore test. */
	for (i = 0; i < n && !wv; i++)
		if (verified_newest(vs, sel[i]->id))
			wv = TESTED_W;
	for (i = 0; i < n; i++) {
		if (sel[i]->host && cli_fmt_name_width(sel[i]->host) > wh)
			wh = cli_fmt_name_width(sel[i]->host);
		if ((w = joined_width(sel[i]->tags, sel[i]->ntags, 1)) > wt)
			wt = w;
		if ((w = joined_width(sel[i]->labels, sel[i]->nlabels, 1)) > wl)
			wl = w;
	}
	printf("%-8s  %-19s  ", "ID", "Time");
	if (wv)
		printf("%-*s  ", (int)wv, "Restore test");
	printf("%-*s  %-*s  %-*s  %s\n", (int)wh, "Host", (int)wt, "Tags", (int)wl, "Labels", "Paths");
	w = 8 + 2 + 19 + 2 + (wv ? wv + 2 : 0) + wh + 2 + wt + 2 + wl + 2 + 5;
	for (i = 0; i < n; i++)
		npartial += sel[i]->partial;
	for (j = 0; j < w; j++)
		putchar('-');
	putchar('\n');
	for (i = 0; i < n; i++) {
		const Snapshot *s = sel[i];
		printf("%-8s  %-19s  ", cli_fmt_short_id(s->id, id), cli_fmt_time_local(s->time_ns, tm));
		if (wv)
			printf("%-*s  ", (int)wv, tested(vs, s, tv));
		cli_fmt_name(stdout, s->host ? s->host : "");
		pad(s->host ? cli_fmt_name_width(s->host) : 0, wh);
		pad(print_joined(s->tags, s->ntags, ","), wt);
		pad(print_joined(s->labels, s->nlabels, ","), wl);
		/* One path per line keeps long path lists readable. */
		for (j = 0; j < s->npaths; j++) {
			if (j)
				printf("\n%*s", (int)(8 + 2 + 19 + 2 + (wv ? wv + 2 : 0) + wh + 2 + wt + 2 + wl + 2), "");
			cli_fmt_name(stdout, s->paths[j]);
		}
		putchar('\n');
		/* Partial: a line of its own under it, so columns stay as they are. */
		if (s->partial)
			printf("%*s(partial: %llu path%s vanished, unreadable or changed while read)\n", 10, "",
			       (unsigned long long)s->partial_count, s->partial_count == 1 ? "" : "s");
		if (s->held) {
			char until[CLI_FMT_TIME_LEN];
			printf("%*s(held: ", 10, "");
			cli_fmt_name(stdout, *s->hold_reason ? s->hold_reason : "no reason given");
			if (s->hold_until_ns)
				printf(", until %s", cli_fmt_time_local(s->hold_until_ns, until));
			printf(")\n");
		}
	}
	for (j = 0; j < w; j++)
		putchar('-');
	printf("\n%zu snapshot%s\n", n, n == 1 ? "" : "s");
	if (npartial)
		printf("%zu partial: latest, --at, --label and the next backup's parent skip %s "
		       "(`strata cat snapshot ID` lists the paths)\n", npartial, npartial == 1 ? "it" : "them");
}

/* "verified": the snapshot's newest restore test, or null. */
static json_t *verified_json(const VerifiedSet *vs, const Snapshot *s)
{
	const VerifiedRecord *r = verified_newest(vs, s->id);

	if (!r)
		return json_null();
	return json_pack("{s:o, s:b, s:s, s:o, s:o, s:o, s:o, s:o}", "time", cli_json_time(r->time_ns),
	                 "ok", r->outcome == VERIFIED_PASSED, "outcome", verified_outcome_name(r->outcome),
	                 "exit_status", r->exit_status >= 0 ? json_integer(r->exit_status) : json_null(),
	                 "signal", r->signal ? json_integer(r->signal) : json_null(),
	                 "name", cli_json_str(r->name), "host", cli_json_str(r->host),
	                 "record", cli_json_id(r->id));
}

static int run(Cli *cli, int argc, char **argv)
{
	Args a;
	VerifiedSet *vs = NULL;
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	Snapshot *snaps = NULL;
	Snapshot **sel = NULL;
	size_t n = 0, nsel = 0, i, start;
	json_t *arr;
	int rc, first, exit_code = CLI_EXIT_OK;

	memset(&a, 0, sizeof a);
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE) {
		exit_code = rc;
		goto out;
	}
	if (first < argc) {
		exit_code = cli_usage(cli, "unexpected argument %s", argv[first]);
		goto out;
	}
	if (a.nselectors > 1 || (a.nselectors && a.latest)) {
		exit_code = cli_usage(cli, "give one of --at, --at-height and --latest");
		goto out;
	}
	a.sel.filter.host = a.host;
	a.sel.filter.tags = (const char *const *)a.tags.v;
	a.sel.filter.ntags = a.tags.n;
	a.sel.filter.paths = (const char *const *)a.paths.v;
	a.sel.filter.npaths = a.paths.n;
	a.sel.filter.labels = (const char *const *)a.labels.v;
	a.sel.filter.nlabels = a.labels.n;
	a.sel.include_partial = cli->include_partial;
	/* The records are read for the column and the "verified" field as
	 * well as for --verified. */
	if ((rc = cli_repo_open(cli, &repo, &err)) == 0 && (rc = cli_select_load_verified(repo, &vs, &err)) == 0) {
		if (a.verified)
			a.sel.filter.verified = vs;
		if (a.latest && !a.nselectors) {
			/* Newest first from the catalogue: no need to decode the rest. */
			SnapshotFilter f = {0};
			f.match = match_args;
			f.match_ctx = &a;
			f.include_partial = 1;     /* a listing: partial ones too, marked */
			rc = snapshot_latest(repo, &f, (size_t)a.latest, &snaps, &n, &err);
			for (i = 0; rc == 0 && i < n / 2; i++) {
				Snapshot tmp = snaps[i];
				snaps[i] = snaps[n - 1 - i];
				snaps[n - 1 - i] = tmp;
			}
		} else if (a.nselectors) {
			/* --at / --at-height: the one snapshot restore would pick,
			 * found the way restore finds it (newest first from the
			 * catalogue where that suffices). */
			if ((snaps = calloc(1, sizeof *snaps)) == NULL)
				rc = strata_err_set(&err, -ENOMEM, "out of memory");
			else if ((rc = snapselect_find(repo, &a.sel, &snaps[0], &err)) == 0)
				n = 1;
		} else {
			rc = snapshot_list(repo, &snaps, &n, &err);
		}
	}
	if (rc) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	if (n && !(sel = calloc(n, sizeof *sel))) {
		exit_code = cli_failf(cli, -ENOMEM, "out of memory");
		goto out;
	}
	if (a.nselectors) {
		sel[nsel++] = &snaps[0];
	} else {
		for (i = 0; i < n; i++)
			if (matches(&snaps[i], &a))
				sel[nsel++] = &snaps[i];
	}
	/* The list is oldest first: --latest N keeps the last N. */
	start = (a.latest && (size_t)a.latest < nsel) ? nsel - (size_t)a.latest : 0;
	if (cli->json) {
		if (!(arr = json_array()))
			goto oom;
		for (i = start; i < nsel; i++) {
			json_t *o = cli_json_snapshot(sel[i]);
			if (!o || json_object_set_new(o, "verified", verified_json(vs, sel[i])) < 0 ||
			    json_array_append_new(arr, o) < 0) {
				json_decref(arr);
				goto oom;
			}
		}
		if (cli_json_print(arr, 0) < 0)
			exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
	} else {
		print_table(sel + start, nsel - start, vs);
	}
	goto out;
oom:
	exit_code = cli_failf(cli, -ENOMEM, "out of memory");
out:
	free(sel);
	snapshot_list_free(snaps, n);
	verified_set_free(vs);
	repo_close(repo);
	cli_list_free(&a.tags);
	cli_list_free(&a.labels);
	cli_list_free(&a.paths);
	return exit_code;
}

const CliCommand cmd_snapshots = {
	.name = "snapshots",
	.summary = "List the snapshots in the repository.",
	.usage = "strata snapshots [--host HOST] [--tag TAG]... [--path PATH]... [--label KEY=VALUE]...\n"
	         "                 [--verified] [--latest N | --at TIME | --at-height N]",
	.help =
		"Lists snapshots oldest first: short ID, local time, host, tags, labels\n"
		"and the backed-up paths. The short ID (or any unique prefix of 4 or more\n"
		"hex digits, or \"latest\") names a snapshot in other commands. Once a\n"
		"snapshot has been restore-tested (`strata verify-restore`), a \"Restore\n"
		"test\" column shows the outcome of its newest test (passed or FAILED)\n"
		"and when it ran.\n"
		"\n"
		"Options:\n"
		"      --host HOST    only snapshots taken on HOST\n"
		"      --tag TAG      only snapshots carrying TAG; repeated, all the tags\n"
		"      --path PATH    only snapshots holding PATH (repeatable)\n"
		"      --label K=V    only snapshots carrying label K=V exactly (repeatable)\n"
		"      --latest N     only the N newest of those that match\n"
		"      --at TIME      only the newest of those taken at or before TIME\n"
		"                     (2024-05-01 12:00:00 local, 2024-05-01T10:00Z, +02:00...):\n"
		"                     the snapshot `restore --at TIME` would pick\n"
		"      --at-height N  only the one with the highest label height <= N\n"
		"      --verified     only snapshots whose newest restore test passed; with\n"
		"                     --at or --latest 1: the one `restore --verified` picks\n"
		"\n"
		"A partial snapshot (some files vanished, could not be read or changed\n"
		"while the backup read them) is listed with a \"(partial: N paths ...)\"\n"
		"line under it; --at and --at-height pass over it like restore does,\n"
		"unless --include-partial.\n"
		"\n"
		"With --json, an array of objects with every field: id, short_id, time\n"
		"(RFC 3339, UTC, nanoseconds), host, user, paths, tags, labels (object),\n"
		"tree, parent, summary, partial, partial_count, partial_paths, and\n"
		"verified: the newest restore test (time, ok, outcome, exit_status,\n"
		"signal, name, host, record) or null.\n"
		"\n"
		"Examples:\n"
		"  strata snapshots\n"
		"  strata snapshots --host node1 --tag hourly --latest 5\n"
		"  strata snapshots --verified --latest 1\n"
		"  strata snapshots --at '2024-05-01 12:00' --label kind=pg-base\n"
		"  strata snapshots --json | jq -r '.[-1].id'\n",
	.run = run,
};
