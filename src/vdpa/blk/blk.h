/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The virtio-blk class (private to src/vdpa/blk/): what a virtio-blk device
 * does whatever holds its sectors, written once on the software-device
 * core. It owns the config space and features, request parsing, GET_ID,
 * range and length checks, discard/write-zeroes validation, the status
 * byte, the statistics, and the queue, drained with swdev_vq_service(). A
 * backend (ram.c, file.c) supplies struct blk_ops: it only moves sectors.
 *
 * A request is one chain: the 16-byte header (and data-out) readable, then
 * data-in and the status byte writable; the status is the last writable
 * byte and is written after the data (virtio 1.2 §5.2.6). A chain with no
 * writable byte cannot be answered at all: that is a driver bug the device
 * reports with NEEDS_RESET. Everything else that is wrong with a request
 * gets VIRTIO_BLK_S_IOERR or _UNSUPP in its status byte, and reaches no
 * backend op.
 *
 * Synchronous and asynchronous backends. A synchronous backend (RAM) ends
 * every op before returning. An asynchronous one (io_uring) may return
 * BLK_QUEUED from @read, @write, @flush and @dwz: the class holds the chain
 * (SWDEV_HELD) and goes on. Every BLK_BURST requests held it calls @reap
 * with BLK_REAP_START, which starts them and ends those already done
 * without waiting: the class publishes those at once and goes on taking
 * chains, so the driver refills the ring while the backend works and the
 * queue never drains to wait for a whole batch. When the ring is drained,
 * or BLK_QD requests are held, it calls @reap with BLK_REAP_ONE, which
 * ends at least one held request with blk_req_complete(); the class
 * publishes those with one used-index update and at most one interrupt
 * and goes back to the ring for the chains the driver added meanwhile,
 * until nothing is held. All of that happens in
 * the worker pass that took the chains, under swdev.lock: no request
 * outlives its pass, so a mapping removed under the lock has no I/O in
 * flight.
 *
 * Rate limit (struct vdpa_rate_limit, as Firecracker's block device):
 * every request takes one operation, a read or write also its data bytes.
 * A request the buckets cannot pay for now goes back to the ring before
 * anything is done (swdev_limit()); the queue stalls until the tokens
 * are due and then goes on where it stopped, in order.
 */
#ifndef KESTREL_VDPA_BLK_H
#define KESTREL_VDPA_BLK_H

#include <linux/virtio_blk.h>

#include <kestrel/vdpa-dev.h>

#include "../swdev/swdev.h"

#define BLK_SECTOR_SHIFT	9
#define BLK_SECTOR_SIZE		(1u << BLK_SECTOR_SHIFT)
/* Data segments per request (seg_max). */
#define BLK_SEG_MAX		126
/* Segments per discard / write-zeroes request. */
#define BLK_DWZ_SEG_MAX		16
/* Requests a backend may hold at once (one round of a worker pass). */
#define BLK_QD			64
/* Room for a serial attribute: the 20-byte GET_ID answer + NUL. */
#define BLK_SERIAL_MAX		(VIRTIO_BLK_ID_BYTES + 1)

/* An op's return: the backend holds the request (see struct blk_ops). */
#define BLK_QUEUED		1
/*
 * Requests the class takes from the ring before it starts them (and
 * publishes the sync ones): half a typical queue depth of 32, so the
 * driver refills while the pass serves the other half.
 */
#define BLK_BURST		16

/**
 * enum blk_reap - how long struct blk_ops.reap waits
 * @BLK_REAP_START: not at all: start the held requests not started yet,
 *	end those whose I/O is done already
 * @BLK_REAP_ONE: the same, then until at least one held request ended
 * @BLK_REAP_ALL: the same, then until every held request ended
 */
enum blk_reap {
	BLK_REAP_START,
	BLK_REAP_ONE,
	BLK_REAP_ALL,
};

/**
 * struct blk_req - one request, as the class hands it to a backend
 * @head: chain head (the class completes it)
 * @tag: 0..BLK_QD-1, unique among the requests the backend holds: an
 *	index for the backend's own per-request state
 * @type: VIRTIO_BLK_T_*
 * @sector: first sector (read, write)
 * @len: data bytes (read, write: whole sectors inside the disk; GET_ID:
 *	the bytes of the answer; otherwise 0)
 * @data: the data buffers with the cursor at the data, device-writable for
 *	a read, device-readable for a write. Valid only during the op call:
 *	a backend that queues copies what it needs.
 * @status: host address of the status byte (the last writable byte)
 */
struct blk_req {
	u16 head;
	u16 tag;
	u32 type;
	u64 sector;
	size_t len;
	struct vringh_iov *data;
	u8 *status;
};

/** enum blk_dwz_op - what one DISCARD / WRITE_ZEROES segment asks */
enum blk_dwz_op {
	BLK_DWZ_DISCARD,	/* forget the sectors (a hint) */
	BLK_DWZ_ZERO,		/* zero them, keep them allocated */
	BLK_DWZ_ZERO_UNMAP,	/* zero them, deallocating if possible */
};

/**
 * struct blk_dwz - one checked segment of a DISCARD / WRITE_ZEROES request
 * @sector: first sector (inside the disk with @nsec)
 * @nsec: sectors, >= 1 and at most dwz_sectors_max
 * @op: what to do with them
 */
struct blk_dwz {
	u64 sector;
	u32 nsec;
	enum blk_dwz_op op;
};

struct blk_dev;

/**
 * struct blk_ops - a backend: where the sectors live
 *
 * Called by the worker with swdev.lock held, after the class checked the
 * request (negotiated, whole sectors, inside the disk, not a write to a
 * read-only disk). @read, @write and @flush return 0 (done, status OK),
 * BLK_QUEUED (the backend holds @req: it ends it with blk_req_complete()
 * from @reap) or a negative errno (status IOERR). Every op but @reap is
 * mandatory; blk_dev_init() refuses a table without one.
 *
 * @read: read @req->len bytes at @req->sector into @req->data
 * @write: write @req->len bytes of @req->data at @req->sector
 * @flush: make every write completed so far durable
 * @discard: forget @nsec (>= 1) sectors at @sector; a hint, synchronous;
 *	0 or -errno. (optional with @dwz)
 * @write_zeroes: zero @nsec (>= 1) sectors at @sector, deallocating them
 *	if @unmap allows it; synchronous; 0 or -errno. (optional with @dwz)
 * @dwz: (optional) a whole DISCARD / WRITE_ZEROES request: its @n checked
 *	segments @segs (1..BLK_DWZ_SEG_MAX, copied if the backend holds the
 *	request); returns as @read. A discard is a hint: only a failed
 *	write-zeroes fails the request. With it, @discard and @write_zeroes
 *	are not called.
 * @reap: (optional: needed by a backend that queues) start every held
 *	request not started yet, wait as @how says, and end with
 *	blk_req_complete() every one whose I/O is done
 * @free: free the backend and the allocation the device lives in
 *	(swdev_destroy() calls it; half-built devices included)
 * @seccomp: the worker's thread kind (struct swdev_attr)
 */
struct blk_ops {
	int (*read)(struct blk_dev *blk, struct blk_req *req);
	int (*write)(struct blk_dev *blk, struct blk_req *req);
	int (*flush)(struct blk_dev *blk, struct blk_req *req);
	int (*discard)(struct blk_dev *blk, u64 sector, u32 nsec);
	int (*write_zeroes)(struct blk_dev *blk, u64 sector, u32 nsec, bool unmap);
	int (*dwz)(struct blk_dev *blk, struct blk_req *req, const struct blk_dwz *segs,
		   unsigned int n);
	void (*reap)(struct blk_dev *blk, enum blk_reap how);
	void (*free)(struct blk_dev *blk);
	enum seccomp_thread seccomp;
};

/**
 * struct blk_dev - a virtio-blk device (swdev.lock for the mutable parts)
 * @sw: software-device core (first: freed through it)
 * @ops: the backend
 * @capacity: bytes, a non-zero multiple of 512; set by the backend before
 *	swdev_register()
 * @ro: read-only: VIRTIO_BLK_F_RO offered, DISCARD and WRITE_ZEROES not
 * @dwz_sectors_max: sectors per discard / write-zeroes segment at most
 * @serial: GET_ID answer, NUL padded (blk_dev_set_serial())
 * @held: requests the backend holds (worker)
 * @tags: bit i set while tag i is held (worker)
 * @unstarted: requests held since the last @reap (worker)
 * @taken: chains the current pass took (worker)
 * @full: a chain found BLK_QD requests held, or the pass's chains taken,
 *	and went back to the ring (worker)
 * @ndone: entries in @done (worker)
 * @done: held requests ended by blk_req_complete(), not yet published
 */
struct blk_dev {
	struct swdev sw;
	const struct blk_ops *ops;
	u64 capacity;
	bool ro;
	u32 dwz_sectors_max;
	char serial[VIRTIO_BLK_ID_BYTES];
	unsigned int held;
	u64 tags;
	unsigned int unstarted;
	unsigned int taken;
	bool full;
	unsigned int ndone;
	struct vringh_used_elem done[BLK_QD];
};

static inline struct blk_dev *to_blk(struct swdev *sw)
{
	return container_of(sw, struct blk_dev, sw);
}

/**
 * blk_dev_init() - build the class part and the core of a blk device
 * @blk: zeroed memory at offset 0 of the backend's struct
 * @ops: the backend (static const)
 * @ro: read-only disk
 * @dwz_sectors_max: per-segment limit of discard / write-zeroes (sectors)
 *
 * Does not register. On failure swdev_destroy(&@blk->sw) cleans up.
 *
 * Return: 0, -EINVAL for an incomplete @ops, or swdev_init()'s -errno.
 */
int blk_dev_init(struct blk_dev *blk, const struct blk_ops *ops, bool ro,
		 u32 dwz_sectors_max);

/**
 * blk_dev_set_serial() - set the GET_ID answer
 * @blk: the device
 * @serial: the first 20 bytes of it count
 */
void blk_dev_set_serial(struct blk_dev *blk, const char *serial);

/**
 * blk_req_complete() - end a request the backend held (from @reap)
 * @blk: the device (worker, lock held)
 * @req: the request as the op got it (@req->data no longer valid)
 * @status: VIRTIO_BLK_S_*
 *
 * Writes the status byte; the class publishes the chain when @reap returns.
 */
void blk_req_complete(struct blk_dev *blk, const struct blk_req *req,
		      u8 status);

/**
 * struct blk_args - the creation attributes every blk type has
 * @ro: read-only disk
 * @serial: GET_ID answer ("": the type's default)
 * @limit: the rate limit of the request queue (blk_dev_set_limit())
 */
struct blk_args {
	bool ro;
	char serial[BLK_SERIAL_MAX];
	struct vdpa_rate_limit limit;
};

/* The attribute table entries of a struct blk_args at @field of @type. */
#define BLK_ATTRS(type, field)						\
	VDPA_ATTR_BOOL(type, field.ro, "ro", "read-only disk"),		\
	VDPA_ATTR_SERIAL(type, field.serial, "serial",			\
			 "<1..20 printable characters>", "GET_ID answer"),	\
	SWDEV_ATTRS_LIMIT(type, field.limit, "", "rate limit")

/* The one rate limit of a blk device (struct swdev.limiter). */
#define BLK_LIMIT_SLOT	0

#endif /* KESTREL_VDPA_BLK_H */
