#!/usr/bin/env bash
# tests/integration/test_stability.sh: the same load gives the same verdict.
# Five back-to-back traces each of apache (prefork and worker MPMs, Debian's
# apache2, loaded by apache2-utils' ab on 127.0.0.1), memcached under a
# set/get loop, and a bundled workload: at most one verdict change in the
# five (and no verdict with high confidence that another run contradicts).
# About 100 s in all (2 s traces, after a 3 s warm-up load of each server).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
RUNS=${STABILITY_RUNS:-5}

if [ "$(id -u)" -ne 0 ]; then
	fail "stability tests need root" "run make test as root (BPF tracing)"
	exit 1
fi
for tool in apache2 ab memcached ss; do
	if ! command -v $tool >/dev/null; then
		fail "stability tests: $tool" "not installed (make deps installs apache2, apache2-utils, memcached)"
		exit 1
	fi
done

# stable NAME FILES...: PASS when the verdicts of the reports change at most once
stable() {
	py - "$@" <<'PY'
import json, sys
name, files = sys.argv[1], sys.argv[2:]
runs, ev = [], []
for f in files:
    try:
        d = json.load(open(f))["diagnosis"]
        runs.append((d["key"], d["confidence"]))
        ev.append(", ".join("%s=%.3g" % kv for kv in d.get("evidence", {}).items()))
    except Exception as e:
        runs.append(("(no report: %s)" % e, 0))
keys = [k for k, _ in runs]
changes = sum(a != b for a, b in zip(keys, keys[1:]))
ok = len(files) >= 5 and changes <= 1
print(("PASS: " if ok else "FAIL: ") + "%s: %d runs, %d verdict change%s" % (name, len(files), changes, "" if changes == 1 else "s")
      + (" (" if ok else ": ") + ", ".join("%s %.2f" % r for r in runs) + (")" if ok else ""))
if not ok:  # what each run saw, to tell a threshold crossed by a hair
    for r, e in zip(runs, ev):
        print("    %s %.2f: %s" % (r + (e,)))
PY
}

wait_port() { local i; for i in $(seq 50); do ss -ltn | grep -q "127.0.0.1:$1 " && return 0; sleep 0.1; done; return 1; }

# --- apache, both MPMs, a config of its own on a port of its own
apache_conf() { # MPM PORT -> $TMPD/MPM/httpd.conf
	local d=$TMPD/$1 m=/usr/lib/apache2/modules
	mkdir -p "$d/htdocs"
	echo hello >"$d/htdocs/index.html"
	cat >"$d/httpd.conf" <<EOF
ServerRoot "$d"
ServerName localhost
Listen 127.0.0.1:$2
PidFile $d/httpd.pid
ErrorLog $d/error.log
DefaultRuntimeDir $d
LoadModule mpm_$1_module $m/mod_mpm_$1.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule mime_module $m/mod_mime.so
TypesConfig /etc/mime.types
User www-data
Group www-data
DocumentRoot "$d/htdocs"
KeepAlive Off
StartServers 2
EOF
	chmod -R a+rX "$d"
}
for mpm in prefork worker; do
	port=$((20000 + RANDOM % 20000))
	apache_conf $mpm $port
	apache2 -f "$TMPD/$mpm/httpd.conf" -k start 2>"$TMPD/$mpm.err"
	if ! wait_port $port; then
		fail "stability: apache $mpm starts" "$(tail -3 "$TMPD/$mpm.err" "$TMPD/$mpm/error.log")"
		continue
	fi
	# a first load untraced: the server grows its pool to the load's size
	# (prefork forks children for a few seconds), so that the five traces
	# see the same load; each trace takes the server's processes as they are
	ab -q -c 8 -t 3 -n 10000000 "http://127.0.0.1:$port/index.html" >"$TMPD/ab.0" 2>&1
	files=()
	for i in $(seq $RUNS); do
		ab -q -c 8 -t 3 -n 10000000 "http://127.0.0.1:$port/index.html" >"$TMPD/ab.$i" 2>&1 &
		ab=$!
		sleep 0.3
		pids=$(pgrep -d, -f "$TMPD/$mpm/httpd.conf")
		"$POOLSCOPE" attach -q -p "$pids" --children -d 2 --json "$TMPD/$mpm.$i.json" 2>>"$TMPD/$mpm.err"
		wait $ab
		files+=("$TMPD/$mpm.$i.json")
	done
	apache2 -f "$TMPD/$mpm/httpd.conf" -k stop 2>/dev/null
	for i in $(seq 50); do pgrep -f "$TMPD/$mpm/httpd.conf" >/dev/null || break; sleep 0.1; done
	stable "stability: apache $mpm under ab -c 8" "${files[@]}"
done

# --- memcached under a loop of sets and gets from 4 connections
port=$((20000 + RANDOM % 20000))
memcached -u nobody -l 127.0.0.1 -p $port -U 0 -t 4 >/dev/null 2>&1 &
MC=$!
if wait_port $port; then
	files=()
	for i in $(seq $RUNS); do
		python3 - $port <<'PY' &
import os, socket, sys, time
port = int(sys.argv[1])
for p in range(4):
    if os.fork() == 0:
        s = socket.create_connection(("127.0.0.1", port))
        end, i = time.time() + 2.8, 0
        while time.time() < end:
            k = b"k%d_%d" % (p, i % 100)
            s.sendall(b"set " + k + b" 0 0 5\r\nhello\r\nget " + k + b"\r\n")
            s.recv(256)
            i += 1
        os._exit(0)
for p in range(4):
    os.wait()
PY
		load=$!
		sleep 0.3
		"$POOLSCOPE" attach -q -p $MC -d 2 --json "$TMPD/mc.$i.json" 2>>"$TMPD/mc.err"
		wait $load
		files+=("$TMPD/mc.$i.json")
	done
	stable "stability: memcached under a set/get loop" "${files[@]}"
else
	fail "stability: memcached starts" "no listener on port $port"
fi
kill $MC 2>/dev/null
wait $MC 2>/dev/null

# --- a bundled workload
files=()
for i in $(seq $RUNS); do
	"$POOLSCOPE" run -q --json "$TMPD/io.$i.json" io-threads >/dev/null 2>>"$TMPD/io.err"
	files+=("$TMPD/io.$i.json")
done
stable "stability: io-threads" "${files[@]}"
no_programs_left "stability"
exit 0
