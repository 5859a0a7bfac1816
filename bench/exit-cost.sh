#!/bin/bash
# Exit cost: ns per guest -> VMM -> guest round trip for an MMIO write from
# ring 3, kestrel (guest/x86/exitbench.elf against the bench sink in the
# boot-timer page) against the floor (bench/exit_floor: raw KVM ioctls and a
# counter), run alternately ROUNDS times. Prints each run, the medians and
# the ratio kestrel/floor (target <= 1.05). Figures only, never pass/fail.
#
#   B=build ROUNDS=7 bench/exit-cost.sh
set -u
B=${B:-build}
ROUNDS=${ROUNDS:-7}
KESTREL=${KESTREL:-$B/kestrel}
GUEST=$B/guest/x86/exitbench.elf
FLOOR=$B/bench/exit_floor
N=20000		# must match EXITBENCH_N in guest/x86/exitbench.c

if [[ ! -e /dev/kvm ]] || ! (exec 3<>/dev/kvm) 2>/dev/null; then
	echo "   SKIP: no usable /dev/kvm"
	exit 0
fi
for f in "$KESTREL" "$GUEST" "$FLOOR"; do
	if [[ ! -e $f ]]; then
		echo "   SKIP: $f not built (run make)"
		exit 0
	fi
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

k_all=() f_all=() r_all=()
for ((i = 1; i <= ROUNDS; i++)); do
	k=$("$KESTREL" run --kernel "$GUEST" 2>&1 >/dev/null </dev/null |
		sed -n 's/.*EXIT-COST-MARKER exits=[0-9]* ns_per_exit=\([0-9.]*\).*/\1/p')
	f=$("$FLOOR" -n "$N" | sed -n 's/.*ns_per_exit=\([0-9.]*\).*/\1/p')
	if [[ -z $k || -z $f ]]; then
		echo "   round $i: no figure (kestrel '${k}', floor '${f}')"
		continue
	fi
	printf '   round %d: kestrel %9.1f ns/exit   floor %9.1f ns/exit\n' "$i" "$k" "$f"
	k_all+=("$k") f_all+=("$f")
	r_all+=("$(awk -v a="$k" -v b="$f" 'BEGIN { print a / b }')")
done
if ((${#k_all[@]} == 0)); then
	echo "   no figures"
	exit 0
fi
rr=$(printf '%s\n' "${r_all[@]}" | median)
km=$(printf '%s\n' "${k_all[@]}" | median)
fm=$(printf '%s\n' "${f_all[@]}" | median)
printf '   exit cost (%d MMIO writes from ring 3, median of %d): kestrel %.1f ns, floor %.1f ns, ratio %.3f (target <= 1.05)\n' \
	"$N" "${#k_all[@]}" "$km" "$fm" "$(awk -v a="$km" -v b="$fm" 'BEGIN { print a / b }')"
# Rounds are paired (run back to back), so the median of the per-round
# ratios is less sensitive to load from elsewhere on the machine.
printf '   median of per-round ratios: %.3f\n' "$rr"
