// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reboot of a protected guest (docs/protected.md), run with
 * `--protected --reboot --disk FILE`. The disk's sector 0 counts the boots.
 *
 * Boot 1: ring 3 fills PAGES pages from X86_PRIVATE_RAM_START with a
 * pattern computed at run time, checks it reads back, records "boot 1" on
 * the disk and resets the machine through the i8042. kestrel --reboot
 * runs the guest again in a new process.
 * Boot 2: the disk says boot 1 happened; ring 3 finds every byte of the
 * private pages zero (the old guest_memfd went with the old process), the
 * boot is recorded, and the guest exits through debug-exit.
 * A third boot means the test looped: it fails.
 */
#include "guest.h"
#include "virtio.h"
#include "x86/processor.h"
#include "x86/usermode.h"

#include <kestrel/x86/layout.h>

#define PAGES		16
#define SECRET_BYTES	(PAGES * 4096ul)
#define QSIZE		16
#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define MAGIC		0x544f4f42524bull	/* "KRBOOT" */
#define I8042_CMD	0x64
#define I8042_RESET	0xfe

static struct virtio_device *blk;
static struct virtqueue bq;
static u64 sector[64] __aligned(512);

/* byte i = (i * mul + 91) ^ (i >> 8); mul (211) read at run time */
static volatile u64 secret_mul = 211;

static u64 user_fill(void *arg)
{
	u8 *p = (u8 *)X86_PRIVATE_RAM_START;
	u64 mul = secret_mul;

	for (u64 i = 0; i < SECRET_BYTES; i++)
		p[i] = (u8)((i * mul + 91) ^ (i >> 8));
	return 0;
}

/* Bytes that differ from the pattern (@arg NULL) or from zero (non-NULL). */
static u64 user_count(void *arg)
{
	const volatile u8 *p = (const volatile u8 *)X86_PRIVATE_RAM_START;
	u64 mul = secret_mul, bad = 0;

	for (u64 i = 0; i < SECRET_BYTES; i++)
		bad += p[i] != (arg ? 0 : (u8)((i * mul + 91) ^ (i >> 8)));
	return bad;
}

/* Sector 0 in or out: the status byte, 0xee if none came. */
static u8 blk_rw(u32 type)
{
	static struct { u32 type, reserved; u64 sector; u8 status; } req;
	struct virtq_buf b[3] = {
		{ &req, 16, false }, { sector, 512, type == VIRTIO_BLK_T_IN },
		{ &req.status, 1, true },
	};

	req = (typeof(req)){ .type = type, .sector = 0, .status = 0xee };
	if (virtqueue_add(&bq, b, type == VIRTIO_BLK_T_IN ? 1 : 2,
			  type == VIRTIO_BLK_T_IN ? 2 : 1, &req) < 0)
		return 0xee;
	virtqueue_kick(&bq);
	return virtqueue_wait(&bq, NULL, 2000) == &req ? req.status : 0xee;
}

/* Record boot @n in sector 0. */
static bool record_boot(u64 n)
{
	sector[0] = MAGIC;
	sector[1] = n;
	return blk_rw(VIRTIO_BLK_T_OUT) == 0;
}

int main(void)
{
	u64 boots, bad;

	report_prefix_push("protected-reboot");
	blk = virtio_find(VIRTIO_ID_BLOCK, 0);
	if (!blk || virtio_negotiate(blk, 0) || virtqueue_setup(blk, &bq, 0, QSIZE) ||
	    !virtio_driver_ok(blk) || blk_rw(VIRTIO_BLK_T_IN)) {
		report(false, "the boot-count disk works (run with --disk FILE)");
		return report_summary();
	}
	boots = sector[0] == MAGIC ? sector[1] : 0;
	printf("protected-reboot: boot %lu\n", boots + 1);
	if (boots == 0) {
		run_in_user(user_fill, NULL);
		bad = run_in_user(user_count, NULL);
		report(bad == 0, "boot 1: the pattern is in private RAM (%lu of %lu bytes differ)",
		       bad, SECRET_BYTES);
		if (bad || !record_boot(1)) {
			report(false, "boot 1: recorded on the disk");
			return report_summary();
		}
		printf("protected-reboot: resetting through the i8042\n");
		outb(I8042_CMD, I8042_RESET);
		for (;;)
			cpu_relax();
	}
	report(boots == 1, "boot 2 follows exactly one reset (the disk counted %lu)", boots);
	bad = run_in_user(user_count, (void *)1);
	report(bad == 0, "boot 2: every byte of the private pages is zero (%lu of %lu are not)",
	       bad, SECRET_BYTES);
	report(record_boot(boots + 1), "boot 2: recorded on the disk");
	report_prefix_pop();
	return report_summary();
}
