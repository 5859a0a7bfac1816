// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-net (virtio 1.2 §5.1) over a TAP interface: one queue pair, no
 * control queue.
 *
 * The TAP is opened with IFF_VNET_HDR and a 12-byte vnet header, which is
 * exactly struct virtio_net_hdr_v1 (§5.1.6), so transmit chains go to the
 * TAP with one writev() straight from guest memory. Receive reads a frame
 * into a bounce buffer first: that is the only way to know its length
 * before choosing guest buffers, so that a frame that does not fit is
 * dropped and counted instead of delivered truncated. With
 * VIRTIO_NET_F_MRG_RXBUF a frame spreads over several chains and
 * num_buffers says how many.
 *
 * Offloads follow negotiation: the TAP may hand us partially checksummed
 * or GSO frames (TUNSETOFFLOAD) only for the GUEST_* features the driver
 * accepted, re-applied whenever the negotiated set changes and cleared on
 * reset. The HOST_* features (guest transmit) need nothing from the TAP:
 * it accepts any valid vnet header.
 *
 * The TAP fd sits in the worker's epoll set, edge-triggered; a pass reads
 * until the TAP is empty, the guest has no buffers (the frame waits in the
 * bounce buffer for the kick that brings some), or the budget runs out
 * (another pass at once).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/vdpa-dev.h>

#include "devices.h"
#include "swdev/swdev.h"

#define TAP_RXQ			0
#define TAP_TXQ			1
#define TAP_HDR_LEN		12	/* struct virtio_net_hdr_v1 */
#define TAP_ETH_HLEN		14
/* Largest frame: a 64 KiB GSO super-frame plus Ethernet and VLAN headers. */
#define TAP_FRAME_MAX		(65535 + TAP_ETH_HLEN + 4)
#define TAP_BUF_SIZE		(TAP_HDR_LEN + TAP_FRAME_MAX)
/* Most receive chains one frame may use with mergeable buffers. */
#define TAP_MRG_MAX		256
#define TAP_CONFIG_SIZE		offsetof(struct virtio_net_config, speed)

_Static_assert(sizeof(struct virtio_net_hdr_v1) == TAP_HDR_LEN,
	       "virtio_net_hdr_v1 is the 12-byte vnet header");

/**
 * struct vdpa_tap - the device (swdev.lock for the mutable parts)
 * @sw: software-device core (first: freed through it)
 * @fd: the TAP queue
 * @ifname: interface name
 * @mac: the MAC address offered in config space
 * @mtu: MTU offered (VIRTIO_NET_F_MTU), 0 when not given
 * @offloads: TUN_F_* currently set on @fd
 * @applied_features: negotiated features @offloads was computed for
 * @buf: bounce buffer for receive: vnet header + frame
 * @pending: bytes of a received frame waiting in @buf for guest buffers
 * @hdr_wiov: the first chain of a mergeable frame (num_buffers lives there)
 * @hdr_store: inline storage of @hdr_wiov
 * @elems: used entries of one mergeable frame
 * @rl: rate limit of TAP errors
 */
struct vdpa_tap {
	struct swdev sw;
	int fd;
	char ifname[IFNAMSIZ];
	u8 mac[6];
	u16 mtu;
	unsigned int offloads;
	u64 applied_features;
	u8 *buf;
	size_t pending;
	struct vringh_iov hdr_wiov;
	struct iovec hdr_store[SWDEV_IOV_INLINE];
	struct vringh_used_elem elems[TAP_MRG_MAX];
	struct ratelimit rl;
};

static struct vdpa_tap *to_tap(struct swdev *sw)
{
	return container_of(sw, struct vdpa_tap, sw);
}

static bool tap_has(const struct vdpa_tap *tap, unsigned int bit)
{
	return swdev_has_feature(&tap->sw, bit);
}

static void tap_set_offloads(struct vdpa_tap *tap, unsigned int offloads)
{
	if (offloads == tap->offloads)
		return;
	if (ioctl(tap->fd, TUNSETOFFLOAD, offloads) < 0) {
		if (ratelimit_allow(&tap->rl))
			pr_warn("%s: TUNSETOFFLOAD 0x%x on %s: %s",
				tap->sw.vdpa.name, offloads, tap->ifname,
				strerror(errno));
		return;
	}
	tap->offloads = offloads;
}

/* What the TAP may give us: only what the guest can take (§5.1.6.4). */
static void tap_apply_features(struct vdpa_tap *tap)
{
	unsigned int off = 0;

	if (tap->applied_features == tap->sw.features)
		return;
	tap->applied_features = tap->sw.features;
	if (tap_has(tap, VIRTIO_NET_F_GUEST_CSUM)) {
		off |= TUN_F_CSUM;
		if (tap_has(tap, VIRTIO_NET_F_GUEST_TSO4))
			off |= TUN_F_TSO4;
		if (tap_has(tap, VIRTIO_NET_F_GUEST_TSO6))
			off |= TUN_F_TSO6;
		if ((off & (TUN_F_TSO4 | TUN_F_TSO6)) &&
		    tap_has(tap, VIRTIO_NET_F_GUEST_ECN))
			off |= TUN_F_TSO_ECN;
	}
	tap_set_offloads(tap, off);
}

/* ---- receive: TAP -> guest ------------------------------------------------ */

/*
 * Put the pending frame into one chain. Return: 0 delivered, -EAGAIN no
 * buffer, -ENOBUFS dropped (counted), other <0 the ring broke.
 */
static int tap_rx_single(struct vdpa_tap *tap, struct swdev_vq *rxq)
{
	struct virtio_net_hdr_v1 *hdr = (struct virtio_net_hdr_v1 *)tap->buf;
	u16 head;
	int ret;

	ret = vringh_getdesc(&rxq->vring, NULL, &rxq->wiov, &head);
	if (ret <= 0)
		return ret ? ret : -EAGAIN;
	if (vringh_iov_length(&rxq->wiov) < tap->pending) {
		/* §5.1.6.3.1: buffers too small for this frame. */
		vringh_abandon(&rxq->vring, 1);
		return -ENOBUFS;
	}
	hdr->num_buffers = cpu_to_le16(1);	/* §5.1.6.4 */
	vringh_iov_push(&rxq->wiov, tap->buf, tap->pending);
	return vringh_complete(&rxq->vring, head, (u32)tap->pending);
}

static int tap_rx_mergeable(struct vdpa_tap *tap, struct swdev_vq *rxq)
{
	unsigned int n = 0, limit = MIN((u32)TAP_MRG_MAX, rxq->num);
	size_t off = 0, len = tap->pending;
	le16 nbufs;
	int ret;

	while (off < len) {
		struct vringh_iov *wiov = n ? &rxq->wiov : &tap->hdr_wiov;
		size_t cap, chunk;
		u16 head;

		if (n == limit) {
			vringh_abandon(&rxq->vring, n);
			return -ENOBUFS;
		}
		ret = vringh_getdesc(&rxq->vring, NULL, wiov, &head);
		if (ret <= 0) {
			if (ret < 0)
				return ret;
			vringh_abandon(&rxq->vring, n);
			return -EAGAIN;
		}
		cap = vringh_iov_length(wiov);
		if (n == 0 && cap < TAP_HDR_LEN) {
			/* §5.1.6.3.1: every buffer holds at least a header. */
			vringh_abandon(&rxq->vring, 1);
			return -ENOBUFS;
		}
		chunk = MIN(cap, len - off);
		vringh_iov_push(wiov, tap->buf + off, chunk);
		tap->elems[n].id = head;
		tap->elems[n].len = (u32)chunk;
		n++;
		off += chunk;
	}
	/* The count is known only now: patch it into the first buffer. */
	nbufs = cpu_to_le16((u16)n);
	tap->hdr_wiov.i = 0;
	tap->hdr_wiov.off = 0;
	vringh_iov_advance(&tap->hdr_wiov, offsetof(struct virtio_net_hdr_v1,
						    num_buffers));
	vringh_iov_push(&tap->hdr_wiov, &nbufs, sizeof(nbufs));
	return vringh_complete_multi(&rxq->vring, tap->elems, n);
}

static bool tap_rx(struct vdpa_tap *tap)
{
	struct swdev *sw = &tap->sw;
	struct swdev_vq *rxq = &sw->vqs[TAP_RXQ];
	unsigned int budget = SWDEV_BUDGET;
	bool more = false;
	int ret;

	if (!rxq->started)
		return false;
	while (!vdpa_needs_reset(&sw->vdpa)) {
		if (!budget--) {
			more = true;
			break;
		}
		if (!tap->pending) {
			ssize_t n = read(tap->fd, tap->buf, TAP_BUF_SIZE);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && ratelimit_allow(&tap->rl))
					pr_warn("%s: read from %s: %s", sw->vdpa.name,
						tap->ifname, strerror(errno));
				break;
			}
			if (n < TAP_HDR_LEN + TAP_ETH_HLEN) {
				rxq->stats.drops++;
				continue;
			}
			tap->pending = (size_t)n;
		}
		if (tap_has(tap, VIRTIO_NET_F_MRG_RXBUF))
			ret = tap_rx_mergeable(tap, rxq);
		else
			ret = tap_rx_single(tap, rxq);
		if (ret == -EAGAIN) {
			/* No buffers: keep the frame; the refill kick wakes us. */
			if (swdev_vq_rearm(sw, rxq))
				continue;
			break;
		}
		if (ret == -ENOBUFS) {
			rxq->stats.drops++;
			tap->pending = 0;
			continue;
		}
		if (ret == -ENOMEM) {
			more = true;
			break;
		}
		if (ret < 0) {
			swdev_vq_error(sw, rxq, ret);
			break;
		}
		rxq->stats.packets++;
		rxq->stats.bytes += tap->pending - TAP_HDR_LEN;
		tap->pending = 0;
	}
	if (!vdpa_needs_reset(&sw->vdpa))
		swdev_vq_notify(sw, rxq);
	return more;
}

/* ---- transmit: guest -> TAP ----------------------------------------------- */

static bool tap_tx(struct vdpa_tap *tap)
{
	struct swdev *sw = &tap->sw;
	struct swdev_vq *txq = &sw->vqs[TAP_TXQ];
	unsigned int budget = SWDEV_BUDGET;
	bool more = false;
	int ret;

	if (!txq->started)
		return false;
	vringh_notify_disable(&txq->vring);
	while (!vdpa_needs_reset(&sw->vdpa)) {
		size_t len;
		ssize_t n;
		u16 head;

		if (!budget--) {
			more = true;
			break;
		}
		ret = vringh_getdesc(&txq->vring, &txq->riov, NULL, &head);
		if (ret == 0) {
			if (swdev_vq_rearm(sw, txq))
				continue;
			break;
		}
		if (ret == -ENOMEM) {
			more = true;
			break;
		}
		if (ret < 0) {
			swdev_vq_error(sw, txq, ret);
			break;
		}
		len = vringh_iov_length(&txq->riov);
		if (len < TAP_HDR_LEN + TAP_ETH_HLEN || len > TAP_BUF_SIZE) {
			txq->stats.errors++;
		} else {
			do {
				n = writev(tap->fd, txq->riov.iov, (int)txq->riov.used);
			} while (n < 0 && errno == EINTR);
			if (n < 0) {
				/* Down interface, bad vnet header, full queue. */
				txq->stats.drops++;
			} else {
				txq->stats.packets++;
				txq->stats.bytes += len - TAP_HDR_LEN;
			}
		}
		ret = vringh_complete(&txq->vring, head, 0);
		if (ret) {
			swdev_vq_error(sw, txq, ret);
			break;
		}
	}
	if (!vdpa_needs_reset(&sw->vdpa))
		swdev_vq_notify(sw, txq);
	return more;
}

/* ---- simulator hooks ------------------------------------------------------ */

static bool tap_work(struct swdev *sw)
{
	struct vdpa_tap *tap = to_tap(sw);
	bool more;

	tap_apply_features(tap);
	more = tap_tx(tap);
	return tap_rx(tap) || more;
}

static void tap_reset(struct swdev *sw)
{
	struct vdpa_tap *tap = to_tap(sw);

	tap->pending = 0;
	tap->applied_features = 0;
	if (tap->fd >= 0)
		tap_set_offloads(tap, 0);
}

static void tap_update_config(struct swdev *sw)
{
	struct vdpa_tap *tap = to_tap(sw);
	struct virtio_net_config cfg = {
		.status = cpu_to_le16(VIRTIO_NET_S_LINK_UP),
		.max_virtqueue_pairs = cpu_to_le16(1),
		.mtu = cpu_to_le16(tap->mtu),
	};

	memcpy(cfg.mac, tap->mac, sizeof(cfg.mac));
	memcpy(sw->config, &cfg, TAP_CONFIG_SIZE);
}

static void tap_free(struct swdev *sw)
{
	struct vdpa_tap *tap = to_tap(sw);

	vringh_iov_cleanup(&tap->hdr_wiov);
	if (tap->fd >= 0)
		close(tap->fd);
	free(tap->buf);
	free(tap);
}

static int tap_open(struct vdpa_tap *tap, const char *ifname)
{
	struct ifreq ifr = { 0 };
	unsigned int features = 0;
	int hdr_len = TAP_HDR_LEN;

	if (!ifname[0] || strlen(ifname) >= IFNAMSIZ || strchr(ifname, '/')) {
		pr_err("tap: bad interface name '%.32s': 1..%d characters, no '/'",
		       ifname, IFNAMSIZ - 1);
		return -EINVAL;
	}
	snprintf(tap->ifname, sizeof(tap->ifname), "%s", ifname);
	tap->fd = xopen("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
	if (tap->fd < 0) {
		int err = tap->fd;

		pr_err("tap: cannot open /dev/net/tun: %s", strerror(-err));
		return err;
	}
	if (ioctl(tap->fd, TUNGETFEATURES, &features) < 0 ||
	    !(features & IFF_VNET_HDR)) {
		pr_err("tap: the kernel's TAP has no IFF_VNET_HDR");
		return -EOPNOTSUPP;
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, tap->ifname, strlen(tap->ifname));
	if (ioctl(tap->fd, TUNSETIFF, &ifr) < 0) {
		int err = -errno;

		pr_err("tap: cannot attach to %s: %s (needs CAP_NET_ADMIN, or a TAP owned by this user)",
		       tap->ifname, strerror(errno));
		return err;
	}
	if (ioctl(tap->fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
		int err = -errno;

		pr_err("tap: %s: TUNSETVNETHDRSZ %d: %s", tap->ifname, hdr_len,
		       strerror(errno));
		return err;
	}
	/* Nothing offloaded until the guest negotiates it. */
	if (ioctl(tap->fd, TUNSETOFFLOAD, 0) < 0)
		return -errno;
	return 0;
}

/** struct tap_args - creation attributes of a TAP device */
struct tap_args {
	struct vdpa_dev_args common;
	char path[IFNAMSIZ];	/* the interface name */
	u8 mac[6];		/* all zero: generated */
	u16 mtu;		/* 0: not offered */
};

static const struct vdpa_attr tap_attrs[] = {
	VDPA_ATTR_STRING(struct tap_args, path, "path", "<interface name, 1..15 characters>",
			 "the TAP interface (created if missing)"),
	VDPA_ATTR_MAC(struct tap_args, mac, "mac", "Ethernet address"),
	VDPA_ATTR_UINT(struct tap_args, mtu, "mtu", 68, 65535, "MTU offered"),
};

static int tap_dev_add(struct vdpa_mgmt_dev *mdev, const void *config,
		       struct vdpa_device **out)
{
	const struct tap_args *args = config;
	static const u8 no_mac[6];
	static unsigned int next_mac;
	struct swdev_attr attr = {
		.device_id = VIRTIO_ID_NET,
		.nvqs = 2,
		.ngroups = 1,
		.nas = 1,
		.config_size = TAP_CONFIG_SIZE,
		.work = tap_work,
		.reset = tap_reset,
		.update_config = tap_update_config,
		.free = tap_free,
	};
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLET,
		.data.u64 = SWDEV_EV_BACKEND,
	};
	struct vdpa_tap *tap;
	int ret;

	if (!args->path[0]) {
		pr_err("tap: needs the interface name: tap,path=IFNAME (CLI: --net tap=IFNAME)");
		return -EINVAL;
	}
	tap = xzalloc(sizeof(*tap));
	if (!tap)
		return -ENOMEM;
	tap->fd = -1;
	tap->rl = (struct ratelimit)RATELIMIT_INIT;
	vringh_iov_init(&tap->hdr_wiov, tap->hdr_store, SWDEV_IOV_INLINE, true);
	if (memcmp(args->mac, no_mac, sizeof(no_mac))) {
		memcpy(tap->mac, args->mac, sizeof(tap->mac));
	} else {
		/* Locally administered, unicast: 02:6b:74:61:xx:xx. */
		unsigned int n = __atomic_fetch_add(&next_mac, 1, __ATOMIC_RELAXED);
		const u8 mac[6] = { 0x02, 0x6b, 0x74, 0x61, (u8)(n >> 8), (u8)n };

		memcpy(tap->mac, mac, sizeof(mac));
	}
	tap->mtu = args->mtu;
	attr.features = SWDEV_FEATURES |
			(1ULL << VIRTIO_NET_F_MAC) |
			(1ULL << VIRTIO_NET_F_STATUS) |
			(1ULL << VIRTIO_NET_F_MRG_RXBUF) |
			(1ULL << VIRTIO_NET_F_CSUM) |
			(1ULL << VIRTIO_NET_F_GUEST_CSUM) |
			(1ULL << VIRTIO_NET_F_GUEST_TSO4) |
			(1ULL << VIRTIO_NET_F_GUEST_TSO6) |
			(1ULL << VIRTIO_NET_F_GUEST_ECN) |
			(1ULL << VIRTIO_NET_F_HOST_TSO4) |
			(1ULL << VIRTIO_NET_F_HOST_TSO6) |
			(1ULL << VIRTIO_NET_F_HOST_ECN) |
			(tap->mtu ? 1ULL << VIRTIO_NET_F_MTU : 0);

	ret = swdev_init(&tap->sw, &attr);
	if (ret)
		goto err_destroy;
	tap->buf = xmalloc(TAP_BUF_SIZE);
	if (!tap->buf) {
		ret = -ENOMEM;
		goto err_destroy;
	}
	ret = tap_open(tap, args->path);
	if (ret)
		goto err_destroy;
	if (epoll_ctl(tap->sw.epfd, EPOLL_CTL_ADD, tap->fd, &ev) < 0) {
		ret = -errno;
		goto err_destroy;
	}
	ret = swdev_register(&tap->sw, args->common.name);
	if (ret)
		goto err_destroy;
	*out = &tap->sw.vdpa;
	return 0;

err_destroy:
	pr_err("vdpa: cannot create tap on '%.32s': %s", args->path,
	       strerror(-ret));
	swdev_destroy(&tap->sw);
	return ret;
}

struct vdpa_mgmt_dev vdpa_tap_mgmt_dev = {
	.type = "tap",
	.description = "virtio-net over a TAP interface (path=IFNAME)",
	.device_id = VIRTIO_ID_NET,
	.attrs = tap_attrs,
	.nattrs = ARRAY_SIZE(tap_attrs),
	.config_size = sizeof(struct tap_args),
	.dev_add = tap_dev_add,
};
