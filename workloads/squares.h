/* squares.h: the CPU-bound task of the cpu-* workloads and their shared driver.
 *
 * A task of size n computes the squares of 0..n-1 (Python's [i**2 for i in
 * range(n)]) into a per-worker buffer, SQUARE_UNIT squares at a time, and returns
 * their sum mod 2^64 as its checksum, checked against the closed form. Between
 * units a workload may run a hook: gil-threads checks its lock's drop request there.
 */
#ifndef WL_SQUARES_H
#define WL_SQUARES_H

#include <stdint.h>

#include "harness.h"
#include "pool.h"

#define SQUARE_UNIT 4096	/* squares per square_range() call: a few microseconds */
#define SQUARE_MAX_N (1ULL << 32) /* so that every square fits in 64 bits */

/* Writes (start+j)^2 into buf[j] for j < count; returns their sum. Never inlined,
 * so profiles show it by name. */
uint64_t square_range(uint64_t *buf, uint64_t start, uint64_t count);

/* Optional hooks around the compute, called in the worker. */
struct compute_hooks {
	void (*task_begin)(void);
	void (*between_units)(void);
	void (*task_end)(void);
	void (*report)(void);	/* after the pool, before the summary; not with -q */
};

struct cpu_workload {
	const char *name;
	const char *describe;		/* one line */
	const char *description;	/* --help paragraph(s) */
	enum pool_kind pool;
	int default_workers;		/* 0: online CPUs */
	int default_tasks;
	uint64_t default_size;
	const struct wl_option *extra_options;	/* NULL or NULL-name terminated */
	struct compute_hooks hooks;
};

/* The whole program for a cpu-* workload: parse, run the pool, report. Returns the
 * exit status. */
int cpu_main(const struct cpu_workload *w, int argc, char **argv);

#endif
