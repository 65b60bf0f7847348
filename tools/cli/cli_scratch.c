/* cli_scratch.c — see cli_scratch.h. */
#include "tools/cli/cli_scratch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli/cli_exit.h"

#define MAX_DEPTH 1100        /* a restored tree nests at most 1024 levels (FORMAT.md §11 walk limit) */

/* The worker's end of the pipe to the supervisor; -1 elsewhere. */
static int to_supervisor = -1;
/* The supervisor's self-pipe: its signal handler writes the signal. */
static int sig_pipe[2] = { -1, -1 };

/* ---- removing a tree ---- */

static int remove_entry(int dirfd, const char *name, dev_t dev, int depth, char *path, size_t plen,
                        StrataErr *err);

/* Empty the directory open as fd (taken over); path[0..plen) names it. */
static int empty_dir(int fd, dev_t dev, int depth, char *path, size_t plen, StrataErr *err)
{
	struct dirent *de;
	DIR *d;
	int rc = 0, again = 1;

	if (depth > MAX_DEPTH) {
		close(fd);
		return strata_err_set(err, -ELOOP, "%s: directories nest deeper than %d levels", path, MAX_DEPTH);
	}
	/* Root may write anywhere; another user needs write and search
	 * permission on a restored directory of mode 0555. */
	(void)fchmod(fd, 0700);
	if (!(d = fdopendir(fd))) {
		rc = -errno;
		close(fd);
		return strata_err_set(err, rc, "%s: %s", path, strerror(-rc));
	}
	/* Unlinking while reading may make readdir skip an entry: read again
	 * until a pass finds nothing. */
	while (again && rc == 0) {
		again = 0;
		rewinddir(d);
		while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			again = 1;
			rc = remove_entry(dirfd(d), de->d_name, dev, depth + 1, path, plen, err);
		}
		if (rc == 0 && errno) {
			rc = -errno;
			path[plen] = '\0';
			strata_err_set(err, rc, "%s: %s", path, strerror(-rc));
		}
	}
	closedir(d);
	return rc;
}

static int remove_entry(int dirfd, const char *name, dev_t dev, int depth, char *path, size_t plen,
                        StrataErr *err)
{
	size_t nlen = strlen(name), len = plen + 1 + nlen;
	struct stat st;
	int fd, rc;

	if (len >= PATH_MAX)
		len = PATH_MAX - 1;      /* the message is cut; the removal works by descriptor */
	path[plen] = '/';
	memcpy(path + plen + 1, name, len - plen - 1);
	path[len] = '\0';
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		rc = -errno;
		return rc == -ENOENT ? 0 : strata_err_set(err, rc, "%s: %s", path, strerror(-rc));
	}
	if (S_ISDIR(st.st_mode)) {
		if (st.st_dev != dev)
			return strata_err_set(err, -EXDEV, "%s: another file system is mounted there; unmount it", path);
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == EACCES && fchmodat(dirfd, name, 0700, 0) == 0)
			fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
			return strata_err_set(err, rc, "%s: %s", path, strerror(-rc));
		}
		if ((rc = empty_dir(fd, dev, depth, path, len, err)))
			return rc;
		path[len] = '\0';
		if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
			rc = -errno;
			return strata_err_set(err, rc, "%s: %s", path, strerror(-rc));
		}
	} else if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) {
		rc = -errno;
		return strata_err_set(err, rc, "%s: %s", path, strerror(-rc));
	}
	path[plen] = '\0';
	return 0;
}

int cli_scratch_remove(const char *top, int remove_top, StrataErr *err)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, rc;
	size_t len = strlen(top);

	if (len >= PATH_MAX)
		return strata_err_set(err, -ENAMETOOLONG, "%s: path too long", top);
	memcpy(path, top, len + 1);
	fd = open(top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return strata_err_set(err, rc, "%s: %s", top, strerror(-rc));
	}
	if ((rc = empty_dir(fd, st.st_dev, 0, path, len, err)))
		return rc;
	if (remove_top && rmdir(top) != 0 && errno != ENOENT) {
		rc = -errno;
		return strata_err_set(err, rc, "%s: %s", top, strerror(-rc));
	}
	return 0;
}

/* ---- preparing ---- */

static int mkdir_parents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			int e = errno;
			*p = '/';
			return -e;
		}
		*p = '/';
	}
	return 0;
}

int cli_scratch_prepare(const char *path, int *out_created, StrataErr *err)
{
	char buf[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc, empty = 1;

	if (strlen(path) >= sizeof buf)
		return strata_err_set(err, -ENAMETOOLONG, "scratch directory %s: path too long", path);
	snprintf(buf, sizeof buf, "%s", path);
	if ((rc = mkdir_parents(buf)))
		return strata_err_set(err, rc, "cannot create the parents of scratch directory %s: %s", path, strerror(-rc));
	if (mkdir(path, 0700) == 0) {
		*out_created = 1;
		return 0;
	}
	if (errno != EEXIST)
		return strata_err_set(err, -errno, "cannot create scratch directory %s: %s", path, strerror(errno));
	/* It exists: it must be an empty directory we may use, never one
	 * holding someone's files (they would be removed afterwards). */
	if (!(d = opendir(path))) {
		rc = errno;
		if (rc == ENOTDIR)
			return strata_err_set(err, STRATA_EREFUSED, "scratch directory %s is not a directory; "
			                      "give --scratch an empty or missing directory", path);
		return strata_err_set(err, -rc, "cannot open scratch directory %s: %s", path, strerror(rc));
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = 0;
			break;
		}
	closedir(d);
	if (!empty)
		return strata_err_set(err, STRATA_EREFUSED, "scratch directory %s is not empty; everything in it would be "
		                      "removed after the test: give --scratch an empty or missing directory", path);
	*out_created = 0;
	return 0;
}

int cli_scratch_sweep(const char *parent, void (*warn)(const char *path))
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(parent);
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid;
		StrataErr err = {0};
		errno = 0;
		pid = strtol(de->d_name, &end, 10);
		if (errno || end == de->d_name || *end != '-' || pid <= 0 || pid > INT_MAX ||
		    strspn(end + 1, "0123456789abcdef") != strlen(end + 1) || !end[1])
			continue;
		/* Alive (or a PID reused since): not ours to judge. */
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (snprintf(path, sizeof path, "%s/%s", parent, de->d_name) >= (int)sizeof path)
			continue;
		if (cli_scratch_remove(path, 1, &err) == 0) {
			n++;
			if (warn)
				warn(path);
		}
	}
	closedir(d);
	return n;
}

/* ---- the worker's messages ---- */

/* One line per write: a pipe delivers a write of up to PIPE_BUF bytes
 * whole. Best effort: a supervisor that is gone cannot be helped. */
static void tell(const char *line, size_t len)
{
	if (to_supervisor < 0 || len > PIPE_BUF)
		return;
	while (write(to_supervisor, line, len) < 0 && errno == EINTR)
		;
}

int cli_scratch_announce_dir(const char *path, int created)
{
	char line[PIPE_BUF];
	int n = snprintf(line, sizeof line, "D%d%s\n", created ? 1 : 0, path);

	if (n < 0 || (size_t)n >= sizeof line || strchr(path, '\n'))
		return -ENAMETOOLONG;
	tell(line, (size_t)n);
	return 0;
}

void cli_scratch_announce_pgid(pid_t pgid)
{
	char line[32];
	int n = snprintf(line, sizeof line, "P%ld\n", (long)pgid);

	tell(line, (size_t)n);
}

void cli_scratch_announce_removed(void)
{
	tell("R\n", 2);
}

/* ---- the supervisor ---- */

typedef struct Sup {
	pid_t worker;
	pid_t pgid;              /* the command's group; 0: none yet */
	char dir[PATH_MAX];      /* "": none announced */
	int created, removed, keep;
	char buf[PIPE_BUF + 64];
	size_t len;
} Sup;

static void on_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	int e = errno;

	(void)!write(sig_pipe[1], &b, 1);
	errno = e;
}

static void take_lines(Sup *s)
{
	char *nl;

	while ((nl = memchr(s->buf, '\n', s->len)) != NULL) {
		size_t n = (size_t)(nl - s->buf);
		*nl = '\0';
		if (s->buf[0] == 'D' && n >= 2 && n - 2 < sizeof s->dir) {
			s->created = s->buf[1] == '1';
			memcpy(s->dir, s->buf + 2, n - 1);
			s->removed = 0;
		} else if (s->buf[0] == 'P') {
			s->pgid = (pid_t)strtol(s->buf + 1, NULL, 10);
		} else if (s->buf[0] == 'R') {
			s->removed = 1;
		}
		memmove(s->buf, nl + 1, s->len - n - 1);
		s->len -= n + 1;
	}
}

static int group_alive(pid_t pgid)
{
	return pgid > 0 && (kill(-pgid, 0) == 0 || errno == EPERM);
}

/* Read the worker's messages until its end of the pipe closes (it
 * exited) or a signal arrives; the signal, or 0. */
static int wait_worker(Sup *s, int msg_fd)
{
	struct pollfd p[2] = { { msg_fd, POLLIN, 0 }, { sig_pipe[0], POLLIN, 0 } };

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		if (p[1].revents & POLLIN) {
			unsigned char b = 0;
			if (read(sig_pipe[0], &b, 1) == 1)
				return b;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(msg_fd, s->buf + s->len, sizeof s->buf - 1 - s->len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return 0;
			s->len += (size_t)r;
			take_lines(s);
			if (s->len == sizeof s->buf - 1)
				s->len = 0;      /* a line longer than any message: drop it */
		}
	}
}

/* Read what the worker wrote so far, waiting at most wait_ms for the
 * first byte; 1 once its end of the pipe is closed (it exited). */
static int drain(Sup *s, int msg_fd, int wait_ms)
{
	struct pollfd p = { msg_fd, POLLIN, 0 };

	while (poll(&p, 1, wait_ms) > 0) {
		ssize_t r = read(msg_fd, s->buf + s->len, sizeof s->buf - 1 - s->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 1;
		s->len += (size_t)r;
		take_lines(s);
		if (s->len == sizeof s->buf - 1)
			s->len = 0;
		wait_ms = 0;
	}
	return 0;
}

/* After a signal: the worker and the command get SIGTERM, then SIGKILL
 * when they are not gone within the grace period. The worker's messages
 * are read first and meanwhile: it may have started the command just
 * before the signal, its process group announced but not read yet. */
static void stop_all(Sup *s, int msg_fd, int *status)
{
	struct timespec t0, now;
	int done = 0, eof, termed = 0;

	eof = drain(s, msg_fd, 0);
	kill(s->worker, SIGTERM);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (s->pgid > 0 && !termed) {
			kill(-s->pgid, SIGTERM);
			termed = 1;
		}
		if (!done && waitpid(s->worker, status, WNOHANG) == s->worker)
			done = 1;
		/* Gone, and every message it wrote read. */
		if (done && eof && !group_alive(s->pgid))
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= CLI_SCRATCH_GRACE_S)
			break;
		if (!eof) {
			eof = drain(s, msg_fd, 100);
		} else {
			struct timespec ts = { 0, 50 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	if (!done) {
		kill(s->worker, SIGKILL);
		while (waitpid(s->worker, status, 0) < 0 && errno == EINTR)
			;
	}
	if (!eof)
		drain(s, msg_fd, 0);
	if (s->pgid > 0)
		kill(-s->pgid, SIGKILL);
}

/* Remove what the worker left; 0 or -errno after printing why. */
static int clean(Sup *s)
{
	StrataErr err = {0};
	int rc;

	if (s->pgid > 0)
		kill(-s->pgid, SIGKILL);    /* nothing may write there any more */
	if (!s->dir[0] || s->removed || s->keep)
		return 0;
	rc = cli_scratch_remove(s->dir, s->created, &err);
	if (rc)
		fprintf(stderr, "strata: cannot remove scratch directory %s: %s; remove it by hand\n", s->dir, err.msg);
	return rc;
}

static void supervise(pid_t worker, int msg_fd, int keep) __attribute__((noreturn));
static void supervise(pid_t worker, int msg_fd, int keep)
{
	Sup *s = calloc(1, sizeof *s);
	int sig, status = 0, code;

	if (!s) {
		/* Without memory, still wait: the exit status must be the worker's. */
		while (waitpid(worker, &status, 0) < 0 && errno == EINTR)
			;
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : CLI_EXIT_FAILURE);
	}
	s->worker = worker;
	s->keep = keep;
	sig = wait_worker(s, msg_fd);
	if (sig) {
		stop_all(s, msg_fd, &status);
		clean(s);
		signal(sig, SIG_DFL);
		raise(sig);
		_exit(128 + sig);
	}
	while (waitpid(worker, &status, 0) < 0 && errno == EINTR)
		;
	code = clean(s) ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "strata: the restore test stopped: killed by signal %d (%s); nothing was recorded%s\n",
		        WTERMSIG(status), strsignal(WTERMSIG(status)),
		        s->dir[0] && !s->keep && code == 0 ? ", the scratch directory is removed" : "");
		_exit(CLI_EXIT_FAILURE);
	}
	if (WIFEXITED(status) && (WEXITSTATUS(status) != 0 || code == 0))
		_exit(WEXITSTATUS(status));
	_exit(code);
}

int cli_scratch_fork(int keep)
{
	struct sigaction sa;
	int msg[2];
	pid_t parent = getpid(), pid;

	if (pipe2(msg, O_CLOEXEC) != 0)
		return -errno;
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		int e = errno;
		close(msg[0]);
		close(msg[1]);
		return -e;
	}
	/* Handlers first: a signal between the fork and the handlers would
	 * kill the supervisor with the worker's directory unannounced. The
	 * worker puts the defaults back. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int e = errno;
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		close(msg[0]);
		close(msg[1]);
		close(sig_pipe[0]);
		close(sig_pipe[1]);
		return -e;
	}
	if (pid > 0) {
		close(msg[1]);
		supervise(pid, msg[0], keep);
	}
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	close(msg[0]);
	to_supervisor = msg[1];
	/* Die with the supervisor: nothing could clean up after us then. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(CLI_EXIT_FAILURE);
	return 0;
}
