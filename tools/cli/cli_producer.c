/* cli_producer.c — see cli_producer.h. */
#include "tools/cli/cli_producer.h"
#include "tools/cli/cli_hook.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* The producer SIGTERM/SIGINT terminate (0: none running). */
static volatile sig_atomic_t running_pid;
static struct sigaction old_term, old_int;
static int term_set, int_set;

/* Async-signal-safe: terminate the producer, then hand the signal to the
 * handler that was there before (--post-hook's, which runs the post-hook
 * and then dies of the signal: cli_hook.h), or die of it at once (the
 * default action, re-raised; it is delivered as the handler returns). A
 * killed producer fails the backup, so no snapshot is written either way. */
static void on_signal(int sig)
{
	pid_t pid = (pid_t)running_pid;
	const struct sigaction *old = sig == SIGTERM ? &old_term : &old_int;

	/* The handler before ours first: it records the signal (the
	 * post-hook's takes over the ending) before the producer dies, so the
	 * main thread, which sees the producer's death, can never take that
	 * death for the producer's own failure. */
	if (!(old->sa_flags & SA_SIGINFO) && old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		if (pid > 0)
			kill(pid, SIGTERM);
		return;
	}
	if (pid > 0)
		kill(pid, SIGTERM);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Catch sig unless it was ignored when strata started (a background job
 * of a non-interactive shell ignores SIGINT: so does the producer). */
static int catch_signal(int sig, struct sigaction *old)
{
	struct sigaction sa;

	if (sigaction(sig, NULL, old) != 0 || old->sa_handler == SIG_IGN)
		return 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL) == 0;
}

static void release_signals(void)
{
	running_pid = 0;
	if (term_set)
		sigaction(SIGTERM, &old_term, NULL);
	if (int_set)
		sigaction(SIGINT, &old_int, NULL);
	term_set = int_set = 0;
}

int cli_producer_start(CliProducer *p, char *const argv[], StrataErr *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl, block, old_mask;
	int fds[2], rc, e;
	pid_t pid;

	memset(p, 0, sizeof *p);
	p->fd = -1;
	p->name = argv[0];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return strata_err_set(err, -errno, "cannot make a pipe for the producer %s: %s", argv[0], strerror(errno));
	if (posix_spawn_file_actions_init(&fa) != 0) {
		close(fds[0]);
		close(fds[1]);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	if (posix_spawnattr_init(&attr) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(fds[0]);
		close(fds[1]);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	/* Its stdout is the pipe (dup2 clears close-on-exec on the copy);
	 * SIGPIPE at its default, so a producer whose reader is gone dies;
	 * no signal blocked. */
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	rc = posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	if (rc == 0)
		rc = posix_spawnattr_setsigmask(&attr, &none);
	if (rc == 0)
		rc = posix_spawnattr_setsigdefault(&attr, &dfl);
	if (rc == 0)
		rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	/* SIGTERM/SIGINT held until running_pid is set: none may slip between
	 * the start and the handler knowing whom to terminate. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old_mask);
	if (rc == 0)
		rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	e = rc;
	if (rc == 0) {
		running_pid = pid;
		term_set = catch_signal(SIGTERM, &old_term);
		int_set = catch_signal(SIGINT, &old_int);
		/* A signal that came before our handlers (delivered to another
		 * thread: only this one blocks them) went to --post-hook's, which
		 * is ending strata without knowing of the producer: end it too.
		 * Any later one reaches on_signal. */
		if (cli_hooks_signalled())
			kill(pid, SIGTERM);
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (e) {
		close(fds[0]);
		return strata_err_set(err, STRATA_EPRODUCER, "producer %s: cannot run it: %s; no snapshot was written",
		                      argv[0], strerror(e));
	}
	p->pid = pid;
	p->fd = fds[0];
	return 0;
}

/* Wait for the producer; with limit_ms >= 0 at most that long. 1 once
 * reaped (p->status set), 0 if it still runs. */
static int reap(CliProducer *p, long limit_ms)
{
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	int st;
	pid_t r;

	for (long waited = 0;; waited += 10) {
		r = waitpid(p->pid, &st, limit_ms < 0 ? 0 : WNOHANG);
		if (r == p->pid)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {             /* not our child any more: nothing to learn */
			st = 0;
			break;
		}
		if (waited >= limit_ms)
			return 0;
		nanosleep(&tick, NULL);
	}
	p->status = st;
	p->pid = 0;
	release_signals();
	return 1;
}

/* *err := the producer's failure (p->status), with after-bytes when known
 * and the reader's message when there is one. */
static int failure(const CliProducer *p, int have_bytes, uint64_t bytes, const char *reader_msg, StrataErr *err)
{
	char how[128], after[64] = "", msg[STRATA_ERRMSG_LEN];

	if (WIFEXITED(p->status))
		snprintf(how, sizeof how, "failed with exit code %d", WEXITSTATUS(p->status));
	else if (WIFSIGNALED(p->status))
		snprintf(how, sizeof how, "was killed by signal %d (%s)", WTERMSIG(p->status), strsignal(WTERMSIG(p->status)));
	else
		snprintf(how, sizeof how, "failed (wait status %d)", p->status);
	if (have_bytes)
		snprintf(after, sizeof after, " after writing %llu bytes", (unsigned long long)bytes);
	snprintf(msg, sizeof msg, "%s", reader_msg ? reader_msg : "");
	if (*msg)
		return strata_err_set(err, STRATA_EPRODUCER, "producer %s %s%s; no snapshot was written (reading its "
		                      "output: %s)", p->name, how, after, msg);
	return strata_err_set(err, STRATA_EPRODUCER, "producer %s %s%s; no snapshot was written", p->name, how, after);
}

static int succeeded(const CliProducer *p)
{
	return WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0;
}

int cli_producer_finish(void *ctx, uint64_t bytes, StrataErr *err)
{
	CliProducer *p = ctx;
	char buf[65536];
	ssize_t r;

	for (;;) {
		r = read(p->fd, buf, sizeof buf);
		if (r == 0 || (r < 0 && errno != EINTR))
			break;
		if (r > 0)
			bytes += (uint64_t)r;
	}
	close(p->fd);
	p->fd = -1;
	reap(p, -1);
	return succeeded(p) ? 0 : failure(p, 1, bytes, NULL, err);
}

int cli_producer_abort(CliProducer *p, StrataErr *err)
{
	struct pollfd pf;
	int ended = 0, avail = 0;

	if (p->fd >= 0) {
		/* Closed its output with nothing left unread: the stream ended
		 * (cut short, for the reader to fail), so the producer's own
		 * status says why. Else it was still writing when the backup
		 * failed: terminate it. */
		pf.fd = p->fd;
		pf.events = POLLIN;
		pf.revents = 0;
		ended = poll(&pf, 1, 0) == 1 && (pf.revents & POLLHUP) && ioctl(p->fd, FIONREAD, &avail) == 0 &&
		        avail == 0;
		close(p->fd);
		p->fd = -1;
	}
	if (!p->pid)
		return err->code;
	/* A producer that closed its output but lingers gets 10 s to exit on
	 * its own, one that ignores SIGTERM 5 s more. */
	if (ended && reap(p, 10000))
		return succeeded(p) ? err->code : failure(p, 0, 0, err->msg, err);
	kill(p->pid, SIGTERM);
	if (!reap(p, 5000)) {
		kill(p->pid, SIGKILL);
		reap(p, -1);
	}
	return err->code;
}
