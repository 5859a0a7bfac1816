/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The net class (private to src/vdpa/net/): virtio-net (virtio 1.2 §5.1)
 * written once on the software-device core, and the backends that say
 * where frames go. net.c owns config space, features, receive delivery
 * (single and mergeable buffers), transmit gather, counters, the control
 * queue, reset and creation; a backend supplies a struct net_backend_ops.
 *
 * Queues: receiveq N = 2N, transmitq N = 2N + 1, controlq (when the type
 * has one) = 2 * max_vqp (virtio 1.2 §5.1.2).
 *
 * Workers: one per queue pair by default (workers=N: N of them), pair P
 * served by worker P mod N, the control queue by worker 0, so pairs run
 * in parallel. A worker's pass holds its own lock only: what a pair uses
 * on its own is in its struct net_pair; what every pair reads (MAC,
 * filter, pairs in use) changes only under every worker's lock (the
 * control queue takes the others' locks, ops take them all).
 *
 * Limits (one set for every backend):
 *  - NET_FRAME_MAX: the largest frame, 64 KiB of payload (a GSO
 *    super-frame) plus an Ethernet and a VLAN header. A transmit chain
 *    longer than header + NET_FRAME_MAX, or shorter than header + Ethernet
 *    header, is not a frame: completed unsent and counted in errors.
 *  - NET_MRG_MAX: the most receive chains one merged frame may take, 256,
 *    or the ring size if smaller; a frame that needs more is dropped.
 * Both are the larger of what the two earlier copies (simulator and TAP)
 * had drifted to: 65535 vs 65536 bytes of payload, 256 vs 64 chains.
 */
#ifndef KESTREL_VDPA_NET_H
#define KESTREL_VDPA_NET_H

#include <errno.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <kestrel/vdpa-dev.h>

#include "../swdev/swdev.h"

#define NET_ETH_ALEN		6
#define NET_ETH_HLEN		14
/* struct virtio_net_hdr_v1: 12 bytes once VERSION_1 is negotiated (§5.1.6). */
#define NET_HDR_LEN		12
#define NET_FRAME_MAX		(65536 + NET_ETH_HLEN + 4)
#define NET_BUF_SIZE		(NET_HDR_LEN + NET_FRAME_MAX)
#define NET_MRG_MAX		256
#define NET_MAX_VQP		8

/*
 * The rate limits (struct swdev.limiter): frames delivered to the driver
 * and frames it transmits, each taking one operation and its bytes (the
 * frame without the vnet header). A throttled transmit chain goes back to
 * the ring; a frame read from the backend (tap) waits in the bounce buffer,
 * paid for once. The receive limit holds for frames the class reads and
 * for gen's; loop's are limited where they enter, on transmit. Every queue
 * pair shares the device's two limits.
 */
#define NET_LIMIT_RX		0
#define NET_LIMIT_TX		1

_Static_assert(sizeof(struct virtio_net_hdr_v1) == NET_HDR_LEN,
	       "virtio_net_hdr_v1 is 12 bytes");
_Static_assert(offsetof(struct virtio_net_hdr_v1, num_buffers) == 10,
	       "num_buffers offset");

struct net_dev;
struct net_type_args;

/**
 * struct net_pair - what one queue pair uses alone (its worker's lock)
 * @buf: bounce buffer for one frame with its header (NET_BUF_SIZE)
 * @pending: bytes of a received frame waiting in @buf for receive chains
 *	(backends with @ops->receive)
 * @pending_paid: the RX rate limit took the pending frame's tokens
 * @mrg_wiov: the second and later chains of a merged frame (the first
 *	stays in the receive queue's wiov: num_buffers is patched in last)
 * @mrg_store: inline storage of @mrg_wiov
 * @mrg_used: completions of one merged frame, published together
 */
struct net_pair {
	u8 *buf;
	size_t pending;
	bool pending_paid;
	struct vringh_iov mrg_wiov;
	struct iovec mrg_store[SWDEV_IOV_INLINE];
	struct vringh_used_elem mrg_used[NET_MRG_MAX];
};

/**
 * typedef net_transmit_fn - send one frame the driver transmitted
 * @net: the device (lock held)
 * @txq: the transmit queue; the frame (vnet header first) is in
 *	@txq->riov, cursor at its start
 * @len: its bytes, within the class's bounds
 *
 * Return: 0 sent (counted in packets/bytes); a negative errno: dropped
 * (counted in drops); SWDEV_STALL: not now, the chain goes back and the
 * pass ends (the backend is full, or it reported another queue's error).
 */
typedef int (*net_transmit_fn)(struct net_dev *net, struct swdev_vq *txq,
			       size_t len);

/**
 * struct net_backend_ops - where a net device's frames go
 * @name: the backend's name (the net type's mode= word, or the type)
 * @size: bytes of the backend's device struct, a struct net_dev first;
 *	0: a bare struct net_dev
 * @features: feature bits offered on top of the class's own
 * @open: (optional) set the backend up from @args, the start of the
 *	type's config struct; called before the device is registered
 * @close: (optional) undo @open; called once @open was called, whether
 *	it succeeded or not
 * @sync: (optional) at the start of every pass of worker 0, and under
 *	every lock after the control queue changed device state: follow the
 *	negotiated features or the device state
 * @reset: (optional) device reset (every lock held)
 * @set_pairs: (optional) the driver uses @pairs queue pairs from now
 *	(VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, and 1 at reset; every lock held):
 *	the backend feeds pairs below @pairs only. Return 0, or a negative
 *	errno: the command fails and the pairs in use stay as they were
 * @transmit: (optional) one frame per call, through the class's transmit
 *	drain; NULL: frames are consumed (counted as sent). An indirect call
 *	per frame: a backend on the fast path drains itself with @tx
 * @receive: (optional) read the next frame for receive queue @rxq
 *	(vnet header first) into @buf, at most @size bytes. Return its length, or a
 *	negative errno when there is none now: the backend then wakes the
 *	worker when there is (an fd in swdev.epfd). Used by the class's
 *	receive drain: the frame waits in the bounce buffer until the driver
 *	posts room for it
 * @tx: (optional) drain a transmit queue itself, with swdev_vq_service()
 *	and net_tx_chain() specialised on its own transmit function; NULL:
 *	the class drains it through @transmit
 * @rx: (optional) fill a receive queue itself (swdev_vq_service()); NULL:
 *	the class drains it through @receive, if any
 *
 * @seccomp: the worker's thread kind (struct swdev_attr)
 *
 * @tx and @rx return true when their budget ran out (another pass at once).
 */
struct net_backend_ops {
	const char *name;
	size_t size;
	u64 features;
	int (*open)(struct net_dev *net, const struct net_type_args *args);
	void (*close)(struct net_dev *net);
	void (*sync)(struct net_dev *net);
	void (*reset)(struct net_dev *net);
	int (*set_pairs)(struct net_dev *net, u16 pairs);
	net_transmit_fn transmit;
	ssize_t (*receive)(struct net_dev *net, struct swdev_vq *rxq, u8 *buf,
			   size_t size);
	bool (*tx)(struct net_dev *net, struct swdev_vq *txq);
	bool (*rx)(struct net_dev *net, struct swdev_vq *rxq);
	enum seccomp_thread seccomp;
};

/**
 * struct net_dev - a virtio-net device (under every worker's lock, reads
 *	under any, unless noted)
 * @sw: the software-device core (first: freed through it)
 * @ops: its backend
 * @mac: current MAC (VIRTIO_NET_CTRL_MAC_ADDR_SET changes it)
 * @default_mac: MAC given or generated at creation, restored by reset
 * @mtu: MTU offered in config space; 0: VIRTIO_NET_F_MTU not offered
 * @max_vqp: queue pairs
 * @nworkers: worker threads (swdev_attr.nworkers), 1..@max_vqp
 * @curr_vqp: pairs in use (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET)
 * @backend_pairs: pairs the backend feeds (@ops->set_pairs last asked)
 * @cvq: the device has a control queue
 * @promisc: receive every frame (default on, like a loopback wire)
 * @allmulti: receive every multicast frame (default on)
 * @opened: @ops->open was called (so @ops->close is due)
 * @pairs: @max_vqp pairs' own state (each under its worker's lock)
 */
struct net_dev {
	struct swdev sw;
	const struct net_backend_ops *ops;
	u8 mac[NET_ETH_ALEN];
	u8 default_mac[NET_ETH_ALEN];
	u16 mtu;
	u16 max_vqp;
	u16 nworkers;
	u16 curr_vqp;
	u16 backend_pairs;
	bool cvq;
	bool promisc;
	bool allmulti;
	bool opened;
	struct net_pair pairs[NET_MAX_VQP];
};

static inline struct net_dev *to_net_dev(struct swdev *sw)
{
	return container_of(sw, struct net_dev, sw);
}

/** net_rxq_of() - the receive queue of @txq's pair (virtio 1.2 §5.1.2) */
static inline struct swdev_vq *net_rxq_of(struct swdev_vq *txq)
{
	return txq - 1;
}

/** net_pair_index() - the queue pair of data queue @vq */
static inline u16 net_pair_index(const struct net_dev *net,
				 const struct swdev_vq *vq)
{
	return (u16)((vq - net->sw.vqs) / 2);
}

/** net_pair_of() - the own state of data queue @vq's pair */
static inline struct net_pair *net_pair_of(struct net_dev *net,
					   const struct swdev_vq *vq)
{
	return &net->pairs[net_pair_index(net, vq)];
}

/**
 * net_rx_deliver_slow() - net_rx_deliver() when the frame may not go
 *	straight into its first chain (filter on, chain too small: merge or drop)
 */
int net_rx_deliver_slow(struct net_dev *net, struct swdev_vq *rxq, u16 head,
			u8 *frame, size_t len, bool wait);

/* One chain takes the whole frame: num_buffers 1 (virtio 1.2 §5.1.6.4). */
static __always_inline int net_rx_single(struct net_dev *net,
					 struct swdev_vq *rxq, u16 head,
					 u8 *frame, size_t len)
{
	((struct virtio_net_hdr_v1 *)frame)->num_buffers = cpu_to_le16(1);
	vringh_iov_push(&rxq->wiov, frame, len);
	if (unlikely(!swdev_vq_stage(&net->sw, rxq, head, (u32)len)))
		return -EIO;
	rxq->stats.packets++;
	rxq->stats.bytes += len - NET_HDR_LEN;
	return 0;
}

/**
 * net_rx_deliver() - put one frame into a receive queue: the one receive
 *	path of every backend
 * @net: the device (lock held)
 * @rxq: the receive queue
 * @head: the frame's first chain, already taken (its buffers in @rxq->wiov)
 * @frame: vnet header + frame; num_buffers is written into it
 * @len: bytes at @frame
 * @wait: when the ring runs out in the middle of a merged frame, re-arm
 *	kicks (race-checked, all chains still taken) before giving up
 *
 * Inline for the common case (no filter, the first chain big enough).
 *
 * Return: 0 delivered (staged on @rxq); -ENOBUFS dropped and counted;
 * -EAGAIN too few chains now; -ENOMEM no memory for a chain now; -EIO the
 * ring broke (reported). On failure every chain but @head is given back.
 */
static __always_inline int net_rx_deliver(struct net_dev *net,
					  struct swdev_vq *rxq, u16 head,
					  u8 *frame, size_t len, bool wait)
{
	if (likely(net->promisc && vringh_iov_length(&rxq->wiov) >= len))
		return net_rx_single(net, rxq, head, frame, len);
	return net_rx_deliver_slow(net, rxq, head, frame, len, wait);
}

/**
 * net_rx_push() - deliver a frame to a receive queue without waiting
 * @net: the device (lock held)
 * @rxq: the receive queue; its chains are taken here
 * @frame: vnet header + frame (num_buffers is written into it)
 * @len: bytes at @frame
 *
 * For backends that produce frames as the driver transmits (loop): with
 * no receive buffer, or too few for a merged frame, the frame is dropped
 * and counted in @rxq's drops, like a NIC whose receive ring is empty.
 * Completions are staged on @rxq: publish them with net_rx_publish().
 *
 * Return: 0 (delivered or dropped), or SWDEV_STALL: @rxq's ring broke
 * (reported; the device needs reset).
 */
static __always_inline int net_rx_push(struct net_dev *net,
				       struct swdev_vq *rxq, u8 *frame,
				       size_t len)
{
	u16 head;
	int ret = vringh_getdesc(&rxq->vring, NULL, &rxq->wiov, &head);

	if (likely(ret > 0)) {
		ret = net_rx_deliver(net, rxq, head, frame, len, false);
		if (likely(ret == 0))
			return 0;
		vringh_abandon(&rxq->vring, 1);
		if (ret == -ENOBUFS)
			return 0;
		if (ret == -EIO)
			return SWDEV_STALL;
	} else if (ret < 0 && ret != -ENOMEM) {
		swdev_vq_error(&net->sw, rxq, ret);
		return SWDEV_STALL;
	}
	/* No receive buffer, or too few: dropped (the policy of net.c). */
	rxq->stats.drops++;
	return 0;
}

/**
 * net_rx_publish() - publish @rxq's staged completions, interrupt if asked
 * @net: the device (lock held)
 * @rxq: a started receive queue
 *
 * Nothing is published once the device needs reset.
 */
void net_rx_publish(struct net_dev *net, struct swdev_vq *rxq);

/**
 * net_tx_chain() - the class's transmit gather, for one chain
 * @net: the device (lock held)
 * @txq: the transmit queue, the chain in @txq->riov
 * @transmit: what sends the frame; NULL: consumed
 *
 * Bounds the frame (see NET_FRAME_MAX), hands it to @transmit and counts
 * it; the chain completes with used length 0. Inline so that a backend
 * calling it from its own chain handler with its own @transmit gets a
 * direct call: swdev_vq_service(..., SWDEV_CHAIN_IN, handler) then has no
 * indirect call per frame.
 *
 * Return: an enum swdev_verdict for swdev_vq_service().
 */
static __always_inline int net_tx_chain(struct net_dev *net,
					struct swdev_vq *txq,
					net_transmit_fn transmit)
{
	size_t len = vringh_iov_length(&txq->riov);
	int ret = 0;

	if (unlikely(len < NET_HDR_LEN + NET_ETH_HLEN ||
		     len > NET_HDR_LEN + NET_FRAME_MAX)) {
		txq->stats.errors++;
		return SWDEV_USED;
	}
	if (!swdev_limit(&net->sw, NET_LIMIT_TX, len - NET_HDR_LEN))
		return SWDEV_STALL;	/* the throttle timer brings us back */
	if (transmit)
		ret = transmit(net, txq, len);
	if (likely(ret == 0)) {
		txq->stats.packets++;
		txq->stats.bytes += len - NET_HDR_LEN;
	} else if (ret == SWDEV_STALL) {
		return SWDEV_STALL;
	} else {
		txq->stats.drops++;
	}
	return SWDEV_USED;
}

/**
 * struct net_mac_gen - how a type makes MACs nobody gave
 * @prefix: the first four bytes (locally administered, unicast)
 * @next: sequence of the next one, the last two bytes (atomic)
 */
struct net_mac_gen {
	u8 prefix[4];
	unsigned int next;
};

/**
 * struct net_type_args - what the config struct of every net type begins
 *	with (the type's attribute table fills it, its defaults too)
 * @common: name
 * @mac: the MAC; all zero: generated by the type's struct net_mac_gen
 * @mtu: MTU offered, 0: VIRTIO_NET_F_MTU not offered
 * @max_vqp: queue pairs, 1..NET_MAX_VQP (VIRTIO_NET_F_MQ above 1; needs a
 *	control queue)
 * @workers: worker threads, 0: one per queue pair; at most @max_vqp
 * @poll: busy-poll mode (swdev.poll)
 * @limit: the rate limits, by NET_LIMIT_RX / NET_LIMIT_TX
 */
struct net_type_args {
	struct vdpa_dev_args common;
	u8 mac[NET_ETH_ALEN];
	u16 mtu;
	u16 max_vqp;
	u16 workers;
	bool poll;
	struct vdpa_rate_limit limit[2];
};

/* The attribute table entries of max_vqp and workers of a net type's args. */
#define NET_ATTRS_MQ(type, field)					\
	VDPA_ATTR_UINT(type, field.max_vqp, "max_vqp", 1, NET_MAX_VQP,	\
		       "queue pairs (VIRTIO_NET_F_MQ above 1)"),		\
	VDPA_ATTR_UINT(type, field.workers, "workers", 1, NET_MAX_VQP,	\
		       "worker threads (default: one per queue pair)")

/* The attribute table entries of the limits of a net type's args at @field. */
#define NET_ATTRS_LIMIT(type, field)					\
	SWDEV_ATTRS_LIMIT(type, field.limit[NET_LIMIT_RX], "rx_", "receive limit"), \
	SWDEV_ATTRS_LIMIT(type, field.limit[NET_LIMIT_TX], "tx_", "transmit limit")

/**
 * net_create() - build and register a net device
 * @ops: its backend
 * @args: the type's config struct, for @ops->open too
 * @mac_gen: the type's MAC generator
 * @cvq: a control queue (group 1, its own address space), with CTRL_RX
 *	and CTRL_MAC_ADDR
 * @out: the registered device
 *
 * Return: 0 or -errno (logged at debug level; the backend logs its own).
 */
int net_create(const struct net_backend_ops *ops,
	       const struct net_type_args *args, struct net_mac_gen *mac_gen,
	       bool cvq, struct vdpa_device **out);

/**
 * struct net_args - creation attributes of the "net" type (net.c)
 * @net: name, mac (generated: 02:6b:65:73:xx:xx), mtu, max_vqp, poll
 * @mode: index into the type's backends (loop, sink, gen, null)
 * @gen_len: frame bytes of mode=gen
 */
struct net_args {
	struct net_type_args net;
	u32 mode;
	u32 gen_len;
};

/**
 * net_sink_tx() - drain a transmit queue, consuming every frame (sink's
 *	struct net_backend_ops.tx, for backends that transmit as sink does)
 */
bool net_sink_tx(struct net_dev *net, struct swdev_vq *txq);

/* The backends. */
extern const struct net_backend_ops net_loop_ops;
extern const struct net_backend_ops net_sink_ops;
extern const struct net_backend_ops net_gen_ops;
extern const struct net_backend_ops net_null_ops;

#endif /* KESTREL_VDPA_NET_H */
