# Helpers for the sandbox tests (sourced, not run: not executable).
# Each test: exit 0 pass, 1 fail, 77 skip (with the reason printed).
B=${B:-build}
KESTREL=${KESTREL:-$B/kestrel}
# kestrel with --test-hook (Makefile: $(B)/kestrel-test), never the release binary.
KTEST=${KTEST:-$B/kestrel-test}
fails=0

skip() { echo "SKIP: $*"; exit 77; }
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
need() { command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed (scripts/setup.sh installs it)"; }
finish() { ((fails == 0)) && echo "all passed" || echo "$fails failed"; ((fails == 0)); }

# expect_line FILE TEXT WHAT: FILE has a line with TEXT (fixed string).
expect_line() {
	if grep -qF -- "$2" "$1"; then pass "$3"; else fail "$3: no '$2' in $(basename "$1")"; sed 's/^/   | /' "$1" | tail -15; fi
}

need_kvm() { [[ -r /dev/kvm && -w /dev/kvm ]] || skip "no usable /dev/kvm"; }
need_bins() { for b in "$@"; do [[ -x $b ]] || skip "$b not built (make $b)"; done; }

# listen_tcp PORTFILE: a TCP listener on 127.0.0.1 (any port, written to
# PORTFILE) that accepts and closes, in the background ($LISTEN_PID).
listen_tcp() {
	python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept(); c.close()' "$1" &
	LISTEN_PID=$!
	for _ in $(seq 100); do [[ -s $1 ]] && return 0; sleep 0.05; done
	skip "cannot start a TCP listener on 127.0.0.1"
}
