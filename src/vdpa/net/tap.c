// SPDX-License-Identifier: GPL-2.0-only
/*
 * The TAP backend and the "tap" type: virtio-net over a TAP interface.
 * One queue pair and no control queue by default; with max_vqp=N above 1
 * the TAP is opened IFF_MULTI_QUEUE, one fd (a TAP queue) per pair, and
 * the device has a control queue: queue I stays attached to the interface
 * while pair I is in use and is detached (TUNSETQUEUE) otherwise, so the
 * kernel spreads received flows over exactly the pairs the driver uses
 * (VQ_PAIRS_SET, answered only once the queues followed).
 *
 * The TAP is opened with IFF_VNET_HDR and a 12-byte vnet header, which is
 * exactly struct virtio_net_hdr_v1 (§5.1.6), so transmit chains go to the
 * TAP with one writev() straight from guest memory (a failed write: down
 * interface, bad vnet header, full queue, counts a drop). Receive reads a
 * frame into the class's bounce buffer first: that is the only way to know
 * its length before choosing guest buffers, so that a frame that does not
 * fit is dropped and counted instead of delivered truncated (net.c).
 *
 * Offloads follow negotiation: the TAP may hand us partially checksummed
 * or GSO frames (TUNSETOFFLOAD) only for the GUEST_* features the driver
 * accepted, re-applied whenever the negotiated set changes and cleared on
 * reset. The HOST_* features (guest transmit) need nothing from the TAP:
 * it accepts any valid vnet header.
 *
 * Each TAP fd sits in its pair's worker's epoll set, edge-triggered; a pass reads
 * until the TAP is empty, the guest has no buffers (the frame waits in the
 * bounce buffer for the kick that brings some), or the budget runs out
 * (another pass at once).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_ids.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>

#include "../devices.h"
#include "net.h"

/**
 * struct net_tap - a net device on a TAP (worker 0's lock for @offloads
 *	and @applied_features, every lock for @attached)
 * @net: the class part (first)
 * @fd: the TAP queue of each pair, or -1
 * @attached: @fd[i] is attached to the interface (queue 0 always is)
 * @ifname: interface name
 * @offloads: TUN_F_* currently set on the interface (through @fd[0])
 * @applied_features: negotiated features @offloads was computed for
 * @rl: rate limit of TAP errors
 */
struct net_tap {
	struct net_dev net;
	int fd[NET_MAX_VQP];
	bool attached[NET_MAX_VQP];
	char ifname[IFNAMSIZ];
	unsigned int offloads;
	u64 applied_features;
	struct ratelimit rl;
};

static struct net_tap *to_tap(struct net_dev *net)
{
	return container_of(net, struct net_tap, net);
}

static void tap_set_offloads(struct net_tap *tap, unsigned int offloads)
{
	if (offloads == tap->offloads)
		return;
	/* The interface's offloads, whichever queue sets them. */
	if (ioctl(tap->fd[0], TUNSETOFFLOAD, offloads) < 0) {
		if (ratelimit_allow(&tap->rl))
			pr_warn("%s: TUNSETOFFLOAD 0x%x on %s: %s",
				tap->net.sw.vdpa.name, offloads, tap->ifname,
				strerror(errno));
		return;
	}
	tap->offloads = offloads;
}

/* What the TAP may give us: only what the guest can take (§5.1.6.4). */
static void tap_sync(struct net_dev *net)
{
	struct net_tap *tap = to_tap(net);
	struct swdev *sw = &net->sw;
	unsigned int off = 0;

	if (tap->applied_features == sw->features)
		return;
	tap->applied_features = sw->features;
	if (swdev_has_feature(sw, VIRTIO_NET_F_GUEST_CSUM)) {
		off |= TUN_F_CSUM;
		if (swdev_has_feature(sw, VIRTIO_NET_F_GUEST_TSO4))
			off |= TUN_F_TSO4;
		if (swdev_has_feature(sw, VIRTIO_NET_F_GUEST_TSO6))
			off |= TUN_F_TSO6;
		if ((off & (TUN_F_TSO4 | TUN_F_TSO6)) &&
		    swdev_has_feature(sw, VIRTIO_NET_F_GUEST_ECN))
			off |= TUN_F_TSO_ECN;
	}
	tap_set_offloads(tap, off);
}

static void tap_reset(struct net_dev *net)
{
	struct net_tap *tap = to_tap(net);

	tap->applied_features = 0;
	if (tap->fd[0] >= 0)
		tap_set_offloads(tap, 0);
}

/* Attach (@on) or detach TAP queue @i; Return: 0 or -errno. */
static int tap_attach(struct net_tap *tap, u16 i, bool on)
{
	struct ifreq ifr = { .ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };

	if (tap->attached[i] == on)
		return 0;
	if (ioctl(tap->fd[i], TUNSETQUEUE, &ifr) < 0)
		return -errno;
	tap->attached[i] = on;
	return 0;
}

/* Queues 0..pairs-1 attached, the rest detached; on failure none changed. */
static int tap_set_pairs(struct net_dev *net, u16 pairs)
{
	struct net_tap *tap = to_tap(net);
	bool was[NET_MAX_VQP];
	int ret = 0;

	memcpy(was, tap->attached, sizeof(was));
	for (u16 i = 1; i < net->max_vqp && !ret; i++)
		ret = tap_attach(tap, i, i < pairs);
	if (!ret)
		return 0;
	if (ratelimit_allow(&tap->rl))
		pr_warn("%s: %s: cannot use %u queues: %s", net->sw.vdpa.name,
			tap->ifname, pairs, strerror(-ret));
	for (u16 i = 1; i < net->max_vqp; i++)
		tap_attach(tap, i, was[i]);
	return ret;
}

static int tap_transmit(struct net_dev *net, struct swdev_vq *txq, size_t len)
{
	ssize_t n;

	int fd = to_tap(net)->fd[net_pair_index(net, txq)];

	do {
		n = writev(fd, txq->riov.iov, (int)txq->riov.used);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

static ssize_t tap_receive(struct net_dev *net, struct swdev_vq *rxq, u8 *buf,
			   size_t size)
{
	struct net_tap *tap = to_tap(net);
	int fd = tap->fd[net_pair_index(net, rxq)];
	ssize_t n;

	do {
		n = read(fd, buf, size);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN && ratelimit_allow(&tap->rl))
		pr_warn("%s: read from %s: %s", net->sw.vdpa.name, tap->ifname,
			strerror(errno));
	return n < 0 ? -errno : n;
}

/**
 * struct tap_args - creation attributes of a TAP device
 * @net: name, mac (generated: 02:6b:74:61:xx:xx), mtu (0: not offered),
 *	max_vqp and workers (a control queue above one pair); no poll
 * @path: the interface name
 */
struct tap_args {
	struct net_type_args net;
	char path[IFNAMSIZ];
};

/* Open TAP queue @i of the interface, non-blocking, in its worker's epoll set. */
static int tap_open_queue(struct net_tap *tap, u16 i, bool multi)
{
	struct swdev *sw = &tap->net.sw;
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLET,
		.data.u64 = SWDEV_EV_BACKEND,
	};
	struct ifreq ifr = { 0 };
	int hdr_len = NET_HDR_LEN, fd;

	fd = xopen("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
	if (fd < 0) {
		pr_err("tap: cannot open /dev/net/tun: %s", strerror(-fd));
		return fd;
	}
	tap->fd[i] = fd;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
			(multi ? IFF_MULTI_QUEUE : 0);
	memcpy(ifr.ifr_name, tap->ifname, strlen(tap->ifname));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = -errno;

		pr_err("tap: cannot attach %s%s: %s (needs CAP_NET_ADMIN, or a TAP owned by this user%s)",
		       multi ? "a queue to " : "to ", tap->ifname, strerror(errno),
		       multi ? ", made multiqueue" : "");
		return err;
	}
	tap->attached[i] = true;
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
		int err = -errno;

		pr_err("tap: %s: TUNSETVNETHDRSZ %d: %s", tap->ifname, hdr_len,
		       strerror(errno));
		return err;
	}
	if (epoll_ctl(swdev_vq_epfd(sw, &sw->vqs[2 * i]), EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

static int tap_open(struct net_dev *net, const struct net_type_args *args)
{
	const char *ifname = container_of(args, struct tap_args, net)->path;
	struct net_tap *tap = to_tap(net);
	unsigned int features = 0;
	int ret;

	for (u16 i = 0; i < NET_MAX_VQP; i++)
		tap->fd[i] = -1;
	tap->rl = (struct ratelimit)RATELIMIT_INIT;
	if (!ifname[0] || strlen(ifname) >= IFNAMSIZ || strchr(ifname, '/')) {
		pr_err("tap: bad interface name '%.32s': 1..%d characters, no '/'",
		       ifname, IFNAMSIZ - 1);
		return -EINVAL;
	}
	snprintf(tap->ifname, sizeof(tap->ifname), "%s", ifname);
	for (u16 i = 0; i < net->max_vqp; i++) {
		ret = tap_open_queue(tap, i, net->max_vqp > 1);
		if (ret)
			return ret;
		if (i)
			continue;
		if (ioctl(tap->fd[0], TUNGETFEATURES, &features) < 0 ||
		    !(features & IFF_VNET_HDR) ||
		    (net->max_vqp > 1 && !(features & IFF_MULTI_QUEUE))) {
			pr_err("tap: the kernel's TAP has no IFF_VNET_HDR%s",
			       net->max_vqp > 1 ? " or IFF_MULTI_QUEUE" : "");
			return -EOPNOTSUPP;
		}
		/* Nothing offloaded until the guest negotiates it. */
		if (ioctl(tap->fd[0], TUNSETOFFLOAD, 0) < 0)
			return -errno;
	}
	return 0;
}

/* The worker is gone and the epoll fd closed by now. */
static void tap_close(struct net_dev *net)
{
	struct net_tap *tap = to_tap(net);

	for (u16 i = 0; i < NET_MAX_VQP; i++)
		if (tap->fd[i] >= 0)
			close(tap->fd[i]);
}

static const struct net_backend_ops net_tap_ops = {
	.name = "tap",
	.size = sizeof(struct net_tap),
	.features = (1ULL << VIRTIO_NET_F_CSUM) |
		    (1ULL << VIRTIO_NET_F_GUEST_CSUM) |
		    (1ULL << VIRTIO_NET_F_GUEST_TSO4) |
		    (1ULL << VIRTIO_NET_F_GUEST_TSO6) |
		    (1ULL << VIRTIO_NET_F_GUEST_ECN) |
		    (1ULL << VIRTIO_NET_F_HOST_TSO4) |
		    (1ULL << VIRTIO_NET_F_HOST_TSO6) |
		    (1ULL << VIRTIO_NET_F_HOST_ECN),
	.open = tap_open,
	.close = tap_close,
	.sync = tap_sync,
	.reset = tap_reset,
	.set_pairs = tap_set_pairs,
	.seccomp = SECCOMP_THREAD_DEV_TAP,
	.transmit = tap_transmit,
	.receive = tap_receive,
};

static const struct vdpa_attr tap_attrs[] = {
	VDPA_ATTR_STRING(struct tap_args, path, "path", "<interface name, 1..15 characters>",
			 "the TAP interface (created if missing)"),
	VDPA_ATTR_MAC(struct tap_args, net.mac, "mac", "Ethernet address"),
	VDPA_ATTR_UINT(struct tap_args, net.mtu, "mtu", 68, 65535, "MTU offered"),
	NET_ATTRS_MQ(struct tap_args, net),
	NET_ATTRS_LIMIT(struct tap_args, net),
};

static const struct tap_args tap_defaults = {
	.net = { .max_vqp = 1 },
};

static int tap_dev_add(struct vdpa_mgmt_dev *mdev, const void *config,
		       struct vdpa_device **out)
{
	/* Locally administered, unicast: 02:6b:74:61:xx:xx. */
	static struct net_mac_gen mac_gen = { { 0x02, 0x6b, 0x74, 0x61 } };
	const struct tap_args *args = config;
	int ret;

	if (!args->path[0]) {
		pr_err("tap: needs the interface name: tap,path=IFNAME (CLI: --net tap=IFNAME)");
		return -EINVAL;
	}
	/* A control queue only for multiqueue: VQ_PAIRS_SET needs one. */
	ret = net_create(&net_tap_ops, &args->net, &mac_gen,
			 args->net.max_vqp > 1, out);
	if (ret)
		pr_err("vdpa: cannot create tap on '%.32s': %s", args->path,
		       strerror(-ret));
	return ret;
}

/* Every TAP device is opened through the clone device. */
static int tap_files(const void *config,
		     int (*fn)(const char *path, bool write, void *opaque), void *opaque)
{
	return fn("/dev/net/tun", true, opaque);
}

struct vdpa_mgmt_dev vdpa_tap_mgmt_dev = {
	.type = "tap",
	.description = "virtio-net over a TAP interface (path=IFNAME)",
	.device_id = VIRTIO_ID_NET,
	.attrs = tap_attrs,
	.nattrs = ARRAY_SIZE(tap_attrs),
	.config_size = sizeof(struct tap_args),
	.defaults = &tap_defaults,
	.dev_add = tap_dev_add,
	.files = tap_files,
};
