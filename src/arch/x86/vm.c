// SPDX-License-Identifier: GPL-2.0-only
/*
 * x86 VM hooks: RAM layout, the in-kernel irqchip (PIC, IOAPIC, LAPICs) and
 * PIT, the VMX-only TSS and identity-map pages, and the CPUID/MSR templates.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/x86/layout.h>

#include "x86.h"
#include "boot.h"

/* Three pages just below the BIOS area that VMX needs for real mode. */
#define X86_IDENTITY_MAP_GPA	0xfeffc000ULL
#define X86_TSS_GPA		0xfeffd000ULL

/*
 * RAM below the MMIO hole, the rest from 4 GiB. A protected VM's RAM from
 * X86_PRIVATE_RAM_START up is private (guest_memfd, no mapping kestrel can
 * read); below it stays ordinary memory.
 */
static int x86_register_ram(struct vm *vm, const struct vm_config *cfg)
{
	u64 low = MIN(cfg->ram_size, X86_RAM_32BIT_END);
	unsigned int priv = (cfg->mem_flags & ~(MEM_F_MEMFD | MEM_F_HUGEPAGES)) | MEM_F_PRIVATE;
	u64 shared = cfg->protected ? X86_PRIVATE_RAM_START : low;
	int ret;

	if (cfg->protected && cfg->ram_size <= X86_PRIVATE_RAM_START)
		return -EINVAL;	/* nothing would be private */
	ret = vm_register_ram(vm, 0, shared, cfg->mem_flags);
	if (!ret && low > shared)
		ret = vm_register_ram(vm, shared, low - shared, priv);
	if (!ret && cfg->ram_size > low)
		ret = vm_register_ram(vm, X86_HIGH_RAM_START, cfg->ram_size - low,
				      cfg->protected ? priv : cfg->mem_flags);
	return ret;
}

/*
 * KVM's own routes after KVM_CREATE_IRQCHIP: GSI 0..15 to the PICs (master
 * 0..7, slave 8..15) and GSI 0..23 to the IOAPIC's pin of the same number.
 * Recorded so the table an MSI route installs keeps them.
 */
static void x86_kernel_irqchip_routes(struct vm *vm)
{
	struct kvm_irq_routing_entry e[16 + X86_IOAPIC_PINS];
	unsigned int nr = 0;

	_Static_assert(X86_IOAPIC_PINS <= VM_GSI_MSI_BASE, "IOAPIC pins below the MSI GSIs");
	memset(e, 0, sizeof(e));
	for (u32 gsi = 0; gsi < X86_IOAPIC_PINS; gsi++) {
		if (gsi < 16) {
			e[nr].gsi = gsi;
			e[nr].type = KVM_IRQ_ROUTING_IRQCHIP;
			e[nr].u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
							  : KVM_IRQCHIP_PIC_SLAVE;
			e[nr++].u.irqchip.pin = gsi % 8;
		}
		e[nr].gsi = gsi;
		e[nr].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[nr].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e[nr++].u.irqchip.pin = gsi;
	}
	vm_gsi_routes_init_pins(vm, e, nr);
}

int vm_arch_create(struct vm *vm, const struct vm_config *cfg)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_EXIT_ON_EMULATION_FAILURE, .args = { 1 },
	};
	u64 identity = X86_IDENTITY_MAP_GPA;
	int ret;

	if (cfg->ram_size < (1ULL << 20))
		return -EINVAL;	/* boot data lives in the first MiB */

	/* Memslots first: each change is slow once the irqchip exists. */
	ret = x86_register_ram(vm, cfg);
	if (ret)
		return ret;

	ret = kvm_ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (void *)(uintptr_t)X86_TSS_GPA);
	if (ret < 0)
		return ret;
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
		ret = kvm_ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity);
		if (ret < 0)
			return ret;
	}
	if (cfg->irqchip == VM_IRQCHIP_SPLIT) {
		struct kvm_enable_cap split = {
			.cap = KVM_CAP_SPLIT_IRQCHIP, .args = { X86_IOAPIC_PINS },
		};

		if (cfg->pit)
			return -EINVAL;	/* KVM's PIT needs its PIC and IOAPIC */
		ret = kvm_ioctl(vm->vm_fd, KVM_ENABLE_CAP, &split);
		if (ret < 0)
			return ret;
		/* The MADT gives the IOAPIC the ID after the last CPU's. */
		ret = x86_ioapic_create(vm, vm->max_vcpus, &vm->arch.ioapic);
		if (ret)
			return ret;
	} else {
		ret = kvm_ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, NULL);
		if (ret < 0)
			return ret;
		x86_kernel_irqchip_routes(vm);
		if (cfg->pit) {
			ret = kvm_ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit);
			if (ret < 0)
				return ret;
			vm->arch.has_pit = true;
		}
	}
	/* Emulation failures exit to us with the instruction bytes (optional). */
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_ON_EMULATION_FAILURE) > 0)
		ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap);

	ret = x86_cpuid_template_create(vm, cfg->restore);
	if (ret)
		return ret;
	return x86_msrs_template_create(vm);
}

int vm_arch_set_irq_line(struct vm *vm, u32 gsi, bool level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (vm->arch.ioapic)
		return x86_ioapic_set_line(vm->arch.ioapic, gsi, level);
	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

/* The userspace IOAPIC applies polarity (ioapic.c); KVM's does not. */
bool vm_arch_irq_line_has_polarity(struct vm *vm)
{
	return vm->arch.ioapic != NULL;
}

bool vcpu_arch_handle_exit(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	if (vcpu->run->exit_reason != KVM_EXIT_IOAPIC_EOI || !vm->arch.ioapic)
		return false;
	x86_ioapic_eoi(vm->arch.ioapic, vcpu->run->eoi.vector);
	return true;
}

void vm_arch_destroy(struct vm *vm)
{
	x86_ioapic_destroy(vm->arch.ioapic);
	vm->arch.ioapic = NULL;
	free(vm->arch.cpuid);
	vm->arch.cpuid = NULL;
	free(vm->arch.boot_msrs);
	vm->arch.boot_msrs = NULL;
}

int vm_arch_load_guest(struct vm *vm, const struct boot_config *cfg, char *err,
		       size_t errlen)
{
	int ret = x86_load_guest(vm->as, cfg, &vm->arch.entry, err, errlen);

	if (ret)
		return ret;
	vm->arch.has_entry = true;
	return 0;
}
