#!/bin/bash
# Boot one guest test under kestrel and turn its exit status into a result.
#
#   scripts/guest-test.sh --list      test names from guest/x86/unittests.cfg
#   scripts/guest-test.sh NAME        run NAME: exit 0 pass, 77 skip, 1 fail
#
# kestrel exits with the guest's debug-exit status (v << 1) | 1: the guest
# writes 0 on pass (1), 1 on failure (3) and 38 when everything was skipped
# (77). Anything else - a timeout, a crash, a reset - is a failure.
#
# Environment: B (build dir, default build), KESTREL (binary, default
# $B/kestrel), GUEST_TIMEOUT (override every test's timeout, seconds).
set -u
B=${B:-build}
KESTREL=${KESTREL:-$B/kestrel}
CFG=${CFG:-guest/x86/unittests.cfg}
GUEST_DIR=$B/guest/x86

# Print "name|file|smp|extra|timeout" per section.
cfg_entries() {
	awk '
	function flush() {
		if (name != "")
			printf "%s|%s|%s|%s|%s\n", name, file, smp, extra, timeout
	}
	/^[ \t]*(#|$)/ { next }
	/^\[.*\]$/ {
		flush()
		name = substr($0, 2, length($0) - 2)
		file = name ".elf"; smp = 1; extra = ""; timeout = 90
		next
	}
	{
		i = index($0, "=")
		if (!i)
			next
		k = substr($0, 1, i - 1); v = substr($0, i + 1)
		gsub(/^[ \t]+|[ \t]+$/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", v)
		if (k == "file") file = v
		else if (k == "smp") smp = v
		else if (k == "extra_params") extra = v
		else if (k == "timeout") timeout = v
	}
	END { flush() }
	' "$CFG"
}

if [[ ${1:-} == --list ]]; then
	cfg_entries | cut -d'|' -f1
	exit 0
fi
if [[ $# -ne 1 || $1 == -* ]]; then
	echo "usage: $0 --list | NAME" >&2
	exit 2
fi

entry=$(cfg_entries | awk -F'|' -v n="$1" '$1 == n')
if [[ -z $entry ]]; then
	echo "FAIL: no test named '$1' in $CFG" >&2
	exit 1
fi
IFS='|' read -r name file smp extra timeout <<<"$entry"
timeout=${GUEST_TIMEOUT:-$timeout}

if [[ ! -e /dev/kvm ]] || ! (exec 3<>/dev/kvm) 2>/dev/null; then
	echo "SKIP: no /dev/kvm (missing or not accessible)"
	exit 77
fi
if [[ ! -x $KESTREL ]]; then
	echo "FAIL: $KESTREL not built (run make)"
	exit 1
fi
if [[ ! -f $GUEST_DIR/$file ]]; then
	echo "FAIL: $GUEST_DIR/$file not built (run make)"
	exit 1
fi

log=$(mktemp "${TMPDIR:-/tmp}/guest-$name.XXXXXX")
trap 'rm -f "$log"' EXIT
# shellcheck disable=SC2086 # extra_params is a word list by design
cmd=("$KESTREL" run --kernel "$GUEST_DIR/$file" --cpus "$smp" $extra)
echo "+ ${cmd[*]}"
start=$SECONDS
timeout -k 5 "$timeout" "${cmd[@]}" </dev/null >"$log" 2>&1
rc=$?
# The whole console: the runner shows its tail (with this verdict) on failure.
cat "$log"
t=$((SECONDS - start))

case $rc in
1)
	echo "PASS: $name (${t}s)"
	exit 0 ;;
77)
	echo "SKIP: $name: $(grep -m1 '^SKIP:' "$log" | cut -c7-)"
	exit 77 ;;
124|137)
	echo "FAIL: $name timed out after ${timeout}s" ;;
3)
	echo "FAIL: $name reported failures" ;;
*)
	echo "FAIL: $name: kestrel exited with status $rc" ;;
esac
exit 1
