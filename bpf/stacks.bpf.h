/* bpf/stacks.bpf.h: stacks: ids from the stack map (with a second map for
 * stacks whose bucket is taken), per-(thread, stack) aggregates, the
 * recovery of user frames above libraries built without frame pointers, and
 * the off-CPU capture at a switch-out. */
#ifndef POOLSCOPE_STACKS_BPF_H
#define POOLSCOPE_STACKS_BPF_H

/* "no stack captured yet", unlike the negative errors bpf_get_stackid gives */
#define PS_NO_STACK (-100000)

/* Add `value` to the (thread, stacks) aggregate `key` of map `agg`;
 * a full map is counted in *full. */
static __always_inline void stack_add(void *agg, struct ps_stack_key *key, __u64 value,
				      __u64 *full)
{
	struct ps_stack_val zero = {}, *v = lookup_or_init(agg, key, &zero, full);

	if (!v)
		return;
	__sync_fetch_and_add(&v->value, value);
	__sync_fetch_and_add(&v->count, 1);
}
struct hash_ctx {
	struct ps_ustack *st;
	__u64 hash;
};

/* bpf_loop callback: FNV-1a step over address i (a loop the verifier
 * checks once, not once per iteration: it keeps program loads fast) */
static long hash_ip(__u32 i, struct hash_ctx *c)
{
	if (i >= PS_STACK_DEPTH)
		return 1;
	c->hash = (c->hash ^ c->st->ips[i]) * 16777619u;
	return 0;
}

/* FNV-1a over the first n addresses: the id of a stack kept in `ustacks`. */
static __always_inline __s32 ustacks_put(struct ps_ustack *st, __u32 n)
{
	struct hash_ctx c = { .st = st, .hash = 2166136261u };
	__u64 hash;
	__u32 id;

	if (n > PS_STACK_DEPTH)
		n = PS_STACK_DEPTH;
	bpf_loop(n, hash_ip, &c, 0);
	hash = c.hash;
	__u64 end = n;
	barrier_var(end); /* a 64-bit bound for 6.1's verifier, as in hist_slot() */
	if (end < PS_STACK_DEPTH)
		st->ips[end] = 0; /* readers stop at the first 0 */
	id = ((__u32)hash & (PS_RECOVERED_STACK - 1)) | PS_RECOVERED_STACK;
	if (bpf_map_update_elem(&ustacks, &id, st, BPF_ANY))
		return -1;
	return id;
}

/* The stack map's buckets are its hash: another stack in the same bucket
 * makes bpf_get_stackid fail (-EEXIST) every time this stack is seen. Keep
 * such a stack in `ustacks` under its own hash instead. */
static __noinline __s32 stack_fallback(void *ctx, __u64 flags)
{
	__u32 zero = 0;
	struct ps_scratch *sc = bpf_map_lookup_elem(&scratch, &zero);
	long bytes;

	if (!sc)
		return -1;
	bytes = bpf_get_stack(ctx, sc->st.ips, sizeof(sc->st.ips), flags);
	if (bytes <= 0)
		return -1;
	return ustacks_put(&sc->st, bytes / 8);
}

/* A stack id, or a negative error. -EFAULT means there was no stack to take
 * (no user context: an exiting task); any other failure loses a stack and is
 * counted. */
static __always_inline __s32 stack_id(void *ctx, __u64 flags)
{
	long id = bpf_get_stackid(ctx, &stacks, flags);

	if (id == -EEXIST_)
		id = stack_fallback(ctx, flags);
	if (id < 0 && id != -EFAULT_)
		__sync_fetch_and_add(&drops.stack_fail, 1);
	return id;
}
/* ---- user stacks through libraries built without frame pointers ----
 *
 * glibc is built without frame pointers, so a frame-pointer walk that starts
 * in a syscall wrapper (futex wait, cond wait) usually stops after the leaf:
 * the program's own frames above it are lost. When the walk yields fewer
 * than 3 frames, scan the first PS_SCAN_WORDS words of the user stack (as
 * far as it is mapped): the
 * first word pointing into the main executable's text is the return address
 * into the program function that called the library (e.g. a lock's
 * acquire function); the first word that looks like a saved frame pointer
 * (points a little further up the stack, with a return address into the
 * executable's text above it) resumes the frame-pointer walk from the
 * program's frames. The heuristic can pick a stale return address or a
 * code pointer stored on the stack; it only runs for futex calls and only
 * when the walk failed. */
static __always_inline bool in_text(__u64 a, __u64 start, __u64 end)
{
	return a >= start && a < end;
}


/* bpf_loop's context lives on the stack, which 6.1's verifier caps at 512
 * bytes for a call chain: the candidates stay in the per-CPU scratch. So
 * does the candidate count: a bounded counter on the stack would make the
 * verifier (6.7+, which repeats a callback until its states converge) pass
 * over scan_word once per value, ten times the load time. */
struct scan_ctx {
	struct ps_scratch *sc;
	__u64 sp, start, end;
	__u64 first_ret;
};

/* bpf_loop callback: word i of the scanned user stack. Only arithmetic here
 * (candidates are checked after the loop), so the verifier's pass over it
 * stays short and program loads stay fast. */
static long scan_word(__u32 i, struct scan_ctx *c)
{
	struct ps_scratch *sc = c->sc;
	__u64 w;
	__u32 k = sc->ncand;

	if (i >= PS_SCAN_WORDS || i >= sc->nwords)
		return 1;
	w = sc->words[i];
	if (!sc->first_ret && in_text(w, c->start, c->end))
		sc->first_ret = w;
	else if (k < SCAN_CANDIDATES && w > c->sp + i * 8 && w < c->sp + 65536 && !(w & 7)) {
		/* a masked index needs no exact bounds */
		sc->cand[k & (SCAN_CANDIDATES - 1)] = w;
		sc->ncand = k + 1;
	}
	return sc->first_ret && sc->ncand >= SCAN_CANDIDATES;
}

/* bpf_loop callback: candidate k is the saved frame pointer when the word
 * above it is a return address into the executable. */
static long check_cand(__u32 k, struct scan_ctx *c)
{
	__u64 w = c->sc->cand[k & (SCAN_CANDIDATES - 1)], ret;

	if (bpf_probe_read_user(&ret, sizeof(ret), (void *)(w + 8)) || !in_text(ret, c->start, c->end))
		return 0;
	c->sc->fp = w;
	return 1;
}

/* bpf_loop callback: one step of the frame-pointer walk from sc->fp. */
static long walk_frame(__u32 i, struct scan_ctx *c)
{
	struct ps_scratch *sc = c->sc;
	__u64 frame[2], fp = sc->fp;
	__u64 n = sc->n;

	barrier_var(n);
	if (!fp || n >= PS_STACK_DEPTH)
		return 1;
	if (bpf_probe_read_user(frame, sizeof(frame), (void *)fp) || !frame[1])
		return 1;
	if (frame[1] != c->first_ret) {
		sc->st.ips[n] = frame[1];
		sc->n = n + 1;
	}
	sc->fp = frame[0] > fp ? frame[0] : 0;
	return 0;
}

/* bpf_loop callback: chunk k of the scanned words. A read that would run
 * past the end of the stack's mapping fails whole, so the stack is read a
 * chunk at a time and the scan covers the chunks that could be read. */
static long read_chunk(__u32 k, struct scan_ctx *c)
{
	struct ps_scratch *sc = c->sc;
	__u32 at = k * PS_SCAN_CHUNK;

	if (at + PS_SCAN_CHUNK > PS_SCAN_WORDS ||
	    bpf_probe_read_user(&sc->words[at & (PS_SCAN_WORDS - PS_SCAN_CHUNK)], PS_SCAN_CHUNK * 8,
				(void *)(c->sp + at * 8)))
		return 1;
	sc->nwords = at + PS_SCAN_CHUNK;
	return 0;
}

static __noinline __s32 ustack_recover(void *ctx, struct ps_scratch *sc, __u32 depth)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	struct scan_ctx c = { .sc = sc };

	if (!regs || depth == 0 || depth >= PS_STACK_DEPTH)
		return -1;
	c.sp = BPF_CORE_READ(regs, sp);
	c.start = BPF_CORE_READ(task, mm, start_code);
	c.end = BPF_CORE_READ(task, mm, end_code);
	sc->nwords = 0;
	bpf_loop(PS_SCAN_WORDS / PS_SCAN_CHUNK, read_chunk, &c, 0);
	if (!sc->nwords)
		return -1;
	sc->ncand = 0;
	sc->first_ret = 0;
	sc->fp = 0;
	bpf_loop(PS_SCAN_WORDS, scan_word, &c, 0);
	c.first_ret = sc->first_ret;
	if (!c.first_ret)
		return -1;
	__u64 at = depth;
	barrier_var(at);
	if (at >= PS_STACK_DEPTH)
		return -1;
	/* the first candidate with a return address into the executable above it */
	bpf_loop(sc->ncand < SCAN_CANDIDATES ? sc->ncand : SCAN_CANDIDATES, check_cand, &c, 0);
	sc->st.ips[at] = c.first_ret;
	sc->n = at + 1;
	bpf_loop(32, walk_frame, &c, 0);
	return ustacks_put(&sc->st, sc->n);
}

/* The user stack of the current task, recovered past frame-pointer-less
 * library frames when the plain walk is too short. */
static __noinline __s32 ustack_id(void *ctx)
{
	__u32 zero = 0;
	struct ps_scratch *sc = bpf_map_lookup_elem(&scratch, &zero);
	long bytes;

	if (!sc)
		return stack_id(ctx, BPF_F_USER_STACK);
	bytes = bpf_get_stack(ctx, sc->st.ips, sizeof(sc->st.ips), BPF_F_USER_STACK);
	if (bytes >= 3 * 8 || bytes < 0) {
		__s32 id = stack_id(ctx, BPF_F_USER_STACK);
		return id;
	}
	__s32 id = ustack_recover(ctx, sc, bytes / 8);
	return id >= 0 ? id : stack_id(ctx, BPF_F_USER_STACK);
}
/* Off-CPU stacks at a switch-out. Walking two stacks costs ~2 us, and a
 * thread that blocks again and again (a pipe, a queue, a lock) leaves the CPU
 * from the same few places: when its user ip, user sp, syscall and the kind
 * of switch (blocked or preempted) are those of one of its last two
 * switch-out sites, the stacks captured there are reused; every
 * OFFCPU_RECAPTURE-th time they are walked again. The error this allows: a different kernel path (or
 * caller above an identical frame) from the very same user instruction and
 * stack depth is credited to the cached stacks until the next recapture. */
#define OFFCPU_RECAPTURE 16

static __always_inline void offcpu_capture(void *ctx, struct ps_thread *pt, struct task_struct *prev,
					   bool runnable, __u64 now, bool btf)
{
	__u64 site = 0;
	__u32 e;

	pt->off_start = now;
	/* always walked: Python calls do not move the C stack (3.11+), so
	 * one user site can be any of many Python stacks */
	pt->off_pystack = py_stack_id(pt);
	if (btf) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(prev);

		if (regs) {
			site = PT_REGS_IP(regs) ^ (PT_REGS_SP(regs) << 7) ^
			       ((__u64)PS_REGS_SYSCALL_NR(regs) << 47) ^ runnable;
			for (e = 0; e < 2; e++) {
				if (pt->off_site[e] != site || pt->off_cached_u[e] == -1)
					continue;
				if (++pt->off_reused[e] >= OFFCPU_RECAPTURE)
					break; /* due: walk it again into this entry */
				pt->off_ustack = pt->off_cached_u[e];
				pt->off_kstack = pt->off_cached_k[e];
				return;
			}
		}
	}
	/* prev is still current: these are its stacks (the user stack
	 * recovered past frame-pointer-less libraries: glibc) */
	pt->off_ustack = ustack_id(ctx);
	pt->off_kstack = stack_id(ctx, 0);
	if (!site)
		return;
	if (pt->off_site[0] == site)
		e = 0;
	else if (pt->off_site[1] == site)
		e = 1;
	else {
		e = pt->off_victim & 1;   /* a new site replaces the older entry */
		pt->off_victim = e ^ 1;
	}
	pt->off_site[e & 1] = site;
	pt->off_cached_u[e & 1] = pt->off_ustack;
	pt->off_cached_k[e & 1] = pt->off_kstack;
	pt->off_reused[e & 1] = 0;
}
#endif
