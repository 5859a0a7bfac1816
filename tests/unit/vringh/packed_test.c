// SPDX-License-Identifier: GPL-2.0-only
/*
 * vringh on packed rings (virtio 1.2 §2.8). An in-test driver lays out a
 * descriptor ring and the two event suppression areas in a buffer the
 * device reaches through an IOTLB at another address, makes lists
 * available as §2.8.21 describes (first descriptor's flags last), and
 * reads used descriptors back as a driver would (skipping by the list
 * size it recorded per buffer ID). Checked: direct, chained and indirect
 * lists, ring sizes that are not powers of two, many laps of both wrap
 * counters, out-of-order and batched completion, abandon, both event
 * suppression directions with and without EVENT_IDX, the state encoding,
 * and every hostile case with its own error code, each followed by a
 * successful re-init.
 */
#include <kestrel/vringh.h>
#include <kestrel/log.h>

#include <stdint.h>

#include "../test.h"

#define MEM_SIZE	(1u << 20)
#define MEM_IOVA	0x40000000ULL
#define OFF_DESC	0x0
#define OFF_DRIVER	0x8000	/* driver event suppression */
#define OFF_DEVICE	0x8040	/* device event suppression */
#define OFF_INDIRECT	0x20000
#define OFF_DATA	0x40000
#define RO_IOVA		0x80000000ULL
#define HUGE_IOVA	0x100000000ULL	/* 8 GiB mapped, never dereferenced */

#define FEATURES	(VRINGH_F_VERSION_1 | VRINGH_F_RING_PACKED | VRINGH_F_INDIRECT_DESC)

struct pdrv {
	u8 *mem;
	u8 *ro;
	struct iotlb *tlb;
	unsigned int num;
	struct vringh_packed_desc *desc;
	struct vringh_packed_event *driver;	/* written by us */
	struct vringh_packed_event *device;	/* read by us */
	unsigned int next_avail, next_used;
	bool avail_wrap, used_wrap;
	u16 sgs[VRINGH_NUM_MAX];		/* ring descriptors per ID */
	unsigned int next_table;
};

struct tseg {
	u64 iova;
	u32 len;
	bool write;
};

static u64 data_iova(unsigned int off)
{
	return MEM_IOVA + OFF_DATA + off;
}

static u8 *host(struct pdrv *d, u64 iova)
{
	return d->mem + (iova - MEM_IOVA);
}

static void pdrv_reset(struct pdrv *d, unsigned int num)
{
	memset(d->mem, 0, OFF_DATA);
	d->num = num;
	d->desc = (void *)(d->mem + OFF_DESC);
	d->driver = (void *)(d->mem + OFF_DRIVER);
	d->device = (void *)(d->mem + OFF_DEVICE);
	d->next_avail = d->next_used = 0;
	d->avail_wrap = d->used_wrap = true;
	d->next_table = 0;
}

static int pdrv_setup(struct pdrv *d)
{
	memset(d, 0, sizeof(*d));
	d->mem = aligned_alloc(4096, MEM_SIZE);
	d->ro = aligned_alloc(4096, 4096);
	if (!d->mem || !d->ro || iotlb_create(0, &d->tlb))
		return -ENOMEM;
	iotlb_add_range(d->tlb, MEM_IOVA, MEM_IOVA + MEM_SIZE - 1,
			(uintptr_t)d->mem, IOTLB_PERM_RW);
	iotlb_add_range(d->tlb, RO_IOVA, RO_IOVA + 4095, (uintptr_t)d->ro, IOTLB_PERM_RO);
	iotlb_add_range(d->tlb, HUGE_IOVA, HUGE_IOVA + (8ULL << 30) - 1, 0x1000,
			IOTLB_PERM_RW);
	pdrv_reset(d, 8);
	return 0;
}

static void pdrv_teardown(struct pdrv *d)
{
	iotlb_destroy(d->tlb);
	free(d->mem);
	free(d->ro);
}

static int dev_init(struct pdrv *d, struct vringh *vrh, u64 features)
{
	return vringh_init_iotlb(vrh, features, d->num, true, d->tlb,
				 MEM_IOVA + OFF_DESC, MEM_IOVA + OFF_DRIVER,
				 MEM_IOVA + OFF_DEVICE);
}

static u16 avail_bits(bool w)
{
	return w ? VRINGH_DESC_F_AVAIL : VRINGH_DESC_F_USED;
}

/*
 * Make a list of @n segments available under buffer ID @id (direct, or
 * one indirect descriptor). @extra is ORed into the flags of descriptor
 * @extra_at (-1: none) for the hostile cases; @head_flags, if not NULL,
 * receives the first descriptor's flags and they are not stored (the
 * caller stores them, maybe altered).
 */
static void pdrv_add_ex(struct pdrv *d, const struct tseg *s, unsigned int n,
			bool indirect, u16 id, int extra_at, u16 extra, u16 *head_flags)
{
	unsigned int first = d->next_avail, k, count = indirect ? 1 : n;
	u16 first_flags = 0;

	if (indirect) {
		u64 off = OFF_INDIRECT + (d->next_table++ % 16) * 0x1000;
		struct vringh_packed_desc *t = (void *)(d->mem + off);

		for (k = 0; k < n; k++) {
			t[k].addr = cpu_to_le64(s[k].iova);
			t[k].len = cpu_to_le32(s[k].len);
			t[k].id = 0;
			t[k].flags = cpu_to_le16(s[k].write ? VRINGH_DESC_F_WRITE : 0);
		}
	}
	for (k = 0; k < count; k++) {
		struct vringh_packed_desc *p = &d->desc[d->next_avail];
		u16 flags = avail_bits(d->avail_wrap);

		if (indirect) {
			p->addr = cpu_to_le64(MEM_IOVA + OFF_INDIRECT +
					      ((d->next_table - 1) % 16) * 0x1000);
			p->len = cpu_to_le32(n * sizeof(struct vringh_packed_desc));
			flags |= VRINGH_DESC_F_INDIRECT;
		} else {
			p->addr = cpu_to_le64(s[k].iova);
			p->len = cpu_to_le32(s[k].len);
			flags |= s[k].write ? VRINGH_DESC_F_WRITE : 0;
		}
		if (k + 1 < count)
			flags |= VRINGH_DESC_F_NEXT;
		if ((int)k == extra_at)
			flags ^= extra;
		p->id = cpu_to_le16(k + 1 == count ? id : 0xffff);
		if (d->next_avail == first)
			first_flags = flags;
		else
			p->flags = cpu_to_le16(flags);
		if (++d->next_avail == d->num) {
			d->next_avail = 0;
			d->avail_wrap = !d->avail_wrap;
		}
	}
	if (id < VRINGH_NUM_MAX)
		d->sgs[id] = count;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (head_flags)
		*head_flags = first_flags;
	else
		d->desc[first].flags = cpu_to_le16(first_flags);
}

static void pdrv_add(struct pdrv *d, const struct tseg *s, unsigned int n,
		     bool indirect, u16 id)
{
	pdrv_add_ex(d, s, n, indirect, id, -1, 0, NULL);
}

/* The next used descriptor: 1 and its id/len/flags, or 0 if none yet. */
static int pdrv_used(struct pdrv *d, u16 *id, u32 *len, u16 *flags)
{
	struct vringh_packed_desc *p = &d->desc[d->next_used];
	u16 f = le16_to_cpu(__atomic_load_n(&p->flags, __ATOMIC_ACQUIRE));

	if (!!(f & VRINGH_DESC_F_USED) != d->used_wrap)
		return 0;
	*id = le16_to_cpu(p->id);
	*len = le32_to_cpu(p->len);
	if (flags)
		*flags = f;
	if (*id < VRINGH_NUM_MAX)
		d->next_used += d->sgs[*id];
	if (d->next_used >= d->num) {
		d->next_used -= d->num;
		d->used_wrap = !d->used_wrap;
	}
	return 1;
}

static void fill(u8 *p, size_t len, u8 seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (u8)(seed + i * 7);
}

/* One of each list shape, through the device and back. */
static void test_basic(struct pdrv *d)
{
	struct iovec rs[8], ws[8];
	struct vringh_iov riov, wiov;
	struct vringh vrh;
	u8 buf[256], want[256];
	u16 head, id, flags;
	u32 len;

	report_prefix_push("basic");
	vringh_iov_init(&riov, rs, 8, false);
	vringh_iov_init(&wiov, ws, 8, false);
	pdrv_reset(d, 8);
	check_err(dev_init(d, &vrh, FEATURES), 0);
	check_eq(vringh_getdesc(&vrh, &riov, &wiov, &head), 0);

	/* One readable descriptor. */
	fill(host(d, data_iova(0)), 100, 1);
	pdrv_add(d, (struct tseg[]){ { data_iova(0), 100, false } }, 1, false, 5);
	check_eq(vringh_getdesc(&vrh, &riov, &wiov, &head), 1);
	check_eq(head, 5);
	check_eq(vringh_iov_length(&riov), 100);
	check_eq(wiov.used, 0);
	check_eq(vringh_iov_pull(&riov, buf, 100), 100);
	fill(want, 100, 1);
	check_true(!memcmp(buf, want, 100));
	check_eq(pdrv_used(d, &id, &len, NULL), 0);
	check_err(vringh_complete(&vrh, head, 0), 0);
	check_eq(pdrv_used(d, &id, &len, &flags), 1);
	check_eq(id, 5);
	check_eq(flags & VRINGH_DESC_F_WRITE, 0);
	/* The same ID again is invalid once completed (not in flight). */
	check_err(vringh_complete(&vrh, 5, 0), -EINVAL);
	check_err(vringh_error(&vrh), 0);
	report_checks("one readable descriptor, completed once");

	/* A chain: readable header, two writable parts. */
	fill(host(d, data_iova(0x1000)), 16, 9);
	pdrv_add(d, (struct tseg[]){ { data_iova(0x1000), 16, false },
				     { data_iova(0x2000), 64, true },
				     { data_iova(0x3000), 32, true } }, 3, false, 7);
	check_eq(vringh_getdesc(&vrh, &riov, &wiov, &head), 1);
	check_eq(head, 7);
	check_eq(riov.used, 1);
	check_eq(wiov.used, 2);
	check_eq(vringh_iov_length(&wiov), 96);
	fill(want, 96, 3);
	check_eq(vringh_iov_push(&wiov, want, 96), 96);
	check_true(!memcmp(host(d, data_iova(0x2000)), want, 64));
	check_true(!memcmp(host(d, data_iova(0x3000)), want + 64, 32));
	check_err(vringh_complete(&vrh, head, 96), 0);
	check_eq(pdrv_used(d, &id, &len, &flags), 1);
	check_eq(id, 7);
	check_eq(len, 96);
	check_eq(flags & VRINGH_DESC_F_WRITE, VRINGH_DESC_F_WRITE);
	/* Wrapped: 1 + 3 of 8 used, the next list starts at 4. */
	check_eq(d->next_used, 4);
	report_checks("chain of three: used position skips all three");

	/* Indirect: one ring descriptor, four table entries. */
	pdrv_add(d, (struct tseg[]){ { data_iova(0x4000), 10, false },
				     { data_iova(0x4100), 20, false },
				     { data_iova(0x4200), 30, true },
				     { data_iova(0x4300), 40, true } }, 4, true, 0);
	check_eq(vringh_getdesc(&vrh, &riov, &wiov, &head), 1);
	check_eq(head, 0);
	check_eq(vringh_iov_length(&riov), 30);
	check_eq(vringh_iov_length(&wiov), 70);
	check_err(vringh_complete(&vrh, head, 70), 0);
	check_eq(pdrv_used(d, &id, &len, NULL), 1);
	check_eq(id, 0);
	check_eq(len, 70);
	check_eq(d->next_used, 5);
	report_checks("indirect table of four: one ring descriptor");

	/* Indirect refused without VIRTIO_RING_F_INDIRECT_DESC. */
	pdrv_reset(d, 8);
	check_err(dev_init(d, &vrh, FEATURES & ~VRINGH_F_INDIRECT_DESC), 0);
	pdrv_add(d, (struct tseg[]){ { data_iova(0), 10, false } }, 1, true, 0);
	check_err(vringh_getdesc(&vrh, &riov, &wiov, &head), -EMLINK);
	report_checks("indirect without INDIRECT_DESC: -EMLINK");
	report_prefix_pop();
}

/*
 * Many laps with a ring size that is no power of two, lists of 1..3
 * descriptors, completions out of order and in batches: the device's used
 * position must always be where the driver looks next.
 */
static void test_laps(struct pdrv *d)
{
	struct iovec rs[8], ws[8];
	struct vringh_iov riov, wiov;
	struct vringh_used_elem elems[4];
	struct vringh vrh;
	unsigned int round, k, bad = 0, got = 0;
	u16 head, heads[4], id;
	u32 len;

	report_prefix_push("laps");
	vringh_iov_init(&riov, rs, 8, false);
	vringh_iov_init(&wiov, ws, 8, false);
	pdrv_reset(d, 7);
	check_err(dev_init(d, &vrh, FEATURES), 0);
	for (round = 0; round < 200; round++) {
		unsigned int n = 1 + round % 3;

		/* Two lists of n descriptors in flight (2 * 3 <= 7). */
		for (k = 0; k < 2; k++) {
			struct tseg s[3];
			unsigned int j;

			for (j = 0; j < n; j++)
				s[j] = (struct tseg){ data_iova(j * 0x100), 8, j == n - 1 };
			pdrv_add(d, s, n, false, (u16)((round * 2 + k) % 7));
		}
		for (k = 0; k < 2; k++) {
			if (vringh_getdesc(&vrh, &riov, &wiov, &heads[k]) != 1 ||
			    heads[k] != (round * 2 + k) % 7)
				bad++;
		}
		if (round % 2) {
			/* Out of order, one at a time. */
			check_err(vringh_complete(&vrh, heads[1], 1), 0);
			check_err(vringh_complete(&vrh, heads[0], 2), 0);
		} else {
			elems[0] = (struct vringh_used_elem){ heads[0], 2 };
			elems[1] = (struct vringh_used_elem){ heads[1], 1 };
			check_err(vringh_complete_multi(&vrh, elems, 2), 0);
		}
		for (k = 0; k < 2; k++) {
			if (pdrv_used(d, &id, &len, NULL) != 1 ||
			    id != heads[round % 2 ? 1 - k : k] ||
			    len != (id == heads[0] ? 2u : 1u))
				bad++;
			else
				got++;
		}
		if (vringh_getdesc(&vrh, &riov, &wiov, &head) != 0)
			bad++;
	}
	report(!bad && got == 400, "200 rounds over a ring of 7: %u used seen, %u mismatches",
	       got, bad);
	check_err(vringh_error(&vrh), 0);

	/* A batch with an ID not in flight writes nothing. */
	pdrv_add(d, (struct tseg[]){ { data_iova(0), 8, true } }, 1, false, 3);
	check_eq(vringh_getdesc(&vrh, &riov, &wiov, &head), 1);
	elems[0] = (struct vringh_used_elem){ 3, 8 };
	elems[1] = (struct vringh_used_elem){ 3, 8 };
	check_err(vringh_complete_multi(&vrh, elems, 2), -EINVAL);
	elems[1] = (struct vringh_used_elem){ 7, 8 };
	check_err(vringh_complete_multi(&vrh, elems, 2), -EINVAL);
	check_eq(pdrv_used(d, &id, &len, NULL), 0);
	check_err(vringh_complete_multi(&vrh, elems, 1), 0);
	check_eq(pdrv_used(d, &id, &len, NULL), 1);
	check_eq(id, 3);
	report_checks("a batch with an ID twice or not in flight: -EINVAL, nothing written");
	report_prefix_pop();
}

static void test_abandon_state(struct pdrv *d)
{
	struct iovec ws[8];
	struct vringh_iov wiov;
	struct vringh vrh;
	u16 h1, h2, h3, la, lu, id;
	u32 len;

	report_prefix_push("abandon/state");
	vringh_iov_init(&wiov, ws, 8, false);
	pdrv_reset(d, 5);
	check_err(dev_init(d, &vrh, FEATURES), 0);
	vringh_get_state(&vrh, &la, &lu);
	check_eq(la, VRINGH_EVENT_WRAP);
	check_eq(lu, VRINGH_EVENT_WRAP);
	pdrv_add(d, (struct tseg[]){ { data_iova(0), 8, true }, { data_iova(8), 8, true } },
		 2, false, 1);
	pdrv_add(d, (struct tseg[]){ { data_iova(16), 8, true }, { data_iova(24), 8, true } },
		 2, false, 2);
	check_eq(vringh_getdesc(&vrh, NULL, &wiov, &h1), 1);
	check_eq(vringh_getdesc(&vrh, NULL, &wiov, &h2), 1);
	vringh_abandon(&vrh, 2);
	vringh_get_state(&vrh, &la, NULL);
	check_eq(la, VRINGH_EVENT_WRAP);
	check_eq(vringh_getdesc(&vrh, NULL, &wiov, &h1), 1);
	check_eq(h1, 1);
	check_eq(vringh_getdesc(&vrh, NULL, &wiov, &h2), 1);
	check_eq(h2, 2);
	/* Slot 0 free again, a third list of 2 wraps: avail position 1, wrap 0. */
	check_err(vringh_complete(&vrh, h1, 16), 0);
	check_eq(pdrv_used(d, &id, &len, NULL), 1);
	check_eq(id, 1);
	pdrv_add(d, (struct tseg[]){ { data_iova(32), 8, true }, { data_iova(40), 8, true } },
		 2, false, 3);
	check_eq(vringh_getdesc(&vrh, NULL, &wiov, &h3), 1);
	vringh_get_state(&vrh, &la, &lu);
	check_eq(la, 1);
	check_eq(lu, 2 | VRINGH_EVENT_WRAP);
	vringh_abandon(&vrh, 1);
	vringh_get_state(&vrh, &la, NULL);
	check_eq(la, 4 | VRINGH_EVENT_WRAP);
	check_eq(vringh_getdesc(&vrh, NULL, &wiov, &h3), 1);
	check_eq(h3, 3);
	check_err(vringh_complete(&vrh, h2, 16), 0);
	check_err(vringh_complete(&vrh, h3, 16), 0);
	check_eq(pdrv_used(d, &id, &len, NULL), 1);
	check_eq(id, 2);
	check_eq(pdrv_used(d, &id, &len, NULL), 1);
	check_eq(id, 3);
	check_eq(d->next_used, 1);
	report_checks("abandon across a wrap, then used positions");

	/* set_state: a position and wrap counters as SET_VRING_BASE gives them. */
	check_err(vringh_set_state(&vrh, 5, 0), -EINVAL);
	check_err(vringh_set_state(&vrh, 1, 1), 0);
	vringh_get_state(&vrh, &la, &lu);
	check_eq(la, 1);
	check_eq(lu, 1);
	check_eq(vringh_getdesc(&vrh, NULL, &wiov, &h1), 0);
	pdrv_add(d, (struct tseg[]){ { data_iova(0), 8, true } }, 1, false, 3);
	check_eq(vringh_getdesc(&vrh, NULL, &wiov, &h1), 1);
	check_eq(h1, 3);
	report_checks("set_state with wrap counters in bit 15");
	report_prefix_pop();
}

static void test_notify(struct pdrv *d)
{
	struct iovec ws[8];
	struct vringh_iov wiov;
	struct vringh vrh;
	u16 head;
	unsigned int k;

	report_prefix_push("notify");
	vringh_iov_init(&wiov, ws, 8, false);

	/* Without EVENT_IDX: the driver's flags decide. */
	pdrv_reset(d, 8);
	check_err(dev_init(d, &vrh, FEATURES), 0);
	check_eq(vringh_need_notify(&vrh), 0);
	pdrv_add(d, (struct tseg[]){ { data_iova(0), 8, true } }, 1, false, 0);
	check_eq(vringh_getdesc(&vrh, NULL, &wiov, &head), 1);
	check_err(vringh_complete(&vrh, head, 8), 0);
	check_eq(vringh_need_notify(&vrh), 1);
	check_eq(vringh_need_notify(&vrh), 0);
	d->driver->flags = cpu_to_le16(VRINGH_EVENT_F_DISABLE);
	pdrv_add(d, (struct tseg[]){ { data_iova(0), 8, true } }, 1, false, 0);
	check_eq(vringh_getdesc(&vrh, NULL, &wiov, &head), 1);
	check_err(vringh_complete(&vrh, head, 8), 0);
	check_eq(vringh_need_notify(&vrh), 0);

	/* The device side: enable/disable as the driver reads them. */
	check_eq(vringh_notify_enable(&vrh), 0);
	check_eq(le16_to_cpu(d->device->flags), VRINGH_EVENT_F_ENABLE);
	vringh_notify_disable(&vrh);
	check_eq(le16_to_cpu(d->device->flags), VRINGH_EVENT_F_DISABLE);
	pdrv_add(d, (struct tseg[]){ { data_iova(0), 8, true } }, 1, false, 0);
	check_eq(vringh_notify_enable(&vrh), 1);
	report_checks("ENABLE/DISABLE both ways");

	/* With EVENT_IDX: interrupt when the used position crosses off_wrap. */
	pdrv_reset(d, 8);
	check_err(dev_init(d, &vrh, FEATURES | VRINGH_F_EVENT_IDX), 0);
	d->driver->off_wrap = cpu_to_le16(2 | VRINGH_EVENT_WRAP);
	d->driver->flags = cpu_to_le16(VRINGH_EVENT_F_DESC);
	for (k = 0; k < 6; k++) {
		unsigned int want = k == 2 ? 1 : 0;

		pdrv_add(d, (struct tseg[]){ { data_iova(0), 8, true } }, 1, false, (u16)k);
		check_eq(vringh_getdesc(&vrh, NULL, &wiov, &head), 1);
		check_err(vringh_complete(&vrh, head, 8), 0);
		check_eq(vringh_need_notify(&vrh), want);
	}
	/* Position 0 of the next lap (wrap 0), passed in one batch of three. */
	d->driver->off_wrap = cpu_to_le16(0);
	for (k = 0; k < 3; k++) {
		pdrv_add(d, (struct tseg[]){ { data_iova(0), 8, true } }, 1, false, (u16)k);
		check_eq(vringh_getdesc(&vrh, NULL, &wiov, &head), 1);
		check_err(vringh_complete(&vrh, head, 8), 0);
	}
	check_eq(vringh_need_notify(&vrh), 1);
	/* An event in the lap before: long passed, no interrupt. */
	d->driver->off_wrap = cpu_to_le16(7 | VRINGH_EVENT_WRAP);
	pdrv_add(d, (struct tseg[]){ { data_iova(0), 8, true } }, 1, false, 0);
	check_eq(vringh_getdesc(&vrh, NULL, &wiov, &head), 1);
	check_err(vringh_complete(&vrh, head, 8), 0);
	check_eq(vringh_need_notify(&vrh), 0);
	/* The device asks for a kick at its avail position, with its wrap. */
	check_eq(vringh_notify_enable(&vrh), 0);
	check_eq(le16_to_cpu(d->device->flags), VRINGH_EVENT_F_DESC);
	check_eq(le16_to_cpu(d->device->off_wrap), 2);
	report_checks("EVENT_IDX: off_wrap both ways, across a wrap");
	report_prefix_pop();
}

static void test_init(struct pdrv *d)
{
	struct vringh vrh;

	report_prefix_push("init");
	pdrv_reset(d, 8);
	/* Driver area 4-aligned for a packed ring (2 would do for split). */
	check_err(vringh_init_iotlb(&vrh, FEATURES, 8, true, d->tlb, MEM_IOVA,
				    MEM_IOVA + OFF_DRIVER + 2, MEM_IOVA + OFF_DEVICE), -EINVAL);
	check_err(vringh_init_iotlb(&vrh, FEATURES, 0, true, d->tlb, MEM_IOVA,
				    MEM_IOVA + OFF_DRIVER, MEM_IOVA + OFF_DEVICE), -EINVAL);
	check_err(vringh_init_iotlb(&vrh, FEATURES, VRINGH_NUM_MAX + 1, true, d->tlb,
				    MEM_IOVA, MEM_IOVA + OFF_DRIVER, MEM_IOVA + OFF_DEVICE),
		  -EINVAL);
	/* The descriptor ring is written too: a read-only one is refused. */
	check_err(vringh_init_iotlb(&vrh, FEATURES, 8, true, d->tlb, RO_IOVA,
				    MEM_IOVA + OFF_DRIVER, MEM_IOVA + OFF_DEVICE), -EPERM);
	check_err(vringh_init_iotlb(&vrh, FEATURES, 8, true, d->tlb, MEM_IOVA,
				    RO_IOVA, RO_IOVA + 4), -EPERM);
	check_err(vringh_init_iotlb(&vrh, FEATURES, 8, true, d->tlb, MEM_IOVA,
				    RO_IOVA, MEM_IOVA + OFF_DEVICE), 0);
	check_err(vringh_init_iotlb(&vrh, FEATURES, 3, true, d->tlb, MEM_IOVA,
				    MEM_IOVA + OFF_DRIVER, MEM_IOVA + OFF_DEVICE), 0);
	report_checks("alignment, size, permissions of the three areas");
	report_prefix_pop();
}

/* The host-memory flavour drives a packed ring the same way. */
static void test_host_flavour(struct pdrv *d)
{
	struct iovec ws[4];
	struct vringh_iov wiov;
	struct vringh vrh;
	u16 head, id;
	u32 len;
	struct vringh_packed_desc *p;

	report_prefix_push("host");
	vringh_iov_init(&wiov, ws, 4, false);
	pdrv_reset(d, 4);
	check_err(vringh_init_host(&vrh, FEATURES, 4, true, d->mem, MEM_SIZE,
				   (void *)d->desc, (void *)d->driver, (void *)d->device), 0);
	pdrv_add(d, (struct tseg[]){ { 0, 8, true } }, 1, false, 2);
	/* Host pointers, not IOVAs, in this flavour. */
	p = &d->desc[0];
	p->addr = cpu_to_le64((uintptr_t)d->mem + OFF_DATA);
	check_eq(vringh_getdesc(&vrh, NULL, &wiov, &head), 1);
	check_eq(head, 2);
	check_ptr(wiov.iov[0].iov_base, d->mem + OFF_DATA);
	check_err(vringh_complete(&vrh, head, 8), 0);
	check_eq(pdrv_used(d, &id, &len, NULL), 1);
	check_eq(id, 2);
	report_checks("host pointers in a packed ring");
	report_prefix_pop();
}

/* ---- hostile rings -------------------------------------------------------- */

enum hostile {
	P_HEAD_USED,
	P_HEAD_USED_LAP0,
	P_CHAIN_NOT_AVAIL,
	P_CHAIN_USED,
	P_CHAIN_WRAP_STALE,
	P_TOO_LONG,
	P_ID_RANGE,
	P_ID_INFLIGHT,
	P_NESTED_INDIRECT,
	P_INDIRECT_NEXT,
	P_INDIRECT_AFTER_NEXT,
	P_INDIRECT_NO_FEATURE,
	P_INDIRECT_LEN0,
	P_INDIRECT_LEN_ODD,
	P_INDIRECT_TOO_BIG,
	P_INDIRECT_UNMAPPED,
	P_INDIRECT_BUF_UNMAPPED,
	P_WRITE_THEN_READ,
	P_LEN_OVERFLOW,
	P_UNMAPPED,
	P_WRITE_RO,
	P_NO_RIOV,
	P_COUNT
};

static const struct {
	const char *name;
	int err;
} hostile_cases[P_COUNT] = {
	[P_HEAD_USED] = { "AVAIL and USED both set at the avail position (wrap 1)", -EBADMSG },
	[P_HEAD_USED_LAP0] = { "AVAIL and USED both clear at the avail position (wrap 0)",
			       -EBADMSG },
	[P_CHAIN_NOT_AVAIL] = { "second descriptor of a list not available", -EILSEQ },
	[P_CHAIN_USED] = { "second descriptor of a list marked used", -EBADMSG },
	[P_CHAIN_WRAP_STALE] = { "list across the ring end, wrapped part of the old lap",
				 -EILSEQ },
	[P_TOO_LONG] = { "every descriptor of the ring with NEXT", -E2BIG },
	[P_ID_RANGE] = { "buffer ID = ring size", -ERANGE },
	[P_ID_INFLIGHT] = { "buffer ID already in flight", -EALREADY },
	[P_NESTED_INDIRECT] = { "indirect in indirect", -EMLINK },
	[P_INDIRECT_NEXT] = { "indirect with NEXT", -EMLINK },
	[P_INDIRECT_AFTER_NEXT] = { "indirect after a NEXT", -EMLINK },
	[P_INDIRECT_NO_FEATURE] = { "indirect not negotiated", -EMLINK },
	[P_INDIRECT_LEN0] = { "indirect table length 0", -EMSGSIZE },
	[P_INDIRECT_LEN_ODD] = { "indirect table length 24", -EMSGSIZE },
	[P_INDIRECT_TOO_BIG] = { "indirect table longer than ring", -EMSGSIZE },
	[P_INDIRECT_UNMAPPED] = { "indirect table unmapped", -EFAULT },
	[P_INDIRECT_BUF_UNMAPPED] = { "buffer in an indirect table unmapped", -EFAULT },
	[P_WRITE_THEN_READ] = { "readable after writable", -EPROTO },
	[P_LEN_OVERFLOW] = { "lengths sum past U32_MAX", -EOVERFLOW },
	[P_UNMAPPED] = { "buffer outside the IOTLB", -EFAULT },
	[P_WRITE_RO] = { "writable buffer in read-only memory", -EPERM },
	[P_NO_RIOV] = { "readable buffer, device takes none", -EACCES },
};

static void put_pdesc(struct vringh_packed_desc *t, unsigned int i, u64 addr, u32 len,
		      u16 id, u16 flags)
{
	t[i].addr = cpu_to_le64(addr);
	t[i].len = cpu_to_le32(len);
	t[i].id = cpu_to_le16(id);
	t[i].flags = cpu_to_le16(flags);
}

/*
 * Lay out case @h on a clean ring of 8; returns how many good lists the
 * device takes before the bad one.
 */
static unsigned int hostile_inject(struct pdrv *d, struct vringh *vrh, enum hostile h)
{
	struct vringh_packed_desc *t = (void *)(d->mem + OFF_INDIRECT);
	struct vringh_packed_desc *q = d->desc;
	u64 ind = MEM_IOVA + OFF_INDIRECT, buf = data_iova(0);
	u16 av = avail_bits(true), n = VRINGH_DESC_F_NEXT, in = VRINGH_DESC_F_INDIRECT;
	unsigned int k, num = d->num;

	switch (h) {
	case P_HEAD_USED:
		put_pdesc(q, 0, buf, 8, 0, VRINGH_DESC_F_AVAIL | VRINGH_DESC_F_USED);
		break;
	case P_HEAD_USED_LAP0:
		/* The zeroed ring, read in a lap of wrap counter 0. */
		vringh_set_state(vrh, 0, 0);
		break;
	case P_CHAIN_NOT_AVAIL:
		put_pdesc(q, 1, buf, 8, 0, avail_bits(false));
		put_pdesc(q, 0, buf, 8, 0, av | n);
		break;
	case P_CHAIN_USED:
		put_pdesc(q, 1, buf, 8, 0, VRINGH_DESC_F_AVAIL | VRINGH_DESC_F_USED);
		put_pdesc(q, 0, buf, 8, 0, av | n);
		break;
	case P_CHAIN_WRAP_STALE:
		vringh_set_state(vrh, (num - 1) | VRINGH_EVENT_WRAP, VRINGH_EVENT_WRAP);
		/* Slot 0 must carry wrap 0's AVAIL; it carries wrap 1's. */
		put_pdesc(q, 0, buf, 8, 0, av);
		put_pdesc(q, num - 1, buf, 8, 0, av | n);
		break;
	case P_TOO_LONG:
		for (k = num; k--;)
			put_pdesc(q, k, buf, 8, 0, av | n);
		break;
	case P_ID_RANGE:
		put_pdesc(q, 0, buf, 8, num, av);
		break;
	case P_ID_INFLIGHT:
		put_pdesc(q, 1, buf, 8, 3, av);
		put_pdesc(q, 0, buf, 8, 3, av);
		return 1;
	case P_NESTED_INDIRECT:
		put_pdesc(t, 0, ind, 16, 0, in);
		put_pdesc(q, 0, ind, 16, 0, av | in);
		break;
	case P_INDIRECT_NEXT:
		put_pdesc(t, 0, buf, 8, 0, 0);
		put_pdesc(q, 1, buf, 8, 0, av);
		put_pdesc(q, 0, ind, 16, 0, av | in | n);
		break;
	case P_INDIRECT_AFTER_NEXT:
		put_pdesc(t, 0, buf, 8, 0, 0);
		put_pdesc(q, 1, ind, 16, 0, av | in);
		put_pdesc(q, 0, buf, 8, 0, av | n);
		break;
	case P_INDIRECT_NO_FEATURE:
		put_pdesc(t, 0, buf, 8, 0, 0);
		put_pdesc(q, 0, ind, 16, 0, av | in);
		break;
	case P_INDIRECT_LEN0:
		put_pdesc(q, 0, ind, 0, 0, av | in);
		break;
	case P_INDIRECT_LEN_ODD:
		put_pdesc(q, 0, ind, 24, 0, av | in);
		break;
	case P_INDIRECT_TOO_BIG:
		put_pdesc(q, 0, ind, (num + 1) * 16, 0, av | in);
		break;
	case P_INDIRECT_UNMAPPED:
		put_pdesc(q, 0, 0x2000, 32, 0, av | in);
		break;
	case P_INDIRECT_BUF_UNMAPPED:
		put_pdesc(t, 0, buf, 8, 0, 0);
		put_pdesc(t, 1, 0x3000, 8, 0, VRINGH_DESC_F_WRITE);
		put_pdesc(q, 0, ind, 32, 0, av | in);
		break;
	case P_WRITE_THEN_READ:
		put_pdesc(q, 1, buf, 8, 0, av);
		put_pdesc(q, 0, buf, 8, 0, av | n | VRINGH_DESC_F_WRITE);
		break;
	case P_LEN_OVERFLOW:
		put_pdesc(q, 1, HUGE_IOVA, 2, 0, av);
		put_pdesc(q, 0, HUGE_IOVA, 0xffffffff, 0, av | n);
		break;
	case P_UNMAPPED:
		put_pdesc(q, 0, 0x1000, 8, 0, av);
		break;
	case P_WRITE_RO:
		put_pdesc(q, 0, RO_IOVA, 8, 0, av | VRINGH_DESC_F_WRITE);
		break;
	case P_NO_RIOV:
		put_pdesc(q, 0, buf, 8, 0, av);
		break;
	case P_COUNT:
		break;
	}
	return 0;
}

static void test_hostile(struct pdrv *d)
{
	struct iovec rs[4], ws[4];
	struct vringh_iov riov, wiov;
	static struct vringh vrh;
	unsigned int h;
	u16 head;

	report_prefix_push("hostile");
	vringh_iov_init(&riov, rs, 4, true);
	vringh_iov_init(&wiov, ws, 4, true);
	for (h = 0; h < P_COUNT; h++) {
		int want = hostile_cases[h].err, ret, again, cret, good = 1;
		u64 features = h == P_INDIRECT_NO_FEATURE ? VRINGH_F_VERSION_1 | VRINGH_F_RING_PACKED
							  : FEATURES;
		unsigned int pre, k;
		bool recovered;
		u8 buf[16];

		pdrv_reset(d, 8);
		dev_init(d, &vrh, features);
		pre = hostile_inject(d, &vrh, h);
		for (k = 0; k < pre; k++)
			good &= vringh_getdesc(&vrh, &riov, &wiov, &head) == 1;
		ret = vringh_getdesc(&vrh, h == P_NO_RIOV ? NULL : &riov, &wiov, &head);
		again = vringh_getdesc(&vrh, &riov, &wiov, &head);
		cret = vringh_complete(&vrh, 0, 0);

		/* Re-init over a clean ring: the device works again. */
		pdrv_reset(d, 8);
		recovered = dev_init(d, &vrh, FEATURES) == 0;
		fill(host(d, data_iova(0)), 16, 7);
		pdrv_add(d, (struct tseg[]){ { data_iova(0), 16, false } }, 1, false, 4);
		recovered = recovered && vringh_getdesc(&vrh, &riov, &wiov, &head) == 1 &&
			    head == 4 && vringh_iov_pull(&riov, buf, 16) == 16 &&
			    buf[15] == (u8)(7 + 15 * 7) && vringh_complete(&vrh, head, 0) == 0;
		check_eq(good, 1);
		check_eq(ret, want);
		check_eq(again, want);
		check_eq(cret, want);
		check_eq(vringh_error(&vrh), 0);
		check_true(recovered);
		report_checks("%s: %d (want %d), stays broken, works after re-init",
			      hostile_cases[h].name, ret, want);
	}
	vringh_iov_cleanup(&riov);
	vringh_iov_cleanup(&wiov);
	report_prefix_pop();
}

/*
 * Not errors: the states a ring legitimately shows at the avail position
 * (zeroed, a used descriptor of the lap before, a stale available one of
 * the lap before) read as empty.
 */
static void test_not_available(struct pdrv *d)
{
	struct iovec ws[4];
	struct vringh_iov wiov;
	static struct vringh vrh;
	u16 head;

	report_prefix_push("empty");
	vringh_iov_init(&wiov, ws, 4, false);
	pdrv_reset(d, 8);
	check_err(dev_init(d, &vrh, FEATURES), 0);
	check_eq(vringh_getdesc(&vrh, NULL, &wiov, &head), 0);
	/* Wrap 0: a used descriptor of lap 1 (both set), a stale avail of lap 1. */
	check_err(vringh_set_state(&vrh, 0, 0), 0);
	put_pdesc(d->desc, 0, data_iova(0), 8, 0, VRINGH_DESC_F_AVAIL | VRINGH_DESC_F_USED);
	check_eq(vringh_getdesc(&vrh, NULL, &wiov, &head), 0);
	put_pdesc(d->desc, 0, data_iova(0), 8, 0, VRINGH_DESC_F_AVAIL);
	check_eq(vringh_getdesc(&vrh, NULL, &wiov, &head), 0);
	check_eq(vringh_notify_enable(&vrh), 0);
	check_err(vringh_error(&vrh), 0);
	report_checks("zeroed, used and stale descriptors of the lap before: empty, not broken");
	report_prefix_pop();
}

int main(void)
{
	static struct pdrv d;

	report_prefix_push("vringh-packed");
	if (pdrv_setup(&d)) {
		report_skip("out of memory setting up the test driver");
		return report_summary();
	}
	log_level_set(LOG_ERR);
	test_basic(&d);
	test_laps(&d);
	test_abandon_state(&d);
	test_notify(&d);
	test_init(&d);
	test_host_flavour(&d);
	test_not_available(&d);
	test_hostile(&d);
	pdrv_teardown(&d);
	return report_summary();
}
