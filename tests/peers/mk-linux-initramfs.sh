#!/bin/sh
# Build the initramfs of tests/peers/vhost-user-qemu-linux.sh: static busybox,
# a Debian kernel's virtio-pci, virtio-net and virtio-blk modules (and what
# they depend on, in load order; built-in ones skipped), the raw-frame checker
# tests/e2e/l2-net.c (built static) as /bin/l2-net, and linux-init.sh as /init.
# Written as an uncompressed newc cpio: QEMU loads it for free, and the guest
# kernel need not inflate it under TCG.
#
# Usage: sh tests/peers/mk-linux-initramfs.sh KDIR BUSYBOX L2NET OUT
#   KDIR  an unpacked linux-image package (scripts/fetch-e2e-inputs.sh)
set -eu
[ $# = 4 ] || { echo "usage: $0 KDIR BUSYBOX L2NET OUT" >&2; exit 2; }
KDIR=$1 BUSYBOX=$2 L2NET=$3 OUT=$4
HERE=$(cd "$(dirname "$0")" && pwd)
MODINFO=$(command -v modinfo || echo /sbin/modinfo)
KVER=$(ls "$KDIR/lib/modules" | head -1)
MDIR=$KDIR/lib/modules/$KVER

ST=$(mktemp -d "${TMPDIR:-/tmp}/kestrel-kvlrd.XXXXXX")
trap 'rm -rf "$ST"' EXIT
mkdir -p "$ST/bin" "$ST/dev" "$ST/proc" "$ST/sys" "$ST/tmp" "$ST/lib/modules"
# The kernel opens /dev/console for init before anything is mounted.
mknod -m 600 "$ST/dev/console" c 5 1 2>/dev/null ||
	echo "mk-linux-initramfs: cannot mknod /dev/console (not root?): /init may print nothing" >&2
cp "$BUSYBOX" "$ST/bin/busybox"
for a in $("$BUSYBOX" --list); do
	[ "$a" = busybox ] || ln -s busybox "$ST/bin/$a"
done
cp "$L2NET" "$ST/bin/l2-net"
cp "$HERE/linux-init.sh" "$ST/init"
chmod 755 "$ST/init"

: > "$ST/lib/modules/order"
add_mod() {
	grep -qx "$1.ko" "$ST/lib/modules/order" && return 0
	f=$(find "$MDIR/kernel" -name "$1.ko" | head -1)
	if [ -z "$f" ]; then
		grep -q "/$1.ko\$" "$MDIR/modules.builtin" && return 0
		echo "mk-linux-initramfs: module $1 not found in $MDIR" >&2
		exit 1
	fi
	for d in $("$MODINFO" -F depends "$f" | tr , ' '); do
		add_mod "$d"
	done
	# (sh has no local variables: find $1 again after the recursion)
	cp "$(find "$MDIR/kernel" -name "$1.ko" | head -1)" "$ST/lib/modules/"
	echo "$1.ko" >> "$ST/lib/modules/order"
}
for m in virtio_pci virtio_net virtio_blk; do
	add_mod $m
done

(cd "$ST" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "mk-linux-initramfs: $OUT ($(stat -c %s "$OUT") bytes; $KVER; modules: $(tr '\n' ' ' < "$ST/lib/modules/order"))"
