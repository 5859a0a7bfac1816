// SPDX-License-Identifier: GPL-2.0-only
/*
 * The virtio-blk class (virtio 1.2 §5.2): one request queue drained with
 * swdev_vq_service(); every request checked here, once, before a backend
 * sees it. See blk.h for the request layout and how asynchronous backends
 * hold requests.
 *
 * Every header, sector and length is hostile: a request outside the disk,
 * of a length that is not whole sectors, or a write to a read-only disk
 * gets VIRTIO_BLK_S_IOERR; a type the driver did not negotiate, or an
 * unknown one, VIRTIO_BLK_S_UNSUPP.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ids.h>

#include <kestrel/log.h>

#include "blk.h"

/* What the config space says (everything after secure erase is unused). */
#define BLK_CONFIG_SIZE	offsetof(struct virtio_blk_config, max_secure_erase_sectors)

_Static_assert(BLK_CONFIG_SIZE <= SWDEV_CONFIG_MAX, "blk config fits");
_Static_assert(sizeof(struct virtio_blk_outhdr) == 16, "virtio_blk_outhdr");
_Static_assert(sizeof(struct virtio_blk_discard_write_zeroes) == 16,
	       "virtio_blk_discard_write_zeroes");
_Static_assert(BLK_QD <= SWDEV_BUDGET, "a round fits in a pass");

/* Chains one pass takes at most, as a sync backend. */
#define BLK_PASS_CHAINS	SWDEV_BUDGET

/* [@sector, @sector + @nsec) inside the disk? Overflow-safe. */
static bool blk_range_ok(const struct blk_dev *blk, u64 sector, u64 nsec)
{
	u64 total = blk->capacity >> BLK_SECTOR_SHIFT;

	return sector <= total && nsec <= total - sector;
}

/* A read or write: whole sectors, inside the disk. */
static bool blk_rw_ok(const struct blk_dev *blk, const struct blk_req *req)
{
	return !(req->len % BLK_SECTOR_SIZE) &&
	       blk_range_ok(blk, req->sector, req->len >> BLK_SECTOR_SHIFT);
}

/* blk_request(): the backend holds the request (not a status byte value). */
#define BLK_HELD	0x100
/* blk_request(): the rate limit says not now; the chain goes back. */
#define BLK_THROTTLED	0x200

/* The status of a backend op's return (see struct blk_ops), or BLK_HELD. */
static int blk_op_status(int ret)
{
	if (ret == BLK_QUEUED)
		return BLK_HELD;
	return ret < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

/*
 * DISCARD / WRITE_ZEROES: a payload of whole segments in the readable part.
 * The whole request is checked before any segment is acted on: a bad
 * segment 3 leaves segments 1 and 2 untouched. Then the backend's @dwz
 * takes the request (and may hold it), or its @discard / @write_zeroes
 * serve each segment. Return: as blk_request().
 */
static int blk_discard_wz(struct blk_dev *blk, struct vringh_iov *riov,
			  struct blk_req *req)
{
	struct virtio_blk_discard_write_zeroes r[BLK_DWZ_SEG_MAX];
	struct blk_dwz segs[BLK_DWZ_SEG_MAX];
	u32 type = req->type;
	unsigned int n = 0;
	bool wz = type == VIRTIO_BLK_T_WRITE_ZEROES;
	size_t left = vringh_iov_length(riov);
	size_t nseg = left / sizeof(r[0]);

	/*
	 * virtio 1.2 §5.2.6.2: a type the driver did not negotiate is
	 * unsupported (a read-only disk offers neither).
	 */
	if (!swdev_has_feature(&blk->sw, wz ? VIRTIO_BLK_F_WRITE_ZEROES :
					      VIRTIO_BLK_F_DISCARD))
		return VIRTIO_BLK_S_UNSUPP;
	if (!nseg || left % sizeof(r[0]) || nseg > BLK_DWZ_SEG_MAX)
		return VIRTIO_BLK_S_IOERR;
	/* Copy every segment once (the guest may change them), check all. */
	vringh_iov_pull(riov, r, nseg * sizeof(r[0]));
	for (size_t i = 0; i < nseg; i++) {
		u32 flags = le32_to_cpu(r[i].flags);
		u32 num = le32_to_cpu(r[i].num_sectors);

		/* §5.2.6.2: unknown flags, and unmap on a discard, are unsupported. */
		if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP || (!wz && flags))
			return VIRTIO_BLK_S_UNSUPP;
		if (num > blk->dwz_sectors_max ||
		    !blk_range_ok(blk, le64_to_cpu(r[i].sector), num))
			return VIRTIO_BLK_S_IOERR;
	}
	for (size_t i = 0; i < nseg; i++) {
		u32 num = le32_to_cpu(r[i].num_sectors);

		if (!num)
			continue;
		segs[n].sector = le64_to_cpu(r[i].sector);
		segs[n].nsec = num;
		segs[n].op = !wz ? BLK_DWZ_DISCARD :
			     le32_to_cpu(r[i].flags) & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ?
			     BLK_DWZ_ZERO_UNMAP : BLK_DWZ_ZERO;
		n++;
	}
	if (!n)
		return VIRTIO_BLK_S_OK;
	if (blk->ops->dwz)	/* the backend may hold it, as a read */
		return blk_op_status(blk->ops->dwz(blk, req, segs, n));
	for (unsigned int i = 0; i < n; i++) {
		int ret = segs[i].op == BLK_DWZ_DISCARD ?
			  blk->ops->discard(blk, segs[i].sector, segs[i].nsec) :
			  blk->ops->write_zeroes(blk, segs[i].sector, segs[i].nsec,
						 segs[i].op == BLK_DWZ_ZERO_UNMAP);

		if (ret)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/*
 * Check and serve one request whose chain is in @vq->riov / @vq->wiov.
 * @data_in: bytes of the writable part before the status byte
 * Return: a VIRTIO_BLK_S_* status, BLK_HELD (the backend holds it) or
 * BLK_THROTTLED (nothing done: the chain goes back to the ring).
 */
static int blk_request(struct blk_dev *blk, struct swdev_vq *vq,
		       struct blk_req *req, size_t data_in)
{
	struct virtio_blk_outhdr hdr;
	u64 bytes = 0;

	if (vringh_iov_pull(&vq->riov, &hdr, sizeof(hdr)) != sizeof(hdr))
		return VIRTIO_BLK_S_IOERR;
	req->type = le32_to_cpu(hdr.type);
	req->sector = le64_to_cpu(hdr.sector);
	/* One operation each; data bytes for a read or write (as Firecracker). */
	if (req->type == VIRTIO_BLK_T_IN)
		bytes = data_in;
	else if (req->type == VIRTIO_BLK_T_OUT)
		bytes = vringh_iov_length(&vq->riov);
	if (!swdev_limit(&blk->sw, BLK_LIMIT_SLOT, bytes))
		return BLK_THROTTLED;

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		req->data = &vq->wiov;
		req->len = data_in;
		if (!blk_rw_ok(blk, req))
			return VIRTIO_BLK_S_IOERR;
		return blk_op_status(blk->ops->read(blk, req));
	case VIRTIO_BLK_T_OUT:
		/* virtio 1.2 §5.2.6.2: no data written on a read-only disk. */
		if (blk->ro)
			return VIRTIO_BLK_S_IOERR;
		req->data = &vq->riov;
		req->len = vringh_iov_length(&vq->riov);
		if (!blk_rw_ok(blk, req))
			return VIRTIO_BLK_S_IOERR;
		return blk_op_status(blk->ops->write(blk, req));
	case VIRTIO_BLK_T_FLUSH:
		if (!swdev_has_feature(&blk->sw, VIRTIO_BLK_F_FLUSH))
			return VIRTIO_BLK_S_UNSUPP;
		return blk_op_status(blk->ops->flush(blk, req));
	case VIRTIO_BLK_T_GET_ID:
		if (!data_in)
			return VIRTIO_BLK_S_IOERR;
		req->len = MIN(data_in, sizeof(blk->serial));
		vringh_iov_push(&vq->wiov, blk->serial, req->len);
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return blk_discard_wz(blk, &vq->riov, req);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/*
 * Write the status byte (last: after the data, virtio 1.2 §5.2.6) and count
 * the request. Return: the bytes the device wrote into the chain.
 */
static u32 blk_req_end(struct blk_dev *blk, const struct blk_req *req,
		       u8 status)
{
	struct swdev_vq *vq = &blk->sw.vqs[0];

	*req->status = status;
	vq->stats.packets++;
	if (status != VIRTIO_BLK_S_OK) {
		vq->stats.errors++;
		return 1;
	}
	if (req->type == VIRTIO_BLK_T_IN || req->type == VIRTIO_BLK_T_OUT)
		vq->stats.bytes += req->len;
	if (req->type == VIRTIO_BLK_T_IN || req->type == VIRTIO_BLK_T_GET_ID)
		return (u32)req->len + 1;
	return 1;
}

void blk_req_complete(struct blk_dev *blk, const struct blk_req *req,
		      u8 status)
{
	struct vringh_used_elem *e = &blk->done[blk->ndone++];

	e->id = req->head;
	e->len = blk_req_end(blk, req, status);
	/* Its tag is free again. */
	blk->tags &= ~(1ULL << req->tag);
	blk->held--;
}

static bool blk_reap(struct blk_dev *blk, struct swdev_vq *vq, enum blk_reap how);

static int blk_chain(struct swdev *sw, struct swdev_vq *vq, u16 head, u32 *len)
{
	struct blk_dev *blk = to_blk(sw);
	struct vringh_iov *wiov = &vq->wiov;
	size_t wlen = vringh_iov_length(wiov);
	struct blk_req req = { .head = head };
	const struct iovec *last;
	int status;

	if (unlikely(!wlen)) {
		/* Nowhere to put a status: a broken driver. */
		vq->stats.errors++;
		vdpa_device_error(&sw->vdpa, "blk request %u has no status byte",
				  head);
		return SWDEV_STALL;
	}
	if (unlikely(blk->held == BLK_QD || blk->taken == BLK_PASS_CHAINS)) {
		/* Back to the ring until held ones end, or the next pass. */
		blk->full = true;
		return SWDEV_STALL;
	}
	_Static_assert(BLK_QD == 64, "one bit a tag in blk_dev.tags");
	req.tag = (u16)__builtin_ctzll(~blk->tags);
	/* vringh leaves out empty buffers: the last one has the status byte. */
	last = &wiov->iov[wiov->used - 1];
	req.status = (u8 *)last->iov_base + last->iov_len - 1;
	status = blk_request(blk, vq, &req, wlen - 1);
	if (status != BLK_THROTTLED)
		blk->taken++;
	if (status == BLK_HELD) {
		blk->tags |= 1ULL << req.tag;
		blk->held++;
		/*
		 * A burst held: start it now, and publish what is done, while
		 * the ring may still hold more. The driver refills behind us
		 * instead of waiting for the whole round. A broken ring ends
		 * the loop by itself (NEEDS_RESET).
		 */
		if (++blk->unstarted == BLK_BURST)
			blk_reap(blk, vq, BLK_REAP_START);
		return SWDEV_HELD;
	}
	if (status == BLK_THROTTLED)
		return SWDEV_STALL;	/* the throttle timer brings us back */
	*len = blk_req_end(blk, &req, (u8)status);
	return SWDEV_USED;
}

/*
 * Start the held requests, end those done (waiting as @how says) and
 * publish them.
 * Return: false: the ring broke (every held request ended all the same).
 */
static bool blk_reap(struct blk_dev *blk, struct swdev_vq *vq, enum blk_reap how)
{
	bool ok;

	blk->unstarted = 0;
	blk->ops->reap(blk, how);
	ok = swdev_vq_complete(&blk->sw, vq, blk->done, blk->ndone);
	blk->ndone = 0;
	if (!ok && blk->held) {
		/* No request outlives the pass, published or not. */
		blk->ops->reap(blk, BLK_REAP_ALL);
		blk->ndone = 0;
	}
	return ok;
}

/*
 * One pass: take chains, starting the held ones every BLK_BURST (and
 * publishing what is done at once, blk_chain()), and while requests are
 * held, end what completes and take the chains the driver adds meanwhile,
 * so the backend always has work instead of waiting for a whole batch to
 * finish. The pass ends
 * when nothing is held: no request outlives it (nor the lock it holds),
 * so a mapping removed under the lock has no I/O in flight. After
 * BLK_PASS_CHAINS chains it takes no new one and ends what it holds.
 */
static bool blk_work(struct swdev *sw)
{
	struct blk_dev *blk = to_blk(sw);
	struct swdev_vq *vq = &sw->vqs[0];
	bool more;

	blk->taken = 0;
	for (;;) {
		blk->full = false;
		more = swdev_vq_service(sw, vq, SWDEV_CHAIN_IN | SWDEV_CHAIN_OUT,
					blk_chain);
		if (!blk->held)	/* full with nothing held: the chains of a pass taken */
			return more || blk->full;
		if (blk->taken == BLK_PASS_CHAINS)
			return blk_reap(blk, vq, BLK_REAP_ALL);	/* the next pass takes the rest */
		if (!blk_reap(blk, vq, BLK_REAP_ONE))
			return false;
	}
}

static void blk_update_config(struct swdev *sw)
{
	struct blk_dev *blk = to_blk(sw);
	struct virtio_blk_config cfg = {
		.capacity = cpu_to_le64(blk->capacity >> BLK_SECTOR_SHIFT),
		.seg_max = cpu_to_le32(BLK_SEG_MAX),
		.blk_size = cpu_to_le32(BLK_SECTOR_SIZE),
		.num_queues = cpu_to_le16(1),
		.max_discard_sectors = cpu_to_le32(blk->dwz_sectors_max),
		.max_discard_seg = cpu_to_le32(BLK_DWZ_SEG_MAX),
		.discard_sector_alignment = cpu_to_le32(1),
		.max_write_zeroes_sectors = cpu_to_le32(blk->dwz_sectors_max),
		.max_write_zeroes_seg = cpu_to_le32(BLK_DWZ_SEG_MAX),
		.write_zeroes_may_unmap = 1,
	};

	memcpy(sw->config, &cfg, BLK_CONFIG_SIZE);
}

static void blk_free(struct swdev *sw)
{
	struct blk_dev *blk = to_blk(sw);

	/* No ops: blk_dev_init() refused them (the backend built nothing). */
	if (blk->ops)
		blk->ops->free(blk);
	else
		free(blk);
}

void blk_dev_set_serial(struct blk_dev *blk, const char *serial)
{
	memset(blk->serial, 0, sizeof(blk->serial));
	memcpy(blk->serial, serial, strnlen(serial, sizeof(blk->serial)));
}

int blk_dev_init(struct blk_dev *blk, const struct blk_ops *ops, bool ro,
		 u32 dwz_sectors_max)
{
	struct swdev_attr attr = {
		.device_id = VIRTIO_ID_BLOCK,
		.nvqs = 1,
		.ngroups = 1,
		.nas = 1,
		.config_size = BLK_CONFIG_SIZE,
		.features = SWDEV_FEATURES |
			    (1ULL << VIRTIO_BLK_F_SEG_MAX) |
			    (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
			    (1ULL << VIRTIO_BLK_F_FLUSH),
		.burst = BLK_BURST,
		.seccomp = ops->seccomp,
		.work = blk_work,
		.update_config = blk_update_config,
		.free = blk_free,
		.nlimits = 1,
		.limits = { [BLK_LIMIT_SLOT] = VDPA_LIMIT_BLK },
		/* A restarted vhost-user back-end loses and repeats nothing. */
		.inflight = true,
	};

	int ret;

	blk->ro = ro;
	blk->dwz_sectors_max = dwz_sectors_max;
	if (ro)
		attr.features |= 1ULL << VIRTIO_BLK_F_RO;
	else
		attr.features |= (1ULL << VIRTIO_BLK_F_DISCARD) |
				 (1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	if (ops->read && ops->write && ops->flush &&
	    (ops->dwz || (ops->discard && ops->write_zeroes)) && ops->free)
		blk->ops = ops;
	/* Even with bad ops: swdev_destroy() may then always follow. */
	ret = swdev_init(&blk->sw, &attr);
	if (ret)
		return ret;
	return blk->ops ? 0 : -EINVAL;
}
