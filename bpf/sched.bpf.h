/* bpf/sched.bpf.h: the scheduler accounting: context switches (voluntary
 * or not, as the kernel counts them), on-CPU and blocked time, run-queue
 * latency, migrations, forks, execs and exits of traced threads, and the
 * cgroup moves that make tasks enter or leave the trace (--cgroup). */
#ifndef POOLSCOPE_SCHED_BPF_H
#define POOLSCOPE_SCHED_BPF_H

/* prev, a traced thread, leaves the CPU after d ns on it. */
static __always_inline void switch_out(void *ctx, struct ps_cpu *c, struct ps_thread *pt,
				       __u32 slot, struct task_struct *prev, bool preempt,
				       unsigned int prev_state, __u64 d, __u32 cpu, __u64 now,
				       bool btf)
{
	__u32 idx = slot * targ_nr_cpus + cpu;
	__u64 *cpu_ns = bpf_map_lookup_elem(&thread_cpu_ns, &idx);
	__u64 run_start = pt->oncpu_since;

	/* a thread that entered the trace while on this CPU (the modes where
	 * tasks enter: the branch costs the verifier 3k states) counts from then */
	if ((targ_cg_id || targ_by_comm) && run_start && now - run_start < d)
		d = now - run_start;
	c->traced_ns += d;
	pt->oncpu_ns += d;
	if (cpu_ns)
		*cpu_ns += d;
	pt->oncpu_since = 0;
	if (prev_state & TASK_DEAD_STATE) {
		/* A dead task's last switch: __schedule() counts it in nvcsw, but
		 * release_task() summed the thread's counters into its process
		 * (getrusage) before, and /proc no longer shows it: not counted.
		 * Its slot can be reused (its counters stay until then); with
		 * task_hash its entry goes with it (task storage is freed by the
		 * kernel with the task). */
		__u32 tid = TASK_FIELD(btf, prev, pid);

		pt->blocked_since = 0;
		if (targ_locks)
			thread_deactivate(pt, now);
		if (bpf_map_push_elem(&free_slots, &slot, 0))
			__sync_fetch_and_add(&drops.slot_queue_full, 1);
		if (!btf || targ_task_hash)
			bpf_map_delete_elem(&task_hash, &tid);
		return;
	}
	c->switches++;
	if (targ_offcpu)
		offcpu_capture(ctx, pt, prev, prev_state == 0 || preempt, now, btf);
	/* As __schedule() counts nivcsw/nvcsw: a preemption, or a task that
	 * was still runnable, is involuntary. Since 6.16 a sleep cut short by
	 * a pending signal reports prev_state 0 yet counts as voluntary: tell
	 * it by the task's TIF_SIGPENDING. */
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
		if (targ_locks && !targ_futex_syscalls)
			futex_switch_out(ctx, pt, targ_offcpu ? pt->off_ustack : PS_NO_STACK,
					 run_start, now);
	}
}

/* nt, a traced thread, gets the CPU: a run-queue wait ends, a blocked
 * span's stack and a futex wait are recorded. */
static __always_inline void switch_in(struct ps_cpu *c, struct ps_thread *nt,
				      struct task_struct *next, __u32 cpu, __u64 now, bool btf)
{
	__u64 woke_at = nt->runnable_since;

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
			.pystack = nt->off_pystack,
		};

		stack_add(&offcpu, &key, now - nt->off_start, &drops.offcpu_full);
		nt->off_start = 0;
	}
	if (targ_locks && !targ_futex_syscalls && nt->fx_start)
		futex_wait_end(nt, FUTEX_END_SEEN,
			       TASK_FIELD(btf, next, thread_info.flags) & (1UL << TIF_SIGPENDING_),
			       woke_at, now);
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
	tl_switch(preempt, prev, next, prev_state, btf);
	/* prev has had this CPU since the last switch here (or since the trace
	 * began, for the first switch seen on this CPU). */
	since = c->since_ns ? c->since_ns : trace_start_ns;
	d = since && now > since ? now - since : 0;
	if (TASK_FIELD(btf, prev, pid)) {
		c->busy_ns += d;
		pt = thread_of(prev, &slot, now, btf);
		/* task_hash and task_neg keep untraced tasks too in these modes */
		if (!pt && (prev_state & TASK_DEAD_STATE) && (targ_cg_id || targ_by_comm) &&
		    (!btf || targ_task_hash))
			task_forget(prev);
	}
	if (pt)
		switch_out(ctx, c, pt, slot, prev, preempt, prev_state, d, cpu, now, btf);
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
	switch_in(c, nt, next, cpu, now, btf);
}

static __always_inline void handle_wakeup(struct task_struct *p, bool btf, bool new_task)
{
	struct ps_task *st = task_lookup(p, btf);
	struct ps_thread *th;
	__u64 now;
	__u32 slot;

	/* Most wakeups on a busy machine are of tasks already known untraced:
	 * leave before reading the clock (37 ns in this VM, the largest single
	 * cost of the program). */
	if (st && !st->traced && !(targ_cg_id && st->epoch != cg_epoch))
		return;
	now = bpf_ktime_get_ns();
	th = thread_of_st(p, st, &slot, now, btf);
	if (!th)
		return;
	/* A thread first seen at its wakeup was asleep when the trace began
	 * (one that entered the trace later, since it entered). */
	if (!th->blocked_since && th->first_ns == now && trace_start_ns &&
	    !(th->flags & PS_THREAD_ENTERED))
		th->blocked_since = trace_start_ns;
	if (th->blocked_since && now > th->blocked_since)
		th->blocked_ns += now - th->blocked_since;
	th->blocked_since = 0;
	th->runnable_since = now;
	th->wakeups++;
	if (targ_locks)
		thread_activate(th, now);
	if (new_task)
		tl_event(PS_TL_WAKEUP_NEW, p, task_cpu_of(p), 0, btf);
}

static __always_inline void handle_fork(struct task_struct *parent, struct task_struct *child,
					bool btf)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 slot, ptid = TASK_FIELD(btf, parent, pid);
	__u32 ctgid = TASK_FIELD(btf, child, tgid);
	struct ps_thread *th;
	struct ps_task *st;

	/* with -a, the children of poolscope itself (run -a's command) are
	 * traced from their birth */
	if (targ_tids || (!thread_of(parent, &slot, now, btf) && !targ_all) ||
	    (targ_all && ctgid == targ_self_tgid))
		return;
	/* clone3(CLONE_INTO_CGROUP) may start it in another cgroup: it is
	 * decided at its first event */
	if (targ_cg_id && !task_in_cgroup(child))
		return;
	if (ctgid != TASK_FIELD(btf, parent, tgid)) {
		if (!targ_follow_forks && !targ_all && !targ_cg_id &&
		    !(targ_by_comm && task_comm_matches(child)))
			return;
		__u32 none = PS_NO_SLOT;

		if (bpf_map_update_elem(&traced_tgids, &ctgid, &none, BPF_ANY))
			__sync_fetch_and_add(&drops.tgid_full, 1);
		py_fork(TASK_FIELD(btf, parent, tgid), ctgid);
	}
	st = task_create(child, btf);
	if (!st) {
		__sync_fetch_and_add(&drops.storage_fail, 1);
		return;
	}
	st->epoch = cg_epoch;
	th = thread_new(child, st, ptid, now);
	if (th)
		th->flags |= PS_THREAD_FORKED;
	tl_pair(PS_TL_FORK, parent, child, 0, btf);
}

static __always_inline void handle_exec(struct task_struct *p, bool btf)
{
	__u64 now = bpf_ktime_get_ns();
	struct ps_task *st = task_lookup(p, btf);
	struct ps_thread *th;
	__u32 slot;

	/* --comm: the name it has now decides (the task enters or leaves) */
	if (targ_by_comm) {
		slot = st ? task_redecide(p, st, now, btf) : task_first_seen(p, now, btf);
		th = slot == PS_NO_SLOT ? NULL : bpf_map_lookup_elem(&threads, &slot);
	} else {
		th = thread_of_st(p, st, &slot, now, btf);
	}
	if (!th)
		return;
	/* exec from a non-leader thread takes over the leader's pid */
	thread_set_ids(slot, p);
	th->flags |= PS_THREAD_EXECED;
	py_exec(th->tgid);
	bpf_probe_read_kernel_str(th->comm, sizeof(th->comm), &p->comm);
	tl_event(PS_TL_EXEC, p, 0, 0, btf);
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
	tl_event(PS_TL_EXIT, p, 0, 0, btf);
}

/* cgroup:cgroup_attach_task (--cgroup): task, or with threadgroup its
 * whole process, moved to another cgroup of some hierarchy. Every task
 * decided before is decided again at its next event (a new epoch); the
 * moved task at once, so that one moving itself (echo $$ > cgroup.procs)
 * enters or leaves exactly then. */
static __always_inline void handle_cgroup_attach(struct task_struct *task, bool btf)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 slot;

	__sync_fetch_and_add(&cg_epoch, 1);
	thread_of(task, &slot, now, btf);
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
	tl_event(PS_TL_MIGRATE, p, dst, src, btf);
}
#endif
