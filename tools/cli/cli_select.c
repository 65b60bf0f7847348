/* cli_select.c — see cli_select.h. */
#include "tools/cli/cli_select.h"

#include <errno.h>
#include <string.h>

#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_time.h"

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

int cli_select_load_verified(Repo *repo, VerifiedSet **out, StrataErr *err)
{
	int rc = verified_load(repo, out, err);

	for (size_t i = 0; rc == 0 && i < verified_set_nbad(*out); i++)
		cli_warn("%s; ignored, as if it were not there", verified_set_bad(*out, i)->message);
	return rc;
}

int cli_select_opt(const Cli *cli, int opt, const char *arg, CliSelect *cs)
{
	switch (opt) {
	case CLI_OPT_SEL_AT:
		return cli_select_at(cli, arg, &cs->sel, &cs->nselectors);
	case CLI_OPT_SEL_AT_HEIGHT:
		return cli_select_at_height(cli, arg, &cs->sel, &cs->nselectors);
	case CLI_OPT_SEL_LABEL: {
		const char *eq = strchr(arg, '=');
		if (!eq || eq == arg)
			return cli_usage(cli, "--label wants KEY=VALUE: '%s'", arg);
		if (cli_list_push(&cs->labels, (char *)(uintptr_t)arg) < 0)
			return cli_failf(cli, -ENOMEM, "out of memory");
		return CLI_CONTINUE;
	}
	case CLI_OPT_SEL_HOST:
		cs->sel.filter.host = arg;
		return CLI_CONTINUE;
	case CLI_OPT_SEL_TAG:
	case CLI_OPT_SEL_PATH:
		if (cli_list_push(opt == CLI_OPT_SEL_TAG ? &cs->tags : &cs->paths, (char *)(uintptr_t)arg) < 0)
			return cli_failf(cli, -ENOMEM, "out of memory");
		return CLI_CONTINUE;
	case CLI_OPT_SEL_VERIFIED:
		cs->verified = 1;
		return CLI_CONTINUE;
	default:
		return CLI_SELECT_NOT_MINE;
	}
}

int cli_select_operands(const Cli *cli, CliSelect *cs, int argc, char **argv, int *first, int rest_max,
                        const char *default_ref)
{
	int nops = argc - *first, selector = cli_select_is_selector(cs);
	int grouped = cli_select_is_grouped(cs);
	const char *op = nops > 0 ? argv[*first] : NULL;

	if (cs->nselectors > 1)
		return cli_usage(cli, "give one of --at and --at-height");
	cs->sel.include_partial = cli->include_partial;
	cs->ref = NULL;
	if (!selector && !op && default_ref) {
		cs->ref = default_ref;
	} else if (!selector) {
		if (!op)
			return cli_usage(cli, "missing SNAPSHOT (or --at TIME, --at-height N, --label KEY=VALUE, --verified)");
		cs->ref = op;
		(*first)++;
	} else if (op && strcmp(op, "latest") == 0) {
		cs->ref = op;
		(*first)++;
	} else if (op && nops > rest_max) {
		/* An ID where a selector already picks: which one was meant? */
		return cli_usage(cli, "give SNAPSHOT or --at/--at-height/--label/--verified, not both");
	}
	if (cs->nselectors && cs->ref)
		return cli_usage(cli, "give latest or --at/--at-height, not both");
	if (grouped && cs->ref && strcmp(cs->ref, "latest") != 0)
		return cli_usage(cli, "--host, --tag, --path and --label choose among snapshots for latest, --at "
		                 "or --at-height; %s already names one", cs->ref);
	cli_select_group(cli, cs);
	return CLI_CONTINUE;
}

int cli_select_is_selector(const CliSelect *cs)
{
	return cs->nselectors || cs->labels.n || cs->verified;
}

int cli_select_is_grouped(const CliSelect *cs)
{
	return cs->sel.filter.host || cs->tags.n || cs->paths.n || cs->labels.n || cs->verified;
}

void cli_select_group(const Cli *cli, CliSelect *cs)
{
	size_t skip = 0;

	cs->sel.include_partial = cli->include_partial;
	cs->sel.by = cs->nselectors ? cs->sel.by : SNAPSELECT_LATEST;
	if (!cs->nselectors && cs->labels.n && !cs->ref && !cs->verified) {
		/* --label alone: an exact pick whose miss names the nearest values. */
		cs->sel.by = SNAPSELECT_LABEL;
		cs->sel.label = cs->labels.v[0];
		skip = 1;
	}
	cs->sel.filter.tags = (const char *const *)cs->tags.v;
	cs->sel.filter.ntags = cs->tags.n;
	cs->sel.filter.paths = (const char *const *)cs->paths.v;
	cs->sel.filter.npaths = cs->paths.n;
	cs->sel.filter.labels = (const char *const *)cs->labels.v + skip;
	cs->sel.filter.nlabels = cs->labels.n - skip;
}

int cli_select_find_ref(CliSelect *cs, Repo *repo, const char *ref, Snapshot *out, StrataErr *err)
{
	const char *saved = cs->ref;
	int rc, by;

	if (cli_select_is_grouped(cs) && strcmp(ref, "latest") != 0)
		return strata_err_set(err, STRATA_EUSAGE, "--host, --tag, --path, --label and --verified choose "
		                      "among snapshots for latest; %s already names one", ref);
	/* "latest" of the group, whatever --at/--at-height chose elsewhere. */
	by = cs->sel.by;
	if (by != SNAPSELECT_LABEL)
		cs->sel.by = SNAPSELECT_LATEST;
	cs->ref = ref;
	rc = cli_select_find(cs, repo, out, err);
	cs->ref = saved;
	cs->sel.by = by;
	return rc;
}

int cli_select_find(CliSelect *cs, Repo *repo, Snapshot *out, StrataErr *err)
{
	const SnapFilter *f = &cs->sel.filter;
	int rc;

	if (cs->verified && !cs->vset) {
		if ((rc = cli_select_load_verified(repo, &cs->vset, err)))
			return rc;
		cs->sel.filter.verified = cs->vset;
	}
	/* A selector, or "latest" narrowed to a group: the selection rules;
	 * SNAPSHOT alone (an ID prefix, or latest of all): the plain lookup. */
	if (!cs->ref || (strcmp(cs->ref, "latest") == 0 &&
	                 (f->host || f->ntags || f->npaths || f->nlabels || f->verified)))
		return snapselect_find(repo, &cs->sel, out, err);
	return snapshot_resolve(repo, cs->ref, cs->sel.include_partial, out, err);
}

void cli_select_free(CliSelect *cs)
{
	cli_list_free(&cs->tags);
	cli_list_free(&cs->paths);
	cli_list_free(&cs->labels);
	verified_set_free(cs->vset);
	cs->vset = NULL;
}

const struct option cli_select_options[] = {
	CLI_SELECT_LONGOPTS,
	{ NULL, 0, NULL, 0 }
};

int cli_select_on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	int rc = cli_select_opt(cli, opt, arg, ctx);

	return rc == CLI_SELECT_NOT_MINE ? cli_usage(cli, "unexpected option") : rc;
}
