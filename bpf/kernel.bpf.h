/* bpf/kernel.bpf.h: the facts about the kernel poolscope's programs rely
 * on, in one place: ABI constants (errno values, futex operations, syscall
 * numbers, thread flags) that BPF programs cannot include from the kernel's
 * headers, and CO-RE shims for fields that moved, each with the kernel change
 * or header it comes from. Architecture-specific facts are x86_64 only (the
 * committed vmlinux.h is x86's): other architectures stop at the #error. */
#ifndef POOLSCOPE_KERNEL_BPF_H
#define POOLSCOPE_KERNEL_BPF_H
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#if !defined(__TARGET_ARCH_x86)
#error "poolscope's BPF programs know the x86_64 syscall ABI only (bpf/kernel.bpf.h)"
#endif

/* include/uapi/asm-generic/errno-base.h, errno.h */
#define EINTR_     4
#define EAGAIN_    11
#define EFAULT_    14
#define EEXIST_    17
#define ETIMEDOUT_ 110

/* TIF_SIGPENDING in arch/x86/include/asm/thread_info.h */
#define TIF_SIGPENDING_ 2
/* TASK_DEAD in include/linux/sched.h (0x80 since 4.14) */
#define TASK_DEAD_STATE 0x80

/* arch/x86/entry/syscalls/syscall_64.tbl; the futex2 calls (futex_waitv
 * 5.16, futex_wake/futex_wait 6.7) have the same numbers on every
 * architecture */
#define NR_futex_       202
#define NR_futex_waitv_ 449
#define NR_futex_wake_  454
#define NR_futex_wait_  455

/* include/uapi/linux/futex.h: the command is op without these flags */
#define FUTEX_PRIVATE_FLAG_   128
#define FUTEX_CLOCK_REALTIME_ 256
#define FUTEX_CMD_MASK_ (~(FUTEX_PRIVATE_FLAG_ | FUTEX_CLOCK_REALTIME_))
#define FUTEX_WAIT_    0
#define FUTEX_LOCK_PI_ 6
/* include/uapi/linux/time.h */
#define CLOCK_REALTIME_ 0

static __always_inline bool futex_op_blocks(int cmd)
{
	/* WAIT 0, LOCK_PI 6, WAIT_BITSET 9, WAIT_REQUEUE_PI 11, LOCK_PI2 13 (5.14) */
	return cmd == 0 || cmd == 6 || cmd == 9 || cmd == 11 || cmd == 13;
}

static __always_inline bool futex_op_wakes(int cmd)
{
	/* WAKE 1, REQUEUE 3, CMP_REQUEUE 4, WAKE_OP 5, UNLOCK_PI 7, WAKE_BITSET 10,
	 * CMP_REQUEUE_PI 12 */
	return cmd == 1 || cmd == 3 || cmd == 4 || cmd == 5 || cmd == 7 || cmd == 10 || cmd == 12;
}

/* The user registers a task saved at its last entry to the kernel
 * (bpf_task_pt_regs, 5.15): the syscall number is orig_ax on x86_64 (-1
 * or an interrupt vector when it entered by an interrupt or exception). */
#define PS_REGS_SYSCALL_NR(regs) ((regs)->orig_ax)
/* ... and its arguments: the x86_64 syscall ABI (arch/x86/entry/entry_64.S) */
#define PS_SYSCALL_ARG1(regs) ((regs)->di)
#define PS_SYSCALL_ARG2(regs) ((regs)->si)
#define PS_SYSCALL_ARG3(regs) ((regs)->dx)
#define PS_SYSCALL_ARG4(regs) ((regs)->r10)
#define PS_SYSCALL_ARG5(regs) ((regs)->r8)
#define PS_SYSCALL_ARG6(regs) ((regs)->r9)

/* Read a task field: direct (BTF-typed pointer) in tp_btf, probe-read in raw_tp. */
#define TASK_FIELD(btf, t, f) ((btf) ? (t)->f : BPF_CORE_READ(t, f))

/* Kernel 5.16 moved task_struct.cpu into thread_info on THREAD_INFO_IN_TASK
 * architectures ("sched: move CPU field back into thread_info if
 * THREAD_INFO_IN_TASK=y", Ard Biesheuvel, September 2021); older kernels
 * keep it in task_struct. */
struct task_struct___old_cpu {
	unsigned int cpu;
} __attribute__((preserve_access_index));

static __always_inline __u32 task_cpu_of(struct task_struct *t)
{
	if (bpf_core_field_exists(t->thread_info.cpu))
		return BPF_CORE_READ(t, thread_info.cpu);
	return BPF_CORE_READ((struct task_struct___old_cpu *)t, cpu);
}

/* ---- cgroups ---------------------------------------------------------- */

/* A controller's index in css_set.subsys[] is its place in
 * include/linux/cgroup_subsys.h, which depends on the kernel's config (and
 * has grown over time): read it from BTF's enum cgroup_subsys_id, a CO-RE
 * enum value relocation; -1 when this kernel lacks the controller. */
#define CG_SUBSYS(name) (bpf_core_enum_value_exists(enum cgroup_subsys_id, name##_cgrp_id) ? \
			 (int)bpf_core_enum_value(enum cgroup_subsys_id, name##_cgrp_id) : -1)

static __always_inline int cg_subsys_index(__u32 hier)
{
	switch (hier) {
	case PS_CG_CPU: return CG_SUBSYS(cpu);
	case PS_CG_CPUACCT: return CG_SUBSYS(cpuacct);
	case PS_CG_CPUSET: return CG_SUBSYS(cpuset);
	case PS_CG_MEMORY: return CG_SUBSYS(memory);
	case PS_CG_PIDS: return CG_SUBSYS(pids);
	case PS_CG_BLKIO: return CG_SUBSYS(io);     /* v1 calls io "blkio" */
	case PS_CG_DEVICES: return CG_SUBSYS(devices);
	case PS_CG_FREEZER: return CG_SUBSYS(freezer);
	case PS_CG_NET_CLS: return CG_SUBSYS(net_cls);
	case PS_CG_PERF_EVENT: return CG_SUBSYS(perf_event);
	case PS_CG_NET_PRIO: return CG_SUBSYS(net_prio);
	case PS_CG_HUGETLB: return CG_SUBSYS(hugetlb);
	}
	return -1;
}

/* Task t's cgroup in hierarchy hier: v2's is css_set.dfl_cgrp (the default
 * hierarchy, 4.5); a v1 hierarchy's is the cgroup of the controller's
 * state, css_set.subsys[id]->cgroup. NULL if the kernel lacks it. */
static __always_inline struct cgroup *task_cgroup(struct task_struct *t, __u32 hier)
{
	int i;

	if (hier == PS_CG_V2)
		return BPF_CORE_READ(t, cgroups, dfl_cgrp);
	i = cg_subsys_index(hier);
	if (i < 0 || i >= (int)bpf_core_enum_value(enum cgroup_subsys_id, CGROUP_SUBSYS_COUNT))
		return NULL;
	return BPF_CORE_READ(t, cgroups, subsys[i], cgroup);
}

/* A cgroup's id is its kernfs node's (kernfs_node.id, a u64 since 5.5), the
 * same as bpf_get_current_cgroup_id() gives; on 64-bit kernels it is the
 * inode number of the cgroup's directory (kernfs_id_ino()), which is how
 * user space finds the cgroup. */
static __always_inline __u64 cgroup_id_of(struct cgroup *cg)
{
	return cg ? BPF_CORE_READ(cg, kn, id) : 0;
}

/* The id of cg's ancestor at depth level (the root is 0, cg itself is at
 * cg->level). Linux 6.1 keeps the ancestors' pointers, cgroup.ancestors[]
 * ("cgroup: Replace cgroup->ancestor_ids[] with ->ancestors[]", Tejun Heo,
 * 2022); 5.5 to 6.0 keep their ids, cgroup.ancestor_ids[] (u64 since 5.5,
 * int before). poolscope needs 5.18, so those are the two cases. */
struct cgroup___ids {
	int level;
	__u64 ancestor_ids[];
} __attribute__((preserve_access_index));

static __always_inline __u64 cgroup_ancestor_id(struct cgroup *cg, int level)
{
	if (bpf_core_field_exists(cg->ancestors))
		return BPF_CORE_READ(cg, ancestors[level], kn, id);
	return BPF_CORE_READ((struct cgroup___ids *)cg, ancestor_ids[level]);
}

/* ---- PID namespaces --------------------------------------------------- */

/* MAX_PID_NS_LEVEL in include/linux/pid_namespace.h */
#define PIDNS_MAX_LEVEL 32

/* A task's ids in each PID namespace from the initial one (level 0) down to
 * its own (pid->level) are struct pid's numbers[level] (task_struct's
 * thread_pid, 4.19): the thread's id there, and with its group leader's
 * pid, the process's. */
static __always_inline __u32 pid_nr_at(struct pid *pid, __u32 level)
{
	return BPF_CORE_READ(pid, numbers[level].nr);
}

static __always_inline __u32 pid_ns_inum_at(struct pid *pid, __u32 level)
{
	return BPF_CORE_READ(pid, numbers[level].ns, ns.inum);
}

/* TASK_RUNNING (0): on a run queue or on a CPU; task_struct.__state since
 * 5.14 ("sched: Change task_struct::state") */
static __always_inline bool task_runnable(struct task_struct *t)
{
	return BPF_CORE_READ(t, __state) == 0;
}

/* On a CPU right now: task_struct.on_cpu (SMP kernels), still 1 in
 * sched_switch for prev (finish_task() clears it after the switch). */
static __always_inline bool task_on_cpu(struct task_struct *t)
{
	if (bpf_core_field_exists(t->on_cpu))
		return BPF_CORE_READ(t, on_cpu);
	return false;
}

#endif
