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


def site_of_thread():
    try:
        f = gdb.newest_frame()
        while f is not None:
            if f.name() == "exc_int3":
                return int(f.read_var("regs")["ip"]) - 1, "int3 site"
            f = f.older()
    except (gdb.error, ValueError):
        pass
    return int(gdb.parse_and_eval("$pc")) & 0xFFFFFFFFFFFFFFFF, "RIP"


inf = gdb.selected_inferior()
done = set()
for t in sorted(inf.threads(), key=lambda t: t.num):
    t.switch()
    a, what = site_of_thread()
    if a in done:
        continue
    done.add(a)
    b = bytes(inf.read_memory(a, 1))
    out("unstick: CPU %d: %s 0x%x (%s): rewriting its byte 0x%02x with itself" % (
        t.num - 1, what, a, gdb.execute("info symbol 0x%x" % a, to_string=True).strip(), b[0]))
    inf.write_memory(a, b)
    assert bytes(inf.read_memory(a, 1)) == b
out("unstick: done; guest memory unchanged")
