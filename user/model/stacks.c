/* user/model/stacks.c: folded stacks and the off-CPU/on-CPU stack summaries
 * of the model (see stacks.h). */
#include "model/stacks.h"
#include "model/model.h"
#include "sys/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void append(char *buf, size_t cap, size_t *len, const char *s)
{
	int n = snprintf(buf + *len, cap > *len ? cap - *len : 0, "%s%s", *len ? ";" : "", s);

	if (n > 0)
		*len = *len + n < cap ? *len + n : cap - 1;
}

void stack_append(const struct ps_snapshot *s, int32_t id, uint32_t tgid, bool user, char *buf,
		  size_t cap, size_t *len)
{
	const struct ps_stack *st = snapshot_stack(s, id, tgid, user);

	if (!st || !st->names) {
		if (id >= 0 || id == -14 /* EFAULT: no user context */)
			return;
		append(buf, cap, len, user ? "[user stack lost]" : "[kernel stack lost]");
		return;
	}
	for (uint32_t k = st->nframes; k-- > 0;)
		append(buf, cap, len, st->names[k]);
}

const char *stack_folded(const struct ps_snapshot *s, const char *comm, uint32_t tgid,
			 int32_t ustack, int32_t kstack, char *buf, size_t cap)
{
	size_t len = 0;
	char name[PS_COMM_LEN + 1];

	buf[0] = '\0';
	/* the flame graph's root is the command; ';' and ' ' would break the format */
	snprintf(name, sizeof(name), "%s", comm && *comm ? comm : "?");
	for (char *p = name; *p; p++)
		if (*p == ';' || *p == ' ')
			*p = '_';
	append(buf, cap, &len, name);
	stack_append(s, ustack, tgid, true, buf, cap, &len);
	if (kstack >= 0) {
		append(buf, cap, &len, "-");
		stack_append(s, kstack, 0, false, buf, cap, &len);
	}
	return buf;
}

static bool is_runtime_frame(const char *name)
{
	static const char *const prefixes[] = {
		"__", "pthread_", "futex", "___pthread", "lll_", "[unknown]", "libc.so", "ld-linux",
		"libpthread", "syscall", "sem_", "sleep", "nanosleep", "clock_nanosleep", "usleep",
		"start_thread", "clone", "_start", "[vdso]",
	};

	for (size_t i = 0; i < ARRAY_LEN(prefixes); i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

const char *stack_caller(const struct ps_snapshot *s, int32_t id, uint32_t tgid)
{
	const struct ps_stack *st = snapshot_stack(s, id, tgid, true);

	if (!st || !st->names)
		return NULL;
	for (uint32_t k = 0; st->frames && k < st->nframes; k++)
		if (st->frames[k].python && st->names[k][0] != '[')
			return st->names[k];
	for (uint32_t k = 0; k < st->nframes; k++)
		if (!is_runtime_frame(st->names[k]))
			return st->names[k];
	return st->nframes ? st->names[0] : NULL;
}

bool stack_python_frame(const char *name, size_t len)
{
	const char *open = NULL;

	if (len < 5 || name[len - 1] != ')')
		return false;
	for (const char *p = name; p + 1 < name + len; p++)
		if (p[0] == ' ' && p[1] == '(')
			open = p;
	return open && open > name && !memchr(open + 2, ' ', name + len - 1 - (open + 2));
}

const char *stack_thread_comm(const struct ps_snapshot *s, uint32_t tid)
{
	const struct ps_thread *t = snapshot_thread(s, tid);

	return t ? t->comm : "?";
}

/* Frames that spin or take a lock's slow path while on a CPU. */
static const char *const spin_frames[] = {
	"sync.(*Mutex).lockSlow", "sync.(*RWMutex).rUnlockSlow", "sync.runtime_doSpin",
	"runtime.procyield", "runtime.lock2", "pthread_spin_lock",
	"ObjectMonitor::TrySpin", "ObjectMonitor::EnterI", "ObjectMonitor::ReenterI",
	"ObjectMonitor::enter", "ObjectSynchronizer::enter", "SpinPause",
	"RawMutex::lock_slow", "Mutex::lock_contended",
	"native_queued_spin_lock_slowpath", "__pv_queued_spin_lock_slowpath",
	"queued_spin_lock_slowpath", "osq_lock", "mutex_spin_on_owner", "rwsem_spin_on_owner",
};

/* Whether frame (up to the next ';') names fn: the whole name, or with a
 * suffix after it (C++ arguments, Go's ".abi0", the kernel's "_[k]"), or
 * as the last components of a longer C++ or Rust path. */
static bool frame_is(const char *frame, size_t len, const char *fn)
{
	size_t n = strlen(fn);

	for (const char *p = frame; p + n <= frame + len; p++) {
		char after = p + n < frame + len ? p[n] : '\0';

		if (memcmp(p, fn, n) || (p > frame && p[-1] != ':' && p[-1] != ' '))
			continue;
		if (!after || after == '(' || after == '.' || after == '_' || after == '<')
			return true;
	}
	return false;
}

const char *stack_spin_frame(const char *folded)
{
	for (const char *f = folded; f; f = strchr(f, ';') ? strchr(f, ';') + 1 : NULL) {
		size_t len = strcspn(f, ";");

		for (size_t i = 0; i < ARRAY_LEN(spin_frames); i++)
			if (frame_is(f, len, spin_frames[i]))
				return spin_frames[i];
	}
	return NULL;
}

static int cmp_stack(const void *a, const void *b)
{
	const struct stack_summary *x = a, *y = b;

	return x->value < y->value ? 1 : x->value > y->value ? -1 : strcmp(x->folded, y->folded);
}

static int cmp_folded(const void *a, const void *b)
{
	return strcmp(((const struct stack_summary *)a)->folded, ((const struct stack_summary *)b)->folded);
}

static int cmp_thread_tid(const void *a, const void *b, void *threads)
{
	const struct thread_summary *t = threads;
	uint32_t x = t[*(const uint32_t *)a].tid, y = t[*(const uint32_t *)b].tid;

	return x < y ? -1 : x > y;
}

/* Spinning, from the on-CPU samples: each thread's samples and those in
 * spin frames, the model's total and its most sampled spin frame. */
struct spin_tally {
	struct model *m;
	uint32_t *by_tid;            /* thread indexes sorted by tid */
	const char *frames[16];
	uint64_t samples[16], best;
};

static struct thread_summary *tally_thread(struct spin_tally *t, uint32_t tid)
{
	uint32_t lo = 0, hi = t->m->nthreads;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		struct thread_summary *ts = &t->m->threads[t->by_tid[mid]];

		if (ts->tid == tid)
			return ts->folded ? NULL : ts;
		if (ts->tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void tally_spin(struct spin_tally *t, const struct ps_stack_rec *r, const char *folded)
{
	struct thread_summary *ts = tally_thread(t, r->key.pid);
	const char *spin = stack_spin_frame(folded);
	int i;

	if (ts)
		ts->oncpu_samples += r->val.value;
	if (!spin)
		return;
	if (ts)
		ts->spin_samples += r->val.value;
	t->m->spin_samples += r->val.value;
	for (i = 0; i < 16 && t->frames[i] && t->frames[i] != spin; i++)
		;
	if (i == 16)
		return;
	t->frames[i] = spin;
	t->samples[i] += r->val.value;
	if (t->samples[i] > t->best) {
		t->best = t->samples[i];
		t->m->spin_frame = spin;
	}
}

/* Merge records with the same folded stack (threads of the same name);
 * spin: tally spinning too (on-CPU samples), or NULL. */
static struct stack_summary *summarize(const struct ps_snapshot *s, const struct ps_stack_rec *r,
				       uint32_t n, uint32_t *out_n, uint64_t *total,
				       struct spin_tally *spin)
{
	struct stack_summary *out = xcalloc(n, sizeof(*out));
	char buf[8192];
	uint32_t k = 0;

	*total = 0;
	for (uint32_t i = 0; i < n; i++) {
		stack_folded(s, stack_thread_comm(s, r[i].key.pid), r[i].key.tgid, r[i].key.ustack,
			     r[i].key.kstack, buf, sizeof(buf));
		if (spin)
			tally_spin(spin, &r[i], buf);
		out[k].folded = xstrdup(buf);
		out[k].value = r[i].val.value;
		out[k].count = r[i].val.count;
		*total += r[i].val.value;
		k++;
	}
	/* merge equal strings (adjacent once sorted by string) */
	qsort(out, k, sizeof(*out), cmp_folded);
	uint32_t w = 0;
	for (uint32_t i = 0; i < k; i++) {
		if (w && !strcmp(out[w - 1].folded, out[i].folded)) {
			out[w - 1].value += out[i].value;
			out[w - 1].count += out[i].count;
			free(out[i].folded);
		} else {
			out[w++] = out[i];
		}
	}
	qsort(out, w, sizeof(*out), cmp_stack);
	*out_n = w;
	return out;
}

/* Futex waits as (thread, waiter stack) records: wait ns, waits. */
static struct ps_stack_rec *futex_as_stack_recs(const struct ps_snapshot *s, uint32_t *n)
{
	struct ps_stack_rec *r = xcalloc(s->n_futex ? s->n_futex : 1, sizeof(*r));

	*n = 0;
	for (uint32_t i = 0; i < s->n_futex; i++) {
		const struct ps_futex_rec *f = &s->futex_recs[i];

		if (!f->st.waits)
			continue;
		r[*n].key = (struct ps_stack_key){ .tgid = f->key.tgid, .pid = f->key.pid,
						   .ustack = f->key.ustack, .kstack = -1 };
		r[*n].val = (struct ps_stack_val){ .value = f->st.wait_ns, .count = f->st.waits };
		(*n)++;
	}
	return r;
}

void model_build_stacks(struct model *m)
{
	const struct ps_snapshot *s = m->snap;

	if (s->n_futex) {
		uint32_t n;
		struct ps_stack_rec *r = futex_as_stack_recs(s, &n);

		m->futex = summarize(s, r, n, &m->n_futex, &m->futex_total_ns, NULL);
		free(r);
	}
	if (s->n_offcpu)
		m->offcpu = summarize(s, s->offcpu_recs, s->n_offcpu, &m->n_offcpu,
				      &m->offcpu_total_ns, NULL);
	if (s->n_oncpu) {
		struct spin_tally t = { .m = m, .by_tid = xcalloc(m->nthreads + 1, sizeof(uint32_t)) };

		for (uint32_t i = 0; i < m->nthreads; i++)
			t.by_tid[i] = i;
		qsort_r(t.by_tid, m->nthreads, sizeof(uint32_t), cmp_thread_tid, m->threads);
		m->oncpu = summarize(s, s->oncpu_recs, s->n_oncpu, &m->n_oncpu, &m->oncpu_samples, &t);
		free(t.by_tid);
	}
}
