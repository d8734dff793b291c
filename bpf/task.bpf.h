/* bpf/task.bpf.h: which tasks are traced and their thread slots: the
 * per-task state (task storage, or a preallocated hash before task storage
 * allocates safely), a thread's slot in the `threads` array, its process's
 * activity accounting for the lock evidence. */
#ifndef POOLSCOPE_TASK_BPF_H
#define POOLSCOPE_TASK_BPF_H

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

/* The `procs` slot of process tgid, allocated on first need (processes
 * beyond the slots share PS_OTHER_PROC). In -a mode processes are added to
 * traced_tgids here. */
static __always_inline __u32 proc_slot_of(__u32 tgid)
{
	__u32 none = PS_NO_SLOT, slot, old, *v;
	struct ps_proc *p;

	v = lookup_or_init(&traced_tgids, &tgid, &none, &drops.proc_full);
	if (!v)
		return PS_OTHER_PROC;
	if (*v != PS_NO_SLOT)
		return *v < PS_OTHER_PROC ? *v : PS_OTHER_PROC;
	slot = __sync_fetch_and_add(&next_proc, 1);
	if (slot >= PS_OTHER_PROC) {
		__sync_fetch_and_add(&drops.proc_full, 1);
		*v = PS_OTHER_PROC; /* never try again for this process */
		return PS_OTHER_PROC;
	}
	old = __sync_val_compare_and_swap(v, PS_NO_SLOT, slot);
	if (old != PS_NO_SLOT)
		return old < PS_OTHER_PROC ? old : PS_OTHER_PROC; /* another thread won */
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
struct fold_ctx {
	__u32 slot;
};

/* bpf_loop callback: the dead thread's on-CPU ns on CPU c starts afresh. */
static long zero_cpu_ns(__u32 c, struct fold_ctx *f)
{
	__u32 idx = f->slot * targ_nr_cpus + c;
	__u64 *ns = bpf_map_lookup_elem(&thread_cpu_ns, &idx);

	if (ns)
		*ns = 0;
	return 0;
}

/* Fold the dead thread in slot into its process's exited totals and clear
 * the slot for a new thread (only once every slot has been handed out). */
static __noinline void slot_fold(__u32 slot, __u64 now)
{
	struct ps_thread *old = bpf_map_lookup_elem(&threads, &slot);
	struct fold_ctx f = { .slot = slot };
	struct ps_exited *ex;
	struct ps_proc *p;
	__u32 proc;

	if (!old)
		return;
	proc = old->proc < PS_MAX_TGIDS ? old->proc : PS_OTHER_PROC;
	p = bpf_map_lookup_elem(&procs, &proc);
	if (p) {
		__u64 from = old->first_ns > trace_start_ns ? old->first_ns : trace_start_ns;
		__u64 to = old->exit_ns ? old->exit_ns : now;

		ex = &p->ex;
		__sync_fetch_and_add(&ex->threads, 1);
		__sync_fetch_and_add(&ex->life_ns, to > from ? to - from : 0);
#define FOLD(f) __sync_fetch_and_add(&ex->f, old->f);
		PS_THREAD_SUMS(FOLD)
#undef FOLD
		if (old->runq_max_ns > ex->runq_max_ns)
			ex->runq_max_ns = old->runq_max_ns;
		for (int i = 0; i < PS_HIST_SLOTS; i++)
			if (old->runq_hist[i])
				__sync_fetch_and_add(&ex->runq_hist[i], old->runq_hist[i]);
	}
	bpf_loop(targ_nr_cpus, zero_cpu_ns, &f, 0);
	__builtin_memset(old, 0, sizeof(*old));
}

/* A free thread slot: a fresh one while they last, then one a dead thread
 * left (folded first); PS_NO_SLOT when none is free. */
static __always_inline __u32 slot_take(__u64 now)
{
	__u32 slot = __sync_fetch_and_add(&next_slot, 1);

	if (slot < targ_max_threads)
		return slot;
	if (bpf_map_pop_elem(&free_slots, &slot) || slot >= targ_max_threads)
		return PS_NO_SLOT;
	slot_fold(slot, now);
	return slot;
}

/* Give task t a thread slot and initialise it. */
static __always_inline struct ps_thread *thread_new(struct task_struct *t, struct ps_task *st,
						    __u32 parent_tid, __u64 now, bool btf)
{
	struct ps_thread *th;
	__u32 slot = slot_take(now);

	st->traced = 1;
	th = slot == PS_NO_SLOT ? NULL : bpf_map_lookup_elem(&threads, &slot);
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

/* A task seen for the first time: classify it (every task, its process in
 * traced_tgids, or its thread in traced_tids) and keep the verdict in its
 * storage, so later events cost one lookup. Its thread slot, or PS_NO_SLOT
 * when untraced or dropped. A subprogram: every program calls it, and
 * verified apart from each caller's own branches it keeps loads fast. */
static __noinline __u32 task_first_seen(struct task_struct *t, __u64 now, bool btf)
{
	struct ps_thread *th;
	struct ps_task *st;
	__u32 tgid = TASK_FIELD(btf, t, tgid);

	if (targ_tids) {
		__u32 tid = TASK_FIELD(btf, t, pid);

		if (!bpf_map_lookup_elem(&traced_tids, &tid)) {
			if (btf && !targ_task_hash)
				task_create(t, btf);
			return PS_NO_SLOT;
		}
	} else if (!targ_all && !bpf_map_lookup_elem(&traced_tgids, &tgid)) {
		/* task_hash: no negative cache, it holds traced tasks only */
		if (btf && !targ_task_hash)
			task_create(t, btf);
		return PS_NO_SLOT;
	}
	st = task_create(t, btf);
	if (!st) {
		__sync_fetch_and_add(&drops.storage_fail, 1);
		return PS_NO_SLOT;
	}
	th = thread_new(t, st, 0, now, btf);
	return th ? st->slot : PS_NO_SLOT;
}

/* The traced thread of task t (st: its per-task state, NULL when first
 * seen), or NULL when t is not traced. */
static __always_inline struct ps_thread *thread_of_st(struct task_struct *t, struct ps_task *st,
						      __u32 *slotp, __u64 now, bool btf)
{
	if (!st) {
		*slotp = task_first_seen(t, now, btf);
		return *slotp == PS_NO_SLOT ? NULL : bpf_map_lookup_elem(&threads, slotp);
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
/* The traced thread of the current task (task storage, or task_hash on
 * the raw_tp fallback). */
static __always_inline struct ps_thread *current_thread(__u64 now, __u32 *slot)
{
	if (targ_raw)
		return thread_of((struct task_struct *)bpf_get_current_task(), slot, now, false);
	return thread_of(bpf_get_current_task_btf(), slot, now, true);
}
#endif
