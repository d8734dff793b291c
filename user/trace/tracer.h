/* user/tracer.h: the BPF side's lifecycle: open, size and load the programs,
 * choose the target processes, attach, sample per-CPU busy time at slice
 * boundaries, read everything into a snapshot, detach. The only module that
 * includes the skeleton or calls libbpf. */
#ifndef POOLSCOPE_TRACER_H
#define POOLSCOPE_TRACER_H
#include <stdbool.h>
#include "model/snapshot.h"

struct tracer_opts {
	bool all;             /* trace every task */
	bool force_raw_tp;    /* skip tp_btf (tests the fallback) */
	bool verbose;         /* libbpf's own messages on stderr */
	unsigned max_threads; /* thread slots; 0: PS_DEFAULT_MAX_THREADS */
	unsigned slice_ms;    /* busy-time sampling period; 0: 50 */
	bool locks;           /* futex waits and their wakers */
	bool futex_syscalls;  /* ... from the syscall tracepoints, not the scheduler */
	bool offcpu;          /* off-CPU time by stack */
	bool oncpu;           /* on-CPU stack samples */
	bool no_python;       /* no Python frames for CPython processes' user stacks */
	unsigned sample_hz;   /* on-CPU sampling rate per CPU; 0: 99 */
	bool no_follow_forks; /* do not trace processes the traced ones fork */
	bool tids;            /* trace single threads (tracer_add_tid) */
	bool timeline;        /* --timeline records through the ring buffer */
	unsigned timeline_bytes; /* its size (a power of 2, pages) */
	size_t timeline_max;  /* records kept at most; 0: PS_TIMELINE_MAX_RECORDS */
	int cg_hier;          /* enum ps_cg_hier: the hierarchy of each thread's
			       * cgroup id, and of cg_id */
	uint64_t cg_id;       /* --cgroup: trace the subtree of this cgroup (its
			       * kernfs id), tasks moving in and out; 0: none */
	const char *comm;     /* attach --comm: the processes of this name, and
			       * those that start or exec later; NULL: none */
};

struct tracer;

/* Check privileges and kernel support, open and load. Prints one error line
 * and returns -errno on failure. */
int tracer_open(const struct tracer_opts *opts, struct tracer **out);
/* Trace process tgid (all its threads, and every process it forks later).
 * The ids, here and everywhere, are those of poolscope's PID namespace. */
int tracer_add_tgid(struct tracer *t, int tgid);
/* Trace one thread (opts.tids). */
int tracer_add_tid(struct tracer *t, int tid);
/* Walk the Python frames of process tgid, a CPython whose runtime is
 * described by py (tracer_python_active only). 0 or -errno. */
int tracer_add_python(struct tracer *t, int tgid, const struct ps_py_proc *py);
/* Attach and mark the start of the trace window. */
int tracer_start(struct tracer *t);
/* Record one busy-time sample; call every tracer_tick_ns(). A long trace
 * keeps every tracer_slice_ns() / tracer_tick_ns()-th one: the record of
 * cores over time stays bounded (its slices grow instead). */
void tracer_sample(struct tracer *t);
uint64_t tracer_tick_ns(const struct tracer *t);
uint64_t tracer_slice_ns(const struct tracer *t);
/* The traced processes so far (tgids), for snapshotting their memory maps
 * while they live; returns how many were written (at most max). */
int tracer_processes(struct tracer *t, uint32_t *tgids, int max);
/* Features active after tracer_open (a feature the kernel lacks is turned
 * off there with one warning line). */
bool tracer_locks_active(const struct tracer *t);
/* Python frames are taken with the user stacks (some are, and not
 * opts.no_python). */
bool tracer_python_active(const struct tracer *t);
/* Events handled, threads seen and events dropped so far (cheap: for a
 * progress line). */
struct tracer_counts {
	uint64_t events, dropped;
	uint32_t threads;
};
void tracer_counts(struct tracer *t, struct tracer_counts *c);
/* Each CPU's busy ns (any task) over the last slice sampled, at most max
 * CPUs, and the slice's length; returns how many CPUs were written (0 before
 * two samples). */
int tracer_last_slice(const struct tracer *t, uint64_t *busy_ns, int max, uint64_t *len_ns);
/* Read the maps: the window ends now. Call before tracer_close. final: the
 * snapshot of the whole trace, which takes the --timeline records. */
int tracer_snapshot(struct tracer *t, struct ps_snapshot *snap, bool final);
/* Detach and free everything (safe on NULL). */
void tracer_close(struct tracer *t);

#endif
