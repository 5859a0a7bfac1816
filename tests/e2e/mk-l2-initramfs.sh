#!/bin/sh
# Build the L2 initramfs for one Debian kernel flavour: static busybox, the
# kernel's virtio modules (virtio_mmio, virtio_net, virtio_blk, virtio_balloon and what they
# depend on, in load order), the raw-frame checker l2-net, and l2-init.sh as
# /init. Written gzip-compressed (the kernel unpacks it in L2).
#
# Usage: tests/e2e/mk-l2-initramfs.sh KDIR BUSYBOX L2NET OUT [ROOTFS]
#   KDIR    an unpacked linux-image package (scripts/fetch-e2e-inputs.sh)
#   BUSYBOX static busybox;  L2NET  static build of tests/e2e/l2-net.c
#   ROOTFS  also write the same tree, plus the marker /e2e-rootfs, as an
#           ext4 image (gzip-compressed) for the root-drive case (e2eroot=1:
#           l2-init.sh switch_roots into it). 1 KiB blocks, so that the
#           disk's first two sectors (the blk checks' blocks) lie outside
#           every block ext4 caches.
set -eu
[ $# = 4 ] || [ $# = 5 ] || { echo "usage: $0 KDIR BUSYBOX L2NET OUT [ROOTFS]" >&2; exit 2; }
KDIR=$1 BUSYBOX=$2 L2NET=$3 OUT=$4 ROOTFS=${5:-}
HERE=$(cd "$(dirname "$0")" && pwd)
MODINFO=$(command -v modinfo || echo /sbin/modinfo)
KVER=$(ls "$KDIR/lib/modules" | head -1)
MDIR=$KDIR/lib/modules/$KVER

ST=$(mktemp -d "${TMPDIR:-/tmp}/kestrel-l2rd.XXXXXX")
trap 'rm -rf "$ST"' EXIT
mkdir -p "$ST/bin" "$ST/dev" "$ST/proc" "$ST/sys" "$ST/tmp" "$ST/lib/modules"
# The kernel opens /dev/console for init before anything is mounted.
mknod -m 600 "$ST/dev/console" c 5 1 2>/dev/null ||
	echo "mk-l2-initramfs: cannot mknod /dev/console (not root?): L2 /init may print nothing" >&2
cp "$BUSYBOX" "$ST/bin/busybox"
for a in $("$BUSYBOX" --list); do
	[ "$a" = busybox ] || ln -s busybox "$ST/bin/$a"
done
cp "$L2NET" "$ST/bin/l2-net"
# the vsock case's guest end, built beside l2-net (check.sh)
[ -x "$(dirname "$L2NET")/l2-vsock" ] && cp "$(dirname "$L2NET")/l2-vsock" "$ST/bin/l2-vsock"
cp "$HERE/l2-init.sh" "$ST/init"
chmod 755 "$ST/init"

# Modules in dependency order (depth first); built-in ones are skipped.
: > "$ST/lib/modules/order"
add_mod() {
	grep -qx "$1.ko" "$ST/lib/modules/order" && return 0
	f=$(find "$MDIR/kernel" -name "$1.ko" | head -1)
	if [ -z "$f" ]; then
		grep -q "/$1.ko\$" "$MDIR/modules.builtin" && return 0
		echo "mk-l2-initramfs: module $1 not found in $MDIR" >&2
		exit 1
	fi
	# (sh has no local variables: $f is found again after the recursion)
	for d in $("$MODINFO" -F depends "$f" | tr , ' '); do
		add_mod "$d"
	done
	cp "$(find "$MDIR/kernel" -name "$1.ko" | head -1)" "$ST/lib/modules/"
	echo "$1.ko" >> "$ST/lib/modules/order"
}
for m in virtio_mmio virtio_pci virtio_net virtio_blk virtio_balloon; do
	add_mod $m
done
# vsock's modules go in /lib/modules/order-vsock, loaded by the vsock check only
cp "$ST/lib/modules/order" "$ST/order.virtio"
add_mod vmw_vsock_virtio_transport
grep -vxF -f "$ST/order.virtio" "$ST/lib/modules/order" > "$ST/lib/modules/order-vsock" || true
mv "$ST/order.virtio" "$ST/lib/modules/order"
if [ -n "$ROOTFS" ]; then
	# ext4 is a module in Debian's kernels: /lib/modules/order-root, loaded
	# before the root disk is mounted (crc32c is only ext4's soft dependency).
	cp "$ST/lib/modules/order" "$ST/order.virtio"
	for m in crc32c_generic ext4; do
		add_mod $m
	done
	grep -vxF -f "$ST/order.virtio" "$ST/lib/modules/order" > "$ST/lib/modules/order-root"
	mv "$ST/order.virtio" "$ST/lib/modules/order"
fi

(cd "$ST" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -6) > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
if [ -n "$ROOTFS" ]; then
	echo "kestrel e2e root disk" > "$ST/e2e-rootfs"
	kb=$(($(du -sk "$ST" | cut -f1) + 4096))
	rm -f "$ROOTFS.img"
	mkfs.ext4 -q -F -b 1024 -L kestrel-e2e -d "$ST" "$ROOTFS.img" "${kb}k"
	gzip -c "$ROOTFS.img" > "$ROOTFS.tmp"
	rm -f "$ROOTFS.img"
	mv "$ROOTFS.tmp" "$ROOTFS"
	echo "mk-l2-initramfs: $ROOTFS (ext4, $kb KiB, $(stat -c %s "$ROOTFS") bytes compressed)"
fi
echo "mk-l2-initramfs: $OUT ($(stat -c %s "$OUT") bytes; $KVER; modules: $(tr '\n' ' ' < "$ST/lib/modules/order"))"
