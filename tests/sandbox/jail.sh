#!/bin/bash
# kestrel jail (docs/jail.md), as root:
#   args       bad ids, exec files, cgroup and limit settings: exit 2, one line
#   run        the built-in guest under `jail ... --new-pid-ns -- run`: its
#              output, exit 0; inside, uid/gid 1234, no capability,
#              no_new_privs, /etc/passwd absent, the exec file denied by
#              Landlock, the test's own PID invisible, loopback TCP refused
#   hostile    a chroot left with root/dev and the exec file as symlinks to
#              the host: the jailer replaces them and writes nothing
#              through them; <base>/<name> a symlink: refused
#   fc         the Firecracker mode jailed, API socket in the chroot: from
#              outside, /proc says uid/gid 1234, CapEff/CapPrm/CapBnd 0,
#              NoNewPrivs 1, another mount namespace whose / holds only
#              the chroot, no inherited fd, the --resource-limit values,
#              the --netns namespace; InstanceStart runs the guest
#   pidns      --new-pid-ns: kestrel is PID 1 there, its host PID in the
#              PID file; the waiting parent is unprivileged and forwards
#              SIGTERM (kestrel stops cleanly, 130)
#   kata       Kata's argument list to a link named kestrel-jailer (--node 0,
#              uid 0, --daemonize, -- --config-file): the VM starts from the config file, logs in
#              the chroot, runs with no capability although uid 0
# Exit 0 pass, 1 fail, 77 skip (not root, no /dev/kvm).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/sandbox/lib.sh
[[ $(id -u) == 0 ]] || skip "needs root (the jailer makes device nodes and changes user)"
need_kvm
need_bins "$KESTREL" "$KTEST"
need python3
need curl

W=$(mktemp -d /tmp/kestrel-jail.XXXXXX)
chmod 755 "$W"
pid=
cleanup() {
	[[ -n $pid ]] && kill -9 "$pid" 2>/dev/null
	[[ -n ${LISTEN_PID:-} ]] && kill "$LISTEN_PID" 2>/dev/null
	[[ -n ${NS:-} ]] && ip netns delete "${NS##*/}" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
BASE=$W/base
J=(--exec-file "$KTEST" --uid 1234 --gid 1234 --chroot-base-dir "$BASE")

# ---- args ----------------------------------------------------------------------
bad() { # WHAT WORD ARGS...: exit 2 with one line naming WORD
	local what=$1 word=$2; shift 2
	"$KESTREL" jail "$@" >"$W/bad.out" 2>&1
	local rc=$?
	if [[ $rc == 2 && $(wc -l <"$W/bad.out") == 1 ]] && grep -q -- "$word" "$W/bad.out"; then
		pass "args: $what: exit 2, one line"
	else
		fail "args: $what: exit $rc: $(head -3 "$W/bad.out")"
	fi
}
bad "id with /" "--id" --id a/b "${J[@]}"
bad "id with .." "--id" --id .. "${J[@]}"
bad "empty id" "--id" --id "" "${J[@]}"
bad "65-character id" "--id" --id "$(printf 'a%.0s' $(seq 65))" "${J[@]}"
bad "id with a space" "--id" --id "a b" "${J[@]}"
bad "id with a newline" "--id" --id $'a\nb' "${J[@]}"
bad "missing --uid" "--uid" --id ok --exec-file "$KTEST" --gid 1 --chroot-base-dir "$BASE"
bad "uid not a number" "--uid" --id ok --exec-file "$KTEST" --uid root --gid 1
bad "exec file not named kestrel" "--exec-file" --id ok --exec-file /bin/sh --uid 1 --gid 1
bad "exec file a directory" "--exec-file" --id ok --exec-file "$W" --uid 1 --gid 1
bad "relative base" "--chroot-base-dir" --id ok "${J[@]:0:6}" --chroot-base-dir rel
bad "cgroup v1" "--cgroup-version" --id ok "${J[@]}" --cgroup-version 1
bad "cgroup core file" "--cgroup" --id ok "${J[@]}" --cgroup cgroup.procs=1
bad "cgroup path in key" "--cgroup" --id ok "${J[@]}" --cgroup ../pids.max=1
bad "parent cgroup with .." "--parent-cgroup" --id ok "${J[@]}" --parent-cgroup a/../b
bad "unknown limit" "--resource-limit" --id ok "${J[@]}" --resource-limit core=1
bad "operand without --" "expected --" --id ok "${J[@]}" run
[[ ! -e $BASE ]] && pass "args: nothing was created for a refused command line" || fail "args: $BASE exists"

# ---- run -------------------------------------------------------------------------
listen_tcp "$W/port"
port=$(cat "$W/port")
"$KTEST" jail --id t1 "${J[@]}" --new-pid-ns -- run --test-hook creds \
	--test-hook open=/etc/passwd --test-hook open=/kestrel-test \
	--test-hook "kill=$$" --test-hook "connect=$port" >"$W/run.out" 2>&1
rc=$?
[[ $rc == 0 ]] && pass "run: jailed kestrel exits 0" || fail "run: exit $rc"
expect_line "$W/run.out" "Hello from kestrel's built-in guest." "run: guest output"
expect_line "$W/run.out" "All done" "run: the guest finished"
expect_line "$W/run.out" "test-hook: creds uid=1234 gid=1234 groups=0 capeff=0 nnp=1" "run: uid/gid 1234, no capability, no_new_privs"
expect_line "$W/run.out" "test-hook: open /etc/passwd: No such file or directory" "run: the host's files are not there"
expect_line "$W/run.out" "test-hook: open /kestrel-test: Permission denied" "run: Landlock denies the chroot's other files"
expect_line "$W/run.out" "test-hook: kill $$: No such process" "run: host PIDs are invisible (--new-pid-ns)"
expect_line "$W/run.out" "test-hook: connect 127.0.0.1:$port: Permission denied" "run: loopback TCP is refused"
R=$BASE/kestrel-test/t1/root
[[ -c $R/dev/kvm && $(stat -c '%u:%g %a %t:%T' "$R/dev/kvm") == "1234:1234 600 a:e8" ]] &&
	pass "run: dev/kvm is 10:232, 0600, the jailed user's" || fail "run: dev/kvm: $(stat -c '%u:%g %a %t:%T' "$R/dev/kvm" 2>&1)"
[[ -c $R/dev/net/tun && $(stat -c '%t:%T' "$R/dev/net/tun") == "a:c8" ]] &&
	pass "run: dev/net/tun is 10:200" || fail "run: dev/net/tun: $(stat -c '%t:%T' "$R/dev/net/tun" 2>&1)"
[[ $(stat -c %i "$R/kestrel-test") == $(stat -c %i "$KTEST") ]] &&
	pass "run: the exec file is hard-linked" || fail "run: the exec file is not the same inode"
[[ -s $R/kestrel-test.pid ]] && pass "run: the PID file is written" || fail "run: no kestrel-test.pid"
"$KTEST" jail --id t1 --exec-file "$R/kestrel-test" --uid 1234 --gid 1234 --chroot-base-dir "$BASE" \
	-- run >"$W/rerun.out" 2>&1
rc=$?
[[ $rc == 0 && $(stat -c %i "$R/kestrel-test") == $(stat -c %i "$KTEST") ]] &&
	pass "run: a rerun with the chroot's own exec file" || fail "run: rerun: exit $rc: $(tail -2 "$W/rerun.out")"

# ---- hostile -------------------------------------------------------------------------
H=$BASE/kestrel-test/t2/root
mkdir -p "$H" "$W/victim"
echo original >"$W/victim-file"
chown 1234:1234 "$H"
ln -s "$W/victim" "$H/dev"
ln -s "$W/victim-file" "$H/kestrel-test"
"$KTEST" jail --id t2 "${J[@]}" -- run >"$W/hostile.out" 2>&1
rc=$?
[[ $rc == 0 ]] && pass "hostile: a chroot with planted symlinks still runs" || fail "hostile: exit $rc: $(tail -2 "$W/hostile.out")"
[[ -z $(ls -A "$W/victim") ]] && pass "hostile: nothing made through the dev symlink" || fail "hostile: $W/victim has $(ls -A "$W/victim")"
[[ $(cat "$W/victim-file") == original && $(stat -c %u "$W/victim-file") == 0 ]] &&
	pass "hostile: the exec-file symlink's target untouched" || fail "hostile: victim-file changed"
[[ -d $H/dev && ! -L $H/dev ]] && pass "hostile: dev is a real directory now" || fail "hostile: dev is still a symlink"
mkdir -p "$W/elsewhere"
ln -s "$W/elsewhere" "$W/base2"
mkdir -p "$W/b3"
ln -s "$W/elsewhere" "$W/b3/kestrel-test"
"$KTEST" jail --id t3 --exec-file "$KTEST" --uid 1234 --gid 1234 --chroot-base-dir "$W/b3" -- run >"$W/sym.out" 2>&1
rc=$?
[[ $rc == 4 && -z $(ls -A "$W/elsewhere") ]] && grep -q "refusing" "$W/sym.out" &&
	pass "hostile: <base>/<name> a symlink is refused, nothing made there" ||
	fail "hostile: symlinked <base>/<name>: exit $rc, $(ls -A "$W/elsewhere") $(cat "$W/sym.out")"

# ---- fc ---------------------------------------------------------------------------------
netns=() NS=
if command -v ip >/dev/null && ip netns add "kestrel-jail-$$" 2>/dev/null; then
	NS=/var/run/netns/kestrel-jail-$$
	netns=(--netns "$NS")
fi
exec 7</etc/hostname	# an fd the jailer must not hand on
"$KESTREL" jail --id fc1 --exec-file "$KESTREL" --uid 1234 --gid 1234 --chroot-base-dir "$BASE" \
	"${netns[@]}" --resource-limit no-file=512 --resource-limit fsize=1048576 \
	-- --api-sock /api.sock >"$W/fc.out" 2>&1 &
pid=$!
exec 7<&-
F=$BASE/kestrel/fc1/root
for _ in $(seq 100); do [[ -S $F/api.sock ]] && break; sleep 0.05; done
[[ -S $F/api.sock ]] && pass "fc: the API socket is in the chroot" || fail "fc: no $F/api.sock"
st=/proc/$pid/status
field() { awk -v k="$1:" '$1 == k { $1 = ""; print substr($0, 2) }' "$st"; }
[[ $(field Uid) == "1234 1234 1234 1234" && $(field Gid) == "1234 1234 1234 1234" ]] &&
	pass "fc: uid and gid 1234 (real, effective, saved, fs)" || fail "fc: Uid '$(field Uid)' Gid '$(field Gid)'"
[[ $(field Groups) == "" ]] && pass "fc: no supplementary group" || fail "fc: Groups '$(field Groups)'"
for c in CapEff CapPrm CapInh CapBnd CapAmb; do
	[[ $(field $c) == 0000000000000000 ]] && pass "fc: $c 0" || fail "fc: $c $(field $c)"
done
[[ $(field NoNewPrivs) == 1 ]] && pass "fc: NoNewPrivs 1" || fail "fc: NoNewPrivs $(field NoNewPrivs)"
[[ $(readlink /proc/$pid/ns/mnt) != "$(readlink /proc/self/ns/mnt)" ]] &&
	pass "fc: its own mount namespace" || fail "fc: the host's mount namespace"
[[ $(ls -A /proc/$pid/root/ | sort | tr '\n' ' ') == "api.sock dev kestrel " ]] &&
	pass "fc: / holds only the chroot (api.sock dev kestrel)" || fail "fc: / holds $(ls -A /proc/$pid/root/)"
[[ $(wc -l </proc/$pid/mountinfo) == 1 ]] && pass "fc: one mount (the chroot), the host's root detached" ||
	fail "fc: mounts: $(cat /proc/$pid/mountinfo)"
leak=$(for f in /proc/$pid/fd/*; do readlink "$f"; done | grep -c /etc/hostname)
[[ $leak == 0 ]] && pass "fc: the inherited fd 7 was closed" || fail "fc: fd to /etc/hostname inherited"
grep -q "^Max open files  *512  *512 " /proc/$pid/limits && grep -q "^Max file size  *1048576  *1048576 " /proc/$pid/limits &&
	pass "fc: --resource-limit no-file=512 fsize=1048576" || fail "fc: limits: $(grep -e files -e "file size" /proc/$pid/limits)"
if [[ -n $NS ]]; then
	[[ $(stat -L -c %i /proc/$pid/ns/net) == $(stat -L -c %i "$NS") ]] &&
		pass "fc: --netns joined" || fail "fc: not in $NS"
else
	echo "(fc: --netns not checked: ip netns unavailable)"
fi
tr '\0' '\n' </proc/$pid/environ | grep -q . && fail "fc: environment not empty" || pass "fc: empty environment"
code=$(curl -s --unix-socket "$F/api.sock" -o /dev/null -w '%{http_code}' -X PUT http://localhost/actions \
	-H 'Content-Type: application/json' -d '{"action_type": "InstanceStart"}')
[[ $code == 204 ]] && pass "fc: InstanceStart 204" || fail "fc: InstanceStart $code"
wait "$pid"; rc=$?; pid=
[[ $rc == 0 ]] && pass "fc: the guest powered off, exit 0" || fail "fc: exit $rc"
expect_line "$W/fc.out" "Hello from kestrel's built-in guest." "fc: guest output"

# ---- pidns: the waiting parent ------------------------------------------------------
"$KESTREL" jail --id p1 --exec-file "$KESTREL" --uid 1234 --gid 1234 --chroot-base-dir "$BASE" \
	--new-pid-ns -- --api-sock /api.sock >"$W/p1.out" 2>&1 &
pid=$!
P=$BASE/kestrel/p1/root
for _ in $(seq 100); do [[ -S $P/api.sock ]] && break; sleep 0.05; done
st=/proc/$pid/status
[[ $(field Uid) == "1234 1234 1234 1234" && $(field CapEff) == 0000000000000000 ]] &&
	pass "pidns: the waiting parent is unprivileged too" || fail "pidns: parent Uid '$(field Uid)' CapEff $(field CapEff)"
child=$(cat "$P/kestrel.pid" 2>/dev/null)
[[ -n $child && $(awk '$1 == "NSpid:" { print $NF }' /proc/$child/status 2>/dev/null) == 1 ]] &&
	pass "pidns: the jailed kestrel is PID 1 of its namespace (host PID in kestrel.pid)" ||
	fail "pidns: kestrel.pid '$child': $(grep NSpid /proc/$child/status 2>&1)"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[[ $rc == 130 ]] && grep -q "caught signal 15" "$W/p1.out" &&
	pass "pidns: SIGTERM to the jailer stops kestrel cleanly (130)" || fail "pidns: exit $rc: $(tail -2 "$W/p1.out")"

# ---- kata ----------------------------------------------------------------------------
# What Kata does around its jailer (src/runtime/virtcontainers/fc.go): the
# chroot prepared beforehand with root/run and the config file in it; the
# jailer's PID is Firecracker's.
K=$BASE/kestrel/kata-1/root
mkdir -p "$K/run"
cat >"$K/fcConfig.json" <<'JSON'
{"machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
 "logger": {"log_path": "/fc.log", "level": "Info"}}
JSON
# Kata runs its configured jailer path with no subcommand: a link named *jailer.
ln -s "$(realpath "$KESTREL")" "$W/kestrel-jailer"
"$W/kestrel-jailer" --id kata-1 --node 0 --exec-file "$KESTREL" --uid 0 --gid 0 \
	--chroot-base-dir "$BASE" --daemonize -- --config-file /fcConfig.json >"$W/kata.out" 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -S $K/run/firecracker.socket ]] && break; sleep 0.05; done
wait "$pid"; rc=$?; pid=
[[ $rc == 0 ]] && pass "kata: the jailed VM ran and powered off (exit 0)" || fail "kata: exit $rc: $(cat "$W/kata.out")"
grep -v -e "--node ignored" "$W/kata.out" | grep -q . && fail "kata: --daemonize: output reached the caller: $(head -3 "$W/kata.out")" ||
	pass "kata: --daemonize: no kestrel output on the caller's stdout/stderr"
expect_line "$K/fc.log" "Successfully started microvm" "kata: started from the config file, logged in the chroot"
expect_line "$K/fc.log" "[kata-1:main]" "kata: the jailer passed --id (log lines name the instance)"
# uid 0 as Kata passes it: root's ids, none of root's capabilities.
"$KTEST" jail --id root0 --exec-file "$KTEST" --uid 0 --gid 0 --chroot-base-dir "$BASE" \
	-- run --test-hook creds >"$W/root0.out" 2>&1
expect_line "$W/root0.out" "test-hook: creds uid=0 gid=0 groups=0 capeff=0 nnp=1" "kata: --uid 0: no capability, no_new_privs"
finish
