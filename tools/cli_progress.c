/* cli_progress.c — see cli_progress.h. */
#include "tools/cli_progress.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli_fmt.h"

#define REDRAW_NS (1000000000 / 5)   /* at most 5 redraws a second */

int64_t cli_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void cli_progress_init(CliProgress *p, const Cli *cli)
{
	memset(p, 0, sizeof *p);
	p->enabled = !cli->quiet && !cli->json && isatty(STDERR_FILENO);
	p->start_ns = cli_now_ns();
	pthread_mutex_init(&p->mu, NULL);
}

static int term_columns(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

/* Append the tail of path to line so that the whole fits in cols columns;
 * bytes a terminal could misread (control, non-ASCII) become '?'. Counting
 * every byte as a column is conservative for UTF-8 names. */
static void append_tail(char *line, size_t cap, const char *path, int cols)
{
	size_t used = strlen(line), room, n = strlen(path), i;
	const char *start = path;

	if ((int)used + 4 >= cols || used + 4 >= cap)
		return;
	room = (size_t)cols - 1 - used;
	if (room > cap - 1 - used)
		room = cap - 1 - used;
	if (n > room) {
		memcpy(line + used, "...", 3);
		used += 3;
		room -= 3;
		start = path + (n - room);
		n = room;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)start[i];
		line[used++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	line[used] = '\0';
}

void cli_progress_update(CliProgress *p, uint64_t files, uint64_t bytes, const char *current)
{
	char line[512], sz[CLI_FMT_BYTES_LEN], rate[CLI_FMT_BYTES_LEN];
	int64_t now;
	double secs;

	if (!p->enabled)
		return;
	pthread_mutex_lock(&p->mu);
	now = cli_now_ns();
	if (now - p->last_ns < REDRAW_NS)
		goto out;
	p->last_ns = now;
	secs = (double)(now - p->start_ns) / 1e9;
	snprintf(line, sizeof line, "%llu files, %s, %s/s, ",
	         (unsigned long long)files, cli_fmt_bytes(bytes, sz),
	         cli_fmt_bytes(secs > 0.001 ? (uint64_t)((double)bytes / secs) : 0, rate));
	if (current)
		append_tail(line, sizeof line, current, term_columns());
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	p->shown = 1;
out:
	pthread_mutex_unlock(&p->mu);
}

static void erase(CliProgress *p)
{
	if (p->shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		p->shown = 0;
	}
}

void cli_progress_pause(CliProgress *p)
{
	pthread_mutex_lock(&p->mu);
	erase(p);
}

void cli_progress_resume(CliProgress *p)
{
	pthread_mutex_unlock(&p->mu);
}

void cli_progress_done(CliProgress *p)
{
	pthread_mutex_lock(&p->mu);
	erase(p);
	p->enabled = 0;
	pthread_mutex_unlock(&p->mu);
	pthread_mutex_destroy(&p->mu);
}
