#!/bin/sh
# Nested L2 boot benchmark: in one L1 (QEMU TCG with emulated SVM, see
# tests/e2e/README.md), kestrel boots an unmodified Debian kernel RUNS times
# per configuration, interleaved; the figure is kestrel's own boot-timer line:
# time from kestrel's process start to the guest's /init writing the boot-timer
# page. Prints median (min..max) per configuration, with the L1 figures.
# TCG-emulated: compare configurations and VMMs within one run, never the
# absolute numbers with a real KVM host. Figures only: never pass/fail on time.
#
# Variables: B (build), RUNS (5), CONFIGS ("gen-bzimage cloud-bzimage
#   gen-bzimage-1-mmio gen-bzimage-1-pci"; each
#   <gen|cloud>-<bzimage|pvh>[-<vcpus>[-<mmio|pci>]]: without a transport the
#   L2 has no device, with one it has net + blk on that transport, so the
#   last two compare virtio-pci with virtio-mmio, the anchor, in the same
#   L1), E2E_BENCH=0 skips it, and tests/e2e/check.sh's E2E_* variables.
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
RUNS=${RUNS:-5}
CONFIGS=${CONFIGS:-gen-bzimage cloud-bzimage gen-bzimage-1-mmio gen-bzimage-1-pci}
[ "${E2E_BENCH:-1}" = 0 ] && { echo "e2e-bench: E2E_BENCH=0: skipped"; exit 0; }
mkdir -p "$B/e2e"
CASES=$B/e2e/cases-bench
: > "$CASES"
r=1
while [ $r -le "$RUNS" ]; do
	for c in $CONFIGS; do
		set -- $(echo "$c" | tr - ' ')
		fl=$1 kind=$2 cpus=${3:-1} tr=${4:-}
		case $tr in
		pci) echo "$c-r$r $fl $kind $cpus net,blk run e2etransport=pci" >> "$CASES" ;;
		mmio) echo "$c-r$r $fl $kind $cpus net,blk run" >> "$CASES" ;;
		*) echo "$c-r$r $fl $kind $cpus none" >> "$CASES" ;;
		esac
	done
	r=$((r + 1))
done
set +e
E2E_CASES=$CASES E2E_MATRIX=bench E2E_NO_ACPI=1 B=$B tests/e2e/check.sh > "$B/e2e/bench.out" 2>&1
rc=$?
set -e
[ $rc = 77 ] && { grep SKIP "$B/e2e/bench.out"; exit 0; }
LOG=$(sed -n 's/.*log \(\S*\.log\)$/\1/p' "$B/e2e/bench.out" | head -n 1)
[ -f "$LOG" ] || { tail -n 20 "$B/e2e/bench.out"; exit 1; }
python3 - "$LOG" "$CONFIGS" <<'PY'
import re, statistics, sys
log, configs = sys.argv[1], sys.argv[2].split()
bt, wall, fails = {}, {}, {}
l1 = {}
for line in open(log):
    m = re.search(r"^\[\s*([\d.]+)\].*E2E-CASE (\S+)-r\d+ (PASS|FAIL) wall=([\d.]+) boot_timer_ms=(\S+)", line)
    if m:
        c = m.group(2)
        if m.group(5) != "none":
            bt.setdefault(c, []).append(float(m.group(5)))
        wall.setdefault(c, []).append(float(m.group(4)))
        if m.group(3) != "PASS":
            fails[c] = fails.get(c, 0) + 1
    m = re.search(r"^\[\s*([\d.]+)\].*E2E-L1-INIT l1_uptime=([\d.]+)", line)
    if m:
        l1["init"] = float(m.group(1))
    m = re.search(r"E2E-L1-KVM .*modules took ([\d.]+)", line)
    if m:
        l1["kvm"] = float(m.group(1))
    m = re.search(r"^\[\s*([\d.]+)\].*QEMU exited|^\[\s*([\d.]+)\].*E2E-L1-DONE", line)
    if m:
        l1["done"] = float(m.group(1) or m.group(2))
def mmm(v, f="%.0f"):
    return ("%s (%s..%s), n=%d" % (f % statistics.median(v), f % min(v), f % max(v), len(v))) if v else "-"
print("e2e-bench (nested: host -> QEMU TCG L1 -> kestrel -> L2), log %s" % log)
print("  L1: /init at %.1f s after QEMU start, kvm modules %.2f s, whole run %.1f s" % (
    l1.get("init", 0), l1.get("kvm", 0), l1.get("done", 0)))
print("  %-16s %-36s %-30s %s" % ("config", "kestrel start -> boot-timer, ms", "kestrel start -> exit, s", "failed"))
for c in configs:
    print("  %-16s %-36s %-30s %d" % (c, mmm(bt.get(c, [])), mmm(wall.get(c, []), "%.1f"), fails.get(c, 0)))
PY
