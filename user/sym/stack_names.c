/* user/sym/stack_names.c: names for the frames of a snapshot's captured
 * stacks (see stack_names.h). */
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
	for (uint32_t i = 0; i < s->nstacks; i++) {
		struct ps_stack *st = &s->stacks[i];
		uint32_t tgid = st->user ? resolver_tgid(s, sym, st->tgid) : 0;

		st->names = xcalloc(st->nframes ? st->nframes : 1, sizeof(char *));
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
		}
		/* drop the tracer's own frames at the leaf of kernel stacks */
		uint32_t skip = 0;
		while (!st->user && skip < st->nframes && is_tracing_frame(st->names[skip]))
			free(st->names[skip++]);
		if (skip) {
			memmove(st->names, st->names + skip, (st->nframes - skip) * sizeof(char *));
			memmove(st->ips, st->ips + skip, (st->nframes - skip) * sizeof(uint64_t));
			st->nframes -= skip;
		}
	}
}
