/* squares.c: the squares task and the driver shared by cpu-procs, cpu-threads,
 * gil-threads and oversubscribed (see squares.h). Each of those programs is only
 * its description and a struct cpu_workload; everything else lives here once. */
#include "squares.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct cpu_run {
	const struct cpu_workload *w;
	const uint64_t *sizes;
	int ntasks;
	bool quiet;
};

__attribute__((noinline)) uint64_t square_range(uint64_t *buf, uint64_t start, uint64_t count)
{
	uint64_t sum = 0;

	for (uint64_t j = 0; j < count; j++) {
		uint64_t x = start + j;

		buf[j] = x * x;
		sum += buf[j];
	}
	return sum;
}

/* Sum of i^2 for i < n, mod 2^64: (n-1) n (2n-1) / 6, exact in 128 bits. */
static uint64_t expected_sum(uint64_t n)
{
	unsigned __int128 m = n;

	if (n == 0)
		return 0;
	return (uint64_t)((m - 1) * m * (2 * m - 1) / 6);
}

__attribute__((noinline)) static uint64_t square_task(uint64_t *buf, uint64_t n,
						      const struct compute_hooks *hooks)
{
	uint64_t sum = 0;

	for (uint64_t start = 0; start < n; start += SQUARE_UNIT) {
		uint64_t count = n - start < SQUARE_UNIT ? n - start : SQUARE_UNIT;

		sum += square_range(buf, start, count);
		if (hooks->between_units)
			hooks->between_units();
	}
	return sum;
}

static int squares_worker_init(void *ctx, void **wstate)
{
	(void)ctx;
	*wstate = malloc(SQUARE_UNIT * sizeof(uint64_t));
	return *wstate ? 0 : -ENOMEM;
}

static void squares_worker_fini(void *ctx, void *wstate)
{
	(void)ctx;
	free(wstate);
}

static void squares_run_task(void *ctx, void *wstate, struct task_result *res)
{
	const struct cpu_run *run = ctx;
	const struct compute_hooks *hooks = &run->w->hooks;
	uint64_t n = run->sizes[res->task];
	uint64_t want = expected_sum(n);

	if (hooks->task_begin)
		hooks->task_begin();
	res->value = square_task(wstate, n, hooks);
	if (hooks->task_end)
		hooks->task_end();
	res->ok = res->value == want;
	if (!res->ok)
		snprintf(res->err, sizeof(res->err), "checksum %016llx, expected %016llx",
			 (unsigned long long)res->value, (unsigned long long)want);
}

static void squares_task_done(void *ctx, const struct task_result *res)
{
	const struct cpu_run *run = ctx;

	if (!res->ok)
		wl_error("task %d/%d (n=%llu) failed: %s", res->task + 1, run->ntasks,
			 (unsigned long long)run->sizes[res->task], res->err);
	else if (!run->quiet)
		printf("task %d/%d n=%llu checksum=%016llx %.3f s %s %d\n", res->task + 1, run->ntasks,
		       (unsigned long long)run->sizes[res->task], (unsigned long long)res->value,
		       res->secs, run->w->pool == POOL_PROCS ? "pid" : "tid", res->worker);
}

int cpu_main(const struct cpu_workload *w, int argc, char **argv)
{
	long long workers = w->default_workers ? w->default_workers : wl_online_cpus();
	long long ntasks = w->default_tasks;
	uint64_t size = w->default_size;
	struct wl_u64_list sizes = { 0 };
	bool quiet = false;
	char workers_default[64], workers_help[160];
	struct wl_option options[16] = {
		{ "workers", 'w', WL_OPT_INT, "N", "worker count", 1, 4096, &workers, workers_help,
		  w->default_workers ? NULL : workers_default },
		{ "tasks", 't', WL_OPT_INT, "N", "task count", 1, 1000000, &ntasks,
		  "Number of tasks, all of size --size.", NULL },
		{ "size", 's', WL_OPT_SIZE, "N", "task size", 1, (double)SQUARE_MAX_N, &size,
		  "Squares per task: a task computes the squares of 0..N-1. Each worker writes "
		  "them into one reused buffer of 4096 squares (32 KiB), so memory does not grow "
		  "with N; N is capped at 2^32 so that every square fits in 64 bits. About 0.6 ns "
		  "per square on a current x86 core.", NULL },
		{ "sizes", 0, WL_OPT_SIZE_LIST, "N[,N...]", "task size", 1, (double)SQUARE_MAX_N,
		  &sizes, "Explicit list of task sizes, one task each; replaces --tasks and --size.",
		  "none" },
		{ "quiet", 'q', WL_OPT_FLAG, "", "", 0, 0, &quiet,
		  "Print only errors and the summary line, not one line per task.", NULL },
	};
	const struct wl_program prog = { w->name, w->describe, w->description, options };
	struct cpu_run run = { .w = w };
	struct pool_job job = {
		.ctx = &run,
		.worker_init = squares_worker_init,
		.worker_fini = squares_worker_fini,
		.run_task = squares_run_task,
		.task_done = squares_task_done,
	};
	struct pool_outcome outcome;
	uint64_t *uniform = NULL;
	int n = 5, rc;

	snprintf(workers_default, sizeof(workers_default), "number of online CPUs (%d here)",
		 wl_online_cpus());
	snprintf(workers_help, sizeof(workers_help), "Number of %s in the pool.",
		 pool_workers_noun(w->pool));
	for (const struct wl_option *o = w->extra_options; o && o->name && n < 15; o++)
		options[n++] = *o;

	rc = wl_parse_args(&prog, argc, argv);
	if (rc != WL_RUN)
		return rc;

	if (sizes.n) {
		run.sizes = sizes.v;
		run.ntasks = sizes.n;
	} else {
		uniform = malloc(ntasks * sizeof(*uniform));
		if (!uniform) {
			wl_error("out of memory for %lld tasks", ntasks);
			return WL_EXIT_TASKS_FAILED;
		}
		for (long long i = 0; i < ntasks; i++)
			uniform[i] = size;
		run.sizes = uniform;
		run.ntasks = ntasks;
	}
	run.quiet = quiet;
	job.ntasks = run.ntasks;

	pool_run(w->pool, &job, workers, &outcome);
	if (w->hooks.report && !quiet)
		w->hooks.report();
	wl_summary(run.ntasks, outcome.failed);
	free(uniform);
	free(sizes.v);
	return pool_exit_status(&outcome);
}
