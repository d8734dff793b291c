#!/usr/bin/env bash
# tests/kernel/hang-capture.sh PORT OUT [VMLINUX] [SYSTEM.MAP]
#
# Attaches gdb to a hung guest's QEMU gdb stub (127.0.0.1:PORT) and writes
# both vCPUs' state to OUT (tests/kernel/hang-gdb.py): with VMLINUX (the
# guest kernel's debug vmlinux, guest booted with nokaslr) backtraces, current
# tasks, locks and the JITed BPF programs' names; without it registers and a
# raw stack scan symbolized with SYSTEM.MAP. Bounded by KT_GDB_TIMEOUT
# seconds (default 300). Prints nothing; status 0 when gdb ran.
set -u
port=$1 out=$2 vmlinux=${3:-} sysmap=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
command -v gdb >/dev/null || { echo "hang-capture: gdb missing (apt-get install gdb)" >"$out"; exit 1; }
args=(-batch -nx -iex "set pagination off" -iex "set confirm off")
if [ -n "$vmlinux" ] && [ -r "$vmlinux" ]; then
	cache=$(dirname "$vmlinux")/gdb-cache
	mkdir -p "$cache"
	# gdb's index cache: the first load of the 600 MB vmlinux takes ~25 s, later ones ~1 s
	args+=(-iex "set index-cache directory $cache" -iex "set index-cache enabled on" -ex "file $vmlinux")
	export KT_HAVE_VMLINUX=1
else
	args+=(-ex "set architecture i386:x86-64")
	export KT_HAVE_VMLINUX=0 KT_SYSMAP=$sysmap
fi
script=$here/hang-gdb.py
[ "${KT_UNSTICK:-0}" = 1 ] && script=$here/hang-unstick.py   # the experiment (run-vm.sh KT_GDB_UNSTICK=1)
args+=(-ex "target remote 127.0.0.1:$port" -x "$script" -ex "detach")
timeout --kill-after=5 "${KT_GDB_TIMEOUT:-300}" gdb "${args[@]}" </dev/null >"$out" 2>&1
