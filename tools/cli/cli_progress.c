/* cli_progress.c — see cli_progress.h. */
#include "tools/cli/cli_progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_json.h"

#define REDRAW_NS (1000000000 / 5)   /* at most 5 redraws a second */
#define JSON_NS   1000000000         /* one JSON line a second: a log, not an animation */

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
	p->start_ns = p->phase_ns = cli_now_ns();
	p->interval_ns = REDRAW_NS;
	if (getenv("STRATA_TESTONLY_PROGRESS_DELAY_MS"))
		p->test_delay_ms = atol(getenv("STRATA_TESTONLY_PROGRESS_DELAY_MS"));
	pthread_mutex_init(&p->mu, NULL);
}

void cli_progress_json_lines(CliProgress *p)
{
	pthread_mutex_lock(&p->mu);
	p->enabled = 1;
	p->json_lines = 1;
	p->interval_ns = JSON_NS;
	pthread_mutex_unlock(&p->mu);
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

/* "42s", "3m05s", "2h07m": short enough to leave room for the file name. */
static void fmt_eta(double s, char *out, size_t len)
{
	unsigned long long t = (unsigned long long)(s + 0.5);

	if (t < 60)
		snprintf(out, len, "%llus", t);
	else if (t < 3600)
		snprintf(out, len, "%llum%02llus", t / 60, t % 60);
	else
		snprintf(out, len, "%lluh%02llum", t / 3600, (t / 60) % 60);
}

/* Rates since the phase began; eta_s < 0 when no total is known. */
typedef struct Rates {
	double items_per_s, bytes_per_s, eta_s;
} Rates;

static Rates rates(const CliProgress *p, const CliProgressStatus *s, int64_t now)
{
	double secs = (double)(now - p->phase_ns) / 1e9;
	uint64_t di = s->items >= p->phase_items ? s->items - p->phase_items : 0;
	uint64_t db = s->bytes >= p->phase_bytes ? s->bytes - p->phase_bytes : 0;
	Rates r = { 0, 0, -1 };

	if (secs < 0.001)
		return r;
	r.items_per_s = (double)di / secs;
	r.bytes_per_s = (double)db / secs;
	/* Bytes are the better clock when both totals are known: items vary
	 * in size. No ETA before anything moved. */
	if (s->bytes_total) {
		if (r.bytes_per_s > 0)
			r.eta_s = s->bytes_total > s->bytes ? (double)(s->bytes_total - s->bytes) / r.bytes_per_s : 0;
	} else if (s->items_total && r.items_per_s > 0)
		r.eta_s = s->items_total > s->items ? (double)(s->items_total - s->items) / r.items_per_s : 0;
	return r;
}

static void draw_line(CliProgress *p, const CliProgressStatus *s, const Rates *r)
{
	char line[512], b1[CLI_FMT_BYTES_LEN], b2[CLI_FMT_BYTES_LEN], eta[32];
	int has_bytes = s->bytes || s->bytes_total;
	size_t n = 0;

#define PUT(...) do { if (n < sizeof line) n += (size_t)snprintf(line + n, sizeof line - n, __VA_ARGS__); } while (0)
	if (s->phase)
		PUT("%s: ", s->phase);
	PUT("%llu", (unsigned long long)s->items);
	if (s->items_total)
		PUT("/%llu", (unsigned long long)s->items_total);
	PUT(" %s", s->unit ? s->unit : "files");
	if (has_bytes) {
		PUT(", %s", cli_fmt_bytes(s->bytes, b1));
		if (s->bytes_total)
			PUT("/%s", cli_fmt_bytes(s->bytes_total, b2));
		PUT(", %s/s", cli_fmt_bytes((uint64_t)r->bytes_per_s, b1));
	} else {
		PUT(", %.1f %s/s", r->items_per_s, s->unit ? s->unit : "files");
	}
	if (r->eta_s >= 0) {
		fmt_eta(r->eta_s, eta, sizeof eta);
		PUT(", ETA %s", eta);
	}
	if (s->current)
		PUT(", ");
#undef PUT
	if (n >= sizeof line)
		n = sizeof line - 1;
	line[n] = '\0';
	if (s->current)
		append_tail(line, sizeof line, s->current, term_columns());
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	p->shown = 1;
}

static void draw_json(const CliProgress *p, const CliProgressStatus *s, const Rates *r, int64_t now)
{
	const char *unit = s->unit ? s->unit : "files";
	char key[64];
	json_t *o = json_object();
	char *text;

	if (!o)
		return;
	snprintf(key, sizeof key, "%s_total", unit);
	json_object_set_new(o, "type", json_string("progress"));
	json_object_set_new(o, "phase", s->phase ? json_string(s->phase) : json_null());
	json_object_set_new(o, "elapsed_s", json_real((double)(now - p->start_ns) / 1e9));
	json_object_set_new(o, unit, json_integer((json_int_t)s->items));
	json_object_set_new(o, key, s->items_total ? json_integer((json_int_t)s->items_total) : json_null());
	json_object_set_new(o, "bytes", json_integer((json_int_t)s->bytes));
	json_object_set_new(o, "bytes_total", s->bytes_total ? json_integer((json_int_t)s->bytes_total) : json_null());
	json_object_set_new(o, "bytes_per_s", json_real(r->bytes_per_s));
	json_object_set_new(o, "eta_s", r->eta_s >= 0 ? json_real(r->eta_s) : json_null());
	if (!s->current || cli_json_set_name(o, "current", s->current) != 0)
		json_object_set_new(o, "current", json_null());
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!text)
		return;
	printf("%s\n", text);
	fflush(stdout);
	free(text);
}

void cli_progress_show(CliProgress *p, const CliProgressStatus *s)
{
	const char *phase = s->phase ? s->phase : "";
	int64_t now;
	Rates r;

	if (!p->enabled)
		return;
	pthread_mutex_lock(&p->mu);
	now = cli_now_ns();
	if (strncmp(p->phase, phase, sizeof p->phase - 1) != 0) {
		snprintf(p->phase, sizeof p->phase, "%s", phase);
		p->phase_ns = now;
		p->phase_items = s->items;
		p->phase_bytes = s->bytes;
	}
	if (p->last_ns && now - p->last_ns < p->interval_ns)
		goto out;
	p->last_ns = now;
	r = rates(p, s, now);
	if (p->json_lines)
		draw_json(p, s, &r, now);
	else
		draw_line(p, s, &r);
out:
	pthread_mutex_unlock(&p->mu);
	if (p->test_delay_ms > 0 && p->test_delay_ms < 1000) {
		struct timespec ts = { 0, p->test_delay_ms * 1000000L };
		nanosleep(&ts, NULL);
	}
}

void cli_progress_update(CliProgress *p, uint64_t files, uint64_t bytes, const char *current)
{
	CliProgressStatus s;

	memset(&s, 0, sizeof s);
	s.items = files;
	s.bytes = bytes;
	s.current = current;
	cli_progress_show(p, &s);
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
