#!/bin/bash
# Packets/s through vhost-user: the same DPDK virtio_user front-end (testpmd,
# --no-huge, split and packed rings (packed_vq=1), 64-byte frames, burst 32)
# against kestrel's server (net simulator with a busy-polling worker,
# poll=on) and against DPDK's own net_vhost backend (testpmd). Prints
# kestrel/DPDK ratios. Never fails on a figure.
#
#   fe2be  front-end txonly; backend only consumes: kestrel mode=sink vs
#          DPDK rxonly. Reported: front-end Tx-pps (= frames consumed)
#   loop   both ends io-forward injected frames: kestrel mode=loop (echoes
#          every frame) vs DPDK io. Reported: front-end Rx-pps (per direction)
#   be2fe  front-end rxonly; backend generates 64-byte frames: kestrel
#          mode=gen vs DPDK txonly. Reported: front-end Rx-pps
#
# How a figure is made, and why (runs of the same binary used to spread
# 0.3x-3.7x):
#  - Placement, the same for both backends: every thread of the front-end
#    (forwarding lcore, idle main lcore, EAL interrupt and control threads)
#    on FE_CPU, every thread of the backend on BE_CPU (kestrel: the whole
#    process under taskset; DPDK: taskset plus --lcores 0@BE_CPU,1@BE_CPU,
#    which puts its vhost-user thread there too). With -l 0,1 DPDK put each
#    process's control threads on the main lcore's CPU, i.e. beside the
#    other process's spinning lcore, and DPDK's backend maps the front-end's
#    1 GiB with MAP_POPULATE from that thread: seconds of page clearing on
#    the front-end's CPU in the DPDK runs only.
#  - Warm-up by traffic, not by the clock: the per-second samples count
#    from the first one that moved frames (a backend that is still mapping
#    memory, or a loop whose injected frames are not moving yet, gave
#    zeros that a fixed skip let into the median), WARM more are
#    discarded, then SECS are kept and their median is the run's figure.
#    The front-end's output is line-buffered, so the bench sees samples as
#    they come and stops the run when it has them. In loop mode the
#    frames are injected only once the front-end's ports are up, and the
#    per-second "show port stats" is sent then (testpmd's Rx-pps divides by
#    the time between two of them).
#  - Disturbance is measured, not guessed: over the kept seconds, the CPU
#    time that neither the front-end nor the backend used (other programs,
#    /proc/stat busy minus the two processes' own) plus the time the
#    hypervisor stole. A run above OTHER_MAX CPU is run again, up to
#    RETRIES times, and kept marked "*" if it never was quiet. Each run
#    also first waits (QUIET_MAX s at most) for a quiet machine.
#  - Runs alternate kestrel/DPDK in ABBA order, so a slow drift of the
#    host (where it places these two vCPUs) hits both alike; the ratio is
#    the median of the per-pair ratios, and each backend's spread over its
#    runs ((max - min) / median) is printed beside its figure.
#
# env: RUNS=5 SECS=5 WARM=2 MODES="fe2be loop be2fe" RINGS="split packed"
#      B=build KPOLL=on QUEUES=1 (queue pairs on both ends: kestrel max_vqp,
#      testpmd --rxq/--txq) FE_CPU=0 BE_CPU=1
#      KCPUS=$BE_CPU (the CPUs kestrel's server may run on; vhost-user-mq.sh: 0,1)
#      FE_EXTRA= (more net_virtio_user devargs for both backends, e.g. ",in_order=0")
#      QUIET_PCT=10 QUIET_MAX=60 OTHER_MAX=0.10 RETRIES=2 START_MAX=40
set -u
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
RUNS=${RUNS:-5}; SECS=${SECS:-5}; WARM=${WARM:-2}; MODES=${MODES:-"fe2be loop be2fe"}
RINGS=${RINGS:-"split packed"}; KPOLL=${KPOLL:-on}
QUEUES=${QUEUES:-1}; FE_CPU=${FE_CPU:-0}; BE_CPU=${BE_CPU:-1}; KCPUS=${KCPUS:-$BE_CPU}
FE_EXTRA=${FE_EXTRA:-}
MEM_MB=${MEM_MB:-256}
OTHER_MAX=${OTHER_MAX:-0.10}; RETRIES=${RETRIES:-2}; START_MAX=${START_MAX:-40}
FE_ARGS=	# per ring: ",packed_vq=1" for packed rings
KESTREL=$B/kestrel
command -v dpdk-testpmd >/dev/null || { echo "skip: dpdk-testpmd not installed (apt-get install dpdk-dev)"; exit 0; }
[ -x "$KESTREL" ] || { echo "skip: $KESTREL not built"; exit 0; }
[ "$(nproc)" -ge 2 ] || { echo "skip: needs 2 CPUs"; exit 0; }

DIR=$(mktemp -d /tmp/kestrel-bench-vu.XXXXXX); TAG=$(basename "$DIR")
BE_PID= FE_PID=
stop() {	# PID: SIGINT, then SIGKILL after 5 s
	[ -n "$1" ] || return 0
	kill -INT "$1" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null
}
cleanup() { exec 3>&- 2>/dev/null; stop "$FE_PID"; stop "$BE_PID"; rm -rf "$DIR" /var/run/dpdk/"$TAG"-*; }
trap cleanup EXIT
MEM=(--no-huge -m "$MEM_MB" --no-pci)
MBUFS=(--total-num-mbufs=16384)
TCK=$(getconf CLK_TCK)

median() { tr -d '*' | sort -n | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]; else print 0}'; }

QUIET_PCT=${QUIET_PCT:-10}; QUIET_MAX=${QUIET_MAX:-60}
# "busy steal total" jiffies of all CPUs so far (/proc/stat)
cpu_now() { awk '/^cpu /{print $2+$3+$4+$7+$8, $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
# quiet: wait until the machine is idle enough
quiet() {
	local end=$((SECONDS + QUIET_MAX)) b0 s0 t0 b1 s1 t1
	while :; do
		read -r b0 s0 t0 < <(cpu_now); sleep 1; read -r b1 s1 t1 < <(cpu_now)
		(( (b1 - b0 + s1 - s0) * 100 < QUIET_PCT * (t1 - t0 + 1) )) && return
		(( SECONDS >= end )) && return
	done
}
# jiffies PID...: user + system time of these processes (all their threads)
jiffies() { local s=0 p; for p; do
	p=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) && s=$((s + p)); done; echo $s; }

# samples LOG FIELD: every per-second FIELD figure so far, one a line
samples() { sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$1" | grep -o "$2: *[0-9]*" | awk '{print $2}'; }
# window LOG FIELD: the kept samples (after the first non-zero one and WARM more)
window() { samples "$1" "$2" | awk -v w="$WARM" -v n="$SECS" \
	'!go && $1 > 0 { go = NR } go && NR >= go + w && NR < go + w + n'; }

start_backend() {	# WHO MODE
	local sock=$DIR/vu.sock; rm -f "$sock"
	if [ "$1" = kestrel ]; then
		local km=loop; [ "$2" = fe2be ] && km=sink; [ "$2" = be2fe ] && km=gen
		taskset -c "$KCPUS" "$KESTREL" vhost-user --socket "$sock" \
			--device "net,mode=$km,poll=$KPOLL,max_vqp=$QUEUES" \
			>"$DIR/be.log" 2>&1 &
	else
		local fwd=io; [ "$2" = fe2be ] && fwd=rxonly; [ "$2" = be2fe ] && fwd=txonly
		taskset -c "$BE_CPU" dpdk-testpmd --lcores "0@$BE_CPU,1@$BE_CPU" "${MEM[@]}" \
			--file-prefix="$TAG-be" --vdev "net_vhost0,iface=$sock,queues=$QUEUES" -- \
			--nb-cores=1 --rxq="$QUEUES" --txq="$QUEUES" --burst=32 --forward-mode=$fwd "${MBUFS[@]}" \
			--txpkts=64 --stats-period 1 \
			</dev/null >"$DIR/be.log" 2>&1 &
	fi
	BE_PID=$!
	for _ in $(seq 200); do [ -S "$sock" ] && return 0; sleep 0.05; done
	echo "backend $1 did not start"; cat "$DIR/be.log"; return 1
}

# run_one WHO MODE -> "PPS OTHER": the run's figure and the CPU others used
run_one() {
	# A subshell: on its way out it stops its own processes, and leaves $DIR.
	trap 'exec 3>&- 2>/dev/null; stop "$FE_PID"; stop "$BE_PID"' EXIT
	local who=$1 mode=$2 field=Rx-pps fwd=rxonly log=$DIR/fe.log
	local fe=(taskset -c "$FE_CPU" stdbuf -oL dpdk-testpmd --lcores "0@$FE_CPU,1@$FE_CPU"
		"${MEM[@]}" --file-prefix="$TAG-fe"
		--vdev "net_virtio_user0,path=$DIR/vu.sock,queues=$QUEUES$FE_ARGS$FE_EXTRA" --
		--nb-cores=1 --rxq="$QUEUES" --txq="$QUEUES" --burst=32 --txpkts=64 "${MBUFS[@]}")
	local end=$((SECONDS + START_MAX + WARM + SECS)) started= n w b0 s0 t0 j0 b1 s1 t1 j1
	start_backend "$who" "$mode" >&2 || { echo "0 0"; return; }
	[ "$mode" = fe2be ] && { field=Tx-pps; fwd=txonly; }
	if [ "$mode" = loop ]; then
		rm -f "$DIR/in"; mkfifo "$DIR/in"
		"${fe[@]}" --forward-mode=io -i <"$DIR/in" >"$log" 2>&1 &
		FE_PID=$!
		exec 3>"$DIR/in"
	else
		"${fe[@]}" --forward-mode=$fwd --stats-period 1 </dev/null >"$log" 2>&1 &
		FE_PID=$!
	fi
	while (( SECONDS < end )) && kill -0 "$FE_PID" 2>/dev/null; do
		if [ "$mode" = loop ]; then
			if [ -z "$started" ]; then
				# Ports up ("Checking link statuses... Done"): inject.
				grep -q '^Done' "$log" && { echo "start tx_first 8" >&3; started=1; }
				sleep 0.2; continue
			fi
			echo "show port stats all" >&3
		fi
		n=$(window "$log" $field | wc -l)
		w=$(samples "$log" $field | awk '$1 > 0 {print NR; exit}')
		# The kept seconds begin: take the CPU figures.
		if [ -n "$w" ] && [ -z "${j0:-}" ] &&
		   (( $(samples "$log" $field | wc -l) >= w + WARM - 1 )); then
			read -r b0 s0 t0 < <(cpu_now); j0=$(jiffies "$FE_PID" "$BE_PID")
		fi
		(( n >= SECS )) && break
		sleep 1
	done
	read -r b1 s1 t1 < <(cpu_now); j1=$(jiffies "$FE_PID" "$BE_PID")
	[ "$mode" = loop ] && exec 3>&-
	[ -n "${KEEP:-}" ] && echo "$who $mode $(samples "$log" $field | awk '{printf "%d ", $1 / 1000}')" >>"$KEEP"
	stop "$FE_PID"; FE_PID=
	stop "$BE_PID"; BE_PID=
	rm -rf /var/run/dpdk/"$TAG"-*
	# CPUs' worth of time others used (and the hypervisor stole) meanwhile
	awk -v pps="$(window "$log" $field | median)" -v b="$((b1 - ${b0:-$b1} - j1 + ${j0:-$j1}))" \
		-v s="$((s1 - ${s0:-$s1}))" -v t="$((t1 - ${t0:-$t1}))" -v n="$(nproc)" \
		'BEGIN { o = t ? (b + s) / t * n : 9; printf "%d %.2f\n", pps, o < 0 ? 0 : o }'
}

# measure WHO MODE -> the figure of a quiet run, or of the last try with "*"
measure() {
	local v o
	for _ in $(seq 0 "$RETRIES"); do
		quiet; read -r v o <<<"$(run_one "$1" "$2")"
		awk -v o="$o" -v m="$OTHER_MAX" 'BEGIN { exit !(o <= m) }' && [ "$v" != 0 ] &&
			{ echo "$v"; return; }
		echo "  ($1 $2: ${v} pps with ${o} CPU used by others, run again)" >&2
	done
	echo "$v*"
}

# spread VALUES...: (max - min) / median, in %
spread() { printf '%s\n' "$@" | tr -d '*' | sort -n |
	awk '{v[NR]=$1} END { m = v[int((NR+1)/2)]; printf "%d%%", m ? (v[NR] - v[1]) * 100 / m : 0 }'; }

echo "vhost-user pps: DPDK $(dpkg-query -W -f='${Version}' dpdk 2>/dev/null) virtio_user front-end," \
     "64 B frames, $RUNS ABBA runs x ${SECS}s (after traffic + ${WARM}s), medians; kestrel poll=$KPOLL;" \
     "$QUEUES queue pair(s); front-end on CPU $FE_CPU, backend on CPU(s) $KCPUS (kestrel) / $BE_CPU (DPDK)" \
     "(* a run others disturbed over $OTHER_MAX CPU, $RETRIES retries)"
for ring in $RINGS; do
FE_ARGS=; [ "$ring" = packed ] && FE_ARGS=",packed_vq=1"
for mode in $MODES; do
	k=(); d=(); r=()
	for i in $(seq "$RUNS"); do
		if (( i % 2 )); then kv=$(measure kestrel "$mode"); dv=$(measure dpdk "$mode")
		else dv=$(measure dpdk "$mode"); kv=$(measure kestrel "$mode"); fi
		k+=("$kv"); d+=("$dv")
		r+=("$(awk -v k="${kv%\*}" -v d="${dv%\*}" 'BEGIN { printf "%.3f", d ? k / d : 0 }')")
	done
	dm=$(printf '%s\n' "${d[@]}" | median)
	km=$(printf '%s\n' "${k[@]}" | median)
	rm=$(printf '%s\n' "${r[@]}" | median)
	printf '%-6s %-6s kestrel  %10d pps  [%s] spread %s\n' "$ring" "$mode" "$km" "${k[*]}" "$(spread "${k[@]}")"
	printf '%-6s %-6s dpdk     %10d pps  [%s] spread %s\n' "$ring" "$mode" "$dm" "${d[*]}" "$(spread "${d[@]}")"
	printf '%-6s %-6s ratio    %.2fx (kestrel / DPDK, median of per-pair ratios [%s])\n' \
		"$ring" "$mode" "$rm" "${r[*]}"
done
done
