/* bpf/timeline.bpf.h: --timeline: every context switch on the traced CPUs
 * (any task: a core's track is complete), and the wakeups, migrations,
 * forks, execs, exits and futex waits of traced tasks, in order, through a
 * BPF ring buffer the loader drains every slice. A full buffer loses the
 * record and counts it on its CPU (ps_cpu.tl_lost): never silent. Off
 * (targ_timeline false), every call below is dead code the verifier drops. */
#ifndef POOLSCOPE_TIMELINE_BPF_H
#define POOLSCOPE_TIMELINE_BPF_H

/* include/linux/sched.h: TASK_REPORT (the states a tracepoint reports),
 * TASK_IDLE reported as TASK_REPORT_IDLE, and the "preempted" value */
#define TASK_REPORT_       0x7f
#define TASK_IDLE_         0x402
#define TASK_REPORT_IDLE_  0x80
#define TASK_REPORT_MAX_   0x100

/* prev_state as trace_sched_switch prints it (__trace_sched_switch_state):
 * a preemption is TASK_REPORT_MAX; otherwise the highest reported state bit. */
static __always_inline __s64 tl_switch_state(bool preempt, unsigned int state, unsigned int exit_state)
{
	unsigned int s = (state | exit_state) & TASK_REPORT_;

	if (preempt)
		return TASK_REPORT_MAX_;
	if (state == TASK_IDLE_)
		s = TASK_REPORT_IDLE_;
	if (!s)
		return 0;
	return 1ll << log2_u64(s);
}

/* A record to fill, or NULL (counted lost) when the buffer is full. */
static __always_inline struct ps_tl_rec *tl_reserve(enum ps_tl_kind kind)
{
	__u32 zero = 0;
	struct ps_cpu *c = bpf_map_lookup_elem(&cpus, &zero);
	struct ps_tl_rec *r = bpf_ringbuf_reserve(&timeline, sizeof(*r), 0);

	if (!r) {
		if (c)
			c->tl_lost++;
		return NULL;
	}
	if (c)
		c->tl_records++;
	__builtin_memset(r, 0, sizeof(*r));
	r->ts = bpf_ktime_get_boot_ns();
	r->kind = kind;
	r->cpu = bpf_get_smp_processor_id();
	return r;
}

/* The loader drains the buffer on its own clock: no wakeup (an irq_work
 * per record) is needed. */
static __always_inline void tl_submit(struct ps_tl_rec *r)
{
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

static __always_inline void tl_task(struct task_struct *t, __u32 *pid, __u32 *tgid, __s32 *prio,
				    char *comm, bool btf)
{
	*pid = TASK_FIELD(btf, t, pid);
	*tgid = TASK_FIELD(btf, t, tgid);
	*prio = TASK_FIELD(btf, t, prio);
	bpf_probe_read_kernel(comm, PS_COMM_LEN, &t->comm);
}

static __always_inline void tl_switch(bool preempt, struct task_struct *prev, struct task_struct *next,
				      unsigned int prev_state, bool btf)
{
	struct ps_tl_rec *r;

	if (!targ_timeline || !(r = tl_reserve(PS_TL_SWITCH)))
		return;
	tl_task(prev, &r->pid, &r->tgid, &r->prio, r->comm, btf);
	tl_task(next, &r->pid2, &r->tgid2, &r->prio2, r->comm2, btf);
	r->state = tl_switch_state(preempt, prev_state, TASK_FIELD(btf, prev, exit_state));
	tl_submit(r);
}

/* One task's event (waking, wakeup_new, migrate, exec, exit, futex). */
static __always_inline void tl_event(enum ps_tl_kind kind, struct task_struct *t, __u64 arg,
				     __s64 state, bool btf)
{
	struct ps_tl_rec *r;

	if (!targ_timeline || !(r = tl_reserve(kind)))
		return;
	tl_task(t, &r->pid, &r->tgid, &r->prio, r->comm, btf);
	r->arg = arg;
	r->state = state;
	tl_submit(r);
}

/* A waking (waker: the current task) or a fork (the parent and the child). */
static __always_inline void tl_pair(enum ps_tl_kind kind, struct task_struct *a,
				    struct task_struct *b, __u64 arg, bool btf)
{
	struct ps_tl_rec *r;

	if (!targ_timeline || !(r = tl_reserve(kind)))
		return;
	tl_task(a, &r->pid, &r->tgid, &r->prio, r->comm, btf);
	tl_task(b, &r->pid2, &r->tgid2, &r->prio2, r->comm2, btf);
	r->arg = arg;
	tl_submit(r);
}

/* A traced thread's futex wait begins or ends (th: its record). */
static __always_inline void tl_futex(enum ps_tl_kind kind, const struct ps_thread *th, __u64 uaddr,
				     __s64 outcome)
{
	struct ps_tl_rec *r;

	if (!targ_timeline || !(r = tl_reserve(kind)))
		return;
	r->pid = th->tid;
	r->tgid = th->tgid;
	__builtin_memcpy(r->comm, th->comm, PS_COMM_LEN);
	r->arg = uaddr;
	r->state = outcome;
	tl_submit(r);
}

#endif
