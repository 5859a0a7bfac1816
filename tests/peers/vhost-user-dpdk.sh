#!/bin/bash
# DPDK testpmd + net_virtio_user (no VM) against kestrel's vhost-user net
# simulator, which loops every transmitted frame back to the receive queue.
#  1. flowgen: the front-end sends 64-byte frames and drains what comes
#     back; no frame may vanish (flowgen_check in lib.sh).
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

# 1. flowgen, 5 s
flowgen_check "$DIR" "$TAG"

# 2. reconnect + io loop: inject 8 bursts, let them bounce 3 s
mkfifo "$DIR/in"
( sleep 1; echo "start tx_first 8"; sleep 3; echo "stop"; sleep 0.5; echo "quit" ) >"$DIR/in" &
testpmd "$DIR" "$TAG" loop 10 --forward-mode=io -i <"$DIR/in"
rx=$(testpmd_acc "$DIR/loop.log" RX-packets); tx=$(testpmd_acc "$DIR/loop.log" TX-packets)
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
