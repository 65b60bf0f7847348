/* wal.c — the PostgreSQL WAL archive, see wal.h (descriptor layout and
 * write ordering are described there and in FORMAT.md §3, §5, §15):
 * names, descriptors, push, list, retention. Fetch and the prefetch spool
 * are in wal_fetch.c. */
#include "store/wal/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/format.h"
#include "store/repo_internal.h"
#include "store/tree.h"
#include "store/wal/wal_internal.h"
#include "store/chunkpipe.h"

#define WAL_DESC_FIXED (1 + 1 + 8 + 8 + STRATA_ID_LEN + 4)   /* without the name */
#define WAL_CHUNK_REC (STRATA_ID_LEN + 4)
/* The bound of remote/objsize.h, OBJSIZE_WAL_DESC_MAX(chunk_min), is this
 * layout's: its 1024 bytes of room cover the envelope, the fixed fields
 * and the longest name, and a chunk record is what it counts. */
_Static_assert(OBJSIZE_SEALED_OVERHEAD + WAL_DESC_FIXED + WAL_NAME_MAX <= 1024, "OBJSIZE_WAL_DESC_MAX room");
_Static_assert(WAL_CHUNK_REC == 36 && WAL_MAX_FILE_BYTES == (1u << 30), "OBJSIZE_WAL_DESC_MAX terms");
#define BACKUP_LABEL_MAX (64u << 10)
/* The first bytes hashed into a version 2 CONTENT_ID (FORMAT.md §12a), so
 * it can never equal the ID of a chunk holding the same bytes. */
static const char WAL_CID2_DOMAIN[16] = "strata-wal-cid2";

/* ---- names ---- */

static int is_hex_upper(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

uint32_t wal_hex8(const char *s)
{
	uint32_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 4 | (uint32_t)(s[i] <= '9' ? s[i] - '0' : s[i] - 'A' + 10);
	return v;
}

int wal_name_parse(const char *name, int *out_kind, uint32_t *out_timeline)
{
	size_t len = strlen(name);
	int kind = 0;

	if (len == 24 && is_hex_upper(name, 24))
		kind = WAL_SEGMENT;
	else if (len == 24 + 8 && is_hex_upper(name, 24) && strcmp(name + 24, ".partial") == 0)
		kind = WAL_PARTIAL;
	else if (len == 8 + 8 && is_hex_upper(name, 8) && strcmp(name + 8, ".history") == 0)
		kind = WAL_HISTORY;
	else if (len == 24 + 1 + 8 + 7 && is_hex_upper(name, 24) && name[24] == '.' &&
	         is_hex_upper(name + 25, 8) && strcmp(name + 33, ".backup") == 0)
		kind = WAL_BACKUP;
	if (!kind)
		return STRATA_EUSAGE;
	if (out_kind)
		*out_kind = kind;
	if (out_timeline)
		*out_timeline = wal_hex8(name);
	return 0;
}

int wal_check_name(const char *name, int *out_kind, StrataErr *err)
{
	if (wal_name_parse(name, out_kind, NULL) != 0)
		return strata_err_set(err, STRATA_EUSAGE,
		                      "%s is not a WAL file name (24 upper-case hex digits, optionally .partial; "
		                      "TIMELINE.history; SEGMENT.OFFSET.backup)", name);
	return 0;
}

static void desc_name(const char *name, char out[REPO_NAME_MAX])
{
	snprintf(out, REPO_NAME_MAX, "wal/%.8s/%s", name, name);
}

/* ---- descriptor ---- */

void wal_desc_free(WalDesc *d)
{
	free(d->ids);
	free(d->lens);
	d->ids = NULL;
	d->lens = NULL;
	d->n = 0;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int wal_content_id2(const CodecKeys *keys, const WalDesc *d, uint8_t out[STRATA_ID_LEN])
{
	size_t len = sizeof WAL_CID2_DOMAIN + 8 + (size_t)d->n * WAL_CHUNK_REC;
	uint8_t *b = malloc(len), *p;

	if (!b)
		return -ENOMEM;
	memcpy(b, WAL_CID2_DOMAIN, sizeof WAL_CID2_DOMAIN);
	p = b + sizeof WAL_CID2_DOMAIN;
	put_le(p, d->size, 8);
	p += 8;
	for (uint32_t i = 0; i < d->n; i++) {
		memcpy(p, d->ids[i], STRATA_ID_LEN);
		put_le(p + STRATA_ID_LEN, d->lens[i], 4);
		p += WAL_CHUNK_REC;
	}
	codec_chunk_id(keys, b, len, out);
	free(b);
	return 0;
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int desc_encode(const WalDesc *d, uint8_t **out, size_t *out_len)
{
	size_t nl = strlen(d->name), len = WAL_DESC_FIXED + nl + (size_t)d->n * WAL_CHUNK_REC;
	uint8_t *b = malloc(len), *p;

	if (!b)
		return -ENOMEM;
	p = b;
	*p++ = (uint8_t)nl;
	memcpy(p, d->name, nl);
	p += nl;
	*p++ = d->kind;
	put_le(p, d->size, 8);
	p += 8;
	put_le(p, (uint64_t)d->mtime_ns, 8);
	p += 8;
	memcpy(p, d->content_id, STRATA_ID_LEN);
	p += STRATA_ID_LEN;
	put_le(p, d->n, 4);
	p += 4;
	for (uint32_t i = 0; i < d->n; i++) {
		memcpy(p, d->ids[i], STRATA_ID_LEN);
		put_le(p + STRATA_ID_LEN, d->lens[i], 4);
		p += WAL_CHUNK_REC;
	}
	*out = b;
	*out_len = len;
	return 0;
}

/* Parse an authenticated plaintext; still checked field by field. */
static int desc_decode(const uint8_t *b, size_t len, WalDesc *d)
{
	size_t nl;
	uint64_t total = 0;
	const uint8_t *p = b;

	memset(d, 0, sizeof *d);
	if (len < 1 || (nl = b[0]) > WAL_NAME_MAX || len < WAL_DESC_FIXED + nl)
		return STRATA_EFORMAT;
	p++;
	memcpy(d->name, p, nl);
	d->name[nl] = '\0';
	p += nl;
	d->kind = *p++;
	d->size = get_le(p, 8);
	p += 8;
	d->mtime_ns = (int64_t)get_le(p, 8);
	p += 8;
	memcpy(d->content_id, p, STRATA_ID_LEN);
	p += STRATA_ID_LEN;
	d->n = (uint32_t)get_le(p, 4);
	p += 4;
	if (d->size > WAL_MAX_FILE_BYTES || (size_t)(b + len - p) != (size_t)d->n * WAL_CHUNK_REC ||
	    wal_name_parse(d->name, NULL, NULL) != 0)
		return STRATA_EFORMAT;
	d->ids = malloc((d->n ? d->n : 1) * sizeof *d->ids);
	d->lens = malloc((d->n ? d->n : 1) * sizeof *d->lens);
	if (!d->ids || !d->lens) {
		wal_desc_free(d);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < d->n; i++) {
		memcpy(d->ids[i], p, STRATA_ID_LEN);
		d->lens[i] = (uint32_t)get_le(p + STRATA_ID_LEN, 4);
		total += d->lens[i];
		p += WAL_CHUNK_REC;
		if (d->lens[i] == 0 || d->lens[i] > WAL_MAX_FILE_BYTES)
			total = UINT64_MAX;
	}
	if (total != d->size) {
		wal_desc_free(d);
		return STRATA_EFORMAT;
	}
	return 0;
}

/* Get and decode wal/<tl>/<name>. STRATA_ENOTFOUND only when absent. */
int wal_desc_load(Repo *repo, const char *name, WalDesc *d, StrataErr *err)
{
	char oname[REPO_NAME_MAX];
	uint8_t *buf = NULL, *plain = NULL;
	size_t len = 0, plen = 0;
	uint32_t version = 0;
	int rc;

	desc_name(name, oname);
	/* Every chunk but the last holds at least chunk_min bytes of a file
	 * of at most 1 GiB: a longer descriptor is refused unread. */
	rc = repo_get(repo->be, oname, "a WAL descriptor", OBJSIZE_WAL_DESC_MAX(repo->chunk_min), &buf, &len, err);
	if (rc == -ENOENT)
		return strata_err_set(err, STRATA_ENOTFOUND, "WAL file %s is not in the archive", name);
	if (rc)
		return rc;
	rc = sealed_decode(repo->keys, FORMAT_MAGIC_WAL, FORMAT_VERSION_WAL, buf, len, &plain, &plen, &version);
	free(buf);
	switch (rc) {
	case 0:
		break;
	case STRATA_EVERSION:
		return strata_err_set(err, rc, "%s: written by a newer strata; upgrade strata", oname);
	case STRATA_EAUTH:
		return strata_err_set(err, rc, "%s: fails authentication (damaged, tampered, or from another repository)",
		                      oname);
	case -ENOMEM:
		return strata_err_set(err, rc, "out of memory");
	default:
		return strata_err_set(err, rc, "%s: not a WAL descriptor (damaged?)", oname);
	}
	rc = desc_decode(plain, plen, d);
	free(plain);
	d->version = version;
	if (rc == -ENOMEM)
		return strata_err_set(err, rc, "out of memory");
	if (rc)
		return strata_err_set(err, rc, "%s: malformed WAL descriptor", oname);
	if (strcmp(d->name, name) != 0) {
		rc = strata_err_set(err, STRATA_EDAMAGED, "%s: the descriptor describes %s, not %s "
		                    "(a file was renamed or copied inside the repository)", oname, d->name, name);
		wal_desc_free(d);
		return rc;
	}
	return 0;
}

/* ---- files ---- */

int wal_read_whole(const char *path, uint8_t **out, size_t *out_len, int64_t *out_mtime_ns, StrataErr *err)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return strata_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = strata_err_set(err, -errno, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = strata_err_set(err, STRATA_EUSAGE, "%s is not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > WAL_MAX_FILE_BYTES) {
		rc = strata_err_set(err, -EFBIG, "%s: %lld bytes, larger than any WAL file can be",
		                    path, (long long)st.st_size);
		goto out;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		rc = strata_err_set(err, -ENOMEM, "out of memory reading %s", path);
		goto out;
	}
	while (done < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + done, (size_t)st.st_size - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = strata_err_set(err, -errno, "reading %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0) {
			rc = strata_err_set(err, -EIO, "%s shrank while being read", path);
			goto out;
		}
		done += (size_t)r;
	}
	*out = buf;
	*out_len = done;
	*out_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

/* ---- push ---- */

/* One file of a batch: its descriptor (the chunk list filled by the
 * pipeline), the one already archived under its name if any, and its
 * share of the writer's counters. */
typedef struct WalBatchItem {
	WalDesc d;
	ChunkList list;
	int have_old;
	uint64_t chunks_new, bytes_new, bytes_stored;
} WalBatchItem;

struct WalBatch {
	Repo *repo;
	BlobWriter *bw;
	ChunkPipe *pipe;
	WalBatchItem *items;
	size_t n, cap;
	int failed;            /* the pipeline failed: only wal_batch_free remains */
};

int wal_batch_new(Repo *repo, int zlevel, WalBatch **out, StrataErr *err)
{
	WalBatch *b = calloc(1, sizeof *b);
	int rc;

	if (!b)
		return strata_err_set(err, -ENOMEM, "out of memory");
	b->repo = repo;
	rc = blobwriter_new(repo, zlevel, &b->bw, err);
	if (rc == 0)
		rc = chunkpipe_new(repo, b->bw, 0, &b->pipe, err);
	if (rc) {
		wal_batch_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

size_t wal_batch_count(const WalBatch *b)
{
	return b->n;
}

/* Whether the file at fd (size bytes) holds what old describes. A version
 * 2 descriptor: each of old's chunk spans of the file hashes to old's
 * chunk ID (the chunker is deterministic, so equal content cuts equally);
 * version 1: the whole file hashes to CONTENT_ID. One read and hash of the
 * file, only when a name is pushed again. */
static int same_content(Repo *repo, const char *path, const WalDesc *old, int *out_same, StrataErr *err)
{
	uint8_t *buf = NULL, id[STRATA_ID_LEN];
	size_t len = 0, off = 0;
	int64_t mt;
	int rc, same = 1;

	rc = wal_read_whole(path, &buf, &len, &mt, err);
	if (rc)
		return rc;
	if (len != old->size) {
		same = 0;
	} else if (old->version < 2) {
		codec_chunk_id(repo->keys, buf, len, id);
		same = memcmp(id, old->content_id, STRATA_ID_LEN) == 0;
	} else {
		for (uint32_t i = 0; i < old->n && same; i++) {
			codec_chunk_id(repo->keys, buf + off, old->lens[i], id);
			same = memcmp(id, old->ids[i], STRATA_ID_LEN) == 0;
			off += old->lens[i];
		}
	}
	free(buf);
	*out_same = same;
	return 0;
}

int wal_batch_add(WalBatch *b, const char *path, const char *name, StrataErr *err)
{
	const char *base = name ? name : strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	WalBatchItem *it;
	WalDesc old;
	struct stat st;
	uint64_t got = 0;
	int kind, fd = -1, rc;

	memset(&old, 0, sizeof old);
	if (b->failed)
		return strata_err_set(err, -EINVAL, "WAL batch: the pipeline failed before %s", base);
	rc = wal_check_name(base, &kind, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->items[i].d.name, base) == 0)
			return 0;   /* already in this batch */
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 16;
		/* The pipeline's workers write into the items' chunk lists:
		 * growing the array must not move a list in flight. */
		if (chunkpipe_wait(b->pipe, err) != 0) {
			b->failed = 1;
			return err->code ? err->code : -EIO;
		}
		void *p = realloc(b->items, cap * sizeof *b->items);
		if (!p)
			return strata_err_set(err, -ENOMEM, "out of memory");
		b->items = p;
		b->cap = cap;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return strata_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = strata_err_set(err, -errno, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = strata_err_set(err, STRATA_EUSAGE, "%s is not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > WAL_MAX_FILE_BYTES) {
		rc = strata_err_set(err, -EFBIG, "%s: %lld bytes, larger than any WAL file can be",
		                    path, (long long)st.st_size);
		goto out;
	}
	rc = wal_desc_load(b->repo, base, &old, err);
	if (rc == 0) {
		int same = 0;
		rc = same_content(b->repo, path, &old, &same, err);
		if (rc)
			goto out;
		if (!same) {
			rc = strata_err_set(err, STRATA_EEXIST,
			                    "WAL file %s is ALREADY ARCHIVED WITH DIFFERENT CONTENT (archived: %llu bytes, "
			                    "now: %llu bytes); refusing to overwrite it. Two servers may be archiving into "
			                    "one repository, or this server's WAL diverged from the archive (restored "
			                    "without a new timeline?). Give each server its own repository or check "
			                    "archive_command before archiving again",
			                    base, (unsigned long long)old.size, (unsigned long long)st.st_size);
			goto out;
		}
	} else if (rc != STRATA_ENOTFOUND) {
		goto out;
	}
	strata_err_clear(err);
	it = &b->items[b->n];
	memset(it, 0, sizeof *it);
	it->have_old = rc == 0;
	snprintf(it->d.name, sizeof it->d.name, "%s", base);
	it->d.version = 2;
	it->d.kind = (uint8_t)kind;
	it->d.size = (uint64_t)st.st_size;
	it->d.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	/* Identical content already archived: still put every chunk, so one
	 * the repository lost is stored again (a present one costs a lookup).
	 * The file streams from its descriptor into the pipeline's segments;
	 * no whole-file pass: CONTENT_ID comes from the chunk list. */
	b->n++;
	rc = chunkpipe_stream(b->pipe, chunkpipe_read_fd, &fd, &it->list, NULL, NULL, &got, err);
	if (rc == 0 && got != it->d.size)
		rc = strata_err_set(err, -EIO, "%s changed size while being read (%llu bytes, then %llu): "
		                    "not a finished WAL file", path, (unsigned long long)it->d.size,
		                    (unsigned long long)got);
	else if (rc == 1)
		rc = strata_err_set(err, err->code ? err->code : -EIO, "reading %s: %s", path,
		                    strerror(err->code ? -err->code : EIO));
	if (rc) {
		/* Its chunks may be in flight: keep the item out of the results
		 * but its list alive until the pipeline is drained. */
		it->d.kind = 0;
		if (rc < 0 && rc != -EIO)
			b->failed = 1;
	}
out:
	wal_desc_free(&old);
	if (fd >= 0)
		close(fd);
	return rc;
}

int wal_batch_commit(WalBatch *b, WalPushResult *out, int *out_rc, StrataErr *errs, StrataErr *err)
{
	BlobWriterStats st;
	int rc;

	rc = chunkpipe_wait(b->pipe, err);
	if (rc == 0)
		rc = blobwriter_finish(b->bw, err);
	if (rc) {
		b->failed = 1;
		return rc;
	}
	blobwriter_stats(b->bw, &st);
	for (size_t i = 0; i < b->n; i++) {
		WalBatchItem *it = &b->items[i];
		uint8_t *enc = NULL, *sealed = NULL;
		size_t enc_len = 0, sealed_len = 0;
		char oname[REPO_NAME_MAX];
		RemoteErr rerr = {{0}};
		int r = 0;

		if (!it->d.kind) {
			if (out_rc)
				out_rc[i] = -EIO;
			continue;
		}
		if (it->list.n > UINT32_MAX)
			r = strata_err_set(&errs[i], -EFBIG, "%s: too many chunks", it->d.name);
		it->d.ids = it->list.ids;
		it->d.lens = it->list.lens;
		it->d.n = (uint32_t)it->list.n;
		if (r == 0 && !it->have_old) {
			/* Last, once every chunk it names is durable (wal.h). */
			r = wal_content_id2(b->repo->keys, &it->d, it->d.content_id);
			if (r == 0)
				r = desc_encode(&it->d, &enc, &enc_len);
			if (r == 0)
				r = sealed_encode(b->repo->keys, FORMAT_MAGIC_WAL, FORMAT_VERSION_WAL, enc, enc_len, &sealed, &sealed_len);
			if (r)
				r = strata_err_set(&errs[i], r, "cannot seal the descriptor of %s", it->d.name);
			if (r == 0) {
				desc_name(it->d.name, oname);
				r = backend_put(b->repo->be, oname, sealed, sealed_len, &rerr);
				if (r)
					r = repo_remote_err(&errs[i], r, &rerr);
			}
		}
		it->d.ids = NULL;
		it->d.lens = NULL;
		free(enc);
		free(sealed);
		if (out_rc)
			out_rc[i] = r;
		if (out) {
			memset(&out[i], 0, sizeof out[i]);
			out[i].already = it->have_old;
			out[i].size = it->d.size;
			out[i].chunks = it->list.n;
			/* The writer's counters are for the batch: the first file
			 * reports them (a batch of one is wal_push). */
			if (i == 0) {
				out[i].chunks_new = st.chunks_new;
				out[i].bytes_new = st.bytes_new;
				out[i].bytes_stored = st.bytes_stored;
			}
		}
	}
	return 0;
}

const char *wal_batch_name(const WalBatch *b, size_t i)
{
	return b->items[i].d.name;
}

void wal_batch_free(WalBatch *b)
{
	if (!b)
		return;
	chunkpipe_free(b->pipe);   /* waits for chunks in flight first */
	blobwriter_free(b->bw);
	for (size_t i = 0; i < b->n; i++)
		chunklist_free(&b->items[i].list);
	free(b->items);
	free(b);
}

int wal_push(Repo *repo, const char *path, const char *name, int zlevel,
             WalPushResult *out, StrataErr *err)
{
	WalBatch *b = NULL;
	WalPushResult res;
	int rc, r1 = 0;

	rc = wal_batch_new(repo, zlevel, &b, err);
	if (rc == 0)
		rc = wal_batch_add(b, path, name, err);
	if (rc == 0)
		rc = wal_batch_commit(b, &res, &r1, err, err);
	if (rc == 0)
		rc = r1;
	wal_batch_free(b);
	if (rc == 0 && out)
		*out = res;
	return rc;
}

/* ---- list ---- */

typedef struct NameList {
	char (*names)[WAL_NAME_MAX + 1];
	size_t n, cap;
	int oom;
} NameList;

static int collect_name(const char *oname, uint64_t size, void *ctx)
{
	NameList *l = ctx;
	const char *base = strrchr(oname, '/');

	(void)size;
	base = base ? base + 1 : oname;
	/* Only wal/<tl>/<name> with a valid name under its own timeline. */
	if (strlen(oname) != 4 + 8 + 1 + strlen(base) || strncmp(oname + 4, base, 8) != 0 ||
	    wal_name_parse(base, NULL, NULL) != 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		void *p = realloc(l->names, cap * sizeof *l->names);
		if (!p) {
			l->oom = 1;
			return 1;
		}
		l->names = p;
		l->cap = cap;
	}
	snprintf(l->names[l->n++], WAL_NAME_MAX + 1, "%s", base);
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Every WAL file name in the archive, sorted (timeline, then position). */
static int list_names(Repo *repo, NameList *l, StrataErr *err)
{
	RemoteErr rerr = {{0}};
	int rc;

	memset(l, 0, sizeof *l);
	rc = backend_list(repo->be, "wal/", collect_name, l, &rerr);
	if (l->oom) {
		free(l->names);
		return strata_err_set(err, -ENOMEM, "out of memory listing wal/");
	}
	if (rc) {
		free(l->names);
		return repo_remote_err(err, rc, &rerr);
	}
	if (l->n > 1)
		qsort(l->names, l->n, sizeof *l->names, cmp_name);
	return 0;
}

int wal_names_list(Repo *repo, char (**out)[WAL_NAME_MAX + 1], size_t *out_n, StrataErr *err)
{
	NameList l;
	int rc = list_names(repo, &l, err);

	if (rc)
		return rc;
	*out = l.names;
	*out_n = l.n;
	return 0;
}

/* A segment's number within its timeline: log * segments-per-log + seg. */
static uint64_t seg_number(const char *name, uint64_t segsize)
{
	uint32_t log, sno;

	log = wal_hex8(name + 8);
	sno = wal_hex8(name + 16);
	return (uint64_t)log * (0x100000000ULL / segsize) + sno;
}

int wal_list(Repo *repo, WalTimeline **out, size_t *out_n, StrataErr *err)
{
	NameList l;
	WalTimeline *tls = NULL;
	size_t ntl = 0;
	int rc;

	rc = list_names(repo, &l, err);
	if (rc)
		return rc;
	tls = calloc(l.n ? l.n : 1, sizeof *tls);
	if (!tls) {
		free(l.names);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < l.n; i++) {
		int kind;
		uint32_t tl;
		WalTimeline *t;
		wal_name_parse(l.names[i], &kind, &tl);
		if (ntl == 0 || tls[ntl - 1].timeline != tl) {
			tls[ntl].timeline = tl;
			ntl++;
		}
		t = &tls[ntl - 1];
		switch (kind) {
		case WAL_SEGMENT:
			if (!t->segments)
				snprintf(t->first, sizeof t->first, "%s", l.names[i]);
			snprintf(t->last, sizeof t->last, "%s", l.names[i]);
			t->segments++;
			break;
		case WAL_PARTIAL: t->partials++; break;
		case WAL_HISTORY: t->histories++; break;
		default:          t->backups++; break;
		}
	}
	for (size_t i = 0; i < ntl; i++) {
		WalDesc d;
		WalTimeline *t = &tls[i];
		if (!t->segments)
			continue;
		memset(&d, 0, sizeof d);
		rc = wal_desc_load(repo, t->first, &d, err);
		if (rc)
			break;
		t->segment_size = d.size;
		wal_desc_free(&d);
		if (t->segment_size >= (1u << 20) && !(t->segment_size & (t->segment_size - 1)))
			t->missing = seg_number(t->last, t->segment_size) - seg_number(t->first, t->segment_size) + 1 -
			             t->segments;
	}
	free(l.names);
	if (rc) {
		free(tls);
		return rc;
	}
	*out = tls;
	*out_n = ntl;
	return 0;
}

/* ---- base backups and retention ---- */

int wal_backup_start(Repo *repo, const Snapshot *snap, char out[WAL_NAME_MAX + 1], StrataErr *err)
{
	TreeNode n;
	CodecCtx *cctx = NULL;
	char text[BACKUP_LABEL_MAX + 1], hex[STRATA_ID_HEX_LEN + 1], *p;
	size_t len = 0;
	int rc;

	codec_hex(snap->id, STRATA_ID_LEN, hex);
	rc = tree_lookup(repo, snap->tree, "backup_label", &n, err);
	if (rc == STRATA_ENOTFOUND)
		return strata_err_set(err, rc, "snapshot %.8s has no backup_label at its root: it is not a "
		                      "pg_basebackup tar imported with backup --stdin-tar", hex);
	if (rc)
		return rc;
	if (n.type != NODE_FILE || n.size > BACKUP_LABEL_MAX) {
		tree_node_clear(&n);
		return strata_err_set(err, STRATA_EFORMAT, "snapshot %.8s: backup_label is not a small file", hex);
	}
	cctx = codec_ctx_new();
	if (!cctx) {
		tree_node_clear(&n);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n.nchunks && rc == 0; i++) {
		uint8_t *buf = NULL;
		size_t blen = 0;
		rc = blob_read(repo, cctx, BLOB_DATA, n.chunks[i], &buf, &blen, err);
		if (rc == 0 && len + blen > BACKUP_LABEL_MAX)
			rc = strata_err_set(err, STRATA_EFORMAT, "snapshot %.8s: backup_label is too large", hex);
		if (rc == 0) {
			memcpy(text + len, buf, blen);
			len += blen;
		}
		free(buf);
	}
	codec_ctx_free(cctx);
	tree_node_clear(&n);
	if (rc)
		return rc;
	text[len] = '\0';
	p = strstr(text, "START WAL LOCATION:");
	p = p ? strstr(p, "(file ") : NULL;
	if (!p || strlen(p) < 6 + WAL_SEG_NAME_LEN || p[6 + WAL_SEG_NAME_LEN] != ')' ||
	    !is_hex_upper(p + 6, WAL_SEG_NAME_LEN))
		return strata_err_set(err, STRATA_EFORMAT, "snapshot %.8s: backup_label has no "
		                      "\"START WAL LOCATION: ... (file SEGMENT)\" line", hex);
	snprintf(out, WAL_NAME_MAX + 1, "%.24s", p + 6);
	return 0;
}

int wal_prune(Repo *repo, const char *before, int dry_run, WalPruneResult *out, StrataErr *err)
{
	NameList l;
	WalPruneResult res = {0, 0};
	char oname[REPO_NAME_MAX];
	int kind, rc;

	if (wal_name_parse(before, &kind, NULL) != 0 || kind != WAL_SEGMENT)
		return strata_err_set(err, STRATA_EUSAGE, "--before %s: not a WAL segment name (24 hex digits)", before);
	rc = list_names(repo, &l, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < l.n; i++) {
		const char *nm = l.names[i];
		wal_name_parse(nm, &kind, NULL);
		/* pg_archivecleanup's rule: compare log and segment, not timeline. */
		if (kind == WAL_HISTORY || strncmp(nm + 8, before + 8, 16) >= 0) {
			res.kept++;
			continue;
		}
		res.removed++;
		if (dry_run)
			continue;
		RemoteErr rerr = {{0}};
		desc_name(nm, oname);
		rc = backend_delete(repo->be, oname, &rerr);
		if (rc && rc != -ENOENT) {
			rc = repo_remote_err(err, rc, &rerr);
			break;
		}
		rc = 0;
	}
	free(l.names);
	if (rc == 0 && out)
		*out = res;
	return rc;
}

int wal_foreach_chunk(Repo *repo, WalChunkFn fn, void *ctx, StrataErr *err)
{
	NameList l;
	int rc;

	rc = list_names(repo, &l, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		WalDesc d;
		memset(&d, 0, sizeof d);
		rc = wal_desc_load(repo, l.names[i], &d, err);
		if (rc == STRATA_ENOTFOUND) {
			rc = 0;   /* removed since the listing (wal-prune) */
			strata_err_clear(err);
			continue;
		}
		for (uint32_t k = 0; rc == 0 && k < d.n; k++)
			rc = fn(d.ids[k], d.lens[k], ctx);
		wal_desc_free(&d);
	}
	free(l.names);
	return rc;
}
