/* user/trace/session.c: tracer + symbolizer lifecycle, the sampling loop and
 * the stop signals (see session.h). */
#include "trace/session.h"
#include "sym/cpython.h"
#include "sym/py_names.h"
#include "sym/stack_names.h"
#include "sys/procfs.h"
#include "sys/util.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* --- stop signals -------------------------------------------------------- */

#define MAX_ABORT_FILES 16

static volatile sig_atomic_t stop_sig;        /* the last stop signal, until cleared */
static volatile sig_atomic_t stop_from_user;  /* it came from kill(2), not the tty */
static volatile sig_atomic_t stop_count;
static volatile sig_atomic_t starting = 1;    /* before session_start returned */
static const char *abort_files[MAX_ABORT_FILES];
static volatile sig_atomic_t nabort_files;

static void say_async(const char *s)
{
	ssize_t r = write(2, s, strlen(s));

	(void)r;
}

static void on_stop(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	if (starting) {
		/* Loading can take seconds on a loaded machine and libbpf restarts
		 * a verification the signal interrupted: leave now. The kernel
		 * detaches whatever is attached when the process exits; a
		 * launched workload sees its go-pipe close and exits too. */
		for (int i = 0; i < nabort_files; i++)
			unlink(abort_files[i]);
		say_async("poolscope: stopped during start-up: nothing was traced\n");
		_exit(128 + sig);
	}
	stop_sig = sig;
	stop_count++;
	stop_from_user = si && si->si_code <= 0; /* SI_USER, SI_QUEUE: kill(1) */
}

static void on_child(int sig)
{
	(void)sig; /* only ends the loop's sleep */
}

void session_signals_init(void)
{
	struct sigaction sa = { .sa_sigaction = on_stop, .sa_flags = SA_SIGINFO };
	struct sigaction sc = { .sa_handler = on_child, .sa_flags = SA_NOCLDSTOP };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&sc.sa_mask);
	sigaction(SIGCHLD, &sc, NULL);
}

void session_on_abort(const char *path)
{
	if (nabort_files < MAX_ABORT_FILES)
		abort_files[nabort_files++] = path;
}

int session_stop_signal(bool *from_user)
{
	if (from_user)
		*from_user = stop_from_user;
	return stop_sig;
}

unsigned session_stop_count(void)
{
	return stop_count;
}

void session_stop_clear(void)
{
	stop_sig = 0;
}

/* --- lifecycle ----------------------------------------------------------- */

/* The verifier and attaching compete for the CPU with whatever keeps the
 * machine busy: beside 32 CPU hogs at nice 0 a nice-0 poolscope gets a
 * thirty-third of a core and starts ~30 times slower. Load at the highest
 * nice priority, then return to the invoker's. */
static int boost_priority(void)
{
	int old;

	errno = 0;
	old = getpriority(PRIO_PROCESS, 0);
	if (errno)
		return 0;
	setpriority(PRIO_PROCESS, 0, -20);
	return old;
}

int session_open(struct session *s, const struct tracer_opts *opts)
{
	int err, nice_before = boost_priority();

	memset(s, 0, sizeof(*s));
	err = tracer_open(opts, &s->tracer);
	setpriority(PRIO_PROCESS, 0, nice_before);
	if (err)
		return err;
	cgstats_init(&s->cg, opts->cg_hier, opts->cg_id);
	s->all = opts->all;
	if (tracer_locks_active(s->tracer) || opts->offcpu || opts->oncpu)
		s->sym = symbolizer_new();
	return 0;
}

static void remember_target(struct session *s, int id)
{
	if (s->nfirst < (int)ARRAY_LEN(s->first))
		s->first[s->nfirst++] = id;
}

int session_add_process(struct session *s, int tgid)
{
	remember_target(s, tgid);
	return tracer_add_tgid(s->tracer, tgid);
}

int session_add_thread(struct session *s, int tid)
{
	remember_target(s, tid);
	return tracer_add_tid(s->tracer, tid);
}

int session_start(struct session *s)
{
	int nice_before = boost_priority();
	int err = tracer_start(s->tracer);

	setpriority(PRIO_PROCESS, 0, nice_before);
	s->started_ns = mono_ns();
	/* the window has begun: the cgroups' counters now */
	if (!err)
		cgstats_start(&s->cg, s->first, s->nfirst, s->all);
	starting = 0;
	return err;
}

static struct session_proc *find_proc(struct session *s, uint32_t tgid)
{
	for (uint32_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].tgid == tgid)
			return &s->procs[i];
	return NULL;
}

/* "3.11.2" of a Py_Version, "before 3.11" without one. */
static void py_version_text(uint64_t v, char *buf, size_t len)
{
	if (!v)
		snprintf(buf, len, "before 3.11");
	else
		snprintf(buf, len, "%u.%u.%u", (unsigned)(v >> 24 & 0xff), (unsigned)(v >> 16 & 0xff),
			 (unsigned)(v >> 8 & 0xff));
}

/* One line, once per interpreter file: its frames cannot be read. */
static void say_python_unknown(struct session *s, const struct sym_cpython *py, uint32_t tgid,
			       const char *version)
{
	const char *file = py->module ? py->module : "?";

	for (uint32_t i = 0; i < s->n_py_unknown_said; i++)
		if (!strcmp(s->py_unknown_said[i], file))
			return;
	s->py_unknown_said = xrealloc(s->py_unknown_said,
				      (s->n_py_unknown_said + 1) * sizeof(*s->py_unknown_said));
	s->py_unknown_said[s->n_py_unknown_said++] = xstrdup(file);
	size_t n;
	const struct cpython_layout *l = cpython_layouts(&n);
	bool known = false;

	for (size_t i = 0; i < n && py->version; i++)
		known |= l[i].major == (py->version >> 24 & 0xff) && l[i].minor == (py->version >> 16 & 0xff);
	/* a known version of another size: a debug or free-threaded build */
	ps_warn("pid %u: %s CPython %s: native frames", tgid, known ? "unknown build of" : "no layout for",
		version);
}

/* Tell the kernel where process p's CPython keeps its threads, if it is
 * one poolscope knows (again after each snapshot of its map: an exec
 * dropped it there). */
static void python_register(struct session *s, struct session_proc *p)
{
	struct sym_cpython py;

	p->python = SESSION_PY_NONE;
	if (!tracer_python_active(s->tracer) || symbolizer_cpython(s->sym, p->tgid, &py))
		return;
	py_version_text(py.version, p->py_version, sizeof(p->py_version));
	if (!py.layout) {
		p->python = SESSION_PY_UNKNOWN;
		say_python_unknown(s, &py, p->tgid, p->py_version);
		return;
	}
	struct ps_py_proc info = { .runtime = py.runtime, .code_type = py.code_type,
				   .off = py.layout->frames };
	int err = tracer_add_python(s->tracer, p->tgid, &info);
	p->python = !err ? SESSION_PY_KNOWN : err == -EAGAIN ? SESSION_PY_PENDING : SESSION_PY_NONE;
}

/* Snapshot tgid's memory map if it is new or has exec'd since, or (refresh)
 * again: what it mapped since resolves, what it unmapped still does. */
static void track(struct session *s, uint32_t tgid, bool refresh)
{
	struct session_proc *p = find_proc(s, tgid);
	char exe[256];

	if (procfs_exe(tgid, exe, sizeof(exe))) {
		/* gone (its last snapshot stays) or a kernel thread; a JIT's
		 * perf map is complete now and may be reused with the PID */
		if (p && !p->gone)
			symbolizer_load_perf_map(s->sym, tgid);
		if (p)
			p->gone = true;
		return;
	}
	bool same = p && !strcmp(p->exe, exe);

	if (same && !refresh) {
		if (p->python == SESSION_PY_PENDING)
			python_register(s, p);
		return;
	}
	if (same ? symbolizer_update_process(s->sym, tgid) : symbolizer_add_process(s->sym, tgid))
		return;
	if (!p) {
		if (s->nprocs == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 64;
			s->procs = xrealloc(s->procs, s->cap * sizeof(*s->procs));
		}
		p = &s->procs[s->nprocs++];
		p->tgid = tgid;
	}
	snprintf(p->exe, sizeof(p->exe), "%s", exe);
	p->gone = false;
	python_register(s, p);
}

static void track_all(struct session *s, bool refresh)
{
	static uint32_t tgids[PS_MAX_TGIDS];
	int n;

	if (!s->sym)
		return;
	n = tracer_processes(s->tracer, tgids, PS_MAX_TGIDS);
	for (int i = 0; i < n; i++)
		track(s, tgids[i], refresh);
}

static bool known_server(const struct session *s, uint32_t tgid)
{
	for (uint32_t i = 0; i < s->nservers; i++)
		if (s->servers[i] == tgid)
			return true;
	return false;
}

/* Which traced processes listen for connections (a server's blocking is
 * waiting for its clients): once a second and at each snapshot, those not
 * known yet. A process keeps the mark after it exits. */
static void note_servers(struct session *s)
{
	static uint32_t tgids[PS_MAX_TGIDS];
	static uint64_t inodes[4096];
	int n = tracer_processes(s->tracer, tgids, PS_MAX_TGIDS);
	int ni = n ? procfs_listen_inodes(inodes, ARRAY_LEN(inodes)) : 0;

	for (int i = 0; i < n && ni; i++) {
		if (known_server(s, tgids[i]) || !procfs_holds_socket(tgids[i], inodes, ni))
			continue;
		if (s->nservers == s->cap_servers) {
			s->cap_servers = s->cap_servers ? 2 * s->cap_servers : 16;
			s->servers = xrealloc(s->servers, s->cap_servers * sizeof(*s->servers));
		}
		s->servers[s->nservers++] = tgids[i];
	}
}

/* Every slice: sample busy time, snapshot new (or re-exec'd) processes'
 * maps; every SESSION_MAPS_REFRESH_NS the maps of all live ones again, so
 * that locks and code in memory mapped after the first look (a thread's
 * malloc arena, a dlopen'd library) are named even when the process exits
 * before the trace ends. Reading a process's maps again costs tens of
 * microseconds: its files are parsed once. */
static void poll_slice(struct session *s, uint64_t now)
{
	bool refresh = now >= s->next_maps_refresh_ns;

	tracer_sample(s->tracer);
	track_all(s, refresh);
	if (refresh) {
		note_servers(s);
		s->next_maps_refresh_ns = now + SESSION_MAPS_REFRESH_NS;
	}
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { t / 1000000000ull, t % 1000000000ull };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

enum session_end session_run(struct session *s, const struct session_loop *l)
{
	uint64_t slice = tracer_tick_ns(s->tracer), start = s->started_ns;
	uint64_t next_slice = start + slice;
	uint64_t next_interval = l->interval_ns ? start + l->interval_ns : UINT64_MAX;
	uint64_t end = l->duration_ns ? start + l->duration_ns : UINT64_MAX;
	uint64_t deadline = UINT64_MAX;   /* set when on_stop kept tracing */
	unsigned kept_at = 0;

	for (;;) {
		uint64_t wake = next_slice < next_interval ? next_slice : next_interval, now;
		bool from_user;
		int sig;

		if (end < wake)
			wake = end;
		if (!session_stop_signal(NULL))
			sleep_until(wake < deadline ? wake : deadline);
		now = mono_ns();
		if (now >= end)
			return SESSION_END_DURATION;
		if (now >= next_slice) {
			poll_slice(s, now);
			if (l->tick)
				l->tick(l->arg, s, now - start);
			next_slice += slice;
			if (next_slice <= now)
				next_slice = now + slice;
		}
		if (l->alive && !l->alive(l->arg))
			return SESSION_END_DONE;
		if (now >= next_interval) {
			struct ps_snapshot cur;

			if (l->interval && !session_snapshot(s, &cur, false))
				l->interval(l->arg, &cur);
			next_interval += l->interval_ns;
			if (next_interval <= now)
				next_interval = now + l->interval_ns;
		}
		sig = session_stop_signal(&from_user);
		if (deadline != UINT64_MAX && (now >= deadline || session_stop_count() > kept_at)) {
			if (l->grace_over)
				l->grace_over(l->arg, session_stop_count() > kept_at);
			return SESSION_END_SIGNAL;
		}
		if (!sig || deadline != UINT64_MAX)
			continue;
		/* from here the user waits for us: the wind-down at the highest
		 * nice priority, so that busy CPUs do not stretch it */
		boost_priority();
		session_stop_clear();
		if (!l->on_stop || !l->on_stop(l->arg, sig, from_user))
			return SESSION_END_SIGNAL;
		kept_at = session_stop_count();
		deadline = l->grace_ns ? now + l->grace_ns : UINT64_MAX - 1;
	}
}

void session_counts(struct session *s, struct session_counts *c)
{
	uint64_t busy[SESSION_MAX_CPUS_SHOWN], len;
	struct tracer_counts tc;

	memset(c, 0, sizeof(*c));
	tracer_counts(s->tracer, &tc);
	c->events = tc.events;
	c->dropped = tc.dropped;
	c->threads = tc.threads;
	c->nr_cpus = tracer_last_slice(s->tracer, busy, SESSION_MAX_CPUS_SHOWN, &len);
	for (int i = 0; i < c->nr_cpus; i++)
		c->busy_pct[i] = len ? 100.0 * busy[i] / len : 0;
}

int session_processes(struct session *s, uint32_t *tgids, int max)
{
	return tracer_processes(s->tracer, tgids, max);
}

/* The JIT maps of the processes still alive: complete as of now. */
static void load_jit_maps(struct session *s)
{
	for (uint32_t i = 0; s->sym && i < s->nprocs; i++)
		if (!s->procs[i].gone)
			symbolizer_load_perf_map(s->sym, s->procs[i].tgid);
}

/* Whether the space-separated list holds word. */
static bool version_listed(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (!p[n] || p[n] == ' '))
			return true;
	return false;
}

/* The interpreters of the traced processes, for the report. */
static void python_summary(const struct session *s, struct ps_snapshot *snap)
{
	size_t at = 0;

	for (uint32_t i = 0; i < s->nprocs; i++) {
		const struct session_proc *p = &s->procs[i];
		unsigned major = 0, minor = 0;
		char mm[16];

		if (p->python == SESSION_PY_UNKNOWN)
			snap->py_unknown++;
		if (p->python != SESSION_PY_KNOWN)
			continue;
		snap->py_procs++;
		sscanf(p->py_version, "%u.%u", &major, &minor);
		snprintf(mm, sizeof(mm), "%u.%u", major, minor);
		if (version_listed(snap->py_versions, mm) || at + strlen(mm) + 2 > sizeof(snap->py_versions))
			continue;
		at += snprintf(snap->py_versions + at, sizeof(snap->py_versions) - at, "%s%s",
			       at ? " " : "", mm);
	}
}

/* The processes whose stacks snap holds (sorted, with repeats); *n of them. */
static uint32_t *stack_tgids(const struct ps_snapshot *snap, uint32_t *n)
{
	uint32_t k = 0, cap = snap->n_offcpu + snap->n_oncpu + snap->n_futex;
	uint32_t *v = xcalloc(cap ? cap : 1, sizeof(*v));

	for (uint32_t i = 0; i < snap->n_offcpu; i++)
		v[k++] = snap->offcpu_recs[i].key.tgid;
	for (uint32_t i = 0; i < snap->n_oncpu; i++)
		v[k++] = snap->oncpu_recs[i].key.tgid;
	for (uint32_t i = 0; i < snap->n_futex; i++)
		v[k++] = snap->futex_recs[i].key.tgid;
	qsort(v, k, sizeof(*v), cmp_u32);
	*n = k;
	return v;
}

/* Forget the processes that have exited (their PID gone, or another
 * program under it) and left no stack in the kernel's maps: none can come
 * now, so their memory maps would never be read. Without this, a long
 * attach -a on a box that starts processes all the time keeps the maps of
 * every process it ever saw. A CPython stays (the Python summary lists it). */
static void forget_gone(struct session *s, const struct ps_snapshot *snap)
{
	uint32_t n, j = 0, *used;

	if (!s->sym || !s->nprocs)
		return;
	used = stack_tgids(snap, &n);
	for (uint32_t i = 0; i < s->nprocs; i++) {
		struct session_proc *p = &s->procs[i];
		char exe[256];

		if (p->python == SESSION_PY_NONE && !bsearch(&p->tgid, used, n, sizeof(*used), cmp_u32) &&
		    (p->gone || procfs_exe(p->tgid, exe, sizeof(exe)) || strcmp(exe, p->exe))) {
			symbolizer_forget_process(s->sym, p->tgid);
			continue;
		}
		if (j != i)
			s->procs[j] = *p;
		j++;
	}
	s->nprocs = j;
	free(used);
}

int session_snapshot(struct session *s, struct ps_snapshot *snap, bool final)
{
	int err;

	track_all(s, true);
	note_servers(s);
	load_jit_maps(s);
	err = tracer_snapshot(s->tracer, snap, final);
	if (err)
		return err;
	cgstats_end(&s->cg, snap);
	if (s->nservers) {
		snap->servers = xcalloc(s->nservers, sizeof(*snap->servers));
		memcpy(snap->servers, s->servers, s->nservers * sizeof(*snap->servers));
		snap->nservers = s->nservers;
	}
	python_summary(s, snap);
	if (s->sym) {
		symbolizer_fetch_debuginfo(s->sym);
		stacks_symbolize(snap, s->sym);
		python_stacks_merge(snap);
		futex_addrs_symbolize(snap, s->sym);
		forget_gone(s, snap);
		snap->timing.sym_processes = s->nprocs;
	}
	return 0;
}

void session_close(struct session *s, struct ps_snapshot *snap)
{
	uint64_t t0 = mono_ns();

	tracer_close(s->tracer);
	if (snap) {
		snap->timing.detach_ns = mono_ns() - t0;
		snap->timing.peak_rss_kb = procfs_self_peak_rss_kb();
	}
	symbolizer_free(s->sym);
	cgstats_free(&s->cg);
	free(s->procs);
	free(s->servers);
	for (uint32_t i = 0; i < s->n_py_unknown_said; i++)
		free(s->py_unknown_said[i]);
	free(s->py_unknown_said);
	memset(s, 0, sizeof(*s));
}
