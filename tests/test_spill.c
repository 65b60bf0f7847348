/* test_spill.c — unit tests for store/backup/spill.c: bytes put are read back
 * exactly, from memory, from the temporary file, and across the boundary
 * between them; the file is unlinked (nothing is left in its directory);
 * and when no file can be made the bytes stay in memory, still correct.
 */
#include "store/backup/spill.h"
#include "tests/check.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return (size_t)-1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Records of 1..3000 bytes, each filled with its own pattern, through a
 * spill keeping at most 4 KiB in memory; every record read back whole and
 * in two halves (most straddle nothing, some the file/memory boundary). */
static void run(const char *dir, int expect_file)
{
	enum { N = 2000 };
	static uint64_t off[N];
	static size_t len[N];
	Spill *s = spill_new(dir, 4096);
	uint8_t buf[3000], want[3000];
	int bad = 0;

	REQUIRE(s != NULL);
	for (size_t i = 0; i < N; i++) {
		len[i] = 1 + (i * 7919) % 3000;
		for (size_t b = 0; b < len[i]; b++)
			buf[b] = (uint8_t)(i * 31 + b);
		REQUIRE(spill_put(s, buf, len[i], &off[i]) == 0);
		if (i > 0)
			CHECK_EQ_INT(off[i], off[i - 1] + len[i - 1]);
	}
	if (expect_file)
		CHECK(spill_file_bytes(s) > off[N / 2]);
	else
		CHECK_EQ_INT(spill_file_bytes(s), 0);
	for (size_t i = 0; i < N; i++) {
		size_t h = len[i] / 2;
		for (size_t b = 0; b < len[i]; b++)
			want[b] = (uint8_t)(i * 31 + b);
		memset(buf, 0, sizeof buf);
		if (spill_read(s, off[i], buf, len[i]) != 0 || memcmp(buf, want, len[i]) != 0)
			bad++;
		memset(buf, 0, sizeof buf);
		if (spill_read(s, off[i], buf, h) != 0 || spill_read(s, off[i] + h, buf + h, len[i] - h) != 0 ||
		    memcmp(buf, want, len[i]) != 0)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	/* Past the end: refused. */
	CHECK(spill_read(s, off[N - 1], buf, len[N - 1] + 1) != 0);
	if (expect_file)
		CHECK_EQ_INT(entries(dir), 0);   /* in use, and already without a name */
	spill_free(s);
}

static void test_file_and_memory(void)
{
	char dir[256];

	snprintf(dir, sizeof dir, "%s/test_spill.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	REQUIRE(mkdtemp(dir));
	run(dir, 1);
	CHECK_EQ_INT(entries(dir), 0);
	rmdir(dir);
}

static void test_no_directory_stays_in_memory(void)
{
	run("/nonexistent/strata-test-spill", 0);
}

int main(void)
{
	RUN(test_file_and_memory);
	RUN(test_no_directory_stays_in_memory);
	return CHECK_EXIT();
}
