/* user/model.h: turn a snapshot into the summaries the reports show: per
 * core, per thread, per process and whole-trace totals. Pure functions of the
 * snapshot: no BPF, no /proc, so unit tests feed it hand-made data. */
#ifndef POOLSCOPE_MODEL_H
#define POOLSCOPE_MODEL_H
#include "model/snapshot.h"

#define MODEL_TOP_THREADS 3

struct core_summary {
	int cpu;
	uint64_t busy_ns, traced_ns, idle_ns;
	double busy_pct, traced_pct;        /* of the trace window */
	uint64_t switches, vol, invol;
	uint64_t runq_count, runq_p50_ns, runq_p99_ns, runq_max_ns;
	uint64_t migr_in, migr_out;
	struct { int32_t thread; uint64_t ns; } top[MODEL_TOP_THREADS]; /* thread -1: none */
};

struct thread_summary {
	const struct ps_thread *t;
	uint64_t offcpu_ns;                 /* blocked, not runnable */
	uint64_t runq_p50_ns, runq_p99_ns;
	uint64_t lifetime_ns;               /* within the trace window */
	uint64_t lock_wait_ns;              /* futex waits on contended locks */
	uint64_t other_wait_ns;             /* other futex waits (results, join, queue) */
};

struct process_summary {
	uint32_t tgid;
	char comm[PS_COMM_LEN];             /* of its main thread when seen */
	uint32_t nthreads;
	uint64_t oncpu_ns, offcpu_ns, runq_wait_ns, vol, invol, migrations;
};

/* Waiting on one user-space lock (futex), merged by process and waiter
 * stack, so the two futex words of one condition variable count as one. */
#define MODEL_MAX_ADDRS 4
/* A lock is contended when, while its waiters waited, the rest of the
 * process was on CPU at least this share of the time: the resource was busy
 * (an interpreter lock's holder computing). Below it the waiters were idle:
 * the waited-for side was itself blocked or idle (a pool's empty queue). */
#define LOCK_BUSY_CONTENDED 0.5

/* What waiting on a lock was:
 * CONTENDED  the waited-for side was busy and the waiters fight for it: two
 *            or more threads waited on it, or it is a mutex (lock-wait frame);
 * AWAITING   one thread waited on a condition while the rest of the
 *            process worked (a pool's caller waiting for results): not
 *            contention, and not idle;
 * IDLE       the waited-for side was itself idle or blocked elsewhere (a
 *            worker on an empty queue). */
enum lock_class { LOCK_CONTENDED, LOCK_AWAITING, LOCK_IDLE };

struct lock_summary {
	uint32_t tgid;
	char comm[PS_COMM_LEN];      /* the process */
	char where[512];             /* waiters' (most waited) user stack, folded root first */
	uint64_t where_ns;           /* wait time of that stack */
	const char *caller;          /* the program's function that waited */
	const char *waker;           /* the program's function that woke them, or NULL */
	uint64_t addrs[MODEL_MAX_ADDRS];
	uint32_t naddrs, nwaiters;
	uint64_t waits, wait_ns, max_ns, busy_ns, proc_busy_ns;
	uint64_t timeouts, interrupted, eagain, woken_by_traced;
	uint64_t waiters_time_ns;    /* lifetime of the threads that waited */
	double busy_frac;            /* busy_ns / wait_ns: the waited-for side busy */
	double proc_busy_frac;       /* proc_busy_ns / wait_ns: the rest of the process busy */
	double share_waiters;        /* wait_ns / waiters_time_ns */
	double share_all;            /* wait_ns / every traced thread's time */
	bool contended;              /* cls == LOCK_CONTENDED */
	bool mutex;                  /* a waiter stack has a mutex lock-wait frame */
	enum lock_class cls;
	uint64_t hist[PS_HIST_SLOTS];
};

const char *lock_class_name(enum lock_class c);

/* Off-CPU time or on-CPU samples of one folded stack. */
struct stack_summary {
	char *folded;
	uint64_t value;              /* ns off-CPU, or samples */
	uint64_t count;
};

struct model {
	const struct ps_snapshot *snap;
	uint64_t wall_ns;
	int nr_cpus;
	struct core_summary *cores;          /* nr_cpus */
	struct thread_summary *threads;      /* nthreads, sorted by on-CPU time desc */
	uint32_t nthreads;
	struct process_summary *procs;       /* sorted by on-CPU time desc */
	uint32_t nprocs;
	/* totals over traced threads */
	uint64_t oncpu_ns, offcpu_ns, runq_wait_ns, runq_count;
	uint64_t vol, invol, migrations, switches;
	double parallelism;                  /* traced on-CPU time / wall */
	double busy_pct;                     /* all cores, any task */
	uint64_t runq_hist[PS_HIST_SLOTS];   /* all traced threads */
	uint64_t runq_p50_ns, runq_p90_ns, runq_p99_ns, runq_max_ns;
	uint64_t dropped;                    /* sum of all drop counters */
	uint64_t thread_time_ns;             /* every traced thread's lifetime in the window */
	/* --locks: sorted by wait time; --stacks: sorted by value */
	struct lock_summary *locks;
	uint32_t nlocks;
	struct stack_summary *offcpu, *oncpu;
	uint32_t n_offcpu, n_oncpu;
	uint64_t offcpu_total_ns, oncpu_samples;
};

/* Lock and stack summaries (model_stacks.c), called by model_build. */
void model_build_locks(struct model *m);
void model_build_stacks(struct model *m);

/* Build the model of snap (which must outlive it). 0 or -ENOMEM. */
int model_build(const struct ps_snapshot *snap, struct model *m);
void model_free(struct model *m);

#endif
