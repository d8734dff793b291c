/* user/model/timeline.c: core tracks and thread states from the --timeline
 * records (see timeline.h). */
#include "model/timeline.h"
#include "sys/util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TASK_REPORT_MAX 0x100   /* prev_state of a preempted task, as ftrace reports it */

const char *tl_state_name(enum tl_state s)
{
	static const char *const names[TL_STATES] = { "running", "runnable", "lock", "blocked" };

	return s < TL_STATES ? names[s] : "?";
}

static int cmp_ts(const void *a, const void *b)
{
	const struct ps_tl_rec *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	/* same instant: keep the order the BPF side wrote them in (a switch
	 * before the futex wait it begins) */
	return x < y ? -1 : x > y;
}

struct ps_tl_rec *timeline_sorted(const struct ps_snapshot *s)
{
	struct ps_tl_rec *r = xcalloc(s->ntl ? s->ntl : 1, sizeof(*r));

	memcpy(r, s->tl, s->ntl * sizeof(*r));
	/* qsort is not stable: the array position breaks ties (cmp_ts), and a
	 * copy keeps the positions the drain order gave */
	qsort(r, s->ntl, sizeof(*r), cmp_ts);
	return r;
}

static void push_span(struct tl_span **v, size_t *n, size_t *cap, struct tl_span s)
{
	if (s.end <= s.start)
		return;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = s;
}

/* What one thread is doing since when, while its spans are built. */
struct thread_state {
	struct tl_thread *t;
	size_t cap;
	enum tl_state state;
	uint64_t since, uaddr;
	uint32_t cpu;
	bool known;
};

struct builder {
	struct timeline *tl;
	const struct model *m;
	struct thread_state *ts;      /* one per traced thread with records */
	size_t nts, ts_cap;
	size_t *core_cap, task_cap;
	uint64_t *core_since;         /* the last switch on each core */
	uint32_t *core_tid, *core_tgid;
};

static const struct thread_summary *traced(const struct model *m, uint32_t tid)
{
	for (uint32_t i = 0; i < m->nthreads; i++)
		if (m->threads[i].tid == tid && !m->threads[i].folded)
			return &m->threads[i];
	return NULL;
}

static struct thread_state *thread_state(struct builder *b, const struct ps_tl_rec *r, bool first)
{
	uint32_t tid = first ? r->pid : r->pid2, tgid = first ? r->tgid : r->tgid2;
	const char *comm = first ? r->comm : r->comm2;

	if (!tid)
		return NULL;
	for (size_t i = 0; i < b->nts; i++)
		if (b->ts[i].t->tid == tid)
			return &b->ts[i];
	const struct thread_summary *ts = traced(b->m, tid);

	if (!ts)
		return NULL;
	comm = ts->comm;   /* its last name (after exec), as the report shows it */
	if (b->nts == b->ts_cap) {
		b->ts_cap = b->ts_cap ? b->ts_cap * 2 : 64;
		b->ts = xrealloc(b->ts, b->ts_cap * sizeof(*b->ts));
		b->tl->threads = xrealloc(b->tl->threads, b->ts_cap * sizeof(*b->tl->threads));
		for (size_t i = 0; i < b->nts; i++)   /* the array moved */
			b->ts[i].t = &b->tl->threads[i];
	}
	struct tl_thread *t = &b->tl->threads[b->nts];
	struct thread_state *s = &b->ts[b->nts++];

	memset(t, 0, sizeof(*t));
	memset(s, 0, sizeof(*s));
	t->tid = tid;
	t->tgid = tgid;
	memcpy(t->comm, comm, PS_COMM_LEN);
	t->comm[PS_COMM_LEN - 1] = '\0';
	s->t = t;
	b->tl->nthreads = b->nts;
	return s;
}

/* Thread s enters state at ts (its current span closes). */
static void enter(struct thread_state *s, enum tl_state state, uint64_t ts, uint32_t cpu,
		  uint64_t uaddr)
{
	if (s->known)
		push_span(&s->t->spans, &s->t->n, &s->cap,
			  (struct tl_span){ .start = s->since, .end = ts, .tid = s->cpu, .tgid = s->t->tgid,
					    .uaddr = s->uaddr, .state = s->state });
	s->known = true;
	s->state = state;
	s->since = ts;
	s->cpu = cpu;
	s->uaddr = uaddr;
}

static void note_task(struct builder *b, uint32_t tid, uint32_t tgid, const char *comm)
{
	struct timeline *tl = b->tl;

	if (!tid)
		return;
	for (size_t i = tl->ntasks; i-- > 0;)
		if (tl->tasks[i].tid == tid) {
			memcpy(tl->tasks[i].comm, comm, PS_COMM_LEN);   /* the latest name (exec) */
			tl->tasks[i].comm[PS_COMM_LEN - 1] = '\0';
			return;
		}
	if (tl->ntasks == b->task_cap) {
		b->task_cap = b->task_cap ? b->task_cap * 2 : 256;
		tl->tasks = xrealloc(tl->tasks, b->task_cap * sizeof(*tl->tasks));
	}
	tl->tasks[tl->ntasks] = (struct tl_task){ .tid = tid, .tgid = tgid };
	memcpy(tl->tasks[tl->ntasks].comm, comm, PS_COMM_LEN);
	tl->tasks[tl->ntasks++].comm[PS_COMM_LEN - 1] = '\0';
}

static void on_switch(struct builder *b, const struct ps_tl_rec *r)
{
	struct timeline *tl = b->tl;
	int c = r->cpu;
	struct thread_state *prev, *next;

	if (c >= tl->nr_cpus)
		return;
	if (b->core_since[c])
		push_span(&tl->cores[c].spans, &tl->cores[c].n, &b->core_cap[c],
			  (struct tl_span){ .start = b->core_since[c], .end = r->ts,
					    .tid = b->core_tid[c], .tgid = b->core_tgid[c] });
	b->core_since[c] = r->ts;
	b->core_tid[c] = r->pid2;
	b->core_tgid[c] = r->tgid2;
	note_task(b, r->pid, r->tgid, r->comm);
	note_task(b, r->pid2, r->tgid2, r->comm2);
	if ((prev = thread_state(b, r, true)))
		enter(prev, r->state == 0 || r->state == TASK_REPORT_MAX ? TL_RUNNABLE : TL_BLOCKED,
		      r->ts, c, 0);
	if ((next = thread_state(b, r, false)))
		enter(next, TL_RUNNING, r->ts, c, 0);
}

static void on_event(struct builder *b, const struct ps_tl_rec *r)
{
	struct thread_state *s = thread_state(b, r, true);

	if (!s)
		return;
	switch (r->kind) {
	case PS_TL_WAKING:
	case PS_TL_WAKEUP_NEW:
		if (s->state != TL_RUNNING || !s->known)
			enter(s, TL_RUNNABLE, r->ts, s->cpu, 0);
		break;
	case PS_TL_FUTEX_BEGIN:
		/* the switch that blocked it came just before: the span since
		 * then is the lock wait */
		if (s->known && s->state == TL_BLOCKED) {
			s->state = TL_LOCK;
			s->uaddr = r->arg;
		}
		break;
	case PS_TL_EXIT:
		break;
	default:
		break;
	}
}

int timeline_build(const struct model *m, struct timeline *tl)
{
	const struct ps_snapshot *s = m->snap;
	struct builder b = { .tl = tl, .m = m };
	struct ps_tl_rec *r;

	memset(tl, 0, sizeof(*tl));
	tl->nr_cpus = s->nr_cpus;
	tl->cores = xcalloc(s->nr_cpus, sizeof(*tl->cores));
	tl->over = s->tl_over;
	for (int c = 0; c < s->nr_cpus; c++) {
		tl->cores[c].records = s->cpus[c].tl_records;
		tl->cores[c].lost = s->cpus[c].tl_lost;
		tl->lost += s->cpus[c].tl_lost;
	}
	tl->records = s->ntl;
	if (!s->ntl)
		return -ENODATA;
	b.core_cap = xcalloc(s->nr_cpus, sizeof(size_t));
	b.core_since = xcalloc(s->nr_cpus, sizeof(uint64_t));
	b.core_tid = xcalloc(s->nr_cpus, sizeof(uint32_t));
	b.core_tgid = xcalloc(s->nr_cpus, sizeof(uint32_t));
	r = timeline_sorted(s);
	tl->t0 = r[0].ts;
	tl->t1 = r[s->ntl - 1].ts;
	for (size_t i = 0; i < s->ntl; i++) {
		if (r[i].kind == PS_TL_SWITCH)
			on_switch(&b, &r[i]);
		else
			on_event(&b, &r[i]);
	}
	/* close what is open at the last record */
	for (int c = 0; c < s->nr_cpus; c++)
		if (b.core_since[c])
			push_span(&tl->cores[c].spans, &tl->cores[c].n, &b.core_cap[c],
				  (struct tl_span){ .start = b.core_since[c], .end = tl->t1,
						    .tid = b.core_tid[c], .tgid = b.core_tgid[c] });
	for (size_t i = 0; i < b.nts; i++)
		enter(&b.ts[i], TL_RUNNING, tl->t1, 0, 0);
	free(r);
	free(b.ts);
	free(b.core_cap);
	free(b.core_since);
	free(b.core_tid);
	free(b.core_tgid);
	return 0;
}

uint64_t timeline_cpu_busy(const struct timeline *tl, int cpu)
{
	uint64_t busy = 0;

	if (cpu >= tl->nr_cpus)
		return 0;
	for (size_t i = 0; i < tl->cores[cpu].n; i++)
		if (tl->cores[cpu].spans[i].tid)
			busy += tl->cores[cpu].spans[i].end - tl->cores[cpu].spans[i].start;
	return busy;
}

void timeline_free(struct timeline *tl)
{
	for (int c = 0; tl->cores && c < tl->nr_cpus; c++)
		free(tl->cores[c].spans);
	for (size_t i = 0; i < tl->nthreads; i++)
		free(tl->threads[i].spans);
	free(tl->cores);
	free(tl->threads);
	free(tl->tasks);
	memset(tl, 0, sizeof(*tl));
}
