#!/usr/bin/env bash
# tests/kernel/fetch-dbg.sh DIR: the debug vmlinux of the kernel cached in DIR
# (DIR/kernel.version, e.g. linux-image-6.1.0-57-amd64_6.1.192-3_amd64) from
# Debian's linux-image-6.1.0-N-amd64-dbg, fetched with `apt-get download`;
# only usr/lib/debug/boot/vmlinux-* is kept, as DIR/vmlinux-6.1.0-N-amd64, and
# the .deb is deleted. tests/kernel/hang-capture.sh uses it for backtraces.
set -eu
dir=$1
ver=$(cut -d_ -f1 "$dir/kernel.version")      # linux-image-6.1.0-57-amd64
rel=${ver#linux-image-}                          # 6.1.0-57-amd64
[ -s "$dir/vmlinux-$rel" ] && { echo "kernel-dbg: $dir/vmlinux-$rel present"; exit 0; }
tmp=$(mktemp -d "$dir/dbg.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"; chown _apt "$tmp" 2>/dev/null || true
echo "kernel-dbg: fetching $ver-dbg (about 860 MB)"
(cd "$tmp" && apt-get download -q "$ver-dbg") >"$tmp/log" 2>&1 ||
	(apt-get update -qq && cd "$tmp" && apt-get download -q "$ver-dbg") >"$tmp/log" 2>&1 ||
	{ echo "kernel-dbg: apt-get download $ver-dbg failed: $(grep -E '^(E|W):' "$tmp/log" | head -2 | tr '\n' ' ')" >&2; exit 1; }
dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" "./usr/lib/debug/boot/vmlinux-$rel"
mv "$tmp/usr/lib/debug/boot/vmlinux-$rel" "$dir/vmlinux-$rel"
echo "kernel-dbg: $dir/vmlinux-$rel"
