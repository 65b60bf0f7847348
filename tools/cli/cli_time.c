/* cli_time.c — see cli_time.h. */
#include "tools/cli/cli_time.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#define NS_PER_S 1000000000LL

/* Read exactly n digits at *p into *out; advance. 0 or -EINVAL. */
static int digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -EINVAL;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/* A fraction of a second after the '.': nanoseconds, extra digits cut. */
static int fraction(const char **p, long *out_ns)
{
	long ns = 0;
	int n = 0;

	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	while (isdigit((unsigned char)**p)) {
		if (n < 9) {
			ns = ns * 10 + (**p - '0');
			n++;
		}
		(*p)++;
	}
	for (; n < 9; n++)
		ns *= 10;
	*out_ns = ns;
	return 0;
}

static int leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil), so UTC needs no timegm(3). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* "@SECONDS[.FRACTION]" */
static int parse_unix(const char *p, int64_t *out_ns)
{
	int64_t s = 0;
	long ns = 0;
	int neg = 0;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		if (s > (INT64_MAX / NS_PER_S - 10) / 10)
			return -ERANGE;
		s = s * 10 + (*p++ - '0');
	}
	if (*p == '.') {
		p++;
		if (fraction(&p, &ns) != 0)
			return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	*out_ns = neg ? -(s * NS_PER_S + ns) : s * NS_PER_S + ns;
	return 0;
}

int cli_time_parse(const char *s, int64_t *out_ns)
{
	char buf[128];
	const char *p;
	int y, mo, d, h = 0, mi = 0, sec = 0, zone = 0, off_min = 0;
	long ns = 0;
	size_t len;
	int64_t t;

	/* Trim surrounding blanks (a value pasted from a table). */
	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof buf)
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	p = buf;
	if (*p == '@')
		return parse_unix(p + 1, out_ns);

	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return -EINVAL;
	if (y < 1)
		return -ERANGE;
	if ((*p == 'T' || *p == 't' || *p == ' ') && isdigit((unsigned char)p[1])) {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return -EINVAL;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec))
				return -EINVAL;
			if (*p == '.' || *p == ',') {
				p++;
				if (fraction(&p, &ns))
					return -EINVAL;
			}
		}
		/* 60 is a leap second; it counts as the next second. */
		if (h > 23 || mi > 59 || sec > 60)
			return -EINVAL;
	}
	if (*p == ' ' && (p[1] == 'Z' || p[1] == 'z' || p[1] == '+' || p[1] == '-'))
		p++;
	if (*p == 'Z' || *p == 'z') {
		zone = 1;
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
		if (digits(&p, 2, &oh))
			return -EINVAL;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &om))
				return -EINVAL;
		} else if (isdigit((unsigned char)*p)) {
			if (digits(&p, 2, &om))
				return -EINVAL;
		}
		if (oh > 23 || om > 59)
			return -EINVAL;
		zone = 1;
		off_min = sign * (oh * 60 + om);
	}
	if (*p)
		return -EINVAL;

	if (zone) {
		t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off_min * 60;
	} else {
		struct tm tm;
		time_t tt;
		memset(&tm, 0, sizeof tm);
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = sec == 60 ? 59 : sec;
		tm.tm_isdst = -1;
		tt = mktime(&tm);
		/* mktime moves a time inside a spring-forward gap; a time it had
		 * to move does not exist on the local clock. */
		if (tt == (time_t)-1 && (tm.tm_year != y - 1900 || tm.tm_hour != h))
			return -ERANGE;
		if (tm.tm_hour != h || tm.tm_min != mi || tm.tm_mday != d)
			return -ERANGE;
		t = (int64_t)tt + (sec == 60 ? 1 : 0);
	}
	/* Nanoseconds in an int64 reach from 1677 to 2262. */
	if (t <= INT64_MIN / NS_PER_S || t >= INT64_MAX / NS_PER_S)
		return -ERANGE;
	*out_ns = t * NS_PER_S + ns;
	return 0;
}
