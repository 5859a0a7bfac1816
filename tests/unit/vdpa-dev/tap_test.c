// SPDX-License-Identifier: GPL-2.0-only
/*
 * net over TAP, in a network namespace of its own (loopback only, nothing
 * leaves the machine): frames the driver transmits arrive on the TAP
 * interface (seen with a packet socket), frames injected on the interface
 * reach the driver's receive buffers, a frame too big for a buffer without
 * mergeable buffers is dropped and counted, and mergeable buffers carry
 * one frame over several chains (waiting, idle, for the buffers it lacks),
 * and rate limits set on the running device hold in both directions.
 * Multiqueue (max_vqp=2): the kernel spreads received flows over the TAP
 * queues of the pairs the driver uses, and only those: VQ_PAIRS_SET
 * attaches and detaches the TAP's queues before its ack.
 * Needs root and /dev/net/tun: skipped otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>

#include "../test.h"
#include "../vdpa/driver.h"

#define IFNAME		"kt0"
#define RXQ		0
#define TXQ		1
#define NUM		64
#define HDR		12
#define ETHERTYPE	0x88b5		/* IEEE local experimental */

static const u8 guest_mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x42 };

static int if_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int fd, ret = -1;
	char path[128];

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	fd = open(path, O_WRONLY);
	if (fd >= 0) {
		/* No router solicitations or MLD frames in the way. */
		if (write(fd, "1", 1) != 1)
			report_info("cannot disable IPv6 on %s", name);
		close(fd);
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (s >= 0)
		close(s);
	return ret;
}

static int packet_socket(const char *name)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETHERTYPE),
		.sll_ifindex = (int)if_nametoindex(name),
	};
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETHERTYPE));

	if (s < 0 || bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -1;
	return s;
}

static void make_frame(u8 *f, const u8 *dst, const u8 *src, size_t len, u8 seed)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETHERTYPE >> 8;
	f[13] = ETHERTYPE & 0xff;
	for (size_t i = 14; i < len; i++)
		f[i] = (u8)(i * 3 + seed);
}

static bool up(struct vdrv *d, struct vdpa_device *vdpa, u64 extra)
{
	u64 f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM) |
		(1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS) |
		VRINGH_F_EVENT_IDX | extra;

	return vdrv_init(d, vdpa, 4 << 20) == 0 && vdrv_map(d, 0) == 0 &&
	       vdrv_negotiate(d, f) == 0 && vdrv_vq_setup(d, RXQ, NUM) == 0 &&
	       vdrv_vq_setup(d, TXQ, NUM) == 0 && vdrv_vq_use_kickfd(d, TXQ) == 0 &&
	       vdrv_vq_use_kickfd(d, RXQ) == 0 && vdrv_driver_ok(d) == 0;
}

static void down(struct vdrv *d)
{
	vdpa_reset(d->vdpa);
	vdpa_dma_unmap(d->vdpa, 0, d->iova, d->size);
	vdrv_fini(d);
}

static void test_tx_rx(struct vdpa_device *vdpa, int ps)
{
	static const u8 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const u8 host_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	struct pollfd pfd = { .fd = ps, .events = POLLIN };
	struct vdpa_vq_stats st = { 0 };
	u8 *tx, *rx[4], got[2048], sent[100];
	struct vdrv d;
	u16 head;
	u32 len;
	ssize_t n;

	report_prefix_push("single buffers");
	if (!report(up(&d, vdpa, 0), "bring-up"))
		goto out;
	/* Guest -> TAP. */
	tx = vdrv_alloc(&d, HDR + 100, 64);
	memset(tx, 0, HDR);
	make_frame(tx + HDR, bcast, guest_mac, 100, 1);
	vdrv_add(&d, TXQ, &(struct vdrv_sg){ tx, HDR + 100, false }, 1);
	vdrv_publish(&d, TXQ);
	vdrv_kick(&d, TXQ);
	report(vdrv_wait_used(&d, TXQ, &head, &len, 2000), "TX chain used");
	n = poll(&pfd, 1, 2000) > 0 ? recv(ps, got, sizeof(got), 0) : -1;
	check_eq(n, 100);
	check_mem(got, tx + HDR, 100);
	report_checks("frame the guest sent arrived on " IFNAME " (%zd bytes)", n);

	/* TAP -> guest: one fits, one is too big for the 1 KiB buffers. */
	for (int i = 0; i < 4; i++) {
		rx[i] = vdrv_alloc(&d, 1024, 64);
		vdrv_add(&d, RXQ, &(struct vdrv_sg){ rx[i], 1024, true }, 1);
	}
	vdrv_publish(&d, RXQ);
	vdrv_kick(&d, RXQ);
	{
		static u8 big[1500];

		make_frame(big, guest_mac, host_mac, sizeof(big), 9);
		report_eq(send(ps, big, sizeof(big), 0), (ssize_t)sizeof(big),
			  "inject a 1500-byte frame");
	}
	make_frame(sent, guest_mac, host_mac, sizeof(sent), 5);
	report_eq(send(ps, sent, sizeof(sent), 0), (ssize_t)sizeof(sent),
		  "inject a 100-byte frame");
	if (check_true(vdrv_wait_used(&d, RXQ, &head, &len, 2000))) {
		check_eq(len, HDR + 100);
		check_mem(rx[0] + HDR, sent, 100);
		check_eq(le16_to_cpu(((struct virtio_net_hdr_v1 *)rx[0])->num_buffers), 1);
	}
	report_checks("injected frame reached the guest, num_buffers 1");
	vdpa_get_vq_stats(vdpa, RXQ, &st);
	report_ge(st.drops, 1, "the 1500-byte frame was dropped and counted (%llu)",
		  (unsigned long long)st.drops);
	down(&d);
out:
	report_prefix_pop();
}

/* An IPv4/UDP frame to @dst, flow @port: the kernel's queue choice hashes it. */
static void make_udp(u8 *f, const u8 *dst, u16 port)
{
	static const u8 src[6] = { 0x02, 0, 0, 0, 0, 0x02 };

	memset(f, 0, 60);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;				/* ETH_P_IP */
	f[14] = 0x45;				/* IPv4, 20-byte header */
	f[17] = 46;				/* total length */
	f[22] = 64;				/* TTL */
	f[23] = 17;				/* UDP */
	memcpy(f + 26, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	f[34] = (u8)(port >> 8);
	f[35] = (u8)port;
	f[36] = 0x13;				/* destination port 5000 */
	f[37] = 0x88;
	f[39] = 26;				/* UDP length */
}

/*
 * Post @n receive buffers on each of @npairs pairs (a pair left idle
 * keeps them: 3 calls at most with @n 16, rings of 64), inject @n UDP
 * flows on the interface and count where they arrive: @got[p]
 * frames on pair p's receive queue (@npairs pairs). Return: frames that
 * arrived, all of them unless one was lost.
 */
static unsigned int spread(struct vdrv *d, int ps, unsigned int n, u16 base,
			   unsigned int *got, u16 npairs)
{
	unsigned int total = 0;
	u8 f[60];
	u16 head;
	u32 len;

	for (u16 p = 0; p < npairs; p++)
		got[p] = 0;
	/* Sent as IPv4 (skb->protocol), or the kernel hashes no flow. */
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(0x0800),
		.sll_ifindex = (int)if_nametoindex("kt1"),
		.sll_halen = 6,
	};

	memcpy(to.sll_addr, guest_mac, 6);
	/* Room for all of them on any pair. */
	for (u16 p = 0; p < npairs; p++) {
		for (unsigned int i = 0; i < n; i++) {
			u8 *rx = vdrv_alloc(d, 2048, 64);

			vdrv_add(d, (u16)(2 * p), &(struct vdrv_sg){ rx, 2048, true }, 1);
		}
		vdrv_publish(d, (u16)(2 * p));
		vdrv_kick(d, (u16)(2 * p));
	}
	for (unsigned int i = 0; i < n; i++) {
		make_udp(f, guest_mac, (u16)(base + i));
		if (sendto(ps, f, sizeof(f), 0, (struct sockaddr *)&to, sizeof(to)) !=
		    (ssize_t)sizeof(f))
			return total;
	}
	/* Each frame once; 2 s at most for the last one. */
	for (int idle = 0; total < n && idle < 200;) {
		bool any = false;

		for (u16 p = 0; p < npairs; p++) {
			while (vdrv_get_used(d, (u16)(2 * p), &head, &len) == 1) {
				got[p]++;
				total++;
				any = true;
			}
		}
		if (!any) {
			idle++;
			vdrv_msleep(10);
		}
	}
	return total;
}

enum { MQ_PAIRS = 2, MQ_CVQ = 2 * MQ_PAIRS };

/* Bring-up with VIRTIO_NET_F_MQ, every queue of MQ_PAIRS pairs and the control queue. */
static bool mq_up(struct vdrv *d, struct vdpa_device *vdpa)
{
	const u64 f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM) |
		      (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS) |
		      (1ULL << VIRTIO_NET_F_CTRL_VQ) | (1ULL << VIRTIO_NET_F_MQ) |
		      VRINGH_F_EVENT_IDX;
	bool ok = vdrv_init(d, vdpa, 4 << 20) == 0 && vdrv_map(d, 0) == 0 &&
		  vdrv_map(d, 1) == 0 && vdrv_negotiate(d, f) == 0;

	for (u16 q = 0; ok && q <= MQ_CVQ; q++)
		ok = vdrv_vq_setup(d, q, NUM) == 0;
	return ok && vdrv_driver_ok(d) == 0;
}

static void mq_down(struct vdrv *d, struct vdpa_device *vdpa)
{
	vdpa_reset(vdpa);
	vdpa_dma_unmap(vdpa, 0, d->iova, d->size);
	vdpa_dma_unmap(vdpa, 1, d->iova, d->size);
	vdrv_fini(d);
}

static void test_multiqueue(struct vdpa_device *vdpa, int ps)
{
	enum { PAIRS = MQ_PAIRS, CVQ = MQ_CVQ, N = 16 };
	static const u8 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct pollfd pfd = { .fd = ps, .events = POLLIN };
	unsigned int got[PAIRS];
	u8 two[2] = { 2, 0 }, one[2] = { 1, 0 }, *tx, buf[2048];
	u8 st[VDPA_DEV_STATE_MAX];
	struct vdrv d;
	ssize_t slen;
	u16 head;
	u32 len;
	ssize_t n;

	report_prefix_push("multiqueue");
	if (!report(mq_up(&d, vdpa), "bring-up with MQ, %d pairs", PAIRS))
		goto out;

	report_eq(spread(&d, ps, N, 1000, got, PAIRS), N, "%d flows received", N);
	report(got[0] == N && got[1] == 0, "one pair in use: all on pair 0 (%u, %u)",
	       got[0], got[1]);

	report_eq(vdrv_net_ctrl(&d, CVQ, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
				two, 2, true), VIRTIO_NET_OK, "VQ_PAIRS_SET 2 acked OK");
	tx = vdrv_alloc(&d, HDR + 100, 64);
	memset(tx, 0, HDR);
	make_frame(tx + HDR, bcast, guest_mac, 100, 3);
	vdrv_add(&d, 3, &(struct vdrv_sg){ tx, HDR + 100, false }, 1);
	vdrv_publish(&d, 3);
	vdrv_kick(&d, 3);
	report(vdrv_wait_used(&d, 3, &head, &len, 2000), "pair 1 TX chain used");
	n = poll(&pfd, 1, 2000) > 0 ? recv(ps, buf, sizeof(buf), 0) : -1;
	check_eq(n, 100);
	check_mem(buf, tx + HDR, 100);
	report_checks("a frame sent on pair 1 left through its TAP queue (%zd bytes)", n);
	report_eq(spread(&d, ps, N, 2000, got, PAIRS), N, "%d more flows received", N);
	report(got[0] > 0 && got[1] > 0, "two pairs in use: flows spread over both (%u, %u)",
	       got[0], got[1]);

	/* What a snapshot keeps brings TAP queue 1 back (TUNSETQUEUE). */
	report_eq(vdpa_suspend(vdpa), 0, "suspend");
	slen = vdpa_get_dev_state(vdpa, st, sizeof(st));
	report_eq(slen, 16, "device state saved (%zd bytes)", slen);
	mq_down(&d, vdpa);
	if (!report(mq_up(&d, vdpa), "bring-up again"))
		goto out;
	report_eq(spread(&d, ps, N, 4000, got, PAIRS), N, "%d more flows received", N);
	report(got[0] == N && got[1] == 0, "after reset one pair: all on pair 0 (%u, %u)",
	       got[0], got[1]);
	report_eq(vdpa_set_dev_state(vdpa, st, slen > 0 ? (size_t)slen : 0), 0,
		  "the saved state (2 pairs) loads");
	report_eq(spread(&d, ps, N, 5000, got, PAIRS), N, "%d more flows received", N);
	report(got[0] > 0 && got[1] > 0,
	       "restored: flows spread over both pairs again (%u, %u)", got[0], got[1]);

	report_eq(vdrv_net_ctrl(&d, CVQ, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
				one, 2, true), VIRTIO_NET_OK, "VQ_PAIRS_SET 1 acked OK");
	report_eq(spread(&d, ps, N, 3000, got, PAIRS), N, "%d more flows received", N);
	report(got[0] == N && got[1] == 0, "back to one pair: all on pair 0 (%u, %u)",
	       got[0], got[1]);
	report_eq(vdpa_get_status(vdpa) & VIRTIO_CONFIG_S_NEEDS_RESET, 0, "no NEEDS_RESET");
	mq_down(&d, vdpa);
out:
	report_prefix_pop();
}

static void test_mergeable(struct vdpa_device *vdpa, int ps)
{
	static const u8 host_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static u8 big[3000];
	u8 *rx[8];
	struct vdrv d;
	size_t off = 0;
	u32 len, total = 0;
	u16 head, nbufs = 0;
	bool same = true;

	report_prefix_push("mergeable");
	if (!report(up(&d, vdpa, 1ULL << VIRTIO_NET_F_MRG_RXBUF), "bring-up"))
		goto out;
	for (int i = 0; i < 8; i++) {
		rx[i] = vdrv_alloc(&d, 1024, 64);
		vdrv_add(&d, RXQ, &(struct vdrv_sg){ rx[i], 1024, true }, 1);
	}
	vdrv_publish(&d, RXQ);
	vdrv_kick(&d, RXQ);
	make_frame(big, guest_mac, host_mac, 1400, 7);	/* the MTU bounds it */
	report_eq(send(ps, big, 1400, 0), 1400, "inject a 1400-byte frame");
	for (int i = 0; i < 8; i++) {
		if (!vdrv_wait_used(&d, RXQ, &head, &len, i ? 200 : 2000))
			break;
		if (i == 0)
			nbufs = le16_to_cpu(((struct virtio_net_hdr_v1 *)rx[head])->num_buffers);
		/* Heads map 1:1 to buffers: each chain is one descriptor. */
		same &= !memcmp(rx[head] + (i ? 0 : HDR), big + off, len - (i ? 0 : HDR));
		off += len - (i ? 0 : HDR);
		total += len;
	}
	check_eq(nbufs, 2);
	check_eq(total, HDR + 1400);
	report_checks("spread over %u buffers (%u bytes)", nbufs, total);
	report(same, "contents intact across buffers");
	down(&d);
out:
	report_prefix_pop();
}

/*
 * A merged frame that finds too few receive buffers waits for the kick
 * that brings more, without the worker spinning meanwhile, and then goes
 * out whole over both.
 */
static void test_mergeable_wait(struct vdpa_device *vdpa, int ps)
{
	static const u8 host_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static u8 big[1400];
	struct timespec t0, t1;
	struct vdrv d;
	u8 *rx[2];
	double cpu;
	u16 head, nbufs;
	u32 len;

	report_prefix_push("mergeable-wait");
	if (!report(up(&d, vdpa, 1ULL << VIRTIO_NET_F_MRG_RXBUF), "bring-up"))
		goto out;
	for (int i = 0; i < 2; i++)
		rx[i] = vdrv_alloc(&d, 1024, 64);
	vdrv_add(&d, RXQ, &(struct vdrv_sg){ rx[0], 1024, true }, 1);
	vdrv_publish(&d, RXQ);
	vdrv_kick(&d, RXQ);
	make_frame(big, guest_mac, host_mac, sizeof(big), 3);
	report(send(ps, big, sizeof(big), 0) == (ssize_t)sizeof(big),
	       "inject a 1400-byte frame for one 1 KiB buffer");
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	vdrv_msleep(300);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	cpu = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	report(cpu < 0.05, "no spinning while it waits (%.3f s of CPU in 0.3 s)", cpu);
	report(!vdrv_get_used(&d, RXQ, &head, &len), "nothing delivered in part");
	vdrv_add(&d, RXQ, &(struct vdrv_sg){ rx[1], 1024, true }, 1);
	vdrv_publish(&d, RXQ);
	vdrv_kick(&d, RXQ);
	nbufs = 0;
	if (vdrv_wait_used(&d, RXQ, &head, &len, 2000) && head == 0)
		nbufs = le16_to_cpu(((struct virtio_net_hdr_v1 *)rx[0])->num_buffers);
	report(nbufs == 2 && vdrv_wait_used(&d, RXQ, &head, &len, 2000) &&
	       len == HDR + sizeof(big) - 1024,
	       "delivered over 2 buffers once the second came (num_buffers %u)",
	       nbufs);
	down(&d);
out:
	report_prefix_pop();
}

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

/* @n within @ms of a bucket set at @t0: size + size / refill x elapsed. */
static void check_limit(const char *what, u64 n, const struct vdpa_bucket *b,
			u64 t0, u64 last)
{
	double ms = (double)(last - t0) / 1e6;
	double bound = (double)b->size + (double)b->size * ms / (double)b->refill_ms;

	printf("# %s: %llu frames in %.0f ms, limit %.0f/s after %llu (bound %.0f)\n", what,
	       (unsigned long long)n, ms, (double)b->size * 1000.0 / (double)b->refill_ms,
	       (unsigned long long)b->size, bound);
	report((double)n <= bound, "%s: %llu frames within size + rate x time (%.0f)", what,
	       (unsigned long long)n, bound);
}

#define RL_FRAMES	32	/* chains kept in flight */
#define RL_MS		500
#define RL_INJECT	200	/* frames injected for the receive limit */

/*
 * Limits set on the running TAP device: transmit and receive each at most
 * size + rate x time frames, and nothing lost while throttled (every
 * injected frame arrives once the limit is lifted).
 */
static void test_rate_limits(struct vdpa_device *vdpa, int ps)
{
	static const struct vdpa_bucket tx_ops = { 50, 0, 100 }, rx_ops = { 20, 0, 100 },
		none = { 0 };
	static const u8 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const u8 host_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	u8 *tx, *rx[RL_FRAMES], frame[100];
	u64 t0, last, done = 0, got = 0, bad = 0, end;
	unsigned int inflight = 0;
	struct vdrv d;
	u16 head;
	u32 len;

	report_prefix_push("rate limits");
	if (!report(up(&d, vdpa, 0), "bring-up"))
		goto out;

	/* Transmit: 500 frames/s. */
	tx = vdrv_alloc(&d, HDR + 100, 64);
	memset(tx, 0, HDR);
	make_frame(tx + HDR, bcast, guest_mac, 100, 3);
	t0 = now_ns();
	report_eq(vdpa_set_rate_limit(vdpa, VDPA_LIMIT_NET_TX, NULL, &tx_ops), 0,
		  "a transmit limit on the running device");
	for (; inflight < RL_FRAMES; inflight++)
		vdrv_add(&d, TXQ, &(struct vdrv_sg){ tx, HDR + 100, false }, 1);
	vdrv_publish(&d, TXQ);
	vdrv_kick(&d, TXQ);
	last = t0;
	for (end = t0 + RL_MS * 1000000ULL; now_ns() < end;) {
		if (!vdrv_wait_used(&d, TXQ, &head, &len, 1))
			continue;
		done++;
		last = now_ns();
		vdrv_add(&d, TXQ, &(struct vdrv_sg){ tx, HDR + 100, false }, 1);
		vdrv_publish(&d, TXQ);
		vdrv_kick(&d, TXQ);
	}
	check_limit("tap tx", done, &tx_ops, t0, last);
	report_eq(vdpa_set_rate_limit(vdpa, VDPA_LIMIT_NET_TX, NULL, &none), 0, "lift it");
	while (inflight && vdrv_wait_used(&d, TXQ, &head, &len, 2000))
		inflight--;
	report_eq(inflight, 0, "every transmit chain completes");

	/* Receive: 200 frames/s; RL_INJECT frames wait in the TAP meanwhile. */
	for (int i = 0; i < RL_FRAMES; i++) {
		rx[i] = vdrv_alloc(&d, 2048, 64);
		vdrv_add(&d, RXQ, &(struct vdrv_sg){ rx[i], 2048, true }, 1);
	}
	vdrv_publish(&d, RXQ);
	vdrv_kick(&d, RXQ);
	t0 = now_ns();
	report_eq(vdpa_set_rate_limit(vdpa, VDPA_LIMIT_NET_RX, NULL, &rx_ops), 0,
		  "a receive limit on the running device");
	make_frame(frame, guest_mac, host_mac, sizeof(frame), 7);
	for (int i = 0; i < RL_INJECT; i++)
		if (send(ps, frame, sizeof(frame), 0) != (ssize_t)sizeof(frame))
			bad++;
	report_eq(bad, 0, "inject %d frames", RL_INJECT);
	last = t0;
	for (end = t0 + RL_MS * 1000000ULL; now_ns() < end;) {
		if (!vdrv_wait_used(&d, RXQ, &head, &len, 1))
			continue;
		got++;
		last = now_ns();
		bad += len != HDR + sizeof(frame);
		/* Any buffer will do: they are all alike. */
		vdrv_add(&d, RXQ, &(struct vdrv_sg){ rx[0], 2048, true }, 1);
		vdrv_publish(&d, RXQ);
		vdrv_kick(&d, RXQ);
	}
	check_limit("tap rx", got, &rx_ops, t0, last);
	report_eq(vdpa_set_rate_limit(vdpa, VDPA_LIMIT_NET_RX, NULL, &none), 0, "lift it");
	while (got < RL_INJECT && vdrv_wait_used(&d, RXQ, &head, &len, 2000)) {
		got++;
		bad += len != HDR + sizeof(frame);
		vdrv_add(&d, RXQ, &(struct vdrv_sg){ rx[0], 2048, true }, 1);
		vdrv_publish(&d, RXQ);
		vdrv_kick(&d, RXQ);
	}
	check_eq(got, RL_INJECT);
	check_eq(bad, 0);
	report_checks("every injected frame arrived, none lost while throttled");
	down(&d);
out:
	report_prefix_pop();
}

static int run_in_netns(void)
{
	struct vdpa_device *vdpa;
	int ps;

	if (unshare(CLONE_NEWNET) < 0) {
		report_skip("unshare(CLONE_NEWNET): %s", strerror(errno));
		return report_summary();
	}
	if (vdpa_register_types() ||
	    vdpa_mgmt_dev_add("tap,path=" IFNAME ",mac=52:54:00:00:00:42", &vdpa)) {
		report_skip("cannot create a TAP here (see the log line)");
		return report_summary();
	}
	report_eq(vdpa_get_device_id(vdpa), 1, "TAP device created in a private netns");
	if (!report_eq(if_up(IFNAME), 0, IFNAME " up"))
		return report_summary();
	ps = packet_socket(IFNAME);
	if (!report_ge(ps, 0, "packet socket on " IFNAME))
		return report_summary();
	test_tx_rx(vdpa, ps);
	test_mergeable(vdpa, ps);
	test_mergeable_wait(vdpa, ps);
	test_rate_limits(vdpa, ps);
	close(ps);
	vdpa_mgmt_dev_del(vdpa);

	if (!report_eq(vdpa_mgmt_dev_add("tap,path=kt1,mac=52:54:00:00:00:42,max_vqp=2",
					 &vdpa), 0, "multiqueue TAP kt1 created") ||
	    !report_eq(if_up("kt1"), 0, "kt1 up"))
		return report_summary();
	ps = packet_socket("kt1");
	if (report_ge(ps, 0, "packet socket on kt1")) {
		test_multiqueue(vdpa, ps);
		close(ps);
	}
	vdpa_mgmt_dev_del(vdpa);
	return report_summary();
}

int main(void)
{
	int status;
	pid_t pid;

	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
		printf("SKIP: needs root and /dev/net/tun\n");
		return 77;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(run_in_netns());
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return 1;
	return WEXITSTATUS(status);
}
