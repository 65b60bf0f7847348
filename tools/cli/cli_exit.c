/* cli_exit.c — see cli_exit.h. */
#include "tools/cli/cli_exit.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

const char cli_exit_table[] =
	"  0   success\n"
	"  1   damage found: repository data fails authentication or its hash;\n"
	"      verify-restore: the snapshot did not pass its restore test\n"
	"  2   usage error: bad option or argument\n"
	"  3   partial: the snapshot was saved, but marked partial (some source\n"
	"      files vanished, could not be read or changed while being read);\n"
	"      latest, --at, --label and the next backup's parent skip it\n"
	"  4   runtime failure: I/O, network, disk full, a --stdin-from-command\n"
	"      producer that failed (no snapshot), any other error\n"
	"  10  repository does not exist\n"
	"  11  repository is locked by another process\n"
	"  12  wrong password, or no key\n"
	"  13  repository format version newer than this strata\n"
	"  14  not found: snapshot, path or key (or an ambiguous ID prefix)\n";

int cli_exit_code(int code)
{
	switch (code) {
	case 0:                 return CLI_EXIT_OK;
	case STRATA_EDAMAGED:
	case STRATA_EAUTH:
	case STRATA_EFORMAT:    return CLI_EXIT_DAMAGED;
	case STRATA_EUSAGE:     return CLI_EXIT_USAGE;
	case STRATA_EPARTIAL:   return CLI_EXIT_PARTIAL;
	case STRATA_ENOREPO:    return CLI_EXIT_NOREPO;
	case STRATA_ELOCKED:    return CLI_EXIT_LOCKED;
	case STRATA_EPASSWORD:  return CLI_EXIT_PASSWORD;
	case STRATA_EVERSION:   return CLI_EXIT_VERSION;
	case STRATA_ENOTFOUND:
	case STRATA_EAMBIGUOUS: return CLI_EXIT_NOTFOUND;
	default:                return CLI_EXIT_FAILURE;
	}
}

const char *cli_exit_name(int code)
{
	switch (code) {
	case 0:                 return "ok";
	case STRATA_EAUTH:      return "auth_failed";
	case STRATA_EFORMAT:    return "bad_format";
	case STRATA_EVERSION:   return "unsupported_version";
	case STRATA_ENOTFOUND:  return "not_found";
	case STRATA_ELOCKED:    return "locked";
	case STRATA_EPASSWORD:  return "wrong_password";
	case STRATA_ENOREPO:    return "no_repository";
	case STRATA_EDAMAGED:   return "damaged";
	case STRATA_EUSAGE:     return "usage";
	case STRATA_EPARTIAL:   return "partial";
	case STRATA_EEXIST:     return "exists";
	case STRATA_EAMBIGUOUS: return "ambiguous";
	case STRATA_EREFUSED:   return "refused";
	case STRATA_EPRODUCER:  return "producer_failed";
	default:                return "os_error";
	}
}

/* Print one error in the format cli_exit.h describes. */
static void print_error(const Cli *cli, int code, const char *msg)
{
	if (cli && cli->json) {
		json_t *o = json_pack("{s:{s:s,s:i,s:s}}", "error",
		                      "code", cli_exit_name(code),
		                      "exit", cli_exit_code(code),
		                      "message", msg);
		/* json_pack fails only on invalid UTF-8 in msg (a path with odd
		 * bytes); fall back to a message that is always valid. */
		if (!o)
			o = json_pack("{s:{s:s,s:i,s:s}}", "error",
			              "code", cli_exit_name(code),
			              "exit", cli_exit_code(code),
			              "message", strata_strerror(code));
		if (o) {
			json_dumpf(o, stdout, cli->json_lines ? JSON_COMPACT : JSON_INDENT(2));
			fputc('\n', stdout);
			fflush(stdout);
			json_decref(o);
			return;
		}
	}
	fprintf(stderr, "strata: %s\n", msg);
}

int cli_fail(const Cli *cli, int code, const StrataErr *err)
{
	const char *msg = err && err->msg[0] ? err->msg : strata_strerror(code);
	print_error(cli, code, msg);
	return cli_exit_code(code);
}

int cli_failf(const Cli *cli, int code, const char *fmt, ...)
{
	char msg[STRATA_ERRMSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	print_error(cli, code, msg);
	return cli_exit_code(code);
}

int cli_usage(const Cli *cli, const char *fmt, ...)
{
	char msg[STRATA_ERRMSG_LEN], full[STRATA_ERRMSG_LEN + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (cli && cli->cmd)
		snprintf(full, sizeof full, "%s: %s (see 'strata help %s')",
		         cli->cmd->name, msg, cli->cmd->name);
	else
		snprintf(full, sizeof full, "%s (see 'strata --help')", msg);
	print_error(cli, STRATA_EUSAGE, full);
	return CLI_EXIT_USAGE;
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("strata: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
