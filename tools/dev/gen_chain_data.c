/* gen_chain_data — deterministic generator of blockchain-node-like data sets
 * for benchmarking backup tools.
 *
 *   gen_chain_data init DIR SIZE [--seed N]   create a data dir of about SIZE
 *   gen_chain_data advance DIR N              simulate N new blocks
 *   gen_chain_data info DIR                   print height and part sizes
 *
 * Layout (like a node's data directory):
 *   blocks/blkNNNNN.dat     append-only, ~1 MiB blocks, a new file every
 *                           128 MiB; zstd -3 ratio ~1.5 (random hashes,
 *                           keys and signatures mixed with script templates,
 *                           reused hot addresses and text inscriptions)
 *   chainstate/NNNNNN.ldb   sorted tables of key/value records, 4-16 MiB,
 *                           ~17 % of the set; each block "compacts" 1-3
 *                           tables: same records with a few inserted,
 *                           changed or deleted, written under a new number,
 *                           the old file deleted.  Plus CURRENT, MANIFEST-*,
 *                           LOG and a write-ahead NNNNNN.log.
 *   logs/debug.log          growing text log
 *   export/state.json       JSON export, ~3 % of the set, regenerated (new
 *                           file, renamed over) each block with a few
 *                           accounts changed
 *   .gen_chain_state        the generator's own state (seed, height, tables)
 *
 * Determinism: every random choice comes from xoshiro256** streams seeded by
 * (seed, purpose, block height or index), so the same seed and the same
 * sequence of commands give identical bytes, and "advance 20" gives the
 * same tree as twenty times "advance 1".  Output is byte-order independent.
 * Only libc is used.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)

#define BLK_ROLL_BYTES   (128 * MIB)   /* new blkNNNNN.dat past this size */
#define BLOCK_MIN_BYTES  (768 * KIB)   /* block sizes uniform in [min,max) */
#define BLOCK_MAX_BYTES  (1280 * KIB)
#define BLOCK_BUF_BYTES  (BLOCK_MAX_BYTES + 256 * KIB) /* + one max-size tx */
#define LDB_MIN_BYTES    (4 * MIB)
#define LDB_MAX_BYTES    (16 * MIB)
#define LDB_INDEX_EVERY  128            /* one index entry per 128 records */
#define LDB_MAGIC        0xdb4775248b80fb57ULL /* LevelDB's table magic */
#define KEY_LEN          34             /* 'C' || prefix64 || 24 random || vout */
#define VAL_MAX          46
#define NHOT             384            /* hot (reused) addresses and keys */
#define NVALIDATORS      48
#define HEIGHT_BASE      UINT64_C(820000)     /* displayed height of block 0 */
#define TIME_BASE        1700000000LL   /* timestamp of block 0 */

/* Shares of SIZE; blocks get the rest. */
#define SHARE_CHAINSTATE 0.17
#define SHARE_EXPORT     0.03

/* Transaction mix, percent of non-coinbase transactions.  Tuned so that
 * zstd -3 compresses block files by ~1.5 (see tools/dev/bench.sh notes). */
#define PCT_INSCRIPTION  28
#define PCT_OPRETURN     8
#define PCT_DOC          10  /* of inscriptions: multi-KB text document */

static const char STATE_NAME[] = ".gen_chain_state";

/* ---------------------------------------------------------------- util */

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("gen_chain_data: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die("out of memory (%zu bytes)", n);
	return q;
}

typedef struct {
	char s[4096];
} Path;

__attribute__((format(printf, 2, 3)))
static void path_fmt(Path *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(p->s, sizeof p->s, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof p->s)
		die("path too long");
}

static void mkdir_p(const char *path)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		die("mkdir %s: %s", path, strerror(errno));
}

static FILE *xfopen(const char *path, const char *mode)
{
	FILE *f = fopen(path, mode);
	if (!f)
		die("open %s: %s", path, strerror(errno));
	return f;
}

static void xfwrite(const void *p, size_t n, FILE *f, const char *path)
{
	if (n && fwrite(p, 1, n, f) != n)
		die("write %s: %s", path, strerror(errno));
}

static void xfclose(FILE *f, const char *path)
{
	if (fclose(f) != 0)
		die("close %s: %s", path, strerror(errno));
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = xfopen(path, "wb");
	xfwrite(p, n, f, path);
	xfclose(f, path);
}

static void append_file(const char *path, const void *p, size_t n)
{
	FILE *f = xfopen(path, "ab");
	xfwrite(p, n, f, path);
	xfclose(f, path);
}

static uint8_t *read_file(const char *path, size_t *out_len)
{
	FILE *f = xfopen(path, "rb");
	size_t cap = 1 * MIB, len = 0;
	uint8_t *buf = xmalloc(cap);
	for (;;) {
		if (len == cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f))
				die("read %s: %s", path, strerror(errno));
			break;
		}
	}
	fclose(f);
	*out_len = len;
	return buf;
}

static void xunlink(const char *path)
{
	if (unlink(path) != 0 && errno != ENOENT)
		die("unlink %s: %s", path, strerror(errno));
}

static void xrename(const char *from, const char *to)
{
	if (rename(from, to) != 0)
		die("rename %s -> %s: %s", from, to, strerror(errno));
}

/* Growable byte buffer for text output. */
typedef struct {
	char *p;
	size_t len, cap;
} Buf;

static void buf_reserve(Buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

static void buf_put(Buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

__attribute__((format(printf, 2, 3)))
static void buf_printf(Buf *b, const char *fmt, ...)
{
	va_list ap;
	buf_reserve(b, 256);
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			die("vsnprintf failed");
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		buf_reserve(b, (size_t)n + 1);
	}
}

/* ----------------------------------------------------------------- rng */

typedef struct {
	uint64_t s[4];
} Rng;

enum {
	S_POOLS = 1, S_BLOCK, S_BHASH, S_CHAIN_INIT, S_CHAIN_ADV, S_ACCT,
	S_ACCT_UPD, S_EXPORT_ADV, S_LOG, S_SIZES
};

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* A stream per (seed, purpose, a, b): independent of the order of calls. */
static void rng_init(Rng *r, uint64_t seed, uint64_t stream, uint64_t a, uint64_t b)
{
	uint64_t x = mix64(seed + 0x9E3779B97F4A7C15ULL);
	x = mix64(x ^ (stream * 0xD1B54A32D192ED03ULL));
	x = mix64(x ^ a);
	x = mix64(x ^ (b + 0x632BE59BD9B4E019ULL));
	for (int i = 0; i < 4; i++) {
		x += 0x9E3779B97F4A7C15ULL;
		r->s[i] = mix64(x);
	}
}

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(Rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return res;
}

static inline uint64_t rng_below(Rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static inline uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void rng_fill(Rng *r, uint8_t *p, size_t n)
{
	while (n >= 8) {
		put_le64(p, rng_next(r));
		p += 8;
		n -= 8;
	}
	if (n) {
		uint64_t v = rng_next(r);
		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)(v >> (8 * i));
	}
}

static void hex(char *out, const uint8_t *p, size_t n)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

/* ------------------------------------------------------------- state */

typedef struct {
	uint64_t num;          /* file number: chainstate/NNNNNN.ldb */
	uint64_t minp, maxp;   /* key prefix range this table covers */
	uint64_t size;
} Table;

typedef struct {
	const char *dir;
	uint64_t seed;
	uint64_t height;        /* blocks written so far */
	uint64_t blk_file;      /* current blocks/blkNNNNN.dat */
	uint64_t blk_size;
	uint64_t next_num;      /* next chainstate file number */
	uint64_t wal_num;       /* current chainstate write-ahead log */
	uint64_t manifest_num;
	uint64_t ntables;
	Table *tables;          /* sorted by key range */
	/* derived from seed */
	uint8_t hot_addr[NHOT][20];
	uint8_t hot_pub[NHOT][33];
	uint8_t validators[NVALIDATORS][20];
} Gen;

static void gen_pools(Gen *g)
{
	Rng r;
	rng_init(&r, g->seed, S_POOLS, 0, 0);
	for (int i = 0; i < NHOT; i++) {
		rng_fill(&r, g->hot_addr[i], 20);
		rng_fill(&r, g->hot_pub[i], 33);
		g->hot_pub[i][0] = (uint8_t)(2 + (g->hot_pub[i][0] & 1));
	}
	for (int i = 0; i < NVALIDATORS; i++)
		rng_fill(&r, g->validators[i], 20);
}

static void state_save(const Gen *g)
{
	Path p, tmp;
	path_fmt(&p, "%s/%s", g->dir, STATE_NAME);
	path_fmt(&tmp, "%s/%s.tmp", g->dir, STATE_NAME);
	FILE *f = xfopen(tmp.s, "w");
	fprintf(f, "gen_chain_data-state 1\nseed %" PRIu64 "\nheight %" PRIu64
		"\nblk_file %" PRIu64 "\nblk_size %" PRIu64 "\nnext_num %" PRIu64
		"\nwal_num %" PRIu64 "\nmanifest_num %" PRIu64 "\ntables %" PRIu64 "\n",
		g->seed, g->height, g->blk_file, g->blk_size, g->next_num,
		g->wal_num, g->manifest_num, g->ntables);
	for (uint64_t i = 0; i < g->ntables; i++)
		fprintf(f, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			g->tables[i].num, g->tables[i].minp, g->tables[i].maxp,
			g->tables[i].size);
	if (ferror(f))
		die("write %s", tmp.s);
	xfclose(f, tmp.s);
	xrename(tmp.s, p.s);
}

static void state_load(Gen *g)
{
	Path p;
	path_fmt(&p, "%s/%s", g->dir, STATE_NAME);
	FILE *f = fopen(p.s, "r");
	if (!f)
		die("%s: not a gen_chain_data directory (%s)", g->dir, strerror(errno));
	int v = 0;
	if (fscanf(f, "gen_chain_data-state %d seed %" SCNu64 " height %" SCNu64
		   " blk_file %" SCNu64 " blk_size %" SCNu64 " next_num %" SCNu64
		   " wal_num %" SCNu64 " manifest_num %" SCNu64 " tables %" SCNu64,
		   &v, &g->seed, &g->height, &g->blk_file, &g->blk_size,
		   &g->next_num, &g->wal_num, &g->manifest_num, &g->ntables) != 9 ||
	    v != 1 || g->ntables > 1000000)
		die("%s: damaged state file", p.s);
	g->tables = xmalloc((g->ntables + 1) * sizeof *g->tables);
	for (uint64_t i = 0; i < g->ntables; i++) {
		Table *t = &g->tables[i];
		if (fscanf(f, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
			   &t->num, &t->minp, &t->maxp, &t->size) != 4)
			die("%s: damaged state file", p.s);
	}
	fclose(f);
	gen_pools(g);
}

/* ------------------------------------------------------------- blocks */

static inline uint8_t *put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
	return p + 4;
}

/* Bitcoin CompactSize. */
static inline uint8_t *put_cs(uint8_t *p, uint64_t v)
{
	if (v < 0xfd) {
		*p++ = (uint8_t)v;
	} else if (v <= 0xffff) {
		*p++ = 0xfd;
		*p++ = (uint8_t)v;
		*p++ = (uint8_t)(v >> 8);
	} else {
		*p++ = 0xfe;
		p = put_le32(p, (uint32_t)v);
	}
	return p;
}

static inline uint8_t *put_bytes(uint8_t *p, const void *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

static inline uint8_t *put_rand(uint8_t *p, Rng *r, size_t n)
{
	rng_fill(r, p, n);
	return p + n;
}

static void block_hash(const Gen *g, uint64_t h, uint8_t out[32])
{
	Rng r;
	rng_init(&r, g->seed, S_BHASH, h, 0);
	rng_fill(&r, out, 32);
	memset(out + 23, 0, 9); /* proof of work: trailing (displayed leading) zeros */
}

static void block_hash_hex(const Gen *g, uint64_t h, char out[65])
{
	uint8_t b[32], rev[32];
	block_hash(g, h, b);
	for (int i = 0; i < 32; i++)
		rev[i] = b[31 - i];
	hex(out, rev, 32);
}

static const char *const TICKS[] = {
	"ordi", "sats", "rats", "pups", "trac", "dogi", "mice", "piza",
	"bear", "meme", "oxbt", "vmpx", "lger", "honk", "zbit", "btcs"
};
static const char *const MINER_TAGS[] = {
	"/AntPool/", "/Foundry USA Pool #dropgold/", "/ViaBTC/Mined by a miner/",
	"/F2Pool/", "/Binance/", "/SpiderPool/", "/MARA Pool/", "/Luxor/"
};
static const char *const WORDS[] = {
	"the", "of", "and", "to", "in", "block", "chain", "token", "mint",
	"transfer", "value", "node", "peer", "hash", "proof", "work", "stake",
	"ledger", "epoch", "slot", "account", "balance", "fee", "reward",
	"<div", "class=", "\"item\"", "</div>", "<svg", "width=", "height=",
	"<rect", "fill=", "\"#ff9900\"", "/>", "<p>", "</p>", "{\"id\":",
	"\"name\":", "\"trait\":", "\"rare\"", "\"common\"", "},", "[", "]",
	"ordinals", "inscription", "satoshi", "genesis", "collection",
	"metadata", "image", "attributes", "background", "eyes", "hat",
	"laser", "gold", "silver", "diamond", "pixel", "punk", "ape", "frog"
};
#define NWORDS (sizeof WORDS / sizeof WORDS[0])

static uint8_t *put_amount(uint8_t *p, Rng *r)
{
	static const uint64_t pow10[] = { 1, 10, 100, 1000, 10000, 100000 };
	/* separate statements: the order of evaluation must not depend on the compiler */
	uint64_t mant = 1 + rng_below(r, 99999);
	uint64_t v = mant * pow10[rng_below(r, 6)];
	put_le64(p, v);
	return p + 8;
}

static uint8_t *put_out_script(uint8_t *p, Rng *r, const Gen *g)
{
	unsigned k = (unsigned)rng_below(r, 100);
	const uint8_t *addr = NULL;
	if (rng_below(r, 100) < 30)
		addr = g->hot_addr[rng_below(r, NHOT)];
	if (k < 55) {          /* P2WPKH */
		p = put_bytes(p, "\x16\x00\x14", 3);
		p = addr ? put_bytes(p, addr, 20) : put_rand(p, r, 20);
	} else if (k < 85) {   /* P2TR */
		p = put_bytes(p, "\x22\x51\x20", 3);
		p = put_rand(p, r, 32);
	} else if (k < 95) {   /* P2PKH */
		p = put_bytes(p, "\x19\x76\xa9\x14", 4);
		p = addr ? put_bytes(p, addr, 20) : put_rand(p, r, 20);
		p = put_bytes(p, "\x88\xac", 2);
	} else {               /* P2SH */
		p = put_bytes(p, "\x17\xa9\x14", 3);
		p = addr ? put_bytes(p, addr, 20) : put_rand(p, r, 20);
		*p++ = 0x87;
	}
	return p;
}

/* Inscription body: short BRC-20-like JSON, or a multi-KB document. */
static size_t inscription_text(char *out, size_t cap, Rng *r)
{
	unsigned k = (unsigned)rng_below(r, 100);
	const char *tick = TICKS[rng_below(r, sizeof TICKS / sizeof TICKS[0])];
	int n;
	if (k < PCT_DOC) {
		size_t want = 1024 + (size_t)rng_below(r, 7 * 1024), len = 0;
		if (want > cap - 16)
			want = cap - 16;
		while (len < want) {
			const char *w = WORDS[rng_below(r, NWORDS)];
			size_t wl = strlen(w);
			memcpy(out + len, w, wl);
			len += wl;
			out[len++] = rng_below(r, 8) ? ' ' : '\n';
		}
		return len;
	} else if (k < 55) {
		n = snprintf(out, cap, "{\"p\":\"brc-20\",\"op\":\"mint\",\"tick\":\"%s\",\"amt\":\"%u\"}",
			     tick, (unsigned)(1000 * (1 + rng_below(r, 3))));
	} else if (k < 85) {
		n = snprintf(out, cap, "{\"p\":\"brc-20\",\"op\":\"transfer\",\"tick\":\"%s\",\"amt\":\"%" PRIu64 "\"}",
			     tick, 1 + rng_below(r, 100000000));
	} else {
		char name[16];
		size_t nl = 3 + (size_t)rng_below(r, 8);
		for (size_t i = 0; i < nl; i++)
			name[i] = (char)('a' + rng_below(r, 26));
		name[nl] = 0;
		n = snprintf(out, cap, "{\"p\":\"sns\",\"op\":\"reg\",\"name\":\"%s.sats\"}", name);
	}
	if (n < 0 || (size_t)n >= cap)
		die("inscription text");
	return (size_t)n;
}

static uint8_t *put_push(uint8_t *p, const void *d, size_t n)
{
	while (n > 0) { /* script pushes of at most 520 bytes */
		size_t c = n > 520 ? 520 : n;
		if (c < 76) {
			*p++ = (uint8_t)c;
		} else if (c < 256) {
			*p++ = 0x4c;
			*p++ = (uint8_t)c;
		} else {
			*p++ = 0x4d;
			*p++ = (uint8_t)c;
			*p++ = (uint8_t)(c >> 8);
		}
		p = put_bytes(p, d, c);
		d = (const char *)d + c;
		n -= c;
	}
	return p;
}

static uint8_t *gen_tx(uint8_t *p, Rng *r, const Gen *g, uint64_t h, int coinbase)
{
	unsigned kind = (unsigned)rng_below(r, 100);
	int insc = !coinbase && kind < PCT_INSCRIPTION;
	int opret = !coinbase && !insc && kind < PCT_INSCRIPTION + PCT_OPRETURN;
	unsigned nin = 1, nout;
	int taproot_spend = !coinbase && !insc && rng_below(r, 100) < 30;

	p = put_le32(p, coinbase ? 1 : 2);
	*p++ = 0x00; /* segwit marker and flag */
	*p++ = 0x01;
	if (!coinbase && !insc) {
		unsigned u = (unsigned)rng_below(r, 100);
		nin = u < 65 ? 1 : u < 85 ? 2 : u < 95 ? 3 : 4 + (unsigned)rng_below(r, 6);
	}
	p = put_cs(p, nin);
	for (unsigned i = 0; i < nin; i++) {
		if (coinbase) {
			uint8_t sig[100];
			uint8_t *q = sig;
			const char *tag = MINER_TAGS[rng_below(r, 8)];
			uint64_t hh = HEIGHT_BASE + h;
			*q++ = 3;
			*q++ = (uint8_t)hh;
			*q++ = (uint8_t)(hh >> 8);
			*q++ = (uint8_t)(hh >> 16);
			q = put_bytes(q, tag, strlen(tag));
			q = put_rand(q, r, 12); /* extranonce */
			memset(p, 0, 32);
			p += 32;
			p = put_le32(p, 0xffffffffu);
			p = put_cs(p, (uint64_t)(q - sig));
			p = put_bytes(p, sig, (size_t)(q - sig));
			p = put_le32(p, 0xffffffffu);
		} else {
			p = put_rand(p, r, 32);
			p = put_le32(p, (uint32_t)rng_below(r, 4));
			*p++ = 0; /* empty scriptSig */
			p = put_le32(p, rng_below(r, 2) ? 0xfffffffdu : 0xffffffffu);
		}
	}
	nout = coinbase ? 1 : insc ? 1 : 1 + (unsigned)rng_below(r, 3);
	p = put_cs(p, nout + (unsigned)(opret || coinbase));
	for (unsigned i = 0; i < nout; i++) {
		if (insc) {
			put_le64(p, rng_below(r, 2) ? 546 : 330);
			p += 8;
		} else {
			p = put_amount(p, r);
		}
		p = put_out_script(p, r, g);
	}
	if (coinbase) { /* witness commitment */
		memset(p, 0, 8);
		p += 8;
		p = put_bytes(p, "\x26\x6a\x24\xaa\x21\xa9\xed", 7);
		p = put_rand(p, r, 32);
	} else if (opret) {
		char memo[96];
		uint8_t a[20];
		char ah[41];
		rng_fill(r, a, 20);
		hex(ah, a, 20);
		int n = snprintf(memo, sizeof memo, "=:ETH.ETH:0x%s:%" PRIu64 "/1/0:t:30",
				 ah, rng_below(r, 1000000000));
		if (n < 0 || (size_t)n >= sizeof memo)
			die("memo");
		memset(p, 0, 8);
		p += 8;
		*p++ = (uint8_t)(n + 2);
		*p++ = 0x6a;
		p = put_push(p, memo, (size_t)n);
	}
	for (unsigned i = 0; i < nin; i++) {
		if (coinbase) {
			p = put_bytes(p, "\x01\x20", 2);
			memset(p, 0, 32);
			p += 32;
		} else if (insc) {
			char text[8 * 1024 + 64];
			uint8_t script[9 * 1024];
			uint8_t *q = script;
			size_t tl = inscription_text(text, sizeof text, r);
			*q++ = 0x20;
			q = put_rand(q, r, 32);
			q = put_bytes(q, "\xac\x00\x63\x03ord\x01\x01\x18text/plain;charset=utf-8\x00", 32);
			q = put_push(q, text, tl);
			*q++ = 0x68;
			size_t slen = (size_t)(q - script);
			if (slen > sizeof script)
				die("inscription script overflow");
			p = put_bytes(p, "\x03\x40", 2);
			p = put_rand(p, r, 64);
			p = put_cs(p, slen);
			p = put_bytes(p, script, slen);
			p = put_bytes(p, "\x21", 1);
			*p++ = (uint8_t)(0xc0 | rng_below(r, 2));
			p = put_rand(p, r, 32);
		} else if (taproot_spend) {
			p = put_bytes(p, "\x01\x40", 2);
			p = put_rand(p, r, 64);
		} else {
			p = put_bytes(p, "\x02\x47\x30\x44\x02\x20", 6);
			p = put_rand(p, r, 32);
			p = put_bytes(p, "\x02\x20", 2);
			p = put_rand(p, r, 32);
			p = put_bytes(p, "\x01\x21", 2);
			if (rng_below(r, 100) < 30) {
				p = put_bytes(p, g->hot_pub[rng_below(r, NHOT)], 33);
			} else {
				*p++ = (uint8_t)(2 + rng_below(r, 2));
				p = put_rand(p, r, 32);
			}
		}
	}
	p = put_le32(p, 0); /* locktime */
	return p;
}

static int64_t block_time(const Gen *g, uint64_t h)
{
	Rng r;
	rng_init(&r, g->seed, S_BHASH, h, 1);
	return TIME_BASE + (int64_t)h * 600 + (int64_t)rng_below(&r, 300);
}

/* Serialize block h (magic, size, 80-byte header, transactions) into buf. */
static size_t gen_block(const Gen *g, uint64_t h, uint8_t *buf)
{
	Rng r;
	rng_init(&r, g->seed, S_BLOCK, h, 0);
	size_t target = BLOCK_MIN_BYTES + (size_t)rng_below(&r, BLOCK_MAX_BYTES - BLOCK_MIN_BYTES);
	uint8_t *p = buf;
	uint8_t prev[32];
	p = put_le32(p, 0xd9b4bef9u); /* network magic */
	p += 4;                        /* size, filled below */
	uint8_t *body = p;
	p = put_le32(p, 0x20000000u | (uint32_t)rng_below(&r, 0x2000) << 13);
	if (h > 0)
		block_hash(g, h - 1, prev);
	else
		memset(prev, 0, 32);
	p = put_bytes(p, prev, 32);
	p = put_rand(p, &r, 32);       /* merkle root */
	p = put_le32(p, (uint32_t)block_time(g, h));
	p = put_le32(p, 0x17034219u);  /* bits */
	p = put_le32(p, (uint32_t)rng_next(&r));
	uint8_t *count_at = p;
	p += 3;                        /* CompactSize 0xfd + u16 */
	unsigned ntx = 0;
	while ((size_t)(p - body) < target) {
		p = gen_tx(p, &r, g, h, ntx == 0);
		ntx++;
	}
	count_at[0] = 0xfd;
	count_at[1] = (uint8_t)ntx;
	count_at[2] = (uint8_t)(ntx >> 8);
	put_le32(buf + 4, (uint32_t)(p - body));
	return (size_t)(p - buf);
}

/* Append block g->height to the current blk file and advance the height. */
static void append_block(Gen *g, uint8_t *buf, FILE **fp, Path *fpath)
{
	size_t n = gen_block(g, g->height, buf);
	if (g->blk_size > 0 && g->blk_size + n > BLK_ROLL_BYTES) {
		if (*fp) {
			xfclose(*fp, fpath->s);
			*fp = NULL;
		}
		g->blk_file++;
		g->blk_size = 0;
	}
	if (!*fp) {
		path_fmt(fpath, "%s/blocks/blk%05" PRIu64 ".dat", g->dir, g->blk_file);
		*fp = xfopen(fpath->s, "ab");
	}
	xfwrite(buf, n, *fp, fpath->s);
	g->blk_size += n;
	g->height++;
}

/* ---------------------------------------------------------------- log */

static void fmt_time(char *out, size_t cap, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void log_block(const Gen *g, uint64_t h, Buf *b)
{
	Rng r;
	rng_init(&r, g->seed, S_LOG, h, 0);
	char ts[32], hh[65];
	int64_t t = block_time(g, h);
	fmt_time(ts, sizeof ts, t + 2);
	block_hash_hex(g, h, hh);
	unsigned npeer = (unsigned)rng_below(&r, 4);
	for (unsigned i = 0; i < npeer; i++) {
		uint8_t ip[4];
		rng_fill(&r, ip, 4);
		buf_printf(b, "%s [net] Added connection to %u.%u.%u.%u:8333 peer=%" PRIu64 "\n",
			   ts, ip[0], ip[1], ip[2], ip[3], h * 4 + i);
	}
	buf_printf(b, "%s Saw new header hash=%s height=%" PRIu64 "\n", ts, hh, HEIGHT_BASE + h);
	buf_printf(b, "%s [validation] Pre-allocating up to position 0x%" PRIx64 " in blk%05" PRIu64 ".dat\n",
		   ts, g->blk_size, g->blk_file);
	fmt_time(ts, sizeof ts, t + 3 + (int64_t)rng_below(&r, 3));
	/* random values drawn in separate statements: argument evaluation
	 * order differs between compilers */
	uint64_t ntx = 900000000 + h * 3000 + rng_below(&r, 1000);
	double cache = 10.0 + (double)rng_below(&r, 3000) / 10.0;
	uint64_t txo = 50000 + rng_below(&r, 1000000);
	double ms = (double)rng_below(&r, 200000) / 100.0;
	double avg = 810.0 + (double)rng_below(&r, 1000) / 100.0;
	buf_printf(b, "%s UpdateTip: new best=%s height=%" PRIu64 " version=0x20000000 "
		   "log2_work=%.6f tx=%" PRIu64 " date='%s' progress=1.000000 "
		   "cache=%.1fMiB(%" PRIu64 "txo)\n",
		   ts, hh, HEIGHT_BASE + h, 94.5 + (double)h * 1e-5, ntx, ts, cache, txo);
	buf_printf(b, "%s [bench]   - Connect block: %.2fms [%.2fs (%.2fms/blk)]\n",
		   ts, ms, (double)(h + 1) * 0.81, avg);
}

/* ---------------------------------------------------------- chainstate */

typedef struct {
	uint8_t key[KEY_LEN];
	uint8_t vlen;
	uint8_t del;
	uint8_t val[VAL_MAX];
} Rec;

static inline uint64_t rec_prefix(const Rec *r)
{
	return get_be64(r->key + 1);
}

static void gen_key(Rec *rec, uint64_t prefix, Rng *r)
{
	rec->key[0] = 'C';
	put_be64(rec->key + 1, prefix);
	rng_fill(r, rec->key + 9, 24);
	rec->key[33] = (uint8_t)(rng_below(r, 100) < 70 ? 0 : rng_below(r, 4));
	rec->del = 0;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static void gen_val(Rec *rec, Rng *r, const Gen *g, uint64_t h)
{
	static const uint64_t pow10[] = { 1, 10, 100, 1000, 10000 };
	uint8_t *p = rec->val;
	p = put_varint(p, (HEIGHT_BASE + h) * 2 + (rng_below(r, 100) == 0));
	uint64_t mant = 1 + rng_below(r, 99999);
	p = put_varint(p, mant * pow10[rng_below(r, 5)]);
	unsigned k = (unsigned)rng_below(r, 100);
	const uint8_t *addr = rng_below(r, 100) < 30 ? g->hot_addr[rng_below(r, NHOT)] : NULL;
	if (k < 30) {
		*p++ = 0x01; /* P2TR */
		p = put_rand(p, r, 32);
	} else {
		*p++ = k < 85 ? 0x00 : 0x02;
		p = addr ? put_bytes(p, addr, 20) : put_rand(p, r, 20);
	}
	rec->vlen = (uint8_t)(p - rec->val);
}

static int rec_cmp(const void *a, const void *b)
{
	return memcmp(((const Rec *)a)->key, ((const Rec *)b)->key, KEY_LEN);
}

static size_t rec_disk_len(const Rec *r)
{
	return 2 + KEY_LEN + r->vlen;
}

/* Table file (a simplified LevelDB table):
 *   records:  klen u8 || vlen u8 || key || value, sorted by key
 *   index:    every 128th record: key || offset u32 LE
 *   footer:   index offset u64 LE || records u32 LE || index length u32 LE || magic u64 LE
 */
static uint64_t table_write(const Gen *g, uint64_t num, Rec *const *recs, size_t n)
{
	Path p;
	size_t cap = 64, nidx = (n + LDB_INDEX_EVERY - 1) / LDB_INDEX_EVERY;
	for (size_t i = 0; i < n; i++)
		cap += rec_disk_len(recs[i]);
	cap += nidx * (KEY_LEN + 4) + 24;
	uint8_t *buf = xmalloc(cap), *q = buf;
	for (size_t i = 0; i < n; i++) {
		*q++ = KEY_LEN;
		*q++ = recs[i]->vlen;
		q = put_bytes(q, recs[i]->key, KEY_LEN);
		q = put_bytes(q, recs[i]->val, recs[i]->vlen);
	}
	uint64_t index_off = (uint64_t)(q - buf), off = 0;
	for (size_t i = 0; i < n; i++) {
		if (i % LDB_INDEX_EVERY == 0) {
			q = put_bytes(q, recs[i]->key, KEY_LEN);
			q = put_le32(q, (uint32_t)off);
		}
		off += rec_disk_len(recs[i]);
	}
	uint32_t index_len = (uint32_t)((uint64_t)(q - buf) - index_off);
	put_le64(q, index_off);
	q += 8;
	q = put_le32(q, (uint32_t)n);
	q = put_le32(q, index_len);
	put_le64(q, LDB_MAGIC);
	q += 8;
	size_t len = (size_t)(q - buf);
	path_fmt(&p, "%s/chainstate/%06" PRIu64 ".ldb", g->dir, num);
	write_file(p.s, buf, len);
	free(buf);
	return len;
}

static Rec *table_read(const Gen *g, uint64_t num, size_t *out_n)
{
	Path p;
	size_t len;
	path_fmt(&p, "%s/chainstate/%06" PRIu64 ".ldb", g->dir, num);
	uint8_t *buf = read_file(p.s, &len);
	if (len < 24 || get_le64(buf + len - 8) != LDB_MAGIC)
		die("%s: not a table", p.s);
	uint64_t index_off = get_le64(buf + len - 24);
	uint32_t n = get_le32(buf + len - 16);
	if (index_off > len - 24)
		die("%s: damaged table", p.s);
	Rec *recs = xmalloc(((size_t)n + 1) * sizeof *recs);
	size_t off = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (off + 2 > index_off || buf[off] != KEY_LEN || buf[off + 1] > VAL_MAX ||
		    off + 2 + KEY_LEN + buf[off + 1] > index_off)
			die("%s: damaged record %u", p.s, i);
		recs[i].vlen = buf[off + 1];
		recs[i].del = 0;
		memcpy(recs[i].key, buf + off + 2, KEY_LEN);
		memcpy(recs[i].val, buf + off + 2 + KEY_LEN, recs[i].vlen);
		off += 2 + KEY_LEN + recs[i].vlen;
	}
	free(buf);
	*out_n = n;
	return recs;
}

static void manifest_add(Buf *m, uint64_t num, uint64_t size, const Rec *first, const Rec *last)
{
	uint8_t tmp[32], *q = tmp;
	*q++ = 7; /* kNewFile */
	q = put_varint(q, 1);
	q = put_varint(q, num);
	q = put_varint(q, size);
	buf_put(m, tmp, (size_t)(q - tmp));
	buf_put(m, first->key, KEY_LEN);
	buf_put(m, last->key, KEY_LEN);
}

static void manifest_del(Buf *m, uint64_t num)
{
	uint8_t tmp[24], *q = tmp;
	*q++ = 6; /* kDeletedFile */
	q = put_varint(q, 1);
	q = put_varint(q, num);
	buf_put(m, tmp, (size_t)(q - tmp));
}

static void chainstate_init(Gen *g, uint64_t target)
{
	Rng r, sz;
	Path p;
	rng_init(&r, g->seed, S_CHAIN_INIT, 0, 0);
	rng_init(&sz, g->seed, S_SIZES, 1, 0);
	const uint64_t avg_rec = 2 + KEY_LEN + 30;
	uint64_t est = target / avg_rec + 2;
	uint64_t gap = UINT64_MAX / 2 / est; /* use half the prefix space: no overflow */
	uint64_t prefix = 0, written = 0;
	size_t cap = LDB_MAX_BYTES / 60 + 16;
	Rec *recs = xmalloc(cap * sizeof *recs);
	Rec **ptrs = xmalloc(cap * sizeof *ptrs);
	Buf man = { 0 };

	g->tables = NULL;
	g->ntables = 0;
	g->next_num = 5;
	while (written < target) {
		uint64_t want = LDB_MIN_BYTES + rng_below(&sz, LDB_MAX_BYTES - LDB_MIN_BYTES);
		if (target - written < want + LDB_MIN_BYTES)
			want = target - written;
		size_t n = 0;
		uint64_t bytes = 0;
		while (bytes < want && n < cap) {
			prefix += 1 + rng_below(&r, 2 * gap);
			gen_key(&recs[n], prefix, &r);
			gen_val(&recs[n], &r, g, rng_below(&r, g->height ? g->height : 1));
			bytes += rec_disk_len(&recs[n]);
			ptrs[n] = &recs[n];
			n++;
		}
		Table t;
		t.num = g->next_num++;
		t.minp = rec_prefix(&recs[0]);
		t.maxp = rec_prefix(&recs[n - 1]);
		t.size = table_write(g, t.num, ptrs, n);
		manifest_add(&man, t.num, t.size, &recs[0], &recs[n - 1]);
		g->tables = xrealloc(g->tables, (size_t)(g->ntables + 1) * sizeof *g->tables);
		g->tables[g->ntables++] = t;
		written += t.size;
	}
	g->manifest_num = 2;
	g->wal_num = g->next_num++;
	path_fmt(&p, "%s/chainstate/MANIFEST-%06" PRIu64, g->dir, g->manifest_num);
	write_file(p.s, man.p, man.len);
	path_fmt(&p, "%s/chainstate/CURRENT", g->dir);
	{
		char cur[32];
		int n = snprintf(cur, sizeof cur, "MANIFEST-%06" PRIu64 "\n", g->manifest_num);
		write_file(p.s, cur, (size_t)n);
	}
	path_fmt(&p, "%s/chainstate/LOCK", g->dir);
	write_file(p.s, "", 0);
	path_fmt(&p, "%s/chainstate/%06" PRIu64 ".log", g->dir, g->wal_num);
	write_file(p.s, "", 0);
	path_fmt(&p, "%s/chainstate/LOG", g->dir);
	{
		Buf lg = { 0 };
		char ts[32];
		fmt_time(ts, sizeof ts, block_time(g, g->height ? g->height - 1 : 0));
		buf_printf(&lg, "%s Recovering log #%" PRIu64 "\n%s Delete type=3 #1\n",
			   ts, g->wal_num, ts);
		write_file(p.s, lg.p, lg.len);
		free(lg.p);
	}
	free(man.p);
	free(recs);
	free(ptrs);
}

/* One block's worth of compaction: rewrite 1-3 adjacent tables with a few
 * records deleted, changed and inserted; new file numbers; old files gone. */
static void chainstate_block(Gen *g, uint64_t h, Buf *info_log)
{
	Rng r;
	Path p;
	Buf man = { 0 }, wal = { 0 };
	rng_init(&r, g->seed, S_CHAIN_ADV, h, 0);
	if (g->ntables == 0)
		return;
	uint64_t nf = 1 + rng_below(&r, 3);
	if (nf > g->ntables)
		nf = g->ntables;
	uint64_t start = rng_below(&r, g->ntables - nf + 1);
	Table *out = xmalloc((size_t)(2 * nf) * sizeof *out);
	size_t nout = 0;
	char ts[32];
	fmt_time(ts, sizeof ts, block_time(g, h) + 4);
	{
		uint8_t hdr[12];
		put_le64(hdr, h * 10000);
		put_le32(hdr + 8, 0);
		buf_put(&wal, hdr, 12);
	}

	for (uint64_t f = start; f < start + nf; f++) {
		Table t = g->tables[f];
		size_t n;
		Rec *recs = table_read(g, t.num, &n);
		unsigned ndel = 4 + (unsigned)rng_below(&r, 16);
		unsigned nmod = (unsigned)rng_below(&r, 8);
		unsigned nins = ndel + 4 + (unsigned)rng_below(&r, 16);
		for (unsigned i = 0; i < ndel && n > 1; i++)
			recs[rng_below(&r, n)].del = 1;
		for (unsigned i = 0; i < nmod && n > 0; i++) {
			Rec *x = &recs[rng_below(&r, n)];
			if (!x->del) {
				gen_val(x, &r, g, h);
				buf_put(&wal, "\x01", 1);
				buf_put(&wal, x->key, KEY_LEN);
				buf_put(&wal, x->val, x->vlen);
			}
		}
		Rec *ins = xmalloc(nins * sizeof *ins);
		uint64_t span = t.maxp - t.minp;
		for (unsigned i = 0; i < nins; i++) {
			uint64_t pre = t.minp + (span == UINT64_MAX ? rng_next(&r) : rng_below(&r, span + 1));
			gen_key(&ins[i], pre, &r);
			gen_val(&ins[i], &r, g, h);
			buf_put(&wal, "\x01", 1);
			buf_put(&wal, ins[i].key, KEY_LEN);
			buf_put(&wal, ins[i].val, ins[i].vlen);
		}
		qsort(ins, nins, sizeof *ins, rec_cmp);
		/* merge, dropping deleted records */
		Rec **m = xmalloc((n + nins + 1) * sizeof *m);
		size_t nm = 0, i = 0, j = 0;
		uint64_t bytes = 0;
		while (i < n || j < nins) {
			Rec *x;
			if (i < n && recs[i].del) {
				buf_put(&wal, "\x00", 1);
				buf_put(&wal, recs[i].key, KEY_LEN);
				i++;
				continue;
			}
			if (j >= nins || (i < n && memcmp(recs[i].key, ins[j].key, KEY_LEN) <= 0))
				x = &recs[i++];
			else
				x = &ins[j++];
			m[nm++] = x;
			bytes += rec_disk_len(x);
		}
		manifest_del(&man, t.num);
		size_t parts = bytes > LDB_MAX_BYTES && nm > 1 ? 2 : 1;
		size_t cut = nm;
		if (parts == 2) {
			uint64_t acc = 0;
			for (cut = 0; cut < nm && acc < bytes / 2; cut++)
				acc += rec_disk_len(m[cut]);
		}
		for (size_t k = 0; k < parts; k++) {
			size_t a = k == 0 ? 0 : cut, b = k == 0 ? cut : nm;
			Table nt;
			nt.num = g->next_num++;
			nt.minp = k == 0 ? t.minp : rec_prefix(m[a]);
			nt.maxp = k + 1 == parts ? t.maxp : rec_prefix(m[b - 1]);
			nt.size = table_write(g, nt.num, m + a, b - a);
			manifest_add(&man, nt.num, nt.size, m[a], m[b - 1]);
			out[nout++] = nt;
			buf_printf(info_log, "%s Generated table #%" PRIu64 "@1: %zu keys, %" PRIu64 " bytes\n",
				   ts, nt.num, b - a, nt.size);
		}
		buf_printf(info_log, "%s Compacted 1@1 + 0@2 files => %" PRIu64 " bytes\n", ts, bytes);
		path_fmt(&p, "%s/chainstate/%06" PRIu64 ".ldb", g->dir, t.num);
		xunlink(p.s);
		buf_printf(info_log, "%s Delete type=2 #%" PRIu64 "\n", ts, t.num);
		free(m);
		free(ins);
		free(recs);
	}
	/* splice the new tables in place of the old ones */
	Table *nt = xmalloc((size_t)(g->ntables - nf + nout) * sizeof *nt);
	size_t k = 0;
	for (uint64_t i = 0; i < start; i++)
		nt[k++] = g->tables[i];
	for (size_t i = 0; i < nout; i++)
		nt[k++] = out[i];
	for (uint64_t i = start + nf; i < g->ntables; i++)
		nt[k++] = g->tables[i];
	free(g->tables);
	free(out);
	g->tables = nt;
	g->ntables = k;

	/* a fresh write-ahead log holding this block's batch */
	path_fmt(&p, "%s/chainstate/%06" PRIu64 ".log", g->dir, g->wal_num);
	xunlink(p.s);
	g->wal_num = g->next_num++;
	path_fmt(&p, "%s/chainstate/%06" PRIu64 ".log", g->dir, g->wal_num);
	write_file(p.s, wal.p, wal.len);
	path_fmt(&p, "%s/chainstate/MANIFEST-%06" PRIu64, g->dir, g->manifest_num);
	append_file(p.s, man.p, man.len);
	free(man.p);
	free(wal.p);
}

/* -------------------------------------------------------------- export */

typedef struct {
	char *s;
	size_t n;
	int owned;
} Line;

typedef struct {
	Line *v;
	size_t n, cap;
	uint8_t *file; /* backing buffer for non-owned lines */
} Lines;

static void account_line(const Gen *g, uint64_t idx, uint64_t updated, Buf *b)
{
	static const char *const KINDS[] = { "user", "user", "user", "contract", "validator", "exchange" };
	Rng a, u;
	uint8_t addr[20];
	char ah[41], dh[41];
	rng_init(&a, g->seed, S_ACCT, idx, 0);
	rng_fill(&a, addr, 20);
	hex(ah, addr, 20);
	const char *kind = KINDS[rng_below(&a, 6)];
	hex(dh, g->validators[rng_below(&a, NVALIDATORS)], 20);
	rng_init(&u, g->seed, S_ACCT_UPD, idx, updated);
	uint64_t bal = rng_below(&u, 1000000000000ULL);
	uint64_t staked = rng_below(&u, 4) ? 0 : rng_below(&u, bal + 1);
	uint64_t nonce = rng_below(&u, 100000);
	int frozen = rng_below(&u, 50) == 0;
	buf_printf(b, "  {\"address\":\"0x%s\",\"kind\":\"%s\",\"balance\":\"%" PRIu64
		   "\",\"staked\":\"%" PRIu64 "\",\"nonce\":%" PRIu64
		   ",\"delegate\":\"0x%s\",\"updated\":%" PRIu64 ",\"frozen\":%s}",
		   ah, kind, bal, staked, nonce, dh,
		   HEIGHT_BASE + updated, frozen ? "true" : "false");
}

static void export_header(const Gen *g, uint64_t h, uint64_t naccounts, Buf *b)
{
	char ts[32], hh[65];
	fmt_time(ts, sizeof ts, block_time(g, h));
	block_hash_hex(g, h, hh);
	buf_printf(b, "{\"chain\":\"stratanet\",\"height\":%" PRIu64 ",\"time\":\"%s\",\"best\":\"%s\","
		   "\"accounts_total\":%" PRIu64 ",\"accounts\":[\n",
		   HEIGHT_BASE + h, ts, hh, naccounts);
}

static void export_init(const Gen *g, uint64_t target)
{
	Path p;
	Buf b = { 0 };
	Rng r;
	uint64_t n = 0;
	rng_init(&r, g->seed, S_ACCT, UINT64_MAX, 0);
	/* accounts ~ 220 bytes each: estimate the count for the header */
	uint64_t est = target / 220 + 1;
	uint64_t h = g->height ? g->height - 1 : 0;
	export_header(g, h, est, &b);
	while (n < est) {
		if (n)
			buf_put(&b, ",\n", 2);
		account_line(g, n, rng_below(&r, h + 1), &b);
		n++;
	}
	buf_put(&b, "\n]}\n", 4);
	path_fmt(&p, "%s/export/state.json", g->dir);
	write_file(p.s, b.p, b.len);
	free(b.p);
}

static void lines_load(const Gen *g, Lines *L)
{
	Path p;
	size_t len;
	path_fmt(&p, "%s/export/state.json", g->dir);
	L->file = read_file(p.s, &len);
	L->n = 0;
	L->cap = len / 128 + 16;
	L->v = xmalloc(L->cap * sizeof *L->v);
	char *s = (char *)L->file, *end = s + len;
	char *nl = memchr(s, '\n', len); /* skip the header line */
	if (!nl)
		die("%s: damaged export", p.s);
	s = nl + 1;
	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		if (n >= 2 && s[0] == ']' && s[1] == '}')
			break;
		if (n && s[n - 1] == ',')
			n--;
		if (L->n == L->cap) {
			L->cap *= 2;
			L->v = xrealloc(L->v, L->cap * sizeof *L->v);
		}
		L->v[L->n].s = s;
		L->v[L->n].n = n;
		L->v[L->n].owned = 0;
		L->n++;
		if (!nl)
			break;
		s = nl + 1;
	}
}

static void lines_set(Lines *L, size_t i, const Buf *b)
{
	if (i == L->n) {
		if (L->n == L->cap) {
			L->cap *= 2;
			L->v = xrealloc(L->v, L->cap * sizeof *L->v);
		}
		L->n++;
	} else if (L->v[i].owned) {
		free(L->v[i].s);
	}
	L->v[i].s = xmalloc(b->len);
	memcpy(L->v[i].s, b->p, b->len);
	L->v[i].n = b->len;
	L->v[i].owned = 1;
}

static void export_block(const Gen *g, uint64_t h, Lines *L)
{
	Rng r;
	Buf b = { 0 };
	rng_init(&r, g->seed, S_EXPORT_ADV, h, 0);
	unsigned nchg = 8 + (unsigned)rng_below(&r, 40);
	unsigned nnew = (unsigned)rng_below(&r, 3);
	for (unsigned i = 0; i < nchg && L->n > 0; i++) {
		b.len = 0;
		size_t idx = (size_t)rng_below(&r, L->n);
		account_line(g, idx, h, &b);
		lines_set(L, idx, &b);
	}
	for (unsigned i = 0; i < nnew; i++) {
		b.len = 0;
		account_line(g, L->n, h, &b);
		lines_set(L, L->n, &b);
	}
	free(b.p);
}

static void export_write(const Gen *g, uint64_t h, Lines *L)
{
	Path p, tmp;
	Buf b = { 0 };
	export_header(g, h, L->n, &b);
	path_fmt(&p, "%s/export/state.json", g->dir);
	path_fmt(&tmp, "%s/export/.state.json.tmp", g->dir);
	FILE *f = xfopen(tmp.s, "wb");
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	xfwrite(b.p, b.len, f, tmp.s);
	for (size_t i = 0; i < L->n; i++) {
		xfwrite(L->v[i].s, L->v[i].n, f, tmp.s);
		xfwrite(i + 1 < L->n ? ",\n" : "\n", i + 1 < L->n ? 2 : 1, f, tmp.s);
	}
	xfwrite("]}\n", 3, f, tmp.s);
	xfclose(f, tmp.s);
	xrename(tmp.s, p.s);
	for (size_t i = 0; i < L->n; i++)
		if (L->v[i].owned)
			free(L->v[i].s);
	free(L->v);
	free(L->file);
	free(b.p);
}

/* ---------------------------------------------------------- commands */

static uint64_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v <= 0)
		die("bad size '%s'", s);
	switch (*end) {
	case 'k': case 'K': v *= (double)KIB; end++; break;
	case 'm': case 'M': v *= (double)MIB; end++; break;
	case 'g': case 'G': v *= (double)(1024 * MIB); end++; break;
	case 't': case 'T': v *= (double)(1024 * 1024 * MIB); end++; break;
	default: break;
	}
	if (*end == 'i')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		die("bad size '%s'", s);
	return (uint64_t)v;
}

static uint64_t parse_u64(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-')
		die("bad %s '%s'", what, s);
	return (uint64_t)v;
}

static void dir_must_be_fresh(const char *dir)
{
	Path p;
	struct stat st;
	path_fmt(&p, "%s/%s", dir, STATE_NAME);
	if (stat(p.s, &st) == 0)
		die("%s already initialised (remove it first)", dir);
	path_fmt(&p, "%s/blocks", dir);
	if (stat(p.s, &st) == 0)
		die("%s already holds blocks/ (remove it first)", dir);
}

static int cmd_init(const char *dir, uint64_t size, uint64_t seed)
{
	Gen *g = xmalloc(sizeof *g);
	Path p;
	memset(g, 0, sizeof *g);
	g->dir = dir;
	g->seed = seed;
	gen_pools(g);
	dir_must_be_fresh(dir);
	mkdir_p(dir);
	path_fmt(&p, "%s/blocks", dir);
	mkdir_p(p.s);
	path_fmt(&p, "%s/chainstate", dir);
	mkdir_p(p.s);
	path_fmt(&p, "%s/logs", dir);
	mkdir_p(p.s);
	path_fmt(&p, "%s/export", dir);
	mkdir_p(p.s);

	uint64_t cs_target = (uint64_t)((double)size * SHARE_CHAINSTATE);
	uint64_t ex_target = (uint64_t)((double)size * SHARE_EXPORT);
	uint64_t blk_target = size - cs_target - ex_target;
	uint64_t blk_total = 0;
	uint8_t *buf = xmalloc(BLOCK_BUF_BYTES);
	FILE *bf = NULL;
	Path bpath;
	Buf log = { 0 };

	buf_printf(&log, "Bitcoin-like node version v26.0.0 (gen_chain_data seed %" PRIu64 ")\n", seed);
	/* at least one block; stop before overshooting the blocks' share */
	do {
		log_block(g, g->height, &log);
		append_block(g, buf, &bf, &bpath);
		blk_total += get_le32(buf + 4) + 8;
	} while (blk_total + (BLOCK_MIN_BYTES + BLOCK_MAX_BYTES) / 2 <= blk_target);
	if (bf)
		xfclose(bf, bpath.s);
	free(buf);
	path_fmt(&p, "%s/logs/debug.log", dir);
	write_file(p.s, log.p, log.len);
	free(log.p);

	chainstate_init(g, cs_target);
	export_init(g, ex_target);
	state_save(g);
	free(g->tables);
	free(g);
	return 0;
}

static int cmd_advance(const char *dir, uint64_t n)
{
	Gen *g = xmalloc(sizeof *g);
	Path p;
	memset(g, 0, sizeof *g);
	g->dir = dir;
	state_load(g);
	uint8_t *buf = xmalloc(BLOCK_BUF_BYTES);
	FILE *bf = NULL;
	Path bpath;
	Buf log = { 0 }, ilog = { 0 };
	Lines L;
	memset(&L, 0, sizeof L);
	lines_load(g, &L);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t h = g->height;
		log_block(g, h, &log);
		append_block(g, buf, &bf, &bpath);
		chainstate_block(g, h, &ilog);
		export_block(g, h, &L);
	}
	if (bf)
		xfclose(bf, bpath.s);
	free(buf);
	export_write(g, g->height ? g->height - 1 : 0, &L);
	path_fmt(&p, "%s/logs/debug.log", dir);
	append_file(p.s, log.p, log.len);
	path_fmt(&p, "%s/chainstate/LOG", dir);
	append_file(p.s, ilog.p, ilog.len);
	free(log.p);
	free(ilog.p);
	state_save(g);
	free(g->tables);
	free(g);
	return 0;
}

static int cmd_info(const char *dir)
{
	Gen *g = xmalloc(sizeof *g);
	memset(g, 0, sizeof *g);
	g->dir = dir;
	state_load(g);
	uint64_t cs = 0;
	for (uint64_t i = 0; i < g->ntables; i++)
		cs += g->tables[i].size;
	printf("seed %" PRIu64 "\nheight %" PRIu64 " (blocks 0..%" PRIu64 ")\n"
	       "blk files %" PRIu64 " (last %" PRIu64 " bytes)\n"
	       "chainstate tables %" PRIu64 " (%" PRIu64 " bytes)\n",
	       g->seed, g->height, g->height ? g->height - 1 : 0, g->blk_file + 1,
	       g->blk_size, g->ntables, cs);
	free(g->tables);
	free(g);
	return 0;
}

static void usage(void)
{
	fputs("usage: gen_chain_data init DIR SIZE [--seed N]   create ~SIZE bytes (e.g. 2G, 512M)\n"
	      "       gen_chain_data advance DIR N              simulate N new blocks\n"
	      "       gen_chain_data info DIR                   print height and sizes\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *pos[4];
	int npos = 0;
	uint64_t seed = 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			seed = parse_u64(argv[++i], "seed");
		} else if (strncmp(argv[i], "--seed=", 7) == 0) {
			seed = parse_u64(argv[i] + 7, "seed");
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage();
		} else if (npos < 4) {
			pos[npos++] = argv[i];
		} else {
			usage();
		}
	}
	if (npos == 3 && strcmp(pos[0], "init") == 0)
		return cmd_init(pos[1], parse_size(pos[2]), seed);
	if (npos == 3 && strcmp(pos[0], "advance") == 0)
		return cmd_advance(pos[1], parse_u64(pos[2], "block count"));
	if (npos == 2 && strcmp(pos[0], "info") == 0)
		return cmd_info(pos[1]);
	usage();
}
