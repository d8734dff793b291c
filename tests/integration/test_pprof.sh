#!/usr/bin/env bash
# tests/integration/test_pprof.sh: pprof profiles and pushes to a Pyroscope
# ingest endpoint, checked by the real readers: `go tool pprof -raw` and
# `-top` read each kind a real run writes, and its stacks and totals equal
# the folded export's of the same run; a receiver on 127.0.0.1, written in
# Go against google/pprof's own profile package (ingest_receiver.go, built
# here from Debian's packaged sources, no network), reads every query
# parameter as Pyroscope does and answers 200, 4xx, 5xx or slowly, so
# retries, refusals and timeouts are exercised; every bad input gets one
# line and a non-zero exit, and leaves no BPF program behind.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	fail "pprof and push tests need root" "run make test as root (BPF tracing)"
	exit 1
fi
for tool in go protoc; do
	if ! command -v $tool >/dev/null; then
		fail "pprof tests: $tool is installed" "run make deps (golang-go, protobuf-compiler)"
		exit 1
	fi
done
# go tool pprof and go build keep their cache here, whatever HOME is
export GOCACHE=$BUILD/gocache
CHECK_PY=$TOP/tests/integration/pprof_check.py
RCV=$BUILD/tests/ingest_receiver
mkdir -p "$BUILD/tests"
GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOPROXY=off \
	go build -o "$RCV" "$TOP/tests/integration/ingest_receiver.go" 2>"$TMPD/gobuild.err"
if ! check "receiver builds against Debian's google/pprof (GOPATH, no network)" \
	"$(tail -3 "$TMPD/gobuild.err")" [ -x "$RCV" ]; then
	exit 1
fi
LOG=$TMPD/ingest.jsonl
"$RCV" -port-file "$TMPD/port" -log "$LOG" 2>"$TMPD/rcv.err" &
RCV_PID=$!
trap 'kill $RCV_PID 2>/dev/null; rm -rf "$TMPD"' EXIT
for i in $(seq 50); do [ -s "$TMPD/port" ] && break; sleep 0.1; done
PORT=$(cat "$TMPD/port" 2>/dev/null)
if ! check "receiver listens on 127.0.0.1" "no port: $(cat "$TMPD/rcv.err")" [ -n "$PORT" ]; then
	exit 1
fi
BASE=http://127.0.0.1:$PORT
HOST=$(hostname | tr ',{}= ' '_____')

# records APP KIND MODE: the receiver's records of that series, as JSON lines
records() {
	python3 - "$LOG" "$@" <<'PY'
import json, sys
log, app, kind, mode = sys.argv[1:5]
for line in open(log):
    r = json.loads(line)
    if r["app"] == app and (kind == "*" or r["kind"] == kind) and r["mode"] == mode:
        print(line.rstrip())
PY
}
# one_line NAME FILE PATTERN: FILE (stderr) has exactly one poolscope line,
# and it matches PATTERN
one_line() {
	local n
	n=$(grep -c '^poolscope:' "$2")
	check "$1: one line" "$n lines: $(head -c 400 "$2")" [ "$n" -eq 1 ]
	check "$1: the line says why" "$(head -c 300 "$2")" grep -qE "$3" "$2"
}

# --- a real run: every kind as pprof and folded, and pushed (bearer token,
# tenant, labels)
t0=$(date +%s)
POOLSCOPE_PUSH_TOKEN=s3cret "$POOLSCOPE" run -q --stacks all \
	--pprof "oncpu:$TMPD/on.pb.gz" --pprof "offcpu:$TMPD/off.pb.gz" --pprof "futex:$TMPD/fx.pb.gz" \
	--folded "oncpu:$TMPD/on.folded" --folded "offcpu:$TMPD/off.folded" --folded "futex:$TMPD/fx.folded" \
	--push "$BASE/ok/" --push-label env=test --push-label team=pools --push-org-id tenant-7 \
	gil-threads -w 2 -t 4 -s 300M -q >"$TMPD/gil.out" 2>"$TMPD/gil.err"
rc=$?
t1=$(date +%s)
check "gil-threads with --pprof and --push: exit 0" "status $rc: $(tail -3 "$TMPD/gil.err")" [ $rc -eq 0 ]
for kind in oncpu offcpu futex; do
	f=${kind/oncpu/on}; f=${f/offcpu/off}; f=${f/futex/fx}
	check "pprof $kind: the file is gzip-compressed" "$(head -c 2 "$TMPD/$f.pb.gz" | od -An -tx1)" \
		[ "$(head -c 2 "$TMPD/$f.pb.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ]
	python3 "$CHECK_PY" raw $kind "$TMPD/$f.pb.gz" "$TMPD/$f.folded"
	python3 "$CHECK_PY" top $kind "$TMPD/$f.pb.gz" "$TMPD/$f.folded"
done
# string_table[0] is "": protoc's raw decoding of the first string (field 6)
zcat "$TMPD/on.pb.gz" | protoc --decode_raw >"$TMPD/on.raw" 2>&1
check "pprof: string_table[0] is \"\" (protoc --decode_raw)" "$(grep -m2 '^6:' "$TMPD/on.raw")" \
	[ "$(grep -m1 '^6:' "$TMPD/on.raw")" = '6: ""' ]
python3 - "$LOG" "$TMPD" "$t0" "$t1" "$HOST" <<'PY'
import json, sys
log, tmpd, t0, t1, host = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
recs = [json.loads(l) for l in open(log)]
recs = [r for r in recs if r["mode"] == "ok" and r["app"] == "gil-threads"]
def out(ok, name, why):
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else ": " + why))
kinds = sorted(r["kind"] for r in recs)
out(kinds == ["futex", "offcpu", "oncpu"], "push: one request per captured kind, named gil-threads.KIND",
    str([(r["app"], r["kind"], r["status"], r["error"]) for r in recs]))
want = {"oncpu": (99, "samples", ["samples/count", "cpu/nanoseconds"]),
        "offcpu": (10**9, "nanoseconds", ["switches/count", "offcpu/nanoseconds"]),
        "futex": (10**9, "lock_nanoseconds", ["contentions/count", "delay/nanoseconds"])}
def nodash(stack):
    # the folded "-" between user and kernel frames is no frame of the profile
    return ";".join(f for f in stack.split(";") if f != "-")
def folded(path):
    d = {}
    for line in open(path):
        s, _, v = line.rstrip("\n").rpartition(" ")
        d[nodash(s)] = d.get(nodash(s), 0) + int(v)
    return d
files = {"oncpu": "on", "offcpu": "off", "futex": "fx"}
for r in recs:
    k = r["kind"]
    tag = "push %s: " % k
    out(r["status"] == 200 and not r["error"], tag + "accepted by the receiver", r["error"])
    out(r["labels"] == {"host": host, "env": "test", "team": "pools"},
        tag + "name labels host, env, team as Pyroscope parses them", str(r["labels"]))
    out(t0 - 1 <= r["from"] <= r["until"] <= t1 + 1,
        tag + "from/until: Unix seconds within the run", "%d..%d, run %d..%d" % (r["from"], r["until"], t0, t1))
    out(r["format"] == "pprof" and r["gzip"] and r["spyName"] == "poolscope" and
        r["aggregationType"] == "sum", tag + "format=pprof (gzip body), spyName, aggregationType=sum",
        "%s gzip=%s %s %s" % (r["format"], r["gzip"], r["spyName"], r["aggregationType"]))
    out((r["sampleRate"], r["units"], r["sample_types"]) == want[k],
        tag + "sampleRate, units and the body's sample types", "%s %s %s" % (r["sampleRate"], r["units"], r["sample_types"]))
    out(r["org_id"] == "tenant-7" and r["auth"] == "Bearer s3cret",
        tag + "X-Scope-OrgID and the bearer token from the environment", "%r %r" % (r["org_id"], r["auth"]))
    local = folded("%s/%s.folded" % (tmpd, files[k]))
    pushed = {}
    for s, v in r["stacks"].items():
        val = v[0] if k == "oncpu" else v[1]
        pushed[nodash(s)] = pushed.get(nodash(s), 0) + val
    if k != "oncpu":
        pushed = {s: v // 1000 for s, v in pushed.items()}
    pushed = {s: v for s, v in pushed.items() if v}
    out(pushed == local, tag + "the pushed profile's stacks (google/pprof's parser) equal the folded file's",
        "%d pushed vs %d local stacks; e.g. %s" % (len(pushed), len(local),
            [(s, pushed.get(s), v) for s, v in local.items() if pushed.get(s) != v][:1]))
PY
no_programs_left "pprof and push"

# --- folded format, basic authentication, --push-app
POOLSCOPE_PUSH_USER=alice POOLSCOPE_PUSH_PASSWORD='pa:ss' "$POOLSCOPE" run -q --stacks oncpu \
	--folded "oncpu:$TMPD/f.folded" --folded "futex:$TMPD/ffx.folded" --push "$BASE/ok" \
	--push-format folded --push-app my-app gil-threads -w 2 -t 2 -s 200M -q >/dev/null 2>"$TMPD/f.err"
rc=$?
check "push --push-format folded: exit 0" "status $rc: $(cat "$TMPD/f.err")" [ $rc -eq 0 ]
python3 - "$LOG" "$TMPD" <<'PY'
import base64, json, sys
log, tmpd = sys.argv[1:3]
recs = [json.loads(l) for l in open(log)]
recs = {r["kind"]: r for r in recs if r["app"] == "my-app" and r["mode"] == "ok"}
def out(ok, name, why):
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else ": " + why))
def folded(path):
    d = {}
    for line in open(path):
        s, _, v = line.rstrip("\n").rpartition(" ")
        d[s] = d.get(s, 0) + int(v)
    return d
out(sorted(recs) == ["futex", "oncpu"], "push folded: my-app.oncpu and my-app.futex sent", str(sorted(recs)))
basic = "Basic " + base64.b64encode(b"alice:pa:ss").decode()
for k, f in (("oncpu", "f"), ("futex", "ffx")):
    r = recs.get(k)
    if not r:
        continue
    out(r["format"] == "folded" and r["folded"] == folded("%s/%s.folded" % (tmpd, f)),
        "push folded %s: the body is the --folded file's stacks" % k, "%s %d stacks" % (r["format"], len(r["folded"] or {})))
    rate = 99 if k == "oncpu" else 1000000
    out(r["units"] == "samples" and r["sampleRate"] == rate,
        "push folded %s: units=samples, sampleRate %d (values are %s)" % (k, rate, "samples" if rate == 99 else "us"),
        "%s %d" % (r["units"], r["sampleRate"]))
    out(r["auth"] == basic, "push folded %s: basic authentication from the environment" % k, repr(r["auth"]))
PY

# --- retries: the first answer is 503, the second 200
"$POOLSCOPE" run -q --no-locks --stacks oncpu --push "$BASE/flaky" --push-app flaky \
	gil-threads -w 2 -t 2 -s 200M -q >/dev/null 2>"$TMPD/flaky.err"
rc=$?
statuses=$(records flaky oncpu flaky | python3 -c 'import json,sys; print(" ".join(str(json.loads(l)["status"]) for l in sys.stdin))')
check "push: a 503 is tried again and the second try lands (exit 0)" \
	"status $rc, answers: $statuses; $(cat "$TMPD/flaky.err")" [ $rc -eq 0 -a "$statuses" = "503 200" ]

# --- refusals: one line with the status and the server's message; the
# local files are written all the same
"$POOLSCOPE" run -q --stacks oncpu --no-locks --pprof "oncpu:$TMPD/kept.pb.gz" --json "$TMPD/kept.json" \
	--push "$BASE/e400" --push-app refused gil-threads -w 2 -t 2 -s 200M -q >/dev/null 2>"$TMPD/e400.err"
rc=$?
check "push refused (HTTP 400): non-zero exit" "status $rc" [ $rc -ne 0 ]
one_line "push refused (HTTP 400)" "$TMPD/e400.err" 'push of oncpu to .*/e400/ingest failed: refused: HTTP 400: tenant over its ingestion limit$'
check "push refused: a 4xx is not tried again" "$(records refused oncpu e400 | wc -l) requests" \
	[ "$(records refused oncpu e400 | wc -l)" -eq 1 ]
go tool pprof -raw -symbolize=none "$TMPD/kept.pb.gz" >"$TMPD/kept.raw" 2>&1
check "push refused: the --pprof file was written and reads (go tool pprof)" "$(head -3 "$TMPD/kept.raw")" \
	grep -q '^samples/count cpu/nanoseconds' "$TMPD/kept.raw"
check "push refused: the --json file was written" "$(head -c 200 "$TMPD/kept.json")" \
	python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$TMPD/kept.json"
no_programs_left "push refused (HTTP 400)"

start=$(date +%s.%N)
"$POOLSCOPE" run -q --stacks oncpu --no-locks --push "$BASE/e503" --push-app unavailable \
	gil-threads -w 2 -t 2 -s 200M -q >/dev/null 2>"$TMPD/e503.err"
rc=$?
check "push refused (HTTP 503 every time): non-zero exit" "status $rc" [ $rc -ne 0 ]
one_line "push refused (HTTP 503)" "$TMPD/e503.err" 'HTTP 503: ingester unavailable \(tried 3 times\)$'
check "push refused (HTTP 503): 3 tries in all" "$(records unavailable oncpu e503 | wc -l) requests" \
	[ "$(records unavailable oncpu e503 | wc -l)" -eq 3 ]
no_programs_left "push refused (HTTP 503)"

# --- a slow server: the request gives up at --push-timeout, not tried again
start=$(date +%s.%N)
"$POOLSCOPE" run -q --stacks oncpu --no-locks --push "$BASE/slow" --push-app slow --push-timeout 1 \
	gil-threads -w 2 -t 2 -s 200M -q >/dev/null 2>"$TMPD/slow.err"
rc=$?
took=$(awk "BEGIN { print $(date +%s.%N) - $start }")
check "push to a slow server: non-zero exit" "status $rc" [ $rc -ne 0 ]
one_line "push to a slow server" "$TMPD/slow.err" 'failed: no answer within 1.0 s \(timeout\)$'
check "push to a slow server: the run ends within the timeout (server sleeps 5 s)" "took ${took} s" \
	fcmp "$took < 4.5"
no_programs_left "push to a slow server"

# --- an unreachable server (a closed port on 127.0.0.1): one line for all
# three kinds, the others are not tried once the first cannot connect
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
"$POOLSCOPE" run -q --stacks all --push "http://127.0.0.1:$closed" \
	gil-threads -w 2 -t 2 -s 200M -q >/dev/null 2>"$TMPD/unreach.err"
rc=$?
check "push to an unreachable host: non-zero exit" "status $rc" [ $rc -ne 0 ]
one_line "push to an unreachable host" "$TMPD/unreach.err" "127.0.0.1:$closed/ingest failed: Couldn't connect to server \(tried 3 times\)$"
no_programs_left "push to an unreachable host"

# --- Ctrl-C while a push waits for a slow server stops the push at once
"$POOLSCOPE" run -q --stacks oncpu --no-locks --push "$BASE/slow" --push-app interrupted --push-timeout 60 \
	gil-threads -w 2 -t 2 -s 200M -q >"$TMPD/int.out" 2>"$TMPD/int.err" &
PS=$!
for i in $(seq 100); do grep -q '^summary:' "$TMPD/int.out" && break; sleep 0.1; done
sleep 1.5
kill -INT $PS
start=$(date +%s.%N)
wait $PS; rc=$?
took=$(awk "BEGIN { print $(date +%s.%N) - $start }")
check "push: Ctrl-C during a push ends it within a second, non-zero exit" \
	"status $rc after ${took} s: $(cat "$TMPD/int.err")" fcmp "$took < 1.5 && $rc != 0"
one_line "push stopped by Ctrl-C" "$TMPD/int.err" 'failed: stopped by a signal$'
no_programs_left "push stopped by Ctrl-C"

# --- bad command lines: one line, exit 2, nothing traced or written
for url in "ftp://$PORT/x" "not a url" "http://" ""; do
	"$POOLSCOPE" run --stacks oncpu --pprof "$TMPD/never.pb.gz" --push "$url" -- true >/dev/null 2>"$TMPD/bad.err"
	rc=$?
	check "--push '$url': exit 2 before tracing" "status $rc" [ $rc -eq 2 -a ! -e "$TMPD/never.pb.gz" ]
	one_line "--push '$url'" "$TMPD/bad.err" "invalid --push URL"
done
for label in "no-equals" "bad key=v" "k=a,b" "__name__=x" "k= v" "k="; do
	"$POOLSCOPE" run --push "$BASE/ok" --push-label "$label" -- true >/dev/null 2>"$TMPD/bad.err"
	rc=$?
	check "--push-label '$label': exit 2" "status $rc" [ $rc -eq 2 ]
	one_line "--push-label '$label'" "$TMPD/bad.err" "invalid --push-label"
done
POOLSCOPE_PUSH_TOKEN=t POOLSCOPE_PUSH_USER=u POOLSCOPE_PUSH_PASSWORD=p \
	"$POOLSCOPE" run --push "$BASE/ok" -- true >/dev/null 2>"$TMPD/bad.err"
rc=$?
check "bearer and basic credentials both set: exit 2" "status $rc" [ $rc -eq 2 ]
one_line "bearer and basic credentials both set" "$TMPD/bad.err" "choose bearer or basic"
"$POOLSCOPE" run --push "$BASE/ok" --push-format json -- true >/dev/null 2>"$TMPD/bad.err"
check "--push-format json: exit 2" "status $?" [ -n "$(grep "invalid --push-format 'json'" "$TMPD/bad.err")" ]
"$POOLSCOPE" run --pprof "oncpu:$TMPD/x.pb.gz" -- true >/dev/null 2>"$TMPD/bad.err"
rc=$?
check "--pprof oncpu without --stacks oncpu: exit 2, says what is needed" "status $rc: $(cat "$TMPD/bad.err")" \
	[ $rc -eq 2 -a -n "$(grep -- '--pprof oncpu needs --stacks oncpu' "$TMPD/bad.err")" ]
no_programs_left "bad --push and --pprof options"

# --- attach -i: each interval pushed, the intervals add up to the trace
"$BUILD/workloads/cpu-threads" -w 1 -t 100 -s 100M -q >/dev/null 2>&1 &
WL=$!
"$POOLSCOPE" attach -p $WL -q --stacks oncpu --no-locks -i 1 -d 3.5 --folded "oncpu:$TMPD/att.folded" \
	--push "$BASE/ok" --push-app attached >/dev/null 2>"$TMPD/att.err"
rc=$?
kill $WL 2>/dev/null; wait $WL 2>/dev/null
check "attach -i with --push: exit 0" "status $rc: $(cat "$TMPD/att.err")" [ $rc -eq 0 ]
records attached oncpu ok >"$TMPD/att.jsonl"
python3 - "$TMPD/att.jsonl" "$TMPD/att.folded" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
total = sum(int(l.rsplit(" ", 1)[1]) for l in open(sys.argv[2]))
def out(ok, name, why):
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else ": " + why))
durs = [r["duration_nanos"] / 1e9 for r in recs]
out(len(recs) >= 3 and all(d < 1.5 for d in durs),
    "attach -i 1 -d 3.5: one push per interval of about 1 s, never the whole trace",
    "durations %s" % durs)
out(all(a["time_nanos"] < b["time_nanos"] and a["from"] <= b["from"] for a, b in zip(recs, recs[1:])),
    "attach -i: the pushed windows follow each other", str([(r["from"], r["until"]) for r in recs]))
pushed = sum(r["totals"][0] for r in recs)
out(pushed == total and total > 0, "attach -i: the intervals' samples add up to the whole trace's folded total",
    "%d pushed vs %d" % (pushed, total))
PY
no_programs_left "attach -i with --push"
exit 0
