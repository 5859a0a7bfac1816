/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vringh: the host (device) side of a virtqueue.
 *
 * A struct vringh walks a split virtqueue (virtio 1.2 §2.7) that a driver
 * owns, reaching its memory in one of two ways:
 *  - VRINGH_MEM_IOTLB: every ring and buffer address is an IOVA translated
 *    through a struct iotlb (kestrel/iotlb.h), with permissions checked;
 *  - VRINGH_MEM_HOST: addresses are host pointers, confined to one
 *    caller-given window [base, base + len).
 * The layout is the split ring, or the packed ring (virtio 1.2 §2.8) when
 * VIRTIO_F_RING_PACKED is in the features given at init; every function
 * below works on both (see "Packed rings" further down for what differs).
 *
 * Every byte of the ring is hostile. A chain is read descriptor by
 * descriptor into private copies (no double fetch), every index, length and
 * address is bounded, and work per call is bounded by the ring size. Buffers
 * are translated when the chain is gathered, so the iovecs handed back hold
 * host pointers (usable with readv/writev) and a bad address is reported by
 * vringh_getdesc(), before the device touched anything.
 *
 * Errors: once a call finds the ring malformed, the vringh is *broken*: the
 * error is remembered and every later call returns it, until the next
 * vringh_init_*(). The device then sets VIRTIO_CONFIG_S_NEEDS_RESET. Only a
 * rate-limited log line is printed (nothing per descriptor). The causes and
 * their codes, each distinct:
 *
 *   -EILSEQ     avail->idx moved more than the ring size past the last index
 *               the device consumed (virtio 1.2 §2.7.13.3: the driver never
 *               exposes more than num buffers)
 *   -ERANGE     a head index read from the avail ring is >= ring size
 *   -ENXIO      a descriptor's next index is >= the size of its table
 *   -ELOOP      a chain visits more descriptors in one table than the table
 *               holds: a loop
 *   -E2BIG      a chain (direct plus indirect descriptors) is longer than the
 *               ring size, without looping (virtio 1.2 §2.7.13.1)
 *   -EMLINK     an indirect descriptor inside an indirect table, an indirect
 *               descriptor with NEXT set, or one when
 *               VIRTIO_RING_F_INDIRECT_DESC was not negotiated (§2.7.5.3.1)
 *   -EMSGSIZE   an indirect table length that is zero, not a multiple of 16,
 *               or longer than ring size * 16 (§2.7.5.3.1)
 *   -EPROTO     a device-readable descriptor after a device-writable one
 *               (§2.7.4.2: readable ones come first)
 *   -EACCES     a descriptor direction the caller passed no iov for
 *               (readable with @riov NULL, writable with @wiov NULL)
 *   -EOVERFLOW  the byte lengths of one chain sum past U32_MAX (§2.7.13.1:
 *               chains are at most 2^32 bytes; used.len is 32 bits)
 *   -EFAULT     a buffer, descriptor table, or ring area is not mapped (or
 *               outside the host window, or address + length wraps)
 *   -EPERM      it is mapped without the permission needed: readable
 *               buffers, descriptors and the avail ring need IOTLB_PERM_RO,
 *               writable buffers and the used ring need IOTLB_PERM_WO
 *   -ENOBUFS    the chain needs more segments than the iov may hold (a fixed
 *               array, or the growth limit VRINGH_IOV_MAX)
 * Packed rings only (the table above applies too, except -EILSEQ's split
 * meaning, -ENXIO and -ELOOP, which a packed ring cannot produce):
 *   -EBADMSG    a descriptor where an available one must be has AVAIL and
 *               USED both equal to the ring wrap counter: it claims to be a
 *               used descriptor of the current lap, which only the device
 *               writes (§2.8.1)
 *   -EILSEQ     a later descriptor of a chain is not marked available for
 *               its lap (AVAIL differs from the wrap counter it must carry;
 *               §2.8.6: every descriptor of a list carries the flags)
 *   -ERANGE     a chain's buffer ID is >= ring size
 *   -EALREADY   a chain's buffer ID belongs to a chain still in flight
 *   -E2BIG      a chain has more descriptors than the ring (§2.8.16)
 *   -EMLINK     also: an indirect descriptor that is not alone in its chain
 *               (after a NEXT), or one inside an indirect table (§2.8.19)
 * Not ring errors (the ring is not broken, nothing was consumed):
 *   -ENOMEM     growing an iov failed; retry later
 *   -EINVAL     bad arguments from the caller (init, completing a head >= num)
 *
 * Threads: one vringh and its iovs are used by one thread at a time (the
 * device's worker for that queue); nothing inside is locked. The IOTLB may
 * change under it (see iotlb.h): the ring areas are re-translated whenever
 * the IOTLB generation changes.
 *
 * Barriers (virtio 1.2 §2.7.7, §2.7.10, §2.7.13): the device side pairs
 * with the driver's as follows.
 *  - vringh_getdesc(): reads avail->idx, then a read barrier before reading
 *    avail->ring[] and descriptors; pairs with the driver's write barrier
 *    between filling descriptors/avail->ring[] and storing avail->idx.
 *  - vringh_complete*(): writes used->ring[], a write barrier, then stores
 *    used->idx; pairs with the driver's read barrier between loading
 *    used->idx and reading used->ring[] and the buffers.
 *  - vringh_need_notify(): a full barrier between the used->idx store and
 *    loading used_event / avail->flags; pairs with the driver's full barrier
 *    between storing used_event (or clearing NO_INTERRUPT) and re-reading
 *    used->idx when it re-enables callbacks.
 *  - vringh_notify_enable(): stores avail_event (or clears NO_NOTIFY), a
 *    full barrier, then re-reads avail->idx; pairs with the driver's full
 *    barrier between storing avail->idx and loading avail_event / used->flags
 *    to decide whether to kick.
 * Packed rings (virtio 1.2 §2.8.17, §2.8.20, §2.8.21) pair the same way,
 * the descriptor flags taking the indices' place:
 *  - vringh_getdesc(): loads the flags of the descriptor at the next avail
 *    position (acquire), then reads the rest of it and the later
 *    descriptors of its chain; pairs with the driver's write barrier
 *    between writing a list and storing its first descriptor's flags.
 *  - vringh_complete*(): writes the used descriptor's id and len, a write
 *    barrier, then its flags (for several, every other one first and the
 *    first one's flags last); pairs with the driver's read barrier between
 *    seeing USED flip and reading id, len and the buffers.
 *  - vringh_need_notify(): a full barrier between the flags store and
 *    loading the driver event suppression flags, then a read barrier
 *    before its off_wrap; pairs with the driver's write barrier between
 *    off_wrap and flags, and its full barrier before re-checking the ring
 *    when it re-enables interrupts.
 *  - vringh_notify_enable(): stores the device event suppression (off_wrap,
 *    then flags), a full barrier, then re-reads the next descriptor's
 *    flags; pairs with the driver's full barrier between exposing a
 *    descriptor and loading the device event suppression to decide
 *    whether to kick.
 * The fast paths make the same accesses in the same order, nothing
 * weaker: vringh_getdesc()'s one-descriptor case loads the flags at the
 * avail position once (acquire), then addr, len and id once each; the
 * inline vringh_complete() writes id and len, a write barrier (release
 * fence), then the flags; vringh_complete_multi() writes a batch with the
 * first descriptor's flags last, after one write barrier.
 * @weak_barriers is accepted for API compatibility: in one host process the
 * SMP barriers (C11 fences) are always the right strength.
 *
 * Packed rings: @desc_addr is the descriptor ring (16-byte aligned, read
 * and written: used descriptors overwrite it), @avail_addr the driver event
 * suppression area (4 bytes, 4-aligned, read), @used_addr the device event
 * suppression area (4 bytes, 4-aligned, written). The ring size need not
 * be a power of two. The head vringh_getdesc() returns is the chain's
 * buffer ID (from its last descriptor, §2.8.6); it must be < ring size and
 * not in flight. Completing it writes one used descriptor and skips the
 * device past every ring descriptor of the chain. Positions in
 * vringh_get_state()/set_state() are 15-bit ring offsets with the wrap
 * counter in bit 15 (as vhost-user's SET_VRING_BASE encodes them).
 * VIRTIO_F_IN_ORDER is not used (no batched used descriptors).
 */
#ifndef KESTREL_VRINGH_H
#define KESTREL_VRINGH_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <kestrel/compiler.h>
#include <kestrel/iotlb.h>
#include <kestrel/types.h>

/* Split-ring wire layout (virtio 1.2 §2.7.5, §2.7.6, §2.7.8). */

#define VRINGH_DESC_F_NEXT		1	/* @next is valid */
#define VRINGH_DESC_F_WRITE		2	/* device writes the buffer */
#define VRINGH_DESC_F_INDIRECT		4	/* buffer is a descriptor table */
#define VRINGH_AVAIL_F_NO_INTERRUPT	1	/* driver: don't interrupt me */
#define VRINGH_USED_F_NO_NOTIFY		1	/* device: don't kick me */

/* Packed-ring wire layout (virtio 1.2 §2.8.1, §2.8.10, §2.8.13, §2.8.14). */

#define VRINGH_DESC_F_AVAIL		(1 << 7)
#define VRINGH_DESC_F_USED		(1 << 15)
#define VRINGH_EVENT_F_ENABLE		0	/* notify on every buffer */
#define VRINGH_EVENT_F_DISABLE		1	/* don't notify */
#define VRINGH_EVENT_F_DESC		2	/* at off_wrap (EVENT_IDX only) */
#define VRINGH_EVENT_WRAP		(1 << 15)	/* wrap counter in off_wrap */

/* Feature bits vringh looks at (virtio 1.2 §6). */
#define VRINGH_F_INDIRECT_DESC		(1ULL << 28)
#define VRINGH_F_EVENT_IDX		(1ULL << 29)
#define VRINGH_F_VERSION_1		(1ULL << 32)
#define VRINGH_F_RING_PACKED		(1ULL << 34)

/* Largest split ring (virtio 1.2 §2.7: Queue Size <= 32768). */
#define VRINGH_NUM_MAX			32768

/* Most segments an iov may grow to: what one readv/writev accepts. */
#define VRINGH_IOV_MAX			1024

/** struct vringh_desc - one descriptor (16 bytes, little-endian) */
struct vringh_desc {
	le64 addr;
	le32 len;
	le16 flags;
	le16 next;
};

/** struct vringh_avail - driver area: flags, idx, ring[num], used_event */
struct vringh_avail {
	le16 flags;
	le16 idx;
	le16 ring[];
};

/** struct vringh_used_elem - one used entry (8 bytes) */
struct vringh_used_elem {
	le32 id;
	le32 len;
};

/** struct vringh_used - device area: flags, idx, ring[num], avail_event */
struct vringh_used {
	le16 flags;
	le16 idx;
	struct vringh_used_elem ring[];
};

/** struct vringh_packed_desc - one packed-ring descriptor (16 bytes) */
struct vringh_packed_desc {
	le64 addr;
	le32 len;
	le16 id;
	le16 flags;
};

/** struct vringh_packed_event - an event suppression area (4 bytes) */
struct vringh_packed_event {
	le16 off_wrap;
	le16 flags;
};

_Static_assert(sizeof(struct vringh_packed_desc) == 16, "pvirtq_desc is 16 bytes");
_Static_assert(offsetof(struct vringh_packed_desc, id) == 12, "pvirtq_desc.id");
_Static_assert(offsetof(struct vringh_packed_desc, flags) == 14, "pvirtq_desc.flags");
_Static_assert(sizeof(struct vringh_packed_event) == 4, "pvirtq_event_suppress");
_Static_assert(sizeof(struct vringh_desc) == 16, "virtq_desc is 16 bytes");
_Static_assert(offsetof(struct vringh_desc, len) == 8, "virtq_desc.len");
_Static_assert(offsetof(struct vringh_desc, flags) == 12, "virtq_desc.flags");
_Static_assert(offsetof(struct vringh_desc, next) == 14, "virtq_desc.next");
_Static_assert(sizeof(struct vringh_avail) == 4, "virtq_avail header");
_Static_assert(sizeof(struct vringh_used_elem) == 8, "virtq_used_elem");
_Static_assert(sizeof(struct vringh_used) == 4, "virtq_used header");

/** vringh_desc_size() - bytes of a descriptor table of @num entries */
static inline size_t vringh_desc_size(unsigned int num)
{
	return (size_t)num * sizeof(struct vringh_desc);
}

/** vringh_avail_size() - bytes of an avail ring of @num, with used_event */
static inline size_t vringh_avail_size(unsigned int num)
{
	return sizeof(struct vringh_avail) + (size_t)num * sizeof(le16) + sizeof(le16);
}

/** vringh_used_size() - bytes of a used ring of @num, with avail_event */
static inline size_t vringh_used_size(unsigned int num)
{
	return sizeof(struct vringh_used) +
	       (size_t)num * sizeof(struct vringh_used_elem) + sizeof(le16);
}

/** enum vringh_ring_type - virtqueue layout */
enum vringh_ring_type {
	VRINGH_RING_SPLIT,
	VRINGH_RING_PACKED,	/* VIRTIO_F_RING_PACKED (virtio 1.2 §2.8) */
};

/** enum vringh_mem_type - how ring and buffer addresses reach memory */
enum vringh_mem_type {
	VRINGH_MEM_IOTLB,	/* IOVAs through a struct iotlb */
	VRINGH_MEM_HOST,	/* host pointers inside [host_start, host_last] */
};

/**
 * struct vringh_iov - the gathered buffers of one chain, in one direction
 * @iov: segments (host pointers); caller storage or heap
 * @used: segments filled
 * @i: cursor: segment being consumed
 * @max: capacity of @iov
 * @limit: how far @iov may grow (0: fixed at @max)
 * @off: cursor: bytes of @iov[@i] already consumed; may equal its length
 *	(the inline copies leave a used-up segment lazily: the next call that
 *	finds nothing left in it moves on)
 * @allocated: @iov is heap memory owned by this struct
 *
 * Filled by vringh_getdesc(), consumed by vringh_iov_pull()/push()/advance().
 * Short chains use the caller's storage and never allocate; a growable iov
 * doubles on the heap up to @limit segments. Call vringh_iov_cleanup() when
 * done with it (also after errors).
 */
struct vringh_iov {
	struct iovec *iov;
	unsigned int used;
	unsigned int i;		/* beside @used: one store resets both */
	unsigned int max;
	unsigned int limit;
	size_t off;
	bool allocated;
};

/**
 * struct vringh - host-side state of one virtqueue
 * @type: ring layout
 * @mem: memory flavour
 * @event_indices: VIRTIO_RING_F_EVENT_IDX negotiated
 * @indirect: VIRTIO_RING_F_INDIRECT_DESC negotiated
 * @weak_barriers: as given at init (see the barrier notes above)
 * @broken: 0, or the error that broke the ring (returned by every call)
 * @features: negotiated features, as given at init
 * @num: ring size (power of two, 1..32768)
 * @last_avail_idx: next avail->ring[] slot the device will consume
 * @avail_idx_shadow: last avail->idx value read
 * @last_used_idx: next used->ring[] slot the device will fill
 * @completed: used entries published since the last vringh_need_notify()
 * @used_flags: shadow of used->flags (the device never reads them back)
 * @desc_addr: descriptor table address as given (IOVA or host pointer)
 * @avail_addr: driver area address as given
 * @used_addr: device area address as given
 * @desc: host pointer to the descriptor table
 * @avail: host pointer to the driver area
 * @used: host pointer to the device area
 * @iotlb: the IOTLB (VRINGH_MEM_IOTLB)
 * @ring_generation: IOTLB generation @desc/@avail/@used were resolved at
 * @cache: translation cache for buffers and indirect tables
 * @hot_start: the translation that served the last lookup, copied out of
 *	@cache (or the host window): first IOVA it covers; the only one the
 *	fast paths try. Valid while @ring_generation is current
 * @hot_span: bytes it covers minus one, clamped to 2^63 so that an offset
 *	inside it plus a 32-bit length cannot wrap
 * @hot_addr: host address of @hot_start
 * @hot_perm: IOTLB_PERM_* of it; 0 when there is none
 * @host_start: first byte of the host window (VRINGH_MEM_HOST)
 * @host_last: last byte of the host window (inclusive)
 * @mask: @num - 1
 * @generation: where the current generation is read: the IOTLB's, or
 *	@ring_generation itself for host memory (never changes)
 * @split_num: @num for a split ring, 0 for a packed one (the inline
 *	vringh_complete() then takes its packed branch)
 * @avail_wrap: packed: wrap counter of the next avail position
 *	(@last_avail_idx is then a ring offset < @num)
 * @used_wrap: packed: wrap counter of the next used position
 *	(@last_used_idx is a ring offset < @num)
 * @event_flags: packed: shadow of the device event suppression flags
 * @pdesc: packed: host pointer to the descriptor ring
 * @driver_event: packed: host pointer to the driver event suppression
 * @device_event: packed: host pointer to the device event suppression
 * @inflight: packed: per buffer ID, 0 when free, else VRINGH_INFLIGHT |
 *	(ring descriptors of the chain - 1); only the first @num entries are used
 *	(and cleared at init, so a split ring touches none)
 * @log: packed: per ring position, the buffer ID of the chain taken whose
 *	last descriptor is there, for vringh_abandon() (the chains in flight
 *	span at most @num positions, so none overwrites another's)
 *
 * Treat as opaque: use the functions below.
 */
struct vringh {
	enum vringh_ring_type type;
	enum vringh_mem_type mem;
	bool event_indices;
	bool indirect;
	bool weak_barriers;
	int broken;
	u64 features;
	unsigned int num;
	u16 last_avail_idx;
	u16 avail_idx_shadow;
	u16 last_used_idx;
	u16 used_flags;
	u32 completed;
	u64 desc_addr;
	u64 avail_addr;
	u64 used_addr;
	struct vringh_desc *desc;
	struct vringh_avail *avail;
	struct vringh_used *used;
	struct iotlb *iotlb;
	u64 ring_generation;
	struct iotlb_cache cache;
	u64 hot_start;
	u64 hot_span;
	u64 hot_addr;
	u32 hot_perm;
	u64 host_start;
	u64 host_last;
	u32 mask;
	const u64 *generation;
	unsigned int split_num;
	bool avail_wrap;
	bool used_wrap;
	u16 event_flags;
	struct vringh_packed_desc *pdesc;
	struct vringh_packed_event *driver_event;
	struct vringh_packed_event *device_event;
	/* Last: vringh_init_*() clears what comes before, and of these only
	 * the entries a packed ring of @num uses. */
	u16 inflight[VRINGH_NUM_MAX];
	u16 log[VRINGH_NUM_MAX];
};

/**
 * vringh_init_iotlb() - set up a ring reached through an IOTLB
 * @vrh: the vringh to (re)initialise; a previous state is discarded
 * @features: negotiated virtio features (VIRTIO_F_RING_PACKED: packed)
 * @num: ring size: 1..VRINGH_NUM_MAX, a power of two for a split ring
 * @weak_barriers: VIRTIO_F_ORDER_PLATFORM not negotiated (recorded only)
 * @iotlb: the device's IOTLB (must outlive @vrh's use)
 * @desc_addr: IOVA of the descriptor table or ring (16-byte aligned)
 * @avail_addr: IOVA of the driver area (2-byte aligned; packed: 4)
 * @used_addr: IOVA of the device area (4-byte aligned)
 *
 * last_avail and last_used start at 0 (see vringh_set_state()); a packed
 * ring's wrap counters at 1. The ring areas must each be mapped
 * host-contiguously (split: descriptors and the driver area readable, the
 * device area writable; packed: the descriptor ring readable and
 * writable, the driver area readable, the device area writable).
 *
 * Return: 0; -EINVAL for a bad @num, misaligned address or NULL @iotlb;
 * -EFAULT/-EPERM if a ring area is not mapped as needed (the vringh is
 * left broken with that error).
 */
int vringh_init_iotlb(struct vringh *vrh, u64 features, unsigned int num,
		      bool weak_barriers, struct iotlb *iotlb,
		      u64 desc_addr, u64 avail_addr, u64 used_addr);

/**
 * vringh_init_host() - set up a ring in plain host memory
 * @vrh: the vringh to (re)initialise
 * @features: negotiated virtio features (VIRTIO_F_RING_PACKED: packed)
 * @num: ring size: 1..VRINGH_NUM_MAX, a power of two for a split ring
 * @weak_barriers: recorded only
 * @base: first byte every ring and buffer address must lie in
 * @len: bytes of the window (> 0)
 * @desc: the descriptor table (inside the window, 16-byte aligned); for a
 *	packed ring, the descriptor ring (struct vringh_packed_desc[@num])
 * @avail: the driver area (inside the window, 2-byte aligned); packed: the
 *	driver event suppression (struct vringh_packed_event, 4-aligned)
 * @used: the device area (inside the window, 4-byte aligned); packed: the
 *	device event suppression
 *
 * Descriptor addresses are host pointers; a buffer outside the window is
 * -EFAULT. Everything in the window is readable and writable.
 *
 * Return: 0; -EINVAL for a bad @num, window or alignment, -EFAULT if a
 * ring area is outside the window.
 */
int vringh_init_host(struct vringh *vrh, u64 features, unsigned int num,
		     bool weak_barriers, void *base, size_t len,
		     struct vringh_desc *desc, struct vringh_avail *avail,
		     struct vringh_used *used);

/**
 * vringh_getdesc() - take the next available chain
 * @vrh: the vringh
 * @riov: receives the device-readable buffers (NULL: none accepted)
 * @wiov: receives the device-writable buffers (NULL: none accepted)
 * @head: receives the chain's head index (the id to complete it with);
 *	meaningful only when 1 is returned (it may be written otherwise)
 *
 * Both iovs are reset first (cursor at the start). Zero-length descriptors
 * are skipped (they count toward the chain length). On success the chain
 * is consumed: complete it with vringh_complete*() or give it back with
 * vringh_abandon().
 *
 * Return: 1 a chain was taken; 0 the ring is empty; <0 an error from the
 * table at the top of this header (the ring is broken, except -ENOMEM).
 */
int vringh_getdesc(struct vringh *vrh, struct vringh_iov *riov,
		   struct vringh_iov *wiov, u16 *head);

/**
 * vringh_abandon() - give back the last @n chains taken
 * @vrh: the vringh
 * @n: chains to un-take (taken since the last completion of them)
 *
 * The next vringh_getdesc() returns them again (re-read from the ring).
 */
void vringh_abandon(struct vringh *vrh, unsigned int n);

/* The general path behind vringh_complete(): every state, every check. */
int __vringh_complete_one(struct vringh *vrh, u16 head, u32 len);

/* struct vringh @inflight: the buffer ID is taken (low bits: descriptors - 1). */
#define VRINGH_INFLIGHT			0x8000

/* The AVAIL/USED bits of a used descriptor in the lap of wrap counter @w. */
static inline u16 __vringh_packed_used_bits(bool w)
{
	return w ? VRINGH_DESC_F_AVAIL | VRINGH_DESC_F_USED : 0;
}

/*
 * Publish the used descriptor of a packed chain of one ring descriptor at
 * the used position: id and len, a write barrier, then its flags (pairs
 * with the driver's read barrier after it sees USED flip, virtio 1.2
 * §2.8.21). The caller checked @id and released it.
 */
static inline void __vringh_packed_put_used(struct vringh *vrh, u16 id, u32 len)
{
	struct vringh_packed_desc *d = &vrh->pdesc[vrh->last_used_idx];
	u16 flags = __vringh_packed_used_bits(vrh->used_wrap) |
		    (len ? VRINGH_DESC_F_WRITE : 0);

	WRITE_ONCE(d->id, cpu_to_le16(id));
	WRITE_ONCE(d->len, cpu_to_le32(len));
	__atomic_thread_fence(__ATOMIC_RELEASE);
	WRITE_ONCE(d->flags, cpu_to_le16(flags));
	vrh->completed++;
	if (unlikely(++vrh->last_used_idx == vrh->num)) {
		vrh->last_used_idx = 0;
		vrh->used_wrap = !vrh->used_wrap;
	}
}

/**
 * vringh_complete() - return one chain to the driver
 * @vrh: the vringh
 * @head: the head index vringh_getdesc() gave
 * @len: bytes the device wrote into the chain's writable buffers
 *
 * Writes the used entry, then publishes used->idx (write barrier between).
 * Does not notify: ask vringh_need_notify(). Inline for the common case
 * (ring current and not broken, @head in range).
 *
 * Return: 0; -EINVAL if @head >= ring size; the broken error; -EFAULT/-EPERM
 * if the device area is no longer mapped writable (the ring breaks).
 */
static inline int vringh_complete(struct vringh *vrh, u16 head, u32 len)
{
	struct vringh_used_elem *u;
	struct vringh_used *used;
	u16 idx;

	if (unlikely(__atomic_load_n(vrh->generation, __ATOMIC_ACQUIRE) !=
		     vrh->ring_generation))
		return __vringh_complete_one(vrh, head, len);
	if (unlikely(head >= vrh->split_num)) {
		/*
		 * Packed (a split ring only gets here with head >= num, which
		 * fails the first test): a chain of one ring descriptor, in
		 * flight.
		 */
		if (likely(head < vrh->num &&
			   vrh->inflight[head] == VRINGH_INFLIGHT)) {
			vrh->inflight[head] = 0;
			__vringh_packed_put_used(vrh, head, len);
			return 0;
		}
		return __vringh_complete_one(vrh, head, len);
	}
	used = vrh->used;
	idx = vrh->last_used_idx;
	u = &used->ring[idx & vrh->mask];
	WRITE_ONCE(u->id, cpu_to_le32(head));
	WRITE_ONCE(u->len, cpu_to_le32(len));
	/*
	 * Write barrier (release): pairs with the driver's rmb after it
	 * loads used->idx.
	 */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	WRITE_ONCE(used->idx, cpu_to_le16((u16)(idx + 1)));
	vrh->last_used_idx = idx + 1;
	vrh->completed++;
	return 0;
}


/**
 * vringh_complete_multi() - return several chains, one used->idx update
 * @vrh: the vringh
 * @elems: used entries (id = head, len = bytes written), cpu-endian values
 * @n: entries (<= ring size; 0 is a no-op)
 *
 * Handles the wrap of the used ring.
 *
 * Return: as vringh_complete(); -EINVAL if @n > ring size or an id >= ring
 * size (nothing is written then).
 */
int vringh_complete_multi(struct vringh *vrh,
			  const struct vringh_used_elem *elems, unsigned int n);

/**
 * vringh_need_notify() - should the driver be interrupted now?
 * @vrh: the vringh
 *
 * Call after completing. Nothing completed since the last call: no. With
 * VIRTIO_RING_F_EVENT_IDX: yes when used->idx crossed the driver's
 * used_event since the last call (or more than 65535 entries were
 * completed); without it: yes unless the driver set
 * VRING_AVAIL_F_NO_INTERRUPT. Resets the completion count.
 *
 * Return: 1 notify, 0 don't, <0 the broken error.
 */
int vringh_need_notify(struct vringh *vrh);

/**
 * vringh_notify_enable() - ask the driver to kick on new buffers
 * @vrh: the vringh
 *
 * Clears VRING_USED_F_NO_NOTIFY, or with event indices writes avail_event =
 * last_avail, then re-reads avail->idx to close the race with a driver
 * that added a buffer before it saw the change.
 *
 * Return: 0 enabled and the ring is empty (safe to wait for a kick); 1 new
 * buffers arrived meanwhile (keep processing; you may disable again); <0 the
 * broken error.
 */
int vringh_notify_enable(struct vringh *vrh);

/**
 * vringh_notify_disable() - tell the driver kicks are not needed
 * @vrh: the vringh
 *
 * Sets VRING_USED_F_NO_NOTIFY; a no-op with event indices (the device just
 * stops moving avail_event). A hint: the driver may kick anyway.
 */
void vringh_notify_disable(struct vringh *vrh);

/**
 * vringh_error() - why the ring is broken
 * @vrh: the vringh
 *
 * Return: 0 if it is not, else the error every call now returns.
 */
static inline int vringh_error(const struct vringh *vrh)
{
	return vrh->broken;
}

/**
 * vringh_get_state() - the device's ring position (for suspend/migration)
 * @vrh: the vringh
 * @last_avail_idx: receives the next avail slot to consume (may be NULL)
 * @last_used_idx: receives the next used slot to fill (may be NULL)
 *
 * Packed: ring offsets with the wrap counter in bit 15 (VRINGH_EVENT_WRAP).
 */
void vringh_get_state(const struct vringh *vrh, u16 *last_avail_idx,
		      u16 *last_used_idx);

/**
 * vringh_set_state() - restore the device's ring position
 * @vrh: an initialised vringh
 * @last_avail_idx: next avail slot to consume
 * @last_used_idx: next used slot to fill
 *
 * Packed: ring offsets (bits 0-14, < ring size) with the wrap counter in
 * bit 15; nothing is in flight afterwards. -EINVAL for an offset >= ring
 * size.
 *
 * Return: 0, or the broken error.
 */
int vringh_set_state(struct vringh *vrh, u16 last_avail_idx, u16 last_used_idx);

/**
 * vringh_getdesc_at() - walk the chain at @head again, without the avail ring
 * @vrh: the vringh
 * @head: a head the device took before (e.g. from an inflight record,
 *	vhost-user's INFLIGHT_SHMEM); hostile: checked against the ring size
 * @riov: as vringh_getdesc()
 * @wiov: as vringh_getdesc()
 *
 * The chain is walked and checked exactly as vringh_getdesc() does, but
 * nothing is consumed: the avail position does not move. For resubmitting
 * requests a previous instance of the device had taken.
 *
 * Return: 1 (the chain is in the iovs), or -errno (as vringh_getdesc()).
 */
int vringh_getdesc_at(struct vringh *vrh, u16 head, struct vringh_iov *riov,
		      struct vringh_iov *wiov);

/**
 * vringh_read_used_idx() - the used index as it is in the ring's memory
 * @vrh: an initialised vringh
 * @idx: receives it
 *
 * What the driver has seen completed; differs from the device's own
 * position only when a previous instance of the device died between its
 * used ring update and its bookkeeping (vhost-user's inflight recovery).
 *
 * Return: 0, or the broken error.
 */
int vringh_read_used_idx(struct vringh *vrh, u16 *idx);

/*
 * Packed chains kept outside the ring. A packed ring's descriptors are
 * overwritten by used ones, out of order, so a device that must take a
 * chain again after a restart (vhost-user's inflight region) keeps a copy
 * of its ring descriptors and walks that.
 */

/**
 * vringh_packed_read_flags() - a packed ring descriptor's flags, as in memory
 * @vrh: an initialised packed vringh
 * @pos: ring offset
 * @flags: receives them (cpu-endian; loaded with acquire)
 *
 * Return: 0; -EINVAL (not packed, @pos >= ring size); the broken error.
 */
int vringh_packed_read_flags(struct vringh *vrh, u16 pos, u16 *flags);

/**
 * vringh_packed_last_chain() - copy the ring descriptors of the chain taken last
 * @vrh: a packed vringh
 * @id: the buffer ID vringh_getdesc() just gave
 * @descs: receives them, as in the ring (little-endian)
 * @max: room in @descs
 *
 * Read again from the ring (the driver may not touch them while the chain
 * is taken; one that did gets a copy that fails when it is walked).
 *
 * Return: the number of descriptors; -EINVAL if @id is not the chain
 * taken last, or @max is too small.
 */
int vringh_packed_last_chain(const struct vringh *vrh, u16 id,
			     struct vringh_packed_desc *descs, unsigned int max);

/**
 * vringh_packed_set_inflight() - mark buffer @id taken, outside the ring
 * @vrh: a packed vringh (after vringh_set_state(), which clears the marks)
 * @id: the buffer ID (hostile: checked)
 * @ndesc: ring descriptors of its chain (the used position moves by them)
 *
 * For a chain a previous instance of the device took: it completes as one
 * vringh_getdesc() gave.
 *
 * Return: 0; -EINVAL (not packed, @id or @ndesc out of range, @id already
 * taken); the broken error.
 */
int vringh_packed_set_inflight(struct vringh *vrh, u16 id, u16 ndesc);

/**
 * vringh_getdesc_packed_copy() - walk a kept copy of a packed chain
 * @vrh: a packed vringh
 * @descs: the chain's ring descriptors (little-endian, hostile: checked
 *	as the ring walker checks them)
 * @n: their number
 * @riov: as vringh_getdesc()
 * @wiov: as vringh_getdesc()
 * @id: receives the buffer ID (the last descriptor's)
 *
 * The ID must be marked taken with @n descriptors
 * (vringh_packed_set_inflight()); nothing is consumed, the avail position
 * does not move.
 *
 * Return: 1 (the chain is in the iovs); -EINVAL (not packed, @n out of
 * range); or an error of the walker (the ring breaks).
 */
int vringh_getdesc_packed_copy(struct vringh *vrh, const struct vringh_packed_desc *descs,
			       unsigned int n, struct vringh_iov *riov,
			       struct vringh_iov *wiov, u16 *id);

/**
 * vringh_iov_init() - prepare an iov
 * @iov: the iov
 * @storage: caller's array (may be NULL if @num is 0)
 * @num: entries in @storage
 * @growable: may grow onto the heap, up to VRINGH_IOV_MAX segments
 */
void vringh_iov_init(struct vringh_iov *iov, struct iovec *storage,
		     unsigned int num, bool growable);

/**
 * vringh_iov_cleanup() - free what the iov allocated; it stays usable
 * @iov: the iov (falls back to empty storage of 0 entries, still growable
 *	if it was)
 */
void vringh_iov_cleanup(struct vringh_iov *iov);

/**
 * vringh_iov_reset() - forget the segments, keep the storage
 * @iov: the iov
 */
static inline void vringh_iov_reset(struct vringh_iov *iov)
{
	iov->used = 0;
	iov->i = 0;
	iov->off = 0;
}

/* The general loop behind vringh_iov_length(). */
size_t __vringh_iov_length(const struct vringh_iov *iov);

/**
 * vringh_iov_length() - bytes left between the cursor and the end
 * @iov: the iov
 *
 * Inline for the common case (the cursor in the last segment: a frame in
 * one buffer).
 *
 * Return: remaining bytes.
 */
static inline size_t vringh_iov_length(const struct vringh_iov *iov)
{
	if (likely(iov->i + 1 == iov->used))
		return iov->iov[iov->i].iov_len - iov->off;
	return __vringh_iov_length(iov);
}

/**
 * vringh_iov_advance() - move the cursor without copying
 * @iov: the iov
 * @len: bytes to skip
 *
 * Return: bytes skipped (less than @len at the end of the iov).
 */
size_t vringh_iov_advance(struct vringh_iov *iov, size_t len);

/* The general copy loops behind vringh_iov_pull()/push(). */
ssize_t __vringh_iov_pull(struct vringh_iov *riov, void *dst, size_t len);
ssize_t __vringh_iov_push(struct vringh_iov *wiov, const void *src, size_t len);

/**
 * vringh_iov_pull() - copy from the buffers at the cursor, advancing it
 * @riov: device-readable iov
 * @dst: destination
 * @len: bytes wanted
 *
 * Inline for the common case (the copy fits in the current segment).
 *
 * Return: bytes copied (less than @len at the end of the iov); never
 * negative today (translation happened in vringh_getdesc()).
 */
static inline ssize_t vringh_iov_pull(struct vringh_iov *riov, void *dst, size_t len)
{
	if (likely(riov->i < riov->used)) {
		struct iovec *v = &riov->iov[riov->i];
		size_t left = v->iov_len - riov->off;

		if (likely(len <= left)) {
			memcpy(dst, (char *)v->iov_base + riov->off, len);
			/* A used-up segment is left lazily (see @off). */
			riov->off += len;
			return len;
		}
	}
	return __vringh_iov_pull(riov, dst, len);
}

/**
 * vringh_iov_push() - copy into the buffers at the cursor, advancing it
 * @wiov: device-writable iov
 * @src: source
 * @len: bytes to write
 *
 * Inline for the common case, like vringh_iov_pull().
 *
 * Return: bytes copied (less than @len at the end of the iov); never
 * negative today.
 */
static inline ssize_t vringh_iov_push(struct vringh_iov *wiov, const void *src,
				      size_t len)
{
	if (likely(wiov->i < wiov->used)) {
		struct iovec *v = &wiov->iov[wiov->i];
		size_t left = v->iov_len - wiov->off;

		if (likely(len <= left)) {
			memcpy((char *)v->iov_base + wiov->off, src, len);
			/* A used-up segment is left lazily (see @off). */
			wiov->off += len;
			return len;
		}
	}
	return __vringh_iov_push(wiov, src, len);
}

#endif /* KESTREL_VRINGH_H */
