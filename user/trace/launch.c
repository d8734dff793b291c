/* user/launch.c: start a command under tracing and wait for it: fork,
 * drop to the invoking user, attach, release the child to exec, sample until
 * it exits or a stop signal, read the trace. Shared by run and compare. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cmd/commands.h"
#include "trace/launch.h"
#include "trace/session.h"
#include "sys/util.h"

static volatile sig_atomic_t stop_signal;     /* SIGINT/SIGTERM received */
static volatile sig_atomic_t stopped;         /* a stop signal came during a launch */
static volatile sig_atomic_t stop_from_user;  /* sent by kill(2), not the tty */

static void on_stop(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	stop_signal = sig;
	stopped = 1;
	stop_from_user = si && si->si_code <= 0; /* SI_USER, SI_QUEUE: kill(1) */
}

static void on_child(int sig)
{
	(void)sig; /* only interrupts the sleep */
}

/* Find an executable the way execvp would; 0 or -ENOENT / -EACCES. */
int launch_resolve_command(const char *cmd, char *out, size_t len)
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

/* The child: wait for the go byte (tracing is attached), become the invoking
 * user, exec. Exec failure goes back through errpipe. */
static void child_exec(const struct launch *l, int go, int errpipe)
{
	char b;
	int err = 0;

	if (read(go, &b, 1) != 1)
		_exit(EXIT_NOCMD);
	if (!l->as_root && invoker_drop(l->inv))
		err = errno;
	if (!err && l->child_stdout >= 0 && dup2(l->child_stdout, 1) < 0)
		err = errno;
	if (!err) {
		execv(l->path, l->argv);
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


bool launch_stopped(void)
{
	return stopped;
}

int launch_traced(const struct launch *l, struct ps_snapshot *snap, int *status_out)
{
	struct session ss;
	int go[2], errp[2], status = 0, exited, err;
	pid_t pid;

	struct sigaction sa = { .sa_sigaction = on_stop, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct sigaction sc = { .sa_handler = on_child, .sa_flags = SA_NOCLDSTOP };
	sigemptyset(&sc.sa_mask);
	sigaction(SIGCHLD, &sc, NULL);

	if (pipe2(go, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
		ps_err("%s: pipe: %s", l->cmd, strerror(errno));
		return EXIT_TRACE;
	}
	/* The child is forked before any BPF object exists, so it never holds
	 * a BPF fd or mapping; it waits for the go byte, then execs. */
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		ps_err("%s: fork: %s", l->cmd, strerror(errno));
		return EXIT_TRACE;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		close(go[1]);
		close(errp[0]);
		child_exec(l, go[0], errp[1]);
	}
	close(go[0]);
	close(errp[1]);
	if (session_open(&ss, l->tr)) {
		close(go[1]);   /* the child sees EOF and exits */
		close(errp[0]);
		waitpid(pid, NULL, 0);
		return EXIT_TRACE;
	}
	err = tracer_add_tgid(ss.tracer, pid);
	if (err)
		ps_err("%s: cannot add pid %d to the trace: %s", l->cmd, pid, strerror(-err));
	if (!err)
		err = tracer_start(ss.tracer);
	if (err || write(go[1], "g", 1) != 1) {
		close(go[1]);
		close(errp[0]);
		waitpid(pid, NULL, 0);
		session_close(&ss, NULL);
		return EXIT_TRACE;
	}
	close(go[1]);

	exited = wait_traced(&ss, pid, &status);
	err = session_snapshot(&ss, snap);
	session_close(&ss, err ? NULL : snap);
	int exec_err = 0;
	if (read(errp[0], &exec_err, sizeof(exec_err)) != sizeof(exec_err))
		exec_err = 0;
	close(errp[0]);
	if (err) {
		ps_err("%s: cannot read the trace: %s", l->cmd, strerror(-err));
		return EXIT_TRACE;
	}
	if (exec_err) {
		ps_err("%s: cannot execute %s: %s", l->cmd, l->path, strerror(exec_err));
		snapshot_free(snap);
		return EXIT_NOCMD;
	}
	*status_out = exited ? exit_status_of(status) : -1;
	return 0;
}
