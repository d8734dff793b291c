// SPDX-License-Identifier: GPL-2.0
/* The benchmark's reference tracer: empty tp_btf programs on the two
 * tracepoints every scheduler tracer needs. What it costs is the floor under
 * any such tool on this machine: the tracepoint call, the BPF dispatch around
 * a program, nothing of the program itself. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_switch)
{
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(floor_wakeup)
{
	return 0;
}
