#!/bin/sh
# /init of the guest that tests/peers/vhost-user-qemu-linux.sh boots in QEMU
# (built into its initramfs by tests/peers/mk-linux-initramfs.sh; busybox).
# Linux's own virtio-net and virtio-blk drivers (over virtio-pci) drive
# kestrel's vhost-user devices. Each check prints one line
#   KVL-CHECK <name> PASS|FAIL <detail>
# then "KVL-DONE <nonce>", and the guest powers off. From the kernel command
# line (words without a dot reach init's environment):
#   kvlnonce=STR   tags this run's frames and marker lines
#   kvlblkmb=N     MiB the guest writes and reads back on the disk (default 1)
B=/bin/busybox
$B mount -t devtmpfs dev /dev 2>/dev/null
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
export PATH=/bin
nonce=${kvlnonce:-x}
read -r up _ < /proc/uptime
echo "KVL-INIT-REACHED uptime=$up $(uname -r)"
check() { echo "KVL-CHECK $1 $2 $3"; }

# -- modules, in dependency order ------------------------------------------
mods_ok=1
for m in $(cat /lib/modules/order); do
	if ! out=$(insmod /lib/modules/$m 2>&1); then
		echo "KVL: insmod $m: $out"
		mods_ok=0
	fi
done
[ $mods_ok = 1 ] && check modules PASS "$(tr '\n' ' ' < /lib/modules/order)" ||
	check modules FAIL "some virtio modules did not load (see above)"

# -- both devices bound to their Linux drivers ---------------------------------
drv_of() { d=$(readlink "$1/driver" 2>/dev/null); echo "${d##*/}"; }
i=0
while :; do
	nnet=0 nblk=0 ndev=0
	for d in /sys/bus/virtio/devices/*; do
		[ -e "$d" ] || continue
		ndev=$((ndev + 1))
		case $(drv_of "$d") in
		virtio_net) nnet=$((nnet + 1)) ;;
		virtio_blk) nblk=$((nblk + 1)) ;;
		esac
	done
	[ $nnet -ge 1 ] && [ $nblk -ge 1 ] && break
	i=$((i + 1))
	[ $i -ge 100 ] && break
	sleep 0.1
done
if [ $nnet -ge 1 ] && [ $nblk -ge 1 ]; then
	check probe PASS "$ndev virtio device(s): net=$nnet blk=$nblk"
else
	check probe FAIL "$ndev virtio device(s) but net=$nnet blk=$nblk bound"
	dmesg | grep -i virtio | tail -n 5 | sed 's/^/KVL: dmesg: /'
fi
# What each driver negotiated: sysfs lists feature bits from 0 up, one
# character each (bit 34 is VIRTIO_F_RING_PACKED), for the host to check.
for d in /sys/bus/virtio/devices/*; do
	[ -e "$d/features" ] && echo "KVL-FEATURES $(drv_of "$d") $(cat "$d/features")"
done

# -- net: frames sent on the interface come back (the simulator loops TX to RX)
ifc=
for c in /sys/class/net/*; do
	[ "$(drv_of "$c/device")" = virtio_net ] && ifc=${c##*/}
done
if [ -z "$ifc" ]; then
	check net FAIL "no interface bound to virtio_net"
elif ! ip link set dev "$ifc" up; then
	check net FAIL "ip link set $ifc up failed"
elif out=$(/bin/l2-net "$ifc" 16 "$nonce" 2>&1); then
	check net PASS "$ifc: $out"
else
	check net FAIL "$ifc: $out"
fi
# -- mq (kvlmq=N): what `ethtool -L combined K` does, K = N then 1, frames on queue K-1
if [ -n "$ifc" ] && [ "${kvlmq:-1}" -gt 1 ]; then
	if out=$(/bin/l2-net "$ifc" 8 "$nonce" "$kvlmq" 1 2>&1); then
		check mq PASS "$ifc: $out"
	else
		check mq FAIL "$ifc: $out"
	fi
fi
# The driver's own counters, for the host to compare with the device's.
[ -n "$ifc" ] && echo "KVL-NETSTAT tx_packets=$(cat /sys/class/net/$ifc/statistics/tx_packets) rx_packets=$(cat /sys/class/net/$ifc/statistics/rx_packets) tx_bytes=$(cat /sys/class/net/$ifc/statistics/tx_bytes) rx_bytes=$(cat /sys/class/net/$ifc/statistics/rx_bytes)"

# -- blk: write a random pattern with O_DIRECT, drop every cache, read it back
dev=
for c in /sys/block/*; do
	[ "$(drv_of "$c/device")" = virtio_blk ] && dev=${c##*/}
done
mb=${kvlblkmb:-1}
if [ -z "$dev" ]; then
	check blk FAIL "no block device bound to virtio_blk"
else
	# shellcheck disable=SC2046 # MAJ:MIN becomes two words
	[ -b /dev/$dev ] || mknod /dev/$dev b $(tr : ' ' < /sys/block/$dev/dev)
	sectors=$(cat /sys/block/$dev/size)
	# 1 MiB in, so the partition scan's reads of the first sectors are not it.
	dd if=/dev/urandom of=/tmp/pat bs=64k count=$((mb * 16)) 2>/dev/null
	want=$(sha256sum < /tmp/pat | cut -c1-16)
	if ! dd if=/tmp/pat of=/dev/$dev bs=64k seek=16 oflag=direct conv=fsync 2>/tmp/err; then
		check blk FAIL "$dev: write failed: $(tail -n 1 /tmp/err)"
	else
		sync
		blockdev --flushbufs /dev/$dev
		echo 3 > /proc/sys/vm/drop_caches
		if ! dd if=/dev/$dev of=/tmp/back bs=64k skip=16 count=$((mb * 16)) iflag=direct 2>/tmp/err; then
			check blk FAIL "$dev: read failed: $(tail -n 1 /tmp/err)"
		else
			got=$(sha256sum < /tmp/back | cut -c1-16)
			if cmp -s /tmp/pat /tmp/back; then
				check blk PASS "$dev: $sectors sectors; wrote $mb MiB at 1 MiB (O_DIRECT), read back identical sha256=$want"
			else
				check blk FAIL "$dev: readback differs: wrote sha256=$want, read sha256=$got"
			fi
		fi
	fi
fi

echo "KVL-DONE $nonce"
poweroff -f
sleep 30
echo "KVL: still running 30 s after poweroff -f"
