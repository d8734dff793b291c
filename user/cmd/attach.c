/* user/cmd/attach.c: `poolscope attach`: trace processes (or threads, or the
 * whole machine) that are already running, for a duration or until Ctrl-C or
 * until they exit, optionally with interval reports. */
#include <errno.h>
#include <malloc.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cmd/cli.h"
#include "cmd/commands.h"
#include "model/model.h"
#include "model/diagnose.h"
#include "model/groups.h"
#include "render/report.h"
#include "trace/session.h"
#include "model/snapdiff.h"
#include "cmd/targets.h"
#include "sys/util.h"

struct attach_opts {
	struct cli_common c;
	struct targets t;
	uint64_t duration_ns, interval_ns;  /* 0: none */
};

void attach_usage(FILE *out)
{
	fprintf(out,
"Usage: poolscope attach [OPTIONS] -p PID[,PID...]\n"
"       poolscope attach [OPTIONS] --tid TID[,TID...] | --comm NAME | -a\n"
"       poolscope attach [OPTIONS] --cgroup CGROUP\n"
"\n"
"Trace processes that are already running: every thread of them, and threads\n"
"they create later, until Ctrl-C, for -d SECONDS, or until every traced\n"
"process has exited; then print the same report as `poolscope run`. Threads\n"
"that existed before the attach have no wakeup timestamp yet: their first\n"
"run-queue interval is not counted (never a bogus latency).\n"
"\n");
	targets_usage(out);
	fprintf(out,
"  -d, --duration SECONDS  stop after this long (fractions allowed)\n"
"  -i, --interval SECONDS  print an interval report every SECONDS (counters\n"
"                      reset per interval, like perf stat -I); with --json one\n"
"                      JSON object per line per interval, then the whole window\n"
"  -h, --help          this help\n"
"\n");
	cli_common_usage(out);
	fprintf(out,
"\n"
"While tracing, a progress line on stderr (elapsed, events, drops, threads,\n"
"each core's busy share) is kept on the terminal's last row when stderr is a\n"
"terminal.\n"
"\n"
"Exit status: 0; 2 for a bad command line or target; 1 if tracing could not\n"
"start, an output could not be written or a push failed.\n"
"\n"
"Examples:\n"
"  sudo poolscope attach -p 1234 -d 10\n"
"  sudo poolscope attach --cgroup /system.slice/nginx.service -d 10\n"
"  sudo poolscope attach --comm nginx -i 1 --json stats.ndjson\n"
"  sudo poolscope attach -p 1234 --stacks offcpu --svg offcpu:wait.svg\n"
"  sudo poolscope attach --comm nginx --stacks oncpu -i 10 \\\n"
"       --push http://pyroscope:4040 --push-label env=prod\n");
}

static int parse_args(int argc, char **argv, struct attach_opts *o)
{
	targets_init(&o->t, "attach");
	return targets_parse_args(argc, argv, &o->t, &o->c, NULL, CLI_COMMON_SHORTOPTS, attach_usage,
				  &o->duration_ns, &o->interval_ns);
}

struct attach_run {
	struct attach_opts *o;
	struct session *ss;
	struct ps_snapshot prev;     /* the last interval's end (the baseline) */
	unsigned k;                  /* intervals reported */
	uint64_t wall_of_mono;       /* CLOCK_REALTIME - CLOCK_MONOTONIC */
};

/* Report interval d (a snapshot_diff) as interval number ++k. */
static void emit_interval(struct attach_run *r, const struct ps_snapshot *d)
{
	struct model m;
	struct diagnosis diag;

	model_build(d, &m);
	diagnose(&m, &diag);
	struct report_opts ro = {
		.title = r->o->t.title, .wide = r->o->c.wide, .exit_status = -1, .interval = ++r->k,
		.brief = true, .compact = true, .wall_start = d->start_ns + r->wall_of_mono,
	};
	cli_progress_clear();
	cli_emit_interval(&r->o->c, &m, &diag, &ro);
	model_free(&m);
}

/* The interval since r->prev: report it; cur becomes the next baseline
 * when advance. */
static void interval_report(struct attach_run *r, struct ps_snapshot *cur, bool advance)
{
	struct ps_snapshot d;

	snapshot_interval(&r->prev, cur, &d, advance);
	emit_interval(r, &d);
	snapshot_free(&d);
	/* an interval allocates and frees snapshots of every thread slot: hand
	 * the freed heap back, so that a long attach's resident set is what it
	 * holds, not the fragments of the busiest interval so far */
	malloc_trim(0);
}

static void on_interval(void *arg, struct ps_snapshot *cur)
{
	interval_report(arg, cur, true);
}

static bool alive(void *arg)
{
	struct attach_run *r = arg;

	return targets_alive(&r->o->t, r->ss);
}

int cmd_attach(int argc, char **argv)
{
	struct attach_opts o = { 0 };
	struct invoker inv;
	struct session ss;
	struct ps_snapshot snap;
	struct model m;
	struct diagnosis diag;
	int err = 0, rc = 0;

	session_signals_init();
	if (parse_args(argc, argv, &o) || targets_check(&o.t))
		return EXIT_USAGE;
	if (invoker_get(&inv)) {
		ps_err("attach: malformed SUDO_UID/SUDO_GID in the environment");
		return EXIT_USAGE;
	}
	o.c.push.intervals = o.interval_ns > 0;
	if (cli_open_outputs(&o.c, &inv, "attach", targets_name(&o.t)))
		return EXIT_USAGE;
	if (session_open(&ss, &o.c.tr)) {
		cli_discard_outputs(&o.c);
		return EXIT_TRACE;
	}
	if (targets_add(&o.t, &ss) || session_start(&ss)) {
		session_close(&ss, NULL);
		cli_discard_outputs(&o.c);
		return EXIT_TRACE;
	}
	struct attach_run r = { .o = &o, .ss = &ss };
	if (!targets_alive(&o.t, &ss)) {
		ps_err("attach: the target%s exited before tracing started",
		       o.t.npids + o.t.ntids > 1 ? "s" : "");
		session_close(&ss, NULL);
		cli_discard_outputs(&o.c);
		return EXIT_TRACE;
	}
	r.wall_of_mono = realtime_ns() - mono_ns();
	fprintf(stderr, "poolscope: attached (%s); Ctrl-C to stop\n", o.t.title + 7);
	struct session_loop loop = {
		.duration_ns = o.duration_ns, .interval_ns = o.interval_ns, .arg = &r,
		.alive = alive, .interval = o.interval_ns ? on_interval : NULL, .tick = cli_progress,
	};
	session_run(&ss, &loop);
	cli_progress_end();
	err = session_snapshot(&ss, &snap, true);
	session_close(&ss, err ? NULL : &snap);
	if (err) {
		ps_err("attach: cannot read the trace: %s", strerror(-err));
		snapshot_free(&r.prev);
		cli_discard_outputs(&o.c);
		return EXIT_TRACE;
	}
	/* the partial last interval; the whole trace stays in snap */
	if (o.interval_ns && snap.end_ns > (r.prev.cpus ? r.prev.end_ns : snap.start_ns))
		interval_report(&r, &snap, false);
	snapshot_free(&r.prev);
	model_build(&snap, &m);
	diagnose(&m, &diag);
	/* the whole machine: a verdict per busy program, not one for all */
	struct program_group groups[GROUPS_MAX];
	int ngroups = o.t.all ? program_groups(&m, groups, GROUPS_MAX) : 0;
	struct report_opts ro = {
		.title = o.t.title, .wide = o.c.wide, .exit_status = -1, .compact = o.interval_ns > 0,
		.wall_start = snap.start_ns + r.wall_of_mono, .groups = groups, .ngroups = ngroups,
	};
	if (o.interval_ns && !o.c.quiet && !cli_json_stdout(&o.c))
		printf("\n=== whole trace ===\n");
	if (cli_emit(&o.c, &m, &diag, &ro, "attach"))
		rc = EXIT_TRACE;
	program_groups_free(groups, ngroups);
	model_free(&m);
	snapshot_free(&snap);
	return rc;
}
