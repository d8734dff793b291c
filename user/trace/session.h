/* user/trace/session.h: one tracing session as every command drives it: the
 * tracer plus, when stacks or locks are traced, the symbolizer fed with each
 * traced process's memory map while the process lives; the one loop that
 * samples until the trace ends, and the one place stop signals arrive.
 *
 *   session_signals_init();            first thing a tracing command does
 *   session_open(); session_add_*();   load, choose targets
 *   session_start();                   attach: the window begins
 *   session_run(&loop);                until the command exits, the duration
 *                                      ends or a stop signal (Ctrl-C)
 *   session_snapshot(); session_close();
 */
#ifndef POOLSCOPE_SESSION_H
#define POOLSCOPE_SESSION_H
#include <stdbool.h>
#include "model/snapshot.h"
#include "sym/symbolize.h"
#include "trace/tracer.h"
#include "trace/cgstats.h"

#define SESSION_MAPS_REFRESH_NS 1000000000ull

/* What a traced process's Python frames are. */
enum session_python {
	SESSION_PY_NONE,        /* not CPython (or Python frames are off) */
	SESSION_PY_KNOWN,       /* CPython of a known layout: its frames are read */
	SESSION_PY_UNKNOWN,     /* CPython poolscope does not know: native frames */
	SESSION_PY_PENDING,     /* known, not told to the kernel yet: tried every slice */
};

struct session {
	struct tracer *tracer;
	struct symbolizer *sym;      /* NULL when no stacks are captured */
	struct session_proc {
		uint32_t tgid;
		char exe[256];
		bool gone;           /* exited: its perf map was read then */
		uint8_t python;      /* enum session_python */
		char py_version[16]; /* "3.11.2" */
	} *procs;
	uint32_t nprocs, cap;
	uint32_t *servers;           /* traced processes seen listening (snapshot servers) */
	uint32_t nservers, cap_servers;
	uint64_t started_ns;         /* session_start, CLOCK_MONOTONIC */
	uint64_t next_maps_refresh_ns; /* when live processes' maps are read again */
	struct cgstats cg;           /* cgroup readings at the start and the end */
	int first[64], nfirst;       /* the first targets (their cgroups are read at the start) */
	bool all;
	char **py_unknown_said;      /* the interpreters said to be unknown, once each */
	uint32_t n_py_unknown_said;
};

/* Stop signals (SIGINT, SIGTERM, SIGHUP) and SIGCHLD (which only ends a
 * sleep of the loop). Until session_start returns, a stop signal ends
 * poolscope at once: nothing is attached yet or the kernel detaches what is
 * when the process exits; the files registered with session_on_abort are
 * removed first. */
void session_signals_init(void);
/* A file to remove if poolscope is stopped during start-up (a temporary
 * output file); the string must stay valid. */
void session_on_abort(const char *path);
/* The stop signal received since the last session_stop_clear, 0 if none;
 * from_user: sent by kill(2) (forward it to a workload), not by the tty. */
int session_stop_signal(bool *from_user);
/* How many stop signals arrived in all. */
unsigned session_stop_count(void);
void session_stop_clear(void);

/* Open and load (prints one error line on failure). */
int session_open(struct session *s, const struct tracer_opts *opts);
/* Trace process tgid (its threads, and processes it forks when the options
 * follow forks), or one thread (opts.tids). 0 or -errno. */
int session_add_process(struct session *s, int tgid);
int session_add_thread(struct session *s, int tid);
/* Attach: the trace window begins. Prints one line on failure. */
int session_start(struct session *s);

/* What ends session_run. */
enum session_end {
	SESSION_END_DONE,       /* loop.alive said so: the command or targets exited */
	SESSION_END_DURATION,   /* loop.duration_ns passed */
	SESSION_END_SIGNAL,     /* a stop signal that loop.on_stop did not keep */
};

struct session_loop {
	uint64_t duration_ns;        /* 0: no limit */
	uint64_t interval_ns;        /* 0: no interval callbacks */
	void *arg;
	/* every slice: false ends the trace (NULL: never) */
	bool (*alive)(void *arg);
	/* every slice, after sampling (a progress line) */
	void (*tick)(void *arg, struct session *s, uint64_t elapsed_ns);
	/* every interval: the snapshot of the trace so far, handed over */
	void (*interval)(void *arg, struct ps_snapshot *so_far);
	/* a stop signal: true to keep tracing (run forwards it to the workload
	 * and gives it time to exit); NULL: stop */
	bool (*on_stop)(void *arg, int sig, bool from_user);
	/* after on_stop kept tracing: stop anyway this long after the signal,
	 * or at a second signal (0: no limit), and tell grace_over which */
	uint64_t grace_ns;
	void (*grace_over)(void *arg, bool second_signal);
};

/* Sample every slice until the loop ends; returns why. */
enum session_end session_run(struct session *s, const struct session_loop *loop);

/* Events handled, threads seen and drops so far, and each CPU's busy share
 * over the last slice (any task): for a progress line, cheap. */
#define SESSION_MAX_CPUS_SHOWN 8
struct session_counts {
	uint64_t events, dropped;
	uint32_t threads;
	int nr_cpus;                 /* of busy_pct: at most SESSION_MAX_CPUS_SHOWN */
	double busy_pct[SESSION_MAX_CPUS_SHOWN];
};
void session_counts(struct session *s, struct session_counts *c);
/* The traced processes so far; returns how many were written (at most max). */
int session_processes(struct session *s, uint32_t *tgids, int max);

/* End the window: refresh maps of live processes, read everything, name the
 * stacks. final: the whole trace's (the caller then closes), which takes the
 * --timeline records; an interval's is not final. */
int session_snapshot(struct session *s, struct ps_snapshot *snap, bool final);
/* Detach and free; when snap is given, record the detach time and peak RSS
 * in it. */
void session_close(struct session *s, struct ps_snapshot *snap);

#endif
