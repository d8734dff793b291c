/* bpf/futex.bpf.h: futex (user-space lock) waits and wakes: --locks. */
#ifndef POOLSCOPE_FUTEX_BPF_H
#define POOLSCOPE_FUTEX_BPF_H

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
	struct ps_futex_wake wzero = {}, *w = lookup_or_init(&futex_wakes, &wk, &wzero,
							     &drops.futex_full);

	if (!w)
		return;
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
	st = lookup_or_init(&futex_waits, &key, &zero, &drops.futex_full);
	if (!st)
		return;
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
#endif
