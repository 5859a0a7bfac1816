#!/bin/bash
# Snapshot, then restore in a new kestrel (wrapper of guest tests, see
# guest/x86/unittests.cfg):
#
#   scripts/snapshot-test.sh MODE KESTREL run --kernel snapshot-count.elf ...
#
# The guest (guest/x86/snapshot-count.c) counts 0..300 on its console. The
# first kestrel gets SIGUSR1 once "count 100" is out, writes the snapshot
# and exits 0; "kestrel restore" must then print the rest of the count:
# both consoles joined hold every count once, in order.
#
# MODE
#   plain       snapshot without a key; restore must continue the count
#   encrypted   the same with --snapshot-key (AES-256-GCM)
#   wrong-key, truncated, swapped-chunk, flipped-bit, other-snapshot
#               an encrypted snapshot altered so; restore must refuse it
#               with exit 2, one line on stderr and no guest output
#   plain-flipped-bit
#               a bit flipped in a section of a plain state file (checksum)
#   plain-bad-dev-state
#               the device-state section of virtio device 0 given version 2,
#               its checksum made anew: refused, naming the device state
#   crash       a second snapshot into the same directory is killed (-9)
#               while it writes (a 2 GiB guest); the directory must still
#               restore, to one of the two snapshots, and the count continue
#   parallel    one snapshot restored twice at once: two guests that both
#               finish the count from the same point
#   diff        the snapshot restored with --snapshot-diff, a diff taken at
#               "count 200" (only the pages written since), then the diff
#               restored on its base: the three consoles count 0..300
#   disk-moved  a guest with --disk FILE: FILE is copied to a new path
#               after the snapshot and restore gets --override-disk
#               FILE=NEW: the writes after the restore must be in NEW only
#   api-tap     through the API, a guest with an interface on TAP ksnapa
#               (a network namespace of its own) is snapshotted, ksnapa
#               removed; PUT /snapshot/load with network_overrides
#               eth0 -> ksnapb must create it on ksnapb, not on ksnapa
#   api         the same through Firecracker's API: PATCH /vm Paused, PUT
#               /snapshot/create in one kestrel, PUT /snapshot/load with
#               resume_vm in a new one
#   pci-refused a guest with a virtio-pci device (the command line asks for
#               one): SIGUSR1 must write no snapshot, log why in one line, and
#               the guest must run on to the end of its count (docs/pci.md)
#   api-protected
#               a guest made protected by machine-config's
#               kestrel_protected: PUT /snapshot/create of it, paused, must
#               be refused with a 400 naming why and write no file; once
#               resumed the guest must finish its count
#
# Exit: 1 pass (the guest's passing status, what guest-test.sh expects),
# 3 failure (the guest's failing status).
set -u
mode=$1
shift
cmd=("$@")
kestrel=${cmd[0]}
work=$(mktemp -d "${TMPDIR:-/tmp}/kestrel-snap.XXXXXX")
# A failing step must not leave its background kestrel running.
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

fail() {
	echo "FAIL: snapshot $mode: $*"
	exit 3
}

# api SOCK METHOD PATH BODY: prints the HTTP status, the body in $work/api.body
api() {
	curl -s --max-time 10 --unix-socket "$1" -X "$2" -H 'Content-Type: application/json' \
		--data "$4" -o "$work/api.body" -w '%{http_code}' "http://localhost$3"
}

# api_boot OUT MACHINE_CONFIG: a kestrel with its API on $work/a.sock (pid in
# $pid, console in OUT), given MACHINE_CONFIG and the guest as boot-source.
api_boot() {
	command -v curl >/dev/null || { echo "SKIP: curl missing (scripts/setup.sh installs it)"; exit 77; }
	"$kestrel" --api-sock "$work/a.sock" >"$1" 2>"$work/a.err" &
	pid=$!
	for ((i = 0; i < 100; i++)); do [[ -S $work/a.sock ]] && break; sleep 0.05; done
	[[ $(api "$work/a.sock" PUT /machine-config "$2") == 204 ]] ||
		fail "PUT /machine-config: $(cat "$work/api.body")"
	[[ $(api "$work/a.sock" PUT /boot-source "{\"kernel_image_path\": \"${cmd[3]}\"}") == 204 ]] ||
		fail "PUT /boot-source: $(cat "$work/api.body")"
}

# snapshot DIR [KEYFILE]: run the guest, snapshot it at "count 100".
snapshot() {
	local dir=$1 key=${2:-} out=$1.out err=$1.err pid rc i
	local keyargs=()
	mkdir -p "$dir"
	[[ -n $key ]] && keyargs=(--snapshot-key "$key")
	"${cmd[@]}" --snapshot "$dir" "${keyargs[@]}" >"$out" 2>"$err" &
	pid=$!
	for ((i = 0; i < 600; i++)); do
		grep -q '^count 100$' "$out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -USR1 "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	cat "$err"
	[[ $rc == 0 ]] || fail "kestrel run --snapshot exited $rc, not 0"
	grep -q 'count done' "$out" && fail "the guest finished before the snapshot"
	[[ -f $dir/state ]] || fail "no state file in $dir"
}

# refuse DIR [KEYFILE [REASON]]: restore must fail cleanly (saying REASON).
refuse() {
	local dir=$1 key=${2:-} reason=${3:-} rc lines
	local keyargs=()
	[[ -n $key ]] && keyargs=(--snapshot-key "$key")
	timeout 20 "$kestrel" restore "$dir" "${keyargs[@]}" >"$work/r.out" 2>"$work/r.err"
	rc=$?
	echo "restore said: $(cat "$work/r.err")"
	[[ $rc == 2 ]] || fail "restore exited $rc, expected 2"
	# A device refused by its own section was created first, and said so.
	lines=$(grep -vc ' on virtio-mmio 0x' "$work/r.err")
	[[ $lines == 1 ]] || fail "restore printed $lines lines on stderr, expected one"
	[[ -s $work/r.out ]] && fail "the guest ran: $(head -c 80 "$work/r.out")"
	[[ -z $reason ]] || grep -q "$reason" "$work/r.err" || fail "the refusal does not say '$reason'"
	echo "PASS: refused"
	exit 1
}

# set_state_version FILE: version 2 in the SNAP_SEC_VIRTIO_STATE (0x53)
# section of slot 0 of a plain state file, with its SHA-256 made anew.
set_state_version() {
	python3 - "$1" <<'EOF'
import hashlib, struct, sys
path = sys.argv[1]
data = bytearray(open(path, 'rb').read())
off = 64
while True:
    kind, inst, size = struct.unpack_from('<IIQ', data, off)
    if kind == 0:
        sys.exit('no device state section')
    if kind == 0x53 and inst == 0:
        struct.pack_into('<I', data, off + 48, 2)
        data[off + 16:off + 48] = hashlib.sha256(bytes(data[off + 48:off + 48 + size])).digest()
        break
    off += 48 + ((size + 7) & ~7)
open(path, 'r+b').write(data)
EOF
}

# swap_or_flip FILE swap|flip: alter the first non-empty chunks of an
# encrypted memory file (64 KiB + 16-byte tag each, after a 4 KiB header).
alter_memory() {
	python3 - "$1" "$2" <<'EOF'
import sys
path, how = sys.argv[1], sys.argv[2]
HDR, SLOT = 4096, 65536 + 16
data = bytearray(open(path, 'rb').read())
full = [i for i in range((len(data) - HDR) // SLOT)
        if any(data[HDR + i * SLOT:HDR + (i + 1) * SLOT])]
if how == 'flip':
    data[HDR + full[0] * SLOT + 100] ^= 0x04
else:
    a, b = full[0], full[1]
    sa = data[HDR + a * SLOT:HDR + (a + 1) * SLOT]
    data[HDR + a * SLOT:HDR + (a + 1) * SLOT] = data[HDR + b * SLOT:HDR + (b + 1) * SLOT]
    data[HDR + b * SLOT:HDR + (b + 1) * SLOT] = sa
open(path, 'r+b').write(data)
EOF
}

key=$work/key
head -c 32 /dev/urandom >"$key"
snap=$work/snap
case $mode in
plain) snapshot "$snap" ;;
plain-flipped-bit)
	snapshot "$snap"
	# The last byte of the first section's payload (the machine section).
	printf '\x01' | dd of="$snap/state" bs=1 seek=$((64 + 48 + 23)) conv=notrunc status=none
	refuse "$snap" ;;
plain-bad-dev-state)
	snapshot "$snap"
	set_state_version "$snap/state" || fail "the state file has no device state section"
	refuse "$snap" "" "saved device state is refused: a version this kestrel does not know" ;;
encrypted) snapshot "$snap" "$key" ;;
wrong-key)
	snapshot "$snap" "$key"
	head -c 32 /dev/urandom >"$work/key2"
	refuse "$snap" "$work/key2" ;;
truncated)
	snapshot "$snap" "$key"
	mem=$(ls "$snap"/memory-*)
	truncate -s -16 "$mem"
	refuse "$snap" "$key" ;;
swapped-chunk)
	snapshot "$snap" "$key"
	alter_memory "$(ls "$snap"/memory-*)" swap
	refuse "$snap" "$key" ;;
flipped-bit)
	snapshot "$snap" "$key"
	alter_memory "$(ls "$snap"/memory-*)" flip
	refuse "$snap" "$key" ;;
other-snapshot)
	# Same key, two snapshots: A's state with B's memory under A's name.
	snapshot "$snap" "$key"
	snapshot "$work/other" "$key"
	mem=$(ls "$snap"/memory-*)
	cp "$(ls "$work/other"/memory-*)" "$mem"
	refuse "$snap" "$key" ;;
crash)
	snapshot "$snap"
	cp "$snap.out" "$work/first.out"
	cmd+=(--memory 2G)
	"${cmd[@]}" --snapshot "$snap" >"$work/second.out" 2>/dev/null &
	pid=$!
	for ((i = 0; i < 600; i++)); do
		grep -q '^count 20$' "$work/second.out" && break
		sleep 0.05
	done
	kill -USR1 "$pid"
	sleep 0.2
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	ls -la "$snap"
	timeout 60 "$kestrel" restore "$snap" >"$work/r.out" 2>"$work/r.err"
	rc=$?
	cat "$work/r.err"
	[[ $rc == 1 ]] || fail "restore after the crash exited $rc, expected 1 (pass)"
	echo "restored after the crash at: $(head -c 40 "$work/r.out" | tr '\n' ' ')"
	grep -q '^count done$' "$work/r.out" || fail "the restored guest did not finish its count"
	# It carries on from the first snapshot or, if that one completed, the second.
	expected=$(seq 0 300 | sed 's/^/count /')
	a=$(cat "$work/first.out" "$work/r.out" | grep '^count [0-9]')
	b=$(cat "$work/second.out" "$work/r.out" | grep '^count [0-9]')
	[[ $a == "$expected" || $b == "$expected" ]] ||
		fail "the restored count does not continue either snapshot exactly"
	echo "PASS: the directory survived a kill -9 during a snapshot"
	exit 1 ;;
parallel)
	snapshot "$snap"
	timeout 60 "$kestrel" restore "$snap" >"$work/a.out" 2>/dev/null &
	a=$!
	timeout 60 "$kestrel" restore "$snap" >"$work/b.out" 2>/dev/null &
	b=$!
	wait "$a"; ra=$?
	wait "$b"; rb=$?
	[[ $ra == 1 && $rb == 1 ]] || fail "parallel restores exited $ra and $rb, expected 1 and 1"
	cmp -s "$work/a.out" "$work/b.out" || fail "the two restored guests printed different consoles"
	expected=$(seq 0 300 | sed 's/^/count /')
	got=$(cat "$snap.out" "$work/a.out" | grep '^count [0-9]')
	[[ $got == "$expected" ]] || fail "the joined consoles do not count 0..300 exactly once"
	echo "PASS: two restores of one snapshot both carried on from where it stopped"
	exit 1 ;;
diff)
	snapshot "$snap"
	mkdir -p "$work/diff"
	"$kestrel" restore "$snap" --snapshot "$work/diff" --snapshot-diff >"$work/mid.out" 2>"$work/mid.err" &
	pid=$!
	for ((i = 0; i < 600; i++)); do
		grep -q '^count 200$' "$work/mid.out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -USR1 "$pid"
	wait "$pid"
	rc=$?
	cat "$work/mid.err"
	[[ $rc == 0 ]] || fail "kestrel restore --snapshot-diff exited $rc, not 0"
	grep -q 'count done' "$work/mid.out" && fail "the guest finished before the diff"
	echo "disk: base $(du -k "$snap" | cut -f1) KiB, diff $(du -k "$work/diff" | cut -f1) KiB"
	timeout 60 "$kestrel" restore "$work/diff" >"$work/r.out" 2>"$work/r.err"
	rc=$?
	cat "$work/r.err"
	[[ $rc == 1 ]] || fail "the guest restored from the diff exited $rc, expected 1 (pass)"
	expected=$(seq 0 300 | sed 's/^/count /')
	got=$(cat "$snap.out" "$work/mid.out" "$work/r.out" | grep '^count [0-9]')
	[[ $got == "$expected" ]] || fail "the joined consoles do not count 0..300 exactly once: $(diff <(echo "$expected") <(echo "$got") | head -5 | tr '\n' ' ')"
	echo "PASS: base + diff carried on exactly where the diff was taken"
	exit 1 ;;
disk-moved)
	disk=
	for ((i = 0; i < ${#cmd[@]}; i++)); do
		[[ ${cmd[i]} == --disk ]] && disk=${cmd[i + 1]}
	done
	[[ -n $disk ]] || fail "disk-moved needs --disk FILE among the arguments"
	snapshot "$snap"
	cp "$disk" "$work/moved,copy.img"
	timeout 60 "$kestrel" restore "$snap" --override-disk "$disk=$work/moved,copy.img" \
		>"$work/r.out" 2>"$work/r.err"
	rc=$?
	cat "$work/r.err"
	[[ $rc == 1 ]] || fail "the restored guest exited $rc, expected 1 (pass): $(tail -n 3 "$work/r.out")"
	expected=$(seq 0 300 | sed 's/^/count /')
	got=$(cat "$snap.out" "$work/r.out" | grep '^count [0-9]')
	[[ $got == "$expected" ]] || fail "the joined consoles do not count 0..300 exactly once"
	sector() { dd if="$1" bs=512 skip="$2" count=1 status=none | grep -qa "^kestrel count $2\$"; }
	for n in $(seq 0 300); do
		sector "$work/moved,copy.img" "$n" || fail "the new disk has no count $n in sector $n"
	done
	sector "$disk" 300 && fail "the restored guest wrote count 300 into the old disk"
	sector "$disk" 50 || fail "the old disk lost the writes made before the snapshot"
	echo "PASS: the restored guest wrote into the overridden disk, not the saved one"
	exit 1 ;;
api-tap)
	command -v curl >/dev/null || { echo "SKIP: curl missing (scripts/setup.sh installs it)"; exit 77; }
	[[ $(id -u) == 0 && -c /dev/net/tun ]] || { echo "SKIP: needs root and /dev/net/tun"; exit 77; }
	command -v ip >/dev/null || { echo "SKIP: no ip(8)"; exit 77; }
	guest=${cmd[3]}
	ns=kestrel-snap-$$
	ip netns add "$ns" 2>/dev/null || { echo "SKIP: cannot create a network namespace"; exit 77; }
	trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$work"' EXIT
	ip netns exec "$ns" ip tuntap add dev ksnapa mode tap || fail "cannot create TAP ksnapa"
	ip netns exec "$ns" ip tuntap add dev ksnapb mode tap || fail "cannot create TAP ksnapb"
	# start SOCK OUT ERR: a kestrel in the namespace, its API on SOCK
	start() {
		ip netns exec "$ns" "$kestrel" --api-sock "$1" >"$2" 2>"$3" &
		pid=$!
		for ((i = 0; i < 100; i++)); do [[ -S $1 ]] && break; sleep 0.05; done
	}
	start "$work/a.sock" "$snap.out" "$work/a.err"
	[[ $(api "$work/a.sock" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 32}') == 204 ]] ||
		fail "PUT /machine-config: $(cat "$work/api.body")"
	[[ $(api "$work/a.sock" PUT /boot-source "{\"kernel_image_path\": \"$guest\"}") == 204 ]] ||
		fail "PUT /boot-source: $(cat "$work/api.body")"
	[[ $(api "$work/a.sock" PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "ksnapa"}') == 204 ]] ||
		fail "PUT /network-interfaces: $(cat "$work/api.body")"
	[[ $(api "$work/a.sock" PUT /actions '{"action_type": "InstanceStart"}') == 204 ]] ||
		fail "InstanceStart: $(cat "$work/api.body")"
	sleep 0.3
	[[ $(api "$work/a.sock" PATCH /vm '{"state": "Paused"}') == 204 ]] ||
		fail "PATCH /vm Paused: $(cat "$work/api.body")"
	[[ $(api "$work/a.sock" PUT /snapshot/create "{\"snapshot_path\": \"$work/s\", \"mem_file_path\": \"$work/m\"}") == 204 ]] ||
		fail "PUT /snapshot/create: $(cat "$work/api.body")"
	kill -9 "$pid"; wait "$pid" 2>/dev/null
	ip netns exec "$ns" ip link del ksnapa
	load='"snapshot_path": "'$work/s'", "mem_file_path": "'$work/m'"'
	start "$work/c.sock" "$work/c.out" "$work/c.err"
	[[ $(api "$work/c.sock" PUT /snapshot/load "{$load, \"network_overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"ksnapb\"}]}") == 204 ]] ||
		fail "PUT /snapshot/load with network_overrides: $(cat "$work/api.body")"
	# (Opening a TAP name that does not exist creates it: so look at both.)
	ip netns exec "$ns" ip link show ksnapa >/dev/null 2>&1 && at_a=1 || at_a=0
	kill -9 "$pid"; wait "$pid" 2>/dev/null
	grep 'tap,path=ksnapb' "$work/c.err" || fail "the interface was not created on ksnapb: $(cat "$work/c.err")"
	[[ $at_a == 0 ]] || fail "the restored VM opened the saved TAP ksnapa"
	echo "PASS: network_overrides put the saved interface eth0 on TAP ksnapb"
	exit 1 ;;
api)
	api_boot "$snap.out" '{"vcpu_count": 1, "mem_size_mib": 32}'
	[[ $(api "$work/a.sock" PUT /snapshot/create "{\"snapshot_path\": \"$work/s\", \"mem_file_path\": \"$work/m\"}") == 400 ]] ||
		fail "PUT /snapshot/create before the start was not refused"
	[[ $(api "$work/a.sock" PUT /actions '{"action_type": "InstanceStart"}') == 204 ]] ||
		fail "InstanceStart: $(cat "$work/api.body")"
	for ((i = 0; i < 600; i++)); do grep -q '^count 100$' "$snap.out" && break; sleep 0.05; done
	[[ $(api "$work/a.sock" PUT /snapshot/create "{\"snapshot_path\": \"$work/s\", \"mem_file_path\": \"$work/m\"}") == 400 ]] ||
		fail "PUT /snapshot/create of a running VM was not refused"
	grep -q 'must be paused' "$work/api.body" || fail "no reason given: $(cat "$work/api.body")"
	[[ $(api "$work/a.sock" PATCH /vm '{"state": "Paused"}') == 204 ]] ||
		fail "PATCH /vm Paused: $(cat "$work/api.body")"
	[[ $(api "$work/a.sock" PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$work/s\", \"mem_file_path\": \"$work/m\"}") == 204 ]] ||
		fail "PUT /snapshot/create: $(cat "$work/api.body")"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	"$kestrel" --api-sock "$work/b.sock" >"$work/r.out" 2>"$work/r.err" &
	pid=$!
	for ((i = 0; i < 100; i++)); do [[ -S $work/b.sock ]] && break; sleep 0.05; done
	# An override of an interface the snapshot does not have is refused, and
	# the load can then be made.
	[[ $(api "$work/b.sock" PUT /snapshot/load "{\"snapshot_path\": \"$work/s\", \"mem_file_path\": \"$work/m\", \"network_overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"ktap9\"}]}") == 400 ]] ||
		fail "a network_overrides entry naming no saved interface was not refused"
	grep -q 'names no interface' "$work/api.body" || fail "no reason given: $(cat "$work/api.body")"
	[[ $(api "$work/b.sock" PUT /snapshot/load "{\"snapshot_path\": \"$work/s\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$work/m\"}, \"resume_vm\": true}") == 204 ]] ||
		fail "PUT /snapshot/load: $(cat "$work/api.body")"
	timeout 60 tail --pid="$pid" -f /dev/null
	wait "$pid"
	rc=$?
	cat "$work/r.err"
	[[ $rc == 1 ]] || fail "the restored guest exited $rc, expected 1 (pass)"
	expected=$(seq 0 300 | sed 's/^/count /')
	got=$(cat "$snap.out" "$work/r.out" | grep '^count [0-9]')
	[[ $got == "$expected" ]] || fail "the joined consoles do not count 0..300 exactly once: $(diff <(echo "$expected") <(echo "$got") | head -5 | tr '\n' ' ')"
	echo "PASS: snapshot through the API: the count continued exactly"
	exit 1 ;;
api-protected)
	api_boot "$work/a.out" '{"vcpu_count": 1, "mem_size_mib": 128, "kestrel_protected": true}'
	[[ $(api "$work/a.sock" PUT /actions '{"action_type": "InstanceStart"}') == 204 ]] ||
		fail "InstanceStart: $(cat "$work/api.body")"
	for ((i = 0; i < 600; i++)); do grep -q '^count 100$' "$work/a.out" && break; sleep 0.05; done
	grep -q '^count 100$' "$work/a.out" || fail "the protected guest did not count to 100: $(tail -3 "$work/a.err")"
	[[ $(api "$work/a.sock" PATCH /vm '{"state": "Paused"}') == 204 ]] ||
		fail "PATCH /vm Paused: $(cat "$work/api.body")"
	[[ $(api "$work/a.sock" PUT /snapshot/create "{\"snapshot_path\": \"$work/s\", \"mem_file_path\": \"$work/m\"}") == 400 ]] ||
		fail "PUT /snapshot/create of a protected guest was not refused: $(cat "$work/api.body")"
	reason=$(cat "$work/api.body")
	[[ $reason == *protected* ]] || fail "no reason given: $reason"
	[[ -e $work/s || -e $work/m ]] && fail "a refused snapshot left a file behind"
	[[ $(api "$work/a.sock" PATCH /vm '{"state": "Resumed"}') == 204 ]] ||
		fail "PATCH /vm Resumed: $(cat "$work/api.body")"
	timeout 60 tail --pid="$pid" -f /dev/null
	wait "$pid"
	rc=$?
	[[ $rc == 1 ]] || fail "the protected guest exited $rc after the refusal, expected 1 (pass): $(tail -3 "$work/a.err")"
	grep -q '^count 300$' "$work/a.out" || fail "the protected guest did not finish its count"
	echo "PASS: refused with $reason; the guest ran on to the end of its count"
	exit 1 ;;
pci-refused)
	mkdir -p "$snap"
	"${cmd[@]}" --snapshot "$snap" >"$snap.out" 2>"$snap.err" &
	pid=$!
	for ((i = 0; i < 600; i++)); do
		grep -q '^count 100$' "$snap.out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -USR1 "$pid" 2>/dev/null
	timeout 60 tail --pid="$pid" -f /dev/null
	wait "$pid"
	rc=$?
	cat "$snap.err"
	reason=$(grep 'snapshot: not written' "$snap.err")
	[[ $reason == *virtio-pci* ]] || fail "no refusal naming virtio-pci in kestrel's log"
	[[ $(grep -c 'snapshot: not written' "$snap.err") == 1 ]] || fail "not one refusal line"
	[[ -e $snap/state ]] && fail "a refused snapshot left a state file"
	[[ $rc == 1 ]] || fail "the guest exited $rc after the refusal, expected 1 (pass)"
	grep -q '^count 300$' "$snap.out" || fail "the guest did not finish its count"
	echo "PASS: refused ($reason); the guest ran on to the end of its count"
	exit 1 ;;
*) fail "unknown mode (expected plain, disk-moved, encrypted, wrong-key, truncated, swapped-chunk, flipped-bit, other-snapshot, plain-flipped-bit, plain-bad-dev-state)" ;;
esac

# Restore in a new process and let the guest finish its count.
keyargs=()
[[ $mode == encrypted ]] && keyargs=(--snapshot-key "$key")
start=$(date +%s%N)
timeout 60 "$kestrel" restore "$snap" "${keyargs[@]}" >"$work/r.out" 2>"$work/r.err"
rc=$?
cat "$work/r.err"
echo "first kestrel's console ends: $(tail -c 40 "$snap.out" | tr '\n' ' ')"
echo "restored console starts:     $(head -c 40 "$work/r.out" | tr '\n' ' ')"
[[ $rc == 1 ]] || fail "restored guest exited $rc, expected 1 (pass): $(tail -n 3 "$work/r.out")"
expected=$(seq 0 300 | sed 's/^/count /')
got=$(cat "$snap.out" "$work/r.out" | grep '^count [0-9]')
[[ $got == "$expected" ]] || fail "the joined consoles do not count 0..300 exactly once: $(diff <(echo "$expected") <(echo "$got") | head -5 | tr '\n' ' ')"
grep -q '^count done$' "$work/r.out" || fail "the restored guest reported failures"
grep -q '^count 0$' "$work/r.out" && fail "the restored guest started over"
echo "PASS: snapshot $mode: the count continued exactly ($(( ($(date +%s%N) - start) / 1000000 )) ms restore+run)"
exit 1
