// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-pci, modern interface only (virtio 1.2 §4.1), over any vDPA
 * device, on kestrel's PCI host bridge (src/pci, docs/pci.md).
 *
 * The function: vendor 0x1af4, device 0x1040 + type, revision 1 (no
 * legacy interface, §4.1.2.1). Two BARs:
 *   BAR0  32-bit memory, 4 KiB: the MSI-X table and PBA (src/pci/msix.c)
 *   BAR2  64-bit memory: common configuration at 0x0000, ISR at 0x1000,
 *         device configuration at 0x2000, notifications from 0x3000
 *         (queue n at 0x3000 + 4 n: notify_off_multiplier 4)
 * and five vendor capabilities: COMMON, NOTIFY, ISR, DEVICE and PCI_CFG
 * (the configuration-space window onto the BARs, §4.1.4.9).
 *
 * Fast paths: a 16-bit write to a queue's notification address is an
 * ioeventfd (moved with the BAR); interrupts are MSI-X, one vector per
 * queue and one for configuration changes as the driver maps them, each
 * an irqfd on its own GSI. Without MSI-X the function falls back to INTx
 * through the ISR (read to clear), on the slot's level-triggered line.
 *
 * Every access is hostile. Rules this file keeps (the common parts are
 * common.c's): common configuration fields take their own width only (64-bit
 * fields also as two 32-bit halves); queue fields of a missing queue or of
 * an enabled one are ignored; queue_enable takes only 1 (§4.1.4.3.2: 0 is
 * not for the driver to write); an MSI-X vector the function lacks reads
 * back NO_VECTOR (§4.1.5.1.2).
 *
 * Locking: vpci.lock serialises register accesses from vCPU threads; it
 * nests inside the host bridge's locks (BAR moves, configuration access)
 * and outside the vDPA device lock. Device callbacks (used buffers, config
 * change) touch only vpci.isr (atomics), the MSI-X state (its own lock)
 * and the INTx line (the host's INTx lock).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/virtio_pci.h>

#include <kestrel/fault.h>
#include <kestrel/pci.h>
#include <kestrel/vdpa.h>
#include <kestrel/vm.h>

#include "internal.h"

#define VPCI_VENDOR		0x1af4
#define VPCI_DEVICE_BASE	0x1040
#define VPCI_SUBSYS		0x0040	/* §4.1.2.1: 0x40 or higher for modern */

#define VPCI_MSIX_BAR		0
#define VPCI_BAR		2
#define VPCI_COMMON_OFF		0x0000
#define VPCI_ISR_OFF		0x1000
#define VPCI_DEVICE_OFF		0x2000
#define VPCI_NOTIFY_OFF		0x3000
#define VPCI_NOTIFY_MULT	4
#define VPCI_COMMON_SIZE	0x38	/* up to queue_device; no notify_data / reset */

/* A queue count the notification area and the MSI-X table can serve. */
#define VPCI_NVQS_MAX		1024

_Static_assert(sizeof(struct virtio_pci_common_cfg) == VPCI_COMMON_SIZE,
	       "the common configuration structure ends at queue_device");

#define VPCI_ISR_QUEUE		0x1
#define VPCI_ISR_CONFIG		0x2

/**
 * struct vpci_vq_ctx - what a queue's used-buffer callback gets
 * @vp: the transport
 * @idx: the queue
 */
struct vpci_vq_ctx {
	struct virtio_pci *vp;
	u16 idx;
};

/**
 * struct virtio_pci - one virtio-pci function
 * @pd: the PCI function (container_of back from the host's calls)
 * @msix: its MSI-X capability and vectors
 * @core: the shared transport state (common.c)
 * @host: the host bridge it is plugged into (when @plugged)
 * @plugged: pci_host_add_dev() done
 * @name: "virtio-pci 00:NN.0"
 * @lock: register accesses
 * @dfselect: device_feature_select
 * @gfselect: driver_feature_select
 * @queue_select: queue_select (any u16 the driver wrote)
 * @msix_config: config_msix_vector
 * @queue_msix: per queue, queue_msix_vector
 * @ctx: per queue, the callback context
 * @isr: ISR status (atomics): set by device callbacks, cleared by a read
 * @notify_addr: guest-physical address of the notification area while
 *	its ioeventfds are registered (@notify_on)
 * @notify_on: the queues' ioeventfds are registered at @notify_addr
 * @bar_size: bytes of BAR2
 * @cfg_cap: offset of the PCI_CFG capability
 */
struct virtio_pci {
	struct pci_dev pd;
	struct pci_msix msix;
	struct virtio_core core;
	struct pci_host *host;
	bool plugged;
	char name[48];
	pthread_mutex_t lock;

	u32 dfselect;
	u32 gfselect;
	u16 queue_select;
	u16 msix_config;
	u16 *queue_msix;
	struct vpci_vq_ctx *ctx;

	u32 isr;
	u64 notify_addr;
	bool notify_on;
	u64 bar_size;
	u8 cfg_cap;
};

static inline struct virtio_pci *to_vpci(struct pci_dev *pd)
{
	return container_of(pd, struct virtio_pci, pd);
}

#define vpci_warn(vp, fmt, ...)	virtio_warn(&(vp)->core, fmt, ##__VA_ARGS__)

/* ---- interrupts -------------------------------------------------------------- */

static void vpci_raise(struct virtio_pci *vp, u16 vector, u32 isr_bit)
{
	/* One lock on the MSI-X path; false: MSI-X is off (or no such vector). */
	if (vector != VIRTIO_MSI_NO_VECTOR && pci_msix_notify(&vp->msix, vector))
		return;
	/* With MSI-X on, an unmapped vector means no interrupt (§4.1.5.1.2). */
	if (vector == VIRTIO_MSI_NO_VECTOR && pci_msix_enabled(&vp->msix))
		return;
	/* Publish the cause before the line: the handler reads the ISR. */
	__atomic_fetch_or(&vp->isr, isr_bit, __ATOMIC_RELEASE);
	pci_dev_set_intx(&vp->pd, true);
}

static void vpci_vq_cb(void *private)
{
	struct vpci_vq_ctx *ctx = private;
	struct virtio_pci *vp = ctx->vp;

	vpci_raise(vp, __atomic_load_n(&vp->queue_msix[ctx->idx], __ATOMIC_RELAXED),
		   VPCI_ISR_QUEUE);
}

static void vpci_config_cb(void *private)
{
	struct virtio_pci *vp = private;

	/* Also how DEVICE_NEEDS_RESET reaches the guest (§2.1.2). */
	vpci_raise(vp, __atomic_load_n(&vp->msix_config, __ATOMIC_RELAXED), VPCI_ISR_CONFIG);
}

/* ISR read (§4.1.4.5): the causes, cleared, and the line deasserted. */
static u8 vpci_isr_read(struct virtio_pci *vp)
{
	/* Deassert first: a raise after it asserts again and is not lost. */
	pci_dev_set_intx(&vp->pd, false);
	return (u8)__atomic_exchange_n(&vp->isr, 0, __ATOMIC_ACQ_REL);
}

/* ---- notifications ------------------------------------------------------------- */

static void vpci_notify_unregister(struct virtio_pci *vp)
{
	if (!vp->notify_on)
		return;
	for (u32 i = 0; i < vp->core.nvqs; i++) {
		struct virtio_vq *vq = &vp->core.vqs[i];

		if (vq->ioeventfd_on)
			vm_ioeventfd_del(vp->core.vm, IO_SPACE_MMIO,
					 vp->notify_addr + (u64)i * VPCI_NOTIFY_MULT, 2, 0, false,
					 vq->kickfd);
		vq->ioeventfd_on = false;
	}
	vp->notify_on = false;
}

/* A queue whose ioeventfd is missing is still kicked, through the BAR write. */
static void vpci_notify_register(struct virtio_pci *vp, u64 area)
{
	for (u32 i = 0; i < vp->core.nvqs; i++) {
		struct virtio_vq *vq = &vp->core.vqs[i];
		int ret = vm_ioeventfd_add(vp->core.vm, IO_SPACE_MMIO,
					   area + (u64)i * VPCI_NOTIFY_MULT, 2, 0, false,
					   vq->kickfd);

		if (ret)
			vpci_warn(vp, "queue %u: no ioeventfd at 0x%llx: %s", i,
				  (unsigned long long)(area + (u64)i * VPCI_NOTIFY_MULT),
				  strerror(-ret));
		vq->ioeventfd_on = !ret;
	}
	vp->notify_addr = area;
	vp->notify_on = true;
}

/* The host moved a BAR or switched its decoding (host lock held). */
static void vpci_bar_moved(struct pci_dev *pd, unsigned int bar, u64 addr, bool on)
{
	struct virtio_pci *vp = to_vpci(pd);

	if (bar != VPCI_BAR)
		return;
	pthread_mutex_lock(&vp->lock);
	vpci_notify_unregister(vp);
	if (on)
		vpci_notify_register(vp, addr + VPCI_NOTIFY_OFF);
	pthread_mutex_unlock(&vp->lock);
}

/* ---- common configuration ------------------------------------------------------- */

static struct virtio_vq *vpci_cur_vq(struct virtio_pci *vp)
{
	return vp->queue_select < vp->core.nvqs ? &vp->core.vqs[vp->queue_select] : NULL;
}

/* The size a queue reports before the driver writes one: its maximum. */
static void vpci_reset_queue_sizes(struct virtio_pci *vp)
{
	for (u32 i = 0; i < vp->core.nvqs; i++)
		vp->core.vqs[i].num = virtio_core_queue_num_max(&vp->core, i);
}

/* Status 0: the transport's registers back to initial too (§4.1.4.3.1). */
static void vpci_write_status(struct virtio_pci *vp, u32 val)
{
	if (!virtio_core_write_status(&vp->core, val))
		return;
	vp->dfselect = vp->gfselect = 0;
	vp->queue_select = 0;
	__atomic_store_n(&vp->msix_config, VIRTIO_MSI_NO_VECTOR, __ATOMIC_RELAXED);
	for (u32 i = 0; i < vp->core.nvqs; i++)
		__atomic_store_n(&vp->queue_msix[i], VIRTIO_MSI_NO_VECTOR, __ATOMIC_RELAXED);
	vpci_reset_queue_sizes(vp);
	vpci_isr_read(vp);
}

/* A vector the function has, or NO_VECTOR (what the driver reads back). */
static u16 vpci_vector(struct virtio_pci *vp, u32 v)
{
	return v < vp->msix.nr ? (u16)v : VIRTIO_MSI_NO_VECTOR;
}

static u64 vpci_common_read(struct virtio_pci *vp, u32 off)
{
	struct virtio_vq *vq = vpci_cur_vq(vp);

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		return vp->dfselect;
	case VIRTIO_PCI_COMMON_DF:
		return virtio_core_device_features(&vp->core, vp->dfselect);
	case VIRTIO_PCI_COMMON_GFSELECT:
		return vp->gfselect;
	case VIRTIO_PCI_COMMON_GF:
		return vp->gfselect > 1 ? 0 : (u32)(vp->core.drv_features >> (32 * vp->gfselect));
	case VIRTIO_PCI_COMMON_MSIX:
		return vp->msix_config;
	case VIRTIO_PCI_COMMON_NUMQ:
		return vp->core.nvqs;
	case VIRTIO_PCI_COMMON_STATUS:
		return vdpa_get_status(vp->core.vdpa);
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return (u8)vdpa_get_generation(vp->core.vdpa);
	case VIRTIO_PCI_COMMON_Q_SELECT:
		return vp->queue_select;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		/* §4.1.4.3: 0 for a queue that is not available. */
		return vq ? vq->num : 0;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		return vq ? vp->queue_msix[vp->queue_select] : VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		return vq && vq->ready;
	case VIRTIO_PCI_COMMON_Q_NOFF:
		return vq ? vp->queue_select : 0;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		return vq ? vq->desc : 0;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		return vq ? vq->driver : 0;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		return vq ? vq->device : 0;
	}
	return 0;
}

static void vpci_queue_enable(struct virtio_pci *vp)
{
	u16 idx = vp->queue_select;
	struct virtio_vq *vq = &vp->core.vqs[idx];
	struct vdpa_callback cb = { .fn = vpci_vq_cb, .private = &vp->ctx[idx] };
	u32 max = virtio_core_queue_num_max(&vp->core, idx);

	bool packed = virtio_core_packed(&vp->core);

	/* §2.7: a split ring's size is a power of two; a packed ring's any (§2.8), up to the maximum. */
	if (!vq->num || vq->num > max || (!packed && (vq->num & (vq->num - 1)))) {
		vpci_warn(vp, "queue %u: size %u refused (%s up to %u)", idx, vq->num,
			  packed ? "a size" : "a power of two", max);
		return;
	}
	virtio_core_queue_enable(&vp->core, idx, &cb);
}

/* @v is the access's value, already widened; @field_off the field's start. */
static void vpci_common_write(struct virtio_pci *vp, u32 field_off, u64 v)
{
	struct virtio_vq *vq = vpci_cur_vq(vp);

	switch (field_off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		vp->dfselect = (u32)v;
		return;
	case VIRTIO_PCI_COMMON_GFSELECT:
		vp->gfselect = (u32)v;
		return;
	case VIRTIO_PCI_COMMON_GF:
		virtio_core_set_driver_features(&vp->core, vp->gfselect, (u32)v);
		return;
	case VIRTIO_PCI_COMMON_MSIX:
		__atomic_store_n(&vp->msix_config, vpci_vector(vp, (u32)v), __ATOMIC_RELAXED);
		return;
	case VIRTIO_PCI_COMMON_STATUS:
		vpci_write_status(vp, (u32)v);
		return;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		vp->queue_select = (u16)v;
		return;
	}
	if (field_off < VIRTIO_PCI_COMMON_Q_SIZE || field_off > VIRTIO_PCI_COMMON_Q_USEDLO) {
		vpci_warn(vp, "write 0x%llx to read-only common configuration field 0x%x: ignored",
			  (unsigned long long)v, field_off);
		return;
	}
	if (!vq) {
		vpci_warn(vp, "queue field 0x%x for missing queue %u: ignored", field_off,
			  vp->queue_select);
		return;
	}
	if (field_off == VIRTIO_PCI_COMMON_Q_MSIX) {
		/* May change while the queue runs (§4.1.5.1.2 has no such rule against it). */
		__atomic_store_n(&vp->queue_msix[vp->queue_select], vpci_vector(vp, (u32)v),
				 __ATOMIC_RELAXED);
		return;
	}
	if (field_off == VIRTIO_PCI_COMMON_Q_ENABLE) {
		if (v == 1 && !vq->ready)
			vpci_queue_enable(vp);
		else if (v != 1)
			vpci_warn(vp, "queue_enable = %llu: only 1 may be written", (unsigned long long)v);
		return;
	}
	if (vq->ready) {
		/* §4.1.4.3.2: set up before queue_enable. */
		vpci_warn(vp, "queue %u: field 0x%x written while enabled: ignored",
			  vp->queue_select, field_off);
		return;
	}
	switch (field_off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		vq->num = (u16)v;
		return;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		vq->desc = v;
		return;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		vq->driver = v;
		return;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		vq->device = v;
		return;
	}
	vpci_warn(vp, "write to read-only queue field 0x%x: ignored", field_off);
}

/* Width of the common configuration field at @off (0: not a field start). */
static unsigned int vpci_field_width(u32 off)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: case VIRTIO_PCI_COMMON_DF: case VIRTIO_PCI_COMMON_GFSELECT: case VIRTIO_PCI_COMMON_GF:
		return 4;
	case VIRTIO_PCI_COMMON_MSIX: case VIRTIO_PCI_COMMON_NUMQ: case VIRTIO_PCI_COMMON_Q_SELECT: case VIRTIO_PCI_COMMON_Q_SIZE:
	case VIRTIO_PCI_COMMON_Q_MSIX: case VIRTIO_PCI_COMMON_Q_ENABLE: case VIRTIO_PCI_COMMON_Q_NOFF:
		return 2;
	case VIRTIO_PCI_COMMON_STATUS: case VIRTIO_PCI_COMMON_CFGGENERATION:
		return 1;
	case VIRTIO_PCI_COMMON_Q_DESCLO: case VIRTIO_PCI_COMMON_Q_AVAILLO: case VIRTIO_PCI_COMMON_Q_USEDLO:
		return 8;
	}
	return 0;
}

/*
 * Decode an access of the common configuration: the field's own width, or
 * one 32-bit half of a 64-bit field. Return: the field's start, with
 * @half set to 0 (whole field), 1 (low) or 2 (high); or UINT32_MAX.
 */
static u32 vpci_common_field(u32 off, unsigned int len, unsigned int *half)
{
	unsigned int w = vpci_field_width(off);

	*half = 0;
	if (w && w == len)
		return off;
	if (w == 8 && len == 4) {
		*half = 1;
		return off;
	}
	if (len == 4 && off >= 4 && vpci_field_width(off - 4) == 8) {
		*half = 2;
		return off - 4;
	}
	return UINT32_MAX;
}

static void vpci_common_access(struct virtio_pci *vp, u32 off, void *data, unsigned int len,
			       bool is_write)
{
	unsigned int half;
	u32 field = vpci_common_field(off, len, &half);
	u64 v = 0;

	if (field == UINT32_MAX) {
		vpci_warn(vp, "%u-byte %s at common configuration 0x%x: not a field",
			  len, is_write ? "write" : "read", off);
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&vp->lock);
	if (is_write) {
		memcpy(&v, data, len);
		if (half) {
			u64 cur = vpci_common_read(vp, field);

			v = half == 1 ? (cur & ~0xffffffffULL) | (u32)v
				      : (cur & 0xffffffffULL) | v << 32;
		}
		vpci_common_write(vp, field, v);
	} else {
		v = vpci_common_read(vp, field);
		if (half == 2)
			v >>= 32;
		memcpy(data, &v, len);
	}
	pthread_mutex_unlock(&vp->lock);
}

/* ---- BAR accesses ------------------------------------------------------------ */

static int vpci_bar_access(struct virtio_pci *vp, unsigned int bar, u64 off, void *data,
			   unsigned int len, bool is_write)
{
	int ret;

	if (bar == VPCI_MSIX_BAR)
		return is_write ? pci_msix_bar_write(&vp->msix, off, data, len)
				: pci_msix_bar_read(&vp->msix, off, data, len);
	if (bar != VPCI_BAR)
		return -ENOENT;
	if (off < VPCI_ISR_OFF) {
		if (off + len > VPCI_COMMON_SIZE)
			return -ENOENT;
		vpci_common_access(vp, (u32)off, data, len, is_write);
		return 0;
	}
	if (off < VPCI_DEVICE_OFF) {
		if (off != VPCI_ISR_OFF || len != 1)
			return -ENOENT;
		if (!is_write)
			*(u8 *)data = vpci_isr_read(vp);
		return 0;
	}
	if (off < VPCI_NOTIFY_OFF) {
		unsigned int coff = (unsigned int)(off - VPCI_DEVICE_OFF);

		pthread_mutex_lock(&vp->lock);
		ret = is_write ? vdpa_set_config(vp->core.vdpa, coff, data, len)
			       : vdpa_get_config(vp->core.vdpa, coff, data, len);
		pthread_mutex_unlock(&vp->lock);
		if (ret)
			vpci_warn(vp, "device config %s of %u at 0x%x: outside the config space",
				  is_write ? "write" : "read", len, coff);
		return ret ? -ENOENT : 0;
	}
	/* A notification the ioeventfd did not take (another size, or none registered). */
	if (is_write) {
		u64 q = (off - VPCI_NOTIFY_OFF) / VPCI_NOTIFY_MULT;

		if (q < vp->core.nvqs)
			vdpa_kick_vq(vp->core.vdpa, (u16)q);
		return 0;
	}
	return -ENOENT;
}

static int vpci_bar_read(struct pci_dev *pd, unsigned int bar, u64 off, void *data,
			 unsigned int len)
{
	return vpci_bar_access(to_vpci(pd), bar, off, data, len, false);
}

static int vpci_bar_write(struct pci_dev *pd, unsigned int bar, u64 off, const void *data,
			  unsigned int len)
{
	return vpci_bar_access(to_vpci(pd), bar, off, (void *)data, len, true);
}

/* ---- the PCI configuration access capability (§4.1.4.9) ------------------------ */

#define CFGCAP_BAR	(offsetof(struct virtio_pci_cfg_cap, cap.bar))
#define CFGCAP_OFFSET	(offsetof(struct virtio_pci_cfg_cap, cap.offset))
#define CFGCAP_LENGTH	(offsetof(struct virtio_pci_cfg_cap, cap.length))
#define CFGCAP_DATA	(offsetof(struct virtio_pci_cfg_cap, pci_cfg_data))

/* The window's BAR, offset and length if they make an access (1, 2 or 4 aligned). */
static bool vpci_cfgcap_target(struct virtio_pci *vp, u8 *bar, u32 *off, u32 *len)
{
	*bar = (u8)pci_dev_cfg_read(&vp->pd, vp->cfg_cap + CFGCAP_BAR, 1);
	*off = pci_dev_cfg_read(&vp->pd, vp->cfg_cap + CFGCAP_OFFSET, 4);
	*len = pci_dev_cfg_read(&vp->pd, vp->cfg_cap + CFGCAP_LENGTH, 4);
	return (*len == 1 || *len == 2 || *len == 4) && !(*off & (*len - 1)) &&
	       *bar < PCI_NR_BARS && vp->pd.bars[*bar].size &&
	       *off < vp->pd.bars[*bar].size && *off + *len <= vp->pd.bars[*bar].size;
}

static void vpci_config_written(struct pci_dev *pd, u32 off, unsigned int len)
{
	struct virtio_pci *vp = to_vpci(pd);
	u32 data = vp->cfg_cap + CFGCAP_DATA, boff, blen, v;
	u8 bar;

	pci_msix_config_written(&vp->msix, off, len);
	if (off + len <= data || off >= data + 4 || !vpci_cfgcap_target(vp, &bar, &boff, &blen))
		return;
	v = pci_dev_cfg_read(pd, data, 4);
	vpci_bar_access(vp, bar, boff, &v, blen, true);
}

static void vpci_config_read(struct pci_dev *pd, u32 off, unsigned int len)
{
	struct virtio_pci *vp = to_vpci(pd);
	u32 data = vp->cfg_cap + CFGCAP_DATA, boff, blen, v = 0;
	u8 bar;

	if (off + len <= data || off >= data + 4 || !vpci_cfgcap_target(vp, &bar, &boff, &blen))
		return;
	if (vpci_bar_access(vp, bar, boff, &v, blen, false))
		v = UINT32_MAX;
	pci_dev_cfg_set(pd, data, v, 4);
}

static const struct pci_dev_ops vpci_ops = {
	.bar_read = vpci_bar_read,
	.bar_write = vpci_bar_write,
	.bar_moved = vpci_bar_moved,
	.config_written = vpci_config_written,
	.config_read = vpci_config_read,
};

/* ---- create / destroy ------------------------------------------------------------ */

static int vpci_add_cap(struct virtio_pci *vp, u8 type, u32 off, u32 len, const void *extra,
			unsigned int extra_len, u8 *at)
{
	u8 body[sizeof(struct virtio_pci_cfg_cap)];
	struct virtio_pci_cap cap = {
		.cap_len = (u8)(sizeof(cap) + extra_len), .cfg_type = type, .bar = VPCI_BAR,
		.offset = off, .length = len,
	};

	/* The body starts after cap_vndr and cap_next. */
	memcpy(body, (u8 *)&cap + 2, sizeof(cap) - 2);
	if (extra_len)
		memcpy(body + sizeof(cap) - 2, extra, extra_len);
	return pci_dev_add_cap(&vp->pd, PCI_CAP_ID_VNDR, body, sizeof(cap) - 2 + extra_len, at);
}

static u32 vpci_class(u32 device_id)
{
	switch (device_id) {
	case 1:
		return 0x020000;	/* network controller */
	case 2:
		return 0x018000;	/* mass storage, other */
	case 3:
		return 0x078000;	/* communication, other */
	default:
		return 0xff0000;	/* unassigned class */
	}
}

static int vpci_build(struct virtio_pci *vp)
{
	u32 id = vdpa_get_device_id(vp->core.vdpa);
	u32 cfg_size = (u32)vdpa_get_config_size(vp->core.vdpa);
	u32 notify_len = vp->core.nvqs * VPCI_NOTIFY_MULT, mult = VPCI_NOTIFY_MULT;
	u8 zero[4] = { 0 }, at;
	unsigned int nvec = MIN(vp->core.nvqs + 1, (u32)PCI_MSIX_MAX_VECTORS);
	int ret;

	vp->bar_size = 0x4000;
	while (vp->bar_size < VPCI_NOTIFY_OFF + (u64)notify_len)
		vp->bar_size <<= 1;
	pci_dev_init(&vp->pd, &vpci_ops, VPCI_VENDOR, (u16)(VPCI_DEVICE_BASE + id),
		     vpci_class(id), 1, VPCI_VENDOR, VPCI_SUBSYS);
	ret = pci_dev_add_bar(&vp->pd, VPCI_MSIX_BAR, PCI_MSIX_BAR_SIZE, 0);
	if (!ret)
		ret = pci_dev_add_bar(&vp->pd, VPCI_BAR, vp->bar_size, PCI_BAR_F_MEM64);
	if (!ret)
		ret = vpci_add_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, VPCI_COMMON_OFF,
				   VPCI_COMMON_SIZE, NULL, 0, &at);
	if (!ret)
		ret = vpci_add_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, VPCI_NOTIFY_OFF, notify_len,
				   &mult, sizeof(mult), &at);
	if (!ret)
		ret = vpci_add_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, VPCI_ISR_OFF, 1, NULL, 0, &at);
	if (!ret && cfg_size)
		ret = vpci_add_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, VPCI_DEVICE_OFF,
				   MIN(cfg_size, (u32)(VPCI_NOTIFY_OFF - VPCI_DEVICE_OFF)),
				   NULL, 0, &at);
	if (!ret) {
		ret = vpci_add_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, zero, sizeof(zero),
				   &vp->cfg_cap);
		if (!ret) {
			/* bar, offset, length and the data window are the driver's. */
			vp->pd.wmask[vp->cfg_cap + CFGCAP_BAR] = 0xff;
			memset(&vp->pd.wmask[vp->cfg_cap + CFGCAP_OFFSET], 0xff, 8);
			memset(&vp->pd.wmask[vp->cfg_cap + CFGCAP_DATA], 0xff, 4);
		}
	}
	if (!ret)
		ret = pci_msix_init(&vp->msix, &vp->pd, vp->core.vm, VPCI_MSIX_BAR, nvec);
	return ret;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (!vp)
		return;
	if (vp->plugged)
		pci_host_del_dev(vp->host, &vp->pd);
	vp->plugged = false;
	pthread_mutex_lock(&vp->lock);
	vpci_notify_unregister(vp);
	pthread_mutex_unlock(&vp->lock);
	/* Resets the device: no worker raises an interrupt after this. */
	virtio_core_destroy(&vp->core);
	pci_msix_destroy(&vp->msix);
	free(vp->queue_msix);
	free(vp->ctx);
	pthread_mutex_destroy(&vp->lock);
	free(vp);
}

int virtio_pci_create(struct pci_host *host, struct vdpa_device *vdpa, struct virtio_pci **out)
{
	struct vdpa_callback cb;
	struct virtio_pci *vp;
	int ret;

	if (!host || !vdpa || !out)
		return -EINVAL;
	if (vdpa->nvqs > VPCI_NVQS_MAX) {
		pr_err("virtio-pci: %s: %u queues, at most %u", vdpa->name, vdpa->nvqs,
		       VPCI_NVQS_MAX);
		return -EINVAL;
	}
	vp = xzalloc(sizeof(*vp));
	if (!vp)
		return -ENOMEM;
	pthread_mutex_init(&vp->lock, NULL);
	vp->host = host;
	vp->msix_config = VIRTIO_MSI_NO_VECTOR;
	snprintf(vp->name, sizeof(vp->name), "virtio-pci");
	ret = virtio_core_init(&vp->core, pci_host_vm(host), vdpa, vp->name,
			       VIRTIO_TRANSPORT_FEATURES);
	if (ret)
		goto err_destroy;
	vp->queue_msix = xcalloc(vp->core.nvqs, sizeof(*vp->queue_msix));
	vp->ctx = xcalloc(vp->core.nvqs, sizeof(*vp->ctx));
	if (!vp->queue_msix || !vp->ctx) {
		ret = -ENOMEM;
		goto err_destroy;
	}
	for (u32 i = 0; i < vp->core.nvqs; i++) {
		vp->queue_msix[i] = VIRTIO_MSI_NO_VECTOR;
		vp->ctx[i] = (struct vpci_vq_ctx){ .vp = vp, .idx = (u16)i };
	}
	vpci_reset_queue_sizes(vp);
	ret = vpci_build(vp);
	if (ret)
		goto err_destroy;
	cb = (struct vdpa_callback){ .fn = vpci_config_cb, .private = vp };
	vdpa_set_config_cb(vdpa, &cb);
	ret = pci_host_add_dev(host, &vp->pd, "virtio-pci");
	if (ret)
		goto err_destroy;
	vp->plugged = true;
	memcpy(vp->name, vp->pd.name, sizeof(vp->pd.name));
	pr_debug("%s: %s (device id %u, %u queues, %u MSI-X vectors)", vp->name, vdpa->name,
		 vdpa_get_device_id(vdpa), vp->core.nvqs, vp->msix.nr);
	*out = vp;
	return 0;

err_destroy:
	pr_debug("virtio-pci: cannot attach %s: %s", vdpa->name, strerror(-ret));
	virtio_pci_destroy(vp);
	return ret;
}

int virtio_pci_set_packed(struct virtio_pci *vp, bool on)
{
	int ret;

	pthread_mutex_lock(&vp->lock);
	ret = virtio_core_set_packed(&vp->core, on);
	pthread_mutex_unlock(&vp->lock);
	return ret;
}

unsigned int virtio_pci_slot(const struct virtio_pci *vp)
{
	return vp->pd.slot;
}
