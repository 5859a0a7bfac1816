/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_VCPU_H
#define KESTREL_VCPU_H

#include <kestrel/types.h>

/*
 * A vCPU as other subsystems see it. vCPUs are created with vm_add_vcpu()
 * and freed by vm_destroy(); each runs on its own thread inside vm_run().
 */

struct vcpu;
struct vm;

/** vcpu_id() - the vCPU's index (x86: its APIC ID) */
unsigned int vcpu_id(const struct vcpu *vcpu);

/** vcpu_vm() - the VM @vcpu belongs to */
struct vm *vcpu_vm(const struct vcpu *vcpu);

/**
 * vcpu_fd() - the KVM vCPU fd, for register access before vm_run() (tests,
 * loaders). Never close it.
 */
int vcpu_fd(const struct vcpu *vcpu);

/**
 * vcpu_dump_state() - log the vCPU's registers (and the instruction bytes
 * at its instruction pointer when they can be read) at LOG_ERR; for a
 * protected guest (docs/protected.md) only a line saying they are not shown
 * @vcpu: a vCPU that is not inside KVM_RUN (its own thread, or paused)
 */
void vcpu_dump_state(struct vcpu *vcpu);

#endif /* KESTREL_VCPU_H */
