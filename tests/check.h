/* check.h — the minimal unit-test harness shared by tests/test_*.c.
 *
 * Each TEST is a function; RUN(name) calls it and prints "PASS name" or
 * "FAIL name: file:line: what". tests/run.sh counts those lines across every
 * test binary and end-to-end script and prints "N passed, N failed".
 * CHECK records a failure and continues; REQUIRE returns from the test.
 */
#ifndef STRATA_TESTS_CHECK_H
#define STRATA_TESTS_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_test_failed_;
static int check_total_failed_;
static int check_total_passed_;

#define CHECK(cond) do { \
	if (!(cond)) { \
		printf("  check failed: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		check_test_failed_ = 1; \
	} \
} while (0)

#define REQUIRE(cond) do { \
	if (!(cond)) { \
		printf("  check failed: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		check_test_failed_ = 1; \
		return; \
	} \
} while (0)

#define CHECK_EQ_INT(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) { \
		printf("  check failed: %s:%d: %s == %s (%lld != %lld)\n", \
		       __FILE__, __LINE__, #a, #b, a_, b_); \
		check_test_failed_ = 1; \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *a_ = (a), *b_ = (b); \
	if (!a_ || !b_ || strcmp(a_, b_) != 0) { \
		printf("  check failed: %s:%d: %s == \"%s\" (got \"%s\")\n", \
		       __FILE__, __LINE__, #a, b_ ? b_ : "(null)", a_ ? a_ : "(null)"); \
		check_test_failed_ = 1; \
	} \
} while (0)

#define RUN(fn) do { \
	check_test_failed_ = 0; \
	fn(); \
	if (check_test_failed_) { printf("FAIL %s\n", #fn); check_total_failed_++; } \
	else { printf("PASS %s\n", #fn); check_total_passed_++; } \
	fflush(stdout); \
} while (0)

#define CHECK_EXIT() (check_total_failed_ ? 1 : 0)

#endif
