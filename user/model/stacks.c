/* user/stacks.c: symbolized and folded stacks (see stacks.h). */
#include "model/stacks.h"
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
	for (uint32_t k = 0; k < st->nframes; k++)
		if (!is_runtime_frame(st->names[k]))
			return st->names[k];
	return st->nframes ? st->names[0] : NULL;
}
