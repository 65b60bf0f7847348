/* test_workpool.c — unit tests for store/sys/workpool.c: every job runs once
 * and workpool_wait drains them; the weight in flight never passes the
 * bound; a job heavier than the bound runs alone; and a producer that
 * met the bound is not let in again until a quarter of it is free (half
 * of what fits, for a job near the bound), so it queues a batch per
 * wake-up instead of one job per finished job.
 *
 * The jobs keep their own count of the weight in flight: the producer
 * adds a job's weight once workpool_submit returns, the job takes it off
 * as its last step, before the pool does. So the count is never above
 * the pool's own, and a count at the bound means the pool is at it too.
 */
#include "store/sys/workpool.h"
#include "tests/check.h"

#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

typedef struct Load {
	atomic_llong in_flight;    /* the jobs' count, see above */
	atomic_llong alone_seen;   /* in_flight as a heavy job saw it at its start */
	atomic_llong alone_end;    /* ... and just before it ended */
	atomic_int runs;
	long sleep_ns;
} Load;

typedef struct Job {
	Load *load;
	long long weight;
	int heavy;
} Job;

static void nap(long ns)
{
	struct timespec ts = { 0, ns };

	if (ns)
		nanosleep(&ts, NULL);
}

static void job_fn(void *arg, void *state)
{
	Job *j = arg;

	(void)state;
	if (j->heavy)
		atomic_store(&j->load->alone_seen, atomic_load(&j->load->in_flight));
	nap(j->load->sleep_ns);
	if (j->heavy)
		atomic_store(&j->load->alone_end, atomic_load(&j->load->in_flight));
	atomic_fetch_add(&j->load->runs, 1);
	atomic_fetch_sub(&j->load->in_flight, j->weight);
}

/* Submit job (weight w, heavy or not) and add w to the jobs' count;
 * returns the count after it, -1 when the submit failed. */
static long long submit_one(WorkPool *p, Load *ld, Job *job, long long w, int heavy)
{
	job->load = ld;
	job->weight = w;
	job->heavy = heavy;
	if (workpool_submit(p, job_fn, job, (uint64_t)w) != 0)
		return -1;
	return atomic_fetch_add(&ld->in_flight, w) + w;
}

/* Submit n jobs of weight w each (jobs[] owned by the caller); returns
 * the largest count seen after a submit, -1 when a submit failed. */
static long long submit_all(WorkPool *p, Load *ld, Job *jobs, int n, long long w)
{
	long long top = 0;

	for (int i = 0; i < n; i++) {
		long long now = submit_one(p, ld, &jobs[i], w, 0);
		if (now < 0)
			return -1;
		if (now > top)
			top = now;
	}
	return top;
}

static void test_every_job_runs_once(void)
{
	static Job jobs[2000];
	Load ld = { .sleep_ns = 0 };
	WorkPool *p = workpool_new(3, 1000, NULL, NULL);

	REQUIRE(p);
	long long top = submit_all(p, &ld, jobs, 2000, 7);
	workpool_wait(p);
	REQUIRE(top >= 0);
	CHECK_EQ_INT(atomic_load(&ld.runs), 2000);
	CHECK_EQ_INT(atomic_load(&ld.in_flight), 0);
	CHECK(top <= 1000);
	workpool_free(p);
}

static void test_bound_holds_near_it(void)
{
	/* Jobs of 60 against a bound of 100: only one is ever in flight,
	 * and a blocked producer's mark is half of what fits (40 / 2 = 20),
	 * not the bound less a quarter. */
	static Job jobs[300];
	Load ld = { .sleep_ns = 100000 };
	WorkPool *p = workpool_new(2, 100, NULL, NULL);

	REQUIRE(p);
	long long top = submit_all(p, &ld, jobs, 300, 60);
	workpool_wait(p);
	REQUIRE(top >= 0);
	CHECK_EQ_INT(atomic_load(&ld.runs), 300);
	CHECK(top <= 100);
	CHECK_EQ_INT(top, 60);
	workpool_free(p);
}

static void test_heavy_job_runs_alone(void)
{
	static Job jobs[40];
	Job heavy;
	Load ld = { .sleep_ns = 200000 };
	WorkPool *p = workpool_new(2, 100, NULL, NULL);

	REQUIRE(p);
	REQUIRE(submit_all(p, &ld, jobs, 40, 10) >= 0);
	REQUIRE(submit_one(p, &ld, &heavy, 250, 1) >= 0);
	REQUIRE(submit_all(p, &ld, jobs, 40, 10) >= 0);   /* the same 40, again */
	workpool_wait(p);
	CHECK_EQ_INT(atomic_load(&ld.runs), 81);
	/* When it started only it could be in flight, and the producer may
	 * not yet have added its weight: 0 or 250. */
	long long seen = atomic_load(&ld.alone_seen);
	CHECK(seen == 0 || seen == 250);
	/* Nor did the second batch start while it ran. */
	seen = atomic_load(&ld.alone_end);
	CHECK(seen == 0 || seen == 250);
	workpool_free(p);
}

static void test_producer_waits_for_a_quarter(void)
{
	/* Bound 100, weight 1: once the count reaches 100 the next submit
	 * must wait, and it may only return once the pool is down to
	 * 100 - 1 - 25 = 74, so the count it leaves is at most 75. Waking
	 * the producer as soon as one job finished would leave 100. */
	static Job jobs[1000];
	Load ld = { .sleep_ns = 50000 };
	WorkPool *p = workpool_new(2, 100, NULL, NULL);
	int full = 0, checked = 0, bad = 0;

	REQUIRE(p);
	for (int i = 0; i < 1000; i++) {
		long long now = submit_one(p, &ld, &jobs[i], 1, 0);
		REQUIRE(now >= 0);
		if (full) {
			checked++;
			if (now > 75)
				bad++;
		}
		full = now == 100;
	}
	workpool_wait(p);
	CHECK_EQ_INT(atomic_load(&ld.runs), 1000);
	CHECK(checked > 0);          /* the producer did reach the bound */
	/* A job that ends between two submits (after the count read 100,
	 * before the next submit looks at the pool) lets that submit through
	 * without waiting, at 100: a race of the test's, seen about once in
	 * fifteen runs under ASan. Waking at once, every return after the
	 * bound is a 100 (788 of 788 to 884 of 884 against the old
	 * workpool.c): a few such returns pass, most fail. */
	if (bad * 10 > checked)
		printf("  %d of %d returns after the bound were above 75\n", bad, checked);
	CHECK(bad * 10 <= checked);
	workpool_free(p);
}

int main(void)
{
	alarm(120);                  /* a lost wake-up hangs: fail instead */
	RUN(test_every_job_runs_once);
	RUN(test_bound_holds_near_it);
	RUN(test_heavy_job_runs_alone);
	RUN(test_producer_waits_for_a_quarter);
	return CHECK_EXIT();
}
