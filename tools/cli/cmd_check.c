/* cmd_check.c — `strata check`: verify the repository's structure and,
 * with --read-data, its data; print an exact damage report. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/check/check.h"
#include "store/codec.h"
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
	OPT_READ_DATA = CLI_OPT_CMD,
	OPT_SUBSET,
	OPT_PACK_HASH,
	OPT_THREADS,
	OPT_METRICS,
	OPT_JOB,
	OPT_THAW,
	OPT_COLD_WAIT,
	OPT_COLD_POLL,
	OPT_MAX_THAW
};

static const struct option longopts[] = {
	{ "read-data",        no_argument,       NULL, OPT_READ_DATA },
	{ "read-data-subset", required_argument, NULL, OPT_SUBSET },
	{ "pack-hash",        no_argument,       NULL, OPT_PACK_HASH },
	{ "threads",          required_argument, NULL, OPT_THREADS },
	{ "metrics-file",     required_argument, NULL, OPT_METRICS },
	{ "job",              required_argument, NULL, OPT_JOB },
	{ "thaw",             no_argument,       NULL, OPT_THAW },
	{ "cold-wait",        no_argument,       NULL, OPT_COLD_WAIT },
	{ "cold-poll",        required_argument, NULL, OPT_COLD_POLL },
	{ "max-thaw-bytes",   required_argument, NULL, OPT_MAX_THAW },
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	CheckOptions opts;
	const char *subset;
	const char *metrics;
	const char *job;
	const char *max_thaw;      /* --max-thaw-bytes as given */
	long threads;
	long cold_poll;
} Args;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;
	StrataErr err = { 0, "" };

	switch (opt) {
	case OPT_READ_DATA:
		a->opts.read_data = 1;
		return CLI_CONTINUE;
	case OPT_SUBSET:
		if (check_subset_parse(arg, &a->opts, &err) != 0)
			return cli_usage(cli, "%s", err.msg);
		a->subset = arg;
		a->opts.read_data = 1;
		return CLI_CONTINUE;
	case OPT_PACK_HASH:
		a->opts.pack_hash = 1;
		return CLI_CONTINUE;
	case OPT_THREADS:
		if (cli_parse_int(arg, 0, 1024, &a->threads) < 0)
			return cli_usage(cli, "--threads wants a number from 0 (one per core) to 1024: %s", arg);
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
	case OPT_THAW:
		a->opts.thaw = 1;
		return CLI_CONTINUE;
	case OPT_COLD_WAIT:
		a->opts.cold_wait = 1;
		return CLI_CONTINUE;
	case OPT_COLD_POLL:
		if (cli_parse_int(arg, 1, 86400, &a->cold_poll) < 0)
			return cli_usage(cli, "--cold-poll wants seconds from 1 to 86400: %s", arg);
		a->opts.cold_poll_s = (unsigned)a->cold_poll;
		return CLI_CONTINUE;
	case OPT_MAX_THAW:
		if (cli_parse_size(arg, &a->opts.max_thaw_bytes) < 0 || a->opts.max_thaw_bytes == 0)
			return cli_usage(cli, "--max-thaw-bytes wants a size above 0 (e.g. 50G, 800M): %s", arg);
		a->max_thaw = arg;
		return CLI_CONTINUE;
	default:
		return cli_usage(cli, "unexpected option");
	}
}

static void on_progress(const CheckProgress *p, void *ctx)
{
	static const char *const units[][2] = {
		{ "index", "index files" }, { "packs", "packs" }, { "read-data", "packs" },
		{ "snapshots", "snapshots" }, { "wal", "WAL files" }, { "verified", "records" },
		{ "thaw", "archived packs" }
	};
	CliProgressStatus s;

	memset(&s, 0, sizeof s);
	s.phase = p->phase;
	s.unit = "items";
	for (size_t i = 0; p->phase && i < sizeof units / sizeof units[0]; i++)
		if (!strcmp(p->phase, units[i][0]))
			s.unit = units[i][1];
	s.items = p->done;
	s.items_total = p->total;
	/* Bytes are counted by the read-data phase only. */
	if (p->phase && !strcmp(p->phase, "read-data"))
		s.bytes = p->bytes;
	cli_progress_show(ctx, &s);
}

static const char *type_name(uint8_t type)
{
	return type == BLOB_DATA ? "data" : type == BLOB_TREE ? "tree" : "tree part";
}

/* ---- human output ---- */

static void print_user(const CheckUser *u)
{
	char sid[CLI_FMT_SHORT_ID_LEN];

	if (u->is_wal) {
		printf("      the WAL archive: a file of it (%llu bytes); `strata wal-list` shows the files\n",
		       (unsigned long long)u->length);
		return;
	}
	printf("      snapshot %s: ", cli_fmt_short_id(u->snapshot, sid));
	if (u->is_tree) {
		fputs("directory ", stdout);
		cli_fmt_name(stdout, u->path[0] ? u->path : "/");
		fputs(" (its listing; everything below it)\n", stdout);
	} else {
		cli_fmt_name(stdout, u->path);
		printf(", bytes %llu-%llu\n", (unsigned long long)u->offset,
		       (unsigned long long)(u->offset + u->length - 1));
	}
}

static void print_chunk(const CheckChunk *k)
{
	char id[STRATA_ID_HEX_LEN + 1], pack[STRATA_ID_HEX_LEN + 1];

	codec_hex(k->id, STRATA_ID_LEN, id);
	printf("  %s chunk %s", type_name(k->type), id);
	if (k->has_location) {
		codec_hex(k->pack, STRATA_ID_LEN, pack);
		printf("\n    in pack %s at offset %u (%u bytes stored, %u raw)", pack, k->offset, k->length, k->raw_len);
	}
	printf(":\n    %s\n", k->detail);
	for (size_t u = 0; u < k->nusers; u++)
		print_user(&k->users[u]);
	if (k->users_total > k->nusers)
		printf("      ... and %llu more\n", (unsigned long long)(k->users_total - k->nusers));
	if (k->users_total == 0)
		printf("      (no snapshot uses it)\n");
}

/* What could and could not be checked of archived packs: one block, in
 * the order a reader needs it (FORMAT.md "Check", archived packs). */
static void print_cold(const CheckReport *r)
{
	char b[CLI_FMT_BYTES_LEN];

	if (r->thaw_requested || r->thaw_trimmed)
		printf("thawed for reading: %llu archived packs (%s) readable and read, %llu restore requests sent\n",
		       (unsigned long long)r->thaw_read, cli_fmt_bytes(r->thaw_read_bytes, b),
		       (unsigned long long)r->thaw_requested);
	if (r->thaw_trimmed)
		printf("left out by --max-thaw-bytes: %llu archived packs of the subset (%s), the last in ID order\n",
		       (unsigned long long)r->thaw_trimmed, cli_fmt_bytes(r->thaw_trimmed_bytes, b));
	if (!r->cold_packs)
		return;
	printf("archived packs: %llu data packs (%s) are in an archive storage class; checked without reading them:\n",
	       (unsigned long long)r->cold_packs, cli_fmt_bytes(r->cold_bytes, b));
	printf("  present with the size the index records: %llu\n", (unsigned long long)r->cold_packs);
	printf("  SHA-256 recorded by the store at upload equal to the pack's name: %llu (none to compare: %llu)\n",
	       (unsigned long long)r->cold_sha256_ok, (unsigned long long)r->cold_sha256_none);
	printf("could not check without a thaw:\n");
	printf("  the trailers of %llu archived packs against the index (%llu chunk locations)\n",
	       (unsigned long long)r->cold_packs, (unsigned long long)r->cold_chunks_unchecked);
	if (r->cold_unread)
		printf("  the chunks of %llu archived packs of the read-data selection (%s): %s\n",
		       (unsigned long long)r->cold_unread, cli_fmt_bytes(r->cold_unread_bytes, b),
		       r->thaw_requested ? "restores requested; run the same check again once they are readable, or add --cold-wait"
		                         : "add --thaw to request their restore (--cold-wait to wait for it)");
	else if (!r->thaw_requested)
		printf("  the chunks of every archived pack (authenticated only by reading: --read-data-subset N/T --thaw)\n");
}

static void print_human(const Cli *cli, const CheckReport *r, const Args *a)
{
	char b[CLI_FMT_BYTES_LEN], sid[CLI_FMT_SHORT_ID_LEN];
	int any = 0;

	if (!cli->quiet) {
		printf("checked config, %llu key files, %llu index files, %llu packs, %llu snapshots, %llu trees, %llu files (%llu chunk references)\n",
		       (unsigned long long)r->key_files, (unsigned long long)r->index_files,
		       (unsigned long long)r->packs, (unsigned long long)r->snapshots,
		       (unsigned long long)r->trees, (unsigned long long)r->files,
		       (unsigned long long)r->chunk_refs);
		if (r->wal_chunk_refs)
			printf("checked the WAL archive: %llu chunk references\n", (unsigned long long)r->wal_chunk_refs);
		if (r->verified_records)
			printf("checked %llu restore-test records\n", (unsigned long long)r->verified_records);
		if (a->opts.read_data)
			printf("read %llu of %llu packs%s%s%s: %s, %llu chunks authenticated and re-hashed\n",
			       (unsigned long long)r->npacks_read, (unsigned long long)r->packs,
			       a->subset ? " (subset " : "", a->subset ? a->subset : "", a->subset ? ")" : "",
			       cli_fmt_bytes(r->bytes_read, b), (unsigned long long)r->blobs_verified);
	}
	if (!cli->quiet)
		print_cold(r);
	for (size_t i = 0; i < r->nproblems; i++) {
		if (r->problems[i].warning)
			continue;
		if (!any++)
			printf("damage found:\n");
		printf("  %s\n", r->problems[i].message);
	}
	if (r->nchunks) {
		if (!any++)
			printf("damage found:\n");
		printf("damaged or missing chunks (%llu):\n", (unsigned long long)(r->nchunks + r->chunks_unlisted));
		for (size_t i = 0; i < r->nchunks; i++)
			print_chunk(&r->chunks[i]);
		if (r->chunks_unlisted)
			printf("  ... and %llu more damaged chunks, not listed\n", (unsigned long long)r->chunks_unlisted);
	}
	if (r->nsnaps) {
		printf("snapshots that depend on damaged chunks (%zu):\n", r->nsnaps);
		for (size_t i = 0; i < r->nsnaps; i++)
			printf("  %s: %llu damaged files, %llu unreadable directories\n",
			       cli_fmt_short_id(r->snaps[i].id, sid), (unsigned long long)r->snaps[i].files,
			       (unsigned long long)r->snaps[i].trees);
	}
	for (size_t i = 0; i < r->nproblems; i++)
		if (r->problems[i].warning)
			cli_warn("%s", r->problems[i].message);
	if (!r->damage && !cli->quiet)
		printf("no damage found\n");
}

/* ---- JSON output ---- */

static json_t *json_user(const CheckUser *u)
{
	json_t *o = json_pack("{s:o,s:b,s:b}", "snapshot", u->is_wal ? json_null() : cli_json_id(u->snapshot),
	                      "tree", u->is_tree, "wal", u->is_wal);

	if (o && cli_json_set_name(o, "path", u->path) != 0) {
		json_decref(o);
		return NULL;
	}
	if (o && !u->is_tree) {
		json_object_set_new(o, "offset", json_integer((json_int_t)u->offset));
		json_object_set_new(o, "length", json_integer((json_int_t)u->length));
	}
	return o;
}

static json_t *json_chunk(const CheckChunk *k)
{
	json_t *o = json_pack("{s:o,s:s,s:s,s:s,s:I}", "id", cli_json_id(k->id), "type", type_name(k->type),
	                      "reason", check_reason_name(k->reason), "message", k->detail,
	                      "users_total", (json_int_t)k->users_total);
	json_t *users = json_array();

	if (!o || !users) {
		json_decref(o);
		json_decref(users);
		return NULL;
	}
	if (k->has_location) {
		json_object_set_new(o, "pack", cli_json_id(k->pack));
		json_object_set_new(o, "offset", json_integer(k->offset));
		json_object_set_new(o, "length", json_integer(k->length));
		json_object_set_new(o, "raw_length", json_integer(k->raw_len));
	} else {
		json_object_set_new(o, "pack", json_null());
	}
	for (size_t u = 0; u < k->nusers; u++)
		json_array_append_new(users, json_user(&k->users[u]));
	json_object_set_new(o, "users", users);
	return o;
}

/* The "archived" object: what was and was not checked of archived packs. */
static json_t *json_archived(const CheckReport *r, const Args *a)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}",
	                 "packs", (json_int_t)r->cold_packs,
	                 "bytes", (json_int_t)r->cold_bytes,
	                 "sha256_verified", (json_int_t)r->cold_sha256_ok,
	                 "sha256_absent", (json_int_t)r->cold_sha256_none,
	                 "trailers_unchecked", (json_int_t)r->cold_packs,
	                 "chunk_locations_unchecked", (json_int_t)r->cold_chunks_unchecked,
	                 "unread_packs", (json_int_t)r->cold_unread,
	                 "unread_bytes", (json_int_t)r->cold_unread_bytes,
	                 "thaw_requests", (json_int_t)r->thaw_requested,
	                 "thawed_packs_read", (json_int_t)r->thaw_read,
	                 "thawed_bytes_read", (json_int_t)r->thaw_read_bytes,
	                 "trimmed_packs", (json_int_t)r->thaw_trimmed,
	                 "max_thaw_bytes", a->max_thaw ? json_integer((json_int_t)a->opts.max_thaw_bytes) : json_null());
}

static json_t *json_problem(const CheckProblem *p)
{
	json_t *o = json_pack("{s:s,s:s,s:o,s:s}", "kind", check_problem_name(p->kind),
	                      "severity", p->warning ? "warning" : "damage",
	                      "object", p->has_object ? cli_json_id(p->object) : json_null(),
	                      "message", p->message);

	if (o && p->kind == CHECK_P_PACK_MISSING) {
		json_t *s = json_array();
		for (size_t i = 0; s && i < p->nsnapshots; i++)
			json_array_append_new(s, cli_json_id(p->snapshots[i]));
		json_object_set_new(o, "snapshots", s ? s : json_null());
	}
	return o;
}

static int print_json(Repo *repo, const CheckReport *r, const Args *a)
{
	json_t *o, *problems = json_array(), *chunks = json_array(), *snaps = json_array(), *packs = json_array();

	for (size_t i = 0; problems && i < r->nproblems; i++)
		json_array_append_new(problems, json_problem(&r->problems[i]));
	for (size_t i = 0; chunks && i < r->nchunks; i++)
		json_array_append_new(chunks, json_chunk(&r->chunks[i]));
	for (size_t i = 0; snaps && i < r->nsnaps; i++)
		json_array_append_new(snaps, json_pack("{s:o,s:I,s:I}", "id", cli_json_id(r->snaps[i].id),
		                                       "files", (json_int_t)r->snaps[i].files,
		                                       "directories", (json_int_t)r->snaps[i].trees));
	for (size_t i = 0; packs && i < r->npacks_read; i++)
		json_array_append_new(packs, cli_json_id(r->packs_read[i]));
	o = json_pack("{s:b,s:b,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:I,s:I,s:I,s:o,s:o,s:o,s:o}",
	              "ok", r->damage == 0,
	              "read_data", a->opts.read_data,
	              "subset", a->subset ? json_string(a->subset) : json_null(),
	              "key_files", (json_int_t)r->key_files,
	              "index_files", (json_int_t)r->index_files,
	              "packs", (json_int_t)r->packs,
	              "snapshots", (json_int_t)r->snapshots,
	              "trees", (json_int_t)r->trees,
	              "files", (json_int_t)r->files,
	              "chunk_references", (json_int_t)r->chunk_refs,
	              "wal_chunk_references", (json_int_t)r->wal_chunk_refs,
	              "verified_records", (json_int_t)r->verified_records,
	              "packs_selected", (json_int_t)r->packs_selected,
	              "bytes_read", (json_int_t)r->bytes_read,
	              "chunks_verified", (json_int_t)r->blobs_verified,
	              "duration_s", r->duration_s,
	              "damage", (json_int_t)r->damage,
	              "damaged_chunks_unlisted", (json_int_t)r->chunks_unlisted,
	              "warnings", (json_int_t)r->warnings,
	              "problems", problems ? problems : json_null(),
	              "damaged_chunks", chunks ? chunks : json_null(),
	              "damaged_snapshots", snaps ? snaps : json_null(),
	              "packs_read", packs ? packs : json_null());
	if (o && json_object_set_new(o, "archived", json_archived(r, a)) != 0)
		json_decref(o), o = NULL;
	if (o && cli_json_set_requests(o, "requests", repo) < 0)
		json_decref(o), o = NULL;
	return cli_json_print(o, 0);
}

/* ---- metrics ---- */

static int write_metrics(const Args *a, Repo *repo, const CheckReport *r, int exit_code, double duration_s,
                         StrataErr *err)
{
	const char *lb[] = { "job", a->job ? a->job : "check", NULL, NULL, NULL };
	const char *lbd[] = { "job", a->job ? a->job : "check", "severity", "damage", NULL };
	const char *lbw[] = { "job", a->job ? a->job : "check", "severity", "warning", NULL };
	CliMetrics *m = cli_metrics_new();
	int rc = 0;

	if (!m)
		return strata_err_set(err, -ENOMEM, "out of memory");
#define ADD(name, help, labels, v) \
	do { if (rc == 0) rc = cli_metrics_add(m, name, help, "gauge", labels, (double)(v)); } while (0)
	ADD("strata_check_success", "1 if the check ran to the end and found no damage", lb,
	    r && r->damage == 0);
	ADD("strata_check_exit_code", "exit status of strata check: 0 healthy, 1 damage, other: the check could not run",
	    lb, exit_code);
	ADD("strata_check_last_run_timestamp_seconds", "when the check finished (unix seconds)", lb, time(NULL));
	ADD("strata_check_duration_seconds", "how long the check took", lb, duration_s);
	ADD("strata_check_read_data", "1 if pack data was read and verified", lb, a->opts.read_data);
	if (rc == 0)
		rc = cli_metrics_add_requests(m, lb, repo);
	if (r) {
		ADD("strata_check_packs", "packs in the repository", lb, r->packs);
		ADD("strata_check_packs_read", "packs read and verified", lb, r->npacks_read);
		ADD("strata_check_bytes_verified", "pack bytes read and verified", lb, r->bytes_read);
		ADD("strata_check_chunks_verified", "chunks authenticated and re-hashed", lb, r->blobs_verified);
		ADD("strata_check_snapshots", "snapshots checked", lb, r->snapshots);
		ADD("strata_check_problems", "problems found, by severity", lbd, r->damage);
		ADD("strata_check_problems", "problems found, by severity", lbw, r->warnings);
		ADD("strata_check_damaged_chunks", "damaged or missing chunks", lb, r->nchunks + r->chunks_unlisted);
		ADD("strata_check_damaged_snapshots", "snapshots depending on damaged chunks", lb, r->nsnaps);
		ADD("strata_check_archived_packs", "data packs in an archive storage class, checked without reading them",
		    lb, r->cold_packs);
		ADD("strata_check_archived_unread_packs", "selected archived packs not read (not thawed, or not yet)",
		    lb, r->cold_unread);
		ADD("strata_check_thawed_bytes_read", "archived pack bytes read after a thaw", lb, r->thaw_read_bytes);
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
	Args a;
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	CheckReport *r = NULL;
	CliProgress progress;
	int rc, first, exit_code = CLI_EXIT_OK;
	int64_t t0 = cli_now_ns();

	memset(&a, 0, sizeof a);
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE)
		return rc;
	if (first < argc)
		return cli_usage(cli, "unexpected argument %s", argv[first]);
	if ((a.opts.thaw || a.opts.cold_wait || a.max_thaw || a.cold_poll) && !a.opts.read_data)
		return cli_usage(cli, "--thaw, --cold-wait, --cold-poll and --max-thaw-bytes go with --read-data or --read-data-subset");
	if ((a.opts.cold_wait || a.max_thaw || a.cold_poll) && !a.opts.thaw)
		return cli_usage(cli, "--cold-wait, --cold-poll and --max-thaw-bytes go with --thaw");
	a.opts.threads = (int)a.threads;
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = cli_lock(cli, repo, LOCK_SHARED, &err))) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	cli_progress_init(&progress, cli);
	a.opts.progress = on_progress;
	a.opts.progress_ctx = &progress;
	rc = check_run(repo, &a.opts, &r, &err);
	cli_progress_done(&progress);
	if (rc) {
		exit_code = cli_fail(cli, rc, &err);
		goto out;
	}
	if (cli->json) {
		if (print_json(repo, r, &a) < 0)
			exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
		else if (r->damage)
			exit_code = cli_exit_code(STRATA_EDAMAGED);
	} else {
		print_human(cli, r, &a);
		fflush(stdout);
		if (r->damage)
			exit_code = cli_failf(cli, STRATA_EDAMAGED,
			                      "damage found: %llu problem%s (listed above); to repair see `strata help repair`",
			                      (unsigned long long)r->damage, r->damage == 1 ? "" : "s");
	}
out:
	if (a.metrics) {
		StrataErr merr = { 0, "" };
		if (write_metrics(&a, repo, r, exit_code, (double)(cli_now_ns() - t0) / 1e9, &merr) != 0) {
			cli_warn("%s", merr.msg);
			if (exit_code == CLI_EXIT_OK)
				exit_code = CLI_EXIT_FAILURE;
		}
	}
	check_report_free(r);
	repo_close(repo);
	return exit_code;
}

const CliCommand cmd_check = {
	.name = "check",
	.summary = "Verify the repository; with --read-data, every byte of its data.",
	.usage = "strata check [--read-data | --read-data-subset N/T | --read-data-subset P%] [--pack-hash]\n"
	         "             [--thaw [--cold-wait] [--cold-poll SECONDS] [--max-thaw-bytes SIZE]] [--metrics-file FILE]",
	.help =
		"Without options, checks the structure and reads no file data: the config\n"
		"and key files decode; every stored index file decodes; every pack it\n"
		"lists exists with the right size and its trailer decodes and lists the\n"
		"same chunks; every snapshot decodes; every tree a snapshot reaches loads;\n"
		"every chunk a file references is in the index, inside an existing pack.\n"
		"\n"
		"--read-data also reads every pack: each chunk is authenticated, decompressed\n"
		"and its keyed hash recomputed against its ID. With the authenticated\n"
		"trailer, whose chunks cover the pack end to end, that authenticates every\n"
		"byte of the pack; a pack found damaged is also hashed against its name.\n"
		"Packs are streamed by parallel workers; memory stays bounded whatever\n"
		"their size.\n"
		"\n"
		"For each damaged or missing chunk the report names the pack and offset,\n"
		"and every snapshot, path and byte range that depends on it. A pack that\n"
		"is gone is named \"deleted outside strata (a lifecycle expiration?)\" with\n"
		"the snapshots that need it.\n"
		"\n"
		"Data packs in an archive storage class (S3 GLACIER, DEEP_ARCHIVE; the\n"
		"listing says which) are never read unless thawed: the structure check\n"
		"asks the store for their size and the SHA-256 it recorded at upload (a\n"
		"HEAD: no retrieval fee), compares that with the pack's name, and reports\n"
		"what it could not check (their trailers; their chunks). --read-data\n"
		"leaves them unread unless --thaw is given: a restore of the selected\n"
		"archived packs is requested, --cold-wait waits for it and reads them,\n"
		"--max-thaw-bytes bounds the bytes thawed (the first packs in ID order\n"
		"that fit; the rest are reported as left out).\n"
		"\n"
		"Options:\n"
		"      --read-data              read and verify every pack\n"
		"      --read-data-subset N/T   read only the packs whose ID, as a number from\n"
		"                               its first 4 bytes, is N-1 modulo T: 1/T .. T/T\n"
		"                               cover every pack exactly once\n"
		"      --read-data-subset P%    read a random P percent of the packs\n"
		"      --pack-hash              with --read-data: also hash every pack against\n"
		"                               its name (`sha256sum`; `b2sum -l 256` in a\n"
		"                               format 1 repository); finds a pack whose\n"
		"                               bytes were swapped for another authentic pack\n"
		"                               with the same chunks at the same offsets\n"
		"      --thaw                   with --read-data(-subset): request a restore of\n"
		"                               the selected archived packs (7 days) and read\n"
		"                               those readable\n"
		"      --cold-wait              with --thaw: wait until they are readable, then\n"
		"                               read them (hours for GLACIER, up to 48 h for\n"
		"                               DEEP_ARCHIVE)\n"
		"      --cold-poll SECONDS      how often --cold-wait looks (default 60)\n"
		"      --max-thaw-bytes SIZE    with --thaw: thaw at most SIZE bytes (K, M, G, T)\n"
		"      --threads N              readers (default: one per core)\n"
		"      --metrics-file FILE      write Prometheus metrics to FILE (atomically),\n"
		"                               for node_exporter's textfile collector\n"
		"      --job NAME               the job label of those metrics (default check)\n"
		"\n"
		"Exit status: 0 no damage, 1 damage found (warnings alone keep 0),\n"
		"10 no repository, 11 locked (by a repair), 12 wrong password,\n"
		"4 I/O or other failure. check takes a shared lock: backups may run.\n"
		"With --json the report is one JSON document (see README.md).\n"
		"\n"
		"Repair: `strata repair index` when index files, trailers or packs are\n"
		"damaged or lost (`--read-data` too when chunks are damaged), then back\n"
		"up the sources again: every chunk they still produce is stored again and\n"
		"old snapshots that need it become whole. `strata repair snapshots`\n"
		"rewrites what cannot be recovered that way.\n"
		"\n"
		"Examples:\n"
		"  strata check\n"
		"  strata check --read-data\n"
		"  strata check --read-data-subset \"$(date +%u)/7\"   # all data once a week\n"
		"  strata check --read-data-subset 5% --metrics-file /var/lib/node_exporter/strata.prom\n"
		"  strata -r s3://offsite/node1 check --read-data-subset \"$(date +%u)/7\" --thaw \\\n"
		"      --cold-wait --cold-poll 1800 --max-thaw-bytes 20G   # a DEEP_ARCHIVE copy\n",
	.run = run,
};
