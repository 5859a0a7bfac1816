#!/bin/bash
# QEMU (TCG) boots a Debian kernel whose own virtio-net and virtio-blk drivers
# (virtio-pci, q35) drive two kestrel vhost-user servers: the net simulator,
# which loops every frame the guest transmits back to its receive queue, and
# the blk simulator (a RAM disk). The guest's /init (tests/peers/linux-init.sh)
# loads the modules, sends 16 raw frames and checks that each comes back byte
# for byte (tests/e2e/l2-net.c), writes a random 1 MiB pattern to the disk
# with O_DIRECT, drops its caches, reads it back with O_DIRECT and compares,
# then powers off. Pass: every guest check passed, and the servers' counters
# show the traffic went through kestrel (>= 16 frames each way; >= 2 MiB of
# blk data; no ring errors).
#
# Kernel and busybox come from Debian's archive via scripts/fetch-e2e-inputs.sh
# (cached in ~/.cache/kestrel-e2e). Exit 77 only when qemu or those inputs
# cannot be had.
#   KVL_FLAVOUR  cloud (default) or gen: which Debian kernel to boot
#   KVL_TIMEOUT  seconds QEMU may run (default 100)
#   KVL_KEEP     set: keep the work directory (logs, initramfs) for a post-mortem
#   KVL_PACKED   set: both devices get packed=on (packed virtqueues, virtio
#                1.2 §2.8), and the guest's drivers must have negotiated
#                VIRTIO_F_RING_PACKED (bit 34 of their sysfs features); unset,
#                they must not have (QEMU's default is split)
#   KVL_MQ       N (2..8): the net device has N queue pairs (max_vqp=N, QEMU
#                queues=N, mq=on); the guest then does what `ethtool -L
#                eth0 combined K` does for K = N and 1 (QEMU turns it into
#                SET_VRING_ENABLE on kestrel's rings) with frames on queue
#                K-1 each time (the mq check), and every pair's counters
#                count in the totals
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/peers/lib.sh
need qemu-system-x86_64
need cpio
T0=$(date +%s.%N)
FLAVOUR=${KVL_FLAVOUR:-cloud}
QTIMEOUT=${KVL_TIMEOUT:-100}
BLK_MB=1
ts() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

DIR=$(mktemp -d /tmp/kestrel-peer-qlinux.XXXXXX)
[ -n "${KVL_KEEP:-}" ] && echo "keeping $DIR"
QPID='' NET_PID='' BLK_PID=''
cleanup() {
	[ -n "$QPID" ] && kill -KILL "$QPID" 2>/dev/null
	[ -n "$NET_PID" ] && kill -KILL "$NET_PID" 2>/dev/null
	[ -n "$BLK_PID" ] && kill -KILL "$BLK_PID" 2>/dev/null
	[ -n "${SRV_PID:-}" ] && kill -KILL "$SRV_PID" 2>/dev/null
	wait 2>/dev/null
	[ -n "${KVL_KEEP:-}" ] || rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# -- inputs: Debian kernel + busybox-static, the frame checker, the initramfs --
out=$(timeout "${KVL_FETCH_TIMEOUT:-240}" scripts/fetch-e2e-inputs.sh 2>&1) ||
	skip "could not fetch the Debian kernel / busybox-static: $(echo "$out" | tail -n 1)"
CACHE=$(echo "$out" | sed -n 's/^cache: //p' | tail -n 1)
KDIR=$CACHE/$FLAVOUR
KERNEL=$(ls "$KDIR"/boot/vmlinuz-* 2>/dev/null | head -1)
[ -n "$KERNEL" ] || skip "no Debian $FLAVOUR kernel in $KDIR"
[ -x "$CACHE/bb/bin/busybox" ] || skip "no busybox-static in $CACHE/bb"
${CC:-cc} -static -O2 -Wall -o "$DIR/l2-net" tests/e2e/l2-net.c 2>"$DIR/cc.log" ||
	fail "cannot build tests/e2e/l2-net.c static: $(head -n 3 "$DIR/cc.log")"
sh tests/peers/mk-linux-initramfs.sh "$KDIR" "$CACHE/bb/bin/busybox" "$DIR/l2-net" "$DIR/initrd.cpio" \
	>"$DIR/mkrd.log" 2>&1 || { cat "$DIR/mkrd.log"; fail "cannot build the initramfs"; }
sed 's/^/  /' "$DIR/mkrd.log"
echo "inputs ready at $(ts)s: $(basename "$KERNEL")"

# -- the two servers (lib.sh keeps one server in SOCK/SRV_LOG/SRV_PID) --------
mkdir -p "$DIR/net" "$DIR/blk"
MQ=${KVL_MQ:-1}
start_server "$DIR/net" --device net,mac=52:54:00:12:34:56,max_vqp=$MQ
NET_SOCK=$SOCK NET_LOG=$SRV_LOG NET_PID=$SRV_PID
start_server "$DIR/blk" --device blk,capacity=64M,serial=kestrel-kvl
BLK_SOCK=$SOCK BLK_LOG=$SRV_LOG BLK_PID=$SRV_PID
SRV_PID='' SRV_LOG=''

# stop_logged PID LOG: SIGINT one server, wait, leave its exit code in SRV_RC.
stop_logged() {
	SRV_PID=$1 SRV_LOG=$2
	stop_server
}

# -- boot --------------------------------------------------------------------------
# vectors=0 on virtio-net-pci (the driver falls back to INTx): QEMU 7.2
# (Debian 12) segfaults under TCG once a vhost-user net device's driver
# enables MSI-X and sets DRIVER_OK. vhost_net_start clears
# use_guest_notifier_mask for vhost-user peers, yet virtio_pci_set_guest_notifiers
# still installs the MSI-X vector notifiers, and virtio_pci_vector_unmask then
# takes the irqfd path without KVM: kvm_virtio_pci_irqfd_use() dereferences
# proxy->vector_irqfd, which is NULL. The crash is in QEMU, before any
# vring message reaches the backend. vhost-user-blk-pci keeps
# use_guest_notifier_mask, so it keeps MSI-X.
NONCE=$$-$RANDOM
PACKED=${KVL_PACKED:+on}
PACKED=${PACKED:-off}
echo "booting QEMU (TCG, q35, packed=$PACKED) at $(ts)s"
qemu-system-x86_64 -machine q35,accel=tcg,memory-backend=mem -m 256M -smp 1 \
	-object memory-backend-memfd,id=mem,size=256M,share=on \
	-kernel "$KERNEL" -initrd "$DIR/initrd.cpio" \
	-append "console=ttyS0 loglevel=4 panic=-1 ipv6.disable=1 mitigations=off kvlnonce=$NONCE kvlblkmb=$BLK_MB kvlmq=$MQ" \
	-chardev socket,id=cn,path="$NET_SOCK" -netdev vhost-user,id=n0,chardev=cn,queues=$MQ \
	-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,vectors=0,packed=$PACKED,mq=$([ "$MQ" -gt 1 ] && echo on || echo off) \
	-chardev socket,id=cb,path="$BLK_SOCK" -device vhost-user-blk-pci,chardev=cb,num-queues=1,packed=$PACKED \
	-nodefaults -no-user-config -display none -no-reboot \
	-serial file:"$DIR/serial.log" >"$DIR/qemu.out" 2>"$DIR/qemu.err" </dev/null &
QPID=$!
# The guest powers off by itself; past the deadline QEMU is killed.
deadline=$((SECONDS + QTIMEOUT)) killed=0
while kill -0 "$QPID" 2>/dev/null; do
	[ $SECONDS -ge $deadline ] && { kill -KILL "$QPID"; killed=1; break; }
	sleep 0.2
done
wait "$QPID"; QRC=$?
QPID=
TQ=$(ts)
echo "QEMU exited ($QRC) at ${TQ}s"
sleep 0.3
stop_logged "$NET_PID" "$NET_LOG"; NET_RC=$SRV_RC NET_PID=
stop_logged "$BLK_PID" "$BLK_LOG"; BLK_RC=$SRV_RC BLK_PID=

grep -a '^KVL' "$DIR/serial.log" | tr -d '\r' | sed 's/^/  guest| /'
if ! grep -aq "^KVL-DONE $NONCE" "$DIR/serial.log"; then
	tail -n 25 "$DIR/serial.log" | tr -d '\r' | sed 's/^/  console| /'
	tail -n 5 "$DIR/qemu.err" | sed 's/^/  qemu| /'
	[ $killed = 1 ] && fail "the guest did not finish within ${QTIMEOUT}s (QEMU killed)"
	fail "the guest did not finish (QEMU exit $QRC)"
fi
[ "$QRC" = 0 ] || { tail -n 5 "$DIR/qemu.err"; fail "QEMU exited with $QRC"; }
[ "$NET_RC" = 0 ] || { SRV_LOG=$NET_LOG; fail "net server exited with $NET_RC"; }
[ "$BLK_RC" = 0 ] || { SRV_LOG=$BLK_LOG; fail "blk server exited with $BLK_RC"; }

bad=0
checks="modules probe net blk"
[ "$MQ" -gt 1 ] && checks="$checks mq"
for c in $checks; do
	grep -aq "^KVL-CHECK $c PASS" "$DIR/serial.log" || { echo "guest check '$c' did not pass"; bad=1; }
done
# Which ring layout each driver negotiated: bit 34 (the 35th character).
want_bit=0
[ "$PACKED" = on ] && want_bit=1
for drv in virtio_net virtio_blk; do
	f=$(grep -a "^KVL-FEATURES $drv " "$DIR/serial.log" | tr -d '\r' | head -n 1 | cut -d' ' -f3)
	bit=$(printf '%s' "$f" | cut -c35)
	echo "$drv: features $f (RING_PACKED ${bit:-?}, want $want_bit)"
	[ "$bit" = "$want_bit" ] || { echo "$drv: VIRTIO_F_RING_PACKED is ${bit:-missing}, not $want_bit (packed=$PACKED)"; bad=1; }
done

# -- the servers' side: the traffic went through kestrel ------------------------
# The server's totals survive device resets (QEMU resets at power-off), so
# they must equal what the guest's driver counted: nothing lost, nothing extra.
SRV_LOG=$NET_LOG
tx=0 rx=0 txe=0 rxe=0 per=
for p in $(seq 0 $((MQ - 1))); do
	t=$(vq_stat $((2 * p + 1)) packets 1) r=$(vq_stat $((2 * p)) packets 1)
	tx=$((tx + t)) rx=$((rx + r)) per="$per pair $p: $t/$r"
	txe=$((txe + $(vq_stat $((2 * p + 1)) errors 1))) rxe=$((rxe + $(vq_stat $((2 * p)) errors 1)))
	# Every pair carried the guest's frames (the mq check steers some to each).
	[ "$MQ" -gt 1 ] && { [ "$t" -ge 8 ] && [ "$r" -ge 8 ] || { echo "net: pair $p moved only $t/$r frames"; bad=1; }; }
done
echo "net server: guest TX frames consumed $tx, delivered to guest RX $rx, errors $txe/$rxe${per:+ (TX/RX by pair:$per)}"
gtx=$(grep -a -o 'KVL-NETSTAT tx_packets=[0-9]*' "$DIR/serial.log" | grep -o '[0-9]*$')
grx=$(grep -a -o 'KVL-NETSTAT.* rx_packets=[0-9]*' "$DIR/serial.log" | grep -o '[0-9]*$')
echo "guest driver: tx_packets ${gtx:-?} rx_packets ${grx:-?}"
[ "$tx" -ge 16 ] || { echo "net: the device consumed only $tx frames from the guest's TX ring"; bad=1; }
[ "$rx" -ge 16 ] || { echo "net: the device delivered only $rx frames to the guest's RX ring"; bad=1; }
[ "$tx" = "${gtx:-?}" ] && [ "$rx" = "${grx:-?}" ] || { echo "net: device counted $tx/$rx frames, the guest driver ${gtx:-?}/${grx:-?}"; bad=1; }
[ "$txe" = 0 ] && [ "$rxe" = 0 ] || { echo "net: ring errors"; bad=1; }
SRV_LOG=$BLK_LOG
reqs=$(vq_stat 0 packets 1) bytes=$(vq_stat 0 bytes 1) be=$(vq_stat 0 errors 1)
echo "blk server: $reqs requests, $bytes data bytes, errors $be"
# The pattern went in and came out again, uncached: at least twice its size.
[ "$bytes" -ge $((2 * BLK_MB * 1048576)) ] || { echo "blk: only $bytes data bytes crossed the device"; bad=1; }
[ "$be" = 0 ] || { echo "blk: $be requests failed"; bad=1; }
SRV_LOG=
[ $bad = 0 ] || { tail -n 15 "$DIR/serial.log" | tr -d '\r' | sed 's/^/  console| /'; fail "see above"; }
pass "Linux virtio-net and virtio-blk drove kestrel's vhost-user devices under QEMU TCG, $([ "$PACKED" = on ] && echo packed || echo split) rings (guest ran ${TQ}s, total $(ts)s)"
