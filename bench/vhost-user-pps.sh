#!/bin/bash
# Packets/s through vhost-user: the same DPDK virtio_user front-end (testpmd,
# --no-huge, split and packed rings (packed_vq=1), 64-byte frames, burst 32, one forwarding core on
# CPU 0) against kestrel's server (net simulator with a busy-polling worker,
# poll=on, the whole process pinned to CPU 1) and against DPDK's own
# net_vhost backend (testpmd, forwarding lcore on CPU 1, idle main lcore on
# CPU 0). Runs alternate A/B; each figure is the median of per-second
# samples after a warm-up, and the median over RUNS runs. Prints
# kestrel/DPDK ratios. Never fails on a figure.
#
#   fe2be  front-end txonly; backend only consumes: kestrel mode=sink vs
#          DPDK rxonly. Reported: front-end Tx-pps (= frames consumed)
#   loop   both ends io-forward injected frames: kestrel mode=loop (echoes
#          every frame) vs DPDK io. Reported: front-end Rx-pps (per direction)
#   be2fe  front-end rxonly; backend generates 64-byte frames: kestrel
#          mode=gen vs DPDK txonly. Reported: front-end Rx-pps
#
# Each ring layout is measured against both backends in the same run.
# Both ends busy-poll the machine's two CPUs, so other load (a build) turns
# a figure into noise: each run first waits, at most QUIET_MAX seconds,
# until the non-idle CPU time over a second is below QUIET_PCT % (runs
# that had to start on a busy machine are marked "*"), and a run that
# moved no frame at all (a loop that never started) is run once more.
#
# env: RUNS=3 SECS=6 MODES="fe2be loop be2fe" RINGS="split packed" B=build KPOLL=on
#      QUEUES=1 (queue pairs on both ends: kestrel max_vqp, testpmd --rxq/--txq)
#      KCPUS=1 (the CPUs kestrel's server may run on; bench/vhost-user-mq.sh: 0,1)
#      QUIET_PCT=10 QUIET_MAX=60
set -u
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
RUNS=${RUNS:-3}; SECS=${SECS:-6}; MODES=${MODES:-"fe2be loop be2fe"}; KPOLL=${KPOLL:-on}
RINGS=${RINGS:-"split packed"}
QUEUES=${QUEUES:-1}; KCPUS=${KCPUS:-1}
FE_ARGS=	# more net_virtio_user devargs: ",packed_vq=1" for packed rings
KESTREL=$B/kestrel
command -v dpdk-testpmd >/dev/null || { echo "skip: dpdk-testpmd not installed (apt-get install dpdk-dev)"; exit 0; }
[ -x "$KESTREL" ] || { echo "skip: $KESTREL not built"; exit 0; }
[ "$(nproc)" -ge 2 ] || { echo "skip: needs 2 CPUs"; exit 0; }

DIR=$(mktemp -d /tmp/kestrel-bench-vu.XXXXXX); TAG=$(basename "$DIR")
BE_PID=
cleanup() { [ -n "$BE_PID" ] && kill -INT "$BE_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR" /var/run/dpdk/"$TAG"-*; }
trap cleanup EXIT
MEM=(--no-huge -m 1024 --no-pci)

median() { tr -d '*' | sort -n | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]; else print 0}'; }

QUIET_PCT=${QUIET_PCT:-10}; QUIET_MAX=${QUIET_MAX:-60}
# quiet: wait until the machine is idle enough; prints "*" if it never was
quiet() {
	local end=$((SECONDS + QUIET_MAX)) b0 t0 b1 t1
	while :; do
		read -r b0 t0 < <(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
		sleep 1
		read -r b1 t1 < <(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
		(( (b1 - b0) * 100 < QUIET_PCT * (t1 - t0 + 1) )) && return
		(( SECONDS >= end )) && { echo "*"; return; }
	done
}

# pps LOG FIELD: median of the per-second FIELD samples, skipping 2 warm-up
pps() { sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$1" | grep -o "$2: *[0-9]*" | awk '{print $2}' |
	awk 'NR > 2' | median; }

start_backend() {	# WHO MODE
	local sock=$DIR/vu.sock; rm -f "$sock"
	if [ "$1" = kestrel ]; then
		local km=loop; [ "$2" = fe2be ] && km=sink; [ "$2" = be2fe ] && km=gen
		taskset -c "$KCPUS" "$KESTREL" vhost-user --socket "$sock" \
			--device "net,mode=$km,poll=$KPOLL,max_vqp=$QUEUES" \
			>"$DIR/be.log" 2>&1 &
	else
		local fwd=io; [ "$2" = fe2be ] && fwd=rxonly; [ "$2" = be2fe ] && fwd=txonly
		timeout -s INT $((SECS + 30)) dpdk-testpmd -l 0,1 --main-lcore 0 "${MEM[@]}" \
			--file-prefix="$TAG-be" --vdev "net_vhost0,iface=$sock,queues=$QUEUES" -- \
			--nb-cores=1 --rxq="$QUEUES" --txq="$QUEUES" --burst=32 --forward-mode=$fwd \
			--txpkts=64 --stats-period 1 \
			</dev/null >"$DIR/be.log" 2>&1 &
	fi
	BE_PID=$!
	for _ in $(seq 100); do [ -S "$sock" ] && return 0; sleep 0.05; done
	echo "backend $1 did not start"; cat "$DIR/be.log"; return 1
}

run_one() {	# WHO MODE -> prints pps
	local who=$1 mode=$2 fe=(-l 0,1 --main-lcore 1 "${MEM[@]}" --file-prefix="$TAG-fe"
		--vdev "net_virtio_user0,path=$DIR/vu.sock,queues=$QUEUES$FE_ARGS" -- --nb-cores=1
		--rxq="$QUEUES" --txq="$QUEUES" --burst=32 --txpkts=64)
	start_backend "$who" "$mode" >&2 || { echo 0; return; }
	case $mode in
	fe2be)	timeout -s INT $((SECS + 7)) dpdk-testpmd "${fe[@]}" --forward-mode=txonly \
			--stats-period 1 </dev/null >"$DIR/fe.log" 2>&1
		pps "$DIR/fe.log" Tx-pps ;;
	be2fe)	timeout -s INT $((SECS + 7)) dpdk-testpmd "${fe[@]}" --forward-mode=rxonly \
			--stats-period 1 </dev/null >"$DIR/fe.log" 2>&1
		pps "$DIR/fe.log" Rx-pps ;;
	loop)	rm -f "$DIR/in"; mkfifo "$DIR/in"
		( sleep 3; echo "start tx_first 8"; for _ in $(seq $((SECS + 1))); do sleep 1
		  echo "show port stats all"; done; echo stop; sleep 0.3; echo quit ) >"$DIR/in" &
		timeout -s INT $((SECS + 8)) dpdk-testpmd "${fe[@]}" --forward-mode=io -i \
			<"$DIR/in" >"$DIR/fe.log" 2>&1
		pps "$DIR/fe.log" Rx-pps ;;
	esac
	kill -INT "$BE_PID" 2>/dev/null; wait "$BE_PID" 2>/dev/null; BE_PID=
	rm -rf /var/run/dpdk/"$TAG"-*
}

echo "vhost-user pps: DPDK $(dpkg-query -W -f='${Version}' dpdk 2>/dev/null) virtio_user front-end," \
     "64 B frames, $RUNS alternating runs x ${SECS}s, medians; kestrel poll=$KPOLL;" \
     "$QUEUES queue pair(s); kestrel on CPU(s) $KCPUS (* run started on a busy machine)"
for ring in $RINGS; do
FE_ARGS=; [ "$ring" = packed ] && FE_ARGS=",packed_vq=1"
for mode in $MODES; do
	k=(); d=()
	for r in $(seq "$RUNS"); do
		for who in kestrel dpdk; do
			busy=$(quiet); v=$(run_one "$who" "$mode")
			[ "$v" = 0 ] && { busy=$(quiet); v=$(run_one "$who" "$mode"); }
			if [ "$who" = kestrel ]; then k+=("$v$busy"); else d+=("$v$busy"); fi
		done
	done
	dm=$(printf '%s\n' "${d[@]}" | median)
	km=$(printf '%s\n' "${k[@]}" | median)
	printf '%-6s %-6s kestrel  %10d pps  [%s]\n' "$ring" "$mode" "$km" "${k[*]}"
	printf '%-6s %-6s dpdk     %10d pps  [%s]\n' "$ring" "$mode" "$dm" "${d[*]}"
	awk -v k="$km" -v d="$dm" -v m="$mode" -v r="$ring" \
		'BEGIN { printf "%-6s %-6s ratio    %.2fx (kestrel / DPDK)\n", r, m, d ? k / d : 0 }'
done
done
