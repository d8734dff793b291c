/* tests/progs/nsids.c: prints the ids the kernel gives its own threads in
 * its PID namespace, "ids: pid=P tid=T" for the main thread and for a second
 * thread (getpid(), gettid()), each after some work so that both are seen
 * running by a tracer. Run inside `unshare --pid --fork`, the truth for the
 * namespace ids a tracer reports. */
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static void spin(void)
{
	volatile unsigned long x = 0;

	for (unsigned long i = 0; i < 20000000ul; i++)
		x += i;
}

static void *worker(void *arg)
{
	(void)arg;
	spin();
	printf("ids: pid=%d tid=%ld\n", getpid(), (long)syscall(SYS_gettid));
	fflush(stdout);
	return NULL;
}

int main(void)
{
	pthread_t t;

	spin();
	printf("ids: pid=%d tid=%ld\n", getpid(), (long)syscall(SYS_gettid));
	fflush(stdout);
	if (pthread_create(&t, NULL, worker, NULL))
		return 1;
	pthread_join(t, NULL);
	return 0;
}
