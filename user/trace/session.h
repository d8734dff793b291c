/* user/session.h: one tracing session as `run` and `attach` drive it: the
 * tracer plus, when stacks or locks are traced, the symbolizer fed with each
 * traced process's memory map while the process lives. */
#ifndef POOLSCOPE_SESSION_H
#define POOLSCOPE_SESSION_H
#include "model/snapshot.h"
#include "sym/symbolize.h"
#include "trace/tracer.h"

struct session {
	struct tracer *tracer;
	struct symbolizer *sym;      /* NULL when no stacks are captured */
	struct session_proc { uint32_t tgid; char exe[256]; } *procs;
	uint32_t nprocs, cap;
};

/* Open and load (prints one error line on failure). */
int session_open(struct session *s, const struct tracer_opts *opts);
/* Every slice: sample busy time, snapshot new (or re-exec'd) processes' maps. */
void session_poll(struct session *s);
/* End the window: refresh maps of live processes, read everything, name the
 * stacks. The caller then closes. */
int session_snapshot(struct session *s, struct ps_snapshot *snap);
/* Detach and free; when snap is given, record the detach time and peak RSS
 * in it. */
void session_close(struct session *s, struct ps_snapshot *snap);

#endif
