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
 *
 * With --protected --cmdline protected the data buffers are in private
 * RAM and every request's data goes through bounce slots in the shared
 * window (guest/lib/bounce.h): ring 3 fills the pattern and stages the
 * writes, ring 0 posts them and waits, ring 3 copies what was read back
 * into private RAM and compares it there. The same checks pass or fail.
 */
#include "bounce.h"
#include "guest.h"
#include "virtio.h"
#include "x86/multiboot.h"
#include "x86/processor.h"
#include "x86/usermode.h"

#include <kestrel/x86/layout.h>

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
static struct bounce_req breqs[NREQS];
static struct bounce_req *done_reqs[NREQS];
static struct bounce_pool pool;
static u8 wbuf_shared[NSECTORS * SECTOR] __aligned(4096);
static u8 rbuf_shared[NSECTORS * SECTOR] __aligned(4096);
/* The data: these arrays, or private RAM when protected. */
static u8 *wbuf = wbuf_shared, *rbuf = rbuf_shared;

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
	return memcmp(wbuf, rbuf, NSECTORS * SECTOR) != 0;
}

/* Ring 3 (it reads private RAM): one 16-byte record of each buffer. */
static u64 first_records_match(void *arg)
{
	return !memcmp(rbuf, wbuf, 16);
}

/*
 * Stage one request: header, optional data, status. Its data is bounced
 * when private, so a write with private data is staged in ring 3.
 */
static int blk_stage(struct blk_req *r, u32 type, u64 sector, void *data, u32 len)
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
	return bounce_stage(&pool, &breqs[r - reqs], b, out, in, r);
}

/*
 * Wait for @n completions, then (ring 3) copy what they read into the
 * caller's buffers. Return: how many arrived.
 */
static unsigned int blk_reap(unsigned int n)
{
	struct bounce_batch batch = { &pool, done_reqs, 0 };

	while (batch.n < n && virtqueue_wait_pending(&vq, 5000)) {
		struct bounce_req *r = bounce_take(&vq);

		if (r)
			done_reqs[batch.n++] = r;
	}
	run_in_user(bounce_finish_batch, &batch);
	return batch.n;
}

struct stage_all {
	u32 type;
	u8 *buf;
};

/* Ring 3: stage a request for each REQ_SECTORS of the area. Return: staged. */
static u64 stage_all(void *arg)
{
	const struct stage_all *s = arg;
	unsigned int i;

	for (i = 0; i < NREQS; i++)
		if (blk_stage(&reqs[i], s->type, (u64)i * REQ_SECTORS,
			      s->buf + i * REQ_SECTORS * SECTOR, REQ_SECTORS * SECTOR))
			break;
	return i;
}

/* Many requests in flight over the whole area; true if all said OK. */
static bool blk_rw_all(u32 type, u8 *buf)
{
	struct stage_all s = { type, buf };
	unsigned int done, bad = 0;

	if (run_in_user(stage_all, &s) != NREQS)
		return false;
	for (unsigned int i = 0; i < NREQS; i++)
		if ((vq.indirect && (i & 1) ? bounce_post_indirect(&vq, &breqs[i])
					    : bounce_post(&vq, &breqs[i])) < 0)
			return false;
	virtqueue_kick(&vq);
	done = blk_reap(NREQS);
	for (unsigned int i = 0; i < NREQS; i++)
		bad += reqs[i].status != VIRTIO_BLK_S_OK;
	return done == NREQS && !bad;
}

struct stage_one {
	u32 type;
	u64 sector;
	void *data;
	u32 len;
};

static u64 stage_one(void *arg)
{
	const struct stage_one *s = arg;

	return (u64)blk_stage(&reqs[0], s->type, s->sector, s->data, s->len);
}

/* One request, waited for; returns its status (0xee: never completed). */
static u8 blk_one(u32 type, u64 sector, void *data, u32 len)
{
	struct stage_one s = { type, sector, data, len };

	if (run_in_user(stage_one, &s) || bounce_post(&vq, &breqs[0]) < 0)
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
	static char id[21];
	bool protected = multiboot_has_arg("protected");
	u64 capacity;
	u8 st;

	report_prefix_push("virtio-blk");
	if (protected) {
		wbuf = private_alloc(NSECTORS * SECTOR, 4096);
		rbuf = private_alloc(NSECTORS * SECTOR, 4096);
		if (!wbuf || !rbuf) {
			report(false, "private RAM for the data (needs --memory above 64M)");
			return report_summary();
		}
	}
	if (bounce_pool_init(&pool, NREQS, REQ_SECTORS * SECTOR, protected)) {
		report(false, "bounce slots in the shared window");
		return report_summary();
	}
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
	if (protected)
		report(pool.bytes_out >= NSECTORS * SECTOR && pool.bytes_in >= NSECTORS * SECTOR &&
		       (u64)(uintptr_t)rbuf >= X86_PRIVATE_RAM_START,
		       "data in private RAM at %#lx, %lu bytes bounced out, %lu in",
		       (unsigned long)(uintptr_t)wbuf, (unsigned long)pool.bytes_out,
		       (unsigned long)pool.bytes_in);

	st = blk_one(VIRTIO_BLK_T_IN, capacity, rbuf, SECTOR);
	report(st == VIRTIO_BLK_S_IOERR, "read past the end: IOERR (status %u)", st);
	st = blk_one(VIRTIO_BLK_T_GET_ID, 0, id, 20);
	report(st == VIRTIO_BLK_S_OK || st == VIRTIO_BLK_S_UNSUPP,
	       "GET_ID: status %u, id '%s'", st, st == VIRTIO_BLK_S_OK ? id : "");
	st = virtio_get_status(vdev);
	report(!(st & VIRTIO_STATUS_NEEDS_RESET), "bad requests do not break the device (status %#x)", st);
	report(blk_one(VIRTIO_BLK_T_IN, 0, rbuf, SECTOR) == VIRTIO_BLK_S_OK &&
	       run_in_user(first_records_match, NULL), "still serves reads");
	report(virtio_reset(vdev), "reset");
	report_prefix_pop();
	return report_summary();
}
