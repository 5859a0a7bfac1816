// SPDX-License-Identifier: GPL-2.0-only
/*
 * Token buckets (limiter.h). The refill keeps its remainder: tokens come
 * at exactly @size per @refill_ns however often it is computed, and a
 * bucket refilled every nanosecond gets no more than one refilled once.
 */
#include "limiter.h"

#define NSEC_PER_MSEC	1000000ULL

typedef unsigned __int128 u128;

void tbucket_init(struct tbucket *b, const struct vdpa_bucket *cfg, u64 now_ns)
{
	u64 refill_ns;

	/* Saturated: a refill time of 584 years and more is "never". */
	if (__builtin_mul_overflow(cfg->refill_ms, NSEC_PER_MSEC, &refill_ns))
		refill_ns = UINT64_MAX;
	*b = (struct tbucket){
		.size = refill_ns ? cfg->size : 0,
		.refill_ns = refill_ns,
		.burst = cfg->one_time_burst,
		.last_ns = now_ns,
	};
	b->budget = b->size;
}

/* Bring @b up to @now_ns: pay the debt first, then fill up to @size. */
static void tbucket_refill(struct tbucket *b, u64 now_ns)
{
	u64 elapsed = now_ns > b->last_ns ? now_ns - b->last_ns : 0;
	u128 shortfall = (u128)b->debt + (b->size - b->budget);
	u128 acc, tokens;

	b->last_ns = now_ns;
	if (!shortfall) {
		b->rem = 0;
		return;
	}
	/* elapsed < 2^63 (monotonic ns), size < 2^64: no overflow. */
	acc = (u128)elapsed * b->size + b->rem;
	tokens = acc / b->refill_ns;
	if (tokens >= shortfall) {
		b->debt = 0;
		b->budget = b->size;
		b->rem = 0;
		return;
	}
	b->rem = (u64)(acc % b->refill_ns);
	if (tokens <= b->debt) {
		b->debt -= (u64)tokens;
		return;
	}
	tokens -= b->debt;
	b->debt = 0;
	b->budget += (u64)tokens;
}

u64 tbucket_wait(struct tbucket *b, u64 n, u64 now_ns)
{
	u64 need, want;
	u128 t, ns;

	if (!b->size || n <= b->burst)
		return 0;
	tbucket_refill(b, now_ns);
	need = n - b->burst;
	if (!b->debt && (need <= b->budget || b->budget == b->size))
		return 0;
	/*
	 * Tokens still to come: the debt, then @need, or a full bucket for a
	 * request larger than it. t < 2^64: a debt is what one request took
	 * beyond @size, and it is paid before a bucket's worth is wanted.
	 */
	want = need < b->size ? need : b->size;
	t = (u128)b->debt + want - b->budget;
	/* t * refill_ns < 2^128; @rem of it has already elapsed. */
	ns = ((u128)t * b->refill_ns - b->rem + b->size - 1) / b->size;
	if (ns > UINT64_MAX)
		return UINT64_MAX;
	return ns ? (u64)ns : 1;
}

void tbucket_take(struct tbucket *b, u64 n)
{
	u64 from_burst = n < b->burst ? n : b->burst;

	if (!b->size)
		return;
	b->burst -= from_burst;
	n -= from_burst;
	if (n <= b->budget) {
		b->budget -= n;
		return;
	}
	/* An oversized request on a full bucket: the rest is a debt. */
	b->debt = n - b->budget;
	b->budget = 0;
}

u64 swdev_limiter_take(struct swdev_limiter *l, u64 bytes, u64 now_ns)
{
	u64 wait_ops = tbucket_wait(&l->ops, 1, now_ns);
	u64 wait_bw = bytes ? tbucket_wait(&l->bw, bytes, now_ns) : 0;

	if (wait_ops || wait_bw) {
		l->throttled++;
		return wait_ops > wait_bw ? wait_ops : wait_bw;
	}
	tbucket_take(&l->ops, 1);
	if (bytes)
		tbucket_take(&l->bw, bytes);
	return 0;
}
