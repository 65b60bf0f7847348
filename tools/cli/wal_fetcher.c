/* wal_fetcher.c — `wal-fetch --async` and the fetcher process; see
 * wal_fetcher.h (the spool, why nothing is fsynced).
 *
 * Protocol on the unix socket, one exchange per connection:
 *   client:  "GET <name>\n"
 *   fetcher: "OK <spool path>\n"  the whole file is at that path, for the
 *                                 client to rename to DEST;
 *            "ABSENT\n"           the archive does not hold it;
 *            "ERR <code> <message>\n".
 */
#include "tools/cli/wal_fetcher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/lock.h"
#include "store/wal/wal.h"
#include "tools/cli/cli_repo.h"
#include "tools/cli/wal_archiver.h"
#include "tools/cli/wal_daemon.h"

#define SPOOL_DIR ".strata-spool"
#define ENTRIES_MAX 512
#define CLIENTS_MAX 64
#define LOCK_IDLE_MS 2000
#define WORKERS 3       /* segments fetched at once, each its chunks in parallel */

/* ---- spool names ---- */

/* The first 8 hex digits of the kernel's boot ID: a spool of another boot
 * may hold files a machine crash tore (nothing in it was fsynced). */
static void boot_tag(char out[9])
{
	char b[64] = "";
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	size_t n = 0;

	if (f) {
		if (!fgets(b, sizeof b, f))
			b[0] = '\0';
		fclose(f);
	}
	for (size_t i = 0; b[i] && n < 8; i++)
		if ((b[i] >= '0' && b[i] <= '9') || (b[i] >= 'a' && b[i] <= 'f'))
			out[n++] = b[i];
	while (n < 8)
		out[n++] = '0';   /* no boot ID: every boot shares one spool name */
	out[8] = '\0';
}

/* ---- client ---- */

int walfetch_get(const Cli *cli, const char *name, const char *dest, int prefetch, int idle_s, StrataErr *err)
{
	char dir[PATH_MAX], real[PATH_MAX], line[WALD_LINE_MAX], ans[WALD_LINE_MAX + 2048], pf[16], idle[16];
	const char *args[10], *slash = strrchr(dest, '/');
	WalDaemonPaths p;
	int rc;

	if (wal_name_parse(name, NULL, NULL) != 0)
		return strata_err_set(err, STRATA_EUSAGE, "%s is not a WAL file name", name);
	if (slash)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - dest), dest);
	else
		snprintf(dir, sizeof dir, ".");
	if (!realpath(dir[0] ? dir : "/", real))
		return strata_err_set(err, -errno, "%s: %s", dir, strerror(errno));
	if ((rc = wald_paths(cli, "walfetch", real, &p, err)))
		return rc;
	snprintf(pf, sizeof pf, "%d", prefetch);
	snprintf(idle, sizeof idle, "%d", idle_s);
	args[0] = "wal-fetch";
	args[1] = "--fetcher";
	args[2] = real;
	args[3] = "--prefetch";
	args[4] = pf;
	args[5] = "--idle";
	args[6] = idle;
	args[7] = NULL;
	snprintf(line, sizeof line, "GET %s\n", name);
	rc = wald_call(cli, &p, args, line, ans, sizeof ans, err);
	if (rc == -EPIPE)
		return strata_err_set(err, rc, "the WAL fetcher ended before %s was fetched (see %s)", name, p.log);
	if (rc)
		return rc;
	if (strcmp(ans, "ABSENT") == 0)
		return strata_err_set(err, STRATA_ENOTFOUND, "WAL file %s is not in the archive", name);
	if (strncmp(ans, "OK /", 4) == 0) {
		/* The hand-over: one rename within pg_wal's file system. */
		if (rename(ans + 3, dest) != 0)
			return strata_err_set(err, -errno, "cannot rename %s to %s: %s", ans + 3, dest, strerror(errno));
		return 0;
	}
	return wald_parse_err(ans, err);
}

/* ---- fetcher ---- */

enum { E_QUEUED, E_FETCHING, E_READY, E_ABSENT, E_FAILED };

typedef struct Entry {
	char name[WAL_NAME_MAX + 1];
	int state;
	int asked;                    /* a client asked for it: before prefetches */
	int code;
	char msg[512];
} Entry;

typedef struct Client {
	int fd;
	size_t len;
	int asked;                    /* its name is registered */
	char name[WAL_NAME_MAX + 1];
	char buf[128];
} Client;

typedef struct Fetcher {
	Cli *cli;
	Repo *repo;
	Lock *lock;                     /* taken under lock_mu, dropped when no worker is busy */
	pthread_mutex_t lock_mu;
	char spool[PATH_MAX];
	int prefetch;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	Entry e[ENTRIES_MAX];
	size_t n;
	char cursor[WAL_NAME_MAX + 1];  /* the last segment asked for */
	uint64_t segsize;
	int busy;                       /* workers fetching */
	int64_t idle_since;             /* when the last fetch ended */
	int stop;
	int wake[2];                    /* worker -> loop */
	Client clients[CLIENTS_MAX];
	size_t nclients;
} Fetcher;

static Entry *find(Fetcher *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->e[i].name, name) == 0)
			return &f->e[i];
	return NULL;
}

static Entry *add(Fetcher *f, const char *name, int asked)
{
	char copy[WAL_NAME_MAX + 1];
	Entry *e;

	if (f->n == ENTRIES_MAX)
		return NULL;
	snprintf(copy, sizeof copy, "%s", name);   /* name may point into f */
	e = &f->e[f->n++];
	memset(e, 0, sizeof *e);
	memcpy(e->name, copy, sizeof copy);
	e->state = E_QUEUED;
	e->asked = asked;
	return e;
}

static void drop(Fetcher *f, Entry *e, int unlink_file)
{
	if (unlink_file && e->state == E_READY) {
		char path[PATH_MAX + WAL_NAME_MAX + 2];
		snprintf(path, sizeof path, "%s/%s", f->spool, e->name);
		unlink(path);
	}
	*e = f->e[--f->n];
}

/* Queue the prefetch segments after the cursor (under mu). Stops at one
 * found absent: the archive ends there for now. */
static void queue_ahead(Fetcher *f)
{
	char cur[WAL_NAME_MAX + 1], next[WAL_NAME_MAX + 1];

	if (!f->cursor[0] || !f->segsize)
		return;
	snprintf(cur, sizeof cur, "%s", f->cursor);
	for (int i = 0; i < f->prefetch; i++) {
		Entry *e;
		if (wal_next_segment(cur, f->segsize, next) != 0)
			return;
		e = find(f, next);
		if (e && (e->state == E_ABSENT || e->state == E_FAILED))
			return;
		if (!e && !add(f, next, 0))
			return;
		snprintf(cur, sizeof cur, "%s", next);
	}
}

/* The cursor moves to name: spool files of its timeline before it will not
 * be asked for (under mu). */
static void advance(Fetcher *f, const char *name)
{
	int kind;

	if (wal_name_parse(name, &kind, NULL) != 0 || kind != WAL_SEGMENT)
		return;
	for (size_t i = 0; i < f->n;) {
		Entry *e = &f->e[i];
		if (strlen(e->name) == WAL_SEG_NAME_LEN && strncmp(e->name, name, 8) == 0 && strcmp(e->name, name) < 0 &&
		    e->state != E_FETCHING && !e->asked)
			drop(f, e, 1);
		else
			i++;
	}
	snprintf(f->cursor, sizeof f->cursor, "%s", name);
	queue_ahead(f);
}

static Entry *next_job(Fetcher *f)
{
	Entry *best = NULL;

	for (size_t i = 0; i < f->n; i++) {
		Entry *e = &f->e[i];
		if (e->state != E_QUEUED)
			continue;
		if (!best || (e->asked && !best->asked) ||
		    (e->asked == best->asked && strcmp(e->name, best->name) < 0))
			best = e;
	}
	return best;
}

/* Take the repository's lock once for all workers (a worker busy). */
static int take_lock(Fetcher *f, StrataErr *err)
{
	int rc = 0;

	pthread_mutex_lock(&f->lock_mu);
	if (!f->lock)
		rc = cmd_wal_lock(f->cli, f->repo, "wal-fetch --async", 0, &f->lock, err);
	pthread_mutex_unlock(&f->lock_mu);
	return rc;
}

/* One of WORKERS threads: each takes the first queued file (asked ones
 * first), so up to WORKERS upcoming segments are fetched at once. An entry
 * being fetched is never dropped, so no two workers fetch one name. */
static void *worker(void *arg)
{
	Fetcher *f = arg;

	pthread_mutex_lock(&f->mu);
	while (!f->stop) {
		StrataErr err = { 0, "" };
		WalFetchResult res;
		char name[WAL_NAME_MAX + 1], path[PATH_MAX + WAL_NAME_MAX + 2];
		Entry *e = next_job(f);
		int rc;

		if (!e) {
			struct timespec ts;
			if (f->lock && !f->busy && wald_now_ms() - f->idle_since > LOCK_IDLE_MS) {
				/* Idle: let a prune's exclusive phase in. No worker is
				 * in take_lock while none is busy. */
				lock_release(f->lock);
				f->lock = NULL;
			}
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 500000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&f->cv, &f->mu, &ts);
			continue;
		}
		e->state = E_FETCHING;
		f->busy++;
		snprintf(name, sizeof name, "%s", e->name);
		pthread_mutex_unlock(&f->mu);

		memset(&res, 0, sizeof res);
		snprintf(path, sizeof path, "%s/%s", f->spool, name);
		rc = take_lock(f, &err);
		if (rc == 0)
			rc = wal_fetch(f->repo, name, path, &res, &err);

		pthread_mutex_lock(&f->mu);
		f->busy--;
		f->idle_since = wald_now_ms();
		e = find(f, name);
		if (!e) {
			/* Dropped while fetching (the cursor passed it). */
			if (rc == 0)
				unlink(path);
		} else if (rc == 0) {
			e->state = E_READY;
		} else {
			e->state = rc == STRATA_ENOTFOUND ? E_ABSENT : E_FAILED;
			e->code = rc;
			snprintf(e->msg, sizeof e->msg, "%s", err.msg);
			if (rc != STRATA_ENOTFOUND)
				fprintf(stderr, "strata wal fetcher: %s\n", err.msg);
		}
		if (rc == 0 && res.segment_size && !f->segsize) {
			f->segsize = res.segment_size;
			queue_ahead(f);
			pthread_cond_broadcast(&f->cv);   /* work for the other workers */
		}
		if (rc == STRATA_ENOTFOUND) {
			/* The archive ends here for now: drop the prefetches past it. */
			for (size_t i = 0; i < f->n;) {
				Entry *x = &f->e[i];
				if (x->state == E_QUEUED && !x->asked && strcmp(x->name, name) > 0 && strncmp(x->name, name, 8) == 0)
					drop(f, x, 0);
				else
					i++;
			}
		}
		(void)!write(f->wake[1], "x", 1);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static void client_answer(Fetcher *f, size_t i, const char *line)
{
	(void)wald_write_all(f->clients[i].fd, line, strlen(line));
	close(f->clients[i].fd);
	f->clients[i] = f->clients[--f->nclients];
}

/* Read what a client sent; -1: drop it. */
static int client_read(Client *c)
{
	ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
	char *nl;

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (r <= 0)
		return -1;
	c->len += (size_t)r;
	c->buf[c->len] = '\0';
	nl = strchr(c->buf, '\n');
	if (!nl)
		return c->len == sizeof c->buf - 1 ? -1 : 0;
	*nl = '\0';
	if (strncmp(c->buf, "GET ", 4) != 0 || wal_name_parse(c->buf + 4, NULL, NULL) != 0)
		return -1;
	snprintf(c->name, sizeof c->name, "%s", c->buf + 4);
	return 1;
}

/* Answer every client whose file is settled (under mu). */
static void answer_settled(Fetcher *f)
{
	char line[WALD_LINE_MAX + 2048];

	for (size_t i = 0; i < f->nclients;) {
		Client *c = &f->clients[i];
		Entry *e = c->asked ? find(f, c->name) : NULL;
		if (!e || e->state == E_QUEUED || e->state == E_FETCHING) {
			if (c->asked && !e) {
				/* Lost (the table was full): ask again. */
				if ((e = add(f, c->name, 1)) != NULL)
					pthread_cond_broadcast(&f->cv);
			}
			i++;
			continue;
		}
		if (e->state == E_READY)
			snprintf(line, sizeof line, "OK %s/%s\n", f->spool, e->name);
		else if (e->state == E_ABSENT)
			snprintf(line, sizeof line, "ABSENT\n");
		else
			wald_answer_err(line, sizeof line, e->code, e->msg);
		/* Handed over (the client renames the file away) or settled: a
		 * later request for the name fetches it anew. */
		drop(f, e, 0);
		client_answer(f, i, line);
	}
}

/* The spool: <pg_wal>/.strata-spool/<hex>-<boot>; other boots' spools of
 * this fetcher and leftovers in this one are removed. */
static int spool_prepare(const char *pg_wal, const char *hex, char out[PATH_MAX], StrataErr *err)
{
	char base[PATH_MAX], boot[9], path[PATH_MAX + NAME_MAX + 2];
	struct dirent *de;
	DIR *dp;

	boot_tag(boot);
	snprintf(base, sizeof base, "%s/%s", pg_wal, SPOOL_DIR);
	if (mkdir(base, 0700) != 0 && errno != EEXIST)
		return strata_err_set(err, -errno, "cannot create %s: %s", base, strerror(errno));
	if ((dp = opendir(base)) != NULL) {
		while ((de = readdir(dp)) != NULL) {
			if (strncmp(de->d_name, hex, 16) != 0 || de->d_name[16] != '-')
				continue;
			snprintf(path, sizeof path, "%s/%s", base, de->d_name);
			DIR *sub = opendir(path);
			struct dirent *f;
			while (sub && (f = readdir(sub)) != NULL) {
				char fp[sizeof path + NAME_MAX + 1];
				if (f->d_name[0] == '.')
					continue;
				snprintf(fp, sizeof fp, "%s/%s", path, f->d_name);
				unlink(fp);
			}
			if (sub)
				closedir(sub);
			if (strcmp(de->d_name + 17, boot) != 0)
				rmdir(path);
		}
		closedir(dp);
	}
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s-%s", base, hex, boot) >= PATH_MAX)
		return strata_err_set(err, -ENAMETOOLONG, "%s: path too long", base);
	if (mkdir(out, 0700) != 0 && errno != EEXIST)
		return strata_err_set(err, -errno, "cannot create %s: %s", out, strerror(errno));
	return 0;
}

static void spool_remove(const char *spool)
{
	char fp[PATH_MAX + NAME_MAX + 2];
	DIR *dp = opendir(spool);
	struct dirent *de;

	while (dp && (de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(fp, sizeof fp, "%s/%s", spool, de->d_name);
		unlink(fp);
	}
	if (dp)
		closedir(dp);
	rmdir(spool);
}

int walfetch_serve(Cli *cli, const char *pg_wal, int ready_fd, int prefetch, int idle_s)
{
	StrataErr err = { 0, "" };
	WalDaemonPaths p;
	Fetcher *f = NULL;
	struct pollfd pfds[CLIENTS_MAX + 2];
	pthread_t th[WORKERS];
	int64_t last = wald_now_ms();
	int lfd = -1, sfd = -1, rc, started = 0;   /* started: workers running */

	rc = wald_start(cli, "walfetch", pg_wal, &ready_fd, &p, &lfd, &err);
	if (rc == 1)
		return 0;
	if (rc)
		goto fail;
	f = calloc(1, sizeof *f);
	if (!f) {
		rc = strata_err_set(&err, -ENOMEM, "out of memory");
		goto fail;
	}
	f->cli = cli;
	f->prefetch = prefetch;
	f->wake[0] = f->wake[1] = -1;
	f->idle_since = wald_now_ms();
	pthread_mutex_init(&f->mu, NULL);
	pthread_mutex_init(&f->lock_mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	if ((rc = spool_prepare(pg_wal, p.hex, f->spool, &err)))
		goto fail;
	if (pipe2(f->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		rc = strata_err_set(&err, -errno, "pipe: %s", strerror(errno));
		goto fail;
	}
	/* One key derivation for the whole recovery. */
	if ((rc = wald_open(cli, &p, &f->repo, &sfd, &err)))
		goto fail;
	while (started < WORKERS && pthread_create(&th[started], NULL, worker, f) == 0)
		started++;
	if (started < WORKERS) {
		rc = strata_err_set(&err, -EAGAIN, "cannot start the fetcher's worker threads");
		goto fail;
	}
	wald_ready(&ready_fd, 'R', NULL);
	for (;;) {
		size_t np = 0;
		char junk[64];
		pfds[np++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfds[np++] = (struct pollfd){ .fd = f->wake[0], .events = POLLIN };
		for (size_t i = 0; i < f->nclients; i++)
			pfds[np++] = (struct pollfd){ .fd = f->clients[i].fd, .events = f->clients[i].asked ? 0 : POLLIN };
		if ((poll(pfds, np, 500) < 0 && errno != EINTR) || wald_terminated()) {
			unlink(p.sock);   /* SIGTERM: leave cleanly (spool and lock removed below) */
			break;
		}
		while (read(f->wake[0], junk, sizeof junk) > 0)
			;
		pthread_mutex_lock(&f->mu);
		for (size_t i = f->nclients; i-- > 0;) {
			Client *c = &f->clients[i];
			int r;
			if (c->asked || !(pfds[2 + i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = client_read(c);
			if (r < 0) {
				close(c->fd);
				*c = f->clients[--f->nclients];
				continue;
			}
			if (r == 1) {
				Entry *e = find(f, c->name);
				c->asked = 1;
				if (!e)
					e = add(f, c->name, 1);
				else if (e->state == E_ABSENT || e->state == E_FAILED)
					e->state = E_QUEUED;   /* ask the archive again */
				if (e)
					e->asked = 1;
				advance(f, c->name);
				pthread_cond_broadcast(&f->cv);
			}
		}
		while (f->nclients < CLIENTS_MAX) {
			int cfd = accept4(sfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (cfd < 0)
				break;
			memset(&f->clients[f->nclients], 0, sizeof f->clients[0]);
			f->clients[f->nclients++].fd = cfd;
		}
		answer_settled(f);
		if (f->nclients)
			last = wald_now_ms();
		pthread_mutex_unlock(&f->mu);
		if (f->nclients == 0 && wald_now_ms() - last > (int64_t)idle_s * 1000) {
			struct pollfd one = { .fd = sfd, .events = POLLIN };
			if (poll(&one, 1, 0) > 0)
				continue;   /* a client just came */
			unlink(p.sock);   /* while holding the flock: no successor yet */
			fprintf(stderr, "strata wal fetcher: no request for %d s, exiting\n", idle_s);
			break;
		}
	}
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "strata wal fetcher: %s\n", err.msg);
	wald_ready(&ready_fd, 'E', err.msg);
out:
	if (f) {
		if (started > 0) {
			pthread_mutex_lock(&f->mu);
			f->stop = 1;
			pthread_cond_broadcast(&f->cv);
			pthread_mutex_unlock(&f->mu);
			while (started > 0)
				pthread_join(th[--started], NULL);
		}
		for (size_t i = 0; i < f->nclients; i++)
			close(f->clients[i].fd);
		if (f->spool[0])
			spool_remove(f->spool);
		lock_release(f->lock);
		repo_close(f->repo);
		if (f->wake[0] >= 0)
			close(f->wake[0]);
		if (f->wake[1] >= 0)
			close(f->wake[1]);
		pthread_mutex_destroy(&f->mu);
		pthread_mutex_destroy(&f->lock_mu);
		pthread_cond_destroy(&f->cv);
		free(f);
	}
	if (sfd >= 0)
		close(sfd);
	wald_unlock(lfd);
	return rc ? 1 : 0;
}
