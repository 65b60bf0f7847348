/* cli_select.h — how commands name the snapshot they work on: SNAPSHOT
 * ("latest" or an ID prefix), or the selectors `--at TIME`, `--at-height
 * N`, `--label KEY=VALUE` and `--verified`, narrowed by `--host`, `--tag`,
 * `--path` (and `--label` beside another selector). restore,
 * verify-restore, dump and ls share all of it through CliSelect;
 * `snapshots` uses the parsers of --at/--at-height and the restore-test
 * set loader.
 *
 * Rules (the same for every command):
 *   - one of --at and --at-height at most;
 *   - --label alone picks the newest snapshot carrying it exactly; beside
 *     --at/--at-height, latest or --verified it narrows the group;
 *   - --verified keeps only snapshots whose newest restore test passed
 *     (store/verified.h), and alone means "the newest of those";
 *   - with a selector SNAPSHOT may be omitted, or be "latest"; a first
 *     operand other than "latest" is then the command's next operand
 *     (dump PATH, ls PATH), or a usage error where none is expected.
 *
 * Never: prints anything but usage errors and, for records that cannot
 * be read, one warning each (cli_warn).
 */
#ifndef STRATA_TOOLS_CLI_SELECT_H
#define STRATA_TOOLS_CLI_SELECT_H

#include "store/snapselect.h"
#include "store/verified.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_opts.h"

/* cli_select_at / cli_select_at_height — set sel to pick by time (TIME in
 * the forms of tools/cli/cli_time.h) or by height label (a whole number) and
 * count the selector in *nselectors. Return CLI_CONTINUE, or the usage
 * error's exit code after printing it. */
int cli_select_at(const Cli *cli, const char *arg, SnapSelect *sel, int *nselectors);
int cli_select_at_height(const Cli *cli, const char *arg, SnapSelect *sel, int *nselectors);

/* cli_select_load_verified — every restore-test record of repo
 * (verified_load), with one warning per record that cannot be read (it is
 * ignored: its snapshot counts as untested; `strata check` reports it).
 * 0 or the error of verified_load (err filled). */
int cli_select_load_verified(Repo *repo, VerifiedSet **out, StrataErr *err);

/* getopt_long values of the selection options: between the global ones
 * (CLI_OPT_GLOBAL) and a command's own (CLI_OPT_CMD). */
enum {
	CLI_OPT_SELECT = 0x180,
	CLI_OPT_SEL_AT = CLI_OPT_SELECT,
	CLI_OPT_SEL_AT_HEIGHT,
	CLI_OPT_SEL_LABEL,
	CLI_OPT_SEL_HOST,
	CLI_OPT_SEL_TAG,
	CLI_OPT_SEL_PATH,
	CLI_OPT_SEL_VERIFIED,
	CLI_OPT_SELECT_END
};

/* The rows to put in a command's getopt_long table. */
#define CLI_SELECT_LONGOPTS \
	{ "at",        required_argument, NULL, CLI_OPT_SEL_AT }, \
	{ "at-height", required_argument, NULL, CLI_OPT_SEL_AT_HEIGHT }, \
	{ "label",     required_argument, NULL, CLI_OPT_SEL_LABEL }, \
	{ "host",      required_argument, NULL, CLI_OPT_SEL_HOST }, \
	{ "tag",       required_argument, NULL, CLI_OPT_SEL_TAG }, \
	{ "path",      required_argument, NULL, CLI_OPT_SEL_PATH }, \
	{ "verified",  no_argument,       NULL, CLI_OPT_SEL_VERIFIED }

/* The help lines of those options, for a command's --help. */
#define CLI_SELECT_HELP \
	"Choosing the snapshot (instead of SNAPSHOT, or with latest):\n" \
	"      --at TIME         the newest snapshot taken at or before TIME:\n" \
	"                        2024-05-01 12:00:00 (local time), 2024-05-01T10:00Z,\n" \
	"                        2024-05-01T12:00+02:00, @UNIXSECONDS\n" \
	"      --at-height N     the snapshot with the highest label height=H, H <= N\n" \
	"      --label KEY=VALUE alone: the newest snapshot carrying exactly this\n" \
	"                        label; with --at/--at-height, --verified or latest:\n" \
	"                        look only among snapshots carrying it (repeatable)\n" \
	"      --verified        only snapshots whose newest restore test passed\n" \
	"                        (`strata verify-restore`); alone: the newest of them\n" \
	"      --host HOST, --tag TAG, --path PATH\n" \
	"                        look only among snapshots of HOST, carrying TAG,\n" \
	"                        holding PATH (repeatable); also narrow \"latest\"\n" \
	"When nothing qualifies, the error names the nearest snapshots.\n"

typedef struct CliSelect {
	SnapSelect sel;           /* by, time, height, label and the group */
	int nselectors;           /* --at and --at-height given */
	CliList tags, paths, labels;
	int verified;             /* --verified */
	const char *ref;          /* SNAPSHOT after cli_select_operands; NULL: omitted */
	VerifiedSet *vset;        /* loaded by cli_select_find when verified */
} CliSelect;

/* CLI_SELECT_NOT_MINE — cli_select_opt's answer for another option. */
#define CLI_SELECT_NOT_MINE (-2)

/* cli_select_opt — apply one selection option (called from a command's
 * option callback). CLI_CONTINUE, an exit code after a usage error, or
 * CLI_SELECT_NOT_MINE. */
int cli_select_opt(const Cli *cli, int opt, const char *arg, CliSelect *cs);

/* cli_select_operands — take SNAPSHOT from the operands argv[*first ..
 * argc) by the rules above, check the options against it, and fill
 * cs->ref and cs->sel. rest_max is how many operands the command takes
 * after SNAPSHOT; default_ref (NULL: SNAPSHOT is required) stands for a
 * SNAPSHOT omitted without a selector. *first moves past SNAPSHOT when it
 * was given. Returns CLI_CONTINUE or the usage error's exit code after
 * printing it. */
int cli_select_operands(const Cli *cli, CliSelect *cs, int argc, char **argv, int *first, int rest_max,
                        const char *default_ref);

/* cli_select_find — the snapshot cs names in repo (loading the
 * restore-test records first with --verified). The errors of
 * snapshot_find and snapselect_find (STRATA_ENOTFOUND with the nearest
 * snapshots named, STRATA_EAMBIGUOUS) and of verified_load. */
int cli_select_find(CliSelect *cs, Repo *repo, Snapshot *out, StrataErr *err);

/* cli_select_is_selector — 1 if --at, --at-height, --label or --verified
 * was given (the options choose a snapshot by themselves);
 * cli_select_is_grouped — 1 if --host, --tag, --path, --label or
 * --verified was given (they narrow the group "latest" looks in). */
int cli_select_is_selector(const CliSelect *cs);
int cli_select_is_grouped(const CliSelect *cs);

/* cli_select_group — fill cs->sel from the options alone, without
 * operands (what cli_select_operands does after taking SNAPSHOT): for a
 * command that takes several snapshots (diff) or none (find). */
void cli_select_group(const Cli *cli, CliSelect *cs);

/* cli_select_find_ref — the snapshot ref names ("latest", narrowed by
 * the group, or an ID prefix) once cs->sel is filled. STRATA_EUSAGE for
 * an ID prefix beside --host/--tag/--path/--label/--verified; else the
 * errors of cli_select_find. */
int cli_select_find_ref(CliSelect *cs, Repo *repo, const char *ref, Snapshot *out, StrataErr *err);

/* cli_select_options, cli_select_on_opt — the getopt_long table and the
 * option callback (ctx: the CliSelect) of a command whose only options
 * are the selectors. */
extern const struct option cli_select_options[];
int cli_select_on_opt(Cli *cli, int opt, const char *arg, void *ctx);

/* cli_select_free — the lists and the loaded records. */
void cli_select_free(CliSelect *cs);

#endif
