/* tests/unit/test_snapdiff.c: interval snapshots (attach -i) are the
 * differences of two cumulative snapshots: counters subtract, maxima survive
 * only when they grew, threads that exited earlier drop out, new threads and
 * stacks appear whole. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "model/snapdiff.h"

#define MS 1000000ull

static void make(struct ps_snapshot *s, uint64_t end, uint32_t nthreads, uint64_t scale)
{
	memset(s, 0, sizeof(*s));
	s->start_ns = 0;
	s->end_ns = end;
	s->nr_cpus = 2;
	s->attach_mode = "tp_btf";
	s->nthreads = nthreads;
	s->threads = calloc(nthreads, sizeof(struct ps_thread));
	s->thread_cpu_ns = calloc(nthreads * 2, sizeof(uint64_t));
	for (uint32_t i = 0; i < nthreads; i++) {
		s->threads[i].tid = 100 + i;
		s->threads[i].tgid = 100;
		s->threads[i].vol = 10 * scale;
		s->threads[i].invol = 3 * scale;
		s->threads[i].oncpu_ns = 50 * MS * scale;
		s->threads[i].runq_max_ns = 2 * MS;
		s->threads[i].runq_hist[10] = 5 * scale;
		s->thread_cpu_ns[i * 2] = 50 * MS * scale;
	}
	s->cpus = calloc(2, sizeof(struct ps_cpu));
	s->migr = calloc(2, sizeof(struct ps_cpu_migr));
	s->cpus[0].busy_ns = 100 * MS * scale;
	s->cpus[0].switches = 13 * scale;
	s->events = 1000 * scale;
	s->locks = true;
	s->n_futex = 1;
	s->futex_recs = calloc(1, sizeof(struct ps_futex_rec));
	s->futex_recs[0].key.tgid = 100;
	s->futex_recs[0].key.uaddr = 0x1000;
	s->futex_recs[0].st.waits = 7 * scale;
	s->futex_recs[0].st.wait_ns = 70 * MS * scale;
	s->futex_recs[0].st.max_ns = 20 * MS;
}

int main(void)
{
	struct ps_snapshot a, b, d;

	make(&a, 1000 * MS, 2, 1);
	make(&b, 2000 * MS, 3, 3);  /* one new thread, counters tripled */
	b.threads[0].runq_max_ns = 9 * MS;   /* grew in the interval */
	b.threads[1].flags = PS_THREAD_EXITED;
	b.threads[1].exit_ns = 500 * MS;     /* exited before the interval */
	snapshot_diff(&b, &a, &d);

	CHECK("interval window runs from the previous end to this end",
	      d.start_ns == 1000 * MS && d.end_ns == 2000 * MS, "got %llu..%llu",
	      (unsigned long long)d.start_ns, (unsigned long long)d.end_ns);
	CHECK("threads that exited before the interval drop out", d.nthreads == 2 &&
	      d.threads[0].tid == 100 && d.threads[1].tid == 102, "nthreads %u", d.nthreads);
	CHECK("switch counts subtract", d.threads[0].vol == 20 && d.threads[0].invol == 6, "vol %llu invol %llu",
	      (unsigned long long)d.threads[0].vol, (unsigned long long)d.threads[0].invol);
	CHECK("a new thread appears whole", d.threads[1].vol == 30, "vol %llu", (unsigned long long)d.threads[1].vol);
	CHECK("histograms subtract", d.threads[0].runq_hist[10] == 10, "slot %u", d.threads[0].runq_hist[10]);
	CHECK("a maximum that grew in the interval is kept", d.threads[0].runq_max_ns == 9 * MS, "got %llu",
	      (unsigned long long)d.threads[0].runq_max_ns);
	CHECK("per-thread per-CPU time follows its thread", d.thread_cpu_ns[0] == 100 * MS &&
	      d.thread_cpu_ns[2] == 150 * MS, "got %llu %llu", (unsigned long long)d.thread_cpu_ns[0],
	      (unsigned long long)d.thread_cpu_ns[2]);
	CHECK("per-CPU counters subtract", d.cpus[0].busy_ns == 200 * MS && d.cpus[0].switches == 26, "busy %llu",
	      (unsigned long long)d.cpus[0].busy_ns);
	CHECK("events subtract", d.events == 2000, "events %llu", (unsigned long long)d.events);
	CHECK("futex waits subtract; an unchanged max is not the interval's", d.n_futex == 1 &&
	      d.futex_recs[0].st.waits == 14 && d.futex_recs[0].st.max_ns == 0, "waits %llu max %llu",
	      (unsigned long long)d.futex_recs[0].st.waits, (unsigned long long)d.futex_recs[0].st.max_ns);
	snapshot_free(&d);
	snapshot_free(&a);
	snapshot_free(&b);
	return check_failures() != 0;
}
