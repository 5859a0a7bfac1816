// SPDX-License-Identifier: GPL-2.0-only
/*
 * A hostile driver: rings that break virtio 1.2 §2.7 in every way the
 * device must survive. For each, on the net simulator's transmit (or
 * receive) queue:
 *   - the device sets DEVICE_NEEDS_RESET and raises a configuration-change
 *     interrupt (§2.1.2);
 *   - the other device on the machine (a blk simulator) keeps serving;
 *   - a reset clears NEEDS_RESET and the device works again.
 * Last, the roles swap: blk breaks while net keeps working.
 *
 * With --cmdline packed the rings are packed (§2.8) and the bad rings are
 * the packed ring's own: chains longer than the ring, buffer IDs out of
 * range, descriptors that claim to be used or whose AVAIL bit is of the
 * wrong lap, indirect tables that are not alone in their chain or nest,
 * and the address and length games both layouts share.
 *
 * Run with --net sim --device vdpa,type=blk,capacity=1M (packed=on and
 * --cmdline packed for the packed cases).
 */
#include "guest.h"
#include "virtio.h"
#include "x86/apic.h"

#include <kestrel/x86/layout.h>

#define NET_HDR_LEN	12
#define FRAME_LEN	60
#define RXQ		0
#define TXQ		1
#define QSIZE		64

#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1

static struct virtio_device *net, *blk;
static struct virtqueue rxq, txq, bq;
static u8 frame[NET_HDR_LEN + FRAME_LEN] __aligned(64);
static u8 rx_buf[1536] __aligned(64);
static struct vring_desc itable[4] __aligned(16), itable2[4] __aligned(16);
static struct vring_packed_desc pitable[4] __aligned(16), pitable2[4] __aligned(16);
static u8 sector_w[512], sector_r[512];

/* ---- the good paths ---------------------------------------------------------- */

static bool net_up(void)
{
	return !virtio_negotiate(net, BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC)) &&
	       !virtqueue_setup(net, &rxq, RXQ, QSIZE) &&
	       !virtqueue_setup(net, &txq, TXQ, QSIZE) && virtio_driver_ok(net);
}

/* One frame out and back. */
static bool net_works(void)
{
	struct virtq_buf r = { rx_buf, sizeof(rx_buf), true };
	struct virtq_buf t[2] = {
		{ frame, NET_HDR_LEN, false },
		{ frame + NET_HDR_LEN, FRAME_LEN, false },
	};
	u32 len = 0;
	void *c;

	memset(rx_buf, 0, sizeof(rx_buf));
	if (virtqueue_add(&rxq, &r, 0, 1, rx_buf) < 0 ||
	    virtqueue_add(&txq, t, 2, 0, frame) < 0)
		return false;
	virtqueue_kick(&rxq);
	virtqueue_kick(&txq);
	c = virtqueue_wait(&rxq, &len, 2000);
	virtqueue_wait(&txq, NULL, 2000);
	return c == rx_buf && len == sizeof(frame) &&
	       !memcmp(rx_buf + NET_HDR_LEN, frame + NET_HDR_LEN, FRAME_LEN);
}

static bool blk_up(void)
{
	return !virtio_negotiate(blk, BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC)) &&
	       !virtqueue_setup(blk, &bq, 0, QSIZE) && virtio_driver_ok(blk);
}

static u8 blk_rw(u32 type, u64 sector, u8 *buf)
{
	static struct { u32 type, reserved; u64 sector; u8 status; } req;
	struct virtq_buf b[3] = {
		{ &req, 16, false },
		{ buf, 512, type == VIRTIO_BLK_T_IN },
		{ &req.status, 1, true },
	};

	req.type = type;
	req.reserved = 0;
	req.sector = sector;
	req.status = 0xee;
	if (virtqueue_add(&bq, b, type == VIRTIO_BLK_T_IN ? 1 : 2,
			  type == VIRTIO_BLK_T_IN ? 2 : 1, &req) < 0)
		return 0xee;
	virtqueue_kick(&bq);
	return virtqueue_wait(&bq, NULL, 2000) == &req ? req.status : 0xee;
}

static unsigned int blk_round;

/* A sector written and read back. */
static bool blk_works(void)
{
	blk_round++;
	for (unsigned int i = 0; i < sizeof(sector_w); i++)
		sector_w[i] = (u8)(i * 3 + blk_round);
	memset(sector_r, 0, sizeof(sector_r));
	return blk_rw(VIRTIO_BLK_T_OUT, blk_round % 64, sector_w) == 0 &&
	       blk_rw(VIRTIO_BLK_T_IN, blk_round % 64, sector_r) == 0 &&
	       !memcmp(sector_w, sector_r, sizeof(sector_r));
}

/* ---- the bad rings --------------------------------------------------------------
 * Each builds its chain by hand in descriptors the fresh queue has not
 * used, publishes it and notifies. The driver's bookkeeping is not kept:
 * the device is reset afterwards anyway.
 */

static void tx_publish(u16 head)
{
	virtqueue_publish(&txq, head);
	virtqueue_notify(&txq);
}

static void set_desc(struct vring_desc *d, u64 addr, u32 len, u16 flags, u16 next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static void bad_loop(void)
{
	set_desc(&txq.desc[0], (u64)frame, NET_HDR_LEN, VRING_DESC_F_NEXT, 1);
	set_desc(&txq.desc[1], (u64)frame + NET_HDR_LEN, 20, VRING_DESC_F_NEXT, 0);
	tx_publish(0);
}

static void bad_self_loop(void)
{
	set_desc(&txq.desc[5], (u64)frame, sizeof(frame), VRING_DESC_F_NEXT, 5);
	tx_publish(5);
}

static void bad_next(void)
{
	set_desc(&txq.desc[0], (u64)frame, NET_HDR_LEN, VRING_DESC_F_NEXT, QSIZE + 5);
	tx_publish(0);
}

static void bad_head(void)
{
	tx_publish(QSIZE + 3);
}

static void bad_huge_len(void)
{
	set_desc(&txq.desc[0], (u64)frame, 0xfffffff0u, 0, 0);
	tx_publish(0);
}

static void bad_len_sum(void)
{
	/* Two lengths that only overflow 32 bits together. */
	set_desc(&txq.desc[0], (u64)frame, 0x80000000u, VRING_DESC_F_NEXT, 1);
	set_desc(&txq.desc[1], (u64)frame, 0x80000000u, 0, 0);
	tx_publish(0);
}

static void bad_addr_beyond_ram(void)
{
	set_desc(&txq.desc[0], 0x80000000ull, sizeof(frame), 0, 0);	/* 2 GiB; RAM is 256 MiB */
	tx_publish(0);
}

static void bad_addr_mmio(void)
{
	/* The device's own register window. */
	set_desc(&txq.desc[0], net->base, sizeof(frame), 0, 0);
	tx_publish(0);
}

static void bad_addr_wrap(void)
{
	set_desc(&txq.desc[0], ~0ull - 15, 64, 0, 0);
	tx_publish(0);
}

static void bad_indirect_nested(void)
{
	set_desc(&itable2[0], (u64)frame, sizeof(frame), 0, 0);
	set_desc(&itable[0], (u64)itable2, sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	set_desc(&txq.desc[0], (u64)itable, sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	tx_publish(0);
}

static void bad_indirect_len(void)
{
	set_desc(&itable[0], (u64)frame, sizeof(frame), 0, 0);
	set_desc(&txq.desc[0], (u64)itable, 24, VRING_DESC_F_INDIRECT, 0);
	tx_publish(0);
}

static void bad_indirect_loop(void)
{
	set_desc(&itable[0], (u64)frame, NET_HDR_LEN, VRING_DESC_F_NEXT, 1);
	set_desc(&itable[1], (u64)frame + NET_HDR_LEN, FRAME_LEN, VRING_DESC_F_NEXT, 0);
	set_desc(&txq.desc[0], (u64)itable, 2 * sizeof(struct vring_desc),
		 VRING_DESC_F_INDIRECT, 0);
	tx_publish(0);
}

static void bad_avail_jump(void)
{
	/* More new entries than the ring holds (§2.7.13.3). */
	txq.avail_idx = (u16)(txq.avail_idx + QSIZE + 1);
	__atomic_store_n(&txq.avail->idx, txq.avail_idx, __ATOMIC_RELEASE);
	virtqueue_notify(&txq);
}

static void bad_rx_addr(void)
{
	/* A receive buffer outside RAM, then a good frame to fill it. */
	struct virtq_buf t[2] = {
		{ frame, NET_HDR_LEN, false },
		{ frame + NET_HDR_LEN, FRAME_LEN, false },
	};

	set_desc(&rxq.desc[0], 0x90000000ull, 1536, VRING_DESC_F_WRITE, 0);
	virtqueue_publish(&rxq, 0);
	virtqueue_notify(&rxq);
	virtqueue_add(&txq, t, 2, 0, frame);
	virtqueue_notify(&txq);
}

static void bad_rx_readonly(void)
{
	/* A receive buffer the device may not write (§2.7.4.2). */
	struct virtq_buf t[2] = {
		{ frame, NET_HDR_LEN, false },
		{ frame + NET_HDR_LEN, FRAME_LEN, false },
	};

	set_desc(&rxq.desc[0], (u64)rx_buf, sizeof(rx_buf), 0, 0);
	virtqueue_publish(&rxq, 0);
	virtqueue_notify(&rxq);
	virtqueue_add(&txq, t, 2, 0, frame);
	virtqueue_notify(&txq);
}

/* ---- the bad packed rings (§2.8) -----------------------------------------------
 * Built in the fresh queue's first lap (wrap counter 1: an available
 * descriptor has AVAIL set and USED clear); "raw" ones carry their own
 * AVAIL/USED bits.
 */

static struct vring_packed_desc pd(u64 addr, u32 len, u16 flags, u16 id)
{
	return (struct vring_packed_desc){ .addr = addr, .len = len, .id = id, .flags = flags };
}

static void ptx(const struct vring_packed_desc *d, unsigned int n, bool raw)
{
	virtqueue_packed_publish(&txq, d, n, raw);
	virtqueue_notify(&txq);
}

static void pbad_chain_too_long(void)
{
	/* Every slot of the ring says "and the next": no end before it wraps. */
	static struct vring_packed_desc d[QSIZE];

	for (unsigned int i = 0; i < QSIZE; i++)
		d[i] = pd((u64)frame, 8, VRING_DESC_F_NEXT, 0);
	ptx(d, QSIZE, false);
}

static void pbad_id(void)
{
	struct vring_packed_desc d = pd((u64)frame, sizeof(frame), 0, QSIZE + 3);

	ptx(&d, 1, false);
}

static void pbad_claims_used(void)
{
	/* AVAIL and USED both 1 in lap 1: a used descriptor, which only the device writes. */
	struct vring_packed_desc d = pd((u64)frame, sizeof(frame),
					VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED, 0);

	ptx(&d, 1, true);
}

static void pbad_tail_wrong_lap(void)
{
	/* The head is available; the descriptor after it carries lap 0's bits. */
	struct vring_packed_desc d[2] = {
		pd((u64)frame, NET_HDR_LEN, VRING_DESC_F_NEXT | VRING_PACKED_DESC_F_AVAIL, 0),
		pd((u64)frame + NET_HDR_LEN, FRAME_LEN, VRING_PACKED_DESC_F_USED, 0),
	};

	ptx(d, 2, true);
}

static void pbad_huge_len(void)
{
	struct vring_packed_desc d = pd((u64)frame, 0xfffffff0u, 0, 0);

	ptx(&d, 1, false);
}

static void pbad_len_sum(void)
{
	struct vring_packed_desc d[2] = {
		pd((u64)frame, 0x80000000u, VRING_DESC_F_NEXT, 0),
		pd((u64)frame, 0x80000000u, 0, 0),
	};

	ptx(d, 2, false);
}

static void pbad_addr_beyond_ram(void)
{
	struct vring_packed_desc d = pd(0x80000000ull, sizeof(frame), 0, 0);

	ptx(&d, 1, false);
}

static void pbad_addr_mmio(void)
{
	struct vring_packed_desc d = pd(net->pci ? net->notify : net->base, sizeof(frame), 0, 0);

	ptx(&d, 1, false);
}

static void pbad_addr_wrap(void)
{
	struct vring_packed_desc d = pd(~0ull - 15, 64, 0, 0);

	ptx(&d, 1, false);
}

static void pbad_indirect_nested(void)
{
	struct vring_packed_desc d = pd((u64)pitable, sizeof(pitable[0]), VRING_DESC_F_INDIRECT, 0);

	pitable2[0] = pd((u64)frame, sizeof(frame), 0, 0);
	pitable[0] = pd((u64)pitable2, sizeof(pitable2[0]), VRING_DESC_F_INDIRECT, 0);
	ptx(&d, 1, false);
}

static void pbad_indirect_len(void)
{
	struct vring_packed_desc d = pd((u64)pitable, 24, VRING_DESC_F_INDIRECT, 0);

	pitable[0] = pd((u64)frame, sizeof(frame), 0, 0);
	ptx(&d, 1, false);
}

static void pbad_indirect_after_next(void)
{
	/* §2.8.8: an indirect descriptor is alone in its list. */
	struct vring_packed_desc d[2] = {
		pd((u64)frame, NET_HDR_LEN, VRING_DESC_F_NEXT, 0),
		pd((u64)pitable, sizeof(pitable[0]), VRING_DESC_F_INDIRECT, 0),
	};

	pitable[0] = pd((u64)frame + NET_HDR_LEN, FRAME_LEN, 0, 0);
	ptx(d, 2, false);
}

static void pbad_rx(u64 addr, u16 flags)
{
	struct virtq_buf t[2] = {
		{ frame, NET_HDR_LEN, false },
		{ frame + NET_HDR_LEN, FRAME_LEN, false },
	};
	struct vring_packed_desc d = pd(addr, sizeof(rx_buf), flags, 0);

	virtqueue_packed_publish(&rxq, &d, 1, false);
	virtqueue_notify(&rxq);
	virtqueue_add(&txq, t, 2, 0, frame);
	virtqueue_notify(&txq);
}

static void pbad_rx_addr(void)
{
	pbad_rx(0x90000000ull, VRING_DESC_F_WRITE);
}

static void pbad_rx_readonly(void)
{
	pbad_rx((u64)rx_buf, 0);
}

struct bad_ring {
	const char *name;
	void (*fn)(void);
};

static const struct bad_ring packed_cases[] = {
	{ "packed: chain longer than the ring", pbad_chain_too_long },
	{ "packed: buffer ID out of range", pbad_id },
	{ "packed: descriptor claims to be used", pbad_claims_used },
	{ "packed: chain tail marked for the other lap", pbad_tail_wrong_lap },
	{ "packed: huge length", pbad_huge_len },
	{ "packed: two 2 GiB lengths in one chain", pbad_len_sum },
	{ "packed: address outside RAM", pbad_addr_beyond_ram },
	{ "packed: address in the device's window", pbad_addr_mmio },
	{ "packed: address + length wraps", pbad_addr_wrap },
	{ "packed: indirect inside indirect", pbad_indirect_nested },
	{ "packed: indirect table length not whole descriptors", pbad_indirect_len },
	{ "packed: indirect after a NEXT", pbad_indirect_after_next },
	{ "packed: receive buffer outside RAM", pbad_rx_addr },
	{ "packed: read-only receive buffer", pbad_rx_readonly },
};

static const struct bad_ring split_cases[] = {
	{ "descriptor loop", bad_loop },
	{ "descriptor pointing at itself", bad_self_loop },
	{ "next index out of range", bad_next },
	{ "head index out of range", bad_head },
	{ "huge length", bad_huge_len },
	{ "two 2 GiB lengths in one chain", bad_len_sum },
	{ "address outside RAM", bad_addr_beyond_ram },
	{ "address in the MMIO window", bad_addr_mmio },
	{ "address + length wraps", bad_addr_wrap },
	{ "indirect inside indirect", bad_indirect_nested },
	{ "indirect table length not whole descriptors", bad_indirect_len },
	{ "loop inside an indirect table", bad_indirect_loop },
	{ "avail index jumps past the ring size", bad_avail_jump },
	{ "receive buffer outside RAM", bad_rx_addr },
	{ "read-only receive buffer", bad_rx_readonly },
};

static void run_case(const struct bad_ring *c)
{
	u32 cfg0;
	u8 st;

	report_prefix_push(c->name);
	if (!net_up()) {
		report(false, "net set up");
		report_prefix_pop();
		return;
	}
	irq_window();
	cfg0 = net->config_irqs;
	c->fn();
	report(virtio_wait_counter(&net->config_irqs, cfg0, 2000),
	       "configuration-change interrupt");
	st = virtio_get_status(net);
	report(st & VIRTIO_STATUS_NEEDS_RESET, "DEVICE_NEEDS_RESET (status %#x)", st);
	report(blk_works(), "blk still serves");
	report(virtio_reset(net) && !virtio_needs_reset(net), "reset clears it");
	report(net_up() && net_works(), "net works again");
	report_prefix_pop();
}

/* Roles swapped: a broken blk ring, net unaffected, blk recovers. */
static void blk_breaks(void)
{
	u32 cfg0;
	u8 st;

	report_prefix_push(bq.packed ? "blk buffer ID out of range" : "blk avail index jump");
	irq_window();
	cfg0 = blk->config_irqs;
	if (bq.packed) {
		struct vring_packed_desc d = pd((u64)sector_r, 512, VRING_DESC_F_WRITE, QSIZE + 7);

		virtqueue_packed_publish(&bq, &d, 1, false);
	} else {
		bq.avail_idx = (u16)(bq.avail_idx + QSIZE + 7);
		__atomic_store_n(&bq.avail->idx, bq.avail_idx, __ATOMIC_RELEASE);
	}
	virtqueue_notify(&bq);
	report(virtio_wait_counter(&blk->config_irqs, cfg0, 2000),
	       "configuration-change interrupt");
	st = virtio_get_status(blk);
	report(st & VIRTIO_STATUS_NEEDS_RESET, "DEVICE_NEEDS_RESET (status %#x)", st);
	report(blk_rw(VIRTIO_BLK_T_IN, 0, sector_r) == 0xee,
	       "a broken device completes nothing");
	report(net_up() && net_works(), "net still serves");
	report(virtio_reset(blk) && !virtio_needs_reset(blk), "reset clears it");
	report(blk_up() && blk_works(), "blk works again");
	report_prefix_pop();
}

int main(void)
{
	report_prefix_push("virtio-hostile");
	net = virtio_find(VIRTIO_ID_NET, 0);
	blk = virtio_find(VIRTIO_ID_BLOCK, 0);
	if (!net || !blk) {
		report_skip("needs --net sim --device vdpa,type=blk");
		return report_summary();
	}
	virtio_irq_enable(net);
	virtio_irq_enable(blk);
	memset(frame, 0, NET_HDR_LEN);
	for (unsigned int i = 0; i < FRAME_LEN; i++)
		frame[NET_HDR_LEN + i] = (u8)(i < 6 ? 0xff : i);
	report(net_up() && net_works(), "net works");
	report(blk_up() && blk_works(), "blk works");
	report(txq.packed == virtio_cmdline_packed() && bq.packed == txq.packed,
	       "%s rings", txq.packed ? "packed" : "split");
	if (txq.packed)
		for (unsigned int i = 0; i < ARRAY_SIZE(packed_cases); i++)
			run_case(&packed_cases[i]);
	else
		for (unsigned int i = 0; i < ARRAY_SIZE(split_cases); i++)
			run_case(&split_cases[i]);
	blk_breaks();
	report_prefix_pop();
	return report_summary();
}
