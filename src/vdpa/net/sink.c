// SPDX-License-Identifier: GPL-2.0-only
/*
 * The sink backend (net,mode=sink; as DPDK testpmd rxonly behind
 * net_vhost): transmit chains are checked by the class (a frame: header +
 * at least an Ethernet header, at most NET_FRAME_MAX; errors if not),
 * counted in the transmit queue's packets/bytes and completed; nothing is
 * read or delivered. Without a transmit op the class's drain makes no
 * call per frame.
 */
#include "net.h"

const struct net_backend_ops net_sink_ops = {
	.name = "sink",
	.features = 1ULL << VIRTIO_F_IN_ORDER,
};
