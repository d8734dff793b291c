/* user/cmd/cli.c: shared trace/report options and outputs (see cli.h). */
#include "cmd/cli.h"
#include "sys/util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	OPT_JSON = 1000, OPT_ALL_OFF, OPT_SLICE, OPT_MAXTHR, OPT_RAWTP, OPT_LOCKS, OPT_NOLOCKS,
	OPT_STACKS, OPT_FOLDED, OPT_SVG, OPT_FUTEX_SOURCE, OPT_TIMELINE, OPT_TIMELINE_BUF,
	OPT_PERFETTO, OPT_TIMELINE_HTML,
};

const struct option cli_common_longopts[] = {
	{ "json", required_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, 'q' },
	{ "wide", no_argument, NULL, 'w' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "slice-ms", required_argument, NULL, OPT_SLICE },
	{ "max-threads", required_argument, NULL, OPT_MAXTHR },
	{ "raw-tp", no_argument, NULL, OPT_RAWTP },
	{ "locks", no_argument, NULL, OPT_LOCKS },
	{ "no-locks", no_argument, NULL, OPT_NOLOCKS },
	{ "stacks", required_argument, NULL, OPT_STACKS },
	{ "freq", required_argument, NULL, 'F' },
	{ "folded", required_argument, NULL, OPT_FOLDED },
	{ "svg", required_argument, NULL, OPT_SVG },
	{ "futex-source", required_argument, NULL, OPT_FUTEX_SOURCE },
	{ "timeline", no_argument, NULL, OPT_TIMELINE },
	{ "timeline-buffer", required_argument, NULL, OPT_TIMELINE_BUF },
	{ "perfetto", required_argument, NULL, OPT_PERFETTO },
	{ "timeline-html", required_argument, NULL, OPT_TIMELINE_HTML },
	{ 0 },
};

void cli_common_init(struct cli_common *o)
{
	memset(o, 0, sizeof(*o));
	o->tr.locks = true;
	o->tr.timeline_bytes = PS_TIMELINE_BYTES;
}

/* "16M", "512K", "1G" or bytes. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		v <<= 30, end++;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* The BPF ring buffer's size must be a power of two. */
static unsigned round_up_pow2(uint64_t v)
{
	unsigned p = 4096;

	while (p < v)
		p <<= 1;
	return p;
}

int cli_parse_stacks(const char *arg, const char *cmd, struct tracer_opts *t)
{
	char buf[64], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", arg);
	t->offcpu = t->oncpu = false;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "offcpu"))
			t->offcpu = true;
		else if (!strcmp(tok, "oncpu"))
			t->oncpu = true;
		else if (!strcmp(tok, "all"))
			t->offcpu = t->oncpu = true;
		else if (strcmp(tok, "none")) {
			ps_err("%s: invalid --stacks '%s' (expected offcpu, oncpu, all or none)", cmd, arg);
			return -EINVAL;
		}
	}
	return 0;
}

int cli_common_parse(int c, const char *arg, const char *cmd, struct cli_common *o)
{
	uint64_t v;

	switch (c) {
	case OPT_JSON: o->json_path = arg; return 1;
	case 'q': o->quiet = true; return 1;
	case 'w': o->wide = true; return 1;
	case 'v': o->tr.verbose = true; return 1;
	case OPT_RAWTP: o->tr.force_raw_tp = true; return 1;
	case OPT_LOCKS: o->tr.locks = true; return 1;
	case OPT_NOLOCKS: o->tr.locks = false; return 1;
	case OPT_STACKS: return cli_parse_stacks(arg, cmd, &o->tr) ? -EINVAL : 1;
	case OPT_TIMELINE: o->tr.timeline = true; return 1;
	case OPT_PERFETTO: o->tr.timeline = true; o->perfetto_path = arg; return 1;
	case OPT_TIMELINE_HTML: o->tr.timeline = true; o->timeline_html_path = arg; return 1;
	case OPT_TIMELINE_BUF:
		if (parse_size(arg, &v) || v < 4096 || v > (1ull << 30)) {
			ps_err("%s: invalid --timeline-buffer '%s' (expected 4K..1G, e.g. 16M)", cmd, arg);
			return -EINVAL;
		}
		o->tr.timeline_bytes = round_up_pow2(v);
		return 1;
	case OPT_FUTEX_SOURCE:
		if (strcmp(arg, "sched") && strcmp(arg, "syscalls")) {
			ps_err("%s: invalid --futex-source '%s' (expected sched or syscalls)", cmd, arg);
			return -EINVAL;
		}
		o->tr.futex_syscalls = !strcmp(arg, "syscalls");
		return 1;
	case 'F':
		if (parse_u64(arg, 1, 10000, &v)) {
			ps_err("%s: invalid -F/--freq '%s' (expected 1..10000 Hz)", cmd, arg);
			return -EINVAL;
		}
		o->tr.sample_hz = v;
		return 1;
	case OPT_SLICE:
		if (parse_u64(arg, 1, 60000, &v)) {
			ps_err("%s: invalid --slice-ms '%s' (expected 1..60000)", cmd, arg);
			return -EINVAL;
		}
		o->tr.slice_ms = v;
		return 1;
	case OPT_MAXTHR:
		if (parse_u64(arg, 1, 1 << 20, &v)) {
			ps_err("%s: invalid --max-threads '%s' (expected 1..1048576)", cmd, arg);
			return -EINVAL;
		}
		o->tr.max_threads = v;
		return 1;
	case OPT_FOLDED:
	case OPT_SVG:
		if (o->nexports == CLI_MAX_EXPORTS) {
			ps_err("%s: at most %d --folded/--svg outputs", cmd, CLI_MAX_EXPORTS);
			return -EINVAL;
		}
		o->exports[o->nexports].svg = c == OPT_SVG;
		o->exports[o->nexports++].path = arg;
		return 1;
	}
	return 0;
}

const struct option *cli_longopts(const struct option *own)
{
	static struct option merged[64];
	size_t n = 0;

	for (const struct option *p = own; p->name && n < ARRAY_LEN(merged) - 1; p++)
		merged[n++] = *p;
	for (const struct option *p = cli_common_longopts; p->name && n < ARRAY_LEN(merged) - 1; p++)
		merged[n++] = *p;
	memset(&merged[n], 0, sizeof(merged[n]));
	return merged;
}

void cli_common_usage(FILE *out)
{
	fprintf(out,
"Report and trace options:\n"
"  --json FILE         also write the report as JSON to FILE ('-': stdout, and\n"
"                      then no text report)\n"
"  -q, --quiet         no text report (use with --json or the exports)\n"
"  -w, --wide          list every thread, not only the top 20\n"
"  --no-locks          do not trace futex (user-space lock) waits and wakes\n"
"  --locks             trace them (the default): lock contention vs idle waiting;\n"
"                      seen at the scheduler: a few us per blocking futex call\n"
"  --futex-source SRC  sched (default: from the context switches, no cost to\n"
"                      system calls) or syscalls (the syscall tracepoints: exact\n"
"                      return values incl. EAGAIN, but every system call of every\n"
"                      task pays while they are on)\n"
"  --stacks LIST       capture stacks: offcpu (where threads block, at every\n"
"                      context switch), oncpu (sampled), all, none (default:\n"
"                      stacks cost ~1-3 us each, and none keeps the tracer to\n"
"                      one map update per scheduler event); comma lists allowed\n"
"  -F, --freq HZ       on-CPU sampling rate per CPU (default 99, 1..10000)\n"
"  --folded [KIND:]FILE  write folded stacks (flamegraph.pl, inferno, speedscope);\n"
"                      KIND is offcpu (us), oncpu (samples) or futex (wait us);\n"
"                      default: oncpu if sampled, else offcpu, else futex\n"
"  --svg [KIND:]FILE   write an interactive SVG flame graph of KIND\n"
"  --timeline          record every context switch on the CPUs, and the\n"
"                      wakeups, migrations, forks, execs, exits and futex waits\n"
"                      of traced tasks, in order (for --perfetto/--timeline-html)\n"
"  --timeline-buffer SIZE  its ring buffer (default 16M); lost records are\n"
"                      counted per CPU, in the report and the trace\n"
"  --perfetto FILE     write the timeline as a Perfetto trace (ui.perfetto.dev):\n"
"                      per-CPU scheduling tracks, thread states, futex waits\n"
"  --timeline-html FILE  a self-contained page: a lane per core and per traced\n"
"                      thread, zoom, pan, hover details, the verdict on top\n"
"  --slice-ms MS       length of the busy-time slices of the cores-over-time strip\n"
"                      (default 50, 1..60000)\n"
"  --max-threads N     thread slots in the kernel (default %d); threads beyond\n"
"                      them are counted as dropped, never silently lost\n"
"  --raw-tp            attach raw tracepoints instead of tp_btf (the fallback\n"
"                      for kernels without tp_btf; for testing)\n"
"  -v, --verbose       print libbpf's messages\n"
"\n"
"User stacks are walked with frame pointers; at futex calls poolscope also\n"
"recovers the program's frames above libraries built without them (glibc).\n"
"Programs built without -fno-omit-frame-pointer show truncated stacks; the\n"
"bundled workloads are built with frame pointers.\n",
		PS_DEFAULT_MAX_THREADS);
}

int cli_open_outputs(struct cli_common *o, const struct invoker *inv, const char *cmd)
{
	if (o->json_path) {
		if (output_open(&o->json, inv, o->json_path))
			return -EINVAL;
		if (o->json.tmp)
			session_on_abort(o->json.tmp);
	}
	const char *paths[2] = { o->perfetto_path, o->timeline_html_path };
	struct output *outs[2] = { &o->perfetto, &o->timeline_html };

	for (int i = 0; i < 2; i++) {
		if (!paths[i])
			continue;
		if (output_open(outs[i], inv, paths[i])) {
			cli_discard_outputs(o);
			return -EINVAL;
		}
		if (outs[i]->tmp)
			session_on_abort(outs[i]->tmp);
	}
	for (int i = 0; i < o->nexports; i++) {
		struct cli_export *e = &o->exports[i];
		const char *colon = strchr(e->path, ':');
		char kind[16];
		bool captured;

		e->kind = o->tr.oncpu ? STACKS_ONCPU : o->tr.offcpu ? STACKS_OFFCPU : STACKS_FUTEX;
		if (colon && colon - e->path < (long)sizeof(kind)) {
			snprintf(kind, sizeof(kind), "%.*s", (int)(colon - e->path), e->path);
			if (stack_kind_parse(kind, &e->kind) == 0)
				e->path = colon + 1;
		}
		captured = e->kind == STACKS_ONCPU ? o->tr.oncpu :
			   e->kind == STACKS_OFFCPU ? o->tr.offcpu : o->tr.locks;
		if (!captured) {
			ps_err("%s: --%s %s needs %s", cmd, e->svg ? "svg" : "folded",
			       stack_kind_name(e->kind),
			       e->kind == STACKS_FUTEX ? "--locks" :
			       e->kind == STACKS_ONCPU ? "--stacks oncpu" : "--stacks offcpu");
			cli_discard_outputs(o);
			return -EINVAL;
		}
		if (output_open(&e->out, inv, e->path)) {
			cli_discard_outputs(o);
			return -EINVAL;
		}
		if (e->out.tmp)
			session_on_abort(e->out.tmp);
	}
	return 0;
}

void cli_discard_outputs(struct cli_common *o)
{
	output_discard(&o->json);
	output_discard(&o->perfetto);
	output_discard(&o->timeline_html);
	for (int i = 0; i < o->nexports; i++)
		output_discard(&o->exports[i].out);
}

static bool progress_shown;

void cli_progress(void *arg, struct session *s, uint64_t elapsed_ns)
{
	struct session_counts c;
	char line[256], ev[32];
	int n;

	(void)arg;
	if (!isatty(2))
		return;
	session_counts(s, &c);
	n = snprintf(line, sizeof(line), "poolscope: %.1f s, %s events, %llu dropped, %u threads",
		     elapsed_ns / 1e9, fmt_count(c.events, ev, sizeof(ev)),
		     (unsigned long long)c.dropped, c.threads);
	for (int i = 0; i < c.nr_cpus && n < 72; i++)
		n += snprintf(line + n, sizeof(line) - n, "%s%.0f%%", i ? " " : "; busy ", c.busy_pct[i]);
	fprintf(stderr, "\r\033[K%.79s", line);
	progress_shown = true;
}

void cli_progress_clear(void)
{
	if (progress_shown)
		fputs("\r\033[K", stderr);
	progress_shown = false;
}

void cli_emit_interval(struct cli_common *o, const struct model *m, const struct diagnosis *d,
		       const struct report_opts *ro)
{
	if (!o->quiet && !cli_json_stdout(o)) {
		report_text(stdout, m, d, ro);
		fflush(stdout);
	}
	if (o->json.f) {
		report_json(o->json.f, m, d, ro);
		output_flush(&o->json, "attach");
	}
}

int cli_emit(struct cli_common *o, const struct model *m, const struct diagnosis *d,
	     const struct report_opts *ro, const char *cmd)
{
	int err = 0, xerr;

	/* lost data is said on stderr too, even with -q or JSON on stdout */
	if (m->dropped) {
		char what[256] = "";
		size_t n = 0;

		for (int i = 0; i < MODEL_DROP_KINDS && n < sizeof(what); i++)
			if (m->drops[i].n)
				n += snprintf(what + n, sizeof(what) - n, "%s%llu %s", n ? ", " : "",
					      (unsigned long long)m->drops[i].n, m->drops[i].what);
		ps_warn("%s: data lost, the numbers are incomplete: %s", cmd, what);
	}
	if (!o->quiet && !cli_json_stdout(o)) {
		struct output text = { .path = "-" };

		output_open(&text, NULL, "-");
		report_text(text.f, m, d, ro);
		err = output_commit(&text, cmd);
	}
	if (o->json.f) {
		report_json(o->json.f, m, d, ro);
		xerr = output_commit(&o->json, cmd);
		err = err ? err : xerr;
	}
	if (o->perfetto.f) {
		export_perfetto(o->perfetto.f, m, d);
		xerr = output_commit(&o->perfetto, cmd);
		err = err ? err : xerr;
	}
	if (o->timeline_html.f) {
		export_timeline_html(o->timeline_html.f, m, d, ro);
		xerr = output_commit(&o->timeline_html, cmd);
		err = err ? err : xerr;
	}
	for (int i = 0; i < o->nexports; i++) {
		struct cli_export *e = &o->exports[i];

		if (e->svg)
			export_svg(e->out.f, m, e->kind);
		else
			export_folded(e->out.f, m, e->kind);
		xerr = output_commit(&e->out, cmd);
		err = err ? err : xerr;
	}
	return err;
}
