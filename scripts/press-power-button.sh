#!/bin/bash
# Run a kestrel command line and press the guest's ACPI power button once
# the guest says it is ready: unittests.cfg's wrapper for the acpi-pwrbtn
# guest test.
#
#   scripts/press-power-button.sh KESTREL-COMMAND...
#
# The command's output passes through; when a line holds "waiting for the
# power button", kestrel gets SIGPWR, which `kestrel run` turns into a
# press of the button (docs/acpi-pm.md). Exit: the command's status; 3 (a
# guest failure) if the guest never said it was ready.
set -u
out=$(mktemp "${TMPDIR:-/tmp}/kestrel-pwrbtn.XXXXXX")
trap 'rm -f "$out"' EXIT
"$@" > >(tee "$out") 2>&1 &
pid=$!
ready=0
for _ in $(seq 300); do
	if grep -q 'waiting for the power button' "$out"; then
		ready=1
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
[[ $ready == 1 ]] && kill -PWR "$pid" 2>/dev/null
wait "$pid"
rc=$?
wait	# the tee
if [[ $ready != 1 ]]; then
	echo "press-power-button: the guest never said it was waiting for the power button"
	[[ $rc == 0 ]] && rc=3
fi
exit $rc
