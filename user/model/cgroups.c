/* user/model/cgroups.c: the traced threads by cgroup, with each cgroup's
 * CPU limit, cpuset and counters over the window (snapshot.cgroups), and
 * the systemd unit, container or kubernetes pod a cgroup's path names. */
#include "model/model.h"
#include "model/hist.h"
#include "sys/util.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_SHOWN 12      /* container ids are shown as docker does: 12 hex digits */

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* A container id: 32 or more hex digits (docker's and CRI's are 64). */
static bool hex_id(const char *s, size_t n)
{
	if (n < 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* "RUNTIME-<id>.scope", the systemd cgroup driver's container scope. */
static bool container_scope(const char *c, const char *prefix, const char *runtime,
			    struct cgroup_owner *o)
{
	size_t p = strlen(prefix), n = strlen(c);

	if (strncmp(c, prefix, p) || !has_suffix(c, ".scope") || !hex_id(c + p, n - p - 6))
		return false;
	snprintf(o->container, sizeof(o->container), "%s %.*s", runtime, ID_SHOWN, c + p);
	return true;
}

/* "kubepods-burstable-pod<uid>.slice" (systemd driver, the uid's dashes
 * written as underscores) or "pod<uid>" (cgroupfs driver). */
static bool pod_component(const char *c, struct cgroup_owner *o)
{
	const char *pod = !strncmp(c, "kubepods", 8) ? strstr(c, "-pod") : NULL;
	size_t n;

	if (pod)
		pod += 4;
	else if (!strncmp(c, "pod", 3))
		pod = c + 3;
	else
		return false;
	n = strcspn(pod, ".");
	if (n < 32 || n >= sizeof(o->pod))
		return false;
	snprintf(o->pod, sizeof(o->pod), "%.*s", (int)n, pod);
	for (char *p = o->pod; *p; p++)
		if (*p == '_')
			*p = '-';
	return true;
}

/* One path component, deepest last: later ones override. */
static void owner_component(const char *c, const char *parent, struct cgroup_owner *o)
{
	static const struct { const char *prefix, *runtime; } scopes[] = {
		{ "docker-", "docker" }, { "cri-containerd-", "containerd" },
		{ "crio-", "cri-o" }, { "libpod-", "podman" },
	};
	size_t n = strlen(c);

	for (size_t i = 0; i < ARRAY_LEN(scopes); i++)
		if (container_scope(c, scopes[i].prefix, scopes[i].runtime, o))
			return;
	if (pod_component(c, o))
		return;
	if (hex_id(c, n)) {
		/* cgroupfs driver: /docker/<id>, /kubepods/.../pod<uid>/<id> */
		snprintf(o->container, sizeof(o->container), "%s %.*s",
			 !strcmp(parent, "docker") ? "docker" : "container", ID_SHOWN, c);
		return;
	}
	if (!strncmp(c, "lxc.payload.", 12)) {
		snprintf(o->container, sizeof(o->container), "lxc %.60s", c + 12);
		return;
	}
	/* conmon scopes and the like belong to a runtime, not to a unit */
	if (has_suffix(c, ".service") || (has_suffix(c, ".scope") && !strstr(c, "conmon")))
		snprintf(o->unit, sizeof(o->unit), "%.63s", c);
}

void cgroup_owner_parse(const char *path, struct cgroup_owner *o)
{
	char buf[CG_PATH_MAX], parent[CG_PATH_MAX] = "", *tok, *save = NULL;

	memset(o, 0, sizeof(*o));
	snprintf(buf, sizeof(buf), "%s", path ? path : "");
	for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		owner_component(tok, parent, o);
		snprintf(parent, sizeof(parent), "%s", tok);
	}
}

const char *cgroup_owner_label(const struct cgroup_owner *o, char *buf, size_t len)
{
	if (o->pod[0])
		snprintf(buf, len, "pod %.8s%s%s", o->pod, o->container[0] ? " " : "", o->container);
	else if (o->container[0])
		snprintf(buf, len, "%s", o->container);
	else
		snprintf(buf, len, "%s", o->unit);
	return buf;
}

/* --- the summaries ------------------------------------------------------- */

static struct cgroup_summary *cgroup_of(struct model *m, uint64_t id)
{
	for (uint32_t i = 0; i < m->ncgroups; i++)
		if (m->cgroups[i].id == id)
			return &m->cgroups[i];
	struct cgroup_summary *c = &m->cgroups[m->ncgroups++];

	c->id = id;
	c->path = "?";
	c->cpuset = "";
	c->limit_at = "";
	return c;
}

static uint64_t delta(uint64_t end, uint64_t start)
{
	return end > start ? end - start : 0;
}

/* The files' readings: usage and throttling over the window, the limit. */
static void add_readings(struct cgroup_summary *c, const struct ps_cgroup *g)
{
	const struct cg_counters *ts = g->quota.quota_us > 0 ? &g->quota_start : &g->start;
	const struct cg_counters *te = g->quota.quota_us > 0 ? &g->quota_end : &g->end;
	bool tstart = g->quota.quota_us > 0 ? g->have_quota_start : g->have_start;

	c->path = g->path[0] ? g->path : "?";
	cgroup_owner_parse(g->path, &c->owner);
	c->have_usage = g->have_start && g->start.have_usage && g->end.have_usage;
	c->usage_ns = c->have_usage ? delta(g->end.usage_ns, g->start.usage_ns) : 0;
	if (g->quota.quota_us > 0) {
		c->quota_us = g->quota.quota_us;
		c->period_us = g->quota.period_us;
		c->limit_cpus = (double)g->quota.quota_us / g->quota.period_us;
		c->limit_at = g->quota.at;
	}
	c->have_throttle = tstart && ts->have_throttle && te->have_throttle;
	if (c->have_throttle) {
		c->nr_periods = delta(te->nr_periods, ts->nr_periods);
		c->nr_throttled = delta(te->nr_throttled, ts->nr_throttled);
		c->throttled_ns = delta(te->throttled_ns, ts->throttled_ns);
	}
	c->cpuset = g->cpuset;
	c->cpuset_cpus = g->cpuset_cpus;
}

static int cmp_cgroup_oncpu(const void *a, const void *b)
{
	const struct cgroup_summary *x = a, *y = b;

	if (x->oncpu_ns != y->oncpu_ns)
		return x->oncpu_ns < y->oncpu_ns ? 1 : -1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void add_thread(struct cgroup_summary *c, const struct thread_summary *t)
{
	c->nthreads += t->folded ? t->folded : 1;
	c->oncpu_ns += t->oncpu_ns;
	c->runq_wait_ns += t->runq_wait_ns;
	c->runq_count += t->runq_count;
	c->vol += t->vol;
	c->invol += t->invol;
	if (t->runq_max_ns > c->runq_max_ns)
		c->runq_max_ns = t->runq_max_ns;
	for (int k = 0; k < PS_HIST_SLOTS; k++)
		c->runq_hist[k] += t->runq_hist[k];
}

static uint32_t count_procs(const struct model *m, uint64_t id)
{
	uint32_t *tg = xcalloc(m->nthreads ? m->nthreads : 1, sizeof(*tg)), n = 0;

	for (uint32_t i = 0; i < m->nthreads; i++) {
		bool seen = false;

		if (m->threads[i].cgroup_id != id)
			continue;
		for (uint32_t k = 0; k < n && !seen; k++)
			seen = tg[k] == m->threads[i].tgid;
		if (!seen)
			tg[n++] = m->threads[i].tgid;
	}
	free(tg);
	return n;
}

void model_build_cgroups(struct model *m)
{
	const struct ps_snapshot *s = m->snap;

	m->cgroups = xcalloc(m->nthreads + s->ncgroups + 1, sizeof(*m->cgroups));
	for (uint32_t i = 0; i < m->nthreads; i++)
		if (m->threads[i].cgroup_id)
			add_thread(cgroup_of(m, m->threads[i].cgroup_id), &m->threads[i]);
	for (uint32_t i = 0; i < s->ncgroups; i++)
		add_readings(cgroup_of(m, s->cgroups[i].id), &s->cgroups[i]);
	for (uint32_t i = 0; i < m->ncgroups; i++) {
		struct cgroup_summary *c = &m->cgroups[i];
		uint64_t p50 = hist_percentile(c->runq_hist, PS_HIST_SLOTS, 50);
		uint64_t p99 = hist_percentile(c->runq_hist, PS_HIST_SLOTS, 99);

		c->nprocs = count_procs(m, c->id);
		c->runq_p50_ns = c->runq_max_ns && p50 > c->runq_max_ns ? c->runq_max_ns : p50;
		c->runq_p99_ns = c->runq_max_ns && p99 > c->runq_max_ns ? c->runq_max_ns : p99;
		c->parallelism = m->wall_ns ? (double)c->oncpu_ns / m->wall_ns : 0;
	}
	qsort(m->cgroups, m->ncgroups, sizeof(*m->cgroups), cmp_cgroup_oncpu);
	m->cgroups_shown = m->ncgroups > 1 || s->cg_target;
}
