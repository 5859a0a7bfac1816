/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The VM of the host unit tests that need one (tests/unit/hw, virtio, the
 * virtio_mmio fuzz target): the real src/core VM — vm_create(), the bus,
 * the address space, vm_add_vcpu(), vm_request_stop() and the stop state —
 * over a fake /dev/kvm, so no KVM is needed. Only the KVM ioctls are fake:
 * fake_vm.c answers them for its own fds and records what the devices
 * asked for (interrupt lines, ioeventfds, irqfds). Tests play the vCPU with
 * fake_vm_pio_*() / fake_vm_mmio_*(), which, like KVM, signal a matching
 * ioeventfd instead of reaching the bus.
 *
 * A program that links fake_vm.o links with $(FAKE_VM_LDFLAGS) (Makefile):
 * --wrap routes open("/dev/kvm") and ioctl() here, and counts
 * vm_request_stop() calls; without it the link fails on __real_ioctl.
 *
 * Every function is safe from any thread (devices call in from their own).
 */
#ifndef KESTREL_TESTS_FAKE_VM_H
#define KESTREL_TESTS_FAKE_VM_H

#include <kestrel/boot.h>
#include <kestrel/iobus.h>
#include <kestrel/memory.h>
#include <kestrel/types.h>
#include <kestrel/vm.h>

/* The least RAM the architecture takes (x86: boot data in the first MiB). */
#define FAKE_VM_MIN_RAM		(1u << 20)
/* Interrupt lines recorded; KVM_IRQ_LINE above them fails with -EINVAL. */
#define FAKE_VM_NR_GSIS		64
/* ioeventfds and irqfds per VM */
#define FAKE_VM_MAX_EVENTFDS	64
/* What the fake KVM_CAP_MAX_VCPUS says */
#define FAKE_VM_MAX_VCPUS	16

/**
 * fake_vm_create() - vm_create() with @ram_size bytes of RAM at GPA 0, then
 * vCPU 0 (vm_add_vcpu()), as "kestrel run" builds it before loading a guest
 * @out: the VM; NULL on failure, so that fake_vm_destroy(*out) is always safe
 * Return: 0 or vm_create()'s or vm_add_vcpu()'s negative errno.
 */
int fake_vm_create(u64 ram_size, struct vm **out);

/*
 * fake_vm_create_split() - the same with KVM's split irqchip (the
 * default of kestrel's VMs): lines go through the userspace IOAPIC, which
 * sends MSIs (fake_vm_msis()) and keeps GSI routes (fake_vm_route()).
 */
int fake_vm_create_split(u64 ram_size, struct vm **out);

/** fake_vm_msis() - KVM_SIGNAL_MSI calls so far, and the last message */
unsigned int fake_vm_msis(struct vm *vm, u32 *addr, u32 *data);

/** fake_vm_route() - the MSI route of @gsi, if there is one */
bool fake_vm_route(struct vm *vm, u32 gsi, u32 *addr, u32 *data);

/**
 * fake_vm_pci - the x86 machine's PCI host bridge windows (layout.h), a
 * 4 GiB 64-bit window at 4 GiB, for pci_host_create() on a fake VM
 */
extern const struct boot_pci fake_vm_pci;

/** fake_vm_destroy() - vm_destroy() and the fake KVM state; devices first */
void fake_vm_destroy(struct vm *vm);

/** fake_vm_ram() - kestrel's pointer to GPA 0 */
void *fake_vm_ram(struct vm *vm);

struct snap_writer;
struct snap_reader;

/**
 * fake_vm_snapshot() - write a plain snapshot of @vm's RAM and the sections
 *	@save adds (from @dev) into a new temporary directory, and open it
 * @dir: at least 64 bytes; the directory, for fake_vm_snapshot_remove()
 * Return: the open reader, or NULL (printed why).
 */
struct snap_reader *fake_vm_snapshot(struct vm *vm, int (*save)(void *dev, struct snap_writer *w),
				     void *dev, char *dir);

/** fake_vm_snapshot_remove() - close @r and remove the files of @dir */
void fake_vm_snapshot_remove(struct snap_reader *r, const char *dir);

/* ---- the vCPU's side: guest accesses, ioeventfd first, then the bus -------- */

/* Return iobus_dispatch()'s result (0 for a store that hit an ioeventfd). */
int fake_vm_pio_write(struct vm *vm, u16 port, u32 val, unsigned int len);
int fake_vm_pio_read(struct vm *vm, u16 port, u32 *val, unsigned int len);
int fake_vm_mmio_write(struct vm *vm, u64 gpa, u64 val, unsigned int len);
int fake_vm_mmio_read(struct vm *vm, u64 gpa, u64 *val, unsigned int len);

/* Shorthands: outb() ignores the result, inb() reads 0xff on error. */
void fake_outb(struct vm *vm, u16 port, u8 val);
u8 fake_inb(struct vm *vm, u16 port);
/** fake_mmio_read() - a load of up to 4 bytes; UINT32_MAX on error */
u32 fake_mmio_read(struct vm *vm, u64 gpa, unsigned int len);

/* ---- what the devices did -------------------------------------------------- */

/** fake_vm_irq_level() - current level of @gsi as the devices drove it */
bool fake_vm_irq_level(struct vm *vm, u32 gsi);

/** fake_vm_irq_edges() - vm_set_irq_line() calls that changed @gsi's level */
unsigned int fake_vm_irq_edges(struct vm *vm, u32 gsi);

/** fake_vm_irq_calls() - all vm_set_irq_line() calls for @gsi */
unsigned int fake_vm_irq_calls(struct vm *vm, u32 gsi);

/** fake_vm_stops() - vm_request_stop() calls so far, the ignored ones too */
unsigned int fake_vm_stops(struct vm *vm);

/** fake_vm_irqfd() - the eventfd bound to @gsi, or -1 */
int fake_vm_irqfd(struct vm *vm, u32 gsi);

/**
 * fake_vm_wait_irq() - wait up to @timeout_ms for an interrupt on @gsi's irqfd
 * Return: true if one arrived (its count is consumed).
 */
bool fake_vm_wait_irq(struct vm *vm, u32 gsi, int timeout_ms);

/** fake_vm_nr_ioeventfds() - ioeventfds registered now */
unsigned int fake_vm_nr_ioeventfds(struct vm *vm);

/** fake_vm_nr_irqfds() - irqfds registered now */
unsigned int fake_vm_nr_irqfds(struct vm *vm);

/* ---- failures on demand ---------------------------------------------------- */

/** fake_vm_fail_ioeventfd_after() - the add after @n more fails (-1: never) */
void fake_vm_fail_ioeventfd_after(struct vm *vm, int n);

/** fake_vm_fail_add_vcpu() - KVM_CREATE_VCPU fails with @err (0: succeeds) */
void fake_vm_fail_add_vcpu(struct vm *vm, int err);

#endif /* KESTREL_TESTS_FAKE_VM_H */
