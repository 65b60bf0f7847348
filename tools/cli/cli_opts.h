/* cli_opts.h — option parsing shared by every command.
 *
 * Owns: the global options (accepted before the command and after it,
 * `strata -r R backup --json x` and `strata backup x -r R --json` alike),
 * merging them with a command's own getopt_long table, the growable string
 * list that repeatable options fill, and strict number/size parsing.
 *
 * Never: prints anything but usage errors (through cli_usage).
 */
#ifndef STRATA_TOOLS_CLI_OPTS_H
#define STRATA_TOOLS_CLI_OPTS_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/cli/cli.h"

/* getopt_long values: short options use their letter; long-only global
 * options use CLI_OPT_GLOBAL + n; a command's long-only options start at
 * CLI_OPT_CMD so the two never collide. */
enum {
	CLI_OPT_GLOBAL = 0x100,
	CLI_OPT_JSON,
	CLI_OPT_CACHE_DIR,
	CLI_OPT_PASSWORD_FILE,
	CLI_OPT_KEY_CACHE,
	CLI_OPT_TRANSFERS,
	CLI_OPT_INCLUDE_PARTIAL,
	CLI_OPT_LIMIT_UPLOAD,
	CLI_OPT_LIMIT_DOWNLOAD,
	CLI_OPT_LOCK_WAIT,
	CLI_OPT_CMD = 0x200
};

/* Short global options; a command's short options must not reuse them. */
#define CLI_GLOBAL_SHORTOPTS "r:qvh"

/* cli_opts_global — apply one global option to cli. Returns 1 if opt was a
 * global option, 0 if not. */
int cli_opts_global(Cli *cli, int opt, const char *arg);

/* The global options' getopt_long rows, terminated by a zero row. */
extern const struct option cli_global_longopts[];

/* Called for each of the command's own options; returns CLI_CONTINUE or an
 * exit status (after printing a usage error). */
typedef int (*CliOptFn)(Cli *cli, int opt, const char *arg, void *ctx);

#define CLI_CONTINUE (-1)

/* cli_opts_parse — run getopt_long over argv (argv[0] = command name) with
 * the command's options (shortopts may be "", longopts may be NULL) plus the
 * global ones; -h/--help prints the command's help.
 * Returns CLI_CONTINUE with *out_optind at the first operand, or an exit
 * status to return at once: 0 after --help, CLI_EXIT_USAGE on a bad option. */
int cli_opts_parse(Cli *cli, int argc, char **argv, const char *shortopts,
                   const struct option *longopts, CliOptFn fn, void *ctx,
                   int *out_optind);

/* cli_opts_bad_option — after getopt_long returned '?' or ':', the option
 * as the user typed it ("--bogus", "-x"), for the usage message; buf holds
 * a short option's text. */
const char *cli_opts_bad_option(char **argv, char *buf, size_t len);

/* A growable list of borrowed or owned strings (for repeatable options). */
typedef struct CliList {
	char  **v;
	size_t  n, cap;
	int     owned;    /* free the strings in cli_list_free */
} CliList;

int  cli_list_push(CliList *l, char *s);   /* -ENOMEM */
void cli_list_free(CliList *l);

/* cli_opts_read_lines — append each line of path to l (owned copies):
 * blank lines and lines starting with '#' are skipped, a trailing "\r\n"
 * or "\n" is dropped. Returns 0 or -errno. */
int cli_opts_read_lines(const char *path, CliList *l);

/* cli_parse_size — a whole decimal number, optionally with a binary suffix
 * (K, M, G, T or KiB, MiB, GiB, TiB: powers of 1024). 0 or -EINVAL/-ERANGE. */
int cli_parse_size(const char *s, uint64_t *out);

/* cli_parse_int — a whole decimal number in [min, max]. 0 or -EINVAL/-ERANGE. */
int cli_parse_int(const char *s, long min, long max, long *out);

#endif
