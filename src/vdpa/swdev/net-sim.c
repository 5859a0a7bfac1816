// SPDX-License-Identifier: GPL-2.0-only
/*
 * Loopback network simulator: every frame a driver transmits on queue pair
 * N comes back on the receive queue of pair N, virtio-net header and all.
 *
 * Queues: receiveq N = 2N, transmitq N = 2N + 1, controlq = 2 * max_vqp
 * (virtio 1.2 §5.1.2). Groups: data queues 0, control queue 1, so the
 * control queue can live in its own address space (2 ASIDs).
 *
 * Receive: without VIRTIO_NET_F_MRG_RXBUF a frame needs one receive chain
 * big enough for header + frame; with it, as many chains as it takes, and
 * num_buffers says how many (virtio 1.2 §5.1.6.4). A frame that cannot fit
 * is dropped and counted, never truncated.
 *
 * No receive buffer: the frame is dropped and counted in the receive
 * queue's drops (like a NIC whose RX ring is empty: rx_missed), and its
 * transmit chain completes. Holding it on the transmit ring instead would
 * let a driver that stops draining its receive ring (DPDK testpmd txonly)
 * stall its own transmit path, and every later pass would re-read the same
 * chain.
 *
 * Batching: a pass takes up to SIMNET_BURST transmit chains, completes
 * them with one used-index update (vringh_complete_multi()), and asks
 * once per pass whether each ring wants an interrupt (EVENT_IDX decides).
 * In poll mode (poll=on) the worker calls us in a loop and kicks stay
 * disabled while it spins (see swdev_worker()).
 *
 * Traffic modes (mode=, enum vdpa_net_mode), for benchmarks against DPDK's
 * testpmd behind net_vhost:
 *  - loop (default): as above.
 *  - sink: transmit chains are checked (a frame: header + at least an
 *    Ethernet header, at most SIMNET_MAX_FRAME), counted in the transmit
 *    queue's packets/bytes (errors if not a frame) and completed; nothing
 *    is read or delivered (testpmd rxonly).
 *  - gen: every receive chain the driver posts gets one frame of gen_len
 *    bytes (default 64) behind a virtio-net header (num_buffers 1, no
 *    offloads): destination the device's current MAC, source
 *    SIMNET_GEN_SRC, EtherType 0x88b5 (local experimental), payload byte k
 *    = k & 0xff. Counted in the receive queue's packets/bytes. A chain too
 *    small for header + frame is returned empty (used len 0) and counted in
 *    drops; gen never merges buffers, so a driver that posts only small
 *    buffers cannot make it hold a chain forever. Transmit as in sink
 *    (testpmd txonly).
 * Both take up to SWDEV_BUDGET chains a pass and complete them in bursts
 * of SIMNET_BURST with one used-index update each, and ask once per pass
 * whether to interrupt (EVENT_IDX decides). Outside poll mode an empty ring
 * re-arms its kicks (with the race check), the receive queue too in gen.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>

#include "../devices.h"
#include "swdev.h"

#define SIMNET_ETH_ALEN		6
#define SIMNET_ETH_HLEN		14
/* Largest frame looped back: 64 KiB payload + Ethernet + VLAN header. */
#define SIMNET_MAX_FRAME	(65536 + SIMNET_ETH_HLEN + 4)
/* Most receive chains one merged frame may use. */
#define SIMNET_MRG_MAX		64
/* Transmit chains completed with one used-index update. */
#define SIMNET_BURST		64
/* Default frame length of mode=gen (as testpmd --txpkts=64). */
#define SIMNET_GEN_LEN		64
/* Source address of generated frames (locally administered "kesgen"). */
#define SIMNET_GEN_SRC		"\x02\x6b\x65\x73\x67\x6e"
#define SIMNET_GEN_TYPE		0x88b5

/*
 * Traffic modes (mode=): loop, every transmitted frame comes back on the
 * receive queue of the same pair (the default); sink, transmitted frames
 * are counted and completed, never delivered (as DPDK testpmd rxonly
 * behind net_vhost); gen, every posted receive buffer gets a fixed frame
 * of gen_len bytes, transmit as sink (as testpmd txonly).
 */
enum vdpa_net_mode {
	VDPA_NET_MODE_LOOP = 0,
	VDPA_NET_MODE_SINK,
	VDPA_NET_MODE_GEN,
};

/**
 * struct simnet_hdr - struct virtio_net_hdr_v1 as the device writes it
 * (virtio 1.2 §5.1.6; 12 bytes once VERSION_1 is negotiated)
 */
struct simnet_hdr {
	u8 flags;
	u8 gso_type;
	le16 hdr_len;
	le16 gso_size;
	le16 csum_start;
	le16 csum_offset;
	le16 num_buffers;
};

_Static_assert(sizeof(struct simnet_hdr) == 12, "virtio_net_hdr_v1 is 12 bytes");
_Static_assert(sizeof(struct simnet_hdr) == sizeof(struct virtio_net_hdr_v1),
	       "matches the UAPI header");
_Static_assert(offsetof(struct simnet_hdr, num_buffers) == 10,
	       "num_buffers offset");

/** struct simnet_config - the config fields we offer (virtio 1.2 §5.1.4) */
struct simnet_config {
	u8 mac[6];
	le16 status;
	le16 max_virtqueue_pairs;
	le16 mtu;
};

_Static_assert(sizeof(struct simnet_config) == 12, "net config up to mtu");
_Static_assert(offsetof(struct simnet_config, mtu) ==
	       offsetof(struct virtio_net_config, mtu), "mtu offset");

/**
 * struct simnet - a loopback net device
 * @sw: the software-device core (first: freed through it)
 * @mac: current MAC (VIRTIO_NET_CTRL_MAC_ADDR_SET changes it)
 * @default_mac: MAC given at creation, restored by reset
 * @mtu: MTU offered in config space
 * @max_vqp: queue pairs
 * @curr_vqp: pairs in use (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET)
 * @promisc: receive every frame (default on, like a loopback wire)
 * @allmulti: receive every multicast frame (default on)
 * @buf: bounce buffer for one frame with its header
 * @hdr_wiov: first receive chain of a merged frame (num_buffers is
 *	written into it last)
 * @hdr_store: inline storage of @hdr_wiov
 * @tx_used: transmit chains done but not yet published (staged used ring)
 * @rx_used: the same for receive chains (loop: whole frames are staged,
 *	flushed at SIMNET_BURST entries and at the end of a pass; gen)
 * @rx_staged: entries in @rx_used (loop)
 * @mode: enum vdpa_net_mode, set at creation
 * @gen_len: frame bytes in mode=gen
 * @gen: the generated header + frame (@gen_len + 12 bytes); the
 *	destination is refreshed from @mac every pass
 *
 * Everything is protected by sw.lock.
 */
struct simnet {
	struct swdev sw;
	u8 mac[SIMNET_ETH_ALEN];
	u8 default_mac[SIMNET_ETH_ALEN];
	u16 mtu;
	u16 max_vqp;
	u16 curr_vqp;
	bool promisc;
	bool allmulti;
	u8 *buf;
	struct vringh_iov hdr_wiov;
	struct iovec hdr_store[SWDEV_IOV_INLINE];
	struct vringh_used_elem tx_used[SIMNET_BURST];
	struct vringh_used_elem rx_used[SIMNET_BURST + SIMNET_MRG_MAX];
	unsigned int rx_staged;
	u32 mode;
	u32 gen_len;
	u8 *gen;
};

static inline struct simnet *to_simnet(struct swdev *sw)
{
	return container_of(sw, struct simnet, sw);
}

static u16 simnet_cvq_index(const struct simnet *net)
{
	return (u16)(2 * net->max_vqp);
}

/* ---- receive ------------------------------------------------------------ */

/* Publish staged receive completions. Return: 0 or the ring error. */
static int simnet_rx_flush(struct simnet *net, struct swdev_vq *rxq,
			   unsigned int *n)
{
	int ret = 0;

	if (*n) {
		ret = vringh_complete_multi(&rxq->vring, net->rx_used, *n);
		*n = 0;
	}
	return ret;
}

static bool simnet_accept(const struct simnet *net, const u8 *dst)
{
	static const u8 bcast[SIMNET_ETH_ALEN] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff
	};

	if (net->promisc)
		return true;
	if (!memcmp(dst, bcast, SIMNET_ETH_ALEN))
		return true;
	if (dst[0] & 1)
		return net->allmulti;
	return !memcmp(dst, net->mac, SIMNET_ETH_ALEN);
}

/*
 * Deliver @len bytes of @net->buf (header + frame) to @rxq.
 * Return: 0 delivered, -EAGAIN no receive buffer yet, -ENOBUFS dropped
 * (counted), other <0: the ring broke (reported).
 */
static int simnet_rx_single(struct simnet *net, struct swdev_vq *rxq,
			    size_t len)
{
	struct simnet_hdr *hdr = (struct simnet_hdr *)net->buf;
	u16 head;
	int ret;

	ret = vringh_getdesc(&rxq->vring, NULL, &rxq->wiov, &head);
	if (ret == 0)
		return -EAGAIN;
	if (ret < 0)
		return ret;
	if (vringh_iov_length(&rxq->wiov) < len) {
		/* Too small: give the chain back, drop the frame. */
		vringh_abandon(&rxq->vring, 1);
		rxq->stats.drops++;
		return -ENOBUFS;
	}
	/* virtio 1.2 §5.1.6.4: num_buffers is 1 without MRG_RXBUF. */
	hdr->num_buffers = cpu_to_le16(1);
	vringh_iov_push(&rxq->wiov, net->buf, len);
	net->rx_used[net->rx_staged].id = head;
	net->rx_used[net->rx_staged].len = (u32)len;
	net->rx_staged++;
	rxq->stats.packets++;
	rxq->stats.bytes += len - sizeof(*hdr);
	return 0;
}

static int simnet_rx_mergeable(struct simnet *net, struct swdev_vq *rxq,
			       size_t len)
{
	unsigned int n = 0, limit = MIN(SIMNET_MRG_MAX, rxq->num);
	le16 nbufs;
	size_t off = 0;
	int ret;

	while (off < len) {
		struct vringh_iov *wiov = n ? &rxq->wiov : &net->hdr_wiov;
		size_t cap, chunk;
		u16 head;

		if (n == limit) {
			/* Even a full ring of these buffers cannot hold it. */
			vringh_abandon(&rxq->vring, n);
			rxq->stats.drops++;
			return -ENOBUFS;
		}
		ret = vringh_getdesc(&rxq->vring, NULL, wiov, &head);
		if (ret == 0) {
			vringh_abandon(&rxq->vring, n);
			return -EAGAIN;
		}
		if (ret < 0)
			return ret;
		cap = vringh_iov_length(wiov);
		/* virtio 1.2 §5.1.6.3.1: each buffer holds at least a header. */
		if (n == 0 && cap < sizeof(struct simnet_hdr)) {
			vringh_abandon(&rxq->vring, 1);
			rxq->stats.drops++;
			return -ENOBUFS;
		}
		if (n == 0 && cap >= len) {
			/* Fast path: one buffer, num_buffers known up front. */
			((struct simnet_hdr *)net->buf)->num_buffers = cpu_to_le16(1);
			vringh_iov_push(wiov, net->buf, len);
			net->rx_used[net->rx_staged].id = head;
			net->rx_used[net->rx_staged].len = (u32)len;
			net->rx_staged++;
			rxq->stats.packets++;
			rxq->stats.bytes += len - sizeof(struct simnet_hdr);
			return 0;
		}
		chunk = MIN(cap, len - off);
		vringh_iov_push(wiov, net->buf + off, chunk);
		net->rx_used[net->rx_staged + n].id = head;
		net->rx_used[net->rx_staged + n].len = (u32)chunk;
		n++;
		off += chunk;
	}
	/* Now that the count is known, patch it into the first buffer. */
	nbufs = cpu_to_le16((u16)n);
	net->hdr_wiov.i = 0;
	net->hdr_wiov.off = 0;
	vringh_iov_advance(&net->hdr_wiov, offsetof(struct simnet_hdr, num_buffers));
	vringh_iov_push(&net->hdr_wiov, &nbufs, sizeof(nbufs));
	net->rx_staged += n;
	rxq->stats.packets++;
	rxq->stats.bytes += len - sizeof(struct simnet_hdr);
	return 0;
}

static int simnet_rx(struct simnet *net, struct swdev_vq *rxq, size_t len)
{
	if (!simnet_accept(net, net->buf + sizeof(struct simnet_hdr))) {
		rxq->stats.drops++;
		return -ENOBUFS;
	}
	if (swdev_has_feature(&net->sw, VIRTIO_NET_F_MRG_RXBUF))
		return simnet_rx_mergeable(net, rxq, len);
	return simnet_rx_single(net, rxq, len);
}

/* ---- transmit ----------------------------------------------------------- */

/* Publish the staged transmit completions. Return: 0 or the ring error. */
static int simnet_tx_flush(struct simnet *net, struct swdev_vq *txq,
			   unsigned int *n)
{
	int ret = 0;

	if (*n) {
		ret = vringh_complete_multi(&txq->vring, net->tx_used, *n);
		*n = 0;
	}
	return ret;
}

/* mode=sink (and gen's transmit side); Return: true if budget ran out. */
static bool simnet_sink_work(struct simnet *net, struct swdev_vq *txq)
{
	struct swdev *sw = &net->sw;
	unsigned int budget = SWDEV_BUDGET, staged = 0;
	bool more = false;
	int ret;

	if (!txq->started)
		return false;
	vringh_notify_disable(&txq->vring);
	while (!vdpa_needs_reset(&sw->vdpa)) {
		size_t len;
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
		if (len < sizeof(struct simnet_hdr) + SIMNET_ETH_HLEN ||
		    len > sizeof(struct simnet_hdr) + SIMNET_MAX_FRAME) {
			txq->stats.errors++;
		} else {
			txq->stats.packets++;
			txq->stats.bytes += len - sizeof(struct simnet_hdr);
		}
		net->tx_used[staged].id = head;
		net->tx_used[staged].len = 0;
		if (++staged == SIMNET_BURST) {
			ret = simnet_tx_flush(net, txq, &staged);
			if (ret) {
				swdev_vq_error(sw, txq, ret);
				break;
			}
		}
	}
	ret = simnet_tx_flush(net, txq, &staged);
	if (ret)
		swdev_vq_error(sw, txq, ret);
	if (!vdpa_needs_reset(&sw->vdpa))
		swdev_vq_notify(sw, txq);
	return more;
}

/* mode=gen: fill posted receive chains; Return: true if budget ran out. */
static bool simnet_gen_work(struct simnet *net, struct swdev_vq *rxq)
{
	struct swdev *sw = &net->sw;
	unsigned int budget = SWDEV_BUDGET, staged = 0;
	size_t len = sizeof(struct simnet_hdr) + net->gen_len;
	bool more = false;
	int ret;

	if (!rxq->started)
		return false;
	/* The destination follows VIRTIO_NET_CTRL_MAC_ADDR_SET. */
	memcpy(net->gen + sizeof(struct simnet_hdr), net->mac, SIMNET_ETH_ALEN);
	vringh_notify_disable(&rxq->vring);
	while (!vdpa_needs_reset(&sw->vdpa)) {
		struct vringh_used_elem *u;
		u16 head;

		if (!budget--) {
			more = true;
			break;
		}
		ret = vringh_getdesc(&rxq->vring, NULL, &rxq->wiov, &head);
		if (ret == 0) {
			if (swdev_vq_rearm(sw, rxq))
				continue;
			break;
		}
		if (ret == -ENOMEM) {
			more = true;
			break;
		}
		if (ret < 0) {
			swdev_vq_error(sw, rxq, ret);
			break;
		}
		u = &net->rx_used[staged];
		u->id = head;
		if (likely(vringh_iov_push(&rxq->wiov, net->gen, len) == (ssize_t)len)) {
			u->len = (u32)len;
			rxq->stats.packets++;
			rxq->stats.bytes += net->gen_len;
		} else {
			/* Too small (the policy at the top): returned empty. */
			u->len = 0;
			rxq->stats.drops++;
		}
		if (++staged == SIMNET_BURST) {
			ret = simnet_rx_flush(net, rxq, &staged);
			if (ret) {
				swdev_vq_error(sw, rxq, ret);
				break;
			}
		}
	}
	ret = simnet_rx_flush(net, rxq, &staged);
	if (ret)
		swdev_vq_error(sw, rxq, ret);
	if (!vdpa_needs_reset(&sw->vdpa))
		swdev_vq_notify(sw, rxq);
	return more;
}

/* Loop pair @pair's transmit queue back; Return: true if budget ran out. */
static bool simnet_loop_work(struct simnet *net, u16 pair)
{
	struct swdev *sw = &net->sw;
	struct swdev_vq *rxq = &sw->vqs[2 * pair];
	struct swdev_vq *txq = &sw->vqs[2 * pair + 1];
	unsigned int budget = SWDEV_BUDGET, staged = 0;
	bool more = false;
	int ret;

	if (!txq->started || !rxq->started)
		return false;
	vringh_notify_disable(&txq->vring);
	vringh_notify_disable(&rxq->vring);

	while (!vdpa_needs_reset(&sw->vdpa)) {
		size_t len;
		u16 head;

		if (!budget--) {
			more = true;
			break;
		}
		ret = vringh_getdesc(&txq->vring, &txq->riov, NULL, &head);
		if (ret == 0) {
			/* Empty: re-arm kicks (not while spinning), look again. */
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
		if (len < sizeof(struct simnet_hdr) + SIMNET_ETH_HLEN ||
		    len > sizeof(struct simnet_hdr) + SIMNET_MAX_FRAME) {
			/* Not a frame we can loop back: return it unsent. */
			txq->stats.errors++;
		} else {
			vringh_iov_pull(&txq->riov, net->buf, len);
			ret = simnet_rx(net, rxq, len);
			if (net->rx_staged >= SIMNET_BURST) {
				/* Room for a whole merged frame stays free. */
				int err = simnet_rx_flush(net, rxq, &net->rx_staged);

				if (err && ret >= 0)
					ret = err;
			}
			if (ret == -EAGAIN) {
				/* No receive buffer: drop (policy at the top). */
				rxq->stats.drops++;
			} else if (ret < 0 && ret != -ENOBUFS) {
				swdev_vq_error(sw, rxq, ret);
				/* The frame was consumed: give the chain back. */
				vringh_abandon(&txq->vring, 1);
				break;
			}
			txq->stats.packets++;
			txq->stats.bytes += len - sizeof(struct simnet_hdr);
		}
		net->tx_used[staged].id = head;
		net->tx_used[staged].len = 0;
		if (++staged == SIMNET_BURST) {
			ret = simnet_tx_flush(net, txq, &staged);
			if (ret) {
				swdev_vq_error(sw, txq, ret);
				break;
			}
		}
	}
	if (vdpa_needs_reset(&sw->vdpa))
		net->rx_staged = 0;	/* the device is dead until reset */
	ret = simnet_rx_flush(net, rxq, &net->rx_staged);
	if (ret)
		swdev_vq_error(sw, rxq, ret);
	ret = simnet_tx_flush(net, txq, &staged);
	if (ret)
		swdev_vq_error(sw, txq, ret);
	if (!vdpa_needs_reset(&sw->vdpa)) {
		swdev_vq_notify(sw, txq);
		swdev_vq_notify(sw, rxq);
	}
	return more;
}

static bool simnet_pair_work(struct simnet *net, u16 pair)
{
	struct swdev_vq *rxq = &net->sw.vqs[2 * pair];
	struct swdev_vq *txq = &net->sw.vqs[2 * pair + 1];
	bool more;

	switch (net->mode) {
	case VDPA_NET_MODE_SINK:
		return simnet_sink_work(net, txq);
	case VDPA_NET_MODE_GEN:
		more = simnet_sink_work(net, txq);
		return simnet_gen_work(net, rxq) || more;
	default:
		return simnet_loop_work(net, pair);
	}
}

/* ---- control queue (virtio 1.2 §5.1.6.5) -------------------------------- */

static u8 simnet_ctrl_cmd(struct simnet *net, u8 class, u8 cmd,
			  struct vringh_iov *riov)
{
	struct swdev *sw = &net->sw;
	size_t left = vringh_iov_length(riov);

	switch (class) {
	case VIRTIO_NET_CTRL_MAC:
		if (cmd != VIRTIO_NET_CTRL_MAC_ADDR_SET ||
		    !swdev_has_feature(sw, VIRTIO_NET_F_CTRL_MAC_ADDR) ||
		    left != SIMNET_ETH_ALEN)
			return VIRTIO_NET_ERR;
		vringh_iov_pull(riov, net->mac, SIMNET_ETH_ALEN);
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_RX: {
		u8 on;

		if (!swdev_has_feature(sw, VIRTIO_NET_F_CTRL_RX) ||
		    left != 1)
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
		if (le16_to_cpu(pairs) < 1 ||
		    le16_to_cpu(pairs) > net->max_vqp)
			return VIRTIO_NET_ERR;
		net->curr_vqp = le16_to_cpu(pairs);
		return VIRTIO_NET_OK;
	}
	default:
		return VIRTIO_NET_ERR;
	}
}

static void simnet_cvq_work(struct simnet *net)
{
	struct swdev *sw = &net->sw;
	struct swdev_vq *cvq = &sw->vqs[simnet_cvq_index(net)];
	unsigned int budget = SWDEV_BUDGET;
	bool done_any = false;

	if (!cvq->started || !swdev_has_feature(sw, VIRTIO_NET_F_CTRL_VQ))
		return;
	while (budget-- && !vdpa_needs_reset(&sw->vdpa)) {
		struct virtio_net_ctrl_hdr ctrl;
		u8 status = VIRTIO_NET_ERR;
		u32 written = 0;
		u16 head;
		int ret;

		ret = vringh_getdesc(&cvq->vring, &cvq->riov, &cvq->wiov, &head);
		if (ret == 0) {
			/* Re-arm kicks (moves avail_event), then look again. */
			ret = vringh_notify_enable(&cvq->vring);
			if (ret == 1)
				continue;
			if (ret < 0)
				swdev_vq_error(sw, cvq, ret);
			break;
		}
		if (ret < 0) {
			if (ret != -ENOMEM)
				swdev_vq_error(sw, cvq, ret);
			break;
		}
		if (vringh_iov_pull(&cvq->riov, &ctrl, sizeof(ctrl)) ==
		    sizeof(ctrl))
			status = simnet_ctrl_cmd(net, ctrl.class, ctrl.cmd,
						 &cvq->riov);
		/* The ack is the device-writable byte (virtio 1.2 §5.1.6.5). */
		if (vringh_iov_length(&cvq->wiov) >= 1) {
			vringh_iov_push(&cvq->wiov, &status, 1);
			written = 1;
		} else {
			status = VIRTIO_NET_ERR;
		}
		cvq->stats.packets++;
		if (status != VIRTIO_NET_OK)
			cvq->stats.errors++;
		ret = vringh_complete(&cvq->vring, head, written);
		if (ret) {
			swdev_vq_error(sw, cvq, ret);
			break;
		}
		done_any = true;
	}
	if (done_any && !vdpa_needs_reset(&sw->vdpa))
		swdev_vq_notify(sw, cvq);
}

/* ---- simulator hooks ---------------------------------------------------- */

static bool simnet_work(struct swdev *sw)
{
	struct simnet *net = to_simnet(sw);
	u16 pairs = swdev_has_feature(sw, VIRTIO_NET_F_MQ) ? net->curr_vqp : 1;
	bool more = false;

	simnet_cvq_work(net);
	for (u16 p = 0; p < pairs; p++)
		more |= simnet_pair_work(net, p);
	return more;
}

static void simnet_reset(struct swdev *sw)
{
	struct simnet *net = to_simnet(sw);

	memcpy(net->mac, net->default_mac, SIMNET_ETH_ALEN);
	net->curr_vqp = 1;
	net->promisc = true;
	net->allmulti = true;
}

static void simnet_update_config(struct swdev *sw)
{
	struct simnet *net = to_simnet(sw);
	struct simnet_config cfg = {
		.status = cpu_to_le16(VIRTIO_NET_S_LINK_UP),
		.max_virtqueue_pairs = cpu_to_le16(net->max_vqp),
		.mtu = cpu_to_le16(net->mtu),
	};

	memcpy(cfg.mac, net->mac, SIMNET_ETH_ALEN);
	memcpy(sw->config, &cfg, sizeof(cfg));
}

static u32 simnet_get_vq_group(struct swdev *sw, u16 idx)
{
	return idx == simnet_cvq_index(to_simnet(sw)) ? 1 : 0;
}

static void simnet_free(struct swdev *sw)
{
	struct simnet *net = to_simnet(sw);

	vringh_iov_cleanup(&net->hdr_wiov);
	free(net->gen);
	free(net->buf);
	free(net);
}

/* ---- management --------------------------------------------------------- */

#define SIMNET_MAX_VQP		8

/** struct simnet_args - creation attributes of the net simulator */
struct simnet_args {
	struct vdpa_dev_args common;
	u8 mac[SIMNET_ETH_ALEN];	/* all zero: generated */
	u16 mtu;
	u16 max_vqp;
	bool poll;
	u32 mode;			/* enum vdpa_net_mode */
	u32 gen_len;
};

static const char *const simnet_modes[] = { "loop", "sink", "gen", NULL };

static const struct vdpa_attr simnet_attrs[] = {
	VDPA_ATTR_MAC(struct simnet_args, mac, "mac", "Ethernet address"),
	/* virtio 1.2 §5.1.4.1: mtu at least 68. */
	VDPA_ATTR_UINT(struct simnet_args, mtu, "mtu", 68, 65535, "MTU offered"),
	VDPA_ATTR_UINT(struct simnet_args, max_vqp, "max_vqp", 1, SIMNET_MAX_VQP,
		       "queue pairs"),
	SWDEV_ATTR_POLL(struct simnet_args, poll),
	VDPA_ATTR_CHOICE(struct simnet_args, mode, "mode", "<loop|sink|gen>",
			 simnet_modes, "loop: TX back to RX; sink: count TX; gen: fill RX"),
	/* An Ethernet header at least; 64 KiB payload at most. */
	VDPA_ATTR_UINT(struct simnet_args, gen_len, "gen_len", 14, 65535,
		       "frame bytes in mode=gen"),
};

static const struct simnet_args simnet_defaults = {
	.mtu = 1500,
	.max_vqp = 1,
	.mode = VDPA_NET_MODE_LOOP,
	.gen_len = SIMNET_GEN_LEN,
};

static int simnet_dev_add(struct vdpa_mgmt_dev *mdev,
			  const void *config, struct vdpa_device **out)
{
	const struct simnet_args *args = config;
	static const u8 no_mac[SIMNET_ETH_ALEN];
	static unsigned int next_mac;
	struct swdev_attr attr = {
		.device_id = VIRTIO_ID_NET,
		.ngroups = 2,
		.nas = 2,
		.config_size = sizeof(struct simnet_config),
		.work = simnet_work,
		.reset = simnet_reset,
		.update_config = simnet_update_config,
		.get_vq_group = simnet_get_vq_group,
		.free = simnet_free,
	};
	struct simnet *net;
	int ret;

	net = xzalloc(sizeof(*net));
	if (!net)
		return -ENOMEM;
	net->max_vqp = args->max_vqp;
	net->mtu = args->mtu;
	if (memcmp(args->mac, no_mac, SIMNET_ETH_ALEN)) {
		memcpy(net->default_mac, args->mac, SIMNET_ETH_ALEN);
	} else {
		/* Locally administered, unicast: 02:6b:65:73:xx:xx. */
		unsigned int n = __atomic_fetch_add(&next_mac, 1, __ATOMIC_RELAXED);
		const u8 mac[SIMNET_ETH_ALEN] = {
			0x02, 0x6b, 0x65, 0x73, (u8)(n >> 8), (u8)n
		};

		memcpy(net->default_mac, mac, SIMNET_ETH_ALEN);
	}
	attr.nvqs = 2u * net->max_vqp + 1;
	/*
	 * VIRTIO_F_IN_ORDER: every queue here completes chains in the order
	 * they were made available (loop, sink and gen take them one by one
	 * and complete them in that order; drops complete in place, abandon
	 * only rewinds), so the driver may use its cheaper in-order paths
	 * (DPDK's virtio PMD does; DPDK's own backend offers it too).
	 */
	attr.features = SWDEV_FEATURES |
			(1ULL << VIRTIO_F_IN_ORDER) |
			(1ULL << VIRTIO_NET_F_MAC) |
			(1ULL << VIRTIO_NET_F_MTU) |
			(1ULL << VIRTIO_NET_F_STATUS) |
			(1ULL << VIRTIO_NET_F_MRG_RXBUF) |
			(1ULL << VIRTIO_NET_F_CTRL_VQ) |
			(1ULL << VIRTIO_NET_F_CTRL_RX) |
			(1ULL << VIRTIO_NET_F_CTRL_MAC_ADDR);
	if (net->max_vqp > 1)
		attr.features |= 1ULL << VIRTIO_NET_F_MQ;
	vringh_iov_init(&net->hdr_wiov, net->hdr_store, SWDEV_IOV_INLINE, true);

	ret = swdev_init(&net->sw, &attr);
	if (ret)
		goto err_destroy;
	net->buf = xmalloc(sizeof(struct simnet_hdr) + SIMNET_MAX_FRAME);
	if (!net->buf) {
		ret = -ENOMEM;
		goto err_destroy;
	}
	net->mode = args->mode;
	net->gen_len = args->gen_len;
	if (net->mode == VDPA_NET_MODE_GEN) {
		struct simnet_hdr *hdr;
		u8 *f;

		net->gen = xzalloc(sizeof(struct simnet_hdr) + net->gen_len);
		if (!net->gen) {
			ret = -ENOMEM;
			goto err_destroy;
		}
		hdr = (struct simnet_hdr *)net->gen;
		hdr->num_buffers = cpu_to_le16(1);
		f = net->gen + sizeof(*hdr);
		memcpy(f + SIMNET_ETH_ALEN, SIMNET_GEN_SRC, SIMNET_ETH_ALEN);
		f[12] = SIMNET_GEN_TYPE >> 8;
		f[13] = SIMNET_GEN_TYPE & 0xff;
		for (u32 k = 0; k < net->gen_len - SIMNET_ETH_HLEN; k++)
			f[SIMNET_ETH_HLEN + k] = (u8)k;
	}
	simnet_reset(&net->sw);
	net->sw.poll = args->poll;
	ret = swdev_register(&net->sw, args->common.name);
	if (ret)
		goto err_destroy;
	*out = &net->sw.vdpa;
	return 0;

err_destroy:
	/* The caller reports it, naming the option or request (one line). */
	pr_debug("vdpa: cannot create net simulator: %s", strerror(-ret));
	swdev_destroy(&net->sw);
	return ret;
}

struct vdpa_mgmt_dev swdev_net_mgmt_dev = {
	.type = "net",
	.description = "network simulator (mode=loop: TX looped back to RX; sink; gen)",
	.device_id = VIRTIO_ID_NET,
	.attrs = simnet_attrs,
	.nattrs = ARRAY_SIZE(simnet_attrs),
	.config_size = sizeof(struct simnet_args),
	.defaults = &simnet_defaults,
	.dev_add = simnet_dev_add,
};
