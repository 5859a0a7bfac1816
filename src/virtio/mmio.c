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

/*
 * Feature bits the transport can carry (virtio 1.2 §6): every device-type
 * bit (0..23) and the reserved ones it implements. Masked out: packed
 * rings (vringh has only split), NOTIFICATION_DATA (QueueNotify would
 * carry more than the index and miss the ioeventfd datamatch), RING_RESET
 * (QueueReset is not implemented), SR-IOV and admin queues.
 */
#define VMMIO_TRANSPORT_FEATURES					\
	(((1ULL << 24) - 1) |						\
	 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |			\
	 (1ULL << VIRTIO_RING_F_EVENT_IDX) |				\
	 (1ULL << VIRTIO_F_VERSION_1) |					\
	 (1ULL << VIRTIO_F_ACCESS_PLATFORM) |				\
	 (1ULL << VIRTIO_F_IN_ORDER) |					\
	 (1ULL << VIRTIO_F_ORDER_PLATFORM))

/* Largest split ring (virtio 1.2 §2.7). */
#define VMMIO_QUEUE_NUM_MAX	32768

/* QueueNotify is a 32-bit register; vDPA queue indexes are 16-bit. */
#define VMMIO_NVQS_MAX		65536u

#define vmmio_warn(m, fmt, ...)						\
	do {								\
		if (ratelimit_allow(&(m)->rl))				\
			pr_warn("%s: " fmt, (m)->name, ##__VA_ARGS__);	\
	} while (0)

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

/* ---- kick relay (devices without set_vq_kickfd) --------------------------- */

static void *vmmio_relay_thread(void *arg)
{
	struct virtio_mmio *m = arg;
	struct epoll_event evs[16];

	seccomp_thread_enter(SECCOMP_THREAD_RELAY);
	for (;;) {
		int n = epoll_wait(m->relay_epfd, evs, ARRAY_SIZE(evs), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < n; i++) {
			u32 idx = evs[i].data.u32;
			eventfd_t v;

			if (idx == UINT32_MAX)
				return NULL;
			if (eventfd_read(m->vqs[idx].kickfd, &v) == 0)
				vdpa_kick_vq(m->vdpa, (u16)idx);
		}
	}
	return NULL;
}

/* On the VMM thread (vm_call_vmm()): a register write cannot create threads. */
static int __vmmio_relay_start(void *arg)
{
	struct virtio_mmio *m = arg;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
	int ret;

	if (m->relay_started)
		return 0;
	m->relay_epfd = xepoll_create1(EPOLL_CLOEXEC);
	if (m->relay_epfd < 0)
		return m->relay_epfd;
	m->relay_stopfd = xeventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->relay_stopfd < 0)
		return m->relay_stopfd;
	if (epoll_ctl(m->relay_epfd, EPOLL_CTL_ADD, m->relay_stopfd, &ev) < 0)
		return -errno;
	ret = xpthread_create(&m->relay, NULL, vmmio_relay_thread, m);
	if (ret)
		return ret;
	m->relay_started = true;
	return 0;
}

static int vmmio_relay_start(struct virtio_mmio *m)
{
	return m->relay_started ? 0 : vm_call_vmm(m->vm, __vmmio_relay_start, m);
}

/* The device cannot take the ioeventfd: watch it ourselves. */
static int vmmio_relay_add(struct virtio_mmio *m, u32 idx)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = idx };
	int ret;

	if (m->vqs[idx].kick_relay)
		return 0;
	ret = vmmio_relay_start(m);
	if (ret)
		return ret;
	if (epoll_ctl(m->relay_epfd, EPOLL_CTL_ADD, m->vqs[idx].kickfd, &ev) < 0)
		return -errno;
	m->vqs[idx].kick_relay = true;
	return 0;
}

#ifdef KESTREL_TEST_HOOKS
/*
 * Test builds only (build/kestrel-test): KESTREL_VIRTIO_RELAY=1 gives
 * every queue to the kick relay, as for a device without set_vq_kickfd
 * (no built-in device lacks it), so the relay thread and its seccomp
 * list can be tested. One "test-hook: ..." line per relayed queue.
 */
static int vmmio_set_kickfd(struct virtio_mmio *m, u32 idx, int fd)
{
	const char *h = getenv("KESTREL_VIRTIO_RELAY");

	if (!h || strcmp(h, "1"))
		return vdpa_set_vq_kickfd(m->vdpa, (u16)idx, fd);
	fprintf(stderr, "test-hook: %s: queue %u kicks relayed\n", m->name, idx);
	return -EOPNOTSUPP;
}
#else
static inline int vmmio_set_kickfd(struct virtio_mmio *m, u32 idx, int fd)
{
	return vdpa_set_vq_kickfd(m->vdpa, (u16)idx, fd);
}
#endif

static void vmmio_relay_del(struct virtio_mmio *m, u32 idx)
{
	if (!m->vqs[idx].kick_relay)
		return;
	epoll_ctl(m->relay_epfd, EPOLL_CTL_DEL, m->vqs[idx].kickfd, NULL);
	m->vqs[idx].kick_relay = false;
}

static void vmmio_relay_stop(struct virtio_mmio *m)
{
	if (m->relay_started) {
		eventfd_write(m->relay_stopfd, 1);
		pthread_join(m->relay, NULL);
		m->relay_started = false;
	}
	if (m->relay_stopfd >= 0)
		close(m->relay_stopfd);
	if (m->relay_epfd >= 0)
		close(m->relay_epfd);
	m->relay_stopfd = m->relay_epfd = -1;
}

/* ---- identity IOTLB ------------------------------------------------------- */

static void vmmio_unmap_ram(struct virtio_mmio *m)
{
	if (!m->mapped)
		return;
	for (u32 as = 0; as < m->vdpa->nas; as++) {
		if (m->used_set_map) {
			struct iotlb *empty;

			if (iotlb_create(1, &empty) == 0) {
				vdpa_set_map(m->vdpa, as, empty);
				iotlb_destroy(empty);
			}
			continue;
		}
		for (unsigned int i = 0; i < m->nr_maps; i++)
			vdpa_dma_unmap(m->vdpa, as, m->maps[i].gpa,
				       m->maps[i].size);
	}
	m->mapped = false;
}

/*
 * Map guest RAM GPA -> HVA into every address space of the device: what
 * the device sees as IOVAs are guest-physical addresses (docs/design.md
 * §2, the identity policy for kestrel's own guests). Private RAM (a
 * protected guest's guest_memfd, docs/protected.md) is left out: the
 * device's IOTLB holds only what kestrel itself can reach, so a descriptor
 * pointing there fails translation and the device needs a reset. Regions do
 * not change after the VM is built, so this is done once at create.
 */
static int vmmio_map_ram(struct virtio_mmio *m)
{
	struct address_space *as = vm_address_space(m->vm);
	unsigned int n = as ? address_space_nr_regions(as) : 0;
	struct iotlb *tlb = NULL;
	int ret = 0;

	m->maps = xcalloc(n ? n : 1, sizeof(*m->maps));
	if (!m->maps)
		return -ENOMEM;
	m->nr_maps = 0;
	for (unsigned int i = 0; i < n; i++) {
		const struct mem_region *r = address_space_region(as, i);

		if (r->flags & MEM_F_PRIVATE)
			continue;
		m->maps[m->nr_maps].gpa = r->gpa;
		m->maps[m->nr_maps].size = r->size;
		m->maps[m->nr_maps++].hva = r->hva;
	}

	if (!vdpa_has_dma_map(m->vdpa)) {
		if (!vdpa_has_set_map(m->vdpa))
			return 0;	/* the device reaches memory its own way */
		ret = iotlb_create(m->nr_maps + 1, &tlb);
		if (ret)
			return ret;
		for (unsigned int i = 0; i < m->nr_maps && !ret; i++)
			ret = iotlb_add_range(tlb, m->maps[i].gpa,
					      m->maps[i].gpa + (m->maps[i].size - 1),
					      (u64)(uintptr_t)m->maps[i].hva,
					      IOTLB_PERM_RW);
		for (u32 a = 0; a < m->vdpa->nas && !ret; a++)
			ret = vdpa_set_map(m->vdpa, a, tlb);
		iotlb_destroy(tlb);
		m->used_set_map = true;
		m->mapped = true;
		return ret;
	}

	m->mapped = true;
	for (u32 a = 0; a < m->vdpa->nas; a++) {
		for (unsigned int i = 0; i < m->nr_maps; i++) {
			const struct vmmio_map *r = &m->maps[i];

			ret = vdpa_dma_map(m->vdpa, a, r->gpa, r->size, r->hva,
					   VDPA_MAP_RW);
			if (ret) {
				pr_debug("%s: cannot map RAM 0x%llx+0x%llx for %s: %s",
					 m->name, (unsigned long long)r->gpa,
					 (unsigned long long)r->size,
					 m->vdpa->name, strerror(-ret));
				return ret;
			}
		}
	}
	return 0;
}

/* ---- queues --------------------------------------------------------------- */

static struct virtio_mmio_vq *vmmio_cur_vq(struct virtio_mmio *m)
{
	return m->queue_sel < m->nvqs ? &m->vqs[m->queue_sel] : NULL;
}

/* Driver wrote QueueReady = 1: hand the queue to the device. Lock held. */
static void vmmio_queue_enable(struct virtio_mmio *m, u32 idx)
{
	struct virtio_mmio_vq *vq = &m->vqs[idx];
	struct vdpa_callback cb = { .fn = vmmio_vq_cb, .private = m };
	int ret;

	ret = vdpa_set_vq_num(m->vdpa, (u16)idx, vq->num);
	if (!ret)
		ret = vdpa_set_vq_address(m->vdpa, (u16)idx, vq->desc,
					  vq->driver, vq->device);
	if (!ret)
		ret = vdpa_set_vq_cb(m->vdpa, (u16)idx, &cb);
	if (!ret) {
		ret = vmmio_set_kickfd(m, idx, vq->kickfd);
		if (ret == -EOPNOTSUPP)
			ret = vmmio_relay_add(m, idx);
	}
	if (!ret)
		ret = vdpa_set_vq_ready(m->vdpa, (u16)idx, true);
	if (ret) {
		vmmio_warn(m, "queue %u: refused (num %u, desc 0x%llx, driver 0x%llx, device 0x%llx): %s",
			   idx, vq->num, (unsigned long long)vq->desc,
			   (unsigned long long)vq->driver,
			   (unsigned long long)vq->device, strerror(-ret));
		vdpa_set_vq_kickfd(m->vdpa, (u16)idx, -1);
		vmmio_relay_del(m, idx);
		return;
	}
	vq->ready = true;
}

static void vmmio_queue_disable(struct virtio_mmio *m, u32 idx)
{
	vdpa_set_vq_ready(m->vdpa, (u16)idx, false);
	vmmio_relay_del(m, idx);
	m->vqs[idx].ready = false;
}

/*
 * Before a reset zeroes them (the device keeps them "since the last
 * reset"), log the counters of every queue that saw traffic: one
 * "VQ-STATS" line per queue, which bench/virtio-transport.sh parses for
 * kicks and interrupts per packet. Rate-limited: the guest chooses when to
 * reset. Lock held (or the window is being destroyed).
 */
static void vmmio_log_stats(struct virtio_mmio *m, const char *when)
{
	for (u32 i = 0; i < m->nvqs; i++) {
		struct vdpa_vq_stats st = { 0 };

		if (vdpa_get_vq_stats(m->vdpa, (u16)i, &st) ||
		    !(st.packets | st.kicks | st.errors | st.drops))
			continue;
		if (!ratelimit_allow(&m->stats_rl))
			return;
		pr_info("%s: %s: VQ-STATS %s vq=%u packets=%llu bytes=%llu drops=%llu errors=%llu kicks=%llu notifies=%llu",
			m->name, m->vdpa->name, when, i,
			(unsigned long long)st.packets,
			(unsigned long long)st.bytes,
			(unsigned long long)st.drops,
			(unsigned long long)st.errors,
			(unsigned long long)st.kicks,
			(unsigned long long)st.notifies);
	}
}

/* Status = 0 (virtio 1.2 §4.2.2.1): device and transport state back to
 * initial. The ioeventfds and the irqfd stay registered: they belong to
 * the window, not to a driver session. Lock held. */
static void vmmio_reset(struct virtio_mmio *m)
{
	int ret;

	vmmio_log_stats(m, "reset");
	ret = vdpa_reset(m->vdpa);
	if (ret)
		vmmio_warn(m, "device reset failed: %s", strerror(-ret));
	for (u32 i = 0; i < m->nvqs; i++) {
		struct virtio_mmio_vq *vq = &m->vqs[i];

		vmmio_relay_del(m, i);
		vq->num = 0;
		vq->desc = vq->driver = vq->device = 0;
		vq->ready = false;
	}
	m->dev_features_sel = m->drv_features_sel = 0;
	m->drv_features = 0;
	m->queue_sel = 0;
	m->shm_sel = 0;
	__atomic_store_n(&m->isr, 0, __ATOMIC_RELEASE);
}

/* ---- status --------------------------------------------------------------- */

static void vmmio_write_status(struct virtio_mmio *m, u32 val)
{
	u8 old = vdpa_get_status(m->vdpa) & ~VIRTIO_CONFIG_S_NEEDS_RESET;
	u8 status = (u8)val;
	int ret;

	if (val > 0xff)
		vmmio_warn(m, "Status 0x%x: bits above 7 ignored", val);
	if (status == 0) {
		vmmio_reset(m);
		return;
	}
	/* The driver never writes NEEDS_RESET; keep what it may write. */
	status &= ~VIRTIO_CONFIG_S_NEEDS_RESET;

	if ((status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		/* virtio 1.2 §4.2.3.1 / §6.1: modern transports need VERSION_1. */
		if (!(m->drv_features & (1ULL << VIRTIO_F_VERSION_1))) {
			vmmio_warn(m, "driver features 0x%llx lack VERSION_1: FEATURES_OK refused",
				   (unsigned long long)m->drv_features);
			status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
		} else if (m->drv_features & ~m->offered) {
			vmmio_warn(m, "driver features 0x%llx not offered (0x%llx): FEATURES_OK refused",
				   (unsigned long long)m->drv_features,
				   (unsigned long long)m->offered);
			status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
		} else {
			ret = vdpa_set_features(m->vdpa, m->drv_features);
			if (ret) {
				vmmio_warn(m, "device refused features 0x%llx: %s",
					   (unsigned long long)m->drv_features,
					   strerror(-ret));
				status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
			}
		}
		/* Without it, later bits cannot be valid either. */
		if (!(status & VIRTIO_CONFIG_S_FEATURES_OK))
			status &= ~VIRTIO_CONFIG_S_DRIVER_OK;
	}
	if (status == old)
		return;
	ret = vdpa_set_status(m->vdpa, status);
	if (ret)
		vmmio_warn(m, "Status 0x%02x -> 0x%02x refused: %s", old, status,
			   strerror(-ret));
}

/* ---- register access ------------------------------------------------------ */

static u32 vmmio_read_reg(struct virtio_mmio *m, u64 off)
{
	struct virtio_mmio_vq *vq;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return VIRTIO_MMIO_VERSION_MODERN;
	case VIRTIO_MMIO_DEVICE_ID:
		return vdpa_get_device_id(m->vdpa);
	case VIRTIO_MMIO_VENDOR_ID:
		return vdpa_get_vendor_id(m->vdpa);
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (m->dev_features_sel > 1)
			return 0;
		return (u32)(m->offered >> (32 * m->dev_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		/* §4.2.2: 0 for a queue that is not available. */
		if (!vmmio_cur_vq(m))
			return 0;
		return MIN(vdpa_get_vq_num_max(m->vdpa), (u32)VMMIO_QUEUE_NUM_MAX);
	case VIRTIO_MMIO_QUEUE_READY:
		vq = vmmio_cur_vq(m);
		return vq && vq->ready;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return __atomic_load_n(&m->isr, __ATOMIC_ACQUIRE);
	case VIRTIO_MMIO_STATUS:
		return vdpa_get_status(m->vdpa);
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		/* §4.2.2: no shared memory region: length and base all ones. */
		return UINT32_MAX;
	case VIRTIO_MMIO_QUEUE_RESET:
		return 0;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return vdpa_get_generation(m->vdpa);
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
	struct virtio_mmio_vq *vq;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		m->dev_features_sel = val;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (vdpa_get_status(m->vdpa) & VIRTIO_CONFIG_S_FEATURES_OK) {
			vmmio_warn(m, "DriverFeatures written after FEATURES_OK: ignored");
			return;
		}
		if (m->drv_features_sel > 1) {
			if (val)
				vmmio_warn(m, "DriverFeatures word %u = 0x%x: no such features",
					   m->drv_features_sel, val);
			return;
		}
		vmmio_set_half(&m->drv_features, m->drv_features_sel, 0, val);
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
			vmmio_queue_disable(m, m->queue_sel);
		else if (val > 1)
			vmmio_warn(m, "QueueReady = %u: ignored", val);
		return;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/*
		 * Reached only when the ioeventfd did not match: a queue that
		 * does not exist. Existing queues are kicked in the kernel.
		 * The relay path is for when KVM gave no ioeventfd at all.
		 */
		if (val < m->nvqs)
			vdpa_kick_vq(m->vdpa, (u16)val);
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
		ret = vdpa_get_config(m->vdpa, (unsigned int)(offset - VIRTIO_MMIO_CONFIG),
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
		ret = vdpa_set_config(m->vdpa, (unsigned int)(offset - VIRTIO_MMIO_CONFIG),
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
		iobus_unregister(vm_iobus(m->vm), IO_SPACE_MMIO, m->base);
	m->registered = false;
	if (m->vdpa) {
		struct vdpa_callback none = { 0 };

		vmmio_log_stats(m, "exit");
		/* Reset first: no worker touches RAM or calls us after this. */
		vdpa_reset(m->vdpa);
		vdpa_set_config_cb(m->vdpa, &none);
		vmmio_unmap_ram(m);
	}
	vmmio_relay_stop(m);
	if (m->irqfd_on)
		vm_irqfd_del(m->vm, m->irq, m->irqfd);
	if (m->irqfd >= 0)
		close(m->irqfd);
	for (u32 i = 0; m->vqs && i < m->nvqs; i++) {
		struct virtio_mmio_vq *vq = &m->vqs[i];

		if (vq->ioeventfd_on)
			vm_ioeventfd_del(m->vm, IO_SPACE_MMIO,
					 m->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, i,
					 true, vq->kickfd);
		if (vq->kickfd >= 0)
			close(vq->kickfd);
	}
	free(m->vqs);
	free(m->maps);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

int virtio_mmio_create(struct vm *vm, struct vdpa_device *vdpa, u64 base,
		       u32 irq, struct virtio_mmio **out)
{
	struct vdpa_callback cb;
	struct virtio_mmio *m;
	u64 features;
	int ret;

	if (!vm || !vdpa || !out || !IS_ALIGNED(base, VIRTIO_MMIO_REGION_SIZE) ||
	    base + VIRTIO_MMIO_REGION_SIZE < base)
		return -EINVAL;
	features = vdpa_get_device_features(vdpa);
	if (!(features & (1ULL << VIRTIO_F_VERSION_1)) || !vdpa->nvqs ||
	    vdpa->nvqs > VMMIO_NVQS_MAX) {
		pr_err("virtio-mmio: %s: needs VIRTIO_F_VERSION_1 and 1..%u queues",
		       vdpa->name, VMMIO_NVQS_MAX);
		return -EINVAL;
	}

	m = xzalloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->vm = vm;
	m->base = base;
	m->irq = irq;
	m->irqfd = -1;
	m->relay_epfd = m->relay_stopfd = -1;
	m->rl = (struct ratelimit)RATELIMIT_INIT;
	m->stats_rl = (struct ratelimit)RATELIMIT_INIT;
	m->offered = features & VMMIO_TRANSPORT_FEATURES;
	snprintf(m->name, sizeof(m->name), "virtio-mmio@0x%llx",
		 (unsigned long long)base);
	m->iodev.ops = &vmmio_io_ops;
	m->iodev.name = m->name;
	m->nvqs = vdpa->nvqs;
	m->vqs = xcalloc(m->nvqs, sizeof(*m->vqs));
	if (!m->vqs) {
		ret = -ENOMEM;
		goto err_destroy;
	}
	for (u32 i = 0; i < m->nvqs; i++)
		m->vqs[i].kickfd = -1;

	/* From here on, destroy resets the device. */
	m->vdpa = vdpa;
	ret = vdpa_reset(vdpa);
	if (ret)
		goto err_destroy;
	ret = vmmio_map_ram(m);
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

	for (u32 i = 0; i < m->nvqs; i++) {
		struct virtio_mmio_vq *vq = &m->vqs[i];

		vq->kickfd = xeventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vq->kickfd < 0) {
			ret = vq->kickfd;
			goto err_destroy;
		}
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
		 vdpa->name, vdpa_get_device_id(vdpa), m->nvqs, irq);
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

struct vdpa_device *virtio_mmio_vdpa(const struct virtio_mmio *m)
{
	return m->vdpa;
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
	u32 pad;
};

struct vmmio_snap_vq {
	u64 desc, driver, device;
	u32 num;
	u16 restart;		/* the used index: where the device starts again */
	u8 ready;
	u8 pad;
};

int virtio_mmio_snapshot_save(struct virtio_mmio *m, struct snap_writer *w, u32 instance)
{
	struct vmmio_snap *st;
	struct vmmio_snap_vq *qs;
	size_t len = sizeof(*st) + m->nvqs * sizeof(*qs);
	int ret = 0;

	st = xzalloc(len);
	if (!st)
		return -ENOMEM;
	qs = (struct vmmio_snap_vq *)(st + 1);
	pthread_mutex_lock(&m->lock);
	*st = (struct vmmio_snap){
		.status = vdpa_get_status(m->vdpa), .nvqs = m->nvqs,
		.drv_features = m->drv_features, .dev_features_sel = m->dev_features_sel,
		.drv_features_sel = m->drv_features_sel, .queue_sel = m->queue_sel,
		.shm_sel = m->shm_sel, .isr = __atomic_load_n(&m->isr, __ATOMIC_ACQUIRE),
	};
	for (u32 i = 0; i < m->nvqs; i++) {
		struct virtio_mmio_vq *vq = &m->vqs[i];
		le16 used_idx = 0;

		qs[i] = (struct vmmio_snap_vq){
			.desc = vq->desc, .driver = vq->driver, .device = vq->device,
			.num = vq->num, .ready = vq->ready,
		};
		/*
		 * Chains the device took but has not completed are taken again
		 * after a restore: it restarts at the used index, which the
		 * suspended device no longer moves.
		 */
		if (vq->ready &&
		    address_space_read(vm_address_space(m->vm), vq->device + 2, &used_idx, 2)) {
			ret = -EFAULT;
			break;
		}
		qs[i].restart = le16_to_cpu(used_idx);
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
	if (st->nvqs != m->nvqs || len != sizeof(*st) + st->nvqs * sizeof(*qs)) {
		snprintf(err, errlen, "%s: the snapshot's device has %u queues, this one %u",
			 m->name, st->nvqs, m->nvqs);
		return -EINVAL;
	}
	want = (u8)st->status & ~VIRTIO_CONFIG_S_NEEDS_RESET;
	pthread_mutex_lock(&m->lock);
	if (!want)
		goto out_regs;
	vmmio_write_status(m, want & (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER));
	vmmio_write_reg(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vmmio_write_reg(m, VIRTIO_MMIO_DRIVER_FEATURES, (u32)st->drv_features);
	vmmio_write_reg(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vmmio_write_reg(m, VIRTIO_MMIO_DRIVER_FEATURES, (u32)(st->drv_features >> 32));
	if (want & VIRTIO_CONFIG_S_FEATURES_OK)
		vmmio_write_status(m, want & ~VIRTIO_CONFIG_S_DRIVER_OK);
	for (u32 i = 0; i < m->nvqs; i++) {
		const struct vmmio_snap_vq *q = &qs[i];
		struct vdpa_vq_state vs = { .split.avail_index = q->restart };

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
		ret = vdpa_set_vq_state(m->vdpa, (u16)i, &vs);
		if (!ret) {
			vmmio_write_reg(m, VIRTIO_MMIO_QUEUE_READY, 1);
			if (!m->vqs[i].ready)
				ret = -EINVAL;
		}
		if (ret) {
			snprintf(err, errlen, "%s: queue %u of the snapshot is refused", m->name, i);
			goto out_unlock;
		}
	}
	vmmio_write_status(m, want);
	status = vdpa_get_status(m->vdpa);
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
