/* repo_keys.c — the key files of a repository: which one opens it, and
 * key list, add, remove and passwd. See repo.h and repo_internal.h.
 * FORMAT.md "Key file" (the checks and the order of the trial), "Key cache
 * entry", "Local cache" (the last-used key).
 *
 * Anyone who can write keys/ can plant a key file, and every command of
 * every host tries key files before anything else: so nothing here runs
 * Argon2id for a file that is misnamed or asks for settings out of
 * bounds, and the expensive part (Argon2id) goes to the likeliest file
 * first. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/keycache.h"
#include "store/keyfile.h"
#include "store/repo_internal.h"

/* Skipped files warned about one by one; more are counted in one line (a
 * keys/ full of junk must not flood every command's output). */
#define MAX_SKIP_LINES 32

int repo_key_put(Backend *be, CodecNameHash alg, const uint8_t *buf, size_t len,
                 char out_id_hex[STRATA_ID_HEX_LEN + 1], StrataErr *err)
{
	uint8_t id[STRATA_ID_LEN];
	char name[REPO_NAME_MAX], hex[STRATA_ID_HEX_LEN + 1];
	RemoteErr rerr = {{0}};
	int rc;

	rc = codec_name_hash(alg, buf, len, id);
	if (rc)
		return strata_err_set(err, rc, "cannot hash the key file: out of memory");
	codec_hex(id, STRATA_ID_LEN, hex);
	snprintf(name, sizeof name, "keys/%s", hex);
	rc = backend_put(be, name, buf, len, &rerr);
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	if (out_id_hex)
		memcpy(out_id_hex, hex, sizeof hex);
	return 0;
}

static int is_key_id(const char *s)
{
	size_t i;

	for (i = 0; i < STRATA_ID_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[i] == '\0';
}

/* The ID in a key file's name: 64 lowercase hex digits right under keys/
 * (FORMAT.md "Directory tree"), or NULL. */
static const char *key_id_of(const char *name)
{
	return strncmp(name, "keys/", 5) == 0 && is_key_id(name + 5) ? name + 5 : NULL;
}

/* check_key — what a key file passes before any Argon2id work: a size a
 * key file can have, a name that is the name hash of its bytes, and
 * keyfile_info (known version and KDF, settings in bounds). 0; or the
 * code, with err saying why (without the file's name); -ENOMEM. */
static int check_key(CodecNameHash alg, const char *name, const uint8_t *buf, size_t len, KeyFileInfo *info,
                     StrataErr *err)
{
	uint8_t sum[STRATA_ID_LEN];
	char hex[STRATA_ID_HEX_LEN + 1];
	int rc;

	if (len > KEYFILE_MAX_LEN)
		return strata_err_set(err, STRATA_EFORMAT, "%zu bytes, larger than any key file (%u bytes at most)",
		                      len, KEYFILE_MAX_LEN);
	rc = codec_name_hash(alg, buf, len, sum);
	if (rc)
		return strata_err_set(err, rc, "cannot hash it: out of memory");
	codec_hex(sum, sizeof sum, hex);
	if (strcmp(hex, name + 5) != 0)
		return strata_err_set(err, STRATA_EDAMAGED,
		                      "content does not match its name (damaged, or not written by strata)");
	return keyfile_info(buf, len, info, err);
}

/* One name from a listing of keys/. */
struct listed {
	char name[REPO_NAME_MAX];
	uint64_t size;
};

struct listing {
	struct listed *v;
	size_t n, cap;
};

static int collect(const char *name, uint64_t size, void *ctx)
{
	struct listing *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		void *p = realloc(l->v, cap * sizeof *l->v);

		if (!p)
			return -ENOMEM;
		l->v = p;
		l->cap = cap;
	}
	snprintf(l->v[l->n].name, sizeof l->v[l->n].name, "%s", name);
	l->v[l->n].size = size;
	l->n++;
	return 0;
}

static int list_keys(Backend *be, struct listing *l, StrataErr *err)
{
	RemoteErr rerr = {{0}};
	int rc = backend_list(be, "keys/", collect, l, &rerr);

	if (rc == -ENOMEM && !rerr.msg[0])
		return strata_err_set(err, rc, "out of memory");
	return rc ? repo_remote_err(err, rc, &rerr) : 0;
}

/* ---- which key file opens the repository ---- */

/* A key file that passed check_key, and what Argon2id costs for it. */
struct cand {
	char name[REPO_NAME_MAX];
	uint64_t cost;         /* opslimit x memlimit: Argon2id's time grows with both */
	uint8_t *buf;          /* its bytes, or NULL past CAND_BYTES_MAX: fetched again */
	size_t len;
};

/* Bytes of checked key files kept until their turn (a key file is under
 * 1 KiB: hundreds of them). Past that, a file is fetched again when its
 * turn comes, so that a keys/ full of planted files costs requests, not
 * memory. */
#define CAND_BYTES_MAX (256u << 10)

typedef struct Trial {
	Repo *repo;
	CodecNameHash alg;
	const char *password;
	size_t password_len;
	const RepoOpenOpts *opts;
	size_t wrong;                   /* key files the password did not open */
	size_t key_skips;               /* key files skipped */
	StrataErr first;                /* the first of them, "key file keys/<id>: why" */
	size_t first_line;              /* its index in lines */
	char lines[MAX_SKIP_LINES][STRATA_ERRMSG_LEN];   /* every skip, in order */
	size_t nlines, more;            /* more: skips beyond MAX_SKIP_LINES */
} Trial;

static void say(const Trial *t, int warning, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(const Trial *t, int warning, const char *fmt, ...)
{
	char line[STRATA_ERRMSG_LEN + 64];
	va_list ap;

	if (!t->opts->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	t->opts->log(warning, line, t->opts->log_ctx);
}

/* Record a skipped file (is_key: a file named like a key file, which
 * counts for the error when nothing opens). */
static void skip(Trial *t, int is_key, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void skip(Trial *t, int is_key, int code, const char *fmt, ...)
{
	char line[STRATA_ERRMSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (is_key && t->key_skips++ == 0) {
		strata_err_set(&t->first, code, "%s", line);
		t->first_line = t->nlines;
	}
	if (t->nlines < MAX_SKIP_LINES)
		memcpy(t->lines[t->nlines++], line, sizeof line);
	else
		t->more++;
}

/* The warnings, once the outcome is known; all but the first key file's
 * when that one is the error. */
static void warn_skips(const Trial *t, int first_is_error)
{
	for (size_t i = 0; i < t->nlines; i++)
		if (!(first_is_error && i == t->first_line))
			say(t, 1, "%s; skipped", t->lines[i]);
	if (t->more)
		say(t, 1, "%zu more files in keys/ skipped", t->more);
}

/* get — a file of keys/: 0, -ENOENT (gone since the listing, or the
 * hint's file was removed), -EFBIG (larger than any key file: skipped,
 * with a warning, unread), or a backend failure (in err). */
static int get(Trial *t, const char *name, uint8_t **buf, size_t *len, StrataErr *err)
{
	RemoteErr rerr = {{0}};
	int rc = backend_get(t->repo->be, name, KEYFILE_MAX_LEN, buf, len, &rerr);

	if (rc == -EFBIG)
		skip(t, 1, STRATA_EFORMAT, "key file %s: larger than any key file (%u bytes at most)", name,
		     KEYFILE_MAX_LEN);
	else if (rc && rc != -ENOENT)
		return repo_remote_err(err, rc, &rerr);
	return rc;
}

/* try_key — check and unwrap key file `name`: its bytes buf (taken
 * over), or fetched when buf is NULL. 1: it opened (out filled); 0: go on
 * (skipped, wrong password, gone); < 0: a failure that ends the open
 * (backend, memory). */
static int try_key(Trial *t, const char *name, uint8_t *buf, size_t len, int hinted, RepoUnlock *out,
                   StrataErr *err)
{
	StrataErr kerr = {0};
	KeyFileInfo info;
	int rc;

	if (!buf) {
		rc = get(t, name, &buf, &len, err);
		if (rc == -EFBIG)
			return 0;
		if (rc == -ENOENT) {
			if (hinted)
				say(t, 0, "key file: %s opened the repository last time, but is gone", name);
			return 0;
		}
		if (rc)
			return rc;
	}
	rc = check_key(t->alg, name, buf, len, &info, &kerr);
	if (rc == 0) {
		say(t, 0, "key file: trying %s%s", name, hinted ? " (it opened the repository last time)" : "");
		rc = keyfile_unwrap(buf, len, t->password, t->password_len, out->master, NULL, &kerr);
	}
	if (rc == 0) {
		snprintf(out->id_hex, sizeof out->id_hex, "%s", name + 5);
		out->keyfile = buf;
		out->keyfile_len = len;
		return 1;
	}
	free(buf);
	if (rc == -ENOMEM)
		return strata_err_set(err, rc, "key file %s: %s", name, kerr.msg);
	if (rc == STRATA_EPASSWORD)
		t->wrong++;
	else
		skip(t, 1, rc, "key file %s: %s", name, kerr.msg);
	return 0;
}

static int by_cost(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->cost != y->cost)
		return x->cost < y->cost ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Every key file but the hint's: checked first, then tried cheapest
 * first, so that a planted key file costlier than the right one is never
 * tried with the right password. 1, 0 or < 0 as try_key. */
static int try_listed(Trial *t, RepoUnlock *out, StrataErr *err)
{
	struct listing l = {0};
	struct cand *c = NULL;
	size_t nc = 0, held = 0;
	int rc;

	rc = list_keys(t->repo->be, &l, err);
	if (rc)
		goto out;
	c = calloc(l.n ? l.n : 1, sizeof *c);
	if (!c) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		const char *name = l.v[i].name, *id = key_id_of(name);
		uint8_t *buf = NULL;
		size_t len = 0;
		StrataErr kerr = {0};
		KeyFileInfo info;

		if (!id) {
			/* "keys/" itself is the folder marker some S3 tools make. */
			if (strcmp(name, "keys/") != 0)
				skip(t, 0, STRATA_EFORMAT, "%s: not a key file (a key file's name is 64 lowercase hex digits)",
				     name);
			continue;
		}
		if (strcmp(id, t->repo->key_hint) == 0)
			continue;        /* tried already */
		if (l.v[i].size > KEYFILE_MAX_LEN) {
			skip(t, 1, STRATA_EFORMAT, "key file %s: %llu bytes, larger than any key file (%u bytes at most)",
			     name, (unsigned long long)l.v[i].size, KEYFILE_MAX_LEN);
			continue;
		}
		rc = get(t, name, &buf, &len, err);
		if (rc == -ENOENT)
			continue;
		if (rc)
			goto out;
		rc = check_key(t->alg, name, buf, len, &info, &kerr);
		if (rc == 0 && held + len > CAND_BYTES_MAX) {
			free(buf);
			buf = NULL;
		}
		if (rc)
			free(buf);
		if (rc == -ENOMEM) {
			strata_err_set(err, rc, "key file %s: %s", name, kerr.msg);
			goto out;
		}
		if (rc) {
			skip(t, 1, rc, "key file %s: %s", name, kerr.msg);
			continue;
		}
		memcpy(c[nc].name, name, sizeof c[nc].name);
		c[nc].cost = info.opslimit * info.memlimit;
		c[nc].buf = buf;
		c[nc].len = buf ? len : 0;
		held += c[nc].len;
		nc++;
	}
	qsort(c, nc, sizeof *c, by_cost);
	rc = 0;
	/* A file fetched again is checked again (replaced since, its name no
	 * longer matches), so what runs Argon2id is always what passed. */
	for (size_t i = 0; i < nc && rc == 0; i++) {
		rc = try_key(t, c[i].name, c[i].buf, c[i].len, 0, out, err);
		c[i].buf = NULL;
	}
out:
	for (size_t i = 0; c && i < nc; i++)
		free(c[i].buf);
	free(c);
	free(l.v);
	return rc;
}

/* The key cache entry (keycache.h), opened with the key file it names and
 * the password; that key file must pass check_key as any other. 0, or -1
 * for a miss (whatever the reason). */
static int from_cache(Trial *t, RepoUnlock *out)
{
	uint8_t entry[KEYCACHE_ENTRY_LEN], id[STRATA_ID_LEN], *buf = NULL;
	char name[REPO_NAME_MAX];
	RemoteErr rerr = {{0}};
	KeyFileInfo info;
	size_t len = 0;
	int rc;

	if (keycache_get(t->repo->key_cache_name, entry) != 0 || keycache_key_id(entry, sizeof entry, id) != 0)
		return -1;
	codec_hex(id, sizeof id, out->id_hex);
	snprintf(name, sizeof name, "keys/%s", out->id_hex);
	if (backend_get(t->repo->be, name, KEYFILE_MAX_LEN, &buf, &len, &rerr) != 0)
		return -1;
	rc = check_key(t->alg, name, buf, len, &info, NULL) != 0 ? -1 :
	     keycache_open(t->repo->key_cache_name, entry, sizeof entry, buf, len, t->password, t->password_len,
	                   out->master);
	free(buf);
	if (rc == 0)
		out->from_cache = 1;
	return rc;
}

/* The last-used key of repo->key_hint_path into repo->key_hint: a regular
 * file holding 64 lowercase hex digits and a newline. Anything else (no
 * file, a link, a FIFO, junk) is no hint; the hint only decides which key
 * file is tried first, so a hostile one costs at most one Argon2id. */
static void hint_read(Repo *repo)
{
	char buf[STRATA_ID_HEX_LEN + 2];       /* one byte more than a hint: longer is junk */
	struct stat st;
	ssize_t n;
	int fd;

	repo->key_hint[0] = '\0';
	if (!repo->key_hint_path[0])
		return;
	fd = open(repo->key_hint_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		n = read(fd, buf, sizeof buf);
		if (n == STRATA_ID_HEX_LEN + 1 && buf[STRATA_ID_HEX_LEN] == '\n') {
			buf[STRATA_ID_HEX_LEN] = '\0';
			if (is_key_id(buf))
				memcpy(repo->key_hint, buf, sizeof repo->key_hint);
		}
	}
	close(fd);
}

void repo_keys_remember(Repo *repo, const char *id_hex)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 16], line[STRATA_ID_HEX_LEN + 2];
	char *slash;
	int fd, dfd, ok;

	if (!repo->key_hint_path[0] || strcmp(repo->key_hint, id_hex) == 0 || !is_key_id(id_hex))
		return;
	snprintf(dir, sizeof dir, "%s", repo->key_hint_path);
	slash = strrchr(dir, '/');
	if (!slash)
		return;
	*slash = '\0';
	if (repo_mkdir_p(dir) != 0)
		return;
	snprintf(tmp, sizeof tmp, "%s/.tmp-XXXXXX", dir);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return;
	snprintf(line, sizeof line, "%s\n", id_hex);
	ok = write(fd, line, STRATA_ID_HEX_LEN + 1) == STRATA_ID_HEX_LEN + 1 && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, repo->key_hint_path) != 0) {
		unlink(tmp);
		return;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	memcpy(repo->key_hint, id_hex, sizeof repo->key_hint);
}

int repo_keys_unlock(Repo *repo, CodecNameHash alg, const char *password, size_t password_len,
                     const RepoOpenOpts *opts, RepoUnlock *out, StrataErr *err)
{
	Trial *t;
	char name[REPO_NAME_MAX];
	int rc = 0;

	memset(out, 0, sizeof *out);
	t = calloc(1, sizeof *t);
	if (!t)
		return strata_err_set(err, -ENOMEM, "out of memory");
	t->repo = repo;
	t->alg = alg;
	t->password = password;
	t->password_len = password_len;
	t->opts = opts;
	hint_read(repo);
	if (opts->key_cache_ttl && from_cache(t, out) == 0)
		goto out;
	if (repo->key_hint[0]) {
		snprintf(name, sizeof name, "keys/%s", repo->key_hint);
		rc = try_key(t, name, NULL, 0, 1, out, err);
	}
	if (rc == 0)
		rc = try_listed(t, out, err);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		warn_skips(t, 0);
		rc = 0;
	} else if (t->wrong) {
		warn_skips(t, 0);
		rc = strata_err_set(err, STRATA_EPASSWORD, "wrong password for repository %s (no key file opens with it)",
		                    repo->location);
	} else if (t->key_skips) {
		warn_skips(t, 1);
		rc = t->first.code;
		if (err)
			*err = t->first;
	} else {
		warn_skips(t, 0);
		rc = strata_err_set(err, STRATA_EPASSWORD, "repository %s has no key files", repo->location);
	}
out:
	if (rc) {
		codec_wipe(out->master, sizeof out->master);
		free(out->keyfile);
		out->keyfile = NULL;
	}
	free(t);
	return rc;
}

/* ---- key list, add, remove, passwd ---- */

int repo_key_list(Repo *repo, RepoKeyInfo **out_keys, size_t *out_n, StrataErr *err)
{
	struct listing l = {0};
	RepoKeyInfo *keys = NULL;
	size_t n = 0;
	int rc;

	rc = list_keys(repo->be, &l, err);
	if (rc)
		goto out;
	keys = calloc(l.n ? l.n : 1, sizeof *keys);
	if (!keys) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		const char *name = l.v[i].name, *id = key_id_of(name);
		RepoKeyInfo *k = &keys[n];
		uint8_t *buf = NULL;
		size_t len = 0;
		RemoteErr rerr = {{0}};
		StrataErr kerr = {0};
		KeyFileInfo info;

		if (!id)
			continue;
		memset(k, 0, sizeof *k);
		snprintf(k->id, sizeof k->id, "%s", id);
		k->current = strcmp(id, repo->key_id_hex) == 0;
		if (l.v[i].size > KEYFILE_MAX_LEN) {
			snprintf(k->problem, sizeof k->problem, "%llu bytes, larger than any key file (%u bytes at most)",
			         (unsigned long long)l.v[i].size, KEYFILE_MAX_LEN);
			n++;
			continue;
		}
		rc = backend_get(repo->be, name, KEYFILE_MAX_LEN, &buf, &len, &rerr);
		if (rc == -ENOENT)
			continue;        /* removed since the listing */
		if (rc == -EFBIG) {      /* grew past the bound since the listing */
			snprintf(k->problem, sizeof k->problem, "larger than any key file (%u bytes at most)",
			         KEYFILE_MAX_LEN);
			n++;
			continue;
		}
		if (rc) {
			repo_remote_err(err, rc, &rerr);
			goto out;
		}
		rc = check_key(repo->name_hash, name, buf, len, &info, &kerr);
		if (rc == 0)
			rc = keyfile_info_open(buf, len, repo->keys, &info, &kerr);
		free(buf);
		if (rc == -ENOMEM) {
			strata_err_set(err, rc, "key file %s: %s", name, kerr.msg);
			goto out;
		}
		if (rc) {
			snprintf(k->problem, sizeof k->problem, "%s", kerr.msg);
		} else {
			snprintf(k->host, sizeof k->host, "%s", info.host);
			snprintf(k->user, sizeof k->user, "%s", info.user);
			k->created_s = info.created_s;
			if (info.who == KEYFILE_WHO_UNREADABLE)
				snprintf(k->problem, sizeof k->problem,
				         "its host and user do not open with this repository's key: it was not written with it");
		}
		n++;
	}
	*out_keys = keys;
	*out_n = n;
	keys = NULL;
	rc = 0;
out:
	free(keys);
	free(l.v);
	return rc;
}

int repo_key_add(Repo *repo, const char *password, size_t password_len,
                 char out_id_hex[STRATA_ID_HEX_LEN + 1], StrataErr *err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	rc = keyfile_create(repo->keys, password, password_len, 0, 0, &buf, &len, err);
	if (rc)
		return rc;
	rc = repo_key_put(repo->be, repo->name_hash, buf, len, out_id_hex, err);
	free(buf);
	return rc;
}

int repo_key_remove(Repo *repo, const char *id_prefix, StrataErr *err)
{
	RepoKeyInfo *keys = NULL;
	size_t n = 0, found = 0, at = 0, plen = strlen(id_prefix);
	char name[REPO_NAME_MAX];
	RemoteErr rerr = {{0}};
	int rc;

	rc = repo_key_list(repo, &keys, &n, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (plen && strncmp(keys[i].id, id_prefix, plen) == 0) {
			found++;
			at = i;
		}
	}
	if (found == 0) {
		rc = strata_err_set(err, STRATA_ENOTFOUND, "key %s not found", id_prefix);
	} else if (found > 1) {
		rc = strata_err_set(err, STRATA_EAMBIGUOUS, "key prefix %s matches %zu keys", id_prefix, found);
	} else if (n == 1) {
		rc = strata_err_set(err, STRATA_EREFUSED, "refusing to remove the last key of the repository: it would become unreadable");
	} else if (keys[at].current) {
		rc = strata_err_set(err, STRATA_EREFUSED,
		                    "refusing to remove key %.8s: it is the key in use; open the repository with another password to remove it",
		                    keys[at].id);
	} else {
		snprintf(name, sizeof name, "keys/%s", keys[at].id);
		rc = backend_delete(repo->be, name, &rerr);
		if (rc)
			repo_remote_err(err, rc, &rerr);
	}
	free(keys);
	return rc;
}

int repo_key_passwd(Repo *repo, const char *password, size_t password_len,
                    char out_id_hex[STRATA_ID_HEX_LEN + 1], StrataErr *err)
{
	char old[STRATA_ID_HEX_LEN + 1], name[REPO_NAME_MAX], id[STRATA_ID_HEX_LEN + 1];
	RemoteErr rerr = {{0}};
	int rc;

	memcpy(old, repo->key_id_hex, sizeof old);
	rc = repo_key_add(repo, password, password_len, id, err);
	if (rc)
		return rc;
	/* The new key file is durable; only now remove the old one. */
	snprintf(name, sizeof name, "keys/%s", old);
	rc = backend_delete(repo->be, name, &rerr);
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	memcpy(repo->key_id_hex, id, sizeof id);
	repo_keys_remember(repo, id);
	if (out_id_hex)
		memcpy(out_id_hex, id, sizeof id);
	return 0;
}
