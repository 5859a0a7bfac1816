// SPDX-License-Identifier: GPL-2.0-only
/*
 * RAM-disk block simulator (virtio 1.2 §5.2): one request queue, read,
 * write, flush, get-id, discard and write-zeroes over a buffer in memory.
 *
 * A request is one chain: the 16-byte header (and data-out) readable, then
 * data-in and the status byte writable; the status is the last writable
 * byte and is written after the data (virtio 1.2 §5.2.6). A chain with no
 * writable byte cannot be answered at all: that is a driver bug the device
 * reports with NEEDS_RESET. Everything else that is wrong with a request
 * gets VIRTIO_BLK_S_IOERR or _UNSUPP in its status byte.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>

#include "../devices.h"
#include "swdev.h"

#define SIMBLK_SECTOR_SHIFT	9
#define SIMBLK_SECTOR_SIZE	(1u << SIMBLK_SECTOR_SHIFT)
#define SIMBLK_DEFAULT_CAPACITY	(128ULL << 20)
#define SIMBLK_MAX_CAPACITY	(1ULL << 30)
#define SIMBLK_SEG_MAX		126
/* Per-segment limits of discard / write-zeroes (in sectors). */
#define SIMBLK_MAX_DISCARD_SECTORS	(1u << 20)
#define SIMBLK_MAX_DISCARD_SEG		16

/** struct simblk_outhdr - request header (virtio 1.2 §5.2.6) */
struct simblk_outhdr {
	le32 type;
	le32 ioprio;
	le64 sector;
};

/** struct simblk_range - one discard / write-zeroes segment */
struct simblk_range {
	le64 sector;
	le32 num_sectors;
	le32 flags;
};

_Static_assert(sizeof(struct simblk_outhdr) == 16, "virtio_blk_outhdr");
_Static_assert(sizeof(struct simblk_range) == 16,
	       "virtio_blk_discard_write_zeroes");
_Static_assert(sizeof(struct simblk_range) ==
	       sizeof(struct virtio_blk_discard_write_zeroes), "matches UAPI");

/**
 * struct simblk - a RAM-disk device
 * @sw: the software-device core (first)
 * @disk: the disk contents, @capacity bytes
 * @capacity: bytes, a multiple of 512
 * @ro: read-only (VIRTIO_BLK_F_RO offered)
 * @serial: GET_ID answer, NUL padded to 20 bytes
 *
 * @disk is only touched by the worker under sw.lock.
 */
struct simblk {
	struct swdev sw;
	u8 *disk;
	u64 capacity;
	bool ro;
	char serial[VIRTIO_BLK_ID_BYTES];
};

static inline struct simblk *to_simblk(struct swdev *sw)
{
	return container_of(sw, struct simblk, sw);
}

/* [@sector, @sector + @nsec) inside the disk? Overflow-safe. */
static bool simblk_range_ok(const struct simblk *blk, u64 sector, u64 nsec)
{
	u64 total = blk->capacity >> SIMBLK_SECTOR_SHIFT;

	return sector <= total && nsec <= total - sector;
}

static u8 simblk_discard_wz(struct simblk *blk, struct swdev_vq *vq,
			    u32 type)
{
	bool wz = type == VIRTIO_BLK_T_WRITE_ZEROES;
	unsigned int feature = wz ? VIRTIO_BLK_F_WRITE_ZEROES :
				    VIRTIO_BLK_F_DISCARD;
	size_t left = vringh_iov_length(&vq->riov);
	size_t nseg = left / sizeof(struct simblk_range);
	struct simblk_range r[SIMBLK_MAX_DISCARD_SEG];

	if (!swdev_has_feature(&blk->sw, feature))
		return VIRTIO_BLK_S_UNSUPP;
	if (blk->ro)
		return VIRTIO_BLK_S_IOERR;
	/* The payload is a whole number of segments, within the limit. */
	if (!nseg || left % sizeof(struct simblk_range) ||
	    nseg > SIMBLK_MAX_DISCARD_SEG)
		return VIRTIO_BLK_S_IOERR;
	/* Copy every segment once, then check them all before acting. */
	vringh_iov_pull(&vq->riov, r, nseg * sizeof(r[0]));
	for (size_t i = 0; i < nseg; i++) {
		u32 flags = le32_to_cpu(r[i].flags);

		/*
		 * virtio 1.2 §5.2.6.2: unknown flags, and unmap on a
		 * discard, are unsupported.
		 */
		if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
			return VIRTIO_BLK_S_UNSUPP;
		if (!wz && flags)
			return VIRTIO_BLK_S_UNSUPP;
		if (le32_to_cpu(r[i].num_sectors) > SIMBLK_MAX_DISCARD_SECTORS ||
		    !simblk_range_ok(blk, le64_to_cpu(r[i].sector),
				     le32_to_cpu(r[i].num_sectors)))
			return VIRTIO_BLK_S_IOERR;
	}
	/* Discarded sectors read back as zeroes too: deterministic. */
	for (size_t i = 0; i < nseg; i++)
		memset(blk->disk + (le64_to_cpu(r[i].sector) << SIMBLK_SECTOR_SHIFT),
		       0, (size_t)le32_to_cpu(r[i].num_sectors) << SIMBLK_SECTOR_SHIFT);
	return VIRTIO_BLK_S_OK;
}

/*
 * Serve one request whose chain is in @vq->riov / @vq->wiov.
 * @data_in: bytes available for data-in (writable area minus status)
 * @pushed: receives the data-in bytes written
 * Return: the status byte.
 */
static u8 simblk_request(struct simblk *blk, struct swdev_vq *vq,
			 size_t data_in, size_t *pushed)
{
	struct simblk_outhdr hdr;
	size_t len;
	u64 sector;
	u32 type;

	*pushed = 0;
	if (vringh_iov_pull(&vq->riov, &hdr, sizeof(hdr)) != sizeof(hdr))
		return VIRTIO_BLK_S_IOERR;
	type = le32_to_cpu(hdr.type);
	sector = le64_to_cpu(hdr.sector);

	switch (type) {
	case VIRTIO_BLK_T_IN:
		len = data_in;
		if (len % SIMBLK_SECTOR_SIZE ||
		    !simblk_range_ok(blk, sector, len >> SIMBLK_SECTOR_SHIFT))
			return VIRTIO_BLK_S_IOERR;
		*pushed = (size_t)vringh_iov_push(&vq->wiov,
				blk->disk + (sector << SIMBLK_SECTOR_SHIFT), len);
		vq->stats.bytes += *pushed;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_OUT:
		len = vringh_iov_length(&vq->riov);
		/* virtio 1.2 §5.2.6.2: no data written on a read-only disk. */
		if (blk->ro)
			return VIRTIO_BLK_S_IOERR;
		if (len % SIMBLK_SECTOR_SIZE ||
		    !simblk_range_ok(blk, sector, len >> SIMBLK_SECTOR_SHIFT))
			return VIRTIO_BLK_S_IOERR;
		vringh_iov_pull(&vq->riov,
				blk->disk + (sector << SIMBLK_SECTOR_SHIFT), len);
		vq->stats.bytes += len;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_FLUSH:
		if (!swdev_has_feature(&blk->sw, VIRTIO_BLK_F_FLUSH))
			return VIRTIO_BLK_S_UNSUPP;
		/* Memory is as durable as this disk gets. */
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		if (!data_in)
			return VIRTIO_BLK_S_IOERR;
		len = MIN(data_in, sizeof(blk->serial));
		*pushed = (size_t)vringh_iov_push(&vq->wiov, blk->serial, len);
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return simblk_discard_wz(blk, vq, type);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

static bool simblk_work(struct swdev *sw)
{
	struct simblk *blk = to_simblk(sw);
	struct swdev_vq *vq = &sw->vqs[0];
	unsigned int budget = SWDEV_BUDGET;
	bool more = false;
	int ret;

	if (!vq->started)
		return false;
	vringh_notify_disable(&vq->vring);
	while (!vdpa_needs_reset(&sw->vdpa)) {
		size_t wlen, pushed;
		u8 status;
		u16 head;

		if (!budget--) {
			more = true;
			break;
		}
		ret = vringh_getdesc(&vq->vring, &vq->riov, &vq->wiov, &head);
		if (ret == 0) {
			if (swdev_vq_rearm(sw, vq))
				continue;
			break;
		}
		if (ret == -ENOMEM) {
			more = true;
			break;
		}
		if (ret < 0) {
			swdev_vq_error(sw, vq, ret);
			break;
		}
		wlen = vringh_iov_length(&vq->wiov);
		if (wlen == 0) {
			/* Nowhere to put a status: a broken driver. */
			vq->stats.errors++;
			vdpa_device_error(&sw->vdpa,
					  "blk request %u has no status byte", head);
			break;
		}
		status = simblk_request(blk, vq, wlen - 1, &pushed);
		/* The status byte goes last, after any data. */
		vringh_iov_advance(&vq->wiov, wlen - 1 - pushed);
		vringh_iov_push(&vq->wiov, &status, 1);
		vq->stats.packets++;
		if (status != VIRTIO_BLK_S_OK)
			vq->stats.errors++;
		ret = vringh_complete(&vq->vring, head, (u32)(pushed + 1));
		if (ret) {
			swdev_vq_error(sw, vq, ret);
			break;
		}
	}
	if (!vdpa_needs_reset(&sw->vdpa))
		swdev_vq_notify(sw, vq);
	return more;
}

static void simblk_update_config(struct swdev *sw)
{
	struct simblk *blk = to_simblk(sw);
	struct virtio_blk_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.capacity = cpu_to_le64(blk->capacity >> SIMBLK_SECTOR_SHIFT);
	cfg.seg_max = cpu_to_le32(SIMBLK_SEG_MAX);
	cfg.blk_size = cpu_to_le32(SIMBLK_SECTOR_SIZE);
	cfg.num_queues = cpu_to_le16(1);
	cfg.max_discard_sectors = cpu_to_le32(SIMBLK_MAX_DISCARD_SECTORS);
	cfg.max_discard_seg = cpu_to_le32(SIMBLK_MAX_DISCARD_SEG);
	cfg.discard_sector_alignment = cpu_to_le32(1);
	cfg.max_write_zeroes_sectors = cpu_to_le32(SIMBLK_MAX_DISCARD_SECTORS);
	cfg.max_write_zeroes_seg = cpu_to_le32(SIMBLK_MAX_DISCARD_SEG);
	cfg.write_zeroes_may_unmap = 1;
	memcpy(sw->config, &cfg, sw->attr.config_size);
}

static void simblk_free(struct swdev *sw)
{
	struct simblk *blk = to_simblk(sw);

	free(blk->disk);
	free(blk);
}

/* Room for a serial (virtio-blk id: 20 bytes) + NUL. */
#define SIMBLK_SERIAL_MAX	(VIRTIO_BLK_ID_BYTES + 1)

/** struct simblk_args - creation attributes of the RAM disk */
struct simblk_args {
	struct vdpa_dev_args common;
	u64 capacity;
	bool ro;
	char serial[SIMBLK_SERIAL_MAX];	/* "": generated */
};

static const struct vdpa_attr simblk_attrs[] = {
	VDPA_ATTR_SIZE(struct simblk_args, capacity, "capacity", 512,
		       SIMBLK_MAX_CAPACITY, "disk size in bytes"),
	VDPA_ATTR_BOOL(struct simblk_args, ro, "ro", "read-only disk"),
	VDPA_ATTR_SERIAL(struct simblk_args, serial, "serial",
			 "<1..20 printable characters>", "GET_ID answer"),
};

static const struct simblk_args simblk_defaults = {
	.capacity = SIMBLK_DEFAULT_CAPACITY,
};

static int simblk_dev_add(struct vdpa_mgmt_dev *mdev, const void *config,
			  struct vdpa_device **out)
{
	const struct simblk_args *args = config;
	static unsigned int next_serial;
	struct swdev_attr attr = {
		.device_id = VIRTIO_ID_BLOCK,
		.nvqs = 1,
		.ngroups = 1,
		.nas = 1,
		.config_size = offsetof(struct virtio_blk_config,
					max_secure_erase_sectors),
		.work = simblk_work,
		.update_config = simblk_update_config,
		.free = simblk_free,
	};
	struct simblk *blk;
	int ret;

	_Static_assert(offsetof(struct virtio_blk_config,
				max_secure_erase_sectors) <= SWDEV_CONFIG_MAX,
		       "blk config fits");
	blk = xzalloc(sizeof(*blk));
	if (!blk)
		return -ENOMEM;
	blk->capacity = args->capacity;
	blk->ro = args->ro;
	if (args->serial[0])
		memcpy(blk->serial, args->serial,
		       strnlen(args->serial, sizeof(blk->serial)));
	else
		snprintf(blk->serial, sizeof(blk->serial), "kestrel-simblk%u",
			 __atomic_fetch_add(&next_serial, 1, __ATOMIC_RELAXED));

	attr.features = SWDEV_FEATURES |
			(1ULL << VIRTIO_BLK_F_SEG_MAX) |
			(1ULL << VIRTIO_BLK_F_BLK_SIZE) |
			(1ULL << VIRTIO_BLK_F_FLUSH);
	if (blk->ro)
		attr.features |= 1ULL << VIRTIO_BLK_F_RO;
	else
		attr.features |= (1ULL << VIRTIO_BLK_F_DISCARD) |
				 (1ULL << VIRTIO_BLK_F_WRITE_ZEROES);

	ret = swdev_init(&blk->sw, &attr);
	if (ret)
		goto err_destroy;
	blk->disk = xzalloc(blk->capacity);
	if (!blk->disk) {
		ret = -ENOMEM;
		goto err_destroy;
	}
	ret = swdev_register(&blk->sw, args->common.name);
	if (ret)
		goto err_destroy;
	*out = &blk->sw.vdpa;
	return 0;

err_destroy:
	/* The caller reports it, naming the option or request (one line). */
	pr_debug("vdpa: cannot create blk simulator: %s", strerror(-ret));
	swdev_destroy(&blk->sw);
	return ret;
}

struct vdpa_mgmt_dev swdev_blk_mgmt_dev = {
	.type = "blk",
	.description = "RAM-disk block simulator",
	.device_id = VIRTIO_ID_BLOCK,
	.attrs = simblk_attrs,
	.nattrs = ARRAY_SIZE(simblk_attrs),
	.config_size = sizeof(struct simblk_args),
	.defaults = &simblk_defaults,
	.dev_add = simblk_dev_add,
};
