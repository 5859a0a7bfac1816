// SPDX-License-Identifier: GPL-2.0-only
/*
 * IOTLB tests: long random operation sequences checked against a
 * brute-force model (a plain array of disjoint ranges), then edge cases:
 * the top of the address space, [0, U64_MAX], split deletes, translate
 * errors, batches, generations, caches, listeners, limits, lock-free
 * translations racing a writer, and a large table changed one update at a
 * time (translations then walk the published tree between the sorted
 * copies iotlb.c rebuilds).
 *
 * IOTLB_TEST_SEED=<n> replays a run; IOTLB_TEST_OPS=<n> sets its length.
 */
#include <kestrel/iotlb.h>

#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "../test.h"

/* ---- the reference model ------------------------------------------------------ */

#define MODEL_MAX 16384

struct model {
	struct iotlb_map e[MODEL_MAX];	/* sorted by start, disjoint */
	unsigned int n;
};

static int model_add(struct model *m, u64 start, u64 last, u64 addr, unsigned int perm)
{
	unsigned int i, pos = m->n;

	if (last < start || !perm || perm > 3 || addr > UINT64_MAX - (last - start))
		return -EINVAL;
	for (i = 0; i < m->n; i++) {
		if (m->e[i].start <= last && m->e[i].last >= start)
			return -EEXIST;
		if (pos == m->n && m->e[i].start > start)
			pos = i;
	}
	if (m->n == MODEL_MAX)
		return -ENOSPC;
	memmove(&m->e[pos + 1], &m->e[pos], (m->n - pos) * sizeof(m->e[0]));
	m->e[pos] = (struct iotlb_map){ start, last, addr, perm };
	m->n++;
	return 0;
}

static ssize_t model_del(struct model *m, u64 start, u64 last)
{
	static struct model out;
	ssize_t touched = 0;
	unsigned int i;

	if (last < start)
		return -EINVAL;
	out.n = 0;
	for (i = 0; i < m->n && out.n < MODEL_MAX - 2; i++) {
		struct iotlb_map e = m->e[i];

		if (e.last < start || e.start > last) {
			out.e[out.n++] = e;
			continue;
		}
		touched++;
		if (e.start < start)
			out.e[out.n++] = (struct iotlb_map){ e.start, start - 1, e.addr, e.perm };
		if (e.last > last)
			out.e[out.n++] = (struct iotlb_map){ last + 1, e.last,
				e.addr + (last + 1 - e.start), e.perm };
	}
	if (out.n > MODEL_MAX)
		return -ENOSPC;
	*m = out;
	return touched;
}

static ssize_t model_translate(const struct model *m, u64 iova, u64 len,
			       unsigned int perm, struct iotlb_seg *segs,
			       unsigned int nsegs)
{
	unsigned int count = 0, i;

	while (len) {
		const struct iotlb_map *e = NULL;
		u64 here;

		for (i = 0; i < m->n; i++)
			if (m->e[i].start <= iova && m->e[i].last >= iova)
				e = &m->e[i];
		if (!e)
			return -EFAULT;
		if ((e->perm & perm) != perm)
			return -EPERM;
		if (count == nsegs)
			return -ENOBUFS;
		here = e->last - iova;	/* bytes left in e, minus one */
		segs[count].addr = (void *)(uintptr_t)(e->addr + (iova - e->start));
		if (len - 1 <= here) {
			segs[count++].len = len;
			break;
		}
		segs[count++].len = here + 1;
		len -= here + 1;
		if (e->last == UINT64_MAX)
			return -EFAULT;
		iova = e->last + 1;
	}
	return count;
}

static bool table_matches(struct iotlb *tlb, const struct model *m)
{
	struct iotlb_map got;
	unsigned int i = 0;
	u64 a = 0;

	if (iotlb_count(tlb) != m->n)
		return false;
	while (!iotlb_find_first(tlb, a, UINT64_MAX, &got)) {
		if (i >= m->n || got.start != m->e[i].start || got.last != m->e[i].last ||
		    got.addr != m->e[i].addr || got.perm != m->e[i].perm)
			return false;
		i++;
		if (got.last == UINT64_MAX)
			break;
		a = got.last + 1;
	}
	return i == m->n;
}

/* ---- random sequences --------------------------------------------------------- */

static u64 rng_state;

static u64 rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* Addresses cluster at the bottom and at the top of the 64-bit space. */
static u64 rnd_addr(void)
{
	u64 off = rnd() % 4096;

	switch (rnd() % 32) {
	case 0 ... 3:
		return UINT64_MAX - off;
	case 4:
		return rnd();
	default:
		return off;
	}
}

static void rnd_range(u64 *start, u64 *last)
{
	u64 a = rnd_addr(), len = rnd() % 4 ? 1 + rnd() % 300 : rnd();

	if (rnd() % 64 == 0) {
		*start = 0;
		*last = UINT64_MAX;
		return;
	}
	*start = a;
	*last = len - 1 > UINT64_MAX - a ? UINT64_MAX : a + (len - 1);
	if (rnd() % 32 == 0) {	/* occasionally an inverted range */
		*start = *last;
		*last = a - 1;
	}
}

static void test_random(u64 seed, unsigned long ops)
{
	static struct model m;
	struct iotlb_seg segs[8], msegs[8];
	struct iotlb_cache cache;
	struct iotlb *tlb;
	unsigned long i, bad = 0, table_bad = 0, nadd = 0, ndel = 0, nxlate = 0;

	report_prefix_push("random");
	report_info("seed %llu, %lu operations (IOTLB_TEST_SEED=%llu to replay)",
		    (unsigned long long)seed, ops, (unsigned long long)seed);
	rng_state = seed | 1;
	m.n = 0;
	iotlb_cache_init(&cache);
	if (iotlb_create(0, &tlb)) {
		report(false, "create");
		report_prefix_pop();
		return;
	}
	for (i = 0; i < ops && bad < 5; i++) {
		u64 start, last, addr = rnd() % 4 ? rnd() : UINT64_MAX - rnd() % 100;
		unsigned int perm = 1 + rnd() % 3;
		ssize_t r1, r2;

		rnd_range(&start, &last);
		switch (rnd() % 16) {
		case 0 ... 5:
			if (rnd() % 8 == 0)
				perm = rnd() % 5;	/* sometimes invalid */
			r1 = iotlb_add_range(tlb, start, last, addr, perm);
			r2 = model_add(&m, start, last, addr, perm);
			nadd++;
			break;
		case 6 ... 8:
			r1 = iotlb_del_range(tlb, start, last);
			r2 = model_del(&m, start, last);
			ndel++;
			break;
		case 9:
			if (rnd() % 200 == 0) {
				iotlb_reset(tlb);
				m.n = 0;
			}
			r1 = r2 = 0;
			break;
		default: {
			unsigned int nsegs = rnd() % 9;
			u64 len = rnd() % 4 ? rnd() % 600 : rnd();
			u64 iova = rnd() % 2 && m.n ? m.e[rnd() % m.n].start + rnd() % 300
						     : rnd_addr();
			bool cached = rnd() % 2;

			perm = 1 + rnd() % 3;
			r1 = cached ? iotlb_translate_cached(tlb, &cache, iova, len, perm, segs, nsegs)
				    : iotlb_translate(tlb, iova, len, perm, segs, nsegs);
			r2 = model_translate(&m, iova, len, perm, msegs, nsegs);
			if (r1 == r2 && r1 > 0 && memcmp(segs, msegs, r1 * sizeof(segs[0])))
				r1 = -9999;
			nxlate++;
			break;
		}
		}
		if (r1 != r2) {
			bad++;
			report_info("op %lu: got %zd, model %zd [0x%llx, 0x%llx]", i, r1, r2,
				    (unsigned long long)start, (unsigned long long)last);
		}
		if (i % 64 == 0 && !table_matches(tlb, &m))
			table_bad++;
	}
	report_eq(bad, 0, "%lu ops (%lu add, %lu del, %lu translate) agree with the model", i,
		  nadd, ndel, nxlate);
	check_eq(table_bad, 0);
	check_true(table_matches(tlb, &m));
	report_checks("table contents equal the model (%u entries at the end)", m.n);
	iotlb_destroy(tlb);
	report_prefix_pop();
}

/* ---- directed edge cases ---------------------------------------------------------- */

static void test_full_space(void)
{
	struct iotlb_seg segs[4];
	struct iotlb_map m;
	struct iotlb *tlb;
	ssize_t n;

	report_prefix_push("full-space");
	iotlb_create(0, &tlb);
	report_eq(iotlb_add_range(tlb, 0, UINT64_MAX, 0, IOTLB_PERM_RW), 0,
		  "[0, U64_MAX] identity maps");
	n = iotlb_translate(tlb, UINT64_MAX - 1, 2, IOTLB_PERM_RW, segs, 4);
	check_eq(n, 1);
	check_eq(segs[0].addr, (void *)(uintptr_t)(UINT64_MAX - 1));
	check_eq(segs[0].len, 2);
	report_checks("last two bytes translate");
	report_err(iotlb_translate(tlb, UINT64_MAX, 2, IOTLB_PERM_RO, segs, 4), -EFAULT,
		   "a range running past U64_MAX is -EFAULT");
	n = iotlb_translate(tlb, 0, UINT64_MAX, IOTLB_PERM_RO, segs, 4);
	check_eq(n, 1);
	check_eq(segs[0].len, UINT64_MAX);
	report_checks("2^64-1 bytes in one segment");
	report_err(iotlb_add_range(tlb, 5, 5, 0, IOTLB_PERM_RO), -EEXIST,
		   "any add overlapping it is -EEXIST");
	check_eq(iotlb_del_range(tlb, 0x1000, 0x1fff), 1);
	check_eq(iotlb_count(tlb), 2);
	report_checks("deleting the middle splits it in two");
	check_eq(iotlb_lookup(tlb, 0x2000, &m), 0);
	check_eq(m.start, 0x2000);
	check_eq(m.last, UINT64_MAX);
	check_eq(m.addr, 0x2000);
	report_checks("upper part keeps its offset");
	check_eq(iotlb_lookup(tlb, 0xfff, &m), 0);
	check_eq(m.start, 0);
	check_eq(m.last, 0xfff);
	report_checks("lower part");
	report_err(iotlb_lookup(tlb, 0x1800, &m), -ENOENT, "hole unmapped");
	n = iotlb_translate(tlb, 0xff0, 0x20, IOTLB_PERM_RO, segs, 4);
	report_err(n, -EFAULT, "translate across the hole is -EFAULT");
	check_eq(iotlb_del_range(tlb, UINT64_MAX, UINT64_MAX), 1);
	check_err(iotlb_lookup(tlb, UINT64_MAX, &m), -ENOENT);
	check_eq(iotlb_lookup(tlb, UINT64_MAX - 1, &m), 0);
	check_eq(m.last, UINT64_MAX - 1);
	report_checks("deleting the very last byte");
	check_eq(iotlb_del_range(tlb, 0, 0), 1);
	check_eq(iotlb_lookup(tlb, 1, &m), 0);
	check_eq(m.start, 1);
	check_eq(m.addr, 1);
	report_checks("deleting byte 0");
	check_eq(iotlb_del_range(tlb, 0, UINT64_MAX), 2);
	check_eq(iotlb_count(tlb), 0);
	report_checks("deleting everything");
	report_eq(iotlb_add_range(tlb, UINT64_MAX - 15, UINT64_MAX, 0x1000, IOTLB_PERM_RO), 0,
		  "a mapping ending at U64_MAX");
	report_err(iotlb_add_range(tlb, 0, 15, UINT64_MAX - 14, IOTLB_PERM_RO), -EINVAL,
		   "host address wrap is -EINVAL");
	report_eq(iotlb_add_range(tlb, 0, 15, UINT64_MAX - 15, IOTLB_PERM_RO), 0,
		  "host range ending exactly at U64_MAX is fine");
	check_err(iotlb_add_range(tlb, 10, 9, 0, IOTLB_PERM_RO), -EINVAL);
	check_err(iotlb_add_range(tlb, 100, 200, 0, 0), -EINVAL);
	check_err(iotlb_add_range(tlb, 100, 200, 0, 4), -EINVAL);
	check_err(iotlb_del_range(tlb, 10, 9), -EINVAL);
	report_checks("bad arguments are -EINVAL");
	iotlb_destroy(tlb);
	report_prefix_pop();
}

static void test_translate_errors(void)
{
	struct iotlb_seg segs[4];
	struct iotlb *tlb;
	char buf[0x3000];
	u64 h = (uintptr_t)buf;

	report_prefix_push("translate");
	iotlb_create(0, &tlb);
	/* Three adjacent entries, a hole, then a read-only one. */
	iotlb_add_range(tlb, 0x1000, 0x1fff, h, IOTLB_PERM_RW);
	iotlb_add_range(tlb, 0x2000, 0x2fff, h + 0x1000, IOTLB_PERM_RW);
	iotlb_add_range(tlb, 0x3000, 0x3fff, h + 0x2000, IOTLB_PERM_WO);
	iotlb_add_range(tlb, 0x5000, 0x5fff, h, IOTLB_PERM_RO);

	check_eq(iotlb_translate(tlb, 0x1ffe, 4, IOTLB_PERM_RO, segs, 4), 2);
	check_eq(segs[0].addr, buf + 0xffe);
	check_eq(segs[0].len, 2);
	check_eq(segs[1].addr, buf + 0x1000);
	check_eq(segs[1].len, 2);
	report_checks("straddling two entries gives two segments");
	check_eq(iotlb_translate(tlb, 0x1000, 0x3000, IOTLB_PERM_WO, segs, 3), 3);
	check_eq(segs[2].len, 0x1000);
	report_checks("three entries, exact fit");
	check_err(iotlb_translate(tlb, 0x1000, 0x3000, IOTLB_PERM_WO, segs, 2), -ENOBUFS);
	check_eq(segs[0].len, 0x1000);
	check_eq(segs[1].addr, buf + 0x1000);
	report_checks("-ENOBUFS when the array is short, prefix filled");
	report_err(iotlb_translate(tlb, 0x1000, 1, IOTLB_PERM_RO, segs, 0), -ENOBUFS,
		   "-ENOBUFS with no array at all");
	report_err(iotlb_translate(tlb, 0x1000, 0x3000, IOTLB_PERM_RO, segs, 4), -EPERM,
		   "-EPERM reading through a write-only entry");
	report_err(iotlb_translate(tlb, 0x3f00, 0x200, IOTLB_PERM_WO, segs, 4), -EFAULT,
		   "-EFAULT running into a hole");
	report_err(iotlb_translate(tlb, 0x3f00, 0x200, IOTLB_PERM_RO, segs, 4), -EPERM,
		   "first problem met decides (-EPERM before the hole)");
	report_err(iotlb_translate(tlb, 0x5000, 0x10, IOTLB_PERM_WO, segs, 4), -EPERM,
		   "-EPERM writing to a read-only entry");
	report_eq(iotlb_translate(tlb, 0x5000, 0x10, IOTLB_PERM_RO, segs, 4), 1,
		  "read-only entry is readable");
	report_eq(iotlb_translate(tlb, 0x0, 0, IOTLB_PERM_RO, segs, 4), 0,
		  "zero length gives zero segments, even unmapped");
	report_err(iotlb_translate(tlb, 0x6000, 1, IOTLB_PERM_RO, segs, 4), -EFAULT,
		   "unmapped is -EFAULT");
	iotlb_destroy(tlb);
	report_prefix_pop();
}

static void test_generation_and_cache(void)
{
	struct iotlb_seg seg;
	struct iotlb_cache cache;
	struct iotlb *tlb, *other;
	u64 g0, g1, g2;
	char buf[0x2000];
	u64 h = (uintptr_t)buf;

	report_prefix_push("generation");
	iotlb_create(0, &tlb);
	iotlb_create(0, &other);
	iotlb_cache_init(&cache);
	g0 = iotlb_generation(tlb);
	check_true(g0);
	check_ne(g0, iotlb_generation(other));
	report_checks("non-zero and unique per IOTLB");
	iotlb_add_range(tlb, 0x1000, 0x1fff, h, IOTLB_PERM_RW);
	g1 = iotlb_generation(tlb);
	report_ne(g1, g0, "add changes it");
	check_eq(iotlb_del_range(tlb, 0x5000, 0x5fff), 0);
	check_eq(iotlb_generation(tlb), g1);
	report_checks("deleting nothing does not");
	check_err(iotlb_add_range(tlb, 0x1000, 0x1000, h, IOTLB_PERM_RW), -EEXIST);
	check_eq(iotlb_generation(tlb), g1);
	report_checks("a refused add does not");

	check_eq(iotlb_translate_cached(tlb, &cache, 0x1010, 8, IOTLB_PERM_RO, &seg, 1), 1);
	check_eq(cache.generation, g1);
	check_eq(cache.e[0].start, 0x1000);
	report_checks("slow path fills the cache");
	check_eq(iotlb_translate_cached(tlb, &cache, 0x1f00, 8, IOTLB_PERM_WO, &seg, 1), 1);
	check_eq(seg.addr, buf + 0xf00);
	report_checks("cache hit translates");
	iotlb_del_range(tlb, 0x1000, 0x1fff);
	g2 = iotlb_generation(tlb);
	report_ne(g2, g1, "delete changes it");
	report_err(iotlb_translate_cached(tlb, &cache, 0x1010, 8, IOTLB_PERM_RO, &seg, 1), -EFAULT,
		   "a stale cache entry is not used after a delete");
	check_eq(cache.generation, g2);
	check_gt(cache.e[0].start, cache.e[0].last);
	report_checks("the cache was emptied on the generation change");

	iotlb_add_range(tlb, 0x1000, 0x1fff, h, IOTLB_PERM_RW);
	iotlb_add_range(tlb, 0x8000, 0x8fff, h, IOTLB_PERM_RW);
	iotlb_translate_cached(tlb, &cache, 0x1000, 8, IOTLB_PERM_RO, &seg, 1);
	iotlb_translate_cached(tlb, &cache, 0x8000, 8, IOTLB_PERM_RO, &seg, 1);
	iotlb_cache_invalidate(&cache, 0x1800, 0x1800);
	check_gt(cache.e[0].start, cache.e[0].last);
	check_eq(cache.e[1].start, 0x8000);
	report_checks("invalidate drops overlapping entries only");
	iotlb_cache_flush(&cache);
	check_eq(cache.generation, 0);
	check_gt(cache.e[1].start, cache.e[1].last);
	report_checks("flush drops everything");

	g1 = iotlb_generation(tlb);
	iotlb_reset(tlb);
	check_ne(iotlb_generation(tlb), g1);
	check_eq(iotlb_count(tlb), 0);
	report_checks("reset changes it");
	g1 = iotlb_generation(tlb);
	iotlb_reset(tlb);
	report_eq(iotlb_generation(tlb), g1, "resetting an empty table does not");

	iotlb_add_range(other, 0x100, 0x1ff, h, IOTLB_PERM_RO);
	iotlb_add_range(other, 0x300, 0x3ff, h, IOTLB_PERM_WO);
	iotlb_add_range(tlb, 0x7000, 0x7fff, h, IOTLB_PERM_RO);
	g1 = iotlb_generation(tlb);
	check_eq(iotlb_replace(tlb, other), 0);
	check_eq(iotlb_count(tlb), 2);
	check_ne(iotlb_generation(tlb), g1);
	check_err(iotlb_translate(tlb, 0x7000, 1, IOTLB_PERM_RO, &seg, 1), -EFAULT);
	check_eq(iotlb_translate(tlb, 0x300, 1, IOTLB_PERM_WO, &seg, 1), 1);
	report_checks("replace copies the whole table in one change");
	report_err(iotlb_replace(tlb, tlb), -EINVAL, "replace with itself is refused");
	iotlb_destroy(other);
	iotlb_destroy(tlb);
	report_prefix_pop();
}

struct batch_reader {
	struct iotlb *tlb;
	struct iotlb_cache cache;
	int cached_ret;
	int lookup_ret;
	struct iotlb_map m;
	int done;
};

static void *batch_reader_fn(void *arg)
{
	struct batch_reader *r = arg;
	struct iotlb_seg seg;

	/* A translation cached before the batch: still served, no lock. */
	r->cached_ret = iotlb_translate_cached(r->tlb, &r->cache, 0x1000, 4,
					       IOTLB_PERM_RO, &seg, 1);
	/* A slow-path read: waits for the commit. */
	r->lookup_ret = iotlb_lookup(r->tlb, 0x2000, &r->m);
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_batch(void)
{
	struct batch_reader r = { 0 };
	struct iotlb_seg seg;
	struct iotlb_map m;
	pthread_t th;
	u64 g0;
	int early;

	report_prefix_push("batch");
	iotlb_create(0, &r.tlb);
	iotlb_cache_init(&r.cache);
	iotlb_add_range(r.tlb, 0x1000, 0x1fff, 0x10000, IOTLB_PERM_RW);
	iotlb_translate_cached(r.tlb, &r.cache, 0x1000, 4, IOTLB_PERM_RO, &seg, 1);
	g0 = iotlb_generation(r.tlb);

	iotlb_batch_begin(r.tlb);
	iotlb_del_range(r.tlb, 0x1000, 0x1fff);
	iotlb_add_range(r.tlb, 0x1000, 0x2fff, 0x20000, IOTLB_PERM_RW);
	iotlb_batch_begin(r.tlb);	/* nested */
	iotlb_add_range(r.tlb, 0x3000, 0x3fff, 0x30000, IOTLB_PERM_RO);
	iotlb_batch_commit(r.tlb);
	report_eq(iotlb_generation(r.tlb), g0, "no generation change inside a batch");
	report_eq(iotlb_lookup(r.tlb, 0x3000, &m), 0, "the batch owner sees its own updates");
	pthread_create(&th, NULL, batch_reader_fn, &r);
	usleep(100 * 1000);
	early = __atomic_load_n(&r.done, __ATOMIC_ACQUIRE);
	report_eq(early, 0, "another thread's table walk waits for the commit");
	report_eq(iotlb_batch_commit(r.tlb), 0, "commit");
	pthread_join(th, NULL);
	report_eq(r.cached_ret, 1, "cached translations of the old table kept working");
	check_eq(r.lookup_ret, 0);
	check_eq(r.m.start, 0x1000);
	check_eq(r.m.last, 0x2fff);
	check_eq(r.m.addr, 0x20000);
	report_checks("the reader saw the whole batch, never half of it");
	report_ne(iotlb_generation(r.tlb), g0, "one generation change at commit");
	check_eq(iotlb_translate_cached(r.tlb, &r.cache, 0x1000, 4, IOTLB_PERM_RO, &seg, 1), 1);
	check_eq(seg.addr, (void *)0x20000);
	report_checks("caches see the new table after the commit");
	report_err(iotlb_batch_commit(r.tlb), -EINVAL, "commit without a batch is -EINVAL");
	g0 = iotlb_generation(r.tlb);
	iotlb_batch_begin(r.tlb);
	iotlb_batch_commit(r.tlb);
	report_eq(iotlb_generation(r.tlb), g0, "an empty batch changes nothing");
	iotlb_destroy(r.tlb);
	report_prefix_pop();
}

struct test_listener {
	struct iotlb_listener l;
	unsigned int calls;
	u64 start, last;
};

static void test_listener_changed(struct iotlb_listener *l, struct iotlb *tlb,
				  u64 start, u64 last)
{
	struct test_listener *t = container_of(l, struct test_listener, l);

	t->calls++;
	t->start = start;
	t->last = last;
}

static void test_listener_and_limit(void)
{
	struct test_listener t = { .l.changed = test_listener_changed };
	struct iotlb_map m;
	struct iotlb *tlb;

	report_prefix_push("listener");
	iotlb_create(3, &tlb);
	iotlb_listener_add(tlb, &t.l);
	iotlb_add_range(tlb, 0x1000, 0x1fff, 0, IOTLB_PERM_RW);
	check_eq(t.calls, 1);
	check_eq(t.start, 0x1000);
	check_eq(t.last, 0x1fff);
	report_checks("told about an add");
	iotlb_del_range(tlb, 0x1800, 0x28ff);
	check_eq(t.calls, 2);
	check_eq(t.start, 0x1800);
	check_eq(t.last, 0x1fff);
	report_checks("told the range that really changed");
	iotlb_batch_begin(tlb);
	iotlb_add_range(tlb, 0x5000, 0x5fff, 0, IOTLB_PERM_RW);
	iotlb_add_range(tlb, 0x9000, 0x9fff, 0, IOTLB_PERM_RW);
	report_eq(t.calls, 2, "not told during a batch");
	iotlb_batch_commit(tlb);
	check_eq(t.calls, 3);
	check_eq(t.start, 0x5000);
	check_eq(t.last, 0x9fff);
	report_checks("told once per batch, with the covering range");
	report_prefix_pop();

	report_prefix_push("limit");
	report_err(iotlb_add_range(tlb, 0xa000, 0xafff, 0, IOTLB_PERM_RW), -ENOSPC,
		   "add beyond the limit is -ENOSPC");
	check_err(iotlb_del_range(tlb, 0x5100, 0x51ff), -ENOSPC);
	check_eq(iotlb_count(tlb), 3);
	check_eq(iotlb_lookup(tlb, 0x5100, &m), 0);
	report_checks("a split beyond the limit changes nothing");
	check_eq(iotlb_del_range(tlb, 0x5000, 0x50ff), 1);
	check_eq(iotlb_lookup(tlb, 0x5100, &m), 0);
	check_eq(m.start, 0x5100);
	check_eq(m.addr, 0x100);
	report_checks("trimming an end needs no room");
	iotlb_listener_del(tlb, &t.l);
	iotlb_reset(tlb);
	report_eq(t.calls, 4, "listener removed");
	iotlb_destroy(tlb);
	report_prefix_pop();
}

static void test_many(void)
{
	struct iotlb_seg seg;
	struct iotlb_map m;
	struct iotlb *tlb;
	unsigned int i, bad = 0, n = 4096;

	report_prefix_push("many");
	iotlb_create(0, &tlb);
	/* Insert in a scrambled order; 4 KiB pages with 4 KiB gaps. */
	for (i = 0; i < n; i++) {
		u64 k = (i * 2654435761u) % n;

		if (iotlb_add_range(tlb, k * 0x2000, k * 0x2000 + 0xfff, k << 20,
				    IOTLB_PERM_RW))
			bad++;
	}
	check_eq(bad, 0);
	check_eq(iotlb_count(tlb), n);
	report_checks("%u entries added", n);
	for (i = 0; i < n; i++) {
		if (iotlb_translate(tlb, i * 0x2000ULL + 8, 8, IOTLB_PERM_RO, &seg, 1) != 1 ||
		    seg.addr != (void *)(uintptr_t)(((u64)i << 20) + 8))
			bad++;
		if (iotlb_lookup(tlb, i * 0x2000ULL + 0x1000, &m) != -ENOENT)
			bad++;
	}
	report_eq(bad, 0, "every entry translates, every gap is a hole");
	for (i = 0; i < n; i += 2)
		iotlb_del_range(tlb, i * 0x2000ULL, i * 0x2000ULL + 0xfff);
	check_eq(iotlb_count(tlb), n / 2);
	check_err(iotlb_lookup(tlb, 0, &m), -ENOENT);
	check_eq(iotlb_lookup(tlb, 0x2000, &m), 0);
	report_checks("half deleted");
	iotlb_destroy(tlb);
	report_prefix_pop();
}

/*
 * Lock-free readers against a writer. Every mapping ever installed maps
 * iova to iova + STRESS_OFF, so any segment a reader gets must say so; the
 * stable window is always mapped in every published table (the writer only
 * changes it inside batches that put it back), so a reader must never see
 * a hole there: that would be a half-applied batch. Under ASan, a reader
 * touching a snapshot the writer freed too early is reported.
 */
#define STRESS_OFF		0x7f0000000000ULL
#define STRESS_STABLE_START	0x100000ULL
#define STRESS_STABLE_LAST	0x1fffffULL
#define STRESS_READERS		2

struct stress {
	struct iotlb *tlb;
	int stop;
	unsigned long translations, bad_addr, half_seen;
};

static u64 stress_rng(u64 *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void *stress_reader(void *arg)
{
	struct stress *st = arg;
	struct iotlb_cache cache;
	u64 x = (u64)(uintptr_t)&cache | 1;
	unsigned long n = 0, bad = 0, half = 0;

	iotlb_cache_init(&cache);
	while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE)) {
		u64 r = stress_rng(&x), iova = r % (STRESS_STABLE_LAST + 1);
		u64 len = 1 + (r >> 40) % 64, cur = iova;
		bool stable = iova >= STRESS_STABLE_START &&
			      iova + len - 1 <= STRESS_STABLE_LAST;
		struct iotlb_seg segs[8];
		ssize_t ret, i;

		ret = (r >> 32) & 1 ?
		      iotlb_translate(st->tlb, iova, len, IOTLB_PERM_RO, segs, 8) :
		      iotlb_translate_cached(st->tlb, &cache, iova, len, IOTLB_PERM_RO,
					     segs, 8);
		n++;
		if (stable && ret <= 0)
			half++;
		for (i = 0; i < ret; i++) {
			if (segs[i].addr != (void *)(uintptr_t)(cur + STRESS_OFF))
				bad++;
			cur += segs[i].len;
		}
	}
	__atomic_fetch_add(&st->translations, n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&st->bad_addr, bad, __ATOMIC_RELAXED);
	__atomic_fetch_add(&st->half_seen, half, __ATOMIC_RELAXED);
	return NULL;
}

/* Map the stable window again, cut into pieces of random sizes. */
static void stress_add_stable(struct iotlb *tlb, u64 *x)
{
	u64 a = STRESS_STABLE_START;

	while (a <= STRESS_STABLE_LAST) {
		u64 size = (1 + stress_rng(x) % 64) << 12;
		u64 last = MIN(a + size - 1, STRESS_STABLE_LAST);

		iotlb_add_range(tlb, a, last, a + STRESS_OFF, IOTLB_PERM_RW);
		a = last + 1;
	}
}

static void test_concurrent_readers(void)
{
	struct stress st = { 0 };
	pthread_t th[STRESS_READERS];
	struct iotlb *other;
	u64 x = 0x9e3779b97f4a7c15ULL;
	unsigned int i, ops = 0;
	double t0;
	struct timespec ts;

	report_prefix_push("concurrent");
	iotlb_create(0, &st.tlb);
	iotlb_create(0, &other);
	stress_add_stable(st.tlb, &x);
	stress_add_stable(other, &x);
	for (i = 0; i < STRESS_READERS; i++)
		pthread_create(&th[i], NULL, stress_reader, &st);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = ts.tv_sec + ts.tv_nsec * 1e-9;
	do {
		u64 r = stress_rng(&x), page = (r % 256) << 12;

		switch (r >> 60) {
		case 0:		/* whole-table change in one batch, like mem.c */
			iotlb_batch_begin(st.tlb);
			iotlb_reset(st.tlb);
			stress_add_stable(st.tlb, &x);
			iotlb_batch_commit(st.tlb);
			break;
		case 1:		/* set_map style */
			iotlb_replace(st.tlb, other);
			break;
		case 2:		/* re-split the stable window in one batch */
		case 3:
			iotlb_batch_begin(st.tlb);
			iotlb_del_range(st.tlb, STRESS_STABLE_START, STRESS_STABLE_LAST);
			stress_add_stable(st.tlb, &x);
			iotlb_batch_commit(st.tlb);
			break;
		default:	/* unbatched add/delete below the window */
			if (r & 1)
				iotlb_add_range(st.tlb, page, page + 0xfff, page + STRESS_OFF,
						IOTLB_PERM_RW);
			else
				iotlb_del_range(st.tlb, page,
						MIN(page + ((r >> 8) & 0x3fff),
						    STRESS_STABLE_START - 1));
			break;
		}
		ops++;
		clock_gettime(CLOCK_MONOTONIC, &ts);
	} while (ts.tv_sec + ts.tv_nsec * 1e-9 - t0 < 1.0);
	__atomic_store_n(&st.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < STRESS_READERS; i++)
		pthread_join(th[i], NULL);
	report_info("%u updates, %lu lock-free translations", ops, st.translations);
	check_gt(ops, 100);
	check_gt(st.translations, 1000);
	report_checks("writer and readers both made progress");
	report_eq(st.bad_addr, 0, "every segment a reader got was right (%lu wrong)", st.bad_addr);
	report_eq(st.half_seen, 0, "no reader saw a half-applied batch (%lu holes)", st.half_seen);
	iotlb_destroy(other);
	iotlb_destroy(st.tlb);
	report_prefix_pop();
}

/*
 * A table of SLOTS 4 KiB slots (slot k at k * 8 KiB maps to k * 8 KiB +
 * STRESS_OFF) changed by single updates outside any batch: slots dropped,
 * added back, removed as runs of several (over IOTLB_DEL_STEPS: a rebuild
 * in iotlb.c), cut in two and patched; the first STABLE slots are never
 * touched. Readers translate all along: a segment must always map
 * iova + STRESS_OFF, a stable slot must never be a hole. The table must
 * equal the writer's own record after every step that is checked, and at
 * the end slot by slot.
 */
#define SLOTS		20000
#define STABLE		1000
/* One reader: with more threads than CPUs, each update would mostly wait
 * for a reader preempted inside its read section. */
#define SLOTS_READERS	1

struct slots {
	struct iotlb *tlb;
	int stop;
	unsigned long translations, bad_addr, holes;
};

static void *slots_reader(void *arg)
{
	struct slots *st = arg;
	struct iotlb_cache cache;
	u64 x = (u64)(uintptr_t)&cache | 1;
	unsigned long n = 0, bad = 0, holes = 0;

	iotlb_cache_init(&cache);
	while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE)) {
		u64 r = stress_rng(&x), k = r % SLOTS, iova = (k << 13) + ((r >> 20) & 0xfc0);
		struct iotlb_seg seg;
		ssize_t ret;

		ret = (r >> 40) & 1 ?
		      iotlb_translate(st->tlb, iova, 64, IOTLB_PERM_RO, &seg, 1) :
		      iotlb_translate_cached(st->tlb, &cache, iova, 64, IOTLB_PERM_RO, &seg, 1);
		n++;
		if (ret == 1 && seg.addr != (void *)(uintptr_t)(iova + STRESS_OFF))
			bad++;
		if (k < STABLE && ret != 1)
			holes++;
	}
	__atomic_fetch_add(&st->translations, n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&st->bad_addr, bad, __ATOMIC_RELAXED);
	__atomic_fetch_add(&st->holes, holes, __ATOMIC_RELAXED);
	return NULL;
}

static int slot_add(struct iotlb *tlb, u64 k)
{
	return iotlb_add_range(tlb, k << 13, (k << 13) + 0xfff, (k << 13) + STRESS_OFF,
			       IOTLB_PERM_RW);
}

static void test_single_updates(void)
{
	static bool mapped[SLOTS];
	struct slots st = { 0 };
	pthread_t th[SLOTS_READERS];
	unsigned long bad = 0, mismatch = 0, i, n = 0, ops;
	u64 x = 0x2545f4914f6cdd1dULL;
	struct iotlb_seg seg;
	struct timespec ts;
	double t0;

	report_prefix_push("single updates");
	if (iotlb_create(0, &st.tlb)) {
		report(false, "create");
		report_prefix_pop();
		return;
	}
	/* Every slot, one add each, in a scrambled order. */
	for (i = 0; i < SLOTS; i++) {
		u64 k = (i * 2654435761u) % SLOTS;

		bad += slot_add(st.tlb, k) != 0;
		mapped[k] = true;
	}
	report_eq(bad, 0, "%u slots added one at a time", SLOTS);
	for (i = 0; i < SLOTS_READERS; i++)
		pthread_create(&th[i], NULL, slots_reader, &st);
	/*
	 * Each update waits for the readers' sections to drain; with more
	 * threads than CPUs that is a preemption now and then: bounded by time.
	 */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = ts.tv_sec + ts.tv_nsec * 1e-9;
	for (i = 0; i < 40000; i++) {
		u64 r = stress_rng(&x), k = STABLE + r % (SLOTS - STABLE - 8);
		ssize_t ret, want;
		unsigned int j;

		switch ((r >> 48) % 8) {
		case 0 ... 2:	/* toggle one slot */
			if (mapped[k]) {
				bad += iotlb_del_range(st.tlb, k << 13, (k << 13) + 0xfff) != 1;
			} else {
				bad += slot_add(st.tlb, k) != 0;
			}
			mapped[k] = !mapped[k];
			break;
		case 3:		/* a run of 1..8 slots in one delete */
			want = 0;
			for (j = 0; j < 1 + (r >> 8) % 8; j++) {
				want += mapped[k + j];
				mapped[k + j] = false;
			}
			ret = iotlb_del_range(st.tlb, k << 13, ((k + j - 1) << 13) + 0xfff);
			bad += ret != want;
			break;
		case 4:		/* cut a hole in the middle of a slot, then patch it */
			if (!mapped[k])
				break;
			bad += iotlb_del_range(st.tlb, (k << 13) + 0x400, (k << 13) + 0x7ff) != 1;
			bad += iotlb_add_range(st.tlb, (k << 13) + 0x400, (k << 13) + 0x7ff,
					       (k << 13) + 0x400 + STRESS_OFF, IOTLB_PERM_RW) != 0;
			/* Now three entries; make it one again. */
			bad += iotlb_del_range(st.tlb, k << 13, (k << 13) + 0xfff) != 3;
			bad += slot_add(st.tlb, k) != 0;
			break;
		default:	/* one slot replaced: delete + add, unbatched */
			if (mapped[k])
				bad += iotlb_del_range(st.tlb, k << 13, (k << 13) + 0xfff) != 1;
			bad += slot_add(st.tlb, k) != 0;
			mapped[k] = true;
			break;
		}
		if (i % 1024 == 0) {
			unsigned int c = 0;

			for (j = 0; j < SLOTS; j++)
				c += mapped[j];
			mismatch += iotlb_count(st.tlb) != c;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			if (ts.tv_sec + ts.tv_nsec * 1e-9 - t0 > 3.0)
				break;
		}
	}
	ops = i;
	__atomic_store_n(&st.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < SLOTS_READERS; i++)
		pthread_join(th[i], NULL);
	check_gt(ops, 1000);
	check_eq(bad, 0);
	report_checks("%lu single updates returned what the record says", ops);
	report_eq(mismatch, 0, "the entry count followed the record");
	for (i = 0; i < SLOTS; i++) {
		u64 iova = ((u64)i << 13) + 0x800;
		ssize_t ret = iotlb_translate(st.tlb, iova, 64, IOTLB_PERM_RO, &seg, 1);

		if (mapped[i] ? ret != 1 || seg.addr != (void *)(uintptr_t)(iova + STRESS_OFF) :
				ret != -EFAULT)
			mismatch++;
		n += mapped[i];
	}
	check_eq(mismatch, 0);
	check_eq(iotlb_count(st.tlb), n);
	report_checks("every slot translates as the record says (%lu mapped)", n);
	report_info("%lu lock-free translations during the updates", st.translations);
	check_gt(st.translations, 1000);
	check_eq(st.bad_addr, 0);
	check_eq(st.holes, 0);
	report_checks("readers: every segment right, no stable slot ever a hole");
	iotlb_destroy(st.tlb);
	report_prefix_pop();
}

int main(void)
{
	const char *s = getenv("IOTLB_TEST_SEED"), *o = getenv("IOTLB_TEST_OPS");
	u64 seed = s ? strtoull(s, NULL, 0) : (u64)time(NULL) * 2654435761u ^ (u64)getpid();
	unsigned long ops = o ? strtoul(o, NULL, 0) : 200000;

	report_prefix_push("iotlb");
	test_full_space();
	test_translate_errors();
	test_generation_and_cache();
	test_batch();
	test_listener_and_limit();
	test_many();
	test_concurrent_readers();
	test_single_updates();
	test_random(seed, ops);
	test_random(12345, ops / 4);
	return report_summary();
}
