/* restore_delta.c — see restore_delta.h. */
#include "store/restore/restore_delta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/repo_internal.h"

/* Old files are read in windows of this size: a few syscalls per
 * thousand 32 KiB chunks, and little memory whatever the file's size. */
#define WINDOW_BYTES (8u << 20)

typedef struct Window {
	int fd;
	uint64_t size;             /* of the old file */
	uint8_t *buf;
	size_t cap;
	uint64_t start, len;       /* buf holds old bytes [start, start + len) */
	uint64_t bytes_read;
} Window;

/* Make [off, off + len) of the old file readable at buf + (off - start);
 * the caller checked off + len <= w->size and len <= w->cap. */
static int window_get(Window *w, uint64_t off, size_t len, const uint8_t **out, const char *path,
                      StrataErr *err)
{
	if (off < w->start || off + len > w->start + w->len) {
		uint64_t want = w->size - off < w->cap ? w->size - off : w->cap;
		size_t got = 0;
		while (got < want) {
			ssize_t r = pread(w->fd, w->buf + got, (size_t)(want - got), (off_t)(off + got));
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return strata_err_set(err, -errno, "%s: cannot read the existing file: %s", path,
				                      strerror(errno));
			if (r == 0)
				break;     /* shrank meanwhile: what is there is compared */
			got += (size_t)r;
		}
		w->start = off;
		w->len = got;
		w->bytes_read += got;
		if (got < len)
			return 1;  /* the file is shorter than it said */
	}
	*out = w->buf + (off - w->start);
	return 0;
}

/* A chunk of the node by ID, for pass 2's lookups. */
typedef struct ById {
	uint8_t id[STRATA_ID_LEN];
	size_t k;                  /* chunk number in the node */
} ById;

static int cmp_byid(const void *a, const void *b)
{
	const ById *x = a, *y = b;
	int c = memcmp(x->id, y->id, STRATA_ID_LEN);

	return c ? c : x->k < y->k ? -1 : x->k > y->k;
}

/* Pass 2: cut the old file with the repository's chunker and look each
 * piece up among the chunks still missing. */
static int scan_cdc(Repo *repo, Window *w, const TreeNode *n, RestoreDelta *d, const char *path,
                    StrataErr *err)
{
	ById *idx = malloc(n->nchunks * sizeof *idx);
	uint64_t pos = 0;
	int rc = 0;

	if (!idx)
		return strata_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n->nchunks; i++) {
		memcpy(idx[i].id, n->chunks[i], STRATA_ID_LEN);
		idx[i].k = i;
	}
	qsort(idx, n->nchunks, sizeof *idx, cmp_byid);
	while (pos < w->size && rc == 0) {
		uint64_t left = w->size - pos;
		size_t avail = left < repo->chunk_max ? (size_t)left : repo->chunk_max;
		const uint8_t *p;
		uint8_t id[STRATA_ID_LEN];
		size_t cut, lo = 0, hi = n->nchunks;

		rc = window_get(w, pos, avail, &p, path, err);
		if (rc)
			break;
		cut = fastcdc_cut(&repo->cdc, p, avail, avail == left);
		if (cut == 0)
			cut = avail;
		codec_chunk_id(repo->keys, p, cut, id);
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (memcmp(idx[mid].id, id, STRATA_ID_LEN) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < n->nchunks && memcmp(idx[lo].id, id, STRATA_ID_LEN) == 0; lo++) {
			size_t k = idx[lo].k;
			if (d->old_off[k] == RESTORE_DELTA_NONE && n->chunk_lens[k] == cut) {
				d->old_off[k] = pos;
				d->bytes_present += cut;
			}
		}
		pos += cut;
	}
	free(idx);
	return rc == 1 ? 0 : rc;
}

static int cmp_donor(const void *a, const void *b)
{
	return memcmp(((const RestoreDonorChunk *)a)->id, ((const RestoreDonorChunk *)b)->id, STRATA_ID_LEN);
}

int restore_donors_add(Repo *repo, RestoreDonors *dn, int fd, uint64_t size, const char *path, StrataErr *err)
{
	Window w;
	uint64_t pos = 0;
	int rc = 0;

	if (dn->nfds == dn->fds_cap) {
		size_t cap = dn->fds_cap ? 2 * dn->fds_cap : 8;
		int *q = realloc(dn->fds, cap * sizeof *q);
		if (!q) {
			close(fd);
			return strata_err_set(err, -ENOMEM, "out of memory");
		}
		dn->fds = q;
		dn->fds_cap = cap;
	}
	dn->fds[dn->nfds++] = fd;
	memset(&w, 0, sizeof w);
	w.fd = fd;
	w.size = size;
	w.cap = repo->chunk_max > WINDOW_BYTES ? repo->chunk_max : WINDOW_BYTES;
	if (!(w.buf = malloc(w.cap)))
		return strata_err_set(err, -ENOMEM, "out of memory");
	while (pos < size && rc == 0) {
		uint64_t left = size - pos;
		size_t avail = left < repo->chunk_max ? (size_t)left : repo->chunk_max, cut;
		const uint8_t *p;
		RestoreDonorChunk *ch;

		rc = window_get(&w, pos, avail, &p, path, err);
		if (rc)
			break;
		cut = fastcdc_cut(&repo->cdc, p, avail, avail == left);
		if (cut == 0)
			cut = avail;
		if (dn->n == dn->cap) {
			size_t cap = dn->cap ? 2 * dn->cap : 1024;
			void *q = realloc(dn->chunks, cap * sizeof *dn->chunks);
			if (!q) {
				rc = strata_err_set(err, -ENOMEM, "out of memory");
				break;
			}
			dn->chunks = q;
			dn->cap = cap;
		}
		ch = &dn->chunks[dn->n++];
		codec_chunk_id(repo->keys, p, cut, ch->id);
		ch->donor = (uint32_t)(dn->nfds - 1);
		ch->len = (uint32_t)cut;
		ch->off = pos;
		pos += cut;
	}
	dn->bytes_read += w.bytes_read;
	free(w.buf);
	return rc == 1 ? 0 : rc;     /* shrank meanwhile: what was read counts */
}

void restore_donors_seal(RestoreDonors *dn)
{
	if (dn->n)
		qsort(dn->chunks, dn->n, sizeof *dn->chunks, cmp_donor);
}

void restore_donors_clear(RestoreDonors *dn)
{
	for (size_t i = 0; i < dn->nfds; i++)
		close(dn->fds[i]);
	free(dn->fds);
	free(dn->chunks);
	memset(dn, 0, sizeof *dn);
}

static const RestoreDonorChunk *donor_find(const RestoreDonors *dn, const uint8_t id[STRATA_ID_LEN])
{
	size_t lo = 0, hi = dn->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(dn->chunks[mid].id, id, STRATA_ID_LEN);
		if (c == 0)
			return &dn->chunks[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int restore_delta_scan(Repo *repo, int fd, uint64_t old_size, const TreeNode *n, const RestoreDonors *donors,
                       const char *path, RestoreDelta *out, StrataErr *err)
{
	RestoreDelta d;
	Window w;
	uint64_t off = 0;
	size_t maxlen = repo->chunk_max, matched = 0;
	int rc = 0, again = 0;

	memset(&d, 0, sizeof d);
	memset(&w, 0, sizeof w);
	for (size_t i = 0; i < n->nchunks; i++)
		if (n->chunk_lens[i] > maxlen)
			maxlen = n->chunk_lens[i];
	w.fd = fd;
	w.size = old_size;
	w.cap = maxlen > WINDOW_BYTES ? maxlen : WINDOW_BYTES;
	w.buf = malloc(w.cap);
	d.nchunks = n->nchunks;
	d.old_off = malloc((n->nchunks ? n->nchunks : 1) * sizeof *d.old_off);
	d.src = calloc(n->nchunks ? n->nchunks : 1, sizeof *d.src);
	if (!w.buf || !d.old_off || !d.src) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* Pass 1: each chunk where the snapshot has it. */
	for (size_t i = 0; i < n->nchunks; i++) {
		const uint8_t *p;
		uint8_t id[STRATA_ID_LEN];
		d.old_off[i] = RESTORE_DELTA_NONE;
		if (fd >= 0 && off + n->chunk_lens[i] <= old_size) {
			rc = window_get(&w, off, n->chunk_lens[i], &p, path, err);
			if (rc < 0)
				goto out;
			if (rc == 0) {
				codec_chunk_id(repo->keys, p, n->chunk_lens[i], id);
				if (memcmp(id, n->chunks[i], STRATA_ID_LEN) == 0) {
					d.old_off[i] = off;
					d.bytes_present += n->chunk_lens[i];
					matched++;
				}
			}
			rc = 0;
		}
		/* A miss the chunker could find elsewhere: one that is not just
		 * the old file's last piece (an append moves only that cut). */
		if (d.old_off[i] == RESTORE_DELTA_NONE && off + repo->chunk_max < old_size)
			again = 1;
		off += n->chunk_lens[i];
	}
	d.identical = fd >= 0 && matched == n->nchunks && old_size == n->size && off == n->size;
	if (fd >= 0 && again && !d.identical && old_size > 0) {
		rc = scan_cdc(repo, &w, n, &d, path, err);
		if (rc)
			goto out;
	}
	/* What the file itself lacks, from the donors. */
	for (size_t i = 0; donors && donors->n && !d.identical && i < n->nchunks; i++) {
		const RestoreDonorChunk *ch;
		if (d.old_off[i] != RESTORE_DELTA_NONE || !(ch = donor_find(donors, n->chunks[i])) ||
		    ch->len != n->chunk_lens[i])
			continue;
		d.old_off[i] = ch->off;
		d.src[i] = ch->donor + 1;
		d.bytes_present += ch->len;
	}
	d.bytes_read = w.bytes_read;
	*out = d;
	d.old_off = NULL;
	d.src = NULL;
out:
	free(d.old_off);
	free(d.src);
	free(w.buf);
	return rc;
}

/* Copy len bytes from old_fd at from to new_fd at to. */
static int copy_range(int old_fd, int new_fd, uint64_t from, uint64_t to, uint64_t len)
{
	loff_t in = (loff_t)from, outo = (loff_t)to;
	uint8_t *buf = NULL;
	int rc = 0;

	while (len > 0) {
		ssize_t c = copy_file_range(old_fd, &in, new_fd, &outo, (size_t)len, 0);
		if (c < 0 && errno == EINTR)
			continue;
		if (c <= 0)
			break;         /* not supported here (or EOF): plain copy below */
		len -= (uint64_t)c;
	}
	if (len == 0)
		return 0;
	buf = malloc(1u << 20);
	if (!buf)
		return -ENOMEM;
	while (len > 0 && rc == 0) {
		size_t want = len < (1u << 20) ? (size_t)len : (1u << 20);
		ssize_t r = pread(old_fd, buf, want, in);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			break;
		}
		for (ssize_t done = 0; done < r;) {
			ssize_t wr = pwrite(new_fd, buf + done, (size_t)(r - done), outo + done);
			if (wr < 0 && errno == EINTR)
				continue;
			if (wr < 0) {
				rc = -errno;
				break;
			}
			done += wr;
		}
		in += r;
		outo += r;
		len -= (uint64_t)r;
	}
	free(buf);
	return rc;
}

int restore_delta_copy(int old_fd, const RestoreDonors *donors, int new_fd, const TreeNode *n,
                       const RestoreDelta *d, const char *path, uint64_t *out_bytes, StrataErr *err)
{
	uint64_t off = 0, copied = 0;
	size_t i = 0;

	while (i < n->nchunks) {
		uint64_t from, to, len;
		uint32_t src;
		int rc;
		if (d->old_off[i] == RESTORE_DELTA_NONE) {
			off += n->chunk_lens[i++];
			continue;
		}
		/* A run: chunks adjacent in both files, from one source. */
		from = d->old_off[i];
		src = d->src[i];
		to = off;
		len = 0;
		while (i < n->nchunks && d->src[i] == src && d->old_off[i] == from + len) {
			len += n->chunk_lens[i];
			off += n->chunk_lens[i++];
		}
		rc = copy_range(src ? donors->fds[src - 1] : old_fd, new_fd, from, to, len);
		if (rc)
			return strata_err_set(err, rc, "%s: cannot copy the bytes the existing file holds: %s", path,
			                      strerror(-rc));
		copied += len;
	}
	*out_bytes = copied;
	return 0;
}

void restore_delta_free(RestoreDelta *d)
{
	free(d->old_off);
	free(d->src);
	d->old_off = NULL;
	d->src = NULL;
}
