/* cmd_backup.c — `strata backup`: source paths or stdin into a new snapshot. */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/backup/backup.h"
#include "store/tar/tar.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_freeze.h"
#include "tools/cli/cli_fssnap.h"
#include "store/backup/changes.h"
#include "tools/cli/cli_hook.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_lock.h"
#include "tools/cli/cli_metrics.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_producer.h"
#include "tools/cli/cli_progress.h"
#include "tools/cli/cli_repo.h"
#include "tools/cli/cli_tier.h"
#include "tools/cli/cli_time.h"

enum {
	OPT_TAG = CLI_OPT_CMD,
	OPT_HOST,
	OPT_LABEL,
	OPT_EXCLUDE,
	OPT_EXCLUDE_FILE,
	OPT_STDIN,
	OPT_STDIN_NAME,
	OPT_PARENT,
	OPT_FORCE_REREAD,
	OPT_VERIFY_PREFIX,
	OPT_THREADS,
	OPT_COMPRESSION,
	OPT_STDIN_TAR,
	OPT_TIME,
	OPT_STORAGE_CLASS,
	OPT_METRICS,
	OPT_JOB,
	OPT_JSON_PROGRESS,
	OPT_PRE_HOOK,
	OPT_POST_HOOK,
	OPT_FREEZE_PID,
	OPT_FREEZE_MAX,
	OPT_STDIN_FROM_COMMAND,
	OPT_FS_SNAPSHOT,
	OPT_CHANGES,
	OPT_AS
};

static const struct option longopts[] = {
	{ "tag",          required_argument, NULL, OPT_TAG },
	{ "host",         required_argument, NULL, OPT_HOST },
	{ "label",        required_argument, NULL, OPT_LABEL },
	{ "exclude",      required_argument, NULL, OPT_EXCLUDE },
	{ "exclude-file", required_argument, NULL, OPT_EXCLUDE_FILE },
	{ "stdin",        no_argument,       NULL, OPT_STDIN },
	{ "stdin-name",   required_argument, NULL, OPT_STDIN_NAME },
	{ "parent",       required_argument, NULL, OPT_PARENT },
	{ "force-reread", no_argument,       NULL, OPT_FORCE_REREAD },
	{ "verify-prefix", required_argument, NULL, OPT_VERIFY_PREFIX },
	{ "threads",      required_argument, NULL, OPT_THREADS },
	{ "compression",  required_argument, NULL, OPT_COMPRESSION },
	{ "stdin-tar",    no_argument,       NULL, OPT_STDIN_TAR },
	{ "storage-class", required_argument, NULL, OPT_STORAGE_CLASS },
	{ "metrics-file", required_argument, NULL, OPT_METRICS },
	{ "job",          required_argument, NULL, OPT_JOB },
	{ "json-progress", no_argument,      NULL, OPT_JSON_PROGRESS },
	{ "pre-hook",     required_argument, NULL, OPT_PRE_HOOK },
	{ "post-hook",    required_argument, NULL, OPT_POST_HOOK },
	{ "freeze-pid",   required_argument, NULL, OPT_FREEZE_PID },
	{ "freeze-max",   required_argument, NULL, OPT_FREEZE_MAX },
	{ "stdin-from-command", no_argument, NULL, OPT_STDIN_FROM_COMMAND },
	{ "fs-snapshot",  required_argument, NULL, OPT_FS_SNAPSHOT },
	{ "changes",      required_argument, NULL, OPT_CHANGES },
	{ "as",           required_argument, NULL, OPT_AS },
	/* Hidden: the snapshot's time, for tests (retention rules over a
	 * synthetic history) and imports of old archives. */
	{ "time",         required_argument, NULL, OPT_TIME },
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	CliList tags, labels, excludes;
	CliList exclude_files;     /* lines read from --exclude-file (owned) */
	const char *host, *parent, *stdin_name;
	int use_stdin, force_reread, verify_prefix_full;
	int use_stdin_tar;         /* --stdin-tar: import an archive read from stdin */
	int from_command;          /* --stdin-from-command: the stream is CMD's stdout */
	long threads, compression;
	int64_t time_ns;           /* --time; 0 = now */
	const char *metrics, *job; /* --metrics-file, --job */
	const char *pre_hook, *post_hook;
	long freeze_pids[64];      /* --freeze-pid (cli_freeze.h takes at most 64) */
	size_t nfreeze;
	int64_t freeze_max_ns;     /* --freeze-max; 0 = not given */
	FsSnapMode fs_snapshot;    /* --fs-snapshot */
	const char *fs_snapshot_arg;
	const char *as;            /* --as PATH */
	ChangesMode changes;       /* --changes */
	const char *changes_arg;
} Args;

/* What the engine's callbacks need. */
typedef struct Report {
	const Cli *cli;
	CliProgress progress;
} Report;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;
	char *s = (char *)(uintptr_t)arg;  /* argv strings are ours to keep */
	int rc = 0;

	switch (opt) {
	case OPT_TAG:
		if (!*arg || strchr(arg, ',') || !cli_fmt_is_utf8(arg))
			return cli_usage(cli, "a tag must be non-empty UTF-8 without a comma: '%s'", arg);
		rc = cli_list_push(&a->tags, s);
		break;
	case OPT_LABEL: {
		const char *eq = strchr(arg, '=');
		if (!eq || eq == arg || !cli_fmt_is_utf8(arg))
			return cli_usage(cli, "a label is KEY=VALUE in UTF-8: '%s'", arg);
		rc = cli_list_push(&a->labels, s);
		break;
	}
	case OPT_EXCLUDE:
		rc = cli_list_push(&a->excludes, s);
		break;
	case OPT_EXCLUDE_FILE:
		if ((rc = cli_opts_read_lines(arg, &a->exclude_files)) < 0)
			return cli_failf(cli, STRATA_EUSAGE, "exclude file %s: %s", arg, strerror(-rc));
		break;
	case OPT_HOST:
		/* Snapshot metadata is JSON text (FORMAT.md "Snapshot file"). */
		if (!*arg || !cli_fmt_is_utf8(arg))
			return cli_usage(cli, "a host name must be non-empty UTF-8: '%s'", arg);
		a->host = arg;
		break;
	case OPT_PARENT:       a->parent = arg; break;
	case OPT_STDIN:        a->use_stdin = 1; break;
	case OPT_STDIN_TAR:    a->use_stdin_tar = 1; break;
	case OPT_STDIN_FROM_COMMAND: a->from_command = 1; break;
	case OPT_STDIN_NAME:   a->stdin_name = arg; break;
	case OPT_FORCE_REREAD: a->force_reread = 1; break;
	case OPT_VERIFY_PREFIX:
		if (strcmp(arg, "full") == 0)
			a->verify_prefix_full = 1;
		else if (strcmp(arg, "sample") == 0)
			a->verify_prefix_full = 0;
		else
			return cli_usage(cli, "--verify-prefix wants sample or full: %s", arg);
		break;
	case OPT_THREADS:
		if (cli_parse_int(arg, 0, 1024, &a->threads) < 0)
			return cli_usage(cli, "--threads wants a number from 0 (one per core) to 1024: %s", arg);
		break;
	case OPT_COMPRESSION:
		if (cli_parse_int(arg, 1, 22, &a->compression) < 0)
			return cli_usage(cli, "--compression wants a zstd level from 1 to 22: %s", arg);
		break;
	case OPT_TIME:
		if (cli_time_parse(arg, &a->time_ns) < 0 || a->time_ns == 0)
			return cli_usage(cli, "--time '%s': expected %s", arg, CLI_TIME_FORMS);
		break;
	case OPT_METRICS:
		if (!*arg)
			return cli_usage(cli, "--metrics-file wants a file name");
		a->metrics = arg;
		break;
	case OPT_JOB:
		if (!cmd_backup_job_name_ok(arg))
			return cli_usage(cli, "--job wants a name of letters, digits and _ - . : @ '%s'", arg);
		a->job = arg;
		break;
	case OPT_PRE_HOOK:
	case OPT_POST_HOOK:
		if (!*arg)
			return cli_usage(cli, "--%s wants a shell command", opt == OPT_PRE_HOOK ? "pre-hook" : "post-hook");
		*(opt == OPT_PRE_HOOK ? &a->pre_hook : &a->post_hook) = arg;
		break;
	case OPT_FREEZE_PID: {
		long pid;
		if (cli_parse_int(arg, 1, 4194304, &pid) < 0)   /* pid_max's ceiling (2^22) */
			return cli_usage(cli, "--freeze-pid wants a process ID: '%s'", arg);
		if (a->nfreeze == sizeof a->freeze_pids / sizeof a->freeze_pids[0])
			return cli_usage(cli, "--freeze-pid given more than 64 times");
		a->freeze_pids[a->nfreeze++] = pid;
		break;
	}
	case OPT_FS_SNAPSHOT:
		if (fssnap_parse_mode(arg, &a->fs_snapshot) < 0)
			return cli_usage(cli, "--fs-snapshot wants btrfs, auto or none: '%s'", arg);
		a->fs_snapshot_arg = arg;
		break;
	case OPT_CHANGES:
		if (changes_parse_mode(arg, &a->changes) < 0)
			return cli_usage(cli, "--changes wants auto, btrfs, journal or scan: '%s'", arg);
		a->changes_arg = arg;
		break;
	case OPT_AS:
		if (!*arg || !cli_fmt_is_utf8(arg))
			return cli_usage(cli, "--as wants the original path of the copy, in UTF-8: '%s'", arg);
		a->as = arg;
		break;
	case OPT_FREEZE_MAX:
		if (cli_freeze_parse_duration(arg, &a->freeze_max_ns) < 0)
			return cli_usage(cli, "--freeze-max wants a duration from 1ms to 10m, e.g. 500ms, 2s, 1m: '%s'", arg);
		break;
	case OPT_JSON_PROGRESS:
		/* JSON lines: progress objects, then the summary (or the error). */
		cli->json = cli->json_lines = 1;
		break;
	case OPT_STORAGE_CLASS: {
		StrataErr err = { 0, "" };
		if (cli_tier_set(arg, &err))
			return cli_usage(cli, "%s", err.msg);
		break;
	}
	default:
		return cli_usage(cli, "unexpected option");
	}
	if (rc < 0)
		return cli_failf(cli, rc, "out of memory");
	return CLI_CONTINUE;
}

static void on_progress(const BackupProgress *p, void *ctx)
{
	Report *r = ctx;
	cli_progress_update(&r->progress, p->files_done, p->bytes_done, p->current);
}

static void on_file(const char *path, const char *status, int error,
                    const char *message, void *ctx)
{
	Report *r = ctx;

	if (!error && (!r->cli->verbose || r->cli->json || r->cli->quiet))
		return;
	cli_progress_pause(&r->progress);
	if (error) {
		fputs("strata: warning: ", stderr);
		cli_fmt_name(stderr, path);
		fprintf(stderr, ": %s\n", message && *message ? message : strata_strerror(error));
	} else {
		printf("%-9s ", status ? status : "");
		cli_fmt_name(stdout, path);
		putchar('\n');
		fflush(stdout);
	}
	cli_progress_resume(&r->progress);
}

static void print_summary(const BackupResult *res, const CliFreeze *fz, const FsSnap *fss, size_t npaths)
{
	const SnapshotSummary *s = &res->summary;
	char id[CLI_FMT_SHORT_ID_LEN], b1[CLI_FMT_BYTES_LEN], b2[CLI_FMT_BYTES_LEN],
	     b3[CLI_FMT_BYTES_LEN], b4[CLI_FMT_BYTES_LEN];

	printf("snapshot %s saved%s\n", cli_fmt_short_id(res->snapshot_id, id), res->partial ? " as partial" : "");
	printf("  files:    %llu new, %llu changed, %llu unchanged (%llu files, %llu dirs, %s)\n",
	       (unsigned long long)s->files_new, (unsigned long long)s->files_changed,
	       (unsigned long long)s->files_unchanged, (unsigned long long)s->files,
	       (unsigned long long)s->dirs, cli_fmt_bytes(s->bytes_total, b1));
	printf("  read:     %s\n", cli_fmt_bytes(s->bytes_read, b2));
	printf("  added:    %s in %llu new chunks, stored as %s\n",
	       cli_fmt_bytes(s->bytes_added, b3), (unsigned long long)s->chunks_new,
	       cli_fmt_bytes(s->bytes_stored, b4));
	if (s->errors)
		printf("  errors:   %llu files could not be read\n", (unsigned long long)s->errors);
	if (res->partial)
		printf("  partial:  %llu paths vanished, could not be read or changed while read (warnings above;\n"
		       "            `strata cat snapshot %s` lists them); latest and the next parent skip it\n",
		       (unsigned long long)res->partial_count, id);
	if (fz)
		printf("  paused:   %.3f ms (writers stopped while the source was listed)\n",
		       (double)cli_freeze_paused_ns(fz) / 1e6);
	cli_fssnap_print(fss, npaths);
	printf("  duration: %.2f s\n", s->duration_s);
}

/* STRATA_TEST_BACKUP_HOOK — for tests only, never for production: a
 * shell command run as `sh -c CMD strata-test-hook PHASE PATH` (stdout to
 * stderr) and waited for at BackupOptions.test_hook's two points of each
 * regular file, so that a test makes a file vanish, change or be replaced
 * between its stat, open, read and second stat deterministically
 * (tests/e2e_partial.sh). */
static void run_test_hook(const char *phase, const char *path, void *ctx)
{
	extern char **environ;
	char sh[] = "/bin/sh", dash_c[] = "-c", name[] = "strata-test-hook";
	char *argv[] = { sh, dash_c, ctx, name, (char *)(uintptr_t)phase, (char *)(uintptr_t)path, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return;
	if (posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO) == 0 &&
	    posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ) == 0)
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	posix_spawn_file_actions_destroy(&fa);
}

/* ---- job metrics (--metrics-file), shared through cli.h ---- */

int cmd_backup_job_name_ok(const char *name)
{
	if (!*name || strlen(name) > 128)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("_-.:@", *p)))
			return 0;
	return 1;
}

/* previous_success — the last success time a previous run of this job and
 * command wrote to path, or 0. Job names need no escaping
 * (cmd_backup_job_name_ok), so the sample's text is known exactly. */
static double previous_success(const char *path, const char *job, const char *command)
{
	char want[512], line[1024], *end;
	double v, found = 0;
	size_t wl;
	FILE *f;

	wl = (size_t)snprintf(want, sizeof want, "strata_last_success_timestamp_seconds{job=\"%s\",command=\"%s\"} ",
	                      job, command);
	if (wl >= sizeof want || !(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, want, wl)) {
			v = strtod(line + wl, &end);
			if (end != line + wl && isfinite(v) && v > 0)
				found = v;
		}
	fclose(f);
	return found;
}

int cmd_backup_job_metrics_add(CliMetrics *m, const Cli *cli, const char *path, const char *job,
                               int exit_code, double duration_s, const SnapshotSummary *s)
{
	const char *command = cli->cmd ? cli->cmd->name : "strata";
	const char *lb[] = { "job", job ? job : command, "command", command, NULL };
	double now = (double)time(NULL), last_ok;
	/* Only exit 0 succeeds: exit 3 saved a partial snapshot (files that
	 * vanished, were unreadable or changed while read), which latest and
	 * a restore skip, so the job did not produce a usable snapshot. */
	int ok = exit_code == CLI_EXIT_OK;
	int rc = 0;

	/* A failed run keeps the last success time: the file is replaced
	 * whole, and a sample that vanished would silence a staleness alert. */
	last_ok = ok ? now : previous_success(path, lb[1], command);
#define ADD(name, help, v) \
	do { if (rc == 0) rc = cli_metrics_add(m, name, help, "gauge", lb, (double)(v)); } while (0)
	ADD("strata_last_success_timestamp_seconds",
	    "when the job last succeeded, exit 0 (unix seconds; 0: never)", last_ok);
	ADD("strata_last_run_timestamp_seconds", "when the job last finished, successful or not (unix seconds)", now);
	ADD("strata_success", "1 if the last run succeeded (exit 0; a partial snapshot, exit 3, is a failure)", ok);
	ADD("strata_exit_code", "exit status of the last run (see strata --help)", exit_code);
	ADD("strata_duration_seconds", "how long the last run took", duration_s);
	if (s) {
		ADD("strata_files", "regular files in the snapshot", s->files);
		ADD("strata_bytes_total", "logical bytes of the files in the snapshot", s->bytes_total);
		ADD("strata_bytes_read", "bytes read from the source", s->bytes_read);
		ADD("strata_bytes_added", "raw bytes of chunks new to the repository", s->bytes_added);
		ADD("strata_bytes_stored", "bytes written to packs after compression and encryption", s->bytes_stored);
		ADD("strata_errors", "source files that could not be read", s->errors);
		/* +Inf when nothing new was stored: a gauge may hold it. */
		ADD("strata_dedup_ratio", "logical bytes of the snapshot per raw byte (data and metadata) it added to the repository",
		    s->bytes_total == 0 ? 1.0 : (double)s->bytes_total / (double)s->bytes_added);
	}
#undef ADD
	return rc;
}

/* The job's metrics written to path; with fz, also how long --freeze-pid
 * kept the writers stopped. */
/* The job metrics (s may be NULL), plus backup's own: strata_partial_paths
 * when a snapshot was saved (res), strata_freeze_paused_seconds with
 * --freeze-pid (fz). */
static int job_metrics_write(const Cli *cli, const char *path, const char *job, int exit_code,
                             double duration_s, const SnapshotSummary *s, const BackupResult *res,
                             const CliFreeze *fz, Repo *repo, StrataErr *err)
{
	const char *command = cli->cmd ? cli->cmd->name : "strata";
	const char *lb[] = { "job", job ? job : command, "command", command, NULL };
	CliMetrics *m = cli_metrics_new();
	int rc;

	if (!m)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = cmd_backup_job_metrics_add(m, cli, path, job, exit_code, duration_s, s);
	if (rc == 0 && res)
		rc = cli_metrics_add(m, "strata_partial_paths", "source paths that vanished, could not be read or changed "
		                     "while read: the snapshot is partial when > 0", "gauge", lb,
		                     (double)res->partial_count);
	if (rc == 0)
		rc = cli_metrics_add_requests(m, lb, repo);
	if (rc == 0 && fz)
		rc = cli_metrics_add(m, "strata_freeze_paused_seconds",
		                     "how long --freeze-pid kept the writers stopped in the last run", "gauge", lb,
		                     (double)cli_freeze_paused_ns(fz) / 1e9);
	if (rc)
		strata_err_set(err, rc, "cannot build metrics: %s", strerror(-rc));
	else
		rc = cli_metrics_write(m, path, err);
	cli_metrics_free(m);
	return rc;
}

int cmd_backup_job_metrics(const Cli *cli, const char *path, const char *job, int exit_code,
                           double duration_s, const SnapshotSummary *s, Repo *repo, StrataErr *err)
{
	return job_metrics_write(cli, path, job, exit_code, duration_s, s, NULL, NULL, repo, err);
}

static int freeze_stop(void *ctx, StrataErr *err)
{
	return cli_freeze_stop(ctx, err);
}

static int freeze_resume(void *ctx)
{
	return cli_freeze_resume(ctx);
}

/* check_args — the checks of the parsed options that take more than one
 * option (or the operands) into account. With --stdin-from-command,
 * *out_cmd is the producer's command line and *argc ends at "--"; else
 * PATHs after "--" join those before it. CLI_CONTINUE, or the usage
 * error's exit code. */
static int check_args(Cli *cli, Args *a, int *argc, char **argv, int dashes, int *first, char ***out_cmd)
{
	if (a->from_command) {
		if (*first < dashes)
			return cli_usage(cli, "--stdin-from-command takes no PATH: the command goes after --");
		if (dashes + 1 >= *argc)
			return cli_usage(cli, "--stdin-from-command wants the command after --, e.g. -- pg_dump app");
		*out_cmd = argv + dashes + 1;
		*argc = *first = dashes;
		if (!a->use_stdin_tar)
			a->use_stdin = 1;
	} else if (dashes < *argc) {
		/* PATHs after "--" join those before it (getopt moved them to
		 * the end of argv[0..dashes)). */
		memmove(argv + dashes, argv + dashes + 1, (size_t)(*argc - dashes - 1) * sizeof *argv);
		(*argc)--;
	}
	if (a->use_stdin_tar) {
		if (a->use_stdin)
			return cli_usage(cli, "--stdin and --stdin-tar exclude each other");
		if (*first < *argc)
			return cli_usage(cli, "--stdin-tar takes no PATH arguments");
		/* From here on the same checks as --stdin. */
		a->use_stdin = 1;
	}
	if (a->use_stdin && *first < *argc)
		return cli_usage(cli, "--stdin takes no PATH arguments");
	if (!a->use_stdin && *first >= *argc)
		return cli_usage(cli, "no PATH to back up (or use --stdin)");
	if (a->stdin_name && !a->use_stdin)
		return cli_usage(cli, "--stdin-name needs --stdin");
	if (a->use_stdin && a->stdin_name && (!*a->stdin_name || strchr(a->stdin_name, '/') ||
	    !strcmp(a->stdin_name, ".") || !strcmp(a->stdin_name, "..")))
		return cli_usage(cli, "--stdin-name must be a plain file name: '%s'", a->stdin_name);
	if (a->nfreeze && a->use_stdin)
		return cli_usage(cli, "--freeze-pid needs PATHs: a stream is read as its producer writes it");
	if ((a->fs_snapshot != FSSNAP_NONE || a->as) && a->use_stdin)
		return cli_usage(cli, "--%s needs PATHs: a stream has no filesystem to snapshot",
		                 a->as ? "as" : "fs-snapshot");
	if ((a->fs_snapshot != FSSNAP_NONE || a->as) && a->nfreeze)
		return cli_usage(cli, "--freeze-pid and --%s exclude each other: the snapshot is the point in "
		                 "time, with the writer running", a->as ? "as" : "fs-snapshot");
	if (a->as && a->fs_snapshot != FSSNAP_NONE)
		return cli_usage(cli, "--as and --fs-snapshot exclude each other: --as backs up a copy "
		                 "already taken");
	if (a->as && *argc - *first != 1)
		return cli_usage(cli, "--as takes one PATH (the mounted copy), got %d", *argc - *first);
	if (a->freeze_max_ns && !a->nfreeze)
		return cli_usage(cli, "--freeze-max needs --freeze-pid");
	return CLI_CONTINUE;
}

/* fill_options — the engine's options from the parsed ones (the PATHs
 * are paths[0..npaths)). */
static void fill_options(BackupOptions *opts, const Cli *cli, const Args *a, char **paths, size_t npaths,
                         const CliList *excludes, Report *report, CliFreeze *fz, BackupFreeze *bfreeze)
{
	opts->paths = (const char *const *)paths;
	opts->npaths = a->use_stdin ? 0 : npaths;
	opts->host = a->host;
	opts->tags = (const char *const *)a->tags.v;
	opts->ntags = a->tags.n;
	opts->labels = (const char *const *)a->labels.v;
	opts->nlabels = a->labels.n;
	opts->excludes = (const char *const *)excludes->v;
	opts->nexcludes = excludes->n;
	opts->compression_level = (int)a->compression;
	opts->stdin_fd = a->use_stdin ? STDIN_FILENO : -1;
	opts->include_partial = cli->include_partial;
	opts->stdin_name = a->use_stdin ? (a->stdin_name ? a->stdin_name : "stdin") : NULL;
	opts->parent = a->parent;
	opts->force_reread = a->force_reread;
	opts->verify_prefix_full = a->verify_prefix_full;
	opts->threads = (int)a->threads;
	opts->time_ns = a->time_ns;
	report->cli = cli;
	opts->progress = on_progress;
	opts->progress_ctx = report;
	opts->on_file = on_file;
	opts->file_ctx = report;
	opts->report_all_files = cli->verbose && !cli->json && !cli->quiet;
	opts->freeze = fz ? bfreeze : NULL;
	if ((opts->test_hook_ctx = getenv("STRATA_TEST_BACKUP_HOOK")) && *(char *)opts->test_hook_ctx)
		opts->test_hook = run_test_hook;
}

/* print_json — the --json report of a backup that saved a snapshot
 * (--json-progress: as the stream's last line); -1 when it cannot be
 * written. */
/* "changes": how this run found what changed (tools/cli/doc/JSON.md). */
static json_t *changes_json(const Args *a, const ChangesPlan *cp, const BackupResult *res)
{
	const char *why = changes_fallback(cp, res);

	return json_pack("{s:s,s:s,s:o,s:I,s:I}", "requested", a->changes_arg ? a->changes_arg : "auto",
	                 "mode", changes_mode_used(cp, res), "fallback", *why ? json_string(why) : json_null(),
	                 "paths_marked", (json_int_t)changes_marked(cp), "dirs_visited", (json_int_t)res->dirs_visited);
}

static int print_json(const Cli *cli, const Args *a, const BackupResult *res, CliFreeze *fz, const FsSnap *fss,
                      size_t npaths, Repo *repo, const ChangesPlan *cp)
{
	char hex[STRATA_ID_HEX_LEN + 1];

	strata_id_hex(res->snapshot_id, hex);
	json_t *j = json_pack("{s:s,s:s%,s:o}", "snapshot_id", hex, "short_id", hex, (size_t)8,
	                      "summary", cli_json_summary(&res->summary));
	if (j && fz && json_object_set_new(j, "paused_ms", json_real((double)cli_freeze_paused_ns(fz) / 1e6)) < 0)
		json_decref(j), j = NULL;
	if (j && cli_json_set_requests(j, "requests", repo) < 0)
		json_decref(j), j = NULL;
	if (j && a->fs_snapshot != FSSNAP_NONE &&
	    json_object_set_new(j, "fs_snapshot", cli_fssnap_json(a->fs_snapshot_arg, fss, npaths)) < 0)
		json_decref(j), j = NULL;
	if (j && !a->use_stdin && json_object_set_new(j, "changes", changes_json(a, cp, res)) < 0)
		json_decref(j), j = NULL;
	if (j && cli_json_set_partial(j, res->partial, res->partial_count, res->partial_paths,
	                              res->npartial_paths) < 0) {
		json_decref(j);
		j = NULL;
	}
	/* --json-progress: the last line of the stream, typed like the others. */
	if (j && cli->json_lines) {
		json_t *line = json_pack("{s:s}", "type", "summary");
		if (!line || json_object_update(line, j) < 0)
			json_decref(line), line = NULL;
		json_decref(j);
		j = line;
	}
	return cli_json_print(j, cli->json_lines);
}

static int run(Cli *cli, int argc, char **argv)
{
	Args a;
	Report report;
	BackupOptions opts;
	BackupResult res;
	StrataErr err = { 0, "" };
	CliList excludes = { NULL, 0, 0, 0 };
	CliProducer prod = { 0, -1, NULL, 0 };
	Repo *repo = NULL;
	CliFreeze *fz = NULL;
	BackupFreeze bfreeze;
	FsSnap *fss = NULL;
	ChangesPlan *cp = NULL;
	BackupView as_view;
	char *as_paths[1];
	char hex[STRATA_ID_HEX_LEN + 1];
	char **cmd = NULL;
	size_t i;
	int rc, first, exit_code = CLI_EXIT_OK, progress_started = 0, have_res = 0, hooks = 0, dashes = argc;
	int fss_done = 0;
	int64_t t0 = cli_now_ns();

	memset(&a, 0, sizeof a);
	memset(&opts, 0, sizeof opts);
	memset(&res, 0, sizeof res);
	a.compression = 0; /* codec default */
	/* Options end at the first "--": after it comes the producer's
	 * command line (--stdin-from-command), or more PATHs. */
	for (i = 1; i < (size_t)argc; i++)
		if (!strcmp(argv[i], "--")) {
			dashes = (int)i;
			break;
		}
	if ((rc = cli_opts_parse(cli, dashes, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE) {
		exit_code = rc;
		goto out;
	}
	if ((rc = check_args(cli, &a, &argc, argv, dashes, &first, &cmd)) != CLI_CONTINUE) {
		exit_code = rc;
		goto out;
	}
	/* From here on every outcome runs the post-hook (cli_hook.h). */
	if (a.pre_hook || a.post_hook || a.nfreeze || a.fs_snapshot != FSSNAP_NONE) {
		if ((rc = cli_hooks_init(a.pre_hook, a.post_hook, a.job ? a.job : "backup", &err)) != 0) {
			exit_code = cli_fail(cli, rc, &err);
			goto out;
		}
		hooks = 1;
	}
	if (a.nfreeze) {
		if ((rc = cli_freeze_open(a.freeze_pids, a.nfreeze,
		                          a.freeze_max_ns ? a.freeze_max_ns : CLI_FREEZE_MAX_DEFAULT_NS, &fz, &err)) != 0) {
			exit_code = cli_fail(cli, rc, &err);
			goto out;
		}
		bfreeze.stop = freeze_stop;
		bfreeze.resume = freeze_resume;
		bfreeze.ctx = fz;
		bfreeze.max_ns = a.freeze_max_ns ? a.freeze_max_ns : CLI_FREEZE_MAX_DEFAULT_NS;
	}
	/* --exclude and --exclude-file globs, in the order given, as one list. */
	for (i = 0; i < a.excludes.n; i++)
		if (cli_list_push(&excludes, a.excludes.v[i]) < 0)
			goto oom;
	for (i = 0; i < a.exclude_files.n; i++)
		if (cli_list_push(&excludes, a.exclude_files.v[i]) < 0)
			goto oom;

	fill_options(&opts, cli, &a, argv + first, (size_t)(argc - first), &excludes, &report, fz, &bfreeze);

	/* A fixed mmap threshold: glibc otherwise raises it to the size of
	 * each large block freed (up to 32 MiB), after which 16 MiB pack
	 * buffers and other large blocks come from the threads' heap arenas,
	 * where freed ones stay resident as the arenas fragment. A 10 GiB
	 * backup then peaked 20 MiB above a 2 GiB one; with this, 10. Large
	 * buffers that live long (packs, read segments) are reused, so the
	 * page faults of fresh mappings stay rare. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = cli_lock(cli, repo, LOCK_SHARED, &err)) ||
	    (rc = cli_hooks_pre(&err))) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	/* After the pre-hook (it may mount what --as reads), before the read. */
	if (a.as) {
		if ((rc = cli_fssnap_as_view(a.as, argv[first], &as_view, &err)) != 0) {
			exit_code = cli_fail(cli, rc, &err);
			goto out;
		}
		as_paths[0] = (char *)(uintptr_t)a.as;
		opts.paths = (const char *const *)as_paths;
		opts.views = &as_view;
		opts.nviews = 1;
	} else if (a.fs_snapshot != FSSNAP_NONE) {
		if ((rc = cli_fssnap_take(argv + first, opts.npaths, a.fs_snapshot, cli->quiet, &fss, &err)) != 0) {
			exit_code = cli_fail(cli, rc, &err);
			goto out;
		}
		opts.views = fssnap_views(fss, &opts.nviews);
	}
	if (!a.use_stdin && !a.as && (rc = changes_plan(repo, a.changes, fss, &opts, &cp, &err)) != 0) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	cli_progress_init(&report.progress, cli);
	if (cli->json_lines)
		cli_progress_json_lines(&report.progress);
	progress_started = 1;
	opts.lock = cli_held_lock();
	if (cmd) {
		/* Started only now: with the repository open and locked, a run
		 * that cannot write a snapshot fails before the producer does
		 * any work. */
		if ((rc = cli_producer_start(&prod, cmd, &err)) != 0) {
			cli_progress_done(&report.progress);
			progress_started = 0;
			exit_code = cli_fail(cli, rc, &err);
			goto out;
		}
		opts.stdin_fd = prod.fd;
		opts.stream_end = cli_producer_finish;
		opts.stream_end_ctx = &prod;
	}
	if (a.use_stdin_tar) {
		opts.stdin_name = a.stdin_name;
		rc = tar_import(repo, opts.stdin_fd, &opts, &res, &err);
	} else {
		rc = backup_run(repo, &opts, &res, &err);
		changes_finish(cp, repo, rc, &res);
	}
	/* A backup that failed before the producer's end was accepted: end
	 * it; when it had failed first, its status is the error. */
	if (cmd && rc && rc != STRATA_EPARTIAL)
		rc = cli_producer_abort(&prod, &err);
	cli_progress_done(&report.progress);
	progress_started = 0;
	/* Deleted as soon as read; a failure to delete is a warning: the
	 * snapshot in the repository is good, the next run deletes it. */
	if (fss) {
		StrataErr derr = { 0, "" };
		if (cli_fssnap_release(fss, &derr) != 0)
			cli_warn("%s", derr.msg);
		fss_done = 1;
	}
	if (rc && rc != STRATA_EPARTIAL) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	have_res = 1;
	/* Written, possibly with unreadable files: report it, then the error. */
	if (cli->json) {
		if (print_json(cli, &a, &res, fz, fss, opts.npaths, repo, cp) < 0) {
			exit_code = cli_failf(cli, -EIO, "cannot write the result to stdout");
			goto out;
		}
	} else if (!cli->quiet) {
		print_summary(&res, fz, fss, opts.npaths);
	}
	if (rc == STRATA_EPARTIAL) {
		if (cli->json)
			exit_code = cli_exit_code(rc);
		else
			exit_code = cli_fail(cli, rc, &err);
	}
	goto out;
oom:
	exit_code = cli_failf(cli, -ENOMEM, "out of memory");
out:
	if (progress_started)
		cli_progress_done(&report.progress);
	if (a.metrics && exit_code != CLI_EXIT_USAGE) {   /* usage error: nothing ran */
		StrataErr merr = { 0, "" };

		if (job_metrics_write(cli, a.metrics, a.job, exit_code, (double)(cli_now_ns() - t0) / 1e9,
		                      have_res ? &res.summary : NULL, have_res ? &res : NULL, fz, repo, &merr) != 0) {
			cli_warn("%s", merr.msg);
			if (exit_code == CLI_EXIT_OK)
				exit_code = CLI_EXIT_FAILURE;
		}
	}
	/* Before the post-hook: the writers run whatever it does, and the
	 * filesystem snapshots are gone. */
	cli_freeze_resume(fz);
	if (!fss_done && fss) {
		StrataErr derr = { 0, "" };
		if (cli_fssnap_release(fss, &derr) != 0)
			cli_warn("%s", derr.msg);
	}
	fssnap_free(fss);
	changes_free(cp);
	if (hooks) {
		CliHookOutcome o = { exit_code, NULL, NULL, -1 };
		if (have_res) {
			strata_id_hex(res.snapshot_id, hex);
			o.snapshot_id = hex;
		}
		if (exit_code != CLI_EXIT_OK && err.msg[0])
			o.error = err.msg;
		if (cli_freeze_stopped_once(fz))
			o.paused_ms = (double)cli_freeze_paused_ns(fz) / 1e6;
		cli_hooks_post(&o);
	}
	cli_freeze_close(fz);
	if (hooks)
		cli_hooks_end();
	backup_result_clear(&res);
	repo_close(repo);
	cli_list_free(&excludes);
	cli_list_free(&a.tags);
	cli_list_free(&a.labels);
	cli_list_free(&a.excludes);
	cli_list_free(&a.exclude_files);
	return exit_code;
}

const CliCommand cmd_backup = {
	.name = "backup",
	.summary = "Back up files and directories (or standard input) as a new snapshot.",
	.usage = "strata backup [OPTIONS] PATH...\n"
	         "       strata backup [OPTIONS] --stdin-from-command [--stdin-name NAME] -- CMD [ARG]...\n"
	         "       strata backup [OPTIONS] --stdin-tar --stdin-from-command [--stdin-name NAME] -- CMD [ARG]...\n"
	         "       strata backup [OPTIONS] --stdin [--stdin-name NAME]\n"
	         "       strata backup [OPTIONS] --stdin-tar [--stdin-name NAME]",
	.help =
		"Reads every PATH recursively, stores only chunks the repository does not\n"
		"hold yet, and writes a snapshot. A file whose device, inode, size, mtime\n"
		"and ctime match what the last backup of that path saw (the local files\n"
		"cache) is not read again; one that only grew is read from its old end.\n"
		"\n"
		"Options:\n"
		"      --tag TAG           tag the snapshot (repeatable)\n"
		"      --host HOST         record HOST instead of this machine's name\n"
		"      --label KEY=VALUE   attach a label (repeatable), e.g. height=812345\n"
		"      --time TIME         record TIME as the snapshot's time instead of now\n"
		"                          (the forms of restore --at: 2024-05-01 12:00,\n"
		"                          2024-05-01T10:00Z, @UNIXSECONDS), e.g. when\n"
		"                          importing an old archive with --stdin-tar\n"
		"      --exclude GLOB      skip paths matching GLOB (fnmatch(3); repeatable)\n"
		"      --exclude-file FILE read globs from FILE, one per line; blank lines\n"
		"                          and lines starting with '#' are ignored\n"
		"      --stdin-from-command -- CMD [ARG]...\n"
		"                          run CMD (no shell) and back up its standard output\n"
		"                          as one file (with --stdin-tar: as a tar stream); its\n"
		"                          stderr passes through. The snapshot is written only\n"
		"                          when CMD exits 0: otherwise none is, latest stays,\n"
		"                          and strata exits 4 naming CMD's exit code or signal.\n"
		"                          SIGTERM/SIGINT to strata terminate CMD, no snapshot\n"
		"      --stdin             back up standard input as one file. strata cannot\n"
		"                          tell a producer that died from one that finished\n"
		"                          (a pipe only ends): prefer --stdin-from-command\n"
		"      --stdin-name NAME   its name in the snapshot (default \"stdin\")\n"
		"      --stdin-tar         read a tar stream (plain, gzip, bzip2, xz or zstd)\n"
		"                          from standard input (or CMD) and store its content as\n"
		"                          the snapshot's tree, each file deduplicated on its own;\n"
		"                          NAME is then the snapshot's path (default stdin.tar)\n"
		"      --parent SNAPSHOT   compare against this snapshot (default: the\n"
		"                          latest one with the same host and paths)\n"
		"      --force-reread      read every file, even if unchanged\n"
		"      --verify-prefix MODE  for a file that only grew, how much of the old\n"
		"                          content to re-hash before reading just the new\n"
		"                          tail: sample (default: 17 chunks spread over it)\n"
		"                          or full (all of it; for files rewritten in place)\n"
		"      --threads N         worker threads (default: one per core)\n"
		"      --compression N     zstd level 1-22 for every chunk (default: level 1\n"
		"                          for low-entropy chunks such as text and JSON,\n"
		"                          the fast level -1 for the rest; 3 stores ~3 %\n"
		"                          less than 1 and costs 1.8x the CPU)\n"
		"      --storage-class SPEC  S3 storage classes of new objects:\n"
		"                          data=CLASS,metadata=CLASS, e.g. data=GLACIER,\n"
		"                          metadata=STANDARD (tools/cli/doc/s3.md)\n"
		"      --metrics-file FILE write Prometheus metrics to FILE (atomically), for\n"
		"                          node_exporter's textfile collector; one file per job:\n"
		"                          strata_last_success_timestamp_seconds (kept from\n"
		"                          the last good run when this one fails),\n"
		"                          strata_duration_seconds, strata_bytes_read,\n"
		"                          strata_bytes_added, strata_files, strata_errors,\n"
		"                          strata_dedup_ratio, strata_exit_code,\n"
		"                          strata_freeze_paused_seconds (--freeze-pid), ...\n"
		"      --job NAME          the job label of those metrics (default: backup)\n"
		"      --json-progress     JSON lines on stdout: {\"type\":\"progress\", ...} about\n"
		"                          once a second, then {\"type\":\"summary\", ...} (or an\n"
		"                          {\"error\": ...} line); tools/cli/doc/JSON.md has the fields\n"
		"\n"
		"Consistent copies of a running writer (tools/cli/doc/consistency.md):\n"
		"      --freeze-pid PID    stop process PID (all its threads; repeatable)\n"
		"                          with SIGSTOP while the source is listed, then\n"
		"                          resume it and read: files that changed are held\n"
		"                          open (up to 64 KiB: copied) at the stop and read\n"
		"                          up to their size then, so the snapshot is the\n"
		"                          source at that moment, provided the writer only\n"
		"                          appends, creates, renames and deletes files after\n"
		"                          it (LevelDB, RocksDB: yes; PostgreSQL, SQLite,\n"
		"                          LMDB: no). A guard process resumes the writer if\n"
		"                          strata dies, even by SIGKILL. Needs PATHs\n"
		"      --freeze-max DURATION  resume the writer after this long whatever\n"
		"                          happens (default 10s; e.g. 500ms, 2s, 1m); a\n"
		"                          listing cut short is not point-in-time: the\n"
		"                          snapshot is saved partial, exit 3\n"
		"      --fs-snapshot MODE  btrfs: read each PATH from a read-only snapshot of\n"
		"                          its btrfs subvolume, made for this run and deleted\n"
		"                          after it (also on error, SIGTERM, SIGINT; a killed\n"
		"                          run's is deleted by the next), recorded under PATH;\n"
		"                          any database opens it as after a power cut, and\n"
		"                          the writer never stops. auto: the same where PATH\n"
		"                          is on btrfs, else read live (said on stderr).\n"
		"                          none (default): read live. Deleting needs root or\n"
		"                          the mount option user_subvol_rm_allowed\n"
		"      --changes MODE      how to find what changed since the parent: btrfs\n"
		"                          (with --fs-snapshot btrfs, root: the subvolume's\n"
		"                          generations), journal (`strata watch`), scan (look\n"
		"                          at every file), auto (default: btrfs with\n"
		"                          --fs-snapshot btrfs, else a valid journal, else\n"
		"                          scan). Anything uncertain scans; --json says which\n"
		"                          ran and why (tools/cli/doc/changes.md)\n"
		"      --as PATH           the one source is a copy of PATH (an LVM or ZFS\n"
		"                          snapshot mounted elsewhere): record it as PATH, so\n"
		"                          the parent and the files cache are PATH's\n"
		"      --pre-hook CMD      run CMD with /bin/sh -c right before the read\n"
		"                          (e.g. take an LVM or ZFS snapshot); if it fails,\n"
		"                          nothing is backed up: exit 4\n"
		"      --post-hook CMD     run CMD after the backup, whatever happened (also\n"
		"                          after an error, SIGTERM or SIGINT), with\n"
		"                          STRATA_BACKUP_STATUS=success|partial|failed,\n"
		"                          STRATA_EXIT_CODE, STRATA_SNAPSHOT_ID (when saved),\n"
		"                          STRATA_ERROR, STRATA_PRE_HOOK=ok|failed|none,\n"
		"                          STRATA_PAUSED_MS (with --freeze-pid) and\n"
		"                          STRATA_SIGNAL in its environment; a failure is\n"
		"                          a warning. Hooks read /dev/null and write to\n"
		"                          stderr; STRATA_HOOK=pre|post, STRATA_JOB\n"
		"\n"
		"Prints a summary: files new/changed/unchanged, bytes read, bytes added\n"
		"to the repository and stored after compression, and with --freeze-pid\n"
		"how long the writers were stopped. With --json, one object\n"
		"{\"snapshot_id\", \"short_id\", \"summary\": {...}, \"partial\", ...} (plus\n"
		"\"paused_ms\"). A file that vanished, could not be read, or changed while\n"
		"it was read (size, mtime or ctime differ between the stat before and\n"
		"after reading; another file under its name; a directory whose entries\n"
		"changed) is a warning on stderr; the snapshot is still written, marked\n"
		"partial with those paths (`strata cat snapshot ID`), and strata exits\n"
		"with 3. latest, --at, --label, the next backup's parent and forget's\n"
		"keep counts skip a partial snapshot (global option --include-partial:\n"
		"they do not). strata's own cache directory is never backed up.\n"
		"\n"
		"Examples:\n"
		"  strata backup /var/lib/node --tag hourly --label height=812345\n"
		"  strata backup ~/work --exclude '*.o' --exclude-file ~/.strata-excludes\n"
		"  strata backup --stdin-from-command --stdin-name app.sql --tag db -- pg_dump app\n"
		"  strata backup --stdin-tar --stdin-from-command --label kind=pg-base -- \\\n"
		"      pg_basebackup -D - -Ft -X none\n"
		"  strata backup --stdin-tar --stdin-name node-2023.tar.zst < node-2023.tar.zst\n"
		"  strata backup /etc --json | jq .summary.bytes_added\n"
		"  strata backup /var/lib/node --freeze-pid \"$(pidof node)\" --freeze-max 2s\n"
		"  strata backup /var/lib/node --fs-snapshot btrfs\n"
		"  strata backup /mnt/node-snap --as /var/lib/node\n",
	.run = run,
};
