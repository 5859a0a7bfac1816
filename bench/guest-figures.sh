# shellcheck shell=bash
# Helpers for the benchmarks that time kestrel guests (sourced, not run:
# bench/virtio-transport.sh, bench/protected-io.sh). The caller sets
# $KESTREL, calls bench_start, and finds its scratch directory in $tmp
# (removed at exit) with a 64 MiB sparse file $disk; figures accumulate in
# $tmp/figs.

# bench_start NAME FILE...: skip the benchmark (exit 0, one SKIP line)
# without a usable /dev/kvm or any FILE; else make $tmp and $disk.
bench_start() {
	local name=$1 f
	shift
	if [[ ! -e /dev/kvm ]] || ! (exec 3<>/dev/kvm) 2>/dev/null; then
		echo "   SKIP: no usable /dev/kvm"
		exit 0
	fi
	for f in "$@"; do
		if [[ ! -e $f ]]; then
			echo "   SKIP: $f not built (run make)"
			exit 0
		fi
	done
	tmp=$(mktemp -d "/tmp/kestrel-$name-XXXXXX") || exit 0
	# shellcheck disable=SC2064 # $tmp is fixed from here on
	trap "rm -rf '$tmp'" EXIT
	disk=$tmp/disk.img
	truncate -s 64M "$disk"
}

# run_guest NAME ELF ARGS...: guest lines in NAME.out, kestrel's in NAME.err.
run_guest() {
	local name=$1 elf=$2
	shift 2
	timeout 60 "$KESTREL" run --kernel "$elf" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null
	local rc=$?
	# The debug-exit status of a passing guest is 1.
	[[ $rc == 1 ]] && return
	echo "   note: kestrel $name ($*) exited $rc (figures may be missing)"
	grep -m3 '^FAIL' "$tmp/$name.out" | sed 's/^/     /'
	return 0
}

# Per phase of a kestrel run: "phase ns notifies", from the bench-sink
# markers (one per phase) and the VQ-STATS lines logged at the reset that
# ends it (between that phase's marker and the next).
host_phases() {
	awk '
	/EXIT-COST-MARKER/ {
		p++
		for (i = 1; i <= NF; i++)
			if ($i ~ /^ns_per_exit=/) { split($i, a, "="); ns[p] = a[2] }
	}
	/VQ-STATS reset/ {
		for (i = 1; i <= NF; i++)
			if ($i ~ /^notifies=/) { split($i, a, "="); irq[p] += a[2] }
	}
	END { for (i = 1; i <= p; i++) printf "%d %s %d\n", i, ns[i], irq[i] }
	' "$1"
}

# kv FIELD LINE: the value of FIELD=value in LINE.
kv() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# Figures go to $tmp/figs as "KEY FIELD VALUE" lines, one set per round;
# tables show the median of the rounds.
fig() { echo "$1 $2 $3" >>"$tmp/figs"; }

# v KEY FIELD: the median of that figure over the rounds, or "-".
v() {
	awk -v k="$1" -v f="$2" '$1 == k && $2 == f { x[n++] = $3 }
		END {
			if (!n) { print "-"; exit }
			for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
			print (n % 2) ? x[(n - 1) / 2] : (x[n / 2 - 1] + x[n / 2]) / 2
		}' "$tmp/figs" 2>/dev/null || echo -
}

# ratio A B: A / B to two places, or "-".
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }

# "busy steal total" jiffies from /proc/stat: other work on this machine,
# and time the hypervisor gave our vCPUs to someone else (steal).
cpu_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

# run_rounds: the caller's one_round, $ROUNDS times; then the load line.
run_rounds() {
	local load steal0 steal1 total0 total1 round
	read -r load _ </proc/loadavg
	read -r _ steal0 total0 < <(cpu_jiffies)
	for ((round = 1; round <= ROUNDS; round++)); do
		one_round
	done
	read -r _ steal1 total1 < <(cpu_jiffies)
	echo "   load average $load on $(nproc) CPUs before the run; CPU stolen by the host during it:" \
		"$(awk -v s=$((steal1 - steal0)) -v t=$((total1 - total0)) 'BEGIN { printf "%.0f%%", t ? 100 * s / t : 0 }')"
}

# table_rows [FN]: the caller's "FN KEY LABEL" (FN: line unless given) for
# every workload of the benchmark guests (net phases, then each blk device's).
table_rows() {
	local fn=${1:-line} dev w qd op ev
	$fn net-on "net sim 64B b32 evidx on  (Mpps)"
	$fn net-off "net sim 64B b32 evidx off (Mpps)"
	for dev in blk-sim file-blk; do
		for w in qd1-read-on qd1-write-on qd32-read-on qd32-write-on qd32-read-off; do
			IFS=- read -r qd op ev <<<"$w"
			$fn "$dev-$w" "$(printf '%-8s 4K %-5s %-4s evidx %-3s (kIOPS)' "$dev" "$op" "${qd^^}" "$ev")"
		done
	done
}
