/* pool.c: the parts of running a task that the thread and process pools share. */
#include "pool.h"

#include <stdio.h>
#include <string.h>

#include "harness.h"

void pool_run_task(const struct pool_job *job, void *wstate, int task, int worker,
		   struct task_result *res)
{
	double t0;

	memset(res, 0, sizeof(*res));
	res->task = task;
	res->worker = worker;
	t0 = wl_now();
	job->run_task(job->ctx, wstate, res);
	res->secs = wl_now() - t0;
}

void pool_fail_task(struct task_result *res, int task, int worker, const char *why)
{
	memset(res, 0, sizeof(*res));
	res->task = task;
	res->worker = worker;
	snprintf(res->err, sizeof(res->err), "%s", why);
}

void pool_run(enum pool_kind kind, const struct pool_job *job, int nworkers,
	      struct pool_outcome *out)
{
	int err = kind == POOL_PROCS ? procpool_run(job, nworkers, out) :
				       threadpool_run(job, nworkers, out);

	if (err < 0) {
		wl_error("cannot run the %s pool: %s", pool_kind_name(kind), strerror(-err));
		out->failed = job->ntasks;
	}
}

int pool_exit_status(const struct pool_outcome *out)
{
	return out->workers_died ? WL_EXIT_WORKER_DIED :
	       out->failed ? WL_EXIT_TASKS_FAILED : WL_EXIT_OK;
}
