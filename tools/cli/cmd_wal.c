/* cmd_wal.c — `strata wal-push`, `wal-fetch`, `wal-list`, `wal-prune`:
 * PostgreSQL WAL archiving (archive_command / restore_command).
 *
 * wal-fetch follows PostgreSQL's rules for restore_command: exit 0 only
 * when the whole file is at DEST; exit 1 only when the archive truly does
 * not hold it (PostgreSQL then takes the archive to have ended and may
 * promote); 128 for every other failure — a usage error, no repository,
 * a wrong password, a network or storage error, damaged data — because an
 * exit status above 125 makes PostgreSQL stop recovery instead of ending
 * it early on a segment that does exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/lock.h"
#include "store/snapshot.h"
#include "store/wal/wal.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_lock.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_repo.h"
#include "tools/cli/wal_archiver.h"
#include "tools/cli/wal_daemon.h"
#include "tools/cli/wal_fetcher.h"

#define WAL_EXIT_ABSENT 1      /* restore_command: "no such file in the archive" */
#define WAL_EXIT_HALT   128    /* restore_command: stop recovery, do not promote */
#define WAL_LOCK_WAIT_S 120    /* ride out prune's short exclusive phase */
#define WAL_PREFETCH_DEFAULT 8 /* segments fetched ahead: 128 MiB of 16 MiB segments */
#define WAL_PREFETCH_MAX 256

enum {
	OPT_COMPRESSION = CLI_OPT_CMD,
	OPT_PREFETCH,
	OPT_PREFETCH_WORKER,
	OPT_BEFORE,
	OPT_DRY_RUN,
	OPT_ASYNC,
	OPT_ARCHIVER,
	OPT_READY_FD,
	OPT_IDLE,
	OPT_FETCHER
};

/* Take the shared lock every reader and writer of packs holds (the
 * options of tools/cli/cli_lock.h), waiting at least WAL_LOCK_WAIT_S for a
 * prune's exclusive phase to end: PostgreSQL calls these commands
 * unattended. A reader (wal-fetch) does not stop when its lock is lost:
 * what it reads is checked anyway, and cli_lock's exit status 11 would
 * tell PostgreSQL "no such file" (wal.h, exit rules above). */
int cmd_wal_lock(const Cli *cli, Repo *repo, const char *command, int writer, Lock **out, StrataErr *err)
{
	LockOptions lo;
	int rc;

	memset(&lo, 0, sizeof lo);
	rc = cli_lock_options(cli, &lo, err);
	if (rc)
		return rc;
	lo.command = command;
	if (lo.wait_s < WAL_LOCK_WAIT_S)
		lo.wait_s = WAL_LOCK_WAIT_S;
	if (!writer) {
		lo.on_lost = NULL;
		lo.lost_ctx = NULL;
	}
	return lock_acquire(repo, LOCK_SHARED, &lo, out, err);
}

static int wal_lock(const Cli *cli, Repo *repo, const char *command, int writer, Lock **out, StrataErr *err)
{
	return cmd_wal_lock(cli, repo, command, writer, out, err);
}

/* The options both wal-push and wal-fetch take for their helper process
 * (the archiver, the fetcher): --async, and the internal ones the helper is
 * started with. */
typedef struct HelperArgs {
	int async;
	const char *serve;     /* internal: run as the helper of this pg_wal */
	long ready_fd;
	long idle_s;
} HelperArgs;

#define HELPER_LONGOPTS(serve_name, serve_opt) \
	{ "async",    no_argument,       NULL, OPT_ASYNC }, \
	{ serve_name, required_argument, NULL, serve_opt }, \
	{ "ready-fd", required_argument, NULL, OPT_READY_FD }, \
	{ "idle",     required_argument, NULL, OPT_IDLE }

/* One of HELPER_LONGOPTS' options into h (serve_opt: the command's
 * --archiver or --fetcher). 0 when opt is not one of them. */
static int helper_opt(Cli *cli, int opt, const char *arg, int serve_opt, HelperArgs *h, int *out_rc)
{
	if (opt == OPT_ASYNC) {
		h->async = 1;
		*out_rc = CLI_CONTINUE;
	} else if (opt == serve_opt) {
		*out_rc = arg[0] == '/' ? CLI_CONTINUE
		          : cli_usage(cli, "--%s wants an absolute directory: %s",
		                      serve_opt == OPT_ARCHIVER ? "archiver" : "fetcher", arg);
		h->serve = arg;
	} else if (opt == OPT_READY_FD) {
		*out_rc = cli_parse_int(arg, 0, 1 << 20, &h->ready_fd) < 0
		          ? cli_usage(cli, "--ready-fd wants a descriptor number: %s", arg) : CLI_CONTINUE;
	} else if (opt == OPT_IDLE) {
		*out_rc = cli_parse_int(arg, 1, 86400, &h->idle_s) < 0
		          ? cli_usage(cli, "--idle wants seconds from 1 to 86400: %s", arg) : CLI_CONTINUE;
	} else {
		return 0;
	}
	return 1;
}

/* --async's default: STRATA_WAL_ASYNC=1. */
static HelperArgs helper_defaults(long idle_s)
{
	const char *env = getenv("STRATA_WAL_ASYNC");
	HelperArgs h = { env && strcmp(env, "1") == 0, NULL, -1, idle_s };

	return h;
}

/* ---- wal-push ---- */

typedef struct PushArgs {
	long level;
	HelperArgs h;
} PushArgs;

static const struct option push_longopts[] = {
	{ "compression", required_argument, NULL, OPT_COMPRESSION },
	HELPER_LONGOPTS("archiver", OPT_ARCHIVER),
	{ NULL, 0, NULL, 0 }
};

static int push_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	PushArgs *a = ctx;
	int rc;

	if (helper_opt(cli, opt, arg, OPT_ARCHIVER, &a->h, &rc))
		return rc;
	if (opt == OPT_COMPRESSION) {
		if (cli_parse_int(arg, 1, 22, &a->level) < 0)
			return cli_usage(cli, "--compression wants a zstd level from 1 to 22: %s", arg);
		return CLI_CONTINUE;
	}
	return cli_usage(cli, "unexpected option");
}

static int run_push(Cli *cli, int argc, char **argv)
{
	StrataErr err = { 0, "" };
	WalPushResult res;
	Repo *repo = NULL;
	Lock *lock = NULL;
	PushArgs a = { 3, helper_defaults(WALARCH_IDLE_S_DEFAULT) };
	const char *path, *name;
	char b1[CLI_FMT_BYTES_LEN], b2[CLI_FMT_BYTES_LEN];
	int rc, first, exit_code = CLI_EXIT_OK;

	memset(&res, 0, sizeof res);
	if ((rc = cli_opts_parse(cli, argc, argv, "", push_longopts, push_opt, &a, &first)) != CLI_CONTINUE)
		return rc;
	if (a.h.serve) {
		if (first < argc)
			return cli_usage(cli, "--archiver takes no PATH");
		return walarch_serve(cli, a.h.serve, (int)a.h.ready_fd, (int)a.level, (int)a.h.idle_s);
	}
	if (first >= argc)
		return cli_usage(cli, "missing PATH (archive_command = 'strata wal-push %%p')");
	if (argc - first > 1)
		return cli_usage(cli, "unexpected argument %s", argv[first + 1]);
	path = argv[first];
	name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (a.h.async) {
		if ((rc = walarch_push(cli, path, (int)a.level, (int)a.h.idle_s, &err)) != 0)
			return cli_fail(cli, rc, &err);
		if (cli->json) {
			if (cli_json_print(json_pack("{s:s,s:b}", "name", name, "async", 1), 0) < 0)
				return cli_failf(cli, -EIO, "cannot write to stdout");
		} else if (cli->verbose) {
			printf("%s: archived (by the WAL archiver)\n", name);
		}
		return CLI_EXIT_OK;
	}
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = wal_lock(cli, repo, "wal-push", 1, &lock, &err)) ||
	    (rc = wal_push(repo, path, NULL, (int)a.level, &res, &err))) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	if (cli->json) {
		json_t *o = json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I}", "name", name, "already_archived", res.already,
		                      "size", (json_int_t)res.size, "chunks", (json_int_t)res.chunks,
		                      "chunks_new", (json_int_t)res.chunks_new, "bytes_new", (json_int_t)res.bytes_new,
		                      "bytes_stored", (json_int_t)res.bytes_stored);
		if (o && cli_json_set_requests(o, "requests", repo) < 0)
			json_decref(o), o = NULL;
		if (cli_json_print(o, 0) < 0)
			exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
	} else if (cli->verbose) {
		/* archive_command output goes to the server log: one line, and only
		 * when asked for. */
		if (res.already)
			printf("%s: already archived (identical content)\n", name);
		else
			printf("%s: archived, %s in %llu chunks, %llu new, stored as %s\n", name,
			       cli_fmt_bytes(res.size, b1), (unsigned long long)res.chunks,
			       (unsigned long long)res.chunks_new, cli_fmt_bytes(res.bytes_stored, b2));
	}
out:
	lock_release(lock);
	repo_close(repo);
	return exit_code;
}

const CliCommand cmd_wal_push = {
	.name = "wal-push",
	.summary = "Archive one PostgreSQL WAL file (archive_command).",
	.usage = "strata wal-push [--async] [--compression N] PATH",
	.help =
		"Stores the WAL segment, .partial, .history or .backup file at PATH under\n"
		"its file name, chunked, deduplicated and compressed (a 16 MiB segment that\n"
		"is mostly zeros shrinks to a few KiB). Exits 0 only once the file is\n"
		"durably stored. Pushing identical content again succeeds; different\n"
		"content under a name already archived fails loudly and changes nothing.\n"
		"\n"
		"Options:\n"
		"      --async           hand the file to this cluster's WAL archiver, a\n"
		"                        long-lived strata process started on demand, and\n"
		"                        wait for it (also STRATA_WAL_ASYNC=1). The archiver\n"
		"                        keeps the key, repository and lock open, stores the\n"
		"                        segments PostgreSQL has marked ready ahead of their\n"
		"                        archive_command, many per pack, and answers only\n"
		"                        once the file is durable: exit 0 means stored. If\n"
		"                        it dies, the waiting call fails and PostgreSQL\n"
		"                        retries; nothing is lost. It exits after 60 s idle\n"
		"                        (--idle S); its PID and log are in the cache's\n"
		"                        walarch/ directory.\n"
		"      --compression N   zstd level 1-22 (default 3)\n"
		"\n"
		"postgresql.conf (the repository and password come from the environment,\n"
		"so wrap strata in a script that sets them):\n"
		"  archive_mode = on\n"
		"  archive_command = '/usr/local/bin/strata-pg wal-push %p'\n"
		"where strata-pg is:\n"
		"  #!/bin/sh\n"
		"  export STRATA_REPOSITORY=/srv/backup/pg STRATA_PASSWORD_FILE=/etc/strata/pw\n"
		"  exec strata \"$@\"\n"
		"\n"
		"Examples:\n"
		"  strata wal-push pg_wal/000000010000000000000003\n"
		"  archive_command = '/usr/local/bin/strata-pg wal-push --async %p'\n"
		"  strata -v wal-push pg_wal/00000002.history\n",
	.run = run_push,
};

/* ---- wal-fetch ---- */

typedef struct FetchArgs {
	long prefetch;
	int worker;            /* internal: run as the background prefetcher */
	HelperArgs h;
} FetchArgs;

static const struct option fetch_longopts[] = {
	{ "prefetch",        required_argument, NULL, OPT_PREFETCH },
	{ "prefetch-worker", no_argument,       NULL, OPT_PREFETCH_WORKER },
	HELPER_LONGOPTS("fetcher", OPT_FETCHER),
	{ NULL, 0, NULL, 0 }
};

static int fetch_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	FetchArgs *a = ctx;
	int rc;

	if (helper_opt(cli, opt, arg, OPT_FETCHER, &a->h, &rc))
		return rc;
	switch (opt) {
	case OPT_PREFETCH:
		if (cli_parse_int(arg, 0, WAL_PREFETCH_MAX, &a->prefetch) < 0)
			return cli_usage(cli, "--prefetch wants a number of segments from 0 to %d: %s", WAL_PREFETCH_MAX, arg);
		return CLI_CONTINUE;
	case OPT_PREFETCH_WORKER:
		a->worker = 1;
		return CLI_CONTINUE;
	default:
		return cli_usage(cli, "unexpected option");
	}
}

/* Start `strata wal-fetch --prefetch-worker NAME` detached (own session,
 * no terminal, output discarded), so this process can exit and PostgreSQL
 * go on while the next segments download into the spool. The worker runs
 * a fresh copy of this program: the open repository (LMDB) must not be
 * used across fork. Best effort: a failure here costs only speed. */
static void spawn_prefetch(const Cli *cli, const char *name, long count)
{
	char num[24];
	const char *args[] = { "wal-fetch", "--prefetch-worker", "--prefetch", num, name, NULL };

	snprintf(num, sizeof num, "%ld", count);
	(void)wald_detach(cli, args, NULL, -1);
}

static int run_fetch(Cli *cli, int argc, char **argv)
{
	StrataErr err = { 0, "" };
	FetchArgs a = { WAL_PREFETCH_DEFAULT, 0, helper_defaults(WALFETCH_IDLE_S_DEFAULT) };
	WalFetchResult res;
	Repo *repo = NULL;
	Lock *lock = NULL;
	const char *name;
	int rc, first, exit_code = CLI_EXIT_OK, kind;

	memset(&res, 0, sizeof res);
	if ((rc = cli_opts_parse(cli, argc, argv, "", fetch_longopts, fetch_opt, &a, &first)) != CLI_CONTINUE)
		return rc == CLI_EXIT_OK ? rc : WAL_EXIT_HALT;
	if (a.h.serve) {
		if (first < argc)
			return WAL_EXIT_HALT;
		return walfetch_serve(cli, a.h.serve, (int)a.h.ready_fd, (int)a.prefetch, (int)a.h.idle_s) ? WAL_EXIT_HALT : 0;
	}
	if (a.worker) {
		/* Internal: fill the spool after NAME; nothing to report. */
		unsigned got = 0;
		if (argc - first != 1 || cli_repo_open(cli, &repo, &err) != 0)
			return WAL_EXIT_HALT;
		if (wal_lock(cli, repo, "wal-prefetch", 0, &lock, &err) == 0)
			wal_prefetch(repo, argv[first], (unsigned)a.prefetch, &got, &err);
		lock_release(lock);
		repo_close(repo);
		return CLI_EXIT_OK;
	}
	if (argc - first != 2) {
		cli_usage(cli, "wants NAME and DEST (restore_command = 'strata wal-fetch %%f %%p')");
		return WAL_EXIT_HALT;
	}
	name = argv[first];
	if (a.h.async) {
		if ((rc = walfetch_get(cli, name, argv[first + 1], (int)a.prefetch, (int)a.h.idle_s, &err)) != 0) {
			cli_fail(cli, rc, &err);
			return rc == STRATA_ENOTFOUND ? WAL_EXIT_ABSENT : WAL_EXIT_HALT;
		}
		if (cli->json) {
			if (cli_json_print(json_pack("{s:s,s:s,s:b}", "name", name, "dest", argv[first + 1], "async", 1), 0) < 0)
				return WAL_EXIT_HALT;
		} else if (cli->verbose) {
			printf("%s: restored to %s (by the WAL fetcher)\n", name, argv[first + 1]);
		}
		return CLI_EXIT_OK;
	}
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = wal_lock(cli, repo, "wal-fetch", 0, &lock, &err)) ||
	    (rc = wal_fetch(repo, name, argv[first + 1], &res, &err))) {
		cli_fail(cli, rc, &err);
		exit_code = rc == STRATA_ENOTFOUND ? WAL_EXIT_ABSENT : WAL_EXIT_HALT;
		goto out;
	}
	if (cli->json) {
		json_t *o = json_pack("{s:s,s:s,s:I,s:b}", "name", name, "dest", argv[first + 1],
		                      "size", (json_int_t)res.size, "from_spool", res.from_spool);
		if (o && cli_json_set_requests(o, "requests", repo) < 0)
			json_decref(o), o = NULL;
		if (cli_json_print(o, 0) < 0)
			exit_code = WAL_EXIT_HALT;
	} else if (cli->verbose && !cli->json)
		printf("%s: restored to %s (%llu bytes%s)\n", name, argv[first + 1],
		       (unsigned long long)res.size, res.from_spool ? ", prefetched" : "");
	if (exit_code == CLI_EXIT_OK && a.prefetch > 0 && wal_name_parse(name, &kind, NULL) == 0 && kind == WAL_SEGMENT)
		spawn_prefetch(cli, name, a.prefetch);
out:
	lock_release(lock);
	repo_close(repo);
	return exit_code;
}

const CliCommand cmd_wal_fetch = {
	.name = "wal-fetch",
	.summary = "Restore one PostgreSQL WAL file (restore_command).",
	.usage = "strata wal-fetch [--async] [--prefetch N] NAME DEST",
	.help =
		"Writes the archived WAL file NAME to DEST, mode 0600 (a private temporary\n"
		"file renamed into place: DEST never holds a partial file; not fsynced, as\n"
		"recovery asks again after a machine crash). After a segment,\n"
		"the next N segments are fetched in the background into a spool in the\n"
		"cache directory, so the following calls are served locally.\n"
		"\n"
		"Exit status, as PostgreSQL expects of restore_command:\n"
		"  0    the file is at DEST, complete\n"
		"  1    the archive does not hold NAME (the end of the archive)\n"
		"  128  any other failure: usage, repository, password, network, damaged\n"
		"       data. Above 125, PostgreSQL stops recovery instead of promoting\n"
		"       before the end of the WAL it needs.\n"
		"\n"
		"Options:\n"
		"      --prefetch N   segments to fetch ahead (default 8; 0: none)\n"
		"      --async        take NAME from this cluster's WAL fetcher, a long-lived\n"
		"                     strata process started on demand (also\n"
		"                     STRATA_WAL_ASYNC=1): it opens the repository once per\n"
		"                     recovery and keeps the next N segments in a spool in\n"
		"                     pg_wal/.strata-spool/, from which the file is renamed to\n"
		"                     DEST (no copy, no fsync). Exit codes as above; it exits\n"
		"                     after 60 s idle (--idle S) and removes its spool.\n"
		"                     strata-wal-fetch NAME DEST, a small program\n"
		"                     installed beside strata (libc, libsodium), does the same\n"
		"                     at a fraction of the cost per call: it renames the\n"
		"                     spooled file itself and runs strata wal-fetch\n"
		"                     --async for anything else (options, no fetcher yet,\n"
		"                     errors); it takes the repository from\n"
		"                     STRATA_REPOSITORY.\n"
		"\n"
		"postgresql.conf of the server being recovered (with a wrapper script that\n"
		"sets STRATA_REPOSITORY and STRATA_PASSWORD_FILE, see `strata help wal-push`):\n"
		"  restore_command = '/usr/local/bin/strata-pg wal-fetch %f %p'\n"
		"  recovery_target_time = '2024-05-01 12:00:00+00'\n"
		"\n"
		"Examples:\n"
		"  strata wal-fetch 000000010000000000000003 /tmp/seg\n"
		"  strata wal-fetch --prefetch 32 00000002.history pg_wal/RECOVERYHISTORY\n"
		"  restore_command = '/usr/local/bin/strata-pg wal-fetch --async %f %p'\n"
		"  restore_command = 'env STRATA_REPOSITORY=/srv/backup/pg \\\n"
		"      STRATA_PASSWORD_FILE=/etc/strata/pw strata-wal-fetch %f %p'\n",
	.run = run_fetch,
};

/* ---- wal-list ---- */

static int run_list(Cli *cli, int argc, char **argv)
{
	StrataErr err = { 0, "" };
	WalTimeline *tls = NULL;
	size_t n = 0;
	Repo *repo = NULL;
	json_t *arr = NULL;
	char b[CLI_FMT_BYTES_LEN];
	int rc, first, exit_code = CLI_EXIT_OK;

	if ((rc = cli_opts_parse(cli, argc, argv, "", NULL, NULL, NULL, &first)) != CLI_CONTINUE)
		return rc;
	if (first < argc)
		return cli_usage(cli, "unexpected argument %s", argv[first]);
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = wal_list(repo, &tls, &n, &err))) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	if (cli->json) {
		if (!(arr = json_array()))
			goto oom;
		for (size_t i = 0; i < n; i++) {
			const WalTimeline *t = &tls[i];
			if (json_array_append_new(arr, json_pack("{s:I,s:s?,s:s?,s:I,s:I,s:I,s:I,s:I,s:I}",
			                          "timeline", (json_int_t)t->timeline,
			                          "first", t->segments ? t->first : NULL,
			                          "last", t->segments ? t->last : NULL,
			                          "segments", (json_int_t)t->segments, "missing", (json_int_t)t->missing,
			                          "segment_size", (json_int_t)t->segment_size,
			                          "partial", (json_int_t)t->partials, "history", (json_int_t)t->histories,
			                          "backup", (json_int_t)t->backups)) < 0)
				goto oom;
		}
		if (cli_json_print(arr, 0) < 0)
			exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
		arr = NULL;
		goto out;
	}
	printf("%-8s  %-24s  %-24s  %8s  %7s  %9s  %7s  %7s  %7s\n", "Timeline", "First segment", "Last segment",
	       "Segments", "Missing", "Seg. size", "History", "Backups", "Partial");
	for (size_t i = 0; i < n; i++) {
		const WalTimeline *t = &tls[i];
		printf("%-8u  %-24s  %-24s  %8llu  %7llu  %9s  %7llu  %7llu  %7llu\n", (unsigned)t->timeline,
		       t->segments ? t->first : "-", t->segments ? t->last : "-",
		       (unsigned long long)t->segments, (unsigned long long)t->missing,
		       t->segment_size ? cli_fmt_bytes(t->segment_size, b) : "-",
		       (unsigned long long)t->histories, (unsigned long long)t->backups,
		       (unsigned long long)t->partials);
	}
	printf("%zu timeline%s\n", n, n == 1 ? "" : "s");
	goto out;
oom:
	exit_code = cli_failf(cli, -ENOMEM, "out of memory");
out:
	json_decref(arr);
	free(tls);
	repo_close(repo);
	return exit_code;
}

const CliCommand cmd_wal_list = {
	.name = "wal-list",
	.summary = "Show the timelines and WAL ranges the archive holds.",
	.usage = "strata wal-list",
	.help =
		"One line per timeline: the first and last segment held, how many\n"
		"segments, how many are missing between those two (a gap means recovery\n"
		"cannot pass it), the segment size, and the .history, .backup and\n"
		".partial files. With --json, an array of objects with the same fields.\n"
		"\n"
		"Examples:\n"
		"  strata wal-list\n"
		"  strata wal-list --json | jq '.[] | select(.missing > 0)'\n",
	.run = run_list,
};

/* ---- wal-prune ---- */

typedef struct PruneArgs {
	const char *before;
	int dry_run;
} PruneArgs;

static const struct option prune_longopts[] = {
	{ "before",  required_argument, NULL, OPT_BEFORE },
	{ "dry-run", no_argument,       NULL, OPT_DRY_RUN },
	{ NULL, 0, NULL, 0 }
};

static int prune_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	PruneArgs *a = ctx;

	switch (opt) {
	case OPT_BEFORE:
		a->before = arg;
		return CLI_CONTINUE;
	case OPT_DRY_RUN:
		a->dry_run = 1;
		return CLI_CONTINUE;
	default:
		return cli_usage(cli, "unexpected option");
	}
}

/* The segment to keep from: --before's segment, or the start of the base
 * backup it names, or of the oldest snapshot labelled kind=pg-base. */
static int prune_point(Repo *repo, const PruneArgs *a, char seg[WAL_NAME_MAX + 1], char snap_id[9],
                       StrataErr *err)
{
	Snapshot *all = NULL, one;
	size_t n = 0, i;
	int kind, rc;

	snap_id[0] = '\0';
	if (a->before && wal_name_parse(a->before, &kind, NULL) == 0) {
		if (kind != WAL_SEGMENT)
			return strata_err_set(err, STRATA_EUSAGE, "--before %s: give a segment name or a snapshot", a->before);
		snprintf(seg, WAL_NAME_MAX + 1, "%s", a->before);
		return 0;
	}
	if (a->before) {
		rc = snapshot_find(repo, a->before, &one, err);
		if (rc)
			return rc;
		rc = wal_backup_start(repo, &one, seg, err);
		cli_fmt_short_id(one.id, snap_id);
		snapshot_clear(&one);
		return rc;
	}
	rc = snapshot_list(repo, &all, &n, err);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {   /* oldest first */
		const char *k = snapshot_label(&all[i], "kind");
		if (k && strcmp(k, "pg-base") == 0)
			break;
	}
	if (i == n)
		rc = strata_err_set(err, STRATA_EREFUSED, "no snapshot is labelled kind=pg-base, so nothing says which WAL "
		                    "is still needed; give --before SNAPSHOT|SEGMENT");
	else {
		rc = wal_backup_start(repo, &all[i], seg, err);
		cli_fmt_short_id(all[i].id, snap_id);
	}
	snapshot_list_free(all, n);
	return rc;
}

static int run_prune(Cli *cli, int argc, char **argv)
{
	StrataErr err = { 0, "" };
	PruneArgs a = { NULL, 0 };
	WalPruneResult res = { 0, 0 };
	Repo *repo = NULL;
	Lock *lock = NULL;
	char seg[WAL_NAME_MAX + 1], snap_id[9];
	int rc, first, exit_code = CLI_EXIT_OK;

	if ((rc = cli_opts_parse(cli, argc, argv, "", prune_longopts, prune_opt, &a, &first)) != CLI_CONTINUE)
		return rc;
	if (first < argc)
		return cli_usage(cli, "unexpected argument %s (give the point with --before)", argv[first]);
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = prune_point(repo, &a, seg, snap_id, &err)) ||
	    (!a.dry_run && (rc = wal_lock(cli, repo, "wal-prune", 1, &lock, &err))) ||
	    (rc = wal_prune(repo, seg, a.dry_run, &res, &err))) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	if (cli->json) {
		if (cli_json_print(json_pack("{s:s,s:s?,s:b,s:I,s:I}", "before", seg, "base_backup",
		                             snap_id[0] ? snap_id : NULL, "dry_run", a.dry_run,
		                             "removed", (json_int_t)res.removed, "kept", (json_int_t)res.kept), 0) < 0)
			exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
	} else if (!cli->quiet) {
		printf("%s %llu WAL file%s older than %s", a.dry_run ? "would remove" : "removed",
		       (unsigned long long)res.removed, res.removed == 1 ? "" : "s", seg);
		if (snap_id[0])
			printf(" (start of base backup %s)", snap_id);
		printf("; %llu kept\n", (unsigned long long)res.kept);
		if (res.removed && !a.dry_run)
			printf("run `strata prune` to free the space their chunks take\n");
	}
out:
	lock_release(lock);
	repo_close(repo);
	return exit_code;
}

const CliCommand cmd_wal_prune = {
	.name = "wal-prune",
	.summary = "Remove archived WAL older than the oldest base backup kept.",
	.usage = "strata wal-prune [--before SNAPSHOT|SEGMENT] [--dry-run]",
	.help =
		"Removes WAL segments, .partial and .backup files that precede a point,\n"
		"on every timeline (as pg_archivecleanup does); .history files stay.\n"
		"The point is the start segment (from its backup_label) of the oldest\n"
		"snapshot labelled kind=pg-base, so every base backup kept can still be\n"
		"recovered to any time after it. Run it after `strata forget`; then\n"
		"`strata prune` frees the space.\n"
		"\n"
		"Options:\n"
		"      --before SNAPSHOT  keep what the base backup SNAPSHOT needs\n"
		"      --before SEGMENT   keep SEGMENT and everything after it\n"
		"      --dry-run          count, remove nothing\n"
		"\n"
		"Examples:\n"
		"  pg_basebackup -D - -Ft -X none | strata backup --stdin-tar --label kind=pg-base\n"
		"  strata forget --keep-daily 7 && strata wal-prune && strata prune\n"
		"  strata wal-prune --before 000000010000000A00000000 --dry-run\n",
	.run = run_prune,
};
