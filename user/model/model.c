/* user/model/model.c: per-core, per-thread and per-process summaries of a snapshot
 * (see model.h). */
#include "model/model.h"
#include "model/hist.h"
#include "sys/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Interpolated percentiles can overshoot the largest value inside a slot. */
static uint64_t clamp_max(uint64_t v, uint64_t max)
{
	return max && v > max ? max : v;
}

static void u32_hist_to_u64(const __u32 *in, uint64_t *out)
{
	for (int i = 0; i < PS_HIST_SLOTS; i++)
		out[i] = in[i];
}

static int cmp_thread_oncpu(const void *a, const void *b)
{
	const struct thread_summary *x = a, *y = b;

	if (x->oncpu_ns != y->oncpu_ns)
		return x->oncpu_ns < y->oncpu_ns ? 1 : -1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static int cmp_proc_oncpu(const void *a, const void *b)
{
	const struct process_summary *x = a, *y = b;

	if (x->oncpu_ns != y->oncpu_ns)
		return x->oncpu_ns < y->oncpu_ns ? 1 : -1;
	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

/* The summed counters of a thread or an exited-threads total (the same
 * fields: PS_THREAD_SUMS; blocked_ns is the summary's offcpu_ns). */
#define sums_of(ts, src) do {                                   \
		(ts)->oncpu_ns = (src)->oncpu_ns;               \
		(ts)->offcpu_ns = (src)->blocked_ns;            \
		(ts)->runq_wait_ns = (src)->runq_wait_ns;       \
		(ts)->runq_count = (src)->runq_count;           \
		(ts)->vol = (src)->vol;                         \
		(ts)->invol = (src)->invol;                     \
		(ts)->migrations = (src)->migrations;           \
		(ts)->wakeups = (src)->wakeups;                 \
	} while (0)

/* A thread's time in the window is at least what was measured of it: a
 * dying thread runs on a little after sched_process_exit, the end of its
 * window, so that no share of its life exceeds 100%. */
static uint64_t at_least_measured(const struct thread_summary *ts, uint64_t life)
{
	uint64_t measured = ts->oncpu_ns + ts->runq_wait_ns + ts->offcpu_ns;

	return measured > life ? measured : life;
}

/* Where thread t's time in the window begins: at its birth if it was born
 * in the trace (or when it entered it: moved into the cgroup, exec'd to
 * the name), else at the trace start (a thread first seen later was there
 * all along: asleep, its blocked time counts from the start), or,
 * for the command poolscope started, when poolscope released it (it slept
 * until then; that wait is taken off its blocked time). */
static uint64_t thread_from(const struct ps_snapshot *s, const struct ps_thread *t,
			    uint64_t *blocked)
{
	uint64_t pre;

	if (t->flags & (PS_THREAD_FORKED | PS_THREAD_ENTERED))
		return t->first_ns > s->start_ns ? t->first_ns : s->start_ns;
	if (!s->launch_tgid || t->tgid != s->launch_tgid || s->launch_ns <= s->start_ns ||
	    t->first_ns < s->launch_ns)
		return s->start_ns;
	pre = s->launch_ns - s->start_ns;
	*blocked = *blocked > pre ? *blocked - pre : 0;
	return s->launch_ns;
}

/* Thread summary ts of the traced thread t. */
static void thread_from_slot(const struct ps_snapshot *s, const struct ps_thread *t,
			     const uint64_t *oncpu_by_cpu, struct thread_summary *ts)
{
	uint64_t to = t->exit_ns && t->exit_ns < s->end_ns ? t->exit_ns : s->end_ns;
	uint64_t blocked = t->blocked_ns, from = thread_from(s, t, &blocked);

	ts->tid = t->tid;
	ts->tgid = t->tgid;
	ts->ns_tid = t->ns_tid;
	ts->ns_pid = t->ns_pid;
	ts->cgroup_id = t->cgroup_id;
	ts->parent_tid = t->parent_tid;
	memcpy(ts->comm, t->comm, sizeof(ts->comm));
	ts->comm[sizeof(ts->comm) - 1] = '\0';
	ts->exited = t->flags & PS_THREAD_EXITED;
	ts->forked = t->flags & PS_THREAD_FORKED;
	ts->execed = t->flags & PS_THREAD_EXECED;
	ts->entered = t->flags & PS_THREAD_ENTERED;
	ts->left = t->flags & PS_THREAD_LEFT;
	ts->first_ns = t->first_ns;
	ts->exit_ns = t->exit_ns;
	sums_of(ts, t);
	ts->offcpu_ns = blocked;
	ts->runq_max_ns = t->runq_max_ns;
	ts->oncpu_by_cpu = oncpu_by_cpu;
	ts->lifetime_ns = at_least_measured(ts, to > from ? to - from : 0);
	u32_hist_to_u64(t->runq_hist, ts->runq_hist);
}

/* The exited threads of process slot p whose slots were reused, as one
 * summary row (folded > 0, tid 0). */
static void thread_from_exited(const struct ps_proc *p, const uint64_t *zero_by_cpu,
			       const char *comm, struct thread_summary *ts)
{
	const struct ps_exited *ex = &p->ex;

	ts->tgid = p->tgid;
	ts->cgroup_id = ex->cgroup_id;
	ts->folded = ex->threads;
	snprintf(ts->comm, sizeof(ts->comm), "%s", comm);
	ts->exited = true;
	sums_of(ts, ex);
	ts->runq_max_ns = ex->runq_max_ns;
	ts->oncpu_by_cpu = zero_by_cpu;
	ts->lifetime_ns = at_least_measured(ts, ex->life_ns);
	u32_hist_to_u64(ex->runq_hist, ts->runq_hist);
}

/* The comm of process tgid's main thread in the snapshot, or "?". */
static const char *proc_comm(const struct ps_snapshot *s, uint32_t tgid)
{
	const struct ps_thread *t = snapshot_thread(s, tgid);

	return t && t->tgid == tgid ? t->comm : "?";
}

static void build_threads(const struct ps_snapshot *s, struct model *m)
{
	uint32_t n = 0;

	m->zero_by_cpu = xcalloc(s->nr_cpus ? s->nr_cpus : 1, sizeof(uint64_t));
	m->threads = xcalloc(s->nthreads + s->nprocs + 1, sizeof(*m->threads));
	for (uint32_t i = 0; i < s->nthreads; i++)
		thread_from_slot(s, &s->threads[i], &s->thread_cpu_ns[(size_t)i * s->nr_cpus],
				 &m->threads[n++]);
	for (uint32_t i = 0; i < s->nprocs; i++) {
		if (!s->procs[i].ex.threads)
			continue;
		thread_from_exited(&s->procs[i], m->zero_by_cpu,
				   s->procs[i].tgid ? proc_comm(s, s->procs[i].tgid) : "(others)",
				   &m->threads[n++]);
		m->folded_threads += s->procs[i].ex.threads;
	}
	m->nthreads = n;
	m->thread_count = s->nthreads + m->folded_threads;
	for (uint32_t i = 0; i < n; i++) {
		struct thread_summary *ts = &m->threads[i];

		ts->runq_p50_ns = clamp_max(hist_percentile(ts->runq_hist, PS_HIST_SLOTS, 50), ts->runq_max_ns);
		ts->runq_p99_ns = clamp_max(hist_percentile(ts->runq_hist, PS_HIST_SLOTS, 99), ts->runq_max_ns);
		for (int k = 0; k < PS_HIST_SLOTS; k++)
			m->runq_hist[k] += ts->runq_hist[k];
		m->thread_time_ns += ts->lifetime_ns;
		m->oncpu_ns += ts->oncpu_ns;
		m->offcpu_ns += ts->offcpu_ns;
		m->runq_wait_ns += ts->runq_wait_ns;
		m->runq_count += ts->runq_count;
		m->vol += ts->vol;
		m->invol += ts->invol;
		m->migrations += ts->migrations;
		if (ts->runq_max_ns > m->runq_max_ns)
			m->runq_max_ns = ts->runq_max_ns;
	}
	m->switches = m->vol + m->invol;
	qsort(m->threads, m->nthreads, sizeof(*m->threads), cmp_thread_oncpu);
}

static void build_procs(const struct ps_snapshot *s, struct model *m)
{
	m->procs = xcalloc(m->nthreads, sizeof(*m->procs));
	for (uint32_t i = 0; i < m->nthreads; i++) {
		const struct thread_summary *t = &m->threads[i];
		struct process_summary *p = NULL;

		for (uint32_t k = 0; k < m->nprocs; k++)
			if (m->procs[k].tgid == t->tgid)
				p = &m->procs[k];
		if (!p) {
			p = &m->procs[m->nprocs++];
			p->tgid = t->tgid;
		}
		if (t->tid == t->tgid || !p->comm[0])
			memcpy(p->comm, t->comm, sizeof(p->comm));
		p->nthreads += t->folded ? t->folded : 1;
		p->exited_folded += t->folded;
		p->oncpu_ns += t->oncpu_ns;
		p->offcpu_ns += t->offcpu_ns;
		p->runq_wait_ns += t->runq_wait_ns;
		p->vol += t->vol;
		p->invol += t->invol;
		p->migrations += t->migrations;
	}
	(void)s;
	qsort(m->procs, m->nprocs, sizeof(*m->procs), cmp_proc_oncpu);
}

static void build_cores(const struct ps_snapshot *s, struct model *m)
{
	uint64_t busy_all = 0, traced_all = 0;

	m->cores = xcalloc(s->nr_cpus, sizeof(*m->cores));
	for (int c = 0; c < s->nr_cpus; c++) {
		const struct ps_cpu *pc = &s->cpus[c];
		struct core_summary *cs = &m->cores[c];

		cs->cpu = c;
		cs->busy_ns = pc->busy_ns > m->wall_ns ? m->wall_ns : pc->busy_ns;
		cs->traced_ns = pc->traced_ns > cs->busy_ns ? cs->busy_ns : pc->traced_ns;
		cs->idle_ns = m->wall_ns - cs->busy_ns;
		cs->busy_pct = m->wall_ns ? 100.0 * cs->busy_ns / m->wall_ns : 0;
		cs->traced_pct = m->wall_ns ? 100.0 * cs->traced_ns / m->wall_ns : 0;
		cs->switches = pc->switches;
		cs->vol = pc->vol;
		cs->invol = pc->invol;
		cs->all_switches = pc->all_switches;
		cs->runq_count = pc->runq_count;
		cs->runq_sum_ns = pc->runq_sum_ns;
		memcpy(cs->runq_hist, pc->runq_hist, sizeof(cs->runq_hist));
		cs->runq_p50_ns = clamp_max(hist_percentile((const uint64_t *)pc->runq_hist,
							    PS_HIST_SLOTS, 50), pc->runq_max_ns);
		cs->runq_p99_ns = clamp_max(hist_percentile((const uint64_t *)pc->runq_hist,
							    PS_HIST_SLOTS, 99), pc->runq_max_ns);
		cs->runq_max_ns = pc->runq_max_ns;
		if (s->migr) {
			cs->migr_in = s->migr[c].in;
			cs->migr_out = s->migr[c].out;
		}
		for (int k = 0; k < MODEL_TOP_THREADS; k++)
			cs->top[k].thread = -1;
		/* top threads on this core by on-CPU time there (insertion into a
		 * tiny sorted array) */
		for (uint32_t i = 0; i < m->nthreads; i++) {
			uint64_t ns = m->threads[i].oncpu_by_cpu[c];

			for (int k = 0; k < MODEL_TOP_THREADS && ns; k++) {
				if (cs->top[k].thread >= 0 && cs->top[k].ns >= ns)
					continue;
				memmove(&cs->top[k + 1], &cs->top[k],
					(MODEL_TOP_THREADS - k - 1) * sizeof(cs->top[0]));
				cs->top[k].thread = (int32_t)i;
				cs->top[k].ns = ns;
				break;
			}
		}
		busy_all += cs->busy_ns;
		traced_all += cs->traced_ns;
	}
	m->busy_pct = m->wall_ns && s->nr_cpus ? 100.0 * busy_all / (m->wall_ns * s->nr_cpus) : 0;
	m->other_cpus = m->wall_ns ? (double)(busy_all - traced_all) / m->wall_ns : 0;
}

static void build_drops(const struct ps_snapshot *s, struct model *m)
{
	const struct ps_drops *d = &s->drops;
	const struct drop_count all[MODEL_DROP_KINDS] = {
		{ "no_slot_threads", "threads beyond --max-threads", d->no_slot_threads },
		{ "no_slot_events", "events of those threads", d->no_slot_events },
		{ "storage_fail", "task-storage failures", d->storage_fail },
		{ "tgid_full", "forked processes not followed", d->tgid_full },
		{ "proc_full", "processes without lock evidence", d->proc_full },
		{ "stack_fail", "stacks not captured", d->stack_fail },
		{ "offcpu_full", "off-CPU records (map full)", d->offcpu_full },
		{ "oncpu_full", "on-CPU samples (map full)", d->oncpu_full },
		{ "futex_full", "futex records (map full)", d->futex_full },
		{ "slot_queue_full", "thread slots not reused", d->slot_queue_full },
	};

	memcpy(m->drops, all, sizeof(all));
	for (int i = 0; i < MODEL_DROP_KINDS; i++)
		m->dropped += all[i].n;
}

int model_build(const struct ps_snapshot *snap, struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->snap = snap;
	m->nr_cpus = snap->nr_cpus;
	m->start_ns = snap->start_ns;
	m->wall_ns = snap->end_ns > snap->start_ns ? snap->end_ns - snap->start_ns : 0;
	build_threads(snap, m);
	build_procs(snap, m);
	build_cores(snap, m);
	m->parallelism = m->wall_ns ? (double)m->oncpu_ns / m->wall_ns : 0;
	m->runq_p50_ns = clamp_max(hist_percentile(m->runq_hist, PS_HIST_SLOTS, 50), m->runq_max_ns);
	m->runq_p90_ns = clamp_max(hist_percentile(m->runq_hist, PS_HIST_SLOTS, 90), m->runq_max_ns);
	m->runq_p99_ns = clamp_max(hist_percentile(m->runq_hist, PS_HIST_SLOTS, 99), m->runq_max_ns);
	build_drops(snap, m);
	model_build_locks(m);
	model_build_stacks(m);
	model_build_cgroups(m);
	return 0;
}

void model_free(struct model *m)
{
	for (uint32_t i = 0; i < m->n_offcpu; i++)
		free(m->offcpu[i].folded);
	for (uint32_t i = 0; i < m->n_oncpu; i++)
		free(m->oncpu[i].folded);
	for (uint32_t i = 0; i < m->n_futex; i++)
		free(m->futex[i].folded);
	free(m->offcpu);
	free(m->oncpu);
	free(m->futex);
	for (uint32_t i = 0; i < m->nlocks; i++)
		free(m->locks[i].waiter_tids);
	free(m->locks);
	free(m->futex_lock);
	free(m->cores);
	free(m->threads);
	free(m->procs);
	free(m->zero_by_cpu);
	free(m->cgroups);
	memset(m, 0, sizeof(*m));
}
