/* user/diagnose.h: the verdict at the end of every report: what bounded the
 * traced run (CPU, one lock, IO, the run queue, or nothing), how sure that is,
 * and the measured numbers behind it. A pure function of the model: no BPF,
 * no /proc, so unit tests feed it hand-made snapshots. */
#ifndef POOLSCOPE_DIAGNOSE_H
#define POOLSCOPE_DIAGNOSE_H
#include "model/model.h"

enum verdict {
	VERDICT_CPU_PARALLEL,     /* computing on as many cores as it has workers (or cores) */
	VERDICT_LOCK_SERIALIZED,  /* computing, but one at a time behind one lock */
	VERDICT_IO_BOUND,         /* blocked in the kernel (sockets, files), not computing */
	VERDICT_OVERSUBSCRIBED,   /* more threads want a CPU than there are cores */
	VERDICT_MIXED,            /* no single bottleneck */
	VERDICT_IDLE,             /* hardly ran and hardly woke up (sleep 1) */
	VERDICT_THROTTLED,        /* held below its demand by its cgroup's CPU quota or cpuset */
	VERDICT_CPU_STARVED,      /* computing, but untraced tasks took the cores */
	VERDICT_AWAITING_REQUESTS, /* a server, blocked waiting for its clients */
};

#define DIAG_MAX_EVIDENCE 16

/* One measured number behind a verdict, e.g. {"parallelism", 1.93, "cpus"}.
 * The name is a JSON key, so it is snake_case and carries its unit when the
 * unit is not obvious ("runq_p99_ms"). */
struct evidence {
	const char *name;
	double value;
	const char *unit;
};

struct diagnosis {
	enum verdict verdict;
	const char *label;        /* "CPU-bound, parallel" ... short, for tables */
	const char *key;          /* "cpu-parallel", "lock-serialized", "io-bound",
				   * "oversubscribed", "mixed", "idle", "throttled",
				   * "cpu-starved", "awaiting-requests" (JSON) */
	char label_buf[96];       /* a label with numbers ("... starved by other tasks:
				   * 1.26 of 2 CPUs"), when label points here */
	double confidence;        /* 0..1 */
	char text[1024];          /* one paragraph, wrapped to 78 columns, numbers included */
	struct evidence ev[DIAG_MAX_EVIDENCE];
	int nev;
	const struct lock_summary *lock;   /* the lock named (points into the model), or NULL */
};

/* Classify the run the model describes. d stays valid while m is. */
void diagnose(const struct model *m, struct diagnosis *d);

/* "high" (>= 0.75), "medium" (>= 0.5) or "low". */
const char *diagnose_confidence_word(double confidence);

#endif
