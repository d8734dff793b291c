# tests/kernel/hang-unstick.py: the experiment that tells a kernel deadlock
# from a stale TCG translation (sourced by gdb after tests/kernel/hang-gdb.py,
# KT_GDB_UNSTICK=1). For each vCPU: the address it loops at (the int3 it is
# handling, else its RIP); that instruction's first byte is written back to
# guest memory through the gdb stub with the value it already has. Guest
# memory does not change; QEMU drops the translated code of that range (a
# debugger write invalidates it). A deadlock in the kernel stays hung; a vCPU
# that was re-executing a translation of code the kernel had already patched
# runs on, and the guest recovers (tests/kernel/run-vm.sh watches for that).
import gdb


def out(s=""):
    gdb.write(s + "\n")
    gdb.flush()


def sites_of_thread():
    """Where this vCPU loops: its RIP and, when it is handling an int3, the
    int3's address in exc_int3's regs (regs->ip - 1 on entry; regs->ip
    itself once kprobe_int3_handler has backed it up)."""
    sites = [int(gdb.parse_and_eval("$pc")) & 0xFFFFFFFFFFFFFFFF]
    try:
        if sites[0] == int(gdb.parse_and_eval("(unsigned long)asm_exc_int3")):
            sites.append(int(gdb.parse_and_eval("*(unsigned long *)$rsp")) - 1)
        f = gdb.newest_frame()
        while f is not None:
            if f.name() == "exc_int3":
                ip = int(f.read_var("regs")["ip"])
                sites += [ip - 1, ip]
                break
            f = f.older()
    except (gdb.error, ValueError):
        pass
    return sites


SPAN = 32  # bytes rewritten on each side of a site: every TB that holds it

inf = gdb.selected_inferior()
done = set()
for t in sorted(inf.threads(), key=lambda t: t.num):
    t.switch()
    for a in sites_of_thread():
        lo = a - SPAN
        if lo in done:
            continue
        done.add(lo)
        b = bytes(inf.read_memory(lo, 2 * SPAN))
        out("unstick: CPU %d: 0x%x (%s): rewriting the %d bytes around it with themselves (at it: %02x)" % (
            t.num - 1, a, gdb.execute("info symbol 0x%x" % a, to_string=True).strip(), 2 * SPAN, b[SPAN]))
        inf.write_memory(lo, b)
        assert bytes(inf.read_memory(lo, 2 * SPAN)) == b
out("unstick: done; guest memory unchanged")
