#!/bin/bash
# Sealing a protected guest (docs/protected.md): once its machine is built,
# no kestrel thread may read or set vCPU state. build/kestrel-test's hooks
# make a thread try KVM_GET_REGS right after its filter is in place:
#   vcpu    KESTREL_VCPU_HOOK=getregs: vCPU 0 on its own vCPU fd;
#   vmm, signal  KESTREL_SECCOMP_HOOK=KIND:getregs (fd -1: the filter
#           judges the request alone).
# Without --protected each call reaches the kernel ("ok", or EBADF for
# fd -1) and the guest runs to its end; with --protected the process dies
# of SIGSYS (exit 159) naming the thread and the ioctl, before the guest
# finishes. A protected guest without a hook runs to its end.
# Exit 0 pass, 1 fail, 77 skip (no /dev/kvm, no guest_memfd).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/sandbox/lib.sh
need_kvm
need_bins "$KTEST"

W=$(mktemp -d /tmp/kestrel-seal.XXXXXX)
trap 'rm -rf "$W"' EXIT
# KVM_GET_REGS = _IOR(0xae, 0x81, struct kvm_regs): as the SIGSYS line prints it
GET_REGS=0x8090ae81

"$KTEST" run --memory 128M --protected >"$W/plain.out" 2>&1
rc=$?
grep -q 'guest_memfd' "$W/plain.out" && skip "no guest_memfd here: $(grep -m1 guest_memfd "$W/plain.out")"
[[ $rc == 0 ]] && pass "a protected guest runs sealed to its end (exit 0)" ||
	{ fail "protected, no hook: exit $rc"; tail -5 "$W/plain.out"; }
expect_line "$W/plain.out" "All done" "protected, no hook: the guest's last line"

# check KIND ENV: the same call allowed without --protected, fatal with it
check() {
	local kind=$1 env=$2 ok=$3 rc
	env "$env" "$KTEST" run --memory 128M >"$W/$kind-open.out" 2>&1
	rc=$?
	[[ $rc == 0 ]] && pass "$kind: unprotected guest with the hook ran to its end" ||
		fail "$kind: unprotected: exit $rc"
	expect_line "$W/$kind-open.out" "$ok" "$kind: unprotected: KVM_GET_REGS reached the kernel"
	env "$env" "$KTEST" run --memory 128M --protected >"$W/$kind-sealed.out" 2>&1
	rc=$?
	[[ $rc == 159 ]] && pass "$kind: protected: the process died of SIGSYS (exit 159)" ||
		{ fail "$kind: protected: exit $rc, expected 159 (SIGSYS)"; tail -5 "$W/$kind-sealed.out"; }
	expect_line "$W/$kind-sealed.out" "(kind $kind, " "$kind: protected: the SIGSYS line names the thread"
	expect_line "$W/$kind-sealed.out" "made syscall ioctl (16, request $GET_REGS)" \
		"$kind: protected: ... and KVM_GET_REGS"
	grep -q "All done" "$W/$kind-sealed.out" && fail "$kind: protected: the guest ran on after the call"
	grep -q "KVM_GET_REGS: ok" "$W/$kind-sealed.out" && fail "$kind: protected: the call returned registers"
}
check vcpu KESTREL_VCPU_HOOK=getregs "test-hook: vcpu0 KVM_GET_REGS: ok"
check vmm KESTREL_SECCOMP_HOOK=vmm:getregs "test-hook: vmm thread: KVM_GET_REGS: Bad file descriptor"
check signal KESTREL_SECCOMP_HOOK=signal:getregs "test-hook: signal thread: KVM_GET_REGS: Bad file descriptor"
finish
