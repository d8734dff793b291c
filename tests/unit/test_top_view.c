/* tests/unit/test_top_view.c: the screen of `poolscope top` laid out from a
 * hand-made interval (no BPF, no curses): on 80x24 both cores, their bars in
 * proportion to the busy times given, their top threads, the threads in the
 * order each sort key gives, the per-thread view, the keys row; a tall
 * machine on a small screen says how many cores did not fit; a screen too
 * small says so. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "model/diagnose.h"
#include "model/model.h"
#include "render/top_view.h"

#define MS 1000000ull

/* One second on ncpus cores: thread i (tid 500 + i, one process) runs
 * (i + 1) * 100 ms on core i % ncpus, waits 300 - 100 * i ms runnable and
 * switches 10 * (3 - i) times; core c is busy 500 ms, of which its
 * threads' time is traced. */
static void make_interval(struct ps_snapshot *s, int ncpus, int nthreads)
{
	memset(s, 0, sizeof(*s));
	s->start_ns = 10000 * MS;
	s->end_ns = 11000 * MS;
	s->nr_cpus = ncpus;
	s->attach_mode = "tp_btf";
	s->nthreads = nthreads;
	s->threads = calloc(nthreads, sizeof(*s->threads));
	s->thread_cpu_ns = calloc((size_t)nthreads * ncpus, sizeof(uint64_t));
	s->cpus = calloc(ncpus, sizeof(*s->cpus));
	s->migr = calloc(ncpus, sizeof(*s->migr));
	for (int i = 0; i < nthreads; i++) {
		struct ps_thread *t = &s->threads[i];
		int c = i % ncpus;

		t->tid = 500 + i;
		t->tgid = 500;
		snprintf(t->comm, sizeof(t->comm), i ? "worker-%d" : "main", i);
		t->first_ns = s->start_ns;
		t->oncpu_ns = (i + 1) * 100 * MS;
		t->runq_wait_ns = i < 3 ? (300 - 100 * i) * MS : 0;
		t->vol = i < 3 ? 10 * (3 - i) : 0;
		s->thread_cpu_ns[(size_t)i * ncpus + c] = t->oncpu_ns;
		s->cpus[c].traced_ns += t->oncpu_ns;
		s->cpus[c].switches += t->vol;
		s->cpus[c].vol += t->vol;
	}
	for (int c = 0; c < ncpus; c++)
		s->cpus[c].busy_ns = s->cpus[c].traced_ns > 500 * MS ? s->cpus[c].traced_ns : 500 * MS;
}

/* The row that starts with prefix, -1 if none. */
static int find_row(const struct top_screen *scr, const char *prefix)
{
	for (int r = 0; r < scr->rows; r++)
		if (!strncmp(top_row(scr, r), prefix, strlen(prefix)))
			return r;
	return -1;
}

static int find_text(const struct top_screen *scr, const char *text)
{
	for (int r = 0; r < scr->rows; r++)
		if (strstr(top_row(scr, r), text))
			return r;
	return -1;
}

static int count_char(const char *s, char ch)
{
	int n = 0;

	for (; *s; s++)
		n += *s == ch;
	return n;
}

/* The TIDs of the thread rows, in screen order. */
static int thread_order(const struct top_screen *scr, unsigned *tids, int max)
{
	int r = find_text(scr, "COMM"), n = 0;

	for (r = r < 0 ? scr->rows : r + 1; r < scr->rows - 1 && n < max; r++) {
		unsigned tid;

		if (sscanf(top_row(scr, r), "%u", &tid) == 1)
			tids[n++] = tid;
	}
	return n;
}

static void dump(const struct top_screen *scr)
{
	for (int r = 0; r < scr->rows; r++)
		printf("  |%s|\n", top_row(scr, r));
}

int main(void)
{
	struct ps_snapshot s;
	struct model m;
	struct diagnosis d;
	struct top_screen scr = { 0 };
	unsigned tids[16];

	make_interval(&s, 2, 3);
	model_build(&s, &m);
	diagnose(&m, &d);
	struct top_view v = { .title = "top -p 500 (main)", .m = &m, .d = &d, .interval_ns = 1000 * MS,
			      .elapsed_ns = 5000 * MS };

	top_screen_resize(&scr, 24, 80);
	top_render(&v, &scr);
	int r0 = find_row(&scr, "cpu0 "), r1 = find_row(&scr, "cpu1 ");
	CHECK("80x24: both cores have a row", r0 > 0 && r1 > r0, "cpu0 at %d, cpu1 at %d", r0, r1);
	bool widths = true;
	for (int r = 0; r < scr.rows; r++)
		widths &= strlen(top_row(&scr, r)) == 80;
	CHECK("80x24: every row is 80 columns", widths, "a row is not");
	if (r0 > 0 && r1 > 0) {
		/* cpu0: threads 500 and 502 ran 100 + 300 ms of its 500 ms busy;
		 * cpu1: thread 501 200 ms of 500 */
		const char *b0 = strchr(top_row(&scr, r0), '['), *b1 = strchr(top_row(&scr, r1), '[');
		int w = (int)(strchr(b0, ']') - b0) - 1;
		char bar0[128], bar1[128];

		snprintf(bar0, sizeof(bar0), "%.*s", w, b0 + 1);
		snprintf(bar1, sizeof(bar1), "%.*s", w, b1 + 1);
		CHECK("cpu0's bar: 40% traced '#', 10% other '='",
		      count_char(bar0, '#') == (int)(w * 0.4 + 0.5) &&
		      count_char(bar0, '#') + count_char(bar0, '=') == (int)(w * 0.5 + 0.5),
		      "bar '%s' of %d", bar0, w);
		CHECK("cpu1's bar: 20% traced, 30% other",
		      count_char(bar1, '#') == (int)(w * 0.2 + 0.5) &&
		      count_char(bar1, '#') + count_char(bar1, '=') == (int)(w * 0.5 + 0.5),
		      "bar '%s' of %d", bar1, w);
		int col = (int)(b0 - top_row(&scr, r0)) + 1;
		CHECK("the traced part is drawn as traced, the other as other",
		      scr.attr[(size_t)r0 * 80 + col] == TOP_TRACED &&
		      scr.attr[(size_t)r0 * 80 + col + count_char(bar0, '#')] == TOP_OTHER,
		      "attrs %d %d", scr.attr[(size_t)r0 * 80 + col],
		      scr.attr[(size_t)r0 * 80 + col + count_char(bar0, '#')]);
		char traced[16], other[16], p99[16], sw[16];
		int k = sscanf(strchr(top_row(&scr, r0), ']') + 1, "%15s %15s %15s %15s", traced, other,
			       p99, sw);
		CHECK("cpu0's row: 40.0% traced, 10.0% other, no run-queue wait, 40 switches/s",
		      k == 4 && !strcmp(traced, "40.0%") && !strcmp(other, "10.0%") && !strcmp(p99, "-") &&
		      !strcmp(sw, "40"), "'%s'", top_row(&scr, r0));
		CHECK("under cpu0: its top threads, busiest first",
		      strstr(top_row(&scr, r0 + 1), "top: 502 worker-2 30%, 500 main 10%") != NULL,
		      "'%s'", top_row(&scr, r0 + 1));
	}
	CHECK("the title names the targets; the verdict and the drops are shown",
	      strstr(top_row(&scr, 0), "poolscope top -p 500 (main)") && strstr(top_row(&scr, 1), "verdict") &&
	      strstr(top_row(&scr, 1), "dropped 0"), "'%s' '%s'", top_row(&scr, 0), top_row(&scr, 1));
	CHECK("no futex tracing: the lock row says so", find_text(&scr, "not traced (--no-locks)") > 0,
	      "no lock row");
	CHECK("the keys row is the last", strstr(top_row(&scr, 23), "q quit") &&
	      strstr(top_row(&scr, 23), "s sort: on-CPU"), "'%s'", top_row(&scr, 23));
	int n = thread_order(&scr, tids, 16);
	CHECK("threads by on-CPU: 502, 501, 500", n == 3 && tids[0] == 502 && tids[1] == 501 && tids[2] == 500,
	      "%d rows: %u %u %u", n, tids[0], tids[1], tids[2]);

	v.sort = TOP_SORT_RUNQ;
	top_render(&v, &scr);
	n = thread_order(&scr, tids, 16);
	CHECK("sorted by run-queue wait: 500, 501, 502", n == 3 && tids[0] == 500 && tids[1] == 501 &&
	      tids[2] == 502 && strstr(top_row(&scr, 23), "sort: run-queue wait"),
	      "%d rows: %u %u %u", n, tids[0], tids[1], tids[2]);
	v.sort = TOP_SORT_TID;
	top_render(&v, &scr);
	n = thread_order(&scr, tids, 16);
	CHECK("sorted by TID: 500, 501, 502", n == 3 && tids[0] == 500 && tids[2] == 502, "%u %u %u",
	      tids[0], tids[1], tids[2]);

	v.sort = TOP_SORT_CPU;
	v.mode = TOP_PER_THREAD;
	v.paused = true;
	top_render(&v, &scr);
	CHECK("per-thread view: one row for all cores, no core rows",
	      find_row(&scr, "all ") > 0 && find_row(&scr, "cpu0 ") < 0, "rows:");
	CHECK("paused: the title says so, the keys offer to resume",
	      strstr(top_row(&scr, 0), "PAUSED") && strstr(top_row(&scr, 23), "p resume"), "'%s'",
	      top_row(&scr, 0));
	if (check_failures())
		dump(&scr);

	v.m = NULL;
	v.paused = false;
	top_render(&v, &scr);
	CHECK("before the first interval: waiting", find_text(&scr, "waiting for the first interval") == 1,
	      "'%s'", top_row(&scr, 1));
	top_screen_resize(&scr, 6, 30);
	top_render(&v, &scr);
	CHECK("30x6: too small, said within the width", strstr(top_row(&scr, 0), "too small: 30x6") != NULL,
	      "'%s'", top_row(&scr, 0));
	model_free(&m);
	snapshot_free(&s);

	/* 64 cores, 80 threads on 80x24 */
	make_interval(&s, 64, 80);
	model_build(&s, &m);
	diagnose(&m, &d);
	v.m = &m;
	v.mode = TOP_PER_CORE;
	top_screen_resize(&scr, 24, 80);
	top_render(&v, &scr);
	int more = find_text(&scr, "more cores");
	unsigned shown = 0, hidden = 0;
	for (int r = 0; r < scr.rows; r++)
		shown += !strncmp(top_row(&scr, r), "cpu", 3);
	if (more > 0)
		sscanf(strstr(top_row(&scr, more), "("), "(%u more cores", &hidden);
	CHECK("64 cores on 24 rows: the cores that fit, and how many more", more > 0 && shown + hidden == 64 &&
	      shown >= 4, "%u shown, %u said hidden", shown, hidden);
	CHECK("... and still the threads and the keys", find_text(&scr, "more threads") > 0 &&
	      strstr(top_row(&scr, 23), "q quit"), "screen:");
	if (check_failures() || getenv("TOP_VIEW_DUMP"))
		dump(&scr);
	top_screen_free(&scr);
	model_free(&m);
	snapshot_free(&s);
	return check_failures() != 0;
}
