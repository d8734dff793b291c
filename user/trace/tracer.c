/* user/tracer.c: BPF lifecycle and map reading (see tracer.h). */
#include "trace/tracer.h"
#include "trace/features.h"
#include "sys/procfs.h"
#include "sys/util.h"
#include <time.h>
#include "poolscope.skel.h"
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <errno.h>
#include <stddef.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct tracer {
	struct poolscope *skel;
	struct tracer_opts opts;
	int nr_cpus;
	bool raw_tp;
	const struct ps_thread *threads_mm;     /* mmapped `threads` */
	size_t threads_mm_len;
	const uint64_t *tcpu_mm;                /* mmapped `thread_cpu_ns` */
	size_t tcpu_mm_len;
	uint64_t start_ns, active_ns;
	bool locks_active;
	bool python;                            /* targ_python */
	bool futex_syscalls;                    /* futex waits from syscall tracepoints (fallback) */
	bool task_hash;                         /* task state in a hash, not task storage */
	uint32_t pidns_ino;                     /* poolscope's PID namespace, 0: the initial one */
	struct features feat;
	struct bpf_link **perf_links;           /* nr_cpus on-CPU sampling events */
	struct bpf_link *futex2_links[6];       /* the futex programs on the futex2 syscalls */
	struct ps_cpu *cpu_buf;                 /* nr_cpus, scratch for reads */
	/* --timeline: the ring buffer and the records drained from it */
	struct ring_buffer *rb;
	struct ps_tl_rec *tl;
	size_t ntl, tl_cap, tl_max;
	uint64_t tl_over;                       /* records beyond tl_max, not kept */
	/* cumulative busy/traced ns per CPU at each sample kept: at most
	 * slices_max, every slice_mult-th tick (a long trace keeps every other
	 * sample and doubles slice_mult when full: cumulative samples lose
	 * resolution, never time) */
	uint32_t nslices, cap, slices_max, slice_mult, ticks;
	uint64_t *slice_end, *slice_busy, *slice_traced;
	/* the last two ticks' busy ns per CPU, kept or not (progress line, top) */
	uint64_t *live_busy, live_end[2];
	uint32_t nlive;
};

static bool libbpf_verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!libbpf_verbose && level != LIBBPF_WARN)
		return 0;
	if (!libbpf_verbose)
		return 0; /* warnings explain failures we report ourselves */
	return vfprintf(stderr, fmt, ap);
}

/* CAP_SYS_ADMIN (21), or CAP_BPF (39) + CAP_PERFMON (38), effective. */
static bool have_caps(void)
{
	uint64_t eff = procfs_self_capeff();

	return (eff >> 21 & 1) || ((eff >> 39 & 1) && (eff >> 38 & 1));
}

static void set_autoload(struct tracer *t, const struct tracer_opts *o, bool raw)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, t->skel->obj) {
		const char *name = bpf_program__name(prog);
		size_t n = strlen(name);
		bool load;

		if (!strncmp(name, "ps_futex", 8))
			load = o->locks && t->futex_syscalls &&
			       features_tracepoint(&t->feat, bpf_program__section_name(prog));
		else if (!strncmp(name, "ps_waking", 9))
			load = (o->locks || o->timeline) && (n > 4 && !strcmp(name + n - 4, "_raw")) == raw;
		else if (!strcmp(name, "ps_oncpu"))
			load = o->oncpu;
		else if (!strncmp(name, "ps_cg_attach", 12))
			load = o->cg_id && (n > 4 && !strcmp(name + n - 4, "_raw")) == raw;
		else
			load = (n > 4 && !strcmp(name + n - 4, "_raw")) == raw;
		bpf_program__set_autoload(prog, load);
	}
}

/* ring_buffer callback: keep one --timeline record (up to tl_max). */
static int keep_record(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;

	if (size < sizeof(struct ps_tl_rec))
		return 0;
	if (t->ntl == t->tl_max) {
		t->tl_over++;
		return 0;
	}
	if (t->ntl == t->tl_cap) {
		t->tl_cap = t->tl_cap ? t->tl_cap * 2 : 65536;
		t->tl = xrealloc(t->tl, t->tl_cap * sizeof(*t->tl));
	}
	memcpy(&t->tl[t->ntl++], data, sizeof(struct ps_tl_rec));
	return 0;
}

static void drain_timeline(struct tracer *t)
{
	if (t->rb)
		ring_buffer__consume(t->rb);
}

/* POOLSCOPE_VERIFIER_STATS=1: the verifier's statistics of every program
 * that loads (instructions processed, states, time), on stderr: what makes
 * start-up slow. */
static void verifier_stats(struct poolscope *skel, bool before)
{
	static char logs[24][4096];
	const char *env = getenv("POOLSCOPE_VERIFIER_STATS");
	struct bpf_program *prog;
	int i = 0;

	if (!env || *env != '1')
		return;
	bpf_object__for_each_program(prog, skel->obj) {
		if (i == (int)ARRAY_LEN(logs))
			break;
		if (before) {
			logs[i][0] = '\0';
			bpf_program__set_log_buf(prog, logs[i], sizeof(logs[i]));
			bpf_program__set_log_level(prog, 4);
		} else if (bpf_program__autoload(prog)) {
			char *p = strstr(logs[i], "processed");

			fprintf(stderr, "verifier: %s: %s", bpf_program__name(prog), p ? p : "(no stats)\n");
		}
		i++;
	}
}

static int open_and_load(struct tracer *t, bool raw)
{
	struct poolscope *skel = poolscope__open();
	unsigned max = t->opts.max_threads;
	int err;

	if (!skel)
		return -errno;
	const struct tracer_opts *o = &t->opts;
	bool any_stacks = o->locks || o->offcpu || o->oncpu;

	skel->rodata->targ_all = o->all;
	skel->rodata->targ_self_tgid = getpid();
	skel->rodata->targ_raw = raw;
	skel->rodata->targ_task_hash = raw || t->task_hash;
	skel->rodata->targ_locks = o->locks;
	skel->rodata->targ_futex_syscalls = t->futex_syscalls;
	skel->rodata->targ_offcpu = o->offcpu;
	skel->rodata->targ_oncpu = o->oncpu;
	skel->rodata->targ_python = t->python;
	skel->rodata->targ_follow_forks = !o->no_follow_forks;
	skel->rodata->targ_tids = o->tids;
	skel->rodata->targ_timeline = o->timeline;
	skel->rodata->targ_cg_hier = o->cg_hier;
	skel->rodata->targ_cg_id = o->cg_id;
	skel->rodata->targ_by_comm = o->comm != NULL;
	if (o->comm)
		strncpy((char *)skel->rodata->targ_comm, o->comm, PS_COMM_LEN - 1);
	skel->rodata->targ_pidns_ino = t->pidns_ino;
	skel->rodata->targ_nr_cpus = t->nr_cpus;
	skel->rodata->targ_max_threads = max;
	bpf_map__set_max_entries(skel->maps.threads, max);
	bpf_map__set_max_entries(skel->maps.thread_cpu_ns, max * t->nr_cpus);
	bpf_map__set_max_entries(skel->maps.cpu_migr, t->nr_cpus);
	bpf_map__set_max_entries(skel->maps.task_hash, raw || t->task_hash ? max : 1);
	bpf_map__set_max_entries(skel->maps.task_neg, (raw || t->task_hash) &&
				 (o->cg_id || o->comm) ? PS_DEFAULT_MAX_THREADS : 1);
	bpf_map__set_max_entries(skel->maps.traced_view, t->pidns_ino ? 1024 : 1);
	/* maps of features that are off shrink to one entry */
	bpf_map__set_max_entries(skel->maps.free_slots, max);
	bpf_map__set_max_entries(skel->maps.timeline, o->timeline ? o->timeline_bytes : 4096);
	bpf_map__set_max_entries(skel->maps.futex_waits, o->locks ? PS_MAX_FUTEX_KEYS : 1);
	bpf_map__set_max_entries(skel->maps.offcpu, o->offcpu ? PS_MAX_STACK_KEYS : 1);
	bpf_map__set_max_entries(skel->maps.oncpu, o->oncpu ? PS_MAX_STACK_KEYS : 1);
	bpf_map__set_max_entries(skel->maps.stacks, o->offcpu || o->oncpu ? PS_MAX_STACKS :
						    any_stacks ? PS_MAX_STACKS / 4 : 1);
	/* recovered user stacks (--locks) and stacks whose stack-map bucket
	 * was taken (--stacks) */
	bpf_map__set_max_entries(skel->maps.ustacks, any_stacks ? PS_MAX_STACKS / 4 : 1);
	bpf_map__set_max_entries(skel->maps.py_procs, t->python ? PS_MAX_PY_PROCS : 1);
	/* Python stacks at futex waits only need fewer */
	bpf_map__set_max_entries(skel->maps.pystacks, !t->python ? 1 : o->offcpu || o->oncpu ?
						      PS_MAX_PYSTACKS : PS_MAX_PYSTACKS / 4);
	bpf_map__set_max_entries(skel->maps.pycodes, !t->python ? 1 : o->offcpu || o->oncpu ?
						     PS_MAX_PYCODES : PS_MAX_PYCODES / 4);
	if (raw)
		bpf_map__set_autocreate(skel->maps.task_store, false);
	t->skel = skel;
	set_autoload(t, o, raw);
	verifier_stats(skel, true);
	err = poolscope__load(skel);
	verifier_stats(skel, false);
	if (err) {
		poolscope__destroy(skel);
		t->skel = NULL;
		return err;
	}
	t->raw_tp = raw;
	return 0;
}

/* Thread slots: the requested number (default PS_DEFAULT_MAX_THREADS), so
 * that the per-thread x CPU on-CPU array stays within PS_MAX_THREAD_CPU
 * entries (8 bytes each). The one place the number is decided. */
static unsigned thread_slots(unsigned requested, int nr_cpus)
{
	unsigned max = PS_MAX_THREAD_CPU / (unsigned)nr_cpus;

	if (!requested)
		requested = PS_DEFAULT_MAX_THREADS;
	if (requested > max) {
		ps_warn("--max-threads %u x %d CPUs is more than poolscope keeps; using %u", requested,
			nr_cpus, max);
		requested = max;
	}
	return requested;
}

/* The thread slots handed out so far (the counter runs past the end when
 * threads are dropped). */
static uint32_t slots_used(const struct tracer *t)
{
	uint32_t n = t->skel->bss->next_slot;

	return n < t->opts.max_threads ? n : t->opts.max_threads;
}

/* The fallback's syscall tracepoints exist (tracefs is found or mounted);
 * else lock tracing cannot run: one line. */
static bool futex_tracepoints_ok(struct tracer *t)
{
	if (t->feat.sys_futex_tp)
		return true;
	ps_err("futex waits from the syscall tracepoints: %s", t->feat.tracefs ?
	       "this kernel has no syscalls:sys_enter_futex tracepoint" :
	       "tracefs is not mounted and cannot be mounted at /sys/kernel/tracing");
	return false;
}

/* Load the programs: tp_btf, else raw_tp; futex waits from the scheduler,
 * else (said in one line) from the syscall tracepoints. */
static int load_any(struct tracer *t)
{
	const struct tracer_opts *o = &t->opts;
	int err = -ENOTSUP;

	for (int raw = o->force_raw_tp; raw < 2; raw++) {
		err = open_and_load(t, raw);
		if (err && o->locks && !t->futex_syscalls) {
			features_probe(&t->feat, true);
			if (t->feat.sys_futex_tp) {
				ps_warn("futex waits from the scheduler did not load (%s%s); using the "
					"syscall tracepoints, which slow every system call while on",
					strerror(-err), o->verbose ? "" : ", -v shows why");
				t->futex_syscalls = true;
				err = open_and_load(t, raw);
			}
		}
		if (!err)
			return 0;
		if (!raw)
			ps_warn("tp_btf programs did not load (%s); trying raw_tp%s", strerror(-err),
				o->verbose ? "" : " (-v shows why)");
	}
	return err;
}

static void *map_mmap(struct bpf_map *map, size_t *len)
{
	size_t page = sysconf(_SC_PAGESIZE);
	size_t sz = (size_t)bpf_map__value_size(map) * bpf_map__max_entries(map);
	void *p;

	sz = (sz + page - 1) / page * page;
	p = mmap(NULL, sz, PROT_READ, MAP_SHARED, bpf_map__fd(map), 0);
	if (p == MAP_FAILED)
		return NULL;
	*len = sz;
	return p;
}

int tracer_open(const struct tracer_opts *opts, struct tracer **out)
{
	struct tracer *t;
	int err;

	if (!have_caps()) {
		ps_err("tracing needs root (CAP_BPF and CAP_PERFMON): run poolscope with sudo");
		return -EPERM;
	}
	t = xcalloc(1, sizeof(*t));
	t->opts = *opts;
	t->futex_syscalls = opts->locks && opts->futex_syscalls;
	features_probe(&t->feat, t->futex_syscalls);
	if (!t->feat.btf) {
		ps_err("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): "
		       "poolscope needs a kernel built with CONFIG_DEBUG_INFO_BTF=y");
		free(t);
		return -ENOTSUP;
	}
	libbpf_verbose = opts->verbose;
	libbpf_set_print(libbpf_print);
	if (t->futex_syscalls && !futex_tracepoints_ok(t)) {
		free(t);
		return -ENOTSUP;
	}
	t->locks_active = t->opts.locks;
	t->python = !opts->no_python && (opts->locks || opts->offcpu || opts->oncpu);
	t->task_hash = !t->feat.task_storage_safe;
	t->pidns_ino = procfs_self_pidns();
	if (t->pidns_ino && !procfs_is_own_pidns())
		ps_warn("poolscope runs in a PID namespace whose /proc is another's: "
			"stacks and names need its own (unshare --mount-proc)");
	if (!t->opts.sample_hz)
		t->opts.sample_hz = 99;
	if (!t->opts.slice_ms)
		t->opts.slice_ms = 50;
	t->nr_cpus = libbpf_num_possible_cpus();
	if (t->nr_cpus <= 0) {
		ps_err("cannot count possible CPUs: %s", strerror(-t->nr_cpus));
		free(t);
		return -EINVAL;
	}
	t->opts.max_threads = thread_slots(t->opts.max_threads, t->nr_cpus);
	err = load_any(t);
	if (err) {
		ps_err("failed to load BPF programs: %s%s", strerror(-err),
		       opts->verbose ? "" : " (run with -v for libbpf's log)");
		free(t);
		return err;
	}
	if (opts->verbose) {
		char line[512];

		ps_info("features: %s; %s; futex waits from %s", features_line(&t->feat, line, sizeof(line)),
			t->raw_tp ? "raw_tp" : "tp_btf", !t->locks_active ? "nothing (--no-locks)" :
			t->futex_syscalls ? "the syscall tracepoints" : "the scheduler");
	}
	t->threads_mm = map_mmap(t->skel->maps.threads, &t->threads_mm_len);
	t->tcpu_mm = map_mmap(t->skel->maps.thread_cpu_ns, &t->tcpu_mm_len);
	if (!t->threads_mm || !t->tcpu_mm) {
		err = -errno;
		ps_err("cannot map BPF arrays: %s", strerror(errno));
		tracer_close(t);
		return err;
	}
	t->cpu_buf = xcalloc(t->nr_cpus, sizeof(*t->cpu_buf));
	t->live_busy = xcalloc(2 * (size_t)t->nr_cpus, sizeof(uint64_t));
	/* the record of cores over time: at most about 4 MiB a copy (a
	 * snapshot holds one), between 256 and 4096 samples */
	t->slices_max = (4u << 20) / (8 + 16 * (unsigned)t->nr_cpus);
	t->slices_max = t->slices_max < 256 ? 256 : t->slices_max > 4096 ? 4096 : t->slices_max;
	t->slices_max &= ~1u;
	t->slice_mult = 1;
	if (t->opts.timeline) {
		t->tl_max = t->opts.timeline_max ? t->opts.timeline_max : PS_TIMELINE_MAX_RECORDS;
		t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.timeline), keep_record, t, NULL);
		if (!t->rb) {
			err = -errno;
			ps_err("cannot read the timeline ring buffer: %s", strerror(errno));
			tracer_close(t);
			return err;
		}
	}
	*out = t;
	return 0;
}

/* In a PID namespace the ids poolscope's user gives are that namespace's;
 * the kernel's maps are keyed by the initial namespace's: such a target is
 * found at first sight (traced_view). */
static int add_view(struct tracer *t, int id)
{
	__u32 key = id, one = 1;

	if (bpf_map__update_elem(t->skel->maps.traced_view, &key, sizeof(key), &one, sizeof(one),
				 BPF_ANY))
		return -errno;
	return 0;
}

int tracer_add_tgid(struct tracer *t, int tgid)
{
	__u32 key = tgid, none = PS_NO_SLOT;

	if (t->pidns_ino)
		return add_view(t, tgid);
	if (bpf_map__update_elem(t->skel->maps.traced_tgids, &key, sizeof(key), &none,
				 sizeof(none), BPF_ANY))
		return -errno;
	return 0;
}

int tracer_add_tid(struct tracer *t, int tid)
{
	__u32 key = tid, one = 1;

	if (t->pidns_ino)
		return add_view(t, tid);
	if (bpf_map__update_elem(t->skel->maps.traced_tids, &key, sizeof(key), &one, sizeof(one),
				 BPF_ANY))
		return -errno;
	return 0;
}

/* Run this thread once on every CPU: each move makes a sched_switch there,
 * so every CPU learns what it was running when the trace began (a CPU-bound
 * task alone on a core might otherwise never switch during the trace). */
static void visit_every_cpu(int nr_cpus)
{
	cpu_set_t orig, one;

	if (sched_getaffinity(0, sizeof(orig), &orig))
		return;
	for (int c = 0; c < nr_cpus && c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &orig))
			continue;
		CPU_ZERO(&one);
		CPU_SET(c, &one);
		if (sched_setaffinity(0, sizeof(one), &one) == 0)
			sched_yield();
	}
	sched_setaffinity(0, sizeof(orig), &orig);
}

/* The sample record is full: keep every other sample (the odd ones, so
 * the newest stays) and take every other tick from now on. */
static void halve_samples(struct tracer *t)
{
	size_t nc = t->nr_cpus;
	uint32_t n = 0;

	for (uint32_t k = 1; k < t->nslices; k += 2, n++) {
		t->slice_end[n] = t->slice_end[k];
		memmove(&t->slice_busy[n * nc], &t->slice_busy[k * nc], nc * sizeof(uint64_t));
		memmove(&t->slice_traced[n * nc], &t->slice_traced[k * nc], nc * sizeof(uint64_t));
	}
	t->nslices = n;
	t->slice_mult *= 2;
}

/* Sample the CPUs' cumulative busy and traced ns at now: kept in the
 * record when keep, and as the newest live sample. */
static void record_sample(struct tracer *t, uint64_t now, bool keep)
{
	int fd = bpf_map__fd(t->skel->maps.cpus);
	__u32 zero = 0;

	drain_timeline(t);
	if (keep && t->nslices == t->slices_max)
		halve_samples(t);
	if (t->nslices == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 256;
		t->slice_end = xrealloc(t->slice_end, t->cap * sizeof(uint64_t));
		t->slice_busy = xrealloc(t->slice_busy, (size_t)t->cap * t->nr_cpus * sizeof(uint64_t));
		t->slice_traced = xrealloc(t->slice_traced, (size_t)t->cap * t->nr_cpus * sizeof(uint64_t));
	}
	if (bpf_map_lookup_elem(fd, &zero, t->cpu_buf))
		memset(t->cpu_buf, 0, t->nr_cpus * sizeof(*t->cpu_buf));
	for (int c = 0; c < t->nr_cpus; c++) {
		const struct ps_cpu *pc = &t->cpu_buf[c];
		uint64_t busy = pc->busy_ns, traced = pc->traced_ns;
		uint64_t since = pc->since_ns;

		/* the span in progress, as the next switch will account it */
		if (since && now > since && pc->cur != PS_CPU_IDLE && pc->cur != PS_CPU_UNKNOWN) {
			busy += now - since;
			if (pc->cur == PS_CPU_TRACED)
				traced += now - since;
		}
		t->live_busy[(size_t)(t->nlive & 1) * t->nr_cpus + c] = busy;
		t->slice_busy[(size_t)t->nslices * t->nr_cpus + c] = busy;
		t->slice_traced[(size_t)t->nslices * t->nr_cpus + c] = traced;
	}
	t->live_end[t->nlive++ & 1] = now;
	if (keep)
		t->slice_end[t->nslices++] = now;
}

/* One software cpu-clock sampling event per CPU runs ps_oncpu. */
static int attach_oncpu(struct tracer *t)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_freq = t->opts.sample_hz,
		.freq = 1,
	};

	t->perf_links = xcalloc(t->nr_cpus, sizeof(*t->perf_links));
	for (int c = 0; c < t->nr_cpus; c++) {
		int fd = syscall(__NR_perf_event_open, &attr, -1, c, -1, PERF_FLAG_FD_CLOEXEC);

		if (fd < 0) {
			if (errno == ENODEV)
				continue; /* CPU offline */
			ps_err("cannot open the cpu-clock sampling event on CPU %d: %s", c, strerror(errno));
			return -errno;
		}
		t->perf_links[c] = bpf_program__attach_perf_event(t->skel->progs.ps_oncpu, fd);
		if (!t->perf_links[c]) {
			int err = -errno;

			close(fd);
			ps_err("cannot attach on-CPU sampling on CPU %d: %s", c, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* The futex entry and exit programs serve the futex2 syscalls too (they
 * tell them apart by syscall number): attach them where the kernel has them. */
static int attach_futex2(struct tracer *t)
{
	static const char *const calls[] = { "futex_waitv", "futex_wait" };
	int n = 0;

	for (size_t i = 0; i < ARRAY_LEN(calls); i++) {
		for (int exit = 0; exit < 2; exit++) {
			char name[64], sec[96];
			struct bpf_program *prog = exit ? t->skel->progs.ps_futex_exit
							: t->skel->progs.ps_futex_enter;

			snprintf(name, sizeof(name), "sys_%s_%s", exit ? "exit" : "enter", calls[i]);
			snprintf(sec, sizeof(sec), "tracepoint/syscalls/%s", name);
			if (!features_tracepoint(&t->feat, sec))
				continue;
			t->futex2_links[n] = bpf_program__attach_tracepoint(prog, "syscalls", name);
			if (!t->futex2_links[n]) {
				int err = -errno;

				ps_err("failed to attach syscalls:%s: %s", name, strerror(-err));
				return err;
			}
			n++;
		}
	}
	return 0;
}

int tracer_start(struct tracer *t)
{
	int err;

	t->start_ns = mono_ns();
	t->skel->bss->trace_start_ns = t->start_ns;
	err = poolscope__attach(t->skel);
	if (err) {
		ps_err("failed to attach tracepoints: %s", strerror(-err));
		return err;
	}
	t->skel->bss->realtime_offset_ns = realtime_ns() - mono_ns();
	if (t->locks_active && t->futex_syscalls && (err = attach_futex2(t)))
		return err;
	if (t->opts.oncpu && (err = attach_oncpu(t)))
		return err;
	visit_every_cpu(t->nr_cpus);
	t->active_ns = mono_ns();
	return 0;
}

/* Kernel memory of the BPF maps, as the kernel charges it (fdinfo memlock). */
static uint64_t map_bytes(struct tracer *t)
{
	struct bpf_map *map;
	uint64_t total = 0;

	bpf_object__for_each_map(map, t->skel->obj)
		total += procfs_self_fd_memlock(bpf_map__fd(map));
	return total;
}

bool tracer_locks_active(const struct tracer *t)
{
	return t->locks_active;
}

/* --- poolscope in a PID namespace: the ids its user sees --------------- */

struct idmap {
	uint32_t from, to;
};

struct view_map {
	struct idmap *tids, *tgids;
	uint32_t ntids, ntgids;
};

static int cmp_idmap(const void *a, const void *b)
{
	const struct idmap *x = a, *y = b;

	return x->from < y->from ? -1 : x->from > y->from;
}

/* The initial namespace's id -> poolscope's, from the threads' own view
 * ids; an id with no mapping (a task outside poolscope's namespace) stays. */
static uint32_t view_of(const struct idmap *m, uint32_t n, uint32_t id)
{
	struct idmap key = { .from = id }, *hit = bsearch(&key, m, n, sizeof(*m), cmp_idmap);

	return hit ? hit->to : id;
}

static void view_map_build(const struct ps_thread *th, uint32_t n, struct view_map *vm)
{
	vm->tids = xcalloc(n ? n : 1, sizeof(*vm->tids));
	vm->tgids = xcalloc(n ? n : 1, sizeof(*vm->tgids));
	vm->ntids = vm->ntgids = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (th[i].view_tid)
			vm->tids[vm->ntids++] = (struct idmap){ th[i].tid, th[i].view_tid };
		if (th[i].view_pid)
			vm->tgids[vm->ntgids++] = (struct idmap){ th[i].tgid, th[i].view_pid };
	}
	qsort(vm->tids, vm->ntids, sizeof(*vm->tids), cmp_idmap);
	qsort(vm->tgids, vm->ntgids, sizeof(*vm->tgids), cmp_idmap);
}

static void view_map_free(struct view_map *vm)
{
	free(vm->tids);
	free(vm->tgids);
}

#define VIEW_TID(vm, id) view_of((vm)->tids, (vm)->ntids, id)
#define VIEW_TGID(vm, id) view_of((vm)->tgids, (vm)->ntgids, id)

/* Every id of the snapshot read so far (threads, processes, stack and futex
 * records) as poolscope's namespace names it; before the stacks are read,
 * so user stacks are tagged with the process /proc knows. */
static void view_translate(struct ps_snapshot *s)
{
	struct view_map vm;

	view_map_build(s->threads, s->nthreads, &vm);
	for (uint32_t i = 0; i < s->nthreads; i++) {
		struct ps_thread *th = &s->threads[i];

		th->parent_tid = th->parent_tid ? VIEW_TID(&vm, th->parent_tid) : 0;
		th->tid = VIEW_TID(&vm, th->tid);
		th->tgid = VIEW_TGID(&vm, th->tgid);
	}
	for (uint32_t i = 0; i < s->nprocs; i++)
		s->procs[i].tgid = s->procs[i].tgid ? VIEW_TGID(&vm, s->procs[i].tgid) : 0;
	for (uint32_t i = 0; i < s->n_offcpu; i++) {
		s->offcpu_recs[i].key.pid = VIEW_TID(&vm, s->offcpu_recs[i].key.pid);
		s->offcpu_recs[i].key.tgid = VIEW_TGID(&vm, s->offcpu_recs[i].key.tgid);
	}
	for (uint32_t i = 0; i < s->n_oncpu; i++) {
		s->oncpu_recs[i].key.pid = VIEW_TID(&vm, s->oncpu_recs[i].key.pid);
		s->oncpu_recs[i].key.tgid = VIEW_TGID(&vm, s->oncpu_recs[i].key.tgid);
	}
	for (uint32_t i = 0; i < s->n_futex; i++) {
		s->futex_recs[i].key.pid = VIEW_TID(&vm, s->futex_recs[i].key.pid);
		s->futex_recs[i].key.tgid = VIEW_TGID(&vm, s->futex_recs[i].key.tgid);
	}
	view_map_free(&vm);
}

bool tracer_python_active(const struct tracer *t)
{
	return t->python;
}

/* The initial namespace's id of process tgid as poolscope's namespace
 * names it (its threads carry both), 0 before one of them was seen. */
static uint32_t initial_tgid(const struct tracer *t, uint32_t tgid)
{
	uint32_t n = slots_used(t);

	if (!t->pidns_ino)
		return tgid;
	for (uint32_t i = 0; i < n; i++)
		if (t->threads_mm[i].view_pid == tgid && t->threads_mm[i].tgid)
			return t->threads_mm[i].tgid;
	return 0;
}

int tracer_add_python(struct tracer *t, int tgid, const struct ps_py_proc *py)
{
	/* the kernel's maps are keyed by the initial namespace's ids (the
	 * session tries again at its next look) */
	__u32 key = initial_tgid(t, tgid);

	if (!t->python)
		return -ENOTSUP;
	if (!key)
		return -EAGAIN;
	if (bpf_map__update_elem(t->skel->maps.py_procs, &key, sizeof(key), py, sizeof(*py), BPF_ANY))
		return -errno;
	return 0;
}

int tracer_processes(struct tracer *t, uint32_t *tgids, int max)
{
	int fd = bpf_map__fd(t->skel->maps.traced_tgids), n = 0;
	__u32 key, next, *prev = NULL;

	while (n < max && bpf_map_get_next_key(fd, prev, &next) == 0) {
		tgids[n++] = next;
		key = next;
		prev = &key;
	}
	/* in -a mode without --locks, processes are known only by their threads */
	if (t->opts.all && !t->opts.locks) {
		uint32_t nt = slots_used(t);

		for (uint32_t i = 0; i < nt && n < max; i++)
			if (t->threads_mm[i].tid == t->threads_mm[i].tgid && t->threads_mm[i].tgid)
				tgids[n++] = t->threads_mm[i].tgid;
	}
	if (t->pidns_ino) {
		struct view_map vm;

		view_map_build(t->threads_mm, slots_used(t), &vm);
		for (int i = 0; i < n; i++)
			tgids[i] = VIEW_TGID(&vm, tgids[i]);
		view_map_free(&vm);
	}
	return n;
}

/* The processes' slots (with the totals of their exited threads whose slots
 * were reused); the last, shared slot only if used. */
static void read_procs(struct tracer *t, struct ps_snapshot *s)
{
	int fd = bpf_map__fd(t->skel->maps.procs);
	uint32_t n = t->skel->bss->next_proc;

	if (n > PS_OTHER_PROC)
		n = PS_OTHER_PROC;
	s->procs = xcalloc(PS_MAX_TGIDS, sizeof(*s->procs));
	for (uint32_t i = 0; i < PS_MAX_TGIDS; i++) {
		__u32 key = i;

		if (i >= n && i != PS_OTHER_PROC)
			continue;
		if (bpf_map_lookup_elem(fd, &key, &s->procs[s->nprocs]) == 0 &&
		    (i < n || s->procs[s->nprocs].ex.threads))
			s->nprocs++;
	}
}

/* Every (key, value) of a hash map, into a growing array of records of
 * rec bytes: the key at their start, the value at val_off. */
static void *read_hash_at(struct bpf_map *map, size_t key_sz, size_t val_off, size_t rec,
			  uint32_t *count)
{
	int fd = bpf_map__fd(map);
	size_t cap = 0, n = 0;
	char *out = NULL, key[64], next[64];
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			out = xrealloc(out, cap * rec);
		}
		memset(out + n * rec, 0, rec);
		memcpy(out + n * rec, next, key_sz);
		if (bpf_map_lookup_elem(fd, next, out + n * rec + val_off) == 0)
			n++;
		memcpy(key, next, key_sz);
		prev = key;
	}
	*count = n;
	return out;
}

static void *read_hash(struct bpf_map *map, size_t key_sz, size_t val_sz, uint32_t *count)
{
	return read_hash_at(map, key_sz, key_sz, key_sz + val_sz, count);
}

/* The Python stacks and code objects, for sym/py_names.c. */
static void read_python(struct tracer *t, struct ps_snapshot *s)
{
	s->python = t->python;
	if (!t->python)
		return;
	s->py = t->skel->bss->py_stats;
	s->pystacks = read_hash_at(t->skel->maps.pystacks, sizeof(__u32),
				   offsetof(struct ps_pystack_rec, st), sizeof(struct ps_pystack_rec),
				   &s->n_pystacks);
	s->pycodes = read_hash(t->skel->maps.pycodes, sizeof(struct ps_pycode_key),
			       sizeof(struct ps_pycode), &s->n_pycodes);
}

/* Record stack (id, tgid) once. */
static void add_stack(struct tracer *t, struct ps_snapshot *s, int32_t id, uint32_t tgid, bool user,
		      uint32_t *cap)
{
	uint64_t ips[PS_STACK_DEPTH];
	struct ps_stack *st;
	uint32_t n = 0;

	if (id < 0 || snapshot_stack(s, id, tgid, user))
		return;
	/* stacks recovered by the BPF side's stack scan have their own map */
	if (bpf_map_lookup_elem(bpf_map__fd(id & PS_RECOVERED_STACK ? t->skel->maps.ustacks :
					    t->skel->maps.stacks), &id, ips))
		return;
	while (n < PS_STACK_DEPTH && ips[n])
		n++;
	if (s->nstacks == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		s->stacks = xrealloc(s->stacks, *cap * sizeof(*s->stacks));
	}
	st = &s->stacks[s->nstacks++];
	st->id = id;
	st->tgid = user ? tgid : 0;
	st->user = user;
	st->nframes = n;
	st->ips = xcalloc(n, sizeof(uint64_t));
	memcpy(st->ips, ips, n * sizeof(uint64_t));
	st->names = NULL;
}

static void read_stacks(struct tracer *t, struct ps_snapshot *s)
{
	uint32_t cap = 0;

	s->locks = t->opts.locks;
	s->offcpu = t->opts.offcpu;
	s->oncpu = t->opts.oncpu;
	s->sample_hz = t->opts.sample_hz;
	if (s->offcpu)
		s->offcpu_recs = read_hash(t->skel->maps.offcpu, sizeof(struct ps_stack_key),
					   sizeof(struct ps_stack_val), &s->n_offcpu);
	if (s->oncpu)
		s->oncpu_recs = read_hash(t->skel->maps.oncpu, sizeof(struct ps_stack_key),
					  sizeof(struct ps_stack_val), &s->n_oncpu);
	if (s->locks) {
		s->futex_recs = read_hash(t->skel->maps.futex_waits, sizeof(struct ps_futex_key),
					  sizeof(struct ps_futex_stat), &s->n_futex);
	}
	if (t->pidns_ino)
		view_translate(s);
	for (int kind = 0; kind < 2; kind++) {
		struct ps_stack_rec *r = kind ? s->oncpu_recs : s->offcpu_recs;
		uint32_t n = kind ? s->n_oncpu : s->n_offcpu;

		for (uint32_t i = 0; i < n; i++) {
			add_stack(t, s, r[i].key.ustack, r[i].key.tgid, true, &cap);
			add_stack(t, s, r[i].key.kstack, 0, false, &cap);
		}
	}
	for (uint32_t i = 0; i < s->n_futex; i++) {
		add_stack(t, s, s->futex_recs[i].key.ustack, s->futex_recs[i].key.tgid, true, &cap);
		if (s->futex_recs[i].st.woken_by_traced)
			add_stack(t, s, s->futex_recs[i].st.waker_ustack, s->futex_recs[i].key.tgid, true, &cap);
	}
}

void tracer_counts(struct tracer *t, struct tracer_counts *c)
{
	const struct ps_drops *d = &t->skel->bss->drops;
	__u32 zero = 0;

	memset(c, 0, sizeof(*c));
	c->threads = t->skel->bss->next_slot;
	c->dropped = d->no_slot_threads + d->no_slot_events + d->storage_fail + d->tgid_full +
		     d->proc_full + d->stack_fail + d->offcpu_full + d->oncpu_full + d->futex_full +
		     d->slot_queue_full;
	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.cpus), &zero, t->cpu_buf))
		return;
	for (int i = 0; i < t->nr_cpus; i++)
		c->events += t->cpu_buf[i].all_switches;
	for (uint32_t i = 0; i < slots_used(t); i++)
		c->events += t->threads_mm[i].wakeups;
}

int tracer_last_slice(const struct tracer *t, uint64_t *busy_ns, int max, uint64_t *len_ns)
{
	uint32_t k = t->nlive, a_i = (k - 2) & 1, b_i = (k - 1) & 1;
	int n = t->nr_cpus < max ? t->nr_cpus : max;

	if (k < 2)
		return 0;
	*len_ns = t->live_end[b_i] - t->live_end[a_i];
	for (int c = 0; c < n; c++) {
		uint64_t a = t->live_busy[(size_t)a_i * t->nr_cpus + c];
		uint64_t b = t->live_busy[(size_t)b_i * t->nr_cpus + c];

		busy_ns[c] = b > a ? b - a : 0;
	}
	return n;
}

void tracer_sample(struct tracer *t)
{
	record_sample(t, mono_ns(), ++t->ticks % t->slice_mult == 0);
}

uint64_t tracer_tick_ns(const struct tracer *t)
{
	return (uint64_t)t->opts.slice_ms * 1000000ull;
}

uint64_t tracer_slice_ns(const struct tracer *t)
{
	return tracer_tick_ns(t) * t->slice_mult;
}

int tracer_snapshot(struct tracer *t, struct ps_snapshot *s, bool final)
{
	uint32_t n = slots_used(t);
	int fd = bpf_map__fd(t->skel->maps.cpus), mfd = bpf_map__fd(t->skel->maps.cpu_migr);
	__u32 zero = 0;

	memset(s, 0, sizeof(*s));
	s->end_ns = mono_ns();
	record_sample(t, s->end_ns, true);
	s->start_ns = t->start_ns;
	s->nr_cpus = t->nr_cpus;
	s->all = t->opts.all;
	s->self_tgid = t->opts.all ? (uint32_t)getpid() : 0;
	s->attach_mode = t->raw_tp ? "raw_tp" : "tp_btf";
	s->task_hash = t->raw_tp || t->task_hash;
	s->futex_source = !t->locks_active ? NULL : t->futex_syscalls ? "syscall-tracepoints" : "sched";
	snprintf(s->kernel, sizeof(s->kernel), "%s", t->feat.kernel);
	snprintf(s->sysname, sizeof(s->sysname), "%s", t->feat.sysname);
	snprintf(s->uts_version, sizeof(s->uts_version), "%s", t->feat.version);
	snprintf(s->machine, sizeof(s->machine), "%s", t->feat.machine);
	features_line(&t->feat, s->features_line, sizeof(s->features_line));
	s->nthreads = n;
	s->threads = xcalloc(n, sizeof(*s->threads));
	memcpy(s->threads, t->threads_mm, (size_t)n * sizeof(*s->threads));
	s->thread_cpu_ns = xcalloc((size_t)n * t->nr_cpus, sizeof(uint64_t));
	memcpy(s->thread_cpu_ns, t->tcpu_mm, (size_t)n * t->nr_cpus * sizeof(uint64_t));
	s->cpus = xcalloc(t->nr_cpus, sizeof(*s->cpus));
	if (bpf_map_lookup_elem(fd, &zero, s->cpus))
		return -errno;
	s->migr = xcalloc(t->nr_cpus, sizeof(*s->migr));
	for (int c = 0; c < t->nr_cpus; c++) {
		__u32 key = c;

		bpf_map_lookup_elem(mfd, &key, &s->migr[c]);
		s->events += s->cpus[c].all_switches;
	}
	s->drops = t->skel->bss->drops;
	read_procs(t, s);
	s->timing.setup_ns = t->active_ns > ps_started_ns() ? t->active_ns - ps_started_ns() : 0;
	s->timing.map_bytes = map_bytes(t);
	for (uint32_t i = 0; i < n; i++)
		s->events += s->threads[i].wakeups;
	snapshot_close_spans(s);
	read_stacks(t, s);
	read_python(t, s);
	s->timeline = t->opts.timeline;
	if (final && t->opts.timeline) {
		/* the records move to the snapshot of the whole trace */
		s->tl = t->tl;
		s->ntl = t->ntl;
		s->tl_over = t->tl_over;
		t->tl = NULL;
		t->ntl = t->tl_cap = 0;
	}

	s->slice_ns = tracer_slice_ns(t);
	snapshot_set_slices(s, t->nslices, t->slice_end, t->slice_busy, t->slice_traced);
	return 0;
}

void tracer_close(struct tracer *t)
{
	if (!t)
		return;
	if (t->threads_mm)
		munmap((void *)t->threads_mm, t->threads_mm_len);
	if (t->tcpu_mm)
		munmap((void *)t->tcpu_mm, t->tcpu_mm_len);
	for (int c = 0; t->perf_links && c < t->nr_cpus; c++)
		bpf_link__destroy(t->perf_links[c]);
	free(t->perf_links);
	for (size_t i = 0; i < ARRAY_LEN(t->futex2_links); i++)
		bpf_link__destroy(t->futex2_links[i]);
	poolscope__destroy(t->skel);
	free(t->cpu_buf);
	free(t->slice_end);
	free(t->slice_busy);
	free(t->slice_traced);
	free(t->live_busy);
	ring_buffer__free(t->rb);
	free(t->tl);
	free(t);
}
