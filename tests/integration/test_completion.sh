#!/usr/bin/env bash
# tests/integration/test_completion.sh: bash completion (completion/poolscope.bash)
# run by bash itself: the function is called with COMP_WORDS/COMP_CWORD set as
# bash sets them, and COMPREPLY is checked against the truth: the workloads
# of `poolscope list`, the PIDs, thread IDs and names in /proc of processes
# this test starts, the files in a directory. Options per command are checked
# by test_docs.sh (docs_check.py). Needs no root.
. "$(dirname "$0")/../lib.sh"
COMPLETION=$TOP/completion/poolscope.bash

[ -x "$POOLSCOPE" ] || { fail "poolscope built" "$POOLSCOPE missing: run make"; exit 1; }
[ -f "$COMPLETION" ] || { fail "completion exists" "$COMPLETION missing"; exit 1; }

# complete WORD...: COMPREPLY, one per line, for the command line `poolscope
# WORD...` with the cursor at the end of the last word.
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _poolscope
		printf "%s\n" "${COMPREPLY[@]}"' complete "$COMPLETION" "$POOLSCOPE" "$@" 2>&1
}
# expect NAME WANT WORD...: COMPREPLY, sorted, is exactly the words of WANT
expect() {
	local name=$1 want got
	want=$(printf '%s\n' $2 | sort)
	shift 2
	got=$(complete_words "$@" | sort)
	check "$name" "got [$(echo $got)], want [$(echo $want)]" [ "$got" = "$want" ]
}

out=$(bash -c '. "$1"; complete -p poolscope' x "$COMPLETION" 2>&1)
check "sourcing it registers _poolscope for poolscope" "$out" [ "$out" = "complete -F _poolscope poolscope" ]

expect "first word: the commands" "run attach top compare list help version" ""
expect "first word, prefix 'c': compare" "compare" c
expect "first word, a dash: the global options" "-h --help --version" -
expect "after help: the commands that have help" "run attach top compare" help ""

workloads=$("$POOLSCOPE" list | awk 'NR > 1 && /^  [^ ]/ { print $1 }')
check "poolscope list names workloads (the truth for what follows)" "list: $workloads" \
	[ "$(echo $workloads | wc -w)" -ge 6 ]
expect "run: the workloads of poolscope list" "$workloads" run ""
expect "run, prefix 'io-': the io workloads of poolscope list" \
	"$(printf '%s\n' $workloads | grep '^io-')" run io-
expect "run after options and a value: still the workloads" \
	"$(printf '%s\n' $workloads | grep '^cpu-')" run --stacks all -q --json out.json cpu-
expect "run --json=FILE (split at '='): then the workloads" \
	"$(printf '%s\n' $workloads | grep '^gil')" run --json = out.json gil
expect "compare: more workloads after an entry" "$(printf '%s\n' $workloads | grep '^cpu-')" \
	compare gil-threads cpu-
expect "compare: after an entry, a dash offers only --" "--" compare gil-threads -
got=$(complete_words run cpu-threads - | grep -c -- '--as-root')
check "run: after the workload its own arguments, not poolscope's options" \
	"--as-root offered after the workload" [ "$got" -eq 0 ]
got=$(complete_words run cpu-threads -- bas | grep -cx bash)
check "run: a -- after the workload is the workload's, not a command" \
	"commands offered after the workload's --" [ "$got" -eq 0 ]

# values of options
mkdir -p "$TMPD/out" && touch "$TMPD/out/report.json" "$TMPD/out/run.svg"
expect "--json: files" "$TMPD/out/report.json" run --json "$TMPD/out/rep"
expect "--svg: files" "$TMPD/out/run.svg" attach --svg "$TMPD/out/ru"
# the values an option takes, as its error message lists them
expected() { "$POOLSCOPE" run "$1" x --help 2>&1 | sed -n 's/.*(expected \(.*\))$/\1/p' | sed 's/,\| or / /g'; }
kinds=$(expected --stacks)
check "poolscope names the --stacks kinds (the truth for what follows)" "'$kinds'" \
	[ "$(wc -w <<<"$kinds")" -ge 4 ]
expect "--stacks: the stack kinds" "$kinds" run --stacks ""
expect "--stacks: the kinds starting with o" "$(printf '%s\n' $kinds | grep '^o')" run --stacks o
expect "--stacks: the last item of a comma list" "offcpu,all" run --stacks offcpu,a
sources=$(expected --futex-source)
check "poolscope names the --futex-source values (the truth for what follows)" "'$sources'" \
	[ "$(wc -w <<<"$sources")" -ge 2 ]
expect "--futex-source: its values" "$sources" attach --futex-source ""

# a process with a second thread, under a name of its own
/usr/bin/python3 -c 'import ctypes, threading, time
ctypes.CDLL(None).prctl(15, b"pscomp-probe")  # PR_SET_NAME: /proc/PID/comm
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
time.sleep(60)' &
probe=$!
for _ in $(seq 50); do
	[ "$(ls /proc/$probe/task 2>/dev/null | wc -l)" -ge 2 ] && break
	sleep 0.1
done
tid=$(ls /proc/$probe/task | grep -vx $probe | head -1)
check "the probe process has a second thread (the truth for what follows)" \
	"tasks: $(ls /proc/$probe/task 2>&1 | tr '\n' ' ')" [ -n "$tid" ]

pids=$(complete_words attach -p "")
check "-p: offers the probe's PID" "not offered" grep -qx "$probe" <<<"$pids"
bad=$(grep -cvE '^[0-9]+$' <<<"$pids")
check "-p: offers only numbers" "$bad non-numeric" [ "$bad" -eq 0 ]
gone=$(for p in $pids; do [ -d /proc/$p ] || echo $p; done | wc -l)
# processes end between the completion and this check: a few may be gone
check "-p: offers PIDs of /proc ($(wc -w <<<"$pids") offered, $gone gone since)" \
	"$gone of $(wc -w <<<"$pids") not in /proc" [ "$gone" -le 5 ]
check "-p: no thread IDs (only processes)" "offered TID $tid" not grep -qx "$tid" <<<"$pids"
expect "-p: the last item of a comma list" "1,$probe" attach -p "1,$probe"
check "--pid: same as -p" "differs" grep -qx "$probe" <<<"$(complete_words attach --pid "")"
expect "--tid: the probe's second thread" "$tid" attach --tid "$tid"
tids=$(complete_words attach --tid "")
check "--tid: offers the probe's main thread too" "not offered" grep -qx "$probe" <<<"$tids"
expect "--comm: the probe's name (/proc/PID/comm)" "pscomp-probe" attach --comm pscomp-pr
kill $probe 2>/dev/null
wait $probe 2>/dev/null

# the command after --
got=$(complete_words run -- bas | grep -cx bash)
check "run --: command names" "bash not offered" [ "$got" -eq 1 ]
expect "run -- CMD: files for its arguments" "$TMPD/out/report.json" run -- cat "$TMPD/out/rep"
got=$(complete_words compare cpu-threads -- true -- bas | grep -cx bash)
check "compare: each -- starts a command" "bash not offered" [ "$got" -eq 1 ]

# the real loader: bash-completion finds it by the command's name
loader=/usr/share/bash-completion/bash_completion
if [ -f "$loader" ]; then
	mkdir -p "$TMPD/share/bash-completion/completions"
	cp "$COMPLETION" "$TMPD/share/bash-completion/completions/poolscope"
	out=$(XDG_DATA_DIRS=$TMPD/share bash -c '. "$1" && __load_completion poolscope &&
		complete -p poolscope' x "$loader" 2>&1)
	check "bash-completion loads it from share/bash-completion/completions/poolscope" "$out" \
		[ "$out" = "complete -F _poolscope poolscope" ]
	# with bash-completion loaded, the command after -- gets its own completion
	got=$(XDG_DATA_DIRS=$TMPD/share bash -c '. "$1"; __load_completion poolscope
		COMP_WORDS=("$2" run -- bas); COMP_CWORD=3; COMP_LINE="${COMP_WORDS[*]}"
		COMP_POINT=${#COMP_LINE}; _poolscope; printf "%s\n" "${COMPREPLY[@]}"' \
		x "$loader" "$POOLSCOPE" 2>&1 | grep -cx bash)
	check "with bash-completion: run -- completes commands" "bash not offered" [ "$got" -ge 1 ]
else
	fail "bash-completion installed" "$loader missing (make deps installs bash-completion)"
fi
