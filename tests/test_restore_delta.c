/* test_restore_delta.c — what an existing file holds of a snapshot's file
 * (store/restore/restore_delta.h): identical, grown, shifted by an
 * insertion, unrelated; chunks from a donor when the file is missing; the
 * copy of what was found, completed with the rest, is the snapshot's file
 * byte for byte. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/repo_internal.h"
#include "store/restore/restore_delta.h"
#include "tests/check.h"
#include "tests/test_repo.h"
#include "tests/test_tmp.h"

static char dir[256];
static Repo *repo;

#define SIZE (300u * 1024)

static uint8_t *content;       /* the snapshot's file */

static void fill_random(uint8_t *p, size_t n, unsigned seed)
{
	srand(seed);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(rand() >> 7);
}

/* A TreeNode for buf cut by the repository's chunker. */
static int make_node(const uint8_t *buf, size_t len, TreeNode *n)
{
	size_t pos = 0, cap = 0;

	memset(n, 0, sizeof *n);
	n->type = NODE_FILE;
	n->size = len;
	while (pos < len) {
		size_t cut = fastcdc_cut(&repo->cdc, buf + pos, len - pos, 1);
		if (n->nchunks == cap) {
			cap = cap ? 2 * cap : 64;
			n->chunks = realloc(n->chunks, cap * STRATA_ID_LEN);
			n->chunk_lens = realloc(n->chunk_lens, cap * sizeof *n->chunk_lens);
			if (!n->chunks || !n->chunk_lens)
				return -1;
		}
		codec_chunk_id(repo->keys, buf + pos, cut, n->chunks[n->nchunks]);
		n->chunk_lens[n->nchunks++] = (uint32_t)cut;
		pos += cut;
	}
	return 0;
}

/* A file named name holding buf; its descriptor, readable. */
static int put_file(const char *name, const uint8_t *buf, size_t len)
{
	char path[512];
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		return -1;
	return fd;
}

/* Build the file from d's copy plus the chunks it lacks (from content,
 * as the fetch would) and compare it with content. */
static int rebuilt_equals(int old_fd, const RestoreDonors *dn, const TreeNode *n, const RestoreDelta *d)
{
	uint8_t *got = malloc(SIZE);
	StrataErr err = {0};
	uint64_t copied = 0, off = 0;
	int fd = put_file("rebuilt", (const uint8_t *)"", 0), ok;

	if (!got || fd < 0 || ftruncate(fd, SIZE) != 0 ||
	    restore_delta_copy(old_fd, dn, fd, n, d, "rebuilt", &copied, &err) != 0)
		return 0;
	for (size_t i = 0; i < n->nchunks; i++) {
		if (d->old_off[i] == RESTORE_DELTA_NONE &&
		    pwrite(fd, content + off, n->chunk_lens[i], (off_t)off) != (ssize_t)n->chunk_lens[i])
			return 0;
		off += n->chunk_lens[i];
	}
	ok = pread(fd, got, SIZE, 0) == SIZE && memcmp(got, content, SIZE) == 0 && copied == d->bytes_present;
	close(fd);
	free(got);
	return ok;
}

static void test_identical(void)
{
	TreeNode n;
	RestoreDelta d;
	StrataErr err = {0};
	int fd;

	REQUIRE(make_node(content, SIZE, &n) == 0);
	fd = put_file("same", content, SIZE);
	REQUIRE(fd >= 0);
	REQUIRE(restore_delta_scan(repo, fd, SIZE, &n, NULL, "same", &d, &err) == 0);
	CHECK(d.identical);
	CHECK_EQ_INT(d.bytes_present, SIZE);
	CHECK_EQ_INT(d.bytes_read, SIZE);
	restore_delta_free(&d);
	close(fd);
	tree_node_clear(&n);
}

/* The old file is the snapshot's minus its last 40 KiB (the snapshot's
 * file grew): all but the last chunks are there, in place. */
static void test_grown(void)
{
	TreeNode n;
	RestoreDelta d;
	StrataErr err = {0};
	int fd;

	REQUIRE(make_node(content, SIZE, &n) == 0);
	fd = put_file("short", content, SIZE - 40 * 1024);
	REQUIRE(fd >= 0);
	REQUIRE(restore_delta_scan(repo, fd, SIZE - 40 * 1024, &n, NULL, "short", &d, &err) == 0);
	CHECK(!d.identical);
	CHECK(d.bytes_present >= SIZE - 40 * 1024 - 16384);
	CHECK(d.bytes_present <= SIZE - 40 * 1024);
	CHECK(rebuilt_equals(fd, NULL, &n, &d));
	restore_delta_free(&d);
	close(fd);
	tree_node_clear(&n);
}

/* 1000 bytes inserted at 100 KiB: the chunks after it moved; the
 * chunker finds them again (pass 2). */
static void test_shifted(void)
{
	uint8_t *old = malloc(SIZE + 1000);
	TreeNode n;
	RestoreDelta d;
	StrataErr err = {0};
	int fd;

	REQUIRE(old);
	memcpy(old, content, 100 * 1024);
	memset(old + 100 * 1024, 'x', 1000);
	memcpy(old + 100 * 1024 + 1000, content + 100 * 1024, SIZE - 100 * 1024);
	REQUIRE(make_node(content, SIZE, &n) == 0);
	fd = put_file("shifted", old, SIZE + 1000);
	REQUIRE(fd >= 0);
	REQUIRE(restore_delta_scan(repo, fd, SIZE + 1000, &n, NULL, "shifted", &d, &err) == 0);
	CHECK(!d.identical);
	/* All but the one or two chunks around the insertion. */
	CHECK(d.bytes_present >= SIZE - 2 * 16384);
	CHECK(rebuilt_equals(fd, NULL, &n, &d));
	restore_delta_free(&d);
	close(fd);
	tree_node_clear(&n);
	free(old);
}

/* Other bytes of the same size: nothing is taken. */
static void test_unrelated(void)
{
	uint8_t *other = malloc(SIZE);
	TreeNode n;
	RestoreDelta d;
	StrataErr err = {0};
	int fd;

	REQUIRE(other);
	fill_random(other, SIZE, 99);
	REQUIRE(make_node(content, SIZE, &n) == 0);
	fd = put_file("other", other, SIZE);
	REQUIRE(fd >= 0);
	REQUIRE(restore_delta_scan(repo, fd, SIZE, &n, NULL, "other", &d, &err) == 0);
	CHECK(!d.identical);
	CHECK_EQ_INT(d.bytes_present, 0);
	CHECK(rebuilt_equals(fd, NULL, &n, &d));
	restore_delta_free(&d);
	close(fd);
	tree_node_clear(&n);
	free(other);
}

/* No file of that name; a donor (the content with 50 bytes changed at
 * 200 KiB, under another name) gives all but the chunk around them. */
static void test_donor(void)
{
	uint8_t *donor = malloc(SIZE);
	RestoreDonors dn;
	TreeNode n;
	RestoreDelta d;
	StrataErr err = {0};
	int fd;

	REQUIRE(donor);
	memcpy(donor, content, SIZE);
	memset(donor + 200 * 1024, 'y', 50);
	memset(&dn, 0, sizeof dn);
	fd = put_file("donor", donor, SIZE);
	REQUIRE(fd >= 0);
	REQUIRE(restore_donors_add(repo, &dn, fd, SIZE, "donor", &err) == 0);
	restore_donors_seal(&dn);
	CHECK_EQ_INT(dn.bytes_read, SIZE);
	REQUIRE(make_node(content, SIZE, &n) == 0);
	REQUIRE(restore_delta_scan(repo, -1, 0, &n, &dn, "new", &d, &err) == 0);
	CHECK(!d.identical);
	/* Missing: the chunks holding the change, and those before the donor's
	 * cuts fall back in step with the file's (the cut after a change can land
	 * anywhere past the minimum size, so that can take several chunks; 230
	 * runs with random keys lost at most 17 KiB, one ASan run over 32 KiB). */
	CHECK(d.bytes_present >= SIZE - 4 * 16384);
	CHECK(d.bytes_present < SIZE);
	for (size_t i = 0; i < n.nchunks; i++)
		CHECK(d.old_off[i] == RESTORE_DELTA_NONE || d.src[i] == 1);
	CHECK(rebuilt_equals(-1, &dn, &n, &d));
	restore_delta_free(&d);
	restore_donors_clear(&dn);
	tree_node_clear(&n);
	free(donor);
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s/test_restore_delta.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir) || codec_init() != 0 || test_repo_create(dir, &repo) != 0 || !(content = malloc(SIZE))) {
		printf("FAIL setup\n");
		return 1;
	}
	fill_random(content, SIZE, 7);
	RUN(test_identical);
	RUN(test_grown);
	RUN(test_shifted);
	RUN(test_unrelated);
	RUN(test_donor);
	repo_close(repo);
	free(content);
	rm_rf(dir);
	return CHECK_EXIT();
}
