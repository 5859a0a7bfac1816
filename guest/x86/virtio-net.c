// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-net through kestrel's loopback simulator (--net sim): discovery,
 * feature negotiation, then N frames of varied sizes out on the transmit
 * queue and the same N back on the receive queue, byte for byte and in
 * order. With VIRTIO_NET_F_MRG_RXBUF the receive buffers are smaller than
 * most frames, so frames span several buffers and num_buffers is checked.
 * Round one transmits with direct chains, round two through indirect
 * tables; between them every receive buffer is recycled.
 *
 * Frames are built and compared in ring 3 (native speed on PVM hosts);
 * ring 0 only moves descriptors and waits.
 *
 * With --protected --cmdline protected the frames and receive buffers are
 * in private RAM and go through bounce slots in the shared window
 * (guest/lib/bounce.h): ring 3 builds the frames and stages them, ring 0
 * posts and reaps, ring 3 copies what came back into private RAM, where
 * it is compared. The same checks pass or fail.
 */
#include "bounce.h"
#include "guest.h"
#include "virtio.h"
#include "x86/apic.h"
#include "x86/multiboot.h"
#include "x86/processor.h"
#include "x86/usermode.h"

#include <kestrel/x86/layout.h>

#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_MRG_RXBUF	15
#define VIRTIO_NET_F_STATUS	16

#define NET_HDR_LEN		12	/* struct virtio_net_hdr_v1 */
#define ETH_HLEN		14
#define ETH_MAX			1514
#define NFRAMES			64
#define MAX_SEGS		8

#define RXQ			0
#define TXQ			1
#define RX_MAX			256	/* receive buffers, at most */
#define RX_BYTES		(128 * 1536)

struct rx_frame {
	unsigned int nseg;
	u8 *seg[MAX_SEGS];
	u32 len[MAX_SEGS];
};

static struct virtio_device *vdev;
static struct virtqueue rxq, txq;
static bool mrg;
static u32 rx_buf_len;
static unsigned int rx_nbufs;
static u8 mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static u8 rx_bufs_shared[RX_BYTES] __aligned(64);
static u8 tx_frames_shared[NFRAMES][NET_HDR_LEN + ETH_MAX] __aligned(64);
/* The data: these arrays, or private RAM when protected. */
static u8 *rx_bufs = rx_bufs_shared;
static u8 (*tx_frames)[NET_HDR_LEN + ETH_MAX] = tx_frames_shared;
static struct bounce_pool rx_pool, tx_pool;
static struct bounce_req rx_breq[RX_MAX], tx_breq[NFRAMES];
static struct bounce_req *rx_done[RX_MAX];
static bool rx_busy[RX_MAX];
static u32 tx_len[NFRAMES];
static struct rx_frame rx_frames[NFRAMES];
static unsigned int round;

static u32 frame_len(unsigned int i)
{
	return 60 + (i * 97 + round * 31) % (ETH_MAX - 60 + 1);
}

/* Ring 3: headers (zero: no offloads) and frames for this round. */
static u64 build_frames(void *arg)
{
	for (unsigned int i = 0; i < NFRAMES; i++) {
		u8 *f = tx_frames[i];
		u32 len = frame_len(i);

		memset(f, 0, NET_HDR_LEN);
		f += NET_HDR_LEN;
		memcpy(f, mac, 6);
		memcpy(f + 6, "\x52\x54\x00\x00\x00\x01", 6);
		f[12] = 0x88;
		f[13] = 0xb5;			/* local experimental ethertype */
		for (u32 j = ETH_HLEN; j < len; j++)
			f[j] = (u8)(i * 7 + j * 13 + round);
		tx_len[i] = len;
	}
	return 0;
}

/* Ring 3: the frames that came back against those sent. Return: bad ones. */
static u64 check_frames(void *arg)
{
	u64 bad = 0;

	for (unsigned int i = 0; i < NFRAMES; i++) {
		const struct rx_frame *r = &rx_frames[i];
		const u8 *want = tx_frames[i] + NET_HDR_LEN;
		u32 off = 0, total = 0;
		bool ok = r->nseg > 0;

		for (unsigned int s = 0; s < r->nseg; s++)
			total += r->len[s];
		if (total != NET_HDR_LEN + tx_len[i])
			ok = false;
		if (ok && mrg) {
			u16 nb;

			memcpy(&nb, r->seg[0] + 10, 2);
			ok = nb == r->nseg;
		}
		/* Payload after the header, across the segments. */
		for (unsigned int s = 0; ok && s < r->nseg; s++) {
			u32 skip = s == 0 ? NET_HDR_LEN : 0;
			u32 n = r->len[s] - skip;

			if (off + n > tx_len[i] || memcmp(r->seg[s] + skip, want + off, n))
				ok = false;
			off += n;
		}
		bad += !ok;
	}
	return bad;
}

/*
 * Post receive buffer @i unless it is still posted. Staging a writable
 * buffer copies nothing, so this runs in ring 0.
 */
static bool post_rx(unsigned int i)
{
	struct virtq_buf b = { rx_bufs + i * rx_buf_len, rx_buf_len, true };

	if (rx_busy[i])
		return true;
	if (bounce_add(&rxq, &rx_pool, &rx_breq[i], &b, 0, 1, b.addr) < 0)
		return false;
	rx_busy[i] = true;
	return true;
}

/* The next used receive buffer (not yet copied back), or NULL. */
static struct bounce_req *take_rx(void)
{
	struct bounce_req *r = bounce_take(&rxq);

	if (r)
		rx_busy[r - rx_breq] = false;
	return r;
}

/* Ring 3: stage frames 0..*@arg for transmit (reads them). Return: staged. */
static u64 stage_frames(void *arg)
{
	unsigned int n = *(unsigned int *)arg, i;

	for (i = 0; i < n; i++) {
		struct virtq_buf b[2] = {
			{ tx_frames[i], NET_HDR_LEN, false },
			{ tx_frames[i] + NET_HDR_LEN, tx_len[i], false },
		};

		if (bounce_stage(&tx_pool, &tx_breq[i], b, 2, 0, tx_frames[i]))
			break;
	}
	return i;
}

static bool net_setup(void)
{
	u64 want = BIT_ULL(VIRTIO_NET_F_MAC) | BIT_ULL(VIRTIO_NET_F_MRG_RXBUF) |
		   BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |
		   BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC);

	bool packed;

	if (virtio_negotiate(vdev, want))
		return false;
	/*
	 * A packed ring's size need not be a power of two (§2.8): 193 puts
	 * the last chain (test_interrupt()'s, after 128 direct and 64
	 * indirect slots) across the end of the ring, into the next lap.
	 */
	packed = vdev->features & BIT_ULL(VIRTIO_F_RING_PACKED);
	if (virtqueue_setup(vdev, &rxq, RXQ, 256) ||
	    virtqueue_setup(vdev, &txq, TXQ, packed ? 193 : 256))
		return false;
	return virtio_driver_ok(vdev);
}

/* One round: post every RX buffer, send NFRAMES, gather them back. */
static void net_round(bool indirect)
{
	unsigned int sent = 0, tx_done = 0, got = 0, seg_left = 0, bad_used = 0;
	u32 irqs0 = vdev->vring_irqs, kicks0 = txq.kicks + rxq.kicks;
	struct bounce_batch rx_batch = { &rx_pool, rx_done, 0 };
	struct rx_frame *cur = NULL;
	unsigned int staged, n = NFRAMES;

	report_prefix_push(indirect ? "indirect" : "direct");
	run_in_user(build_frames, NULL);
	memset(rx_frames, 0, sizeof(rx_frames));
	for (unsigned int i = 0; i < rx_nbufs; i++)
		post_rx(i);
	virtqueue_kick(&rxq);

	staged = (unsigned int)run_in_user(stage_frames, &n);
	for (unsigned int i = 0; i < staged; i++) {
		int head = indirect ? bounce_post_indirect(&txq, &tx_breq[i])
				    : bounce_post(&txq, &tx_breq[i]);

		if (head < 0)
			break;
		sent++;
	}
	for (unsigned int i = sent; i < staged; i++)
		bounce_release(&tx_pool, &tx_breq[i]);
	virtqueue_kick(&txq);
	report(sent == NFRAMES, "%u frames queued for transmit", sent);

	/* Gather: each wait is at most 1 ms; give up after ~5 s of silence. */
	for (unsigned int idle = 0; (got < sent || tx_done < sent) && idle < 5000;) {
		bool progress = false;
		struct bounce_req *r;

		while ((r = bounce_take(&txq))) {
			bounce_release(&tx_pool, r);
			tx_done++;
			progress = true;
		}
		while (got < NFRAMES && (r = take_rx())) {
			u32 len = r->used_len;

			progress = true;
			rx_done[rx_batch.n++] = r;
			if (!cur) {
				u16 nb = 1;

				cur = &rx_frames[got];
				/* The header as the device wrote it: in the slot. */
				if (mrg)
					memcpy(&nb, (u8 *)r->buf[0].addr + 10, 2);
				seg_left = nb && nb <= MAX_SEGS ? nb : 1;
			}
			if (len > rx_buf_len)
				bad_used++;
			cur->seg[cur->nseg] = r->cookie;
			cur->len[cur->nseg++] = len;
			if (!--seg_left) {
				cur = NULL;
				got++;
			}
		}
		if (progress) {
			idle = 0;
			continue;
		}
		idle++;
		if (virtqueue_pending_used(&txq) || virtqueue_pending_used(&rxq))
			continue;
		virtqueue_enable_cb(&txq);
		virtqueue_wait_pending(&rxq, 0);
	}
	/* Ring 3: what came back, out of the slots into the receive buffers. */
	run_in_user(bounce_finish_batch, &rx_batch);
	report(tx_done == sent, "transmit completions: %u of %u", tx_done, sent);
	report(got == sent, "frames received: %u of %u", got, sent);
	report(!bad_used, "used lengths within the buffers");
	report(got == sent && run_in_user(check_frames, NULL) == 0,
	       "every frame came back intact and in order");
	report_info("interrupts %u, kicks %u", vdev->vring_irqs - irqs0,
		    txq.kicks + rxq.kicks - kicks0);
	report_prefix_pop();
}

/* One frame with nothing else going on: its completion must interrupt. */
static void test_interrupt(void)
{
	struct bounce_batch batch = { &rx_pool, rx_done, 0 };
	struct bounce_req *r = NULL;
	unsigned int one = 1;
	u32 seen;

	for (unsigned int i = 0; i < 8; i++)
		post_rx(i);
	virtqueue_kick(&rxq);
	irq_window();			/* take anything still pending */
	virtqueue_enable_cb(&rxq);
	virtqueue_enable_cb(&txq);
	seen = vdev->vring_irqs;
	if (run_in_user(stage_frames, &one) == 1 && bounce_post(&txq, &tx_breq[0]) < 0)
		bounce_release(&tx_pool, &tx_breq[0]);
	virtqueue_kick(&txq);
	report(virtio_wait_counter(&vdev->vring_irqs, seen, 2000),
	       "used-buffer interrupt (InterruptStatus bit 0)");
	if (virtqueue_wait_pending(&rxq, 2000))
		r = take_rx();
	report(r && r->used_len == NET_HDR_LEN + tx_len[0], "the frame came back (%u bytes)",
	       r ? r->used_len : 0);
	if (r) {
		rx_done[batch.n++] = r;
		run_in_user(bounce_finish_batch, &batch);
	}
	if (virtqueue_wait_pending(&txq, 2000) && (r = bounce_take(&txq)))
		bounce_release(&tx_pool, r);
}

int main(void)
{
	bool protected = multiboot_has_arg("protected");
	u8 st;

	report_prefix_push("virtio-net");
	if (protected) {
		rx_bufs = private_alloc(RX_BYTES, 64);
		tx_frames = private_alloc(sizeof(tx_frames_shared), 64);
		if (!rx_bufs || !tx_frames) {
			report(false, "private RAM for the frames (needs --memory above 64M)");
			return report_summary();
		}
	}
	virtio_probe();
	vdev = virtio_find(VIRTIO_ID_NET, 0);
	if (!vdev) {
		report_skip("no virtio-net device (run with --net sim)");
		return report_summary();
	}
	virtio_irq_enable(vdev);
	report(net_setup(), "reset, features, queues, DRIVER_OK");
	report_info("slot %u, GSI %u, offered %#lx, negotiated %#lx", vdev->slot,
		    vdev->irq, (unsigned long)vdev->host_features,
		    (unsigned long)vdev->features);
	report(vdev->features & BIT_ULL(VIRTIO_F_VERSION_1), "VERSION_1 negotiated");
	mrg = vdev->features & BIT_ULL(VIRTIO_NET_F_MRG_RXBUF);
	rx_buf_len = mrg ? 512 : 1536;
	rx_nbufs = mrg ? 256 : 128;
	if (bounce_pool_init(&tx_pool, 2 * NFRAMES, NET_HDR_LEN + ETH_MAX, protected) ||
	    bounce_pool_init(&rx_pool, (u16)rx_nbufs, rx_buf_len, protected)) {
		report(false, "bounce slots in the shared window");
		return report_summary();
	}
	if (vdev->features & BIT_ULL(VIRTIO_NET_F_MAC)) {
		virtio_cread_bytes(vdev, 0, mac, 6);
		report(!(mac[0] & 1) && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]),
		       "MAC %02x:%02x:%02x:%02x:%02x:%02x from config space",
		       mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	}
	report_info("%s rings (RX %u, TX %u), mergeable RX %s, event idx %s, indirect %s",
		    txq.packed ? "packed" : "split", rxq.num, txq.num, mrg ? "on" : "off",
		    txq.event_idx ? "on" : "off", txq.indirect ? "on" : "off");

	round = 0;
	net_round(false);
	if (txq.indirect) {
		round = 1;
		net_round(true);
	} else {
		report_skip("INDIRECT_DESC not offered");
	}
	test_interrupt();
	if (protected)
		report(tx_pool.bytes_out > 0 && rx_pool.bytes_in > 0 &&
		       (u64)(uintptr_t)rx_bufs >= X86_PRIVATE_RAM_START,
		       "frames in private RAM at %#lx, %lu bytes bounced out, %lu in",
		       (unsigned long)(uintptr_t)tx_frames, (unsigned long)tx_pool.bytes_out,
		       (unsigned long)rx_pool.bytes_in);
	st = virtio_get_status(vdev);
	report(!(st & VIRTIO_STATUS_NEEDS_RESET), "no NEEDS_RESET after good traffic (status %#x)", st);
	report(virtio_reset(vdev), "reset");
	report_prefix_pop();
	return report_summary();
}
