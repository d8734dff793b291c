/* bpf/futex.bpf.h: futex (user-space lock) waits and who ended them: --locks.
 *
 * Seen from the scheduler, at no cost to system calls: a traced thread that
 * blocks (a voluntary switch-out) inside a futex wait carries the call in the
 * user registers it saved at syscall entry (bpf_task_pt_regs: the syscall
 * number, the futex address, the op and the timeout); the wait ends when it
 * next runs. Its waker is the task that issues the wakeup (sched_waking runs
 * in the waker's context): a traced thread whose own registers show a futex
 * wake. A wait not ended by a traced futex wake timed out when its deadline
 * had passed, or was interrupted when a signal is pending; otherwise an
 * untraced or unknown task woke it.
 *
 * What the scheduler cannot show: a wait that returned -EAGAIN (the value
 * had changed) never blocks, so it is not seen; a wait woken between queueing
 * and sleeping did not block either. The user side reports EAGAIN as not
 * observable rather than zero. A spurious wakeup inside one call that blocks
 * again counts as two waits.
 *
 * The syscall tracepoints (sys_enter/exit_futex and the futex2 calls) are
 * the fallback (targ_futex_syscalls): exact return values, but while any of
 * them is enabled every system call of every task takes the kernel's slow
 * path. */
#ifndef POOLSCOPE_FUTEX_BPF_H
#define POOLSCOPE_FUTEX_BPF_H

/* A timeout of this much or less past the deadline still counts: a relative
 * timeout starts at syscall entry, a little before the switch-out where the
 * deadline is computed. */
#define FUTEX_DEADLINE_SLACK_NS 1000000

struct ps_timespec {
	__s64 sec;
	__s64 nsec;
};

/* A blocking futex call: its address, and where its timeout is. */
struct futex_call {
	__u64 uaddr;
	__u64 timeout;        /* user pointer to a struct __kernel_timespec, 0: none */
	bool abs;             /* an absolute time, else relative */
	bool realtime;        /* CLOCK_REALTIME, else CLOCK_MONOTONIC */
};

/* The blocking futex call the registers saved at syscall entry show, if
 * any (include/uapi/linux/futex.h, kernel/futex/syscalls.c). */
static __always_inline bool futex_call_of(struct pt_regs *regs, struct futex_call *fc)
{
	long nr = PS_REGS_SYSCALL_NR(regs);
	int op, cmd;

	__builtin_memset(fc, 0, sizeof(*fc));
	if (nr == NR_futex_) {
		op = PS_SYSCALL_ARG2(regs);
		cmd = op & FUTEX_CMD_MASK_;
		if (!futex_op_blocks(cmd))
			return false;
		fc->uaddr = PS_SYSCALL_ARG1(regs);
		fc->timeout = PS_SYSCALL_ARG4(regs);
		/* FUTEX_WAIT's timeout is relative; the others' absolute,
		 * LOCK_PI's always on CLOCK_REALTIME */
		fc->abs = cmd != FUTEX_WAIT_;
		fc->realtime = cmd == FUTEX_LOCK_PI_ || (op & FUTEX_CLOCK_REALTIME_);
		return true;
	}
	if (nr == NR_futex_wait_) {   /* (uaddr, val, mask, flags, timeout, clockid) */
		fc->uaddr = PS_SYSCALL_ARG1(regs);
		fc->timeout = PS_SYSCALL_ARG5(regs);
		fc->abs = true;
		fc->realtime = PS_SYSCALL_ARG6(regs) == CLOCK_REALTIME_;
		return true;
	}
	if (nr == NR_futex_waitv_) {  /* (waiters, nr, flags, timeout, clockid) */
		struct futex_waitv first = {};

		/* a wait on several futexes is filed under the first */
		bpf_probe_read_user(&first, sizeof(first), (void *)PS_SYSCALL_ARG1(regs));
		fc->uaddr = first.uaddr;
		fc->timeout = PS_SYSCALL_ARG4(regs);
		fc->abs = true;
		fc->realtime = PS_SYSCALL_ARG5(regs) == CLOCK_REALTIME_;
		return true;
	}
	return false;
}

/* The registers show a futex call that wakes waiters. */
static __always_inline bool futex_call_wakes(struct pt_regs *regs)
{
	long nr = PS_REGS_SYSCALL_NR(regs);

	if (nr == NR_futex_)
		return futex_op_wakes(PS_SYSCALL_ARG2(regs) & FUTEX_CMD_MASK_);
	return nr == NR_futex_wake_;
}

/* CLOCK_MONOTONIC ns at which the call's timeout expires, 0 if none. The
 * user memory is the current task's (the caller is in its context). */
static __always_inline __u64 futex_deadline(const struct futex_call *fc, __u64 now)
{
	struct ps_timespec ts;
	__u64 t;

	if (!fc->timeout || bpf_probe_read_user(&ts, sizeof(ts), (void *)fc->timeout))
		return 0;
	if (ts.sec < 0 || ts.nsec < 0 || ts.sec > (1ll << 32))
		return 0;
	t = (__u64)ts.sec * 1000000000ull + ts.nsec;
	if (!fc->abs)
		return now + t;
	if (fc->realtime)
		return t > realtime_offset_ns ? t - realtime_offset_ns : 1;
	return t;
}

/* A wait begins: blocked (or, with the fallback, entered) at now. */
static __always_inline void futex_wait_begin(struct ps_thread *th, const struct futex_call *fc,
					     __s32 ustack, __s32 pystack, __u64 run_start, __u64 now)
{
	th->fx_uaddr = fc->uaddr;
	th->fx_deadline = futex_deadline(fc, now);
	th->fx_ustack = ustack;
	th->fx_pystack = pystack;
	th->fx_busy0 = proc_active_read(th->proc, now);
	th->fx_run_start = run_start;
	th->fx_start = now;
	tl_futex(PS_TL_FUTEX_BEGIN, th, fc->uaddr, 0);
}

enum futex_end {
	FUTEX_END_SEEN,       /* decide from the waking and the deadline */
	FUTEX_END_WOKEN,      /* the fallback: returned 0 */
	FUTEX_END_TIMEOUT,    /* the fallback: -ETIMEDOUT */
	FUTEX_END_INTR,       /* the fallback: -EINTR */
	FUTEX_END_EAGAIN,     /* the fallback: -EAGAIN, never blocked */
};

/* More threads of one process active at once, on average over a wait,
 * than any machine poolscope runs on has cores times a queue. */
#define PROC_PEERS_MAX 1024

/* A traced waker woke the waiter whose wait st counts: remember it among
 * the last two distinct ones (racy like the other counters: a lost update
 * only loses a sample). */
static __always_inline void futex_note_waker(struct ps_futex_stat *st, __u32 tid)
{
	if (!tid || st->wakers[0] == tid)
		return;
	st->wakers[1] = st->wakers[0];
	st->wakers[0] = tid;
}

/* The wait of th ends now. how: FUTEX_END_SEEN from the scheduler, or the
 * return value of the fallback; sigpending: a signal was pending at the end;
 * woke_at: when it was woken (became runnable), 0 if unknown: the wait from
 * then on was run-queue time. */
static __noinline void futex_wait_end(struct ps_thread *th, enum futex_end how,
					   bool sigpending, __u64 woke_at, __u64 now)
{
	struct ps_futex_stat *st;
	__u64 start = th->fx_start, wait, asleep, busy, proc_busy, peers;
	/* a traced futex wake of this thread since the run the wait began in
	 * (the waking can come just before the switch-out that blocks) */
	bool woken = th->wk_ns && th->wk_ns >= th->fx_run_start && how != FUTEX_END_TIMEOUT &&
		     how != FUTEX_END_INTR && how != FUTEX_END_EAGAIN;
	bool timeout = how == FUTEX_END_TIMEOUT ||
		       (how == FUTEX_END_SEEN && !woken && th->fx_deadline &&
			now + FUTEX_DEADLINE_SLACK_NS >= th->fx_deadline);
	bool intr = how == FUTEX_END_INTR || (how == FUTEX_END_SEEN && !woken && !timeout && sigpending);

	th->fx_start = 0;
	if (!start || now < start)
		return;
	tl_futex(PS_TL_FUTEX_END, th, th->fx_uaddr, woken ? 0 : timeout ? 1 : intr ? 2 : 3);
	wait = now - start;
	asleep = woke_at > start && woke_at < now ? woke_at - start : wait;
	/* how active the rest of the process was while it slept (several
	 * threads count up to the sleep, no more) */
	proc_busy = proc_active_read(th->proc, now);
	/* unknown (a torn read at either end), or more than PROC_PEERS_MAX
	 * threads active at once on average: not a value (a read torn the
	 * same way twice in a row) */
	if (proc_busy == PROC_ACTIVE_UNKNOWN || th->fx_busy0 == PROC_ACTIVE_UNKNOWN ||
	    th->proc == PS_NO_SLOT)
		proc_busy = 0;
	else
		proc_busy -= th->fx_busy0;
	if ((__s64)proc_busy < 0 || proc_busy / PROC_PEERS_MAX > wait)
		proc_busy = 0;
	/* all of them, less the waiter's own runnable time after its wakeup */
	peers = proc_busy > wait - asleep ? proc_busy - (wait - asleep) : 0;
	if (proc_busy > asleep)
		proc_busy = asleep;
	if (woken) {
		/* busy for as long as the waker had been active (running or
		 * runnable) during the wait, up to the waking */
		__u64 as = th->wk_active_since, upto = th->wk_ns > start ? th->wk_ns : start;

		busy = !as ? 0 : as <= start ? upto - start : upto > as ? upto - as : 0;
	} else {
		busy = proc_busy; /* timed out, or no traced waker */
	}
	if (busy > asleep)
		busy = asleep;

	struct ps_futex_key key = {
		.tgid = th->tgid, .pid = th->tid, .ustack = th->fx_ustack, .pystack = th->fx_pystack,
		.uaddr = th->fx_uaddr,
	};
	st = lookup_or_init(&futex_waits, &key, &zero_futex_stat, &drops.futex_full);
	if (!st)
		return;
	if (how == FUTEX_END_EAGAIN) {
		__sync_fetch_and_add(&st->eagain, 1);
		return;
	}
	__sync_fetch_and_add(&st->waits, 1);
	__sync_fetch_and_add(&st->wait_ns, wait);
	__sync_fetch_and_add(&st->asleep_ns, asleep);
	__sync_fetch_and_add(&st->peers_ns, peers);
	__sync_fetch_and_add(&st->busy_ns, busy);
	__sync_fetch_and_add(&st->proc_busy_ns, proc_busy);
	if (wait > st->max_ns)
		st->max_ns = wait;
	__sync_fetch_and_add(&st->hist[hist_slot(wait)], 1);
	if (timeout)
		__sync_fetch_and_add(&st->timeouts, 1);
	else if (intr)
		__sync_fetch_and_add(&st->interrupted, 1);
	else if (woken) {
		__sync_fetch_and_add(&st->woken_by_traced, 1);
		st->waker_ustack = th->wk_ustack;
		futex_note_waker(st, th->wk_tid);
		st->waker_pystack = th->wk_pystack;
	}
}

/* sched_switch: traced thread pt blocks (a voluntary switch-out) at the end
 * of a run that began at run_start; is it in a futex wait? ustack: its user
 * stack when already captured (off-CPU stacks), else PS_NO_STACK. Called
 * with prev == current. */
static __noinline void futex_switch_out(void *ctx, struct ps_thread *pt, __s32 ustack,
					     __u64 run_start, __u64 now)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(cur);
	struct futex_call fc;

	if (!regs || !futex_call_of(regs, &fc))
		return;
	/* the off-CPU capture took both stacks, or neither */
	if (ustack == PS_NO_STACK)
		futex_wait_begin(pt, &fc, ustack_id(ctx), py_stack_id(pt), run_start, now);
	else
		futex_wait_begin(pt, &fc, ustack, pt->off_pystack, run_start, now);
}

/* sched_waking: task p is being woken by the current task. Remember a
 * traced waker in a futex wake, with its stack and how long it had been
 * active: the evidence whether the lock's holder was busy. */
static __always_inline void handle_waking(void *ctx, struct task_struct *p, bool btf)
{
	struct ps_task *st;
	struct task_struct *cur;
	struct pt_regs *regs;
	struct ps_thread *th, *waker;
	__u32 slot, wslot;
	__u64 now;
	bool wakes;

	cur = bpf_get_current_task_btf();
	/* Without --timeline only a futex wake matters: the waker's registers
	 * (a load) decide before the wakee's storage (a lookup) is read; most
	 * wakings are not futex wakes. In an interrupt, current is whatever it
	 * interrupted: a false waker needs that task to be in a futex wake
	 * itself. */
	regs = targ_locks ? (struct pt_regs *)bpf_task_pt_regs(cur) : NULL;
	wakes = regs && futex_call_wakes(regs);
	if (!targ_timeline && !wakes)
		return;
	st = task_lookup(p, btf);
	if (!st || !st->traced || st->slot == PS_NO_SLOT)
		return;
	tl_pair(PS_TL_WAKING, p, cur, task_cpu_of(p), btf);
	if (!wakes)
		return;
	slot = st->slot;
	th = bpf_map_lookup_elem(&threads, &slot);
	if (!th)
		return;
	now = bpf_ktime_get_ns();
	waker = thread_of(cur, &wslot, now, true);
	if (!waker)
		return;
	th->wk_active_since = waker->active_since;
	th->wk_slot = wslot;
	th->wk_tid = waker->tid;
	th->wk_ustack = ustack_id(ctx);
	th->wk_pystack = py_stack_id(waker);
	th->wk_ns = now;
}

/* ---- the fallback: syscall tracepoints (targ_futex_syscalls) ---- */

static __always_inline void futex_sys_enter(void *ctx)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(cur);
	struct futex_call fc;
	struct ps_thread *th;
	__u64 now;
	__u32 slot;

	if (!regs || !futex_call_of(regs, &fc))
		return;
	now = bpf_ktime_get_ns();
	th = current_thread(now, &slot);
	if (th)
		futex_wait_begin(th, &fc, ustack_id(ctx), py_stack_id(th), now, now);
}

static __always_inline void futex_sys_exit(long ret)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 slot;
	struct ps_thread *th = current_thread(now, &slot);

	if (!th || !th->fx_start)
		return;
	futex_wait_end(th, ret == -ETIMEDOUT_ ? FUTEX_END_TIMEOUT : ret == -EINTR_ ? FUTEX_END_INTR :
			   ret == -EAGAIN_ ? FUTEX_END_EAGAIN : FUTEX_END_WOKEN, false, 0, now);
}

#endif
