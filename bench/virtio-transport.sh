#!/bin/bash
# The transport's own cost: the same virtio workloads through kestrel
# (a guest whose hot loop runs in ring 3, virtio-mmio with ioeventfd kicks
# and irqfd interrupts) and through the vDPA library's in-process driver
# (tests/unit/vdpa/driver.c, eventfd kicks, callbacks), side by side:
#
#   net   64-byte frames looped back by the net simulator, TX batches of
#         32 on 256-entry rings, EVENT_IDX on and off
#         (guest/x86/bench-virtio-net.c | bench/vdpa_net_bench.c)
#   blk   4 KiB reads and writes at QD1 and QD32 on the RAM-disk simulator
#         and on file-blk over a temporary file (page cache): as it reads by
#         default (io=map: cached blocks copied from its mapping of the
#         image) and with every read through io_uring (io=uring, split
#         rings only) (guest/x86/bench-virtio-blk.c | bench/vdpa_blk_bench.c)
#
# Each phase runs BENCH_MS (500 ms, built into the guests) in kestrel and
# SECS in-process. kestrel's figures are host-timed (bench sink START/STOP);
# kicks are the guest's QueueNotify writes, interrupts what the device
# raised (the "VQ-STATS" counters kestrel logs at each reset). The ratio is
# kestrel / in-process (1.00: the transport costs nothing). Figures only,
# never pass/fail. The same kestrel workloads also run on packed virtqueues
# (packed=on, --cmdline packed), against the split ones of the same
# round: the second table. The third sets file-blk against the simulator
# (its anchor) and bare io_uring (its old floor), each ratio taken within
# a round, then the median. One round takes ~30 s; ROUNDS=N prints
# medians of N.
# On a busy machine (another build, fuzzers) single figures swing by 2x
# and more: the load average is printed first for that reason.
#
#   B=build [ROUNDS=1] [SECS=0.5] bench/virtio-transport.sh
set -u
B=${B:-build}
KESTREL=${KESTREL:-$B/kestrel}
NET_GUEST=$B/guest/x86/bench-virtio-net.elf
BLK_GUEST=$B/guest/x86/bench-virtio-blk.elf
NET_BENCH=$B/bench/vdpa_net_bench
BLK_BENCH=$B/bench/vdpa_blk_bench
SECS=${SECS:-0.5}
ROUNDS=${ROUNDS:-1}

# shellcheck source=bench/guest-figures.sh
. "$(dirname "$0")/guest-figures.sh"
bench_start vtbench "$KESTREL" "$NET_GUEST" "$BLK_GUEST" "$NET_BENCH" "$BLK_BENCH"

# kestrel_figs SUFFIX: the figures of the kestrel runs net$SUFFIX,
# blk-sim$SUFFIX and file-blk$SUFFIX, under keys ending in SUFFIX.
kestrel_figs() {
	local sfx=$1 p ns irqs line frames key ios dev

	while read -r p ns irqs; do
		line=$(grep "^BENCH-NET phase=$p " "$tmp/net$sfx.out")
		[[ -n $line && -n $ns ]] || continue
		frames=$(kv frames "$line")
		key=net-$(kv event_idx "$line")$sfx
		fig "$key" k_rate "$(awk -v n="$frames" -v t="$ns" 'BEGIN { printf "%.3f", n / t * 1e3 }')"	# Mpps
		fig "$key" k_kick "$(awk -v a="$(kv tx_kicks "$line")" -v b="$(kv rx_kicks "$line")" -v n="$frames" \
			'BEGIN { printf "%.4f", (a + b) / (n ? n : 1) }')"
		fig "$key" k_irq "$(awk -v a="$irqs" -v n="$frames" 'BEGIN { printf "%.4f", a / (n ? n : 1) }')"
	done < <(host_phases "$tmp/net$sfx.err")
	for dev in blk-sim file-blk file-uring; do
		[[ -e $tmp/$dev$sfx.err ]] || continue
		while read -r p ns irqs; do
			line=$(grep "^BENCH-BLK phase=$p " "$tmp/$dev$sfx.out")
			[[ -n $line && -n $ns ]] || continue
			ios=$(kv ios "$line")
			key=$dev-qd$(kv qd "$line")-$(kv op "$line")-$(kv event_idx "$line")$sfx
			fig "$key" k_rate "$(awk -v n="$ios" -v t="$ns" 'BEGIN { printf "%.1f", n / t * 1e6 }')"	# kIOPS
			fig "$key" k_kick "$(awk -v a="$(kv kicks "$line")" -v n="$ios" 'BEGIN { printf "%.4f", a / (n ? n : 1) }')"
			fig "$key" k_irq "$(awk -v a="$irqs" -v n="$ios" 'BEGIN { printf "%.4f", a / (n ? n : 1) }')"
		done < <(host_phases "$tmp/$dev$sfx.err")
	done
}


one_round() {
	local line key dev ev t r q w side

	# ---- kestrel ----------------------------------------------------------
	run_guest net "$NET_GUEST" --net sim
	run_guest blk-sim "$BLK_GUEST" --device vdpa,type=blk,capacity=64M
	run_guest file-blk "$BLK_GUEST" --disk "$disk"
	run_guest file-uring "$BLK_GUEST" --device "vdpa,type=file-blk,path=$disk,io=uring"
	# The same on packed rings; "P" ends their keys.
	run_guest netP "$NET_GUEST" --net sim,packed=on --cmdline packed
	run_guest blk-simP "$BLK_GUEST" --device vdpa,type=blk,capacity=64M,packed=on --cmdline packed
	run_guest file-blkP "$BLK_GUEST" --disk "$disk,packed=on" --cmdline packed
	kestrel_figs ""
	kestrel_figs P

	# ---- in-process -------------------------------------------------------
	while read -r line; do
		# "32-frame batches, event_idx on  kick eventfd  X Mpps (..., T kicks/kframe,
		#  rx R kicks/kframe, I irqs/kframe)"
		[[ $line == *"32-frame batches"*"kick eventfd"* ]] || continue
		ev=$(sed -n 's/.*event_idx \([a-z]*\) .*/\1/p' <<<"$line")
		key=net-$ev
		fig "$key" i_rate "$(awk '{ for (i = 1; i <= NF; i++) if ($i == "Mpps") print $(i - 1) }' <<<"$line")"
		read -r t r q < <(sed -n 's/.*, \([0-9.]*\) kicks\/kframe, rx \([0-9.]*\) kicks\/kframe, \([0-9.]*\) irqs\/kframe.*/\1 \2 \3/p' <<<"$line")
		fig "$key" i_kick "$(awk -v a="$t" -v b="$r" 'BEGIN { printf "%.4f", (a + b) / 1000 }')"
		fig "$key" i_irq "$(awk -v a="$q" 'BEGIN { printf "%.4f", a / 1000 }')"
	done < <("$NET_BENCH" "$SECS" 32 2>&1)
	while read -r line; do
		[[ $line == vdpa_blk_bench:* ]] || continue
		dev=$(awk '{ print $2 }' <<<"$line")
		[[ $dev == ratio ]] && continue	# taken below, per round, for both sides
		if [[ $dev == io_uring ]]; then	# file-blk's floor: bare io_uring reads
			fig io_uring-floor i_rate "$(awk -v n="$(kv IOPS "$line")" 'BEGIN { printf "%.1f", n / 1000 }')"
			continue
		fi
		key=$dev-qd$(kv qd "$line")-$(kv op "$line")-$(kv event_idx "$line")
		fig "$key" i_rate "$(awk -v n="$(kv IOPS "$line")" 'BEGIN { printf "%.1f", n / 1000 }')"
		fig "$key" i_kick "$(sed -n 's/.* \([0-9.]*\) kicks\/io.*/\1/p' <<<"$line")"
		fig "$key" i_irq "$(sed -n 's/.* \([0-9.]*\) irqs\/io.*/\1/p' <<<"$line")"
	done < <("$BLK_BENCH" "$SECS" "$disk" 2>&1)

	# ---- file-blk against its anchors, this round --------------------------
	for w in qd1-read-on qd1-write-on qd32-read-on qd32-write-on qd32-read-off; do
		for side in k i; do
			fig "$w" ${side}_map_sim "$(ratio "$(last "file-blk-$w" ${side}_rate)" "$(last "blk-sim-$w" ${side}_rate)")"
			fig "$w" ${side}_uring_sim "$(ratio "$(last "file-uring-$w" ${side}_rate)" "$(last "blk-sim-$w" ${side}_rate)")"
		done
	done
	fig qd32-read-on i_map_floor "$(ratio "$(last file-blk-qd32-read-on i_rate)" "$(last io_uring-floor i_rate)")"
}

# last KEY FIELD: that figure of the latest round, or "-".
last() { awk -v k="$1" -v f="$2" '$1 == k && $2 == f { x = $3 } END { print x == "" ? "-" : x }' "$tmp/figs"; }

run_rounds
echo "   (both figures should be ~0: the net loop needs its vCPU and the device worker on two idle CPUs)"

# ---- table -------------------------------------------------------------------
fmt='   %-38s %10s %10s %6s | %9s %9s | %9s %9s\n'
printf "$fmt" "workload (median of $ROUNDS)" "kestrel" "in-proc" "ratio" "k kick/op" "k irq/op" "i kick/op" "i irq/op"
printf "$fmt" "" "guest+mmio" "driver" "k/i" "" "" "" ""
line() {
	local key=$1 label=$2 kr ir
	kr=$(v "$key" k_rate)
	ir=$(v "$key" i_rate)
	printf "$fmt" "$label" "$kr" "$ir" "$(ratio "$kr" "$ir")" \
		"$(v "$key" k_kick)" "$(v "$key" k_irq)" "$(v "$key" i_kick)" "$(v "$key" i_irq)"
}
table_rows
echo "   k = through kestrel, i = in-process; kick/op: notifications the driver wrote"
echo "   per frame or request; irq/op: interrupts the device raised per frame or request"
echo "   file-blk's floor, the same 4K reads of its file by bare io_uring (QD32, 16 per"
echo "   io_uring_enter, one thread, no device): $(v io_uring-floor i_rate) kIOPS"

# ---- packed against split, both through kestrel, same round ------------------
fmt2='   %-38s %10s %10s %6s | %9s %9s\n'
echo
printf "$fmt2" "packed rings (median of $ROUNDS)" "packed" "split" "p/s" "p kick/op" "p irq/op"
pline() {
	local key=$1 label=$2 pr sr
	pr=$(v "${key}P" k_rate)
	sr=$(v "$key" k_rate)
	printf "$fmt2" "$label" "$pr" "$sr" "$(ratio "$pr" "$sr")" "$(v "${key}P" k_kick)" "$(v "${key}P" k_irq)"
}
table_rows pline
echo "   p/s = packed / split through kestrel in the same run (the guest driver and vringh both change)"

# ---- file-blk against the simulator and bare io_uring, same round ----------
fmt3='   %-34s %9s %9s %9s | %9s %9s %9s\n'
echo
printf "$fmt3" "file-blk (median of $ROUNDS)" "k map" "k map/sim" "k uring/s" "i map" "i map/sim" "i uring/s"
for w in qd1-read-on qd1-write-on qd32-read-on qd32-write-on qd32-read-off; do
	IFS=- read -r qd op ev <<<"$w"
	printf "$fmt3" "$(printf '4K %-5s %-4s evidx %-3s (kIOPS)' "$op" "${qd^^}" "$ev")" \
		"$(v "file-blk-$w" k_rate)" "$(v "$w" k_map_sim)" "$(v "$w" k_uring_sim)" \
		"$(v "file-blk-$w" i_rate)" "$(v "$w" i_map_sim)" "$(v "$w" i_uring_sim)"
done
echo "   map: file-blk as it reads by default (io=map); uring: every read through io_uring"
echo "   (io=uring); /sim: against the RAM-disk simulator of the same round (the median"
echo "   of the rounds' ratios); k through kestrel, i in-process. In-process QD32 reads"
echo "   against bare io_uring's floor: file-blk $(v qd32-read-on i_map_floor)x"
