/* cli_metrics.c — see cli_metrics.h. */
#include "tools/cli/cli_metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/repo.h"
#include "store/sys/outfile.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_opts.h"

typedef struct Sample {
	char *name, *help, *type;
	char *labels;          /* rendered: `a="x",b="y"`, or "" */
	double value;
	int written;
} Sample;

struct CliMetrics {
	Sample *v;
	size_t n, cap;
};

CliMetrics *cli_metrics_new(void)
{
	return calloc(1, sizeof(CliMetrics));
}

void cli_metrics_free(CliMetrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].name);
		free(m->v[i].help);
		free(m->v[i].type);
		free(m->v[i].labels);
	}
	free(m->v);
	free(m);
}

static int valid_name(const char *s, int colon_ok)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++) {
		char ch = *s;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || (colon_ok && ch == ':')))
			return 0;
	}
	return 1;
}

/* Escape s for the exposition format: backslash and newline always,
 * double quote inside label values. malloc'ed. */
static char *escape(const char *s, int quote)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(2 * n + 1);

	if (!out)
		return NULL;
	for (; *s; s++) {
		if (*s == '\\' || (quote && *s == '"')) {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return out;
}

static char *render_labels(const char *const *labels)
{
	size_t len = 1, o = 0;
	char *out, **vals;
	size_t nl = 0;

	for (; labels && labels[2 * nl]; nl++)
		if (!labels[2 * nl + 1] || !valid_name(labels[2 * nl], 0))
			return NULL;
	vals = calloc(nl ? nl : 1, sizeof *vals);
	if (!vals)
		return NULL;
	for (size_t i = 0; i < nl; i++) {
		if (!(vals[i] = escape(labels[2 * i + 1], 1)))
			goto fail;
		len += strlen(labels[2 * i]) + strlen(vals[i]) + 4;
	}
	if (!(out = malloc(len)))
		goto fail;
	out[0] = '\0';
	for (size_t i = 0; i < nl; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s=\"%s\"", i ? "," : "", labels[2 * i], vals[i]);
	for (size_t i = 0; i < nl; i++)
		free(vals[i]);
	free(vals);
	return out;
fail:
	for (size_t i = 0; i < nl; i++)
		free(vals[i]);
	free(vals);
	return NULL;
}

int cli_metrics_add(CliMetrics *m, const char *name, const char *help, const char *type,
                    const char *const *labels, double value)
{
	Sample *s;

	if (!valid_name(name, 1) || !type ||
	    (strcmp(type, "gauge") && strcmp(type, "counter") && strcmp(type, "untyped")))
		return -EINVAL;
	for (size_t i = 0; labels && labels[i]; i += 2)
		if (!labels[i + 1] || !valid_name(labels[i], 0))
			return -EINVAL;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 16;
		void *p = realloc(m->v, cap * sizeof *m->v);
		if (!p)
			return -ENOMEM;
		m->v = p;
		m->cap = cap;
	}
	s = &m->v[m->n];
	memset(s, 0, sizeof *s);
	s->name = strdup(name);
	s->help = escape(help ? help : "", 0);
	s->type = strdup(type);
	s->labels = render_labels(labels);
	s->value = value;
	if (!s->name || !s->help || !s->type || !s->labels) {
		free(s->name);
		free(s->help);
		free(s->type);
		free(s->labels);
		return -ENOMEM;
	}
	m->n++;
	return 0;
}

static void print_value(FILE *f, double v)
{
	if (isnan(v))
		fputs("NaN", f);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", f);
	else
		fprintf(f, "%.17g", v);
}

static int write_all(FILE *f, const CliMetrics *m)
{
	char *done = calloc(m->n ? m->n : 1, 1);

	if (!done)
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		if (done[i])
			continue;
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m->v[i].name, m->v[i].help, m->v[i].name, m->v[i].type);
		for (size_t j = i; j < m->n; j++) {
			const Sample *s = &m->v[j];
			if (done[j] || strcmp(s->name, m->v[i].name) != 0)
				continue;
			done[j] = 1;
			fprintf(f, s->labels[0] ? "%s{%s} " : "%s%s ", s->name, s->labels);
			print_value(f, s->value);
			fputc('\n', f);
		}
	}
	free(done);
	return 0;
}

int cli_metrics_add_requests(CliMetrics *m, const char *const *labels, Repo *repo)
{
	BackendStats bs;
	int rc;

	if (!repo)
		return 0;
	repo_backend_stats(repo, &bs);
	rc = cli_metrics_add(m, "strata_requests", "requests sent to the repository's store, repeats included",
	                     "gauge", labels, (double)bs.requests);
	if (rc == 0)
		rc = cli_metrics_add(m, "strata_request_retries", "requests repeated after a failure", "gauge", labels,
		                     (double)bs.retries);
	if (rc == 0)
		rc = cli_metrics_add(m, "strata_request_bytes_sent", "request body bytes sent to the store", "gauge",
		                     labels, (double)bs.bytes_sent);
	if (rc == 0)
		rc = cli_metrics_add(m, "strata_request_bytes_received", "answer body bytes received from the store",
		                     "gauge", labels, (double)bs.bytes_received);
	return rc;
}

int cli_metrics_write(const CliMetrics *m, const char *path, StrataErr *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (!f)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = write_all(f, m);
	if (fclose(f) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc) {
		free(buf);
		return strata_err_set(err, rc, "out of memory");
	}
	/* 0644: node_exporter, another user, reads it; it holds no secret. */
	rc = outfile_write(path, (const uint8_t *)buf, len, 0644, 0, err);
	if (rc)
		strata_err_prefix(err, "metrics file");
	free(buf);
	return rc;
}

int cli_metrics_opt_file(const Cli *cli, const char *arg, const char **out)
{
	if (!*arg)
		return cli_usage(cli, "--metrics-file wants a file name");
	*out = arg;
	return CLI_CONTINUE;
}

int cli_metrics_opt_job(const Cli *cli, const char *arg, const char **out)
{
	if (!cmd_backup_job_name_ok(arg))
		return cli_usage(cli, "--job wants a name of letters, digits and _ - . : @ '%s'", arg);
	*out = arg;
	return CLI_CONTINUE;
}
