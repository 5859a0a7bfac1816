// SPDX-License-Identifier: GPL-2.0-only
/*
 * The net class: virtio-net (virtio 1.2 §5.1) once, for every backend
 * (net.h), and the "net" type, the simulator whose mode= picks one of the
 * in-process backends (loop, sink, gen, null).
 *
 * Receive: without VIRTIO_NET_F_MRG_RXBUF a frame needs one receive chain
 * big enough for header + frame; with it, as many chains as it takes (at
 * most NET_MRG_MAX, bounded by the ring size), and num_buffers says how
 * many (virtio 1.2 §5.1.6.4); the chains of one frame are published with
 * one used-index update. A frame that cannot fit is dropped and counted in
 * the receive queue's drops, never truncated; so is a frame the receive
 * filter refuses (promisc off: broadcast, multicast with allmulti, and
 * the current MAC pass).
 *
 * No receive buffer: a backend that pushes frames as the driver
 * transmits (loop) drops the frame and counts it in the receive queue's
 * drops (like a NIC whose RX ring is empty: rx_missed), and its transmit
 * chain completes. Holding it on the transmit ring instead would let a
 * driver that stops draining its receive ring (DPDK testpmd txonly) stall
 * its own transmit path, and every later pass would re-read the same
 * chain. A backend the class reads frames from (@receive: TAP) keeps the
 * frame in the bounce buffer instead, re-arms the receive queue's kicks
 * and goes on at the kick that brings buffers.
 *
 * Every queue is drained by swdev_vq_service(): kicks off while it runs,
 * SWDEV_BUDGET chains a pass, completions staged and published
 * SWDEV_BURST (64) at a time with one used-index update, one question per
 * pass whether to interrupt (EVENT_IDX decides), and an empty ring
 * re-arms its kicks with the race check, except in poll mode (poll=on),
 * where the worker calls us in a loop and kicks stay disabled while it
 * spins (see swdev_worker()). Chains complete in the order they were made
 * available (drops complete in place, abandon only rewinds), which is what
 * VIRTIO_F_IN_ORDER promises; the simulator backends offer it, so a driver
 * may use its cheaper in-order paths (DPDK's virtio PMD does).
 *
 * Control queue (types with one: net): group 1, so it can live in its own
 * address space (2 ASIDs); MAC_ADDR_SET, RX promisc/allmulti and MQ
 * VQ_PAIRS_SET, each acked in the chain's device-writable byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ids.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>

#include "../devices.h"
#include "net.h"

/** struct net_config - the config fields offered (virtio 1.2 §5.1.4) */
struct net_config {
	u8 mac[NET_ETH_ALEN];
	le16 status;
	le16 max_virtqueue_pairs;
	le16 mtu;
};

_Static_assert(sizeof(struct net_config) == 12, "net config up to mtu");
_Static_assert(offsetof(struct net_config, mtu) ==
	       offsetof(struct virtio_net_config, mtu), "mtu offset");

static struct swdev_vq *net_cvq(struct net_dev *net)
{
	return &net->sw.vqs[2 * net->max_vqp];
}

/* ---- receive ------------------------------------------------------------ */

static bool net_rx_accept(const struct net_dev *net, const u8 *dst)
{
	static const u8 bcast[NET_ETH_ALEN] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff
	};

	if (net->promisc)
		return true;
	if (!memcmp(dst, bcast, NET_ETH_ALEN))
		return true;
	if (dst[0] & 1)
		return net->allmulti;
	return !memcmp(dst, net->mac, NET_ETH_ALEN);
}

/*
 * The rest of a frame whose first @cap bytes went into the first chain
 * (@head, in @rxq->wiov): more chains into @net->mrg_wiov, then num_buffers
 * patched into the first. Return: as net_rx_deliver_slow().
 */
static int net_rx_merge(struct net_dev *net, struct swdev_vq *rxq, u16 head,
			const u8 *frame, size_t len, size_t cap, bool wait)
{
	unsigned int n = 1, limit = MIN((u32)NET_MRG_MAX, rxq->num);
	struct vringh_iov *first = &rxq->wiov;
	size_t off = cap;
	le16 nbufs;
	int ret;

	vringh_iov_push(first, frame, cap);
	net->mrg_used[0] = (struct vringh_used_elem){ .id = head, .len = (u32)cap };
	while (off < len) {
		size_t chunk;
		u16 h;

		if (n == limit) {
			/* Even a full ring of these buffers cannot hold it. */
			vringh_abandon(&rxq->vring, n - 1);
			rxq->stats.drops++;
			return -ENOBUFS;
		}
		ret = vringh_getdesc(&rxq->vring, NULL, &net->mrg_wiov, &h);
		if (ret == 0) {
			/* Re-armed with every chain taken: a kick brings more. */
			if (wait && swdev_vq_rearm(&net->sw, rxq))
				continue;
			vringh_abandon(&rxq->vring, n - 1);
			return -EAGAIN;
		}
		if (ret < 0) {
			vringh_abandon(&rxq->vring, n - 1);
			if (ret == -ENOMEM)
				return ret;
			swdev_vq_error(&net->sw, rxq, ret);
			return -EIO;
		}
		chunk = MIN(vringh_iov_length(&net->mrg_wiov), len - off);
		vringh_iov_push(&net->mrg_wiov, frame + off, chunk);
		net->mrg_used[n++] = (struct vringh_used_elem){ .id = h, .len = (u32)chunk };
		off += chunk;
	}
	/* Now that the count is known, patch it into the first buffer. */
	nbufs = cpu_to_le16((u16)n);
	first->i = 0;
	first->off = 0;
	vringh_iov_advance(first, offsetof(struct virtio_net_hdr_v1, num_buffers));
	vringh_iov_push(first, &nbufs, sizeof(nbufs));
	if (!swdev_vq_stage_n(&net->sw, rxq, net->mrg_used, n))
		return -EIO;
	rxq->stats.packets++;
	rxq->stats.bytes += len - NET_HDR_LEN;
	return 0;
}

int net_rx_deliver_slow(struct net_dev *net, struct swdev_vq *rxq, u16 head,
			u8 *frame, size_t len, bool wait)
{
	size_t cap = vringh_iov_length(&rxq->wiov);

	if (!net_rx_accept(net, frame + NET_HDR_LEN)) {
		rxq->stats.drops++;
		return -ENOBUFS;
	}
	if (cap >= len)
		return net_rx_single(net, rxq, head, frame, len);
	/* virtio 1.2 §5.1.6.3.1: each buffer holds at least a header. */
	if (!swdev_has_feature(&net->sw, VIRTIO_NET_F_MRG_RXBUF) ||
	    cap < NET_HDR_LEN) {
		rxq->stats.drops++;
		return -ENOBUFS;
	}
	return net_rx_merge(net, rxq, head, frame, len, cap, wait);
}

void net_rx_publish(struct net_dev *net, struct swdev_vq *rxq)
{
	struct swdev *sw = &net->sw;

	if (vdpa_needs_reset(&sw->vdpa))
		return;
	if (swdev_vq_flush(sw, rxq, &rxq->nused))
		swdev_vq_notify(sw, rxq);
}

/* The receive drain of a backend with @receive (TAP): one chain a call. */
static int net_rx_chain(struct swdev *sw, struct swdev_vq *rxq, u16 head,
			u32 *len)
{
	struct net_dev *net = to_net_dev(sw);
	int ret;

	if (!net->pending) {
		ssize_t n = net->ops->receive(net, net->buf, NET_BUF_SIZE);

		if (n < 0)
			return SWDEV_STALL;	/* the backend's fd wakes us */
		if (n < NET_HDR_LEN + NET_ETH_HLEN) {
			rxq->stats.drops++;
			return SWDEV_RETRY;
		}
		net->pending = (size_t)n;
	}
	/* Paid once: it may wait here for receive chains after that. */
	if (!net->pending_paid) {
		if (!swdev_limit(sw, NET_LIMIT_RX, net->pending - NET_HDR_LEN))
			return SWDEV_STALL;	/* the frame waits in @buf */
		net->pending_paid = true;
	}
	ret = net_rx_deliver(net, rxq, head, net->buf, net->pending, true);
	switch (ret) {
	case 0:
		net->pending = 0;
		net->pending_paid = false;
		return SWDEV_HELD;
	case -ENOBUFS:
		/* Dropped: this chain may take the next frame. */
		net->pending = 0;
		net->pending_paid = false;
		return SWDEV_RETRY;
	case -ENOMEM:
		swdev_schedule(sw);
		return SWDEV_STALL;
	default:
		/* -EAGAIN: the frame waits, kicks re-armed; -EIO: reported. */
		return SWDEV_STALL;
	}
}

/* ---- transmit ----------------------------------------------------------- */

/* The transmit drain of a backend without its own: @transmit per frame. */
static int net_tx_chain_op(struct swdev *sw, struct swdev_vq *txq, u16 head,
			   u32 *len)
{
	struct net_dev *net = to_net_dev(sw);

	return net_tx_chain(net, txq, net->ops->transmit);
}

/* ---- control queue (virtio 1.2 §5.1.6.5) -------------------------------- */

static u8 net_ctrl_cmd(struct net_dev *net, u8 class, u8 cmd,
		       struct vringh_iov *riov)
{
	struct swdev *sw = &net->sw;
	size_t left = vringh_iov_length(riov);

	switch (class) {
	case VIRTIO_NET_CTRL_MAC:
		if (cmd != VIRTIO_NET_CTRL_MAC_ADDR_SET ||
		    !swdev_has_feature(sw, VIRTIO_NET_F_CTRL_MAC_ADDR) ||
		    left != NET_ETH_ALEN)
			return VIRTIO_NET_ERR;
		vringh_iov_pull(riov, net->mac, NET_ETH_ALEN);
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_RX: {
		u8 on;

		if (!swdev_has_feature(sw, VIRTIO_NET_F_CTRL_RX) || left != 1)
			return VIRTIO_NET_ERR;
		vringh_iov_pull(riov, &on, 1);
		if (cmd == VIRTIO_NET_CTRL_RX_PROMISC)
			net->promisc = on != 0;
		else if (cmd == VIRTIO_NET_CTRL_RX_ALLMULTI)
			net->allmulti = on != 0;
		else
			return VIRTIO_NET_ERR;
		return VIRTIO_NET_OK;
	}
	case VIRTIO_NET_CTRL_MQ: {
		le16 pairs;

		if (cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET ||
		    !swdev_has_feature(sw, VIRTIO_NET_F_MQ) ||
		    left != sizeof(pairs))
			return VIRTIO_NET_ERR;
		vringh_iov_pull(riov, &pairs, sizeof(pairs));
		if (le16_to_cpu(pairs) < 1 || le16_to_cpu(pairs) > net->max_vqp)
			return VIRTIO_NET_ERR;
		net->curr_vqp = le16_to_cpu(pairs);
		return VIRTIO_NET_OK;
	}
	default:
		return VIRTIO_NET_ERR;
	}
}

static int net_cvq_chain(struct swdev *sw, struct swdev_vq *cvq, u16 head,
			 u32 *len)
{
	struct virtio_net_ctrl_hdr ctrl;
	u8 status = VIRTIO_NET_ERR;

	if (vringh_iov_pull(&cvq->riov, &ctrl, sizeof(ctrl)) == sizeof(ctrl))
		status = net_ctrl_cmd(to_net_dev(sw), ctrl.class, ctrl.cmd,
				      &cvq->riov);
	/* The ack is the device-writable byte (virtio 1.2 §5.1.6.5). */
	if (vringh_iov_length(&cvq->wiov) >= 1) {
		vringh_iov_push(&cvq->wiov, &status, 1);
		*len = 1;
	} else {
		status = VIRTIO_NET_ERR;
	}
	cvq->stats.packets++;
	if (status != VIRTIO_NET_OK)
		cvq->stats.errors++;
	return SWDEV_USED;
}

/* ---- software-device hooks ---------------------------------------------- */

static bool net_work(struct swdev *sw)
{
	struct net_dev *net = to_net_dev(sw);
	const struct net_backend_ops *ops = net->ops;
	u16 pairs = swdev_has_feature(sw, VIRTIO_NET_F_MQ) ? net->curr_vqp : 1;
	bool more = false;

	if (ops->sync)
		ops->sync(net);
	if (net->cvq && swdev_has_feature(sw, VIRTIO_NET_F_CTRL_VQ))
		more = swdev_vq_service(sw, net_cvq(net),
					SWDEV_CHAIN_IN | SWDEV_CHAIN_OUT,
					net_cvq_chain);
	for (u16 p = 0; p < pairs; p++) {
		struct swdev_vq *rxq = &sw->vqs[2 * p], *txq = rxq + 1;

		if (ops->tx)
			more |= ops->tx(net, txq);
		else
			more |= swdev_vq_service(sw, txq, SWDEV_CHAIN_IN,
						 net_tx_chain_op);
		if (ops->rx)
			more |= ops->rx(net, rxq);
		else if (ops->receive)
			more |= swdev_vq_service(sw, rxq, SWDEV_CHAIN_OUT,
						 net_rx_chain);
	}
	return more;
}

static void net_reset(struct swdev *sw)
{
	struct net_dev *net = to_net_dev(sw);

	memcpy(net->mac, net->default_mac, NET_ETH_ALEN);
	net->curr_vqp = 1;
	net->promisc = true;
	net->allmulti = true;
	net->pending = 0;
	net->pending_paid = false;
	if (net->ops->reset)
		net->ops->reset(net);
}

static void net_update_config(struct swdev *sw)
{
	struct net_dev *net = to_net_dev(sw);
	struct net_config cfg = {
		.status = cpu_to_le16(VIRTIO_NET_S_LINK_UP),
		.max_virtqueue_pairs = cpu_to_le16(net->max_vqp),
		.mtu = cpu_to_le16(net->mtu),
	};

	memcpy(cfg.mac, net->mac, NET_ETH_ALEN);
	memcpy(sw->config, &cfg, sizeof(cfg));
}

static u32 net_get_vq_group(struct swdev *sw, u16 idx)
{
	struct net_dev *net = to_net_dev(sw);

	return net->cvq && idx == 2 * net->max_vqp ? 1 : 0;
}

static void net_free(struct swdev *sw)
{
	struct net_dev *net = to_net_dev(sw);

	if (net->opened && net->ops->close)
		net->ops->close(net);
	vringh_iov_cleanup(&net->mrg_wiov);
	free(net->buf);
	free(net);
}

/* ---- creation ----------------------------------------------------------- */

static void net_mac_init(struct net_dev *net, const u8 *mac,
			 struct net_mac_gen *gen)
{
	static const u8 no_mac[NET_ETH_ALEN];
	unsigned int n;

	if (memcmp(mac, no_mac, NET_ETH_ALEN)) {
		memcpy(net->default_mac, mac, NET_ETH_ALEN);
		return;
	}
	n = __atomic_fetch_add(&gen->next, 1, __ATOMIC_RELAXED);
	memcpy(net->default_mac, gen->prefix, sizeof(gen->prefix));
	net->default_mac[4] = (u8)(n >> 8);
	net->default_mac[5] = (u8)n;
}

static u64 net_features(const struct net_backend_ops *ops,
			const struct net_type_args *args, bool cvq)
{
	u64 f = SWDEV_FEATURES | ops->features |
		(1ULL << VIRTIO_NET_F_MAC) |
		(1ULL << VIRTIO_NET_F_STATUS) |
		(1ULL << VIRTIO_NET_F_MRG_RXBUF);

	if (args->mtu)
		f |= 1ULL << VIRTIO_NET_F_MTU;
	if (cvq)
		f |= (1ULL << VIRTIO_NET_F_CTRL_VQ) |
		     (1ULL << VIRTIO_NET_F_CTRL_RX) |
		     (1ULL << VIRTIO_NET_F_CTRL_MAC_ADDR);
	if (cvq && args->max_vqp > 1)
		f |= 1ULL << VIRTIO_NET_F_MQ;
	return f;
}

int net_create(const struct net_backend_ops *ops,
	       const struct net_type_args *args, struct net_mac_gen *mac_gen,
	       bool cvq, struct vdpa_device **out)
{
	struct swdev_attr attr = {
		.device_id = VIRTIO_ID_NET,
		.nvqs = 2u * args->max_vqp + (cvq ? 1 : 0),
		.ngroups = cvq ? 2 : 1,
		.nas = cvq ? 2 : 1,
		.config_size = sizeof(struct net_config),
		.features = net_features(ops, args, cvq),
		.work = net_work,
		.reset = net_reset,
		.update_config = net_update_config,
		.get_vq_group = net_get_vq_group,
		.free = net_free,
		.seccomp = ops->seccomp,
		.nlimits = 2,
		.limits = { [NET_LIMIT_RX] = VDPA_LIMIT_NET_RX,
			    [NET_LIMIT_TX] = VDPA_LIMIT_NET_TX },
	};
	struct net_dev *net;
	int ret;

	if (!args->max_vqp || args->max_vqp > NET_MAX_VQP ||
	    (args->max_vqp > 1 && (!cvq || ops->receive)) ||
	    (ops->size && ops->size < sizeof(*net)))
		return -EINVAL;
	net = xzalloc(ops->size ? ops->size : sizeof(*net));
	if (!net)
		return -ENOMEM;
	net->ops = ops;
	net->mtu = args->mtu;
	net->max_vqp = args->max_vqp;
	net->cvq = cvq;
	net_mac_init(net, args->mac, mac_gen);
	vringh_iov_init(&net->mrg_wiov, net->mrg_store, SWDEV_IOV_INLINE, true);

	ret = swdev_init(&net->sw, &attr);
	if (ret)
		goto err_destroy;
	net->buf = xmalloc(NET_BUF_SIZE);
	if (!net->buf) {
		ret = -ENOMEM;
		goto err_destroy;
	}
	if (ops->open) {
		net->opened = true;
		ret = ops->open(net, args);
		if (ret)
			goto err_destroy;
	}
	ret = swdev_set_limits(&net->sw, args->limit);
	if (ret)
		goto err_destroy;
	net_reset(&net->sw);
	net->sw.poll = args->poll;
	ret = swdev_register(&net->sw, args->common.name);
	if (ret)
		goto err_destroy;
	*out = &net->sw.vdpa;
	return 0;

err_destroy:
	/* The type reports it, naming the option or request (one line). */
	pr_debug("vdpa: cannot create net (%s): %s", ops->name, strerror(-ret));
	swdev_destroy(&net->sw);
	return ret;
}

/* ---- the "net" type: the simulator ---------------------------------------- */

/* mode= words, in the order of net_modes[]. */
static const char *const net_mode_names[] = {
	"loop", "sink", "gen", "null", NULL
};

static const struct net_backend_ops *const net_modes[] = {
	&net_loop_ops, &net_sink_ops, &net_gen_ops, &net_null_ops,
};

_Static_assert(ARRAY_SIZE(net_modes) + 1 == ARRAY_SIZE(net_mode_names),
	       "a backend for every mode word");

static const struct vdpa_attr net_attrs[] = {
	VDPA_ATTR_MAC(struct net_args, net.mac, "mac", "Ethernet address"),
	/* virtio 1.2 §5.1.4.1: mtu at least 68. */
	VDPA_ATTR_UINT(struct net_args, net.mtu, "mtu", 68, 65535, "MTU offered"),
	VDPA_ATTR_UINT(struct net_args, net.max_vqp, "max_vqp", 1, NET_MAX_VQP,
		       "queue pairs"),
	SWDEV_ATTR_POLL(struct net_args, net.poll),
	NET_ATTRS_LIMIT(struct net_args, net),
	VDPA_ATTR_CHOICE(struct net_args, mode, "mode", "<loop|sink|gen|null>",
			 net_mode_names,
			 "loop: TX back to RX; sink: count TX; gen: fill RX; null: drop TX"),
	/* An Ethernet header at least; 64 KiB payload at most. */
	VDPA_ATTR_UINT(struct net_args, gen_len, "gen_len", 14, 65535,
		       "frame bytes in mode=gen"),
};

static const struct net_args net_defaults = {
	.net = { .mtu = 1500, .max_vqp = 1 },
	.mode = 0,		/* loop */
	.gen_len = 64,		/* as testpmd --txpkts=64 */
};

static int net_dev_add(struct vdpa_mgmt_dev *mdev, const void *config,
		       struct vdpa_device **out)
{
	/* Locally administered, unicast: 02:6b:65:73:xx:xx. */
	static struct net_mac_gen mac_gen = { { 0x02, 0x6b, 0x65, 0x73 } };
	const struct net_args *args = config;

	if (args->mode >= ARRAY_SIZE(net_modes))
		return -EINVAL;
	return net_create(net_modes[args->mode], &args->net, &mac_gen, true, out);
}

struct vdpa_mgmt_dev vdpa_net_mgmt_dev = {
	.type = "net",
	.description = "network simulator (mode=loop: TX looped back to RX; sink; gen; null)",
	.device_id = VIRTIO_ID_NET,
	.attrs = net_attrs,
	.nattrs = ARRAY_SIZE(net_attrs),
	.config_size = sizeof(struct net_args),
	.defaults = &net_defaults,
	.dev_add = net_dev_add,
};
