// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-blk (virtio 1.2 §5.2) over a regular file or a block device.
 *
 * A worker pass takes up to FBLK_QD requests off the queue, turns reads,
 * writes and flushes into io_uring submissions whose iovecs point straight
 * at the guest's buffers (no bounce copy), submits them together, waits for
 * all of them, then publishes the whole batch with one used-index update
 * and at most one interrupt. A flush carries IOSQE_IO_DRAIN, so it starts
 * only after every write submitted before it completed: FLUSH is an
 * fdatasync of everything the driver saw completed (§5.2.6.2). GET_ID,
 * DISCARD and WRITE_ZEROES are served synchronously in the pass.
 *
 * Every header, sector and length is hostile: a request outside the disk,
 * of a length that is not whole sectors, or a write to a read-only disk
 * gets VIRTIO_BLK_S_IOERR; an unknown type VIRTIO_BLK_S_UNSUPP. A chain
 * too short to carry a status byte is completed with length 0 and counted
 * as an error (there is nowhere to report it).
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/vdpa-dev.h>

#include "devices.h"
#include "swdev/swdev.h"

#define FBLK_SECTOR		512
#define FBLK_QD			64	/* requests in flight per pass */
#define FBLK_SEG_MAX		126	/* data segments per request (seg_max) */
#define FBLK_DWZ_SEG_MAX	16	/* ranges per discard/write-zeroes */
#define FBLK_DWZ_SECTORS_MAX	(1u << 22)	/* 2 GiB per range */
#define FBLK_ID_BYTES		20	/* VIRTIO_BLK_ID_BYTES */

/* What the config space says (everything after secure erase is unused). */
#define FBLK_CONFIG_SIZE	offsetof(struct virtio_blk_config, max_secure_erase_sectors)

/**
 * struct fblk_req - one request of the batch being built
 * @head: chain head
 * @status: the status byte (last writable byte of the chain)
 * @type: VIRTIO_BLK_T_*
 * @len: bytes of data the request moves
 * @used: bytes the device writes into the chain (data in + status)
 * @iov: data segments, host pointers into guest memory
 * @niov: segments in @iov
 * @queued: submitted to io_uring, completion not reaped yet
 */
struct fblk_req {
	u16 head;
	bool queued;
	u8 *status;
	u32 type;
	size_t len;
	u32 used;
	struct iovec iov[FBLK_SEG_MAX];
	unsigned int niov;
};

/**
 * struct vdpa_file_blk - the device (swdev.lock for the mutable parts)
 * @sw: software-device core (first: freed through it)
 * @fd: the backing file or device
 * @size: bytes of the disk (multiple of 512)
 * @ro: read-only
 * @regular: @fd is a regular file (fallocate semantics differ for devices)
 * @ring: io_uring instance
 * @ring_ok: @ring initialised
 * @serial: GET_ID answer, NUL-padded
 * @reqs: the batch
 * @elems: used entries of the batch
 */
struct vdpa_file_blk {
	struct swdev sw;
	int fd;
	u64 size;
	bool ro;
	bool regular;
	struct io_uring ring;
	bool ring_ok;
	char serial[FBLK_ID_BYTES];
	struct fblk_req reqs[FBLK_QD];
	struct vringh_used_elem elems[FBLK_QD];
};

static struct vdpa_file_blk *to_fblk(struct swdev *sw)
{
	return container_of(sw, struct vdpa_file_blk, sw);
}

/*
 * Copy up to @len bytes of @src's segments, from its cursor, into @req.
 * Return: 0, or -E2BIG when more than FBLK_SEG_MAX segments are needed.
 */
static int fblk_req_take_iov(struct fblk_req *req, const struct vringh_iov *src,
			     size_t len)
{
	size_t off = src->off;

	req->niov = 0;
	req->len = 0;
	for (unsigned int i = src->i; i < src->used && len; i++, off = 0) {
		size_t n = MIN(src->iov[i].iov_len - off, len);

		if (!n)
			continue;
		if (req->niov == FBLK_SEG_MAX)
			return -E2BIG;
		req->iov[req->niov].iov_base = (u8 *)src->iov[i].iov_base + off;
		req->iov[req->niov].iov_len = n;
		req->niov++;
		req->len += n;
		len -= n;
	}
	return 0;
}

/* Does [sector, sector + len) fit on the disk?  Overflow-safe. */
static bool fblk_in_range(const struct vdpa_file_blk *blk, u64 sector, u64 len)
{
	if (sector > blk->size / FBLK_SECTOR)
		return false;
	return len <= blk->size - sector * FBLK_SECTOR;
}

static int fblk_zero_range(struct vdpa_file_blk *blk, u64 off, u64 len,
			   bool unmap)
{
	static const u8 zeroes[65536];
	int mode = FALLOC_FL_KEEP_SIZE |
		   (unmap ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE);

	if (fallocate(blk->fd, mode, (off_t)off, (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EINVAL)
		return -errno;
	/* No fallocate support here: write the zeroes. */
	while (len) {
		ssize_t n = pwrite(blk->fd, zeroes, MIN(len, sizeof(zeroes)),
				   (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (u64)n;
		len -= (u64)n;
	}
	return 0;
}

/* DISCARD / WRITE_ZEROES (virtio 1.2 §5.2.6): ranges in the readable part. */
static u8 fblk_discard_zeroes(struct vdpa_file_blk *blk, struct vringh_iov *riov,
			      u32 type)
{
	size_t left = vringh_iov_length(riov);
	unsigned int nr = 0;

	if (blk->ro)
		return VIRTIO_BLK_S_IOERR;
	if (!left || left % sizeof(struct virtio_blk_discard_write_zeroes))
		return VIRTIO_BLK_S_IOERR;
	if (left / sizeof(struct virtio_blk_discard_write_zeroes) > FBLK_DWZ_SEG_MAX)
		return VIRTIO_BLK_S_IOERR;
	while (vringh_iov_length(riov)) {
		struct virtio_blk_discard_write_zeroes r;
		u64 sector;
		u32 num, flags;
		int ret;

		vringh_iov_pull(riov, &r, sizeof(r));
		sector = le64_to_cpu(r.sector);
		num = le32_to_cpu(r.num_sectors);
		flags = le32_to_cpu(r.flags);
		nr++;
		/* §5.2.6.2: unknown flags, or unmap on a discard, are errors. */
		if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ||
		    (type == VIRTIO_BLK_T_DISCARD && flags))
			return VIRTIO_BLK_S_UNSUPP;
		if (num > FBLK_DWZ_SECTORS_MAX ||
		    !fblk_in_range(blk, sector, (u64)num * FBLK_SECTOR))
			return VIRTIO_BLK_S_IOERR;
		if (!num)
			continue;
		if (type == VIRTIO_BLK_T_DISCARD) {
			/* A hint: a backend that cannot punch holes ignores it. */
			fallocate(blk->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  (off_t)(sector * FBLK_SECTOR),
				  (off_t)num * FBLK_SECTOR);
			continue;
		}
		ret = fblk_zero_range(blk, sector * FBLK_SECTOR,
				      (u64)num * FBLK_SECTOR,
				      flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
		if (ret)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/*
 * Parse one chain into @req. Queues an SQE for reads, writes and flushes
 * (Return: 1); serves everything else at once and sets *@req->status
 * (Return: 0); a chain with no room for a status byte: -EINVAL.
 */
static int fblk_req_prepare(struct vdpa_file_blk *blk, struct swdev_vq *vq,
			    struct fblk_req *req)
{
	struct vringh_iov *riov = &vq->riov, *wiov = &vq->wiov;
	struct virtio_blk_outhdr hdr;
	size_t wlen = vringh_iov_length(wiov);
	struct io_uring_sqe *sqe;
	const struct iovec *last;
	u64 sector;

	if (!wlen)
		return -EINVAL;
	last = &wiov->iov[wiov->used - 1];
	req->status = (u8 *)last->iov_base + last->iov_len - 1;
	req->used = 1;
	req->len = 0;

	if (vringh_iov_pull(riov, &hdr, sizeof(hdr)) != sizeof(hdr)) {
		*req->status = VIRTIO_BLK_S_IOERR;
		return 0;
	}
	req->type = le32_to_cpu(hdr.type);
	sector = le64_to_cpu(hdr.sector);

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		if (fblk_req_take_iov(req, wiov, wlen - 1) ||
		    req->len % FBLK_SECTOR || !fblk_in_range(blk, sector, req->len)) {
			*req->status = VIRTIO_BLK_S_IOERR;
			return 0;
		}
		req->used = (u32)req->len + 1;
		sqe = io_uring_get_sqe(&blk->ring);
		io_uring_prep_readv(sqe, blk->fd, req->iov, req->niov,
				    sector * FBLK_SECTOR);
		break;
	case VIRTIO_BLK_T_OUT:
		if (blk->ro || fblk_req_take_iov(req, riov, vringh_iov_length(riov)) ||
		    req->len % FBLK_SECTOR || !fblk_in_range(blk, sector, req->len)) {
			*req->status = VIRTIO_BLK_S_IOERR;
			return 0;
		}
		sqe = io_uring_get_sqe(&blk->ring);
		io_uring_prep_writev(sqe, blk->fd, req->iov, req->niov,
				     sector * FBLK_SECTOR);
		break;
	case VIRTIO_BLK_T_FLUSH:
		sqe = io_uring_get_sqe(&blk->ring);
		io_uring_prep_fsync(sqe, blk->fd, IORING_FSYNC_DATASYNC);
		/* After everything submitted before it. */
		sqe->flags |= IOSQE_IO_DRAIN;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		size_t n = MIN(wlen - 1, (size_t)FBLK_ID_BYTES);

		vringh_iov_push(wiov, blk->serial, n);
		req->used = (u32)n + 1;
		*req->status = VIRTIO_BLK_S_OK;
		return 0;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		*req->status = fblk_discard_zeroes(blk, riov, req->type);
		return 0;
	default:
		*req->status = VIRTIO_BLK_S_UNSUPP;
		return 0;
	}
	/* The ring has 2 * FBLK_QD entries: a free SQE always exists. */
	io_uring_sqe_set_data64(sqe, (u64)(req - blk->reqs));
	req->queued = true;
	return 1;
}

/* Wait for @inflight submissions and set their status bytes. */
static void fblk_reap(struct vdpa_file_blk *blk, unsigned int inflight)
{
	int ret = io_uring_submit_and_wait(&blk->ring, inflight);

	if (ret < 0 && ret != -EINTR)
		pr_err("%s: io_uring submit: %s", blk->sw.vdpa.name, strerror(-ret));
	while (inflight) {
		struct io_uring_cqe *cqe;
		struct fblk_req *req;
		u64 i;

		ret = io_uring_wait_cqe(&blk->ring, &cqe);
		if (ret == -EINTR)
			continue;
		if (ret < 0) {
			/* The ring itself failed: fail what is left. */
			for (unsigned int k = 0; k < FBLK_QD; k++)
				if (blk->reqs[k].queued) {
					*blk->reqs[k].status = VIRTIO_BLK_S_IOERR;
					blk->reqs[k].used = 1;
					blk->reqs[k].queued = false;
				}
			return;
		}
		i = io_uring_cqe_get_data64(cqe);
		if (i < FBLK_QD && blk->reqs[i].queued) {
			req = &blk->reqs[i];
			if (req->type == VIRTIO_BLK_T_FLUSH)
				*req->status = cqe->res < 0 ? VIRTIO_BLK_S_IOERR
							    : VIRTIO_BLK_S_OK;
			else
				*req->status = (cqe->res >= 0 &&
						(size_t)cqe->res == req->len) ?
					       VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
			if (req->type == VIRTIO_BLK_T_IN &&
			    *req->status != VIRTIO_BLK_S_OK)
				req->used = 1;
			req->queued = false;
		}
		io_uring_cqe_seen(&blk->ring, cqe);
		inflight--;
	}
}

static bool fblk_work(struct swdev *sw)
{
	struct vdpa_file_blk *blk = to_fblk(sw);
	struct swdev_vq *vq = &sw->vqs[0];
	unsigned int budget = SWDEV_BUDGET;
	bool more = false;
	int ret = 0;

	if (!vq->started)
		return false;
	vringh_notify_disable(&vq->vring);
	while (!vdpa_needs_reset(&sw->vdpa)) {
		unsigned int n = 0, inflight = 0;
		bool empty = false;

		/* Build a batch. */
		while (n < FBLK_QD && budget) {
			struct fblk_req *req = &blk->reqs[n];
			u16 head;

			ret = vringh_getdesc(&vq->vring, &vq->riov, &vq->wiov, &head);
			if (ret <= 0) {
				empty = ret == 0;
				break;
			}
			budget--;
			req->head = head;
			req->status = NULL;
			req->queued = false;
			ret = fblk_req_prepare(blk, vq, req);
			if (ret < 0) {
				/* No status byte: nothing to tell the driver. */
				vq->stats.errors++;
				blk->elems[n].id = head;
				blk->elems[n].len = 0;
				n++;
				ret = 0;
				continue;
			}
			inflight += (unsigned int)ret;
			n++;
		}
		if (inflight)
			fblk_reap(blk, inflight);
		for (unsigned int i = 0; i < n; i++) {
			struct fblk_req *req = &blk->reqs[i];

			if (!req->status)
				continue;	/* already filled in above */
			blk->elems[i].id = req->head;
			blk->elems[i].len = req->used;
			if (*req->status == VIRTIO_BLK_S_OK) {
				vq->stats.packets++;
				vq->stats.bytes += req->len;
			} else {
				vq->stats.errors++;
			}
		}
		if (n) {
			int cret = vringh_complete_multi(&vq->vring, blk->elems, n);

			if (cret) {
				swdev_vq_error(sw, vq, cret);
				return false;
			}
		}
		if (ret == -ENOMEM) {
			more = true;
			break;
		}
		if (ret < 0) {
			swdev_vq_error(sw, vq, ret);
			return false;
		}
		if (!budget) {
			more = true;
			break;
		}
		if (empty) {
			if (swdev_vq_rearm(sw, vq))
				continue;
			break;
		}
	}
	if (!vdpa_needs_reset(&sw->vdpa))
		swdev_vq_notify(sw, vq);
	return more;
}

static void fblk_update_config(struct swdev *sw)
{
	struct vdpa_file_blk *blk = to_fblk(sw);
	struct virtio_blk_config cfg = {
		.capacity = cpu_to_le64(blk->size / FBLK_SECTOR),
		.seg_max = cpu_to_le32(FBLK_SEG_MAX),
		.blk_size = cpu_to_le32(FBLK_SECTOR),
		.num_queues = cpu_to_le16(1),
		.max_discard_sectors = cpu_to_le32(FBLK_DWZ_SECTORS_MAX),
		.max_discard_seg = cpu_to_le32(FBLK_DWZ_SEG_MAX),
		.discard_sector_alignment = cpu_to_le32(1),
		.max_write_zeroes_sectors = cpu_to_le32(FBLK_DWZ_SECTORS_MAX),
		.max_write_zeroes_seg = cpu_to_le32(FBLK_DWZ_SEG_MAX),
		.write_zeroes_may_unmap = 1,
	};

	_Static_assert(FBLK_CONFIG_SIZE <= SWDEV_CONFIG_MAX, "blk config fits");
	memcpy(sw->config, &cfg, FBLK_CONFIG_SIZE);
}

static void fblk_free(struct swdev *sw)
{
	struct vdpa_file_blk *blk = to_fblk(sw);

	if (blk->ring_ok)
		io_uring_queue_exit(&blk->ring);
	if (blk->fd >= 0)
		close(blk->fd);
	free(blk);
}

/* Open @path and learn its size; every refusal is one line naming it. */
static int fblk_open(struct vdpa_file_blk *blk, const char *path)
{
	struct stat st;

	blk->fd = xopen(path, (blk->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC, 0);
	if (blk->fd < 0) {
		int err = blk->fd;

		/* The caller's line names the option, the path and the errno. */
		pr_debug("file-blk: cannot open %s%s: %s", path,
			 blk->ro ? "" : " read-write", strerror(-err));
		return err;
	}
	if (fstat(blk->fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		blk->size = (u64)st.st_size;
		blk->regular = true;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(blk->fd, BLKGETSIZE64, &blk->size) < 0)
			return -errno;
	} else {
		pr_err("file-blk: %s is neither a regular file nor a block device",
		       path);
		return -EINVAL;
	}
	if (blk->size == 0 || blk->size % FBLK_SECTOR) {
		pr_err("file-blk: %s is %llu bytes: a disk must be a non-zero multiple of %d bytes (512-byte sectors); resize it (truncate -s) first",
		       path, (unsigned long long)blk->size, FBLK_SECTOR);
		return -EINVAL;
	}
	/* Two writers of one image corrupt it: refuse a second user. */
	if (flock(blk->fd, (blk->ro ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		int err = -errno;

		pr_err("file-blk: %s is in use by another process (%s)", path,
		       strerror(errno));
		return err;
	}
	return 0;
}

/** struct fblk_args - creation attributes of a file-backed disk */
struct fblk_args {
	struct vdpa_dev_args common;
	char path[VDPA_PATH_MAX];
	bool ro;
	char serial[VIRTIO_BLK_ID_BYTES + 1];	/* "": the file's name */
};

static const struct vdpa_attr fblk_attrs[] = {
	VDPA_ATTR_STRING(struct fblk_args, path, "path", "<1..255 characters>",
			 "the image file or block device"),
	VDPA_ATTR_BOOL(struct fblk_args, ro, "ro", "read-only disk"),
	VDPA_ATTR_SERIAL(struct fblk_args, serial, "serial",
			 "<1..20 printable characters>", "GET_ID answer"),
};

static int fblk_dev_add(struct vdpa_mgmt_dev *mdev, const void *config,
			struct vdpa_device **out)
{
	const struct fblk_args *args = config;
	struct swdev_attr attr = {
		.device_id = VIRTIO_ID_BLOCK,
		.nvqs = 1,
		.ngroups = 1,
		.nas = 1,
		.config_size = FBLK_CONFIG_SIZE,
		.work = fblk_work,
		.update_config = fblk_update_config,
		.free = fblk_free,
	};
	struct vdpa_file_blk *blk;
	const char *base, *src;
	int ret;

	if (!args->path[0]) {
		pr_err("file-blk: needs path=<file or block device>");
		return -EINVAL;
	}
	blk = xzalloc(sizeof(*blk));
	if (!blk)
		return -ENOMEM;
	blk->fd = -1;
	blk->ro = args->ro;
	attr.features = SWDEV_FEATURES |
			(1ULL << VIRTIO_BLK_F_SEG_MAX) |
			(1ULL << VIRTIO_BLK_F_BLK_SIZE) |
			(1ULL << VIRTIO_BLK_F_FLUSH) |
			(blk->ro ? 1ULL << VIRTIO_BLK_F_RO :
				   (1ULL << VIRTIO_BLK_F_DISCARD) |
				   (1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
	ret = swdev_init(&blk->sw, &attr);
	if (ret)
		goto err_destroy;
	ret = fblk_open(blk, args->path);
	if (ret)
		goto err_destroy;
	/* liburing's own allocation, fd and ring mappings: one point. */
	ret = fault_inject_hit() ? -ENOMEM
				 : io_uring_queue_init(2 * FBLK_QD, &blk->ring, 0);
	if (ret)
		goto err_destroy;
	blk->ring_ok = true;

	/* GET_ID: the serial given, else the file's name (20 bytes at most). */
	base = strrchr(args->path, '/');
	base = base ? base + 1 : args->path;
	src = args->serial[0] ? args->serial : base;
	memcpy(blk->serial, src, MIN(strlen(src), sizeof(blk->serial)));

	ret = swdev_register(&blk->sw, args->common.name);
	if (ret)
		goto err_destroy;
	*out = &blk->sw.vdpa;
	return 0;

err_destroy:
	/* The caller reports it, naming the option or request (one line). */
	pr_debug("vdpa: cannot create file-blk on %s: %s", args->path,
		 strerror(-ret));
	swdev_destroy(&blk->sw);
	return ret;
}

struct vdpa_mgmt_dev vdpa_file_blk_mgmt_dev = {
	.type = "file-blk",
	.description = "virtio-blk over a file or block device (io_uring)",
	.device_id = VIRTIO_ID_BLOCK,
	.attrs = fblk_attrs,
	.nattrs = ARRAY_SIZE(fblk_attrs),
	.config_size = sizeof(struct fblk_args),
	.dev_add = fblk_dev_add,
};
