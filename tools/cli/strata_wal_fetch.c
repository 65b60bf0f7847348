/* strata_wal_fetch.c — `strata-wal-fetch NAME DEST`: the cheap
 * restore_command for a recovery through the WAL fetcher (`strata
 * wal-fetch --async`, tools/cli/wal_fetcher.c).
 *
 * A separate program linked with libc and libsodium only (for the
 * socket name's BLAKE2b): `strata` loads 13 shared libraries, and
 * relocating them was most of the ~12 ms of CPU a call served from the
 * fetcher's spool cost. This one finds the fetcher's
 * socket as strata does (wal_daemon.h: <cache root>/walfetch/<16 hex>.sock,
 * the hex the first 8 bytes of an unkeyed BLAKE2b-256 of the repository
 * location, a NUL and the real path of DEST's directory), sends
 * "GET NAME", and on "OK <spool path>" renames that file to DEST (exit 0)
 * or on "ABSENT" prints strata's message (exit 1). Everything else — any
 * option, no STRATA_REPOSITORY, no fetcher listening (the first call of a
 * recovery starts it), an error answer, a failed rename — execs
 * `strata wal-fetch --async ARGS...` (the strata beside this program, else
 * the one on PATH), so exit codes and messages are strata's own.
 *
 * Never: reads the repository, needs the password, writes anything but the
 * rename. Thread safety: one thread, one call per process.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#define NAME_MAX_LEN 64        /* WAL_NAME_MAX: the longest WAL file name strata accepts */
#define EXIT_ABSENT 1          /* as `strata wal-fetch`: the archive lacks NAME */
#define EXIT_HALT 128          /* as `strata wal-fetch`: stop recovery */

/* ---- the fast path ---- */

/* What strata's wal-fetch does for everything but a spool hit. */
static int run_strata(int argc, char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + 8];
	const char **args = calloc((size_t)argc + 3, sizeof *args);
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;

	if (!args) {
		fprintf(stderr, "strata-wal-fetch: out of memory\n");
		return EXIT_HALT;
	}
	args[0] = "strata";
	args[1] = "wal-fetch";
	args[2] = "--async";
	for (int i = 1; i < argc; i++)
		args[i + 2] = argv[i];
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			snprintf(path, sizeof path, "%s/strata", self);
			if (access(path, X_OK) == 0) {
				args[0] = path;
				execv(path, (char *const *)(uintptr_t)args);
			}
		}
	}
	args[0] = "strata";
	execvp("strata", (char *const *)(uintptr_t)args);
	fprintf(stderr, "strata-wal-fetch: cannot run strata: %s\n", strerror(errno));
	free((void *)(uintptr_t)args);
	return EXIT_HALT;
}

/* A name `strata wal-fetch` might accept; the fetcher checks it exactly. */
static int plain_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_LEN || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F') || (s[i] >= 'a' && s[i] <= 'z') ||
		      s[i] == '.'))
			return 0;
	return 1;
}

/* The fetcher's socket for DEST's directory (wald_paths). 0 or -1. */
static int socket_path(const char *dest, char *out, size_t out_len)
{
	const char *loc = getenv("STRATA_REPOSITORY"), *cache = getenv("STRATA_CACHE_DIR");
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME"), *slash = strrchr(dest, '/');
	char dir[PATH_MAX], real[PATH_MAX], root[PATH_MAX], key[2 * PATH_MAX + 2], hex[17];
	uint8_t h[32];
	size_t ll, rl;
	int n;

	if (!loc || !*loc)
		return -1;
	if (cache && *cache)
		n = snprintf(root, sizeof root, "%s", cache);
	else if (xdg && *xdg)
		n = snprintf(root, sizeof root, "%s/strata", xdg);
	else if (home && *home)
		n = snprintf(root, sizeof root, "%s/.cache/strata", home);
	else
		return -1;
	if (n < 0 || (size_t)n >= sizeof root)
		return -1;
	if (slash)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - dest), dest);
	else
		snprintf(dir, sizeof dir, ".");
	if (!realpath(dir[0] ? dir : "/", real))
		return -1;
	ll = strlen(loc);
	rl = strlen(real);
	if (ll + 1 + rl > sizeof key)
		return -1;
	memcpy(key, loc, ll + 1);
	memcpy(key + ll + 1, real, rl);
	crypto_generichash(h, 32, (const unsigned char *)key, ll + 1 + rl, NULL, 0);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	n = snprintf(out, out_len, "%s/walfetch/%s.sock", root, hex);
	return n < 0 || (size_t)n >= out_len ? -1 : 0;
}

/* Ask the fetcher for name: its answer line (without newline) in ans, or -1
 * when nobody listens or the connection broke. */
static int ask(const char *sock, const char *name, char *ans, size_t ans_len)
{
	struct sockaddr_un a;
	char line[NAME_MAX_LEN + 8];
	size_t got = 0, len;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char *nl = NULL;

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
	len = (size_t)snprintf(line, sizeof line, "GET %s\n", name);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 || write(fd, line, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	while (got < ans_len - 1 && !nl) {
		ssize_t r = read(fd, ans + got, ans_len - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		ans[got] = '\0';
		nl = strchr(ans, '\n');
	}
	close(fd);
	if (!nl)
		return -1;
	*nl = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)], ans[PATH_MAX + 2048];

	if (argc != 3 || !plain_name(argv[1]) || argv[2][0] == '-' || !argv[2][0] ||
	    socket_path(argv[2], sock, sizeof sock) != 0 || ask(sock, argv[1], ans, sizeof ans) != 0)
		return run_strata(argc, argv);
	if (strncmp(ans, "OK /", 4) == 0 && rename(ans + 3, argv[2]) == 0)
		return 0;
	if (strcmp(ans, "ABSENT") == 0) {
		/* cmd_wal.c's message for STRATA_ENOTFOUND, through cli_fail. */
		fprintf(stderr, "strata: WAL file %s is not in the archive\n", argv[1]);
		return EXIT_ABSENT;
	}
	/* An error answer (the fetcher already dropped it) or a rename that
	 * failed: strata asks again and reports what it finds in its words. */
	return run_strata(argc, argv);
}
