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
/* poolscope's own effective capabilities (CapEff), 0 if unreadable. */
uint64_t procfs_self_capeff(void);
/* poolscope's peak resident set (VmHWM), in kB. */
uint64_t procfs_self_peak_rss_kb(void);
/* The kernel memory charged to one of poolscope's BPF map fds (fdinfo
 * memlock), 0 if unknown. */
uint64_t procfs_self_fd_memlock(int fd);

#endif
