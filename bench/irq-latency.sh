#!/bin/bash
# Interrupt delivery: MSI-X (virtio-pci) against the virtio-mmio irqfd, from
# kestrel's own guest (guest/x86/bench-irq.c): 2000 virtio-rng round trips,
# each a notify (ioeventfd), the device's completion and the used-buffer
# interrupt the halted guest waits for, host-timed (bench sink START/STOP).
# The anchor is virtio-mmio in the same run (an edge GSI's irqfd; its
# handler reads and acknowledges InterruptStatus, two exits to kestrel);
# virtio-pci raises an MSI-X vector's irqfd and its handler touches no
# register. The runs are interleaved, ROUNDS of each (default 3), medians
# printed. Guest supervisor code is emulated on PVM hosts, which dominates
# the absolute figure; the ratio is what the transport changes. Figures
# only, never pass/fail; the load average is printed first.
#
#   B=build [ROUNDS=3] bench/irq-latency.sh
set -u
B=${B:-build}
KESTREL=${KESTREL:-$B/kestrel}
GUEST=$B/guest/x86/bench-irq.elf
ROUNDS=${ROUNDS:-3}

if [[ ! -e /dev/kvm ]] || ! (exec 3<>/dev/kvm) 2>/dev/null; then
	echo "   SKIP: no usable /dev/kvm"
	exit 0
fi
for f in "$KESTREL" "$GUEST"; do
	if [[ ! -e $f ]]; then
		echo "   SKIP: $f not built (run make)"
		exit 0
	fi
done
echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# one TRANSPORT: ns per round trip, or nothing if the run failed.
one() {
	local out ns rounds
	out=$(timeout 120 "$KESTREL" run --kernel "$GUEST" --rng --transport "$1" 2>&1 </dev/null)
	ns=$(sed -n 's/.*EXIT-COST-MARKER exits=1 ns_per_exit=\([0-9.]*\).*/\1/p' <<<"$out" | tail -n 1)
	rounds=$(sed -n 's/.*BENCH-IRQ transport=[a-z]* rounds=\([0-9]*\) .*/\1/p' <<<"$out")
	if [[ -z $ns || -z $rounds || $rounds == 0 ]] || grep -q '^FAIL' <<<"$out"; then
		echo "   note: $1 run failed: $(grep -E 'FAIL|error' <<<"$out" | head -n 2 | tr '\n' ' ')" >&2
		return
	fi
	awk -v ns="$ns" -v n="$rounds" 'BEGIN { printf "%.0f\n", ns / n }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }

mmio=() pci=()
for ((r = 0; r < ROUNDS; r++)); do
	m=$(one mmio) && [[ -n $m ]] && mmio+=("$m")
	p=$(one pci) && [[ -n $p ]] && pci+=("$p")
done
if (( ${#mmio[@]} == 0 || ${#pci[@]} == 0 )); then
	echo "   no figures (see the notes above)"
	exit 0
fi
mm=$(printf '%s\n' "${mmio[@]}" | median)
pm=$(printf '%s\n' "${pci[@]}" | median)
printf '   %-34s %10s ns/round trip   (runs: %s)\n' "virtio-mmio irqfd (anchor)" "$mm" "${mmio[*]}"
printf '   %-34s %10s ns/round trip   (runs: %s)\n' "virtio-pci MSI-X" "$pm" "${pci[*]}"
awk -v p="$pm" -v m="$mm" 'BEGIN { printf "   pci / mmio: %.2f\n", p / m }'
