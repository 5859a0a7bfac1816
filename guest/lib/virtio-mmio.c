// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-mmio v2 (virtio 1.2 §4.2) from the driver's side: discovery of
 * the slots kestrel fills (x86/layout.h: window n at X86_VIRTIO_MMIO_BASE
 * + n * 4 KiB, GSI 10 + n % 6), the initialisation sequence of §3.1.1, queue
 * set-up (§4.2.3.2), config space and interrupts (IOAPIC, edge).
 *
 * Register accesses are 32-bit (the transport ignores other sizes) and
 * work from ring 3 too; every one is an exit, so the set-up paths read
 * each register once.
 *
 * The generic entry points (virtio_probe(), virtio_negotiate(), ...) live
 * here and hand a virtio-pci device to virtio-pci.c.
 */
#include "virtio.h"
#include "x86/apic.h"
#include "x86/desc.h"
#include "x86/processor.h"

#include <kestrel/x86/layout.h>

#define VIRTIO_MAX_DEVICES	16
/* Vector of GSI g: VIRTIO_VECTOR_BASE + g (devices sharing a line share it). */
#define VIRTIO_VECTOR_BASE	0x60

static struct virtio_device virtio_devs[VIRTIO_MAX_DEVICES];
static unsigned int virtio_ndevs;
static bool virtio_probed;

u32 virtio_mmio_read(struct virtio_device *vdev, u32 off)
{
	return mmio_read32(vdev->base + off);
}

void virtio_mmio_write(struct virtio_device *vdev, u32 off, u32 val)
{
	mmio_write32(vdev->base + off, val);
}

unsigned int virtio_probe(void)
{
	if (virtio_probed)
		return virtio_ndevs;
	virtio_probed = true;
	for (unsigned int n = 0; n < X86_VIRTIO_MMIO_MAX &&
	     virtio_ndevs < VIRTIO_MAX_DEVICES; n++) {
		struct virtio_device *d = &virtio_devs[virtio_ndevs];

		d->base = X86_VIRTIO_MMIO_BASE + (u64)n * X86_VIRTIO_MMIO_SIZE;
		if (virtio_mmio_read(d, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC)
			break;		/* kestrel fills slots from 0 without gaps */
		if (virtio_mmio_read(d, VIRTIO_MMIO_VERSION) != 2) {
			printf("virtio: slot %u: version %u, not 2: ignored\n", n,
			       virtio_mmio_read(d, VIRTIO_MMIO_VERSION));
			continue;
		}
		d->id = virtio_mmio_read(d, VIRTIO_MMIO_DEVICE_ID);
		if (!d->id)
			continue;	/* §4.2.2: placeholder slot */
		d->slot = n;
		d->irq = X86_VIRTIO_MMIO_IRQ0 + n % X86_VIRTIO_MMIO_NR_IRQS;
		virtio_ndevs++;
	}
	virtio_ndevs += virtio_pci_probe(&virtio_devs[virtio_ndevs],
					 VIRTIO_MAX_DEVICES - virtio_ndevs);
	return virtio_ndevs;
}

struct virtio_device *virtio_find(u32 id, unsigned int nth)
{
	virtio_probe();
	for (unsigned int i = 0; i < virtio_ndevs; i++)
		if (virtio_devs[i].id == id && !nth--)
			return &virtio_devs[i];
	return NULL;
}

u8 virtio_get_status(struct virtio_device *vdev)
{
	if (vdev->pci)
		return virtio_pci_get_status(vdev);
	return (u8)virtio_mmio_read(vdev, VIRTIO_MMIO_STATUS);
}

void virtio_set_status(struct virtio_device *vdev, u8 status)
{
	if (vdev->pci)
		virtio_pci_set_status(vdev, status);
	else
		virtio_mmio_write(vdev, VIRTIO_MMIO_STATUS, status);
}

void virtio_transport_notify(struct virtio_device *vdev, u16 index)
{
	if (vdev->pci)
		virtio_pci_notify(vdev, index);
	else
		virtio_mmio_write(vdev, VIRTIO_MMIO_QUEUE_NOTIFY, index);
}

static u64 virtio_device_features(struct virtio_device *vdev)
{
	u64 f;

	if (vdev->pci)
		return virtio_pci_device_features(vdev);
	virtio_mmio_write(vdev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f = (u64)virtio_mmio_read(vdev, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	virtio_mmio_write(vdev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return f | virtio_mmio_read(vdev, VIRTIO_MMIO_DEVICE_FEATURES);
}

static void virtio_driver_features(struct virtio_device *vdev, u64 features)
{
	if (vdev->pci) {
		virtio_pci_driver_features(vdev, features);
		return;
	}
	virtio_mmio_write(vdev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	virtio_mmio_write(vdev, VIRTIO_MMIO_DRIVER_FEATURES, (u32)features);
	virtio_mmio_write(vdev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	virtio_mmio_write(vdev, VIRTIO_MMIO_DRIVER_FEATURES, (u32)(features >> 32));
}

bool virtio_reset(struct virtio_device *vdev)
{
	virtio_set_status(vdev, 0);
	/* §4.2.3.1: the reset is complete when Status reads 0. */
	for (int i = 0; i < 100; i++) {
		if (!virtio_get_status(vdev))
			return true;
		virtio_wait_counter(&vdev->irqs, vdev->irqs, 0);
	}
	return false;
}

bool virtio_needs_reset(struct virtio_device *vdev)
{
	return virtio_get_status(vdev) & VIRTIO_STATUS_NEEDS_RESET;
}

int virtio_negotiate(struct virtio_device *vdev, u64 wanted)
{
	bool need_packed = virtio_cmdline_packed();
	u8 status;
	u64 f;

	if (!virtio_reset(vdev))
		return -1;
	virtio_set_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_set_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);

	f = virtio_device_features(vdev);
	vdev->host_features = f;
	if (!(f & BIT_ULL(VIRTIO_F_VERSION_1))) {
		printf("virtio: slot %u: no VERSION_1 (features %#lx)\n", vdev->slot,
		       (unsigned long)f);
		virtio_set_status(vdev, VIRTIO_STATUS_FAILED);
		return -1;
	}
	if (need_packed && !(f & BIT_ULL(VIRTIO_F_RING_PACKED))) {
		printf("virtio: slot %u: packed rings asked for, not offered (features %#lx)\n",
		       vdev->slot, (unsigned long)f);
		virtio_set_status(vdev, VIRTIO_STATUS_FAILED);
		return -1;
	}
	if (need_packed)
		wanted |= BIT_ULL(VIRTIO_F_RING_PACKED);
	vdev->features = f & (wanted | BIT_ULL(VIRTIO_F_VERSION_1));

	virtio_driver_features(vdev, vdev->features);
	virtio_set_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_FEATURES_OK);
	/* §3.1.1 step 6: the device may refuse the subset. */
	status = virtio_get_status(vdev);
	if (!(status & VIRTIO_STATUS_FEATURES_OK)) {
		printf("virtio: slot %u: FEATURES_OK refused (features %#lx, status %#x)\n",
		       vdev->slot, (unsigned long)vdev->features, status);
		virtio_set_status(vdev, VIRTIO_STATUS_FAILED);
		return -1;
	}
	return 0;
}

int virtqueue_setup(struct virtio_device *vdev, struct virtqueue *vq,
		    u16 index, u16 num)
{
	bool packed = vdev->features & BIT_ULL(VIRTIO_F_RING_PACKED);
	u32 max;
	u64 a;

	if (vdev->pci) {
		if (virtio_pci_queue_setup(vdev, vq, index, &num))
			return -1;
	} else {
		virtio_mmio_write(vdev, VIRTIO_MMIO_QUEUE_SEL, index);
		if (virtio_mmio_read(vdev, VIRTIO_MMIO_QUEUE_READY))
			return -1;
		max = virtio_mmio_read(vdev, VIRTIO_MMIO_QUEUE_NUM_MAX);
		if (!max)
			return -1;
		if (num > max)
			num = (u16)max;
	}
	if (num > VIRTQ_MAX)
		num = VIRTQ_MAX;
	/* A split ring's size is a power of two; a packed ring's any (§2.8). */
	while (!packed && (num & (num - 1)))
		num &= (u16)(num - 1);

	if (!vq->desc) {
		/*
		 * Room for VIRTQ_MAX entries: the same memory serves any num,
		 * split or packed (the event areas take the first 4 bytes).
		 */
		vq->desc = virtio_alloc(sizeof(struct vring_desc) * VIRTQ_MAX, 4096);
		vq->avail = virtio_alloc(4096, 4096);
		vq->used = virtio_alloc(4096, 4096);
		if (!vq->desc || !vq->avail || !vq->used)
			return -1;
	}
	vq->vdev = vdev;
	vq->index = index;
	virtqueue_init(vq, num, packed, vdev->features & BIT_ULL(VIRTIO_RING_F_EVENT_IDX),
		       vdev->features & BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC));
	if (vdev->pci)
		return virtio_pci_queue_enable(vdev, vq);

	virtio_mmio_write(vdev, VIRTIO_MMIO_QUEUE_NUM, num);
	a = (u64)(uintptr_t)vq->desc;
	virtio_mmio_write(vdev, VIRTIO_MMIO_QUEUE_DESC_LOW, (u32)a);
	virtio_mmio_write(vdev, VIRTIO_MMIO_QUEUE_DESC_HIGH, (u32)(a >> 32));
	a = (u64)(uintptr_t)vq->avail;
	virtio_mmio_write(vdev, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (u32)a);
	virtio_mmio_write(vdev, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (u32)(a >> 32));
	a = (u64)(uintptr_t)vq->used;
	virtio_mmio_write(vdev, VIRTIO_MMIO_QUEUE_USED_LOW, (u32)a);
	virtio_mmio_write(vdev, VIRTIO_MMIO_QUEUE_USED_HIGH, (u32)(a >> 32));
	virtio_mmio_write(vdev, VIRTIO_MMIO_QUEUE_READY, 1);
	return virtio_mmio_read(vdev, VIRTIO_MMIO_QUEUE_READY) == 1 ? 0 : -1;
}

bool virtio_driver_ok(struct virtio_device *vdev)
{
	u8 status = virtio_get_status(vdev);

	virtio_set_status(vdev, status | VIRTIO_STATUS_DRIVER_OK);
	status = virtio_get_status(vdev);
	return (status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

/* ---- interrupts ------------------------------------------------------------ */

static void virtio_irq(struct ex_regs *regs)
{
	u32 gsi = (u32)regs->vector - VIRTIO_VECTOR_BASE;

	/* A line may be shared: ask every device on it (edge: ack what we saw). */
	for (unsigned int i = 0; i < virtio_ndevs; i++) {
		struct virtio_device *d = &virtio_devs[i];
		u32 isr;

		if (d->pci || d->irq != gsi)
			continue;
		isr = virtio_mmio_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);
		if (!isr)
			continue;
		virtio_mmio_write(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
		d->irqs++;
		if (isr & VIRTIO_INT_VRING)
			d->vring_irqs++;
		if (isr & VIRTIO_INT_CONFIG)
			d->config_irqs++;
	}
}

void virtio_irq_enable(struct virtio_device *vdev)
{
	u8 vec = (u8)(VIRTIO_VECTOR_BASE + vdev->irq);

	if (vdev->pci) {
		virtio_pci_irq_enable(vdev);
		return;
	}
	handle_irq(vec, virtio_irq);
	ioapic_route(vdev->irq, vec, false, (u8)apic_id());
}

bool virtio_wait_counter(volatile u32 *counter, u32 old, unsigned int ms)
{
	return apic_wait_count(counter, old + 1, ms);
}

/* ---- config space ------------------------------------------------------------ */

/* Config space takes 1, 2 and 4-byte accesses (§4.2.2.2). */
static u32 cfg_raw(struct virtio_device *vdev, u32 off, unsigned int size)
{
	u64 a = (vdev->pci ? vdev->device_cfg : vdev->base + VIRTIO_MMIO_CONFIG) + off;

	switch (size) {
	case 1:
		return mmio_read8(a);
	case 2:
		return *(volatile u16 *)a;
	default:
		return mmio_read32(a);
	}
}

static u32 cfg_generation(struct virtio_device *vdev)
{
	if (vdev->pci)
		return virtio_pci_generation(vdev);
	return virtio_mmio_read(vdev, VIRTIO_MMIO_CONFIG_GENERATION);
}

#define CFG_READ(vdev, body)						\
	({								\
		u32 __gen;						\
		__typeof__(body) __v;					\
		do {							\
			__gen = cfg_generation(vdev);			\
			__v = (body);					\
		} while (__gen != cfg_generation(vdev));		\
		__v;							\
	})

u8 virtio_cread8(struct virtio_device *vdev, u32 off)
{
	return (u8)cfg_raw(vdev, off, 1);
}

u16 virtio_cread16(struct virtio_device *vdev, u32 off)
{
	return (u16)cfg_raw(vdev, off, 2);
}

u32 virtio_cread32(struct virtio_device *vdev, u32 off)
{
	return cfg_raw(vdev, off, 4);
}

u64 virtio_cread64(struct virtio_device *vdev, u32 off)
{
	return CFG_READ(vdev, (u64)cfg_raw(vdev, off, 4) |
			      (u64)cfg_raw(vdev, off + 4, 4) << 32);
}

void virtio_cread_bytes(struct virtio_device *vdev, u32 off, void *buf, u32 len)
{
	u8 *p = buf;
	u32 gen;

	do {
		gen = cfg_generation(vdev);
		for (u32 i = 0; i < len; i++)
			p[i] = (u8)cfg_raw(vdev, off + i, 1);
	} while (gen != cfg_generation(vdev));
}
