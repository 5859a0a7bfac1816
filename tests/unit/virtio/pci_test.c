// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-pci over the net simulator on the PCI host bridge, with a fake VM
 * (no KVM): the function's identity and capabilities, the driver init
 * sequence through the common configuration (virtio 1.2 §3.1.1, §4.1.4.3),
 * 64-bit fields as two halves, traffic with kicks through the per-queue
 * ioeventfds and interrupts through an MSI-X vector's irqfd, INTx through
 * the ISR without MSI-X, hostile register accesses, a BAR moved by the
 * guest (the ioeventfds follow), reset, and teardown.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>

#include <kestrel/pci.h>
#include <kestrel/vdpa.h>
#include <kestrel/virtio.h>
#include <kestrel/vringh.h>
#include <kestrel/x86/layout.h>

#include "../test.h"
#include "../fake_vm.h"

#define RAM		(16u << 20)
#define RXQ		0
#define TXQ		1
#define NUM		64
#define HDR		12
#define TIMEOUT_MS	2000
#define SLOT		1

static struct vm *vm;
static u8 *ram;
static u64 gbrk = 0x100000;
static u64 bar0, bar2;

struct tvq {
	u64 desc, avail, used;
	u16 avail_idx, last_used, next_desc;
};
static struct tvq vqs[3];

static u32 cfg_rd(u32 reg, unsigned int len)
{
	return fake_mmio_read(vm, X86_PCI_ECAM_GPA + (SLOT << 15) + reg, len);
}

static void cfg_wr(u32 reg, u32 v, unsigned int len)
{
	fake_vm_mmio_write(vm, X86_PCI_ECAM_GPA + (SLOT << 15) + reg, v, len);
}

static u32 cc_rd(u32 off, unsigned int len)
{
	return fake_mmio_read(vm, bar2 + off, len);
}

static void cc_wr(u32 off, u32 v, unsigned int len)
{
	fake_vm_mmio_write(vm, bar2 + off, v, len);
}

static u64 galloc(u64 size, u64 align)
{
	u64 gpa = ALIGN_UP(gbrk, align);

	gbrk = gpa + size;
	memset(ram + gpa, 0, size);
	return gpa;
}

static unsigned int find_vcap(u8 type)
{
	for (unsigned int p = cfg_rd(PCI_CAPABILITY_LIST, 1), n = 0; p && n < 48;
	     p = cfg_rd(p + 1, 1), n++)
		if (cfg_rd(p, 1) == PCI_CAP_ID_VNDR && cfg_rd(p + 3, 1) == type)
			return p;
	return 0;
}

static u32 negotiate(u64 features)
{
	u8 s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	cc_wr(VIRTIO_PCI_COMMON_STATUS, 0, 1);
	cc_wr(VIRTIO_PCI_COMMON_STATUS, s, 1);
	cc_wr(VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
	cc_wr(VIRTIO_PCI_COMMON_GF, (u32)features, 4);
	cc_wr(VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	cc_wr(VIRTIO_PCI_COMMON_GF, (u32)(features >> 32), 4);
	cc_wr(VIRTIO_PCI_COMMON_STATUS, s | VIRTIO_CONFIG_S_FEATURES_OK, 1);
	return cc_rd(VIRTIO_PCI_COMMON_STATUS, 1);
}

static bool vq_setup(u16 q, u16 vector)
{
	struct tvq *vq = &vqs[q];

	memset(vq, 0, sizeof(*vq));
	vq->desc = galloc(vringh_desc_size(NUM), 16);
	vq->avail = galloc(vringh_avail_size(NUM), 2);
	vq->used = galloc(vringh_used_size(NUM), 4);
	cc_wr(VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
	cc_wr(VIRTIO_PCI_COMMON_Q_SIZE, NUM, 2);
	cc_wr(VIRTIO_PCI_COMMON_Q_DESCLO, (u32)vq->desc, 4);
	cc_wr(VIRTIO_PCI_COMMON_Q_DESCHI, (u32)(vq->desc >> 32), 4);
	cc_wr(VIRTIO_PCI_COMMON_Q_AVAILLO, (u32)vq->avail, 4);
	cc_wr(VIRTIO_PCI_COMMON_Q_AVAILHI, 0, 4);
	cc_wr(VIRTIO_PCI_COMMON_Q_USEDLO, (u32)vq->used, 4);
	cc_wr(VIRTIO_PCI_COMMON_Q_USEDHI, 0, 4);
	cc_wr(VIRTIO_PCI_COMMON_Q_MSIX, vector, 2);
	cc_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	return cc_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2) == 1;
}

static void vq_add(u16 q, u64 gpa, u32 len, bool write)
{
	struct tvq *vq = &vqs[q];
	struct vringh_desc *desc = (void *)(ram + vq->desc);
	struct vringh_avail *avail = (void *)(ram + vq->avail);
	u16 i = vq->next_desc++ % NUM;

	desc[i].addr = cpu_to_le64(gpa);
	desc[i].len = cpu_to_le32(len);
	desc[i].flags = cpu_to_le16(write ? VRINGH_DESC_F_WRITE : 0);
	avail->ring[vq->avail_idx % NUM] = cpu_to_le16(i);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	vq->avail_idx++;
	__atomic_store_n(&avail->idx, cpu_to_le16(vq->avail_idx), __ATOMIC_RELEASE);
}

static bool vq_used(u16 q, u32 *len)
{
	struct tvq *vq = &vqs[q];
	struct vringh_used *used = (void *)(ram + vq->used);
	u16 idx = le16_to_cpu(__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE));

	if (idx == vq->last_used)
		return false;
	*len = le32_to_cpu(used->ring[vq->last_used++ % NUM].len);
	return true;
}

/* The GSI routed to MSI data @data, or 0. */
static u32 gsi_of(u32 data)
{
	u32 a, d;

	for (u32 g = VM_GSI_MSI_BASE; g < FAKE_VM_NR_GSIS; g++)
		if (fake_vm_route(vm, g, &a, &d) && d == data)
			return g;
	return 0;
}

/* Send a frame from TX, expect it on RX; Return: bytes received or 0. */
static u32 loop_frame(u64 notify, bool (*wait)(void *), void *arg, bool *irq)
{
	u64 rx = galloc(2048, 64), tx = galloc(HDR + 60, 64);
	u32 len = 0;
	u8 *f = ram + tx;

	vq_add(RXQ, rx, 2048, true);
	fake_vm_mmio_write(vm, notify + 4 * RXQ, RXQ, 2);
	memset(f, 0, HDR);
	memset(f + HDR, 0xff, 6);
	for (unsigned int i = 6; i < 60; i++)
		f[HDR + i] = (u8)i;
	vq_add(TXQ, tx, HDR + 60, false);
	fake_vm_mmio_write(vm, notify + 4 * TXQ, TXQ, 2);
	*irq = wait(arg);
	for (int t = 0; t < 200 && !vq_used(RXQ, &len); t++)
		wait(arg);
	vq_used(TXQ, &(u32){ 0 });
	return len;
}

static bool wait_gsi(void *arg)
{
	return fake_vm_wait_irq(vm, *(u32 *)arg, 10 * TIMEOUT_MS / 200);
}

static bool wait_intx(void *arg)
{
	for (int t = 0; t < 200; t++) {
		if (fake_vm_irq_level(vm, *(u32 *)arg))
			return true;
		usleep(5000);
	}
	return false;
}

int main(void)
{
	const u64 feat = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_NET_F_MAC);
	struct vdpa_device *vdpa;
	struct virtio_pci *vp = NULL;
	struct pci_host *h = NULL;
	unsigned int ncap, msix, dcap;
	u32 v, len, gsi, line;
	u64 notify;
	bool irq;
	int ret;

	if (fake_vm_create(RAM, &vm))
		return 1;
	ram = fake_vm_ram(vm);
	if (vdpa_register_types() ||
	    vdpa_mgmt_dev_add("net,name=vpci0,mac=52:54:00:ab:cd:ef", &vdpa) ||
	    pci_host_create(vm, &fake_vm_pci, &h)) {
		report(false, "set-up: net simulator and host bridge");
		return report_summary();
	}
	ret = virtio_pci_create(h, vdpa, &vp);
	report_eq(ret, 0, "created");
	if (ret)
		goto out;
	report_eq(virtio_pci_slot(vp), SLOT, "in slot 1");
	report_eq(fake_vm_nr_irqfds(vm), 4, "an irqfd per MSI-X vector (3 queues + config)");
	report_eq(fake_vm_nr_ioeventfds(vm), 0, "no ioeventfd before memory decoding is on");

	report_prefix_push("identity");
	report_eq(cfg_rd(PCI_VENDOR_ID, 4), 0x10411af4, "vendor 0x1af4, device 0x1040 + net");
	report_eq(cfg_rd(PCI_REVISION_ID, 1), 1, "revision 1");
	report_eq(cfg_rd(PCI_CLASS_REVISION, 4) >> 8, 0x020000, "class network");
	report_eq(cfg_rd(PCI_SUBSYSTEM_ID, 2), 0x40, "subsystem id 0x40");
	ncap = 0;
	for (u8 t = 1; t <= 5; t++)
		ncap += find_vcap(t) != 0;
	report_eq(ncap, 5, "common, notify, ISR, device and PCI config capabilities");
	msix = 0;
	for (unsigned int p = cfg_rd(PCI_CAPABILITY_LIST, 1), n = 0; p && n < 48; p = cfg_rd(p + 1, 1), n++)
		if (cfg_rd(p, 1) == PCI_CAP_ID_MSIX)
			msix = p;
	report(msix && (cfg_rd(msix + 2, 2) & 0x7ff) == 3, "MSI-X with 4 vectors");
	report_eq(cfg_rd(find_vcap(VIRTIO_PCI_CAP_NOTIFY_CFG) + 16, 4), 4, "notify_off_multiplier 4");
	report_prefix_pop();

	cfg_wr(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	bar0 = cfg_rd(PCI_BASE_ADDRESS_0, 4) & ~0xfu;
	bar2 = (cfg_rd(PCI_BASE_ADDRESS_2, 4) & ~0xfu) | (u64)cfg_rd(PCI_BASE_ADDRESS_3, 4) << 32;
	notify = bar2 + cfg_rd(find_vcap(VIRTIO_PCI_CAP_NOTIFY_CFG) + 8, 4);
	report_eq(fake_vm_nr_ioeventfds(vm), 3, "memory decoding on: an ioeventfd per queue");

	report_prefix_push("common");
	report_eq(cc_rd(VIRTIO_PCI_COMMON_NUMQ, 2), 3, "num_queues 3");
	cc_wr(VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
	report(cc_rd(VIRTIO_PCI_COMMON_DF, 4) & 1, "VERSION_1 offered");
	report_eq(cc_rd(VIRTIO_PCI_COMMON_DF, 2), UINT16_MAX, "a 2-byte read of a 32-bit field: all ones");
	report_eq((negotiate(1ULL << VIRTIO_NET_F_MAC) & VIRTIO_CONFIG_S_FEATURES_OK), 0,
		  "FEATURES_OK refused without VERSION_1");
	report((negotiate(feat) & VIRTIO_CONFIG_S_FEATURES_OK), "FEATURES_OK for a valid subset");
	cc_wr(VIRTIO_PCI_COMMON_Q_SELECT, 0xffff, 2);
	report_eq(cc_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 0, "queue_size 0 for a missing queue");
	cc_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	report_eq(cc_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0, "a missing queue stays disabled");
	cc_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 2);
	cc_wr(VIRTIO_PCI_COMMON_Q_SIZE, 3, 2);
	cc_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	report_eq(cc_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0, "queue_size 3 (not a power of two) refused");
	/* packed=on: offered, and once negotiated any ring size is taken (§2.8). */
	report_eq((negotiate(feat | (1ULL << VIRTIO_F_RING_PACKED)) & VIRTIO_CONFIG_S_FEATURES_OK), 0,
		  "RING_PACKED refused while not offered");
	cc_wr(VIRTIO_PCI_COMMON_STATUS, 0, 1);
	report_eq(virtio_pci_set_packed(vp, true), 0, "packed switched on at status 0");
	report((negotiate(feat | (1ULL << VIRTIO_F_RING_PACKED)) & VIRTIO_CONFIG_S_FEATURES_OK),
	       "RING_PACKED negotiated");
	cc_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 2);
	cc_wr(VIRTIO_PCI_COMMON_Q_SIZE, 3, 2);
	cc_wr(VIRTIO_PCI_COMMON_Q_DESCLO, 0x10000, 4);
	cc_wr(VIRTIO_PCI_COMMON_Q_AVAILLO, 0x11000, 4);
	cc_wr(VIRTIO_PCI_COMMON_Q_USEDLO, 0x12000, 4);
	cc_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	report_eq(cc_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1, "a packed queue_size 3 is taken");
	report_err(virtio_pci_set_packed(vp, false), -EBUSY, "packed not switched off under a driver");
	cc_wr(VIRTIO_PCI_COMMON_STATUS, 0, 1);
	report_eq(virtio_pci_set_packed(vp, false), 0, "packed switched off at status 0");
	negotiate(feat);
	cc_wr(VIRTIO_PCI_COMMON_Q_MSIX, 100, 2);
	report_eq(cc_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR, "vector 100 reads back NO_VECTOR");
	cc_wr(VIRTIO_PCI_COMMON_NUMQ, 9, 2);
	report_eq(cc_rd(VIRTIO_PCI_COMMON_NUMQ, 2), 3, "num_queues is read-only");
	cc_wr(VIRTIO_PCI_COMMON_Q_DESCLO, 0x12345678, 4);
	cc_wr(VIRTIO_PCI_COMMON_Q_DESCHI, 0x9, 4);
	report(cc_rd(VIRTIO_PCI_COMMON_Q_DESCLO, 4) == 0x12345678 && cc_rd(VIRTIO_PCI_COMMON_Q_DESCHI, 4) == 9,
	       "queue_desc as two 32-bit halves");
	/* §4.1.4.9: the PCI configuration access window onto BAR2. */
	ncap = find_vcap(VIRTIO_PCI_CAP_PCI_CFG);
	cfg_wr(ncap + 4, 2, 1);				/* bar */
	cfg_wr(ncap + 8, VIRTIO_PCI_COMMON_NUMQ, 4);	/* offset */
	cfg_wr(ncap + 12, 2, 4);			/* length */
	report_eq(cfg_rd(ncap + 16, 4) & 0xffff, 3, "num_queues through the PCI_CFG window");
	cfg_wr(ncap + 8, VIRTIO_PCI_COMMON_Q_SELECT, 4);
	cfg_wr(ncap + 16, 1, 4);
	report_eq(cc_rd(VIRTIO_PCI_COMMON_Q_SELECT, 2), 1, "queue_select written through the window");
	cfg_wr(ncap + 12, 3, 4);
	cfg_wr(ncap + 16, 2, 4);
	report_eq(cc_rd(VIRTIO_PCI_COMMON_Q_SELECT, 2), 1, "a 3-byte window length is ignored");
	dcap = find_vcap(VIRTIO_PCI_CAP_DEVICE_CFG);
	v = fake_mmio_read(vm, bar2 + cfg_rd(dcap + 8, 4), 1);
	report_eq(v, 0x52, "device configuration: the MAC's first byte");
	report_prefix_pop();

	report_prefix_push("msix");
	cfg_wr(msix + 2, 0x8000, 2);
	fake_vm_mmio_write(vm, bar0 + 16, 0xfee00000, 4);
	fake_vm_mmio_write(vm, bar0 + 24, 0x51, 4);
	fake_vm_mmio_write(vm, bar0 + 28, 0, 4);
	negotiate(feat);
	gbrk = 0x100000;
	report(vq_setup(RXQ, 1) && vq_setup(TXQ, 1), "queues enabled with vector 1");
	cc_wr(VIRTIO_PCI_COMMON_STATUS, cc_rd(VIRTIO_PCI_COMMON_STATUS, 1) | VIRTIO_CONFIG_S_DRIVER_OK, 1);
	gsi = gsi_of(0x51);
	report(gsi >= VM_GSI_MSI_BASE, "vector 1 routed: GSI %u", gsi);
	len = loop_frame(notify, wait_gsi, &gsi, &irq);
	report(irq, "used-buffer interrupt through vector 1's irqfd");
	report_eq(len, HDR + 60, "frame looped back");
	report_eq(cc_rd(VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET, 0, "no NEEDS_RESET");
	report_prefix_pop();

	report_prefix_push("bar move");
	cfg_wr(PCI_COMMAND, PCI_COMMAND_MASTER, 2);
	report_eq(fake_vm_nr_ioeventfds(vm), 0, "decoding off: ioeventfds gone");
	cfg_wr(PCI_BASE_ADDRESS_2, (u32)X86_PCI_MMIO32_BASE + 0x100000, 4);
	cfg_wr(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	bar2 = X86_PCI_MMIO32_BASE + 0x100000;
	notify = bar2 + cfg_rd(find_vcap(VIRTIO_PCI_CAP_NOTIFY_CFG) + 8, 4);
	report_eq(fake_vm_nr_ioeventfds(vm), 3, "back at the new address");
	report_eq(cc_rd(VIRTIO_PCI_COMMON_NUMQ, 2), 3, "common configuration at the new address");
	len = loop_frame(notify, wait_gsi, &gsi, &irq);
	report(irq && len == HDR + 60, "traffic through the moved notifications (%u bytes)", len);
	report_prefix_pop();

	report_prefix_push("intx");
	cfg_wr(msix + 2, 0, 2);
	line = cfg_rd(PCI_INTERRUPT_LINE, 1);
	len = loop_frame(notify, wait_intx, &line, &irq);
	report(irq, "MSI-X off: INTx asserted on GSI %u", line);
	report_eq(len, HDR + 60, "frame looped back");
	v = fake_mmio_read(vm, bar2 + 0x1000, 1);
	report(v & 1, "ISR bit 0 (0x%x)", v);
	report(!fake_vm_irq_level(vm, line), "reading the ISR deasserts the line");
	report_eq(fake_mmio_read(vm, bar2 + 0x1000, 1), 0, "the ISR reads 0 again");
	report_prefix_pop();

	report_prefix_push("reset");
	cc_wr(VIRTIO_PCI_COMMON_STATUS, 0, 1);
	report_eq(cc_rd(VIRTIO_PCI_COMMON_STATUS, 1), 0, "status 0");
	cc_wr(VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	report_eq(cc_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR, "vectors back to NO_VECTOR");
	report_eq(cc_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), MIN(vdpa_get_vq_num_max(vdpa), 32768u),
		  "queue_size back to the maximum");
	report_eq(cc_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0, "queues disabled");
	report_prefix_pop();
out:
	virtio_pci_destroy(vp);
	check_eq(fake_vm_nr_ioeventfds(vm), 0);
	check_eq(fake_vm_nr_irqfds(vm), 0);
	check_eq(cfg_rd(PCI_VENDOR_ID, 4), UINT32_MAX);
	report_checks("destroy leaves no ioeventfd, no irqfd, an empty slot");
	pci_host_destroy(h);
	vdpa_mgmt_dev_del(vdpa);
	fake_vm_destroy(vm);
	return report_summary();
}
