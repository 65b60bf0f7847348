/* cli_spawn.c — see cli_spawn.h. */
#include "tools/cli/cli_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 100        /* wait step where pidfd_open is missing (Linux < 5.3) */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The child, between fork and exec: async-signal-safe calls only. What
 * failed goes to the parent as two ints: the step (0 chdir, 1 exec) and
 * the errno. */
static void child(const CliSpawn *s, int report_fd, int go_fd, pid_t parent) __attribute__((noreturn));
static void child(const CliSpawn *s, int report_fd, int go_fd, pid_t parent)
{
	int msg[2] = { 0, 0 }, fd;
	char go;

	setpgid(0, 0);
	/* Nothing runs before the parent has told on_start about the group:
	 * a stop that comes at once must find it. */
	while (read(go_fd, &go, 1) < 0 && errno == EINTR)
		;
	/* strata's worker gone (killed): stop, the result has nowhere to go. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	signal(SIGPIPE, SIG_DFL);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != STDIN_FILENO) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	dup2(STDERR_FILENO, STDOUT_FILENO);
	/* Nothing of strata's (the repository's files, the cache's LMDB, the
	 * supervisor's pipe) reaches the command or what it leaves running;
	 * report_fd closes itself at exec. */
#ifdef SYS_close_range
	if (report_fd > 3)
		syscall(SYS_close_range, 3u, (unsigned)report_fd - 1, 0u);
	syscall(SYS_close_range, (unsigned)report_fd + 1, ~0u, 0u);
#else
	close(go_fd);
#endif
	if (s->cwd && chdir(s->cwd) != 0) {
		msg[1] = errno;
		goto fail;
	}
	msg[0] = 1;
	execvpe(s->argv[0], s->argv, s->envp);
	msg[1] = errno;
fail:
	(void)!write(report_fd, msg, sizeof msg);
	_exit(127);
}

/* Wait for pid until deadline_ms (0: none); 1 when it ended (*status
 * set), 0 at the deadline, -errno when it cannot be waited for. */
static int wait_until(pid_t pid, int pidfd, int64_t deadline_ms, int *status)
{
	for (;;) {
		int64_t left = deadline_ms ? deadline_ms - now_ms() : -1;
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return -errno;      /* never taken for an exit status */
		if (deadline_ms && left <= 0)
			return 0;
		if (pidfd >= 0) {
			struct pollfd p = { pidfd, POLLIN, 0 };
			int ms = left < 0 || left > 60000 ? 60000 : (int)left;
			(void)poll(&p, 1, ms);
		} else {
			struct timespec ts = { 0, POLL_MS * 1000000L };
			if (left >= 0 && left < POLL_MS)
				ts.tv_nsec = (long)left * 1000000L;
			nanosleep(&ts, NULL);
		}
	}
}

int cli_spawn_run(const CliSpawn *s, CliSpawnResult *out, StrataErr *err)
{
	int report[2], go[2], msg[2] = { 0, 0 }, status = 0, pidfd = -1, rc = 0, w, sent = 0;
	int64_t t0 = now_ms(), deadline = 0;
	pid_t parent = getpid(), pid;
	ssize_t n;

	memset(out, 0, sizeof *out);
	if (pipe2(report, O_CLOEXEC) != 0)
		return strata_err_set(err, -errno, "cannot run %s: %s", s->argv[0], strerror(errno));
	if (pipe2(go, O_CLOEXEC) != 0) {
		rc = -errno;
		close(report[0]);
		close(report[1]);
		return strata_err_set(err, rc, "cannot run %s: %s", s->argv[0], strerror(-rc));
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(report[0]);
		close(report[1]);
		close(go[0]);
		close(go[1]);
		return strata_err_set(err, rc, "cannot run %s: %s", s->argv[0], strerror(-rc));
	}
	if (pid == 0)
		child(s, report[1], go[0], parent);
	/* Also here, so a kill(-pid) right after the fork reaches the group
	 * whichever of the two runs first. */
	setpgid(pid, pid);
	close(report[1]);
	close(go[0]);
	if (s->on_start)
		s->on_start(pid, s->ctx);
	/* Now the child may go on (closing our end says so too). */
	(void)!write(go[1], "g", 1);
	close(go[1]);
	while ((n = read(report[0], msg, sizeof msg)) < 0 && errno == EINTR)
		;
	close(report[0]);
	if (n == (ssize_t)sizeof msg) {
		/* exec (or chdir) failed: the child exits 127 at once. */
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (msg[0] == 0)
			return strata_err_set(err, -msg[1], "cannot enter %s to run %s: %s", s->cwd, s->argv[0],
			                      strerror(msg[1]));
		return strata_err_set(err, -msg[1], "cannot run %s: %s", s->argv[0],
		                      msg[1] == ENOENT ? "no such program (not in PATH?)" : strerror(msg[1]));
	}
#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	if (s->timeout_ms > 0)
		deadline = t0 + s->timeout_ms;
	if ((w = wait_until(pid, pidfd, deadline, &status)) == 0) {
		int grace = s->grace_s > 0 ? s->grace_s : 10;
		out->timed_out = 1;
		kill(-pid, sent = SIGTERM);
		if ((w = wait_until(pid, pidfd, now_ms() + (int64_t)grace * 1000, &status)) == 0) {
			kill(-pid, sent = SIGKILL);
			w = wait_until(pid, pidfd, 0, &status);
		}
	}
	/* What it started in its group and left running would keep writing
	 * into the directory strata is about to remove. */
	kill(-pid, SIGKILL);
	if (pidfd >= 0)
		close(pidfd);
	out->duration_s = (double)(now_ms() - t0) / 1000.0;
	if (w < 0)
		return strata_err_set(err, w, "lost track of %s (pid %ld): %s; is SIGCHLD ignored?", s->argv[0],
		                      (long)pid, strerror(-w));
	if (out->timed_out) {
		/* Stopped by strata: the signal it sent, however it ended. */
		out->signal = sent;
	} else if (WIFEXITED(status)) {
		out->exited = 1;
		out->exit_status = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		out->signal = WTERMSIG(status);
	}
	return 0;
}
