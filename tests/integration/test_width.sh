#!/usr/bin/env bash
# tests/integration/test_width.sh: every line poolscope prints fits 80
# columns (160 with -w), counted in characters: every command's help, the
# workloads' help, `list`, the report of a run of each bundled workload
# (with stacks and locks, so that every section is there), attach -i, and
# compare. Then the rest of "readable output": the top-level help's
# examples name real commands and workloads; `help foo` is an error; the
# interval headers keep sub-second times that match the interval; no count
# of 1 takes a plural; after a Ctrl-C typed at a terminal (tmux) the report
# starts on a line of its own; run's progress line on a terminal says the
# elapsed time, events, drops and each core's busy share, on stderr only,
# never inside `--json -`.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	fail "width tests need root" "run make test as root (BPF tracing)"
	exit 1
fi

# fits NAME WIDTH FILE: every line of FILE is at most WIDTH characters
fits() {
	local out
	out=$(python3 - "$2" "$3" <<'PY'
import sys
width = int(sys.argv[1])
for n, line in enumerate(open(sys.argv[2], encoding="utf-8", errors="replace"), 1):
    line = line.rstrip("\n")
    if len(line) > width:
        print("line %d: %d columns: %s" % (n, len(line), line))
        break
PY
)
	check "$1: every line fits $2 columns" "$out" [ -z "$out" ]
}
# The report of `poolscope run` without what the workload itself printed
# before it (its task and summary lines come first: it has exited when the
# report is printed).
report_only() { sed -n '/^poolscope: /,$p' "$1"; }

# --- help texts
for args in "--help" "help" "help run" "help attach" "help top" "help compare" "help list" \
	    "run --help" "attach --help" "top --help" "compare --help" "list" "version"; do
	"$POOLSCOPE" $args >"$TMPD/help.txt" 2>&1
	rc=$?
	check "poolscope $args: status 0" "status $rc" [ $rc -eq 0 ]
	fits "poolscope $args" 80 "$TMPD/help.txt"
done
for w in $("$POOLSCOPE" list | awk 'NR > 1 && /^  [^ ]/ { print $1 }'); do
	"$WORKLOADS/$w" --help >"$TMPD/help.txt" 2>&1
	fits "workload $w --help" 80 "$TMPD/help.txt"
done
listed=$("$POOLSCOPE" list | awk 'NR > 1 && /^  [^ ]/' | wc -l)
check "poolscope list: one line per workload" "$listed lines of $(ls "$WORKLOADS" | wc -l) programs" \
	[ "$listed" -eq 6 ]

# the examples of the top-level help: real commands, real workloads
"$POOLSCOPE" --help >"$TMPD/main-help.txt"
py - "$POOLSCOPE" "$TMPD/main-help.txt" <<'PY'
import subprocess, sys
bin, text = sys.argv[1], open(sys.argv[2]).read()
examples = text.split("Examples:\n", 1)[1].strip("\n").split("\n") if "Examples:\n" in text else []
cmds = text.split("Commands:\n", 1)[1].split("\n\n", 1)[0].split("\n")
commands = {l.split()[0] for l in cmds}
workloads = set(subprocess.run([bin, "run", "--help"], capture_output=True, text=True).stdout
                .split("Bundled workloads:\n  ", 1)[1].split("\n", 1)[0].replace(",", "").split())
bad = []
for e in examples:
    words = e.split()
    if words[:1] == ["sudo"]:
        words = words[1:]
    if words[:1] != ["poolscope"] or words[1] not in commands:
        bad.append(e)
    elif words[1] in ("run", "compare") and "--" not in words and \
            not any(w in workloads for w in words[2:]):
        bad.append(e)
ok = len(examples) >= 5 and not bad
print(("PASS: " if ok else "FAIL: ") + "poolscope --help ends with examples of real commands and workloads" +
      ("" if ok else ": %d examples, bad: %s" % (len(examples), bad)))
PY
for args in "help foo" "help run extra" "nosuch"; do
	out=$("$POOLSCOPE" $args 2>&1 >/dev/null); rc=$?
	check "poolscope $args: an error, one line, status 2" "status $rc: $out" \
		[ $rc -eq 2 -a "$(echo "$out" | wc -l)" -eq 1 -a -n "$out" ]
done

# --- the reports of every bundled workload, every section
declare -A ARGS=(
	[cpu-procs]="-t 4 -s 100000000" [cpu-threads]="-t 4 -s 100000000"
	[gil-threads]="-t 4 -s 100000000" [oversubscribed]="-t 8 -s 50000000"
	[io-threads]="" [io-procs]=""
)
for w in cpu-procs cpu-threads gil-threads io-threads io-procs oversubscribed; do
	"$POOLSCOPE" run --stacks all $w ${ARGS[$w]} >"$TMPD/$w.out" 2>"$TMPD/$w.err"
	rc=$?
	report_only "$TMPD/$w.out" >"$TMPD/$w.report"
	check "run $w: status 0, a report with a verdict" "status $rc: $(tail -3 "$TMPD/$w.err")" \
		[ $rc -eq 0 -a -n "$(grep '^DIAGNOSIS' "$TMPD/$w.report")" ]
	fits "run $w (report)" 80 "$TMPD/$w.report"
	cat "$TMPD/$w.report" >>"$TMPD/all-reports.txt"
done
for w in gil-threads io-procs; do
	"$POOLSCOPE" run -w --stacks all $w ${ARGS[$w]} >"$TMPD/$w-w.out" 2>"$TMPD/$w-w.err"
	report_only "$TMPD/$w-w.out" >"$TMPD/$w-w.report"
	check "run -w $w: a report" "$(tail -3 "$TMPD/$w-w.err")" grep -q '^DIAGNOSIS' "$TMPD/$w-w.report"
	fits "run -w $w (report)" 160 "$TMPD/$w-w.report"
done

# --- attach -i: interval reports, their headers to the millisecond
"$WORKLOADS/cpu-threads" -w 2 -t 10000 -q >/dev/null &
WL=$!
sleep 0.3
"$POOLSCOPE" attach -p $WL -i 0.5 -d 1.7 >"$TMPD/attach.out" 2>"$TMPD/attach.err"
rc=$?
check "attach -i 0.5 -d 1.7: status 0, interval reports" "status $rc: $(cat "$TMPD/attach.err")" \
	[ $rc -eq 0 -a -n "$(grep '^--- interval 3' "$TMPD/attach.out")" ]
fits "attach -i" 80 "$TMPD/attach.out"
"$POOLSCOPE" attach -p $WL -i 0.5 -d 1.2 -w >"$TMPD/attach-w.out" 2>&1
fits "attach -i -w" 160 "$TMPD/attach-w.out"
cat "$TMPD/attach.out" >>"$TMPD/all-reports.txt"
py - "$TMPD/attach.out" <<'PY'
import re, sys
heads = re.findall(r"^--- interval (\d+): (\d\d):(\d\d):(\d\d)\.(\d\d\d) - (\d\d):(\d\d):(\d\d)\.(\d\d\d) ---$",
                   open(sys.argv[1]).read(), re.M)
def s(h, m, sec, ms):
    return int(h) * 3600 + int(m) * 60 + int(sec) + int(ms) / 1000
spans = [(s(*h[1:5]), s(*h[5:9])) for h in heads]
full = spans[:3]
ok = len(spans) >= 3 and all(abs((b - a) - 0.5) < 0.1 for a, b in full) and \
    all(abs(full[i + 1][0] - full[i][1]) < 0.01 for i in range(len(full) - 1))
print(("PASS: " if ok else "FAIL: ") + "attach -i 0.5: each interval header spans 0.5 s to the millisecond, "
      "and the next one starts where it ended" + ("" if ok else ": %s" % spans))
PY

# --- compare's table and verdicts
"$POOLSCOPE" compare "cpu-threads -t 2 -s 100000000" "gil-threads -t 2 -s 100000000" \
	"oversubscribed -t 4 -s 50000000" >"$TMPD/compare.out" 2>"$TMPD/compare.err"
rc=$?
check "compare: status 0, the table and the verdicts" "status $rc: $(tail -3 "$TMPD/compare.err")" \
	[ $rc -eq 0 -a -n "$(grep '^VERDICTS' "$TMPD/compare.out")" ]
fits "compare" 80 "$TMPD/compare.out"
cat "$TMPD/compare.out" >>"$TMPD/all-reports.txt"

# --- no count of 1 takes a plural, in everything printed above
out=$(grep -nE '(^|[^0-9.,])1 (waits|threads|processes|records|switches|periods|events|cgroups|waiters|timeouts|entries)\b' \
	"$TMPD/all-reports.txt" | head -3)
check "no '1 waits', '1 threads' ... in the reports" "$out" [ -z "$out" ]

# --- Ctrl-C at a terminal: the terminal echoes ^C without a newline
TM=(tmux -L "poolscope-width-$$" -f /dev/null)
trap '"${TM[@]}" kill-server 2>/dev/null; kill $WL 2>/dev/null; rm -rf "$TMPD"' EXIT
for how in "no progress line:2>$TMPD/ctrlc.err" "the progress line on the terminal:"; do
	name=${how%%:*} redirect=${how#*:}
	rm -f "$TMPD/ctrlc.err"
	"${TM[@]}" kill-session -t c 2>/dev/null
	"${TM[@]}" new-session -d -s c -x 80 -y 50 \
		"$POOLSCOPE attach -p $WL $redirect; echo attach-ended; sleep 30"
	# Ctrl-C once it is attached (not during start-up)
	for _ in $(seq 100); do
		{ "${TM[@]}" capture-pane -p -t c; cat "$TMPD/ctrlc.err" 2>/dev/null; } | grep -q attached && break
		sleep 0.1
	done
	sleep 0.5
	"${TM[@]}" send-keys -t c C-c
	for _ in $(seq 100); do
		"${TM[@]}" capture-pane -p -S -1000 -t c | grep -q attach-ended && break
		sleep 0.1
	done
	"${TM[@]}" capture-pane -p -S -1000 -t c >"$TMPD/ctrlc.screen"
	check "Ctrl-C at a terminal ($name): the report starts on a line of its own" \
		"$(head -5 "$TMPD/ctrlc.screen")" grep -qx "poolscope: attach -p $WL" "$TMPD/ctrlc.screen"
done

# --- run's progress line: on the terminal's stderr, never in --json -
"${TM[@]}" kill-session -t c 2>/dev/null
"${TM[@]}" new-session -d -s p -x 100 -y 30 \
	"$POOLSCOPE run --json - cpu-threads -q -t 8 -s 300000000 >$TMPD/run.json; echo run-ended; sleep 30"
seen=
for _ in $(seq 100); do
	line=$("${TM[@]}" capture-pane -p -t p | grep -m1 '^poolscope: [0-9.]* s, ')
	[ -n "$line" ] && seen=$line
	"${TM[@]}" capture-pane -p -t p | grep -q run-ended && break
	sleep 0.1
done
check "run on a terminal: a progress line with the elapsed time, events, drops and each core's busy share" \
	"seen: '$seen'" grep -qE "^poolscope: [0-9.]+ s, [0-9,]+ events?, [0-9]+ dropped, [0-9]+ threads?; busy( [0-9]+%){$(nproc)}" <<<"$seen"
py - "$TMPD/run.json" <<'PY'
import json, sys
raw = open(sys.argv[1], "rb").read()
try:
    r = json.loads(raw)
    ok = b"\r" not in raw and b"\x1b" not in raw and r["threads"]
except Exception as e:
    ok = False
print(("PASS: " if ok else "FAIL: ") + "run --json - with the progress line on: stdout is only the JSON" +
      ("" if ok else ": %r" % raw[:200]))
PY
out=$("${TM[@]}" capture-pane -p -t p | grep -c '^poolscope: [0-9.]* s, ')
check "run: the progress line is erased when the run ends" "$out left on the screen" [ "$out" -eq 0 ]
# the workload printing to the same terminal meanwhile: its lines scroll
# above the progress line, never appended to it
"${TM[@]}" new-session -d -s w -x 100 -y 12 \
	"$POOLSCOPE run cpu-threads -t 12 -s 200000000; echo run-ended; sleep 30"
for _ in $(seq 150); do
	"${TM[@]}" capture-pane -p -t w | grep -q run-ended && break
	sleep 0.1
done
"${TM[@]}" capture-pane -p -S -1000 -t w >"$TMPD/mixed.screen"
tasks=$(grep -c '^task [0-9]*/12 ' "$TMPD/mixed.screen")
mixed=$(grep -E 'poolscope: [0-9.]+ s, .*(task|summary)' "$TMPD/mixed.screen" | head -2)
check "run: the workload's own lines (12 tasks) scroll above the progress line, none appended to it" \
	"$tasks task lines; mixed: $mixed" [ "$tasks" -eq 12 -a -z "$mixed" ]
check "run: the report follows the workload's output on a line of its own" "$(tail -5 "$TMPD/mixed.screen")" \
	grep -qx 'poolscope: cpu-threads -t 12 -s 200000000' "$TMPD/mixed.screen"
no_programs_left "width tests"
