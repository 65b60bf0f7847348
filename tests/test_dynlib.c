/* test_dynlib.c — unit tests for remote/dynlib.c: a library's functions
 * land in the table at their members; a missing function and a missing
 * library give the exact messages users see (README "Dependencies"); a
 * short message buffer is truncated, not overrun.
 */
#include "remote/dynlib.h"
#include "tests/check.h"

#include <stdlib.h>
#include <string.h>

typedef struct LibcTable {
	size_t (*strlen_fn)(const char *s);
	int (*abs_fn)(int v);
} LibcTable;

static void test_fills_the_table(void)
{
	static const DynSym syms[] = {
		DYNSYM(LibcTable, strlen_fn, "strlen"),
		DYNSYM(LibcTable, abs_fn, "abs"),
	};
	LibcTable t;
	char msg[256] = "";

	memset(&t, 0, sizeof t);
	REQUIRE(dynlib_load("libc.so.6", "libc6", syms, 2, &t, msg, sizeof msg) == 0);
	REQUIRE(t.strlen_fn && t.abs_fn);
	CHECK_EQ_INT(t.strlen_fn("strata"), 6);
	CHECK_EQ_INT(t.abs_fn(-7), 7);
	CHECK_EQ_INT(msg[0], 0);
}

static void test_missing_function(void)
{
	static const DynSym syms[] = {
		DYNSYM(LibcTable, strlen_fn, "strlen"),
		DYNSYM(LibcTable, abs_fn, "strata_no_such_function"),
	};
	LibcTable t;
	char msg[256];

	CHECK(dynlib_load("libc.so.6", "libc6", syms, 2, &t, msg, sizeof msg) == -1);
	CHECK(strcmp(msg, "libc.so.6 has no strata_no_such_function") == 0);
}

static void test_missing_library(void)
{
	static const DynSym syms[] = { DYNSYM(LibcTable, strlen_fn, "strlen") };
	static const char want[] = "cannot load libstrata-missing.so.0 (install strata-missing): ";
	LibcTable t;
	char msg[256], small[16];

	CHECK(dynlib_load("libstrata-missing.so.0", "strata-missing", syms, 1, &t, msg, sizeof msg) == -1);
	CHECK(strncmp(msg, want, sizeof want - 1) == 0);
	CHECK(strstr(msg, "libstrata-missing.so.0: cannot open shared object file") != NULL);
	CHECK(dynlib_load("libstrata-missing.so.0", "strata-missing", syms, 1, &t, small, sizeof small) == -1);
	CHECK(strcmp(small, "cannot load lib") == 0);
}

int main(void)
{
	RUN(test_fills_the_table);
	RUN(test_missing_function);
	RUN(test_missing_library);
	return CHECK_EXIT();
}
