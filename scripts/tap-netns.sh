#!/bin/bash
# Run a kestrel command line next to a TAP interface in a network namespace
# of its own, with a peer on that TAP: unittests.cfg's wrapper for the
# virtio-tap guest test.
#
#   scripts/tap-netns.sh KESTREL-COMMAND...
#   scripts/tap-netns.sh --echo-scan [--expect-found] KESTREL-COMMAND...
#
# Creates namespace kestrel-tap-PID holding TAP "ktap0" (no addresses; only
# lo, which is up), starts the peer there (a raw AF_PACKET socket on ktap0,
# ethertype 0x88b5): every guest frame "KESTREL G2H nn ..." it sees is
# answered with "KESTREL H2G nn ..." and the same payload. Then runs the
# command in the namespace. Exit: the command's status; 3 if the guest
# passed but the peer did not see every frame; 77 (with a SKIP: line) when
# this host cannot do it (not root, no /dev/net/tun, no ip or python3).
#
# --echo-scan (the protected-tap tests, guest/x86/protected.c): the peer
# sends every frame the guest sends back to it unchanged and keeps them
# all; after the run scripts/protected-check.py searches them for the
# protected guest's secret, which must not be there (--expect-found: the
# unprotected control, where it must). Exit 3 if the search says no.
set -u
NFRAMES=${TAP_NFRAMES:-16}
ns=kestrel-tap-$$
mode="reply"
scan=()
if [[ ${1:-} == --echo-scan ]]; then
	mode="echo"
	shift
	if [[ ${1:-} == --expect-found ]]; then
		scan=(--expect-found)
		shift
	fi
fi

skip() {
	echo "SKIP: $*"
	exit 77
}
[[ $(id -u) == 0 ]] || skip "needs root (ip netns, TAP)"
[[ -c /dev/net/tun ]] || skip "no /dev/net/tun"
command -v ip >/dev/null || skip "no ip(8)"
command -v python3 >/dev/null || skip "no python3 for the TAP peer"

dir=$(mktemp -d "${TMPDIR:-/tmp}/kestrel-tap.XXXXXX")
peer=
cleanup() {
	[[ -n $peer ]] && kill "$peer" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns" 2>/dev/null || skip "cannot create a network namespace"
ip netns exec "$ns" sh -e -c '
	ip link set lo up
	ip tuntap add dev ktap0 mode tap
	sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
	ip link set ktap0 up' || skip "cannot create a TAP in the namespace"

ip netns exec "$ns" python3 - "$NFRAMES" "$dir" "$mode" <<'PY' &
import os, socket, sys, time
n, d, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
proto = 0x0003 if mode == "echo" else 0x88b5     # ETH_P_ALL: every frame
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(proto))
s.bind(("ktap0", proto))
s.settimeout(1.0)
open(os.path.join(d, "ready"), "w").close()
if mode == "echo":
    # Until the wrapper stops us: every guest frame back, and kept.
    with open(os.path.join(d, "frames"), "wb") as out:
        while True:
            try:
                f, addr = s.recvfrom(65536)
            except socket.timeout:
                continue
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            out.write(f)
            out.flush()
            s.send(f)
seen, deadline = set(), time.time() + 60
while len(seen) < n and time.time() < deadline:
    try:
        f, addr = s.recvfrom(2048)
    except socket.timeout:
        continue
    if addr[2] == socket.PACKET_OUTGOING or f[14:25] != b"KESTREL G2H":
        continue
    i = int(f[26:28])
    seen.add(i)
    s.send(f[6:12] + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" +
           b"KESTREL H2G" + f[25:])
with open(os.path.join(d, "seen"), "w") as out:
    out.write("%d\n" % len(seen))
PY
peer=$!
for _ in $(seq 100); do
	[[ -e $dir/ready ]] && break
	sleep 0.05
done
[[ -e $dir/ready ]] || { echo "FAIL: the TAP peer did not start"; exit 1; }

ip netns exec "$ns" "$@"
rc=$?
if [[ $mode == echo ]]; then
	kill "$peer" 2>/dev/null
	wait "$peer" 2>/dev/null
	peer=
	echo "tap-netns: the peer echoed $(stat -c %s "$dir/frames" 2>/dev/null || echo 0) bytes of guest frames"
	if [[ $rc == 1 ]] && ! "$(dirname "$0")/protected-check.py" "${scan[@]}" --scan-file "$dir/frames"; then
		echo "FAIL: tap-netns: the frames on the TAP say otherwise"
		exit 3
	fi
	exit "$rc"
fi
# The peer is done once it saw every frame; do not wait for it otherwise.
for _ in $(seq 40); do
	[[ -e $dir/seen ]] && break
	sleep 0.05
done
kill "$peer" 2>/dev/null
wait "$peer" 2>/dev/null
peer=
seen=$(cat "$dir/seen" 2>/dev/null || echo 0)
echo "tap-netns: the peer saw $seen of $NFRAMES guest frames on ktap0"
if [[ $rc == 1 && $seen != "$NFRAMES" ]]; then
	echo "FAIL: frames the guest sent did not all reach the TAP"
	exit 3
fi
exit "$rc"
