/* user/render/report_json.c: the report as one JSON document (schema in
 * README.md, "JSON output"). Times are ns; timestamps are ns since the start
 * of the trace window. */
#include "render/report.h"
#include "render/json.h"
#include "model/diagnose.h"
#include <string.h>

#define POOLSCOPE_JSON_VERSION 1

static uint64_t rel(const struct model *m, uint64_t ts)
{
	return ts > m->start_ns ? ts - m->start_ns : 0;
}

static void hist_u64(struct json *j, const char *key, const uint64_t *h)
{
	json_key(j, key);
	json_array_begin(j);
	for (int i = 0; i < PS_HIST_SLOTS; i++)
		json_u64(j, h[i]);
	json_array_end(j);
}

static void write_totals(struct json *j, const struct model *m)
{
	json_key(j, "totals");
	json_object_begin(j);
	json_kv_u64(j, "processes", m->nprocs);
	json_kv_u64(j, "threads", m->thread_count);
	json_kv_u64(j, "folded_threads", m->folded_threads);
	json_kv_u64(j, "oncpu_ns", m->oncpu_ns);
	json_kv_u64(j, "offcpu_ns", m->offcpu_ns);
	json_kv_u64(j, "runq_wait_ns", m->runq_wait_ns);
	json_kv_u64(j, "runq_count", m->runq_count);
	json_kv_u64(j, "runq_p50_ns", m->runq_p50_ns);
	json_kv_u64(j, "runq_p90_ns", m->runq_p90_ns);
	json_kv_u64(j, "runq_p99_ns", m->runq_p99_ns);
	json_kv_u64(j, "runq_max_ns", m->runq_max_ns);
	json_kv_u64(j, "switches", m->switches);
	json_kv_u64(j, "vol", m->vol);
	json_kv_u64(j, "invol", m->invol);
	json_kv_u64(j, "migrations", m->migrations);
	json_kv_double(j, "parallelism", m->parallelism);
	json_kv_double(j, "busy_pct", m->busy_pct);
	json_kv_double(j, "other_load_cpus", m->other_cpus);
	hist_u64(j, "runq_hist", m->runq_hist);
	json_object_end(j);
}

static void write_cpus(struct json *j, const struct model *m)
{
	json_key(j, "cpus");
	json_array_begin(j);
	for (int c = 0; c < m->nr_cpus; c++) {
		const struct core_summary *cs = &m->cores[c];

		json_object_begin(j);
		json_kv_u64(j, "cpu", c);
		json_kv_u64(j, "busy_ns", cs->busy_ns);
		json_kv_u64(j, "traced_ns", cs->traced_ns);
		json_kv_u64(j, "idle_ns", cs->idle_ns);
		json_kv_double(j, "busy_pct", cs->busy_pct);
		json_kv_double(j, "traced_pct", cs->traced_pct);
		json_kv_u64(j, "switches", cs->switches);
		json_kv_u64(j, "vol", cs->vol);
		json_kv_u64(j, "invol", cs->invol);
		json_kv_u64(j, "all_switches", cs->all_switches);
		json_kv_u64(j, "runq_count", cs->runq_count);
		json_kv_u64(j, "runq_sum_ns", cs->runq_sum_ns);
		json_kv_u64(j, "runq_p50_ns", cs->runq_p50_ns);
		json_kv_u64(j, "runq_p99_ns", cs->runq_p99_ns);
		json_kv_u64(j, "runq_max_ns", cs->runq_max_ns);
		json_kv_u64(j, "migr_in", cs->migr_in);
		json_kv_u64(j, "migr_out", cs->migr_out);
		hist_u64(j, "runq_hist", cs->runq_hist);
		json_key(j, "top_threads");
		json_array_begin(j);
		for (int k = 0; k < MODEL_TOP_THREADS && cs->top[k].thread >= 0; k++) {
			json_object_begin(j);
			json_kv_u64(j, "tid", m->threads[cs->top[k].thread].tid);
			json_kv_u64(j, "oncpu_ns", cs->top[k].ns);
			json_object_end(j);
		}
		json_array_end(j);
		json_object_end(j);
	}
	json_array_end(j);
}

static void write_slices(struct json *j, const struct model *m)
{
	const struct ps_snapshot *s = m->snap;

	json_key(j, "slices");
	json_object_begin(j);
	json_kv_u64(j, "slice_ns", s->slice_ns);
	json_key(j, "end_ns");
	json_array_begin(j);
	for (uint32_t k = 0; k < s->nslices; k++)
		json_u64(j, rel(m, s->slice_end_ns[k]));
	json_array_end(j);
	for (int pass = 0; pass < 2; pass++) {
		const uint64_t *v = pass ? s->slice_traced_ns : s->slice_busy_ns;

		json_key(j, pass ? "traced_ns" : "busy_ns");
		json_array_begin(j);
		for (uint32_t k = 0; k < s->nslices; k++) {
			json_array_begin(j);
			for (int c = 0; c < s->nr_cpus; c++)
				json_u64(j, v[(size_t)k * s->nr_cpus + c]);
			json_array_end(j);
		}
		json_array_end(j);
	}
	json_object_end(j);
}

static void write_threads(struct json *j, const struct model *m)
{
	json_key(j, "threads");
	json_array_begin(j);
	for (uint32_t i = 0; i < m->nthreads; i++) {
		const struct thread_summary *t = &m->threads[i];

		json_object_begin(j);
		json_kv_u64(j, "tid", t->tid);
		json_kv_u64(j, "tgid", t->tgid);
		json_kv_u64(j, "ns_tid", t->ns_tid);   /* in its own PID namespace */
		json_kv_u64(j, "ns_pid", t->ns_pid);
		json_kv_u64(j, "cgroup_id", t->cgroup_id);
		/* > 0: the summed exited threads of tgid whose slots were reused */
		json_kv_u64(j, "folded_threads", t->folded);
		json_kv_u64(j, "parent_tid", t->parent_tid);
		json_kv_string(j, "comm", t->comm);
		json_kv_u64(j, "first_ns", rel(m, t->first_ns));
		json_kv_bool(j, "exited", t->exited);
		json_kv_bool(j, "forked", t->forked);   /* born during the trace */
		json_kv_bool(j, "execed", t->execed);
		json_kv_bool(j, "entered", t->entered);
		json_kv_bool(j, "left", t->left);
		json_kv_u64(j, "exit_ns", t->exit_ns ? rel(m, t->exit_ns) : 0);
		json_kv_u64(j, "oncpu_ns", t->oncpu_ns);
		json_kv_u64(j, "offcpu_ns", t->offcpu_ns);
		json_kv_u64(j, "runq_wait_ns", t->runq_wait_ns);
		json_kv_u64(j, "runq_count", t->runq_count);
		json_kv_u64(j, "runq_max_ns", t->runq_max_ns);
		json_kv_u64(j, "runq_p50_ns", t->runq_p50_ns);
		json_kv_u64(j, "runq_p99_ns", t->runq_p99_ns);
		json_kv_u64(j, "vol", t->vol);
		json_kv_u64(j, "invol", t->invol);
		json_kv_u64(j, "migrations", t->migrations);
		json_kv_u64(j, "wakeups", t->wakeups);
		if (m->snap->oncpu) {
			json_kv_u64(j, "oncpu_samples", t->oncpu_samples);
			json_kv_u64(j, "spin_samples", t->spin_samples);
		}
		json_key(j, "oncpu_ns_by_cpu");
		json_array_begin(j);
		for (int c = 0; c < m->nr_cpus; c++)
			json_u64(j, t->oncpu_by_cpu[c]);
		json_array_end(j);
		hist_u64(j, "runq_hist", t->runq_hist);
		json_object_end(j);
	}
	json_array_end(j);
}

static void write_procs(struct json *j, const struct model *m)
{
	json_key(j, "processes");
	json_array_begin(j);
	for (uint32_t i = 0; i < m->nprocs; i++) {
		const struct process_summary *p = &m->procs[i];

		json_object_begin(j);
		json_kv_u64(j, "tgid", p->tgid);
		json_kv_string(j, "comm", p->comm);
		json_kv_u64(j, "threads", p->nthreads);
		json_kv_u64(j, "exited_folded", p->exited_folded);
		json_kv_u64(j, "oncpu_ns", p->oncpu_ns);
		json_kv_u64(j, "offcpu_ns", p->offcpu_ns);
		json_kv_u64(j, "runq_wait_ns", p->runq_wait_ns);
		json_kv_u64(j, "vol", p->vol);
		json_kv_u64(j, "invol", p->invol);
		json_kv_u64(j, "migrations", p->migrations);
		json_object_end(j);
	}
	json_array_end(j);
}

static void kv_u64_or_null(struct json *j, const char *key, bool known, uint64_t v)
{
	json_key(j, key);
	if (known)
		json_u64(j, v);
	else
		json_null(j);
}

static void kv_string_or_null(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	if (s && *s)
		json_string(j, s);
	else
		json_null(j);
}

static void write_cgroup(struct json *j, const struct cgroup_summary *c)
{
	json_object_begin(j);
	json_kv_u64(j, "id", c->id);
	json_kv_string(j, "path", c->path);
	kv_string_or_null(j, "unit", c->owner.unit);
	kv_string_or_null(j, "container", c->owner.container);
	kv_string_or_null(j, "pod", c->owner.pod);
	json_kv_u64(j, "threads", c->nthreads);
	json_kv_u64(j, "processes", c->nprocs);
	json_kv_u64(j, "oncpu_ns", c->oncpu_ns);
	kv_u64_or_null(j, "usage_ns", c->have_usage, c->usage_ns);
	json_kv_double(j, "parallelism", c->parallelism);
	json_kv_u64(j, "runq_wait_ns", c->runq_wait_ns);
	json_kv_u64(j, "runq_count", c->runq_count);
	json_kv_u64(j, "runq_p50_ns", c->runq_p50_ns);
	json_kv_u64(j, "runq_p99_ns", c->runq_p99_ns);
	json_kv_u64(j, "runq_max_ns", c->runq_max_ns);
	json_kv_u64(j, "switches", c->vol + c->invol);
	json_kv_u64(j, "vol", c->vol);
	json_kv_u64(j, "invol", c->invol);
	json_key(j, "limit_cpus");
	if (c->limit_cpus > 0)
		json_double(j, c->limit_cpus);
	else
		json_null(j);
	kv_u64_or_null(j, "quota_us", c->limit_cpus > 0, c->quota_us);
	kv_u64_or_null(j, "period_us", c->limit_cpus > 0, c->period_us);
	kv_string_or_null(j, "limit_at", c->limit_at);
	kv_string_or_null(j, "cpuset", c->cpuset);
	json_kv_u64(j, "cpuset_cpus", c->cpuset_cpus);
	kv_u64_or_null(j, "nr_periods", c->have_throttle, c->nr_periods);
	kv_u64_or_null(j, "nr_throttled", c->have_throttle, c->nr_throttled);
	kv_u64_or_null(j, "throttled_ns", c->have_throttle, c->throttled_ns);
	hist_u64(j, "runq_hist", c->runq_hist);
	json_object_end(j);
}

static void write_cgroups(struct json *j, const struct model *m)
{
	const struct ps_snapshot *s = m->snap;
	const struct ps_cgroup *t = s->cg_target ? snapshot_cgroup(s, s->cg_target) : NULL;

	json_key(j, "cgroup_hierarchy");
	json_object_begin(j);
	json_kv_string(j, "kind", cgroupfs_kind_name(s->cg_kind));
	kv_string_or_null(j, "mount", s->cg_mount);
	kv_string_or_null(j, "target", s->cg_target ? (t && t->path[0] ? t->path : "?") : NULL);
	json_kv_bool(j, "shown", m->cgroups_shown);
	json_object_end(j);
	json_key(j, "cgroups");
	json_array_begin(j);
	for (uint32_t i = 0; i < m->ncgroups; i++)
		write_cgroup(j, &m->cgroups[i]);
	json_array_end(j);
}

void json_lock_fields(struct json *j, const struct lock_summary *l)
{
	json_kv_u64(j, "tgid", l->tgid);
	json_kv_string(j, "comm", l->comm);
	json_kv_string(j, "caller", l->caller ? l->caller : "");
	json_kv_string(j, "lock_name", l->name ? l->name : "");
	json_kv_string(j, "lock_symbol", l->symbol ? l->symbol : "");
	json_kv_string(j, "stack", l->where);
	json_key(j, "addrs");
	json_array_begin(j);
	for (uint32_t a = 0; a < l->naddrs; a++)
		json_u64(j, l->addrs[a]);
	json_array_end(j);
	json_key(j, "addr_symbols");
	json_array_begin(j);
	for (uint32_t a = 0; a < l->naddrs; a++)
		json_string(j, l->addr_symbols[a] ? l->addr_symbols[a] : "");
	json_array_end(j);
	json_key(j, "addr_tgids");
	json_array_begin(j);
	for (uint32_t a = 0; a < l->naddrs; a++)
		json_u64(j, l->addr_tgids[a]);
	json_array_end(j);
	json_kv_u64(j, "waiters", l->nwaiters);
	json_kv_u64(j, "processes", l->nprocs);
	json_kv_bool(j, "chain", l->chain);
	json_kv_u64(j, "waits", l->waits);
	json_kv_u64(j, "wait_ns", l->wait_ns);
	json_kv_u64(j, "asleep_ns", l->asleep_ns);
	json_kv_double(j, "share_waiters", l->share_waiters);
	json_kv_double(j, "share_asleep", l->share_asleep);
}

static bool eagain_seen(const struct model *m)
{
	return m->snap->futex_source && !strcmp(m->snap->futex_source, "syscall-tracepoints");
}

static void write_locks(struct json *j, const struct model *m)
{
	json_key(j, "locks");
	json_array_begin(j);
	for (uint32_t i = 0; i < m->nlocks; i++) {
		const struct lock_summary *l = &m->locks[i];

		json_object_begin(j);
		json_lock_fields(j, l);
		json_kv_bool(j, "contended", l->contended);
		json_kv_string(j, "class", lock_class_name(l->cls));
		json_kv_bool(j, "mutex", l->mutex);
		json_kv_u64(j, "max_ns", l->max_ns);
		json_kv_u64(j, "busy_ns", l->busy_ns);
		json_kv_double(j, "busy_frac", l->busy_frac);
		json_kv_double(j, "proc_busy_frac", l->proc_busy_frac);
		json_kv_double(j, "active_peers", l->peers);
		json_kv_double(j, "share_all", l->share_all);
		json_kv_u64(j, "timeouts", l->timeouts);
		json_kv_u64(j, "interrupted", l->interrupted);
		/* a wait that returns EAGAIN never blocks: only the syscall
		 * tracepoints see it */
		json_key(j, "eagain");
		if (eagain_seen(m))
			json_u64(j, l->eagain);
		else
			json_null(j);
		json_kv_u64(j, "woken_by_traced", l->woken_by_traced);
		json_kv_string(j, "waker", l->waker ? l->waker : "");
		hist_u64(j, "wait_hist", l->hist);
		json_object_end(j);
	}
	json_array_end(j);
}

/* The Python frames: which interpreters, how many stacks, what was lost. */
static void write_python(struct json *j, const struct ps_snapshot *s)
{
	char versions[sizeof(s->py_versions)], *save = NULL;

	json_key(j, "python");
	json_object_begin(j);
	json_kv_bool(j, "frames", s->python);
	json_kv_u64(j, "processes", s->py_procs);
	json_kv_u64(j, "unknown_processes", s->py_unknown);
	json_key(j, "versions");
	json_array_begin(j);
	snprintf(versions, sizeof(versions), "%s", s->py_versions);
	for (char *v = strtok_r(versions, " ", &save); v; v = strtok_r(NULL, " ", &save))
		json_string(j, v);
	json_array_end(j);
	json_kv_u64(j, "depth", PS_PY_DEPTH);
	json_kv_u64(j, "stacks", s->py.stacks);
	json_kv_u64(j, "truncated", s->py.truncated);
	json_kv_u64(j, "read_failures", s->py.read_fail);
	json_kv_u64(j, "stacks_not_kept", s->py.stack_full);
	json_kv_u64(j, "code_failures", s->py.code_fail);
	json_kv_u64(j, "code_not_kept", s->py.code_full);
	json_kv_u64(j, "thread_searches", s->py.searches);
	json_kv_u64(j, "searches_without_state", s->py.no_tstate);
	json_object_end(j);
}

static void write_stacks(struct json *j, const char *key, const struct stack_summary *ss, uint32_t n,
			 const char *unit)
{
	json_key(j, key);
	json_array_begin(j);
	for (uint32_t i = 0; i < n && i < 200; i++) {
		json_object_begin(j);
		json_kv_string(j, "stack", ss[i].folded);
		json_kv_u64(j, unit, ss[i].value);
		json_kv_u64(j, "count", ss[i].count);
		json_object_end(j);
	}
	json_array_end(j);
}

static void lock_json(struct json *j, const struct lock_summary *l)
{
	json_key(j, "lock");
	if (!l) {
		json_null(j);
		return;
	}
	json_object_begin(j);
	json_lock_fields(j, l);
	json_object_end(j);
}

void report_diagnosis_json(struct json *j, const struct diagnosis *d)
{
	char text[sizeof(d->text)];

	/* one line: a reader wraps it to its own width */
	snprintf(text, sizeof(text), "%s", d->text);
	for (char *p = text; *p; p++)
		if (*p == '\n')
			*p = ' ';
	json_key(j, "diagnosis");
	json_object_begin(j);
	json_kv_string(j, "key", d->key);
	json_kv_string(j, "verdict", d->key);
	json_kv_string(j, "label", d->label);
	json_kv_double(j, "confidence", d->confidence);
	json_kv_string(j, "confidence_word", diagnose_confidence_word(d->confidence));
	json_kv_string(j, "text", text);
	json_key(j, "evidence");
	json_object_begin(j);
	for (int i = 0; i < d->nev; i++)
		json_kv_double(j, d->ev[i].name, d->ev[i].value);
	json_object_end(j);
	lock_json(j, d->lock);
	json_object_end(j);
}
void report_json(FILE *out, const struct model *m, const struct diagnosis *diag,
		 const struct report_opts *o)
{
	const struct ps_snapshot *s = m->snap;
	struct json j;

	json_init(&j, out, !o->compact);
	json_object_begin(&j);
	json_kv_u64(&j, "version", POOLSCOPE_JSON_VERSION);
	json_kv_u64(&j, "interval", o->interval);
	json_kv_u64(&j, "wall_start_ns", o->wall_start);
	json_kv_string(&j, "title", o->title);
	json_key(&j, "command");
	json_array_begin(&j);
	for (char *const *a = o->argv; a && *a; a++)
		json_string(&j, *a);
	json_array_end(&j);
	json_key(&j, "exit_status");
	if (o->exit_status >= 0)
		json_i64(&j, o->exit_status);
	else
		json_null(&j);
	json_kv_u64(&j, "nr_cpus", s->nr_cpus);
	json_kv_string(&j, "attach_mode", s->attach_mode);
	json_kv_bool(&j, "all_tasks", s->all);
	json_kv_u64(&j, "wall_ns", m->wall_ns);
	json_kv_u64(&j, "events", s->events);
	json_key(&j, "dropped");
	json_object_begin(&j);
	json_kv_u64(&j, "total", m->dropped);
	for (int i = 0; i < MODEL_DROP_KINDS; i++)
		json_kv_u64(&j, m->drops[i].key, m->drops[i].n);
	json_object_end(&j);
	json_key(&j, "timing");
	json_object_begin(&j);
	json_kv_u64(&j, "setup_ns", s->timing.setup_ns);
	json_kv_u64(&j, "detach_ns", s->timing.detach_ns);
	json_kv_u64(&j, "map_bytes", s->timing.map_bytes);
	json_kv_u64(&j, "peak_rss_kb", s->timing.peak_rss_kb);
	json_kv_u64(&j, "sym_processes", s->timing.sym_processes);
	json_object_end(&j);
	json_key(&j, "features");
	json_object_begin(&j);
	json_kv_string(&j, "kernel", s->kernel);
	json_kv_string(&j, "probed", s->features_line);
	json_kv_string(&j, "task_state", s->task_hash ? "hash" : "task-storage");
	json_kv_bool(&j, "locks", s->locks);
	json_key(&j, "futex_source");
	if (s->futex_source)
		json_string(&j, s->futex_source);
	else
		json_null(&j);
	json_kv_bool(&j, "offcpu_stacks", s->offcpu);
	json_kv_bool(&j, "oncpu_stacks", s->oncpu);
	json_kv_u64(&j, "sample_hz", s->oncpu ? s->sample_hz : 0);
	json_object_end(&j);
	if (s->timeline) {
		json_key(&j, "timeline");
		json_object_begin(&j);
		json_kv_u64(&j, "records", s->ntl);
		json_key(&j, "lost_per_cpu");
		json_array_begin(&j);
		for (int c = 0; c < s->nr_cpus; c++)
			json_u64(&j, s->cpus[c].tl_lost);
		json_array_end(&j);
		json_kv_u64(&j, "beyond_cap", s->tl_over);
		json_object_end(&j);
	}
	write_python(&j, s);
	write_totals(&j, m);
	write_cpus(&j, m);
	write_slices(&j, m);
	write_procs(&j, m);
	write_threads(&j, m);
	write_cgroups(&j, m);
	write_locks(&j, m);
	write_stacks(&j, "offcpu_stacks", m->offcpu, m->n_offcpu, "ns");
	write_stacks(&j, "oncpu_stacks", m->oncpu, m->n_oncpu, "samples");
	/* attach -a: the busiest program's verdict, and each program's */
	report_diagnosis_json(&j, o->ngroups ? &o->groups[0].d : diag);
	if (o->ngroups) {
		json_key(&j, "programs");
		json_array_begin(&j);
		for (int i = 0; i < o->ngroups; i++) {
			const struct program_group *g = &o->groups[i];

			json_object_begin(&j);
			json_kv_string(&j, "comm", g->comm);
			json_kv_u64(&j, "processes", g->nprocs);
			json_kv_u64(&j, "threads", g->m.thread_count);
			json_kv_u64(&j, "oncpu_ns", g->oncpu_ns);
			json_kv_double(&j, "other_load_cpus", g->m.other_cpus);
			report_diagnosis_json(&j, &g->d);
			json_object_end(&j);
		}
		json_array_end(&j);
	}
	json_object_end(&j);
	if (o->compact)
		fputc('\n', out);
	fflush(out);
}
