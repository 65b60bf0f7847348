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
#include "store/prune/forget.h"
#include "store/replica/replica.h"
#include "store/replica/replica_settings.h"
#include "store/snapselect.h"
#include "store/snapshot.h"
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
	OPT_FORCE_EARLY,
	OPT_HOST,
	OPT_TAG,
	OPT_KEEP_LAST,
	OPT_KEEP_HOURLY,
	OPT_KEEP_DAILY,
	OPT_KEEP_WEEKLY,
	OPT_KEEP_MONTHLY,
	OPT_KEEP_YEARLY,
	OPT_KEEP_WITHIN
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
	{ "host",          required_argument, NULL, OPT_HOST },
	{ "tag",           required_argument, NULL, OPT_TAG },
	{ "keep-last",     required_argument, NULL, OPT_KEEP_LAST },
	{ "keep-hourly",   required_argument, NULL, OPT_KEEP_HOURLY },
	{ "keep-daily",    required_argument, NULL, OPT_KEEP_DAILY },
	{ "keep-weekly",   required_argument, NULL, OPT_KEEP_WEEKLY },
	{ "keep-monthly",  required_argument, NULL, OPT_KEEP_MONTHLY },
	{ "keep-yearly",   required_argument, NULL, OPT_KEEP_YEARLY },
	{ "keep-within",   required_argument, NULL, OPT_KEEP_WITHIN },
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	CliList targets;
	const char *storage_class;
	long threads;
	int dry_run;
	int mirror, force_early;
	const char *metrics, *job;
	/* a selective copy: the snapshots of host (if given) carrying every
	 * tag, and of those what the keep rules keep (if any is given) */
	const char *host;
	CliList tags;
	ForgetPolicy policy;
	const char *keep_within;   /* as given, for the stored settings */
	int selective;
} Args;

/* What mirror mode needs the key for (store/replica/replica.h): the
 * source open with the password, the target too (it holds the source's
 * key files, copied first) with a cache of its own, so that its local
 * index is the target's and never the source's (both have one ID). */
typedef struct MirrorCtx {
	const Cli *cli;
	const char *location;
	Repo *src;            /* borrowed */
	Repo *copy;           /* opened when the target holds a repository */
	Replica *replica;
	const char *password;
	size_t password_len;
	ReplicaUploadStats up;
	int cover_done, cover_written;
	size_t selected;      /* selective: snapshots chosen */
} MirrorCtx;

/* The outcome for one target. */
typedef struct Outcome {
	const char *location;
	int rc;
	RemoteErr err;
	ReplicateResult res;
	BackendStats stats;     /* the target's requests */
	double duration_s;
	ReplicaUploadStats up;  /* --mirror: source packs the target did not need */
	int cover_written;
	size_t selected;        /* selective: snapshots chosen */
	int selective;
	int mirror;             /* ran in mirror mode (given, or the copy's settings) */
	int settings_applied;   /* a plain run followed the copy's stored settings */
	int settings_written;   /* this run stored them at the copy */
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
	case OPT_HOST:
	case OPT_TAG:
		if (!*arg)
			return cli_usage(cli, "%s wants a non-empty value", opt == OPT_HOST ? "--host" : "--tag");
		if (opt == OPT_HOST)
			a->host = arg;
		else if (cli_list_push(&a->tags, (char *)(uintptr_t)arg) < 0)
			return cli_failf(cli, -ENOMEM, "out of memory");
		a->selective = 1;
		return CLI_CONTINUE;
	case OPT_KEEP_LAST: case OPT_KEEP_HOURLY: case OPT_KEEP_DAILY:
	case OPT_KEEP_WEEKLY: case OPT_KEEP_MONTHLY: case OPT_KEEP_YEARLY: {
		static const char *const names[] = { "--keep-last", "--keep-hourly", "--keep-daily",
		                                     "--keep-weekly", "--keep-monthly", "--keep-yearly" };
		int *counts[] = { &a->policy.last, &a->policy.hourly, &a->policy.daily, &a->policy.weekly,
		                  &a->policy.monthly, &a->policy.yearly };
		long n;

		if (strcmp(arg, "unlimited") == 0)
			n = FORGET_UNLIMITED;
		else if (cli_parse_int(arg, 1, 1L << 30, &n) < 0)
			return cli_usage(cli, "%s wants a positive number or \"unlimited\": '%s'",
			                 names[opt - OPT_KEEP_LAST], arg);
		*counts[opt - OPT_KEEP_LAST] = (int)n;
		a->selective = 1;
		return CLI_CONTINUE;
	}
	case OPT_KEEP_WITHIN: {
		StrataErr e = { 0, "" };

		if (forget_parse_duration(arg, &a->policy.within, &e) != 0)
			return cli_usage(cli, "--keep-within %s", e.msg);
		a->policy.has_within = 1;
		a->keep_within = arg;
		a->selective = 1;
		return CLI_CONTINUE;
	}
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

static json_t *mirror_json(const Outcome *o)
{
	const ReplicateMirrorResult *m = &o->res.mirror;
	json_t *j;

	j = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:I,s:I,s:I,s:I,s:b,s:o,s:b,s:b}",
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
	                 "packs_kept_needed", (json_int_t)m->packs_kept_needed,
	                 "bytes_kept_needed", (json_int_t)m->bytes_kept_needed,
	                 "index_rewritten", (json_int_t)m->index_rewritten,
	                 "fees_avoided_usd", m->fees_avoided_usd,
	                 "packs_not_uploaded", (json_int_t)o->up.packs_skipped,
	                 "bytes_not_uploaded", (json_int_t)o->up.bytes_skipped,
	                 "index_not_uploaded", (json_int_t)o->up.index_skipped,
	                 "cover_packs", (json_int_t)o->up.cover_packs,
	                 "cover_index_written", o->cover_written,
	                 "selection", !o->selective ? json_null() :
	                     json_pack("{s:I,s:I,s:I,s:I}", "snapshots", (json_int_t)o->selected,
	                               "data_blobs", (json_int_t)o->up.blobs_selected,
	                               "packs_not_selected", (json_int_t)o->up.packs_unselected,
	                               "bytes_not_selected", (json_int_t)o->up.bytes_unselected),
	                 "settings_applied", o->settings_applied,
	                 "settings_written", o->settings_written);
	return j;
}

static int print_json(const Outcome *o, size_t n)
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
		                                     "mirror", o[i].mirror ? mirror_json(&o[i]) : json_null()));
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

/* The target's own cache: <cache root>/replica-<SHA-256 of the location,
 * 16 hex digits>; the repository's ID directory goes below. */
static void copy_cache_dir(const Cli *cli, const char *location, char *out, size_t cap)
{
	const char *root = cli->cache_dir, *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	uint8_t h[32];
	char hex[65], base[1024];

	if (!root || !*root)
		root = getenv("STRATA_CACHE_DIR");
	if (root && *root)
		snprintf(base, sizeof base, "%s", root);
	else if (xdg && *xdg)
		snprintf(base, sizeof base, "%s/strata", xdg);
	else
		snprintf(base, sizeof base, "%s/.cache/strata", home && *home ? home : "/tmp");
	if (codec_name_hash(CODEC_NAME_SHA256, location, strlen(location), h) != 0)
		memset(h, 0, sizeof h);
	codec_hex(h, 8, hex);
	snprintf(out, cap, "%s/replica-%s", base, hex);
}

/* Open the target as a repository, once it holds one. */
static int mirror_open_copy(MirrorCtx *c, StrataErr *err)
{
	char cache[1200];
	RepoOpenOpts oo;

	if (c->copy)
		return 0;
	copy_cache_dir(c->cli, c->location, cache, sizeof cache);
	memset(&oo, 0, sizeof oo);
	oo.cache_dir = cache;
	return repo_open_opts(c->location, c->password, c->password_len, &oo, &c->copy, err);
}

/* ReplicateIndexPacksFn over replica_index_packs. */
static int index_packs(const char *index_name, char ***out_names, int **out_needed, size_t *out_n, void *vctx,
                       RemoteErr *err)
{
	MirrorCtx *c = vctx;
	StrataErr serr = { 0, "" };
	int rc;

	if ((rc = mirror_open_copy(c, &serr)) == 0) {
		replica_set_copy(c->replica, c->copy);
		rc = replica_index_packs(c->replica, index_name, out_names, out_needed, out_n, &serr);
	}
	if (rc)
		return rerr(err, rc, "%s: %s", c->location, serr.msg);
	return 0;
}

/* ReplicateRewriteIndexFn over replica_rewrite_index. */
static int rewrite_index(const char *const *keep, size_t n, void *vctx, RemoteErr *err)
{
	MirrorCtx *c = vctx;
	StrataErr serr = { 0, "" };
	int rc = replica_rewrite_index(c->replica, keep, n, &serr);

	return rc ? rerr(err, rc, "%s: %s", c->location, serr.msg) : 0;
}

static int skip_object(const char *name, void *vctx)
{
	const MirrorCtx *c = vctx;

	return replica_skips(c->replica, name);
}

/* ReplicateHookFn: the cover index file, once, before the snapshots. */
static int before_snapshots(void *vctx, RemoteErr *err)
{
	MirrorCtx *c = vctx;
	StrataErr serr = { 0, "" };
	int rc, written = 0;

	if (c->cover_done)
		return 0;
	/* A first run: the keys and config are there now. */
	if (!c->copy) {
		if ((rc = mirror_open_copy(c, &serr)))
			return rerr(err, rc, "%s: %s", c->location, serr.msg);
		replica_set_copy(c->replica, c->copy);
	}
	rc = replica_write_cover(c->replica, &written, &serr);
	if (rc)
		return rerr(err, rc, "%s: %s", c->location, serr.msg);
	c->cover_done = 1;
	c->cover_written = written;
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
	m->rewrite_index = rewrite_index;
}

/* The snapshots a selective copy holds: those matching --host/--tag, of
 * which the keep rules (if any) keep; then replica_select. */
static int mirror_select(MirrorCtx *c, const Args *a, StrataErr *err)
{
	Snapshot *snaps = NULL;
	ForgetDecision *dec = NULL;
	uint8_t (*ids)[STRATA_ID_LEN] = NULL;
	SnapFilter f;
	ForgetPolicy p = a->policy;
	char scratch[1300];
	size_t n = 0, nm = 0, nids = 0;
	int rc;

	memset(&f, 0, sizeof f);
	f.host = a->host;
	f.tags = (const char *const *)a->tags.v;
	f.ntags = a->tags.n;
	if ((rc = snapshot_list(c->src, &snaps, &n, err)))
		return rc;
	/* The group first (snaps[0..nm) match), then the keep rules on it. */
	for (size_t i = 0; i < n; i++)
		if (snapselect_matches(&snaps[i], &f)) {
			Snapshot t = snaps[nm];
			snaps[nm++] = snaps[i];
			snaps[i] = t;
		}
	dec = calloc(nm ? nm : 1, sizeof *dec);
	ids = calloc(nm ? nm : 1, sizeof *ids);
	if (!dec || !ids) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	p.now_ns = cli_now_ns();
	if (!forget_policy_empty(&p)) {
		if ((rc = forget_apply(snaps, nm, &p, dec, NULL, err)))
			goto out;
	} else {
		for (size_t i = 0; i < nm; i++)
			dec[i].keep = 1;
	}
	for (size_t i = 0; i < nm; i++)
		if (dec[i].keep)
			memcpy(ids[nids++], snaps[i].id, STRATA_ID_LEN);
	copy_cache_dir(c->cli, c->location, scratch, sizeof scratch - 16);
	strcat(scratch, "-select");
	rc = replica_select(c->replica, (const uint8_t (*)[STRATA_ID_LEN])ids, nids, scratch, err);
	c->selected = nids;
out:
	free(ids);
	free(dec);
	snapshot_list_free(snaps, n);
	return rc;
}

/* Mirror mode's keyed part before the copy pass: which source packs the
 * target need not receive. The target may hold no repository yet. */
static int mirror_prepare(MirrorCtx *c, const Args *a, ReplicateOptions *opts, StrataErr *err)
{
	int rc = mirror_open_copy(c, err);

	if (rc == STRATA_ENOREPO)
		rc = 0;         /* an empty target: nothing to spare */
	if (rc)
		return rc;
	if ((rc = replica_new(c->src, c->copy, &c->replica, err)))
		return rc;
	if (a->selective) {
		if ((rc = mirror_select(c, a, err)))
			return rc;
		opts->mirror.selective = 1;
	}
	if ((rc = replica_plan_uploads(c->replica, &c->up, err)))
		return rc;
	opts->skip = skip_object;
	opts->before_snapshots = before_snapshots;
	opts->hook_ctx = c;
	opts->mirror.index_ctx = c;
	return 0;
}

static void print_mirror(const Outcome *o, int dry_run)
{
	const ReplicateMirrorResult *m = &o->res.mirror;
	char b1[CLI_FMT_BYTES_LEN], b2[CLI_FMT_BYTES_LEN];

	if (o->settings_applied)
		printf("  mirror: following the settings stored at the copy (strata cat replica)\n");
	if (o->settings_written)
		printf("  mirror: settings stored at the copy for later runs\n");
	if (o->up.packs_skipped)
		printf("  mirror: %s %llu packs (%s) the copy holds the blobs of already (repacked at the source), "
		       "and %llu index files listing them\n", dry_run ? "would not upload" : "did not upload",
		       (unsigned long long)o->up.packs_skipped, cli_fmt_bytes(o->up.bytes_skipped, b1),
		       (unsigned long long)o->up.index_skipped);

	printf("  mirror: %s %llu snapshots, %llu key files, %llu restore-test records, %llu index files, "
	       "%llu packs (%s)\n", dry_run ? "would delete" : "deleted",
	       (unsigned long long)m->snapshots_deleted, (unsigned long long)m->keys_deleted,
	       (unsigned long long)m->verified_deleted, (unsigned long long)m->index_deleted,
	       (unsigned long long)m->packs_deleted, cli_fmt_bytes(m->bytes_deleted, b1));
	if (m->packs_held)
		printf("  mirror: held back %llu packs (%s) younger than their storage class's minimum duration; "
		       "early-deletion fees avoided: $%.4f\n", (unsigned long long)m->packs_held,
		       cli_fmt_bytes(m->bytes_held, b1), m->fees_avoided_usd);
	if (m->packs_kept_with_index)
		printf("  mirror: kept %llu more packs (%s) and %llu index files with them (no key to tell which "
		       "index file lists what)\n", (unsigned long long)m->packs_kept_with_index,
		       cli_fmt_bytes(m->bytes_kept_with_index, b2), (unsigned long long)m->index_held);
	if (m->index_rewritten)
		printf("  mirror: %s %llu index file listing the packs kept of the index files deleted\n",
		       dry_run ? "would write" : "wrote", (unsigned long long)m->index_rewritten);
	if (m->packs_kept_needed)
		printf("  mirror: kept %llu packs (%s) the source dropped but still holds blobs of (repacked there)\n",
		       (unsigned long long)m->packs_kept_needed, cli_fmt_bytes(m->bytes_kept_needed, b1));
}

/* The source opened with its password, when mirror mode needs the key. */
typedef struct SrcKey {
	const char *location;
	CliPassword pw;
	Repo *repo;
} SrcKey;

static int src_open(const Cli *cli, SrcKey *k, StrataErr *err)
{
	RepoOpenOpts oo = { .cache_dir = cli->cache_dir };
	char prompt[1200];
	int rc;

	if (k->repo)
		return 0;
	snprintf(prompt, sizeof prompt, "enter the password for repository %s: ", k->location);
	if ((rc = cli_password_get(cli, prompt, 0, &k->pw, err)))
		return rc;
	return repo_open_opts(k->location, k->pw.buf, k->pw.len, &oo, &k->repo, err);
}

static int count_name(const char *name, void *ctx)
{
	(void)name;
	++*(size_t *)ctx;
	return 0;
}

/* The settings a copy stores, applied to a plain run's arguments (eff,
 * whose tags then point into rs). */
static int apply_settings(const ReplicaSettings *rs, Args *eff, StrataErr *err)
{
	eff->mirror = 1;
	eff->force_early = rs->force_early_delete;
	if (!rs->selective)
		return 0;
	eff->selective = 1;
	eff->host = rs->host[0] ? rs->host : NULL;
	memset(&eff->tags, 0, sizeof eff->tags);
	for (size_t i = 0; i < rs->ntags; i++)
		if (cli_list_push(&eff->tags, (char *)(uintptr_t)rs->tags[i]) < 0)
			return strata_err_set(err, -ENOMEM, "out of memory");
	memset(&eff->policy, 0, sizeof eff->policy);
	eff->policy.last = rs->keep_last;
	eff->policy.hourly = rs->keep_hourly;
	eff->policy.daily = rs->keep_daily;
	eff->policy.weekly = rs->keep_weekly;
	eff->policy.monthly = rs->keep_monthly;
	eff->policy.yearly = rs->keep_yearly;
	if (rs->keep_within[0]) {
		if (forget_parse_duration(rs->keep_within, &eff->policy.within, err))
			return err->code ? err->code : STRATA_EFORMAT;
		eff->policy.has_within = 1;
	}
	return 0;
}

/* The settings of this run, to store at the copy. */
static void settings_of(const Args *a, const ReplicateMirror *m, ReplicaSettings *rs)
{
	const char *rule = a->storage_class ? a->storage_class : getenv("STRATA_S3_STORAGE_CLASS");

	memset(rs, 0, sizeof *rs);
	snprintf(rs->storage_class, sizeof rs->storage_class, "%s", rule ? rule : "");
	rs->min_age_data_s = m->min_age_data_s;
	rs->min_age_tree_s = m->min_age_tree_s;
	rs->force_early_delete = a->force_early;
	if (!a->selective)
		return;
	rs->selective = 1;
	snprintf(rs->host, sizeof rs->host, "%s", a->host ? a->host : "");
	for (size_t i = 0; i < a->tags.n && rs->ntags < REPLICA_SETTINGS_MAX_TAGS; i++)
		snprintf(rs->tags[rs->ntags++], sizeof rs->tags[0], "%s", a->tags.v[i]);
	rs->keep_last = a->policy.last;
	rs->keep_hourly = a->policy.hourly;
	rs->keep_daily = a->policy.daily;
	rs->keep_weekly = a->policy.weekly;
	rs->keep_monthly = a->policy.monthly;
	rs->keep_yearly = a->policy.yearly;
	snprintf(rs->keep_within, sizeof rs->keep_within, "%s", a->keep_within ? a->keep_within : "");
}

/* A plain run (no --mirror) to a copy that stores settings: load and
 * apply them (the password is then needed); the storage-class rule too,
 * unless --storage-class was given, with the target opened again. */
static int plain_run_settings(const Cli *cli, SrcKey *k, MirrorCtx *mc, Backend **dst, Args *eff,
                              ReplicaSettings *rs, int *out_applied, StrataErr *err)
{
	RemoteErr rerr;
	size_t n = 0;
	int rc, found = 0;

	*out_applied = 0;
	rc = backend_list_names(*dst, "replica/", count_name, &n, &rerr);
	if (rc)
		return strata_err_set(err, rc, "%s", rerr.msg);
	if (n == 0)
		return 0;
	if ((rc = src_open(cli, k, err)))
		return rc;
	mc->src = k->repo;
	mc->password = k->pw.buf;
	mc->password_len = k->pw.len;
	if ((rc = mirror_open_copy(mc, err)) || (rc = replica_settings_load(mc->copy, rs, &found, err)))
		return rc;
	if (!found)
		return 0;
	if ((rc = apply_settings(rs, eff, err)))
		return rc;
	if (!eff->storage_class && rs->storage_class[0]) {
		if ((rc = cli_tier_set(rs->storage_class, err)))
			return rc;
		backend_free(*dst);
		*dst = NULL;
		if ((rc = backend_open(mc->location, dst, &rerr)))
			return strata_err_set(err, rc, "%s", rerr.msg);
		eff->storage_class = rs->storage_class;
	}
	*out_applied = 1;
	return 0;
}

static void replicate_one(const Cli *cli, Backend *src, SrcKey *k, const Args *a, Outcome *o)
{
	ReplicateOptions opts;
	CliProgress progress;
	MirrorCtx mc;
	ReplicaSettings rs;
	Args eff = *a;
	Backend *dst = NULL;
	const char *env_class = getenv("STRATA_S3_STORAGE_CLASS");
	char saved_class[200];
	int applied = 0;
	int64_t t0 = cli_now_ns();

	snprintf(saved_class, sizeof saved_class, "%s", env_class ? env_class : "");
	memset(&mc, 0, sizeof mc);
	memset(&eff.tags, 0, sizeof eff.tags);
	for (size_t i = 0; i < a->tags.n; i++)
		cli_list_push(&eff.tags, a->tags.v[i]);
	mc.cli = cli;
	mc.location = o->location;
	if (a->mirror) {
		mc.src = k->repo;
		mc.password = k->pw.buf;
		mc.password_len = k->pw.len;
	}

	memset(&opts, 0, sizeof opts);
	o->rc = backend_open(o->location, &dst, &o->err);
	if (o->rc == 0 && !a->mirror) {
		StrataErr serr = { 0, "" };

		if ((o->rc = plain_run_settings(cli, k, &mc, &dst, &eff, &rs, &applied, &serr)))
			snprintf(o->err.msg, sizeof o->err.msg, "%s: stored replica settings: %s", o->location, serr.msg);
	}
	a = &eff;
	o->settings_applied = applied;
	o->mirror = a->mirror;
	if (o->rc == 0) {
		opts.naming = repo_config_naming;
		opts.threads = (int)a->threads;
		opts.dry_run = a->dry_run;
		opts.progress = on_progress;
		opts.progress_ctx = &progress;
		if (a->mirror) {
			StrataErr serr = { 0, "" };

			mirror_setup(a, &opts.mirror);
			if ((o->rc = mirror_prepare(&mc, a, &opts, &serr)))
				snprintf(o->err.msg, sizeof o->err.msg, "%s", serr.msg);
		}
		if (o->rc == 0) {
			cli_progress_init(&progress, cli);
			o->rc = replicate_run(src, dst, &opts, &o->res, &o->err);
			cli_progress_done(&progress);
		}
		o->up = mc.up;
		o->cover_written = mc.cover_written;
		o->selected = mc.selected;
		o->selective = a->selective;
		if (o->rc == 0 && a->mirror && !applied && !a->dry_run) {
			/* Given explicitly: the copy remembers them. */
			StrataErr serr = { 0, "" };

			settings_of(a, &opts.mirror, &rs);
			if ((o->rc = mirror_open_copy(&mc, &serr)) ||
			    (o->rc = replica_settings_save(mc.copy, &rs, &o->settings_written, &serr)))
				snprintf(o->err.msg, sizeof o->err.msg, "%s: storing the replica settings: %s",
				         o->location, serr.msg);
		}
	}
	cli_list_free(&eff.tags);
	if (applied) {
		/* Another target must not inherit this one's classes. */
		if (saved_class[0])
			setenv("STRATA_S3_STORAGE_CLASS", saved_class, 1);
		else
			unsetenv("STRATA_S3_STORAGE_CLASS");
	}
	replica_free(mc.replica);
	o->duration_s = (double)(cli_now_ns() - t0) / 1e9;
	if (dst)
		backend_stats(dst, &o->stats);
	if (mc.copy) {
		/* The target opened as a repository (mirror mode: its index
		 * files read, one written) has a backend of its own. */
		BackendStats more;

		repo_backend_stats(mc.copy, &more);
		o->stats.requests += more.requests;
		o->stats.retries += more.retries;
		o->stats.bytes_sent += more.bytes_sent;
		o->stats.bytes_received += more.bytes_received;
	}
	repo_close(mc.copy);
	backend_free(dst);
}

static int run(Cli *cli, int argc, char **argv)
{
	Args a;
	StrataErr err = { 0, "" };
	RemoteErr rerr = {{0}};
	Outcome *o = NULL;
	Backend *src = NULL;
	SrcKey key;
	const char *loc = NULL;
	char bytes[CLI_FMT_BYTES_LEN];
	int rc, first, exit_code = CLI_EXIT_OK;

	memset(&a, 0, sizeof a);
	memset(&key, 0, sizeof key);
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
	if (a.selective && !a.mirror) {
		exit_code = cli_usage(cli, "--host, --tag and --keep-* choose the snapshots a mirror holds: add --mirror");
		goto out;
	}
	if (a.force_early && !a.mirror) {
		exit_code = cli_usage(cli, "--force-early-delete needs --mirror (without it nothing is deleted)");
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
	key.location = loc;
	if (a.mirror && (rc = src_open(cli, &key, &err))) {
		/* The key reads index files (store/replica/replica.h); the
		 * same password then opens each target. */
		exit_code = cli_fail(cli, rc, &err);
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
		replicate_one(cli, src, &key, &a, &o[i]);
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
			if (a.mirror || o[i].settings_applied)
				print_mirror(&o[i], a.dry_run);
		}
	}
	if (cli->json && print_json(o, a.targets.n) < 0 && exit_code == CLI_EXIT_OK)
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
	repo_close(key.repo);
	cli_password_wipe(&key.pw);
	backend_free(src);
	cli_list_free(&a.targets);
	cli_list_free(&a.tags);
	return exit_code;
}

const CliCommand cmd_replicate = {
	.name = "replicate",
	.summary = "Copy the repository to other locations (e.g. local to S3), incrementally.",
	.usage = "strata replicate --to LOCATION [--to LOCATION]... [--storage-class SPEC]\n"
	         "                 [--mirror [--force-early-delete] [--host H] [--tag T]... [--keep-* N]...]\n"
	         "                 [--threads N] [--dry-run]\n"
	         "                 [--metrics-file FILE [--job NAME]]",
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
		"proves). Nothing is deleted from LOCATION, unless --mirror.\n"
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
		"      --mirror          make LOCATION follow the repository: after the copy,\n"
		"                        delete there the snapshots, key files (so a removed\n"
		"                        password stops opening the copy), restore-test\n"
		"                        records, index files and packs the repository no\n"
		"                        longer has; but keep a pack younger than its storage\n"
		"                        class's minimum duration (30 days STANDARD_IA, 90\n"
		"                        GLACIER_IR and GLACIER, 180 DEEP_ARCHIVE, from the\n"
		"                        --storage-class given; counted from its upload), and\n"
		"                        a pack holding blobs the repository still has. A pack\n"
		"                        the repository repacked is not uploaded again when\n"
		"                        LOCATION holds all its blobs. Needs the password.\n"
		"                        The copy stores these settings (storage classes,\n"
		"                        their minimum ages, the selection below; `strata\n"
		"                        cat replica` shows them): a later run without\n"
		"                        --mirror follows them (and then needs the\n"
		"                        password), and so does `prune` there.\n"
		"      --force-early-delete  with --mirror: delete packs younger than their\n"
		"                        class's minimum too (S3 bills the rest of it)\n"
		"      --host H, --tag T (repeatable), --keep-last N, --keep-hourly N,\n"
		"      --keep-daily N, --keep-weekly N, --keep-monthly N, --keep-yearly N,\n"
		"      --keep-within D   with --mirror, a selective copy: it holds only the\n"
		"                        snapshots of host H carrying every tag T, and of\n"
		"                        those only what the keep rules keep (as forget's;\n"
		"                        see `strata help forget`), and only the data packs\n"
		"                        they need (tree packs and index files whole; no\n"
		"                        WAL archive); snapshots no longer chosen, and data\n"
		"                        only they needed, are deleted there\n"
		"      --threads N       objects in flight (default 6)\n"
		"      --dry-run         only count what would be copied (and, with --mirror,\n"
		"                        deleted, held back, and the early-deletion fees\n"
		"                        that saves)\n"
		"      --metrics-file FILE  write Prometheus metrics to FILE (atomically)\n"
		"      --job NAME        the job label of those metrics (default replicate)\n"
		"\n"
		"Examples:\n"
		"  strata -r /srv/backup/repo replicate --to s3:https://s3.example.net/backups/node1\n"
		"  strata -r /srv/backup/repo replicate --to s3://offsite/node1 \\\n"
		"         --storage-class data=DEEP_ARCHIVE,metadata=STANDARD\n"
		"  strata -r s3://offsite/node1 replicate --to /srv/restore-copy\n"
		"  strata -r /srv/backup/repo replicate --mirror --to s3://offsite/node1 \\\n"
		"         --storage-class data=GLACIER --dry-run\n"
		"  strata -r /srv/backup/repo replicate --mirror --to s3://offsite/monthly \\\n"
		"         --keep-monthly 24 --storage-class data=DEEP_ARCHIVE\n",
	.run = run,
};
