/* user/model/locks.c: lock contention: futex waits merged into locks (by
 * process, the program's waiting function and one lock object) and each lock
 * classified as contended, awaiting-work or idle from the kernel's evidence
 * (see model.h, enum lock_class). */
#include "model/model.h"
#include "model/stacks.h"
#include "sys/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WAITERS 256
/* futex words closer than this belong to one lock object (a glibc
 * pthread_cond_t is 48 bytes, a pthread_mutex_t 40) */
#define LOCK_OBJECT_BYTES 64

static const struct thread_summary *thread_by_tid(const struct model *m, uint32_t tid)
{
	for (uint32_t i = 0; i < m->nthreads; i++)
		if (m->threads[i].tid == tid)
			return &m->threads[i];
	return NULL;
}

static const char *process_comm(const struct model *m, uint32_t tgid)
{
	for (uint32_t i = 0; i < m->nprocs; i++)
		if (m->procs[i].tgid == tgid)
			return m->procs[i].comm;
	return "?";
}

const char *lock_class_name(enum lock_class c)
{
	return c == LOCK_CONTENDED ? "contended" : c == LOCK_AWAITING ? "awaiting-work" : "idle";
}

static int cmp_lock(const void *a, const void *b, void *locks)
{
	const struct lock_summary *x = (struct lock_summary *)locks + *(const uint32_t *)a;
	const struct lock_summary *y = (struct lock_summary *)locks + *(const uint32_t *)b;

	return x->wait_ns < y->wait_ns ? 1 : x->wait_ns > y->wait_ns ? -1 : 0;
}

/* Sort the locks by wait time; lock_of (record -> lock) follows them into
 * m->futex_lock. */
static void sort_locks(struct model *m, const uint32_t *lock_of)
{
	uint32_t *order = xcalloc(m->nlocks ? m->nlocks : 1, sizeof(*order));
	uint32_t *pos = xcalloc(m->nlocks ? m->nlocks : 1, sizeof(*pos));
	struct lock_summary *sorted = xcalloc(m->nlocks ? m->nlocks : 1, sizeof(*sorted));

	for (uint32_t k = 0; k < m->nlocks; k++)
		order[k] = k;
	qsort_r(order, m->nlocks, sizeof(*order), cmp_lock, m->locks);
	for (uint32_t k = 0; k < m->nlocks; k++) {
		sorted[k] = m->locks[order[k]];
		pos[order[k]] = k;
	}
	m->futex_lock = xcalloc(m->snap->n_futex, sizeof(*m->futex_lock));
	for (uint32_t i = 0; i < m->snap->n_futex; i++)
		m->futex_lock[i] = pos[lock_of[i]];
	free(m->locks);
	m->locks = sorted;
	free(order);
	free(pos);
}

static struct thread_summary *thread_of_rec(struct model *m, const struct ps_futex_key *k)
{
	for (uint32_t i = 0; i < m->nthreads; i++)
		if (m->threads[i].tid == k->pid && m->threads[i].tgid == k->tgid)
			return &m->threads[i];
	return NULL;
}

/* The runtime lock the snapshot named futex word uaddr of tgid, or NULL. */
static const char *runtime_lock(const struct ps_snapshot *s, uint32_t tgid, uint64_t uaddr)
{
	const struct ps_addr_name *n = snapshot_addr_name(s, tgid, uaddr);

	return n ? n->lock : NULL;
}

/* Whether futex record r waits on lock l: the same process, and either the
 * same runtime lock (CPython's GIL, waited on from whatever function the
 * interpreter inlined it into), or the same waiting function of the program
 * (merged by symbol, whatever path led there) and addresses within one
 * object (a condition variable's futex words, a mutex beside it), so
 * unrelated locks behind a truncated stack stay apart. */
static bool same_lock(const struct ps_snapshot *s, const struct lock_summary *l,
		      const struct ps_futex_rec *r, const char *caller, const char *runtime)
{
	const char *lr;

	if (l->tgid != r->key.tgid)
		return false;
	lr = runtime_lock(s, l->tgid, l->addrs[0]);
	if (runtime || lr)
		return runtime && lr && !strcmp(runtime, lr);
	return !strcmp(l->caller ? l->caller : "", caller ? caller : "") &&
	       r->key.uaddr - l->addrs[0] + LOCK_OBJECT_BYTES < 2 * LOCK_OBJECT_BYTES;
}

/* The names the snapshot gave the lock's futex words (at naming time). */
static void name_lock(const struct ps_snapshot *s, struct lock_summary *l)
{
	for (uint32_t a = 0; a < l->naddrs; a++) {
		const struct ps_addr_name *n = snapshot_addr_name(s, l->addr_tgids[a], l->addrs[a]);

		l->addr_symbols[a] = n ? n->symbol : "";
		if (n && n->lock && !l->runtime_lock)
			l->runtime_lock = n->lock;
	}
	l->symbol = l->naddrs ? l->addr_symbols[0] : "";
	l->name = l->runtime_lock ? l->runtime_lock : *l->symbol ? l->symbol : NULL;
}

/* The part of a record's waits spent asleep (a snapshot without it: all). */
static uint64_t rec_asleep(const struct ps_futex_rec *r)
{
	return r->st.asleep_ns ? r->st.asleep_ns : r->st.wait_ns;
}

/* A record whose waiter slept while its traced waker, or the rest of its
 * process, was busy, woken more than once: an edge of the handoff graph.
 * (In a chain of n the waker itself is busy only for its turn, about
 * 1/(n-1) of the sleep; someone in the chain is busy throughout.) */
static bool rec_handoff(const struct ps_futex_rec *r)
{
	uint64_t asleep = rec_asleep(r);

	return r->st.woken_by_traced >= LOCK_CHAIN_MIN_WAKES &&
	       (r->st.busy_ns >= LOCK_BUSY_CONTENDED * asleep ||
		r->st.proc_busy_ns >= LOCK_BUSY_CONTENDED * asleep);
}

static void add_addr(struct lock_summary *l, uint32_t tgid, uint64_t addr)
{
	for (uint32_t a = 0; a < l->naddrs; a++)
		if (l->addrs[a] == addr && l->addr_tgids[a] == tgid)
			return;
	if (l->naddrs < MODEL_MAX_ADDRS) {
		l->addr_tgids[l->naddrs] = tgid;
		l->addrs[l->naddrs++] = addr;
	}
}

/* Distinct waiting threads of each lock, for the waiters' own time. */
struct waiter_sets {
	uint32_t (*tids)[MAX_WAITERS];
};

static void add_waiter(const struct model *m, struct waiter_sets *ws, struct lock_summary *l,
		       uint32_t li, uint32_t tid)
{
	uint32_t w;

	for (w = 0; w < l->nwaiters && ws->tids[li][w] != tid; w++)
		;
	if (w == l->nwaiters && w < MAX_WAITERS) {
		const struct thread_summary *ts = thread_by_tid(m, tid);

		ws->tids[li][l->nwaiters++] = tid;
		if (ts)
			l->waiters_time_ns += ts->lifetime_ns;
	}
}

/* Record r's waits into lock l (index li). */
static void add_record(const struct model *m, struct waiter_sets *ws, struct lock_summary *l,
		       uint32_t li, const struct ps_futex_rec *r, const char *where, const char *caller)
{
	const struct ps_snapshot *s = m->snap;

	l->mutex |= strstr(where, "lll_lock_wait") || strstr(where, "mutex_lock") ||
		    strstr(where, "rwlock");
	/* show the waiters' most common stack (and its function, where
	 * the waits of a runtime's lock were merged across functions) */
	if (r->st.wait_ns > l->where_ns) {
		l->where_ns = r->st.wait_ns;
		snprintf(l->where, sizeof(l->where), "%s", where);
		l->caller = caller;
	}
	add_addr(l, r->key.tgid, r->key.uaddr);
	l->waits += r->st.waits;
	l->wait_ns += r->st.wait_ns;
	l->asleep_ns += rec_asleep(r);
	l->peers_ns += r->st.peers_ns;
	l->busy_ns += r->st.busy_ns;
	l->proc_busy_ns += r->st.proc_busy_ns;
	if (r->st.max_ns > l->max_ns)
		l->max_ns = r->st.max_ns;
	l->timeouts += r->st.timeouts;
	l->interrupted += r->st.interrupted;
	l->eagain += r->st.eagain;
	l->woken_by_traced += r->st.woken_by_traced;
	if (r->st.woken_by_traced && !l->waker)
		l->waker = stack_caller(s, r->st.waker_ustack, r->key.tgid);
	for (int h = 0; h < PS_HIST_SLOTS; h++)
		l->hist[h] += r->st.hist[h];
	if (r->st.waits)
		add_waiter(m, ws, l, li, r->key.pid);
}

/* Fold lock src (index si) into dst (di): the waits of a handoff chain. */
static void merge_lock(const struct model *m, struct waiter_sets *ws, struct lock_summary *dst,
		       uint32_t di, const struct lock_summary *src, uint32_t si)
{
	if (src->where_ns > dst->where_ns) {
		dst->where_ns = src->where_ns;
		memcpy(dst->where, src->where, sizeof(dst->where));
		dst->caller = src->caller;
	}
	for (uint32_t a = 0; a < src->naddrs; a++)
		add_addr(dst, src->addr_tgids[a], src->addrs[a]);
	dst->mutex |= src->mutex;
	dst->waits += src->waits;
	dst->wait_ns += src->wait_ns;
	dst->asleep_ns += src->asleep_ns;
	dst->peers_ns += src->peers_ns;
	dst->busy_ns += src->busy_ns;
	dst->proc_busy_ns += src->proc_busy_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
	dst->timeouts += src->timeouts;
	dst->interrupted += src->interrupted;
	dst->eagain += src->eagain;
	dst->woken_by_traced += src->woken_by_traced;
	if (!dst->waker)
		dst->waker = src->waker;
	for (int h = 0; h < PS_HIST_SLOTS; h++)
		dst->hist[h] += src->hist[h];
	for (uint32_t w = 0; w < src->nwaiters; w++)
		add_waiter(m, ws, dst, di, ws->tids[si][w]);
	dst->chain = true;
}

/* --- handoff chains: strongly connected waiters ---------------------------- */

/* Threads are nodes; a record of waiter u woken by peer w while w was busy
 * is an edge u -> w. A chain is a strongly connected set of 2 or more
 * threads: each waited for the others, in turn. A pool's caller woken by
 * its workers, or workers woken by one dispatcher, form no cycle. */
struct graph {
	uint32_t n, *tid;              /* node -> thread id */
	uint32_t *first, *next, *to;   /* adjacency lists: first[u], next[e], to[e] */
	uint32_t nedges;
	/* Tarjan's algorithm */
	uint32_t *index, *low, *stack, *comp, nstack, counter, ncomp;
	bool *on_stack;
};

static uint32_t node_of(const struct graph *g, uint32_t tid)
{
	for (uint32_t i = 0; i < g->n; i++)
		if (g->tid[i] == tid)
			return i;
	return UINT32_MAX;
}

static void strongconnect(struct graph *g, uint32_t v)
{
	g->index[v] = g->low[v] = ++g->counter;
	g->stack[g->nstack++] = v;
	g->on_stack[v] = true;
	for (uint32_t e = g->first[v]; e != UINT32_MAX; e = g->next[e]) {
		uint32_t w = g->to[e];

		if (!g->index[w]) {
			strongconnect(g, w);
			if (g->low[w] < g->low[v])
				g->low[v] = g->low[w];
		} else if (g->on_stack[w] && g->index[w] < g->low[v]) {
			g->low[v] = g->index[w];
		}
	}
	if (g->low[v] != g->index[v])
		return;
	for (uint32_t w = UINT32_MAX; w != v;) {
		w = g->stack[--g->nstack];
		g->on_stack[w] = false;
		g->comp[w] = g->ncomp;
	}
	g->ncomp++;
}

/* A thread that takes its turns: on a CPU or runnable for a real share of
 * its life (the JVM's service threads, woken by each other now and then
 * while they sleep for the rest, are not a chain worth naming). */
static bool takes_turns(const struct model *m, uint32_t tid)
{
	const struct thread_summary *ts = thread_by_tid(m, tid);

	return ts && ts->oncpu_ns + ts->runq_wait_ns >= LOCK_CHAIN_MIN_ACTIVE * ts->lifetime_ns;
}

static void build_graph(const struct model *m, struct graph *g)
{
	const struct ps_snapshot *s = m->snap;
	uint32_t cap = 2 * s->n_futex + 1;

	memset(g, 0, sizeof(*g));
	g->tid = xcalloc(s->n_futex + 1, sizeof(*g->tid));
	for (uint32_t i = 0; i < s->n_futex; i++) {
		uint32_t tid = s->futex_recs[i].key.pid;

		if (node_of(g, tid) == UINT32_MAX && takes_turns(m, tid))
			g->tid[g->n++] = tid;
	}
	g->first = xcalloc(g->n + 1, sizeof(*g->first));
	memset(g->first, 0xff, (g->n + 1) * sizeof(*g->first));
	g->next = xcalloc(cap, sizeof(*g->next));
	g->to = xcalloc(cap, sizeof(*g->to));
	for (uint32_t i = 0; i < s->n_futex; i++) {
		const struct ps_futex_rec *r = &s->futex_recs[i];
		uint32_t u = node_of(g, r->key.pid);

		if (u == UINT32_MAX || !rec_handoff(r))
			continue;
		for (int k = 0; k < 2; k++) {
			uint32_t w = r->st.wakers[k] && r->st.wakers[k] != r->key.pid ?
				     node_of(g, r->st.wakers[k]) : UINT32_MAX;

			if (w == UINT32_MAX)
				continue;
			g->to[g->nedges] = w;
			g->next[g->nedges] = g->first[u];
			g->first[u] = g->nedges++;
		}
	}
	g->index = xcalloc(g->n + 1, sizeof(*g->index));
	g->low = xcalloc(g->n + 1, sizeof(*g->low));
	g->stack = xcalloc(g->n + 1, sizeof(*g->stack));
	g->comp = xcalloc(g->n + 1, sizeof(*g->comp));
	g->on_stack = xcalloc(g->n + 1, sizeof(*g->on_stack));
	for (uint32_t v = 0; v < g->n; v++)
		if (!g->index[v])
			strongconnect(g, v);
}

static void free_graph(struct graph *g)
{
	free(g->tid);
	free(g->first);
	free(g->next);
	free(g->to);
	free(g->index);
	free(g->low);
	free(g->stack);
	free(g->comp);
	free(g->on_stack);
}

/* Whether component c is a dispatcher's star: one member was the waker of
 * most of the threads woken into c (see LOCK_HUB_SHARE), members or not. */
static bool is_star(const struct graph *g, uint32_t c)
{
	for (uint32_t h = 0; h < g->n; h++) {
		uint32_t into = 0, by_h = 0;

		if (g->comp[h] != c)
			continue;
		for (uint32_t u = 0; u < g->n; u++) {
			bool in = false, hub = false;

			for (uint32_t e = g->first[u]; e != UINT32_MAX; e = g->next[e]) {
				in |= g->comp[g->to[e]] == c && g->to[e] != u;
				hub |= g->to[e] == h;
			}
			into += in && u != h;
			by_h += hub && u != h;
		}
		if (into + 1 >= LOCK_HUB_MIN_MEMBERS && by_h >= LOCK_HUB_SHARE * into)
			return true;
	}
	return false;
}

/* The chain (component) all of lock k's waiters are in, if it has 2 or more
 * threads and one of k's records is a handoff inside it; else UINT32_MAX. */
static uint32_t chain_of(const struct model *m, const struct graph *g, const uint32_t *comp_size,
			 const struct waiter_sets *ws, uint32_t k, const uint32_t *lock_of)
{
	const struct ps_snapshot *s = m->snap;
	const struct lock_summary *l = &m->locks[k];
	uint32_t c = UINT32_MAX;
	bool handoff = false;

	for (uint32_t w = 0; w < l->nwaiters; w++) {
		uint32_t v = node_of(g, ws->tids[k][w]);

		if (v == UINT32_MAX || (c != UINT32_MAX && g->comp[v] != c))
			return UINT32_MAX;
		c = g->comp[v];
	}
	if (c == UINT32_MAX || comp_size[c] < 2)
		return UINT32_MAX;
	for (uint32_t i = 0; i < s->n_futex && !handoff; i++) {
		const struct ps_futex_rec *r = &s->futex_recs[i];

		if (lock_of[i] != k || !rec_handoff(r))
			continue;
		for (int j = 0; j < 2; j++) {
			uint32_t v = r->st.wakers[j] ? node_of(g, r->st.wakers[j]) : UINT32_MAX;

			handoff |= v != UINT32_MAX && g->comp[v] == c;
		}
	}
	return handoff ? c : UINT32_MAX;
}

/* Merge the locks of each handoff chain into its most waited one; lock_of
 * follows. Returns how many locks remain. */
static uint32_t merge_chains(struct model *m, struct waiter_sets *ws, uint32_t *lock_of)
{
	struct graph g;
	uint32_t *comp_size, *root, *chain, *into, n = 0;

	build_graph(m, &g);
	comp_size = xcalloc(g.ncomp + 1, sizeof(*comp_size));
	root = xcalloc(g.ncomp + 1, sizeof(*root));
	chain = xcalloc(m->nlocks + 1, sizeof(*chain));
	into = xcalloc(m->nlocks + 1, sizeof(*into));
	memset(root, 0xff, (g.ncomp + 1) * sizeof(*root));
	for (uint32_t v = 0; v < g.n; v++)
		comp_size[g.comp[v]]++;
	for (uint32_t c = 0; c < g.ncomp; c++)
		if (comp_size[c] > 1 && is_star(&g, c))
			comp_size[c] = 1; /* no chain */
	for (uint32_t k = 0; k < m->nlocks; k++) {
		uint32_t c = chain[k] = chain_of(m, &g, comp_size, ws, k, lock_of);

		if (c != UINT32_MAX &&
		    (root[c] == UINT32_MAX || m->locks[k].wait_ns > m->locks[root[c]].wait_ns))
			root[c] = k;
	}
	for (uint32_t k = 0; k < m->nlocks; k++) {
		into[k] = chain[k] == UINT32_MAX ? k : root[chain[k]];
		if (into[k] != k)
			merge_lock(m, ws, &m->locks[into[k]], into[k], &m->locks[k], k);
	}
	/* compact: the kept locks move down, the merged ones go */
	uint32_t *pos = xcalloc(m->nlocks + 1, sizeof(*pos));
	for (uint32_t k = 0; k < m->nlocks; k++) {
		if (into[k] != k)
			continue;
		pos[k] = n;
		if (n != k) {
			m->locks[n] = m->locks[k];
			memcpy(ws->tids[n], ws->tids[k], sizeof(ws->tids[k]));
		}
		n++;
	}
	for (uint32_t i = 0; i < m->snap->n_futex; i++)
		lock_of[i] = pos[into[lock_of[i]]];
	free(pos);
	free(into);
	free(chain);
	free(root);
	free(comp_size);
	free_graph(&g);
	return n;
}

static void classify_lock(const struct model *m, const struct waiter_sets *ws, uint32_t k)
{
	struct lock_summary *l = &m->locks[k];
	uint32_t tgids[MAX_WAITERS];

	l->busy_frac = l->asleep_ns ? (double)l->busy_ns / l->asleep_ns : 0;
	l->proc_busy_frac = l->asleep_ns ? (double)l->proc_busy_ns / l->asleep_ns : 0;
	l->share_waiters = l->waiters_time_ns ? (double)l->wait_ns / l->waiters_time_ns : 0;
	l->share_asleep = l->waiters_time_ns ? (double)l->asleep_ns / l->waiters_time_ns : 0;
	l->share_all = m->thread_time_ns ? (double)l->wait_ns / m->thread_time_ns : 0;
	l->peers = l->wait_ns ? (double)l->peers_ns / l->wait_ns : 0;
	l->nprocs = 0;
	for (uint32_t w = 0; w < l->nwaiters; w++) {
		const struct thread_summary *ts = thread_by_tid(m, ws->tids[k][w]);
		uint32_t tg = ts ? ts->tgid : l->tgid, i;

		for (i = 0; i < l->nprocs && tgids[i] != tg; i++)
			;
		if (i == l->nprocs)
			tgids[l->nprocs++] = tg;
	}
	/* a chain's waker is busy only for its turn: one of n - 1 others (in
	 * one process, the rest of it shows the chain busy) */
	bool busy = l->busy_frac >= LOCK_BUSY_CONTENDED ||
		    (l->chain && l->nprocs == 1 && l->proc_busy_frac >= LOCK_BUSY_CONTENDED) ||
		    (l->chain && l->busy_frac * (l->nwaiters - 1) >= LOCK_BUSY_CONTENDED);

	if (l->waits && busy && (l->nwaiters >= 2 || l->mutex))
		l->cls = LOCK_CONTENDED;
	else if (l->waits && l->nwaiters == 1 && !l->mutex &&
		 (busy || l->proc_busy_frac >= LOCK_BUSY_CONTENDED))
		l->cls = LOCK_AWAITING;
	else
		l->cls = LOCK_IDLE;
	l->contended = l->cls == LOCK_CONTENDED;
}

/* The name among names[0..n) (NULL ones left out) with the largest sum
 * of its weights, NULL if none. */
static const char *heaviest(const char *const *names, const uint64_t *weight, uint32_t n)
{
	const char *best = NULL;
	uint64_t best_sum = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t sum = 0;

		if (!names[i])
			continue;
		for (uint32_t j = 0; j < n; j++)
			if (names[j] && !strcmp(names[j], names[i]))
				sum += weight[j];
		if (sum > best_sum) {
			best_sum = sum;
			best = names[i];
		}
	}
	return best;
}

/* A runtime's lock (the GIL) is waited on from many functions, threads and
 * futex words, each a record of its own: it is named by the function that
 * waited longest in all, with that function's most waited stack, and by
 * the waker that woke most. */
static void name_runtime_lock(struct model *m, const uint32_t *lock_of, uint32_t k)
{
	const struct ps_snapshot *s = m->snap;
	struct lock_summary *l = &m->locks[k];
	const char **caller = xcalloc(s->n_futex, sizeof(*caller));
	const char **waker = xcalloc(s->n_futex, sizeof(*waker));
	uint64_t *wait = xcalloc(s->n_futex, sizeof(*wait)), *wakes = xcalloc(s->n_futex, sizeof(*wakes));
	uint32_t n = 0, at = 0;

	for (uint32_t i = 0; i < s->n_futex; i++) {
		const struct ps_futex_rec *r = &s->futex_recs[i];

		if (lock_of[i] != k)
			continue;
		caller[n] = stack_caller(s, r->key.ustack, r->key.tgid);
		waker[n] = r->st.woken_by_traced ? stack_caller(s, r->st.waker_ustack, r->key.tgid) : NULL;
		wait[n] = r->st.wait_ns;
		wakes[n++] = r->st.woken_by_traced;
	}
	l->caller = heaviest(caller, wait, n) ?: l->caller;
	l->waker = heaviest(waker, wakes, n) ?: l->waker;
	l->where_ns = 0;
	for (uint32_t i = 0; i < s->n_futex; i++) {
		const struct ps_futex_rec *r = &s->futex_recs[i];
		size_t len = 0;

		if (lock_of[i] != k)
			continue;
		if (caller[at] && l->caller && !strcmp(caller[at], l->caller) && r->st.wait_ns > l->where_ns) {
			l->where_ns = r->st.wait_ns;
			l->where[0] = '\0';
			stack_append(s, r->key.ustack, r->key.tgid, true, l->where, sizeof(l->where), &len);
		}
		at++;
	}
	free(caller);
	free(waker);
	free(wait);
	free(wakes);
}

void model_build_locks(struct model *m)
{
	const struct ps_snapshot *s = m->snap;
	struct waiter_sets ws;
	uint32_t *lock_of;   /* record -> index of the lock it was merged into */

	if (!s->n_futex)
		return;
	m->locks = xcalloc(s->n_futex, sizeof(*m->locks));
	ws.tids = xcalloc(s->n_futex, sizeof(*ws.tids));
	lock_of = xcalloc(s->n_futex, sizeof(*lock_of));
	for (uint32_t i = 0; i < s->n_futex; i++) {
		const struct ps_futex_rec *r = &s->futex_recs[i];
		struct lock_summary *l = NULL;
		char where[512];
		size_t len = 0;
		uint32_t k;

		where[0] = '\0';
		stack_append(s, r->key.ustack, r->key.tgid, true, where, sizeof(where), &len);
		const char *caller = stack_caller(s, r->key.ustack, r->key.tgid);
		const char *runtime = runtime_lock(s, r->key.tgid, r->key.uaddr);
		for (k = 0; k < m->nlocks; k++)
			if (same_lock(s, &m->locks[k], r, caller, runtime)) {
				l = &m->locks[k];
				break;
			}
		if (!l) {
			l = &m->locks[m->nlocks++];
			l->tgid = r->key.tgid;
			snprintf(l->comm, sizeof(l->comm), "%s", process_comm(m, r->key.tgid));
			l->caller = caller;
		}
		lock_of[i] = l - m->locks;
		add_record(m, &ws, l, lock_of[i], r, where, caller);
	}
	m->nlocks = merge_chains(m, &ws, lock_of);
	for (uint32_t k = 0; k < m->nlocks; k++) {
		classify_lock(m, &ws, k);
		m->locks[k].waiter_tids = xcalloc(m->locks[k].nwaiters + 1, sizeof(uint32_t));
		memcpy(m->locks[k].waiter_tids, ws.tids[k], m->locks[k].nwaiters * sizeof(uint32_t));
	}
	/* each thread's futex time asleep: on contended locks, or other waits
	 * (the run-queue time after the wakeup is the thread's runq time) */
	for (uint32_t i = 0; i < s->n_futex; i++) {
		struct thread_summary *ts = thread_of_rec(m, &s->futex_recs[i].key);

		if (!ts)
			continue;
		if (m->locks[lock_of[i]].contended)
			ts->lock_wait_ns += rec_asleep(&s->futex_recs[i]);
		else
			ts->other_wait_ns += rec_asleep(&s->futex_recs[i]);
	}
	for (uint32_t k = 0; k < m->nlocks; k++) {
		name_lock(s, &m->locks[k]);
		if (m->locks[k].runtime_lock)
			name_runtime_lock(m, lock_of, k);
	}
	sort_locks(m, lock_of);
	free(lock_of);
	free(ws.tids);
}
