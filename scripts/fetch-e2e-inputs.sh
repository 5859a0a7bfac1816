#!/bin/sh
# Fetch and unpack what the nested end-to-end harness (tests/e2e/) boots, from
# Debian's own archive with `apt-get download` (nothing is installed):
#
#   $CACHE/gen     linux-image-<ver>-amd64        (generic: L1 kernel + its kvm
#                  modules; an L2 kernel: XZ-compressed, MP table parser, modules)
#   $CACHE/cloud   linux-image-<ver>-cloud-amd64  (an L2 kernel: LZ4, no MP table
#                  parser, so it needs ACPI to find CPUs and virtio-mmio devices)
#   $CACHE/<flavour>/vmlinux  the PVH ELF, extracted from the package's bzImage
#   $CACHE/bb/bin/busybox     busybox-static
#
# Usage: scripts/fetch-e2e-inputs.sh     (idempotent; offline once cached)
#   KESTREL_E2E_CACHE  cache dir (default $HOME/.cache/kestrel-e2e)
#   E2E_KVER_GEN / E2E_KVER_CLOUD  exact package names to fetch instead of what
#                      the linux-image-amd64 / -cloud-amd64 meta packages point at
# Prints "cache: DIR" last. Needs apt-get, dpkg-deb; xz/lz4/zstd for vmlinux.
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KESTREL_E2E_CACHE:-${HOME:-/root}/.cache/kestrel-e2e}
mkdir -p "$CACHE/debs"

# What the meta package depends on: the versioned image package.
pkg_of() { apt-cache depends "linux-image-$1" 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}'; }

updated=0
resolve() {  # $1 = meta suffix; prints the versioned package
	p=$(pkg_of "$1")
	if [ -z "$p" ] && [ $updated = 0 ] && [ "$(id -u)" = 0 ]; then
		apt-get update -q >&2 || true
		updated=1
		p=$(pkg_of "$1")
	fi
	[ -n "$p" ] || { echo "fetch-e2e-inputs: cannot resolve linux-image-$1 (apt-get update?)" >&2; exit 1; }
	echo "$p"
}

fetch() {  # $1 = package name; leaves its .deb in $CACHE/debs, prints the path
	d=$(ls "$CACHE/debs/$1"_*.deb 2>/dev/null | head -1 || true)
	if [ -z "$d" ]; then
		(cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "$1" >&2) ||
			{ echo "fetch-e2e-inputs: apt-get download $1 failed" >&2; exit 1; }
		d=$(ls "$CACHE/debs/$1"_*.deb | head -1)
	fi
	echo "$d"
}

unpack() {  # $1 = dir name, $2 = .deb
	if [ -f "$CACHE/$1/.from" ] && [ "$(cat "$CACHE/$1/.from")" = "$(basename "$2")" ]; then
		return 0
	fi
	rm -rf "${CACHE:?}/$1" "$CACHE/$1.tmp"
	dpkg-deb -x "$2" "$CACHE/$1.tmp"
	basename "$2" > "$CACHE/$1.tmp/.from"
	mv "$CACHE/$1.tmp" "$CACHE/$1"
}

for pair in gen:amd64 cloud:cloud-amd64; do
	dir=${pair%%:*} meta=${pair#*:}
	case $dir in
	gen) want=${E2E_KVER_GEN:-} ;;
	cloud) want=${E2E_KVER_CLOUD:-} ;;
	esac
	# Offline fast path: an unpacked kernel with its vmlinux is all we need.
	if [ -z "$want" ] && [ -f "$CACHE/$dir/.from" ] && [ -f "$CACHE/$dir/vmlinux" ]; then
		echo "$dir: cached $(cat "$CACHE/$dir/.from")"
		continue
	fi
	[ -n "$want" ] || want=$(resolve "$meta")
	deb=$(fetch "$want")
	unpack "$dir" "$deb"
	bz=$(ls "$CACHE/$dir"/boot/vmlinuz-* | head -1)
	if [ ! -f "$CACHE/$dir/vmlinux" ]; then
		"$HERE/tests/e2e/extract-vmlinux.py" "$bz" "$CACHE/$dir/vmlinux.tmp"
		mv "$CACHE/$dir/vmlinux.tmp" "$CACHE/$dir/vmlinux"
	fi
	echo "$dir: $(basename "$deb") -> $CACHE/$dir"
done

if [ ! -x "$CACHE/bb/bin/busybox" ]; then
	unpack bb "$(fetch busybox-static)"
fi
echo "busybox: $(cat "$CACHE/bb/.from")"
echo "cache: $CACHE"
