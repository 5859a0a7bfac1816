// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-console (--console virtio): one line out on the transmit queue.
 * The guest sees the buffer used; unittests.cfg's host_check sees the line
 * on kestrel's standard output (it never goes through the UART: the report
 * lines below do not contain it).
 */
#include "guest.h"
#include "virtio.h"

#define RXQ	0
#define TXQ	1

static const char line[] = "virtio-console: the guest wrote this line\n";
static char rx_buf[64];

int main(void)
{
	struct virtio_device *vdev;
	struct virtqueue rxq = { 0 }, txq = { 0 };
	struct virtq_buf b = { (void *)line, sizeof(line) - 1, false };
	struct virtq_buf r = { rx_buf, sizeof(rx_buf), true };
	void *c;
	u8 st;

	report_prefix_push("virtio-console");
	vdev = virtio_find(VIRTIO_ID_CONSOLE, 0);
	if (!vdev) {
		report_skip("no virtio-console device (run with --console virtio)");
		return report_summary();
	}
	virtio_irq_enable(vdev);
	report(!virtio_negotiate(vdev, BIT_ULL(VIRTIO_RING_F_EVENT_IDX)) &&
	       !virtqueue_setup(vdev, &rxq, RXQ, 16) &&
	       !virtqueue_setup(vdev, &txq, TXQ, 16) && virtio_driver_ok(vdev),
	       "reset, features, queues, DRIVER_OK");
	/* A receive buffer posted: input (none here, stdin is empty) may come. */
	virtqueue_add(&rxq, &r, 0, 1, rx_buf);
	virtqueue_kick(&rxq);

	virtqueue_add(&txq, &b, 1, 0, (void *)line);
	virtqueue_kick(&txq);
	c = virtqueue_wait(&txq, NULL, 5000);
	report(c == line, "transmit buffer used (%zu bytes out)", sizeof(line) - 1);
	st = virtio_get_status(vdev);
	report(!(st & VIRTIO_STATUS_NEEDS_RESET), "status %#x", st);
	report(virtio_reset(vdev), "reset");
	report_prefix_pop();
	return report_summary();
}
