#!/bin/bash
# QEMU (TCG) with -netdev vhost-user: the iPXE option ROM of virtio-net-pci
# is a real virtio 1.0 driver; it negotiates, maps guest memory, and sends
# DHCP requests. kestrel's net simulator loops them back. Pass: the device
# consumed frames from the guest's TX ring and delivered them to its RX ring.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/peers/lib.sh
need qemu-system-x86_64
ROM=$(ls /usr/lib/ipxe/qemu/efi-virtio.rom /usr/share/qemu/efi-virtio.rom 2>/dev/null | head -1)
[ -n "$ROM" ] || skip "the iPXE virtio ROM is not installed (ipxe-qemu)"
SECS=${SECS:-25}

DIR=$(mktemp -d /tmp/kestrel-peer-qnet.XXXXXX)
cleanup() { stop_server 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
start_server "$DIR" --device net,mac=52:54:00:12:34:56

# Ends when the guest has sent a few frames (checked every second) or at SECS.
qemu-system-x86_64 -machine q35,accel=tcg,memory-backend=mem -m 128M -smp 1 \
	-object memory-backend-memfd,id=mem,size=128M,share=on \
	-chardev socket,id=c0,path="$SOCK" -netdev vhost-user,id=n0,chardev=c0 \
	-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56 \
	-nodefaults -no-user-config -display none -no-reboot -boot n \
	-serial file:"$DIR/serial.log" >"$DIR/qemu.out" 2>"$DIR/qemu.err" &
QPID=$!
for _ in $(seq "$SECS"); do
	sleep 1
	kill -0 "$QPID" 2>/dev/null || break
	# iPXE has sent DHCP discovers once a few kicks reached the TX queue.
	[ "$(grep -c 'DHCP\|dhcp\|net0' "$DIR/serial.log" 2>/dev/null)" -gt 0 ] && sleep 6 && break
done
kill -TERM "$QPID" 2>/dev/null; wait "$QPID" 2>/dev/null
sleep 0.3
stop_server
[ "$SRV_RC" = 0 ] || fail "server exited with $SRV_RC"
tx=$(vq_stat 1 packets 1); rx=$(vq_stat 0 packets 1); bytes=$(vq_stat 1 bytes 1)
echo "guest TX frames consumed by the device: $tx ($bytes bytes); delivered to guest RX: $rx"
grep -a -o 'net0[^\r]*' "$DIR/serial.log" | head -3 | sed 's/^/  ipxe| /'
[ "$tx" -ge 1 ] || fail "no frame from the guest reached the device"
[ "$rx" -ge 1 ] || fail "no frame was delivered to the guest"
[ "$(vq_stat 1 errors 1)" = 0 ] || fail "ring errors"
pass "iPXE exchanged frames with kestrel's net device over vhost-user"
