/* user/sym/py_names.c: Python frames folded into the user stacks (see
 * py_names.h). */
#include "sym/py_names.h"
#include "sym/cpython.h"
#include "sys/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_FRAME "_PyEval_EvalFrameDefault"

/* ---- one frame's name ---------------------------------------------------- */

static size_t put_utf8(char *buf, size_t len, size_t at, uint32_t c)
{
	char u[4];
	size_t n;

	if (c == ';' || c == '\n' || c == '\r' || c < 0x20)
		c = '_'; /* ';' splits folded frames, newlines stacks */
	if (c < 0x80) {
		u[0] = c;
		n = 1;
	} else if (c < 0x800) {
		u[0] = 0xc0 | c >> 6;
		u[1] = 0x80 | (c & 63);
		n = 2;
	} else if (c < 0x10000) {
		u[0] = 0xe0 | c >> 12;
		u[1] = 0x80 | (c >> 6 & 63);
		u[2] = 0x80 | (c & 63);
		n = 3;
	} else {
		u[0] = 0xf0 | (c >> 18 & 7);
		u[1] = 0x80 | (c >> 12 & 63);
		u[2] = 0x80 | (c >> 6 & 63);
		u[3] = 0x80 | (c & 63);
		n = 4;
	}
	if (at + n >= len)
		return at;
	memcpy(buf + at, u, n);
	return at + n;
}

/* CPython's text (kind bytes a character, bytes long, of which the first
 * cap were kept) as UTF-8; cut text ends in "...". */
static const char *text(const uint8_t *t, uint32_t bytes, uint32_t cap, uint32_t kind, char *buf,
			size_t len)
{
	size_t at = 0, n = bytes < cap ? bytes : cap;

	if (kind != 1 && kind != 2 && kind != 4)
		return "?";
	for (size_t i = 0; i + kind <= n; i += kind) {
		uint32_t c = t[i];

		if (kind == 2)
			c |= (uint32_t)t[i + 1] << 8;
		else if (kind == 4)
			c |= (uint32_t)t[i + 1] << 8 | (uint32_t)t[i + 2] << 16 | (uint32_t)t[i + 3] << 24;
		at = put_utf8(buf, len, at, c);
	}
	buf[at] = '\0';
	if (bytes > cap && at + 3 < len)
		strcat(buf, "...");
	return buf;
}

const char *python_frame_name(const struct ps_pycode *c, uint64_t frame, char *buf, size_t len)
{
	char q[4 * PS_PY_NAME_BYTES + 4], f[4 * PS_PY_FILE_BYTES + 4];
	unsigned lasti = (frame >> PS_PY_LASTI_SHIFT) & PS_PY_LASTI_MAX;
	const char *file, *base;
	int line;

	if (!c) {
		snprintf(buf, len, "[unknown Python code]");
		return buf;
	}
	file = text(c->filename, c->filename_len, sizeof(c->filename), c->filename_kind, f, sizeof(f));
	base = strrchr(file, '/');
	base = base && base[1] ? base + 1 : file;
	line = !lasti ? c->firstlineno :
	       cpython_addr2line(c->linetable, c->lines_len < sizeof(c->linetable) ? c->lines_len : sizeof(c->linetable),
				 c->firstlineno, (int)lasti - 1);
	text(c->qualname, c->qualname_len, sizeof(c->qualname), c->qualname_kind, q, sizeof(q));
	if (line > 0)
		snprintf(buf, len, "%s (%s:%d)", q, base, line);
	else
		snprintf(buf, len, "%s (%s)", q, base);
	return buf;
}

/* ---- lookups ------------------------------------------------------------- */

static int cmp_pystack(const void *a, const void *b)
{
	const struct ps_pystack_rec *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_pycode(const void *a, const void *b)
{
	const struct ps_pycode_key *x = &((const struct ps_pycode_rec *)a)->key;
	const struct ps_pycode_key *y = &((const struct ps_pycode_rec *)b)->key;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	return x->code < y->code ? -1 : x->code > y->code;
}

static const struct ps_pystack *find_pystack(const struct ps_snapshot *s, int32_t id)
{
	struct ps_pystack_rec key = { .id = (uint32_t)id };
	const struct ps_pystack_rec *r;

	if (id <= 0 || !(id & PS_PY_STACK) || !s->n_pystacks)
		return NULL;
	r = bsearch(&key, s->pystacks, s->n_pystacks, sizeof(key), cmp_pystack);
	return r ? &r->st : NULL;
}

static const struct ps_pycode *find_code(const struct ps_snapshot *s, uint32_t tgid, uint64_t frame)
{
	struct ps_pycode_rec key = { .key = { .tgid = tgid, .code = frame & PS_PY_CODE_MASK } };
	const struct ps_pycode_rec *r;

	if (!s->n_pycodes)
		return NULL;
	r = bsearch(&key, s->pycodes, s->n_pycodes, sizeof(key), cmp_pycode);
	return r ? &r->code : NULL;
}

/* ---- one merged stack ---------------------------------------------------- */

struct frames {
	uint64_t *ips;
	char **names;
	struct ps_frame *frames;
	uint32_t n, cap;
};

static void add_frame(struct frames *o, uint64_t ip, const char *name, struct ps_frame fr)
{
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 32;
		o->ips = xrealloc(o->ips, o->cap * sizeof(*o->ips));
		o->names = xrealloc(o->names, o->cap * sizeof(*o->names));
		o->frames = xrealloc(o->frames, o->cap * sizeof(*o->frames));
	}
	o->ips[o->n] = ip;
	o->names[o->n] = xstrdup(name);
	o->frames[o->n++] = fr;
}

static void add_native(struct frames *o, const struct ps_stack *st, uint32_t k)
{
	add_frame(o, st->ips[k], st->names[k], st->frames[k]);
}

/* Python frames [from, to) of py. */
static void add_python(struct frames *o, const struct ps_snapshot *s, const struct ps_pystack *py,
		       uint32_t from, uint32_t to)
{
	char buf[1024];

	for (uint32_t k = from; k < to && k < py->n && k < PS_PY_DEPTH; k++) {
		uint64_t f = py->frames[k];
		const struct ps_pycode *c = find_code(s, py->tgid, f);

		python_frame_name(c, f, buf, sizeof(buf));
		add_frame(o, f & ~PS_PY_ENTRY, buf, (struct ps_frame){ .named = c != NULL, .python = true });
	}
}

static bool is_eval(const struct ps_stack *st, uint32_t k)
{
	return !strcmp(st->names[k], EVAL_FRAME);
}

/* A frame in no mapping: the frame-pointer walk left the code there, and
 * what it found above is not to be trusted. */
static bool is_unmapped(const struct ps_stack *st, uint32_t k)
{
	return !st->frames[k].module && !st->frames[k].named;
}

/* The end of each eval-loop call's frames in py (index + 1), n of them. */
static uint32_t python_groups(const struct ps_pystack *py, uint32_t *ends, uint32_t max)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < py->n && k < PS_PY_DEPTH && n < max; k++)
		if ((py->frames[k] & PS_PY_ENTRY) || k + 1 == py->n)
			ends[n++] = k + 1;
	return n;
}

/* Native frames [from, to) with each eval-loop frame replaced by its call's
 * Python frames (the groups agree in number), and the C frames of other
 * modules between them kept; the interpreter's own between them go. */
static void interleave(struct frames *o, const struct ps_snapshot *s, const struct ps_stack *st,
		       uint32_t from, uint32_t to, const struct ps_pystack *py, const uint32_t *ends)
{
	uint32_t g = 0, interp = st->frames[from].module;

	for (uint32_t k = from; k < to; k++) {
		if (is_eval(st, k)) {
			add_python(o, s, py, g ? ends[g - 1] : 0, ends[g]);
			g++;
		} else if (st->frames[k].module != interp) {
			add_native(o, st, k);
		}
	}
}

static void build(struct frames *o, const struct ps_snapshot *s, const struct ps_stack *st,
		  const struct ps_pystack *py)
{
	uint32_t ends[PS_PY_DEPTH], ngroups = python_groups(py, ends, PS_PY_DEPTH);
	uint32_t leaf = 0, top, neval = 0, last_eval = 0;
	uint32_t n = st && st->names && st->frames ? st->nframes : 0;

	while (leaf < n && !is_eval(st, leaf) && !is_unmapped(st, leaf))
		add_native(o, st, leaf++);
	for (top = leaf; top < n && !is_unmapped(st, top); top++)
		if (is_eval(st, top)) {
			neval++;
			last_eval = top;
		}
	if (!py->truncated && neval && neval == ngroups)
		interleave(o, s, st, leaf, last_eval + 1, py, ends);
	else
		add_python(o, s, py, 0, py->n);
	if (py->truncated)
		add_frame(o, 0, PY_TRUNCATED_FRAME, (struct ps_frame){ .python = true });
}

/* ---- the records --------------------------------------------------------- */

/* The merged stacks made so far, in two open-addressing tables of cap
 * slots (a power of two, at least twice the records): by the pair of
 * stacks they hold, and by their id. */
struct made {
	int32_t id, ustack, pystack;
	uint32_t tgid;
	bool used;
};

struct merge {
	struct ps_snapshot *s;
	struct made *by_pair, *by_id;
	uint32_t cap, cap_stacks;
};

static uint32_t mix(uint32_t h, uint32_t v)
{
	return (h ^ v) * 16777619u;
}

static struct made *pair_slot(struct merge *m, uint32_t tgid, int32_t ustack, int32_t pystack)
{
	uint32_t b = mix(mix(mix(2166136261u, tgid), (uint32_t)ustack), (uint32_t)pystack);

	for (b &= m->cap - 1;; b = (b + 1) & (m->cap - 1)) {
		struct made *e = &m->by_pair[b];

		if (!e->used || (e->tgid == tgid && e->ustack == ustack && e->pystack == pystack))
			return e;
	}
}

static struct made *id_slot(struct merge *m, uint32_t tgid, int32_t id)
{
	uint32_t b = mix(mix(2166136261u, tgid), (uint32_t)id);

	for (b &= m->cap - 1;; b = (b + 1) & (m->cap - 1)) {
		struct made *e = &m->by_id[b];

		if (!e->used || (e->tgid == tgid && e->id == id))
			return e;
	}
}

/* The merged stack of (ustack, pystack) in process tgid: made on first
 * need. Its id is a hash of the pair, so that every snapshot of a trace
 * gives the same pair the same id (interval diffs match records by it). */
static int32_t merged(struct merge *m, uint32_t tgid, int32_t ustack, int32_t pystack)
{
	struct ps_snapshot *s = m->s;
	const struct ps_pystack *py = find_pystack(s, pystack);
	struct made *e;
	struct frames o = { 0 };
	int32_t id;

	if (!py)
		return ustack;
	e = pair_slot(m, tgid, ustack, pystack);
	if (e->used)
		return e->id;
	id = PY_MERGED_STACK | (mix(mix(mix(2166136261u, tgid), (uint32_t)ustack), (uint32_t)pystack) &
				(PY_MERGED_STACK - 1));
	while (id_slot(m, tgid, id)->used)
		id = PY_MERGED_STACK | ((id + 1) & (PY_MERGED_STACK - 1));
	build(&o, s, snapshot_stack(s, ustack, tgid, true), py);
	if (s->nstacks == m->cap_stacks) {
		m->cap_stacks = m->cap_stacks ? m->cap_stacks * 2 : 64;
		s->stacks = xrealloc(s->stacks, m->cap_stacks * sizeof(*s->stacks));
	}
	s->stacks[s->nstacks++] = (struct ps_stack){ .id = id, .tgid = tgid, .user = true,
						     .nframes = o.n, .ips = o.ips, .names = o.names,
						     .frames = o.frames };
	*e = (struct made){ .id = id, .ustack = ustack, .pystack = pystack, .tgid = tgid, .used = true };
	*id_slot(m, tgid, id) = *e;
	return id;
}

static void merge_recs(struct merge *m, struct ps_stack_rec *r, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		r[i].key.ustack = merged(m, r[i].key.tgid, r[i].key.ustack, r[i].key.pystack);
}

void python_stacks_merge(struct ps_snapshot *s)
{
	uint32_t recs = s->n_offcpu + s->n_oncpu + 2 * s->n_futex;
	struct merge m = { .s = s, .cap = 64, .cap_stacks = s->nstacks };

	if (!s->n_pystacks)
		return;
	qsort(s->pystacks, s->n_pystacks, sizeof(*s->pystacks), cmp_pystack);
	if (s->n_pycodes)
		qsort(s->pycodes, s->n_pycodes, sizeof(*s->pycodes), cmp_pycode);
	while (m.cap < 2 * recs)
		m.cap *= 2;
	m.by_pair = xcalloc(m.cap, sizeof(*m.by_pair));
	m.by_id = xcalloc(m.cap, sizeof(*m.by_id));
	merge_recs(&m, s->offcpu_recs, s->n_offcpu);
	merge_recs(&m, s->oncpu_recs, s->n_oncpu);
	for (uint32_t i = 0; i < s->n_futex; i++) {
		struct ps_futex_rec *f = &s->futex_recs[i];

		f->key.ustack = merged(&m, f->key.tgid, f->key.ustack, f->key.pystack);
		if (f->st.woken_by_traced)
			f->st.waker_ustack = merged(&m, f->key.tgid, f->st.waker_ustack,
						    f->st.waker_pystack);
	}
	free(m.by_pair);
	free(m.by_id);
}
