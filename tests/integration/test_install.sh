#!/usr/bin/env bash
# tests/integration/test_install.sh: poolscope installed like a real tool.
# - --version: the version of user/cmd/commands.h and the build's git
#   describe (compared with git's own answer); a copy of the tree without
#   .git, built here, says so.
# - make install into a temporary DESTDIR: exactly the files promised, the
#   installed binary finds its workloads in ../libexec/poolscope (and in
#   POOLSCOPE_WORKLOADS_DIR), traces one with real BPF (checked against the
#   workload's own output), man finds the pages, bash-completion the
#   completion; make uninstall leaves no file behind.
# - make deb: the package's fields and files, Depends that cover every
#   library the binaries load (ldd, dpkg -S); apt-get installs it, the
#   installed poolscope traces a command, apt-get remove takes every file
#   away. The package is removed on any exit (trap).
# Needs root and BPF: without them the tracing checks fail, saying why.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	fail "install tests need root" "run make test as root (BPF tracing, apt-get)"
	exit 1
fi
[ -x "$POOLSCOPE" ] || { fail "poolscope built" "$POOLSCOPE missing: run make"; exit 1; }
version=$(sed -n 's/^#define POOLSCOPE_VERSION "\(.*\)"$/\1/p' "$TOP/user/cmd/commands.h")
workloads="cpu-procs cpu-threads gil-threads io-threads io-procs oversubscribed"
pages="poolscope.8 poolscope-attach.8 poolscope-compare.8 poolscope-run.8 poolscope-top.8"

# --- version
describe=$(git -C "$TOP" describe --always --dirty 2>&1)
want="poolscope $version (git $describe)"
got=$("$POOLSCOPE" --version 2>&1)
check "--version: version and git describe of the tree" "got '$got', want '$want' (rebuild?)" \
	[ "$got" = "$want" ]
got2=$("$POOLSCOPE" version 2>&1)
check "version: the same line as --version" "got '$got2'" [ "$got2" = "$got" ]

# a tarball: the tree without .git (and without build/), built here
mkdir -p "$TMPD/tarball"
tar -C "$TOP" --exclude=./build --exclude=./.git -cf - . | tar -C "$TMPD/tarball" -xf -
make -C "$TMPD/tarball" -j2 build/poolscope >"$TMPD/tarball.log" 2>&1
rc=$?
check "a tree without .git builds" "make status $rc: $(tail -3 "$TMPD/tarball.log")" [ $rc -eq 0 ]
got=$("$TMPD/tarball/build/poolscope" --version 2>&1)
check "--version of a build without .git says so" "got '$got'" \
	[ "$got" = "poolscope $version (not built from a git checkout)" ]
# unpacked inside another repository, git would describe that one
git init -q "$TMPD/outer" && mkdir "$TMPD/outer/src" && cp -r "$TOP/tools" "$TMPD/outer/src/"
got=$("$TMPD/outer/src/tools/git-version" 2>&1)
check "a tree inside another git repository is not described as that one" "got '$got'" \
	[ "$got" = "not built from a git checkout" ]

# a checkout owned by another user (sudo make install): still described,
# and the repository is left unwritten
git clone -q "$TOP" "$TMPD/theirs" && cp "$TOP/tools/git-version" "$TMPD/theirs/tools/"
chown -R 65534:65534 "$TMPD/theirs"
got=$("$TMPD/theirs/tools/git-version" 2>&1)
mine=$(find "$TMPD/theirs" -user 0 | head -3)
want=$(GIT_OPTIONAL_LOCKS=0 git -C "$TMPD/theirs" -c safe.directory='*' describe --always --dirty 2>&1)
check "a checkout owned by another user is described (safe.directory), nothing written as root" \
	"got '$got', want 'git $want'; root-owned: $mine" [ "$got" = "git $want" -a -z "$mine" ]

# --- make install / uninstall into a DESTDIR
D=$TMPD/root
make -C "$TOP" --no-print-directory install DESTDIR="$D" >"$TMPD/install.log" 2>&1
rc=$?
check "make install DESTDIR=...: status 0" "status $rc: $(tail -3 "$TMPD/install.log")" [ $rc -eq 0 ]
want=$( {
	echo "755 usr/local/sbin/poolscope"
	for w in $workloads; do echo "755 usr/local/libexec/poolscope/$w"; done
	for p in $pages; do echo "644 usr/local/share/man/man8/$p"; done
	echo "644 usr/local/share/bash-completion/completions/poolscope"
} | sort)
got=$(cd "$D" && find . \( -type f -o -type l \) -printf '%m %P\n' | sort)
check "make install: exactly the binary, the workloads, the man pages, the completion" \
	"installed: $(echo $got)" [ "$got" = "$want" ]
cmp -s "$D/usr/local/share/man/man8/poolscope-run.8" "$TOP/man/poolscope-run.8"
check "make install: the man pages as written" "poolscope-run.8 differs" [ $? -eq 0 ]

IP=$D/usr/local/sbin/poolscope
unset POOLSCOPE_WORKLOADS_DIR
got=$("$IP" --version 2>&1)
check "installed poolscope --version: the build's" "got '$got'" \
	[ "$got" = "$("$POOLSCOPE" --version)" ]
"$IP" list >"$TMPD/list.txt" 2>&1
rc=$?
notbuilt=$(grep -c 'not built' "$TMPD/list.txt")
listed=$(awk 'NR > 1 && /^  [^ ]/ { print $1 }' "$TMPD/list.txt" | sort | tr '\n' ' ')
check "installed poolscope list: every workload found in ../libexec/poolscope" \
	"status $rc, $notbuilt not built: $(cat "$TMPD/list.txt")" \
	[ $rc -eq 0 -a "$notbuilt" -eq 0 -a "$listed" = "$(printf '%s\n' $workloads | sort | tr '\n' ' ')" ]

# a workload from there, alone
out=$("$D/usr/local/libexec/poolscope/cpu-threads" -w 2 -t 2 -s 1000000 2>&1)
rc=$?
check "installed workload cpu-threads runs: 2 tasks, none failed" "status $rc: $out" \
	grep -q 'summary: workload=cpu-threads tasks=2 failed=0' <<<"$out"

# the installed binary traces a workload from there (real BPF)
"$IP" run -q --json "$TMPD/inst.json" cpu-threads -w 2 >"$TMPD/inst.out" 2>"$TMPD/inst.err"
rc=$?
check "installed poolscope run -q --json F cpu-threads -w 2: status 0" \
	"status $rc: $(cat "$TMPD/inst.err")" [ $rc -eq 0 ]
python3 - "$TMPD/inst.json" "$TMPD/inst.out" <<'PY'
import json, re, sys
name = "installed run cpu-threads -w 2"
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print("FAIL: %s: JSON report: %s" % (name, e))
    sys.exit(0)
# the workload prints the TID of the worker that ran each task
workers = set(int(t) for t in re.findall(r"tid (\d+)", open(sys.argv[2]).read()))
procs = [p for p in r["processes"] if p["comm"] == "cpu-threads"]
traced = set(t["tid"] for t in r["threads"] if t["comm"] == "cpu-threads")
ok = len(procs) == 1 and procs[0]["threads"] == 3 and r["exit_status"] == 0
print(("PASS: " if ok else "FAIL: ") + name + ": one process of 3 threads, exit 0" +
      ("" if ok else ": processes %s, exit %s" % (r["processes"], r["exit_status"])))
ok = len(workers) == 2 and workers <= traced and len(traced) == 3
print(("PASS: " if ok else "FAIL: ") + name + ": the 2 workers it names are traced, and main" +
      ("" if ok else ": workers %s, traced %s" % (sorted(workers), sorted(traced))))
PY
no_programs_left "installed run"

# where it looks: POOLSCOPE_WORKLOADS_DIR alone when set; the libexec path
# named when a workload is missing
mkdir -p "$TMPD/wl"
out=$(POOLSCOPE_WORKLOADS_DIR=$TMPD/wl "$IP" list 2>&1)
check "POOLSCOPE_WORKLOADS_DIR: the only place looked in" "list: $out" \
	[ "$(grep -c 'not built' <<<"$out")" -eq 6 ]
cp "$D/usr/local/libexec/poolscope/cpu-threads" "$TMPD/wl/"
out=$(POOLSCOPE_WORKLOADS_DIR=$TMPD/wl "$IP" list 2>&1)
check "POOLSCOPE_WORKLOADS_DIR: its workloads are found" "list: $out" \
	[ "$(grep -c 'not built' <<<"$out")" -eq 5 ]
mv "$D/usr/local/libexec/poolscope/gil-threads" "$TMPD/gil-threads.away"
out=$("$IP" run gil-threads 2>&1)
rc=$?
mv "$TMPD/gil-threads.away" "$D/usr/local/libexec/poolscope/gil-threads"
check "installed: a missing workload is named at its libexec path, status 127" \
	"status $rc: $out" grep -q "($D/usr/local/libexec/poolscope/gil-threads missing)" <<<"$out"

# the consumers of the pages and the completion find them where installed
got=$(MANPATH=$D/usr/local/share/man man -w poolscope-attach 2>&1)
check "man finds poolscope-attach(8) in the installed tree" "man -w: $got" \
	[ "$got" = "$D/usr/local/share/man/man8/poolscope-attach.8" ]
out=$(XDG_DATA_DIRS=$D/usr/local/share bash -c '. /usr/share/bash-completion/bash_completion &&
	__load_completion poolscope && complete -p poolscope' 2>&1)
check "bash-completion loads the installed completion" "$out" \
	[ "$out" = "complete -F _poolscope poolscope" ]

# another PREFIX
make -C "$TOP" --no-print-directory install DESTDIR="$TMPD/opt" PREFIX=/opt/ps >/dev/null 2>&1
out=$("$TMPD/opt/opt/ps/sbin/poolscope" list 2>&1)
check "make install PREFIX=/opt/ps: sbin/poolscope finds libexec/poolscope" "list: $out" \
	[ "$(grep -c 'not built' <<<"$out")" -eq 0 -a -x "$TMPD/opt/opt/ps/libexec/poolscope/io-procs" ]

make -C "$TOP" --no-print-directory uninstall DESTDIR="$D" >"$TMPD/uninstall.log" 2>&1
rc=$?
left=$(cd "$D" && find . \( -type f -o -type l -o -name '*poolscope*' \) -printf '%P ')
check "make uninstall DESTDIR=...: no file left behind" "status $rc, left: $left" \
	[ $rc -eq 0 -a -z "$left" ]

# --- make deb
arch=$(dpkg --print-architecture)
deb=$BUILD/poolscope_${version}_$arch.deb
make -C "$TOP" --no-print-directory deb >"$TMPD/deb.log" 2>&1
rc=$?
check "make deb: builds $(basename "$deb")" "status $rc: $(tail -3 "$TMPD/deb.log")" [ $rc -eq 0 -a -f "$deb" ]
field() { dpkg-deb -f "$deb" "$1" 2>/dev/null; }
check "deb: Package poolscope, Version $version, Architecture $arch" \
	"$(field Package) $(field Version) $(field Architecture)" \
	[ "$(field Package) $(field Version) $(field Architecture)" = "poolscope $version $arch" ]
want=$( {
	echo usr/sbin/poolscope
	for w in $workloads; do echo "usr/libexec/poolscope/$w"; done
	for p in $pages; do echo "usr/share/man/man8/$p.gz"; done
	echo usr/share/bash-completion/completions/poolscope
} | sort)
got=$(dpkg-deb --fsys-tarfile "$deb" | tar -t | grep -v '/$' | sed 's|^\./||' | sort)
check "deb: the installed files under /usr" "files: $(echo $got)" [ "$got" = "$want" ]

# Depends: every library the binaries load belongs to a package they (or
# what they depend on) pull in; each exists in this Debian's archive
depends=$(field Depends | sed 's/([^)]*)//g; s/,/ /g')
missing=
for p in $depends; do
	apt-cache show "$p" >/dev/null 2>&1 || missing="$missing $p"
done
check "deb: each package of Depends ($(echo $depends)) is in the apt archive" "not found:$missing" \
	[ -n "$depends" -a -z "$missing" ]
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
	--no-replaces --no-enhances $depends 2>/dev/null | grep -v '^ ' | sed 's/:.*//' | sort -u)
uncovered=
for bin in "$POOLSCOPE" "$WORKLOADS"/io-threads "$WORKLOADS"/cpu-procs; do
	for lib in $(ldd "$bin" | awk '$3 ~ /^\// { print $3 }'); do
		owner=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null | head -1 | cut -d: -f1)
		[ -z "$owner" ] && owner=$(dpkg -S "$lib" 2>/dev/null | head -1 | cut -d: -f1)
		grep -qx "$owner" <<<"$closure" || uncovered="$uncovered $lib($owner)"
	done
done
check "deb: Depends cover every library ldd shows (libbpf1, libelf1, zlib1g, libcurl4, ...)" \
	"not covered:$uncovered" [ -z "$uncovered" ]

# --- apt-get install ./poolscope_*.deb, run it, apt-get remove
if dpkg-query -W -f='${Status}' poolscope 2>/dev/null | grep -q 'ok installed' ||
	[ -e /usr/sbin/poolscope ] || [ -e /usr/libexec/poolscope ]; then
	fail "deb install" "a poolscope is already installed on this machine: not touching it"
	exit 0
fi
remove_package() {
	if dpkg-query -W -f='${Status}' poolscope 2>/dev/null | grep -q installed; then
		DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq -o DPkg::Lock::Timeout=300 \
			poolscope >/dev/null 2>&1 || dpkg --purge poolscope >/dev/null 2>&1
	fi
}
trap 'remove_package; rm -rf "$TMPD"' EXIT
# bash runs the EXIT trap on a signal only when the signal is trapped
trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "$deb" \
	>"$TMPD/apt-install.log" 2>&1
rc=$?
check "apt-get install ./$(basename "$deb"): status 0" \
	"status $rc: $(grep -v '^debconf' "$TMPD/apt-install.log" | tail -3)" [ $rc -eq 0 ]
files=$(dpkg -L poolscope 2>/dev/null | while read -r f; do [ -f "$f" ] && echo "$f"; done)
check "installed package: dpkg lists its $(wc -l <<<"$want") files, all present" \
	"files: $(echo $files)" [ "$(wc -w <<<"$files")" -eq "$(wc -l <<<"$want")" ]
got=$(/usr/sbin/poolscope --version 2>&1)
check "/usr/sbin/poolscope --version: the build's" "got '$got'" \
	[ "$got" = "$("$POOLSCOPE" --version)" ]
/usr/sbin/poolscope run -q --json "$TMPD/deb.json" -- true >"$TMPD/deb.out" 2>&1
rc=$?
check "/usr/sbin/poolscope run -q -- true: status 0" "status $rc: $(cat "$TMPD/deb.out")" [ $rc -eq 0 ]
got=$(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(" ".join(sorted(set(p["comm"] for p in r["processes"]))), r["exit_status"])' "$TMPD/deb.json" 2>&1)
check "/usr/sbin/poolscope run: traced true, exit status 0" "report: $got" [ "$got" = "true 0" ]
no_programs_left "package run"
out=$(/usr/sbin/poolscope list 2>&1)
check "/usr/sbin/poolscope list: workloads found in /usr/libexec/poolscope" "list: $out" \
	[ "$(grep -c 'not built' <<<"$out")" -eq 0 -a "$(wc -l <<<"$out")" -eq 7 ]
got=$(man -w poolscope-compare 2>&1)
check "man finds poolscope-compare(8) of the package" "man -w: $got" \
	[ "$got" = /usr/share/man/man8/poolscope-compare.8.gz ]

DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq -o DPkg::Lock::Timeout=300 poolscope \
	>"$TMPD/apt-remove.log" 2>&1
rc=$?
check "apt-get remove -y poolscope: status 0" "status $rc: $(tail -3 "$TMPD/apt-remove.log")" [ $rc -eq 0 ]
left=$(for f in $files /usr/libexec/poolscope; do [ -e "$f" ] && echo "$f"; done)
status=$(dpkg-query -W -f='${Status}' poolscope 2>/dev/null)
check "after apt-get remove: no file of the package left, not installed" \
	"left: $(echo $left); status '$status'" [ -z "$left" -a "${status% *}" != "install ok" ]
