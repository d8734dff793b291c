/* user/trace/features.h: what this kernel offers poolscope, probed once
 * before loading, printed as one line with -v and written into the JSON
 * report's "features". Each probe names the kernel change it detects. */
#ifndef POOLSCOPE_FEATURES_H
#define POOLSCOPE_FEATURES_H
#include <stdbool.h>
#include <stddef.h>

struct features {
	char kernel[65];              /* uname -r */
	char sysname[65], version[65], machine[65];   /* uname -s, -v, -m */
	bool btf;                     /* /sys/kernel/btf/vmlinux */
	/* task local storage allocates its elements from BPF's own caches
	 * (the kernel's BTF has bpf_local_storage_map.selem_ma); before that
	 * it kmallocs, which can deadlock under the run-queue lock */
	bool task_storage_safe;
	const char *tracefs;          /* where syscall tracepoints are listed, NULL: none */
	bool tracefs_mounted;         /* poolscope mounted it (left mounted) */
	bool sys_futex_tp;            /* syscalls:sys_enter_futex */
	bool futex_waitv_tp, futex_wait_tp, futex_wake_tp;  /* 5.16, 6.7, 6.7 */
};

/* Probe everything (tracefs only when need_tracefs: lock tracing). */
void features_probe(struct features *f, bool need_tracefs);
/* "kernel 6.18.44, BTF, task storage, tracefs /sys/kernel/tracing, ..." */
const char *features_line(const struct features *f, char *buf, size_t len);
/* Whether the syscall tracepoint named by a libbpf section
 * ("tracepoint/syscalls/NAME") exists. */
bool features_tracepoint(const struct features *f, const char *sec);

#endif
