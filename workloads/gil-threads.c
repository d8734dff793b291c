/* gil-threads: CPU-bound squares on a thread pool behind one interpreter lock.
 *
 * The pool and tasks of cpu-threads, but every worker must hold one global lock
 * while it computes, built the way CPython builds its GIL (Python/ceval_gil.c):
 * a mutex, a condition variable and a `locked` flag. A thread that wants the lock
 * waits on the condition with a timeout of the switch interval; when it times out
 * and nobody took the lock meanwhile, it sets a drop request, which the holder
 * checks between small units of work and honours by releasing the lock and waiting
 * until another thread has taken it (FORCE_SWITCHING). Only one thread computes at
 * a time, whatever the number of cores: parallelism stays near 1, and the traced
 * threads spend their waiting time in futex waits under gil_acquire().
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "squares.h"

struct gil {
	pthread_mutex_t mutex;		/* guards everything but drop_request */
	pthread_cond_t cond;		/* signalled when the lock is released */
	int locked;
	pid_t last_holder;		/* TID */
	unsigned long switch_number;	/* times the lock changed hands */
	atomic_int drop_request;	/* a waiter timed out: holder, please release */
	pthread_mutex_t switch_mutex;
	pthread_cond_t switch_cond;	/* signalled when a thread takes the lock */
	unsigned long forced_drops;	/* releases while a drop was requested */
	unsigned long acquisitions;
};

static struct gil gil = {
	.mutex = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.switch_mutex = PTHREAD_MUTEX_INITIALIZER,
	.switch_cond = PTHREAD_COND_INITIALIZER,
};

static double switch_interval_ms = 5.0;	/* sys.setswitchinterval(0.005) */

static void deadline_after(struct timespec *ts, double ms)
{
	long long ns = (long long)(ms * 1e6);

	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ns / 1000000000LL;
	ts->tv_nsec += ns % 1000000000LL;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* take_gil() */
__attribute__((noinline)) void gil_acquire(void)
{
	pid_t self = gettid();

	pthread_mutex_lock(&gil.mutex);
	while (gil.locked) {
		unsigned long saved_switch = gil.switch_number;
		struct timespec deadline;
		int rc;

		deadline_after(&deadline, switch_interval_ms);
		rc = pthread_cond_clockwait(&gil.cond, &gil.mutex, CLOCK_MONOTONIC, &deadline);
		/* Timed out and the lock did not change hands meanwhile: ask for it. */
		if (rc == ETIMEDOUT && gil.locked && gil.switch_number == saved_switch)
			atomic_store_explicit(&gil.drop_request, 1, memory_order_relaxed);
	}
	/* switch_mutex is held while last_holder changes: see gil_release(). */
	pthread_mutex_lock(&gil.switch_mutex);
	gil.locked = 1;
	gil.acquisitions++;
	if (gil.last_holder != self) {
		gil.last_holder = self;
		gil.switch_number++;
	}
	pthread_cond_signal(&gil.switch_cond);
	pthread_mutex_unlock(&gil.switch_mutex);
	/* A request aimed at the previous holder is satisfied now. */
	atomic_store_explicit(&gil.drop_request, 0, memory_order_relaxed);
	pthread_mutex_unlock(&gil.mutex);
}

/* drop_gil(): after a requested drop, wait until another thread has the lock, so
 * the releasing thread cannot take it straight back (FORCE_SWITCHING). */
__attribute__((noinline)) void gil_release(void)
{
	pid_t self = gettid();

	int requested;

	pthread_mutex_lock(&gil.mutex);
	gil.locked = 0;
	requested = atomic_load_explicit(&gil.drop_request, memory_order_relaxed);
	gil.forced_drops += requested;
	pthread_cond_signal(&gil.cond);
	pthread_mutex_unlock(&gil.mutex);

	if (requested) {
		pthread_mutex_lock(&gil.switch_mutex);
		/* One wait, as CPython: the requester is already waiting for the lock. */
		if (gil.last_holder == self)
			pthread_cond_wait(&gil.switch_cond, &gil.switch_mutex);
		pthread_mutex_unlock(&gil.switch_mutex);
	}
}

/* The eval-breaker check the holder runs between units of work. */
__attribute__((noinline)) int gil_drop_request(void)
{
	return atomic_load_explicit(&gil.drop_request, memory_order_relaxed);
}

static void gil_check_interval(void)
{
	if (gil_drop_request()) {
		gil_release();
		gil_acquire();
	}
}

static void gil_report(void)
{
	printf("gil: switch interval %g ms, %lu acquisitions, %lu hand-offs between threads, "
	       "%lu releases on a drop request\n",
	       switch_interval_ms, gil.acquisitions, gil.switch_number, gil.forced_drops);
}

static const struct wl_option gil_options[] = {
	{ "switch-interval", 'i', WL_OPT_DOUBLE, "MS", "switch interval", 0.05, 10000,
	  &switch_interval_ms,
	  "How long a thread waits for the lock before asking the holder to drop it, in "
	  "milliseconds (Python's sys.setswitchinterval, in ms).", NULL },
	{ 0 },
};

static const struct cpu_workload gil_threads = {
	.name = "gil-threads",
	.describe = "CPU-bound squares, threads behind a GIL-style lock: serialized",
	.description =
		"Runs the thread pool and tasks of cpu-threads, but every worker must hold one "
		"global interpreter lock while it computes, built as CPython builds its GIL: a "
		"mutex, a condition variable and a locked flag (all real futexes).\n\n"
		"A thread that wants the lock waits on the condition variable with a timeout of the "
		"switch interval. When the wait times out and the lock has not changed hands, it "
		"sets a drop request. The holder checks the request every 4096 squares and honours "
		"it by releasing the lock, signalling, and waiting until another thread took it. "
		"So the threads take turns every switch interval and only one computes at a time: "
		"parallelism stays near 1.0 however many cores there are.\n\n"
		"Stack frames to look for: gil_acquire, gil_release, gil_drop_request (waiting and "
		"handing over) and square_range (computing). After the run a line reports how "
		"often the lock changed hands.",
	.pool = POOL_THREADS,
	.default_tasks = 6,
	.default_size = 600000000,
	.extra_options = gil_options,
	.hooks = {
		.task_begin = gil_acquire,
		.between_units = gil_check_interval,
		.task_end = gil_release,
		.report = gil_report,
	},
};

int main(int argc, char **argv)
{
	return cpu_main(&gil_threads, argc, argv);
}
