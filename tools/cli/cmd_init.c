/* cmd_init.c — `strata init`: create a repository. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/repo.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_password.h"
#include "tools/cli/cli_repo.h"
#include "tools/cli/cli_tier.h"

enum {
	OPT_CHUNK_MIN = CLI_OPT_CMD,
	OPT_CHUNK_AVG,
	OPT_CHUNK_MAX,
	OPT_PACK_SIZE,
	OPT_STORAGE_CLASS,
	OPT_FORMAT_VERSION,
	OPT_LOCK_DAYS,
	OPT_LOCK_MODE
};

static const struct option longopts[] = {
	{ "chunk-min", required_argument, NULL, OPT_CHUNK_MIN },
	{ "chunk-avg", required_argument, NULL, OPT_CHUNK_AVG },
	{ "chunk-max", required_argument, NULL, OPT_CHUNK_MAX },
	{ "pack-size", required_argument, NULL, OPT_PACK_SIZE },
	{ "storage-class", required_argument, NULL, OPT_STORAGE_CLASS },
	{ "format-version", required_argument, NULL, OPT_FORMAT_VERSION },
	{ "object-lock-days", required_argument, NULL, OPT_LOCK_DAYS },
	{ "object-lock-mode", required_argument, NULL, OPT_LOCK_MODE },
	{ NULL, 0, NULL, 0 }
};

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	RepoParams *params = ctx;
	uint32_t *field;
	uint64_t v;

	switch (opt) {
	case OPT_CHUNK_MIN: field = &params->chunk_min; break;
	case OPT_CHUNK_AVG: field = &params->chunk_avg; break;
	case OPT_CHUNK_MAX: field = &params->chunk_max; break;
	case OPT_PACK_SIZE: field = &params->pack_size; break;
	case OPT_STORAGE_CLASS: {
		StrataErr err = { 0, "" };
		return cli_tier_set(arg, &err) ? cli_usage(cli, "%s", err.msg) : CLI_CONTINUE;
	}
	case OPT_FORMAT_VERSION:
		if (strcmp(arg, "1") != 0 && strcmp(arg, "2") != 0 && strcmp(arg, "3") != 0)
			return cli_usage(cli, "--format-version takes 1, 2 or 3, not %s", arg);
		params->format_version = arg[0] - '0';
		return CLI_CONTINUE;
	case OPT_LOCK_DAYS: {
		long d = 0;

		if (cli_parse_int(arg, 1, REPO_LOCK_DAYS_MAX, &d) != 0)
			return cli_usage(cli, "--object-lock-days %s: give whole days from 1 to %d", arg, REPO_LOCK_DAYS_MAX);
		params->lock_days = (uint32_t)d;
		return CLI_CONTINUE;
	}
	case OPT_LOCK_MODE:
		if (strcmp(arg, "COMPLIANCE") != 0 && strcmp(arg, "GOVERNANCE") != 0)
			return cli_usage(cli, "--object-lock-mode takes COMPLIANCE or GOVERNANCE, not %s", arg);
		params->lock_governance = strcmp(arg, "GOVERNANCE") == 0;
		return CLI_CONTINUE;
	default:            return cli_usage(cli, "unexpected option");
	}
	if (cli_parse_size(arg, &v) < 0 || v == 0 || v > UINT32_MAX)
		return cli_usage(cli, "not a size in bytes between 1 and 4 GiB: %s", arg);
	*field = (uint32_t)v;
	return CLI_CONTINUE;
}

static int run(Cli *cli, int argc, char **argv)
{
	RepoParams params;
	CliPassword pw = { .len = 0 };
	StrataErr err = { 0, "" };
	char id[STRATA_ID_HEX_LEN + 1];
	const char *loc = NULL;
	char prompt[1200];
	int rc, first;

	memset(&params, 0, sizeof params);
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &params, &first)) != CLI_CONTINUE)
		return rc;
	/* For the test suite only (tests/e2e_lib.sh sets it): the first key
	 * file gets libsodium's smallest Argon2id settings, 1 pass over 8 KiB,
	 * which keyfile_kdf_in_bounds accepts, instead of 2 passes over 64 MiB.
	 * The e2e scripts run thousands of commands, each unwrapping the key
	 * (~0.1 s of CPU with the defaults, most of a small command); every
	 * unwrap still runs Argon2id, the same code on the same kind of key
	 * file. Such a key file guards its password hardly better than a plain
	 * hash: nothing else sets it, and only the exact value 1 counts. */
	{
		const char *weak = getenv("STRATA_TESTONLY_WEAK_KDF");
		if (weak && strcmp(weak, "1") == 0) {
			params.kdf_opslimit = 1;
			params.kdf_memlimit = 8192;
		}
	}
	if (first < argc)
		return cli_usage(cli, "unexpected argument %s", argv[first]);
	if (params.lock_governance && !params.lock_days)
		return cli_usage(cli, "--object-lock-mode needs --object-lock-days N");
	if ((rc = cli_repo_location(cli, &loc, &err)))
		return cli_fail(cli, rc, &err);
	snprintf(prompt, sizeof prompt, "enter a password for the new repository %s: ", loc);
	if ((rc = cli_password_get(cli, prompt, 1, &pw, &err)))
		goto out;
	rc = repo_init(loc, pw.buf, pw.len, &params, id, &err);
	cli_password_wipe(&pw);
	if (rc)
		goto out;
	if (cli->json) {
		rc = cli_json_print(json_pack("{s:s,s:o}", "id", id, "location", cli_json_str(loc)), 0);
	} else if (!cli->quiet) {
		printf("created repository %.8s at %s\n", id, loc);
		printf("\nKeep the password safe: without it the data cannot be read back.\n");
	}
out:
	cli_password_wipe(&pw);
	return rc ? cli_fail(cli, rc, &err) : CLI_EXIT_OK;
}

const CliCommand cmd_init = {
	.name = "init",
	.summary = "Create a new, empty repository.",
	.usage = "strata init [--chunk-min BYTES] [--chunk-avg BYTES] [--chunk-max BYTES] [--pack-size BYTES] [--format-version N]\n"
	         "            [--object-lock-days N [--object-lock-mode COMPLIANCE|GOVERNANCE]]",
	.help =
		"Creates the repository at the location given with -r/--repo (or\n"
		"$STRATA_REPOSITORY): a random master key, the config, and a first key\n"
		"file that wraps the master key with your password (Argon2id). When the\n"
		"password comes from the terminal it is asked twice.\n"
		"\n"
		"Options:\n"
		"      --chunk-min BYTES   smallest content-defined chunk\n"
		"      --chunk-avg BYTES   average chunk (a power of two); smaller chunks\n"
		"                          find more duplicates, larger ones keep the\n"
		"                          index small\n"
		"      --chunk-max BYTES   largest chunk\n"
		"      --pack-size BYTES   target size of pack files (default 16 MiB)\n"
		"      --storage-class SPEC  S3 storage classes, data=CLASS,metadata=CLASS\n"
		"                          (tools/cli/doc/s3.md)\n"
		"      --format-version N  2 (the default) names files by SHA-256, 1 by\n"
		"                          BLAKE2b-256 as strata 0.1 did; choose 1 only\n"
		"                          when strata 0.1 must read the repository; 3 is\n"
		"                          2 with frames (consecutive new chunks of a file\n"
		"                          compressed together, store/FORMAT.md 9a): only\n"
		"                          strata from 2026-12-08 reads it\n"
		"      --object-lock-days N  immutable backups on S3: every object written\n"
		"                          to this repository (by any later command too; lock\n"
		"                          files and prune plans excepted) is retained N days\n"
		"                          with S3 Object Lock; recorded in the config. The\n"
		"                          bucket needs Object Lock enabled\n"
		"      --object-lock-mode M  COMPLIANCE (default: no one can shorten it) or\n"
		"                          GOVERNANCE (s3:BypassGovernanceRetention can)\n"
		"  BYTES takes K, M, G suffixes (powers of 1024). Chunk sizes are fixed\n"
		"  for the life of the repository.\n"
		"\n"
		"Examples:\n"
		"  strata -r /srv/backup/repo init\n"
		"  STRATA_PASSWORD_FILE=/etc/strata/pw strata -r /srv/backup/repo init\n"
		"  strata -r s3:http://127.0.0.1:9000/backups/node1 init --chunk-avg 16K\n"
		"  strata -r s3://offsite/node1 init --object-lock-days 35\n",
	.run = run,
};
