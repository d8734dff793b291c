/* user/sys/procfs.h: every read of /proc outside the symbolizer (which reads
 * the memory maps and kallsyms it resolves against): process state, names,
 * poolscope's own status and file descriptors. */
#ifndef POOLSCOPE_PROCFS_H
#define POOLSCOPE_PROCFS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct proc_stat {
	char comm[64];
	char state;                /* R, S, D, Z, X, ... */
	int ppid;
	unsigned long flags;       /* PF_* */
};

/* /proc/ID/stat of a process or thread; false if there is no such task. */
bool procfs_stat(int id, struct proc_stat *out);
/* It exists and is not a zombie. */
bool procfs_alive(int id);
/* A kernel thread (PF_KTHREAD); comm into comm when non-NULL. */
bool procfs_is_kthread(int pid, char *comm, size_t len);
/* Processes whose comm is `comm`, except `except`; returns how many were
 * written (at most max), or -errno when /proc cannot be read. */
int procfs_find_comm(const char *comm, int except, int *pids, int max);
/* The children of process pid (every thread's children), at most max;
 * returns how many. */
int procfs_children(int pid, int *pids, int max);
/* The target of /proc/TGID/exe; -errno for a kernel thread or a process
 * that is gone. */
int procfs_exe(int tgid, char *buf, size_t len);
/* poolscope's PID namespace (the inode of /proc/self/ns/pid), 0 when it is
 * the initial one (or unknown). */
uint32_t procfs_self_pidns(void);
/* /proc is poolscope's PID namespace's (/proc/self is getpid()): its PIDs
 * are the ones poolscope's user sees. */
bool procfs_is_own_pidns(void);
/* The cgroup of task pid in a hierarchy, from /proc/PID/cgroup: the v2
 * hierarchy's (ctrl NULL or "") or the v1 one that has controller ctrl
 * ("cpu", or "name=systemd"); the path within it, "/" for its root. 0, or
 * -ENOENT when pid is gone or not in such a hierarchy. */
int procfs_cgroup(int pid, const char *ctrl, char *path, size_t len);
/* One cgroup mount: where it is, and for v1 its options (the controllers). */
struct procfs_cgmount {
	bool v2;
	char dir[512];
	char root[512];            /* the cgroup mounted there ("/": the whole hierarchy) */
	char opts[256];            /* super options: "rw,cpu,cpuacct" */
};
/* The cgroup and cgroup2 mounts of poolscope's mount namespace
 * (/proc/self/mountinfo), at most max; returns how many, or -errno. */
int procfs_cgroup_mounts(struct procfs_cgmount *m, int max);
/* The inodes of the listening sockets of poolscope's network namespace
 * (TCP and TCP6 in LISTEN, unix stream sockets accepting connections),
 * sorted; returns how many (at most max), 0 if none can be read. */
int procfs_listen_inodes(uint64_t *inodes, int max);
/* Whether process pid has one of those sockets (sorted inodes) open. */
bool procfs_holds_socket(int pid, const uint64_t *inodes, int n);
/* poolscope's own effective capabilities (CapEff), 0 if unreadable. */
uint64_t procfs_self_capeff(void);
/* poolscope's peak resident set (VmHWM), in kB. */
uint64_t procfs_self_peak_rss_kb(void);
/* The kernel memory charged to one of poolscope's BPF map fds (fdinfo
 * memlock), 0 if unknown. */
uint64_t procfs_self_fd_memlock(int fd);

#endif
