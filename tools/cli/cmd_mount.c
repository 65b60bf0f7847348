/* cmd_mount.c — `strata mount`: browse every snapshot as a read-only file
 * system (FUSE, through tools/cli/mount_fuse.h).
 *
 * This file parses the options, opens and locks the repository and runs
 * the mount; the layout of the mount (by-id/, by-time/, by-label/, latest)
 * is tools/cli/mount_layout.c, the file system callbacks tools/cli/mount_fs.c, and
 * their tree and chunk caches tools/cli/mount_cache.c.
 *
 * Holds a shared repository lock while mounted, so prune deletes nothing
 * a reader might still need.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/codec.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_lock.h"
#include "tools/cli/cli_opts.h"
#include "tools/cli/cli_repo.h"
#include "tools/cli/cli_select.h"
#include "tools/cli/mount_fs.h"
#include "tools/cli/mount_fuse.h"

enum {
	OPT_ALLOW_OTHER = CLI_OPT_CMD,
	OPT_REFRESH,
	OPT_DEBUG
};

static const struct option longopts[] = {
	{ "allow-other", no_argument,       NULL, OPT_ALLOW_OTHER },
	{ "refresh",     required_argument, NULL, OPT_REFRESH },
	/* Hidden: libfuse's request trace on stderr. */
	{ "fuse-debug",  no_argument,       NULL, OPT_DEBUG },
	CLI_SELECT_LONGOPTS,
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	MountFuseOptions fuse;
	long refresh_s;
	CliSelect sel;             /* --host, --tag, --path, --label, --verified: the group served */
} Args;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;

	switch (opt) {
	case OPT_ALLOW_OTHER:
		a->fuse.allow_other = 1;
		return CLI_CONTINUE;
	case OPT_REFRESH:
		if (cli_parse_int(arg, 0, 86400, &a->refresh_s) < 0)
			return cli_usage(cli, "--refresh wants a number of seconds from 0 to 86400: %s", arg);
		return CLI_CONTINUE;
	case OPT_DEBUG:
		a->fuse.debug = 1;
		return CLI_CONTINUE;
	default: {
		int rc = cli_select_opt(cli, opt, arg, &a->sel);
		return rc == CLI_SELECT_NOT_MINE ? cli_usage(cli, "unexpected option") : rc;
	}
	}
}

/* ---- the command ---- */

static int run(Cli *cli, int argc, char **argv)
{
	Args a;
	MountFs m;
	StrataErr err = { 0, "" };
	struct stat st;
	const char *mp;
	int rc, first, exit_code = CLI_EXIT_OK;

	memset(&a, 0, sizeof a);
	memset(&m, 0, sizeof m);
	a.refresh_s = 30;
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE) {
		cli_select_free(&a.sel);
		return rc;          /* --help (0) or a usage error */
	}
	if (first >= argc)
		exit_code = cli_usage(cli, "missing MOUNTPOINT");
	else if (argc - first > 1)
		exit_code = cli_usage(cli, "unexpected argument %s", argv[first + 1]);
	else if (a.sel.nselectors)
		exit_code = cli_usage(cli, "mount serves a group of snapshots: --host, --tag, --path, --label and "
		                      "--verified choose it; --at and --at-height do not apply");
	if (exit_code != CLI_EXIT_OK) {
		cli_select_free(&a.sel);
		return exit_code;
	}
	mp = argv[first];
	if (!mount_fuse_available()) {
		rc = mount_fuse_run(mp, &a.fuse, &mount_fs_ops, &m, &err);
		cli_select_free(&a.sel);
		return cli_fail(cli, rc, &err);
	}
	if (stat(mp, &st) != 0 || !S_ISDIR(st.st_mode)) {
		exit_code = stat(mp, &st) != 0 ? cli_failf(cli, -errno, "mountpoint %s: %s", mp, strerror(errno))
		                               : cli_failf(cli, -ENOTDIR, "mountpoint %s: not a directory", mp);
		cli_select_free(&a.sel);
		return exit_code;
	}

	m.uid = getuid();
	m.gid = getgid();
	m.layout.refresh_ns = (int64_t)a.refresh_s * 1000000000;
	m.layout.include_partial = cli->include_partial;
	m.layout.cache = &m.cache;
	if ((rc = cli_repo_open(cli, &m.cache.repo, &err)) || (rc = cli_lock(cli, m.cache.repo, LOCK_SHARED, &err)))
		goto fail;
	m.layout.repo = m.cache.repo;
	if (cli_select_is_grouped(&a.sel)) {
		cli_select_group(cli, &a.sel);
		/* Every --label narrows here (none picks a snapshot alone). */
		a.sel.sel.filter.labels = (const char *const *)a.sel.labels.v;
		a.sel.sel.filter.nlabels = a.sel.labels.n;
		if (a.sel.verified) {
			if ((rc = cli_select_load_verified(m.cache.repo, &a.sel.vset, &err)) != 0)
				goto fail;
			a.sel.sel.filter.verified = a.sel.vset;
		}
		m.layout.filter = &a.sel.sel.filter;
	}
	if (!(m.cache.codec = codec_ctx_new())) {
		exit_code = cli_failf(cli, -ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = mount_layout_load(&m.layout, &err)) != 0)
		goto fail;
	if (!cli->quiet && !cli->json) {
		printf("serving %zu snapshots at %s (read-only); unmount with `fusermount3 -u %s` or Ctrl-C\n",
		       m.layout.nsnaps, mp, mp);
		fflush(stdout);
	}
	if ((rc = mount_fuse_run(mp, &a.fuse, &mount_fs_ops, &m, &err)) != 0)
		goto fail;
	if (cli->json && cli_json_print(json_pack("{s:s,s:I}", "mountpoint", mp,
	                                          "snapshots", (json_int_t)m.layout.nsnaps), 0) < 0)
		exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
	goto out;
fail:
	exit_code = cli_fail(cli, rc, &err);
out:
	mount_cache_free(&m.cache);
	mount_layout_free(&m.layout);
	codec_ctx_free(m.cache.codec);
	repo_close(m.cache.repo);
	cli_select_free(&a.sel);
	return exit_code;
}

const CliCommand cmd_mount = {
	.name = "mount",
	.summary = "Browse every snapshot as a read-only file system (FUSE).",
	.usage = "strata mount [--allow-other] [--refresh SECONDS] [--host H] [--tag T]... [--path P]...\n"
	         "                    [--label K=V]... [--verified] MOUNTPOINT",
	.help =
		"Mounts the repository at MOUNTPOINT (an existing directory) and serves it\n"
		"until unmounted (`fusermount3 -u MOUNTPOINT`) or interrupted (Ctrl-C,\n"
		"SIGTERM). Runs in the foreground; start it with & or from a service.\n"
		"\n"
		"  by-id/<short id>/                  each snapshot's files\n"
		"  by-time/<YYYY-MM-DDTHH:MM:SS>/     the same by local time (a second\n"
		"                                     snapshot in one second: _<short id>)\n"
		"  by-label/<key>=<value>/<time>/     snapshots with that label, e.g.\n"
		"                                     by-label/height=812345/\n"
		"  by-label/<key>=<value>/latest      -> the newest of them\n"
		"  latest                             -> by-id/<newest snapshot>\n"
		"\n"
		"Files keep their modes, owners and times, and read at any offset: only\n"
		"the chunks covering the bytes asked for are fetched and decrypted, so\n"
		"copying one file out (cp, dd skip=, rsync) needs no full restore.\n"
		"New snapshots appear when a top-level directory is looked at again.\n"
		"Holds a shared lock while mounted: prune waits until unmount.\n"
		"\n"
		"Options:\n"
		"      --allow-other       let other users in (modes and owners are then\n"
		"                          enforced; non-root users need user_allow_other\n"
		"                          in /etc/fuse.conf)\n"
		"      --refresh SECONDS   re-read the snapshot list at most this often\n"
		"                          (default 30; 0: on every look)\n"
		"      --host HOST, --tag TAG, --path PATH, --label KEY=VALUE, --verified\n"
		"                          serve only the snapshots of HOST, carrying TAG\n"
		"                          and KEY=VALUE, holding PATH, whose newest\n"
		"                          restore test passed (each repeatable but --host)\n"
		"\n"
		"Needs /dev/fuse and fusermount3 (Debian: fuse3). A strata built without\n"
		"libfuse3 says so and exits 4.\n"
		"\n"
		"Examples:\n"
		"  mkdir -p /mnt/strata && strata mount /mnt/strata &\n"
		"  ls /mnt/strata/by-label/height=812345/\n"
		"  cp /mnt/strata/latest/var/lib/node/config.toml /tmp/\n"
		"  dd if=/mnt/strata/by-id/3fa1c2d4/data/chain.db bs=4096 skip=1000 count=1\n"
		"  fusermount3 -u /mnt/strata\n",
	.run = run,
};
