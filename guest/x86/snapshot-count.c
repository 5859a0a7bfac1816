// SPDX-License-Identifier: GPL-2.0-only
/*
 * A guest for snapshot tests (scripts/snapshot-test.sh): counts from 0 to
 * COUNT_END, printing "count N" per step, one step per tick of a periodic
 * LAPIC timer it halts for (a restored guest whose timer no longer fires
 * hangs, and the test times out), with the count kept both in a register
 * (the loop variable) and in memory, and checks at every step that the two
 * agree, that the TSC never went backwards and, every PONG_EVERY steps,
 * that the PONG device still answers a ping. With a virtio-net device
 * (--net sim, the loopback) every step also sends a frame holding the
 * count and waits for it to come back: frames must still flow after a
 * restore. A frame inside the host device at the snapshot may be lost, as
 * on any network: it is sent again (at most RESENDS times). With a
 * virtio-blk disk (--disk FILE) every step writes sector N with
 * "kestrel count N" and waits for the device to acknowledge it: the host
 * checks the file holds every count afterwards. With "mq" on the command
 * line and a net device of two queue pairs, the guest drives the control
 * queue first: two pairs in use (VQ_PAIRS_SET), a MAC of its own
 * (MAC_ADDR_SET), promisc off; it then echoes on pair 1 only, to that MAC,
 * and at the end config space must still show the MAC: what the control
 * queue set must survive the restore. The i8042's
 * configuration byte, set to an unusual value at the start, must still
 * read back at the end. Snapshotted
 * in the middle and restored in a new kestrel, it must carry on exactly
 * where it stopped: the host joins both consoles and checks 0..COUNT_END
 * appear once each, in order.
 */
#include "guest.h"
#include "virtio.h"
#include "x86/apic.h"
#include "x86/desc.h"
#include "x86/multiboot.h"
#include "x86/pong.h"
#include "x86/processor.h"

#include <kestrel/x86/layout.h>

#define COUNT_END	300
#define PONG_EVERY	50
#define TIMER_VEC	0x40
#define TIMER_PERIOD	5000000		/* APIC bus ticks (1 GHz on KVM): 5 ms */

#define NET_HDR_LEN	12	/* struct virtio_net_hdr_v1 */
#define FRAME_LEN	64
#define NRX		16
#define RESENDS		3

static volatile u64 mem_count;
static volatile u32 ticks;

static void timer_handler(struct ex_regs *regs)
{
	ticks++;
}

/* Halt until the next timer tick. */
static void wait_tick(void)
{
	u32 t = ticks;

	while (ticks == t)
		safe_halt();
	irq_disable();
}

struct blk_req {
	u32 type;
	u32 reserved;
	u64 sector;
	u8 status;
};

static struct virtio_device *blk;
static struct virtqueue blkq;
static struct blk_req breq;
static u8 sector_buf[512] __aligned(512);

static struct virtio_device *net;
static struct virtqueue rxq, txq;
static u8 rx_bufs[NRX][1536] __aligned(64);
static u8 tx_frame[NET_HDR_LEN + FRAME_LEN] __aligned(64);
static unsigned int resent;

/* virtio 1.2 §5.1.3, §5.1.6.5: the control queue of "mq" (two pairs). */
#define NET_F_CTRL_VQ		17
#define NET_F_CTRL_RX		18
#define NET_F_MQ		22
#define NET_F_CTRL_MAC_ADDR	23
#define NET_MQ_FEATURES		((1ULL << NET_F_CTRL_VQ) | (1ULL << NET_F_CTRL_RX) | \
				 (1ULL << NET_F_MQ) | (1ULL << NET_F_CTRL_MAC_ADDR))
#define NET_CTRL_RX		0
#define NET_CTRL_RX_PROMISC	0
#define NET_CTRL_MAC		1
#define NET_CTRL_MAC_ADDR_SET	1
#define NET_CTRL_MQ		4
#define NET_CTRL_MQ_VQ_PAIRS_SET 0
#define NET_CVQ			4	/* 2 * max_virtqueue_pairs */

static bool mq;
static struct virtqueue ctrlq;
/* Locally administered, unicast: the MAC the driver sets. */
static const u8 mq_mac[6] = { 0x02, 0x6d, 0x71, 0x00, 0x00, 0x07 };
/* Broadcast, or mq_mac: frames the device's filter lets through. */
static u8 echo_dst[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* One control command; true once acked VIRTIO_NET_OK (no timer yet: polled). */
static bool net_ctrl(u8 class, u8 cmd, const void *data, u32 len)
{
	static u8 hdr[2], payload[8], ack;
	struct virtq_buf b[3] = {
		{ hdr, 2, false }, { payload, len, false }, { &ack, 1, true },
	};

	hdr[0] = class;
	hdr[1] = cmd;
	memcpy(payload, data, len);
	ack = 0xee;
	if (virtqueue_add(&ctrlq, b, 2, 1, hdr) < 0)
		return false;
	virtqueue_kick(&ctrlq);
	for (unsigned long i = 0; i < (1UL << 30); i++) {
		if (virtqueue_get(&ctrlq, NULL))
			return ack == 0;
		cpu_relax();
	}
	return false;
}

/* Pair 1 in use (rxq, txq), the driver's MAC, promisc off. */
static bool net_setup_mq(void)
{
	static const u8 two[2] = { 2, 0 }, off;

	if (virtio_negotiate(net, NET_MQ_FEATURES) ||
	    (net->features & NET_MQ_FEATURES) != NET_MQ_FEATURES ||
	    virtio_cread16(net, 8) != 2) {
		printf("FAIL: mq: no control queue, MQ or two pairs offered\n");
		return false;
	}
	if (virtqueue_setup(net, &rxq, 2, 64) || virtqueue_setup(net, &txq, 3, 64) ||
	    virtqueue_setup(net, &ctrlq, NET_CVQ, 16) || !virtio_driver_ok(net))
		return false;
	if (!net_ctrl(NET_CTRL_MQ, NET_CTRL_MQ_VQ_PAIRS_SET, two, 2) ||
	    !net_ctrl(NET_CTRL_MAC, NET_CTRL_MAC_ADDR_SET, mq_mac, 6) ||
	    !net_ctrl(NET_CTRL_RX, NET_CTRL_RX_PROMISC, &off, 1)) {
		printf("FAIL: mq: a control command was not acked OK\n");
		return false;
	}
	memcpy(echo_dst, mq_mac, 6);
	return true;
}

static bool net_setup(void)
{
	net = virtio_find(VIRTIO_ID_NET, 0);
	if (!net)
		return true;
	mq = multiboot_has_arg("mq");
	if (mq) {
		if (!net_setup_mq())
			return false;
	} else if (virtio_negotiate(net, 0) || virtqueue_setup(net, &rxq, 0, 64) ||
		   virtqueue_setup(net, &txq, 1, 64) || !virtio_driver_ok(net)) {
		return false;
	}
	for (unsigned int i = 0; i < NRX; i++) {
		struct virtq_buf b = { rx_bufs[i], sizeof(rx_bufs[i]), true };

		virtqueue_add(&rxq, &b, 0, 1, rx_bufs[i]);
	}
	virtqueue_kick(&rxq);
	return true;
}

/*
 * Send a frame holding @n; true once it came back intact. Polls at each
 * timer tick (the library's waits would take over the LAPIC timer).
 */
static bool net_echo(u64 n)
{
	u8 *f = tx_frame + NET_HDR_LEN;

	memset(tx_frame, 0, sizeof(tx_frame));
	memcpy(f, echo_dst, 6);
	memcpy(f + 6, "\x52\x54\x00\x00\x00\x02", 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	memcpy(f + 14, &n, sizeof(n));
	for (unsigned int tries = 0; tries <= RESENDS; tries++) {
		struct virtq_buf b[2] = {
			{ tx_frame, NET_HDR_LEN, false },
			{ f, FRAME_LEN, false },
		};

		if (tries)
			resent++;
		if (virtqueue_add(&txq, b, 2, 0, tx_frame) < 0)
			return false;
		virtqueue_kick(&txq);
		for (unsigned int t = 0; t < 100; t++, wait_tick()) {
			u8 *got;
			u32 len;

			while (virtqueue_get(&txq, &len))
				;
			while ((got = virtqueue_get(&rxq, &len))) {
				struct virtq_buf rb = { got, sizeof(rx_bufs[0]), true };
				u64 v;
				bool match;

				memcpy(&v, got + NET_HDR_LEN + 14, sizeof(v));
				match = len == NET_HDR_LEN + FRAME_LEN && v == n;
				virtqueue_add(&rxq, &rb, 0, 1, got);
				virtqueue_kick(&rxq);
				if (match)
					return true;
				/* An older frame sent again: take the next one. */
			}
		}
	}
	return false;
}

static bool blk_setup(void)
{
	blk = virtio_find(VIRTIO_ID_BLOCK, 0);
	if (!blk)
		return true;
	return !virtio_negotiate(blk, 0) && !virtqueue_setup(blk, &blkq, 0, 16) &&
	       virtio_driver_ok(blk);
}

/* Write sector @n with its count; true once the device said OK. */
static bool blk_write_count(u64 n)
{
	struct virtq_buf b[3] = {
		{ &breq, 16, false },
		{ sector_buf, sizeof(sector_buf), false },
		{ &breq.status, 1, true },
	};

	memset(sector_buf, 0, sizeof(sector_buf));
	snprintf((char *)sector_buf, sizeof(sector_buf), "kestrel count %llu\n",
		 (unsigned long long)n);
	breq = (struct blk_req){ .type = 1 /* OUT */, .sector = n, .status = 0xee };
	if (virtqueue_add(&blkq, b, 2, 1, &breq) < 0)
		return false;
	virtqueue_kick(&blkq);
	for (unsigned int t = 0; t < 400; t++, wait_tick())
		if (virtqueue_get(&blkq, NULL))
			return breq.status == 0;
	return false;
}

#define I8042_CTR_MARK	0x64	/* translate, aux off, system flag; no IRQs */

static void i8042_cmd(u8 cmd)
{
	while (inb(X86_I8042_CMD_PORT) & 0x02)	/* input buffer full */
		;
	outb(X86_I8042_CMD_PORT, cmd);
}

static u8 i8042_ctr(void)
{
	i8042_cmd(0x20);			/* read the configuration byte */
	for (unsigned int i = 0; i < 100000; i++)
		if (inb(X86_I8042_CMD_PORT) & 0x01)
			return inb(X86_I8042_DATA_PORT);
	return 0;
}

int main(void)
{
	u16 pong = pong_probe();
	u64 last_tsc = rdtsc();
	unsigned int bad = 0;

	if (!pong) {
		printf("FAIL: no PONG device\n");
		guest_exit(1);
	}
	virtio_probe();
	if (!net_setup() || !blk_setup()) {
		printf("FAIL: virtio set-up\n");
		guest_exit(1);
	}
	outb(pong + PONG_REG_CTRL, PONG_CTRL_ENABLE);
	i8042_cmd(0x60);			/* write the configuration byte */
	outb(X86_I8042_DATA_PORT, I8042_CTR_MARK);
	handle_irq(TIMER_VEC, timer_handler);
	apic_write(APIC_TDCR, 0xb);			/* divide by 1 */
	apic_write(APIC_LVT_TIMER, TIMER_VEC | APIC_TIMER_PERIODIC);
	apic_write(APIC_TMICT, TIMER_PERIOD);
	for (u64 n = 0; n <= COUNT_END; n++) {
		u64 tsc;

		if (mem_count != n) {
			printf("FAIL: count %llu in a register, %llu in memory\n",
			       (unsigned long long)n, (unsigned long long)mem_count);
			guest_exit(1);
		}
		printf("count %llu\n", (unsigned long long)n);
		wait_tick();
		tsc = rdtsc();
		if (tsc < last_tsc) {
			printf("FAIL: the TSC went back from %llu to %llu\n",
			       (unsigned long long)last_tsc, (unsigned long long)tsc);
			bad++;
		}
		last_tsc = tsc;
		if (blk && !blk_write_count(n)) {
			printf("FAIL: the write of sector %llu was not acknowledged\n",
			       (unsigned long long)n);
			bad++;
		}
		if (net && !net_echo(n)) {
			printf("FAIL: frame %llu did not come back\n", (unsigned long long)n);
			bad++;
		}
		if (n % PONG_EVERY == 0) {
			u32 ans = 0;

			if (pong_ping(pong, (u32)n, &ans) || ans != (u32)n + 1) {
				printf("FAIL: PONG ping %llu answered %u\n", (unsigned long long)n, ans);
				bad++;
			}
		}
		mem_count = n + 1;
	}
	if (i8042_ctr() != I8042_CTR_MARK) {
		printf("FAIL: the i8042 configuration byte reads %#x, not %#x\n", i8042_ctr(),
		       I8042_CTR_MARK);
		bad++;
	}
	if (net && mq) {
		u8 mac[6];

		virtio_cread_bytes(net, 0, mac, 6);
		if (memcmp(mac, mq_mac, 6)) {
			printf("FAIL: mq: config space shows another MAC than the one set\n");
			bad++;
		}
	}
	if (net)
		printf("frames echoed: %u%s, %u sent again\n", COUNT_END + 1,
		       mq ? " on pair 1 of 2" : "", resent);
	printf("count done%s\n", bad ? " with failures" : "");
	guest_exit(bad ? 1 : 0);
}
