/* tests/integration/verdicts/shmlock.c: N processes share a ticket lock in
 * shared memory (a futex word each process maps at its own address); serial
 * computes holding it, parallel computes first and takes it only to add up.
 * Usage: shmlock N SECONDS serial|parallel [ITERATIONS per unit of work] */
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct ticket { atomic_uint next, serving; uint64_t sum; };
static volatile uint64_t sink;
static int iters = 2000000;      /* per unit of work: a few ms */

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static uint64_t work(uint64_t x)
{
	for (int i = 0; i < iters; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return x;
}

static void lock(struct ticket *t)
{
	unsigned me = atomic_fetch_add(&t->next, 1), s;

	while ((s = atomic_load(&t->serving)) != me)
		syscall(SYS_futex, &t->serving, FUTEX_WAIT, s, NULL, NULL, 0);
}

static void unlock(struct ticket *t)
{
	atomic_fetch_add(&t->serving, 1);
	syscall(SYS_futex, &t->serving, FUTEX_WAKE, 1 << 30, NULL, NULL, 0);
}

int main(int argc, char **argv)
{
	int nproc = atoi(argv[1]);
	double end = now() + atof(argv[2]);
	int parallel = !strcmp(argv[3], "parallel");

	if (argc > 4)
		iters = atoi(argv[4]);
	struct ticket *t = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (t == MAP_FAILED)
		return 1;
	for (int p = 0; p < nproc; p++) {
		if (fork() == 0) {
			uint64_t x = p;

			while (now() < end) {
				if (parallel)
					x = work(x);
				lock(t);
				if (parallel)
					t->sum += x;
				else
					t->sum = work(t->sum);
				unlock(t);
			}
			sink = x;
			_exit(0);
		}
	}
	while (wait(NULL) > 0)
		;
	return 0;
}
