// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-console (--console virtio): one line out on the transmit queue.
 * The guest sees the buffer used; unittests.cfg's host_check sees the line
 * on kestrel's standard output (it never goes through the UART: the report
 * lines below do not contain it).
 *
 * With --protected --cmdline protected ring 3 writes the line into private
 * RAM and stages it into a bounce slot of the shared window
 * (guest/lib/bounce.h); ring 0 posts the slot. The receive buffer is
 * private too, behind a slot of its own.
 */
#include "bounce.h"
#include "guest.h"
#include "virtio.h"
#include "x86/multiboot.h"
#include "x86/usermode.h"

#include <kestrel/x86/layout.h>

#define RXQ	0
#define TXQ	1

static const char line[] = "virtio-console: the guest wrote this line\n";
static char rx_buf_shared[64], tx_buf_shared[sizeof(line)];
static struct bounce_pool pool;
static struct bounce_req rx_req, tx_req;
/* The buffers: these, or private RAM when protected. */
static char *rx_buf = rx_buf_shared, *tx_buf = tx_buf_shared;

/* Ring 3: the line into the transmit buffer, then into its slot. */
static u64 stage_line(void *arg)
{
	struct virtq_buf b = { tx_buf, sizeof(line) - 1, false };

	memcpy(tx_buf, line, sizeof(line) - 1);
	return (u64)bounce_stage(&pool, &tx_req, &b, 1, 0, tx_buf);
}

int main(void)
{
	bool protected = multiboot_has_arg("protected");
	struct virtio_device *vdev;
	struct virtqueue rxq = { 0 }, txq = { 0 };
	struct virtq_buf r;
	struct bounce_req *c = NULL;
	u8 st;

	report_prefix_push("virtio-console");
	if (protected) {
		rx_buf = private_alloc(64, 64);
		tx_buf = private_alloc(sizeof(line), 64);
		if (!rx_buf || !tx_buf) {
			report(false, "private RAM for the buffers (needs --memory above 64M)");
			return report_summary();
		}
	}
	if (bounce_pool_init(&pool, 2, 64, protected)) {
		report(false, "bounce slots in the shared window");
		return report_summary();
	}
	r = (struct virtq_buf){ rx_buf, 64, true };
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
	bounce_add(&rxq, &pool, &rx_req, &r, 0, 1, rx_buf);
	virtqueue_kick(&rxq);

	if (!run_in_user(stage_line, NULL) && bounce_post(&txq, &tx_req) >= 0) {
		virtqueue_kick(&txq);
		if (virtqueue_wait_pending(&txq, 5000))
			c = bounce_take(&txq);
	}
	report(c == &tx_req && c->cookie == tx_buf, "transmit buffer used (%zu bytes out)",
	       sizeof(line) - 1);
	if (protected)
		report((u64)(uintptr_t)tx_buf >= X86_PRIVATE_RAM_START &&
		       pool.bytes_out == sizeof(line) - 1,
		       "the line was in private RAM at %#lx, %lu bytes bounced out",
		       (unsigned long)(uintptr_t)tx_buf, (unsigned long)pool.bytes_out);
	st = virtio_get_status(vdev);
	report(!(st & VIRTIO_STATUS_NEEDS_RESET), "status %#x", st);
	report(virtio_reset(vdev), "reset");
	report_prefix_pop();
	return report_summary();
}
