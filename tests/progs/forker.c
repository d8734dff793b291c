/* tests/progs/forker.c: a process pool in its simplest form: fork N children
 * that each burn CPU for a fixed time, wait for all. Prints each child's pid.
 * Usage: forker [CHILDREN] [SECONDS]   (defaults 3, 0.6) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;
	double secs = argc > 2 ? atof(argv[2]) : 0.6;

	if (n < 1 || n > 256 || secs <= 0) {
		fprintf(stderr, "usage: forker [CHILDREN 1..256] [SECONDS]\n");
		return 2;
	}
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			struct timespec a, b;

			clock_gettime(CLOCK_MONOTONIC, &a);
			do {
				for (int k = 0; k < 100000; k++)
					sink++;
				clock_gettime(CLOCK_MONOTONIC, &b);
			} while (b.tv_sec - a.tv_sec + (b.tv_nsec - a.tv_nsec) / 1e9 < secs);
			_exit(0);
		}
		printf("child %d\n", pid);
	}
	fflush(stdout);
	while (wait(NULL) > 0)
		;
	return 0;
}
