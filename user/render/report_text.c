/* user/render/report_text.c: the text report (stdout), readable on 80 columns. */
#include "render/report.h"
#include "model/diagnose.h"
#include "model/hist.h"
#include "model/stacks.h"
#include "sys/util.h"
#include <string.h>
#include <time.h>

#define THREADS_SHOWN 20
#define PROCS_SHOWN 10

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* --- names that never break mid-word -------------------------------------- */

#define WIDTH 80        /* the report's lines */
#define WIDE_WIDTH 160  /* with -w */
#define ELLIPSIS "\u2026"

/* Columns a UTF-8 string takes: one per character. */
static size_t cols(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Where a line may break: after one of these (frames, list items, words). */
#define BREAK_FRAMES ";| "
#define BREAK_ITEMS ";,"
#define BREAK_WORDS " "

/* The break point of p for a line of room columns: the last one that fits,
 * else the first one (a word wider than the line stays whole), or NULL
 * when p has no break point left. */
static const char *break_point(const char *p, size_t room, const char *breaks)
{
	const char *last = NULL;
	size_t used = 0;

	for (const char *q = p; *q; q++) {
		const char *brk = NULL;

		if (q > p && q[0] == ':' && q[1] == ':' && q[-1] != ':')
			brk = q; /* before "::" in a long C++ or Rust name */
		else if (strchr(breaks, *q) && q[1])
			brk = q + 1;
		if (brk && brk > p && (used + (brk > q) <= room || !last))
			last = brk;
		used += ((unsigned char)*q & 0xC0) != 0x80;
		if (used > room && last)
			break;
	}
	return last;
}

/* Print text from column at, wrapping after the characters in breaks (or
 * before "::") so that no line passes width (a word wider than a line stays
 * whole); continuation lines start at column indent. Ends the line. */
static void print_wrapped(FILE *out, const char *text, size_t at, size_t indent, size_t width,
			  const char *breaks)
{
	const char *p = text;

	for (;;) {
		size_t room = width > at ? width - at : 1;
		const char *brk = cols(p) > room ? break_point(p, room, breaks) : NULL;
		int n;

		if (!brk) {
			fprintf(out, "%s\n", p);
			return;
		}
		for (n = (int)(brk - p); n > 0 && p[n - 1] == ' '; n--)
			;
		fprintf(out, "%.*s\n%*s", n, p, (int)indent, "");
		for (p = brk; *p == ' '; p++)
			;
		at = indent;
	}
}

/* "python: frames of 3 CPython 3.11 processes: 1,234 stacks, 5 cut at 64
 * frames", and what poolscope could not read, when CPython was traced. */
static void print_python(FILE *out, const struct ps_snapshot *s, size_t width)
{
	const struct ps_py_stats *py = &s->py;
	char line[512], n[32], n2[32];
	size_t at;

	if (!s->python || (!s->py_procs && !s->py_unknown))
		return;
	at = snprintf(line, sizeof(line), "python: ");
	if (s->py_procs)
		at += snprintf(line + at, sizeof(line) - at, "frames of %u CPython %s%s%s: %s stacks",
			       s->py_procs, s->py_versions, *s->py_versions ? " " : "",
			       plural(s->py_procs, "process", "processes"), fmt_count(py->stacks, n, sizeof(n)));
	if (py->truncated && at < sizeof(line))
		at += snprintf(line + at, sizeof(line) - at, ", %s cut at %d frames",
			       fmt_count(py->truncated, n, sizeof(n)), PS_PY_DEPTH);
	if (py->read_fail && at < sizeof(line))
		at += snprintf(line + at, sizeof(line) - at, ", %s cut at an unreadable frame",
			       fmt_count(py->read_fail, n, sizeof(n)));
	if ((py->stack_full || py->code_full) && at < sizeof(line))
		at += snprintf(line + at, sizeof(line) - at, ", %s stacks and %s code objects not kept "
			       "(map full)", fmt_count(py->stack_full, n, sizeof(n)),
			       fmt_count(py->code_full, n2, sizeof(n2)));
	if (py->code_fail && at < sizeof(line))
		at += snprintf(line + at, sizeof(line) - at, ", %s code objects unreadable",
			       fmt_count(py->code_fail, n, sizeof(n)));
	if (s->py_unknown && at < sizeof(line))
		snprintf(line + at, sizeof(line) - at, "%s%u %s of a CPython poolscope does not know: "
			 "native frames", s->py_procs ? "; " : "", s->py_unknown,
			 plural(s->py_unknown, "process", "processes"));
	print_wrapped(out, line, 0, 4, width, BREAK_ITEMS);
}

void report_wrap_words(FILE *out, const char *text, size_t at, size_t indent, size_t width)
{
	print_wrapped(out, text, at, indent, width, BREAK_WORDS);
}

/* "00:57:46.250": an interval's ends keep their milliseconds. */
static const char *clock_ms(uint64_t wall_ns, char *buf, size_t len)
{
	time_t t = wall_ns / 1000000000ull;
	struct tm tm;
	size_t n = strftime(buf, len, "%H:%M:%S", localtime_r(&t, &tm));

	snprintf(buf + n, len - n, ".%03u", (unsigned)(wall_ns % 1000000000ull / 1000000));
	return buf;
}

static void print_header(FILE *out, const struct model *m, const struct report_opts *o,
			 size_t width)
{
	char wall[16], cpu[16], ev[32], dr[32], line[512];

	if (o->interval) {
		char from[32] = "?", to[32] = "?";

		if (o->wall_start) {
			clock_ms(o->wall_start, from, sizeof(from));
			clock_ms(o->wall_start + m->wall_ns, to, sizeof(to));
		}
		fprintf(out, "\n--- interval %u: %s - %s ---\n", o->interval, from, to);
	}
	fputs("poolscope: ", out);
	print_wrapped(out, o->title ? o->title : "trace", 11, 4, width, BREAK_WORDS);
	/* a command poolscope started (not an attach, not an interval) */
	if (o->argv && !o->interval) {
		if (o->exit_status >= 0)
			fprintf(out, "exit status %d\n", o->exit_status);
		else
			fprintf(out, "exit status: none, still running when the trace stopped\n");
	}
	fprintf(out, "traced %u %s, %u %s on %d CPUs for %s\n", m->nprocs,
		plural(m->nprocs, "process", "processes"), (unsigned)m->thread_count,
		plural(m->thread_count, "thread", "threads"), m->nr_cpus, fmt_dur(m->wall_ns, wall, sizeof(wall)));
	fprintf(out, "on-CPU %s in %s: parallelism %.2f of %d CPUs, cores %.0f%% busy\n",
		fmt_dur(m->oncpu_ns, cpu, sizeof(cpu)), fmt_dur(m->wall_ns, wall, sizeof(wall)),
		m->parallelism, m->nr_cpus, m->busy_pct);
	if (m->other_cpus >= 0.01)
		fprintf(out, "other load: untraced tasks took %.2f of the %d CPUs\n", m->other_cpus,
			m->nr_cpus);
	snprintf(line, sizeof(line), "events: %s handled, %s dropped (%s%s%s%s)",
		 fmt_count(m->snap->events, ev, sizeof(ev)), fmt_count(m->dropped, dr, sizeof(dr)),
		 m->snap->attach_mode, m->snap->locks ? ", locks" : "",
		 m->snap->offcpu ? ", off-CPU stacks" : "", m->snap->oncpu ? ", on-CPU samples" : "");
	print_wrapped(out, line, 0, 4, width, BREAK_ITEMS);
	print_python(out, m->snap, width);
	if (m->snap->timeline) {
		uint64_t lost = 0;

		fprintf(out, "timeline: %zu %s, lost per CPU:", m->snap->ntl,
			plural(m->snap->ntl, "record", "records"));
		for (int c = 0; c < m->nr_cpus; c++) {
			fprintf(out, "%s%llu", c ? "/" : " ", (unsigned long long)m->snap->cpus[c].tl_lost);
			lost += m->snap->cpus[c].tl_lost;
		}
		if (m->snap->tl_over)
			fprintf(out, ", %llu beyond poolscope's cap", (unsigned long long)m->snap->tl_over);
		fprintf(out, "%s\n", lost || m->snap->tl_over ? " (--timeline-buffer)" : "");
	}
	if (m->dropped) {
		size_t at = snprintf(line, sizeof(line), "WARNING: data lost:");

		for (int i = 0, k = 0; i < MODEL_DROP_KINDS && at < sizeof(line); i++)
			if (m->drops[i].n)
				at += snprintf(line + at, sizeof(line) - at, "%s %llu %s", k++ ? "," : "",
					       (unsigned long long)m->drops[i].n, m->drops[i].what);
		print_wrapped(out, line, 0, 4, width, BREAK_ITEMS);
	}
}

static void print_cores(FILE *out, const struct model *m)
{
	char sw[32], p50[16], p99[16], vi[32], mi[32];

	fprintf(out, "\nPER CORE\n  %-6s %7s %7s %8s %13s %8s %8s %11s\n", "", "busy", "traced",
		"switches", "vol/invol", "runq p50", "runq p99", "migr in/out");
	for (int c = 0; c < m->nr_cpus; c++) {
		const struct core_summary *cs = &m->cores[c];

		snprintf(vi, sizeof(vi), "%llu/%llu", (unsigned long long)cs->vol,
			 (unsigned long long)cs->invol);
		snprintf(mi, sizeof(mi), "%llu/%llu", (unsigned long long)cs->migr_in,
			 (unsigned long long)cs->migr_out);
		fprintf(out, "  cpu%-3d %6.1f%% %6.1f%% %8s %13s %8s %8s %11s\n", c, cs->busy_pct,
			cs->traced_pct, fmt_count(cs->switches, sw, sizeof(sw)), vi,
			cs->runq_count ? fmt_dur(cs->runq_p50_ns, p50, sizeof(p50)) : "-",
			cs->runq_count ? fmt_dur(cs->runq_p99_ns, p99, sizeof(p99)) : "-", mi);
	}
	fprintf(out, "  (busy: any task; traced: the traced threads; switches: of traced threads)\n");
	for (int c = 0; c < m->nr_cpus; c++) {
		const struct core_summary *cs = &m->cores[c];
		char line[256], item[64], d[16];
		size_t o = 0;

		if (cs->top[0].thread < 0)
			continue;
		line[0] = '\0';
		for (int k = 0; k < MODEL_TOP_THREADS && cs->top[k].thread >= 0; k++) {
			const struct thread_summary *t = &m->threads[cs->top[k].thread];
			int n = snprintf(item, sizeof(item), "%s%u %.12s %s", k ? ", " : "", t->tid,
					 t->comm, fmt_dur(cs->top[k].ns, d, sizeof(d)));

			if (o + n > 66) /* keep the line within 80 columns */
				break;
			o += snprintf(line + o, sizeof(line) - o, "%s", item);
		}
		fprintf(out, "  cpu%d top: %s\n", c, line);
	}
}

static void print_strip(FILE *out, const struct model *m, const struct report_opts *o)
{
	static const char *shade[] = { " ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	const struct ps_snapshot *s = m->snap;
	unsigned cells = o->max_cells ? o->max_cells : 60;
	unsigned per_cell, ncell;
	char d[16], w[16];

	if (!s->nslices)
		return;
	per_cell = (s->nslices + cells - 1) / cells;
	ncell = (s->nslices + per_cell - 1) / per_cell;
	fprintf(out, "\nCORES OVER TIME (share of each %s: all = any task, traced = the\n"
		"traced threads; ' ' idle .. '█' full)\n", fmt_dur(s->slice_ns * per_cell, d, sizeof(d)));
	for (int c = 0; c < s->nr_cpus; c++) {
		for (int row = 0; row < 2; row++) {
			const uint64_t *v = row ? s->slice_traced_ns : s->slice_busy_ns;

			if (row)
				fprintf(out, "      traced |");
			else
				fprintf(out, "  cpu%-3d all |", c);
			for (unsigned k = 0; k < ncell; k++) {
				uint64_t busy = 0, from, to;
				unsigned a = k * per_cell, b = a + per_cell;

				if (b > s->nslices)
					b = s->nslices;
				from = a ? s->slice_end_ns[a - 1] : s->start_ns;
				to = s->slice_end_ns[b - 1];
				for (unsigned i = a; i < b; i++)
					busy += v[(size_t)i * s->nr_cpus + c];
				double frac = to > from ? (double)busy / (to - from) : 0;
				int lvl = frac <= 0.01 ? 0 : (int)(frac * 8 + 0.5);
				fputs(shade[lvl < 1 && frac > 0.01 ? 1 : lvl > 8 ? 8 : lvl], out);
			}
			fputs("|\n", out);
		}
	}
	/* time axis under the strip: 0 at its left edge, the window at its right */
	fmt_dur(m->wall_ns, w, sizeof(w));
	if (ncell >= strlen(w) + 2)
		fprintf(out, "%14s0%*s\n", "", (int)(ncell - 1), w);
	else
		fprintf(out, "%14s0 .. %s\n", "", w);
}

static void print_runq(FILE *out, const struct model *m)
{
	char n[32], a[16], b[16], c[16], x[16];

	fprintf(out, "\nRUN-QUEUE LATENCY (traced threads)\n  %s %s; p50 %s, p90 %s, p99 %s, max %s\n",
		fmt_count(m->runq_count, n, sizeof(n)), plural(m->runq_count, "wait", "waits"),
		fmt_dur(m->runq_p50_ns, a, sizeof(a)),
		fmt_dur(m->runq_p90_ns, b, sizeof(b)), fmt_dur(m->runq_p99_ns, c, sizeof(c)),
		fmt_dur(m->runq_max_ns, x, sizeof(x)));
	hist_print(out, m->runq_hist, PS_HIST_SLOTS, 30);
}

static void print_procs(FILE *out, const struct model *m, const struct report_opts *o)
{
	uint32_t limit = o->brief ? 5 : PROCS_SHOWN;
	uint32_t shown = o->wide || m->nprocs <= limit ? m->nprocs : limit;
	char on[16], off[16], rq[16], v[32], iv[32];

	if (m->nprocs < 2)
		return;
	fprintf(out, "\nPROCESSES (by on-CPU time");
	if (shown < m->nprocs)
		fprintf(out, "; top %u of %u, --wide for all", shown, m->nprocs);
	fprintf(out, ")\n");
	if (m->snap->self_tgid)
		fprintf(out, "  (poolscope itself, PID %u, is not traced: its time counts as other "
			"load)\n", m->snap->self_tgid);
	fprintf(out, "  %7s %-15s %7s %8s %8s %9s %6s %6s\n", "PID", "COMM", "threads",
		"on-CPU", "off-CPU", "runq wait", "vol", "invol");
	for (uint32_t i = 0; i < shown; i++) {
		const struct process_summary *p = &m->procs[i];

		fprintf(out, "  %7u %-15.15s %7u %8s %8s %9s %6s %6s\n", p->tgid, p->comm,
			p->nthreads, fmt_dur(p->oncpu_ns, on, sizeof(on)),
			fmt_dur(p->offcpu_ns, off, sizeof(off)), fmt_dur(p->runq_wait_ns, rq, sizeof(rq)),
			fmt_count(p->vol, v, sizeof(v)), fmt_count(p->invol, iv, sizeof(iv)));
	}
}

static void print_threads(FILE *out, const struct model *m, const struct report_opts *o)
{
	uint32_t limit = o->brief ? 5 : THREADS_SHOWN;
	uint32_t shown = o->wide || m->nthreads <= limit ? m->nthreads : limit;
	char on[16], off[16], rq[16], v[32], iv[32];

	fprintf(out, "\nTHREADS (by on-CPU time");
	if (shown < m->nthreads)
		fprintf(out, "; top %u of %u, --wide for all", shown, m->nthreads);
	fprintf(out, ")\n  %7s %7s %-15s %8s %8s %9s %6s %6s %4s\n", "TID", "PID", "COMM", "on-CPU",
		"off-CPU", "runq wait", "vol", "invol", "migr");
	for (uint32_t i = 0; i < shown; i++) {
		const struct thread_summary *t = &m->threads[i];
		char tid[16], comm[32];

		snprintf(tid, sizeof(tid), t->folded ? "-" : "%u", t->tid);
		if (t->folded)
			snprintf(comm, sizeof(comm), "(%llu exited)", (unsigned long long)t->folded);
		else
			snprintf(comm, sizeof(comm), "%s", t->comm);
		fprintf(out, "  %7s %7u %-15.15s %8s %8s %9s %6s %6s %4llu%s\n", tid, t->tgid,
			comm, fmt_dur(t->oncpu_ns, on, sizeof(on)),
			fmt_dur(t->offcpu_ns, off, sizeof(off)),
			fmt_dur(t->runq_wait_ns, rq, sizeof(rq)), fmt_count(t->vol, v, sizeof(v)),
			fmt_count(t->invol, iv, sizeof(iv)), (unsigned long long)t->migrations,
			o->wide && t->exited && !t->folded ? " exited" : "");
	}
	if (m->folded_threads)
		fprintf(out, "  (%llu exited %s: each \"(N exited)\" row\n"
			"   sums a process's, and its totals include them)\n",
			(unsigned long long)m->folded_threads,
			plural(m->folded_threads, "thread gave its slot to a new one",
			       "threads gave their slots to new ones"));
}

/* The innermost frames of a ';'-separated list (root first) that fit width
 * columns, the outer ones dropped whole: "…;gil_acquire;pthread_cond_wait".
 * The leaf frame stays even when it alone is wider. */
static const char *frames_fit(const char *frames, size_t width, char *buf, size_t len)
{
	const char *p = frames;
	size_t mark = 0; /* columns of the "…;" once an outer frame is dropped */

	while (mark + cols(p) > width) {
		const char *next = strchr(p, ';');

		if (!next)
			break;
		p = next + 1;
		mark = cols(ELLIPSIS ";");
	}
	snprintf(buf, len, "%s%s", p == frames ? "" : ELLIPSIS ";", p);
	return buf;
}

/* The columns from a folded stack's innermost Python frame to its leaf, 0
 * when it has none. */
static size_t python_tail(const char *frames)
{
	const char *inner = NULL;

	for (const char *p = frames; p && *p;) {
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (stack_python_frame(p, n))
			inner = p;
		p = end ? end + 1 : NULL;
	}
	return inner ? cols(inner) : 0;
}

static bool scheduler_frame(const char *name)
{
	return strstr(name, "schedule") || !strncmp(name, "finish_task_switch", 18);
}

/* "comm: user;frames | kernel;frames" from a folded stack, for one line of
 * width columns: the innermost user frames (where the program was; at most
 * 3 unless wide; Python frames when there are) and the last 2 kernel frames
 * that say why it blocked (scheduler frames left out), outer user frames
 * dropped whole to fit. */
static const char *stack_label(const char *folded, size_t width, bool wide, char *buf, size_t len)
{
	const char *frames[PS_STACK_DEPTH * 2 + 2];
	char tmp[8192], *tok, *save = NULL, kern[512] = "", user[4096] = "", fitted[4096];
	int n = 0, dash = -1, max_user = wide ? PS_STACK_DEPTH : 3;

	snprintf(tmp, sizeof(tmp), "%s", folded);
	for (tok = strtok_r(tmp, ";", &save); tok && n < (int)ARRAY_LEN(frames); tok = strtok_r(NULL, ";", &save)) {
		if (!strcmp(tok, "-"))
			dash = n;
		frames[n++] = tok;
	}
	int uend = dash >= 0 ? dash : n;
	/* a Python stack says where in Python: the interpreter's C frames
	 * below it are left to the exports (the kernel frames say why) */
	for (int i = uend - 1; i >= 1; i--)
		if (stack_python_frame(frames[i], strlen(frames[i]))) {
			uend = i + 1;
			break;
		}
	int ufirst = uend - max_user > 1 ? uend - max_user : 1;
	for (int i = ufirst, o = 0; i < uend; i++)
		o += snprintf(user + o, sizeof(user) - o > 0 ? sizeof(user) - o : 0, "%s%s",
			      o ? ";" : "", frames[i]);
	for (int i = n - 1, shown = 0; dash >= 0 && i > dash && shown < 2; i--) {
		char t[512], name[256];

		snprintf(name, sizeof(name), "%s", frames[i]);
		char *k = strstr(name, "_[k]");
		if (k)
			*k = '\0';
		if (scheduler_frame(name))
			continue;
		snprintf(t, sizeof(t), "%s%s%s", name, *kern ? ";" : "", kern);
		snprintf(kern, sizeof(kern), "%s", t);
		shown++;
	}
	const char *comm = n ? frames[0] : "?";
	size_t fixed = cols(comm) + 2 + (*kern ? 3 + cols(kern) : 0);
	frames_fit(*user ? user : "-", width > fixed + 8 ? width - fixed : 8, fitted, sizeof(fitted));
	snprintf(buf, len, "%s: %s%s%s", comm, fitted, *kern ? " | " : "", kern);
	return buf;
}

#define CGROUPS_SHOWN 10

/* A cgroup path in width columns: its start and its end (where the unit or
 * container is), the middle elided. */
static const char *path_fit(const char *s, size_t width, char *buf, size_t len)
{
	size_t n = strlen(s);

	if (n <= width || width < 10) {
		snprintf(buf, len, "%s", s);
		return buf;
	}
	snprintf(buf, len, "%.*s..%s", (int)(width / 3), s, s + n - (width - width / 3 - 2));
	return buf;
}

static void print_cgroup_limits(FILE *out, const struct cgroup_summary *c)
{
	char q[16], p[16], t[16], at[64];

	if (c->limit_cpus > 0)
		fprintf(out, "    CPU limit %.2f CPUs (%s per %s%s%s)", c->limit_cpus,
			fmt_dur((uint64_t)c->quota_us * 1000, q, sizeof(q)),
			fmt_dur((uint64_t)c->period_us * 1000, p, sizeof(p)),
			strcmp(c->limit_at, c->path) ? ", set at " : "",
			strcmp(c->limit_at, c->path) ? path_fit(c->limit_at, 24, at, sizeof(at)) : "");
	else
		fprintf(out, "    no CPU limit");
	if (c->cpuset_cpus)
		fprintf(out, "; cpuset %.20s (%d CPU%s)\n", c->cpuset, c->cpuset_cpus,
			c->cpuset_cpus == 1 ? "" : "s");
	else
		fprintf(out, "; cpuset unknown\n");
	if (c->limit_cpus <= 0)
		return;
	if (!c->have_throttle)
		fprintf(out, "    throttling unknown (the cgroup was not read at the start)\n");
	else
		fprintf(out, "    throttled in %llu of %llu %s (%.0f%%), %s in all\n",
			(unsigned long long)c->nr_throttled, (unsigned long long)c->nr_periods,
			plural(c->nr_periods, "period", "periods"),
			c->nr_periods ? 100.0 * c->nr_throttled / c->nr_periods : 0,
			fmt_dur(c->throttled_ns, t, sizeof(t)));
}

static void print_cgroups(FILE *out, const struct model *m)
{
	const struct ps_snapshot *s = m->snap;
	uint32_t shown = m->ncgroups < CGROUPS_SHOWN ? m->ncgroups : CGROUPS_SHOWN;

	if (!m->cgroups_shown)
		return;
	fprintf(out, "\nCGROUPS (%s%s hierarchy%s%.40s)\n", s->cg_kind == PS_CG_V2 ? "" : "v1 ",
		cgroupfs_kind_name(s->cg_kind), s->cg_mount[0] ? " at " : "", s->cg_mount);
	for (uint32_t i = 0; i < shown; i++) {
		const struct cgroup_summary *c = &m->cgroups[i];
		char owner[128], path[96], on[16], use[16], p50[16], p99[16], sw[32];

		cgroup_owner_label(&c->owner, owner, sizeof(owner));
		fprintf(out, "  %s%s%.40s%s\n", path_fit(c->path, owner[0] ? 34 : 76, path, sizeof(path)),
			owner[0] ? "  [" : "", owner, owner[0] ? "]" : "");
		fprintf(out, "    %u thread%s in %u process%s: on-CPU %s, parallelism %.2f\n",
			c->nthreads, c->nthreads == 1 ? "" : "s", c->nprocs, c->nprocs == 1 ? "" : "es",
			fmt_dur(c->oncpu_ns, on, sizeof(on)), c->parallelism);
		fprintf(out, "    %s%s%srunq p50 %s, p99 %s; %s %s\n",
			c->have_usage ? "cgroup usage " : "",
			c->have_usage ? fmt_dur(c->usage_ns, use, sizeof(use)) : "",
			c->have_usage ? "; " : "",
			c->runq_count ? fmt_dur(c->runq_p50_ns, p50, sizeof(p50)) : "-",
			c->runq_count ? fmt_dur(c->runq_p99_ns, p99, sizeof(p99)) : "-",
			fmt_count(c->vol + c->invol, sw, sizeof(sw)),
			plural(c->vol + c->invol, "switch", "switches"));
		print_cgroup_limits(out, c);
	}
	if (shown < m->ncgroups)
		fprintf(out, "  (%u more %s; the JSON report lists them all)\n", m->ncgroups - shown,
			plural(m->ncgroups - shown, "cgroup", "cgroups"));
}

static void print_stacks(FILE *out, const char *title, const struct stack_summary *ss, uint32_t n,
			 uint64_t total, bool is_time, size_t width, bool wide)
{
	char label[8192], v[16];

	fprintf(out, "\n%s\n", title);
	if (!n || !total) {
		fprintf(out, "  (none recorded)\n");
		return;
	}
	for (uint32_t i = 0; i < n && i < 5; i++) {
		if (is_time)
			fmt_dur(ss[i].value, v, sizeof(v));
		else
			snprintf(v, sizeof(v), "%llu", (unsigned long long)ss[i].value);
		fprintf(out, "  %5.1f%% %8s  ", 100.0 * ss[i].value / total, v);
		/* 19 columns of numbers before the label */
		print_wrapped(out, stack_label(ss[i].folded, width - 19, wide, label, sizeof(label)),
			      19, 21, width, BREAK_FRAMES);
	}
}

/* "python3 1234  take_gil on CPython GIL" and its share of the waiters'
 * time: on one line when both fit (the share in the column at 44), else
 * the share on the next; a waiter too long for that (a Python function
 * with its file and line) puts "on NAME" and the share on the next line. */
static void print_lock_head(FILE *out, const struct lock_summary *l, size_t width)
{
	char head[1024], share[64], on[256];
	size_t hc;

	snprintf(head, sizeof(head), "%s %u  %s%s%s", l->comm, l->tgid, l->caller ? l->caller : "?",
		 l->name ? " on " : "", l->name ? l->name : "");
	snprintf(share, sizeof(share), "%5.1f%% of %u %s time", 100 * l->share_waiters,
		 l->nwaiters, l->nwaiters == 1 ? "waiter's" : "waiters'");
	hc = cols(head);
	if (2 + hc + 1 + cols(share) <= width) {
		fprintf(out, "  %s%*s %s\n", head, hc < 40 ? (int)(40 - hc) : 0, "", share);
		return;
	}
	snprintf(on, sizeof(on), "on %s", l->name ? l->name : "");
	if (l->name && 2 + hc - cols(on) <= width && 4 + cols(on) + 2 + cols(share) <= width) {
		fprintf(out, "  %s %u  %s\n    %s  %s\n", l->comm, l->tgid, l->caller ? l->caller : "?", on, share);
		return;
	}
	fputs("  ", out);
	print_wrapped(out, head, 2, 6, width, BREAK_WORDS);
	fprintf(out, "    %s\n", share);
}

static void print_lock_words(FILE *out, const struct lock_summary *l, size_t width)
{
	char words[1024];
	size_t o = 0;

	words[0] = '\0';
	for (uint32_t a = 0; a < l->naddrs; a++) {
		const char *sym = l->addr_symbols[a] ? l->addr_symbols[a] : "";

		o += snprintf(words + o, o < sizeof(words) ? sizeof(words) - o : 0, "%s0x%llx%s%s",
			      a ? ", " : "", (unsigned long long)l->addrs[a], *sym ? " " : "", sym);
	}
	fprintf(out, "    futex ");
	print_wrapped(out, words, 10, 10, width, BREAK_ITEMS);
}

static void print_lock(FILE *out, const struct model *m, const struct lock_summary *l, bool detail,
		       size_t width)
{
	char tot[16], avg[16], mx[16], stack[8192], line[1024];

	print_lock_head(out, l, width);
	fprintf(out, "    %llu %s, %s total, avg %s, max %s\n", (unsigned long long)l->waits,
		plural(l->waits, "wait", "waits"), fmt_dur(l->wait_ns, tot, sizeof(tot)),
		fmt_dur(l->waits ? l->wait_ns / l->waits : 0, avg, sizeof(avg)), fmt_dur(l->max_ns, mx, sizeof(mx)));
	fprintf(out, "    while waiting: the waited-for side busy %.0f%%, the rest of the process %.0f%%\n",
		100 * l->busy_frac, 100 * l->proc_busy_frac);
	if (!detail)
		return;
	char eagain[48] = "";

	/* a wait that returns EAGAIN never blocks: only the syscall
	 * tracepoints see it */
	if (m->snap->futex_source && !strcmp(m->snap->futex_source, "syscall-tracepoints"))
		snprintf(eagain, sizeof(eagain), ", %llu EAGAIN", (unsigned long long)l->eagain);
	snprintf(line, sizeof(line), "    %.1f%% of all traced thread time; %llu timed out%s; "
		 "woken by: %s", 100 * l->share_all, (unsigned long long)l->timeouts, eagain,
		 l->waker ? l->waker : l->woken_by_traced ? "a traced thread" : "untraced or unknown");
	print_wrapped(out, line, 0, 6, width, BREAK_ITEMS);
	fprintf(out, "    stack: ");
	/* up to two lines, to keep the innermost Python frame */
	size_t fit = width - 11, py = python_tail(l->where);
	if (py + 2 > fit && py + 2 <= 2 * fit)
		fit = py + 2;
	print_wrapped(out, frames_fit(l->where[0] ? l->where : "[unknown]", fit, stack, sizeof(stack)),
		      11, 13, width, BREAK_FRAMES);
	print_lock_words(out, l, width);
}

static void print_locks(FILE *out, const struct model *m, size_t width)
{
	uint64_t idle_ns = 0, cont_ns = 0;
	int shown = 0;

	fprintf(out, "\nLOCK CONTENTION (futex waits while the rest of the process ran)\n");
	if (!m->snap->locks) {
		fprintf(out, "  not traced (--no-locks)\n");
		return;
	}
	for (uint32_t i = 0; i < m->nlocks; i++) {
		if (m->locks[i].contended)
			cont_ns += m->locks[i].wait_ns;
		else
			idle_ns += m->locks[i].wait_ns;
	}
	for (uint32_t i = 0; i < m->nlocks && shown < 3; i++) {
		const struct lock_summary *l = &m->locks[i];

		if (!l->contended || l->share_all < 0.001)
			continue;
		print_lock(out, m, l, true, width);
		shown++;
	}
	if (!shown)
		fprintf(out, "  none worth naming (%.1f%% of thread time in contended futex waits)\n",
			m->thread_time_ns ? 100.0 * cont_ns / m->thread_time_ns : 0);
	fprintf(out, "OTHER FUTEX WAITS (not contention)\n");
	shown = 0;
	for (uint32_t i = 0; i < m->nlocks && shown < 3; i++) {
		const struct lock_summary *l = &m->locks[i];

		if (l->contended || !l->waits || l->share_all < 0.001)
			continue;
		print_lock(out, m, l, false, width);
		fprintf(out, "    %s\n", l->cls == LOCK_AWAITING ?
			"awaiting-work: one thread waited while the others worked (e.g. for results)" :
			"idle: the waited-for side was idle or blocked too (e.g. an empty queue)");
		shown++;
	}
	if (!shown)
		fprintf(out, "  none (%.1f%% of thread time)\n",
			m->thread_time_ns ? 100.0 * idle_ns / m->thread_time_ns : 0);
}

static void print_paragraph(FILE *out, const char *p)
{
	while (*p) {
		size_t n = strcspn(p, "\n");

		fprintf(out, "  %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
}

/* attach -a: each busy program's verdict, the busiest first. */
static void print_groups(FILE *out, const struct model *m, const struct report_opts *o)
{
	char on[16];

	fprintf(out, "\nDIAGNOSIS BY PROGRAM (the %d busiest of %u processes, each on its own)\n",
		o->ngroups, m->nprocs);
	for (int i = 0; i < o->ngroups; i++) {
		const struct program_group *g = &o->groups[i];
		const struct diagnosis *d = &g->d;

		fprintf(out, "%s%s: %u %s, %llu %s, %s on a CPU\n", i ? "\n" : "", g->comm, g->nprocs,
			plural(g->nprocs, "process", "processes"),
			(unsigned long long)g->m.thread_count, plural(g->m.thread_count, "thread", "threads"),
			fmt_dur(g->oncpu_ns, on, sizeof(on)));
		fprintf(out, "  %s (confidence %.2f, %s)\n", d->label ? d->label : "?", d->confidence,
			diagnose_confidence_word(d->confidence));
		print_paragraph(out, d->text);
	}
}

void report_diagnosis_text(FILE *out, const struct diagnosis *d)
{
	char conf[48];
	const char *label = d->label ? d->label : "?";

	snprintf(conf, sizeof(conf), "(confidence %.2f, %s)", d->confidence,
		 diagnose_confidence_word(d->confidence));
	/* a label with numbers can push the confidence onto a line of its own */
	if (cols("DIAGNOSIS  ") + cols(label) + 1 + cols(conf) <= WIDTH)
		fprintf(out, "\nDIAGNOSIS  %s %s\n", label, conf);
	else
		fprintf(out, "\nDIAGNOSIS  %s\n  %s\n", label, conf);
	print_paragraph(out, d->text);
}

void report_text(FILE *out, const struct model *m, const struct diagnosis *d,
		 const struct report_opts *o)
{
	size_t width = o->wide ? WIDE_WIDTH : WIDTH;

	print_header(out, m, o, width);
	print_cores(out, m);
	if (o->brief) {
		struct report_opts b = *o;

		b.wide = false;
		print_threads(out, m, &b);
		fflush(out);
		return;
	}
	print_strip(out, m, o);
	print_runq(out, m);
	print_procs(out, m, o);
	print_threads(out, m, o);
	print_cgroups(out, m);
	print_locks(out, m, width);
	if (m->snap->offcpu)
		print_stacks(out, m->snap->offcpu && m->n_offcpu ? "WHERE THREADS WAIT (off-CPU time by stack, top 5)" :
			     "WHERE THREADS WAIT (off-CPU time by stack)", m->offcpu, m->n_offcpu,
			     m->offcpu_total_ns, true, width, o->wide);
	if (m->snap->oncpu) {
		char title[96];

		snprintf(title, sizeof(title), "ON-CPU (samples at %u Hz per CPU by stack, top 5)",
			 m->snap->sample_hz);
		print_stacks(out, title, m->oncpu, m->n_oncpu, m->oncpu_samples, false, width, o->wide);
	}
	if (o->ngroups)
		print_groups(out, m, o);
	else
		report_diagnosis_text(out, d);
	fflush(out);
}
