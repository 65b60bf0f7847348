/* cli_repo.c — see cli_repo.h. */
#include "tools/cli_repo.h"

#include <stdio.h>
#include <stdlib.h>

#include "tools/cli_password.h"

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

int cli_repo_open(const Cli *cli, Repo **out_repo, StrataErr *err)
{
	CliPassword pw = { .len = 0 };
	const char *loc = NULL;
	char prompt[1200];
	int rc;

	if ((rc = cli_repo_location(cli, &loc, err)))
		return rc;
	snprintf(prompt, sizeof prompt, "enter the password for repository %s: ", loc);
	if ((rc = cli_password_get(cli, prompt, 0, &pw, err)))
		goto out;
	rc = repo_open(loc, pw.buf, pw.len, cli->cache_dir, out_repo, err);
out:
	cli_password_wipe(&pw);
	return rc;
}
