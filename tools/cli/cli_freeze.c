/* cli_freeze.c — see cli_freeze.h. */
#include "tools/cli/cli_freeze.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* --freeze-pid given more often than this is a mistake, and the guard
 * keeps the pidfds in a fixed array (it may not allocate). */
#define FREEZE_PIDS_MAX 64
/* How long cli_freeze_open waits for the guard's first word. */
#define GUARD_READY_MS 5000
/* The guard's backstop beyond max_ns (cli_freeze.h). */
#define GUARD_GRACE_NS 1000000000LL

enum { MSG_READY = 'R', MSG_STOP = 'S', MSG_CONT = 'C' };

struct CliFreeze {
	size_t n;
	long pids[FREEZE_PIDS_MAX];
	int pidfds[FREEZE_PIDS_MAX];
	int procfds[FREEZE_PIDS_MAX];   /* /proc/PID, checked against the pidfd */
	/* 1: stopped by us, to be resumed. Written before `stopped` is set;
	 * read by the signal handler. */
	volatile sig_atomic_t resume[FREEZE_PIDS_MAX];
	volatile sig_atomic_t stopped;  /* writers stopped now */
	volatile sig_atomic_t broken;   /* resumed by cli_freeze_resume_all while stopped */
	int sock;                       /* our end of the guard's socket pair */
	pid_t guard;
	int guard_pidfd;
	int64_t max_ns;
	int64_t t_stop, paused_ns;
	int stopped_once;
};

/* The open CliFreeze, for cli_freeze_resume_all (tools/ may keep
 * process-wide state; the signal handler needs it). */
static CliFreeze *volatile active;

static int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Has the process behind pidfd exited (its pidfd reads ready)? */
static int exited(int pidfd)
{
	struct pollfd p = { pidfd, POLLIN, 0 };
	return poll(&p, 1, 0) == 1;
}

int cli_freeze_parse_duration(const char *s, int64_t *out_ns)
{
	char *end;
	double v, scale = 1e9;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v))
		return -EINVAL;
	if (!strcmp(end, "ms"))
		scale = 1e6;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		scale = 60e9;
	else if (*end && strcmp(end, "s") != 0)
		return -EINVAL;
	v *= scale;
	if (v < 1e6 || v > (double)CLI_FREEZE_MAX_LIMIT_NS)
		return -ERANGE;
	*out_ns = (int64_t)v;
	return 0;
}

/* ---- process state ---- */

/* The state letter in a /proc stat line: after the last ')' (the command
 * name in parentheses may itself hold any byte). 0 when unreadable. */
static char stat_state(int dirfd, const char *name)
{
	char path[64], buf[256];
	const char *p;
	ssize_t len;
	int fd;

	snprintf(path, sizeof path, "%s/stat", name);
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Is every thread of writer i stopped (or dead)? When not, *out_tid and
 * *out_state name the first one found running. Threads created after the
 * stop was sent join the group stop before they reach user space. */
static int all_stopped(const CliFreeze *f, size_t i, long *out_tid, char *out_state)
{
	int tfd = openat(f->procfds[i], "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = tfd >= 0 ? fdopendir(tfd) : NULL;
	struct dirent *de;
	int all = 1;

	if (!d) {
		if (tfd >= 0)
			close(tfd);
		return exited(f->pidfds[i]);
	}
	while (all && (de = readdir(d)) != NULL) {
		char st;
		if (de->d_name[0] == '.')
			continue;
		st = stat_state(dirfd(d), de->d_name);
		/* T stopped, t stopped by a tracer, Z/X exited; 0: the thread
		 * ended between readdir and open. */
		if (st && !strchr("TtZXx", st)) {
			all = 0;
			*out_tid = strtol(de->d_name, NULL, 10);
			*out_state = st;
		}
	}
	closedir(d);
	/* /proc/PID is only this process while its pidfd says it lives. */
	return all || exited(f->pidfds[i]);
}

/* ---- the guard (a child: only system calls from here on) ---- */

static CliFreeze *guard_f;               /* the child's copy */
static volatile sig_atomic_t guard_frozen;

static void guard_resume(void)
{
	for (size_t i = 0; i < guard_f->n; i++)
		if (guard_f->resume[i])
			sys_pidfd_signal(guard_f->pidfds[i], SIGCONT);
	guard_frozen = 0;
}

static void guard_on_signal(int sig)
{
	(void)sig;
	if (guard_frozen)
		guard_resume();
	_exit(0);
}

static void close_all_but(int *keep, size_t n)
{
	unsigned lo = 3;

	/* Sorted, then close every gap (no allocation: insertion sort). */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned)keep[i] > lo)
			syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0);
		if ((unsigned)keep[i] + 1 > lo)
			lo = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0);
}

static void guard_main(CliFreeze *f, int sock)
{
	int keep[FREEZE_PIDS_MAX + 1];
	struct sigaction sa;
	sigset_t all;
	int64_t deadline = 0;
	size_t nk = 0;
	int devnull;

	guard_f = f;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = guard_on_signal;
	sigfillset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* Out of strata's process group: a signal sent to the group (Ctrl-C,
	 * kill -9 -PGID) does not end the guard with it. */
	setsid();
	/* Hold nothing of strata's (lock files, the terminal, a pipe a
	 * caller waits on) beyond what the guard needs. */
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
	}
	keep[nk++] = sock;
	for (size_t i = 0; i < f->n; i++)
		keep[nk++] = f->pidfds[i];
	close_all_but(keep, nk);
	if (write(sock, (char[]){ MSG_READY }, 1) != 1)
		_exit(1);
	for (;;) {
		struct pollfd p = { sock, POLLIN, 0 };
		int timeout = -1, r;
		char msg[1 + FREEZE_PIDS_MAX];
		ssize_t len;

		if (guard_frozen) {
			int64_t left = deadline - now_ns();
			if (left <= 0) {
				guard_resume();
				continue;
			}
			timeout = (int)((left + 999999) / 1000000);
		}
		r = poll(&p, 1, timeout);
		if (r <= 0)
			continue;      /* EINTR, or the deadline: looked at above */
		len = recv(sock, msg, sizeof msg, 0);
		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0) {
			/* strata is gone (or closed us): resume what it stopped. */
			if (guard_frozen)
				guard_resume();
			_exit(0);
		}
		if (msg[0] == MSG_STOP && (size_t)len == 1 + f->n) {
			for (size_t i = 0; i < f->n; i++)
				f->resume[i] = msg[1 + i];
			deadline = now_ns() + f->max_ns + GUARD_GRACE_NS;
			guard_frozen = 1;
		} else if (msg[0] == MSG_CONT) {
			guard_frozen = 0;
		}
	}
}

/* ---- the parent ---- */

static int start_guard(CliFreeze *f, StrataErr *err)
{
	int sv[2];
	struct pollfd p;
	char c = 0;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return strata_err_set(err, -errno, "--freeze-pid: cannot create the guard's socket: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return strata_err_set(err, -e, "--freeze-pid: cannot start the guard process: %s", strerror(e));
	}
	if (pid == 0) {
		close(sv[0]);
		guard_main(f, sv[1]);
		_exit(0);
	}
	close(sv[1]);
	f->sock = sv[0];
	f->guard = pid;
	f->guard_pidfd = sys_pidfd_open(pid);
	p.fd = f->sock;
	p.events = POLLIN;
	if (f->guard_pidfd < 0 || poll(&p, 1, GUARD_READY_MS) != 1 || recv(f->sock, &c, 1, 0) != 1 || c != MSG_READY)
		return strata_err_set(err, -ECHILD, "--freeze-pid: the guard process did not start");
	return 0;
}

int cli_freeze_open(const long *pids, size_t n, int64_t max_ns, CliFreeze **out, StrataErr *err)
{
	CliFreeze *f;
	struct rlimit rl;
	int rc;

	if (n > FREEZE_PIDS_MAX)
		return strata_err_set(err, STRATA_EUSAGE, "--freeze-pid given %zu times; at most %d", n, FREEZE_PIDS_MAX);
	f = calloc(1, sizeof *f);
	if (!f)
		return strata_err_set(err, -ENOMEM, "out of memory");
	f->sock = f->guard_pidfd = -1;
	f->max_ns = max_ns;
	for (size_t i = 0; i < n; i++) {
		char path[32];
		long pid = pids[i];

		f->pidfds[i] = f->procfds[i] = -1;
		f->pids[i] = pid;
		f->n = i + 1;
		if (pid == (long)getpid() || pid == 1) {
			rc = strata_err_set(err, STRATA_EUSAGE, "--freeze-pid %ld: cannot stop %s", pid,
			                    pid == 1 ? "init" : "strata itself");
			goto fail;
		}
		for (size_t j = 0; j < i; j++)
			if (pids[j] == pid) {
				rc = strata_err_set(err, STRATA_EUSAGE, "--freeze-pid %ld given twice", pid);
				goto fail;
			}
		f->pidfds[i] = sys_pidfd_open((pid_t)pid);
		if (f->pidfds[i] < 0) {
			rc = -errno;
			if (rc == -ESRCH)
				strata_err_set(err, rc, "--freeze-pid %ld: no such process", pid);
			else if (rc == -EINVAL || rc == -ENOENT)   /* a thread: ENOENT since Linux 6.9 */
				strata_err_set(err, -ESRCH, "--freeze-pid %ld: a thread, not a process (give the "
				               "process's ID, as pidof prints it)", pid);
			else
				strata_err_set(err, rc, "--freeze-pid %ld: %s", pid, strerror(-rc));
			goto fail;
		}
		if (sys_pidfd_signal(f->pidfds[i], 0) != 0) {
			rc = -errno;
			if (rc == -EPERM)
				strata_err_set(err, rc, "--freeze-pid %ld: not permitted to stop it (run strata as the "
				               "writer's user, or as root)", pid);
			else if (rc == -ESRCH)
				strata_err_set(err, rc, "--freeze-pid %ld: no such process", pid);
			else
				strata_err_set(err, rc, "--freeze-pid %ld: %s", pid, strerror(-rc));
			goto fail;
		}
		snprintf(path, sizeof path, "/proc/%ld", pid);
		f->procfds[i] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		/* Opened after the pidfd: if the process still lives now, the
		 * directory is that process's. */
		if (f->procfds[i] < 0 || exited(f->pidfds[i])) {
			rc = strata_err_set(err, -ESRCH, "--freeze-pid %ld: no such process (it exited)", pid);
			goto fail;
		}
	}
	/* The listing holds every changed file open until it is read: allow
	 * as many descriptors as the administrator does (hooks get the old
	 * limit back, cli_hook.c). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((rc = start_guard(f, err)) != 0)
		goto fail;
	active = f;
	*out = f;
	return 0;
fail:
	cli_freeze_close(f);
	return rc;
}

int cli_freeze_stop(CliFreeze *f, StrataErr *err)
{
	char msg[1 + FREEZE_PIDS_MAX];
	int64_t deadline;
	long tid = 0;
	char state = '?';
	unsigned spin = 0;

	if (f->stopped)
		return 0;
	/* Never stop a writer without a guard in place. */
	if (exited(f->guard_pidfd))
		return strata_err_set(err, -ECHILD, "--freeze-pid: the guard process ended; not stopping the writers");
	msg[0] = MSG_STOP;
	for (size_t i = 0; i < f->n; i++) {
		long t;
		char s;
		/* Already stopped by someone else: leave it as it is. */
		f->resume[i] = !exited(f->pidfds[i]) && !all_stopped(f, i, &t, &s);
		msg[1 + i] = (char)f->resume[i];
	}
	if (send(f->sock, msg, 1 + f->n, MSG_NOSIGNAL) != (ssize_t)(1 + f->n))
		return strata_err_set(err, -ECHILD, "--freeze-pid: the guard process does not answer; not stopping the writers");
	f->t_stop = now_ns();
	f->stopped = 1;
	for (size_t i = 0; i < f->n; i++) {
		if (!f->resume[i])
			continue;
		if (sys_pidfd_signal(f->pidfds[i], SIGSTOP) != 0) {
			int e = errno;
			f->resume[i] = 0;
			if (e == ESRCH)
				continue;   /* exited: it writes no more */
			cli_freeze_resume(f);
			return strata_err_set(err, -e, "--freeze-pid %ld: cannot stop it: %s", f->pids[i], strerror(e));
		}
	}
	/* SIGSTOP takes effect when each thread next leaves the kernel: one
	 * inside a write(2) or fsync(2) finishes it first. Listing before
	 * every thread stopped would race with those writes. */
	deadline = f->t_stop + f->max_ns;
	for (;;) {
		size_t i;
		for (i = 0; i < f->n; i++)
			if (f->resume[i] && !all_stopped(f, i, &tid, &state))
				break;
		if (i == f->n) {
			f->stopped_once = 1;
			return 0;
		}
		if (now_ns() >= deadline) {
			long pid = f->pids[i];
			cli_freeze_resume(f);
			strata_err_set(err, -ETIMEDOUT, "--freeze-pid %ld: thread %ld still %s after --freeze-max %.3f s; "
			               "resumed", pid, tid, state == 'D' ? "in uninterruptible I/O (state D)" : "running",
			               (double)f->max_ns / 1e9);
			return 1;
		}
		/* Usually a few microseconds: yield first, then sleep a little. */
		if (spin++ < 16) {
			sched_yield();
		} else {
			struct timespec ts = { 0, spin < 64 ? 20000 : 200000 };
			nanosleep(&ts, NULL);
		}
	}
}

int cli_freeze_resume(CliFreeze *f)
{
	int broken;

	if (!f || !f->stopped)
		return 0;
	broken = f->broken;
	for (size_t i = 0; i < f->n; i++)
		if (f->resume[i])
			sys_pidfd_signal(f->pidfds[i], SIGCONT);
	f->paused_ns += now_ns() - f->t_stop;
	f->stopped = 0;
	f->broken = 0;
	(void)!send(f->sock, (char[]){ MSG_CONT }, 1, MSG_NOSIGNAL);
	return broken;
}

int64_t cli_freeze_paused_ns(const CliFreeze *f)
{
	return f ? f->paused_ns : 0;
}

int cli_freeze_stopped_once(const CliFreeze *f)
{
	return f ? f->stopped_once : 0;
}

void cli_freeze_resume_all(void)
{
	CliFreeze *f = active;

	if (!f || !f->stopped)
		return;
	f->broken = 1;
	for (size_t i = 0; i < f->n; i++)
		if (f->resume[i])
			sys_pidfd_signal(f->pidfds[i], SIGCONT);
}

void cli_freeze_close(CliFreeze *f)
{
	if (!f)
		return;
	cli_freeze_resume(f);
	if (active == f)
		active = NULL;
	if (f->sock >= 0)
		close(f->sock);    /* the guard reads end of file and leaves */
	if (f->guard > 0)
		while (waitpid(f->guard, NULL, 0) < 0 && errno == EINTR)
			;
	if (f->guard_pidfd >= 0)
		close(f->guard_pidfd);
	for (size_t i = 0; i < f->n; i++) {
		if (f->pidfds[i] >= 0)
			close(f->pidfds[i]);
		if (f->procfds[i] >= 0)
			close(f->procfds[i]);
	}
	free(f);
}
