/* user/tracer.c: BPF lifecycle and map reading (see tracer.h). */
#include "tracer.h"
#include "util.h"
#include "poolscope.skel.h"
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <sched.h>
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
	uint64_t start_ns;
	struct ps_cpu *cpu_buf;                 /* nr_cpus, scratch for reads */
	/* cumulative busy/traced ns per CPU at each sample */
	uint32_t nslices, cap;
	uint64_t *slice_end, *slice_busy, *slice_traced;
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

/* Effective capability bits from /proc/self/status. */
static bool have_caps(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long eff = 0;

	if (!f)
		return geteuid() == 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	/* CAP_SYS_ADMIN (21), or CAP_BPF (39) + CAP_PERFMON (38) */
	return (eff >> 21 & 1) || ((eff >> 39 & 1) && (eff >> 38 & 1));
}

static void set_autoload(struct poolscope *skel, bool raw)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj) {
		const char *name = bpf_program__name(prog);
		size_t n = strlen(name);
		bool is_raw = n > 4 && !strcmp(name + n - 4, "_raw");

		bpf_program__set_autoload(prog, is_raw == raw);
	}
}

static int open_and_load(struct tracer *t, bool raw)
{
	struct poolscope *skel = poolscope__open();
	unsigned max = t->opts.max_threads;
	int err;

	if (!skel)
		return -errno;
	skel->rodata->targ_all = t->opts.all;
	skel->rodata->targ_nr_cpus = t->nr_cpus;
	skel->rodata->targ_max_threads = max;
	bpf_map__set_max_entries(skel->maps.threads, max);
	bpf_map__set_max_entries(skel->maps.thread_cpu_ns, max * t->nr_cpus);
	bpf_map__set_max_entries(skel->maps.cpu_migr, t->nr_cpus);
	bpf_map__set_max_entries(skel->maps.task_hash, raw ? max : 1);
	if (raw)
		bpf_map__set_autocreate(skel->maps.task_store, false);
	set_autoload(skel, raw);
	err = poolscope__load(skel);
	if (err) {
		poolscope__destroy(skel);
		return err;
	}
	t->skel = skel;
	t->raw_tp = raw;
	return 0;
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
	const char *btf = getenv("POOLSCOPE_BTF"); /* tests: pretend BTF is elsewhere */

	if (access(btf && *btf ? btf : "/sys/kernel/btf/vmlinux", R_OK)) {
		ps_err("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): "
		       "poolscope needs a kernel built with CONFIG_DEBUG_INFO_BTF=y");
		return -ENOTSUP;
	}
	libbpf_verbose = opts->verbose;
	libbpf_set_print(libbpf_print);

	t = xcalloc(1, sizeof(*t));
	t->opts = *opts;
	if (!t->opts.max_threads)
		t->opts.max_threads = PS_DEFAULT_MAX_THREADS;
	if (!t->opts.slice_ms)
		t->opts.slice_ms = 50;
	t->nr_cpus = libbpf_num_possible_cpus();
	if (t->nr_cpus <= 0) {
		ps_err("cannot count possible CPUs: %s", strerror(-t->nr_cpus));
		free(t);
		return -EINVAL;
	}
	err = opts->force_raw_tp ? -ENOTSUP : open_and_load(t, false);
	if (err) {
		if (opts->verbose && !opts->force_raw_tp)
			ps_warn("tp_btf programs did not load (%s); trying raw_tp", strerror(-err));
		err = open_and_load(t, true);
	}
	if (err) {
		ps_err("failed to load BPF programs: %s%s", strerror(-err),
		       opts->verbose ? "" : " (run with -v for libbpf's log)");
		free(t);
		return err;
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
	*out = t;
	return 0;
}

int tracer_add_tgid(struct tracer *t, int tgid)
{
	__u32 key = tgid, one = 1;

	if (bpf_map__update_elem(t->skel->maps.traced_tgids, &key, sizeof(key), &one,
				 sizeof(one), BPF_ANY))
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

static void record_sample(struct tracer *t, uint64_t now)
{
	int fd = bpf_map__fd(t->skel->maps.cpus);
	__u32 zero = 0;

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
		t->slice_busy[(size_t)t->nslices * t->nr_cpus + c] = busy;
		t->slice_traced[(size_t)t->nslices * t->nr_cpus + c] = traced;
	}
	t->slice_end[t->nslices++] = now;
}

int tracer_start(struct tracer *t)
{
	int err;

	t->start_ns = mono_ns();
	t->skel->bss->trace_start_ns = t->start_ns;
	err = poolscope__attach(t->skel);
	if (err) {
		ps_err("failed to attach scheduler tracepoints: %s", strerror(-err));
		return err;
	}
	visit_every_cpu(t->nr_cpus);
	return 0;
}

void tracer_sample(struct tracer *t)
{
	record_sample(t, mono_ns());
}

uint64_t tracer_slice_ns(const struct tracer *t)
{
	return (uint64_t)t->opts.slice_ms * 1000000ull;
}

/* Close the spans still open at end: running threads get their on-CPU time
 * so far, sleeping ones their blocked time so far, each CPU its busy time. */
static void close_open_spans(struct ps_snapshot *s)
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

int tracer_snapshot(struct tracer *t, struct ps_snapshot *s)
{
	uint32_t n = t->skel->bss->next_slot;
	int fd = bpf_map__fd(t->skel->maps.cpus), mfd = bpf_map__fd(t->skel->maps.cpu_migr);
	__u32 zero = 0;

	memset(s, 0, sizeof(*s));
	if (n > t->opts.max_threads)
		n = t->opts.max_threads;
	s->end_ns = mono_ns();
	record_sample(t, s->end_ns);
	s->start_ns = t->start_ns;
	s->nr_cpus = t->nr_cpus;
	s->all = t->opts.all;
	s->attach_mode = t->raw_tp ? "raw_tp" : "tp_btf";
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
		s->events += s->cpus[c].all_switches + s->cpus[c].wakeups;
	}
	s->drops = t->skel->bss->drops;
	close_open_spans(s);

	s->slice_ns = tracer_slice_ns(t);
	s->nslices = t->nslices;
	s->slice_end_ns = xcalloc(t->nslices, sizeof(uint64_t));
	s->slice_busy_ns = xcalloc((size_t)t->nslices * t->nr_cpus, sizeof(uint64_t));
	s->slice_traced_ns = xcalloc((size_t)t->nslices * t->nr_cpus, sizeof(uint64_t));
	/* cumulative samples -> per-slice deltas */
	for (uint32_t k = 0; k < t->nslices; k++) {
		s->slice_end_ns[k] = t->slice_end[k];
		for (int c = 0; c < t->nr_cpus; c++) {
			size_t i = (size_t)k * t->nr_cpus + c;
			uint64_t pb = k ? t->slice_busy[i - t->nr_cpus] : 0;
			uint64_t pt = k ? t->slice_traced[i - t->nr_cpus] : 0;

			s->slice_busy_ns[i] = t->slice_busy[i] > pb ? t->slice_busy[i] - pb : 0;
			s->slice_traced_ns[i] = t->slice_traced[i] > pt ? t->slice_traced[i] - pt : 0;
		}
	}
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
	poolscope__destroy(t->skel);
	free(t->cpu_buf);
	free(t->slice_end);
	free(t->slice_busy);
	free(t->slice_traced);
	free(t);
}
