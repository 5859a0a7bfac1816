/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A test-only struct vm for host unit tests of src/hw: the device-facing
 * vm.h functions (vm_iobus, vm_set_irq_line, vm_request_stop, vm_add_vcpu,
 * vm_nr_vcpus) backed by a real I/O bus and recorders, no /dev/kvm.
 */
#ifndef KESTREL_TESTS_FAKE_VM_H
#define KESTREL_TESTS_FAKE_VM_H

#include <kestrel/iobus.h>
#include <kestrel/types.h>
#include <kestrel/vm.h>

#define FAKE_VM_NR_GSIS		32

/** fake_vm_create() - a VM with an empty I/O bus; Return: NULL on ENOMEM */
struct vm *fake_vm_create(void);

/** fake_vm_destroy() - free it; devices must have been destroyed */
void fake_vm_destroy(struct vm *vm);

/** fake_vm_irq_level() - current level of @gsi as the devices drove it */
bool fake_vm_irq_level(struct vm *vm, u32 gsi);

/** fake_vm_irq_edges() - vm_set_irq_line() calls that changed @gsi's level */
unsigned int fake_vm_irq_edges(struct vm *vm, u32 gsi);

/** fake_vm_irq_calls() - all vm_set_irq_line() calls for @gsi */
unsigned int fake_vm_irq_calls(struct vm *vm, u32 gsi);

/** fake_vm_stops() - vm_request_stop() calls so far */
unsigned int fake_vm_stops(struct vm *vm);

/* The stop request that won (the first one), as vm.h promises. */
enum vm_stop_reason fake_vm_stop_reason(struct vm *vm);
int fake_vm_stop_status(struct vm *vm);

/** fake_vm_fail_add_vcpu() - make the next vm_add_vcpu() calls return @err */
void fake_vm_fail_add_vcpu(struct vm *vm, int err);

/* Guest accesses through iobus_dispatch(); return its result. */
int fake_vm_pio_write(struct vm *vm, u16 port, u32 val, unsigned int len);
int fake_vm_pio_read(struct vm *vm, u16 port, u32 *val, unsigned int len);
int fake_vm_mmio_write(struct vm *vm, u64 gpa, u64 val, unsigned int len);
int fake_vm_mmio_read(struct vm *vm, u64 gpa, u64 *val, unsigned int len);

/* 1-byte port shorthands: outb() ignores the result, inb() reads 0xff on error. */
void fake_outb(struct vm *vm, u16 port, u8 val);
u8 fake_inb(struct vm *vm, u16 port);

#endif /* KESTREL_TESTS_FAKE_VM_H */
