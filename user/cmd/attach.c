/* user/cmd_attach.c: `poolscope attach`: trace processes (or threads, or the
 * whole machine) that are already running, for a duration or until Ctrl-C or
 * until they exit, optionally with interval reports. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
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
#include "render/report.h"
#include "trace/session.h"
#include "model/snapdiff.h"
#include "sys/util.h"

#define MAX_TARGETS 256

struct attach_opts {
	struct cli_common c;
	int pids[MAX_TARGETS], npids;    /* -p, or --comm's matches */
	int tids[MAX_TARGETS], ntids;    /* --tid */
	const char *comm;
	bool all, children;
	uint64_t duration_ns, interval_ns;  /* 0: none */
	char title[512];
};

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

void attach_usage(FILE *out)
{
	fprintf(out,
"Usage: poolscope attach [OPTIONS] -p PID[,PID...]\n"
"       poolscope attach [OPTIONS] --tid TID[,TID...] | --comm NAME | -a\n"
"\n"
"Trace processes that are already running: every thread of them, and threads\n"
"they create later, until Ctrl-C, for -d SECONDS, or until every traced\n"
"process has exited; then print the same report as `poolscope run`. Threads\n"
"that existed before the attach have no wakeup timestamp yet: their first\n"
"run-queue interval is not counted (never a bogus latency).\n"
"\n"
"Targets (exactly one kind):\n"
"  -p, --pid LIST      process IDs, comma-separated\n"
"  --tid LIST          single threads (thread IDs), comma-separated\n"
"  --comm NAME         every process whose name (comm) is NAME when tracing\n"
"                      starts\n"
"  -a, --all           every task on the machine (never ends by itself)\n"
"\n"
"Options:\n"
"  --children          also trace processes the targets fork from now on\n"
"  -d, --duration SECONDS  stop after this long (fractions allowed)\n"
"  -i, --interval SECONDS  print an interval report every SECONDS (counters\n"
"                      reset per interval, like perf stat -I); with --json one\n"
"                      JSON object per line per interval, then the whole window\n"
"  -h, --help          this help\n"
"\n");
	cli_common_usage(out);
	fprintf(out,
"\n"
"While tracing, a progress line on stderr (elapsed, events, threads) is\n"
"updated in place when stderr is a terminal.\n"
"\n"
"Exit status: 0; 2 for a bad command line or target; 1 if tracing could not\n"
"start.\n"
"\n"
"Examples:\n"
"  sudo poolscope attach -p 1234 -d 10\n"
"  sudo poolscope attach --comm nginx -i 1 --json stats.ndjson\n"
"  sudo poolscope attach -p 1234 --stacks offcpu --svg offcpu:wait.svg\n");
}

/* "12,34" -> ids; every id a positive decimal. */
static int parse_ids(const char *arg, const char *what, int *ids, int *n)
{
	char buf[4096], *tok, *save = NULL;
	uint64_t v;

	snprintf(buf, sizeof(buf), "%s", arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (parse_u64(tok, 1, 0x3fffffff, &v)) {
			ps_err("attach: invalid %s '%s' (expected positive numbers, comma-separated)", what, tok);
			return -EINVAL;
		}
		if (*n == MAX_TARGETS) {
			ps_err("attach: at most %d %ss", MAX_TARGETS, what);
			return -EINVAL;
		}
		ids[(*n)++] = v;
	}
	if (!*n) {
		ps_err("attach: empty %s list", what);
		return -EINVAL;
	}
	return 0;
}

/* The part of /proc/ID/stat after the comm's ')' into buf, the comm into
 * comm; false if there is no such task. */
static bool read_stat(int id, char *buf, size_t len, char *comm, size_t clen, const char **rest)
{
	char path[64], *l, *r;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", id);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	l = strchr(buf, '(');
	r = strrchr(buf, ')');
	if (!l || !r || r < l || r[1] != ' ')
		return false;
	if (comm)
		snprintf(comm, clen, "%.*s", (int)(r - l - 1), l + 1);
	*rest = r + 2;
	return true;
}

/* A process or thread is alive when it exists and is not a zombie. */
static bool task_alive(int id)
{
	char buf[512];
	const char *rest;

	return read_stat(id, buf, sizeof(buf), NULL, 0, &rest) && *rest != 'Z' && *rest != 'X';
}

static bool is_kernel_thread(int pid, char *comm, size_t len)
{
	char buf[512];
	const char *rest;
	unsigned long flags = 0;

	if (!read_stat(pid, buf, sizeof(buf), comm, len, &rest))
		return false;
	/* field 9, after "S ppid pgrp session tty tpgid" */
	if (sscanf(rest, "%*c %*d %*d %*d %*d %*d %lu", &flags) == 1)
		return flags & 0x00200000; /* PF_KTHREAD */
	return false;
}

static int find_comm(struct attach_opts *o)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d) {
		ps_err("attach: cannot read /proc: %s", strerror(errno));
		return -errno;
	}
	while ((e = readdir(d)) && o->npids < MAX_TARGETS) {
		char path[300], comm[64] = "";
		FILE *f;
		int pid;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid = atoi(e->d_name);
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
		if (!strcmp(comm, o->comm) && pid != getpid())
			o->pids[o->npids++] = pid;
	}
	closedir(d);
	if (!o->npids) {
		ps_err("attach: no process named '%s'", o->comm);
		return -ESRCH;
	}
	return 0;
}

static int check_targets(struct attach_opts *o)
{
	for (int i = 0; i < o->npids; i++) {
		char comm[64] = "?";

		if (o->pids[i] == getpid()) {
			ps_err("attach: refusing to trace poolscope itself (PID %d)", o->pids[i]);
			return -EINVAL;
		}
		if (!task_alive(o->pids[i])) {
			ps_err("attach: no process with PID %d", o->pids[i]);
			return -ESRCH;
		}
		if (is_kernel_thread(o->pids[i], comm, sizeof(comm)))
			ps_warn("PID %d (%s) is a kernel thread: tracing it, but it has no user stacks "
				"and never exits", o->pids[i], comm);
	}
	for (int i = 0; i < o->ntids; i++) {
		if (o->tids[i] == getpid()) {
			ps_err("attach: refusing to trace poolscope itself (TID %d)", o->tids[i]);
			return -EINVAL;
		}
		if (!task_alive(o->tids[i])) {
			ps_err("attach: no thread with TID %d", o->tids[i]);
			return -ESRCH;
		}
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct attach_opts *o)
{
	static const struct option own[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "tid", required_argument, NULL, 'T' },
		{ "comm", required_argument, NULL, 'C' },
		{ "all", no_argument, NULL, 'a' },
		{ "children", no_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const struct option *longopts = cli_longopts(own);
	int c, err, kinds;

	optind = 1;
	opterr = 0;
	cli_common_init(&o->c);
	while ((c = getopt_long(argc, argv, ":p:ad:i:h" CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		err = cli_common_parse(c, optarg, "attach", &o->c);
		if (err < 0)
			return err;
		if (err)
			continue;
		switch (c) {
		case 'p':
			if (parse_ids(optarg, "PID", o->pids, &o->npids))
				return -EINVAL;
			break;
		case 'T':
			if (parse_ids(optarg, "TID", o->tids, &o->ntids))
				return -EINVAL;
			break;
		case 'C': o->comm = optarg; break;
		case 'a': o->all = true; break;
		case 'c': o->children = true; break;
		case 'd':
		case 'i': {
			uint64_t ns;

			if (parse_seconds_ns(optarg, &ns) || ns < 1000000) {
				ps_err("attach: invalid %s '%s' (expected seconds > 0, e.g. 5 or 0.5)",
				       c == 'd' ? "-d/--duration" : "-i/--interval", optarg);
				return -EINVAL;
			}
			*(c == 'd' ? &o->duration_ns : &o->interval_ns) = ns;
			break;
		}
		case 'h': attach_usage(stdout); exit(0);
		case ':':
			ps_err("attach: option '%s' needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			ps_err("attach: unknown option '%s' (see poolscope attach --help)", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		ps_err("attach: unexpected argument '%s' (PIDs go after -p)", argv[optind]);
		return -EINVAL;
	}
	kinds = !!o->npids + !!o->ntids + !!o->comm + o->all;
	if (kinds != 1) {
		ps_err(kinds ? "attach: give one kind of target: -p, --tid, --comm or -a" :
			       "attach: no target (-p PID, --tid TID, --comm NAME or -a)");
		return -EINVAL;
	}
	if (o->comm && find_comm(o))
		return -EINVAL;
	o->c.tr.all = o->all;
	o->c.tr.tids = o->ntids > 0;
	o->c.tr.no_follow_forks = !o->children;
	size_t n = snprintf(o->title, sizeof(o->title), "attach %s", o->all ? "-a (every task)" :
			    o->comm ? "--comm " : o->ntids ? "--tid" : "-p");
	if (o->comm)
		snprintf(o->title + n, sizeof(o->title) - n, "%s (%d processes)", o->comm, o->npids);
	for (int i = 0; !o->comm && i < o->npids + o->ntids && n < sizeof(o->title); i++)
		n += snprintf(o->title + n, sizeof(o->title) - n, "%s%d", i ? "," : " ",
			      i < o->npids ? o->pids[i] : o->tids[i - o->npids]);
	return 0;
}

/* Whether any target still lives (-a never ends by itself). With
 * --children, processes they forked count too. */
static bool targets_alive(struct attach_opts *o, struct session *ss)
{
	if (o->all)
		return true;
	for (int i = 0; i < o->npids; i++)
		if (task_alive(o->pids[i]))
			return true;
	for (int i = 0; i < o->ntids; i++)
		if (task_alive(o->tids[i]))
			return true;
	if (o->children) {
		static uint32_t tgids[PS_MAX_TGIDS];
		int n = tracer_processes(ss->tracer, tgids, PS_MAX_TGIDS);

		for (int i = 0; i < n; i++)
			if (task_alive(tgids[i]))
				return true;
	}
	return false;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The progress line, on a terminal only; done erases it. */
static void progress(struct tracer *t, uint64_t elapsed, bool done)
{
	static bool shown;
	uint64_t events;
	uint32_t threads;
	char ev[32];

	if (!isatty(2))
		return;
	if (done) {
		if (shown)
			fputs("\r\033[K", stderr);
		return;
	}
	tracer_counts(t, &events, &threads);
	fprintf(stderr, "\r\033[Kpoolscope: %.1f s, %s events, %u threads", elapsed / 1e9,
		fmt_count(events, ev, sizeof(ev)), threads);
	shown = true;
}

/* Before the first interval, the baseline is the trace's start: every
 * counter zero. */
static void zero_baseline(struct ps_snapshot *prev, const struct ps_snapshot *cur)
{
	if (prev->cpus)
		return;
	memset(prev, 0, sizeof(*prev));
	prev->nr_cpus = cur->nr_cpus;
	prev->start_ns = prev->end_ns = cur->start_ns;
	prev->cpus = xcalloc(cur->nr_cpus, sizeof(*prev->cpus));
	prev->migr = xcalloc(cur->nr_cpus, sizeof(*prev->migr));
}

/* The interval since *prev: report it, and keep cur as the next baseline. */
static void interval_report(struct attach_opts *o, struct ps_snapshot *prev, struct ps_snapshot *cur,
			    unsigned k, uint64_t wall_of_mono)
{
	struct ps_snapshot d;
	struct model m;
	struct diagnosis diag;

	zero_baseline(prev, cur);
	snapshot_diff(cur, prev, &d);
	model_build(&d, &m);
	diagnose(&m, &diag);
	struct report_opts ro = {
		.title = o->title, .wide = o->c.wide, .exit_status = -1, .interval = k,
		.brief = true, .compact = true, .wall_start = d.start_ns + wall_of_mono,
	};
	cli_emit_interval(&o->c, &m, &diag, &ro);
	model_free(&m);
	snapshot_free(&d);
	snapshot_free(prev);
	*prev = *cur;
	memset(cur, 0, sizeof(*cur));
}

int cmd_attach(int argc, char **argv)
{
	struct attach_opts o = { 0 };
	struct invoker inv;
	struct session ss;
	struct ps_snapshot prev = { 0 }, snap;
	struct model m;
	struct diagnosis diag;
	uint64_t start, next_slice, next_interval, wall_of_mono;
	unsigned k = 0;
	int err, rc = 0;

	if (parse_args(argc, argv, &o) || check_targets(&o))
		return EXIT_USAGE;
	if (invoker_get(&inv)) {
		ps_err("attach: malformed SUDO_UID/SUDO_GID in the environment");
		return EXIT_USAGE;
	}
	if (cli_open_outputs(&o.c, &inv, "attach"))
		return EXIT_USAGE;
	if (session_open(&ss, &o.c.tr))
		return EXIT_TRACE;
	for (int i = 0; i < o.npids; i++)
		if ((err = tracer_add_tgid(ss.tracer, o.pids[i])))
			break;
	for (int i = 0; !err && i < o.ntids; i++)
		err = tracer_add_tid(ss.tracer, o.tids[i]);
	if (err) {
		ps_err("attach: cannot add the targets: %s", strerror(-err));
		session_close(&ss, NULL);
		return EXIT_TRACE;
	}
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	if (tracer_start(ss.tracer)) {
		session_close(&ss, NULL);
		return EXIT_TRACE;
	}
	if (!targets_alive(&o, &ss)) {
		ps_err("attach: the target%s exited before tracing started", o.npids + o.ntids > 1 ? "s" : "");
		session_close(&ss, NULL);
		return EXIT_TRACE;
	}
	start = mono_ns();
	wall_of_mono = realtime_ns() - start;
	fprintf(stderr, "poolscope: attached (%s); Ctrl-C to stop\n", o.title + 7);
	next_slice = start + tracer_slice_ns(ss.tracer);
	next_interval = o.interval_ns ? start + o.interval_ns : UINT64_MAX;

	while (!stop_signal) {
		uint64_t wake = next_slice < next_interval ? next_slice : next_interval, now;

		if (o.duration_ns && start + o.duration_ns < wake)
			wake = start + o.duration_ns;
		struct timespec ts = { wake / 1000000000ull, wake % 1000000000ull };
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		now = mono_ns();
		if (o.duration_ns && now >= start + o.duration_ns)
			break;
		if (now >= next_slice) {
			session_poll(&ss);
			progress(ss.tracer, now - start, false);
			next_slice += tracer_slice_ns(ss.tracer);
			if (next_slice <= now)
				next_slice = now + tracer_slice_ns(ss.tracer);
			if (!targets_alive(&o, &ss))
				break;
		}
		if (now >= next_interval) {
			struct ps_snapshot cur;

			if (!session_snapshot(&ss, &cur))
				interval_report(&o, &prev, &cur, ++k, wall_of_mono);
			next_interval += o.interval_ns;
		}
	}
	progress(ss.tracer, 0, true);
	err = session_snapshot(&ss, &snap);
	session_close(&ss, err ? NULL : &snap);
	if (err) {
		ps_err("attach: cannot read the trace: %s", strerror(-err));
		snapshot_free(&prev);
		return EXIT_TRACE;
	}
	if (o.interval_ns)
		zero_baseline(&prev, &snap);
	if (o.interval_ns && snap.end_ns > prev.end_ns) {
		struct ps_snapshot last;

		snapshot_diff(&snap, &prev, &last);   /* the partial last interval */
		snapshot_free(&prev);
		prev = last;
		struct model lm;
		struct diagnosis ld;
		model_build(&prev, &lm);
		diagnose(&lm, &ld);
		struct report_opts ro = {
			.title = o.title, .exit_status = -1, .interval = ++k, .brief = true,
			.compact = true, .wall_start = prev.start_ns + wall_of_mono,
		};
		cli_emit_interval(&o.c, &lm, &ld, &ro);
		model_free(&lm);
	}
	snapshot_free(&prev);
	model_build(&snap, &m);
	diagnose(&m, &diag);
	struct report_opts ro = {
		.title = o.title, .wide = o.c.wide, .exit_status = -1, .compact = o.interval_ns > 0,
		.wall_start = snap.start_ns + wall_of_mono,
	};
	if (o.interval_ns && !o.c.quiet && o.c.json != stdout)
		printf("\n=== whole trace ===\n");
	if (cli_emit(&o.c, &m, &diag, &ro, "attach"))
		rc = EXIT_TRACE;
	model_free(&m);
	snapshot_free(&snap);
	return rc;
}
