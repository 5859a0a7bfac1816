#!/bin/bash
# Device I/O of a protected guest (docs/protected.md, "I/O through the
# shared window"): the same benchmark guests as bench/virtio-transport.sh
# (guest/x86/bench-virtio-net.c, bench-virtio-blk.c), the same images,
# run three ways in the same round:
#
#   unprot   kestrel run ...              buffers in ordinary RAM, posted
#                                         as they are (the anchor)
#   bounce   ... --cmdline bounce         buffers at 64 MiB (still ordinary
#                                         RAM), every one through a bounce
#                                         slot: the copies and slot keeping
#   prot     ... --protected              buffers in private RAM
#            --cmdline protected          (guest_memfd), through bounce slots
#
# Every hot loop runs in guest ring 3 (native on PVM hosts), copies
# included, so no ring transition is paid per request. The bouncing runs
# also time the parts (the last lines): one buffer copied into a slot and
# back with its slot keeping (100000 times, ring 3), and one ring 0 ->
# ring 3 -> ring 0 round trip (1000 empty run_in_user() calls), what the
# other way of driving the bounce layer pays (ring 3 copies, ring 0
# posts: guest/lib/bounce.h) twice per batch. Rates are host-timed (bench sink spans, BENCH_MS = 500 ms a phase);
# the ratio is prot / unprot (1.00: protection costs nothing). Figures
# only, never pass/fail; ROUNDS=N prints medians of N (the modes alternate
# within a round, each round starting with the next one, so load and
# the page cache hit them alike).
#
#   B=build [ROUNDS=3] bench/protected-io.sh
set -u
B=${B:-build}
KESTREL=${KESTREL:-$B/kestrel}
NET_GUEST=$B/guest/x86/bench-virtio-net.elf
BLK_GUEST=$B/guest/x86/bench-virtio-blk.elf
ROUNDS=${ROUNDS:-3}
MODES="unprot bounce prot"

# shellcheck source=bench/guest-figures.sh
. "$(dirname "$0")/guest-figures.sh"
bench_start pio "$KESTREL" "$NET_GUEST" "$BLK_GUEST"
# file-blk's file in the page cache before any mode runs.
dd if=/dev/zero of="$disk" bs=1M count=64 conv=notrunc status=none

# mode_args MODE: kestrel arguments of that mode.
mode_args() {
	case $1 in
	unprot) ;;
	bounce) echo --cmdline bounce ;;
	prot) echo --protected --cmdline protected ;;
	esac
}

# collect MODE RUN: figures of kestrel run RUN (net, blk-sim or file-blk).
collect() {
	local mode=$1 run=$2 p ns line key n
	while read -r p ns _; do
		if line=$(grep "^BENCH-NET phase=$p " "$tmp/$run.out"); then
			key=net-$(kv event_idx "$line")
			fig "$key" "$mode" "$(awk -v n="$(kv frames "$line")" -v t="$ns" 'BEGIN { printf "%.3f", n / t * 1e3 }')"	# Mpps
		elif line=$(grep "^BENCH-BLK phase=$p " "$tmp/$run.out"); then
			key=$run-qd$(kv qd "$line")-$(kv op "$line")-$(kv event_idx "$line")
			fig "$key" "$mode" "$(awk -v n="$(kv ios "$line")" -v t="$ns" 'BEGIN { printf "%.1f", n / t * 1e6 }')"	# kIOPS
		elif line=$(grep "^BENCH-R3 phase=$p " "$tmp/$run.out"); then
			n=$(kv roundtrips "$line")
			fig roundtrip "$mode" "$(awk -v n="$n" -v t="$ns" 'BEGIN { printf "%.2f", t / n / 1e3 }')"	# us
		elif line=$(grep "^BENCH-COPY phase=$p " "$tmp/$run.out"); then
			n=$(kv copies "$line")
			fig "copy-$(kv len "$line")" "$mode" "$(awk -v n="$n" -v t="$ns" 'BEGIN { printf "%.0f", t / n }')"	# ns
		fi
	done < <(host_phases "$tmp/$run.err")
}

# The modes in turn, each round starting one further (no mode always
# first after the previous round's load or last in a warm page cache).
one_round() {
	local mode modes i
	read -r -a modes <<<"$MODES"
	for ((i = 0; i < ${#modes[@]}; i++)); do
		mode=${modes[(i + round - 1) % ${#modes[@]}]}
		# shellcheck disable=SC2046 # mode_args is a word list
		run_guest net "$NET_GUEST" --net sim $(mode_args "$mode")
		collect "$mode" net
		# shellcheck disable=SC2046
		run_guest blk-sim "$BLK_GUEST" --device vdpa,type=blk,capacity=64M $(mode_args "$mode")
		collect "$mode" blk-sim
		# shellcheck disable=SC2046
		run_guest file-blk "$BLK_GUEST" --disk "$disk" $(mode_args "$mode")
		collect "$mode" file-blk
	done
}

run_rounds

fmt='   %-40s %9s %9s %9s | %6s %6s\n'
printf "$fmt" "workload (median of $ROUNDS)" "unprot" "bounce" "prot" "prot/" "bounce/"
printf "$fmt" "" "direct" "ordinary" "private" "unprot" "unprot"
line() {
	local key=$1 label=$2 u b p
	u=$(v "$key" unprot)
	b=$(v "$key" bounce)
	p=$(v "$key" prot)
	printf "$fmt" "$label" "$u" "$b" "$p" "$(ratio "$p" "$u")" "$(ratio "$b" "$u")"
}
table_rows
echo "   where a bounced request's time goes (guest-side, bounce | prot):"
echo "     one buffer into a slot and back, ring 3: 76 B $(v copy-76 bounce) | $(v copy-76 prot) ns," \
	"4 KiB $(v copy-4096 bounce) | $(v copy-4096 prot) ns"
echo "     ring 0 -> ring 3 -> ring 0 round trip (run_in_user): $(v roundtrip bounce) | $(v roundtrip prot) us"
echo "   every loop above runs in ring 3 with its copies: no transition per request;"
echo "   a driver that posts from supervisor code pays two round trips per batch"
