/* user/snapshot.h: what a trace gathered, as plain C data. The tracer fills
 * it from the BPF maps; the model and the renderers read only this, so unit
 * tests can build one by hand without root or BPF. */
#ifndef POOLSCOPE_SNAPSHOT_H
#define POOLSCOPE_SNAPSHOT_H
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "poolscope.h"
#include "sys/cgroupfs.h"

struct ps_snapshot {
	uint64_t start_ns, end_ns;     /* trace window, CLOCK_MONOTONIC */
	int nr_cpus;
	bool all;                      /* -a: every task on the machine ... */
	uint32_t self_tgid;            /* ... but poolscope itself, this process (-a only) */
	const char *attach_mode;       /* "tp_btf" or "raw_tp" */
	bool task_hash;                /* per-task state in a hash (pre-6.2 kernels) */
	char kernel[65];               /* uname -r */
	char sysname[65], uts_version[65], machine[65];   /* uname -s, -v, -m */
	char features_line[512];       /* what the feature probe found (-v prints it) */

	/* run and compare: the command poolscope started, and when it released
	 * it to exec (CLOCK_MONOTONIC; 0: none). Until then it waited for
	 * poolscope to attach: not the command's own time. */
	uint32_t launch_tgid;
	uint64_t launch_ns;
	/* traced processes seen listening for connections (TCP, or a unix
	 * stream socket): servers, whose blocking is waiting for clients */
	uint32_t *servers;
	uint32_t nservers;

	struct ps_thread *threads;     /* nthreads, in-progress spans closed at end_ns */
	uint32_t nthreads;
	uint64_t *thread_cpu_ns;       /* [thread * nr_cpus + cpu] */

	/* the traced processes' slots: exited threads whose slots were reused
	 * are summed in .ex (tgid 0: processes beyond the slots, together) */
	struct ps_proc *procs;
	uint32_t nprocs;

	struct ps_cpu *cpus;           /* nr_cpus, in-progress spans closed at end_ns */
	struct ps_cpu_migr *migr;      /* nr_cpus */
	struct ps_drops drops;
	uint64_t events;               /* tracepoint hits handled */

	/* Per-CPU busy time sampled at slice boundaries: slice k covers
	 * [slice_end_ns[k-1] or start_ns, slice_end_ns[k]). */
	uint32_t nslices;
	uint64_t slice_ns;             /* nominal slice length */
	uint64_t *slice_end_ns;        /* nslices */
	uint64_t *slice_busy_ns;       /* [k * nr_cpus + cpu] */
	uint64_t *slice_traced_ns;     /* [k * nr_cpus + cpu] */

	/* --locks and --stacks (empty when off) */
	bool locks, offcpu, oncpu;
	const char *futex_source;      /* "sched" or "syscall-tracepoints"; NULL: no locks */
	unsigned sample_hz;
	struct ps_stack_rec *offcpu_recs, *oncpu_recs;
	uint32_t n_offcpu, n_oncpu;
	struct ps_futex_rec *futex_recs;
	uint32_t n_futex;
	struct ps_stack *stacks;       /* every stack the records name */
	uint32_t nstacks;
	struct ps_module *modules;     /* where the stacks' frames live (symbolized) */
	uint32_t nmodules;
	struct ps_addr_name *addr_names; /* every futex word of futex_recs, once named */
	uint32_t n_addr_names;           /* sorted by (tgid, addr) */

	/* Python frames of CPython processes: the records' pystack ids name
	 * these stacks until sym/py_names.c folds them into the user stacks
	 * (then the records' ustack ids name the stacks with both) */
	bool python;                   /* taken (on, and some user stacks are) */
	struct ps_py_stats py;
	struct ps_pystack_rec *pystacks;
	uint32_t n_pystacks;
	struct ps_pycode_rec *pycodes;
	uint32_t n_pycodes;
	/* the interpreters of the traced processes (the session's) */
	uint32_t py_procs;             /* CPython processes whose frames were read */
	uint32_t py_unknown;           /* ... and of versions poolscope does not know */
	char py_versions[64];          /* "3.11", "3.11 3.12": the known ones */

	/* --timeline (the whole trace's snapshot only): the records in the
	 * order they were drained (per CPU in time order; sort by ts to merge
	 * CPUs), lost ones counted per CPU in cpus[].tl_lost, tl_over beyond
	 * poolscope's own cap */
	bool timeline;
	struct ps_tl_rec *tl;
	size_t ntl;
	uint64_t tl_over;

	/* cgroups: the hierarchy the threads' cgroup_id is of, the --cgroup
	 * subtree, and the cgroups the traced threads were in, with their
	 * files read at the window's start and end */
	int cg_kind;                   /* enum ps_cg_hier */
	char cg_mount[CG_PATH_MAX];    /* where it is mounted, "" if not */
	uint64_t cg_target;            /* --cgroup: its root's id, 0: none */
	struct ps_cgroup *cgroups;
	uint32_t ncgroups;

	/* poolscope's own cost */
	struct {
		uint64_t setup_ns;     /* from poolscope's start to tracing active */
		uint64_t detach_ns;    /* detaching and freeing the BPF objects */
		uint64_t map_bytes;    /* kernel memory of the BPF maps (memlock) */
		uint64_t peak_rss_kb;  /* poolscope's peak resident set */
		uint64_t sym_processes; /* processes whose memory maps are held */
	} timing;
};

struct ps_stack_rec { struct ps_stack_key key; struct ps_stack_val val; };

/* One cgroup of traced threads. Its counters were read at the window's
 * start (when it existed and was known then) and at its end; so were those
 * of the cgroup whose quota limits it, where the throttling is counted. */
struct ps_cgroup {
	uint64_t id;
	char path[CG_PATH_MAX];        /* within the hierarchy, "" when not found */
	bool have_start;
	struct cg_counters start, end; /* its own: usage, throttling */
	struct cg_quota quota;         /* the CPU limit in effect (quota.at sets it) */
	bool have_quota_start;
	struct cg_counters quota_start, quota_end;
	char cpuset[128];              /* effective CPUs ("0-3"), "" unknown */
	int cpuset_cpus;               /* how many, 0 unknown */
};
struct ps_futex_rec { struct ps_futex_key key; struct ps_futex_stat st; };
struct ps_pystack_rec { uint32_t id, pad; struct ps_pystack st; };
struct ps_pycode_rec { struct ps_pycode_key key; struct ps_pycode code; };

/* The code a frame lies in, for profile formats that name it (pprof's
 * mappings): a user process's executable mapping of a file, or the kernel
 * ("[kernel.kallsyms]") or one of its modules ("[ext4]"). */
struct ps_module {
	char *path;
	char *build_id;                /* lowercase hex, NULL if unknown */
	uint64_t start, end, pgoff;    /* user mappings; 0 for the kernel's */
	bool kernel;
};

/* A frame's module (index + 1 into ps_snapshot.modules, 0: none known, as
 * for anonymous or unmapped code) and whether the frame's function was
 * found (its name is a symbol, not module+offset or "[unknown]"); python:
 * a Python function, "qualname (file:line)". */
struct ps_frame {
	uint32_t module;
	bool named;
	bool python;
};

/* One captured stack: addresses leaf first, as the kernel records them, and
 * their names once symbolized. User stacks are per process (the same
 * addresses mean different code in different processes). */
struct ps_stack {
	int32_t id;
	uint32_t tgid;                 /* 0 for kernel stacks */
	bool user;
	uint32_t nframes;
	uint64_t *ips;
	char **names;                  /* nframes, NULL until symbolized */
	struct ps_frame *frames;       /* nframes, NULL until symbolized */
};

/* What one futex word of a process is, named at the end of the trace from
 * the process's memory map and symbols (sym/stack_names.c). */
struct ps_addr_name {
	uint32_t tgid;
	uint64_t addr;
	char *symbol;                  /* "_PyRuntime+0x1b0", "gil+0x28", "heap", "stack",
					* "libx.so+0x4010", or "" when unknown */
	char *lock;                    /* a lock a runtime keeps there ("CPython GIL"), or NULL */
};

/* The stack (id, tgid) of the snapshot, or NULL. */
const struct ps_stack *snapshot_stack(const struct ps_snapshot *s, int32_t id, uint32_t tgid,
				      bool user);
/* The name of futex word addr of process tgid, or NULL if never named. */
const struct ps_addr_name *snapshot_addr_name(const struct ps_snapshot *s, uint32_t tgid,
					      uint64_t addr);
/* Sort addr_names by (tgid, addr), for snapshot_addr_name. */
void snapshot_sort_addr_names(struct ps_snapshot *s);
/* The cgroup with this id, or NULL. */
const struct ps_cgroup *snapshot_cgroup(const struct ps_snapshot *s, uint64_t id);
/* The thread with this tid (the first slot that has it), or NULL. */
const struct ps_thread *snapshot_thread(const struct ps_snapshot *s, uint32_t tid);

/* Close the spans still open at end_ns: running threads get their on-CPU
 * time so far, sleeping ones their blocked time so far, each CPU its busy
 * time (threads, thread_cpu_ns and cpus must be filled). */
void snapshot_close_spans(struct ps_snapshot *s);
/* The slices from n cumulative samples (end_ns[k]; busy and traced ns per
 * CPU at [k * nr_cpus + cpu]): each slice gets the growth since the one
 * before, so the slices add up to the totals. */
void snapshot_set_slices(struct ps_snapshot *s, uint32_t n, const uint64_t *end_ns,
			 const uint64_t *cum_busy, const uint64_t *cum_traced);

/* The module of index+1 idx (a ps_frame.module), NULL for 0. */
const struct ps_module *snapshot_module(const struct ps_snapshot *s, uint32_t idx);
/* Copy src's stacks, modules and address names into dst (which has none). */
void snapshot_copy_stacks(struct ps_snapshot *dst, const struct ps_snapshot *src);

void snapshot_free(struct ps_snapshot *s);

#endif
