// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fake VM behind tests/unit/hw: a real struct iobus (src/core/iobus.c)
 * and recorders for interrupt lines, stop requests and vCPU adds. Devices
 * may call in from their own threads (the UART's I/O thread), so every
 * recorder is under one mutex.
 */
#include "fake_vm.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct vm {
	struct iobus *bus;
	pthread_mutex_t lock;
	/* Under lock. */
	bool irq_level[FAKE_VM_NR_GSIS];
	unsigned int irq_edges[FAKE_VM_NR_GSIS];
	unsigned int irq_calls[FAKE_VM_NR_GSIS];
	unsigned int stops;
	enum vm_stop_reason stop_reason;
	int stop_status;
	unsigned int nr_vcpus;
	int add_vcpu_err;
};

struct vm *fake_vm_create(void)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	if (iobus_create(&vm->bus)) {
		free(vm);
		return NULL;
	}
	pthread_mutex_init(&vm->lock, NULL);
	vm->nr_vcpus = 1;
	return vm;
}

void fake_vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	iobus_destroy(vm->bus);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

/* ---- vm.h, as the devices see it ------------------------------------------ */

struct iobus *vm_iobus(struct vm *vm)
{
	return vm->bus;
}

int vm_set_irq_line(struct vm *vm, u32 gsi, bool level)
{
	if (gsi >= FAKE_VM_NR_GSIS)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	vm->irq_calls[gsi]++;
	if (vm->irq_level[gsi] != level)
		vm->irq_edges[gsi]++;
	vm->irq_level[gsi] = level;
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int status)
{
	pthread_mutex_lock(&vm->lock);
	vm->stops++;
	if (vm->stop_reason == VM_STOP_NONE && reason != VM_STOP_NONE) {
		vm->stop_reason = reason;
		vm->stop_status = reason == VM_STOP_EXIT ? status : 0;
	}
	pthread_mutex_unlock(&vm->lock);
}

unsigned int vm_nr_vcpus(struct vm *vm)
{
	unsigned int n;

	pthread_mutex_lock(&vm->lock);
	n = vm->nr_vcpus;
	pthread_mutex_unlock(&vm->lock);
	return n;
}

int vm_add_vcpu(struct vm *vm, struct vcpu **out)
{
	int ret;

	pthread_mutex_lock(&vm->lock);
	ret = vm->add_vcpu_err;
	if (!ret)
		vm->nr_vcpus++;
	pthread_mutex_unlock(&vm->lock);
	if (!ret && out)
		*out = NULL;	/* no real vCPU behind the fake */
	return ret;
}

/* ---- recorders ----------------------------------------------------------------- */

bool fake_vm_irq_level(struct vm *vm, u32 gsi)
{
	bool v;

	pthread_mutex_lock(&vm->lock);
	v = gsi < FAKE_VM_NR_GSIS && vm->irq_level[gsi];
	pthread_mutex_unlock(&vm->lock);
	return v;
}

unsigned int fake_vm_irq_edges(struct vm *vm, u32 gsi)
{
	unsigned int v;

	pthread_mutex_lock(&vm->lock);
	v = gsi < FAKE_VM_NR_GSIS ? vm->irq_edges[gsi] : 0;
	pthread_mutex_unlock(&vm->lock);
	return v;
}

unsigned int fake_vm_irq_calls(struct vm *vm, u32 gsi)
{
	unsigned int v;

	pthread_mutex_lock(&vm->lock);
	v = gsi < FAKE_VM_NR_GSIS ? vm->irq_calls[gsi] : 0;
	pthread_mutex_unlock(&vm->lock);
	return v;
}

unsigned int fake_vm_stops(struct vm *vm)
{
	unsigned int v;

	pthread_mutex_lock(&vm->lock);
	v = vm->stops;
	pthread_mutex_unlock(&vm->lock);
	return v;
}

enum vm_stop_reason fake_vm_stop_reason(struct vm *vm)
{
	enum vm_stop_reason r;

	pthread_mutex_lock(&vm->lock);
	r = vm->stop_reason;
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int fake_vm_stop_status(struct vm *vm)
{
	int s;

	pthread_mutex_lock(&vm->lock);
	s = vm->stop_status;
	pthread_mutex_unlock(&vm->lock);
	return s;
}

void fake_vm_fail_add_vcpu(struct vm *vm, int err)
{
	pthread_mutex_lock(&vm->lock);
	vm->add_vcpu_err = err;
	pthread_mutex_unlock(&vm->lock);
}

/* ---- guest accesses --------------------------------------------------------- */

int fake_vm_pio_write(struct vm *vm, u16 port, u32 val, unsigned int len)
{
	u8 buf[4];

	if (len > sizeof(buf))
		return -EINVAL;
	memcpy(buf, &val, len);
	return iobus_dispatch(vm->bus, IO_SPACE_PIO, port, buf, len, true);
}

int fake_vm_pio_read(struct vm *vm, u16 port, u32 *val, unsigned int len)
{
	u8 buf[4] = { 0 };
	int ret;

	if (len > sizeof(buf))
		return -EINVAL;
	ret = iobus_dispatch(vm->bus, IO_SPACE_PIO, port, buf, len, false);
	*val = 0;
	memcpy(val, buf, len);
	return ret;
}

int fake_vm_mmio_write(struct vm *vm, u64 gpa, u64 val, unsigned int len)
{
	u8 buf[8];

	if (len > sizeof(buf))
		return -EINVAL;
	memcpy(buf, &val, len);
	return iobus_dispatch(vm->bus, IO_SPACE_MMIO, gpa, buf, len, true);
}

int fake_vm_mmio_read(struct vm *vm, u64 gpa, u64 *val, unsigned int len)
{
	u8 buf[8] = { 0 };
	int ret;

	if (len > sizeof(buf))
		return -EINVAL;
	ret = iobus_dispatch(vm->bus, IO_SPACE_MMIO, gpa, buf, len, false);
	*val = 0;
	memcpy(val, buf, len);
	return ret;
}

void fake_outb(struct vm *vm, u16 port, u8 val)
{
	fake_vm_pio_write(vm, port, val, 1);
}

u8 fake_inb(struct vm *vm, u16 port)
{
	u32 v;

	return fake_vm_pio_read(vm, port, &v, 1) ? 0xff : (u8)v;
}
