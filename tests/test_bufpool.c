/* test_bufpool.c — unit tests for store/restore/bufpool.c: a request gets the
 * smallest idle buffer that fits; idle buffers are freed, smallest first,
 * only as far as the budget needs; a request over the budget is still
 * served; at most BUFPOOL_KEEP buffers stay idle; sizes round up to 1 MiB.
 */
#include "store/restore/bufpool.h"
#include "tests/check.h"

#include <string.h>

#define MiB ((size_t)1 << 20)

/* Fill a buffer whole: under ASan a short allocation fails here. */
static void fill(uint8_t *p, size_t cap)
{
	memset(p, 0xa5, cap);
}

static void test_smallest_that_fits(void)
{
	BufPool bp;
	uint8_t *big, *small, *p;
	size_t big_cap, small_cap, cap;

	bufpool_init(&bp, 64 * MiB);
	big = bufpool_get(&bp, 17 * MiB, &big_cap);
	small = bufpool_get(&bp, MiB, &small_cap);
	REQUIRE(big && small);
	CHECK_EQ_INT(big_cap, 17 * MiB);
	CHECK_EQ_INT(small_cap, MiB);
	fill(big, big_cap);
	fill(small, small_cap);
	bufpool_put(&bp, big, big_cap);      /* big first: first fit would pick it */
	bufpool_put(&bp, small, small_cap);
	p = bufpool_get(&bp, 4096, &cap);
	CHECK(p == small);
	CHECK_EQ_INT(cap, MiB);
	bufpool_put(&bp, p, cap);
	p = bufpool_get(&bp, 16 * MiB + 1, &cap);
	CHECK(p == big);
	CHECK_EQ_INT(cap, 17 * MiB);
	bufpool_put(&bp, p, cap);
	CHECK_EQ_INT(bp.n, 2);
	CHECK_EQ_INT(bp.total, 18 * MiB);
	bufpool_destroy(&bp);
}

static void test_budget_frees_smallest_first(void)
{
	BufPool bp;
	uint8_t *a, *b, *c, *d;
	size_t ca, cb, cc, cd;

	bufpool_init(&bp, 10 * MiB);
	a = bufpool_get(&bp, 2 * MiB, &ca);
	b = bufpool_get(&bp, 3 * MiB, &cb);
	REQUIRE(a && b);
	bufpool_put(&bp, a, ca);
	bufpool_put(&bp, b, cb);
	CHECK_EQ_INT(bp.total, 5 * MiB);
	/* 6 MiB fits neither; 5 + 6 > 10: the 2 MiB one goes, 3 + 6 <= 10. */
	c = bufpool_get(&bp, 6 * MiB, &cc);
	REQUIRE(c);
	fill(c, cc);
	CHECK_EQ_INT(bp.n, 1);
	CHECK_EQ_INT(bp.cap[0], 3 * MiB);
	CHECK_EQ_INT(bp.total, 9 * MiB);
	/* 8 MiB: 9 + 8 > 10 and the 3 MiB one goes too; what is out stays. */
	d = bufpool_get(&bp, 8 * MiB, &cd);
	REQUIRE(d);
	fill(d, cd);
	CHECK_EQ_INT(bp.n, 0);
	CHECK_EQ_INT(bp.total, 14 * MiB);
	bufpool_put(&bp, c, cc);
	bufpool_put(&bp, d, cd);
	CHECK_EQ_INT(bp.n, 2);
	bufpool_destroy(&bp);
}

static void test_over_budget_still_served(void)
{
	BufPool bp;
	uint8_t *p;
	size_t cap;

	bufpool_init(&bp, MiB);
	p = bufpool_get(&bp, 5 * MiB, &cap);
	REQUIRE(p);
	CHECK_EQ_INT(cap, 5 * MiB);
	fill(p, cap);
	CHECK_EQ_INT(bp.total, 5 * MiB);
	bufpool_put(&bp, p, cap);
	bufpool_destroy(&bp);
}

static void test_keep_bound_and_rounding(void)
{
	BufPool bp;
	uint8_t *p[BUFPOOL_KEEP + 2];
	size_t cap[BUFPOOL_KEEP + 2];

	bufpool_init(&bp, 1024 * MiB);
	for (size_t i = 0; i < BUFPOOL_KEEP + 2; i++) {
		p[i] = bufpool_get(&bp, i, &cap[i]);   /* 0 and 1 byte too */
		REQUIRE(p[i]);
		CHECK_EQ_INT(cap[i], MiB);
	}
	for (size_t i = 0; i < BUFPOOL_KEEP + 2; i++)
		bufpool_put(&bp, p[i], cap[i]);
	CHECK_EQ_INT(bp.n, BUFPOOL_KEEP);
	CHECK_EQ_INT(bp.total, BUFPOOL_KEEP * MiB);
	bufpool_put(&bp, NULL, 0);
	CHECK_EQ_INT(bp.n, BUFPOOL_KEEP);
	bufpool_destroy(&bp);
}

int main(void)
{
	RUN(test_smallest_that_fits);
	RUN(test_budget_frees_smallest_first);
	RUN(test_over_budget_still_served);
	RUN(test_keep_bound_and_rounding);
	return CHECK_EXIT();
}
