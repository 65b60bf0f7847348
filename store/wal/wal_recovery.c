/* wal_recovery.c — a restored data directory set up to recover from the
 * archive and never archive into it; see wal_recovery.h. */
#include "store/wal/wal_recovery.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/sys/outfile.h"
#include "store/wal/wal_timeline.h"

#define AUTO_CONF "postgresql.auto.conf"
#define AUTO_CONF_MAX (16u << 20)   /* far above any real one: a sanity bound on what is read */

static const char *const kind_names[] = { "end", "immediate", "time", "xid", "name", "lsn" };

const char *wal_recovery_kind_name(int kind)
{
	return kind >= 0 && kind <= WAL_RECOVERY_LSN ? kind_names[kind] : "?";
}

int wal_recovery_target_parse(const char *spec, WalRecoveryTarget *out, StrataErr *err)
{
	static const char forms[] = "end, immediate, time=TIMESTAMP, xid=N, name=RESTORE_POINT or lsn=X/Y";
	WalRecoveryTarget t;
	const char *eq, *v;
	uint64_t lsn;

	memset(&t, 0, sizeof t);
	if (!spec || !strcmp(spec, "end") || !strcmp(spec, "immediate")) {
		t.kind = spec && !strcmp(spec, "immediate") ? WAL_RECOVERY_IMMEDIATE : WAL_RECOVERY_END;
		*out = t;
		return 0;
	}
	eq = strchr(spec, '=');
	v = eq ? eq + 1 : NULL;
	if (!eq || !*v)
		return strata_err_set(err, STRATA_EUSAGE, "--pg-recovery=%s: the target is one of %s", spec, forms);
	for (int k = WAL_RECOVERY_TIME; k <= WAL_RECOVERY_LSN; k++)
		if ((size_t)(eq - spec) == strlen(kind_names[k]) && !strncmp(spec, kind_names[k], (size_t)(eq - spec)))
			t.kind = k;
	if (t.kind == WAL_RECOVERY_END)
		return strata_err_set(err, STRATA_EUSAGE, "--pg-recovery=%s: the target is one of %s", spec, forms);
	if (strlen(v) >= sizeof t.value)
		return strata_err_set(err, STRATA_EUSAGE, "--pg-recovery=%s: the value is too long", spec);
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return strata_err_set(err, STRATA_EUSAGE, "--pg-recovery: a control character in the value");
	if (t.kind == WAL_RECOVERY_XID && strspn(v, "0123456789") != strlen(v))
		return strata_err_set(err, STRATA_EUSAGE, "--pg-recovery=%s: a transaction ID is a decimal number", spec);
	if (t.kind == WAL_RECOVERY_LSN && wal_lsn_parse(v, &lsn) != 0)
		return strata_err_set(err, STRATA_EUSAGE, "--pg-recovery=%s: an LSN is written X/Y in hex (0/3000060)",
		                      spec);
	snprintf(t.value, sizeof t.value, "%s", v);
	*out = t;
	return 0;
}

void wal_recovery_quote(const char *value, char *out)
{
	char *o = out;

	*o++ = '\'';
	for (const char *p = value; *p; p++) {
		if (*p == '\'')
			*o++ = '\'';
		*o++ = *p;
	}
	*o++ = '\'';
	*o = '\0';
}

/* Append "name = 'value'\n" to buf (room checked by the caller's bound). */
static int add_setting(char **buf, size_t *len, size_t *cap, const char *name, const char *value)
{
	size_t need = strlen(name) + 2 * strlen(value) + 8;
	char *q;

	if (*len + need + 1 > *cap) {
		size_t nc = (*cap + need + 1) * 2;
		char *nb = realloc(*buf, nc);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = nc;
	}
	q = *buf + *len;
	*len += (size_t)sprintf(q, "%s = ", name);
	wal_recovery_quote(value, *buf + *len);
	*len += strlen(*buf + *len);
	(*buf)[(*len)++] = '\n';
	(*buf)[*len] = '\0';
	return 0;
}

/* Read path (a regular file, not a symlink) whole, or *out = NULL when absent. */
static int read_conf(const char *path, char **out, size_t *out_len, struct stat *st, StrataErr *err)
{
	char *buf = NULL;
	size_t done = 0;
	int fd, rc = 0;

	*out = NULL;
	*out_len = 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return strata_err_set(err, errno == ELOOP ? STRATA_EUSAGE : -errno, "cannot open %s: %s", path,
		                      errno == ELOOP ? "it is a symlink" : strerror(errno));
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || (uint64_t)st->st_size > AUTO_CONF_MAX) {
		rc = strata_err_set(err, STRATA_EUSAGE, "%s is not a regular file of a sane size", path);
		goto out;
	}
	if (!(buf = malloc((size_t)st->st_size + 1))) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	while (done < (size_t)st->st_size) {
		ssize_t r = read(fd, buf + done, (size_t)st->st_size - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = strata_err_set(err, r < 0 ? -errno : -EIO, "reading %s: %s", path,
			                    r < 0 ? strerror(errno) : "it shrank");
			goto out;
		}
		done += (size_t)r;
	}
	buf[done] = '\0';
	*out = buf;
	*out_len = done;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Write path whole through outfile with owner uid:gid and mode. */
static int write_owned(const char *path, const char *buf, size_t len, uid_t uid, gid_t gid, unsigned mode,
                       StrataErr *err)
{
	OutFile *f = NULL;
	size_t done = 0;
	int rc;

	rc = outfile_open(path, 0, &f, err);
	if (rc)
		return rc;
	while (rc == 0 && done < len) {
		ssize_t w = write(outfile_fd(f), buf + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = strata_err_set(err, -errno, "writing %s: %s", path, strerror(errno));
		else
			done += (size_t)w;
	}
	if (rc == 0 && (uid != geteuid() || gid != getegid()) && fchown(outfile_fd(f), uid, gid) != 0)
		rc = strata_err_set(err, -errno, "cannot give %s to %u:%u (the data directory's owner): %s", path,
		                    (unsigned)uid, (unsigned)gid, strerror(errno));
	if (rc == 0)
		rc = outfile_commit(f, mode, err);
	outfile_free(f);
	return rc;
}

/* Remove dir/name if it is there (never through a symlink: unlink removes
 * the link itself). *out_removed = 1 when it was. */
static int remove_if_there(const char *dir, const char *name, int *out_removed, StrataErr *err)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	*out_removed = 0;
	if (unlink(path) == 0) {
		*out_removed = 1;
		return 0;
	}
	if (errno == ENOENT)
		return 0;
	return strata_err_set(err, -errno, "cannot remove %s: %s", path, strerror(errno));
}

static int fsync_dir(const char *dir, StrataErr *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return strata_err_set(err, -errno, "cannot open %s: %s", dir, strerror(errno));
	if (fsync(fd) != 0)
		rc = strata_err_set(err, -errno, "cannot fsync %s: %s", dir, strerror(errno));
	close(fd);
	return rc;
}

int wal_recovery_prepare(const char *pgdata, const WalRecoveryOptions *o, WalRecoveryResult *out,
                         StrataErr *err)
{
	static const char *const target_params[] = {
		NULL, "recovery_target", "recovery_target_time", "recovery_target_xid", "recovery_target_name",
		"recovery_target_lsn"
	};
	char path[4096], stamp[64], *conf = NULL, *add = NULL;
	size_t clen = 0, alen = 0, acap = 0;
	struct stat st, dst;
	WalRecoveryResult res = { 0, 0 };
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	if (strcmp(o->action, "promote") && strcmp(o->action, "pause") && strcmp(o->action, "shutdown"))
		return strata_err_set(err, STRATA_EUSAGE, "recovery action %s: give promote, pause or shutdown", o->action);
	snprintf(path, sizeof path, "%s/PG_VERSION", pgdata);
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return strata_err_set(err, STRATA_EUSAGE, "%s has no PG_VERSION: --pg-recovery wants the data directory "
		                      "itself at --target (a pg_basebackup tar stream restores there; for a snapshot "
		                      "of /var/lib/postgresql/15/main use --strip-components 5)", pgdata);
	if (stat(pgdata, &dst) != 0)
		return strata_err_set(err, -errno, "cannot stat %s: %s", pgdata, strerror(errno));
	/* The new files belong to whoever owns the data directory. */
	snprintf(path, sizeof path, "%s/%s", pgdata, AUTO_CONF);
	memset(&st, 0, sizeof st);
	rc = read_conf(path, &conf, &clen, &st, err);
	if (rc)
		return rc;
	if (!conf) {
		st.st_uid = dst.st_uid;
		st.st_gid = dst.st_gid;
		st.st_mode = 0600;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S UTC", &tm);
	acap = 4096;
	if (!(add = malloc(acap))) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	alen = (size_t)snprintf(add, acap,
	                        "%s# Added by strata restore --pg-recovery, %s: this copy recovers from\n"
	                        "# the archive and must never archive into it (or stream from the old primary).\n",
	                        clen && conf[clen - 1] != '\n' ? "\n" : "", stamp);
	rc = add_setting(&add, &alen, &acap, "archive_mode", "off");
	if (rc == 0)
		rc = add_setting(&add, &alen, &acap, "archive_command", "");
	if (rc == 0)
		rc = add_setting(&add, &alen, &acap, "primary_conninfo", "");
	if (rc == 0)
		rc = add_setting(&add, &alen, &acap, "restore_command", o->restore_command);
	/* The other kinds first: PostgreSQL applies settings in file order and
	 * refuses any recovery_target* assignment, even '', once a target of
	 * another kind is set ("multiple recovery targets specified"). */
	for (int k = WAL_RECOVERY_IMMEDIATE; rc == 0 && k <= WAL_RECOVERY_LSN; k++)
		if (k != o->target.kind)
			rc = add_setting(&add, &alen, &acap, target_params[k], "");
	if (rc == 0 && o->target.kind != WAL_RECOVERY_END)
		rc = add_setting(&add, &alen, &acap, target_params[o->target.kind],
		                 o->target.kind == WAL_RECOVERY_IMMEDIATE ? "immediate" : o->target.value);
	if (rc == 0)
		rc = add_setting(&add, &alen, &acap, "recovery_target_action", o->action);
	if (rc) {
		rc = strata_err_set(err, rc, "out of memory");
		goto out;
	}
	{
		char *all = realloc(conf, clen + alen + 1);
		if (!all) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		conf = all;
		memcpy(conf + clen, add, alen + 1);
		clen += alen;
	}
	rc = write_owned(path, conf, clen, st.st_uid, st.st_gid, (unsigned)st.st_mode & 07777, err);
	if (rc)
		goto out;
	snprintf(path, sizeof path, "%s/recovery.signal", pgdata);
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		rc = strata_err_set(err, STRATA_EUSAGE, "%s exists and is not a regular file", path);
		goto out;
	}
	rc = write_owned(path, "", 0, dst.st_uid, dst.st_gid, 0600, err);
	if (rc == 0)
		rc = remove_if_there(pgdata, "postmaster.pid", &res.removed_pid, err);
	if (rc == 0)
		rc = remove_if_there(pgdata, "standby.signal", &res.removed_standby, err);
	if (rc == 0 && (res.removed_pid || res.removed_standby))
		rc = fsync_dir(pgdata, err);
	if (rc == 0 && out)
		*out = res;
out:
	free(conf);
	free(add);
	return rc;
}
