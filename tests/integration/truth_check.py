#!/usr/bin/env python3
"""Compare poolscope's per-thread numbers (JSON report) with the kernel's own
accounting printed by tests/progs/truth ("truth tid=... vol=... ..." lines).

Usage: truth_check.py REPORT.json TRUTH.txt
Prints one PASS:/FAIL: line per check. Tolerances (the foundation issue):
switch counts within 0.5 % or 2 switches, run-queue wait sum within 5 %;
on-CPU time within 5 % of schedstat's sum_exec_runtime, plus the hypervisor's
steal time during the run (env STEAL_NS): with PARAVIRT_TIME_ACCOUNTING the
kernel's task clock leaves steal out, while poolscope measures wall time on CPU."""
import os
import json
import re
import sys

report = json.load(open(sys.argv[1]))
label = sys.argv[3] if len(sys.argv) > 3 else "truth"
truth = {}
for line in open(sys.argv[2]):
    m = re.match(r"truth tid=(\d+) vol=(\d+) invol=(\d+) run_ns=(\d+) wait_ns=(\d+) slices=(\d+)", line)
    if m:
        tid, vol, invol, run, wait, slices = map(int, m.groups())
        truth[tid] = dict(vol=vol, invol=invol, run=run, wait=wait, slices=slices)
threads = {t["tid"]: t for t in report["threads"]}
failed = 0


def check(name, ok, why):
    global failed
    print(("PASS: %s" % name) if ok else ("FAIL: %s: %s" % (name, why)))
    failed += not ok


check(label + ": truth printed by every thread", len(truth) >= 2, "only %d truth lines" % len(truth))
missing = [t for t in truth if t not in threads]
check(label + ": every thread in the report", not missing, "threads missing from report: %s" % missing)


def close(a, b, rel, absol):
    return abs(a - b) <= max(rel * b, absol)


bad = {"vol": [], "invol": [], "wait": [], "run": []}
sums = {"wait": [0, 0], "run": [0, 0]}
for tid, tr in truth.items():
    t = threads.get(tid)
    if not t:
        continue
    # The thread reads /proc, then exits: its exit path may add a switch or
    # two after the read; counts are compared with the tolerance.
    if not close(t["vol"], tr["vol"], 0.005, 2):
        bad["vol"].append((tid, t["vol"], tr["vol"]))
    if not close(t["invol"], tr["invol"], 0.005, 2):
        bad["invol"].append((tid, t["invol"], tr["invol"]))
    # the bound is on the sum (below); per thread, allow 10 %
    if not close(t["runq_wait_ns"], tr["wait"], 0.10, 500000):
        bad["wait"].append((tid, t["runq_wait_ns"], tr["wait"]))
    steal = int(os.environ.get("STEAL_NS", "0"))
    if not (tr["run"] * 0.95 - 500000 <= t["oncpu_ns"] <= tr["run"] * 1.05 + 500000 + steal):
        bad["run"].append((tid, t["oncpu_ns"], tr["run"]))
    sums["wait"][0] += t["runq_wait_ns"]; sums["wait"][1] += tr["wait"]
    sums["run"][0] += t["oncpu_ns"]; sums["run"][1] += tr["run"]

check(label + ": voluntary switches match /proc status per thread", not bad["vol"],
      "(tid, poolscope, kernel): %s" % bad["vol"])
check(label + ": involuntary switches match /proc status per thread", not bad["invol"],
      "(tid, poolscope, kernel): %s" % bad["invol"])
check(label + ": run-queue wait matches schedstat per thread (10 %)", not bad["wait"],
      "(tid, poolscope ns, kernel ns): %s" % bad["wait"])
print("note: %s: run-queue wait sum poolscope %d ns, schedstat %d ns (%+.2f %%)" % (
    label, sums["wait"][0], sums["wait"][1], 100.0 * (sums["wait"][0] / max(sums["wait"][1], 1) - 1)))
check(label + ": run-queue wait sum within 5% of schedstat", close(*sums["wait"], 0.05, 0),
      "poolscope %d ns vs kernel %d ns" % tuple(sums["wait"]))
check(label + ": on-CPU time matches schedstat per thread", not bad["run"],
      "(tid, poolscope ns, kernel ns): %s, steal %s ns" % (bad["run"], os.environ.get("STEAL_NS")))
check(label + ": some involuntary switches and waits happened (test is meaningful)",
      sum(tr["invol"] for tr in truth.values()) > 10 and sums["wait"][1] > 1000000,
      "workload too quiet to test anything: %s" % truth)
sys.exit(1 if failed else 0)
