/* cli.h — the strata command-line program: its context and command table.
 *
 * Owns: Cli, the global options every command sees, and CliCommand, one
 * row of the dispatch table in strata.c. Each command lives in its own
 * tools/cmd_<name>.c and exports exactly one `const CliCommand cmd_<name>`;
 * adding a command is that file plus one line in strata.c's table.
 *
 * Never: touches repository bytes. Commands call the store API (the headers in store/)
 * and print; the store never prints.
 *
 * Exit codes: a command's run() returns the process exit code (CLI_EXIT_*
 * in cli_exit.h), having already printed any error.
 */
#ifndef STRATA_TOOLS_CLI_H
#define STRATA_TOOLS_CLI_H

#include <stdint.h>

#define STRATA_VERSION "0.3.0"

typedef struct Cli {
	const char *repo;           /* -r/--repo, else $STRATA_REPOSITORY; NULL if neither */
	const char *cache_dir;      /* --cache-dir; NULL lets repo_open pick */
	const char *password_file;  /* --password-file; NULL: see cli_password.h */
	const char *key_cache;      /* --key-cache SECONDS, else $STRATA_KEY_CACHE; NULL/"0": off */
	const char *lock_wait;      /* --lock-wait DURATION, else $STRATA_LOCK_WAIT; NULL: fail at once */
	const char *transfers;      /* --transfers N: S3 requests in flight; NULL: $STRATA_S3_TRANSFERS */
	const char *limit_upload;   /* --limit-upload RATE, or NULL */
	const char *limit_download; /* --limit-download RATE, or NULL */
	int json;                   /* --json: machine output on stdout */
	int quiet;                  /* --quiet: only errors and warnings */
	int verbose;                /* --verbose: per-item lines */
	int json_lines;             /* with json: each document on one line (backup --json-progress) */
	int include_partial;        /* --include-partial: selections may pick partial snapshots */
	const struct CliCommand *cmd;  /* the command being run, for messages */
} Cli;

typedef struct CliCommand {
	const char *name;
	const char *summary;        /* one line, for `strata --help` */
	const char *usage;          /* "strata backup [OPTIONS] PATH..." */
	const char *help;           /* teaching text: options, then examples */
	int (*run)(Cli *cli, int argc, char **argv);  /* argv[0] is the command name */
} CliCommand;

/* The commands, one per tools/cmd_<name>.c. */
extern const CliCommand cmd_init;
extern const CliCommand cmd_backup;
extern const CliCommand cmd_watch;
extern const CliCommand cmd_snapshots;
extern const CliCommand cmd_ls;
extern const CliCommand cmd_restore;
extern const CliCommand cmd_dump;
extern const CliCommand cmd_cat;
extern const CliCommand cmd_config;
extern const CliCommand cmd_stats;
extern const CliCommand cmd_bench;
extern const CliCommand cmd_key;
extern const CliCommand cmd_check;
extern const CliCommand cmd_repair;
extern const CliCommand cmd_tag;
extern const CliCommand cmd_hold;
extern const CliCommand cmd_unhold;
extern const CliCommand cmd_forget;
extern const CliCommand cmd_prune;
extern const CliCommand cmd_unlock;
extern const CliCommand cmd_wal_push;
extern const CliCommand cmd_wal_fetch;
extern const CliCommand cmd_wal_list;
extern const CliCommand cmd_wal_prune;
extern const CliCommand cmd_wal_verify;
extern const CliCommand cmd_diff;
extern const CliCommand cmd_find;
extern const CliCommand cmd_mount;
extern const CliCommand cmd_replicate;
extern const CliCommand cmd_verify_restore;
extern const CliCommand cmd_s3;

/* Shared by `prune` and `forget --prune` (defined in cmd_prune.c):
 * cmd_prune_execute runs prune_run with the CLI's lock options and progress
 * lines; it prints the report, or with out_json stores it there instead
 * (the caller prints). Returns the exit code, having printed any error.
 * cmd_prune_parse_percent reads "5" or "5%" as 0.05; -EINVAL outside 0..100. */
struct Repo;
struct PruneOptions;
struct json_t;
int cmd_prune_execute(Cli *cli, struct Repo *repo, struct PruneOptions *o, struct json_t **out_json);
int cmd_prune_parse_percent(const char *arg, double *out);

/* Shared by every command with --metrics-file/--job (defined in
 * cmd_backup.c). cmd_backup_job_metrics writes these gauges, labelled
 * {job, command}, to path atomically (cli_metrics.h):
 *   strata_last_success_timestamp_seconds  now when the run succeeded (exit
 *       0, or 3 with s given), else the value a previous run left in path,
 *       else 0
 *   strata_last_run_timestamp_seconds, strata_success, strata_exit_code,
 *   strata_duration_seconds
 *   and, given a backup's summary s (may be NULL): strata_files,
 *   strata_bytes_total/read/added/stored, strata_errors, strata_dedup_ratio;
 *   given repo (may be NULL), its store's requests (cli_metrics_add_requests).
 * job NULL means the command's name. Returns 0 or -errno, err naming the
 * file. cmd_backup_job_metrics_add only adds those samples to m (for a
 * command that writes more of its own into the same file; path is read
 * for the previous success): 0, -EINVAL or -ENOMEM.
 * cmd_backup_job_name_ok: 1 if name is 1-128 of [A-Za-z0-9_.:@-] (so a
 * label value needs no escaping). */
struct SnapshotSummary;
struct StrataErr;
struct CliMetrics;
int cmd_backup_job_metrics(const Cli *cli, const char *path, const char *job, int exit_code,
                           double duration_s, const struct SnapshotSummary *s, struct Repo *repo,
                           struct StrataErr *err);
int cmd_backup_job_metrics_add(struct CliMetrics *m, const Cli *cli, const char *path, const char *job,
                               int exit_code, double duration_s, const struct SnapshotSummary *s);
int cmd_backup_job_name_ok(const char *name);

/* cmd_restore_metrics — recovery metrics of restore and dump
 * (--metrics-file): the job samples above, then labelled {job, command}
 * strata_restore_duration_seconds and, when the run succeeded with snap,
 * strata_restore_bytes (content put in place), strata_restore_bytes_fetched,
 * strata_restore_bytes_reused (delta), strata_restore_snapshot_timestamp_seconds
 * and strata_restore_data_loss_seconds (now minus the snapshot's time);
 * with repo, its store's requests (cli_metrics_add_requests).
 * Written to path atomically; 0 or -errno with err naming the file. */
struct Snapshot;
struct Repo;
int cmd_restore_metrics(const Cli *cli, const char *path, const char *job, int exit_code, double duration_s,
                        struct Repo *repo, const struct Snapshot *snap, uint64_t bytes, uint64_t bytes_fetched,
                        uint64_t bytes_reused, struct StrataErr *err);

/* cli_command_find — the table row for name, or NULL (defined in strata.c). */
const CliCommand *cli_command_find(const char *name);

/* cli_help_command — print cmd's usage and help text to stdout. */
void cli_help_command(const CliCommand *cmd);

#endif
