/* cmd_prune.c — `strata prune`: delete data no snapshot needs; also the
 * prune step of `forget --prune` (cmd_prune_execute). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/prune/forget.h"
#include "store/prune/prune.h"
#include "store/replica/replica_settings.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_lock.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_progress.h"
#include "tools/cli/cli_repo.h"

enum {
	OPT_MAX_UNUSED = CLI_OPT_CMD,
	OPT_DRY_RUN,
	OPT_GRACE,
	OPT_MARK_ONLY,
	OPT_MIN_AGE_DATA,
	OPT_MIN_AGE_TREE,
	OPT_METRICS,
	OPT_JOB
};

static const struct option longopts[] = {
	{ "max-unused",   required_argument, NULL, OPT_MAX_UNUSED },
	{ "dry-run",      no_argument,       NULL, OPT_DRY_RUN },
	{ "grace",        required_argument, NULL, OPT_GRACE },
	{ "mark-only",    no_argument,       NULL, OPT_MARK_ONLY },
	{ "min-age-data", required_argument, NULL, OPT_MIN_AGE_DATA },
	{ "min-age-tree", required_argument, NULL, OPT_MIN_AGE_TREE },
	{ "metrics-file", required_argument, NULL, OPT_METRICS },
	{ "job",          required_argument, NULL, OPT_JOB },
	{ NULL, 0, NULL, 0 }
};

int cmd_prune_parse_percent(const char *arg, double *out)
{
	char *end;
	double v;

	if (!*arg || *arg < '0' || *arg > '9')
		return -EINVAL;
	v = strtod(arg, &end);
	if (*end == '%')
		end++;
	if (*end || v < 0 || v > 100)
		return -EINVAL;
	*out = v / 100;
	return 0;
}

/* A duration for ages: months count 30 days and years 365 (a storage
 * tier's minimum is stated in days). */
static int parse_age(const char *arg, int64_t *out_s)
{
	ForgetDuration d;

	if (forget_parse_duration(arg, &d, NULL) != 0)
		return -EINVAL;
	*out_s = (((int64_t)d.years * 365 + (int64_t)d.months * 30 + d.days) * 24 + d.hours) * 3600;
	return 0;
}

/* What `prune` parses: the engine's options and the metrics file. */
typedef struct PruneArgs {
	PruneOptions o;
	const char *metrics, *job;
} PruneArgs;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	PruneArgs *pa = ctx;
	PruneOptions *o = &pa->o;

	switch (opt) {
	case OPT_MAX_UNUSED:
		if (cmd_prune_parse_percent(arg, &o->max_unused) < 0)
			return cli_usage(cli, "--max-unused wants a percentage from 0 to 100, e.g. 5 or 5%%: '%s'", arg);
		return CLI_CONTINUE;
	case OPT_DRY_RUN:
		o->dry_run = 1;
		return CLI_CONTINUE;
	case OPT_MARK_ONLY:
		o->mark_only = 1;
		return CLI_CONTINUE;
	case OPT_GRACE:
	case OPT_MIN_AGE_DATA:
	case OPT_MIN_AGE_TREE:
		if (parse_age(arg, opt == OPT_GRACE ? &o->grace_s : opt == OPT_MIN_AGE_DATA ?
		              &o->min_age_data_s : &o->min_age_tree_s) < 0)
			return cli_usage(cli, "%s wants a duration such as 36h, 7d or 3m: '%s'",
			                 opt == OPT_GRACE ? "--grace" : opt == OPT_MIN_AGE_DATA ?
			                 "--min-age-data" : "--min-age-tree", arg);
		return CLI_CONTINUE;
	case OPT_METRICS:
		if (!*arg)
			return cli_usage(cli, "--metrics-file wants a file name");
		pa->metrics = arg;
		return CLI_CONTINUE;
	case OPT_JOB:
		if (!cmd_backup_job_name_ok(arg))
			return cli_usage(cli, "--job wants a name of letters, digits and _ - . : @ '%s'", arg);
		pa->job = arg;
		return CLI_CONTINUE;
	default:
		return cli_usage(cli, "unexpected option");
	}
}

/* What the engine's callbacks need. */
typedef struct Report {
	const Cli *cli;
	CliProgress progress;
} Report;

static void on_log(const char *line, void *ctx)
{
	Report *r = ctx;

	if (r->cli->quiet || r->cli->json)
		return;
	cli_progress_pause(&r->progress);
	fprintf(stderr, "prune: %s\n", line);
	cli_progress_resume(&r->progress);
}

static void on_progress(const PruneProgress *p, void *ctx)
{
	Report *r = ctx;
	CliProgressStatus s;

	memset(&s, 0, sizeof s);
	s.phase = p->phase;
	s.unit = !strcmp(p->phase, "mark") ? "snapshots" : "packs";
	s.items = p->done;
	s.items_total = p->total;
	s.bytes = p->bytes;
	s.bytes_total = p->bytes_total;
	cli_progress_show(&r->progress, &s);
}

static void print_report(const PruneStats *st, const PruneOptions *o)
{
	char b1[CLI_FMT_BYTES_LEN], b2[CLI_FMT_BYTES_LEN], b3[CLI_FMT_BYTES_LEN], hex[STRATA_ID_HEX_LEN + 1];

	if (st->snapshots || st->packs) {
		printf("repository:  %llu packs, %s, %llu snapshots%s\n", (unsigned long long)st->packs,
		       cli_fmt_bytes(st->pack_bytes, b1), (unsigned long long)st->snapshots,
		       o->nignore ? " (after forget)" : "");
		printf("reachable:   %llu blobs, %s\n", (unsigned long long)st->used_blobs,
		       cli_fmt_bytes(st->used_bytes, b1));
		printf("delete:      %llu packs holding nothing reachable (%s), %llu packs no index lists (%s)\n",
		       (unsigned long long)st->unused_packs, cli_fmt_bytes(st->unused_pack_bytes, b1),
		       (unsigned long long)st->orphan_packs, cli_fmt_bytes(st->orphan_bytes, b2));
		printf("repack:      %llu packs, the most unused, to leave at most %.4g%% unused (%s, of which %s live)\n",
		       (unsigned long long)st->repack_packs, o->max_unused * 100,
		       cli_fmt_bytes(st->repack_bytes, b1), cli_fmt_bytes(st->repack_used_bytes, b2));
		printf("keep unused: %s (within --max-unused)\n", cli_fmt_bytes(st->kept_unused_bytes, b1));
		printf("%s %s\n", o->dry_run ? "would free: " : "frees:      ", cli_fmt_bytes(st->bytes_to_free, b1));
	}
	if (st->packs_written)
		printf("wrote %llu packs (%s) with the live blobs of repacked packs\n",
		       (unsigned long long)st->packs_written, cli_fmt_bytes(st->bytes_written, b1));
	if (st->plan_written) {
		strata_id_hex(st->plan_id, hex);
		printf("prune plan %.8s written\n", hex);
	}
	if (st->plans_swept)
		printf("swept %llu prune plan%s: deleted %llu packs (%s), replaced %llu index files by %llu, kept %llu condemned packs newer snapshots need\n",
		       (unsigned long long)st->plans_swept, st->plans_swept == 1 ? "" : "s",
		       (unsigned long long)st->packs_deleted, cli_fmt_bytes(st->bytes_deleted, b3),
		       (unsigned long long)st->index_files_replaced, (unsigned long long)st->index_files_written,
		       (unsigned long long)st->packs_resurrected);
	if (st->locked_index_files || st->locked_packs)
		printf("kept under retention (S3 Object Lock): %llu index file%s, %llu pack%s; a later prune deletes them "
		       "once it ends (%s)\n",
		       (unsigned long long)st->locked_index_files, st->locked_index_files == 1 ? "" : "s",
		       (unsigned long long)st->locked_packs, st->locked_packs == 1 ? "" : "s", st->locked_example);
	if (st->verified_removed)
		printf("%s %llu restore-test record%s of %llu forgotten snapshot%s\n", o->dry_run ? "would delete" : "deleted",
		       (unsigned long long)st->verified_removed, st->verified_removed == 1 ? "" : "s",
		       (unsigned long long)st->verified_snapshots, st->verified_snapshots == 1 ? "" : "s");
	if (st->plans_abandoned)
		printf("dropped %llu prune plan(s) whose repacked copies are missing\n", (unsigned long long)st->plans_abandoned);
	if (st->deferred[0])
		printf("deletion deferred: %s\n", st->deferred);
	else if (!o->dry_run && !st->plan_written && !st->plans_swept && !st->verified_removed)
		printf("nothing to delete\n");
}

static json_t *report_json(const PruneStats *st, const PruneOptions *o)
{
	json_t *j = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	                      "dry_run", o->dry_run,
	                      "snapshots", (json_int_t)st->snapshots,
	                      "packs", (json_int_t)st->packs, "pack_bytes", (json_int_t)st->pack_bytes,
	                      "used_blobs", (json_int_t)st->used_blobs, "used_bytes", (json_int_t)st->used_bytes,
	                      "unused_packs", (json_int_t)st->unused_packs,
	                      "unused_pack_bytes", (json_int_t)st->unused_pack_bytes,
	                      "orphan_packs", (json_int_t)st->orphan_packs, "orphan_bytes", (json_int_t)st->orphan_bytes,
	                      "repack_packs", (json_int_t)st->repack_packs, "repack_bytes", (json_int_t)st->repack_bytes,
	                      "repack_used_bytes", (json_int_t)st->repack_used_bytes,
	                      "kept_unused_bytes", (json_int_t)st->kept_unused_bytes,
	                      "bytes_to_free", (json_int_t)st->bytes_to_free);
	json_t *done = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	                         "packs_written", (json_int_t)st->packs_written,
	                         "bytes_written", (json_int_t)st->bytes_written,
	                         "plans_swept", (json_int_t)st->plans_swept,
	                         "plans_pending", (json_int_t)st->plans_pending,
	                         "plans_abandoned", (json_int_t)st->plans_abandoned,
	                         "packs_deleted", (json_int_t)st->packs_deleted,
	                         "bytes_deleted", (json_int_t)st->bytes_deleted,
	                         "packs_resurrected", (json_int_t)st->packs_resurrected,
	                         "index_files_replaced", (json_int_t)st->index_files_replaced,
	                         "index_files_written", (json_int_t)st->index_files_written);

	if (!j || !done) {
		json_decref(j);
		json_decref(done);
		return NULL;
	}
	json_object_set_new(done, "locked_index_files", json_integer((json_int_t)st->locked_index_files));
	json_object_set_new(done, "locked_packs", json_integer((json_int_t)st->locked_packs));
	json_object_set_new(j, "done", done);
	json_object_set_new(j, "verified_records_removed", json_integer((json_int_t)st->verified_removed));
	json_object_set_new(j, "plan_id", st->plan_written ? cli_json_id(st->plan_id) : json_null());
	json_object_set_new(j, "deferred", st->deferred[0] ? json_string(st->deferred) : json_null());
	return j;
}

int cmd_prune_execute(Cli *cli, Repo *repo, PruneOptions *o, json_t **out_json)
{
	LockOptions lo;
	PruneStats st;
	Report report;
	StrataErr err = { 0, "" };
	int rc;

	if ((rc = cli_lock_options(cli, &lo, &err)))
		return cli_fail(cli, rc, &err);
	lo.command = "prune";
	o->lock = &lo;
	report.cli = cli;
	o->log = on_log;
	o->log_ctx = &report;
	o->progress = on_progress;
	o->progress_ctx = &report;
	cli_progress_init(&report.progress, cli);
	rc = prune_run(repo, o, &st, &err);
	cli_progress_done(&report.progress);
	o->lock = NULL;
	o->log = NULL;
	o->progress = NULL;
	if (rc)
		return cli_fail(cli, rc, &err);
	if (out_json) {
		*out_json = report_json(&st, o);
		if (*out_json && cli_json_set_requests(*out_json, "requests", repo) < 0)
			json_decref(*out_json), *out_json = NULL;
		if (!*out_json)
			return cli_failf(cli, -ENOMEM, "out of memory");
	} else {
		print_report(&st, o);
	}
	return CLI_EXIT_OK;
}

static int run(Cli *cli, int argc, char **argv)
{
	PruneArgs pa;
	PruneOptions *o = &pa.o;
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	json_t *j = NULL;
	int rc, first, exit_code;
	int64_t t0 = cli_now_ns();

	memset(&pa, 0, sizeof pa);
	o->max_unused = PRUNE_DEFAULT_MAX_UNUSED;
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &pa, &first)) != CLI_CONTINUE)
		return rc;
	if (first < argc)
		return cli_usage(cli, "unexpected argument %s", argv[first]);
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = cli_lock(cli, repo, LOCK_MARK, &err))) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	/* A copy kept by `replicate --mirror` stores the minimum ages of its
	 * storage classes (store/replica/replica_settings.h): a plain prune
	 * there honours them; an option given here wins. */
	{
		ReplicaSettings rs;
		int found = 0;

		if ((rc = replica_settings_load(repo, &rs, &found, &err))) {
			exit_code = cli_fail(cli, rc, &err);
			goto out;
		}
		if (found && !o->min_age_data_s)
			o->min_age_data_s = rs.min_age_data_s;
		if (found && !o->min_age_tree_s)
			o->min_age_tree_s = rs.min_age_tree_s;
		if (found && cli->verbose)
			fprintf(stderr, "replica settings: minimum age %lld s for data packs, %lld s for tree packs\n",
			        (long long)o->min_age_data_s, (long long)o->min_age_tree_s);
	}
	exit_code = cmd_prune_execute(cli, repo, o, cli->json ? &j : NULL);
	if (exit_code == CLI_EXIT_OK && j && cli_json_print(j, 0) < 0)
		exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
	j = NULL;
out:
	if (pa.metrics && exit_code != CLI_EXIT_USAGE) {   /* usage error: nothing ran */
		StrataErr merr = { 0, "" };
		if (cmd_backup_job_metrics(cli, pa.metrics, pa.job, exit_code, (double)(cli_now_ns() - t0) / 1e9,
		                           NULL, repo, &merr) != 0) {
			cli_warn("%s", merr.msg);
			if (exit_code == CLI_EXIT_OK)
				exit_code = CLI_EXIT_FAILURE;
		}
	}
	json_decref(j);
	cli_unlock();
	repo_close(repo);
	return exit_code;
}

const CliCommand cmd_prune = {
	.name = "prune",
	.summary = "Delete data no snapshot needs; repack mostly unused packs.",
	.usage = "strata prune [--max-unused PERCENT] [--dry-run] [--grace DURATION]",
	.help =
		"Marks every blob the snapshots reach, then deletes packs holding none of\n"
		"them (and packs no index file lists, left by interrupted backups), and\n"
		"rewrites the most unused packs, copying their live blobs into new packs,\n"
		"until at most --max-unused of the pack data is unreachable. Safe while other hosts back up into the repository:\n"
		"deciding and copying run beside backups; the packs to delete are written\n"
		"to a prune plan, and deleting waits for a moment when no backup runs (an\n"
		"exclusive lock), re-checks every snapshot made since the plan, and keeps\n"
		"any condemned pack one of them needs. When backups are running, the plan\n"
		"stays and the next `strata prune` finishes it (it prints \"deletion\n"
		"deferred\"); --lock-wait SECONDS (a global option; or STRATA_LOCK_WAIT)\n"
		"waits for them instead.\n"
		"\n"
		"Options:\n"
		"      --max-unused PERCENT  unreachable bytes to tolerate, as a share of\n"
		"                        all pack data (default 5, as restic; 0 repacks\n"
		"                        every pack with anything unreachable, 100 never)\n"
		"      --dry-run         print what would be deleted and repacked and how\n"
		"                        many bytes that frees; change nothing\n"
		"      --grace DURATION  delete only once the plan is this old (e.g. 24h):\n"
		"                        this run marks, a later one deletes\n"
		"      --mark-only       write the plan; leave deleting to a later run\n"
		"      --min-age-data DURATION, --min-age-tree DURATION\n"
		"                        delete packs of that kind only once the plan is this\n"
		"                        old: set to the minimum storage duration of an S3\n"
		"                        storage class (e.g. 90d for Glacier-class data); on a\n"
		"                        copy kept by `replicate --mirror`, the ages it stores\n"
		"                        (`strata cat replica`) when not given\n"
		"      --metrics-file FILE  write Prometheus metrics to FILE (atomically),\n"
		"                        labelled {job, command}: last success time,\n"
		"                        duration, exit code (see `strata help backup`)\n"
		"      --job NAME        the job label of those metrics (default: prune)\n"
		"DURATION is NUMBER UNIT pairs: y (365 days), m (30 days), w, d, h.\n"
		"\n"
		"Examples:\n"
		"  strata prune --dry-run\n"
		"  strata prune --max-unused 10\n"
		"  strata prune --lock-wait 600   # wait up to 10 minutes for running backups\n"
		"  strata prune --min-age-data 90d    # data packs in a Glacier-class tier\n",
	.run = run,
};
