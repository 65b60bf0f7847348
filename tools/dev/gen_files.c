/* gen_files.c — a deterministic tree of many small files, for
 * bench_files.sh (issue 34: "a million files").
 *
 *   gen_files create DIR FILES          FILES files in directories of 1,000
 *                                       (DIR/d0000/f000000 ...), each 1-8 KiB
 *                                       of pseudo-random bytes
 *   gen_files change DIR FILES COUNT R  rewrite COUNT files spread evenly
 *                                       over the tree with round R's bytes
 *   gen_files append DIR FILES R        append 4 KiB (round R) to one file
 *
 * Every byte is a function of (file number, round): two runs with the same
 * arguments make identical trees, so strata and restic see the same data.
 * The bytes do not compress (splitmix64 output): the backup's cost is per
 * file, which is what the benchmark measures.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PER_DIR 1000
#define MIN_SIZE 1024
#define MAX_SIZE 8192

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void path_of(char *buf, size_t len, const char *dir, uint64_t i)
{
	snprintf(buf, len, "%s/d%04llu/f%06llu", dir, (unsigned long long)(i / PER_DIR), (unsigned long long)i);
}

/* Write file i's bytes of round r (size drawn from the same stream). */
static int write_file(const char *path, uint64_t i, uint64_t r, int append)
{
	uint8_t buf[MAX_SIZE + 8];
	uint64_t s = i * 0x100000001b3ULL ^ (r << 48), v;
	size_t size = append ? 4096 : MIN_SIZE + (size_t)(splitmix(&s) % (MAX_SIZE - MIN_SIZE + 1));
	int fd;

	for (size_t k = 0; k < size; k += 8) {
		v = splitmix(&s);
		memcpy(buf + k, &v, 8);
	}
	fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
	if (fd < 0 || write(fd, buf, size) != (ssize_t)size) {
		fprintf(stderr, "gen_files: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	return close(fd) != 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: gen_files create DIR FILES | change DIR FILES COUNT ROUND | append DIR FILES ROUND\n");
	return 2;
}

int main(int argc, char **argv)
{
	char path[4096];
	uint64_t files;

	if (argc < 4)
		return usage();
	files = strtoull(argv[3], NULL, 10);
	if (files == 0)
		return usage();
	if (strcmp(argv[1], "create") == 0 && argc == 4) {
		if (mkdir(argv[2], 0755) != 0 && errno != EEXIST) {
			fprintf(stderr, "gen_files: %s: %s\n", argv[2], strerror(errno));
			return 1;
		}
		for (uint64_t i = 0; i < files; i++) {
			if (i % PER_DIR == 0) {
				snprintf(path, sizeof path, "%s/d%04llu", argv[2], (unsigned long long)(i / PER_DIR));
				if (mkdir(path, 0755) != 0 && errno != EEXIST) {
					fprintf(stderr, "gen_files: %s: %s\n", path, strerror(errno));
					return 1;
				}
			}
			path_of(path, sizeof path, argv[2], i);
			if (write_file(path, i, 0, 0))
				return 1;
		}
		return 0;
	}
	if (strcmp(argv[1], "change") == 0 && argc == 6) {
		uint64_t count = strtoull(argv[4], NULL, 10), r = strtoull(argv[5], NULL, 10);
		if (count == 0 || count > files)
			return usage();
		for (uint64_t k = 0; k < count; k++) {
			uint64_t i = k * (files / count) + (r % (files / count));
			path_of(path, sizeof path, argv[2], i);
			if (write_file(path, i, r, 0))
				return 1;
		}
		return 0;
	}
	if (strcmp(argv[1], "append") == 0 && argc == 5) {
		uint64_t r = strtoull(argv[4], NULL, 10);
		path_of(path, sizeof path, argv[2], (files / 2 + r) % files);
		return write_file(path, (files / 2 + r) % files, r, 1);
	}
	return usage();
}
