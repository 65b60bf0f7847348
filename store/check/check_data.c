/* check_data.c — read-data, phase 5 (check_internal.h): the selected packs
 * streamed by the worker pool in windows of CHECK_WINDOW_BYTES, every blob
 * authenticated, decompressed and re-hashed against its ID as soon as its
 * bytes are in the window. FORMAT.md "Blob", "Pack file", "Check".
 */
#include "store/check/check_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/blob.h"
#include "store/codec.h"
#include "store/frame.h"
#include "store/pack_read.h"
#include "store/repo_internal.h"

/* One per pool thread: its zstd contexts, the window a pack is read into
 * (buf) and the plaintext of the blob being checked (out). */
typedef struct Worker {
	CodecCtx *codec;
	uint8_t *buf, *out;
	size_t cap, out_cap;
} Worker;

void *check_data_worker_new(void)
{
	Worker *w = calloc(1, sizeof *w);

	if (w && !(w->codec = codec_ctx_new())) {
		free(w);
		w = NULL;
	}
	return w;
}

void check_data_worker_free(void *p)
{
	Worker *w = p;

	if (!w)
		return;
	codec_ctx_free(w->codec);
	free(w->buf);
	free(w->out);
	free(w);
}

static int cmp_offset(const void *a, const void *b)
{
	const PackEntry *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Sort a pack's entries by offset, each frame entry (FORMAT.md 9a) with
 * the member entries that follow it, which occupy no pack bytes: in a
 * trailer they are in order already; an index file's fallback entries
 * may not be. *e is replaced (freed) when it holds a frame. */
typedef struct EntryRun {
	uint64_t off;
	size_t first, n;
} EntryRun;

static int cmp_run(const void *a, const void *b)
{
	const EntryRun *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return x->first < y->first ? -1 : x->first > y->first;
}

static int sort_by_offset(PackEntry **e, size_t n)
{
	EntryRun *runs;
	PackEntry *out;
	size_t nr = 0, k = 0, frames = 0;

	for (size_t i = 0; i < n; i++)
		frames += (*e)[i].type == FORMAT_BLOB_FRAME || (*e)[i].type == FORMAT_BLOB_MEMBER;
	if (!frames) {
		qsort(*e, n, sizeof **e, cmp_offset);
		return 0;
	}
	runs = malloc(n * sizeof *runs);
	out = malloc(n * sizeof *out);
	if (!runs || !out) {
		free(runs);
		free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if ((*e)[i].type == FORMAT_BLOB_MEMBER && nr > 0 &&
		    (*e)[runs[nr - 1].first].type == FORMAT_BLOB_FRAME) {
			runs[nr - 1].n++;
			continue;
		}
		runs[nr].off = (*e)[i].type == FORMAT_BLOB_MEMBER ? 0 : (*e)[i].offset;
		runs[nr].first = i;
		runs[nr++].n = 1;
	}
	qsort(runs, nr, sizeof *runs, cmp_run);
	for (size_t r = 0; r < nr; r++)
		for (size_t i = 0; i < runs[r].n; i++)
			out[k++] = (*e)[runs[r].first + i];
	free(runs);
	free(*e);
	*e = out;
	return 0;
}

typedef struct DataJob {
	CheckCtx *c;
	size_t pack;
} DataJob;

static const char *reason_text(int reason)
{
	switch (reason) {
	case CHECK_C_AUTH:   return "fails authentication (its bytes changed, or they are not this chunk)";
	case CHECK_C_FORMAT: return "authentic, but does not decompress to its recorded length";
	case CHECK_C_HASH:   return "decrypts, but its content does not hash to its ID";
	default:             return "is damaged";
	}
}

/* Room for a plaintext of raw_len bytes in w->out when raw_len <= max: 0,
 * or -1 after a fatal out of memory. */
static int out_room(CheckCtx *c, Worker *w, uint32_t raw_len, size_t max, const char *what)
{
	if (raw_len <= max && w->out_cap < (size_t)raw_len + 1) {
		void *p = realloc(w->out, (size_t)raw_len + 1);
		if (!p) {
			check_fatal(c, -ENOMEM, NULL, what);
			return -1;
		}
		w->out = p;
		w->out_cap = (size_t)raw_len + 1;
	}
	return 0;
}

/* Open one blob: authenticate, decompress, re-hash against its ID. 1 when
 * it is recorded as damaged, else 0. */
static int verify_blob(CheckCtx *c, Worker *w, const uint8_t pack[STRATA_ID_LEN], const PackEntry *e,
                       const uint8_t *blob)
{
	int rc = STRATA_EFORMAT, reason;

	if (out_room(c, w, e->raw_len, RAW_MAX, "verifying a blob"))
		return 0;
	if (e->raw_len <= RAW_MAX)
		rc = pack_read_open(w->codec, c->repo, e->type, e->id, blob, e->length, w->out, e->raw_len, 1);
	reason = check_reason_of(rc);
	pthread_mutex_lock(&c->mu);
	if (reason < 0)
		check_fatal_locked(c, rc, NULL, "verifying a blob");
	else if (reason)
		check_report_chunk_locked(c, e->id, e->type, (CheckChunkReason)reason, pack, e->offset, e->length, e->raw_len,
		                          reason_text(reason));
	else
		c->r->blobs_verified++;
	pthread_mutex_unlock(&c->mu);
	return reason > 0;
}

/* The member entries that follow frame entry f (FORMAT.md 9a): their
 * number, from mem[0..): an index file's fallback entries need not follow
 * the rules a trailer's did. */
static size_t members_after(const PackEntry *f, const PackEntry *end)
{
	size_t m = 0;

	while (f + 1 + m < end && f[1 + m].type == FORMAT_BLOB_MEMBER)
		m++;
	return m;
}

/* Record every member of a frame as damaged (the frame's place: the
 * index gives a member its frame's OFFSET and LENGTH). Caller holds mu. */
static void report_members_locked(CheckCtx *c, const uint8_t pack[STRATA_ID_LEN], const PackEntry *f,
                                  const PackEntry *mem, size_t m, CheckChunkReason reason, const char *detail)
{
	for (size_t k = 0; k < m; k++)
		check_report_chunk_locked(c, mem[k].id, BLOB_DATA, reason, pack, f->offset, f->length, mem[k].raw_len, detail);
}

/* Open a frame f (sealed bytes at blob) once (FORMAT.md 9a, 14a): HEADER
 * must list exactly the trailer's member entries mem[0..m), and each
 * member must hash to its ID. A frame that fails to open names every
 * member; a member whose bytes do not hash names that one. Returns the
 * number of damaged members recorded. */
static int verify_frame(CheckCtx *c, Worker *w, const uint8_t pack[STRATA_ID_LEN], const PackEntry *f,
                        const PackEntry *mem, size_t m, const uint8_t *blob)
{
	FrameMember got[FRAME_MAX_MEMBERS];
	size_t bad_idx[FRAME_MAX_MEMBERS], gm = 0, nbad = 0;
	int rc = STRATA_EFORMAT, reason, same;

	if (out_room(c, w, f->raw_len, FRAME_MAX_RAW, "verifying a frame"))
		return 0;
	if (f->raw_len <= FRAME_MAX_RAW && m > 0)
		rc = frame_open(w->codec, c->repo->keys, blob, f->length, w->out, f->raw_len, got, &gm);
	same = rc == 0 && gm == m;
	for (size_t k = 0; same && k < m; k++)
		same = memcmp(got[k].id, mem[k].id, STRATA_ID_LEN) == 0 && got[k].off == mem[k].offset &&
		       got[k].len == mem[k].raw_len;
	if (same)
		nbad = frame_verify(c->repo->keys, w->out, got, gm, bad_idx);
	reason = rc ? check_reason_of(rc) : 0;
	pthread_mutex_lock(&c->mu);
	if (reason < 0) {
		check_fatal_locked(c, rc, NULL, "verifying a frame");
	} else if (reason) {
		report_members_locked(c, pack, f, mem, m, (CheckChunkReason)reason,
		                      reason == CHECK_C_AUTH ? "its frame fails authentication (its bytes changed)"
		                                             : "its frame is authentic, but does not decode (decompression or HEADER)");
	} else if (!same) {
		report_members_locked(c, pack, f, mem, m, CHECK_C_MISMATCH,
		                      "its frame's HEADER and the pack trailer disagree on the frame's chunks");
	} else {
		for (size_t k = 0; k < nbad; k++)
			check_report_chunk_locked(c, mem[bad_idx[k]].id, BLOB_DATA, CHECK_C_HASH, pack, f->offset, f->length,
			                          mem[bad_idx[k]].raw_len, "a member of its frame: decrypts, but does not hash to its ID");
		c->r->blobs_verified += m - nbad;
	}
	pthread_mutex_unlock(&c->mu);
	return reason > 0 || !same ? (int)m : (int)nbad;
}

/* One blob read on its own (entries from an index file may overlap); as
 * verify_blob, or for a frame (mem[0..m) its members) verify_frame. */
static int verify_alone(CheckCtx *c, Worker *w, uint8_t kind, const uint8_t pack[STRATA_ID_LEN],
                        const PackEntry *e, const PackEntry *mem, size_t m)
{
	uint8_t *b = malloc(e->length ? e->length : 1);
	StrataErr rerr = {0};
	int rc, bad = 0;

	if (!b) {
		check_fatal(c, -ENOMEM, NULL, "verifying a blob");
		return 0;
	}
	rc = pack_read_range(c->repo, kind, pack, e->offset, e->length, b, &rerr);
	if (rc == 0)
		bad = e->type == FORMAT_BLOB_FRAME ? verify_frame(c, w, pack, e, mem, m, b) : verify_blob(c, w, pack, e, b);
	else
		check_fatal(c, rc, &rerr, "reading a blob");
	free(b);
	return bad;
}

/* Stream the pack, opening every blob of e[0..n) (sorted by offset) once
 * its bytes are in the window; with hash, also hash every byte and report
 * a pack that does not hash to its name; with count, add the bytes to
 * bytes_read. Returns the number of damaged blobs recorded, or -1 when the
 * pack could not be read to its end (reported, or fatal). */
static int stream_pack(CheckCtx *c, Worker *w, const uint8_t id[STRATA_ID_LEN], uint8_t kind, uint64_t size,
                       const PackEntry *e, size_t n, int hash, int count)
{
	char hex[STRATA_ID_HEX_LEN + 1];
	uint8_t sum[STRATA_ID_LEN];
	uint64_t buf_off = 0, pos = 0;
	size_t blen = 0, i = 0;
	CodecNameState hs = {0};
	StrataErr rerr = {0};
	int rc, bad = 0;

	codec_hex(id, STRATA_ID_LEN, hex);
	if (hash)
		codec_name_init(&hs, c->repo->name_hash);
	for (;;) {
		while (i < n && !check_is_fatal(c)) {
			uint64_t end = (uint64_t)e[i].offset + e[i].length;
			/* A frame's members follow it: checked with it. */
			size_t m = e[i].type == FORMAT_BLOB_FRAME ? members_after(&e[i], e + n) : 0;
			if (e[i].type == FORMAT_BLOB_MEMBER) {
				/* A member without its frame before it: only an index
				 * file's fallback entries can say that; its frame's
				 * entry is missing, so nothing locates its bytes. */
				pthread_mutex_lock(&c->mu);
				check_report_chunk_locked(c, e[i].id, BLOB_DATA, CHECK_C_MISMATCH, id, 0, 0, e[i].raw_len,
				                          "listed as a frame member without its frame");
				pthread_mutex_unlock(&c->mu);
				bad++;
			} else if (end > size) {
				pthread_mutex_lock(&c->mu);
				if (m)
					report_members_locked(c, id, &e[i], &e[i + 1], m, CHECK_C_TRUNCATED,
					                      "its frame lies past the end of its pack");
				else
					check_report_chunk_locked(c, e[i].id, e[i].type, CHECK_C_TRUNCATED, id, e[i].offset,
					                          e[i].length, e[i].raw_len, "lies past the end of its pack");
				pthread_mutex_unlock(&c->mu);
				bad += m ? (int)m : 1;
			} else if (e[i].offset < buf_off) {
				bad += verify_alone(c, w, kind, id, &e[i], &e[i + 1], m);
			} else if (end <= buf_off + blen) {
				const uint8_t *b = w->buf + (e[i].offset - buf_off);
				bad += e[i].type == FORMAT_BLOB_FRAME ? verify_frame(c, w, id, &e[i], &e[i + 1], m, b)
				                                      : verify_blob(c, w, id, &e[i], b);
			} else {
				break;
			}
			i += 1 + m;
		}
		if (pos >= size || check_is_fatal(c))
			break;
		/* Keep the bytes of the next blob not yet complete. */
		uint64_t keep = i < n && e[i].offset < pos ? e[i].offset : pos;
		if (keep > buf_off) {
			size_t drop = (size_t)(keep - buf_off);
			memmove(w->buf, w->buf + drop, blen - drop);
			blen -= drop;
			buf_off = keep;
		}
		size_t want = size - pos < CHECK_WINDOW_BYTES ? (size_t)(size - pos) : CHECK_WINDOW_BYTES;
		if (w->cap < blen + want) {
			void *p = realloc(w->buf, blen + want);
			if (!p) {
				check_fatal(c, -ENOMEM, NULL, "reading a pack");
				bad = -1;
				goto out;
			}
			w->buf = p;
			w->cap = blen + want;
		}
		rc = pack_read_range(c->repo, kind, id, pos, want, w->buf + blen, &rerr);
		if (rc == -ERANGE || rc == -ENOENT) {
			check_report_problem(c, rc == -ENOENT ? CHECK_P_PACK_MISSING : CHECK_P_PACK_SIZE, 0, id,
			                     "pack %.16s %s while it was being read", hex,
			                     rc == -ENOENT ? "disappeared" : "shrank");
			bad = -1;
			goto out;
		}
		if (rc) {
			check_fatal(c, rc, &rerr, "reading a pack");
			bad = -1;
			goto out;
		}
		if (hash)
			codec_name_update(&hs, w->buf + blen, want);
		blen += want;
		pos += want;
		if (count) {
			pthread_mutex_lock(&c->mu);
			c->r->bytes_read += want;
			c->prog.bytes += want;
			check_progress_locked(c);
			pthread_mutex_unlock(&c->mu);
		}
	}
	if (check_is_fatal(c)) {
		bad = -1;
	} else if (hash) {
		rc = codec_name_final(&hs, sum);
		if (rc) {
			check_fatal(c, rc, NULL, "hashing a pack");
			bad = -1;
		} else if (memcmp(sum, id, STRATA_ID_LEN) != 0) {
			check_report_problem(c, CHECK_P_PACK_HASH, 0, id,
			                     "pack %.16s: its content does not hash to its name (damaged or replaced)", hex);
		}
	}
out:
	codec_name_release(&hs);
	return bad;
}

static void data_job(void *arg, void *state)
{
	DataJob *j = arg;
	CheckCtx *c = j->c;
	Worker *w = state;
	uint8_t id[STRATA_ID_LEN], kind;
	PackEntry *e = NULL;
	size_t n = 0;
	uint64_t size, tsize = 0;
	StrataErr terr = {0};
	int rc, hash, bad;

	if (!w) {
		check_fatal(c, -ENOMEM, NULL, "starting a worker");
		goto out;
	}
	if (check_is_fatal(c))
		goto out;
	pthread_mutex_lock(&c->mu);
	memcpy(id, c->packs[j->pack].id, STRATA_ID_LEN);
	kind = c->packs[j->pack].kind;
	size = c->packs[j->pack].size;
	/* The structure check already found this pack wrong: hash it too. */
	hash = c->opts->pack_hash || c->packs[j->pack].trailer_bad || c->packs[j->pack].reported ||
	       c->packs[j->pack].mismatch;
	pthread_mutex_unlock(&c->mu);
	rc = pack_read_trailer(c->repo, kind, id, &e, &n, &tsize, &terr);
	if (rc && !(check_damage_code(rc) || rc == -ERANGE || rc == -ENOENT)) {
		check_fatal(c, rc, &terr, "reading a pack trailer");
		goto out;
	}
	if (rc) {
		/* Damaged trailer: the index file's entries, if any, say where
		 * the blobs are. They need not cover every byte, so the pack's
		 * hash must be checked. */
		hash = 1;
		pthread_mutex_lock(&c->mu);
		n = c->packs[j->pack].ix_n;
		e = n ? malloc(n * sizeof *e) : NULL;
		if (e)
			memcpy(e, c->packs[j->pack].ix_entries, n * sizeof *e);
		else
			n = 0;
		pthread_mutex_unlock(&c->mu);
	}
	if (n && sort_by_offset(&e, n) != 0) {
		check_fatal(c, -ENOMEM, NULL, "reading a pack trailer");
		goto out;
	}
	/* Without hash, the trailer decoded: it is authentic and its entries
	 * lie end to end over every byte before it (pack_trailer_parse), so
	 * opening every blob authenticates every byte of the pack (FORMAT.md
	 * "Check"). A pack found damaged is hashed after all, in a second
	 * read, so that the report names it as before. */
	bad = stream_pack(c, w, id, kind, size, e, n, hash, 1);
	if (bad > 0 && !hash && !check_is_fatal(c))
		stream_pack(c, w, id, kind, size, NULL, 0, 1, 0);
	pthread_mutex_lock(&c->mu);
	memcpy(c->r->packs_read[c->r->npacks_read++], id, STRATA_ID_LEN);
	check_step_locked(c);
	pthread_mutex_unlock(&c->mu);
out:
	free(e);
	free(j);
}

/* Uniform in [0, bound) from libsodium's generator. */
static size_t random_below(size_t bound)
{
	uint64_t r, limit = UINT64_MAX - UINT64_MAX % bound;

	do
		codec_random(&r, sizeof r);
	while (r >= limit);
	return (size_t)(r % bound);
}

int check_data_run(CheckCtx *c, StrataErr *err)
{
	const CheckOptions *o = c->opts;
	size_t *sel = malloc((c->npacks ? c->npacks : 1) * sizeof *sel), nsel = 0;
	int rc = 0;

	if (!sel)
		return strata_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < c->npacks; i++)
		if (c->packs[i].in_storage && (!o->subset_t || check_subset_has(c->packs[i].id, o->subset_n, o->subset_t)))
			sel[nsel++] = i;
	if (o->subset_percent > 0 && nsel > 0) {
		size_t k = (size_t)ceil((double)nsel * o->subset_percent / 100.0);
		if (k > nsel)
			k = nsel;
		for (size_t i = 0; i < k; i++) {     /* partial Fisher-Yates */
			size_t r = i + random_below(nsel - i), t = sel[i];
			sel[i] = sel[r];
			sel[r] = t;
		}
		nsel = k;
	}
	c->r->packs_selected = nsel;
	if ((rc = check_thaw_select(c, sel, &nsel, err)) != 0) {
		free(sel);
		return rc;
	}
	c->r->packs_read = malloc((nsel ? nsel : 1) * sizeof *c->r->packs_read);
	if (!c->r->packs_read) {
		free(sel);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	check_phase(c, "read-data", nsel);
	for (size_t i = 0; i < nsel && !check_is_fatal(c); i++) {
		DataJob *j = malloc(sizeof *j);
		if (j) {
			j->c = c;
			j->pack = sel[i];
		}
		if (!j || workpool_submit(c->pool, data_job, j, CHECK_WINDOW_BYTES) != 0) {
			free(j);
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			break;
		}
	}
	workpool_wait(c->pool);
	free(sel);
	return rc;
}
