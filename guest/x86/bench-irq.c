// SPDX-License-Identifier: GPL-2.0-only
/*
 * Interrupt delivery round trip (bench/irq-latency.sh): one virtio-rng
 * request at a time, the guest halted until the device's used-buffer
 * interrupt arrives, BENCH_ROUNDS times inside one host-timed span. The
 * same guest runs with the device on virtio-mmio (edge GSI irqfd, the
 * handler reads and acknowledges InterruptStatus: two exits) and on
 * virtio-pci (an MSI-X vector's irqfd, no register access in the handler);
 * everything else in the round trip (the notify ioeventfd, the device
 * thread, the halt) is the same. Prints the round trips and interrupts.
 */
#include "guest.h"
#include "virtio.h"
#include "x86/bench.h"

#define BENCH_ROUNDS	2000
#define LEN		16

static u8 buf[LEN];

int main(void)
{
	struct virtq_buf b = { buf, LEN, true };
	struct virtio_device *vdev;
	struct virtqueue vq = { 0 };
	unsigned int done = 0;
	u32 irqs, len;

	report_prefix_push("bench-irq");
	vdev = virtio_find(VIRTIO_ID_RNG, 0);
	if (!vdev) {
		report_skip("no virtio-rng device (run with --rng)");
		return report_summary();
	}
	virtio_irq_enable(vdev);
	if (virtio_negotiate(vdev, 0) || virtqueue_setup(vdev, &vq, 0, 16) ||
	    !virtio_driver_ok(vdev)) {
		report(false, "set up");
		return report_summary();
	}
	for (int i = 0; i < 20; i++) {		/* warm up: threads awake, routes set */
		virtqueue_add(&vq, &b, 0, 1, buf);
		virtqueue_notify(&vq);
		virtqueue_wait(&vq, &len, 1000);
	}
	irqs = vdev->vring_irqs;
	bench_span_start();
	for (unsigned int i = 0; i < BENCH_ROUNDS; i++) {
		u32 seen = vdev->vring_irqs;
		void *got = NULL;

		virtqueue_add(&vq, &b, 0, 1, buf);
		virtqueue_notify(&vq);
		/*
		 * Halt until the interrupt: the completion alone does not end a
		 * round. A late interrupt of the round before may come first,
		 * with this round's buffer not back yet: then wait for the next.
		 */
		for (int w = 0; w < 3 && !got; w++) {
			if (!virtio_wait_counter(&vdev->vring_irqs, seen, 100))
				break;
			seen = vdev->vring_irqs;
			got = virtqueue_get(&vq, &len);
		}
		if (got == buf)
			done++;
	}
	bench_span_stop();
	irqs = vdev->vring_irqs - irqs;
	printf("BENCH-IRQ transport=%s rounds=%u irqs=%u\n", vdev->pci ? "pci" : "mmio", done, irqs);
	report(done == BENCH_ROUNDS && irqs >= BENCH_ROUNDS,
	       "%u round trips, %u interrupts (%s)", done, irqs, vdev->pci ? "virtio-pci" : "virtio-mmio");
	report(virtio_reset(vdev), "reset");
	report_prefix_pop();
	return report_summary();
}
