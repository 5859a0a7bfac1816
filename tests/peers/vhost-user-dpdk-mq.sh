#!/bin/bash
# Multiqueue over vhost-user: DPDK testpmd + net_virtio_user with queues=2
# and queues=4 (--rxq/--txq the same) against kestrel's net simulator with
# max_vqp 2 and 4, which loops each pair's transmitted frames back to that
# pair's receive queue. For each count:
#  - testpmd's per-queue forward statistics show frames sent and received
#    on every queue;
#  - the device's counters show every pair consumed and delivered frames,
#    and no frame vanished (consumed = delivered + dropped, per pair);
#  - the server ran one worker thread per pair (threads vdpa-worker0..N-1,
#    each of which used CPU time).
# Then workers=1 with 2 pairs: one worker serves both, traffic still flows
# on both.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/peers/lib.sh
need dpdk-testpmd
[ "$(nproc)" -ge 2 ] || skip "testpmd needs 2 CPUs"

DIR=$(mktemp -d /tmp/kestrel-peer-dpdk-mq.XXXXXX)
TAG=$(basename "$DIR")
cleanup() { stop_server 2>/dev/null; rm -rf "$DIR" /var/run/dpdk/"$TAG"-*; }
trap cleanup EXIT

# queue_stat LOG Q FIELD : FIELD of testpmd's forward stats of RX queue Q
queue_stat() {
	awk -v q="Queue= $2 ->" -v f="$3" '
		index($0, q) { on = 1; next }
		on && /Forward Stats|Forward statistics/ { on = 0 }
		on { for (i = 1; i <= NF; i++) if ($i == f ":") { print $(i + 1); exit } }' "$1"
}

# worker_ticks : "NAME TICKS" for each device worker thread of the server
worker_ticks() {
	local t comm
	for t in /proc/"$SRV_PID"/task/*; do
		comm=$(cat "$t/comm" 2>/dev/null) || continue
		case $comm in vdpa-worker*) ;; *) continue ;; esac
		# utime + stime: fields 14 and 15 (comm has no spaces)
		echo "$comm $(awk '{ print $14 + $15 }' "$t/stat")"
	done
}

# run_mq NAME PAIRS WORKERS DEVICE-ARGS
run_mq() {
	local name=$1 q=$2 nw=$3 args=$4 log ticks n p rx tx c d dr
	start_server "$DIR" --device "net,mac=52:54:00:00:00:02,max_vqp=$q$args"
	QUEUES=$q testpmd "$DIR" "$TAG" "$name" 6 --forward-mode=flowgen \
		--rxq="$q" --txq="$q" --stats-period 1 </dev/null
	log=$DIR/$name.log
	sleep 0.3
	ticks=$(worker_ticks)
	stop_server
	[ "$SRV_RC" = 0 ] || fail "$name: server exited with $SRV_RC"
	grep -q "Accumulated forward statistics" "$log" || { tail -20 "$log"; fail "$name: testpmd printed no totals"; }
	n=$(echo "$ticks" | grep -c .)
	[ "$n" = "$nw" ] || fail "$name: server had $n worker threads, not $nw: $ticks"
	echo "$ticks" | while read -r w t; do
		[ "$t" -gt 0 ] || { echo "$w used no CPU time"; exit 1; }
	done || fail "$name: a worker did not run: $(echo $ticks)"
	for p in $(seq 0 $((q - 1))); do
		rx=$(queue_stat "$log" "$p" RX-packets); tx=$(queue_stat "$log" "$p" TX-packets)
		c=$(vq_stat $((2 * p + 1)) packets 1); d=$(vq_stat $((2 * p)) packets 1)
		dr=$(vq_stat $((2 * p)) drops 1)
		echo "$name pair $p: testpmd TX=$tx RX=$rx; device consumed=$c delivered=$d dropped=$dr"
		[ -n "$rx" ] && [ "$rx" -gt 1000 ] || fail "$name: queue $p received ${rx:-nothing}"
		[ -n "$tx" ] && [ "$tx" -gt 1000 ] || fail "$name: queue $p sent ${tx:-nothing}"
		[ "$c" -gt 1000 ] && [ "$d" -gt 1000 ] || fail "$name: pair $p: device consumed $c, delivered $d"
		[ $((d + dr)) -eq "$c" ] || fail "$name: pair $p consumed $c but delivered $d and dropped $dr"
		[ "$(vq_stat $((2 * p)) errors 1)" = 0 ] && [ "$(vq_stat $((2 * p + 1)) errors 1)" = 0 ] ||
			fail "$name: errors on pair $p"
	done
	# Pairs the front-end did not ask for stay idle.
	[ "$(vq_stat $((2 * q + 1)) packets 1)" = 0 ] || fail "$name: queue $((2 * q + 1)) moved frames"
	pass "$name: $q queue pairs, frames on every one, $nw worker thread(s): $(echo $ticks)"
}

run_mq mq2 2 2 ""
run_mq mq4 4 4 ""
run_mq mq2w1 2 1 ",workers=1"
exit 0
