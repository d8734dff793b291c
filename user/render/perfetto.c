/* user/render/perfetto.c: the --timeline records as a Perfetto trace
 * (--perfetto FILE), which ui.perfetto.dev opens with its native per-CPU
 * scheduling tracks and thread states: ftrace_events bundles per CPU with
 * sched_switch, sched_waking, sched_wakeup_new, sched_migrate_task and the
 * fork/exec/exit events, a process_tree with the names, system_info's
 * utsname (so prev_state decodes for this kernel), an ftrace_stats packet
 * with the records lost per CPU, and each futex wait as a track-event slice
 * on its thread, named by the lock as the report names it.
 *
 * The field numbers are those of Perfetto's protos (protos/perfetto/trace/
 * trace.proto, trace_packet.proto, ftrace/ftrace_event_bundle.proto,
 * ftrace/ftrace_event.proto, ftrace/sched.proto, ftrace/ftrace_stats.proto,
 * ps/process_tree.proto, common/system_info.proto, track_event/
 * track_descriptor.proto, thread_descriptor.proto, track_event.proto).
 * Timestamps are CLOCK_BOOTTIME ns, the default clock of a trace. */
#include "render/timeline.h"
#include "model/timeline.h"
#include "render/pb.h"
#include "sys/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Trace */
#define TRACE_PACKET 1
/* TracePacket */
#define PKT_FTRACE_EVENTS 1
#define PKT_PROCESS_TREE 2
#define PKT_TIMESTAMP 8
#define PKT_SEQUENCE_ID 10
#define PKT_TRACK_EVENT 11
#define PKT_SEQUENCE_FLAGS 13
#define PKT_FTRACE_STATS 34
#define PKT_SYSTEM_INFO 45
#define PKT_TRACK_DESCRIPTOR 60
#define PKT_FIRST_ON_SEQUENCE 87
#define SEQ_INCREMENTAL_STATE_CLEARED 1
/* FtraceEventBundle */
#define BUNDLE_CPU 1
#define BUNDLE_EVENT 2
/* FtraceEvent */
#define EV_TIMESTAMP 1
#define EV_PID 2
#define EV_SCHED_SWITCH 4
#define EV_SCHED_WAKING 20
#define EV_SCHED_WAKEUP_NEW 114
#define EV_SCHED_PROCESS_EXEC 237
#define EV_SCHED_PROCESS_EXIT 238
#define EV_SCHED_PROCESS_FORK 239
#define EV_SCHED_MIGRATE_TASK 491
/* SystemInfo / Utsname */
#define SYS_UTSNAME 1
#define UTS_SYSNAME 1
#define UTS_VERSION 2
#define UTS_RELEASE 3
#define UTS_MACHINE 4
/* ProcessTree, .Process, .Thread */
#define PT_PROCESSES 1
#define PT_THREADS 2
#define PROC_PID 1
#define PROC_PPID 2
#define PROC_CMDLINE 3
#define THR_TID 1
#define THR_NAME 2
#define THR_TGID 3
/* FtraceStats, FtraceCpuStats */
#define FS_PHASE 1
#define FS_CPU_STATS 2
#define FS_END_OF_TRACE 2
#define CS_CPU 1
#define CS_ENTRIES 2
#define CS_OVERRUN 3
/* TrackDescriptor, ThreadDescriptor, TrackEvent */
#define TD_UUID 1
#define TD_NAME 2
#define TD_THREAD 4
#define THD_PID 1
#define THD_TID 2
#define THD_NAME 5
#define TE_TYPE 9
#define TE_TRACK_UUID 11
#define TE_CATEGORIES 22
#define TE_NAME 23
#define TE_SLICE_BEGIN 1
#define TE_SLICE_END 2

#define EVENTS_PER_BUNDLE 2048
#define FTRACE_SEQ 1
#define TRACK_SEQ 2

static char *comm_of(const char *c, char *buf)
{
	memcpy(buf, c, PS_COMM_LEN);
	buf[PS_COMM_LEN] = '\0';
	return buf;
}

static void system_info(struct pb *b, const struct ps_snapshot *s)
{
	size_t pkt = pb_begin(b, TRACE_PACKET), si, u;

	si = pb_begin(b, PKT_SYSTEM_INFO);
	u = pb_begin(b, SYS_UTSNAME);
	pb_string(b, UTS_SYSNAME, s->sysname[0] ? s->sysname : "Linux");
	pb_string(b, UTS_VERSION, s->uts_version);
	pb_string(b, UTS_RELEASE, s->kernel);
	pb_string(b, UTS_MACHINE, s->machine);
	pb_end(b, u);
	pb_end(b, si);
	pb_end(b, pkt);
}

/* Every task the core tracks show, traced ones with their process. */
static void process_tree(struct pb *b, const struct model *m, const struct timeline *tl)
{
	size_t pkt = pb_begin(b, TRACE_PACKET), pt = pb_begin(b, PKT_PROCESS_TREE);

	for (uint32_t i = 0; i < m->nprocs; i++) {
		size_t p = pb_begin(b, PT_PROCESSES);

		pb_int64(b, PROC_PID, m->procs[i].tgid);
		pb_string(b, PROC_CMDLINE, m->procs[i].comm);
		pb_end(b, p);
	}
	for (size_t i = 0; i < tl->ntasks; i++) {
		size_t t = pb_begin(b, PT_THREADS);

		pb_int64(b, THR_TID, tl->tasks[i].tid);
		pb_string(b, THR_NAME, tl->tasks[i].comm);
		pb_int64(b, THR_TGID, tl->tasks[i].tgid);
		pb_end(b, t);
	}
	pb_end(b, pt);
	pb_end(b, pkt);
}

static void ev_switch(struct pb *b, const struct ps_tl_rec *r)
{
	char c[PS_COMM_LEN + 1];
	size_t e = pb_begin(b, EV_SCHED_SWITCH);

	pb_string(b, 1, comm_of(r->comm, c));
	pb_int64(b, 2, r->pid);
	pb_int64(b, 3, r->prio);
	pb_int64(b, 4, r->state);
	pb_string(b, 5, comm_of(r->comm2, c));
	pb_int64(b, 6, r->pid2);
	pb_int64(b, 7, r->prio2);
	pb_end(b, e);
}

/* sched_waking / sched_wakeup_new: comm 1, pid 2, prio 3, success 4,
 * target_cpu 5 */
static void ev_wake(struct pb *b, uint32_t field, const struct ps_tl_rec *r)
{
	char c[PS_COMM_LEN + 1];
	size_t e = pb_begin(b, field);

	pb_string(b, 1, comm_of(r->comm, c));
	pb_int64(b, 2, r->pid);
	pb_int64(b, 3, r->prio);
	pb_int64(b, 4, 1);
	pb_int64(b, 5, (int64_t)r->arg);
	pb_end(b, e);
}

static void ev_other(struct pb *b, const struct ps_tl_rec *r)
{
	char c[PS_COMM_LEN + 1];
	size_t e;

	switch (r->kind) {
	case PS_TL_MIGRATE:      /* comm 1, pid 2, prio 3, orig_cpu 4, dest_cpu 5 */
		e = pb_begin(b, EV_SCHED_MIGRATE_TASK);
		pb_string(b, 1, comm_of(r->comm, c));
		pb_int64(b, 2, r->pid);
		pb_int64(b, 3, r->prio);
		pb_int64(b, 4, r->state);
		pb_int64(b, 5, (int64_t)r->arg);
		break;
	case PS_TL_FORK:         /* parent_comm 1, parent_pid 2, child_comm 3, child_pid 4 */
		e = pb_begin(b, EV_SCHED_PROCESS_FORK);
		pb_string(b, 1, comm_of(r->comm, c));
		pb_int64(b, 2, r->pid);
		pb_string(b, 3, comm_of(r->comm2, c));
		pb_int64(b, 4, r->pid2);
		break;
	case PS_TL_EXEC:         /* filename 1, pid 2, old_pid 3 */
		e = pb_begin(b, EV_SCHED_PROCESS_EXEC);
		pb_string(b, 1, comm_of(r->comm, c));
		pb_int64(b, 2, r->pid);
		pb_int64(b, 3, r->pid);
		break;
	case PS_TL_EXIT:         /* comm 1, pid 2, tgid 3, prio 4 */
		e = pb_begin(b, EV_SCHED_PROCESS_EXIT);
		pb_string(b, 1, comm_of(r->comm, c));
		pb_int64(b, 2, r->pid);
		pb_int64(b, 3, r->tgid);
		pb_int64(b, 4, r->prio);
		break;
	default:
		return;
	}
	pb_end(b, e);
}

/* The ftrace events of one CPU, in bundles. */
static void ftrace_cpu(struct pb *b, const struct ps_tl_rec *r, size_t n, int cpu)
{
	size_t pkt = 0, bundle = 0, in = 0;

	for (size_t i = 0; i < n; i++) {
		if (r[i].cpu != cpu || r[i].kind == PS_TL_FUTEX_BEGIN || r[i].kind == PS_TL_FUTEX_END)
			continue;
		if (!in) {
			pkt = pb_begin(b, TRACE_PACKET);
			pb_uint64(b, PKT_SEQUENCE_ID, FTRACE_SEQ);
			bundle = pb_begin(b, PKT_FTRACE_EVENTS);
			pb_uint64(b, BUNDLE_CPU, cpu);
		}
		size_t e = pb_begin(b, BUNDLE_EVENT);

		pb_uint64(b, EV_TIMESTAMP, r[i].ts);
		/* the task current on that CPU when the event fired */
		pb_uint64(b, EV_PID, r[i].kind == PS_TL_WAKING ? r[i].pid2 : r[i].pid);
		if (r[i].kind == PS_TL_SWITCH)
			ev_switch(b, &r[i]);
		else if (r[i].kind == PS_TL_WAKING)
			ev_wake(b, EV_SCHED_WAKING, &r[i]);
		else if (r[i].kind == PS_TL_WAKEUP_NEW)
			ev_wake(b, EV_SCHED_WAKEUP_NEW, &r[i]);
		else
			ev_other(b, &r[i]);
		pb_end(b, e);
		if (++in == EVENTS_PER_BUNDLE) {
			pb_end(b, bundle);
			pb_end(b, pkt);
			in = 0;
		}
	}
	if (in) {
		pb_end(b, bundle);
		pb_end(b, pkt);
	}
}

/* Lost records per CPU, where trace_processor reports ftrace's own losses. */
static void ftrace_stats(struct pb *b, const struct timeline *tl)
{
	size_t pkt = pb_begin(b, TRACE_PACKET), fs = pb_begin(b, PKT_FTRACE_STATS);

	pb_uint64(b, FS_PHASE, FS_END_OF_TRACE);
	for (int c = 0; c < tl->nr_cpus; c++) {
		size_t cs = pb_begin(b, FS_CPU_STATS);

		pb_uint64(b, CS_CPU, c);
		pb_uint64(b, CS_ENTRIES, tl->cores[c].records);
		pb_uint64(b, CS_OVERRUN, tl->cores[c].lost);
		pb_end(b, cs);
	}
	pb_end(b, fs);
	pb_end(b, pkt);
}

/* The report's name for the lock at (tgid, uaddr). */
static void lock_name(const struct model *m, uint32_t tgid, uint64_t uaddr, char *buf, size_t len)
{
	for (uint32_t i = 0; i < m->nlocks; i++)
		for (uint32_t a = 0; a < m->locks[i].naddrs; a++)
			if (m->locks[i].tgid == tgid && m->locks[i].addrs[a] == uaddr) {
				snprintf(buf, len, "futex wait: %s", m->locks[i].caller ? m->locks[i].caller : "?");
				return;
			}
	snprintf(buf, len, "futex wait 0x%llx", (unsigned long long)uaddr);
}

static uint64_t track_uuid(uint32_t tid)
{
	return 0x706f6f6c00000000ull | tid;   /* "pool" | tid */
}

/* Each traced thread that waited gets a track; each wait a slice on it. */
static void futex_slices(struct pb *b, const struct model *m, const struct ps_tl_rec *r, size_t n)
{
	uint32_t *seen = NULL;
	size_t nseen = 0, cap = 0;
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		bool begin = r[i].kind == PS_TL_FUTEX_BEGIN;
		char name[160], c[PS_COMM_LEN + 1];
		size_t k, pkt, te;

		if (!begin && r[i].kind != PS_TL_FUTEX_END)
			continue;
		for (k = 0; k < nseen && seen[k] != r[i].pid; k++)
			;
		if (k == nseen) {
			if (!begin)
				continue;   /* began before the trace */
			if (nseen == cap) {
				cap = cap ? cap * 2 : 64;
				seen = xrealloc(seen, cap * sizeof(*seen));
			}
			seen[nseen++] = r[i].pid;
			pkt = pb_begin(b, TRACE_PACKET);
			pb_uint64(b, PKT_SEQUENCE_ID, TRACK_SEQ);
			if (first) {
				pb_uint64(b, PKT_SEQUENCE_FLAGS, SEQ_INCREMENTAL_STATE_CLEARED);
				pb_bool(b, PKT_FIRST_ON_SEQUENCE, true);
				first = false;
			}
			size_t td = pb_begin(b, PKT_TRACK_DESCRIPTOR), th;

			pb_uint64(b, TD_UUID, track_uuid(r[i].pid));
			pb_string(b, TD_NAME, "futex waits");
			th = pb_begin(b, TD_THREAD);
			pb_int64(b, THD_PID, r[i].tgid);
			pb_int64(b, THD_TID, r[i].pid);
			pb_string(b, THD_NAME, comm_of(r[i].comm, c));
			pb_end(b, th);
			pb_end(b, td);
			pb_end(b, pkt);
		}
		pkt = pb_begin(b, TRACE_PACKET);
		pb_uint64(b, PKT_TIMESTAMP, r[i].ts);
		pb_uint64(b, PKT_SEQUENCE_ID, TRACK_SEQ);
		te = pb_begin(b, PKT_TRACK_EVENT);
		pb_uint64(b, TE_TYPE, begin ? TE_SLICE_BEGIN : TE_SLICE_END);
		pb_uint64(b, TE_TRACK_UUID, track_uuid(r[i].pid));
		if (begin) {
			lock_name(m, r[i].tgid, r[i].arg, name, sizeof(name));
			pb_string(b, TE_CATEGORIES, "futex");
			pb_string(b, TE_NAME, name);
		}
		pb_end(b, te);
		pb_end(b, pkt);
	}
	free(seen);
}

int export_perfetto(FILE *out, const struct model *m, const struct diagnosis *d)
{
	const struct ps_snapshot *s = m->snap;
	struct timeline tl;
	struct ps_tl_rec *r;
	struct pb b;

	(void)d;
	timeline_build(m, &tl);
	r = timeline_sorted(s);
	pb_init(&b);
	system_info(&b, s);
	process_tree(&b, m, &tl);
	for (int c = 0; c < s->nr_cpus; c++)
		ftrace_cpu(&b, r, s->ntl, c);
	futex_slices(&b, m, r, s->ntl);
	ftrace_stats(&b, &tl);
	fwrite(b.data, 1, b.len, out);
	pb_free(&b);
	free(r);
	timeline_free(&tl);
	return ferror(out) ? -EIO : 0;
}
