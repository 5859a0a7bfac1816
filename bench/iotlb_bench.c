// SPDX-License-Identifier: GPL-2.0-only
/*
 * IOTLB translate cost with 1, 64 and 4096 mappings.
 *
 *   iotlb_bench                      wall-clock ns per translate, every case
 *   iotlb_bench MAPPINGS hit|miss|uneven N
 *                                    run one case N times (for callgrind:
 *                                    bench/vringh-callgrind.sh counts only
 *                                    bench_translate_*())
 *
 * "hit": consecutive translations inside one mapping, as a device walking a
 * buffer does. "miss": each translation in a different, pseudo-random one
 * of all the mappings. iotlb_translate() has no cache, so both run the same
 * lock-free snapshot lookup; "miss" also misses the CPU caches at 4096.
 * "uneven": as "miss", but mappings of random sizes (4 KiB - 2 MiB) with
 * random gaps, so the snapshot's buckets often hold several entries and
 * lookups take the searching path.
 */
#include <kestrel/iotlb.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct iotlb *bench_tlb;
static u64 *bench_starts;	/* "uneven": start of mapping k */

__attribute__((noinline)) ssize_t bench_translate_one(u64 iova);
__attribute__((noinline)) ssize_t bench_translate_one(u64 iova)
{
	struct iotlb_seg seg;

	return iotlb_translate(bench_tlb, iova, 64, IOTLB_PERM_RO, &seg, 1);
}

static int setup(unsigned int n)
{
	unsigned int i;

	if (iotlb_create(0, &bench_tlb))
		return -1;
	/* 2 MiB mappings with 2 MiB gaps, added in a scrambled order. */
	for (i = 0; i < n; i++) {
		u64 k = (i * 2654435761u) % n;

		if (iotlb_add_range(bench_tlb, k << 22, (k << 22) + (2u << 20) - 1,
				    0x7f0000000000ULL + (k << 21), IOTLB_PERM_RW))
			return -1;
	}
	return 0;
}

static u64 xorshift(u64 *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static int setup_uneven(unsigned int n)
{
	u64 x = 0x2545f4914f6cdd1dULL, a = 1ULL << 30;
	unsigned int i;

	if (iotlb_create(0, &bench_tlb))
		return -1;
	bench_starts = calloc(n, sizeof(*bench_starts));
	if (!bench_starts)
		return -1;
	for (i = 0; i < n; i++) {
		u64 size = (1 + xorshift(&x) % 512) << 12;

		a += (xorshift(&x) % 512) << 12;
		bench_starts[i] = a;
		if (iotlb_add_range(bench_tlb, a, a + size - 1, 0x7f0000000000ULL + a,
				    IOTLB_PERM_RW))
			return -1;
		a += size;
	}
	return 0;
}

static u64 run_uneven(unsigned int n, unsigned long iters)
{
	u64 bad = 0, x = 88172645463325252ULL;
	unsigned long i;

	for (i = 0; i < iters; i++)
		bad += bench_translate_one(bench_starts[xorshift(&x) % n] +
					   ((i * 64) & 0xfff)) != 1;
	return bad;
}

static u64 run(unsigned int n, bool hit, unsigned long iters)
{
	u64 bad = 0, x = 88172645463325252ULL;
	unsigned long i;

	for (i = 0; i < iters; i++) {
		u64 k;

		if (hit) {
			k = 0;
		} else {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			k = x % n;
		}
		bad += bench_translate_one((k << 22) + ((i * 64) & 0xfffff)) != 1;
	}
	return bad;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static const unsigned int sizes[] = { 1, 64, 4096 };
	unsigned int s;

	if (argc == 4) {
		unsigned int n = strtoul(argv[1], NULL, 0);

		if (!strcmp(argv[2], "uneven")) {
			if (setup_uneven(n))
				return 1;
			return run_uneven(n, strtoul(argv[3], NULL, 0)) ? 1 : 0;
		}
		if (setup(n))
			return 1;
		return run(n, !strcmp(argv[2], "hit"), strtoul(argv[3], NULL, 0)) ? 1 : 0;
	}
	printf("iotlb translate (64 bytes), wall clock:\n");
	for (s = 0; s < 3; s++) {
		unsigned long iters = 2000000;
		double t0, t1, t2;

		if (setup(sizes[s]))
			return 1;
		run(sizes[s], true, 1000);
		t0 = now_ns();
		run(sizes[s], true, iters);
		t1 = now_ns();
		run(sizes[s], false, iters);
		t2 = now_ns();
		printf("  %5u mappings: %6.1f ns/translate (same mapping), %6.1f ns (random mapping)\n",
		       sizes[s], (t1 - t0) / iters, (t2 - t1) / iters);
		iotlb_destroy(bench_tlb);
	}
	return 0;
}
