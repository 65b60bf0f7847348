/* test_outfile.c — unit tests for store/sys/outfile.c: content lands
 * bit-exact under the target's name with exactly the mode asked for,
 * whatever the umask; the temporary file is private (0600) while written
 * and is unnamed (O_TMPFILE) or `<base>.tmp-` + 12 of [0-9a-z]; nothing is
 * left beside the target, after a commit or an abort; names planted by
 * another user (the old fixed temporary name, a symlink at the target)
 * are never written through; bad targets fail with the documented codes;
 * and the O_TMPFILE path works for an unprivileged, non-dumpable process
 * (linking through /proc/self/fd) and gives way to a named file where
 * /proc is missing.
 */
#include "store/sys/outfile.h"
#include "tests/check.h"
#include "tests/test_tmp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char base_dir[256];

/* Entries in dir other than . and .., written to names (space-separated). */
static size_t entries(const char *dir, char *names, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (names && cap)
		names[0] = '\0';
	if (!d)
		return (size_t)-1;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		n++;
		if (names && strlen(names) + strlen(de->d_name) + 2 < cap) {
			strcat(names, de->d_name);
			strcat(names, " ");
		}
	}
	closedir(d);
	return n;
}

static void fresh_dir(const char *name, char out[512])
{
	snprintf(out, 512, "%s/%s", base_dir, name);
	rm_rf(out);
	mkdir(out, 0755);
}

static int read_file(const char *path, char *buf, size_t cap, size_t *out_len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap);
	close(fd);
	if (n < 0)
		return -1;
	*out_len = (size_t)n;
	return 0;
}

/* 1 if name is base + ".tmp-" + 12 of [0-9a-z]. */
static int temp_name_ok(const char *name, const char *base)
{
	size_t bl = strlen(base);

	if (strncmp(name, base, bl) != 0 || strncmp(name + bl, ".tmp-", 5) != 0 || strlen(name) != bl + 17)
		return 0;
	return strspn(name + bl + 5, "0123456789abcdefghijklmnopqrstuvwxyz") == 12;
}

/* Write 1 MiB of a pattern through the API in pieces with umask 022 and
 * mode 0600; check the temporary file while open, then the result. */
static void roundtrip(unsigned flags)
{
	char dir[512], path[600], names[512], *got = malloc(1 << 21);
	uint8_t *want = malloc(1 << 20);
	StrataErr err = {0};
	OutFile *f = NULL;
	struct stat st;
	size_t len = 0;
	mode_t old = umask(022);

	REQUIRE(got && want);
	for (size_t i = 0; i < (1u << 20); i++)
		want[i] = (uint8_t)(i * 2654435761u >> 13);
	fresh_dir(flags ? "rt-named" : "rt-tmpfile", dir);
	snprintf(path, sizeof path, "%s/export.tar", dir);
	REQUIRE(outfile_open(path, flags, &f, &err) == 0);
	REQUIRE(fstat(outfile_fd(f), &st) == 0);
	CHECK_EQ_INT(st.st_mode & 07777, 0600);
	if (flags) {
		CHECK(temp_name_ok(outfile_temp_name(f), "export.tar"));
		CHECK_EQ_INT(entries(dir, NULL, 0), 1);
	} else {
		/* O_TMPFILE (the test directory is on a file system that has it):
		 * no name at all while the content is written. */
		CHECK_STR(outfile_temp_name(f), "");
		CHECK_EQ_INT(entries(dir, names, sizeof names), 0);
	}
	for (size_t off = 0; off < (1u << 20); off += 65536)
		REQUIRE(write(outfile_fd(f), want + off, 65536) == 65536);
	CHECK_EQ_INT(outfile_commit(f, 0600, &err), 0);
	CHECK_EQ_INT(outfile_commit(f, 0600, &err), -EINVAL);
	outfile_free(f);
	umask(old);
	REQUIRE(lstat(path, &st) == 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_EQ_INT(st.st_mode & 07777, 0600);
	CHECK_EQ_INT(st.st_uid, geteuid());
	REQUIRE(read_file(path, got, 1 << 21, &len) == 0);
	CHECK_EQ_INT(len, 1u << 20);
	CHECK(memcmp(got, want, 1 << 20) == 0);
	CHECK_EQ_INT(entries(dir, names, sizeof names), 1);
	free(got);
	free(want);
}

static void roundtrip_tmpfile(void) { roundtrip(0); }
static void roundtrip_named(void) { roundtrip(OUTFILE_NAMED_TEMP); }

/* The final mode is exactly what is asked, with umask 077 and with 0. */
static void mode_ignores_umask(void)
{
	static const unsigned modes[] = { 0644, 0640, 0600, 0400, 0 };
	char dir[512], path[600];
	StrataErr err = {0};
	struct stat st;

	fresh_dir("modes", dir);
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		for (int u = 0; u < 2; u++) {
			mode_t old = umask(u ? 077 : 0);
			snprintf(path, sizeof path, "%s/m%zu-%d", dir, i, u);
			CHECK_EQ_INT(outfile_write(path, (const uint8_t *)"x", 1, modes[i], (unsigned)u, &err), 0);
			umask(old);
			CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == modes[i]);
		}
	}
	snprintf(path, sizeof path, "%s/bad-mode", dir);
	CHECK_EQ_INT(outfile_write(path, (const uint8_t *)"x", 1, 010000, 0, &err), STRATA_EUSAGE);
	CHECK(access(path, F_OK) != 0);
}

/* Names another user planted: the fixed temporary name earlier versions
 * used (a file of uid 65534, a symlink to a file elsewhere) and a
 * symlink at the target itself. None is opened or written; the target
 * becomes this process's own regular file with the content. */
static void planted_names(unsigned flags)
{
	char dir[512], path[600], tmp[640], victim[600], got[64];
	StrataErr err = {0};
	struct stat st;
	size_t len = 0;
	int fd;

	fresh_dir(flags ? "planted-named" : "planted-tmpfile", dir);
	snprintf(path, sizeof path, "%s/out.tar", dir);
	snprintf(victim, sizeof victim, "%s/victim", dir);
	snprintf(tmp, sizeof tmp, "%s.tmp-strata", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, "hers", 4) == 4);
	close(fd);
	if (geteuid() == 0)
		REQUIRE(chown(tmp, 65534, 65534) == 0);
	chmod(tmp, 0666);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	REQUIRE(symlink(victim, tmp) == 0);
	REQUIRE(symlink(victim, path) == 0);
	CHECK_EQ_INT(outfile_write(path, (const uint8_t *)"the export", 10, 0600, flags, &err), 0);
	CHECK(access(victim, F_OK) != 0);             /* nothing written through a symlink */
	REQUIRE(lstat(path, &st) == 0);
	CHECK(S_ISREG(st.st_mode));                   /* the symlink at the target was replaced */
	CHECK_EQ_INT(st.st_uid, geteuid());
	CHECK_EQ_INT(st.st_mode & 07777, 0600);
	CHECK(read_file(path, got, sizeof got, &len) == 0 && len == 10 && memcmp(got, "the export", 10) == 0);
	snprintf(tmp, sizeof tmp, "%s.tmp-strata", path);
	CHECK(read_file(tmp, got, sizeof got, &len) == 0 && len == 4 && memcmp(got, "hers", 4) == 0);
	CHECK(lstat(tmp, &st) == 0 && (geteuid() != 0 || st.st_uid == 65534));
	CHECK_EQ_INT(entries(dir, NULL, 0), 3);       /* out.tar, out.tar.tmp-strata, out.tar.tmp */
}

static void planted_names_tmpfile(void) { planted_names(0); }
static void planted_names_named(void) { planted_names(OUTFILE_NAMED_TEMP); }

/* An abort (free without commit) leaves the old target as it was and
 * nothing beside it. */
static void abort_leaves_nothing(void)
{
	char dir[512], path[600], got[64];
	StrataErr err = {0};
	OutFile *f = NULL;
	size_t len = 0;

	fresh_dir("abort", dir);
	snprintf(path, sizeof path, "%s/keep", dir);
	REQUIRE(outfile_write(path, (const uint8_t *)"old", 3, 0600, 0, &err) == 0);
	for (unsigned flags = 0; flags <= OUTFILE_NAMED_TEMP; flags++) {
		REQUIRE(outfile_open(path, flags, &f, &err) == 0);
		REQUIRE(write(outfile_fd(f), "new content", 11) == 11);
		outfile_free(f);
		CHECK(read_file(path, got, sizeof got, &len) == 0 && len == 3 && memcmp(got, "old", 3) == 0);
		CHECK_EQ_INT(entries(dir, NULL, 0), 1);
	}
	outfile_free(NULL);
}

/* Bad targets: the documented codes, and a message naming the path; an
 * existing FIFO is left a FIFO. */
static void bad_targets(void)
{
	char dir[512], path[600];
	StrataErr err = {0};
	OutFile *f = NULL;
	struct stat st;

	fresh_dir("bad", dir);
	snprintf(path, sizeof path, "%s/", dir);
	CHECK_EQ_INT(outfile_open(path, 0, &f, &err), STRATA_EUSAGE);
	CHECK(strstr(err.msg, "names a directory; give a file name") != NULL);
	snprintf(path, sizeof path, "%s/..", dir);
	CHECK_EQ_INT(outfile_open(path, 0, &f, &err), STRATA_EUSAGE);
	CHECK_EQ_INT(outfile_open(dir, 0, &f, &err), -EISDIR);
	CHECK(strstr(err.msg, dir) != NULL && strstr(err.msg, "is a directory") != NULL);
	snprintf(path, sizeof path, "%s/fifo", dir);
	REQUIRE(mkfifo(path, 0600) == 0);
	CHECK_EQ_INT(outfile_open(path, 0, &f, &err), -EINVAL);
	CHECK(strstr(err.msg, "is a FIFO, socket or device") != NULL);
	CHECK(lstat(path, &st) == 0 && S_ISFIFO(st.st_mode));
	unlink(path);
	snprintf(path, sizeof path, "%s/missing/out.tar", dir);
	CHECK_EQ_INT(outfile_open(path, 0, &f, &err), -ENOENT);
	CHECK(strstr(err.msg, path) != NULL);
	CHECK(f == NULL);
	CHECK_EQ_INT(entries(dir, NULL, 0), 0);
}

/* A 255-byte target name: the temporary name is cut to fit NAME_MAX. */
static void long_name(void)
{
	char dir[512], path[900], name[256], got[8];
	StrataErr err = {0};
	size_t len = 0;

	fresh_dir("long", dir);
	memset(name, 'n', 255);
	name[255] = '\0';
	snprintf(path, sizeof path, "%s/%s", dir, name);
	for (unsigned flags = 0; flags <= OUTFILE_NAMED_TEMP; flags++) {
		CHECK_EQ_INT(outfile_write(path, (const uint8_t *)"ok", 2, 0600, flags, &err), 0);
		CHECK(read_file(path, got, sizeof got, &len) == 0 && len == 2);
		CHECK_EQ_INT(entries(dir, NULL, 0), 1);
	}
}

/* In a child: as uid 65534, non-dumpable (as the CLI runs), in a directory
 * of its own: O_TMPFILE is used (no CAP_DAC_READ_SEARCH, so the link goes
 * through /proc/self/fd, which a non-dumpable process may still use on
 * itself) and the result is right. Exit 0 pass, 1 fail, 2 skipped. */
static int as_nobody_child(const char *dir)
{
	char path[600], got[16];
	StrataErr err = {0};
	OutFile *f = NULL;
	struct stat st;
	size_t len = 0;

	if (setgid(65534) != 0 || setuid(65534) != 0)
		return 2;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 1;
	snprintf(path, sizeof path, "%s/out", dir);
	if (outfile_open(path, 0, &f, &err) != 0 || outfile_temp_name(f)[0] != '\0')
		return 1;
	if (write(outfile_fd(f), "unprivileged", 12) != 12 || outfile_commit(f, 0600, &err) != 0)
		return 1;
	outfile_free(f);
	if (stat(path, &st) != 0 || st.st_uid != 65534 || (st.st_mode & 07777) != 0600)
		return 1;
	return read_file(path, got, sizeof got, &len) == 0 && len == 12 && entries(dir, NULL, 0) == 1 ? 0 : 1;
}

/* In a child: in a mount namespace without /proc, an O_TMPFILE could not
 * be linked by an unprivileged process, so it is not used: the named file
 * is. Exit 0 pass, 1 fail, 2 skipped. */
static int no_proc_child(const char *dir)
{
	char path[600];
	StrataErr err = {0};
	OutFile *f = NULL;

	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    umount2("/proc", MNT_DETACH) != 0 || access("/proc/self/fd", F_OK) == 0)
		return 2;
	snprintf(path, sizeof path, "%s/out", dir);
	if (outfile_open(path, 0, &f, &err) != 0 || !temp_name_ok(outfile_temp_name(f), "out"))
		return 1;
	if (write(outfile_fd(f), "x", 1) != 1 || outfile_commit(f, 0600, &err) != 0)
		return 1;
	outfile_free(f);
	return entries(dir, NULL, 0) == 1 ? 0 : 1;
}

static void in_child(const char *name, int (*fn)(const char *), int chown_nobody)
{
	char dir[512];
	pid_t pid;
	int status = 0;

	fresh_dir(name, dir);
	if (geteuid() != 0) {
		printf("  (skipped: needs root to become uid 65534 or to unmount /proc)\n");
		return;
	}
	if (chown_nobody) {
		REQUIRE(chown(dir, 65534, 65534) == 0);
		/* A private TMPDIR may be closed to uid 65534. */
		chmod(base_dir, 0711);
	}
	fflush(stdout);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0)
		_exit(fn(dir));
	REQUIRE(waitpid(pid, &status, 0) == pid);
	REQUIRE(WIFEXITED(status));
	if (WEXITSTATUS(status) == 2)
		printf("  (skipped: %s not possible here)\n", name);
	else
		CHECK_EQ_INT(WEXITSTATUS(status), 0);
}

static void tmpfile_as_nobody_nondumpable(void) { in_child("nobody", as_nobody_child, 1); }
static void without_proc_named_fallback(void) { in_child("noproc", no_proc_child, 0); }

int main(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(base_dir, sizeof base_dir, "%s/test_outfile.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(base_dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(roundtrip_tmpfile);
	RUN(roundtrip_named);
	RUN(mode_ignores_umask);
	RUN(planted_names_tmpfile);
	RUN(planted_names_named);
	RUN(abort_leaves_nothing);
	RUN(bad_targets);
	RUN(long_name);
	RUN(tmpfile_as_nobody_nondumpable);
	RUN(without_proc_named_fallback);
	rm_rf(base_dir);
	return CHECK_EXIT();
}
