#!/bin/bash
# DPDK testpmd + net_virtio_user (no VM) against kestrel's vhost-user net
# simulator, which loops every transmitted frame back to the receive queue.
#  1. flowgen: the front-end sends 64-byte frames and drains what comes
#     back; its TX count must match what the device consumed, and every
#     consumed frame must be either delivered to RX or counted as dropped
#     (the simulator drops, and counts, a frame when the front-end has no
#     RX buffer posted at that moment, as a NIC does): none may vanish.
#  2. the same server, a second front-end (reconnect), io forwarding: frames
#     injected once bounce between the two ends.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/peers/lib.sh
need dpdk-testpmd
[ "$(nproc)" -ge 2 ] || skip "testpmd needs 2 CPUs"

DIR=$(mktemp -d /tmp/kestrel-peer-dpdk.XXXXXX)
TAG=$(basename "$DIR")
cleanup() { stop_server 2>/dev/null; rm -rf "$DIR" /var/run/dpdk/"$TAG"-*; }
trap cleanup EXIT
start_server "$DIR" --device net,mac=52:54:00:00:00:01

testpmd() {	# NAME SECS ARGS...
	local name=$1 secs=$2; shift 2
	timeout -s INT "$secs" dpdk-testpmd -l 0,1 --main-lcore 1 --no-huge -m 1024 --no-pci \
		--file-prefix="$TAG-$name" --vdev "net_virtio_user0,path=$SOCK,queues=1" -- \
		--nb-cores=1 --txpkts=64 "$@" >"$DIR/$name.log" 2>&1
}
acc() {	# LOG FIELD: the accumulated counter testpmd prints at exit
	sed -n '/Accumulated forward statistics/,$p' "$1" | grep -o "$2: *[0-9]*" | head -1 | grep -o '[0-9]*$'
}

# 1. flowgen, 5 s
testpmd flowgen 6 --forward-mode=flowgen --stats-period 1 </dev/null
tx=$(acc "$DIR/flowgen.log" TX-packets); rx=$(acc "$DIR/flowgen.log" RX-packets)
[ -n "$tx" ] && [ -n "$rx" ] || { tail -20 "$DIR/flowgen.log"; fail "testpmd printed no totals"; }
sleep 0.3
dev_tx=$(vq_stat 1 packets 1); dev_rx=$(vq_stat 0 packets 1); dev_drop=$(vq_stat 0 drops 1)
echo "flowgen: front-end TX=$tx RX=$rx; device consumed=$dev_tx delivered=$dev_rx dropped=$dev_drop"
[ "$tx" -gt 100000 ] || fail "only $tx frames sent"
# Frames still in a ring when testpmd stopped: at most one ring (256).
d=$((tx - dev_tx)); [ ${d#-} -le 256 ] || fail "front-end sent $tx, device consumed $dev_tx"
[ $((dev_rx + dev_drop)) -eq "$dev_tx" ] || fail "device consumed $dev_tx but delivered $dev_rx and dropped $dev_drop"
# Drops happen only when the front-end falls behind in draining RX (its
# share depends on scheduling on this shared host): most must get through.
[ $((dev_drop * 2)) -le "$dev_tx" ] || fail "device dropped $dev_drop of $dev_tx frames (over half)"
d=$((dev_rx - rx)); [ "$d" -ge 0 ] && [ "$d" -le 256 ] || fail "device delivered $dev_rx, front-end received $rx"
[ "$(vq_stat 1 errors 1)" = 0 ] && [ "$(vq_stat 0 errors 1)" = 0 ] || fail "errors in the device"
pass "flowgen: $tx frames out, $rx back, counts match"

# 2. reconnect + io loop: inject 8 bursts, let them bounce 3 s
mkfifo "$DIR/in"
( sleep 1; echo "start tx_first 8"; sleep 3; echo "stop"; sleep 0.5; echo "quit" ) >"$DIR/in" &
testpmd loop 10 --forward-mode=io -i <"$DIR/in"
rx=$(acc "$DIR/loop.log" RX-packets); tx=$(acc "$DIR/loop.log" TX-packets)
[ -n "$rx" ] || { tail -20 "$DIR/loop.log"; fail "loop: testpmd printed no totals"; }
sleep 0.3
stop_server
[ "$SRV_RC" = 0 ] || fail "server exited with $SRV_RC"
# The device is reset between front-ends: counters start again.
l_tx=$(vq_stat 1 packets 2); l_rx=$(vq_stat 0 packets 2); l_drop=$(vq_stat 0 drops 2)
echo "loop: front-end RX=$rx TX=$tx; device consumed=$l_tx delivered=$l_rx dropped=$l_drop"
[ "$rx" -gt 10000 ] || fail "loop: only $rx frames came back"
[ $((l_rx + l_drop)) -eq "$l_tx" ] || fail "loop: device consumed $l_tx, delivered $l_rx, dropped $l_drop"
d=$((l_tx - tx)); [ ${d#-} -le 512 ] || fail "loop: front-end sent $tx, device consumed $l_tx"
pass "loop after reconnect: $rx frames bounced"
grep -q "front-end connected" "$SRV_LOG" || fail "no connection logged"
exit 0
