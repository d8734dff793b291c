/* user/session.c: tracer + symbolizer lifecycle (see session.h). */
#include "trace/session.h"
#include "sym/stack_names.h"
#include "sys/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int session_open(struct session *s, const struct tracer_opts *opts)
{
	int err;

	memset(s, 0, sizeof(*s));
	err = tracer_open(opts, &s->tracer);
	if (err)
		return err;
	if (tracer_locks_active(s->tracer) || opts->offcpu || opts->oncpu)
		s->sym = symbolizer_new();
	return 0;
}

static struct session_proc *find_proc(struct session *s, uint32_t tgid)
{
	for (uint32_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].tgid == tgid)
			return &s->procs[i];
	return NULL;
}

/* Snapshot tgid's memory map if it is new or has exec'd since. */
static void track(struct session *s, uint32_t tgid, bool refresh)
{
	struct session_proc *p = find_proc(s, tgid);
	char link[64], exe[256];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%u/exe", tgid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n <= 0)
		return; /* gone (its last snapshot stays) or a kernel thread */
	exe[n] = '\0';
	if (p && !refresh && !strcmp(p->exe, exe))
		return;
	if (symbolizer_add_process(s->sym, tgid))
		return;
	if (!p) {
		if (s->nprocs == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 64;
			s->procs = xrealloc(s->procs, s->cap * sizeof(*s->procs));
		}
		p = &s->procs[s->nprocs++];
		p->tgid = tgid;
	}
	snprintf(p->exe, sizeof(p->exe), "%s", exe);
}

static void track_all(struct session *s, bool refresh)
{
	uint32_t tgids[PS_MAX_TGIDS];
	int n;

	if (!s->sym)
		return;
	n = tracer_processes(s->tracer, tgids, PS_MAX_TGIDS);
	for (int i = 0; i < n; i++)
		track(s, tgids[i], refresh);
}

void session_poll(struct session *s)
{
	tracer_sample(s->tracer);
	track_all(s, false);
}

int session_snapshot(struct session *s, struct ps_snapshot *snap)
{
	int err;

	track_all(s, true);
	err = tracer_snapshot(s->tracer, snap);
	if (err)
		return err;
	if (s->sym)
		stacks_symbolize(snap, s->sym);
	return 0;
}

/* This process's peak resident set (VmHWM): unlike getrusage's ru_maxrss it
 * does not include what the image that exec'd poolscope had. */
static uint64_t peak_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	unsigned long long kb = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

void session_close(struct session *s, struct ps_snapshot *snap)
{
	uint64_t t0 = mono_ns();

	tracer_close(s->tracer);
	if (snap) {
		snap->timing.detach_ns = mono_ns() - t0;
		snap->timing.peak_rss_kb = peak_rss_kb();
	}
	symbolizer_free(s->sym);
	free(s->procs);
	memset(s, 0, sizeof(*s));
}
