/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An in-process virtio driver for the vDPA unit tests and benchmarks: it
 * lays real split rings, or packed ones (virtio 1.2 §2.8) when
 * VIRTIO_F_RING_PACKED is negotiated, out in a block of "guest memory"
 * (vdrv_packed makes every negotiation ask for packed rings), maps that block
 * into a device's IOTLB at an IOVA that is *not* its host address (so a
 * missing translation cannot go unnoticed), and drives the device only
 * through the vdpa_*() bus wrappers, in the order virtio 1.2 §3.1.1 gives.
 *
 * Single-threaded use; the device's worker runs concurrently, so ring
 * fields shared with it are accessed with the barriers a real driver uses.
 */
#ifndef KESTREL_TESTS_VDPA_DRIVER_H
#define KESTREL_TESTS_VDPA_DRIVER_H

#include <kestrel/vdpa.h>
#include <kestrel/vringh.h>

#define VDRV_MAX_VQS		20
#define VDRV_IOVA_BASE		0x40000000ULL

/**
 * struct vdrv_vq - the driver side of one ring (split, or packed: then
 *	@desc is the descriptor ring, @avail the driver and @used the device
 *	event suppression, and the head is the buffer ID)
 * @idx: queue index
 * @num: ring size (0: not set up)
 * @desc: descriptor table (in guest memory)
 * @avail: driver area
 * @used: device area
 * @free_head: first free descriptor (free list through desc.next)
 * @num_free: free descriptors
 * @avail_idx: next avail->idx value to publish
 * @last_used: next used entry to consume
 * @kick_idx: avail index at the previous notification decision
 * @chain: descriptors per head, to free the chain
 * @packed: the ring is packed
 * @avail_wrap: packed: driver ring wrap counter of @avail_idx (a position)
 * @used_wrap: packed: wrap counter of @last_used (a position)
 * @free_ids: packed: stack of free buffer IDs, @nfree_ids of them
 * @pending: packed: first descriptors added but not yet published, with
 *	their flags (@npending of them)
 * @added: packed: descriptors added since the last kick decision
 * @kickfd: eventfd handed to vdpa_set_vq_kickfd(), or -1 (vdpa_kick_vq)
 * @irqs: used-buffer callbacks received (atomic)
 * @kicks: notifications sent
 * @suppressed: notifications the device said it did not need
 */
struct vdrv_vq {
	u16 idx;
	u32 num;
	struct vringh_desc *desc;
	struct vringh_avail *avail;
	struct vringh_used *used;
	u16 free_head;
	u16 num_free;
	u16 avail_idx;
	u16 last_used;
	u16 kick_idx;
	u16 *chain;
	bool packed;
	bool avail_wrap;
	bool used_wrap;
	u16 *free_ids;
	u16 nfree_ids;
	struct { u16 pos, flags; } *pending;
	u16 npending;
	u16 added;
	int kickfd;
	unsigned int irqs;
	unsigned long kicks;
	unsigned long suppressed;
};

/**
 * struct vdrv - one driver instance bound to one device
 * @vdpa: the device
 * @mem: guest memory (page aligned)
 * @size: bytes of @mem
 * @brk: allocation cursor in @mem
 * @iova: IOVA of @mem[0]
 * @features: negotiated features
 * @config_irqs: config callbacks received (atomic)
 * @vqs: the rings
 */
struct vdrv {
	struct vdpa_device *vdpa;
	u8 *mem;
	size_t size;
	size_t brk;
	u64 iova;
	u64 features;
	unsigned int config_irqs;
	struct vdrv_vq vqs[VDRV_MAX_VQS];
};

/**
 * struct vdrv_sg - one buffer of a chain
 * @addr: host address inside the driver's memory
 * @len: bytes
 * @write: device-writable
 */
struct vdrv_sg {
	void *addr;
	u32 len;
	bool write;
};

/* Set before vdrv_negotiate(): ask for (and require) VIRTIO_F_RING_PACKED. */
extern bool vdrv_packed;

/** vdrv_init() - allocate @size bytes of guest memory for @vdpa; 0/-errno */
int vdrv_init(struct vdrv *d, struct vdpa_device *vdpa, size_t size);

/** vdrv_fini() - free the memory and kick fds (reset the device first) */
void vdrv_fini(struct vdrv *d);

/** vdrv_map() - dma_map all guest memory into address space @asid */
int vdrv_map(struct vdrv *d, u32 asid);

/**
 * vdrv_negotiate() - reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK
 * @d: the driver
 * @wanted: features the driver would like; offered & @wanted are accepted
 *
 * Return: 0, or the failing wrapper's -errno (-ENOTSUP: FEATURES_OK refused;
 * -EPROTONOSUPPORT: vdrv_packed is set and the device has no packed rings).
 */
int vdrv_negotiate(struct vdrv *d, u64 wanted);

/** vdrv_vq_setup() - lay out ring @idx of @num entries and enable it */
int vdrv_vq_setup(struct vdrv *d, u16 idx, u32 num);

/** vdrv_vq_use_kickfd() - notify queue @idx through an eventfd */
int vdrv_vq_use_kickfd(struct vdrv *d, u16 idx);

/** vdrv_driver_ok() - set DRIVER_OK */
int vdrv_driver_ok(struct vdrv *d);

/** vdrv_alloc() - carve @size bytes aligned to @align from guest memory */
void *vdrv_alloc(struct vdrv *d, size_t size, size_t align);

/** vdrv_iova() - the IOVA of host address @p inside guest memory */
u64 vdrv_iova(const struct vdrv *d, const void *p);

/**
 * vdrv_add() - expose one chain (readable buffers first)
 * @d: the driver
 * @q: queue index
 * @sg: buffers
 * @n: buffers (>= 1)
 *
 * Return: the head (packed: the buffer ID), or -ENOSPC when the ring is full.
 */
int vdrv_add(struct vdrv *d, u16 q, const struct vdrv_sg *sg, unsigned int n);

/** vdrv_publish() - make added chains visible (avail->idx store; packed:
 * the first descriptors' flags) */
void vdrv_publish(struct vdrv *d, u16 q);

/** vdrv_kick() - notify the device unless it suppressed notifications */
void vdrv_kick(struct vdrv *d, u16 q);

/**
 * vdrv_get_used() - take one used entry
 * Return: 1 got one (@head, @len filled), 0 none.
 */
int vdrv_get_used(struct vdrv *d, u16 q, u16 *head, u32 *len);

/**
 * vdrv_wait_used() - vdrv_get_used(), polling up to @timeout_ms
 * Return: 1 got one, 0 timed out.
 */
int vdrv_wait_used(struct vdrv *d, u16 q, u16 *head, u32 *len,
		   int timeout_ms);

/** vdrv_wait_status() - wait until status has all of @bits; Return bool */
bool vdrv_wait_status(struct vdrv *d, u8 bits, int timeout_ms);

/**
 * vdrv_await_used() - vdrv_get_used(), waiting as long as the device can
 *	still complete something: until an entry is there, or every other
 *	thread of the process (the device workers) is asleep and had no CPU
 *	time between two looks, or they spent 30 s of CPU time without one
 *	(a device spinning on nothing). No wall-clock bound: a slow or busy
 *	machine makes it wait longer, never fail. Kick before waiting.
 *
 * For devices whose work is all in this process's threads and their
 * kicks: one waiting on a timer (rate limits) or on the host (a TAP's
 * frames) would look idle.
 *
 * Return: 1 got one, 0 the device went idle without completing one.
 */
int vdrv_await_used(struct vdrv *d, u16 q, u16 *head, u32 *len);

/**
 * vdrv_await_status() - wait, as vdrv_await_used() does, until status has
 *	all of @bits; Return: whether it has
 */
bool vdrv_await_status(struct vdrv *d, u8 bits);

/**
 * vdrv_net_ctrl() - one virtio-net control command (virtio 1.2 §5.1.6.5):
 *	header, payload and ack byte in descriptors of their own
 * @d: the driver
 * @cvq: the control queue
 * @class: command class
 * @cmd: command
 * @data: payload
 * @dlen: its bytes (0: no payload descriptor)
 * @ack_buf: post the device-writable ack byte (false: a hostile chain)
 *
 * Return: the ack, 0xff if the chain completed without one written, 0xfe
 * if the device went idle without completing it (vdrv_await_used()).
 */
u8 vdrv_net_ctrl(struct vdrv *d, u16 cvq, u8 class, u8 cmd, const void *data,
		 u32 dlen, bool ack_buf);

/** vdrv_msleep() - sleep @ms milliseconds */
void vdrv_msleep(int ms);

#endif /* KESTREL_TESTS_VDPA_DRIVER_H */
