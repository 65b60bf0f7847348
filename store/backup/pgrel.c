/* pgrel.c — see pgrel.h; the rule is FORMAT.md §13a. */
#include "store/backup/pgrel.h"

#include <stdio.h>
#include <string.h>

static int all_digits(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int pgrel_name_ok(const char *name)
{
	static const char *const forks[] = { "", "_fsm", "_vm", "_init" };
	const char *dot = strchr(name, '.');
	size_t base = dot ? (size_t)(dot - name) : strlen(name), n = 0;

	if (dot && !all_digits(dot + 1, strlen(dot + 1)))
		return 0;
	while (n < base && name[n] >= '0' && name[n] <= '9')
		n++;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < sizeof forks / sizeof forks[0]; i++)
		if (base - n == strlen(forks[i]) && memcmp(name + n, forks[i], base - n) == 0)
			return 1;
	return 0;
}

/* The component of path ending just before end (a '/' or the string's
 * end): *out_start gets its start. 0 when there is none. */
static size_t component_before(const char *path, size_t end, size_t *out_start)
{
	size_t s = end;

	while (s > 0 && path[s - 1] != '/')
		s--;
	*out_start = s;
	return end - s;
}

static int is_named(const char *path, size_t start, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(path + start, want, len) == 0;
}

/* PG_<major>_<catversion>: a tablespace's version directory. */
static int is_tablespace_version(const char *path, size_t start, size_t len)
{
	const char *p = path + start, *us;

	if (len < 6 || memcmp(p, "PG_", 3) != 0)
		return 0;
	us = memchr(p + 3, '_', len - 3);
	return us && all_digits(p + 3, (size_t)(us - p - 3)) &&
	       all_digits(us + 1, len - (size_t)(us + 1 - p));
}

/* Does path[0..len) hold a regular file PG_VERSION? Remembered per prefix. */
static int has_pg_version(const char *path, size_t len, PgRelMemo *memo)
{
	char probe[PATH_MAX];
	struct stat st;

	if (len + sizeof "/PG_VERSION" > sizeof probe)
		return 0;
	if (memo->valid && strlen(memo->dir) == len && memcmp(memo->dir, path, len) == 0)
		return memo->has_version;
	memcpy(memo->dir, path, len);
	memo->dir[len] = '\0';
	snprintf(probe, sizeof probe, "%s/PG_VERSION", len ? memo->dir : "");
	memo->has_version = stat(probe, &st) == 0 && S_ISREG(st.st_mode);
	memo->valid = 1;
	return memo->has_version;
}

uint32_t pgrel_run_len(const char *path, const struct stat *st, PgRelMemo *memo)
{
	size_t end = strlen(path), fs, ps, gs, gl, pl;

	if (!S_ISREG(st->st_mode) || st->st_size == 0 || st->st_size % PGREL_PAGE_LEN != 0)
		return 0;
	if (component_before(path, end, &fs) == 0 || !pgrel_name_ok(path + fs) || fs == 0)
		return 0;
	/* parent directory: path[ps .. fs-1) */
	pl = component_before(path, fs - 1, &ps);
	if (pl == 0)
		return 0;
	if (is_named(path, ps, pl, "global"))
		/* DATA/global/F */
		return ps > 0 && has_pg_version(path, ps - 1, memo) ? PGREL_RUN_LEN : 0;
	if (!all_digits(path + ps, pl) || ps == 0)
		return 0;
	gl = component_before(path, ps - 1, &gs);
	if (gl == 0)
		return 0;
	if (is_tablespace_version(path, gs, gl))
		/* .../PG_15_202209061/DBOID/F: a tablespace, reached through
		 * DATA/pg_tblspc/OID/ or backed up at its own location */
		return PGREL_RUN_LEN;
	if (is_named(path, gs, gl, "base") && gs > 0) {
		/* DATA/base/DBOID/F */
		return has_pg_version(path, gs - 1, memo) ? PGREL_RUN_LEN : 0;
	}
	return 0;
}
