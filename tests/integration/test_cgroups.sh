#!/usr/bin/env bash
# tests/integration/test_cgroups.sh: cgroups, CPU quotas, PID namespaces and
# --comm following against the kernel's own numbers. The test makes its
# cgroups (this VM: v1 cpu and cpuacct hierarchies, cgroup2 without
# controllers) and removes them on exit, whatever happened:
#   - a cgroup's id is its directory's inode, and the id bpftrace's `cgroup`
#     (bpf_get_current_cgroup_id) gives;
#   - per-cgroup on-CPU time equals the cgroup's cpuacct.usage within 2 %
#     (plus the hypervisor's steal meanwhile), for a command started in it and
#     for two sibling cgroups that processes move into during an attach;
#   - cpu-threads -w 4 under a 1-CPU quota is throttled, nr_throttled quoted
#     and no more than cpu.stat's own growth; the same run without a quota is
#     not;
#   - --cgroup leaves a busy process outside the subtree out (0 switches),
#     takes one inside, and follows a process moved in and out (counted only
#     while inside, against /proc/PID/status);
#   - in `unshare --pid --fork --mount-proc` the namespace ids reported equal
#     what the program prints for getpid/gettid, from outside and inside;
#   - attach --comm picks up a process started 1 s after the attach;
#   - bad cgroups get one line and exit 2, and nothing stays loaded.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
PROGS=$BUILD/tests/progs

if [ "$(id -u)" -ne 0 ]; then
	fail "cgroup tests need root" "run make test as root (BPF tracing, cgroups)"
	exit 1
fi
CPU=/sys/fs/cgroup/cpu ACCT=/sys/fs/cgroup/cpuacct V2=/sys/fs/cgroup/unified
CPUSET=/sys/fs/cgroup/cpuset
for d in $CPU $ACCT $V2 $CPUSET; do
	if ! mountpoint -q $d; then
		fail "cgroup hierarchies mounted" "$d is not a mount point (this test expects the v1 cpu, cpuacct and cpuset hierarchies and cgroup2 at $V2)"
		exit 1
	fi
done

NAME=pstest.$$
PIDS=()
cleanup() {
	local p d
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for d in $CPU $ACCT $V2 $CPUSET; do
		[ -d $d/$NAME ] || continue
		# every task back to the root, then the directories, deepest first
		find $d/$NAME -name cgroup.procs | while read -r f; do
			while read -r p; do echo "$p" >$d/cgroup.procs 2>/dev/null; done <"$f"
		done
		find $d/$NAME -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	rm -rf "$TMPD"
}
trap cleanup EXIT
for d in $CPU $ACCT; do mkdir -p $d/$NAME/{u,a,b,in,mv,q,nq}; done
mkdir -p $V2/$NAME $CPUSET/$NAME
# Other engineers' load on this 2-core VM must not keep the test's cgroups
# from their CPU: the subtree gets the largest weight v1 allows (one
# cgroup is otherwise worth one nice-0 task).
echo 262144 >$CPU/$NAME/cpu.shares

# into CGROUP-PATH (relative to $NAME) of both v1 hierarchies: pid
move() { echo "$2" >$CPU/$NAME/$1/cgroup.procs && echo "$2" >$ACCT/$NAME/$1/cgroup.procs; }
usage() { cat $ACCT/$NAME/$1/cpuacct.usage; }
# The hypervisor's steal time: the kernel's task clock (cpuacct.usage) leaves
# it out with PARAVIRT_TIME_ACCOUNTING, poolscope's wall time on CPU keeps it.
# /proc/stat counts it in USER_HZ ticks of 10 ms per CPU: one tick per CPU
# more is its resolution (steal_res, added to each measured steal).
steal_ns() { awk '/^cpu /{printf "%.0f\n", $9 * 10000000}' /proc/stat; }
steal_res=$(($(nproc) * 10000000))
wait_for() { # file pattern seconds
	local i
	for ((i = 0; i < $3 * 10; i++)); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
counters() { awk '/^voluntary_ctxt/{v=$2} /^nonvoluntary_ctxt/{n=$2} END{print v + n}' /proc/$1/status; }
run_ns() { cut -d' ' -f1 /proc/$1/schedstat; }
busy() { sh -c 'while :; do :; done' & PIDS+=($!); }
# json FILE PYTHON: run the check (PASS:/FAIL: lines) with r = the report
json() {
	local f=$1
	shift
	py - "$f" "$@" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
exec(sys.argv[2], {"r": r, "args": sys.argv[3:], "cg": {g["path"]: g for g in r["cgroups"]},
                   "ok": lambda name, good, why="": print(("PASS: " if good else "FAIL: ") + name +
                                                          ("" if good else ": " + str(why)))})
PY
}

# --- ids: the kernfs id poolscope reports is the directory's inode, and
# bpf_get_current_cgroup_id's (v2, bpftrace's `cgroup`)
cp /bin/sleep "$TMPD/pscgprobe"
timeout 30 bpftrace -e 'tracepoint:sched:sched_process_exec /comm == "pscgprobe"/ {
	printf("cgroup %llu\n", cgroup); exit(); }' >"$TMPD/bt.out" 2>"$TMPD/bt.err" &
BT=$!
wait_for "$TMPD/bt.out" Attaching 20
"$POOLSCOPE" run -q --json "$TMPD/v2.json" --cgroup $V2/$NAME -- "$TMPD/pscgprobe" 0.3 2>"$TMPD/v2.err"
rc=$?
wait $BT
ino=$(stat -c %i $V2/$NAME)
check "cgroup v2: run --cgroup exit 0" "status $rc: $(cat "$TMPD/v2.err")" [ $rc -eq 0 ]
json "$TMPD/v2.json" '
ino, bt = int(args[0]), args[1]
t = [x for x in r["threads"] if x["comm"] == "pscgprobe"]
ok("cgroup v2: the traced command is in the cgroup, by its id", t and t[0]["cgroup_id"] == ino,
   [(x["comm"], x["cgroup_id"]) for x in r["threads"]])
ok("cgroup v2: the id is the directory inode and bpf_get_current_cgroup_id (bpftrace)",
   bt == "cgroup %d" % ino, "bpftrace said %r, inode %d" % (bt, ino))
ok("cgroup v2: the hierarchy is v2 and the target the cgroup",
   r["cgroup_hierarchy"]["kind"] == "v2" and cg.get(r["cgroup_hierarchy"]["target"], {}).get("id") == ino,
   r["cgroup_hierarchy"])' "$ino" "$(grep '^cgroup ' "$TMPD/bt.out")"
no_programs_left "cgroup v2 run"

# --- per-cgroup on-CPU time equals the cgroup's own usage: a command started
# in the cgroup (run --cgroup, both v1 hierarchies)
u0=$(usage u) s0=$(steal_ns)
"$POOLSCOPE" run -q --json "$TMPD/u.json" --cgroup cpu,cpuacct:/$NAME/u cpu-threads -q -w 2 -t 8 -s 600M \
	>/dev/null 2>"$TMPD/u.err"
rc=$?
u1=$(usage u) s1=$(steal_ns)
check "run --cgroup cpu,cpuacct: exit 0" "status $rc: $(cat "$TMPD/u.err")" [ $rc -eq 0 ]
json "$TMPD/u.json" '
path, usage, steal = args[0], int(args[1]), int(args[2])
g = cg.get(path)
ok("run --cgroup: the cgroup is in the report, its id its inode",
   g is not None and g["id"] == int(args[3]), sorted(cg))
if g:
    on = g["oncpu_ns"]
    print("note: run --cgroup: on-CPU %d ns, cpuacct.usage %d ns (%+.2f%%), steal %d ns" %
          (on, usage, 100.0 * (on / max(usage, 1) - 1), steal))
    ok("run --cgroup: the cgroup'"'"'s on-CPU time equals its cpuacct.usage within 2%% (+ steal %d ns)" % steal,
       usage > 1e8 and abs(on - usage) <= 0.02 * usage + steal,
       "poolscope %d ns, cpuacct.usage grew %d ns (%+.2f%%)" % (on, usage, 100.0 * (on / max(usage, 1) - 1)))
    ok("run --cgroup: the usage poolscope read equals the test'"'"'s within 2%",
       g["usage_ns"] is not None and abs(g["usage_ns"] - usage) <= 0.02 * usage, (g["usage_ns"], usage))
    ok("run --cgroup: every thread of the command is in it",
       all(t["cgroup_id"] == g["id"] for t in r["threads"]), [(t["comm"], t["cgroup_id"]) for t in r["threads"]])' \
	"/$NAME/u" $((u1 - u0)) $((s1 - s0 + steal_res)) "$(stat -c %i $CPU/$NAME/u)"
no_programs_left "run --cgroup"

# --- attach --cgroup: busy processes outside and inside the subtree; two
# processes start during the trace and move themselves into sibling cgroups
# a and b (their usage is all within the trace); one more is moved into mv
# by the test, then out again.
# Task storage (tp_btf) and the task_hash with task_neg (raw_tp) alike.
for mode in "" --raw-tp; do
	label=${mode:+ ($mode)}
	# a file of its own per run: wait_for must not find the last run's line
	busy; outside=$!
	busy; inside=$!
	move in $inside
	busy; mover=$!
	sleep 0.2
	in0=$(counters $inside)
	"$POOLSCOPE" attach $mode --cgroup cpu:/$NAME -d 8 -q --json "$TMPD/att$mode.json" 2>"$TMPD/att$mode.err" &
	AP=$!
	wait_for "$TMPD/att$mode.err" attached 20
	ua0=$(usage a) ub0=$(usage b) s0=$(steal_ns)
	dds=()
	for c in a b; do
		sh -c "echo \$\$ >$CPU/$NAME/$c/cgroup.procs && echo \$\$ >$ACCT/$NAME/$c/cgroup.procs && exec dd if=/dev/zero of=/dev/null bs=1 count=2500000" 2>/dev/null &
		dds+=($!)
		PIDS+=($!)
	done
	sleep 0.5
	m0=$(counters $mover) r0=$(run_ns $mover)
	move mv $mover
	sleep 1
	echo $mover >$CPU/cgroup.procs
	m1=$(counters $mover) r1=$(run_ns $mover)
	wait "${dds[@]}"
	ua1=$(usage a) ub1=$(usage b) s1=$(steal_ns)
	wait $AP; rc=$?
	in1=$(counters $inside)
	check "attach --cgroup$label: exit 0 after -d" "status $rc: $(cat "$TMPD/att$mode.err")" [ $rc -eq 0 ]
	json "$TMPD/att$mode.json" '
outside, inside, mover = int(args[0]), int(args[1]), int(args[2])
steal = int(args[8])
in_sw, m_sw, m_run = int(args[3]), int(args[4]), int(args[9])
th = {t["tid"]: t for t in r["threads"]}
ok("attach --cgroup" + args[10] + ": a busy process outside the subtree is left out (0 of its switches)",
   outside not in th, th.get(outside))
t = th.get(inside, {})
sw = t.get("vol", 0) + t.get("invol", 0)
ok("attach --cgroup" + args[10] + ": a busy process inside is traced, its switches within /proc'"'"'s",
   t and 0 < sw <= in_sw + 2 and t["cgroup_id"] == cg["/%s/in" % args[7]]["id"],
   "poolscope %d, /proc grew %d over a longer span" % (sw, in_sw))
t = th.get(mover, {})
sw = t.get("vol", 0) + t.get("invol", 0)
# /proc was read just before the move in and just after the move out
ok("attach --cgroup" + args[10] + ": a process moved in and out is counted while inside only",
   t.get("entered") and t.get("left") and 0 < sw <= m_sw + 2 and
   0 < t["oncpu_ns"] <= 1.05 * m_run + steal + 5e6,
   "entered %s left %s, poolscope %d switches and %s ns on CPU, /proc %d and %d ns while inside" %
   (t.get("entered"), t.get("left"), sw, t.get("oncpu_ns"), m_sw, m_run))
for c, usage in (("a", int(args[5])), ("b", int(args[6]))):
    g = cg.get("/%s/%s" % (args[7], c), {})
    print("note: attach --cgroup" + args[10] + ": %s: on-CPU %s ns, cpuacct.usage %d ns" % (c, g.get("oncpu_ns"), usage))
    ok("attach --cgroup" + args[10] + ": cgroup %s: on-CPU time equals its cpuacct.usage within 2%% (+ steal %d ns)" % (c, steal),
       usage > 1e8 and abs(g.get("oncpu_ns", 0) - usage) <= 0.02 * usage + steal,
       "poolscope %s ns, cpuacct.usage grew %d ns; dropped %s; threads %s" % (g.get("oncpu_ns"), usage,
       r["dropped"]["total"], [(t["tid"], t["comm"], t["cgroup_id"], t["first_ns"]) for t in r["threads"]]))
ok("attach --cgroup" + args[10] + ": the section lists the subtree'"'"'s cgroups",
   r["cgroup_hierarchy"]["target"] == "/" + args[7] and r["cgroup_hierarchy"]["shown"] and
   {"/%s/a" % args[7], "/%s/b" % args[7]} <= set(cg), sorted(cg))' \
		$outside $inside $mover $((in1 - in0)) $((m1 - m0)) $((ua1 - ua0)) $((ub1 - ub0)) $NAME $((s1 - s0 + steal_res)) \
		$((r1 - r0)) "$label"
	kill $outside $inside $mover 2>/dev/null
	wait $outside $inside $mover 2>/dev/null
	no_programs_left "attach --cgroup$label"
done

# --- a 1-CPU quota: cpu-threads -w 4 is throttled; without a quota it is not
echo 100000 >$CPU/$NAME/q/cpu.cfs_period_us
echo 100000 >$CPU/$NAME/q/cpu.cfs_quota_us
t0=$(awk '/^nr_throttled/{print $2}' $CPU/$NAME/q/cpu.stat)
for c in q nq; do
	"$POOLSCOPE" run -q --json "$TMPD/$c.json" --cgroup cpu,cpuacct:/$NAME/$c cpu-threads -q -w 4 -t 8 -s 300M \
		>/dev/null 2>"$TMPD/$c.err" || fail "quota: run in $c" "$(cat "$TMPD/$c.err")"
done
t1=$(awk '/^nr_throttled/{print $2}' $CPU/$NAME/q/cpu.stat)
json "$TMPD/q.json" '
d, grew = r["diagnosis"], int(args[0])
g = cg.get("/%s/q" % args[1], {})
n = d["evidence"].get("nr_throttled", 0)
ok("quota: cpu-threads -w 4 under a 1-CPU quota is throttled",
   d["key"] == "throttled" and "size the pool to the quota (1 CPU)" in d["text"], "%s: %s" % (d["key"], d["text"]))
ok("quota: nr_throttled > 0 is quoted, no more than cpu.stat grew",
   0 < n <= grew and ("in %d of" % n) in d["text"] and g.get("nr_throttled") == n,
   "evidence %s, text %r, cpu.stat grew %d" % (n, d["text"], grew))
ok("quota: the section gives the limit", g.get("limit_cpus") == 1 and g.get("quota_us") == 100000, g)' \
	$((t1 - t0)) $NAME
json "$TMPD/nq.json" '
d = r["diagnosis"]
ok("quota: the same run without a quota is not throttled", d["key"] != "throttled",
   "%s: %s" % (d["key"], d["text"]))
ok("quota: without one the limit is null", cg.get("/%s/nq" % args[0], {}).get("limit_cpus", 0) is None,
   cg.get("/%s/nq" % args[0]))' $NAME
no_programs_left "quota"

# --- a cpuset of one CPU: the same pool is limited by it
echo 0 >$CPUSET/$NAME/cpuset.cpus && echo 0 >$CPUSET/$NAME/cpuset.mems
"$POOLSCOPE" run -q --json "$TMPD/cs.json" --cgroup cpu,cpuset:/$NAME cpu-threads -q -w 4 -t 8 -s 200M \
	>/dev/null 2>"$TMPD/cs.err" || fail "cpuset: run in it" "$(cat "$TMPD/cs.err")"
json "$TMPD/cs.json" '
d, g = r["diagnosis"], cg.get("/%s" % args[0], {})
ok("cpuset: the cgroup'"'"'s cpuset is read from the cpuset hierarchy (%s)" % args[1],
   g.get("cpuset") == args[1] and g.get("cpuset_cpus") == 1, g)
ok("cpuset: the pool ran on that CPU only", all(t["oncpu_ns_by_cpu"][1] == 0 for t in r["threads"]),
   [(t["tid"], t["oncpu_ns_by_cpu"]) for t in r["threads"]])
ok("cpuset: cpu-threads -w 4 on a 1-CPU cpuset is CPU-limited by it, in its own words",
   d["key"] == "throttled" and d["label"] == "CPU-limited by its cpuset" and
   "Size the pool to the cpuset'"'"'s 1 CPU" in d["text"] and d["evidence"]["cpuset_cpus"] == 1,
   "%s (%s): %s" % (d["key"], d["label"], d["text"]))' $NAME "$(cat $CPUSET/$NAME/cpuset.effective_cpus)"
no_programs_left "cpuset"

# --- PID namespaces: the ids the program sees for itself
"$POOLSCOPE" run -q --json "$TMPD/ns.json" -- unshare --pid --fork --mount-proc "$PROGS/nsids" \
	>"$TMPD/ns.out" 2>"$TMPD/ns.err"
rc=$?
check "pid namespace: run -- unshare exit 0" "status $rc: $(cat "$TMPD/ns.err")" [ $rc -eq 0 ]
json "$TMPD/ns.json" '
seen = [tuple(int(x.split("=")[1]) for x in l.split()[1:]) for l in open(args[0]) if l.startswith("ids:")]
th = [(t["ns_pid"], t["ns_tid"]) for t in r["threads"] if t["comm"] == "nsids"]
ok("pid namespace: ns_pid/ns_tid equal getpid/gettid inside (poolscope outside)",
   len(seen) == 2 and sorted(seen) == sorted(th), "program %s, report %s" % (seen, th))
host = [(t["tgid"], t["tid"]) for t in r["threads"] if t["comm"] == "nsids"]
ok("pid namespace: tid/tgid stay the host'"'"'s", all(h[0] > 1 and h != s for h, s in zip(sorted(host), sorted(seen))),
   host)' "$TMPD/ns.out"
unshare --pid --fork --mount-proc "$POOLSCOPE" run -q --json "$TMPD/ns2.json" -- "$PROGS/nsids" \
	>"$TMPD/ns2.out" 2>"$TMPD/ns2.err"
rc=$?
check "pid namespace: poolscope inside one: exit 0" "status $rc: $(cat "$TMPD/ns2.err")" [ $rc -eq 0 ]
json "$TMPD/ns2.json" '
seen = [tuple(int(x.split("=")[1]) for x in l.split()[1:]) for l in open(args[0]) if l.startswith("ids:")]
th = [(t["tgid"], t["tid"]) for t in r["threads"]]
ok("pid namespace: poolscope inside reports the ids its user sees (tgid/tid = getpid/gettid)",
   len(seen) == 2 and sorted(seen) == sorted(th) and [p["tgid"] for p in r["processes"]] == [seen[0][0]],
   "program %s, report %s" % (seen, th))' "$TMPD/ns2.out"
no_programs_left "pid namespace"

# --- attach --comm follows a process started 1 s after the attach
cp /bin/dd "$TMPD/psfollowme"
"$POOLSCOPE" attach --comm psfollowme -d 3 -q --json "$TMPD/comm.json" 2>"$TMPD/comm.err" &
AP=$!
wait_for "$TMPD/comm.err" attached 20
sleep 1
"$TMPD/psfollowme" if=/dev/zero of=/dev/null bs=1 count=300000 2>/dev/null &
late=$!
dd if=/dev/zero of=/dev/null bs=1 count=300000 2>/dev/null &
other=$!
wait $late $other
wait $AP; rc=$?
check "attach --comm: exit 0 with no such process at the start" "status $rc: $(cat "$TMPD/comm.err")" \
	[ $rc -eq 0 -a -n "$(grep "no process named 'psfollowme' yet" "$TMPD/comm.err")" ]
json "$TMPD/comm.json" '
th = {t["tid"]: t for t in r["threads"]}
t = th.get(int(args[0]), {})
ok("attach --comm: a process started 1 s after the attach is traced",
   t.get("comm") == "psfollowme" and t.get("oncpu_ns", 0) > 1e6 and t.get("first_ns", 0) > 0.9e9,
   t or [(x["tid"], x["comm"]) for x in r["threads"]])
ok("attach --comm: one of another name is not", int(args[1]) not in th, th.get(int(args[1])))' $late $other
no_programs_left "attach --comm"

# --- bad cgroups: one line, exit 2, nothing loaded
bad() { # name pattern -- cmd...
	local name=$1 pat=$2
	shift 3
	"$@" >"$TMPD/bad.out" 2>"$TMPD/bad.err"
	local rc=$?
	check "bad --cgroup: $name: exit 2 with one clear line" "status $rc: $(cat "$TMPD/bad.err")" \
		[ $rc -eq 2 -a "$(wc -l <"$TMPD/bad.err")" -eq 1 -a -n "$(grep -E "$pat" "$TMPD/bad.err")" ]
	no_programs_left "bad --cgroup: $name"
}
mkdir "$TMPD/plain"
bad "no such cgroup" "no such cgroup" -- "$POOLSCOPE" attach --cgroup cpu:/$NAME/nope -d 1
bad "no such path" "no such cgroup" -- "$POOLSCOPE" run --cgroup /$NAME/nope -- true
bad "a directory that is not a cgroup" "not a cgroup \(the directory is not on a cgroup filesystem\)" -- \
	"$POOLSCOPE" attach --cgroup "$TMPD/plain" -d 1
bad "a file" "not a cgroup \(not a directory\)" -- "$POOLSCOPE" run --cgroup $CPU/$NAME/cpu.shares -- true
bad "an unknown controller" "unknown cgroup controller 'frob'" -- "$POOLSCOPE" attach --cgroup frob:/x -d 1
bad "a controller not mounted" "no cgroup hierarchy with that controller is mounted" -- \
	"$POOLSCOPE" attach --cgroup net_cls:/ -d 1
bad "a hierarchy without a controller" "has no controller to follow" -- \
	"$POOLSCOPE" attach --cgroup /sys/fs/cgroup/systemd -d 1
bad "--cgroup with -a" "not both" -- "$POOLSCOPE" run -a --cgroup $CPU/$NAME -- true
exit 0
