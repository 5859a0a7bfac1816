// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the virtio transports share (virtio-mmio, mmio.c; virtio-pci,
 * pci.c): the device status state machine and feature negotiation, queue
 * hand-over to the device, reset, the identity IOTLB of guest RAM, one
 * kick eventfd per queue and the kick relay for devices that cannot take
 * one. A transport decodes its registers and calls these with its own lock
 * held; the vDPA bus wrappers take the device lock beneath it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include <kestrel/fault.h>
#include <kestrel/iotlb.h>
#include <kestrel/memory.h>
#include <kestrel/sandbox.h>
#include <kestrel/vdpa.h>
#include <kestrel/vm.h>

#include "internal.h"

/* ---- kick relay (devices without set_vq_kickfd) --------------------------- */

static void *virtio_relay_thread(void *arg)
{
	struct virtio_core *c = arg;
	struct epoll_event evs[16];

	seccomp_thread_enter(SECCOMP_THREAD_RELAY);
	for (;;) {
		int n = epoll_wait(c->relay_epfd, evs, ARRAY_SIZE(evs), -1);

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
			if (eventfd_read(c->vqs[idx].kickfd, &v) == 0)
				vdpa_kick_vq(c->vdpa, (u16)idx);
		}
	}
	return NULL;
}

/* On the VMM thread (vm_call_vmm()): a register write cannot create threads. */
static int __virtio_relay_start(void *arg)
{
	struct virtio_core *c = arg;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
	int ret;

	if (c->relay_started)
		return 0;
	c->relay_epfd = xepoll_create1(EPOLL_CLOEXEC);
	if (c->relay_epfd < 0)
		return c->relay_epfd;
	c->relay_stopfd = xeventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->relay_stopfd < 0)
		return c->relay_stopfd;
	if (epoll_ctl(c->relay_epfd, EPOLL_CTL_ADD, c->relay_stopfd, &ev) < 0)
		return -errno;
	ret = xpthread_create(&c->relay, NULL, virtio_relay_thread, c);
	if (ret)
		return ret;
	c->relay_started = true;
	return 0;
}

static int virtio_relay_start(struct virtio_core *c)
{
	return c->relay_started ? 0 : vm_call_vmm(c->vm, __virtio_relay_start, c);
}

/* The device cannot take the ioeventfd: watch it ourselves. */
static int virtio_relay_add(struct virtio_core *c, u32 idx)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = idx };
	int ret;

	if (c->vqs[idx].kick_relay)
		return 0;
	ret = virtio_relay_start(c);
	if (ret)
		return ret;
	if (epoll_ctl(c->relay_epfd, EPOLL_CTL_ADD, c->vqs[idx].kickfd, &ev) < 0)
		return -errno;
	c->vqs[idx].kick_relay = true;
	return 0;
}

#ifdef KESTREL_TEST_HOOKS
/*
 * Test builds only (build/kestrel-test): KESTREL_VIRTIO_RELAY=1 gives
 * every queue to the kick relay, as for a device without set_vq_kickfd
 * (no built-in device lacks it), so the relay thread and its seccomp
 * list can be tested. One "test-hook: ..." line per relayed queue.
 */
static int virtio_set_kickfd(struct virtio_core *c, u32 idx, int fd)
{
	const char *h = getenv("KESTREL_VIRTIO_RELAY");

	if (!h || strcmp(h, "1"))
		return vdpa_set_vq_kickfd(c->vdpa, (u16)idx, fd);
	fprintf(stderr, "test-hook: %s: queue %u kicks relayed\n", c->name, idx);
	return -EOPNOTSUPP;
}
#else
static inline int virtio_set_kickfd(struct virtio_core *c, u32 idx, int fd)
{
	return vdpa_set_vq_kickfd(c->vdpa, (u16)idx, fd);
}
#endif

static void virtio_relay_del(struct virtio_core *c, u32 idx)
{
	if (!c->vqs[idx].kick_relay)
		return;
	epoll_ctl(c->relay_epfd, EPOLL_CTL_DEL, c->vqs[idx].kickfd, NULL);
	c->vqs[idx].kick_relay = false;
}

static void virtio_relay_stop(struct virtio_core *c)
{
	if (c->relay_started) {
		eventfd_write(c->relay_stopfd, 1);
		pthread_join(c->relay, NULL);
		c->relay_started = false;
	}
	if (c->relay_stopfd >= 0)
		close(c->relay_stopfd);
	if (c->relay_epfd >= 0)
		close(c->relay_epfd);
	c->relay_stopfd = c->relay_epfd = -1;
}

/* ---- identity IOTLB ------------------------------------------------------- */

static void virtio_unmap_ram(struct virtio_core *c)
{
	if (!c->mapped)
		return;
	for (u32 as = 0; as < c->vdpa->nas; as++) {
		if (c->used_set_map) {
			struct iotlb *empty;

			if (iotlb_create(1, &empty) == 0) {
				vdpa_set_map(c->vdpa, as, empty);
				iotlb_destroy(empty);
			}
			continue;
		}
		for (unsigned int i = 0; i < c->nr_maps; i++)
			vdpa_dma_unmap(c->vdpa, as, c->maps[i].gpa,
				       c->maps[i].size);
	}
	c->mapped = false;
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
static int virtio_map_ram(struct virtio_core *c)
{
	struct address_space *as = vm_address_space(c->vm);
	unsigned int n = as ? address_space_nr_regions(as) : 0;
	struct iotlb *tlb = NULL;
	int ret = 0;

	c->maps = xcalloc(n ? n : 1, sizeof(*c->maps));
	if (!c->maps)
		return -ENOMEM;
	c->nr_maps = 0;
	for (unsigned int i = 0; i < n; i++) {
		const struct mem_region *r = address_space_region(as, i);

		if (r->flags & MEM_F_PRIVATE)
			continue;
		c->maps[c->nr_maps].gpa = r->gpa;
		c->maps[c->nr_maps].size = r->size;
		c->maps[c->nr_maps++].hva = r->hva;
	}

	if (!vdpa_has_dma_map(c->vdpa)) {
		if (!vdpa_has_set_map(c->vdpa))
			return 0;	/* the device reaches memory its own way */
		ret = iotlb_create(c->nr_maps + 1, &tlb);
		if (ret)
			return ret;
		for (unsigned int i = 0; i < c->nr_maps && !ret; i++)
			ret = iotlb_add_range(tlb, c->maps[i].gpa,
					      c->maps[i].gpa + (c->maps[i].size - 1),
					      (u64)(uintptr_t)c->maps[i].hva,
					      IOTLB_PERM_RW);
		for (u32 a = 0; a < c->vdpa->nas && !ret; a++)
			ret = vdpa_set_map(c->vdpa, a, tlb);
		iotlb_destroy(tlb);
		c->used_set_map = true;
		c->mapped = true;
		return ret;
	}

	c->mapped = true;
	for (u32 a = 0; a < c->vdpa->nas; a++) {
		for (unsigned int i = 0; i < c->nr_maps; i++) {
			const struct virtio_map *r = &c->maps[i];

			ret = vdpa_dma_map(c->vdpa, a, r->gpa, r->size, r->hva,
					   VDPA_MAP_RW);
			if (ret) {
				pr_debug("%s: cannot map RAM 0x%llx+0x%llx for %s: %s",
					 c->name, (unsigned long long)r->gpa,
					 (unsigned long long)r->size,
					 c->vdpa->name, strerror(-ret));
				return ret;
			}
		}
	}
	return 0;
}

/* The driver enabled queue @idx: hand it to the device with @cb. Lock held. */
void virtio_core_queue_enable(struct virtio_core *c, u32 idx, const struct vdpa_callback *cb)
{
	struct virtio_vq *vq = &c->vqs[idx];
	int ret;

	ret = vdpa_set_vq_num(c->vdpa, (u16)idx, vq->num);
	if (!ret)
		ret = vdpa_set_vq_address(c->vdpa, (u16)idx, vq->desc,
					  vq->driver, vq->device);
	if (!ret)
		ret = vdpa_set_vq_cb(c->vdpa, (u16)idx, cb);
	if (!ret) {
		ret = virtio_set_kickfd(c, idx, vq->kickfd);
		if (ret == -EOPNOTSUPP)
			ret = virtio_relay_add(c, idx);
	}
	if (!ret)
		ret = vdpa_set_vq_ready(c->vdpa, (u16)idx, true);
	if (ret) {
		virtio_warn(c, "queue %u: refused (num %u, desc 0x%llx, driver 0x%llx, device 0x%llx): %s",
			   idx, vq->num, (unsigned long long)vq->desc,
			   (unsigned long long)vq->driver,
			   (unsigned long long)vq->device, strerror(-ret));
		vdpa_set_vq_kickfd(c->vdpa, (u16)idx, -1);
		virtio_relay_del(c, idx);
		return;
	}
	vq->ready = true;
}

void virtio_core_queue_disable(struct virtio_core *c, u32 idx)
{
	vdpa_set_vq_ready(c->vdpa, (u16)idx, false);
	virtio_relay_del(c, idx);
	c->vqs[idx].ready = false;
}

/*
 * Before a reset zeroes them (the device keeps them "since the last
 * reset"), log the counters of every queue that saw traffic: one
 * "VQ-STATS" line per queue, which bench/virtio-transport.sh parses for
 * kicks and interrupts per packet. Rate-limited: the guest chooses when to
 * reset. Lock held (or the window is being destroyed).
 */
void virtio_core_log_stats(struct virtio_core *c, const char *when)
{
	for (u32 i = 0; i < c->nvqs; i++) {
		struct vdpa_vq_stats st = { 0 };

		if (vdpa_get_vq_stats(c->vdpa, (u16)i, &st) ||
		    !(st.packets | st.kicks | st.errors | st.drops))
			continue;
		if (!ratelimit_allow(&c->stats_rl))
			return;
		pr_info("%s: %s: VQ-STATS %s vq=%u packets=%llu bytes=%llu drops=%llu errors=%llu kicks=%llu notifies=%llu",
			c->name, c->vdpa->name, when, i,
			(unsigned long long)st.packets,
			(unsigned long long)st.bytes,
			(unsigned long long)st.drops,
			(unsigned long long)st.errors,
			(unsigned long long)st.kicks,
			(unsigned long long)st.notifies);
	}
}

/*
 * Device status 0 (virtio 1.2 §2.4): device and queue state back to
 * initial; the transport clears its own registers. The ioeventfds and
 * interrupts stay registered: they belong to the transport, not to a
 * driver session. Transport lock held.
 */
void virtio_core_reset(struct virtio_core *c)
{
	int ret;

	virtio_core_log_stats(c, "reset");
	ret = vdpa_reset(c->vdpa);
	if (ret)
		virtio_warn(c, "device reset failed: %s", strerror(-ret));
	for (u32 i = 0; i < c->nvqs; i++) {
		struct virtio_vq *vq = &c->vqs[i];

		virtio_relay_del(c, i);
		vq->num = 0;
		vq->desc = vq->driver = vq->device = 0;
		vq->ready = false;
	}
	c->drv_features = 0;
}

/*
 * A driver's write of the device status (virtio 1.2 §3.1.1): driver
 * features are staged in c->drv_features until FEATURES_OK, which reads
 * back clear when the device or the transport refuses them (VERSION_1 is
 * mandatory on a modern-only transport). Return: true if it was a reset.
 */
bool virtio_core_write_status(struct virtio_core *c, u32 val)
{
	u8 old = vdpa_get_status(c->vdpa) & ~VIRTIO_CONFIG_S_NEEDS_RESET;
	u8 status = (u8)val;
	int ret;

	if (val > 0xff)
		virtio_warn(c, "Status 0x%x: bits above 7 ignored", val);
	if (status == 0) {
		virtio_core_reset(c);
		return true;
	}
	/* The driver never writes NEEDS_RESET; keep what it may write. */
	status &= ~VIRTIO_CONFIG_S_NEEDS_RESET;

	if ((status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		/* virtio 1.2 §4.2.3.1 / §6.1: modern transports need VERSION_1. */
		if (!(c->drv_features & (1ULL << VIRTIO_F_VERSION_1))) {
			virtio_warn(c, "driver features 0x%llx lack VERSION_1: FEATURES_OK refused",
				   (unsigned long long)c->drv_features);
			status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
		} else if (c->drv_features & ~c->offered) {
			virtio_warn(c, "driver features 0x%llx not offered (0x%llx): FEATURES_OK refused",
				   (unsigned long long)c->drv_features,
				   (unsigned long long)c->offered);
			status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
		} else {
			ret = vdpa_set_features(c->vdpa, c->drv_features);
			if (ret) {
				virtio_warn(c, "device refused features 0x%llx: %s",
					   (unsigned long long)c->drv_features,
					   strerror(-ret));
				status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
			}
		}
		/* Without it, later bits cannot be valid either. */
		if (!(status & VIRTIO_CONFIG_S_FEATURES_OK))
			status &= ~VIRTIO_CONFIG_S_DRIVER_OK;
	}
	if (status == old)
		return false;
	ret = vdpa_set_status(c->vdpa, status);
	if (ret)
		virtio_warn(c, "Status 0x%02x -> 0x%02x refused: %s", old, status,
			   strerror(-ret));
	return false;
}


/* Word @sel of the features offered (0 beyond the second). */
u32 virtio_core_device_features(struct virtio_core *c, u32 sel)
{
	return sel > 1 ? 0 : (u32)(c->offered >> (32 * sel));
}

/* A driver's write of feature word @sel: staged until FEATURES_OK (§3.1.1). */
void virtio_core_set_driver_features(struct virtio_core *c, u32 sel, u32 val)
{
	if (vdpa_get_status(c->vdpa) & VIRTIO_CONFIG_S_FEATURES_OK) {
		virtio_warn(c, "driver features written after FEATURES_OK: ignored");
		return;
	}
	if (sel > 1) {
		if (val)
			virtio_warn(c, "driver features word %u = 0x%x: no such features", sel, val);
		return;
	}
	if (sel)
		c->drv_features = (c->drv_features & 0xffffffffULL) | (u64)val << 32;
	else
		c->drv_features = (c->drv_features & ~0xffffffffULL) | val;
}

/* ---- create / destroy ----------------------------------------------------- */

int virtio_core_init(struct virtio_core *c, struct vm *vm, struct vdpa_device *vdpa,
		     const char *name, u64 transport_features)
{
	u64 features = vdpa_get_device_features(vdpa);
	int ret;

	memset(c, 0, sizeof(*c));
	c->relay_epfd = c->relay_stopfd = -1;
	c->vm = vm;
	c->name = name;
	c->rl = (struct ratelimit)RATELIMIT_INIT;
	c->stats_rl = (struct ratelimit)RATELIMIT_INIT;
	if (!(features & (1ULL << VIRTIO_F_VERSION_1)) || !vdpa->nvqs ||
	    vdpa->nvqs > VIRTIO_NVQS_MAX) {
		pr_err("%s: %s: needs VIRTIO_F_VERSION_1 and 1..%u queues", name,
		       vdpa->name, VIRTIO_NVQS_MAX);
		return -EINVAL;
	}
	c->offered = features & transport_features;
	c->nvqs = vdpa->nvqs;
	c->vqs = xcalloc(c->nvqs, sizeof(*c->vqs));
	if (!c->vqs)
		return -ENOMEM;
	for (u32 i = 0; i < c->nvqs; i++)
		c->vqs[i].kickfd = -1;

	/* From here on, destroy resets the device. */
	c->vdpa = vdpa;
	ret = vdpa_reset(vdpa);
	if (ret)
		return ret;
	ret = virtio_map_ram(c);
	if (ret)
		return ret;
	for (u32 i = 0; i < c->nvqs; i++) {
		c->vqs[i].kickfd = xeventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (c->vqs[i].kickfd < 0)
			return c->vqs[i].kickfd;
	}
	return 0;
}

void virtio_core_destroy(struct virtio_core *c)
{
	if (c->vdpa) {
		struct vdpa_callback none = { 0 };

		virtio_core_log_stats(c, "exit");
		/* Reset first: no worker touches RAM or calls us after this. */
		vdpa_reset(c->vdpa);
		vdpa_set_config_cb(c->vdpa, &none);
		virtio_unmap_ram(c);
	}
	virtio_relay_stop(c);
	for (u32 i = 0; c->vqs && i < c->nvqs; i++)
		if (c->vqs[i].kickfd >= 0)
			close(c->vqs[i].kickfd);
	free(c->vqs);
	free(c->maps);
	c->vqs = NULL;
	c->maps = NULL;
	c->vdpa = NULL;
}

int virtio_core_set_packed(struct virtio_core *c, bool on)
{
	const u64 bit = 1ULL << VIRTIO_F_RING_PACKED;

	if (vdpa_get_status(c->vdpa))
		return -EBUSY;
	if (!on) {
		c->offered &= ~bit;
		return 0;
	}
	if (!(vdpa_get_device_features(c->vdpa) & bit))
		return -EOPNOTSUPP;
	c->offered |= bit;
	return 0;
}

bool virtio_core_packed(struct virtio_core *c)
{
	return (vdpa_get_status(c->vdpa) & VIRTIO_CONFIG_S_FEATURES_OK) &&
	       (c->drv_features & (1ULL << VIRTIO_F_RING_PACKED));
}

u32 virtio_core_queue_num_max(struct virtio_core *c, u32 idx)
{
	if (idx >= c->nvqs)
		return 0;
	return MIN(vdpa_get_vq_num_max(c->vdpa), (u32)VIRTIO_QUEUE_NUM_MAX);
}
