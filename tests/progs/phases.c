/* tests/progs/phases.c: a test program for `poolscope attach`: its threads
 * sit blocked (so /proc counters read before and after the attach are
 * stable), work on SIGUSR1, then block again; SIGUSR2 makes it exit.
 *
 * Usage: phases [THREADS] [ROUNDS]   (defaults 3, 200)
 * Prints "ready PID" when its threads are parked, "worked" after the work
 * phase. During the work phase it starts one extra thread ("late"), so a
 * trace can show that threads created after the attach are traced too. Each
 * round: ~0.5 ms of CPU, a shared mutex, and every 4th round a 200 us sleep. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int go, done, quit, rounds = 200;
static pthread_mutex_t work_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long sink;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void work(void)
{
	for (int i = 0; i < rounds; i++) {
		double end = now_s() + 0.0005;

		while (now_s() < end)
			sink++;
		pthread_mutex_lock(&work_lock);
		sink++;
		pthread_mutex_unlock(&work_lock);
		if (i % 4 == 0)
			usleep(200);
	}
}

static void *worker(void *arg)
{
	pthread_mutex_lock(&lock);
	while (!go && !arg)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	work();
	pthread_mutex_lock(&lock);
	done++;
	pthread_cond_broadcast(&cond);
	while (!quit)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3, sig;
	pthread_t th[65];
	sigset_t set;

	if (argc > 2)
		rounds = atoi(argv[2]);
	if (n < 1 || n > 64 || rounds < 1) {
		fprintf(stderr, "usage: phases [THREADS 1..64] [ROUNDS]\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	usleep(100000); /* let them park */
	printf("ready %d\n", getpid());
	fflush(stdout);
	for (;;) {
		if (sigwait(&set, &sig))
			return 1;
		if (sig == SIGUSR2)
			break;
		pthread_mutex_lock(&lock);
		go = 1;
		pthread_cond_broadcast(&cond);
		pthread_mutex_unlock(&lock);
		pthread_create(&th[n], NULL, worker, (void *)1); /* the late thread */
		pthread_mutex_lock(&lock);
		while (done < n + 1)
			pthread_cond_wait(&cond, &lock);
		pthread_mutex_unlock(&lock);
		printf("worked\n");
		fflush(stdout);
	}
	pthread_mutex_lock(&lock);
	quit = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i <= n && (go || i < n); i++)
		pthread_join(th[i], NULL);
	return 0;
}
