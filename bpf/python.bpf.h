/* bpf/python.bpf.h: the Python frames of CPython processes (targ_python).
 *
 * The loader puts each traced CPython process's layout and the address of
 * its _PyRuntime in `py_procs` (forked children inherit it here, an exec
 * drops it). A Python stack is taken with each user stack: the thread's
 * PyThreadState is found once by walking the main interpreter's thread list
 * (inside _PyRuntime) for the one whose native_thread_id is the thread's
 * tid (in its own PID namespace), and checked against it at every later
 * capture; its current
 * _PyInterpreterFrame and their `previous` links give the frames, innermost
 * first, up to PS_PY_DEPTH (a deeper stack keeps its innermost frames and
 * is counted as truncated). Each frame is its code object's address and
 * instruction index; a stack is kept in `pystacks` under a hash of the
 * process and the frames, and the first time a stack is kept its code
 * objects' names and line tables are read into `pycodes` (once per code
 * object and process), so a process that exits early is still named. Every
 * user-memory read is bpf_probe_read_user: a stale pointer or a page that
 * is not resident makes a read fail (counted), never a fault. */
#ifndef POOLSCOPE_PYTHON_BPF_H
#define POOLSCOPE_PYTHON_BPF_H

const volatile bool targ_python = false;   /* Python frames of CPython processes */
struct ps_py_stats py_stats = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_PY_PROCS);
	__type(key, __u32);
	__type(value, struct ps_py_proc);
} py_procs SEC(".maps");

/* Preallocated: an allocation at a context switch (interrupts off) fails
 * more often than not. The loader sizes them by the stacks taken. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_PYSTACKS);
	__type(key, __u32);
	__type(value, struct ps_pystack);
} pystacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_PYCODES);
	__type(key, struct ps_pycode_key);
	__type(value, struct ps_pycode);
} pycodes SEC(".maps");

/* bytes read of a frame and of a code object: past every field used */
#define PY_FRAME_BYTES 80
#define PY_CODE_BYTES 160
#define PY_STR_HEAD 48
#define PY_MAX_THREADS 512      /* thread states searched for a thread's */
#define PY_RETRY_UNITS 4        /* a thread without one is searched again after
				 * this many 2^20 ns (~4 ms): not at every switch of
				 * a thread that runs no Python, soon after one binds */
#define PY_FNV_PRIME 1099511628211ull

/* Per-CPU: the stack being taken and the reads (6.1's verifier allows a
 * call chain 512 bytes of stack). The callbacks' counters live here too,
 * not in their context on the stack (see struct scan_ctx). */
struct py_scratch {
	/* first: a masked offset into them stays inside the value */
	__u8 frame[PY_FRAME_BYTES + 8];
	__u8 obj[PY_CODE_BYTES + 8];
	struct ps_pystack st;
	struct ps_pycode code;
	__u64 at;               /* the next frame to read, or thread state to try */
	__u64 found;            /* the thread state found */
	__u64 hash;
	__u32 n;                /* frames in st so far */
	__u32 bad;              /* a read failed */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_scratch);
} py_scratch SEC(".maps");

struct py_ctx {
	struct py_scratch *sc;
	const struct ps_py_offsets *off;
	__u64 code_type;
	__u32 tid, tgid;
};

/* The u64 or byte at offset off of a buffer of py_scratch read from user
 * memory: off is masked, so a wrong offset reads a wrong value, never
 * outside the map value. */
static __always_inline __u64 buf_u64(const __u8 *buf, __u32 off)
{
	return *(const __u64 *)(buf + (off & 0xff));
}

static __always_inline __u8 buf_u8(const __u8 *buf, __u32 off)
{
	return buf[off & 0xff];
}

static __always_inline __u64 user_u64(__u64 addr)
{
	__u64 v = 0;

	if (bpf_probe_read_user(&v, sizeof(v), (void *)addr))
		return 0;
	return v;
}

/* bpf_loop callback: is thread state sc->at the thread's? */
static long py_tstate_step(__u32 i, struct py_ctx *c)
{
	struct py_scratch *sc = c->sc;
	__u64 ts = sc->at;

	if (!ts)
		return 1;
	if (user_u64(ts + c->off->ts_native_tid) == c->tid) {
		sc->found = ts;
		return 1;
	}
	sc->at = user_u64(ts + c->off->ts_next);
	return 0;
}

/* The thread's PyThreadState: the one found before while it still names
 * the thread, else searched for (again PY_RETRY_UNITS later while none is
 * found: a thread of the process that runs no Python code, or one that
 * has not bound its thread state yet). */
static __always_inline __u64 py_thread_state(struct ps_thread *th, const struct ps_py_proc *pp,
					     struct py_ctx *c)
{
	struct py_scratch *sc = c->sc;
	__u64 ts = th->py_tstate;

	__u32 now;

	if (ts) {
		if (user_u64(ts + pp->off.ts_native_tid) == c->tid)
			return ts;
		th->py_tstate = 0;
		th->py_retry = 0;
	}
	now = bpf_ktime_get_ns() >> 20;
	if (th->py_retry && (__s32)(now - th->py_retry) < 0)
		return 0;
	__sync_fetch_and_add(&py_stats.searches, 1);
	sc->at = user_u64(pp->runtime + pp->off.threads_head);
	sc->found = 0;
	bpf_loop(PY_MAX_THREADS, py_tstate_step, c, 0);
	if (!sc->found) {
		__sync_fetch_and_add(&py_stats.no_tstate, 1);
		th->py_retry = (now + PY_RETRY_UNITS) | 1; /* 0: never searched */
		return 0;
	}
	th->py_tstate = sc->found;
	th->py_retry = 0;
	return sc->found;
}

/* bpf_loop callback: frame sc->at, appended to the stack (C-stack shim
 * frames of 3.12+ are not Python code: they mark the outermost frame of the
 * eval-loop call below them). */
static long py_frame_step(__u32 i, struct py_ctx *c)
{
	struct py_scratch *sc = c->sc;
	const struct ps_py_offsets *off = c->off;
	__u64 at = sc->at, code, instr, f, lasti = 0;
	__u64 n = sc->n;

	barrier_var(n); /* a 64-bit bound for 6.1's verifier, as in hist_slot() */
	if (!at)
		return 1;
	if (n >= PS_PY_DEPTH)
		return 1; /* frames left: truncated */
	if (bpf_probe_read_user(sc->frame, PY_FRAME_BYTES, (void *)at)) {
		sc->bad = 1;
		return 1;
	}
	code = buf_u64(sc->frame, off->fr_code);
	instr = buf_u64(sc->frame, off->fr_instr);
	sc->at = buf_u64(sc->frame, off->fr_previous);
	if (buf_u8(sc->frame, off->fr_owner) == off->owner_cstack) {
		if (n)
			sc->st.frames[(n - 1) & (PS_PY_DEPTH - 1)] |= PS_PY_ENTRY;
		return 0;
	}
	if (code > PS_PY_CODE_MASK)
		code = 0; /* not a user address: an unknown frame */
	if (code && instr >= code + off->co_code)
		lasti = (instr - code - off->co_code) / 2 + 1;
	if (lasti > PS_PY_LASTI_MAX)
		lasti = 0;
	f = code | lasti << PS_PY_LASTI_SHIFT;
	if (off->fr_is_entry != PS_PY_NO_OFF && buf_u8(sc->frame, off->fr_is_entry))
		f |= PS_PY_ENTRY;
	sc->st.frames[n & (PS_PY_DEPTH - 1)] = f;
	/* FNV-1a: a product's low bits come from the factors' low bits
	 * only, so the instruction (high bits) is folded down first */
	sc->hash = (sc->hash ^ f ^ (f >> 31)) * PY_FNV_PRIME;
	sc->n = n + 1;
	return 0;
}

/* The text of str object obj into dst (cap bytes, a constant once
 * inlined): its kind (bytes a character) and length in bytes into *kindp
 * and *len, its first cap bytes into dst. */
static __always_inline int py_read_str(struct py_ctx *c, __u64 obj, __u8 *dst, __u32 cap,
				       __u32 *kindp, __u32 *len)
{
	struct py_scratch *sc = c->sc;
	const struct ps_py_offsets *off = c->off;
	__u64 n, st, kind;
	bool ascii;

	if (!obj || bpf_probe_read_user(sc->obj, PY_STR_HEAD, (void *)obj))
		return -1;
	st = buf_u64(sc->obj, off->str_state) & 0xffffffff;
	n = buf_u64(sc->obj, off->str_length);
	kind = (st >> off->str_kind_shift) & 7;
	ascii = (st >> off->str_ascii_shift) & 1;
	if (!((st >> off->str_compact_shift) & 1) || !kind || n > (1u << 20))
		return -1; /* not compact: never a code object's name */
	*kindp = ascii ? 1 : kind;
	*len = n * *kindp;
	n = *len;
	barrier_var(n);
	if (n > cap)
		n = cap;
	return bpf_probe_read_user(dst, n, (void *)(obj + (ascii ? off->str_ascii_data :
								  off->str_compact_data)));
}

/* Read code object `code` (its type checked) into sc->code. */
static __always_inline int py_read_code(struct py_ctx *c, __u64 code)
{
	struct py_scratch *sc = c->sc;
	const struct ps_py_offsets *off = c->off;
	__u64 qualname, filename, lines, n;

	if (bpf_probe_read_user(sc->obj, PY_CODE_BYTES, (void *)code))
		return -1;
	if (c->code_type && buf_u64(sc->obj, off->ob_type) != c->code_type)
		return -1;
	qualname = buf_u64(sc->obj, off->co_qualname);
	filename = buf_u64(sc->obj, off->co_filename);
	lines = buf_u64(sc->obj, off->co_linetable);
	sc->code.firstlineno = buf_u64(sc->obj, off->co_firstlineno) & 0xffffffff;
	sc->code.lines_len = 0;
	if (py_read_str(c, qualname, sc->code.qualname, sizeof(sc->code.qualname),
			&sc->code.qualname_kind, &sc->code.qualname_len) ||
	    py_read_str(c, filename, sc->code.filename, sizeof(sc->code.filename),
			&sc->code.filename_kind, &sc->code.filename_len))
		return -1;
	if (!lines || bpf_probe_read_user(sc->obj, PY_STR_HEAD, (void *)lines))
		return 0; /* no lines: each frame shows its first */
	n = buf_u64(sc->obj, off->bytes_size);
	barrier_var(n);
	if (n > PS_PY_LINES_BYTES)
		n = PS_PY_LINES_BYTES;
	if (!bpf_probe_read_user(sc->code.linetable, n, (void *)(lines + off->bytes_data)))
		sc->code.lines_len = n;
	return 0;
}

/* bpf_loop callback: the code object of frame i, recorded unless it is. */
static long py_code_step(__u32 i, struct py_ctx *c)
{
	struct py_scratch *sc = c->sc;
	struct ps_pycode_key key = { .tgid = c->tgid };
	long err;

	if (i >= sc->st.n || i >= PS_PY_DEPTH)
		return 1;
	key.code = sc->st.frames[i & (PS_PY_DEPTH - 1)] & PS_PY_CODE_MASK;
	if (!key.code || bpf_map_lookup_elem(&pycodes, &key))
		return 0;
	if (py_read_code(c, key.code)) {
		__sync_fetch_and_add(&py_stats.code_fail, 1);
		return 0;
	}
	err = bpf_map_update_elem(&pycodes, &key, &sc->code, BPF_NOEXIST);
	if (err && err != -EEXIST_)
		__sync_fetch_and_add(&py_stats.code_full, 1);
	return 0;
}

/* The id of the stack in sc: found in `pystacks`, or kept there now (with
 * its code objects). Two ids are tried, so that two stacks whose hashes
 * share the low bits both stay. */
static __always_inline __s32 py_stack_put(struct py_ctx *c)
{
	struct py_scratch *sc = c->sc;
	__u64 hash = sc->hash;
	__u32 id = ((__u32)(hash ^ hash >> 32) & (PS_PY_STACK - 1)) | PS_PY_STACK;

	for (int k = 0; k < 2; k++, id ^= 1) {
		struct ps_pystack *v = bpf_map_lookup_elem(&pystacks, &id);

		if (v) {
			if (v->hash == hash)
				return id;
			continue;
		}
		sc->st.hash = hash;
		sc->st.tgid = c->tgid;
		sc->st.n = sc->n;
		if (bpf_map_update_elem(&pystacks, &id, &sc->st, BPF_NOEXIST))
			continue;
		bpf_loop(PS_PY_DEPTH, py_code_step, c, 0);
		return id;
	}
	__sync_fetch_and_add(&py_stats.stack_full, 1);
	return PS_PY_LOST;
}

/* The Python stack of traced thread th, which is the current task: its id
 * in `pystacks`, PS_PY_NONE when its process is not a known CPython or it
 * runs no Python code now, PS_PY_LOST when not kept. A global function:
 * verified once, not at each of its callers. */
__noinline int py_stack_id(struct ps_thread *th)
{
	__u32 zero = 0, tgid;
	struct ps_py_proc *pp;
	struct py_scratch *sc;
	__u64 ts, frame;

	if (!targ_python || !th)
		return PS_PY_NONE;
	tgid = th->tgid;
	pp = bpf_map_lookup_elem(&py_procs, &tgid);
	sc = bpf_map_lookup_elem(&py_scratch, &zero);
	if (!pp || !sc)
		return PS_PY_NONE;
	/* native_thread_id is gettid() in the thread's own PID namespace (a
	 * container's) */
	struct py_ctx c = { .sc = sc, .off = &pp->off, .code_type = pp->code_type,
			    .tid = th->ns_tid ? th->ns_tid : th->tid, .tgid = tgid };
	ts = py_thread_state(th, pp, &c);
	if (!ts)
		return PS_PY_NONE;
	frame = user_u64(ts + pp->off.ts_frame);
	if (frame && pp->off.cframe_frame != PS_PY_NO_OFF)
		frame = user_u64(frame + pp->off.cframe_frame);
	if (!frame)
		return PS_PY_NONE;
	sc->at = frame;
	sc->n = 0;
	sc->bad = 0;
	sc->hash = 14695981039346656037ull ^ tgid;
	/* twice the depth: 3.12+ shim frames take an iteration each */
	bpf_loop(2 * PS_PY_DEPTH, py_frame_step, &c, 0);
	if (!sc->n)
		return PS_PY_NONE;
	sc->st.truncated = sc->at && !sc->bad;
	__sync_fetch_and_add(&py_stats.stacks, 1);
	if (sc->st.truncated)
		__sync_fetch_and_add(&py_stats.truncated, 1);
	if (sc->bad)
		__sync_fetch_and_add(&py_stats.read_fail, 1);
	return py_stack_put(&c);
}

/* A traced process forked: the child runs the parent's interpreter at the
 * same addresses. */
static __always_inline void py_fork(__u32 parent_tgid, __u32 child_tgid)
{
	struct ps_py_proc *pp;

	if (!targ_python)
		return;
	pp = bpf_map_lookup_elem(&py_procs, &parent_tgid);
	if (pp)
		bpf_map_update_elem(&py_procs, &child_tgid, pp, BPF_ANY);
}

/* A traced process exec'd: whatever it runs now, the loader tells again. */
static __always_inline void py_exec(__u32 tgid)
{
	if (targ_python)
		bpf_map_delete_elem(&py_procs, &tgid);
}
#endif
