#!/usr/bin/env bash
# tests/kernel/mkinitramfs.sh OUT INIT POOLSCOPE CPU-THREADS GIL-THREADS TRUTH
# Packs busybox-static, INIT as /init and the static programs into the gzipped
# newc cpio OUT:
#   /poolscope/poolscope, /poolscope/workloads/{cpu-threads,gil-threads},
#   /poolscope/truth
# (poolscope finds bundled workloads in workloads/ beside its binary).
set -eu
out=$1 init=$2 poolscope=$3
shift 3
busybox=/bin/busybox
"$busybox" --list >/dev/null 2>&1 ||
	{ echo "mkinitramfs: $busybox missing: make kernel-deps (busybox-static)" >&2; exit 1; }
if command -v file >/dev/null && file -L "$busybox" | grep -q 'dynamically linked'; then
	echo "mkinitramfs: $busybox is not static: install busybox-static" >&2; exit 1
fi
root=$(mktemp -d "${out%/*}/root.XXXXXX")
trap 'rm -rf "$root"' EXIT
for d in bin sbin dev proc sys tmp run etc poolscope/workloads; do mkdir -p "$root/$d"; done
install -m 755 "$busybox" "$root/bin/busybox"
install -m 755 "$init" "$root/init"
install -m 755 "$poolscope" "$root/poolscope/poolscope"
for f in "$@"; do
	case ${f##*/} in
	truth) install -m 755 "$f" "$root/poolscope/truth" ;;
	*) install -m 755 "$f" "$root/poolscope/workloads/${f##*/}" ;;
	esac
done
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
