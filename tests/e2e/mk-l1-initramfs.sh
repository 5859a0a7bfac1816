#!/bin/sh
# Build the L1 initramfs (uncompressed cpio: L1 runs under TCG, where
# decompressing would cost more than reading): static busybox, the L1 kernel's
# kvm modules (irqbypass, kvm, ccp where kvm-amd needs it, kvm-amd), a static
# kestrel, the L2 kernels and initramfs each case needs, the case list and
# l1-init.sh as /init.
#
# Usage: tests/e2e/mk-l1-initramfs.sh OUT CACHE L1_FLAVOUR KESTREL CASES L2RD_DIR
#   CACHE     scripts/fetch-e2e-inputs.sh's cache (unpacked kernels, busybox)
#   L1_FLAVOUR gen|cloud: the kernel L1 boots (its modules go in)
#   KESTREL   a static kestrel binary
#   CASES     lines "<name> <flavour> <bzimage|pvh> <vcpus> <devs> [run|fc]" (l1-init.sh)
#   L2RD_DIR  holds initrd-<flavour>.cpio.gz (mk-l2-initramfs.sh), with
#             rootfs-<flavour>.ext4.gz for e2eroot=1 cases, and l1-fcapi, the
#             API client of the fc and fcput cases
set -eu
[ $# = 6 ] || { echo "usage: $0 OUT CACHE L1_FLAVOUR KESTREL CASES L2RD_DIR" >&2; exit 2; }
OUT=$1 CACHE=$2 L1F=$3 KESTREL=$4 CASES=$5 L2RD=$6
HERE=$(cd "$(dirname "$0")" && pwd)
KDIR=$CACHE/$L1F
KVER=$(ls "$KDIR/lib/modules" | head -1)

ST=$(mktemp -d "${TMPDIR:-/tmp}/kestrel-l1rd.XXXXXX")
trap 'rm -rf "$ST"' EXIT
mkdir -p "$ST/bin" "$ST/dev" "$ST/proc" "$ST/sys" "$ST/tmp" "$ST/root" "$ST/lib/modules" "$ST/e2e"
mknod -m 600 "$ST/dev/console" c 5 1 2>/dev/null ||
	echo "mk-l1-initramfs: cannot mknod /dev/console (not root?)" >&2
cp "$CACHE/bb/bin/busybox" "$ST/bin/busybox"
ln -s busybox "$ST/bin/sh"
# tun: kestrel's TAP devices (the fcput case's network interface)
for m in virt/lib/irqbypass.ko arch/x86/kvm/kvm.ko drivers/crypto/ccp/ccp.ko arch/x86/kvm/kvm-amd.ko \
	drivers/net/tun.ko; do
	# ccp exists (and kvm-amd needs it) only with CONFIG_KVM_AMD_SEV=y: generic, not cloud
	[ -e "$KDIR/lib/modules/$KVER/kernel/$m" ] || continue
	cp "$KDIR/lib/modules/$KVER/kernel/$m" "$ST/lib/modules/"
	basename "$m" >> "$ST/lib/modules/order"
done
cp "$KESTREL" "$ST/bin/kestrel"
[ -x "$L2RD/l1-fcapi" ] && cp "$L2RD/l1-fcapi" "$ST/bin/l1-fcapi"
# the vsock case's host end
[ -x "$L2RD/l2-vsock" ] && cp "$L2RD/l2-vsock" "$ST/bin/l2-vsock"
strip "$ST/bin/kestrel" 2>/dev/null || true
grep -v '^#' "$CASES" | grep . > "$ST/e2e/cases"
for fl in $(awk '{print $2}' "$ST/e2e/cases" | sort -u); do
	mkdir -p "$ST/l2/$fl"
	cp "$L2RD/initrd-$fl.cpio.gz" "$ST/l2/$fl/initrd"
	# the root-drive case's ext4 image, when a case needs it (e2eroot=1)
	if awk -v f="$fl" '$2 == f && $7 ~ /(^|,)e2eroot=1(,|$)/' "$ST/e2e/cases" | grep -q .; then
		cp "$L2RD/rootfs-$fl.ext4.gz" "$ST/l2/$fl/rootfs.ext4.gz"
	fi
	if awk -v f="$fl" '$2 == f && $3 != "pvh"' "$ST/e2e/cases" | grep -q .; then
		cp "$(ls "$CACHE/$fl"/boot/vmlinuz-* | head -1)" "$ST/l2/$fl/bzImage"
	fi
	if awk -v f="$fl" '$2 == f && $3 == "pvh"' "$ST/e2e/cases" | grep -q .; then
		cp "$CACHE/$fl/vmlinux" "$ST/l2/$fl/vmlinux"
	fi
done
cp "$HERE/l1-init.sh" "$ST/init"
chmod 755 "$ST/init"
(cd "$ST" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "mk-l1-initramfs: $OUT ($(($(stat -c %s "$OUT") / 1048576)) MiB; L1 $KVER; $(wc -l < "$ST/e2e/cases") case(s))"
