/* cli_lock.c — see cli_lock.h. */
#include "tools/cli/cli_lock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_opts.h"

/* The lock this process holds; tools/ may keep process-wide state. */
static Lock *held;
static int atexit_done;

static void on_lost(const char *why, void *ctx)
{
	(void)ctx;
	/* From the refresher thread: no stdio locks may be held by the main
	 * thread's state we care about; write(2) one line and leave now. */
	char line[600];
	int n = snprintf(line, sizeof line, "strata: %s; stopping at once (the repository stays valid)\n", why);
	if (n > 0)
		(void)!write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	_exit(CLI_EXIT_LOCKED);
}

/* A file in locks/ that cannot be a lock of this repository: lock_acquire
 * goes on without it; the user hears why once. */
static void on_warn(const char *msg, void *ctx)
{
	(void)ctx;
	cli_warn("%s", msg);
}

int cli_lock_parse_wait(const char *s, long *out_s)
{
	size_t n = strlen(s);
	long unit = 1, v;
	char num[32];

	if (n > 0 && strchr("smh", s[n - 1])) {
		unit = s[n - 1] == 'h' ? 3600 : s[n - 1] == 'm' ? 60 : 1;
		n--;
	}
	if (n == 0 || n >= sizeof num)
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = '\0';
	if (cli_parse_int(num, 0, CLI_LOCK_WAIT_MAX_S / unit, &v) != 0)
		return -EINVAL;
	*out_s = v * unit;
	return 0;
}

static int env_seconds(const char *name, long *out, StrataErr *err)
{
	const char *v = getenv(name);

	*out = 0;
	if (!v || !*v)
		return 0;
	if (cli_parse_int(v, 0, 365L * 86400, out) < 0)
		return strata_err_set(err, STRATA_EUSAGE, "%s=%s: expected a number of seconds", name, v);
	return 0;
}

int cli_lock_options(const Cli *cli, LockOptions *out, StrataErr *err)
{
	const char *w = cli->lock_wait ? cli->lock_wait : getenv("STRATA_LOCK_WAIT");
	long wait = 0, refresh = 0, stale = 0, retry_ms = 0;
	int rc;

	if (w && *w && cli_lock_parse_wait(w, &wait) != 0)
		return strata_err_set(err, STRATA_EUSAGE, "%s%s: " CLI_LOCK_WAIT_FORMS,
		                      cli->lock_wait ? "--lock-wait " : "STRATA_LOCK_WAIT=", w);
	if ((rc = env_seconds("STRATA_LOCK_REFRESH", &refresh, err)) ||
	    (rc = env_seconds("STRATA_LOCK_STALE", &stale, err)))
		return rc;
	if ((w = getenv("STRATA_LOCK_RETRY_MS")) && *w && cli_parse_int(w, 10, LOCK_RETRY_MAX_MS, &retry_ms) != 0)
		return strata_err_set(err, STRATA_EUSAGE, "STRATA_LOCK_RETRY_MS=%s: expected milliseconds from 10 to %d",
		                      w, LOCK_RETRY_MAX_MS);
	out->command = cli->cmd ? cli->cmd->name : "strata";
	out->wait_s = wait;
	out->retry_max_ms = retry_ms;
	out->refresh_s = refresh;
	out->stale_after_s = stale;
	out->on_lost = on_lost;
	out->lost_ctx = NULL;
	out->on_warn = on_warn;
	out->warn_ctx = NULL;
	return 0;
}

Lock *cli_held_lock(void)
{
	return held;
}

void cli_unlock(void)
{
	lock_release(held);
	held = NULL;
}

int cli_lock(const Cli *cli, Repo *repo, LockMode mode, StrataErr *err)
{
	LockOptions lo;
	int rc;

	if ((rc = cli_lock_options(cli, &lo, err)))
		return rc;
	cli_unlock();
	rc = lock_acquire(repo, mode, &lo, &held, err);
	if (rc == 0 && !atexit_done) {
		atexit(cli_unlock);
		atexit_done = 1;
	}
	return rc;
}
