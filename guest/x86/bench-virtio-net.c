// SPDX-License-Identifier: GPL-2.0-only
/*
 * Frames per second through kestrel's loopback net simulator (--net sim)
 * over virtio-mmio, for bench/virtio-transport.sh. The workload is the one
 * bench/vdpa_net_bench.c drives in-process, so the two figures differ by
 * the transport's cost: 64-byte frames (+ the 12-byte virtio-net header,
 * one descriptor each) transmitted in batches of BENCH_BATCH on a 256-entry
 * ring, every receive buffer recycled as soon as it comes back, both used
 * rings reaped by polling. Interrupts stay enabled the way both drivers
 * leave them (used_event follows the last entry taken; no
 * VRING_AVAIL_F_NO_INTERRUPT), so the device's interrupt count shows what
 * EVENT_IDX suppresses.
 *
 * The hot loop runs in ring 3 (native on PVM hosts) with interrupts off:
 * the device's interrupts are routed and stay pending, the host still
 * pays for raising them. Kicks are QueueNotify writes (ioeventfd).
 *
 * Phases, each BENCH_MS long and host-timed through the bench sink:
 *   1. EVENT_IDX negotiated   2. EVENT_IDX not negotiated
 * Each ends with a reset, at which kestrel logs the queue counters
 * ("VQ-STATS reset vq=N ... notifies=N"). The guest prints per phase:
 *   BENCH-NET phase=P event_idx=on|off batch=B frames=N sent=N bad=N
 *	tx_kicks=N rx_kicks=N ms=N
 *
 * With "protected" (kestrel run --protected) or "bounce" on the command
 * line the frames and receive buffers are at X86_PRIVATE_RAM_START
 * (private RAM, or ordinary RAM there without --protected) and go through
 * bounce slots in the shared window (guest/lib/bounce.h), copied in the
 * same ring-3 loop; bench/protected-io.sh compares the three. Such a run
 * then times, as two more phases, a ring 0 -> ring 3 -> ring 0 round trip
 * and one buffer's copies through a slot and back (bench_bounce_costs()
 * in x86/bench.h: "BENCH-R3 ..." and "BENCH-COPY ..." lines).
 */
#include "bounce.h"
#include "guest.h"
#include "virtio.h"
#include "x86/bench.h"
#include "x86/multiboot.h"
#include "x86/processor.h"
#include "x86/usermode.h"

#define VIRTIO_NET_F_MAC	5

#ifndef BENCH_MS
#define BENCH_MS		500
#endif
#ifndef BENCH_BATCH
#define BENCH_BATCH		32
#endif

#define RXQ			0
#define TXQ			1
#define NUM			256
#define HDR			12	/* struct virtio_net_hdr_v1 */
#define FRAME			64
#define RXBUF			128	/* HDR + FRAME fits */

struct net_run {
	u64 sent;
	u64 received;
	u64 bad;
	u32 ms;
};

static struct virtio_device *vdev;
static struct virtqueue rxq, txq;
static u8 mac[6];
static u8 tx_bufs_shared[NUM][HDR + FRAME] __aligned(64);
static u8 rx_bufs_shared[NUM][RXBUF] __aligned(64);
/* The buffers: these, or at X86_PRIVATE_RAM_START when bouncing. */
static u8 (*tx_bufs)[HDR + FRAME] = tx_bufs_shared;
static u8 (*rx_bufs)[RXBUF] = rx_bufs_shared;
static bool bouncing;
static struct bounce_pool tx_pool, rx_pool;
static struct bounce_req tx_breq[NUM], rx_breq[NUM];
static struct bounce_req *tx_free[NUM];	/* tx_breq entries not in flight */
static unsigned int tx_nfree;

/* Post receive buffer @buf (a writable one: nothing is copied). */
static int post_rx(u8 *buf)
{
	struct virtq_buf b = { buf, RXBUF, true };

	if (!bouncing)
		return virtqueue_add(&rxq, &b, 0, 1, buf);
	return bounce_add(&rxq, &rx_pool, &rx_breq[(buf - rx_bufs[0]) / RXBUF], &b, 0, 1, buf);
}

/* Ring 3: transmit @buf (copied into a slot when bouncing). */
static int post_tx(u8 *buf)
{
	struct virtq_buf b = { buf, HDR + FRAME, false };
	int head;

	if (!bouncing)
		return virtqueue_add(&txq, &b, 1, 0, buf);
	if (!tx_nfree)
		return -1;
	head = bounce_add(&txq, &tx_pool, tx_free[tx_nfree - 1], &b, 1, 0, buf);
	if (head >= 0)
		tx_nfree--;
	return head;
}

/* Ring 3: the next received frame (copied out of its slot when bouncing). */
static void *get_rx(u32 *len)
{
	return bouncing ? bounce_get(&rxq, &rx_pool, len) : virtqueue_get(&rxq, len);
}

/* A transmitted frame is done. Return: false when none is. */
static bool get_tx(void)
{
	struct bounce_req *r;
	u32 len;

	if (!bouncing)
		return virtqueue_get(&txq, &len) != NULL;
	r = bounce_take(&txq);
	if (!r)
		return false;
	bounce_release(&tx_pool, r);
	tx_free[tx_nfree++] = r;
	return true;
}

/* Ring 3: one header (no offloads) and frame per TX slot, to our MAC. */
static u64 build_frames(void *arg)
{
	for (unsigned int i = 0; i < NUM; i++) {
		u8 *f = tx_bufs[i];

		memset(f, 0, HDR + FRAME);
		memcpy(f + HDR, mac, 6);
		memcpy(f + HDR + 6, "\x52\x54\x00\x00\x00\x01", 6);
		f[HDR + 12] = 0x88;
		f[HDR + 13] = 0xb5;
		f[HDR + 14] = (u8)i;
	}
	return 0;
}

/* Ring 3: the measured loop (bench/vdpa_net_bench.c's, step for step). */
static u64 net_loop(void *arg)
{
	struct net_run *r = arg;
	u64 sent = 0, received = 0, bad = 0;
	u32 ms = 0;

	bench_clock_arm();
	bench_span_start();
	while (ms < BENCH_MS) {
		unsigned int n = 0;
		void *c;
		u32 len;

		/* Transmit a batch (one descriptor per frame: header + data). */
		while (n < BENCH_BATCH && txq.num_free) {
			if (post_tx(tx_bufs[sent % NUM]) < 0)
				break;
			n++;
			sent++;
		}
		virtqueue_kick(&txq);

		/* Reap: recycle RX buffers, free TX descriptors. */
		n = 0;
		while ((c = get_rx(&len))) {
			bad += len != HDR + FRAME;
			received++;
			post_rx(c);
			n++;
		}
		if (n)
			virtqueue_kick(&rxq);
		while (get_tx())
			;
		if ((sent & 0x3ff) < BENCH_BATCH)
			ms = bench_clock_ms();
	}
	bench_span_stop();
	r->sent = sent;
	r->received = received;
	r->bad = bad;
	r->ms = ms;
	return 0;
}

static bool net_start(bool event_idx)
{
	u64 want = BIT_ULL(VIRTIO_NET_F_MAC);

	if (event_idx)
		want |= BIT_ULL(VIRTIO_RING_F_EVENT_IDX);
	if (virtio_negotiate(vdev, want) ||
	    virtqueue_setup(vdev, &rxq, RXQ, NUM) ||
	    virtqueue_setup(vdev, &txq, TXQ, NUM) || !virtio_driver_ok(vdev))
		return false;
	if (rxq.num != NUM || txq.num != NUM)
		return false;
	/* Slots from a reset before are free again (the device dropped them). */
	if (bouncing) {
		bounce_pool_reset(&tx_pool);
		bounce_pool_reset(&rx_pool);
		for (tx_nfree = 0; tx_nfree < NUM; tx_nfree++)
			tx_free[tx_nfree] = &tx_breq[tx_nfree];
	}
	for (unsigned int i = 0; i < NUM; i++)
		if (post_rx(rx_bufs[i]) < 0)
			return false;
	virtqueue_kick(&rxq);
	return true;
}

static void net_phase(unsigned int phase, bool event_idx)
{
	struct net_run r = { 0 };
	u32 rx_kicks, tx_kicks;

	report_prefix_push(event_idx ? "event_idx on" : "event_idx off");
	if (!net_start(event_idx)) {
		report(false, "set-up (negotiate, queues, DRIVER_OK, RX buffers)");
		report_prefix_pop();
		return;
	}
	report(txq.event_idx == event_idx, "EVENT_IDX %s",
	       txq.event_idx ? "negotiated" : "not negotiated");
	rx_kicks = rxq.kicks;
	tx_kicks = txq.kicks;
	run_in_user(net_loop, &r);
	printf("BENCH-NET phase=%u event_idx=%s batch=%u frames=%lu sent=%lu bad=%lu tx_kicks=%u rx_kicks=%u ms=%u\n",
	       phase, event_idx ? "on" : "off", BENCH_BATCH,
	       (unsigned long)r.received, (unsigned long)r.sent,
	       (unsigned long)r.bad, txq.kicks - tx_kicks, rxq.kicks - rx_kicks,
	       r.ms);
	report(r.received > 0 && !r.bad, "%lu frames looped back, %lu bad",
	       (unsigned long)r.received, (unsigned long)r.bad);
	/* kestrel logs the queue counters here, before they are zeroed. */
	report(virtio_reset(vdev), "reset");
	report_prefix_pop();
}

int main(void)
{
	report_prefix_push("bench-virtio-net");
	bouncing = multiboot_has_arg("protected") || multiboot_has_arg("bounce");
	if (bouncing) {
		tx_bufs = private_alloc(sizeof(tx_bufs_shared), 64);
		rx_bufs = private_alloc(sizeof(rx_bufs_shared), 64);
		if (!tx_bufs || !rx_bufs || bounce_pool_init(&tx_pool, NUM, RXBUF, true) ||
		    bounce_pool_init(&rx_pool, NUM, RXBUF, true)) {
			report(false, "buffers at X86_PRIVATE_RAM_START and bounce slots");
			return report_summary();
		}
		report_info("bouncing: buffers at %#lx, slots at %#lx",
			    (unsigned long)(uintptr_t)tx_bufs, (unsigned long)(uintptr_t)tx_pool.window);
	}
	vdev = virtio_find(VIRTIO_ID_NET, 0);
	if (!vdev) {
		report_skip("no virtio-net device (run with --net sim)");
		return report_summary();
	}
	/* Routed, never taken in the loop (ring 3 runs with IF clear). */
	virtio_irq_enable(vdev);
	if (virtio_negotiate(vdev, BIT_ULL(VIRTIO_NET_F_MAC)) == 0 &&
	    (vdev->features & BIT_ULL(VIRTIO_NET_F_MAC)))
		virtio_cread_bytes(vdev, 0, mac, 6);
	run_in_user(build_frames, NULL);
	net_phase(1, true);
	net_phase(2, false);
	if (bouncing) {
		report(tx_pool.bytes_out > 0 && rx_pool.bytes_in > 0, "%lu bytes bounced out, %lu in",
		       (unsigned long)tx_pool.bytes_out, (unsigned long)rx_pool.bytes_in);
		/* The last phase's reset dropped what was in flight. */
		bounce_pool_reset(&tx_pool);
		report(bench_bounce_costs(3, &tx_pool, tx_bufs[0], HDR + FRAME),
		       "the bounce layer's own cost timed");
	}
	report_prefix_pop();
	return report_summary();
}
