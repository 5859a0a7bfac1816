// SPDX-License-Identifier: GPL-2.0-only
/*
 * vringh tests. An in-test driver lays out real split rings in a buffer
 * that the device reaches through an IOTLB at a different address (IOVA
 * != host address, as with a real guest), adds chains, and checks what
 * the device side sees: direct, indirect, multi-segment chains, pull/push,
 * completion (single, batched, wrapping), notification decisions with and
 * without event indices, IOTLB changes under a live ring, the host-memory
 * flavour, and every hostile-ring case with its own error code, followed
 * by a successful re-init.
 */
#include <kestrel/vringh.h>
#include <kestrel/log.h>

#include <stdint.h>

#include "../test.h"

#define MEM_SIZE	(1u << 20)
#define MEM_IOVA	0x40000000ULL
#define OFF_DESC	0x0
#define OFF_AVAIL	0x8000
#define OFF_USED	0xc000
#define OFF_INDIRECT	0x20000
#define OFF_DATA	0x40000

/* Extra IOTLB areas for permission and layout tests. */
#define RO_IOVA		0x80000000ULL
#define WO_IOVA		0x90000000ULL
#define SPLIT_IOVA	0xa0000000ULL	/* two pages, non-adjacent on the host */
#define HUGE_IOVA	0x100000000ULL	/* 8 GiB mapped, never dereferenced */

struct drv {
	u8 *mem;
	u8 *ro, *wo, *split_a, *split_b;
	struct iotlb *tlb;
	unsigned int num;
	struct vringh_desc *desc;
	struct vringh_avail *avail;
	struct vringh_used *used;
	u16 avail_idx;
	u16 used_seen;
	unsigned int next_desc;
	unsigned int next_table;
};

struct tseg {
	u64 iova;
	u32 len;
	bool write;
};

static u8 *mem_host(struct drv *d, u64 iova)
{
	return d->mem + (iova - MEM_IOVA);
}

static u64 data_iova(unsigned int off)
{
	return MEM_IOVA + OFF_DATA + off;
}

static void drv_reset_ring(struct drv *d, unsigned int num)
{
	d->num = num;
	memset(d->mem, 0, OFF_DATA);
	d->desc = (void *)(d->mem + OFF_DESC);
	d->avail = (void *)(d->mem + OFF_AVAIL);
	d->used = (void *)(d->mem + OFF_USED);
	d->avail_idx = 0;
	d->used_seen = 0;
	d->next_desc = 0;
	d->next_table = 0;
}

static int drv_setup(struct drv *d)
{
	memset(d, 0, sizeof(*d));
	d->mem = aligned_alloc(4096, MEM_SIZE);
	d->ro = aligned_alloc(4096, 4096);
	d->wo = aligned_alloc(4096, 4096);
	d->split_a = aligned_alloc(4096, 4096);
	d->split_b = aligned_alloc(4096, 4096);
	if (!d->mem || !d->ro || !d->wo || !d->split_a || !d->split_b)
		return -ENOMEM;
	if (iotlb_create(0, &d->tlb))
		return -ENOMEM;
	iotlb_add_range(d->tlb, MEM_IOVA, MEM_IOVA + MEM_SIZE - 1,
			(uintptr_t)d->mem, IOTLB_PERM_RW);
	iotlb_add_range(d->tlb, RO_IOVA, RO_IOVA + 4095, (uintptr_t)d->ro, IOTLB_PERM_RO);
	iotlb_add_range(d->tlb, WO_IOVA, WO_IOVA + 4095, (uintptr_t)d->wo, IOTLB_PERM_WO);
	iotlb_add_range(d->tlb, SPLIT_IOVA, SPLIT_IOVA + 4095,
			(uintptr_t)d->split_a, IOTLB_PERM_RW);
	iotlb_add_range(d->tlb, SPLIT_IOVA + 4096, SPLIT_IOVA + 8191,
			(uintptr_t)d->split_b, IOTLB_PERM_RW);
	iotlb_add_range(d->tlb, HUGE_IOVA, HUGE_IOVA + (8ULL << 30) - 1, 0x1000,
			IOTLB_PERM_RW);
	drv_reset_ring(d, 8);
	return 0;
}

static void drv_teardown(struct drv *d)
{
	iotlb_destroy(d->tlb);
	free(d->mem);
	free(d->ro);
	free(d->wo);
	free(d->split_a);
	free(d->split_b);
}

static int dev_init(struct drv *d, struct vringh *vrh, u64 features)
{
	return vringh_init_iotlb(vrh, features, d->num, true, d->tlb,
				 MEM_IOVA + OFF_DESC, MEM_IOVA + OFF_AVAIL,
				 MEM_IOVA + OFF_USED);
}

static void put_desc(struct vringh_desc *t, unsigned int i, u64 addr, u32 len,
		     u16 flags, u16 next)
{
	t[i].addr = cpu_to_le64(addr);
	t[i].len = cpu_to_le32(len);
	t[i].flags = cpu_to_le16(flags);
	t[i].next = cpu_to_le16(next);
}

/* Build a chain from @n segments; returns its head. */
static u16 drv_chain(struct drv *d, const struct tseg *s, unsigned int n, bool indirect)
{
	unsigned int k, head = d->next_desc % d->num;

	if (indirect) {
		u64 off = OFF_INDIRECT + (d->next_table++ % 16) * 0x1000;
		struct vringh_desc *t = (void *)(d->mem + off);

		for (k = 0; k < n; k++)
			put_desc(t, k, s[k].iova, s[k].len,
				 (s[k].write ? VRINGH_DESC_F_WRITE : 0) |
				 (k + 1 < n ? VRINGH_DESC_F_NEXT : 0), k + 1);
		put_desc(d->desc, head, MEM_IOVA + off, n * 16, VRINGH_DESC_F_INDIRECT, 0);
		d->next_desc++;
		return head;
	}
	for (k = 0; k < n; k++) {
		unsigned int i = d->next_desc++ % d->num;

		put_desc(d->desc, i, s[k].iova, s[k].len,
			 (s[k].write ? VRINGH_DESC_F_WRITE : 0) |
			 (k + 1 < n ? VRINGH_DESC_F_NEXT : 0), d->next_desc % d->num);
	}
	return head;
}

static void drv_publish(struct drv *d, u16 head)
{
	d->avail->ring[d->avail_idx % d->num] = cpu_to_le16(head);
	d->avail_idx++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	WRITE_ONCE(d->avail->idx, cpu_to_le16(d->avail_idx));
}

static bool drv_used(struct drv *d, u32 *id, u32 *len)
{
	struct vringh_used_elem *e;

	if (le16_to_cpu(READ_ONCE(d->used->idx)) == d->used_seen)
		return false;
	e = &d->used->ring[d->used_seen++ % d->num];
	*id = le32_to_cpu(e->id);
	*len = le32_to_cpu(e->len);
	return true;
}

/* Clauses: the next used entry is @head with @want_len bytes. */
static void check_used(struct drv *d, u32 head, u32 want_len)
{
	u32 id, len;

	if (check_true(drv_used(d, &id, &len))) {
		check_eq(id, head);
		check_eq(len, want_len);
	}
}

static void fill(u8 *p, size_t len, u8 seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (u8)(seed + i * 7);
}

static bool check(const u8 *p, size_t len, u8 seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (u8)(seed + i * 7))
			return false;
	return true;
}

#define ALL_FEATURES (VRINGH_F_VERSION_1 | VRINGH_F_INDIRECT_DESC)

/* ---- good rings ------------------------------------------------------------------ */

static void test_basic(struct drv *d)
{
	struct iovec rs[4], ws[4];
	struct vringh_iov riov, wiov;
	struct vringh vrh;
	u8 buf[256];
	u16 head;
	int ret;

	report_prefix_push("basic");
	drv_reset_ring(d, 8);
	vringh_iov_init(&riov, rs, 4, true);
	vringh_iov_init(&wiov, ws, 4, true);
	report_eq(dev_init(d, &vrh, ALL_FEATURES), 0, "init over the IOTLB");
	report_eq(vringh_getdesc(&vrh, &riov, &wiov, &head), 0, "empty ring gives 0");

	/* One readable 64-byte buffer. */
	fill(mem_host(d, data_iova(0)), 64, 1);
	drv_publish(d, drv_chain(d, &(struct tseg){ data_iova(0), 64, false }, 1, false));
	ret = vringh_getdesc(&vrh, &riov, &wiov, &head);
	check_eq(ret, 1);
	check_eq(head, 0);
	check_eq(riov.used, 1);
	check_eq(wiov.used, 0);
	check_eq(riov.iov[0].iov_base, mem_host(d, data_iova(0)));
	report_checks("direct single: one host segment at the right address");
	check_eq(vringh_iov_pull(&riov, buf, sizeof(buf)), 64);
	check_true(check(buf, 64, 1));
	report_checks("pull returns the bytes");
	check_eq(vringh_complete(&vrh, head, 0), 0);
	check_used(d, head, 0);
	report_checks("complete publishes a used entry");

	/* Two readable, two writable segments. */
	{
		struct tseg s[] = {
			{ data_iova(0x100), 10, false }, { data_iova(0x200), 20, false },
			{ data_iova(0x300), 5, true }, { data_iova(0x400), 100, true },
		};

		fill(mem_host(d, data_iova(0x100)), 10, 2);
		fill(mem_host(d, data_iova(0x200)), 20, 12);
		drv_publish(d, drv_chain(d, s, 4, false));
		ret = vringh_getdesc(&vrh, &riov, &wiov, &head);
		check_eq(ret, 1);
		check_eq(riov.used, 2);
		check_eq(wiov.used, 2);
		check_eq(vringh_iov_length(&riov), 30);
		check_eq(vringh_iov_length(&wiov), 105);
		report_checks("direct 2+2: split readable then writable");
		check_eq(vringh_iov_pull(&riov, buf, 3), 3);
		check_true(check(buf, 3, 2));
		check_eq(vringh_iov_pull(&riov, buf, 100), 27);
		check_true(check(buf, 7, 23));
		check_true(check(buf + 7, 20, 12));
		check_eq(vringh_iov_pull(&riov, buf, 1), 0);
		report_checks("pull in pieces across segments, then nothing left");
		fill(buf, 105, 9);
		check_eq(vringh_iov_push(&wiov, buf, 2), 2);
		check_eq(vringh_iov_push(&wiov, buf + 2, 200), 103);
		check_true(check(mem_host(d, data_iova(0x300)), 5, 9));
		check_true(check(mem_host(d, data_iova(0x400)), 100, 9 + 5 * 7));
		report_checks("push across segments");
		check_eq(vringh_complete(&vrh, head, 105), 0);
		check_used(d, head, 105);
		report_checks("complete with length");
	}

	/* Indirect: 1 readable + 2 writable. */
	{
		struct tseg s[] = {
			{ data_iova(0x500), 16, false }, { data_iova(0x600), 8, true },
			{ data_iova(0x700), 8, true },
		};

		drv_publish(d, drv_chain(d, s, 3, true));
		ret = vringh_getdesc(&vrh, &riov, &wiov, &head);
		check_eq(ret, 1);
		check_eq(riov.used, 1);
		check_eq(wiov.used, 2);
		check_eq(wiov.iov[1].iov_base, mem_host(d, data_iova(0x700)));
		report_checks("indirect chain gathered");
		vringh_iov_advance(&wiov, 12);
		check_eq(vringh_iov_length(&wiov), 4);
		check_eq(vringh_iov_push(&wiov, "abcd", 4), 4);
		check_mem(mem_host(d, data_iova(0x704)), "abcd", 4);
		report_checks("advance then push (a trailing status byte, blk style)");
		vringh_complete(&vrh, head, 16);
	}

	/* A descriptor crossing two IOTLB entries that are apart on the host. */
	fill(d->split_a + 4096 - 8, 8, 3);
	fill(d->split_b, 8, 3 + 8 * 7);
	drv_publish(d, drv_chain(d, &(struct tseg){ SPLIT_IOVA + 4096 - 8, 16, false },
				 1, false));
	ret = vringh_getdesc(&vrh, &riov, &wiov, &head);
	check_eq(ret, 1);
	check_eq(riov.used, 2);
	check_eq(riov.iov[0].iov_len, 8);
	check_eq(riov.iov[1].iov_base, d->split_b);
	check_eq(vringh_iov_pull(&riov, buf, 16), 16);
	check_true(check(buf, 16, 3));
	report_checks("a buffer spanning two mappings gives two segments");
	vringh_complete(&vrh, head, 0);

	/* An indirect table that is itself split across the two mappings. */
	{
		struct vringh_desc t[2];

		put_desc(t, 0, data_iova(0x800), 4, VRINGH_DESC_F_NEXT, 1);
		put_desc(t, 1, data_iova(0x900), 4, VRINGH_DESC_F_WRITE, 0);
		memcpy(d->split_a + 4096 - 24, t, 24);	/* desc 1 straddles */
		memcpy(d->split_b, (u8 *)t + 24, 8);
		put_desc(d->desc, 5, SPLIT_IOVA + 4096 - 24, 32, VRINGH_DESC_F_INDIRECT, 0);
		drv_publish(d, 5);
		ret = vringh_getdesc(&vrh, &riov, &wiov, &head);
		check_eq(ret, 1);
		check_eq(head, 5);
		check_eq(riov.used, 1);
		check_eq(wiov.used, 1);
		check_eq(wiov.iov[0].iov_base, mem_host(d, data_iova(0x900)));
		report_checks("indirect table not host-contiguous is read piecewise");
		vringh_complete(&vrh, head, 0);
	}

	/* An indirect table at an odd address (the spec asks no alignment). */
	{
		u8 *odd = d->mem + OFF_INDIRECT + 0x8002;
		struct vringh_desc t[2];

		put_desc(t, 0, data_iova(0xa00), 4, VRINGH_DESC_F_NEXT, 1);
		put_desc(t, 1, data_iova(0xb00), 4, VRINGH_DESC_F_WRITE, 0);
		memcpy(odd, t, sizeof(t));
		put_desc(d->desc, 6, MEM_IOVA + OFF_INDIRECT + 0x8002, 32,
			 VRINGH_DESC_F_INDIRECT, 0);
		drv_publish(d, 6);
		ret = vringh_getdesc(&vrh, &riov, &wiov, &head);
		check_eq(ret, 1);
		check_eq(head, 6);
		check_eq(riov.used, 1);
		check_eq(wiov.used, 1);
		check_eq(wiov.iov[0].iov_base, mem_host(d, data_iova(0xb00)));
		report_checks("misaligned indirect table is read safely");
		vringh_complete(&vrh, head, 0);
	}

	/* Abandon gives the same chain back. */
	drv_publish(d, drv_chain(d, &(struct tseg){ data_iova(0), 64, false }, 1, false));
	ret = vringh_getdesc(&vrh, &riov, &wiov, &head);
	vringh_abandon(&vrh, 1);
	{
		u16 head2 = 0xffff;

		check_eq(ret, 1);
		check_eq(vringh_getdesc(&vrh, &riov, &wiov, &head2), 1);
		check_eq(head2, head);
		report_checks("abandon, then the same head again");
		vringh_complete(&vrh, head2, 0);
	}
	report_eq(vringh_getdesc(&vrh, &riov, &wiov, &head), 0, "drained");
	check_err(vringh_complete(&vrh, 8, 0), -EINVAL);
	check_eq(vringh_error(&vrh), 0);
	report_checks("completing a head >= num is -EINVAL, ring not broken");

	/* A chain longer than the caller's storage: grows, and only then. */
	{
		struct tseg s[8];
		struct iovec two[2];
		struct vringh_iov fixed;
		unsigned int k;
		bool was_alloc;

		for (k = 0; k < 8; k++)
			s[k] = (struct tseg){ data_iova(k * 16), 16, false };
		drv_publish(d, drv_chain(d, s, 8, false));
		ret = vringh_getdesc(&vrh, &riov, &wiov, &head);
		was_alloc = riov.allocated;
		check_eq(ret, 1);
		check_eq(riov.used, 8);
		check_true(was_alloc);
		report_checks("8 segments into 4 slots of a growable iov (heap)");
		vringh_complete(&vrh, head, 0);
		vringh_iov_cleanup(&riov);
		check_eq(riov.allocated, 0);
		check_eq(riov.iov, NULL);
		report_checks("cleanup frees the heap copy");

		vringh_iov_init(&fixed, two, 2, false);
		drv_publish(d, drv_chain(d, s, 3, false));
		check_err(vringh_getdesc(&vrh, &fixed, NULL, &head), -ENOBUFS);
		check_err(vringh_error(&vrh), -ENOBUFS);
		report_checks("a fixed iov too small is -ENOBUFS (ring broken)");
	}
	vringh_iov_cleanup(&riov);
	vringh_iov_cleanup(&wiov);
	report_prefix_pop();
}

static void test_wrap_and_batch(struct drv *d)
{
	struct iovec rs[4];
	struct vringh_iov riov;
	struct vringh_used_elem elems[4];
	struct vringh vrh;
	unsigned int round, k, bad = 0;
	u16 head;
	u32 id, len;

	report_prefix_push("wrap");
	drv_reset_ring(d, 4);
	vringh_iov_init(&riov, rs, 4, false);
	dev_init(d, &vrh, ALL_FEATURES);
	/* Start near the 16-bit wrap of the indices. */
	d->avail_idx = d->used_seen = 65530;
	d->avail->idx = cpu_to_le16(65530);
	d->used->idx = cpu_to_le16(65530);
	vringh_set_state(&vrh, 65530, 65530);
	for (round = 0; round < 10; round++) {
		unsigned int n = 1 + round % 4;

		for (k = 0; k < n; k++) {
			fill(mem_host(d, data_iova(k * 64)), 64, (u8)(round + k));
			drv_publish(d, drv_chain(d, &(struct tseg){ data_iova(k * 64), 64, false },
						 1, round & 1));
		}
		for (k = 0; k < n; k++) {
			u8 buf[64];

			if (vringh_getdesc(&vrh, &riov, NULL, &head) != 1 ||
			    vringh_iov_pull(&riov, buf, 64) != 64 || !check(buf, 64, (u8)(round + k)))
				bad++;
			elems[k].id = head;
			elems[k].len = 64 + k;
		}
		if (vringh_getdesc(&vrh, &riov, NULL, &head) != 0)
			bad++;
		if (vringh_complete_multi(&vrh, elems, n))
			bad++;
		for (k = 0; k < n; k++)
			if (!drv_used(d, &id, &len) || id != elems[k].id || len != 64 + k)
				bad++;
	}
	report_eq(bad, 0, "10 rounds of 1..4 chains through a ring of 4, across index wrap");
	{
		u16 la, lu;

		vringh_get_state(&vrh, &la, &lu);
		check_eq(la, (u16)(65530 + 23));
		check_eq(lu, la);
		report_checks("state after the rounds");
	}
	report_err(vringh_complete_multi(&vrh, elems, 5), -EINVAL,
		   "batch larger than ring refused");
	elems[0].id = 4;
	report_err(vringh_complete_multi(&vrh, elems, 1), -EINVAL, "batch with bad id refused");
	report_eq(vringh_complete_multi(&vrh, elems, 0), 0, "empty batch is a no-op");
	report_prefix_pop();
}

static void test_notify(struct drv *d)
{
	struct iovec rs[2];
	struct vringh_iov riov;
	struct vringh_used_elem elems[4] = { { 0, 0 } };
	struct vringh vrh;
	le16 *used_event, *avail_event;
	u16 head;

	report_prefix_push("notify");
	vringh_iov_init(&riov, rs, 2, false);

	/* Without event indices: flags. */
	drv_reset_ring(d, 8);
	dev_init(d, &vrh, ALL_FEATURES);
	report_eq(vringh_need_notify(&vrh), 0, "nothing completed: no");
	vringh_complete(&vrh, 0, 0);
	report_eq(vringh_need_notify(&vrh), 1, "flags clear: yes");
	d->avail->flags = cpu_to_le16(VRINGH_AVAIL_F_NO_INTERRUPT);
	vringh_complete(&vrh, 0, 0);
	report_eq(vringh_need_notify(&vrh), 0, "NO_INTERRUPT: no");
	vringh_notify_disable(&vrh);
	report_eq(le16_to_cpu(d->used->flags), VRINGH_USED_F_NO_NOTIFY, "disable sets NO_NOTIFY");
	check_eq(vringh_notify_enable(&vrh), 0);
	check_eq(d->used->flags, 0);
	report_checks("enable clears it, ring empty");
	drv_publish(d, drv_chain(d, &(struct tseg){ data_iova(0), 8, false }, 1, false));
	vringh_notify_disable(&vrh);
	report_eq(vringh_notify_enable(&vrh), 1, "enable reports a buffer that slipped in");
	vringh_getdesc(&vrh, &riov, NULL, &head);
	report_eq(vringh_notify_enable(&vrh), 0, "and 0 once it was taken");

	/* With event indices: the window test. */
	drv_reset_ring(d, 8);
	dev_init(d, &vrh, ALL_FEATURES | VRINGH_F_EVENT_IDX);
	used_event = &d->avail->ring[8];
	avail_event = (le16 *)&d->used->ring[8];
	*used_event = cpu_to_le16(0);
	vringh_complete(&vrh, 0, 0);
	report_eq(vringh_need_notify(&vrh), 1, "used_event 0, used 0->1: yes");
	*used_event = cpu_to_le16(5);
	vringh_complete(&vrh, 0, 0);
	report_eq(vringh_need_notify(&vrh), 0, "used_event 5, used 1->2: no");
	vringh_complete_multi(&vrh, elems, 3);
	report_eq(vringh_need_notify(&vrh), 0, "used_event 5, used 2->5: no");
	vringh_complete(&vrh, 0, 0);
	report_eq(vringh_need_notify(&vrh), 1, "used_event 5, used 5->6: yes");
	*used_event = cpu_to_le16(7);
	vringh_complete_multi(&vrh, elems, 4);
	report_eq(vringh_need_notify(&vrh), 1, "used_event 7 inside a batch 6->10: yes");
	d->avail->flags = cpu_to_le16(VRINGH_AVAIL_F_NO_INTERRUPT);
	*used_event = cpu_to_le16(10);
	vringh_complete(&vrh, 0, 0);
	report_eq(vringh_need_notify(&vrh), 1, "flags are ignored with event indices");
	vringh_notify_disable(&vrh);
	report_eq(d->used->flags, 0, "disable is a no-op with event indices");
	drv_publish(d, drv_chain(d, &(struct tseg){ data_iova(0), 8, false }, 1, false));
	vringh_getdesc(&vrh, &riov, NULL, &head);
	check_eq(vringh_notify_enable(&vrh), 0);
	check_eq(le16_to_cpu(*avail_event), 1);
	report_checks("enable writes avail_event = last_avail");
	{
		unsigned int k;

		for (k = 0; k < 70000; k++)
			vringh_complete(&vrh, 0, 0);
		*used_event = cpu_to_le16(le16_to_cpu(d->used->idx) + 100);
		report_eq(vringh_need_notify(&vrh), 1, "more than 65535 completions: yes");
	}
	report_prefix_pop();
}

static void test_iotlb_changes(struct drv *d)
{
	struct iovec rs[2];
	struct vringh_iov riov;
	struct vringh vrh;
	u8 *copy, buf[8];
	u16 head;

	report_prefix_push("iotlb-change");
	vringh_iov_init(&riov, rs, 2, false);
	drv_reset_ring(d, 8);
	dev_init(d, &vrh, ALL_FEATURES);
	fill(mem_host(d, data_iova(0)), 8, 4);
	drv_publish(d, drv_chain(d, &(struct tseg){ data_iova(0), 8, false }, 1, false));

	/* Move the guest memory: same IOVAs, new host copy, one batch. */
	copy = aligned_alloc(4096, MEM_SIZE);
	memcpy(copy, d->mem, MEM_SIZE);
	fill(copy + OFF_DATA, 8, 40);
	iotlb_batch_begin(d->tlb);
	iotlb_del_range(d->tlb, MEM_IOVA, MEM_IOVA + MEM_SIZE - 1);
	iotlb_add_range(d->tlb, MEM_IOVA, MEM_IOVA + MEM_SIZE - 1, (uintptr_t)copy,
			IOTLB_PERM_RW);
	iotlb_batch_commit(d->tlb);
	check_eq(vringh_getdesc(&vrh, &riov, NULL, &head), 1);
	check_eq(riov.iov[0].iov_base, copy + OFF_DATA);
	check_eq(vringh_iov_pull(&riov, buf, 8), 8);
	check_true(check(buf, 8, 40));
	report_checks("ring and buffers re-translated after a remap");
	check_eq(vringh_complete(&vrh, head, 0), 0);
	check_eq(le16_to_cpu(((struct vringh_used *)(copy + OFF_USED))->idx), 1);
	report_checks("used ring written at its new host address");

	/* Take the used ring's write permission away. */
	iotlb_batch_begin(d->tlb);
	iotlb_del_range(d->tlb, MEM_IOVA + OFF_USED, MEM_IOVA + OFF_USED + 0xfff);
	iotlb_add_range(d->tlb, MEM_IOVA + OFF_USED, MEM_IOVA + OFF_USED + 0xfff,
			(uintptr_t)copy + OFF_USED, IOTLB_PERM_RO);
	iotlb_batch_commit(d->tlb);
	check_err(vringh_complete(&vrh, 0, 0), -EPERM);
	check_err(vringh_error(&vrh), -EPERM);
	report_checks("used ring made read-only: -EPERM, ring broken");
	iotlb_del_range(d->tlb, MEM_IOVA, MEM_IOVA + MEM_SIZE - 1);
	iotlb_add_range(d->tlb, MEM_IOVA, MEM_IOVA + MEM_SIZE - 1, (uintptr_t)d->mem,
			IOTLB_PERM_RW);
	free(copy);
	report_prefix_pop();
}

static void test_init(struct drv *d)
{
	struct vringh vrh;
	u8 *big;

	report_prefix_push("init");
	/* Packed rings are tested in packed_test.c; here only: accepted. */
	report_err(dev_init(d, &vrh, ALL_FEATURES | VRINGH_F_RING_PACKED), 0,
		   "packed ring: accepted");
	d->num = 0;
	report_err(dev_init(d, &vrh, 0), -EINVAL, "size 0: -EINVAL");
	d->num = 6;
	report_err(dev_init(d, &vrh, 0), -EINVAL, "size 6: -EINVAL");
	d->num = 65536;
	report_err(dev_init(d, &vrh, 0), -EINVAL, "size 65536: -EINVAL");
	d->num = 8;
	check_err(vringh_init_iotlb(&vrh, 0, 8, true, d->tlb, MEM_IOVA + 8, MEM_IOVA + OFF_AVAIL,
				    MEM_IOVA + OFF_USED), -EINVAL);
	check_err(vringh_init_iotlb(&vrh, 0, 8, true, d->tlb, MEM_IOVA, MEM_IOVA + OFF_AVAIL + 1,
				    MEM_IOVA + OFF_USED), -EINVAL);
	check_err(vringh_init_iotlb(&vrh, 0, 8, true, d->tlb, MEM_IOVA, MEM_IOVA + OFF_AVAIL,
				    MEM_IOVA + OFF_USED + 2), -EINVAL);
	report_checks("misaligned areas: -EINVAL");
	report_err(vringh_init_iotlb(&vrh, 0, 8, true, d->tlb, 0x10, MEM_IOVA + OFF_AVAIL,
				     MEM_IOVA + OFF_USED), -EFAULT, "unmapped table: -EFAULT");
	report_err(vringh_init_iotlb(&vrh, 0, 8, true, d->tlb, WO_IOVA, MEM_IOVA + OFF_AVAIL,
				     MEM_IOVA + OFF_USED), -EPERM, "write-only table: -EPERM");
	report_err(vringh_init_iotlb(&vrh, 0, 8, true, d->tlb, MEM_IOVA, MEM_IOVA + OFF_AVAIL,
				     RO_IOVA), -EPERM, "read-only used ring: -EPERM");
	report_err(vringh_init_iotlb(&vrh, 0, 8, true, d->tlb, MEM_IOVA + MEM_SIZE - 64,
				     MEM_IOVA + OFF_AVAIL, MEM_IOVA + OFF_USED), -EFAULT,
		   "table running off the end of its mapping: -EFAULT");

	big = aligned_alloc(4096, 1 << 20);
	report_eq(vringh_init_host(&vrh, 0, VRINGH_NUM_MAX, true, big, 1 << 20, (void *)big,
				   (void *)(big + 0x80000), (void *)(big + 0x90000)), 0,
		  "largest ring (32768), host memory");
	report_err(vringh_init_host(&vrh, 0, 8, true, big, 4096, (void *)big,
				    (void *)(big + 0x800), (void *)(big + 0x1000)), -EFAULT,
		   "host flavour: used ring outside the window: -EFAULT");
	report_err(vringh_init_host(&vrh, 0, 8, true, big, 0, (void *)big, (void *)(big + 0x800),
				    (void *)(big + 0x1000)), -EINVAL,
		   "host flavour: empty window: -EINVAL");
	free(big);
	report_prefix_pop();
}

static void test_host_flavour(void)
{
	u8 *mem = aligned_alloc(4096, 0x10000), buf[32];
	struct vringh_desc *desc = (void *)mem;
	struct vringh_avail *avail = (void *)(mem + 0x1000);
	struct vringh_used *used = (void *)(mem + 0x2000);
	struct iovec rs[2], ws[2];
	struct vringh_iov riov, wiov;
	struct vringh vrh;
	u16 head;

	report_prefix_push("host");
	memset(mem, 0, 0x10000);
	vringh_iov_init(&riov, rs, 2, false);
	vringh_iov_init(&wiov, ws, 2, false);
	report_eq(vringh_init_host(&vrh, ALL_FEATURES, 4, false, mem, 0x10000, desc, avail, used),
		  0, "init");
	fill(mem + 0x4000, 32, 6);
	put_desc(desc, 0, (uintptr_t)(mem + 0x4000), 32, VRINGH_DESC_F_NEXT, 1);
	put_desc(desc, 1, (uintptr_t)(mem + 0x5000), 32, VRINGH_DESC_F_WRITE, 0);
	avail->ring[0] = 0;
	avail->idx = 1;
	check_eq(vringh_getdesc(&vrh, &riov, &wiov, &head), 1);
	check_eq(vringh_iov_pull(&riov, buf, 32), 32);
	check_true(check(buf, 32, 6));
	check_eq(vringh_iov_push(&wiov, buf, 32), 32);
	check_true(check(mem + 0x5000, 32, 6));
	report_checks("pull and push through host pointers");
	check_eq(vringh_complete(&vrh, head, 32), 0);
	check_eq(used->idx, 1);
	check_eq(used->ring[0].len, 32);
	report_checks("complete");
	put_desc(desc, 2, (uintptr_t)(mem + 0x10000 - 4), 8, 0, 0);
	avail->ring[1] = 2;
	avail->idx = 2;
	report_err(vringh_getdesc(&vrh, &riov, &wiov, &head), -EFAULT,
		   "buffer running out of the window: -EFAULT");
	free(mem);
	report_prefix_pop();
}

/* ---- hostile rings ------------------------------------------------------------------- */

enum hostile {
	H_LOOP, H_LOOP_ZERO_LEN, H_LOOP_INDIRECT, H_TOO_LONG, H_NEXT_RANGE,
	H_NEXT_RANGE_INDIRECT, H_HEAD_RANGE, H_NESTED_INDIRECT, H_INDIRECT_NEXT,
	H_INDIRECT_NO_FEATURE, H_INDIRECT_LEN0, H_INDIRECT_LEN_ODD, H_INDIRECT_TOO_BIG,
	H_WRITE_THEN_READ, H_LEN_OVERFLOW, H_AVAIL_JUMP, H_UNMAPPED, H_WRAP_ADDR,
	H_READ_WO, H_WRITE_RO, H_INDIRECT_UNMAPPED, H_NO_RIOV, H_COUNT,
};

static const struct {
	const char *name;
	int err;
} hostile_cases[H_COUNT] = {
	[H_LOOP] = { "descriptor loop", -ELOOP },
	[H_LOOP_ZERO_LEN] = { "loop of zero-length descriptors", -ELOOP },
	[H_LOOP_INDIRECT] = { "loop inside an indirect table", -ELOOP },
	[H_TOO_LONG] = { "chain longer than the ring (no loop)", -E2BIG },
	[H_NEXT_RANGE] = { "next index >= ring size", -ENXIO },
	[H_NEXT_RANGE_INDIRECT] = { "next index >= indirect table size", -ENXIO },
	[H_HEAD_RANGE] = { "head index >= ring size", -ERANGE },
	[H_NESTED_INDIRECT] = { "indirect inside indirect", -EMLINK },
	[H_INDIRECT_NEXT] = { "indirect with NEXT", -EMLINK },
	[H_INDIRECT_NO_FEATURE] = { "indirect not negotiated", -EMLINK },
	[H_INDIRECT_LEN0] = { "indirect table length 0", -EMSGSIZE },
	[H_INDIRECT_LEN_ODD] = { "indirect table length 24", -EMSGSIZE },
	[H_INDIRECT_TOO_BIG] = { "indirect table longer than ring", -EMSGSIZE },
	[H_WRITE_THEN_READ] = { "readable after writable", -EPROTO },
	[H_LEN_OVERFLOW] = { "lengths sum past U32_MAX", -EOVERFLOW },
	[H_AVAIL_JUMP] = { "avail idx jumps by more than num", -EILSEQ },
	[H_UNMAPPED] = { "buffer outside the IOTLB", -EFAULT },
	[H_WRAP_ADDR] = { "buffer address + length wraps", -EFAULT },
	[H_READ_WO] = { "readable buffer in write-only memory", -EPERM },
	[H_WRITE_RO] = { "writable buffer in read-only memory", -EPERM },
	[H_INDIRECT_UNMAPPED] = { "indirect table unmapped", -EFAULT },
	[H_NO_RIOV] = { "readable buffer, device takes none", -EACCES },
};

static void hostile_inject(struct drv *d, enum hostile h)
{
	struct vringh_desc *t = (void *)(d->mem + OFF_INDIRECT);
	struct vringh_desc *q = d->desc;
	u64 ind = MEM_IOVA + OFF_INDIRECT, buf = data_iova(0);
	unsigned int k, num = d->num;
	u16 head = 0;

	switch (h) {
	case H_LOOP:
		put_desc(q, 0, buf, 8, VRINGH_DESC_F_NEXT, 1);
		put_desc(q, 1, buf, 8, VRINGH_DESC_F_NEXT, 2);
		put_desc(q, 2, buf, 8, VRINGH_DESC_F_NEXT, 0);
		break;
	case H_LOOP_ZERO_LEN:
		put_desc(q, 0, buf, 0, VRINGH_DESC_F_NEXT, 0);
		break;
	case H_LOOP_INDIRECT:
		put_desc(t, 0, buf, 8, VRINGH_DESC_F_NEXT, 1);
		put_desc(t, 1, buf, 8, VRINGH_DESC_F_NEXT, 0);
		put_desc(q, 0, ind, 32, VRINGH_DESC_F_INDIRECT, 0);
		break;
	case H_TOO_LONG:
		put_desc(q, 0, buf, 8, VRINGH_DESC_F_NEXT, 1);
		for (k = 0; k < num; k++)
			put_desc(t, k, buf, 8, k + 1 < num ? VRINGH_DESC_F_NEXT : 0, k + 1);
		put_desc(q, 1, ind, num * 16, VRINGH_DESC_F_INDIRECT, 0);
		break;
	case H_NEXT_RANGE:
		put_desc(q, 0, buf, 8, VRINGH_DESC_F_NEXT, num);
		break;
	case H_NEXT_RANGE_INDIRECT:
		put_desc(t, 0, buf, 8, VRINGH_DESC_F_NEXT, 2);
		put_desc(q, 0, ind, 32, VRINGH_DESC_F_INDIRECT, 0);
		break;
	case H_HEAD_RANGE:
		head = num;
		break;
	case H_NESTED_INDIRECT:
		put_desc(t, 0, ind, 16, VRINGH_DESC_F_INDIRECT, 0);
		put_desc(q, 0, ind, 16, VRINGH_DESC_F_INDIRECT, 0);
		break;
	case H_INDIRECT_NEXT:
		put_desc(t, 0, buf, 8, 0, 0);
		put_desc(q, 0, ind, 16, VRINGH_DESC_F_INDIRECT | VRINGH_DESC_F_NEXT, 1);
		put_desc(q, 1, buf, 8, 0, 0);
		break;
	case H_INDIRECT_NO_FEATURE:
		put_desc(t, 0, buf, 8, 0, 0);
		put_desc(q, 0, ind, 16, VRINGH_DESC_F_INDIRECT, 0);
		break;
	case H_INDIRECT_LEN0:
		put_desc(q, 0, ind, 0, VRINGH_DESC_F_INDIRECT, 0);
		break;
	case H_INDIRECT_LEN_ODD:
		put_desc(q, 0, ind, 24, VRINGH_DESC_F_INDIRECT, 0);
		break;
	case H_INDIRECT_TOO_BIG:
		put_desc(q, 0, ind, (num + 1) * 16, VRINGH_DESC_F_INDIRECT, 0);
		break;
	case H_WRITE_THEN_READ:
		put_desc(q, 0, buf, 8, VRINGH_DESC_F_WRITE | VRINGH_DESC_F_NEXT, 1);
		put_desc(q, 1, buf, 8, 0, 0);
		break;
	case H_LEN_OVERFLOW:
		put_desc(q, 0, HUGE_IOVA, 0xffffffff, VRINGH_DESC_F_NEXT, 1);
		put_desc(q, 1, HUGE_IOVA, 2, 0, 0);
		break;
	case H_AVAIL_JUMP:
		put_desc(q, 0, buf, 8, 0, 0);
		d->avail->ring[0] = 0;
		d->avail_idx = num + 1;
		WRITE_ONCE(d->avail->idx, cpu_to_le16(d->avail_idx));
		return;
	case H_UNMAPPED:
		put_desc(q, 0, 0x1000, 8, 0, 0);
		break;
	case H_WRAP_ADDR:
		put_desc(q, 0, UINT64_MAX - 3, 8, 0, 0);
		break;
	case H_READ_WO:
		put_desc(q, 0, WO_IOVA, 8, 0, 0);
		break;
	case H_WRITE_RO:
		put_desc(q, 0, RO_IOVA, 8, VRINGH_DESC_F_WRITE, 0);
		break;
	case H_INDIRECT_UNMAPPED:
		put_desc(q, 0, 0x2000, 32, VRINGH_DESC_F_INDIRECT, 0);
		break;
	case H_NO_RIOV:
		put_desc(q, 0, buf, 8, 0, 0);
		break;
	case H_COUNT:
		break;
	}
	drv_publish(d, head);
}

static void test_hostile(struct drv *d)
{
	struct iovec rs[4], ws[4];
	struct vringh_iov riov, wiov;
	struct vringh vrh;
	unsigned int h;
	u16 head;

	report_prefix_push("hostile");
	vringh_iov_init(&riov, rs, 4, true);
	vringh_iov_init(&wiov, ws, 4, true);
	for (h = 0; h < H_COUNT; h++) {
		int want = hostile_cases[h].err, ret, again, cret;
		u64 features = h == H_INDIRECT_NO_FEATURE ? VRINGH_F_VERSION_1 : ALL_FEATURES;
		bool recovered;

		drv_reset_ring(d, 8);
		dev_init(d, &vrh, features);
		hostile_inject(d, h);
		ret = vringh_getdesc(&vrh, h == H_NO_RIOV ? NULL : &riov, &wiov, &head);
		again = vringh_getdesc(&vrh, &riov, &wiov, &head);
		cret = vringh_complete(&vrh, 0, 0);

		/* Re-init over a clean ring: the device works again. */
		drv_reset_ring(d, 8);
		recovered = dev_init(d, &vrh, ALL_FEATURES) == 0;
		fill(mem_host(d, data_iova(0)), 16, 7);
		drv_publish(d, drv_chain(d, &(struct tseg){ data_iova(0), 16, false }, 1, false));
		{
			u8 buf[16];

			recovered = recovered && vringh_getdesc(&vrh, &riov, &wiov, &head) == 1 &&
				    vringh_iov_pull(&riov, buf, 16) == 16 && check(buf, 16, 7) &&
				    vringh_complete(&vrh, head, 0) == 0;
		}
		check_eq(ret, want);
		check_eq(again, want);
		check_eq(cret, want);
		check_true(recovered);
		report_checks("%s: %d (want %d), stays broken, works after re-init",
			      hostile_cases[h].name, ret, want);
	}
	vringh_iov_cleanup(&riov);
	vringh_iov_cleanup(&wiov);
	report_prefix_pop();
}

/*
 * A chain walked again by its head (a restarted device's resubmission):
 * the same buffers, nothing consumed; a hostile head is a ring error. The
 * used index read from the ring is what the driver sees.
 */
static void test_getdesc_at(struct drv *d)
{
	struct iovec rs[4], ws[4];
	struct vringh_iov riov, wiov;
	struct vringh vrh;
	u16 head, h2, used_idx = 0xffff;
	u16 avail;

	report_prefix_push("getdesc_at");
	drv_reset_ring(d, 8);
	vringh_iov_init(&riov, rs, 4, true);
	vringh_iov_init(&wiov, ws, 4, true);
	report_eq(dev_init(d, &vrh, ALL_FEATURES), 0, "init");
	drv_publish(d, drv_chain(d, (struct tseg[]){ { data_iova(0), 16, false },
						     { data_iova(64), 513, true } }, 2, false));
	check_eq(vringh_getdesc(&vrh, &riov, &wiov, &head), 1);
	check_eq(vringh_getdesc_at(&vrh, head, &riov, &wiov), 1);
	check_eq(riov.used, 1);
	check_eq(wiov.used, 1);
	check_eq(vringh_iov_length(&riov), 16);
	check_eq(vringh_iov_length(&wiov), 513);
	check_eq(wiov.iov[0].iov_base, mem_host(d, data_iova(64)));
	vringh_get_state(&vrh, &avail, NULL);
	check_eq(avail, 1);
	report_checks("the chain at head %u again: same buffers, avail position still %u",
		      head, avail);
	check_eq(vringh_complete(&vrh, head, 513), 0);
	check_eq(vringh_read_used_idx(&vrh, &used_idx), 0);
	check_eq(used_idx, 1);
	WRITE_ONCE(d->used->idx, cpu_to_le16(7));
	check_eq(vringh_read_used_idx(&vrh, &used_idx), 0);
	check_eq(used_idx, 7);
	report_checks("the used index as the ring holds it (1, then 7 written there)");
	h2 = 8;
	report_eq(vringh_getdesc_at(&vrh, h2, &riov, &wiov), -ERANGE,
		  "head %u of a ring of 8: -ERANGE", h2);
	report_ne(vringh_error(&vrh), 0, "and the ring is broken");
	report_eq(vringh_read_used_idx(&vrh, &used_idx), vringh_error(&vrh),
		  "a broken ring's used index is not read");
	vringh_iov_cleanup(&riov);
	vringh_iov_cleanup(&wiov);
	report_prefix_pop();
}

int main(void)
{
	struct drv d;

	report_prefix_push("vringh");
	if (drv_setup(&d)) {
		report_skip("out of memory setting up the test driver");
		return report_summary();
	}
	/* The hostile cases log (rate-limited); keep the output readable. */
	log_level_set(LOG_ERR);
	test_basic(&d);
	test_wrap_and_batch(&d);
	test_notify(&d);
	test_iotlb_changes(&d);
	test_init(&d);
	test_host_flavour();
	test_getdesc_at(&d);
	test_hostile(&d);
	drv_teardown(&d);
	return report_summary();
}
