/* user/cmd_run.c: `poolscope run`: start a workload or command under
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
#include "catalog.h"
#include "cli.h"
#include "commands.h"
#include "model.h"
#include "privs.h"
#include "report.h"
#include "session.h"
#include "util.h"

struct run_opts {
	struct cli_common c;
	bool as_root;
	char **cmd;          /* argv of what to exec */
	char path[PATH_MAX]; /* resolved program */
	char title[512];
};

static volatile sig_atomic_t stop_signal;     /* SIGINT/SIGTERM received */
static volatile sig_atomic_t stop_from_user;  /* sent by kill(2), not the tty */

static void on_stop(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	stop_signal = sig;
	stop_from_user = si && si->si_code <= 0; /* SI_USER, SI_QUEUE: kill(1) */
}

static void on_child(int sig)
{
	(void)sig; /* only interrupts the sleep */
}

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
"the command and of every process it forks is traced.\n"
"\n"
"Bundled workloads: %s\n"
"(`poolscope list` describes them; WORKLOAD-ARGS go to the workload, try --help.)\n"
"\n"
"Options:\n"
"  -a, --all           trace every task on the machine while the command runs\n"
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
"Signals: Ctrl-C (SIGINT) or SIGTERM stops the trace: a signal sent to\n"
"poolscope alone is forwarded to the workload; poolscope waits up to 2 s for it\n"
"to exit (a second signal stops waiting), detaches and prints what it gathered.\n"
"\n"
"Exit status: the workload's (128+N if killed by signal N); 2 for a bad\n"
"command line; 127 if the command cannot be found or executed; 1 if tracing\n"
"could not start.\n"
"\n"
"Examples:\n"
"  sudo poolscope run --stacks all --svg oncpu:cpu.svg cpu-threads\n"
"  sudo poolscope run io-threads\n"
"  sudo poolscope run cpu-threads -w 4\n"
"  sudo poolscope run --json out.json -- make -j2\n");
}

/* Find an executable the way execvp would; 0 or -ENOENT / -EACCES. */
static int resolve_command(const char *cmd, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return access(cmd, X_OK) ? -errno : 0;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)(n ? n : 1), n ? path : ".", cmd);
		if (access(buf, X_OK) == 0) {
			snprintf(out, len, "%s", buf);
			return 0;
		}
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}

static int parse_args(int argc, char **argv, struct run_opts *o)
{
	static const struct option own[] = {
		{ "all", no_argument, NULL, 'a' },
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
		err = resolve_command(o->cmd[0], o->path, sizeof(o->path));
		if (err) {
			ps_err("run: %s: %s", o->cmd[0], err == -ENOENT ? "command not found" : strerror(-err));
			return -ENOEXEC;
		}
	}
	size_t n = 0;
	for (char **a = o->cmd; *a && n < sizeof(o->title); a++)
		n += snprintf(o->title + n, sizeof(o->title) - n, "%s%s", a == o->cmd ? (dashdash ? "-- " : "") : " ", *a);
	return 0;
}

/* The child: wait for the go byte (tracing is attached), become the invoking
 * user, exec. Exec failure goes back through errpipe. */
static void child_exec(const struct run_opts *o, const struct invoker *inv, int go, int errpipe,
		       bool stdout_to_stderr)
{
	char b;
	int err = 0;

	if (read(go, &b, 1) != 1)
		_exit(EXIT_NOCMD);
	if (!o->as_root && invoker_drop(inv))
		err = errno;
	if (!err && stdout_to_stderr && dup2(2, 1) < 0)
		err = errno;
	if (!err) {
		execv(o->path, o->cmd);
		err = errno;
	}
	if (write(errpipe, &err, sizeof(err)) < 0)
		_exit(EXIT_NOCMD);
	_exit(EXIT_NOCMD);
}

static int exit_status_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

/* Sample busy time every slice until the child exits or a stop signal. */
static int wait_traced(struct session *ss, pid_t pid, int *status)
{
	uint64_t slice = tracer_slice_ns(ss->tracer), next = mono_ns() + slice, deadline = 0;
	int forwarded = 0;

	for (;;) {
		struct timespec ts = { next / 1000000000ull, next % 1000000000ull };
		uint64_t now;

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		now = mono_ns();
		if (now >= next) {
			session_poll(ss);
			next += slice;
			if (next < now)
				next = now + slice;
		}
		if (waitpid(pid, status, WNOHANG) == pid)
			return 1;
		if (stop_signal && !forwarded) {
			forwarded = stop_signal;
			if (stop_from_user)
				kill(pid, stop_signal);
			stop_signal = 0;
			deadline = now + 2000000000ull;
		} else if (forwarded && (stop_signal || now >= deadline)) {
			ps_warn("workload (pid %d) still running after %s; detaching and reporting",
				pid, stop_signal ? "a second signal" : "2 s");
			return 0;
		}
	}
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o = { 0 };
	struct invoker inv;
	struct session ss;
	struct ps_snapshot snap;
	struct model m;
	int go[2], errp[2], status = 0, exited, err, rc;
	pid_t pid;

	err = parse_args(argc, argv, &o);
	if (err)
		return err == -ENOEXEC ? EXIT_NOCMD : EXIT_USAGE;
	if (invoker_get(&inv)) {
		ps_err("run: malformed SUDO_UID/SUDO_GID in the environment");
		return EXIT_USAGE;
	}
	if (cli_open_outputs(&o.c, &inv, "run"))
		return EXIT_USAGE;
	struct sigaction sa = { .sa_sigaction = on_stop, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct sigaction sc = { .sa_handler = on_child, .sa_flags = SA_NOCLDSTOP };
	sigemptyset(&sc.sa_mask);
	sigaction(SIGCHLD, &sc, NULL);

	if (pipe2(go, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
		ps_err("run: pipe: %s", strerror(errno));
		return EXIT_TRACE;
	}
	/* The child is forked before any BPF object exists, so it never holds
	 * a BPF fd or mapping; it waits for the go byte, then execs. */
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		ps_err("run: fork: %s", strerror(errno));
		return EXIT_TRACE;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		close(go[1]);
		close(errp[0]);
		child_exec(&o, &inv, go[0], errp[1], o.c.json == stdout);
	}
	close(go[0]);
	close(errp[1]);
	if (session_open(&ss, &o.c.tr)) {
		close(go[1]);   /* the child sees EOF and exits */
		waitpid(pid, NULL, 0);
		return EXIT_TRACE;
	}
	err = tracer_add_tgid(ss.tracer, pid);
	if (err)
		ps_err("run: cannot add pid %d to the trace: %s", pid, strerror(-err));
	if (!err)
		err = tracer_start(ss.tracer);
	if (err || write(go[1], "g", 1) != 1) {
		close(go[1]);
		waitpid(pid, NULL, 0);
		session_close(&ss);
		return EXIT_TRACE;
	}
	close(go[1]);

	exited = wait_traced(&ss, pid, &status);
	err = session_snapshot(&ss, &snap);
	session_close(&ss);
	if (err) {
		ps_err("run: cannot read the trace: %s", strerror(-err));
		return EXIT_TRACE;
	}
	int exec_err = 0;
	if (read(errp[0], &exec_err, sizeof(exec_err)) == sizeof(exec_err) && exec_err) {
		ps_err("run: cannot execute %s: %s", o.path, strerror(exec_err));
		snapshot_free(&snap);
		return EXIT_NOCMD;
	}
	rc = exited ? exit_status_of(status) : 128 + SIGINT;

	model_build(&snap, &m);
	struct report_opts ro = {
		.title = o.title, .argv = o.cmd, .wide = o.c.wide,
		.exit_status = exited ? rc : -1,
	};
	if (cli_emit(&o.c, &m, &ro, "run"))
		rc = rc ? rc : EXIT_TRACE;
	model_free(&m);
	snapshot_free(&snap);
	return rc;
}
