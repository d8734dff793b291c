/* user/report_text.c: the text report (stdout), readable on 80 columns. */
#include "report.h"
#include "hist.h"
#include "util.h"
#include <string.h>

#define THREADS_SHOWN 20

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static void print_header(FILE *out, const struct model *m, const struct report_opts *o)
{
	char wall[16], cpu[16], ev[32], dr[32];

	fprintf(out, "poolscope: %s\n", o->title ? o->title : "trace");
	fprintf(out, "traced %u %s, %u %s on %d CPUs for %s      events: %s  dropped: %s\n",
		m->nprocs, plural(m->nprocs, "process", "processes"), m->nthreads,
		plural(m->nthreads, "thread", "threads"), m->nr_cpus,
		fmt_dur(m->wall_ns, wall, sizeof(wall)),
		fmt_count(m->snap->events, ev, sizeof(ev)), fmt_count(m->dropped, dr, sizeof(dr)));
	fprintf(out, "on-CPU %s in %s: parallelism %.2f of %d CPUs, cores %.0f%% busy (%s)\n",
		fmt_dur(m->oncpu_ns, cpu, sizeof(cpu)), fmt_dur(m->wall_ns, wall, sizeof(wall)),
		m->parallelism, m->nr_cpus, m->busy_pct, m->snap->attach_mode);
	if (m->dropped) {
		const struct ps_drops *d = &m->snap->drops;

		fprintf(out, "WARNING: data lost: %llu threads beyond --max-threads (%llu of their "
			"events), %llu task-storage failures, %llu forked processes not followed\n",
			(unsigned long long)d->no_slot_threads, (unsigned long long)d->no_slot_events,
			(unsigned long long)d->storage_fail, (unsigned long long)d->tgid_full);
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
			const struct ps_thread *t = &m->snap->threads[cs->top[k].thread];
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
	fprintf(out, "\nCORES OVER TIME (busy share of each %s; ' ' idle .. '█' full)\n",
		fmt_dur(s->slice_ns * per_cell, d, sizeof(d)));
	for (int c = 0; c < s->nr_cpus; c++) {
		fprintf(out, "  cpu%-3d |", c);
		for (unsigned k = 0; k < ncell; k++) {
			uint64_t busy = 0, from, to;
			unsigned a = k * per_cell, b = a + per_cell;

			if (b > s->nslices)
				b = s->nslices;
			from = a ? s->slice_end_ns[a - 1] : s->start_ns;
			to = s->slice_end_ns[b - 1];
			for (unsigned i = a; i < b; i++)
				busy += s->slice_busy_ns[(size_t)i * s->nr_cpus + c];
			double frac = to > from ? (double)busy / (to - from) : 0;
			int lvl = frac <= 0.01 ? 0 : (int)(frac * 8 + 0.5);
			fputs(shade[lvl < 1 && frac > 0.01 ? 1 : lvl > 8 ? 8 : lvl], out);
		}
		fputs("|\n", out);
	}
	/* time axis under the strip: 0 at its left edge, the window at its right */
	fmt_dur(m->wall_ns, w, sizeof(w));
	if (ncell >= strlen(w) + 2)
		fprintf(out, "%9s0%*s\n", "", (int)(ncell - 1), w);
	else
		fprintf(out, "%9s0 .. %s\n", "", w);
}

static void print_runq(FILE *out, const struct model *m)
{
	char n[32], a[16], b[16], c[16], x[16];

	fprintf(out, "\nRUN-QUEUE LATENCY (traced threads)\n  %s waits; p50 %s, p90 %s, p99 %s, max %s\n",
		fmt_count(m->runq_count, n, sizeof(n)), fmt_dur(m->runq_p50_ns, a, sizeof(a)),
		fmt_dur(m->runq_p90_ns, b, sizeof(b)), fmt_dur(m->runq_p99_ns, c, sizeof(c)),
		fmt_dur(m->runq_max_ns, x, sizeof(x)));
	hist_print(out, m->runq_hist, PS_HIST_SLOTS, 30);
}

static void print_procs(FILE *out, const struct model *m)
{
	char on[16], off[16], rq[16], v[32], iv[32];

	if (m->nprocs < 2)
		return;
	fprintf(out, "\nPROCESSES\n  %7s %-15s %7s %8s %8s %9s %6s %6s\n", "PID", "COMM", "threads",
		"on-CPU", "off-CPU", "runq wait", "vol", "invol");
	for (uint32_t i = 0; i < m->nprocs; i++) {
		const struct process_summary *p = &m->procs[i];

		fprintf(out, "  %7u %-15.15s %7u %8s %8s %9s %6s %6s\n", p->tgid, p->comm,
			p->nthreads, fmt_dur(p->oncpu_ns, on, sizeof(on)),
			fmt_dur(p->offcpu_ns, off, sizeof(off)), fmt_dur(p->runq_wait_ns, rq, sizeof(rq)),
			fmt_count(p->vol, v, sizeof(v)), fmt_count(p->invol, iv, sizeof(iv)));
	}
}

static void print_threads(FILE *out, const struct model *m, const struct report_opts *o)
{
	uint32_t shown = o->wide || m->nthreads <= THREADS_SHOWN ? m->nthreads : THREADS_SHOWN;
	char on[16], off[16], rq[16], v[32], iv[32];

	fprintf(out, "\nTHREADS (by on-CPU time");
	if (shown < m->nthreads)
		fprintf(out, "; top %u of %u, --wide for all", shown, m->nthreads);
	fprintf(out, ")\n  %7s %7s %-15s %8s %8s %9s %6s %6s %4s\n", "TID", "PID", "COMM", "on-CPU",
		"off-CPU", "runq wait", "vol", "invol", "migr");
	for (uint32_t i = 0; i < shown; i++) {
		const struct thread_summary *ts = &m->threads[i];
		const struct ps_thread *t = ts->t;

		fprintf(out, "  %7u %7u %-15.15s %8s %8s %9s %6s %6s %4llu%s\n", t->tid, t->tgid,
			t->comm, fmt_dur(t->oncpu_ns, on, sizeof(on)),
			fmt_dur(ts->offcpu_ns, off, sizeof(off)),
			fmt_dur(t->runq_wait_ns, rq, sizeof(rq)), fmt_count(t->vol, v, sizeof(v)),
			fmt_count(t->invol, iv, sizeof(iv)), (unsigned long long)t->migrations,
			o->wide && (t->flags & PS_THREAD_EXITED) ? " exited" : "");
	}
}

void report_text(FILE *out, const struct model *m, const struct report_opts *o)
{
	print_header(out, m, o);
	print_cores(out, m);
	print_strip(out, m, o);
	print_runq(out, m);
	print_procs(out, m);
	print_threads(out, m, o);
	fflush(out);
}
