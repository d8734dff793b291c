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
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
timeout_s=300 kernel= initrd= out=
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift 2 ;;
	--initrd) initrd=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--recheck) recheck=1; shift ;;   # no boot: check DIR/results.log again
	--append) extra_append=$2; shift 2 ;;   # more kernel arguments (KT_MULT=N ...)
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
version=$(cat "$(dirname "$kernel")/kernel.version" 2>/dev/null || echo "?")
echo "kernel-test: booting $version ($accel, 2 CPUs, timeout ${timeout_s}s)"

start=$(date +%s.%N)
rc=0
[ -n "$recheck" ] || timeout --kill-after=5 "$timeout_s" qemu-system-x86_64 \
	-accel $accel -m 1024 -smp 2 -nodefaults -display none -no-reboot \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 quiet loglevel=4 ${extra_append:-}" \
	-serial "file:$out/console.log" -serial "file:$out/results.log" \
	</dev/null >"$out/qemu.log" 2>&1 || rc=$?
end=$(date +%s.%N)
wall=$(awk "BEGIN{printf \"%.1f\", $end - $start}")
tr -d '\r' <"$out/results.log" >"$out/results.txt" 2>/dev/null

if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
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
