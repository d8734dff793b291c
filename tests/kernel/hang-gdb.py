# tests/kernel/hang-gdb.py: what every vCPU of a hung kernel-test guest is
# doing, read through QEMU's gdb stub (sourced by tests/kernel/hang-capture.sh
# with `gdb -batch -x`). Attaching stops all vCPUs, so this is one consistent
# picture of both CPUs, interrupts off or not.
#
# With the guest's debug vmlinux loaded (linux-image-*-dbg, booted with
# nokaslr so its addresses match): per CPU the registers, gdb's backtrace
# with arguments, the current task, preempt count, the run-queue lock, the
# pending IPIs (call_single_queue), a raw stack scan symbolized with the
# kernel's symbols and the JITed BPF programs' names (read from the guest's
# bpf_kallsyms list), and then the locals of the frames that hold locks.
# Without it (env KT_SYSMAP=System.map): registers and the raw stack scan,
# symbolized with System.map; BPF programs show as "bpf/module area".
import bisect
import os
import re

import gdb

HAVE_SYMS = os.environ.get("KT_HAVE_VMLINUX") == "1"
SYSMAP = os.environ.get("KT_SYSMAP", "")
SCAN_WORDS = int(os.environ.get("KT_SCAN_WORDS", "768"))


def out(s=""):
    gdb.write(s + "\n")
    gdb.flush()


def run(cmd):
    try:
        return gdb.execute(cmd, to_string=True)
    except gdb.error as e:
        return "(%s: %s)\n" % (cmd, e)


# ---- symbols: System.map (no vmlinux) or gdb's, plus BPF programs ----
_map_addrs, _map_names = [], []
if not HAVE_SYMS and SYSMAP and os.path.exists(SYSMAP):
    rows = []
    with open(SYSMAP) as f:
        for line in f:
            p = line.split()
            if len(p) >= 3 and p[1] in "tTwW":
                rows.append((int(p[0], 16), p[2]))
    rows.sort()
    _etext = [a for a, n in rows if n == "_etext"]
    _map_addrs = [a for a, _ in rows]
    _map_names = [n for _, n in rows]

TEXT_LO, TEXT_HI = 0xFFFFFFFF81000000, 0xFFFFFFFF83000000  # nokaslr kernel text
if _map_addrs and _etext:
    TEXT_HI = _etext[0]  # System.map: past _etext is data, not return addresses
MOD_LO, MOD_HI = 0xFFFFFFFFA0000000, 0xFFFFFFFFFF000000  # modules and BPF JIT

bpf_syms = []  # (start, end, name)


def load_bpf_ksyms():
    """The JITed BPF programs (and trampolines/dispatchers) the guest knows."""
    if not HAVE_SYMS:
        return
    try:
        head = gdb.parse_and_eval("&bpf_kallsyms")
        ksym_t = gdb.lookup_type("struct bpf_ksym")
        off = None
        for f in ksym_t.fields():
            if f.name == "lnode":
                off = f.bitpos // 8
        node = head["next"]
        n = 0
        while int(node) != int(head) and n < 4096:
            k = (node.cast(gdb.lookup_type("char").pointer()) - off).cast(ksym_t.pointer())
            bpf_syms.append((int(k["start"]), int(k["end"]), k["name"].string()))
            node = node["next"]
            n += 1
    except gdb.error as e:
        out("(bpf_kallsyms not readable: %s)" % e)


def sym(a):
    for s, e, n in bpf_syms:
        if s <= a < e:
            return "%s+0x%x [bpf]" % (n, a - s)
    if HAVE_SYMS:
        r = run("info symbol 0x%x" % a).strip()
        if r.startswith("No symbol") or r.startswith("("):
            return None
        m = re.match(r"(\S+)(?: \+ (\d+))? in section (\S+)", r)
        if m:
            if re.match(r"\.(data|bss|rodata|init\.data)|__", m.group(3)):
                return None  # a data address, not a return address
            return "%s+0x%x" % (m.group(1), int(m.group(2) or 0))
        return r
    if _map_addrs and TEXT_LO <= a < TEXT_HI:
        i = bisect.bisect_right(_map_addrs, a) - 1
        if i >= 0:
            return "%s+0x%x" % (_map_names[i], a - _map_addrs[i])
    if MOD_LO <= a < MOD_HI:
        return "bpf/module area"
    return None


def per_cpu(name, cpu, typ):
    """*(typ *)(&name + __per_cpu_offset[cpu])"""
    return gdb.parse_and_eval("*(%s *)((unsigned long)&%s + __per_cpu_offset[%d])" % (typ, name, cpu))


def reg(name):
    return int(gdb.parse_and_eval("$" + name)) & 0xFFFFFFFFFFFFFFFF


def cpu_summary(cpu):
    rip, rsp, efl = reg("rip"), reg("rsp"), reg("eflags")
    cs = reg("cs")
    out("RIP 0x%x %s" % (rip, sym(rip) or "?"))
    out("RSP 0x%x  EFLAGS 0x%x (interrupts %s)  CS 0x%x (%s mode)" % (
        rsp, efl, "ON" if efl & 0x200 else "OFF", cs, "user" if cs & 3 else "kernel"))
    if not HAVE_SYMS:
        return
    try:
        t = per_cpu("current_task", cpu, "struct task_struct *")
        out("current: pid %d tgid %d comm %s  state 0x%x  on_cpu %d" % (
            int(t["pid"]), int(t["tgid"]), t["comm"].string(), int(t["__state"]), int(t["on_cpu"])))
        pc = int(per_cpu("__preempt_count", cpu, "int")) & 0xFFFFFFFF
        out("preempt_count 0x%x (preempt %d, softirq %d, hardirq %d, nmi %d%s)" % (
            pc, pc & 0xff, (pc >> 8) & 0xff, (pc >> 16) & 0xf, (pc >> 20) & 0xf,
            ", need_resched not set" if pc & 0x80000000 else ", need_resched SET"))
        rq = gdb.parse_and_eval("(struct rq *)((unsigned long)&runqueues + __per_cpu_offset[%d])" % cpu)
        lock = int(rq["__lock"]["raw_lock"]["val"]["counter"])
        curr = rq["curr"]
        out("runqueues[%d]: __lock 0x%x (%s)  curr pid %d %s  nr_running %d  clock %d" % (
            cpu, lock, "held" if lock else "free", int(curr["pid"]), curr["comm"].string(),
            int(rq["nr_running"]), int(rq["clock"])))
        q = per_cpu("call_single_queue", cpu, "struct llist_head")
        out("call_single_queue[%d].first %s (IPIs queued for this CPU: %s)" % (
            cpu, q["first"], "yes" if int(q["first"]) else "none"))
        active = int(per_cpu("bpf_prog_active", cpu, "int"))
        out("bpf_prog_active[%d] %d" % (cpu, active))
    except gdb.error as e:
        out("(per-cpu state: %s)" % e)


def code_bytes(a, n=8):
    try:
        b = bytes(gdb.selected_inferior().read_memory(a, n))
        return " ".join("%02x" % x for x in b)
    except gdb.MemoryError:
        return "(unreadable)"


def int3_site():
    """When this vCPU is handling an int3 (asm_exc_int3, exc_int3, the
    kprobe or text-poke handlers), the address of the int3 it trapped on:
    exc_int3's regs->ip - 1 (or the return address asm_exc_int3 pushed)."""
    if not HAVE_SYMS:
        return None
    try:
        if int(gdb.parse_and_eval("$pc")) == int(gdb.parse_and_eval("(unsigned long)asm_exc_int3")):
            # at the entry: the CPU's exception frame, RIP (after the int3) first
            return int(gdb.parse_and_eval("*(unsigned long *)$rsp")) - 1
        f = gdb.newest_frame()
        while f is not None:
            if f.name() == "exc_int3":
                return int(f.read_var("regs")["ip"]) - 1
            f = f.older()
    except (gdb.error, ValueError):
        pass
    return None


def code_report():
    """The instruction bytes in guest memory where the vCPU is, and at the
    int3 it is handling: memory is what the kernel patched; a vCPU that
    traps on an int3 that memory no longer holds runs a stale translation."""
    rip = reg("rip")
    out("code at RIP in memory: %s" % code_bytes(rip))
    site = int3_site()
    if site is not None:
        # regs->ip - 1 on entry; kprobe_int3_handler may already have backed
        # regs->ip up over the int3, so the site is one of the two
        b0, b1 = code_bytes(site), code_bytes(site + 1)
        out("handling an int3 trapped at 0x%x %s (or 0x%x, once backed up); memory there now: %s | %s%s" % (
            site, sym(site) or "?", site + 1, b0, b1,
            "  <- NOT an int3 (0xcc) any more" if not b0.startswith("cc") and not b1.startswith("cc") else ""))
    if HAVE_SYMS:
        try:
            d = gdb.parse_and_eval("bp_desc")
            out("text_poke bp_desc: refs %d nr_entries %d vec %s" % (
                int(d["refs"]["counter"]), int(d["nr_entries"]), d["vec"]))
        except gdb.error as e:
            out("(bp_desc: %s)" % e)


def stack_scan(rsp):
    out("raw stack scan from RSP (kernel text and BPF addresses):")
    n = 0
    inf = gdb.selected_inferior()
    for i in range(SCAN_WORDS):
        try:
            b = inf.read_memory(rsp + 8 * i, 8)
        except gdb.MemoryError:
            break
        v = int.from_bytes(bytes(b), "little")
        if not (TEXT_LO <= v < TEXT_HI or MOD_LO <= v < MOD_HI):
            continue
        s = sym(v)
        if s:
            out("  [rsp+0x%03x] 0x%x %s" % (8 * i, v, s))
            n += 1
            if n >= 80:
                break


LOCKISH = re.compile(r"lock|spin|htab|freelist|csd|smp_call|stop_|text_poke|bpf|perf_|rcu|wait", re.I)


def frames_with_locals(maxf=40):
    """Locals and arguments of the frames whose function takes part in
    locking or cross-CPU waits (htab, freelists, spinlocks, IPIs...)."""
    try:
        f = gdb.newest_frame()
    except gdb.error:
        return
    i = 0
    while f is not None and i < maxf:
        name = f.name() or ""
        if LOCKISH.search(name):
            out("-- frame #%d %s" % (i, name))
            try:
                f.select()
                out(run("info args").rstrip())
                out(run("info locals").rstrip())
            except gdb.error as e:
                out("(%s)" % e)
        try:
            f = f.older()
        except gdb.error:
            break
        i += 1


def main():
    gdb.execute("set pagination off")
    gdb.execute("set print pretty off")
    gdb.execute("set print frame-arguments scalars")
    gdb.execute("set backtrace limit 60")
    load_bpf_ksyms()
    out("=== hang capture: %d vCPU(s)" % len(gdb.selected_inferior().threads()))
    out(run("info threads").rstrip())
    if bpf_syms:
        out("JITed BPF programs in the guest (bpf_kallsyms):")
        for s, e, n in bpf_syms:
            out("  0x%x-0x%x %s" % (s, e, n))
    threads = sorted(gdb.selected_inferior().threads(), key=lambda t: t.num)
    for t in threads:
        cpu = t.num - 1
        t.switch()
        out("")
        out("===== CPU %d (gdb thread %d) =====" % (cpu, t.num))
        cpu_summary(cpu)
        code_report()
        if HAVE_SYMS:  # without DWARF gdb's unwinder guesses frames from noise
            out("--- backtrace")
            out(run("bt 60").rstrip())
        stack_scan(reg("rsp"))
    if HAVE_SYMS:
        for t in threads:
            t.switch()
            out("")
            out("===== CPU %d: locals of the lock/wait frames =====" % (t.num - 1))
            frames_with_locals()
    for t in threads:
        t.switch()
        out("")
        out("===== CPU %d registers =====" % (t.num - 1))
        out(run("info registers rip rsp rbp rax rbx rcx rdx rsi rdi r8 r9 r10 r11 r12 r13 r14 r15 "
                "eflags cs ss gs_base cr2 cr3").rstrip())
    out("=== end of hang capture")


main()
