#!/usr/bin/env bash
# tests/kernel/run-vm.sh --kernel VMLINUZ --initrd INITRAMFS --out DIR [--timeout S]
#                        [--append KERNEL-ARGS] [--recheck]
#
# Boots VMLINUZ with the kernel-test initramfs under qemu-system-x86_64 (TCG;
# KT_ACCEL=kvm for KVM), 2 CPUs, 1 GiB, bounded by --timeout
# seconds (default 300). The guest (tests/kernel/init) writes its verdicts and
# the files it produced to the second serial port, DIR/results.log; the console
# is DIR/console.log. This script prints the guest's PASS:/FAIL: lines, then
# checks the JSON reports on the host (tests/kernel/check_reports.py and
# tests/integration/truth_check.py), and exits 1 if anything failed.
#
# Hangs. A watchdog on the host watches the guest while it runs: a console
# line of the kernel's lockup detectors (soft/hard lockup, RCU stall, hung
# task, BUG/Oops/panic), or a results port (DIR/results.log) that has not
# grown for KT_STALL seconds (default 60), is a hang: a FAIL line, the
# console's report, and, with the gdb capture on, both vCPUs' backtraces.
#   --gdb / KT_GDB=1   (the default when gdb is installed; KT_GDB=0 or
#                      --no-gdb turns it off) QEMU's gdb stub on a free local
#                      port, the guest booted with nokaslr loglevel=8
#                      softlockup_all_cpu_backtrace=1; on a hang
#                      tests/kernel/hang-capture.sh reads every vCPU's
#                      state into DIR/hang-gdb.txt (backtraces with the debug
#                      vmlinux, KT_VMLINUX or build/kernel/vmlinux-VERSION from
#                      `make kernel-dbg`; registers and a stack scan
#                      symbolized with System.map without it)
#   KT_GDB_UNSTICK=1   after the capture, tests/kernel/hang-unstick.py
#                      rewrites the bytes each vCPU loops at with themselves
#                      (QEMU drops its translation of them) and the watchdog
#                      watches again: DIR/hang-unstick.txt says whether the
#                      guest ran on (a stale translation) or stayed hung
#   KT_TCG_THREAD=     single (the default: one host thread runs both vCPUs)
#                      or multi (a thread per vCPU, which freezes the guest
#                      now and then: tests/kernel/README.md, "The 6.1 freeze")
#   KT_PANIC=1         panic_on_rcu_stall=1 softlockup_panic=1: the guest
#                      panics (and, with panic=-1, ends) at the first stall;
#                      the console keeps the stall report and the panic's
#                      backtraces (no gdb capture: the guest is gone)
set -u
TOP=${KT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
here=$(cd "$(dirname "$0")" && pwd)   # the hang scripts (soak.sh runs a copy of them)
timeout_s=300 kernel= initrd= out=
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift 2 ;;
	--initrd) initrd=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--recheck) recheck=1; shift ;;   # no boot: check DIR/results.log again
	--append) extra_append=$2; shift 2 ;;   # more kernel arguments (KT_MULT=N ...)
	--gdb) KT_GDB=1; shift ;;
	--no-gdb) KT_GDB=0; shift ;;
	*) echo "run-vm.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$kernel" ] && [ -n "$initrd" ] && [ -n "$out" ] || { echo "usage: $0 --kernel K --initrd I --out DIR [--timeout S]" >&2; exit 2; }
failed=0
fail() { printf 'FAIL: kernel 6.1: %s: %s\n' "$1" "$2"; failed=1; }
pass() { printf 'PASS: kernel 6.1: %s\n' "$1"; }

command -v qemu-system-x86_64 >/dev/null || { fail "boot" "qemu-system-x86_64 missing: make kernel-deps"; exit 1; }
[ -r "$kernel" ] || { fail "boot" "no kernel at $kernel"; exit 1; }
[ -r "$initrd" ] || { fail "boot" "no initramfs at $initrd"; exit 1; }

recheck=${recheck:-}
if [ -z "$recheck" ]; then rm -rf "$out"; else rm -rf "$out/files"; fi
mkdir -p "$out/files"
# TCG by default: a /dev/kvm that exists need not work (nested virtualisation);
# KT_ACCEL=kvm opts in.
accel=${KT_ACCEL:-tcg}
# One host thread runs both vCPUs in turn (-accel tcg,thread=single): with a
# thread per vCPU (KT_TCG_THREAD=multi) QEMU 7.2 can keep running a stale
# translation of kernel code another vCPU has just patched, and the guest
# freezes in a loop on an int3 that memory no longer holds whenever a
# tracepoint is attached or detached (tests/kernel/README.md, "The 6.1 freeze").
[ "$accel" = tcg ] && accel="tcg,thread=${KT_TCG_THREAD:-single}"
version=$(cat "$(dirname "$kernel")/kernel.version" 2>/dev/null || echo "?")
echo "kernel-test: booting $version ($accel, 2 CPUs, timeout ${timeout_s}s)"

kdir=$(dirname "$kernel")
gdb_on=${KT_GDB:-auto}
[ "$gdb_on" = auto ] && { command -v gdb >/dev/null && gdb_on=1 || gdb_on=0; }
append="console=ttyS0 panic=-1"
gdbargs=() port=
if [ "$gdb_on" = 1 ]; then
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	gdbargs=(-gdb "tcp:127.0.0.1:$port")
	append="$append nokaslr loglevel=8 softlockup_all_cpu_backtrace=1"
else
	append="$append quiet loglevel=4"
fi
[ "${KT_PANIC:-0}" = 1 ] && append="$append panic_on_rcu_stall=1 softlockup_panic=1"
stall_s=${KT_STALL:-60}

# The guest runs in the background; this loop is its watchdog.
hang_re='soft lockup|hard LOCKUP|rcu_(preempt|sched) (self-)?detected stall|rcu: INFO: .*stall|blocked for more than [0-9]+ seconds|BUG: |Oops|Kernel panic'
start=$(date +%s.%N)
rc=0 hang= qpid= unstuck=
if [ -z "$recheck" ]; then
	: >"$out/console.log"; : >"$out/results.log"
	qemu-system-x86_64 \
		-accel $accel -m 1024 -smp 2 -nodefaults -display none -no-reboot \
		-kernel "$kernel" -initrd "$initrd" "${gdbargs[@]}" \
		-append "$append ${extra_append:-}" \
		-serial "file:$out/console.log" -serial "file:$out/results.log" \
		</dev/null >"$out/qemu.log" 2>&1 &
	qpid=$!
	t0=$(date +%s)
	# watch [CONSOLE-OFFSET]: until qemu exits (0), a hang (1, $hang set) or
	# the timeout (2); console lines before the offset (bytes) are old news
	watch() {
		local off=${1:-0} last_size=-1 last_change now size line
		last_change=$(date +%s)
		while kill -0 $qpid 2>/dev/null; do
			sleep 1
			now=$(date +%s)
			line=$(tail -c +$((off + 1)) "$out/console.log" | tr -d '\r' | grep -m1 -E "$hang_re")
			if [ -n "$line" ]; then hang="console: $line"; return 1; fi
			size=$(stat -c %s "$out/results.log" 2>/dev/null || echo 0)
			if [ "$size" != "$last_size" ]; then
				last_size=$size last_change=$now
			elif [ $((now - last_change)) -ge "$stall_s" ]; then
				hang="the results port stopped: nothing for ${stall_s} s (console silent too: $(tail -c 300 "$out/console.log" | tr -d '\r' | tail -1))"
				return 1
			fi
			[ $((now - t0)) -ge "$timeout_s" ] && return 2
		done
		return 0
	}
	watch 0
	w=$?
	[ $w -eq 2 ] && rc=124
	if [ $w -ne 0 ]; then
		if [ -n "$hang" ]; then
			# let the lockup detectors print their backtraces first (the
			# NMI backtraces of softlockup_all_cpu_backtrace take a few s)
			sleep "${KT_HANG_GRACE:-15}"
			if [ "$gdb_on" = 1 ] && kill -0 $qpid 2>/dev/null; then
				vmlinux=${KT_VMLINUX:-$(ls "$kdir"/vmlinux-* 2>/dev/null | head -1)}
				sysmap=$kdir/System.map
				if [ ! -r "$sysmap" ]; then
					deb=$(ls "$kdir"/linux-image-*.deb 2>/dev/null | grep -v -- -dbg_ | tail -1)
					[ -n "$deb" ] && dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './boot/System.map-*' >"$sysmap" 2>/dev/null
				fi
				bash "$here/hang-capture.sh" "$port" "$out/hang-gdb.txt" "$vmlinux" "$sysmap"
				# a second look 5 s later: a spinning CPU is still there
				sleep 5
				KT_SCAN_WORDS=0 bash "$here/hang-capture.sh" "$port" "$out/hang-gdb-2.txt" "$vmlinux" "$sysmap"
				# KT_GDB_UNSTICK=1: drop QEMU's translation of the code each
				# vCPU loops at (tests/kernel/hang-unstick.py) and see
				# whether the guest runs on
				if [ "${KT_GDB_UNSTICK:-0}" = 1 ] && [ -r "$vmlinux" ]; then
					KT_UNSTICK=1 bash "$here/hang-capture.sh" "$port" "$out/hang-unstick.txt" "$vmlinux" "$sysmap"
					first_hang=$hang hang=
					coff=$(stat -c %s "$out/console.log")
					watch "$coff"
					w=$?
					if [ $w -eq 0 ]; then
						unstuck="the guest ran on to the end after hang-unstick.py"
					elif [ $w -eq 2 ]; then
						unstuck="the guest ran on after hang-unstick.py, then hit the timeout"
						rc=124
					else
						unstuck="the guest stayed hung after hang-unstick.py ($hang)"
					fi
					echo "$unstuck" >>"$out/hang-unstick.txt"
					hang=$first_hang
				fi
			fi
		fi
		if kill -0 $qpid 2>/dev/null; then
			kill $qpid 2>/dev/null
			for _ in 1 2 3 4 5; do kill -0 $qpid 2>/dev/null || break; sleep 1; done
			kill -9 $qpid 2>/dev/null
		fi
	fi
	wait $qpid 2>/dev/null
	qrc=$?
	[ -z "$hang" ] && [ $rc -eq 0 ] && rc=$qrc
fi
end=$(date +%s.%N)
wall=$(awk "BEGIN{printf \"%.1f\", $end - $start}")
tr -d '\r' <"$out/results.log" >"$out/results.txt" 2>/dev/null

if [ -n "$hang" ]; then
	fail "guest did not hang" "HANG after $(awk "BEGIN{printf \"%.0f\", $(date +%s.%N) - $start}") s: $hang"
	echo "kernel-test: last guest progress: $(grep -E '^(PASS|FAIL|NOTE): ' "$out/results.txt" | tail -1)"
	bash "$here/hang-report.sh" "$out"
	[ -n "${unstuck:-}" ] && { echo "hang: unstick experiment:"; sed 's/^/  /' "$out/hang-unstick.txt" | grep -E 'unstick:|guest'; }
	echo "hang: the whole console is $out/console.log; the gdb capture $out/hang-gdb.txt"
elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	fail "guest finished within ${timeout_s} s" "timed out; console tail: $(tail -5 "$out/console.log" 2>/dev/null | tr '\r\n' '  ')"
elif [ $rc -ne 0 ]; then
	fail "qemu ran" "status $rc: $(tail -3 "$out/qemu.log" | tr '\n' ' ')"
fi

# Split the results: verdict lines out, files into $out/files/NAME.
awk -v dir="$out/files" '
	/^@@BEGIN / { name = $2; file = dir "/" name; printf "" > file; next }
	/^@@END /   { close(file); file = ""; next }
	file != ""  { print >> file; next }
	/^@@DONE/   { print "@@DONE"; next }
	/^(PASS|FAIL|NOTE): / { print }
' "$out/results.txt" >"$out/verdicts.txt"
grep -v '^@@DONE' "$out/verdicts.txt" | sed 's/^NOTE: /note: /'
grep -q '^FAIL: ' "$out/verdicts.txt" && failed=1
if grep -q '^@@DONE' "$out/verdicts.txt"; then
	pass "guest ran the suite and powered off"
else
	fail "guest ran the suite and powered off" "no end marker; console tail: $(tail -5 "$out/console.log" 2>/dev/null | tr -d '\r' | tr '\n' ' ')"
fi
# A failed load: the verifier's and libbpf's verdicts (each once), then the end
# of the first -v log.
logs=$(ls "$out"/files/*.verbose 2>/dev/null)
if [ -n "$logs" ]; then
	for v in $logs; do
		grep -B1 -E '^processed [0-9]+ insns' "$v" | grep -vE '^(processed|--$)' | sed 's/^/verifier: /'
		grep -E "libbpf: prog '[^']*': failed to load" "$v"
	done | sort | uniq -c | sed "s/^ *\\([0-9]*\\) /note: \\1 times: /"
	first=$(echo "$logs" | head -1)
	echo "note: last 25 lines of $(basename "$first" .verbose) with -v (whole logs: $out/files/*.verbose):"
	tail -25 "$first" | sed 's/^/  | /'
fi

# Host-side checks of what the guest produced. truth_check.py's switch-count
# checks count; its time checks (run-queue wait, on-CPU time against schedstat)
# are printed as notes only: under TCG every switch costs microseconds between
# the scheduler's clock update and the tracepoint, and the TSC is unstable, so
# the two clocks disagree by several per cent (measured), not a poolscope error.
# Two truth runs per mode (see tests/kernel/init): the second counts only when
# the first misses.
truth_check() { # MODE ATTEMPT -> $out/files/truth-MODE-ATTEMPT.check; status 1 on a counted FAIL
	local f=$out/files/truth-$1-$2 line bad=0
	if ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$f.json" 2>/dev/null; then
		echo "FAIL: kernel 6.1: truth ($1): JSON report: the guest sent none or an unparsable one (poolscope run failed?)" >"$f.check"
		return 1
	fi
	steal=$(sed -n "s/^NOTE: truth-$1-$2 steal_ns=//p" "$out/verdicts.txt")
	STEAL_NS=${steal:-0} python3 "$TOP/tests/integration/truth_check.py" "$f.json" "$f.out" \
		"kernel 6.1: truth ($1)" 2>&1 | while IFS= read -r line; do
		case $line in
		*"switches match"* | *"truth printed"* | *"every thread in the report"* | *"test is meaningful"*)
			echo "$line" ;;
		PASS:* | FAIL:*) echo "note: timing, not counted under TCG: $line" ;;
		note:*) echo "$line" ;;
		*) echo "FAIL: kernel 6.1: truth ($1): truth_check.py: $line" ;;
		esac
	done >"$f.check"
	! grep -q '^FAIL: ' "$f.check"
}
for mode in tp_btf raw_tp; do
	if truth_check $mode 1; then
		cat "$out/files/truth-$mode-1.check"
		continue
	fi
	sed 's/^/note: first run, not counted: /' "$out/files/truth-$mode-1.check" | grep -v 'not counted: note:'
	echo "note: truth ($mode): the first run missed; counting the second"
	truth_check $mode 2 || failed=1
	cat "$out/files/truth-$mode-2.check"
done
python3 "$TOP/tests/kernel/check_reports.py" "$out/files" || failed=1

boot=$(sed -n 's/^NOTE: booted .* in \([0-9.]*\) s.*/\1/p' "$out/verdicts.txt")
echo "kernel-test: qemu wall time ${wall} s (guest reached init after ${boot:-?} s of guest time)"
exit $failed
