/* user/sys/cgroupfs.h: the cgroup filesystems: which hierarchies are
 * mounted where, naming a cgroup (--cgroup PATH), a cgroup's id and its
 * path, moving a process into one, and the files poolscope reports: CPU
 * usage, throttling (cpu.stat), CPU limits (cpu.max, or v1's
 * cpu.cfs_quota_us and cpu.cfs_period_us) and the cpuset. /proc/PID/cgroup
 * and the mount table are read through procfs. */
#ifndef POOLSCOPE_CGROUPFS_H
#define POOLSCOPE_CGROUPFS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CG_PATH_MAX 512

/* One hierarchy: v2's, or the v1 one of a controller (enum ps_cg_hier). */
struct cg_hier {
	int kind;
	bool mounted;
	char mount[CG_PATH_MAX];     /* where */
	char root[CG_PATH_MAX];      /* the cgroup mounted there, "/" for all of it */
	char ctrls[256];             /* its controllers: v1 from the mount, v2 cgroup.controllers */
};

/* "v2", "cpu", "cpuacct", ...; the kind of a controller's name, -1 unknown. */
const char *cgroupfs_kind_name(int kind);
int cgroupfs_kind_of(const char *name);
/* The hierarchy of kind; 0, or -ENOENT when it is not mounted. */
int cgroupfs_hier(int kind, struct cg_hier *h);
/* The hierarchy CPU limits live in: v2 when it has the cpu controller, else
 * v1's cpu one, else v2 (h->mounted false when none is mounted). */
void cgroupfs_default_hier(struct cg_hier *h);

/* The cgroup --cgroup names. */
struct cg_target {
	struct cg_hier h;
	char path[CG_PATH_MAX];      /* within the hierarchy, "/" for its root */
	uint64_t id;
};

/* Name a cgroup: its directory (/sys/fs/cgroup/cpu/pool), CONTROLLER:PATH
 * within that controller's hierarchy (cpu:/pool, as cgexec -g takes it), or
 * a path within the default hierarchy (/system.slice/nginx.service, as
 * /proc/PID/cgroup and systemctl show it). 0, or -errno with one line (no
 * newline) in err. */
int cgroupfs_resolve(const char *arg, struct cg_target *t, char *err, size_t errlen);
/* Move process pid into cgroup path of h (its cgroup.procs); 0 or -errno. */
int cgroupfs_move(const struct cg_hier *h, const char *path, int pid);
/* The directory of cgroup path. */
const char *cgroupfs_dir(const struct cg_hier *h, const char *path, char *buf, size_t len);

/* The cgroups of h's subtree at path (the cgroup ids are the inode numbers
 * of their directories on 64-bit kernels), at most max. */
struct cg_entry {
	uint64_t id;
	char path[CG_PATH_MAX];
};
int cgroupfs_list(const struct cg_hier *h, const char *path, struct cg_entry **out, int max);
/* The id of cgroup path (its directory's inode), 0 if there is none. */
uint64_t cgroupfs_id(const struct cg_hier *h, const char *path);
/* The cgroup, in hierarchy to, of the tasks of h's cgroup path: the same
 * when to is h's mount, else that of task pid (or of the first process in
 * path's cgroup.procs when pid is 0), from /proc/PID/cgroup. 0, -ENOENT. */
int cgroupfs_companion(const struct cg_hier *h, const char *path, const struct cg_hier *to,
		       int pid, char *out, size_t len);

/* Counters of one cgroup at one moment. */
struct cg_counters {
	bool have_usage;             /* usage_ns read */
	bool have_throttle;          /* the bandwidth counters read */
	uint64_t usage_ns;           /* CPU time of its tasks, its descendants' included */
	uint64_t nr_periods;         /* enforcement periods with runnable tasks */
	uint64_t nr_throttled;       /* of them, those that ran out of quota */
	uint64_t throttled_ns;       /* time its run queues spent throttled, summed over CPUs */
};
/* v2: cpu.stat (usage_usec; nr_periods, nr_throttled, throttled_usec with
 * the cpu controller); v1: the cpu hierarchy's cpu.stat (throttled_time in
 * ns) and cpuacct.usage of the cgroup acct_path of hierarchy acct (NULL:
 * none). 0, or -ENOENT when the cgroup is gone. */
int cgroupfs_counters(const struct cg_hier *h, const char *path, const struct cg_hier *acct,
		      const char *acct_path, struct cg_counters *c);

/* The CPU limit in effect for cgroup path: the tightest quota/period along
 * it and its ancestors. */
struct cg_quota {
	int64_t quota_us, period_us; /* quota_us < 0: none */
	char at[CG_PATH_MAX];        /* the cgroup that sets it */
};
void cgroupfs_quota(const struct cg_hier *h, const char *path, struct cg_quota *q);
/* The effective cpuset of cgroup path in hierarchy h (v2 with the cpuset
 * controller, or v1's cpuset hierarchy): "0-3,6" into cpus; how many CPUs,
 * 0 when unknown. */
int cgroupfs_cpuset(const struct cg_hier *h, const char *path, char *cpus, size_t len);
/* CPUs in a list such as "0-3,6" (cpuset.cpus format); 0 for "" */
int cgroupfs_count_cpus(const char *list);

#endif
