/* tests/progs/churn.c: thread churn, the load that runs a tracer out of
 * thread slots. `churn TOTAL AT_ONCE [MAX_SECONDS]` creates TOTAL threads,
 * AT_ONCE alive at a time, each sleeping 50 us once (a voluntary switch)
 * and exiting; joins them all; then prints its own getrusage(RUSAGE_SELF)
 * switch counts, which the kernel sums over every thread the process ever
 * had (exited ones included), and how many threads it created:
 *   churn: threads=N vol=V invol=I seconds=S
 * Stops creating threads after MAX_SECONDS (default 120). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void *worker(void *arg)
{
	(void)arg;
	usleep(50);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long total = argc > 1 ? atol(argv[1]) : 10000;
	int at_once = argc > 2 ? atoi(argv[2]) : 8;
	double max_s = argc > 3 ? atof(argv[3]) : 120, t0 = now_s();
	pthread_t *t = calloc(at_once > 0 ? at_once : 1, sizeof(*t));
	long made = 0;
	struct rusage ru;

	if (total < 1 || at_once < 1 || !t) {
		fprintf(stderr, "usage: churn TOTAL AT_ONCE [MAX_SECONDS]\n");
		return 2;
	}
	while (made < total && now_s() - t0 < max_s) {
		int n = 0;

		for (; n < at_once && made < total; n++, made++)
			if (pthread_create(&t[n], NULL, worker, NULL)) {
				perror("pthread_create");
				return 1;
			}
		for (int i = 0; i < n; i++)
			pthread_join(t[i], NULL);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("churn: threads=%ld vol=%ld invol=%ld seconds=%.2f\n", made, ru.ru_nvcsw, ru.ru_nivcsw,
	       now_s() - t0);
	return 0;
}
