// SPDX-License-Identifier: GPL-2.0-only
/*
 * The token buckets of src/vdpa/swdev/limiter.c, on a clock the test
 * moves: refill maths (continuous, exact however often it is computed),
 * the one-time burst, requests larger than the bucket (a debt), buckets
 * that do not limit, sizes and refill times as large as u64 holds, and a
 * limiter taking from both buckets or neither.
 */
#include <stdint.h>

#include "../../../src/vdpa/swdev/limiter.h"
#include "../test.h"

#define MS	1000000ULL
#define T0	(1ULL << 40)	/* a monotonic clock some time after boot */

static struct tbucket bucket(u64 size, u64 burst, u64 refill_ms)
{
	struct vdpa_bucket cfg = { size, burst, refill_ms };
	struct tbucket b;

	tbucket_init(&b, &cfg, T0);
	return b;
}

/* Take @n if tbucket_wait() allows it at @now. Return: the wait. */
static u64 try_take(struct tbucket *b, u64 n, u64 now)
{
	u64 w = tbucket_wait(b, n, now);

	if (!w)
		tbucket_take(b, n);
	return w;
}

static void test_refill(void)
{
	struct tbucket b = bucket(1000, 0, 100);	/* 10 tokens a ms */
	u64 got = 0, now = T0;

	report_prefix_push("refill");
	report_eq(try_take(&b, 1000, now), 0, "a new bucket is full");
	report_eq(try_take(&b, 1, now), 100000, "empty: one token in 0.1 ms");
	report_eq(try_take(&b, 10, now), 1 * MS, "ten tokens in 1 ms");
	report_eq(try_take(&b, 10, now + MS - 1), 1, "1 ns early: 1 ns to wait");
	report_eq(try_take(&b, 10, now + MS), 0, "on time: taken");
	report_eq(try_take(&b, 2000, now + MS), 100 * MS,
		  "more than the bucket: waits for a full one");

	/* Computed every 7 ns for 50 ms: exactly 500 tokens, no rounding gain. */
	b = bucket(1000, 0, 100);
	try_take(&b, 1000, T0);
	for (now = T0; now < T0 + 50 * MS + 7; now += 7)
		if (!try_take(&b, 1, now))
			got++;
	report_eq(got, 500, "frequent refills give the exact rate");

	/* Never more than a full bucket, however long it rested. */
	b = bucket(1000, 0, 100);
	report_eq(try_take(&b, 1000, T0 + 3600000 * MS), 0, "full after an hour");
	report_ne(try_take(&b, 1, T0 + 3600000 * MS), 0, "and not fuller");
	report_prefix_pop();
}

static void test_burst(void)
{
	struct tbucket b = bucket(100, 250, 1000);

	report_prefix_push("burst");
	report_eq(try_take(&b, 200, T0), 0, "burst first");
	report_eq(try_take(&b, 150, T0), 0, "then burst and bucket");
	report_eq(b.burst, 0, "burst spent");
	report_eq(b.budget, 0, "bucket spent");
	report_ne(try_take(&b, 1, T0), 0, "then empty");
	/* The burst never comes back; the bucket refills to 100. */
	report_eq(try_take(&b, 100, T0 + 5000 * MS), 0, "refilled to size");
	report_ne(try_take(&b, 1, T0 + 5000 * MS), 0, "and no burst again");
	report_prefix_pop();
}

static void test_debt(void)
{
	struct tbucket b = bucket(100, 0, 100);		/* 1 token a ms */

	report_prefix_push("oversized");
	report_eq(try_take(&b, 350, T0), 0, "a full bucket lets it go");
	report_eq(b.debt, 250, "leaving a debt");
	report_eq(try_take(&b, 1, T0), 251 * MS, "paid before anything else");
	report_eq(try_take(&b, 1, T0 + 250 * MS), 1 * MS, "debt paid after 250 ms");
	report_eq(try_take(&b, 1, T0 + 251 * MS), 0, "then the rate again");
	report_eq(tbucket_wait(&b, 0, T0 + 251 * MS), 0, "zero tokens never wait");
	report_prefix_pop();
}

static void test_unlimited(void)
{
	struct tbucket b = bucket(0, 0, 100);

	report_prefix_push("unlimited");
	report_false(tbucket_limits(&b), "does not limit");
	for (int i = 0; i < 1000; i++)
		if (try_take(&b, UINT64_MAX, T0))
			break;
	report_eq(try_take(&b, UINT64_MAX, T0), 0, "size 0: no limit");
	b = bucket(1000, 0, 0);
	report_false(tbucket_limits(&b), "does not limit");
	report_eq(try_take(&b, UINT64_MAX, T0), 0, "refill_time 0: no limit");
	report_prefix_pop();
}

static void test_huge(void)
{
	struct tbucket b = bucket(UINT64_MAX, 0, UINT64_MAX);
	u64 w;

	report_prefix_push("huge");
	/* refill_ms * 10^6 saturates: about 584 years for 2^64 tokens. */
	report_eq(b.refill_ns, UINT64_MAX, "refill time saturates");
	report_eq(try_take(&b, UINT64_MAX, T0), 0, "a full 2^64-1 bucket");
	w = try_take(&b, UINT64_MAX, T0);
	report_eq(w, UINT64_MAX, "a whole bucket again: the full refill time");
	w = try_take(&b, 1ULL << 32, T0 + (1ULL << 62));
	report_eq(w, 0, "2^62 ns later: 2^62 tokens came, no overflow");
	report_eq(b.budget, (1ULL << 62) - (1ULL << 32), "exactly those");

	b = bucket(UINT64_MAX, UINT64_MAX, 1);		/* 2^64 tokens a ms */
	report_eq(try_take(&b, UINT64_MAX, T0), 0, "burst of 2^64-1");
	report_eq(try_take(&b, UINT64_MAX, T0), 0, "and the bucket");
	report_eq(try_take(&b, UINT64_MAX, T0 + MS), 0, "full after 1 ms");
	report_eq(try_take(&b, UINT64_MAX / 2, T0 + MS + MS / 2), 0,
		  "half after 0.5 ms");

	b = bucket(3, 0, UINT64_MAX / MS);
	report_eq(try_take(&b, 3, T0), 0, "tiny bucket, huge refill");
	w = try_take(&b, 1, T0);
	report_ge(w, (UINT64_MAX / MS) * MS / 3, "a third of the refill time");
	report_prefix_pop();
}

static void test_limiter(void)
{
	struct swdev_limiter l = { 0 };
	struct vdpa_bucket ops = { 10, 0, 1000 }, bw = { 4096, 0, 1000 };

	report_prefix_push("limiter");
	tbucket_init(&l.ops, &ops, T0);
	tbucket_init(&l.bw, &bw, T0);
	report_eq(swdev_limiter_take(&l, 4096, T0), 0, "one request of a full bucket");
	report_ne(swdev_limiter_take(&l, 1, T0), 0, "bytes empty: refused");
	report_eq(l.ops.budget, 9, "and its operation not taken");
	report_eq(swdev_limiter_take(&l, 0, T0), 0, "a request without data goes");
	report_eq(l.throttled, 1, "one throttled");
	report_prefix_pop();
}

int main(void)
{
	report_prefix_push("limiter");
	test_refill();
	test_burst();
	test_debt();
	test_unlimited();
	test_huge();
	test_limiter();
	return report_summary();
}
