#!/usr/bin/env python3
"""Compare `poolscope attach` per-thread numbers with the kernel's own
counters of the same threads, read from /proc before and after the attach
window (the program is blocked at both reads, so the deltas are exactly what
happened inside the window).

Usage: attach_check.py REPORT.json BEFORE.txt AFTER.txt LABEL
BEFORE/AFTER lines: "TID vol invol run_ns wait_ns" (see test_attach.sh)."""
import json
import sys

report = json.load(open(sys.argv[1]))
label = sys.argv[4]


def load(path):
    out = {}
    for line in open(path):
        f = line.split()
        if len(f) == 5:
            out[int(f[0])] = [int(x) for x in f[1:]]
    return out


before, after = load(sys.argv[2]), load(sys.argv[3])
threads = {t["tid"]: t for t in report["threads"]}
failed = 0


def check(name, ok, why):
    global failed
    print(("PASS: %s: %s" % (label, name)) if ok else ("FAIL: %s: %s: %s" % (label, name, why)))
    failed += not ok


def close(a, b, rel, absol):
    return abs(a - b) <= max(rel * b, absol)


late = [t for t in after if t not in before]
check("a thread created after the attach is traced", late and all(t in threads for t in late),
      "new threads %s, traced %s" % (late, sorted(threads)))
bad = []
wait_sum = [0, 0]
for tid, a in after.items():
    b = before.get(tid, [0, 0, 0, 0])
    d = [x - y for x, y in zip(a, b)]
    t = threads.get(tid)
    if t is None:
        if d[0] + d[1] > 0:
            bad.append((tid, "missing from the report", d))
        continue
    if not close(t["vol"], d[0], 0.005, 2) or not close(t["invol"], d[1], 0.005, 2):
        bad.append((tid, "vol/invol", t["vol"], t["invol"], "kernel", d[0], d[1]))
    wait_sum[0] += t["runq_wait_ns"]
    wait_sum[1] += d[3]
check("switch counts match the /proc deltas per thread (0.5 % or 2)", not bad, str(bad))
check("run-queue wait sum within 5 % of the schedstat deltas", close(wait_sum[0], wait_sum[1], 0.05, 0),
      "poolscope %d ns vs kernel %d ns" % tuple(wait_sum))
check("the window saw real work (test is meaningful)", wait_sum[1] > 100000 and
      sum(t["vol"] + t["invol"] for t in report["threads"]) > 100, "too little happened")
sys.exit(1 if failed else 0)
