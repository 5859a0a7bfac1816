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
 * checks the file holds every count afterwards. The i8042's
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

static bool net_setup(void)
{
	net = virtio_find(VIRTIO_ID_NET, 0);
	if (!net)
		return true;
	if (virtio_negotiate(net, 0) || virtqueue_setup(net, &rxq, 0, 64) ||
	    virtqueue_setup(net, &txq, 1, 64) || !virtio_driver_ok(net))
		return false;
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
	memset(f, 0xff, 6);
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
	if (net)
		printf("frames echoed: %u, %u sent again\n", COUNT_END + 1, resent);
	printf("count done%s\n", bad ? " with failures" : "");
	guest_exit(bad ? 1 : 0);
}
