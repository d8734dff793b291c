/* tests/integration/verdicts/ring.c: N threads hand a token around, each
 * parked on a condition variable of its own (glibc: a futex word per
 * thread); serial computes holding the token, parallel after passing it on.
 * Usage: ring N SECONDS serial|parallel [ITERATIONS per unit of work] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct slot { pthread_mutex_t mu; pthread_cond_t cv; int has; } __attribute__((aligned(128)));
static struct slot slots[64];
static int n, parallel;
static double end_s;
static volatile uint64_t sink;
static int iters = 2000000;      /* per unit of work: a few ms */

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void work(void)
{
	uint64_t x = sink;

	for (int i = 0; i < iters; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	sink = x;
}

static void give(int to)
{
	pthread_mutex_lock(&slots[to].mu);
	slots[to].has = 1;
	pthread_cond_signal(&slots[to].cv);
	pthread_mutex_unlock(&slots[to].mu);
}

static void *run(void *arg)
{
	int me = (int)(long)arg;

	for (;;) {
		pthread_mutex_lock(&slots[me].mu);
		while (!slots[me].has)
			pthread_cond_wait(&slots[me].cv, &slots[me].mu);
		slots[me].has = 0;
		pthread_mutex_unlock(&slots[me].mu);
		int stop = now() > end_s;
		if (!parallel && !stop)
			work();
		give((me + 1) % n);
		if (stop)
			return NULL;
		if (parallel)
			work();
	}
}

int main(int argc, char **argv)
{
	pthread_t t[64];

	n = atoi(argv[1]);
	end_s = now() + atof(argv[2]);
	parallel = !strcmp(argv[3], "parallel");
	if (argc > 4)
		iters = atoi(argv[4]);
	for (int i = 0; i < n; i++) {
		pthread_mutex_init(&slots[i].mu, NULL);
		pthread_cond_init(&slots[i].cv, NULL);
	}
	slots[0].has = 1;
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, run, (void *)(long)i);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}
