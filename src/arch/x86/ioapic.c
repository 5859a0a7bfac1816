// SPDX-License-Identifier: GPL-2.0-only
/*
 * A userspace 82093AA I/O APIC, for KVM's split irqchip: the LAPICs stay
 * in the kernel, the IOAPIC (and no 8259 PIC, no 8254 PIT) lives here.
 *
 * Why. Destroying a VM whose IOAPIC and PIC are in the kernel waits for
 * SRCU grace periods: measured here, closing such a VM takes ~15-18 ms
 * against ~0.2 ms with the split irqchip, and that wait was most of
 * kestrel's boot-to-exit time. The platform kestrel describes has no PIC
 * (no PCAT_COMPAT in the MADT: Linux probes, finds none, and programs no
 * PIC or PIT); `--irqchip kernel` (with `--pit`) keeps the full in-kernel
 * irqchip for guests that do (docs/irqchip.md).
 *
 * How interrupts travel. Every pin maps to an MSI message built from its
 * redirection entry (destination, vector, delivery and trigger mode).
 *  - Lines driven from userspace (vm_set_irq_line(): UART, i8042, PONG,
 *    RTC, testdev) are delivered here with KVM_SIGNAL_MSI: edge pins on a
 *    rising edge, level pins while asserted, once until the guest's EOI.
 *  - Lines driven by an irqfd (virtio-mmio, edge) go straight from the
 *    kernel through a GSI route (pin n = GSI n) of type MSI, which this
 *    file keeps equal to the redirection entry: routes for masked edge
 *    pins are left out, so a masked pin drops its edges as the chip does.
 *  - Level pins always have a route, masked or not: KVM derives from the
 *    level-triggered routes which vectors need an EOI exit
 *    (KVM_EXIT_IOAPIC_EOI), and that exit clears Remote IRR here and
 *    re-delivers a line that is still asserted.
 * Polarity is applied as KVM's in-kernel IOAPIC does: the effective level
 * is the line level XOR the entry's polarity bit.
 *
 * Locking: io->lock protects everything below it; vCPU threads (MMIO,
 * EOI exits) and device threads (vm_set_irq_line()) take it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/iobus.h>
#include <kestrel/log.h>
#include <kestrel/snapshot.h>
#include <kestrel/x86/layout.h>

#include "x86.h"

#define IOAPIC_REG_SELECT	0x00
#define IOAPIC_REG_WINDOW	0x10
#define IOAPIC_REG_EOI		0x40
#define IOAPIC_MMIO_SIZE	0x1000

#define IOAPIC_ID		0x00
#define IOAPIC_VERSION		0x01
#define IOAPIC_ARB		0x02
#define IOAPIC_REDTBL		0x10
#define IOAPIC_VERSION_ID	0x11	/* 82093AA */

/* Redirection entry bits. */
#define RTE_VECTOR		0xffULL
#define RTE_DELIVERY_SHIFT	8
#define RTE_DELIVERY_MASK	(7ULL << RTE_DELIVERY_SHIFT)
#define RTE_DEST_LOGICAL	(1ULL << 11)
#define RTE_DELIVERY_STATUS	(1ULL << 12)
#define RTE_POLARITY_LOW	(1ULL << 13)
#define RTE_REMOTE_IRR		(1ULL << 14)
#define RTE_LEVEL		(1ULL << 15)
#define RTE_MASKED		(1ULL << 16)
#define RTE_DEST_SHIFT		56
/* What the guest may write; delivery status and Remote IRR are ours. */
#define RTE_WRITABLE		(~(RTE_DELIVERY_STATUS | RTE_REMOTE_IRR))

#define MSI_ADDR_BASE		0xfee00000u

struct x86_ioapic {
	struct io_dev dev;
	struct vm *vm;
	bool registered;
	pthread_mutex_t lock;
	struct ratelimit rl;

	/* Under lock. */
	u32 select;
	u32 id;
	u64 rte[X86_IOAPIC_PINS];
	u32 lines;			/* bit n: pin n's line is high */
	u32 routed;			/* pins with a GSI route now */
};

static bool rte_effective(const struct x86_ioapic *io, unsigned int pin)
{
	bool line = io->lines & (1u << pin);

	return line ^ !!(io->rte[pin] & RTE_POLARITY_LOW);
}

static void rte_msi(u64 rte, u32 *addr, u32 *data)
{
	*addr = MSI_ADDR_BASE | (u32)((rte >> RTE_DEST_SHIFT) & 0xff) << 12 |
		((rte & RTE_DEST_LOGICAL) ? 1u << 2 : 0);
	/* Level-triggered messages are sent asserted (bit 14). */
	*data = (u32)(rte & (RTE_VECTOR | RTE_DELIVERY_MASK)) |
		((rte & RTE_LEVEL) ? (1u << 15 | 1u << 14) : 0);
}

/* Send pin @pin's message now. Lock held. */
static void ioapic_deliver(struct x86_ioapic *io, unsigned int pin)
{
	struct kvm_msi msi = { 0 };
	int ret;

	if ((io->rte[pin] & RTE_VECTOR) < 16 &&
	    !(io->rte[pin] & RTE_DELIVERY_MASK)) {
		if (ratelimit_allow(&io->rl))
			pr_warn("ioapic: pin %u: vector %llu is reserved, not delivered",
				pin, (unsigned long long)(io->rte[pin] & RTE_VECTOR));
		return;
	}
	rte_msi(io->rte[pin], &msi.address_lo, &msi.data);
	ret = ioctl(io->vm->vm_fd, KVM_SIGNAL_MSI, &msi);
	if (ret < 0 && ratelimit_allow(&io->rl))
		pr_warn("ioapic: pin %u: KVM_SIGNAL_MSI: %s", pin, strerror(errno));
	if (io->rte[pin] & RTE_LEVEL)
		io->rte[pin] |= RTE_REMOTE_IRR;
}

/* A level pin that is asserted, unmasked and not awaiting EOI fires. */
static void ioapic_service_level(struct x86_ioapic *io, unsigned int pin)
{
	u64 rte = io->rte[pin];

	if ((rte & RTE_LEVEL) && !(rte & (RTE_MASKED | RTE_REMOTE_IRR)) &&
	    rte_effective(io, pin))
		ioapic_deliver(io, pin);
}

/*
 * Make the GSI routes match the redirection table (the pins' part of the
 * VM's table, src/core/irqroute.c). Lock held.
 */
static void ioapic_update_routes(struct x86_ioapic *io)
{
	struct kvm_irq_routing_entry e[X86_IOAPIC_PINS];
	unsigned int nr = 0;
	u32 want = 0;
	int ret;

	for (unsigned int pin = 0; pin < X86_IOAPIC_PINS; pin++)
		if ((io->rte[pin] & RTE_LEVEL) || !(io->rte[pin] & RTE_MASKED))
			want |= 1u << pin;
	for (unsigned int pin = 0; pin < X86_IOAPIC_PINS; pin++) {
		if (!(want & (1u << pin)))
			continue;
		memset(&e[nr], 0, sizeof(e[nr]));
		e[nr].gsi = pin;
		e[nr].type = KVM_IRQ_ROUTING_MSI;
		rte_msi(io->rte[pin], &e[nr].u.msi.address_lo, &e[nr].u.msi.data);
		nr++;
	}
	ret = vm_gsi_routes_set_pins(io->vm, e, nr);
	if (ret < 0) {
		if (ratelimit_allow(&io->rl))
			pr_warn("ioapic: KVM_SET_GSI_ROUTING: %s", strerror(-ret));
		return;
	}
	io->routed = want;
}

static u32 ioapic_read_reg(struct x86_ioapic *io)
{
	u32 reg = io->select & 0xff;
	unsigned int pin;

	switch (reg) {
	case IOAPIC_ID:
	case IOAPIC_ARB:
		return io->id << 24;
	case IOAPIC_VERSION:
		return (u32)(X86_IOAPIC_PINS - 1) << 16 | IOAPIC_VERSION_ID;
	}
	if (reg < IOAPIC_REDTBL || reg >= IOAPIC_REDTBL + 2 * X86_IOAPIC_PINS)
		return 0;
	pin = (reg - IOAPIC_REDTBL) / 2;
	return (reg & 1) ? (u32)(io->rte[pin] >> 32) : (u32)io->rte[pin];
}

static void ioapic_write_reg(struct x86_ioapic *io, u32 v)
{
	u32 reg = io->select & 0xff;
	unsigned int pin;
	u64 old, rte;

	if (reg == IOAPIC_ID) {
		io->id = (v >> 24) & 0xf;
		return;
	}
	if (reg < IOAPIC_REDTBL || reg >= IOAPIC_REDTBL + 2 * X86_IOAPIC_PINS)
		return;	/* version and arbitration are read-only */
	pin = (reg - IOAPIC_REDTBL) / 2;
	old = io->rte[pin];
	rte = (reg & 1) ? (old & 0xffffffffULL) | (u64)v << 32
			: (old & ~0xffffffffULL) | v;
	rte = (rte & RTE_WRITABLE) | (old & RTE_REMOTE_IRR);
	/* Edge-triggered entries have no Remote IRR. */
	if (!(rte & RTE_LEVEL))
		rte &= ~RTE_REMOTE_IRR;
	io->rte[pin] = rte;
	if ((old ^ rte) & ~(RTE_REMOTE_IRR | RTE_DELIVERY_STATUS))
		ioapic_update_routes(io);
	ioapic_service_level(io, pin);
}

static int ioapic_mmio_read(struct io_dev *dev, u64 offset, void *data,
			    unsigned int len)
{
	struct x86_ioapic *io = container_of(dev, struct x86_ioapic, dev);
	u32 v = 0;

	pthread_mutex_lock(&io->lock);
	if (offset == IOAPIC_REG_SELECT)
		v = io->select;
	else if (offset == IOAPIC_REG_WINDOW)
		v = ioapic_read_reg(io);
	pthread_mutex_unlock(&io->lock);
	memcpy(data, &v, MIN(len, sizeof(v)));
	return 0;
}

static void __ioapic_eoi(struct x86_ioapic *io, u8 vector)
{
	for (unsigned int pin = 0; pin < X86_IOAPIC_PINS; pin++) {
		if ((io->rte[pin] & RTE_VECTOR) != vector ||
		    !(io->rte[pin] & RTE_REMOTE_IRR))
			continue;
		io->rte[pin] &= ~RTE_REMOTE_IRR;
		ioapic_service_level(io, pin);
	}
}

static int ioapic_mmio_write(struct io_dev *dev, u64 offset, const void *data,
			     unsigned int len)
{
	struct x86_ioapic *io = container_of(dev, struct x86_ioapic, dev);
	u32 v = 0;

	memcpy(&v, data, MIN(len, sizeof(v)));
	pthread_mutex_lock(&io->lock);
	if (offset == IOAPIC_REG_SELECT)
		io->select = v;
	else if (offset == IOAPIC_REG_WINDOW)
		ioapic_write_reg(io, v);
	else if (offset == IOAPIC_REG_EOI)
		__ioapic_eoi(io, (u8)v);	/* directed EOI (version 0x20) */
	pthread_mutex_unlock(&io->lock);
	return 0;
}

static const struct io_ops ioapic_ops = {
	.read = ioapic_mmio_read,
	.write = ioapic_mmio_write,
	.min_access = 4,
	.max_access = 4,
};

int x86_ioapic_set_line(struct x86_ioapic *io, u32 pin, bool level)
{
	bool was;

	if (pin >= X86_IOAPIC_PINS)
		return -EINVAL;
	pthread_mutex_lock(&io->lock);
	was = rte_effective(io, pin);
	io->lines = level ? io->lines | (1u << pin) : io->lines & ~(1u << pin);
	if (io->rte[pin] & RTE_LEVEL)
		ioapic_service_level(io, pin);
	else if (!was && rte_effective(io, pin) && !(io->rte[pin] & RTE_MASKED))
		ioapic_deliver(io, pin);
	pthread_mutex_unlock(&io->lock);
	return 0;
}

void x86_ioapic_eoi(struct x86_ioapic *io, u8 vector)
{
	pthread_mutex_lock(&io->lock);
	__ioapic_eoi(io, vector);
	pthread_mutex_unlock(&io->lock);
}

int x86_ioapic_create(struct vm *vm, u32 id, struct x86_ioapic **out)
{
	struct x86_ioapic *io;
	int ret;

	io = xzalloc(sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->dev.ops = &ioapic_ops;
	io->dev.name = "ioapic";
	io->vm = vm;
	io->id = id & 0xf;
	io->rl = (struct ratelimit)RATELIMIT_INIT;
	pthread_mutex_init(&io->lock, NULL);
	for (unsigned int pin = 0; pin < X86_IOAPIC_PINS; pin++)
		io->rte[pin] = RTE_MASKED;
	ret = iobus_register(vm->bus, IO_SPACE_MMIO, X86_IOAPIC_GPA,
			     IOAPIC_MMIO_SIZE, &io->dev);
	if (ret)
		goto err_destroy;
	io->registered = true;
	*out = io;
	return 0;

err_destroy:
	x86_ioapic_destroy(io);
	return ret;
}

/* SNAP_SEC_IOAPIC: the guest-visible registers and the line levels. */
struct ioapic_snap {
	u32 select;
	u32 id;
	u32 lines;
	u32 pad;
	u64 rte[X86_IOAPIC_PINS];
};

int x86_ioapic_snapshot_save(struct x86_ioapic *io, struct snap_writer *w)
{
	struct ioapic_snap st = { 0 };

	pthread_mutex_lock(&io->lock);
	st.select = io->select;
	st.id = io->id;
	st.lines = io->lines;
	memcpy(st.rte, io->rte, sizeof(st.rte));
	pthread_mutex_unlock(&io->lock);
	return snap_write_section(w, SNAP_SEC_IOAPIC, 0, &st, sizeof(st));
}

int x86_ioapic_snapshot_restore(struct x86_ioapic *io, struct snap_reader *r, char *err,
				size_t errlen)
{
	const struct ioapic_snap *st;
	const void *data;
	size_t len;

	if (snap_read_section(r, SNAP_SEC_IOAPIC, 0, &data, &len) || len != sizeof(*st)) {
		snprintf(err, errlen, "state file: the IOAPIC section is missing or malformed");
		return -EINVAL;
	}
	st = data;
	pthread_mutex_lock(&io->lock);
	/* Any value is one the guest could have written; ours are bounded. */
	io->select = st->select & 0xff;
	io->id = st->id & 0xf;
	io->lines = st->lines & ((1u << X86_IOAPIC_PINS) - 1);
	memcpy(io->rte, st->rte, sizeof(io->rte));
	ioapic_update_routes(io);
	pthread_mutex_unlock(&io->lock);
	return 0;
}

void x86_ioapic_destroy(struct x86_ioapic *io)
{
	if (!io)
		return;
	if (io->registered)
		iobus_unregister(io->vm->bus, IO_SPACE_MMIO, X86_IOAPIC_GPA);
	pthread_mutex_destroy(&io->lock);
	free(io);
}
