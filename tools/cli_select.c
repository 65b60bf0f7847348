/* cli_select.c — see cli_select.h. */
#include "tools/cli_select.h"

#include <errno.h>
#include <string.h>

#include "tools/cli_exit.h"
#include "tools/cli_opts.h"
#include "tools/cli_time.h"

int cli_select_at(const Cli *cli, const char *arg, SnapSelect *sel, int *nselectors)
{
	int rc = cli_time_parse(arg, &sel->time_ns);

	if (rc)
		return cli_usage(cli, "--at '%s': %s; expected %s", arg,
		                 rc == -ERANGE ? "no such time here (a local time skipped by a DST change, or outside 1678-2261)" : "not a time", CLI_TIME_FORMS);
	sel->by = SNAPSELECT_AT_TIME;
	(*nselectors)++;
	return CLI_CONTINUE;
}

int cli_select_at_height(const Cli *cli, const char *arg, SnapSelect *sel, int *nselectors)
{
	uint64_t h;

	if (!*arg || strspn(arg, "0123456789") != strlen(arg) || cli_parse_size(arg, &h) < 0)
		return cli_usage(cli, "--at-height wants a whole number: %s", arg);
	sel->by = SNAPSELECT_AT_HEIGHT;
	sel->height = h;
	(*nselectors)++;
	return CLI_CONTINUE;
}
