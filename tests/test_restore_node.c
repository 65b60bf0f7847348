/* test_restore_node.c — the descriptor rules of store/restore/restore_node.h, one
 * call at a time (tests/test_restore_safety.c plays a racing user against
 * the whole restore). */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/restore/restore_node.h"
#include "tests/check.h"
#include "tests/test_tmp.h"

static char dir[256];
static int dfd = -1;

static void test_setup(void)
{
	snprintf(dir, sizeof dir, "%s/test_restore_node.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	REQUIRE(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(dfd >= 0);
}

/* A FIFO and a symlink made as the restore makes them pass; a symlink,
 * a regular file, a FIFO with a mode, a second link or a wrong device
 * number under the name do not, with the message naming the path. */
static void test_open_new(void)
{
	StrataErr err = {0};
	int fd = -1;

	REQUIRE(dfd >= 0 && mkfifoat(dfd, "p", 0) == 0);
	CHECK_EQ_INT(restore_node_open_new(dfd, "p", S_IFIFO, 0, geteuid(), "x/p", &fd, &err), 0);
	CHECK(fd >= 0);
	close(fd);
	/* Type, mode and owner are each checked. */
	CHECK_EQ_INT(restore_node_open_new(dfd, "p", S_IFLNK, 0, geteuid(), "x/p", &fd, &err), STRATA_EREFUSED);
	CHECK_STR(err.msg, "x/p: replaced by another file while being restored (someone else can rename entries in "
	          "its directory); left alone");
	CHECK_EQ_INT(restore_node_open_new(dfd, "p", S_IFIFO, 0, geteuid() + 1, "x/p", &fd, &err), STRATA_EREFUSED);
	REQUIRE(fchmodat(dfd, "p", 0600, 0) == 0);
	CHECK_EQ_INT(restore_node_open_new(dfd, "p", S_IFIFO, 0, geteuid(), "x/p", &fd, &err), STRATA_EREFUSED);
	/* A second name: not the node just made. */
	REQUIRE(fchmodat(dfd, "p", 0, 0) == 0 && linkat(dfd, "p", dfd, "p2", 0) == 0);
	CHECK_EQ_INT(restore_node_open_new(dfd, "p", S_IFIFO, 0, geteuid(), "x/p", &fd, &err), STRATA_EREFUSED);
	/* A symlink: opened, never followed (to the FIFO here). */
	REQUIRE(symlinkat("p2", dfd, "l") == 0);
	CHECK_EQ_INT(restore_node_open_new(dfd, "l", S_IFIFO, 0, geteuid(), "x/l", &fd, &err), STRATA_EREFUSED);
	CHECK_EQ_INT(restore_node_open_new(dfd, "l", S_IFLNK, 0, geteuid(), "x/l", &fd, &err), 0);
	close(fd);
	/* Missing: -ENOENT with a message. */
	CHECK_EQ_INT(restore_node_open_new(dfd, "none", S_IFIFO, 0, geteuid(), "x/none", &fd, &err), -ENOENT);
	CHECK(strstr(err.msg, "x/none: cannot open the entry just created") == err.msg);
	if (geteuid() == 0) {
		REQUIRE(mknodat(dfd, "n", S_IFCHR, makedev(1, 3)) == 0);
		CHECK_EQ_INT(restore_node_open_new(dfd, "n", S_IFCHR, makedev(1, 5), 0, "x/n", &fd, &err), STRATA_EREFUSED);
		CHECK_EQ_INT(restore_node_open_new(dfd, "n", S_IFCHR, makedev(1, 3), 0, "x/n", &fd, &err), 0);
		close(fd);
	}
}

/* Owner, mode and times through an O_PATH descriptor: a FIFO gets its
 * setuid mode; a symlink's times are its own (its target keeps its). */
static void test_set_meta(void)
{
	struct stat st, tst;
	int fd;

	REQUIRE(dfd >= 0 && mkfifoat(dfd, "m", 0) == 0);
	fd = openat(dfd, "m", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	REQUIRE(fd >= 0);
	CHECK_EQ_INT(restore_node_set_meta(fd, S_IFIFO, geteuid() == 0, geteuid(), getegid(), 04777,
	                                   1500000000LL), 0);
	close(fd);
	CHECK(fstatat(dfd, "m", &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mode == (S_IFIFO | 04777) &&
	      st.st_mtim.tv_sec == 1 && st.st_mtim.tv_nsec == 500000000);
	fd = openat(dfd, "t", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0);
	close(fd);
	REQUIRE(fstatat(dfd, "t", &tst, 0) == 0);
	REQUIRE(symlinkat("t", dfd, "s") == 0);
	fd = openat(dfd, "s", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	REQUIRE(fd >= 0);
	CHECK_EQ_INT(restore_node_set_meta(fd, S_IFLNK, 0, 0, 0, 0777, -1000000000LL), 0);
	close(fd);
	CHECK(fstatat(dfd, "s", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode) && st.st_mtim.tv_sec == -1);
	CHECK(fstatat(dfd, "t", &st, 0) == 0 && st.st_mtim.tv_sec == tst.st_mtim.tv_sec &&
	      (st.st_mode & 07777) == 0600);
}

/* Links from a descriptor, both ways round (root: AT_EMPTY_PATH first;
 * otherwise /proc/self/fd first), even after the original name is gone
 * or is taken by another file; -EEXIST for a taken new name. */
static void test_link(void)
{
	struct stat a, b;
	int fd, w;

	REQUIRE(dfd >= 0);
	w = openat(dfd, "f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	REQUIRE(w >= 0);
	fd = openat(dfd, "f", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	REQUIRE(fd >= 0 && fstat(fd, &a) == 0);
	/* The name now leads elsewhere: the link still goes to the inode. */
	REQUIRE(renameat(dfd, "f", dfd, "f-moved") == 0 && symlinkat("t", dfd, "f") == 0);
	CHECK_EQ_INT(restore_node_link(fd, dfd, "g1", 0), 0);
	CHECK(fstatat(dfd, "g1", &b, AT_SYMLINK_NOFOLLOW) == 0 && b.st_ino == a.st_ino);
	if (geteuid() == 0) {
		CHECK_EQ_INT(restore_node_link(w, dfd, "g2", 1), 0);
		CHECK(fstatat(dfd, "g2", &b, AT_SYMLINK_NOFOLLOW) == 0 && b.st_ino == a.st_ino);
	}
	CHECK_EQ_INT(restore_node_link(fd, dfd, "g1", 0), -EEXIST);
	CHECK_EQ_INT(restore_node_link(fd, dfd, "g1", geteuid() == 0), -EEXIST);
	close(fd);
	close(w);
}

/* The reopen checks under dir/sub (made here); the number that failed. */
static int reopen_checks(const char *sub)
{
	char p[128];
	struct stat st;
	int fd, bad = 0;

	snprintf(p, sizeof p, "%s/e", sub);
	if (mkdirat(dfd, sub, 0700) != 0 || mkdirat(dfd, p, 0700) != 0)
		return 100;
	snprintf(p, sizeof p, "%s/e/x", sub);
	fd = openat(dfd, p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st) != 0)
		return 100;
	close(fd);
	fd = restore_node_reopen(dfd, p, st.st_dev, st.st_ino);
	bad += fd < 0;
	if (fd >= 0)
		close(fd);
	/* Another inode of that name. */
	bad += restore_node_reopen(dfd, p, st.st_dev, st.st_ino + 1) != -ESTALE;
	/* A directory on the way swapped for a symlink to it. */
	{
		char e[128], e2[128];
		snprintf(e, sizeof e, "%s/e", sub);
		snprintf(e2, sizeof e2, "%s/e2", sub);
		if (renameat(dfd, e, dfd, e2) != 0 || symlinkat("e2", dfd, e) != 0)
			return 100;
	}
	fd = restore_node_reopen(dfd, p, st.st_dev, st.st_ino);
	bad += fd != -ELOOP && fd != -ENOTDIR;
	/* The last component a symlink to the file. */
	snprintf(p, sizeof p, "%s/y", sub);
	if (symlinkat("e2/x", dfd, p) != 0)
		return 100;
	bad += restore_node_reopen(dfd, p, st.st_dev, st.st_ino) != -ESTALE;
	bad += restore_node_reopen(dfd, "", st.st_dev, st.st_ino) != -EINVAL;
	snprintf(p, sizeof p, "%s//y", sub);
	bad += restore_node_reopen(dfd, p, st.st_dev, st.st_ino) != -EINVAL;
	return bad;
}

/* Reopen by path: only through real directories, only to the inode. */
static void test_reopen(void)
{
	REQUIRE(dfd >= 0);
	CHECK_EQ_INT(reopen_checks("d"), 0);
}

/* The same where openat2 is missing (a kernel before 5.6, or a seccomp
 * filter that does not know it): the component walk. A child refuses
 * openat2 with ENOSYS through seccomp, as such a filter would. */
static void test_reopen_without_openat2(void)
{
#ifdef SYS_openat2
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { (unsigned short)(sizeof f / sizeof f[0]), f };
	int st;
	pid_t pid;

	REQUIRE(dfd >= 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		struct open_how_probe { unsigned long long flags, mode, resolve; } how = { 0, 0, 0 };
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
			_exit(101);
		/* The filter works: openat2 itself says ENOSYS now. */
		if (syscall(SYS_openat2, dfd, ".", &how, sizeof how) != -1 || errno != ENOSYS)
			_exit(102);
		_exit(reopen_checks("w"));
	}
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ_INT(WEXITSTATUS(st), 0);
#else
	printf("SKIP test_reopen_without_openat2: no openat2 here, the walk is all there is\n");
#endif
}

/* Directory checks: messages, the sticky exception, *out_private. */
static void test_dir_check(void)
{
	StrataErr err = {0};
	int fd, priv = -1;

	REQUIRE(dfd >= 0 && mkdirat(dfd, "c", 0755) == 0);
	fd = openat(dfd, "c", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(fd >= 0);
	if (geteuid() != 0) {
		printf("SKIP test_dir_check: the checks are about root's directories\n");
		close(fd);
		return;
	}
	CHECK_EQ_INT(restore_node_dir_check(fd, "c", 0, &priv, &err), 0);
	CHECK_EQ_INT(priv, 1);
	CHECK_EQ_INT(restore_node_dir_new(fd, 0, "c", &err), STRATA_EREFUSED);   /* 0755: not as made */
	REQUIRE(fchmod(fd, 0700) == 0);
	CHECK_EQ_INT(restore_node_dir_new(fd, 0, "c", &err), 0);
	CHECK_EQ_INT(restore_node_dir_new(fd, 1, "c", &err), STRATA_EREFUSED);
	REQUIRE(fchmod(fd, 01777) == 0);
	CHECK_EQ_INT(restore_node_dir_check(fd, "c", 0, &priv, &err), 0);
	CHECK_EQ_INT(priv, 0);
	REQUIRE(fchmod(fd, 0757) == 0);
	CHECK_EQ_INT(restore_node_dir_check(fd, "c", 0, &priv, &err), STRATA_EREFUSED);
	CHECK_STR(err.msg, "c: existing directory writable by group or others (mode 0757, no sticky bit): restoring "
	          "as root into a directory another user can change is refused (they could swap its entries for links "
	          "while the restore runs); check the directory, or pass --allow-foreign-dirs");
	CHECK_EQ_INT(restore_node_dir_check(fd, "c", 1, &priv, &err), 0);
	CHECK_EQ_INT(priv, 0);
	REQUIRE(fchmod(fd, 0755) == 0 && fchown(fd, 65534, 65534) == 0);
	CHECK_EQ_INT(restore_node_dir_check(fd, "c", 0, &priv, &err), STRATA_EREFUSED);
	CHECK_STR(err.msg, "c: existing directory owned by uid 65534: restoring as root into a directory another user "
	          "can change is refused (they could swap its entries for links while the restore runs); check the "
	          "directory, or pass --allow-foreign-dirs");
	CHECK_EQ_INT(restore_node_dir_check(fd, "c", 1, &priv, &err), 0);
	CHECK_EQ_INT(priv, 0);
	close(fd);
}

int main(void)
{
	RUN(test_setup);
	RUN(test_open_new);
	RUN(test_set_meta);
	RUN(test_link);
	RUN(test_reopen);
	RUN(test_reopen_without_openat2);
	RUN(test_dir_check);
	if (dfd >= 0)
		close(dfd);
	if (dir[0])
		rm_rf(dir);
	return CHECK_EXIT();
}
