/* cli_hook.c — see cli_hook.h.
 *
 * Signals: the handler does only what is async-signal-safe (resume
 * stopped writers, write the signal's number to a pipe); a thread
 * started by cli_hooks_init reads the pipe and does the rest (waits for
 * a running pre-hook, builds the environment, runs the post-hook) in an
 * ordinary thread's context, whatever the main thread was blocked in.
 */
#include "tools/cli/cli_hook.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_freeze.h"
#include "tools/cli/cli_fssnap.h"

extern char **environ;

enum { PRE_NONE, PRE_OK, PRE_FAILED };

static const int hook_signals[] = { SIGTERM, SIGINT, SIGHUP };
#define NSIGNALS (sizeof hook_signals / sizeof hook_signals[0])

/* Process-wide, as the signal handler needs it (tools/ may). */
static struct {
	const char *pre, *post, *job;
	struct rlimit nofile;           /* the limit before cli_freeze_open raised it */
	int have_nofile;
	int pre_state;                  /* PRE_* */
	pthread_mutex_t mu;             /* guards pre_pidfd */
	int pre_pidfd;                  /* the pre-hook while it runs, else -1 */
	atomic_int post_claimed;        /* the post-hook has been started (once) */
	volatile sig_atomic_t got_sig;
	int sigpipe[2];
	pthread_t thread;
	int thread_started, installed;
	struct sigaction old[NSIGNALS];
} H = { .mu = PTHREAD_MUTEX_INITIALIZER, .pre_pidfd = -1, .sigpipe = { -1, -1 } };

/* ---- running one hook ---- */

/* The environment: strata's, less any variable set in extra, plus extra
 * ("NAME=value" strings). Returns a malloc'ed array (strings borrowed). */
static char **hook_env(char *const *extra, size_t nextra)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + nextra + 1, sizeof *env);
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int shadowed = 0;
		for (size_t j = 0; j < nextra && !shadowed; j++) {
			size_t nl = (size_t)(strchr(extra[j], '=') - extra[j]);
			shadowed = !strncmp(environ[i], extra[j], nl + 1);
		}
		if (!shadowed)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < nextra; j++)
		env[k++] = extra[j];
	return env;
}

/* How a hook ended, for messages: "exited with status 7". */
static void describe(int status, char *buf, size_t len)
{
	if (WIFEXITED(status)) {
		int c = WEXITSTATUS(status);
		snprintf(buf, len, "exited with status %d%s", c,
		         c == 127 ? " (command not found)" : c == 126 ? " (command not executable)" : "");
	} else if (WIFSIGNALED(status)) {
		const char *name = sigabbrev_np(WTERMSIG(status));
		snprintf(buf, len, "was killed by signal %d (SIG%s)", WTERMSIG(status), name ? name : "?");
	} else {
		snprintf(buf, len, "ended with wait status %d", status);
	}
}

/* Run `/bin/sh -c cmd` with extra in its environment and wait for it.
 * *out_status gets its wait status. 0 or -errno (could not start). */
static int run_hook(const char *cmd, char *const *extra, size_t nextra, int is_pre, int *out_status)
{
	char *argv[] = { (char *)(uintptr_t)"sh", (char *)(uintptr_t)"-c", (char *)(uintptr_t)cmd, NULL };
	char **env = hook_env(extra, nextra);
	pid_t pid;
	int rc = 0;

	if (!env)
		return -ENOMEM;
	/* What strata printed so far comes before the hook's output. */
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		free(env);
		return rc;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls until execve: strata has threads. */
		struct sigaction dfl;
		sigset_t none;
		int nul;

		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		for (size_t i = 0; i < NSIGNALS; i++)
			sigaction(hook_signals[i], &dfl, NULL);
		sigaction(SIGPIPE, &dfl, NULL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (H.have_nofile)
			setrlimit(RLIMIT_NOFILE, &H.nofile);
		nul = open("/dev/null", O_RDONLY);
		if (nul >= 0 && nul != 0) {
			dup2(nul, 0);
			close(nul);
		}
		dup2(2, 1);
		execve("/bin/sh", argv, env);
		_exit(127);
	}
	free(env);
	if (is_pre) {
		int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
		pthread_mutex_lock(&H.mu);
		H.pre_pidfd = pfd;
		pthread_mutex_unlock(&H.mu);
	}
	while (waitpid(pid, out_status, 0) < 0) {
		if (errno != EINTR) {
			rc = -errno;
			break;
		}
	}
	if (is_pre) {
		pthread_mutex_lock(&H.mu);
		if (H.pre_pidfd >= 0)
			close(H.pre_pidfd);
		H.pre_pidfd = -1;
		pthread_mutex_unlock(&H.mu);
	}
	return rc;
}

int cli_hooks_pre(StrataErr *err)
{
	char hook[] = "STRATA_HOOK=pre", job[160], how[96];
	char *extra[] = { hook, job };
	int status = 0, rc;

	if (!H.pre)
		return 0;
	snprintf(job, sizeof job, "STRATA_JOB=%s", H.job);
	/* Until it ends well it counts as failed: a post-hook that cleans up
	 * after it must also clean up after a pre-hook cut short. */
	H.pre_state = PRE_FAILED;
	rc = run_hook(H.pre, extra, 2, 1, &status);
	if (rc) {
		H.pre_state = PRE_FAILED;
		return strata_err_set(err, STRATA_EREFUSED, "--pre-hook: cannot run /bin/sh: %s; nothing was backed up",
		                      strerror(-rc));
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		H.pre_state = PRE_FAILED;
		describe(status, how, sizeof how);
		return strata_err_set(err, STRATA_EREFUSED, "--pre-hook %s; nothing was backed up", how);
	}
	H.pre_state = PRE_OK;
	return 0;
}

/* Run the post-hook with o (signame: the signal that ended the run). */
static void post(const CliHookOutcome *o, const char *signame)
{
	static const char *const pre_names[] = { "none", "ok", "failed" };
	char hook[] = "STRATA_HOOK=post", job[160], status[48], code[32], id[96], error[STRATA_ERRMSG_LEN + 16],
	     pre[32], paused[48], sig[32], how[96];
	char *extra[9];
	size_t n = 0;
	int st = 0, rc;

	snprintf(job, sizeof job, "STRATA_JOB=%s", H.job);
	snprintf(status, sizeof status, "STRATA_BACKUP_STATUS=%s",
	         o->exit_code == CLI_EXIT_OK ? "success" : o->exit_code == CLI_EXIT_PARTIAL ? "partial" : "failed");
	snprintf(code, sizeof code, "STRATA_EXIT_CODE=%d", o->exit_code);
	snprintf(pre, sizeof pre, "STRATA_PRE_HOOK=%s", pre_names[H.pre_state]);
	extra[n++] = hook;
	extra[n++] = job;
	extra[n++] = status;
	extra[n++] = code;
	extra[n++] = pre;
	if (o->snapshot_id) {
		snprintf(id, sizeof id, "STRATA_SNAPSHOT_ID=%s", o->snapshot_id);
		extra[n++] = id;
	}
	if (o->error && *o->error) {
		snprintf(error, sizeof error, "STRATA_ERROR=%s", o->error);
		extra[n++] = error;
	}
	if (o->paused_ms >= 0) {
		snprintf(paused, sizeof paused, "STRATA_PAUSED_MS=%.3f", o->paused_ms);
		extra[n++] = paused;
	}
	if (signame) {
		snprintf(sig, sizeof sig, "STRATA_SIGNAL=%s", signame);
		extra[n++] = sig;
	}
	rc = run_hook(H.post, extra, n, 0, &st);
	if (rc)
		cli_warn("--post-hook: cannot run /bin/sh: %s", strerror(-rc));
	else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		describe(st, how, sizeof how);
		cli_warn("--post-hook %s", how);
	}
}

void cli_hooks_post(const CliHookOutcome *o)
{
	/* A signal came first: its thread runs the post-hook with the signal's
	 * outcome and ends strata as the signal does; whatever this run made
	 * of it (a producer it killed, an interrupted read) is not the
	 * outcome. Wait here for that end. */
	if (H.post && H.got_sig)
		for (;;)
			pause();
	if (!H.post || atomic_exchange(&H.post_claimed, 1))
		return;
	post(o, NULL);
}

/* ---- signals ---- */

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	cli_freeze_resume_all();
	cli_fssnap_release_all();
	if (H.got_sig || !H.post || H.sigpipe[1] < 0) {
		/* Nothing to run, or a second signal: end now, as by default
		 * (the signal is blocked in its handler: delivered on return). */
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		sigaction(sig, &dfl, NULL);
		raise(sig);
	} else {
		H.got_sig = sig;
		(void)!write(H.sigpipe[1], &b, 1);
	}
	errno = saved;
}

static void *signal_thread(void *arg)
{
	unsigned char b;
	struct sigaction dfl;
	sigset_t set;
	int sig;

	(void)arg;
	while (read(H.sigpipe[0], &b, 1) != 1)
		if (errno != EINTR)
			return NULL;
	sig = b;
	if (!atomic_exchange(&H.post_claimed, 1)) {
		char msg[64];
		const char *name = sigabbrev_np(sig);
		CliHookOutcome o = { 128 + sig, NULL, msg, -1 };
		int pfd = -1;

		/* A running pre-hook ends first: pre and post never overlap. */
		pthread_mutex_lock(&H.mu);
		if (H.pre_pidfd >= 0)
			pfd = dup(H.pre_pidfd);
		pthread_mutex_unlock(&H.mu);
		if (pfd >= 0) {
			struct pollfd p = { pfd, POLLIN, 0 };
			syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0);
			while (poll(&p, 1, -1) < 0 && errno == EINTR)
				;
			close(pfd);
		}
		snprintf(msg, sizeof msg, "interrupted by SIG%s", name ? name : "?");
		post(&o, name);
	}
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig);
}

int cli_hooks_init(const char *pre, const char *post_cmd, const char *job, StrataErr *err)
{
	struct sigaction sa;

	H.pre = pre;
	H.post = post_cmd;
	H.job = job;
	H.have_nofile = getrlimit(RLIMIT_NOFILE, &H.nofile) == 0;
	if (post_cmd) {
		if (pipe2(H.sigpipe, O_CLOEXEC) != 0)
			return strata_err_set(err, -errno, "cannot set up the signal handling for --post-hook: %s",
			                      strerror(errno));
		if (pthread_create(&H.thread, NULL, signal_thread, NULL) != 0) {
			close(H.sigpipe[0]);
			close(H.sigpipe[1]);
			H.sigpipe[0] = H.sigpipe[1] = -1;
			return strata_err_set(err, -EAGAIN, "cannot set up the signal handling for --post-hook");
		}
		pthread_detach(H.thread);
		H.thread_started = 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NSIGNALS; i++) {
		sigaction(hook_signals[i], NULL, &H.old[i]);
		/* Ignored when started (nohup, a background job of a shell
		 * without job control): stays ignored, as for any program. */
		if (H.old[i].sa_handler != SIG_IGN)
			sigaction(hook_signals[i], &sa, NULL);
	}
	H.installed = 1;
	return 0;
}

int cli_hooks_signalled(void)
{
	return H.got_sig;
}

void cli_hooks_end(void)
{
	if (!H.installed)
		return;
	/* A signal is being handled: its thread runs the post-hook and ends
	 * the process; returning would end it before the hook is done. */
	if (H.got_sig)
		for (;;)
			pause();
	for (size_t i = 0; i < NSIGNALS; i++)
		sigaction(hook_signals[i], &H.old[i], NULL);
	H.installed = 0;
}
