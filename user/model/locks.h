/* user/model/locks.h: locks as the model sees them: futex waits merged into
 * one lock per process, waiting function and lock object, and what waiting
 * on it was (contention, awaiting work, idle). Built by locks.c. */
#ifndef POOLSCOPE_LOCKS_H
#define POOLSCOPE_LOCKS_H
#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>
#include "poolscope.h"

/* Waiting on one user-space lock (futex), merged by process and waiter
 * stack, so the two futex words of one condition variable count as one. */
#define MODEL_MAX_ADDRS 4
/* A lock is contended when, while its waiters waited, the rest of the
 * process was on CPU at least this share of the time: the resource was busy
 * (an interpreter lock's holder computing). Below it the waiters were idle:
 * the waited-for side was itself blocked or idle (a pool's empty queue). */
#define LOCK_BUSY_CONTENDED 0.5

/* A handoff chain: threads that take turns, each waiting (on a word of its
 * own: a Java or glibc park word, a condition variable per thread, or in
 * another process) until one of the others, busy meanwhile, wakes it. Their
 * waits are one lock when each waiter was woken by the others at least this
 * many times (once could be a shutdown). */
#define LOCK_CHAIN_MIN_WAKES 2
/* ... and each of them was on a CPU or runnable at least this share of its
 * life: threads that take turns computing, not idle ones nudging each other */
#define LOCK_CHAIN_MIN_ACTIVE 0.1
/* A cycle that one thread woke 3/4 or more of the threads woken into it
 * (6 or more in all) is a dispatcher and its pool (apache's listener and
 * its workers), not threads taking turns: in a chain the wakers are
 * spread. */
#define LOCK_HUB_MIN_MEMBERS 6
#define LOCK_HUB_SHARE 0.75

/* What waiting on a lock was:
 * CONTENDED  the waited-for side was busy and the waiters fight for it: two
 *            or more threads waited on it (a handoff chain included), or it
 *            is a mutex (lock-wait frame);
 * AWAITING   one thread waited on a condition while the rest of the
 *            process worked (a pool's caller waiting for results): not
 *            contention, and not idle;
 * IDLE       the waited-for side was itself idle or blocked elsewhere (a
 *            worker on an empty queue). */
enum lock_class { LOCK_CONTENDED, LOCK_AWAITING, LOCK_IDLE };

struct lock_summary {
	uint32_t tgid;
	char comm[PS_COMM_LEN];      /* the process */
	char where[512];             /* waiters' (most waited) user stack, folded root first */
	uint64_t where_ns;           /* wait time of that stack */
	const char *caller;          /* the program's function that waited */
	const char *waker;           /* the program's function that woke them, or NULL */
	uint64_t addrs[MODEL_MAX_ADDRS];
	uint32_t addr_tgids[MODEL_MAX_ADDRS]; /* each word's process (a chain can span several) */
	const char *addr_symbols[MODEL_MAX_ADDRS]; /* each word's data object, "" unknown */
	const char *symbol;          /* addrs[0]'s: "_PyRuntime+0x1b0", "gil+0x28", "heap", "" */
	const char *runtime_lock;    /* a runtime's lock ("CPython GIL") any word lies in, or NULL */
	const char *name;            /* what to call it: runtime_lock, else symbol; NULL if unknown */
	uint32_t naddrs, nwaiters;
	uint32_t *waiter_tids;       /* nwaiters (at most 256 kept) */
	uint32_t nprocs;             /* processes its waiters are in (a shared-memory lock: 2+) */
	bool chain;                  /* a handoff chain: several words, each waiter woken by the others */
	uint64_t waits, wait_ns, max_ns, busy_ns, proc_busy_ns;
	uint64_t asleep_ns;          /* of wait_ns, asleep until woken (the rest was run-queue time) */
	uint64_t peers_ns;           /* the process's other threads active meanwhile, summed */
	double peers;                /* peers_ns / wait_ns: how many of them were active while
				      * one waited (a lock that serializes: about 1, its holder);
				      * meaningless for a lock of several processes */
	uint64_t timeouts, interrupted, eagain, woken_by_traced;
	uint64_t waiters_time_ns;    /* lifetime of the threads that waited */
	double busy_frac;            /* busy_ns / asleep_ns: the waited-for side busy */
	double proc_busy_frac;       /* proc_busy_ns / asleep_ns: the rest of the process busy */
	double share_waiters;        /* wait_ns / waiters_time_ns */
	double share_asleep;         /* asleep_ns / waiters_time_ns: the waiters' time lost to it */
	double share_all;            /* wait_ns / every traced thread's time */
	bool contended;              /* cls == LOCK_CONTENDED */
	bool mutex;                  /* a waiter stack has a mutex lock-wait frame */
	enum lock_class cls;
	uint64_t hist[PS_HIST_SLOTS];
};

const char *lock_class_name(enum lock_class c);

struct model;
/* The model's locks (m->locks, sorted by wait time) and each thread's futex
 * time asleep on contended locks and in other waits; called by model_build. */
void model_build_locks(struct model *m);

#endif
