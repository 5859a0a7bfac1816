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
# Tests that need the host to take part (unittests.cfg keys):
#   tmpfile = SIZE    a zeroed temporary file of SIZE (truncate -s) exists for
#                     the run; $TMPFILE in extra_params names it
#   wrapper = CMD     CMD gets the kestrel command line appended and runs it
#                     (a netns helper, say); 77 from it skips, with its
#                     "SKIP: reason" line
#   host_check = CMD  shell command run after the guest passed, with TMPFILE
#                     and LOG (kestrel's output) in its environment; if it
#                     fails, so does the test
#   expect = STATUS   the exit status that means "passed" instead of 1: 0 for
#                     a guest that passes by powering the machine off (ACPI
#                     S5); a host_check then says how it got there
#
# Environment: B (build dir, default build), KESTREL (binary, default
# $B/kestrel), GUEST_TIMEOUT (override every test's timeout, seconds).
set -u
B=${B:-build}
KESTREL=${KESTREL:-$B/kestrel}
CFG=${CFG:-guest/x86/unittests.cfg}
GUEST_DIR=$B/guest/x86

# Print "name|file|smp|extra|timeout|tmpfile|wrapper|host_check|expect" per
# section, fields separated by \037 (commands may hold any other byte).
cfg_entries() {
	awk '
	function flush() {
		if (name != "")
			printf "%s\037%s\037%s\037%s\037%s\037%s\037%s\037%s\037%s\n", name, file,
			       smp, extra, timeout, tmpfile, wrapper, check, expect
	}
	/^[ \t]*(#|$)/ { next }
	/^\[.*\]$/ {
		flush()
		name = substr($0, 2, length($0) - 2)
		file = name ".elf"; smp = 1; extra = ""; timeout = 90
		tmpfile = ""; wrapper = ""; check = ""; expect = 1
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
		else if (k == "tmpfile") tmpfile = v
		else if (k == "wrapper") wrapper = v
		else if (k == "host_check") check = v
		else if (k == "expect") expect = v
	}
	END { flush() }
	' "$CFG"
}

if [[ ${1:-} == --list ]]; then
	cfg_entries | cut -d$'\037' -f1
	exit 0
fi
if [[ $# -ne 1 || $1 == -* ]]; then
	echo "usage: $0 --list | NAME" >&2
	exit 2
fi

entry=$(cfg_entries | awk -F'\037' -v n="$1" '$1 == n')
if [[ -z $entry ]]; then
	echo "FAIL: no test named '$1' in $CFG" >&2
	exit 1
fi
IFS=$'\037' read -r name file smp extra timeout tmpsize wrapper host_check expect <<<"$entry"
expect=${expect:-1}
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
TMPFILE=
trap 'rm -f "$log" ${TMPFILE:+"$TMPFILE"}' EXIT
if [[ -n $tmpsize ]]; then
	TMPFILE=$(mktemp "${TMPDIR:-/tmp}/guest-$name-file.XXXXXX") &&
		truncate -s "$tmpsize" "$TMPFILE" || {
		echo "FAIL: $name: cannot create a $tmpsize temporary file"
		exit 1
	}
	extra=${extra//\$TMPFILE/$TMPFILE}
fi
# shellcheck disable=SC2086 # extra_params and wrapper are word lists by design
cmd=($wrapper "$KESTREL" run --kernel "$GUEST_DIR/$file" --cpus "$smp" $extra)
echo "+ ${cmd[*]}"
start=$SECONDS
timeout -k 5 "$timeout" "${cmd[@]}" </dev/null >"$log" 2>&1
rc=$?
# The whole console: the runner shows its tail (with this verdict) on failure.
cat "$log"
t=$((SECONDS - start))

if [[ $rc == "$expect" && -n $host_check ]]; then
	echo "+ host check: $host_check"
	if ! TMPFILE=$TMPFILE LOG=$log bash -c "$host_check"; then
		echo "FAIL: $name: host check failed: $host_check"
		exit 1
	fi
fi

if [[ $rc == "$expect" ]]; then
	echo "PASS: $name (${t}s)"
	exit 0
fi
case $rc in
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
