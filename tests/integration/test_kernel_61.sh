#!/usr/bin/env bash
# tests/integration/test_kernel_61.sh: poolscope on Debian 12's stock 6.1
# kernel. `make kernel-test` (tests/kernel/kernel.mk) builds static binaries,
# boots the kernel under QEMU (TCG) and runs the smoke suite there; this prints
# its PASS:/FAIL: lines (and notes), bounded by KT_TOTAL_TIMEOUT seconds (300).
# Needs root for apt (kernel-deps) and nothing else from the host kernel.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	for p in qemu-system-x86 busybox-static cpio; do
		dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q 'install ok installed' && continue
		fail "kernel 6.1: packages" "$p missing and not root: run sudo make kernel-deps"
		exit 1
	done
fi
# Works before and after the top Makefile includes tests/kernel/kernel.mk (it
# has an include guard). A fresh make: not the jobserver of a calling `make test`.
start=$(date +%s.%N)
out=$(cd "$TOP" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	timeout --kill-after=10 "${KT_TOTAL_TIMEOUT:-300}" \
	make -s -f Makefile -f tests/kernel/kernel.mk BUILD=build kernel-test 2>&1)
rc=$?
secs=$(awk "BEGIN{printf \"%.0f\", $(date +%s.%N) - $start}")
printf '%s\n' "$out" | sed -E '/^(PASS|FAIL): /!s/^/  /'
npass=$(printf '%s\n' "$out" | grep -c '^PASS: ')
nfail=$(printf '%s\n' "$out" | grep -c '^FAIL: ')
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	fail "kernel 6.1: make kernel-test finished within ${KT_TOTAL_TIMEOUT:-300} s" "killed after $secs s"
elif [ $rc -ne 0 ] && [ "$nfail" -eq 0 ]; then
	fail "kernel 6.1: make kernel-test" "exit status $rc without a FAIL line (build error? output above)"
elif [ $rc -eq 0 ] && [ "$npass" -eq 0 ]; then
	fail "kernel 6.1: make kernel-test" "no PASS line"
fi
echo "  kernel-test: $secs s in all"
[ $rc -eq 0 ]
