/* tests/unit/test_report_words.c: the text report's words on a hand-made
 * snapshot of one of everything (one process, one thread, one run-queue
 * wait, one futex wait, one switch): every count takes the singular
 * ("1 wait", never "1 waits"); an interval's header keeps the
 * milliseconds of both ends. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "check.h"
#include "model/diagnose.h"
#include "model/model.h"
#include "render/report.h"

#define MS 1000000ull

static void one_of_everything(struct ps_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->start_ns = 5000 * MS;
	s->end_ns = 5500 * MS;
	s->nr_cpus = 2;
	s->attach_mode = "tp_btf";
	s->locks = true;
	s->futex_source = "sched";
	s->nthreads = 1;
	s->threads = calloc(1, sizeof(*s->threads));
	s->thread_cpu_ns = calloc(2, sizeof(uint64_t));
	s->cpus = calloc(2, sizeof(*s->cpus));
	s->migr = calloc(2, sizeof(*s->migr));
	s->threads[0] = (struct ps_thread){ .tid = 700, .tgid = 700, .comm = "single", .first_ns = s->start_ns,
					    .oncpu_ns = 200 * MS, .blocked_ns = 290 * MS, .runq_wait_ns = 10 * MS,
					    .runq_count = 1, .runq_max_ns = 10 * MS, .vol = 1 };
	s->threads[0].runq_hist[23] = 1;
	s->thread_cpu_ns[0] = 200 * MS;
	s->cpus[0] = (struct ps_cpu){ .busy_ns = 250 * MS, .traced_ns = 200 * MS, .switches = 1, .vol = 1,
				      .runq_count = 1, .runq_sum_ns = 10 * MS, .runq_max_ns = 10 * MS };
	s->cpus[0].runq_hist[23] = 1;
	s->n_futex = 1;
	s->futex_recs = calloc(1, sizeof(*s->futex_recs));
	s->futex_recs[0].key = (struct ps_futex_key){ .tgid = 700, .pid = 700, .ustack = -1, .uaddr = 0x1000 };
	s->futex_recs[0].st = (struct ps_futex_stat){ .waits = 1, .wait_ns = 290 * MS, .max_ns = 290 * MS,
						      .waker_ustack = -1 };
}

static char *render(const struct model *m, const struct report_opts *o)
{
	struct diagnosis d;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	diagnose(m, &d);
	report_text(f, m, &d, o);
	fclose(f);
	return buf;
}

/* The first "1 <plural>" in text, NULL if none. */
static const char *plural_after_one(const char *text, char *found, size_t len)
{
	regex_t re;
	regmatch_t mt;
	int rc;

	regcomp(&re, "(^|[^0-9.,])1 (waits|threads|processes|records|switches|periods|events|cgroups|"
		"waiters|timeouts|samples|entries)([^a-z]|$)", REG_EXTENDED | REG_NEWLINE);
	rc = regexec(&re, text, 1, &mt, 0);
	regfree(&re);
	if (rc)
		return NULL;
	snprintf(found, len, "%.*s", (int)(mt.rm_eo - mt.rm_so), text + mt.rm_so);
	return found;
}

int main(void)
{
	struct ps_snapshot s;
	struct model m;
	char found[64];

	setenv("TZ", "UTC", 1);
	tzset();
	one_of_everything(&s);
	model_build(&s, &m);
	struct report_opts o = { .title = "single", .exit_status = 0 };
	char *text = render(&m, &o);

	CHECK("the header: 1 process, 1 thread", strstr(text, "traced 1 process, 1 thread on 2 CPUs") != NULL,
	      "%s", text);
	CHECK("the run queue: 1 wait", strstr(text, "  1 wait; p50") != NULL, "%s", text);
	CHECK("the lock: 1 wait", strstr(text, "    1 wait, 290 ms total") != NULL, "%s", text);
	CHECK("no count of 1 takes a plural", !plural_after_one(text, found, sizeof(found)), "'%s' in:\n%s",
	      found, text);
	free(text);

	/* an interval of 500 ms from 12:34:56.250 */
	o.interval = 3;
	o.brief = true;
	o.wall_start = ((12 * 3600 + 34 * 60 + 56) * 1000ull + 250) * MS;
	text = render(&m, &o);
	CHECK("an interval's header keeps the milliseconds",
	      strstr(text, "--- interval 3: 12:34:56.250 - 12:34:56.750 ---") != NULL, "%s", text);
	free(text);
	model_free(&m);
	snapshot_free(&s);
	return check_failures() != 0;
}
