/* test_tmp.h — removing a unit test's temporary directory tree.
 *
 * rm_rf(dir): delete dir and everything under it, depth first, without
 * following symbolic links; errors are ignored (cleanup only).
 */
#ifndef STRATA_TESTS_TEST_TMP_H
#define STRATA_TESTS_TEST_TMP_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static inline int rm_rf_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static inline void rm_rf(const char *dir)
{
	nftw(dir, rm_rf_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
