# tests/lib.sh: shared helpers for poolscope's shell tests.
#
# Every test case prints exactly one line, "PASS: name" or "FAIL: name: why";
# tests/run-tests counts those lines. Source this file, then call the helpers.

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-$TOP/build}
POOLSCOPE=${POOLSCOPE:-$BUILD/poolscope}
WORKLOADS=${WORKLOADS:-$BUILD/workloads}

pass() { printf 'PASS: %s\n' "$1"; }
fail() { printf 'FAIL: %s: %s\n' "$1" "$2"; }

# check NAME WHY CMD...: PASS when CMD succeeds, FAIL with WHY otherwise.
check() {
	local name=$1 why=$2
	shift 2
	if "$@"; then pass "$name"; else fail "$name" "$why"; fi
}

# Float comparison through awk: fcmp "1.7 > 1.5"
fcmp() { awk "BEGIN { exit !($1) }"; }

# no_programs_left NAME: after a test, no poolscope BPF program (ps_*) is
# loaded (the kernel frees them after an RCU grace period: wait up to 2 s).
no_programs_left() {
	local left i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		left=$(bpftool prog show 2>/dev/null | grep -cE 'name ps_') || true
		[ "$left" -eq 0 ] && break
		sleep 0.2
	done
	check "$1: no BPF program left loaded" "bpftool prog show lists $left ps_* programs" [ "$left" -eq 0 ]
}

# Fresh scratch directory per test file, removed on exit.
TMPD=$(mktemp -d /tmp/poolscope-test.XXXXXX)
trap 'rm -rf "$TMPD"' EXIT
not() { ! "$@"; }

# py - ARGS... <<'PY' ... PY: a python3 check that prints PASS:/FAIL: lines;
# if python itself fails (an exception, a bad key), that is a FAIL line too,
# never a silently missing check.
py() {
	python3 "$@"
	local rc=$?
	[ $rc -eq 0 ] || fail "python check at ${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}" "python3 exited with status $rc"
}
