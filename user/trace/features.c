/* user/trace/features.c: the one feature-probe pass (see features.h). */
#include "trace/features.h"
#include "sys/util.h"
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The kernel's BTF has struct S with member M. */
static bool btf_has_member(const struct btf *vmlinux, const char *s, const char *m)
{
	int id = btf__find_by_name_kind(vmlinux, s, BTF_KIND_STRUCT);

	if (id <= 0)
		return false;
	const struct btf_type *st = btf__type_by_id(vmlinux, id);
	const struct btf_member *mb = btf_members(st);

	for (int i = 0; i < btf_vlen(st); i++)
		if (!strcmp(btf__name_by_offset(vmlinux, mb[i].name_off), m))
			return true;
	return false;
}

/* Syscall tracepoints are attached by id, which libbpf reads from tracefs:
 * mount it when a fresh boot left it unmounted (said in the features line). */
static void find_tracefs(struct features *f)
{
	static const char *const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

	for (size_t i = 0; i < ARRAY_LEN(dirs); i++) {
		char p[64];

		snprintf(p, sizeof(p), "%s/events", dirs[i]);
		if (access(p, F_OK) == 0) {
			f->tracefs = dirs[i];
			return;
		}
	}
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0 &&
	    access("/sys/kernel/tracing/events", F_OK) == 0) {
		f->tracefs = "/sys/kernel/tracing";
		f->tracefs_mounted = true;
	}
}

bool features_tracepoint(const struct features *f, const char *sec)
{
	char p[256];

	if (!f->tracefs || strncmp(sec, "tracepoint/", 11))
		return false;
	snprintf(p, sizeof(p), "%s/events/%s", f->tracefs, sec + 11);
	return access(p, F_OK) == 0;
}

void features_probe(struct features *f, bool need_tracefs)
{
	const char *btf_path = getenv("POOLSCOPE_BTF"); /* tests: pretend BTF is elsewhere */
	const char *force_hash = getenv("POOLSCOPE_TASK_HASH"); /* tests: the pre-6.2 mode */
	struct utsname u;
	struct btf *vmlinux;

	memset(f, 0, sizeof(*f));
	if (uname(&u) == 0) {
		snprintf(f->kernel, sizeof(f->kernel), "%s", u.release);
		snprintf(f->sysname, sizeof(f->sysname), "%s", u.sysname);
		snprintf(f->version, sizeof(f->version), "%s", u.version);
		snprintf(f->machine, sizeof(f->machine), "%s", u.machine);
	}
	f->btf = access(btf_path && *btf_path ? btf_path : "/sys/kernel/btf/vmlinux", R_OK) == 0;
	vmlinux = f->btf ? btf__load_vmlinux_btf() : NULL;
	if (vmlinux) {
		f->task_storage_safe = btf_has_member(vmlinux, "bpf_local_storage_map", "selem_ma") &&
				       !(force_hash && *force_hash == '1');
		btf__free(vmlinux);
	}
	if (!need_tracefs)
		return;
	find_tracefs(f);
	f->sys_futex_tp = features_tracepoint(f, "tracepoint/syscalls/sys_enter_futex");
	f->futex_waitv_tp = features_tracepoint(f, "tracepoint/syscalls/sys_enter_futex_waitv");
	f->futex_wait_tp = features_tracepoint(f, "tracepoint/syscalls/sys_enter_futex_wait");
	f->futex_wake_tp = features_tracepoint(f, "tracepoint/syscalls/sys_enter_futex_wake");
}

const char *features_line(const struct features *f, char *buf, size_t len)
{
	snprintf(buf, len, "kernel %s, %s, per-task state in %s%s%s%s%s%s%s%s", f->kernel,
		 f->btf ? "BTF" : "no BTF",
		 f->task_storage_safe ? "task storage" : "a preallocated hash (task storage before 6.2 kmallocs)",
		 f->tracefs ? ", tracefs " : "", f->tracefs ? f->tracefs : "",
		 f->tracefs_mounted ? " (mounted by poolscope)" : "",
		 f->sys_futex_tp ? ", syscalls:sys_enter_futex" : "",
		 f->futex_waitv_tp ? ", futex_waitv" : "", f->futex_wait_tp ? ", futex_wait" : "",
		 f->futex_wake_tp ? ", futex_wake" : "");
	return buf;
}
