/* user/trace/cgstats.h: the cgroup files of a trace, read when it starts and
 * when it (or an interval) ends, into the snapshot: for each cgroup the
 * traced threads were in, its CPU usage and throttling at both ends, the
 * CPU limit in effect and its cpuset. The session calls it; the files are
 * read by sys/cgroupfs. */
#ifndef POOLSCOPE_CGSTATS_H
#define POOLSCOPE_CGSTATS_H
#include "model/snapshot.h"
#include "sys/cgroupfs.h"

struct cgstats {
	struct cg_hier h;            /* the hierarchy followed */
	struct cg_hier acct, cpuset; /* where usage and cpusets are read (v1: theirs) */
	uint64_t target;             /* --cgroup: the subtree's root, 0: none */
	struct cg_start {            /* the readings at the start, by path */
		char path[CG_PATH_MAX];
		char acct[CG_PATH_MAX];  /* its tasks' cgroup in acct, "" unknown */
		char cpuset[CG_PATH_MAX];/* ... and in cpuset */
		struct cg_counters c;
	} *start;
	int nstart, cap;
};

/* The hierarchy kind (enum ps_cg_hier) and the --cgroup root (0: none). */
void cgstats_init(struct cgstats *c, int kind, uint64_t target);
/* At the trace's start: the cgroups of the first targets (pids), of the
 * --cgroup subtree, or with all of the whole hierarchy. */
void cgstats_start(struct cgstats *c, const int *pids, int npids, bool all);
/* At its end: the cgroups of snap's threads, into snap. */
void cgstats_end(struct cgstats *c, struct ps_snapshot *snap);
void cgstats_free(struct cgstats *c);

#endif
