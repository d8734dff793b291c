#!/usr/bin/env bash
# tests/integration/test_python.sh: Python frames in the stacks of Debian's
# own python3 (3.11), on programs written here whose shape is known:
#  - a CPU-bound ThreadPool of `def crunch(n)`: crunch is in >= 90 % of its
#    workers' on-CPU samples, and the GIL's waiter and waker are named by it;
#  - an IO-bound ThreadPool of `def fetch(url)` against a local HTTP server:
#    fetch holds >= 90 % of its workers' off-CPU time;
#  - a multiprocessing.Pool: Python frames in every child process, which
#    exit before the trace ends;
#  - a call depth beyond the bound (PS_PY_DEPTH, 64): the stack keeps the
#    innermost frames, the truncation is counted, nothing fails;
#  - the CPU pool again in a PID namespace of its own (as in a container).
# The truth for names, order and lines: the programs' own
# traceback.extract_stack() at a known point, printed on the line where they
# then block (py-spy, the other independent reader, is not in Debian 12:
# `apt-cache policy py-spy` lists nothing). Worker threads name themselves
# (prctl PR_SET_NAME) so that their stacks are told apart in the folded
# export, whose root frame is the thread's name.
. "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
if [ "$(id -u)" -ne 0 ]; then
	fail "python frame tests need root" "run make test as root (BPF tracing)"
	exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
	fail "Debian's python3 is 3.11" "$("$PY" --version 2>&1) (make deps installs python3)"
	exit 1
fi

# A folded file's lines as JSON for the checks: [[frames...], value].
cat >"$TMPD/check.py" <<'PY'
import json, os, re, sys

def out(ok, name, why=""):
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else ": " + why))

def folded(path):
    rows = []
    for line in open(path):
        stack, _, value = line.rstrip("\n").rpartition(" ")
        rows.append((stack.split(";"), int(value)))
    return rows

PYFRAME = re.compile(r"^(.+) \((.+?)(?::(\d+))?\)$")

def python_frames(frames):
    """The Python frames of a folded user stack, root first: (qualname, file, line)."""
    got = []
    for f in frames:
        if f == "-":
            break
        m = PYFRAME.match(f)
        if m:
            got.append((m.group(1), m.group(2), int(m.group(3) or 0)))
    return got

def truth(path):
    """traceback.extract_stack() as the program printed it: (name, basename, line)."""
    return [(n, os.path.basename(f), l) for f, l, n in json.load(open(path))]

def same_frames(got, want):
    """poolscope's frames (qualname) against extract_stack's (co_name): the
    last component of the qualname is the name; files and lines equal."""
    if len(got) != len(want):
        return False
    return all(q.split(".")[-1] == n and f == wf and l == wl
               for (q, f, l), (n, wf, wl) in zip(got, want))
PY

# --- a CPU-bound ThreadPool: crunch in the workers' on-CPU samples ---------
cat >"$TMPD/cpu.py" <<'PY'
import ctypes, json, sys, time, traceback
from multiprocessing.pool import ThreadPool

libc = ctypes.CDLL(None)

def name_worker():
    libc.prctl(15, b"crunch-worker", 0, 0, 0)

said = []

def crunch(n):
    if not said:
        said.append(1); json.dump([(f.filename, f.lineno, f.name) for f in traceback.extract_stack()], open(sys.argv[1], "w"))
    total = 0
    for i in range(n):
        total += i * i
    return total

def main():
    pool = ThreadPool(4, initializer=name_worker)
    pool.map(crunch, [150000] * 60)
    pool.close()
    pool.join()

time.sleep(0.2)   # poolscope has seen the interpreter (it looks every 50 ms slice)
main()
PY
"$POOLSCOPE" run -q -F 499 --stacks all --json "$TMPD/cpu.json" --folded "oncpu:$TMPD/cpu-on.folded" \
	--pprof "oncpu:$TMPD/cpu-on.pb.gz" -- "$PY" "$TMPD/cpu.py" "$TMPD/cpu-truth.json" \
	>"$TMPD/cpu.out" 2>&1
rc=$?
check "cpu ThreadPool traced: exit 0, nothing on stderr" "status $rc: $(head -3 "$TMPD/cpu.out")" \
	[ $rc -eq 0 -a ! -s "$TMPD/cpu.out" ]
py - "$TMPD" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1]); from check import *
d = sys.argv[1]
rows = [(f, v) for f, v in folded(d + "/cpu-on.folded") if f[0] == "crunch-worker"]
total = sum(v for _, v in rows)
hit = sum(v for f, v in rows if any(x.startswith("crunch (cpu.py:") for x in f))
out(total >= 50, "cpu ThreadPool: the workers were sampled", "%d samples" % total)
out(total and hit >= 0.9 * total, "cpu ThreadPool: crunch is in >= 90% of the workers' on-CPU samples",
    "%d of %d" % (hit, total))
# the callers above crunch are extract_stack's, in order, with their lines
want = truth(d + "/cpu-truth.json")
stacks = [python_frames(f) for f, _ in rows]
match = [s for s in stacks if s and s[-1][0] == "crunch" and same_frames(s[:-1], want[:-1])]
out(len(match) >= 0.9 * len([s for s in stacks if s and s[-1][0] == "crunch"]) and match,
    "cpu ThreadPool: the frames above crunch are traceback.extract_stack()'s (names, files, lines, order)",
    "want %s, got e.g. %s" % (want[:-1], stacks[:2]))
r = json.load(open(d + "/cpu.json"))
p = r["python"]
out(p["frames"] and p["processes"] == 1 and p["versions"] == ["3.11"] and p["stacks"] > 0,
    "cpu ThreadPool: the report says Python frames of one CPython 3.11", str(p))
out(p["truncated"] == 0 and p["stacks_not_kept"] == 0 and p["code_not_kept"] == 0,
    "cpu ThreadPool: no Python stack cut or lost", str(p))
gil = [l for l in r["locks"] if l["lock_name"] == "CPython GIL"]
out(gil and gil[0]["caller"].startswith("crunch (cpu.py:"),
    "cpu ThreadPool: the GIL's waiters are named by their Python function (crunch)",
    str([(l["caller"], l["lock_name"]) for l in r["locks"][:3]]))
out(gil and PYFRAME.match(gil[0]["waker"] or ""),
    "cpu ThreadPool: the GIL's holder that woke them is named by its Python function",
    "waker %r" % (gil[0]["waker"] if gil else None))
PY
# pprof: the real reader sees the Python functions
if command -v go >/dev/null; then
	export GOCACHE=$BUILD/gocache
	go tool pprof -raw -symbolize=none "$TMPD/cpu-on.pb.gz" >"$TMPD/cpu-on.raw" 2>&1
	check "cpu ThreadPool: go tool pprof reads crunch's frames from the profile" \
		"$(head -3 "$TMPD/cpu-on.raw")" grep -q 'crunch (cpu.py:' "$TMPD/cpu-on.raw"
else
	fail "go installed" "make deps installs golang-go"
fi

# --- in a PID namespace of its own (a container's): native_thread_id is the
# thread's id there, not the one poolscope's maps are keyed by
"$POOLSCOPE" run -q -F 499 --stacks oncpu --folded "oncpu:$TMPD/ns-on.folded" \
	-- unshare --pid --fork --mount-proc "$PY" "$TMPD/cpu.py" "$TMPD/ns-truth.json" >"$TMPD/ns.out" 2>&1
rc=$?
check "cpu ThreadPool in its own PID namespace traced: exit 0" "status $rc: $(head -3 "$TMPD/ns.out")" [ $rc -eq 0 ]
py - "$TMPD" <<'PY'
import sys
sys.path.insert(0, sys.argv[1]); from check import *
rows = [(f, v) for f, v in folded(sys.argv[1] + "/ns-on.folded") if f[0] == "crunch-worker"]
total = sum(v for _, v in rows)
hit = sum(v for f, v in rows if any(x.startswith("crunch (cpu.py:") for x in f))
out(total >= 50 and hit >= 0.9 * total,
    "cpu ThreadPool in a PID namespace: crunch is in >= 90% of the workers' on-CPU samples",
    "%d of %d" % (hit, total))
PY

# --- the same without Python frames ------------------------------------------
"$POOLSCOPE" run -q --stacks oncpu --no-python-frames --json "$TMPD/nopy.json" \
	--folded "oncpu:$TMPD/nopy.folded" -- "$PY" "$TMPD/cpu.py" "$TMPD/nopy-truth.json" \
	>"$TMPD/nopy.out" 2>&1
rc=$?
check "--no-python-frames: exit 0" "status $rc: $(head -3 "$TMPD/nopy.out")" [ $rc -eq 0 ]
check "--no-python-frames: no Python frame in the stacks" "$(grep -m1 'cpu.py:' "$TMPD/nopy.folded")" \
	not grep -q ' (cpu.py:' "$TMPD/nopy.folded"
py - "$TMPD/nopy.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["python"]
print(("PASS: " if not p["frames"] and p["stacks"] == 0 else "FAIL: ") +
      "--no-python-frames: the report says they were off" + ("" if not p["frames"] else ": %s" % p))
PY

# --- an IO-bound ThreadPool against a local HTTP server ----------------------
cat >"$TMPD/server.py" <<'PY'
import http.server, sys, time
class Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.05)
        body = b"x" * 512
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 256   # 8 connecting at once: none waits for a SYN retry
    daemon_threads = True
s = Server(("127.0.0.1", 0), Slow)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
cat >"$TMPD/io.py" <<'PY'
import ctypes, json, sys, time, traceback, urllib.request
from multiprocessing.pool import ThreadPool

libc = ctypes.CDLL(None)
said = []

def name_worker():
    libc.prctl(15, b"fetch-worker", 0, 0, 0)

def fetch(url):
    stack = traceback.extract_stack(); r = urllib.request.urlopen(url, timeout=10)
    if not said:
        said.append(1); json.dump([(f.filename, f.lineno, f.name) for f in stack], open(sys.argv[2], "w"))
    with r:
        return len(r.read())

time.sleep(0.2)   # poolscope has seen the interpreter
pool = ThreadPool(8, initializer=name_worker)
# one URL a task: the 8 workers stay busy until the last few tasks
sizes = pool.map(fetch, ["http://127.0.0.1:%s/" % sys.argv[1]] * 320, chunksize=1)
pool.close()
pool.join()
assert sizes == [512] * 320, sizes
PY
"$PY" "$TMPD/server.py" >"$TMPD/port" 2>"$TMPD/server.err" &
server=$!
for _ in $(seq 50); do [ -s "$TMPD/port" ] && break; sleep 0.1; done
"$POOLSCOPE" run -q --stacks offcpu --json "$TMPD/io.json" --folded "offcpu:$TMPD/io-off.folded" \
	-- "$PY" "$TMPD/io.py" "$(cat "$TMPD/port")" "$TMPD/io-truth.json" >"$TMPD/io.out" 2>&1
rc=$?
kill $server 2>/dev/null
wait $server 2>/dev/null
check "io ThreadPool traced: exit 0, all 320 fetches answered" "status $rc: $(tail -3 "$TMPD/io.out")" \
	[ $rc -eq 0 ]
py - "$TMPD" <<'PY'
import sys
sys.path.insert(0, sys.argv[1]); from check import *
d = sys.argv[1]
rows = [(f, v) for f, v in folded(d + "/io-off.folded") if f[0] == "fetch-worker"]
total = sum(v for _, v in rows)
hit = sum(v for f, v in rows if any(x.startswith("fetch (io.py:") for x in f))
other = sorted(((v, ";".join(f[-4:])) for f, v in rows if not any(x.startswith("fetch (io.py:") for x in f)),
               reverse=True)
out(total > 0 and hit >= 0.9 * total, "io ThreadPool: fetch holds >= 90% of the workers' off-CPU time",
    "%.0f of %.0f ms; the rest: %s" % (hit / 1000, total / 1000, other[:3]))
# blocked in urlopen: the frames from the root to fetch are extract_stack's
want = truth(d + "/io-truth.json")
blocked = [python_frames(f) for f, v in sorted(rows, key=lambda r: -r[1])]
inside = [s for s in blocked if len(s) > len(want) and s[len(want) - 1][0] == "fetch"]
out(inside and same_frames(inside[0][:len(want)], want),
    "io ThreadPool: from the root to fetch the frames are traceback.extract_stack()'s",
    "want %s, got %s" % (want, inside[0][:len(want)] if inside else blocked[:1]))
out(inside and any(q == "urlopen" for q, _, _ in inside[0][len(want):]),
    "io ThreadPool: below fetch, urllib's frames (urlopen)", str(inside[:1]))
PY

# --- a multiprocessing.Pool: Python frames in every child ------------------
cat >"$TMPD/mp.py" <<'PY'
import ctypes, multiprocessing, os, sys, time

def name_child():
    ctypes.CDLL(None).prctl(15, b"mpc-%d" % os.getpid(), 0, 0, 0)
    os.write(1, b"%d\n" % os.getpid())   # one write: the children share the pipe

def crunch(n):
    total = 0
    for i in range(n):
        total += i * i
    return total

if __name__ == "__main__":
    time.sleep(0.2)   # poolscope has seen the parent's interpreter: the children inherit it
    with multiprocessing.Pool(3, initializer=name_child) as pool:
        pool.map(crunch, [200000] * 24, chunksize=1)
    time.sleep(0.3)   # the children are gone before the trace ends
PY
"$POOLSCOPE" run -q -F 499 --stacks oncpu --json "$TMPD/mp.json" --folded "oncpu:$TMPD/mp-on.folded" \
	-- "$PY" "$TMPD/mp.py" >"$TMPD/mp.out" 2>"$TMPD/mp.err"
rc=$?
check "multiprocessing.Pool traced: exit 0" "status $rc: $(tail -3 "$TMPD/mp.err")" [ $rc -eq 0 ]
py - "$TMPD" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1]); from check import *
d = sys.argv[1]
pids = [int(l) for l in open(d + "/mp.out") if l.strip()]
rows = folded(d + "/mp-on.folded")
out(len(pids) == 3, "multiprocessing.Pool: 3 children started", str(pids))
for pid in pids:
    mine = [f for f, _ in rows if f[0] == "mpc-%d" % pid]
    named = [f for f in mine if any(x.startswith("crunch (mp.py:") for x in f) and
             any(x.startswith("worker (pool.py:") for x in f)]
    r = json.load(open(d + "/mp.json"))
    out(named, "multiprocessing.Pool: child %d's stacks have its Python frames (worker, crunch)" % pid,
        "%d stacks, %d with Python frames, e.g. %s; %s" % (len(mine), len([f for f in mine if python_frames(f)]),
                                                    mine[:1], r["python"]))
r = json.load(open(d + "/mp.json"))
out(r["python"]["processes"] >= 4, "multiprocessing.Pool: the parent and 3 children are CPython processes",
    str(r["python"]))
PY

# --- deeper than the bound: the innermost frames, the cut counted -----------
cat >"$TMPD/deep.py" <<'PY'
import json, sys, time, traceback

def down(k):
    if k:
        return down(k - 1)
    stack = traceback.extract_stack(); time.sleep(0.4)
    json.dump([(f.filename, f.lineno, f.name) for f in stack], open(sys.argv[1], "w"))

time.sleep(0.2)   # poolscope has seen the interpreter
down(100)
PY
"$POOLSCOPE" run -q --stacks offcpu --json "$TMPD/deep.json" --folded "offcpu:$TMPD/deep-off.folded" \
	-- "$PY" "$TMPD/deep.py" "$TMPD/deep-truth.json" >"$TMPD/deep.out" 2>&1
rc=$?
check "deep recursion traced: exit 0, nothing on stderr" "status $rc: $(head -3 "$TMPD/deep.out")" \
	[ $rc -eq 0 -a ! -s "$TMPD/deep.out" ]
py - "$TMPD" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1]); from check import *
d = sys.argv[1]
want = truth(d + "/deep-truth.json")
p = json.load(open(d + "/deep.json"))["python"]
out(p["truncated"] > 0, "deep recursion: the truncated Python stacks are counted", str(p))
slept = [f for f, v in sorted(folded(d + "/deep-off.folded"), key=lambda r: -r[1])
         if any(x.startswith("down (deep.py:") for x in f)]
top = slept[0] if slept else []
frames = python_frames(top)
out(len(want) > 64 and top[1:2] == ["[more Python frames]"],
    "deep recursion: the stack's root says Python frames are missing", str(top[:3]))
out(len(frames) == 64 and same_frames(frames, want[-64:]),
    "deep recursion: it keeps the innermost 64 frames, extract_stack()'s",
    "%d frames: %s ... want %s" % (len(frames), frames[-2:], want[-2:]))
PY
no_programs_left "python frames"
