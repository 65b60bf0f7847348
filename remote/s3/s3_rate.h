/* s3_rate.h — bandwidth limits on S3 transfers: --limit-upload and
 * --limit-download, in bytes per second, shared by every transfer of the
 * process.
 *
 * Owns: one budget per direction, a token bucket kept as a virtual
 * clock (GCRA): each transfer of n bytes reserves the next n/rate
 * seconds of the link and waits until its turn starts; together with
 * libcurl's own per-transfer cap at the same rate (s3_http.c sets it), a
 * transfer runs no faster than the limit and the transfers of all
 * threads run one after the other, so the achieved rate over a run
 * matches the limit. Unused time is not saved up: an idle minute buys
 * no burst after it.
 *
 * The budgets are process-wide state, the one place in remote/ that has
 * any: the limit is the node's link, which every backend a process opens
 * (the repository's, its lock's, each replication target's) shares. The
 * rates come from STRATA_S3_LIMIT_UPLOAD and STRATA_S3_LIMIT_DOWNLOAD
 * (bytes per second; the CLI sets them), read once.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef STRATA_REMOTE_S3_RATE_H
#define STRATA_REMOTE_S3_RATE_H

#include <stddef.h>
#include <stdint.h>

typedef enum S3RateDir { S3RATE_UP, S3RATE_DOWN } S3RateDir;

/* s3rate_limit — the limit of dir in bytes per second, 0 for none. */
uint64_t s3rate_limit(S3RateDir dir);

/* s3rate_take — account for n bytes in dir and sleep until the link is
 * this transfer's: call it before a transfer of known size. Returns when
 * the reservation ends (s3rate_now_ns clock): the caller passes it to
 * s3rate_wait_until after the transfer, so that a transfer libcurl let
 * run ahead of its cap (its limiter averages, and lets the first
 * second through fast) still took no less than n / rate. Returns 0 at
 * once without a limit. */
int64_t s3rate_take(S3RateDir dir, uint64_t n);

/* s3rate_wait_until — sleep until end_ns (s3rate_now_ns clock); returns
 * at once for 0 or a time passed. */
void s3rate_wait_until(int64_t end_ns);

/* s3rate_now_ns — the clock s3rate_took measures with. */
int64_t s3rate_now_ns(void);

/* s3rate_took — account for n bytes of a transfer of unknown size that
 * started at started_ns and has ended: its reservation begins then (or
 * when the link was free) and the caller sleeps until it ends, so the
 * transfer took no less than n / rate. */
void s3rate_took(S3RateDir dir, uint64_t n, int64_t started_ns);

/* S3RateClock — the reservation arithmetic, for tests: next_ns is when
 * the link is free; s3rate_reserve returns how long a transfer of n bytes
 * asked at now_ns waits, and advances next_ns. */
typedef struct S3RateClock {
	uint64_t bytes_per_s;
	int64_t next_ns;
} S3RateClock;

int64_t s3rate_reserve(S3RateClock *c, uint64_t n, int64_t now_ns);

#endif
