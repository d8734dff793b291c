/* user/cmd/run.c: `poolscope run`: start a workload or command under
 * tracing, wait for it, print the report. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cmd/catalog.h"
#include "trace/launch.h"
#include "cmd/cli.h"
#include "cmd/commands.h"
#include "model/model.h"
#include "model/diagnose.h"
#include "sys/privs.h"
#include "render/report.h"
#include "trace/session.h"
#include "sys/util.h"

#define MAX_CGROUPS 8

struct run_opts {
	struct cli_common c;
	bool as_root;
	const char *cgroup;                 /* --cgroup's argument */
	struct cg_target cg[MAX_CGROUPS];   /* ... resolved: one per hierarchy */
	int ncg;
	char **cmd;          /* argv of what to exec */
	char path[PATH_MAX]; /* resolved program */
	char title[512];
};

void run_usage(FILE *out)
{
	char list[256];

	fprintf(out,
"Usage: poolscope run [OPTIONS] WORKLOAD [WORKLOAD-ARGS...]\n"
"       poolscope run [OPTIONS] -- COMMAND [ARGS...]\n"
"\n"
"Run a bundled workload or any command under scheduler tracing, wait for it\n"
"to exit, and print how its threads shared the CPU cores: per-core busy time,\n"
"context switches (voluntary/involuntary), run-queue latency, migrations,\n"
"busy share over time, and per-thread and per-process totals. Every thread of\n"
"the command and of every process it forks is traced. When the threads are in\n"
"more than one cgroup, or with --cgroup, the CGROUPS section shows each one's\n"
"CPU time, CPU limit, cpuset and throttling over the trace.\n"
"\n"
"Bundled workloads:\n  %s\n"
"(`poolscope list` describes them; WORKLOAD-ARGS go to the workload, try --help.)\n"
"\n"
"Options:\n"
"  -a, --all           trace every task on the machine while the command runs\n"
"  --cgroup CGROUP     start the command in this cgroup (like cgexec) and trace\n"
"                      every task of its subtree while the command runs: tasks\n"
"                      that move in or out start or stop being traced. CGROUP is\n"
"                      a cgroup directory (/sys/fs/cgroup/pool), a path in the\n"
"                      hierarchy CPU limits live in (/system.slice/x.service), or\n"
"                      CONTROLLERS:PATH (cpu,cpuacct:/pool: that path in each\n"
"                      controller's v1 hierarchy; the first one is traced)\n"
"  --as-root           under sudo, run the workload as root instead of the\n"
"                      invoking user (SUDO_UID/SUDO_GID)\n"
"  --list              list the bundled workloads\n"
"  -h, --help          this help\n"
"\n", catalog_list(list, sizeof(list)));
	cli_common_usage(out);
	fprintf(out,
"\n"
"Privileges: tracing needs root (CAP_BPF and CAP_PERFMON). Under sudo the\n"
"workload runs as the invoking user with supplementary groups dropped, like\n"
"perf and strace, and output files are created as that user.\n"
"\n"
"Progress: while the command runs, a line on stderr (elapsed, events, drops,\n"
"threads, each core's busy share) is kept on the terminal's last row, its\n"
"output scrolling above it, when stderr is a terminal.\n"
"\n"
"Signals: Ctrl-C (SIGINT) or SIGTERM stops the trace: a signal sent to\n"
"poolscope alone is forwarded to the workload; poolscope waits up to 2 s for it\n"
"to exit (a second signal stops waiting), detaches and prints what it gathered.\n"
"\n"
"Exit status: the workload's (128+N if killed by signal N); 2 for a bad\n"
"command line; 127 if the command cannot be found or executed; 1 if tracing\n"
"could not start, or (when the workload's is 0) an output could not be\n"
"written or a push failed.\n"
"\n"
"Examples:\n"
"  sudo poolscope run --stacks all --svg oncpu:cpu.svg cpu-threads\n"
"  sudo poolscope run io-threads\n"
"  sudo poolscope run cpu-threads -w 4\n"
"  sudo poolscope run --json out.json -- make -j2\n"
"  sudo poolscope run --stacks all --pprof oncpu:cpu.pb.gz gil-threads\n"
"  sudo poolscope run --stacks oncpu --push http://pyroscope:4040 \\\n"
"       --push-label env=staging -- ./server\n"
"  sudo poolscope run --cgroup /sys/fs/cgroup/pool -- ./server\n");
}

/* --cgroup ARG; "cpu,cpuacct:/pool" names that path in each controller's
 * hierarchy, as cgexec -g does. */
static int parse_cgroup(const char *arg, struct run_opts *o)
{
	const char *colon = strchr(arg, ':');
	char err[CG_PATH_MAX * 3], ctrls[128], one[CG_PATH_MAX + 64], *tok, *save = NULL;

	if (!colon || colon[1] != '/' || !memchr(arg, ',', colon - arg) ||
	    colon - arg >= (long)sizeof(ctrls)) {
		if (cgroupfs_resolve(arg, &o->cg[0], err, sizeof(err))) {
			ps_err("run: %s", err);
			return -EINVAL;
		}
		o->ncg = 1;
		return 0;
	}
	snprintf(ctrls, sizeof(ctrls), "%.*s", (int)(colon - arg), arg);
	for (tok = strtok_r(ctrls, ",", &save); tok && o->ncg < MAX_CGROUPS;
	     tok = strtok_r(NULL, ",", &save)) {
		snprintf(one, sizeof(one), "%s%s", tok, colon);
		if (cgroupfs_resolve(one, &o->cg[o->ncg], err, sizeof(err))) {
			ps_err("run: %s", err);
			return -EINVAL;
		}
		o->ncg++;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct run_opts *o)
{
	static const struct option own[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "cgroup", required_argument, NULL, 'G' },
		{ "as-root", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "list", no_argument, NULL, 'L' },
		{ 0 },
	};
	const struct option *longopts = cli_longopts(own);
	int c, err;
	bool dashdash;

	optind = 1;
	opterr = 0;
	cli_common_init(&o->c);
	while ((c = getopt_long(argc, argv, "+:ah" CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		err = cli_common_parse(c, optarg, "run", &o->c);
		if (err < 0)
			return err;
		if (err)
			continue;
		switch (c) {
		case 'a': o->c.tr.all = true; break;
		case 'G':
			if (o->cgroup) {
				ps_err("run: give --cgroup once (CONTROLLERS:PATH names several "
				       "hierarchies)");
				return -EINVAL;
			}
			o->cgroup = optarg;   /* resolved after the options (--help first) */
			break;
		case 'R': o->as_root = true; break;
		case 'h': run_usage(stdout); exit(0);
		case 'L': catalog_print(); exit(0);
		case ':':
			ps_err("run: option '%s' needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			ps_err("run: unknown option '%s' (see poolscope run --help)", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (o->cgroup && parse_cgroup(o->cgroup, o))
		return -EINVAL;
	if (o->ncg && o->c.tr.all) {
		ps_err("run: give -a (every task) or --cgroup (a subtree), not both");
		return -EINVAL;
	}
	if (o->ncg) {
		o->c.tr.cg_hier = o->cg[0].h.kind;
		o->c.tr.cg_id = o->cg[0].id;
	}
	dashdash = optind > 1 && !strcmp(argv[optind - 1], "--");
	if (optind >= argc) {
		ps_err("run: no workload or command given (poolscope list shows the workloads; "
		       "poolscope run -- CMD traces a command)");
		return -EINVAL;
	}
	o->cmd = &argv[optind];
	if (!dashdash) {
		char list[256];

		err = catalog_path(o->cmd[0], o->path, sizeof(o->path));
		if (err == -ENOENT) {
			ps_err("run: unknown workload '%s' (bundled: %s; to trace a command: "
			       "poolscope run -- %s)", o->cmd[0], catalog_list(list, sizeof(list)),
			       o->cmd[0]);
			return -EINVAL;
		}
		if (err) {
			ps_err("run: workload '%s' is not built (%s missing): run make", o->cmd[0], o->path);
			return -ENOEXEC;
		}
	} else {
		err = launch_resolve_command(o->cmd[0], o->path, sizeof(o->path));
		if (err) {
			ps_err("run: %s: %s", o->cmd[0], err == -ENOENT ? "command not found" : strerror(-err));
			return -ENOEXEC;
		}
	}
	size_t n = 0;
	if (o->ncg)
		n += snprintf(o->title, sizeof(o->title), "--cgroup %s ", o->cg[0].path);
	for (char **a = o->cmd; *a && n < sizeof(o->title); a++)
		n += snprintf(o->title + n, sizeof(o->title) - n, "%s%s", a == o->cmd ? (dashdash ? "-- " : "") : " ", *a);
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o = { 0 };
	struct invoker inv;
	struct ps_snapshot snap;
	struct model m;
	struct diagnosis d;
	int err, status, rc;

	session_signals_init();
	err = parse_args(argc, argv, &o);
	if (err)
		return err == -ENOEXEC ? EXIT_NOCMD : EXIT_USAGE;
	if (invoker_get(&inv)) {
		ps_err("run: malformed SUDO_UID/SUDO_GID in the environment");
		return EXIT_USAGE;
	}
	const char *base = strrchr(o.cmd[0], '/');
	if (cli_open_outputs(&o.c, &inv, "run", base ? base + 1 : o.cmd[0]))
		return EXIT_USAGE;
	struct launch l = {
		.argv = o.cmd, .path = o.path, .as_root = o.as_root, .inv = &inv, .tr = &o.c.tr,
		.child_stdout = cli_json_stdout(&o.c) ? 2 : -1, .cmd = "run",
		.tick = cli_progress, .cgroups = o.cg, .ncgroups = o.ncg,
	};
	rc = launch_traced(&l, &snap, &status);
	uint64_t wall_of_mono = realtime_ns() - mono_ns();
	cli_progress_end();
	if (rc) {
		cli_discard_outputs(&o.c);
		return rc;
	}
	rc = status >= 0 ? status : 128 + SIGINT;
	model_build(&snap, &m);
	diagnose(&m, &d);
	struct report_opts ro = {
		.title = o.title, .argv = o.cmd, .wide = o.c.wide, .exit_status = status,
		.wall_start = snap.start_ns + wall_of_mono,
	};
	if (cli_emit(&o.c, &m, &d, &ro, "run"))
		rc = rc ? rc : EXIT_TRACE;
	model_free(&m);
	snapshot_free(&snap);
	return rc;
}
