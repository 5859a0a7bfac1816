// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bounce buffers through the shared window (bounce.h, docs/protected.md).
 * Slot bookkeeping is a stack of free indices; a chain takes one slot per
 * bounced buffer and gives them back when it is finished or released.
 */
#include "bounce.h"
#include "x86/multiboot.h"

#include <kestrel/x86/layout.h>

void bounce_pool_reset(struct bounce_pool *pool)
{
	for (u16 i = 0; i < pool->nslots; i++)
		pool->free[i] = (u16)(pool->nslots - 1 - i);
	pool->nfree = pool->nslots;
}

int bounce_pool_init(struct bounce_pool *pool, u16 nslots, u32 slot_size, bool bounce)
{
	u8 *window = virtio_alloc((size_t)nslots * slot_size, 64);
	u16 *free = virtio_alloc(sizeof(*free) * nslots, 2);

	if (!nslots || !slot_size || !window || !free ||
	    (u64)(uintptr_t)window + (u64)nslots * slot_size > X86_PRIVATE_RAM_START)
		return -1;
	pool->window = window;
	pool->slot_size = slot_size;
	pool->nslots = nslots;
	pool->free = free;
	bounce_pool_reset(pool);
	pool->limit = bounce ? X86_PRIVATE_RAM_START : ~0ull;
	pool->bytes_out = pool->bytes_in = 0;
	return 0;
}

bool bounce_needed(const struct bounce_pool *pool, const void *addr, u32 len)
{
	u64 a = (u64)(uintptr_t)addr;

	return a >= pool->limit || len > pool->limit - a;
}

void bounce_release(struct bounce_pool *pool, struct bounce_req *req)
{
	for (unsigned int k = 0; k < (unsigned int)(req->out + req->in); k++) {
		if (req->slot[k] == BOUNCE_NO_SLOT)
			continue;
		pool->free[pool->nfree++] = req->slot[k];
		req->slot[k] = BOUNCE_NO_SLOT;
	}
	req->out = req->in = 0;
}

int bounce_stage(struct bounce_pool *pool, struct bounce_req *req,
		 const struct virtq_buf *bufs, unsigned int out, unsigned int in,
		 void *cookie)
{
	unsigned int n = out + in;

	if (!n || n > BOUNCE_MAX_SEGS || !cookie)
		return -1;
	req->cookie = cookie;
	req->out = req->in = 0;
	req->used_len = 0;
	for (unsigned int k = 0; k < n; k++) {
		const struct virtq_buf *b = &bufs[k];
		bool write = k >= out;
		u8 *slot;

		req->priv[k] = b->addr;
		req->slot[k] = BOUNCE_NO_SLOT;
		req->buf[k] = (struct virtq_buf){ b->addr, b->len, write };
		/* Counted as they are set up, so a release undoes just these. */
		if (write)
			req->in++;
		else
			req->out++;
		if (!bounce_needed(pool, b->addr, b->len))
			continue;
		if (b->len > pool->slot_size || !pool->nfree) {
			bounce_release(pool, req);
			return -1;
		}
		req->slot[k] = pool->free[--pool->nfree];
		slot = pool->window + (size_t)req->slot[k] * pool->slot_size;
		req->buf[k].addr = slot;
		if (!write) {
			memcpy(slot, b->addr, b->len);
			pool->bytes_out += b->len;
		}
	}
	return 0;
}

int bounce_post(struct virtqueue *vq, struct bounce_req *req)
{
	return virtqueue_add(vq, req->buf, req->out, req->in, req);
}

int bounce_post_indirect(struct virtqueue *vq, struct bounce_req *req)
{
	return virtqueue_add_indirect(vq, req->buf, req->out, req->in, req);
}

struct bounce_req *bounce_take(struct virtqueue *vq)
{
	struct bounce_req *req;
	u32 len = 0;

	req = virtqueue_get(vq, &len);
	if (req)
		req->used_len = len;
	return req;
}

void *bounce_finish(struct bounce_pool *pool, struct bounce_req *req)
{
	void *cookie = req->cookie;
	u32 left = req->used_len;

	for (unsigned int k = req->out; k < (unsigned int)(req->out + req->in) && left; k++) {
		u32 n = MIN(left, req->buf[k].len);

		if (req->slot[k] != BOUNCE_NO_SLOT) {
			memcpy(req->priv[k], req->buf[k].addr, n);
			pool->bytes_in += n;
		}
		left -= n;
	}
	bounce_release(pool, req);
	return cookie;
}

u64 bounce_finish_batch(void *arg)
{
	struct bounce_batch *batch = arg;

	for (unsigned int i = 0; i < batch->n; i++)
		bounce_finish(batch->pool, batch->req[i]);
	return batch->n;
}

int bounce_add(struct virtqueue *vq, struct bounce_pool *pool, struct bounce_req *req,
	       const struct virtq_buf *bufs, unsigned int out, unsigned int in,
	       void *cookie)
{
	int head;

	if (bounce_stage(pool, req, bufs, out, in, cookie))
		return -1;
	head = bounce_post(vq, req);
	if (head < 0)
		bounce_release(pool, req);
	return head;
}

void *bounce_get(struct virtqueue *vq, struct bounce_pool *pool, u32 *len)
{
	struct bounce_req *req = bounce_take(vq);

	if (!req)
		return NULL;
	if (len)
		*len = req->used_len;
	return bounce_finish(pool, req);
}

/* End of the RAM that holds X86_PRIVATE_RAM_START, from the memory map; 0 if none. */
static u64 private_ram_end(void)
{
	const struct mb_info *mbi = multiboot_info();
	u64 at, end;

	if (!mbi || !(mbi->flags & MB_INFO_MMAP))
		return 0;
	at = mbi->mmap_addr;
	end = at + mbi->mmap_length;
	while (at + sizeof(struct mb_mmap_entry) <= end) {
		const struct mb_mmap_entry *e = (const void *)(uintptr_t)at;

		if (e->type == MB_MMAP_AVAILABLE && e->addr <= X86_PRIVATE_RAM_START &&
		    e->addr + e->len > X86_PRIVATE_RAM_START)
			return e->addr + e->len;
		at += e->size + sizeof(e->size);
	}
	return 0;
}

void *private_alloc(size_t size, size_t align)
{
	static u64 next = X86_PRIVATE_RAM_START;
	u64 end = private_ram_end(), at = (next + align - 1) & ~(u64)(align - 1);

	if (at > end || size > end - at)
		return NULL;
	next = at + size;
	return (void *)(uintptr_t)at;
}
