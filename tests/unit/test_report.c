/* tests/unit/test_report.c: the model and both renderers on a hand-made
 * snapshot (no BPF): totals, per-core shares, top threads, percentiles, the
 * text report's sections and width, and that the JSON parses and carries the
 * same numbers (checked by python3's json module). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "model/model.h"
#include "render/report.h"

#define MS 1000000ull

static void make_snapshot(struct ps_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->start_ns = 1000 * MS;
	s->end_ns = 2000 * MS;   /* 1 s window */
	s->nr_cpus = 2;
	s->attach_mode = "tp_btf";
	s->nthreads = 3;
	s->threads = calloc(3, sizeof(struct ps_thread));
	s->thread_cpu_ns = calloc(3 * 2, sizeof(uint64_t));
	s->cpus = calloc(2, sizeof(struct ps_cpu));
	s->migr = calloc(2, sizeof(struct ps_cpu_migr));
	/* two workers of process 100 and one of process 200 */
	struct ps_thread *t = s->threads;
	t[0] = (struct ps_thread){ .tid = 100, .tgid = 100, .comm = "pool-main", .oncpu_ns = 900 * MS,
				   .vol = 10, .invol = 5, .runq_wait_ns = 20 * MS, .runq_count = 15,
				   .runq_max_ns = 4 * MS, .first_ns = 1000 * MS };
	t[1] = (struct ps_thread){ .tid = 101, .tgid = 100, .comm = "worker", .oncpu_ns = 600 * MS,
				   .vol = 3, .invol = 7, .blocked_ns = 300 * MS, .first_ns = 1100 * MS };
	t[2] = (struct ps_thread){ .tid = 200, .tgid = 200, .comm = "other-proc", .oncpu_ns = 100 * MS,
				   .vol = 1, .first_ns = 1000 * MS, .exit_ns = 1500 * MS,
				   .flags = PS_THREAD_EXITED };
	t[0].runq_hist[20] = 15;
	s->thread_cpu_ns[0 * 2 + 0] = 800 * MS; s->thread_cpu_ns[0 * 2 + 1] = 100 * MS;
	s->thread_cpu_ns[1 * 2 + 0] = 100 * MS; s->thread_cpu_ns[1 * 2 + 1] = 500 * MS;
	s->thread_cpu_ns[2 * 2 + 1] = 100 * MS;
	s->cpus[0] = (struct ps_cpu){ .busy_ns = 950 * MS, .traced_ns = 900 * MS, .switches = 12, .vol = 8, .invol = 4 };
	s->cpus[1] = (struct ps_cpu){ .busy_ns = 700 * MS, .traced_ns = 700 * MS, .switches = 14, .vol = 6, .invol = 8 };
	s->cpus[0].runq_hist[20] = 15;
	s->cpus[0].runq_count = 15;
	s->migr[0].in = 2; s->migr[1].out = 2;
	s->nslices = 2;
	s->slice_ns = 500 * MS;
	s->slice_end_ns = calloc(2, sizeof(uint64_t));
	s->slice_busy_ns = calloc(4, sizeof(uint64_t));
	s->slice_traced_ns = calloc(4, sizeof(uint64_t));
	s->slice_end_ns[0] = 1500 * MS; s->slice_end_ns[1] = 2000 * MS;
	s->slice_busy_ns[0] = 500 * MS; s->slice_busy_ns[1] = 200 * MS;
	s->slice_busy_ns[2] = 450 * MS; s->slice_busy_ns[3] = 500 * MS;
}

static char *render_text(const struct model *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct report_opts o = { .title = "unit", .exit_status = 0 };

	struct diagnosis d;

	diagnose(m, &d);
	report_text(f, m, &d, &o);
	fclose(f);
	return buf;
}

static int widest_line(const char *s)
{
	int w = 0, cur = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n') {
			w = cur > w ? cur : w;
			cur = 0;
		} else if ((*p & 0xC0) != 0x80) { /* count characters, not UTF-8 bytes */
			cur++;
		}
	}
	return w;
}

int main(void)
{
	struct ps_snapshot s;
	struct model m;

	make_snapshot(&s);
	model_build(&s, &m);
	CHECK("model: wall time is the window", m.wall_ns == 1000 * MS, "got %llu", (unsigned long long)m.wall_ns);
	CHECK("model: parallelism is on-CPU / wall", m.parallelism > 1.59 && m.parallelism < 1.61, "got %f", m.parallelism);
	CHECK("model: threads sorted by on-CPU time", m.threads[0].tid == 100 && m.threads[2].tid == 200, "bad order");
	CHECK("model: two processes", m.nprocs == 2 && m.procs[0].tgid == 100 && m.procs[0].nthreads == 2, "got %u", m.nprocs);
	CHECK("model: core busy %", m.cores[0].busy_pct > 94.9 && m.cores[0].busy_pct < 95.1, "got %f", m.cores[0].busy_pct);
	CHECK("model: top thread per core", m.threads[m.cores[0].top[0].thread].tid == 100 &&
	      m.threads[m.cores[1].top[0].thread].tid == 101 &&
	      m.cores[1].top[1].ns == 100 * MS, "cpu0 top %d cpu1 top %d", m.cores[0].top[0].thread, m.cores[1].top[0].thread);
	CHECK("model: totals of switches", m.vol == 14 && m.invol == 12 && m.switches == 26, "vol %llu invol %llu",
	      (unsigned long long)m.vol, (unsigned long long)m.invol);
	CHECK("model: percentiles never exceed the max seen", m.runq_p99_ns <= 4 * MS && m.runq_p99_ns > 1 * MS,
	      "p99 %llu", (unsigned long long)m.runq_p99_ns);
	CHECK("model: lifetime of an exited thread ends at its exit", m.threads[2].lifetime_ns == 500 * MS, "got %llu",
	      (unsigned long long)m.threads[2].lifetime_ns);

	char *text = render_text(&m);
	CHECK("text: has every section", strstr(text, "PER CORE") && strstr(text, "CORES OVER TIME") &&
	      strstr(text, "RUN-QUEUE LATENCY") && strstr(text, "PROCESSES") && strstr(text, "THREADS"), "%s", text);
	CHECK("text: fits 80 columns", widest_line(text) <= 80, "widest line %d:\n%s", widest_line(text), text);
	CHECK("text: states parallelism", strstr(text, "parallelism 1.60 of 2 CPUs") != NULL, "%s", text);
	CHECK("text: the half-idle slice shows as a lower bar", strstr(text, "|▃█|") != NULL, "%s", text);
	free(text);

	/* JSON: parse it with python and compare a few fields */
	char path[] = "/tmp/poolscope-unit-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct report_opts o = { .title = "unit", .exit_status = 3 };
	struct diagnosis d;

	diagnose(&m, &d);
	report_json(f, &m, &d, &o);
	fclose(f);
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); "
		 "assert r[\"exit_status\"]==3; assert r[\"totals\"][\"threads\"]==3; "
		 "assert abs(r[\"totals\"][\"parallelism\"]-1.6)<1e-6; "
		 "assert r[\"threads\"][0][\"oncpu_ns_by_cpu\"]==[800000000,100000000]; "
		 "assert r[\"cpus\"][1][\"busy_ns\"]==700000000; "
		 "assert r[\"slices\"][\"busy_ns\"][1]==[450000000,500000000]; "
		 "assert len(r[\"totals\"][\"runq_hist\"])==40' %s", path);
	int rc = system(cmd);
	CHECK("json: parses and carries the model's numbers", rc == 0, "python3 check failed (status %d) on %s", rc, path);
	if (rc == 0)
		unlink(path);
	model_free(&m);
	snapshot_free(&s);
	return check_failures() != 0;
}
