/* s3_rate.c — see s3_rate.h. */
#include "remote/s3/s3_rate.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct Budget {
	pthread_mutex_t lock;
	S3RateClock clock;
} Budget;

/* Process-wide by design (s3_rate.h); written once under init_once,
 * then only under each budget's lock. */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static Budget budgets[2] = { { PTHREAD_MUTEX_INITIALIZER, { 0, 0 } },
                             { PTHREAD_MUTEX_INITIALIZER, { 0, 0 } } };

static uint64_t env_rate(const char *name)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long x;

	if (!v || !*v)
		return 0;
	errno = 0;
	x = strtoull(v, &end, 10);
	return errno || *end ? 0 : (uint64_t)x;
}

static void init(void)
{
	budgets[S3RATE_UP].clock.bytes_per_s = env_rate("STRATA_S3_LIMIT_UPLOAD");
	budgets[S3RATE_DOWN].clock.bytes_per_s = env_rate("STRATA_S3_LIMIT_DOWNLOAD");
}

uint64_t s3rate_limit(S3RateDir dir)
{
	pthread_once(&init_once, init);
	return budgets[dir].clock.bytes_per_s;
}

int64_t s3rate_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t s3rate_reserve(S3RateClock *c, uint64_t n, int64_t now)
{
	int64_t start = c->next_ns > now ? c->next_ns : now;
	/* n / rate seconds, in ns, without overflow for n up to 2^63 / 1e9
	 * bytes (9 GB) per step; larger n are split. */
	uint64_t left = n;

	c->next_ns = start;
	while (left) {
		uint64_t step = left > 1000000000ull ? 1000000000ull : left;

		c->next_ns += (int64_t)(step * 1000000000ull / c->bytes_per_s);
		left -= step;
	}
	return start - now;
}

static void sleep_ns(int64_t wait)
{
	struct timespec ts;

	if (wait <= 0)
		return;
	ts.tv_sec = (time_t)(wait / 1000000000);
	ts.tv_nsec = (long)(wait % 1000000000);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void s3rate_took(S3RateDir dir, uint64_t n, int64_t started_ns)
{
	Budget *b = &budgets[dir];
	int64_t end;

	if (!s3rate_limit(dir) || n == 0)
		return;
	pthread_mutex_lock(&b->lock);
	s3rate_reserve(&b->clock, n, started_ns);
	end = b->clock.next_ns;
	pthread_mutex_unlock(&b->lock);
	sleep_ns(end - s3rate_now_ns());
}

int64_t s3rate_take(S3RateDir dir, uint64_t n)
{
	Budget *b = &budgets[dir];
	int64_t wait, end;

	if (!s3rate_limit(dir) || n == 0)
		return 0;
	pthread_mutex_lock(&b->lock);
	wait = s3rate_reserve(&b->clock, n, s3rate_now_ns());
	end = b->clock.next_ns;
	pthread_mutex_unlock(&b->lock);
	sleep_ns(wait);
	return end;
}

void s3rate_wait_until(int64_t end_ns)
{
	if (end_ns > 0)
		sleep_ns(end_ns - s3rate_now_ns());
}
