/* cmd_verify_restore.c — `strata verify-restore`: restore a snapshot into a
 * scratch directory, run a command that checks it, record the outcome in
 * the repository (store/verified.h), remove the directory.
 *
 * The run is two processes (tools/cli/cli_scratch.h): this one forks before
 * anything else starts, and the supervisor it leaves behind removes the
 * scratch directory however the worker ends. */
#include <errno.h>
#include <stdarg.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/restore/restore.h"
#include "store/snapshot.h"
#include "store/verified.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_lock.h"
#include "tools/cli/cli_metrics.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_progress.h"
#include "tools/cli/cli_repo.h"
#include "tools/cli/cli_scratch.h"
#include "tools/cli/cli_select.h"
#include "tools/cli/cli_spawn.h"

extern char **environ;

#define TIMEOUT_MAX_S (30L * 86400)
#define SCRATCH_SUBDIR "verify-restore"

enum {
	OPT_SCRATCH = CLI_OPT_CMD,
	OPT_KEEP,
	OPT_TIMEOUT,
	OPT_NAME,
	OPT_THREADS,
	OPT_VERIFY,
	OPT_METRICS,
	OPT_JOB
};

static const struct option longopts[] = {
	{ "scratch",      required_argument, NULL, OPT_SCRATCH },
	{ "keep-scratch", no_argument,       NULL, OPT_KEEP },
	{ "timeout",      required_argument, NULL, OPT_TIMEOUT },
	{ "name",         required_argument, NULL, OPT_NAME },
	{ "threads",      required_argument, NULL, OPT_THREADS },
	{ "verify",       no_argument,       NULL, OPT_VERIFY },
	{ "metrics-file", required_argument, NULL, OPT_METRICS },
	{ "job",          required_argument, NULL, OPT_JOB },
	CLI_SELECT_LONGOPTS,
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	CliSelect sel;
	const char *scratch;       /* --scratch DIR; NULL: under the cache */
	int keep;                  /* --keep-scratch */
	int64_t timeout_s;         /* --timeout; 0: none */
	const char *name;          /* --name, else the basename of CMD */
	char *name_copy;           /* what that basename points into */
	long threads;
	int verify;
	const char *metrics, *job;
	char **cmd;                /* after "--", NULL-terminated */
} Args;

/* "90", "90s", "45m", "2h", "1d", "1h30m": seconds in *out, 1 to 30 days. */
static int parse_duration(const char *s, int64_t *out)
{
	int64_t total = 0;
	const char *p = s;

	if (!*p)
		return -EINVAL;
	while (*p) {
		char *end;
		long long v;
		int64_t unit = 1;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v = strtoll(p, &end, 10);
		if (errno || v > TIMEOUT_MAX_S)
			return -EINVAL;
		switch (*end) {
		case 's': unit = 1; end++; break;
		case 'm': unit = 60; end++; break;
		case 'h': unit = 3600; end++; break;
		case 'd': unit = 86400; end++; break;
		case '\0':
			if (p != s)     /* "1h30": a bare number only on its own */
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
		total += (int64_t)v * unit;
		if (total > TIMEOUT_MAX_S)
			return -EINVAL;
		p = end;
	}
	if (total < 1)
		return -EINVAL;
	*out = total;
	return 0;
}

/* A name fit for the record and for people: 1 to VERIFIED_NAME_MAX bytes
 * of UTF-8 without control characters. */
static int name_ok(const char *s)
{
	json_t *j;
	size_t len = strlen(s);

	if (len == 0 || len > VERIFIED_NAME_MAX)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	j = json_string(s);      /* NULL for invalid UTF-8 */
	json_decref(j);
	return j != NULL;
}

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;
	int rc;

	switch (opt) {
	case OPT_SCRATCH:
		if (!*arg)
			return cli_usage(cli, "--scratch wants a directory");
		a->scratch = arg;
		return CLI_CONTINUE;
	case OPT_KEEP:
		a->keep = 1;
		return CLI_CONTINUE;
	case OPT_TIMEOUT:
		if (parse_duration(arg, &a->timeout_s) != 0)
			return cli_usage(cli, "--timeout wants a duration from 1s to 30d such as 90s, 45m, 2h or 1h30m: '%s'", arg);
		return CLI_CONTINUE;
	case OPT_NAME:
		if (!name_ok(arg))
			return cli_usage(cli, "--name wants 1 to %d bytes of printable UTF-8: '%s'", VERIFIED_NAME_MAX, arg);
		a->name = arg;
		return CLI_CONTINUE;
	case OPT_THREADS:
		if (cli_parse_int(arg, 0, 1024, &a->threads) < 0)
			return cli_usage(cli, "--threads wants a number from 0 (one per core) to 1024: %s", arg);
		return CLI_CONTINUE;
	case OPT_VERIFY:
		a->verify = 1;
		return CLI_CONTINUE;
	case OPT_METRICS:
		return cli_metrics_opt_file(cli, arg, &a->metrics);
	case OPT_JOB:
		return cli_metrics_opt_job(cli, arg, &a->job);
	default:
		if ((rc = cli_select_opt(cli, opt, arg, &a->sel)) != CLI_SELECT_NOT_MINE)
			return rc;
		return cli_usage(cli, "unexpected option");
	}
}

/* ---- the command's environment ---- */

static int push_fmt(CliList *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int push_fmt(CliList *l, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	if (cli_list_push(l, s) < 0) {
		free(s);
		return -ENOMEM;
	}
	return 0;
}

static int has_var(const CliList *l, const char *name, size_t len)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strncmp(l->v[i], name, len) && l->v[i][len] == '=')
			return 1;
	return 0;
}

/* Join v[0..n) with sep into a malloc'ed string. */
static char *join(char *const *v, size_t n, const char *sep)
{
	size_t len = 1, o = 0;
	char *out;

	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + strlen(sep);
	if (!(out = malloc(len)))
		return NULL;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		o += (size_t)sprintf(out + o, "%s%s", i ? sep : "", v[i]);
	return out;
}

/* The environment the command runs with: strata's own, without any
 * STRATA_RESTORE_* or STRATA_SNAPSHOT_* it may hold (a nested run would
 * pass its own on), plus the restore's (tools/cli/doc/verification.md "Restore tests"). */
static int build_env(CliList *env, const char *dir, const Snapshot *snap)
{
	char hex[STRATA_ID_HEX_LEN + 1], tm[CLI_FMT_TIME_LEN], *s;
	int rc = 0;

	env->owned = 1;
	for (char **e = environ; *e; e++) {
		if (!strncmp(*e, "STRATA_RESTORE_", 15) || !strncmp(*e, "STRATA_SNAPSHOT_", 16))
			continue;
		if ((rc = push_fmt(env, "%s", *e)))
			return rc;
	}
	strata_id_hex(snap->id, hex);
	if ((rc = push_fmt(env, "STRATA_RESTORE_DIR=%s", dir)) ||
	    (rc = push_fmt(env, "STRATA_SNAPSHOT_ID=%s", hex)) ||
	    (rc = push_fmt(env, "STRATA_SNAPSHOT_SHORT_ID=%.8s", hex)) ||
	    (rc = push_fmt(env, "STRATA_SNAPSHOT_TIME=%s", cli_fmt_time_rfc3339(snap->time_ns, tm))) ||
	    (rc = push_fmt(env, "STRATA_SNAPSHOT_HOST=%s", snap->host ? snap->host : "")))
		return rc;
	/* A snapshot keeps the absolute paths it was taken from: the
	 * restored copy of its one path is below the directory at that path. */
	if (snap->npaths == 1 &&
	    (rc = push_fmt(env, "STRATA_RESTORE_PATH=%s/%s", dir, snap->paths[0] + strspn(snap->paths[0], "/"))))
		return rc;
	if (!(s = join(snap->paths, snap->npaths, "\n")) || (rc = push_fmt(env, "STRATA_SNAPSHOT_PATHS=%s", s)))
		rc = rc ? rc : -ENOMEM;
	free(s);
	if (rc || !(s = join(snap->tags, snap->ntags, ",")) || (rc = push_fmt(env, "STRATA_SNAPSHOT_TAGS=%s", s)))
		rc = rc ? rc : -ENOMEM;
	free(s);
	if (rc || !(s = join(snap->labels, snap->nlabels, "\n")) || (rc = push_fmt(env, "STRATA_SNAPSHOT_LABELS=%s", s)))
		rc = rc ? rc : -ENOMEM;
	free(s);
	/* STRATA_SNAPSHOT_LABEL_<KEY>: the key upper-cased, any character
	 * outside [A-Z0-9_] as '_'; the first label wins a clash, and
	 * STRATA_SNAPSHOT_LABELS holds every one exactly. */
	for (size_t i = 0; rc == 0 && i < snap->nlabels; i++) {
		const char *l = snap->labels[i], *eq = strchr(l, '=');
		char var[128 + 24];
		size_t n = 0;
		if (!eq || eq == l || (size_t)(eq - l) > 128)
			continue;
		n = (size_t)snprintf(var, sizeof var, "STRATA_SNAPSHOT_LABEL_");
		for (const char *p = l; p < eq; p++) {
			char c = *p;
			var[n++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') :
			           ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) ? c : '_';
		}
		var[n] = '\0';
		if (!has_var(env, var, n))
			rc = push_fmt(env, "%s=%s", var, eq + 1);
	}
	if (rc == 0 && cli_list_push(env, NULL) < 0)
		rc = -ENOMEM;
	if (rc == 0)
		env->n--;      /* the NULL terminates the array; it is not an entry */
	return rc;
}

/* ---- metrics ---- */

/* The value a previous run left for name{job="job"} in path, or 0. */
static double previous(const char *path, const char *name, const char *job)
{
	char want[512], line[1024], *end;
	double v, found = 0;
	size_t wl;
	FILE *f;

	wl = (size_t)snprintf(want, sizeof want, "%s{job=\"%s\"} ", name, job);
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

/* The job's metrics (tools/cli/doc/scheduling.md "Metrics"); r: the record, NULL when no test
 * ran to an outcome. */
static int write_metrics(const Cli *cli, const Args *a, int exit_code, double duration_s,
                         const VerifiedRecord *r, StrataErr *err)
{
	const char *job = a->job ? a->job : "verify-restore";
	const char *lb[] = { "job", job, NULL };
	CliMetrics *m = cli_metrics_new();
	int passed = r && r->outcome == VERIFIED_PASSED, rc;
	double last = passed ? (double)r->time_ns / 1e9 : previous(a->metrics, "strata_last_verified_restore_timestamp_seconds", job);
	double snap = passed ? (double)r->snapshot_time_ns / 1e9 :
	              previous(a->metrics, "strata_verified_restore_snapshot_timestamp_seconds", job);

	if (!m)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = cmd_backup_job_metrics_add(m, cli, a->metrics, job, exit_code, duration_s, NULL);
#define ADD(name, help, v) \
	do { if (rc == 0) rc = cli_metrics_add(m, name, help, "gauge", lb, (double)(v)); } while (0)
	ADD("strata_last_verified_restore_timestamp_seconds",
	    "when a restore test of this job last passed (unix seconds; kept from the previous file when a run fails; 0: never)", last);
	ADD("strata_verified_restore_snapshot_timestamp_seconds",
	    "the time of the snapshot that last passed (unix seconds; 0: none)", snap);
	ADD("strata_verified_restore_success", "1 if the last restore test passed", passed);
#undef ADD
	if (rc)
		strata_err_set(err, rc, "cannot build metrics: %s", strerror(-rc));
	else
		rc = cli_metrics_write(m, a->metrics, err);
	cli_metrics_free(m);
	return rc;
}

/* ---- the run ---- */

typedef struct Run {
	Cli *cli;
	Args *a;
	Repo *repo;
	Snapshot snap;
	int have_snap;
	char dir[PATH_MAX];
	int prepared;            /* dir is ours: made or found empty, announced */
	int created, removed;
	RestoreResult res;
	double restore_s;
	CliSpawnResult cmd;
	int ran;                 /* the command ran */
	VerifiedRecord rec;
	int have_rec, recorded;
	CliProgress progress;
	uint64_t files_total, bytes_total;
} Run;

static void on_progress(const RestoreProgress *p, void *ctx)
{
	Run *r = ctx;
	CliProgressStatus s;

	memset(&s, 0, sizeof s);
	s.phase = "restore";
	s.items = p->files_done;
	s.items_total = r->files_total;
	s.bytes = p->bytes_done;
	s.bytes_total = r->bytes_total;
	s.current = p->current;
	cli_progress_show(&r->progress, &s);
}

static void on_start(pid_t pgid, void *ctx)
{
	(void)ctx;
	cli_scratch_announce_pgid(pgid);
}

static void warn_swept(const char *path)
{
	cli_warn("removed scratch directory %s, left by a restore test that was killed", path);
}

/* The scratch directory: --scratch (absolute), or a new one named after
 * the supervisor under <cache>/<repository>/verify-restore/. */
static int scratch_path(Run *r, StrataErr *err)
{
	char parent[PATH_MAX], cwd[PATH_MAX];
	unsigned char rnd[4];
	FILE *f;

	if (r->a->scratch) {
		if (r->a->scratch[0] == '/') {
			if (snprintf(r->dir, sizeof r->dir, "%s", r->a->scratch) >= (int)sizeof r->dir)
				return strata_err_set(err, -ENAMETOOLONG, "--scratch %s: path too long", r->a->scratch);
		} else if (!getcwd(cwd, sizeof cwd) ||
		           snprintf(r->dir, sizeof r->dir, "%s/%s", cwd, r->a->scratch) >= (int)sizeof r->dir) {
			return strata_err_set(err, -ENAMETOOLONG, "--scratch %s: path too long", r->a->scratch);
		}
		/* "dir/" and "dir" are one directory; the message shows it once. */
		for (size_t n = strlen(r->dir); n > 1 && r->dir[n - 1] == '/'; n--)
			r->dir[n - 1] = '\0';
		return 0;
	}
	snprintf(parent, sizeof parent, "%s/%s", repo_cache_path(r->repo), SCRATCH_SUBDIR);
	cli_scratch_sweep(parent, warn_swept);
	if (!(f = fopen("/dev/urandom", "rb")) || fread(rnd, 1, sizeof rnd, f) != sizeof rnd) {
		if (f)
			fclose(f);
		return strata_err_set(err, -EIO, "cannot read /dev/urandom");
	}
	fclose(f);
	if (snprintf(r->dir, sizeof r->dir, "%s/%ld-%02x%02x%02x%02x", parent, (long)getppid(), rnd[0], rnd[1],
	             rnd[2], rnd[3]) >= (int)sizeof r->dir)
		return strata_err_set(err, -ENAMETOOLONG, "%s: path too long", parent);
	return 0;
}

static void fill_record(Run *r, VerifiedOutcome outcome, const char *detail)
{
	VerifiedRecord *v = &r->rec;
	struct timespec ts;
	struct passwd pw, *pwp = NULL;
	char pwbuf[1024];

	memset(v, 0, sizeof *v);
	memcpy(v->snapshot, r->snap.id, STRATA_ID_LEN);
	v->snapshot_time_ns = r->snap.time_ns;
	clock_gettime(CLOCK_REALTIME, &ts);
	v->time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	v->outcome = outcome;
	v->exit_status = outcome == VERIFIED_PASSED ? 0 : outcome == VERIFIED_FAILED ? r->cmd.exit_status : -1;
	v->signal = outcome == VERIFIED_SIGNALLED || outcome == VERIFIED_TIMEOUT ? r->cmd.signal : 0;
	v->timeout_s = r->a->timeout_s;
	v->restore_s = r->restore_s;
	v->command_s = r->ran ? r->cmd.duration_s : 0;
	v->files = r->res.files;
	v->bytes = r->res.bytes;
	snprintf(v->name, sizeof v->name, "%s", r->a->name);
	if (gethostname(v->host, sizeof v->host - 1) != 0)
		v->host[0] = '\0';
	/* Who ran it, as the system names the user (systemd sets no $USER). */
	if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof pwbuf, &pwp) == 0 && pwp)
		snprintf(v->user, sizeof v->user, "%s", pwp->pw_name);
	else
		snprintf(v->user, sizeof v->user, "%ld", (long)geteuid());
	snprintf(v->detail, sizeof v->detail, "%s", detail ? detail : "");
	r->have_rec = 1;
}

/* What happened, in words: "ldb exited with status 1 after 0.3 s". */
static void describe(const Run *r, char *out, size_t len)
{
	const VerifiedRecord *v = &r->rec;

	switch (v->outcome) {
	case VERIFIED_PASSED:
		snprintf(out, len, "%s exited 0 after %.1f s", v->name, v->command_s);
		break;
	case VERIFIED_FAILED:
		snprintf(out, len, "%s exited with status %d after %.1f s", v->name, v->exit_status, v->command_s);
		break;
	case VERIFIED_SIGNALLED:
		snprintf(out, len, "%s was killed by signal %d (%s) after %.1f s", v->name, v->signal,
		         strsignal(v->signal), v->command_s);
		break;
	case VERIFIED_TIMEOUT:
		snprintf(out, len, "%s ran past the time limit of %lld s and was stopped (signal %d)", v->name,
		         (long long)v->timeout_s, v->signal);
		break;
	default:
		snprintf(out, len, "the restore failed: %s", v->detail);
		break;
	}
}

static int print_json(const Run *r)
{
	const VerifiedRecord *v = &r->rec;
	char hex[STRATA_ID_HEX_LEN + 1];
	json_t *o;

	strata_id_hex(r->snap.id, hex);
	o = json_pack("{s:s, s:s#, s:o, s:b, s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:I, s:I, s:I, s:f, s:f, s:o, s:o}",
	              "snapshot_id", hex, "short_id", hex, 8, "snapshot_time", cli_json_time(r->snap.time_ns),
	              "ok", v->outcome == VERIFIED_PASSED, "outcome", verified_outcome_name(v->outcome),
	              "exit_status", v->exit_status >= 0 ? json_integer(v->exit_status) : json_null(),
	              "signal", v->signal ? json_integer(v->signal) : json_null(),
	              "name", cli_json_str(v->name),
	              "record", r->recorded ? cli_json_id(v->id) : json_null(),
	              "scratch", cli_json_str(r->dir), "scratch_kept", r->a->keep,
	              "files", (json_int_t)r->res.files, "dirs", (json_int_t)r->res.dirs,
	              "bytes", (json_int_t)r->res.bytes, "restore_duration_s", r->restore_s,
	              "command_duration_s", v->command_s,
	              "timeout_s", v->timeout_s ? json_integer((json_int_t)v->timeout_s) : json_null(),
	              "detail", v->detail[0] ? cli_json_str(v->detail) : json_null());
	return cli_json_print(o, 0);
}

/* Restore, run, record. Returns the exit code, having printed any error;
 * with r->have_rec the test reached an outcome. */
static int test(Run *r)
{
	Cli *cli = r->cli;
	Args *a = r->a;
	StrataErr err = { 0, "" };
	RestoreOptions opts;
	CliList env = { NULL, 0, 0, 1 };
	CliSpawn sp;
	char id[CLI_FMT_SHORT_ID_LEN], tm[CLI_FMT_TIME_LEN], b[CLI_FMT_BYTES_LEN];
	int64_t t0;
	int rc, code;

	if ((rc = cli_repo_open(cli, &r->repo, &err)) || (rc = cli_lock(cli, r->repo, LOCK_SHARED, &err)) ||
	    (rc = cli_select_find(&a->sel, r->repo, &r->snap, &err)))
		return cli_fail(cli, rc, &err);
	r->have_snap = 1;
	if ((rc = scratch_path(r, &err)) || (rc = cli_scratch_prepare(r->dir, &r->created, &err)))
		return cli_fail(cli, rc, &err);
	if ((rc = cli_scratch_announce_dir(r->dir, r->created)))
		return cli_failf(cli, rc, "scratch directory %s: path too long", r->dir);
	r->prepared = 1;

	memset(&opts, 0, sizeof opts);
	opts.target = r->dir;
	opts.threads = (int)a->threads;
	opts.verify = a->verify;
	opts.progress = on_progress;
	opts.progress_ctx = r;
	r->files_total = r->snap.summary.files;
	r->bytes_total = r->snap.summary.bytes_total;
	cli_progress_init(&r->progress, cli);
	t0 = cli_now_ns();
	rc = restore_run(r->repo, &r->snap, &opts, &r->res, &err);
	r->restore_s = (double)(cli_now_ns() - t0) / 1e9;
	cli_progress_done(&r->progress);
	if (rc && cli_exit_code(rc) == CLI_EXIT_DAMAGED) {
		/* The snapshot does not open: that is the test's answer. */
		fill_record(r, VERIFIED_RESTORE_FAILED, err.msg);
		return CLI_EXIT_DAMAGED;
	}
	if (rc)
		return cli_fail(cli, rc, &err);
	if (r->res.errors)
		return cli_failf(cli, -EIO, "%llu entries could not be restored into %s; the command did not run "
		                 "and nothing was recorded", (unsigned long long)r->res.errors, r->dir);
	if (!cli->quiet && !cli->json) {
		printf("restored snapshot %s of %s into ", cli_fmt_short_id(r->snap.id, id),
		       cli_fmt_time_local(r->snap.time_ns, tm));
		cli_fmt_name(stdout, r->dir);
		printf(": %llu files, %llu dirs, %s in %.1f s\n", (unsigned long long)r->res.files,
		       (unsigned long long)r->res.dirs, cli_fmt_bytes(r->res.bytes, b), r->restore_s);
		fflush(stdout);
	}
	/* The command may take hours: a prune must not wait for it. The
	 * record is written under a lock taken again afterwards. */
	cli_unlock();

	if ((rc = build_env(&env, r->dir, &r->snap))) {
		cli_list_free(&env);
		return cli_failf(cli, rc, "out of memory");
	}
	memset(&sp, 0, sizeof sp);
	sp.argv = a->cmd;
	sp.envp = env.v;
	sp.cwd = r->dir;
	sp.timeout_ms = a->timeout_s * 1000;
	sp.on_start = on_start;
	rc = cli_spawn_run(&sp, &r->cmd, &err);
	/* The group is gone (or killed): its ID may be reused from now on,
	 * so the supervisor must not signal it any more. */
	cli_scratch_announce_pgid(0);
	cli_list_free(&env);
	if (rc)
		return cli_failf(cli, rc, "%s; nothing was recorded", err.msg);
	r->ran = 1;
	fill_record(r, r->cmd.timed_out ? VERIFIED_TIMEOUT : r->cmd.signal ? VERIFIED_SIGNALLED :
	               r->cmd.exit_status == 0 ? VERIFIED_PASSED : VERIFIED_FAILED, NULL);
	code = r->rec.outcome == VERIFIED_PASSED ? CLI_EXIT_OK : CLI_EXIT_DAMAGED;
	return code;
}

/* Write the record (under a shared lock again). The exit code: code, or
 * CLI_EXIT_FAILURE/LOCKED for a pass that could not be recorded. */
static int record(Run *r, int code)
{
	StrataErr err = { 0, "" };
	int rc;

	if ((rc = cli_lock(r->cli, r->repo, LOCK_SHARED, &err)) == 0)
		rc = verified_save(r->repo, &r->rec, &err);
	cli_unlock();
	if (rc == 0) {
		r->recorded = 1;
		return code;
	}
	cli_warn("the outcome (%s) could not be recorded in the repository: %s", verified_outcome_name(r->rec.outcome),
	         err.msg);
	return code == CLI_EXIT_OK ? cli_exit_code(rc) : code;
}

static int run(Cli *cli, int argc, char **argv)
{
	Args a;
	Run r;
	StrataErr err = { 0, "" };
	int rc, first, dd, exit_code;
	int64_t t0 = cli_now_ns();
	char what[STRATA_ERRMSG_LEN], id[CLI_FMT_SHORT_ID_LEN], rid[CLI_FMT_SHORT_ID_LEN];

	memset(&a, 0, sizeof a);
	memset(&r, 0, sizeof r);
	/* Options end at "--": everything after it is the command, which
	 * may have options of its own. */
	for (dd = 1; dd < argc && strcmp(argv[dd], "--") != 0; dd++)
		;
	if ((rc = cli_opts_parse(cli, dd, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE) {
		exit_code = rc;
		goto out;
	}
	if (dd >= argc || dd + 1 >= argc) {
		exit_code = cli_usage(cli, "missing -- CMD [ARGS...]: the command that checks the restored snapshot");
		goto out;
	}
	if ((rc = cli_select_operands(cli, &a.sel, dd, argv, &first, 0, "latest")) != CLI_CONTINUE) {
		exit_code = rc;
		goto out;
	}
	if (first < dd) {
		exit_code = cli_usage(cli, "unexpected argument %s (the command goes after --)", argv[first]);
		goto out;
	}
	a.cmd = argv + dd + 1;
	if (!a.name) {
		a.name_copy = strdup(a.cmd[0]);
		a.name = a.name_copy ? basename(a.name_copy) : NULL;
		if (!a.name || !name_ok(a.name)) {
			exit_code = cli_usage(cli, "the command's name '%s' is not 1 to %d bytes of printable UTF-8; "
			                      "give --name NAME", a.cmd[0], VERIFIED_NAME_MAX);
			goto out;
		}
	}
	/* An inherited "ignore SIGCHLD" would reap the command before its
	 * exit status could be read. */
	signal(SIGCHLD, SIG_DFL);
	if ((rc = cli_scratch_fork(a.keep)) != 0) {
		exit_code = cli_failf(cli, rc, "cannot start the restore test: %s", strerror(-rc));
		goto out;
	}

	/* ---- the worker ---- */
	r.cli = cli;
	r.a = &a;
	exit_code = test(&r);
	if (r.have_rec)
		exit_code = record(&r, exit_code);
	/* Only a directory this run made ready: one refused (not empty) is
	 * someone else's. */
	if (r.prepared && !a.keep) {
		if ((rc = cli_scratch_remove(r.dir, r.created, &err)) == 0) {
			r.removed = 1;
			cli_scratch_announce_removed();
		} else {
			cli_warn("cannot remove scratch directory %s: %s", r.dir, err.msg);
			if (exit_code == CLI_EXIT_OK)
				exit_code = CLI_EXIT_FAILURE;
		}
	}
	if (r.have_rec) {
		describe(&r, what, sizeof what);
		if (cli->json) {
			if (print_json(&r) < 0 && exit_code == CLI_EXIT_OK)
				exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
		} else if (r.rec.outcome == VERIFIED_PASSED) {
			if (!cli->quiet) {
				printf("restore test passed: %s", what);
				if (r.recorded)
					printf("; recorded as %s", cli_fmt_short_id(r.rec.id, rid));
				printf("\n");
			}
		} else {
			cli_failf(cli, STRATA_EDAMAGED, "snapshot %s did not pass its restore test: %s%s%s",
			          cli_fmt_short_id(r.snap.id, id), what, r.recorded ? "; recorded as " : "",
			          r.recorded ? cli_fmt_short_id(r.rec.id, rid) : "");
		}
		if (a.keep && !cli->json && !cli->quiet)
			printf("scratch directory kept: %s\n", r.dir);
	}
out:
	if (a.metrics && exit_code != CLI_EXIT_USAGE) {
		StrataErr merr = { 0, "" };
		if (write_metrics(cli, &a, exit_code, (double)(cli_now_ns() - t0) / 1e9, r.have_rec ? &r.rec : NULL,
		                  &merr) != 0) {
			cli_warn("%s", merr.msg);
			if (exit_code == CLI_EXIT_OK)
				exit_code = CLI_EXIT_FAILURE;
		}
	}
	if (r.have_snap)
		snapshot_clear(&r.snap);
	repo_close(r.repo);
	cli_select_free(&a.sel);
	free(a.name_copy);
	return exit_code;
}

const CliCommand cmd_verify_restore = {
	.name = "verify-restore",
	.summary = "Restore a snapshot into a scratch directory, run a check on it, record the outcome.",
	.usage = "strata verify-restore [SNAPSHOT] [--at TIME | --at-height N | --label KEY=VALUE]\n"
	         "                      [--host H] [--tag T]... [--path P]... [--scratch DIR] [--keep-scratch]\n"
	         "                      [--timeout DURATION] [--name NAME] [--metrics-file FILE] -- CMD [ARGS...]",
	.help =
		"A snapshot is only worth what its restore gives back. verify-restore\n"
		"restores SNAPSHOT (default: latest) into an empty scratch directory, runs\n"
		"CMD there, and records the outcome in the repository as a small sealed\n"
		"object of its own (the snapshot itself never changes): CMD exiting 0\n"
		"means the snapshot passed. `snapshots` shows the newest test of each\n"
		"snapshot, and `restore --verified` (like dump, ls and snapshots) picks the\n"
		"newest snapshot whose newest test passed. Failures are recorded too.\n"
		"\n"
		"CMD runs without a shell (write `-- sh -c '...'` for one), in its own\n"
		"process group, with the scratch directory as working directory, standard\n"
		"input from /dev/null and its standard output sent to standard error. Its\n"
		"environment is strata's plus:\n"
		"  STRATA_RESTORE_DIR       the scratch directory; a snapshot keeps absolute\n"
		"                           paths, so /var/lib/node is at $STRATA_RESTORE_DIR/var/lib/node\n"
		"  STRATA_RESTORE_PATH      for a snapshot of one path: its restored copy\n"
		"  STRATA_SNAPSHOT_ID, STRATA_SNAPSHOT_SHORT_ID, STRATA_SNAPSHOT_TIME (RFC 3339,\n"
		"                           UTC), STRATA_SNAPSHOT_HOST\n"
		"  STRATA_SNAPSHOT_PATHS    the backed-up paths, one per line\n"
		"  STRATA_SNAPSHOT_TAGS     the tags, comma-separated\n"
		"  STRATA_SNAPSHOT_LABELS   the labels KEY=VALUE, one per line; each also as\n"
		"                           STRATA_SNAPSHOT_LABEL_<KEY> (upper case, other\n"
		"                           characters as _), e.g. STRATA_SNAPSHOT_LABEL_HEIGHT\n"
		"The record keeps the command's name (the base name of CMD, or --name),\n"
		"never its arguments, which may hold secrets.\n"
		"\n"
		"Options:\n"
		"      --scratch DIR     restore here; it must be empty or missing (default: a\n"
		"                        new directory under the cache, <cache>/<repository\n"
		"                        ID>/verify-restore/). It is removed afterwards, also\n"
		"                        after an error, SIGTERM or SIGINT (a DIR that existed\n"
		"                        is emptied and kept); it needs room for the snapshot\n"
		"      --keep-scratch    leave the restored files there (for debugging)\n"
		"      --timeout DURATION  stop CMD after this long (90s, 45m, 2h, 1h30m; at\n"
		"                        most 30d): SIGTERM to its process group, SIGKILL 10 s\n"
		"                        later; recorded as a failure (outcome timeout)\n"
		"      --name NAME       the name recorded for CMD (default: its base name)\n"
		"      --threads N       restore worker threads (default: one per core)\n"
		"      --verify          also re-hash every chunk against its ID while restoring\n"
		"      --metrics-file FILE  write Prometheus metrics to FILE (atomically): the\n"
		"                        job gauges of backup plus\n"
		"                        strata_last_verified_restore_timestamp_seconds,\n"
		"                        strata_verified_restore_snapshot_timestamp_seconds\n"
		"                        and strata_verified_restore_success, labelled job\n"
		"      --job NAME        the job label of those metrics (default verify-restore)\n"
		"\n"
		CLI_SELECT_HELP
		"\n"
		"Exit status: 0 the snapshot passed; 1 it did not (CMD failed, was killed or\n"
		"timed out, or the restore found the snapshot damaged): recorded; any other\n"
		"status (CMD could not be started, the scratch directory is not empty, no\n"
		"space, no repository...) as for other commands, with nothing recorded.\n"
		"\n"
		"Examples:\n"
		"  strata verify-restore --tag chain -- \\\n"
		"      sh -c 'exec ldb --db=\"$STRATA_RESTORE_DIR/var/lib/node/db\" checkconsistency'\n"
		"  strata verify-restore --label kind=pg-base --scratch /var/tmp/strata-verify \\\n"
		"      --timeout 1h -- strata-verify-pg\n"
		"  strata verify-restore 3fa1c2d4 --scratch /mnt/spare/test --keep-scratch -- ls -R\n"
		"  strata snapshots --verified --latest 1\n"
		"  strata restore --verified --tag chain --target /var/lib/node-restore\n",
	.run = run,
};
