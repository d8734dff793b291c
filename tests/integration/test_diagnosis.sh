#!/usr/bin/env bash
# tests/integration/test_diagnosis.sh: the verdict of real traced runs, from
# the JSON report's "diagnosis" object. On 2 cores: cpu-procs and cpu-threads
# are CPU-bound and parallel; gil-threads is serialized on its lock, named
# gil_acquire; io-threads and io-procs are IO-bound; 16 CPU-bound threads are
# oversubscribed (run-queue bound); `sleep 1` is not CPU-bound. Sizes are
# small (about 1 s per run). Each case prints one PASS/FAIL line, with the
# verdict and its evidence on failure.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	fail "diagnosis tests need root" "run make test as root (BPF tracing)"
	exit 1
fi

# trace NAME ARGS...: poolscope run -q --json $TMPD/NAME.json ARGS...; 0 if
# it ran and wrote the report (else one FAIL line for NAME).
trace() {
	local name=$1 rc
	shift
	timeout -s KILL 120 "$POOLSCOPE" run -q --json "$TMPD/$name.json" "$@" >"$TMPD/$name.out" 2>&1
	rc=$?
	if [ $rc -ne 0 ] || [ ! -s "$TMPD/$name.json" ]; then
		fail "$name: traced run" "status $rc: $(tail -3 "$TMPD/$name.out" | tr '\n' ' ')"
		return 1
	fi
}

# verdict NAME CHECK WHAT: one PASS/FAIL line "NAME: WHAT" from a python
# expression over d (the diagnosis object) and r (the whole report).
verdict() {
	python3 - "$TMPD/$1.json" "$1: $3" "$2" <<'PY'
import json, sys
path, name, expr = sys.argv[1:4]
try:
    r = json.load(open(path))
except Exception as e:
    print("FAIL: %s: report does not parse: %s" % (name, e))
    sys.exit(0)
d = r.get("diagnosis")
if not isinstance(d, dict):
    print("FAIL: %s: no diagnosis key in the JSON report" % name)
    sys.exit(0)
try:
    ok = bool(eval(expr, {}, {"d": d, "r": r}))
except Exception as e:
    ok, expr = False, "%s (%s: %s)" % (expr, type(e).__name__, e)
if ok:
    print("PASS: " + name)
else:
    ev = ", ".join("%s=%.3g" % kv for kv in d.get("evidence", {}).items())
    lock = d.get("lock") or {}
    print("FAIL: %s: wanted %s; got %s (confidence %s), lock %r; evidence: %s; "
          "parallelism %.2f; text: %s" % (name, expr, d.get("key"), d.get("confidence"),
          lock.get("caller"), ev, r["totals"]["parallelism"], d.get("text")))
PY
}

# CPU-bound and parallel, or, while untraced tasks take the cores (other
# engineers' builds), CPU-bound and starved by them: said in the headline
PARALLEL='d["key"] == "cpu-parallel" or (d["key"] == "cpu-starved" and r["totals"]["other_load_cpus"] >= 0.5 and "starved by other tasks" in d["label"])'
if trace cpu-procs cpu-procs -t 4 -s 600M; then
	verdict cpu-procs "$PARALLEL" "CPU-bound and parallel"
fi
if trace cpu-threads cpu-threads -t 4 -s 600M; then
	verdict cpu-threads "$PARALLEL" "CPU-bound and parallel"
fi
if trace gil-threads gil-threads -t 4 -s 400M; then
	verdict gil-threads 'd["key"] == "lock-serialized"' "serialized on a lock"
	verdict gil-threads '"gil_acquire" in ((d["lock"] or {}).get("caller") or "")' \
		"the lock named is gil_acquire's"
fi
if trace io-threads io-threads; then
	verdict io-threads 'd["key"] == "io-bound"' "IO-bound"
fi
if trace io-procs io-procs; then
	verdict io-procs 'd["key"] == "io-bound"' "IO-bound"
fi
if trace oversubscribed oversubscribed -w 16 -s 150M; then
	verdict oversubscribed 'd["key"] == "oversubscribed"' "16 CPU threads on 2 cores: run-queue bound"
fi
if trace sleep -- sleep 1; then
	verdict sleep 'd["key"] not in ("cpu-parallel", "cpu-starved", "oversubscribed", "lock-serialized")' \
		"sleep 1 is not CPU-bound"
fi
