#!/usr/bin/env bash
# tests/integration/test_top.sh: `poolscope top` in a real terminal (tmux on a
# private socket, 80x24): what capture-pane shows against /proc (both cores,
# the pool's threads by their TIDs), keys, resizing, and every way out (q,
# Ctrl-C, SIGTERM, the terminal closing) restoring the terminal (stty -a
# before and after, in the same pane) and leaving no BPF program; the busiest
# threads on the screen are the workers, as in a `run --json` of the same
# workload; bad input is one line.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	fail "top tests need root" "run make test as root (BPF tracing)"
	exit 1
fi
command -v tmux >/dev/null || { fail "tmux installed" "make deps installs it"; exit 1; }
TM=(tmux -L "poolscope-top-$$" -f /dev/null)
trap '"${TM[@]}" kill-server 2>/dev/null; rm -rf "$TMPD"' EXIT
NCPU=$(nproc)

screen() { "${TM[@]}" capture-pane -p -t "$1" 2>/dev/null; }
# wait_screen SESSION SECONDS PYTHON-EXPR: until the expression is true of
# the screen's lines (`rows`), or the time is up
wait_screen() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		screen "$1" | python3 -c "import sys; rows = sys.stdin.read().split('\n'); sys.exit(not ($3))" &&
			return 0
		sleep 0.1
	done
	return 1
}
# start_top SESSION ARGS...: top in a new 80x24 session, inside a shell that
# records the terminal's settings before and after and top's exit status,
# then ends the session. Like an interactive shell, it leaves Ctrl-C to top;
# the terminal closing ends it (the session's leader), and the kernel then
# sends SIGHUP to top (the foreground).
start_top() {
	local name=$1
	shift
	cat >"$TMPD/$name.sh" <<EOF
trap '' ${TRAPPED:-INT}
stty -a >"$TMPD/$name.before"
"$POOLSCOPE" top $* 2>"$TMPD/$name.err"
echo \$? >"$TMPD/$name.rc"
stty -a >"$TMPD/$name.after" 2>&1
EOF
	"${TM[@]}" new-session -d -s "$name" -x 80 -y 24 "sh $TMPD/$name.sh"
}
# The PID of top in a session (the pane's shell's child).
top_pid() { pgrep -P "$("${TM[@]}" display -p -t "$1" '#{pane_pid}')" -x poolscope; }
wait_gone() { # PID SECONDS
	local i
	for ((i = 0; i < $2 * 10; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}
wait_file() { # FILE SECONDS
	local i
	for ((i = 0; i < $2 * 10; i++)); do [ -s "$1" ] && return 0; sleep 0.1; done
	return 1
}
# ends NAME HOW: top in session NAME has exited with status 0 and left the
# terminal as it found it, and no BPF program
ends() {
	local name=$1 how=$2 pid=$3
	check "top: $how ends it" "still running 10 s later" wait_gone "$pid" 10
	wait_file "$TMPD/$name.rc" 5
	check "top: $how: exit status 0" "status '$(cat "$TMPD/$name.rc" 2>/dev/null)': $(cat "$TMPD/$name.err")" \
		[ "$(cat "$TMPD/$name.rc" 2>/dev/null)" = 0 ]
	wait_file "$TMPD/$name.after" 5
	check "top: $how restores the terminal (stty -a the same as before)" \
		"$(diff "$TMPD/$name.before" "$TMPD/$name.after" | head -5)" \
		cmp -s "$TMPD/$name.before" "$TMPD/$name.after"
	no_programs_left "top: $how"
}

# --- a pool of 2 workers, busy for minutes
"$WORKLOADS/cpu-threads" -w 2 -t 10000 -q >/dev/null &
WL=$!
for _ in $(seq 50); do [ "$(ls /proc/$WL/task | wc -l)" -ge 3 ] && break; sleep 0.1; done
WORKERS=$(ls /proc/$WL/task | grep -vx "$WL" | sort | tr '\n' ' ')
check "the workload has its 2 workers (the truth for what follows)" "tasks: $(ls /proc/$WL/task)" \
	[ "$(echo $WORKERS | wc -w)" -eq 2 ]

t0=$(date +%s.%N)
start_top main -p "$WL"
# every core has a row, and the thread rows are the pool's threads
CORES="all(any(r.startswith('cpu%d ' % c) for r in rows) for c in range($NCPU))"
THREADS="{r.split()[0] for r in rows if len(r.split()) == 9 and r.split()[1] == '$WL'} == set('$WORKERS $WL'.split())"
if wait_screen main 3 "$CORES and $THREADS"; then
	pass "top: within 3 s the screen shows every core ($NCPU) and the pool's threads ($(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s)"
else
	fail "top: within 3 s the screen shows every core ($NCPU) and the pool's threads" "$(screen main)"
fi
widest=$(screen main | awk '{ sub(/ +$/, ""); if (length > w) w = length } END { print w }')
rows=$(screen main | wc -l)
check "top: the screen fits 80x24" "widest $widest, $rows rows" [ "$widest" -le 80 -a "$rows" -le 24 ]
# the busiest rows are the workers, the main thread idles (it waits for results)
screen main >"$TMPD/main.screen"
py - "$TMPD/main.screen" "$WL" "$WORKERS" <<'PY'
import sys
rows = [r.split() for r in open(sys.argv[1])]
pid, workers = sys.argv[2], set(sys.argv[3].split())
threads = [r for r in rows if len(r) == 9 and r[1] == pid]
top = [r[0] for r in threads[:2]]
ok = set(top) == workers and threads[2][0] == pid and float(threads[2][3]) < 5
print(("PASS: " if ok else "FAIL: ") + "top: the busiest threads (CPU%) are the 2 workers, the main thread "
      "below 5%" + ("" if ok else ": %s" % threads))
PY
"$POOLSCOPE" run -q --json "$TMPD/run.json" cpu-threads -w 2 -t 4 -s 300000000 >/dev/null 2>"$TMPD/run.err"
py - "$TMPD/run.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
th = sorted(r["threads"], key=lambda t: -t["oncpu_ns"])
main = [t for t in th if t["tid"] == t["tgid"] and t["comm"] == "cpu-threads"]
ok = len(th) == 3 and all(t["tid"] != t["tgid"] for t in th[:2]) and main and \
    main[0]["oncpu_ns"] < 0.05 * th[1]["oncpu_ns"]
print(("PASS: " if ok else "FAIL: ") + "run --json of the same workload: the same shape (the 2 busiest "
      "threads are the workers, the main thread a small share)" +
      ("" if ok else ": %s" % [(t["tid"], t["tgid"], t["oncpu_ns"]) for t in th]))
PY

# --- keys
"${TM[@]}" send-keys -t main 1
check "top: key 1 shows the per-thread view (one row for all cores)" "$(screen main)" \
	wait_screen main 2 "any(r.startswith('all ') for r in rows) and not any(r.startswith('cpu0 ') for r in rows)"
"${TM[@]}" send-keys -t main 1
check "top: key 1 again: the per-core view" "$(screen main)" \
	wait_screen main 2 "any(r.startswith('cpu0 ') for r in rows)"
"${TM[@]}" send-keys -t main s
check "top: key s sorts by the next column (run-queue wait)" "$(screen main)" \
	wait_screen main 2 "'sort: run-queue wait' in rows[-1] or 'sort: run-queue wait' in ''.join(rows)"
"${TM[@]}" send-keys -t main p
check "top: key p pauses" "$(screen main)" wait_screen main 2 "'PAUSED' in rows[0]"
screen main | sed 1d >"$TMPD/paused.1"
sleep 2.2
screen main | sed 1d >"$TMPD/paused.2"
check "top: paused, the numbers stay (2 s)" "$(diff "$TMPD/paused.1" "$TMPD/paused.2")" \
	cmp -s "$TMPD/paused.1" "$TMPD/paused.2"
"${TM[@]}" send-keys -t main p
check "top: key p again resumes" "$(screen main)" wait_screen main 3 "'PAUSED' not in rows[0]"

# --- resizing: the screen is laid out again for the new size
bar() { # the width of the first core's bar, as the screen shows it
	screen main | awk '/^cpu0 / { a = index($0, "["); b = index($0, "]"); print b - a - 1 }'
}
w80=$(bar)
"${TM[@]}" resize-window -t main -x 100 -y 30
check "top: resized to 100x30, it is drawn again (the keys on row 30, the bars 20 wider)" \
	"bar $w80 -> $(bar): $(screen main)" \
	wait_screen main 3 "len(rows) >= 30 and 'q quit' in rows[29] and any(r.startswith('cpu0 ') and r.index(']') - r.index('[') - 1 == $w80 + 20 for r in rows)"
"${TM[@]}" resize-window -t main -x 30 -y 6
check "top: at 30x6 it says it is too small" "$(screen main)" \
	wait_screen main 3 "'too small: 30x6' in rows[0]"
"${TM[@]}" resize-window -t main -x 80 -y 24
check "top: back at 80x24, the full screen again" "$(screen main)" \
	wait_screen main 3 "any(r.startswith('cpu0 ') for r in rows) and 'q quit' in rows[23]"

# --- ways out
pid=$(top_pid main)
"${TM[@]}" send-keys -t main q
ends main "q" "$pid"

start_top intr -p "$WL"
wait_screen intr 5 "$CORES"
pid=$(top_pid intr)
"${TM[@]}" send-keys -t intr C-c
ends intr "Ctrl-C" "$pid"

start_top term -p "$WL"
wait_screen term 5 "$CORES"
pid=$(top_pid term)
kill -TERM "$pid"
ends term "SIGTERM" "$pid"

start_top hup -p "$WL"
wait_screen hup 5 "$CORES"
pid=$(top_pid hup)
"${TM[@]}" kill-session -t hup
check "top: the terminal closing (tmux kill-session) ends it" "still running 10 s later" wait_gone "$pid" 10
# the line it prints after restoring the terminal and detaching: it left by
# its own way out, not killed by the signal
check "top: the terminal closing: it restores, detaches and says so" "stderr: $(cat "$TMPD/hup.err")" \
	grep -q "the terminal closed" "$TMPD/hup.err"
no_programs_left "top: the terminal closing"
# a session leader that ignores SIGHUP: no signal, but top sees the hangup
TRAPPED="INT HUP" start_top hup2 -p "$WL"
wait_screen hup2 5 "$CORES"
pid=$(top_pid hup2)
"${TM[@]}" kill-session -t hup2
check "top: the terminal closing without a SIGHUP ends it" "still running 10 s later" wait_gone "$pid" 10
wait_file "$TMPD/hup2.rc" 5
check "top: the terminal closing without a SIGHUP: status 0, and it says so" \
	"status '$(cat "$TMPD/hup2.rc" 2>/dev/null)': $(cat "$TMPD/hup2.err")" \
	[ "$(cat "$TMPD/hup2.rc" 2>/dev/null)" = 0 -a -n "$(grep "the terminal closed" "$TMPD/hup2.err")" ]
no_programs_left "top: the terminal closing without a SIGHUP"

# --- the targets exiting ends it too, and says so
"$WORKLOADS/cpu-threads" -w 2 -t 16 -s 400000000 -q >/dev/null &
SHORT=$!
start_top short -p "$SHORT"
wait_screen short 5 "$CORES"
pid=$(top_pid short)
wait $SHORT
ends short "the target's exit" "$pid"
check "top: the target's exit is said after the screen ends" "$(cat "$TMPD/short.err")" \
	grep -q "the traced processes exited" "$TMPD/short.err"

# --- --comm: processes that start later, as attach takes them (under a
# name of this test's own: other tests may run cpu-threads meanwhile)
LATE_NAME=pstop$$
cp "$WORKLOADS/cpu-threads" "$TMPD/$LATE_NAME"
start_top comm --comm "$LATE_NAME"
wait_screen comm 5 "'$NCPU CPUs' in ''.join(rows)"
"$TMPD/$LATE_NAME" -w 2 -t 10000 -q >/dev/null &
LATE=$!
check "top --comm: a process started later shows with its threads" "$(screen comm)" \
	wait_screen comm 5 "sum(1 for r in rows if len(r.split()) == 9 and r.split()[1] == '$LATE') == 3"
pid=$(top_pid comm)
"${TM[@]}" send-keys -t comm q
ends comm "q after --comm" "$pid"
kill $LATE $WL 2>/dev/null
wait $LATE $WL 2>/dev/null

# --- bad input: one line, status 2, nothing loaded
out=$("$POOLSCOPE" top -p $$ </dev/null 2>&1 >/dev/null); rc=$?
check "top: not on a terminal: one line, status 2" "status $rc: $out" \
	[ $rc -eq 2 -a "$(echo "$out" | wc -l)" -eq 1 ]
out=$(script -qc "TERM=no-such-terminal $POOLSCOPE top -p $$" /dev/null 2>&1 | tr -d '\r')
check "top: an unknown TERM: one line naming it" "$out" \
	[ "$(echo "$out" | wc -l)" -eq 1 -a -n "$(echo "$out" | grep no-such-terminal)" ]
for args in "" "-p 0" "-i 0 -p $$" "--json x -p $$" "-p $$ extra" "-p $$ -a"; do
	out=$("$POOLSCOPE" top $args 2>&1 </dev/null); rc=$?
	check "top $args: one line, status 2" "status $rc: $out" \
		[ $rc -eq 2 -a "$(echo "$out" | wc -l)" -eq 1 ]
done
no_programs_left "top: bad input"
