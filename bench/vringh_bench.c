// SPDX-License-Identifier: GPL-2.0-only
/*
 * vringh per-packet cost: get a chain, pull 64 bytes, complete it.
 *
 *   vringh_bench                         wall-clock ns per packet, every case
 *   vringh_bench SEGS direct|indirect N [BURST]
 *                                        run one case for N packets (for
 *                                        callgrind: bench/vringh-callgrind.sh
 *                                        counts only bench_device_burst())
 *
 * What is measured: the driver makes BURST chains available (not counted),
 * then bench_device_burst() takes each with vringh_getdesc(), pulls its 64
 * bytes with vringh_iov_pull() and returns it with vringh_complete(), the
 * way a device's worker does after a kick. The count per packet is those
 * three calls plus the loop around them (about 4 instructions) and, once
 * per burst, the call of bench_device_burst() itself (about 20
 * instructions: so BURST 1 charges every packet with it, and BURST 32 --
 * DPDK's usual burst -- shows the per-packet cost of the three calls).
 * vringh_getdesc() reads avail->idx once per burst (it keeps a shadow):
 * with BURST 1 that read is paid by every packet.
 *
 * The ring (256 entries) and its buffers sit in guest memory reached
 * through an IOTLB holding 64 mappings, at IOVAs unlike their host
 * addresses. A 64-byte packet is one 64-byte buffer (SEGS = 1) or four
 * 16-byte buffers (SEGS = 4); "indirect" puts them in an indirect table,
 * "packed" lays them out as a direct list of a packed ring (virtio 1.2 §2.8).
 */
#include <kestrel/vringh.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NUM		256
#define MEM_SIZE	(1u << 20)
#define MEM_IOVA	0x40000000ULL
#define OFF_AVAIL	0x1000
#define OFF_USED	0x2000
#define OFF_TABLE	0x4000
#define OFF_DATA	0x8000

static u8 *mem;
static struct iotlb *tlb;
static struct vringh vrh;
static struct iovec rs[8];
static struct vringh_iov riov;
static u16 avail_idx;
/* "packed": a packed ring of direct lists (position and wrap of the driver) */
static bool packed;
static unsigned int nsegs;
static bool avail_wrap = true;

__attribute__((noinline)) int bench_device_burst(void *buf, unsigned int n);
__attribute__((noinline)) int bench_device_burst(void *buf, unsigned int n)
{
	u16 head;

	while (n--) {
		if (vringh_getdesc(&vrh, &riov, NULL, &head) != 1)
			return -1;
		if (vringh_iov_pull(&riov, buf, 64) != 64)
			return -1;
		if (vringh_complete(&vrh, head, 0))
			return -1;
	}
	return 0;
}

static void put_desc(struct vringh_desc *t, unsigned int i, u64 addr, u32 len,
		     u16 flags, u16 next)
{
	t[i].addr = cpu_to_le64(addr);
	t[i].len = cpu_to_le32(len);
	t[i].flags = cpu_to_le16(flags);
	t[i].next = cpu_to_le16(next);
}

static int setup(unsigned int segs, bool indirect, bool packed_ring)
{
	struct vringh_desc *desc, *table;
	unsigned int i;

	mem = aligned_alloc(4096, MEM_SIZE);
	if (!mem || iotlb_create(0, &tlb))
		return -1;
	memset(mem, 0, MEM_SIZE);
	/* Guest memory: 63 unrelated mappings below, ours in the middle. */
	for (i = 0; i < 64; i++) {
		u64 iova = i * 0x10000000ULL;

		if (iova == MEM_IOVA)
			continue;
		iotlb_add_range(tlb, iova, iova + 0xfffffff, 0x100000000ULL + iova,
				IOTLB_PERM_RW);
	}
	iotlb_add_range(tlb, MEM_IOVA, MEM_IOVA + MEM_SIZE - 1, (uintptr_t)mem,
			IOTLB_PERM_RW);
	desc = (void *)mem;
	table = (void *)(mem + OFF_TABLE);
	for (i = 0; i < segs; i++)
		put_desc(indirect ? table : desc, i, MEM_IOVA + OFF_DATA + i * 0x100,
			 64 / segs, i + 1 < segs ? VRINGH_DESC_F_NEXT : 0, i + 1);
	if (indirect)
		put_desc(desc, 0, MEM_IOVA + OFF_TABLE, segs * 16, VRINGH_DESC_F_INDIRECT, 0);
	vringh_iov_init(&riov, rs, 8, false);
	avail_idx = 0;
	packed = packed_ring;
	nsegs = segs;
	return vringh_init_iotlb(&vrh, VRINGH_F_VERSION_1 | VRINGH_F_INDIRECT_DESC |
				 VRINGH_F_EVENT_IDX | (packed ? VRINGH_F_RING_PACKED : 0),
				 NUM, true, tlb, MEM_IOVA,
				 MEM_IOVA + OFF_AVAIL, MEM_IOVA + OFF_USED);
}

static void teardown(void)
{
	iotlb_destroy(tlb);
	free(mem);
}

/* Packed: a list of @nsegs under buffer ID 0 at the avail position, first flags last. */
static void driver_publish_packed(void)
{
	struct vringh_packed_desc *ring = (void *)mem;
	u16 first = avail_idx, first_flags = 0;

	for (unsigned int i = 0; i < nsegs; i++) {
		struct vringh_packed_desc *d = &ring[avail_idx];
		u16 flags = (avail_wrap ? VRINGH_DESC_F_AVAIL : VRINGH_DESC_F_USED) |
			    (i + 1 < nsegs ? VRINGH_DESC_F_NEXT : 0);

		d->addr = cpu_to_le64(MEM_IOVA + OFF_DATA + i * 0x100);
		d->len = cpu_to_le32(64 / nsegs);
		d->id = 0;
		if (i)
			d->flags = cpu_to_le16(flags);
		else
			first_flags = flags;
		if (++avail_idx == NUM) {
			avail_idx = 0;
			avail_wrap = !avail_wrap;
		}
	}
	__atomic_store_n(&ring[first].flags, cpu_to_le16(first_flags), __ATOMIC_RELEASE);
}

/* The driver: the same chain (head 0) made available again and again. */
static void driver_publish(void)
{
	struct vringh_avail *avail = (void *)(mem + OFF_AVAIL);

	if (packed) {
		driver_publish_packed();
		return;
	}
	avail->ring[avail_idx % NUM] = 0;
	avail_idx++;
	__atomic_store_n(&avail->idx, cpu_to_le16(avail_idx), __ATOMIC_RELEASE);
}

/* @iters packets in bursts of @burst (1..NUM). */
static int run(unsigned long iters, unsigned int burst)
{
	u8 buf[64];
	unsigned long i;
	unsigned int k, n;

	for (i = 0; i < iters; i += n) {
		n = iters - i < burst ? (unsigned int)(iters - i) : burst;
		for (k = 0; k < n; k++)
			driver_publish();
		if (bench_device_burst(buf, n))
			return -1;
	}
	return 0;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	unsigned int s, x;

	if (argc == 4 || argc == 5) {
		unsigned long burst = argc == 5 ? strtoul(argv[4], NULL, 0) : 1;

		if (!burst || burst > NUM ||
		    setup(strtoul(argv[1], NULL, 0), !strcmp(argv[2], "indirect"),
			  !strcmp(argv[2], "packed")))
			return 1;
		return run(strtoul(argv[3], NULL, 0), (unsigned int)burst) ? 1 : 0;
	}
	printf("vringh get chain + pull 64 bytes + complete, bursts of 32, wall clock:\n");
	for (s = 1; s <= 4; s += 3) {
		for (x = 0; x < 3; x++) {
			unsigned long iters = 2000000;
			double t0;

			if (setup(s, x == 1, x == 2))
				return 1;
			run(1000, 32);
			t0 = now_ns();
			if (run(iters, 32))
				return 1;
			printf("  %u segment%s, %-8s: %6.1f ns/packet\n", s, s > 1 ? "s" : " ",
			       x == 2 ? "packed" : x ? "indirect" : "direct",
			       (now_ns() - t0) / iters);
			teardown();
		}
	}
	return 0;
}
