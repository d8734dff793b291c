/* tests/progs/truth.c: a test workload that prints the kernel's own
 * accounting of each of its threads, read just before the thread exits:
 * voluntary/involuntary context switches from /proc/self/task/TID/status and
 * on-CPU ns, run-queue wait ns and timeslices from .../schedstat. The
 * integration tests compare poolscope's numbers for these threads to it.
 *
 * Only threads created after the trace began (the workers) are comparable:
 * the kernel counts from a thread's creation.
 *
 * Usage: truth [THREADS] [ROUNDS]   (defaults 4, 200)
 * Each round: spin ~0.5 ms of CPU, take a shared mutex around a little work,
 * and every 4th round sleep 200 us, so there are voluntary switches (sleep,
 * mutex), involuntary ones (more threads than cores) and run-queue waits. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long sink;
static int rounds = 200;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void spin(double secs)
{
	double end = now_s() + secs;

	while (now_s() < end)
		sink++;
}

struct counters {
	long tid;
	unsigned long long vol, invol, run, wait, slices;
};

/* The calling thread's counters, read from /proc. Nothing but the thread's
 * exit may follow the read: printing here (a lock, a write) would add
 * switches the kernel counted after the read but poolscope sees. */
static void read_self(struct counters *c)
{
	char path[128], line[256];
	FILE *f;

	c->tid = syscall(SYS_gettid);
	snprintf(path, sizeof(path), "/proc/self/task/%ld/status", c->tid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "voluntary_ctxt_switches: %llu", &c->vol);
		sscanf(line, "nonvoluntary_ctxt_switches: %llu", &c->invol);
	}
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/self/task/%ld/schedstat", c->tid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%llu %llu %llu", &c->run, &c->wait, &c->slices) != 3)
			c->run = c->wait = c->slices = 0;
		fclose(f);
	}
}

static void print_counters(const char *tag, const struct counters *c)
{
	printf("%s tid=%ld vol=%llu invol=%llu run_ns=%llu wait_ns=%llu slices=%llu\n", tag, c->tid,
	       c->vol, c->invol, c->run, c->wait, c->slices);
}

static void *worker(void *arg)
{
	for (int i = 0; i < rounds; i++) {
		spin(0.0005);
		pthread_mutex_lock(&lock);
		spin(0.00005);
		pthread_mutex_unlock(&lock);
		if (i % 4 == 0)
			usleep(200);
	}
	read_self(arg);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 4;
	pthread_t th[64];
	struct counters c[64] = { 0 }, self = { 0 };

	if (argc > 2)
		rounds = atoi(argv[2]);
	if (n < 1 || n > 64 || rounds < 1) {
		fprintf(stderr, "usage: truth [THREADS 1..64] [ROUNDS]\n");
		return 2;
	}
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker, &c[i]);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < n; i++)
		print_counters("truth", &c[i]);
	/* The main thread's kernel counters include its life before tracing
	 * began (fork, exec): printed for reference, not compared. */
	read_self(&self);
	print_counters("main", &self);
	return 0;
}
