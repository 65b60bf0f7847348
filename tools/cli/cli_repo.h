/* cli_repo.h — from global options to an open Repo.
 *
 * Owns: choosing the repository location (-r/--repo, else
 * $STRATA_REPOSITORY) and opening it with the password from
 * cli_password.h, wiping the password as soon as repo_open returns.
 */
#ifndef STRATA_TOOLS_CLI_REPO_H
#define STRATA_TOOLS_CLI_REPO_H

#include "store/error.h"
#include "store/repo.h"
#include "tools/cli/cli.h"

/* cli_repo_location — the location, or STRATA_EUSAGE when none is given. */
int cli_repo_location(const Cli *cli, const char **out, StrataErr *err);

/* cli_repo_key_cache — the key cache's time in seconds (--key-cache, else
 * $STRATA_KEY_CACHE, else 0 = off); STRATA_EUSAGE when not a number of
 * seconds from 0 to KEYCACHE_TTL_MAX. */
int cli_repo_key_cache(const Cli *cli, unsigned *out, StrataErr *err);

/* cli_repo_open — open the repository. Errors: those of cli_repo_location,
 * cli_password_get and repo_open (STRATA_ENOREPO, STRATA_EPASSWORD, ...). */
int cli_repo_open(const Cli *cli, Repo **out_repo, StrataErr *err);

#endif
