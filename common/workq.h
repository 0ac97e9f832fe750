/*
 * workq.h: a small pool of low-priority worker threads for slow work (RSA
 * key generation, PKCS#12 encryption), so that it never stalls the threads
 * that answer other requests.
 *
 * The caller hands a job over and blocks until it is done (workq_run):
 * request threads stay simple, while the number of CPU-heavy jobs running
 * at once is bounded by the pool size and the workers run at a lower
 * scheduling priority. workq_submit hands a job over without waiting (the
 * server runs the requests that may block this way, off its event loop).
 */
#ifndef AMTCERTD_COMMON_WORKQ_H
#define AMTCERTD_COMMON_WORKQ_H

#include <stddef.h>

struct workq;

typedef void workq_fn(void *arg);

/*
 * Starts nthreads workers (>= 1) that each lower their priority by
 * nice_inc (0 = unchanged). At most max_pending jobs wait in the queue.
 * ERR_INVALID, ERR_NOMEM, ERR_IO (thread creation failed).
 */
int workq_create(unsigned nthreads, unsigned max_pending, int nice_inc,
                 struct workq **out);

/*
 * Runs fn(arg) on a worker and returns when it has finished. ERR_BUSY when
 * the queue is full or the pool is shutting down (fn was not run).
 */
int workq_run(struct workq *q, workq_fn *fn, void *arg);

/*
 * Queues fn(arg) and returns at once; fn runs later on a worker and owns
 * arg from then on. ERR_BUSY (queue full or shutting down: fn will not
 * run), ERR_NOMEM.
 */
int workq_submit(struct workq *q, workq_fn *fn, void *arg);

/* Lets running and queued jobs finish, joins the workers, frees q. */
void workq_destroy(struct workq *q);

#endif
