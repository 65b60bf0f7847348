/* test_dynlib.c — unit tests for remote/s3/dynlib.c: a library's functions
 * land in the table at their members; a missing function and a missing
 * library give the exact messages users see (README "Dependencies"); a
 * short message buffer is truncated, not overrun; dynlib_get loads once,
 * runs the after-load hook once, and repeats a failure's message.
 */
#include "remote/s3/dynlib.h"
#include "tests/check.h"

#include <stdio.h>
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

static int hook_calls;

static int hook_ok(void *table, char *msg, size_t msg_len)
{
	(void)msg;
	(void)msg_len;
	hook_calls++;
	return ((LibcTable *)table)->abs_fn(-3) == 3 ? 0 : -1;
}

static int hook_fails(void *table, char *msg, size_t msg_len)
{
	(void)table;
	hook_calls++;
	snprintf(msg, msg_len, "init failed: %d", 42);
	return -1;
}

static const DynSym libc_syms[] = {
	DYNSYM(LibcTable, strlen_fn, "strlen"),
	DYNSYM(LibcTable, abs_fn, "abs"),
};

static void test_get_loads_once(void)
{
	static LibcTable t;
	static DynLib lib = DYNLIB_INIT("libc.so.6", "libc6", libc_syms, &t, hook_ok);
	char msg[64] = "untouched";
	const LibcTable *a, *b;

	hook_calls = 0;
	a = dynlib_get(&lib, msg, sizeof msg);
	b = dynlib_get(&lib, NULL, 0);
	REQUIRE(a == &t && b == &t);
	CHECK_EQ_INT(a->strlen_fn("pack"), 4);
	CHECK_EQ_INT(hook_calls, 1);
	CHECK(strcmp(msg, "untouched") == 0);
}

static void test_get_repeats_a_failure(void)
{
	static const DynSym missing[] = { DYNSYM(LibcTable, abs_fn, "strata_no_such_function") };
	static LibcTable t;
	static DynLib lib = DYNLIB_INIT("libc.so.6", "libc6", missing, &t, hook_ok);
	char msg[64], again[64], small[8];

	hook_calls = 0;
	CHECK(dynlib_get(&lib, msg, sizeof msg) == NULL);
	CHECK(strcmp(msg, "libc.so.6 has no strata_no_such_function") == 0);
	CHECK(dynlib_get(&lib, again, sizeof again) == NULL);
	CHECK(strcmp(again, msg) == 0);
	CHECK(dynlib_get(&lib, small, sizeof small) == NULL);
	CHECK(strcmp(small, "libc.so") == 0);
	CHECK(dynlib_get(&lib, NULL, 0) == NULL);
	CHECK_EQ_INT(hook_calls, 0);
}

static void test_get_hook_failure(void)
{
	static LibcTable t;
	static DynLib lib = DYNLIB_INIT("libc.so.6", "libc6", libc_syms, &t, hook_fails);
	char msg[64];

	hook_calls = 0;
	CHECK(dynlib_get(&lib, msg, sizeof msg) == NULL);
	CHECK(strcmp(msg, "init failed: 42") == 0);
	CHECK(dynlib_get(&lib, msg, sizeof msg) == NULL);
	CHECK_EQ_INT(hook_calls, 1);
}

int main(void)
{
	RUN(test_fills_the_table);
	RUN(test_missing_function);
	RUN(test_missing_library);
	RUN(test_get_loads_once);
	RUN(test_get_repeats_a_failure);
	RUN(test_get_hook_failure);
	return CHECK_EXIT();
}
