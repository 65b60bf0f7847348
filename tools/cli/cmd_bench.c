/* cmd_bench.c — `strata bench-primitives`: single-core throughput of each
 * pipeline stage (chunker, keyed hash, zstd, AEAD) and memcpy as the
 * physical ceiling, on the same data, so a slow backup can be traced to
 * its stage. Needs no repository. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chunker/fastcdc.h"
#include "store/codec.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_opts.h"

#define BENCH_BYTES (64u << 20)
#define CHUNK_AVG   (32u << 10)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Chain-like sample when no file is given: half incompressible (hashes,
 * addresses), half repetitive records; zstd gives about 1.5x. */
static void fill_sample(uint8_t *buf, size_t len)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i < len; i += 64) {
		for (size_t j = 0; j < 32 && i + j < len; j++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			buf[i + j] = (uint8_t)x;
		}
		for (size_t j = 32; j < 64 && i + j < len; j++)
			buf[i + j] = (uint8_t)("\"amount\":1000,\"fee\":21,\"to\":"[j % 28]);
	}
}

static int load_file(const char *path, uint8_t *buf, size_t cap, size_t *out_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t have = 0;

	if (fd < 0)
		return -errno;
	while (have < cap) {
		ssize_t r = read(fd, buf + have, cap - have);
		if (r < 0) {
			int e = -errno;
			close(fd);
			return e;
		}
		if (r == 0)
			break;
		have += (size_t)r;
	}
	close(fd);
	*out_len = have;
	return 0;
}

static double mbps(size_t bytes, double secs)
{
	return secs > 0 ? (double)bytes / secs / 1e6 : 0;
}

static int run(Cli *cli, int argc, char **argv)
{
	uint8_t *buf = NULL, *dst = NULL, master[CODEC_KEY_LEN] = {1}, id[CODEC_ID_LEN];
	const char *file = (argc >= 2 && argv[1][0] != '-') ? argv[1] : NULL;
	size_t len = BENCH_BYTES, *cuts = NULL, ncuts = 0, off = 0, out_len, stored = 0;
	uint64_t gear[256];
	CodecKeys *keys = NULL;
	CodecCtx *ctx = NULL;
	FastCdc cdc;
	double t, r_memcpy, r_cdc, r_hash, r_aead, r_zstd, r_seal;
	int rc = 0, level = CODEC_ZSTD_DEFAULT_LEVEL;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return cli_usage(cli, "usage: strata bench-primitives [FILE]");
	buf = malloc(len);
	dst = malloc(len + (len / CHUNK_AVG + 64) * 64 + (1u << 20));
	cuts = malloc((len / 4096 + 2) * sizeof *cuts);
	if (codec_init() != 0 || !buf || !dst || !cuts || !(keys = codec_keys_new(master)) ||
	    !(ctx = codec_ctx_new())) {
		rc = cli_failf(cli, -ENOMEM, "out of memory");
		goto out;
	}
	if (file) {
		int e = load_file(file, buf, len, &len);
		if (e || len == 0) {
			rc = cli_failf(cli, e ? e : -EINVAL, "%s: %s", file, e ? strerror(-e) : "empty file");
			goto out;
		}
	} else {
		fill_sample(buf, len);
	}
	codec_gear(keys, gear);
	fastcdc_init(&cdc, gear, CHUNK_AVG / 4, CHUNK_AVG, CHUNK_AVG * 4);

	memcpy(dst, buf, len);           /* fault the pages in first */
	t = now_s();
	memcpy(dst, buf, len);
	r_memcpy = mbps(len, now_s() - t + 1e-9);

	t = now_s();
	for (off = 0; off < len;) {
		size_t cut = fastcdc_cut(&cdc, buf + off, len - off, 1);
		cuts[ncuts++] = cut;
		off += cut;
	}
	r_cdc = mbps(len, now_s() - t);

	t = now_s();
	off = 0;
	for (size_t i = 0; i < ncuts; off += cuts[i++])
		codec_chunk_id(keys, buf + off, cuts[i], id);
	r_hash = mbps(len, now_s() - t);

	/* AEAD alone: sealing with compression off. */
	t = now_s();
	off = 0;
	for (size_t i = 0; i < ncuts; off += cuts[i++])
		codec_blob_seal(ctx, keys, BLOB_DATA, id, buf + off, cuts[i], -1, dst, &out_len);
	r_aead = mbps(len, now_s() - t);

	/* zstd plus AEAD, as the pipeline does it: zstd's share by subtraction. */
	t = now_s();
	off = 0;
	for (size_t i = 0; i < ncuts; off += cuts[i++]) {
		codec_blob_seal(ctx, keys, BLOB_DATA, id, buf + off, cuts[i], level, dst, &out_len);
		stored += out_len;
	}
	t = now_s() - t;
	r_seal = mbps(len, t);
	r_zstd = mbps(len, t - (double)len / 1e6 / r_aead);

	if (cli->json) {
		if (cli_json_print(json_pack("{s:I, s:I, s:f, s:f, s:f, s:f, s:i, s:f, s:f, s:f}",
		        "bytes", (json_int_t)len, "chunk_avg", (json_int_t)CHUNK_AVG,
		        "memcpy_mbps", r_memcpy, "chunker_mbps", r_cdc, "hash_mbps", r_hash,
		        "aead_mbps", r_aead, "zstd_level", level, "zstd_mbps", r_zstd, "seal_mbps", r_seal,
		        "zstd_ratio", (double)len / (double)stored), 0) < 0)
			rc = cli_failf(cli, -EIO, "cannot write to stdout");
	} else {
		printf("single core, %zu MiB of %s, %u KiB average chunks\n", len >> 20,
		       file ? file : "chain-like sample data", CHUNK_AVG >> 10);
		printf("  memcpy (ceiling)            %8.0f MB/s\n", r_memcpy);
		printf("  chunker (FastCDC)           %8.0f MB/s\n", r_cdc);
		printf("  chunk ID (keyed BLAKE2b)    %8.0f MB/s\n", r_hash);
		printf("  encryption (XChaCha20-Poly1305) %4.0f MB/s\n", r_aead);
		printf("  compression (zstd -%d)       %8.0f MB/s  (ratio %.2f)\n", level, r_zstd,
		       (double)len / (double)stored);
		printf("  compress + encrypt          %8.0f MB/s\n", r_seal);
	}
out:
	codec_ctx_free(ctx);
	codec_keys_free(keys);
	free(buf);
	free(dst);
	free(cuts);
	return rc ? rc : CLI_EXIT_OK;
}

const CliCommand cmd_bench = {
	.name = "bench-primitives",
	.summary = "Measure each pipeline stage's speed on one core.",
	.usage = "strata bench-primitives [FILE]",
	.help =
		"Times memcpy, the FastCDC chunker, keyed BLAKE2b chunk IDs,\n"
		"XChaCha20-Poly1305 and zstd level 1 (what backup uses on low-entropy\n"
		"chunks; the others get the faster level -1) on 64 MiB of FILE\n"
		"(or of generated chain-like data), one thread, and prints MB/s for\n"
		"each. Needs no repository. `make bench` prints these beside the\n"
		"backup figures.\n"
		"\n"
		"Examples:\n"
		"  strata bench-primitives\n"
		"  strata bench-primitives /var/lib/node/blocks/blk00042.dat --json\n",
	.run = run,
};
