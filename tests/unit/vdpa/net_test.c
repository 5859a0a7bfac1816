// SPDX-License-Identifier: GPL-2.0-only
/*
 * The loopback net simulator driven by the in-process driver through the
 * bus wrappers: traffic both ways, mergeable RX, drops, control queue,
 * suspend/resume, hostile rings and recovery by reset.
 */
#include <errno.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <kestrel/vdpa.h>

#include "../test.h"
#include "driver.h"

#define RXQ	0
#define TXQ	1
#define CVQ	2
#define HDR	12
#define NUM	256

static const u8 dev_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static const u64 base_features =
	(1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM) |
	(1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_MTU) |
	(1ULL << VIRTIO_NET_F_STATUS) | (1ULL << VIRTIO_NET_F_CTRL_VQ) |
	(1ULL << VIRTIO_NET_F_CTRL_RX) | (1ULL << VIRTIO_NET_F_CTRL_MAC_ADDR) |
	VRINGH_F_EVENT_IDX | VRINGH_F_INDIRECT_DESC;

static int net_up(struct vdrv *d, u64 features, bool kickfd)
{
	int ret = vdrv_negotiate(d, features);

	for (u16 q = 0; !ret && q < 3; q++)
		ret = vdrv_vq_setup(d, q, NUM);
	if (!ret && kickfd)
		ret = vdrv_vq_use_kickfd(d, TXQ);
	if (!ret && kickfd)
		ret = vdrv_vq_use_kickfd(d, RXQ);
	if (!ret)
		ret = vdrv_driver_ok(d);
	return ret;
}

static void fill_frame(u8 *f, size_t len, const u8 *dst, unsigned int seq)
{
	memset(f, 0, HDR);
	memcpy(f + HDR, dst, 6);
	memcpy(f + HDR + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[HDR + 12] = 0x88;
	f[HDR + 13] = 0xb5;
	for (size_t i = HDR + 14; i < len; i++)
		f[i] = (u8)(seq * 7 + i);
}

static int post_rx(struct vdrv *d, unsigned int n, u32 size, u8 **bufs)
{
	for (unsigned int i = 0; i < n; i++) {
		struct vdrv_sg sg;

		bufs[i] = vdrv_alloc(d, size, 64);
		if (!bufs[i])
			return -ENOMEM;
		sg = (struct vdrv_sg){ bufs[i], size, true };
		if (vdrv_add(d, RXQ, &sg, 1) < 0)
			return -ENOSPC;
	}
	vdrv_publish(d, RXQ);
	vdrv_kick(d, RXQ);
	return 0;
}

static int send_frame(struct vdrv *d, u8 *frame, size_t len)
{
	/* Header and frame in two descriptors, as Linux does. */
	struct vdrv_sg sg[2] = {
		{ frame, HDR, false },
		{ frame + HDR, (u32)(len - HDR), false },
	};
	int head = vdrv_add(d, TXQ, sg, 2);

	return head < 0 ? head : 0;
}

static void test_traffic(struct vdpa_device *vdpa, bool kickfd)
{
	enum { N = 64, FLEN = HDR + 64 };
	struct vdrv d;
	u8 *rx[N], *tx[N];
	unsigned int ok = 0, txdone = 0;
	struct vdpa_vq_stats st;
	u16 head;
	u32 len;

	report_prefix_push(kickfd ? "traffic-kickfd" : "traffic");
	vdrv_init(&d, vdpa, 4 << 20);
	report_eq(vdrv_map(&d, 0), 0, "dma_map guest memory");
	report_eq(net_up(&d, base_features, kickfd), 0, "bring-up");
	report_eq(post_rx(&d, N, 2048, rx), 0, "post %d RX buffers", N);

	for (unsigned int i = 0; i < N; i++) {
		tx[i] = vdrv_alloc(&d, FLEN, 64);
		fill_frame(tx[i], FLEN, dev_mac, i);
		send_frame(&d, tx[i], FLEN);
	}
	vdrv_publish(&d, TXQ);
	vdrv_kick(&d, TXQ);

	for (unsigned int i = 0; i < N; i++) {
		if (!vdrv_await_used(&d, RXQ, &head, &len))
			break;
		/* RX chains are used in order: head i is buffer i. */
		if (head < N && len == FLEN &&
		    rx[head][HDR - 2] == 1 && rx[head][HDR - 1] == 0 &&
		    !memcmp(rx[head] + HDR, tx[i] + HDR, FLEN - HDR))
			ok++;
	}
	report_eq(ok, N, "%u/%d frames back with contents intact", ok, N);
	while (txdone < N && vdrv_await_used(&d, TXQ, &head, &len))
		txdone += len == 0;
	report_eq(txdone, N, "%u/%d TX chains completed with len 0", txdone, N);
	report_eq(vdrv_get_used(&d, TXQ, &head, &len), 0, "and no more");
	vdpa_get_vq_stats(vdpa, TXQ, &st);
	check_eq(st.packets, N);
	check_eq(st.bytes, (u64)N * (FLEN - HDR));
	report_checks("TX counters %llu packets %llu bytes", (unsigned long long)st.packets,
		      (unsigned long long)st.bytes);
	vdpa_get_vq_stats(vdpa, RXQ, &st);
	check_eq(st.packets, N);
	check_eq(st.drops, 0);
	report_checks("RX counters %llu packets", (unsigned long long)st.packets);
	report_gt(d.vqs[RXQ].irqs, 0, "RX interrupts raised (%u)", d.vqs[RXQ].irqs);
	report_eq((vdpa_get_status(vdpa) & VIRTIO_CONFIG_S_NEEDS_RESET), 0, "no NEEDS_RESET");
	vdpa_reset(vdpa);
	vdpa_dma_unmap(vdpa, 0, d.iova, d.size);
	vdrv_fini(&d);
	report_prefix_pop();
}

static void test_mergeable(struct vdpa_device *vdpa)
{
	enum { FLEN = HDR + 1000, BUF = 256 };
	struct vdrv d;
	u8 *rx[8], *tx, got[FLEN];
	unsigned int n = 0;
	size_t off = 0;
	u16 head;
	u32 len;

	report_prefix_push("mergeable");
	vdrv_init(&d, vdpa, 1 << 20);
	vdrv_map(&d, 0);
	report_eq(net_up(&d, base_features | (1ULL << VIRTIO_NET_F_MRG_RXBUF), false), 0,
		  "bring-up with MRG_RXBUF");
	post_rx(&d, 8, BUF, rx);
	tx = vdrv_alloc(&d, FLEN, 64);
	fill_frame(tx, FLEN, dev_mac, 3);
	send_frame(&d, tx, FLEN);
	vdrv_publish(&d, TXQ);
	vdrv_kick(&d, TXQ);
	while (off < FLEN && vdrv_await_used(&d, RXQ, &head, &len)) {
		if (head >= 8 || len > BUF)
			break;
		memcpy(got + off, rx[head], len);
		off += len;
		n++;
	}
	report_eq(n, (FLEN + BUF - 1) / BUF, "frame spread over %u buffers", n);
	check_eq(off, FLEN);
	check_eq(got[HDR - 2], n);
	check_eq(got[HDR - 1], 0);
	report_checks("num_buffers = %u in the header", got[HDR - 2]);
	check_eq(off, FLEN);
	check_mem(got + HDR, tx + HDR, FLEN - HDR);
	report_checks("merged contents intact");
	vdpa_reset(vdpa);
	vdpa_dma_unmap(vdpa, 0, d.iova, d.size);
	vdrv_fini(&d);
	report_prefix_pop();
}

static void test_small_rx(struct vdpa_device *vdpa)
{
	enum { FLEN = HDR + 64 };
	struct vdrv d;
	struct vdpa_vq_stats st;
	u8 *rx[2], *tx;
	u16 head;
	u32 len;

	report_prefix_push("small-rx");
	vdrv_init(&d, vdpa, 1 << 20);
	vdrv_map(&d, 0);
	net_up(&d, base_features, false);
	post_rx(&d, 1, 40, rx);
	tx = vdrv_alloc(&d, FLEN, 64);
	fill_frame(tx, FLEN, dev_mac, 1);
	send_frame(&d, tx, FLEN);
	vdrv_publish(&d, TXQ);
	vdrv_kick(&d, TXQ);
	report_eq(vdrv_await_used(&d, TXQ, &head, &len), 1, "TX chain completed");
	report_eq(vdrv_get_used(&d, RXQ, &head, &len), 0, "no truncated frame delivered");
	vdpa_get_vq_stats(vdpa, RXQ, &st);
	report_eq(st.drops, 1, "drop counted (%llu)", (unsigned long long)st.drops);
	report_eq((vdpa_get_status(vdpa) & VIRTIO_CONFIG_S_NEEDS_RESET), 0,
		  "a guest mistake, not a device error");
	vdpa_reset(vdpa);
	vdpa_dma_unmap(vdpa, 0, d.iova, d.size);
	vdrv_fini(&d);
	report_prefix_pop();
}

/*
 * No receive buffer at all: the frame is dropped and counted (the policy in
 * sim/net.c), the transmit chain completes, and a frame sent after RX
 * buffers arrive is delivered (no stale frame held back in front of it).
 */
static void test_no_rx_buffer(struct vdpa_device *vdpa)
{
	enum { FLEN = HDR + 64, N = 8 };
	struct vdrv d;
	struct vdpa_vq_stats st;
	u8 *rx[1], *tx[N + 1];
	unsigned int txdone = 0;
	u16 head;
	u32 len;

	report_prefix_push("no-rx-buffer");
	vdrv_init(&d, vdpa, 1 << 20);
	vdrv_map(&d, 0);
	net_up(&d, base_features, false);
	for (unsigned int i = 0; i < N; i++) {
		tx[i] = vdrv_alloc(&d, FLEN, 64);
		fill_frame(tx[i], FLEN, dev_mac, i);
		send_frame(&d, tx[i], FLEN);
	}
	vdrv_publish(&d, TXQ);
	vdrv_kick(&d, TXQ);
	while (txdone < N && vdrv_await_used(&d, TXQ, &head, &len))
		txdone++;
	report_eq(txdone, N, "%u/%d TX chains completed without RX buffers", txdone, N);
	vdpa_get_vq_stats(vdpa, RXQ, &st);
	check_eq(st.drops, N);
	check_eq(st.packets, 0);
	report_checks("RX drops counted (%llu)", (unsigned long long)st.drops);
	vdpa_get_vq_stats(vdpa, TXQ, &st);
	report_eq(st.packets, N, "TX counted them sent (%llu)", (unsigned long long)st.packets);

	post_rx(&d, 1, 2048, rx);
	tx[N] = vdrv_alloc(&d, FLEN, 64);
	fill_frame(tx[N], FLEN, dev_mac, 77);
	send_frame(&d, tx[N], FLEN);
	vdrv_publish(&d, TXQ);
	vdrv_kick(&d, TXQ);
	check_eq(vdrv_await_used(&d, RXQ, &head, &len), 1);
	check_eq(len, FLEN);
	check_mem(rx[0] + HDR, tx[N] + HDR, FLEN - HDR);
	report_checks("the next frame is delivered once RX buffers exist");
	report_eq((vdpa_get_status(vdpa) & VIRTIO_CONFIG_S_NEEDS_RESET), 0, "not a device error");
	vdpa_reset(vdpa);
	vdpa_dma_unmap(vdpa, 0, d.iova, d.size);
	vdrv_fini(&d);
	report_prefix_pop();
}

static u8 ctrl_cmd(struct vdrv *d, u8 class, u8 cmd, const void *data,
		   u32 dlen)
{
	return vdrv_net_ctrl(d, CVQ, class, cmd, data, dlen, true);
}

static void test_ctrl(struct vdpa_device *vdpa)
{
	static const u8 new_mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
	static const u8 other[6] = { 0x52, 0x54, 0x00, 0x99, 0x99, 0x99 };
	enum { FLEN = HDR + 64 };
	struct vdrv d;
	u8 cfg[6], off = 0, *rx[4], *tx;
	struct vdpa_vq_stats st;
	u16 head;
	u32 len;

	report_prefix_push("ctrl");
	vdrv_init(&d, vdpa, 1 << 20);
	vdrv_map(&d, 0);
	vdrv_map(&d, 1);
	report_eq(vdrv_negotiate(&d, base_features), 0, "negotiate");
	check_eq(vdpa_get_vq_group(vdpa, CVQ), 1);
	check_eq(vdpa_get_vq_group(vdpa, RXQ), 0);
	report_checks("control queue in group 1");
	report_eq(vdpa_set_group_asid(vdpa, 1, 1), 0, "control group bound to address space 1");
	for (u16 q = 0; q < 3; q++)
		vdrv_vq_setup(&d, q, NUM);
	vdrv_driver_ok(&d);

	report_eq(ctrl_cmd(&d, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, new_mac, 6),
		  VIRTIO_NET_OK, "MAC_ADDR_SET acked OK");
	vdpa_get_config(vdpa, 0, cfg, 6);
	report_mem(cfg, new_mac, 6, "config space shows the new MAC");
	report_eq(ctrl_cmd(&d, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, new_mac, 5),
		  VIRTIO_NET_ERR, "short MAC refused (ERR)");
	report_eq(ctrl_cmd(&d, 77, 0, NULL, 0), VIRTIO_NET_ERR, "unknown class refused (ERR)");
	report_eq(ctrl_cmd(&d, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1),
		  VIRTIO_NET_OK, "promisc off acked");

	post_rx(&d, 4, 2048, rx);
	tx = vdrv_alloc(&d, FLEN, 64);
	fill_frame(tx, FLEN, other, 1);
	send_frame(&d, tx, FLEN);
	vdrv_publish(&d, TXQ);
	vdrv_kick(&d, TXQ);
	vdrv_await_used(&d, TXQ, &head, &len);
	vdpa_get_vq_stats(vdpa, RXQ, &st);
	check_eq(st.drops, 1);
	check_eq(vdrv_get_used(&d, RXQ, &head, &len), 0);
	report_checks("frame to a foreign MAC filtered without promisc");
	tx = vdrv_alloc(&d, FLEN, 64);
	fill_frame(tx, FLEN, new_mac, 2);
	send_frame(&d, tx, FLEN);
	vdrv_publish(&d, TXQ);
	vdrv_kick(&d, TXQ);
	check_eq(vdrv_await_used(&d, RXQ, &head, &len), 1);
	check_eq(len, FLEN);
	report_checks("frame to the new MAC received");

	vdpa_reset(vdpa);
	vdpa_get_config(vdpa, 0, cfg, 6);
	report_mem(cfg, dev_mac, 6, "reset restores the MAC");
	vdpa_dma_unmap(vdpa, 0, d.iova, d.size);
	vdpa_dma_unmap(vdpa, 1, d.iova, d.size);
	vdrv_fini(&d);
	report_prefix_pop();
}

static void test_config(struct vdpa_device *vdpa)
{
	struct virtio_net_config cfg;
	size_t size = vdpa_get_config_size(vdpa);

	report_prefix_push("config");
	memset(&cfg, 0, sizeof(cfg));
	check_ge(size, 12);
	check_eq(vdpa_get_config(vdpa, 0, &cfg, 12), 0);
	report_checks("config readable (%zu bytes)", size);
	report_mem(cfg.mac, dev_mac, 6, "mac from the spec");
	report_eq(cfg.mtu, 9000, "mtu from the spec (%u)", cfg.mtu);
	report_eq(cfg.max_virtqueue_pairs, 1, "max_virtqueue_pairs 1");
	report(cfg.status & VIRTIO_NET_S_LINK_UP, "link up");
	report_err(vdpa_get_config(vdpa, (unsigned int)size, &cfg, 1), -EINVAL,
		   "read past the end refused");
	report_eq(vdpa_get_device_id(vdpa), 1, "device id 1");
	report_prefix_pop();
}

static void test_suspend(struct vdpa_device *vdpa)
{
	enum { FLEN = HDR + 64 };
	struct vdrv d;
	struct vdpa_vq_state state;
	u8 *rx[2], *tx;
	u16 head;
	u32 len;

	report_prefix_push("suspend");
	vdrv_init(&d, vdpa, 1 << 20);
	vdrv_map(&d, 0);
	net_up(&d, base_features, true);
	post_rx(&d, 2, 2048, rx);
	report_eq(vdpa_suspend(vdpa), 0, "suspend");
	tx = vdrv_alloc(&d, FLEN, 64);
	fill_frame(tx, FLEN, dev_mac, 9);
	send_frame(&d, tx, FLEN);
	vdrv_publish(&d, TXQ);
	vdrv_kick(&d, TXQ);
	report_eq(vdrv_await_used(&d, TXQ, &head, &len), 0, "nothing processed while suspended");
	check_eq(vdpa_get_vq_state(vdpa, TXQ, &state), 0);
	if (vdrv_packed) {
		/* Position 0 of the first lap: wrap counters 1. */
		check_eq(state.packed.last_avail_idx, 0);
		check_eq(state.packed.last_avail_counter, 1);
		check_eq(state.packed.last_used_counter, 1);
	} else {
		check_eq(state.split.avail_index, 0);
	}
	report_checks("TX state still at 0");
	report_eq(vdpa_resume(vdpa), 0, "resume");
	report_eq(vdrv_await_used(&d, RXQ, &head, &len), 1,
		  "pending kick acted on after resume");
	report_err(vdpa_resume(vdpa), -EINVAL, "resume when not suspended refused");
	vdpa_reset(vdpa);
	vdpa_dma_unmap(vdpa, 0, d.iova, d.size);
	vdrv_fini(&d);
	report_prefix_pop();
}

/*
 * Packed: expose one descriptor as given at the avail position (flags get
 * this lap's AVAIL/USED bits), visible at once. For the hostile cases.
 */
static void packed_raw(struct vdrv *d, u16 q, u64 iova, u32 len, u16 flags, u16 id)
{
	struct vdrv_vq *vq = &d->vqs[q];
	struct vringh_packed_desc *desc = &((struct vringh_packed_desc *)vq->desc)[vq->avail_idx];

	desc->addr = cpu_to_le64(iova);
	desc->len = cpu_to_le32(len);
	desc->id = cpu_to_le16(id);
	flags |= vq->avail_wrap ? VRINGH_DESC_F_AVAIL : VRINGH_DESC_F_USED;
	__atomic_store_n(&desc->flags, cpu_to_le16(flags), __ATOMIC_RELEASE);
	if (++vq->avail_idx == vq->num) {
		vq->avail_idx = 0;
		vq->avail_wrap = !vq->avail_wrap;
	}
}

/* A head (split) or buffer ID (packed) past the ring. */
static void bad_head(struct vdrv *d, u16 q, u64 iova)
{
	if (vdrv_packed) {
		packed_raw(d, q, iova, 64, q == RXQ ? VRINGH_DESC_F_WRITE : 0, NUM + 5);
		return;
	}
	d->vqs[q].avail->ring[0] = cpu_to_le16(NUM + 5);
	d->vqs[q].avail_idx = 1;
	vdrv_publish(d, q);
}

/* One descriptor at an address no mapping covers. */
static void unmapped_buffer(struct vdrv *d, u16 q, u32 len, u16 flags)
{
	if (vdrv_packed) {
		packed_raw(d, q, 0xdead0000, len, flags, 0);
		return;
	}
	d->vqs[q].desc[0] = (struct vringh_desc){
		.addr = cpu_to_le64(0xdead0000), .len = cpu_to_le32(len),
		.flags = cpu_to_le16(flags) };
	d->vqs[q].avail->ring[0] = 0;
	d->vqs[q].avail_idx = 1;
	vdrv_publish(d, q);
}

static void test_hostile(struct vdpa_device *vdpa)
{
	enum { FLEN = HDR + 64 };
	struct vdrv d;
	u8 *rx[2], *tx;
	u16 head;
	u32 len;

	report_prefix_push("hostile");
	vdrv_init(&d, vdpa, 1 << 20);
	vdrv_map(&d, 0);
	net_up(&d, base_features, false);

	/* An avail entry naming a head past the ring. */
	tx = vdrv_alloc(&d, FLEN, 64);
	bad_head(&d, TXQ, vdrv_iova(&d, tx));
	vdpa_kick_vq(vdpa, TXQ);
	report(vdrv_await_status(&d, VIRTIO_CONFIG_S_NEEDS_RESET),
	       "bad head index: NEEDS_RESET");
	report_ge(__atomic_load_n(&d.config_irqs, __ATOMIC_RELAXED), 1, "config callback raised");
	report_err(vdpa_set_vq_ready(vdpa, RXQ, true), -EIO,
		   "enabling a queue while NEEDS_RESET refused");

	/* Recovery: reset and run again. */
	report_eq(net_up(&d, base_features, false), 0, "bring-up after reset");
	report_eq((vdpa_get_status(vdpa) & VIRTIO_CONFIG_S_NEEDS_RESET), 0,
		  "reset cleared NEEDS_RESET");
	post_rx(&d, 2, 2048, rx);
	tx = vdrv_alloc(&d, FLEN, 64);
	fill_frame(tx, FLEN, dev_mac, 5);
	send_frame(&d, tx, FLEN);
	vdrv_publish(&d, TXQ);
	vdrv_kick(&d, TXQ);
	check_eq(vdrv_await_used(&d, RXQ, &head, &len), 1);
	check_eq(len, FLEN);
	report_checks("traffic flows after reset");

	/* A descriptor loop (packed: a list with NEXT all around the ring). */
	if (vdrv_packed) {
		for (unsigned int k = 0; k < NUM; k++)
			packed_raw(&d, TXQ, vdrv_iova(&d, tx), 16, VRINGH_DESC_F_NEXT, 1);
	} else {
		d.vqs[TXQ].desc[0].flags = cpu_to_le16(VRINGH_DESC_F_NEXT);
		d.vqs[TXQ].desc[0].next = cpu_to_le16(1);
		d.vqs[TXQ].desc[0].len = cpu_to_le32(16);
		d.vqs[TXQ].desc[0].addr = cpu_to_le64(vdrv_iova(&d, tx));
		d.vqs[TXQ].desc[1] = d.vqs[TXQ].desc[0];
		d.vqs[TXQ].desc[1].next = cpu_to_le16(0);
		d.vqs[TXQ].avail->ring[d.vqs[TXQ].avail_idx % NUM] = 0;
		d.vqs[TXQ].avail_idx++;
		vdrv_publish(&d, TXQ);
	}
	vdpa_kick_vq(vdpa, TXQ);
	report(vdrv_await_status(&d, VIRTIO_CONFIG_S_NEEDS_RESET),
	       "descriptor loop: NEEDS_RESET");

	/* A buffer outside every mapping. */
	report_eq(net_up(&d, base_features, false), 0, "bring-up after reset");
	unmapped_buffer(&d, TXQ, 64, 0);
	vdpa_kick_vq(vdpa, TXQ);
	report(vdrv_await_status(&d, VIRTIO_CONFIG_S_NEEDS_RESET),
	       "unmapped buffer: NEEDS_RESET");

	vdpa_reset(vdpa);
	vdpa_dma_unmap(vdpa, 0, d.iova, d.size);
	vdrv_fini(&d);
	report_prefix_pop();
}

/*
 * mode=sink: transmitted frames are counted and completed (more than one
 * completion burst), never delivered; a chain too short to be a frame is
 * completed and counted as an error.
 */
static void test_sink(struct vdpa_device *vdpa, u64 features)
{
	/* Two descriptors a frame: 100 chains, over one burst of 64. */
	enum { N = 100, FLEN = HDR + 64 };
	struct vdrv d;
	struct vdpa_vq_stats st;
	u8 *rx[4], *tx[N], *runt;
	unsigned int txdone = 0;
	u16 head;
	u32 len;

	report_prefix_push("sink");
	vdrv_init(&d, vdpa, 4 << 20);
	vdrv_map(&d, 0);
	report_eq(net_up(&d, features, false), 0, "bring-up");
	post_rx(&d, 4, 2048, rx);
	for (unsigned int i = 0; i < N; i++) {
		tx[i] = vdrv_alloc(&d, FLEN, 64);
		fill_frame(tx[i], FLEN, dev_mac, i);
		send_frame(&d, tx[i], FLEN);
	}
	runt = vdrv_alloc(&d, HDR + 8, 64);
	vdrv_add(&d, TXQ, &(struct vdrv_sg){ runt, HDR + 8, false }, 1);
	vdrv_publish(&d, TXQ);
	vdrv_kick(&d, TXQ);
	while (txdone < N + 1 && vdrv_await_used(&d, TXQ, &head, &len))
		txdone += len == 0;
	report_eq(txdone, N + 1, "%u/%d TX chains completed with len 0", txdone, N + 1);
	report_eq(vdrv_await_used(&d, RXQ, &head, &len), 0, "nothing delivered");
	vdpa_get_vq_stats(vdpa, TXQ, &st);
	check_eq(st.packets, N);
	check_eq(st.bytes, (u64)N * (FLEN - HDR));
	check_eq(st.errors, 1);
	report_checks("TX counters %llu packets %llu bytes %llu errors",
		      (unsigned long long)st.packets, (unsigned long long)st.bytes,
		      (unsigned long long)st.errors);
	vdpa_get_vq_stats(vdpa, RXQ, &st);
	report_eq(st.packets, 0, "RX untouched");
	report_gt(d.vqs[TXQ].irqs, 0, "TX interrupts raised (%u)", d.vqs[TXQ].irqs);
	report_eq((vdpa_get_status(vdpa) & VIRTIO_CONFIG_S_NEEDS_RESET), 0, "no NEEDS_RESET");
	vdpa_reset(vdpa);
	vdpa_dma_unmap(vdpa, 0, d.iova, d.size);
	vdrv_fini(&d);
	report_prefix_pop();
}

static bool gen_frame_ok(const u8 *b, u32 glen, const u8 *dst)
{
	static const u8 hdr[HDR] = { [HDR - 2] = 1 };

	if (memcmp(b, hdr, HDR) || memcmp(b + HDR, dst, 6) ||
	    memcmp(b + HDR + 6, "\x02\x6b\x65\x73\x67\x6e", 6) ||
	    b[HDR + 12] != 0x88 || b[HDR + 13] != 0xb5)
		return false;
	for (u32 k = 0; k < glen - 14; k++)
		if (b[HDR + 14 + k] != (u8)k)
			return false;
	return true;
}

/*
 * mode=gen: every posted receive buffer gets one frame of @glen bytes
 * (header, addresses, EtherType, payload pattern), in bursts; a buffer too
 * small is returned empty and counted; buffers posted later are filled
 * too; transmitted frames are consumed as in sink.
 */
static void test_gen(struct vdpa_device *vdpa, u64 features, u32 glen)
{
	enum { N = 200, M = 50, FLEN = HDR + 64 };
	struct vdrv d;
	struct vdpa_vq_stats st;
	u8 *rx[N], *rx2[M], *small, *tx;
	unsigned int ok = 0, empty = 0, txdone = 0;
	u16 head;
	u32 len;

	report_prefix_push("gen");
	vdrv_init(&d, vdpa, 4 << 20);
	vdrv_map(&d, 0);
	report_eq(net_up(&d, features, false), 0, "bring-up");
	report_eq(post_rx(&d, N, 2048, rx), 0, "post %d RX buffers", N);
	for (unsigned int i = 0; i < N; i++) {
		if (!vdrv_await_used(&d, RXQ, &head, &len))
			break;
		if (head < N && len == HDR + glen && gen_frame_ok(rx[head], glen, dev_mac))
			ok++;
	}
	report_eq(ok, N, "%u/%d frames of %u bytes, contents as documented", ok, N, glen);

	/* One buffer too small for the frame, then more normal ones. */
	small = vdrv_alloc(&d, HDR + 8, 64);
	vdrv_add(&d, RXQ, &(struct vdrv_sg){ small, HDR + 8, true }, 1);
	report_eq(post_rx(&d, M, 2048, rx2), 0, "post %d more", M);
	ok = 0;
	for (unsigned int i = 0; i < M + 1; i++) {
		if (!vdrv_await_used(&d, RXQ, &head, &len))
			break;
		if (len == 0)
			empty++;
		else if (len == HDR + glen)
			ok++;
	}
	check_eq(empty, 1);
	check_eq(ok, M);
	report_checks("small buffer returned empty, %u more frames", ok);
	vdpa_get_vq_stats(vdpa, RXQ, &st);
	check_eq(st.packets, N + M);
	check_eq(st.bytes, (u64)(N + M) * glen);
	check_eq(st.drops, 1);
	report_checks("RX counters %llu packets %llu bytes %llu drops",
		      (unsigned long long)st.packets, (unsigned long long)st.bytes,
		      (unsigned long long)st.drops);
	report_gt(d.vqs[RXQ].irqs, 0, "RX interrupts raised (%u)", d.vqs[RXQ].irqs);

	tx = vdrv_alloc(&d, FLEN, 64);
	fill_frame(tx, FLEN, dev_mac, 1);
	send_frame(&d, tx, FLEN);
	vdrv_publish(&d, TXQ);
	vdrv_kick(&d, TXQ);
	txdone = (unsigned int)vdrv_await_used(&d, TXQ, &head, &len);
	txdone += (unsigned int)vdrv_await_used(&d, TXQ, &head, &len);
	vdpa_get_vq_stats(vdpa, TXQ, &st);
	check_eq(txdone, 1);
	check_eq(st.packets, 1);
	report_checks("TX consumed (sink)");
	report_eq(vdrv_get_used(&d, RXQ, &head, &len), 0, "no frame without a buffer");
	report_eq((vdpa_get_status(vdpa) & VIRTIO_CONFIG_S_NEEDS_RESET), 0, "no NEEDS_RESET");
	vdpa_reset(vdpa);
	vdpa_dma_unmap(vdpa, 0, d.iova, d.size);
	vdrv_fini(&d);
	report_prefix_pop();
}

/* A hostile receive ring in mode=gen breaks the device, reset recovers. */
static void test_gen_hostile(struct vdpa_device *vdpa)
{
	struct vdrv d;
	u8 *rx[1];
	u16 head;
	u32 len;

	report_prefix_push("gen-hostile");
	vdrv_init(&d, vdpa, 1 << 20);
	vdrv_map(&d, 0);
	net_up(&d, base_features, false);
	bad_head(&d, RXQ, vdrv_iova(&d, vdrv_alloc(&d, 2048, 64)));
	vdpa_kick_vq(vdpa, RXQ);
	report(vdrv_await_status(&d, VIRTIO_CONFIG_S_NEEDS_RESET),
	       "bad RX head index: NEEDS_RESET");
	report_eq(net_up(&d, base_features, false), 0, "bring-up after reset");
	unmapped_buffer(&d, RXQ, 2048, VRINGH_DESC_F_WRITE);
	vdpa_kick_vq(vdpa, RXQ);
	report(vdrv_await_status(&d, VIRTIO_CONFIG_S_NEEDS_RESET),
	       "unmapped RX buffer: NEEDS_RESET");
	report_eq(net_up(&d, base_features, false), 0, "bring-up after reset");
	post_rx(&d, 1, 2048, rx);
	check_eq(vdrv_await_used(&d, RXQ, &head, &len), 1);
	check_eq(len, HDR + 64);
	report_checks("frames flow after reset");
	vdpa_reset(vdpa);
	vdpa_dma_unmap(vdpa, 0, d.iova, d.size);
	vdrv_fini(&d);
	report_prefix_pop();
}

/*
 * mode=null: every transmitted frame is dropped and counted in the
 * transmit queue's drops, its chain completes, nothing is ever received.
 */
static void test_null(void)
{
	enum { N = 8, FLEN = HDR + 64 };
	struct vdpa_device *vdpa;
	struct vdpa_vq_stats tx_st, rx_st;
	unsigned int txdone = 0;
	u8 *rx[2], *tx;
	struct vdrv d;
	int received;
	u16 head;
	u32 len;

	report_prefix_push("null");
	if (!report(vdpa_mgmt_dev_add("net,name=null0,mac=52:54:00:12:34:56,mode=null",
				      &vdpa) == 0, "create mode=null"))
		goto out;
	vdrv_init(&d, vdpa, 1 << 20);
	vdrv_map(&d, 0);
	report(net_up(&d, base_features, false) == 0, "bring-up");
	post_rx(&d, 2, 2048, rx);
	tx = vdrv_alloc(&d, FLEN, 64);
	fill_frame(tx, FLEN, dev_mac, 1);
	for (unsigned int i = 0; i < N; i++)
		send_frame(&d, tx, FLEN);
	vdrv_publish(&d, TXQ);
	vdrv_kick(&d, TXQ);
	while (txdone < N && vdrv_await_used(&d, TXQ, &head, &len))
		txdone += len == 0;
	/* Until the device is idle: whatever it would have received, it has. */
	received = vdrv_await_used(&d, RXQ, &head, &len);
	vdpa_get_vq_stats(vdpa, TXQ, &tx_st);
	vdpa_get_vq_stats(vdpa, RXQ, &rx_st);
	report(txdone == N, "%u/%d TX chains completed with len 0", txdone, N);
	report(tx_st.drops == N && tx_st.packets == 0,
	       "TX counted %llu drops, %llu packets",
	       (unsigned long long)tx_st.drops, (unsigned long long)tx_st.packets);
	report(!received && rx_st.packets == 0,
	       "nothing received (%llu)", (unsigned long long)rx_st.packets);
	vdpa_reset(vdpa);
	vdpa_dma_unmap(vdpa, 0, d.iova, d.size);
	vdrv_fini(&d);
	report(vdpa_mgmt_dev_del(vdpa) == 0, "delete");
out:
	report_prefix_pop();
}

static void test_modes(bool poll)
{
	static const char *const specs[2][3] = {
		{ "net,name=sink0,mac=52:54:00:12:34:56,mode=sink",
		  "net,name=gen0,mac=52:54:00:12:34:56,mode=gen",
		  "net,name=gen1,mac=52:54:00:12:34:56,mode=gen,gen_len=100" },
		{ "net,name=sink0,mac=52:54:00:12:34:56,mode=sink,poll=on",
		  "net,name=gen0,mac=52:54:00:12:34:56,mode=gen,poll=on",
		  "net,name=gen1,mac=52:54:00:12:34:56,mode=gen,gen_len=100,poll=on" },
	};
	const u64 mrg = base_features | (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	struct vdpa_device *vdpa;

	report_prefix_push(poll ? "modes-poll" : "modes");
	if (report_eq(vdpa_mgmt_dev_add(specs[poll][0], &vdpa), 0, "create mode=sink")) {
		test_sink(vdpa, base_features);
		test_sink(vdpa, mrg);
		report_eq(vdpa_mgmt_dev_del(vdpa), 0, "delete");
	}
	if (report_eq(vdpa_mgmt_dev_add(specs[poll][1], &vdpa), 0, "create mode=gen")) {
		test_gen(vdpa, base_features, 64);
		test_gen(vdpa, mrg, 64);
		test_gen_hostile(vdpa);
		report_eq(vdpa_mgmt_dev_del(vdpa), 0, "delete");
	}
	if (report_eq(vdpa_mgmt_dev_add(specs[poll][2], &vdpa), 0, "create mode=gen,gen_len=100")) {
		test_gen(vdpa, mrg, 100);
		report_eq(vdpa_mgmt_dev_del(vdpa), 0, "delete");
	}
	report_prefix_pop();
}

int main(void)
{
	struct vdpa_device *vdpa;

	log_level_set(LOG_ERR);
	if (vdpa_register_types()) {
		report(false, "register built-in management devices");
		return report_summary();
	}
	if (!report_eq(vdpa_mgmt_dev_add("net,name=simnet0,mac=52:54:00:12:34:56,mtu=9000,max_vqp=1",
					 &vdpa), 0, "create net simulator"))
		return report_summary();
	test_config(vdpa);
	test_traffic(vdpa, false);
	test_traffic(vdpa, true);
	test_mergeable(vdpa);
	test_small_rx(vdpa);
	test_no_rx_buffer(vdpa);
	test_ctrl(vdpa);
	test_suspend(vdpa);
	test_hostile(vdpa);
	report_eq(vdpa_mgmt_dev_del(vdpa), 0, "delete");
	report_eq(vdpa_find_device("simnet0"), NULL, "gone from the bus");

	/* The busy-polling worker: same traffic, kicks or not, and ops get in. */
	report_prefix_push("poll");
	if (report_eq(vdpa_mgmt_dev_add("net,name=simnet1,mac=52:54:00:12:34:56,mtu=9000,poll=on",
					&vdpa), 0, "create with poll=on")) {
		test_traffic(vdpa, false);
		test_traffic(vdpa, true);
		test_no_rx_buffer(vdpa);
		test_suspend(vdpa);
		report_eq(vdpa_mgmt_dev_del(vdpa), 0, "delete");
	}
	report_err(vdpa_mgmt_dev_add("net,name=simnet2,poll=maybe", &vdpa), -EINVAL,
		   "poll=maybe refused");
	report_prefix_pop();

	test_modes(false);
	test_modes(true);
	test_null();
	report_err(vdpa_mgmt_dev_add("net,name=simnet3,mode=echo", &vdpa), -EINVAL,
		   "mode=echo refused");
	report_err(vdpa_mgmt_dev_add("net,name=simnet3,gen_len=13", &vdpa), -EINVAL,
		   "gen_len=13 refused");
	return report_summary();
}
