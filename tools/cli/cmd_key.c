/* cmd_key.c — `strata key`: list, add, remove and change passwords. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/repo.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_password.h"
#include "tools/cli/cli_repo.h"

enum { OPT_NEW_PASSWORD_FILE = CLI_OPT_CMD };

static const struct option longopts[] = {
	{ "new-password-file", required_argument, NULL, OPT_NEW_PASSWORD_FILE },
	{ NULL, 0, NULL, 0 }
};

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	if (opt != OPT_NEW_PASSWORD_FILE)
		return cli_usage(cli, "unexpected option");
	*(const char **)ctx = arg;
	return CLI_CONTINUE;
}

static int key_list(const Cli *cli, Repo *repo, StrataErr *err)
{
	RepoKeyInfo *keys = NULL;
	char tm[CLI_FMT_TIME_LEN];
	size_t n = 0, i, bad = 0;
	json_t *arr;
	int rc;

	if ((rc = repo_key_list(repo, &keys, &n, err)))
		return rc;
	if (cli->json) {
		if (!(arr = json_array())) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:s,s:b,s:o,s:o,s:o,s:o}",
				"id", keys[i].id,
				"current", keys[i].current,
				"user", cli_json_str(keys[i].user),
				"host", cli_json_str(keys[i].host),
				"created", cli_json_time(keys[i].created_s * 1000000000LL),
				"problem", cli_json_str(keys[i].problem[0] ? keys[i].problem : NULL)));
		if (json_array_size(arr) != n) {
			json_decref(arr);
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		if (cli_json_print(arr, 0) < 0)
			rc = strata_err_set(err, -EIO, "cannot write to stdout");
		goto out;
	}
	printf("  %-8s  %-19s  %s\n", "ID", "Created", "User@Host");
	for (i = 0; i < n; i++) {
		/* A file that does not decode has no creation time to show. */
		printf("%c %.8s  %-19s  ", keys[i].current ? '*' : keys[i].problem[0] ? '!' : ' ', keys[i].id,
		       keys[i].problem[0] && !keys[i].created_s ? "-" :
		       cli_fmt_time_local(keys[i].created_s * 1000000000LL, tm));
		if (keys[i].problem[0]) {
			printf("(%s)\n", keys[i].problem);
			bad++;
			continue;
		}
		cli_fmt_name(stdout, keys[i].user);
		putchar('@');
		cli_fmt_name(stdout, keys[i].host);
		putchar('\n');
	}
	printf("%zu key%s (* = the one this password opened%s)\n", n, n == 1 ? "" : "s",
	       bad ? "; ! = not a sound key file of this repository: remove it with `strata key remove ID` unless you know it" : "");
out:
	free(keys);
	return rc;
}

/* key add / key passwd: both take a new password and make a key file. */
static int key_new(const Cli *cli, Repo *repo, const char *pw_file, int replace, StrataErr *err)
{
	CliPassword pw = { .len = 0 };
	char id[STRATA_ID_HEX_LEN + 1];
	int rc;

	if ((rc = cli_password_get_new(pw_file, &pw, err)))
		goto out;
	rc = replace ? repo_key_passwd(repo, pw.buf, pw.len, id, err)
	             : repo_key_add(repo, pw.buf, pw.len, id, err);
	cli_password_wipe(&pw);
	if (rc)
		goto out;
	if (cli->json) {
		if (cli_json_print(json_pack("{s:s}", "id", id), 0) < 0)
			rc = strata_err_set(err, -EIO, "cannot write to stdout");
	} else if (!cli->quiet) {
		printf(replace ? "password changed: key %.8s replaces the old key\n"
		               : "added key %.8s\n", id);
	}
out:
	cli_password_wipe(&pw);
	return rc;
}

/* key uncache: the entry goes whether or not this run took the key from it. */
static int key_uncache(const Cli *cli, Repo *repo, StrataErr *err)
{
	int rc = repo_key_cache_drop(repo);

	if (rc && rc != -ENOKEY)
		return strata_err_set(err, rc, "cannot remove the key cache entry of %s from the kernel keyring: %s",
		                      repo_location(repo), strerror(-rc));
	if (cli->json)
		return cli_json_print(json_pack("{s:b}", "removed", rc == 0), 0) < 0
		       ? strata_err_set(err, -EIO, "cannot write to stdout") : 0;
	if (!cli->quiet)
		printf(rc == 0 ? "removed the key cache entry of %s\n" : "no key cache entry for %s\n",
		       repo_location(repo));
	return 0;
}

static int run(Cli *cli, int argc, char **argv)
{
	StrataErr err = { 0, "" };
	Repo *repo = NULL;
	const char *new_pw_file = NULL, *sub;
	int rc, first, nargs;

	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &new_pw_file, &first)) != CLI_CONTINUE)
		return rc;
	if (first >= argc)
		return cli_usage(cli, "wants list, add, remove ID, passwd or uncache");
	sub = argv[first];
	nargs = argc - first - 1;
	if (!strcmp(sub, "remove")) {
		if (nargs != 1)
			return cli_usage(cli, "key remove wants one key ID");
	} else if (!strcmp(sub, "list") || !strcmp(sub, "add") || !strcmp(sub, "passwd") || !strcmp(sub, "uncache")) {
		if (nargs != 0)
			return cli_usage(cli, "key %s takes no argument", sub);
	} else {
		return cli_usage(cli, "unknown key command '%s': list, add, remove, passwd or uncache", sub);
	}
	if (new_pw_file && strcmp(sub, "add") && strcmp(sub, "passwd"))
		return cli_usage(cli, "--new-password-file is for key add and key passwd");
	if ((rc = cli_repo_open(cli, &repo, &err)))
		goto out;
	if (!strcmp(sub, "list")) {
		rc = key_list(cli, repo, &err);
	} else if (!strcmp(sub, "add")) {
		rc = key_new(cli, repo, new_pw_file, 0, &err);
	} else if (!strcmp(sub, "passwd")) {
		rc = key_new(cli, repo, new_pw_file, 1, &err);
	} else if (!strcmp(sub, "uncache")) {
		rc = key_uncache(cli, repo, &err);
	} else {
		rc = repo_key_remove(repo, argv[first + 1], &err);
		if (rc == 0 && cli->json)
			rc = cli_json_print(json_pack("{s:s}", "removed", argv[first + 1]), 0);
		else if (rc == 0 && !cli->quiet)
			printf("removed key %s\n", argv[first + 1]);
	}
out:
	repo_close(repo);
	return rc ? cli_fail(cli, rc, &err) : CLI_EXIT_OK;
}

const CliCommand cmd_key = {
	.name = "key",
	.summary = "Manage the passwords (key files) that open the repository.",
	.usage = "strata key list\n"
	         "       strata key add [--new-password-file FILE]\n"
	         "       strata key remove ID\n"
	         "       strata key passwd [--new-password-file FILE]\n"
	         "       strata key uncache",
	.help =
		"Each key file wraps the same master key with a different password, so\n"
		"several people or machines can hold their own password.\n"
		"  list     every key file; * marks the one your password opened, !\n"
		"           one that opening skips (misnamed, Argon2id settings out of\n"
		"           bounds, malformed) or that was not written with this\n"
		"           repository's key\n"
		"  add      add a key file for a new password\n"
		"  remove   delete the key file whose ID starts with ID; the last key\n"
		"           and the one in use are refused\n"
		"  passwd   replace the key in use by one for a new password\n"
		"  uncache  remove this repository's entry from the key cache (see\n"
		"           --key-cache below); it also ends at its time limit, and\n"
		"           stops opening once its key file is changed or removed\n"
		"\n"
		"The current password comes as for every command; the new one from\n"
		"--new-password-file FILE, else $STRATA_NEW_PASSWORD_FILE, else a\n"
		"prompt on the terminal (asked twice).\n"
		"\n"
		"Examples:\n"
		"  strata key list\n"
		"  strata key add --new-password-file /etc/strata/pw-ops\n"
		"  strata key remove 5be1a2c3\n"
		"  strata key passwd\n"
		"  strata key uncache\n",
	.run = run,
};
