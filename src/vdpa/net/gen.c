// SPDX-License-Identifier: GPL-2.0-only
/*
 * The gen backend (net,mode=gen; as DPDK testpmd txonly behind net_vhost):
 * every receive chain the driver posts gets one frame of gen_len bytes
 * (default 64) behind a virtio-net header (num_buffers 1, no offloads):
 * destination the device's current MAC, source GEN_SRC, EtherType 0x88b5
 * (local experimental), payload byte k = k & 0xff. Counted in the receive
 * queue's packets/bytes. A chain too small for header + frame is returned
 * empty (used len 0) and counted in drops; gen never merges buffers, so a
 * driver that posts only small buffers cannot make it hold a chain
 * forever. Transmit as in sink (net_sink_tx()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/fault.h>

#include "net.h"

/* Source address of generated frames (locally administered "kesgen"). */
#define GEN_SRC		"\x02\x6b\x65\x73\x67\x6e"
#define GEN_TYPE	0x88b5

/**
 * struct net_gen - a net device with the gen backend
 * @net: the class part (first)
 * @frame: the generated header + frame; the destination follows @net.mac
 * @len: bytes at @frame
 */
struct net_gen {
	struct net_dev net;
	u8 *frame;
	size_t len;
};

static struct net_gen *to_gen(struct net_dev *net)
{
	return container_of(net, struct net_gen, net);
}

static int gen_rx_chain(struct swdev *sw, struct swdev_vq *rxq, u16 head,
			u32 *len)
{
	struct net_gen *gen = to_gen(to_net_dev(sw));

	if (!swdev_limit(sw, NET_LIMIT_RX, gen->len - NET_HDR_LEN))
		return SWDEV_STALL;	/* the throttle timer brings us back */
	if (likely(vringh_iov_push(&rxq->wiov, gen->frame, gen->len) ==
		   (ssize_t)gen->len)) {
		*len = (u32)gen->len;
		rxq->stats.packets++;
		rxq->stats.bytes += gen->len - NET_HDR_LEN;
	} else {
		/* Too small (the policy at the top): returned empty. */
		rxq->stats.drops++;
	}
	return SWDEV_USED;
}

static bool gen_rx(struct net_dev *net, struct swdev_vq *rxq)
{
	return swdev_vq_service(&net->sw, rxq, SWDEV_CHAIN_OUT, gen_rx_chain);
}

/* The destination follows VIRTIO_NET_CTRL_MAC_ADDR_SET and reset. */
/*
 * The MAC changes under every worker's lock, and then this runs (net.h):
 * the other workers, which read the frame, see it written only then.
 */
static void gen_sync(struct net_dev *net)
{
	u8 *dst = to_gen(net)->frame + NET_HDR_LEN;

	if (memcmp(dst, net->mac, NET_ETH_ALEN))
		memcpy(dst, net->mac, NET_ETH_ALEN);
}

static int gen_open(struct net_dev *net, const struct net_type_args *args)
{
	const struct net_args *a = container_of(args, struct net_args, net);
	struct net_gen *gen = to_gen(net);
	u8 *f;

	gen->len = NET_HDR_LEN + a->gen_len;
	gen->frame = xzalloc(gen->len);
	if (!gen->frame)
		return -ENOMEM;
	((struct virtio_net_hdr_v1 *)gen->frame)->num_buffers = cpu_to_le16(1);
	f = gen->frame + NET_HDR_LEN;
	memcpy(f + NET_ETH_ALEN, GEN_SRC, NET_ETH_ALEN);
	f[12] = GEN_TYPE >> 8;
	f[13] = GEN_TYPE & 0xff;
	for (u32 k = 0; k < a->gen_len - NET_ETH_HLEN; k++)
		f[NET_ETH_HLEN + k] = (u8)k;
	return 0;
}

static void gen_close(struct net_dev *net)
{
	free(to_gen(net)->frame);
}

const struct net_backend_ops net_gen_ops = {
	.name = "gen",
	.size = sizeof(struct net_gen),
	.features = 1ULL << VIRTIO_F_IN_ORDER,
	.open = gen_open,
	.close = gen_close,
	.sync = gen_sync,
	.tx = net_sink_tx,
	.rx = gen_rx,
};
