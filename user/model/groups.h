/* user/model/groups.h: attach -a's machine view: the busiest programs of a
 * trace of every task (processes grouped by name: nginx's master and its
 * workers, apache's children), each as a snapshot, a model and a verdict of
 * its own. One verdict for the whole machine would mix them. */
#ifndef POOLSCOPE_GROUPS_H
#define POOLSCOPE_GROUPS_H
#include "model/diagnose.h"

#define GROUPS_MAX 3
/* A program is busy when its threads ran at least this share of one CPU. */
#define GROUP_MIN_CPU 0.01

struct program_group {
	char comm[PS_COMM_LEN];
	uint32_t nprocs;
	uint64_t oncpu_ns;
	struct ps_snapshot snap;     /* its part of the trace */
	struct model m;
	struct diagnosis d;
};

/* The busiest programs of model m (at most max, by on-CPU time, busy ones
 * only) into g; returns how many. m->snap must outlive them. */
int program_groups(const struct model *m, struct program_group *g, int max);
void program_groups_free(struct program_group *g, int n);

#endif
