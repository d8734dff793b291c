/* user/cmd/attach.c: `poolscope attach`: trace processes (or threads, or the
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
#include "model/groups.h"
#include "render/report.h"
#include "trace/session.h"
#include "model/snapdiff.h"
#include "sys/cgroupfs.h"
#include "sys/procfs.h"
#include "sys/util.h"

#define MAX_TARGETS 256

struct attach_opts {
	struct cli_common c;
	int pids[MAX_TARGETS], npids;    /* -p, or --comm's matches */
	int tids[MAX_TARGETS], ntids;    /* --tid */
	const char *comm;
	int ncomm;                       /* --comm: processes of that name at the start */
	const char *cgroup_arg;          /* --cgroup, resolved into cg after the options */
	struct cg_target cg;
	bool cgroup, all, children;
	uint64_t duration_ns, interval_ns;  /* 0: none */
	char title[512];
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
"\n"
"Targets (exactly one kind):\n"
"  -p, --pid LIST      process IDs, comma-separated\n"
"  --tid LIST          single threads (thread IDs), comma-separated\n"
"  --comm NAME         every process named NAME (its comm, at most 15\n"
"                      characters), and those that start or exec with that\n"
"                      name later (ends at Ctrl-C or -d)\n"
"  --cgroup CGROUP     every task of a cgroup subtree, and those that move or\n"
"                      are born into it later; a task that moves out stops\n"
"                      being traced (ends at Ctrl-C, -d, or when the cgroup is\n"
"                      removed). CGROUP is its directory (/sys/fs/cgroup/pool),\n"
"                      a path in the hierarchy CPU limits live in\n"
"                      (/system.slice/nginx.service) or CONTROLLER:PATH\n"
"                      (cpu:/pool: in that controller's v1 hierarchy)\n"
"  -a, --all           every task on the machine but poolscope (never ends by\n"
"                      itself); a verdict for each of the 3 busiest programs\n"
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

/* --comm: the kernel picks the processes of that name, now and later; those
 * running now are the first targets (their cgroups are read at the start). */
static int find_comm(struct attach_opts *o)
{
	int n = procfs_find_comm(o->comm, getpid(), o->pids, MAX_TARGETS);

	if (n < 0) {
		ps_err("attach: cannot read /proc: %s", strerror(-n));
		return n;
	}
	o->ncomm = n;
	if (!n)
		ps_info("no process named '%s' yet: tracing those that start or exec with that name",
			o->comm);
	return 0;
}

/* Drop the ids of tasks that are gone, with one warning each; an error when
 * none is left (a prefork server recycles workers: a list can be stale by
 * the time it is typed). */
static int live_ids(int *ids, int *n, const char *what)
{
	int k = 0, given = *n;

	for (int i = 0; i < given; i++) {
		if (ids[i] == getpid()) {
			ps_err("attach: refusing to trace poolscope itself (%s %d)", what, ids[i]);
			return -EINVAL;
		}
		if (procfs_alive(ids[i]))
			ids[k++] = ids[i];
		else if (given > 1)
			ps_warn("no %s %d (it exited?): tracing the others", what, ids[i]);
	}
	*n = k;
	if (given && !k) {
		ps_err(given == 1 ? "attach: no %s with %s %d" : "attach: none of the %ss is alive",
		       strcmp(what, "PID") ? "thread" : "process", what, ids[0]);
		return -ESRCH;
	}
	return 0;
}

/* With --children: the targets' children that already exist, and theirs. */
static void add_children(struct attach_opts *o)
{
	for (int i = 0; i < o->npids && o->npids < MAX_TARGETS; i++) {
		int kids[MAX_TARGETS];
		int n = procfs_children(o->pids[i], kids, MAX_TARGETS);

		for (int k = 0; k < n && o->npids < MAX_TARGETS; k++) {
			bool dup = false;

			for (int j = 0; j < o->npids; j++)
				dup |= o->pids[j] == kids[k];
			if (!dup)
				o->pids[o->npids++] = kids[k];
		}
	}
}

static int check_targets(struct attach_opts *o)
{
	if (o->comm || o->cgroup)
		return 0;
	if (live_ids(o->pids, &o->npids, "PID") || live_ids(o->tids, &o->ntids, "TID"))
		return -EINVAL;
	for (int i = 0; i < o->npids; i++) {
		char comm[64] = "?";

		if (procfs_is_kthread(o->pids[i], comm, sizeof(comm)))
			ps_warn("PID %d (%s) is a kernel thread: tracing it, but it has no user stacks "
				"and never exits", o->pids[i], comm);
	}
	if (o->children)
		add_children(o);
	return 0;
}

/* What the targets are called (APP of pushed series): the first target's
 * name. */
static const char *target_name(const struct attach_opts *o)
{
	static struct proc_stat st;

	if (o->comm)
		return o->comm;
	if ((o->npids && procfs_stat(o->pids[0], &st)) || (o->ntids && procfs_stat(o->tids[0], &st)))
		return st.comm;
	return "poolscope";
}

static int parse_args(int argc, char **argv, struct attach_opts *o)
{
	static const struct option own[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "tid", required_argument, NULL, 'T' },
		{ "comm", required_argument, NULL, 'C' },
		{ "cgroup", required_argument, NULL, 'G' },
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
		case 'G':
			if (o->cgroup) {
				ps_err("attach: give --cgroup once");
				return -EINVAL;
			}
			o->cgroup_arg = optarg;
			o->cgroup = true;
			break;
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
	kinds = !!o->npids + !!o->ntids + !!o->comm + o->all + o->cgroup;
	if (kinds != 1) {
		ps_err(kinds ? "attach: give one kind of target: -p, --tid, --comm, --cgroup or -a" :
			       "attach: no target (-p PID, --tid TID, --comm NAME, --cgroup CGROUP or -a)");
		return -EINVAL;
	}
	if (o->comm && !strncmp(o->comm, "--", 2)) {
		ps_err("attach: --comm needs a process name, not '%s'", o->comm);
		return -EINVAL;
	}
	if (o->comm && find_comm(o))
		return -EINVAL;
	if (o->cgroup) {
		char err[CG_PATH_MAX * 3];

		if (cgroupfs_resolve(o->cgroup_arg, &o->cg, err, sizeof(err))) {
			ps_err("attach: %s", err);
			return -EINVAL;
		}
	}
	o->c.tr.all = o->all;
	o->c.tr.tids = o->ntids > 0;
	o->c.tr.no_follow_forks = !o->children;
	o->c.tr.comm = o->comm;
	if (o->cgroup) {
		o->c.tr.cg_hier = o->cg.h.kind;
		o->c.tr.cg_id = o->cg.id;
	}
	size_t n = snprintf(o->title, sizeof(o->title), "attach %s", o->all ? "-a (every task)" :
			    o->comm ? "--comm " : o->cgroup ? "--cgroup " : o->ntids ? "--tid" : "-p");
	if (o->comm)
		snprintf(o->title + n, sizeof(o->title) - n, "%s (%d processes at the start)", o->comm,
			 o->ncomm);
	if (o->cgroup)
		snprintf(o->title + n, sizeof(o->title) - n, "%.300s (%s)", o->cg.path,
			 cgroupfs_kind_name(o->cg.h.kind));
	for (int i = 0; !o->comm && !o->cgroup && i < o->npids + o->ntids && n < sizeof(o->title); i++)
		n += snprintf(o->title + n, sizeof(o->title) - n, "%s%d", i ? "," : " ",
			      i < o->npids ? o->pids[i] : o->tids[i - o->npids]);
	return 0;
}

/* Whether any target still lives (-a never ends by itself). With
 * --children, processes they forked count too. */
static bool targets_alive(struct attach_opts *o, struct session *ss)
{
	if (o->all || o->comm)
		return true;
	if (o->cgroup)
		return cgroupfs_id(&o->cg.h, o->cg.path) == o->cg.id;
	for (int i = 0; i < o->npids; i++)
		if (procfs_alive(o->pids[i]))
			return true;
	for (int i = 0; i < o->ntids; i++)
		if (procfs_alive(o->tids[i]))
			return true;
	if (o->children) {
		static uint32_t tgids[PS_MAX_TGIDS];
		int n = session_processes(ss, tgids, PS_MAX_TGIDS);

		for (int i = 0; i < n; i++)
			if (procfs_alive(tgids[i]))
				return true;
	}
	return false;
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
		.title = r->o->title, .wide = r->o->c.wide, .exit_status = -1, .interval = ++r->k,
		.brief = true, .compact = true, .wall_start = d->start_ns + r->wall_of_mono,
	};
	cli_progress_clear();
	cli_emit_interval(&r->o->c, &m, &diag, &ro);
	model_free(&m);
}

/* The interval since r->prev: report it; cur becomes the next baseline
 * (kept when keep, else freed). */
static void interval_report(struct attach_run *r, struct ps_snapshot *cur, bool keep)
{
	struct ps_snapshot d;

	zero_baseline(&r->prev, cur);
	snapshot_diff(cur, &r->prev, &d);
	emit_interval(r, &d);
	snapshot_free(&d);
	snapshot_free(&r->prev);
	if (keep) {
		r->prev = *cur;
		memset(cur, 0, sizeof(*cur));
	}
}

static void on_interval(void *arg, struct ps_snapshot *cur)
{
	interval_report(arg, cur, true);
}

static bool alive(void *arg)
{
	struct attach_run *r = arg;

	return targets_alive(r->o, r->ss);
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
	if (parse_args(argc, argv, &o) || check_targets(&o))
		return EXIT_USAGE;
	if (invoker_get(&inv)) {
		ps_err("attach: malformed SUDO_UID/SUDO_GID in the environment");
		return EXIT_USAGE;
	}
	o.c.push.intervals = o.interval_ns > 0;
	if (cli_open_outputs(&o.c, &inv, "attach", target_name(&o)))
		return EXIT_USAGE;
	if (session_open(&ss, &o.c.tr)) {
		cli_discard_outputs(&o.c);
		return EXIT_TRACE;
	}
	for (int i = 0; i < o.npids; i++)
		if ((err = session_add_process(&ss, o.pids[i])))
			break;
	for (int i = 0; !err && i < o.ncomm; i++)
		session_add_process(&ss, o.pids[i]);   /* may have exited since */
	for (int i = 0; !err && i < o.ntids; i++)
		err = session_add_thread(&ss, o.tids[i]);
	if (err)
		ps_err("attach: cannot add the targets: %s", strerror(-err));
	if (err || session_start(&ss)) {
		session_close(&ss, NULL);
		cli_discard_outputs(&o.c);
		return EXIT_TRACE;
	}
	struct attach_run r = { .o = &o, .ss = &ss };
	if (!targets_alive(&o, &ss)) {
		ps_err("attach: the target%s exited before tracing started", o.npids + o.ntids > 1 ? "s" : "");
		session_close(&ss, NULL);
		cli_discard_outputs(&o.c);
		return EXIT_TRACE;
	}
	r.wall_of_mono = realtime_ns() - mono_ns();
	fprintf(stderr, "poolscope: attached (%s); Ctrl-C to stop\n", o.title + 7);
	struct session_loop loop = {
		.duration_ns = o.duration_ns, .interval_ns = o.interval_ns, .arg = &r,
		.alive = alive, .interval = o.interval_ns ? on_interval : NULL, .tick = cli_progress,
	};
	session_run(&ss, &loop);
	cli_progress_clear();
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
	int ngroups = o.all ? program_groups(&m, groups, GROUPS_MAX) : 0;
	struct report_opts ro = {
		.title = o.title, .wide = o.c.wide, .exit_status = -1, .compact = o.interval_ns > 0,
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
