#!/usr/bin/env python3
"""tests/integration/verdict_check.py REPORT.json EXPR: whether a poolscope
JSON report's verdict satisfies EXPR, a python expression over d (the
diagnosis), r (the report) and locks (its contended locks, most waited
first). Exits 0 when it does; 2 when it does not but untraced tasks took
half a CPU or more (the machine was shared: worth another run); 1 when it
does not on a quiet machine. Prints the verdict and its evidence."""
import json
import re
import sys

path, expr = sys.argv[1:3]
try:
    r = json.load(open(path))
except Exception as e:  # a missing or broken report is a failure, said once
    print("report does not parse: %s" % e)
    sys.exit(1)
d = r.get("diagnosis") or {}
locks = sorted((l for l in r.get("locks", []) if l.get("class") == "contended"),
               key=lambda l: -l.get("asleep_ns", 0))
try:
    ok = bool(eval(expr, {"re": re}, {"d": d, "r": r, "locks": locks}))
except Exception as e:
    ok, expr = False, "%s (%s: %s)" % (expr, type(e).__name__, e)
other = r.get("totals", {}).get("other_load_cpus", 0)
ev = ", ".join("%s=%.3g" % kv for kv in d.get("evidence", {}).items())
print("%s (%.2f), other load %.2f CPUs; %s; %s" % (d.get("key"), d.get("confidence", 0), other,
                                                  ev, d.get("text", "")[:400]))
sys.exit(0 if ok else 2 if other >= 0.5 else 1)
