/* user/diagnose.c: classify a traced run from its model (see diagnose.h).
 *
 * Every traced thread is put in one of two groups first. A "waiter" spent
 * most of its life in futex waits that were not contention: a pool's caller
 * waiting for results or in join, or a worker on an empty queue. It shows
 * what the others were doing, not what bounded the run, so the verdicts
 * look at the rest, the "pool" (which includes helper processes such as
 * httpd-sim). Among the pool, a "CPU thread" ran for a real share of the
 * window and was on a CPU or runnable most of its life.
 *
 * The verdicts are tried in order, the first that holds wins:
 *   oversubscribed   more CPU threads than cores, wanting well over the cores
 *                    and waiting long in the run queue (CPU-bound too);
 *   lock-serialized  threads wanting the CPU or one contended lock ran ~one
 *                    at a time;
 *   cpu-parallel     CPU threads wanted about min(their number, cores) CPUs;
 *   idle             hardly ran, hardly woke up;
 *   io-bound         blocked in the kernel outside lock waits, little CPU;
 *   mixed            none of those.
 * "Wanting a CPU" counts run-queue time as well as on-CPU time: on a shared
 * machine other tasks can take the cores, which lowers the parallelism
 * achieved but not what the pool asked for. */
#include "diagnose.h"
#include "stacks.h"
#include "util.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_MS 1000000.0
#define NS_PER_S 1000000000.0
#define TEXT_COLS 78
#define MAX_REASONS 32   /* distinct blocking syscalls kept from off-CPU stacks */
#define TOP_REASONS 3    /* of which the text names */

/* Every threshold of the classification. */
static const struct thresholds {
	double worker_min_oncpu;    /* share of the window */
	double cpu_min_share;       /* share of a thread's life */
	double waiter_min_share;    /* share of a thread's life */
	double parallel_min;        /* of min(CPU threads, cores) */
	double cpu_oncpu_min;       /* share of all traced on-CPU time */
	double oversub_demand;      /* times the cores */
	uint64_t runq_slow_ns;
	double runq_share_high;     /* share of the CPU threads' wanting time */
	double lock_min_share;      /* of the waiters' time */
	double lock_min_want;       /* CPUs */
	double lock_max_parallel;   /* of min(wanted, cores) */
	double idle_max_oncpu;      /* share of the pool's time */
	double idle_max_wait_rate;  /* voluntary switches per thread-second */
	uint64_t idle_max_waits;
	double io_min_blocked;      /* share of the pool's time */
	double io_max_oncpu;        /* share of the pool's time */
	double stack_majority;      /* share of the blocked time seen in stacks */
	double other_load_min;      /* CPUs */
	uint64_t short_trace_ns;
	double conf_high, conf_medium;
} TH = {
	/* A thread did work when it ran at least 1% of the window: a pool's
	 * main thread that hands out tasks and waits stays far below. */
	.worker_min_oncpu = 0.01,
	/* A thread wants a CPU when it was on one or runnable at least half of
	 * its life; the rest of the time it was blocked. */
	.cpu_min_share = 0.5,
	/* A thread is a waiter when non-contended futex waits (for results, in
	 * join, on an empty queue) took at least half of its life. */
	.waiter_min_share = 0.5,
	/* Parallel: the CPU threads wanted at least 75% of min(their number,
	 * cores) CPUs; below that they were blocked too often to fill them. */
	.parallel_min = 0.75,
	/* The CPU threads must account for most of the computing (60% of all
	 * on-CPU time), or other, mostly blocked threads matter as much. */
	.cpu_oncpu_min = 0.6,
	/* Oversubscribed: the CPU threads wanted 1.5x the cores or more (3
	 * threads per 2 cores), so each waits a third of the time at least. */
	.oversub_demand = 1.5,
	/* A scheduler slice is a few ms (CFS: 3 ms base, up to ~24 ms latency
	 * target); run-queue p99 above 10 ms means threads queue behind several
	 * others, not behind one slice. */
	.runq_slow_ns = 10000000,
	/* ... or the CPU threads spent half of their wanting time runnable but
	 * not running. */
	.runq_share_high = 0.5,
	/* A lock serializes when its waiters spend 10% of their time or more
	 * waiting on it (gil-threads, 2 workers: ~30-50%). */
	.lock_min_share = 0.10,
	/* ... when at least 1.5 CPUs' worth of threads wanted the CPU or the
	 * lock (so two of them at least could have run at once) ... */
	.lock_min_want = 1.5,
	/* ... and they got at most 75% of min(wanted, cores) CPUs. One core
	 * leaves nothing to serialize: the lock costs no parallelism there. */
	.lock_max_parallel = 0.75,
	/* Idle: the pool was on a CPU under 2% of its time (sleep 1: 0.1%) ... */
	.idle_max_oncpu = 0.02,
	/* ... and woke up rarely: under 5 voluntary switches per thread-second
	 * (sleep 1: 3; io-threads against a 50 ms server: ~30) ... */
	.idle_max_wait_rate = 5.0,
	/* ... or only a handful of times in all (a short sleep). */
	.idle_max_waits = 8,
	/* IO-bound: the pool was blocked outside futex waits at least half of
	 * its time ... */
	.io_min_blocked = 0.5,
	/* ... and on a CPU at most 30% of it. */
	.io_max_oncpu = 0.3,
	/* Off-CPU stacks decide idle (sleeping) vs IO when one kind holds half
	 * of the blocked time they saw. */
	.stack_majority = 0.5,
	/* Untraced tasks using half a CPU or more is worth saying: it lowers
	 * the parallelism the pool got. */
	.other_load_min = 0.5,
	/* Under 100 ms a few scheduler events decide every share: less sure. */
	.short_trace_ns = 100000000,
	.conf_high = 0.75,
	.conf_medium = 0.5,
};

/* What one thread did, in ns of its lifetime within the window. */
struct thread_facts {
	uint64_t life, on, rq, off;
	uint64_t lock_ns;          /* futex waits on contended locks */
	uint64_t cond_ns;          /* other futex waits (results, join, queue) */
	bool waiter, cpu, want;    /* see the file comment; want: CPU or lock */
};

enum block_kind { BLK_IO, BLK_SLEEP, BLK_CHILD, BLK_FUTEX, BLK_PREEMPTED };

struct reason {
	char name[48];
	uint64_t ns;
	enum block_kind kind;
};

/* Everything the verdicts read, computed once. */
struct facts {
	const struct model *m;
	int cores;
	double wall_s;
	/* the pool: threads that are not waiters */
	uint32_t npool, npool_procs, nwaiters;
	uint64_t pool_time, pool_on, pool_rq, pool_lock, pool_cond, pool_blocked;
	uint64_t pool_vol, pool_invol;
	/* CPU threads */
	uint32_t ncpu, ncpu_procs;
	uint64_t cpu_on, cpu_rq, cpu_life;
	double demand;              /* CPUs the CPU threads wanted (on + runnable) */
	/* threads that wanted the CPU or a contended lock */
	uint32_t nwant, nwant_procs;
	uint64_t want_on;
	double want;                /* CPUs' worth of on + runnable + lock wait */
	const struct lock_summary *lock;  /* the top contended lock */
	double other_cpus;          /* busy time of untraced tasks, in CPUs */
	/* off-CPU stacks: blocking time (not preempted, not futex) by reason */
	bool stacks;
	struct reason reasons[MAX_REASONS];
	int nreasons;
	uint64_t block_ns, sleep_ns, io_ns;
};

/* --- small helpers ------------------------------------------------------- */

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

static double pct(uint64_t a, uint64_t b)
{
	return 100.0 * ratio(a, b);
}

static double min_d(double a, double b)
{
	return a < b ? a : b;
}

static double max_d(double a, double b)
{
	return a > b ? a : b;
}

/* 0 at lo, 1 at hi, linear between (lo > hi for "lower is better"). */
static double ramp(double x, double lo, double hi)
{
	double r = (x - lo) / (hi - lo);

	return r < 0 ? 0 : r > 1 ? 1 : r;
}

static bool same_str(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Distinct values among n tgids (sorts them). */
static uint32_t distinct(uint32_t *tgids, uint32_t n)
{
	uint32_t k = 0;

	qsort(tgids, n, sizeof(*tgids), cmp_u32);
	for (uint32_t i = 0; i < n; i++)
		k += !i || tgids[i] != tgids[i - 1];
	return k;
}

static void say(struct diagnosis *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct diagnosis *d, const char *fmt, ...)
{
	size_t len = strlen(d->text);
	va_list ap;

	if (len + 1 >= sizeof(d->text))
		return;
	va_start(ap, fmt);
	vsnprintf(d->text + len, sizeof(d->text) - len, fmt, ap);
	va_end(ap);
}

static void evidence(struct diagnosis *d, const char *name, double value, const char *unit)
{
	if (d->nev < DIAG_MAX_EVIDENCE)
		d->ev[d->nev++] = (struct evidence){ name, value, unit };
}

static const char *pl(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* "2 threads", "2 threads in 2 processes", "1 thread" */
static const char *who(uint32_t nthreads, uint32_t nprocs, char *buf, size_t len)
{
	if (nprocs > 1)
		snprintf(buf, len, "%u threads in %u processes", nthreads, nprocs);
	else
		snprintf(buf, len, "%u thread%s", nthreads, nthreads == 1 ? "" : "s");
	return buf;
}

/* Greedy wrap at spaces so no line is wider than cols (longer words stay). */
static void wrap(char *s, int cols)
{
	char *line = s, *space = NULL;

	for (char *p = s; *p; p++) {
		if (*p == '\n') {
			line = p + 1;
			space = NULL;
			continue;
		}
		if (*p == ' ')
			space = p;
		if (p - line >= cols && space) {
			*space = '\n';
			line = space + 1;
			space = NULL;
		}
	}
}

/* --- per-thread facts ---------------------------------------------------- */

/* The lock a futex record was merged into: same process, same waiting
 * function, one of its addresses (model_build_locks merges that way). */
static const struct lock_summary *lock_of(const struct model *m, const struct ps_futex_rec *r)
{
	const char *caller = stack_caller(m->snap, r->key.ustack, r->key.tgid);

	for (uint32_t k = 0; k < m->nlocks; k++) {
		const struct lock_summary *l = &m->locks[k];

		if (l->tgid != r->key.tgid || !same_str(l->caller, caller))
			continue;
		for (uint32_t a = 0; a < l->naddrs; a++)
			if (l->addrs[a] == r->key.uaddr)
				return l;
	}
	return NULL;
}

static int32_t thread_index(const struct model *m, uint32_t tgid, uint32_t tid)
{
	for (uint32_t i = 0; i < m->nthreads; i++)
		if (m->threads[i].t->tid == tid && m->threads[i].t->tgid == tgid)
			return (int32_t)i;
	return -1;
}

/* Split each thread's futex wait time into contended and other waits. */
static void attribute_futex(const struct model *m, struct thread_facts *tf)
{
	const struct ps_snapshot *s = m->snap;

	for (uint32_t i = 0; i < s->n_futex; i++) {
		const struct ps_futex_rec *r = &s->futex_recs[i];
		const struct lock_summary *l = lock_of(m, r);
		int32_t t = thread_index(m, r->key.tgid, r->key.pid);

		if (t < 0)
			continue;
		if (l && l->cls == LOCK_CONTENDED)
			tf[t].lock_ns += r->st.wait_ns;
		else
			tf[t].cond_ns += r->st.wait_ns;
	}
}

static void classify_thread(const struct model *m, const struct thread_summary *ts,
			    struct thread_facts *tf)
{
	uint64_t min_on = (uint64_t)(TH.worker_min_oncpu * m->wall_ns);

	tf->life = ts->lifetime_ns;
	tf->on = ts->t->oncpu_ns;
	tf->rq = ts->t->runq_wait_ns;
	tf->off = ts->offcpu_ns;
	/* futex waits are measured from the syscall, off-CPU time from the
	 * switch: never let them exceed the blocked time */
	if (tf->lock_ns > tf->off)
		tf->lock_ns = tf->off;
	if (tf->cond_ns > tf->off - tf->lock_ns)
		tf->cond_ns = tf->off - tf->lock_ns;
	tf->waiter = tf->life && tf->cond_ns >= TH.waiter_min_share * tf->life;
	tf->cpu = !tf->waiter && tf->on >= min_on && tf->on + tf->rq >= TH.cpu_min_share * tf->life;
	tf->want = !tf->waiter && tf->on >= min_on &&
		   tf->on + tf->rq + tf->lock_ns >= TH.cpu_min_share * tf->life;
}

static void add_thread(struct facts *f, const struct thread_summary *ts,
		       const struct thread_facts *tf, uint32_t *pool_tg, uint32_t *cpu_tg,
		       uint32_t *want_tg)
{
	if (!tf->life)
		return;
	if (tf->waiter) {
		f->nwaiters++;
		return;
	}
	pool_tg[f->npool++] = ts->t->tgid;
	f->pool_time += tf->life;
	f->pool_on += tf->on;
	f->pool_rq += tf->rq;
	f->pool_lock += tf->lock_ns;
	f->pool_cond += tf->cond_ns;
	f->pool_blocked += tf->off - tf->lock_ns - tf->cond_ns;
	f->pool_vol += ts->t->vol;
	f->pool_invol += ts->t->invol;
	if (tf->cpu) {
		cpu_tg[f->ncpu++] = ts->t->tgid;
		f->cpu_on += tf->on;
		f->cpu_rq += tf->rq;
		f->cpu_life += tf->life;
	}
	if (tf->want) {
		want_tg[f->nwant++] = ts->t->tgid;
		f->want_on += tf->on;
		f->want += (double)(tf->on + tf->rq + tf->lock_ns);
	}
}

static void gather_threads(struct facts *f)
{
	const struct model *m = f->m;
	struct thread_facts *tf = calloc(m->nthreads ? m->nthreads : 1, sizeof(*tf));
	uint32_t *tg = calloc(3 * (size_t)(m->nthreads ? m->nthreads : 1), sizeof(*tg));

	if (!tf || !tg) { /* an unknown answer beats a crash in the report */
		free(tf);
		free(tg);
		return;
	}
	attribute_futex(m, tf);
	for (uint32_t i = 0; i < m->nthreads; i++) {
		classify_thread(m, &m->threads[i], &tf[i]);
		add_thread(f, &m->threads[i], &tf[i], tg, tg + m->nthreads, tg + 2 * m->nthreads);
	}
	f->npool_procs = distinct(tg, f->npool);
	f->ncpu_procs = distinct(tg + m->nthreads, f->ncpu);
	f->nwant_procs = distinct(tg + 2 * m->nthreads, f->nwant);
	f->demand = ratio(f->cpu_on + f->cpu_rq, m->wall_ns);
	f->want = ratio(f->want, m->wall_ns);
	free(tf);
	free(tg);
}

/* --- off-CPU stacks: where the pool blocked ------------------------------ */

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

/* The syscall a kernel frame is the entry of ("__x64_sys_poll" -> "poll"). */
static const char *syscall_of(const char *frame)
{
	static const char *const entries[] = { "__x64_sys_", "__arm64_sys_", "__ia32_sys_",
					       "__se_sys_", "__do_sys_" };

	for (size_t i = 0; i < ARRAY_LEN(entries); i++)
		if (has_prefix(frame, entries[i]))
			return frame + strlen(entries[i]);
	return NULL;
}

static enum block_kind syscall_kind(const char *sc)
{
	static const char *const sleeps[] = { "nanosleep", "clock_nanosleep", "pause",
					      "rt_sigsuspend", "sigsuspend", "rt_sigtimedwait" };

	if (!strcmp(sc, "futex") || !strcmp(sc, "futex_waitv"))
		return BLK_FUTEX;
	if (!strcmp(sc, "wait4") || !strcmp(sc, "waitid"))
		return BLK_CHILD;
	for (size_t i = 0; i < ARRAY_LEN(sleeps); i++)
		if (!strcmp(sc, sleeps[i]))
			return BLK_SLEEP;
	return BLK_IO;
}

/* Why a folded stack "comm;user...;-;kernel_[k]..." was off CPU: preempted
 * (returning to user space, or an interrupt: runnable, not blocked), a
 * syscall, disk IO, a page fault, or the deepest named kernel frame. */
static enum block_kind stack_reason(const char *folded, char *name, size_t len)
{
	const char *k = strstr(folded, ";-;");
	char buf[4096], *tok, *save = NULL;
	enum block_kind kind = BLK_IO;

	snprintf(name, len, "unknown");
	if (!k)
		return BLK_IO;
	snprintf(buf, sizeof(buf), "%s", k + 3);
	for (tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		char *suffix = strstr(tok, "_[k]");
		const char *sc;

		if (suffix)
			*suffix = '\0';
		if (strstr(tok, "exit_to_user_mode") || has_prefix(tok, "irqentry_exit") ||
		    has_prefix(tok, "preempt_schedule"))
			return BLK_PREEMPTED;
		if ((sc = syscall_of(tok))) {
			snprintf(name, len, "%s", sc);
			kind = syscall_kind(sc);
		} else if (!strcmp(tok, "io_schedule")) {
			snprintf(name, len, "disk IO (io_schedule)");
		} else if (strstr(tok, "page_fault") && !strcmp(name, "unknown")) {
			snprintf(name, len, "page fault");
		}
	}
	return kind;
}

static void add_reason(struct facts *f, const char *name, enum block_kind kind, uint64_t ns)
{
	int i;

	for (i = 0; i < f->nreasons && strcmp(f->reasons[i].name, name); i++)
		;
	if (i == f->nreasons) {
		if (f->nreasons == MAX_REASONS)
			return;
		snprintf(f->reasons[i].name, sizeof(f->reasons[i].name), "%s", name);
		f->reasons[i].kind = kind;
		f->nreasons++;
	}
	f->reasons[i].ns += ns;
}

static int cmp_reason(const void *a, const void *b)
{
	const struct reason *x = a, *y = b;

	return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : strcmp(x->name, y->name);
}

static void gather_stacks(struct facts *f)
{
	const struct model *m = f->m;

	f->stacks = m->snap->offcpu && m->n_offcpu;
	for (uint32_t i = 0; i < m->n_offcpu; i++) {
		char name[48];
		enum block_kind kind = stack_reason(m->offcpu[i].folded, name, sizeof(name));

		if (kind == BLK_PREEMPTED || kind == BLK_FUTEX)
			continue;
		add_reason(f, name, kind, m->offcpu[i].value);
		f->block_ns += m->offcpu[i].value;
		f->sleep_ns += kind == BLK_SLEEP ? m->offcpu[i].value : 0;
		f->io_ns += kind == BLK_IO ? m->offcpu[i].value : 0;
	}
	qsort(f->reasons, f->nreasons, sizeof(f->reasons[0]), cmp_reason);
}

static void gather(const struct model *m, struct facts *f)
{
	uint64_t busy = 0, traced = 0;

	memset(f, 0, sizeof(*f));
	f->m = m;
	f->cores = m->nr_cpus;
	f->wall_s = m->wall_ns / NS_PER_S;
	gather_threads(f);
	gather_stacks(f);
	for (uint32_t k = 0; k < m->nlocks && !f->lock; k++)
		if (m->locks[k].cls == LOCK_CONTENDED)  /* sorted by wait time */
			f->lock = &m->locks[k];
	for (int c = 0; c < m->nr_cpus; c++) {
		busy += m->cores[c].busy_ns;
		traced += m->cores[c].traced_ns;
	}
	f->other_cpus = ratio(busy - traced, m->wall_ns);
}

/* --- verdicts ------------------------------------------------------------ */

static void set_verdict(struct diagnosis *d, enum verdict v, const char *label, const char *key)
{
	d->verdict = v;
	d->label = label;
	d->key = key;
}

/* Confidence from how far the deciding numbers cleared their thresholds
 * (margin 0: just at a threshold, 1: clearly past it), less what makes any
 * verdict shaky: lost events, a very short trace. */
static double confidence(const struct facts *f, double margin)
{
	double c = 0.5 + 0.45 * margin;

	if (f->m->dropped)
		c -= 0.2;
	if (f->m->wall_ns < TH.short_trace_ns)
		c -= 0.15;
	return c < 0.05 ? 0.05 : c > 0.99 ? 0.99 : c;
}

static void caveats(const struct facts *f, struct diagnosis *d)
{
	if (f->m->dropped)
		say(d, " Events were dropped (%llu): the numbers are incomplete.",
		    (unsigned long long)f->m->dropped);
	if (f->m->wall_ns < TH.short_trace_ns)
		say(d, " The trace lasted only %.0f ms: shares rest on few events.",
		    f->m->wall_ns / NS_PER_MS);
}

static void common_evidence(const struct facts *f, struct diagnosis *d)
{
	evidence(d, "parallelism", f->m->parallelism, "cpus");
	evidence(d, "cpu_demand", f->demand, "cpus");
	evidence(d, "cores", f->cores, "cpus");
}

static bool try_empty(const struct facts *f, struct diagnosis *d)
{
	const struct model *m = f->m;

	if (m->nthreads && m->wall_ns && m->thread_time_ns)
		return false;
	set_verdict(d, VERDICT_IDLE, "idle (nothing traced)", "idle");
	d->confidence = 0.3;
	say(d, "Nothing to diagnose: %u traced thread%s over a window of %.1f ms, no thread "
	    "time measured. Check that the command ran and was traced.",
	    m->nthreads, m->nthreads == 1 ? "" : "s", m->wall_ns / NS_PER_MS);
	evidence(d, "threads", m->nthreads, "threads");
	evidence(d, "wall_ms", m->wall_ns / NS_PER_MS, "ms");
	return true;
}

static bool try_oversubscribed(const struct facts *f, struct diagnosis *d)
{
	const struct model *m = f->m;
	double rq_share = ratio(f->cpu_rq, f->cpu_on + f->cpu_rq);
	char w[64], p99[16];

	if (f->ncpu <= (uint32_t)f->cores || f->demand < TH.oversub_demand * f->cores ||
	    (m->runq_p99_ns < TH.runq_slow_ns && rq_share < TH.runq_share_high))
		return false;
	set_verdict(d, VERDICT_OVERSUBSCRIBED, "oversubscribed, run-queue bound", "oversubscribed");
	/* either long queues or a large queued share proves the point */
	d->confidence = confidence(f, min_d(ramp(f->demand / f->cores, TH.oversub_demand, 3.0),
					    max_d(ramp(rq_share, 0.3, 0.7),
						  ramp(m->runq_p99_ns, TH.runq_slow_ns,
						       3.0 * TH.runq_slow_ns))));
	say(d, "CPU-bound and run-queue bound: %s wanted a CPU at once, %.1f CPUs' worth on %d "
	    "cores (parallelism %.2f), and waited runnable for a core %.0f%% of that time; "
	    "run-queue latency p99 %s (a scheduler slice is a few ms), %llu involuntary vs "
	    "%llu voluntary switches, %llu migrations. More runnable threads than cores add "
	    "latency, not throughput: use about %d workers (threads or processes alike).",
	    who(f->ncpu, f->ncpu_procs, w, sizeof(w)), f->demand, f->cores, m->parallelism,
	    100 * rq_share, fmt_dur(m->runq_p99_ns, p99, sizeof(p99)),
	    (unsigned long long)m->invol, (unsigned long long)m->vol,
	    (unsigned long long)m->migrations, f->cores);
	common_evidence(f, d);
	evidence(d, "cpu_threads", f->ncpu, "threads");
	evidence(d, "runq_share_pct", 100 * rq_share, "%");
	evidence(d, "runq_p99_ms", m->runq_p99_ns / NS_PER_MS, "ms");
	evidence(d, "invol", m->invol, "switches");
	evidence(d, "vol", m->vol, "switches");
	evidence(d, "migrations", m->migrations, "migrations");
	evidence(d, "busy_pct", m->busy_pct, "%");
	return true;
}

static bool try_lock(const struct facts *f, struct diagnosis *d)
{
	const struct lock_summary *l = f->lock;
	double got = ratio(f->want_on, f->m->wall_ns), cap = min_d(f->want, f->cores);
	char w[64], tot[16];

	if (!l || l->share_waiters < TH.lock_min_share || f->want < TH.lock_min_want ||
	    got > TH.lock_max_parallel * cap)
		return false;
	set_verdict(d, VERDICT_LOCK_SERIALIZED, "CPU-bound, serialized on a lock", "lock-serialized");
	d->lock = l;
	d->confidence = confidence(f, min_d(ramp(l->share_waiters, TH.lock_min_share, 0.3),
					    ramp(got / cap, TH.lock_max_parallel, 0.5)));
	say(d, "Serialized on one lock: %s wanted to compute (on a CPU, runnable or waiting for "
	    "the lock: %.2f CPUs' worth on %d cores) but ran only %.2f CPUs in parallel. Its %u "
	    "waiter%s spent %.0f%% of %s time waiting in %.40s (process %s %u, futex 0x%llx: "
	    "%llu waits, %s) while the holder ran %.0f%% of that time. This is the "
	    "interpreter-lock (GIL) pattern: more threads will not help; processes (a lock "
	    "each) or releasing the lock around the computation would.",
	    who(f->nwant, f->nwant_procs, w, sizeof(w)), f->want, f->cores, got, l->nwaiters,
	    pl(l->nwaiters, "", "s"), 100 * l->share_waiters, pl(l->nwaiters, "its", "their"),
	    l->caller ? l->caller : "?",
	    l->comm, l->tgid, (unsigned long long)(l->naddrs ? l->addrs[0] : 0),
	    (unsigned long long)l->waits, fmt_dur(l->wait_ns, tot, sizeof(tot)),
	    100 * l->busy_frac);
	common_evidence(f, d);
	evidence(d, "want_cpus", f->want, "cpus");
	evidence(d, "lock_share_pct", 100 * l->share_waiters, "%");
	evidence(d, "lock_waiters", l->nwaiters, "threads");
	evidence(d, "lock_waits", l->waits, "waits");
	evidence(d, "lock_wait_ms", l->wait_ns / NS_PER_MS, "ms");
	evidence(d, "lock_busy_pct", 100 * l->busy_frac, "%");
	return true;
}

static void cpu_parallel_text(const struct facts *f, struct diagnosis *d)
{
	const struct model *m = f->m;
	uint64_t life = f->cpu_on + f->cpu_rq;
	char w[64], p99[16];

	say(d, "%s wanted a CPU (on one or runnable) %.0f%% of %s time: %.2f CPUs' worth on "
	    "%d cores, and ran %.2f in parallel; cores %.0f%% busy.",
	    who(f->ncpu, f->ncpu_procs, w, sizeof(w)), pct(life, f->cpu_life),
	    pl(f->ncpu, "its", "their"), f->demand, f->cores, ratio(f->cpu_on, m->wall_ns),
	    m->busy_pct);
	if (f->other_cpus >= TH.other_load_min && pct(f->cpu_rq, life) >= 10)
		say(d, " Untraced tasks took %.2f CPUs meanwhile: the %s waited %.0f%% of "
		    "that time for a core (run-queue p99 %s).", f->other_cpus,
		    pl(f->ncpu, "thread", "threads"),
		    pct(f->cpu_rq, life), fmt_dur(m->runq_p99_ns, p99, sizeof(p99)));
	if (f->ncpu < (uint32_t)f->cores)
		say(d, " Only %u of %d cores %s wanted: more workers would use the rest.",
		    f->ncpu, f->cores, pl(f->ncpu, "was", "were"));
	else
		say(d, " The cores are the limit: more workers would not help.");
	say(d, " Threads and processes both work for CPU-bound C code; an interpreter lock "
	    "(CPython's GIL) would serialize threads, and then processes would be needed.");
}

static bool try_cpu_parallel(const struct facts *f, struct diagnosis *d)
{
	const struct model *m = f->m;
	double cap = min_d(f->ncpu, f->cores);

	if (!f->ncpu || f->demand < TH.parallel_min * cap ||
	    f->cpu_on < TH.cpu_oncpu_min * m->oncpu_ns)
		return false;
	set_verdict(d, VERDICT_CPU_PARALLEL, f->ncpu == 1 ? "CPU-bound, one thread" :
		    "CPU-bound, parallel", "cpu-parallel");
	d->confidence = confidence(f, min_d(ramp(f->demand / cap, TH.parallel_min, 0.95),
					    ramp(ratio(f->cpu_on, m->oncpu_ns), TH.cpu_oncpu_min, 0.9)));
	/* others took the cores: the pool's own shape is clear, its speed less */
	if (f->other_cpus >= TH.other_load_min && ratio(f->cpu_on, m->wall_ns) < 0.75 * f->demand)
		d->confidence -= 0.1;
	cpu_parallel_text(f, d);
	common_evidence(f, d);
	evidence(d, "cpu_threads", f->ncpu, "threads");
	evidence(d, "want_cpu_pct", pct(f->cpu_on + f->cpu_rq, f->cpu_life), "%");
	evidence(d, "busy_pct", m->busy_pct, "%");
	evidence(d, "other_load_cpus", f->other_cpus, "cpus");
	evidence(d, "runq_p99_ms", m->runq_p99_ns / NS_PER_MS, "ms");
	return true;
}

/* " They block in poll (93% of blocked time seen in stacks), recvfrom (4%)." */
static void say_reasons(const struct facts *f, struct diagnosis *d, const char *lead)
{
	int shown = 0;

	for (int i = 0; i < f->nreasons && shown < TOP_REASONS; i++) {
		double share = pct(f->reasons[i].ns, f->block_ns);

		if (share < 1)
			break;
		if (shown)
			say(d, ", %s (%.0f%%)", f->reasons[i].name, share);
		else
			say(d, " %s %s (%.0f%% of the blocked time seen in stacks)", lead,
			    f->reasons[i].name, share);
		shown++;
	}
	if (shown)
		say(d, ".");
}

static bool stacks_say(const struct facts *f, uint64_t kind_ns)
{
	return f->stacks && f->block_ns && kind_ns >= TH.stack_majority * f->block_ns;
}

static bool try_idle(const struct facts *f, struct diagnosis *d)
{
	double on = ratio(f->pool_on, f->pool_time);
	double rate = ratio(f->pool_vol, f->pool_time / NS_PER_S);
	bool quiet = f->pool_vol <= TH.idle_max_waits || rate < TH.idle_max_wait_rate;
	char w[64], run[16], wall[16];

	if (f->npool && on >= TH.idle_max_oncpu)
		return false;
	/* stacks, when captured, tell sleeping from waiting on IO */
	if (f->npool && !stacks_say(f, f->sleep_ns) && (stacks_say(f, f->io_ns) || !quiet))
		return false;
	set_verdict(d, VERDICT_IDLE, "idle", "idle");
	d->confidence = confidence(f, min_d(ramp(on, TH.idle_max_oncpu, TH.idle_max_oncpu / 4),
					    stacks_say(f, f->sleep_ns) ? 1 :
					    max_d(ramp(rate, TH.idle_max_wait_rate, 1),
						  ramp(f->pool_vol, TH.idle_max_waits, 2))));
	if (!f->npool)
		say(d, "Idle: all %u traced threads only waited on conditions (futex waits "
		    "that were not contention) and did no work worth measuring.", f->nwaiters);
	else
		say(d, "Idle: %s ran %s in %s (%.1f%% of %s time, parallelism %.3f) and %s "
		    "blocked the rest, with %llu voluntary switches (%.1f per second).",
		    who(f->npool, f->npool_procs, w, sizeof(w)), fmt_dur(f->pool_on, run, sizeof(run)),
		    fmt_dur(f->m->wall_ns, wall, sizeof(wall)), 100 * on,
		    pl(f->npool, "its", "their"), f->m->parallelism, pl(f->npool, "was", "were"),
		    (unsigned long long)f->pool_vol, rate);
	if (f->stacks)
		say_reasons(f, d, pl(f->npool, "It waited in", "They waited in"));
	say(d, " Nothing here is limited by CPU, locks or the run queue: threads or processes "
	    "make no difference.%s", f->stacks ? "" : " If it waits for IO, --stacks offcpu "
	    "shows where.");
	common_evidence(f, d);
	evidence(d, "oncpu_pct", 100 * on, "%");
	evidence(d, "vol", f->pool_vol, "switches");
	evidence(d, "waits_per_s", rate, "1/s");
	evidence(d, "threads", f->npool, "threads");
	evidence(d, "wall_ms", f->m->wall_ns / NS_PER_MS, "ms");
	return true;
}

/* Without futex tracing, waiting on a lock looks like any other blocking. */
static void no_locks_note(const struct facts *f, struct diagnosis *d)
{
	if (!f->m->snap->locks)
		say(d, " Futex waits were not traced (--no-locks): lock waits count as blocked.");
}

static bool try_io(const struct facts *f, struct diagnosis *d)
{
	double blocked = ratio(f->pool_blocked, f->pool_time), on = ratio(f->pool_on, f->pool_time);
	char w[64];

	if (blocked < TH.io_min_blocked || on > TH.io_max_oncpu)
		return false;
	set_verdict(d, VERDICT_IO_BOUND, "IO-bound", "io-bound");
	d->confidence = confidence(f, min_d(ramp(blocked, TH.io_min_blocked, 0.8),
					    ramp(on, TH.io_max_oncpu, 0.1)));
	/* without futex tracing lock waits look like IO; stacks showing
	 * something else than IO weaken it too */
	if (!f->m->snap->locks || (f->stacks && !stacks_say(f, f->io_ns)))
		d->confidence -= 0.1;
	say(d, "IO-bound: %s spent %.0f%% of %s time blocked outside lock waits and %.1f%% "
	    "on a CPU (parallelism %.2f of %d cores); %llu voluntary vs %llu involuntary "
	    "switches.", who(f->npool, f->npool_procs, w, sizeof(w)), 100 * blocked,
	    pl(f->npool, "its", "their"), 100 * on, f->m->parallelism, f->cores,
	    (unsigned long long)f->pool_vol, (unsigned long long)f->pool_invol);
	if (f->nwaiters)
		say(d, " %u more thread%s only waited for %s.", f->nwaiters, pl(f->nwaiters, "", "s"),
		    pl(f->npool, "it", "them"));
	no_locks_note(f, d);
	if (f->stacks)
		say_reasons(f, d, pl(f->npool, "It blocks in", "They block in"));
	else
		say(d, " Run with --stacks offcpu to see where they block.");
	say(d, " Waiting, not computing, is the limit: more threads or async IO would overlap "
	    "more waits; processes would not help.");
	common_evidence(f, d);
	evidence(d, "blocked_pct", 100 * blocked, "%");
	evidence(d, "oncpu_pct", 100 * on, "%");
	evidence(d, "vol", f->pool_vol, "switches");
	evidence(d, "invol", f->pool_invol, "switches");
	evidence(d, "io_threads", f->npool, "threads");
	if (f->stacks && f->nreasons)
		evidence(d, "top_block_pct", pct(f->reasons[0].ns, f->block_ns), "%");
	return true;
}

static void mixed(const struct facts *f, struct diagnosis *d)
{
	char w[64];

	set_verdict(d, VERDICT_MIXED, "mixed", "mixed");
	d->confidence = confidence(f, 0) - 0.1;
	say(d, "Mixed: no single bottleneck. Of the time of %s, %.0f%% on a CPU, %.0f%% "
	    "runnable waiting for a core, %.0f%% blocked (IO, sleep), %.0f%% in contended "
	    "lock waits", who(f->npool, f->npool_procs, w, sizeof(w)),
	    pct(f->pool_on, f->pool_time), pct(f->pool_rq, f->pool_time),
	    pct(f->pool_blocked, f->pool_time), pct(f->pool_lock, f->pool_time));
	if (f->lock && pct(f->pool_lock, f->pool_time) >= 1) {
		d->lock = f->lock;
		say(d, " (most in %.40s)", f->lock->caller ? f->lock->caller : "?");
	}
	say(d, "; parallelism %.2f of %d cores.", f->m->parallelism, f->cores);
	no_locks_note(f, d);
	if (f->stacks)
		say_reasons(f, d, pl(f->npool, "It blocks in", "They block in"));
	else
		say(d, " --stacks offcpu shows where they block.");
	common_evidence(f, d);
	evidence(d, "oncpu_pct", pct(f->pool_on, f->pool_time), "%");
	evidence(d, "runq_pct", pct(f->pool_rq, f->pool_time), "%");
	evidence(d, "blocked_pct", pct(f->pool_blocked, f->pool_time), "%");
	evidence(d, "lock_pct", pct(f->pool_lock, f->pool_time), "%");
}

void diagnose(const struct model *m, struct diagnosis *d)
{
	struct facts f;

	memset(d, 0, sizeof(*d));
	gather(m, &f);
	if (try_empty(&f, d)) {
		wrap(d->text, TEXT_COLS);
		return;
	}
	if (!try_oversubscribed(&f, d) && !try_lock(&f, d) && !try_cpu_parallel(&f, d) &&
	    !try_idle(&f, d) && !try_io(&f, d))
		mixed(&f, d);
	caveats(&f, d);
	if (d->confidence < 0.05)
		d->confidence = 0.05;
	wrap(d->text, TEXT_COLS);
}

/* --- output -------------------------------------------------------------- */

const char *diagnose_confidence_word(double c)
{
	return c >= TH.conf_high ? "high" : c >= TH.conf_medium ? "medium" : "low";
}

void diagnose_print(FILE *out, const struct diagnosis *d)
{
	const char *p = d->text;

	fprintf(out, "\nDIAGNOSIS  %s (confidence %.2f, %s)\n", d->label ? d->label : "?",
		d->confidence, diagnose_confidence_word(d->confidence));
	while (*p) {
		size_t n = strcspn(p, "\n");

		fprintf(out, "  %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
}

static void lock_json(struct json *j, const struct lock_summary *l)
{
	json_key(j, "lock");
	if (!l) {
		json_null(j);
		return;
	}
	json_object_begin(j);
	json_kv_string(j, "caller", l->caller ? l->caller : "");
	json_kv_u64(j, "tgid", l->tgid);
	json_kv_string(j, "comm", l->comm);
	json_key(j, "addrs");
	json_array_begin(j);
	for (uint32_t a = 0; a < l->naddrs; a++)
		json_u64(j, l->addrs[a]);
	json_array_end(j);
	json_kv_string(j, "stack", l->where);
	json_kv_double(j, "share_waiters", l->share_waiters);
	json_kv_u64(j, "wait_ns", l->wait_ns);
	json_kv_u64(j, "waits", l->waits);
	json_kv_u64(j, "waiters", l->nwaiters);
	json_object_end(j);
}

void diagnose_json(struct json *j, const struct diagnosis *d)
{
	char text[sizeof(d->text)];

	/* one line: a reader wraps it to its own width */
	snprintf(text, sizeof(text), "%s", d->text);
	for (char *p = text; *p; p++)
		if (*p == '\n')
			*p = ' ';
	json_key(j, "diagnosis");
	json_object_begin(j);
	json_kv_string(j, "key", d->key);
	json_kv_string(j, "verdict", d->key);
	json_kv_string(j, "label", d->label);
	json_kv_double(j, "confidence", d->confidence);
	json_kv_string(j, "confidence_word", diagnose_confidence_word(d->confidence));
	json_kv_string(j, "text", text);
	json_key(j, "evidence");
	json_object_begin(j);
	for (int i = 0; i < d->nev; i++)
		json_kv_double(j, d->ev[i].name, d->ev[i].value);
	json_object_end(j);
	lock_json(j, d->lock);
	json_object_end(j);
}
