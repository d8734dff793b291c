#!/usr/bin/env bash
# tests/integration/test_names.sh: names in real traced runs.
#
#  - Debian's python3 (3.11, stripped): a CPU-bound ThreadPool serializes on
#    a lock named "CPython GIL" whose futex words lie where the interpreter's
#    own headers put the GIL (the cpython_layout generator) inside the
#    _PyRuntime the interpreter reports (ctypes); the verdict says so in
#    numbers. A multiprocessing.Pool is parallel; an IO-bound ThreadPool
#    fetching from a local HTTP server is IO-bound and the GIL is not its top
#    lock.
#  - gil-threads: its lock is named by its data symbol, the program's global
#    `gil`, at offsets inside the object (nm -S).
#  - names in the text report are whole frame names of the folded stacks,
#    never cut, and lines fit 80 columns (160 with -w).
#  - node --perf-basic-prof: the JS function is named in on-CPU stacks
#    through /tmp/perf-PID.map.
#  - a stripped binary's static function is named through a local
#    debuginfod serving its debug file, and stays unnamed without it.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	fail "name tests need root" "run make test as root (BPF tracing)"
	exit 1
fi
PY=/usr/bin/python3.11
LAYOUT=$BUILD/tests/fixtures/cpython_layout-python3.11
started=()
cleanup() {
	for p in "${started[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$TMPD"
}
trap cleanup EXIT

# trace NAME ARGS...: poolscope run --json $TMPD/NAME.json ARGS..., the text
# report in $TMPD/NAME.out; 0 if it wrote the report (else one FAIL line).
trace() {
	local name=$1 rc
	shift
	timeout -s KILL 180 "$POOLSCOPE" run --json "$TMPD/$name.json" "$@" >"$TMPD/$name.out" 2>&1
	rc=$?
	if [ $rc -ne 0 ] || [ ! -s "$TMPD/$name.json" ]; then
		fail "$name: traced run" "status $rc: $(tail -3 "$TMPD/$name.out" | tr '\n' ' ')"
		return 1
	fi
}

# judge NAME: run the python checks on stdin with r (the report), out (the
# text report), say(ok, what, why) printing one PASS/FAIL line "NAME: what".
judge() {
	local name=$1
	shift
	python3 - "$TMPD/$name.json" "$TMPD/$name.out" "$name" "$@" 3<&0 <<'PY'
import json, os, sys
path, text_path, tag = sys.argv[1:4]
args = sys.argv[4:]
r = json.load(open(path))
out = open(text_path, encoding="utf-8").read()
out = out[out.rfind("\npoolscope: ") + 1:]  # the report, not the workload's output
def say(ok, what, why=""):
    print(("PASS: %s: %s" % (tag, what)) if ok else ("FAIL: %s: %s: %s" % (tag, what, why)))
exec(os.fdopen(3).read())
PY
}

[ -x "$PY" ] || fail "python3.11" "Debian's $PY is missing (make deps)"
[ -x "$LAYOUT" ] || fail "cpython layout generator" "$LAYOUT missing (python3.11-dev; make)"

# --- Debian's python3: a CPU-bound ThreadPool --------------------------------
cat >"$TMPD/cpu_threads.py" <<'EOF'
import ctypes, sys
from multiprocessing.pool import ThreadPool
# where this interpreter's _PyRuntime is (dlsym), for the test to check
with open(sys.argv[1], "w") as f:
    f.write("%#x\n" % ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, "_PyRuntime")))
def square_range(r):
    return sum([i * i for i in range(r[0], r[1])])
with ThreadPool(3) as p:
    print(sum(p.map(square_range, [(i * 2000000, (i + 1) * 2000000) for i in range(6)])))
EOF
if trace py-threads -- "$PY" "$TMPD/cpu_threads.py" "$TMPD/runtime"; then
	judge py-threads "$(cat "$TMPD/runtime")" "$("$LAYOUT")" <<'EOF'
runtime = int(args[0], 16)
gil_off, gil_size = int(args[1].split()[2], 16), int(args[1].split()[3], 16)
d = r["diagnosis"]
cont = [l for l in r["locks"] if l["class"] == "contended"]
top = cont[0] if cont else {}
say(top.get("lock_name") == "CPython GIL", "the top contended lock is named CPython GIL",
    "top: %r" % {k: top.get(k) for k in ("lock_name", "lock_symbol", "caller")})
inside = [runtime + gil_off <= a < runtime + gil_off + gil_size for a in top.get("addrs", [])]
say(inside and all(inside), "its futex words lie in _PyRuntime's GIL (headers + ctypes)",
    "addrs %s, GIL [%#x, %#x)" % ([hex(a) for a in top.get("addrs", [])], runtime + gil_off,
                                   runtime + gil_off + gil_size))
say(all(s.startswith("_PyRuntime+0x") for s in top.get("addr_symbols", ["?"])),
    "its words are named _PyRuntime+0x..", str(top.get("addr_symbols")))
nthreads = len([t for t in r["threads"] if t["tgid"] == top.get("tgid")])
say(0 < top.get("active_peers", 0) <= nthreads,
    "the GIL's active peers while waiting are a count of the process's threads (1..%d)" % nthreads,
    "active_peers %r (a torn read of the process's activity counters is off by the uptime)" % top.get("active_peers"))
say(d["key"] == "lock-serialized", "the verdict is lock-serialized",
    "%s: %s" % (d["key"], d["text"]))
lesson = "threads serialized on CPython's GIL; use multiprocessing or a C extension that releases the GIL"
say(lesson in d["text"] and d["text"].split(" ")[0].isdigit(), "the diagnosis gives the lesson with its numbers",
    d["text"])
say((d.get("lock") or {}).get("lock_name") == "CPython GIL", "the diagnosis names the GIL",
    str(d.get("lock")))
say(any(" on CPython GIL" in l for l in out.splitlines()), "the text lock line says CPython GIL",
    "\n".join(l for l in out.splitlines() if "waiters" in l))
say(max(len(l) for l in out.splitlines()) <= 80, "the text report fits 80 columns",
    max(out.splitlines(), key=len))
EOF
fi
no_programs_left "python ThreadPool"

# --- the same work in a multiprocessing.Pool -------------------------------------
cat >"$TMPD/cpu_procs.py" <<'EOF'
from multiprocessing import Pool
def square_range(r):
    return sum([i * i for i in range(r[0], r[1])])
if __name__ == "__main__":
    with Pool(2) as p:
        print(sum(p.map(square_range, [(i * 2000000, (i + 1) * 2000000) for i in range(6)])))
EOF
if trace py-procs -- "$PY" "$TMPD/cpu_procs.py"; then
	judge py-procs <<'EOF'
d = r["diagnosis"]
# (or, while untraced tasks take the cores, CPU-bound and starved by them)
say(d["key"] == "cpu-parallel" or (d["key"] == "cpu-starved" and r["totals"]["other_load_cpus"] >= 0.5),
    "a multiprocessing.Pool is CPU-bound and parallel",
    "%s (parallelism %.2f): %s" % (d["key"], r["totals"]["parallelism"], d["text"]))
gil = [l for l in r["locks"] if l["lock_name"] == "CPython GIL" and l["class"] == "contended"
       and l["share_waiters"] > 0.1]
say(not gil, "no process waits on its GIL for long", str([(l["tgid"], l["share_waiters"]) for l in gil]))
EOF
fi
no_programs_left "python Pool"

# --- an IO-bound ThreadPool against a local HTTP server (untraced) -----------------
cat >"$TMPD/server.py" <<'EOF'
import sys, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
class Slow(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.05)  # a backend that takes 50 ms
        body = b"x" * 512
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
EOF
cat >"$TMPD/io_threads.py" <<'EOF'
import sys, urllib.request
from multiprocessing.pool import ThreadPool
url = "http://127.0.0.1:%s/" % sys.argv[1]
def fetch(i):
    with urllib.request.urlopen(url + str(i), timeout=10) as resp:
        return len(resp.read())
with ThreadPool(8) as p:
    print(sum(p.map(fetch, range(160))))
EOF
"$PY" "$TMPD/server.py" "$TMPD/port" &
started+=($!)
for _ in $(seq 50); do [ -s "$TMPD/port" ] && break; sleep 0.1; done
if [ ! -s "$TMPD/port" ]; then
	fail "io ThreadPool: local HTTP server" "it did not start"
elif trace py-io -- "$PY" "$TMPD/io_threads.py" "$(cat "$TMPD/port")"; then
	judge py-io <<'EOF'
d = r["diagnosis"]
say(d["key"] == "io-bound", "an IO-bound ThreadPool is IO-bound", "%s: %s" % (d["key"], d["text"]))
locks = r["locks"]
say(not locks or locks[0]["lock_name"] != "CPython GIL", "the GIL is not its top lock",
    "top: %s %s share %.2f" % (locks[0]["lock_name"], locks[0]["class"], locks[0]["share_waiters"])
    if locks else "")
EOF
fi
no_programs_left "python IO ThreadPool"

# --- gil-threads: the program's global lock object ----------------------------------
gil_size=$(nm -S "$WORKLOADS/gil-threads" | awk '$4 == "gil" && ($3 == "b" || $3 == "d" || $3 == "B" || $3 == "D") {print $2}')
if trace gil-threads --stacks all --folded "offcpu:$TMPD/gil-off.folded" \
	--folded "oncpu:$TMPD/gil-on.folded" --folded "futex:$TMPD/gil-fx.folded" gil-threads -w 2; then
	judge gil-threads "${gil_size:-0}" <<'EOF'
size = int(args[0], 16)
cont = [l for l in r["locks"] if l["class"] == "contended"]
top = cont[0] if cont else {}
syms = top.get("addr_symbols", [])
offs = [int(s[4:], 16) if s.startswith("gil+0x") else 0 if s == "gil" else -1 for s in syms]
say(size > 0 and offs and all(0 <= o < size for o in offs),
    "the lock is named by the program's object gil, inside it (nm -S: %d bytes)" % size, str(syms))
say("gil_acquire" in top.get("caller", "") and top.get("lock_name", "").startswith("gil"),
    "the lock line's fields: gil_acquire on gil+0x..", str({k: top.get(k) for k in ("caller", "lock_name")}))
say(any("gil_acquire on gil" in l for l in out.splitlines()), "the text says gil_acquire on gil+0x..",
    "\n".join(l for l in out.splitlines() if "waiters" in l))
EOF
fi
no_programs_left "gil-threads"

# names_whole TEXT WIDTH FOLDED...: every frame the text report shows in its
# stack lines (top stacks, lock stacks) is a whole frame of the folded
# stacks, and no line is wider than WIDTH.
names_whole() {
	python3 - "$@" <<'PY'
import re, sys
text, width, folded = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
user, kern = set(), set()
for f in folded:
    for line in open(f):
        frames = line.rsplit(" ", 1)[0].split(";")
        if "-" in frames:
            i = frames.index("-")
            user.update(frames[1:i]); kern.update(x[:-4] for x in frames[i + 1:])
        else:
            user.update(frames[1:])
lines = open(text, encoding="utf-8").read()
lines = lines[lines.rfind("\npoolscope: ") + 1:].splitlines()  # the report only
joined, shown = [], []
for l in lines:  # continuation lines of a wrapped label start deeper
    if joined and re.match(r"^ {10,}\S", l) and not re.match(r"^ +\d+\.\d%", l):
        # broken after ';' (frames) or at a space (" | ", words)
        joined[-1] += l.strip() if joined[-1].endswith(";") else " " + l.strip()
    else:
        joined.append(l)
bad = []
for l in joined:
    m = re.match(r"^ +\d+\.\d% +\S+ +[^:]+: (.*)$", l) or re.match(r"^ +stack: (.*)$", l)
    if not m:
        continue
    u, _, k = m.group(1).partition(" | ")
    for fr in u.split(";"):
        shown.append(fr)
        if fr not in user and fr not in ("\u2026", "-", "[unknown]", "[user stack lost]"):
            bad.append(fr)
    for fr in (k.split(";") if k else []):
        shown.append(fr)
        if fr not in kern:
            bad.append(fr + " (kernel)")
wide = [l for l in lines if len(l) > width]
ok = shown and not bad and not wide
print(("PASS: " if ok else "FAIL: ") + "%s: %d frames shown are whole frame names, lines fit %d columns"
      % (text.rsplit("/", 1)[-1], len(shown), width) +
      ("" if ok else ": cut or unknown %r; too wide %r" % (bad[:4], wide[:2])))
PY
}
if [ -s "$TMPD/gil-threads.out" ]; then
	names_whole "$TMPD/gil-threads.out" 80 "$TMPD/gil-off.folded" "$TMPD/gil-on.folded" "$TMPD/gil-fx.folded"
fi
if trace gil-wide -w --stacks all --folded "offcpu:$TMPD/w-off.folded" \
	--folded "oncpu:$TMPD/w-on.folded" --folded "futex:$TMPD/w-fx.folded" gil-threads -w 2; then
	names_whole "$TMPD/gil-wide.out" 160 "$TMPD/w-off.folded" "$TMPD/w-on.folded" "$TMPD/w-fx.folded"
fi
no_programs_left "names in the text report"

# --- node --perf-basic-prof: JIT frames ----------------------------------------------
# (run in $TMPD: node also writes an isolate-*-v8.log into its directory)
cat >"$TMPD/hot.js" <<'EOF'
function hotLoopSquares(n) {
  let s = 0;
  for (let i = 0; i < n; i++) s = (s + i * i) % 1000003;
  return s;
}
let t = 0;
const end = Date.now() + 2000;
while (Date.now() < end) t += hotLoopSquares(1000000);
console.log(t);
EOF
if ! command -v node >/dev/null; then
	fail "node JIT frames" "node is not installed (make deps installs nodejs)"
elif trace node --stacks oncpu --folded "oncpu:$TMPD/node.folded" --svg "oncpu:$TMPD/node.svg" \
	-- env -C "$TMPD" node --perf-basic-prof "$TMPD/hot.js"; then
	check "node: demangled C++ names (templates: '<', '>') are in the folded stacks" \
		"$(head -c 300 "$TMPD/node.folded")" grep -q 'node::.*(.*<.*>.*)' "$TMPD/node.folded"
	check "node: the SVG with those names is well-formed XML (xmllint)" \
		"$(xmllint --noout "$TMPD/node.svg" 2>&1 | head -2)" xmllint --noout "$TMPD/node.svg"
	node_pid=$(python3 -c 'import json,sys; print(" ".join(str(p["tgid"]) for p in json.load(open(sys.argv[1]))["processes"]))' "$TMPD/node.json")
	map=""
	for p in $node_pid; do [ -f "/tmp/perf-$p.map" ] && map=/tmp/perf-$p.map; done
	check "node: it wrote its perf map, naming hotLoopSquares" "no /tmp/perf-{$node_pid}.map with it" \
		grep -q hotLoopSquares "${map:-/nonexistent}"
	python3 - "$TMPD/node.folded" <<'PY'
import sys
total = hot = 0
for line in open(sys.argv[1]):
    stack, n = line.rsplit(" ", 1)
    user = stack.split(";-;")[0].split(";")
    total += int(n)
    hot += int(n) if "hotLoopSquares" in user[-1] else 0
ok = total and hot >= 0.5 * total
print(("PASS: " if ok else "FAIL: ") + "node: the JS function hotLoopSquares is the leaf of most on-CPU samples" +
      ("" if ok else ": %d of %d samples" % (hot, total)))
PY
	for p in $node_pid; do rm -f "/tmp/perf-$p.map"; done
fi
no_programs_left "node"

# --- debuginfod: a stripped binary's debug file from a local server ---------------------
mkdir -p "$TMPD/dbg" "$TMPD/bin"
cat >"$TMPD/spin.c" <<'EOF'
#include <stdio.h>
#include <time.h>
static __attribute__((noinline)) unsigned long spin_static_fn(unsigned long n)
{
	volatile unsigned long s = 0;

	for (unsigned long i = 0; i < n; i++)
		s += i * i;
	return s;
}
int main(void)
{
	struct timespec a, b;
	unsigned long t = 0;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		t += spin_static_fn(1000000);
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 1500000000L);
	printf("%lu\n", t);
	return 0;
}
EOF
if ! command -v debuginfod >/dev/null; then
	fail "debuginfod" "debuginfod is not installed (make deps)"
elif gcc -O1 -g -fno-omit-frame-pointer -Wl,--build-id "$TMPD/spin.c" -o "$TMPD/spin.full" &&
	objcopy --only-keep-debug "$TMPD/spin.full" "$TMPD/dbg/spin.debug" &&
	strip --strip-all "$TMPD/spin.full" -o "$TMPD/bin/spin"; then
	check "debuginfod: the test binary is stripped (no .symtab, no debuglink)" \
		"$(readelf -S "$TMPD/bin/spin" | grep -E 'symtab|debuglink')" \
		eval '! readelf -S "$TMPD/bin/spin" | grep -qE "\.symtab|gnu_debuglink"'
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	id=$(readelf -n "$TMPD/bin/spin" | awk '/Build ID/ {print $3}')
	debuginfod -F -p "$port" -d "$TMPD/debuginfod.sqlite" "$TMPD/dbg" >"$TMPD/debuginfod.log" 2>&1 &
	started+=($!)
	served=0
	for _ in $(seq 100); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/buildid/$id/debuginfo")
		[ "$code" = 200 ] && served=1 && break
		sleep 0.2
	done
	check "debuginfod: the local server serves the debug file" "HTTP $code for build-id $id" [ $served -eq 1 ]
	DEBUGINFOD_URLS="http://127.0.0.1:$port" DEBUGINFOD_CACHE_PATH="$TMPD/dicache" \
		trace spin-dbgd --stacks oncpu --folded "oncpu:$TMPD/spin-with.folded" -- "$TMPD/bin/spin"
	(unset DEBUGINFOD_URLS; trace spin-local --stacks oncpu --folded "oncpu:$TMPD/spin-without.folded" -- "$TMPD/bin/spin")
	check "debuginfod: the stripped binary's static function resolves through it" \
		"$(head -2 "$TMPD/spin-with.folded" 2>/dev/null)" grep -q ';spin_static_fn ' "$TMPD/spin-with.folded"
	check "debuginfod: without DEBUGINFOD_URLS it stays unresolved (spin+0x..)" \
		"$(head -2 "$TMPD/spin-without.folded" 2>/dev/null)" \
		eval 'grep -q ";spin+0x" "$TMPD/spin-without.folded" && ! grep -q spin_static_fn "$TMPD/spin-without.folded"'
	check "debuginfod: poolscope asked the server for that build-id" "$(tail -3 "$TMPD/debuginfod.log")" \
		grep -q "/buildid/$id/debuginfo 200" "$TMPD/debuginfod.log"
else
	fail "debuginfod: test binary" "cannot build and strip $TMPD/spin.c"
fi
no_programs_left "debuginfod"
