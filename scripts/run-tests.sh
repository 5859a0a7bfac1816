#!/bin/bash
# Run every test and print the summary as the last line: "N passed, N failed, N skipped".
# A test is a command exiting 0 (pass), 77 (skip; it prints why) or anything
# else (fail). Test output goes to $B/test-logs/<name>.log; a failure prints
# the log's tail.
#
#   build   every executable tests/build/* (checks of the build itself: what
#           a fresh machine needs, tests/build/packages.py)
#   unit    every $B/tests/unit/*/*_test
#   fuzz    every $B/fuzz/*, run for FUZZ_SECONDS on an in-tree seed corpus
#   guest   every test scripts/guest-test.sh --list names
#   peers   every executable tests/peers/*.sh
#   sandbox every executable tests/sandbox/*.sh (Landlock, kestrel jail)
#   e2e     tests/e2e/check.sh, if present
set -u
B=${B:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-5}
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
LOGS=$B/test-logs
mkdir -p "$LOGS"
pass=0 fail=0 skip=0
failed=()

run_one() {
	local name=$1; shift
	local log=$LOGS/${name//\//_}.log rc start=$SECONDS
	timeout -k 10 "$TEST_TIMEOUT" "$@" >"$log" 2>&1 </dev/null
	rc=$?
	local t=$((SECONDS - start))
	case $rc in
	0) pass=$((pass + 1)); printf 'PASS  %-40s %3ds\n' "$name" "$t" ;;
	77) skip=$((skip + 1)); printf 'SKIP  %-40s %s\n' "$name" "$(grep -m1 -i skip "$log" | cut -c1-100)" ;;
	*) fail=$((fail + 1)); failed+=("$name")
	   printf 'FAIL  %-40s %3ds (exit %d, log %s)\n' "$name" "$t" "$rc" "$log"
	   tail -n 20 "$log" | sed 's/^/      | /' ;;
	esac
}

for t in $(find tests/build -maxdepth 1 -type f -perm -u+x 2>/dev/null | sort); do
	n=$(basename "$t")
	run_one "build/${n%.*}" env B="$B" "$t"
done

for t in $(find "$B/tests/unit" -type f -name '*_test' -perm -u+x 2>/dev/null | sort); do
	run_one "unit/${t#"$B"/tests/unit/}" "$t"
done

for f in $(find "$B/fuzz" -maxdepth 1 -type f -perm -u+x 2>/dev/null | sort); do
	n=$(basename "$f")
	corpus=$B/corpus/$n
	mkdir -p "$corpus"
	seeds=()
	[[ -d tests/fuzz/corpus/$n ]] && seeds=(tests/fuzz/corpus/$n)
	run_one "fuzz/$n" "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		"$corpus" "${seeds[@]}"
done

if [[ -x scripts/guest-test.sh ]]; then
	for g in $(B=$B scripts/guest-test.sh --list); do
		run_one "guest/$g" env B="$B" scripts/guest-test.sh "$g"
	done
fi

for p in $(find tests/peers -maxdepth 1 -name '*.sh' -perm -u+x 2>/dev/null | sort); do
	run_one "peers/$(basename "$p" .sh)" env B="$B" "$p"
done

for p in $(find tests/sandbox -maxdepth 1 -name '*.sh' -perm -u+x 2>/dev/null | sort); do
	run_one "sandbox/$(basename "$p" .sh)" env B="$B" "$p"
done

if [[ -x tests/e2e/check.sh ]]; then
	TEST_TIMEOUT=${E2E_TIMEOUT:-900} run_one "e2e/nested-boot" env B="$B" tests/e2e/check.sh
fi

((fail)) && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
((fail == 0))
