// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VM's GSI routing table (KVM_SET_GSI_ROUTING), shared by the
 * interrupt controller and MSI(-X) devices.
 *
 * KVM takes the whole table at once, so one owner keeps it: GSIs below
 * VM_GSI_MSI_BASE belong to the architecture's interrupt controller (x86:
 * the userspace IOAPIC's pins, or the in-kernel PIC/IOAPIC pins), set as a
 * block with vm_gsi_routes_set_pins(); GSIs from VM_GSI_MSI_BASE up are
 * handed out one at a time to MSI sources (vm_msi_route_add()), each with
 * its own message. Every change rebuilds and installs the table.
 *
 * Locking: routes->lock covers the table; callers are vCPU threads (guest
 * writes to IOAPIC or MSI-X registers) and the VMM thread (create/destroy).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>

#include "internal.h"

/**
 * struct vm_msi_route - one GSI handed to an MSI source
 * @used: allocated
 * @valid: has a message (else it is left out of the table)
 * @addr: message address
 * @data: message data
 */
struct vm_msi_route {
	bool used;
	bool valid;
	u64 addr;
	u32 data;
};

/* Entries of the controller's part: a GSI may go to two chips (PIC and IOAPIC). */
#define ROUTES_MAX_PINS		(2 * VM_GSI_MSI_BASE)

struct vm_routes {
	pthread_mutex_t lock;
	struct kvm_irq_routing_entry pins[ROUTES_MAX_PINS];
	unsigned int nr_pins;
	struct vm_msi_route msi[VM_GSI_MSI_MAX];
	struct kvm_irq_routing *table;	/* scratch for the ioctl */
};

int vm_routes_create(struct vm *vm)
{
	struct vm_routes *r = xzalloc(sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->table = xzalloc(sizeof(*r->table) +
			   (ROUTES_MAX_PINS + VM_GSI_MSI_MAX) * sizeof(r->table->entries[0]));
	if (!r->table) {
		free(r);
		return -ENOMEM;
	}
	pthread_mutex_init(&r->lock, NULL);
	vm->routes = r;
	return 0;
}

void vm_routes_destroy(struct vm *vm)
{
	struct vm_routes *r = vm->routes;

	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->table);
	free(r);
	vm->routes = NULL;
}

/* Install pins + valid MSI routes. Lock held. */
static int routes_commit(struct vm *vm)
{
	struct vm_routes *r = vm->routes;
	struct kvm_irq_routing *t = r->table;

	t->nr = 0;
	t->flags = 0;
	memcpy(t->entries, r->pins, r->nr_pins * sizeof(r->pins[0]));
	t->nr = r->nr_pins;
	for (unsigned int i = 0; i < VM_GSI_MSI_MAX; i++) {
		struct kvm_irq_routing_entry *e = &t->entries[t->nr];

		if (!r->msi[i].used || !r->msi[i].valid)
			continue;
		memset(e, 0, sizeof(*e));
		e->gsi = VM_GSI_MSI_BASE + i;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (u32)r->msi[i].addr;
		e->u.msi.address_hi = (u32)(r->msi[i].addr >> 32);
		e->u.msi.data = r->msi[i].data;
		t->nr++;
	}
	return ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, t) < 0 ? -errno : 0;
}

int vm_gsi_routes_set_pins(struct vm *vm, const struct kvm_irq_routing_entry *e,
			   unsigned int nr)
{
	struct vm_routes *r = vm->routes;
	int ret;

	if (nr > ROUTES_MAX_PINS)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	memcpy(r->pins, e, nr * sizeof(*e));
	r->nr_pins = nr;
	ret = routes_commit(vm);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

void vm_gsi_routes_init_pins(struct vm *vm, const struct kvm_irq_routing_entry *e,
			     unsigned int nr)
{
	struct vm_routes *r = vm->routes;

	pthread_mutex_lock(&r->lock);
	memcpy(r->pins, e, MIN(nr, (unsigned int)ROUTES_MAX_PINS) * sizeof(*e));
	r->nr_pins = MIN(nr, (unsigned int)ROUTES_MAX_PINS);
	pthread_mutex_unlock(&r->lock);
}

int vm_msi_route_add(struct vm *vm, u32 *gsi)
{
	struct vm_routes *r = vm->routes;
	if (!r)
		return -ENODEV;
	pthread_mutex_lock(&r->lock);
	for (unsigned int i = 0; i < VM_GSI_MSI_MAX; i++) {
		if (r->msi[i].used)
			continue;
		r->msi[i] = (struct vm_msi_route){ .used = true };
		*gsi = VM_GSI_MSI_BASE + i;
		pthread_mutex_unlock(&r->lock);
		return 0;
	}
	pthread_mutex_unlock(&r->lock);
	return -ENOSPC;
}

static struct vm_msi_route *msi_route(struct vm_routes *r, u32 gsi)
{
	if (gsi < VM_GSI_MSI_BASE || gsi - VM_GSI_MSI_BASE >= VM_GSI_MSI_MAX ||
	    !r->msi[gsi - VM_GSI_MSI_BASE].used)
		return NULL;
	return &r->msi[gsi - VM_GSI_MSI_BASE];
}

int vm_msi_route_set(struct vm *vm, u32 gsi, bool valid, u64 addr, u32 data)
{
	struct vm_routes *r = vm->routes;
	struct vm_msi_route *m;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	m = msi_route(r, gsi);
	if (!m) {
		ret = -EINVAL;
	} else if (m->valid != valid || (valid && (m->addr != addr || m->data != data))) {
		m->valid = valid;
		m->addr = addr;
		m->data = data;
		ret = routes_commit(vm);
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

void vm_msi_route_del(struct vm *vm, u32 gsi)
{
	struct vm_routes *r = vm->routes;
	struct vm_msi_route *m;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	m = msi_route(r, gsi);
	if (m) {
		bool was_valid = m->valid;

		*m = (struct vm_msi_route){ 0 };
		if (was_valid)
			routes_commit(vm);
	}
	pthread_mutex_unlock(&r->lock);
}

int vm_signal_msi(struct vm *vm, u64 addr, u32 data)
{
	struct kvm_msi msi = {
		.address_lo = (u32)addr, .address_hi = (u32)(addr >> 32), .data = data,
	};

	return ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}
