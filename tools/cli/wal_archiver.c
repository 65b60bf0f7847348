/* wal_archiver.c — `wal-push --async` and the archiver process; see
 * wal_archiver.h for the contract (when archive_command returns 0, what a
 * crash loses).
 *
 * Protocol on the unix socket, one exchange per connection:
 *   client:   "PUSH <absolute path>\n"
 *   archiver: "OK\n"  once the file is durable in the repository, or
 *             "ERR <code> <message>\n" (code: a StrataErr code).
 */
#include "tools/cli/wal_archiver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/codec.h"
#include "store/wal/wal.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_repo.h"
#include "tools/cli/wal_daemon.h"

#define WALARCH_BATCH_MAX 32          /* files per batch: 512 MiB of 16 MiB segments */
#define WALARCH_CLIENTS_MAX 64        /* PostgreSQL runs one archive_command at a time */
#define WALARCH_DONE_MAX 4096         /* files remembered as stored */
#define WALARCH_LOCK_IDLE_MS 5000     /* release the repository lock after this idle */
#define LINE_MAX_BYTES WALD_LINE_MAX

/* ---- client ---- */

int walarch_push(const Cli *cli, const char *path, int zlevel, int idle_s, StrataErr *err)
{
	char abs[PATH_MAX], dir[PATH_MAX], real[PATH_MAX], line[LINE_MAX_BYTES], ans[2048], level[16], idle[16];
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	const char *args[10];
	WalDaemonPaths p;
	int rc;

	if (wal_name_parse(name, NULL, NULL) != 0)
		return strata_err_set(err, STRATA_EUSAGE, "%s is not a WAL file name", name);
	if (path[0] == '/') {
		snprintf(abs, sizeof abs, "%s", path);
	} else {
		if (!getcwd(dir, sizeof dir))
			return strata_err_set(err, -errno, "getcwd: %s", strerror(errno));
		if ((size_t)snprintf(abs, sizeof abs, "%s/%s", dir, path) >= sizeof abs)
			return strata_err_set(err, -ENAMETOOLONG, "%s: path too long", path);
	}
	snprintf(dir, sizeof dir, "%s", abs);
	*strrchr(dir, '/') = '\0';
	if (!realpath(dir[0] ? dir : "/", real))
		return strata_err_set(err, -errno, "%s: %s", dir, strerror(errno));
	if ((rc = wald_paths(cli, "walarch", real, &p, err)))
		return rc;
	snprintf(level, sizeof level, "%d", zlevel);
	snprintf(idle, sizeof idle, "%d", idle_s);
	args[0] = "wal-push";
	args[1] = "--archiver";
	args[2] = real;
	args[3] = "--compression";
	args[4] = level;
	args[5] = "--idle";
	args[6] = idle;
	args[7] = NULL;
	snprintf(line, sizeof line, "PUSH %s\n", abs);
	rc = wald_call(cli, &p, args, line, ans, sizeof ans, err);
	if (rc == -EPIPE)
		return strata_err_set(err, rc, "the WAL archiver ended before %s was stored; PostgreSQL retries "
		                      "archive_command (see %s)", name, p.log);
	if (rc)
		return rc;
	if (strcmp(ans, "OK") == 0)
		return 0;
	return wald_parse_err(ans, err);
}

/* ---- archiver ---- */

typedef struct Client {
	int fd;
	size_t len;
	int ready;                      /* a whole request line was read */
	char name[WAL_NAME_MAX + 1];
	char path[LINE_MAX_BYTES];
} Client;

/* A file stored durably, as it was then: an answer from memory is given
 * only for the same file (PostgreSQL may rewrite a name after a restore). */
typedef struct Stored {
	char name[WAL_NAME_MAX + 1];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
} Stored;

typedef struct Archiver {
	Cli *cli;
	Repo *repo;
	Lock *lock;
	const char *pg_wal;
	int zlevel;
	long test_delay_ms;   /* STRATA_TESTONLY_WALARCH_DELAY_MS: a window for tests to kill it in */
	Client clients[WALARCH_CLIENTS_MAX];
	size_t nclients;
	Stored done[WALARCH_DONE_MAX];
	size_t ndone, done_next;
} Archiver;

static int stored_same(const Stored *s, const struct stat *st)
{
	return s->dev == st->st_dev && s->ino == st->st_ino && s->size == st->st_size &&
	       s->mtime.tv_sec == st->st_mtim.tv_sec && s->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static int is_done(const Archiver *a, const char *name, const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return 0;
	for (size_t i = 0; i < a->ndone; i++)
		if (strcmp(a->done[i].name, name) == 0 && stored_same(&a->done[i], &st))
			return 1;
	return 0;
}

static void mark_done(Archiver *a, const char *name, const struct stat *st)
{
	Stored *s = &a->done[a->done_next];

	snprintf(s->name, sizeof s->name, "%s", name);
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->size = st->st_size;
	s->mtime = st->st_mtim;
	a->done_next = (a->done_next + 1) % WALARCH_DONE_MAX;
	if (a->ndone < WALARCH_DONE_MAX)
		a->ndone++;
}

static void client_answer(Archiver *a, size_t i, int code, const char *msg)
{
	char line[2048];

	if (code == 0)
		snprintf(line, sizeof line, "OK\n");
	else
		wald_answer_err(line, sizeof line, code, msg);
	(void)wald_write_all(a->clients[i].fd, line, strlen(line));
	close(a->clients[i].fd);
	a->clients[i] = a->clients[--a->nclients];
}

/* Read what a client sent; parse its line once whole. -1: drop it. */
static int client_read(Client *c)
{
	char *nl;
	ssize_t r = read(c->fd, c->path + c->len, sizeof c->path - 1 - c->len);
	const char *base;

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (r <= 0)
		return -1;
	c->len += (size_t)r;
	c->path[c->len] = '\0';
	nl = strchr(c->path, '\n');
	if (!nl)
		return c->len == sizeof c->path - 1 ? -1 : 0;
	*nl = '\0';
	if (strncmp(c->path, "PUSH /", 6) != 0)
		return -1;
	memmove(c->path, c->path + 5, strlen(c->path + 5) + 1);
	base = strrchr(c->path, '/') + 1;
	if (wal_name_parse(base, NULL, NULL) != 0)
		return -1;
	snprintf(c->name, sizeof c->name, "%s", base);
	c->ready = 1;
	return 0;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Names PostgreSQL has marked ready for archiving, sorted. */
static size_t ready_names(const char *pg_wal, char (*out)[WAL_NAME_MAX + 1], size_t max)
{
	char dir[PATH_MAX], *ptrs[WALARCH_BATCH_MAX * 4];
	char (*names)[WAL_NAME_MAX + 1] = NULL;
	size_t n = 0, cap = WALARCH_BATCH_MAX * 4;
	struct dirent *de;
	DIR *dp;

	snprintf(dir, sizeof dir, "%s/archive_status", pg_wal);
	dp = opendir(dir);
	if (!dp)
		return 0;
	names = malloc(cap * sizeof *names);
	while (names && (de = readdir(dp)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l <= 6 || l - 6 > WAL_NAME_MAX || strcmp(de->d_name + l - 6, ".ready") != 0)
			continue;
		char nm[WAL_NAME_MAX + 1];
		memcpy(nm, de->d_name, l - 6);
		nm[l - 6] = '\0';
		if (wal_name_parse(nm, NULL, NULL) != 0)
			continue;
		if (n == cap) {
			/* Keep the lowest names: the ones PostgreSQL asks for next. */
			size_t worst = 0;
			for (size_t i = 1; i < n; i++)
				if (strcmp(names[i], names[worst]) > 0)
					worst = i;
			if (strcmp(nm, names[worst]) < 0)
				memcpy(names[worst], nm, sizeof nm);
			continue;
		}
		memcpy(names[n++], nm, sizeof nm);
	}
	closedir(dp);
	if (!names)
		return 0;
	for (size_t i = 0; i < n; i++)
		ptrs[i] = names[i];
	qsort(ptrs, n, sizeof *ptrs, cmp_str);
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		memcpy(out[i], ptrs[i], WAL_NAME_MAX + 1);
	free(names);
	return n;
}

/* Store every requested file plus ready ones as one batch; answer. */
static void run_batch(Archiver *a)
{
	StrataErr err = { 0, "" };
	WalBatch *b = NULL;
	char ready[WALARCH_BATCH_MAX][WAL_NAME_MAX + 1], path[PATH_MAX + WAL_NAME_MAX + 2];
	struct stat st[WALARCH_BATCH_MAX];
	WalPushResult res[WALARCH_BATCH_MAX];
	StrataErr errs[WALARCH_BATCH_MAX];
	int rcs[WALARCH_BATCH_MAX], rc;
	size_t nready, n;

	memset(errs, 0, sizeof errs);
	if (!a->lock && (rc = cmd_wal_lock(a->cli, a->repo, "wal-push --async", 1, &a->lock, &err)) != 0)
		goto fail_all;
	if ((rc = wal_batch_new(a->repo, a->zlevel, &b, &err)) != 0)
		goto fail_all;
	/* The files asked for first: a failure of one is its own answer. */
	for (size_t i = 0; i < a->nclients;) {
		Client *c = &a->clients[i];
		StrataErr e1 = { 0, "" };
		if (!c->ready || wal_batch_count(b) >= WALARCH_BATCH_MAX) {
			i++;
			continue;
		}
		if (stat(c->path, &st[wal_batch_count(b)]) != 0) {
			rc = strata_err_set(&e1, -errno, "cannot stat %s: %s", c->path, strerror(errno));
			client_answer(a, i, rc, e1.msg);
			continue;
		}
		n = wal_batch_count(b);
		rc = wal_batch_add(b, c->path, NULL, &e1);
		if (rc) {
			fprintf(stderr, "strata wal archiver: %s\n", e1.msg);
			client_answer(a, i, rc, e1.msg);
			continue;
		}
		(void)n;
		i++;
	}
	/* Then what PostgreSQL will ask for next. */
	nready = ready_names(a->pg_wal, ready, WALARCH_BATCH_MAX);
	for (size_t k = 0; k < nready && wal_batch_count(b) < WALARCH_BATCH_MAX; k++) {
		StrataErr e1 = { 0, "" };
		size_t before = wal_batch_count(b);
		snprintf(path, sizeof path, "%s/%s", a->pg_wal, ready[k]);
		if (is_done(a, ready[k], path) || stat(path, &st[before]) != 0)
			continue;
		if (wal_batch_add(b, path, NULL, &e1) != 0)
			fprintf(stderr, "strata wal archiver: %s (left for its archive_command)\n", e1.msg);
	}
	n = wal_batch_count(b);
	if (a->test_delay_ms > 0)
		usleep((useconds_t)a->test_delay_ms * 1000);
	if ((rc = wal_batch_commit(b, res, rcs, errs, &err)) != 0)
		goto fail_all;
	for (size_t i = 0; i < n; i++) {
		const char *nm = wal_batch_name(b, i);
		if (rcs[i] == 0)
			mark_done(a, nm, &st[i]);
		else
			fprintf(stderr, "strata wal archiver: %s\n", errs[i].msg);
		for (size_t c = 0; c < a->nclients;) {
			if (a->clients[c].ready && strcmp(a->clients[c].name, nm) == 0)
				client_answer(a, c, rcs[i], errs[i].msg);
			else
				c++;
		}
	}
	wal_batch_free(b);
	return;
fail_all:
	fprintf(stderr, "strata wal archiver: %s\n", err.msg);
	wal_batch_free(b);
	for (size_t c = 0; c < a->nclients;) {
		if (a->clients[c].ready)
			client_answer(a, c, rc, err.msg);
		else
			c++;
	}
	/* The lock may be why: take it anew next time. */
	lock_release(a->lock);
	a->lock = NULL;
}

int walarch_serve(Cli *cli, const char *pg_wal, int ready_fd, int zlevel, int idle_s)
{
	StrataErr err = { 0, "" };
	WalDaemonPaths p;
	Archiver *a = NULL;
	struct pollfd pfds[WALARCH_CLIENTS_MAX + 1];
	int64_t last = wald_now_ms();
	int lfd = -1, sfd = -1, rc;

	rc = wald_start(cli, "walarch", pg_wal, &ready_fd, &p, &lfd, &err);
	if (rc == 1)
		return 0;
	if (rc)
		goto fail;
	a = calloc(1, sizeof *a);
	if (!a) {
		rc = strata_err_set(&err, -ENOMEM, "out of memory");
		goto fail;
	}
	a->cli = cli;
	a->pg_wal = pg_wal;
	a->zlevel = zlevel;
	if (getenv("STRATA_TESTONLY_WALARCH_DELAY_MS"))
		a->test_delay_ms = atol(getenv("STRATA_TESTONLY_WALARCH_DELAY_MS"));
	if ((rc = wald_open(cli, &p, &a->repo, &sfd, &err)))
		goto fail;
	wald_ready(&ready_fd, 'R', NULL);
	for (;;) {
		size_t np = 0, nready = 0;
		int timeout;
		for (size_t i = 0; i < a->nclients; i++)
			nready += a->clients[i].ready != 0;
		timeout = nready ? 0 : 500;
		pfds[np++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (size_t i = 0; i < a->nclients; i++)
			pfds[np++] = (struct pollfd){ .fd = a->clients[i].fd, .events = a->clients[i].ready ? 0 : POLLIN };
		if ((poll(pfds, np, timeout) < 0 && errno != EINTR) || wald_terminated()) {
			unlink(p.sock);   /* SIGTERM: leave cleanly (lock released below) */
			break;
		}
		/* Clients first (their slots shift when one is dropped), newest last. */
		for (size_t i = a->nclients; i-- > 0;) {
			if (!(pfds[1 + i].revents & (POLLIN | POLLHUP | POLLERR)) || a->clients[i].ready)
				continue;
			if (client_read(&a->clients[i]) < 0) {
				close(a->clients[i].fd);
				a->clients[i] = a->clients[--a->nclients];
			}
		}
		while (a->nclients < WALARCH_CLIENTS_MAX) {
			int cfd = accept4(sfd, NULL, NULL, SOCK_CLOEXEC);
			if (cfd < 0)
				break;
			memset(&a->clients[a->nclients], 0, sizeof a->clients[0]);
			a->clients[a->nclients++].fd = cfd;
			last = wald_now_ms();
		}
		/* Answers from memory: stored before, and the same file. */
		for (size_t i = 0; i < a->nclients;) {
			if (a->clients[i].ready && is_done(a, a->clients[i].name, a->clients[i].path))
				client_answer(a, i, 0, NULL);
			else
				i++;
		}
		nready = 0;
		for (size_t i = 0; i < a->nclients; i++)
			nready += a->clients[i].ready != 0;
		if (nready) {
			run_batch(a);
			last = wald_now_ms();
			continue;
		}
		if (a->lock && wald_now_ms() - last > WALARCH_LOCK_IDLE_MS) {
			/* Idle: let a prune's exclusive phase in. */
			lock_release(a->lock);
			a->lock = NULL;
		}
		if (a->nclients == 0 && wald_now_ms() - last > (int64_t)idle_s * 1000) {
			struct pollfd one = { .fd = sfd, .events = POLLIN };
			if (poll(&one, 1, 0) > 0)
				continue;   /* a client just came */
			unlink(p.sock);   /* while holding the flock: no successor yet */
			fprintf(stderr, "strata wal archiver: no request for %d s, exiting\n", idle_s);
			break;
		}
	}
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "strata wal archiver: %s\n", err.msg);
	wald_ready(&ready_fd, 'E', err.msg);
out:
	if (a) {
		for (size_t i = 0; i < a->nclients; i++)
			close(a->clients[i].fd);
		lock_release(a->lock);
		repo_close(a->repo);
		free(a);
	}
	if (sfd >= 0)
		close(sfd);
	wald_unlock(lfd);
	return rc ? 1 : 0;
}
