/* frame_probe — what frames (FORMAT.md §9a, format 3) would store
 * and cost on a directory, measured with strata's own codec: each file is
 * cut as a backup cuts it (FastCDC 8/32/128 KiB, or 16 KiB page runs for
 * PostgreSQL relation files, §13a), chunks already seen are deduplicated,
 * and the new chunks are sealed
 *   - alone, each a blob (what strata stores today), and
 *   - in frames of up to N consecutive new chunks of a file and at most
 *     256 KiB of chunk bytes (a frame of one chunk is a blob),
 * with the default data level (auto, codec.h). Then every blob and frame
 * is opened again and its chunks copied out (a restore's CPU), checked
 * bit for bit against the input.
 *
 *   frame_probe [-l LEVEL] [-r BYTES] [-n N]... PATH...
 *     -n  chunks per frame at most (default -n 4 -n 8 -n 16)
 *     -l  zstd level (default 0: auto, strata's default for data)
 *     -r  chunk bytes per frame at most (default 256 KiB, FRAME_WRITE_RAW)
 *
 * Prints the bytes stored (sealed blobs and frames; trailer entries
 * beside), seal and open speeds in MB/s of chunk bytes, and the cost of
 * reading one chunk (mean over chunks: its blob, or its whole frame).
 * One thread; speeds are of CPU time (CLOCK_THREAD_CPUTIME_ID), so that a
 * loaded machine slows them less than wall time, but they stay relative:
 * compare lines of one run.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chunker/fastcdc.h"
#include "chunker/pagerun.h"
#include "store/backup/pgrel.h"
#include "store/codec.h"
#include "store/frame.h"

#define MAX_N 32

typedef struct Chunk {
	uint32_t file;        /* index into files */
	uint64_t off;         /* in the input buffer */
	uint32_t len;
	uint8_t id[CODEC_ID_LEN];
} Chunk;

static uint8_t *input;           /* every file's bytes, end to end */
static size_t input_len, input_cap;
static uint32_t nfiles;
static Chunk *chunks;            /* new chunks, in file order */
static size_t nchunks, chunks_cap;
static uint64_t dup_bytes;
static uint8_t (*seen)[CODEC_ID_LEN];
static size_t seen_cap = 1 << 16, nseen;
static FastCdc cdc;
static PgRelMemo memo;
static CodecKeys *keys;
static size_t raw_cap = FRAME_WRITE_RAW;  /* -r: chunk bytes a frame holds at most */
static int level;                /* -l: zstd level, 0 = auto (strata's default) */

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "frame_probe: %s: %s\n", what, strerror(errno ? errno : ENOMEM));
	exit(1);
}

/* 1 if id was seen before; else remember it. Open addressing. */
static int seen_add(const uint8_t id[CODEC_ID_LEN])
{
	static const uint8_t zero[CODEC_ID_LEN];

	if (nseen * 2 >= seen_cap || !seen) {
		size_t old = seen ? seen_cap : 0;
		uint8_t (*prev)[CODEC_ID_LEN] = seen;

		seen_cap = old ? old * 2 : seen_cap;
		seen = calloc(seen_cap, CODEC_ID_LEN);
		if (!seen)
			die("memory");
		nseen = 0;
		for (size_t i = 0; i < old; i++)
			if (memcmp(prev[i], zero, CODEC_ID_LEN) != 0)
				seen_add(prev[i]);
		free(prev);
	}
	uint64_t h;
	memcpy(&h, id, sizeof h);
	for (size_t i = h & (seen_cap - 1);; i = (i + 1) & (seen_cap - 1)) {
		if (memcmp(seen[i], zero, CODEC_ID_LEN) == 0) {
			memcpy(seen[i], id, CODEC_ID_LEN);
			nseen++;
			return 0;
		}
		if (memcmp(seen[i], id, CODEC_ID_LEN) == 0)
			return 1;
	}
}

static int add_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	uint32_t run;
	size_t pos;
	int fd;

	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode) || st->st_size == 0)
		return 0;
	while (input_len + (size_t)st->st_size > input_cap) {
		input_cap = input_cap ? input_cap * 2 : (size_t)64 << 20;
		input = realloc(input, input_cap);
		if (!input)
			die("memory");
	}
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die(path);
	size_t got = 0;
	while (got < (size_t)st->st_size) {
		ssize_t r = read(fd, input + input_len + got, (size_t)st->st_size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	run = pgrel_run_len(path, st, &memo);
	for (pos = 0; pos < got;) {
		size_t len = run ? pagerun_cut(run, got - pos, 1) : fastcdc_cut(&cdc, input + input_len + pos, got - pos, 1);
		Chunk c = {nfiles, input_len + pos, (uint32_t)len, {0}};

		codec_chunk_id(keys, input + c.off, len, c.id);
		pos += len;
		if (seen_add(c.id)) {
			dup_bytes += len;
			continue;
		}
		if (nchunks == chunks_cap) {
			chunks_cap = chunks_cap ? chunks_cap * 2 : 4096;
			chunks = realloc(chunks, chunks_cap * sizeof *chunks);
			if (!chunks)
				die("memory");
		}
		chunks[nchunks++] = c;
	}
	input_len += got;
	nfiles++;
	return 0;
}

/* Seal the new chunks in groups of at most n (n == 1: each alone) and open
 * them again; print one line. */
static void run(CodecCtx *ctx, size_t n)
{
	uint8_t *store, *back;
	size_t *glen, *graw, *gfirst, *gcount, ngroups = 0, stored = 0, cap = 0;
	uint64_t raw = 0;
	double t_seal, t_open;

	for (size_t i = 0; i < nchunks; i++) {
		cap += chunks[i].len + CODEC_BLOB_OVERHEAD + FRAME_MEMBER_LEN + 2;
		raw += chunks[i].len;
	}
	store = malloc(cap);
	back = malloc(FRAME_MAX_RAW);
	glen = calloc(nchunks + 1, sizeof *glen);
	graw = calloc(nchunks + 1, sizeof *graw);
	gfirst = calloc(nchunks + 1, sizeof *gfirst);
	gcount = calloc(nchunks + 1, sizeof *gcount);
	if (!store || !back || !glen || !graw || !gfirst || !gcount)
		die("memory");

	double t0 = now();
	for (size_t i = 0; i < nchunks;) {
		size_t k = 1, bytes = chunks[i].len;

		while (k < n && i + k < nchunks && chunks[i + k].file == chunks[i].file &&
		       bytes + chunks[i + k].len <= raw_cap)
			bytes += chunks[i + k++].len;
		gfirst[ngroups] = i;
		gcount[ngroups] = k;
		if (k == 1) {
			if (codec_blob_seal(ctx, keys, BLOB_DATA, chunks[i].id, input + chunks[i].off, chunks[i].len, level,
			                    store + stored, &glen[ngroups]) != 0)
				die("seal");
			graw[ngroups] = chunks[i].len;
		} else {
			uint8_t ids[MAX_N][CODEC_ID_LEN], *p = NULL;
			const uint8_t *data[MAX_N];
			uint32_t lens[MAX_N];
			size_t p_len = 0;

			for (size_t j = 0; j < k; j++) {
				memcpy(ids[j], chunks[i + j].id, CODEC_ID_LEN);
				data[j] = input + chunks[i + j].off;
				lens[j] = chunks[i + j].len;
			}
			if (frame_plain_build((const uint8_t (*)[CODEC_ID_LEN])ids, data, lens, k, &p, &p_len) != 0 ||
			    frame_seal(ctx, keys, p, p_len, level, store + stored, &glen[ngroups]) != 0)
				die("frame");
			graw[ngroups] = p_len;
			free(p);
		}
		stored += glen[ngroups++];
		i += k;
	}
	t_seal = now() - t0;

	static FrameMember mem[FRAME_MAX_MEMBERS];
	size_t off = 0, m = 0;
	t0 = now();
	for (size_t g = 0; g < ngroups; g++) {
		const Chunk *c = &chunks[gfirst[g]];

		if (gcount[g] == 1) {
			if (codec_blob_decrypt(ctx, keys, BLOB_DATA, c->id, store + off, glen[g], back, c->len) != 0 ||
			    memcmp(back, input + c->off, c->len) != 0)
				die("open blob");
		} else {
			if (frame_open(ctx, keys, store + off, glen[g], back, graw[g], mem, &m) != 0 || m != gcount[g])
				die("open frame");
			for (size_t j = 0; j < m; j++)
				if (frame_member_at(mem, m, c[j].id, mem[j].off, c[j].len) != 0 ||
				    memcmp(back + mem[j].off, input + c[j].off, c[j].len) != 0)
					die("frame member");
		}
		off += glen[g];
	}
	t_open = now() - t0;
	/* one chunk read alone: its group opened whole; mean over chunks */
	double per_chunk_us = 0;
	for (size_t g = 0; g < ngroups; g++)
		per_chunk_us += (double)gcount[g] * ((double)graw[g] / (double)raw * t_open);
	per_chunk_us = per_chunk_us / (double)nchunks * 1e6;
	size_t nframes = 0;
	char label[16];
	for (size_t g = 0; g < ngroups; g++)
		nframes += gcount[g] > 1;
	if (n == 1)
		snprintf(label, sizeof label, "alone");
	else
		snprintf(label, sizeof label, "frames x%zu", n);
	printf("%-10s %8.2f MiB stored (%5.1f %% of the chunks) in %7zu blobs + %6zu frames, entries %5.2f MiB;"
	       " seal %4.0f MB/s, open %5.0f MB/s, one chunk %6.1f us (CPU)\n",
	       label, (double)stored / 1048576.0, 100.0 * (double)stored / (double)raw,
	       ngroups - nframes, nframes, (double)(nchunks + nframes) * PACK_ENTRY_LEN / 1048576.0,
	       (double)raw / 1e6 / t_seal, (double)raw / 1e6 / t_open, per_chunk_us);
	free(store);
	free(back);
	free(glen);
	free(graw);
	free(gfirst);
	free(gcount);
}

int main(int argc, char **argv)
{
	size_t ns[8], nn = 0;
	uint8_t master[CODEC_KEY_LEN];
	uint64_t gear[256];
	CodecCtx *ctx;
	int opt;

	while ((opt = getopt(argc, argv, "l:n:r:")) != -1) {
		long v = strtol(optarg ? optarg : "0", NULL, 10);
		if (opt == 'r' && v >= 4096 && (size_t)v <= FRAME_MAX_RAW / 2) {
			raw_cap = (size_t)v;
			continue;
		}
		if (opt == 'l' && v >= -5 && v <= 19) {
			level = (int)v;
			continue;
		}
		if (opt != 'n' || v < 2 || v > MAX_N || nn == 8) {
			fprintf(stderr, "usage: frame_probe [-l LEVEL] [-r BYTES] [-n N (2..%d)]... PATH...\n", MAX_N);
			return 2;
		}
		ns[nn++] = (size_t)v;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: frame_probe [-l LEVEL] [-r BYTES] [-n N (2..%d)]... PATH...\n", MAX_N);
		return 2;
	}
	if (nn == 0) {
		ns[0] = 4; ns[1] = 8; ns[2] = 16;
		nn = 3;
	}
	if (codec_init() != 0)
		die("libsodium");
	memset(master, 0x42, sizeof master);
	keys = codec_keys_new(master);
	ctx = codec_ctx_new();
	if (!keys || !ctx)
		die("keys");
	codec_gear(keys, gear);
	if (fastcdc_init(&cdc, gear, 8192, 32768, 131072) != 0)
		die("chunker");
	for (int i = optind; i < argc; i++)
		if (nftw(argv[i], add_file, 16, FTW_PHYS) != 0)
			die(argv[i]);
	uint64_t raw = 0;
	for (size_t i = 0; i < nchunks; i++)
		raw += chunks[i].len;
	printf("input %.2f MiB in %u files: %zu new chunks, %.2f MiB (%.2f MiB deduplicated)\n",
	       (double)input_len / 1048576.0, nfiles, nchunks, (double)raw / 1048576.0, (double)dup_bytes / 1048576.0);
	run(ctx, 1);
	for (size_t i = 0; i < nn; i++)
		run(ctx, ns[i]);
	codec_ctx_free(ctx);
	codec_keys_free(keys);
	free(input);
	free(chunks);
	free(seen);
	return 0;
}
