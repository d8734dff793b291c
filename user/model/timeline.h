/* user/model/timeline.h: the --timeline records as the two pictures the
 * renderers draw: each core's track (which task ran when) and each traced
 * thread's states over time (running, runnable waiting for a core, blocked on
 * a lock, other blocking). A pure function of the snapshot's records. Times
 * are CLOCK_BOOTTIME ns, as the records carry them. */
#ifndef POOLSCOPE_TIMELINE_H
#define POOLSCOPE_TIMELINE_H
#include <stddef.h>
#include <stdint.h>
#include "model/model.h"

enum tl_state {
	TL_RUNNING,           /* on a CPU */
	TL_RUNNABLE,          /* woken or preempted, waiting for a core */
	TL_LOCK,              /* blocked in a futex wait */
	TL_BLOCKED,           /* blocked otherwise (IO, sleep, a child) */
	TL_STATES
};

const char *tl_state_name(enum tl_state s);

/* [start, end): on a core, task tid (0: idle) ran; on a thread, its state. */
struct tl_span {
	uint64_t start, end;
	uint32_t tid, tgid;   /* core spans: the task; thread spans: the CPU in tid */
	uint64_t uaddr;       /* TL_LOCK: the futex address */
	uint8_t state;        /* thread spans: enum tl_state */
};

struct tl_core {
	struct tl_span *spans;
	size_t n;
	uint64_t records, lost;
};

struct tl_thread {
	uint32_t tid, tgid;
	char comm[PS_COMM_LEN];
	struct tl_span *spans;
	size_t n;
};

/* A task seen on a core track, for names (untraced ones included). */
struct tl_task {
	uint32_t tid, tgid;
	char comm[PS_COMM_LEN];
};

struct timeline {
	uint64_t t0, t1;              /* the first and last record */
	int nr_cpus;
	struct tl_core *cores;        /* nr_cpus */
	struct tl_thread *threads;    /* the traced threads with records */
	size_t nthreads;
	struct tl_task *tasks;        /* every task on a core track */
	size_t ntasks;
	uint64_t records, lost, over; /* kept; lost in the kernel; beyond poolscope's cap */
};

/* Build from m's snapshot (its tl records); 0, or -ENODATA without records. */
int timeline_build(const struct model *m, struct timeline *tl);
void timeline_free(struct timeline *tl);
/* Busy ns of cpu (any task but idle) within the records' span. */
uint64_t timeline_cpu_busy(const struct timeline *tl, int cpu);
/* The records sorted by time (the snapshot's are per CPU), malloc'ed. */
struct ps_tl_rec *timeline_sorted(const struct ps_snapshot *s);

#endif
