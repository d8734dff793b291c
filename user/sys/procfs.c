/* user/sys/procfs.c: reads of /proc (see procfs.h). */
#include "sys/procfs.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PF_KTHREAD_ 0x00200000   /* include/linux/sched.h */
/* PROC_PID_INIT_INO (include/linux/proc_ns.h): the initial PID namespace's
 * inode, fixed since 3.8 */
#define PIDNS_INIT_INO_ 0xEFFFFFFCu

bool procfs_stat(int id, struct proc_stat *out)
{
	char path[64], buf[1024], *l, *r;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", id);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the comm may hold spaces and parentheses: it ends at the last ')' */
	l = strchr(buf, '(');
	r = strrchr(buf, ')');
	if (!l || !r || r < l || r[1] != ' ')
		return false;
	memset(out, 0, sizeof(*out));
	snprintf(out->comm, sizeof(out->comm), "%.*s", (int)(r - l - 1), l + 1);
	/* "S ppid pgrp session tty_nr tpgid flags" */
	return sscanf(r + 2, "%c %d %*d %*d %*d %*d %lu", &out->state, &out->ppid, &out->flags) == 3;
}

bool procfs_alive(int id)
{
	struct proc_stat st;

	return procfs_stat(id, &st) && st.state != 'Z' && st.state != 'X';
}

bool procfs_is_kthread(int pid, char *comm, size_t len)
{
	struct proc_stat st;

	if (!procfs_stat(pid, &st))
		return false;
	if (comm)
		snprintf(comm, len, "%s", st.comm);
	return st.flags & PF_KTHREAD_;
}

int procfs_find_comm(const char *comm, int except, int *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)) && n < max) {
		char path[300], name[64] = "";
		FILE *f;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f))
			name[strcspn(name, "\n")] = '\0';
		fclose(f);
		if (!strcmp(name, comm) && atoi(e->d_name) != except)
			pids[n++] = atoi(e->d_name);
	}
	closedir(d);
	return n;
}

int procfs_children(int pid, int *pids, int max)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		char cpath[384];
		FILE *f;
		int child;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", pid, e->d_name);
		f = fopen(cpath, "re");
		if (!f)
			continue;
		while (n < max && fscanf(f, "%d", &child) == 1)
			pids[n++] = child;
		fclose(f);
	}
	closedir(d);
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Listening sockets of one /proc/net table: the inode of each line whose
 * state column (state_col) equals state (hex), and whose flags column, if
 * flags_col >= 0, has flag set. */
static int listen_table(const char *path, int state_col, unsigned state, int flags_col,
			unsigned flag, int inode_col, uint64_t *inodes, int n, int max)
{
	char line[512];
	FILE *f = fopen(path, "re");

	if (!f)
		return n;
	if (!fgets(line, sizeof(line), f)) /* the header */
		line[0] = '\0';
	while (n < max && fgets(line, sizeof(line), f)) {
		char *tok, *save = NULL;
		unsigned long long inode = 0;
		unsigned st = ~0u, fl = 0;
		int col = 0;

		for (tok = strtok_r(line, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save), col++) {
			if (col == state_col)
				st = strtoul(tok, NULL, 16);
			else if (col == flags_col)
				fl = strtoul(tok, NULL, 16);
			else if (col == inode_col)
				inode = strtoull(tok, NULL, 10);
		}
		if (st == state && (flags_col < 0 || (fl & flag)) && inode)
			inodes[n++] = inode;
	}
	fclose(f);
	return n;
}

int procfs_listen_inodes(uint64_t *inodes, int max)
{
	int n = 0;

	/* "sl local rem st tx:rx tr:when retr uid timeout inode": LISTEN is 0A */
	n = listen_table("/proc/net/tcp", 3, 0x0a, -1, 0, 9, inodes, n, max);
	n = listen_table("/proc/net/tcp6", 3, 0x0a, -1, 0, 9, inodes, n, max);
	/* "Num RefCount Protocol Flags Type St Inode": __SO_ACCEPTCON 0x10000,
	 * unconnected (St 01) */
	n = listen_table("/proc/net/unix", 5, 0x01, 3, 0x10000, 6, inodes, n, max);
	qsort(inodes, n, sizeof(*inodes), cmp_u64);
	return n;
}

bool procfs_holds_socket(int pid, const uint64_t *inodes, int n)
{
	char path[64];
	struct dirent *e;
	bool found = false;
	DIR *d;

	if (!n)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		char link[320], target[64];
		unsigned long long inode;
		ssize_t len;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(link, sizeof(link), "/proc/%d/fd/%s", pid, e->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (sscanf(target, "socket:[%llu]", &inode) == 1)
			found = bsearch(&(uint64_t){ inode }, inodes, n, sizeof(*inodes), cmp_u64);
	}
	closedir(d);
	return found;
}

int procfs_exe(int tgid, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", tgid);
	n = readlink(link, buf, len - 1);
	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	buf[n] = '\0';
	return 0;
}

uint32_t procfs_self_pidns(void)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st) || st.st_ino == PIDNS_INIT_INO_)
		return 0;
	return (uint32_t)st.st_ino;
}

bool procfs_is_own_pidns(void)
{
	char buf[32];
	ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);

	if (n <= 0)
		return false;
	buf[n] = '\0';
	return atoi(buf) == getpid();
}

/* ctrls, a comma-separated list ("cpu,cpuacct"), names ctrl; "" matches
 * the v2 line only (its list is empty). */
static bool has_controller(const char *ctrls, const char *ctrl)
{
	char buf[256], *tok, *save = NULL;

	if (!*ctrl)
		return !*ctrls;
	snprintf(buf, sizeof(buf), "%s", ctrls);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!strcmp(tok, ctrl))
			return true;
	return false;
}

/* Lines "ID:CONTROLLERS:PATH" ("4:cpu,cpuacct:/a/b", v2: "0::/a"). */
int procfs_cgroup(int pid, const char *ctrl, char *path, size_t len)
{
	char file[64], line[1024];
	int found = -ENOENT;
	FILE *f;

	snprintf(file, sizeof(file), "/proc/%d/cgroup", pid);
	f = fopen(file, "re");
	if (!f)
		return -ENOENT;
	while (found && fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c2 = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		if (has_controller(c1 + 1, ctrl ? ctrl : "")) {
			snprintf(path, len, "%s", c2 + 1);
			found = 0;
		}
	}
	fclose(f);
	return found;
}

/* mountinfo: "ID PARENT MAJ:MIN ROOT DIR OPTS [TAGS] - FSTYPE SOURCE SUPER" */
static bool parse_mount(char *line, struct procfs_cgmount *m)
{
	char root[512], dir[512], fstype[32], super[256];
	char *dash = strstr(line, " - ");

	if (!dash || sscanf(line, "%*d %*d %*s %511s %511s", root, dir) != 2 ||
	    sscanf(dash + 3, "%31s %*s %255s", fstype, super) != 2)
		return false;
	if (strcmp(fstype, "cgroup") && strcmp(fstype, "cgroup2"))
		return false;
	m->v2 = !strcmp(fstype, "cgroup2");
	snprintf(m->dir, sizeof(m->dir), "%s", dir);
	snprintf(m->root, sizeof(m->root), "%s", root);
	snprintf(m->opts, sizeof(m->opts), "%s", super);
	return true;
}

int procfs_cgroup_mounts(struct procfs_cgmount *m, int max)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[2048];
	int n = 0;

	if (!f)
		return -errno;
	while (n < max && fgets(line, sizeof(line), f))
		n += parse_mount(line, &m[n]);
	fclose(f);
	return n;
}

/* The first line of /proc/self/status that scanf's fmt matches. */
static bool self_status(const char *fmt, unsigned long long *v)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, fmt, v) == 1;
	if (f)
		fclose(f);
	return found;
}

uint64_t procfs_self_capeff(void)
{
	unsigned long long v = 0;

	return self_status("CapEff: %llx", &v) ? v : 0;
}

uint64_t procfs_self_peak_rss_kb(void)
{
	unsigned long long v = 0;

	return self_status("VmHWM: %llu kB", &v) ? v : 0;
}

uint64_t procfs_self_fd_memlock(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}
