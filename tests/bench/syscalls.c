// SPDX-License-Identifier: GPL-2.0
/*
 * syscalls: a system-call-heavy load with no futex at all: N getppid()
 * calls in a loop (the cheapest system call there is), the load where a
 * tracer that enables any syscall tracepoint costs most: while one is on,
 * every system call of every task takes the kernel's slow path.
 *
 *   syscalls [-n CALLS]     (default 3000000)
 *
 * Prints "Total time: SECONDS [sec]" (the bench parses it like perf bench's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = 3000000;
	struct timespec a, b;

	for (int i = 1; i + 1 < argc; i++)
		if (argv[i][0] == '-' && argv[i][1] == 'n')
			n = atol(argv[i + 1]);
	if (n < 1) {
		fprintf(stderr, "usage: syscalls [-n CALLS]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);   /* not the libc wrapper: no caching, a real call */
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("Total time: %.6f [sec]\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
