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

#endif
