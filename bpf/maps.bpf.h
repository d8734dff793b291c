/* bpf/maps.bpf.h: the loader's settings, poolscope's global counters and
 * every map, and the small helpers every program uses (lookup-or-init, log2
 * histogram slots). Included once, by poolscope.bpf.c. */
#ifndef POOLSCOPE_MAPS_BPF_H
#define POOLSCOPE_MAPS_BPF_H

/* Set by the loader between open and load. */
const volatile bool targ_all = false;       /* trace every task on the machine */
const volatile __u32 targ_self_tgid = 0;    /* ... but poolscope itself */
const volatile bool targ_raw = false;       /* raw_tp fallback: task state in task_hash */
/* Task state in task_hash (preallocated) instead of task storage, with
 * tp_btf too: before Linux 6.2 task storage allocates with kmalloc, which can
 * wake kswapd and deadlock on the run-queue lock sched_switch holds. */
const volatile bool targ_task_hash = false;
const volatile bool targ_locks = false;     /* futex waits and wakes, process busy time */
/* futex waits from the syscall tracepoints instead of the scheduler */
const volatile bool targ_futex_syscalls = false;
const volatile bool targ_offcpu = false;    /* off-CPU time by stack */
const volatile bool targ_oncpu = false;     /* on-CPU samples by stack */
const volatile bool targ_follow_forks = true; /* trace processes traced ones fork */
const volatile bool targ_tids = false;      /* trace the threads in traced_tids only */
const volatile bool targ_timeline = false;  /* --timeline: records through the ring buffer */
/* --cgroup: trace the tasks of the cgroup subtree whose root has this id
 * (0: no --cgroup) ... */
const volatile __u64 targ_cg_id = 0;
/* ... in this hierarchy (enum ps_cg_hier), the one each thread's
 * cgroup_id is of too */
const volatile __u32 targ_cg_hier = PS_CG_V2;
/* attach --comm: the processes of this name (their group leader's comm),
 * those that start or exec later too */
const volatile bool targ_by_comm = false;
const volatile char targ_comm[PS_COMM_LEN] = {};
/* poolscope's own PID namespace (its inode number) when it is not the
 * initial one: the ids its user sees are that namespace's */
const volatile __u32 targ_pidns_ino = 0;
const volatile __u32 targ_nr_cpus = 1;
const volatile __u32 targ_max_threads = PS_DEFAULT_MAX_THREADS;

/* Written by the loader just before attach: the start of the trace window,
 * used for tasks already running or sleeping when tracing began. */
__u64 trace_start_ns = 0;
/* CLOCK_REALTIME - CLOCK_MONOTONIC then: for futex timeouts on CLOCK_REALTIME */
__u64 realtime_offset_ns = 0;
__u32 next_slot = 0;
__u32 next_proc = 0;
struct ps_drops drops = {};
/* --cgroup: cgroup moves seen (cgroup_attach_task); a task decided in an
 * older epoch is decided again at its next event */
__u32 cg_epoch = 0;
/* the depth of the --cgroup subtree's root and of poolscope's PID namespace,
 * plus one, once found (0: not yet) */
__u32 cg_level1 = 0;
__u32 view_level1 = 0;

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ps_task);
} task_store SEC(".maps");

/* raw_tp fallback: task -> slot by tid (raw_tp pointers cannot use task storage). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_DEFAULT_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct ps_task);
} task_hash SEC(".maps");

/* raw_tp or task_hash with --cgroup or --comm: the tasks decided untraced,
 * by tid, so an event of theirs costs one lookup (an LRU map: a lost entry
 * is only decided again) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_DEFAULT_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct ps_task);
} task_neg SEC(".maps");

/* poolscope in a PID namespace: the targets by the ids its user gave
 * (-p: processes, --tid: threads), matched at first sight */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} traced_view SEC(".maps");

/* traced process -> its slot in `procs` (PS_NO_SLOT until first needed) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_TGIDS);
	__type(key, __u32);
	__type(value, __u32);
} traced_tgids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PS_MAX_TGIDS);
	__type(key, __u32);
	__type(value, struct ps_proc);
} procs SEC(".maps");

/* --timeline records (struct ps_tl_rec); sized by the loader */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} timeline SEC(".maps");

/* Slots of threads that died (their last switch), reused once every slot
 * has been handed out: the old occupant is folded into its process first. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, PS_DEFAULT_MAX_THREADS);
	__type(value, __u32);
} free_slots SEC(".maps");

/* attach --tid: single threads */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} traced_tids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, PS_MAX_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, PS_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/* user stacks recovered past frames without frame pointers */
struct ps_ustack { __u64 ips[PS_STACK_DEPTH]; };
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_STACKS / 4);
	__type(key, __u32);
	__type(value, struct ps_ustack);
} ustacks SEC(".maps");

#define SCAN_CANDIDATES 32   /* a power of 2: indexes are masked */

struct ps_scratch {
	struct ps_ustack st;
	__u64 words[PS_SCAN_WORDS];
	__u64 cand[SCAN_CANDIDATES];   /* scanned words that look like saved frame pointers */
	__u64 first_ret;               /* the first word pointing into the executable's text */
	__u64 fp;                      /* the frame pointer the walk resumes from */
	__u32 ncand;
	__u32 n;                       /* frames in st so far */
	__u32 nwords;                  /* words read from the user stack */
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_STACK_KEYS);
	__type(key, struct ps_stack_key);
	__type(value, struct ps_stack_val);
} offcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_STACK_KEYS);
	__type(key, struct ps_stack_key);
	__type(value, struct ps_stack_val);
} oncpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_FUTEX_KEYS);
	__type(key, struct ps_futex_key);
	__type(value, struct ps_futex_stat);
} futex_waits SEC(".maps");


struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);   /* the loader reads it in place */
	__uint(max_entries, PS_DEFAULT_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct ps_thread);
} threads SEC(".maps");

/* on-CPU ns of thread slot s on CPU c at index s * targ_nr_cpus + c */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, PS_DEFAULT_MAX_THREADS);
	__type(key, __u32);
	__type(value, __u64);
} thread_cpu_ns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_cpu);
} cpus SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_cpu_migr);
} cpu_migr SEC(".maps");

/* Zeroed values to create map entries from: as globals, not stack copies
 * (6.1's verifier caps a call chain's stack at 512 bytes). */
static const struct ps_futex_stat zero_futex_stat;

/* The value at key, created from init when missing; a full map is counted
 * in *full and gives NULL. */
static __always_inline void *lookup_or_init(void *map, const void *key, const void *init,
					    __u64 *full)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	v = bpf_map_lookup_elem(map, key);
	if (!v && full)
		__sync_fetch_and_add(full, 1);
	return v;
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r, shift;

	r = (v > 0xFFFFFFFFULL) << 5; v >>= r;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 hist_slot(__u64 ns)
{
	__u64 s = log2_u64(ns);

	/* Bound all 64 bits: the 6.1 verifier forgets a register entirely after
	 * an OR with a non-constant operand, and a 32-bit compare would leave
	 * the upper half unbounded for the histogram index. */
	barrier_var(s);
	return s < PS_HIST_SLOTS ? s : PS_HIST_SLOTS - 1;
}

#endif
