/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef GUEST_BOUNCE_H
#define GUEST_BOUNCE_H

/*
 * Bounce buffers: virtio I/O for data that lives in a protected guest's
 * private RAM (docs/protected.md, "I/O through the shared window").
 *
 * Devices reach only the shared window (RAM below X86_PRIVATE_RAM_START);
 * a descriptor into private RAM breaks the device. So a chain whose
 * buffers are private is posted through slots of a pool in the shared
 * window: the outgoing buffers are copied into their slots before the
 * chain is posted, and what the device wrote into the incoming slots is
 * copied out of them once the chain is used. The device sees only slot
 * addresses. A buffer already inside the shared window is posted as it is.
 *
 * Who may call what. On PVM hosts guest supervisor code runs in KVM's
 * emulator, which cannot reach private RAM; ring 3 runs natively and can.
 * So the two functions that copy between private RAM and the slots,
 * bounce_stage() and bounce_finish() (and bounce_add() / bounce_get(),
 * which call them), run in ring 3 whenever a buffer is private; every
 * other function touches only the shared window and runs anywhere. Two
 * ways to drive it:
 *
 *  - ring 3 does everything: bounce_add() and bounce_get() in a ring-3
 *    loop (rings, slots and doorbells are all reachable from ring 3), no
 *    ring transition per request (the benchmarks do this);
 *  - ring 3 copies, supervisor code posts: run_in_user() around a batch of
 *    bounce_stage(), then bounce_post() and the halting waits in ring 0,
 *    then run_in_user() around bounce_finish() of what came back (the
 *    guest tests do this; two ring transitions per batch).
 *
 * On VMX/SVM hosts every access is native and any of these may run at
 * any privilege level.
 *
 * Private data never passes through the ring-3 stack here (it is in the
 * shared window too): the copies are single rep movsb instructions.
 */
#include "virtio.h"

/* Most buffers a bounced chain may have. */
#define BOUNCE_MAX_SEGS		4
/* bounce_req.slot[] of a buffer posted as it is. */
#define BOUNCE_NO_SLOT		0xffff

/**
 * struct bounce_pool - fixed-size slots in the shared window
 * @window: the slots, @nslots * @slot_size bytes below X86_PRIVATE_RAM_START
 * @slot_size: bytes per slot: the largest buffer it can bounce
 * @nslots: slots
 * @nfree: entries of @free in use
 * @free: the free slots' indices (a stack)
 * @limit: a buffer not wholly below this is bounced; below it is posted
 *	as it is (X86_PRIVATE_RAM_START, or ~0 when nothing is bounced)
 * @bytes_out: bytes copied into slots so far
 * @bytes_in: bytes copied out of slots so far
 */
struct bounce_pool {
	u8 *window;
	u32 slot_size;
	u16 nslots;
	u16 nfree;
	u16 *free;
	u64 limit;
	u64 bytes_out;
	u64 bytes_in;
};

/**
 * struct bounce_req - one chain and where its buffers really are
 * @cookie: the caller's, given back by bounce_finish() / bounce_get()
 * @out: device-readable buffers (first), @in: device-writable ones
 * @slot: per buffer, its slot, or BOUNCE_NO_SLOT when posted as it is
 * @priv: per buffer, the caller's address (private or not)
 * @buf: the chain as the device sees it (slot addresses)
 * @used_len: the used element's length, once bounce_take() took it
 *
 * It is also the cookie the virtqueue holds, so it lives (in any RAM the
 * code driving the queue can reach) until the chain is used.
 */
struct bounce_req {
	void *cookie;
	u16 out;
	u16 in;
	u16 slot[BOUNCE_MAX_SEGS];
	void *priv[BOUNCE_MAX_SEGS];
	struct virtq_buf buf[BOUNCE_MAX_SEGS];
	u32 used_len;
};

/**
 * bounce_pool_init() - carve @nslots slots of @slot_size bytes from the shared window
 * @bounce: bounce private buffers (false: every buffer is posted as it is,
 *	the pool stays unused; for an unprotected guest)
 *
 * The slots come from virtio_alloc() (the same never-cleared area as the
 * rings). Any ring. Return: 0; -1 if the window has no room for them or
 * they would not lie wholly below X86_PRIVATE_RAM_START.
 */
int bounce_pool_init(struct bounce_pool *pool, u16 nslots, u32 slot_size, bool bounce);

/*
 * bounce_pool_reset() - every slot free again: after a device reset, when
 * the chains in flight are gone (their bounce_reqs must not be finished
 * or released after this). Any ring.
 */
void bounce_pool_reset(struct bounce_pool *pool);

/* Whether @len bytes at @addr would be bounced by @pool. Any ring. */
bool bounce_needed(const struct bounce_pool *pool, const void *addr, u32 len);

/**
 * bounce_stage() - give a chain's private buffers slots, copy the outgoing ones in
 * @bufs: @out device-readable buffers, then @in device-writable ones
 *	(their .write is ignored)
 * @cookie: handed back when the chain completes (not NULL)
 *
 * Ring 3 on PVM when an outgoing buffer is private (it reads it).
 * Return: 0 with @req ready for bounce_post(); -1 (nothing held) if there
 * are more than BOUNCE_MAX_SEGS buffers, one is larger than a slot, or
 * the pool has too few free slots.
 */
int bounce_stage(struct bounce_pool *pool, struct bounce_req *req,
		 const struct virtq_buf *bufs, unsigned int out, unsigned int in,
		 void *cookie);

/*
 * bounce_post() / bounce_post_indirect() - post a staged chain on @vq
 * (direct, or through one indirect table); the queue's cookie is @req.
 * Any ring (only the shared window is touched). Return: the head, or -1
 * when the ring lacks room (@req stays staged: post it later or release it).
 */
int bounce_post(struct virtqueue *vq, struct bounce_req *req);
int bounce_post_indirect(struct virtqueue *vq, struct bounce_req *req);

/*
 * bounce_take() - the next used chain of a queue fed by bounce_post(),
 * its used length in ->used_len; nothing is copied yet. Any ring.
 * Return: the chain, or NULL when none is used.
 */
struct bounce_req *bounce_take(struct virtqueue *vq);

/**
 * bounce_finish() - a used chain: copy what the device wrote out of its slots
 *
 * ->used_len bytes (bounce_take()'s: written into the device-writable
 * buffers, in order; clamped to their size, the device is not trusted)
 * go back to the caller's buffers, and @req's slots are freed. Ring 3 on
 * PVM when an incoming buffer is private (it writes it).
 * Return: the cookie given to bounce_stage().
 */
void *bounce_finish(struct bounce_pool *pool, struct bounce_req *req);

/**
 * struct bounce_batch - chains for bounce_finish_batch()
 * @pool: their pool
 * @req: the chains (from bounce_take())
 * @n: how many
 */
struct bounce_batch {
	struct bounce_pool *pool;
	struct bounce_req **req;
	unsigned int n;
};

/*
 * bounce_finish_batch() - bounce_finish() of every chain of @batch (a
 * struct bounce_batch), shaped for run_in_user(): supervisor code takes
 * the used chains, one ring-3 call copies them all. Return: @n.
 */
u64 bounce_finish_batch(void *batch);

/* Free @req's slots without copying (a chain never posted, or one used with nothing to copy back). Any ring. */
void bounce_release(struct bounce_pool *pool, struct bounce_req *req);

/*
 * bounce_add() - bounce_stage() then bounce_post(); releases @req if the
 * post fails. Ring 3 on PVM when an outgoing buffer is private.
 * Return: the head, or -1.
 */
int bounce_add(struct virtqueue *vq, struct bounce_pool *pool, struct bounce_req *req,
	       const struct virtq_buf *bufs, unsigned int out, unsigned int in,
	       void *cookie);

/*
 * bounce_get() - virtqueue_get() of a queue fed by bounce_post(), then
 * bounce_finish(). Ring 3 on PVM when an incoming buffer is private.
 * Return: the chain's cookie (bytes
 * written in *@len), or NULL when none is used.
 */
void *bounce_get(struct virtqueue *vq, struct bounce_pool *pool, u32 *len);

/**
 * private_alloc() - reserve @size bytes of private RAM (from X86_PRIVATE_RAM_START)
 *
 * Never freed, and not touched here: on PVM supervisor code cannot write
 * it, so the caller initialises it from ring 3. The RAM's end is the
 * Multiboot memory map's. Any ring. Return: the address, or NULL when the
 * guest has no RAM there or not enough left.
 */
void *private_alloc(size_t size, size_t align);

#endif /* GUEST_BOUNCE_H */
