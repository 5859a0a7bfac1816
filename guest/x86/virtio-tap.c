// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-net over a host TAP (--net tap=ktap0,mac=...), run by
 * scripts/tap-netns.sh inside a network namespace with a peer on the TAP:
 * the guest sends N frames "KESTREL G2H nn <pattern>" (ethertype 0x88b5);
 * the peer answers each with "KESTREL H2G nn <same pattern>", so every
 * answer that arrives proves both directions. The wrapper also checks
 * that the peer saw all N.
 */
#include "guest.h"
#include "virtio.h"

#define VIRTIO_NET_F_MAC	5
#define NET_HDR_LEN		12
#define NFRAMES			16
#define PAYLOAD			100
#define FRAME_LEN		(14 + PAYLOAD)
#define RXQ			0
#define TXQ			1
#define NRX			64

static struct virtio_device *vdev;
static struct virtqueue rxq, txq;
static u8 mac[6];
static u8 tx[NFRAMES][NET_HDR_LEN + FRAME_LEN] __aligned(64);
static u8 rx[NRX][1536] __aligned(64);

static void build(unsigned int i)
{
	u8 *f = tx[i] + NET_HDR_LEN;

	memset(tx[i], 0, NET_HDR_LEN);
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	memcpy(f + 14, "KESTREL G2H ", 12);
	f[26] = (u8)('0' + i / 10);
	f[27] = (u8)('0' + i % 10);
	for (unsigned int j = 28; j < FRAME_LEN; j++)
		f[j] = (u8)(i * 5 + j);
}

/* An answer to frame i: to our MAC, "H2G", the same numbered payload. */
static int answer_index(const u8 *buf, u32 len)
{
	const u8 *f = buf + NET_HDR_LEN;
	unsigned int i;

	if (len < NET_HDR_LEN + FRAME_LEN || f[12] != 0x88 || f[13] != 0xb5 ||
	    memcmp(f + 14, "KESTREL H2G ", 12))
		return -1;
	i = (unsigned int)(f[26] - '0') * 10 + (unsigned int)(f[27] - '0');
	if (i >= NFRAMES || memcmp(f, mac, 6) ||
	    memcmp(f + 26, tx[i] + NET_HDR_LEN + 26, FRAME_LEN - 26))
		return -2;
	return (int)i;
}

int main(void)
{
	bool seen[NFRAMES] = { false };
	unsigned int got = 0, bad = 0, other = 0, sent = 0;

	report_prefix_push("virtio-tap");
	vdev = virtio_find(VIRTIO_ID_NET, 0);
	if (!vdev) {
		report_skip("no virtio-net device (run with --net tap=IFNAME)");
		return report_summary();
	}
	virtio_irq_enable(vdev);
	report(!virtio_negotiate(vdev, BIT_ULL(VIRTIO_NET_F_MAC) |
				 BIT_ULL(VIRTIO_RING_F_EVENT_IDX)) &&
	       !virtqueue_setup(vdev, &rxq, RXQ, 128) &&
	       !virtqueue_setup(vdev, &txq, TXQ, 128) && virtio_driver_ok(vdev),
	       "reset, features, queues, DRIVER_OK");
	virtio_cread_bytes(vdev, 0, mac, 6);
	report_info("MAC %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		    mac[3], mac[4], mac[5]);
	for (unsigned int i = 0; i < NRX; i++) {
		struct virtq_buf b = { rx[i], sizeof(rx[i]), true };

		virtqueue_add(&rxq, &b, 0, 1, rx[i]);
	}
	virtqueue_kick(&rxq);

	for (unsigned int i = 0; i < NFRAMES; i++) {
		struct virtq_buf b[2] = {
			{ tx[i], NET_HDR_LEN, false },
			{ tx[i] + NET_HDR_LEN, FRAME_LEN, false },
		};

		build(i);
		sent += virtqueue_add(&txq, b, 2, 0, tx[i]) >= 0;
	}
	virtqueue_kick(&txq);

	for (unsigned int idle = 0; got < NFRAMES && idle < 20000; idle++) {
		u32 len;
		void *c;
		int i;

		while (virtqueue_get(&txq, NULL))
			;
		if (!virtqueue_wait_pending(&rxq, 0))
			continue;
		c = virtqueue_get(&rxq, &len);
		if (!c)
			continue;
		i = answer_index(c, len);
		if (i == -1)
			other++;
		else if (i < 0)
			bad++;
		else if (!seen[i]) {
			seen[i] = true;
			got++;
		}
		/* Recycle the buffer. */
		{
			struct virtq_buf b = { c, sizeof(rx[0]), true };

			virtqueue_add(&rxq, &b, 0, 1, c);
			virtqueue_kick(&rxq);
		}
	}
	report(sent == NFRAMES, "%u frames sent to the TAP", sent);
	report(got == NFRAMES, "%u of %u answers came back from the TAP", got, NFRAMES);
	report(!bad, "answers intact (%u damaged, %u unrelated frames ignored)", bad, other);
	report(virtio_reset(vdev), "reset");
	report_prefix_pop();
	return report_summary();
}
