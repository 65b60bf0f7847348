/* cli_metrics.h — Prometheus textfile output (--metrics-file) for any command.
 *
 * Owns: collecting samples (name, help, type, labels, value) and writing
 * them in the Prometheus text exposition format, atomically through
 * store/sys/outfile.h: an exclusive private temporary file beside the target
 * (unnamed, or ending ".tmp-XXXXXXXXXXXX", which node_exporter's textfile
 * collector ignores as it reads only "*.prom"), fsync, rename over the
 * target, fsync of the directory. A reader sees the old file or the new
 * one, never a part.
 *
 * Samples sharing a name are written together under one HELP and TYPE
 * line (the first help and type given for that name win), in the order
 * the names were first added. Label values and help texts are escaped.
 *
 * Usage:
 *   CliMetrics *m = cli_metrics_new();
 *   const char *lb[] = {"job", "check", NULL};
 *   cli_metrics_add(m, "strata_check_success", "1 if ...", "gauge", lb, 1);
 *   cli_metrics_write(m, "/var/lib/node_exporter/strata.prom", &err);
 *   cli_metrics_free(m);
 *
 * Thread safety: one thread per CliMetrics.
 */
#ifndef STRATA_TOOLS_CLI_METRICS_H
#define STRATA_TOOLS_CLI_METRICS_H

#include "store/error.h"

typedef struct CliMetrics CliMetrics;

/* cli_metrics_new — an empty set; NULL when out of memory. */
CliMetrics *cli_metrics_new(void);

/* cli_metrics_add — append one sample. name: [a-zA-Z_:][a-zA-Z0-9_:]*;
 * type: "gauge", "counter" or "untyped"; labels: NULL or a NULL-terminated
 * list of alternating names ([a-zA-Z_][a-zA-Z0-9_]*) and values (any
 * text). Returns 0, -EINVAL for a bad name, type or label name, -ENOMEM. */
int cli_metrics_add(CliMetrics *m, const char *name, const char *help, const char *type,
                    const char *const *labels, double value);

/* cli_metrics_add_requests — the samples strata_requests,
 * strata_request_retries, strata_request_bytes_sent and
 * strata_request_bytes_received: what repo's store was asked so far
 * (repo_backend_stats), with labels. repo NULL (never opened): none.
 * Returns as cli_metrics_add. */
struct Repo;
int cli_metrics_add_requests(CliMetrics *m, const char *const *labels, struct Repo *repo);

/* cli_metrics_write — write every sample to path atomically (see above),
 * mode 0644. Returns 0 or -errno with err naming the file. */
int cli_metrics_write(const CliMetrics *m, const char *path, StrataErr *err);

/* cli_metrics_free — accepts NULL. */
void cli_metrics_free(CliMetrics *m);

/* cli_metrics_opt_file / cli_metrics_opt_job — the options --metrics-file
 * FILE (not empty) and --job NAME (cmd_backup_job_name_ok) into *out, for
 * a command's option callback: CLI_CONTINUE, or the usage error's exit
 * code after printing it. */
struct Cli;
int cli_metrics_opt_file(const struct Cli *cli, const char *arg, const char **out);
int cli_metrics_opt_job(const struct Cli *cli, const char *arg, const char **out);

#endif
