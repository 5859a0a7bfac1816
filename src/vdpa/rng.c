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

#include "sim/internal.h"

/* Bytes given per request at most: bounds the time of one worker pass. */
#define RNG_REQ_MAX		4096

struct vdpa_rng {
	struct vdpasim sim;	/* first: freed through it */
	u8 buf[RNG_REQ_MAX];
};

static bool rng_work(struct vdpasim *sim)
{
	struct vdpa_rng *rng = container_of(sim, struct vdpa_rng, sim);
	struct vdpasim_vq *vq = &sim->vqs[0];
	unsigned int budget = VDPASIM_BUDGET;
	bool more = false;
	int ret;

	if (!vq->started)
		return false;
	vringh_notify_disable(&vq->vring);
	while (!vdpa_needs_reset(&sim->vdpa)) {
		size_t want;
		ssize_t got;
		u16 head;

		if (!budget--) {
			more = true;
			break;
		}
		ret = vringh_getdesc(&vq->vring, NULL, &vq->wiov, &head);
		if (ret == 0) {
			if (vdpasim_vq_rearm(sim, vq))
				continue;
			break;
		}
		if (ret == -ENOMEM) {
			more = true;
			break;
		}
		if (ret < 0) {
			/* -EACCES here: a device-readable buffer (§5.4.6.1). */
			vdpasim_vq_error(sim, vq, ret);
			break;
		}
		want = MIN(vringh_iov_length(&vq->wiov), sizeof(rng->buf));
		got = want ? getrandom(rng->buf, want, GRND_NONBLOCK) : 0;
		if (got < 0)
			got = 0;	/* pool not ready yet: an empty answer */
		vringh_iov_push(&vq->wiov, rng->buf, (size_t)got);
		ret = vringh_complete(&vq->vring, head, (u32)got);
		if (ret) {
			vdpasim_vq_error(sim, vq, ret);
			break;
		}
		vq->stats.packets++;
		vq->stats.bytes += (u64)got;
	}
	if (!vdpa_needs_reset(&sim->vdpa))
		vdpasim_vq_notify(sim, vq);
	return more;
}

static void rng_free(struct vdpasim *sim)
{
	free(container_of(sim, struct vdpa_rng, sim));
}

static int rng_dev_add(struct vdpa_mgmt_dev *mdev,
		       const struct vdpa_dev_config *config,
		       struct vdpa_device **out)
{
	const struct vdpasim_dev_attr attr = {
		.device_id = VIRTIO_ID_RNG,
		.nvqs = 1,
		.ngroups = 1,
		.nas = 1,
		.config_size = 0,
		.features = VDPASIM_FEATURES,
		.work = rng_work,
		.free = rng_free,
	};
	struct vdpa_rng *rng;
	int ret;

	rng = xzalloc(sizeof(*rng));
	if (!rng)
		return -ENOMEM;
	ret = vdpasim_init(&rng->sim, &attr);
	if (ret)
		goto err_destroy;
	ret = vdpasim_register(&rng->sim,
			       (config->mask & VDPA_ATTR_NAME) ? config->name : NULL);
	if (ret)
		goto err_destroy;
	*out = &rng->sim.vdpa;
	return 0;

err_destroy:
	pr_debug("vdpa: cannot create rng: %s", strerror(-ret));
	vdpasim_destroy(&rng->sim);
	return ret;
}

static void rng_dev_del(struct vdpa_mgmt_dev *mdev, struct vdpa_device *vdpa)
{
	vdpa_unregister_device(vdpa);
}

struct vdpa_mgmt_dev vdpa_rng_mgmt_dev = {
	.type = "rng",
	.description = "virtio-entropy from getrandom()",
	.device_id = VIRTIO_ID_RNG,
	.attr_mask = VDPA_ATTR_NAME,
	.dev_add = rng_dev_add,
	.dev_del = rng_dev_del,
};
