#!/bin/bash
# Landlock (docs/landlock.md): once kestrel has set up, the process cannot
# open what it was not configured with, nor connect over TCP, in each mode.
#   run        kestrel-test run --disk IMG --test-hook ...: after the machine
#              is built, opening a file outside the set is EACCES, the disk
#              opens, a TCP connect to a loopback listener is EACCES; the
#              guest still runs. --landlock off: the same open succeeds.
#   vhost-user kestrel-test vhost-user over a file-blk image: once it
#              listens, a file outside the set and TCP connect are EACCES,
#              the image opens; it takes a front-end's connection, and on
#              SIGINT exits 0 having removed its socket.
#   fc         the Firecracker mode with --landlock-allow DIR: PUT /drives
#              of an image in DIR is 204, of one outside 400 naming EACCES.
# Exit 0 pass, 1 fail, 77 skip (no /dev/kvm, no Landlock in the kernel).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/sandbox/lib.sh
need_kvm
need_bins "$KESTREL" "$KTEST"
need python3
need curl

W=$(mktemp -d /tmp/kestrel-landlock.XXXXXX)
pid=
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; [[ -n ${LISTEN_PID:-} ]] && kill "$LISTEN_PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

echo secret >"$W/secret"
truncate -s 1M "$W/disk.img"
listen_tcp "$W/port"
port=$(cat "$W/port")

# ---- run ---------------------------------------------------------------------
"$KTEST" run --disk "$W/disk.img" --test-hook "open=$W/secret" \
	--test-hook "open=$W/disk.img" --test-hook "connect=$port" >"$W/run.out" 2>&1
rc=$?
grep -q "landlock: not available" "$W/run.out" && skip "the kernel has no Landlock ($(grep -m1 landlock "$W/run.out"))"
[[ $rc == 0 ]] && pass "run: the guest ran and powered off with Landlock on" || fail "run: exit $rc"
expect_line "$W/run.out" "All done" "run: guest output"
expect_line "$W/run.out" "test-hook: open $W/secret: Permission denied" "run: a file outside the set is EACCES"
expect_line "$W/run.out" "test-hook: open $W/disk.img: ok" "run: the configured disk opens"
expect_line "$W/run.out" "test-hook: connect 127.0.0.1:$port: Permission denied" "run: TCP connect is EACCES"

"$KTEST" run --landlock off --test-hook "open=$W/secret" --test-hook "connect=$port" >"$W/off.out" 2>&1
expect_line "$W/off.out" "test-hook: open $W/secret: ok" "run --landlock off: the same open succeeds"
expect_line "$W/off.out" "test-hook: connect 127.0.0.1:$port: ok" "run --landlock off: the connect succeeds"

"$KESTREL" run --landlock maybe >"$W/bad.out" 2>&1
rc=$?
[[ $rc == 2 && $(wc -l <"$W/bad.out") == 1 ]] && grep -q -- "--landlock" "$W/bad.out" &&
	pass "run --landlock maybe: exit 2, one line" || fail "run --landlock maybe: exit $rc: $(cat "$W/bad.out")"

# ---- vhost-user -----------------------------------------------------------------------
mkdir "$W/vu"
"$KTEST" vhost-user --socket "$W/vu/vu.sock" --device "file-blk,path=$W/disk.img" -v \
	--test-hook "open=$W/secret" --test-hook "open=$W/disk.img" --test-hook "connect=$port" >"$W/vu.out" 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -S $W/vu/vu.sock ]] && break; sleep 0.05; done
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.close()' \
	"$W/vu/vu.sock" 2>"$W/vu.connect" && pass "vhost-user: listens and accepts with Landlock on" ||
	fail "vhost-user: connect: $(cat "$W/vu.connect")"
sleep 0.2
kill -INT "$pid"; wait "$pid"; rc=$?; pid=
[[ $rc == 0 && ! -e $W/vu/vu.sock ]] && pass "vhost-user: SIGINT: exit 0, socket removed" ||
	fail "vhost-user: exit $rc, socket $(ls "$W/vu"): $(tail -3 "$W/vu.out")"
expect_line "$W/vu.out" "test-hook: open $W/secret: Permission denied" "vhost-user: a file outside the set is EACCES"
expect_line "$W/vu.out" "test-hook: open $W/disk.img: ok" "vhost-user: the device's image opens"
expect_line "$W/vu.out" "test-hook: connect 127.0.0.1:$port: Permission denied" "vhost-user: TCP connect is EACCES"

# ---- the Firecracker mode ----------------------------------------------------------
mkdir "$W/allowed"
truncate -s 1M "$W/allowed/in.img" "$W/out.img"
"$KESTREL" --api-sock "$W/allowed/api.sock" --landlock-allow "$W/allowed" >"$W/fc.out" 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -S $W/allowed/api.sock ]] && break; sleep 0.05; done
put_drive() {
	curl -s --unix-socket "$W/allowed/api.sock" -o "$W/body" -w '%{http_code}' -X PUT \
		"http://localhost/drives/$1" -H 'Content-Type: application/json' \
		-d "{\"drive_id\": \"$1\", \"path_on_host\": \"$2\", \"is_root_device\": false, \"is_read_only\": false}"
}
code=$(put_drive in "$W/allowed/in.img")
[[ $code == 204 ]] && pass "fc: PUT /drives of an image under --landlock-allow: 204" ||
	fail "fc: PUT /drives under --landlock-allow: $code $(cat "$W/body")"
code=$(put_drive out "$W/out.img")
[[ $code == 400 ]] && grep -q "Permission denied" "$W/body" &&
	pass "fc: PUT /drives of an image outside: 400, Permission denied" ||
	fail "fc: PUT /drives outside --landlock-allow: $code $(cat "$W/body")"
kill -TERM "$pid"; wait "$pid"; pid=
[[ ! -e $W/allowed/api.sock ]] && pass "fc: the API socket is removed at exit" || fail "fc: the API socket stayed"
finish
