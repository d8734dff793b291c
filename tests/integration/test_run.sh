#!/usr/bin/env bash
# tests/integration/test_run.sh: `poolscope run` with real BPF, checked against
# the kernel's own accounting (/proc/PID/task/TID/status and schedstat).
# Needs root and BPF: without them every test here fails, saying why.
. "$(dirname "$0")/../lib.sh"
PROGS=$BUILD/tests/progs

if [ "$(id -u)" -ne 0 ]; then
	fail "integration tests need root" "run make test as root (BPF tracing)"
	exit 1
fi
[ -x "$POOLSCOPE" ] || { fail "poolscope built" "$POOLSCOPE missing: run make"; exit 1; }


# --- switch counts and run-queue wait against /proc, tp_btf and raw_tp
# tp_btf with task storage; tp_btf with task state in a hash (what kernels
# before 6.2 get); the raw_tp fallback
for mode in tp_btf tp_btf+hash raw_tp; do
	extra=(); [ $mode = raw_tp ] && extra=(--raw-tp)
	export POOLSCOPE_TASK_HASH=0; [ $mode = tp_btf+hash ] && export POOLSCOPE_TASK_HASH=1
	steal0=$(awk '/^cpu /{print $9}' /proc/stat)
	"$POOLSCOPE" run "${extra[@]}" -q --json "$TMPD/truth-$mode.json" -- "$PROGS/truth" 4 200 \
		>"$TMPD/truth-$mode.txt" 2>"$TMPD/truth-$mode.err"
	rc=$?
	# steal time (hypervisor) during the run, in ns, for the on-CPU check
	export STEAL_NS=$(( ($(awk '/^cpu /{print $9}' /proc/stat) - steal0) * 1000000000 / $(getconf CLK_TCK) ))
	check "run truth ($mode): exit status 0" "status $rc: $(cat "$TMPD/truth-$mode.err")" [ $rc -eq 0 ]
	got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["attach_mode"])' "$TMPD/truth-$mode.json" 2>&1)
	check "run truth ($mode): attached with ${mode%+hash}" "attach_mode is '$got'" [ "$got" = "${mode%+hash}" ]
	python3 "$TOP/tests/integration/truth_check.py" "$TMPD/truth-$mode.json" "$TMPD/truth-$mode.txt" "truth ($mode)"
	no_programs_left "run truth ($mode)"
done
unset POOLSCOPE_TASK_HASH

# --- a process pool: every process shows, both cores busy
"$POOLSCOPE" run --json "$TMPD/forker.json" -- "$PROGS/forker" 3 0.6 >"$TMPD/forker.txt" 2>&1
rc=$?
check "process pool: exit status 0" "status $rc" [ $rc -eq 0 ]
py - "$TMPD/forker.json" "$TMPD/forker.txt" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
children = set(int(x) for x in re.findall(r"child (\d+)", open(sys.argv[2]).read()))
pids = set(p["tgid"] for p in r["processes"])
ok = len(children) == 3 and children <= pids and len(pids) == 4
print("PASS: process pool: all 3 children and the parent are traced" if ok else
      "FAIL: process pool: all 3 children and the parent are traced: children %s, traced %s" % (children, pids))
busy = [c["traced_pct"] for c in r["cpus"]]
ok = len(busy) == 2 and min(busy) > 50
print("PASS: process pool: both cores substantially busy with the pool" if ok else
      "FAIL: process pool: both cores substantially busy with the pool: traced busy %% per core %s" % busy)
par = r["totals"]["parallelism"]
print("PASS: process pool: parallelism > 1.5" if par > 1.5 else
      "FAIL: process pool: parallelism > 1.5: %.2f" % par)
# the strip's slices add up to each core's busy time
for c in r["cpus"]:
    s = sum(sl[c["cpu"]] for sl in r["slices"]["busy_ns"])
    ok = abs(s - c["busy_ns"]) <= 0.02 * c["busy_ns"] + 2e6
    print(("PASS: " if ok else "FAIL: ") + "process pool: cpu%d time slices sum to its busy time%s" %
          (c["cpu"], "" if ok else ": slices %d ns, busy %d ns" % (s, c["busy_ns"])))
PY
grep -q '^PER CORE' "$TMPD/forker.txt" && grep -q '^THREADS' "$TMPD/forker.txt" && grep -q '^CORES OVER TIME' "$TMPD/forker.txt"
check "process pool: text report has its sections" "$(head -5 "$TMPD/forker.txt")" [ $? -eq 0 ]
python3 -c 'import sys; sys.exit(any(len(l.rstrip("\n")) > 80 for l in open(sys.argv[1], encoding="utf-8")))' "$TMPD/forker.txt"
check "text report fits 80 columns" "a line is longer than 80 characters" [ $? -eq 0 ]
no_programs_left "process pool"

# --- a long trace keeps a bounded record of cores over time: at 1 ms
# slices, 6 s of CPU-bound children are ~6000 ticks, more than the 4096
# samples kept on 2 CPUs, so every other sample went and the slices doubled;
# the slices still hold all the time, against the children's getrusage
cat >"$TMPD/rusage.py" <<'PY'
import resource, subprocess, sys
subprocess.run(sys.argv[1:])
c, s = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
print("cpu_ns=%d" % ((c.ru_utime + c.ru_stime + s.ru_utime + s.ru_stime) * 1e9))
PY
"$POOLSCOPE" run -q --slice-ms 1 --json "$TMPD/long.json" -- python3 "$TMPD/rusage.py" "$PROGS/forker" 2 6 \
	>"$TMPD/long.txt" 2>&1
rc=$?
check "long trace at 1 ms slices: exit status 0" "status $rc: $(tail -3 "$TMPD/long.txt")" [ $rc -eq 0 ]
py - "$TMPD/long.json" "$TMPD/long.txt" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
m = re.search(r"cpu_ns=(\d+)", open(sys.argv[2]).read())
sl = r["slices"]
n, ns = len(sl["end_ns"]), sl["slice_ns"]
ok = 1000 <= n <= 4096 and ns >= 2000000
print(("PASS: " if ok else "FAIL: ") + "long trace: the record of cores over time is bounded "
      "(at most 4096 samples, slices grown from 1 ms)%s" % ("" if ok else ": %d samples of %d ns" % (n, ns)))
traced = sum(sum(v) for v in sl["traced_ns"])
truth = int(m.group(1)) if m else 0
ok = truth > 10e9 and abs(traced - truth) <= 0.05 * truth + 50e6
print(("PASS: " if ok else "FAIL: ") + "long trace: the slices' traced time equals the pool's getrusage "
      "within 5 %%: %.3f s against %.3f s" % (traced / 1e9, truth / 1e9))
ok = all(a < b for a, b in zip(sl["end_ns"], sl["end_ns"][1:]))
print(("PASS: " if ok else "FAIL: ") + "long trace: slice ends strictly increase")
PY
no_programs_left "long trace"

# --- -a: every task on the machine, not just the command's
sleep 5 & bystander=$!
"$POOLSCOPE" run -a -q --json "$TMPD/all.json" -- sh -c 'kill -STOP '$bystander'; kill -CONT '$bystander'; sleep 0.3' \
	>/dev/null 2>&1
rc=$?
kill $bystander 2>/dev/null
py - "$TMPD/all.json" $bystander <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
tids = set(t["tid"] for t in r["threads"])
ok = r["all_tasks"] and int(sys.argv[2]) in tids and len(r["processes"]) > 3
print(("PASS: " if ok else "FAIL: ") + "run -a: tasks that are not the command's are traced too" +
      ("" if ok else ": all_tasks %s, bystander in %s, %d processes" % (r["all_tasks"], sorted(tids)[:20], len(r["processes"]))))
PY
check "run -a: exit status 0" "status $rc" [ $rc -eq 0 ]
no_programs_left "run -a"

# --- exit status passes through
"$POOLSCOPE" run -q -- sh -c 'exit 3' >/dev/null 2>&1
rc=$?
check "exit status of the workload passes through" "got $rc, want 3" [ $rc -eq 3 ]

# --- bad input: one line on stderr, the right exit status, nothing left loaded
bad_input() { # name want-status pattern -- args...
	local name=$1 want=$2 pat=$3
	shift 4
	"$@" >"$TMPD/bad.out" 2>"$TMPD/bad.err"
	local rc=$? lines
	lines=$(wc -l <"$TMPD/bad.err")
	check "bad input: $name: exit $want" "got $rc: $(cat "$TMPD/bad.err")" [ $rc -eq "$want" ]
	check "bad input: $name: one clear line" "stderr: $(cat "$TMPD/bad.err")" \
		[ "$lines" -eq 1 -a -n "$(grep -E "$pat" "$TMPD/bad.err")" ]
	no_programs_left "bad input: $name"
}
bad_input "run with no command" 2 "no workload or command" -- "$POOLSCOPE" run
bad_input "unknown option" 2 "unknown option '--bogus'" -- "$POOLSCOPE" run --bogus -- true
bad_input "unknown workload" 2 "unknown workload 'nosuch'.*cpu-procs" -- "$POOLSCOPE" run nosuch
bad_input "command not found" 127 "nosuchcmd-xyz: command not found" -- "$POOLSCOPE" run -- nosuchcmd-xyz
bad_input "bad --slice-ms" 2 "invalid --slice-ms 'x'" -- "$POOLSCOPE" run --slice-ms x -- true
bad_input "unknown command" 2 "unknown command 'frobnicate'" -- "$POOLSCOPE" frobnicate
bad_input "not root" 1 "needs root" -- setpriv --reuid=65534 --regid=65534 --clear-groups "$POOLSCOPE" run -- true
bad_input "kernel without BTF" 1 "no BTF" -- env POOLSCOPE_BTF=/nonexistent "$POOLSCOPE" run -- true
bad_input "json into a missing directory" 2 "cannot write /nonexistent/x.json" -- "$POOLSCOPE" run --json /nonexistent/x.json -- true
ln -s "$TMPD/target" "$TMPD/link.json"
bad_input "json through a symlink" 2 "symbolic link" -- "$POOLSCOPE" run --json "$TMPD/link.json" -- true
check "json through a symlink: target untouched" "the symlink's target was created" [ ! -e "$TMPD/target" ]

# --- tracefs unmounted: scheduler tracing does not need it
if mountpoint -q /sys/kernel/tracing; then umount /sys/kernel/tracing; remounted=1; fi
"$POOLSCOPE" run -q --json "$TMPD/notracefs.json" -- "$PROGS/forker" 1 0.1 >/dev/null 2>"$TMPD/notracefs.err"
check "works with tracefs unmounted" "$(cat "$TMPD/notracefs.err")" [ $? -eq 0 ]
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(not r["features"]["locks"])' "$TMPD/notracefs.json"
check "tracefs unmounted: poolscope mounts it for the futex tracepoints" "locks feature off" [ $? -eq 0 ]
[ -n "${remounted:-}" ] && ! mountpoint -q /sys/kernel/tracing && mount -t tracefs nodev /sys/kernel/tracing

# --- two poolscopes at once each see their own workload
"$POOLSCOPE" run -q --json "$TMPD/a.json" -- "$PROGS/truth" 2 150 >"$TMPD/a.txt" 2>&1 &
pa=$!
"$POOLSCOPE" run -q --json "$TMPD/b.json" -- "$PROGS/forker" 2 0.3 >"$TMPD/b.txt" 2>&1
rb=$?
wait $pa; ra=$?
check "two concurrent poolscopes both succeed" "statuses $ra and $rb" [ $ra -eq 0 -a $rb -eq 0 ]
python3 "$TOP/tests/integration/truth_check.py" "$TMPD/a.json" "$TMPD/a.txt" "concurrent truth" | grep -E 'switches match'
py - "$TMPD/a.json" "$TMPD/b.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
ca = set(t["comm"] for t in a["threads"]); cb = set(t["comm"] for t in b["threads"])
ok = "forker" not in ca and "truth" not in cb and len(b["processes"]) == 3
print("PASS: concurrent poolscopes: each traced only its own workload" if ok else
      "FAIL: concurrent poolscopes: each traced only its own workload: %s / %s" % (ca, cb))
PY
no_programs_left "concurrent"

# interrupt OUT CMD...: run poolscope CMD in the background, SIGINT it after
# 1 s; sets rc (its status) and took (seconds from the signal to its exit)
interrupt() {
	local out=$1 p start
	shift
	"$POOLSCOPE" run "$@" >"$out" 2>&1 &
	p=$!
	sleep 1
	kill -INT $p
	start=$(date +%s)
	wait $p; rc=$?
	took=$(( $(date +%s) - start ))
}

# --- Ctrl-C: a signal to poolscope is forwarded, the report still printed
interrupt "$TMPD/int.txt" -- sleep 30
check "SIGINT: poolscope stops promptly with the workload's status" "status $rc after ${took}s" [ $rc -eq 130 -a $took -le 3 ]
check "SIGINT: the report is still printed" "$(tail -3 "$TMPD/int.txt")" grep -q '^PER CORE' "$TMPD/int.txt"
check "SIGINT: the workload was stopped" "a 'sleep 30' is still running" not pgrep -f '^sleep 30$'
no_programs_left "SIGINT"

# A workload that ignores SIGINT: poolscope waits 2 s, then reports anyway.
interrupt "$TMPD/int2.txt" -- sh -c 'trap "" INT TERM; sleep 6'
check "SIGINT ignored by the workload: report after the grace period" "status $rc after ${took}s" \
	[ $took -le 4 -a -n "$(grep '^PER CORE' "$TMPD/int2.txt")" ]
no_programs_left "SIGINT ignored"
pkill -f 'sleep 6$' 2>/dev/null

# --- sudo: the workload runs as the invoking user; outputs are theirs
out=$(SUDO_UID=65534 SUDO_GID=65534 "$POOLSCOPE" run -q -- sh -c 'echo "$(id -u):$(id -g):$(id -G)"' 2>&1)
check "sudo: workload runs as SUDO_UID/SUDO_GID, groups dropped" "workload printed '$out'" [ "$out" = "65534:65534:65534" ]
out=$(SUDO_UID=65534 SUDO_GID=65534 "$POOLSCOPE" run -q --as-root -- id -u 2>&1)
check "sudo: --as-root keeps root" "workload printed '$out'" [ "$out" = "0" ]
mkdir -p "$TMPD/userdir" && chown 65534:65534 "$TMPD/userdir" && chmod 755 "$TMPD"
SUDO_UID=65534 SUDO_GID=65534 "$POOLSCOPE" run -q --json "$TMPD/userdir/r.json" -- true 2>/dev/null
check "sudo: JSON output owned by the invoking user" "owner $(stat -c %u:%g "$TMPD/userdir/r.json" 2>&1)" \
	[ "$(stat -c %u:%g "$TMPD/userdir/r.json" 2>/dev/null)" = "65534:65534" ]
mkdir -p "$TMPD/rootdir" && chmod 755 "$TMPD/rootdir"
SUDO_UID=65534 SUDO_GID=65534 "$POOLSCOPE" run -q --json "$TMPD/rootdir/r.json" -- true 2>"$TMPD/perm.err"
rc=$?
check "sudo: refuses a directory the invoking user cannot write" "status $rc, $(cat "$TMPD/perm.err")" \
	[ $rc -eq 2 -a ! -e "$TMPD/rootdir/r.json" ]
exit 0
