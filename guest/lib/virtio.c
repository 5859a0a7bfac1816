// SPDX-License-Identifier: GPL-2.0-only
/*
 * Split virtqueues from the driver's side (virtio 1.2 §2.7): a free list
 * threaded through the descriptor table, direct and indirect chains,
 * EVENT_IDX in both directions, and completion by polling the used ring
 * or halting until the device's interrupt (or a 1 ms tick) wakes us.
 *
 * Ordering is x86 TSO: stores are seen in program order, so publishing a
 * chain needs only a compiler barrier before the avail->idx store; the
 * notification decision reads what the device wrote after our store, which
 * needs a full fence (pairs with the device's fence between its used->idx
 * store and its avail_event/flags read).
 */
#include "virtio.h"

#define VIRTIO_POOL_SIZE	(1u << 20)

/*
 * Outside .bss (start.S clears .bss in emulated ring 0 for every test,
 * virtio or not): the never-cleared NOLOAD area beside the stacks.
 * virtio_alloc() zeroes what it hands out.
 */
static u8 virtio_pool[VIRTIO_POOL_SIZE] __aligned(4096) __attribute__((section(".stacks")));
static size_t virtio_pool_used;

void *virtio_alloc(size_t size, size_t align)
{
	size_t off = (virtio_pool_used + align - 1) & ~(align - 1);

	if (off > VIRTIO_POOL_SIZE || size > VIRTIO_POOL_SIZE - off)
		return NULL;
	virtio_pool_used = off + size;
	memset(virtio_pool + off, 0, size);
	return virtio_pool + off;
}

static inline void virtio_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static inline u16 *vq_used_event(struct virtqueue *vq)
{
	return &vq->avail->ring[vq->num];
}

static inline u16 *vq_avail_event(struct virtqueue *vq)
{
	return (u16 *)&vq->used->ring[vq->num];
}

void virtqueue_init(struct virtqueue *vq, u16 num, bool event_idx, bool indirect)
{
	vq->num = num;
	memset(vq->desc, 0, sizeof(*vq->desc) * num);
	memset(vq->avail, 0, sizeof(*vq->avail) + sizeof(u16) * (num + 1));
	memset(vq->used, 0, sizeof(*vq->used) +
	       sizeof(struct vring_used_elem) * num + sizeof(u16));
	for (u16 i = 0; i < num; i++)
		vq->desc[i].next = (u16)(i + 1);
	vq->free_head = 0;
	vq->num_free = num;
	vq->last_used = vq->avail_idx = vq->kicked_idx = 0;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->kicks = 0;
	memset(vq->cookie, 0, sizeof(vq->cookie));
	memset(vq->ndesc, 0, sizeof(vq->ndesc));
}

void virtqueue_publish(struct virtqueue *vq, u16 head)
{
	vq->avail->ring[vq->avail_idx & (vq->num - 1)] = head;
	vq->avail_idx++;
	/* The slot and the chain before the index (device reads in order). */
	__atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
}

static void vq_fill(struct vring_desc *d, const struct virtq_buf *b)
{
	d->addr = (u64)(uintptr_t)b->addr;
	d->len = b->len;
	d->flags = b->write ? VRING_DESC_F_WRITE : 0;
}

int virtqueue_add(struct virtqueue *vq, const struct virtq_buf *bufs,
		  unsigned int out, unsigned int in, void *cookie)
{
	unsigned int n = out + in;
	u16 head, i;

	if (!n || !cookie || n > vq->num_free)
		return -1;
	head = i = vq->free_head;
	for (unsigned int k = 0; k < n; k++) {
		struct vring_desc *d = &vq->desc[i];
		struct virtq_buf b = bufs[k];

		b.write = k >= out;
		vq_fill(d, &b);
		if (k + 1 < n)
			d->flags |= VRING_DESC_F_NEXT;
		i = d->next;
	}
	vq->free_head = i;
	vq->num_free = (u16)(vq->num_free - n);
	vq->cookie[head] = cookie;
	vq->ndesc[head] = (u16)n;
	virtqueue_publish(vq, head);
	return head;
}

int virtqueue_add_indirect(struct virtqueue *vq, const struct virtq_buf *bufs,
			   unsigned int out, unsigned int in, void *cookie)
{
	unsigned int n = out + in;
	struct vring_desc *t, *d;
	u16 head;

	if (!vq->indirect || !n || n > VIRTQ_INDIRECT_MAX || !cookie ||
	    !vq->num_free)
		return -1;
	head = vq->free_head;
	if (!vq->itable[head]) {
		vq->itable[head] = virtio_alloc(sizeof(*t) * VIRTQ_INDIRECT_MAX, 16);
		if (!vq->itable[head])
			return -1;
	}
	t = vq->itable[head];
	for (unsigned int k = 0; k < n; k++) {
		struct virtq_buf b = bufs[k];

		b.write = k >= out;
		vq_fill(&t[k], &b);
		t[k].next = (u16)(k + 1);
		if (k + 1 < n)
			t[k].flags |= VRING_DESC_F_NEXT;
	}
	d = &vq->desc[head];
	vq->free_head = d->next;
	vq->num_free--;
	d->addr = (u64)(uintptr_t)t;
	d->len = (u32)(sizeof(*t) * n);
	d->flags = VRING_DESC_F_INDIRECT;
	vq->cookie[head] = cookie;
	vq->ndesc[head] = 1;
	virtqueue_publish(vq, head);
	return head;
}

/* virtio 1.2 §2.7.10: notify if the device's event index was crossed. */
static bool vring_need_event(u16 event, u16 new_idx, u16 old)
{
	return (u16)(new_idx - event - 1) < (u16)(new_idx - old);
}

void virtqueue_notify(struct virtqueue *vq)
{
	vq->kicks++;
	virtio_transport_notify(vq->vdev, vq->index);
}

void virtqueue_kick(struct virtqueue *vq)
{
	u16 old = vq->kicked_idx, new_idx = vq->avail_idx;
	bool need;

	/* Our avail->idx store before reading the device's suppression. */
	virtio_mb();
	if (vq->event_idx)
		need = vring_need_event(READ_ONCE(*vq_avail_event(vq)), new_idx, old);
	else
		need = !(READ_ONCE(vq->used->flags) & VRING_USED_F_NO_NOTIFY);
	vq->kicked_idx = new_idx;
	if (need)
		virtqueue_notify(vq);
}

u16 virtqueue_pending_used(struct virtqueue *vq)
{
	return (u16)(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) - vq->last_used);
}

void virtqueue_enable_cb(struct virtqueue *vq)
{
	if (vq->event_idx)
		WRITE_ONCE(*vq_used_event(vq), vq->last_used);
	else
		WRITE_ONCE(vq->avail->flags, 0);
	virtio_mb();
}

void *virtqueue_get(struct virtqueue *vq, u32 *len)
{
	struct vring_used_elem e;
	void *cookie;
	u16 i, n;

	if (!virtqueue_pending_used(vq))
		return NULL;
	e = vq->used->ring[vq->last_used & (vq->num - 1)];
	vq->last_used++;
	/* The device is not trusted either: an unknown head is dropped. */
	if (e.id >= vq->num || !vq->cookie[e.id])
		return NULL;
	cookie = vq->cookie[e.id];
	vq->cookie[e.id] = NULL;
	if (len)
		*len = e.len;
	/* Give the chain back to the free list. */
	n = vq->ndesc[e.id];
	i = (u16)e.id;
	for (u16 k = 1; k < n; k++)
		i = vq->desc[i].next;
	vq->desc[i].next = vq->free_head;
	vq->free_head = (u16)e.id;
	vq->num_free = (u16)(vq->num_free + n);
	if (vq->event_idx)
		WRITE_ONCE(*vq_used_event(vq), vq->last_used);
	return cookie;
}

bool virtqueue_wait_pending(struct virtqueue *vq, unsigned int ms)
{
	for (unsigned int t = 0; t <= ms; t++) {
		u32 seen = vq->vdev->vring_irqs;

		if (virtqueue_pending_used(vq))
			return true;
		virtqueue_enable_cb(vq);
		if (virtqueue_pending_used(vq))
			return true;
		virtio_wait_counter(&vq->vdev->vring_irqs, seen, 0);
	}
	return virtqueue_pending_used(vq) != 0;
}

void *virtqueue_wait(struct virtqueue *vq, u32 *len, unsigned int ms)
{
	virtqueue_wait_pending(vq, ms);
	return virtqueue_get(vq, len);
}
