#!/bin/bash
# Instructions per operation under callgrind (deterministic, unlike wall time).
# Counts only the measured function (--toggle-collect) and runs each case with
# N and 2N iterations, so set-up cost cancels: per-op = (I(2N) - I(N)) / N.
# Prints figures beside the targets; never fails on them.
set -u
B=${B:-build}
N=${CALLGRIND_N:-20000}

if ! command -v valgrind >/dev/null; then
	echo "   valgrind not installed; skipped"
	exit 0
fi
for b in "$B/bench/vringh_bench" "$B/bench/iotlb_bench"; do
	[[ -x $b ]] || { echo "   $b not built; run make first"; exit 0; }
done

# collected FUNC BINARY ARGS... -> instructions counted inside FUNC
collected() {
	local fn=$1; shift
	valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		--toggle-collect="$fn" "$@" 2>&1 >/dev/null |
		sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}

# per_op FUNC BINARY ARGS... [-- EXTRA...]: ARGS, then N or 2N, then EXTRA
per_op() {
	local fn=$1 bin=$2; shift 2
	local a b pre=() post=()
	while (($#)) && [[ $1 != -- ]]; do pre+=("$1"); shift; done
	(($#)) && { shift; post=("$@"); }
	a=$(collected "$fn" "$bin" "${pre[@]}" "$N" "${post[@]}")
	b=$(collected "$fn" "$bin" "${pre[@]}" $((2 * N)) "${post[@]}")
	if [[ -z $a || -z $b ]]; then echo "?"; return; fi
	echo $(( (b - a + N / 2) / N ))
}

# bench_device_burst() takes BURST chains the driver made available, each
# with vringh_getdesc() + vringh_iov_pull(64) + vringh_complete(); see the
# comment at the top of bench/vringh_bench.c for what else is counted.
echo "vringh: get chain + pull 64 bytes + complete, instructions per packet (target <= 150)"
echo "                              burst 1  burst 32"
for segs in 1 4; do
	for kind in direct indirect packed; do
		printf '  %u segment(s), %-8s  %7s  %7s\n' "$segs" "$kind" \
			"$(per_op bench_device_burst "$B/bench/vringh_bench" "$segs" "$kind" -- 1)" \
			"$(per_op bench_device_burst "$B/bench/vringh_bench" "$segs" "$kind" -- 32)"
	done
done
echo "iotlb: translate 64 bytes, instructions per translate (target <= 60 at 4096 mappings)"
for n in 1 64 4096; do
	printf '  %4u mappings: %5s (same mapping)  %5s (each translate a new mapping)  %5s (uneven sizes and gaps)\n' "$n" \
		"$(per_op bench_translate_one "$B/bench/iotlb_bench" "$n" hit)" \
		"$(per_op bench_translate_one "$B/bench/iotlb_bench" "$n" miss)" \
		"$(per_op bench_translate_one "$B/bench/iotlb_bench" "$n" uneven)"
done
