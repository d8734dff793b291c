/* user/model/snapshot.c: a snapshot's lifetime, lookups, the closing of the
 * spans still open when the window ends, and per-slice busy time from the
 * tracer's cumulative samples (see snapshot.h). */
#include "model/snapshot.h"
#include "sys/util.h"
#include <stdlib.h>
#include <string.h>

void snapshot_free(struct ps_snapshot *s)
{
	free(s->threads);
	free(s->thread_cpu_ns);
	free(s->cpus);
	free(s->procs);
	free(s->migr);
	free(s->slice_end_ns);
	free(s->slice_busy_ns);
	free(s->slice_traced_ns);
	free(s->offcpu_recs);
	free(s->oncpu_recs);
	free(s->servers);
	free(s->futex_recs);
	free(s->pystacks);
	free(s->pycodes);
	free(s->tl);
	free(s->cgroups);
	for (uint32_t i = 0; i < s->nstacks; i++) {
		for (uint32_t k = 0; s->stacks[i].names && k < s->stacks[i].nframes; k++)
			free(s->stacks[i].names[k]);
		free(s->stacks[i].names);
		free(s->stacks[i].ips);
		free(s->stacks[i].frames);
	}
	free(s->stacks);
	for (uint32_t i = 0; i < s->nmodules; i++) {
		free(s->modules[i].path);
		free(s->modules[i].build_id);
	}
	free(s->modules);
	for (uint32_t i = 0; i < s->n_addr_names; i++) {
		free(s->addr_names[i].symbol);
		free(s->addr_names[i].lock);
	}
	free(s->addr_names);
	memset(s, 0, sizeof(*s));
}

const struct ps_module *snapshot_module(const struct ps_snapshot *s, uint32_t idx)
{
	return idx && idx <= s->nmodules ? &s->modules[idx - 1] : NULL;
}

void snapshot_copy_stacks(struct ps_snapshot *o, const struct ps_snapshot *c)
{
	o->nstacks = c->nstacks;
	o->stacks = xcalloc(c->nstacks ? c->nstacks : 1, sizeof(*o->stacks));
	for (uint32_t i = 0; i < c->nstacks; i++) {
		const struct ps_stack *s = &c->stacks[i];
		struct ps_stack *d = &o->stacks[i];
		size_t n = s->nframes ? s->nframes : 1;

		*d = *s;
		d->ips = xcalloc(n, sizeof(uint64_t));
		memcpy(d->ips, s->ips, s->nframes * sizeof(uint64_t));
		d->names = NULL;
		d->frames = NULL;
		if (s->names) {
			d->names = xcalloc(n, sizeof(char *));
			for (uint32_t k = 0; k < s->nframes; k++)
				d->names[k] = xstrdup(s->names[k]);
		}
		if (s->frames) {
			d->frames = xcalloc(n, sizeof(*d->frames));
			memcpy(d->frames, s->frames, s->nframes * sizeof(*d->frames));
		}
	}
	o->nmodules = c->nmodules;
	o->modules = xcalloc(c->nmodules ? c->nmodules : 1, sizeof(*o->modules));
	for (uint32_t i = 0; i < c->nmodules; i++) {
		o->modules[i] = c->modules[i];
		o->modules[i].path = xstrdup(c->modules[i].path);
		o->modules[i].build_id = c->modules[i].build_id ? xstrdup(c->modules[i].build_id) : NULL;
	}
	o->n_addr_names = c->n_addr_names;
	o->addr_names = xcalloc(c->n_addr_names ? c->n_addr_names : 1, sizeof(*o->addr_names));
	for (uint32_t i = 0; i < c->n_addr_names; i++) {
		o->addr_names[i] = c->addr_names[i];
		o->addr_names[i].symbol = xstrdup(c->addr_names[i].symbol);
		o->addr_names[i].lock = c->addr_names[i].lock ? xstrdup(c->addr_names[i].lock) : NULL;
	}
}

static int cmp_addr_name(const void *a, const void *b)
{
	const struct ps_addr_name *x = a, *y = b;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

void snapshot_sort_addr_names(struct ps_snapshot *s)
{
	if (s->n_addr_names)
		qsort(s->addr_names, s->n_addr_names, sizeof(*s->addr_names), cmp_addr_name);
}

const struct ps_addr_name *snapshot_addr_name(const struct ps_snapshot *s, uint32_t tgid,
					      uint64_t addr)
{
	struct ps_addr_name key = { .tgid = tgid, .addr = addr };

	if (!s->n_addr_names)
		return NULL;
	return bsearch(&key, s->addr_names, s->n_addr_names, sizeof(key), cmp_addr_name);
}

const struct ps_stack *snapshot_stack(const struct ps_snapshot *s, int32_t id, uint32_t tgid,
				      bool user)
{
	for (uint32_t i = 0; i < s->nstacks; i++) {
		const struct ps_stack *st = &s->stacks[i];

		if (st->id == id && st->user == user && (!user || st->tgid == tgid))
			return st;
	}
	return NULL;
}

const struct ps_cgroup *snapshot_cgroup(const struct ps_snapshot *s, uint64_t id)
{
	for (uint32_t i = 0; i < s->ncgroups; i++)
		if (s->cgroups[i].id == id)
			return &s->cgroups[i];
	return NULL;
}

const struct ps_thread *snapshot_thread(const struct ps_snapshot *s, uint32_t tid)
{
	for (uint32_t i = 0; i < s->nthreads; i++)
		if (s->threads[i].tid == tid)
			return &s->threads[i];
	return NULL;
}

void snapshot_close_spans(struct ps_snapshot *s)
{
	uint64_t end = s->end_ns;

	for (int c = 0; c < s->nr_cpus; c++) {
		struct ps_cpu *pc = &s->cpus[c];
		uint64_t d;

		if (!pc->since_ns || end <= pc->since_ns)
			continue;
		d = end - pc->since_ns;
		if (pc->cur == PS_CPU_IDLE || pc->cur == PS_CPU_UNKNOWN)
			continue;
		pc->busy_ns += d;
		if (pc->cur != PS_CPU_TRACED || pc->cur_slot >= s->nthreads)
			continue;
		pc->traced_ns += d;
		struct ps_thread *th = &s->threads[pc->cur_slot];
		if (th->oncpu_since && !(th->flags & PS_THREAD_EXITED) && th->cpu == (__u32)c) {
			th->oncpu_ns += d;
			s->thread_cpu_ns[(size_t)pc->cur_slot * s->nr_cpus + c] += d;
		}
	}
	for (uint32_t i = 0; i < s->nthreads; i++) {
		struct ps_thread *th = &s->threads[i];

		if (th->flags & PS_THREAD_EXITED)
			continue;
		if (th->blocked_since && end > th->blocked_since)
			th->blocked_ns += end - th->blocked_since;
	}
}

static uint64_t delta(uint64_t cur, uint64_t prev)
{
	return cur > prev ? cur - prev : 0;
}

void snapshot_set_slices(struct ps_snapshot *s, uint32_t n, const uint64_t *end_ns,
			 const uint64_t *cum_busy, const uint64_t *cum_traced)
{
	int ncpu = s->nr_cpus;

	s->nslices = n;
	s->slice_end_ns = xcalloc(n ? n : 1, sizeof(uint64_t));
	s->slice_busy_ns = xcalloc((size_t)(n ? n : 1) * ncpu, sizeof(uint64_t));
	s->slice_traced_ns = xcalloc((size_t)(n ? n : 1) * ncpu, sizeof(uint64_t));
	for (uint32_t k = 0; k < n; k++) {
		s->slice_end_ns[k] = end_ns[k];
		for (int c = 0; c < ncpu; c++) {
			size_t i = (size_t)k * ncpu + c;

			s->slice_busy_ns[i] = delta(cum_busy[i], k ? cum_busy[i - ncpu] : 0);
			s->slice_traced_ns[i] = delta(cum_traced[i], k ? cum_traced[i - ncpu] : 0);
		}
	}
}
