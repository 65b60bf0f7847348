/* s3_multi.c — see s3_multi.h.
 *
 * One thread owns the multi handle: it alone adds, drives and removes
 * transfers (a multi handle is not thread-safe). Callers queue a Job on
 * their own stack and wake it with curl_multi_wakeup, the one multi call
 * libcurl allows from another thread. */
#include "remote/s3/s3_multi.h"
#include "remote/s3/curl_api.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

/* The longest the loop sleeps when nothing happens; libcurl shortens it to
 * its own next timeout (connect, low-speed checks). */
#define POLL_MS 1000

#define CX (curl_api_load(NULL, 0))

typedef struct Job {
	CURL *h;
	CURLcode cc;
	int done;
	struct Job *next;
} Job;

struct S3Multi {
	pthread_mutex_t mu;
	pthread_cond_t done_cv;     /* some job's done became 1 */
	CURLM *multi;
	pthread_t thread;
	int limit;                  /* transfers in flight at most */
	int active;                 /* jobs in the multi handle */
	int started, no_thread, stop;
	Job *head, *tail;           /* waiting for a slot */
	Job *running;               /* in the multi handle (active of them) */
};

int s3multi_new(int transfers, S3Multi **out)
{
	S3Multi *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->limit = transfers > 0 ? transfers : 1;
	m->multi = CX->multi_init();
	if (!m->multi) {
		free(m);
		return -EIO;
	}
	/* Keep a live connection for every slot, so that a request finds
	 * one whoever ran the one before. */
	CX->multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)m->limit + 2);
	if (pthread_mutex_init(&m->mu, NULL) != 0) {
		CX->multi_cleanup(m->multi);
		free(m);
		return -ENOMEM;
	}
	if (pthread_cond_init(&m->done_cv, NULL) != 0) {
		pthread_mutex_destroy(&m->mu);
		CX->multi_cleanup(m->multi);
		free(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

/* finish — under mu: job j is over with cc; hand it back to its caller. */
static void finish(S3Multi *m, Job *j, CURLcode cc)
{
	Job **pp;

	for (pp = &m->running; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			m->active--;
			break;
		}
	j->cc = cc;
	j->done = 1;
	pthread_cond_broadcast(&m->done_cv);
}

/* start_waiting — under mu: move queued jobs into free slots. */
static void start_waiting(S3Multi *m)
{
	while (m->head && m->active < m->limit) {
		Job *j = m->head;

		m->head = j->next;
		if (!m->head)
			m->tail = NULL;
		if (CX->multi_add_handle(m->multi, j->h) != CURLM_OK) {
			j->cc = CURLE_OUT_OF_MEMORY;
			j->done = 1;
			pthread_cond_broadcast(&m->done_cv);
			continue;
		}
		j->next = m->running;
		m->running = j;
		m->active++;
	}
}

/* fail_all — under mu: the multi handle itself failed; end every running
 * transfer with an error its caller reports (and may retry). */
static void fail_all(S3Multi *m)
{
	while (m->running) {
		Job *j = m->running;

		CX->multi_remove_handle(m->multi, j->h);
		finish(m, j, CURLE_OUT_OF_MEMORY);
	}
}

static void *run(void *arg)
{
	S3Multi *m = arg;
	const CurlApi *cx = CX;

	pthread_mutex_lock(&m->mu);
	for (;;) {
		CURLMsg *msg;
		CURLMcode mc;
		int running = 0, left = 0;

		start_waiting(m);
		if (m->stop && !m->active && !m->head)
			break;
		pthread_mutex_unlock(&m->mu);
		mc = cx->multi_perform(m->multi, &running);
		pthread_mutex_lock(&m->mu);
		if (mc != CURLM_OK) {
			fail_all(m);
			continue;
		}
		while ((msg = cx->multi_info_read(m->multi, &left)) != NULL) {
			Job *j = NULL;
			CURLcode cc;

			if (msg->msg != CURLMSG_DONE)
				continue;
			cx->easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
			/* msg lives in the multi handle until the removal. */
			cc = msg->data.result;
			cx->multi_remove_handle(m->multi, msg->easy_handle);
			if (j)
				finish(m, j, cc);
		}
		start_waiting(m);
		if (m->stop && !m->active && !m->head)
			break;
		pthread_mutex_unlock(&m->mu);
		mc = cx->multi_poll(m->multi, NULL, 0, POLL_MS, NULL);
		pthread_mutex_lock(&m->mu);
		if (mc != CURLM_OK)
			fail_all(m);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* start — under mu: the thread, once. Signals stay with the threads that
 * expect them (the CLI's handlers, its workers' EINTR). */
static void start(S3Multi *m)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&m->thread, NULL, run, m) == 0)
		m->started = 1;
	else
		m->no_thread = 1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

CURLcode s3multi_perform(S3Multi *m, CURL *h)
{
	Job j = { .h = h, .cc = CURLE_OK, .done = 0, .next = NULL };

	pthread_mutex_lock(&m->mu);
	if (!m->started && !m->no_thread)
		start(m);
	if (!m->started) {
		pthread_mutex_unlock(&m->mu);
		return CX->easy_perform(h);
	}
	CX->easy_setopt(h, CURLOPT_PRIVATE, (void *)&j);
	if (m->tail)
		m->tail->next = &j;
	else
		m->head = &j;
	m->tail = &j;
	pthread_mutex_unlock(&m->mu);
	CX->multi_wakeup(m->multi);
	pthread_mutex_lock(&m->mu);
	while (!j.done)
		pthread_cond_wait(&m->done_cv, &m->mu);
	pthread_mutex_unlock(&m->mu);
	return j.cc;
}

void s3multi_free(S3Multi *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->stop = 1;
	pthread_mutex_unlock(&m->mu);
	if (m->started) {
		CX->multi_wakeup(m->multi);
		pthread_join(m->thread, NULL);
	}
	CX->multi_cleanup(m->multi);
	pthread_cond_destroy(&m->done_cv);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
