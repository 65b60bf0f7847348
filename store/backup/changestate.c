/* changestate.c — see changestate.h. The file is text:
 *
 *   strata-changes 2
 *   snapshot <64 hex digits>
 *   source <index> none
 *   source <index> btrfs <32 hex digits of UUID> <otransid>
 *   journal <16 hex digits: the watcher's run> <offset in its log>
 *   link <device> <inode> <path>        (one per name of a hard-linked file)
 *   end
 *
 * one "source" line per source path, in order (FORMAT.md 16). */
#include "store/backup/changestate.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/repo_internal.h"
#include "store/sys/outfile.h"

/* Version 2 ends with an "end" line: the record is written without fsync
 * (changestate_save), so a machine crash may leave a prefix of it, which
 * must not read as a record with fewer hard links. Version 1 records
 * (no end line) read as unfamiliar: one full scan. */
#define MAGIC "strata-changes 2"

void changestate_key(const char *host, const char *const *paths, size_t npaths, const char *const *excludes,
                     size_t nexcludes, char out[17])
{
	/* FNV-1a, 64 bits: names a file; the parent check (backup.h) keeps
	 * a collision harmless. Each string is hashed with its NUL and a
	 * section tag, so ("a","b") and ("ab") differ. */
	uint64_t h = 1469598103934665603ULL;
	const char *tags = "hpe";

	for (int s = 0; s < 3; s++) {
		size_t n = s == 0 ? 1 : s == 1 ? npaths : nexcludes;
		h ^= (unsigned char)tags[s];
		h *= 1099511628211ULL;
		for (size_t i = 0; i < n; i++) {
			const char *p = s == 0 ? host : s == 1 ? paths[i] : excludes[i];
			for (size_t j = 0;; j++) {
				h ^= (unsigned char)p[j];
				h *= 1099511628211ULL;
				if (!p[j])
					break;
			}
		}
	}
	snprintf(out, 17, "%016" PRIx64, h);
}

static int file_path(Repo *repo, const char *key, char *out, size_t len)
{
	if (!repo->cache_dir[0])
		return -ENOENT;
	if (snprintf(out, len, "%s/changes/%s", repo->cache_dir, key) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return s[2 * n] == '\0' ? 0 : -1;
}

static void tohex(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

int changestate_load(Repo *repo, const char *key, ChangeState *out, StrataErr *err)
{
	char path[PATH_MAX], line[PATH_MAX + 16], w1[64], w2[64], w3[80];
	ChangeState st = {0};
	FILE *f;
	int rc, have_snap = 0, ended = 0;

	if ((rc = file_path(repo, key, path, sizeof path)) != 0)
		return strata_err_set(err, STRATA_ENOTFOUND, "no local cache");
	if (!(f = fopen(path, "re")))
		return strata_err_set(err, errno == ENOENT ? STRATA_ENOTFOUND : -errno, "%s: %s", path, strerror(errno));
	if (!fgets(line, sizeof line, f) || strcmp(line, MAGIC "\n") != 0)
		goto bad;
	while (fgets(line, sizeof line, f)) {
		unsigned long long idx, gen;
		char hex[2 * STRATA_ID_LEN + 2];
		if (ended)
			goto bad;
		if (strcmp(line, "end\n") == 0) {
			ended = 1;
		} else if (sscanf(line, "snapshot %65s", hex) == 1 && !have_snap) {
			if (unhex(hex, st.snapshot, STRATA_ID_LEN) != 0)
				goto bad;
			have_snap = 1;
		} else if (sscanf(line, "source %llu %63s", &idx, w1) == 2 && idx == st.nsrc && idx < 65536) {
			ChangeSource *p = realloc(st.src, (st.nsrc + 1) * sizeof *p);
			if (!p) {
				fclose(f);
				changestate_clear(&st);
				return strata_err_set(err, -ENOMEM, "out of memory");
			}
			st.src = p;
			memset(&st.src[st.nsrc], 0, sizeof *p);
			if (strcmp(w1, "btrfs") == 0) {
				if (sscanf(line, "source %*u btrfs %63s %llu %79s", w2, &gen, w3) != 2 ||
				    unhex(w2, st.src[st.nsrc].uuid, 16) != 0)
					goto bad;
				st.src[st.nsrc].btrfs = 1;
				st.src[st.nsrc].gen = gen;
			} else if (strcmp(w1, "none") != 0) {
				goto bad;
			}
			st.nsrc++;
		} else if (strncmp(line, "link ", 5) == 0 && line[strlen(line) - 1] == '\n') {
			unsigned long long dev, ino;
			int at = 0;
			char **p = realloc(st.links, (st.nlinks + 1) * sizeof *p);
			uint64_t (*q)[2] = p ? realloc(st.link_inodes, (st.nlinks + 1) * sizeof *q) : NULL;
			if (p)
				st.links = p;
			if (q)
				st.link_inodes = q;
			if (!p || !q) {
				fclose(f);
				changestate_clear(&st);
				return strata_err_set(err, -ENOMEM, "out of memory");
			}
			line[strlen(line) - 1] = '\0';
			if (sscanf(line, "link %llu %llu %n", &dev, &ino, &at) != 2 || at == 0 || line[at] != '/')
				goto bad;
			st.link_inodes[st.nlinks][0] = dev;
			st.link_inodes[st.nlinks][1] = ino;
			if (!(st.links[st.nlinks] = strdup(line + at))) {
				fclose(f);
				changestate_clear(&st);
				return strata_err_set(err, -ENOMEM, "out of memory");
			}
			st.nlinks++;
		} else if (sscanf(line, "journal %16s %llu", w1, &gen) == 2 && strlen(w1) == 16 && !st.journal) {
			st.journal = 1;
			memcpy(st.journal_run, w1, 17);
			st.journal_offset = gen;
		} else {
			goto bad;
		}
	}
	if (!have_snap || !ended || ferror(f))
		goto bad;
	fclose(f);
	*out = st;
	return 0;
bad:
	fclose(f);
	changestate_clear(&st);
	return strata_err_set(err, STRATA_EFORMAT, "%s: not a change-tracking state this version writes", path);
}

int changestate_save(Repo *repo, const char *key, const ChangeState *st, StrataErr *err)
{
	char path[PATH_MAX], hex[2 * STRATA_ID_LEN + 1];
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int rc;

	if ((rc = file_path(repo, key, path, sizeof path)) != 0)
		return strata_err_set(err, rc, "no local cache to record changes in");
	{
		char dir[PATH_MAX];
		snprintf(dir, sizeof dir, "%s/changes", repo->cache_dir);
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return strata_err_set(err, -errno, "%s: %s", dir, strerror(errno));
	}
	if (!(m = open_memstream(&buf, &len)))
		return strata_err_set(err, -ENOMEM, "out of memory");
	tohex(st->snapshot, STRATA_ID_LEN, hex);
	fprintf(m, MAGIC "\nsnapshot %s\n", hex);
	for (size_t i = 0; i < st->nsrc; i++) {
		if (st->src[i].btrfs) {
			char u[33];
			tohex(st->src[i].uuid, 16, u);
			fprintf(m, "source %zu btrfs %s %" PRIu64 "\n", i, u, st->src[i].gen);
		} else {
			fprintf(m, "source %zu none\n", i);
		}
	}
	if (st->journal)
		fprintf(m, "journal %s %" PRIu64 "\n", st->journal_run, st->journal_offset);
	for (size_t i = 0; i < st->nlinks; i++) {
		if (strchr(st->links[i], '\n')) {
			fclose(m);
			free(buf);
			return strata_err_set(err, -EINVAL, "a hard-linked file's name holds a newline: not recorded");
		}
		fprintf(m, "link %" PRIu64 " %" PRIu64 " %s\n", st->link_inodes[i][0], st->link_inodes[i][1], st->links[i]);
	}
	fprintf(m, "end\n");
	if (fclose(m) != 0) {
		free(buf);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	/* Not synced (two fsyncs, 20 ms or more on every backup): after a
	 * machine crash the record is the previous one (whose snapshot is
	 * then not the parent: a scan), missing, or cut short or zero-filled
	 * (no end line: damaged, a scan). The snapshot it names was made
	 * durable before. */
	rc = outfile_write(path, (const uint8_t *)buf, len, 0600, OUTFILE_NO_SYNC, err);
	free(buf);
	return rc;
}

int changestate_drop(Repo *repo, const char *key)
{
	char path[PATH_MAX];

	if (file_path(repo, key, path, sizeof path) != 0)
		return 0;
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	return 0;
}

void changestate_clear(ChangeState *st)
{
	if (!st)
		return;
	free(st->src);
	for (size_t i = 0; i < st->nlinks; i++)
		free(st->links[i]);
	free(st->links);
	free(st->link_inodes);
	memset(st, 0, sizeof *st);
}
