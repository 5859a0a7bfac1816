#!/bin/bash
# kestrel in Firecracker mode, driven with curl --unix-socket the way real
# clients drive Firecracker:
#   go-sdk    firecracker-go-sdk's call sequence (machine.go, handlers.go):
#             --api-sock --seccomp-level --id; GET /machine-config every 10 ms
#             until it answers; logger, metrics, machine-config, boot-source,
#             drives, network-interfaces (with a TAP when root), vsock,
#             InstanceStart, each within 500 ms; then GET / through Running,
#             Paused, Running, FlushMetrics, SendCtrlAltDel (204), SIGTERM.
#             The guest is a Multiboot test guest that prints and halts.
#   odd paths drives whose paths hold ',' and '=' attach, and a TAP named
#             with a ','; the guest boots.
#   builtin   SendCtrlAltDel before boot (400), then the built-in guest
#             through the API: it runs and powers off.
#   kata      Kata's start (fc.go): --api-sock --config-file, GET / polled
#             until Running, the drive PATCH it uses for hot-plug.
#   flintlock flintlock's start (create.go): --id --boot-timer --no-api
#             --config-file --metadata.
#   vsock     the guest framework's vsock test with the config file's vsock,
#             scripts/vsock-peer.py as its host side.
# Exit 0 pass, 1 fail, 77 skip (no /dev/kvm, curl or binutils).
set -u
B=${B:-build}
tap=
KESTREL=$B/kestrel
fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

[[ -x $KESTREL ]] || { echo "SKIP: $KESTREL not built"; exit 77; }
[[ -r /dev/kvm && -w /dev/kvm ]] || { echo "SKIP: no usable /dev/kvm"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl missing (scripts/setup.sh installs it)"; exit 77; }
command -v as >/dev/null && command -v ld >/dev/null || { echo "SKIP: as/ld missing"; exit 77; }

W=$(mktemp -d /tmp/kestrel-fcapi.XXXXXX)
pid=
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

# A Multiboot v1 guest: prints a marker on COM1 and halts, so it stays Running.
cat >"$W/mb.S" <<'EOF'
	.text
	.code32
	.globl _start
	.align 4
	.long 0x1BADB002, 0, -0x1BADB002
_start:	mov $0x3f8, %dx
	mov $msg, %esi
1:	lodsb
	test %al, %al
	jz 2f
	out %al, (%dx)
	jmp 1b
2:	hlt
	jmp 2b
msg:	.asciz "MB-GUEST-UP\n"
EOF
as --32 -o "$W/mb.o" "$W/mb.S" && ld -m elf_i386 -N -Ttext=0x100000 -e _start \
	-o "$W/mb.elf" "$W/mb.o" 2>/dev/null || { echo "SKIP: cannot build the Multiboot guest"; exit 77; }
truncate -s 1M "$W/rootfs.img" "$W/data.img"

# call METHOD PATH [BODY]: sets $code and $body; fails the check past 500 ms.
call() {
	local out t0 t1
	t0=$(date +%s%N)
	out=$(curl -s --max-time 2 --unix-socket "$SOCK" -X "$1" -H 'Content-Type: application/json' \
		${3:+--data "$3"} -w '\n%{http_code}' "http://localhost$2")
	t1=$(date +%s%N)
	code=${out##*$'\n'}
	body=${out%$'\n'*}
	ms=$(((t1 - t0) / 1000000))
	((ms <= 500)) || fail "$1 $2 took $ms ms (the go-sdk gives 500)"
}
expect() { # expect CODE WHAT [BODY-SUBSTRING]
	if [[ $code == "$1" && ( -z ${3:-} || $body == *"$3"* ) ]]; then
		pass "$2: $code"
	else
		fail "$2: $code $body (expected $1${3:+ with '$3'})"
	fi
}
state_is() { call GET /; [[ $body == *"\"state\":\"$1\""* ]]; }
start_kestrel() { # start_kestrel ARGS...: background, output to $W/out, $W/err
	"$KESTREL" "$@" >"$W/out" 2>"$W/err" </dev/null &
	pid=$!
}
wait_exit() { # wait_exit SECONDS: sets $status, or fails
	local i
	for ((i = 0; i < $1 * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		fail "kestrel still running after $1 s"; kill -9 "$pid"
	fi
	wait "$pid"; status=$?; pid=
}

echo "== go-sdk"
SOCK=$W/api.sock
start_kestrel --api-sock "$SOCK" --seccomp-level 2 --id 3a8d3c55-0b43-4bd6-9ad1-3e8a7c1c8f6e
t0=$(date +%s%N)
for ((i = 0; i < 300; i++)); do
	[[ -S $SOCK ]] && call GET /machine-config 2>/dev/null && [[ $code == 200 ]] && break
	sleep 0.01
done
expect 200 "GET /machine-config answered $((($(date +%s%N) - t0) / 1000000)) ms after exec" '"mem_size_mib":128'
call PUT /logger "{\"log_path\": \"$W/log\", \"level\": \"Debug\", \"show_level\": true, \"show_log_origin\": false}"
expect 204 "PUT /logger"
touch "$W/log" "$W/metrics"
call PUT /metrics "{\"metrics_path\": \"$W/metrics\"}"
expect 204 "PUT /metrics"
call PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 128, "smt": false, "track_dirty_pages": false}'
expect 204 "PUT /machine-config"
call GET /machine-config
expect 200 "GET /machine-config" '"vcpu_count":2'
call PUT /boot-source "{\"kernel_image_path\": \"$W/mb.elf\", \"boot_args\": \"console=ttyS0\"}"
expect 204 "PUT /boot-source"
call PUT /drives/1 "{\"drive_id\": \"1\", \"path_on_host\": \"$W/rootfs.img\", \"is_root_device\": true, \"is_read_only\": false}"
expect 204 "PUT /drives/1 (root)"
call PUT /drives/2 "{\"drive_id\": \"2\", \"path_on_host\": \"$W/data.img\", \"is_root_device\": false, \"is_read_only\": true}"
expect 204 "PUT /drives/2"
call PUT /drives/2 "{\"drive_id\": \"2\", \"path_on_host\": \"$W/data.img\", \"is_root_device\": true, \"is_read_only\": true}"
expect 400 "a second root drive" "root block device already exists"
if [[ $(id -u) == 0 && -w /dev/net/tun ]]; then
	call PUT /network-interfaces/1 '{"iface_id": "1", "host_dev_name": "kfcapi0", "guest_mac": "06:00:ac:10:00:02",
		"tx_rate_limiter": {"ops": {"size": 1000, "refill_time": 100}}}'
	expect 204 "PUT /network-interfaces/1 (TAP kfcapi0, a transmit limit)"
	tap=1
else
	echo "SKIP: network-interfaces: not root or no /dev/net/tun"
fi
call PUT /vsock "{\"guest_cid\": 3, \"uds_path\": \"$W/v.sock\", \"vsock_id\": \"root\"}"
expect 204 "PUT /vsock (the deprecated vsock_id accepted)"
call PUT /mmds '{"latest": {}}'
expect 400 "PUT /mmds: not implemented, said so" "MMDS"
call PUT /actions '{"action_type": "InstanceStart"}'
expect 204 "InstanceStart"
if state_is Running; then pass "GET /: Running"; else fail "GET /: $body"; fi
for ((i = 0; i < 100; i++)); do grep -q MB-GUEST-UP "$W/out" && break; sleep 0.02; done
grep -q MB-GUEST-UP "$W/out" && pass "the Multiboot guest printed its marker" ||
	fail "no guest output: $(head -c 300 "$W/out")"
[[ -S $W/v.sock ]] && pass "the vsock device listens on its uds_path" || fail "no socket at $W/v.sock"
call PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}'
expect 400 "PUT /machine-config after boot" "after starting"
if [[ -n $tap ]]; then
	call PATCH /network-interfaces/1 '{"iface_id": "1", "rx_rate_limiter": {"bandwidth": {"size": 1048576, "refill_time": 100}}}'
	expect 204 "PATCH /network-interfaces/1: a receive limit on the running TAP device"
fi
call PATCH /network-interfaces/9 '{"iface_id": "9", "rx_rate_limiter": {}}'
expect 400 "PATCH of an unknown interface" "no such network interface"
call PATCH /vm '{"state": "Paused"}'
expect 204 "PATCH /vm Paused"
if state_is Paused; then pass "GET /: Paused"; else fail "GET /: $body"; fi
call PATCH /vm '{"state": "Resumed"}'
expect 204 "PATCH /vm Resumed"
if state_is Running; then pass "GET /: Running again"; else fail "GET /: $body"; fi
call PUT /actions '{"action_type": "FlushMetrics"}'
expect 204 "FlushMetrics"
grep -q '"exit_io_out":[1-9]' "$W/metrics" && pass "the metrics count the guest's port writes" ||
	fail "no vCPU exits in the metrics: $(tail -c 400 "$W/metrics")"
grep -q '"put_api_requests"' "$W/metrics" && pass "the metrics file has a JSON line" ||
	fail "metrics: $(head -c 200 "$W/metrics")"
call PUT /actions '{"action_type": "SendCtrlAltDel"}'
expect 204 "SendCtrlAltDel: the keys are on the i8042's keyboard"
grep -q "Ctrl+Alt+Del pressed" "$W/log" && pass "the log says the keys were pressed" || fail "log: $(tail -c 300 "$W/log")"
grep -q "\[3a8d3c55-0b43-4bd6-9ad1-3e8a7c1c8f6e:fc_api:INFO\]" "$W/log" &&
	pass "the log file has Firecracker's line format" || fail "log: $(head -c 300 "$W/log")"
kill -TERM "$pid"
wait_exit 5
[[ $status == 130 ]] && pass "SIGTERM: clean stop, exit 130" || fail "SIGTERM: exit $status"
[[ ! -e $W/v.sock ]] && pass "the vsock socket is removed at exit" || fail "$W/v.sock left behind"
[[ ! -e $SOCK ]] && pass "the socket is removed" || fail "the socket is left behind"

echo "== odd paths"
# Drive paths with ',' and '=' (the device spec's separators) attach and boot.
ROOTP="$W/root,fs=1.img" DATAP="$W/da=ta,.img"
truncate -s 1M "$ROOTP" "$DATAP"
start_kestrel --api-sock "$SOCK"
for ((i = 0; i < 300; i++)); do [[ -S $SOCK ]] && break; sleep 0.01; done
call PUT /boot-source "{\"kernel_image_path\": \"$W/mb.elf\", \"boot_args\": \"console=ttyS0\"}"
expect 204 "PUT /boot-source"
call PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$ROOTP\", \"is_root_device\": true, \"is_read_only\": false}"
expect 204 "PUT /drives/rootfs: a path with ',' and '='"
call PUT /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$DATAP\", \"is_root_device\": false, \"is_read_only\": true}"
expect 204 "PUT /drives/data: a path ending in ',.img' with '='"
# Linux interface names may hold a ',' too.
if [[ $(id -u) == 0 && -w /dev/net/tun ]]; then
	call PUT /network-interfaces/1 '{"iface_id": "1", "host_dev_name": "kfc,api1", "guest_mac": "06:00:ac:10:00:03"}'
	expect 204 "PUT /network-interfaces/1: TAP 'kfc,api1'"
fi
call PUT /actions '{"action_type": "InstanceStart"}'
expect 204 "InstanceStart with both drives"
if [[ $(id -u) == 0 && -w /dev/net/tun ]]; then
	ip link show dev "kfc,api1" >/dev/null 2>&1 && pass "kestrel made the TAP 'kfc,api1'" ||
		fail "no interface 'kfc,api1': $(tail -c 300 "$W/err")"
fi
for ((i = 0; i < 100; i++)); do grep -q MB-GUEST-UP "$W/out" && break; sleep 0.02; done
grep -q MB-GUEST-UP "$W/out" && pass "the guest booted with them" || fail "no guest output: $(tail -c 300 "$W/err")"
# Each device holds its image locked: the files with the odd names are open.
if ! flock -n "$ROOTP" true && ! flock -n "$DATAP" true; then
	pass "both devices hold their files"
else
	fail "a device does not hold its file: $(tail -c 300 "$W/err")"
fi
kill -TERM "$pid"
wait_exit 5

echo "== builtin"
start_kestrel --api-sock "$SOCK"
for ((i = 0; i < 300; i++)); do [[ -S $SOCK ]] && break; sleep 0.01; done
call PUT /actions '{"action_type": "SendCtrlAltDel"}'
expect 400 "SendCtrlAltDel before InstanceStart" "not running"
call PUT /actions '{"action_type": "InstanceStart"}'
expect 204 "InstanceStart without boot-source: the built-in guest"
wait_exit 20
[[ $status == 0 ]] && grep -q "All done" "$W/out" && pass "it ran and powered off (exit 0)" ||
	fail "built-in guest: exit $status, $(tail -c 300 "$W/out")"

echo "== kata"
cat >"$W/kata.json" <<EOF
{
	"boot-source": {"kernel_image_path": "$W/mb.elf", "boot_args": "console=ttyS0 reboot=k"},
	"drives": [{"drive_id": "rootfs", "path_on_host": "$W/rootfs.img", "is_root_device": false, "is_read_only": true},
		   {"drive_id": "drive_0", "path_on_host": "$W/placeholder.img", "is_root_device": false, "is_read_only": false}],
	"machine-config": {"vcpu_count": 1, "mem_size_mib": 128, "smt": false},
	"logger": {"log_path": "$W/kata.log", "level": "Error"},
	"metrics": {"metrics_path": "$W/kata.metrics"}
}
EOF
touch "$W/kata.log" "$W/kata.metrics"
# Kata attaches empty placeholder drives, and hot-plugs by patching them.
: >"$W/placeholder.img"
truncate -s 2M "$W/hot.img"
start_kestrel --api-sock "$SOCK" --config-file "$W/kata.json"
running=
for ((i = 0; i < 300; i++)); do
	[[ -S $SOCK ]] && state_is Running 2>/dev/null && { running=1; break; }
	sleep 0.01
done
[[ -n $running ]] && pass "GET / polled until Running" || fail "never Running: $(tail -c 300 "$W/err")"
call PATCH /drives/drive_0 "{\"drive_id\": \"drive_0\", \"path_on_host\": \"$W/hot.img\"}"
expect 204 "PATCH /drives/drive_0: the placeholder becomes hot.img (Kata's hot-plug)"
# The device holds its image locked: hot.img now, the placeholder no more.
if ! flock -n "$W/hot.img" true && flock -n "$W/placeholder.img" true; then
	pass "the device holds hot.img and let the placeholder go"
else
	fail "after the PATCH the locks say otherwise"
fi
call PATCH /drives/drive_0 "{\"drive_id\": \"drive_0\", \"path_on_host\": \"$W/missing.img\"}"
expect 400 "PATCH /drives with a missing file" "missing.img"
call PATCH /drives/drive_0 "{\"drive_id\": \"drive_0\", \"path_on_host\": \"$W/rootfs.img\"}"
expect 400 "PATCH /drives with a file another drive holds" "rootfs.img"
kill -TERM "$pid"
wait_exit 5
[[ $status == 130 ]] && pass "SIGTERM: exit 130" || fail "SIGTERM: exit $status"

echo "== flintlock"
cat >"$W/flintlock.json" <<EOF
{"boot-source": null, "drives": [], "machine-config": {"vcpu_count": 2, "mem_size_mib": 128,
 "smt": true, "track_dirty_pages": false}, "balloon": null, "network-interfaces": [],
 "vsock": null, "logger": null, "metrics": null, "mmds-config": {"version": "V1"}}
EOF
echo '{"latest": {}}' >"$W/meta.json"
start_kestrel --id 6f1f0c2a --boot-timer --no-api --config-file "$W/flintlock.json" --metadata "$W/meta.json"
wait_exit 20
[[ $status == 0 ]] && grep -q "All done" "$W/out" && pass "--no-api --config-file booted and ran (exit 0)" ||
	fail "flintlock: exit $status, $(tail -c 400 "$W/err")"
grep -q "\[6f1f0c2a:main\] --metadata ignored: MMDS" "$W/err" && pass "--metadata accepted, logged" ||
	fail "--metadata: $(head -c 300 "$W/err")"

echo "== rate limiters"
# The virtio-blk benchmark guest (guest/x86/bench-virtio-blk.c) on one
# drive, unlimited, then limited to 200 requests/s at PUT and raised to
# 2000/s by a PATCH once its first phase (QD1 reads) is over; figures
# printed, no timing asserted beyond "slower" and "faster".
BENCH=$B/guest/x86/bench-virtio-blk.elf
# bench_ios RUN PHASE: the requests the guest completed in that phase.
bench_ios() { sed -n "s/.*BENCH-BLK phase=$2 .* ios=\([0-9]*\) .*/\1/p" "$W/$1.out" | head -1; }
# bench_run NAME DRIVE-JSON [PATCH-JSON]: boot the guest through the API, wait for its end.
bench_run() {
	start_kestrel --api-sock "$SOCK"
	for ((i = 0; i < 300; i++)); do [[ -S $SOCK ]] && break; sleep 0.01; done
	call PUT /boot-source "{\"kernel_image_path\": \"$BENCH\"}"
	expect 204 "$1: PUT /boot-source (bench-virtio-blk)"
	call PUT /drives/data "$2"
	expect 204 "$1: PUT /drives/data"
	call PUT /actions '{"action_type": "InstanceStart"}'
	expect 204 "$1: InstanceStart"
	if [[ -n ${3:-} ]]; then
		for ((i = 0; i < 500; i++)); do grep -q "BENCH-BLK phase=1" "$W/out" && break; sleep 0.01; done
		call PATCH /drives/data "$3"
		expect 204 "$1: PATCH /drives/data with a new rate_limiter while it runs"
	fi
	wait_exit 30
	cp "$W/out" "$W/$1.out"
	grep -q "PASS: bench-virtio-blk: read: QD32, event_idx off" "$W/$1.out" &&
		! grep -q "FAIL" "$W/$1.out" && pass "$1: the guest's requests all completed" ||
		fail "$1: $(tail -c 300 "$W/$1.out")"
}
if [[ -r $BENCH ]]; then
	truncate -s 64M "$W/bench.img"
	drive="{\"drive_id\": \"data\", \"path_on_host\": \"$W/bench.img\", \"is_root_device\": false"
	bench_run free "$drive}"
	bench_run limited "$drive, \"rate_limiter\": {\"ops\": {\"size\": 20, \"refill_time\": 100}}}" \
		'{"drive_id": "data", "rate_limiter": {"ops": {"size": 200, "refill_time": 100}}}'
	f1=$(bench_ios free 1); l1=$(bench_ios limited 1); f5=$(bench_ios free 5); l5=$(bench_ios limited 5)
	echo "# QD1 reads in 500 ms: unlimited ${f1:-?}, limited to 200/s ${l1:-?} (a full bucket of 20 + 100)"
	echo "# QD32 reads in 500 ms: unlimited ${f5:-?}, PATCHed to 2000/s ${l5:-?} (1000)"
	[[ -n $f1 && -n $l1 ]] && ((l1 < f1)) && pass "the PUT limit slows the drive ($l1 < $f1 requests)" ||
		fail "PUT limit: limited '$l1' vs unlimited '$f1'"
	[[ -n $l1 && -n $l5 && -n $f5 ]] && ((l1 < l5 && l5 < f5)) &&
		pass "the PATCH raises it, still limited ($l1 < $l5 < $f5 requests)" ||
		fail "PATCH limit: '$l5' after vs '$l1' before, '$f5' unlimited"
else
	echo "SKIP: rate limiters: $BENCH not built (make builds the guests)"
fi

echo "== vsock"
# The guest framework's vsock test (guest/x86/virtio-vsock.c) with its vsock
# from the config file, the host side played by scripts/vsock-peer.py.
VSOCK_GUEST=$B/guest/x86/virtio-vsock.elf
if [[ -f $VSOCK_GUEST ]] && command -v python3 >/dev/null; then
	cat >"$W/vsock.json" <<EOF
{"boot-source": {"kernel_image_path": "$VSOCK_GUEST"}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
 "vsock": {"guest_cid": 3, "uds_path": "$W/vs.sock"}}
EOF
	timeout 60 scripts/vsock-peer.py --uds "$W/vs.sock" "$KESTREL" --no-api --config-file "$W/vsock.json" \
		>"$W/vsock.out" 2>&1
	status=$?
	[[ $status == 1 ]] && ! grep -q '^FAIL' "$W/vsock.out" &&
		pass "the config file's vsock: guest and host peer passed (guest listen, guest connect)" ||
		fail "vsock through --config-file: exit $status, $(grep -m2 -e '^FAIL' -e error "$W/vsock.out" | tr '\n' '|')"
else
	echo "SKIP: vsock: $VSOCK_GUEST not built (make builds the guests) or no python3"
fi

echo "$fails failure(s)"
((fails == 0))
