#!/usr/bin/env bash
# tests/integration/test_attach.sh: `poolscope attach` against the kernel's
# own counters over the same window, interval mode, ending when the target
# exits, and every bad input.
. "$(dirname "$0")/../lib.sh"
PROGS=$BUILD/tests/progs

if [ "$(id -u)" -ne 0 ]; then
	fail "attach tests need root" "run make test as root (BPF tracing)"
	exit 1
fi
# "TID vol invol run_ns wait_ns" for every thread of process $1
proc_counters() {
	local t
	for t in /proc/$1/task/*; do
		echo "${t##*/} $(awk '/^voluntary_ctxt/{v=$2} /^nonvoluntary_ctxt/{n=$2} END{print v, n}' $t/status) $(cut -d' ' -f1,2 $t/schedstat)"
	done
}
wait_for() { # file pattern seconds
	local i
	for ((i = 0; i < $3 * 10; i++)); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
start_phases() { # -> $PH (pid), $PHOUT
	PHOUT=$TMPD/phases.$RANDOM
	"$PROGS/phases" "$@" >"$PHOUT" 2>&1 &
	PH=$!
	wait_for "$PHOUT" '^ready' 5
}

# --- the window's counters against /proc deltas; Ctrl-C ends it
start_phases 3 300
proc_counters $PH >"$TMPD/before.txt"
"$POOLSCOPE" attach -p $PH -q --json "$TMPD/attach.json" 2>"$TMPD/attach.err" &
AP=$!
wait_for "$TMPD/attach.err" 'attached' 10
kill -USR1 $PH
wait_for "$PHOUT" '^worked' 20
sleep 0.2
kill -INT $AP
wait $AP; rc=$?
proc_counters $PH >"$TMPD/after.txt"
check "attach: Ctrl-C ends the trace with status 0" "status $rc: $(cat "$TMPD/attach.err")" [ $rc -eq 0 ]
python3 "$TOP/tests/integration/attach_check.py" "$TMPD/attach.json" "$TMPD/before.txt" "$TMPD/after.txt" "attach -p"
no_programs_left "attach -p"

# --- attach ends by itself when the process exits
"$POOLSCOPE" attach -p $PH >"$TMPD/exit.out" 2>"$TMPD/exit.err" &
AP=$!
wait_for "$TMPD/exit.err" 'attached' 10
kill -USR2 $PH
wait $PH
for i in $(seq 50); do kill -0 $AP 2>/dev/null || break; sleep 0.1; done
if kill -0 $AP 2>/dev/null; then
	kill -INT $AP
	fail "attach: ends by itself when every traced process has exited" "still running 5 s after the exit"
else
	wait $AP; rc=$?
	check "attach: ends by itself when every traced process has exited" "status $rc" \
		[ $rc -eq 0 -a -n "$(grep '^PER CORE' "$TMPD/exit.out")" ]
fi
no_programs_left "attach until exit"

# --- interval reports add up to the whole window
start_phases 2 1500
"$POOLSCOPE" attach -p $PH -i 0.4 -d 2 -q --json "$TMPD/iv.ndjson" 2>"$TMPD/iv.err" &
AP=$!
wait_for "$TMPD/iv.err" 'attached' 10
kill -USR1 $PH
wait $AP; rc=$?
kill -USR2 $PH; wait $PH
check "attach -i: exit 0" "status $rc: $(cat "$TMPD/iv.err")" [ $rc -eq 0 ]
py - "$TMPD/iv.ndjson" <<'PY'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
iv = [o for o in objs if o["interval"] > 0]
final = [o for o in objs if o["interval"] == 0]
ok = 4 <= len(iv) <= 6 and len(final) == 1
print(("PASS: " if ok else "FAIL: ") + "attach -i 0.4 -d 2: about 5 interval reports, then the whole window" +
      ("" if ok else ": %d intervals, %d final" % (len(iv), len(final))))
if ok:
    s = sum(o["totals"]["switches"] for o in iv)
    f = final[0]["totals"]["switches"]
    print(("PASS: " if s == f else "FAIL: ") + "attach -i: interval switch counts sum to the whole window's" +
          ("" if s == f else ": %d vs %d" % (s, f)))
    w = sum(o["wall_ns"] for o in iv)
    ok = abs(w - final[0]["wall_ns"]) < 1e6
    print(("PASS: " if ok else "FAIL: ") + "attach -i: intervals cover the window" +
          ("" if ok else ": %d vs %d ns" % (w, final[0]["wall_ns"])))
PY
no_programs_left "attach -i"

# --- bad input: one line, exit 2 (or 1 when tracing cannot start), nothing left
bad_attach() { # name want-status pattern -- cmd...
	local name=$1 want=$2 pat=$3
	shift 4
	"$@" >"$TMPD/bad.out" 2>"$TMPD/bad.err"
	local rc=$?
	check "attach bad input: $name: exit $want" "got $rc: $(cat "$TMPD/bad.err")" [ $rc -eq "$want" ]
	check "attach bad input: $name: one clear line" "stderr: $(cat "$TMPD/bad.err")" \
		[ "$(wc -l <"$TMPD/bad.err")" -eq 1 -a -n "$(grep -E "$pat" "$TMPD/bad.err")" ]
	no_programs_left "attach bad input: $name"
}
bad_attach "PID that does not exist" 2 "no process with PID 4000000" -- "$POOLSCOPE" attach -p 4000000 -d 1
bad_attach "PID 0" 2 "invalid PID '0'" -- "$POOLSCOPE" attach -p 0
bad_attach "negative PID" 2 "invalid PID '-5'" -- "$POOLSCOPE" attach -p -5
bad_attach "garbage in the PID list" 2 "invalid PID 'x'" -- "$POOLSCOPE" attach -p 1,x
bad_attach "-d 0" 2 "invalid -d/--duration '0'" -- "$POOLSCOPE" attach -p 1 -d 0
bad_attach "negative duration" 2 "invalid -d/--duration '-1'" -- "$POOLSCOPE" attach -p 1 -d -1
bad_attach "both -p and -a" 2 "one kind of target" -- "$POOLSCOPE" attach -p 1 -a
bad_attach "no target" 2 "no target" -- "$POOLSCOPE" attach -d 1
bad_attach "attaching to poolscope itself" 2 "refusing to trace poolscope itself" -- \
	bash -c 'exec "$0" attach -p $$ -d 1' "$POOLSCOPE"
# --comm follows processes that start later: none yet is no error
"$POOLSCOPE" attach --comm no-such-comm -d 0.5 -q >/dev/null 2>"$TMPD/nocomm.err"
rc=$?
check "attach --comm with no such process yet: says so, traces until -d, exit 0" \
	"status $rc: $(cat "$TMPD/nocomm.err")" \
	[ $rc -eq 0 -a -n "$(grep "no process named 'no-such-comm' yet" "$TMPD/nocomm.err")" ]
no_programs_left "attach --comm, none yet"
# a PID that exits right after the check: whichever side of the check it
# lands on, a clear error and nothing left attached
true & gone=$!
"$POOLSCOPE" attach -p $gone -d 1 >/dev/null 2>"$TMPD/gone.err"
rc=$?
check "attach bad input: PID that exits right away: non-zero exit, clear line" "status $rc: $(cat "$TMPD/gone.err")" \
	[ $rc -ne 0 -a -n "$(grep -E 'no process with PID|exited before tracing started' "$TMPD/gone.err")" ]
no_programs_left "attach bad input: exiting PID"
# a kernel thread: allowed, said so
"$POOLSCOPE" attach -p 2 -d 0.3 -q >/dev/null 2>"$TMPD/kt.err"
rc=$?
check "attach a kernel thread: allowed, and said so" "status $rc: $(cat "$TMPD/kt.err")" \
	[ $rc -eq 0 -a -n "$(grep 'kernel thread' "$TMPD/kt.err")" ]
no_programs_left "attach kernel thread"

# --- --tid traces that one thread only
start_phases 2 200
tid=$(ls /proc/$PH/task | sort -n | sed -n 2p)
"$POOLSCOPE" attach --tid $tid -q --json "$TMPD/tid.json" 2>"$TMPD/tid.err" &
AP=$!
wait_for "$TMPD/tid.err" 'attached' 10
kill -USR1 $PH
wait_for "$PHOUT" '^worked' 20
kill -INT $AP; wait $AP
kill -USR2 $PH; wait $PH
py - "$TMPD/tid.json" $tid <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
tids = [t["tid"] for t in r["threads"]]
ok = tids == [int(sys.argv[2])] and r["threads"][0]["vol"] > 10
print(("PASS: " if ok else "FAIL: ") + "attach --tid: only that thread is traced" + ("" if ok else ": %s" % tids))
PY
no_programs_left "attach --tid"
exit 0
