// SPDX-License-Identifier: GPL-2.0-only
/*
 * The null backend (net,mode=null): every frame the driver transmits is
 * dropped, counted in the transmit queue's drops, and its chain completes;
 * nothing is ever received. What a new backend takes: one op.
 */
#include <errno.h>

#include "net.h"

static int null_transmit(struct net_dev *net, struct swdev_vq *txq, size_t len)
{
	return -ENOBUFS;
}

const struct net_backend_ops net_null_ops = {
	.name = "null",
	.features = 1ULL << VIRTIO_F_IN_ORDER,
	.transmit = null_transmit,
};
