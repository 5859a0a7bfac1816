// SPDX-License-Identifier: GPL-2.0-only
/*
 * The sink backend (net,mode=sink; as DPDK testpmd rxonly behind
 * net_vhost): transmit chains are checked by the class (a frame: header +
 * at least an Ethernet header, at most NET_FRAME_MAX; errors if not),
 * counted in the transmit queue's packets/bytes and completed; nothing is
 * read or delivered. Its drain is net_tx_chain() with no transmit
 * function at all, specialised: nothing is called per frame.
 */
#include "net.h"

static int sink_tx_chain(struct swdev *sw, struct swdev_vq *txq, u16 head,
			 u32 *len)
{
	return net_tx_chain(to_net_dev(sw), txq, NULL);
}

bool net_sink_tx(struct net_dev *net, struct swdev_vq *txq)
{
	return swdev_vq_service(&net->sw, txq, SWDEV_CHAIN_IN, sink_tx_chain);
}

const struct net_backend_ops net_sink_ops = {
	.name = "sink",
	.features = 1ULL << VIRTIO_F_IN_ORDER,
	.tx = net_sink_tx,
};
