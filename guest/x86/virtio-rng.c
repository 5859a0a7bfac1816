// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-rng (--rng): buffers come back full (used length = buffer
 * length), the bytes are not constant, and two reads differ.
 */
#include "guest.h"
#include "virtio.h"

#define LEN	64

static u8 a[LEN], b[LEN];

static bool constant(const u8 *p)
{
	for (unsigned int i = 1; i < LEN; i++)
		if (p[i] != p[0])
			return false;
	return true;
}

int main(void)
{
	struct virtio_device *vdev;
	struct virtqueue vq = { 0 };
	struct virtq_buf ba = { a, LEN, true }, bb = { b, LEN, true };
	u32 la = 0, lb = 0;
	void *ca, *cb;

	report_prefix_push("virtio-rng");
	vdev = virtio_find(VIRTIO_ID_RNG, 0);
	if (!vdev) {
		report_skip("no virtio-rng device (run with --rng)");
		return report_summary();
	}
	virtio_irq_enable(vdev);
	report(!virtio_negotiate(vdev, BIT_ULL(VIRTIO_RING_F_EVENT_IDX)) &&
	       !virtqueue_setup(vdev, &vq, 0, 16) && virtio_driver_ok(vdev),
	       "reset, features, queue, DRIVER_OK");
	virtqueue_add(&vq, &ba, 0, 1, a);
	virtqueue_kick(&vq);
	ca = virtqueue_wait(&vq, &la, 5000);
	virtqueue_add(&vq, &bb, 0, 1, b);
	virtqueue_kick(&vq);
	cb = virtqueue_wait(&vq, &lb, 5000);
	report(ca == a && la == LEN, "first buffer filled (%u bytes)", la);
	report(cb == b && lb == LEN, "second buffer filled (%u bytes)", lb);
	report(!constant(a) && !constant(b), "bytes are not constant");
	report(memcmp(a, b, LEN), "two reads differ");
	report(virtio_reset(vdev), "reset");
	report_prefix_pop();
	return report_summary();
}
