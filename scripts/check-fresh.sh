#!/bin/bash
# make check-fresh: the README's first command on a new Debian 12 machine.
#
# debootstrap a minimal bookworm into a chroot, clone this repository's HEAD
# into it, install make (what a user needs to type `make` at all), and run
# `make run` there with /dev/kvm bound in: the build must install what it
# needs by itself (scripts/setup.sh build) and the built-in guest must boot.
# Not part of `make check`: it downloads (~250 MB from the host's Debian
# mirror) and takes minutes; tests/build/packages.py is its quick stand-in.
#
#   FRESH_ROOT=DIR     build the chroot in DIR and keep it (default: a
#                      temporary directory, removed at the end)
#   FRESH_TARGET=T     make target to run in it (default run; check runs the
#                      whole suite, which also installs the test group)
#   MIRROR=URL         Debian mirror (default: the host's first apt source)
#
# Exit 0 pass, 1 fail, 77 skip (not root, no /dev/kvm, no network mirror).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${FRESH_TARGET:-run}

skip() { echo "SKIP: check-fresh: $*"; exit 77; }
fail() { echo "FAIL: check-fresh: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || skip "needs root (debootstrap, chroot, mount)"
[[ -e /dev/kvm ]] || skip "no /dev/kvm to boot the guest with"
command -v debootstrap >/dev/null || skip "no debootstrap (scripts/setup.sh test installs it)"

host_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] && awk '/^URIs:/ && $2 ~ /\/debian\/?$/ { print $2; exit }' "$f"
	done
	[[ -f /etc/apt/sources.list ]] &&
		awk '$1 == "deb" && $2 ~ /\/debian\/?$/ { print $2; exit }' /etc/apt/sources.list
	return 0
}
MIRROR=${MIRROR:-$(host_mirror | head -n1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

if [[ -n ${FRESH_ROOT:-} ]]; then
	ROOT=$FRESH_ROOT
	mkdir -p "$ROOT"
	keep=1
else
	ROOT=$(mktemp -d "${TMPDIR:-/var/tmp}/kestrel-fresh.XXXXXX")
	keep=0
fi
LOG=$ROOT.log
mounted=()
cleanup() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" || true
	done
	((keep)) || rm -rf --one-file-system "$ROOT"
}
trap cleanup EXIT

start=$SECONDS
echo "check-fresh: debootstrap bookworm from $MIRROR into $ROOT (log $LOG)"
if [[ ! -x $ROOT/bin/sh ]]; then
	debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$LOG" 2>&1 ||
		skip "debootstrap failed (no mirror reachable?): $(tail -n 2 "$LOG" | tr '\n' ' ')"
fi
echo "check-fresh: base system in $((SECONDS - start)) s"

# The committed tree, as a fresh clone sees it.
rm -rf "$ROOT/root/kestrel"
git clone -q --no-hardlinks "$TOP" "$ROOT/root/kestrel"
git -C "$ROOT/root/kestrel" checkout -q "$(git -C "$TOP" rev-parse HEAD)"

cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
mount -t proc proc "$ROOT/proc" && mounted+=("$ROOT/proc")
[[ -e $ROOT/dev/kvm ]] || touch "$ROOT/dev/kvm"
mount --bind /dev/kvm "$ROOT/dev/kvm" && mounted+=("$ROOT/dev/kvm")

in_root() {
	chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# What the README assumes is there: make. Everything else is the build's job.
in_root sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends make' \
	>>"$LOG" 2>&1 || fail "cannot install make in the chroot: $(tail -n 3 "$LOG" | tr '\n' ' ')"
if in_root sh -c 'command -v gcc || test -e /usr/include/liburing.h' >/dev/null; then
	fail "the chroot is not fresh: gcc or liburing.h are there before make runs"
fi

echo "check-fresh: make $TARGET in the chroot"
t=$SECONDS
set +e
in_root timeout 1800 make -C /root/kestrel -j2 "$TARGET" 2>&1 | tee -a "$LOG" | tail -n 15
rc=${PIPESTATUS[0]}
set -e
echo "check-fresh: make $TARGET exited $rc after $((SECONDS - t)) s ($((SECONDS - start)) s in all)"
((rc == 0)) || fail "make $TARGET failed on a fresh Debian 12 (log $LOG)"
if [[ $TARGET == run ]] && ! grep -q "Hello from kestrel's built-in guest" "$LOG"; then
	fail "make run exited 0 but the built-in guest did not greet (log $LOG)"
fi
echo "PASS: check-fresh: make $TARGET works as the first command on a fresh Debian 12"
