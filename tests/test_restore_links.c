/* test_restore_links.c — hard-link groups of a restore (store/restore/restore_links.h):
 * lookup, the descriptor bound, reopening a closed group's file only as
 * that file, closing a group once complete. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/restore/restore_links.h"
#include "tests/check.h"
#include "tests/test_tmp.h"

static char dir[256];
static int dfd = -1;

static void test_setup(void)
{
	snprintf(dir, sizeof dir, "%s/test_restore_links.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	REQUIRE(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(dfd >= 0);
}

/* Many groups (the hash grows many times): each found, others not. */
static void test_find_many(void)
{
	RestoreLinks s;
	int fd, ok = 1;

	REQUIRE(dfd >= 0);
	fd = openat(dfd, "one", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0);
	restore_links_init(&s, 8);
	for (uint64_t i = 0; i < 20000 && ok; i++)
		ok = restore_links_add(&s, i % 3, i * 7919, 2, "one", fd) == 0;
	CHECK(ok);
	CHECK(s.fds <= 8);
	for (uint64_t i = 0; i < 20000 && ok; i++) {
		RestoreLink *g = restore_links_find(&s, i % 3, i * 7919);
		ok = g && g->dev == i % 3 && g->ino == i * 7919 && g->left == 1;
	}
	CHECK(ok);
	CHECK(restore_links_find(&s, 0, 7919) == NULL);     /* i = 1 has dev 1 */
	CHECK(restore_links_find(&s, 5, 0) == NULL);
	restore_links_free(&s);
	close(fd);
}

/* A bound of 2 with 4 groups: the two oldest lose their descriptor and
 * are reopened by path, as that very file only; a complete group closes
 * its descriptor. */
static void test_bound_and_reopen(void)
{
	RestoreLinks s;
	RestoreLink *g;
	struct stat st, st2;
	char name[16];
	int fd, src, reopened;

	REQUIRE(dfd >= 0 && mkdirat(dfd, "d", 0700) == 0);
	restore_links_init(&s, 2);
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "d/f%d", i);
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		REQUIRE(fd >= 0);
		REQUIRE(restore_links_add(&s, 1, (uint64_t)i, 3, name, fd) == 0);
		close(fd);              /* the batch closes its own */
	}
	CHECK_EQ_INT(s.fds, 2);
	g = restore_links_find(&s, 1, 0);
	REQUIRE(g != NULL);
	CHECK(g->fd < 0 && g->closed_early && g->left == 2);
	src = restore_links_source(g, dfd, &reopened);
	CHECK(src >= 0 && reopened == 1);
	CHECK(src >= 0 && fstat(src, &st) == 0 && fstatat(dfd, "d/f0", &st2, 0) == 0 && st.st_ino == st2.st_ino);
	if (src >= 0)
		close(src);
	/* Another file under its name now: not reachable as that file. */
	REQUIRE(renameat(dfd, "d/f0", dfd, "d/f0.moved") == 0);
	fd = openat(dfd, "d/f0", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0);
	close(fd);
	CHECK_EQ_INT(restore_links_source(g, dfd, &reopened), -ESTALE);
	/* A group with its descriptor: that one, not reopened. */
	g = restore_links_find(&s, 1, 3);
	REQUIRE(g != NULL && g->fd >= 0);
	CHECK(restore_links_source(g, dfd, &reopened) == g->fd && reopened == 0);
	/* NLINK 3: two more members, then the descriptor goes. */
	restore_links_linked(&s, g);
	CHECK(g->fd >= 0 && g->left == 1);
	restore_links_linked(&s, g);
	CHECK(g->fd < 0 && g->left == 0 && !g->closed_early);
	CHECK_EQ_INT(s.fds, 1);
	CHECK(restore_links_source(g, dfd, &reopened) < 0);   /* complete: nothing to link from */
	restore_links_free(&s);
}

int main(void)
{
	RUN(test_setup);
	RUN(test_find_many);
	RUN(test_bound_and_reopen);
	if (dfd >= 0)
		close(dfd);
	if (dir[0])
		rm_rf(dir);
	return CHECK_EXIT();
}
