/* bpf/poolscope.h: the contract between poolscope's BPF programs and its
 * loader. Every struct that crosses the kernel/user boundary is declared here,
 * once, with fixed-width __u32/__u64 fields only. */
#ifndef POOLSCOPE_H
#define POOLSCOPE_H

#define PS_COMM_LEN 16
/* Log2 histogram of nanoseconds: slot i counts values in [2^i, 2^(i+1)),
 * slot 0 also counts 0; the last slot takes everything larger. */
#define PS_HIST_SLOTS 40
#define PS_DEFAULT_MAX_THREADS 8192
/* entries of the per-thread x CPU on-CPU array at most (32 MiB) */
#define PS_MAX_THREAD_CPU (1u << 22)
#define PS_MAX_TGIDS 4096
#define PS_NO_SLOT 0xffffffffu
#define PS_STACK_DEPTH 127
#define PS_MAX_STACKS 8192        /* distinct stacks (stack map entries) */
#define PS_MAX_STACK_KEYS 16384   /* (thread, stack) aggregates per kind */
#define PS_MAX_FUTEX_KEYS 4096    /* (process, futex, waiter stack) aggregates */
/* Stacks with ids with this bit set live in the `ustacks` map, not the stack
 * map: user stacks recovered by scanning (see ustack_recover in the BPF code)
 * and stacks whose stack-map bucket was taken by another stack. */
#define PS_RECOVERED_STACK 0x40000000
#define PS_SCAN_WORDS 256         /* user stack words scanned for frames (2 KiB) */
#define PS_SCAN_CHUNK 32          /* words read at a time: a read stops at the stack's end */
/* --timeline: the ring buffer's default size, and the records poolscope
 * keeps at most (~100 bytes each) */
#define PS_TIMELINE_BYTES (16u << 20)
#define PS_TIMELINE_MAX_RECORDS (4u << 20)

/* Per-task storage: which slot of the `threads` array a task owns. Untraced
 * tasks get an entry too (traced = 0, slot PS_NO_SLOT unless it was traced
 * before) so they are classified only once; with --cgroup a cgroup move
 * anywhere bumps cg_epoch and an entry of an older epoch is decided again. */
struct ps_task {
	__u32 slot;
	__u32 traced;
	__u32 epoch;
	__u32 pad;
};

/* The cgroup hierarchy poolscope follows (--cgroup, and each thread's
 * cgroup id): v2's, or the v1 hierarchy of one controller. The BPF side
 * maps a controller to its index in css_set.subsys[] through BTF. */
enum ps_cg_hier {
	PS_CG_V2 = 0,
	PS_CG_CPU,
	PS_CG_CPUACCT,
	PS_CG_CPUSET,
	PS_CG_MEMORY,
	PS_CG_PIDS,
	PS_CG_BLKIO,
	PS_CG_DEVICES,
	PS_CG_FREEZER,
	PS_CG_NET_CLS,
	PS_CG_PERF_EVENT,
	PS_CG_NET_PRIO,
	PS_CG_HUGETLB,
	PS_CG_NKINDS,
};

enum ps_thread_flags {
	PS_THREAD_EXITED = 1,     /* sched_process_exit seen */
	PS_THREAD_FORKED = 2,     /* created while traced (seen at fork) */
	PS_THREAD_EXECED = 4,     /* exec'd while traced */
	PS_THREAD_ENTERED = 8,    /* traced from a later point of its life: moved
				   * into the cgroup, or exec'd to the name */
	PS_THREAD_LEFT = 16,      /* no longer traced though alive (exit_ns: since
				   * then): moved out, or exec'd to another name */
};

/* One traced thread; lives in the `threads` array at its slot, and stays there
 * after the thread exits until the loader reads it. */
struct ps_thread {
	__u32 tid;
	__u32 tgid;
	__u32 parent_tid;     /* the thread that forked it, 0 if seen running */
	__u32 flags;          /* enum ps_thread_flags */
	char comm[PS_COMM_LEN];
	/* tid and tgid are the initial PID namespace's (the kernel's keys); the
	 * same ids in the task's own namespace and in poolscope's (what
	 * poolscope's user sees: 0 when the task is outside it) */
	__u32 ns_tid;
	__u32 ns_pid;
	__u32 ns_level;       /* depth of its namespace, 0: the initial one */
	__u32 view_tid;
	__u32 view_pid;
	__u32 pad0;
	__u64 cgroup_id;      /* its cgroup in the followed hierarchy (kernfs id) */
	__u64 first_ns;       /* first seen (fork, or first event) */
	__u64 exit_ns;        /* sched_process_exit, 0 while alive */
	/* state: at most one of these is non-zero at a time */
	__u64 oncpu_since;    /* switched in at */
	__u64 runnable_since; /* woken or preempted at, waiting for a CPU */
	__u64 blocked_since;  /* switched out not runnable at */
	__u32 cpu;            /* CPU it last ran on */
	__u32 proc;           /* its process's slot in `procs`, PS_NO_SLOT if none */
	/* counters */
	__u64 oncpu_ns;
	__u64 blocked_ns;     /* off-CPU, not runnable (sleeping/blocked) */
	__u64 runq_wait_ns;   /* runnable but not running */
	__u64 runq_max_ns;
	__u64 runq_count;
	__u64 vol;            /* voluntary switches (nvcsw) */
	__u64 invol;          /* involuntary switches (nivcsw) */
	__u64 migrations;
	__u64 wakeups;
	__u32 runq_hist[PS_HIST_SLOTS];
	/* a futex wait in progress (--locks) */
	__u64 fx_uaddr;
	__u64 fx_start;       /* blocked at, 0 if none */
	__u64 fx_busy0;       /* its process's active ns (ps_proc) then */
	__u64 fx_deadline;    /* CLOCK_MONOTONIC ns its timeout expires, 0: none */
	__u64 fx_run_start;   /* the run it blocked at the end of began then */
	__s32 fx_ustack;      /* waiter's user stack id */
	/* the last time a traced thread's futex wake woke it */
	__s32 wk_ustack;      /* the waker's user stack */
	__u64 wk_ns;
	__u64 wk_active_since; /* the waker was active since (0: it was not) */
	__u32 wk_slot;        /* the waker's thread slot */
	__u32 wk_tid;         /* the waker's thread id */
	/* off-CPU stack captured at the last switch-out (--stacks offcpu) */
	__s32 off_ustack;
	__s32 off_kstack;
	__u64 off_start;
	/* the stacks of the last two places it left the CPU from (user ip, sp,
	 * syscall, kind): a ping-pong thread alternates between two */
	__u64 off_site[2];
	__s32 off_cached_u[2];
	__s32 off_cached_k[2];
	__u32 off_reused[2];  /* switch-outs since that entry was captured */
	__u32 off_victim;     /* the entry to replace next */
	__u32 pad2;
	/* active (running or runnable, not blocked) since, 0 when blocked; kept
	 * with --locks as evidence of whether a lock's holder was busy */
	__u64 active_since;
	/* CPython processes (python.bpf.h): the thread's PyThreadState once
	 * found, and the Python stacks taken with the user stacks above */
	__u64 py_tstate;
	__u32 py_retry;       /* none found: search again from then (ns >> 20) */
	__s32 off_pystack;    /* with off_ustack */
	__s32 fx_pystack;     /* with fx_ustack */
	__s32 wk_pystack;     /* with wk_ustack */
};

/* A traced process: its threads' active (running or runnable) time so far
 * is active_acc + active * now - since_sum. Lets a futex wait measure how busy
 * the rest of the process was while it waited. Fields are updated with
 * atomics, read racily. */
struct ps_proc {
	__u64 active_acc;
	__u64 since_sum;
	__s64 active;
	__u32 tgid;
	__u32 pad;
	/* Threads of the process that exited and whose slots were reused
	 * (thread slots run out on a box that starts many short-lived
	 * threads): their counters, summed, so nothing is lost. The per-CPU
	 * split of their on-CPU time is not kept. */
	struct ps_exited {
		__u64 threads;
		__u64 life_ns;        /* their lifetimes within the window, summed */
		__u64 oncpu_ns, blocked_ns, runq_wait_ns, runq_count, runq_max_ns;
		__u64 vol, invol, migrations, wakeups;
		__u64 cgroup_id;      /* the last one's cgroup */
		__u32 runq_hist[PS_HIST_SLOTS];
	} ex;
};
/* The counters a thread and its process's exited-threads total share, for
 * code that treats them alike: X(field) for each (runq_max_ns and
 * runq_hist are not sums, so they are apart). */
#define PS_THREAD_SUMS(X) X(oncpu_ns) X(blocked_ns) X(runq_wait_ns) X(runq_count) X(vol) \
	X(invol) X(migrations) X(wakeups)

/* Processes beyond the `procs` slots share the last one. */
#define PS_OTHER_PROC (PS_MAX_TGIDS - 1)

/* Futex wait aggregate, keyed by (thread, futex address, waiter stack). */
struct ps_futex_key {
	__u32 tgid;
	__u32 pid;
	__s32 ustack;
	__s32 pystack;        /* the waiter's Python stack, PS_PY_NONE if none */
	__u64 uaddr;
};

struct ps_futex_stat {
	__u64 waits;          /* blocking waits that blocked (woken, timed out, interrupted) */
	__u64 wait_ns;        /* time blocked in them */
	__u64 max_ns;
	__u64 busy_ns;        /* of wait_ns, the time the waited-for side was busy: the
			       * waker was active (running or runnable) during the
			       * wait, or (no traced waker) other threads of the
			       * process were, capped at the wait */
	__u64 proc_busy_ns;   /* of wait_ns, the time other threads of the process were
			       * active, whoever woke the waiter */
	__u64 timeouts;       /* of the waits: -ETIMEDOUT */
	__u64 interrupted;    /* of the waits: -EINTR */
	__u64 eagain;         /* not waits: -EAGAIN, the value had changed (syscall
			       * tracepoints only: such a call never blocks) */
	__u64 woken_by_traced;/* woken right after a traced thread's wake on this futex */
	__u64 asleep_ns;      /* of wait_ns, the time until the wakeup: the rest was
			       * spent runnable, waiting for a CPU (run-queue time) */
	__u64 peers_ns;       /* the other threads of the process active (running or
			       * runnable) during the waits, summed over them, not
			       * capped: / wait_ns, how many were active meanwhile */
	__s32 waker_ustack;   /* the last such waker's user stack */
	__s32 waker_pystack;  /* ... and its Python stack */
	__u32 wakers[2];      /* the last two distinct such wakers' thread ids, the
			       * latest first: who the waiters waited for */
	__u32 hist[PS_HIST_SLOTS];
};

/* Off-CPU time and on-CPU samples by thread and stack. */
struct ps_stack_key {
	__u32 tgid;
	__u32 pid;
	__s32 ustack;         /* negative: no stack (error from bpf_get_stackid) */
	__s32 kstack;
	__s32 pystack;        /* Python stack (`pystacks`), PS_PY_NONE if none */
	__u32 pad;
};

struct ps_stack_val {
	__u64 value;          /* off-CPU ns, or on-CPU samples */
	__u64 count;          /* off-CPU periods, or samples */
};

enum ps_cpu_kind {
	PS_CPU_UNKNOWN = 0,   /* no switch seen on this CPU yet */
	PS_CPU_IDLE = 1,
	PS_CPU_TRACED = 2,
	PS_CPU_OTHER = 3,
};

/* Per-CPU state and counters (a PERCPU_ARRAY of one element). Busy time counts
 * completed spans only; the span in progress is [since_ns, now) of kind cur. */
struct ps_cpu {
	__u64 since_ns;       /* current task got this CPU at */
	__u32 cur;            /* enum ps_cpu_kind of the current task */
	__u32 cur_slot;       /* its thread slot when cur == PS_CPU_TRACED */
	__u64 busy_ns;        /* any non-idle task */
	__u64 traced_ns;      /* traced tasks only */
	__u64 switches;       /* switches out of a traced task */
	__u64 vol;
	__u64 invol;
	__u64 all_switches;   /* every sched_switch on this CPU */
	__u64 runq_count;
	__u64 runq_sum_ns;
	__u64 runq_max_ns;
	__u64 runq_hist[PS_HIST_SLOTS];
	__u64 tl_records;     /* --timeline: records written on this CPU */
	__u64 tl_lost;        /* ... and lost: the ring buffer was full */
};

/* --timeline: what happened, in order, one record per event, through a
 * BPF ring buffer. Times are CLOCK_BOOTTIME (bpf_ktime_get_boot_ns), the
 * clock Perfetto's traces use. */
enum ps_tl_kind {
	PS_TL_SWITCH = 1,     /* pid/tgid/prio/comm: prev, *2: next; state: prev's, as ftrace
			       * reports it (TASK_REPORT bits; 0x100 "R+" when preempted) */
	PS_TL_WAKING,         /* pid: the woken task (traced), pid2: the waker; arg: its CPU */
	PS_TL_WAKEUP_NEW,     /* pid: the new task (traced); arg: its CPU */
	PS_TL_MIGRATE,        /* pid: the task (traced); arg: the CPU it moves to */
	PS_TL_FORK,           /* pid: the parent, pid2: the child (traced) */
	PS_TL_EXEC,           /* pid (traced); comm: its new name */
	PS_TL_EXIT,           /* pid (traced) */
	PS_TL_FUTEX_BEGIN,    /* pid (traced) blocks in a futex wait; arg: the futex address */
	PS_TL_FUTEX_END,      /* pid's wait ends; arg: the address, state: 0 woken, 1 timed
			       * out, 2 interrupted, 3 other */
};

struct ps_tl_rec {
	__u64 ts;
	__u16 kind;           /* enum ps_tl_kind */
	__u16 cpu;
	__u32 pid, tgid;
	__u32 pid2, tgid2;
	__s32 prio, prio2;
	__u32 pad;
	__s64 state;
	__u64 arg;
	char comm[PS_COMM_LEN], comm2[PS_COMM_LEN];
};

/* Migrations of traced threads, per CPU (an ARRAY indexed by CPU). */
struct ps_cpu_migr {
	__u64 in;
	__u64 out;
};

/* Failures, counted in the kernel and reported: nothing is lost silently. */
struct ps_drops {
	__u64 no_slot_threads;  /* traced threads beyond max_threads */
	__u64 no_slot_events;   /* events of those threads */
	__u64 storage_fail;     /* task storage could not be created */
	__u64 tgid_full;        /* traced_tgids full: a forked process not added */
	__u64 proc_full;        /* processes beyond PS_MAX_TGIDS - 1: they share one
				 * slot (mixed busy evidence, one exited total) */
	__u64 stack_fail;       /* a stack could not be captured (map full, collision) */
	__u64 offcpu_full;      /* off-CPU aggregates not recorded: map full */
	__u64 oncpu_full;       /* on-CPU samples not recorded: map full */
	__u64 futex_full;       /* futex waits/wakes not recorded: map full */
	__u64 slot_queue_full;  /* a dead thread's slot not queued for reuse */
};

/* ---- CPython frames (python.bpf.h) ----
 *
 * For a traced CPython process the loader puts the interpreter's layout
 * (the version's offsets, from user/sym/cpython.c) and the address of its
 * _PyRuntime in `py_procs`; the programs then walk the thread's frames
 * (PyThreadState -> _PyInterpreterFrame -> previous) at each stack they
 * take, and record each code object's names and line table once. */
#define PS_PY_DEPTH 64            /* frames kept, from the innermost (a power of 2) */
#define PS_PY_STACK 0x20000000    /* Python stack ids have this bit */
#define PS_PY_NONE (-1)           /* no Python stack: not a Python thread, no frame */
#define PS_PY_LOST (-2)           /* a Python stack not kept (counted) */
#define PS_MAX_PY_PROCS 1024
#define PS_MAX_PYSTACKS 4096       /* with --stacks; a quarter with --locks only */
#define PS_MAX_PYCODES 2048
#define PS_PY_NO_OFF 0xffff       /* an offset the version does not have */
/* One frame of a Python stack: the code object's address, the instruction
 * it is at (index + 1; 0: unknown) and whether it is the outermost frame of
 * one call of the eval loop (_PyEval_EvalFrameDefault) */
#define PS_PY_CODE_MASK ((1ull << 47) - 1)
#define PS_PY_LASTI_SHIFT 47
#define PS_PY_LASTI_MAX 0xffff
#define PS_PY_ENTRY (1ull << 63)

/* What the programs read of an interpreter, as byte offsets: X(field) for
 * each, for code that treats them alike (the layout table and its test). */
#define PS_PY_OFFSETS(X) \
	X(threads_head)   /* _PyRuntime._main_interpreter.threads.head */ \
	X(ts_next)        /* PyThreadState.next */ \
	X(ts_native_tid)  /* PyThreadState.native_thread_id */ \
	X(ts_frame)       /* PyThreadState.current_frame (3.13), .cframe (3.11, 3.12) */ \
	X(cframe_frame)   /* _PyCFrame.current_frame; PS_PY_NO_OFF from 3.13 */ \
	X(fr_code)        /* _PyInterpreterFrame.f_code (.f_executable in 3.13) */ \
	X(fr_previous) \
	X(fr_instr)       /* .prev_instr (.instr_ptr in 3.13) */ \
	X(fr_owner) \
	X(fr_is_entry)    /* 3.11's is_entry; PS_PY_NO_OFF from 3.12 */ \
	X(fr_size)        /* the bytes before localsplus */ \
	X(owner_cstack)   /* FRAME_OWNED_BY_CSTACK (3.12+), PS_PY_NO_OFF before */ \
	X(ob_type)        /* PyObject.ob_type */ \
	X(co_filename) X(co_qualname) X(co_firstlineno) X(co_linetable) \
	X(co_code)        /* PyCodeObject.co_code_adaptive: the instructions */ \
	X(str_length)     /* PyASCIIObject.length */ \
	X(str_state) \
	X(str_ascii_data) /* sizeof(PyASCIIObject): a compact ASCII string's text */ \
	X(str_compact_data) /* sizeof(PyCompactUnicodeObject): other compact text */ \
	X(str_kind_shift) X(str_compact_shift) X(str_ascii_shift) /* bits of state */ \
	X(bytes_size)     /* PyBytesObject.ob_base.ob_size */ \
	X(bytes_data)     /* PyBytesObject.ob_sval */

#define PS_PY_OFFSET_FIELD(f) __u32 f;
struct ps_py_offsets {
	PS_PY_OFFSETS(PS_PY_OFFSET_FIELD)
};
#undef PS_PY_OFFSET_FIELD

/* A CPython process (py_procs, by tgid), filled by the loader. */
struct ps_py_proc {
	__u64 runtime;        /* the address of _PyRuntime */
	__u64 code_type;      /* of PyCode_Type: a frame's code object has this type */
	struct ps_py_offsets off;
};

/* A Python stack (pystacks, by id): frames innermost first. */
struct ps_pystack {
	__u64 hash;           /* of the process and the frames: tells colliding ids apart */
	__u32 tgid;
	__u16 n;              /* frames */
	__u16 truncated;      /* more (outer) frames were there */
	__u64 frames[PS_PY_DEPTH];
};

/* A code object's names and line table (pycodes), read once at its first
 * sighting, so that a process that exits still has them. Strings are
 * stored as CPython keeps them (1, 2 or 4 bytes a character: the kind),
 * their first bytes only. */
#define PS_PY_NAME_BYTES 96
#define PS_PY_FILE_BYTES 192
#define PS_PY_LINES_BYTES 1024
struct ps_pycode_key {
	__u32 tgid;
	__u32 pad;
	__u64 code;
};

struct ps_pycode {
	__s32 firstlineno;
	__u32 qualname_kind, filename_kind;    /* bytes a character: 1, 2 or 4 */
	__u32 qualname_len, filename_len;      /* the text's bytes (the first kept) */
	__u32 lines_len;                       /* co_linetable's bytes (the first kept) */
	__u8 qualname[PS_PY_NAME_BYTES];
	__u8 filename[PS_PY_FILE_BYTES];
	__u8 linetable[PS_PY_LINES_BYTES];
};

/* Python frame counters: what was taken, and what was lost, never silently. */
struct ps_py_stats {
	__u64 stacks;         /* Python stacks taken (samples, switch-outs, wakes) */
	__u64 truncated;      /* ... cut at PS_PY_DEPTH frames: the outermost lost */
	__u64 read_fail;      /* ... cut where a frame could not be read */
	__u64 stack_full;     /* new stacks not kept: pystacks full, or taken ids */
	__u64 code_fail;      /* code objects not recorded: unreadable or not code */
	__u64 code_full;      /* ... pycodes full */
	__u64 searches;       /* walks of the thread-state list */
	__u64 no_tstate;      /* ... that found no thread state for the thread */
};

#endif
