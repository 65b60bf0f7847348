/* workpool.h — a fixed pool of worker threads fed by a bounded queue.
 *
 * Owns: threads, the job queue and its memory bound (submitters block when
 * the bytes in flight exceed the bound, so memory stays flat whatever the
 * input size), and waiting for completion.
 *
 * Never: knows what a job does. Thread safety: submit/wait from one
 * producer thread; jobs run on the workers.
 */
#ifndef STRATA_STORE_WORKPOOL_H
#define STRATA_STORE_WORKPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct WorkPool WorkPool;

/* A job: fn(arg, worker_state) runs on a worker; weight counts against
 * the in-flight bound until it returns. */
typedef void (*WorkFn)(void *arg, void *worker_state);

/* workpool_new — nthreads workers; make_state/free_state create and free
 * one state per worker (e.g. a CodecCtx), may be NULL. max_weight bounds
 * the weight in flight. NULL on failure. */
WorkPool *workpool_new(int nthreads, uint64_t max_weight,
                       void *(*make_state)(void), void (*free_state)(void *));

/* workpool_submit — queue a job, blocking while the bound is exceeded
 * (a single job heavier than the bound still runs, alone). A submitter
 * that blocks comes back once the job fits with a quarter of the bound
 * to spare (half of what fits, for a job near the bound), so it queues a
 * batch per wake-up rather than one job per finished job. -ENOMEM. */
int workpool_submit(WorkPool *p, WorkFn fn, void *arg, uint64_t weight);

/* workpool_wait — block until every submitted job has finished. */
void workpool_wait(WorkPool *p);

/* workpool_free — wait, stop the threads, free. Accepts NULL. */
void workpool_free(WorkPool *p);

/* workpool_default_threads — the number of online CPUs (at least 1). */
int workpool_default_threads(void);

#endif
