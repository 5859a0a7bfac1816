// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-user messages: one table says, per request, how big its payload
 * is, how many fds it carries, whether it needs SET_OWNER first and
 * whether it always answers; vhost_user_handle_msg() checks all of that
 * before a handler runs, so a handler only checks the meaning of fields.
 *
 * Failure policy (peers are hostile, docs/CONVENTIONS §6):
 *  - broken framing (version, reply bit, payload size) or a request whose
 *    mandatory reply we cannot give: disconnect;
 *  - anything else wrong (values, fd counts, order): the request has no
 *    effect, the front-end gets a non-zero REPLY_ACK if it asked, and a
 *    rate-limited line is logged.
 * fds a handler does not keep are closed by the dispatcher, whatever
 * happened (DPDK CVE-2019-14818: fds smuggled on other messages).
 *
 * Mapping onto the vDPA bus follows Linux's vhost_vdpa (vdpa-reference §4.6)
 * with the status state machine described in internal.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include "internal.h"

/* Protocol features we offer (intersected with what the device can do). */
#define VHOST_USER_SERVER_PROTOCOL_FEATURES				\
	((1ULL << VHOST_USER_PROTOCOL_F_MQ) |				\
	 (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |			\
	 (1ULL << VHOST_USER_PROTOCOL_F_BACKEND_REQ) |			\
	 (1ULL << VHOST_USER_PROTOCOL_F_CONFIG) |			\
	 (1ULL << VHOST_USER_PROTOCOL_F_RESET_DEVICE) |			\
	 (1ULL << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |		\
	 (1ULL << VHOST_USER_PROTOCOL_F_STATUS))

static bool has_protocol(const struct vhost_user_dev *dev, unsigned int bit)
{
	return dev->protocol_features & (1ULL << bit);
}

static bool is_iommu(const struct vhost_user_dev *dev)
{
	return dev->features_set &&
	       (dev->features & (1ULL << VIRTIO_F_ACCESS_PLATFORM));
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- the wire ----------------------------------------------------------- */

u64 vhost_user_msg_deadline(const struct vhost_user_dev *dev)
{
	struct timespec ts;
	u32 ms = dev->opts.msg_timeout_ms ? dev->opts.msg_timeout_ms
					  : VHOST_USER_SERVER_MSG_TIMEOUT_MS;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000 + (u64)ts.tv_nsec / 1000000 + ms;
}

int vhost_user_wait(const struct vhost_user_dev *dev, int fd, short events,
		    u64 deadline)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = events },
			{ .fd = dev->stop_fd, .events = POLLIN },
		};
		struct timespec ts;
		u64 now;
		int n;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (u64)ts.tv_sec * 1000 + (u64)ts.tv_nsec / 1000000;
		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(p, 2, (int)MIN(deadline - now, (u64)INT32_MAX));
		if (n < 0 && errno != EINTR)
			return -errno;
		/* The stop eventfd stays readable: the loop sees it next. */
		if (p[1].revents)
			return -ECANCELED;
		if (n > 0 && p[0].revents)
			return 0;
	}
}

/*
 * Header and payload, which are apart in memory, as one wire message.
 * @wait: a front-end that does not read gets until the message deadline
 * (then the send fails and the caller drops it); else never block.
 */
static int send_msg(const struct vhost_user_dev *dev, int fd,
		    const struct vhost_user_msg *msg, bool wait, int passfd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2] = {
		{ .iov_base = (void *)&msg->hdr, .iov_len = VHOST_USER_HDR_SIZE },
		{ .iov_base = (void *)&msg->payload, .iov_len = msg->hdr.size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	u64 deadline = wait ? vhost_user_msg_deadline(dev) : 0;

	/* @passfd rides on the first byte; once sent it is not sent again. */
	if (passfd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &passfd, sizeof(int));
	}
	while (iov[0].iov_len + iov[1].iov_len) {
		ssize_t n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			int ret = -errno;

			if (ret == -EINTR)
				continue;
			if (ret == -EAGAIN && wait)
				ret = vhost_user_wait(dev, fd, POLLOUT, deadline);
			if (ret)
				return ret;
			continue;
		}
		if (n == 0)
			return -EIO;
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		for (int i = 0; i < 2 && n; i++) {
			size_t k = MIN((size_t)n, iov[i].iov_len);

			iov[i].iov_base = (u8 *)iov[i].iov_base + k;
			iov[i].iov_len -= k;
			n -= (ssize_t)k;
		}
		if (!iov[0].iov_len) {
			mh.msg_iov = &iov[1];
			mh.msg_iovlen = 1;
		}
	}
	return 0;
}

static int send_reply(struct vhost_user_dev *dev, struct vhost_user_msg *msg,
		      u32 size)
{
	int passfd = dev->reply_fd, ret;

	msg->hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
	msg->hdr.size = size;
	dev->reply_fd = -1;
	ret = dev->connfd < 0 ? -ENOTCONN : send_msg(dev, dev->connfd, msg, true, passfd);
	close_fd(&passfd);
	return ret;
}

static int send_ack(struct vhost_user_dev *dev, u32 request, int result)
{
	struct vhost_user_msg reply = { .hdr.request = request };

	/* vhost-user.rst REPLY_ACK: zero is success, anything else failure. */
	reply.payload.u64 = result ? 1 : 0;
	return send_reply(dev, &reply, sizeof(u64));
}

/* A message on the backend channel; never blocks the server. */
static int send_backend(struct vhost_user_dev *dev, u32 request,
			const void *payload, u32 size)
{
	struct vhost_user_msg msg = {
		.hdr = { .request = request, .flags = VHOST_USER_VERSION,
			 .size = size },
	};

	if (dev->backend_fd < 0 ||
	    !has_protocol(dev, VHOST_USER_PROTOCOL_F_BACKEND_REQ))
		return -ENOTCONN;
	if (size)
		memcpy(&msg.payload, payload, size);
	return send_msg(dev, dev->backend_fd, &msg, false, -1);
}

/* ---- device programming ------------------------------------------------- */

static void vring_call(void *private)
{
	struct vhost_user_vring *vr = private;
	int fd = READ_ONCE(vr->callfd);

	if (fd >= 0)
		eventfd_write(fd, 1);
}

static void vring_install_cb(struct vhost_user_dev *dev, u16 idx)
{
	struct vhost_user_vring *vr = &dev->vrings[idx];
	struct vdpa_callback cb = { .fn = vring_call, .private = vr };

	vdpa_set_vq_cb(dev->vdpa, idx, vr->callfd >= 0 ? &cb : NULL);
}

static void vring_unwatch_kick(struct vhost_user_dev *dev,
			       struct vhost_user_vring *vr)
{
	if (vr->kick_watched && dev->loop_epfd >= 0 && vr->kickfd >= 0)
		epoll_ctl(dev->loop_epfd, EPOLL_CTL_DEL, vr->kickfd, NULL);
	vr->kick_watched = false;
}

/* Hand the kick fd to the device, or to the loop if the device can't. */
static int vring_attach_kick(struct vhost_user_dev *dev, u16 idx)
{
	struct vhost_user_vring *vr = &dev->vrings[idx];
	struct epoll_event ev = {
		.events = EPOLLIN, .data.u64 = VHOST_USER_EV_KICK | idx,
	};
	int ret;

	ret = vdpa_set_vq_kickfd(dev->vdpa, idx, vr->kickfd);
	if (ret != -EOPNOTSUPP || vr->kickfd < 0)
		return ret;
	if (dev->loop_epfd < 0 || vr->kick_watched)
		return 0;
	if (epoll_ctl(dev->loop_epfd, EPOLL_CTL_ADD, vr->kickfd, &ev) < 0)
		return -errno;
	vr->kick_watched = true;
	return 0;
}

/* Ring sizes in bytes (virtio 1.2 §2.7: 16 * num, 6 + 2 * num, 6 + 8 * num). */
static u64 desc_bytes(u32 num) { return 16ULL * num; }
static bool dev_packed(const struct vhost_user_dev *dev)
{
	return dev->features & (1ULL << VIRTIO_F_RING_PACKED);
}

/* Packed rings: both areas are 4-byte event suppression structures. */
static u64 avail_bytes(u32 num, bool packed) { return packed ? 4 : 6 + 2ULL * num; }
static u64 used_bytes(u32 num, bool packed) { return packed ? 4 : 6 + 8ULL * num; }

/* Report an unmapped ring area to the front-end (IOMMU mode). */
static void send_iotlb_miss(struct vhost_user_dev *dev, u64 iova, u8 perm)
{
	struct vhost_user_iotlb miss = {
		.iova = iova, .perm = perm, .type = VHOST_USER_IOTLB_MISS,
	};

	send_backend(dev, VHOST_USER_BACKEND_IOTLB_MSG, &miss, sizeof(miss));
}

static bool iova_mapped(struct vhost_user_dev *dev, u64 iova, u64 len,
			unsigned int perm)
{
	struct iotlb_seg seg;
	ssize_t n = iotlb_translate(dev->iommu_tlb, iova, len, perm, &seg, 1);

	return n > 0 || n == -ENOBUFS;
}

/*
 * The ring addresses the device gets: GPAs translated from the front-end's
 * user addresses (vhost-user.rst: SET_VRING_ADDR carries user addresses
 * unless ACCESS_PLATFORM), or the IOVAs as sent.
 */
static int vring_translate(struct vhost_user_dev *dev,
			   struct vhost_user_vring *vr, bool report)
{
	u32 num = vr->num;
	int ret;

	if (is_iommu(dev)) {
		if (!iova_mapped(dev, vr->desc, desc_bytes(num), IOTLB_PERM_RO)) {
			if (report)
				send_iotlb_miss(dev, vr->desc, VHOST_USER_ACCESS_RO);
			return -EFAULT;
		}
		if (!iova_mapped(dev, vr->avail, avail_bytes(num, dev_packed(dev)), IOTLB_PERM_RO)) {
			if (report)
				send_iotlb_miss(dev, vr->avail, VHOST_USER_ACCESS_RO);
			return -EFAULT;
		}
		if (!iova_mapped(dev, vr->used, used_bytes(num, dev_packed(dev)), IOTLB_PERM_WO)) {
			if (report)
				send_iotlb_miss(dev, vr->used, VHOST_USER_ACCESS_WO);
			return -EFAULT;
		}
		vr->dev_desc = vr->desc;
		vr->dev_avail = vr->avail;
		vr->dev_used = vr->used;
		return 0;
	}
	ret = vhost_user_mem_uva_to_gpa(dev, vr->desc, desc_bytes(num),
					&vr->dev_desc);
	if (!ret)
		ret = vhost_user_mem_uva_to_gpa(dev, vr->avail, avail_bytes(num, dev_packed(dev)),
						&vr->dev_avail);
	if (!ret)
		ret = vhost_user_mem_uva_to_gpa(dev, vr->used, used_bytes(num, dev_packed(dev)),
						&vr->dev_used);
	return ret;
}

static bool vring_wants_live(struct vhost_user_dev *dev, u16 idx)
{
	struct vhost_user_vring *vr = &dev->vrings[idx];

	return dev->features_ok && dev->mapped && vr->num && vr->has_addr &&
	       vr->kick_set && vr->enabled && !vr->stopped;
}

/*
 * vhost-user.rst, SET_VRING_BASE for packed rings: bits 0-14 the avail
 * index, bit 15 its wrap counter, bits 16-30 the used index, bit 31 its
 * wrap counter. A front-end that leaves the upper half 0 (DPDK's
 * virtio_user) means the used position is the avail one.
 */
static u32 vring_base_of(const struct vhost_user_dev *dev, const struct vdpa_vq_state *s)
{
	if (!dev_packed(dev))
		return s->split.avail_index;
	return s->packed.last_avail_idx | (u32)s->packed.last_avail_counter << 15 |
	       (u32)s->packed.last_used_idx << 16 | (u32)s->packed.last_used_counter << 31;
}

static struct vdpa_vq_state vring_state_of(const struct vhost_user_dev *dev, u32 base)
{
	struct vdpa_vq_state s = { .split.avail_index = (u16)base };
	u32 used = base >> 16 ? base >> 16 : base & 0xffff;

	if (dev_packed(dev)) {
		s.packed.last_avail_idx = base & 0x7fff;
		s.packed.last_avail_counter = !!(base & 0x8000);
		s.packed.last_used_idx = used & 0x7fff;
		s.packed.last_used_counter = !!(used & 0x8000);
	}
	return s;
}

/* Disable a ring on the device, keeping its position in the shadow. */
static void vring_dev_stop(struct vhost_user_dev *dev, u16 idx)
{
	struct vhost_user_vring *vr = &dev->vrings[idx];
	struct vdpa_vq_state state;

	if (!vr->dev_ready)
		return;
	vdpa_set_vq_ready(dev->vdpa, idx, false);
	vr->dev_ready = false;
	if (!vr->base_dirty && !vdpa_get_vq_state(dev->vdpa, idx, &state))
		vr->base = vring_base_of(dev, &state);
}

static int vring_dev_program(struct vhost_user_dev *dev, u16 idx)
{
	struct vhost_user_vring *vr = &dev->vrings[idx];
	struct vdpa_vq_state state = vring_state_of(dev, vr->base);
	struct vdpa_device *vdpa = dev->vdpa;
	int ret;

	ret = vdpa_set_vq_num(vdpa, idx, vr->num);
	if (!ret)
		ret = vdpa_set_vq_address(vdpa, idx, vr->dev_desc,
					  vr->dev_avail, vr->dev_used);
	if (!ret)
		ret = vdpa_set_vq_state(vdpa, idx, &state);
	if (!ret && vdpa_has_inflight(vdpa)) {
		size_t isize;
		void *region = vhost_user_inflight_region(dev, idx, &isize);

		/* Starting the ring reads back what the region says (inflight.c). */
		ret = vdpa_set_vq_inflight(vdpa, idx, region, isize);
	}
	if (ret)
		return ret;
	vring_install_cb(dev, idx);
	ret = vring_attach_kick(dev, idx);
	if (ret)
		return ret;
	ret = vdpa_set_vq_ready(vdpa, idx, true);
	if (ret)
		return ret;
	vr->base_dirty = false;
	vr->dirty = false;
	vr->dev_ready = true;
	return 0;
}

/* ACKNOWLEDGE | DRIVER, the features, FEATURES_OK (virtio 1.2 §3.1.1). */
static int dev_program_features(struct vhost_user_dev *dev)
{
	u64 f = dev->features & ~((1ULL << VHOST_USER_F_PROTOCOL_FEATURES) |
				  (1ULL << VHOST_F_LOG_ALL));
	int ret;

	ret = vdpa_set_status(dev->vdpa, VIRTIO_CONFIG_S_ACKNOWLEDGE |
					 VIRTIO_CONFIG_S_DRIVER);
	if (!ret)
		ret = vdpa_set_features(dev->vdpa, f);
	if (!ret)
		ret = vdpa_features_ok(dev->vdpa);
	dev->features_ok = !ret;
	return ret;
}

void vhost_user_dev_get_stats(struct vhost_user_dev *dev, u32 idx,
			      struct vdpa_vq_stats *st)
{
	/* A copy: @st may be the saved totals themselves (dev_reset()). */
	const struct vdpa_vq_stats a = dev->vrings[idx].stats;
	struct vdpa_vq_stats live = { 0 };

	vdpa_get_vq_stats(dev->vdpa, (u16)idx, &live);
	st->packets = live.packets + a.packets;
	st->bytes = live.bytes + a.bytes;
	st->drops = live.drops + a.drops;
	st->errors = live.errors + a.errors;
	st->kicks = live.kicks + a.kicks;
	st->notifies = live.notifies + a.notifies;
}

/* Reset the device, forgetting what it was programmed with (not memory). */
static void dev_reset(struct vhost_user_dev *dev)
{
	for (u32 i = 0; i < dev->nvrings; i++)
		vhost_user_dev_get_stats(dev, i, &dev->vrings[i].stats);
	vdpa_reset(dev->vdpa);
	for (u32 i = 0; i < dev->nvrings; i++) {
		struct vhost_user_vring *vr = &dev->vrings[i];

		vring_unwatch_kick(dev, vr);
		vr->dev_ready = false;
	}
	dev->features_ok = false;
}

int vhost_user_dev_commit(struct vhost_user_dev *dev)
{
	struct vdpa_device *vdpa = dev->vdpa;
	bool driver_ok, suspended = false, need_setup = false, any_ready = false;
	int err = 0, ret;
	u8 status;

	if (!dev->features_ok)
		return 0;
	status = vdpa_get_status(vdpa);
	driver_ok = status & VIRTIO_CONFIG_S_DRIVER_OK;

	/* Which rings change? Addresses are re-translated every time. */
	for (u32 i = 0; i < dev->nvrings; i++) {
		struct vhost_user_vring *vr = &dev->vrings[i];
		u64 d = vr->dev_desc, a = vr->dev_avail, u = vr->dev_used;
		bool want = vring_wants_live(dev, (u16)i);

		if (want && vring_translate(dev, vr, true)) {
			vu_warn(dev, "ring %u: addresses %#llx/%#llx/%#llx (size %u) not in mapped memory",
				i, (unsigned long long)vr->desc,
				(unsigned long long)vr->avail,
				(unsigned long long)vr->used, vr->num);
			want = false;
		}
		if (want && vr->dev_ready &&
		    (d != vr->dev_desc || a != vr->dev_avail || u != vr->dev_used))
			vr->dirty = true;
		if (!want && vr->dev_ready)
			vring_dev_stop(dev, (u16)i);
		if (want && (!vr->dev_ready || vr->dirty))
			need_setup = true;
	}
	if (!need_setup)
		return 0;

	/* vdpa configures queues before DRIVER_OK, or while suspended. */
	if (driver_ok) {
		if (vdpa_can_suspend(vdpa) && !vdpa_suspend(vdpa)) {
			suspended = true;
		} else {
			/* Keep where each running ring is: a reset forgets it. */
			for (u32 i = 0; i < dev->nvrings; i++)
				vring_dev_stop(dev, (u16)i);
			dev_reset(dev);
			ret = dev_program_features(dev);
			if (ret)
				return ret;
			driver_ok = false;
		}
	}
	for (u32 i = 0; i < dev->nvrings; i++) {
		struct vhost_user_vring *vr = &dev->vrings[i];

		if (!vring_wants_live(dev, (u16)i) || vring_translate(dev, vr, false))
			continue;
		if (vr->dev_ready && !vr->dirty)
			continue;
		vring_dev_stop(dev, (u16)i);
		ret = vring_dev_program(dev, (u16)i);
		if (ret) {
			vu_warn(dev, "ring %u: device refused it: %s", i,
				strerror(-ret));
			err = ret;
		}
	}
	for (u32 i = 0; i < dev->nvrings; i++)
		any_ready |= dev->vrings[i].dev_ready;
	if (any_ready && !driver_ok) {
		status = vdpa_get_status(vdpa);
		ret = vdpa_set_status(vdpa, status | VIRTIO_CONFIG_S_DRIVER_OK);
		if (ret) {
			vu_warn(dev, "device refused DRIVER_OK: %s", strerror(-ret));
			err = ret;
		}
	}
	if (suspended)
		vdpa_resume(vdpa);
	pr_debug("%s: committed: status %#x, %s", dev->name,
		 vdpa_get_status(vdpa), any_ready ? "rings running" : "no ring running");
	/* Kicks written before a ring was live: look at every live ring. */
	for (u32 i = 0; i < dev->nvrings; i++)
		if (dev->vrings[i].dev_ready)
			vdpa_kick_vq(vdpa, (u16)i);
	return err;
}

/* A full device reset requested by the front-end (status 0, RESET_*). */
static void dev_frontend_reset(struct vhost_user_dev *dev)
{
	dev_reset(dev);
	for (u32 i = 0; i < dev->nvrings; i++) {
		struct vhost_user_vring *vr = &dev->vrings[i];

		vr->stopped = true;
		vr->base = 0;
		vr->base_dirty = false;
	}
	dev->features_set = false;
	dev->status = 0;
	dev->iotlb_batch = false;
}

/*
 * A memory commit failed, so the device may still hold a table whose memory
 * is about to be unmapped: stop it (keeping each ring's position) so no
 * worker touches that memory; it runs again after the next memory commit
 * that works (vring_wants_live() needs @mapped).
 */
static void dev_drop_memory(struct vhost_user_dev *dev)
{
	for (u32 i = 0; i < dev->nvrings; i++)
		vring_dev_stop(dev, (u16)i);
	dev_reset(dev);
	dev->mapped = false;
	if (dev->features_set)
		dev_program_features(dev);
}

void vhost_user_dev_event(struct vhost_user_dev *dev)
{
	if (vdpa_needs_reset(dev->vdpa)) {
		vu_warn(dev, "device needs reset: signalling the front-end");
		for (u32 i = 0; i < dev->nvrings; i++) {
			struct vhost_user_vring *vr = &dev->vrings[i];

			if (vr->dev_ready && vr->errfd >= 0)
				eventfd_write(vr->errfd, 1);
		}
	}
	if (has_protocol(dev, VHOST_USER_PROTOCOL_F_CONFIG))
		send_backend(dev, VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, NULL, 0);
}

/* ---- handlers ----------------------------------------------------------- */

static struct vhost_user_vring *vring_get(struct vhost_user_dev *dev, u64 idx)
{
	/* The whole field is checked, not a truncation (CVE-2020-10723). */
	if (idx >= dev->nvrings) {
		vu_warn(dev, "ring index %llu out of range (%u rings)",
			(unsigned long long)idx, dev->nvrings);
		return NULL;
	}
	return &dev->vrings[idx];
}

static u64 offered_features(struct vhost_user_dev *dev)
{
	u64 f = vdpa_get_device_features(dev->vdpa);

	if (!dev->opts.iommu)
		f &= ~(1ULL << VIRTIO_F_ACCESS_PLATFORM);
	return f | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
}

static int vu_get_features(struct vhost_user_dev *dev,
			   struct vhost_user_msg *msg, int *fds)
{
	msg->payload.u64 = offered_features(dev);
	return sizeof(u64);
}

static int vu_set_features(struct vhost_user_dev *dev,
			   struct vhost_user_msg *msg, int *fds)
{
	u64 f = msg->payload.u64;
	bool was_iommu = is_iommu(dev);
	int ret;

	if (f & ~offered_features(dev)) {
		vu_warn(dev, "SET_FEATURES %#llx: not offered: %#llx",
			(unsigned long long)f,
			(unsigned long long)(f & ~offered_features(dev)));
		return -EINVAL;
	}
	if (!(f & (1ULL << VIRTIO_F_VERSION_1))) {
		/* kestrel's devices are modern only (virtio 1.2 §6.1). */
		vu_warn(dev, "SET_FEATURES %#llx without VERSION_1",
			(unsigned long long)f);
		return -EINVAL;
	}
	if (dev->features_set && dev->features == f && dev->features_ok)
		return 0;
	/* Features are fixed once FEATURES_OK is set: start over. */
	if (vdpa_get_status(dev->vdpa) & VIRTIO_CONFIG_S_FEATURES_OK)
		dev_reset(dev);
	dev->features = f;
	dev->features_set = true;
	ret = dev_program_features(dev);
	if (ret) {
		vu_warn(dev, "device refused features %#llx: %s",
			(unsigned long long)f, strerror(-ret));
		return ret;
	}
	/* vhost-user.rst: without PROTOCOL_FEATURES rings start enabled. */
	if (!(f & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES)))
		for (u32 i = 0; i < dev->nvrings; i++)
			dev->vrings[i].enabled = true;
	for (u32 i = 0; i < dev->nvrings; i++)
		dev->vrings[i].dirty = true;
	if (was_iommu != is_iommu(dev) || !dev->mapped) {
		ret = vhost_user_mem_commit(dev);
		if (ret)
			return ret;
	}
	return vhost_user_dev_commit(dev);
}

static int vu_set_owner(struct vhost_user_dev *dev,
			struct vhost_user_msg *msg, int *fds)
{
	if (dev->owner) {
		vu_warn(dev, "SET_OWNER twice");
		return -EBUSY;
	}
	dev->owner = true;
	return 0;
}

static int vu_reset_owner(struct vhost_user_dev *dev,
			  struct vhost_user_msg *msg, int *fds)
{
	/* Deprecated; QEMU sends it as a device reset. Ownership stays. */
	dev_frontend_reset(dev);
	return 0;
}

static int vu_set_mem_table(struct vhost_user_dev *dev,
			    struct vhost_user_msg *msg, int *fds)
{
	const struct vhost_user_mem_table *mt = &msg->payload.mem;
	struct vhost_user_region old[VHOST_USER_SERVER_MEM_SLOTS];
	unsigned int nold = dev->nregions, nfds = 0;
	int ret = 0;

	while (nfds < VHOST_USER_MAX_FDS && fds[nfds] >= 0)
		nfds++;
	if (mt->nregions == 0 || mt->nregions > VHOST_USER_MEM_TABLE_MAX ||
	    msg->hdr.size != VHOST_USER_MEM_TABLE_HDR_SIZE +
			     mt->nregions * sizeof(struct vhost_user_mem_region) ||
	    nfds != mt->nregions || mt->nregions > dev->max_regions) {
		vu_warn(dev, "SET_MEM_TABLE: %u regions, %u bytes, %u fds",
			mt->nregions, msg->hdr.size, nfds);
		return -EINVAL;
	}
	/* Build the new table aside; the old one stays until it worked. */
	memcpy(old, dev->regions, nold * sizeof(old[0]));
	dev->nregions = 0;
	for (u32 i = 0; i < mt->nregions; i++) {
		ret = vhost_user_mem_add(dev, &mt->regions[i], fds[i]);
		fds[i] = -1;
		if (ret) {
			vu_warn(dev, "SET_MEM_TABLE: region %u (gpa %#llx size %#llx): %s",
				i, (unsigned long long)mt->regions[i].guest_phys_addr,
				(unsigned long long)mt->regions[i].memory_size,
				strerror(-ret));
			goto err_restore;
		}
	}
	/* IOTLB entries pointing into the old table go with it. */
	if (nold)
		iotlb_reset(dev->iommu_tlb);
	ret = vhost_user_mem_commit(dev);
	if (ret)
		dev_drop_memory(dev);	/* it may still use the old table */
	for (unsigned int i = 0; i < nold; i++)
		munmap(old[i].mmap_base, old[i].mmap_len);
	if (ret)
		return ret;
	return vhost_user_dev_commit(dev);

err_restore:
	for (unsigned int i = 0; i < dev->nregions; i++)
		munmap(dev->regions[i].mmap_base, dev->regions[i].mmap_len);
	memcpy(dev->regions, old, nold * sizeof(old[0]));
	dev->nregions = nold;
	return ret;
}

static int vu_set_vring_num(struct vhost_user_dev *dev,
			    struct vhost_user_msg *msg, int *fds)
{
	struct vhost_user_vring *vr = vring_get(dev, msg->payload.state.index);
	u32 num = msg->payload.state.num;

	if (!vr)
		return -EINVAL;
	/* virtio 1.2 §2.7: split ring sizes are powers of two, <= 32768. */
	if (!num || num > VHOST_USER_VRING_MAX || (num & (num - 1)) ||
	    num > vdpa_get_vq_num_max(dev->vdpa) ||
	    num < vdpa_get_vq_num_min(dev->vdpa)) {
		vu_warn(dev, "ring %u: size %u refused", msg->payload.state.index, num);
		return -EINVAL;
	}
	vr->num = num;
	vr->dirty = true;
	vr->stopped = false;
	return vhost_user_dev_commit(dev);
}

static int vu_set_vring_addr(struct vhost_user_dev *dev,
			     struct vhost_user_msg *msg, int *fds)
{
	const struct vhost_user_vring_addr *a = &msg->payload.addr;
	struct vhost_user_vring *vr = vring_get(dev, a->index);
	struct vhost_user_vring tmp;

	if (!vr)
		return -EINVAL;
	/* virtio 1.2 §2.7: alignments 16 / 2 / 4. Only the log flag exists. */
	if (!IS_ALIGNED(a->desc_user_addr, 16) ||
	    !IS_ALIGNED(a->avail_user_addr, 2) ||
	    !IS_ALIGNED(a->used_user_addr, 4) || (a->flags & ~1u)) {
		vu_warn(dev, "ring %u: misaligned addresses or flags %#x",
			a->index, a->flags);
		return -EINVAL;
	}
	tmp = *vr;
	tmp.desc = a->desc_user_addr;
	tmp.avail = a->avail_user_addr;
	tmp.used = a->used_user_addr;
	if (!tmp.num)
		tmp.num = 1;
	/* With memory known, the whole ring must lie in it (checked now). */
	if (!is_iommu(dev) && dev->nregions && vring_translate(dev, &tmp, false)) {
		vu_warn(dev, "ring %u: addresses outside the memory table", a->index);
		return -EFAULT;
	}
	vr->desc = a->desc_user_addr;
	vr->avail = a->avail_user_addr;
	vr->used = a->used_user_addr;
	vr->has_addr = true;
	vr->dirty = true;
	vr->stopped = false;
	return vhost_user_dev_commit(dev);
}

static int vu_set_vring_base(struct vhost_user_dev *dev,
			     struct vhost_user_msg *msg, int *fds)
{
	struct vhost_user_vring *vr = vring_get(dev, msg->payload.state.index);

	if (!vr)
		return -EINVAL;
	if (msg->payload.state.num > 0xffff && !dev_packed(dev)) {
		vu_warn(dev, "ring %u: base %u out of range",
			msg->payload.state.index, msg->payload.state.num);
		return -EINVAL;
	}
	vr->base = msg->payload.state.num;
	vr->base_dirty = true;
	vr->dirty = true;
	vr->stopped = false;
	return vhost_user_dev_commit(dev);
}

static int vu_get_vring_base(struct vhost_user_dev *dev,
			     struct vhost_user_msg *msg, int *fds)
{
	u32 idx = msg->payload.state.index;
	struct vhost_user_vring *vr = vring_get(dev, idx);

	if (!vr)
		return VHOST_USER_DISCONNECT;	/* the reply is mandatory */
	/* vhost-user.rst: GET_VRING_BASE stops the ring. */
	vring_dev_stop(dev, (u16)idx);
	vr->stopped = true;
	vring_unwatch_kick(dev, vr);
	vdpa_set_vq_kickfd(dev->vdpa, (u16)idx, -1);
	close_fd(&vr->kickfd);
	vr->kick_set = false;
	msg->payload.state.index = idx;
	msg->payload.state.num = vr->base;
	return sizeof(msg->payload.state);
}

/* SET_VRING_KICK/CALL/ERR: the ring and its fd, or -1 with the no-fd bit. */
static struct vhost_user_vring *vring_file(struct vhost_user_dev *dev,
					   struct vhost_user_msg *msg,
					   int *fds, int *fd)
{
	u64 v = msg->payload.u64;
	bool nofd = v & VHOST_USER_VRING_NOFD_MASK;

	if (v & ~(u64)(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK)) {
		vu_warn(dev, "vring fd message %#llx: unknown bits",
			(unsigned long long)v);
		return NULL;
	}
	if (nofd != (fds[0] < 0)) {
		vu_warn(dev, "vring fd message: no-fd bit %d with %s fd",
			nofd, fds[0] < 0 ? "no" : "an");
		return NULL;
	}
	*fd = fds[0];
	return vring_get(dev, v & VHOST_USER_VRING_IDX_MASK);
}

static int vu_set_vring_kick(struct vhost_user_dev *dev,
			     struct vhost_user_msg *msg, int *fds)
{
	int fd;
	struct vhost_user_vring *vr = vring_file(dev, msg, fds, &fd);
	u16 idx;

	if (!vr)
		return -EINVAL;
	idx = (u16)(vr - dev->vrings);
	fds[0] = -1;
	vring_unwatch_kick(dev, vr);
	close_fd(&vr->kickfd);
	vr->kickfd = fd;
	vr->kick_set = true;
	vr->stopped = false;
	if (vr->dev_ready) {
		vring_attach_kick(dev, idx);
		vdpa_kick_vq(dev->vdpa, idx);
		return 0;
	}
	return vhost_user_dev_commit(dev);
}

static int vu_set_vring_call(struct vhost_user_dev *dev,
			     struct vhost_user_msg *msg, int *fds)
{
	int fd;
	struct vhost_user_vring *vr = vring_file(dev, msg, fds, &fd);
	u16 idx;

	if (!vr)
		return -EINVAL;
	idx = (u16)(vr - dev->vrings);
	fds[0] = -1;
	/*
	 * The device's worker reads callfd inside its callback: take the
	 * callback away (that waits out a pass in progress), swap, put back.
	 */
	if (vr->dev_ready)
		vdpa_set_vq_cb(dev->vdpa, idx, NULL);
	close_fd(&vr->callfd);
	vr->callfd = fd;
	if (vr->dev_ready)
		vring_install_cb(dev, idx);
	return 0;
}

static int vu_set_vring_err(struct vhost_user_dev *dev,
			    struct vhost_user_msg *msg, int *fds)
{
	int fd;
	struct vhost_user_vring *vr = vring_file(dev, msg, fds, &fd);

	if (!vr)
		return -EINVAL;
	fds[0] = -1;
	close_fd(&vr->errfd);
	vr->errfd = fd;
	return 0;
}

static u64 offered_protocol_features(struct vhost_user_dev *dev)
{
	u64 f = VHOST_USER_SERVER_PROTOCOL_FEATURES;

	/* Only a device that records requests in flight (blk) offers it. */
	if (vdpa_has_inflight(dev->vdpa))
		f |= 1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD;
	return f;
}

static int vu_get_protocol_features(struct vhost_user_dev *dev,
				    struct vhost_user_msg *msg, int *fds)
{
	msg->payload.u64 = offered_protocol_features(dev);
	return sizeof(u64);
}

static int vu_set_protocol_features(struct vhost_user_dev *dev,
				    struct vhost_user_msg *msg, int *fds)
{
	u64 f = msg->payload.u64;

	if (f & ~offered_protocol_features(dev)) {
		vu_warn(dev, "SET_PROTOCOL_FEATURES %#llx: not offered",
			(unsigned long long)f);
		return -EINVAL;
	}
	dev->protocol_features = f;
	return 0;
}

static int vu_get_queue_num(struct vhost_user_dev *dev,
			    struct vhost_user_msg *msg, int *fds)
{
	u32 n = dev->nvrings;

	/* net counts queue pairs (the control queue is not a pair). */
	if (vdpa_get_device_id(dev->vdpa) == VIRTIO_ID_NET)
		n /= 2;
	msg->payload.u64 = n;
	return sizeof(u64);
}

static int vu_set_vring_enable(struct vhost_user_dev *dev,
			       struct vhost_user_msg *msg, int *fds)
{
	struct vhost_user_vring *vr = vring_get(dev, msg->payload.state.index);

	if (!vr)
		return -EINVAL;
	if (msg->payload.state.num > 1) {
		vu_warn(dev, "SET_VRING_ENABLE %u", msg->payload.state.num);
		return -EINVAL;
	}
	vr->enabled = msg->payload.state.num;
	return vhost_user_dev_commit(dev);
}

static int vu_set_backend_req_fd(struct vhost_user_dev *dev,
				 struct vhost_user_msg *msg, int *fds)
{
	close_fd(&dev->backend_fd);
	dev->backend_fd = fds[0];
	fds[0] = -1;
	return 0;
}

static int iotlb_push(struct vhost_user_dev *dev)
{
	int ret;

	if (dev->iotlb_batch || !is_iommu(dev))
		return 0;
	ret = vhost_user_mem_commit(dev);
	if (ret)
		return ret;
	/* Rings parked on a miss may run now. */
	return vhost_user_dev_commit(dev);
}

/*
 * Whether one IOTLB change may go to the device as it is (one dma_map or
 * dma_unmap: O(log n) in the device's IOTLB) instead of as a whole new
 * table (iotlb_push(): O(n) per message, O(n^2) for a front-end that
 * sends its table one update at a time): the device holds the IOMMU
 * table already and has the incremental ops, and no front-end batch is
 * open (its end pushes the table once).
 */
static bool iotlb_push_one(const struct vhost_user_dev *dev)
{
	return !dev->iotlb_batch && dev->mapped && dev->mapped_iommu &&
	       vdpa_has_dma_map(dev->vdpa);
}

static int vu_iotlb_msg(struct vhost_user_dev *dev,
			struct vhost_user_msg *msg, int *fds)
{
	const struct vhost_user_iotlb *m = &msg->payload.iotlb;
	unsigned int perm;
	void *hva;
	ssize_t del;
	int ret;

	if (!is_iommu(dev)) {
		vu_warn(dev, "IOTLB_MSG without ACCESS_PLATFORM");
		return -EINVAL;
	}
	switch (m->type) {
	case VHOST_USER_IOTLB_UPDATE:
		/* iova and uaddr share alignment: rings stay aligned (mem.c). */
		if (!m->size || m->iova > UINT64_MAX - (m->size - 1) ||
		    !m->perm || (m->perm & ~VHOST_USER_ACCESS_RW) ||
		    ((m->iova ^ m->uaddr) & 15))
			return -EINVAL;
		/* vhost-user.rst: updates lie within the memory table. */
		ret = vhost_user_mem_uva_to_hva(dev, m->uaddr, m->size, &hva);
		if (ret) {
			vu_warn(dev, "IOTLB update %#llx+%#llx: user address %#llx not mapped",
				(unsigned long long)m->iova,
				(unsigned long long)m->size,
				(unsigned long long)m->uaddr);
			return ret;
		}
		perm = (m->perm & VHOST_USER_ACCESS_RO ? IOTLB_PERM_RO : 0) |
		       (m->perm & VHOST_USER_ACCESS_WO ? IOTLB_PERM_WO : 0);
		iotlb_batch_begin(dev->iommu_tlb);
		del = iotlb_del_range(dev->iommu_tlb, m->iova, m->iova + (m->size - 1));
		ret = del < 0 ? (int)del :
		      iotlb_add_range(dev->iommu_tlb, m->iova, m->iova + (m->size - 1),
				      (u64)(uintptr_t)hva, perm);
		iotlb_batch_commit(dev->iommu_tlb);
		if (ret)
			return ret;
		/*
		 * A new mapping is one dma_map. One that replaced another goes
		 * as a whole table: an unmap and a map would let the device
		 * see the range unmapped in between. So does one the device
		 * refused (the whole table puts it back in step).
		 */
		if (!del && iotlb_push_one(dev) &&
		    !vdpa_dma_map(dev->vdpa, 0, m->iova, m->size, hva, perm))
			/* Rings parked on a miss may run now. */
			return vhost_user_dev_commit(dev);
		return iotlb_push(dev);
	case VHOST_USER_IOTLB_INVALIDATE:
		if (!m->size || m->iova > UINT64_MAX - (m->size - 1))
			return -EINVAL;
		del = iotlb_del_range(dev->iommu_tlb, m->iova, m->iova + (m->size - 1));
		if (del < 0)
			return (int)del;
		if (iotlb_push_one(dev) &&
		    (!del || !vdpa_dma_unmap(dev->vdpa, 0, m->iova, m->size)))
			return vhost_user_dev_commit(dev);
		return iotlb_push(dev);
	case VHOST_USER_IOTLB_BATCH_BEGIN:
		dev->iotlb_batch = true;
		return 0;
	case VHOST_USER_IOTLB_BATCH_END:
		dev->iotlb_batch = false;
		return iotlb_push(dev);
	default:
		vu_warn(dev, "IOTLB message type %u", m->type);
		return -EINVAL;
	}
}

static int vu_get_config(struct vhost_user_dev *dev,
			 struct vhost_user_msg *msg, int *fds)
{
	struct vhost_user_config *c = &msg->payload.config;
	size_t cfg_size = vdpa_get_config_size(dev->vdpa);
	u32 n;

	if (c->size > VHOST_USER_CONFIG_MAX ||
	    msg->hdr.size != VHOST_USER_CONFIG_HDR_SIZE + c->size ||
	    c->offset > cfg_size) {
		vu_warn(dev, "GET_CONFIG offset %u size %u (payload %u)",
			c->offset, c->size, msg->hdr.size);
		return 0;	/* empty reply: the front-end sees the failure */
	}
	/* Bytes past the device's config space read as zero. */
	n = (u32)MIN((size_t)c->size, cfg_size - c->offset);
	memset(c->region, 0, c->size);
	if (n && vdpa_get_config(dev->vdpa, c->offset, c->region, n))
		return 0;
	return (int)(VHOST_USER_CONFIG_HDR_SIZE + c->size);
}

static int vu_set_config(struct vhost_user_dev *dev,
			 struct vhost_user_msg *msg, int *fds)
{
	const struct vhost_user_config *c = &msg->payload.config;

	if (c->size > VHOST_USER_CONFIG_MAX || !c->size ||
	    msg->hdr.size != VHOST_USER_CONFIG_HDR_SIZE + c->size || c->flags > 1) {
		vu_warn(dev, "SET_CONFIG offset %u size %u flags %#x",
			c->offset, c->size, c->flags);
		return -EINVAL;
	}
	return vdpa_set_config(dev->vdpa, c->offset, c->region, c->size);
}

static int vu_reset_device(struct vhost_user_dev *dev,
			   struct vhost_user_msg *msg, int *fds)
{
	dev_frontend_reset(dev);
	return 0;
}

static int vu_get_max_mem_slots(struct vhost_user_dev *dev,
				struct vhost_user_msg *msg, int *fds)
{
	msg->payload.u64 = dev->max_regions;
	return sizeof(u64);
}

static int vu_add_mem_reg(struct vhost_user_dev *dev,
			  struct vhost_user_msg *msg, int *fds)
{
	const struct vhost_user_mem_region *r = &msg->payload.memreg.region;
	int ret;

	ret = vhost_user_mem_ref(dev, r, fds[0]);
	if (ret == 1) {
		fds[0] = -1;
		return 0;	/* mapped already: nothing changes */
	}
	if (ret == 0)
		ret = vhost_user_mem_add(dev, r, fds[0]);
	fds[0] = -1;
	if (ret) {
		vu_warn(dev, "ADD_MEM_REG gpa %#llx size %#llx uva %#llx: %s",
			(unsigned long long)r->guest_phys_addr,
			(unsigned long long)r->memory_size,
			(unsigned long long)r->userspace_addr, strerror(-ret));
		return ret;
	}
	ret = vhost_user_mem_commit(dev);
	if (ret)
		return ret;
	return vhost_user_dev_commit(dev);
}

static int vu_rem_mem_reg(struct vhost_user_dev *dev,
			  struct vhost_user_msg *msg, int *fds)
{
	const struct vhost_user_mem_region *r = &msg->payload.memreg.region;
	int ret = vhost_user_mem_remove(dev, r);

	if (ret) {
		vu_warn(dev, "REM_MEM_REG gpa %#llx size %#llx: %s",
			(unsigned long long)r->guest_phys_addr,
			(unsigned long long)r->memory_size, strerror(-ret));
		return ret;
	}
	return vhost_user_dev_commit(dev);
}

static int vu_set_status(struct vhost_user_dev *dev,
			 struct vhost_user_msg *msg, int *fds)
{
	u64 s = msg->payload.u64;

	if (s > 0xff || (s & VIRTIO_CONFIG_S_NEEDS_RESET)) {
		vu_warn(dev, "SET_STATUS %#llx", (unsigned long long)s);
		return -EINVAL;
	}
	if (s == 0) {
		dev_frontend_reset(dev);
		return 0;
	}
	/* FEATURES_OK only sticks if the device kept it (virtio 1.2 §3.1.1). */
	if (!dev->features_ok)
		s &= ~(u64)VIRTIO_CONFIG_S_FEATURES_OK;
	dev->status = (u8)s;
	if (s & VIRTIO_CONFIG_S_DRIVER_OK)
		return vhost_user_dev_commit(dev);
	return 0;
}

static int vu_get_status(struct vhost_user_dev *dev,
			 struct vhost_user_msg *msg, int *fds)
{
	u8 s = dev->status;

	if (!dev->features_ok)
		s &= (u8)~VIRTIO_CONFIG_S_FEATURES_OK;
	if (vdpa_needs_reset(dev->vdpa))
		s |= VIRTIO_CONFIG_S_NEEDS_RESET;
	msg->payload.u64 = s;
	return sizeof(u64);
}

/* ---- the table ---------------------------------------------------------- */

/**
 * struct vhost_user_handler - what a request looks like and who handles it
 * @name: for logs
 * @fn: the handler; fds it keeps are set to -1 in the array
 * @min_size: smallest payload
 * @max_size: largest payload (== @min_size: exact)
 * @min_fds: fewest fds
 * @max_fds: most fds
 * @owner: needs SET_OWNER first
 * @reply: always answers; @fn returns the reply payload size
 */
struct vhost_user_handler {
	const char *name;
	int (*fn)(struct vhost_user_dev *dev, struct vhost_user_msg *msg,
		  int *fds);
	u16 min_size;
	u16 max_size;
	u8 min_fds;
	u8 max_fds;
	bool owner;
	bool reply;
};

#define U64		sizeof(u64)
#define STATE		sizeof(struct vhost_user_vring_state)
#define MEMREG		sizeof(struct vhost_user_mem_reg)
/* The inflight description without and with its tail padding. */
#define INFLIGHT_MIN	(offsetof(struct vhost_user_inflight, queue_size) + sizeof(u16))
#define INFLIGHT	sizeof(struct vhost_user_inflight)

/*	request			handler			size min, max				fds	owner	reply */
#define VHOST_USER_HANDLERS(X)								\
	X(GET_FEATURES,		vu_get_features,	0, U64,				0, 0,	false,	true)	\
	X(SET_FEATURES,		vu_set_features,	U64, U64,			0, 0,	true,	false)	\
	X(SET_OWNER,		vu_set_owner,		0, U64,				0, 0,	false,	false)	\
	X(RESET_OWNER,		vu_reset_owner,		0, U64,				0, 0,	true,	false)	\
	X(SET_MEM_TABLE,	vu_set_mem_table,	VHOST_USER_MEM_TABLE_HDR_SIZE,		\
				sizeof(struct vhost_user_mem_table),	1, VHOST_USER_MAX_FDS, true, false)	\
	X(SET_VRING_NUM,	vu_set_vring_num,	STATE, STATE,			0, 0,	true,	false)	\
	X(SET_VRING_ADDR,	vu_set_vring_addr,	sizeof(struct vhost_user_vring_addr),	\
				sizeof(struct vhost_user_vring_addr),	0, 0,	true,	false)	\
	X(SET_VRING_BASE,	vu_set_vring_base,	STATE, STATE,			0, 0,	true,	false)	\
	X(GET_VRING_BASE,	vu_get_vring_base,	STATE, STATE,			0, 0,	true,	true)	\
	X(SET_VRING_KICK,	vu_set_vring_kick,	U64, U64,			0, 1,	true,	false)	\
	X(SET_VRING_CALL,	vu_set_vring_call,	U64, U64,			0, 1,	false,	false)	\
	X(SET_VRING_ERR,	vu_set_vring_err,	U64, U64,			0, 1,	false,	false)	\
	X(GET_PROTOCOL_FEATURES, vu_get_protocol_features, 0, U64,			0, 0,	false,	true)	\
	X(SET_PROTOCOL_FEATURES, vu_set_protocol_features, U64, U64,			0, 0,	false,	false)	\
	X(GET_QUEUE_NUM,	vu_get_queue_num,	0, U64,				0, 0,	false,	true)	\
	X(SET_VRING_ENABLE,	vu_set_vring_enable,	STATE, STATE,			0, 0,	true,	false)	\
	X(SET_BACKEND_REQ_FD,	vu_set_backend_req_fd,	0, U64,				1, 1,	false,	false)	\
	X(IOTLB_MSG,		vu_iotlb_msg,		offsetof(struct vhost_user_iotlb, type) + 1,	\
				sizeof(struct vhost_user_iotlb),	0, 0,	true,	false)	\
	X(GET_CONFIG,		vu_get_config,		VHOST_USER_CONFIG_HDR_SIZE,		\
				sizeof(struct vhost_user_config),	0, 0,	false,	true)	\
	X(SET_CONFIG,		vu_set_config,		VHOST_USER_CONFIG_HDR_SIZE,		\
				sizeof(struct vhost_user_config),	0, 0,	true,	false)	\
	X(GET_INFLIGHT_FD,	vhost_user_get_inflight_fd, INFLIGHT_MIN, INFLIGHT,	0, 0,	true,	true)	\
	X(SET_INFLIGHT_FD,	vhost_user_set_inflight_fd, INFLIGHT_MIN, INFLIGHT,	1, 1,	true,	false)	\
	X(RESET_DEVICE,		vu_reset_device,	0, U64,				0, 0,	true,	false)	\
	X(GET_MAX_MEM_SLOTS,	vu_get_max_mem_slots,	0, U64,				0, 0,	false,	true)	\
	X(ADD_MEM_REG,		vu_add_mem_reg,		MEMREG, MEMREG,			1, 1,	true,	false)	\
	X(REM_MEM_REG,		vu_rem_mem_reg,		MEMREG, MEMREG,			0, 1,	true,	false)	\
	X(SET_STATUS,		vu_set_status,		U64, U64,			0, 0,	true,	false)	\
	X(GET_STATUS,		vu_get_status,		0, U64,				0, 0,	false,	true)

#define VHOST_USER_HANDLER_ENTRY(req, handler, smin, smax, fmin, fmax, own, rep) \
	[VHOST_USER_##req] = { .name = #req, .fn = handler, .min_size = smin,	\
			       .max_size = smax, .min_fds = fmin, .max_fds = fmax, \
			       .owner = own, .reply = rep },

static const struct vhost_user_handler vhost_user_handlers[VHOST_USER_REQUEST_MAX] = {
	VHOST_USER_HANDLERS(VHOST_USER_HANDLER_ENTRY)
};

_Static_assert(sizeof(struct vhost_user_config) <= UINT16_MAX &&
	       sizeof(struct vhost_user_mem_table) <= UINT16_MAX,
	       "payload sizes fit the table's u16");

static const char *request_name(u32 req)
{
	if (req < VHOST_USER_REQUEST_MAX && vhost_user_handlers[req].name)
		return vhost_user_handlers[req].name;
	return "unknown";
}

int vhost_user_handle_msg(struct vhost_user_dev *dev,
			  struct vhost_user_msg *msg, int *fds,
			  unsigned int nfds)
{
	const struct vhost_user_handler *h = NULL;
	int fdv[VHOST_USER_MAX_FDS];
	u32 req = msg->hdr.request, size = msg->hdr.size;
	bool need_reply = msg->hdr.flags & VHOST_USER_NEED_REPLY_MASK;
	int ret;

	/* Own copy, -1 padded: handlers look at fdv[0..max_fds). */
	for (unsigned int i = 0; i < VHOST_USER_MAX_FDS; i++)
		fdv[i] = i < nfds ? fds[i] : -1;
	for (unsigned int i = VHOST_USER_MAX_FDS; i < nfds; i++)
		close_fd(&fds[i]);
	if (nfds > VHOST_USER_MAX_FDS)
		nfds = VHOST_USER_MAX_FDS;
	dev->msgs++;

	if ((msg->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    (msg->hdr.flags & VHOST_USER_REPLY_MASK) ||
	    size > VHOST_USER_PAYLOAD_MAX) {
		vu_warn(dev, "bad header: request %u flags %#x size %u",
			req, msg->hdr.flags, size);
		ret = VHOST_USER_DISCONNECT;
		goto out_close;
	}
	if (req < VHOST_USER_REQUEST_MAX && vhost_user_handlers[req].fn)
		h = &vhost_user_handlers[req];
	if (!h) {
		vu_warn(dev, "request %u not supported", req);
		ret = -EOPNOTSUPP;
		goto out_ack;
	}
	if (size < h->min_size || size > h->max_size) {
		vu_warn(dev, "%s: payload of %u bytes (want %u..%u)", h->name,
			size, h->min_size, h->max_size);
		ret = VHOST_USER_DISCONNECT;
		goto out_close;
	}
	/* Zero what the peer did not send: handlers read whole structs. */
	memset((u8 *)&msg->payload + size, 0, VHOST_USER_PAYLOAD_MAX - size);
	if (nfds < h->min_fds || nfds > h->max_fds) {
		vu_warn(dev, "%s: %u fds (want %u..%u)", h->name, nfds,
			h->min_fds, h->max_fds);
		ret = h->reply ? VHOST_USER_DISCONNECT : -EINVAL;
		goto out_ack;
	}
	if (h->owner && !dev->owner) {
		vu_warn(dev, "%s before SET_OWNER", h->name);
		ret = h->reply ? VHOST_USER_DISCONNECT : -EPERM;
		goto out_ack;
	}
	pr_debug("%s: %s size %u fds %u (%#llx)", dev->name, h->name, size, nfds,
		 (unsigned long long)msg->payload.u64);

	ret = h->fn(dev, msg, fdv);
	if (h->reply) {
		if (ret >= 0)
			ret = send_reply(dev, msg, (u32)ret) ? VHOST_USER_DISCONNECT : 0;
		goto out_close;
	}

out_ack:
	if (ret == VHOST_USER_DISCONNECT)
		goto out_close;
	if (need_reply) {
		if (send_ack(dev, req, ret))
			ret = VHOST_USER_DISCONNECT;
	}
	if (ret != VHOST_USER_DISCONNECT)
		ret = 0;
out_close:
	for (unsigned int i = 0; i < VHOST_USER_MAX_FDS; i++)
		close_fd(&fdv[i]);
	if (ret == VHOST_USER_DISCONNECT)
		vu_warn(dev, "%s: disconnecting the front-end", request_name(req));
	return ret;
}

/* ---- lifecycle ---------------------------------------------------------- */

static void vring_init(struct vhost_user_dev *dev, struct vhost_user_vring *vr)
{
	memset(vr, 0, sizeof(*vr));
	vr->dev = dev;
	vr->kickfd = vr->callfd = vr->errfd = -1;
}

int vhost_user_dev_init(struct vhost_user_dev *dev, struct vdpa_device *vdpa,
			const struct vhost_user_server_opts *opts)
{
	int ret;

	dev->vdpa = vdpa;
	dev->connfd = dev->backend_fd = dev->notify_fd = dev->loop_epfd = -1;
	dev->reply_fd = -1;
	dev->stop_fd = -1;
	dev->rl = (struct ratelimit)RATELIMIT_INIT;
	snprintf(dev->name, sizeof(dev->name), "vhost-user %s", vdpa->name);
	if (opts)
		dev->opts = *opts;
	dev->max_regions = dev->opts.max_mem_slots;
	if (!dev->max_regions || dev->max_regions > VHOST_USER_SERVER_MEM_SLOTS)
		dev->max_regions = VHOST_USER_SERVER_MEM_SLOTS;
	if (!vdpa_has_set_map(vdpa) && !vdpa_has_dma_map(vdpa))
		return -EINVAL;
	dev->nvrings = vdpa->nvqs;
	dev->vrings = calloc(dev->nvrings, sizeof(*dev->vrings));
	dev->regions = calloc(dev->max_regions, sizeof(*dev->regions));
	if (!dev->vrings || !dev->regions)
		return -ENOMEM;
	for (u32 i = 0; i < dev->nvrings; i++)
		vring_init(dev, &dev->vrings[i]);
	ret = iotlb_create(0, &dev->gpa_tlb);
	if (!ret)
		ret = iotlb_create(65536, &dev->iommu_tlb);
	if (ret)
		return ret;
	return vdpa_reset(vdpa);
}

void vhost_user_dev_disconnect(struct vhost_user_dev *dev)
{
	dev_reset(dev);
	vhost_user_mem_clear(dev);
	vhost_user_inflight_clear(dev);
	for (u32 i = 0; i < dev->nvrings; i++) {
		struct vhost_user_vring *vr = &dev->vrings[i];

		close_fd(&vr->kickfd);
		close_fd(&vr->callfd);
		close_fd(&vr->errfd);
		vring_init(dev, vr);
	}
	close_fd(&dev->backend_fd);
	dev->owner = false;
	dev->features = 0;
	dev->features_set = false;
	dev->features_ok = false;
	dev->protocol_features = 0;
	dev->status = 0;
	dev->iotlb_batch = false;
	dev->msgs = 0;
}

void vhost_user_dev_fini(struct vhost_user_dev *dev)
{
	if (dev->vrings && dev->regions && dev->gpa_tlb && dev->iommu_tlb)
		vhost_user_dev_disconnect(dev);
	iotlb_destroy(dev->gpa_tlb);
	iotlb_destroy(dev->iommu_tlb);
	free(dev->regions);
	free(dev->vrings);
	dev->gpa_tlb = dev->iommu_tlb = NULL;
	dev->regions = NULL;
	dev->vrings = NULL;
}
