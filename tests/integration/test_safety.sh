#!/usr/bin/env bash
# tests/integration/test_safety.sh: what a tracer running as root on a busy
# production box must get right, each against the kernel's own account:
#  - thread slots are reused: a process that creates and joins 100k threads
#    is traced with 0 drops, and its voluntary/involuntary switches equal its
#    own getrusage(RUSAGE_SELF) (which sums every thread it ever had);
#  - nothing stays attached when poolscope is killed (kill -9), when the
#    traced command is SIGKILLed or OOM-killed;
#  - start-up beside 32 CPU hogs, and Ctrl-C at any moment of start-up;
#  - outputs never lie about having been written (a full disk, SIGHUP, kill -9);
#  - attach targets that churn (a PID that exited, a prefork master's children);
#  - dropped data is said on stderr even with -q, and lowers the confidence.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	fail "safety tests need root" "run make test as root (BPF tracing)"
	exit 1
fi
CHURN=$BUILD/tests/progs/churn

# churn_check NAME JSON OUT: the churn process's totals against its getrusage
churn_check() {
	py - "$@" <<'PY'
import json, re, sys
name, report, out = sys.argv[1:]
r = json.load(open(report))
m = re.search(r"churn: threads=(\d+) vol=(\d+) invol=(\d+)", open(out).read())
def res(ok, what, why):
    print(("PASS: " if ok else "FAIL: ") + "%s: %s" % (name, what) + ("" if ok else ": " + why))
res(m is not None, "churn printed its getrusage", open(out).read()[-200:])
if m:
    made, vol, invol = map(int, m.groups())
    p = [p for p in r["processes"] if p["comm"] == "churn"]
    res(len(p) == 1, "one churn process in the report", str([x["comm"] for x in r["processes"]]))
    if p:
        p = p[0]
        res(r["dropped"]["total"] == 0, "nothing dropped", str(r["dropped"]))
        res(p["threads"] == made + 1, "every thread counted (%d created + main)" % made,
            "%d threads in the report" % p["threads"])
        for k, truth in (("vol", vol), ("invol", invol)):
            res(abs(p[k] - truth) <= max(2, 0.005 * truth),
                "%s switches equal getrusage's within 0.5 %%" % k, "poolscope %d, getrusage %d" % (p[k], truth))
PY
}

# --- thread churn: 100k threads through 8192 slots
"$POOLSCOPE" run -q --json "$TMPD/churn.json" -- "$CHURN" 100000 8 90 >"$TMPD/churn.out" 2>&1
rc=$?
check "churn 100k: exit 0" "status $rc: $(tail -2 "$TMPD/churn.out")" [ $rc -eq 0 ]
churn_check "churn 100k" "$TMPD/churn.json" "$TMPD/churn.out"
py - "$TMPD/churn.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = r["totals"]["folded_threads"] > 90000
print(("PASS: " if ok else "FAIL: ") + "churn 100k: exited threads gave their slots to new ones (folded into their process)" +
      ("" if ok else ": %d folded" % r["totals"]["folded_threads"]))
PY
# the same through 64 slots
"$POOLSCOPE" run -q --max-threads 64 --json "$TMPD/churn64.json" -- "$CHURN" 5000 4 60 >"$TMPD/churn64.out" 2>&1
churn_check "churn through 64 slots" "$TMPD/churn64.json" "$TMPD/churn64.out"
# attach -a while a process churns: the machine view loses nothing either
"$CHURN" 40000 8 60 >"$TMPD/bg.out" 2>&1 &
bg=$!
sleep 0.3
"$POOLSCOPE" attach -a -q -d 2 --max-threads 512 --json "$TMPD/all.json" 2>"$TMPD/all.err"
rc=$?
wait $bg
# Nothing dropped, or else only task-storage refusals, at most 1 per 10,000
# threads churned, and said: the kernel refuses to create a task's storage
# while another BPF program on that CPU is inside a storage call (its
# recursion guard; most likely a wakeup in an interrupt that came during
# the fork program, not proven); that task is taken at its next event.
# Seen once (CI, a clean clone, 2026-12-02).
py - "$TMPD/all.json" "$rc" "$TMPD/all.err" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
err = open(sys.argv[3]).read()
d = r["dropped"]
others = {k: v for k, v in d.items() if k not in ("total", "storage_fail") and v}
ok = sys.argv[2] == "0" and not others and d["storage_fail"] <= 4 and r["totals"]["folded_threads"] > 0
print(("PASS: " if ok else "FAIL: ") + "attach -a beside thread churn through 512 slots: nothing dropped "
      "but a task-storage refusal per 10,000 threads at most" +
      ("" if ok else ": status %s, dropped %s, folded %d" % (sys.argv[2], d, r["totals"]["folded_threads"])))
said = "data lost" in err and ("task-storage failures" in err) == (d["storage_fail"] > 0)
ok = said if d["total"] else "data lost" not in err
print(("PASS: " if ok else "FAIL: ") + "attach -a beside thread churn: a data-lost warning exactly when something was dropped (%d), naming it" % d["total"] +
      ("" if ok else ": " + err.strip()[-300:]))
PY
no_programs_left "thread churn"

# --- processes that come and go: a trace holds the memory maps of the
# live ones and of those that left stacks, not of every process it saw.
# The truth is the count of processes started: 400 sleeps of 0.2 s, 20 at
# a time (each lives through several slices, so each is seen and tracked)
cat >"$TMPD/spawner.sh" <<'SH'
for i in $(seq 20); do
	for j in $(seq 20); do sleep 0.2 & done
	wait
done
echo "spawned=400"
SH
"$POOLSCOPE" run -q --json "$TMPD/gone.json" -- sh "$TMPD/spawner.sh" >"$TMPD/spawner.out" 2>"$TMPD/gone.err"
rc=$?
check "processes that come and go: run exit status 0" "status $rc: $(tail -2 "$TMPD/gone.err")" [ $rc -eq 0 ]
py - "$TMPD/gone.json" "$TMPD/spawner.out" "$(ls /proc | grep -c '^[0-9]')" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
spawned = int(open(sys.argv[2]).read().split("=")[1])
live = int(sys.argv[3])
seen = sum(1 for p in r["processes"] if p["comm"] == "sleep")
held = r["timing"]["sym_processes"]
ok = seen >= spawned // 2 and held <= 50
print(("PASS: " if ok else "FAIL: ") + "processes that come and go: the maps held are bounded by the live "
      "processes, not every one seen (%d held, at most 50; %d of %d sleeps traced; %d processes live now)" % (held, seen, spawned, live))
PY
no_programs_left "processes that come and go"

# --- nothing left attached when poolscope or its command is killed
"$POOLSCOPE" run -q --json "$TMPD/k9.json" -- sleep 20 >/dev/null 2>&1 &
ps=$!
sleep 1
kill -9 $ps
wait $ps 2>/dev/null
no_programs_left "poolscope killed with kill -9"
check "kill -9: no truncated JSON at the path (it is written whole at the end, or not at all)" \
	"$(ls -la "$TMPD"/k9.json 2>&1)" [ ! -e "$TMPD/k9.json" ]

"$POOLSCOPE" run -- sh -c 'kill -9 $$' >"$TMPD/sk.out" 2>&1
rc=$?
check "traced command SIGKILLed: exit 137 and the report" "status $rc" \
	[ $rc -eq 137 -a -n "$(grep DIAGNOSIS "$TMPD/sk.out")" ]
no_programs_left "traced command SIGKILLed"

# OOM: the command runs in a memory cgroup capped at 64 MiB and allocates
# until the OOM killer ends it
memcg=
for d in /sys/fs/cgroup/memory /sys/fs/cgroup/unified /sys/fs/cgroup; do
	if [ -e "$d/memory.limit_in_bytes" ]; then memcg=$d/poolscope-oom-$$; mkdir -p "$memcg" &&
		echo $((64 << 20)) >"$memcg/memory.limit_in_bytes" && break
	elif [ -e "$d/cgroup.controllers" ] && grep -qw memory "$d/cgroup.controllers"; then
		memcg=$d/poolscope-oom-$$; mkdir -p "$memcg" && echo $((64 << 20)) >"$memcg/memory.max" && break
	fi
	memcg=
done
if [ -n "$memcg" ]; then
	echo 0 >"$memcg/memory.swappiness" 2>/dev/null
	"$POOLSCOPE" run -- sh -c "echo \$\$ >$memcg/cgroup.procs && exec python3 -c '
x = []
while True: x.append(bytearray(1 << 20))'" >"$TMPD/oom.out" 2>&1
	rc=$?
	check "traced command OOM-killed: exit 137 and the report" "status $rc: $(tail -2 "$TMPD/oom.out")" \
		[ $rc -eq 137 -a -n "$(grep DIAGNOSIS "$TMPD/oom.out")" ]
	no_programs_left "traced command OOM-killed"
	rmdir "$memcg" 2>/dev/null
else
	fail "OOM test: a memory cgroup" "no memory controller found under /sys/fs/cgroup"
fi

# --- start-up beside 32 CPU hogs, and Ctrl-C during start-up
hogs=()
for i in $(seq 32); do (while :; do :; done) & hogs+=($!); done
"$POOLSCOPE" run -q --json "$TMPD/hog.json" -- true >/dev/null 2>&1
py - "$TMPD/hog.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["timing"]["setup_ns"] / 1e9
ok = t < 0.5
print(("PASS: " if ok else "FAIL: ") + "beside 32 CPU hogs tracing is active within 0.5 s" + ("" if ok else ": %.3f s" % t))
print("note: start-up beside 32 hogs: %.3f s" % t)
PY
slow=
for delay in 0.01 0.05 0.1 0.2 0.3; do
	"$POOLSCOPE" run -q --json "$TMPD/int.json" -- sleep 10 >/dev/null 2>"$TMPD/int.err" &
	ps=$!
	sleep $delay
	t0=$(date +%s%N)
	kill -INT $ps
	wait $ps
	rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ $ms -gt 500 ] && slow="$slow ${delay}s:${ms}ms"
	[ $rc -ne 130 ] && slow="$slow ${delay}s:status$rc"
	ls -a "$TMPD" | grep -q '^\.int\.json\.poolscope' && slow="$slow ${delay}s:temp-file-left"
done
kill "${hogs[@]}" 2>/dev/null
wait "${hogs[@]}" 2>/dev/null
check "Ctrl-C at 10-300 ms after the start (beside 32 hogs) stops within 0.5 s, status 130, no temp file" \
	"$slow" [ -z "$slow" ]
no_programs_left "Ctrl-C during start-up"

# --- outputs that never lie about having been written
err_line() { # FILE: one line naming /dev/full or stdout and the cause
	[ "$(wc -l <"$1")" -eq 1 ] && grep -qE '(/dev/full|standard output): No space left on device' "$1"
}
full_ok() { [ "$1" -ne 0 ] && err_line "$2"; }   # STATUS ERR-FILE
"$POOLSCOPE" run -q --json /dev/full -- true 2>"$TMPD/full1.err" >/dev/null
rc=$?
check "--json /dev/full: non-zero exit, one line with the cause" "status $rc: $(cat "$TMPD/full1.err")" \
	full_ok $rc "$TMPD/full1.err"
"$POOLSCOPE" run -q --json - -- true >/dev/full 2>"$TMPD/full2.err"
rc=$?
check "--json - to a full stdout: non-zero exit, one line with the cause" "status $rc: $(cat "$TMPD/full2.err")" \
	full_ok $rc "$TMPD/full2.err"
"$POOLSCOPE" run -- true >/dev/full 2>"$TMPD/full3.err"
rc=$?
check "text report to a full stdout: non-zero exit, one line with the cause" "status $rc: $(cat "$TMPD/full3.err")" \
	full_ok $rc "$TMPD/full3.err"
"$POOLSCOPE" run -q --stacks offcpu --folded /dev/full -- sleep 0.2 2>"$TMPD/full4.err"
rc=$?
check "--folded /dev/full: non-zero exit, one line with the cause" "status $rc: $(cat "$TMPD/full4.err")" \
	full_ok $rc "$TMPD/full4.err"
"$POOLSCOPE" run -q --json "$TMPD/hup.json" -- sleep 20 >/dev/null 2>&1 &
ps=$!
sleep 1
kill -HUP $ps
wait $ps
check "SIGHUP: the trace stops and the JSON is written whole" "$(head -c 200 "$TMPD/hup.json" 2>&1)" \
	python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$TMPD/hup.json"
echo '{"old": true}' >"$TMPD/keep.json"
"$POOLSCOPE" run -q --json "$TMPD/keep.json" -- sleep 20 >/dev/null 2>&1 &
ps=$!
sleep 1
kill -9 $ps
wait $ps 2>/dev/null
check "kill -9 leaves an existing output file as it was" "$(cat "$TMPD/keep.json")" \
	grep -q '"old": true' "$TMPD/keep.json"
no_programs_left "outputs"

# --- attach targets that churn
sleep 30 &
live=$!
sh -c 'exit 0' &
gone=$!
wait $gone
"$POOLSCOPE" attach -q -p "$gone,$live" -d 0.5 --json "$TMPD/churnp.json" 2>"$TMPD/churnp.err"
rc=$?
warned_ok() { [ "$1" -eq 0 ] && grep -q "no PID $2" "$3"; }
check "attach -p with one PID that exited: warns and traces the rest" "status $rc: $(cat "$TMPD/churnp.err")" \
	warned_ok $rc $gone "$TMPD/churnp.err"
kill $live 2>/dev/null
"$BUILD/tests/progs/forker" 4 3 >"$TMPD/forker.out" &
master=$!
sleep 0.5
"$POOLSCOPE" attach -q -p $master --children -d 1 --json "$TMPD/prefork.json" 2>"$TMPD/prefork.err"
wait $master
py - "$TMPD/prefork.json" "$TMPD/forker.out" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
kids = set(map(int, re.findall(r"\d+", open(sys.argv[2]).read())))
seen = {p["tgid"] for p in r["processes"]}
ok = len(kids) == 4 and kids <= seen
print(("PASS: " if ok else "FAIL: ") + "attach --children includes the children a prefork master already has" +
      ("" if ok else ": children %s, traced %s" % (sorted(kids), sorted(seen))))
PY

# --- drops are said, even with -q, and cost confidence
"$POOLSCOPE" run -q --max-threads 1 --json "$TMPD/drop.json" cpu-threads -w 2 >/dev/null 2>"$TMPD/drop.err"
check "dropped data: a warning on stderr even with -q" "$(cat "$TMPD/drop.err")" \
	grep -q 'data lost' "$TMPD/drop.err"
py - "$TMPD/drop.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["diagnosis"]
ok = d["confidence_word"] != "high" and "dropped" in d["text"]
print(("PASS: " if ok else "FAIL: ") + "dropped data lowers the verdict's confidence and the text says so" +
      ("" if ok else ": %s %.2f: %s" % (d["confidence_word"], d["confidence"], d["text"][-120:])))
PY
no_programs_left "safety"
exit 0
