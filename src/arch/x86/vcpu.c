// SPDX-License-Identifier: GPL-2.0-only
/*
 * x86 vCPU hooks. vCPU 0 is the bootstrap processor and starts where the
 * loader said; every other vCPU starts as an application processor does on
 * real hardware, in the in-kernel LAPIC's wait-for-SIPI state, until the
 * guest wakes it with INIT-SIPI-SIPI.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/memory.h>

#include "x86.h"
#include "boot.h"

#define APIC_LVT0		0x350
#define APIC_LVT1		0x360
#define APIC_MODE_NMI		0x4
#define APIC_MODE_EXTINT	0x7

static u32 lapic_get(const struct kvm_lapic_state *s, unsigned int reg)
{
	u32 v;

	memcpy(&v, &s->regs[reg], sizeof(v));
	return v;
}

static void lapic_set(struct kvm_lapic_state *s, unsigned int reg, u32 v)
{
	memcpy(&s->regs[reg], &v, sizeof(v));
}

static u32 lvt_mode(u32 lvt, u32 mode)
{
	return (lvt & ~0x700u) | (mode << 8);
}

/*
 * LINT0 = ExtINT (the PIC), LINT1 = NMI: the virtual-wire setup firmware
 * leaves. The result is the LAPIC's power-on state, kept for resets.
 */
static int vcpu_lapic_setup(struct vcpu *vcpu)
{
	struct kvm_lapic_state *s = &vcpu->arch.reset_lapic;
	int ret;

	ret = kvm_ioctl(vcpu->fd, KVM_GET_LAPIC, s);
	if (ret < 0)
		return ret;
	lapic_set(s, APIC_LVT0, lvt_mode(lapic_get(s, APIC_LVT0), APIC_MODE_EXTINT));
	lapic_set(s, APIC_LVT1, lvt_mode(lapic_get(s, APIC_LVT1), APIC_MODE_NMI));
	ret = kvm_ioctl(vcpu->fd, KVM_SET_LAPIC, s);
	return ret < 0 ? ret : 0;
}

/* Keep the registers of the fresh vCPU: its power-on state, for resets. */
static int vcpu_save_reset_state(struct vcpu *vcpu)
{
	int ret;

	ret = kvm_ioctl(vcpu->fd, KVM_GET_SREGS, &vcpu->arch.reset_sregs);
	if (ret >= 0)
		ret = kvm_ioctl(vcpu->fd, KVM_GET_REGS, &vcpu->arch.reset_regs);
	return ret < 0 ? ret : 0;
}

int vcpu_arch_precreate(struct vm *vm, unsigned int id)
{
	return id < VM_MAX_VCPUS ? 0 : -ENOSPC;
}

int vcpu_arch_create(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	int ret;

	ret = x86_cpuid_set(vcpu);
	if (ret)
		return ret;
	vcpu->arch.cpuid_set = true;
	ret = x86_msrs_set(vcpu);
	if (ret)
		return ret;
	ret = vcpu_save_reset_state(vcpu);
	if (ret)
		return ret;
	ret = vcpu_lapic_setup(vcpu);
	if (ret)
		return ret;

	if (vcpu->id == 0) {
		if (vm->arch.has_entry)
			return x86_boot_setup_vcpu(vcpu->fd, &vm->arch.entry);
		return 0;	/* reset state: a test sets registers itself */
	}
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_UNINITIALIZED };

	ret = kvm_ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp);
	return ret < 0 ? ret : 0;
}

void vcpu_arch_destroy(struct vcpu *vcpu)
{
	/* Nothing allocated: KVM state goes with the vCPU fd. */
}

/*
 * Back to the power-on state a platform reset gives (Intel SDM vol. 3,
 * table 10-1; what KVM gave the fresh vCPU, kept by vcpu_arch_create()),
 * vCPU 0 in real mode at @entry, the others waiting for INIT as at power-on.
 * Pending events go, the boot MSRs and KVM's paravirtual MSRs (kvmclock,
 * async page faults, steal time, PV EOI) get their power-on values, so
 * KVM stops writing into guest memory the guest has not offered again.
 * XCR0 and the debug registers keep their values: an OS restores both.
 */
int vcpu_arch_reset(struct vcpu *vcpu, u64 entry)
{
	struct kvm_vcpu_events events = {
		.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW,
	};
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_UNINITIALIZED };
	struct kvm_sregs sregs = vcpu->arch.reset_sregs;
	struct kvm_regs regs = vcpu->arch.reset_regs;
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	struct kvm_lapic_state lapic = vcpu->arch.reset_lapic;
	int ret;

	if (vcpu->id == 0) {
		/* ACPI 6.5 §5.2.10 (FACS): CS = vector >> 4, IP = vector & 0xf. */
		if (entry > 0xfffff)
			return -EINVAL;
		sregs.cs.selector = (u16)(entry >> 4);
		sregs.cs.base = entry & ~0xfULL;
		regs.rip = entry & 0xf;
		mp.mp_state = KVM_MP_STATE_RUNNABLE;
	}
	/* SREGS first: its APIC base (xAPIC, enabled) says how SET_LAPIC reads the ID. */
	ret = kvm_ioctl(vcpu->fd, KVM_SET_SREGS, &sregs);
	if (ret >= 0)
		ret = kvm_ioctl(vcpu->fd, KVM_SET_REGS, &regs);
	if (ret >= 0)
		ret = kvm_ioctl(vcpu->fd, KVM_SET_FPU, &fpu);
	if (ret >= 0)
		ret = x86_msrs_set(vcpu);
	if (ret >= 0)
		ret = kvm_ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic);
	if (ret >= 0)
		ret = kvm_ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &events);
	if (ret >= 0)
		ret = kvm_ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp);
	return ret < 0 ? ret : 0;
}

static void dump_insn_bytes(struct vcpu *vcpu, u64 linear)
{
	struct kvm_translation tr = { .linear_address = linear };
	u8 bytes[16];
	char hex[3 * sizeof(bytes) + 1] = "";
	size_t n;

	if (ioctl(vcpu->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid) {
		pr_err("vcpu%u: code at 0x%llx is not mapped", vcpu->id,
		       (unsigned long long)linear);
		return;
	}
	/* Stay within the page: the next one may map elsewhere. */
	n = MIN(sizeof(bytes), (size_t)(0x1000 - (tr.physical_address & 0xfff)));
	if (address_space_read(vcpu->vm->as, tr.physical_address, bytes, n)) {
		pr_err("vcpu%u: code at gpa 0x%llx is not RAM", vcpu->id,
		       (unsigned long long)tr.physical_address);
		return;
	}
	for (size_t i = 0; i < n; i++)
		snprintf(hex + 3 * i, sizeof(hex) - 3 * i, "%02x ", bytes[i]);
	pr_err("vcpu%u: code at rip (gpa 0x%llx): %s", vcpu->id,
	       (unsigned long long)tr.physical_address, hex);
}

void vcpu_arch_dump_state(struct vcpu *vcpu)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	unsigned int id = vcpu->id;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0) {
		pr_err("vcpu%u: cannot read registers", id);
		return;
	}
	pr_err("vcpu%u: rip %016llx rsp %016llx rflags %016llx", id,
	       (unsigned long long)r.rip, (unsigned long long)r.rsp,
	       (unsigned long long)r.rflags);
	pr_err("vcpu%u: rax %016llx rbx %016llx rcx %016llx rdx %016llx", id,
	       (unsigned long long)r.rax, (unsigned long long)r.rbx,
	       (unsigned long long)r.rcx, (unsigned long long)r.rdx);
	pr_err("vcpu%u: rsi %016llx rdi %016llx rbp %016llx", id,
	       (unsigned long long)r.rsi, (unsigned long long)r.rdi,
	       (unsigned long long)r.rbp);
	pr_err("vcpu%u: cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %016llx",
	       id, (unsigned long long)s.cr0, (unsigned long long)s.cr2,
	       (unsigned long long)s.cr3, (unsigned long long)s.cr4,
	       (unsigned long long)s.efer);
	pr_err("vcpu%u: cs %04x base %016llx limit %08x l %u db %u dpl %u; ss %04x", id,
	       s.cs.selector, (unsigned long long)s.cs.base, s.cs.limit, s.cs.l,
	       s.cs.db, s.cs.dpl, s.ss.selector);
	dump_insn_bytes(vcpu, s.cs.base + r.rip);
}
