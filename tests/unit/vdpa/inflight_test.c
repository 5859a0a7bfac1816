// SPDX-License-Identifier: GPL-2.0-only
/*
 * vdpa_inflight_recover(): a queue's inflight region read back as a
 * restarted device finds it, at each instant a previous instance may have
 * died at (include/kestrel/vdpa.h gives the order of its writes), and as a
 * hostile front-end may leave it. A refused region is left as it was.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/vdpa.h>

#include "../test.h"

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
	return report_summary();
}
