/* oversubscribed: many more CPU-bound threads than cores.
 *
 * 16 compute threads on a 2-core box: the work is the same as cpu-threads, the
 * total CPU time too, but every thread spends most of its life runnable and waiting
 * for a core. Traced, it shows long run-queue latencies, involuntary context
 * switches and migrations, and no speedup over one thread per core.
 */
#include "squares.h"

static const struct cpu_workload oversubscribed = {
	.name = "oversubscribed",
	.describe = "16 CPU-bound threads fighting over the cores: run-queue waits",
	.description =
		"Runs 16 worker threads (by default) over 16 CPU-bound squares tasks, one task per "
		"thread, whatever the number of cores. The total work equals cpu-threads' default "
		"run; on a machine with fewer cores than threads it cannot go faster than one "
		"thread per core, and each thread waits in the run queue most of the time: "
		"the scheduler preempts them at every time slice (involuntary context switches) "
		"and moves them between cores (migrations).",
	.pool = POOL_THREADS,
	.default_workers = 16,
	.default_tasks = 16,
	.default_size = 225000000,
};

int main(int argc, char **argv)
{
	return cpu_main(&oversubscribed, argc, argv);
}
