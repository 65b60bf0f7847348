/* cli_fmt.c — see cli_fmt.h. */
#include "tools/cli/cli_fmt.h"

#include <string.h>
#include <time.h>

#include "store/tree.h"

const char *cli_fmt_bytes(uint64_t bytes, char out[CLI_FMT_BYTES_LEN])
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(out, CLI_FMT_BYTES_LEN, "%llu B", (unsigned long long)bytes);
		return out;
	}
	v /= 1024.0;
	while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024.0;
		u++;
	}
	snprintf(out, CLI_FMT_BYTES_LEN, "%.2f %s", v, units[u]);
	return out;
}

/* Split nanoseconds since the epoch into seconds and a 0..999999999
 * remainder, rounding toward minus infinity so times before 1970 work. */
static void split_ns(int64_t ns, time_t *out_s, long *out_ns)
{
	int64_t s = ns / 1000000000, r = ns % 1000000000;

	if (r < 0) {
		r += 1000000000;
		s--;
	}
	*out_s = (time_t)s;
	*out_ns = (long)r;
}

const char *cli_fmt_time_local(int64_t time_ns, char out[CLI_FMT_TIME_LEN])
{
	struct tm tm;
	time_t s;
	long ns;

	split_ns(time_ns, &s, &ns);
	if (!localtime_r(&s, &tm) || !strftime(out, CLI_FMT_TIME_LEN, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(out, CLI_FMT_TIME_LEN, "@%lld", (long long)s);
	return out;
}

const char *cli_fmt_time_rfc3339(int64_t time_ns, char out[CLI_FMT_TIME_LEN])
{
	char date[32];
	struct tm tm;
	time_t s;
	long ns;

	split_ns(time_ns, &s, &ns);
	if (!gmtime_r(&s, &tm) || !strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(date, sizeof date, "@%lld", (long long)s);
	snprintf(out, CLI_FMT_TIME_LEN, "%s.%09ldZ", date, ns);
	return out;
}

const char *cli_fmt_short_id(const uint8_t id[STRATA_ID_LEN], char out[CLI_FMT_SHORT_ID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < 4; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	out[8] = '\0';
	return out;
}

const char *cli_fmt_mode(uint8_t type, uint32_t mode, char out[11])
{
	static const char types[] = "?-dlpcbs";   /* indexed by enum TreeNodeType */
	static const char rwx[] = "rwx";
	int i;

	out[0] = type < sizeof types - 1 ? types[type] : '?';
	for (i = 0; i < 9; i++)
		out[1 + i] = (mode & (0400u >> i)) ? rwx[i % 3] : '-';
	if (mode & 04000)
		out[3] = (mode & 0100) ? 's' : 'S';
	if (mode & 02000)
		out[6] = (mode & 0010) ? 's' : 'S';
	if (mode & 01000)
		out[9] = (mode & 0001) ? 't' : 'T';
	out[10] = '\0';
	return out;
}

const char *cli_fmt_type_name(uint8_t type)
{
	switch (type) {
	case NODE_FILE:     return "file";
	case NODE_DIR:      return "dir";
	case NODE_SYMLINK:  return "symlink";
	case NODE_FIFO:     return "fifo";
	case NODE_CHARDEV:  return "chardev";
	case NODE_BLOCKDEV: return "blockdev";
	case NODE_SOCKET:   return "socket";
	default:            return "unknown";
	}
}

size_t cli_fmt_utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2; cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3; cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4; cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

int cli_fmt_is_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k;

	for (; n > 0; p += k, n -= k)
		if ((k = cli_fmt_utf8_seq(p, n)) == 0)
			return 0;
	return 1;
}

/* How cli_fmt_name shows the character at p: *out_len bytes of input as
 * the returned number of columns; escaped when *out_escape. */
static size_t name_char(const unsigned char *p, size_t n, size_t *out_len, int *out_escape)
{
	size_t k = cli_fmt_utf8_seq(p, n);

	*out_escape = k == 0 || *p < 0x20 || *p == 0x7f;
	*out_len = *out_escape ? 1 : k;
	if (*out_escape)
		return 4;           /* \xNN */
	return *p == '\\' ? 2 : 1;
}

void cli_fmt_name(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k;
	int esc;

	for (; n > 0; p += k, n -= k) {
		name_char(p, n, &k, &esc);
		if (esc)
			fprintf(f, "\\x%02x", *p);
		else if (*p == '\\')
			fputs("\\\\", f);
		else
			fwrite(p, 1, k, f);
	}
}

size_t cli_fmt_name_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k, w = 0;
	int esc;

	for (; n > 0; p += k, n -= k)
		w += name_char(p, n, &k, &esc);
	return w;
}
