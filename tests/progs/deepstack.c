/* tests/progs/deepstack.c: one thread that blocks again and again in poll()
 * called from a frame-pointer-less library with 1600-byte frames
 * (tests/progs/lib/deepstack.c), from the function deep_caller. Its off-CPU
 * stacks show whether poolscope's stack recovery reaches past such frames
 * to the program's own function.
 *
 * Usage: deepstack [WAITS] [MS]   (defaults 20 waits of 20 ms) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

int deep_wait(int ms);

static int waits = 20, ms = 20;

__attribute__((noinline)) static void deep_caller(void)
{
	for (int i = 0; i < waits; i++)
		deep_wait(ms);
	__asm__ volatile("" : : : "memory");
}

static void *worker(void *arg)
{
	(void)arg;
	deep_caller();
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	if (argc > 1)
		waits = atoi(argv[1]);
	if (argc > 2)
		ms = atoi(argv[2]);
	if (waits < 0 || ms < 0) {
		fprintf(stderr, "usage: deepstack [WAITS] [MS]\n");
		return 2;
	}
	if (pthread_create(&t, NULL, worker, NULL)) {
		perror("pthread_create");
		return 1;
	}
	pthread_join(t, NULL);
	return 0;
}
