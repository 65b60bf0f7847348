/* cli_pgrecovery.c — see cli_pgrecovery.h. */
#include "tools/cli/cli_pgrecovery.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli/cli_repo.h"

/* Append s to buf, single-quoted for /bin/sh when it needs it, with each
 * % doubled (PostgreSQL replaces %f, %p, %r and %% in restore_command)
 * unless s is one of those placeholders. */
static int add_word(char **buf, size_t *len, size_t *cap, const char *s)
{
	int placeholder = !strcmp(s, "%f") || !strcmp(s, "%p");
	int plain = *s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=@%+-,") ==
	            strlen(s);
	size_t need = 4 * strlen(s) + 4;   /* every byte as '\'' at worst */

	if (*len + need + 1 > *cap) {
		size_t nc = (*len + need + 1) * 2;
		char *nb = realloc(*buf, nc);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = nc;
	}
	if (*len)
		(*buf)[(*len)++] = ' ';
	if (!plain)
		(*buf)[(*len)++] = '\'';
	for (const char *p = s; *p; p++) {
		if (*p == '\'') {
			memcpy(*buf + *len, "'\\''", 4);
			*len += 4;
		} else {
			if (*p == '%' && !placeholder)
				(*buf)[(*len)++] = '%';
			(*buf)[(*len)++] = *p;
		}
	}
	if (!plain)
		(*buf)[(*len)++] = '\'';
	(*buf)[*len] = '\0';
	return 0;
}

/* path made absolute (it must exist). */
static int absolute(const char *path, char out[PATH_MAX], const char *what, StrataErr *err)
{
	if (!realpath(path, out))
		return strata_err_set(err, -errno, "%s %s: %s", what, path, strerror(errno));
	return 0;
}

int cli_pgrecovery_restore_command(const Cli *cli, char **out, StrataErr *err)
{
	char self[PATH_MAX], repo[PATH_MAX], pwf[PATH_MAX], cache[PATH_MAX], *buf = NULL;
	const char *loc, *pw, *cd;
	size_t len = 0, cap = 0;
	ssize_t n;
	int rc;

	rc = cli_repo_location(cli, &loc, err);
	if (rc)
		return rc;
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return strata_err_set(err, -errno, "cannot find this program's path (/proc/self/exe): %s", strerror(errno));
	self[n] = '\0';
	/* A local path may be relative; "local:PATH", "s3:..." are left as given. */
	if (!strchr(loc, ':')) {
		rc = absolute(loc, repo, "repository", err);
		if (rc)
			return rc;
		loc = repo;
	}
	pw = cli->password_file ? cli->password_file : getenv("STRATA_PASSWORD_FILE");
	if (!pw || !*pw)
		return strata_err_set(err, STRATA_EUSAGE, "--pg-recovery: the password does not come from a file, so the "
		                      "restored server's restore_command cannot be given it; use --password-file, or "
		                      "--pg-restore-command with a wrapper script that sets STRATA_PASSWORD_FILE");
	rc = absolute(pw, pwf, "password file", err);
	if (rc)
		return rc;
	cd = cli->cache_dir ? cli->cache_dir : getenv("STRATA_CACHE_DIR");
	if (cd && *cd) {
		if (!realpath(cd, cache))
			snprintf(cache, sizeof cache, "%s", cd);   /* not there yet: wal-fetch creates it */
		cd = cache;
	}
	if ((rc = add_word(&buf, &len, &cap, self)) || (rc = add_word(&buf, &len, &cap, "--repo")) ||
	    (rc = add_word(&buf, &len, &cap, loc)) || (rc = add_word(&buf, &len, &cap, "--password-file")) ||
	    (rc = add_word(&buf, &len, &cap, pwf)) ||
	    (cd && *cd && ((rc = add_word(&buf, &len, &cap, "--cache-dir")) || (rc = add_word(&buf, &len, &cap, cd)))) ||
	    (rc = add_word(&buf, &len, &cap, "wal-fetch")) || (rc = add_word(&buf, &len, &cap, "%f")) ||
	    (rc = add_word(&buf, &len, &cap, "%p"))) {
		free(buf);
		return strata_err_set(err, rc, "out of memory");
	}
	*out = buf;
	return 0;
}
