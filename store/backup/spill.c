/* spill.c — the scratch store, see spill.h. */
#include "store/backup/spill.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct Spill {
	char dir[PATH_MAX];
	int fd;                 /* -1: not made yet */
	int no_file;            /* making or writing it failed: memory only */
	uint64_t file_len;      /* bytes [0, file_len) are in the file */
	uint8_t *buf;           /* bytes [file_len, file_len + len) */
	size_t len, cap, mem_max;
};

Spill *spill_new(const char *dir, size_t mem_max)
{
	Spill *s = calloc(1, sizeof *s);
	const char *d = dir && *dir ? dir : getenv("TMPDIR");

	if (!s)
		return NULL;
	snprintf(s->dir, sizeof s->dir, "%s", d && *d ? d : "/tmp");
	s->fd = -1;
	s->mem_max = mem_max;
	return s;
}

static int open_file(Spill *s)
{
	s->fd = open(s->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (s->fd < 0) {
		/* A file system without O_TMPFILE: a named file, unlinked at once. */
		char path[PATH_MAX + 32];
		snprintf(path, sizeof path, "%s/.strata-spill.XXXXXX", s->dir);
		s->fd = mkostemp(path, O_CLOEXEC);
		if (s->fd >= 0)
			unlink(path);
	}
	return s->fd >= 0 ? 0 : -errno;
}

/* Move the memory bytes to the end of the file; on any failure they stay
 * in memory and so does everything after. */
static void write_out(Spill *s)
{
	size_t done = 0;

	if (s->no_file || (s->fd < 0 && open_file(s) != 0)) {
		s->no_file = 1;
		return;
	}
	while (done < s->len) {
		ssize_t w = pwrite(s->fd, s->buf + done, s->len - done, (off_t)(s->file_len + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			s->no_file = 1;
			return;
		}
		done += (size_t)w;
	}
	s->file_len += s->len;
	s->len = 0;
}

int spill_put(Spill *s, const void *p, size_t len, uint64_t *out_off)
{
	if (s->len > 0 && s->len + len > s->mem_max)
		write_out(s);
	if (s->len + len > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + len)
			cap *= 2;
		uint8_t *q = realloc(s->buf, cap);
		if (!q)
			return -ENOMEM;
		s->buf = q;
		s->cap = cap;
	}
	*out_off = s->file_len + s->len;
	memcpy(s->buf + s->len, p, len);
	s->len += len;
	return 0;
}

int spill_read(Spill *s, uint64_t off, void *p, size_t len)
{
	uint8_t *out = p;

	if (off + len > s->file_len + s->len)
		return -EINVAL;
	while (len > 0 && off < s->file_len) {
		size_t want = s->file_len - off < len ? (size_t)(s->file_len - off) : len;
		ssize_t r = pread(s->fd, out, want, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		out += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	if (len > 0)
		memcpy(out, s->buf + (off - s->file_len), len);
	return 0;
}

uint64_t spill_file_bytes(const Spill *s)
{
	return s->file_len;
}

void spill_free(Spill *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	free(s);
}
