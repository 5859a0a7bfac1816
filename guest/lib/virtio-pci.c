// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-pci, modern interface (virtio 1.2 §4.1), from the driver's side:
 * discovery on bus 0 through configuration mechanism #1 and the vendor
 * capability walk (§4.1.4), the common configuration (§4.1.4.3),
 * notifications (§4.1.4.4), and interrupts: MSI-X with vector 0 for
 * configuration changes and vector 1 for every queue (§4.1.5.1.2), or
 * INTx through the ISR (§4.1.4.5) on the slot's level, active-low line.
 *
 * The BARs stay where kestrel placed them (below 4 GiB, identity mapped).
 */
#include "virtio.h"
#include "x86/apic.h"
#include "x86/desc.h"
#include "x86/pci.h"
#include "x86/processor.h"

#include <linux/virtio_pci.h>

/* Vendor capability layout (§4.1.4). */
#define VCAP_CFG_TYPE		offsetof(struct virtio_pci_cap, cfg_type)
#define VCAP_BAR		offsetof(struct virtio_pci_cap, bar)
#define VCAP_OFFSET		offsetof(struct virtio_pci_cap, offset)
#define VCAP_LENGTH		offsetof(struct virtio_pci_cap, length)
#define VCAP_NOTIFY_MULT	offsetof(struct virtio_pci_notify_cap, notify_off_multiplier)

/* Common configuration (§4.1.4.3): linux/virtio_pci.h's offsets. */

#define MSIX_VEC_CONFIG		0
#define MSIX_VEC_VRING		1

/* LAPIC vectors: config and vring per device, INTx per line. */
#define VPCI_MSI_VECTOR_BASE	0xa0
#define VPCI_INTX_VECTOR_BASE	0x90
#define VPCI_MAX_DEVICES	16

static bool use_intx;
static struct virtio_device *by_vector[256];

void virtio_pci_use_intx(bool intx)
{
	use_intx = intx;
}

static volatile u8 *cc8(struct virtio_device *vdev, u32 off)
{
	return (volatile u8 *)(uintptr_t)(vdev->base + off);
}

static volatile u16 *cc16(struct virtio_device *vdev, u32 off)
{
	return (volatile u16 *)(uintptr_t)(vdev->base + off);
}

static volatile u32 *cc32(struct virtio_device *vdev, u32 off)
{
	return (volatile u32 *)(uintptr_t)(vdev->base + off);
}

/* A 64-bit field as two 32-bit halves, low first (§4.1.3.1). */
static void cc64_write(struct virtio_device *vdev, u32 off, u64 v)
{
	*cc32(vdev, off) = (u32)v;
	*cc32(vdev, off + 4) = (u32)(v >> 32);
}

/* The structure of @type: its address, from the BAR it names; 0 if none. */
static u64 vpci_struct(unsigned int dev, u8 type, u32 *len, unsigned int *cap_at)
{
	for (unsigned int c = pci_find_cap(dev, PCI_CAP_ID_VNDR, 0); c;
	     c = pci_find_cap(dev, PCI_CAP_ID_VNDR, c)) {
		u8 bar = (u8)pci_cfg_read(dev, c + VCAP_BAR, 1);

		if (pci_cfg_read(dev, c + VCAP_CFG_TYPE, 1) != type || bar > 5)
			continue;
		if (len)
			*len = pci_cfg_read(dev, c + VCAP_LENGTH, 4);
		if (cap_at)
			*cap_at = c;
		return pci_bar_addr(dev, bar) + pci_cfg_read(dev, c + VCAP_OFFSET, 4);
	}
	return 0;
}

static bool vpci_probe_one(unsigned int dev, struct virtio_device *d)
{
	u32 id = pci_cfg_read(dev, PCI_VENDOR_ID, 4);
	unsigned int notify_cap = 0, msix;
	u32 len;

	if ((id & 0xffff) != 0x1af4 || (id >> 16) < 0x1040 || (id >> 16) > 0x107f)
		return false;
	*d = (struct virtio_device){ .pci = true, .slot = dev, .id = (id >> 16) - 0x1040 };
	d->base = vpci_struct(dev, VIRTIO_PCI_CAP_COMMON_CFG, &len, NULL);
	d->notify = vpci_struct(dev, VIRTIO_PCI_CAP_NOTIFY_CFG, NULL, &notify_cap);
	d->isr = vpci_struct(dev, VIRTIO_PCI_CAP_ISR_CFG, NULL, NULL);
	d->device_cfg = vpci_struct(dev, VIRTIO_PCI_CAP_DEVICE_CFG, NULL, NULL);
	if (!d->base || !d->notify || !d->isr || len < 0x38) {
		printf("virtio-pci: 00:%02x.0: common, notify or ISR structure missing\n", dev);
		return false;
	}
	d->notify_mult = pci_cfg_read(dev, notify_cap + VCAP_NOTIFY_MULT, 4);
	d->irq = pci_cfg_read(dev, PCI_INTERRUPT_LINE, 1);
	msix = pci_find_cap(dev, PCI_CAP_ID_MSIX, 0);
	if (msix) {
		u32 table = pci_cfg_read(dev, msix + 4, 4);

		d->msix_nr = (u16)((pci_cfg_read(dev, msix + 2, 2) & 0x7ff) + 1);
		d->msix_table = pci_bar_addr(dev, table & 7) + (table & ~7u);
	}
	pci_cfg_write(dev, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	d->num_queues = *cc16(d, VIRTIO_PCI_COMMON_NUMQ);
	return true;
}

unsigned int virtio_pci_probe(struct virtio_device *devs, unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int dev = 1; dev < 32 && n < max && n < VPCI_MAX_DEVICES; dev++)
		if (vpci_probe_one(dev, &devs[n]))
			n++;
	return n;
}

u8 virtio_pci_get_status(struct virtio_device *vdev)
{
	return *cc8(vdev, VIRTIO_PCI_COMMON_STATUS);
}

void virtio_pci_set_status(struct virtio_device *vdev, u8 status)
{
	*cc8(vdev, VIRTIO_PCI_COMMON_STATUS) = status;
	/* A reset forgets the vectors (§4.1.4.3): give the config one back. */
	if (!status && vdev->msix_on)
		*cc16(vdev, VIRTIO_PCI_COMMON_MSIX) = MSIX_VEC_CONFIG;
}

u64 virtio_pci_device_features(struct virtio_device *vdev)
{
	u64 f;

	*cc32(vdev, VIRTIO_PCI_COMMON_DFSELECT) = 1;
	f = (u64)*cc32(vdev, VIRTIO_PCI_COMMON_DF) << 32;
	*cc32(vdev, VIRTIO_PCI_COMMON_DFSELECT) = 0;
	return f | *cc32(vdev, VIRTIO_PCI_COMMON_DF);
}

void virtio_pci_driver_features(struct virtio_device *vdev, u64 features)
{
	*cc32(vdev, VIRTIO_PCI_COMMON_GFSELECT) = 0;
	*cc32(vdev, VIRTIO_PCI_COMMON_GF) = (u32)features;
	*cc32(vdev, VIRTIO_PCI_COMMON_GFSELECT) = 1;
	*cc32(vdev, VIRTIO_PCI_COMMON_GF) = (u32)(features >> 32);
}

int virtio_pci_queue_setup(struct virtio_device *vdev, struct virtqueue *vq, u16 index,
			   u16 *num)
{
	u16 max;

	*cc16(vdev, VIRTIO_PCI_COMMON_Q_SELECT) = index;
	if (*cc16(vdev, VIRTIO_PCI_COMMON_Q_ENABLE))
		return -1;
	max = *cc16(vdev, VIRTIO_PCI_COMMON_Q_SIZE);
	if (!max)
		return -1;
	if (*num > max)
		*num = max;
	return 0;
}

/* After virtqueue_init(): hand the rings over and enable the queue. */
int virtio_pci_queue_enable(struct virtio_device *vdev, struct virtqueue *vq)
{
	*cc16(vdev, VIRTIO_PCI_COMMON_Q_SELECT) = vq->index;
	*cc16(vdev, VIRTIO_PCI_COMMON_Q_SIZE) = vq->num;
	cc64_write(vdev, VIRTIO_PCI_COMMON_Q_DESCLO, (u64)(uintptr_t)vq->desc);
	cc64_write(vdev, VIRTIO_PCI_COMMON_Q_AVAILLO, (u64)(uintptr_t)vq->avail);
	cc64_write(vdev, VIRTIO_PCI_COMMON_Q_USEDLO, (u64)(uintptr_t)vq->used);
	if (vdev->msix_on) {
		*cc16(vdev, VIRTIO_PCI_COMMON_Q_MSIX) = MSIX_VEC_VRING;
		if (*cc16(vdev, VIRTIO_PCI_COMMON_Q_MSIX) != MSIX_VEC_VRING)
			printf("virtio-pci: 00:%02x.0: queue %u: vector refused\n", vdev->slot,
			       vq->index);
	}
	*cc16(vdev, VIRTIO_PCI_COMMON_Q_ENABLE) = 1;
	return *cc16(vdev, VIRTIO_PCI_COMMON_Q_ENABLE) == 1 ? 0 : -1;
}

u32 virtio_pci_generation(struct virtio_device *vdev)
{
	return *cc8(vdev, VIRTIO_PCI_COMMON_CFGGENERATION);
}

void virtio_pci_notify(struct virtio_device *vdev, u16 index)
{
	/* queue_notify_off is the queue index here; read once would cost an exit each time. */
	*(volatile u16 *)(uintptr_t)(vdev->notify + (u64)index * vdev->notify_mult) = index;
}

/* ---- interrupts ------------------------------------------------------------ */

static void vpci_msix_config_irq(struct ex_regs *regs)
{
	struct virtio_device *d = by_vector[regs->vector];

	if (!d)
		return;
	d->irqs++;
	d->config_irqs++;
}

static void vpci_msix_vring_irq(struct ex_regs *regs)
{
	struct virtio_device *d = by_vector[regs->vector];

	if (!d)
		return;
	d->irqs++;
	d->vring_irqs++;
}

/* INTx: the line may be shared; every device on it reads its ISR (which clears it). */
static void vpci_intx_irq(struct ex_regs *regs)
{
	u32 line = (u32)regs->vector - VPCI_INTX_VECTOR_BASE;

	for (unsigned int v = VPCI_MSI_VECTOR_BASE; v < VPCI_MSI_VECTOR_BASE + 2 * VPCI_MAX_DEVICES;
	     v += 2) {
		struct virtio_device *d = by_vector[v];
		u8 isr;

		if (!d || d->msix_on || d->irq != line)
			continue;
		isr = *(volatile u8 *)(uintptr_t)d->isr;
		if (!isr)
			continue;
		d->irqs++;
		if (isr & 1)
			d->vring_irqs++;
		if (isr & 2)
			d->config_irqs++;
	}
}

static void vpci_msix_entry(struct virtio_device *vdev, unsigned int n, u8 vec, u8 dest)
{
	volatile u32 *e = (volatile u32 *)(uintptr_t)(vdev->msix_table + 16 * n);

	e[0] = 0xfee00000u | (u32)dest << 12;
	e[1] = 0;
	e[2] = vec;
	e[3] = 0;	/* unmasked */
}

void virtio_pci_msix_mask(struct virtio_device *vdev, unsigned int n, bool masked)
{
	volatile u32 *e = (volatile u32 *)(uintptr_t)(vdev->msix_table + 16 * n);

	e[3] = masked ? 1 : 0;
}

bool virtio_pci_msix_pending(struct virtio_device *vdev, unsigned int n)
{
	/* kestrel puts the PBA 2 KiB after the table (docs/pci.md); read it from the capability. */
	unsigned int cap = pci_find_cap(vdev->slot, PCI_CAP_ID_MSIX, 0);
	u32 pba = pci_cfg_read(vdev->slot, cap + 8, 4);
	u64 addr = pci_bar_addr(vdev->slot, pba & 7) + (pba & ~7u);

	return (*(volatile u32 *)(uintptr_t)(addr + 4 * (n / 32)) >> (n % 32)) & 1;
}

void virtio_pci_irq_enable(struct virtio_device *vdev)
{
	static unsigned int next;
	unsigned int idx = next;
	u8 vcfg = (u8)(VPCI_MSI_VECTOR_BASE + 2 * idx), vring = (u8)(vcfg + 1);
	unsigned int cap = pci_find_cap(vdev->slot, PCI_CAP_ID_MSIX, 0);

	if (vdev->irq_on || idx >= VPCI_MAX_DEVICES)
		return;
	next++;
	vdev->irq_on = true;
	by_vector[vcfg] = vdev;
	by_vector[vring] = vdev;
	if (!use_intx && cap && vdev->msix_nr >= 2) {
		handle_irq(vcfg, vpci_msix_config_irq);
		handle_irq(vring, vpci_msix_vring_irq);
		vpci_msix_entry(vdev, MSIX_VEC_CONFIG, vcfg, (u8)apic_id());
		vpci_msix_entry(vdev, MSIX_VEC_VRING, vring, (u8)apic_id());
		/* MSI-X Enable; INTx Disable too (a function with MSI-X on raises no INTx). */
		pci_cfg_write(vdev->slot, cap + 2, 0x8000, 2);
		pci_cfg_write(vdev->slot, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
			      PCI_COMMAND_INTX_DISABLE, 2);
		vdev->msix_on = true;
		*cc16(vdev, VIRTIO_PCI_COMMON_MSIX) = MSIX_VEC_CONFIG;
		for (u16 q = 0; q < vdev->num_queues; q++) {
			*cc16(vdev, VIRTIO_PCI_COMMON_Q_SELECT) = q;
			*cc16(vdev, VIRTIO_PCI_COMMON_Q_MSIX) = MSIX_VEC_VRING;
		}
		return;
	}
	/* INTx: level-triggered, active low (the DSDT's _PRT), one vector per line. */
	handle_irq((u8)(VPCI_INTX_VECTOR_BASE + vdev->irq), vpci_intx_irq);
	ioapic_write(0x11 + 2 * vdev->irq, (u32)apic_id() << 24);
	ioapic_write(0x10 + 2 * vdev->irq, (VPCI_INTX_VECTOR_BASE + vdev->irq) | 1u << 13 |
		     1u << 15);
}
