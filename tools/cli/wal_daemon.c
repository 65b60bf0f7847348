/* wal_daemon.c — the helper processes' files, start-up and one-line
 * protocol; see wal_daemon.h. */
#include "tools/cli/wal_daemon.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/codec.h"
#include "store/repo.h"
#include "tools/cli/cli_repo.h"

#define WALD_START_TRIES 500    /* 10 s of 20 ms waits for a starting helper */

/* Set by the SIGTERM handler: a process-wide fact, like the signal. */
static volatile sig_atomic_t terminated;

static void on_term(int sig)
{
	(void)sig;
	terminated = 1;
}

void wald_on_term(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

int wald_terminated(void)
{
	return terminated != 0;
}

static int mkdir_0700(const char *p)
{
	return mkdir(p, 0700) == 0 || errno == EEXIST ? 0 : -errno;
}

int wald_paths(const Cli *cli, const char *kind, const char *dir_real, WalDaemonPaths *out, StrataErr *err)
{
	char root[PATH_MAX];
	const char *loc;
	uint8_t h[CODEC_ID_LEN];
	size_t ll, dl;
	char *key;
	int rc;

	if ((rc = cli_repo_location(cli, &loc, err)))
		return rc;
	if (repo_cache_root(cli->cache_dir, root, sizeof root) != 0)
		return strata_err_set(err, STRATA_EUSAGE, "no cache directory for the WAL %s: set STRATA_CACHE_DIR or HOME",
		                      kind);
	ll = strlen(loc);
	dl = strlen(dir_real);
	key = malloc(ll + 1 + dl);
	if (!key)
		return strata_err_set(err, -ENOMEM, "out of memory");
	memcpy(key, loc, ll + 1);
	memcpy(key + ll + 1, dir_real, dl);
	codec_file_hash(key, ll + 1 + dl, h);
	free(key);
	codec_hex(h, 8, out->hex);
	if ((rc = mkdir_0700(root)) != 0)
		return strata_err_set(err, rc, "cannot create the cache directory %s: %s", root, strerror(-rc));
	snprintf(out->dir, sizeof out->dir, "%s/%s", root, kind);
	if ((rc = mkdir_0700(out->dir)) != 0)
		return strata_err_set(err, rc, "cannot create %s: %s", out->dir, strerror(-rc));
	if ((size_t)snprintf(out->sock, sizeof out->sock, "%s/%s.sock", out->dir, out->hex) >= sizeof out->sock)
		return strata_err_set(err, STRATA_EUSAGE, "the socket %s/%s.sock is longer than a unix socket path may "
		                      "be (%zu bytes): give a shorter --cache-dir", out->dir, out->hex,
		                      sizeof out->sock - 1);
	snprintf(out->lock, sizeof out->lock, "%s/%s.lock", out->dir, out->hex);
	snprintf(out->log, sizeof out->log, "%s/%s.log", out->dir, out->hex);
	return 0;
}

int64_t wald_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int wald_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static int sock_connect(const char *path)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int wald_detach(const Cli *cli, const char *const *args, const char *log, int keep_fd)
{
	char self[PATH_MAX];
	const char *argv[48];
	size_t n = 0;
	ssize_t len;
	pid_t pid;

	len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len <= 0)
		return -errno;
	self[len] = '\0';
	argv[n++] = self;
	argv[n++] = "-q";
	if (cli->repo) {
		argv[n++] = "--repo";
		argv[n++] = cli->repo;
	}
	if (cli->cache_dir) {
		argv[n++] = "--cache-dir";
		argv[n++] = cli->cache_dir;
	}
	if (cli->password_file) {
		argv[n++] = "--password-file";
		argv[n++] = cli->password_file;
	}
	if (cli->transfers) {
		argv[n++] = "--transfers";
		argv[n++] = cli->transfers;
	}
	if (cli->limit_upload) {
		argv[n++] = "--limit-upload";
		argv[n++] = cli->limit_upload;
	}
	if (cli->limit_download) {
		argv[n++] = "--limit-download";
		argv[n++] = cli->limit_download;
	}
	for (size_t i = 0; args[i]; i++) {
		if (n == sizeof argv / sizeof *argv - 1)
			return -E2BIG;
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* The child starts the program and leaves at once, so it is
		 * nobody's child (init reaps it) and outlives this command. */
		if (fork() == 0) {
			int dn = open("/dev/null", O_RDWR | O_CLOEXEC), lg = -1;
			setsid();
			if (log)
				lg = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
			if (dn >= 0) {
				dup2(dn, STDIN_FILENO);
				dup2(dn, STDOUT_FILENO);
				dup2(lg >= 0 ? lg : dn, STDERR_FILENO);
			}
			if (keep_fd >= 0 && fcntl(keep_fd, F_SETFD, 0) != 0)
				_exit(127);
			execv(self, (char *const *)(uintptr_t)argv);
			_exit(127);
		}
		_exit(0);
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* Start the helper detached and read its first byte into *out_state. */
static int spawn(const Cli *cli, const WalDaemonPaths *p, const char *const *args, char *out_state, StrataErr *err)
{
	char fdnum[16], msg[1024];
	const char *argv[40];
	size_t n = 0, got = 0;
	ssize_t len;
	int pfd[2], rc;

	if (pipe2(pfd, O_CLOEXEC) != 0)
		return strata_err_set(err, -errno, "pipe: %s", strerror(errno));
	snprintf(fdnum, sizeof fdnum, "%d", pfd[1]);
	for (size_t i = 0; args[i] && n < sizeof argv / sizeof *argv - 3; i++)
		argv[n++] = args[i];
	argv[n++] = "--ready-fd";
	argv[n++] = fdnum;
	argv[n] = NULL;
	rc = wald_detach(cli, argv, p->log, pfd[1]);
	close(pfd[1]);
	if (rc) {
		close(pfd[0]);
		return strata_err_set(err, rc, "cannot start a helper: %s", strerror(-rc));
	}
	for (;;) {
		len = read(pfd[0], msg + got, sizeof msg - 1 - got);
		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0 || (got += (size_t)len) == sizeof msg - 1)
			break;
	}
	close(pfd[0]);
	msg[got] = '\0';
	if (got == 0)
		return strata_err_set(err, -EPIPE, "the helper exited before it was ready (see %s)", p->log);
	*out_state = msg[0];
	if (msg[0] == 'E')
		return strata_err_set(err, STRATA_EUSAGE, "%s", msg + 1);
	return 0;
}

static int exchange(int fd, const char *line, char *ans, size_t ans_len, StrataErr *err)
{
	size_t got = 0;

	if (wald_write_all(fd, line, strlen(line)) != 0)
		return -EPIPE;
	while (got < ans_len - 1) {
		ssize_t r = read(fd, ans + got, ans_len - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(ans, '\n', got))
			break;
	}
	ans[got] = '\0';
	if (!memchr(ans, '\n', got))
		return -EPIPE;
	*strchr(ans, '\n') = '\0';
	(void)err;
	return 0;
}

int wald_call(const Cli *cli, const WalDaemonPaths *p, const char *const *args, const char *line, char *ans,
              size_t ans_len, StrataErr *err)
{
	int rc, fd, spawned = 0;

	for (int tries = 0; tries < WALD_START_TRIES; tries++) {
		char state = 0;
		fd = sock_connect(p->sock);
		if (fd >= 0) {
			rc = exchange(fd, line, ans, ans_len, err);
			close(fd);
			return rc;
		}
		if (!spawned) {
			/* Nobody listening: start one. If another start won the lock
			 * ('B'), its socket appears shortly. */
			if ((rc = spawn(cli, p, args, &state, err)))
				return rc;
			spawned = 1;
			if (state == 'R')
				continue;
		}
		usleep(20000);
		if (tries % 100 == 99)
			spawned = 0;   /* 2 s without a socket: that one died; start another */
	}
	return strata_err_set(err, -ETIMEDOUT, "no helper answers at %s (see %s)", p->sock, p->log);
}

int wald_lock(const WalDaemonPaths *p, int *out_fd)
{
	char pid[24];
	int fd = open(p->lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600), l;

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return 1;
	}
	/* The holder's PID, for operators (and tests) to find it. */
	l = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, pid, (size_t)l, 0);
	*out_fd = fd;
	return 0;
}

int wald_start(const Cli *cli, const char *kind, const char *dir_real, int *ready_fd, WalDaemonPaths *out,
               int *out_lock_fd, StrataErr *err)
{
	int rc;

	signal(SIGPIPE, SIG_IGN);
	wald_on_term();
	/* Segment-sized buffers (16 MiB) from the heap, kept across files:
	 * glibc would mmap and unmap each, and the kernel zero every page
	 * again (a sixth of a fetch's CPU time). 32 MiB is glibc's ceiling. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	if ((rc = wald_paths(cli, kind, dir_real, out, err)))
		return rc;
	rc = wald_lock(out, out_lock_fd);
	if (rc == 1) {
		wald_ready(ready_fd, 'B', NULL);   /* another helper is alive */
		return 1;
	}
	if (rc < 0)
		return strata_err_set(err, rc, "cannot lock %s: %s", out->lock, strerror(-rc));
	return 0;
}

int wald_open(const Cli *cli, const WalDaemonPaths *p, Repo **out_repo, int *out_sock_fd, StrataErr *err)
{
	Repo *repo = NULL;
	int rc, sfd;

	if ((rc = cli_repo_open(cli, &repo, err)))
		return rc;
	if ((sfd = wald_listen(p)) < 0) {
		repo_close(repo);
		return strata_err_set(err, sfd, "cannot listen on %s: %s", p->sock, strerror(-sfd));
	}
	*out_repo = repo;
	*out_sock_fd = sfd;
	return 0;
}

void wald_unlock(int fd)
{
	if (fd < 0)
		return;
	/* Still holding the flock: no other helper writes the file now. */
	(void)!ftruncate(fd, 0);
	close(fd);
}

int wald_listen(const WalDaemonPaths *p)
{
	struct sockaddr_un addr;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	memset(&addr, 0, sizeof addr);
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path, sizeof addr.sun_path, "%s", p->sock);
	unlink(p->sock);   /* a dead helper's: the flock says none is alive */
	if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || chmod(p->sock, 0600) != 0 || listen(fd, 64) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

void wald_ready(int *fd, char state, const char *msg)
{
	if (*fd < 0)
		return;
	(void)wald_write_all(*fd, &state, 1);
	if (msg)
		(void)wald_write_all(*fd, msg, strlen(msg));
	close(*fd);
	*fd = -1;
}

void wald_answer_err(char *out, size_t out_len, int code, const char *msg)
{
	char one[1900];
	size_t i;

	/* One line: a newline in the message would end the answer early. */
	snprintf(one, sizeof one, "%s", msg && *msg ? msg : strata_strerror(code));
	for (i = 0; one[i]; i++)
		if (one[i] == '\n')
			one[i] = ' ';
	snprintf(out, out_len, "ERR %d %s\n", code, one);
}

int wald_parse_err(const char *ans, StrataErr *err)
{
	int code;
	const char *m;

	if (strncmp(ans, "ERR ", 4) != 0 || sscanf(ans + 4, "%d", &code) != 1 || code == 0)
		return strata_err_set(err, STRATA_EFORMAT, "a WAL helper answered \"%.200s\"", ans);
	m = strchr(ans + 4, ' ');
	return strata_err_set(err, code, "%s", m ? m + 1 : strata_strerror(code));
}
