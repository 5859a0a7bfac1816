// SPDX-License-Identifier: GPL-2.0-only
/*
 * The loop backend (net,mode=loop, the default): every frame a driver
 * transmits on queue pair N comes back on the receive queue of pair N,
 * virtio-net header and all, through the class's receive path (no buffer:
 * dropped and counted, see net.c). The transmit drain is specialised on
 * loop_transmit(), a direct call: no indirect call per frame.
 */
#include "net.h"

static int loop_transmit(struct net_dev *net, struct swdev_vq *txq, size_t len)
{
	u8 *buf = net_pair_of(net, txq)->buf;

	vringh_iov_pull(&txq->riov, buf, len);
	return net_rx_push(net, net_rxq_of(txq), buf, len);
}

static int loop_tx_chain(struct swdev *sw, struct swdev_vq *txq, u16 head,
			 u32 *len)
{
	return net_tx_chain(to_net_dev(sw), txq, loop_transmit);
}

static bool loop_tx(struct net_dev *net, struct swdev_vq *txq)
{
	struct swdev_vq *rxq = net_rxq_of(txq);
	bool more;

	/* Nowhere to loop frames to yet: they wait on the transmit ring. */
	if (!rxq->started)
		return false;
	/* Frames are pushed, never waited for: no receive kicks wanted. */
	vringh_notify_disable(&rxq->vring);
	more = swdev_vq_service(&net->sw, txq, SWDEV_CHAIN_IN, loop_tx_chain);
	net_rx_publish(net, rxq);
	return more;
}

const struct net_backend_ops net_loop_ops = {
	.name = "loop",
	.features = 1ULL << VIRTIO_F_IN_ORDER,
	.tx = loop_tx,
};
