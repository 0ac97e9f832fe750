#include "common/workq.h"

#include "common/err.h"
#include "common/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

struct workq_job {
	workq_fn *fn;
	void *arg;
	bool done;
	bool detached; /* workq_submit: nobody waits; the worker frees it */
	struct workq_job *next;
};

struct workq {
	pthread_mutex_t lock;
	pthread_cond_t have_work; /* signalled when a job is queued or stop */
	pthread_cond_t job_done;  /* broadcast when any job finishes */
	struct workq_job *head, *tail;
	unsigned pending, max_pending;
	int nice_inc;
	bool stopping;
	pthread_t *threads;
	unsigned nthreads;
};

static void *
worker_main(void *p)
{
	struct workq *q = p;

	/* Linux: setpriority on a thread id changes only that thread. */
	if (q->nice_inc != 0 &&
	    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), q->nice_inc) !=
	        0)
		log_warn("workq: could not lower worker priority");
	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct workq_job *job;

		while (!q->head && !q->stopping)
			pthread_cond_wait(&q->have_work, &q->lock);
		if (!q->head)
			break;
		job = q->head;
		q->head = job->next;
		if (!q->head)
			q->tail = NULL;
		q->pending--;
		pthread_mutex_unlock(&q->lock);
		job->fn(job->arg);
		if (job->detached) {
			free(job);
			pthread_mutex_lock(&q->lock);
			continue;
		}
		pthread_mutex_lock(&q->lock);
		job->done = true;
		pthread_cond_broadcast(&q->job_done);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

int
workq_create(unsigned nthreads, unsigned max_pending, int nice_inc,
             struct workq **out)
{
	struct workq *q;

	if (nthreads == 0 || max_pending == 0)
		return ERR_INVALID;
	q = calloc(1, sizeof(*q));
	if (!q)
		return ERR_NOMEM;
	q->threads = calloc(nthreads, sizeof(*q->threads));
	if (!q->threads) {
		free(q);
		return ERR_NOMEM;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->have_work, NULL);
	pthread_cond_init(&q->job_done, NULL);
	q->max_pending = max_pending;
	q->nice_inc = nice_inc;
	for (unsigned i = 0; i < nthreads; i++) {
		if (pthread_create(&q->threads[i], NULL, worker_main, q) != 0) {
			log_error("workq: pthread_create failed");
			workq_destroy(q);
			return ERR_IO;
		}
		q->nthreads++;
	}
	*out = q;
	return 0;
}

/* Queues job unless the queue is full or stopping. Holds q->lock. */
static int
enqueue_locked(struct workq *q, struct workq_job *job)
{
	if (q->stopping || q->pending >= q->max_pending)
		return ERR_BUSY;
	if (q->tail)
		q->tail->next = job;
	else
		q->head = job;
	q->tail = job;
	q->pending++;
	pthread_cond_signal(&q->have_work);
	return 0;
}

int
workq_run(struct workq *q, workq_fn *fn, void *arg)
{
	struct workq_job job = { .fn = fn, .arg = arg };
	int ret;

	pthread_mutex_lock(&q->lock);
	ret = enqueue_locked(q, &job);
	while (ret == 0 && !job.done)
		pthread_cond_wait(&q->job_done, &q->lock);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

int
workq_submit(struct workq *q, workq_fn *fn, void *arg)
{
	struct workq_job *job = calloc(1, sizeof(*job));
	int ret;

	if (!job)
		return ERR_NOMEM;
	job->fn = fn;
	job->arg = arg;
	job->detached = true;
	pthread_mutex_lock(&q->lock);
	ret = enqueue_locked(q, job);
	pthread_mutex_unlock(&q->lock);
	if (ret < 0)
		free(job);
	return ret;
}

void
workq_destroy(struct workq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_broadcast(&q->have_work);
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	pthread_cond_destroy(&q->have_work);
	pthread_cond_destroy(&q->job_done);
	pthread_mutex_destroy(&q->lock);
	free(q->threads);
	free(q);
}
