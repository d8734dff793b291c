#!/usr/bin/env bash
# tests/integration/test_locks_stacks.sh: futex contention, stacks, symbols
# and exports, on workloads whose shape is known: gil-threads serializes on
# one interpreter-style lock (its waiters should wait ~(N-1)/N of their time
# in gil_acquire), cpu-threads barely waits, cpu-procs burns CPU in
# square_range in several processes that exit before the trace ends.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	fail "lock and stack tests need root" "run make test as root (BPF tracing)"
	exit 1
fi
folded_ok() { # every line is "stack SPACE integer"
	[ -s "$1" ] && ! grep -qvE '^[^ ].* [0-9]+$' "$1"
}

# --- gil-threads: the global lock is the top contended lock
"$POOLSCOPE" run -q --stacks all --json "$TMPD/gil.json" --folded "oncpu:$TMPD/gil-on.folded" \
	--folded "offcpu:$TMPD/gil-off.folded" --folded "futex:$TMPD/gil-fx.folded" \
	--svg "oncpu:$TMPD/gil-on.svg" --svg "futex:$TMPD/gil-fx.svg" \
	gil-threads -w 2 >"$TMPD/gil.out" 2>&1
rc=$?
check "gil-threads traced with locks and stacks: exit 0" "status $rc: $(tail -3 "$TMPD/gil.out")" [ $rc -eq 0 ]
py - "$TMPD/gil.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
def out(ok, name, why):
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else ": " + why))
locks = [l for l in r["locks"] if l["class"] == "contended"]
top = locks[0] if locks else None
out(top is not None and "gil_acquire" in (top["caller"] + top["stack"]),
    "gil-threads: the top contended lock is waited on in gil_acquire",
    "contended locks: %s" % [(l["caller"], l["stack"][-60:]) for l in locks[:3]])
if top:
    # 2 workers, one computes while the other waits: each waits ~1/2 of its
    # time; generous bounds for a shared VM
    out(0.25 < top["share_waiters"] < 0.75 and top["waiters"] == 2,
        "gil-threads: its 2 waiters spend about (N-1)/N of their time on it",
        "share %.2f over %d waiters" % (top["share_waiters"], top["waiters"]))
    out(top["busy_frac"] > 0.8, "gil-threads: the holder was busy while they waited",
        "busy_frac %.2f" % top["busy_frac"])
    out(top["timeouts"] > 0 and top["woken_by_traced"] > 0,
        "gil-threads: timed-out waits (switch interval) and wakes by the holder are counted",
        "timeouts %d, woken_by_traced %d" % (top["timeouts"], top["woken_by_traced"]))
    out("gil_release" in top["waker"] or "gil_drop" in top["waker"],
        "gil-threads: the wakers are named (gil_release)", "waker %r" % top["waker"])
out(r["dropped"]["total"] == 0, "gil-threads: nothing dropped (stack-map collisions included)",
    str(r["dropped"]))
PY
sort -t' ' -k2 -nr "$TMPD/gil-fx.folded" | head -1 | grep -q 'gil_acquire'
check "gil-threads: the top futex-wait folded stack goes through gil_acquire" \
	"top: $(sort -t' ' -k2 -nr "$TMPD/gil-fx.folded" | head -1)" [ $? -eq 0 ]
top_on=$(sort -t' ' -k2 -nr "$TMPD/gil-on.folded" | head -1)
check "gil-threads: the hottest on-CPU stack ends in square_range" "top: $top_on" \
	grep -q 'square_range [0-9]*$' <<<"$top_on"
for f in gil-on gil-off gil-fx; do
	check "folded $f: every line is 'stack SPACE integer'" "$(grep -vE '^[^ ].* [0-9]+$' "$TMPD/$f.folded" | head -2)" \
		folded_ok "$TMPD/$f.folded"
done
check "folded off-CPU: kernel frames marked _[k] after a '-' frame" "$(head -1 "$TMPD/gil-off.folded")" \
	grep -qE ';-;[^ ]*_\[k\]' "$TMPD/gil-off.folded"
# Off-CPU stacks keep the program's frames above glibc (built without frame
# pointers): of the time the workers spent blocked in a system call (not the
# main thread, whose stacks start in __libc_start_call_main; a stack that
# lost its program frames counts against), 95 % or more is attributed to
# gil_acquire or its caller square_task.
offcpu_share() { # FOLDED NEEDLE-REGEX WHAT
	py - "$@" <<'PY'
import re, sys
path, needle, what = sys.argv[1:]
tot = hit = 0
miss = {}
for line in open(path):
    stack, v = line.rsplit(" ", 1)
    if "__libc_start_call_main" in stack or ";entry_SYSCALL_64" not in stack:
        continue
    tot += int(v)
    if re.search(needle, stack):
        hit += int(v)
    else:
        miss[stack] = miss.get(stack, 0) + int(v)
ok = tot > 0 and hit >= 0.95 * tot
worst = max(miss.items(), key=lambda kv: kv[1]) if miss else ("", 0)
print(("PASS: " if ok else "FAIL: ") + what + ("" if ok else ": %.1f%% of %d us; the largest miss, %d us: %s" %
                                            (100.0 * hit / max(tot, 1), tot, worst[1], worst[0][:600])))
PY
}
offcpu_share "$TMPD/gil-off.folded" ';(gil_acquire|square_task);' \
	"gil-threads: >= 95 % of the workers' blocked off-CPU time names gil_acquire or its caller"
for f in gil-on gil-fx; do
	check "svg $f: well-formed XML (xmllint)" "$(xmllint --noout "$TMPD/$f.svg" 2>&1 | head -2)" \
		xmllint --noout "$TMPD/$f.svg"
done
check "svg on-CPU: names the hot function" "square_range missing" grep -q square_range "$TMPD/gil-on.svg"
grep -q '^LOCK CONTENTION' "$TMPD/gil.out" || "$POOLSCOPE" run gil-threads >"$TMPD/gil-text.out" 2>&1
no_programs_left "gil-threads"

# --- cpu-threads: CPU-bound and parallel, little lock waiting
"$POOLSCOPE" run -q --json "$TMPD/cpu.json" cpu-threads >/dev/null 2>&1
py - "$TMPD/cpu.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
cont = sum(l["share_all"] for l in r["locks"] if l["class"] == "contended")
print(("PASS: " if cont < 0.05 else "FAIL: ") + "cpu-threads: little contended lock waiting" +
      ("" if cont < 0.05 else ": %.1f%% of thread time" % (100 * cont)))
PY
no_programs_left "cpu-threads"

# --- cpu-procs: on-CPU stacks of worker processes that exit before the end
"$POOLSCOPE" run -q --stacks oncpu --folded "$TMPD/procs.folded" --json "$TMPD/procs.json" cpu-procs >/dev/null 2>&1
rc=$?
check "cpu-procs with on-CPU stacks: exit 0" "status $rc" [ $rc -eq 0 ]
py - "$TMPD/procs.folded" <<'PY'
import sys
total = hot = 0
for line in open(sys.argv[1]):
    stack, n = line.rsplit(" ", 1)
    total += int(n)
    if "square_range" in stack.split(";")[-1] or stack.endswith("square_range"):
        hot += int(n)
ok = total > 20 and hot > 0.5 * total
print(("PASS: " if ok else "FAIL: ") + "cpu-procs: most on-CPU samples are in square_range (symbolized in exited workers)" +
      ("" if ok else ": %d of %d samples" % (hot, total)))
PY
no_programs_left "cpu-procs"

# --- io-threads: workers block in the kernel's poll, not on locks
"$POOLSCOPE" run -q --stacks offcpu --json "$TMPD/io.json" --folded "offcpu:$TMPD/io-off.folded" io-threads >/dev/null 2>&1
offcpu_share "$TMPD/io-off.folded" ';fetch_run_task;' \
	"io-threads: >= 95 % of the workers' blocked off-CPU time names the fetch (fetch_run_task)"
py - "$TMPD/io.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
st = r["offcpu_stacks"]
total = sum(s["ns"] for s in st)
polled = sum(s["ns"] for s in st if "poll" in s["stack"] or "select" in s["stack"])
ok = total > 0 and polled > 0.5 * total
print(("PASS: " if ok else "FAIL: ") + "io-threads: most off-CPU time is in poll (waiting for the network)" +
      ("" if ok else ": %.0f%% of %d ns; top %s" % (100.0 * polled / max(total, 1), total, st[:1])))
cont = sum(l["share_all"] for l in r["locks"] if l["class"] == "contended")
print(("PASS: " if cont < 0.05 else "FAIL: ") + "io-threads: no lock contention" +
      ("" if cont < 0.05 else ": %.1f%%" % (100 * cont)))
PY
no_programs_left "io-threads"

# --- a library without frame pointers and with large frames (libcurl's
# polls sit up to 1328 bytes below the program's return address): deepstack
# blocks in poll() under 1600 bytes of libdeepstack.so's frames, %rbp
# cleared, called from deep_caller; the program's structure is the truth
"$POOLSCOPE" run -q --stacks offcpu --folded "offcpu:$TMPD/deep.folded" -- \
	"$BUILD/tests/progs/deepstack" 20 10 >/dev/null 2>&1
rc=$?
check "deepstack with off-CPU stacks: exit 0" "status $rc" [ $rc -eq 0 ]
py - "$TMPD/deep.folded" <<'PY'
import sys
tot = hit = 0
for line in open(sys.argv[1]):
    stack, v = line.rsplit(" ", 1)
    if ";__poll;" not in stack and not stack.split(";-;")[0].endswith("poll"):
        continue
    tot += int(v)
    if ";deep_caller;" in stack:
        hit += int(v)
ok = tot > 100000 and hit >= 0.95 * tot
print(("PASS: " if ok else "FAIL: ") + "deepstack: >= 95 % of the poll time names deep_caller past 1600 bytes of frame-pointer-less library frames" +
      ("" if ok else ": %d of %d us" % (hit, tot)))
PY
no_programs_left "deepstack"

# --- the futex2 syscalls (futex_wait, futex_waitv, futex_wake: glibc does
# not use them, tests/progs/futex2 calls them directly). One futex program
# serves every futex syscall, attached to each: 12 rounds, half of the waits
# in futex_wait and half in futex_waitv, each ended by a futex_wake ~20 ms on.
"$POOLSCOPE" run -q --json "$TMPD/f2.json" -- "$BUILD/tests/progs/futex2" 12 >"$TMPD/f2.out" 2>&1
rc=$?
check "futex2 syscalls traced: exit 0 (3: kernel without futex_wait/futex_wake)" \
	"status $rc: $(tail -2 "$TMPD/f2.out")" [ $rc -eq 0 ]
uaddr=$(sed -n 's/^uaddr=0x\([0-9a-f]*\) .*/\1/p' "$TMPD/f2.out")
py - "$TMPD/f2.json" "$uaddr" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
addr = int(sys.argv[2] or "0", 16)
def out(ok, name, why):
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else ": " + why))
ls = [l for l in r["locks"] if addr in l["addrs"]]
l = ls[0] if ls else None
out(l is not None, "futex2: the word the program waits on is a lock in the report",
    "uaddr %#x, locks at %s" % (addr, [[hex(a) for a in x["addrs"]] for x in r["locks"]]))
if l:
    out(l["waits"] == 12, "futex2: 12 waits, futex_wait and futex_waitv both counted",
        "waits %d" % l["waits"])
    out(12 * 15e6 < l["wait_ns"] < 12 * 200e6, "futex2: ~20 ms per wait (the waker's sleep)",
        "wait_ns %d" % l["wait_ns"])
    out(l["woken_by_traced"] >= 11 and "main" in l["waker"] and "waiter" in l["caller"],
        "futex2: woken by the traced futex_wake in main, waiting in waiter()",
        "woken_by_traced %d, waker %r, caller %r" % (l["woken_by_traced"], l["waker"], l["caller"]))
    # a wait that returns EAGAIN never blocks: from the scheduler it is not
    # observable, and the report says so (null), never 0
    out(l["timeouts"] == 0 and l["eagain"] is None and r["features"]["futex_source"] == "sched",
        "futex2: no timeouts; EAGAIN not observable from the scheduler (null)",
        "timeouts %d eagain %r source %r" % (l["timeouts"], l["eagain"], r["features"]["futex_source"]))
PY
no_programs_left "futex2"

# --- option errors
"$POOLSCOPE" run --folded "oncpu:$TMPD/x.folded" -- true >/dev/null 2>"$TMPD/e.err"
rc=$?
check "--folded oncpu without --stacks oncpu: exit 2, says what is needed" "status $rc: $(cat "$TMPD/e.err")" \
	[ $rc -eq 2 -a -n "$(grep 'needs --stacks oncpu' "$TMPD/e.err")" ]
"$POOLSCOPE" run --stacks bogus -- true >/dev/null 2>"$TMPD/e.err"
check "--stacks bogus: exit 2" "status $?: $(cat "$TMPD/e.err")" grep -q "invalid --stacks 'bogus'" "$TMPD/e.err"
"$POOLSCOPE" run --no-locks -q --json "$TMPD/nl.json" -- true >/dev/null 2>&1
check "--no-locks: no lock data, feature off in JSON" "$(head -c 300 "$TMPD/nl.json")" \
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(r["features"]["locks"] or len(r["locks"]) > 0)' "$TMPD/nl.json"
no_programs_left "option errors"
exit 0
