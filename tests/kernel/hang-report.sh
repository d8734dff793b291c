#!/usr/bin/env bash
# tests/kernel/hang-report.sh DIR: print what a hung guest left in DIR (the
# run directory of tests/kernel/run-vm.sh): the console's lockup and stall
# reports with their backtraces, then the gdb capture of both vCPUs
# (DIR/hang-gdb.txt: state, backtrace and stack scan per CPU; registers and
# frame locals stay in the file).
set -u
dir=$1
re='soft lockup|hard LOCKUP|detected stall|rcu: INFO|blocked for more than|BUG: |Oops|Kernel panic|NMI backtrace|Call Trace|Sending NMI'
if [ -s "$dir/console.log" ]; then
	first=$(tr -d '\r' <"$dir/console.log" | grep -n -m1 -E "$re" | cut -d: -f1)
	if [ -n "$first" ]; then
		echo "hang: console from line $first (the kernel's own report, ${KT_REPORT_LINES:-160} lines at most):"
		tr -d '\r' <"$dir/console.log" | tail -n +"$first" |
			grep -v -E '^guest: ' | head -"${KT_REPORT_LINES:-160}" | sed 's/^/  console| /'
	else
		echo "hang: the console printed no lockup or stall report; its last lines:"
		tr -d '\r' <"$dir/console.log" | tail -8 | sed 's/^/  console| /'
	fi
fi
g=$dir/hang-gdb.txt
if [ -s "$g" ]; then
	echo "hang: gdb capture of the vCPUs (QEMU gdb stub; whole file: $g):"
	# per CPU: the state lines, the backtrace and the stack scan
	awk '/^===== CPU [0-9]+ \(gdb thread/ { on = 1 }
	     /^===== CPU [0-9]+: locals|^===== CPU [0-9]+ registers/ { on = 0 }
	     on' "$g" | head -"${KT_GDB_LINES:-220}" | sed 's/^/  gdb| /'
	if [ -s "$dir/hang-gdb-2.txt" ]; then
		echo "hang: 5 s later, each vCPU was at:"
		grep -E '^(===== CPU [0-9]+ \(|RIP |code at|handling)' "$dir/hang-gdb-2.txt" | sed 's/^/  gdb| /'
	fi
	# the stale-translation signature (README, "The 6.1 freeze")
	if grep -q 'NOT an int3' "$g" "$dir/hang-gdb-2.txt" 2>/dev/null; then
		echo "hang: signature: a vCPU handles an int3 at an address where guest memory holds no int3 (QEMU ran a stale translation of patched kernel code)"
	fi
elif [ -e "$g" ]; then
	echo "hang: the gdb capture is empty"
fi
