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
 * lookups take the searching path. The tables are loaded in one batch, so
 * translations use the sorted copy and its bucket index.
 *
 * Then the cost of updates outside a batch (what a vhost-user IOMMU
 * front-end sends one message at a time): 10^4 and 10^5 entries added one
 * by one, then as many updates (delete + add of one entry, unbatched),
 * against the same entries added in one batch (the anchor); and the
 * translate cost while the sorted copy is behind (the walk of the
 * published tree) against the sorted copy's.
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
	iotlb_batch_begin(bench_tlb);
	for (i = 0; i < n; i++) {
		u64 k = (i * 2654435761u) % n;

		if (iotlb_add_range(bench_tlb, k << 22, (k << 22) + (2u << 20) - 1,
				    0x7f0000000000ULL + (k << 21), IOTLB_PERM_RW))
			break;
	}
	iotlb_batch_commit(bench_tlb);
	return i == n ? 0 : -1;
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
	iotlb_batch_begin(bench_tlb);
	for (i = 0; i < n; i++) {
		u64 size = (1 + xorshift(&x) % 512) << 12;

		a += (xorshift(&x) % 512) << 12;
		bench_starts[i] = a;
		if (iotlb_add_range(bench_tlb, a, a + size - 1, 0x7f0000000000ULL + a,
				    IOTLB_PERM_RW))
			break;
		a += size;
	}
	iotlb_batch_commit(bench_tlb);
	return i == n ? 0 : -1;
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

/* Entry k of the update tables: 4 KiB at k * 8 KiB. */
static int add_entry(struct iotlb *tlb, u64 k)
{
	return iotlb_add_range(tlb, k << 13, (k << 13) + 0xfff,
			       0x7f0000000000ULL + (k << 12), IOTLB_PERM_RW);
}

/* ns per update: @n adds (in one batch, or each alone), then @n updates. */
static int bench_updates(unsigned int n, double *batched, double *single,
			 double *update, double *tree_ns, double *flat_ns)
{
	struct iotlb *tlb;
	struct iotlb_seg seg;
	unsigned long iters = 1000000, i;
	u64 x = 88172645463325252ULL, bad = 0;
	double t0, t1;

	if (iotlb_create(0, &tlb))
		return -1;
	t0 = now_ns();
	iotlb_batch_begin(tlb);
	for (i = 0; i < n; i++)
		bad += add_entry(tlb, (i * 2654435761u) % n) != 0;
	iotlb_batch_commit(tlb);
	*batched = (now_ns() - t0) / n;
	/* Translations through the sorted copy the commit built. */
	t0 = now_ns();
	for (i = 0; i < iters; i++)
		bad += iotlb_translate(tlb, (xorshift(&x) % n) << 13, 64, IOTLB_PERM_RO,
				       &seg, 1) != 1;
	*flat_ns = (now_ns() - t0) / iters;
	/* An eighth of the entries updated alone: the copy is behind now. */
	for (i = 0; i < n / 8; i++) {
		u64 k = xorshift(&x) % n;

		bad += iotlb_del_range(tlb, k << 13, (k << 13) + 0xfff) != 1;
		bad += add_entry(tlb, k) != 0;
	}
	t0 = now_ns();
	for (i = 0; i < iters; i++)
		bad += iotlb_translate(tlb, (xorshift(&x) % n) << 13, 64, IOTLB_PERM_RO,
				       &seg, 1) != 1;
	*tree_ns = (now_ns() - t0) / iters;
	iotlb_destroy(tlb);

	if (iotlb_create(0, &tlb))
		return -1;
	t0 = now_ns();
	for (i = 0; i < n; i++)
		bad += add_entry(tlb, (i * 2654435761u) % n) != 0;
	t1 = now_ns();
	*single = (t1 - t0) / n;
	for (i = 0; i < n; i++) {
		u64 k = xorshift(&x) % n;

		bad += iotlb_del_range(tlb, k << 13, (k << 13) + 0xfff) != 1;
		bad += add_entry(tlb, k) != 0;
	}
	*update = (now_ns() - t1) / n;
	bad += iotlb_count(tlb) != n;
	iotlb_destroy(tlb);
	return bad ? -1 : 0;
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

	printf("iotlb updates outside a batch, wall clock (anchor: the same adds in one batch):\n");
	{
		static const unsigned int counts[] = { 10000, 100000 };
		double b[2], a[2], u[2], tree, flat;

		for (s = 0; s < 2; s++) {
			if (bench_updates(counts[s], &b[s], &a[s], &u[s], &tree, &flat)) {
				printf("  %u entries: an update failed\n", counts[s]);
				return 1;
			}
			printf("  %6u entries: %6.0f ns/add alone, %6.0f ns/update (del + add) alone, "
			       "%4.0f ns/add batched (%.1fx)\n",
			       counts[s], a[s], u[s], b[s], a[s] / b[s]);
			printf("  %6u entries: translate %5.1f ns while the sorted copy is behind "
			       "(tree walk), %5.1f ns through it\n", counts[s], tree, flat);
		}
		/* O(n) per update would make this 10x; O(log n) about 1.25x. */
		printf("  10x the entries: %.2fx the cost of an add alone, %.2fx of an update "
		       "(batched adds: %.2fx)\n", a[1] / a[0], u[1] / u[0], b[1] / b[0]);
	}
	return 0;
}
