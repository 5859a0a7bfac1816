// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCI conventions on kestrel's host bridge (docs/pci.md), run with two
 * virtio-rng functions on virtio-pci (--rng --device vdpa,type=rng
 * --transport pci):
 *  - 00:00.0 is a host bridge; empty slots and other functions read all
 *    ones, through configuration mechanism #1 and through ECAM alike;
 *  - byte and word reads at every offset of CONFIG_DATA agree with dwords;
 *  - BAR sizing by the all-ones write (memory and 64-bit), unused BARs 0;
 *  - the capability list: MSI-X and the virtio vendor capabilities, ending;
 *  - MSI-X delivery, a masked vector's pending bit and its delivery on
 *    unmask; INTx through the ISR on the second function.
 */
#include "guest.h"
#include "virtio.h"
#include "x86/apic.h"
#include "x86/pci.h"
#include "x86/processor.h"

#include <kestrel/x86/layout.h>

#define LEN	32

static u8 buf[LEN];

static u32 ecam_read32(unsigned int dev, unsigned int reg)
{
	return mmio_read32(X86_PCI_ECAM_GPA + ((u64)dev << 15) + reg);
}

static void check_config_space(unsigned int rng_slot)
{
	unsigned int absent = 0, ecam_ok = 0;
	u32 v;

	v = pci_cfg_read(0, PCI_CLASS_REVISION, 4) >> 8;
	report(v == 0x060000, "00:00.0 is a host bridge (class %06x)", v);
	for (unsigned int dev = 0; dev < 32; dev++) {
		u32 id = pci_cfg_read(dev, PCI_VENDOR_ID, 4);

		if (id == 0xffffffff)
			absent++;
		if (ecam_read32(dev, PCI_VENDOR_ID) == id)
			ecam_ok++;
	}
	report(absent == 29, "29 empty slots read all ones (%u)", absent);
	report(ecam_ok == 32, "ECAM and mechanism #1 agree on every slot (%u)", ecam_ok);
	v = mmio_read32(X86_PCI_ECAM_GPA + (1u << 12));
	report(v == 0xffffffff, "function 1 of 00:00 reads all ones (%#x)", v);
	v = pci_cfg_read(rng_slot, PCI_VENDOR_ID, 4);
	report(v == (0x1044u << 16 | 0x1af4), "virtio-rng: vendor 0x1af4, device 0x1044 (%#x)", v);
	report(pci_cfg_read(rng_slot, 0, 1) == (v & 0xff) &&
	       pci_cfg_read(rng_slot, 1, 1) == ((v >> 8) & 0xff) &&
	       pci_cfg_read(rng_slot, 2, 1) == ((v >> 16) & 0xff) &&
	       pci_cfg_read(rng_slot, 3, 1) == v >> 24 &&
	       pci_cfg_read(rng_slot, 2, 2) == v >> 16,
	       "byte and word reads at 0xcfc..0xcff agree with the dword");
	report((pci_cfg_read(rng_slot, PCI_CLASS_REVISION, 1)) == 1, "revision 1 (modern only)");
}

static void check_bars(unsigned int slot)
{
	u64 s0 = pci_bar_size(slot, 0), s2 = pci_bar_size(slot, 2);

	report(s0 == 0x1000, "BAR0 (MSI-X) sizes to %#lx", (unsigned long)s0);
	report(s2 == 0x4000 && (pci_cfg_read(slot, PCI_BAR0 + 8, 4) & 6) == 4,
	       "BAR2 is 64-bit and sizes to %#lx", (unsigned long)s2);
	report(pci_bar_size(slot, 4) == 0 && pci_bar_size(slot, 5) == 0, "unused BARs size to 0");
	report(pci_bar_addr(slot, 2) >= X86_PCI_MMIO32_BASE &&
	       pci_bar_addr(slot, 2) + s2 <= X86_PCI_MMIO32_BASE + X86_PCI_MMIO32_SIZE,
	       "BAR2 placed in the 32-bit window (%#lx)", (unsigned long)pci_bar_addr(slot, 2));
}

static void check_caps(unsigned int slot)
{
	unsigned int types = 0, n = 0, msix = 0, p;

	report(pci_cfg_read(slot, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, "capability list bit");
	for (p = pci_cfg_read(slot, PCI_CAP_PTR, 1); p && n < 48; p = pci_cfg_read(slot, p + 1, 1)) {
		n++;
		if (pci_cfg_read(slot, p, 1) == PCI_CAP_ID_VNDR)
			types |= 1u << pci_cfg_read(slot, p + 3, 1);
		else if (pci_cfg_read(slot, p, 1) == PCI_CAP_ID_MSIX)
			msix = p;
	}
	report(n < 48 && p == 0, "the list ends (%u capabilities)", n);
	/* rng has no device configuration: common, notify, ISR, PCI config access */
	report(types == (1u << 1 | 1u << 2 | 1u << 3 | 1u << 5),
	       "virtio capabilities common, notify, ISR, PCI config (%#x)", types);
	report(msix && (pci_cfg_read(slot, msix + 2, 2) & 0x7ff) + 1 == 2,
	       "MSI-X with 2 vectors (one queue + config)");
}

static void rng_request(struct virtqueue *vq)
{
	struct virtq_buf b = { buf, LEN, true };

	virtqueue_add(vq, &b, 0, 1, buf);
	virtqueue_kick(vq);
}

/* Poll (no interrupt needed) for the device's completion. */
static bool poll_used(struct virtqueue *vq)
{
	for (int i = 0; i < 2000; i++) {
		if (virtqueue_pending_used(vq))
			return true;
		irq_window();
	}
	return false;
}

static void check_msix(struct virtio_device *vdev)
{
	struct virtqueue vq = { 0 };
	u32 before, len = 0;
	bool ok;

	virtio_irq_enable(vdev);
	report(vdev->msix_on, "MSI-X enabled");
	report(!virtio_negotiate(vdev, 0) && !virtqueue_setup(vdev, &vq, 0, 16) &&
	       virtio_driver_ok(vdev), "set up over virtio-pci");
	before = vdev->vring_irqs;
	rng_request(&vq);
	ok = virtqueue_wait(&vq, &len, 5000) == buf;
	report(ok && len == LEN, "request done (%u bytes)", len);
	ok = virtio_wait_counter(&vdev->vring_irqs, before, 1000);
	report(ok, "MSI-X interrupt taken (%u)", vdev->vring_irqs - before);

	virtio_pci_msix_mask(vdev, 1, true);
	before = vdev->vring_irqs;
	rng_request(&vq);
	report(poll_used(&vq), "masked: the request completes");
	irq_window();
	report(vdev->vring_irqs == before, "masked: no interrupt (%u)", vdev->vring_irqs - before);
	report(virtio_pci_msix_pending(vdev, 1), "masked: pending bit set");
	virtio_pci_msix_mask(vdev, 1, false);
	report(virtio_wait_counter(&vdev->vring_irqs, before, 1000),
	       "unmasked: the pending interrupt arrives");
	report(!virtio_pci_msix_pending(vdev, 1), "unmasked: pending bit clear");
	report(virtqueue_get(&vq, &len) == buf, "the completion is there");
	report(virtio_reset(vdev), "reset");
}

static void check_intx(struct virtio_device *vdev)
{
	struct virtqueue vq = { 0 };
	u32 before, len = 0;
	bool ok;

	virtio_pci_use_intx(true);
	virtio_irq_enable(vdev);
	report(!vdev->msix_on && vdev->irq >= X86_PCI_INTX_GSI0 &&
	       vdev->irq < X86_PCI_INTX_GSI0 + X86_PCI_NR_INTX, "INTx on GSI %u", vdev->irq);
	report(!virtio_negotiate(vdev, 0) && !virtqueue_setup(vdev, &vq, 0, 16) &&
	       virtio_driver_ok(vdev), "set up over virtio-pci");
	for (int round = 0; round < 3; round++) {
		before = vdev->vring_irqs;
		rng_request(&vq);
		ok = virtqueue_wait(&vq, &len, 5000) == buf &&
		     virtio_wait_counter(&vdev->vring_irqs, before, 1000);
		report(ok, "INTx round %d: interrupt through the ISR (%u)", round,
		       vdev->vring_irqs - before);
	}
	report(virtio_reset(vdev), "reset");
}

int main(void)
{
	struct virtio_device *a, *b;

	report_prefix_push("pci");
	a = virtio_find(VIRTIO_ID_RNG, 0);
	b = virtio_find(VIRTIO_ID_RNG, 1);
	if (!a || !b || !a->pci || !b->pci) {
		report_skip("needs two virtio-rng devices on virtio-pci (--rng --device vdpa,type=rng --transport pci)");
		return report_summary();
	}
	check_config_space(a->slot);
	check_bars(a->slot);
	check_caps(a->slot);
	check_msix(a);
	check_intx(b);
	report_prefix_pop();
	return report_summary();
}
