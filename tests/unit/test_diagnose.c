/* tests/unit/test_diagnose.c: the diagnosis on hand-made snapshots (no BPF):
 * one run shape per verdict (CPU-parallel, lock-serialized, IO-bound with
 * and without off-CPU stacks, oversubscribed, idle, mixed), the pool's
 * waiting main thread left out, foreign load, edge cases (empty trace, zero
 * wall time, one thread, dropped events), and the text and JSON outputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "model/diagnose.h"
#include "render/report.h"

#define MS 1000000ull
#define START (1000 * MS)

/* One traced thread: times in ms over its whole life (the window unless
 * exit_ms), run-queue waits of about 2^rq_slot ns. */
struct tspec {
	uint32_t tid, tgid;
	const char *comm;
	uint64_t on_ms, rq_ms, off_ms, vol, invol;
	int rq_slot;
	uint64_t exit_ms;
};

static struct ps_snapshot snap;
static struct model model;
static struct diagnosis diag;

/* A window of wall_ms on ncpu cores, busy_pct busy (any task) each; the
 * traced threads' on-CPU time is spread evenly over the cores. */
static void build(int ncpu, uint64_t wall_ms, double busy_pct, const struct tspec *t, int n)
{
	uint64_t on = 0;

	memset(&snap, 0, sizeof(snap));
	snap.start_ns = START;
	snap.end_ns = START + wall_ms * MS;
	snap.nr_cpus = ncpu;
	snap.attach_mode = "tp_btf";
	snap.locks = true;
	snap.nthreads = n;
	snap.threads = calloc(n ? n : 1, sizeof(struct ps_thread));
	snap.thread_cpu_ns = calloc((n ? n : 1) * ncpu, sizeof(uint64_t));
	snap.cpus = calloc(ncpu, sizeof(struct ps_cpu));
	snap.migr = calloc(ncpu, sizeof(struct ps_cpu_migr));
	for (int i = 0; i < n; i++) {
		struct ps_thread *p = &snap.threads[i];

		p->tid = t[i].tid;
		p->tgid = t[i].tgid;
		snprintf(p->comm, sizeof(p->comm), "%s", t[i].comm);
		p->first_ns = START;
		p->exit_ns = t[i].exit_ms ? START + t[i].exit_ms * MS : 0;
		p->oncpu_ns = t[i].on_ms * MS;
		p->runq_wait_ns = t[i].rq_ms * MS;
		p->blocked_ns = t[i].off_ms * MS;
		p->vol = t[i].vol;
		p->invol = t[i].invol;
		p->runq_count = t[i].vol + t[i].invol;
		p->runq_hist[t[i].rq_slot] = (uint32_t)p->runq_count;
		p->runq_max_ns = p->runq_count ? 2ull << t[i].rq_slot : 0;
		for (int c = 0; c < ncpu; c++)
			snap.thread_cpu_ns[i * ncpu + c] = p->oncpu_ns / ncpu;
		on += p->oncpu_ns;
	}
	for (int c = 0; c < ncpu; c++) {
		uint64_t busy = (uint64_t)(busy_pct / 100 * wall_ms * MS);

		snap.cpus[c].traced_ns = on / ncpu;
		snap.cpus[c].busy_ns = busy > on / ncpu ? busy : on / ncpu;
	}
}

static char *xstrdup_t(const char *s)
{
	char *p = strdup(s);

	if (!p)
		abort();
	return p;
}

/* A stack (names leaf first, as the kernel records them). */
static int32_t add_stack(uint32_t tgid, bool user, const char *const *names, uint32_t n)
{
	struct ps_stack *st;

	snap.stacks = realloc(snap.stacks, (snap.nstacks + 1) * sizeof(*snap.stacks));
	st = &snap.stacks[snap.nstacks];
	memset(st, 0, sizeof(*st));
	st->id = (int32_t)snap.nstacks + 1;
	st->tgid = user ? tgid : 0;
	st->user = user;
	st->nframes = n;
	st->ips = calloc(n, sizeof(uint64_t));
	st->names = calloc(n, sizeof(char *));
	for (uint32_t k = 0; k < n; k++) {
		st->ips[k] = 0x1000 + k;
		st->names[k] = xstrdup_t(names[k]);
	}
	snap.nstacks++;
	return st->id;
}

/* A futex wait aggregate of thread tid; busy_ms: the holder was active. */
static void add_futex(uint32_t tgid, uint32_t tid, int32_t ustack, uint64_t uaddr, uint64_t waits,
		      uint64_t wait_ms, uint64_t busy_ms)
{
	struct ps_futex_rec *r;

	snap.futex_recs = realloc(snap.futex_recs, (snap.n_futex + 1) * sizeof(*r));
	r = &snap.futex_recs[snap.n_futex++];
	memset(r, 0, sizeof(*r));
	r->key.tgid = tgid;
	r->key.pid = tid;
	r->key.ustack = ustack;
	r->key.uaddr = uaddr;
	r->st.waits = waits;
	r->st.wait_ns = wait_ms * MS;
	r->st.busy_ns = busy_ms * MS;
	r->st.max_ns = wait_ms * MS;
	r->st.waker_ustack = -1;
}

/* The last futex record was woken n times by traced wakers w1, w2 (its
 * last two); while its waiters slept the rest of the process was active
 * proc_ms (capped at the sleep) and peers_ms in all (several threads add
 * up: about one holder's worth for a lock that serializes). */
static void futex_woken(uint32_t w1, uint32_t w2, uint64_t n, uint64_t proc_ms, uint64_t peers_ms)
{
	struct ps_futex_rec *r = &snap.futex_recs[snap.n_futex - 1];

	r->st.woken_by_traced = n;
	r->st.wakers[0] = w1;
	r->st.wakers[1] = w2;
	r->st.proc_busy_ns = proc_ms * MS;
	r->st.peers_ns = peers_ms * MS;
	r->st.asleep_ns = r->st.wait_ns;
}

/* Off-CPU time of thread tid in the syscall whose kernel stack is kframes. */
static void add_offcpu(uint32_t tgid, uint32_t tid, const char *const *kframes, uint32_t n,
		       uint64_t ms, uint64_t count)
{
	struct ps_stack_rec *r;
	int32_t k = add_stack(0, false, kframes, n);

	snap.offcpu = true;
	snap.offcpu_recs = realloc(snap.offcpu_recs, (snap.n_offcpu + 1) * sizeof(*r));
	r = &snap.offcpu_recs[snap.n_offcpu++];
	memset(r, 0, sizeof(*r));
	r->key.tgid = tgid;
	r->key.pid = tid;
	r->key.ustack = -1;
	r->key.kstack = k;
	r->val.value = ms * MS;
	r->val.count = count;
}

static const char *const cond_wait[] = { "__futex_abstimed_wait_common", "threadpool_run",
					  "pool_run", "main" };
static const char *const gil_wait[] = { "__futex_abstimed_wait_common", "gil_acquire",
					 "square_task", "threadpool_worker", "start_thread" };
static const char *const poll_k[] = { "__schedule_[k]", "schedule_[k]",
				       "schedule_hrtimeout_range_clock_[k]", "do_sys_poll_[k]",
				       "__x64_sys_poll_[k]", "do_syscall_64_[k]",
				       "entry_SYSCALL_64_after_hwframe_[k]" };
static const char *const recv_k[] = { "__schedule_[k]", "schedule_[k]", "sock_recvmsg_[k]",
				       "__x64_sys_recvfrom_[k]", "do_syscall_64_[k]",
				       "entry_SYSCALL_64_after_hwframe_[k]" };
static const char *const sleep_k[] = { "__schedule_[k]", "schedule_[k]", "do_nanosleep_[k]",
					"hrtimer_nanosleep_[k]", "__x64_sys_clock_nanosleep_[k]",
					"do_syscall_64_[k]", "entry_SYSCALL_64_after_hwframe_[k]" };
static const char *const preempt_k[] = { "__schedule_[k]", "schedule_[k]",
					  "irqentry_exit_to_user_mode_[k]",
					  "asm_sysvec_apic_timer_interrupt_[k]" };

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

/* Whether the paragraph says phrase (wherever the wrap broke its lines). */
static bool has(const char *phrase)
{
	char flat[sizeof(diag.text)];

	snprintf(flat, sizeof(flat), "%s", diag.text);
	for (char *p = flat; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return strstr(flat, phrase) != NULL;
}

static bool key_is(const char *key)
{
	return diag.key && !strcmp(diag.key, key);
}

static int widest_line(const char *s)
{
	int w = 0, cur = 0;

	for (; *s; s++) {
		if (*s == '\n') {
			cur = 0;
			continue;
		}
		if (++cur > w)
			w = cur;
	}
	return w;
}

/* The widest line in characters (UTF-8: "…" is one). */
static int widest_chars(const char *s)
{
	int w = 0, cur = 0;

	for (; *s; s++) {
		if (*s == '\n')
			cur = 0;
		else if (((unsigned char)*s & 0xC0) != 0x80 && ++cur > w)
			w = cur;
	}
	return w;
}

/* What every diagnosis must satisfy, whatever the verdict. */
static void check_common(const char *what)
{
	char name[128];
	bool unique = true, finite = true;

	for (int i = 0; i < diag.nev; i++) {
		finite &= isfinite(diag.ev[i].value) && diag.ev[i].name && diag.ev[i].unit;
		for (int k = 0; k < i; k++)
			unique &= strcmp(diag.ev[i].name, diag.ev[k].name) != 0;
	}
	snprintf(name, sizeof(name), "%s: confidence in 0..1 with a word, label, key and text", what);
	CHECK(name, diag.confidence >= 0 && diag.confidence <= 1 && diag.label && diag.key &&
	      strlen(diag.text) > 40 && diagnose_confidence_word(diag.confidence),
	      "confidence %f label %s text '%s'", diag.confidence, diag.label, diag.text);
	snprintf(name, sizeof(name), "%s: text wrapped to 78 columns", what);
	CHECK(name, widest_line(diag.text) <= 78, "widest %d:\n%s", widest_line(diag.text), diag.text);
	snprintf(name, sizeof(name), "%s: evidence present, finite, names unique", what);
	CHECK(name, diag.nev > 0 && diag.nev <= DIAG_MAX_EVIDENCE && unique && finite, "nev %d", diag.nev);
}

/* 2 CPU-bound workers on 2 cores; the main thread waits for their results
 * on a condition variable (awaiting-work, not contention). */
static void build_cpu_pool(bool foreign_load, bool locks)
{
	uint64_t on = foreign_load ? 400 : 960, rq = foreign_load ? 590 : 30;
	struct tspec t[] = {
		{ 100, 100, "pool", 2, 1, 997, 12, 1, 12, 0 },
		{ 101, 100, "pool", on, rq, 10, 2, 300, 22, 0 },
		{ 102, 100, "pool", on, rq, 10, 2, 300, 22, 0 },
	};

	build(2, 1000, 100, t, 3);
	snap.locks = locks;
	if (locks)
		add_futex(100, 100, add_stack(100, true, cond_wait, 4), 0x7000, 6, 995, 950);
}

static void test_cpu_parallel(void)
{
	build_cpu_pool(false, true);
	run();
	check_common("cpu-parallel");
	CHECK("cpu-parallel: 2 busy workers on 2 cores are CPU-bound and parallel",
	      key_is("cpu-parallel") && diag.verdict == VERDICT_CPU_PARALLEL, "got %s: %s", diag.key,
	      diag.text);
	CHECK("cpu-parallel: the waiting main thread is not counted as a worker",
	      ev("cpu_threads") == 2, "cpu_threads %f", ev("cpu_threads"));
	CHECK("cpu-parallel: parallelism and demand near 2 are the evidence",
	      ev("parallelism") > 1.9 && ev("cpu_demand") > 1.95 && ev("cores") == 2,
	      "parallelism %f demand %f", ev("parallelism"), ev("cpu_demand"));
	CHECK("cpu-parallel: high confidence", diag.confidence >= 0.75, "%f", diag.confidence);
	CHECK("cpu-parallel: says threads and processes both run in parallel, no word of "
	      "CPython's GIL in a C program", has("threads and processes both run in parallel") &&
	      !has("GIL") && !has("CPython"), "%s", diag.text);
	CHECK("cpu-parallel: no lock named", diag.lock == NULL, "lock %p", (void *)diag.lock);
	done();
}

static void test_cpu_foreign_load(void)
{
	build_cpu_pool(true, true);
	run();
	check_common("cpu-parallel, shared machine");
	CHECK("shared machine: CPU-bound and starved when untraced tasks take the cores and the "
	      "threads wait for one longer than they run (2 threads wanting 2 cores is not "
	      "oversubscription)", key_is("cpu-starved") && diag.verdict == VERDICT_CPU_STARVED,
	      "got %s: %s", diag.key, diag.text);
	CHECK("shared machine: the headline names the other tasks' CPUs",
	      !strcmp(diag.label, "CPU-bound, starved by other tasks: 1.20 of 2 CPUs") &&
	      has("untraced tasks took 1.20 CPUs") && ev("other_load_cpus") > 1.1,
	      "%s: %s", diag.label, diag.text);
	done();
}

static void test_cpu_no_locks(void)
{
	build_cpu_pool(false, false);
	run();
	CHECK("cpu-parallel without futex tracing: the idle main thread does not hide the workers",
	      key_is("cpu-parallel"), "got %s: %s", diag.key, diag.text);
	done();
}

static void test_one_thread(void)
{
	struct tspec t[] = { { 300, 300, "crunch", 980, 15, 5, 3, 40, 20, 0 } };

	build(2, 1000, 50, t, 1);
	run();
	check_common("one thread");
	CHECK("one CPU-bound thread: CPU-parallel for its one worker, labelled as one thread",
	      key_is("cpu-parallel") && !strcmp(diag.label, "CPU-bound, one thread"), "got %s / %s",
	      diag.key, diag.label);
	CHECK("one CPU-bound thread: says the other core was left unused",
	      has("Only 1.0 of the 2 cores were wanted"), "%s", diag.text);
	done();
}

/* sh -c 'for ...; do crunch; done': one CPU-bound process after another
 * while the shell waits; then a short burst before a long sleep. */
static void test_sequential(void)
{
	struct tspec t[7] = { { 310, 310, "sh", 2, 1, 997, 7, 0, 12, 0 } };

	for (int i = 1; i < 7; i++)
		t[i] = (struct tspec){ 310 + i, 310 + i, "crunch", 160, 5, 1, 1, 30, 20, 0 };
	build(2, 1000, 55, t, 7);
	for (int i = 1; i < 7; i++) {
		snap.threads[i].first_ns = START + (i - 1) * 166 * MS;
		snap.threads[i].exit_ns = START + i * 166 * MS;
		snap.threads[i].flags |= PS_THREAD_FORKED | PS_THREAD_EXITED;
	}
	run();
	check_common("one at a time");
	CHECK("sequential CPU-bound processes: CPU-bound one at a time, not mixed",
	      key_is("cpu-parallel") && !strcmp(diag.label, "CPU-bound, one at a time") &&
	      ev("cpu_threads") == 6 && ev("cpu_threads_alive") < 1.05, "got %s / %s: %s",
	      diag.key, diag.label, diag.text);
	CHECK("sequential CPU-bound processes: says how many ran at a time and that cores idled",
	      has("(1.0 alive at a time)") && has("Only 1.0 of the 2 cores"), "%s", diag.text);
	done();

	struct tspec b[] = { { 320, 320, "burst", 60, 2, 938, 3, 5, 12, 0 },
			     { 321, 321, "gzip", 50, 2, 0, 1, 5, 12, 52 } };
	build(2, 1000, 10, b, 2);
	run();
	CHECK("a 50 ms CPU burst in a 1 s mostly sleeping run is not CPU-bound",
	      !key_is("cpu-parallel") && !key_is("oversubscribed"), "got %s: %s", diag.key,
	      diag.text);
	done();
}

/* gil-threads: 2 workers take turns behind one lock; each computes half the
 * time and waits on the lock the other half while the holder runs. */
static void build_gil(int ncpu)
{
	struct tspec t[] = {
		{ 200, 200, "gil", 1, 1, 998, 9, 0, 12, 0 },
		{ 201, 200, "gil", 480, 40, 480, 300, 200, 20, 0 },
		{ 202, 200, "gil", 480, 40, 480, 300, 200, 20, 0 },
	};
	int32_t gil;

	build(ncpu, 1000, 100, t, 3);
	add_futex(200, 200, add_stack(200, true, cond_wait, 4), 0x7000, 6, 995, 5);
	gil = add_stack(200, true, gil_wait, 5);
	add_futex(200, 201, gil, 0x55550000, 200, 470, 470);
	add_futex(200, 202, gil, 0x55550000, 200, 470, 470);
	add_futex(200, 202, gil, 0x55550004, 5, 4, 4);
}

static void test_lock_serialized(void)
{
	build_gil(2);
	run();
	check_common("lock-serialized");
	CHECK("lock-serialized: 2 threads taking turns behind one lock on 2 cores",
	      key_is("lock-serialized") && diag.verdict == VERDICT_LOCK_SERIALIZED, "got %s: %s",
	      diag.key, diag.text);
	CHECK("lock-serialized: the lock is named by its caller, process and address",
	      diag.lock && diag.lock->caller && !strcmp(diag.lock->caller, "gil_acquire") &&
	      has("gil_acquire") && has("0x55550000") &&
	      has("gil 200"), "%s", diag.text);
	CHECK("lock-serialized: the waiters' share of time on the lock is the evidence",
	      ev("lock_share_pct") > 40 && ev("lock_share_pct") < 55 && ev("lock_waiters") == 2,
	      "share %f waiters %f", ev("lock_share_pct"), ev("lock_waiters"));
	CHECK("lock-serialized: says processes or less work under the lock would help, and no "
	      "word of an interpreter lock in a C program",
	      has("processes (a lock each)") && has("less work while holding it") && !has("GIL"),
	      "%s", diag.text);
	done();
}

static void test_lock_one_core(void)
{
	build_gil(1);
	run();
	CHECK("lock on 1 core: nothing to serialize, so not lock-serialized",
	      !key_is("lock-serialized"), "got %s: %s", diag.key, diag.text);
	done();
}

/* io-threads: 10 workers blocked in poll most of the time, a single-threaded
 * server process, the main thread waiting on the queue's condition. */
static void build_io(bool stacks)
{
	struct tspec t[12] = {
		{ 400, 400, "io", 9, 1, 990, 30, 2, 14, 0 },
		{ 411, 411, "httpd-sim", 2, 1, 997, 60, 5, 14, 0 },
	};

	for (int i = 2; i < 12; i++)
		t[i] = (struct tspec){ 400 + i - 1, 400, "io", 1, 1, 998, 21, 1, 14, 0 };
	build(2, 1000, 5, t, 12);
	add_futex(400, 400, add_stack(400, true, cond_wait, 4), 0x7000, 30, 985, 10);
	if (!stacks)
		return;
	for (int i = 2; i < 12; i++) {
		add_offcpu(400, t[i].tid, poll_k, 7, 900, 20);
		add_offcpu(400, t[i].tid, recv_k, 6, 90, 4);
		add_offcpu(400, t[i].tid, preempt_k, 4, 30, 1);
	}
	add_offcpu(411, 411, poll_k, 7, 990, 60);
}

static void test_io(void)
{
	build_io(false);
	run();
	check_common("io-bound");
	CHECK("io-bound: threads blocked outside locks with little CPU", key_is("io-bound") &&
	      diag.verdict == VERDICT_IO_BOUND, "got %s: %s", diag.key, diag.text);
	CHECK("io-bound: the server process counts, the waiting main thread does not",
	      ev("io_threads") == 11 && has("in 2 processes") &&
	      has("1 more thread only waited"), "io_threads %f: %s",
	      ev("io_threads"), diag.text);
	CHECK("io-bound without stacks: suggests --stacks offcpu",
	      has("--stacks offcpu"), "%s", diag.text);
	CHECK("io-bound: says more threads or async IO help, processes do not",
	      has("more threads or async IO") && has("processes would not help"),
	      "%s", diag.text);
	done();

	build_io(true);
	run();
	check_common("io-bound, stacks");
	CHECK("io-bound with stacks: names where they block, preemptions left out",
	      key_is("io-bound") && has("poll (") && has("recvfrom (") &&
	      !has("irqentry") && !has("--stacks offcpu"), "%s", diag.text);
	CHECK("io-bound with stacks: the top blocking syscall's share is evidence",
	      ev("top_block_pct") > 85 && ev("top_block_pct") < 95, "top %f", ev("top_block_pct"));
	done();
}

/* oversubscribed -w 16: 16 CPU-bound threads on 2 cores. */
static void test_oversubscribed(void)
{
	struct tspec t[17] = { { 500, 500, "over", 2, 10, 988, 30, 3, 22, 0 } };

	for (int i = 1; i < 17; i++)
		t[i] = (struct tspec){ 500 + i, 500, "over", 122, 875, 3, 1, 150, 26, 0 };
	build(2, 1000, 100, t, 17);
	add_futex(500, 500, add_stack(500, true, cond_wait, 4), 0x7000, 16, 985, 30);
	run();
	check_common("oversubscribed");
	CHECK("oversubscribed: 16 CPU threads on 2 cores are run-queue bound",
	      key_is("oversubscribed") && diag.verdict == VERDICT_OVERSUBSCRIBED, "got %s: %s",
	      diag.key, diag.text);
	CHECK("oversubscribed: says it is CPU-bound as well", has("CPU-bound"), "%s",
	      diag.text);
	CHECK("oversubscribed: run-queue p99, runq share and involuntary switches are evidence",
	      ev("runq_p99_ms") > 10 && ev("runq_share_pct") > 80 && ev("invol") == 16 * 150 + 3 &&
	      ev("cpu_threads") == 16, "p99 %f share %f invol %f", ev("runq_p99_ms"),
	      ev("runq_share_pct"), ev("invol"));
	CHECK("oversubscribed: threads that never block get a worker count, one per core",
	      has("about 2 workers"), "%s", diag.text);
	done();
}

static void test_idle(void)
{
	struct tspec t[] = { { 600, 600, "sleep", 1, 0, 999, 3, 1, 12, 0 } };

	build(2, 1000, 3, t, 1);
	run();
	check_common("idle");
	CHECK("idle: sleep 1 (one thread blocked the whole time) is idle, not CPU-bound",
	      key_is("idle") && diag.verdict == VERDICT_IDLE, "got %s: %s", diag.key, diag.text);
	CHECK("idle: high confidence", diag.confidence >= 0.75, "%f", diag.confidence);
	CHECK("idle: singular grammar for one thread", has("was blocked") &&
	      has("of its time"), "%s", diag.text);
	done();

	/* a loop of short sleeps wakes often, but its stacks say it sleeps */
	struct tspec p[] = { { 601, 601, "poller", 5, 1, 994, 200, 2, 12, 0 } };
	build(2, 1000, 3, p, 1);
	add_offcpu(601, 601, sleep_k, 7, 990, 200);
	run();
	CHECK("idle: frequent wakeups in nanosleep are still idle (stacks decide)",
	      key_is("idle") && has("clock_nanosleep"), "got %s: %s", diag.key,
	      diag.text);
	done();

	/* the same wake rate without stacks looks like IO */
	build(2, 1000, 3, p, 1);
	run();
	CHECK("idle vs IO: 200 wakeups a second without stacks is IO-bound, not idle",
	      key_is("io-bound"), "got %s: %s", diag.key, diag.text);
	done();
}

static void test_mixed(void)
{
	struct tspec t[] = {
		{ 700, 700, "mix", 400, 20, 580, 200, 10, 14, 0 },
		{ 701, 700, "mix", 400, 20, 580, 200, 10, 14, 0 },
	};

	build(2, 1000, 45, t, 2);
	run();
	check_common("mixed");
	CHECK("mixed: threads computing 40% and blocked 58% have no single bottleneck",
	      key_is("mixed") && diag.verdict == VERDICT_MIXED, "got %s: %s", diag.key, diag.text);
	CHECK("mixed: gives the time shares and low confidence",
	      has("40% on a CPU") && has("58% blocked") &&
	      diag.confidence < 0.5, "conf %f: %s", diag.confidence, diag.text);
	done();
}

static void test_edges(void)
{
	build(2, 1000, 0, NULL, 0);
	run();
	CHECK("empty trace: idle with low confidence, no crash", key_is("idle") &&
	      diag.confidence < 0.5 && has("Nothing to diagnose"), "got %s %f: %s",
	      diag.key, diag.confidence, diag.text);
	done();

	struct tspec t[] = { { 800, 800, "x", 0, 0, 0, 0, 0, 0, 0 } };
	build(2, 0, 0, t, 1);
	run();
	CHECK("zero wall time: idle with low confidence, finite numbers", key_is("idle") &&
	      diag.confidence < 0.5 && isfinite(ev("wall_ms")), "got %s %f: %s", diag.key,
	      diag.confidence, diag.text);
	done();

	/* dropped events make any verdict less sure, and say so */
	double clean;
	build_cpu_pool(false, true);
	run();
	clean = diag.confidence;
	done();
	build_cpu_pool(false, true);
	snap.drops.no_slot_events = 12;
	run();
	CHECK("dropped events: lower confidence and a warning in the text",
	      diag.confidence < clean && has("dropped (12)"), "%f vs %f: %s",
	      diag.confidence, clean, diag.text);
	done();

	/* a 30 ms trace: few events decide the shares */
	struct tspec s[] = { { 900, 900, "short", 29, 0, 1, 1, 2, 10, 0 } };
	build(2, 30, 50, s, 1);
	run();
	CHECK("short trace: says so and lowers confidence", has("only 30 ms") &&
	      diag.confidence < 0.9, "%f: %s", diag.confidence, diag.text);
	done();
}

static char *capture_print(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	report_diagnosis_text(f, &diag);
	fclose(f);
	return buf;
}

static void test_print(void)
{
	build_gil(2);
	run();
	char *out = capture_print();
	CHECK("print: header line with label and confidence",
	      !strncmp(out, "\nDIAGNOSIS  CPU-bound, serialized on a lock (confidence 0.", 57) &&
	      strstr(out, ", high)\n  Serialized on one lock"), "%s", out);
	CHECK("print: paragraph indented, fits 80 columns", widest_line(out) <= 80 &&
	      !strstr(out, "\n\n  ") && strstr(out, "\n  "), "%s", out);
	free(out);
	done();
}

/* diagnose_json inside an object, parsed by python3. */
static int json_check(const char *python_asserts)
{
	char path[] = "/tmp/poolscope-diag-XXXXXX", cmd[2048];
	int fd = mkstemp(path), rc;
	FILE *f = fdopen(fd, "w");
	struct json j;

	json_init(&j, f, true);
	json_object_begin(&j);
	json_kv_u64(&j, "before", 1);
	report_diagnosis_json(&j, &diag);
	json_object_end(&j);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); "
		 "d=r[\"diagnosis\"]; %s' %s", python_asserts, path);
	rc = system(cmd);
	if (rc == 0)
		unlink(path);
	return rc;
}

static void test_json(void)
{
	build_gil(2);
	run();
	CHECK("json: key, verdict, label, confidence, one-line text, evidence object, lock",
	      json_check("assert r[\"before\"]==1; assert d[\"key\"]==\"lock-serialized\"; "
			 "assert d[\"verdict\"]==d[\"key\"]; assert d[\"label\"]; "
			 "assert 0<=d[\"confidence\"]<=1; assert d[\"confidence_word\"]==\"high\"; "
			 "assert \"\\n\" not in d[\"text\"] and \"gil_acquire\" in d[\"text\"]; "
			 "assert d[\"evidence\"][\"lock_waiters\"]==2; "
			 "assert d[\"lock\"][\"caller\"]==\"gil_acquire\"; "
			 "assert d[\"lock\"][\"tgid\"]==200; assert d[\"lock\"][\"waiters\"]==2; "
			 "assert d[\"lock\"][\"addrs\"][0]==0x55550000") == 0,
	      "python3 check failed");
	done();

	build_io(true);
	run();
	CHECK("json: lock is null when no lock is named",
	      json_check("assert d[\"key\"]==\"io-bound\"; assert d[\"lock\"] is None; "
			 "assert d[\"evidence\"][\"io_threads\"]==11") == 0,
	      "python3 check failed");
	done();
}

/* Debian's stripped python3.11: the waits on the GIL come from the
 * functions take_gil was inlined into, on words of one _PyRuntime that the
 * naming stage called "CPython GIL". */
static void name_word(uint32_t tgid, uint64_t addr, const char *symbol, const char *lock)
{
	struct ps_addr_name *a;

	snap.addr_names = realloc(snap.addr_names, (snap.n_addr_names + 1) * sizeof(*a));
	a = &snap.addr_names[snap.n_addr_names++];
	a->tgid = tgid;
	a->addr = addr;
	a->symbol = xstrdup_t(symbol);
	a->lock = lock ? xstrdup_t(lock) : NULL;
	snapshot_sort_addr_names(&snap);
}

static const char *const take_gil_a[] = { "__futex_abstimed_wait_common", "python3.11+0xf94ed",
					   "python3.11+0x1a8fff" };
static const char *const take_gil_b[] = { "__futex_abstimed_wait_common", "python3.11+0x25dbdf",
					   "python3.11+0x1a8fff" };

static void build_cpython(bool named)
{
	struct tspec t[] = {
		{ 300, 300, "python3", 1, 1, 998, 9, 0, 12, 0 },
		{ 301, 300, "python3", 480, 40, 480, 300, 200, 20, 0 },
		{ 302, 300, "python3", 480, 40, 480, 300, 200, 20, 0 },
	};

	build(2, 1000, 100, t, 3);
	add_futex(300, 300, add_stack(300, true, cond_wait, 4), 0x7000, 6, 995, 5);
	add_futex(300, 301, add_stack(300, true, take_gil_a, 3), 0xa5b8f0, 200, 470, 470);
	add_futex(300, 302, add_stack(300, true, take_gil_b, 3), 0xa5b94c, 200, 470, 470);
	if (!named)
		return;
	name_word(300, 0x7000, "heap", NULL);
	name_word(300, 0xa5b8f0, "_PyRuntime+0x1b0", "CPython GIL");
	name_word(300, 0xa5b94c, "_PyRuntime+0x20c", "CPython GIL");
}

static void test_cpython_gil(void)
{
	build_cpython(false);
	run();
	CHECK("gil unnamed: waits from two functions on words far apart are two locks",
	      model.nlocks == 3, "%u locks", model.nlocks);
	done();

	build_cpython(true);
	run();
	check_common("cpython gil");
	const struct lock_summary *g = diag.lock, *h = &model.locks[g == &model.locks[0]];

	CHECK("gil: waits on the words of CPython's GIL are one lock, whatever function waited",
	      model.nlocks == 2 && g && g->nwaiters == 2 && g->naddrs == 2,
	      "%u locks, the diagnosis's lock %p", model.nlocks, (void *)g);
	CHECK("gil: the lock is named CPython GIL, its symbol that of its first word",
	      g && g->name && !strcmp(g->name, "CPython GIL") && !strcmp(g->symbol, "_PyRuntime+0x1b0") &&
	      !strcmp(g->addr_symbols[1], "_PyRuntime+0x20c"),
	      "name %s symbol %s", g ? g->name : "-", g ? g->symbol : "-");
	CHECK("gil: a heap lock is named heap", model.nlocks == 2 && h->name && !strcmp(h->name, "heap"),
	      "name %s", h->name);
	CHECK("gil: the verdict says serialized on CPython's GIL",
	      key_is("lock-serialized") && !strcmp(diag.label, "CPU-bound, serialized on CPython's GIL"),
	      "%s / %s", diag.key, diag.label);
	CHECK("gil: the lesson in numbers",
	      has("2 threads serialized on CPython's GIL; use multiprocessing or a C extension that "
		  "releases the GIL.") && has("_PyRuntime+0x1b0") && has("ran only"),
	      "%s", diag.text);

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct report_opts o = { .title = "python3 cpu_threads.py", .exit_status = 0 };

	report_text(f, &model, &diag, &o);
	fclose(f);
	CHECK("gil: the text lock line says which function waited on which lock",
	      strstr(text, "python3 300  python3.11+0xf94ed on CPython GIL") != NULL, "%s", text);
	CHECK("gil: the futex words carry their data symbols",
	      strstr(text, "futex 0xa5b8f0 _PyRuntime+0x1b0, 0xa5b94c _PyRuntime+0x20c") != NULL, "%s", text);
	CHECK("gil: the report fits 80 columns", widest_chars(text) <= 80, "%s", text);
	free(text);
	CHECK("gil: JSON lock_name, lock_symbol and addr_symbols",
	      json_check("l=d[\"lock\"]; assert l[\"lock_name\"]==\"CPython GIL\"; "
			 "assert l[\"lock_symbol\"]==\"_PyRuntime+0x1b0\"; "
			 "assert l[\"addr_symbols\"]==[\"_PyRuntime+0x1b0\",\"_PyRuntime+0x20c\"]") == 0,
	      "python3 check failed");
	done();
}

/* Long C++ names in a deep stack: whole frames are dropped from the outside,
 * what still does not fit wraps, nothing is cut inside a name. */
static void test_long_names(void)
{
	static const char *const deep[] = {
		"void std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>(int const&)",
		"pool::Worker<pool::Task>::run_task(pool::Task&)", "pool::ThreadPool::worker_loop()",
		"std::thread::_State_impl<std::thread::_Invoker<std::tuple<pool::ThreadPool::start()::{lambda()#1}> > >::_M_run()",
		"start_thread", "clone3" };
	struct ps_stack_rec *r;

	build_gil(2);
	snap.oncpu = true;
	snap.oncpu_recs = calloc(1, sizeof(*r));
	snap.n_oncpu = 1;
	r = &snap.oncpu_recs[0];
	r->key = (struct ps_stack_key){ .tgid = 200, .pid = 201, .ustack = add_stack(200, true, deep, 6),
					.kstack = -1 };
	r->val = (struct ps_stack_val){ .value = 50, .count = 50 };
	run();
	for (int wide = 0; wide < 2; wide++) {
		char *text = NULL, *on;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		struct report_opts o = { .title = "unit", .exit_status = 0, .wide = wide };

		report_text(f, &model, &diag, &o);
		fclose(f);
		on = strstr(text, "\nON-CPU");
		CHECK(wide ? "long names -w: fits 160 columns" : "long names: fits 80 columns",
		      widest_chars(text) <= (wide ? 160 : 80), "%s", text);
		CHECK(wide ? "long names -w: outer frames dropped whole, the caller shown" :
			     "long names: outer frames dropped whole, the leaf alone shown",
		      on && strstr(on, wide ? "gil: \u2026;pool::Worker<pool::Task>::run_task(pool::Task&);void " :
					      "gil: \u2026;void std::vector"), "%s", on ? on : text);
		CHECK(wide ? "long names -w: the leaf, wrapped before ::, loses no character" :
			     "long names: the leaf, wrapped before ::, loses no character",
		      on && strstr(on, "void std::vector<int, std::allocator<int> >") &&
		      strstr(on, "::_M_realloc_insert<int const&>(int const&)\n") && !strstr(on, ".."),
		      "%s", on ? on : text);
		free(text);
	}
	done();
}


/* Four threads that take turns, each parked on a futex word of its own (a
 * JVM monitor's park events, a condition variable per thread), each woken by
 * the others: busy_ms says how long its own waker was active (one of the
 * three others: a third of the sleep), peers how many others were active
 * while it slept (serialized: about one; a parallel pool: all three). */
static void build_chain(double peers, uint64_t on, uint64_t rq, uint64_t asleep)
{
	struct tspec t[5] = { { 1000, 1000, "java", 5, 1, 994, 10, 1, 12, 0 } };
	static const char *const park[] = { "__futex_abstimed_wait_common", "Parker::park" };
	int32_t st;

	for (int i = 1; i < 5; i++)
		t[i] = (struct tspec){ 1000 + i, 1000, "Thread", on, rq, asleep, 300, 300, 20, 0 };
	build(2, 1000, 100, t, 5);
	st = add_stack(1000, true, park, 2);
	for (int i = 1; i < 5; i++) {
		/* the words are far apart: one object per thread */
		add_futex(1000, 1000 + i, st, 0x7f0000001000ull + 0x1100 * i, 250, asleep, asleep / 3);
		futex_woken(1000 + i % 4 + 1, 1000 + (i + 1) % 4 + 1, 240, asleep,
			    (uint64_t)(peers * asleep));
	}
	/* the main thread joins them: woken by one, it wakes none */
	add_futex(1000, 1000, add_stack(1000, true, cond_wait, 4), 0x7000, 1, 990, 990);
	futex_woken(1001, 0, 1, 990, 3 * 990);
}

static void test_chain(void)
{
	build_chain(1.2, 330, 40, 630);
	run();
	check_common("handoff chain");
	const struct lock_summary *l = diag.lock;
	CHECK("chain: 4 threads parked on words of their own, woken by each other, are one lock "
	      "with 4 waiters, contended", l && l->chain && l->nwaiters == 4 && l->naddrs == 4 &&
	      l->contended && l->nprocs == 1, "lock %p waiters %u addrs %u", (void *)l,
	      l ? l->nwaiters : 0, l ? l->naddrs : 0);
	CHECK("chain: the main thread's join is not part of it", l && l->waits == 1000,
	      "waits %llu", l ? (unsigned long long)l->waits : 0);
	CHECK("chain: about one other thread active while one slept: serialized",
	      key_is("lock-serialized") && has("They took turns") && has("Parker::park") &&
	      ev("active_while_waiting") < 1.3, "got %s: %s", diag.key, diag.text);
	done();

	/* the same chain under other load (0.8 CPUs for 4 threads), but all
	 * three others active while one waits for its turn: a parallel ring
	 * whose token waits in the run queue with each holder */
	build_chain(2.9, 200, 500, 300);
	run();
	CHECK("chain: with the others active while one waits, a starved ring is not "
	      "serialized", !key_is("lock-serialized") && ev("other_load_cpus") > 1,
	      "got %s: %s", diag.key, diag.text);
	done();
}

/* Two service threads that nudge each other now and then while they
 * sleep: no chain, nothing contended. */
static void test_idle_pair(void)
{
	struct tspec t[] = { { 1050, 1050, "jvm", 30, 1, 969, 5, 0, 12, 0 },
			     { 1051, 1050, "VM Thread", 1, 0, 999, 6, 0, 12, 0 },
			     { 1052, 1050, "GC Thread", 1, 0, 999, 6, 0, 12, 0 } };

	build(2, 1000, 5, t, 3);
	add_futex(1050, 1051, add_stack(1050, true, cond_wait, 4), 0x7f0000001000ull, 5, 990, 10);
	futex_woken(1052, 0, 5, 20, 20);
	add_futex(1050, 1052, add_stack(1050, true, cond_wait, 4), 0x7f0000009000ull, 5, 990, 10);
	futex_woken(1051, 0, 5, 20, 20);
	run();
	CHECK("idle pair: sleeping threads that wake each other are neither a chain nor "
	      "contended", model.nlocks == 2 && !model.locks[0].chain && !model.locks[0].contended,
	      "%u locks, chain %d", model.nlocks, model.nlocks ? model.locks[0].chain : -1);
	done();
}

/* A pool whose workers each wait on a word of their own for the dispatcher,
 * who wakes them and never waits for them: no cycle, no chain. */
static void test_dispatcher(void)
{
	struct tspec t[4] = { { 1100, 1100, "disp", 900, 20, 80, 10, 30, 12, 0 } };
	int32_t st;

	for (int i = 1; i < 4; i++)
		t[i] = (struct tspec){ 1100 + i, 1100, "worker", 100, 10, 890, 300, 10, 12, 0 };
	build(2, 1000, 60, t, 4);
	st = add_stack(1100, true, cond_wait, 4);
	for (int i = 1; i < 4; i++) {
		add_futex(1100, 1100 + i, st, 0x7f0000001000ull + 0x1100 * i, 300, 880, 880);
		futex_woken(1100, 0, 300, 880, 880);
	}
	run();
	CHECK("dispatcher: workers woken by a dispatcher that never waits are no chain",
	      model.nlocks == 3 && !model.locks[0].chain && model.locks[0].nwaiters == 1,
	      "%u locks, chain %d", model.nlocks, model.nlocks ? model.locks[0].chain : -1);
	CHECK("dispatcher: not lock-serialized", !key_is("lock-serialized"), "got %s: %s",
	      diag.key, diag.text);
	done();

	/* apache's worker MPM: a listener that waits for an idle worker, and
	 * 8 workers that wait for the listener's connections: a cycle through
	 * one hub, still no chain */
	struct tspec a[10] = { { 1150, 1150, "apache2", 120, 300, 580, 4000, 900, 12, 0 } };
	for (int i = 1; i < 10; i++)
		a[i] = (struct tspec){ 1150 + i, 1150, "apache2", 30, 300, 670, 500, 100, 12, 0 };
	build(2, 1000, 100, a, 10);
	st = add_stack(1150, true, cond_wait, 4);
	add_futex(1150, 1150, st, 0x7f0000000100ull, 4000, 500, 400);
	futex_woken(1151, 1152, 4000, 500, 1500);
	for (int i = 1; i < 10; i++) {
		add_futex(1150, 1150 + i, st, 0x7f0000001000ull + 0x1100 * i, 500, 650, 30);
		futex_woken(1150, 0, 500, 620, 2300);
	}
	run();
	CHECK("dispatcher: a listener and its workers waking each other are no chain",
	      model.nlocks >= 9 && !model.locks[0].chain && !key_is("lock-serialized"),
	      "%u locks, chain %d: %s: %s", model.nlocks, model.locks[0].chain, diag.key, diag.text);
	done();
}

/* Two processes take turns on a lock in shared memory: each maps it at its
 * own address, each waits, woken by the other. */
static void test_shared_memory(void)
{
	struct tspec t[] = {
		{ 1200, 1200, "shm", 1, 0, 999, 2, 0, 12, 0 },
		{ 1201, 1201, "shm", 480, 30, 490, 200, 20, 14, 0 },
		{ 1202, 1202, "shm", 480, 30, 490, 200, 20, 14, 0 },
	};
	static const char *const lock_fn[] = { "ticket_lock", "main" };

	build(2, 1000, 100, t, 3);
	add_futex(1201, 1201, add_stack(1201, true, lock_fn, 2), 0x7f1100000004ull, 200, 480, 475);
	futex_woken(1202, 0, 200, 0, 0);
	add_futex(1202, 1202, add_stack(1202, true, lock_fn, 2), 0x7f2200000004ull, 200, 480, 475);
	futex_woken(1201, 0, 200, 0, 0);
	run();
	check_common("shared memory");
	const struct lock_summary *l = diag.lock;
	CHECK("shared memory: the two processes' words are one lock of 2 processes",
	      l && l->nprocs == 2 && l->nwaiters == 2 && l->naddrs == 2 && l->addr_tgids[0] != l->addr_tgids[1],
	      "lock %p procs %u", (void *)l, l ? l->nprocs : 0);
	CHECK("shared memory: serialized, the lock shared by 2 processes",
	      key_is("lock-serialized") && has("2 processes") && !has("processes (a lock each)"),
	      "got %s: %s", diag.key, diag.text);
	done();
}

/* Go's sync.Mutex: the threads stay on a CPU, spinning in lockSlow. */
static void build_spin(uint64_t spin_samples)
{
	static const char *const spin[] = { "runtime.procyield.abi0", "sync.(*Mutex).lockSlow",
					    "main.main.func1", "runtime.goexit.abi0" };
	static const char *const work[] = { "main.work", "main.main.func1", "runtime.goexit.abi0" };
	struct tspec t[] = {
		{ 1300, 1300, "gomutex", 960, 30, 10, 5, 300, 14, 0 },
		{ 1301, 1300, "gomutex", 960, 30, 10, 5, 300, 14, 0 },
	};
	struct ps_stack_rec *r;

	build(2, 1000, 100, t, 2);
	snap.oncpu = true;
	snap.sample_hz = 99;
	snap.oncpu_recs = calloc(4, sizeof(*r));
	for (int i = 0; i < 2; i++) {
		r = &snap.oncpu_recs[snap.n_oncpu++];
		r->key = (struct ps_stack_key){ .tgid = 1300, .pid = 1300 + i,
						.ustack = add_stack(1300, true, spin, 4), .kstack = -1 };
		r->val = (struct ps_stack_val){ .value = spin_samples, .count = spin_samples };
		r = &snap.oncpu_recs[snap.n_oncpu++];
		r->key = (struct ps_stack_key){ .tgid = 1300, .pid = 1300 + i,
						.ustack = add_stack(1300, true, work, 3), .kstack = -1 };
		r->val = (struct ps_stack_val){ .value = 95 - spin_samples, .count = 95 - spin_samples };
	}
}

static void test_spin(void)
{
	build_spin(55);
	run();
	check_common("spinning");
	CHECK("spin: on-CPU samples in sync.(*Mutex).lockSlow are counted per thread",
	      model.spin_samples == 110 && model.spin_frame &&
	      !strcmp(model.spin_frame, "sync.(*Mutex).lockSlow") &&
	      model.threads[0].spin_samples == 55 && model.threads[0].oncpu_samples == 95,
	      "spin %llu frame %s", (unsigned long long)model.spin_samples, model.spin_frame);
	CHECK("spin: threads spinning 58% of their CPU time are serialized on a (spin) lock",
	      key_is("lock-serialized") && has("sync.(*Mutex).lockSlow") && ev("spin_pct") > 50,
	      "got %s: %s", diag.key, diag.text);
	done();

	build_spin(3);
	run();
	CHECK("spin: a little spinning (3%) leaves two busy threads CPU-bound and parallel",
	      key_is("cpu-parallel") && !has("--stacks oncpu"), "got %s: %s", diag.key, diag.text);
	done();

	struct tspec t[] = { { 1310, 1310, "gomutex", 960, 30, 10, 5, 300, 14, 0 },
			     { 1311, 1310, "gomutex", 960, 30, 10, 5, 300, 14, 0 } };
	build(2, 1000, 100, t, 2);
	run();
	CHECK("spin: without on-CPU stacks the report says spinning is not visible",
	      key_is("cpu-parallel") && has("--stacks oncpu would show it"), "%s", diag.text);
	done();
}

/* A server: its processes listen for connections and wait for clients. */
static void test_server(void)
{
	struct tspec t[] = {
		{ 1400, 1400, "nginx", 2, 1, 997, 5, 0, 12, 0 },
		{ 1401, 1401, "nginx", 90, 10, 900, 900, 20, 12, 0 },
		{ 1402, 1402, "nginx", 90, 10, 900, 900, 20, 12, 0 },
	};

	build(2, 1000, 20, t, 3);
	run();
	CHECK("server: without the listening sockets known, blocked workers are IO-bound",
	      key_is("io-bound"), "got %s: %s", diag.key, diag.text);
	done();
	build(2, 1000, 20, t, 3);
	snap.servers = calloc(3, sizeof(uint32_t));
	snap.servers[snap.nservers++] = 1401;
	snap.servers[snap.nservers++] = 1402;
	run();
	check_common("server");
	CHECK("server: listening processes blocked most of the time wait for requests, and no "
	      "advice to add threads", key_is("awaiting-requests") &&
	      diag.verdict == VERDICT_AWAITING_REQUESTS && has("Waiting for requests") &&
	      !has("more threads or async IO would"), "got %s: %s", diag.key, diag.text);
	done();
}

/* Oversubscribed threads that block between bursts get no worker count;
 * 2000 busy threads on 2 cores are oversubscribed, not mixed. */
static void test_oversub_counts(void)
{
	struct tspec t[13] = { { 1500, 1500, "httpd", 1, 0, 999, 3, 0, 12, 0 } };

	for (int i = 1; i < 13; i++)
		t[i] = (struct tspec){ 1500 + i, 1500, "httpd", 150, 500, 350, 300, 200, 24, 0 };
	build(2, 1000, 100, t, 13);
	run();
	CHECK("oversubscribed: threads that block 35% of the time get no worker count",
	      key_is("oversubscribed") && !has("workers (threads or processes alike)") &&
	      has("fewer of them runnable at once"), "got %s: %s", diag.key, diag.text);
	done();

	static struct tspec many[2001];
	many[0] = (struct tspec){ 1600, 1600, "many", 2, 0, 998, 3, 0, 12, 0 };
	for (int i = 1; i < 2001; i++)
		many[i] = (struct tspec){ 1600 + i, 1600, "many", 1, 998, 1, 1, 3, 26, 0 };
	build(2, 1000, 100, many, 2001);
	run();
	CHECK("2000 busy threads on 2 cores (1 ms each on a CPU) are oversubscribed",
	      key_is("oversubscribed") && ev("cpu_threads") == 2000, "got %s (%f CPU threads): %s",
	      diag.key, ev("cpu_threads"), diag.text);
	done();
}

/* CPython (by its GIL or its name) gets the GIL sentence, C does not. */
static void test_cpython_advice(void)
{
	struct tspec t[] = { { 1700, 1700, "python3", 960, 20, 20, 5, 200, 14, 0 },
			     { 1701, 1700, "python3", 960, 20, 20, 5, 200, 14, 0 } };

	build(2, 1000, 100, t, 2);
	run();
	CHECK("cpython: a parallel python3 is told processes or GIL-releasing C code",
	      key_is("cpu-parallel") && has("multiprocessing") && has("GIL"), "%s", diag.text);
	done();
}

/* Every share printed has the right denominator: none above 100%. */
static bool no_share_above_100(const char *text)
{
	for (const char *p = strchr(text, '%'); p; p = strchr(p + 1, '%')) {
		const char *q = p;

		while (q > text && ((q[-1] >= '0' && q[-1] <= '9') || q[-1] == '.'))
			q--;
		if (q < p && atof(q) > 100.0)
			return false;
	}
	return true;
}

static void test_denominators(void)
{
	/* `run -- false`: started blocked until poolscope released it 250 ms
	 * in, then 2 ms on a CPU, 5 ms runnable, and the exit */
	struct tspec t[] = { { 1800, 1800, "false", 2, 5, 252, 3, 1, 12, 260 } };

	build(2, 260, 30, t, 1);
	snap.threads[0].first_ns = START + 251 * MS;
	snap.threads[0].flags = PS_THREAD_EXECED | PS_THREAD_EXITED;
	snap.launch_tgid = 1800;
	snap.launch_ns = START + 250 * MS;
	run();
	CHECK("run -- false: the command's window starts at its release, the wait for it "
	      "is not its blocked time", model.threads[0].lifetime_ns >= 9 * MS &&
	      model.threads[0].lifetime_ns <= 11 * MS && model.threads[0].offcpu_ns == 2 * MS,
	      "life %llu off %llu", (unsigned long long)model.threads[0].lifetime_ns,
	      (unsigned long long)model.threads[0].offcpu_ns);
	CHECK("run -- false: no share above 100%", no_share_above_100(diag.text), "%s", diag.text);
	done();

	/* a thread first seen at a wakeup of an attach: asleep since the trace
	 * began (its blocked time counts from there) */
	struct tspec a[] = { { 1810, 1810, "srv", 10, 0, 990, 5, 0, 12, 0 } };
	build(2, 1000, 5, a, 1);
	snap.threads[0].first_ns = START + 600 * MS;
	run();
	CHECK("attach: a thread first seen later lives from the trace start",
	      model.threads[0].lifetime_ns == 1000 * MS && no_share_above_100(diag.text),
	      "life %llu: %s", (unsigned long long)model.threads[0].lifetime_ns, diag.text);
	done();

	/* measured time past the window's end of a thread (it runs on after
	 * sched_process_exit): the window grows to hold it */
	struct tspec x[] = { { 1820, 1820, "true", 3, 0, 1, 1, 0, 12, 3 } };
	build(2, 50, 10, x, 1);
	run();
	CHECK("a dying thread's time after its exit event still fits its window",
	      model.threads[0].lifetime_ns == 4 * MS && no_share_above_100(diag.text),
	      "life %llu: %s", (unsigned long long)model.threads[0].lifetime_ns, diag.text);
	done();

	/* cpu-threads --workers 0: a usage error after 12 ms in the run queue */
	struct tspec u[] = { { 1830, 1830, "cpu-threads", 1, 12, 6, 2, 3, 23, 17 } };
	build(2, 20, 95, u, 1);
	snap.threads[0].first_ns = START + 3 * MS;
	snap.launch_tgid = 1830;
	snap.launch_ns = START + 3 * MS;
	run();
	CHECK("cpu-threads --workers 0: no share above 100%", no_share_above_100(diag.text),
	      "%s", diag.text);
	done();
}

int main(void)
{
	test_cpu_parallel();
	test_cpu_foreign_load();
	test_cpu_no_locks();
	test_one_thread();
	test_sequential();
	test_lock_serialized();
	test_lock_one_core();
	test_io();
	test_oversubscribed();
	test_idle();
	test_mixed();
	test_edges();
	test_print();
	test_json();
	test_cpython_gil();
	test_long_names();
	test_chain();
	test_idle_pair();
	test_dispatcher();
	test_shared_memory();
	test_spin();
	test_server();
	test_oversub_counts();
	test_cpython_advice();
	test_denominators();
	return check_failures() != 0;
}
