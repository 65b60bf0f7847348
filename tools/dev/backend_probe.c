/* backend_probe — drive one storage backend by hand: for operators
 * debugging a location (credentials, TLS, storage classes, retries) and
 * for the end-to-end tests of the backends.
 *
 *   backend_probe LOCATION put NAME FILE      store FILE ("-": stdin)
 *   backend_probe LOCATION get NAME [MAX]     object to stdout; more than MAX
 *                                             bytes (default: no bound) is
 *                                             refused (-EFBIG) unread
 *   backend_probe LOCATION range NAME OFF LEN bytes [OFF, OFF+LEN) to stdout
 *   backend_probe LOCATION list [PREFIX]      "SIZE NAME" lines
 *   backend_probe LOCATION del NAME
 *   backend_probe LOCATION stat NAME          size in bytes
 *   backend_probe LOCATION fill PREFIX COUNT [THREADS]
 *                                             put COUNT small objects
 *                                             PREFIX000000... from THREADS
 *                                             threads (default 8)
 *
 * Exit status: 0 success, 2 usage, 3 not found (-ENOENT), 4 access denied
 * (-EACCES), 5 out of range (-ERANGE), 6 too large (-EFBIG), 1 any other
 * error. Errors go to
 * stderr as the backend's message.
 */
#include "remote/backend.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void) __attribute__((noreturn));

static void usage(void)
{
	fputs("usage: backend_probe LOCATION put NAME FILE | get NAME [MAX] | range NAME OFF LEN |\n"
	      "                      list [PREFIX] | del NAME | stat NAME |\n"
	      "                      fill PREFIX COUNT [THREADS]\n", stderr);
	exit(2);
}

static int exit_code(int rc)
{
	switch (rc) {
	case 0: return 0;
	case -ENOENT: return 3;
	case -EACCES: return 4;
	case -ERANGE: return 5;
	case -EFBIG: return 6;
	default: return 1;
	}
}

static int report(int rc, const RemoteErr *err)
{
	if (rc < 0)
		fprintf(stderr, "backend_probe: %s (%s)\n", err->msg[0] ? err->msg : "failed", strerror(-rc));
	return exit_code(rc);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || end == s || *end || *s == '-' ? -1 : 0;
}

/* read_file — whole file (or stdin for "-") into a malloc'ed buffer. */
static int read_file(const char *path, uint8_t **out, size_t *out_len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t len = 0, cap = 1 << 16, n;
	uint8_t *buf = NULL, *p;
	int rc = 0;

	if (!f) {
		fprintf(stderr, "backend_probe: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf = malloc(cap);
	while (buf) {
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len < cap)
			break;
		p = realloc(buf, cap * 2);
		if (!p) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = p;
		cap *= 2;
	}
	if (!buf || ferror(f)) {
		fprintf(stderr, "backend_probe: %s: read failed\n", path);
		free(buf);
		rc = -1;
	} else {
		*out = buf;
		*out_len = len;
	}
	if (f != stdin)
		fclose(f);
	return rc;
}

static int print_entry(const char *name, uint64_t size, void *ctx)
{
	(void)ctx;
	printf("%" PRIu64 " %s\n", size, name);
	return 0;
}

typedef struct Filler {
	Backend *be;
	const char *prefix;
	uint64_t next, count;
	pthread_mutex_t lock;
	int rc;
	RemoteErr err;
} Filler;

static void *fill_thread(void *arg)
{
	Filler *f = arg;
	char name[600], body[64];
	RemoteErr err;

	for (;;) {
		uint64_t i;
		int rc;

		pthread_mutex_lock(&f->lock);
		i = f->rc ? f->count : f->next++;
		pthread_mutex_unlock(&f->lock);
		if (i >= f->count)
			break;
		snprintf(name, sizeof(name), "%s%06" PRIu64, f->prefix, i);
		snprintf(body, sizeof(body), "object %" PRIu64 "\n", i);
		rc = backend_put(f->be, name, body, strlen(body), &err);
		if (rc < 0) {
			pthread_mutex_lock(&f->lock);
			if (!f->rc) {
				f->rc = rc;
				f->err = err;
			}
			pthread_mutex_unlock(&f->lock);
		}
	}
	return NULL;
}

static int fill(Backend *be, const char *prefix, uint64_t count, uint64_t threads, RemoteErr *err)
{
	pthread_t th[64];
	Filler f;
	uint64_t i, started = 0;

	memset(&f, 0, sizeof(f));
	f.be = be;
	f.prefix = prefix;
	f.count = count;
	pthread_mutex_init(&f.lock, NULL);
	if (threads < 1)
		threads = 1;
	if (threads > 64)
		threads = 64;
	for (i = 0; i < threads; i++)
		if (pthread_create(&th[i], NULL, fill_thread, &f) == 0)
			started++;
	if (!started)
		fill_thread(&f);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&f.lock);
	if (f.rc < 0)
		*err = f.err;
	return f.rc;
}

int main(int argc, char **argv)
{
	const char *cmd;
	RemoteErr err;
	Backend *be = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t a = 0, b = 0;
	int rc;

	if (argc < 3)
		usage();
	cmd = argv[2];
	memset(&err, 0, sizeof(err));
	rc = backend_open(argv[1], &be, &err);
	if (rc < 0)
		return report(rc, &err);

	if (strcmp(cmd, "put") == 0 && argc == 5) {
		if (read_file(argv[4], &buf, &len) < 0) {
			rc = 1;
			goto out;
		}
		rc = report(backend_put(be, argv[3], buf, len, &err), &err);
	} else if (strcmp(cmd, "get") == 0 && (argc == 4 || argc == 5)) {
		if (argc == 5 && (parse_u64(argv[4], &a) < 0 || a > SIZE_MAX))
			usage();
		rc = backend_get(be, argv[3], argc == 5 ? (size_t)a : SIZE_MAX, &buf, &len, &err);
		if (rc == 0 && fwrite(buf, 1, len, stdout) != len)
			rc = -EIO;
		rc = report(rc, &err);
	} else if (strcmp(cmd, "range") == 0 && argc == 6) {
		if (parse_u64(argv[4], &a) < 0 || parse_u64(argv[5], &b) < 0 || b > SIZE_MAX)
			usage();
		buf = malloc(b ? (size_t)b : 1);
		if (!buf) {
			fputs("backend_probe: out of memory\n", stderr);
			rc = 1;
			goto out;
		}
		rc = backend_get_range(be, argv[3], a, (size_t)b, buf, &err);
		if (rc == 0 && fwrite(buf, 1, (size_t)b, stdout) != (size_t)b)
			rc = -EIO;
		rc = report(rc, &err);
	} else if (strcmp(cmd, "list") == 0 && (argc == 3 || argc == 4)) {
		rc = report(backend_list(be, argc == 4 ? argv[3] : "", print_entry, NULL, &err), &err);
	} else if (strcmp(cmd, "del") == 0 && argc == 4) {
		rc = report(backend_delete(be, argv[3], &err), &err);
	} else if (strcmp(cmd, "stat") == 0 && argc == 4) {
		rc = backend_stat(be, argv[3], &a, &err);
		if (rc == 0)
			printf("%" PRIu64 "\n", a);
		rc = report(rc, &err);
	} else if (strcmp(cmd, "fill") == 0 && (argc == 5 || argc == 6)) {
		if (parse_u64(argv[4], &a) < 0 || (argc == 6 && parse_u64(argv[5], &b) < 0))
			usage();
		rc = report(fill(be, argv[3], a, argc == 6 ? b : 8, &err), &err);
	} else {
		backend_free(be);
		usage();
	}
out:
	free(buf);
	backend_free(be);
	if (fflush(stdout) != 0 && rc == 0)
		rc = 1;
	return rc;
}
