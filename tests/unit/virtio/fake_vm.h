/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A test-only struct vm with no KVM behind it: an address space, an I/O
 * bus, and ioeventfd/irqfd bookkeeping done with plain eventfds. Tests
 * play the vCPU with fake_vm_mmio_write()/read(), which, like KVM, signal
 * a matching ioeventfd instead of reaching the bus.
 */
#ifndef KESTREL_TESTS_FAKE_VM_H
#define KESTREL_TESTS_FAKE_VM_H

#include <kestrel/iobus.h>
#include <kestrel/memory.h>
#include <kestrel/types.h>
#include <kestrel/vm.h>

#define FAKE_VM_MAX_EVENTFDS	64

/** fake_vm_create() - a VM with @ram_size bytes of RAM at GPA 0 */
int fake_vm_create(u64 ram_size, struct vm **out);

/** fake_vm_destroy() - free it (devices first) */
void fake_vm_destroy(struct vm *vm);

/** fake_vm_ram() - kestrel's pointer to GPA 0 */
void *fake_vm_ram(struct vm *vm);

/** fake_vm_mmio_write() - a guest store: ioeventfd first, then the bus */
int fake_vm_mmio_write(struct vm *vm, u64 addr, u32 val, unsigned int len);

/** fake_vm_mmio_read() - a guest load through the bus; all ones on error */
u32 fake_vm_mmio_read(struct vm *vm, u64 addr, unsigned int len);

/** fake_vm_irqfd() - the eventfd bound to @gsi, or -1 */
int fake_vm_irqfd(struct vm *vm, u32 gsi);

/**
 * fake_vm_wait_irq() - wait up to @timeout_ms for an interrupt on @gsi
 * Return: true if one arrived (its count is consumed).
 */
bool fake_vm_wait_irq(struct vm *vm, u32 gsi, int timeout_ms);

/** fake_vm_nr_ioeventfds() - ioeventfds registered now */
unsigned int fake_vm_nr_ioeventfds(struct vm *vm);

/** fake_vm_nr_irqfds() - irqfds registered now */
unsigned int fake_vm_nr_irqfds(struct vm *vm);

/** fake_vm_fail_ioeventfd_after() - make the n-th next add fail (-1: never) */
void fake_vm_fail_ioeventfd_after(struct vm *vm, int n);

#endif
