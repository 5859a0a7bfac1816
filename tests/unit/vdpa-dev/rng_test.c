// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-entropy: buffers come back full of random bytes (two buffers
 * differ, neither is all zero), large buffers are capped, and a
 * device-readable buffer (forbidden by virtio 1.2 §5.4.6.1) makes the
 * device need a reset instead of being read.
 */
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>

#include "../test.h"
#include "../vdpa/driver.h"

static bool up(struct vdrv *d, struct vdpa_device *vdpa)
{
	return vdrv_init(d, vdpa, 1 << 20) == 0 && vdrv_map(d, 0) == 0 &&
	       vdrv_negotiate(d, (1ULL << VIRTIO_F_VERSION_1) |
			      (1ULL << VIRTIO_F_ACCESS_PLATFORM)) == 0 &&
	       vdrv_vq_setup(d, 0, 8) == 0 && vdrv_driver_ok(d) == 0;
}

static void down(struct vdrv *d)
{
	vdpa_reset(d->vdpa);
	vdpa_dma_unmap(d->vdpa, 0, d->iova, d->size);
	vdrv_fini(d);
}

int main(void)
{
	static const u8 zero[64];
	struct vdpa_device *vdpa;
	struct vdrv d;
	u8 *a, *b, *big;
	u16 head;
	u32 la = 0, lb = 0, lbig = 0;

	if (vdpa_register_types() || vdpa_mgmt_dev_add("rng", &vdpa)) {
		report(false, "created");
		return report_summary();
	}
	report_eq(vdpa_get_device_id(vdpa), VIRTIO_ID_RNG, "device id 4");
	if (!report(up(&d, vdpa), "bring-up"))
		return report_summary();
	a = vdrv_alloc(&d, 64, 1);
	b = vdrv_alloc(&d, 64, 1);
	big = vdrv_alloc(&d, 65536, 1);
	memset(a, 0, 64);
	memset(b, 0, 64);
	vdrv_add(&d, 0, &(struct vdrv_sg){ a, 64, true }, 1);
	vdrv_add(&d, 0, &(struct vdrv_sg){ b, 64, true }, 1);
	vdrv_add(&d, 0, &(struct vdrv_sg){ big, 65536, true }, 1);
	vdrv_publish(&d, 0);
	vdrv_kick(&d, 0);
	if (check_true(vdrv_wait_used(&d, 0, &head, &la, 2000))) {
		if (check_true(vdrv_wait_used(&d, 0, &head, &lb, 2000)))
			check_true(vdrv_wait_used(&d, 0, &head, &lbig, 2000));
	}
	report_checks("three requests served");
	check_eq(la, 64);
	check_eq(lb, 64);
	report_checks("64 bytes each");
	check_true(memcmp(a, zero, 64));
	check_true(memcmp(b, zero, 64));
	check_true(memcmp(a, b, 64));
	report_checks("random, and different each time");
	check_gt(lbig, 0);
	check_le(lbig, 4096);
	report_checks("a 64 KiB buffer gets a bounded answer (%u)", lbig);

	vdrv_add(&d, 0, &(struct vdrv_sg){ a, 64, false }, 1);
	vdrv_publish(&d, 0);
	vdrv_kick(&d, 0);
	report(vdrv_wait_status(&d, VIRTIO_CONFIG_S_NEEDS_RESET, 2000),
	       "device-readable buffer: NEEDS_RESET");
	down(&d);
	report(up(&d, vdpa), "works again after reset");
	a = vdrv_alloc(&d, 16, 1);	/* the old memory went with vdrv_fini() */
	vdrv_add(&d, 0, &(struct vdrv_sg){ a, 16, true }, 1);
	vdrv_publish(&d, 0);
	vdrv_kick(&d, 0);
	if (check_true(vdrv_wait_used(&d, 0, &head, &la, 2000)))
		check_eq(la, 16);
	report_checks("served after reset");
	down(&d);
	vdpa_mgmt_dev_del(vdpa);
	return report_summary();
}
