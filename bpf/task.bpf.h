/* bpf/task.bpf.h: which tasks are traced and their thread slots: the
 * per-task state (task storage, or a preallocated hash before task storage
 * allocates safely), the decision whether a task is traced (by process,
 * thread, cgroup subtree or name; decided again when it moves to another
 * cgroup or execs), its ids in the PID namespaces, a thread's slot in the
 * `threads` array, its process's activity accounting for the lock
 * evidence. */
#ifndef POOLSCOPE_TASK_BPF_H
#define POOLSCOPE_TASK_BPF_H

/* The deepest cgroup the --cgroup scan looks at (the kernel's own bound,
 * cgroup.max.depth, is unlimited by default; systemd and kubernetes nest
 * 3-6 deep). */
#define PS_CG_MAX_LEVEL 64

static __always_inline struct ps_task *task_lookup(struct task_struct *t, bool btf)
{
	struct ps_task *st;
	__u32 tid;

	if (btf && !targ_task_hash)
		return bpf_task_storage_get(&task_store, t, 0, 0);
	tid = BPF_CORE_READ(t, pid);
	st = bpf_map_lookup_elem(&task_hash, &tid);
	if (!st && (targ_cg_id || targ_by_comm))
		st = bpf_map_lookup_elem(&task_neg, &tid);
	return st;
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

/* Task t is not traced: remember that, so its next events cost a lookup.
 * task_hash holds traced tasks only (a traced_tgids lookup decides the
 * others about as fast); deciding by cgroup or name costs more, so those
 * modes keep their verdicts in task_neg. */
static __always_inline void task_untraced(struct task_struct *t, bool btf)
{
	struct ps_task neg = { .slot = PS_NO_SLOT, .epoch = cg_epoch };
	__u32 tid;

	if (btf && !targ_task_hash) {
		bpf_task_storage_get(&task_store, t, &neg, BPF_LOCAL_STORAGE_GET_F_CREATE);
		return;
	}
	if (!targ_cg_id && !targ_by_comm)
		return;
	tid = BPF_CORE_READ(t, pid);
	bpf_map_update_elem(&task_neg, &tid, &neg, BPF_ANY);
}

/* A dead task's entries (task_hash, task_neg: task storage goes with the
 * task), at its last switch. */
static __always_inline void task_forget(struct task_struct *t)
{
	__u32 tid = BPF_CORE_READ(t, pid);

	bpf_map_delete_elem(&task_hash, &tid);
	if (targ_cg_id || targ_by_comm)
		bpf_map_delete_elem(&task_neg, &tid);
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

/* One load of x, not folded into another read of it by the compiler. */
#define PS_READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))

/* Active ns of process p up to now (see struct ps_proc). */
static __always_inline __u64 proc_active(const struct ps_proc *p, __u64 now)
{
	return PS_READ_ONCE(p->active_acc) + (__u64)PS_READ_ONCE(p->active) * now -
	       PS_READ_ONCE(p->since_sum);
}

/* proc_active of process slot proc, read so that another CPU's
 * thread_activate or thread_deactivate half done (its counters are updated
 * one atomic at a time) does not show: such a read is off by a timestamp,
 * about the uptime, while two good reads a moment apart differ by the
 * active threads times that moment. Two reads that agree within
 * PROC_READ_AGREE_NS are taken; else a third that agrees with either;
 * else PROC_ACTIVE_UNKNOWN. Only futex waits read it (their start and
 * end), not every switch. */
#define PROC_READ_AGREE_NS 1000000ull
#define PROC_ACTIVE_UNKNOWN (~0ull)

static __always_inline bool proc_reads_agree(__u64 a, __u64 b)
{
	return a - b + PROC_READ_AGREE_NS <= 2 * PROC_READ_AGREE_NS;
}

static __noinline __u64 proc_active_read(__u32 proc, __u64 now)
{
	const struct ps_proc *p = bpf_map_lookup_elem(&procs, &proc);
	__u64 a, b, c;

	if (!p)
		return 0;
	a = proc_active(p, now);
	b = proc_active(p, now);
	if (proc_reads_agree(a, b))
		return b;
	c = proc_active(p, now);
	return proc_reads_agree(c, b) || proc_reads_agree(c, a) ? c : PROC_ACTIVE_UNKNOWN;
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
		ex->cgroup_id = old->cgroup_id;
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

/* ---- what a task is: its ids, its cgroup, its name ---- */

struct pidns_scan {
	struct pid *pid;
	__u32 found1;
};

/* bpf_loop callback: is the namespace at depth i poolscope's? */
static long pidns_match(__u32 i, struct pidns_scan *s)
{
	if (pid_ns_inum_at(s->pid, i) != targ_pidns_ino)
		return 0;
	s->found1 = i + 1;
	return 1;
}

/* The depth of poolscope's PID namespace plus one, or 0 when the task of
 * pid (at depth level) is outside it. Found once by scanning a task's
 * namespaces, then only checked. */
static __always_inline __u32 view_level_of(struct pid *pid, __u32 level)
{
	struct pidns_scan s = { .pid = pid };
	__u32 v = view_level1;

	if (v)
		return v <= level + 1 && pid_ns_inum_at(pid, v - 1) == targ_pidns_ino ? v : 0;
	bpf_loop(level + 1, pidns_match, &s, 0);
	if (s.found1)
		view_level1 = s.found1;
	return s.found1;
}

/* Poolscope in a PID namespace: task t (its thread, or its process) is a
 * target its user named by the id they see (traced_view). */
static __always_inline bool view_target(struct task_struct *t, bool thread)
{
	struct pid *pid = thread ? BPF_CORE_READ(t, thread_pid) :
				   BPF_CORE_READ(t, group_leader, thread_pid);
	__u32 level = BPF_CORE_READ(pid, level), v, id;

	if (level > PIDNS_MAX_LEVEL)
		return false;
	v = view_level_of(pid, level);
	id = v ? pid_nr_at(pid, v - 1) : 0;
	return id && bpf_map_lookup_elem(&traced_view, &id);
}

/* ---- global functions: verified once per program, whoever calls them,
 * which keeps loads fast. They take scalars only (a global function's
 * pointer arguments must be to memory of known size): a task is passed by
 * its address and read with probe reads. ---- */

/* A task's address as a scalar: read it back from the stack (a helper
 * argument of any type), since a typed pointer cannot be converted. */
static __always_inline __u64 task_addr(struct task_struct *t)
{
	__u64 a = 0;

	bpf_probe_read_kernel(&a, sizeof(a), &t);
	return a;
}

/* The ids and cgroup of the thread in slot, from its task: at first sight,
 * fork, exec (a non-leader's exec takes the leader's pid) and when it
 * enters the trace. */
__noinline int thread_ids_at(__u64 task, __u32 slot)
{
	struct task_struct *t = (struct task_struct *)task;
	struct ps_thread *th = bpf_map_lookup_elem(&threads, &slot);
	struct pid *tp = BPF_CORE_READ(t, thread_pid);
	struct pid *pp = BPF_CORE_READ(t, group_leader, thread_pid);
	__u32 level = BPF_CORE_READ(tp, level), v;

	if (!th)
		return -1;
	th->tid = BPF_CORE_READ(t, pid);
	th->tgid = BPF_CORE_READ(t, tgid);
	th->view_tid = th->tid;
	th->view_pid = th->tgid;
	th->cgroup_id = cgroup_id_of(task_cgroup(t, targ_cg_hier));
	if (level > PIDNS_MAX_LEVEL)
		return 0;
	th->ns_level = level;
	th->ns_tid = pid_nr_at(tp, level);
	th->ns_pid = pid_nr_at(pp, level);
	if (!targ_pidns_ino)
		return 0;
	v = view_level_of(tp, level);
	th->view_tid = v ? pid_nr_at(tp, v - 1) : 0;
	th->view_pid = v ? pid_nr_at(pp, v - 1) : 0;
	return 0;
}

static __always_inline void thread_set_ids(__u32 slot, struct task_struct *t)
{
	thread_ids_at(task_addr(t), slot);
}

struct cg_scan {
	struct cgroup *cg;
	__u32 found1;
};

/* bpf_loop callback: is cg's ancestor at depth i the subtree's root? */
static long cg_match(__u32 i, struct cg_scan *s)
{
	if (cgroup_ancestor_id(s->cg, i) != targ_cg_id)
		return 0;
	s->found1 = i + 1;
	return 1;
}

/* Task t is in the --cgroup subtree: its cgroup in the hierarchy, or an
 * ancestor of it, is the subtree's root. The root's depth is not known
 * beforehand (the path poolscope was given may be relative to a cgroup
 * namespace): each task's ancestors are scanned until one is found in the
 * subtree, then only the ancestor at that depth is compared. */
static __always_inline bool task_in_cgroup(struct task_struct *t)
{
	struct cgroup *cg = task_cgroup(t, targ_cg_hier);
	struct cg_scan s = { .cg = cg };
	__u32 want = cg_level1;
	int level;

	if (!cg)
		return false;
	level = BPF_CORE_READ(cg, level);
	if (level < 0 || level > PS_CG_MAX_LEVEL)
		return false;
	if (want)
		return level + 1 >= want && cgroup_ancestor_id(cg, want - 1) == targ_cg_id;
	bpf_loop(level + 1, cg_match, &s, 0);
	if (s.found1)
		cg_level1 = s.found1;
	return s.found1;
}

/* attach --comm: the process's name is the one wanted. That is its group
 * leader's comm, what /proc/PID/comm shows for the process, set from the
 * program's file name at exec (threads may rename themselves). */
static __always_inline bool task_comm_matches(struct task_struct *t)
{
	struct task_struct *leader = BPF_CORE_READ(t, group_leader);
	char comm[PS_COMM_LEN];

	if (bpf_probe_read_kernel_str(comm, sizeof(comm), &leader->comm) < 0)
		return false;
	for (int i = 0; i < PS_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

/* Whether a task is to be traced: the whole machine, a cgroup subtree, a
 * process name (and with --children what those processes fork), single
 * threads, or processes (those the loader named, and their forks). */
__noinline int task_wanted_at(__u64 task)
{
	struct task_struct *t = (struct task_struct *)task;
	__u32 tgid = BPF_CORE_READ(t, tgid), none = PS_NO_SLOT;

	if (targ_all)
		return tgid != targ_self_tgid; /* every task but poolscope */
	if (targ_cg_id)
		return task_in_cgroup(t);
	if (targ_by_comm)
		return task_comm_matches(t) ||
		       (targ_follow_forks && bpf_map_lookup_elem(&traced_tgids, &tgid));
	if (targ_tids) {
		__u32 tid = BPF_CORE_READ(t, pid);

		return bpf_map_lookup_elem(&traced_tids, &tid) ||
		       (targ_pidns_ino && view_target(t, true));
	}
	if (bpf_map_lookup_elem(&traced_tgids, &tgid))
		return 1;
	if (!targ_pidns_ino || !view_target(t, false))
		return 0;
	/* its other threads find it at once */
	bpf_map_update_elem(&traced_tgids, &tgid, &none, BPF_NOEXIST);
	return 1;
}

static __always_inline bool task_wanted(struct task_struct *t)
{
	return task_wanted_at(task_addr(t)) > 0;
}

/* A thread slot for a task, initialised: the slot, or PS_NO_SLOT (counted
 * as dropped) when none is free. */
__noinline int thread_create_at(__u64 task, __u32 parent_tid, __u64 now)
{
	struct task_struct *t = (struct task_struct *)task;
	__u32 slot = slot_take(now);
	struct ps_thread *th = slot == PS_NO_SLOT ? NULL : bpf_map_lookup_elem(&threads, &slot);

	if (!th) {
		__sync_fetch_and_add(&drops.no_slot_threads, 1);
		return PS_NO_SLOT;
	}
	thread_ids_at(task, slot);
	th->parent_tid = parent_tid;
	th->first_ns = now;
	th->proc = proc_slot_of(th->tgid);
	bpf_probe_read_kernel_str(th->comm, sizeof(th->comm), &t->comm);
	return slot;
}

/* Give task t a thread slot (kept in its state st). */
static __always_inline struct ps_thread *thread_new(struct task_struct *t, struct ps_task *st,
						    __u32 parent_tid, __u64 now)
{
	__u32 slot = thread_create_at(task_addr(t), parent_tid, now);

	st->traced = 1;
	st->slot = slot;
	return slot == PS_NO_SLOT ? NULL : bpf_map_lookup_elem(&threads, &slot);
}

/* A task seen for the first time: classify it (task_wanted) and keep the
 * verdict in its storage, so later events cost one lookup. Its thread slot,
 * or PS_NO_SLOT when untraced or dropped. A subprogram: every program calls
 * it, and verified apart from each caller's own branches it keeps loads
 * fast. */
static __noinline __u32 task_first_seen(struct task_struct *t, __u64 now, bool btf)
{
	struct ps_thread *th;
	struct ps_task *st;

	if (!task_wanted(t)) {
		task_untraced(t, btf);
		return PS_NO_SLOT;
	}
	st = task_create(t, btf);
	if (!st) {
		__sync_fetch_and_add(&drops.storage_fail, 1);
		return PS_NO_SLOT;
	}
	st->epoch = cg_epoch;
	th = thread_new(t, st, 0, now);
	return th ? st->slot : PS_NO_SLOT;
}

/* Traced thread th (in slot) stops being traced while alive: its spans in
 * progress end now, its counters stay. The CPU it may be running on keeps
 * counting the span as traced until its next switch (that CPU's state is
 * not this program's to change). */
static __always_inline void thread_leave(struct ps_thread *th, __u32 slot, __u64 now)
{
	if (th->oncpu_since && now > th->oncpu_since) {
		__u32 idx = slot * targ_nr_cpus + th->cpu;
		__u64 *ns = bpf_map_lookup_elem(&thread_cpu_ns, &idx);

		th->oncpu_ns += now - th->oncpu_since;
		if (ns)
			*ns += now - th->oncpu_since;
	}
	if (th->blocked_since && now > th->blocked_since)
		th->blocked_ns += now - th->blocked_since;
	th->oncpu_since = th->blocked_since = th->runnable_since = 0;
	th->fx_start = 0;
	if (targ_locks)
		thread_deactivate(th, now);
	th->exit_ns = now;
	th->flags |= PS_THREAD_LEFT;
}

/* Task t (its thread th) starts being traced in the middle of its life. A
 * run in progress counts from now (switch_out clamps to oncpu_since), a
 * sleep from now; a run-queue wait already begun is not counted, as for
 * the tasks runnable when the trace began. */
static __always_inline void thread_enter(struct ps_thread *th, __u32 slot, struct task_struct *t,
					 __u64 now)
{
	thread_set_ids(slot, t);
	th->flags = (th->flags | PS_THREAD_ENTERED) & ~PS_THREAD_LEFT;
	th->exit_ns = 0;
	if (task_on_cpu(t)) {
		th->oncpu_since = now;
		th->cpu = task_cpu_of(t);
	} else if (!task_runnable(t)) {
		th->blocked_since = now;
	}
	if (targ_locks && !th->blocked_since)
		thread_activate(th, now);
}

/* Task t, classified before (st), is decided again: it moved to another
 * cgroup (--cgroup) or exec'd (--comm). It enters or leaves the trace; one
 * that leaves keeps its slot and counters, and takes them up again if it
 * comes back. Its slot, or PS_NO_SLOT when untraced. */
static __noinline __u32 task_redecide(struct task_struct *t, struct ps_task *st, __u64 now,
				      bool btf)
{
	bool want = task_wanted(t);
	__u32 slot = st->slot, tid;
	struct ps_thread *th = NULL;

	st->epoch = cg_epoch;
	if (slot != PS_NO_SLOT)
		th = bpf_map_lookup_elem(&threads, &slot);
	if (want && st->traced) {
		if (th) /* it may have moved within the subtree */
			th->cgroup_id = cgroup_id_of(task_cgroup(t, targ_cg_hier));
		return th ? slot : PS_NO_SLOT;
	}
	if (!want) {
		if (st->traced && th)
			thread_leave(th, slot, now);
		st->traced = 0;
		return PS_NO_SLOT;
	}
	if (th) {
		st->traced = 1;
	} else {
		/* never traced: with task_hash its verdict was in task_neg */
		if (!btf || targ_task_hash) {
			tid = BPF_CORE_READ(t, pid);
			bpf_map_delete_elem(&task_neg, &tid);
			st = task_create(t, btf);
			if (!st) {
				__sync_fetch_and_add(&drops.storage_fail, 1);
				return PS_NO_SLOT;
			}
			st->epoch = cg_epoch;
		}
		th = thread_new(t, st, 0, now);
		if (!th)
			return PS_NO_SLOT;
		slot = st->slot;
	}
	thread_enter(th, slot, t, now);
	return slot;
}

/* The traced thread of task t (st: its per-task state, NULL when first
 * seen), or NULL when t is not traced; with --cgroup, decided again after
 * a cgroup move. */
static __always_inline struct ps_thread *thread_of_st(struct task_struct *t, struct ps_task *st,
						      __u32 *slotp, __u64 now, bool btf)
{
	if (!st || (targ_cg_id && st->epoch != cg_epoch)) {
		*slotp = st ? task_redecide(t, st, now, btf) : task_first_seen(t, now, btf);
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
