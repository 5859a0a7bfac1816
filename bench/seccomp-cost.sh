#!/bin/bash
# What the seccomp filters cost (docs/sandbox.md): kestrel with
# --seccomp kill against the same kestrel with --seccomp off, alternating run
# by run, in the same run of this script.
#   start-up  boot-to-exit of the null kernel (bench/tools/boottime, as
#             boot-bench.sh), 1 vCPU and no device, then with 2 vCPUs and
#             net, disk and rng (more threads, each installing a filter);
#             target: at most +0.5 ms
#   exit      ns per ring-3 MMIO exit (guest/x86/exitbench.elf, as
#             exit-cost.sh): a vCPU's KVM_RUN ioctl goes through its
#             filter on every exit; target: at most 1.02x of off
#   floor     exit_floor (raw KVM ioctls, no kestrel) bare and under the
#             smallest filter that checks ioctl's argument
#             (bench/tools/seccomp-floor.c): what running any such filter
#             once per exit costs on this host, whatever its list
# Figures only, never pass/fail.
#
#   B=build RUNS=20 ROUNDS=9 bench/seccomp-cost.sh
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
RUNS=${RUNS:-20}
ROUNDS=${ROUNDS:-9}
KESTREL=${KESTREL:-$B/kestrel}
GUEST=$B/guest/x86/exitbench.elf
FLOOR=$B/bench/exit_floor
T=$B/bench-tools
mkdir -p "$T"

if [[ ! -e /dev/kvm ]] || ! (exec 3<>/dev/kvm) 2>/dev/null; then
	echo "   SKIP: no usable /dev/kvm"
	exit 0
fi
for f in "$KESTREL" "$GUEST" "$FLOOR"; do
	[[ -e $f ]] || { echo "   SKIP: $f not built (run make)"; exit 0; }
done
${CC:-cc} -std=gnu11 -O2 -Wall -o "$T/boottime" bench/tools/boottime.c || exit 0
${CC:-cc} -std=gnu11 -O2 -Wall -o "$T/seccomp-floor" bench/tools/seccomp-floor.c || exit 0
bench/tools/mk-nullkernel.sh "$T/null.bzImage" >/dev/null || exit 0
truncate -s 1M "$T/seccomp-disk.img"

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# boottime's median (ms) of NAME in its output: column 3 boot-to-exit, 5 to-marker.
median_ms() { awk -v n="$1" -v c="$3" '$1 == n && $2 ~ /\// { print $c; exit }' "$2"; }

startup() { # startup LABEL ARGS...
	local label=$1 out=$T/seccomp-startup.out
	shift
	"$T/boottime" -n "$RUNS" -w 2 -t 30 \
		"kill=$KESTREL run --kernel $T/null.bzImage $* --seccomp kill" \
		"off=$KESTREL run --kernel $T/null.bzImage $* --seccomp off" \
		>"$out" 2>"$T/seccomp-startup.runs"
	sed 's/^/   /' "$out"
	local k o km om
	k=$(median_ms kill "$out" 3) o=$(median_ms off "$out" 3)
	km=$(median_ms kill "$out" 5) om=$(median_ms off "$out" 5)
	if [[ -n $k && -n $o && -n $km && -n $om ]]; then
		printf '   start-up, %s: boot-to-exit %+.2f ms, to the guest'"'"'s first output %+.2f ms (kill - off; target <= +0.5 ms)\n' \
			"$label" "$(awk -v a="$k" -v b="$o" 'BEGIN { print a - b }')" \
			"$(awk -v a="$km" -v b="$om" 'BEGIN { print a - b }')"
	fi
}

echo "seccomp-cost: $RUNS interleaved start-ups, $ROUNDS exit rounds; host $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
startup "1 vCPU, no device"
startup "2 vCPUs, net, disk, rng" --cpus 2 --net sim --disk "$T/seccomp-disk.img" --rng

k_all=() o_all=() r_all=()
exit_ns() { # exit_ns MODE: ns per exit of one exitbench run
	"$KESTREL" run --kernel "$GUEST" --seccomp "$1" 2>&1 >/dev/null </dev/null |
		sed -n 's/.*EXIT-COST-MARKER exits=[0-9]* ns_per_exit=\([0-9.]*\).*/\1/p'
}
for ((i = 1; i <= ROUNDS; i++)); do
	# Which goes first alternates, so neither always runs on a warmer machine.
	if ((i % 2)); then
		k=$(exit_ns kill) o=$(exit_ns off)
	else
		o=$(exit_ns off) k=$(exit_ns kill)
	fi
	if [[ -z $k || -z $o ]]; then
		echo "   round $i: no figure (kill '${k}', off '${o}')"
		continue
	fi
	printf '   round %d: kill %9.1f ns/exit   off %9.1f ns/exit\n' "$i" "$k" "$o"
	k_all+=("$k") o_all+=("$o")
	r_all+=("$(awk -v a="$k" -v b="$o" 'BEGIN { print a / b }')")
done
((${#k_all[@]})) || { echo "   no exit figures"; exit 0; }
km=$(printf '%s\n' "${k_all[@]}" | median)
om=$(printf '%s\n' "${o_all[@]}" | median)
rr=$(printf '%s\n' "${r_all[@]}" | median)
printf '   exit cost (median of %d): kill %.1f ns, off %.1f ns; median of per-round ratios %.3f (target <= 1.02)\n' \
	"${#k_all[@]}" "$km" "$om" "$rr"

# The host's own price of a filter run per exit (see the header).
f_all=() g_all=() q_all=()
floor_ns() { "$@" -n 20000 | sed -n 's/.*ns_per_exit=\([0-9.]*\).*/\1/p'; }
for ((i = 1; i <= ROUNDS; i++)); do
	f=$(floor_ns "$FLOOR") g=$(floor_ns "$T/seccomp-floor" "$FLOOR")
	[[ -n $f && -n $g ]] || continue
	f_all+=("$f") g_all+=("$g")
	q_all+=("$(awk -v a="$g" -v b="$f" 'BEGIN { print a / b }')")
done
if ((${#f_all[@]})); then
	printf '   floor (median of %d): bare %.1f ns, one-check filter %.1f ns; median of ratios %.3f\n' \
		"${#f_all[@]}" "$(printf '%s\n' "${f_all[@]}" | median)" \
		"$(printf '%s\n' "${g_all[@]}" | median)" "$(printf '%s\n' "${q_all[@]}" | median)"
fi
