// SPDX-License-Identifier: GPL-2.0-only
/*
 * Packets per second through the loopback net simulator, driven by the
 * in-process test driver: the driver thread keeps the RX ring full,
 * transmits 64-byte frames in batches (each chain published as it is
 * added, like Linux's virtqueue_add()) and reaps both used rings; the
 * device's worker thread loops every frame back. Prints figures only.
 * bench/virtio-transport.sh sets the "kick eventfd" runs beside the same
 * loop in a kestrel guest (guest/x86/bench-virtio-net.c).
 *
 *   build/bench/vdpa_net_bench [seconds] [batch]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <kestrel/vdpa.h>

#include "../tests/unit/vdpa/driver.h"

#define RXQ	0
#define TXQ	1
#define NUM	256
#define HDR	12
#define FRAME	64
#define RXBUF	2048

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(struct vdpa_device *vdpa, double seconds, unsigned int batch,
	       bool event_idx, bool kickfd)
{
	u64 features = (1ULL << VIRTIO_F_VERSION_1) |
		       (1ULL << VIRTIO_F_ACCESS_PLATFORM) |
		       (1ULL << VIRTIO_NET_F_MAC);
	static u8 *rx_of_head[NUM];
	unsigned long long sent = 0, received = 0, bad = 0;
	struct vdpa_vq_stats st, tx_st;
	struct vdrv d;
	u8 *tx[NUM], *rx[NUM];
	double t0, t1;
	u8 mac[6];
	u16 head;
	u32 len;

	if (event_idx)
		features |= VRINGH_F_EVENT_IDX;
	if (vdrv_init(&d, vdpa, 4 << 20) || vdrv_map(&d, 0) ||
	    vdrv_negotiate(&d, features))
		return -1;
	for (u16 q = 0; q < 3; q++)
		if (vdrv_vq_setup(&d, q, NUM))
			return -1;
	if (kickfd && (vdrv_vq_use_kickfd(&d, TXQ) || vdrv_vq_use_kickfd(&d, RXQ)))
		return -1;
	if (vdrv_driver_ok(&d))
		return -1;
	vdpa_get_config(vdpa, 0, mac, 6);

	for (unsigned int i = 0; i < NUM; i++) {
		struct vdrv_sg sg;
		int h;

		rx[i] = vdrv_alloc(&d, RXBUF, 64);
		tx[i] = vdrv_alloc(&d, HDR + FRAME, 64);
		memset(tx[i], 0, HDR + FRAME);
		memcpy(tx[i] + HDR, mac, 6);
		sg = (struct vdrv_sg){ rx[i], RXBUF, true };
		h = vdrv_add(&d, RXQ, &sg, 1);
		rx_of_head[h] = rx[i];
	}
	vdrv_publish(&d, RXQ);
	vdrv_kick(&d, RXQ);

	t0 = now();
	t1 = t0;
	while (t1 - t0 < seconds) {
		unsigned int n = 0;

		/* Transmit a batch (one descriptor per frame: header + data). */
		while (n < batch && d.vqs[TXQ].num_free) {
			struct vdrv_sg sg = { tx[sent % NUM], HDR + FRAME, false };

			/* Published chain by chain, as Linux's virtqueue_add()
			 * and the guest library (bench-virtio-net.c) do. */
			vdrv_add(&d, TXQ, &sg, 1);
			vdrv_publish(&d, TXQ);
			n++;
			sent++;
		}
		vdrv_kick(&d, TXQ);

		/* Reap: recycle RX buffers, free TX descriptors. */
		n = 0;
		while (vdrv_get_used(&d, RXQ, &head, &len)) {
			u8 *b = rx_of_head[head];
			struct vdrv_sg sg = { b, RXBUF, true };
			int h;

			bad += len != HDR + FRAME;
			received++;
			h = vdrv_add(&d, RXQ, &sg, 1);
			vdrv_publish(&d, RXQ);
			rx_of_head[h] = b;
			n++;
		}
		if (n)
			vdrv_kick(&d, RXQ);
		while (vdrv_get_used(&d, TXQ, &head, &len))
			;
		if ((sent & 0x3ff) < batch)
			t1 = now();
	}
	t1 = now();
	vdpa_get_vq_stats(vdpa, RXQ, &st);
	vdpa_get_vq_stats(vdpa, TXQ, &tx_st);
	/* Interrupts: what the device raised (its counters), as kestrel logs. */
	printf("vdpa_net_bench: %3u-frame batches, event_idx %-3s kick %-7s "
	       "%8.3f Mpps  (%llu frames in %.2f s, %llu RX drops, %llu bad, "
	       "%.2f kicks/kframe, rx %.2f kicks/kframe, %.2f irqs/kframe)\n",
	       batch, event_idx ? "on" : "off", kickfd ? "eventfd" : "call",
	       (double)received / (t1 - t0) / 1e6, received, t1 - t0,
	       (unsigned long long)st.drops, bad,
	       1000.0 * (double)d.vqs[TXQ].kicks / (double)(sent ? sent : 1),
	       1000.0 * (double)d.vqs[RXQ].kicks / (double)(sent ? sent : 1),
	       1000.0 * (double)(st.notifies + tx_st.notifies) /
	       (double)(sent ? sent : 1));
	vdpa_reset(vdpa);
	vdpa_dma_unmap(vdpa, 0, d.iova, d.size);
	vdrv_fini(&d);
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	unsigned int batch = argc > 2 ? (unsigned int)atoi(argv[2]) : 32;
	struct vdpa_device *vdpa;

	if (seconds <= 0 || batch == 0 || batch > NUM) {
		fprintf(stderr, "usage: vdpa_net_bench [seconds] [batch 1..%d]\n", NUM);
		return 2;
	}
	if (vdpa_register_types() ||
	    vdpa_mgmt_dev_add("net,mac=52:54:00:12:34:56", &vdpa)) {
		fprintf(stderr, "vdpa_net_bench: cannot create the net simulator\n");
		return 1;
	}
	run(vdpa, seconds, batch, true, false);
	run(vdpa, seconds, batch, true, true);
	run(vdpa, seconds, batch, false, false);
	run(vdpa, seconds, batch, false, true);
	run(vdpa, seconds, 1, true, false);
	vdpa_mgmt_dev_del(vdpa);
	return 0;
}
