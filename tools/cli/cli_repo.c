/* cli_repo.c — see cli_repo.h. */
#include "tools/cli/cli_repo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/keycache.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_password.h"

int cli_repo_location(const Cli *cli, const char **out, StrataErr *err)
{
	const char *loc = cli->repo;

	if (!loc || !*loc)
		loc = getenv("STRATA_REPOSITORY");
	if (!loc || !*loc)
		return strata_err_set(err, STRATA_EUSAGE,
		                      "no repository given: use -r/--repo LOCATION or set STRATA_REPOSITORY");
	*out = loc;
	return 0;
}

int cli_repo_key_cache(const Cli *cli, unsigned *out, StrataErr *err)
{
	const char *s = cli->key_cache;
	const char *what = "--key-cache";
	long v = 0;

	if (!s) {
		s = getenv("STRATA_KEY_CACHE");
		what = "STRATA_KEY_CACHE";
	}
	*out = 0;
	if (!s || !*s)
		return 0;
	if (cli_parse_int(s, 0, KEYCACHE_TTL_MAX, &v) != 0)
		return strata_err_set(err, STRATA_EUSAGE, "%s %s: give whole seconds from 0 (off) to %d", what, s,
		                      KEYCACHE_TTL_MAX);
	*out = (unsigned)v;
	return 0;
}

/* Lines about key files: warnings always (--quiet keeps warnings), the
 * key file tried with --verbose; both on stderr, never in JSON. */
static void on_repo_log(int warning, const char *line, void *ctx)
{
	const int *verbose = ctx;

	if (warning)
		cli_warn("%s", line);
	else if (*verbose)
		fprintf(stderr, "%s\n", line);
}

int cli_repo_open(const Cli *cli, Repo **out_repo, StrataErr *err)
{
	CliPassword pw = { .len = 0 };
	int verbose = cli->verbose;
	RepoOpenOpts o = { .cache_dir = cli->cache_dir, .log = on_repo_log, .log_ctx = &verbose };
	const char *loc = NULL;
	char prompt[1200];
	int rc, state;

	if ((rc = cli_repo_location(cli, &loc, err)) || (rc = cli_repo_key_cache(cli, &o.key_cache_ttl, err)))
		return rc;
	snprintf(prompt, sizeof prompt, "enter the password for repository %s: ", loc);
	if ((rc = cli_password_get(cli, prompt, 0, &pw, err)))
		goto out;
	rc = repo_open_opts(loc, pw.buf, pw.len, &o, out_repo, err);
	if (rc || !o.key_cache_ttl)
		goto out;
	state = repo_key_cache_state(*out_repo);
	if (state < 0 && !cli->quiet)
		cli_warn("key cache: cannot keep the key in the kernel keyring (%s); each run unwraps it",
		         strerror(-state));
	else if (cli->verbose)
		fprintf(stderr, state == 1 ? "key: from the key cache\n" : "key: unwrapped; kept in the key cache for %u s\n",
		        o.key_cache_ttl);
out:
	cli_password_wipe(&pw);
	return rc;
}
