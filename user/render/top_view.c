/* user/render/top_view.c: the screen of `poolscope top` (see top_view.h).
 *
 * Per-core view (the default), on 80x24 for a few cores:
 *   title: what is traced, the clock, the time traced
 *   verdict of the last interval; threads, parallelism, events; drops
 *   one row per core: busy bar (traced '#', other '='), traced and other
 *   share, run-queue p99, switches per second; under it the core's top
 *   threads
 *   the top contended lock
 *   the threads, sorted by the chosen column, as many as fit
 *   the keys
 * The per-thread view shows one row for all cores together and gives the
 * rest of the screen to the threads. */
#include "render/top_view.h"
#include "sys/util.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CORE_LABEL 6    /* "cpu0  " */
#define CORE_RIGHT 34   /* " traced  other  runq p99  switch/s" */
#define THREAD_COLS "  %7s %7s %-15s %6s %6s %6s %7s %7s %4s"

static const char *const sort_names[TOP_SORTS] = {
	"on-CPU", "run-queue wait", "switches", "lock wait", "TID",
};

const char *top_sort_name(enum top_sort sort)
{
	return sort < TOP_SORTS ? sort_names[sort] : "?";
}

void top_screen_resize(struct top_screen *s, int rows, int cols)
{
	rows = rows < 1 ? 1 : rows;
	cols = cols < 1 ? 1 : cols;
	if (s->text && s->rows == rows && s->cols == cols)
		return;
	free(s->text);
	free(s->attr);
	s->rows = rows;
	s->cols = cols;
	s->text = xcalloc((size_t)rows, cols + 1);
	s->attr = xcalloc((size_t)rows, cols);
}

void top_screen_free(struct top_screen *s)
{
	free(s->text);
	free(s->attr);
	memset(s, 0, sizeof(*s));
}

static void clear_screen(struct top_screen *s)
{
	for (int r = 0; r < s->rows; r++) {
		char *t = s->text + (size_t)r * (s->cols + 1);

		memset(t, ' ', s->cols);
		t[s->cols] = '\0';
	}
	memset(s->attr, TOP_NORMAL, (size_t)s->rows * s->cols);
}

/* Write text at (row, col) in attribute a, clipped to the screen; what is
 * not printable ASCII (a comm's bytes) shows as '?'. Returns the column
 * after it. */
static int put(struct top_screen *s, int row, int col, enum top_attr a, const char *text)
{
	if (row < 0 || row >= s->rows)
		return col;
	for (; *text; text++, col++) {
		unsigned char ch = *text;

		if (col < 0 || col >= s->cols)
			continue;
		s->text[(size_t)row * (s->cols + 1) + col] = ch >= 0x20 && ch < 0x7f ? ch : '?';
		s->attr[(size_t)row * s->cols + col] = a;
	}
	return col;
}

static int putf(struct top_screen *s, int row, int col, enum top_attr a, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int putf(struct top_screen *s, int row, int col, enum top_attr a, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return put(s, row, col, a, buf);
}

/* The whole row in attribute a (title bars). */
static void fill_row(struct top_screen *s, int row, enum top_attr a)
{
	if (row >= 0 && row < s->rows)
		memset(s->attr + (size_t)row * s->cols, a, s->cols);
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * part / whole : 0;
}

static double per_s(uint64_t n, uint64_t ns)
{
	return ns ? n * 1e9 / ns : 0;
}

/* --- rows ---------------------------------------------------------------- */

static void title_row(const struct top_view *v, struct top_screen *s, int row)
{
	char clock[16] = "", up[16], right[64];

	if (v->wall_end_ns) {
		time_t t = v->wall_end_ns / 1000000000ull;
		struct tm tm;

		strftime(clock, sizeof(clock), "%H:%M:%S", localtime_r(&t, &tm));
	}
	snprintf(right, sizeof(right), "%s%s  traced %s ", v->paused ? "PAUSED  " : "", clock,
		 fmt_dur(v->elapsed_ns / 1000000000ull * 1000000000ull, up, sizeof(up)));
	int room = s->cols - (int)strlen(right);

	fill_row(s, row, TOP_TITLE);
	/* the clock stays; a long title gives way */
	putf(s, row, 0, TOP_TITLE, " poolscope %.*s", room > 12 ? room - 12 : 0, v->title ? v->title : "top");
	put(s, row, room, TOP_TITLE, right);
}

static void status_rows(const struct top_view *v, struct top_screen *s, int row)
{
	const struct model *m = v->m;
	char ev[32], dr[32], iv[16];
	int col;

	fmt_dur(v->interval_ns, iv, sizeof(iv));
	if (!m) {
		putf(s, row, 1, TOP_NORMAL, "waiting for the first interval (%s)...", iv);
		return;
	}
	col = put(s, row, 1, TOP_HEADER, "verdict");
	putf(s, row, col, TOP_NORMAL, " (last %s): %s (%s)", iv, v->d && v->d->label ? v->d->label : "?",
	     v->d ? diagnose_confidence_word(v->d->confidence) : "?");
	fmt_count(v->dropped, dr, sizeof(dr));
	putf(s, row, s->cols - 10 - (int)strlen(dr), v->dropped ? TOP_WARN : TOP_NORMAL,
	     " dropped %s ", dr);
	putf(s, row + 1, 1, TOP_NORMAL, "%llu %s in %u %s; parallelism %.2f of %d CPUs; %s events/s",
	     (unsigned long long)m->thread_count, m->thread_count == 1 ? "thread" : "threads",
	     m->nprocs, m->nprocs == 1 ? "process" : "processes", m->parallelism, m->nr_cpus,
	     fmt_count((uint64_t)per_s(m->snap->events, m->wall_ns), ev, sizeof(ev)));
}

static int bar_width(const struct top_screen *s)
{
	int w = s->cols - CORE_LABEL - 2 - CORE_RIGHT;

	return w < 4 ? 4 : w;
}

static void cores_header(struct top_screen *s, int row)
{
	int w = bar_width(s);

	put(s, row, 0, TOP_HEADER, "core");
	put(s, row, CORE_LABEL + 1, TOP_HEADER, "busy: ");
	put(s, row, CORE_LABEL + 7, TOP_TRACED, "#");
	put(s, row, CORE_LABEL + 8, TOP_HEADER, " traced, ");
	put(s, row, CORE_LABEL + 17, TOP_OTHER, "=");
	put(s, row, CORE_LABEL + 18, TOP_HEADER, " other");
	putf(s, row, CORE_LABEL + 2 + w, TOP_HEADER, " %6s %6s %9s %9s", "traced", "other", "runq p99",
	     "switch/s");
}

/* "cpu0  [####===     ]  40.0%  20.0%   1.20 ms     1,234" */
static void core_row(struct top_screen *s, int row, const char *label, double traced, double busy,
		     uint64_t runq_count, uint64_t runq_p99, double switches_s)
{
	int w = bar_width(s), t, o, col;
	double other = busy > traced ? busy - traced : 0;
	char p99[16], sw[32], tp[16], op[16];

	traced = traced > 100 ? 100 : traced < 0 ? 0 : traced;
	t = (int)(w * traced / 100 + 0.5);
	o = (int)(w * (traced + other) / 100 + 0.5) - t;
	o = t + o > w ? w - t : o < 0 ? 0 : o;
	put(s, row, 0, TOP_NORMAL, label);
	col = put(s, row, CORE_LABEL, TOP_NORMAL, "[");
	for (int i = 0; i < w; i++)
		col = put(s, row, col, i < t ? TOP_TRACED : i < t + o ? TOP_OTHER : TOP_NORMAL,
			  i < t ? "#" : i < t + o ? "=" : " ");
	col = put(s, row, col, TOP_NORMAL, "]");
	snprintf(tp, sizeof(tp), "%.1f%%", traced);
	snprintf(op, sizeof(op), "%.1f%%", other);
	putf(s, row, col, TOP_NORMAL, " %6s %6s %9s %9s", tp, op,
	     runq_count ? fmt_dur(runq_p99, p99, sizeof(p99)) : "-",
	     fmt_count((uint64_t)(switches_s + 0.5), sw, sizeof(sw)));
}

/* "       top: 31962 gil-threads 55%, 31961 gil-threads 40%" */
static void core_top_row(const struct model *m, const struct core_summary *cs, struct top_screen *s,
			 int row)
{
	int col = put(s, row, CORE_LABEL + 1, TOP_HEADER, "top:");

	if (cs->top[0].thread < 0) {
		put(s, row, col, TOP_NORMAL, " (no traced thread ran here)");
		return;
	}
	for (int k = 0; k < MODEL_TOP_THREADS && cs->top[k].thread >= 0; k++) {
		const struct thread_summary *t = &m->threads[cs->top[k].thread];
		char item[64];
		int n = snprintf(item, sizeof(item), "%s %u %.15s %.0f%%", k ? "," : "", t->tid, t->comm,
				 pct(cs->top[k].ns, m->wall_ns));

		if (col + n > s->cols)
			break;
		col = put(s, row, col, TOP_NORMAL, item);
	}
}

/* Cores from row on, at most rows rows (2 or more); returns the rows used.
 * With room, each core gets its top threads under it; without, the last
 * row says how many cores did not fit. */
static int cores_rows(const struct model *m, struct top_screen *s, int row, int rows)
{
	bool tops = 1 + 2 * m->nr_cpus <= rows;
	int c, used = 1;

	cores_header(s, row);
	for (c = 0; c < m->nr_cpus; c++) {
		const struct core_summary *cs = &m->cores[c];
		char label[16];

		if (used >= rows || (used == rows - 1 && c < m->nr_cpus - 1))
			break;
		snprintf(label, sizeof(label), "cpu%d", cs->cpu);
		core_row(s, row + used++, label, cs->traced_pct, cs->busy_pct, cs->runq_count,
			 cs->runq_p99_ns, per_s(cs->switches, m->wall_ns));
		if (tops)
			core_top_row(m, cs, s, row + used++);
	}
	if (c < m->nr_cpus)
		putf(s, row + used++, CORE_LABEL + 1, TOP_HEADER,
		     "(%d more cores: a taller terminal, or 1 for the per-thread view)",
		     m->nr_cpus - c);
	return used;
}

/* All cores in one row (the per-thread view). */
static int all_cores_row(const struct model *m, struct top_screen *s, int row)
{
	uint64_t traced = 0;

	for (int c = 0; c < m->nr_cpus; c++)
		traced += m->cores[c].traced_ns;
	cores_header(s, row);
	core_row(s, row + 1, "all", pct(traced, m->wall_ns * (m->nr_cpus ? m->nr_cpus : 1)),
		 m->busy_pct, m->runq_count, m->runq_p99_ns, per_s(m->switches, m->wall_ns));
	return 2;
}

/* The top contended lock of the interval: one row, or two when its name
 * and numbers do not fit one. Returns the rows used. */
static int lock_rows(const struct model *m, struct top_screen *s, int row, int rows)
{
	const struct lock_summary *l = NULL;
	char head[512], numbers[256];
	int col = put(s, row, 1, TOP_HEADER, "lock");

	if (!m->snap->locks) {
		put(s, row, col, TOP_NORMAL, "  not traced (--no-locks)");
		return 1;
	}
	for (uint32_t i = 0; i < m->nlocks && !l; i++)
		if (m->locks[i].contended && m->locks[i].waits && m->locks[i].share_all >= 0.001)
			l = &m->locks[i];
	if (!l) {
		put(s, row, col, TOP_NORMAL, "  no contended lock in this interval");
		return 1;
	}
	snprintf(head, sizeof(head), "  %s%s%s (%s %u)", l->caller ? l->caller : "?",
		 l->name ? " on " : "", l->name ? l->name : "", l->comm, l->tgid);
	snprintf(numbers, sizeof(numbers), "%.0f%% of %u %s time, %llu %s", 100 * l->share_waiters,
		 l->nwaiters, l->nwaiters == 1 ? "waiter's" : "waiters'", (unsigned long long)l->waits,
		 l->waits == 1 ? "wait" : "waits");
	col = put(s, row, col, TOP_NORMAL, head);
	if (col + 2 + (int)strlen(numbers) <= s->cols || rows < 2) {
		putf(s, row, col, TOP_NORMAL, ": %s", numbers);
		return 1;
	}
	put(s, row + 1, 7, TOP_NORMAL, numbers);
	return 2;
}

/* --- threads ------------------------------------------------------------- */

static uint64_t sort_key(const struct thread_summary *t, enum top_sort sort)
{
	switch (sort) {
	case TOP_SORT_RUNQ: return t->runq_wait_ns;
	case TOP_SORT_SWITCHES: return t->vol + t->invol;
	case TOP_SORT_LOCK: return t->lock_wait_ns;
	case TOP_SORT_TID: return UINT64_MAX - t->tid;
	default: return t->oncpu_ns;
	}
}

static int by_key(const void *a, const void *b, void *arg)
{
	const struct model *m = ((const struct top_view *)arg)->m;
	enum top_sort sort = ((const struct top_view *)arg)->sort;
	const struct thread_summary *x = &m->threads[*(const uint32_t *)a];
	const struct thread_summary *y = &m->threads[*(const uint32_t *)b];
	uint64_t kx = sort_key(x, sort), ky = sort_key(y, sort);

	if (kx != ky)
		return kx > ky ? -1 : 1;
	return x->oncpu_ns != y->oncpu_ns ? (x->oncpu_ns > y->oncpu_ns ? -1 : 1) :
	       (x->tid > y->tid) - (x->tid < y->tid);
}

/* The core a thread ran on most in the interval, -1 if it did not run. */
static int main_core(const struct model *m, const struct thread_summary *t)
{
	int best = -1;

	for (int c = 0; c < m->nr_cpus; c++)
		if (t->oncpu_by_cpu[c] && (best < 0 || t->oncpu_by_cpu[c] > t->oncpu_by_cpu[best]))
			best = c;
	return best;
}

static void thread_row(const struct model *m, const struct thread_summary *t, struct top_screen *s,
		       int row)
{
	char tid[16], pid[16], comm[32], on[16], rq[16], lk[16], v[32], iv[32], core[16];
	int c = main_core(m, t);

	snprintf(tid, sizeof(tid), t->folded ? "-" : "%u", t->tid);
	snprintf(pid, sizeof(pid), "%u", t->tgid);
	if (t->folded)
		snprintf(comm, sizeof(comm), "(%llu exited)", (unsigned long long)t->folded);
	else
		snprintf(comm, sizeof(comm), "%.15s", t->comm);
	snprintf(on, sizeof(on), "%.1f", pct(t->oncpu_ns, m->wall_ns));
	snprintf(rq, sizeof(rq), "%.1f", pct(t->runq_wait_ns, m->wall_ns));
	snprintf(lk, sizeof(lk), "%.1f", pct(t->lock_wait_ns, m->wall_ns));
	fmt_count((uint64_t)(per_s(t->vol, m->wall_ns) + 0.5), v, sizeof(v));
	fmt_count((uint64_t)(per_s(t->invol, m->wall_ns) + 0.5), iv, sizeof(iv));
	snprintf(core, sizeof(core), c < 0 ? "-" : "%d", c);
	putf(s, row, 0, TOP_NORMAL, THREAD_COLS, tid, pid, comm, on, rq, lk, v, iv, core);
}

static void threads_header(const struct top_view *v, struct top_screen *s, int row)
{
	/* the columns' starts, as THREAD_COLS lays them out */
	static const struct { const char *name; int col, width; int sort; } cols[] = {
		{ "TID", 2, 7, TOP_SORT_TID }, { "PID", 10, 7, -1 }, { "COMM", 18, 15, -1 },
		{ "CPU%", 34, 6, TOP_SORT_CPU }, { "RUNQ%", 41, 6, TOP_SORT_RUNQ },
		{ "LOCK%", 48, 6, TOP_SORT_LOCK }, { "VOL/s", 55, 7, TOP_SORT_SWITCHES },
		{ "INVOL/s", 63, 7, TOP_SORT_SWITCHES }, { "CORE", 71, 4, -1 },
	};

	for (size_t i = 0; i < ARRAY_LEN(cols); i++) {
		char cell[32];

		/* COMM is left-aligned, the others right-aligned */
		snprintf(cell, sizeof(cell), i == 2 ? "%-*s" : "%*s", cols[i].width, cols[i].name);
		put(s, row, cols[i].col, cols[i].sort == (int)v->sort ? TOP_SORTED : TOP_HEADER, cell);
	}
}

static void threads_rows(const struct top_view *v, struct top_screen *s, int row, int rows)
{
	const struct model *m = v->m;
	uint32_t *order, n = m->nthreads;

	if (rows < 2)
		return;
	threads_header(v, s, row);
	order = xcalloc(n ? n : 1, sizeof(*order));
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), by_key, (void *)v);
	for (uint32_t i = 0; i < n && (int)i < rows - 1; i++) {
		if ((int)i == rows - 2 && n > (uint32_t)rows - 1) {
			putf(s, row + 1 + i, 2, TOP_HEADER, "(%u more threads)", n - i);
			break;
		}
		thread_row(m, &m->threads[order[i]], s, row + 1 + i);
	}
	free(order);
}

static void keys_row(const struct top_view *v, struct top_screen *s, int row)
{
	fill_row(s, row, TOP_TITLE);
	putf(s, row, 0, TOP_TITLE, " q quit  p %s  s sort: %s  1 %s view", v->paused ? "resume" : "pause",
	     top_sort_name(v->sort), v->mode == TOP_PER_CORE ? "per-thread" : "per-core");
}

void top_render(const struct top_view *v, struct top_screen *s)
{
	const struct model *m = v->m;
	int row, last = s->rows - 1;

	clear_screen(s);
	if (s->rows < TOP_MIN_ROWS || s->cols < TOP_MIN_COLS) {
		putf(s, 0, 0, TOP_NORMAL, "too small: %dx%d (%dx%d needed)", s->cols, s->rows,
		     TOP_MIN_COLS, TOP_MIN_ROWS);
		return;
	}
	title_row(v, s, 0);
	status_rows(v, s, 1);
	keys_row(v, s, last);
	if (!m)
		return;
	row = 4;
	if (v->mode == TOP_PER_CORE) {
		/* the cores leave room for the lock row and a few threads */
		int rows = last - row - 3 - (s->rows >= 20 ? 4 : 2);

		row += cores_rows(m, s, row, rows < 2 ? 2 : rows) + 1;
	} else {
		row += all_cores_row(m, s, row) + 1;
	}
	if (row < last)
		row += lock_rows(m, s, row, last - row - 1) + 1;
	threads_rows(v, s, row, last - row);
}
