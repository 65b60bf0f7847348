/* cmd_repair.c — `strata repair index` and `strata repair snapshots`. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/codec.h"
#include "store/repair/repair.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_lock.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_progress.h"
#include "tools/cli/cli_repo.h"

#define LOST_SHOWN 20   /* lost chunk IDs printed; --json lists them all */

enum {
	OPT_READ_DATA = CLI_OPT_CMD,
	OPT_DRY_RUN,
	OPT_FORGET,
	OPT_THREADS
};

static const struct option longopts[] = {
	{ "read-data", no_argument,       NULL, OPT_READ_DATA },
	{ "dry-run",   no_argument,       NULL, OPT_DRY_RUN },
	{ "forget",    no_argument,       NULL, OPT_FORGET },
	{ "threads",   required_argument, NULL, OPT_THREADS },
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	int read_data, dry_run, forget;
	long threads;
} Args;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;

	switch (opt) {
	case OPT_READ_DATA:
		a->read_data = 1;
		return CLI_CONTINUE;
	case OPT_DRY_RUN:
		a->dry_run = 1;
		return CLI_CONTINUE;
	case OPT_FORGET:
		a->forget = 1;
		return CLI_CONTINUE;
	case OPT_THREADS:
		if (cli_parse_int(arg, 0, 1024, &a->threads) < 0)
			return cli_usage(cli, "--threads wants a number from 0 (one per core) to 1024: %s", arg);
		return CLI_CONTINUE;
	default:
		return cli_usage(cli, "unexpected option");
	}
}

static void on_progress(const RepairProgress *p, void *ctx)
{
	char what[64];

	snprintf(what, sizeof what, "%s %llu/%llu", p->phase, (unsigned long long)p->done,
	         (unsigned long long)p->total);
	cli_progress_update(ctx, p->done, 0, what);
}

/* ---- repair index ---- */

static int print_index(const Cli *cli, const Args *a, const RepairIndexResult *r)
{
	char hex[STRATA_ID_HEX_LEN + 1];
	size_t salvaged = 0, deleted = 0;

	for (size_t i = 0; i < r->nchanged; i++) {
		if (r->changed[i].action == REPAIR_PACK_SALVAGED)
			salvaged++;
		else
			deleted++;
	}
	if (cli->json) {
		json_t *changed = json_array(), *lost = json_array();
		for (size_t i = 0; changed && i < r->nchanged; i++) {
			const RepairPack *p = &r->changed[i];
			json_array_append_new(changed, json_pack("{s:o,s:s,s:I,s:I,s:s}", "pack", cli_json_id(p->id),
			                      "action", p->action == REPAIR_PACK_SALVAGED ? "salvaged" : "deleted",
			                      "chunks_kept", (json_int_t)p->chunks_kept,
			                      "chunks_lost", (json_int_t)p->chunks_lost, "reason", p->reason));
		}
		for (size_t i = 0; lost && i < r->nlost; i++)
			json_array_append_new(lost, cli_json_id(r->lost[i]));
		return cli_json_print(json_pack("{s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}",
		                                "dry_run", a->dry_run, "read_data", a->read_data,
		                                "packs", (json_int_t)r->packs,
		                                "packs_kept", (json_int_t)r->packs_kept,
		                                "packs_salvaged", (json_int_t)salvaged,
		                                "packs_deleted", (json_int_t)deleted,
		                                "chunks_indexed", (json_int_t)r->chunks_indexed,
		                                "chunks_lost", (json_int_t)r->chunks_lost,
		                                "index_files_written", (json_int_t)r->index_files_written,
		                                "index_files_removed", (json_int_t)r->index_files_removed,
		                                "changed_packs", changed ? changed : json_null(),
		                                "lost_chunks", lost ? lost : json_null()), 0);
	}
	if (cli->quiet && !r->nchanged && !r->chunks_lost)
		return 0;
	printf("%s%llu packs: %llu kept, %zu salvaged, %zu deleted; %llu chunks indexed, %llu lost\n",
	       a->dry_run ? "dry run, nothing changed: " : "",
	       (unsigned long long)r->packs, (unsigned long long)r->packs_kept, salvaged, deleted,
	       (unsigned long long)r->chunks_indexed, (unsigned long long)r->chunks_lost);
	for (size_t i = 0; i < r->nchanged; i++) {
		const RepairPack *p = &r->changed[i];
		codec_hex(p->id, STRATA_ID_LEN, hex);
		if (p->action == REPAIR_PACK_SALVAGED)
			printf("  pack %.16s: %s, %llu chunks stored again, %llu lost: %s\n", hex,
			       a->dry_run ? "would be rewritten" : "rewritten and deleted",
			       (unsigned long long)p->chunks_kept, (unsigned long long)p->chunks_lost, p->reason);
		else
			printf("  pack %.16s: %s: %s\n", hex, a->dry_run ? "would be deleted" : "deleted", p->reason);
	}
	for (size_t i = 0; i < r->nlost && i < LOST_SHOWN; i++) {
		codec_hex(r->lost[i], STRATA_ID_LEN, hex);
		printf("  lost chunk %s\n", hex);
	}
	if (r->nlost > LOST_SHOWN)
		printf("  ... and %llu more lost chunks (--json lists them all)\n",
		       (unsigned long long)(r->chunks_lost - LOST_SHOWN));
	if (!a->dry_run)
		printf("wrote %llu index files, removed %llu old ones\n",
		       (unsigned long long)r->index_files_written, (unsigned long long)r->index_files_removed);
	if (r->chunks_lost && !a->dry_run)
		printf("next: back up the same sources again (lost chunks they still produce are stored\n"
		       "again and the old snapshots become whole), then `strata check --read-data`;\n"
		       "`strata repair snapshots` rewrites snapshots around what stays lost\n");
	return 0;
}

static int run_index(Cli *cli, Repo *repo, const Args *a, StrataErr *err)
{
	RepairIndexOptions o;
	RepairIndexResult r;
	CliProgress progress;
	int rc;

	memset(&o, 0, sizeof o);
	o.read_data = a->read_data;
	o.dry_run = a->dry_run;
	o.threads = (int)a->threads;
	o.progress = on_progress;
	o.progress_ctx = &progress;
	cli_progress_init(&progress, cli);
	rc = repair_index(repo, &o, &r, err);
	cli_progress_done(&progress);
	if (rc)
		return rc;
	if (print_index(cli, a, &r) < 0)
		rc = strata_err_set(err, -EIO, "cannot write to stdout");
	repair_index_result_free(&r);
	return rc;
}

/* ---- repair snapshots ---- */

static const char *status_name(RepairSnapStatus s)
{
	switch (s) {
	case REPAIR_SNAP_INTACT:      return "intact";
	case REPAIR_SNAP_REWRITTEN:   return "repaired";
	case REPAIR_SNAP_EMPTY:       return "unrecoverable";
	case REPAIR_SNAP_UNDECODABLE: return "undecodable";
	}
	return "unknown";
}

static json_t *json_snap(const RepairSnap *s)
{
	json_t *o = json_pack("{s:o,s:s,s:b,s:I,s:I,s:I,s:I}", "id", cli_json_id(s->id), "status", status_name(s->status),
	                      "forgotten", s->forgotten, "files", (json_int_t)s->files,
	                      "directories", (json_int_t)s->dirs, "bytes_dropped", (json_int_t)s->bytes_dropped,
	                      "healed", (json_int_t)s->healed);
	json_t *dmg = json_array();
	int has_new = s->status == REPAIR_SNAP_REWRITTEN && (s->new_id[0] | s->new_id[1] | s->new_id[31]);

	if (!o || !dmg) {
		json_decref(o);
		json_decref(dmg);
		return NULL;
	}
	json_object_set_new(o, "new_id", has_new ? cli_json_id(s->new_id) : json_null());
	if (s->message[0])
		json_object_set_new(o, "message", json_string(s->message));
	for (size_t i = 0; i < s->ndamage; i++) {
		json_t *d = json_pack("{s:b,s:I,s:I}", "directory", s->damage[i].is_dir,
		                      "chunks_dropped", (json_int_t)s->damage[i].chunks_dropped,
		                      "bytes_dropped", (json_int_t)s->damage[i].bytes_dropped);
		if (d)
			cli_json_set_name(d, "path", s->damage[i].path);
		json_array_append_new(dmg, d);
	}
	json_object_set_new(o, "damage", dmg);
	return o;
}

static int print_snapshots(const Cli *cli, const Args *a, const RepairSnapshotsResult *r)
{
	char sid[CLI_FMT_SHORT_ID_LEN], nid[CLI_FMT_SHORT_ID_LEN], b[CLI_FMT_BYTES_LEN];
	size_t counts[4] = {0, 0, 0, 0};

	if (cli->json) {
		json_t *arr = json_array();
		for (size_t i = 0; arr && i < r->n; i++)
			json_array_append_new(arr, json_snap(&r->snaps[i]));
		return cli_json_print(json_pack("{s:b,s:b,s:o}", "dry_run", a->dry_run, "forget", a->forget,
		                                "snapshots", arr ? arr : json_null()), 0);
	}
	for (size_t i = 0; i < r->n; i++) {
		const RepairSnap *s = &r->snaps[i];
		counts[s->status]++;
		cli_fmt_short_id(s->id, sid);
		if (s->healed)
			printf("snapshot %s: %llu blobs stored only under another type (written by strata before 2026-12-07) %s under their own%s\n",
			       sid, (unsigned long long)s->healed, a->dry_run ? "would be stored" : "stored again",
			       a->dry_run ? " (dry run)" : "");
		switch (s->status) {
		case REPAIR_SNAP_INTACT:
			if (cli->verbose)
				printf("snapshot %s: nothing missing\n", sid);
			break;
		case REPAIR_SNAP_UNDECODABLE:
			printf("snapshot %s: the snapshot file is damaged and cannot be rewritten (%s)%s\n", sid, s->message,
			       s->forgotten ? "; deleted" : a->forget ? "" : "; `--forget` deletes it");
			break;
		case REPAIR_SNAP_EMPTY:
			printf("snapshot %s: its root directory cannot be read; nothing left to save%s\n", sid,
			       s->forgotten ? "; deleted" : a->forget ? "" : "; `--forget` deletes it");
			break;
		case REPAIR_SNAP_REWRITTEN:
			printf("snapshot %s: %llu damaged files, %llu directories left out, %s lost", sid,
			       (unsigned long long)s->files, (unsigned long long)s->dirs,
			       cli_fmt_bytes(s->bytes_dropped, b));
			if (a->dry_run)
				printf(" (dry run: not saved)\n");
			else
				printf(" -> saved as %s, tagged \"repaired\"%s\n", cli_fmt_short_id(s->new_id, nid),
				       s->forgotten ? "; original deleted" : "");
			for (size_t d = 0; d < s->ndamage; d++) {
				const RepairDamage *dm = &s->damage[d];
				fputs("    ", stdout);
				cli_fmt_name(stdout, dm->path);
				if (dm->is_dir)
					printf(": directory unreadable, left out\n");
				else
					printf(": %llu chunks (%s) dropped\n", (unsigned long long)dm->chunks_dropped,
					       cli_fmt_bytes(dm->bytes_dropped, b));
			}
			if ((uint64_t)s->ndamage < s->files + s->dirs)
				printf("    ... and %llu more\n", (unsigned long long)(s->files + s->dirs - s->ndamage));
			break;
		}
	}
	if (!cli->quiet)
		printf("%zu snapshots: %zu repaired, %zu intact, %zu unrecoverable, %zu undecodable\n",
		       r->n, counts[REPAIR_SNAP_REWRITTEN], counts[REPAIR_SNAP_INTACT],
		       counts[REPAIR_SNAP_EMPTY], counts[REPAIR_SNAP_UNDECODABLE]);
	return 0;
}

static int run_snapshots(Cli *cli, Repo *repo, const Args *a, char **refs, size_t nrefs, StrataErr *err)
{
	RepairSnapshotsOptions o;
	RepairSnapshotsResult r;
	CliProgress progress;
	int rc;

	memset(&o, 0, sizeof o);
	o.refs = (const char *const *)refs;
	o.nrefs = nrefs;
	o.forget = a->forget;
	o.dry_run = a->dry_run;
	o.progress = on_progress;
	o.progress_ctx = &progress;
	cli_progress_init(&progress, cli);
	rc = repair_snapshots(repo, &o, &r, err);
	cli_progress_done(&progress);
	if (rc)
		return rc;
	if (print_snapshots(cli, a, &r) < 0)
		rc = strata_err_set(err, -EIO, "cannot write to stdout");
	repair_snapshots_result_free(&r);
	return rc;
}

static int run(Cli *cli, int argc, char **argv)
{
	Args a;
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	const char *what;
	int rc, first;

	memset(&a, 0, sizeof a);
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE)
		return rc;
	if (first >= argc)
		return cli_usage(cli, "what to repair: index or snapshots");
	what = argv[first];
	if (!strcmp(what, "index")) {
		if (first + 1 < argc)
			return cli_usage(cli, "repair index takes no argument");
		if (a.forget)
			return cli_usage(cli, "--forget goes with repair snapshots");
	} else if (!strcmp(what, "snapshots")) {
		if (a.read_data)
			return cli_usage(cli, "--read-data goes with repair index");
	} else {
		return cli_usage(cli, "cannot repair '%s': use index or snapshots", what);
	}
	/* A repair rewrites index files and deletes packs and snapshots: no
	 * other command may run meanwhile. A dry run only reads. */
	if ((rc = cli_repo_open(cli, &repo, &err)) ||
	    (rc = cli_lock(cli, repo, a.dry_run ? LOCK_SHARED : LOCK_EXCLUSIVE, &err)))
		goto out;
	if (!strcmp(what, "index"))
		rc = run_index(cli, repo, &a, &err);
	else
		rc = run_snapshots(cli, repo, &a, argv + first + 1, (size_t)(argc - first - 1), &err);
out:
	repo_close(repo);
	return rc ? cli_fail(cli, rc, &err) : CLI_EXIT_OK;
}

const CliCommand cmd_repair = {
	.name = "repair",
	.summary = "Rebuild the index from the packs, or rewrite snapshots around lost data.",
	.usage = "strata repair index [--read-data] [--dry-run]\n"
	         "       strata repair snapshots [--forget] [--dry-run] [SNAPSHOT...]",
	.help =
		"repair index\n"
		"  Reads every pack's trailer and writes new index files covering every\n"
		"  usable pack, makes them durable, then deletes the old index files and\n"
		"  rebuilds the local index. A pack whose trailer is damaged is rewritten\n"
		"  from what an old index file says it holds; one that nothing identifies\n"
		"  is deleted. With --read-data every chunk is verified first and packs\n"
		"  holding damaged chunks are rewritten without them. Lost chunks leave the\n"
		"  index: the next backup of the same sources stores them again, and the\n"
		"  old snapshots that need them become whole.\n"
		"\n"
		"repair snapshots [SNAPSHOT...]\n"
		"  For each snapshot (all by default) that references chunks the index no\n"
		"  longer has, saves a new snapshot in which each damaged file keeps only\n"
		"  its healthy chunks, in order (it shrinks by the bytes lost), and each\n"
		"  unreadable directory is left out. The new snapshot keeps the original's\n"
		"  time, host, paths, tags and labels, and gains the tag \"repaired\" and the\n"
		"  labels repaired-from=<original ID> and repaired-files=<count>. Run\n"
		"  `repair index` first. Only rewrite snapshots whose sources are gone: a\n"
		"  backup of the sources heals the originals.\n"
		"  A chunk stored only as a blob of another type with the same ID (a file\n"
		"  whose bytes equal a directory listing, in repositories written by\n"
		"  strata before 2026-12-07) is first stored again under its own type\n"
		"  from the blob that is there; the snapshot is then whole, not rewritten.\n"
		"\n"
		"Options:\n"
		"      --read-data   (index) verify every chunk; rewrite packs with damaged ones\n"
		"      --forget      (snapshots) delete each original once its repaired copy\n"
		"                    is saved, and delete snapshot files that do not decode\n"
		"      --dry-run     report what would be done; change nothing\n"
		"      --threads N   (index) trailer readers (default: one per core)\n"
		"\n"
		"A repair takes the exclusive lock (a dry run a shared one): it fails\n"
		"with exit status 11 while another command holds a lock.\n"
		"\n"
		"Examples:\n"
		"  strata check --read-data || strata repair index --read-data\n"
		"  strata backup /srv/data          # stores lost chunks again\n"
		"  strata repair snapshots --dry-run\n"
		"  strata repair snapshots --forget 3fa1c2d4\n",
	.run = run,
};
