/* user/launch.h: run a command under tracing until it exits (run, compare). */
#ifndef POOLSCOPE_LAUNCH_H
#define POOLSCOPE_LAUNCH_H
#include <stdbool.h>
#include <stddef.h>
#include "sys/privs.h"
#include "model/snapshot.h"
#include "trace/session.h"
#include "trace/tracer.h"
#include "sys/cgroupfs.h"

struct launch {
	char **argv;                 /* what to exec */
	const char *path;            /* resolved program */
	bool as_root;                /* under sudo, keep root */
	const struct invoker *inv;
	const struct tracer_opts *tr;
	int child_stdout;            /* -1: inherit; else this fd becomes its stdout */
	const char *cmd;             /* "run", for error lines */
	/* run --cgroup: the cgroups to start it in (one per hierarchy), NULL */
	const struct cg_target *cgroups;
	int ncgroups;
	/* every slice while it runs (a progress line), or NULL */
	void (*tick)(void *arg, struct session *s, uint64_t elapsed_ns);
	void *tick_arg;
};

/* Fork, trace, release the child to exec, sample until it exits (or a stop
 * signal: forwarded when sent to poolscope alone, 2 s grace), read the trace.
 * The caller has called session_signals_init.
 * *status: the child's exit status (128+N if killed by signal N), -1 if it
 * was still running. 0, or an EXIT_* code after printing one error line. */
int launch_traced(const struct launch *l, struct ps_snapshot *snap, int *status);
/* Whether a stop signal (SIGINT/SIGTERM) arrived during a launch: a series
 * of launches (compare) stops there and reports what it has. */
bool launch_stopped(void);
/* Find an executable the way execvp would; 0 or -ENOENT / -EACCES. */
int launch_resolve_command(const char *cmd, char *out, size_t len);

#endif
