/* cmd_forget.c — `strata forget`: remove snapshots by a retention policy (or
 * by ID), optionally followed by a prune. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/prune/forget.h"
#include "store/prune/prune.h"
#include "store/snapshot.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_lock.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_progress.h"
#include "tools/cli/cli_repo.h"

enum {
	OPT_KEEP_LAST = CLI_OPT_CMD,
	OPT_KEEP_HOURLY,
	OPT_KEEP_DAILY,
	OPT_KEEP_WEEKLY,
	OPT_KEEP_MONTHLY,
	OPT_KEEP_YEARLY,
	OPT_KEEP_WITHIN,
	OPT_KEEP_TAG,
	OPT_KEEP_LABEL,
	OPT_GROUP_BY,
	OPT_HOST,
	OPT_TAG,
	OPT_DRY_RUN,
	OPT_PRUNE,
	OPT_MAX_UNUSED,
	OPT_METRICS,
	OPT_JOB
};

static const struct option longopts[] = {
	{ "keep-last",    required_argument, NULL, OPT_KEEP_LAST },
	{ "keep-hourly",  required_argument, NULL, OPT_KEEP_HOURLY },
	{ "keep-daily",   required_argument, NULL, OPT_KEEP_DAILY },
	{ "keep-weekly",  required_argument, NULL, OPT_KEEP_WEEKLY },
	{ "keep-monthly", required_argument, NULL, OPT_KEEP_MONTHLY },
	{ "keep-yearly",  required_argument, NULL, OPT_KEEP_YEARLY },
	{ "keep-within",  required_argument, NULL, OPT_KEEP_WITHIN },
	{ "keep-tag",     required_argument, NULL, OPT_KEEP_TAG },
	{ "keep-label",   required_argument, NULL, OPT_KEEP_LABEL },
	{ "group-by",     required_argument, NULL, OPT_GROUP_BY },
	{ "host",         required_argument, NULL, OPT_HOST },
	{ "tag",          required_argument, NULL, OPT_TAG },
	{ "dry-run",      no_argument,       NULL, OPT_DRY_RUN },
	{ "prune",        no_argument,       NULL, OPT_PRUNE },
	{ "max-unused",   required_argument, NULL, OPT_MAX_UNUSED },
	{ "metrics-file", required_argument, NULL, OPT_METRICS },
	{ "job",          required_argument, NULL, OPT_JOB },
	{ NULL, 0, NULL, 0 }
};

#define MAX_LABEL_RULES 16

typedef struct Args {
	ForgetPolicy policy;
	ForgetLabelRule labels[MAX_LABEL_RULES];
	CliList keep_tags, hosts, tags;
	int dry_run, prune;
	double max_unused;
	const char *metrics, *job;   /* --metrics-file, --job */
} Args;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	static const char *const names[] = { "--keep-last", "--keep-hourly", "--keep-daily",
	                                     "--keep-weekly", "--keep-monthly", "--keep-yearly" };
	Args *a = ctx;
	ForgetPolicy *p = &a->policy;
	int *counts[] = { &p->last, &p->hourly, &p->daily, &p->weekly, &p->monthly, &p->yearly };
	StrataErr err = { 0, "" };
	long n;

	switch (opt) {
	case OPT_KEEP_LAST: case OPT_KEEP_HOURLY: case OPT_KEEP_DAILY:
	case OPT_KEEP_WEEKLY: case OPT_KEEP_MONTHLY: case OPT_KEEP_YEARLY:
		if (strcmp(arg, "unlimited") == 0 || strcmp(arg, "-1") == 0)
			n = FORGET_UNLIMITED;
		else if (cli_parse_int(arg, 1, 1L << 30, &n) < 0)
			return cli_usage(cli, "%s wants a positive number or \"unlimited\": '%s'",
			                 names[opt - OPT_KEEP_LAST], arg);
		*counts[opt - OPT_KEEP_LAST] = (int)n;
		return CLI_CONTINUE;
	case OPT_KEEP_WITHIN:
		if (forget_parse_duration(arg, &p->within, &err) != 0)
			return cli_usage(cli, "--keep-within %s", err.msg);
		p->has_within = 1;
		return CLI_CONTINUE;
	case OPT_KEEP_LABEL:
		if (p->nlabels == MAX_LABEL_RULES)
			return cli_usage(cli, "at most %d --keep-label rules", MAX_LABEL_RULES);
		if (forget_parse_label_rule(arg, &a->labels[p->nlabels], &err) != 0)
			return cli_usage(cli, "--keep-label %s", err.msg);
		p->nlabels++;
		return CLI_CONTINUE;
	case OPT_GROUP_BY:
		if (forget_parse_group_by(arg, &p->group_by, &err) != 0)
			return cli_usage(cli, "%s", err.msg);
		return CLI_CONTINUE;
	case OPT_KEEP_TAG:
	case OPT_HOST:
	case OPT_TAG:
		if (!*arg)
			return cli_usage(cli, "%s wants a non-empty value", opt == OPT_HOST ? "--host" : opt == OPT_TAG ? "--tag" : "--keep-tag");
		if (cli_list_push(opt == OPT_KEEP_TAG ? &a->keep_tags : opt == OPT_HOST ? &a->hosts : &a->tags,
		                  (char *)(uintptr_t)arg) < 0)
			return cli_failf(cli, -ENOMEM, "out of memory");
		return CLI_CONTINUE;
	case OPT_DRY_RUN:
		a->dry_run = 1;
		return CLI_CONTINUE;
	case OPT_PRUNE:
		a->prune = 1;
		return CLI_CONTINUE;
	case OPT_MAX_UNUSED:
		if (cmd_prune_parse_percent(arg, &a->max_unused) < 0)
			return cli_usage(cli, "--max-unused wants a percentage from 0 to 100, e.g. 5 or 5%%: '%s'", arg);
		return CLI_CONTINUE;
	case OPT_METRICS:
		if (!*arg)
			return cli_usage(cli, "--metrics-file wants a file name");
		a->metrics = arg;
		return CLI_CONTINUE;
	case OPT_JOB:
		if (!cmd_backup_job_name_ok(arg))
			return cli_usage(cli, "--job wants a name of letters, digits and _ - . : @ '%s'", arg);
		a->job = arg;
		return CLI_CONTINUE;
	default:
		return cli_usage(cli, "unexpected option");
	}
}

/* --host / --tag: which snapshots the policy looks at. */
static int selected(const Snapshot *s, const Args *a)
{
	int ok = a->hosts.n == 0;

	for (size_t i = 0; i < a->hosts.n && !ok; i++)
		ok = s->host && strcmp(s->host, a->hosts.v[i]) == 0;
	for (size_t i = 0; i < a->tags.n && ok; i++) {
		ok = 0;
		for (size_t j = 0; j < s->ntags && !ok; j++)
			ok = strcmp(s->tags[j], a->tags.v[i]) == 0;
	}
	return ok;
}

static void print_list(const char *label, char *const *v, size_t n)
{
	printf("%s", label);
	for (size_t i = 0; i < n; i++) {
		if (i)
			putchar(',');
		cli_fmt_name(stdout, v[i]);
	}
}

static void print_group_header(const Snapshot *s, unsigned by, size_t kept, size_t total)
{
	int any = 0;

	if (by & FORGET_GROUP_HOST) {
		printf("host ");
		cli_fmt_name(stdout, s->host ? s->host : "");
		any = 1;
	}
	if (by & FORGET_GROUP_PATHS) {
		print_list(any ? ", paths " : "paths ", s->paths, s->npaths);
		any = 1;
	}
	if (by & FORGET_GROUP_TAGS) {
		print_list(any ? ", tags " : "tags ", s->tags, s->ntags);
		any = 1;
	}
	if (!any)
		printf("all snapshots");
	printf(": keep %zu of %zu snapshot%s\n", kept, total, total == 1 ? "" : "s");
}

static void print_line(const char *action, const Snapshot *s, const char *reasons)
{
	char id[CLI_FMT_SHORT_ID_LEN], tm[CLI_FMT_TIME_LEN];

	printf("  %-12s %s  %s  ", action, cli_fmt_short_id(s->id, id), cli_fmt_time_local(s->time_ns, tm));
	cli_fmt_name(stdout, s->host ? s->host : "");
	if (s->ntags)
		print_list("  tags ", s->tags, s->ntags);
	if (s->nlabels)
		print_list("  labels ", s->labels, s->nlabels);
	if (s->partial)
		printf("  partial");
	if (reasons && *reasons)
		printf("  (%s)", reasons);
	putchar('\n');
}

static json_t *strv_json(char *const *v, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, cli_json_str(v[i]));
	return arr;
}

/* reasons "last, tag a,b" → ["last", "tag a,b"] (tags hold no ", "). */
static json_t *reasons_json(const char *text)
{
	json_t *arr = json_array();
	const char *p = text;

	while (arr && *p) {
		const char *sep = strstr(p, ", ");
		size_t len = sep ? (size_t)(sep - p) : strlen(p);
		json_array_append_new(arr, json_stringn(p, len));
		p += len + (sep ? 2 : 0);
	}
	return arr;
}

/* Remove the snapshots named on the command line; their IDs go to removed
 * (room for nrefs), their count to *out_n. */
static int forget_ids(Cli *cli, Repo *repo, const Args *a, char **refs, int nrefs,
                      uint8_t (*removed)[STRATA_ID_LEN], size_t *out_n)
{
	StrataErr err = { 0, "" };
	Snapshot *found = calloc((size_t)nrefs, sizeof *found);
	char id[CLI_FMT_SHORT_ID_LEN];
	int rc = 0, exit_code = CLI_EXIT_OK, n = 0;

	if (!found) {
		exit_code = cli_failf(cli, -ENOMEM, "out of memory");
		goto out;
	}
	/* Resolve every reference before removing any. */
	for (n = 0; n < nrefs; n++) {
		if ((rc = snapshot_resolve(repo, refs[n], cli->include_partial, &found[n], &err))) {
			exit_code = cli_fail(cli, rc, &err);
			goto out;
		}
		if (snapshot_held(&found[n], (int64_t)time(NULL) * 1000000000)) {
			n++;
			exit_code = cli_failf(cli, STRATA_EREFUSED, "snapshot %s is held (%s); `strata unhold %s` first",
			                      cli_fmt_short_id(found[n - 1].id, id),
			                      *found[n - 1].hold_reason ? found[n - 1].hold_reason : "no reason given",
			                      id);
			goto out;
		}
	}
	for (int i = 0; i < n; i++) {
		if (!a->dry_run && (rc = snapshot_delete(repo, found[i].id, &err)) && rc != -ENOENT) {
			exit_code = cli_fail(cli, rc, &err);
			goto out;
		}
		memcpy(removed[(*out_n)++], found[i].id, STRATA_ID_LEN);
		if (!cli->json && !cli->quiet)
			printf("%s snapshot %s\n", a->dry_run ? "would remove" : "removed", cli_fmt_short_id(found[i].id, id));
	}
out:
	for (int i = 0; i < n; i++)
		snapshot_clear(&found[i]);
	free(found);
	return exit_code;
}

static int run(Cli *cli, int argc, char **argv)
{
	Args a;
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	Snapshot *all = NULL, *sel = NULL;
	ForgetDecision *dec = NULL;
	uint8_t (*removed)[STRATA_ID_LEN] = NULL;
	size_t nall = 0, nsel = 0, ngroups = 0, nremoved = 0, nlocked = 0;
	json_t *groups = NULL, *pj = NULL;
	char reasons[512];
	int rc, first, exit_code = CLI_EXIT_OK;
	int64_t t0 = cli_now_ns();

	memset(&a, 0, sizeof a);
	a.policy.group_by = FORGET_GROUP_DEFAULT;
	a.max_unused = PRUNE_DEFAULT_MAX_UNUSED;
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE) {
		exit_code = rc;
		goto out;
	}
	a.policy.labels = a.labels;
	a.policy.now_ns = (int64_t)time(NULL) * 1000000000;
	a.policy.include_partial = cli->include_partial;
	a.policy.tags = (const char *const *)a.keep_tags.v;
	a.policy.ntags = a.keep_tags.n;
	if (first < argc && !forget_policy_empty(&a.policy)) {
		exit_code = cli_usage(cli, "give either snapshot IDs or --keep-* rules, not both");
		goto out;
	}
	if (first >= argc && forget_policy_empty(&a.policy)) {
		exit_code = cli_usage(cli, "no --keep-* rule given: forgetting without one would remove every snapshot (name snapshots by ID to remove them)");
		goto out;
	}
	if ((rc = cli_repo_open(cli, &repo, &err)) ||
	    (rc = cli_lock(cli, repo, a.prune ? LOCK_MARK : LOCK_SHARED, &err))) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	groups = cli->json ? json_array() : NULL;
	if (first < argc) {
		if (!(removed = calloc((size_t)(argc - first), sizeof *removed)) || (cli->json && !groups)) {
			exit_code = cli_failf(cli, -ENOMEM, "out of memory");
			goto out;
		}
		exit_code = forget_ids(cli, repo, &a, argv + first, argc - first, removed, &nremoved);
		goto prune;
	}
	if ((rc = snapshot_list(repo, &all, &nall, &err))) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	sel = calloc(nall ? nall : 1, sizeof *sel);
	dec = calloc(nall ? nall : 1, sizeof *dec);
	removed = calloc(nall ? nall : 1, sizeof *removed);
	if (!sel || !dec || !removed || (cli->json && !groups)) {
		exit_code = cli_failf(cli, -ENOMEM, "out of memory");
		goto out;
	}
	/* Shallow copies: sel borrows all's strings. */
	for (size_t i = 0; i < nall; i++)
		if (selected(&all[i], &a))
			sel[nsel++] = all[i];
	if ((rc = forget_apply(sel, nsel, &a.policy, dec, &ngroups, &err))) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	for (size_t g = 0; g < ngroups; g++) {
		size_t kept = 0, total = 0, first_i = 0;
		json_t *keep = NULL, *remove = NULL;
		/* newest first, like `snapshots` reversed: the order rules apply */
		for (size_t i = nsel; i-- > 0;) {
			if (dec[i].group != g)
				continue;
			first_i = i;
			total++;
			kept += dec[i].keep;
		}
		if (groups) {
			const Snapshot *r = &sel[first_i];
			unsigned by = a.policy.group_by;
			json_t *gj = json_object();
			keep = json_array();
			remove = json_array();
			if (gj) {
				json_object_set_new(gj, "host", by & FORGET_GROUP_HOST ? cli_json_str(r->host) : json_null());
				json_object_set_new(gj, "paths", by & FORGET_GROUP_PATHS ? strv_json(r->paths, r->npaths) : json_null());
				json_object_set_new(gj, "tags", by & FORGET_GROUP_TAGS ? strv_json(r->tags, r->ntags) : json_null());
				json_object_set_new(gj, "keep", keep);
				json_object_set_new(gj, "remove", remove);
			}
			json_array_append_new(groups, gj);
		} else if (!cli->quiet) {
			print_group_header(&sel[first_i], a.policy.group_by, kept, total);
		}
		for (size_t i = nsel; i-- > 0;) {
			if (dec[i].group != g)
				continue;
			forget_reasons_text(dec[i].reasons, &a.policy, &sel[i], reasons, sizeof reasons);
			if (!dec[i].keep)
				memcpy(removed[nremoved++], sel[i].id, STRATA_ID_LEN);
			if (groups) {
				json_t *sj = cli_json_snapshot(&sel[i]);
				if (sj && dec[i].keep)
					json_object_set_new(sj, "reasons", reasons_json(reasons));
				json_array_append_new(dec[i].keep ? keep : remove, sj);
			} else if (!cli->quiet) {
				print_line(dec[i].keep ? "keep" : a.dry_run ? "would remove" : "remove", &sel[i], reasons);
			}
		}
	}
	if (!a.dry_run) {
		size_t w = 0;

		for (size_t i = 0; i < nremoved; i++) {
			rc = snapshot_delete(repo, removed[i], &err);
			if (rc == -EPERM) {
				/* Under retention (S3 Object Lock): it stays, and so
				 * does what it uses; a later forget removes it. */
				cli_warn("kept: %s", err.msg);
				nlocked++;
				continue;
			}
			if (rc && rc != -ENOENT) {
				exit_code = cli_fail(cli, rc, &err);
				goto out;
			}
			memmove(removed[w++], removed[i], STRATA_ID_LEN);
		}
		nremoved = w;
	}
	if (!groups && !cli->quiet)
		printf("%zu snapshot%s %s, %zu kept%s\n", nremoved, nremoved == 1 ? "" : "s",
		       a.dry_run ? "would be removed" : "removed", nsel - nremoved,
		       nlocked ? " (some under retention: see the warnings)" : "");
prune:
	if (exit_code == CLI_EXIT_OK && a.prune) {
		PruneOptions po;
		memset(&po, 0, sizeof po);
		po.max_unused = a.max_unused;
		po.dry_run = a.dry_run;
		if (a.dry_run) {
			/* See what pruning after this forget would free. */
			po.ignore = (const uint8_t (*)[STRATA_ID_LEN])removed;
			po.nignore = nremoved;
		}
		exit_code = cmd_prune_execute(cli, repo, &po, cli->json ? &pj : NULL);
	}
	if (exit_code == CLI_EXIT_OK && groups) {
		json_t *ids = json_array();
		for (size_t i = 0; ids && i < nremoved; i++)
			json_array_append_new(ids, cli_json_id(removed[i]));
		if (cli_json_print(json_pack("{s:b, s:o, s:o, s:I, s:I, s:o}", "dry_run", a.dry_run, "groups", groups,
		                             "removed", ids ? ids : json_null(), "kept", (json_int_t)(nsel - nremoved),
		                             "kept_under_retention", (json_int_t)nlocked,
		                             "prune", pj ? pj : json_null()), 0) < 0)
			exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
		groups = pj = NULL;
	}
out:
	if (a.metrics && exit_code != CLI_EXIT_USAGE) {   /* usage error: nothing ran */
		StrataErr merr = { 0, "" };
		if (cmd_backup_job_metrics(cli, a.metrics, a.job, exit_code, (double)(cli_now_ns() - t0) / 1e9,
		                           NULL, repo, &merr) != 0) {
			cli_warn("%s", merr.msg);
			if (exit_code == CLI_EXIT_OK)
				exit_code = CLI_EXIT_FAILURE;
		}
	}
	json_decref(groups);
	json_decref(pj);
	cli_unlock();
	free(sel);
	free(dec);
	free(removed);
	snapshot_list_free(all, nall);
	repo_close(repo);
	cli_list_free(&a.keep_tags);
	cli_list_free(&a.hosts);
	cli_list_free(&a.tags);
	return exit_code;
}

const CliCommand cmd_forget = {
	.name = "forget",
	.summary = "Remove snapshots by a retention policy (--keep-*) or by ID; --prune frees their data.",
	.usage = "strata forget [--keep-* RULE]... [--group-by LIST] [--dry-run] [--prune]\n"
	         "       strata forget SNAPSHOT...",
	.help =
		"Applies the keep rules to each group of snapshots (same host and paths by\n"
		"default) and removes every snapshot no rule keeps. A snapshot is kept when\n"
		"any rule keeps it; --dry-run prints each snapshot with the rules that keep\n"
		"it. Removing a snapshot frees no space by itself: add --prune, or run\n"
		"`strata prune` later.\n"
		"\n"
		"Keep rules (the group's snapshots are taken newest first):\n"
		"      --keep-last N       the N newest\n"
		"      --keep-hourly N     the newest of each of the last N hours that have\n"
		"                          snapshots (local time); likewise --keep-daily,\n"
		"                          --keep-weekly (ISO weeks), --keep-monthly,\n"
		"                          --keep-yearly. N may be \"unlimited\". While a rule\n"
		"                          has counts left, the oldest snapshot is kept too.\n"
		"      --keep-within D     every snapshot newer than the group's newest minus\n"
		"                          D: NUMBER UNIT pairs, units y m w d h (2d12h, 1y6m)\n"
		"      --keep-tag TAG[,TAG]  snapshots carrying all these tags (repeatable:\n"
		"                          any list)\n"
		"      --keep-label KEY%N  snapshots whose label KEY is a multiple of N,\n"
		"                          e.g. height%1000 (repeatable)\n"
		"\n"
		"Partial snapshots (some files vanished, could not be read or changed\n"
		"while read) never count toward --keep-last ... --keep-yearly: those rules\n"
		"count the complete snapshots, and separately the partial ones newer than\n"
		"the newest complete one; older partial ones are kept only by\n"
		"--keep-within, --keep-tag and --keep-label. With the global option\n"
		"--include-partial they count like any other.\n"
		"\n"
		"Other options:\n"
		"      --group-by LIST     host, paths, tags, comma-separated (default\n"
		"                          host,paths; \"\" puts all snapshots in one group)\n"
		"      --host HOST         consider only snapshots of HOST (repeatable)\n"
		"      --tag TAG           consider only snapshots carrying TAG (repeatable)\n"
		"      --dry-run           print what would be kept (and why) and removed\n"
		"      --prune             then run `strata prune` (with --dry-run: report\n"
		"                          what it would free)\n"
		"      --max-unused PERCENT  for --prune, see `strata help prune`\n"
		"      --metrics-file FILE  write Prometheus metrics to FILE (atomically),\n"
		"                        labelled {job, command}: last success time,\n"
		"                        duration, exit code (see `strata help backup`)\n"
		"      --job NAME        the job label of those metrics (default: forget)\n"
		"\n"
		"Examples:\n"
		"  strata forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run\n"
		"  strata forget --keep-within 7d --keep-label height%1000 --prune\n"
		"  strata forget --host node-1 --keep-last 48 --keep-tag release\n"
		"  strata forget 3fa1c2d4\n",
	.run = run,
};
