/* tests/unit/test_cgroups.c: cgroups without BPF: the unit, container and
 * pod names parsed from cgroup paths (systemd, docker, containerd, CRI-O,
 * podman, kubernetes with either cgroup driver, lxc), the per-cgroup
 * summaries of a hand-made snapshot, the throttled verdict (a quota that
 * ran out, a cpuset narrower than the pool) and the cases that must not get
 * it, and the CGROUPS section in the text (80 columns) and JSON reports. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "model/diagnose.h"
#include "render/report.h"
#include "model/snapdiff.h"

#define MS 1000000ull
#define START (1000 * MS)
#define HEX64 "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081"

static struct ps_snapshot snap;
static struct model model;
static struct diagnosis diag;

/* --- the path parser ----------------------------------------------------- */

static void owner_case(const char *path, const char *unit, const char *container, const char *pod,
		       const char *label)
{
	struct cgroup_owner o;
	char name[160], got[160];

	cgroup_owner_parse(path, &o);
	cgroup_owner_label(&o, got, sizeof(got));
	snprintf(name, sizeof(name), "owner of %.120s", path);
	CHECK(name, !strcmp(o.unit, unit) && !strcmp(o.container, container) && !strcmp(o.pod, pod) &&
	      !strcmp(got, label), "unit '%s' container '%s' pod '%s' label '%s'", o.unit,
	      o.container, o.pod, got);
}

static void test_owner(void)
{
	owner_case("/system.slice/nginx.service", "nginx.service", "", "", "nginx.service");
	owner_case("/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service", "",
		   "", "getty@tty1.service");
	owner_case("/user.slice/user-1000.slice/session-3.scope", "session-3.scope", "", "",
		   "session-3.scope");
	owner_case("/system.slice/docker-" HEX64 ".scope", "", "docker 3f2a1b4c5d6e", "",
		   "docker 3f2a1b4c5d6e");
	owner_case("/docker/" HEX64, "", "docker 3f2a1b4c5d6e", "", "docker 3f2a1b4c5d6e");
	owner_case("/system.slice/crio-" HEX64 ".scope", "", "cri-o 3f2a1b4c5d6e", "",
		   "cri-o 3f2a1b4c5d6e");
	owner_case("/machine.slice/libpod-" HEX64 ".scope", "", "podman 3f2a1b4c5d6e", "",
		   "podman 3f2a1b4c5d6e");
	owner_case("/machine.slice/libpod-conmon-" HEX64 ".scope", "", "", "", "");
	owner_case("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-"
		   "pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice/cri-containerd-" HEX64 ".scope",
		   "", "containerd 3f2a1b4c5d6e", "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
		   "pod 1a2b3c4d containerd 3f2a1b4c5d6e");
	owner_case("/kubepods.slice/kubepods-pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice", "", "",
		   "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d", "pod 1a2b3c4d");
	owner_case("/kubepods/burstable/pod1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d/" HEX64, "",
		   "container 3f2a1b4c5d6e", "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
		   "pod 1a2b3c4d container 3f2a1b4c5d6e");
	owner_case("/lxc.payload.web1", "", "lxc web1", "", "lxc web1");
	/* a short "id" is no container id; the scope is a unit then */
	owner_case("/system.slice/docker-abc.scope", "docker-abc.scope", "", "", "docker-abc.scope");
	owner_case("/kubepods.slice", "", "", "", "");
	owner_case("/pool/a", "", "", "", "");
	owner_case("/", "", "", "", "");
	owner_case("", "", "", "", "");
}

/* --- snapshots ----------------------------------------------------------- */

struct tspec {
	uint32_t tid;
	uint64_t cgroup;
	uint64_t on_ms, rq_ms, off_ms, invol;
};

/* wall_ms on ncpu cores; cpu c busy busy_pct[c] (any task). */
static void build(int ncpu, uint64_t wall_ms, const double *busy_pct, const struct tspec *t,
		  int n)
{
	memset(&snap, 0, sizeof(snap));
	snap.start_ns = START;
	snap.end_ns = START + wall_ms * MS;
	snap.nr_cpus = ncpu;
	snap.attach_mode = "tp_btf";
	snap.cg_kind = PS_CG_CPU;
	snprintf(snap.cg_mount, sizeof(snap.cg_mount), "/sys/fs/cgroup/cpu");
	snap.nthreads = n;
	snap.threads = calloc(n ? n : 1, sizeof(struct ps_thread));
	snap.thread_cpu_ns = calloc((n ? n : 1) * ncpu, sizeof(uint64_t));
	snap.cpus = calloc(ncpu, sizeof(struct ps_cpu));
	snap.migr = calloc(ncpu, sizeof(struct ps_cpu_migr));
	for (int i = 0; i < n; i++) {
		struct ps_thread *p = &snap.threads[i];

		p->tid = t[i].tid;
		p->tgid = t[0].tid;
		p->ns_tid = t[i].tid - t[0].tid + 1;
		p->ns_pid = 1;
		p->cgroup_id = t[i].cgroup;
		snprintf(p->comm, sizeof(p->comm), "pool");
		p->first_ns = START;
		p->oncpu_ns = t[i].on_ms * MS;
		p->runq_wait_ns = t[i].rq_ms * MS;
		p->blocked_ns = t[i].off_ms * MS;
		p->invol = t[i].invol;
		p->vol = 2;
		p->runq_count = p->invol + p->vol;
		p->runq_hist[22] = (uint32_t)p->runq_count;
		p->runq_max_ns = 8 * MS;
		for (int c = 0; c < ncpu; c++)
			snap.thread_cpu_ns[i * ncpu + c] = p->oncpu_ns / ncpu;
	}
	for (int c = 0; c < ncpu; c++)
		snap.cpus[c].busy_ns = (uint64_t)(busy_pct[c] / 100 * wall_ms * MS);
}

/* A cgroup of the snapshot: quota_ms per 100 ms (0: none), throttled in
 * thr of periods periods for thr_ms, cpuset (NULL: unknown), usage over the
 * window (0: not read at the start). */
static void add_cgroup(uint64_t id, const char *path, uint64_t quota_ms, uint64_t periods,
		       uint64_t thr, uint64_t thr_ms, const char *cpuset, uint64_t usage_ms)
{
	struct ps_cgroup *g;

	snap.cgroups = realloc(snap.cgroups, (snap.ncgroups + 1) * sizeof(*g));
	g = &snap.cgroups[snap.ncgroups++];
	memset(g, 0, sizeof(*g));
	g->id = id;
	snprintf(g->path, sizeof(g->path), "%s", path);
	g->have_start = usage_ms > 0;
	g->start.have_usage = g->end.have_usage = true;
	g->start.usage_ns = 5000 * MS;
	g->end.usage_ns = 5000 * MS + usage_ms * MS;
	g->start.have_throttle = g->end.have_throttle = true;
	g->quota.quota_us = quota_ms ? (int64_t)quota_ms * 1000 : -1;
	g->quota.period_us = 100000;
	if (quota_ms) {
		snprintf(g->quota.at, sizeof(g->quota.at), "%s", path);
		g->have_quota_start = true;
		g->quota_start.have_throttle = g->quota_end.have_throttle = true;
		g->quota_start.nr_periods = 40;
		g->quota_end.nr_periods = 40 + periods;
		g->quota_start.nr_throttled = 7;
		g->quota_end.nr_throttled = 7 + thr;
		g->quota_end.throttled_ns = thr_ms * MS;
	}
	if (cpuset) {
		snprintf(g->cpuset, sizeof(g->cpuset), "%s", cpuset);
		g->cpuset_cpus = cgroupfs_count_cpus(cpuset);
	}
}

static void run(void)
{
	model_build(&snap, &model);
	diagnose(&model, &diag);
}

static void done(void)
{
	model_free(&model);
	snapshot_free(&snap);
}

static double ev(const char *name)
{
	for (int i = 0; i < diag.nev; i++)
		if (!strcmp(diag.ev[i].name, name))
			return diag.ev[i].value;
	return NAN;
}

static bool has(const char *phrase)
{
	char flat[sizeof(diag.text)];

	snprintf(flat, sizeof(flat), "%s", diag.text);
	for (char *p = flat; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return strstr(flat, phrase) != NULL;
}

static int widest_line(const char *s)
{
	int w = 0, cur = 0;

	for (; *s; s++) {
		cur = *s == '\n' ? 0 : cur + 1;
		if (cur > w)
			w = cur;
	}
	return w;
}

/* cpu-threads -w 4 in cgroup 7: four workers wanting a CPU all the time,
 * one CPU's worth running; cores 60% busy (0.8 cores idle). */
static void build_pool(uint64_t quota_ms, uint64_t thr, const char *cpuset, const double *busy)
{
	static const double some_idle[] = { 60, 60 };
	struct tspec t[] = {
		{ 700, 7, 1, 0, 999, 1 },
		{ 701, 7, 250, 740, 10, 200 },
		{ 702, 7, 250, 740, 10, 200 },
		{ 703, 7, 250, 740, 10, 200 },
		{ 704, 7, 250, 740, 10, 200 },
	};

	build(2, 1000, busy ? busy : some_idle, t, 5);
	add_cgroup(7, "/pool", quota_ms, 10, thr, thr * 280, cpuset, 1003);
}

static void test_quota(void)
{
	build_pool(100, 9, "0-1", NULL);
	run();
	CHECK("quota: 4 workers under a 1-CPU quota that ran out are throttled",
	      diag.key && !strcmp(diag.key, "throttled") && diag.verdict == VERDICT_THROTTLED &&
	      !strcmp(diag.label, "throttled by its CPU quota"), "got %s: %s", diag.key, diag.text);
	CHECK("quota: nr_throttled and the periods are quoted, as evidence too",
	      has("ran out of quota in 9 of 10 periods (90%)") && ev("nr_throttled") == 9 &&
	      ev("nr_periods") == 10 && ev("quota_cpus") == 1 && ev("cpu_threads") == 4,
	      "nr_throttled %f: %s", ev("nr_throttled"), diag.text);
	CHECK("quota: the advice sizes the pool to the quota, not the host",
	      has("size the pool to the quota (1 CPU), not to the host's 2 cores"), "%s", diag.text);
	CHECK("quota: runnable time while cores sat idle is said and measured",
	      has("while 0.80 cores' worth sat idle") && fabs(ev("runnable_idle_cpus") - 0.8) < 0.01,
	      "%f: %s", ev("runnable_idle_cpus"), diag.text);
	CHECK("quota: confident, text within 78 columns", diag.confidence >= 0.75 &&
	      widest_line(diag.text) <= 78, "%f", diag.confidence);
	done();

	/* a quota of 1.5 CPUs, set by the parent */
	build_pool(150, 8, NULL, NULL);
	snprintf(snap.cgroups[0].quota.at, CG_PATH_MAX, "/");
	run();
	CHECK("quota: a fractional quota set higher up is named",
	      !strcmp(diag.key, "throttled") && has("(1.5 CPUs)") && has("set at /"), "%s",
	      diag.text);
	done();
}

/* one thread that wants a whole CPU under a half-CPU quota: the quota is
 * too small, not the pool too big */
static void test_small_quota(void)
{
	static const double busy[] = { 30, 30 };
	struct tspec t[] = { { 900, 7, 500, 495, 5, 100 } };

	build(2, 1000, busy, t, 1);
	add_cgroup(7, "/one", 50, 10, 10, 500, NULL, 501);
	run();
	CHECK("small quota: one thread under a 0.5-CPU quota is throttled, advised to raise it",
	      !strcmp(diag.key, "throttled") && has("the quota (0.5 CPUs) is the limit, raise it") &&
	      !has("size the pool"), "got %s: %s", diag.key, diag.text);
	done();
}

static void test_not_throttled(void)
{
	static const double full[] = { 100, 100 };

	build_pool(0, 0, "0-1", NULL);
	run();
	CHECK("no quota: the same pool is not throttled (oversubscribed)",
	      strcmp(diag.key, "throttled") && !strcmp(diag.key, "oversubscribed"), "got %s: %s",
	      diag.key, diag.text);
	done();
	build_pool(100, 0, NULL, NULL);
	run();
	CHECK("quota that never ran out: not throttled", strcmp(diag.key, "throttled"),
	      "got %s: %s", diag.key, diag.text);
	done();
	build_pool(100, 1, NULL, NULL);
	run();
	CHECK("quota throttled in 1 of 10 periods: not the bottleneck", strcmp(diag.key, "throttled"),
	      "got %s: %s", diag.key, diag.text);
	done();
	/* the throttling over the window is unknown: no verdict on a guess */
	build_pool(100, 9, NULL, NULL);
	snap.cgroups[0].have_quota_start = false;
	run();
	CHECK("quota with no start reading: not throttled", strcmp(diag.key, "throttled"),
	      "got %s: %s", diag.key, diag.text);
	done();
	/* a cpuset as wide as the host is no limit */
	build_pool(0, 0, "0-1", full);
	run();
	CHECK("cpuset of every core: not the limit", strcmp(diag.key, "throttled"),
	      "got %s: %s", diag.key, diag.text);
	done();
}

static void test_cpuset(void)
{
	static const double one_busy[] = { 100, 2 }, full[] = { 100, 100 };

	build_pool(0, 0, "0", one_busy);
	run();
	CHECK("cpuset: 4 workers on a 1-CPU cpuset with a core idle are CPU-limited by it",
	      !strcmp(diag.key, "throttled") && !strcmp(diag.label, "CPU-limited by its cpuset") &&
	      ev("cpuset_cpus") == 1 && isnan(ev("nr_throttled")), "got %s: %s", diag.key, diag.text);
	CHECK("cpuset: its own wording",
	      has("Limited by its cpuset: cgroup /pool may run on CPUs 0 only, 1 of the host's 2 cores") &&
	      has("Size the pool to the cpuset's 1 CPU, not to the host's 2 cores, or widen the "
		  "cpuset") && has("while 0.98 cores' worth sat idle") &&
	      widest_line(diag.text) <= 78, "%s", diag.text);
	done();

	/* the other core busy with other tasks: still all the pool can have */
	build_pool(0, 0, "1", full);
	run();
	CHECK("cpuset with every core busy: still the limit, less sure, said so",
	      !strcmp(diag.key, "throttled") && has("other tasks had the other cores meanwhile") &&
	      diag.confidence < 0.95, "got %s (%.2f): %s", diag.key, diag.confidence, diag.text);
	done();
}

/* --- the section ----------------------------------------------------------- */

static char *text_report(void)
{
	struct report_opts ro = { .title = "test", .exit_status = 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	report_text(f, &model, &diag, &ro);
	fclose(f);
	return buf;
}

/* Two cgroups: the pool's and a docker container's without a start reading. */
static void build_two(void)
{
	struct tspec t[] = {
		{ 800, 7, 300, 100, 600, 30 },
		{ 801, 7, 300, 100, 600, 30 },
		{ 802, 9, 200, 5, 795, 3 },
	};
	static const double busy[] = { 50, 50 };

	build(2, 1000, busy, t, 3);
	add_cgroup(7, "/system.slice/nginx.service", 100, 10, 9, 2520, "0-1", 604);
	add_cgroup(9, "/system.slice/docker-" HEX64 ".scope", 0, 0, 0, 0, NULL, 0);
}

static void test_section(void)
{
	char *out;

	build_two();
	run();
	out = text_report();
	CHECK("section: shown for two cgroups, each with its owner",
	      strstr(out, "\nCGROUPS (v1 cpu hierarchy at /sys/fs/cgroup/cpu)\n") &&
	      strstr(out, "/system.slice/nginx.service  [nginx.service]") &&
	      strstr(out, "[docker 3f2a1b4c5d6e]"), "%s", out);
	CHECK("section: on-CPU beside the cgroup's usage, runq, switches, limit, throttling",
	      strstr(out, "    2 threads in 1 process: on-CPU 600 ms, parallelism 0.60\n"
		     "    cgroup usage 604 ms; runq p50 ") &&
	      strstr(out, "CPU limit 1.00 CPUs (100 ms per 100 ms); cpuset 0-1 (2 CPUs)") &&
	      strstr(out, "throttled in 9 of 10 periods (90%), 2.52 s in all") &&
	      strstr(out, "no CPU limit; cpuset unknown") && strstr(out, "ms; 64 switches\n"),
	      "%s", out);
	CHECK("section: every line within 80 columns", widest_line(out) <= 80, "widest %d:\n%s",
	      widest_line(out), out);
	free(out);
	done();

	/* one cgroup and no --cgroup: nothing to compare, no section */
	build_pool(0, 0, NULL, NULL);
	run();
	out = text_report();
	CHECK("section: not shown for one cgroup without --cgroup", !strstr(out, "CGROUPS"), "%s",
	      out);
	free(out);
	done();
	build_pool(0, 0, NULL, NULL);
	snap.cg_target = 7;
	run();
	out = text_report();
	CHECK("section: shown for one cgroup with --cgroup", strstr(out, "\nCGROUPS ") != NULL,
	      "%s", out);
	free(out);
	done();
}

static void test_json(void)
{
	char path[] = "/tmp/poolscope-cgroups-XXXXXX", cmd[4096];
	struct report_opts ro = { .title = "test", .exit_status = 0 };
	int fd, rc;
	FILE *f;

	build_two();
	run();
	fd = mkstemp(path);
	f = fdopen(fd, "w");
	report_json(f, &model, &diag, &ro);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 -c '%s' %s",
		 "import json,sys\n"
		 "r = json.load(open(sys.argv[1]))\n"
		 "h = r[\"cgroup_hierarchy\"]\n"
		 "assert h == {\"kind\": \"cpu\", \"mount\": \"/sys/fs/cgroup/cpu\", \"target\": None,"
		 " \"shown\": True}, h\n"
		 "c = {g[\"id\"]: g for g in r[\"cgroups\"]}\n"
		 "a, b = c[7], c[9]\n"
		 "assert a[\"path\"] == \"/system.slice/nginx.service\" and a[\"unit\"] == \"nginx.service\"\n"
		 "assert a[\"threads\"] == 2 and a[\"oncpu_ns\"] == 600000000 and a[\"usage_ns\"] == 604000000\n"
		 "assert a[\"limit_cpus\"] == 1 and a[\"quota_us\"] == 100000 and a[\"period_us\"] == 100000\n"
		 "assert a[\"nr_throttled\"] == 9 and a[\"nr_periods\"] == 10\n"
		 "assert a[\"throttled_ns\"] == 2520000000 and a[\"cpuset\"] == \"0-1\"\n"
		 "assert a[\"cpuset_cpus\"] == 2 and len(a[\"runq_hist\"]) == 40\n"
		 "assert b[\"container\"] == \"docker 3f2a1b4c5d6e\" and b[\"unit\"] is None\n"
		 "assert b[\"usage_ns\"] is None and b[\"limit_cpus\"] is None and b[\"cpuset\"] is None\n"
		 "t = {x[\"tid\"]: x for x in r[\"threads\"]}\n"
		 "assert t[801][\"ns_tid\"] == 2 and t[801][\"ns_pid\"] == 1 and t[802][\"cgroup_id\"] == 9\n"
		 "assert t[801][\"entered\"] is False and t[801][\"left\"] is False\n",
		 path);
	rc = system(cmd);
	CHECK("json: cgroup_hierarchy, cgroups[] and the threads' ns ids parse with the values given",
	      rc == 0, "python3 check failed (%s kept)", path);
	if (rc == 0)
		unlink(path);
	done();
}

/* attach -i: an interval's cgroup counters start where the last one's ended */
static void test_interval(void)
{
	struct ps_snapshot prev, cur, d;

	build_pool(100, 9, NULL, NULL);
	prev = snap;
	build_pool(100, 9, NULL, NULL);
	cur = snap;
	cur.end_ns = prev.end_ns + 1000 * MS;
	prev.cgroups[0].end.usage_ns = 5400 * MS;
	prev.cgroups[0].quota_end.nr_throttled = 12;
	snapshot_diff(&cur, &prev, &d);
	CHECK("interval: a cgroup's start is the end of the interval before",
	      d.ncgroups == 1 && d.cgroups[0].have_start && d.cgroups[0].start.usage_ns == 5400 * MS &&
	      d.cgroups[0].quota_start.nr_throttled == 12 &&
	      d.cgroups[0].end.usage_ns == cur.cgroups[0].end.usage_ns && d.cg_kind == PS_CG_CPU,
	      "%u cgroups, start %llu", d.ncgroups, (unsigned long long)d.cgroups[0].start.usage_ns);
	snapshot_free(&d);
	snapshot_free(&prev);
	snapshot_free(&cur);
	memset(&snap, 0, sizeof(snap));
}

int main(void)
{
	test_owner();
	test_quota();
	test_small_quota();
	test_not_throttled();
	test_cpuset();
	test_section();
	test_json();
	test_interval();
	return check_failures() != 0;
}
