/* test_changeset.c — unit tests for store/backup/changeset.c: marks of one
 * path add up, "below" is strict and sees exactly the paths under a
 * directory (not a sibling that shares its name as a prefix: "/a/b" is
 * not below "/a/b" nor is "/a/bc" below "/a/b"; "/a/b.c" sorts between
 * them), "/" holds everything but itself, and relative paths are refused.
 */
#include "store/backup/changeset.h"
#include "tests/check.h"

#include <errno.h>

static void test_flags_and_below(void)
{
	ChangeSet *cs = NULL;

	REQUIRE(changeset_new(&cs) == 0);
	CHECK_EQ_INT(changeset_add(cs, "/a/b/f", CHANGESET_STAT), 0);
	CHECK_EQ_INT(changeset_add(cs, "/a/bc", CHANGESET_STAT), 0);
	CHECK_EQ_INT(changeset_add(cs, "/a/b.c", CHANGESET_RELIST), 0);
	CHECK_EQ_INT(changeset_add(cs, "/a/b/f", CHANGESET_LINK), 0);
	CHECK_EQ_INT(changeset_add(cs, "/z", CHANGESET_RELIST | CHANGESET_STAT), 0);
	CHECK_EQ_INT(changeset_add(cs, "rel/x", CHANGESET_STAT), -EINVAL);
	changeset_seal(cs);
	CHECK_EQ_INT(changeset_count(cs), 4);
	CHECK_STR(changeset_path(cs, 0), "/a/b.c");
	CHECK_STR(changeset_path(cs, 1), "/a/b/f");
	CHECK_EQ_INT(changeset_flags(cs, "/a/b/f"), CHANGESET_STAT | CHANGESET_LINK);
	CHECK_EQ_INT(changeset_flags(cs, "/a/b"), 0);
	CHECK_EQ_INT(changeset_flags(cs, "/a/b.c"), CHANGESET_RELIST);
	CHECK_EQ_INT(changeset_below(cs, "/a/b"), 1);
	CHECK_EQ_INT(changeset_below(cs, "/a"), 1);
	CHECK_EQ_INT(changeset_below(cs, "/a/b/f"), 0);
	CHECK_EQ_INT(changeset_below(cs, "/a/bc"), 0);
	CHECK_EQ_INT(changeset_below(cs, "/a/b.c"), 0);
	CHECK_EQ_INT(changeset_below(cs, "/z"), 0);
	CHECK_EQ_INT(changeset_below(cs, "/y"), 0);
	CHECK_EQ_INT(changeset_below(cs, "/"), 1);
	/* More marks after a seal: seal again. */
	CHECK_EQ_INT(changeset_add(cs, "/a/b/g", CHANGESET_STAT), 0);
	changeset_seal(cs);
	CHECK_EQ_INT(changeset_count(cs), 5);
	CHECK_EQ_INT(changeset_flags(cs, "/a/b/g"), CHANGESET_STAT);
	changeset_free(cs);
}

static void test_root(void)
{
	ChangeSet *cs = NULL;

	REQUIRE(changeset_new(&cs) == 0);
	changeset_seal(cs);
	CHECK_EQ_INT(changeset_below(cs, "/"), 0);
	CHECK_EQ_INT(changeset_flags(cs, "/"), 0);
	CHECK_EQ_INT(changeset_add(cs, "/", CHANGESET_RELIST), 0);
	changeset_seal(cs);
	CHECK_EQ_INT(changeset_below(cs, "/"), 0);        /* itself is not below */
	CHECK_EQ_INT(changeset_flags(cs, "/"), CHANGESET_RELIST);
	CHECK_EQ_INT(changeset_add(cs, "/x", CHANGESET_STAT), 0);
	changeset_seal(cs);
	CHECK_EQ_INT(changeset_below(cs, "/"), 1);
	changeset_free(cs);
	changeset_free(NULL);
}

int main(void)
{
	RUN(test_flags_and_below);
	RUN(test_root);
	return CHECK_EXIT();
}
