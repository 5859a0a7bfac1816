// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-blk over a host file (--disk FILE): write a pattern with several
 * requests in flight (direct and indirect chains), FLUSH, read it back and
 * compare; a read past the end must fail with IOERR without breaking the
 * device. unittests.cfg's host_check then reads the host file after
 * kestrel exited: every written byte must be there.
 *
 * The pattern is text so the host side can rebuild it with printf: each
 * 512-byte sector s holds 32 records "KESTREL-S%06u\n" of its number.
 */
#include "guest.h"
#include "virtio.h"
#include "x86/processor.h"
#include "x86/usermode.h"

#define VIRTIO_BLK_F_SEG_MAX	2
#define VIRTIO_BLK_F_BLK_SIZE	6
#define VIRTIO_BLK_F_FLUSH	9

#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_T_FLUSH	4
#define VIRTIO_BLK_T_GET_ID	8

#define VIRTIO_BLK_S_OK		0
#define VIRTIO_BLK_S_IOERR	1
#define VIRTIO_BLK_S_UNSUPP	2

#define SECTOR			512
#define NSECTORS		128	/* 64 KiB: what host_check compares */
#define REQ_SECTORS		8
#define NREQS			(NSECTORS / REQ_SECTORS)

struct blk_req {
	u32 type;
	u32 reserved;
	u64 sector;
	u8 status;
};

static struct virtio_device *vdev;
static struct virtqueue vq;
static struct blk_req reqs[NREQS];
static u8 wbuf[NSECTORS * SECTOR] __aligned(4096);
static u8 rbuf[NSECTORS * SECTOR] __aligned(4096);

/* Ring 3: sector s = 32 x "KESTREL-S%06u\n". */
static u64 fill_pattern(void *arg)
{
	for (unsigned int s = 0; s < NSECTORS; s++) {
		char rec[16];
		unsigned int v = s;

		memcpy(rec, "KESTREL-S000000\n", 16);
		for (int d = 14; d >= 9; d--, v /= 10)
			rec[d] = (char)('0' + v % 10);
		for (unsigned int r = 0; r < SECTOR / 16; r++)
			memcpy(wbuf + s * SECTOR + r * 16, rec, 16);
	}
	return 0;
}

static u64 compare_bufs(void *arg)
{
	return memcmp(wbuf, rbuf, sizeof(wbuf)) != 0;
}

/* Post one request: header, optional data, status; returns its head. */
static int blk_submit(struct blk_req *r, u32 type, u64 sector, void *data,
		      u32 len, bool indirect)
{
	struct virtq_buf b[3];
	unsigned int out = 1, in = 0, n = 0;

	r->type = type;
	r->reserved = 0;
	r->sector = sector;
	r->status = 0xee;
	b[n++] = (struct virtq_buf){ r, 16, false };
	if (data) {
		b[n++] = (struct virtq_buf){ data, len, type == VIRTIO_BLK_T_IN ||
					     type == VIRTIO_BLK_T_GET_ID };
		if (b[1].write)
			in++;
		else
			out++;
	}
	b[n++] = (struct virtq_buf){ &r->status, 1, true };
	in++;
	return indirect ? virtqueue_add_indirect(&vq, b, out, in, r)
			: virtqueue_add(&vq, b, out, in, r);
}

/* Wait for @n completions. Return: how many arrived. */
static unsigned int blk_reap(unsigned int n)
{
	unsigned int done = 0;

	while (done < n && virtqueue_wait(&vq, NULL, 5000))
		done++;
	return done;
}

/* Many requests in flight over the whole area; true if all said OK. */
static bool blk_rw_all(u32 type, u8 *buf)
{
	unsigned int done, bad = 0;

	for (unsigned int i = 0; i < NREQS; i++)
		if (blk_submit(&reqs[i], type, (u64)i * REQ_SECTORS,
			       buf + i * REQ_SECTORS * SECTOR, REQ_SECTORS * SECTOR,
			       vq.indirect && (i & 1)) < 0)
			return false;
	virtqueue_kick(&vq);
	done = blk_reap(NREQS);
	for (unsigned int i = 0; i < NREQS; i++)
		bad += reqs[i].status != VIRTIO_BLK_S_OK;
	return done == NREQS && !bad;
}

/* One request, waited for; returns its status (0xee: never completed). */
static u8 blk_one(u32 type, u64 sector, void *data, u32 len)
{
	if (blk_submit(&reqs[0], type, sector, data, len, false) < 0)
		return 0xee;
	virtqueue_kick(&vq);
	blk_reap(1);
	return reqs[0].status;
}

int main(void)
{
	u64 want = BIT_ULL(VIRTIO_BLK_F_SEG_MAX) | BIT_ULL(VIRTIO_BLK_F_BLK_SIZE) |
		   BIT_ULL(VIRTIO_BLK_F_FLUSH) | BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |
		   BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC);
	char id[21] = { 0 };
	u64 capacity;
	u8 st;

	report_prefix_push("virtio-blk");
	vdev = virtio_find(VIRTIO_ID_BLOCK, 0);
	if (!vdev) {
		report_skip("no virtio-blk device (run with --disk FILE)");
		return report_summary();
	}
	virtio_irq_enable(vdev);
	report(!virtio_negotiate(vdev, want) && !virtqueue_setup(vdev, &vq, 0, 128) &&
	       virtio_driver_ok(vdev), "reset, features, queue, DRIVER_OK");
	report_info("slot %u, offered %#lx, negotiated %#lx", vdev->slot,
		    (unsigned long)vdev->host_features, (unsigned long)vdev->features);
	capacity = virtio_cread64(vdev, 0);
	report(capacity >= NSECTORS, "capacity %lu sectors from config space",
	       (unsigned long)capacity);
	if (capacity < NSECTORS)
		return report_summary();

	run_in_user(fill_pattern, NULL);
	report(blk_rw_all(VIRTIO_BLK_T_OUT, wbuf), "%u writes of %u KiB in flight",
	       NREQS, REQ_SECTORS * SECTOR / 1024);
	if (vdev->features & BIT_ULL(VIRTIO_BLK_F_FLUSH))
		report(blk_one(VIRTIO_BLK_T_FLUSH, 0, NULL, 0) == VIRTIO_BLK_S_OK, "FLUSH");
	else
		report_skip("FLUSH not offered");
	report(blk_rw_all(VIRTIO_BLK_T_IN, rbuf), "%u reads in flight", NREQS);
	report(!run_in_user(compare_bufs, NULL), "read back what was written");

	st = blk_one(VIRTIO_BLK_T_IN, capacity, rbuf, SECTOR);
	report(st == VIRTIO_BLK_S_IOERR, "read past the end: IOERR (status %u)", st);
	st = blk_one(VIRTIO_BLK_T_GET_ID, 0, id, 20);
	report(st == VIRTIO_BLK_S_OK || st == VIRTIO_BLK_S_UNSUPP,
	       "GET_ID: status %u, id '%s'", st, st == VIRTIO_BLK_S_OK ? id : "");
	st = virtio_get_status(vdev);
	report(!(st & VIRTIO_STATUS_NEEDS_RESET), "bad requests do not break the device (status %#x)", st);
	report(blk_one(VIRTIO_BLK_T_IN, 0, rbuf, SECTOR) == VIRTIO_BLK_S_OK &&
	       !memcmp(rbuf, wbuf, 16), "still serves reads");
	report(virtio_reset(vdev), "reset");
	report_prefix_pop();
	return report_summary();
}
