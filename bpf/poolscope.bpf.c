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
 *   python.bpf.h   the Python frames of CPython processes
 *   stacks.bpf.h   stack ids, user-frame recovery, off-CPU capture
 *   timeline.bpf.h --timeline records through a ring buffer
 *   futex.bpf.h    futex waits and their wakers (--locks)
 *   sched.bpf.h    the scheduler accounting
 * One object, one skeleton: the maps are shared by every program. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "poolscope.h"
#include "kernel.bpf.h"
#include "maps.bpf.h"
#include "task.bpf.h"
#include "python.bpf.h"
#include "stacks.bpf.h"
#include "timeline.bpf.h"
#include "futex.bpf.h"
#include "sched.bpf.h"

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
	handle_wakeup(p, true, false);
	return 0;
}

SEC("tp_btf/sched_waking")
int BPF_PROG(ps_waking, struct task_struct *p)
{
	handle_waking(ctx, p, true);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(ps_wakeup_new, struct task_struct *p)
{
	handle_wakeup(p, true, true);
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

/* --cgroup only: tasks that move in or out of the subtree */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(ps_cg_attach, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	handle_cgroup_attach(task, true);
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
	handle_wakeup(p, false, false);
	return 0;
}

SEC("raw_tp/sched_waking")
int BPF_PROG(ps_waking_raw, struct task_struct *p)
{
	handle_waking(ctx, p, false);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(ps_wakeup_new_raw, struct task_struct *p)
{
	handle_wakeup(p, false, true);
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
SEC("raw_tp/cgroup_attach_task")
int BPF_PROG(ps_cg_attach_raw, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	handle_cgroup_attach(task, false);
	return 0;
}

/* The fallback (--futex-source syscalls): one program for the entry of
 * every futex syscall and one for the exits, attached to sys_enter/exit_futex
 * and to the futex2 syscalls the kernel has; each reads the call from the
 * saved user registers, so it is verified once, not once per syscall. */
SEC("tracepoint/syscalls/sys_enter_futex")
int ps_futex_enter(struct trace_event_raw_sys_enter *ctx)
{
	futex_sys_enter(ctx);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_futex")
int ps_futex_exit(struct trace_event_raw_sys_exit *ctx)
{
	/* futex_waitv returns the index of the woken futex on success; the
	 * record's syscall number is an int (the next 4 bytes are padding) */
	futex_sys_exit((int)ctx->id == NR_futex_waitv_ && ctx->ret > 0 ? 0 : ctx->ret);
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
		.pystack = py_stack_id(th),
	};
	stack_add(&oncpu, &key, 1, &drops.oncpu_full);
	return 0;
}
