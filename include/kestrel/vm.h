/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_VM_H
#define KESTREL_VM_H

#include <kestrel/iobus.h>
#include <kestrel/types.h>

/*
 * The VM as devices see it. The full lifecycle API (creation, vCPUs, run,
 * pause/resume/stop, teardown) is declared below the device-facing part.
 */

struct vm;
struct address_space;

/**
 * enum vm_stop_reason - why the VM stopped running
 * @VM_STOP_NONE: still running
 * @VM_STOP_EXIT: the guest asked to exit with a status (debug-exit port)
 * @VM_STOP_RESET: the guest reset the machine (i8042, KVM system event);
 *		   kestrel exits 0
 * @VM_STOP_POWEROFF: the guest powered off (KVM system event, ACPI)
 * @VM_STOP_ERROR: a vCPU hit an error (internal error, failed emulation)
 * @VM_STOP_USER: the host asked it to stop (signal, API)
 */
enum vm_stop_reason {
	VM_STOP_NONE,
	VM_STOP_EXIT,
	VM_STOP_RESET,
	VM_STOP_POWEROFF,
	VM_STOP_ERROR,
	VM_STOP_USER,
};

/** vm_address_space() - the guest RAM of @vm */
struct address_space *vm_address_space(struct vm *vm);

/** vm_iobus() - the PIO/MMIO bus of @vm */
struct iobus *vm_iobus(struct vm *vm);

/**
 * vm_set_irq_line() - drive interrupt line @gsi of the in-kernel irqchip
 * Return: 0 or a negative errno from KVM_IRQ_LINE.
 */
int vm_set_irq_line(struct vm *vm, u32 gsi, bool level);

/**
 * vm_ioeventfd_add() - make guest writes of @len bytes at @addr signal @fd
 * in the kernel, with no exit to userspace
 * @match_data: only writes of @datamatch signal (else any value)
 * Return: 0 or a negative errno.
 */
int vm_ioeventfd_add(struct vm *vm, enum io_space space, u64 addr,
		     unsigned int len, u64 datamatch, bool match_data, int fd);

/** vm_ioeventfd_del() - undo vm_ioeventfd_add() with the same arguments */
int vm_ioeventfd_del(struct vm *vm, enum io_space space, u64 addr,
		     unsigned int len, u64 datamatch, bool match_data, int fd);

/**
 * vm_irqfd_add() - make a write to eventfd @fd raise (edge) interrupt @gsi
 * in the kernel
 * Return: 0 or a negative errno.
 */
int vm_irqfd_add(struct vm *vm, u32 gsi, int fd);

/** vm_irqfd_del() - undo vm_irqfd_add() */
int vm_irqfd_del(struct vm *vm, u32 gsi, int fd);

/**
 * vm_request_stop() - stop every vCPU and record why
 * @status: exit status for VM_STOP_EXIT
 *
 * Safe from any thread, including a vCPU thread inside an exit handler.
 * The first request wins; later ones are ignored.
 */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int status);

#endif /* KESTREL_VM_H */
