// SPDX-License-Identifier: GPL-2.0-only
/* The device-facing part of vm.h, without KVM (see fake_vm.h). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "fake_vm.h"

struct fake_ioeventfd {
	bool used;
	enum io_space space;
	u64 addr;
	unsigned int len;
	u64 datamatch;
	bool match_data;
	int fd;
};

struct fake_irqfd {
	bool used;
	u32 gsi;
	int fd;
};

struct vm {
	struct address_space *as;
	struct iobus *bus;
	void *ram;
	struct fake_ioeventfd ioev[FAKE_VM_MAX_EVENTFDS];
	struct fake_irqfd irqfd[FAKE_VM_MAX_EVENTFDS];
	int fail_ioeventfd_after;
};

int fake_vm_create(u64 ram_size, struct vm **out)
{
	struct mem_region *r;
	struct vm *vm = calloc(1, sizeof(*vm));
	int ret;

	if (!vm)
		return -ENOMEM;
	vm->fail_ioeventfd_after = -1;
	ret = address_space_create(&vm->as);
	if (!ret)
		ret = address_space_add_ram(vm->as, 0, ram_size, 0, &r);
	if (!ret)
		ret = iobus_create(&vm->bus);
	if (ret) {
		fake_vm_destroy(vm);
		return ret;
	}
	vm->ram = r->hva;
	*out = vm;
	return 0;
}

void fake_vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	iobus_destroy(vm->bus);
	address_space_destroy(vm->as);
	free(vm);
}

void *fake_vm_ram(struct vm *vm)
{
	return vm->ram;
}

struct address_space *vm_address_space(struct vm *vm)
{
	return vm->as;
}

struct iobus *vm_iobus(struct vm *vm)
{
	return vm->bus;
}

int vm_set_irq_line(struct vm *vm, u32 gsi, bool level)
{
	return 0;
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int status)
{
}

int vm_ioeventfd_add(struct vm *vm, enum io_space space, u64 addr,
		     unsigned int len, u64 datamatch, bool match_data, int fd)
{
	if (vm->fail_ioeventfd_after == 0)
		return -ENOSPC;
	if (vm->fail_ioeventfd_after > 0)
		vm->fail_ioeventfd_after--;
	for (unsigned int i = 0; i < FAKE_VM_MAX_EVENTFDS; i++) {
		struct fake_ioeventfd *e = &vm->ioev[i];

		if (e->used && e->space == space && e->addr == addr &&
		    (!e->match_data || !match_data || e->datamatch == datamatch))
			return -EEXIST;	/* as KVM does */
	}
	for (unsigned int i = 0; i < FAKE_VM_MAX_EVENTFDS; i++) {
		struct fake_ioeventfd *e = &vm->ioev[i];

		if (e->used)
			continue;
		*e = (struct fake_ioeventfd){ true, space, addr, len, datamatch,
					      match_data, fd };
		return 0;
	}
	return -ENOSPC;
}

int vm_ioeventfd_del(struct vm *vm, enum io_space space, u64 addr,
		     unsigned int len, u64 datamatch, bool match_data, int fd)
{
	for (unsigned int i = 0; i < FAKE_VM_MAX_EVENTFDS; i++) {
		struct fake_ioeventfd *e = &vm->ioev[i];

		if (e->used && e->space == space && e->addr == addr &&
		    e->len == len && e->datamatch == datamatch &&
		    e->match_data == match_data && e->fd == fd) {
			e->used = false;
			return 0;
		}
	}
	return -ENOENT;
}

int vm_irqfd_add(struct vm *vm, u32 gsi, int fd)
{
	for (unsigned int i = 0; i < FAKE_VM_MAX_EVENTFDS; i++) {
		if (vm->irqfd[i].used)
			continue;
		vm->irqfd[i] = (struct fake_irqfd){ true, gsi, fd };
		return 0;
	}
	return -ENOSPC;
}

int vm_irqfd_del(struct vm *vm, u32 gsi, int fd)
{
	for (unsigned int i = 0; i < FAKE_VM_MAX_EVENTFDS; i++) {
		if (vm->irqfd[i].used && vm->irqfd[i].gsi == gsi &&
		    vm->irqfd[i].fd == fd) {
			vm->irqfd[i].used = false;
			return 0;
		}
	}
	return -ENOENT;
}

int fake_vm_mmio_write(struct vm *vm, u64 addr, u32 val, unsigned int len)
{
	for (unsigned int i = 0; i < FAKE_VM_MAX_EVENTFDS; i++) {
		struct fake_ioeventfd *e = &vm->ioev[i];

		if (e->used && e->space == IO_SPACE_MMIO && e->addr == addr &&
		    e->len == len && (!e->match_data || e->datamatch == val))
			return eventfd_write(e->fd, 1) ? -errno : 0;
	}
	return iobus_dispatch(vm->bus, IO_SPACE_MMIO, addr, &val, len, true);
}

u32 fake_vm_mmio_read(struct vm *vm, u64 addr, unsigned int len)
{
	u32 val = 0;

	if (iobus_dispatch(vm->bus, IO_SPACE_MMIO, addr, &val, len, false))
		return UINT32_MAX;
	return val;
}

int fake_vm_irqfd(struct vm *vm, u32 gsi)
{
	for (unsigned int i = 0; i < FAKE_VM_MAX_EVENTFDS; i++)
		if (vm->irqfd[i].used && vm->irqfd[i].gsi == gsi)
			return vm->irqfd[i].fd;
	return -1;
}

bool fake_vm_wait_irq(struct vm *vm, u32 gsi, int timeout_ms)
{
	struct pollfd pfd = { .fd = fake_vm_irqfd(vm, gsi), .events = POLLIN };
	eventfd_t v;

	if (pfd.fd < 0 || poll(&pfd, 1, timeout_ms) <= 0)
		return false;
	return eventfd_read(pfd.fd, &v) == 0;
}

unsigned int fake_vm_nr_ioeventfds(struct vm *vm)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FAKE_VM_MAX_EVENTFDS; i++)
		n += vm->ioev[i].used;
	return n;
}

unsigned int fake_vm_nr_irqfds(struct vm *vm)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FAKE_VM_MAX_EVENTFDS; i++)
		n += vm->irqfd[i].used;
	return n;
}

void fake_vm_fail_ioeventfd_after(struct vm *vm, int n)
{
	vm->fail_ioeventfd_after = n;
}
