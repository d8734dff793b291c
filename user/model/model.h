/* user/model/model.h: turn a snapshot into the summaries the reports show: per
 * core, per thread, per process and whole-trace totals. Pure functions of the
 * snapshot: no BPF, no /proc, so unit tests feed it hand-made data. */
#ifndef POOLSCOPE_MODEL_H
#define POOLSCOPE_MODEL_H
#include "model/snapshot.h"
#include "model/locks.h"

#define MODEL_TOP_THREADS 3

struct core_summary {
	int cpu;
	uint64_t busy_ns, traced_ns, idle_ns;
	double busy_pct, traced_pct;        /* of the trace window */
	uint64_t switches, vol, invol;      /* of traced threads */
	uint64_t all_switches;              /* every switch on this core */
	uint64_t runq_count, runq_sum_ns, runq_p50_ns, runq_p99_ns, runq_max_ns;
	uint64_t runq_hist[PS_HIST_SLOTS];
	uint64_t migr_in, migr_out;
	/* the threads that ran longest here: index into model.threads, -1: none */
	struct { int32_t thread; uint64_t ns; } top[MODEL_TOP_THREADS];
};

struct thread_summary {
	/* folded > 0: not one thread but the exited threads of process tgid
	 * whose slots were reused, summed (tid 0) */
	uint64_t folded;
	uint32_t tid, tgid;                 /* as poolscope's PID namespace names them */
	uint32_t ns_tid, ns_pid;            /* in the thread's own PID namespace */
	uint32_t parent_tid;                /* the thread that forked it, 0 if seen running */
	uint64_t cgroup_id;                 /* its cgroup (the last, if it moved) */
	char comm[PS_COMM_LEN];
	bool exited, forked, execed;        /* forked: born during the trace */
	bool entered, left;                 /* traced from a later point; no longer traced */
	uint64_t first_ns, exit_ns;         /* CLOCK_MONOTONIC; exit_ns 0 while alive */
	uint64_t oncpu_ns;
	uint64_t offcpu_ns;                 /* blocked, not runnable */
	uint64_t runq_wait_ns, runq_count, runq_max_ns, runq_p50_ns, runq_p99_ns;
	uint64_t runq_hist[PS_HIST_SLOTS];
	uint64_t vol, invol, migrations, wakeups;
	const uint64_t *oncpu_by_cpu;       /* nr_cpus: on-CPU ns on each core */
	uint64_t lifetime_ns;               /* within the trace window */
	uint64_t lock_wait_ns;              /* futex waits on contended locks, asleep */
	uint64_t other_wait_ns;             /* other futex waits (results, join, queue), asleep */
	uint64_t oncpu_samples;             /* --stacks oncpu: its samples ... */
	uint64_t spin_samples;              /* ... and those in spin frames (stack_spin_frame) */
};

struct process_summary {
	uint32_t tgid;
	char comm[PS_COMM_LEN];             /* of its main thread when seen */
	uint32_t nthreads;                  /* exited ones whose slots were reused included */
	uint64_t exited_folded;             /* of them, folded into a summary row */
	uint64_t oncpu_ns, offcpu_ns, runq_wait_ns, vol, invol, migrations;
};

/* Off-CPU time or on-CPU samples of one folded stack. */
struct stack_summary {
	char *folded;
	uint64_t value;              /* ns off-CPU, or samples */
	uint64_t count;
};

/* The systemd unit, container or pod a cgroup path names (cgroups.c). */
struct cgroup_owner {
	char unit[64];               /* nginx.service, session-2.scope */
	char container[80];          /* "docker 3f2a1b4c5d6e", "containerd ...", "cri-o ..." */
	char pod[48];                /* a kubernetes pod's uid */
};

/* One cgroup of traced threads, for the CGROUPS section. */
struct cgroup_summary {
	uint64_t id;
	const char *path;            /* within the hierarchy, "?" when not found */
	struct cgroup_owner owner;
	uint32_t nthreads, nprocs;   /* traced ones in it (folded rows counted) */
	uint64_t oncpu_ns, runq_wait_ns, runq_count, runq_p50_ns, runq_p99_ns, runq_max_ns;
	uint64_t runq_hist[PS_HIST_SLOTS];
	uint64_t vol, invol;
	double parallelism;          /* its traced threads' on-CPU time / wall */
	bool have_usage;
	uint64_t usage_ns;           /* the cgroup's own CPU usage over the window */
	double limit_cpus;           /* quota / period in effect, 0: no limit */
	int64_t quota_us, period_us;
	const char *limit_at;        /* the cgroup that sets it */
	bool have_throttle;          /* the throttling over the window is known */
	uint64_t nr_periods, nr_throttled, throttled_ns;
	const char *cpuset;          /* effective CPUs, "" unknown */
	int cpuset_cpus;
};

/* A named drop counter of the trace (nothing is lost silently). */
struct drop_count {
	const char *key;             /* JSON key */
	const char *what;            /* for the text report */
	uint64_t n;
};
#define MODEL_DROP_KINDS 10

struct model {
	const struct ps_snapshot *snap;
	uint64_t start_ns, wall_ns;
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
	double other_cpus;                   /* busy time of untraced tasks (other load), in CPUs */
	uint64_t runq_hist[PS_HIST_SLOTS];   /* all traced threads */
	uint64_t runq_p50_ns, runq_p90_ns, runq_p99_ns, runq_max_ns;
	uint64_t dropped;                    /* sum of all drop counters */
	struct drop_count drops[MODEL_DROP_KINDS];
	uint64_t thread_time_ns;             /* every traced thread's lifetime in the window */
	uint64_t folded_threads;             /* exited threads folded into summary rows */
	uint64_t thread_count;               /* traced threads: rows, with the folded ones counted */
	uint64_t *zero_by_cpu;               /* nr_cpus zeros: the folded rows' per-CPU split */
	/* --locks: sorted by wait time; --stacks: sorted by value */
	struct lock_summary *locks;
	uint32_t nlocks;
	uint32_t *futex_lock;                /* snap->n_futex: each futex record's lock (index) */
	struct stack_summary *offcpu, *oncpu, *futex;
	uint32_t n_offcpu, n_oncpu, n_futex;
	uint64_t offcpu_total_ns, oncpu_samples, futex_total_ns;
	/* by cgroup, sorted by on-CPU time; shown when there are several or
	 * --cgroup was given */
	struct cgroup_summary *cgroups;
	uint32_t ncgroups;
	bool cgroups_shown;
	uint64_t spin_samples;               /* on-CPU samples in spin frames */
	const char *spin_frame;              /* the most sampled of them, NULL if none */
};

/* The stack summaries (stacks.c), called by model_build. */
void model_build_stacks(struct model *m);
/* The cgroup summaries (cgroups.c), called by model_build. */
void model_build_cgroups(struct model *m);
/* The unit, container or pod a cgroup path names ("" fields when none). */
void cgroup_owner_parse(const char *path, struct cgroup_owner *o);
/* One short label for it: "nginx.service", "docker 3f2a1b4c5d6e", "pod
 * 1a2b3c4d docker ...", or "". */
const char *cgroup_owner_label(const struct cgroup_owner *o, char *buf, size_t len);

/* Build the model of snap (which must outlive it). 0 or -ENOMEM. */
int model_build(const struct ps_snapshot *snap, struct model *m);
void model_free(struct model *m);

#endif
