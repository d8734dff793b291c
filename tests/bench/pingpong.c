// SPDX-License-Identifier: GPL-2.0
/*
 * pingpong: a pipe ping-pong between two processes, like `perf bench sched
 * pipe`, with a fixed amount of computation per message so the context-switch
 * rate can be set. Pinned to one CPU (taskset), every message is two context
 * switches and one wakeup; `-s 0` is perf bench's load, and the benchmark
 * picks the spin count that gives the rate a target was set for.
 *
 *   pingpong [-l LOOPS] [-s SPIN]
 *
 * Prints "Total time: SECONDS [sec]" (the parse of perf bench's output works
 * for both) and "switches_per_s=N" (2 per message; right when pinned).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t spin(uint64_t n, uint64_t x)
{
	for (uint64_t i = 0; i < n; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		__asm__ volatile("" : "+r"(x)); /* no closed form, no vectorising */
	}
	return x;
}

static void xfer(int rfd, int wfd, long loops, uint64_t n, int first)
{
	uint64_t x = (uint64_t)getpid();
	char c = 0;

	for (long i = 0; i < loops; i++) {
		if (!first && read(rfd, &c, 1) != 1)
			_exit(3);
		x = spin(n, x);
		if (write(wfd, &c, 1) != 1)
			_exit(3);
		if (first && read(rfd, &c, 1) != 1)
			_exit(3);
	}
	if (x == 42) /* keep x alive */
		fputc(' ', stderr);
}

static long num(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0) {
		fprintf(stderr, "pingpong: %s must be a number >= 0, not '%s'\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	long loops = 100000, n = 0;
	int a[2], b[2], opt, st;
	struct timespec t0, t1;
	pid_t pid;

	while ((opt = getopt(argc, argv, "l:s:h")) != -1) {
		switch (opt) {
		case 'l': loops = num(optarg, "-l LOOPS"); break;
		case 's': n = num(optarg, "-s SPIN"); break;
		default:
			fprintf(stderr, "usage: pingpong [-l LOOPS] [-s SPIN]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind != argc || loops < 1) {
		fprintf(stderr, "usage: pingpong [-l LOOPS] [-s SPIN]\n");
		return 2;
	}
	if (pipe(a) || pipe(b)) {
		perror("pingpong: pipe");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("pingpong: fork");
		return 1;
	}
	if (pid == 0) {
		xfer(a[0], b[1], loops, (uint64_t)n, 0);
		_exit(0);
	}
	xfer(b[0], a[1], loops, (uint64_t)n, 1);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "pingpong: the other side failed\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("Total time: %.6f [sec]\nswitches_per_s=%.0f\n", s, 2.0 * (double)loops / s);
	return 0;
}
