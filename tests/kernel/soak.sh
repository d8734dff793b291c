#!/usr/bin/env bash
# tests/kernel/soak.sh --kernel VMLINUZ --initrd INITRAMFS --out DIR [--boots N]
#                      [--rounds R] [--timeout S] [--append ARGS]
#
# `make kernel-soak`: boots the kernel-test guest N times (default 30), one
# boot at a time (TCG is CPU-heavy), each running the whole kernel-test suite
# and then R rounds (default 3) of the risky mixes (tests/kernel/init,
# KT_SOAK). Every boot goes through tests/kernel/run-vm.sh, whose watchdog
# turns a lockup into a FAIL with the console's report and the gdb capture of
# both vCPUs. Prints one line per boot, then "hangs: H of N boots" and the
# backtraces of every hang; exits 1 on a hang or a FAIL. Boot I's files stay
# in DIR/boot-I (console.log, results.txt, hang-gdb.txt, run.log).
set -u
# The body is one function, read whole before it runs: editing this file
# during a soak cannot change the soak in flight.
main() {
TOP=$(cd "$(dirname "$0")/../.." && pwd)
boots=30 rounds=3 timeout_s= kernel= initrd= out= extra=
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift 2 ;;
	--initrd) initrd=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--boots) boots=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--append) extra=$2; shift 2 ;;
	*) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$kernel" ] && [ -n "$initrd" ] && [ -n "$out" ] || { echo "usage: $0 --kernel K --initrd I --out DIR [--boots N] [--rounds R]" >&2; exit 2; }
# the suite takes ~35 s of wall time, a round of the mixes 18-25 s (2-core host)
timeout_s=${timeout_s:-$((240 + rounds * 60))}
rm -rf "$out"
mkdir -p "$out/scripts"
# the boots run a copy of the scripts: editing the tree during a long soak
# cannot change a boot in flight
cp "$TOP"/tests/kernel/run-vm.sh "$TOP"/tests/kernel/hang-* "$out/scripts/"
cp "$initrd" "$out/initramfs.cpio.gz" && initrd=$out/initramfs.cpio.gz
hangs=0 failed=0 hung=
stamp=$(date -u +%Y-%m-%dT%H:%MZ)
echo "kernel-soak: $boots boots of $(cat "$(dirname "$kernel")/kernel.version" 2>/dev/null), suite + $rounds rounds of the mixes each, timeout ${timeout_s} s per boot (started $stamp)"
t_all=$(date +%s)
for i in $(seq 1 "$boots"); do
	d=$out/boot-$i
	t0=$(date +%s)
	KT_TOP=$TOP bash "$out/scripts/run-vm.sh" --timeout "$timeout_s" --kernel "$kernel" --initrd "$initrd" \
		--out "$d" --append "KT_SOAK=$rounds ${extra}" >"$out/run-$i.log" 2>&1
	rc=$?
	mv "$out/run-$i.log" "$d/run.log" 2>/dev/null || d=$out
	secs=$(( $(date +%s) - t0 ))
	nf=$(grep -c '^FAIL: ' "$d/run.log")
	if grep -q '^FAIL: kernel 6.1: guest did not hang' "$d/run.log"; then
		hangs=$((hangs + 1)) hung="$hung $i"
		echo "boot $i: HANG after $secs s: $(grep -m1 '^FAIL: kernel 6.1: guest did not hang' "$d/run.log" | cut -c1-220)"
		echo "boot $i: last step: $(grep -m1 '^kernel-test: last guest progress' "$d/run.log" | cut -d: -f3-)"
		grep -q '^hang: signature' "$d/run.log" && echo "boot $i: stale-translation signature (int3 handled where memory holds none)"
		[ -s "$d/hang-unstick.txt" ] && echo "boot $i: unstick: $(tail -1 "$d/hang-unstick.txt")"
	elif [ $rc -ne 0 ]; then
		failed=$((failed + 1))
		echo "boot $i: $nf FAIL(s) in $secs s:"
		grep '^FAIL: ' "$d/run.log" | head -5 | sed 's/^/  /'
	else
		echo "boot $i: ok in $secs s ($(grep -o 'soak: [0-9]* rounds in [0-9.]* s' "$d/results.txt" 2>/dev/null | head -1))"
	fi
done
echo "kernel-soak: $boots boots in $(( $(date +%s) - t_all )) s"
for i in $hung; do
	echo
	echo "=== boot $i: the hang"
	sed -n '/^FAIL: kernel 6.1: guest did not hang/,/^hang: the whole console/p' "$out/boot-$i/run.log"
done
accel=${KT_ACCEL:-tcg}
[ "$accel" = tcg ] && accel="tcg,thread=${KT_TCG_THREAD:-single}"
echo "hangs: $hangs of $boots boots ($stamp, $(cat "$(dirname "$kernel")/kernel.version" 2>/dev/null), $accel, ${rounds} rounds of the mixes per boot; $failed other boots with a FAIL)"
[ $hangs -eq 0 ] && [ $failed -eq 0 ]
}
main "$@"
exit $?
