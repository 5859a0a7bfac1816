#!/bin/bash
# kestrel jail --cgroup (cgroup v2, docs/jail.md): the jailed process runs
# in <cgroup2 mount>/<parent>/<id> with the values written there, for the
# default parent (the exec file's name) and a --parent-cgroup two levels
# deep. The setting is pids.max, memory.max or cpu.max, whichever
# controller the v2 hierarchy has; else a hugetlb limit (hosts whose
# controllers v1 holds); else the test skips.
# Exit 0 pass, 1 fail, 77 skip (not root, no /dev/kvm, no usable cgroup v2).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/sandbox/lib.sh
[[ $(id -u) == 0 ]] || skip "needs root"
need_kvm
need_bins "$KESTREL"
need curl

CG=$(awk '$9 == "cgroup2" { print $5; exit }' FS=' ' /proc/self/mountinfo)
[[ -n $CG ]] || CG=$(awk '{ for (i = 1; i < NF; i++) if ($i == "-" && $(i + 1) == "cgroup2") { print $5; exit } }' /proc/self/mountinfo)
[[ -n $CG && -w $CG/cgroup.subtree_control ]] || skip "no writable cgroup v2 hierarchy is mounted"
ctrls=" $(cat "$CG/cgroup.controllers") "
if [[ $ctrls == *" pids "* ]]; then set_=pids.max=77
elif [[ $ctrls == *" memory "* ]]; then set_=memory.max=268435456
elif [[ $ctrls == *" cpu "* ]]; then set_="cpu.max=50000 100000"
elif [[ $ctrls == *" hugetlb "* ]]; then
	size=$(ls /sys/kernel/mm/hugepages 2>/dev/null | head -1 | sed 's/hugepages-//; s/kB//')
	[[ -n $size ]] || skip "the cgroup v2 hierarchy has only hugetlb and the kernel no huge page size"
	if ((size >= 1048576)); then unit=$((size / 1048576))GB; else unit=$((size / 1024))MB; fi
	set_=hugetlb.$unit.max=$((size * 1024 * 4))
else
	skip "the cgroup v2 hierarchy at $CG has no controller to set (cgroup.controllers: '$(cat "$CG/cgroup.controllers")')"
fi
file=${set_%%=*} value=${set_#*=}
ctrl=${file%%.*}
# The jailer enables the controller on the way down; put the root back after.
was_enabled=0
[[ " $(cat "$CG/cgroup.subtree_control") " == *" $ctrl "* ]] && was_enabled=1
echo "using --cgroup $set_ in $CG"

W=$(mktemp -d /tmp/kestrel-jailcg.XXXXXX)
chmod 755 "$W"
pid=
made=()
cleanup() {
	[[ -n $pid ]] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	for d in "${made[@]}"; do rmdir "$d" 2>/dev/null; done
	((was_enabled)) || echo "-$ctrl" >"$CG/cgroup.subtree_control" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

# jailed ID PARENT-ARGS...: the Firecracker mode jailed in the cgroup, checked, stopped
jailed() {
	local id=$1 rel=$2; shift 2
	local dir=$CG/$rel/$id
	made=("$dir" "${made[@]}")
	"$KESTREL" jail --id "$id" --exec-file "$KESTREL" --uid 1234 --gid 1234 \
		--chroot-base-dir "$W/base" --cgroup-version 2 --cgroup "$set_" "$@" \
		-- --api-sock /api.sock >"$W/$id.out" 2>&1 &
	pid=$!
	for _ in $(seq 100); do [[ -S $W/base/kestrel/$id/root/api.sock ]] && break; sleep 0.05; done
	[[ -S $W/base/kestrel/$id/root/api.sock ]] || { fail "$id: did not start: $(cat "$W/$id.out")"; return; }
	grep -qx "0::/$rel/$id" /proc/$pid/cgroup && pass "$id: runs in cgroup /$rel/$id" ||
		fail "$id: /proc/$pid/cgroup: $(cat /proc/$pid/cgroup | tr '\n' ' ')"
	got=$(cat "$dir/$file" 2>&1)
	[[ $got == "$value" ]] && pass "$id: $file is '$value'" || fail "$id: $dir/$file is '$got'"
	kill -TERM "$pid"; wait "$pid"; pid=
}
jailed cg1 kestrel
made+=("$CG/kestrel")
jailed cg2 kestrel-test-parent/vms --parent-cgroup kestrel-test-parent/vms
made+=("$CG/kestrel-test-parent/vms" "$CG/kestrel-test-parent")
finish
