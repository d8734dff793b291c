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
const volatile __u32 targ_nr_cpus = 1;
const volatile __u32 targ_max_threads = PS_DEFAULT_MAX_THREADS;

/* Written by the loader just before attach: the start of the trace window,
 * used for tasks already running or sleeping when tracing began. */
__u64 trace_start_ns = 0;
__u32 next_slot = 0;
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

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_TGIDS);
	__type(key, __u32);
	__type(value, __u32);
} traced_tgids SEC(".maps");

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
	__u32 s = log2_u64(ns);

	return s < PS_HIST_SLOTS ? s : PS_HIST_SLOTS - 1;
}

static __always_inline struct ps_task *task_lookup(struct task_struct *t, bool btf)
{
	if (btf)
		return bpf_task_storage_get(&task_store, t, 0, 0);
	__u32 tid = BPF_CORE_READ(t, pid);
	return bpf_map_lookup_elem(&task_hash, &tid);
}

static __always_inline struct ps_task *task_create(struct task_struct *t, bool btf)
{
	struct ps_task zero = {};

	if (btf)
		return bpf_task_storage_get(&task_store, t, &zero,
					    BPF_LOCAL_STORAGE_GET_F_CREATE);
	__u32 tid = BPF_CORE_READ(t, pid);
	if (bpf_map_update_elem(&task_hash, &tid, &zero, BPF_NOEXIST))
		return NULL;
	return bpf_map_lookup_elem(&task_hash, &tid);
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
	bpf_probe_read_kernel_str(th->comm, sizeof(th->comm), &t->comm);
	st->slot = slot;
	return th;
}

/* The traced thread of task t, or NULL when t is not traced. The first time a
 * task is seen it is classified (every task, or its process in traced_tgids)
 * and the verdict is kept in its storage, so later events cost one lookup. */
static __always_inline struct ps_thread *thread_of(struct task_struct *t, __u32 *slotp,
						   __u64 now, bool btf)
{
	struct ps_task *st = task_lookup(t, btf);
	__u32 tgid;

	if (!st) {
		tgid = TASK_FIELD(btf, t, tgid);
		if (!targ_all && !bpf_map_lookup_elem(&traced_tgids, &tgid)) {
			/* raw_tp: no negative cache, the hash holds traced tasks only */
			if (btf)
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

static __always_inline void handle_switch(bool preempt, struct task_struct *prev,
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
		/* As __schedule() counts nivcsw/nvcsw: a preemption, or a task
		 * that was still runnable, is involuntary. */
		if (preempt || prev_state == 0) {
			pt->invol++;
			c->invol++;
			pt->runnable_since = now;
		} else {
			pt->vol++;
			c->vol++;
			pt->runnable_since = 0;
			pt->blocked_since = now;
		}
		/* raw_tp: a dead task's last switch; its hash entry goes with it
		 * (task storage is freed by the kernel with the task) */
		if (!btf && (prev_state & TASK_DEAD_STATE)) {
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
}

static __always_inline void handle_wakeup(struct task_struct *p, bool btf)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 slot, zero = 0;
	struct ps_thread *th = thread_of(p, &slot, now, btf);
	struct ps_cpu *c;

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
	c = bpf_map_lookup_elem(&cpus, &zero);
	if (c)
		c->wakeups++;
}

static __always_inline void handle_fork(struct task_struct *parent, struct task_struct *child,
					bool btf)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 slot, ptid = TASK_FIELD(btf, parent, pid);
	__u32 ctgid = TASK_FIELD(btf, child, tgid);
	struct ps_thread *th;
	struct ps_task *st;

	if (!thread_of(parent, &slot, now, btf))
		return;
	if (ctgid != TASK_FIELD(btf, parent, tgid)) {
		__u32 one = 1;

		if (bpf_map_update_elem(&traced_tgids, &ctgid, &one, BPF_ANY))
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
	handle_switch(preempt, prev, next, prev_state, true);
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
	handle_switch(preempt, prev, next, prev_state, false);
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
