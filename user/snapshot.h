/* user/snapshot.h: what a trace gathered, as plain C data. The tracer fills
 * it from the BPF maps; the model and the renderers read only this, so unit
 * tests can build one by hand without root or BPF. */
#ifndef POOLSCOPE_SNAPSHOT_H
#define POOLSCOPE_SNAPSHOT_H
#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>
#include "poolscope.h"

struct ps_snapshot {
	uint64_t start_ns, end_ns;     /* trace window, CLOCK_MONOTONIC */
	int nr_cpus;
	bool all;                      /* -a: every task on the machine */
	const char *attach_mode;       /* "tp_btf" or "raw_tp" */

	struct ps_thread *threads;     /* nthreads, in-progress spans closed at end_ns */
	uint32_t nthreads;
	uint64_t *thread_cpu_ns;       /* [thread * nr_cpus + cpu] */

	struct ps_cpu *cpus;           /* nr_cpus, in-progress spans closed at end_ns */
	struct ps_cpu_migr *migr;      /* nr_cpus */
	struct ps_drops drops;
	uint64_t events;               /* tracepoint hits handled */

	/* Per-CPU busy time sampled at slice boundaries: slice k covers
	 * [slice_end_ns[k-1] or start_ns, slice_end_ns[k]). */
	uint32_t nslices;
	uint64_t slice_ns;             /* nominal slice length */
	uint64_t *slice_end_ns;        /* nslices */
	uint64_t *slice_busy_ns;       /* [k * nr_cpus + cpu] */
	uint64_t *slice_traced_ns;     /* [k * nr_cpus + cpu] */
};

void snapshot_free(struct ps_snapshot *s);

#endif
