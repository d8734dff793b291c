/* user/trace/cgstats.c: a trace's cgroup readings (see cgstats.h). */
#include "trace/cgstats.h"
#include "sys/procfs.h"
#include "sys/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define START_MAX 512      /* cgroups read at the start, at most */
#define WALK_MAX 16384     /* cgroups a walk of the hierarchy visits, at most */

void cgstats_init(struct cgstats *c, int kind, uint64_t target)
{
	memset(c, 0, sizeof(*c));
	c->target = target;
	if (cgroupfs_hier(kind, &c->h))
		return;
	/* v2 counts usage in its own cpu.stat; v1 in the cpuacct hierarchy,
	 * which may be the same mount (cpu,cpuacct) or another */
	if (kind == PS_CG_V2)
		c->acct = c->h;
	else
		cgroupfs_hier(PS_CG_CPUACCT, &c->acct);
	if (kind == PS_CG_V2 && strstr(c->h.ctrls, "cpuset"))
		c->cpuset = c->h;
	else
		cgroupfs_hier(PS_CG_CPUSET, &c->cpuset);
}

static struct cg_start *find_start(struct cgstats *c, const char *path)
{
	for (int i = 0; i < c->nstart; i++)
		if (!strcmp(c->start[i].path, path))
			return &c->start[i];
	return NULL;
}

/* The cgroup of the tasks of c->h's cgroup path in hierarchy to (pid: one
 * of them, 0: any), "" when unknown. */
static void companion(struct cgstats *c, const char *path, const struct cg_hier *to, int pid,
		      char *out, size_t len)
{
	if (cgroupfs_companion(&c->h, path, to, pid, out, len))
		out[0] = '\0';
}

/* v1 with cpu and cpuacct apart: the usage of the tasks' cpuacct cgroup is
 * theirs only when it is the cgroup of the same path (as cgcreate -g
 * cpu,cpuacct:/x and systemd make them); another (the root, say) holds
 * other tasks too: unknown. */
static void acct_of(struct cgstats *c, const char *path, int pid, char *out, size_t len)
{
	companion(c, path, &c->acct, pid, out, len);
	if (strcmp(out, path))
		out[0] = '\0';
}

/* Read cgroup path at the start, once, and the cgroup whose quota limits
 * it (its throttling is counted there). */
static void start_one(struct cgstats *c, const char *path, int pid)
{
	struct cg_start *e;
	struct cg_quota q;

	if (find_start(c, path) || c->nstart >= START_MAX)
		return;
	if (c->nstart == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->start = xrealloc(c->start, c->cap * sizeof(*c->start));
	}
	e = &c->start[c->nstart];
	memset(e, 0, sizeof(*e));
	snprintf(e->path, sizeof(e->path), "%s", path);
	acct_of(c, path, pid, e->acct, sizeof(e->acct));
	companion(c, path, &c->cpuset, pid, e->cpuset, sizeof(e->cpuset));
	if (cgroupfs_counters(&c->h, path, &c->acct, e->acct[0] ? e->acct : NULL, &e->c))
		return; /* gone */
	c->nstart++;
	cgroupfs_quota(&c->h, path, &q);
	if (q.quota_us > 0 && strcmp(q.at, path))
		start_one(c, q.at, 0);
}

/* The controller to look up in /proc/PID/cgroup ("" for v2). */
static const char *ctrl_of(const struct cg_hier *h)
{
	return h->kind == PS_CG_V2 ? "" : cgroupfs_kind_name(h->kind);
}

static bool under(const char *path, const char *root)
{
	size_t n = strlen(root);

	return !strcmp(root, "/") || (!strncmp(path, root, n) && (!path[n] || path[n] == '/'));
}

void cgstats_start(struct cgstats *c, const int *pids, int npids, bool all)
{
	struct cg_entry *e = NULL;
	char path[CG_PATH_MAX], root[CG_PATH_MAX] = "";
	int n;

	if (!c->h.mounted)
		return;
	for (int i = 0; i < npids; i++)
		if (procfs_cgroup(pids[i], ctrl_of(&c->h), path, sizeof(path)) == 0)
			start_one(c, path, pids[i]);
	if (!c->target && !all)
		return;
	n = cgroupfs_list(&c->h, c->h.root, &e, WALK_MAX);
	for (int i = 0; i < n && c->target; i++)
		if (e[i].id == c->target)
			snprintf(root, sizeof(root), "%s", e[i].path);
	for (int i = 0; i < n; i++)
		if (all || (root[0] && under(e[i].path, root)))
			start_one(c, e[i].path, 0);
	free(e);
}

/* A thread of cgroup id still traced and alive, for /proc/PID/cgroup. */
static int live_thread_of(const struct ps_snapshot *s, uint64_t id)
{
	for (uint32_t i = 0; i < s->nthreads; i++)
		if (s->threads[i].cgroup_id == id &&
		    !(s->threads[i].flags & (PS_THREAD_EXITED | PS_THREAD_LEFT)))
			return s->threads[i].tid;
	return 0;
}

/* The end readings of cgroup g (path known), its limits and cpuset. */
static void end_one(struct cgstats *c, const struct ps_snapshot *s, struct ps_cgroup *g)
{
	struct cg_start *st = find_start(c, g->path), *qs;
	int pid = live_thread_of(s, g->id);
	char acct[CG_PATH_MAX], cs[CG_PATH_MAX];

	if (st && st->acct[0])
		snprintf(acct, sizeof(acct), "%s", st->acct);
	else
		acct_of(c, g->path, pid, acct, sizeof(acct));
	cgroupfs_counters(&c->h, g->path, &c->acct, acct[0] ? acct : NULL, &g->end);
	if (st) {
		g->start = st->c;
		g->have_start = true;
	}
	cgroupfs_quota(&c->h, g->path, &g->quota);
	if (g->quota.quota_us > 0) {
		cgroupfs_counters(&c->h, g->quota.at, NULL, NULL, &g->quota_end);
		qs = find_start(c, g->quota.at);
		if (qs) {
			g->quota_start = qs->c;
			g->have_quota_start = true;
		}
	}
	if (st && st->cpuset[0])
		snprintf(cs, sizeof(cs), "%s", st->cpuset);
	else
		companion(c, g->path, &c->cpuset, pid, cs, sizeof(cs));
	if (cs[0])
		g->cpuset_cpus = cgroupfs_cpuset(&c->cpuset, cs, g->cpuset, sizeof(g->cpuset));
}

static bool add_id(uint64_t *ids, uint32_t *n, uint64_t id)
{
	for (uint32_t i = 0; i < *n; i++)
		if (ids[i] == id)
			return false;
	ids[(*n)++] = id;
	return true;
}

void cgstats_end(struct cgstats *c, struct ps_snapshot *s)
{
	uint64_t *ids = xcalloc(s->nthreads + s->nprocs + 1, sizeof(*ids));
	struct cg_entry *e = NULL;
	uint32_t nids = 0;
	int n;

	s->cg_kind = c->h.kind;
	snprintf(s->cg_mount, sizeof(s->cg_mount), "%s", c->h.mounted ? c->h.mount : "");
	s->cg_target = c->target;
	for (uint32_t i = 0; i < s->nthreads; i++)
		if (s->threads[i].cgroup_id)
			add_id(ids, &nids, s->threads[i].cgroup_id);
	for (uint32_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].ex.threads && s->procs[i].ex.cgroup_id)
			add_id(ids, &nids, s->procs[i].ex.cgroup_id);
	if (c->target)
		add_id(ids, &nids, c->target);
	s->cgroups = xcalloc(nids ? nids : 1, sizeof(*s->cgroups));
	n = c->h.mounted ? cgroupfs_list(&c->h, c->h.root, &e, WALK_MAX) : 0;
	for (uint32_t k = 0; k < nids; k++) {
		struct ps_cgroup *g = &s->cgroups[s->ncgroups++];

		g->id = ids[k];
		g->quota.quota_us = -1;
		for (int i = 0; i < n && !g->path[0]; i++)
			if (e[i].id == g->id)
				snprintf(g->path, sizeof(g->path), "%s", e[i].path);
		if (g->path[0])
			end_one(c, s, g);
	}
	free(e);
	free(ids);
}

void cgstats_free(struct cgstats *c)
{
	free(c->start);
	memset(c, 0, sizeof(*c));
}
