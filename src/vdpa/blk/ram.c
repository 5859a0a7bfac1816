// SPDX-License-Identifier: GPL-2.0-only
/*
 * The RAM-disk backend of the blk class, type "blk": read, write, flush,
 * get-id, discard and write-zeroes over a buffer in memory, served
 * synchronously in the worker pass. Discarded sectors read back as zeroes,
 * like written-zeroes ones: the disk is deterministic.
 *
 * Attributes: capacity (bytes, multiple of 512, at most 1 GiB; default
 * 128 MiB), ro, serial (default "kestrel-simblk<n>", n counting devices),
 * and the rate limit of blk.h (bw_*, ops_*).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ids.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>

#include "../devices.h"
#include "blk.h"

#define BLK_RAM_DEFAULT_CAPACITY	(128ULL << 20)
#define BLK_RAM_MAX_CAPACITY		(1ULL << 30)
/* Per-segment limit of discard / write-zeroes (in sectors). */
#define BLK_RAM_DWZ_SECTORS_MAX		(1u << 20)

/**
 * struct blk_ram - a RAM disk
 * @blk: the blk class (first)
 * @disk: the disk contents, blk.capacity bytes; only touched by the worker
 *	under sw.lock
 */
struct blk_ram {
	struct blk_dev blk;
	u8 *disk;
};

static u8 *blk_ram_at(struct blk_dev *blk, u64 sector)
{
	return container_of(blk, struct blk_ram, blk)->disk +
	       (sector << BLK_SECTOR_SHIFT);
}

static int blk_ram_read(struct blk_dev *blk, struct blk_req *req)
{
	vringh_iov_push(req->data, blk_ram_at(blk, req->sector), req->len);
	return 0;
}

static int blk_ram_write(struct blk_dev *blk, struct blk_req *req)
{
	vringh_iov_pull(req->data, blk_ram_at(blk, req->sector), req->len);
	return 0;
}

static int blk_ram_flush(struct blk_dev *blk, struct blk_req *req)
{
	/* Memory is as durable as this disk gets. */
	return 0;
}

static int blk_ram_write_zeroes(struct blk_dev *blk, u64 sector, u32 nsec,
				bool unmap)
{
	memset(blk_ram_at(blk, sector), 0, (size_t)nsec << BLK_SECTOR_SHIFT);
	return 0;
}

static int blk_ram_discard(struct blk_dev *blk, u64 sector, u32 nsec)
{
	return blk_ram_write_zeroes(blk, sector, nsec, true);
}

static void blk_ram_free(struct blk_dev *blk)
{
	struct blk_ram *ram = container_of(blk, struct blk_ram, blk);

	free(ram->disk);
	free(ram);
}

static const struct blk_ops blk_ram_ops = {
	.read		= blk_ram_read,
	.write		= blk_ram_write,
	.flush		= blk_ram_flush,
	.discard	= blk_ram_discard,
	.write_zeroes	= blk_ram_write_zeroes,
	.free		= blk_ram_free,
};

/** struct blk_ram_args - creation attributes of the RAM disk */
struct blk_ram_args {
	struct vdpa_dev_args common;
	u64 capacity;
	struct blk_args blk;
};

static const struct vdpa_attr blk_ram_attrs[] = {
	VDPA_ATTR_SIZE(struct blk_ram_args, capacity, "capacity", 512,
		       BLK_RAM_MAX_CAPACITY, "disk size in bytes"),
	BLK_ATTRS(struct blk_ram_args, blk),
};

static const struct blk_ram_args blk_ram_defaults = {
	.capacity = BLK_RAM_DEFAULT_CAPACITY,
};

static int blk_ram_dev_add(struct vdpa_mgmt_dev *mdev, const void *config,
			   struct vdpa_device **out)
{
	const struct blk_ram_args *args = config;
	static unsigned int next_serial;
	char serial[VIRTIO_BLK_ID_BYTES];
	struct blk_ram *ram;
	int ret;

	ram = xzalloc(sizeof(*ram));
	if (!ram)
		return -ENOMEM;
	snprintf(serial, sizeof(serial), "kestrel-simblk%u",
		 __atomic_fetch_add(&next_serial, 1, __ATOMIC_RELAXED));
	blk_dev_set_serial(&ram->blk, args->blk.serial[0] ? args->blk.serial : serial);
	ret = blk_dev_init(&ram->blk, &blk_ram_ops, args->blk.ro,
			   BLK_RAM_DWZ_SECTORS_MAX);
	if (ret)
		goto err_destroy;
	ram->blk.capacity = args->capacity;
	ram->disk = xzalloc(args->capacity);
	if (!ram->disk) {
		ret = -ENOMEM;
		goto err_destroy;
	}
	ret = swdev_set_limits(&ram->blk.sw, &args->blk.limit);
	if (ret)
		goto err_destroy;
	ret = swdev_register(&ram->blk.sw, args->common.name);
	if (ret)
		goto err_destroy;
	*out = &ram->blk.sw.vdpa;
	return 0;

err_destroy:
	/* The caller reports it, naming the option or request (one line). */
	pr_debug("vdpa: cannot create blk simulator: %s", strerror(-ret));
	swdev_destroy(&ram->blk.sw);
	return ret;
}

struct vdpa_mgmt_dev blk_ram_mgmt_dev = {
	.type = "blk",
	.description = "RAM-disk block simulator",
	.device_id = VIRTIO_ID_BLOCK,
	.attrs = blk_ram_attrs,
	.nattrs = ARRAY_SIZE(blk_ram_attrs),
	.config_size = sizeof(struct blk_ram_args),
	.defaults = &blk_ram_defaults,
	.dev_add = blk_ram_dev_add,
};
