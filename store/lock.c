/* lock.c — repository locks, see lock.h. FORMAT.md "Prune and concurrent
 * writers", "Locks". */
#include "store/lock.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "store/format.h"
#include "store/lock_internal.h"
#include "store/repo_internal.h"

#define LOCK_DIR       "locks/"

/* IDs of files in locks/ (64 hex digits each). */
struct name_list {
	char (*ids)[STRATA_ID_HEX_LEN + 1];
	size_t n, cap;
	int oom;
};

struct Lock {
	Backend   *be;
	CodecKeys *keys;
	char       id[STRATA_ID_HEX_LEN + 1];
	char       name[REPO_NAME_MAX];
	LockRecord rec;
	int64_t    refresh_s;
	LockLostFn on_lost;
	void      *lost_ctx;
	LockWarnFn on_warn;
	void      *warn_ctx;
	struct name_list warned;   /* files already reported through on_warn */
	pthread_t  thread;
	int        thread_running;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	int        stop;
	int        lost;
	char       lost_why[256];
	int64_t    last_ok_boot_ns;   /* CLOCK_BOOTTIME of the last successful write */
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Wall-clock time goes into lock files (compared across machines);
 * CLOCK_BOOTTIME, which keeps counting while the machine is suspended,
 * measures how long our own lock went unrefreshed. */
static int64_t now_ns(void) { return clock_ns(CLOCK_REALTIME); }
static int64_t boot_ns(void) { return clock_ns(CLOCK_BOOTTIME); }

const char *lock_mode_name(LockMode mode)
{
	switch (mode) {
	case LOCK_SHARED:    return "shared";
	case LOCK_MARK:      return "mark";
	case LOCK_EXCLUSIVE: return "exclusive";
	default:             return "unknown";
	}
}

static int mode_parse(const char *s, LockMode *out)
{
	if (strcmp(s, "shared") == 0)
		*out = LOCK_SHARED;
	else if (strcmp(s, "mark") == 0)
		*out = LOCK_MARK;
	else if (strcmp(s, "exclusive") == 0)
		*out = LOCK_EXCLUSIVE;
	else
		return STRATA_EFORMAT;
	return 0;
}

static int conflicts(LockMode a, LockMode b)
{
	return a == LOCK_EXCLUSIVE || b == LOCK_EXCLUSIVE || (a == LOCK_MARK && b == LOCK_MARK);
}

/* Length of the UTF-8 character s starts with (1 to 4), or 0 when s does
 * not start one: RFC 3629, as jansson checks it (no overlong forms, no
 * surrogates, nothing above U+10FFFF). Reads no further than a NUL. */
static size_t utf8_char_len(const unsigned char *s)
{
	uint32_t c;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2)
		return 0;   /* a continuation byte, or an overlong 2-byte form */
	if (s[0] < 0xe0) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return n;
}

/* Lock files hold JSON strings, which must be UTF-8: a name cut in the
 * middle of a character, or a host or user name in another encoding,
 * would make the record impossible to encode (every refresh would fail). */
void lock_text_copy(char *dst, size_t size, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0;

	if (size == 0)
		return;
	while (*s) {
		size_t n = utf8_char_len(s);
		if (o + (n ? n : 1) > size - 1)
			break;
		if (n) {
			memcpy(dst + o, s, n);
			o += n;
			s += n;
		} else {
			dst[o++] = '?';
			s++;
		}
	}
	dst[o] = '\0';
}

static void read_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");

	out[0] = '\0';
	if (!f)
		return;
	if (fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

static void machine_id(char out[128])
{
	char boot[64], ns[64];
	ssize_t n;

	read_line("/proc/sys/kernel/random/boot_id", boot, sizeof boot);
	n = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
	ns[n > 0 ? n : 0] = '\0';
	if (boot[0] && ns[0]) {
		char raw[128];
		snprintf(raw, sizeof raw, "%s/%s", boot, ns);
		lock_text_copy(out, 128, raw);
	} else {
		out[0] = '\0';   /* unknown: PIDs are never judged, only the timeout */
	}
}

static void host_name(char out[256])
{
	char raw[256];

	if (gethostname(raw, sizeof raw) != 0)
		strcpy(raw, "unknown");
	raw[255] = '\0';
	lock_text_copy(out, 256, raw);
}

/* Field 22 of /proc/<pid>/stat (start time in clock ticks since boot);
 * 0 when unknown. The command name (field 2) may hold spaces and
 * parentheses, so count fields from the last ')'. */
static uint64_t proc_start(int64_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* After ')': " STATE(3) PPID(4) ... STARTTIME(22)": each step moves p
	 * to the space before the next field. */
	for (int field = 3; field <= 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &v) != 1)
		return 0;
	return v;
}

/* 1 when the process a lock of this machine names is certainly gone. */
static int process_gone(int64_t pid, uint64_t start)
{
	uint64_t now_start;

	if (pid <= 0)
		return 0;
	if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return 1;
	now_start = proc_start(pid);
	return start && now_start && now_start != start;   /* PID reused */
}

static void fmt_age(int64_t ns, char *out, size_t len)
{
	int64_t s = ns / 1000000000LL;

	if (s < 120)
		snprintf(out, len, "%lld s", (long long)s);
	else if (s < 7200)
		snprintf(out, len, "%lld min", (long long)(s / 60));
	else
		snprintf(out, len, "%lld h", (long long)(s / 3600));
}

/* Judge another process's lock now. Returns 1 if stale; why says why (or
 * how fresh it is). */
static int judge(const LockRecord *r, const char *my_host, const char *my_machine, int64_t now,
                 char *why, size_t why_len)
{
	int64_t stale_ns = (r->stale_after_s > 0 ? r->stale_after_s : LOCK_STALE_AFTER_S) * 1000000000LL;
	int64_t age = now - r->refreshed_ns;
	char a[32];

	fmt_age(age > 0 ? age : 0, a, sizeof a);
	if (my_machine[0] && strcmp(r->host, my_host) == 0 && strcmp(r->machine, my_machine) == 0 &&
	    process_gone(r->pid, r->pid_start)) {
		snprintf(why, why_len, "process %lld on this machine is gone", (long long)r->pid);
		return 1;
	}
	/* A refresh time in the future (clock skew) counts as fresh. */
	if (age > stale_ns) {
		snprintf(why, why_len, "not refreshed for %s", a);
		return 1;
	}
	snprintf(why, why_len, "alive (refreshed %s ago)", a);
	return 0;
}

/* ---- the lock file (FORMAT.md §19.1) ---- */

int lock_record_encode(const CodecKeys *keys, const LockRecord *r, uint8_t **out, size_t *out_len)
{
	json_t *o;
	char *text;
	int rc;

	o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
	              "version", FORMAT_VERSION_LOCK, "mode", lock_mode_name(r->mode), "command", r->command,
	              "host", r->host, "user", r->user, "machine", r->machine,
	              "pid", (json_int_t)r->pid, "pid_start", (json_int_t)r->pid_start,
	              "created_ns", (json_int_t)r->created_ns, "refreshed_ns", (json_int_t)r->refreshed_ns,
	              "stale_after_s", (json_int_t)r->stale_after_s);
	text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (!text)
		return -ENOMEM;
	rc = sealed_encode(keys, FORMAT_MAGIC_LOCK, FORMAT_VERSION_LOCK, text, strlen(text), out, out_len);
	free(text);
	return rc;
}

int lock_record_parse(const uint8_t *json, size_t len, LockRecord *out_rec)
{
	const char *mode = NULL, *cmd = NULL, *host = NULL, *user = NULL, *machine = NULL;
	json_int_t pid = 0, start = 0, created = 0, refreshed = 0, stale = 0, version = 0;
	json_error_t jerr;
	LockRecord r;
	json_t *o;
	int rc = STRATA_EFORMAT;

	memset(&r, 0, sizeof r);
	o = json_loadb((const char *)json, len, 0, &jerr);
	if (!o || json_unpack(o, "{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
	                      "version", &version, "mode", &mode, "command", &cmd, "host", &host,
	                      "user", &user, "machine", &machine, "pid", &pid, "pid_start", &start,
	                      "created_ns", &created, "refreshed_ns", &refreshed,
	                      "stale_after_s", &stale) != 0 ||
	    mode_parse(mode, &r.mode) != 0)
		goto out;
	/* jansson has checked the UTF-8; cutting keeps it valid. */
	lock_text_copy(r.command, sizeof r.command, cmd);
	lock_text_copy(r.host, sizeof r.host, host);
	lock_text_copy(r.user, sizeof r.user, user);
	lock_text_copy(r.machine, sizeof r.machine, machine);
	r.pid = pid;
	r.pid_start = (uint64_t)start;
	r.created_ns = created;
	r.refreshed_ns = refreshed;
	r.stale_after_s = stale;
	*out_rec = r;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int lock_record_decode(const CodecKeys *keys, const uint8_t *buf, size_t len, LockRecord *out_rec)
{
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	uint32_t version = 0;
	int rc;

	if (len > LOCK_RECORD_MAX_BYTES)
		return STRATA_EFORMAT;
	/* Any version is opened, so that "newer" is believed only of a
	 * lock sealed with this repository's key: a VERSION field anyone
	 * can write must not be enough to block every taker. */
	rc = sealed_decode(keys, FORMAT_MAGIC_LOCK, UINT32_MAX, buf, len, &plain, &plain_len, &version);
	if (rc)
		return rc;
	if (version > FORMAT_VERSION_LOCK)
		rc = STRATA_EVERSION;
	else if ((rc = lock_record_parse(plain, plain_len, out_rec)) == STRATA_EFORMAT)
		rc = STRATA_EDAMAGED;
	free(plain);
	return rc;
}

static int write_record(Lock *l, StrataErr *err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	RemoteErr rerr = {{0}};
	int rc;

	rc = lock_record_encode(l->keys, &l->rec, &buf, &len);
	if (rc)
		return strata_err_set(err, rc, "cannot seal lock file: %s", strata_strerror(rc));
	rc = backend_put(l->be, l->name, buf, len, &rerr);
	free(buf);
	if (rc)
		return strata_err_set(err, rc, "cannot write lock file %s: %s", l->name,
		                      rerr.msg[0] ? rerr.msg : strata_strerror(rc));
	return 0;
}

/* ---- reading every lock ---- */

/* Append id (64 hex digits); 1 when out of memory (l->oom set). */
static int name_list_add(struct name_list *l, const char *id)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		void *p = realloc(l->ids, cap * sizeof *l->ids);
		if (!p) {
			l->oom = 1;
			return 1;
		}
		l->ids = p;
		l->cap = cap;
	}
	snprintf(l->ids[l->n++], STRATA_ID_HEX_LEN + 1, "%s", id);
	return 0;
}

static int collect_name(const char *name, uint64_t size, void *ctx)
{
	const char *base = name + strlen(LOCK_DIR);
	uint8_t id[STRATA_ID_LEN];

	(void)size;
	if (strncmp(name, LOCK_DIR, strlen(LOCK_DIR)) != 0 || codec_unhex(base, id, sizeof id) != 0)
		return 0;
	return name_list_add(ctx, base);
}

static int list_names(Backend *be, struct name_list *l, StrataErr *err)
{
	RemoteErr rerr = {{0}};
	int rc = backend_list(be, LOCK_DIR, collect_name, l, &rerr);

	if (l->oom)
		return strata_err_set(err, -ENOMEM, "listing locks: out of memory");
	if (rc)
		return strata_err_set(err, rc, "cannot list locks: %s", rerr.msg[0] ? rerr.msg : strata_strerror(rc));
	return 0;
}

/* What a file in locks/ turned out to be (FORMAT.md §14 "Locks that
 * cannot be read"). */
typedef enum LockFile {
	LOCK_FILE_OK,           /* a lock of this version: *r filled */
	LOCK_FILE_GONE,         /* vanished since the listing (released) */
	LOCK_FILE_JUNK,         /* cannot be a lock of this repository: ignored */
	LOCK_FILE_NEWER,        /* authentic, of a newer lock version: blocks */
	LOCK_FILE_UNREADABLE    /* authentic, but not a lock record: blocks */
} LockFile;

/* Read locks/<id> into *r, at most LOCK_RECORD_MAX_BYTES of it: *out_kind
 * says what it is; for every kind but OK and GONE, *out_cause says why in
 * a few words and why[why_len] in one line naming the object. Returns 0,
 * or an I/O error from the backend (err set). */
static int read_record(Backend *be, const CodecKeys *keys, const char *id, LockRecord *r,
                       LockFile *out_kind, const char **out_cause, char *why, size_t why_len,
                       StrataErr *err)
{
	char name[REPO_NAME_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	RemoteErr rerr = {{0}};
	int rc;

	snprintf(name, sizeof name, LOCK_DIR "%s", id);
	rc = backend_get(be, name, LOCK_RECORD_MAX_BYTES, &buf, &len, &rerr);
	if (rc == -ENOENT) {
		*out_kind = LOCK_FILE_GONE;
		return 0;
	}
	if (rc == -EFBIG) {
		/* Refused unread: a 3 GiB file here costs nothing. */
		*out_kind = LOCK_FILE_JUNK;
		*out_cause = "larger than any lock file";
		snprintf(why, why_len, "%s for a lock file", rerr.msg);
		return 0;
	}
	if (rc)
		return strata_err_set(err, rc, "cannot read lock %s: %s", name, rerr.msg[0] ? rerr.msg : strata_strerror(rc));
	rc = lock_record_decode(keys, buf, len, r);
	free(buf);
	switch (rc) {
	case 0:
		*out_kind = LOCK_FILE_OK;
		return 0;
	case STRATA_EFORMAT:
		*out_kind = LOCK_FILE_JUNK;
		*out_cause = "not a sealed lock file";
		break;
	case STRATA_EAUTH:
		*out_kind = LOCK_FILE_JUNK;
		*out_cause = "fails authentication (not sealed with this repository's key)";
		break;
	case STRATA_EVERSION:
		*out_kind = LOCK_FILE_NEWER;
		*out_cause = "written by a newer strata";
		break;
	case STRATA_EDAMAGED:
		*out_kind = LOCK_FILE_UNREADABLE;
		*out_cause = "sealed with this repository's key, but not a lock record";
		break;
	default:
		return strata_err_set(err, rc, "cannot read lock %s: %s", name, strata_strerror(rc));
	}
	snprintf(why, why_len, "%s: %s", name, *out_cause);
	return 0;
}

/* Report an ignored file once per lock_acquire, however often a waiting
 * taker lists again. */
static void warn_junk(Lock *l, const char *id, const char *why)
{
	char msg[STRATA_ERRMSG_LEN];

	if (!l->on_warn)
		return;
	for (size_t i = 0; i < l->warned.n; i++)
		if (strcmp(l->warned.ids[i], id) == 0)
			return;
	name_list_add(&l->warned, id);   /* out of memory: only warns again */
	snprintf(msg, sizeof msg, "ignoring %s; `strata unlock` removes it", why);
	l->on_warn(msg, l->warn_ctx);
}

static void fmt_when(int64_t ns, char *out, size_t len)
{
	time_t t = (time_t)(ns / 1000000000LL);
	struct tm tm;

	if (!localtime_r(&t, &tm) || strftime(out, len, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
		snprintf(out, len, "@%lld", (long long)t);
}

/* The STRATA_ELOCKED message for a holder r that blocks a lock of mode. */
static int holder_err(StrataErr *err, LockMode mode, const LockRecord *r, const char *why)
{
	char when[64];

	fmt_when(r->created_ns, when, sizeof when);
	if (r->mode == LOCK_EXCLUSIVE)
		return strata_err_set(err, STRATA_ELOCKED,
		                      "repository is locked exclusively by %s on host %s pid %lld (user %s) since %s, %s; run `strata unlock` if it is stale",
		                      r->command, r->host, (long long)r->pid, r->user, when, why);
	if (mode == LOCK_EXCLUSIVE)
		return strata_err_set(err, STRATA_ELOCKED,
		                      "repository is in use by %s on host %s pid %lld (user %s) since %s, %s (%s lock); wait for it to finish, or run `strata unlock` if it is stale",
		                      r->command, r->host, (long long)r->pid, r->user, when, why,
		                      lock_mode_name(r->mode));
	return strata_err_set(err, STRATA_ELOCKED,
	                      "repository is locked by %s on host %s pid %lld (user %s) since %s, %s (one prune at a time); run `strata unlock` if it is stale",
	                      r->command, r->host, (long long)r->pid, r->user, when, why);
}

/* After writing our own lock: look for a live lock of another process that
 * conflicts with ours. 0, STRATA_ELOCKED (err names the holder) or an I/O
 * error. */
static int find_conflict(Lock *l, StrataErr *err)
{
	struct name_list names = {0};
	LockRecord r;
	LockFile kind;
	const char *cause = NULL;
	char why[STRATA_ERRMSG_LEN];
	int64_t now = now_ns();
	int rc;

	rc = list_names(l->be, &names, err);
	if (rc)
		goto out;
	for (size_t i = 0; i < names.n; i++) {
		if (strcmp(names.ids[i], l->id) == 0)
			continue;
		rc = read_record(l->be, l->keys, names.ids[i], &r, &kind, &cause, why, sizeof why, err);
		if (rc)
			goto out;
		if (kind == LOCK_FILE_GONE)
			continue;
		/* Anyone who can write locks/ can make such a file, but can
		 * delete any lock as well: ignoring it gives them nothing,
		 * obeying it would let them stop every backup and prune. */
		if (kind == LOCK_FILE_JUNK) {
			warn_junk(l, names.ids[i], why);
			continue;
		}
		if (kind == LOCK_FILE_NEWER) {
			/* Only a holder of the key can have sealed it: it may be
			 * the live lock of a newer strata, which we cannot judge. */
			rc = strata_err_set(err, STRATA_ELOCKED,
			                    "repository has a lock written by a newer strata (locks/%s); upgrade strata, or if no other strata is running, remove it with `strata unlock --remove-all`",
			                    names.ids[i]);
			goto out;
		}
		if (kind == LOCK_FILE_UNREADABLE) {
			rc = strata_err_set(err, STRATA_ELOCKED,
			                    "repository has a lock file that cannot be read (locks/%s: %s); if no other strata is running, remove it with `strata unlock --remove-all`",
			                    names.ids[i], cause);
			goto out;
		}
		if (strcmp(r.host, l->rec.host) == 0 && strcmp(r.machine, l->rec.machine) == 0 &&
		    r.pid == l->rec.pid)
			continue;   /* our own process's other lock */
		if (!conflicts(l->rec.mode, r.mode) ||
		    judge(&r, l->rec.host, l->rec.machine, now, why, sizeof why))
			continue;
		rc = holder_err(err, l->rec.mode, &r, why);
		goto out;
	}
	rc = 0;
out:
	free(names.ids);
	return rc;
}

static void delete_own(Lock *l)
{
	RemoteErr rerr = {{0}};

	backend_delete(l->be, l->name, &rerr);
}

/* ---- the refresher ---- */

static void set_lost(Lock *l, const char *why)
{
	pthread_mutex_lock(&l->mu);
	if (!l->lost) {
		l->lost = 1;
		snprintf(l->lost_why, sizeof l->lost_why, "%s", why);
	}
	pthread_mutex_unlock(&l->mu);
}

static void set_removed(Lock *l)
{
	char why[256];

	snprintf(why, sizeof why, "lock %s was removed by another process (`strata unlock --remove-all`?)", l->name);
	set_lost(l, why);
}

/* One refresh. Returns 1 when the lock is lost. */
static int refresh_once(Lock *l)
{
	int64_t stale_ns = l->rec.stale_after_s * 1000000000LL, since, started = boot_ns();
	RemoteErr rerr = {{0}};
	uint64_t size;
	char why[256], a[32];
	int rc;

	pthread_mutex_lock(&l->mu);
	since = started - l->last_ok_boot_ns;
	pthread_mutex_unlock(&l->mu);
	if (since > stale_ns) {
		fmt_age(since, a, sizeof a);
		snprintf(why, sizeof why,
		         "lock %s was not refreshed for %s, longer than its stale timeout of %lld s (machine suspended or storage unreachable?): another process may have taken the repository",
		         l->name, a, (long long)l->rec.stale_after_s);
		set_lost(l, why);
		return 1;
	}
	rc = backend_stat(l->be, l->name, &size, &rerr);
	if (rc == -ENOENT) {
		set_removed(l);
		return 1;
	}
	if (rc)
		return 0;   /* retried at the next tick; the timeout above bounds it */
	l->rec.refreshed_ns = now_ns();
	/* The lock counts as fresh from when this refresh started, not from
	 * when its write returned: a process stopped or suspended in the
	 * middle of the write (others may have judged the lock stale and
	 * taken the repository meanwhile) must not come back believing it
	 * just refreshed. */
	if (write_record(l, NULL) == 0) {
		pthread_mutex_lock(&l->mu);
		if (started > l->last_ok_boot_ns)
			l->last_ok_boot_ns = started;
		pthread_mutex_unlock(&l->mu);
	}
	return 0;
}

static void *refresher(void *arg)
{
	Lock *l = arg;
	struct timespec until;
	int lost = 0;

	pthread_mutex_lock(&l->mu);
	while (!l->stop && !lost) {
		/* CLOCK_REALTIME (the condvar's clock) keeps running during a
		 * suspend, so after a resume the refresher wakes at once. */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += l->refresh_s;
		pthread_cond_timedwait(&l->cv, &l->mu, &until);
		if (l->stop)
			break;
		pthread_mutex_unlock(&l->mu);
		lost = refresh_once(l);
		if (lost && l->on_lost)
			l->on_lost(l->lost_why, l->lost_ctx);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static void lock_free(Lock *l)
{
	if (!l)
		return;
	codec_keys_free(l->keys);
	backend_free(l->be);
	free(l->warned.ids);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

/* The signals that end a waiting strata (SIGTERM from systemd or a job
 * runner's timeout, ^C, a closed terminal). */
static void ending_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
}

/* One try at the lock: write our file, look for a conflicting one, and
 * on any failure delete ours again. The ending signals stay blocked in
 * the calling thread meanwhile (its old mask in *old, for the caller to
 * restore, whatever the result), so that one arriving between the write
 * and the delete of a failed try ends the process only after the delete:
 * a waiter stopped while it waits leaves no lock behind (one left would
 * hold off other hosts for its stale timeout). Another thread of the
 * process that has them unblocked may still take them (the refresher of
 * a lock the process already holds, --post-hook's signal thread). */
static int attempt(Lock *l, sigset_t *old, StrataErr *err)
{
	sigset_t block;
	int rc;

	ending_signals(&block);
	pthread_sigmask(SIG_BLOCK, &block, old);
	l->rec.refreshed_ns = now_ns();
	rc = write_record(l, err);
	if (rc)
		return rc;
	l->last_ok_boot_ns = boot_ns();
	rc = find_conflict(l, err);
	if (rc)
		delete_own(l);
	return rc;
}

/* Sleep about ms (half to one and a half times: two waiters started
 * together do not keep colliding), at most max_ms. */
static void retry_sleep(long ms, long max_ms)
{
	uint32_t jitter;
	struct timespec ts;

	codec_random(&jitter, sizeof jitter);
	ms = ms / 2 + (long)(jitter % (uint32_t)ms);
	if (ms > max_ms)
		ms = max_ms;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int lock_acquire(Repo *repo, LockMode mode, const LockOptions *opts, Lock **out,
                 StrataErr *err)
{
	Lock *l = calloc(1, sizeof *l);
	uint8_t rid[STRATA_ID_LEN];
	RemoteErr rerr = {{0}};
	struct passwd *pw;
	int64_t deadline;
	long delay_ms = LOCK_RETRY_MIN_MS, max_ms = LOCK_RETRY_MAX_MS;
	int rc;

	if (!l)
		return strata_err_set(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	rc = backend_open(repo->location, &l->be, &rerr);
	if (rc) {
		repo_remote_err(err, rc, &rerr);
		goto fail;
	}
	l->keys = codec_keys_new(repo->keys->master);
	if (!l->keys) {
		rc = strata_err_set(err, -ENOMEM, "cannot allocate locked memory for keys");
		goto fail;
	}
	codec_random(rid, sizeof rid);
	codec_hex(rid, sizeof rid, l->id);
	snprintf(l->name, sizeof l->name, LOCK_DIR "%s", l->id);
	l->refresh_s = opts && opts->refresh_s > 0 ? opts->refresh_s : LOCK_REFRESH_S;
	l->on_lost = opts ? opts->on_lost : NULL;
	l->lost_ctx = opts ? opts->lost_ctx : NULL;
	l->on_warn = opts ? opts->on_warn : NULL;
	l->warn_ctx = opts ? opts->warn_ctx : NULL;
	l->rec.mode = mode;
	lock_text_copy(l->rec.command, sizeof l->rec.command, opts && opts->command ? opts->command : "strata");
	host_name(l->rec.host);
	pw = getpwuid(getuid());
	lock_text_copy(l->rec.user, sizeof l->rec.user, pw ? pw->pw_name : "unknown");
	machine_id(l->rec.machine);
	l->rec.pid = getpid();
	l->rec.pid_start = proc_start(l->rec.pid);
	l->rec.created_ns = now_ns();
	l->rec.stale_after_s = opts && opts->stale_after_s > 0 ? opts->stale_after_s : LOCK_STALE_AFTER_S;
	deadline = boot_ns() + (opts && opts->wait_s > 0 ? opts->wait_s : 0) * 1000000000LL;
	if (opts && opts->retry_max_ms > 0)
		max_ms = opts->retry_max_ms < 2 ? 2 : (long)(opts->retry_max_ms < LOCK_RETRY_MAX_MS ? opts->retry_max_ms : LOCK_RETRY_MAX_MS);
	if (delay_ms > max_ms)
		delay_ms = max_ms;
	for (;;) {
		sigset_t old;
		int64_t left_ms;
		rc = attempt(l, &old, err);
		/* Ours is held, or its file gone: a pending SIGTERM may end us now. */
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc == 0)
			break;
		left_ms = (deadline - boot_ns()) / 1000000;
		if (rc != STRATA_ELOCKED || left_ms <= 0)
			goto fail;
		retry_sleep(delay_ms, left_ms);
		delay_ms = delay_ms * 2 > max_ms ? max_ms : delay_ms * 2;
	}
	if (pthread_create(&l->thread, NULL, refresher, l) != 0) {
		delete_own(l);
		rc = strata_err_set(err, -EAGAIN, "cannot start the lock refresher thread");
		goto fail;
	}
	l->thread_running = 1;
	*out = l;
	return 0;
fail:
	lock_free(l);
	return rc;
}

int lock_check(Lock *lock, StrataErr *err)
{
	RemoteErr rerr = {{0}};
	uint64_t size;
	int64_t since;
	char a[32];
	int rc = 0;

	pthread_mutex_lock(&lock->mu);
	since = boot_ns() - lock->last_ok_boot_ns;
	if (!lock->lost && since > lock->rec.stale_after_s * 1000000000LL) {
		fmt_age(since, a, sizeof a);
		lock->lost = 1;
		snprintf(lock->lost_why, sizeof lock->lost_why,
		         "lock %s was not refreshed for %s, longer than its stale timeout: another process may have taken the repository",
		         lock->name, a);
	}
	if (lock->lost)
		rc = strata_err_set(err, STRATA_ELOCKED, "%s", lock->lost_why);
	pthread_mutex_unlock(&lock->mu);
	if (rc)
		return rc;
	/* The refresher notices a removed lock file at its next tick; the
	 * step this check guards may come first, so look now. Other errors
	 * are the refresher's (the stale timeout bounds them). */
	if (backend_stat(lock->be, lock->name, &size, &rerr) == -ENOENT) {
		set_removed(lock);
		return lock_check(lock, err);
	}
	return 0;
}

void lock_release(Lock *lock)
{
	if (!lock)
		return;
	if (lock->thread_running) {
		pthread_mutex_lock(&lock->mu);
		lock->stop = 1;
		pthread_cond_broadcast(&lock->cv);
		pthread_mutex_unlock(&lock->mu);
		pthread_join(lock->thread, NULL);
	}
	delete_own(lock);
	lock_free(lock);
}

int lock_list(Repo *repo, LockInfo **out, size_t *out_n, StrataErr *err)
{
	struct name_list names = {0};
	LockInfo *infos = NULL;
	char host[256], machine[128];
	int64_t now = now_ns();
	size_t n = 0;
	int rc;

	host_name(host);
	machine_id(machine);
	rc = list_names(repo->be, &names, err);
	if (rc)
		goto out;
	infos = calloc(names.n ? names.n : 1, sizeof *infos);
	if (!infos) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < names.n; i++) {
		LockInfo *li = &infos[n];
		LockRecord r;
		LockFile kind;
		const char *cause = NULL;
		char why[STRATA_ERRMSG_LEN];
		rc = read_record(repo->be, repo->keys, names.ids[i], &r, &kind, &cause, why, sizeof why, err);
		if (rc)
			goto out;
		if (kind == LOCK_FILE_GONE)
			continue;
		snprintf(li->id, sizeof li->id, "%s", names.ids[i]);
		n++;
		/* The short reasons: `strata unlock` prints the ID beside them. */
		if (kind == LOCK_FILE_JUNK) {
			li->stale = 1;   /* ignored by every taker, as lock_acquire does */
			snprintf(li->why, sizeof li->why, "not a lock of this repository, ignored: %s", cause);
			continue;
		}
		if (kind == LOCK_FILE_NEWER || kind == LOCK_FILE_UNREADABLE) {
			snprintf(li->why, sizeof li->why, "cannot be read: %s", cause);
			continue;
		}
		li->readable = 1;
		li->mode = r.mode;
		snprintf(li->command, sizeof li->command, "%s", r.command);
		snprintf(li->host, sizeof li->host, "%s", r.host);
		snprintf(li->user, sizeof li->user, "%s", r.user);
		li->pid = r.pid;
		li->created_ns = r.created_ns;
		li->refreshed_ns = r.refreshed_ns;
		li->stale_after_s = r.stale_after_s;
		li->stale = judge(&r, host, machine, now, li->why, sizeof li->why);
	}
	rc = 0;
	*out = infos;
	*out_n = n;
	infos = NULL;
out:
	free(infos);
	free(names.ids);
	return rc;
}

int lock_remove(Repo *repo, const char *id, StrataErr *err)
{
	char name[REPO_NAME_MAX];
	RemoteErr rerr = {{0}};
	int rc;

	snprintf(name, sizeof name, LOCK_DIR "%s", id);
	rc = backend_delete(repo->be, name, &rerr);
	if (rc)
		return strata_err_set(err, rc, "cannot remove lock %s: %s", name,
		                      rerr.msg[0] ? rerr.msg : strata_strerror(rc));
	return 0;
}
