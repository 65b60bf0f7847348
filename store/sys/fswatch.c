/* fswatch.c — see fswatch.h. */
#include "store/sys/fswatch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/backup/journal.h"

/* What changes an entry or a directory's entries. */
#define EVENTS (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_MODIFY | FAN_ATTRIB | \
                FAN_DELETE_SELF | FAN_MOVE_SELF | FAN_ONDIR)
#define ENTRY_EVENTS (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO)

typedef struct Watch {
	const char *const *roots;
	size_t nroots;
	const char *skip;
	int mount_fd;                 /* any directory of the watched filesystem(s) */
	int log_fd;
	uint64_t offset;              /* bytes in the log */
	char *buf;                    /* lines not yet written */
	size_t len, cap;
	int failed;                   /* the log could not be written: stop */
	/* The last handle resolved and its path: a burst of events in one
	 * directory costs one open_by_handle_at. Forgotten at any move or
	 * removal of a directory (its path, or an ancestor's, may change). */
	uint8_t last_fh[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	size_t last_len;
	char last_path[PATH_MAX];
} Watch;

static int under(const char *path, const char *dir)
{
	size_t len = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return 1;
	return strncmp(path, dir, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

static void put(Watch *w, char kind, const char *path)
{
	size_t need = strlen(path) + 3;

	if (kind != 'O') {
		size_t k = 0;
		while (k < w->nroots && !under(path, w->roots[k]))
			k++;
		if (k == w->nroots || (w->skip && under(path, w->skip)))
			return;
		if (strchr(path, '\n')) {
			put(w, 'O', "a changed path holds a newline");
			return;
		}
	}
	if (w->len + need > w->cap) {
		size_t cap = (w->len + need) * 2;
		char *p = realloc(w->buf, cap);
		if (!p) {
			w->failed = 1;
			return;
		}
		w->buf = p;
		w->cap = cap;
	}
	w->buf[w->len++] = kind;
	w->buf[w->len++] = ' ';
	memcpy(w->buf + w->len, path, need - 3);
	w->len += need - 3;
	w->buf[w->len++] = '\n';
}

static void flush(Watch *w)
{
	size_t done = 0;

	while (done < w->len) {
		ssize_t n = write(w->log_fd, w->buf + done, w->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			w->failed = 1;
			return;
		}
		done += (size_t)n;
	}
	w->len = 0;
	/* The log's length, whoever else appended: what a sync hands out. */
	{
		off_t end = lseek(w->log_fd, 0, SEEK_END);
		if (end < 0)
			w->failed = 1;
		else
			w->offset = (uint64_t)end;
	}
}

/* The path of the directory a file handle names, into out (PATH_MAX):
 * 0, 1 when the directory is gone (its removal is an event of its
 * parent's), or -errno. */
static int handle_path(Watch *w, struct file_handle *fh, char *out)
{
	char link[64];
	ssize_t n;
	int fd = open_by_handle_at(w->mount_fd, fh, O_PATH | O_CLOEXEC);

	/* ENOMEM: seen twice in 150+ loaded test runs (a directory whose
	 * dentry the kernel cannot reconnect at that instant), never
	 * reproduced alone; three immediate retries did not help, so retry
	 * after 1, 2, 4, 8 and 16 ms before it costs the next backup a full
	 * scan. */
	for (int i = 0; fd < 0 && errno == ENOMEM && i < 5; i++) {
		struct timespec ts = { 0, 1000000L << i };

		nanosleep(&ts, NULL);
		fd = open_by_handle_at(w->mount_fd, fh, O_PATH | O_CLOEXEC);
	}
	if (fd < 0)
		return errno == ESTALE || errno == ENOENT ? 1 : -errno;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, out, PATH_MAX - 1);
	close(fd);
	if (n <= 0 || n >= PATH_MAX - 1)
		return -ENAMETOOLONG;
	out[n] = '\0';
	if (n > 10 && strcmp(out + n - 10, " (deleted)") == 0)
		return 1;
	return 0;
}

/* One event: the metadata m (copied out: events with a name are not
 * 8-byte aligned in the buffer), its info records at p[0..len). */
static void on_event(Watch *w, const struct fanotify_event_metadata *m, const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	char dir[PATH_MAX], full[PATH_MAX];
	/* A file handle, aligned, with room for the name behind it. */
	union { struct file_handle fh; uint8_t b[sizeof(struct file_handle) + MAX_HANDLE_SZ + NAME_MAX + 2]; } hb;

	if (m->mask & FAN_Q_OVERFLOW) {
		put(w, 'O', "the fanotify queue overflowed");
		return;
	}
	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		struct fanotify_event_info_header h;
		memcpy(&h, p, sizeof h);
		if (h.len < sizeof h || p + h.len > end)
			break;
		if (h.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME || h.info_type == FAN_EVENT_INFO_TYPE_DFID ||
		    h.info_type == FAN_EVENT_INFO_TYPE_FID) {
			size_t off = offsetof(struct fanotify_event_info_fid, handle), n = h.len - off;
			struct file_handle *fh = &hb.fh;
			int rc;
			if (h.len < off + sizeof(struct file_handle) || n > sizeof hb.b - 1) {
				put(w, 'O', "an event's file handle is malformed");
				p += h.len;
				continue;
			}
			memcpy(hb.b, p + off, n);
			hb.b[n] = '\0';
			if (sizeof(struct file_handle) + fh->handle_bytes > n) {
				put(w, 'O', "an event's file handle is malformed");
				p += h.len;
				continue;
			}
			if ((m->mask & FAN_ONDIR) && (m->mask & (FAN_MOVED_FROM | FAN_MOVED_TO | FAN_MOVE_SELF |
			                                         FAN_DELETE | FAN_DELETE_SELF)))
				w->last_len = 0;
			size_t fl = sizeof(struct file_handle) + fh->handle_bytes;
			if (w->last_len == fl && fl <= sizeof w->last_fh && memcmp(w->last_fh, fh, fl) == 0) {
				snprintf(dir, sizeof dir, "%s", w->last_path);
				rc = 0;
			} else {
				rc = handle_path(w, fh, dir);
				if (rc == 0 && fl <= sizeof w->last_fh) {
					memcpy(w->last_fh, fh, fl);
					w->last_len = fl;
					snprintf(w->last_path, sizeof w->last_path, "%s", dir);
				}
			}
			if (rc < 0) {
				char why[256];
				snprintf(why, sizeof why, "a changed directory's handle cannot be resolved: %s (info %u, mask %#llx, "
				         "handle type %d, %u bytes)", strerror(-rc), h.info_type, (unsigned long long)m->mask,
				         fh->handle_type, fh->handle_bytes);
				put(w, 'O', why);
			} else if (rc == 0) {
				if (h.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
					const char *name = (const char *)fh->f_handle + fh->handle_bytes;
					if (strcmp(name, ".") == 0) {
						put(w, 'R', dir);
					} else if (snprintf(full, sizeof full, "%s/%s", strcmp(dir, "/") ? dir : "", name) <
					           (int)sizeof full) {
						put(w, 'S', full);
						if (m->mask & ENTRY_EVENTS)
							put(w, 'R', dir);
					} else {
						put(w, 'O', "a changed path is too long");
					}
				} else {
					put(w, 'R', dir);
				}
			}
		}
		p += h.len;
	}
}

/* Read every queued event (the group is non-blocking). */
static void drain(Watch *w, int fan)
{
	char buf[65536] __attribute__((aligned(8)));

	for (;;) {
		ssize_t n = read(fan, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (size_t at = 0; at + FAN_EVENT_METADATA_LEN <= (size_t)n;) {
			struct fanotify_event_metadata m;
			memcpy(&m, buf + at, sizeof m);
			if (m.event_len < FAN_EVENT_METADATA_LEN || at + m.event_len > (size_t)n)
				break;
			on_event(w, &m, (const uint8_t *)buf + at + m.metadata_len, m.event_len - m.metadata_len);
			if (m.fd >= 0)
				close(m.fd);
			at += m.event_len;
		}
	}
	flush(w);
}

static void ignore_signal(int sig)
{
	(void)sig;
}

int fswatch_run(const char *const *roots, size_t nroots, const char *journal_dir, const char *skip,
                void (*ready)(const char *run, void *ctx), void *ctx, StrataErr *err)
{
	Watch w = { .roots = roots, .nroots = nroots, .skip = skip, .mount_fd = -1, .log_fd = -1 };
	char run[17];
	sigset_t set, old;
	int fan = -1, sfd = -1, rc = 0;

	fan = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_NONBLOCK | FAN_CLOEXEC, O_RDONLY | O_CLOEXEC);
	if (fan < 0) {
		rc = -errno;
		return strata_err_set(err, rc, "fanotify_init: %s (%s)", strerror(-rc), rc == -EPERM ?
		                      "needs root (CAP_SYS_ADMIN); without a watcher every backup scans" :
		                      "needs Linux 5.9 or later for FAN_REPORT_DFID_NAME");
	}
	for (size_t i = 0; i < nroots; i++)
		if (fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, EVENTS, AT_FDCWD, roots[i]) != 0) {
			rc = -errno;
			/* EXDEV: a btrfs subvolume other than the top level has
			 * an fsid of its own, and fanotify marks only whole
			 * filesystems. */
			strata_err_set(err, rc, "%s: cannot watch its filesystem (fanotify_mark FAN_MARK_FILESYSTEM): %s%s",
			               roots[i], strerror(-rc), rc == -EXDEV ? " (inside a btrfs subvolume other than the "
			               "top level, which fanotify cannot mark: back it up with --fs-snapshot btrfs, whose "
			               "generations find the changes)" : "");
			goto out;
		}
	if ((w.mount_fd = open(roots[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = -errno;
		strata_err_set(err, rc, "%s: %s", roots[0], strerror(-rc));
		goto out;
	}
	/* A no-op handler first: a SIGUSR1 that reaches a thread not
	 * blocking it (a library's) must not end the process; that sync then
	 * goes unanswered, and its backup scans. */
	{
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = ignore_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
		rc = -errno;
		strata_err_set(err, rc, "signalfd: %s", strerror(-rc));
		goto out;
	}
	/* The run starts with the marks in place: a backup that syncs with
	 * it sees every change made since. */
	if ((rc = journal_run_write(journal_dir, roots, nroots, run, &w.log_fd, err)) != 0)
		goto out;
	if (ready)
		ready(run, ctx);
	while (!w.failed) {
		struct pollfd pf[2] = { { fan, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = strata_err_set(err, -errno, "poll: %s", strerror(errno));
			break;
		}
		if (pf[0].revents & POLLIN)
			drain(&w, fan);
		if (pf[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			int stop = 0, sync = 0;
			while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if (si.ssi_signo == SIGUSR1)
					sync = 1;
				else
					stop = 1;
				/* One signal read per wakeup is enough: poll again. */
				break;
			}
			if (sync) {
				drain(&w, fan);
				if (!w.failed)
					journal_answer_syncs(journal_dir, w.offset);
			}
			if (stop)
				break;
		}
	}
	if (w.failed && rc == 0)
		rc = strata_err_set(err, -EIO, "%s/log: cannot append to the change journal: %s; backups scan until "
		                    "the watcher is restarted", journal_dir, strerror(errno));
	sigprocmask(SIG_SETMASK, &old, NULL);
out:
	if (sfd >= 0)
		close(sfd);
	if (w.log_fd >= 0)
		close(w.log_fd);
	if (w.mount_fd >= 0)
		close(w.mount_fd);
	close(fan);
	free(w.buf);
	return rc;
}
