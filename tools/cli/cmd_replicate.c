/* cmd_replicate.c — `strata replicate --to REPO2...`: copy the repository's
 * objects to other locations (remote/replicate.h does the work). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "remote/backend.h"
#include "remote/replicate.h"
#include "store/codec.h"
#include "store/indexfile.h"
#include "store/repo.h"
#include "tools/cli/cli_classmin.h"
#include "tools/cli/cli_password.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_metrics.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_progress.h"
#include "tools/cli/cli_repo.h"
#include "tools/cli/cli_tier.h"

enum {
	OPT_TO = CLI_OPT_CMD,
	OPT_STORAGE_CLASS,
	OPT_THREADS,
	OPT_DRY_RUN,
	OPT_METRICS,
	OPT_JOB,
	OPT_MIRROR,
	OPT_FORCE_EARLY
};

static const struct option longopts[] = {
	{ "to",            required_argument, NULL, OPT_TO },
	{ "storage-class", required_argument, NULL, OPT_STORAGE_CLASS },
	{ "threads",       required_argument, NULL, OPT_THREADS },
	{ "dry-run",       no_argument,       NULL, OPT_DRY_RUN },
	{ "metrics-file",  required_argument, NULL, OPT_METRICS },
	{ "job",           required_argument, NULL, OPT_JOB },
	{ "mirror",        no_argument,       NULL, OPT_MIRROR },
	{ "force-early-delete", no_argument,  NULL, OPT_FORCE_EARLY },
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	CliList targets;
	const char *storage_class;
	long threads;
	int dry_run;
	int mirror, force_early;
	const char *metrics, *job;
} Args;

/* What the mirror pass needs to read the target's index files: the key,
 * from the target opened with the repository's password (the target
 * holds the source's key files, copied first). */
typedef struct IndexCtx {
	const Cli *cli;
	const char *location;
	Repo *repo;           /* opened at the first call */
} IndexCtx;

/* The outcome for one target. */
typedef struct Outcome {
	const char *location;
	int rc;
	RemoteErr err;
	ReplicateResult res;
	BackendStats stats;     /* the target's requests */
	double duration_s;
} Outcome;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;

	switch (opt) {
	case OPT_TO:
		if (!*arg)
			return cli_usage(cli, "--to wants a repository location");
		if (cli_list_push(&a->targets, (char *)(uintptr_t)arg) < 0)
			return cli_failf(cli, -ENOMEM, "out of memory");
		return CLI_CONTINUE;
	case OPT_STORAGE_CLASS:
		a->storage_class = arg;
		return CLI_CONTINUE;
	case OPT_THREADS:
		if (cli_parse_int(arg, 0, 256, &a->threads) < 0)
			return cli_usage(cli, "--threads wants a number from 0 (default 6) to 256: %s", arg);
		return CLI_CONTINUE;
	case OPT_DRY_RUN:
		a->dry_run = 1;
		return CLI_CONTINUE;
	case OPT_MIRROR:
		a->mirror = 1;
		return CLI_CONTINUE;
	case OPT_FORCE_EARLY:
		a->force_early = 1;
		return CLI_CONTINUE;
	case OPT_METRICS:
		if (!*arg)
			return cli_usage(cli, "--metrics-file wants a file name");
		a->metrics = arg;
		return CLI_CONTINUE;
	case OPT_JOB:
		if (!*arg)
			return cli_usage(cli, "--job wants a name");
		a->job = arg;
		return CLI_CONTINUE;
	default:
		return cli_usage(cli, "unexpected option");
	}
}

static void on_progress(const ReplicateProgress *p, void *ctx)
{
	CliProgressStatus s;

	memset(&s, 0, sizeof s);
	s.phase = p->phase;
	s.unit = "objects";
	s.items = p->objects_done;
	s.items_total = p->objects_todo;
	s.bytes = p->bytes_done;
	cli_progress_show(ctx, &s);
}

/* The exit code for a replication failure. */
static int exit_of(int rc)
{
	switch (rc) {
	case -EBADMSG: return cli_exit_code(STRATA_EDAMAGED);
	case -EEXIST:  return cli_exit_code(STRATA_EEXIST);
	case -ENOENT:  return cli_exit_code(STRATA_ENOREPO);   /* no config at the source */
	case -EPROTONOSUPPORT: return cli_exit_code(STRATA_EVERSION);   /* a newer format */
	default:       return cli_exit_code(rc);
	}
}

static int write_metrics(const Args *a, const Outcome *o, size_t n, StrataErr *err)
{
	CliMetrics *m = cli_metrics_new();
	int rc = 0;

	if (!m)
		return strata_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *lb[] = { "job", a->job ? a->job : "replicate", "target", o[i].location, NULL };
#define ADD(name, help, v) \
	do { if (rc == 0) rc = cli_metrics_add(m, name, help, "gauge", lb, (double)(v)); } while (0)
		ADD("strata_replicate_success", "1 if the target holds every object of the repository, verified",
		    o[i].rc == 0);
		ADD("strata_replicate_last_run_timestamp_seconds", "when the replication finished (unix seconds)",
		    time(NULL));
		if (o[i].rc == 0)
			ADD("strata_replicate_last_success_timestamp_seconds",
			    "when the target was last complete (unix seconds)", time(NULL));
		ADD("strata_replicate_duration_seconds", "how long the replication took", o[i].duration_s);
		ADD("strata_replicate_objects_copied", "objects written and verified by this run",
		    o[i].res.objects_copied);
		ADD("strata_replicate_bytes_copied", "bytes written and verified by this run", o[i].res.bytes_copied);
		ADD("strata_replicate_objects_present", "objects the target already held", o[i].res.objects_present);
		ADD("strata_replicate_objects_damaged", "source objects failing their hash (not copied)",
		    o[i].res.objects_damaged);
		ADD("strata_replicate_requests", "requests sent to the target, repeats included", o[i].stats.requests);
		ADD("strata_replicate_retries", "requests to the target repeated after a failure", o[i].stats.retries);
		ADD("strata_replicate_bytes_sent", "request body bytes sent to the target", o[i].stats.bytes_sent);
		ADD("strata_replicate_bytes_received", "answer body bytes received from the target",
		    o[i].stats.bytes_received);
#undef ADD
	}
	if (rc)
		strata_err_set(err, rc, "cannot build metrics: %s", strerror(-rc));
	else
		rc = cli_metrics_write(m, a->metrics, err);
	cli_metrics_free(m);
	return rc;
}

static json_t *mirror_json(const ReplicateMirrorResult *m)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f}",
	                 "snapshots_deleted", (json_int_t)m->snapshots_deleted,
	                 "keys_deleted", (json_int_t)m->keys_deleted,
	                 "verified_deleted", (json_int_t)m->verified_deleted,
	                 "index_deleted", (json_int_t)m->index_deleted,
	                 "packs_deleted", (json_int_t)m->packs_deleted,
	                 "bytes_deleted", (json_int_t)m->bytes_deleted,
	                 "packs_held", (json_int_t)m->packs_held,
	                 "bytes_held", (json_int_t)m->bytes_held,
	                 "packs_kept_with_index", (json_int_t)m->packs_kept_with_index,
	                 "bytes_kept_with_index", (json_int_t)m->bytes_kept_with_index,
	                 "index_held", (json_int_t)m->index_held,
	                 "fees_avoided_usd", m->fees_avoided_usd);
}

static int print_json(const Outcome *o, size_t n, int mirror)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, json_pack("{s:o,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:f,s:I,s:I,s:I,s:I,s:o,s:o}",
		                                     "target", cli_json_str(o[i].location),
		                                     "ok", o[i].rc == 0,
		                                     "objects_source", (json_int_t)o[i].res.objects_source,
		                                     "objects_present", (json_int_t)o[i].res.objects_present,
		                                     "objects_copied", (json_int_t)o[i].res.objects_copied,
		                                     "bytes_copied", (json_int_t)o[i].res.bytes_copied,
		                                     "objects_sum_checked", (json_int_t)o[i].res.objects_sum_checked,
		                                     "objects_size_checked", (json_int_t)o[i].res.objects_size_checked,
		                                     "objects_vanished", (json_int_t)o[i].res.objects_vanished,
		                                     "objects_damaged", (json_int_t)o[i].res.objects_damaged,
		                                     "passes", (int)o[i].res.passes,
		                                     "duration_s", o[i].duration_s,
		                                     "requests", (json_int_t)o[i].stats.requests,
		                                     "retries", (json_int_t)o[i].stats.retries,
		                                     "bytes_sent", (json_int_t)o[i].stats.bytes_sent,
		                                     "bytes_received", (json_int_t)o[i].stats.bytes_received,
		                                     "error", o[i].rc ? cli_json_str(o[i].err.msg) : json_null(),
		                                     "mirror", mirror ? mirror_json(&o[i].res.mirror) : json_null()));
	return cli_json_print(json_pack("{s:o}", "targets", arr), 0);
}

static int rerr(RemoteErr *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int rerr(RemoteErr *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return code;
}

/* ReplicateIndexPacksFn: the packs index file index_name of the target
 * lists (FORMAT.md §10), as object names. */
static int index_packs(const char *index_name, char ***out_names, size_t *out_n, void *vctx, RemoteErr *err)
{
	IndexCtx *c = vctx;
	IndexFilePack *packs = NULL;
	uint8_t id[CODEC_ID_LEN];
	StrataErr serr = { 0, "" };
	char **names = NULL, hex[2 * CODEC_ID_LEN + 1];
	size_t n = 0;
	int rc;

	if (!c->repo) {
		CliPassword pw = { .len = 0 };
		RepoOpenOpts oo = { .cache_dir = c->cli->cache_dir };
		char prompt[1200];

		snprintf(prompt, sizeof prompt, "enter the password for repository %s: ", c->location);
		rc = cli_password_get(c->cli, prompt, 0, &pw, &serr);
		if (rc == 0)
			rc = repo_open_opts(c->location, pw.buf, pw.len, &oo, &c->repo, &serr);
		cli_password_wipe(&pw);
		if (rc)
			return rerr(err, rc, "%s: opening the copy to read its index "
			                       "files (needed to hold packs back): %s", c->location, serr.msg);
	}
	if (strncmp(index_name, "index/", 6) != 0 || codec_unhex(index_name + 6, id, sizeof id) != 0)
		return rerr(err, -EINVAL, "%s: %s: not an index file name", c->location, index_name);
	rc = indexfile_read(c->repo, id, &packs, &n, &serr);
	if (rc)
		return rerr(err, rc, "%s: %s", c->location, serr.msg);
	names = calloc(n ? n : 1, sizeof *names);
	for (size_t i = 0; names && i < n; i++) {
		codec_hex(packs[i].id, CODEC_ID_LEN, hex);
		if (asprintf(&names[i], "%s/%.2s/%s", packs[i].kind == 1 ? "tree" : "data", hex, hex) < 0) {
			names[i] = NULL;
			for (size_t j = 0; j < i; j++)
				free(names[j]);
			free(names);
			names = NULL;
		}
	}
	indexfile_packs_free(packs, n);
	if (!names)
		return rerr(err, -ENOMEM, "out of memory");
	*out_names = names;
	*out_n = n;
	return 0;
}

/* The mirror settings from the class rule in effect (--storage-class, else
 * STRATA_S3_STORAGE_CLASS): data/ packs in the data class, tree/ packs in
 * the metadata class. */
static void mirror_setup(const Args *a, ReplicateMirror *m)
{
	const char *rule = a->storage_class ? a->storage_class : getenv("STRATA_S3_STORAGE_CLASS");
	char cls[32];

	m->on = 1;
	m->force_early_delete = a->force_early;
	cli_classmin_of_rule(rule, "data", cls, sizeof cls);
	cli_classmin(cls[0] ? cls : NULL, &m->min_age_data_s, &m->usd_gib_month_data);
	cli_classmin_of_rule(rule, "metadata", cls, sizeof cls);
	cli_classmin(cls[0] ? cls : NULL, &m->min_age_tree_s, &m->usd_gib_month_tree);
	m->index_packs = index_packs;
}

static void print_mirror(const ReplicateMirrorResult *m, int dry_run)
{
	char b1[CLI_FMT_BYTES_LEN], b2[CLI_FMT_BYTES_LEN];

	printf("  mirror: %s %llu snapshots, %llu key files, %llu restore-test records, %llu index files, "
	       "%llu packs (%s)\n", dry_run ? "would delete" : "deleted",
	       (unsigned long long)m->snapshots_deleted, (unsigned long long)m->keys_deleted,
	       (unsigned long long)m->verified_deleted, (unsigned long long)m->index_deleted,
	       (unsigned long long)m->packs_deleted, cli_fmt_bytes(m->bytes_deleted, b1));
	if (m->packs_held)
		printf("  mirror: held back %llu packs (%s) younger than their storage class's minimum duration, "
		       "%llu more (%s) and %llu index files with them; early-deletion fees avoided: $%.4f\n",
		       (unsigned long long)m->packs_held, cli_fmt_bytes(m->bytes_held, b1),
		       (unsigned long long)m->packs_kept_with_index, cli_fmt_bytes(m->bytes_kept_with_index, b2),
		       (unsigned long long)m->index_held, m->fees_avoided_usd);
}

static void replicate_one(const Cli *cli, Backend *src, const Args *a, Outcome *o)
{
	ReplicateOptions opts;
	CliProgress progress;
	IndexCtx ictx = { cli, o->location, NULL };
	Backend *dst = NULL;
	int64_t t0 = cli_now_ns();

	memset(&opts, 0, sizeof opts);
	o->rc = backend_open(o->location, &dst, &o->err);
	if (o->rc == 0) {
		opts.naming = repo_config_naming;
		opts.threads = (int)a->threads;
		opts.dry_run = a->dry_run;
		opts.progress = on_progress;
		opts.progress_ctx = &progress;
		if (a->mirror) {
			mirror_setup(a, &opts.mirror);
			opts.mirror.index_ctx = &ictx;
		}
		cli_progress_init(&progress, cli);
		o->rc = replicate_run(src, dst, &opts, &o->res, &o->err);
		cli_progress_done(&progress);
	}
	repo_close(ictx.repo);
	o->duration_s = (double)(cli_now_ns() - t0) / 1e9;
	if (dst)
		backend_stats(dst, &o->stats);
	backend_free(dst);
}

static int run(Cli *cli, int argc, char **argv)
{
	Args a;
	StrataErr err = { 0, "" };
	RemoteErr rerr = {{0}};
	Outcome *o = NULL;
	Backend *src = NULL;
	const char *loc = NULL;
	char bytes[CLI_FMT_BYTES_LEN];
	int rc, first, exit_code = CLI_EXIT_OK;

	memset(&a, 0, sizeof a);
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE) {
		exit_code = rc;
		goto out;
	}
	if (first < argc) {
		exit_code = cli_usage(cli, "unexpected argument %s (targets go after --to)", argv[first]);
		goto out;
	}
	if (a.targets.n == 0) {
		exit_code = cli_usage(cli, "missing --to LOCATION: where to replicate the repository to");
		goto out;
	}
	if ((rc = cli_repo_location(cli, &loc, &err)) ||
	    (a.storage_class && (rc = cli_tier_set(a.storage_class, &err)))) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	for (size_t i = 0; i < a.targets.n; i++)
		if (strcmp(a.targets.v[i], loc) == 0) {
			exit_code = cli_usage(cli, "--to %s is the repository itself", a.targets.v[i]);
			goto out;
		}
	if ((rc = backend_open(loc, &src, &rerr))) {
		exit_code = cli_failf(cli, rc, "%s", rerr.msg);
		goto out;
	}
	o = calloc(a.targets.n, sizeof *o);
	if (!o) {
		exit_code = cli_failf(cli, -ENOMEM, "out of memory");
		goto out;
	}
	/* One target after the other: each gets the full bandwidth, and a
	 * failing one does not stop the others. */
	for (size_t i = 0; i < a.targets.n; i++) {
		o[i].location = a.targets.v[i];
		replicate_one(cli, src, &a, &o[i]);
		if (o[i].rc && exit_code == CLI_EXIT_OK)
			exit_code = exit_of(o[i].rc);
		if (cli->json)
			continue;
		if (o[i].rc) {
			cli_failf(cli, o[i].rc, "replicating to %s: %s", o[i].location, o[i].err.msg);
		} else if (!cli->quiet) {
			printf("%s %s: %llu objects %s (%s), %llu already there\n",
			       a.dry_run ? "would replicate to" : "replicated to", o[i].location,
			       (unsigned long long)o[i].res.objects_copied,
			       a.dry_run ? "to copy" : "copied and verified",
			       cli_fmt_bytes(o[i].res.bytes_copied, bytes),
			       (unsigned long long)o[i].res.objects_present);
			if (a.mirror)
				print_mirror(&o[i].res.mirror, a.dry_run);
		}
	}
	if (cli->json && print_json(o, a.targets.n, a.mirror) < 0 && exit_code == CLI_EXIT_OK)
		exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
	if (a.metrics) {
		StrataErr merr = { 0, "" };
		if (write_metrics(&a, o, a.targets.n, &merr) != 0) {
			cli_warn("%s", merr.msg);
			if (exit_code == CLI_EXIT_OK)
				exit_code = CLI_EXIT_FAILURE;
		}
	}
out:
	free(o);
	backend_free(src);
	cli_list_free(&a.targets);
	return exit_code;
}

const CliCommand cmd_replicate = {
	.name = "replicate",
	.summary = "Copy the repository to other locations (e.g. local to S3), incrementally.",
	.usage = "strata replicate --to LOCATION [--to LOCATION]... [--storage-class SPEC]\n"
	         "                 [--threads N] [--dry-run] [--metrics-file FILE [--job NAME]]",
	.help =
		"Copies every object of the repository that LOCATION lacks: keys and\n"
		"config first, then data and tree packs, then index files, snapshots\n"
		"last, so LOCATION is a valid repository (same ID, same passwords) at\n"
		"every moment and an interrupted run is finished by running it again.\n"
		"No password is needed: objects are copied as stored. Each object is\n"
		"checked against its name (the SHA-256 of its bytes; BLAKE2b-256 in a\n"
		"format 1 repository) when read; a damaged source object is not copied\n"
		"(exit 1). It is never read back from LOCATION, so data may go to any\n"
		"storage class, GLACIER and DEEP_ARCHIVE included: S3 verifies each\n"
		"upload against its x-amz-checksum-sha256, and a HEAD then shows the\n"
		"size and SHA-256 stored (tools/cli/doc/replicate.md says what that\n"
		"proves). Nothing is deleted from LOCATION.\n"
		"A target holding another repository is refused.\n"
		"\n"
		"Options:\n"
		"      --to LOCATION     a target: a directory, local:/path,\n"
		"                        s3:http(s)://host:port/bucket/prefix, s3://bucket/prefix\n"
		"                        (repeatable: each target in turn)\n"
		"      --storage-class SPEC  S3 storage classes for new objects in the\n"
		"                        targets: data=CLASS,metadata=CLASS, e.g.\n"
		"                        data=GLACIER,metadata=STANDARD (data = file content\n"
		"                        packs, any class; metadata = config, keys, index,\n"
		"                        snapshots, trees, never GLACIER or DEEP_ARCHIVE);\n"
		"                        see tools/cli/doc/replicate.md\n"
		"      --threads N       objects in flight (default 6)\n"
		"      --dry-run         only count what would be copied\n"
		"      --metrics-file FILE  write Prometheus metrics to FILE (atomically)\n"
		"      --job NAME        the job label of those metrics (default replicate)\n"
		"\n"
		"Examples:\n"
		"  strata -r /srv/backup/repo replicate --to s3:https://s3.example.net/backups/node1\n"
		"  strata -r /srv/backup/repo replicate --to s3://offsite/node1 \\\n"
		"         --storage-class data=DEEP_ARCHIVE,metadata=STANDARD\n"
		"  strata -r s3://offsite/node1 replicate --to /srv/restore-copy\n",
	.run = run,
};
