#!/usr/bin/env bash
# tests/kernel/fetch-kernel.sh DIR [PACKAGE]: fetch Debian 12's stock 6.1
# kernel package with `apt-get download` into DIR (cached there) and unpack its
# vmlinuz (and config, for reference) to DIR/vmlinuz, DIR/config. Nothing is
# installed. PACKAGE defaults to the linux-image-6.1.0-N-amd64 that Debian 12's
# linux-image-amd64 depends on (the current stable kernel), or the newest
# linux-image-6.1.0-N-amd64 apt knows. Prints "FAIL: ..." and exits 1 when the
# package cannot be found or fetched.
set -u
dir=$1 pkg=${2:-}
mkdir -p "$dir"
fail() { echo "FAIL: kernel 6.1: $*"; exit 1; }

find_pkg() {
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-6\.1\.0-[0-9]*-amd64\)$/\1/p' | head -1)
	[ -n "$pkg" ] || pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
		awk '{print $1}' | sort -t- -k4,4n | tail -1)
}
# apt's package lists may be missing or stale on a fresh machine: refresh
# them once when the kernel cannot be found or fetched
refreshed=
refresh() { [ -z "$refreshed" ] && refreshed=1 && apt-get update -qq >/dev/null 2>&1; }
if [ -z "$pkg" ]; then
	find_pkg
	[ -n "$pkg" ] || { refresh; find_pkg; }
fi
[ -n "$pkg" ] || fail "no linux-image-6.1.0-*-amd64 package known to apt (is this Debian 12 with its sources and 'apt-get update' done?)"

deb=$(ls "$dir/${pkg}"_*.deb 2>/dev/null | tail -1)
if [ -z "$deb" ]; then
	echo "kernel: fetching $pkg"
	tmp=$(mktemp -d "$dir/download.XXXXXX")
	# as root, apt drops to _apt for the download, which must be able to write here
	chmod 755 "$tmp"; chown _apt "$tmp" 2>/dev/null || true
	if ! (cd "$tmp" && apt-get download -q "$pkg") >"$tmp/log" 2>&1 &&
	   ! { refresh && (cd "$tmp" && apt-get download -q "$pkg") >"$tmp/log" 2>&1; }; then
		log=$(grep -E '^(E|W):' "$tmp/log" | head -3 | tr '\n' ' ')
		rm -rf "$tmp"
		fail "apt-get download $pkg failed: ${log:-no message}"
	fi
	mv "$tmp"/"${pkg}"_*.deb "$dir"/ && rm -rf "$tmp"
	deb=$(ls "$dir/${pkg}"_*.deb 2>/dev/null | tail -1)
	[ -n "$deb" ] || fail "apt-get download $pkg left no .deb"
fi

# Only /boot is needed: the modules stay in the package.
tmp=$(mktemp -d "$dir/unpack.XXXXXX")
if ! dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./boot; then
	rm -rf "$tmp"
	fail "cannot unpack $deb (delete it to fetch again)"
fi
vmlinuz=$(ls "$tmp"/boot/vmlinuz-* 2>/dev/null | head -1)
[ -n "$vmlinuz" ] || { rm -rf "$tmp"; fail "$deb holds no /boot/vmlinuz-*"; }
cp "$tmp"/boot/config-* "$dir/config" 2>/dev/null
cp "$tmp"/boot/System.map-* "$dir/System.map" 2>/dev/null   # symbols for the hang capture
echo "$(basename "$deb" .deb)" >"$dir/kernel.version"
mv "$vmlinuz" "$dir/vmlinuz"
rm -rf "$tmp"
echo "kernel: $(cat "$dir/kernel.version") -> $dir/vmlinuz"
