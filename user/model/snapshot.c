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
	free(s->futex_recs);
	free(s->tl);
	for (uint32_t i = 0; i < s->nstacks; i++) {
		for (uint32_t k = 0; s->stacks[i].names && k < s->stacks[i].nframes; k++)
			free(s->stacks[i].names[k]);
		free(s->stacks[i].names);
		free(s->stacks[i].ips);
	}
	free(s->stacks);
	memset(s, 0, sizeof(*s));
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
