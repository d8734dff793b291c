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
		const struct ps_addr_name *n = snapshot_addr_name(s, l->tgid, l->addrs[a]);

		l->addr_symbols[a] = n ? n->symbol : "";
		if (n && n->lock && !l->runtime_lock)
			l->runtime_lock = n->lock;
	}
	l->symbol = l->naddrs ? l->addr_symbols[0] : "";
	l->name = l->runtime_lock ? l->runtime_lock : *l->symbol ? l->symbol : NULL;
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
	uint32_t (*waiters)[MAX_WAITERS] = NULL;
	uint32_t *lock_of;   /* record -> index of the lock it was merged into */

	if (!s->n_futex)
		return;
	m->locks = xcalloc(s->n_futex, sizeof(*m->locks));
	waiters = xcalloc(s->n_futex, sizeof(*waiters));
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
		l->mutex |= strstr(where, "lll_lock_wait") || strstr(where, "mutex_lock") ||
			    strstr(where, "rwlock");
		/* show the waiters' most common stack (and its function, where
		 * the waits of a runtime's lock were merged across functions) */
		if (r->st.wait_ns > l->where_ns) {
			l->where_ns = r->st.wait_ns;
			snprintf(l->where, sizeof(l->where), "%s", where);
			l->caller = caller;
		}
		lock_of[i] = l - m->locks;
		bool seen = false;
		for (uint32_t a = 0; a < l->naddrs; a++)
			seen |= l->addrs[a] == r->key.uaddr;
		if (!seen && l->naddrs < MODEL_MAX_ADDRS)
			l->addrs[l->naddrs++] = r->key.uaddr;
		l->waits += r->st.waits;
		l->wait_ns += r->st.wait_ns;
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
		/* distinct waiting threads, for the waiters' own time */
		uint32_t li = l - m->locks, w;
		for (w = 0; w < l->nwaiters && waiters[li][w] != r->key.pid; w++)
			;
		if (w == l->nwaiters && r->st.waits && w < MAX_WAITERS) {
			const struct thread_summary *ts = thread_by_tid(m, r->key.pid);

			waiters[li][l->nwaiters++] = r->key.pid;
			if (ts)
				l->waiters_time_ns += ts->lifetime_ns;
		}
	}
	for (uint32_t k = 0; k < m->nlocks; k++) {
		struct lock_summary *l = &m->locks[k];

		l->busy_frac = l->wait_ns ? (double)l->busy_ns / l->wait_ns : 0;
		l->proc_busy_frac = l->wait_ns ? (double)l->proc_busy_ns / l->wait_ns : 0;
		l->share_waiters = l->waiters_time_ns ? (double)l->wait_ns / l->waiters_time_ns : 0;
		l->share_all = m->thread_time_ns ? (double)l->wait_ns / m->thread_time_ns : 0;
		bool busy = l->busy_frac >= LOCK_BUSY_CONTENDED;

		if (l->waits && busy && (l->nwaiters >= 2 || l->mutex))
			l->cls = LOCK_CONTENDED;
		else if (l->waits && l->nwaiters == 1 && !l->mutex &&
			 (busy || l->proc_busy_frac >= LOCK_BUSY_CONTENDED))
			l->cls = LOCK_AWAITING;
		else
			l->cls = LOCK_IDLE;
		l->contended = l->cls == LOCK_CONTENDED;
	}
	/* each thread's futex time: on contended locks, or other waits */
	for (uint32_t i = 0; i < s->n_futex; i++) {
		struct thread_summary *ts = thread_of_rec(m, &s->futex_recs[i].key);

		if (!ts)
			continue;
		if (m->locks[lock_of[i]].contended)
			ts->lock_wait_ns += s->futex_recs[i].st.wait_ns;
		else
			ts->other_wait_ns += s->futex_recs[i].st.wait_ns;
	}
	for (uint32_t k = 0; k < m->nlocks; k++) {
		name_lock(s, &m->locks[k]);
		if (m->locks[k].runtime_lock)
			name_runtime_lock(m, lock_of, k);
	}
	sort_locks(m, lock_of);
	free(lock_of);
	free(waiters);
}
