/* user/snapdiff.c: interval snapshots (see snapdiff.h). */
#include "model/snapdiff.h"
#include "sys/util.h"
#include <string.h>

#define SUB(field) out->field = cur->field >= prev->field ? cur->field - prev->field : 0
#define SUB_FIELD(field) SUB(field);

static uint64_t grown_max(uint64_t cur, uint64_t prev)
{
	return cur > prev ? cur : 0;
}

static void diff_thread(struct ps_thread *out, const struct ps_thread *cur, const struct ps_thread *prev)
{
	*out = *cur;
	PS_THREAD_SUMS(SUB_FIELD)
	out->runq_max_ns = grown_max(cur->runq_max_ns, prev->runq_max_ns);
	for (int i = 0; i < PS_HIST_SLOTS; i++)
		SUB(runq_hist[i]);
}

static void diff_cpu(struct ps_cpu *out, const struct ps_cpu *cur, const struct ps_cpu *prev)
{
	*out = *cur;
	SUB(busy_ns);
	SUB(traced_ns);
	SUB(switches);
	SUB(vol);
	SUB(invol);
	SUB(all_switches);
	SUB(runq_count);
	SUB(runq_sum_ns);
	out->runq_max_ns = grown_max(cur->runq_max_ns, prev->runq_max_ns);
	for (int i = 0; i < PS_HIST_SLOTS; i++)
		SUB(runq_hist[i]);
}

static const void *find_key(const void *recs, uint32_t n, size_t rec_size, const void *key, size_t key_size)
{
	for (uint32_t i = 0; i < n; i++) {
		const char *r = (const char *)recs + i * rec_size;

		if (!memcmp(r, key, key_size))
			return r;
	}
	return NULL;
}

static struct ps_stack_rec *diff_stack_recs(const struct ps_stack_rec *cur, uint32_t ncur,
					    const struct ps_stack_rec *prev, uint32_t nprev, uint32_t *nout)
{
	struct ps_stack_rec *out = xcalloc(ncur, sizeof(*out));

	*nout = 0;
	for (uint32_t i = 0; i < ncur; i++) {
		const struct ps_stack_rec *p = find_key(prev, nprev, sizeof(*prev), &cur[i].key, sizeof(cur[i].key));
		struct ps_stack_rec r = cur[i];

		if (p) {
			r.val.value -= p->val.value < r.val.value ? p->val.value : r.val.value;
			r.val.count -= p->val.count < r.val.count ? p->val.count : r.val.count;
		}
		if (r.val.value)
			out[(*nout)++] = r;
	}
	return out;
}

static void diff_futex(struct ps_snapshot *o, const struct ps_snapshot *c, const struct ps_snapshot *p)
{
	o->futex_recs = xcalloc(c->n_futex, sizeof(*o->futex_recs));
	for (uint32_t i = 0; i < c->n_futex; i++) {
		const struct ps_futex_rec *pr = find_key(p->futex_recs, p->n_futex, sizeof(*pr),
							  &c->futex_recs[i].key, sizeof(pr->key));
		struct ps_futex_rec r = c->futex_recs[i];

		if (pr) {
			const struct ps_futex_stat *cur = &c->futex_recs[i].st, *prev = &pr->st;
			struct ps_futex_stat *out = &r.st;

			SUB(waits);
			SUB(wait_ns);
			SUB(busy_ns);
			SUB(proc_busy_ns);
			SUB(timeouts);
			SUB(interrupted);
			SUB(eagain);
			SUB(woken_by_traced);
			SUB(asleep_ns);
			SUB(peers_ns);
			out->max_ns = grown_max(cur->max_ns, prev->max_ns);
			for (int h = 0; h < PS_HIST_SLOTS; h++)
				SUB(hist[h]);
		}
		if (r.st.waits || r.st.eagain)
			o->futex_recs[o->n_futex++] = r;
	}
}

/* The exited threads folded since prev, per process slot (matched by tgid:
 * the shared slot of the processes beyond the others has tgid 0). */
static void diff_procs(struct ps_snapshot *o, const struct ps_snapshot *c, const struct ps_snapshot *p)
{
	o->procs = xcalloc(c->nprocs ? c->nprocs : 1, sizeof(*o->procs));
	o->nprocs = c->nprocs;
	for (uint32_t i = 0; i < c->nprocs; i++) {
		const struct ps_exited *cur = &c->procs[i].ex, *prev = NULL;
		static const struct ps_exited none;
		struct ps_exited *out = &o->procs[i].ex;

		o->procs[i] = c->procs[i];
		for (uint32_t k = 0; k < p->nprocs && !prev; k++)
			if (p->procs[k].tgid == c->procs[i].tgid)
				prev = &p->procs[k].ex;
		if (!prev)
			prev = &none;
		SUB(threads);
		SUB(life_ns);
		PS_THREAD_SUMS(SUB_FIELD)
		out->runq_max_ns = grown_max(cur->runq_max_ns, prev->runq_max_ns);
		for (int h = 0; h < PS_HIST_SLOTS; h++)
			SUB(runq_hist[h]);
	}
}

/* What the trace was (its settings, the cgroup hierarchy, the CPython
 * processes it knew), the same in every part of it: an interval, or some
 * processes' share. The counters and records are each caller's. */
static void copy_settings(struct ps_snapshot *o, const struct ps_snapshot *s)
{
	o->nr_cpus = s->nr_cpus;
	o->all = s->all;
	o->self_tgid = s->self_tgid;
	o->attach_mode = s->attach_mode;
	o->task_hash = s->task_hash;
	o->locks = s->locks;
	o->futex_source = s->futex_source;
	o->offcpu = s->offcpu;
	o->oncpu = s->oncpu;
	o->sample_hz = s->sample_hz;
	o->cg_kind = s->cg_kind;
	memcpy(o->cg_mount, s->cg_mount, sizeof(o->cg_mount));
	o->cg_target = s->cg_target;
	o->python = s->python;
	o->py_procs = s->py_procs;
	o->py_unknown = s->py_unknown;
	memcpy(o->py_versions, s->py_versions, sizeof(o->py_versions));
}

/* An interval's cgroups: their readings at its end, and as its start those
 * at the end of the interval before (the first keeps the trace's start). */
static void diff_cgroups(struct ps_snapshot *o, const struct ps_snapshot *c, const struct ps_snapshot *p)
{
	o->ncgroups = c->ncgroups;
	o->cgroups = xcalloc(c->ncgroups ? c->ncgroups : 1, sizeof(*o->cgroups));
	for (uint32_t i = 0; i < c->ncgroups; i++) {
		const struct ps_cgroup *pc = snapshot_cgroup(p, c->cgroups[i].id);
		struct ps_cgroup *g = &o->cgroups[i];

		*g = c->cgroups[i];
		if (!pc)
			continue;
		g->start = pc->end;
		g->have_start = true;
		g->have_quota_start = !strcmp(pc->quota.at, g->quota.at);
		g->quota_start = pc->quota_end;
	}
}

void snapshot_diff(const struct ps_snapshot *c, const struct ps_snapshot *p, struct ps_snapshot *o)
{
	int ncpu = c->nr_cpus;

	memset(o, 0, sizeof(*o));
	o->start_ns = p->end_ns;
	o->end_ns = c->end_ns;
	copy_settings(o, c);
	o->events = c->events >= p->events ? c->events - p->events : 0;
	if (c->nservers) {
		o->servers = xcalloc(c->nservers, sizeof(*o->servers));
		memcpy(o->servers, c->servers, c->nservers * sizeof(*o->servers));
		o->nservers = c->nservers;
	}
	{
		const struct ps_drops *cur = &c->drops, *prev = &p->drops;
		struct ps_drops *out = &o->drops;

		SUB(no_slot_threads); SUB(no_slot_events); SUB(storage_fail); SUB(tgid_full);
		SUB(proc_full); SUB(stack_fail); SUB(offcpu_full); SUB(oncpu_full); SUB(futex_full);
		SUB(slot_queue_full);
	}
	{
		const struct ps_py_stats *cur = &c->py, *prev = &p->py;
		struct ps_py_stats *out = &o->py;

		SUB(stacks); SUB(truncated); SUB(read_fail); SUB(stack_full); SUB(code_fail);
		SUB(code_full); SUB(searches); SUB(no_tstate);
	}

	/* threads alive in the interval, in slot order */
	o->threads = xcalloc(c->nthreads, sizeof(*o->threads));
	o->thread_cpu_ns = xcalloc((size_t)c->nthreads * ncpu, sizeof(uint64_t));
	for (uint32_t i = 0; i < c->nthreads; i++) {
		const struct ps_thread *ct = &c->threads[i];
		static const struct ps_thread none;
		const struct ps_thread *pt = i < p->nthreads ? &p->threads[i] : &none;

		if ((ct->flags & PS_THREAD_EXITED) && ct->exit_ns && ct->exit_ns < o->start_ns)
			continue;
		diff_thread(&o->threads[o->nthreads], ct, pt);
		for (int k = 0; k < ncpu; k++) {
			uint64_t cv = c->thread_cpu_ns[(size_t)i * ncpu + k];
			uint64_t pv = i < p->nthreads ? p->thread_cpu_ns[(size_t)i * ncpu + k] : 0;

			o->thread_cpu_ns[(size_t)o->nthreads * ncpu + k] = cv > pv ? cv - pv : 0;
		}
		o->nthreads++;
	}

	o->cpus = xcalloc(ncpu, sizeof(*o->cpus));
	o->migr = xcalloc(ncpu, sizeof(*o->migr));
	for (int k = 0; k < ncpu; k++) {
		diff_cpu(&o->cpus[k], &c->cpus[k], &p->cpus[k]);
		o->migr[k].in = c->migr[k].in - (p->migr[k].in < c->migr[k].in ? p->migr[k].in : c->migr[k].in);
		o->migr[k].out = c->migr[k].out - (p->migr[k].out < c->migr[k].out ? p->migr[k].out : c->migr[k].out);
	}

	o->slice_ns = c->slice_ns;
	o->slice_end_ns = xcalloc(c->nslices, sizeof(uint64_t));
	o->slice_busy_ns = xcalloc((size_t)c->nslices * ncpu, sizeof(uint64_t));
	o->slice_traced_ns = xcalloc((size_t)c->nslices * ncpu, sizeof(uint64_t));
	for (uint32_t k = 0; k < c->nslices; k++) {
		if (c->slice_end_ns[k] <= o->start_ns)
			continue;
		o->slice_end_ns[o->nslices] = c->slice_end_ns[k];
		memcpy(&o->slice_busy_ns[(size_t)o->nslices * ncpu], &c->slice_busy_ns[(size_t)k * ncpu],
		       ncpu * sizeof(uint64_t));
		memcpy(&o->slice_traced_ns[(size_t)o->nslices * ncpu], &c->slice_traced_ns[(size_t)k * ncpu],
		       ncpu * sizeof(uint64_t));
		o->nslices++;
	}

	o->offcpu_recs = diff_stack_recs(c->offcpu_recs, c->n_offcpu, p->offcpu_recs, p->n_offcpu, &o->n_offcpu);
	o->oncpu_recs = diff_stack_recs(c->oncpu_recs, c->n_oncpu, p->oncpu_recs, p->n_oncpu, &o->n_oncpu);
	diff_futex(o, c, p);
	diff_procs(o, c, p);
	diff_cgroups(o, c, p);
	snapshot_copy_stacks(o, c);
}

static bool has_tgid(const uint32_t *tgids, uint32_t n, uint32_t tgid)
{
	for (uint32_t i = 0; i < n; i++)
		if (tgids[i] == tgid)
			return true;
	return false;
}

static struct ps_stack_rec *filter_stack_recs(const struct ps_stack_rec *r, uint32_t nr,
					      const uint32_t *tgids, uint32_t n, uint32_t *nout)
{
	struct ps_stack_rec *out = xcalloc(nr ? nr : 1, sizeof(*out));

	*nout = 0;
	for (uint32_t i = 0; i < nr; i++)
		if (has_tgid(tgids, n, r[i].key.tgid))
			out[(*nout)++] = r[i];
	return out;
}

void snapshot_filter(const struct ps_snapshot *s, const uint32_t *tgids, uint32_t n,
		     struct ps_snapshot *o)
{
	int ncpu = s->nr_cpus;

	memset(o, 0, sizeof(*o));
	o->start_ns = s->start_ns;
	o->end_ns = s->end_ns;
	copy_settings(o, s);
	o->events = s->events;
	o->drops = s->drops;
	o->py = s->py; /* the machine's Python stacks: counted per trace, not per process */
	o->servers = xcalloc(s->nservers ? s->nservers : 1, sizeof(*o->servers));
	for (uint32_t i = 0; i < s->nservers; i++)
		if (has_tgid(tgids, n, s->servers[i]))
			o->servers[o->nservers++] = s->servers[i];

	/* the cgroups (plain values): the throttled verdict holds per program */
	o->cgroups = xcalloc(s->ncgroups ? s->ncgroups : 1, sizeof(*o->cgroups));
	memcpy(o->cgroups, s->cgroups, s->ncgroups * sizeof(*o->cgroups));
	o->ncgroups = s->ncgroups;
	o->cpus = xcalloc(ncpu, sizeof(*o->cpus));
	o->migr = xcalloc(ncpu, sizeof(*o->migr));
	memcpy(o->cpus, s->cpus, ncpu * sizeof(*o->cpus));
	memcpy(o->migr, s->migr, ncpu * sizeof(*o->migr));
	for (int k = 0; k < ncpu; k++)
		o->cpus[k].traced_ns = 0;
	o->threads = xcalloc(s->nthreads ? s->nthreads : 1, sizeof(*o->threads));
	o->thread_cpu_ns = xcalloc((size_t)(s->nthreads ? s->nthreads : 1) * ncpu, sizeof(uint64_t));
	for (uint32_t i = 0; i < s->nthreads; i++) {
		if (!has_tgid(tgids, n, s->threads[i].tgid))
			continue;
		o->threads[o->nthreads] = s->threads[i];
		for (int k = 0; k < ncpu; k++) {
			uint64_t ns = s->thread_cpu_ns[(size_t)i * ncpu + k];

			o->thread_cpu_ns[(size_t)o->nthreads * ncpu + k] = ns;
			o->cpus[k].traced_ns += ns;
		}
		o->nthreads++;
	}
	o->procs = xcalloc(s->nprocs ? s->nprocs : 1, sizeof(*o->procs));
	for (uint32_t i = 0; i < s->nprocs; i++) {
		if (!s->procs[i].tgid || !has_tgid(tgids, n, s->procs[i].tgid))
			continue;
		o->procs[o->nprocs] = s->procs[i];
		/* exited threads keep no per-CPU split: spread evenly */
		for (int k = 0; k < ncpu; k++)
			o->cpus[k].traced_ns += s->procs[i].ex.oncpu_ns / ncpu;
		o->nprocs++;
	}
	for (int k = 0; k < ncpu; k++)
		if (o->cpus[k].traced_ns > o->cpus[k].busy_ns)
			o->cpus[k].traced_ns = o->cpus[k].busy_ns;
	o->offcpu_recs = filter_stack_recs(s->offcpu_recs, s->n_offcpu, tgids, n, &o->n_offcpu);
	o->oncpu_recs = filter_stack_recs(s->oncpu_recs, s->n_oncpu, tgids, n, &o->n_oncpu);
	o->futex_recs = xcalloc(s->n_futex ? s->n_futex : 1, sizeof(*o->futex_recs));
	for (uint32_t i = 0; i < s->n_futex; i++)
		if (has_tgid(tgids, n, s->futex_recs[i].key.tgid))
			o->futex_recs[o->n_futex++] = s->futex_recs[i];
	snapshot_copy_stacks(o, s);
}

void snapshot_interval(struct ps_snapshot *base, struct ps_snapshot *cur, struct ps_snapshot *out,
		       bool advance)
{
	if (!base->cpus) {
		memset(base, 0, sizeof(*base));
		base->nr_cpus = cur->nr_cpus;
		base->start_ns = base->end_ns = cur->start_ns;
		base->cpus = xcalloc(cur->nr_cpus, sizeof(*base->cpus));
		base->migr = xcalloc(cur->nr_cpus, sizeof(*base->migr));
	}
	snapshot_diff(cur, base, out);
	if (!advance)
		return;
	snapshot_free(base);
	*base = *cur;
	memset(cur, 0, sizeof(*cur));
}
