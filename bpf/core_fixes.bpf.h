/* bpf/core_fixes.bpf.h: kernel differences in one place (CO-RE shims). */
#ifndef POOLSCOPE_CORE_FIXES_H
#define POOLSCOPE_CORE_FIXES_H
#include <bpf/bpf_core_read.h>

/* Kernel 5.16 moved task_struct.cpu into thread_info (THREAD_INFO_IN_TASK
 * architectures); older kernels keep it in task_struct. */
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
