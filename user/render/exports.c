/* user/render/exports.c: folded-stack and SVG flame graph exports (see exports.h). */
#include "render/exports.h"
#include "render/flamegraph.h"
#include "model/stacks.h"
#include "sys/util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = { "offcpu", "oncpu", "futex" };

int stack_kind_parse(const char *s, enum stack_kind *out)
{
	for (size_t i = 0; i < ARRAY_LEN(kind_names); i++)
		if (!strcmp(s, kind_names[i])) {
			*out = i;
			return 0;
		}
	return -EINVAL;
}

const char *stack_kind_name(enum stack_kind k)
{
	return kind_names[k];
}

bool stack_kind_captured(const struct model *m, enum stack_kind k)
{
	return k == STACKS_OFFCPU ? m->snap->offcpu : k == STACKS_ONCPU ? m->snap->oncpu : m->snap->locks;
}

/* The stacks of kind k as (folded, value) pairs, in the unit of the
 * export (us for time, samples); the caller frees. */
static struct folded_stack *collect(const struct model *m, enum stack_kind k, size_t *n)
{
	const struct stack_summary *ss = k == STACKS_OFFCPU ? m->offcpu : k == STACKS_ONCPU ? m->oncpu :
					 m->futex;
	uint32_t cnt = k == STACKS_OFFCPU ? m->n_offcpu : k == STACKS_ONCPU ? m->n_oncpu : m->n_futex;
	struct folded_stack *out = xcalloc(cnt ? cnt : 1, sizeof(*out));

	for (uint32_t i = 0; i < cnt; i++) {
		out[i].stack = xstrdup(ss[i].folded);
		out[i].value = k == STACKS_ONCPU ? ss[i].value : ss[i].value / 1000;
	}
	*n = cnt;
	return out;
}

static void release(struct folded_stack *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((char *)f[i].stack);
	free(f);
}

int export_folded(FILE *out, const struct model *m, enum stack_kind k)
{
	size_t n;
	struct folded_stack *f = collect(m, k, &n);

	for (size_t i = 0; i < n; i++)
		if (f[i].value)
			fprintf(out, "%s %llu\n", f[i].stack, (unsigned long long)f[i].value);
	release(f, n);
	return ferror(out) ? -EIO : 0;
}

int export_svg(FILE *out, const struct model *m, enum stack_kind k)
{
	static const char *const titles[] = { "Off-CPU time", "On-CPU samples", "Futex wait time" };
	size_t n;
	struct folded_stack *f = collect(m, k, &n);
	char sub[128];
	struct flamegraph_opts o = {
		.title = titles[k],
		.unit = k == STACKS_ONCPU ? "samples" : "us",
		.subtitle = sub,
		.palette = k == STACKS_ONCPU ? FG_PALETTE_HOT : FG_PALETTE_IO,
	};
	int err;

	snprintf(sub, sizeof(sub), "poolscope: %llu threads, %.3f s", (unsigned long long)m->thread_count, m->wall_ns / 1e9);
	err = flamegraph_write_svg(out, f, n, &o);
	release(f, n);
	return err;
}
