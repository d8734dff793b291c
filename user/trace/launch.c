/* user/trace/launch.c: start a command under tracing and wait for it: fork,
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

struct wait_state {
	const struct launch *l;
	pid_t pid;
	int status;
	bool exited;
};

static bool child_running(void *arg)
{
	struct wait_state *w = arg;

	if (waitpid(w->pid, &w->status, WNOHANG) == w->pid)
		w->exited = true;
	return !w->exited;
}

/* A stop signal sent to poolscope alone (kill, not the tty's Ctrl-C, which
 * the workload gets too) is passed on; then wait for the workload a while. */
static bool forward_stop(void *arg, int sig, bool from_user)
{
	struct wait_state *w = arg;

	if (from_user)
		kill(w->pid, sig);
	return true;
}

static void gave_up(void *arg, bool second_signal)
{
	struct wait_state *w = arg;

	ps_warn("workload (pid %d) still running after %s; detaching and reporting", w->pid,
		second_signal ? "a second signal" : "2 s");
}

static void tick(void *arg, struct session *s, uint64_t elapsed_ns)
{
	struct wait_state *w = arg;

	if (w->l->tick)
		w->l->tick(w->l->tick_arg, s, elapsed_ns);
}

static bool stopped;   /* a stop signal ended a launch */

bool launch_stopped(void)
{
	return stopped;
}

/* run --cgroup: the child, waiting for its go byte, moves into the cgroups
 * before anything is loaded, like cgexec: a refusal is said first. */
static int move_child(const struct launch *l, pid_t pid)
{
	for (int i = 0; i < l->ncgroups; i++) {
		const struct cg_target *c = &l->cgroups[i];
		int err = cgroupfs_move(&c->h, c->path, pid);

		if (err) {
			ps_err("%s: cannot move the command into cgroup %s (%s): %s", l->cmd, c->path,
			       cgroupfs_kind_name(c->h.kind), err == -EBUSY && c->h.kind == PS_CG_V2 ?
			       "v2 puts processes in leaf cgroups only (its cgroup.subtree_control "
			       "is not empty)" : strerror(-err));
			return err;
		}
	}
	return 0;
}

int launch_traced(const struct launch *l, struct ps_snapshot *snap, int *status_out)
{
	struct session ss;
	int go[2], errp[2], err;
	pid_t pid;

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
	if (move_child(l, pid) || session_open(&ss, l->tr)) {
		close(go[1]);   /* the child sees EOF and exits */
		close(errp[0]);
		waitpid(pid, NULL, 0);
		return EXIT_TRACE;
	}
	err = session_add_process(&ss, pid);
	if (err)
		ps_err("%s: cannot add pid %d to the trace: %s", l->cmd, pid, strerror(-err));
	if (!err)
		err = session_start(&ss);
	uint64_t launch_ns = mono_ns();
	if (err || write(go[1], "g", 1) != 1) {
		close(go[1]);
		close(errp[0]);
		waitpid(pid, NULL, 0);
		session_close(&ss, NULL);
		return EXIT_TRACE;
	}
	close(go[1]);

	struct wait_state w = { .l = l, .pid = pid };
	struct session_loop loop = {
		.arg = &w, .alive = child_running, .on_stop = forward_stop, .tick = tick,
		.grace_ns = 2000000000ull, .grace_over = gave_up,
	};
	if (session_run(&ss, &loop) == SESSION_END_SIGNAL)
		stopped = true;
	err = session_snapshot(&ss, snap, true);
	if (!err) {
		snap->launch_tgid = pid;
		snap->launch_ns = launch_ns;
	}
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
	*status_out = w.exited ? exit_status_of(w.status) : -1;
	return 0;
}
