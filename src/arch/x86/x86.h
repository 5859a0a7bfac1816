/* SPDX-License-Identifier: GPL-2.0-only */
/* Private to src/arch/x86/{vm,vcpu,cpuid,msr}.c. */
#ifndef KESTREL_ARCH_X86_X86_H
#define KESTREL_ARCH_X86_X86_H

#include "../../core/internal.h"

/* cpuid.c */
struct snap_writer;
struct snap_reader;
int x86_cpuid_template_create(struct vm *vm, struct snap_reader *restore);
int x86_cpuid_set(struct vcpu *vcpu);
int x86_cpuid_snapshot_save(struct vm *vm, struct snap_writer *w);

/* ioapic.c: the userspace IOAPIC of the split irqchip */
struct x86_ioapic;
int x86_ioapic_create(struct vm *vm, u32 id, struct x86_ioapic **out);
void x86_ioapic_destroy(struct x86_ioapic *io);
int x86_ioapic_set_line(struct x86_ioapic *io, u32 pin, bool level);
void x86_ioapic_eoi(struct x86_ioapic *io, u8 vector);
int x86_ioapic_snapshot_save(struct x86_ioapic *io, struct snap_writer *w);
int x86_ioapic_snapshot_restore(struct x86_ioapic *io, struct snap_reader *r, char *err,
				size_t errlen);

/* msr.c */
int x86_msrs_template_create(struct vm *vm);
int x86_msrs_set(struct vcpu *vcpu);

#endif /* KESTREL_ARCH_X86_X86_H */
