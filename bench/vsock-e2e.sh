#!/bin/sh
# virtio-vsock guest <-> host in the nested harness (tests/e2e/README.md):
# Linux L2's own vmw_vsock_virtio_transport against a program in L1 on
# kestrel's Unix sockets (tests/e2e/l2-vsock.c): MIB MiB host -> guest, the
# same back, and TRIPS one-byte round trips; the anchor, measured in the
# same L1 right after, is the same exchange over a socketpair between two
# L1 processes. TCG-emulated: compare the two lines, never the absolute
# figures with a real KVM host. Figures only, never pass/fail.
#
# Variables: B (build), MIB (64), TRIPS (2000), E2E_BENCH=0 skips it, and
# tests/e2e/check.sh's E2E_* variables. Run it alone under
# `flock /tmp/kestrel-nested.lock` when other nested runs may be going.
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
MIB=${MIB:-64}
TRIPS=${TRIPS:-2000}
[ "${E2E_BENCH:-1}" = 0 ] && { echo "vsock-e2e: E2E_BENCH=0: skipped"; exit 0; }
mkdir -p "$B/e2e"
CASES=$B/e2e/cases-vsock-bench
echo "vsock-bench gen bzimage 1 vsock run e2evsockmib=$MIB,e2evsockbench=$TRIPS" > "$CASES"
set +e
E2E_CASES=$CASES E2E_MATRIX=vsock-bench E2E_NO_ACPI=1 B=$B tests/e2e/check.sh > "$B/e2e/vsock-bench.out" 2>&1
rc=$?
set -e
[ $rc = 77 ] && { grep SKIP "$B/e2e/vsock-bench.out"; exit 0; }
LOG=$(sed -n 's/.*log \(\S*\.log\)$/\1/p' "$B/e2e/vsock-bench.out" | head -n 1)
[ -f "$LOG" ] || { tail -n 20 "$B/e2e/vsock-bench.out"; exit 1; }
echo "vsock-e2e (nested: host -> QEMU TCG L1 -> kestrel -> L2 Linux), $MIB MiB each way, $TRIPS round trips; log $LOG"
grep -o 'E2E-VSOCK-BENCH .*' "$LOG" | sed 's/^E2E-VSOCK-BENCH vsock-bench /  /' |
	awk '{ printf "  %-7s", $1; for (i = 2; i <= NF; i++) printf " %s", $i; printf "\n" }'
grep -q 'E2E-VSOCK-BENCH vsock-bench vsock h2g' "$LOG" || { echo "  (no figures: the case said $(grep -m1 'E2E-CASE' "$LOG" | cut -c1-120))"; exit 1; }
