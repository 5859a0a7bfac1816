#!/bin/sh
# Start-up benchmark: kestrel and QEMU microvm boot the same tiny "null kernel"
# (bench/tools/mk-nullkernel.sh: a 6 KiB bzImage whose setup code prints a
# marker and resets), 1 vCPU, 256 MiB, interleaved run by run by our own timer
# (bench/tools/boottime.c). Prints boot-to-exit wall time, time to the marker
# and peak RSS (median, min..max) and kestrel/QEMU ratios; the targets are
# <= 0.2x QEMU's time and <= 1.5 MiB RSS. Figures only: never pass/fail on time.
#
# Variables: B (build), RUNS (20), WARMUP (2), KESTREL ($B/kestrel),
#   QEMU (qemu-system-x86_64; QEMU=none leaves it out), MEM (256), CPUS (1)
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-2}
MEM=${MEM:-256}
CPUS=${CPUS:-1}
KESTREL=${KESTREL:-$B/kestrel}
QEMU=${QEMU:-qemu-system-x86_64}
T=$B/bench-tools
mkdir -p "$T"

[ -x "$KESTREL" ] || { echo "boot-bench: no $KESTREL (make first)"; exit 1; }
[ -c /dev/kvm ] || { echo "boot-bench: no /dev/kvm: nothing to measure"; exit 0; }
${CC:-cc} -std=gnu11 -O2 -Wall -o "$T/boottime" bench/tools/boottime.c
bench/tools/mk-nullkernel.sh "$T/null.bzImage" >/dev/null
K=$T/null.bzImage

set -- "floor=/bin/echo GUEST-INIT-REACHED"
if [ "$QEMU" != none ] && command -v "$QEMU" >/dev/null; then
	# microvm has no i8042: the null kernel's debug-exit write ends it.
	# -cpu host dies here on PVM (KVM refuses MSR_IA32_ARCH_CAPABILITIES).
	q="$QEMU -M microvm -accel kvm -m $MEM -smp $CPUS -nodefaults -no-user-config -display none"
	q="$q -no-reboot -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel $K"
	cpu=
	for c in host host,-arch-capabilities max,-arch-capabilities; do
		if sh -c "timeout 20 $q -cpu $c 2>&1" 2>/dev/null | grep -q GUEST-INIT-REACHED; then
			cpu=$c
			break
		fi
	done
	if [ -n "$cpu" ]; then
		set -- "$@" "qemu-microvm=$q -cpu $cpu"
	else
		echo "boot-bench: QEMU microvm does not boot the null kernel here; kestrel alone"
	fi
fi
kargs="run --kernel $K --memory ${MEM}M --cpus $CPUS"
# The default (split irqchip, docs/irqchip.md) and the whole irqchip in the
# kernel with a PIT, so the teardown cost the split irqchip avoids shows.
set -- "kestrel=$KESTREL $kargs" "kestrel-kernel-irqchip=$KESTREL $kargs --irqchip kernel --pit" "$@"
# the reference (ratios' denominator) is the last command: QEMU when present
[ $# = 4 ] && set -- "$3" "$1" "$2" "$4"   # floor (spawn + reap cost), kestrel x2, qemu
echo "boot-bench: null-kernel bzImage, $CPUS vCPU, $MEM MiB, $RUNS interleaved runs (+$WARMUP warm-up); host $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$T/boottime" -n "$RUNS" -w "$WARMUP" -t 30 -l "$T/logs" "$@" 2>"$T/boottime.runs" || {
	echo "boot-bench: some runs failed (per-run lines in $T/boottime.runs):"
	grep FAILED "$T/boottime.runs" | head -n 5
}
echo "targets: kestrel/qemu-microvm boot-to-exit <= 0.2x, kestrel peak RSS <= 1.5 MiB"
