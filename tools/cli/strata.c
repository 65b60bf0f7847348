/* strata.c — main: global options, the command table, help and version.
 *
 * Adding a command: write tools/cmd_<name>.c exporting
 * `const CliCommand cmd_<name>`, declare it in cli.h, add one line to
 * commands[] below.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "store/repo.h"
#include "remote/s3/s3_opts.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_opts.h"

static const CliCommand cmd_help;
static const CliCommand cmd_version;

static const CliCommand *const commands[] = {
	&cmd_init,
	&cmd_backup,
	&cmd_snapshots,
	&cmd_ls,
	&cmd_diff,
	&cmd_find,
	&cmd_mount,
	&cmd_restore,
	&cmd_verify_restore,
	&cmd_dump,
	&cmd_cat,
	&cmd_config,
	&cmd_stats,
	&cmd_bench,
	&cmd_key,
	&cmd_check,
	&cmd_repair,
	&cmd_tag,
	&cmd_hold,
	&cmd_unhold,
	&cmd_forget,
	&cmd_prune,
	&cmd_unlock,
	&cmd_watch,
	&cmd_wal_push,
	&cmd_wal_fetch,
	&cmd_wal_list,
	&cmd_wal_prune,
	&cmd_wal_verify,
	&cmd_replicate,
	&cmd_s3,
	&cmd_help,
	&cmd_version,
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

const CliCommand *cli_command_find(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static const char global_help[] =
	"Global options (before or after the command):\n"
	"  -r, --repo LOCATION     repository: a directory, local:/path,\n"
	"                          s3:http://host:port/bucket/prefix or s3://bucket/prefix,\n"
	"                          an S3 one optionally ending in ?NAME=VALUE&... (the\n"
	"                          location parameters: `strata help`, s3.md)\n"
	"                          (default: $STRATA_REPOSITORY)\n"
	"      --password-file FILE  read the password from FILE (one trailing newline\n"
	"                          is dropped); else $STRATA_PASSWORD_FILE, else\n"
	"                          $STRATA_PASSWORD, else a prompt on the terminal.\n"
	"                          A password is never taken from the command line.\n"
	"      --cache-dir DIR     local cache (default: $STRATA_CACHE_DIR, else\n"
	"                          $XDG_CACHE_HOME/strata, else ~/.cache/strata)\n"
	"      --key-cache SECONDS keep the unwrapped key in the kernel keyring of\n"
	"                          this user for SECONDS (at most 604800), so that\n"
	"                          jobs run every block skip the password hash\n"
	"                          (Argon2id, ~0.2 s and 64 MiB); the password is\n"
	"                          still checked every run (default: $STRATA_KEY_CACHE,\n"
	"                          else 0 = off; tools/cli/doc/commands.md\n"
	"                          \"Key cache\")\n"
	"      --transfers N       S3 requests in flight at once, 1 to 128 (default:\n"
	"                          $STRATA_S3_TRANSFERS, else 8); more hide more\n"
	"                          round-trip time on a distant or slow store\n"
	"      --limit-upload RATE, --limit-download RATE\n"
	"                          bandwidth of all S3 transfers of the run, bytes\n"
	"                          per second (K, M, G: powers of 1024), e.g. 10M\n"
	"      --lock-wait DURATION  when another strata holds a conflicting\n"
	"                          repository lock, retry until DURATION has passed\n"
	"                          (90, 90s, 10m, 2h) before failing as without it\n"
	"                          (exit code 11); stale locks are passed over\n"
	"                          either way (default: $STRATA_LOCK_WAIT, else 0 =\n"
	"                          fail at once)\n"
	"      --include-partial   let `latest`, --at, --at-height, --label, a backup's\n"
	"                          parent and forget's keep counts pick partial\n"
	"                          snapshots too (some files vanished, were unreadable\n"
	"                          or changed while read: skipped by default)\n"
	"      --json              machine-readable output on stdout (errors too)\n"
	"  -q, --quiet             print only errors and warnings\n"
	"  -v, --verbose           print one line per file, and which key files\n"
	"                          are tried to open the repository\n"
	"  -h, --help              help; `strata help COMMAND` for one command\n";

void cli_help_command(const CliCommand *cmd)
{
	printf("Usage: %s\n\n%s\n%s", cmd->usage, cmd->summary, cmd->help);
	printf("\n%s", global_help);
}

static void help_main(void)
{
	char location_help[4096];
	size_t i, o = 0;

	for (i = 0; i < S3OPT_N && o < sizeof location_help; i++)
		o += (size_t)snprintf(location_help + o, sizeof location_help - o, "  %s=%s%s%s\n      %s\n",
		                      s3opts_info[i].name, s3opts_info[i].value,
		                      s3opts_info[i].env ? "  $" : "", s3opts_info[i].env ? s3opts_info[i].env : "",
		                      s3opts_info[i].help);

	printf(
		"strata — content-addressed, deduplicating, encrypted backups\n"
		"\n"
		"Usage: strata [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n"
		"\n"
		"Commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		printf( "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	printf(
		"\n%s"
		"\n"
		"Getting started:\n"
		"  export STRATA_REPOSITORY=/srv/backup/repo\n"
		"  export STRATA_PASSWORD_FILE=~/.config/strata/password\n"
		"  strata init\n"
		"  strata backup ~/data --tag daily\n"
		"  strata snapshots\n"
		"  strata restore latest --target /tmp/restore\n"
		"\n"
		"S3 credentials, first found: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY\n"
		"  [+ AWS_SESSION_TOKEN]; profile AWS_PROFILE (else default) of ~/.aws/credentials\n"
		"  and ~/.aws/config (keys, credential_process, role_arn + source_profile or\n"
		"  web_identity_token_file); AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN;\n"
		"  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/_FULL_URI; EC2 instance metadata\n"
		"  (IMDSv2; AWS_EC2_METADATA_DISABLED=true skips it). Endpoints: AWS_ENDPOINT_URL_STS,\n"
		"  AWS_EC2_METADATA_SERVICE_ENDPOINT. -v names the source; temporary\n"
		"  credentials are refreshed before they expire (tools/cli/doc/s3.md)\n"
		"\n"
		"S3 location parameters (s3:...?NAME=VALUE&...; '-' or '_' in names),\n"
		"each with the variable used when the location has none:\n"
		"%s"
		"\n"
		"S3 repositories (environment):\n"
		"  STRATA_S3_TRANSFERS      requests in flight at once (default 8; --transfers)\n"
		"  STRATA_S3_RETRIES        retries of a failed request, 0..100 (default 5)\n"
		"  STRATA_S3_LOW_SPEED_TIME seconds below 1 KiB/s before a retry (default 60)\n"
		"  STRATA_S3_BACKOFF_MS     the first retry's pause, doubling to 10 s (default 200)\n"
		"  STRATA_S3_STORAGE_CLASS  e.g. data=GLACIER,metadata=STANDARD (--storage-class)\n"
		"  STRATA_S3_CA_BUNDLE      PEM file of the CAs for an https endpoint\n"
		"  STRATA_S3_LIST_MAX_PAGES pages one listing may take (default 1000000)\n"
		"  STRATA_S3_LIST_MAX_KEYS  objects one listing may return (default 100000000)\n"
		"\n"
		"Debugging (environment):\n"
		"  STRATA_ALLOW_CORE_DUMP=1 let a crash leave a core file and let a debugger\n"
		"                           attach; by default strata turns both off, as its\n"
		"                           memory holds the key, credentials and plaintext\n"
		"\n"
		"Exit codes:\n%s"
		"\n"
		"`strata help COMMAND` or `strata COMMAND --help` explains a command with examples.\n",
		global_help, location_help, cli_exit_table);
}

static int run_help(Cli *cli, int argc, char **argv)
{
	const CliCommand *cmd;
	int rc, first;

	if ((rc = cli_opts_parse(cli, argc, argv, "", NULL, NULL, NULL, &first)) != CLI_CONTINUE)
		return rc;
	if (first >= argc) {
		help_main();
		return CLI_EXIT_OK;
	}
	if (!(cmd = cli_command_find(argv[first]))) {
		cli->cmd = NULL;
		return cli_usage(cli, "no such command: %s", argv[first]);
	}
	cli_help_command(cmd);
	return CLI_EXIT_OK;
}

static const CliCommand cmd_help = {
	.name = "help",
	.summary = "Explain strata or one of its commands.",
	.usage = "strata help [COMMAND]",
	.help =
		"Without COMMAND, list the commands, global options and exit codes.\n"
		"\n"
		"Examples:\n"
		"  strata help\n"
		"  strata help backup\n",
	.run = run_help,
};

static int run_version(Cli *cli, int argc, char **argv)
{
	int rc, first;

	if ((rc = cli_opts_parse(cli, argc, argv, "", NULL, NULL, NULL, &first)) != CLI_CONTINUE)
		return rc;
	if (first < argc)
		return cli_usage(cli, "unexpected argument %s", argv[first]);
	if (cli->json)
		printf("{\"version\": \"%s\", \"format_version\": %d}\n",
		       STRATA_VERSION, STRATA_FORMAT_VERSION);
	else
		printf("strata %s (repository format %d)\n", STRATA_VERSION, STRATA_FORMAT_VERSION);
	return CLI_EXIT_OK;
}

static const CliCommand cmd_version = {
	.name = "version",
	.summary = "Print the program version and the repository format it writes.",
	.usage = "strata version",
	.help =
		"Examples:\n"
		"  strata version\n"
		"  strata version --json\n",
	.run = run_version,
};

/* No core file and no ptrace for this process (FORMAT.md §14 "Core
 * dumps"): nearly every command holds the password, the master key, S3
 * credentials or plaintext in memory, and the few that do not (help,
 * version, bench) lose nothing by it, so it is every command, before any
 * option is read. RLIMIT_CORE 0 stops a core file on disk; non-dumpable
 * also stops a core_pattern pipe (systemd-coredump, apport: they ignore
 * RLIMIT_CORE, and fs.suid_dumpable=0 skips non-dumpable processes) and
 * ptrace or /proc/PID/mem by other processes of the same user. Inherited
 * by fork (the mount daemon); a child that execs strata sets it again.
 * STRATA_ALLOW_CORE_DUMP=1 leaves both as they were, for debugging. */
static void core_dumps_off(void)
{
	const char *allow = getenv("STRATA_ALLOW_CORE_DUMP");
	struct rlimit none = { 0, 0 };

	if (allow && !strcmp(allow, "1")) {
		cli_warn("STRATA_ALLOW_CORE_DUMP=1: core dumps and ptrace are allowed; a crash may write "
		         "the key, credentials and plaintext to disk");
		return;
	}
	if (allow && *allow && strcmp(allow, "0") != 0)
		cli_warn("STRATA_ALLOW_CORE_DUMP=%s: only 1 allows core dumps; they stay off", allow);
	if (setrlimit(RLIMIT_CORE, &none) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		cli_warn("cannot turn core dumps off (%s): a crash may write the key and plaintext to disk",
		         strerror(errno));
}

int main(int argc, char **argv)
{
	Cli cli;
	const CliCommand *cmd;
	int opt, i;
	char buf[8];

	core_dumps_off();
	memset(&cli, 0, sizeof cli);
	/* `strata --version`, as people type it: the version command. */
	if (argc == 2 && strcmp(argv[1], "--version") == 0)
		return run_version(&cli, 1, argv + 1);
	/* Global options before the command; '+' stops at the command name. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:" CLI_GLOBAL_SHORTOPTS,
	                          cli_global_longopts, NULL)) != -1) {
		if (opt == 'h') {
			help_main();
			return CLI_EXIT_OK;
		}
		if (opt == '?' || opt == ':')
			return cli_usage(&cli, opt == '?' ? "unknown option %s" :
			                 "option %s needs an argument",
			                 cli_opts_bad_option(argv, buf, sizeof buf));
		cli_opts_global(&cli, opt, optarg);
	}
	if (optind >= argc)
		return cli_usage(&cli, "no command given");
	if (!(cmd = cli_command_find(argv[optind])))
		return cli_usage(&cli, "unknown command '%s'", argv[optind]);
	cli.cmd = cmd;
	i = optind;
	return cmd->run(&cli, argc - i, argv + i);
}
