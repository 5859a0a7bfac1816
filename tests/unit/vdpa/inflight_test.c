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
#include <kestrel/vringh.h>

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

/* ---- packed rings -------------------------------------------------------- */

static struct vdpa_inflight_packed *pr;
static size_t psize;
static struct vringh prh;
static struct {
	struct vringh_packed_desc ring[NUM];
	struct vringh_packed_event drv, dev;
} pm __attribute__((aligned(64)));
static struct vdpa_inflight_chain pchains[NUM];
static struct vdpa_inflight_pdesc pdescs[NUM];
static u16 pnext[NUM];
static struct vdpa_inflight_packed_recovery prec;

/* What the test's "device" took: a chain's entries and buffer ID. */
struct pchain {
	u16 entry, last, ndesc, id;
};

static u16 p_fh;	/* the model device's free_head */

static u16 avail_bits(bool w) { return w ? VRINGH_DESC_F_AVAIL : VRINGH_DESC_F_USED; }
static u16 used_bits(bool w) { return w ? VRINGH_DESC_F_AVAIL | VRINGH_DESC_F_USED : 0; }

/* A new region (and ring) with the used position at @pos of lap @wrap. */
static void pregion_init(u16 pos, bool wrap)
{
	memset(pr, 0, psize);
	memset(&pm, 0, sizeof(pm));
	pr->version = VDPA_INFLIGHT_VERSION;
	pr->desc_num = NUM;
	for (u16 i = 0; i < NUM; i++)
		pr->desc[i].next = (u16)(i + 1);
	vdpa_inflight_packed_set_used(pr, pos, pos, wrap, wrap);
	p_fh = 0;
}

/*
 * The driver makes a chain of @n available at ring @pos (lap @wrap), and
 * the device takes it as inflight_packed.c does, dying after step @upto
 * (1 copies, 2 head fields, 3 inflight, 4 free_head, 5 old_free_head).
 * Return: the chain.
 */
static struct pchain ptake(u16 *pos, bool *wrap, u16 n, u16 id, u64 cnt, int upto)
{
	struct pchain c = { .entry = p_fh, .ndesc = n, .id = id };
	u16 e = p_fh;

	for (u16 k = 0; k < n; k++) {
		struct vringh_packed_desc *d = &pm.ring[*pos];
		u16 flags = avail_bits(*wrap) | (k + 1 < n ? VRINGH_DESC_F_NEXT : 0);

		d->addr = cpu_to_le64(0x1000 * (id + 1) + k);
		d->len = cpu_to_le32(16 + k);
		d->id = cpu_to_le16(id);
		d->flags = cpu_to_le16(flags);
		if (upto >= 1) {
			pr->desc[e].addr = le64_to_cpu(d->addr);
			pr->desc[e].len = le32_to_cpu(d->len);
			pr->desc[e].id = id;
			pr->desc[e].flags = flags;
		}
		c.last = e;
		e = pr->desc[e].next;
		if (++*pos == NUM) {
			*pos = 0;
			*wrap = !*wrap;
		}
	}
	if (upto >= 2) {
		pr->desc[c.entry].num = n;
		pr->desc[c.entry].last = c.last;
		pr->desc[c.entry].counter = cnt;
	}
	if (upto >= 3)
		pr->desc[c.entry].inflight = 1;
	if (upto >= 4)
		pr->free_head = e;
	if (upto >= 5) {
		pr->old_free_head = e;
		p_fh = e;
	}
	return c;
}

/*
 * The device completes @n chains as one batch from the used position,
 * dying after step @upto (1 free list, 2 used position, 3 used
 * descriptors, 4 inflight bytes, 5 old_free_head, 6 old positions).
 */
static void ppublish(const struct pchain *c, unsigned int n, int upto)
{
	u16 pos = pr->used_idx, npos = pos, fh = p_fh;
	bool wrap = pr->used_wrap_counter, nwrap = wrap;

	for (unsigned int k = 0; k < n; k++) {
		pr->desc[c[k].last].next = fh;
		fh = c[k].entry;
		npos += c[k].ndesc;
		if (npos >= NUM) {
			npos -= NUM;
			nwrap = !nwrap;
		}
	}
	if (upto < 1)
		return;
	pr->free_head = fh;
	if (upto < 2)
		return;
	vdpa_inflight_packed_set_used(pr, npos, pos, nwrap, wrap);
	if (upto < 3)
		return;
	for (unsigned int k = 0, p = pos, w = wrap; k < n; k++) {
		pm.ring[p].id = cpu_to_le16(c[k].id);
		pm.ring[p].flags = cpu_to_le16(used_bits(w));
		p += c[k].ndesc;
		if (p >= NUM) {
			p -= NUM;
			w = !w;
		}
	}
	if (upto < 4)
		return;
	for (unsigned int k = 0; k < n; k++)
		pr->desc[c[k].entry].inflight = 0;
	if (upto < 5)
		return;
	pr->old_free_head = fh;
	p_fh = fh;
	if (upto < 6)
		return;
	vdpa_inflight_packed_set_used(pr, npos, npos, nwrap, nwrap);
}

static int precover(bool ring)
{
	prec = (struct vdpa_inflight_packed_recovery){
		.chains = pchains, .descs = pdescs, .next = pnext,
	};
	return vdpa_inflight_packed_recover(pr, psize, NUM, ring ? &prh : NULL, &prec);
}

static u16 enc(u16 pos, bool wrap)
{
	return (u16)(pos | (wrap ? VRINGH_EVENT_WRAP : 0));
}

/* A, B, C taken (ids 5, 9, 2; 2, 1, 1 descriptors) from ring @pos of lap @wrap. */
static void pscene(u16 pos, bool wrap, struct pchain *c)
{
	pregion_init(pos, wrap);
	c[0] = ptake(&pos, &wrap, 2, 5, 1, 5);
	c[1] = ptake(&pos, &wrap, 1, 9, 2, 5);
	c[2] = ptake(&pos, &wrap, 1, 2, 3, 5);
}

static bool pregion_settled(void)
{
	bool ok = pr->free_head == pr->old_free_head && pr->used_idx == pr->old_used_idx &&
		  pr->used_wrap_counter == pr->old_used_wrap_counter;

	for (u16 e = pr->free_head, n = 0; ok && e != NUM && n <= NUM; e = pr->desc[e].next, n++)
		ok = !pr->desc[e].inflight;
	return ok;
}

static void test_packed_fresh(void)
{
	memset(pr, 0xa5, psize);
	pr->version = 0;
	vringh_set_state(&prh, enc(5, false), enc(5, false));
	if (check_eq(precover(true), 0)) {
		check_eq(prec.nchains, 0);
		check_eq(prec.counter, 1);
		check_eq(prec.last_used, enc(5, false));
		check_eq(pr->version, VDPA_INFLIGHT_VERSION);
		check_eq(pr->desc_num, NUM);
		check_eq(pr->free_head, 0);
		check_eq(pr->used_idx, 5);
		check_eq(pr->used_wrap_counter, 0);
		check_eq(pr->desc[NUM - 1].next, NUM);
		check_eq(pr->desc[3].inflight, 0);
	}
	report_checks("packed, version 0: initialised at the ring's used position, every entry free");
}

/* Complete C then A (out of order) of A, B, C; a death at each step. */
static void test_packed_publish_deaths(u16 at, bool wrap)
{
	static const char *const when[] = {
		"before the batch", "after the free list", "after the used position",
		"after the used descriptors", "after clearing inflight",
		"after old_free_head", "after the old positions",
	};
	bool bwrap = at + 3 >= NUM ? !wrap : wrap;
	u16 bpos = (u16)((at + 3) % NUM), apos = (u16)((at + 4) % NUM);
	bool awrap = at + 4 >= NUM ? !wrap : wrap;

	for (int upto = 0; upto <= 6; upto++) {
		struct pchain c[3], batch[2];

		pscene(at, wrap, c);
		batch[0] = c[2];
		batch[1] = c[0];
		ppublish(batch, 2, upto);
		if (check_eq(precover(true), 0)) {
			check_eq(prec.last_avail, enc(apos, awrap));
			/* After the newest chain in flight. */
			check_eq(prec.counter, upto < 3 ? 4 : 3);
			if (upto < 3) {
				/* The driver saw nothing: A, B, C again, oldest first. */
				if (check_eq(prec.nchains, 3)) {
					check_eq(prec.chains[0].id, 5);
					check_eq(prec.chains[0].ndesc, 2);
					check_eq(pdescs[prec.chains[0].first + 1].addr, 0x1000 * 6 + 1);
					check_eq(prec.chains[1].id, 9);
					check_eq(prec.chains[2].id, 2);
				}
				check_eq(prec.last_used, enc(at, wrap));
			} else {
				if (check_eq(prec.nchains, 1))
					check_eq(prec.chains[0].id, 9);
				check_eq(prec.last_used, enc(bpos, bwrap));
				check_eq(pr->desc[c[0].entry].inflight, 0);
				check_eq(pr->desc[c[2].entry].inflight, 0);
			}
			check_true(pregion_settled());
		}
		report_checks("packed, used at %u: died %s: resubmits exactly what the driver did not see",
			      at, when[upto]);
	}
}

/* D (2 descriptors, id 7) taken after A, B, C; a death at each step. */
static void test_packed_take_deaths(void)
{
	for (int upto = 0; upto <= 5; upto++) {
		struct pchain c[3];
		u16 pos = 4;
		bool wrap = true;

		pscene(0, true, c);
		ptake(&pos, &wrap, 2, 7, 4, upto);
		if (check_eq(precover(true), 0)) {
			check_eq(prec.nchains, upto < 5 ? 3 : 4);
			if (upto == 5)
				check_eq(prec.chains[3].id, 7);
			/* Not recorded: taken again from the ring, where it still is. */
			check_eq(prec.last_avail, enc(upto < 5 ? 4 : 6, true));
			check_true(pregion_settled());
			check_eq(pr->free_head, upto < 5 ? 4 : 6);
		}
		report_checks("packed: died %d steps into taking a chain: %s", upto,
			      upto < 5 ? "taken again from the ring" : "resubmitted from its copy");
	}
}

static void test_packed_alone(void)
{
	struct pchain c[3], batch[1];
	u8 *copy = malloc(psize);

	if (!copy)
		return;
	pscene(0, true, c);
	batch[0] = c[1];
	ppublish(batch, 1, 4);
	memcpy(copy, pr, psize);
	check_eq(precover(false), 0);
	check_eq(memcmp(copy, pr, psize), 0);
	report_checks("packed, checked without a ring (SET_INFLIGHT_FD): accepted, nothing written");
	free(copy);
}

/* Ways a front-end may spoil a packed region (entries: A e0-1, B e2, C e3). */
static void pspoil_version(void) { pr->version = 2; }
static void pspoil_desc_num(void) { pr->desc_num = NUM / 2; }
static void pspoil_free_head(void) { pr->free_head = pr->old_free_head = NUM + 1; }
static void pspoil_old_free_head(void) { pr->old_free_head = NUM + 1; }
static void pspoil_used(void) { vdpa_inflight_packed_set_used(pr, NUM, NUM, 1, 1); }
static void pspoil_wrap(void) { vdpa_inflight_packed_set_used(pr, 0, 0, 2, 2); }
static void pspoil_free_loop(void) { pr->desc[NUM - 1].next = 6; }
static void pspoil_free_range(void) { pr->desc[10].next = NUM + 3; }
static void pspoil_inflight(void) { pr->desc[7].inflight = 2; }
static void pspoil_num0(void) { pr->desc[0].num = 0; }
static void pspoil_num_long(void) { pr->desc[0].num = NUM + 1; }
static void pspoil_into_chain(void) { pr->desc[0].num = 3; }
static void pspoil_into_free(void) { pr->desc[3].num = 2; }
static void pspoil_last(void) { pr->desc[0].last = 5; }
static void pspoil_next_flag(void) { pr->desc[0].flags &= (u16)~VRINGH_DESC_F_NEXT; }
static void pspoil_same_id(void) { pr->desc[2].id = 5; }
static void pspoil_id_range(void) { pr->desc[3].id = NUM; }
static void pspoil_counter_same(void) { pr->desc[3].counter = 1; }
static void pspoil_counter_max(void) { pr->desc[3].counter = UINT64_MAX; }

static void pspoil_batch_flags(void)
{
	vdpa_inflight_packed_set_used(pr, 1, 0, 1, 1);
	pm.ring[0].flags = cpu_to_le16(VRINGH_DESC_F_USED);	/* lap 0's avail bits */
}

static void test_packed_hostile(void)
{
	struct {
		const char *what;
		void (*spoil)(void);
	} cases[] = {
		{ "version 2", pspoil_version },
		{ "desc_num not the queue size", pspoil_desc_num },
		{ "free_head out of range", pspoil_free_head },
		{ "old_free_head out of range", pspoil_old_free_head },
		{ "a used position out of range", pspoil_used },
		{ "a wrap counter of 2", pspoil_wrap },
		{ "a free list that loops", pspoil_free_loop },
		{ "a free list that leaves the queue", pspoil_free_range },
		{ "inflight byte 2", pspoil_inflight },
		{ "a chain of no descriptors", pspoil_num0 },
		{ "a chain longer than the queue", pspoil_num_long },
		{ "a chain running into another", pspoil_into_chain },
		{ "a chain running into the free list", pspoil_into_free },
		{ "a chain whose last entry is not its end", pspoil_last },
		{ "NEXT missing inside a chain", pspoil_next_flag },
		{ "two chains with one buffer ID", pspoil_same_id },
		{ "a buffer ID out of range", pspoil_id_range },
		{ "two chains with one counter", pspoil_counter_same },
		{ "a counter that cannot be followed", pspoil_counter_max },
		{ "a batch cut short where the ring is neither available nor used",
		  pspoil_batch_flags },
	};
	u8 *copy = malloc(psize);
	struct pchain c[3];

	if (!copy)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		pscene(0, true, c);
		cases[i].spoil();
		memcpy(copy, pr, psize);
		check_eq(precover(true), -EINVAL);
		check_eq(prec.nchains, 0);
		check_eq(memcmp(copy, pr, psize), 0);
		report_checks("packed, %s: refused, region untouched", cases[i].what);
	}
	pscene(0, true, c);
	report_eq(vdpa_inflight_packed_recover(pr, psize - 64, NUM, &prh, &prec), -EINVAL,
		  "packed, a region too small for the queue: refused");

	/* B's head no longer in flight: its entry goes back on the free list. */
	pscene(0, true, c);
	pr->desc[c[1].entry].inflight = 0;
	if (check_eq(precover(true), 0)) {
		check_eq(prec.nchains, 2);
		check_eq(pr->free_head, c[1].entry);
		check_eq(pr->desc[c[1].entry].next, 4);
		check_true(pregion_settled());
	}
	report_checks("packed, an entry neither free nor in flight: back on the free list");
	free(copy);
}

static void test_packed(void)
{
	int ret;

	psize = vdpa_inflight_packed_queue_size(NUM);
	report_eq(psize, 576, "packed, a queue of %u: header and entries (544 bytes) rounded up to 64",
		  NUM);
	pr = calloc(1, psize);
	ret = vringh_init_host(&prh, (1ULL << VIRTIO_F_RING_PACKED) | (1ULL << VIRTIO_F_VERSION_1),
			       NUM, true, &pm, sizeof(pm), (struct vringh_desc *)pm.ring,
			       (struct vringh_avail *)&pm.drv, (struct vringh_used *)&pm.dev);
	if (!pr || !report_eq(ret, 0, "packed: a ring in host memory"))
		return;
	test_packed_fresh();
	test_packed_publish_deaths(0, true);
	test_packed_publish_deaths(13, true);	/* the batch crosses the end */
	test_packed_take_deaths();
	test_packed_alone();
	test_packed_hostile();
	free(pr);
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

/*
 * Bring the blk simulator up with REG as queue 0's region; reports
 * "WHAT: bring-up with a region". False (the device down) if it failed.
 */
static bool region_up(struct vdrv *d, struct vdpa_device *vdpa, void *reg, size_t rsize,
		      const char *what)
{
	memset(reg, 0, rsize);
	if (!check_eq(dev_up(d, vdpa), 0) ||
	    !check_eq(vdpa_set_vq_inflight(vdpa, 0, reg, rsize), 0) ||
	    !check_eq(vdpa_set_vq_ready(vdpa, 0, true), 0) || !check_eq(vdrv_driver_ok(d), 0)) {
		report_checks("%s: bring-up with a region", what);
		dev_down(d);
		return false;
	}
	report_checks("%s: bring-up with a region", what);
	return true;
}

/* Ten writes, one at a time; reports "WHAT: 10 writes served". The last head. */
static u16 serve_ten_writes(struct vdrv *d, const char *what)
{
	u16 head = 0, last = 0;
	u32 len;
	u8 *st;

	for (int i = 0; i < 10; i++) {
		last = (u16)add_write(d, (u64)i, (u8)i, &st);
		vdrv_publish(d, 0);
		vdrv_kick(d, 0);
		if (!check_true(vdrv_wait_used(d, 0, &head, &len, 2000)) || !check_eq(*st, 0))
			break;
	}
	report_checks("%s: 10 writes served", what);
	return last;
}

static void test_records(struct vdpa_device *vdpa, struct vdpa_inflight_split *reg,
			 size_t rsize)
{
	struct vdrv d;
	u16 last;

	if (!region_up(&d, vdpa, reg, rsize, "device"))
		return;
	last = serve_ten_writes(&d, "device");
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
/*
 * Start queue 0 again at STATE with region REG, as QEMU does after the
 * server died holding a, b, c (H[0..2]; b served and published) with d
 * (H[3]) added since; reports STARTED. Then the ring must give back b
 * first (published by the dead instance), c and a resubmitted in the
 * order they were taken, and d, every request OK and three of them
 * served by this instance; reports ORDER.
 */
static void restart_and_serve(struct vdrv *d, struct vdpa_device *vdpa,
			      const struct vdpa_vq_state *state, void *reg, size_t rsize,
			      const int h[4], u8 *const st[4], const char *started,
			      const char *order)
{
	struct vdpa_vq_stats stats = { 0 };
	u16 got[4] = { 0 }, head;
	u32 len, n = 0;

	if (check_eq(vdpa_set_vq_state(vdpa, 0, state), 0) &&
	    check_eq(vdpa_set_vq_inflight(vdpa, 0, reg, rsize), 0) &&
	    check_eq(vdpa_set_vq_ready(vdpa, 0, true), 0))
		check_eq(vdrv_driver_ok(d), 0);
	report_checks("%s", started);
	vdrv_kick(d, 0);
	while (n < 4 && vdrv_wait_used(d, 0, &head, &len, 2000))
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
	report_checks("%s", order);
}

static void test_restart(struct vdpa_device *vdpa, struct vdpa_inflight_split *reg,
			 size_t rsize)
{
	struct vdpa_vq_state state = { .split.avail_index = 1 };
	struct vdrv d;
	struct vdrv_vq *vq = &d.vqs[0];
	int h[4];
	u8 *st[4];

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
	restart_and_serve(&d, vdpa, &state, reg, rsize, h, st, "restart: ring started with the region",
			  "restart: c and a resubmitted in the order taken, b not again, then d");
	check_eq(reg->used_idx, 4);
	for (u32 i = 0; i < DNUM; i++)
		check_eq(reg->desc[i].inflight, 0);
	report_checks("restart: the region caught up (used_idx 4, nothing in flight)");
	dev_down(&d);
}

/* The blk simulator with a packed region: what 10 writes leave in it. */
static void test_records_packed(struct vdpa_device *vdpa, struct vdpa_inflight_packed *reg,
				size_t rsize)
{
	struct vdrv d;
	u16 last, fh;

	if (!region_up(&d, vdpa, reg, rsize, "packed device"))
		return;
	last = serve_ten_writes(&d, "packed device");
	fh = reg->free_head;
	check_eq(reg->version, VDPA_INFLIGHT_VERSION);
	check_eq(reg->desc_num, DNUM);
	/* 10 chains of 3 descriptors: used position 30, still the first lap. */
	check_eq(reg->used_idx, 30);
	check_eq(reg->used_wrap_counter, 1);
	check_eq(reg->old_used_idx, 30);
	check_eq(reg->old_free_head, fh);
	/* The last chain's entries, back at the front of the free list. */
	if (check_true(fh < DNUM)) {
		check_eq(reg->desc[fh].num, 3);
		check_eq(reg->desc[fh].counter, 10);
		check_eq(reg->desc[reg->desc[fh].last].id, last);
		check_eq(reg->desc[fh].flags & VRINGH_DESC_F_NEXT, VRINGH_DESC_F_NEXT);
	}
	for (u32 i = 0; i < DNUM; i++)
		check_eq(reg->desc[i].inflight, 0);
	report_checks("packed device: the region holds the used position, the last chain's copy and counter, nothing in flight");
	dev_down(&d);
}

/*
 * Packed: a previous instance took c, b, a (ring 0..8, entries 0..8),
 * completed b: its used descriptor went over c's first one at ring 0 (the
 * driver saw it), then it died before clearing b's inflight byte. The new
 * one must serve c (from its copy: the ring lost it) and a, never b again,
 * then d from ring 9.
 */
static void test_restart_packed(struct vdpa_device *vdpa, struct vdpa_inflight_packed *reg,
				size_t rsize)
{
	struct vdpa_vq_state state = {
		.packed = { .last_avail_counter = 1, .last_used_counter = 1 },
	};
	struct vdrv d;
	struct vdrv_vq *vq = &d.vqs[0];
	struct vringh_packed_desc *ring;
	int h[4];
	u8 *st[4];

	if (!report_eq(dev_up(&d, vdpa), 0, "packed restart: bring-up"))
		return;
	ring = (void *)vq->desc;
	h[2] = add_write(&d, 102, 0x42, &st[2]);	/* c */
	h[1] = add_write(&d, 101, 0x41, &st[1]);	/* b */
	h[0] = add_write(&d, 100, 0x40, &st[0]);	/* a */
	h[3] = add_write(&d, 103, 0x43, &st[3]);	/* d */
	vdrv_publish(&d, 0);
	memset(reg, 0, rsize);
	reg->version = VDPA_INFLIGHT_VERSION;
	reg->desc_num = DNUM;
	for (u16 e = 0; e < DNUM; e++)
		reg->desc[e].next = (u16)(e + 1);
	/* Entries 0..8 hold ring 0..8: c, b, a, taken in that order. */
	for (u16 e = 0; e < 9; e++) {
		reg->desc[e].addr = le64_to_cpu(ring[e].addr);
		reg->desc[e].len = le32_to_cpu(ring[e].len);
		reg->desc[e].id = le16_to_cpu(ring[e].id);
		reg->desc[e].flags = le16_to_cpu(ring[e].flags);
	}
	for (u16 k = 0; k < 3; k++) {
		reg->desc[3 * k].num = 3;
		reg->desc[3 * k].last = (u16)(3 * k + 2);
		reg->desc[3 * k].counter = k + 1u;
		reg->desc[3 * k].inflight = 1;
	}
	/* b completed: back on the free list, the used position moved, shown. */
	reg->desc[5].next = 9;
	reg->free_head = 3;
	reg->old_free_head = 9;
	vdpa_inflight_packed_set_used(reg, 3, 0, 1, 1);
	*st[1] = VIRTIO_BLK_S_OK;
	ring[0].id = cpu_to_le16((u16)h[1]);
	ring[0].len = cpu_to_le32(1);
	__atomic_store_n(&ring[0].flags,
			 cpu_to_le16(VRINGH_DESC_F_AVAIL | VRINGH_DESC_F_USED | VRINGH_DESC_F_WRITE),
			 __ATOMIC_RELEASE);

	/* As QEMU restarts a packed ring after a crash: where it first started. */
	restart_and_serve(&d, vdpa, &state, reg, rsize, h, st, "packed restart: ring started with the region",
			  "packed restart: c (from its copy) and a resubmitted in the order taken, b not again, then d");
	check_eq(reg->used_idx, 12);
	check_eq(reg->old_used_idx, 12);
	check_eq(reg->free_head, reg->old_free_head);
	for (u32 i = 0; i < DNUM; i++)
		check_eq(reg->desc[i].inflight, 0);
	report_checks("packed restart: the region caught up (used position 12, nothing in flight)");
	dev_down(&d);
}

/* A region of the split size cannot hold the packed layout: the queue fails to start. */
static void test_small_packed(struct vdpa_device *vdpa, void *reg, size_t split_size)
{
	struct vdrv d;

	memset(reg, 0, split_size);
	if (check_eq(dev_up(&d, vdpa), 0) &&
	    check_eq(vdpa_set_vq_inflight(vdpa, 0, reg, split_size), 0) &&
	    check_eq(vdpa_set_vq_ready(vdpa, 0, true), 0)) {
		vdrv_driver_ok(&d);
		check_true(vdpa_get_status(vdpa) & VIRTIO_CONFIG_S_NEEDS_RESET);
		check_eq(((struct vdpa_inflight_packed *)reg)->version, 0);
	}
	report_checks("packed: a region of the split size: the queue does not start (NEEDS_RESET), region untouched");
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
	{
		size_t psz = vdpa_inflight_packed_queue_size(DNUM);
		struct vdpa_inflight_packed *preg = calloc(1, psz);

		vdrv_packed = true;
		if (preg) {
			test_records_packed(vdpa, preg, psz);
			test_restart_packed(vdpa, preg, psz);
			test_small_packed(vdpa, preg, rsize);
		}
		vdrv_packed = false;
		free(preg);
	}
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
	test_packed();
	log_level_set(LOG_ERR);
	test_device();
	return report_summary();
}
