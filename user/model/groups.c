/* user/model/groups.c: the busiest programs of a machine-wide trace (see
 * groups.h). */
#include "model/groups.h"
#include "model/snapdiff.h"
#include "sys/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct name_total {
	const char *comm;
	uint64_t oncpu_ns;
	uint32_t nprocs;
};

static int cmp_total(const void *a, const void *b)
{
	const struct name_total *x = a, *y = b;

	return x->oncpu_ns < y->oncpu_ns ? 1 : x->oncpu_ns > y->oncpu_ns ? -1 :
	       strcmp(x->comm, y->comm);
}

static void build_group(const struct model *m, const char *comm, struct program_group *g)
{
	uint32_t *tgids = xcalloc(m->nprocs + 1, sizeof(*tgids)), n = 0;

	memset(g, 0, sizeof(*g));
	snprintf(g->comm, sizeof(g->comm), "%s", comm);
	for (uint32_t i = 0; i < m->nprocs; i++)
		if (!strcmp(m->procs[i].comm, comm)) {
			tgids[n++] = m->procs[i].tgid;
			g->oncpu_ns += m->procs[i].oncpu_ns;
		}
	g->nprocs = n;
	snapshot_filter(m->snap, tgids, n, &g->snap);
	model_build(&g->snap, &g->m);
	diagnose(&g->m, &g->d);
	free(tgids);
}

int program_groups(const struct model *m, struct program_group *g, int max)
{
	struct name_total *t = xcalloc(m->nprocs + 1, sizeof(*t));
	uint32_t nt = 0;
	int n = 0;

	for (uint32_t i = 0; i < m->nprocs; i++) {
		uint32_t k;

		for (k = 0; k < nt && strcmp(t[k].comm, m->procs[i].comm); k++)
			;
		if (k == nt)
			t[nt++].comm = m->procs[i].comm;
		t[k].oncpu_ns += m->procs[i].oncpu_ns;
		t[k].nprocs++;
	}
	qsort(t, nt, sizeof(*t), cmp_total);
	for (uint32_t k = 0; k < nt && n < max; k++) {
		if (t[k].oncpu_ns < GROUP_MIN_CPU * m->wall_ns)
			break;
		build_group(m, t[k].comm, &g[n++]);
	}
	free(t);
	return n;
}

void program_groups_free(struct program_group *g, int n)
{
	for (int i = 0; i < n; i++) {
		model_free(&g[i].m);
		snapshot_free(&g[i].snap);
	}
}
