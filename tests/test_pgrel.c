/* test_pgrel.c — unit tests for store/backup/pgrel.c: which files a backup
 * cuts in runs of PostgreSQL pages (FORMAT.md §13a). A data directory is
 * laid out in a temporary directory (PG_VERSION, base/, global/, a
 * tablespace's PG_<major>_<catversion>/), with relation files and files
 * that only look like them; each must be recognised exactly as the rule
 * says.
 */
#include "store/backup/pgrel.h"
#include "tests/check.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[256];

static void test_names(void)
{
	CHECK(pgrel_name_ok("16384"));
	CHECK(pgrel_name_ok("16384.1"));
	CHECK(pgrel_name_ok("16384_fsm"));
	CHECK(pgrel_name_ok("16384_vm"));
	CHECK(pgrel_name_ok("16384_init"));
	CHECK(pgrel_name_ok("16384_vm.12"));
	CHECK(!pgrel_name_ok(""));
	CHECK(!pgrel_name_ok("PG_VERSION"));
	CHECK(!pgrel_name_ok("pg_filenode.map"));
	CHECK(!pgrel_name_ok("16384."));
	CHECK(!pgrel_name_ok("16384.x"));
	CHECK(!pgrel_name_ok("_fsm"));
	CHECK(!pgrel_name_ok("16384_fsmx"));
	CHECK(!pgrel_name_ok("16384_"));
	CHECK(!pgrel_name_ok("1a"));
	CHECK(!pgrel_name_ok("t16384"));
}

/* Make path (under tmp) a file of len bytes; returns its stat. */
static struct stat make_file(const char *rel, off_t len)
{
	char path[512];
	struct stat st = {0};
	int fd;

	snprintf(path, sizeof path, "%s/%s", tmp, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, len) != 0 || fstat(fd, &st) != 0)
		printf("  cannot make %s\n", path);
	if (fd >= 0)
		close(fd);
	return st;
}

static uint32_t run_of(const char *rel, PgRelMemo *memo)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s", tmp, rel);
	if (stat(path, &st) != 0) {
		printf("  cannot stat %s\n", path);
		return 99;
	}
	return pgrel_run_len(path, &st, memo);
}

static void test_layout(void)
{
	static const char *const dirs[] = {
		"pg", "pg/base", "pg/base/5", "pg/global", "pg/pg_wal", "pg/pg_tblspc",
		"pg/pg_tblspc/16500", "pg/pg_tblspc/16500/PG_15_202209061",
		"pg/pg_tblspc/16500/PG_15_202209061/5",
		"notpg", "notpg/base", "notpg/base/5", "notpg/global",
	};
	PgRelMemo memo = {0};
	char cmd[400];

	snprintf(tmp, sizeof tmp, "%s/test_pgrel.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	REQUIRE(mkdtemp(tmp));
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s", tmp, dirs[i]);
		REQUIRE(mkdir(path, 0700) == 0);
	}
	make_file("pg/PG_VERSION", 3);
	make_file("pg/base/5/PG_VERSION", 3);
	make_file("pg/base/5/16384", 5 * 8192);
	make_file("pg/base/5/16384.1", 8192);
	make_file("pg/base/5/16384_fsm", 3 * 8192);
	make_file("pg/base/5/16385", 0);                   /* empty: nothing to cut */
	make_file("pg/base/5/16386", 8192 + 100);          /* not whole pages */
	make_file("pg/base/5/pg_filenode.map", 8192);
	make_file("pg/global/1262", 8192);
	make_file("pg/global/pg_control", 8192);
	make_file("pg/pg_wal/000000010000000000000001", 16 * 8192);
	make_file("pg/pg_tblspc/16500/PG_15_202209061/5/16501", 2 * 8192);
	make_file("notpg/base/5/16384", 8192);             /* no PG_VERSION above */
	make_file("notpg/global/1262", 8192);

	CHECK_EQ_INT(run_of("pg/base/5/16384", &memo), PGREL_RUN_LEN);
	CHECK_EQ_INT(run_of("pg/base/5/16384.1", &memo), PGREL_RUN_LEN);
	CHECK_EQ_INT(run_of("pg/base/5/16384_fsm", &memo), PGREL_RUN_LEN);
	CHECK_EQ_INT(run_of("pg/base/5/16385", &memo), 0);
	CHECK_EQ_INT(run_of("pg/base/5/16386", &memo), 0);
	CHECK_EQ_INT(run_of("pg/base/5/pg_filenode.map", &memo), 0);
	CHECK_EQ_INT(run_of("pg/base/5/PG_VERSION", &memo), 0);
	CHECK_EQ_INT(run_of("pg/global/1262", &memo), PGREL_RUN_LEN);
	CHECK_EQ_INT(run_of("pg/global/pg_control", &memo), 0);
	CHECK_EQ_INT(run_of("pg/pg_wal/000000010000000000000001", &memo), 0);
	CHECK_EQ_INT(run_of("pg/pg_tblspc/16500/PG_15_202209061/5/16501", &memo), PGREL_RUN_LEN);
	/* The memo holds pg/ now: a directory without PG_VERSION must not
	 * pass for it, nor pg/ fail after it. */
	CHECK_EQ_INT(run_of("notpg/base/5/16384", &memo), 0);
	CHECK_EQ_INT(run_of("notpg/global/1262", &memo), 0);
	CHECK_EQ_INT(run_of("pg/base/5/16384", &memo), PGREL_RUN_LEN);
	CHECK_EQ_INT(PGREL_RUN_LEN, 16384);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		printf("  could not remove %s\n", tmp);
}

int main(void)
{
	RUN(test_names);
	RUN(test_layout);
	return CHECK_EXIT();
}
