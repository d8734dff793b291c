/* cpu-procs: CPU-bound squares on a process pool.
 *
 * The multiprocessing.Pool lesson: fork one worker process per core and map a
 * CPU-bound task over a list of sizes. Workers pull task indices from one shared
 * pipe as they free up and send a checksum back per task, so N workers keep N
 * cores busy and parallelism approaches N. Traced, each worker is its own process
 * with its own run queue history; there is no lock between them.
 */
#include "squares.h"

static const struct cpu_workload cpu_procs = {
	.name = "cpu-procs",
	.describe = "CPU-bound squares on a process pool (fork, a pipe): parallel",
	.description =
		"Forks a pool of worker processes (one per online CPU by default) and maps a "
		"CPU-bound task over a list of sizes, like Python's multiprocessing.Pool.map: for "
		"each size n the task computes the squares of 0..n-1 into a buffer and returns "
		"their sum as a checksum, verified against the closed form.\n\n"
		"The parent writes task indices into one shared pipe; each idle worker reads the "
		"next one, so tasks go to whichever worker frees up first. Results come back "
		"through a second pipe. A worker that dies (e.g. killed with SIGKILL) is reported "
		"at once with its signal, the task it held counts as failed, the other workers "
		"finish the rest, and the exit status is 3.\n\n"
		"The worker processes can be traced by PID: pgrep -P <pid of cpu-procs>.",
	.pool = POOL_PROCS,
	.default_tasks = 6,
	.default_size = 600000000,
};

int main(int argc, char **argv)
{
	return cpu_main(&cpu_procs, argc, argv);
}
