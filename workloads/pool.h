/* pool.h: the two worker pools the workloads run their tasks on.
 *
 * Both take the same job description: N tasks identified by index, a per-worker
 * setup, a function that runs one task in a worker, and a callback that sees each
 * result in the caller's thread in completion order (as concurrent.futures'
 * as_completed does). The thread pool hands tasks out through a queue guarded by a
 * mutex and condition variables; the process pool forks workers that pull task
 * indices from one shared pipe and send results back through another.
 */
#ifndef WL_POOL_H
#define WL_POOL_H

#include <stdint.h>

struct task_result {
	int32_t task;		/* index of the task in the job */
	int32_t ok;		/* 1: completed and correct; 0: failed (see err) */
	int32_t worker;		/* TID (thread pool) or PID (process pool) that ran it */
	int32_t code;		/* workload status code (HTTP status), 0 if none */
	uint64_t value;		/* workload result (checksum, bytes received) */
	double secs;		/* time the task ran, set by the pool */
	char err[160];		/* why it failed; empty when ok */
};

struct pool_job {
	int ntasks;
	void *ctx;
	/* Optional: set up a worker, in the worker (thread, or child after fork).
	 * Returns 0 or a negative errno; a worker that fails to start takes no task. */
	int (*worker_init)(void *ctx, void **wstate);
	void (*worker_fini)(void *ctx, void *wstate);
	/* Runs task res->task in a worker and fills ok/code/value/err. */
	void (*run_task)(void *ctx, void *wstate, struct task_result *res);
	/* Sees every finished or failed task once, in the pool's caller. */
	void (*task_done)(void *ctx, const struct task_result *res);
};

struct pool_outcome {
	int failed;		/* tasks reported with ok == 0 */
	int workers_died;	/* process pool: workers that exited abnormally */
};

enum pool_kind { POOL_THREADS, POOL_PROCS };

/* Both return 0 once every task was reported to task_done, or a negative errno
 * when no worker could be started at all. */
int threadpool_run(const struct pool_job *job, int nworkers, struct pool_outcome *out);
int procpool_run(const struct pool_job *job, int nworkers, struct pool_outcome *out);

/* Runs the job on a pool of the given kind. If no worker can be started, says so
 * and counts every task as failed. */
void pool_run(enum pool_kind kind, const struct pool_job *job, int nworkers,
	      struct pool_outcome *out);

/* The workload's exit status for an outcome: 3 if a worker died, else 1 if a task
 * failed, else 0. */
int pool_exit_status(const struct pool_outcome *out);

/* "thread" or "process", for messages. */
static inline const char *pool_kind_name(enum pool_kind kind)
{
	return kind == POOL_PROCS ? "process" : "thread";
}

static inline const char *pool_workers_noun(enum pool_kind kind)
{
	return kind == POOL_PROCS ? "worker processes" : "worker threads";
}

/* Shared by both pools: run one task in a worker, timing it (pool.c). */
void pool_run_task(const struct pool_job *job, void *wstate, int task, int worker,
		   struct task_result *res);
/* Fills a failed result for a task no worker finished. */
void pool_fail_task(struct task_result *res, int task, int worker, const char *why);

#endif
