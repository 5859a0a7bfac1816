/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * x86 state embedded in struct vm and struct vcpu (src/core/internal.h).
 * Only src/core and src/arch/x86 include this.
 */
#ifndef KESTREL_ARCH_X86_KVM_ARCH_H
#define KESTREL_ARCH_X86_KVM_ARCH_H

#include <stdbool.h>

#include <linux/kvm.h>

#include <kestrel/types.h>

#include <kestrel/memory.h>	/* boot.h names struct address_space */

#include "../../boot.h"		/* struct x86_boot_entry */

struct kvm_cpuid2;
struct kvm_msrs;
struct x86_ioapic;

/**
 * struct vm_arch - per-VM x86 state, written once at vm_create() /
 * vm_load_guest() before any vCPU exists, read-only afterwards
 * @cpuid: the filtered CPUID template every vCPU copies (only APIC-ID and
 *	   topology fields are patched per vCPU)
 * @topo_shift: log2 of the vCPUs one package can hold (x2APIC ID bits for
 *		the core level)
 * @boot_msrs: the MSR values every vCPU starts with (filtered against
 *	       KVM_GET_MSR_INDEX_LIST)
 * @entry: where vCPU 0 starts, when @has_entry
 * @has_entry: a guest was loaded
 * @ioapic: the userspace IOAPIC (split irqchip), or NULL with the in-kernel
 *	    irqchip
 * @has_pit: an in-kernel PIT was created (snapshots save it)
 */
struct vm_arch {
	struct kvm_cpuid2 *cpuid;
	unsigned int topo_shift;
	struct kvm_msrs *boot_msrs;
	struct x86_boot_entry entry;
	bool has_entry;
	struct x86_ioapic *ioapic;
	bool has_pit;
};

/**
 * struct vcpu_arch - per-vCPU x86 state, written by vcpu_arch_create()
 * @cpuid_set: KVM_SET_CPUID2 was done (the vCPU may run)
 * @reset_sregs: the segment and control registers KVM gave the fresh vCPU
 *	(its power-on state), which vcpu_arch_reset() restores
 * @reset_regs: the same for the general registers (RDX holds the CPU
 *	signature, RFLAGS bit 1, RIP 0xfff0)
 * @reset_lapic: the local APIC at power-on with kestrel's virtual-wire
 *	LINT0/LINT1 set-up, as firmware leaves it
 */
struct vcpu_arch {
	bool cpuid_set;
	struct kvm_sregs reset_sregs;
	struct kvm_regs reset_regs;
	struct kvm_lapic_state reset_lapic;
};

#endif /* KESTREL_ARCH_X86_KVM_ARCH_H */
