// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-mmio, modern layout (virtio 1.2 §4.2), over any vDPA device.
 *
 * Every guest access is hostile. Rules this file keeps:
 *  - registers below 0x100 are 32-bit; other sizes are logged (rate-limited)
 *    and ignored (reads return all ones); config space takes 1, 2 or 4;
 *  - writes to read-only registers and reads of write-only ones are ignored
 *    (reads return 0);
 *  - queue registers of a queue that is ready, or of a queue that does not
 *    exist, are ignored (§4.2.3.2: they are set up before QueueReady);
 *  - the queue is handed to the device only on QueueReady = 1, with
 *    everything the driver staged; if the device refuses it, QueueReady
 *    reads back 0 and the driver sees the failure;
 *  - driver features are staged until FEATURES_OK (§3.1.1 step 5) and
 *    FEATURES_OK reads back clear when the device or the transport refuses
 *    them (VERSION_1 is mandatory on a modern-only transport).
 *
 * Locking: vm_mmio.lock serialises register accesses from vCPU threads;
 * the vDPA bus wrappers take the device lock beneath it. Device callbacks
 * (used buffers, config change) run on device threads and touch only
 * vm_mmio.isr (atomics) and vm_mmio.irqfd (constant while registered).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <kestrel/fault.h>
#include <kestrel/iotlb.h>
#include <kestrel/memory.h>
#include <kestrel/snapshot.h>
#include <kestrel/sandbox.h>
#include <kestrel/vdpa.h>
#include <kestrel/vm.h>

#include "internal.h"

#define vmmio_warn(m, fmt, ...)	virtio_warn(&(m)->core, fmt, ##__VA_ARGS__)

static inline struct virtio_mmio *to_vmmio(struct io_dev *dev)
{
	return container_of(dev, struct virtio_mmio, iodev);
}

/* ---- interrupts ----------------------------------------------------------- */

static void vmmio_raise(struct virtio_mmio *m, u32 bit)
{
	/*
	 * Publish the cause before the edge: the guest handler that the
	 * irqfd wakes must find it in InterruptStatus (release pairs with
	 * the acquire load in the InterruptStatus read).
	 */
	__atomic_fetch_or(&m->isr, bit, __ATOMIC_RELEASE);
	eventfd_write(m->irqfd, 1);
}

static void vmmio_vq_cb(void *private)
{
	vmmio_raise(private, VIRTIO_MMIO_INT_VRING);
}

static void vmmio_config_cb(void *private)
{
	/* Also how DEVICE_NEEDS_RESET reaches the guest (§2.1.2). */
	vmmio_raise(private, VIRTIO_MMIO_INT_CONFIG);
}

/* ---- queues and status ---------------------------------------------------- */

static struct virtio_vq *vmmio_cur_vq(struct virtio_mmio *m)
{
	return m->queue_sel < m->core.nvqs ? &m->core.vqs[m->queue_sel] : NULL;
}

static void vmmio_queue_enable(struct virtio_mmio *m, u32 idx)
{
	struct vdpa_callback cb = { .fn = vmmio_vq_cb, .private = m };

	virtio_core_queue_enable(&m->core, idx, &cb);
}

/* Status (virtio 1.2 §4.2.2.1); 0 also clears the transport's registers. Lock held. */
static void vmmio_write_status(struct virtio_mmio *m, u32 val)
{
	if (!virtio_core_write_status(&m->core, val))
		return;
	m->dev_features_sel = m->drv_features_sel = 0;
	m->queue_sel = 0;
	m->shm_sel = 0;
	__atomic_store_n(&m->isr, 0, __ATOMIC_RELEASE);
}

/* ---- status --------------------------------------------------------------- */

/* ---- register access ------------------------------------------------------ */

static u32 vmmio_read_reg(struct virtio_mmio *m, u64 off)
{
	struct virtio_vq *vq;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return VIRTIO_MMIO_VERSION_MODERN;
	case VIRTIO_MMIO_DEVICE_ID:
		return vdpa_get_device_id(m->core.vdpa);
	case VIRTIO_MMIO_VENDOR_ID:
		return vdpa_get_vendor_id(m->core.vdpa);
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return virtio_core_device_features(&m->core, m->dev_features_sel);
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		/* §4.2.2: 0 for a queue that is not available. */
		return virtio_core_queue_num_max(&m->core, m->queue_sel);
	case VIRTIO_MMIO_QUEUE_READY:
		vq = vmmio_cur_vq(m);
		return vq && vq->ready;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return __atomic_load_n(&m->isr, __ATOMIC_ACQUIRE);
	case VIRTIO_MMIO_STATUS:
		return vdpa_get_status(m->core.vdpa);
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		/* §4.2.2: no shared memory region: length and base all ones. */
		return UINT32_MAX;
	case VIRTIO_MMIO_QUEUE_RESET:
		return 0;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return vdpa_get_generation(m->core.vdpa);
	default:
		/* Write-only and reserved registers read as zero. */
		return 0;
	}
}

/* Low or high half of a 64-bit queue address register. */
static void vmmio_set_half(u64 *reg, u64 off, u64 low_off, u32 val)
{
	if (off == low_off)
		*reg = (*reg & 0xffffffff00000000ULL) | val;
	else
		*reg = (*reg & 0xffffffffULL) | (u64)val << 32;
}

static void vmmio_write_reg(struct virtio_mmio *m, u64 off, u32 val)
{
	struct virtio_vq *vq;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		m->dev_features_sel = val;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		virtio_core_set_driver_features(&m->core, m->drv_features_sel, val);
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		m->drv_features_sel = val;
		return;
	case VIRTIO_MMIO_QUEUE_SEL:
		m->queue_sel = val;
		return;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		vq = vmmio_cur_vq(m);
		if (!vq) {
			vmmio_warn(m, "queue register 0x%llx for missing queue %u: ignored",
				   (unsigned long long)off, m->queue_sel);
			return;
		}
		if (vq->ready) {
			/* §4.2.3.2: set up before QueueReady. */
			vmmio_warn(m, "queue %u: register 0x%llx written while ready: ignored",
				   m->queue_sel, (unsigned long long)off);
			return;
		}
		if (off == VIRTIO_MMIO_QUEUE_NUM)
			vq->num = val;
		else if (off <= VIRTIO_MMIO_QUEUE_DESC_HIGH)
			vmmio_set_half(&vq->desc, off, VIRTIO_MMIO_QUEUE_DESC_LOW, val);
		else if (off <= VIRTIO_MMIO_QUEUE_AVAIL_HIGH)
			vmmio_set_half(&vq->driver, off, VIRTIO_MMIO_QUEUE_AVAIL_LOW, val);
		else
			vmmio_set_half(&vq->device, off, VIRTIO_MMIO_QUEUE_USED_LOW, val);
		return;
	case VIRTIO_MMIO_QUEUE_READY:
		vq = vmmio_cur_vq(m);
		if (!vq) {
			vmmio_warn(m, "QueueReady for missing queue %u: ignored",
				   m->queue_sel);
			return;
		}
		if (val == 1 && !vq->ready)
			vmmio_queue_enable(m, m->queue_sel);
		else if (val == 0 && vq->ready)
			virtio_core_queue_disable(&m->core, m->queue_sel);
		else if (val > 1)
			vmmio_warn(m, "QueueReady = %u: ignored", val);
		return;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/*
		 * Reached only when the ioeventfd did not match: a queue that
		 * does not exist. Existing queues are kicked in the kernel.
		 * The relay path is for when KVM gave no ioeventfd at all.
		 */
		if (val < m->core.nvqs)
			vdpa_kick_vq(m->core.vdpa, (u16)val);
		else
			vmmio_warn(m, "QueueNotify %u: no such queue", val);
		return;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_fetch_and(&m->isr, ~val, __ATOMIC_ACQ_REL);
		return;
	case VIRTIO_MMIO_STATUS:
		vmmio_write_status(m, val);
		return;
	case VIRTIO_MMIO_SHM_SEL:
		m->shm_sel = val;
		return;
	case VIRTIO_MMIO_QUEUE_RESET:
		vmmio_warn(m, "QueueReset without VIRTIO_F_RING_RESET: ignored");
		return;
	default:
		vmmio_warn(m, "write 0x%x to read-only or reserved register 0x%llx: ignored",
			   val, (unsigned long long)off);
		return;
	}
}

static void vmmio_store(void *data, unsigned int len, u32 val)
{
	switch (len) {
	case 1:
		*(u8 *)data = (u8)val;
		break;
	case 2: {
		le16 v = cpu_to_le16((u16)val);

		memcpy(data, &v, 2);
		break;
	}
	default: {
		le32 v = cpu_to_le32(val);

		memcpy(data, &v, 4);
		break;
	}
	}
}

static int vmmio_read(struct io_dev *dev, u64 offset, void *data,
		      unsigned int len)
{
	struct virtio_mmio *m = to_vmmio(dev);

	if (offset >= VIRTIO_MMIO_CONFIG) {
		int ret;

		pthread_mutex_lock(&m->lock);
		ret = vdpa_get_config(m->core.vdpa, (unsigned int)(offset - VIRTIO_MMIO_CONFIG),
				      data, len);
		pthread_mutex_unlock(&m->lock);
		if (ret) {
			vmmio_warn(m, "config read of %u at 0x%llx: outside the config space",
				   len, (unsigned long long)offset);
			memset(data, 0xff, len);
		}
		return 0;
	}
	if (len != 4) {
		vmmio_warn(m, "%u-byte read of register 0x%llx: registers are 32-bit",
			   len, (unsigned long long)offset);
		memset(data, 0xff, len);
		return 0;
	}
	pthread_mutex_lock(&m->lock);
	vmmio_store(data, len, vmmio_read_reg(m, offset));
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static int vmmio_write(struct io_dev *dev, u64 offset, const void *data,
		       unsigned int len)
{
	struct virtio_mmio *m = to_vmmio(dev);
	le32 v = 0;

	if (offset >= VIRTIO_MMIO_CONFIG) {
		int ret;

		pthread_mutex_lock(&m->lock);
		ret = vdpa_set_config(m->core.vdpa, (unsigned int)(offset - VIRTIO_MMIO_CONFIG),
				      data, len);
		pthread_mutex_unlock(&m->lock);
		if (ret)
			vmmio_warn(m, "config write of %u at 0x%llx: outside the config space",
				   len, (unsigned long long)offset);
		return 0;
	}
	if (len != 4) {
		vmmio_warn(m, "%u-byte write of register 0x%llx: registers are 32-bit",
			   len, (unsigned long long)offset);
		return 0;
	}
	memcpy(&v, data, 4);
	pthread_mutex_lock(&m->lock);
	vmmio_write_reg(m, offset, le32_to_cpu(v));
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/*
 * Config space takes 1, 2 and 4-byte accesses (virtio 1.2 §4.2.2.2: 64-bit
 * fields are read as two 32-bit halves); the register part checks for 4
 * itself so that a bad size there is logged under the device's name.
 */
static const struct io_ops vmmio_io_ops = {
	.read = vmmio_read,
	.write = vmmio_write,
	.min_access = 1,
	.max_access = 4,
	.unaligned = false,
};

/* ---- create / destroy ----------------------------------------------------- */

void virtio_mmio_destroy(struct virtio_mmio *m)
{
	if (!m)
		return;
	if (m->registered)
		iobus_unregister(vm_iobus(m->core.vm), IO_SPACE_MMIO, m->base);
	m->registered = false;
	for (u32 i = 0; m->core.vqs && i < m->core.nvqs; i++) {
		struct virtio_vq *vq = &m->core.vqs[i];

		if (vq->ioeventfd_on)
			vm_ioeventfd_del(m->core.vm, IO_SPACE_MMIO,
					 m->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, i,
					 true, vq->kickfd);
		vq->ioeventfd_on = false;
	}
	/* Resets the device: no worker touches RAM or calls us after this. */
	virtio_core_destroy(&m->core);
	if (m->irqfd_on)
		vm_irqfd_del(m->core.vm, m->irq, m->irqfd);
	if (m->irqfd >= 0)
		close(m->irqfd);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

int virtio_mmio_create(struct vm *vm, struct vdpa_device *vdpa, u64 base,
		       u32 irq, struct virtio_mmio **out)
{
	struct vdpa_callback cb;
	struct virtio_mmio *m;
	int ret;

	if (!vm || !vdpa || !out || !IS_ALIGNED(base, VIRTIO_MMIO_REGION_SIZE) ||
	    base + VIRTIO_MMIO_REGION_SIZE < base)
		return -EINVAL;
	m = xzalloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->base = base;
	m->irq = irq;
	m->irqfd = -1;
	snprintf(m->name, sizeof(m->name), "virtio-mmio@0x%llx",
		 (unsigned long long)base);
	m->iodev.ops = &vmmio_io_ops;
	m->iodev.name = m->name;
	ret = virtio_core_init(&m->core, vm, vdpa, m->name, VIRTIO_TRANSPORT_FEATURES);
	if (ret)
		goto err_destroy;

	m->irqfd = xeventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->irqfd < 0) {
		ret = m->irqfd;
		goto err_destroy;
	}
	ret = vm_irqfd_add(vm, irq, m->irqfd);
	if (ret)
		goto err_destroy;
	m->irqfd_on = true;

	for (u32 i = 0; i < m->core.nvqs; i++) {
		struct virtio_vq *vq = &m->core.vqs[i];

		ret = vm_ioeventfd_add(vm, IO_SPACE_MMIO,
				       base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, i, true,
				       vq->kickfd);
		if (ret)
			goto err_destroy;
		vq->ioeventfd_on = true;
	}

	cb = (struct vdpa_callback){ .fn = vmmio_config_cb, .private = m };
	vdpa_set_config_cb(vdpa, &cb);

	ret = iobus_register(vm_iobus(vm), IO_SPACE_MMIO, base,
			     VIRTIO_MMIO_REGION_SIZE, &m->iodev);
	if (ret)
		goto err_destroy;
	m->registered = true;
	pr_debug("%s: %s (device id %u, %u queues) on GSI %u", m->name,
		 vdpa->name, vdpa_get_device_id(vdpa), m->core.nvqs, irq);
	*out = m;
	return 0;

err_destroy:
	/* The caller reports it, naming the option or request (one line). */
	pr_debug("virtio-mmio: cannot attach %s at 0x%llx: %s", vdpa->name,
		 (unsigned long long)base, strerror(-ret));
	virtio_mmio_destroy(m);
	return ret;
}

void virtio_mmio_boot_dev(const struct virtio_mmio *m, struct boot_mmio_dev *out)
{
	out->base = m->base;
	out->size = VIRTIO_MMIO_REGION_SIZE;
	out->irq = m->irq;
}

int virtio_mmio_set_packed(struct virtio_mmio *m, bool on)
{
	int ret;

	pthread_mutex_lock(&m->lock);
	ret = virtio_core_set_packed(&m->core, on);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

struct vdpa_device *virtio_mmio_vdpa(const struct virtio_mmio *m)
{
	return m->core.vdpa;
}

/* ---- snapshots (docs/snapshot.md) --------------------------------------------- */

/* SNAP_SEC_VIRTIO_MMIO: the registers the driver wrote, then each queue. */
struct vmmio_snap {
	u32 status;
	u32 nvqs;
	u64 drv_features;
	u32 dev_features_sel;
	u32 drv_features_sel;
	u32 queue_sel;
	u32 shm_sel;
	u32 isr;
	u32 flags;		/* VMMIO_SNAP_F_* (0 in snapshots from before them) */
};

/* Packed rings were offered (packed=on): the restored transport offers them too. */
#define VMMIO_SNAP_F_PACKED	1u

/*
 * @restart: where the device starts again. Split: the used index. Packed:
 * the device's next used slot with its wrap counter in bit 15 (the
 * off_wrap form of virtio 1.2 §2.8.10), which no guest memory holds.
 */
struct vmmio_snap_vq {
	u64 desc, driver, device;
	u32 num;
	u16 restart;
	u8 ready;
	u8 pad;
};

/*
 * Where suspended queue @i restarts: chains the device took but has not
 * completed are taken again after a restore, from the used position,
 * which the suspended device no longer moves. Lock held.
 */
static int vmmio_snap_restart(struct virtio_mmio *m, u32 i, u16 *restart)
{
	struct virtio_vq *vq = &m->core.vqs[i];
	struct vdpa_vq_state vs;
	le16 used_idx = 0;
	int ret;

	if (!vq->ready) {
		*restart = 0;
		return 0;
	}
	if (virtio_core_packed(&m->core)) {
		ret = vdpa_get_vq_state(m->core.vdpa, (u16)i, &vs);
		if (ret)
			return ret;
		*restart = (u16)(vs.packed.last_used_idx |
				 (vs.packed.last_used_counter ? 0x8000 : 0));
		return 0;
	}
	if (address_space_read(vm_address_space(m->core.vm), vq->device + 2, &used_idx, 2))
		return -EFAULT;
	*restart = le16_to_cpu(used_idx);
	return 0;
}

int virtio_mmio_snapshot_save(struct virtio_mmio *m, struct snap_writer *w, u32 instance)
{
	struct vmmio_snap *st;
	struct vmmio_snap_vq *qs;
	size_t len = sizeof(*st) + m->core.nvqs * sizeof(*qs);
	int ret = 0;

	st = xzalloc(len);
	if (!st)
		return -ENOMEM;
	qs = (struct vmmio_snap_vq *)(st + 1);
	pthread_mutex_lock(&m->lock);
	*st = (struct vmmio_snap){
		.status = vdpa_get_status(m->core.vdpa), .nvqs = m->core.nvqs,
		.drv_features = m->core.drv_features, .dev_features_sel = m->dev_features_sel,
		.drv_features_sel = m->drv_features_sel, .queue_sel = m->queue_sel,
		.shm_sel = m->shm_sel, .isr = __atomic_load_n(&m->isr, __ATOMIC_ACQUIRE),
		.flags = m->core.offered & (1ULL << VIRTIO_F_RING_PACKED) ? VMMIO_SNAP_F_PACKED : 0,
	};
	for (u32 i = 0; i < m->core.nvqs && !ret; i++) {
		struct virtio_vq *vq = &m->core.vqs[i];

		qs[i] = (struct vmmio_snap_vq){
			.desc = vq->desc, .driver = vq->driver, .device = vq->device,
			.num = vq->num, .ready = vq->ready,
		};
		ret = vmmio_snap_restart(m, i, &qs[i].restart);
	}
	pthread_mutex_unlock(&m->lock);
	if (!ret)
		ret = snap_write_section(w, SNAP_SEC_VIRTIO_MMIO, instance, st, len);
	free(st);
	return ret;
}

/*
 * Replay what the driver did, through the same register paths and their
 * checks: a saved value the guest could not have written is refused the
 * same way.
 */
int virtio_mmio_snapshot_restore(struct virtio_mmio *m, struct snap_reader *r, u32 instance,
				 char *err, size_t errlen)
{
	const struct vmmio_snap *st;
	const struct vmmio_snap_vq *qs;
	const void *data;
	size_t len;
	u8 status, want;
	int ret = 0;

	if (snap_read_section(r, SNAP_SEC_VIRTIO_MMIO, instance, &data, &len) ||
	    len < sizeof(*st)) {
		snprintf(err, errlen, "%s: no transport state in the snapshot", m->name);
		return -EINVAL;
	}
	st = data;
	qs = (const struct vmmio_snap_vq *)(st + 1);
	if (st->nvqs != m->core.nvqs || len != sizeof(*st) + st->nvqs * sizeof(*qs)) {
		snprintf(err, errlen, "%s: the snapshot's device has %u queues, this one %u",
			 m->name, st->nvqs, m->core.nvqs);
		return -EINVAL;
	}
	if (st->flags & ~VMMIO_SNAP_F_PACKED) {
		snprintf(err, errlen, "%s: transport flags 0x%x in the snapshot are unknown",
			 m->name, st->flags);
		return -EINVAL;
	}
	want = (u8)st->status & ~VIRTIO_CONFIG_S_NEEDS_RESET;
	pthread_mutex_lock(&m->lock);
	ret = virtio_core_set_packed(&m->core, st->flags & VMMIO_SNAP_F_PACKED);
	if (ret) {
		snprintf(err, errlen, "%s: the snapshot's device had packed virtqueues, %s has none",
			 m->name, m->core.vdpa->name);
		goto out_unlock;
	}
	if (!want)
		goto out_regs;
	vmmio_write_status(m, want & (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER));
	vmmio_write_reg(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vmmio_write_reg(m, VIRTIO_MMIO_DRIVER_FEATURES, (u32)st->drv_features);
	vmmio_write_reg(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vmmio_write_reg(m, VIRTIO_MMIO_DRIVER_FEATURES, (u32)(st->drv_features >> 32));
	if (want & VIRTIO_CONFIG_S_FEATURES_OK)
		vmmio_write_status(m, want & ~VIRTIO_CONFIG_S_DRIVER_OK);
	for (u32 i = 0; i < m->core.nvqs; i++) {
		const struct vmmio_snap_vq *q = &qs[i];
		struct vdpa_vq_state vs = { .split.avail_index = q->restart };

		if (virtio_core_packed(&m->core)) {
			bool wrap = q->restart & 0x8000;
			u16 idx = q->restart & 0x7fff;

			/* Avail restarts where used is: the same chains are taken again. */
			vs.packed = (struct vdpa_vq_state_packed){
				.last_avail_counter = wrap, .last_avail_idx = idx,
				.last_used_counter = wrap, .last_used_idx = idx,
			};
		}

		vmmio_write_reg(m, VIRTIO_MMIO_QUEUE_SEL, i);
		vmmio_write_reg(m, VIRTIO_MMIO_QUEUE_NUM, q->num);
		vmmio_write_reg(m, VIRTIO_MMIO_QUEUE_DESC_LOW, (u32)q->desc);
		vmmio_write_reg(m, VIRTIO_MMIO_QUEUE_DESC_HIGH, (u32)(q->desc >> 32));
		vmmio_write_reg(m, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (u32)q->driver);
		vmmio_write_reg(m, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (u32)(q->driver >> 32));
		vmmio_write_reg(m, VIRTIO_MMIO_QUEUE_USED_LOW, (u32)q->device);
		vmmio_write_reg(m, VIRTIO_MMIO_QUEUE_USED_HIGH, (u32)(q->device >> 32));
		if (!q->ready)
			continue;
		ret = vdpa_set_vq_state(m->core.vdpa, (u16)i, &vs);
		if (!ret) {
			vmmio_write_reg(m, VIRTIO_MMIO_QUEUE_READY, 1);
			if (!m->core.vqs[i].ready)
				ret = -EINVAL;
		}
		if (ret) {
			snprintf(err, errlen, "%s: queue %u of the snapshot is refused", m->name, i);
			goto out_unlock;
		}
	}
	vmmio_write_status(m, want);
	status = vdpa_get_status(m->core.vdpa);
	if ((status & ~VIRTIO_CONFIG_S_NEEDS_RESET) != want) {
		snprintf(err, errlen, "%s: the device took status 0x%02x, not the saved 0x%02x",
			 m->name, status, want);
		ret = -EINVAL;
		goto out_unlock;
	}
out_regs:
	m->dev_features_sel = st->dev_features_sel;
	m->drv_features_sel = st->drv_features_sel;
	m->queue_sel = st->queue_sel;
	m->shm_sel = st->shm_sel;
	__atomic_store_n(&m->isr, st->isr & (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG),
			 __ATOMIC_RELEASE);
out_unlock:
	pthread_mutex_unlock(&m->lock);
	return ret;
}
