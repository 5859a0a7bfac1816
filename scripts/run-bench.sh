#!/bin/bash
# Run each benchmark binary given and every executable bench/*.sh; print their figures.
set -u
B=${B:-build}
for b in "$@"; do echo "== $(basename "$b")"; "$b" || echo "   (exited $?)"; done
for s in $(find bench -maxdepth 1 -name '*.sh' -perm -u+x 2>/dev/null | sort); do
	echo "== $(basename "$s" .sh)"; B=$B "$s" || echo "   (exited $?)"
done
