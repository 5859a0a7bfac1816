// SPDX-License-Identifier: GPL-2.0-only
/*
 * Virtqueues from the driver's side: split rings (virtio 1.2 §2.7: a free
 * list threaded through the descriptor table, EVENT_IDX in both
 * directions) and packed rings (§2.8: one descriptor ring both sides
 * write, wrap counters, buffer IDs from a free list of their own, the two
 * event suppression areas), each with direct and indirect chains, and
 * completion by polling or halting until the device's interrupt (or a
 * 1 ms tick) wakes us.
 *
 * Ordering is x86 TSO: stores are seen in program order, so publishing a
 * chain needs only a compiler barrier before the avail->idx store (packed:
 * before the first descriptor's flags); the notification decision reads
 * what the device wrote after our store, which needs a full fence (pairs
 * with the device's fence between its used->idx store, packed: its used
 * flags store, and its read of the suppression it was given). Reading a
 * completion is the mirror: used->idx (packed: the used descriptor's
 * flags) with acquire, then the entry.
 */
#include "virtio.h"
#include "x86/multiboot.h"

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

bool virtio_cmdline_packed(void)
{
	static int packed = -1;

	if (packed < 0)
		packed = multiboot_has_arg("packed");
	return packed;
}

void virtqueue_init(struct virtqueue *vq, u16 num, bool packed, bool event_idx, bool indirect)
{
	vq->num = num;
	vq->packed = packed;
	vq->free_head = 0;
	vq->num_free = num;
	vq->last_used = vq->avail_idx = vq->kicked_idx = 0;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->kicks = 0;
	memset(vq->cookie, 0, sizeof(vq->cookie));
	memset(vq->ndesc, 0, sizeof(vq->ndesc));
	if (packed) {
		memset(vq->pdesc, 0, sizeof(*vq->pdesc) * num);
		memset(vq->driver_event, 0, sizeof(*vq->driver_event));
		memset(vq->device_event, 0, sizeof(*vq->device_event));
		for (u16 i = 0; i < num; i++)
			vq->next_id[i] = (u16)(i + 1);
		/* §2.8.1: both wrap counters start at 1. */
		vq->avail_wrap = vq->used_wrap = true;
		if (event_idx) {
			/* Interrupt at the first used descriptor, as used_event 0 does. */
			vq->driver_event->off_wrap = VRING_PACKED_EVENT_WRAP;
			vq->driver_event->flags = VRING_PACKED_EVENT_FLAG_DESC;
		}
		return;
	}
	memset(vq->desc, 0, sizeof(*vq->desc) * num);
	memset(vq->avail, 0, sizeof(*vq->avail) + sizeof(u16) * (num + 1));
	memset(vq->used, 0, sizeof(*vq->used) +
	       sizeof(struct vring_used_elem) * num + sizeof(u16));
	for (u16 i = 0; i < num; i++)
		vq->desc[i].next = (u16)(i + 1);
}

/* ---- packed rings (virtio 1.2 §2.8) ------------------------------------------------ */

/* The AVAIL/USED bits that make a descriptor available in lap @wrap (§2.8.1). */
static inline u16 packed_avail_bits(bool wrap)
{
	return wrap ? VRING_PACKED_DESC_F_AVAIL : VRING_PACKED_DESC_F_USED;
}

/* Whether @flags mark a descriptor the device used in lap @wrap (§2.8.2). */
static inline bool packed_is_used(u16 flags, bool wrap)
{
	bool avail = flags & VRING_PACKED_DESC_F_AVAIL;
	bool used = flags & VRING_PACKED_DESC_F_USED;

	return avail == used && used == wrap;
}

/*
 * Writing a chain into the ring: descriptors go to consecutive slots
 * (wrapping, and flipping the lap's AVAIL/USED bits, at the end), the
 * first one's flags held back until packed_end() stores them last.
 */
struct packed_writer {
	u16 head, pos, n, head_flags;
	bool wrap;
};

static void packed_begin(const struct virtqueue *vq, struct packed_writer *w)
{
	*w = (struct packed_writer){ .head = vq->avail_idx, .pos = vq->avail_idx,
				     .wrap = vq->avail_wrap };
}

static void packed_put(struct virtqueue *vq, struct packed_writer *w, u64 addr, u32 len,
		       u16 id, u16 flags)
{
	struct vring_packed_desc *r = &vq->pdesc[w->pos];

	r->addr = addr;
	r->len = len;
	r->id = id;
	if (w->n++)
		r->flags = flags;
	else
		w->head_flags = flags;
	if (++w->pos == vq->num) {
		w->pos = 0;
		w->wrap = !w->wrap;
	}
}

static void packed_end(struct virtqueue *vq, const struct packed_writer *w)
{
	vq->avail_idx = w->pos;
	vq->avail_wrap = w->wrap;
	vq->kicked_idx = (u16)(vq->kicked_idx + w->n);
	/* §2.8.6: the whole chain before the first descriptor's flags. */
	if (w->n)
		__atomic_store_n(&vq->pdesc[w->head].flags, w->head_flags, __ATOMIC_RELEASE);
}

void virtqueue_packed_publish(struct virtqueue *vq, const struct vring_packed_desc *d,
			      unsigned int n, bool raw)
{
	struct packed_writer w;

	packed_begin(vq, &w);
	for (unsigned int k = 0; k < n; k++)
		packed_put(vq, &w, d[k].addr, d[k].len, d[k].id,
			   (u16)(d[k].flags | (raw ? 0 : packed_avail_bits(w.wrap))));
	packed_end(vq, &w);
}

static int packed_take_id(struct virtqueue *vq, void *cookie, u16 ndesc)
{
	u16 id = vq->free_head;

	vq->free_head = vq->next_id[id];
	vq->num_free = (u16)(vq->num_free - ndesc);
	vq->cookie[id] = cookie;
	vq->ndesc[id] = ndesc;
	return id;
}

static int packed_add(struct virtqueue *vq, const struct virtq_buf *bufs,
		      unsigned int out, unsigned int in, void *cookie)
{
	unsigned int n = out + in;
	struct packed_writer w;
	int id = packed_take_id(vq, cookie, (u16)n);

	packed_begin(vq, &w);
	for (unsigned int k = 0; k < n; k++)
		/* Every descriptor carries the ID; the device reads the last's (§2.8.6). */
		packed_put(vq, &w, (u64)(uintptr_t)bufs[k].addr, bufs[k].len, (u16)id,
			   (u16)((k >= out ? VRING_DESC_F_WRITE : 0) |
				 (k + 1 < n ? VRING_DESC_F_NEXT : 0) |
				 packed_avail_bits(w.wrap)));
	packed_end(vq, &w);
	return id;
}

static int packed_add_indirect(struct virtqueue *vq, const struct virtq_buf *bufs,
			       unsigned int out, unsigned int in, void *cookie)
{
	unsigned int n = out + in;
	struct vring_packed_desc *t, d;
	u16 id = vq->free_head;

	if (!vq->itable[id]) {
		vq->itable[id] = virtio_alloc(sizeof(*t) * VIRTQ_INDIRECT_MAX, 16);
		if (!vq->itable[id])
			return -1;
	}
	t = vq->itable[id];
	/* §2.8.8: a table is read in order; WRITE is its only flag. */
	for (unsigned int k = 0; k < n; k++) {
		t[k].addr = (u64)(uintptr_t)bufs[k].addr;
		t[k].len = bufs[k].len;
		t[k].id = 0;
		t[k].flags = k >= out ? VRING_DESC_F_WRITE : 0;
	}
	packed_take_id(vq, cookie, 1);
	d.addr = (u64)(uintptr_t)t;
	d.len = (u32)(sizeof(*t) * n);
	d.id = id;
	d.flags = VRING_DESC_F_INDIRECT;
	virtqueue_packed_publish(vq, &d, 1, false);
	return id;
}

/*
 * The used descriptor at the driver's position, if the device wrote one:
 * its ID is checked against what we have out (the device is not trusted).
 * Return: true with *@id and *@len, false if none is there yet.
 */
static bool packed_peek(struct virtqueue *vq, u16 pos, bool wrap, u16 *id, u32 *len)
{
	const struct vring_packed_desc *d = &vq->pdesc[pos];
	u16 flags = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);

	if (!packed_is_used(flags, wrap))
		return false;
	*id = READ_ONCE(d->id);
	*len = READ_ONCE(d->len);
	return true;
}

/* Step @pos/@wrap over @n slots. */
static void packed_advance(const struct virtqueue *vq, u16 *pos, bool *wrap, u16 n)
{
	u32 p = (u32)*pos + n;

	if (p >= vq->num) {
		p -= vq->num;
		*wrap = !*wrap;
	}
	*pos = (u16)p;
}

static bool packed_id_out(const struct virtqueue *vq, u16 id)
{
	return id < vq->num && vq->cookie[id];
}

static u16 packed_pending_used(struct virtqueue *vq)
{
	u16 pos = vq->last_used, id, n = 0;
	bool wrap = vq->used_wrap;
	u32 len;

	/* At most one used descriptor per buffer out, so this ends. */
	while (n < vq->num && packed_peek(vq, pos, wrap, &id, &len) &&
	       packed_id_out(vq, id)) {
		n++;
		packed_advance(vq, &pos, &wrap, vq->ndesc[id]);
	}
	return n;
}

static void packed_write_event(struct virtqueue *vq)
{
	/* off_wrap before flags: the device reads flags first (§2.8.10). */
	WRITE_ONCE(vq->driver_event->off_wrap,
		   (u16)(vq->last_used | (vq->used_wrap ? VRING_PACKED_EVENT_WRAP : 0)));
	WRITE_ONCE(vq->driver_event->flags, VRING_PACKED_EVENT_FLAG_DESC);
}

static void *packed_get(struct virtqueue *vq, u32 *len)
{
	void *cookie;
	u16 id;
	u32 l;

	if (!packed_peek(vq, vq->last_used, vq->used_wrap, &id, &l))
		return NULL;
	if (!packed_id_out(vq, id)) {
		/* Not ours: step over the slot; the test sees a chain missing. */
		packed_advance(vq, &vq->last_used, &vq->used_wrap, 1);
		return NULL;
	}
	cookie = vq->cookie[id];
	vq->cookie[id] = NULL;
	if (len)
		*len = l;
	/* §2.8.7: the device skips the rest of the chain's slots. */
	packed_advance(vq, &vq->last_used, &vq->used_wrap, vq->ndesc[id]);
	vq->num_free = (u16)(vq->num_free + vq->ndesc[id]);
	vq->next_id[id] = vq->free_head;
	vq->free_head = id;
	if (vq->event_idx)
		packed_write_event(vq);
	return cookie;
}

/*
 * Whether the device asked to hear of the descriptors made available
 * since the last decision (§2.8.10): its event area says enable, disable,
 * or (EVENT_IDX) a slot and the lap it belongs to.
 */
static bool packed_need_kick(struct virtqueue *vq)
{
	u16 flags = READ_ONCE(vq->device_event->flags);
	u16 off_wrap, event, new_idx = vq->avail_idx;
	u16 old = (u16)(new_idx - vq->kicked_idx);

	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (flags != VRING_PACKED_EVENT_FLAG_DESC || !vq->event_idx)
		return true;
	off_wrap = READ_ONCE(vq->device_event->off_wrap);
	event = off_wrap & (u16)~VRING_PACKED_EVENT_WRAP;
	/*
	 * One line for both laps: a slot of the lap before the driver's
	 * current one counts num lower, so old..new_idx is one interval
	 * (u16 arithmetic; sizes are at most 2^15).
	 */
	if (!(off_wrap & VRING_PACKED_EVENT_WRAP) != !vq->avail_wrap)
		event = (u16)(event - vq->num);
	return (u16)(new_idx - event - 1) < (u16)(new_idx - old);
}

/* ---- split rings (virtio 1.2 §2.7) --------------------------------------------------- */

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
	if (vq->packed)
		return packed_add(vq, bufs, out, in, cookie);
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
	if (vq->packed)
		return packed_add_indirect(vq, bufs, out, in, cookie);
	head = vq->free_head;
	if (!vq->itable[head]) {
		vq->itable[head] = virtio_alloc(sizeof(*t) * VIRTQ_INDIRECT_MAX, 16);
		if (!vq->itable[head])
			return -1;
	}
	t = (struct vring_desc *)vq->itable[head];
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
	if (vq->packed) {
		need = packed_need_kick(vq);
		vq->kicked_idx = 0;
		if (need)
			virtqueue_notify(vq);
		return;
	}
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
	if (vq->packed)
		return packed_pending_used(vq);
	return (u16)(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) - vq->last_used);
}

void virtqueue_enable_cb(struct virtqueue *vq)
{
	if (vq->packed && vq->event_idx)
		packed_write_event(vq);
	else if (vq->packed)
		WRITE_ONCE(vq->driver_event->flags, VRING_PACKED_EVENT_FLAG_ENABLE);
	else if (vq->event_idx)
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

	if (vq->packed)
		return packed_get(vq, len);
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
