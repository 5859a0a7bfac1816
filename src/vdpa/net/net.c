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
 * VQ_PAIRS_SET, each acked in the chain's device-writable byte. What they
 * set is the device's own state in a snapshot (struct net_state).
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
	struct net_pair *pair = net_pair_of(net, rxq);
	struct vringh_iov *first = &rxq->wiov;
	size_t off = cap;
	le16 nbufs;
	int ret;

	vringh_iov_push(first, frame, cap);
	pair->mrg_used[0] = (struct vringh_used_elem){ .id = head, .len = (u32)cap };
	while (off < len) {
		size_t chunk;
		u16 h;

		if (n == limit) {
			/* Even a full ring of these buffers cannot hold it. */
			vringh_abandon(&rxq->vring, n - 1);
			rxq->stats.drops++;
			return -ENOBUFS;
		}
		ret = vringh_getdesc(&rxq->vring, NULL, &pair->mrg_wiov, &h);
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
		chunk = MIN(vringh_iov_length(&pair->mrg_wiov), len - off);
		vringh_iov_push(&pair->mrg_wiov, frame + off, chunk);
		pair->mrg_used[n++] = (struct vringh_used_elem){ .id = h, .len = (u32)chunk };
		off += chunk;
	}
	/* Now that the count is known, patch it into the first buffer. */
	nbufs = cpu_to_le16((u16)n);
	first->i = 0;
	first->off = 0;
	vringh_iov_advance(first, offsetof(struct virtio_net_hdr_v1, num_buffers));
	vringh_iov_push(first, &nbufs, sizeof(nbufs));
	if (!swdev_vq_stage_n(&net->sw, rxq, pair->mrg_used, n))
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
	struct net_pair *pair = net_pair_of(net, rxq);
	int ret;

	if (!pair->pending) {
		ssize_t n = net->ops->receive(net, rxq, pair->buf, NET_BUF_SIZE);

		if (n < 0)
			return SWDEV_STALL;	/* the backend's fd wakes us */
		if (n < NET_HDR_LEN + NET_ETH_HLEN) {
			rxq->stats.drops++;
			return SWDEV_RETRY;
		}
		pair->pending = (size_t)n;
	}
	/* Paid once: it may wait here for receive chains after that. */
	if (!pair->pending_paid) {
		if (!swdev_limit(sw, NET_LIMIT_RX, pair->pending - NET_HDR_LEN))
			return SWDEV_STALL;	/* the frame waits in @buf */
		pair->pending_paid = true;
	}
	ret = net_rx_deliver(net, rxq, head, pair->buf, pair->pending, true);
	switch (ret) {
	case 0:
		pair->pending = 0;
		pair->pending_paid = false;
		return SWDEV_HELD;
	case -ENOBUFS:
		/* Dropped: this chain may take the next frame. */
		pair->pending = 0;
		pair->pending_paid = false;
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

/*
 * Carry out one command whose payload (@len bytes) was read out of guest
 * memory already; every worker's lock held, so what all pairs read changes
 * at once, and the backend has followed (VQ_PAIRS_SET) before the ack is
 * written.
 */
static u8 net_ctrl_cmd(struct net_dev *net, u8 class, u8 cmd,
		       const u8 *data, size_t len)
{
	struct swdev *sw = &net->sw;

	switch (class) {
	case VIRTIO_NET_CTRL_MAC:
		if (cmd != VIRTIO_NET_CTRL_MAC_ADDR_SET ||
		    !swdev_has_feature(sw, VIRTIO_NET_F_CTRL_MAC_ADDR) ||
		    len != NET_ETH_ALEN)
			return VIRTIO_NET_ERR;
		memcpy(net->mac, data, NET_ETH_ALEN);
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_RX:
		if (!swdev_has_feature(sw, VIRTIO_NET_F_CTRL_RX) || len != 1)
			return VIRTIO_NET_ERR;
		if (cmd == VIRTIO_NET_CTRL_RX_PROMISC)
			net->promisc = data[0] != 0;
		else if (cmd == VIRTIO_NET_CTRL_RX_ALLMULTI)
			net->allmulti = data[0] != 0;
		else
			return VIRTIO_NET_ERR;
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_MQ: {
		u16 pairs;

		/* virtio 1.2 §5.1.6.5.5: 1..max_virtqueue_pairs, little-endian. */
		if (cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET ||
		    !swdev_has_feature(sw, VIRTIO_NET_F_MQ) ||
		    len != sizeof(le16))
			return VIRTIO_NET_ERR;
		pairs = (u16)(data[0] | data[1] << 8);
		if (pairs < 1 || pairs > net->max_vqp)
			return VIRTIO_NET_ERR;
		/* The backend follows first: the ack means it is done. */
		if (net->ops->set_pairs && net->ops->set_pairs(net, pairs))
			return VIRTIO_NET_ERR;
		net->curr_vqp = pairs;
		net->backend_pairs = pairs;
		return VIRTIO_NET_OK;
	}
	default:
		return VIRTIO_NET_ERR;
	}
}

/* The largest command payload the device takes: a MAC (MAC_ADDR_SET). */
#define NET_CTRL_DATA_MAX	NET_ETH_ALEN

static int net_cvq_chain(struct swdev *sw, struct swdev_vq *cvq, u16 head,
			 u32 *len)
{
	struct net_dev *net = to_net_dev(sw);
	struct virtio_net_ctrl_hdr ctrl = { 0 };
	u8 data[NET_CTRL_DATA_MAX];
	u8 status = VIRTIO_NET_ERR;
	size_t n;

	/*
	 * Guest memory is read first, under worker 0's lock alone: a fault
	 * there (SIGBUS) must not leave the other workers' locks held. A
	 * payload longer than any command's is refused unread.
	 */
	if (vringh_iov_pull(&cvq->riov, &ctrl, sizeof(ctrl)) == sizeof(ctrl) &&
	    (n = vringh_iov_length(&cvq->riov)) <= sizeof(data) &&
	    vringh_iov_pull(&cvq->riov, data, n) == (ssize_t)n) {
		/* Worker 0 holds its own lock: the others' come after it. */
		swdev_lock_from(sw, 1);
		status = net_ctrl_cmd(net, ctrl.class, ctrl.cmd, data, n);
		if (status == VIRTIO_NET_OK && net->ops->sync)
			net->ops->sync(net);
		swdev_unlock_from(sw, 1);
	}
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
	else if (ctrl.class == VIRTIO_NET_CTRL_MQ)
		/* Pairs just enabled may hold chains already. */
		swdev_schedule(sw);
	return SWDEV_USED;
}

/* ---- software-device hooks ---------------------------------------------- */

/*
 * Queue pairs the driver uses. With VIRTIO_NET_F_MQ, the count it gave in
 * VQ_PAIRS_SET, once it drives our control queue; a vhost-user front-end
 * (QEMU, DPDK) keeps the control queue to itself and enables and disables
 * rings instead (SET_VRING_ENABLE): every pair then, and swdev_vq_service()
 * passes over the rings that are not started.
 */
static u16 net_pairs_in_use(struct net_dev *net)
{
	struct swdev *sw = &net->sw;

	if (!swdev_has_feature(sw, VIRTIO_NET_F_MQ))
		return 1;
	if (net->cvq && net_cvq(net)->started)
		return net->curr_vqp;
	return net->max_vqp;
}

static bool net_work_on(struct swdev *sw, u32 worker)
{
	struct net_dev *net = to_net_dev(sw);
	const struct net_backend_ops *ops = net->ops;
	u16 pairs;
	bool more = false;

	if (worker == 0) {
		if (ops->sync)
			ops->sync(net);
		/*
		 * Pairs chosen by enabling rings (vhost-user) or by features
		 * (MQ not negotiated): the backend follows here, the other
		 * workers' locks taken after ours.
		 */
		pairs = net_pairs_in_use(net);
		if (ops->set_pairs && pairs != net->backend_pairs) {
			swdev_lock_from(sw, 1);
			ops->set_pairs(net, pairs);	/* it logs a failure */
			net->backend_pairs = pairs;
			swdev_unlock_from(sw, 1);
		}
		if (net->cvq && swdev_has_feature(sw, VIRTIO_NET_F_CTRL_VQ))
			more = swdev_vq_service(sw, net_cvq(net),
						SWDEV_CHAIN_IN | SWDEV_CHAIN_OUT,
						net_cvq_chain);
	}
	pairs = net_pairs_in_use(net);
	for (u16 p = (u16)worker; p < pairs; p += net->nworkers) {
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
	for (u16 p = 0; p < net->max_vqp; p++) {
		net->pairs[p].pending = 0;
		net->pairs[p].pending_paid = false;
	}
	if (net->ops->reset)
		net->ops->reset(net);
	/* virtio 1.2 §5.1.6.5.5: one pair until the driver asks for more. */
	if (net->ops->set_pairs && net->opened)
		net->ops->set_pairs(net, 1);
	net->backend_pairs = 1;
	if (net->ops->sync && net->opened)
		net->ops->sync(net);
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

/* Pair P's queues go to worker P mod workers, the control queue to worker 0. */
static u32 net_get_vq_worker(struct swdev *sw, u16 idx)
{
	struct net_dev *net = to_net_dev(sw);

	if (net->cvq && idx == 2 * net->max_vqp)
		return 0;
	return (idx / 2u) % net->nworkers;
}

static u32 net_get_vq_group(struct swdev *sw, u16 idx)
{
	struct net_dev *net = to_net_dev(sw);

	return net->cvq && idx == 2 * net->max_vqp ? 1 : 0;
}

/* ---- snapshots (docs/snapshot.md, "Device state") ------------------------ */

/*
 * What the driver set through the control queue, little-endian. A later
 * layout is a new version; a reader takes every version it knows (each
 * with its own length, fields it lacks at their reset values) and refuses
 * the others.
 */
struct net_state {
	le32 version;		/* NET_STATE_VERSION */
	u8 mac[NET_ETH_ALEN];	/* as config space shows it */
	le16 curr_vqp;		/* VQ_PAIRS_SET, 1..max_vqp */
	le32 rx;		/* NET_STATE_RX_*: CTRL_RX's modes */
};

#define NET_STATE_VERSION	1
#define NET_STATE_RX_PROMISC	(1u << 0)
#define NET_STATE_RX_ALLMULTI	(1u << 1)
#define NET_STATE_RX_ALL	(NET_STATE_RX_PROMISC | NET_STATE_RX_ALLMULTI)

_Static_assert(sizeof(struct net_state) == 16, "net_state v1 layout");
_Static_assert(offsetof(struct net_state, rx) == 12, "net_state v1 layout");

/* Only a device with a control queue has state of its own: the rest is reset's. */
static ssize_t net_save_state(struct swdev *sw, void *buf, size_t size)
{
	struct net_dev *net = to_net_dev(sw);
	struct net_state st = {
		.version = cpu_to_le32(NET_STATE_VERSION),
		.curr_vqp = cpu_to_le16(net->curr_vqp),
		.rx = cpu_to_le32((net->promisc ? NET_STATE_RX_PROMISC : 0) |
				  (net->allmulti ? NET_STATE_RX_ALLMULTI : 0)),
	};

	if (!net->cvq)
		return 0;
	if (size < sizeof(st))
		return -ENOSPC;
	memcpy(st.mac, net->mac, NET_ETH_ALEN);
	memcpy(buf, &st, sizeof(st));
	return sizeof(st);
}

/*
 * The saved state goes through the checks of net_ctrl_cmd(): pairs within
 * 1..max_vqp and above 1 only with MQ, modes other than reset's only with
 * CTRL_RX. The MAC is taken as it is: it is what config space showed,
 * whether the driver set it or not, and any value is one it could set.
 * The backend follows before anything changes (TAP: TUNSETQUEUE).
 */
static int net_load_state(struct swdev *sw, const void *buf, size_t len)
{
	struct net_dev *net = to_net_dev(sw);
	struct net_state st;
	u32 version, rx;
	u16 pairs;
	int ret;

	if (!net->cvq)
		return -EOPNOTSUPP;
	if (len < sizeof(st.version))
		return -EBADMSG;
	memcpy(&st.version, buf, sizeof(st.version));
	version = le32_to_cpu(st.version);
	if (version != NET_STATE_VERSION)
		return -EPROTONOSUPPORT;
	if (len != sizeof(st))
		return -EBADMSG;
	memcpy(&st, buf, sizeof(st));
	pairs = le16_to_cpu(st.curr_vqp);
	rx = le32_to_cpu(st.rx);
	if (pairs < 1 || pairs > net->max_vqp ||
	    (pairs > 1 && !swdev_has_feature(sw, VIRTIO_NET_F_MQ)))
		return -EINVAL;
	if ((rx & ~NET_STATE_RX_ALL) ||
	    (rx != NET_STATE_RX_ALL && !swdev_has_feature(sw, VIRTIO_NET_F_CTRL_RX)))
		return -EINVAL;
	if (net->ops->set_pairs && pairs != net->backend_pairs) {
		ret = net->ops->set_pairs(net, pairs);
		if (ret)
			return ret;
		net->backend_pairs = pairs;
	}
	net->curr_vqp = pairs;
	memcpy(net->mac, st.mac, NET_ETH_ALEN);
	net->promisc = rx & NET_STATE_RX_PROMISC;
	net->allmulti = rx & NET_STATE_RX_ALLMULTI;
	if (net->ops->sync)
		net->ops->sync(net);
	return 0;
}

static void net_free(struct swdev *sw)
{
	struct net_dev *net = to_net_dev(sw);

	if (net->opened && net->ops->close)
		net->ops->close(net);
	for (u16 p = 0; p < net->max_vqp; p++) {
		vringh_iov_cleanup(&net->pairs[p].mrg_wiov);
		free(net->pairs[p].buf);
	}
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

/* Workers a device gets: one per pair, or workers=N (at most max_vqp). */
static u16 net_workers(const struct net_type_args *args)
{
	if (args->workers)
		return args->workers;
	return args->max_vqp ? args->max_vqp : 1;
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
		.work_on = net_work_on,
		.nworkers = net_workers(args),
		.get_vq_worker = net_get_vq_worker,
		.reset = net_reset,
		.update_config = net_update_config,
		.get_vq_group = net_get_vq_group,
		.save_state = net_save_state,
		.load_state = net_load_state,
		.free = net_free,
		.seccomp = ops->seccomp,
		.nlimits = 2,
		.limits = { [NET_LIMIT_RX] = VDPA_LIMIT_NET_RX,
			    [NET_LIMIT_TX] = VDPA_LIMIT_NET_TX },
	};
	struct net_dev *net;
	int ret;

	if (args->workers > args->max_vqp) {
		pr_err("%s: workers=%u: at most one per queue pair (max_vqp=%u)",
		       ops->name, args->workers, args->max_vqp);
		return -EINVAL;
	}
	if (!args->max_vqp || args->max_vqp > NET_MAX_VQP ||
	    (args->max_vqp > 1 && (!cvq || (ops->receive && !ops->set_pairs))) ||
	    (ops->size && ops->size < sizeof(*net)))
		return -EINVAL;
	net = xzalloc(ops->size ? ops->size : sizeof(*net));
	if (!net)
		return -ENOMEM;
	net->ops = ops;
	net->mtu = args->mtu;
	net->max_vqp = args->max_vqp;
	net->nworkers = net_workers(args);
	net->cvq = cvq;
	net_mac_init(net, args->mac, mac_gen);
	for (u16 p = 0; p < net->max_vqp; p++)
		vringh_iov_init(&net->pairs[p].mrg_wiov, net->pairs[p].mrg_store,
				SWDEV_IOV_INLINE, true);

	ret = swdev_init(&net->sw, &attr);
	if (ret)
		goto err_destroy;
	for (u16 p = 0; p < net->max_vqp; p++) {
		net->pairs[p].buf = xmalloc(NET_BUF_SIZE);
		if (!net->pairs[p].buf) {
			ret = -ENOMEM;
			goto err_destroy;
		}
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
	NET_ATTRS_MQ(struct net_args, net),
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
