# Helpers for the peer tests (sourced, not run: not executable).
# Each test: exit 0 pass, 1 fail, 77 skip (with the reason printed).
B=${B:-build}
KESTREL=${KESTREL:-$B/kestrel}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ -n "${SRV_LOG:-}" ] && [ -f "$SRV_LOG" ] && tail -20 "$SRV_LOG" | sed 's/^/  server| /'; exit 1; }
pass() { echo "PASS: $*"; }

need() { command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed (scripts/setup.sh installs it)"; }

# start_server DIR ARGS... : kestrel vhost-user on DIR/vu.sock, pinned to CPU 1 when there are 2.
start_server() {
	local dir=$1; shift
	[ -x "$KESTREL" ] || fail "$KESTREL not built (make $KESTREL)"
	SOCK=$dir/vu.sock SRV_LOG=$dir/server.log
	local pin=(); [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null && pin=(taskset -c 1)
	"${pin[@]}" "$KESTREL" vhost-user --socket "$SOCK" "$@" >"$SRV_LOG" 2>&1 &
	SRV_PID=$!
	for _ in $(seq 100); do [ -S "$SOCK" ] && return 0; sleep 0.05; done
	fail "server did not create $SOCK"
}

stop_server() {
	[ -n "${SRV_PID:-}" ] || return 0
	kill -INT "$SRV_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$SRV_PID" 2>/dev/null && { kill -KILL "$SRV_PID"; fail "server ignored SIGINT"; }
	wait "$SRV_PID"; SRV_RC=$?
	SRV_PID=
}

# vq_stat N FIELD [NTH] : FIELD of queue N in the NTH stats dump (default: last).
vq_stat() {
	awk -v q="vq $1:" -v f="$2" -v nth="${3:-0}" '
		/front-end gone/ { dump++ }
		index($0, q) { for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2 && kv[1] == f) v[dump] = kv[2] }
		END { k = nth ? nth : dump; print (k in v) ? v[k] : 0 }' "$SRV_LOG"
}
