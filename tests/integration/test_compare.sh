#!/usr/bin/env bash
# tests/integration/test_compare.sh: `poolscope compare` runs each entry under
# tracing and puts them side by side; the threads-vs-GIL lesson shows up.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	fail "compare tests need root" "run make test as root (BPF tracing)"
	exit 1
fi
"$POOLSCOPE" compare --json "$TMPD/cmp.json" cpu-threads gil-threads -- "$BUILD/tests/progs/forker" 2 0.3 \
	>"$TMPD/cmp.out" 2>"$TMPD/cmp.err"
rc=$?
check "compare: exit 0" "status $rc: $(tail -3 "$TMPD/cmp.err")" [ $rc -eq 0 ]
py - "$TMPD/cmp.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
e = {x["entry"]: x for x in r["entries"]}
def out(ok, name, why):
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else ": " + why))
out(len(e) == 3 and all(x["ok"] for x in e.values()), "compare: every entry ran and is in the JSON", str(list(e)))
g, c = e.get("gil-threads", {}), e.get("cpu-threads", {})
out(g.get("verdict") == "lock-serialized" and "gil_acquire" in (g.get("top_lock") or {}).get("caller", ""),
    "compare: gil-threads is lock-serialized on gil_acquire", "%s %s" % (g.get("verdict"), g.get("top_lock")))
out(c.get("verdict") == "cpu-parallel" or (c.get("verdict") == "cpu-starved" and c.get("other_load_cpus", 0) >= 0.5),
    "compare: cpu-threads is CPU-bound and parallel (or starved by the other tasks it ran beside)",
    "%s, other load %s" % (c.get("verdict"), c.get("other_load_cpus")))
out(c.get("parallelism", 0) > 1.5 * g.get("parallelism", 9),
    "compare: threads without the lock run in parallel, with it they do not",
    "cpu-threads %.2f vs gil-threads %.2f" % (c.get("parallelism", 0), g.get("parallelism", 0)))
f = [x for k, x in e.items() if "forker" in k]
out(f and len(f[0]["core_busy_pct"]) == 2, "compare: a -- command entry is traced with per-core busy", str(f))
PY
grep -q '^VERDICTS' "$TMPD/cmp.out" && grep -q 'gil-threads' "$TMPD/cmp.out"
check "compare: prints the side-by-side table and verdicts" "$(head -5 "$TMPD/cmp.out")" [ $? -eq 0 ]

"$POOLSCOPE" compare cpu-threads nosuch >/dev/null 2>"$TMPD/bad.err"
rc=$?
check "compare: an unknown workload is a usage error before anything runs" "status $rc: $(cat "$TMPD/bad.err")" \
	[ $rc -eq 2 -a "$(wc -l <"$TMPD/bad.err")" -eq 1 ]
"$POOLSCOPE" compare >/dev/null 2>"$TMPD/bad.err"
check "compare: nothing to compare is a usage error" "status $?: $(cat "$TMPD/bad.err")" grep -q 'nothing to compare' "$TMPD/bad.err"
no_programs_left "compare"
exit 0
