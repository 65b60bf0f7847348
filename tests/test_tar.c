/* test_tar.c — unit tests for store/tar/ (tar.h): an archive built here
 * byte by byte (ustar, POSIX.1-1988) imports as a snapshot with exactly
 * its entries, modes, owners, times, link targets and content; an entry
 * with ".." is refused and counted (STRATA_EPARTIAL); the pax export
 * carries the same entries (read back here with a small header parser)
 * and re-imports to the same listing; empty, foreign and cut-short input
 * and an unknown compression are refused with their exact messages. */
#include "store/backup/backup.h"
#include "store/repo_internal.h"
#include "store/snapshot.h"
#include "store/tar/tar.h"
#include "store/tree.h"
#include "tests/check.h"
#include "tests/test_repo.h"
#include "tests/test_tmp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 512

static Repo *repo;
static char scratch[64];

typedef struct Tar {
	uint8_t *p;
	size_t len, cap;
} Tar;

static void tar_grow(Tar *t, size_t n)
{
	if (t->len + n > t->cap) {
		t->cap = (t->len + n) * 2;
		t->p = realloc(t->p, t->cap);
		if (!t->p)
			exit(2);
	}
	memset(t->p + t->len, 0, n);
}

/* One ustar header (and content, padded to 512 bytes). */
static void tar_entry(Tar *t, const char *name, char type, unsigned mode, unsigned uid, unsigned gid,
                      long long mtime, const char *link, const void *data, size_t size)
{
	uint8_t *h;
	unsigned sum = 0;

	tar_grow(t, BLOCK);
	h = t->p + t->len;
	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", mode);
	snprintf((char *)h + 108, 8, "%07o", uid);
	snprintf((char *)h + 116, 8, "%07o", gid);
	snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
	snprintf((char *)h + 136, 12, "%011llo", mtime);
	memset(h + 148, ' ', 8);
	h[156] = (uint8_t)type;
	if (link)
		snprintf((char *)h + 157, 100, "%s", link);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (int i = 0; i < BLOCK; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	t->len += BLOCK;
	if (size) {
		size_t padded = (size + BLOCK - 1) / BLOCK * BLOCK;
		tar_grow(t, padded);
		memcpy(t->p + t->len, data, size);
		t->len += padded;
	}
}

static void tar_end(Tar *t)
{
	tar_grow(t, 2 * BLOCK);
	t->len += 2 * BLOCK;
}

/* 40,000 bytes that chunk into several pieces with 1-4-16 KiB chunks. */
static uint8_t big[40000];

static void make_big(void)
{
	uint32_t x = 12345;

	for (size_t i = 0; i < sizeof big; i++) {
		x = x * 1103515245u + 12345u;
		big[i] = (uint8_t)(x >> 16);
	}
}

static void sample_archive(Tar *t, int with_evil)
{
	memset(t, 0, sizeof *t);
	tar_entry(t, "./d/", '5', 0750, 1000, 100, 1000000000LL, NULL, NULL, 0);
	tar_entry(t, "d/a.txt", '0', 0640, 1001, 101, 1000000001LL, NULL, "hello tar\n", 10);
	tar_entry(t, "d/big.bin", '0', 0600, 0, 0, 1000000002LL, NULL, big, sizeof big);
	tar_entry(t, "d/hard", '1', 0640, 1001, 101, 1000000001LL, "d/a.txt", NULL, 0);
	tar_entry(t, "l", '2', 0777, 0, 0, 1000000003LL, "d/a.txt", NULL, 0);
	if (with_evil)
		tar_entry(t, "x/../../evil", '0', 0644, 0, 0, 1000000004LL, NULL, "no", 2);
	tar_entry(t, "/abs/f", '0', 0644, 0, 0, 1000000005LL, NULL, "", 0);
	tar_entry(t, "p", '6', 0600, 0, 0, 1000000006LL, NULL, NULL, 0);
	tar_entry(t, "abs/f", '0', 0644, 0, 0, 1000000007LL, NULL, "second\n", 7);  /* replaces /abs/f */
	tar_end(t);
}

/* A descriptor reading bytes (a file in scratch, unlinked). */
static int fd_of(const void *p, size_t len)
{
	char path[128];
	int fd;

	snprintf(path, sizeof path, "%s/in.tar", scratch);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, p, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) != 0)
		exit(2);
	unlink(path);
	return fd;
}

typedef struct Listing {
	char text[4096];
	size_t used;
} Listing;

static int list_node(const char *path, const TreeNode *n, void *ctx)
{
	Listing *l = ctx;
	int w = snprintf(l->text + l->used, sizeof l->text - l->used, "%s %d %o %u:%u %lld %llu%s%s%s\n",
	                 path, n->type, n->mode, n->uid, n->gid, (long long)(n->mtime_ns / 1000000000LL),
	                 (unsigned long long)n->size, n->link_target ? " -> " : "",
	                 n->link_target ? n->link_target : "", n->nlink > 1 ? " linked" : "");
	if (w > 0)
		l->used += (size_t)w;
	return 0;
}

static int listing_of(const uint8_t id[STRATA_ID_LEN], Listing *l)
{
	Snapshot s;
	StrataErr err = {0};
	int rc;

	memset(l, 0, sizeof *l);
	if (snapshot_load(repo, id, &s, &err) != 0)
		return -1;
	rc = tree_walk(repo, s.tree, list_node, l, &err);
	snapshot_clear(&s);
	return rc;
}

static char reported[1024];

static void on_file(const char *path, const char *status, int error, const char *message, void *ctx)
{
	size_t used = strlen(reported);

	snprintf(reported + used, sizeof reported - used, "%s %s %d %s\n", path, status, error, message ? message : "");
}

static int import(const void *p, size_t len, BackupResult *res, StrataErr *err)
{
	BackupOptions o;
	int fd = fd_of(p, len), rc;

	memset(&o, 0, sizeof o);
	o.host = "tarhost";
	o.stdin_fd = -1;
	o.threads = 1;
	o.time_ns = 1700000000LL * 1000000000LL;
	o.on_file = on_file;
	reported[0] = '\0';
	memset(res, 0, sizeof *res);
	rc = tar_import(repo, fd, &o, res, err);
	close(fd);
	return rc;
}

/* Node types: enum TreeNodeType (store/tree.h) as numbers in listings. */
static void expected_listing(char *out, size_t cap)
{
	snprintf(out, cap,
	         "abs %d 755 0:0 1700000000 0\n"
	         "abs/f %d 644 0:0 1000000007 7\n"
	         "d %d 750 1000:100 1000000000 0\n"
	         "d/a.txt %d 640 1001:101 1000000001 10 linked\n"
	         "d/big.bin %d 600 0:0 1000000002 40000\n"
	         "d/hard %d 640 1001:101 1000000001 10 linked\n"
	         "l %d 777 0:0 1000000003 7 -> d/a.txt\n"
	         "p %d 600 0:0 1000000006 0\n",
	         NODE_DIR, NODE_FILE, NODE_DIR, NODE_FILE, NODE_FILE, NODE_FILE, NODE_SYMLINK, NODE_FIFO);
}

static void test_import(void)
{
	Tar t;
	BackupResult res;
	StrataErr err = {0};
	Listing l;
	Snapshot s;
	char want[2048];

	sample_archive(&t, 1);
	CHECK_EQ_INT(import(t.p, t.len, &res, &err), STRATA_EPARTIAL);
	CHECK_EQ_INT(res.summary.errors, 1);
	CHECK(strstr(reported, "x/../../evil ") != NULL);
	REQUIRE(listing_of(res.snapshot_id, &l) == 0);
	expected_listing(want, sizeof want);
	CHECK_STR(l.text, want);
	REQUIRE(snapshot_load(repo, res.snapshot_id, &s, &err) == 0);
	CHECK_STR(s.host, "tarhost");
	CHECK_EQ_INT(s.time_ns, 1700000000LL * 1000000000LL);
	CHECK(s.partial);
	snapshot_clear(&s);
	backup_result_clear(&res);
	free(t.p);
}

/* A small pax/ustar reader: the entries of an exported stream, extended
 * headers ('x') skipped; "TYPE NAME SIZE [LINK]" per line, and the
 * content of "d/a.txt". */
static int read_tar(const uint8_t *p, size_t len, char *out, size_t cap, char *content, size_t ccap)
{
	size_t off = 0, used = 0;

	content[0] = '\0';
	while (off + BLOCK <= len) {
		const uint8_t *h = p + off;
		unsigned long long size;
		char name[101], link[101];
		int zero = 1;

		for (int i = 0; i < BLOCK; i++)
			zero &= h[i] == 0;
		if (zero)
			return 0;
		memcpy(name, h, 100);
		name[100] = '\0';
		memcpy(link, h + 157, 100);
		link[100] = '\0';
		if (sscanf((const char *)h + 124, "%11llo", &size) != 1 || memcmp(h + 257, "ustar", 5) != 0)
			return -1;
		off += BLOCK;
		if (off + size > len)
			return -1;
		if (h[156] != 'x') {
			int w = snprintf(out + used, cap - used, "%c %s %llu%s%s\n", h[156], name, size,
			                 link[0] ? " " : "", link);
			if (w > 0)
				used += (size_t)w;
			if (strcmp(name, "d/a.txt") == 0)
				snprintf(content, ccap, "%.*s", (int)size, (const char *)p + off);
			if (strcmp(name, "d/big.bin") == 0 && (size != sizeof big || memcmp(p + off, big, sizeof big) != 0))
				return -1;
		}
		off += (size + BLOCK - 1) / BLOCK * BLOCK;
	}
	return -1;
}

static void test_export_round_trip(void)
{
	Tar t;
	BackupResult res, res2;
	StrataErr err = {0};
	TarExportResult xr;
	Snapshot s;
	Listing l1, l2;
	char path[128], entries[2048], content[64];
	struct stat st;
	uint8_t *out;
	int fd;

	sample_archive(&t, 0);
	REQUIRE(import(t.p, t.len, &res, &err) == 0);
	CHECK_EQ_INT(res.summary.errors, 0);
	REQUIRE(snapshot_load(repo, res.snapshot_id, &s, &err) == 0);
	snprintf(path, sizeof path, "%s/out.tar", scratch);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	CHECK_EQ_INT(tar_export(repo, &s, fd, TAR_PLAIN, &xr, &err), 0);
	CHECK_EQ_INT(xr.entries, 8);
	CHECK_EQ_INT(xr.files, 3);      /* a.txt, big.bin, f; the hard link has no content */
	CHECK_EQ_INT(xr.bytes, 10 + sizeof big + 7);
	CHECK_EQ_INT(xr.skipped, 0);
	REQUIRE(fstat(fd, &st) == 0);
	out = malloc((size_t)st.st_size);
	REQUIRE(out && pread(fd, out, (size_t)st.st_size, 0) == st.st_size);
	close(fd);
	REQUIRE(read_tar(out, (size_t)st.st_size, entries, sizeof entries, content, sizeof content) == 0);
	/* depth first in name order, paths relative to the root */
	CHECK_STR(entries,
	          "5 abs/ 0\n"
	          "0 abs/f 7\n"
	          "5 d/ 0\n"
	          "0 d/a.txt 10\n"
	          "0 d/big.bin 40000\n"
	          "1 d/hard 0 d/a.txt\n"
	          "2 l 0 d/a.txt\n"
	          "6 p 0\n");
	CHECK_STR(content, "hello tar\n");
	/* re-imported: the same listing */
	REQUIRE(import(out, (size_t)st.st_size, &res2, &err) == 0);
	REQUIRE(listing_of(res.snapshot_id, &l1) == 0 && listing_of(res2.snapshot_id, &l2) == 0);
	CHECK_STR(l2.text, l1.text);
	CHECK_EQ_INT(tar_export(repo, &s, 1, 7, NULL, &err), STRATA_EUSAGE);
	CHECK_STR(err.msg, "unknown tar compression 7");
	free(out);
	snapshot_clear(&s);
	backup_result_clear(&res);
	backup_result_clear(&res2);
	free(t.p);
}

static void test_bad_input(void)
{
	Tar t;
	BackupResult res;
	StrataErr err = {0};
	char text[] = "this is not an archive, only some text that goes on for a while\n";
	Snapshot *list = NULL;
	size_t n0 = 0, n1 = 0;

	REQUIRE(snapshot_list(repo, &list, &n0, &err) == 0);
	snapshot_list_free(list, n0);
	CHECK_EQ_INT(import("", 0, &res, &err), STRATA_EUSAGE);
	CHECK_STR(err.msg, "reading the archive: the input is empty (did the program writing it fail?)");
	CHECK_EQ_INT(import(text, sizeof text - 1, &res, &err), STRATA_EUSAGE);
	CHECK_STR(err.msg, "reading the archive: not an archive strata can read (Unrecognized archive format); "
	          "expected tar (plain, gzip, bzip2, xz, lz4 or zstd), cpio or zip");
	/* cut inside the content of big.bin */
	sample_archive(&t, 0);
	CHECK_EQ_INT(import(t.p, 4 * BLOCK + 1000, &res, &err), -EIO);
	CHECK_STR(err.msg, "d/big.bin: the archive is damaged or cut short after 3 entries: Truncated tar archive");
	REQUIRE(snapshot_list(repo, &list, &n1, &err) == 0);
	snapshot_list_free(list, n1);
	CHECK_EQ_INT(n1, n0);   /* no snapshot written by any of them */
	free(t.p);
}

int main(void)
{
	snprintf(scratch, sizeof scratch, "/tmp/strata-test-tar-XXXXXX");
	if (!mkdtemp(scratch) || test_repo_create(scratch, &repo) != 0)
		return 2;
	make_big();
	RUN(test_import);
	RUN(test_export_round_trip);
	RUN(test_bad_input);
	repo_close(repo);
	rm_rf(scratch);
	return CHECK_EXIT();
}
