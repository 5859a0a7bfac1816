// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private memory of a protected guest (docs/protected.md), for the host
 * side in scripts/protected-check.py. Ring 3 (native on every host) fills
 * PAGES pages from X86_PRIVATE_RAM_START with a pattern computed at run
 * time (so it is not in this image), says so on the console and waits for
 * one byte on COM1: meanwhile the host looks for the pattern in kestrel's
 * memory. Then ring 3 reads it all back. Supervisor code never touches the
 * private range (on PVM it runs in KVM's emulator, which cannot reach it).
 *
 * Devices: with the secret in place, a virtio-blk write and a virtio-net
 * transmit whose data descriptors point into private RAM. Protected (the
 * command line says "protected"), each device must go to NEEDS_RESET
 * instead of reading it, the other keep serving, and a reset bring it
 * back; the host then finds no byte of the secret in the disk file (nor,
 * over a TAP, in the frames that reached it: the protected-tap test).
 * Then the other direction: a virtio-blk read and a virtio-net receive
 * buffer into the secret must break the device the same way without
 * writing it (ring 3's final check reads every byte back).
 *
 * Without --protected the same run puts the pattern in ordinary RAM, where
 * the host finds it, in kestrel's memory and in the disk file the write
 * reached: the control that shows the searches work.
 *
 * Run with --net sim --disk FILE, and --cmdline protected with --protected.
 */
#include "guest.h"
#include "virtio.h"
#include "x86/apic.h"
#include "x86/multiboot.h"
#include "x86/processor.h"
#include "x86/usermode.h"

#include <kestrel/x86/layout.h>

#define PAGES		16
#define SECRET_BYTES	(PAGES * 4096ul)
#define COM1		0x3f8
#define COM1_LSR	(COM1 + 5)

#define NET_HDR_LEN	12
#define FRAME_LEN	128
#define QSIZE		16
#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define PRIVATE		((u8 *)X86_PRIVATE_RAM_START)
/* What the hostile transmit sends: covers the window the host searches for. */
#define PRIVATE_TX	(PRIVATE + 256)

static struct virtio_device *net, *blk;
static struct virtqueue rxq, txq, bq;
static u8 frame[NET_HDR_LEN + FRAME_LEN] __aligned(64);
static u8 rx_buf[1536] __aligned(64);
static u8 sector[512] __aligned(512);

/* byte i = (i * mul + 59) ^ (i >> 8) ^ 0xa5; mul (167) read at run time */
static volatile u64 secret_mul = 167;

static u64 user_fill(void *arg)
{
	u8 *p = (u8 *)X86_PRIVATE_RAM_START;
	u64 mul = secret_mul;

	for (u64 i = 0; i < SECRET_BYTES; i++)
		p[i] = (u8)((i * mul + 59) ^ (i >> 8) ^ 0xa5);
	return 0;
}

/* Number of bytes that differ from the pattern. */
static u64 user_check(void *arg)
{
	const volatile u8 *p = (const volatile u8 *)X86_PRIVATE_RAM_START;
	u64 mul = secret_mul, bad = 0;

	for (u64 i = 0; i < SECRET_BYTES; i++)
		bad += p[i] != (u8)((i * mul + 59) ^ (i >> 8) ^ 0xa5);
	return bad;
}

static bool net_up(void)
{
	return !virtio_negotiate(net, 0) && !virtqueue_setup(net, &rxq, 0, QSIZE) &&
	       !virtqueue_setup(net, &txq, 1, QSIZE) && virtio_driver_ok(net);
}

static bool blk_up(void)
{
	return !virtio_negotiate(blk, 0) && !virtqueue_setup(blk, &bq, 0, QSIZE) &&
	       virtio_driver_ok(blk);
}

/*
 * How long to wait for a completion: long for one that must come, short
 * for one that must not (the device breaks instead).
 */
static unsigned int wait_ms = 2000;

/* One frame from @data out and back into @rx (the simulator, or a TAP's echo); bytes back. */
static u32 net_xfer_into(const u8 *data, u8 *rx)
{
	struct virtq_buf r = { rx, sizeof(rx_buf), true };
	struct virtq_buf t[2] = {
		{ frame, NET_HDR_LEN, false }, { (void *)data, FRAME_LEN, false },
	};
	u32 len = 0;

	if (rx == rx_buf)
		memset(rx_buf, 0, sizeof(rx_buf));
	if (virtqueue_add(&rxq, &r, 0, 1, rx) < 0 ||
	    virtqueue_add(&txq, t, 2, 0, frame) < 0)
		return 0;
	virtqueue_kick(&rxq);
	virtqueue_kick(&txq);
	if (virtqueue_wait(&rxq, &len, wait_ms) != rx)
		return 0;
	virtqueue_wait(&txq, NULL, wait_ms);
	return len;
}

static u32 net_xfer(const u8 *data)
{
	return net_xfer_into(data, rx_buf);
}

/* One 512-byte request on @buf: the status byte, 0xee if none came. */
static u8 blk_rw(u32 type, u64 lba, u8 *buf)
{
	static struct { u32 type, reserved; u64 sector; u8 status; } req;
	struct virtq_buf b[3] = {
		{ &req, 16, false }, { buf, 512, type == VIRTIO_BLK_T_IN }, { &req.status, 1, true },
	};

	req = (typeof(req)){ .type = type, .sector = lba, .status = 0xee };
	if (virtqueue_add(&bq, b, type == VIRTIO_BLK_T_IN ? 1 : 2,
			  type == VIRTIO_BLK_T_IN ? 2 : 1, &req) < 0)
		return 0xee;
	virtqueue_kick(&bq);
	return virtqueue_wait(&bq, NULL, wait_ms) == &req ? req.status : 0xee;
}

static bool blk_works(void)
{
	for (unsigned int i = 0; i < sizeof(sector); i++)
		sector[i] = (u8)(i ^ 0x5c);
	if (blk_rw(VIRTIO_BLK_T_OUT, 8, sector))
		return false;
	memset(sector, 0, sizeof(sector));
	return blk_rw(VIRTIO_BLK_T_IN, 8, sector) == 0 && sector[7] == (7 ^ 0x5c);
}

static bool net_works(void)
{
	return net_xfer(frame + NET_HDR_LEN) == sizeof(frame) &&
	       !memcmp(rx_buf + NET_HDR_LEN, frame + NET_HDR_LEN, FRAME_LEN);
}

/* @dev went to NEEDS_RESET (a configuration interrupt says so). */
static bool broke(struct virtio_device *dev, u32 cfg0)
{
	bool irq = virtio_wait_counter(&dev->config_irqs, cfg0, 2000);

	return irq && virtio_needs_reset(dev);
}

/* The device writing into private RAM: a read, a receive buffer there. */
static bool blk_read_private(void)
{
	return blk_rw(VIRTIO_BLK_T_IN, 0, PRIVATE + 4096) == 0xee;
}

static bool net_rx_private(void)
{
	return !net_xfer_into(frame + NET_HDR_LEN, PRIVATE + 8192);
}

/*
 * Protected: @attempt posts a descriptor into private RAM on @dev (blk if
 * @is_blk, else net); it must complete nothing and break that device
 * alone, and a reset must bring it back.
 */
static void break_one(bool is_blk, bool (*attempt)(void), const char *what)
{
	struct virtio_device *dev = is_blk ? blk : net;
	bool none;
	u32 cfg0;

	irq_window();
	cfg0 = dev->config_irqs;
	wait_ms = 200;
	none = attempt();
	wait_ms = 2000;
	report(none && broke(dev, cfg0), "%s: NEEDS_RESET, nothing completed", what);
	if (is_blk) {
		report(net_works(), "net still serves");
		report(virtio_reset(blk) && blk_up() && blk_works(), "blk works after a reset");
	} else {
		report(blk_works(), "blk still serves");
		report(virtio_reset(net) && net_up() && net_works(), "net works after a reset");
	}
}

/* A descriptor into private RAM, on each device in turn. */
static void test_dma(bool protected)
{
	u32 cfg0;
	u8 st;

	report_prefix_push("dma");
	if (!(net_up() && net_works() && blk_up() && blk_works())) {
		report(false, "net and blk work");
		report_prefix_pop();
		return;
	}
	irq_window();
	cfg0 = blk->config_irqs;
	wait_ms = protected ? 200 : 2000;
	st = blk_rw(VIRTIO_BLK_T_OUT, 0, PRIVATE);
	wait_ms = 2000;
	if (protected) {
		report(st == 0xee && broke(blk, cfg0),
		       "blk write from private RAM: NEEDS_RESET, nothing completed");
		report(net_works(), "net still serves");
		report(virtio_reset(blk) && blk_up() && blk_works(), "blk works after a reset");
	} else {
		report(st == 0, "blk write from ordinary RAM at the same address completes");
	}
	irq_window();
	cfg0 = net->config_irqs;
	if (protected) {
		wait_ms = 200;
		st = !net_xfer(PRIVATE_TX);
		wait_ms = 2000;
		report(st && broke(net, cfg0),
		       "net transmit from private RAM: NEEDS_RESET, no frame");
		report(blk_works(), "blk still serves");
		report(virtio_reset(net) && net_up() && net_works(), "net works after a reset");
	} else {
		report(net_xfer(PRIVATE_TX) == sizeof(frame) &&
		       !memcmp(rx_buf + NET_HDR_LEN, PRIVATE_TX, FRAME_LEN),
		       "net transmit from ordinary RAM at the same address loops back");
	}
	if (protected) {
		break_one(true, blk_read_private, "blk read into private RAM");
		break_one(false, net_rx_private, "net receive into private RAM");
	}
	report_prefix_pop();
}

int main(void)
{
	bool protected = multiboot_has_arg("protected");
	u64 bad;

	report_prefix_push("protected");
	run_in_user(user_fill, NULL);
	net = virtio_find(VIRTIO_ID_NET, 0);
	blk = virtio_find(VIRTIO_ID_BLOCK, 0);
	if (net && blk) {
		virtio_irq_enable(net);
		virtio_irq_enable(blk);
		memset(frame, 0, NET_HDR_LEN);
		for (unsigned int i = 0; i < FRAME_LEN; i++)
			frame[NET_HDR_LEN + i] = (u8)(i < 6 ? 0xff : i);
		test_dma(protected);
	} else {
		report_skip("device checks need --net sim --disk FILE");
	}
	printf("protected: secret in place, waiting for the host\n");
	while (!(inb(COM1_LSR) & 1))
		;
	(void)inb(COM1);
	bad = run_in_user(user_check, NULL);
	report(bad == 0, "ring 3 reads back all %lu bytes it wrote to private RAM (%lu differ)",
	       SECRET_BYTES, bad);
	report_prefix_pop();
	return report_summary();
}
