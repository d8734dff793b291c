// SPDX-License-Identifier: GPL-2.0
/* bpf/poolscope.bpf.c: poolscope's programs, aggregated in the kernel.
 *
 * Every handler finds the task's thread slot with one task-storage lookup
 * (a hash lookup on the raw_tp fallback), then updates plain array elements:
 * no per-event data leaves the kernel. Each scheduler program is written once
 * as a handle_*() function (sched.bpf.h) and wrapped here by a tp_btf entry
 * and a raw_tp entry; the loader autoloads one set. The concerns live in
 * their own headers, included in this order:
 *   kernel.bpf.h   kernel facts: ABI constants, CO-RE shims
 *   maps.bpf.h     settings, counters, maps, small helpers
 *   task.bpf.h     traced tasks and their thread slots
 *   stacks.bpf.h   stack ids, user-frame recovery, off-CPU capture
 *   sched.bpf.h    the scheduler accounting
 *   futex.bpf.h    futex waits and wakes (--locks)
 * One object, one skeleton: the maps are shared by every program. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "poolscope.h"
#include "kernel.bpf.h"
#include "maps.bpf.h"
#include "task.bpf.h"
#include "stacks.bpf.h"
#include "sched.bpf.h"
#include "futex.bpf.h"

char LICENSE[] SEC("license") = "GPL";

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
/* One program for the entry of every futex syscall, and one for the exits:
 * the loader attaches them to sys_enter/exit_futex and to the futex2
 * syscalls the kernel has (futex_waitv 5.16, futex_wait/futex_wake 6.7),
 * which have the same numbers on every architecture. Each program is
 * verified once, not once per syscall: the entry program is the slowest part
 * of poolscope's start-up. */

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
