// SPDX-License-Identifier: GPL-2.0
/* bpf/poolscope.bpf.c: poolscope's scheduler tracing, aggregated in the kernel.
 *
 * Every handler finds the task's thread slot with one task-storage lookup
 * (a hash lookup on the raw_tp fallback), then updates plain array elements:
 * no per-event data leaves the kernel. Each program is written once as a
 * handle_*() function and wrapped by a tp_btf entry and a raw_tp entry; the
 * loader autoloads one set. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "poolscope.h"
#include "core_fixes.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader between open and load. */
const volatile bool targ_all = false;       /* trace every task on the machine */
const volatile bool targ_raw = false;       /* raw_tp fallback: task state in task_hash */
/* Task state in task_hash (preallocated) instead of task storage, with
 * tp_btf too: before Linux 6.2 task storage allocates with kmalloc, which can
 * wake kswapd and deadlock on the run-queue lock sched_switch holds. */
const volatile bool targ_task_hash = false;
const volatile bool targ_locks = false;     /* futex waits and wakes, process busy time */
const volatile bool targ_offcpu = false;    /* off-CPU time by stack */
const volatile bool targ_oncpu = false;     /* on-CPU samples by stack */
const volatile bool targ_follow_forks = true; /* trace processes traced ones fork */
const volatile bool targ_tids = false;      /* trace the threads in traced_tids only */
const volatile __u32 targ_nr_cpus = 1;
const volatile __u32 targ_max_threads = PS_DEFAULT_MAX_THREADS;

/* Written by the loader just before attach: the start of the trace window,
 * used for tasks already running or sleeping when tracing began. */
__u64 trace_start_ns = 0;
__u32 next_slot = 0;
__u32 next_proc = 0;
struct ps_drops drops = {};

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

struct ps_scratch {
	struct ps_ustack st;
	__u64 words[PS_SCAN_WORDS];
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
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_FUTEX_KEYS);
	__type(key, struct ps_wake_key);
	__type(value, struct ps_futex_wake);
} futex_wakes SEC(".maps");

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

/* TIF_SIGPENDING in arch/<arch>/include/asm/thread_info.h */
#if defined(__TARGET_ARCH_arm64)
#define TIF_SIGPENDING_ 0
#else
#define TIF_SIGPENDING_ 2
#endif
/* TASK_DEAD in include/linux/sched.h (0x80 since 4.14) */
#define TASK_DEAD_STATE 0x80

/* Read a task field: direct (BTF-typed pointer) in tp_btf, probe-read in raw_tp. */
#define TASK_FIELD(btf, t, f) ((btf) ? (t)->f : BPF_CORE_READ(t, f))

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

static __always_inline struct ps_task *task_lookup(struct task_struct *t, bool btf)
{
	if (btf && !targ_task_hash)
		return bpf_task_storage_get(&task_store, t, 0, 0);
	__u32 tid = BPF_CORE_READ(t, pid);
	return bpf_map_lookup_elem(&task_hash, &tid);
}

static __always_inline struct ps_task *task_create(struct task_struct *t, bool btf)
{
	struct ps_task zero = {};

	if (btf && !targ_task_hash)
		return bpf_task_storage_get(&task_store, t, &zero,
					    BPF_LOCAL_STORAGE_GET_F_CREATE);
	__u32 tid = BPF_CORE_READ(t, pid);
	if (bpf_map_update_elem(&task_hash, &tid, &zero, BPF_NOEXIST))
		return NULL;
	return bpf_map_lookup_elem(&task_hash, &tid);
}

/* The `procs` slot of process tgid, allocated on first need. In -a mode
 * processes are added to traced_tgids here. */
static __always_inline __u32 proc_slot_of(__u32 tgid)
{
	__u32 none = PS_NO_SLOT, slot, old, *v;
	struct ps_proc *p;

	if (!targ_locks)
		return PS_NO_SLOT;
	v = bpf_map_lookup_elem(&traced_tgids, &tgid);
	if (!v) {
		bpf_map_update_elem(&traced_tgids, &tgid, &none, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&traced_tgids, &tgid);
		if (!v) {
			__sync_fetch_and_add(&drops.proc_full, 1);
			return PS_NO_SLOT;
		}
	}
	if (*v != PS_NO_SLOT)
		return *v < PS_MAX_TGIDS ? *v : PS_NO_SLOT;
	slot = __sync_fetch_and_add(&next_proc, 1);
	if (slot >= PS_MAX_TGIDS) {
		__sync_fetch_and_add(&drops.proc_full, 1);
		*v = PS_MAX_TGIDS; /* never try again for this process */
		return PS_NO_SLOT;
	}
	old = __sync_val_compare_and_swap(v, PS_NO_SLOT, slot);
	if (old != PS_NO_SLOT)
		return old < PS_MAX_TGIDS ? old : PS_NO_SLOT; /* another thread won */
	p = bpf_map_lookup_elem(&procs, &slot);
	if (p)
		p->tgid = tgid;
	return slot;
}

/* Active ns of process slot `proc` up to now (see struct ps_proc). */
static __always_inline __u64 proc_active(__u32 proc, __u64 now)
{
	struct ps_proc *p = bpf_map_lookup_elem(&procs, &proc);

	if (!p)
		return 0;
	return p->active_acc + (__u64)p->active * now - p->since_sum;
}

/* A thread becomes active (woken, or seen running) or blocks. */
static __always_inline void thread_activate(struct ps_thread *th, __u64 now)
{
	struct ps_proc *p;

	if (th->active_since)
		return;
	th->active_since = now;
	p = bpf_map_lookup_elem(&procs, &th->proc);
	if (p) {
		__sync_fetch_and_add(&p->active, 1);
		__sync_fetch_and_add(&p->since_sum, now);
	}
}

static __always_inline void thread_deactivate(struct ps_thread *th, __u64 now)
{
	struct ps_proc *p;
	__u64 since = th->active_since;

	if (!since)
		return;
	th->active_since = 0;
	p = bpf_map_lookup_elem(&procs, &th->proc);
	if (p) {
		__sync_fetch_and_add(&p->active, -1);
		__sync_fetch_and_add(&p->since_sum, -since);
		__sync_fetch_and_add(&p->active_acc, now - since);
	}
}

/* Give task t a thread slot and initialise it. */
static __always_inline struct ps_thread *thread_new(struct task_struct *t, struct ps_task *st,
						    __u32 parent_tid, __u64 now, bool btf)
{
	struct ps_thread *th;
	__u32 slot = __sync_fetch_and_add(&next_slot, 1);

	st->traced = 1;
	if (slot >= targ_max_threads) {
		st->slot = PS_NO_SLOT;
		__sync_fetch_and_add(&drops.no_slot_threads, 1);
		return NULL;
	}
	th = bpf_map_lookup_elem(&threads, &slot);
	if (!th) {
		st->slot = PS_NO_SLOT;
		__sync_fetch_and_add(&drops.no_slot_threads, 1);
		return NULL;
	}
	th->tid = TASK_FIELD(btf, t, pid);
	th->tgid = TASK_FIELD(btf, t, tgid);
	th->parent_tid = parent_tid;
	th->first_ns = now;
	th->proc = proc_slot_of(th->tgid);
	bpf_probe_read_kernel_str(th->comm, sizeof(th->comm), &t->comm);
	st->slot = slot;
	return th;
}

/* The traced thread of task t, or NULL when t is not traced. The first time a
 * task is seen it is classified (every task, or its process in traced_tgids)
 * and the verdict is kept in its storage, so later events cost one lookup. */
static __always_inline struct ps_thread *thread_of_st(struct task_struct *t, struct ps_task *st,
						      __u32 *slotp, __u64 now, bool btf)
{
	__u32 tgid;

	if (!st) {
		tgid = TASK_FIELD(btf, t, tgid);
		if (targ_tids) {
			__u32 tid = TASK_FIELD(btf, t, pid);

			if (!bpf_map_lookup_elem(&traced_tids, &tid)) {
				if (btf && !targ_task_hash)
					task_create(t, btf);
				return NULL;
			}
		} else if (!targ_all && !bpf_map_lookup_elem(&traced_tgids, &tgid)) {
			/* task_hash: no negative cache, it holds traced tasks only */
			if (btf && !targ_task_hash)
				task_create(t, btf);
			return NULL;
		}
		st = task_create(t, btf);
		if (!st) {
			__sync_fetch_and_add(&drops.storage_fail, 1);
			return NULL;
		}
		*slotp = PS_NO_SLOT;
		struct ps_thread *th = thread_new(t, st, 0, now, btf);
		if (th)
			*slotp = st->slot;
		return th;
	}
	if (!st->traced)
		return NULL;
	if (st->slot == PS_NO_SLOT) {
		__sync_fetch_and_add(&drops.no_slot_events, 1);
		return NULL;
	}
	*slotp = st->slot;
	return bpf_map_lookup_elem(&threads, slotp);
}

static __always_inline struct ps_thread *thread_of(struct task_struct *t, __u32 *slotp,
						   __u64 now, bool btf)
{
	return thread_of_st(t, task_lookup(t, btf), slotp, now, btf);
}

/* Add `value` to the (thread, stacks) aggregate `key` of map `agg`;
 * a full map is counted in *full. */
static __always_inline void stack_add(void *agg, struct ps_stack_key *key, __u64 value,
				      __u64 *full)
{
	struct ps_stack_val *v, zero = {};

	v = bpf_map_lookup_elem(agg, key);
	if (!v) {
		bpf_map_update_elem(agg, key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(agg, key);
		if (!v) {
			__sync_fetch_and_add(full, 1);
			return;
		}
	}
	__sync_fetch_and_add(&v->value, value);
	__sync_fetch_and_add(&v->count, 1);
}

#define EFAULT_ 14
#define EEXIST_ 17

struct hash_ctx {
	struct ps_ustack *st;
	__u64 hash;
};

/* bpf_loop callback: FNV-1a step over address i (a loop the verifier
 * checks once, not once per iteration: it keeps program loads fast) */
static long hash_ip(__u32 i, struct hash_ctx *c)
{
	if (i >= PS_STACK_DEPTH)
		return 1;
	c->hash = (c->hash ^ c->st->ips[i]) * 16777619u;
	return 0;
}

/* FNV-1a over the first n addresses: the id of a stack kept in `ustacks`. */
static __always_inline __s32 ustacks_put(struct ps_ustack *st, __u32 n)
{
	struct hash_ctx c = { .st = st, .hash = 2166136261u };
	__u64 hash;
	__u32 id;

	if (n > PS_STACK_DEPTH)
		n = PS_STACK_DEPTH;
	bpf_loop(n, hash_ip, &c, 0);
	hash = c.hash;
	__u64 end = n;
	barrier_var(end); /* a 64-bit bound for 6.1's verifier, as in hist_slot() */
	if (end < PS_STACK_DEPTH)
		st->ips[end] = 0; /* readers stop at the first 0 */
	id = ((__u32)hash & (PS_RECOVERED_STACK - 1)) | PS_RECOVERED_STACK;
	if (bpf_map_update_elem(&ustacks, &id, st, BPF_ANY))
		return -1;
	return id;
}

/* The stack map's buckets are its hash: another stack in the same bucket
 * makes bpf_get_stackid fail (-EEXIST) every time this stack is seen. Keep
 * such a stack in `ustacks` under its own hash instead. */
static __noinline __s32 stack_fallback(void *ctx, __u64 flags)
{
	__u32 zero = 0;
	struct ps_scratch *sc = bpf_map_lookup_elem(&scratch, &zero);
	long bytes;

	if (!sc)
		return -1;
	bytes = bpf_get_stack(ctx, sc->st.ips, sizeof(sc->st.ips), flags);
	if (bytes <= 0)
		return -1;
	return ustacks_put(&sc->st, bytes / 8);
}

/* A stack id, or a negative error. -EFAULT means there was no stack to take
 * (no user context: an exiting task); any other failure loses a stack and is
 * counted. */
static __always_inline __s32 stack_id(void *ctx, __u64 flags)
{
	long id = bpf_get_stackid(ctx, &stacks, flags);

	if (id == -EEXIST_)
		id = stack_fallback(ctx, flags);
	if (id < 0 && id != -EFAULT_)
		__sync_fetch_and_add(&drops.stack_fail, 1);
	return id;
}

/* Off-CPU stacks at a switch-out. Walking two stacks costs ~2 us, and a
 * thread that blocks again and again (a pipe, a queue, a lock) leaves the CPU
 * from the same few places: when its user ip, user sp, syscall and the kind
 * of switch (blocked or preempted) are those of one of its last two
 * switch-out sites, the stacks captured there are reused; every
 * OFFCPU_RECAPTURE-th time they are walked again. The error this allows: a different kernel path (or
 * caller above an identical frame) from the very same user instruction and
 * stack depth is credited to the cached stacks until the next recapture. */
#define OFFCPU_RECAPTURE 16

static __always_inline void offcpu_capture(void *ctx, struct ps_thread *pt, struct task_struct *prev,
					   bool runnable, __u64 now, bool btf)
{
	__u64 site = 0;
	__u32 e;

	pt->off_start = now;
	if (btf) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(prev);

		if (regs) {
			site = regs->ip ^ (regs->sp << 7) ^ (regs->orig_ax << 47) ^ runnable;
			for (e = 0; e < 2; e++) {
				if (pt->off_site[e] != site || pt->off_cached_u[e] == -1)
					continue;
				if (++pt->off_reused[e] >= OFFCPU_RECAPTURE)
					break; /* due: walk it again into this entry */
				pt->off_ustack = pt->off_cached_u[e];
				pt->off_kstack = pt->off_cached_k[e];
				return;
			}
		}
	}
	/* prev is still current: these are its stacks */
	pt->off_ustack = stack_id(ctx, BPF_F_USER_STACK);
	pt->off_kstack = stack_id(ctx, 0);
	if (!site)
		return;
	if (pt->off_site[0] == site)
		e = 0;
	else if (pt->off_site[1] == site)
		e = 1;
	else {
		e = pt->off_victim & 1;   /* a new site replaces the older entry */
		pt->off_victim = e ^ 1;
	}
	pt->off_site[e & 1] = site;
	pt->off_cached_u[e & 1] = pt->off_ustack;
	pt->off_cached_k[e & 1] = pt->off_kstack;
	pt->off_reused[e & 1] = 0;
}

static __always_inline void handle_switch(void *ctx, bool preempt, struct task_struct *prev,
					  struct task_struct *next, unsigned int prev_state,
					  bool btf)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 zero = 0, cpu = bpf_get_smp_processor_id();
	__u32 slot = PS_NO_SLOT;
	struct ps_thread *pt = NULL, *nt;
	struct ps_cpu *c;
	__u64 since, d;

	c = bpf_map_lookup_elem(&cpus, &zero);
	if (!c)
		return;
	c->all_switches++;
	/* prev has had this CPU since the last switch here (or since the trace
	 * began, for the first switch seen on this CPU). */
	since = c->since_ns ? c->since_ns : trace_start_ns;
	d = since && now > since ? now - since : 0;

	if (TASK_FIELD(btf, prev, pid)) {
		c->busy_ns += d;
		pt = thread_of(prev, &slot, now, btf);
	}
	if (pt) {
		__u32 idx = slot * targ_nr_cpus + cpu;
		__u64 *cpu_ns = bpf_map_lookup_elem(&thread_cpu_ns, &idx);

		c->traced_ns += d;
		c->switches++;
		pt->oncpu_ns += d;
		if (cpu_ns)
			*cpu_ns += d;
		pt->oncpu_since = 0;
		if (targ_offcpu)
			offcpu_capture(ctx, pt, prev, prev_state == 0 || preempt, now, btf);
		/* As __schedule() counts nivcsw/nvcsw: a preemption, or a task
		 * that was still runnable, is involuntary. Since 6.16 a sleep cut
		 * short by a pending signal reports prev_state 0 yet counts as
		 * voluntary: tell it by the task's TIF_SIGPENDING. */
		if (preempt || (prev_state == 0 &&
				!(TASK_FIELD(btf, prev, thread_info.flags) & (1UL << TIF_SIGPENDING_)))) {
			pt->invol++;
			c->invol++;
			pt->runnable_since = now;
		} else {
			pt->vol++;
			c->vol++;
			pt->runnable_since = 0;
			pt->blocked_since = now;
			if (targ_locks)
				thread_deactivate(pt, now);
		}
		/* task_hash: a dead task's last switch; its entry goes with it
		 * (task storage is freed by the kernel with the task) */
		if ((!btf || targ_task_hash) && (prev_state & TASK_DEAD_STATE)) {
			__u32 tid = TASK_FIELD(btf, prev, pid);
			bpf_map_delete_elem(&task_hash, &tid);
		}
	}

	c->since_ns = now;
	if (!TASK_FIELD(btf, next, pid)) {
		c->cur = PS_CPU_IDLE;
		return;
	}
	nt = thread_of(next, &slot, now, btf);
	if (!nt) {
		c->cur = PS_CPU_OTHER;
		return;
	}
	c->cur = PS_CPU_TRACED;
	c->cur_slot = slot;
	if (nt->runnable_since && now > nt->runnable_since) {
		__u64 wait = now - nt->runnable_since;
		__u32 s = hist_slot(wait);

		nt->runq_wait_ns += wait;
		nt->runq_count++;
		if (wait > nt->runq_max_ns)
			nt->runq_max_ns = wait;
		nt->runq_hist[s]++;
		c->runq_count++;
		c->runq_sum_ns += wait;
		if (wait > c->runq_max_ns)
			c->runq_max_ns = wait;
		c->runq_hist[s]++;
	}
	nt->runnable_since = 0;
	nt->blocked_since = 0;
	nt->oncpu_since = now;
	nt->cpu = cpu;
	if (targ_locks)
		thread_activate(nt, now);
	if (targ_offcpu && nt->off_start && now > nt->off_start) {
		struct ps_stack_key key = {
			.tgid = nt->tgid, .pid = nt->tid,
			.ustack = nt->off_ustack, .kstack = nt->off_kstack,
		};

		stack_add(&offcpu, &key, now - nt->off_start, &drops.offcpu_full);
		nt->off_start = 0;
	}
}

static __always_inline void handle_wakeup(struct task_struct *p, bool btf)
{
	struct ps_task *st = task_lookup(p, btf);
	struct ps_thread *th;
	__u64 now;
	__u32 slot;

	/* Most wakeups on a busy machine are of tasks already known untraced:
	 * leave before reading the clock (37 ns in this VM, the largest single
	 * cost of the program). */
	if (st && !st->traced)
		return;
	now = bpf_ktime_get_ns();
	th = thread_of_st(p, st, &slot, now, btf);
	if (!th)
		return;
	/* A thread first seen at its wakeup was asleep when the trace began. */
	if (!th->blocked_since && th->first_ns == now && trace_start_ns)
		th->blocked_since = trace_start_ns;
	if (th->blocked_since && now > th->blocked_since)
		th->blocked_ns += now - th->blocked_since;
	th->blocked_since = 0;
	th->runnable_since = now;
	th->wakeups++;
	if (targ_locks)
		thread_activate(th, now);
}

static __always_inline void handle_fork(struct task_struct *parent, struct task_struct *child,
					bool btf)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 slot, ptid = TASK_FIELD(btf, parent, pid);
	__u32 ctgid = TASK_FIELD(btf, child, tgid);
	struct ps_thread *th;
	struct ps_task *st;

	if (targ_tids || !thread_of(parent, &slot, now, btf))
		return;
	if (ctgid != TASK_FIELD(btf, parent, tgid)) {
		if (!targ_follow_forks && !targ_all)
			return;
		__u32 none = PS_NO_SLOT;

		if (bpf_map_update_elem(&traced_tgids, &ctgid, &none, BPF_ANY))
			__sync_fetch_and_add(&drops.tgid_full, 1);
	}
	st = task_create(child, btf);
	if (!st) {
		__sync_fetch_and_add(&drops.storage_fail, 1);
		return;
	}
	th = thread_new(child, st, ptid, now, btf);
	if (th)
		th->flags |= PS_THREAD_FORKED;
}

static __always_inline void handle_exec(struct task_struct *p, bool btf)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 slot;
	struct ps_thread *th = thread_of(p, &slot, now, btf);

	if (!th)
		return;
	/* exec from a non-leader thread takes over the leader's pid */
	th->tid = TASK_FIELD(btf, p, pid);
	th->flags |= PS_THREAD_EXECED;
	bpf_probe_read_kernel_str(th->comm, sizeof(th->comm), &p->comm);
}

static __always_inline void handle_exit(struct task_struct *p, bool btf)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 slot;
	struct ps_thread *th = thread_of(p, &slot, now, btf);

	if (!th)
		return;
	th->exit_ns = now;
	th->flags |= PS_THREAD_EXITED;
	bpf_probe_read_kernel_str(th->comm, sizeof(th->comm), &p->comm);
}

static __always_inline void handle_migrate(struct task_struct *p, int dest_cpu, bool btf)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 slot, src = task_cpu_of(p), dst = dest_cpu;
	struct ps_thread *th = thread_of(p, &slot, now, btf);
	struct ps_cpu_migr *m;

	if (!th)
		return;
	__sync_fetch_and_add(&th->migrations, 1);
	m = bpf_map_lookup_elem(&cpu_migr, &src);
	if (m)
		__sync_fetch_and_add(&m->out, 1);
	m = bpf_map_lookup_elem(&cpu_migr, &dst);
	if (m)
		__sync_fetch_and_add(&m->in, 1);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(ps_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	handle_switch(ctx, preempt, prev, next, prev_state, true);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(ps_wakeup, struct task_struct *p)
{
	handle_wakeup(p, true);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(ps_wakeup_new, struct task_struct *p)
{
	handle_wakeup(p, true);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ps_fork, struct task_struct *parent, struct task_struct *child)
{
	handle_fork(parent, child, true);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(ps_exec, struct task_struct *p)
{
	handle_exec(p, true);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ps_exit, struct task_struct *p)
{
	handle_exit(p, true);
	return 0;
}

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(ps_migrate, struct task_struct *p, int dest_cpu)
{
	handle_migrate(p, dest_cpu, true);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(ps_switch_raw, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	handle_switch(ctx, preempt, prev, next, prev_state, false);
	return 0;
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(ps_wakeup_raw, struct task_struct *p)
{
	handle_wakeup(p, false);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(ps_wakeup_new_raw, struct task_struct *p)
{
	handle_wakeup(p, false);
	return 0;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(ps_fork_raw, struct task_struct *parent, struct task_struct *child)
{
	handle_fork(parent, child, false);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(ps_exec_raw, struct task_struct *p)
{
	handle_exec(p, false);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(ps_exit_raw, struct task_struct *p)
{
	handle_exit(p, false);
	return 0;
}

SEC("raw_tp/sched_migrate_task")
int BPF_PROG(ps_migrate_raw, struct task_struct *p, int dest_cpu)
{
	handle_migrate(p, dest_cpu, false);
	return 0;
}

/* ---- user stacks through libraries built without frame pointers ----
 *
 * glibc is built without frame pointers, so a frame-pointer walk that starts
 * in a syscall wrapper (futex wait, cond wait) usually stops after the leaf:
 * the program's own frames above it are lost. When the walk yields fewer
 * than 3 frames, scan the first PS_SCAN_WORDS words of the user stack: the
 * first word pointing into the main executable's text is the return address
 * into the program function that called the library (e.g. a lock's
 * acquire function); the first word that looks like a saved frame pointer
 * (points a little further up the stack, with a return address into the
 * executable's text above it) resumes the frame-pointer walk from the
 * program's frames. The heuristic can pick a stale return address or a
 * code pointer stored on the stack; it only runs for futex calls and only
 * when the walk failed. */
static __always_inline bool in_text(__u64 a, __u64 start, __u64 end)
{
	return a >= start && a < end;
}

#define SCAN_CANDIDATES 16   /* a power of 2: indexes are masked */

struct scan_ctx {
	struct ps_scratch *sc;
	__u64 sp, start, end;
	__u64 first_ret, fp;
	__u64 cand[SCAN_CANDIDATES];   /* words that look like saved frame pointers */
	__u32 ncand;
	__u32 n;
};

/* bpf_loop callback: word i of the scanned user stack. Only arithmetic here
 * (candidates are checked after the loop), so the verifier's pass over it
 * stays short and program loads stay fast. */
static long scan_word(__u32 i, struct scan_ctx *c)
{
	__u64 w;
	__u32 k = c->ncand;

	if (i >= PS_SCAN_WORDS)
		return 1;
	w = c->sc->words[i];
	if (!c->first_ret && in_text(w, c->start, c->end))
		c->first_ret = w;
	else if (k < SCAN_CANDIDATES && w > c->sp + i * 8 && w < c->sp + 65536 && !(w & 7)) {
		/* a masked index needs no exact bounds: the verifier's pass
		 * over this callback converges at once */
		c->cand[k & (SCAN_CANDIDATES - 1)] = w;
		c->ncand = k + 1;
	}
	return c->first_ret && c->ncand >= SCAN_CANDIDATES;
}

/* bpf_loop callback: candidate k is the saved frame pointer when the word
 * above it is a return address into the executable. */
static long check_cand(__u32 k, struct scan_ctx *c)
{
	__u64 w = c->cand[k & (SCAN_CANDIDATES - 1)], ret;

	if (bpf_probe_read_user(&ret, sizeof(ret), (void *)(w + 8)) || !in_text(ret, c->start, c->end))
		return 0;
	c->fp = w;
	return 1;
}

/* bpf_loop callback: one step of the frame-pointer walk from c->fp. */
static long walk_frame(__u32 i, struct scan_ctx *c)
{
	__u64 frame[2];
	__u64 n = c->n;

	barrier_var(n);
	if (!c->fp || n >= PS_STACK_DEPTH)
		return 1;
	if (bpf_probe_read_user(frame, sizeof(frame), (void *)c->fp) || !frame[1])
		return 1;
	if (frame[1] != c->first_ret) {
		c->sc->st.ips[n] = frame[1];
		c->n = n + 1;
	}
	c->fp = frame[0] > c->fp ? frame[0] : 0;
	return 0;
}

static __noinline __s32 ustack_recover(void *ctx, struct ps_scratch *sc, __u32 depth)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	struct scan_ctx c = { .sc = sc };

	if (!regs || depth == 0 || depth >= PS_STACK_DEPTH)
		return -1;
	c.sp = BPF_CORE_READ(regs, sp);
	c.start = BPF_CORE_READ(task, mm, start_code);
	c.end = BPF_CORE_READ(task, mm, end_code);
	if (bpf_probe_read_user(sc->words, sizeof(sc->words), (void *)c.sp))
		return -1;
	bpf_loop(PS_SCAN_WORDS, scan_word, &c, 0);
	if (!c.first_ret)
		return -1;
	__u64 at = depth;
	barrier_var(at);
	if (at >= PS_STACK_DEPTH)
		return -1;
	/* the first candidate with a return address into the executable above it */
	bpf_loop(c.ncand < SCAN_CANDIDATES ? c.ncand : SCAN_CANDIDATES, check_cand, &c, 0);
	sc->st.ips[at] = c.first_ret;
	c.n = at + 1;
	bpf_loop(32, walk_frame, &c, 0);
	return ustacks_put(&sc->st, c.n);
}

/* The user stack of the current task, recovered past frame-pointer-less
 * library frames when the plain walk is too short. */
static __always_inline __s32 ustack_id(void *ctx)
{
	__u32 zero = 0;
	struct ps_scratch *sc = bpf_map_lookup_elem(&scratch, &zero);
	long bytes;

	if (!sc)
		return stack_id(ctx, BPF_F_USER_STACK);
	bytes = bpf_get_stack(ctx, sc->st.ips, sizeof(sc->st.ips), BPF_F_USER_STACK);
	if (bytes >= 3 * 8 || bytes < 0) {
		__s32 id = stack_id(ctx, BPF_F_USER_STACK);
		return id;
	}
	__s32 id = ustack_recover(ctx, sc, bytes / 8);
	return id >= 0 ? id : stack_id(ctx, BPF_F_USER_STACK);
}

/* ---- futex (user-space lock) waits and wakes: --locks ---- */

#define FUTEX_CMD_MASK_ (~(128 | 256))   /* FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME */
#define ETIMEDOUT_ 110
#define EINTR_ 4
#define EAGAIN_ 11

static __always_inline bool futex_op_blocks(int cmd)
{
	/* WAIT, LOCK_PI, WAIT_BITSET, WAIT_REQUEUE_PI, LOCK_PI2 */
	return cmd == 0 || cmd == 6 || cmd == 9 || cmd == 11 || cmd == 13;
}

static __always_inline bool futex_op_wakes(int cmd)
{
	/* WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, UNLOCK_PI, WAKE_BITSET, CMP_REQUEUE_PI */
	return cmd == 1 || cmd == 3 || cmd == 4 || cmd == 5 || cmd == 7 || cmd == 10 || cmd == 12;
}

/* The traced thread of the current task (task storage, or task_hash on
 * the raw_tp fallback). */
static __always_inline struct ps_thread *current_thread(__u64 now, __u32 *slot)
{
	if (targ_raw)
		return thread_of((struct task_struct *)bpf_get_current_task(), slot, now, false);
	return thread_of(bpf_get_current_task_btf(), slot, now, true);
}

static __always_inline void futex_enter(void *ctx, __u64 uaddr, bool blocks, bool wakes)
{
	__u64 now = bpf_ktime_get_ns();
	struct ps_thread *th;
	__u32 slot = PS_NO_SLOT;

	if (!blocks && !wakes)
		return;
	th = current_thread(now, &slot);
	if (!th)
		return;
	/* one stack walk for both kinds of op: the code is verified once */
	__s32 ust = targ_raw ? stack_id(ctx, BPF_F_USER_STACK) : ustack_id(ctx);

	th->fx_uaddr = uaddr;
	th->fx_wake = wakes;
	th->fx_start = 0;
	if (blocks) {
		th->fx_ustack = ust;
		th->fx_busy0 = proc_active(th->proc, now);
		th->fx_start = now;
		return;
	}
	struct ps_wake_key wk = { .tgid = th->tgid, .uaddr = uaddr };
	struct ps_futex_wake *w = bpf_map_lookup_elem(&futex_wakes, &wk), wzero = {};

	if (!w) {
		bpf_map_update_elem(&futex_wakes, &wk, &wzero, BPF_NOEXIST);
		w = bpf_map_lookup_elem(&futex_wakes, &wk);
		if (!w) {
			__sync_fetch_and_add(&drops.futex_full, 1);
			return;
		}
	}
	__sync_fetch_and_add(&w->calls, 1);
	w->last_ns = now;
	w->last_slot = slot;
	w->last_ustack = ust;
}

static __always_inline void futex_exit(long ret)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 slot;
	struct ps_thread *th = current_thread(now, &slot);
	struct ps_futex_stat *st, zero = {};
	struct ps_futex_wake *w = NULL;
	__u64 wait, busy, proc_busy;

	if (!th)
		return;
	if (th->fx_wake) {
		struct ps_wake_key wk = { .tgid = th->tgid, .uaddr = th->fx_uaddr };
		struct ps_futex_wake *w = bpf_map_lookup_elem(&futex_wakes, &wk);

		th->fx_wake = 0;
		if (w && ret > 0)
			__sync_fetch_and_add(&w->woken, ret);
		return;
	}
	if (!th->fx_start || now < th->fx_start)
		return;
	wait = now - th->fx_start;
	/* how active the rest of the process was (several threads count up to
	 * the wait, no more) */
	proc_busy = proc_active(th->proc, now) - th->fx_busy0;
	if ((__s64)proc_busy < 0 || th->proc == PS_NO_SLOT)
		proc_busy = 0;
	if (proc_busy > wait)
		proc_busy = wait;
	if (ret == 0) {
		struct ps_wake_key wk = { .tgid = th->tgid, .uaddr = th->fx_uaddr };

		w = bpf_map_lookup_elem(&futex_wakes, &wk);
		if (w && w->last_ns < th->fx_start)
			w = NULL; /* that wake was before this wait: not ours */
	}
	if (w) {
		/* woken by a traced thread: busy for as long as the waker had
		 * been active (running or runnable) during the wait */
		__u32 ws = w->last_slot;
		struct ps_thread *waker = bpf_map_lookup_elem(&threads, &ws);
		__u64 as = waker ? waker->active_since : 0;

		busy = !as ? 0 : as <= th->fx_start ? wait : now > as ? now - as : 0;
	} else {
		busy = proc_busy; /* timed out, or no traced waker */
	}
	if (busy > wait)
		busy = wait;
	th->fx_start = 0;

	struct ps_futex_key key = {
		.tgid = th->tgid, .pid = th->tid, .ustack = th->fx_ustack, .uaddr = th->fx_uaddr,
	};
	st = bpf_map_lookup_elem(&futex_waits, &key);
	if (!st) {
		bpf_map_update_elem(&futex_waits, &key, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&futex_waits, &key);
		if (!st) {
			__sync_fetch_and_add(&drops.futex_full, 1);
			return;
		}
	}
	if (ret == -EAGAIN_) {
		__sync_fetch_and_add(&st->eagain, 1);
		return;
	}
	__sync_fetch_and_add(&st->waits, 1);
	__sync_fetch_and_add(&st->wait_ns, wait);
	__sync_fetch_and_add(&st->busy_ns, busy);
	__sync_fetch_and_add(&st->proc_busy_ns, proc_busy);
	if (wait > st->max_ns)
		st->max_ns = wait;
	__sync_fetch_and_add(&st->hist[hist_slot(wait)], 1);
	if (ret == -ETIMEDOUT_)
		__sync_fetch_and_add(&st->timeouts, 1);
	else if (ret == -EINTR_)
		__sync_fetch_and_add(&st->interrupted, 1);
	else if (w) {
		__sync_fetch_and_add(&st->woken_by_traced, 1);
		st->waker_ustack = w->last_ustack;
	}
}

/* One program for the entry of every futex syscall, and one for the exits:
 * the loader attaches them to sys_enter/exit_futex and to the futex2
 * syscalls the kernel has (futex_waitv 5.16, futex_wait/futex_wake 6.7),
 * which have the same numbers on every architecture. Each program is
 * verified once, not once per syscall: the entry program is the slowest part
 * of poolscope's start-up. */
#define NR_futex_waitv_ 449
#define NR_futex_wake_  454
#define NR_futex_wait_  455

SEC("tracepoint/syscalls/sys_enter_futex")
int ps_futex_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 uaddr = ctx->args[0];
	bool blocks, wakes;

	/* the record's syscall number is an int: the 4 bytes after it are
	 * padding, not zeroed */
	switch ((int)ctx->id) {
	case NR_futex_wait_:
		blocks = true, wakes = false;
		break;
	case NR_futex_wake_:
		blocks = false, wakes = true;
		break;
	case NR_futex_waitv_: {
		struct futex_waitv first = {};

		/* a wait on several futexes is filed under the first */
		bpf_probe_read_user(&first, sizeof(first), (void *)ctx->args[0]);
		uaddr = first.uaddr;
		blocks = true, wakes = false;
		break;
	}
	default: { /* futex(2) */
		int cmd = (int)ctx->args[1] & FUTEX_CMD_MASK_;

		blocks = futex_op_blocks(cmd), wakes = futex_op_wakes(cmd);
	}
	}
	futex_enter(ctx, uaddr, blocks, wakes);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_futex")
int ps_futex_exit(struct trace_event_raw_sys_exit *ctx)
{
	/* futex_waitv returns the index of the woken futex on success */
	futex_exit((int)ctx->id == NR_futex_waitv_ && ctx->ret > 0 ? 0 : ctx->ret);
	return 0;
}

/* ---- on-CPU sampling (software cpu-clock perf event): --stacks oncpu ---- */

SEC("perf_event")
int ps_oncpu(struct bpf_perf_event_data *ctx)
{
	__u64 now = bpf_ktime_get_ns();
	struct ps_thread *th;

	if (!(bpf_get_current_pid_tgid() >> 32))
		return 0; /* idle */
	__u32 slot;

	th = current_thread(now, &slot);
	if (!th)
		return 0;
	struct ps_stack_key key = {
		.tgid = th->tgid, .pid = th->tid,
		.ustack = stack_id(ctx, BPF_F_USER_STACK),
		.kstack = stack_id(ctx, 0),
	};
	stack_add(&oncpu, &key, 1, &drops.oncpu_full);
	return 0;
}
