/* user/cmd/cli.c: shared trace/report options and outputs (see cli.h). */
#include "cmd/cli.h"
#include "render/pprof.h"
#include "sys/cgroupfs.h"
#include "sys/util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	OPT_JSON = 1000, OPT_ALL_OFF, OPT_SLICE, OPT_MAXTHR, OPT_RAWTP, OPT_LOCKS, OPT_NOLOCKS,
	OPT_STACKS, OPT_FOLDED, OPT_SVG, OPT_FUTEX_SOURCE, OPT_TIMELINE, OPT_TIMELINE_BUF,
	OPT_PERFETTO, OPT_TIMELINE_HTML, OPT_PPROF, OPT_PUSH, OPT_PUSH_APP,
	OPT_PUSH_LABEL, OPT_PUSH_FORMAT, OPT_PUSH_ORG, OPT_PUSH_TIMEOUT, OPT_PYTHON, OPT_NOPYTHON,
};

static const char *const export_options[] = { "folded", "svg", "pprof" };

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
	{ "python-frames", no_argument, NULL, OPT_PYTHON },
	{ "no-python-frames", no_argument, NULL, OPT_NOPYTHON },
	{ "freq", required_argument, NULL, 'F' },
	{ "folded", required_argument, NULL, OPT_FOLDED },
	{ "svg", required_argument, NULL, OPT_SVG },
	{ "futex-source", required_argument, NULL, OPT_FUTEX_SOURCE },
	{ "timeline", no_argument, NULL, OPT_TIMELINE },
	{ "timeline-buffer", required_argument, NULL, OPT_TIMELINE_BUF },
	{ "perfetto", required_argument, NULL, OPT_PERFETTO },
	{ "timeline-html", required_argument, NULL, OPT_TIMELINE_HTML },
	{ "pprof", required_argument, NULL, OPT_PPROF },
	{ "push", required_argument, NULL, OPT_PUSH },
	{ "push-app", required_argument, NULL, OPT_PUSH_APP },
	{ "push-label", required_argument, NULL, OPT_PUSH_LABEL },
	{ "push-format", required_argument, NULL, OPT_PUSH_FORMAT },
	{ "push-org-id", required_argument, NULL, OPT_PUSH_ORG },
	{ "push-timeout", required_argument, NULL, OPT_PUSH_TIMEOUT },
	{ 0 },
};

void cli_common_init(struct cli_common *o)
{
	struct cg_hier h;

	memset(o, 0, sizeof(*o));
	o->tr.locks = true;
	o->tr.timeline_bytes = PS_TIMELINE_BYTES;
	/* each thread's cgroup is the one its CPU limits come from */
	cgroupfs_default_hier(&h);
	o->tr.cg_hier = h.kind;
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

int cli_parse_seconds(const char *arg, const char *cmd, const char *option, uint64_t *ns)
{
	if (parse_seconds_ns(arg, ns) || *ns < 1000000) {
		ps_err("%s: invalid %s '%s' (expected seconds > 0, e.g. 5 or 0.5)", cmd, option, arg);
		return -EINVAL;
	}
	return 0;
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

static int cli_push_parse(int c, const char *arg, const char *cmd, struct cli_push *p)
{
	uint64_t ns;

	switch (c) {
	case OPT_PUSH:
		p->t.url = arg;
		return push_check_url(arg, cmd) ? -EINVAL : 1;
	case OPT_PUSH_APP:
		p->app = arg;
		return 1;
	case OPT_PUSH_LABEL:
		if (push_check_label(arg, cmd))
			return -EINVAL;
		if (p->t.nlabels == PUSH_MAX_LABELS) {
			ps_err("%s: at most %d --push-label", cmd, PUSH_MAX_LABELS);
			return -EINVAL;
		}
		p->t.labels[p->t.nlabels++] = arg;
		return 1;
	case OPT_PUSH_FORMAT:
		if (strcmp(arg, "pprof") && strcmp(arg, "folded")) {
			ps_err("%s: invalid --push-format '%s' (expected pprof or folded)", cmd, arg);
			return -EINVAL;
		}
		p->t.format = strcmp(arg, "pprof") ? PUSH_FOLDED : PUSH_PPROF;
		return 1;
	case OPT_PUSH_ORG:
		p->t.org_id = arg;
		return 1;
	case OPT_PUSH_TIMEOUT:
		if (parse_seconds_ns(arg, &ns) || ns < 100000000ull || ns > 600000000000ull) {
			ps_err("%s: invalid --push-timeout '%s' (expected 0.1..600 seconds)", cmd, arg);
			return -EINVAL;
		}
		p->t.timeout_ms = ns / 1000000;
		return 1;
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
	case OPT_PYTHON: o->tr.no_python = false; return 1;
	case OPT_NOPYTHON: o->tr.no_python = true; return 1;
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
	case OPT_PPROF:
		if (o->nexports == CLI_MAX_EXPORTS) {
			ps_err("%s: at most %d --folded/--svg/--pprof outputs", cmd, CLI_MAX_EXPORTS);
			return -EINVAL;
		}
		o->exports[o->nexports].format = c == OPT_SVG ? EXPORT_SVG :
						 c == OPT_PPROF ? EXPORT_PPROF : EXPORT_FOLDED;
		o->exports[o->nexports++].path = arg;
		return 1;
	}
	return cli_push_parse(c, arg, cmd, &o->push);
}

const struct option *cli_longopts_some(const struct option *own, const char *const *common)
{
	static struct option merged[64];
	size_t n = 0;

	for (const struct option *p = own; p->name && n < ARRAY_LEN(merged) - 1; p++)
		merged[n++] = *p;
	for (const struct option *p = cli_common_longopts; p->name && n < ARRAY_LEN(merged) - 1; p++) {
		bool wanted = !common;

		for (const char *const *c = common; c && *c; c++)
			wanted |= !strcmp(*c, p->name);
		if (wanted)
			merged[n++] = *p;
	}
	memset(&merged[n], 0, sizeof(merged[n]));
	return merged;
}

const struct option *cli_longopts(const struct option *own)
{
	return cli_longopts_some(own, NULL);
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
"  --no-python-frames  user stacks of CPython processes (3.11-3.13) without their\n"
"                      Python functions, interpreter frames only\n"
"  --python-frames     with them, \"qualname (file:line)\" (the default): read\n"
"                      from the interpreter's frames with each user stack taken\n"
"  -F, --freq HZ       on-CPU sampling rate per CPU (default 99, 1..10000)\n"
"  --folded [KIND:]FILE  write folded stacks (flamegraph.pl, inferno,\n"
"                      speedscope);\n"
"                      KIND is offcpu (us), oncpu (samples) or futex (wait us);\n"
"                      default: oncpu if sampled, else offcpu, else futex\n"
"  --svg [KIND:]FILE   write an interactive SVG flame graph of KIND\n"
"  --pprof [KIND:]FILE write a gzipped pprof profile of KIND (go tool pprof;\n"
"                      what --push sends): times in ns, labels pid, tid, comm\n"
"                      (futex: the lock too)\n"
"  --timeline          record every context switch on the CPUs, and the\n"
"                      wakeups, migrations, forks, execs, exits and futex waits\n"
"                      of traced tasks, in order (for --perfetto/--timeline-html)\n"
"  --timeline-buffer SIZE  its ring buffer (default 16M); lost records are\n"
"                      counted per CPU, in the report and the trace\n"
"  --perfetto FILE     write the timeline as a Perfetto trace (ui.perfetto.dev):\n"
"                      per-CPU scheduling tracks, thread states, futex waits\n"
"  --timeline-html FILE  a self-contained page: a lane per core and per traced\n"
"                      thread, zoom, pan, hover details, the verdict on top\n"
"  --slice-ms MS       length of the slices of the cores-over-time strip\n"
"                      (default 50, 1..60000; doubled each time a long trace\n"
"                      fills the 4096 kept)\n"
"  --max-threads N     thread slots in the kernel (default %d); threads beyond\n"
"                      them are counted as dropped, never silently lost\n"
"  --raw-tp            attach raw tracepoints instead of tp_btf (the fallback\n"
"                      for kernels without tp_btf; for testing)\n"
"  -v, --verbose       print libbpf's messages\n"
"\n"
"User stacks are walked with frame pointers; at futex calls poolscope also\n"
"recovers the program's frames above libraries built without them (glibc).\n"
"Programs built without -fno-omit-frame-pointer show truncated stacks; the\n"
"bundled workloads are built with frame pointers.\n", PS_DEFAULT_MAX_THREADS);
	fprintf(out,
"\n"
"Sending profiles to a Pyroscope server (POST /ingest):\n"
"  --push URL          push each captured kind's profile (oncpu, offcpu, futex)\n"
"                      at the end, after the files are written (attach -i:\n"
"                      after every interval), as series APP.KIND{host=H,...}\n"
"  --push-app NAME     APP of the series (default: the traced command's name)\n"
"  --push-label K=V    add a label to the series (repeatable)\n"
"  --push-format FMT   pprof (default) or folded\n"
"  --push-org-id ID    the tenant, sent as X-Scope-OrgID (default:\n"
"                      $%s)\n"
"  --push-timeout S    give up on a request after S seconds (default %u);\n"
"                      refusals 429 and 5xx and failures to connect are tried\n"
"                      %d times in all; a failed push makes the exit status 1\n"
"Credentials come from the environment only, never the command line:\n"
"$%s (bearer), or $%s and\n"
"$%s (basic); sudo resets the environment, so pass\n"
"them through (sudo -E, or sudo VAR=value poolscope ...).\n",
		PUSH_ENV_ORG_ID, PUSH_DEFAULT_TIMEOUT_MS / 1000, PUSH_TRIES, PUSH_ENV_TOKEN,
		PUSH_ENV_USER, PUSH_ENV_PASSWORD);
}

/* A stop signal that arrives while a push is running aborts it. */
static unsigned push_stops;

static bool push_abort(void *arg)
{
	(void)arg;
	return session_stop_count() > push_stops;
}

int cli_open_outputs(struct cli_common *o, const struct invoker *inv, const char *cmd,
		     const char *app_name)
{
	struct cli_push *p = &o->push;

	if (p->t.url) {
		if (push_check_env(cmd))
			return -EINVAL;
		p->t.app = push_app_name(p->app ? p->app : app_name, p->app_buf, sizeof(p->app_buf));
		p->t.abort = push_abort;
		if (!o->tr.oncpu && !o->tr.offcpu && !o->tr.locks) {
			ps_err("%s: --push has nothing to send: no --stacks and --no-locks", cmd);
			return -EINVAL;
		}
	}
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
			ps_err("%s: --%s %s needs %s", cmd, export_options[e->format],
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

static uint64_t wall_start_of(const struct model *m, const struct report_opts *ro)
{
	return ro->wall_start ? ro->wall_start : m->start_ns + (realtime_ns() - mono_ns());
}

/* The body of kind k's profile in the push format, NULL if it has none. */
static void *push_body(const struct cli_common *o, const struct model *m, enum stack_kind k,
		       const struct pprof_opts *po, size_t *len)
{
	uint8_t *buf = NULL;
	char *text = NULL;
	FILE *f;

	*len = 0;
	if (o->push.t.format == PUSH_PPROF)
		return pprof_build(m, k, po, &buf, len) ? NULL : buf;
	f = open_memstream(&text, len);
	if (!f)
		return NULL;
	export_folded(f, m, k);
	fclose(f);
	if (!*len) {
		free(text);
		return NULL;
	}
	return text;
}

/* Every captured kind with samples, one request each; once the server
 * cannot be reached the other kinds are not tried. */
static void push_profiles(struct cli_common *o, const struct model *m, const struct report_opts *ro,
			  const char *cmd)
{
	static const enum stack_kind kinds[] = { STACKS_ONCPU, STACKS_OFFCPU, STACKS_FUTEX };
	uint64_t start = wall_start_of(m, ro);
	struct pprof_opts po = { .time_nanos = start, .comment = ro->title };
	bool pprof = o->push.t.format == PUSH_PPROF;

	push_stops = session_stop_count();
	for (size_t i = 0; i < ARRAY_LEN(kinds); i++) {
		enum stack_kind k = kinds[i];
		bool transport = false;
		size_t len;

		if (!stack_kind_captured(m, k) || !pprof_samples(m, k))
			continue;
		void *body = push_body(o, m, k, &po, &len);
		if (!body)
			continue;
		/* folded times are in us: one "sample" per microsecond */
		struct push_profile p = {
			.kind = stack_kind_name(k), .body = body, .len = len,
			.from_s = start / 1000000000ull,
			.until_s = (start + m->wall_ns + 999999999ull) / 1000000000ull,
			.sample_rate = k == STACKS_ONCPU ? m->snap->sample_hz :
				       pprof ? 1000000000ull : 1000000ull,
			.units = k == STACKS_ONCPU || !pprof ? "samples" :
				 k == STACKS_FUTEX ? "lock_nanoseconds" : "nanoseconds",
		};
		int err = push_send(&o->push.t, &p, cmd, &transport);
		free(body);
		if (err)
			o->push.failed = true;
		if (err && (transport || err == -EINTR))
			break;
	}
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
	if (o->push.t.url && o->push.intervals)
		push_profiles(o, m, ro, "attach");
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

		if (e->format == EXPORT_SVG) {
			export_svg(e->out.f, m, e->kind);
		} else if (e->format == EXPORT_PPROF) {
			struct pprof_opts po = { .time_nanos = wall_start_of(m, ro), .comment = ro->title };

			export_pprof(e->out.f, m, e->kind, &po);
		} else {
			export_folded(e->out.f, m, e->kind);
		}
		xerr = output_commit(&e->out, cmd);
		err = err ? err : xerr;
	}
	/* after the files: a push that fails or hangs cannot cost them */
	if (o->push.t.url && !o->push.intervals)
		push_profiles(o, m, ro, cmd);
	if (o->push.failed)
		err = err ? err : -EIO;
	return err;
}
