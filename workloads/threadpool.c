/* threadpool.c: a fixed-size pthread pool, the shape of Python's ThreadPoolExecutor.
 *
 * The caller submits task indices one by one into a queue guarded by one mutex;
 * idle workers sleep on task_ready until a task or the end of the queue arrives.
 * Workers post each result and signal result_ready; the caller sleeps on it and
 * hands results to job->task_done in completion order. All waits are real
 * pthread condition variables, i.e. futexes the tracer can see.
 */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define WORKER_STACK_SIZE (1024 * 1024)	/* keeps 4096 workers affordable */

struct threadpool {
	const struct pool_job *job;
	pthread_mutex_t lock;
	pthread_cond_t task_ready;	/* a task was queued, or the queue was closed */
	pthread_cond_t result_ready;	/* a result was posted, or a worker left */
	int *queue;			/* submitted task indices; [head, tail) pending */
	int head, tail;
	bool closed;			/* no more submissions */
	struct task_result *results;	/* by task index */
	int *finished;			/* task indices in completion order */
	int nfinished;
	int live_workers;
};

static void *threadpool_worker(void *arg)
{
	struct threadpool *tp = arg;
	const struct pool_job *job = tp->job;
	void *wstate = NULL;
	int worker = gettid();

	if (job->worker_init && job->worker_init(job->ctx, &wstate) < 0)
		goto leave;
	for (;;) {
		struct task_result res;
		int task;

		pthread_mutex_lock(&tp->lock);
		while (tp->head == tp->tail && !tp->closed)
			pthread_cond_wait(&tp->task_ready, &tp->lock);
		if (tp->head == tp->tail) {
			pthread_mutex_unlock(&tp->lock);
			break;
		}
		task = tp->queue[tp->head++];
		pthread_mutex_unlock(&tp->lock);

		pool_run_task(job, wstate, task, worker, &res);

		pthread_mutex_lock(&tp->lock);
		tp->results[task] = res;
		tp->finished[tp->nfinished++] = task;
		pthread_cond_signal(&tp->result_ready);
		pthread_mutex_unlock(&tp->lock);
	}
	if (job->worker_fini)
		job->worker_fini(job->ctx, wstate);
leave:
	pthread_mutex_lock(&tp->lock);
	tp->live_workers--;
	pthread_cond_signal(&tp->result_ready);
	pthread_mutex_unlock(&tp->lock);
	return NULL;
}

/* Reports results as they are posted until all are in or no worker is left. */
static int collect_results(struct threadpool *tp, char *reported, struct pool_outcome *out)
{
	const struct pool_job *job = tp->job;
	int nreported = 0;

	pthread_mutex_lock(&tp->lock);
	while (nreported < job->ntasks) {
		struct task_result res;

		while (nreported == tp->nfinished && tp->live_workers > 0)
			pthread_cond_wait(&tp->result_ready, &tp->lock);
		if (nreported == tp->nfinished)
			break;	/* every worker is gone */
		res = tp->results[tp->finished[nreported++]];
		pthread_mutex_unlock(&tp->lock);
		reported[res.task] = 1;
		out->failed += !res.ok;
		job->task_done(job->ctx, &res);
		pthread_mutex_lock(&tp->lock);
	}
	pthread_mutex_unlock(&tp->lock);
	return nreported;
}

int threadpool_run(const struct pool_job *job, int nworkers, struct pool_outcome *out)
{
	struct threadpool tp = { .job = job };
	pthread_t *threads = calloc(nworkers, sizeof(*threads));
	char *reported = calloc(job->ntasks, 1);
	pthread_attr_t attr;
	int started = 0, err = 0;

	memset(out, 0, sizeof(*out));
	tp.queue = calloc(job->ntasks, sizeof(*tp.queue));
	tp.results = calloc(job->ntasks, sizeof(*tp.results));
	tp.finished = calloc(job->ntasks, sizeof(*tp.finished));
	if (!threads || !reported || !tp.queue || !tp.results || !tp.finished) {
		err = -ENOMEM;
		goto out_free;
	}
	pthread_mutex_init(&tp.lock, NULL);
	pthread_cond_init(&tp.task_ready, NULL);
	pthread_cond_init(&tp.result_ready, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);

	for (int i = 0; i < nworkers; i++) {
		pthread_mutex_lock(&tp.lock);
		tp.live_workers++;
		pthread_mutex_unlock(&tp.lock);
		err = pthread_create(&threads[started], &attr, threadpool_worker, &tp);
		if (err) {
			wl_error("cannot start worker thread %d of %d: %s", i + 1, nworkers, strerror(err));
			pthread_mutex_lock(&tp.lock);
			tp.live_workers--;
			pthread_mutex_unlock(&tp.lock);
			break;
		}
		started++;
	}
	pthread_attr_destroy(&attr);
	if (!started) {
		err = -err;
		goto out_destroy;
	}
	err = 0;

	/* Submit like executor.submit() in a loop: one task at a time. */
	for (int t = 0; t < job->ntasks; t++) {
		pthread_mutex_lock(&tp.lock);
		tp.queue[tp.tail++] = t;
		pthread_cond_signal(&tp.task_ready);
		pthread_mutex_unlock(&tp.lock);
	}
	pthread_mutex_lock(&tp.lock);
	tp.closed = true;
	pthread_cond_broadcast(&tp.task_ready);
	pthread_mutex_unlock(&tp.lock);

	if (collect_results(&tp, reported, out) < job->ntasks) {
		for (int t = 0; t < job->ntasks; t++) {
			struct task_result res;

			if (reported[t])
				continue;
			pool_fail_task(&res, t, 0, "no worker thread left to run it");
			out->failed++;
			job->task_done(job->ctx, &res);
		}
	}
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
out_destroy:
	pthread_cond_destroy(&tp.result_ready);
	pthread_cond_destroy(&tp.task_ready);
	pthread_mutex_destroy(&tp.lock);
out_free:
	free(tp.finished);
	free(tp.results);
	free(tp.queue);
	free(reported);
	free(threads);
	return err;
}
