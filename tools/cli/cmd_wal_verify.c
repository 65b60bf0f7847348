/* cmd_wal_verify.c — `strata wal-verify`: can every base backup kept be
 * recovered to the newest WAL the archive holds? The verdict is
 * store/wal/wal_verify.h's; this file prints it (text, --json) and writes
 * its metrics (--metrics-file).
 *
 * Exit status: 0 every base backup (snapshot labelled kind=pg-base) has
 * every segment it needs and PostgreSQL's default timeline choice
 * ('latest') descends from it, and no timeline lost its history file;
 * 1 (CLI_EXIT_DAMAGED) any of that fails, or there is no base backup;
 * the usual codes when the check cannot run (no repository 10, password
 * 12, a history file that cannot be read 1 or 4 ...). A fork alone is
 * reported and does not fail.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/lock.h"
#include "store/wal/wal_verify.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_lock.h"
#include "tools/cli/cli_metrics.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_progress.h"
#include "tools/cli/cli_repo.h"

enum {
	OPT_METRICS = CLI_OPT_CMD,
	OPT_JOB
};

static const struct option longopts[] = {
	{ "metrics-file", required_argument, NULL, OPT_METRICS },
	{ "job",          required_argument, NULL, OPT_JOB },
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	const char *metrics, *job;
} Args;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;

	switch (opt) {
	case OPT_METRICS:
		return cli_metrics_opt_file(cli, arg, &a->metrics);
	case OPT_JOB:
		return cli_metrics_opt_job(cli, arg, &a->job);
	default:
		return cli_usage(cli, "unexpected option");
	}
}

static uint64_t failing_backups(const WalVerifyReport *r)
{
	uint64_t n = 0;

	for (size_t i = 0; i < r->nbackups; i++)
		n += !r->backups[i].ok;
	return n;
}

static uint64_t lost_histories(const WalVerifyReport *r)
{
	uint64_t n = 0;

	for (size_t i = 0; i < r->ntimelines; i++)
		n += (uint64_t)r->timelines[i].history_missing;
	return n;
}

/* ---- --json ---- */

static json_t *lsn_json(uint64_t lsn)
{
	char s[WAL_LSN_TEXT_MAX];

	wal_lsn_format(lsn, s);
	return json_string(s);
}

static json_t *name_or_null(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

static json_t *timelines_json(const WalVerifyReport *r)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < r->ntimelines; i++) {
		const WalTimelineInfo *t = &r->timelines[i];
		if (json_array_append_new(arr, json_pack("{s:I,s:o,s:o,s:o,s:b,s:b,s:o,s:o,s:I,s:I,s:I}",
		                          "timeline", (json_int_t)t->timeline,
		                          "parent", t->parent ? json_integer(t->parent) : json_null(),
		                          "switch_lsn", t->parent ? lsn_json(t->switch_lsn) : json_null(),
		                          "begin", name_or_null(t->begin),
		                          "history", t->has_history, "history_missing", t->history_missing,
		                          "first", name_or_null(t->first), "last", name_or_null(t->last),
		                          "segments", (json_int_t)t->segments, "partial", (json_int_t)t->partials,
		                          "backup", (json_int_t)t->backups)) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *forks_json(const WalVerifyReport *r)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < r->nforks; i++) {
		const WalFork *f = &r->forks[i];
		if (json_array_append_new(arr, json_pack("{s:I,s:I,s:o,s:s,s:s,s:I}", "timeline", (json_int_t)f->timeline,
		                          "child", (json_int_t)f->child, "switch_lsn", lsn_json(f->switch_lsn),
		                          "first", f->first, "last", f->last, "segments", (json_int_t)f->segments)) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *ranges_json(const WalVerifyReport *r, const WalBackupCheck *b)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < b->nranges; i++) {
		const WalRange *rg = &r->ranges[b->range0 + i];
		json_t *gaps = json_array();
		for (size_t k = 0; gaps && k < rg->ngaps; k++) {
			const WalGap *g = &r->gaps[rg->gap0 + k];
			if (json_array_append_new(gaps, json_pack("{s:s,s:s,s:I}", "first", g->first, "last", g->last,
			                                          "segments", (json_int_t)g->segments)) < 0) {
				json_decref(gaps);
				gaps = NULL;
			}
		}
		if (!gaps || json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:I,s:I,s:o}", "timeline",
		                                   (json_int_t)rg->timeline, "first", rg->first, "last", rg->last,
		                                   "segments", (json_int_t)rg->segments, "missing", (json_int_t)rg->missing,
		                                   "gaps", gaps)) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *backups_json(const WalVerifyReport *r)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < r->nbackups; i++) {
		const WalBackupCheck *b = &r->backups[i];
		char sid[CLI_FMT_SHORT_ID_LEN];
		json_t *o;
		cli_fmt_short_id(b->snapshot_id, sid);
		if (b->label_ok)
			o = json_pack("{s:o,s:s,s:o,s:b,s:I,s:s,s:o,s:o,s:I,s:b,s:I,s:o,s:n}",
			              "snapshot_id", cli_json_id(b->snapshot_id), "short_id", sid,
			              "time", cli_json_time(b->time_ns), "ok", b->ok,
			              "timeline", (json_int_t)b->label.timeline, "start", b->label.start,
			              "start_lsn", lsn_json(b->label.start_lsn),
			              "checkpoint_lsn", lsn_json(b->label.checkpoint_lsn),
			              "latest_timeline", (json_int_t)b->latest_timeline, "latest_follows", b->latest_follows,
			              "missing", (json_int_t)b->missing, "ranges", ranges_json(r, b), "error");
		else
			o = json_pack("{s:o,s:s,s:o,s:b,s:n,s:n,s:n,s:n,s:n,s:n,s:I,s:[],s:s}",
			              "snapshot_id", cli_json_id(b->snapshot_id), "short_id", sid,
			              "time", cli_json_time(b->time_ns), "ok", 0, "timeline", "start", "start_lsn",
			              "checkpoint_lsn", "latest_timeline", "latest_follows", "missing", (json_int_t)0,
			              "ranges", "error", b->error);
		if (json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static int print_json(Repo *repo, const WalVerifyReport *r)
{
	json_t *o = json_pack("{s:b,s:I,s:I,s:I,s:I,s:o,s:o,s:o}", "ok", r->problems == 0,
	                      "problems", (json_int_t)r->problems, "segment_size", (json_int_t)r->segment_size,
	                      "base_backups", (json_int_t)r->nbackups,
	                      "base_backups_failing", (json_int_t)failing_backups(r),
	                      "timelines", timelines_json(r), "forks", forks_json(r), "backups", backups_json(r));

	if (o && cli_json_set_requests(o, "requests", repo) < 0)
		json_decref(o), o = NULL;
	return cli_json_print(o, 0);
}

/* ---- text ---- */

static void print_human(const WalVerifyReport *r)
{
	char b1[CLI_FMT_BYTES_LEN], lsn[WAL_LSN_TEXT_MAX], when[CLI_FMT_TIME_LEN], sid[CLI_FMT_SHORT_ID_LEN];

	printf("WAL archive: %zu timeline%s, segments of %s\n", r->ntimelines, r->ntimelines == 1 ? "" : "s",
	       cli_fmt_bytes(r->segment_size, b1));
	for (size_t i = 0; i < r->ntimelines; i++) {
		const WalTimelineInfo *t = &r->timelines[i];
		printf("timeline %u:", (unsigned)t->timeline);
		if (t->parent) {
			wal_lsn_format(t->switch_lsn, lsn);
			printf(" branched from timeline %u at %s (begins with %s);", (unsigned)t->parent, lsn, t->begin);
		}
		if (t->segments)
			printf(" %s .. %s, %llu segment%s", t->first, t->last, (unsigned long long)t->segments,
			       t->segments == 1 ? "" : "s");
		else
			printf(" no segment");
		if (t->partials)
			printf(", %llu .partial", (unsigned long long)t->partials);
		if (t->history_missing)
			printf("; HISTORY FILE %08X.history MISSING", (unsigned)t->timeline);
		printf("\n");
	}
	for (size_t i = 0; i < r->nforks; i++) {
		const WalFork *f = &r->forks[i];
		wal_lsn_format(f->switch_lsn, lsn);
		printf("fork: timeline %u went on after timeline %u branched off at %s: %llu segment%s %s .. %s\n",
		       (unsigned)f->timeline, (unsigned)f->child, lsn, (unsigned long long)f->segments,
		       f->segments == 1 ? "" : "s", f->first, f->last);
	}
	if (!r->nbackups)
		printf("no base backup: no snapshot is labelled kind=pg-base\n");
	for (size_t i = 0; i < r->nbackups; i++) {
		const WalBackupCheck *b = &r->backups[i];
		cli_fmt_short_id(b->snapshot_id, sid);
		cli_fmt_time_local(b->time_ns, when);
		if (!b->label_ok) {
			printf("base backup %s (%s): FAILED: %s\n", sid, when, b->error);
			continue;
		}
		wal_lsn_format(b->label.start_lsn, lsn);
		printf("base backup %s (%s), starts at %s (%s) on timeline %u: %s\n", sid, when, b->label.start, lsn,
		       (unsigned)b->label.timeline, b->ok ? "ok" : "FAILED");
		for (size_t k = 0; k < b->nranges; k++) {
			const WalRange *rg = &r->ranges[b->range0 + k];
			printf("  timeline %u: %s .. %s, %llu segment%s", (unsigned)rg->timeline, rg->first, rg->last,
			       (unsigned long long)rg->segments, rg->segments == 1 ? "" : "s");
			if (!rg->missing) {
				printf(", complete\n");
				continue;
			}
			printf(", %llu MISSING:", (unsigned long long)rg->missing);
			for (size_t g = 0; g < rg->ngaps; g++) {
				const WalGap *gp = &r->gaps[rg->gap0 + g];
				if (gp->segments == 1)
					printf(" %s", gp->first);
				else
					printf(" %s .. %s (%llu)", gp->first, gp->last, (unsigned long long)gp->segments);
				printf("%s", g + 1 < rg->ngaps ? "," : "\n");
			}
		}
		if (b->latest_follows)
			printf("  recovery_target_timeline 'latest' is timeline %u\n", (unsigned)b->latest_timeline);
		else
			printf("  recovery_target_timeline 'latest' is timeline %u, which does NOT descend from this "
			       "backup: recovery fails unless recovery_target_timeline = '%u' (or that timeline's "
			       "history is wrong)\n", (unsigned)b->latest_timeline, (unsigned)b->label.timeline);
	}
}

/* ---- metrics ---- */

static int write_metrics(const Cli *cli, const Args *a, Repo *repo, const WalVerifyReport *r, int exit_code,
                         double duration_s, StrataErr *err)
{
	const char *job = a->job ? a->job : "wal-verify";
	const char *lb[] = { "job", job, NULL };
	CliMetrics *m = cli_metrics_new();
	int rc = 0;

	(void)cli;
	if (!m)
		return strata_err_set(err, -ENOMEM, "out of memory");
#define ADD(name, help, labels, v) \
	do { if (rc == 0) rc = cli_metrics_add(m, name, help, "gauge", labels, (double)(v)); } while (0)
	ADD("strata_wal_verify_success", "1 if every base backup kept can be recovered through the WAL archive", lb,
	    r && r->problems == 0 && exit_code == CLI_EXIT_OK);
	ADD("strata_wal_verify_exit_code", "exit status of strata wal-verify: 0 complete, 1 problems found, "
	    "other: the check could not run", lb, exit_code);
	ADD("strata_wal_verify_last_run_timestamp_seconds", "when wal-verify finished (unix seconds)", lb, time(NULL));
	ADD("strata_wal_verify_duration_seconds", "how long wal-verify took", lb, duration_s);
	if (rc == 0)
		rc = cli_metrics_add_requests(m, lb, repo);
	if (r) {
		ADD("strata_wal_verify_problems", "problems found (failing base backups, lost history files, "
		    "no base backup)", lb, r->problems);
		ADD("strata_wal_verify_base_backups", "base backups checked (snapshots labelled kind=pg-base)", lb,
		    r->nbackups);
		ADD("strata_wal_verify_base_backups_failing", "base backups that cannot be recovered to the newest WAL", lb,
		    failing_backups(r));
		ADD("strata_wal_verify_timelines", "timelines in the WAL archive", lb, r->ntimelines);
		ADD("strata_wal_verify_newest_timeline", "the highest timeline in the WAL archive", lb,
		    r->ntimelines ? r->timelines[r->ntimelines - 1].timeline : 0);
		ADD("strata_wal_verify_forks", "timelines that went on after a child branched off", lb, r->nforks);
		ADD("strata_wal_verify_history_missing", "timelines holding WAL without their history file", lb,
		    lost_histories(r));
		ADD("strata_wal_verify_segment_size_bytes", "the WAL segment size", lb, r->segment_size);
		for (size_t i = 0; i < r->nbackups; i++) {
			char sid[CLI_FMT_SHORT_ID_LEN];
			const char *lbs[] = { "job", job, "snapshot", cli_fmt_short_id(r->backups[i].snapshot_id, sid), NULL };
			ADD("strata_wal_verify_backup_missing_segments",
			    "segments a base backup needs that the archive does not hold", lbs, r->backups[i].missing);
			ADD("strata_wal_verify_backup_ok", "1 if this base backup can be recovered to the newest WAL", lbs,
			    r->backups[i].ok);
		}
	}
#undef ADD
	if (rc)
		strata_err_set(err, rc, "cannot build metrics: %s", strerror(-rc));
	else
		rc = cli_metrics_write(m, a->metrics, err);
	cli_metrics_free(m);
	return rc;
}

static int run(Cli *cli, int argc, char **argv)
{
	StrataErr err = { 0, "" };
	Args a = { NULL, NULL };
	Repo *repo = NULL;
	WalVerifyReport *r = NULL;
	int64_t t0 = cli_now_ns();
	int rc, first, exit_code = CLI_EXIT_OK;

	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE)
		return rc;
	if (first < argc)
		return cli_usage(cli, "unexpected argument %s", argv[first]);
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = cli_lock(cli, repo, LOCK_SHARED, &err)) ||
	    (rc = wal_verify_run(repo, &r, &err))) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	if (cli->json) {
		if (print_json(repo, r) < 0)
			exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
		else if (r->problems)
			exit_code = cli_exit_code(STRATA_EDAMAGED);
	} else {
		if (!cli->quiet || r->problems)
			print_human(r);
		fflush(stdout);
		if (r->problems)
			exit_code = cli_failf(cli, STRATA_EDAMAGED, "WAL archive check failed: %llu problem%s (listed above): "
			                      "%llu of %zu base backups cannot be recovered to the newest WAL%s",
			                      (unsigned long long)r->problems, r->problems == 1 ? "" : "s",
			                      (unsigned long long)failing_backups(r), r->nbackups,
			                      lost_histories(r) ? ", and history files are missing" : "");
		else if (!cli->quiet)
			printf("ok: %zu base backup%s, each recoverable to the newest WAL\n", r->nbackups,
			       r->nbackups == 1 ? "" : "s");
	}
out:
	if (a.metrics && exit_code != CLI_EXIT_USAGE) {
		StrataErr merr = { 0, "" };
		if (write_metrics(cli, &a, repo, r, exit_code, (double)(cli_now_ns() - t0) / 1e9, &merr) != 0) {
			cli_warn("%s", merr.msg);
			if (exit_code == CLI_EXIT_OK)
				exit_code = CLI_EXIT_FAILURE;
		}
	}
	wal_verify_report_free(r);
	repo_close(repo);
	return exit_code;
}

const CliCommand cmd_wal_verify = {
	.name = "wal-verify",
	.summary = "Check that the WAL archive lets every base backup recover to its newest WAL.",
	.usage = "strata wal-verify [--metrics-file FILE [--job NAME]]",
	.help =
		"For each base backup kept (a snapshot labelled kind=pg-base with a\n"
		"backup_label at its root), checks that the archive holds every WAL\n"
		"segment from the backup's start segment to the newest segment of each\n"
		"timeline that descends from it, following the timeline history files\n"
		"(recovery reads a timeline from the segment its switch point lies in),\n"
		"and that the timeline PostgreSQL picks by default\n"
		"(recovery_target_timeline = 'latest') descends from the backup. Missing\n"
		"segments are listed as runs, first and last segment name. A timeline\n"
		"that went on after another branched off from it (a fork: a promoted\n"
		"point-in-time recovery, or a restored copy archiving into this\n"
		"repository) is reported with the switch point. .partial and .backup\n"
		"files never count as segments. The segment size is the archive's own\n"
		"(the size of its segments), so any wal_segment_size works.\n"
		"\n"
		"Exit status:\n"
		"  0    every base backup can be recovered to the newest WAL\n"
		"  1    a segment is missing, 'latest' is no child of a backup, a\n"
		"       backup_label cannot be read, a timeline's history file is lost,\n"
		"       or no snapshot is labelled kind=pg-base\n"
		"  other  the check could not run (see `strata help`, exit codes)\n"
		"A fork alone does not fail the check.\n"
		"\n"
		"Options:\n"
		"      --metrics-file FILE  Prometheus textfile (atomic): strata_wal_verify_success,\n"
		"                        _exit_code, _problems, _base_backups, _base_backups_failing,\n"
		"                        _forks, _history_missing, _timelines, _newest_timeline,\n"
		"                        _segment_size_bytes, and per snapshot\n"
		"                        _backup_ok and _backup_missing_segments\n"
		"      --job NAME        the job label of those metrics (default: wal-verify)\n"
		"\n"
		"Examples:\n"
		"  strata wal-verify\n"
		"  strata wal-verify --json | jq '.backups[] | select(.ok | not)'\n"
		"  strata wal-verify --metrics-file /var/lib/node_exporter/strata-wal.prom\n",
	.run = run,
};
