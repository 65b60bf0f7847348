/* test_s3_list.c — the rules a ListObjectsV2 listing must follow
 * (remote/s3/s3_list.h), on pages built here: a good listing passes, and
 * each way a hostile or broken server can keep a listing going for ever
 * stops it with its exact reason — a token seen before (also one seen
 * several pages back), a truncated page without a token, a page that
 * repeats the one before, a run of empty pages, the page bound and the
 * object bound. The end-to-end side, through a real S3 client against a
 * hostile proxy, is tests/e2e_s3_backend.sh. */
#include "remote/s3/s3_list.h"
#include "tests/check.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A page of n keys "k<first>", "k<first+1>", ... with a token (NULL: none). */
typedef struct Page {
	S3XmlListPage p;
	S3XmlObject obj[8];
	char keys[8][32];
	char token[64];
} Page;

static void page_make(Page *pg, unsigned first, size_t n, int truncated, const char *token)
{
	memset(pg, 0, sizeof(*pg));
	for (size_t i = 0; i < n; i++) {
		snprintf(pg->keys[i], sizeof(pg->keys[i]), "repo/data/k%08u", first + (unsigned)i);
		pg->obj[i].key = pg->keys[i];
		pg->obj[i].size = 100 + i;
	}
	pg->p.objects = n ? pg->obj : NULL;
	pg->p.n_objects = n;
	pg->p.truncated = truncated;
	if (token) {
		snprintf(pg->token, sizeof(pg->token), "%s", token);
		pg->p.next_token = pg->token;
	}
}

static void test_good_listing(void)
{
	S3ListGuard g;
	char why[256] = "", tok[32];
	Page pg;

	s3list_guard_init(&g, 100, 1000);
	/* 40 pages of 8 keys with fresh tokens, a short page, an empty one
	 * (stores may answer those), then the last. */
	for (unsigned i = 0; i < 40; i++) {
		snprintf(tok, sizeof tok, "token-%u", i);
		page_make(&pg, i * 8, 8, 1, tok);
		CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), 0);
	}
	page_make(&pg, 1000, 3, 1, "short");
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), 0);
	page_make(&pg, 0, 0, 1, "empty");
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), 0);
	page_make(&pg, 2000, 5, 0, NULL);
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), 0);
	CHECK_EQ_INT(g.keys, 40 * 8 + 3 + 5);
	CHECK_EQ_INT(g.pages, 43);
	CHECK_STR(why, "");
	s3list_guard_free(&g);

	/* A single untruncated page, and an empty bucket. */
	s3list_guard_init(&g, 1, 5);
	page_make(&pg, 0, 5, 0, NULL);
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), 0);
	s3list_guard_free(&g);
	s3list_guard_init(&g, 1, 1);
	page_make(&pg, 0, 0, 0, NULL);
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), 0);
	s3list_guard_free(&g);
}

static void test_same_token(void)
{
	S3ListGuard g;
	char why[256];
	Page pg;

	s3list_guard_init(&g, 1000, 1000000);
	page_make(&pg, 0, 2, 1, "loop");
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), 0);
	page_make(&pg, 2, 2, 1, "loop");
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), -EIO);
	CHECK_STR(why, "page 2 carries a continuation token this listing had already "
	               "(the server is going round in circles)");
	s3list_guard_free(&g);
}

/* A cycle A, B, C, A: caught at the fourth page, not only when a token
 * repeats the one just before; and no false alarm among 20,000 tokens
 * (the set grows through several resizes). */
static void test_token_cycle_and_many(void)
{
	static const char *const cycle[] = { "A", "B", "C", "A" };
	S3ListGuard g;
	char why[256], tok[32];
	Page pg;
	int rc = 0;

	s3list_guard_init(&g, 1000, 1000000);
	for (unsigned i = 0; i < 4; i++) {
		page_make(&pg, i * 2, 2, 1, cycle[i]);
		rc = s3list_guard_page(&g, &pg.p, why, sizeof why);
		if (i < 3)
			CHECK_EQ_INT(rc, 0);
	}
	CHECK_EQ_INT(rc, -EIO);
	CHECK(strncmp(why, "page 4 carries a continuation token", 35) == 0);
	s3list_guard_free(&g);

	s3list_guard_init(&g, 100000, 1000000);
	rc = 0;
	for (unsigned i = 0; i < 20000 && rc == 0; i++) {
		snprintf(tok, sizeof tok, "t%u", i);
		page_make(&pg, i, 1, 1, tok);
		rc = s3list_guard_page(&g, &pg.p, why, sizeof why);
	}
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(g.n_tokens, 20000);
	s3list_guard_free(&g);
}

static void test_no_token(void)
{
	S3ListGuard g;
	char why[256];
	Page pg;

	s3list_guard_init(&g, 1000, 1000000);
	page_make(&pg, 0, 3, 1, NULL);
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), -EIO);
	CHECK_STR(why, "page 1 says more follow but carries no continuation token");
	s3list_guard_free(&g);
	s3list_guard_init(&g, 1000, 1000000);
	page_make(&pg, 0, 3, 1, "");
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), -EIO);
	CHECK_STR(why, "page 1 says more follow but carries no continuation token");
	s3list_guard_free(&g);
}

static void test_repeated_page(void)
{
	S3ListGuard g;
	char why[256];
	Page pg;

	s3list_guard_init(&g, 1000, 1000000);
	page_make(&pg, 0, 4, 1, "t1");
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), 0);
	page_make(&pg, 4, 4, 1, "t2");
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), 0);
	page_make(&pg, 4, 4, 1, "t3");          /* the same keys, a new token */
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), -EIO);
	CHECK_STR(why, "page 3 repeats the page before it (the server makes no progress)");
	s3list_guard_free(&g);

	/* Same keys, other sizes: a different page. */
	s3list_guard_init(&g, 1000, 1000000);
	page_make(&pg, 0, 4, 1, "t1");
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), 0);
	page_make(&pg, 0, 4, 1, "t2");
	pg.obj[3].size = 1;
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), 0);
	s3list_guard_free(&g);
}

static void test_empty_run(void)
{
	S3ListGuard g;
	char why[256], tok[32];
	Page pg;
	unsigned i;
	int rc = 0;

	s3list_guard_init(&g, 1000000, 1000000);
	/* A run one short of the bound, broken by a page with a key, is fine. */
	for (i = 0; i < S3LIST_EMPTY_RUN_MAX - 1 && rc == 0; i++) {
		snprintf(tok, sizeof tok, "a%u", i);
		page_make(&pg, 0, 0, 1, tok);
		rc = s3list_guard_page(&g, &pg.p, why, sizeof why);
	}
	CHECK_EQ_INT(rc, 0);
	page_make(&pg, 5, 1, 1, "key");
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), 0);
	for (i = 0; rc == 0; i++) {
		snprintf(tok, sizeof tok, "b%u", i);
		page_make(&pg, 0, 0, 1, tok);
		rc = s3list_guard_page(&g, &pg.p, why, sizeof why);
	}
	CHECK_EQ_INT(rc, -EIO);
	CHECK_EQ_INT(i, S3LIST_EMPTY_RUN_MAX);
	CHECK_STR(why, "1000 pages in a row up to page 2000 held no object yet said more follow "
	               "(the server makes no progress)");
	s3list_guard_free(&g);
}

static void test_page_bound(void)
{
	S3ListGuard g;
	char why[256], tok[32];
	Page pg;
	unsigned i;
	int rc = 0;

	s3list_guard_init(&g, 50, 1000000);
	for (i = 1; rc == 0 && i < 1000; i++) {
		snprintf(tok, sizeof tok, "t%u", i);
		page_make(&pg, i, 1, 1, tok);
		rc = s3list_guard_page(&g, &pg.p, why, sizeof why);
	}
	CHECK_EQ_INT(rc, -EIO);
	CHECK_EQ_INT(i - 1, 50);
	CHECK_STR(why, "more than 50 pages (STRATA_S3_LIST_MAX_PAGES; raise it for a repository this large)");
	s3list_guard_free(&g);

	/* The 50th page may end the listing. */
	s3list_guard_init(&g, 50, 1000000);
	for (i = 1, rc = 0; i < 50; i++) {
		snprintf(tok, sizeof tok, "t%u", i);
		page_make(&pg, i, 1, 1, tok);
		rc |= s3list_guard_page(&g, &pg.p, why, sizeof why);
	}
	page_make(&pg, 999, 1, 0, NULL);
	rc |= s3list_guard_page(&g, &pg.p, why, sizeof why);
	CHECK_EQ_INT(rc, 0);
	s3list_guard_free(&g);
}

static void test_key_bound(void)
{
	S3ListGuard g;
	char why[256], tok[32];
	Page pg;
	unsigned i;
	int rc = 0;

	s3list_guard_init(&g, 1000, 20);
	for (i = 0; rc == 0 && i < 100; i++) {
		snprintf(tok, sizeof tok, "t%u", i);
		page_make(&pg, i * 8, 8, 1, tok);
		rc = s3list_guard_page(&g, &pg.p, why, sizeof why);
	}
	CHECK_EQ_INT(rc, -EIO);
	CHECK_EQ_INT(i, 3);                     /* 16 keys fit, 24 do not */
	CHECK_EQ_INT(g.keys, 16);               /* the refused page counts nothing */
	CHECK_STR(why, "more than 20 objects by page 3 (STRATA_S3_LIST_MAX_KEYS; raise it for a repository this large)");
	s3list_guard_free(&g);

	/* Exactly the bound, on the last page, is fine. */
	s3list_guard_init(&g, 1000, 16);
	page_make(&pg, 0, 8, 1, "t");
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), 0);
	page_make(&pg, 8, 8, 0, NULL);
	CHECK_EQ_INT(s3list_guard_page(&g, &pg.p, why, sizeof why), 0);
	s3list_guard_free(&g);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_good_listing);
	RUN(test_same_token);
	RUN(test_token_cycle_and_many);
	RUN(test_no_token);
	RUN(test_repeated_page);
	RUN(test_empty_run);
	RUN(test_page_bound);
	RUN(test_key_bound);
	return CHECK_EXIT();
}
