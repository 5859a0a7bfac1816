#!/bin/sh
# Jailer start-up: `kestrel jail ... -- run` (and with --new-pid-ns) against
# plain `kestrel run` and `kestrel run --landlock off`, interleaved run by run
# by bench/tools/boottime.c: exec to the built-in guest's first line
# ("marker") and to exit ("wall"), medians and ratios against plain
# `kestrel run` measured in the same run. Figures only, never pass/fail.
#
# Variables: B (build), RUNS (20), WARMUP (2), KESTREL ($B/kestrel)
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-2}
KESTREL=${KESTREL:-$B/kestrel}
T=$B/bench-tools
mkdir -p "$T"

[ -x "$KESTREL" ] || { echo "jail-start: no $KESTREL (make first)"; exit 1; }
[ -c /dev/kvm ] || { echo "jail-start: no /dev/kvm: nothing to measure"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "jail-start: the jailer needs root: nothing to measure"; exit 0; }
${CC:-cc} -std=gnu11 -O2 -Wall -o "$T/boottime" bench/tools/boottime.c
JB=$(mktemp -d /tmp/kestrel-jailbench.XXXXXX)
chmod 755 "$JB"
trap 'rm -rf "$JB"' EXIT
jail="$KESTREL jail --exec-file $KESTREL --uid 1234 --gid 1234 --chroot-base-dir $JB"
echo "jail-start: built-in guest, marker = its first line, $RUNS interleaved runs (+$WARMUP warm-up); host $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$T/boottime" -n "$RUNS" -w "$WARMUP" -t 30 -l "$T/jail-logs" \
	-m "Hello from kestrel's built-in guest" \
	"jailed=$jail --id bench1 -- run" \
	"jailed-pidns=$jail --id bench2 --new-pid-ns -- run" \
	"landlock-off=$KESTREL run --landlock off" \
	"plain=$KESTREL run" 2>"$T/jail-start.runs" || {
	echo "jail-start: some runs failed (per-run lines in $T/jail-start.runs):"
	grep FAILED "$T/jail-start.runs" | head -n 5
}
