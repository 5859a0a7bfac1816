// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: random sequences of IOTLB operations. Each input is a
 * list of 20-byte records (op, perm, nsegs, flags, start, length/last) run
 * against one IOTLB; after every step the table's invariants are checked
 * (entries sorted and disjoint, count right, what was added is found, what
 * was deleted is gone, translations cover exactly the bytes asked for).
 */
#include <kestrel/iotlb.h>
#include <kestrel/log.h>

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)	do { if (!(c)) __builtin_trap(); } while (0)

static u64 get_u64(const uint8_t *p)
{
	u64 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Mostly small numbers near 0 or near U64_MAX, so ranges collide. */
static u64 shape(u64 v, uint8_t how)
{
	switch (how & 3) {
	case 0:
		return v & 0xfff;
	case 1:
		return UINT64_MAX - (v & 0xfff);
	case 2:
		return v & 0xffffff;
	default:
		return v;
	}
}

static void check_table(struct iotlb *tlb)
{
	struct iotlb_map m;
	unsigned int n = 0;
	u64 a = 0;
	bool first = true;
	u64 prev_last = 0;

	while (!iotlb_find_first(tlb, a, UINT64_MAX, &m)) {
		CHECK(m.start <= m.last);
		CHECK(first || m.start > prev_last);
		CHECK(m.perm >= 1 && m.perm <= 3);
		first = false;
		prev_last = m.last;
		n++;
		if (m.last == UINT64_MAX)
			break;
		a = m.last + 1;
	}
	CHECK(n == iotlb_count(tlb));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iotlb_seg segs[8];
	struct iotlb_cache cache;
	struct iotlb *tlb;
	struct iotlb_map m;
	unsigned int steps = 0;

	log_level_set(LOG_ERR);
	if (iotlb_create(size % 3 == 0 ? 16 : 0, &tlb))
		return 0;
	iotlb_cache_init(&cache);
	while (size >= 20 && steps++ < 512) {
		uint8_t op = data[0], perm = data[1] & 7, nsegs = data[2] % 9, fl = data[3];
		u64 start = shape(get_u64(data + 4), fl);
		u64 len = shape(get_u64(data + 12), fl >> 2);
		u64 last = len > UINT64_MAX - start ? UINT64_MAX : start + len;
		u64 gen = iotlb_generation(tlb);
		ssize_t r;

		data += 20;
		size -= 20;
		switch (op % 8) {
		case 0: case 1: case 2:
			r = iotlb_add_range(tlb, start, last, shape(get_u64(data - 8), fl >> 4), perm);
			if (r == 0) {
				CHECK(!iotlb_lookup(tlb, start, &m) && m.start == start && m.last == last);
				CHECK(iotlb_generation(tlb) != gen);
			} else {
				CHECK(iotlb_generation(tlb) == gen);
			}
			break;
		case 3: case 4:
			r = iotlb_del_range(tlb, start, last);
			if (r >= 0) {
				CHECK(iotlb_lookup(tlb, start, &m) == -ENOENT);
				CHECK(iotlb_lookup(tlb, last, &m) == -ENOENT);
				CHECK(!r == (iotlb_generation(tlb) == gen));
			}
			break;
		case 5: case 6: {
			u64 tlen = len & 0xffff;
			ssize_t k;
			u64 sum = 0;

			r = (fl & 0x40) ? iotlb_translate_cached(tlb, &cache, start, tlen, perm & 3,
								 segs, nsegs)
					: iotlb_translate(tlb, start, tlen, perm & 3, segs, nsegs);
			if (r >= 0) {
				CHECK(r <= nsegs);
				for (k = 0; k < r; k++) {
					CHECK(segs[k].len > 0);
					sum += segs[k].len;
				}
				CHECK(sum == tlen);
			} else {
				CHECK(r == -EFAULT || r == -EPERM || r == -ENOBUFS);
			}
			break;
		}
		default:
			if (fl & 1) {
				iotlb_batch_begin(tlb);
				iotlb_del_range(tlb, start, last);
				r = iotlb_add_range(tlb, start, last, 0, IOTLB_PERM_RW);
				iotlb_batch_commit(tlb);
				CHECK(r || !iotlb_lookup(tlb, last, &m));
			} else if (fl & 2) {
				iotlb_reset(tlb);
				CHECK(iotlb_count(tlb) == 0);
			} else {
				iotlb_cache_invalidate(&cache, start, last);
			}
			break;
		}
		check_table(tlb);
	}
	iotlb_destroy(tlb);
	return 0;
}
