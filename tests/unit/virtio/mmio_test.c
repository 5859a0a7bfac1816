// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-mmio over the net simulator, with a fake VM (no KVM): the full
 * driver init sequence of virtio 1.2 §3.1.1 / §4.2.3 through register
 * accesses, traffic through rings in guest RAM with kicks that go through
 * the ioeventfds, interrupts through the irqfd with InterruptStatus bits,
 * config space, access-size rules, hostile register writes, a hostile ring
 * (NEEDS_RESET + config interrupt, recovery by reset), packed rings when
 * asked for (packed=on), and teardown.
 */
#include <errno.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include <kestrel/vdpa.h>
#include <kestrel/virtio.h>
#include <kestrel/vringh.h>

#include "../test.h"
#include "../fake_vm.h"

#define BASE		0xd0001000ULL
#define IRQ		10
#define RAM		(16u << 20)
#define RXQ		0
#define TXQ		1
#define NUM		64
#define HDR		12
#define TIMEOUT_MS	2000

static const u8 dev_mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };

/* ---- a tiny register-level driver ----------------------------------------- */

struct tvq {
	u32 num;
	u64 desc, avail, used;
	u16 avail_idx, last_used, next_desc;
};

struct tdrv {
	struct vm *vm;
	u8 *ram;
	u64 brk;
	struct tvq vqs[3];
};

static u32 rd(struct tdrv *d, u64 off)
{
	return fake_mmio_read(d->vm, BASE + off, 4);
}

static void wr(struct tdrv *d, u64 off, u32 val)
{
	fake_vm_mmio_write(d->vm, BASE + off, val, 4);
}

static u64 galloc(struct tdrv *d, u64 size, u64 align)
{
	u64 gpa = ALIGN_UP(d->brk, align);

	d->brk = gpa + size;
	memset(d->ram + gpa, 0, size);
	return gpa;
}

static void *gptr(struct tdrv *d, u64 gpa)
{
	return d->ram + gpa;
}

static u64 features_of(struct tdrv *d)
{
	u64 f;

	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f = (u64)rd(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return f | rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
}

/* Steps 1-6 of §3.1.1; Return: the status read back. */
static u32 negotiate(struct tdrv *d, u64 features)
{
	wr(d, VIRTIO_MMIO_STATUS, 0);
	wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (u32)features);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (u32)(features >> 32));
	wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				  VIRTIO_CONFIG_S_FEATURES_OK);
	return rd(d, VIRTIO_MMIO_STATUS);
}

/* Hand queue @q's size and three areas to the device and enable it. */
static bool vq_program(struct tdrv *d, u32 q)
{
	struct tvq *vq = &d->vqs[q];

	wr(d, VIRTIO_MMIO_QUEUE_SEL, q);
	wr(d, VIRTIO_MMIO_QUEUE_NUM, vq->num);
	wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (u32)vq->desc);
	wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (u32)(vq->desc >> 32));
	wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (u32)vq->avail);
	wr(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (u32)(vq->avail >> 32));
	wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, (u32)vq->used);
	wr(d, VIRTIO_MMIO_QUEUE_USED_HIGH, (u32)(vq->used >> 32));
	wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return rd(d, VIRTIO_MMIO_QUEUE_READY) == 1;
}

static bool vq_setup(struct tdrv *d, u32 q, u32 num)
{
	struct tvq *vq = &d->vqs[q];

	memset(vq, 0, sizeof(*vq));
	vq->num = num;
	vq->desc = galloc(d, vringh_desc_size(num), 16);
	vq->avail = galloc(d, vringh_avail_size(num), 2);
	vq->used = galloc(d, vringh_used_size(num), 4);
	wr(d, VIRTIO_MMIO_QUEUE_SEL, q);
	if (rd(d, VIRTIO_MMIO_QUEUE_READY))
		return false;
	return vq_program(d, q);
}

/* Expose one single-buffer chain. */
static void vq_add(struct tdrv *d, u32 q, u64 gpa, u32 len, bool write)
{
	struct tvq *vq = &d->vqs[q];
	struct vringh_desc *desc = gptr(d, vq->desc);
	struct vringh_avail *avail = gptr(d, vq->avail);
	u16 i = vq->next_desc++ % vq->num;

	desc[i].addr = cpu_to_le64(gpa);
	desc[i].len = cpu_to_le32(len);
	desc[i].flags = cpu_to_le16(write ? VRINGH_DESC_F_WRITE : 0);
	desc[i].next = 0;
	avail->ring[vq->avail_idx % vq->num] = cpu_to_le16(i);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	vq->avail_idx++;
	__atomic_store_n(&avail->idx, cpu_to_le16(vq->avail_idx), __ATOMIC_RELEASE);
}

static bool vq_get_used(struct tdrv *d, u32 q, u32 *id, u32 *len)
{
	struct tvq *vq = &d->vqs[q];
	struct vringh_used *used = gptr(d, vq->used);
	u16 idx = le16_to_cpu(__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE));
	struct vringh_used_elem *e;

	if (idx == vq->last_used)
		return false;
	e = &used->ring[vq->last_used % vq->num];
	*id = le32_to_cpu(e->id);
	*len = le32_to_cpu(e->len);
	vq->last_used++;
	return true;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_identity(struct tdrv *d)
{
	u8 mac[6];
	bool mac_ok = true;

	report_prefix_push("identity");
	report_eq(rd(d, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976, "MagicValue is 'virt'");
	report_eq(rd(d, VIRTIO_MMIO_VERSION), 2, "Version is 2 (modern)");
	report_eq(rd(d, VIRTIO_MMIO_DEVICE_ID), 1, "DeviceID is net");
	wr(d, VIRTIO_MMIO_MAGIC_VALUE, 0);
	wr(d, VIRTIO_MMIO_VERSION, 1);
	check_eq(rd(d, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	check_eq(rd(d, VIRTIO_MMIO_VERSION), 2);
	report_checks("read-only registers ignore writes");
	report_eq(fake_mmio_read(d->vm, BASE + VIRTIO_MMIO_MAGIC_VALUE, 2), 0xffff,
		  "2-byte register read returns all ones");
	report_eq(fake_mmio_read(d->vm, BASE + VIRTIO_MMIO_MAGIC_VALUE + 1, 1), 0xff,
		  "1-byte register read returns all ones");
	for (unsigned int i = 0; i < 6; i++) {
		mac[i] = (u8)fake_mmio_read(d->vm, BASE + VIRTIO_MMIO_CONFIG + i, 1);
		mac_ok &= mac[i] == dev_mac[i];
	}
	report(mac_ok, "config space: mac by 1-byte reads");
	report_ne((fake_mmio_read(d->vm, BASE + VIRTIO_MMIO_CONFIG + 6, 2) & VIRTIO_NET_S_LINK_UP),
		  0, "config space: status by a 2-byte read");
	report_eq(fake_mmio_read(d->vm, BASE + VIRTIO_MMIO_CONFIG + 0x200, 4), UINT32_MAX,
		  "config read past the config space returns all ones");
	check_eq(rd(d, VIRTIO_MMIO_SHM_LEN_LOW), UINT32_MAX);
	check_eq(rd(d, VIRTIO_MMIO_SHM_LEN_HIGH), UINT32_MAX);
	report_checks("no shared memory regions (SHMLen all ones)");
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 2);
	report_gt(rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "QueueNumMax of queue 2 (cvq)");
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 7);
	report_eq(rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "QueueNumMax 0 for a missing queue");
	wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	report_eq(rd(d, VIRTIO_MMIO_QUEUE_READY), 0, "QueueReady of a missing queue stays 0");
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 0xffffffff);
	wr(d, VIRTIO_MMIO_QUEUE_NUM, 8);
	report_eq(rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "QueueSel 0xffffffff is harmless");
	report_prefix_pop();
}

static void test_features(struct tdrv *d)
{
	u64 f = features_of(d);

	report_prefix_push("features");
	report(f & (1ULL << VIRTIO_F_VERSION_1), "VERSION_1 offered");
	report(f & (1ULL << VIRTIO_F_ACCESS_PLATFORM), "ACCESS_PLATFORM offered");
	report(f & (1ULL << VIRTIO_RING_F_EVENT_IDX), "EVENT_IDX offered");
	report(f & (1ULL << VIRTIO_RING_F_INDIRECT_DESC), "INDIRECT_DESC offered");
	report_eq((f & (1ULL << VIRTIO_F_RING_PACKED)), 0, "RING_PACKED not offered");
	report_eq((negotiate(d, 1ULL << VIRTIO_NET_F_MAC) & VIRTIO_CONFIG_S_FEATURES_OK), 0,
		  "FEATURES_OK refused without VERSION_1");
	report_eq((negotiate(d, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << 62)) & VIRTIO_CONFIG_S_FEATURES_OK),
		  0, "FEATURES_OK refused for a bit not offered");
	report(negotiate(d, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_NET_F_MAC)) &
	       VIRTIO_CONFIG_S_FEATURES_OK, "FEATURES_OK kept for a valid subset");
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	report(vdpa_get_driver_features(vdpa_find_device("vmmio0")) & (1ULL << VIRTIO_NET_F_MAC),
	       "DriverFeatures after FEATURES_OK ignored");
	wr(d, VIRTIO_MMIO_STATUS, 0);
	report_eq(rd(d, VIRTIO_MMIO_STATUS), 0, "Status 0 resets");
	report_prefix_pop();
}

static bool bring_up(struct tdrv *d, u64 features)
{
	u32 st = negotiate(d, features);

	if (!(st & VIRTIO_CONFIG_S_FEATURES_OK))
		return false;
	d->brk = 0x100000;
	for (u32 q = 0; q < 3; q++)
		if (!vq_setup(d, q, NUM))
			return false;
	wr(d, VIRTIO_MMIO_STATUS, st | VIRTIO_CONFIG_S_DRIVER_OK);
	return rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK;
}

static void test_traffic(struct tdrv *d, u64 features, const char *name)
{
	u64 rx[4], tx;
	u32 id, len, isr;
	bool got = false, irq;
	u8 *frame;

	report_prefix_push(name);
	if (!report(bring_up(d, features), "driver init sequence reaches DRIVER_OK"))
		goto out;

	/* Queue registers of a ready queue are frozen (§4.2.3.2). */
	wr(d, VIRTIO_MMIO_QUEUE_SEL, RXQ);
	wr(d, VIRTIO_MMIO_QUEUE_NUM, 4);
	wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x12345000);

	for (unsigned int i = 0; i < 4; i++) {
		rx[i] = galloc(d, 2048, 64);
		vq_add(d, RXQ, rx[i], 2048, true);
	}
	wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, RXQ);

	tx = galloc(d, HDR + 60, 64);
	frame = gptr(d, tx);
	memset(frame, 0, HDR);
	memset(frame + HDR, 0xff, 6);			/* broadcast */
	memcpy(frame + HDR + 6, dev_mac, 6);
	for (unsigned int i = 12; i < 60; i++)
		frame[HDR + i] = (u8)(i * 7);
	vq_add(d, TXQ, tx, HDR + 60, false);
	wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, TXQ);	/* through the ioeventfd */

	irq = fake_vm_wait_irq(d->vm, IRQ, TIMEOUT_MS);
	report(irq, "used-buffer interrupt through the irqfd");
	isr = rd(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	report(isr & VIRTIO_MMIO_INT_VRING, "InterruptStatus bit 0 set (0x%x)", isr);
	for (int t = 0; t < 200 && !got; t++) {
		got = vq_get_used(d, RXQ, &id, &len);
		if (!got)
			fake_vm_wait_irq(d->vm, IRQ, 10);
	}
	if (check_true(got))
		check_eq(len, HDR + 60);
	report_checks("frame received (%u bytes)", got ? len : 0);
	if (check_true(got))
		check_mem((u8 *)gptr(d, rx[0]) + HDR, frame + HDR, 60);
	report_checks("received frame matches the one sent");
	if (check_true(vq_get_used(d, TXQ, &id, &len)))
		check_eq(id, 0);
	report_checks("TX chain returned");
	wr(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	report_eq((rd(d, VIRTIO_MMIO_INTERRUPT_STATUS) & isr), 0, "InterruptACK clears the bits");
out:
	report_prefix_pop();
}

/* Queue @q as a packed ring of @num (any size) at fresh addresses. */
static bool pvq_setup(struct tdrv *d, u32 q, u32 num)
{
	struct tvq *vq = &d->vqs[q];

	memset(vq, 0, sizeof(*vq));
	vq->num = num;
	vq->desc = galloc(d, 16ULL * num, 16);
	vq->avail = galloc(d, 4, 4);		/* driver event suppression */
	vq->used = galloc(d, 4, 4);		/* device event suppression */
	return vq_program(d, q);
}

/* One single-buffer chain in lap 1 (AVAIL set, USED clear), buffer ID = slot. */
static void pvq_add(struct tdrv *d, u32 q, u64 gpa, u32 len, bool write)
{
	struct tvq *vq = &d->vqs[q];
	struct vringh_packed_desc *desc = gptr(d, vq->desc);
	u16 i = vq->next_desc++;

	desc[i].addr = cpu_to_le64(gpa);
	desc[i].len = cpu_to_le32(len);
	desc[i].id = cpu_to_le16(i);
	__atomic_store_n(&desc[i].flags,
			 cpu_to_le16((write ? VRINGH_DESC_F_WRITE : 0) | VRINGH_DESC_F_AVAIL),
			 __ATOMIC_RELEASE);
}

/* The used descriptor at slot @i of lap 1 (AVAIL and USED both set), if there. */
static bool pvq_used(struct tdrv *d, u32 q, u16 i, u32 *id, u32 *len)
{
	struct vringh_packed_desc *desc = gptr(d, d->vqs[q].desc);
	u16 f = le16_to_cpu(__atomic_load_n(&desc[i].flags, __ATOMIC_ACQUIRE));

	if ((f & (VRINGH_DESC_F_AVAIL | VRINGH_DESC_F_USED)) !=
	    (VRINGH_DESC_F_AVAIL | VRINGH_DESC_F_USED))
		return false;
	*id = le16_to_cpu(desc[i].id);
	*len = le32_to_cpu(desc[i].len);
	return true;
}

/*
 * packed=on (virtio_mmio_set_packed()): offered only when asked and only
 * before a driver began; a packed ring of a size that is no power of two
 * carries a frame out and back.
 */
static void test_packed(struct tdrv *d, struct virtio_mmio *m, u64 features)
{
	const u64 packed = 1ULL << VIRTIO_F_RING_PACKED;
	u32 id = 0, len = 0, st;
	bool got = false;
	u64 rx, tx;
	u8 *frame;
	int ret;

	report_prefix_push("packed");
	wr(d, VIRTIO_MMIO_STATUS, 0);
	report_eq((features_of(d) & packed), 0, "not offered by default");
	wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	ret = virtio_mmio_set_packed(m, true);
	report_err(ret, -EBUSY, "not switched on under a driver (%d)", ret);
	wr(d, VIRTIO_MMIO_STATUS, 0);
	ret = virtio_mmio_set_packed(m, true);
	report_eq(ret, 0, "switched on at status 0");
	report(features_of(d) & packed, "then offered");

	st = negotiate(d, features | packed);
	if (!report(st & VIRTIO_CONFIG_S_FEATURES_OK, "negotiated (status 0x%x)", st))
		goto out;
	d->brk = 0x100000;
	report(pvq_setup(d, RXQ, 24) && pvq_setup(d, TXQ, 24) && pvq_setup(d, 2, 24),
	       "rings of 24 entries taken");
	wr(d, VIRTIO_MMIO_STATUS, st | VIRTIO_CONFIG_S_DRIVER_OK);
	rx = galloc(d, 2048, 64);
	pvq_add(d, RXQ, rx, 2048, true);
	wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, RXQ);
	tx = galloc(d, HDR + 60, 64);
	frame = gptr(d, tx);
	memset(frame, 0, HDR);
	memset(frame + HDR, 0xff, 6);
	memcpy(frame + HDR + 6, dev_mac, 6);
	for (unsigned int i = 12; i < 60; i++)
		frame[HDR + i] = (u8)(i * 5);
	pvq_add(d, TXQ, tx, HDR + 60, false);
	wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, TXQ);
	for (int t = 0; t < 200 && !got; t++) {
		got = pvq_used(d, RXQ, 0, &id, &len);
		if (!got)
			fake_vm_wait_irq(d->vm, IRQ, 10);
	}
	if (check_true(got))
		check_eq(len, HDR + 60);
	report_checks("frame received in the packed RX ring (%u bytes)", got ? len : 0);
	if (check_true(got))
		check_mem((u8 *)gptr(d, rx) + HDR, frame + HDR, 60);
	report_checks("received frame matches the one sent");
	report(pvq_used(d, TXQ, 0, &id, &len) && id == 0, "TX descriptor used (ID %u)", id);
	wr(d, VIRTIO_MMIO_INTERRUPT_ACK, rd(d, VIRTIO_MMIO_INTERRUPT_STATUS));

	wr(d, VIRTIO_MMIO_STATUS, 0);
	report_eq(virtio_mmio_set_packed(m, false), 0, "switched off at status 0");
	st = negotiate(d, features | packed);
	report_eq((st & VIRTIO_CONFIG_S_FEATURES_OK), 0, "then refused by FEATURES_OK");
	st = negotiate(d, features);
	wr(d, VIRTIO_MMIO_QUEUE_SEL, RXQ);
	wr(d, VIRTIO_MMIO_QUEUE_NUM, 24);
	wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	report_eq(rd(d, VIRTIO_MMIO_QUEUE_READY), 0, "a split ring of 24 is refused");
	wr(d, VIRTIO_MMIO_STATUS, 0);
out:
	report_prefix_pop();
}

static void test_hostile_ring(struct tdrv *d)
{
	struct tvq *vq = &d->vqs[TXQ];
	struct vringh_desc *desc = gptr(d, vq->desc);
	struct vringh_avail *avail = gptr(d, vq->avail);
	u16 i = vq->next_desc++ % vq->num;
	bool cfg_irq = false;
	u32 isr = 0;

	report_prefix_push("hostile ring");
	/* A descriptor that chains to itself. */
	desc[i].addr = cpu_to_le64(0x200000);
	desc[i].len = cpu_to_le32(64);
	desc[i].flags = cpu_to_le16(VRINGH_DESC_F_NEXT);
	desc[i].next = cpu_to_le16(i);
	avail->ring[vq->avail_idx % vq->num] = cpu_to_le16(i);
	vq->avail_idx++;
	__atomic_store_n(&avail->idx, cpu_to_le16(vq->avail_idx), __ATOMIC_RELEASE);
	wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, TXQ);

	for (int t = 0; t < 200 && !(isr & VIRTIO_MMIO_INT_CONFIG); t++) {
		cfg_irq |= fake_vm_wait_irq(d->vm, IRQ, 10);
		isr = rd(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	}
	report(cfg_irq, "interrupt raised");
	report(isr & VIRTIO_MMIO_INT_CONFIG, "InterruptStatus bit 1 (config change)");
	report(rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET,
	       "Status has DEVICE_NEEDS_RESET");
	wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_NEEDS_RESET | 0xf);
	report(rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET,
	       "the driver cannot write NEEDS_RESET away");
	wr(d, VIRTIO_MMIO_STATUS, 0);
	check_eq(rd(d, VIRTIO_MMIO_STATUS), 0);
	check_eq(rd(d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	report_checks("reset clears Status and InterruptStatus");
	wr(d, VIRTIO_MMIO_QUEUE_SEL, TXQ);
	report_eq(rd(d, VIRTIO_MMIO_QUEUE_READY), 0, "reset disables the queues");
	report_prefix_pop();
}

static void test_bad_queue(struct tdrv *d)
{
	report_prefix_push("bad queue setup");
	negotiate(d, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM));
	wr(d, VIRTIO_MMIO_QUEUE_SEL, RXQ);
	wr(d, VIRTIO_MMIO_QUEUE_NUM, 3);		/* not a power of two */
	wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	report_eq(rd(d, VIRTIO_MMIO_QUEUE_READY), 0, "QueueNum 3 refused: QueueReady reads 0");
	wr(d, VIRTIO_MMIO_QUEUE_NUM, 1u << 20);
	wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	report_eq(rd(d, VIRTIO_MMIO_QUEUE_READY), 0, "QueueNum 2^20 refused");
	wr(d, VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1001);	/* misaligned */
	wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	report_eq(rd(d, VIRTIO_MMIO_QUEUE_READY), 0, "misaligned descriptor area refused");
	wr(d, VIRTIO_MMIO_QUEUE_READY, 0x55);
	report_eq(rd(d, VIRTIO_MMIO_QUEUE_READY), 0, "QueueReady 0x55 ignored");
	wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	report(rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK,
	       "clearing status bits other than by 0 is refused");
	wr(d, VIRTIO_MMIO_STATUS, 0);
	report_prefix_pop();
}

int main(void)
{
	const u64 base = (1ULL << VIRTIO_F_VERSION_1) |
			 (1ULL << VIRTIO_F_ACCESS_PLATFORM) |
			 (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS);
	struct virtio_mmio *m = NULL;
	struct vdpa_device *vdpa;
	struct boot_mmio_dev bd;
	struct tdrv d = { 0 };
	struct vm *vm;
	int ret;

	if (fake_vm_create(RAM, &vm))
		return 1;
	d.vm = vm;
	d.ram = fake_vm_ram(vm);
	if (vdpa_register_types() ||
	    vdpa_mgmt_dev_add("net,name=vmmio0,mac=52:54:00:ab:cd:ef", &vdpa)) {
		report(false, "net simulator created");
		return report_summary();
	}

	report_prefix_push("create");
	fake_vm_fail_ioeventfd_after(vm, 1);
	ret = virtio_mmio_create(vm, vdpa, BASE, IRQ, &m);
	report_err(ret, -ENOSPC, "an ioeventfd failure fails create (%d)", ret);
	check_eq(fake_vm_nr_ioeventfds(vm), 0);
	check_eq(fake_vm_nr_irqfds(vm), 0);
	check_eq(fake_mmio_read(vm, BASE, 4), UINT32_MAX);
	report_checks("... and leaves nothing behind");
	fake_vm_fail_ioeventfd_after(vm, -1);
	report_err(virtio_mmio_create(vm, vdpa, BASE + 1, IRQ, &m), -EINVAL,
		   "unaligned base refused");
	ret = virtio_mmio_create(vm, vdpa, BASE, IRQ, &m);
	report_eq(ret, 0, "created");
	if (ret)
		return report_summary();
	report_eq(fake_vm_nr_ioeventfds(vm), 3, "one ioeventfd per queue");
	report_eq(fake_vm_nr_irqfds(vm), 1, "one irqfd");
	virtio_mmio_boot_dev(m, &bd);
	check_eq(bd.base, BASE);
	check_eq(bd.size, 0x1000);
	check_eq(bd.irq, IRQ);
	report_checks("boot entry describes the window");
	report_prefix_pop();

	test_identity(&d);
	test_features(&d);
	test_bad_queue(&d);
	test_traffic(&d, base | (1ULL << VIRTIO_RING_F_EVENT_IDX), "traffic, event idx");
	test_hostile_ring(&d);
	test_traffic(&d, base | (1ULL << VIRTIO_NET_F_MRG_RXBUF) |
		     (1ULL << VIRTIO_RING_F_INDIRECT_DESC), "traffic after reset, mergeable");
	test_packed(&d, m, base);

	report_prefix_push("destroy");
	virtio_mmio_destroy(m);
	check_eq(fake_vm_nr_ioeventfds(vm), 0);
	check_eq(fake_vm_nr_irqfds(vm), 0);
	report_checks("ioeventfds and irqfd released");
	report_eq(fake_mmio_read(vm, BASE, 4), UINT32_MAX, "window released");
	report_eq(vdpa_get_status(vdpa), 0, "device left reset");
	report_prefix_pop();

	vdpa_mgmt_dev_del(vdpa);
	fake_vm_destroy(vm);
	return report_summary();
}
