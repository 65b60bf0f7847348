/* cmd_s3.c — `strata s3 lifecycle --print`: the bucket lifecycle rules
 * that fit an S3 repository's storage classes, as the JSON document
 * `aws s3api put-bucket-lifecycle-configuration --lifecycle-configuration
 * file://...` takes. Transitions of data/ packs and an abort of incomplete
 * multipart uploads only: never an Expiration, which deletes packs that
 * snapshots still need (tools/cli/doc/s3.md "Lifecycle rules").
 *
 * Never: sends a request; strata does not change bucket settings.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/backend.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_tier.h"

enum {
	OPT_PRINT = CLI_OPT_CMD,
	OPT_STORAGE_CLASS,
	OPT_TRANSITION,
	OPT_ABORT_DAYS
};

static const struct option longopts[] = {
	{ "print",         no_argument,       NULL, OPT_PRINT },
	{ "storage-class", required_argument, NULL, OPT_STORAGE_CLASS },
	{ "transition",    required_argument, NULL, OPT_TRANSITION },
	{ "abort-days",    required_argument, NULL, OPT_ABORT_DAYS },
	{ NULL, 0, NULL, 0 }
};

#define MAX_TRANSITIONS 8
/* S3 refuses a transition to STANDARD_IA or ONEZONE_IA before day 30. */
#define IA_MIN_DAYS 30
/* Incomplete multipart uploads: strata aborts its own on failure; a
 * killed run leaves parts that are billed until aborted. Two days is
 * longer than any upload of a pack takes. */
#define ABORT_DAYS_DEFAULT 2

typedef struct Transition {
	long days;
	char cls[24];
} Transition;

typedef struct Args {
	int print;
	const char *storage_class;
	Transition tr[MAX_TRANSITIONS];
	size_t ntr;
	long abort_days;
} Args;

/* Classes a lifecycle rule may move objects into. */
static int transition_class(const char *c)
{
	static const char *const ok[] = {
		"STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE", NULL,
	};

	for (size_t i = 0; ok[i]; i++)
		if (!strcmp(c, ok[i]))
			return 1;
	return 0;
}

static int is_ia(const char *c)
{
	return !strcmp(c, "STANDARD_IA") || !strcmp(c, "ONEZONE_IA");
}

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;
	const char *sep;
	char *end = NULL;
	long days;

	switch (opt) {
	case OPT_PRINT:
		a->print = 1;
		return CLI_CONTINUE;
	case OPT_STORAGE_CLASS:
		a->storage_class = arg;
		return CLI_CONTINUE;
	case OPT_TRANSITION:
		sep = strchr(arg, ':');
		if (!sep || sep == arg)
			return cli_usage(cli, "--transition wants DAYS:CLASS (e.g. 30:GLACIER_IR): %s", arg);
		days = strtol(arg, &end, 10);
		if (end != sep || days < 0 || days > 36500)
			return cli_usage(cli, "--transition %s: DAYS must be a number from 0 to 36500", arg);
		if (!transition_class(sep + 1))
			return cli_usage(cli, "--transition %s: a lifecycle rule moves objects into STANDARD_IA, ONEZONE_IA, "
			                 "INTELLIGENT_TIERING, GLACIER_IR, GLACIER or DEEP_ARCHIVE", arg);
		if (is_ia(sep + 1) && days < IA_MIN_DAYS)
			return cli_usage(cli, "--transition %s: S3 moves objects into %s after %d days at the earliest",
			                 arg, sep + 1, IA_MIN_DAYS);
		if (a->ntr == MAX_TRANSITIONS)
			return cli_usage(cli, "--transition: at most %d", MAX_TRANSITIONS);
		if (a->ntr && days <= a->tr[a->ntr - 1].days)
			return cli_usage(cli, "--transition %s: give the transitions in order of increasing DAYS", arg);
		if (a->ntr && is_ia(a->tr[a->ntr - 1].cls) && days < a->tr[a->ntr - 1].days + IA_MIN_DAYS)
			return cli_usage(cli, "--transition %s: S3 keeps objects %d days in %s before the next transition",
			                 arg, IA_MIN_DAYS, a->tr[a->ntr - 1].cls);
		a->tr[a->ntr].days = days;
		snprintf(a->tr[a->ntr].cls, sizeof a->tr[a->ntr].cls, "%s", sep + 1);
		a->ntr++;
		return CLI_CONTINUE;
	case OPT_ABORT_DAYS:
		if (cli_parse_int(arg, 1, 3650, &a->abort_days) < 0)
			return cli_usage(cli, "--abort-days wants a number of days from 1 to 3650: %s", arg);
		return CLI_CONTINUE;
	default:
		return cli_usage(cli, "unexpected option");
	}
}

static json_t *rule(const char *id, const char *prefix)
{
	return json_pack("{s:s,s:{s:s},s:s}", "ID", id, "Filter", "Prefix", prefix, "Status", "Enabled");
}

/* The document, or NULL (out of memory). */
static json_t *lifecycle(const Args *a, const BackendWhere *w, const Transition *tr, size_t ntr)
{
	json_t *doc = json_object(), *rules = json_array(), *r, *t;
	char prefix[sizeof w->prefix + 8], id[64];

	if (!doc || !rules)
		goto oom;
	json_object_set_new(doc, "Rules", rules);
	if (ntr) {
		snprintf(prefix, sizeof prefix, "%sdata/", w->prefix);
		snprintf(id, sizeof id, "strata-data-to-%s", tr[ntr - 1].cls);
		if (!(r = rule(id, prefix)) || !(t = json_array()))
			goto oom;
		for (size_t i = 0; i < ntr; i++)
			json_array_append_new(t, json_pack("{s:I,s:s}", "Days", (json_int_t)tr[i].days,
			                                   "StorageClass", tr[i].cls));
		json_object_set_new(r, "Transitions", t);
		json_array_append_new(rules, r);
	}
	if (!(r = rule("strata-abort-incomplete-uploads", w->prefix)))
		goto oom;
	json_object_set_new(r, "AbortIncompleteMultipartUpload",
	                    json_pack("{s:I}", "DaysAfterInitiation",
	                              (json_int_t)(a->abort_days ? a->abort_days : ABORT_DAYS_DEFAULT)));
	json_array_append_new(rules, r);
	return doc;
oom:
	json_decref(doc);
	return NULL;
}

static int run(Cli *cli, int argc, char **argv)
{
	Args a;
	StrataErr err = { 0, "" };
	RemoteErr rerr = { "" };
	BackendWhere w;
	Backend *be = NULL;
	Transition one;
	const Transition *tr;
	size_t ntr;
	json_t *doc;
	int rc, first, exit_code = CLI_EXIT_OK;

	memset(&a, 0, sizeof a);
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE)
		return rc;
	if (first >= argc || strcmp(argv[first], "lifecycle") != 0)
		return cli_usage(cli, "strata s3 has one subcommand: lifecycle --print");
	if (first + 1 < argc)
		return cli_usage(cli, "unexpected argument %s", argv[first + 1]);
	if (!a.print)
		return cli_usage(cli, "s3 lifecycle needs --print: strata never changes a bucket's settings; "
		                 "apply the rules with `aws s3api put-bucket-lifecycle-configuration`");
	if (!cli->repo)
		return cli_usage(cli, "no repository: give -r s3://BUCKET/PREFIX or set STRATA_REPOSITORY");
	if (a.storage_class && (rc = cli_tier_set(a.storage_class, &err)) != 0)
		return cli_usage(cli, "%s", err.msg);
	if ((rc = backend_open(cli->repo, &be, &rerr)) != 0)
		return cli_failf(cli, rc, "%s", rerr.msg);
	rc = backend_where(be, &w);
	if (rc == -ENOTSUP) {
		exit_code = cli_usage(cli, "%s is not an S3 location: lifecycle rules are an S3 bucket's", cli->repo);
		goto out;
	}
	if (rc) {
		exit_code = cli_failf(cli, rc, "%s: the bucket or prefix is too long", cli->repo);
		goto out;
	}
	if (!strcmp(w.class_data, "STANDARD"))
		w.class_data[0] = '\0';
	/* Metadata is read by every command (snapshots, ls, check, the
	 * planning of a restore): it must stay readable without a thaw. */
	if (!strcmp(w.class_metadata, "GLACIER") || !strcmp(w.class_metadata, "DEEP_ARCHIVE")) {
		exit_code = cli_usage(cli, "metadata=%s: metadata (config, keys, index, snapshots, tree packs) must stay "
		                      "in a class readable without a restore (STANDARD, STANDARD_IA, GLACIER_IR)",
		                      w.class_metadata);
		goto out;
	}
	tr = a.tr;
	ntr = a.ntr;
	if (!ntr && w.class_data[0]) {
		/* The repository's rule: data packs already go up in that class;
		 * the transition catches those that did not (uploaded before the
		 * rule, or by another tool). */
		if (!transition_class(w.class_data)) {
			exit_code = cli_usage(cli, "data=%s: not a class a lifecycle rule moves objects into", w.class_data);
			goto out;
		}
		one.days = is_ia(w.class_data) ? IA_MIN_DAYS : 0;
		snprintf(one.cls, sizeof one.cls, "%s", w.class_data);
		tr = &one;
		ntr = 1;
	}
	if (!ntr)
		cli_warn("no storage class for data/ (give --storage-class data=CLASS or --transition DAYS:CLASS): "
		         "only the rule that aborts incomplete uploads is printed");
	doc = lifecycle(&a, &w, tr, ntr);
	if (!doc) {
		exit_code = cli_failf(cli, -ENOMEM, "out of memory");
		goto out;
	}
	if (cli_json_print(doc, 0) < 0)
		exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
out:
	backend_free(be);
	return exit_code;
}

const CliCommand cmd_s3 = {
	.name = "s3",
	.summary = "Print the S3 lifecycle rules that fit the repository's storage classes.",
	.usage = "strata s3 lifecycle --print [--storage-class data=CLASS,metadata=CLASS] [--transition DAYS:CLASS]... [--abort-days N]",
	.help =
		"Prints, for the repository's bucket and prefix, the JSON document that\n"
		"`aws s3api put-bucket-lifecycle-configuration --lifecycle-configuration\n"
		"file://lifecycle.json` takes: transitions of the data/ packs into the\n"
		"repository's data class (its location's storage_class=,\n"
		"$STRATA_S3_STORAGE_CLASS or --storage-class; day 0, day 30 for the IA\n"
		"classes), or the ladder given with --transition, and a rule that aborts\n"
		"incomplete multipart uploads. Metadata (config, keys, index files,\n"
		"snapshots, tree packs) is never moved: every command reads it.\n"
		"\n"
		"Never an Expiration: S3 would delete packs by age, but a pack written\n"
		"a year ago holds chunks that today's snapshot still uses (deduplication),\n"
		"so an expiration silently damages new snapshots too. Old snapshots go\n"
		"with `strata forget --prune`, which deletes only what no snapshot needs.\n"
		"`strata check` names a pack deleted behind strata's back as \"deleted\n"
		"outside strata (a lifecycle expiration?)\" with the snapshots that need it.\n"
		"\n"
		"Options:\n"
		"      --print                  print the rules (required: strata never\n"
		"                               changes a bucket's settings itself)\n"
		"      --storage-class RULE     the classes to assume, data=CLASS,metadata=CLASS\n"
		"      --transition DAYS:CLASS  a step of a ladder for data/ (repeat, in order\n"
		"                               of days since upload), instead of the data class\n"
		"      --abort-days N           abort multipart uploads left incomplete for N\n"
		"                               days (default 2)\n"
		"\n"
		"Examples:\n"
		"  strata -r 's3://offsite/node1?storage_class=data=DEEP_ARCHIVE' s3 lifecycle --print >lc.json\n"
		"  aws s3api put-bucket-lifecycle-configuration --bucket offsite --lifecycle-configuration file://lc.json\n"
		"  strata -r s3://offsite/node1 s3 lifecycle --print \\\n"
		"      --transition 7:STANDARD_IA --transition 37:GLACIER_IR --transition 127:DEEP_ARCHIVE\n",
	.run = run,
};
