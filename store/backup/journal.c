/* journal.c — see journal.h. */
#include "store/backup/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/repo_internal.h"
#include "store/sys/outfile.h"

#define RUN_MAGIC "strata-journal 1"

void journal_dir_for(const char *cache_root, const char *const *roots, size_t nroots, char *out)
{
	uint64_t h = 1469598103934665603ULL;     /* FNV-1a 64 */

	for (size_t i = 0; i < nroots; i++)
		for (size_t j = 0;; j++) {
			h ^= (unsigned char)roots[i][j];
			h *= 1099511628211ULL;
			if (!roots[i][j])
				break;
		}
	snprintf(out, PATH_MAX, "%s/journal/%016" PRIx64, cache_root, h);
}

/* Field 22 of /proc/PID/stat: the start time in clock ticks since boot,
 * which tells a recycled PID apart. 0 when unknown. */
static unsigned long long proc_start(long pid)
{
	char path[64], buf[1024];
	unsigned long long start = 0;
	FILE *f;
	char *p;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "re")))
		return 0;
	if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')) != NULL) {
		/* After "pid (comm)": state is field 3, start time field 22. */
		if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		           &start) != 1)
			start = 0;
	}
	fclose(f);
	return start;
}

int journal_run_write(const char *dir, const char *const *roots, size_t nroots, char run[17], int *out_log_fd,
                      StrataErr *err)
{
	char path[PATH_MAX + 16];
	uint8_t rnd[8];
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int fd, rc;

	/* dir and its missing parents (the cache, even its parent, may be new). */
	if ((rc = repo_mkdir_p(dir)) != 0)
		return strata_err_set(err, rc, "%s: cannot create the journal's directory: %s", dir, strerror(-rc));
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		return strata_err_set(err, -EIO, "no random bytes for the journal's run ID");
	for (int i = 0; i < 8; i++)
		sprintf(run + 2 * i, "%02x", rnd[i]);
	/* The log first: a backup that finds the new run reads a log of it. */
	snprintf(path, sizeof path, "%s/log", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return strata_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (!(m = open_memstream(&buf, &len))) {
		close(fd);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	fprintf(m, RUN_MAGIC "\nrun %s\npid %ld %llu\n", run, (long)getpid(), proc_start((long)getpid()));
	for (size_t i = 0; i < nroots; i++)
		fprintf(m, "root %s\n", roots[i]);
	fclose(m);
	snprintf(path, sizeof path, "%s/run", dir);
	rc = outfile_write(path, (const uint8_t *)buf, len, 0600, 0, err);
	free(buf);
	if (rc) {
		close(fd);
		return rc;
	}
	*out_log_fd = fd;
	return 0;
}

static int under(const char *path, const char *dir)
{
	size_t len = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return 1;
	return strncmp(path, dir, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

/* The run described by dir/run, when its roots cover paths: run ID,
 * PID and start time. 0, or 1 (no run there, or not covering). */
static int run_read(const char *dir, const char *const *paths, size_t npaths, char run[17], long *pid,
                    unsigned long long *start, char ***out_roots, size_t *out_nroots)
{
	char path[PATH_MAX + 8], line[PATH_MAX + 16];
	char **roots = NULL;
	size_t nroots = 0;
	FILE *f;
	int ok = 0;

	snprintf(path, sizeof path, "%s/run", dir);
	if (!(f = fopen(path, "re")))
		return 1;
	if (!fgets(line, sizeof line, f) || strcmp(line, RUN_MAGIC "\n") != 0 ||
	    !fgets(line, sizeof line, f) || sscanf(line, "run %16s", run) != 1 || strlen(run) != 16 ||
	    !fgets(line, sizeof line, f) || sscanf(line, "pid %ld %llu", pid, start) != 2)
		goto out;
	while (fgets(line, sizeof line, f)) {
		size_t l = strlen(line);
		char **p;
		if (strncmp(line, "root /", 6) != 0 || line[l - 1] != '\n')
			goto out;
		line[l - 1] = '\0';
		if (!(p = realloc(roots, (nroots + 1) * sizeof *p)) || !(p[nroots] = strdup(line + 5))) {
			roots = p ? p : roots;
			goto out;
		}
		roots = p;
		nroots++;
	}
	ok = 1;
	for (size_t i = 0; i < npaths && ok; i++) {
		size_t k = 0;
		while (k < nroots && !under(paths[i], roots[k]))
			k++;
		ok = k < nroots;
	}
out:
	fclose(f);
	if (ok) {
		*out_roots = roots;
		*out_nroots = nroots;
		return 0;
	}
	for (size_t i = 0; i < nroots; i++)
		free(roots[i]);
	free(roots);
	return 1;
}

/* Another filesystem mounted at or below path (not seen by a watcher of
 * path's filesystem)? From /proc/self/mountinfo (field 5: the mount
 * point, octal escapes for space, tab, newline and backslash). */
static int mount_below(const char *path)
{
	char line[8192], mp[PATH_MAX];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int found = 0;

	if (!f)
		return 1;
	while (!found && fgets(line, sizeof line, f)) {
		char raw[PATH_MAX];
		size_t o = 0;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", raw) != 1)
			continue;
		for (const char *s = raw; *s && o + 1 < sizeof mp; s++) {
			if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
				mp[o++] = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
				s += 3;
			} else {
				mp[o++] = *s;
			}
		}
		mp[o] = '\0';
		if (strcmp(mp, path) != 0 && under(mp, path))
			found = 1;
	}
	fclose(f);
	return found;
}

int journal_sync(const char *cache_root, const char *const *paths, size_t npaths, int timeout_ms, JournalPos *out,
                 char *why, size_t why_len, StrataErr *err)
{
	char top[PATH_MAX], dir[PATH_MAX], req[PATH_MAX + 40], ack[PATH_MAX + 40], token[17];
	char **roots = NULL;
	size_t nroots = 0;
	unsigned long long start = 0;
	long pid = 0;
	uint8_t rnd[8];
	DIR *d;
	struct dirent *de;
	int found = 0, rc = 1;

	snprintf(top, sizeof top, "%s/journal", cache_root);
	if (!(d = opendir(top))) {
		snprintf(why, why_len, "no change journal (start `strata watch` on the source paths)");
		return 1;
	}
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof dir, "%s/%s", top, de->d_name);
		found = run_read(dir, paths, npaths, out->run, &pid, &start, &roots, &nroots) == 0;
	}
	closedir(d);
	if (!found) {
		snprintf(why, why_len, "no change journal covers these paths (start `strata watch` on them)");
		return 1;
	}
	if (kill((pid_t)pid, 0) != 0 || proc_start(pid) != start) {
		snprintf(why, why_len, "the change journal's watcher (PID %ld) is not running: changes since it stopped "
		         "are unknown", pid);
		goto out;
	}
	for (size_t i = 0; i < npaths; i++) {
		struct stat ps, rs;
		size_t k = 0;
		while (k < nroots && !under(paths[i], roots[k]))
			k++;
		char real[PATH_MAX];
		if (!realpath(paths[i], real) || strcmp(real, paths[i]) != 0) {
			snprintf(why, why_len, "%s: reached through a symlink (the journal records real paths)", paths[i]);
			goto out;
		}
		if (stat(paths[i], &ps) != 0 || stat(roots[k], &rs) != 0 || ps.st_dev != rs.st_dev || mount_below(paths[i])) {
			snprintf(why, why_len, "%s: another filesystem than the watched one's is at or below it", paths[i]);
			goto out;
		}
	}
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		rc = strata_err_set(err, -EIO, "no random bytes");
		goto out;
	}
	for (int i = 0; i < 8; i++)
		sprintf(token + 2 * i, "%02x", rnd[i]);
	snprintf(req, sizeof req, "%s/req-%s", dir, token);
	snprintf(ack, sizeof ack, "%s/ack-%s", dir, token);
	{
		int fd = open(req, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			snprintf(why, why_len, "cannot ask the change journal's watcher to sync: %s: %s", req, strerror(errno));
			goto out;
		}
		close(fd);
	}
	/* Everything queued for the watcher before this signal is in the log
	 * when it answers (fswatch.h). */
	kill((pid_t)pid, SIGUSR1);
	for (int waited = 0; waited <= timeout_ms; waited += 5) {
		FILE *f = fopen(ack, "re");
		unsigned long long off;
		if (f) {
			int n = fscanf(f, "%llu", &off);
			fclose(f);
			unlink(ack);
			if (n == 1) {
				out->offset = off;
				snprintf(out->dir, sizeof out->dir, "%s", dir);
				rc = 0;
				goto out;
			}
			break;
		}
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
	}
	unlink(req);
	snprintf(why, why_len, "the change journal's watcher (PID %ld) did not answer within %d ms", pid, timeout_ms);
out:
	for (size_t i = 0; i < nroots; i++)
		free(roots[i]);
	free(roots);
	return rc;
}

int journal_read(const JournalPos *from, const JournalPos *to, ChangeSet *cs, char *why, size_t why_len)
{
	char path[PATH_MAX + 8], *line = NULL;
	size_t cap = 0;
	uint64_t at;
	ssize_t n;
	FILE *f;
	int rc = 0;

	if (strcmp(from->run, to->run) != 0 || strcmp(from->dir, to->dir) != 0) {
		snprintf(why, why_len, "the change journal's watcher was restarted since the parent snapshot: changes "
		         "while none ran are unknown");
		return 1;
	}
	if (from->offset > to->offset) {
		snprintf(why, why_len, "the change journal is shorter than recorded");
		return 1;
	}
	snprintf(path, sizeof path, "%s/log", to->dir);
	if (!(f = fopen(path, "re")) || fseeko(f, (off_t)from->offset, SEEK_SET) != 0) {
		snprintf(why, why_len, "cannot read the change journal %s: %s", path, strerror(errno));
		if (f)
			fclose(f);
		return 1;
	}
	for (at = from->offset; at < to->offset; at += (uint64_t)n) {
		n = getline(&line, &cap, f);
		if (n <= 2 || line[n - 1] != '\n' || line[1] != ' ' || at + (uint64_t)n > to->offset) {
			snprintf(why, why_len, "the change journal %s cannot be read as written", path);
			rc = 1;
			break;
		}
		line[n - 1] = '\0';
		if (line[0] == 'O') {
			snprintf(why, why_len, "the change journal may have missed changes: %s", line + 2);
			rc = 1;
			break;
		}
		if ((line[0] != 'R' && line[0] != 'S') || line[2] != '/' ||
		    changeset_add(cs, line + 2, line[0] == 'R' ? CHANGESET_RELIST | CHANGESET_STAT : CHANGESET_STAT) != 0) {
			snprintf(why, why_len, "the change journal %s cannot be read as written", path);
			rc = 1;
			break;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

void journal_answer_syncs(const char *dir, uint64_t offset)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char req[PATH_MAX + 300], ack[PATH_MAX + 300], body[32];

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "req-", 4) != 0)
			continue;
		snprintf(req, sizeof req, "%s/%s", dir, de->d_name);
		snprintf(ack, sizeof ack, "%s/ack-%s", dir, de->d_name + 4);
		snprintf(body, sizeof body, "%" PRIu64 "\n", offset);
		if (outfile_write(ack, (const uint8_t *)body, strlen(body), 0600, OUTFILE_NO_SYNC, NULL) == 0)
			unlink(req);
	}
	closedir(d);
}
