/* bpf/poolscope.h: the contract between poolscope's BPF programs and its
 * loader. Every struct that crosses the kernel/user boundary is declared here,
 * once, with fixed-width __u32/__u64 fields only. */
#ifndef POOLSCOPE_H
#define POOLSCOPE_H

#define PS_COMM_LEN 16
/* Log2 histogram of nanoseconds: slot i counts values in [2^i, 2^(i+1)),
 * slot 0 also counts 0; the last slot takes everything larger. */
#define PS_HIST_SLOTS 40
#define PS_DEFAULT_MAX_THREADS 8192
#define PS_MAX_TGIDS 4096
#define PS_NO_SLOT 0xffffffffu

/* Per-task storage: which slot of the `threads` array a task owns. Untraced
 * tasks get an entry too (traced = 0) so they are classified only once. */
struct ps_task {
	__u32 slot;
	__u32 traced;
};

enum ps_thread_flags {
	PS_THREAD_EXITED = 1,     /* sched_process_exit seen */
	PS_THREAD_FORKED = 2,     /* created while traced (seen at fork) */
	PS_THREAD_EXECED = 4,     /* exec'd while traced */
};

/* One traced thread; lives in the `threads` array at its slot, and stays there
 * after the thread exits until the loader reads it. */
struct ps_thread {
	__u32 tid;
	__u32 tgid;
	__u32 parent_tid;     /* the thread that forked it, 0 if seen running */
	__u32 flags;          /* enum ps_thread_flags */
	char comm[PS_COMM_LEN];
	__u64 first_ns;       /* first seen (fork, or first event) */
	__u64 exit_ns;        /* sched_process_exit, 0 while alive */
	/* state: at most one of these is non-zero at a time */
	__u64 oncpu_since;    /* switched in at */
	__u64 runnable_since; /* woken or preempted at, waiting for a CPU */
	__u64 blocked_since;  /* switched out not runnable at */
	__u32 cpu;            /* CPU it last ran on */
	__u32 pad;
	/* counters */
	__u64 oncpu_ns;
	__u64 blocked_ns;     /* off-CPU, not runnable (sleeping/blocked) */
	__u64 runq_wait_ns;   /* runnable but not running */
	__u64 runq_max_ns;
	__u64 runq_count;
	__u64 vol;            /* voluntary switches (nvcsw) */
	__u64 invol;          /* involuntary switches (nivcsw) */
	__u64 migrations;
	__u64 wakeups;
	__u32 runq_hist[PS_HIST_SLOTS];
};

enum ps_cpu_kind {
	PS_CPU_UNKNOWN = 0,   /* no switch seen on this CPU yet */
	PS_CPU_IDLE = 1,
	PS_CPU_TRACED = 2,
	PS_CPU_OTHER = 3,
};

/* Per-CPU state and counters (a PERCPU_ARRAY of one element). Busy time counts
 * completed spans only; the span in progress is [since_ns, now) of kind cur. */
struct ps_cpu {
	__u64 since_ns;       /* current task got this CPU at */
	__u32 cur;            /* enum ps_cpu_kind of the current task */
	__u32 cur_slot;       /* its thread slot when cur == PS_CPU_TRACED */
	__u64 busy_ns;        /* any non-idle task */
	__u64 traced_ns;      /* traced tasks only */
	__u64 switches;       /* switches out of a traced task */
	__u64 vol;
	__u64 invol;
	__u64 all_switches;   /* every sched_switch on this CPU */
	__u64 wakeups;        /* wakeups of traced tasks handled here */
	__u64 runq_count;
	__u64 runq_sum_ns;
	__u64 runq_max_ns;
	__u64 runq_hist[PS_HIST_SLOTS];
};

/* Migrations of traced threads, per CPU (an ARRAY indexed by CPU). */
struct ps_cpu_migr {
	__u64 in;
	__u64 out;
};

/* Failures, counted in the kernel and reported: nothing is lost silently. */
struct ps_drops {
	__u64 no_slot_threads;  /* traced threads beyond max_threads */
	__u64 no_slot_events;   /* events of those threads */
	__u64 storage_fail;     /* task storage could not be created */
	__u64 tgid_full;        /* traced_tgids full: a forked process not added */
};

#endif
