/* test_repo.h — a fresh repository for the unit tests that need one.
 *
 * test_repo_create(dir, &repo): under dir (made by the test, removed by it
 * at the end) a repository dir/repo with small chunks (1-4-16 KiB) and a
 * cheap key derivation, its cache in dir/cache (STRATA_CACHE_DIR), opened
 * into *repo. Returns 0, or -1 after printing why.
 */
#ifndef STRATA_TESTS_TEST_REPO_H
#define STRATA_TESTS_TEST_REPO_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/repo.h"

#define TEST_REPO_PW "pw"

static int test_repo_create(const char *dir, Repo **out)
{
	RepoParams params = { .chunk_min = 1024, .chunk_avg = 4096, .chunk_max = 16384,
	                      .pack_size = 0, .kdf_opslimit = 1, .kdf_memlimit = 8 << 20 };
	char repo_dir[600], cache_dir[600];
	StrataErr err = {0};

	snprintf(repo_dir, sizeof repo_dir, "%s/repo", dir);
	snprintf(cache_dir, sizeof cache_dir, "%s/cache", dir);
	if (setenv("STRATA_CACHE_DIR", cache_dir, 1) != 0) {
		printf("  setenv STRATA_CACHE_DIR failed\n");
		return -1;
	}
	if (repo_init(repo_dir, TEST_REPO_PW, strlen(TEST_REPO_PW), &params, NULL, &err) != 0) {
		printf("  repo_init: %s\n", err.msg);
		return -1;
	}
	if (repo_open(repo_dir, TEST_REPO_PW, strlen(TEST_REPO_PW), NULL, out, &err) != 0) {
		printf("  repo_open: %s\n", err.msg);
		return -1;
	}
	return 0;
}

#endif
