// SPDX-License-Identifier: GPL-2.0-only
/*
 * vdpa_inflight_recover(): a queue's inflight region read back as a
 * restarted device finds it, at each instant a previous instance may have
 * died at (include/kestrel/vdpa.h gives the order of its writes), and as a
 * hostile front-end may leave it. A refused region is left as it was.
 * Then the RAM-disk simulator with a region, through the in-process
 * driver: what it records, and a restart where it must resubmit two heads
 * in the order they were taken (not head order), skip one the driver saw
 * completed but whose bookkeeping was cut short, and only then take new
 * chains.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include <kestrel/log.h>
#include <kestrel/vdpa.h>

#include "../test.h"
#include "driver.h"

#define NUM	16

static struct vdpa_inflight_split *r;
static size_t size;
static u16 heads[NUM];
static u32 nheads;
static u64 counter;

/* A region in use: heads @h taken with counters @c, used ring at @used. */
static void region_set(u16 used, const u16 *h, const u64 *c, unsigned int n)
{
	memset(r, 0, size);
	r->version = VDPA_INFLIGHT_VERSION;
	r->desc_num = NUM;
	r->used_idx = used;
	for (unsigned int i = 0; i < n; i++) {
		r->desc[h[i]].inflight = 1;
		r->desc[h[i]].counter = c[i];
	}
}

/* Publish @n heads as the device does, stopping at step @upto (1..4). */
static void publish(const u16 *h, unsigned int n, u16 *ring_used, int upto)
{
	for (unsigned int i = 0; i < n; i++) {
		r->desc[h[i]].next = r->last_batch_head;
		r->last_batch_head = h[i];
	}
	if (upto < 2)
		return;
	*ring_used += n;	/* the used ring's idx */
	if (upto < 3)
		return;
	for (unsigned int i = 0; i < n; i++)
		r->desc[h[i]].inflight = 0;
	if (upto < 4)
		return;
	r->used_idx = *ring_used;
}

static int recover(u16 used)
{
	return vdpa_inflight_recover(r, size, NUM, used, heads, &nheads, &counter);
}

static void test_fresh(void)
{
	memset(r, 0xa5, size);
	r->version = 0;
	if (check_eq(recover(7), 0)) {
		check_eq(nheads, 0);
		check_eq(counter, 1);
		check_eq(r->version, VDPA_INFLIGHT_VERSION);
		check_eq(r->desc_num, NUM);
		check_eq(r->used_idx, 7);
		check_eq(r->desc[NUM - 1].inflight, 0);
	}
	report_checks("version 0: initialised for the queue, nothing in flight");
}

static void test_order(void)
{
	const u16 h[] = { 5, 2, 9, 14 };
	const u64 c[] = { 41, 40, 44, 42 };

	region_set(3, h, c, 4);
	if (check_eq(recover(3), 0) && check_eq(nheads, 4)) {
		check_eq(heads[0], 2);
		check_eq(heads[1], 5);
		check_eq(heads[2], 14);
		check_eq(heads[3], 9);
		check_eq(counter, 45);
	}
	report_checks("heads in flight come back oldest first, the counter goes on");
}

/* A death at each step of publishing heads 5 and 9 of {2, 5, 9}. */
static void test_publish_deaths(void)
{
	const u16 h[] = { 2, 5, 9 }, batch[] = { 5, 9 };
	const u64 c[] = { 1, 2, 3 };
	static const char *const when[] = {
		"", "after the batch list", "after the used ring", "after clearing inflight",
		"after used_idx",
	};

	for (int upto = 1; upto <= 4; upto++) {
		u16 ring_used = 100;

		region_set(ring_used, h, c, 3);
		publish(batch, 2, &ring_used, upto);
		if (check_eq(recover(ring_used), 0)) {
			/* Before the used ring the driver saw nothing: all three again. */
			check_eq(nheads, upto < 2 ? 3 : 1);
			check_eq(heads[0], 2);
			check_eq(r->used_idx, ring_used);
			if (upto >= 2) {
				check_eq(r->desc[5].inflight, 0);
				check_eq(r->desc[9].inflight, 0);
			}
		}
		report_checks("died %s: resubmits exactly what the driver did not see completed",
			      when[upto]);
	}
}

/* Ways a front-end may spoil a region (test_hostile()). */
static void spoil_version(void) { r->version = 2; }
static void spoil_desc_num(void) { r->desc_num = NUM / 2; }
static void spoil_batch_long(void) { r->used_idx = (u16)(r->used_idx - NUM - 1); }

static void spoil_batch_head(void)
{
	r->used_idx--;
	r->last_batch_head = NUM + 3;
}

static void spoil_batch_loop(void)
{
	r->used_idx -= 2;
	r->last_batch_head = 4;
	r->desc[4].next = 4;
}

static void spoil_batch_next(void)
{
	r->used_idx -= 2;
	r->last_batch_head = 4;
	r->desc[4].next = 0xffff;
}

static void spoil_inflight(void) { r->desc[8].inflight = 2; }
static void spoil_counter_same(void) { r->desc[6].counter = 10; }
static void spoil_counter_max(void) { r->desc[6].counter = UINT64_MAX; }

static void test_hostile(void)
{
	const u16 h[] = { 3, 6 };
	const u64 c[] = { 10, 11 };
	struct {
		const char *what;
		void (*spoil)(void);
	} cases[] = {
		{ "version 2", spoil_version },
		{ "desc_num not the queue size", spoil_desc_num },
		{ "a batch longer than the queue", spoil_batch_long },
		{ "a batch head out of range", spoil_batch_head },
		{ "a batch list that loops", spoil_batch_loop },
		{ "a batch list that leaves the queue", spoil_batch_next },
		{ "inflight byte 2", spoil_inflight },
		{ "two heads with one counter", spoil_counter_same },
		{ "a counter that cannot be followed", spoil_counter_max },
	};
	struct vdpa_inflight_split *copy = malloc(size);

	if (!copy)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		region_set(50, h, c, 2);
		cases[i].spoil();
		memcpy(copy, r, size);
		check_eq(recover(50), -EINVAL);
		check_eq(nheads, 0);
		check_eq(memcmp(copy, r, size), 0);
		report_checks("%s: refused, region untouched", cases[i].what);
	}
	region_set(50, h, c, 2);
	report_eq(vdpa_inflight_recover(r, size - 64, NUM, 50, heads, &nheads, &counter),
		  -EINVAL, "a region too small for the queue: refused");
	free(copy);
}

/* ---- the blk simulator ------------------------------------------------- */

#define DNUM	32

struct blk_hdr {
	le32 type;
	le32 ioprio;
	le64 sector;
};

/* Add a write of one sector (its bytes @fill) without publishing; Return: head. */
static int add_write(struct vdrv *d, u64 sector, u8 fill, u8 **status)
{
	struct blk_hdr *h = vdrv_alloc(d, sizeof(*h), 16);
	u8 *data = vdrv_alloc(d, 512, 64);
	struct vdrv_sg sg[3];

	*status = vdrv_alloc(d, 1, 1);
	h->type = cpu_to_le32(VIRTIO_BLK_T_OUT);
	h->ioprio = 0;
	h->sector = cpu_to_le64(sector);
	memset(data, fill, 512);
	**status = 0xee;
	sg[0] = (struct vdrv_sg){ h, sizeof(*h), false };
	sg[1] = (struct vdrv_sg){ data, 512, false };
	sg[2] = (struct vdrv_sg){ *status, 1, true };
	return vdrv_add(d, 0, sg, 3);
}

/* Memory, features, ring @DNUM set up and stopped (a region may be given). */
static int dev_up(struct vdrv *d, struct vdpa_device *vdpa)
{
	u64 f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM) |
		(1ULL << VIRTIO_BLK_F_FLUSH);
	int ret = vdrv_init(d, vdpa, 1 << 20);

	if (!ret)
		ret = vdrv_map(d, 0);
	if (!ret)
		ret = vdrv_negotiate(d, f);
	if (!ret)
		ret = vdrv_vq_setup(d, 0, DNUM);
	if (!ret)
		ret = vdpa_set_vq_ready(vdpa, 0, false);
	return ret;
}

static void dev_down(struct vdrv *d)
{
	vdpa_reset(d->vdpa);
	vdpa_dma_unmap(d->vdpa, 0, d->iova, d->size);
	vdrv_fini(d);
}

static void test_records(struct vdpa_device *vdpa, struct vdpa_inflight_split *reg,
			 size_t rsize)
{
	struct vdrv d;
	u16 head = 0, last = 0;
	u32 len;
	u8 *st;

	memset(reg, 0, rsize);
	if (!check_eq(dev_up(&d, vdpa), 0) ||
	    !check_eq(vdpa_set_vq_inflight(vdpa, 0, reg, rsize), 0) ||
	    !check_eq(vdpa_set_vq_ready(vdpa, 0, true), 0) || !check_eq(vdrv_driver_ok(&d), 0)) {
		report_checks("device: bring-up with a region");
		dev_down(&d);
		return;
	}
	report_checks("device: bring-up with a region");
	for (int i = 0; i < 10; i++) {
		last = (u16)add_write(&d, (u64)i, (u8)i, &st);
		vdrv_publish(&d, 0);
		vdrv_kick(&d, 0);
		if (!check_true(vdrv_wait_used(&d, 0, &head, &len, 2000)) || !check_eq(*st, 0))
			break;
	}
	report_checks("device: 10 writes served");
	check_eq(reg->version, VDPA_INFLIGHT_VERSION);
	check_eq(reg->desc_num, DNUM);
	check_eq(reg->used_idx, 10);
	check_eq(reg->last_batch_head, last);
	check_eq(reg->desc[last].counter, 10);
	for (u32 i = 0; i < DNUM; i++)
		check_eq(reg->desc[i].inflight, 0);
	report_checks("device: the region holds version, size, used_idx, the last head and its counter, nothing in flight");
	dev_down(&d);
}

/*
 * A previous instance took avail entries 0..2 (heads c, b, a), completed
 * b and published it (the used ring says 1) but died before its
 * bookkeeping (used_idx 0, b still in flight). The new one must serve c
 * then a (counter order), never b again, then d from avail entry 3.
 */
static void test_restart(struct vdpa_device *vdpa, struct vdpa_inflight_split *reg,
			 size_t rsize)
{
	struct vdpa_vq_stats stats = { 0 };
	struct vdpa_vq_state state = { .split.avail_index = 1 };
	struct vdrv d;
	struct vdrv_vq *vq = &d.vqs[0];
	int h[4];
	u8 *st[4];
	u16 got[4] = { 0 }, head;
	u32 len, n = 0;

	if (!report_eq(dev_up(&d, vdpa), 0, "restart: bring-up"))
		return;
	for (int i = 0; i < 4; i++)
		h[i] = add_write(&d, (u64)(100 + i), (u8)(0x40 + i), &st[i]);
	/* Avail order c, b, a, d: not the order of the heads. */
	vq->avail->ring[0] = cpu_to_le16((u16)h[2]);
	vq->avail->ring[1] = cpu_to_le16((u16)h[1]);
	vq->avail->ring[2] = cpu_to_le16((u16)h[0]);
	vq->avail->ring[3] = cpu_to_le16((u16)h[3]);
	vdrv_publish(&d, 0);
	/* What the dead instance did: b served and published. */
	*st[1] = VIRTIO_BLK_S_OK;
	vq->used->ring[0].id = cpu_to_le32((u32)h[1]);
	vq->used->ring[0].len = cpu_to_le32(1);
	__atomic_store_n(&vq->used->idx, cpu_to_le16(1), __ATOMIC_RELEASE);
	memset(reg, 0, rsize);
	reg->version = VDPA_INFLIGHT_VERSION;
	reg->desc_num = DNUM;
	reg->used_idx = 0;
	reg->last_batch_head = (u16)h[1];
	reg->desc[h[2]].inflight = 1;
	reg->desc[h[2]].counter = 1;
	reg->desc[h[1]].inflight = 1;
	reg->desc[h[1]].counter = 2;
	reg->desc[h[0]].inflight = 1;
	reg->desc[h[0]].counter = 3;

	/* As QEMU restarts a ring after a crash: at the used index. */
	if (check_eq(vdpa_set_vq_state(vdpa, 0, &state), 0) &&
	    check_eq(vdpa_set_vq_inflight(vdpa, 0, reg, rsize), 0) &&
	    check_eq(vdpa_set_vq_ready(vdpa, 0, true), 0))
		check_eq(vdrv_driver_ok(&d), 0);
	report_checks("restart: ring started with the region");
	vdrv_kick(&d, 0);
	while (n < 4 && vdrv_wait_used(&d, 0, &head, &len, 2000))
		got[n++] = head;
	vdpa_get_vq_stats(vdpa, 0, &stats);
	if (check_eq(n, 4)) {
		check_eq(got[0], h[1]);	/* the dead instance's */
		check_eq(got[1], h[2]);
		check_eq(got[2], h[0]);
		check_eq(got[3], h[3]);
	}
	check_eq(stats.packets, 3);
	for (int i = 0; i < 4; i++)
		check_eq(*st[i], VIRTIO_BLK_S_OK);
	report_checks("restart: c and a resubmitted in the order taken, b not again, then d");
	check_eq(reg->used_idx, 4);
	for (u32 i = 0; i < DNUM; i++)
		check_eq(reg->desc[i].inflight, 0);
	report_checks("restart: the region caught up (used_idx 4, nothing in flight)");
	dev_down(&d);
}

static void test_device(void)
{
	size_t rsize = vdpa_inflight_queue_size(DNUM);
	struct vdpa_inflight_split *reg = calloc(1, rsize);
	struct vdpa_device *vdpa, *net;

	vdpa_register_types();
	if (!reg || !report_eq(vdpa_mgmt_dev_add("blk,capacity=1M", &vdpa), 0, "create blk"))
		return;
	report_true(vdpa_has_inflight(vdpa), "blk records requests in flight");
	test_records(vdpa, reg, rsize);
	test_restart(vdpa, reg, rsize);
	vdpa_mgmt_dev_del(vdpa);
	if (report_eq(vdpa_mgmt_dev_add("net", &net), 0, "create net")) {
		report_false(vdpa_has_inflight(net), "net does not");
		report_eq(vdpa_set_vq_inflight(net, 0, reg, rsize), -EOPNOTSUPP,
			  "net refuses a region");
		vdpa_mgmt_dev_del(net);
	}
	free(reg);
}

int main(void)
{
	size = vdpa_inflight_queue_size(NUM);
	report_eq(size, 320, "a queue of %u: header and entries (272 bytes) rounded up to 64", NUM);
	report_eq(vdpa_inflight_queue_size(1), 64, "a queue of 1: one alignment unit");
	r = calloc(1, size);
	if (!r)
		return 1;
	test_fresh();
	test_order();
	test_publish_deaths();
	test_hostile();
	free(r);
	log_level_set(LOG_ERR);
	test_device();
	return report_summary();
}
