#!/usr/bin/env bash
# tests/integration/test_futex_truth.sh: poolscope's futex waits on a
# third-party program (Debian's sysbench, threads fighting over one mutex)
# against an independent count by bpftrace in the same run
# (tests/integration/futex_waits.bt): the blocking waits and their total time
# within 2 % / 5 %, from the scheduler (the default) and from the syscall
# tracepoints (--futex-source syscalls, compared with the calls that did not
# return EAGAIN, entry to exit). And what made the scheduler the default:
# it attaches no syscall tracepoint.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	fail "futex truth tests need root" "run make test as root (BPF tracing)"
	exit 1
fi
for p in bpftrace sysbench; do
	command -v $p >/dev/null || { fail "futex truth: $p installed" "missing: make deps installs it"; exit 1; }
done
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
# a copy under a name of this run's own, so that bpftrace counts this
# sysbench only (another one may run on the machine)
SB=sb$$
cp "$(command -v sysbench)" "$TMPD/$SB"

# run_pair NAME POOLSCOPE-ARGS...: bpftrace attached first, then poolscope
# runs sysbench; both outputs kept in $TMPD/NAME.{bt,json}
run_pair() {
	local name=$1 i
	shift
	bpftrace "$TOP/tests/integration/futex_waits.bt" "$SB" >"$TMPD/$name.bt" 2>"$TMPD/$name.bt.err" &
	local bt=$!
	for i in $(seq 100); do
		grep -q '^Attaching' "$TMPD/$name.bt" && break
		sleep 0.1
	done
	sleep 0.5   # the probes attach after the line
	"$POOLSCOPE" run -q --json "$TMPD/$name.json" "$@" -- \
		"$TMPD/$SB" mutex --threads=8 --mutex-num=1 --mutex-loops=0 --mutex-locks=2000000 run \
		>"$TMPD/$name.out" 2>&1
	local rc=$?
	kill -INT $bt
	wait $bt
	check "futex truth ($name): poolscope run of sysbench exit 0" "status $rc: $(tail -2 "$TMPD/$name.out")" [ $rc -eq 0 ]
	check "futex truth ($name): bpftrace counted" "$(head -3 "$TMPD/$name.bt.err")" grep -q '^@' "$TMPD/$name.bt"
}

compare() { # NAME COUNT-MAP TIME-MAP SOURCE
	py - "$TMPD/$1.json" "$TMPD/$1.bt" "$1" "$2" "$3" "$4" <<'PY'
import json, re, sys
report, bt, name, cmap, tmap, source = sys.argv[1:]
r = json.load(open(report))
text = open(bt).read()
def bmap(m):
    return {int(a, 16): int(v) for a, v in re.findall(r"@%s\[(0x[0-9a-f]+)\]: (\d+)" % m, text)}
def out(ok, what, why):
    print(("PASS: " if ok else "FAIL: ") + "futex truth (%s): %s" % (name, what) + ("" if ok else ": " + why))
counts, times = bmap(cmap), bmap(tmap)
locks = [l for l in r["locks"] if l["comm"].startswith("sb")]
waits = sum(l["waits"] for l in locks)
ns = sum(l["wait_ns"] for l in locks)
bw, bns = sum(counts.values()), sum(times.values())
out(r["features"]["futex_source"] == source, "futex waits from %s" % source, str(r["features"]["futex_source"]))
out(bw >= 20, "sysbench blocked on futexes (the comparison means something)", "%d waits" % bw)
out(abs(waits - bw) <= 0.02 * bw, "blocking waits equal bpftrace's count within 2 %",
    "poolscope %d, bpftrace %d" % (waits, bw))
out(abs(ns - bns) <= 0.05 * bns, "their total time equals bpftrace's within 5 %",
    "poolscope %d ns, bpftrace %d ns" % (ns, bns))
# per futex address: the lock the threads fight over is the same word
top = max(counts, key=counts.get) if counts else 0
mine = sum(l["waits"] for l in locks if top in l["addrs"])
out(abs(mine - counts.get(top, 0)) <= max(1, 0.02 * counts.get(top, 0)),
    "the most waited futex word %#x: same waits" % top, "poolscope %d, bpftrace %d" % (mine, counts.get(top, 0)))
print("note: %s: %d waits %.1f ms (poolscope) vs %d waits %.1f ms (bpftrace)" % (name, waits, ns / 1e6, bw, bns / 1e6))
PY
}

run_pair sched
compare sched blocks blocked_ns sched
run_pair syscalls --futex-source syscalls
compare syscalls returns return_ns syscall-tracepoints
no_programs_left "futex truth"

# The syscall tracepoints slow every system call of every task; poolscope's
# default does not enable them. The kernel's own list of attachments (bpftool
# perf) for a poolscope tracing `sleep`: raw tracepoints only by default,
# syscall tracepoints with --futex-source syscalls. (make bench measures what
# they cost: its syscall-heavy row.)
attachments() { # POOLSCOPE-ARGS...: "kind name" of poolscope's attachments
	"$POOLSCOPE" run -q "$@" -- sleep 30 >/dev/null 2>&1 &
	local ps=$! i
	for i in $(seq 100); do
		bpftool perf 2>/dev/null | grep -q "^pid $ps .*sched_switch" && break
		sleep 0.05
	done
	bpftool perf 2>/dev/null | awk -v p="$ps" '$2 == p { print $(NF-1), $NF }'
	kill -INT $ps
	wait $ps 2>/dev/null
}
attachments >"$TMPD/att.default"
attachments --futex-source syscalls >"$TMPD/att.syscalls"
check "default: the scheduler tracepoints are attached" "$(cat "$TMPD/att.default")" \
	grep -q 'raw_tracepoint sched_switch' "$TMPD/att.default"
check "default: no syscall tracepoint is attached (system calls keep their fast path)" \
	"$(grep -v raw_tracepoint "$TMPD/att.default")" not grep -q 'sys_' "$TMPD/att.default"
check "--futex-source syscalls: the futex syscall tracepoints are attached" "$(cat "$TMPD/att.syscalls")" \
	grep -q 'sys_enter_futex' "$TMPD/att.syscalls"
no_programs_left "attachments"
exit 0
