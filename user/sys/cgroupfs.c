/* user/sys/cgroupfs.c: the cgroup filesystems (see cgroupfs.h). */
#include "sys/cgroupfs.h"
#include "sys/procfs.h"
#include "sys/util.h"
#include <linux/types.h>
#include "poolscope.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

/* include/uapi/linux/magic.h */
#define CGROUP_SUPER_MAGIC_ 0x27e0eb
#define CGROUP2_SUPER_MAGIC_ 0x63677270
#define MAX_MOUNTS 64

/* v1 controller names, by enum ps_cg_hier (blkio is the v1 name of io) */
static const char *const kind_names[PS_CG_NKINDS] = {
	[PS_CG_V2] = "v2", [PS_CG_CPU] = "cpu", [PS_CG_CPUACCT] = "cpuacct",
	[PS_CG_CPUSET] = "cpuset", [PS_CG_MEMORY] = "memory", [PS_CG_PIDS] = "pids",
	[PS_CG_BLKIO] = "blkio", [PS_CG_DEVICES] = "devices", [PS_CG_FREEZER] = "freezer",
	[PS_CG_NET_CLS] = "net_cls", [PS_CG_PERF_EVENT] = "perf_event",
	[PS_CG_NET_PRIO] = "net_prio", [PS_CG_HUGETLB] = "hugetlb",
};

const char *cgroupfs_kind_name(int kind)
{
	return kind >= 0 && kind < PS_CG_NKINDS ? kind_names[kind] : "?";
}

int cgroupfs_kind_of(const char *name)
{
	for (int k = 0; k < PS_CG_NKINDS; k++)
		if (!strcmp(name, kind_names[k]))
			return k;
	if (!strcmp(name, "unified") || !strcmp(name, "cgroup2"))
		return PS_CG_V2;
	return -1;
}

/* The whole first line of a small file, newline cut; 0 or -errno. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* The v1 mount's controllers: its options less the mount flags. */
static void v1_controllers(const char *opts, char *out, size_t len)
{
	char buf[256], *tok, *save = NULL;
	size_t n = 0;

	out[0] = '\0';
	snprintf(buf, sizeof(buf), "%s", opts);
	for (tok = strtok_r(buf, ",", &save); tok && n < len; tok = strtok_r(NULL, ",", &save))
		if (cgroupfs_kind_of(tok) > PS_CG_V2 || !strncmp(tok, "name=", 5))
			n += snprintf(out + n, len - n, "%s%s", n ? "," : "", tok);
}

static bool list_has(const char *list, const char *word, const char *seps)
{
	char buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, seps, &save); tok; tok = strtok_r(NULL, seps, &save))
		if (!strcmp(tok, word))
			return true;
	return false;
}

static void hier_from(const struct procfs_cgmount *m, int kind, struct cg_hier *h)
{
	char file[CG_PATH_MAX + 32];

	memset(h, 0, sizeof(*h));
	h->kind = kind;
	h->mounted = true;
	snprintf(h->mount, sizeof(h->mount), "%s", m->dir);
	snprintf(h->root, sizeof(h->root), "%s", m->root);
	if (m->v2) {
		snprintf(file, sizeof(file), "%s/cgroup.controllers", m->dir);
		read_line(file, h->ctrls, sizeof(h->ctrls));
	} else {
		v1_controllers(m->opts, h->ctrls, sizeof(h->ctrls));
	}
}

int cgroupfs_hier(int kind, struct cg_hier *h)
{
	struct procfs_cgmount m[MAX_MOUNTS];
	int n = procfs_cgroup_mounts(m, MAX_MOUNTS);

	memset(h, 0, sizeof(*h));
	h->kind = kind;
	for (int i = 0; i < n; i++) {
		char ctrls[256];

		if (m[i].v2 != (kind == PS_CG_V2))
			continue;
		v1_controllers(m[i].opts, ctrls, sizeof(ctrls));
		if (kind == PS_CG_V2 || list_has(ctrls, kind_names[kind], ",")) {
			hier_from(&m[i], kind, h);
			return 0;
		}
	}
	return -ENOENT;
}

void cgroupfs_default_hier(struct cg_hier *h)
{
	struct cg_hier v2;
	bool have_v2 = cgroupfs_hier(PS_CG_V2, &v2) == 0;

	if (have_v2 && list_has(v2.ctrls, "cpu", " ")) {
		*h = v2;
		return;
	}
	if (cgroupfs_hier(PS_CG_CPU, h) == 0)
		return;
	if (have_v2)
		*h = v2;
	else
		cgroupfs_hier(PS_CG_V2, h);
}

const char *cgroupfs_dir(const struct cg_hier *h, const char *path, char *buf, size_t len)
{
	size_t r = strcmp(h->root, "/") ? strlen(h->root) : 0;

	/* a mount of a subtree shows the cgroups below its root only */
	if (r && !strncmp(path, h->root, r) && (path[r] == '/' || !path[r]))
		path += r;
	snprintf(buf, len, "%s%s", h->mount, strcmp(path, "/") ? path : "");
	return buf;
}

uint64_t cgroupfs_id(const struct cg_hier *h, const char *path)
{
	char dir[CG_PATH_MAX * 2];
	struct stat st;

	if (!h->mounted || stat(cgroupfs_dir(h, path, dir, sizeof(dir)), &st) || !S_ISDIR(st.st_mode))
		return 0;
	return st.st_ino;
}

/* --- naming a cgroup ----------------------------------------------------- */

/* The mount of dir (the longest mount point that is a prefix of it). */
static const struct procfs_cgmount *mount_of(const char *dir, const struct procfs_cgmount *m, int n)
{
	const struct procfs_cgmount *best = NULL;

	for (int i = 0; i < n; i++) {
		size_t k = strlen(m[i].dir);

		if (!strncmp(dir, m[i].dir, k) && (dir[k] == '/' || !dir[k]) &&
		    (!best || k > strlen(best->dir)))
			best = &m[i];
	}
	return best;
}

/* The controller a v1 mount is followed by: cpu when it has it (CPU
 * limits live there), else the first poolscope knows. */
static int v1_kind(const char *ctrls)
{
	char buf[256], *tok, *save = NULL;

	if (list_has(ctrls, "cpu", ","))
		return PS_CG_CPU;
	snprintf(buf, sizeof(buf), "%s", ctrls);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (cgroupfs_kind_of(tok) > PS_CG_V2)
			return cgroupfs_kind_of(tok);
	return -1;
}

/* An existing directory: on which cgroup mount, as which path. */
static int resolve_dir(const char *arg, struct cg_target *t, char *err, size_t errlen)
{
	struct procfs_cgmount m[MAX_MOUNTS];
	const struct procfs_cgmount *mt;
	char real[PATH_MAX], ctrls[256];
	struct statfs fs;
	int n, kind;

	if (!realpath(arg, real) || statfs(real, &fs)) {
		snprintf(err, errlen, "--cgroup %s: %s", arg, strerror(errno));
		return -errno;
	}
	if (fs.f_type != CGROUP_SUPER_MAGIC_ && fs.f_type != CGROUP2_SUPER_MAGIC_) {
		snprintf(err, errlen, "--cgroup %s: not a cgroup (the directory is not on a cgroup "
			 "filesystem)", arg);
		return -ENOTDIR;
	}
	n = procfs_cgroup_mounts(m, MAX_MOUNTS);
	mt = n > 0 ? mount_of(real, m, n) : NULL;
	if (!mt) {
		snprintf(err, errlen, "--cgroup %s: no cgroup mount holds it in /proc/self/mountinfo",
			 arg);
		return -ENOENT;
	}
	v1_controllers(mt->opts, ctrls, sizeof(ctrls));
	kind = mt->v2 ? PS_CG_V2 : v1_kind(ctrls);
	if (kind < 0) {
		snprintf(err, errlen, "--cgroup %s: the v1 hierarchy %s has no controller to follow "
			 "(use its v2 or a controller's cgroup)", arg, ctrls[0] ? ctrls : mt->opts);
		return -EINVAL;
	}
	hier_from(mt, kind, &t->h);
	if (snprintf(t->path, sizeof(t->path), "%s%s", strcmp(mt->root, "/") ? mt->root : "",
		     real[strlen(mt->dir)] ? real + strlen(mt->dir) :
		     (strcmp(mt->root, "/") ? "" : "/")) >= (int)sizeof(t->path)) {
		snprintf(err, errlen, "--cgroup %s: path too long", arg);
		return -ENAMETOOLONG;
	}
	return 0;
}

int cgroupfs_resolve(const char *arg, struct cg_target *t, char *err, size_t errlen)
{
	const char *colon = strchr(arg, ':'), *path = arg;
	struct stat st;
	char name[32];
	int kind = -1;

	memset(t, 0, sizeof(*t));
	if (colon && colon - arg < (long)sizeof(name) && colon[1] == '/') {
		snprintf(name, sizeof(name), "%.*s", (int)(colon - arg), arg);
		kind = cgroupfs_kind_of(name);
		if (kind < 0) {
			snprintf(err, errlen, "--cgroup %s: unknown cgroup controller '%s' (cpu, cpuacct, "
				 "cpuset, memory, pids, blkio, ... or v2)", arg, name);
			return -EINVAL;
		}
		path = colon + 1;
	} else if (stat(arg, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "--cgroup %s: not a cgroup (not a directory)", arg);
			return -ENOTDIR;
		}
		if (resolve_dir(arg, t, err, errlen))
			return -EINVAL;
		t->id = st.st_ino;
		return 0;
	}
	if (kind >= 0 ? cgroupfs_hier(kind, &t->h) : (cgroupfs_default_hier(&t->h), !t->h.mounted)) {
		snprintf(err, errlen, "--cgroup %s: %s", arg, kind >= 0 ?
			 "no cgroup hierarchy with that controller is mounted" :
			 "no such directory, and no cgroup hierarchy is mounted");
		return -ENOENT;
	}
	/* as /proc/PID/cgroup shows it: from the hierarchy's root */
	snprintf(t->path, sizeof(t->path), "%s%s", *path == '/' ? "" : "/", path);
	for (size_t n = strlen(t->path); n > 1 && t->path[n - 1] == '/'; n--)
		t->path[n - 1] = '\0';
	if (!(t->id = cgroupfs_id(&t->h, t->path))) {
		char dir[CG_PATH_MAX * 2];

		snprintf(err, errlen, "--cgroup %s: no such cgroup (%s does not exist)", arg,
			 cgroupfs_dir(&t->h, t->path, dir, sizeof(dir)));
		return -ENOENT;
	}
	return 0;
}

int cgroupfs_move(const struct cg_hier *h, const char *path, int pid)
{
	char dir[CG_PATH_MAX * 2], file[CG_PATH_MAX * 2 + 16], line[32];
	int fd, n, err = 0;

	snprintf(file, sizeof(file), "%s/cgroup.procs", cgroupfs_dir(h, path, dir, sizeof(dir)));
	fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(line, sizeof(line), "%d\n", pid);
	if (write(fd, line, n) != n)
		err = -errno;
	close(fd);
	return err;
}

/* --- the cgroups of a subtree -------------------------------------------- */

struct walk {
	struct cg_entry *e;
	int n, cap, max;
};

static void walk_dir(const char *dir, const char *path, struct walk *w, int depth)
{
	struct stat st;
	struct dirent *d;
	DIR *dh;

	if (w->n >= w->max || depth > 64 || stat(dir, &st) || !S_ISDIR(st.st_mode))
		return;
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 64;
		w->e = xrealloc(w->e, w->cap * sizeof(*w->e));
	}
	w->e[w->n].id = st.st_ino;
	snprintf(w->e[w->n++].path, CG_PATH_MAX, "%s", path);
	dh = opendir(dir);
	while (dh && (d = readdir(dh))) {
		char sub[CG_PATH_MAX * 2], subpath[CG_PATH_MAX];

		if (d->d_type != DT_DIR || !strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, d->d_name);
		snprintf(subpath, sizeof(subpath), "%s/%s", strcmp(path, "/") ? path : "", d->d_name);
		walk_dir(sub, subpath, w, depth + 1);
	}
	if (dh)
		closedir(dh);
}

int cgroupfs_list(const struct cg_hier *h, const char *path, struct cg_entry **out, int max)
{
	struct walk w = { .max = max };
	char dir[CG_PATH_MAX * 2];

	if (h->mounted)
		walk_dir(cgroupfs_dir(h, path, dir, sizeof(dir)), path, &w, 0);
	*out = w.e;
	return w.n;
}

/* The first process of a cgroup (cgroup.procs), 0 if it has none. */
static int first_pid(const struct cg_hier *h, const char *path)
{
	char dir[CG_PATH_MAX * 2], file[CG_PATH_MAX * 2 + 16], line[32];

	snprintf(file, sizeof(file), "%s/cgroup.procs", cgroupfs_dir(h, path, dir, sizeof(dir)));
	return read_line(file, line, sizeof(line)) ? 0 : atoi(line);
}

int cgroupfs_companion(const struct cg_hier *h, const char *path, const struct cg_hier *to,
		       int pid, char *out, size_t len)
{
	if (!to->mounted)
		return -ENOENT;
	if (!strcmp(h->mount, to->mount)) {
		snprintf(out, len, "%s", path);
		return 0;
	}
	if (!pid)
		pid = first_pid(h, path);
	if (!pid)
		return -ENOENT;
	return procfs_cgroup(pid, to->kind == PS_CG_V2 ? "" : kind_names[to->kind], out, len);
}

/* --- the files ----------------------------------------------------------- */

/* "key value" lines of a flat-keyed file (cpu.stat): the value of key. */
static bool keyed(const char *file, const char *key, uint64_t *v)
{
	char line[256], k[64];
	unsigned long long x;
	bool found = false;
	FILE *f = fopen(file, "re");

	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%63s %llu", k, &x) == 2 && !strcmp(k, key);
	if (f)
		fclose(f);
	if (found)
		*v = x;
	return found;
}

int cgroupfs_counters(const struct cg_hier *h, const char *path, const struct cg_hier *acct,
		      const char *acct_path, struct cg_counters *c)
{
	char dir[CG_PATH_MAX * 2], file[CG_PATH_MAX * 2 + 32], line[64];
	bool v2 = h->kind == PS_CG_V2;
	uint64_t t = 0;

	memset(c, 0, sizeof(*c));
	cgroupfs_dir(h, path, dir, sizeof(dir));
	if (access(dir, F_OK))
		return -ENOENT;
	snprintf(file, sizeof(file), "%s/cpu.stat", dir);
	c->have_throttle = keyed(file, "nr_periods", &c->nr_periods) &&
			   keyed(file, "nr_throttled", &c->nr_throttled) &&
			   keyed(file, v2 ? "throttled_usec" : "throttled_time", &t);
	c->throttled_ns = v2 ? t * 1000 : t;
	if (v2) {
		c->have_usage = keyed(file, "usage_usec", &c->usage_ns);
		c->usage_ns *= 1000;
	} else if (acct && acct_path) {
		snprintf(file, sizeof(file), "%s/cpuacct.usage",
			 cgroupfs_dir(acct, acct_path, dir, sizeof(dir)));
		c->have_usage = read_line(file, line, sizeof(line)) == 0 && line[0];
		c->usage_ns = c->have_usage ? strtoull(line, NULL, 10) : 0;
	}
	return 0;
}

/* One cgroup's own quota: v2 cpu.max "QUOTA PERIOD" ("max": none), v1
 * cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us. */
static bool own_quota(const struct cg_hier *h, const char *path, int64_t *quota, int64_t *period)
{
	char dir[CG_PATH_MAX * 2], file[CG_PATH_MAX * 2 + 32], line[64], q[32];
	long long p = 0;

	cgroupfs_dir(h, path, dir, sizeof(dir));
	if (h->kind == PS_CG_V2) {
		snprintf(file, sizeof(file), "%s/cpu.max", dir);
		if (read_line(file, line, sizeof(line)) || sscanf(line, "%31s %lld", q, &p) != 2 ||
		    !strcmp(q, "max"))
			return false;
		*quota = strtoll(q, NULL, 10);
	} else {
		snprintf(file, sizeof(file), "%s/cpu.cfs_quota_us", dir);
		if (read_line(file, line, sizeof(line)) || (*quota = strtoll(line, NULL, 10)) < 0)
			return false;
		snprintf(file, sizeof(file), "%s/cpu.cfs_period_us", dir);
		if (read_line(file, line, sizeof(line)))
			return false;
		p = strtoll(line, NULL, 10);
	}
	*period = p;
	return *quota > 0 && p > 0;
}

void cgroupfs_quota(const struct cg_hier *h, const char *path, struct cg_quota *q)
{
	char cur[CG_PATH_MAX];

	memset(q, 0, sizeof(*q));
	q->quota_us = -1;
	snprintf(cur, sizeof(cur), "%s", path);
	for (;;) {
		int64_t quota, period;
		char *slash;

		/* the tightest: the smallest quota/period ratio */
		if (own_quota(h, cur, &quota, &period) &&
		    (q->quota_us < 0 || (double)quota / period < (double)q->quota_us / q->period_us)) {
			q->quota_us = quota;
			q->period_us = period;
			snprintf(q->at, sizeof(q->at), "%s", cur);
		}
		slash = strrchr(cur, '/');
		if (!slash || slash == cur)
			break;
		*slash = '\0';
	}
}

int cgroupfs_count_cpus(const char *list)
{
	char buf[256], *tok, *save = NULL;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int a, b;

		if (sscanf(tok, "%d-%d", &a, &b) == 2 && b >= a)
			n += b - a + 1;
		else if (sscanf(tok, "%d", &a) == 1)
			n++;
	}
	return n;
}

int cgroupfs_cpuset(const struct cg_hier *h, const char *path, char *cpus, size_t len)
{
	/* v2 has it where the cpuset controller is enabled (and always at the
	 * root when v2 has the controller): the nearest cgroup up the path */
	const char *name = h->kind == PS_CG_V2 ? "cpuset.cpus.effective" : "cpuset.effective_cpus";
	char cur[CG_PATH_MAX], dir[CG_PATH_MAX * 2], file[CG_PATH_MAX * 2 + 32];

	cpus[0] = '\0';
	snprintf(cur, sizeof(cur), "%s", path);
	for (;;) {
		char *slash;

		snprintf(file, sizeof(file), "%s/%s", cgroupfs_dir(h, cur, dir, sizeof(dir)), name);
		if (read_line(file, cpus, len) == 0 && cpus[0])
			return cgroupfs_count_cpus(cpus);
		if (!strcmp(cur, "/"))
			break;
		slash = strrchr(cur, '/');
		if (!slash)
			break;
		if (slash == cur)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	cpus[0] = '\0';
	return 0;
}
