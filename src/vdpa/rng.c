// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-entropy (virtio 1.2 §5.4): one request queue; every chain the
 * driver posts is device-writable and is filled from getrandom().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <linux/virtio_ids.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/vdpa-dev.h>

#include "devices.h"

#include "swdev/swdev.h"

/* Bytes given per request at most: bounds the time of one worker pass. */
#define RNG_REQ_MAX		4096

struct vdpa_rng {
	struct swdev sw;	/* first: freed through it */
	u8 buf[RNG_REQ_MAX];
};

/* -EACCES from the ring walker: a device-readable buffer (§5.4.6.1). */
static int rng_chain(struct swdev *sw, struct swdev_vq *vq, u16 head, u32 *len)
{
	struct vdpa_rng *rng = container_of(sw, struct vdpa_rng, sw);
	size_t want = MIN(vringh_iov_length(&vq->wiov), sizeof(rng->buf));
	ssize_t got = want ? getrandom(rng->buf, want, GRND_NONBLOCK) : 0;

	if (got < 0)
		got = 0;	/* pool not ready yet: an empty answer */
	vringh_iov_push(&vq->wiov, rng->buf, (size_t)got);
	*len = (u32)got;
	vq->stats.packets++;
	vq->stats.bytes += (u64)got;
	return SWDEV_USED;
}

static bool rng_work(struct swdev *sw)
{
	return swdev_vq_service(sw, &sw->vqs[0], SWDEV_CHAIN_OUT, rng_chain);
}

static void rng_free(struct swdev *sw)
{
	free(container_of(sw, struct vdpa_rng, sw));
}

static int rng_dev_add(struct vdpa_mgmt_dev *mdev,
		       const void *config,
		       struct vdpa_device **out)
{
	const struct swdev_attr attr = {
		.device_id = VIRTIO_ID_RNG,
		.nvqs = 1,
		.ngroups = 1,
		.nas = 1,
		.config_size = 0,
		.features = SWDEV_FEATURES,
		.work = rng_work,
		.free = rng_free,
		.seccomp = SECCOMP_THREAD_DEV_RNG,
	};
	struct vdpa_rng *rng;
	int ret;

	rng = xzalloc(sizeof(*rng));
	if (!rng)
		return -ENOMEM;
	ret = swdev_init(&rng->sw, &attr);
	if (ret)
		goto err_destroy;
	ret = swdev_register(&rng->sw,
			       ((const struct vdpa_dev_args *)config)->name);
	if (ret)
		goto err_destroy;
	*out = &rng->sw.vdpa;
	return 0;

err_destroy:
	pr_debug("vdpa: cannot create rng: %s", strerror(-ret));
	swdev_destroy(&rng->sw);
	return ret;
}

struct vdpa_mgmt_dev vdpa_rng_mgmt_dev = {
	.type = "rng",
	.description = "virtio-entropy from getrandom()",
	.device_id = VIRTIO_ID_RNG,
	.config_size = sizeof(struct vdpa_dev_args),
	.dev_add = rng_dev_add,
};
