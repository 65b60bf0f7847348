/* cli_password.c — see cli_password.h. */
#include "tools/cli/cli_password.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* The terminal being prompted on, so that a signal during the prompt can
 * put echo back before the process dies (a shell left without echo is the
 * classic bug of hand-written password prompts). */
static volatile sig_atomic_t tty_fd = -1;
static struct termios tty_saved;

static void restore_tty_on_signal(int sig)
{
	if (tty_fd >= 0)
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

void cli_password_wipe(CliPassword *pw)
{
	if (!pw)
		return;
	explicit_bzero(pw->buf, sizeof pw->buf);
	pw->len = 0;
}

static int read_file(const char *path, CliPassword *out, StrataErr *err)
{
	size_t len = 0;
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return strata_err_set(err, -errno, "password file %s: %s", path, strerror(errno));
	while (len < sizeof out->buf) {
		n = read(fd, out->buf + len, sizeof out->buf - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = strata_err_set(err, -errno, "password file %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > 0 && out->buf[len - 1] == '\n')
		len--;
	if (len > CLI_PASSWORD_MAX) {
		rc = strata_err_set(err, STRATA_EUSAGE, "password file %s: longer than %d bytes",
		                    path, CLI_PASSWORD_MAX);
		goto out;
	}
	if (len == 0) {
		rc = strata_err_set(err, STRATA_EUSAGE, "password file %s is empty", path);
		goto out;
	}
	out->len = len;
out:
	close(fd);
	if (rc)
		cli_password_wipe(out);
	return rc;
}

/* Read one line from the terminal with echo off. */
static int prompt_once(int fd, const char *prompt, CliPassword *out, StrataErr *err)
{
	struct termios quiet;
	struct sigaction sa, old_int, old_term, old_hup;
	size_t len = 0;
	ssize_t n;
	char c;
	int rc = 0, echo_off = 0;

	if (tcgetattr(fd, &tty_saved) == 0) {
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = restore_tty_on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		sigaction(SIGHUP, &sa, &old_hup);
		tty_fd = fd;
		quiet = tty_saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
		quiet.c_lflag |= ECHONL;
		if (tcsetattr(fd, TCSAFLUSH, &quiet) == 0)
			echo_off = 1;
	}
	if (write(fd, prompt, strlen(prompt)) < 0) {
		rc = strata_err_set(err, -errno, "cannot write the password prompt: %s", strerror(errno));
		goto out;
	}
	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = strata_err_set(err, -errno, "reading the password: %s", strerror(errno));
			goto out;
		}
		if (n == 0 || c == '\n')
			break;
		if (len == CLI_PASSWORD_MAX) {
			rc = strata_err_set(err, STRATA_EUSAGE, "password longer than %d bytes",
			                    CLI_PASSWORD_MAX);
			goto out;
		}
		out->buf[len++] = c;
	}
	c = 0;
	if (len == 0) {
		rc = strata_err_set(err, STRATA_EUSAGE, "empty password");
		goto out;
	}
	out->len = len;
out:
	if (echo_off)
		tcsetattr(fd, TCSAFLUSH, &tty_saved);
	if (tty_fd >= 0) {
		tty_fd = -1;
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGHUP, &old_hup, NULL);
	}
	if (rc)
		cli_password_wipe(out);
	return rc;
}

/* hint: where else the password could come from, for the error when
 * there is no terminal to ask on. */
static int prompt_tty(const char *prompt, int confirm, const char *hint,
                      CliPassword *out, StrataErr *err)
{
	CliPassword again;
	int fd, rc;

	memset(&again, 0, sizeof again);
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return strata_err_set(err, STRATA_EUSAGE,
		                      "no password given and no terminal to ask on: use %s", hint);
	rc = prompt_once(fd, prompt, out, err);
	if (rc == 0 && confirm) {
		rc = prompt_once(fd, "enter the password again: ", &again, err);
		if (rc == 0 && (again.len != out->len || memcmp(again.buf, out->buf, out->len))) {
			rc = strata_err_set(err, STRATA_EUSAGE, "the passwords do not match");
			cli_password_wipe(out);
		}
	}
	cli_password_wipe(&again);
	close(fd);
	return rc;
}

int cli_password_get(const Cli *cli, const char *prompt, int confirm,
                     CliPassword *out, StrataErr *err)
{
	const char *file = cli->password_file, *env;
	size_t len;

	if (!file)
		file = getenv("STRATA_PASSWORD_FILE");
	if (file && *file)
		return read_file(file, out, err);
	env = getenv("STRATA_PASSWORD");
	if (env) {
		len = strlen(env);
		if (len == 0)
			return strata_err_set(err, STRATA_EUSAGE, "STRATA_PASSWORD is empty");
		if (len > CLI_PASSWORD_MAX)
			return strata_err_set(err, STRATA_EUSAGE, "STRATA_PASSWORD is longer than %d bytes",
			                      CLI_PASSWORD_MAX);
		memcpy(out->buf, env, len);
		out->len = len;
		return 0;
	}
	return prompt_tty(prompt, confirm,
	                  "--password-file, STRATA_PASSWORD_FILE or STRATA_PASSWORD", out, err);
}

int cli_password_get_new(const char *file, CliPassword *out, StrataErr *err)
{
	if (!file)
		file = getenv("STRATA_NEW_PASSWORD_FILE");
	if (file && *file)
		return read_file(file, out, err);
	return prompt_tty("enter the new password: ", 1,
	                  "--new-password-file or STRATA_NEW_PASSWORD_FILE", out, err);
}
