/* workpool.c — see workpool.h. */
#include "store/sys/workpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct Job {
	WorkFn fn;
	void *arg;
	uint64_t weight;
	struct Job *next;
} Job;

struct WorkPool {
	pthread_mutex_t mu;
	pthread_cond_t has_work;     /* a job was queued or stop was set */
	pthread_cond_t progress;     /* a job finished */
	Job *head, *tail;
	uint64_t weight_in_flight;   /* queued + running */
	uint64_t max_weight;
	uint64_t unfinished;         /* queued + running */
	int submit_waiters;          /* submitters blocked on the bound */
	uint64_t wake_at;            /* ... until weight_in_flight is this low */
	int drain_waiters;           /* workpool_wait callers */
	int stop;
	int nthreads;
	pthread_t *threads;
	void *(*make_state)(void);
	void (*free_state)(void *);
};

static void *worker(void *arg)
{
	WorkPool *p = arg;
	void *state = p->make_state ? p->make_state() : NULL;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->has_work, &p->mu);
		if (!p->head)
			break;
		Job *j = p->head;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		j->fn(j->arg, state);
		pthread_mutex_lock(&p->mu);
		p->weight_in_flight -= j->weight;
		p->unfinished--;
		/* Wake the producer only when it waits for this: a broadcast
		 * per job cost a context switch per chunk on small files. */
		if ((p->submit_waiters && p->weight_in_flight <= p->wake_at) ||
		    (p->drain_waiters && p->unfinished == 0))
			pthread_cond_broadcast(&p->progress);
		free(j);
	}
	pthread_mutex_unlock(&p->mu);
	if (p->free_state)
		p->free_state(state);
	return NULL;
}

int workpool_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : (int)n;
}

WorkPool *workpool_new(int nthreads, uint64_t max_weight,
                       void *(*make_state)(void), void (*free_state)(void *))
{
	WorkPool *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	if (nthreads < 1)
		nthreads = 1;
	p->threads = calloc((size_t)nthreads, sizeof *p->threads);
	if (!p->threads) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->has_work, NULL);
	pthread_cond_init(&p->progress, NULL);
	p->max_weight = max_weight;
	p->make_state = make_state;
	p->free_state = free_state;
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			break;
		p->nthreads++;
	}
	if (p->nthreads == 0) {
		workpool_free(p);
		return NULL;
	}
	return p;
}

int workpool_submit(WorkPool *p, WorkFn fn, void *arg, uint64_t weight)
{
	Job *j = malloc(sizeof *j);

	if (!j)
		return -ENOMEM;
	j->fn = fn;
	j->arg = arg;
	j->weight = weight;
	j->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->weight_in_flight > 0 && p->weight_in_flight + weight > p->max_weight) {
		/* Sleep until this job fits with a quarter of the bound to
		 * spare (half of what fits, for a job near the bound), not
		 * just until it fits: a producer faster than the workers was
		 * woken by every finished job to queue one more, a wake-up
		 * and a context switch per chunk (23,000 of each in a 2 GiB
		 * first backup, 4,000-5,000 now). The workers still hold the
		 * rest of the bound. One producer (workpool.h), so one mark. */
		uint64_t fits = weight < p->max_weight ? p->max_weight - weight : 0;
		uint64_t spare = p->max_weight / 4 < fits / 2 ? p->max_weight / 4 : fits / 2;

		p->wake_at = fits - spare;
		p->submit_waiters++;
		while (p->weight_in_flight > p->wake_at)
			pthread_cond_wait(&p->progress, &p->mu);
		p->submit_waiters--;
	}
	p->weight_in_flight += weight;
	p->unfinished++;
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->has_work);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void workpool_wait(WorkPool *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->unfinished) {
		p->drain_waiters++;
		pthread_cond_wait(&p->progress, &p->mu);
		p->drain_waiters--;
	}
	pthread_mutex_unlock(&p->mu);
}

void workpool_free(WorkPool *p)
{
	if (!p)
		return;
	workpool_wait(p);
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->has_work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->has_work);
	pthread_cond_destroy(&p->progress);
	free(p->threads);
	free(p);
}
