/* cmd_stats.c — `strata stats`: sizes, deduplication and compression. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/repo.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_lock.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_repo.h"

static void print_human(const RepoStats *s)
{
	char b[CLI_FMT_BYTES_LEN], b2[CLI_FMT_BYTES_LEN];

	printf("snapshots:          %llu\n", (unsigned long long)s->snapshots);
	printf("logical size:       %s (%llu bytes)\n", cli_fmt_bytes(s->logical_bytes, b),
	       (unsigned long long)s->logical_bytes);
	printf("unique data:        %s in %llu chunks\n", cli_fmt_bytes(s->unique_bytes, b),
	       (unsigned long long)s->unique_chunks);
	printf("stored size:        %s in %llu packs\n", cli_fmt_bytes(s->stored_bytes, b),
	       (unsigned long long)s->packs);
	printf("metadata:           %s of trees, %s of snapshot files\n",
	       cli_fmt_bytes(s->tree_bytes, b), cli_fmt_bytes(s->snapshot_file_bytes, b2));
	printf("per snapshot:       %.0f bytes of metadata on average (new trees + snapshot file)\n",
	       s->metadata_per_snapshot);
	printf("index entries:      %llu\n", (unsigned long long)s->index_chunks);
	if (s->frames)
		printf("frames:             %llu holding %llu chunks\n", (unsigned long long)s->frames,
		       (unsigned long long)s->frame_members);
	printf("dedup ratio:        %.2fx\n", s->dedup_ratio);
	printf("compression ratio:  %.2fx\n", s->compression_ratio);
}

static int run(Cli *cli, int argc, char **argv)
{
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	RepoStats s;
	int rc, first;

	memset(&s, 0, sizeof s);
	if ((rc = cli_opts_parse(cli, argc, argv, "", NULL, NULL, NULL, &first)) != CLI_CONTINUE)
		return rc;
	if (first < argc)
		return cli_usage(cli, "unexpected argument %s", argv[first]);
	if ((rc = cli_repo_open(cli, &repo, &err)) || (rc = cli_lock(cli, repo, LOCK_SHARED, &err)) ||
	    (rc = repo_stats(repo, &s, &err)))
		goto out;
	if (cli->json) {
		if (cli_json_print(json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f}",
			"snapshots",           (json_int_t)s.snapshots,
			"logical_bytes",       (json_int_t)s.logical_bytes,
			"unique_bytes",        (json_int_t)s.unique_bytes,
			"unique_chunks",       (json_int_t)s.unique_chunks,
			"stored_bytes",        (json_int_t)s.stored_bytes,
			"packs",               (json_int_t)s.packs,
			"index_chunks",        (json_int_t)s.index_chunks,
			"frames",              (json_int_t)s.frames,
			"frame_members",       (json_int_t)s.frame_members,
			"tree_bytes",          (json_int_t)s.tree_bytes,
			"snapshot_file_bytes", (json_int_t)s.snapshot_file_bytes,
			"dedup_ratio",         s.dedup_ratio,
			"compression_ratio",   s.compression_ratio,
			"metadata_per_snapshot_bytes", s.metadata_per_snapshot), 0) < 0)
			rc = strata_err_set(&err, -EIO, "cannot write to stdout");
	} else {
		print_human(&s);
	}
out:
	repo_close(repo);
	return rc ? cli_fail(cli, rc, &err) : CLI_EXIT_OK;
}

const CliCommand cmd_stats = {
	.name = "stats",
	.summary = "Show repository sizes, deduplication and compression.",
	.usage = "strata stats",
	.help =
		"Walks every snapshot's trees (no file data is read) and prints:\n"
		"  logical size       bytes of all files over all snapshots\n"
		"  unique data        raw bytes of the distinct chunks they use\n"
		"  stored size        bytes of every pack file (compressed, encrypted)\n"
		"  dedup ratio        logical size / unique data\n"
		"  compression ratio  unique data / its stored bytes\n"
		"plus counts of snapshots, chunks, packs and index entries.\n"
		"\n"
		"Examples:\n"
		"  strata stats\n"
		"  strata stats --json | jq .dedup_ratio\n",
	.run = run,
};
