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
# left loaded by this test: none held by a process of this test's own
# process tree, and none held by no process at all (pinned, or leaked) once
# the kernel has had 2 s to free them after an RCU grace period. Programs of
# other poolscopes running on the machine (other engineers' tests) are not
# this test's. The kernel's view: bpftool's program list, and which
# processes hold which program through /proc/PID/fdinfo.
leftover_programs() {
	python3 - "$$" <<'PY'
import json, os, re, subprocess, sys
test = int(sys.argv[1])
out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True).stdout
ids = {p["id"] for p in json.loads(out or "[]") if p.get("name", "").startswith("ps_")}
def ppid(pid):
    try:
        return int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[1])
    except Exception:
        return 0
def ours(pid):
    for _ in range(64):
        if pid == test:
            return True
        if pid <= 1:
            return False
        pid = ppid(pid)
    return False
held = {}
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        fds = os.listdir("/proc/%s/fdinfo" % d)
    except Exception:
        continue
    for fd in fds:
        try:
            m = re.search(r"^prog_id:\s*(\d+)", open("/proc/%s/fdinfo/%s" % (d, fd)).read(), re.M)
        except Exception:
            continue
        if m and int(m.group(1)) in ids:
            held.setdefault(int(m.group(1)), set()).add(int(d))
left = [i for i in ids if i not in held or any(ours(p) for p in held[i])]
print(len(left))
PY
}
no_programs_left() {
	local left i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		left=$(leftover_programs)
		[ "$left" -eq 0 ] && break
		sleep 0.2
	done
	check "$1: no BPF program left loaded" "bpftool prog show lists $left ps_* programs of this test" [ "$left" -eq 0 ]
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
