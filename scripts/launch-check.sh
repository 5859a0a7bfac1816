#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The measured launch of a protected guest (docs/protected.md), as a
# guest-test wrapper: scripts/launch-check.sh MODE KESTREL run --kernel
# PAYLOAD ... (guest/x86/unittests.cfg appends the command line). Each mode
# runs kestrel as a user would and exits 1 when what it saw is right (the
# status of a passing guest test), 3 when not, saying why:
#
#   (every mode)     a first run prints the measurement M the stub computed
#                    (kestrel prints it: the stub prints nothing): M is the
#                    SHA-256 of docs/protected.md's launch string, computed
#                    here from the files
#   good             with an initrd the measurement changes, and is again
#                    the one computed here; a run with --expect-measurement
#                    of it boots the payload, which prints the stub's
#                    measurement from its launch info: the same
#   wrong            --expect-measurement of another value: refused, status 81
#   tampered         the payload with one byte flipped, the expected M of the
#                    original: refused, status 81
#   sealed           kestrel seal-image with a new key; run with --image-key:
#                    the payload runs, and the plaintext is nowhere in the
#                    sealed file
#   sealed-tampered  one ciphertext byte flipped: refused, status 83
#   wrong-key        another key: refused, status 83
#   malformed        a sealed image whose header's length is not its own:
#                    kestrel passes it on (it starts like one), the stub
#                    refuses it before decrypting anything: status 85, the
#                    reason naming it
#   reboot           --reboot --cmdline reset (given): the payload resets; every boot prints a
#                    measurement (kestrel's line and the payload's, both M) and
#                    runs the payload; stopped with SIGTERM after the second
#   cpl0             --payload-cpl 0: where supervisor code runs natively
#                    (VMX/SVM) the payload runs and passes; on PVM its first
#                    fetch from private RAM is emulated and cannot be: the VM
#                    stops as crashed (status 6), no register dumped
#   window-control   (KESTREL_LAUNCH_HOOK=keep-window, kestrel-test) the window
#                    is left in place: the payload's probe of it must fail,
#                    proof that the probe can
set -u
mode=$1
shift
cmd=("$@")
payload=
cmdline=
for ((i = 0; i < ${#cmd[@]}; i++)); do
	[[ ${cmd[i]} == --kernel ]] && payload=${cmd[i + 1]}
	[[ ${cmd[i]} == --cmdline ]] && cmdline=${cmd[i + 1]}
done
kestrel=${cmd[0]}
dir=$(mktemp -d "${TMPDIR:-/tmp}/launch-check.XXXXXX") || exit 4
trap 'rm -rf "$dir"' EXIT

fail() {
	echo "FAIL: launch-check $mode: $*"
	exit 3
}

# Run @cmd with the payload replaced by $1 and more arguments; output in
# $dir/out, status in $rc.
run() {
	local kernel=$1 c=("${cmd[@]}")
	shift
	for ((i = 0; i < ${#c[@]}; i++)); do
		[[ ${c[i]} == --kernel ]] && c[i + 1]=$kernel
	done
	"${c[@]}" "$@" >"$dir/out" 2>&1
	rc=$?
	cat "$dir/out"
}

measurement() {
	sed -n "s/^$1measurement \([0-9a-f]\{64\}\)$/\1/p" "$dir/out" | head -1
}

# The launch measurement of image $1, command line $2 and initrd $3 (optional):
# SHA-256("KLAUNCH1" || le64 len || image || le64 len || cmdline || le64 len || initrd).
launch_string_sha256() {
	python3 - "$@" <<'EOF'
import hashlib, struct, sys
parts = [open(sys.argv[1], 'rb').read(), sys.argv[2].encode(),
         open(sys.argv[3], 'rb').read() if len(sys.argv) > 3 else b'']
h = hashlib.sha256(b'KLAUNCH1')
for p in parts:
    h.update(struct.pack('<Q', len(p)))
    h.update(p)
print(h.hexdigest())
EOF
}

# Flip byte $2 of file $1.
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	# shellcheck disable=SC2059 # the format is the one octal escape
	printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

expect_refused() {
	[[ $rc == "$1" ]] || fail "exit status $rc, expected $1"
	grep -q "launch: the stub refused the image: $2" "$dir/out" ||
		fail "no line saying the stub refused it: $2"
	grep -q '^PASS: payload' "$dir/out" && fail "the payload ran"
	echo "PASS: launch-check $mode: refused with status $rc"
	exit 1
}

run "$payload" --measured
m=$(measurement 'kestrel: launch: ')
[[ -n $m ]] || fail "kestrel printed no measurement"
want=$(launch_string_sha256 "$payload" "$cmdline") || fail "cannot compute the measurement"
[[ $m == "$want" ]] || fail "the stub's measurement $m is not the launch string's SHA-256 $want"

case $mode in
good)
	# With an initrd (the measurement changes) whose byte sum the payload prints.
	head -c 20000 /dev/urandom >"$dir/initrd"
	sum=$(od -An -v -tu1 "$dir/initrd" | tr -s ' ' '\n' | awk '{ s += $1 } END { print s }')
	run "$payload" --measured --initrd "$dir/initrd"
	mi=$(measurement 'kestrel: launch: ')
	[[ -n $mi && $mi != "$m" ]] || fail "the initrd did not change the measurement ($m, $mi)"
	[[ $mi == "$(launch_string_sha256 "$payload" "$cmdline" "$dir/initrd")" ]] ||
		fail "with the initrd, the stub's measurement $mi is not the launch string's SHA-256"
	run "$payload" --expect-measurement "$mi" --initrd "$dir/initrd"
	[[ $rc == 1 ]] || fail "exit status $rc, expected 1 (the payload passed)"
	[[ $(measurement 'payload: ') == "$mi" ]] || fail "the payload's measurement is not $mi"
	grep -q 'boot window zeroed and removed; sealing' "$dir/out" || fail "no seal line"
	grep -q "^payload: initrd 20000 bytes, sum $sum\$" "$dir/out" ||
		fail "the payload did not find the initrd (20000 bytes, sum $sum)"
	grep -q "^payload: cmdline '.*'\$" "$dir/out" || fail "no command line line"
	want=$(sed -n "s/.*--cmdline \([^ ]*\).*/\1/p" <<<"${cmd[*]}")
	grep -q "^payload: cmdline '$want'\$" "$dir/out" || fail "the command line is not '$want'"
	echo "PASS: launch-check good: measurement $mi expected, found; the payload ran with its command line and initrd"
	exit 1 ;;
wrong)
	run "$payload" --expect-measurement "$(printf '%064d' 0)"
	expect_refused 81 'not the expected measurement' ;;
tampered)
	cp "$payload" "$dir/p" && flip "$dir/p" 100
	run "$dir/p" --expect-measurement "$m"
	expect_refused 81 'not the expected measurement' ;;
sealed | sealed-tampered | wrong-key | malformed)
	head -c 32 /dev/urandom >"$dir/key" && head -c 32 /dev/urandom >"$dir/key2"
	head -c 31 /dev/urandom >"$dir/short"
	"$kestrel" seal-image --key "$dir/short" "$payload" "$dir/bad" 2>"$dir/err"
	st=$?
	if [[ $st != 2 || -e $dir/bad ]] || ! grep -q 'exactly 32 bytes' "$dir/err"; then
		fail "seal-image with a 31-byte key: status $st, not a usage error naming the size"
	fi
	"$kestrel" seal-image --key "$dir/key" "$payload" "$dir/sealed" || fail "seal-image failed"
	[[ $(stat -c %s "$dir/sealed") == $(($(stat -c %s "$payload") + 64)) ]] ||
		fail "the sealed image is not 64 bytes longer than the payload"
	# The payload's first 32 bytes (its entry's code) are not in it.
	head -c 32 "$payload" | od -An -tx1 | tr -d ' \n' >"$dir/head"
	od -An -tx1 "$dir/sealed" | tr -d ' \n' | grep -qf "$dir/head" &&
		fail "the payload's first bytes are readable in the sealed image"
	case $mode in
	sealed)
		run "$dir/sealed" --measured
		if [[ $rc != 2 ]] || ! grep -q 'a sealed image needs its key' "$dir/out"; then
			fail "a sealed image without --image-key: status $rc, not a usage error"
		fi
		run "$dir/sealed" --image-key "$dir/key"
		[[ $rc == 1 ]] || fail "exit status $rc, expected 1 (the payload passed)"
		grep -q '^PASS: payload: runs from private RAM' "$dir/out" || fail "the payload did not run"
		echo "PASS: launch-check sealed: decrypted in the guest and run"
		exit 1 ;;
	sealed-tampered)
		flip "$dir/sealed" 200
		run "$dir/sealed" --image-key "$dir/key"
		expect_refused 83 'the sealed image does not authenticate' ;;
	wrong-key)
		run "$dir/sealed" --image-key "$dir/key2"
		expect_refused 83 'the sealed image does not authenticate' ;;
	malformed)
		flip "$dir/sealed" 16
		run "$dir/sealed" --image-key "$dir/key"
		expect_refused 85 'the launch window or the image is malformed (not a sealed image)' ;;
	esac ;;
reboot)
	c=("${cmd[@]}" --expect-measurement "$m" --reboot)
	"${c[@]}" >"$dir/out" 2>&1 &
	pid=$!
	for ((t = 0; t < 400; t++)); do
		(($(grep -c '^payload: resetting' "$dir/out") >= 2)) && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	cat "$dir/out"
	n=$(grep -c "^kestrel: launch: measurement $m\$" "$dir/out")
	p=$(grep -c "^payload: measurement $m\$" "$dir/out")
	((n >= 2 && p >= 2)) ||
		fail "measured boots: kestrel $n, payload $p (expected 2 or more each)"
	grep -q 'starting it again in a new process (boot 2)' "$dir/out" || fail "no second boot"
	echo "PASS: launch-check reboot: each boot measured ($n) and the payload ran"
	exit 1 ;;
cpl0)
	run "$payload" --expect-measurement "$m" --payload-cpl 0
	grep -q 'launch: boot window zeroed and removed; sealing; the payload runs at CPL 0' "$dir/out" ||
		fail "kestrel did not ask for the payload at CPL 0"
	if [[ $rc == 1 ]] && grep -q '^PASS: payload: runs from private RAM' "$dir/out"; then
		echo "PASS: launch-check cpl0: the payload ran at CPL 0 (supervisor code is native here)"
		exit 1
	fi
	[[ $rc == 6 ]] || fail "exit status $rc, expected 6 (PVM) or 1 (native)"
	grep -q 'registers: protected guest, not dumped' "$dir/out" || fail "no 'not dumped' line"
	grep -q 'vcpu0: rip' "$dir/out" && fail "registers were dumped"
	echo "PASS: launch-check cpl0: emulated supervisor code cannot run from private RAM (PVM): stopped"
	exit 1 ;;
window-control)
	cmd[0]=${kestrel%/*}/kestrel-test
	[[ -x ${cmd[0]} ]] || fail "${cmd[0]} is not built"
	KESTREL_LAUNCH_HOOK=keep-window run "$payload" --expect-measurement "$m"
	[[ $rc == 3 ]] || fail "exit status $rc, expected 3 (the payload's probe fails)"
	grep -q '^FAIL: payload: the boot window at 0x[0-9a-f]* is gone (reads 0x3148434e55414c4b)' "$dir/out" ||
		fail "the payload did not see the window's magic"
	grep -q '^FAIL: payload: the boot window is gone natively too (reads 0x3148434e55414c4b)' "$dir/out" ||
		fail "the payload's native probe did not see the window's magic"
	echo "PASS: launch-check window-control: a window left in place is seen"
	exit 1 ;;
*)
	fail "unknown mode" ;;
esac
