/* cmd_restore.c — `strata restore`: a snapshot, or parts of it, to a directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/sys/outfile.h"
#include "store/restore/restore.h"
#include "store/snapselect.h"
#include "store/snapshot.h"
#include "store/tar/tar.h"
#include "store/wal/wal_recovery.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_lock.h"
#include "tools/cli/cli_metrics.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_pgrecovery.h"
#include "tools/cli/cli_progress.h"
#include "tools/cli/cli_repo.h"
#include "tools/cli/cli_select.h"

enum {
	OPT_TARGET = CLI_OPT_CMD,
	OPT_INCLUDE,
	OPT_OVERWRITE,
	OPT_THREADS,
	OPT_TAR,
	OPT_TAR_ZST,
	OPT_TAR_MODE,
	OPT_COLD_WAIT,
	OPT_COLD_POLL,
	OPT_VERIFY,
	OPT_ALLOW_FOREIGN_DIRS,
	OPT_DELTA,
	OPT_DELETE,
	OPT_DRY_RUN,
	OPT_METRICS,
	OPT_JOB,
	OPT_NUMERIC_OWNER,
	OPT_STRIP,
	OPT_EXCLUDE,
	OPT_PG_RECOVERY,
	OPT_PG_RECOVERY_ACTION,
	OPT_PG_RESTORE_COMMAND
};

static const struct option longopts[] = {
	{ "target",    required_argument, NULL, OPT_TARGET },
	{ "include",   required_argument, NULL, OPT_INCLUDE },
	{ "overwrite", no_argument,       NULL, OPT_OVERWRITE },
	{ "threads",   required_argument, NULL, OPT_THREADS },
	{ "tar",       required_argument, NULL, OPT_TAR },
	{ "tar-zst",   required_argument, NULL, OPT_TAR_ZST },
	{ "tar-mode",  required_argument, NULL, OPT_TAR_MODE },
	{ "cold-wait", no_argument,       NULL, OPT_COLD_WAIT },
	{ "cold-poll", required_argument, NULL, OPT_COLD_POLL },
	{ "verify",    no_argument,       NULL, OPT_VERIFY },
	{ "allow-foreign-dirs", no_argument, NULL, OPT_ALLOW_FOREIGN_DIRS },
	{ "delta",     optional_argument, NULL, OPT_DELTA },
	{ "delete",    no_argument,       NULL, OPT_DELETE },
	{ "dry-run",   no_argument,       NULL, OPT_DRY_RUN },
	{ "metrics-file", required_argument, NULL, OPT_METRICS },
	{ "job",       required_argument, NULL, OPT_JOB },
	{ "numeric-owner", no_argument,   NULL, OPT_NUMERIC_OWNER },
	{ "strip-components", required_argument, NULL, OPT_STRIP },
	{ "exclude",   required_argument, NULL, OPT_EXCLUDE },
	{ "pg-recovery", optional_argument, NULL, OPT_PG_RECOVERY },
	{ "pg-recovery-action", required_argument, NULL, OPT_PG_RECOVERY_ACTION },
	{ "pg-restore-command", required_argument, NULL, OPT_PG_RESTORE_COMMAND },
	CLI_SELECT_LONGOPTS,
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	const char *target;
	CliList includes;
	int overwrite;
	long threads;
	const char *tar;           /* --tar/--tar-zst FILE, "-" for stdout */
	int tar_compression;       /* enum TarCompression */
	long tar_mode;             /* --tar-mode MODE; -1: not given (0600) */
	CliSelect sel;             /* SNAPSHOT or the selectors (tools/cli/cli_select.h) */
	int cold_wait;             /* --cold-wait: poll archived packs until readable */
	long cold_poll;            /* --cold-poll SECONDS */
	int verify;                /* --verify: re-hash every chunk against its ID */
	int allow_foreign_dirs;    /* --allow-foreign-dirs */
	int delta;                 /* --delta[=fast]: RESTORE_DELTA_* */
	int delete_strays;         /* --delete */
	int dry_run;               /* --dry-run */
	const char *metrics, *job; /* --metrics-file, --job */
	int numeric_owner;         /* --numeric-owner */
	long strip;                /* --strip-components N */
	CliList excludes;          /* --exclude PATTERN */
	int pg_recovery;           /* --pg-recovery[=TARGET] (store/wal/wal_recovery.h) */
	WalRecoveryTarget pg_target;
	const char *pg_action;     /* --pg-recovery-action, default promote */
	const char *pg_restore_command; /* --pg-restore-command CMD */
} Args;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;
	int rc;

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
	case OPT_TAR:
	case OPT_TAR_ZST:
		if (!*arg)
			return cli_usage(cli, "--tar and --tar-zst want a FILE, or - for standard output");
		if (a->tar)
			return cli_usage(cli, "give one --tar or --tar-zst");
		a->tar = arg;
		a->tar_compression = opt == OPT_TAR_ZST ? TAR_ZSTD : TAR_PLAIN;
		return CLI_CONTINUE;
	case OPT_TAR_MODE: {
		char *end;
		/* Octal permission bits only: a tar export has no use for
		 * setuid, setgid or sticky bits. */
		if (!*arg || strspn(arg, "01234567") != strlen(arg) ||
		    (a->tar_mode = strtol(arg, &end, 8)) > 0777 || *end)
			return cli_usage(cli, "--tar-mode wants an octal permission mode from 0 to 0777, "
			                 "such as 0600 or 0640: %s", arg);
		return CLI_CONTINUE;
	}
	case OPT_COLD_WAIT:
		a->cold_wait = 1;
		return CLI_CONTINUE;
	case OPT_VERIFY:
		a->verify = 1;
		return CLI_CONTINUE;
	case OPT_ALLOW_FOREIGN_DIRS:
		a->allow_foreign_dirs = 1;
		return CLI_CONTINUE;
	case OPT_DELTA:
		if (arg && strcmp(arg, "fast") != 0 && strcmp(arg, "full") != 0)
			return cli_usage(cli, "--delta takes no value, or =fast (trust size and mtime) or =full: '%s'",
			                 arg);
		a->delta = arg && !strcmp(arg, "fast") ? RESTORE_DELTA_FAST : RESTORE_DELTA_FULL;
		return CLI_CONTINUE;
	case OPT_DELETE:
		a->delete_strays = 1;
		return CLI_CONTINUE;
	case OPT_NUMERIC_OWNER:
		a->numeric_owner = 1;
		return CLI_CONTINUE;
	case OPT_STRIP:
		if (cli_parse_int(arg, 0, 255, &a->strip) < 0)
			return cli_usage(cli, "--strip-components wants a number of directories from 0 to 255: %s", arg);
		return CLI_CONTINUE;
	case OPT_EXCLUDE:
		if (!*arg)
			return cli_usage(cli, "--exclude wants a PATTERN");
		if (cli_list_push(&a->excludes, (char *)(uintptr_t)arg) < 0)
			return cli_failf(cli, -ENOMEM, "out of memory");
		return CLI_CONTINUE;
	case OPT_DRY_RUN:
		a->dry_run = 1;
		return CLI_CONTINUE;
	case OPT_PG_RECOVERY: {
		StrataErr perr = { 0, "" };
		if (wal_recovery_target_parse(arg, &a->pg_target, &perr) != 0)
			return cli_usage(cli, "%s", perr.msg);
		a->pg_recovery = 1;
		return CLI_CONTINUE;
	}
	case OPT_PG_RECOVERY_ACTION:
		if (strcmp(arg, "promote") && strcmp(arg, "pause") && strcmp(arg, "shutdown"))
			return cli_usage(cli, "--pg-recovery-action wants promote, pause or shutdown: %s", arg);
		a->pg_action = arg;
		return CLI_CONTINUE;
	case OPT_PG_RESTORE_COMMAND:
		if (!*arg || strchr(arg, '\n'))
			return cli_usage(cli, "--pg-restore-command wants a command line (with %%f and %%p)");
		a->pg_restore_command = arg;
		return CLI_CONTINUE;
	case OPT_METRICS:
		return cli_metrics_opt_file(cli, arg, &a->metrics);
	case OPT_JOB:
		return cli_metrics_opt_job(cli, arg, &a->job);
	case OPT_COLD_POLL:
		if (cli_parse_int(arg, 1, 86400, &a->cold_poll) < 0)
			return cli_usage(cli, "--cold-poll wants seconds from 1 to 86400: %s", arg);
		return CLI_CONTINUE;
	default:
		if ((rc = cli_select_opt(cli, opt, arg, &a->sel)) != CLI_SELECT_NOT_MINE)
			return rc;
		return cli_usage(cli, "unexpected option");
	}
}

/* The display and what the snapshot says a whole restore amounts to. */
typedef struct Report {
	CliProgress progress;
	uint64_t files_total, bytes_total;   /* 0 with --include: unknown */
	const Cli *cli;
	int dry_run;
	json_t *deleted;           /* --json: the paths --delete removed */
	int oom;
} Report;

/* --delete: each stray, as it goes (the walk's thread only). */
static void on_delete(const char *path, int is_dir, void *ctx)
{
	Report *r = ctx;

	if (r->deleted) {
		if (json_array_append_new(r->deleted, cli_json_str(path)) != 0)
			r->oom = 1;
		return;
	}
	if (r->cli->quiet && !r->dry_run)
		return;
	cli_progress_pause(&r->progress);
	printf("%s ", r->dry_run ? "would remove" : "removed");
	cli_fmt_name(stdout, path);
	printf("%s\n", is_dir ? "/" : "");
	fflush(stdout);
	cli_progress_resume(&r->progress);
}

/* Recovery metrics (restore and dump, --metrics-file): the job samples
 * of cli.h, then the restore's own. snap NULL: none was found. */
int cmd_restore_metrics(const Cli *cli, const char *path, const char *job, int exit_code, double duration_s,
                        Repo *repo, const Snapshot *snap, uint64_t bytes, uint64_t bytes_fetched, uint64_t bytes_reused,
                        StrataErr *err)
{
	const char *command = cli->cmd ? cli->cmd->name : "strata";
	const char *lb[] = { "job", job ? job : command, "command", command, NULL };
	CliMetrics *m = cli_metrics_new();
	double now = (double)time(NULL);
	int rc;

	if (!m)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = cmd_backup_job_metrics_add(m, cli, path, job, exit_code, duration_s, NULL);
#define ADD(name, help, v) \
	do { if (rc == 0) rc = cli_metrics_add(m, name, help, "gauge", lb, (double)(v)); } while (0)
	ADD("strata_restore_duration_seconds", "how long the last restore took (recovery time)", duration_s);
	if (rc == 0)
		rc = cli_metrics_add_requests(m, lb, repo);
	if (snap && exit_code == CLI_EXIT_OK) {
		double t = (double)snap->time_ns / 1e9;
		ADD("strata_restore_bytes", "content bytes the last restore put in place", bytes);
		if (bytes_fetched != UINT64_MAX) {
			ADD("strata_restore_bytes_fetched", "bytes the last restore read from the repository",
			    bytes_fetched);
			ADD("strata_restore_bytes_reused",
			    "content bytes a delta restore took from the files already there", bytes_reused);
		}
		ADD("strata_restore_snapshot_timestamp_seconds", "when the restored snapshot was taken (unix seconds)", t);
		ADD("strata_restore_data_loss_seconds",
		    "how much newer work the restore gave up: its end minus the snapshot's time", now > t ? now - t : 0);
	}
#undef ADD
	if (rc)
		strata_err_set(err, rc, "cannot build metrics: %s", strerror(-rc));
	else
		rc = cli_metrics_write(m, path, err);
	cli_metrics_free(m);
	return rc;
}

static void on_progress(const RestoreProgress *p, void *ctx)
{
	Report *r = ctx;
	CliProgressStatus s;
	char cold[64];   /* workers call too: nothing shared is written here */

	memset(&s, 0, sizeof s);
	s.items = p->files_done;
	s.items_total = r->files_total;
	s.bytes = p->bytes_done;
	s.bytes_total = r->bytes_total;
	s.current = p->current;
	if (p->cold_pending) {
		snprintf(cold, sizeof cold, "waiting for %llu archived packs",
		         (unsigned long long)p->cold_pending);
		s.current = cold;
	}
	cli_progress_show(&r->progress, &s);
}

/* restore --tar/--tar-zst: the snapshot as one tar stream, to stdout or
 * to FILE. FILE holds the snapshot's plaintext: it is written through a
 * private temporary file (store/sys/outfile.h: exclusive, mode 0600 until
 * complete, then renamed) and ends with mode 0600, or --tar-mode. */
static int restore_tar(Cli *cli, Repo *repo, const Args *a, const Snapshot *snap)
{
	StrataErr err = { 0, "" };
	TarExportResult res;
	OutFile *out = NULL;
	char id[CLI_FMT_SHORT_ID_LEN], hex[STRATA_ID_HEX_LEN + 1], bytes[CLI_FMT_BYTES_LEN];
	int to_stdout = !strcmp(a->tar, "-"), fd = STDOUT_FILENO, rc;

	memset(&res, 0, sizeof res);
	if (!to_stdout) {
		if ((rc = outfile_open(a->tar, 0, &out, &err)) != 0)
			return cli_fail(cli, rc, &err);
		fd = outfile_fd(out);
	}
	rc = tar_export(repo, snap, fd, a->tar_compression, &res, &err);
	if (!to_stdout) {
		if (rc == 0)
			rc = outfile_commit(out, a->tar_mode >= 0 ? (unsigned)a->tar_mode : 0600, &err);
		outfile_free(out);
	}
	if (rc)
		return cli_fail(cli, rc, &err);
	if (cli->json) {
		json_t *o;
		strata_id_hex(snap->id, hex);
		o = json_pack("{s:s,s:o,s:I,s:I,s:I,s:I}", "snapshot_id", hex, "tar", cli_json_str(a->tar),
		              "entries", (json_int_t)res.entries, "files", (json_int_t)res.files,
		              "bytes", (json_int_t)res.bytes, "skipped", (json_int_t)res.skipped);
		if (o && cli_json_set_requests(o, "store_requests", repo) < 0)
			json_decref(o), o = NULL;
		if (cli_json_print(o, 0) < 0)
			return cli_failf(cli, -EIO, "cannot write to stdout");
	} else if (!cli->quiet) {
		/* stdout may be the tar stream: the summary goes to stderr. */
		fprintf(stderr, "wrote snapshot %s as a tar stream to %s: %llu entries, %llu files, %s\n",
		        cli_fmt_short_id(snap->id, id), to_stdout ? "standard output" : a->tar,
		        (unsigned long long)res.entries, (unsigned long long)res.files,
		        cli_fmt_bytes(res.bytes, bytes));
	}
	if (res.skipped)
		cli_warn("%llu sockets have no tar form and were left out", (unsigned long long)res.skipped);
	return CLI_EXIT_OK;
}

static int run(Cli *cli, int argc, char **argv)
{
	Args a;
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	Snapshot snap;
	RestoreOptions opts;
	RestoreResult res;
	Report report;
	char id[CLI_FMT_SHORT_ID_LEN], hex[STRATA_ID_HEX_LEN + 1], bytes[CLI_FMT_BYTES_LEN];
	int rc, first, exit_code = CLI_EXIT_OK, have_snap = 0;
	int64_t t0 = cli_now_ns();
	double duration_s = 0, loss_s;
	char *pg_command = NULL;
	WalRecoveryResult pg_res = { 0, 0 };

	memset(&a, 0, sizeof a);
	memset(&report, 0, sizeof report);
	a.tar_mode = -1;
	memset(&snap, 0, sizeof snap);
	memset(&opts, 0, sizeof opts);
	memset(&res, 0, sizeof res);
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE) {
		exit_code = rc;
		goto out;
	}
	if ((rc = cli_select_operands(cli, &a.sel, argc, argv, &first, 0, NULL)) != CLI_CONTINUE) {
		exit_code = rc;
		goto out;
	}
	if (first < argc) {
		exit_code = cli_usage(cli, "unexpected argument %s", argv[first]);
		goto out;
	}
	if (a.tar && (a.target || a.includes.n || a.overwrite || a.allow_foreign_dirs || a.delta ||
	              a.delete_strays || a.dry_run || a.strip || a.excludes.n)) {
		exit_code = cli_usage(cli, "--tar/--tar-zst write the whole snapshot as a stream; --target, --include, "
		                      "--exclude, --strip-components, --overwrite, --delta, --delete, --dry-run and "
		                      "--allow-foreign-dirs do not apply");
		goto out;
	}
	if (a.dry_run && !a.delete_strays) {
		exit_code = cli_usage(cli, "--dry-run lists what --delete would remove; give --delete too");
		goto out;
	}
	if (a.tar_mode >= 0 && (!a.tar || !strcmp(a.tar, "-"))) {
		exit_code = cli_usage(cli, "--tar-mode sets the mode of a --tar/--tar-zst FILE; "
		                      "it does not apply to %s", a.tar ? "standard output" : "--target");
		goto out;
	}
	if (a.tar && !strcmp(a.tar, "-") && (cli->json || isatty(STDOUT_FILENO))) {
		exit_code = cli_usage(cli, cli->json ? "--json and a tar stream on standard output exclude each other"
		                      : "refusing to write a tar stream to a terminal; redirect standard output or give a FILE");
		goto out;
	}
	if (!a.target && !a.tar) {
		exit_code = cli_usage(cli, "missing --target DIR (or --tar FILE)");
		goto out;
	}
	if ((a.pg_action || a.pg_restore_command) && !a.pg_recovery) {
		exit_code = cli_usage(cli, "--pg-recovery-action and --pg-restore-command go with --pg-recovery");
		goto out;
	}
	if (a.pg_recovery && (a.tar || a.dry_run)) {
		exit_code = cli_usage(cli, "--pg-recovery prepares the data directory restored at --target; "
		                      "not with --tar or --dry-run");
		goto out;
	}
	if (a.pg_recovery && !a.pg_restore_command) {
		if ((rc = cli_pgrecovery_restore_command(cli, &pg_command, &err)) != 0) {
			exit_code = rc == STRATA_EUSAGE ? cli_usage(cli, "%s", err.msg) : cli_fail(cli, rc, &err);
			goto out;
		}
	}
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = cli_lock(cli, repo, LOCK_SHARED, &err)) ||
	    (rc = cli_select_find(&a.sel, repo, &snap, &err))) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	have_snap = 1;
	if (a.tar) {
		exit_code = restore_tar(cli, repo, &a, &snap);
		goto out;
	}
	opts.target = a.target;
	opts.includes = (const char *const *)a.includes.v;
	opts.nincludes = a.includes.n;
	opts.overwrite = a.overwrite;
	opts.threads = (int)a.threads;
	opts.cold_wait = a.cold_wait;
	opts.verify = a.verify;
	opts.allow_foreign_dirs = a.allow_foreign_dirs;
	opts.delta = a.delta;
	opts.numeric_owner = a.numeric_owner;
	opts.strip_components = (unsigned)a.strip;
	opts.excludes = (const char *const *)a.excludes.v;
	opts.nexcludes = a.excludes.n;
	opts.delete_strays = a.delete_strays;
	opts.dry_run = a.dry_run;
	opts.on_delete = on_delete;
	opts.delete_ctx = &report;
	opts.cold_poll_s = (unsigned)a.cold_poll;
	opts.progress = on_progress;
	opts.progress_ctx = &report;
	report.cli = cli;
	report.dry_run = a.dry_run;
	if (cli->json && !(report.deleted = json_array())) {
		exit_code = cli_failf(cli, -ENOMEM, "out of memory");
		goto out;
	}
	if (!a.includes.n) {
		/* The whole snapshot: its summary gives the totals for an ETA. */
		report.files_total = snap.summary.files;
		report.bytes_total = snap.summary.bytes_total;
	}
	cli_progress_init(&report.progress, cli);
	rc = restore_run(repo, &snap, &opts, &res, &err);
	cli_progress_done(&report.progress);
	duration_s = (double)(cli_now_ns() - t0) / 1e9;
	if (rc == 0 && report.oom)
		rc = strata_err_set(&err, -ENOMEM, "out of memory");
	if (rc == -EAGAIN && res.cold_packs && cli->json) {
		strata_id_hex(snap.id, hex);
		cli_json_print(json_pack("{s:s,s:s,s:I,s:I,s:s}", "snapshot_id", hex, "status", "cold",
		                         "cold_packs", (json_int_t)res.cold_packs,
		                         "requests", (json_int_t)res.requests, "error", err.msg), 0);
		exit_code = CLI_EXIT_FAILURE;
		goto out;
	}
	if (rc == 0 && a.pg_recovery && !res.errors) {
		WalRecoveryOptions po;
		memset(&po, 0, sizeof po);
		po.target = a.pg_target;
		po.action = a.pg_action ? a.pg_action : "promote";
		po.restore_command = a.pg_restore_command ? a.pg_restore_command : pg_command;
		rc = wal_recovery_prepare(a.target, &po, &pg_res, &err);
	}
	if (rc) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	loss_s = (double)time(NULL) - (double)snap.time_ns / 1e9;
	if (cli->json) {
		json_t *o;
		strata_id_hex(snap.id, hex);
		o = json_pack("{s:s,s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:b}",
		              "snapshot_id", hex,
		              "snapshot_time", cli_json_time(snap.time_ns),
		              "target", cli_json_str(a.target),
		              "files", (json_int_t)res.files,
		              "dirs", (json_int_t)res.dirs,
		              "bytes", (json_int_t)res.bytes,
		              "errors", (json_int_t)res.errors,
		              "requests", (json_int_t)res.requests,
		              "bytes_fetched", (json_int_t)res.bytes_fetched,
		              "duration_s", duration_s,
		              "data_loss_s", loss_s > 0 ? loss_s : 0.0,
		              "dry_run", a.dry_run);
		if (o && cli_json_set_requests(o, "store_requests", repo) < 0) {
			json_decref(o);
			o = NULL;
		}
		if (o && a.delta && json_object_set_new(o, "delta", json_pack("{s:s,s:I,s:I,s:I,s:I}",
		                                        "mode", a.delta == RESTORE_DELTA_FAST ? "fast" : "full",
		                                        "files_skipped", (json_int_t)res.files_skipped,
		                                        "files_updated", (json_int_t)res.files_updated,
		                                        "bytes_reused", (json_int_t)res.bytes_reused,
		                                        "bytes_compared", (json_int_t)res.bytes_compared)) != 0) {
			json_decref(o);
			o = NULL;
		}
		if (o && a.delete_strays) {
			json_object_set_new(o, "deleted", report.deleted);
			report.deleted = NULL;
		}
		if (o && a.pg_recovery &&
		    json_object_set_new(o, "pg_recovery", json_pack("{s:o,s:s,s:o,s:s,s:s,s:b,s:b}",
		                        "data_directory", cli_json_str(a.target),
		                        "target", wal_recovery_kind_name(a.pg_target.kind),
		                        "target_value", a.pg_target.value[0] ? json_string(a.pg_target.value) : json_null(),
		                        "action", a.pg_action ? a.pg_action : "promote",
		                        "restore_command", a.pg_restore_command ? a.pg_restore_command : pg_command,
		                        "removed_postmaster_pid", pg_res.removed_pid,
		                        "removed_standby_signal", pg_res.removed_standby)) != 0) {
			json_decref(o);
			o = NULL;
		}
		if (cli_json_print(o, 0) < 0)
			exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
	} else if (a.dry_run) {
		if (!cli->quiet)
			printf("%llu entries would be removed; nothing was changed\n", (unsigned long long)res.deleted);
	} else if (!cli->quiet) {
		printf("restored snapshot %s to ", cli_fmt_short_id(snap.id, id));
		cli_fmt_name(stdout, a.target);
		printf(": %llu files, %llu dirs, %s", (unsigned long long)res.files,
		       (unsigned long long)res.dirs, cli_fmt_bytes(res.bytes, bytes));
		printf(" (%llu requests, %s fetched", (unsigned long long)res.requests,
		       cli_fmt_bytes(res.bytes_fetched, bytes));
		if (a.delta)
			printf("; %llu files kept, %llu updated, %s reused", (unsigned long long)res.files_skipped,
			       (unsigned long long)res.files_updated, cli_fmt_bytes(res.bytes_reused, bytes));
		if (a.delete_strays)
			printf("; %llu removed", (unsigned long long)res.deleted);
		printf(")\n");
		if (a.pg_recovery) {
			printf("prepared for recovery: recovery.signal, archive_mode = off, restore_command = %s, "
			       "target %s%s%s, then %s%s%s\n", a.pg_restore_command ? a.pg_restore_command : pg_command,
			       wal_recovery_kind_name(a.pg_target.kind), a.pg_target.value[0] ? " " : "", a.pg_target.value,
			       a.pg_action ? a.pg_action : "promote",
			       pg_res.removed_pid ? "; removed postmaster.pid" : "",
			       pg_res.removed_standby ? "; removed standby.signal" : "");
		}
	}
	/* An engine that skips entries it could not create reports them in
	 * res.errors and still returns 0: the restore is then incomplete. */
	if (exit_code == CLI_EXIT_OK && res.errors)
		exit_code = cli_failf(cli, -EIO, "%llu entries could not be restored",
		                      (unsigned long long)res.errors);
out:
	if (a.metrics && exit_code != CLI_EXIT_USAGE && !a.dry_run) {   /* usage error: nothing ran */
		StrataErr merr = { 0, "" };
		if (!duration_s)
			duration_s = (double)(cli_now_ns() - t0) / 1e9;
		if (cmd_restore_metrics(cli, a.metrics, a.job, exit_code, duration_s, repo, have_snap ? &snap : NULL,
		                        res.bytes + res.bytes_reused, res.bytes_fetched, res.bytes_reused, &merr) != 0) {
			cli_warn("%s", merr.msg);
			if (exit_code == CLI_EXIT_OK)
				exit_code = CLI_EXIT_FAILURE;
		}
	}
	json_decref(report.deleted);
	free(pg_command);
	if (have_snap)
		snapshot_clear(&snap);
	repo_close(repo);
	cli_list_free(&a.includes);
	cli_list_free(&a.excludes);
	cli_select_free(&a.sel);
	return exit_code;
}

const CliCommand cmd_restore = {
	.name = "restore",
	.summary = "Restore a snapshot, or some paths of it, into a directory.",
	.usage = "strata restore SNAPSHOT --target DIR [--include PATH]... [--overwrite]\n"
	         "                      [--delta[=fast]] [--delete [--dry-run]] [--allow-foreign-dirs]\n"
	         "                      [--strip-components N] [--exclude PATTERN]... [--numeric-owner]\n"
	         "                      [--metrics-file FILE [--job NAME]]\n"
	         "                      [--pg-recovery[=TARGET] [--pg-recovery-action A] [--pg-restore-command CMD]]\n"
	         "       strata restore SNAPSHOT (--tar | --tar-zst) FILE|- [--tar-mode MODE]\n"
	         "       strata restore (--at TIME | --at-height N | --label KEY=VALUE | --verified)\n"
	         "                      [--host H] [--tag T]... [--path P]... (--target DIR | --tar FILE|-)",
	.help =
		"Recreates files, directories, symlinks, hard links and FIFOs with their\n"
		"modes, owners (when run as root) and modification times under DIR\n"
		"(created if missing). Every chunk is authenticated (its AEAD tag binds it\n"
		"to its ID) before it is written. Nothing is ever written outside DIR.\n"
		"SNAPSHOT is \"latest\" or an ID prefix of at least 4 hex digits.\n"
		"\n"
		"Options:\n"
		"      --target DIR      where to restore (required)\n"
		"      --include PATH    restore only PATH, a path as `strata ls` shows it\n"
		"                        (repeatable; a directory brings everything below)\n"
		"      --overwrite       replace files that already exist in DIR; without\n"
		"                        it, an existing file stops the restore\n"
		"      --delta           roll DIR back in place, fetching only what it lacks\n"
		"                        (implies --overwrite): a file already there is\n"
		"                        compared chunk by chunk (keyed hashes against the\n"
		"                        snapshot's chunk IDs, then cut with the\n"
		"                        repository's chunker for moved content); one that\n"
		"                        matches is kept (its owner, mode and times set),\n"
		"                        another is rebuilt beside it from its own matching\n"
		"                        bytes plus the fetched chunks and renamed over it:\n"
		"                        each file is either old or new if the restore stops\n"
		"      --delta=fast      the same, but a file whose size and mtime match is\n"
		"                        kept unread (a change that kept both is missed)\n"
		"      --delete          remove what the snapshot does not hold, in the\n"
		"                        directories it restores whole: only at or below the\n"
		"                        snapshot's own paths and the --include paths, never\n"
		"                        through a symlink, never on another file system\n"
		"      --dry-run         with --delete: list what it would remove; change\n"
		"                        nothing\n"
		"      --metrics-file FILE  recovery metrics, Prometheus textfile (atomic):\n"
		"                        strata_restore_duration_seconds, strata_restore_bytes,\n"
		"                        strata_restore_bytes_fetched, strata_restore_bytes_reused,\n"
		"                        strata_restore_snapshot_timestamp_seconds,\n"
		"                        strata_restore_data_loss_seconds (now minus the\n"
		"                        snapshot's time) and the job samples of backup\n"
		"      --job NAME        the job label of those metrics (default: restore)\n"
		"      --strip-components N  leave out the first N directories of every\n"
		"                        path: a snapshot of /var/lib/node/data restored\n"
		"                        with 3 puts data at DIR/data (files at those\n"
		"                        levels are not restored; --delete then cleans\n"
		"                        only below them, never DIR itself)\n"
		"      --exclude PATTERN do not restore entries whose path in the snapshot\n"
		"                        (as `strata ls` shows it), or a tail of it made of\n"
		"                        whole names, matches PATTERN (fnmatch(3): *.log,\n"
		"                        state/tmp; /PATTERN: the whole path only;\n"
		"                        repeatable); --delete leaves them alone\n"
		"      --numeric-owner   as root, give entries the user and group IDs stored;\n"
		"                        by default the names the backup host had for them\n"
		"                        are looked up here (as tar does), so a rebuilt host\n"
		"                        whose users have other IDs gets the right owners;\n"
		"                        a name this host lacks keeps its stored ID\n"
		"      --allow-foreign-dirs\n"
		"                        as root, also restore into existing directories\n"
		"                        (DIR included) owned by another user or writable\n"
		"                        by group or others without the sticky bit; without\n"
		"                        it such a directory stops the restore, since its\n"
		"                        owner could swap entries while root works there.\n"
		"                        Even with it, nothing outside DIR changes owner,\n"
		"                        mode or time and no file outside is linked in, but\n"
		"                        what lies below such a directory can be moved by\n"
		"                        its owner to places that user may write to\n"
		"      --threads N       worker threads (default: one per core)\n"
		"      --verify          also recompute each chunk's keyed hash and compare\n"
		"                        it with its ID, as check --read-data does: catches\n"
		"                        a chunk sealed from wrong bytes (a memory error on\n"
		"                        the machine that made the backup); ~2x the CPU\n"
		"      --tar FILE        write the snapshot as a tar stream to FILE instead\n"
		"                        (- for standard output); FILE appears only when\n"
		"                        complete, with mode 0600 (it holds the snapshot's\n"
		"                        contents, whatever their own modes were)\n"
		"      --tar-zst FILE    the same, compressed with zstd\n"
		"      --tar-mode MODE   FILE's mode instead of 0600, in octal (0640: the\n"
		"                        group may read it); the umask does not apply\n"
		"      --cold-wait       when packs sit in an archive storage class (S3\n"
		"                        GLACIER, DEEP_ARCHIVE), request their restore and\n"
		"                        wait here until they are readable; without it the\n"
		"                        restore requests them, says how many are pending\n"
		"                        and stops (run it again with --overwrite later)\n"
		"      --cold-poll SECONDS  how often --cold-wait looks (default 60)\n"
		"      --pg-recovery[=TARGET]\n"
		"                        DIR is a PostgreSQL data directory (a base backup):\n"
		"                        after the restore, set it up to recover from this\n"
		"                        repository's WAL archive and NEVER archive into it.\n"
		"                        Appends to DIR/postgresql.auto.conf archive_mode =\n"
		"                        'off', archive_command = '', primary_conninfo = '',\n"
		"                        restore_command (strata wal-fetch on this repository)\n"
		"                        and the target; creates recovery.signal; removes\n"
		"                        postmaster.pid and standby.signal. TARGET: end (the\n"
		"                        default: the end of the archive), immediate,\n"
		"                        time=TIMESTAMP, xid=N, name=RESTORE_POINT, lsn=X/Y\n"
		"      --pg-recovery-action promote|pause|shutdown\n"
		"                        recovery_target_action (default promote)\n"
		"      --pg-restore-command CMD\n"
		"                        the restore_command instead of `strata --repo LOC\n"
		"                        --password-file FILE wal-fetch %f %p` (needed when the\n"
		"                        password is not in a file, or for a wrapper script)\n"
		"\n"
		CLI_SELECT_HELP
		"\n"
		"Examples:\n"
		"  strata restore latest --target /srv/restore\n"
		"  strata restore --verified --host node1 --tag chain --target /srv/restore\n"
		"  strata restore 3fa1c2d4 --target /tmp/r --include etc/nginx\n"
		"  strata restore latest --tag chain --target /srv/new --strip-components 3 --exclude '*.log'\n"
		"  strata restore latest --target /var/lib/node --overwrite\n"
		"  strata restore --at-height 812345 --tag chain --target / --delta --delete --dry-run\n"
		"  strata restore --at-height 812345 --tag chain --target / --delta --delete --json\n"
		"  strata restore --at '2024-05-01 12:00' --host node1 --target /srv/node\n"
		"  strata restore --at-height 812345 --tag hourly --target /srv/node\n"
		"  strata restore --at '2024-05-01 12:00' --label kind=pg-base --target /srv/pg\n"
		"  strata restore --at '2024-05-01 12:00+00' --label kind=pg-base --target /srv/pg \\\n"
		"      --pg-recovery='time=2024-05-01 12:00:00+00'\n"
		"  strata restore latest --tar - | tar -x -C /srv/restore\n"
		"  strata restore 3fa1c2d4 --tar-zst /backups/node.tar.zst\n"
		"  strata restore latest --target /srv/node --cold-wait --cold-poll 600\n",
	.run = run,
};
