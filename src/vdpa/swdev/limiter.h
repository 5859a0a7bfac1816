/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Token buckets and rate limiters of the software-device core (private to
 * src/vdpa/). A bucket holds up to @size tokens and refills continuously
 * at @size tokens per @refill time, so that an empty bucket is full again
 * after @refill; a one-time burst is spent before the bucket and never
 * refills. A limiter has two buckets, one of bytes and one of operations;
 * a request takes one operation and its bytes from both, or from neither.
 *
 * A request larger than the whole bucket would never fit: it goes once the
 * bucket is full and leaves the excess as a debt, which the refill pays
 * before the bucket fills again. Over any interval the tokens taken are
 * thus at most size + one-time burst + rate x time (plus the excess of one
 * oversized request).
 *
 * Times are CLOCK_MONOTONIC nanoseconds. Sizes and refill times may be as
 * large as u64 holds: the arithmetic is done in 128 bits.
 */
#ifndef KESTREL_VDPA_SWDEV_LIMITER_H
#define KESTREL_VDPA_SWDEV_LIMITER_H

#include <kestrel/types.h>
#include <kestrel/vdpa-dev.h>

/**
 * struct tbucket - one token bucket
 * @size: tokens a full bucket holds; 0: the bucket does not limit
 * @refill_ns: time to refill an empty bucket
 * @burst: one-time tokens left (spent first, never refilled)
 * @budget: tokens in the bucket, at most @size
 * @debt: tokens an oversized request took beyond @size (then @budget is 0)
 * @rem: fraction of a token refilled, in units of 1/@refill_ns tokens
 * @last_ns: when the refill was last computed
 */
struct tbucket {
	u64 size;
	u64 refill_ns;
	u64 burst;
	u64 budget;
	u64 debt;
	u64 rem;
	u64 last_ns;
};

/**
 * tbucket_init() - a full bucket from its configuration
 * @b: the bucket
 * @cfg: size, one-time burst, refill time (ms); a size or refill time of
 *	0 makes a bucket that does not limit
 * @now_ns: the time
 */
void tbucket_init(struct tbucket *b, const struct vdpa_bucket *cfg, u64 now_ns);

/** tbucket_limits() - whether @b limits at all */
static inline bool tbucket_limits(const struct tbucket *b)
{
	return b->size != 0;
}

/**
 * tbucket_wait() - how long until @n tokens can be taken
 * @b: the bucket (its refill is brought up to @now_ns)
 * @n: tokens
 * @now_ns: the time, not before the previous call's
 *
 * Return: 0 when they can be taken now (tbucket_take()), else the
 * nanoseconds to wait (at least 1, saturated at UINT64_MAX).
 */
u64 tbucket_wait(struct tbucket *b, u64 n, u64 now_ns);

/** tbucket_take() - take @n tokens tbucket_wait() just allowed */
void tbucket_take(struct tbucket *b, u64 n);

/**
 * struct swdev_limiter - a rate limiter: bytes and operations
 * @bw: bytes
 * @ops: operations
 * @on: either bucket limits
 * @throttled: requests sent back because a bucket was empty
 */
struct swdev_limiter {
	struct tbucket bw;
	struct tbucket ops;
	bool on;
	u64 throttled;
};

/**
 * swdev_limiter_take() - let one request of @bytes through, or not
 * @l: the limiter
 * @bytes: the request's bytes (0: it moves no data, only an operation)
 * @now_ns: the time
 *
 * Return: 0 when one operation and @bytes were taken; else the
 * nanoseconds until both buckets have them (nothing is taken).
 */
u64 swdev_limiter_take(struct swdev_limiter *l, u64 bytes, u64 now_ns);

#endif /* KESTREL_VDPA_SWDEV_LIMITER_H */
