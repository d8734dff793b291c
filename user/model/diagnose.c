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
 *   throttled        the CPU threads of one cgroup wanted more than its CPU
 *                    quota and the quota ran out (nr_throttled grew), or
 *                    more than its cpuset while other cores sat idle;
 *   oversubscribed   the CPU threads wanted well over the cores (more were
 *                    runnable than cores) and queued long: CPU-bound too;
 *   lock-serialized  threads wanting the CPU or one contended lock (a
 *                    futex word, a handoff chain of park words, or spinning
 *                    in a lock's slow path) got far less parallelism than
 *                    they asked for, and the lock cost them more than the
 *                    run queue did;
 *   cpu-starved      CPU-bound, but untraced tasks took the cores: the CPU
 *                    threads waited for a core at least as long as they ran;
 *   cpu-parallel     the CPU threads wanted about min(how many were alive at
 *                    a time, cores) CPUs;
 *   idle             hardly ran, hardly woke up (or slept, by the stacks);
 *   awaiting-requests  a server (its processes listen for connections)
 *                    blocked most of the time: it waited for its clients;
 *   io-bound         blocked in the kernel outside lock waits, little CPU;
 *   mixed            none of those.
 * "Wanting a CPU" counts run-queue time as well as on-CPU time: on a shared
 * machine other tasks can take the cores, which lowers the parallelism
 * achieved but not what the pool asked for. */
#include "model/diagnose.h"
#include "model/stacks.h"
#include "sys/util.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_MS 1000000.0
#define NS_PER_S 1000000000.0
#define TEXT_COLS 78
#define MAX_REASONS 32   /* distinct blocking syscalls kept from off-CPU stacks */
#define TOP_REASONS 3    /* of which the text names ... */
#define REASON_MIN_PCT 1 /* ... if they hold 1% of the blocked time or more */

/* Every threshold of the classification and of its confidence. A verdict's
 * confidence grows from 0.5, with its deciding numbers just at their
 * thresholds, to 0.95 when they reach their "sure" values, less penalties. */
static const struct thresholds {
	double worker_min_oncpu;    /* share of the window */
	double worker_fair_share;   /* of a thread's fair share of the cores */
	double cpu_min_share;       /* share of a thread's life */
	double waiter_min_share;    /* share of a thread's life */
	double cpu_min_demand;      /* CPUs */
	double parallel_min, parallel_sure;     /* of min(CPU threads alive, cores) */
	double cpu_oncpu_min, cpu_oncpu_sure;   /* share of all traced on-CPU time */
	double serial_alive_max;    /* CPU threads alive at a time */
	double staggered_max;       /* of the CPU threads */
	double spare_cores_min;     /* cores */
	double oversub_demand, oversub_sure;    /* times the cores */
	uint64_t runq_slow_ns, runq_slow_sure_ns;
	double runq_share_high, runq_share_sure; /* of the CPU threads' wanting time */
	double lock_min_share, lock_share_sure; /* of the waiters' time */
	double lock_min_want;       /* CPUs */
	double lock_max_parallel, lock_parallel_sure; /* of min(wanted, cores) */
	double lock_vs_runq;        /* lock time / run-queue time */
	double lock_max_peers;      /* threads active while one waited */
	double spin_min_share;      /* of the wanting threads' on-CPU samples */
	double starved_runq_share, starved_runq_sure; /* of the CPU threads' wanting time */
	double oversub_pure_cpu;    /* share of a CPU thread's life */
	double server_min_blocked;  /* share of the pool's blocked time */
	double idle_max_oncpu, idle_oncpu_sure; /* share of the pool's time */
	double idle_max_wait_rate, idle_wait_rate_sure; /* per thread-second */
	double idle_max_waits, idle_waits_sure;  /* voluntary switches */
	double io_min_blocked, io_blocked_sure; /* share of the pool's time */
	double io_max_oncpu, io_oncpu_sure;     /* share of the pool's time */
	double stack_majority;      /* share of the blocked time seen in stacks */
	double thr_periods_min, thr_periods_sure; /* share of periods throttled */
	uint64_t thr_min_periods;   /* periods */
	double thr_over_min, thr_over_sure;     /* wanted CPUs / the limit */
	double thr_idle_min, thr_idle_sure;     /* CPUs runnable while cores idle */
	double other_load_min;      /* CPUs */
	double other_load_runq_min; /* of the CPU threads' wanting time */
	uint64_t short_trace_ns;
	double cost_dropped, cost_dropped_share, cost_dropped_max;
	double cost_short, cost_other_load, cost_no_locks;
	double conf_mixed, conf_empty;
	double conf_high, conf_medium;
} TH = {
	/* A thread did work when it ran at least 1% of the window: a pool's
	 * main thread that hands out tasks and waits stays far below ... */
	.worker_min_oncpu = 0.01,
	/* ... or, with more threads than cores, a tenth of its fair share of
	 * them (window x cores / threads): 2000 busy threads on 2 cores get
	 * 0.1% each. */
	.worker_fair_share = 0.1,
	/* A thread wants a CPU when it was on one or runnable at least half of
	 * its life; the rest of the time it was blocked. */
	.cpu_min_share = 0.5,
	/* A thread is a waiter when non-contended futex waits (for results, in
	 * join, on an empty queue) took at least half of its life. */
	.waiter_min_share = 0.5,
	/* CPU-bound at all: the CPU threads wanted half a CPU or more over the
	 * window, so a short burst before a long sleep does not count. */
	.cpu_min_demand = 0.5,
	/* Parallel: the CPU threads wanted at least 75% of min(how many were
	 * alive at a time, cores) CPUs; below that they were blocked too often
	 * to fill them. Counting those alive at a time, not all of them, keeps
	 * a sequence of short-lived CPU-bound processes at one. Sure at 95%. */
	.parallel_min = 0.75,
	.parallel_sure = 0.95,
	/* The CPU threads must do most of the computing (60% of all on-CPU
	 * time, sure at 90%), or mostly blocked threads matter as much. */
	.cpu_oncpu_min = 0.6,
	.cpu_oncpu_sure = 0.9,
	/* Under 1.5 CPU threads alive at a time the work ran one at a time:
	 * labelled so, even when several threads took turns. */
	.serial_alive_max = 1.5,
	/* When under 75% of the CPU threads were alive at a time they ran one
	 * after another, not all at once: the text says how many overlapped. */
	.staggered_max = 0.75,
	/* Half a core or more not wanted is worth saying: more workers would
	 * use it. */
	.spare_cores_min = 0.5,
	/* Oversubscribed: the CPU threads wanted 1.5x the cores or more (3
	 * threads per 2 cores, each waiting a third of the time); sure at 3x. */
	.oversub_demand = 1.5,
	.oversub_sure = 3.0,
	/* ... and queued long: a scheduler slice is a few ms (CFS: 3 ms base,
	 * ~24 ms latency target), so run-queue p99 over 10 ms means waiting
	 * behind several threads, not one slice (sure at 30 ms) ... */
	.runq_slow_ns = 10000000,
	.runq_slow_sure_ns = 30000000,
	/* ... or spent half of their wanting time runnable, not running (sure
	 * at 80%). */
	.runq_share_high = 0.5,
	.runq_share_sure = 0.8,
	/* A lock serializes when its waiters spend 10% of their time or more
	 * waiting on it (gil-threads, 2 workers: ~30-50%; sure at 30%) ... */
	.lock_min_share = 0.10,
	.lock_share_sure = 0.3,
	/* ... when at least 1.5 CPUs' worth of threads wanted the CPU or the
	 * lock (so two of them at least could have run at once) ... */
	.lock_min_want = 1.5,
	/* ... and they got at most 75% of min(wanted, cores) CPUs (sure at
	 * 50%: one of two). One core leaves nothing to serialize: the lock costs
	 * no parallelism there. */
	.lock_max_parallel = 0.75,
	.lock_parallel_sure = 0.5,
	/* ... and the lock (sleeping on it or spinning for it) cost them at
	 * least half as much time as waiting for a core: otherwise other
	 * tasks holding the cores, not the lock, kept them apart. */
	.lock_vs_runq = 0.5,
	/* Within one process the kernel shows it directly: while a thread
	 * slept on the lock, how many of the others were active (on a CPU or
	 * runnable). A lock that serializes leaves about one, its holder; a
	 * parallel pool that merely waits its turn for the cores leaves all
	 * the others (apache's idle workers, woken in turn by its listener,
	 * leave 3 or more). Serialized at 1.5 or fewer (Java's monitor with 4
	 * threads: 1.2, a ring of 4: 1.3, the same ring computing after it
	 * passes the token: 2.0 under load); other tasks holding the cores do
	 * not change it, so then the run-queue comparison above is not
	 * needed. */
	.lock_max_peers = 1.5,
	/* On-CPU samples inside a lock's spin or slow path (Go's
	 * sync.(*Mutex).lockSlow, a JVM monitor's spin) are time waiting for
	 * the lock, not computing, once they reach 10% of the samples. */
	.spin_min_share = 0.1,
	/* Starved: with other load, the CPU threads waited runnable for a core
	 * 40% of the time they wanted one or more (sure at 80%). Beside as many
	 * CPU hogs as threads the fair share is a wait of 50%: measured 47%
	 * in one run of three (2 workers, 2 hogs, 2 cores), so the threshold
	 * stays clear of it. */
	.starved_runq_share = 0.4,
	.starved_runq_sure = 0.8,
	/* A worker count follows from the cores only for threads that never
	 * block: on a CPU or runnable 90% of their lives or more. Threads that
	 * block (on the network, on disk) need more of them than cores. */
	.oversub_pure_cpu = 0.9,
	/* A server waits for requests when processes listening for connections
	 * hold half of the pool's blocked time or more. */
	.server_min_blocked = 0.5,
	/* Idle: the pool was on a CPU under 2% of its time (sleep 1: 0.1%;
	 * sure at 0.5%) ... */
	.idle_max_oncpu = 0.02,
	.idle_oncpu_sure = 0.005,
	/* ... and woke up rarely: under 5 voluntary switches per thread-second
	 * (sleep 1: 2-3; io-threads against a 50 ms server: ~30; sure at 1) ... */
	.idle_max_wait_rate = 5.0,
	.idle_wait_rate_sure = 1.0,
	/* ... or only a handful of times in all (a short sleep: 2-6). */
	.idle_max_waits = 8,
	.idle_waits_sure = 2,
	/* IO-bound: the pool was blocked outside futex waits at least half of
	 * its time (sure at 80%) ... */
	.io_min_blocked = 0.5,
	.io_blocked_sure = 0.8,
	/* ... and on a CPU at most 30% of it (sure at 10%). */
	.io_max_oncpu = 0.3,
	.io_oncpu_sure = 0.1,
	/* Off-CPU stacks decide idle (sleeping) vs IO when one kind holds half
	 * of the blocked time they saw. */
	.stack_majority = 0.5,
	/* Throttled: the CFS bandwidth controller took the CPU from the cgroup
	 * in a fifth of its periods or more (nr_throttled / nr_periods; sure at
	 * 60%: cpu-threads -w 4 under a 1-CPU quota is throttled in every
	 * period), over 2 periods at least (one period is a single sample) ... */
	.thr_periods_min = 0.2,
	.thr_periods_sure = 0.6,
	.thr_min_periods = 2,
	/* ... while its CPU threads wanted 1.2 times the limit or more (sure at
	 * 2x): the pool is sized beyond its quota or cpuset, not merely
	 * touching it ... */
	.thr_over_min = 1.2,
	.thr_over_sure = 2.0,
	/* ... and, what tells a limit from contention on a machine shared
	 * with others, they waited runnable while cores sat idle: 0.2 CPUs'
	 * worth (sure at 0.8). It confirms, it is not required: a busy machine
	 * hides it, and the quota's throttling is counted by the kernel, the
	 * cpuset's CPUs are all the pool can ever have. */
	.thr_idle_min = 0.2,
	.thr_idle_sure = 0.8,
	/* Untraced tasks using half a CPU or more while the CPU threads queued
	 * 10% of their time or more: the machine was shared, the parallelism
	 * achieved says less about the pool. Said, and costs confidence. */
	.other_load_min = 0.5,
	.other_load_runq_min = 0.1,
	/* Under 100 ms a few scheduler events decide every share. */
	.short_trace_ns = 100000000,
	/* Confidence lost to: dropped events (numbers incomplete), a short
	 * trace, a shared machine, no futex tracing (lock waits look like IO). */
	/* ... dropped events cost 0.1 plus 3x the share of events lost, up
	 * to 0.7: 1 % lost costs 0.13, 10 % lost 0.4 (medium at best), 20 % or
	 * more 0.7 (low) ... */
	.cost_dropped = 0.1,
	.cost_dropped_share = 3.0,
	.cost_dropped_max = 0.7,
	.cost_short = 0.15,
	.cost_other_load = 0.1,
	.cost_no_locks = 0.1,
	/* "mixed" names no bottleneck: low by design; so is "nothing traced". */
	.conf_mixed = 0.4,
	.conf_empty = 0.3,
	/* the words */
	.conf_high = 0.75,
	.conf_medium = 0.5,
};

/* What one thread did, in ns of its lifetime within the window. */
struct thread_facts {
	uint64_t life, on, rq, off;
	uint64_t lock_ns;          /* asleep in futex waits on contended locks */
	uint64_t cond_ns;          /* asleep in other futex waits (results, join, queue) */
	uint64_t spin_ns;          /* of on, spinning for a lock (by the on-CPU samples) */
	bool waiter, cpu, want;    /* see the file comment; want: CPU or lock */
	bool server;               /* its process listens for connections */
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
	/* the pool: threads that are not waiters */
	uint32_t npool, npool_procs, nwaiters;
	uint64_t pool_time, pool_on, pool_rq, pool_lock, pool_cond, pool_blocked;
	uint64_t pool_vol, pool_invol;
	/* CPU threads */
	uint32_t ncpu, ncpu_procs;
	uint64_t cpu_on, cpu_rq, cpu_life;
	double demand;              /* CPUs the CPU threads wanted (on + runnable) */
	double alive;               /* CPU threads alive at a time, on average */
	/* threads that wanted the CPU or a contended lock */
	uint32_t nwant, nwant_procs;
	uint64_t want_on, want_ns;  /* on; on + runnable + contended lock wait */
	uint64_t want_rq, want_lock, want_spin; /* runnable; asleep on locks; spinning */
	double want;                /* want_ns in CPUs */
	const struct lock_summary *lock;  /* the top contended lock */
	double other_cpus;          /* busy time of untraced tasks, in CPUs */
	bool cpython;               /* a traced process is CPython (its GIL, its name) */
	uint64_t server_blocked;    /* the pool's blocked time in listening processes */
	uint32_t nserver_procs;
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

/* On-CPU time a thread needs to count as doing work: 1% of the window, or a
 * tenth of its fair share of the cores when threads outnumber them. */
static uint64_t min_work_ns(const struct model *m)
{
	double fair = m->nthreads > (uint32_t)m->nr_cpus ?
		      (double)m->wall_ns * m->nr_cpus / m->nthreads : (double)m->wall_ns;

	return (uint64_t)min_d(TH.worker_min_oncpu * m->wall_ns, TH.worker_fair_share * fair);
}

static bool is_server(const struct ps_snapshot *s, uint32_t tgid)
{
	for (uint32_t i = 0; i < s->nservers; i++)
		if (s->servers[i] == tgid)
			return true;
	return false;
}

static void classify_thread(const struct model *m, const struct thread_summary *ts,
			    struct thread_facts *tf)
{
	uint64_t min_on = min_work_ns(m);

	tf->on = ts->oncpu_ns;
	tf->rq = ts->runq_wait_ns;
	tf->off = ts->offcpu_ns;
	/* no share of a life above 100% */
	tf->life = max_d(ts->lifetime_ns, tf->on + tf->rq + tf->off);
	tf->lock_ns = ts->lock_wait_ns;
	tf->cond_ns = ts->other_wait_ns;
	tf->server = is_server(m->snap, ts->tgid);
	if (ts->oncpu_samples && ts->spin_samples >= TH.spin_min_share * ts->oncpu_samples)
		tf->spin_ns = (uint64_t)((double)tf->on * ts->spin_samples / ts->oncpu_samples);
	/* futex waits are measured from the syscall, off-CPU time from the
	 * switch: never let them exceed the blocked time */
	if (tf->lock_ns > tf->off)
		tf->lock_ns = tf->off;
	if (tf->cond_ns > tf->off - tf->lock_ns)
		tf->cond_ns = tf->off - tf->lock_ns;
	/* a server's idle worker waits for a request, not for the others:
	 * part of the pool, its idle futex waits blocking like IO */
	tf->waiter = tf->life && !tf->server && tf->cond_ns >= TH.waiter_min_share * tf->life;
	if (tf->server)
		tf->cond_ns = 0;
	tf->cpu = !tf->waiter && tf->on >= min_on && tf->on + tf->rq >= TH.cpu_min_share * tf->life;
	tf->want = !tf->waiter && tf->on >= min_on &&
		   tf->on + tf->rq + tf->lock_ns >= TH.cpu_min_share * tf->life;
}

/* CPython: its GIL was named, or a traced process is called python... */
static bool traced_cpython(const struct model *m)
{
	for (uint32_t i = 0; i < m->nlocks; i++)
		if (m->locks[i].runtime_lock && !strcmp(m->locks[i].runtime_lock, "CPython GIL"))
			return true;
	for (uint32_t i = 0; i < m->nprocs; i++)
		if (!strncmp(m->procs[i].comm, "python", 6))
			return true;
	return false;
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
	pool_tg[f->npool++] = ts->tgid;
	f->pool_time += tf->life;
	f->pool_on += tf->on;
	f->pool_rq += tf->rq;
	f->pool_lock += tf->lock_ns;
	f->pool_cond += tf->cond_ns;
	f->pool_blocked += tf->off - tf->lock_ns - tf->cond_ns;
	if (tf->server)
		f->server_blocked += tf->off - tf->lock_ns - tf->cond_ns;
	f->pool_vol += ts->vol;
	f->pool_invol += ts->invol;
	if (tf->cpu) {
		cpu_tg[f->ncpu++] = ts->tgid;
		f->cpu_on += tf->on;
		f->cpu_rq += tf->rq;
		f->cpu_life += tf->life;
	}
	if (tf->want) {
		want_tg[f->nwant++] = ts->tgid;
		f->want_on += tf->on;
		f->want_ns += tf->on + tf->rq + tf->lock_ns;
		f->want_rq += tf->rq;
		f->want_lock += tf->lock_ns;
		f->want_spin += tf->spin_ns;
	}
}

/* The contended lock that held back the threads wanting to compute: the
 * most waited on, counting only the waits of such threads (a chain of
 * service threads that take turns while the workers compute is not it). */
static const struct lock_summary *wanted_lock(const struct model *m, const struct thread_facts *tf)
{
	const struct lock_summary *best = NULL;
	double best_ns = 0;

	for (uint32_t k = 0; k < m->nlocks; k++) {
		const struct lock_summary *l = &m->locks[k];
		uint32_t wanting = 0;

		if (l->cls != LOCK_CONTENDED)
			continue;
		for (uint32_t w = 0; w < l->nwaiters; w++)
			for (uint32_t i = 0; i < m->nthreads; i++)
				if (m->threads[i].tid == l->waiter_tids[w]) {
					wanting += tf[i].want;
					break;
				}
		double ns = l->nwaiters ? (double)l->asleep_ns * wanting / l->nwaiters : 0;

		if (!best || ns > best_ns) {
			best = l;
			best_ns = ns;
		}
	}
	return best;
}

static void gather_threads(struct facts *f)
{
	const struct model *m = f->m;
	struct thread_facts *tf = xcalloc(m->nthreads ? m->nthreads : 1, sizeof(*tf));
	/* tgids of the pool, CPU, wanting and server threads, to count their
	 * processes */
	uint32_t *tg = xcalloc(4 * (size_t)(m->nthreads ? m->nthreads : 1), sizeof(*tg));

	for (uint32_t i = 0; i < m->nthreads; i++) {
		classify_thread(m, &m->threads[i], &tf[i]);
		add_thread(f, &m->threads[i], &tf[i], tg, tg + m->nthreads, tg + 2 * m->nthreads);
	}
	uint32_t nserver = 0, *server_tg = tg + 3 * (size_t)m->nthreads;

	for (uint32_t i = 0; i < m->nthreads; i++)
		if (tf[i].server && tf[i].life && !tf[i].waiter)
			server_tg[nserver++] = m->threads[i].tgid;
	f->nserver_procs = distinct(server_tg, nserver);
	f->npool_procs = distinct(tg, f->npool);
	f->ncpu_procs = distinct(tg + m->nthreads, f->ncpu);
	f->nwant_procs = distinct(tg + 2 * m->nthreads, f->nwant);
	f->demand = ratio(f->cpu_on + f->cpu_rq, m->wall_ns);
	f->alive = ratio(f->cpu_life, m->wall_ns);
	f->want = ratio(f->want_ns, m->wall_ns);
	f->lock = wanted_lock(m, tf);
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
	memset(f, 0, sizeof(*f));
	f->m = m;
	f->cores = m->nr_cpus;
	gather_threads(f);
	gather_stacks(f);
	f->cpython = traced_cpython(m);
	f->other_cpus = m->other_cpus;
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

	if (f->m->dropped) {
		const struct ps_snapshot *s = f->m->snap;
		double share = ratio(f->m->dropped, (double)s->events + f->m->dropped);

		c -= min_d(TH.cost_dropped + TH.cost_dropped_share * share, TH.cost_dropped_max);
	}
	if (f->m->wall_ns < TH.short_trace_ns)
		c -= TH.cost_short;
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
	d->confidence = TH.conf_empty;
	say(d, "Nothing to diagnose: %u traced thread%s over a window of %.1f ms, no thread "
	    "time measured. Check that the command ran and was traced.",
	    m->nthreads, m->nthreads == 1 ? "" : "s", m->wall_ns / NS_PER_MS);
	evidence(d, "threads", m->nthreads, "threads");
	evidence(d, "wall_ms", m->wall_ns / NS_PER_MS, "ms");
	return true;
}

/* The CPU threads of one cgroup and what they wanted. */
struct cgroup_pool {
	const struct cgroup_summary *c;
	uint32_t ncpu;
	uint64_t on, rq, life;
	double demand;              /* CPUs wanted (on + runnable) */
	double alive;               /* CPU threads alive at a time */
	double limit;               /* the quota's CPUs, else the cpuset's */
	bool cpuset;                /* limited by its cpuset, not a quota */
};

static void cgroup_pool_of(const struct model *m, const struct cgroup_summary *c,
			   struct cgroup_pool *p)
{
	memset(p, 0, sizeof(*p));
	p->c = c;
	for (uint32_t i = 0; i < m->nthreads; i++) {
		struct thread_facts tf;

		if (m->threads[i].cgroup_id != c->id)
			continue;
		classify_thread(m, &m->threads[i], &tf);
		if (!tf.cpu)
			continue;
		p->ncpu++;
		p->on += tf.on;
		p->rq += tf.rq;
		p->life += tf.life;
	}
	p->demand = ratio(p->on + p->rq, m->wall_ns);
	p->alive = ratio(p->life, m->wall_ns);
}

/* The limited cgroup whose CPU threads wanted the most: a quota below the
 * host's cores, or a cpuset smaller than them. */
static bool limited_pool(const struct facts *f, struct cgroup_pool *best)
{
	const struct model *m = f->m;
	bool found = false;

	for (uint32_t i = 0; i < m->ncgroups; i++) {
		const struct cgroup_summary *c = &m->cgroups[i];
		bool quota = c->limit_cpus > 0 && c->limit_cpus < f->cores;
		bool cpuset = c->cpuset_cpus > 0 && c->cpuset_cpus < f->cores;
		struct cgroup_pool p;

		if (!quota && !cpuset)
			continue;
		cgroup_pool_of(m, c, &p);
		/* the tighter of the two binds */
		p.cpuset = cpuset && (!quota || c->cpuset_cpus < c->limit_cpus);
		p.limit = p.cpuset ? c->cpuset_cpus : c->limit_cpus;
		if (p.ncpu && (!found || p.demand > best->demand)) {
			*best = p;
			found = true;
		}
	}
	return found;
}

/* The idle cores' worth while the pool's threads were runnable: the
 * smaller of the two over the window. */
static double runnable_while_idle(const struct facts *f, const struct cgroup_pool *p)
{
	uint64_t idle = 0;

	for (int c = 0; c < f->m->nr_cpus; c++)
		idle += f->m->cores[c].idle_ns;
	return min_d(ratio(p->rq, f->m->wall_ns), ratio(idle, f->m->wall_ns));
}

static void throttled_evidence(const struct facts *f, const struct cgroup_pool *p,
			       double idle_rq, double share, struct diagnosis *d)
{
	const struct cgroup_summary *c = p->c;

	common_evidence(f, d);
	evidence(d, p->cpuset ? "cpuset_cpus" : "quota_cpus", p->limit, "cpus");
	evidence(d, "cpu_threads", p->ncpu, "threads");
	evidence(d, "want_cpus", p->demand, "cpus");
	evidence(d, "runnable_idle_cpus", idle_rq, "cpus");
	evidence(d, "runq_share_pct", pct(p->rq, p->on + p->rq), "%");
	if (!p->cpuset && c->have_throttle) {
		evidence(d, "nr_throttled", c->nr_throttled, "periods");
		evidence(d, "nr_periods", c->nr_periods, "periods");
		evidence(d, "throttled_pct", 100 * share, "%");
		evidence(d, "throttled_ms", c->throttled_ns / NS_PER_MS, "ms");
	}
}

static void throttled_text(const struct facts *f, const struct cgroup_pool *p, double idle_rq,
			   double share, struct diagnosis *d)
{
	const struct cgroup_summary *c = p->c;
	char w[64], q[16], per[16], t[16];

	if (p->cpuset) {
		say(d, "Limited by its cpuset: cgroup %.60s may run on CPUs %.20s only, %d of "
		    "the host's %d cores. Its %s wanted %.2f CPUs' worth and got %.2f in parallel, "
		    "waiting runnable %.0f%% of the time", c->path, c->cpuset, c->cpuset_cpus,
		    f->cores, who(p->ncpu, 1, w, sizeof(w)), p->demand, c->parallelism,
		    pct(p->rq, p->on + p->rq));
		if (idle_rq >= TH.thr_idle_min)
			say(d, " while %.2f cores' worth sat idle.", idle_rq);
		else
			say(d, "; other tasks had the other cores meanwhile.");
		say(d, " Size the pool to the cpuset's %d CPU%s, not to the host's %d cores, or "
		    "widen the cpuset.", c->cpuset_cpus, pl(c->cpuset_cpus, "", "s"), f->cores);
		return;
	}
	say(d, "Throttled by its cgroup's CPU quota: %.60s may use %.2f CPUs (%s every %s%s%.40s) "
	    "and ran out of quota in %llu of %llu periods (%.0f%%), its run queues throttled "
	    "%s in all. Its %s wanted %.2f CPUs' worth and got %.2f in parallel, waiting "
	    "runnable %.0f%% of the time", c->path, p->limit,
	    fmt_dur((uint64_t)c->quota_us * 1000, q, sizeof(q)),
	    fmt_dur((uint64_t)c->period_us * 1000, per, sizeof(per)),
	    strcmp(c->limit_at, c->path) ? ", set at " : "",
	    strcmp(c->limit_at, c->path) ? c->limit_at : "",
	    (unsigned long long)c->nr_throttled, (unsigned long long)c->nr_periods, 100 * share,
	    fmt_dur(c->throttled_ns, t, sizeof(t)), who(p->ncpu, 1, w, sizeof(w)), p->demand,
	    c->parallelism, pct(p->rq, p->on + p->rq));
	if (idle_rq >= TH.thr_idle_min)
		say(d, ", while %.2f cores' worth sat idle.", idle_rq);
	else
		say(d, "; other tasks kept the cores busy meanwhile.");
	/* as many CPU threads as the quota allows, or fewer: the quota is what
	 * is too small, not the pool too big */
	if (p->alive <= p->limit + TH.spare_cores_min)
		say(d, " The pool is no bigger than its quota: the quota (%.3g CPU%s) is the "
		    "limit, raise it to give the pool more CPU.", p->limit, p->limit == 1 ? "" : "s");
	else
		say(d, " More workers than the quota only queue: size the pool to the quota "
		    "(%.3g CPU%s), not to the host's %d cores.", p->limit, p->limit == 1 ? "" : "s",
		    f->cores);
}

static bool try_throttled(const struct facts *f, struct diagnosis *d)
{
	struct cgroup_pool p = { 0 };
	double share = 0, idle_rq, over, margin;

	if (!limited_pool(f, &p))
		return false;
	over = ratio(p.demand, p.limit);
	idle_rq = runnable_while_idle(f, &p);
	if (p.demand < TH.cpu_min_demand || over < TH.thr_over_min)
		return false;
	if (p.cpuset) {
		margin = ramp(over, TH.thr_over_min, TH.thr_over_sure);
	} else {
		const struct cgroup_summary *c = p.c;

		if (!c->have_throttle || c->nr_periods < TH.thr_min_periods || !c->nr_throttled)
			return false;
		share = ratio(c->nr_throttled, c->nr_periods);
		if (share < TH.thr_periods_min)
			return false;
		/* the kernel's own count decides; idle cores meanwhile confirm */
		margin = min_d(ramp(share, TH.thr_periods_min, TH.thr_periods_sure),
			       ramp(over, TH.thr_over_min, TH.thr_over_sure));
	}
	/* cores idle meanwhile confirm it; without them it is less sure */
	margin *= 0.8 + 0.2 * ramp(idle_rq, TH.thr_idle_min, TH.thr_idle_sure);
	set_verdict(d, VERDICT_THROTTLED, p.cpuset ? "CPU-limited by its cpuset" :
		    "throttled by its CPU quota", "throttled");
	d->confidence = confidence(f, margin);
	throttled_text(f, &p, idle_rq, share, d);
	throttled_evidence(f, &p, idle_rq, share, d);
	return true;
}

/* Untraced tasks kept the cores busy while the CPU threads queued. */
static bool shared_machine(const struct facts *f)
{
	return f->other_cpus >= TH.other_load_min &&
	       ratio(f->cpu_rq, f->cpu_on + f->cpu_rq) >= TH.other_load_runq_min;
}

/* Spinning is computing to the kernel: only on-CPU samples show it. */
static void spin_note(const struct facts *f, struct diagnosis *d)
{
	if (!f->m->snap->oncpu)
		say(d, " Spinning for a lock looks like computing to the scheduler: --stacks oncpu "
		    "would show it.");
}

static bool try_oversubscribed(const struct facts *f, struct diagnosis *d)
{
	const struct model *m = f->m;
	/* the CPU threads, or the whole pool when it wanted more: a server's
	 * workers that wake for a request and queue count as CPU threads or not
	 * by a hair from one run to the next, but queue as much either way */
	double pool_demand = ratio(f->pool_on + f->pool_rq, m->wall_ns);
	bool pool = pool_demand > f->demand;
	double demand = pool ? pool_demand : f->demand;
	uint64_t on = pool ? f->pool_on : f->cpu_on, rq = pool ? f->pool_rq : f->cpu_rq;
	uint64_t life = pool ? f->pool_time : f->cpu_life;
	double rq_share = ratio(rq, on + rq);
	int workers = f->cores;
	char w[64], p99[16];

	/* demand never exceeds the threads alive, so more were alive than cores */
	if (demand < TH.oversub_demand * f->cores ||
	    (m->runq_p99_ns < TH.runq_slow_ns && rq_share < TH.runq_share_high))
		return false;
	set_verdict(d, VERDICT_OVERSUBSCRIBED, "oversubscribed, run-queue bound", "oversubscribed");
	/* either long queues or a large queued share proves the point */
	d->confidence = confidence(f, min_d(ramp(demand / f->cores, TH.oversub_demand,
						 TH.oversub_sure),
					    max_d(ramp(rq_share, TH.runq_share_high, TH.runq_share_sure),
						  ramp(m->runq_p99_ns, TH.runq_slow_ns,
						       TH.runq_slow_sure_ns))));
	say(d, "CPU-bound and run-queue bound: %s wanted a CPU, %.1f at a time on average on %d "
	    "cores (parallelism %.2f), and waited runnable for a core %.0f%% of that time; "
	    "run-queue latency p99 %s (a scheduler slice is a few ms), %llu involuntary vs "
	    "%llu voluntary switches, %llu migrations.",
	    pool ? who(f->npool, f->npool_procs, w, sizeof(w)) : who(f->ncpu, f->ncpu_procs, w, sizeof(w)),
	    demand, f->cores, m->parallelism,
	    100 * rq_share, fmt_dur(m->runq_p99_ns, p99, sizeof(p99)),
	    (unsigned long long)m->invol, (unsigned long long)m->vol,
	    (unsigned long long)m->migrations);
	if (shared_machine(f))
		say(d, " Untraced tasks took %.2f CPUs meanwhile.", f->other_cpus);
	/* threads that never block (on a CPU or runnable nearly all their
	 * lives): then the cores are the worker count */
	if (on + rq >= TH.oversub_pure_cpu * life)
		say(d, " More runnable threads than cores add latency, not throughput: they hardly "
		    "block, so about %d worker%s (threads or processes alike) would keep the "
		    "cores as busy.", workers < 1 ? 1 : workers, workers > 1 ? "s" : "");
	else
		say(d, " More runnable threads than cores add latency, not throughput; they also "
		    "block (%.0f%% of their time), so the right count is above %d: fewer of them "
		    "runnable at once (a smaller pool, or a queue in front of it) would cut the "
		    "queueing.", 100 - pct(on + rq, life), f->cores);
	spin_note(f, d);
	common_evidence(f, d);
	evidence(d, "cpu_threads", f->ncpu, "threads");
	evidence(d, "active_cpus", demand, "cpus");
	evidence(d, "runq_share_pct", 100 * rq_share, "%");
	evidence(d, "runq_p99_ms", m->runq_p99_ns / NS_PER_MS, "ms");
	evidence(d, "invol", m->invol, "switches");
	evidence(d, "vol", m->vol, "switches");
	evidence(d, "migrations", m->migrations, "migrations");
	evidence(d, "busy_pct", m->busy_pct, "%");
	evidence(d, "other_load_cpus", f->other_cpus, "cpus");
	return true;
}

/* The lesson of a GIL, in numbers, before the lock's details. */
static void say_gil(const struct facts *f, struct diagnosis *d, const struct lock_summary *l,
		    double got)
{
	char tot[16];

	say(d, "%u threads serialized on CPython's GIL; use multiprocessing or a C extension "
	    "that releases the GIL. They wanted %.2f CPUs' worth on %d cores (on a CPU, "
	    "runnable or waiting for the GIL) but ran only %.2f CPUs in parallel: the %u "
	    "waiters spent %.0f%% of their time waiting for it in %s (process %s %u, %s: %llu "
	    "waits, %s) while the holder ran %.0f%% of that time. More threads will not help.",
	    l->nwaiters, f->want, f->cores, got, l->nwaiters, 100 * l->share_asleep,
	    l->caller ? l->caller : "?", l->comm, l->tgid, l->symbol && *l->symbol ? l->symbol : "?",
	    (unsigned long long)l->waits, fmt_dur(l->wait_ns, tot, sizeof(tot)), 100 * l->busy_frac);
}

/* Where the lock is: "process gil 200, futex 0x7000" or, for a lock
 * shared by processes, "2 processes (gil 200, ...), futex 0x7000". */
static void say_where(struct diagnosis *d, const struct lock_summary *l)
{
	if (l->nprocs > 1)
		say(d, "%u processes (%s %u and others)", l->nprocs, l->comm, l->tgid);
	else
		say(d, "process %s %u", l->comm, l->tgid);
}

static void say_lock(const struct facts *f, struct diagnosis *d, const struct lock_summary *l,
		     double got)
{
	char w[64], tot[16], on[300] = "";

	if (l->name)
		snprintf(on, sizeof(on), " on %s", l->name);
	say(d, "Serialized on one lock: %s wanted to compute (on a CPU, runnable or waiting for "
	    "the lock: %.2f CPUs' worth on %d cores) but ran only %.2f CPUs in parallel. ",
	    who(f->nwant, f->nwant_procs, w, sizeof(w)), f->want, f->cores, got);
	if (l->chain)
		say(d, "They took turns: %u threads each slept on a futex word of its own in %s%s "
		    "until one of the others woke it, %.0f%% of their time (", l->nwaiters,
		    l->caller ? l->caller : "?", on, 100 * l->share_asleep);
	else
		say(d, "Its %u waiter%s spent %.0f%% of %s time waiting in %s%s (", l->nwaiters,
		    pl(l->nwaiters, "", "s"), 100 * l->share_asleep, pl(l->nwaiters, "its", "their"),
		    l->caller ? l->caller : "?", on);
	say_where(d, l);
	say(d, ", futex 0x%llx: %llu waits, %s)", (unsigned long long)(l->naddrs ? l->addrs[0] : 0),
	    (unsigned long long)l->waits, fmt_dur(l->wait_ns, tot, sizeof(tot)));
	if (!l->chain)
		say(d, " while the holder ran %.0f%% of that time", 100 * l->busy_frac);
	say(d, ".");
}

/* " They spun in sync.(*Mutex).lockSlow for 41% of their on-CPU samples." */
static void say_spin(const struct facts *f, struct diagnosis *d)
{
	if (f->want_spin && f->m->spin_frame)
		say(d, " They spun for the lock in %s and its kind %.0f%% of their time on a CPU "
		    "(by the on-CPU samples): computing to the scheduler, waiting in fact.",
		    f->m->spin_frame, pct(f->want_spin, f->want_on));
}

static void lock_lesson(struct diagnosis *d, bool processes)
{
	say(d, " One at a time got to compute: more threads will not help; %s",
	    processes ? "a finer-grained lock, or less work while holding it, would." :
	    "processes (a lock each), a finer-grained lock, or less work while holding it, would.");
}

/* How many other threads were active while one slept on lock l: the rest
 * of its process, or, for two waiters in two processes, the other one (its
 * waker); -1 when unknown (several processes, or no such evidence). */
static double lock_peers(const struct lock_summary *l)
{
	if (l && l->nprocs == 1 && l->peers_ns)
		return l->peers;
	if (l && l->nprocs == 2 && l->nwaiters == 2 && l->woken_by_traced)
		return l->busy_frac;
	return -1;
}

static bool try_lock(const struct facts *f, struct diagnosis *d)
{
	const struct lock_summary *l = f->lock;
	/* spinning is waiting, not computing */
	uint64_t lock_ns = f->want_lock + f->want_spin;
	double got = ratio(f->want_on - f->want_spin, f->m->wall_ns), cap = min_d(f->want, f->cores);
	double share = max_d(l ? l->share_asleep : 0, ratio(f->want_spin, f->want_ns));
	char w[64];
	bool gil;

	if ((!l && !f->want_spin) || share < TH.lock_min_share || f->want < TH.lock_min_want ||
	    got > TH.lock_max_parallel * cap)
		return false;
	/* the peers spinning for the lock meanwhile were waiting, not working */
	double peers = lock_peers(l) * (1 - ratio(f->want_spin, f->want_on));

	if (lock_peers(l) >= 0) {
		if (peers > TH.lock_max_peers)
			return false;
	} else if (lock_ns < TH.lock_vs_runq * f->want_rq) {
		return false;
	}
	gil = l && l->runtime_lock && !strcmp(l->runtime_lock, "CPython GIL");
	set_verdict(d, VERDICT_LOCK_SERIALIZED, gil ? "CPU-bound, serialized on CPython's GIL" :
		    "CPU-bound, serialized on a lock", "lock-serialized");
	d->lock = l;
	d->confidence = confidence(f, min_d(min_d(ramp(share, TH.lock_min_share, TH.lock_share_sure),
						  ramp(got / cap, TH.lock_max_parallel,
						       TH.lock_parallel_sure)),
					    ramp(ratio(lock_ns, f->want_rq), TH.lock_vs_runq,
						 2 * TH.lock_vs_runq)));
	if (gil) {
		say_gil(f, d, l, got);
	} else {
		if (l)
			say_lock(f, d, l, got);
		else
			say(d, "Serialized on a spin lock: %s wanted to compute (%.2f CPUs' worth on %d "
			    "cores) but only %.2f CPUs of it was not spinning for a lock.",
			    who(f->nwant, f->nwant_procs, w, sizeof(w)), f->want, f->cores, got);
		say_spin(f, d);
		lock_lesson(d, l && l->nprocs > 1);
	}
	if (shared_machine(f))
		say(d, " Untraced tasks took %.2f CPUs meanwhile.", f->other_cpus);
	common_evidence(f, d);
	evidence(d, "want_cpus", f->want, "cpus");
	evidence(d, "lock_share_pct", 100 * share, "%");
	evidence(d, "lock_waiters", l ? l->nwaiters : f->nwant, "threads");
	evidence(d, "lock_waits", l ? l->waits : 0, "waits");
	evidence(d, "lock_wait_ms", lock_ns / NS_PER_MS, "ms");
	evidence(d, "lock_busy_pct", l ? 100 * l->busy_frac : 0, "%");
	evidence(d, "spin_pct", pct(f->want_spin, f->want_on), "%");
	evidence(d, "runq_wait_ms", f->want_rq / NS_PER_MS, "ms");
	if (lock_peers(l) >= 0)
		evidence(d, "active_while_waiting", peers, "threads");
	return true;
}

/* The cores went to untraced tasks: the pool, whenever it was not blocked,
 * waited for a core at least as long as it ran. The pool as a whole, not
 * only its CPU threads: a server's workers that wake for a request and then
 * queue behind the load generator are starved as much as a computing pool
 * (and count as CPU threads or not by a hair from one run to the next). */
static bool try_starved(const struct facts *f, struct diagnosis *d)
{
	const struct model *m = f->m;
	uint64_t active = f->pool_on + f->pool_rq;
	double rq_share = ratio(f->pool_rq, active), demand = ratio(active, m->wall_ns);
	bool cpu = active >= TH.cpu_min_share * f->pool_time;
	char w[64], p99[16];

	if (demand < TH.cpu_min_demand || f->other_cpus < TH.other_load_min ||
	    rq_share < TH.starved_runq_share)
		return false;
	snprintf(d->label_buf, sizeof(d->label_buf), "%sstarved by other tasks: %.2f of %d CPUs",
		 cpu ? "CPU-bound, " : "", f->other_cpus, f->cores);
	set_verdict(d, VERDICT_CPU_STARVED, d->label_buf, "cpu-starved");
	d->confidence = confidence(f, min_d(ramp(rq_share, TH.starved_runq_share,
						 TH.starved_runq_sure),
					    ramp(f->other_cpus, TH.other_load_min, 1.0)));
	say(d, "Starved by other tasks: untraced tasks took %.2f CPUs, and %s, on a CPU or "
	    "runnable %.0f%% of %s time (%.2f CPUs' worth on %d cores), waited runnable for a "
	    "core %.0f%% of that (run-queue p99 %s); %s ran %.2f CPUs in parallel.",
	    f->other_cpus, who(f->npool, f->npool_procs, w, sizeof(w)), pct(active, f->pool_time),
	    pl(f->npool, "its", "their"), demand, f->cores, 100 * rq_share,
	    fmt_dur(m->runq_p99_ns, p99, sizeof(p99)), pl(f->npool, "it", "they"),
	    ratio(f->pool_on, m->wall_ns));
	if (!cpu)
		say(d, " The rest of the time %s blocked%s.", pl(f->npool, "it was", "they were"),
		    f->nserver_procs ? ", waiting for requests" : "");
	if (demand >= TH.oversub_demand * f->cores)
		say(d, " %.1f of them were runnable at a time on average, more than the %d cores: "
		    "alone they would queue too.", demand, f->cores);
	if (f->lock && f->lock->share_asleep >= TH.lock_min_share)
		say(d, " They also slept %.0f%% of their time on a contended lock in %s.",
		    100 * f->lock->share_asleep, f->lock->caller ? f->lock->caller : "?");
	say(d, " Its own shape is hidden under that load (a load generator on the same machine "
	    "counts as another task): run it again on quieter cores to see whether it is "
	    "parallel, serialized, oversubscribed or waiting.");
	spin_note(f, d);
	common_evidence(f, d);
	evidence(d, "pool_threads", f->npool, "threads");
	evidence(d, "active_cpus", demand, "cpus");
	evidence(d, "other_load_cpus", f->other_cpus, "cpus");
	evidence(d, "runq_share_pct", 100 * rq_share, "%");
	evidence(d, "runq_p99_ms", m->runq_p99_ns / NS_PER_MS, "ms");
	evidence(d, "busy_pct", m->busy_pct, "%");
	return true;
}

static void cpu_parallel_text(const struct facts *f, struct diagnosis *d)
{
	const struct model *m = f->m;
	uint64_t life = f->cpu_on + f->cpu_rq;
	char w[64], p99[16];

	say(d, "%s", who(f->ncpu, f->ncpu_procs, w, sizeof(w)));
	if (f->ncpu > 1 && f->alive < TH.staggered_max * f->ncpu)
		say(d, " (%.1f alive at a time)", f->alive);
	say(d, " wanted a CPU (on one or runnable) %.0f%% of %s time: %.2f CPUs' worth on %d "
	    "cores, and ran %.2f in parallel; cores %.0f%% busy.", pct(life, f->cpu_life),
	    pl(f->ncpu, "its", "their"), f->demand, f->cores, ratio(f->cpu_on, m->wall_ns),
	    m->busy_pct);
	if (shared_machine(f))
		say(d, " Untraced tasks took %.2f CPUs meanwhile: the %s waited %.0f%% of "
		    "that time for a core (run-queue p99 %s).", f->other_cpus,
		    pl(f->ncpu, "thread", "threads"),
		    pct(f->cpu_rq, life), fmt_dur(m->runq_p99_ns, p99, sizeof(p99)));
	if (f->demand <= f->cores - TH.spare_cores_min)
		say(d, " Only %.1f of the %d cores were wanted: more workers running at once "
		    "would use the rest.", f->demand, f->cores);
	else
		say(d, " The cores are the limit: more workers would not help.");
	if (f->lock && f->lock->share_asleep >= TH.lock_min_share)
		say(d, " They slept %.0f%% of their time on a contended lock in %s, not enough to "
		    "serialize them.", 100 * f->lock->share_asleep,
		    f->lock->caller ? f->lock->caller : "?");
	else if (f->cpython)
		say(d, " In CPython that parallelism takes processes (multiprocessing) or C code "
		    "that releases the GIL: threads would serialize on it.");
	else if (f->ncpu > 1)
		say(d, " Nothing serialized them: threads and processes both run in parallel here.");
	spin_note(f, d);
}

static bool try_cpu_parallel(const struct facts *f, struct diagnosis *d)
{
	const struct model *m = f->m;
	double cap = min_d(f->alive, f->cores);

	if (f->demand < TH.cpu_min_demand || f->demand < TH.parallel_min * cap ||
	    f->cpu_on < TH.cpu_oncpu_min * m->oncpu_ns)
		return false;
	set_verdict(d, VERDICT_CPU_PARALLEL, f->ncpu == 1 ? "CPU-bound, one thread" :
		    f->alive < TH.serial_alive_max ? "CPU-bound, one at a time" :
		    "CPU-bound, parallel",
		    "cpu-parallel");
	d->confidence = confidence(f, min_d(ramp(f->demand / cap, TH.parallel_min, TH.parallel_sure),
					    ramp(ratio(f->cpu_on, m->oncpu_ns), TH.cpu_oncpu_min,
						 TH.cpu_oncpu_sure)));
	/* others took the cores: the pool's own shape is clear, its speed less */
	if (shared_machine(f))
		d->confidence -= TH.cost_other_load;
	cpu_parallel_text(f, d);
	common_evidence(f, d);
	evidence(d, "cpu_threads", f->ncpu, "threads");
	evidence(d, "cpu_threads_alive", f->alive, "threads");
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

		if (share < REASON_MIN_PCT)
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
	d->confidence = confidence(f, min_d(ramp(on, TH.idle_max_oncpu, TH.idle_oncpu_sure),
					    stacks_say(f, f->sleep_ns) ? 1 :
					    max_d(ramp(rate, TH.idle_max_wait_rate,
						       TH.idle_wait_rate_sure),
						  ramp(f->pool_vol, TH.idle_max_waits,
						       TH.idle_waits_sure))));
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

/* A server: processes listening for connections hold most of the pool's
 * blocked time, and the pool blocked most of the time: it waited for its
 * clients. Adding threads would not help: the requests set the pace. */
static bool try_requests(const struct facts *f, struct diagnosis *d)
{
	double blocked = ratio(f->pool_blocked, f->pool_time), on = ratio(f->pool_on, f->pool_time);
	char w[64];

	if (!f->nserver_procs || blocked < TH.io_min_blocked || on > TH.io_max_oncpu ||
	    f->server_blocked < TH.server_min_blocked * f->pool_blocked)
		return false;
	set_verdict(d, VERDICT_AWAITING_REQUESTS, "waiting for requests", "awaiting-requests");
	d->confidence = confidence(f, min_d(min_d(ramp(blocked, TH.io_min_blocked,
						       TH.io_blocked_sure),
						  ramp(on, TH.io_max_oncpu, TH.io_oncpu_sure)),
					    ramp(ratio(f->server_blocked, f->pool_blocked),
						 TH.server_min_blocked, 0.9)));
	if (!f->m->snap->locks || (f->stacks && !stacks_say(f, f->io_ns)))
		d->confidence -= TH.cost_no_locks;
	say(d, "Waiting for requests: %s spent %.0f%% of %s time blocked outside lock waits "
	    "and %.1f%% on a CPU (parallelism %.2f of %d cores); %u of %s listen%s for "
	    "connections and held %.0f%% of that blocked time.",
	    who(f->npool, f->npool_procs, w, sizeof(w)), 100 * blocked,
	    pl(f->npool, "its", "their"), 100 * on, f->m->parallelism, f->cores,
	    f->nserver_procs, f->npool_procs == 1 ? "the process" : "the processes",
	    f->nserver_procs == 1 ? "s" : "", pct(f->server_blocked, f->pool_blocked));
	if (f->stacks)
		say_reasons(f, d, pl(f->npool, "It blocks in", "They block in"));
	no_locks_note(f, d);
	say(d, " The server kept up with what it was sent: its clients, not its pool, set the "
	    "pace, so more threads or processes would not serve more. Load it harder to find "
	    "its limit.");
	common_evidence(f, d);
	evidence(d, "blocked_pct", 100 * blocked, "%");
	evidence(d, "oncpu_pct", 100 * on, "%");
	evidence(d, "server_blocked_pct", pct(f->server_blocked, f->pool_blocked), "%");
	evidence(d, "server_processes", f->nserver_procs, "processes");
	evidence(d, "vol", f->pool_vol, "switches");
	return true;
}

static bool try_io(const struct facts *f, struct diagnosis *d)
{
	double blocked = ratio(f->pool_blocked, f->pool_time), on = ratio(f->pool_on, f->pool_time);
	char w[64];

	if (blocked < TH.io_min_blocked || on > TH.io_max_oncpu)
		return false;
	set_verdict(d, VERDICT_IO_BOUND, "IO-bound", "io-bound");
	d->confidence = confidence(f, min_d(ramp(blocked, TH.io_min_blocked, TH.io_blocked_sure),
					    ramp(on, TH.io_max_oncpu, TH.io_oncpu_sure)));
	/* without futex tracing lock waits look like IO; stacks showing
	 * something else than IO weaken it too */
	if (!f->m->snap->locks || (f->stacks && !stacks_say(f, f->io_ns)))
		d->confidence -= TH.cost_no_locks;
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
	d->confidence = min_d(confidence(f, 0), TH.conf_mixed);
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
	/* a runtime's lock spins before it parks: its on-CPU share may be waiting */
	if (f->lock && !f->cpython && pct(f->pool_lock, f->pool_time) >= 1 &&
	    pct(f->pool_on, f->pool_time) >= 10)
		spin_note(f, d);
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
	if (!try_throttled(&f, d) && !try_oversubscribed(&f, d) && !try_lock(&f, d) &&
	    !try_starved(&f, d) && !try_cpu_parallel(&f, d) && !try_idle(&f, d) &&
	    !try_requests(&f, d) && !try_io(&f, d))
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
