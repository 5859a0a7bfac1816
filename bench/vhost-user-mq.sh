#!/bin/bash
# Multiqueue scaling on 2 cores: packets/s through vhost-user with 1 and
# with 2 queue pairs, the same DPDK testpmd net_virtio_user front-end
# (one forwarding lcore on CPU 0, serving every queue) against kestrel's
# server, which may run on both CPUs (net simulator, one worker per pair,
# kick-driven: poll=off, since two spinning workers and the front-end's
# spinning lcore would share 2 CPUs) and, as the anchor, against DPDK's
# net_vhost backend (one forwarding lcore on CPU 1, serving every queue).
# Each figure is bench/vhost-user-pps.sh's (median of per-second samples
# after a warm-up); runs alternate 1 and 2 pairs, kestrel and DPDK, and the
# median over RUNS runs is printed with the 2-pair / 1-pair ratio of each
# backend. Never fails on a figure.
#
# What the anchor says: DPDK's backend has one lcore whatever the queue
# count, so its ratio is what a second pair costs or gains the front-end
# and the rings alone; kestrel's ratio above it is what its second worker
# adds.
#
# env: RUNS=3 SECS=6 MODES="fe2be loop" B=build KPOLL=off QUIET_WAIT=30
#      KCPUS=0,1 (where kestrel's server may run; 1: beside DPDK's backend's
#      placement, both workers on one CPU)
#      (each run first waits up to QUIET_WAIT s for a quiet machine)
set -u
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
RUNS=${RUNS:-3}; SECS=${SECS:-6}; MODES=${MODES:-"fe2be loop"}; KPOLL=${KPOLL:-off}
KCPUS=${KCPUS:-0,1}
command -v dpdk-testpmd >/dev/null || { echo "skip: dpdk-testpmd not installed (apt-get install dpdk-dev)"; exit 0; }
[ -x "$B/kestrel" ] || { echo "skip: $B/kestrel not built"; exit 0; }
[ "$(nproc)" -ge 2 ] || { echo "skip: needs 2 CPUs"; exit 0; }

median() { sort -n | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]; else print 0}'; }

# Busy CPUs over the last second (/proc/stat), e.g. 0.12
busy() {
	local a b
	a=$(head -1 /proc/stat); sleep 1; b=$(head -1 /proc/stat)
	echo "$a $b" | awk '{ t1 = 0; for (i = 2; i <= 11; i++) t1 += $i
		t2 = 0; for (i = 13; i <= 22; i++) t2 += $i
		i1 = $5 + $6; i2 = $16 + $17; d = t2 - t1
		printf "%.2f\n", d ? (d - (i2 - i1)) / d * '"$(nproc)"' : 0 }'
}

# Wait (QUIET_WAIT s at most) until the machine is quiet: other programs
# on these 2 CPUs move the figures more than a second pair does. Counts
# the runs that had to start anyway in NOISY.
NOISY=0
wait_quiet() {
	local b
	for _ in $(seq "${QUIET_WAIT:-30}"); do
		b=$(busy)
		awk -v b="$b" 'BEGIN { exit !(b < 0.3) }' && return 0
	done
	NOISY=$((NOISY + 1))
}

# one MODE QUEUES: "KESTREL DPDK" pps of one alternating run of each
one() {
	local out
	out=$(RUNS=1 SECS=$SECS MODES=$1 RINGS=split QUEUES=$2 KCPUS=$KCPUS KPOLL=$KPOLL B=$B \
		bench/vhost-user-pps.sh 2>&1)
	echo "$(echo "$out" | awk '$3 == "kestrel" { print $4 }') $(echo "$out" | awk '$3 == "dpdk" { print $4 }')"
}

echo "vhost-user multiqueue: DPDK $(dpkg-query -W -f='${Version}' dpdk 2>/dev/null) virtio_user" \
     "front-end, 64 B frames, 1 vs 2 queue pairs, $RUNS alternating runs x ${SECS}s, medians;" \
     "kestrel on CPUs $KCPUS, poll=$KPOLL, a worker per pair; anchor: DPDK net_vhost, one lcore"
for mode in $MODES; do
	k1=(); k2=(); d1=(); d2=()
	for _ in $(seq "$RUNS"); do
		wait_quiet; read -r k d <<<"$(one "$mode" 1)"; k1+=("${k:-0}"); d1+=("${d:-0}")
		wait_quiet; read -r k d <<<"$(one "$mode" 2)"; k2+=("${k:-0}"); d2+=("${d:-0}")
	done
	mk1=$(printf '%s\n' "${k1[@]}" | median); mk2=$(printf '%s\n' "${k2[@]}" | median)
	md1=$(printf '%s\n' "${d1[@]}" | median); md2=$(printf '%s\n' "${d2[@]}" | median)
	printf '%-6s kestrel 1 pair  %10d pps  [%s]\n' "$mode" "$mk1" "${k1[*]}"
	printf '%-6s kestrel 2 pairs %10d pps  [%s]\n' "$mode" "$mk2" "${k2[*]}"
	printf '%-6s dpdk    1 pair  %10d pps  [%s]\n' "$mode" "$md1" "${d1[*]}"
	printf '%-6s dpdk    2 pairs %10d pps  [%s]\n' "$mode" "$md2" "${d2[*]}"
	awk -v a="$mk1" -v b="$mk2" -v c="$md1" -v d="$md2" -v m="$mode" 'BEGIN {
		printf "%-6s scaling 2/1 pairs: kestrel %.2fx, DPDK (anchor) %.2fx\n", m,
			a ? b / a : 0, c ? d / c : 0 }'
done
[ "$NOISY" = 0 ] || echo "note: $NOISY run(s) started on a busy machine (over 0.3 CPU in use by others after ${QUIET_WAIT:-30} s): their figures are unreliable"
