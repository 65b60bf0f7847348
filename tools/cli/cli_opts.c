/* cli_opts.c — see cli_opts.h. */
#include "tools/cli/cli_opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/s3/s3_config.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_lock.h"

const struct option cli_global_longopts[] = {
	{ "repo",          required_argument, NULL, 'r' },
	{ "quiet",         no_argument,       NULL, 'q' },
	{ "verbose",       no_argument,       NULL, 'v' },
	{ "help",          no_argument,       NULL, 'h' },
	{ "json",          no_argument,       NULL, CLI_OPT_JSON },
	{ "cache-dir",     required_argument, NULL, CLI_OPT_CACHE_DIR },
	{ "password-file", required_argument, NULL, CLI_OPT_PASSWORD_FILE },
	{ "key-cache",     required_argument, NULL, CLI_OPT_KEY_CACHE },
	{ "transfers",     required_argument, NULL, CLI_OPT_TRANSFERS },
	{ "include-partial", no_argument,     NULL, CLI_OPT_INCLUDE_PARTIAL },
	{ "limit-upload",  required_argument, NULL, CLI_OPT_LIMIT_UPLOAD },
	{ "limit-download", required_argument, NULL, CLI_OPT_LIMIT_DOWNLOAD },
	{ "lock-wait",     required_argument, NULL, CLI_OPT_LOCK_WAIT },
	{ NULL, 0, NULL, 0 }
};

int cli_opts_global(Cli *cli, int opt, const char *arg)
{
	switch (opt) {
	case 'r':                   cli->repo = arg; return 1;
	case 'q':                   cli->quiet = 1; return 1;
	case 'v':                   cli->verbose = 1; return 1;
	case CLI_OPT_JSON:          cli->json = 1; return 1;
	case CLI_OPT_CACHE_DIR:     cli->cache_dir = arg; return 1;
	case CLI_OPT_PASSWORD_FILE: cli->password_file = arg; return 1;
	case CLI_OPT_KEY_CACHE:     cli->key_cache = arg; return 1;
	case CLI_OPT_TRANSFERS:     cli->transfers = arg; return 1;
	case CLI_OPT_INCLUDE_PARTIAL: cli->include_partial = 1; return 1;
	case CLI_OPT_LIMIT_UPLOAD:  cli->limit_upload = arg; return 1;
	case CLI_OPT_LIMIT_DOWNLOAD: cli->limit_download = arg; return 1;
	case CLI_OPT_LOCK_WAIT:     cli->lock_wait = arg; return 1;
	default:                    return 0;
	}
}

/* --transfers N reaches the S3 backends the command opens through the
 * environment (remote/s3/s3_config.h), as --storage-class does: every
 * location the command opens, repository and replication targets alike,
 * runs at most N requests at once. */
static int set_transfers(Cli *cli)
{
	long n = 0;

	if (cli_parse_int(cli->transfers, 1, S3CONFIG_TRANSFERS_MAX, &n) != 0)
		return cli_usage(cli, "--transfers %s: give a number of requests from 1 to %d", cli->transfers,
		                 S3CONFIG_TRANSFERS_MAX);
	if (setenv("STRATA_S3_TRANSFERS", cli->transfers, 1) != 0)
		return cli_failf(cli, -errno, "out of memory");
	return CLI_CONTINUE;
}

/* --limit-upload/--limit-download RATE reach the S3 backends as
 * STRATA_S3_LIMIT_UPLOAD/_DOWNLOAD in bytes per second
 * (remote/s3/s3_rate.h); -v makes them say where their credentials came
 * from (STRATA_S3_LOG). */
static int set_s3_env(Cli *cli)
{
	const char *opt[2] = { cli->limit_upload, cli->limit_download };
	static const char *const name[2] = { "--limit-upload", "--limit-download" };
	static const char *const var[2] = { "STRATA_S3_LIMIT_UPLOAD", "STRATA_S3_LIMIT_DOWNLOAD" };
	char buf[32];
	uint64_t v = 0;
	int i;

	for (i = 0; i < 2; i++) {
		if (!opt[i])
			continue;
		/* 1 KiB/s at least: below, libcurl's low-speed abort would
		 * call every transfer stalled. */
		if (cli_parse_size(opt[i], &v) != 0 || v < 1024 || v > (1ull << 40))
			return cli_usage(cli, "%s %s: give bytes per second from 1K to 1T (K, M, G suffixes: "
			                 "powers of 1024)", name[i], opt[i]);
		snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
		if (setenv(var[i], buf, 1) != 0)
			return cli_failf(cli, -errno, "out of memory");
	}
	if (cli->verbose && setenv("STRATA_S3_LOG", "1", 1) != 0)
		return cli_failf(cli, -errno, "out of memory");
	return CLI_CONTINUE;
}

const char *cli_opts_bad_option(char **argv, char *buf, size_t len)
{
	const char *word = argv[optind - 1];

	/* A long option is its argv word ("--bogus", "--target" with its
	 * argument missing); a short one may sit inside a cluster ("-qx"). */
	if (strncmp(word, "--", 2) != 0 && optopt > 0 && optopt < CLI_OPT_GLOBAL) {
		snprintf(buf, len, "-%c", optopt);
		return buf;
	}
	return word;
}

int cli_opts_parse(Cli *cli, int argc, char **argv, const char *shortopts,
                   const struct option *longopts, CliOptFn fn, void *ctx,
                   int *out_optind)
{
	size_t nglobal = 0, ncmd = 0, i;
	struct option *all = NULL;
	char *shorts = NULL;
	char buf[8];
	long wait_s;
	int rc = CLI_CONTINUE, opt;

	while (cli_global_longopts[nglobal].name)
		nglobal++;
	while (longopts && longopts[ncmd].name)
		ncmd++;
	all = calloc(nglobal + ncmd + 1, sizeof *all);
	shorts = malloc(strlen(shortopts) + sizeof CLI_GLOBAL_SHORTOPTS + 1);
	if (!all || !shorts) {
		rc = cli_failf(cli, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < ncmd; i++)
		all[i] = longopts[i];
	for (i = 0; i < nglobal; i++)
		all[ncmd + i] = cli_global_longopts[i];
	/* Leading ':' tells a missing argument (':') from an unknown option ('?'). */
	shorts[0] = ':';
	strcpy(shorts + 1, CLI_GLOBAL_SHORTOPTS);
	strcat(shorts, shortopts);

	opterr = 0;
	optind = 0;   /* glibc: 0 re-initializes getopt for a new argv */
	while ((opt = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
		if (opt == '?') {
			rc = cli_usage(cli, "unknown option %s", cli_opts_bad_option(argv, buf, sizeof buf));
			goto out;
		}
		if (opt == ':') {
			rc = cli_usage(cli, "option %s needs an argument", cli_opts_bad_option(argv, buf, sizeof buf));
			goto out;
		}
		if (opt == 'h') {
			cli_help_command(cli->cmd);
			rc = CLI_EXIT_OK;
			goto out;
		}
		if (cli_opts_global(cli, opt, optarg))
			continue;
		if (fn && (rc = fn(cli, opt, optarg, ctx)) != CLI_CONTINUE)
			goto out;
		rc = CLI_CONTINUE;
	}
	if (cli->transfers && (rc = set_transfers(cli)) != CLI_CONTINUE)
		goto out;
	if (cli->lock_wait && cli_lock_parse_wait(cli->lock_wait, &wait_s) != 0) {
		rc = cli_usage(cli, "--lock-wait %s: " CLI_LOCK_WAIT_FORMS, cli->lock_wait);
		goto out;
	}
	if ((rc = set_s3_env(cli)) != CLI_CONTINUE)
		goto out;
	*out_optind = optind;
out:
	free(all);
	free(shorts);
	return rc;
}

int cli_list_push(CliList *l, char *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = s;
	return 0;
}

void cli_list_free(CliList *l)
{
	size_t i;

	if (!l)
		return;
	if (l->owned)
		for (i = 0; i < l->n; i++)
			free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

int cli_opts_read_lines(const char *path, CliList *l)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *copy;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;

	if (!f)
		return -errno;
	l->owned = 1;
	while ((len = getline(&line, &cap, f)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (!(copy = strdup(line)) || cli_list_push(l, copy) < 0) {
			free(copy);
			rc = -ENOMEM;
			goto out;
		}
	}
	if (ferror(f))
		rc = -EIO;
out:
	free(line);
	fclose(f);
	return rc;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	static const char *const suffixes[][2] = {
		{ "K", "KiB" }, { "M", "MiB" }, { "G", "GiB" }, { "T", "TiB" }
	};
	unsigned long long v;
	char *end;
	size_t i;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	if (*end) {
		for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
			if (!strcmp(end, suffixes[i][0]) || !strcmp(end, suffixes[i][1]))
				break;
		if (i == sizeof suffixes / sizeof suffixes[0])
			return -EINVAL;
		if (v > (UINT64_MAX >> (10 * (i + 1))))
			return -ERANGE;
		v <<= 10 * (i + 1);
	}
	*out = v;
	return 0;
}

int cli_parse_int(const char *s, long min, long max, long *out)
{
	long v;
	char *end;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}
