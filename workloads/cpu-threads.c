/* cpu-threads: CPU-bound squares on a thread pool.
 *
 * The same tasks as cpu-procs on a pthread pool of the same size, with the task
 * queue guarded by a mutex and condition variables. C threads have no interpreter
 * lock, so this runs as parallel as the process pool: the lesson is that the
 * threads are not the problem, a global lock is (compare gil-threads).
 */
#include "squares.h"

static const struct cpu_workload cpu_threads = {
	.name = "cpu-threads",
	.describe = "CPU-bound squares on a pthread pool (mutex+condvar): parallel",
	.description =
		"Runs a pool of worker threads (one per online CPU by default) over the same "
		"CPU-bound tasks as cpu-procs: for each size n, the squares of 0..n-1 are computed "
		"into a buffer and their sum returned as a checksum, verified against the closed "
		"form.\n\n"
		"The main thread submits tasks one at a time into a queue guarded by a mutex; idle "
		"workers sleep on a condition variable until a task arrives and post results back "
		"under the same mutex. Nothing else is shared, so in C the threads compute in "
		"parallel and parallelism approaches the worker count (up to the number of cores). "
		"Compare gil-threads, the same pool behind one global lock.",
	.pool = POOL_THREADS,
	.default_tasks = 6,
	.default_size = 600000000,
};

int main(int argc, char **argv)
{
	return cpu_main(&cpu_threads, argc, argv);
}
