/* SPDX-License-Identifier: GPL-2.0-only */
/* Private to src/arch/x86/{vm,vcpu,cpuid,msr}.c. */
#ifndef KESTREL_ARCH_X86_X86_H
#define KESTREL_ARCH_X86_X86_H

#include "../../core/internal.h"

/* cpuid.c */
int x86_cpuid_template_create(struct vm *vm);
int x86_cpuid_set(struct vcpu *vcpu);

/* msr.c */
int x86_msrs_template_create(struct vm *vm);
int x86_msrs_set(struct vcpu *vcpu);

#endif /* KESTREL_ARCH_X86_X86_H */
