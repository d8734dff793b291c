/* user/sym/stack_names.c: names for the frames of a snapshot's captured
 * stacks, the modules they lie in, and its futex words (see stack_names.h). */
#include "sym/stack_names.h"
#include "sys/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The process whose memory map resolves tgid's addresses: itself, or the
 * nearest ancestor the symbolizer knows (a forked child that exited before
 * its map was read runs its parent's code). */
static uint32_t resolver_tgid(const struct ps_snapshot *s, struct symbolizer *sym, uint32_t tgid)
{
	struct sym_frame f;

	for (int depth = 0; depth < 8; depth++) {
		uint32_t parent = 0;

		if (symbolize_user(sym, tgid, 0, &f) != -ESRCH)
			return tgid;
		for (uint32_t i = 0; i < s->nthreads && !parent; i++)
			if (s->threads[i].tgid == tgid && s->threads[i].parent_tid)
				parent = s->threads[i].parent_tid;
		for (uint32_t i = 0; i < s->nthreads && parent; i++)
			if (s->threads[i].tid == parent) {
				tgid = s->threads[i].tgid;
				break;
			}
		if (!parent)
			break;
	}
	return tgid;
}

/* The snapshot's module table while frames are named: an open-addressing
 * index over (path, mapping) so each frame finds its module in O(1). */
struct module_index {
	uint32_t *slots;             /* index + 1 into s->modules, 0: empty */
	uint32_t cap, cap_modules;   /* slots (a power of two); s->modules allocated */
};

static uint64_t module_hash(const char *path, uint64_t start, uint64_t pgoff)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a, then the mapping */

	for (; *path; path++)
		h = (h ^ (unsigned char)*path) * 1099511628211ull;
	return (h ^ start ^ (pgoff << 17)) * 0x9e3779b97f4a7c15ull;
}

static bool module_is(const struct ps_module *m, const char *path, const struct sym_frame *f)
{
	return m->start == f->map_start && m->end == f->map_end && m->pgoff == f->map_pgoff &&
	       !strcmp(m->path, path);
}

static void index_grow(struct module_index *ix, const struct ps_snapshot *s)
{
	uint32_t cap = ix->cap ? ix->cap * 2 : 256;

	free(ix->slots);
	ix->slots = xcalloc(cap, sizeof(uint32_t));
	ix->cap = cap;
	for (uint32_t i = 0; i < s->nmodules; i++) {
		const struct ps_module *m = &s->modules[i];
		uint32_t b = module_hash(m->path, m->start, m->pgoff) & (cap - 1);

		while (ix->slots[b])
			b = (b + 1) & (cap - 1);
		ix->slots[b] = i + 1;
	}
}

/* The module (index + 1) of frame f, added on first sight. */
static uint32_t module_of(struct ps_snapshot *s, struct module_index *ix, const struct sym_frame *f,
			  bool kernel)
{
	const char *path = f->module;

	if (kernel && (!path || !strcmp(path, "[kernel]")))
		path = "[kernel.kallsyms]"; /* perf's name for the kernel image */
	if (!path)
		return 0;
	if ((s->nmodules + 1) * 2 > ix->cap)
		index_grow(ix, s);
	uint32_t b = module_hash(path, f->map_start, f->map_pgoff) & (ix->cap - 1);
	for (; ix->slots[b]; b = (b + 1) & (ix->cap - 1))
		if (module_is(&s->modules[ix->slots[b] - 1], path, f))
			return ix->slots[b];
	if (s->nmodules == ix->cap_modules) {
		ix->cap_modules = ix->cap_modules ? ix->cap_modules * 2 : 64;
		s->modules = xrealloc(s->modules, ix->cap_modules * sizeof(*s->modules));
	}
	s->modules[s->nmodules] = (struct ps_module){
		.path = xstrdup(path), .build_id = f->build_id ? xstrdup(f->build_id) : NULL,
		.start = f->map_start, .end = f->map_end, .pgoff = f->map_pgoff, .kernel = kernel,
	};
	ix->slots[b] = ++s->nmodules;
	return s->nmodules;
}

/* Frames of poolscope's own tracing at the leaf of kernel stacks captured
 * in a tracepoint: not the traced program's. */
static bool is_tracing_frame(const char *name)
{
	static const char *const prefixes[] = { "bpf_prog_", "bpf_trace_run", "__bpf_trace_",
						"__traceiter_", "perf_trace_", "bpf_overflow_handler" };

	for (size_t i = 0; i < ARRAY_LEN(prefixes); i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

void stacks_symbolize(struct ps_snapshot *s, struct symbolizer *sym)
{
	struct module_index ix = { 0 };

	for (uint32_t i = 0; i < s->nstacks; i++) {
		struct ps_stack *st = &s->stacks[i];
		uint32_t tgid = st->user ? resolver_tgid(s, sym, st->tgid) : 0;

		st->names = xcalloc(st->nframes ? st->nframes : 1, sizeof(char *));
		st->frames = xcalloc(st->nframes ? st->nframes : 1, sizeof(*st->frames));
		for (uint32_t k = 0; k < st->nframes; k++) {
			struct sym_frame f = { 0 };
			char buf[256];

			/* frames above the leaf are return addresses: look up the
			 * call instruction before them, not what follows the call */
			uint64_t ip = k ? st->ips[k] - 1 : st->ips[k];

			if (st->user)
				symbolize_user(sym, tgid, ip, &f);
			else
				symbolize_kernel(sym, ip, &f);
			st->names[k] = xstrdup(sym_frame_format(&f, !st->user, buf, sizeof(buf)));
			st->frames[k].module = module_of(s, &ix, &f, !st->user);
			st->frames[k].named = f.name != NULL;
		}
		/* drop the tracer's own frames at the leaf of kernel stacks */
		uint32_t skip = 0;
		while (!st->user && skip < st->nframes && is_tracing_frame(st->names[skip]))
			free(st->names[skip++]);
		if (skip) {
			memmove(st->names, st->names + skip, (st->nframes - skip) * sizeof(char *));
			memmove(st->ips, st->ips + skip, (st->nframes - skip) * sizeof(uint64_t));
			memmove(st->frames, st->frames + skip, (st->nframes - skip) * sizeof(*st->frames));
			st->nframes -= skip;
		}
	}
	free(ix.slots);
}

void futex_addrs_symbolize(struct ps_snapshot *s, struct symbolizer *sym)
{
	uint32_t n = 0;

	/* each distinct (process, word) once: many threads wait on few locks */
	s->addr_names = xcalloc(s->n_futex ? s->n_futex : 1, sizeof(*s->addr_names));
	for (uint32_t i = 0; i < s->n_futex; i++)
		s->addr_names[i] = (struct ps_addr_name){ .tgid = s->futex_recs[i].key.tgid,
							  .addr = s->futex_recs[i].key.uaddr };
	s->n_addr_names = s->n_futex;
	snapshot_sort_addr_names(s);
	for (uint32_t i = 0; i < s->n_addr_names; i++) {
		struct ps_addr_name *a = &s->addr_names[i];
		struct sym_data d;
		char buf[256];

		if (n && a->tgid == s->addr_names[n - 1].tgid && a->addr == s->addr_names[n - 1].addr)
			continue;
		symbolize_data(sym, resolver_tgid(s, sym, a->tgid), a->addr, &d);
		a->symbol = xstrdup(sym_data_format(&d, buf, sizeof(buf)));
		a->lock = d.lock ? xstrdup(d.lock) : NULL;
		s->addr_names[n++] = *a;
	}
	s->n_addr_names = n;
}
