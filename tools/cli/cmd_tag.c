/* cmd_tag.c — `strata tag`: change a snapshot's tags and labels. */
#include <errno.h>
#include <string.h>

#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_select.h"
#include "tools/cli/cli_snapedit.h"

enum {
	OPT_ADD = CLI_OPT_CMD,
	OPT_REMOVE,
	OPT_SET,
	OPT_ADD_LABEL,
	OPT_REMOVE_LABEL
};

static const struct option longopts[] = {
	{ "add",          required_argument, NULL, OPT_ADD },
	{ "remove",       required_argument, NULL, OPT_REMOVE },
	{ "set",          required_argument, NULL, OPT_SET },
	{ "add-label",    required_argument, NULL, OPT_ADD_LABEL },
	{ "remove-label", required_argument, NULL, OPT_REMOVE_LABEL },
	CLI_SELECT_LONGOPTS,
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	CliList add, remove, set, add_labels, remove_labels;
	CliSelect sel;
} Args;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;
	CliList *l = opt == OPT_ADD ? &a->add : opt == OPT_REMOVE ? &a->remove : opt == OPT_SET ? &a->set :
	             opt == OPT_ADD_LABEL ? &a->add_labels : opt == OPT_REMOVE_LABEL ? &a->remove_labels : NULL;
	int rc;

	if (!l) {
		rc = cli_select_opt(cli, opt, arg, &a->sel);
		return rc == CLI_SELECT_NOT_MINE ? cli_usage(cli, "unexpected option") : rc;
	}
	if (opt == OPT_ADD_LABEL && (!strchr(arg, '=') || *arg == '='))
		return cli_usage(cli, "--add-label wants KEY=VALUE: '%s'", arg);
	if (opt == OPT_REMOVE_LABEL && (!*arg || strchr(arg, '=')))
		return cli_usage(cli, "--remove-label wants the label's KEY: '%s'", arg);
	if ((opt == OPT_ADD || opt == OPT_SET || opt == OPT_REMOVE) && !*arg)
		return cli_usage(cli, "a tag cannot be empty");
	if (cli_list_push(l, (char *)(uintptr_t)arg) < 0)
		return cli_failf(cli, -ENOMEM, "out of memory");
	return CLI_CONTINUE;
}

static int run(Cli *cli, int argc, char **argv)
{
	Args a;
	SnapEdit e;
	int rc, first;

	memset(&a, 0, sizeof a);
	memset(&e, 0, sizeof e);
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE)
		goto out;
	if (!a.add.n && !a.remove.n && !a.set.n && !a.add_labels.n && !a.remove_labels.n) {
		rc = cli_usage(cli, "nothing to change: give --add, --remove, --set, --add-label or --remove-label");
		goto out;
	}
	e.set_tags = a.set.n > 0;
	e.tags = (const char *const *)a.set.v;
	e.ntags = a.set.n;
	e.add_tags = (const char *const *)a.add.v;
	e.nadd_tags = a.add.n;
	e.remove_tags = (const char *const *)a.remove.v;
	e.nremove_tags = a.remove.n;
	e.set_labels = (const char *const *)a.add_labels.v;
	e.nset_labels = a.add_labels.n;
	e.remove_labels = (const char *const *)a.remove_labels.v;
	e.nremove_labels = a.remove_labels.n;
	rc = cli_snapedit_run(cli, &a.sel, argc, argv, first, &e);
out:
	cli_list_free(&a.add);
	cli_list_free(&a.remove);
	cli_list_free(&a.set);
	cli_list_free(&a.add_labels);
	cli_list_free(&a.remove_labels);
	cli_select_free(&a.sel);
	return rc;
}

const CliCommand cmd_tag = {
	.name = "tag",
	.summary = "Add or remove a snapshot's tags and labels afterwards.",
	.usage = "strata tag SNAPSHOT... [--add T]... [--remove T]... [--set T]...\n"
	         "                  [--add-label KEY=VALUE]... [--remove-label KEY]...",
	.help =
		"Changes the tags and labels of snapshots already taken, for example to\n"
		"mark the last good state after an incident. A snapshot file is named by\n"
		"the hash of its bytes, so the change writes a new snapshot file with the\n"
		"same time, tree and everything else, copies its restore-test records,\n"
		"and removes the old file: the snapshot gets a new ID (printed), its\n"
		"\"original\" field names the first one (FORMAT.md §12).\n"
		"SNAPSHOT is \"latest\" or an ID prefix of at least 4 hex digits.\n"
		"\n"
		"Options:\n"
		"      --add TAG             add TAG (repeatable)\n"
		"      --remove TAG          remove TAG (repeatable)\n"
		"      --set TAG             replace all tags by the --set ones (repeatable)\n"
		"      --add-label KEY=VALUE set label KEY (replacing its value)\n"
		"      --remove-label KEY    remove label KEY\n"
		"\n"
		CLI_SELECT_HELP
		"\n"
		"Examples:\n"
		"  strata tag 3fa1c2d4 --add last-good\n"
		"  strata tag --at-height 812345 --host node1 --add-label incident=2024-05-01\n"
		"  strata tag latest --tag db --remove hourly --add keep\n",
	.run = run,
};
