// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-balloon (--balloon amount_mib=32,stats_polling_interval_s=1): the
 * guest touches 64 MiB, reads the target the host set (num_pages), inflates
 * that many of the touched pages, writes actual, and deflates them again;
 * a deflated page reads zero, so the host really dropped what it held.
 * Hostile PFNs (above RAM, in the virtio-mmio window) are refused without
 * breaking the device, a free page report (with free_page_reporting=on)
 * reads zero afterwards, and the statistics buffer comes back on the
 * polling interval.
 *
 * Booted with amount_mib=0, it waits for a config-change interrupt and
 * reads the target then (the API's PATCH /balloon).
 *
 * With --protected --cmdline protected the touched range is private RAM:
 * inflating it releases nothing (ring 3 reads it all back) and the device
 * keeps running.
 *
 * With scripts/balloon-rss.py as the wrapper, the guest prints
 * "balloon-rss: touched" and "balloon-rss: inflated N" and waits for a byte
 * on COM1 after each: the script reads kestrel's VmRSS at both points and
 * fails the test unless it fell by about N pages.
 */
#include "guest.h"
#include "virtio.h"
#include "x86/multiboot.h"
#include "x86/processor.h"
#include "x86/usermode.h"

#define VIRTIO_ID_BALLOON	5
#define F_STATS_VQ		1
#define F_REPORTING		5
#define REPORT_LEN		(2ULL << 20)	/* one free 2 MiB block reported */
#define PAGE			4096ULL
#define TOUCH_BASE		(64ULL << 20)	/* guest-physical, identity mapped */
#define TOUCH_PAGES		((64ULL << 20) / PAGE)
#define BATCH			256		/* PFNs per inflate buffer */
#define COM1			0x3f8
#define MAGIC			0x5a
#define REPORTED		0xa5	/* written into the reported block */

static u32 pfns[BATCH];
/* Static: four of them (~4.6 KiB each) would overflow a 16 KiB stack. */
static struct virtqueue inflate, deflate, statsq, reportq;

struct stat_entry {
	u16 tag;
	u64 val;
} __attribute__((packed));

static struct stat_entry stats[2];

/* Write one byte in every page of the range: ring 3, which runs natively. */
static u64 touch(void *arg)
{
	for (u64 i = 0; i < TOUCH_PAGES; i++)
		*(volatile u8 *)(uintptr_t)(TOUCH_BASE + i * PAGE) = MAGIC;
	return 0;
}

/* Pages of the range still holding MAGIC: ring 3 (private RAM is native there). */
static u64 count_magic(void *arg)
{
	u64 n = 0;

	for (u64 i = 0; i < TOUCH_PAGES; i++)
		n += *(volatile u8 *)(uintptr_t)(TOUCH_BASE + i * PAGE) == MAGIC;
	return n;
}

static bool cmdline_says_protected(void)
{
	char buf[256], *argv[8];
	int n = multiboot_args(argv, 8, buf, sizeof(buf));

	for (int i = 0; i < n; i++)
		if (!strcmp(argv[i], "protected"))
			return true;
	return false;
}

/* Wait (~@ms) for the host's go-ahead on COM1; true if it came. */
static bool wait_host(unsigned int ms)
{
	u32 never = 0;

	for (unsigned int i = 0; i < ms; i++) {
		if (inb(COM1 + 5) & 1) {
			inb(COM1);
			return true;
		}
		virtio_wait_counter(&never, 0, 1);
	}
	return false;
}

/* Send @n PFNs from pfns[] on @vq; true when the device gave them back. */
static bool send(struct virtqueue *vq, unsigned int n)
{
	struct virtq_buf b = { pfns, n * 4, false };
	u32 len;

	if (virtqueue_add(vq, &b, 1, 0, pfns) < 0)
		return false;
	virtqueue_kick(vq);
	return virtqueue_wait(vq, &len, 5000) == pfns;
}

/* Pages [first, first + n) of the touched range on @vq. */
static bool send_range(struct virtqueue *vq, u64 first, u64 n)
{
	for (u64 done = 0; done < n;) {
		unsigned int k = (unsigned int)MIN((u64)BATCH, n - done);

		for (unsigned int i = 0; i < k; i++)
			pfns[i] = (u32)((TOUCH_BASE >> 12) + first + done + i);
		if (!send(vq, k))
			return false;
		done += k;
	}
	return true;
}

/*
 * --protected --cmdline protected: the touched range is private RAM
 * (docs/protected.md), which the device's IOTLB does not hold. Inflating
 * it must release nothing and leave the device running.
 */
static void protected_run(struct virtio_device *vdev)
{
	run_in_user(touch, NULL);
	report(send_range(&inflate, 0, 64) && !virtio_needs_reset(vdev),
	       "64 private PFNs inflated: refused, the device goes on");
	report(run_in_user(count_magic, NULL) == TOUCH_PAGES,
	       "private pages kept their contents: nothing was released");
	report(send_range(&deflate, 0, 64), "and deflated");
}

int main(void)
{
	struct virtq_buf sb = { stats, sizeof(stats), false };
	struct virtio_device *vdev;
	bool stats_on, reporting, zero = true;
	u32 target, len;

	report_prefix_push("virtio-balloon");
	vdev = virtio_find(VIRTIO_ID_BALLOON, 0);
	if (!vdev) {
		report_skip("no virtio-balloon device (run with --balloon amount_mib=N)");
		return report_summary();
	}
	virtio_irq_enable(vdev);
	report(!virtio_negotiate(vdev, BIT_ULL(F_STATS_VQ) | BIT_ULL(F_REPORTING)) &&
	       !virtqueue_setup(vdev, &inflate, 0, 16) &&
	       !virtqueue_setup(vdev, &deflate, 1, 16), "reset, features, queues");
	stats_on = vdev->features & BIT_ULL(F_STATS_VQ);
	if (stats_on) {
		report(!virtqueue_setup(vdev, &statsq, 2, 4), "statsq");
		stats[0] = (struct stat_entry){ 4, 123 << 20 };	/* free memory */
		stats[1] = (struct stat_entry){ 5, 256 << 20 };	/* total memory */
		virtqueue_add(&statsq, &sb, 1, 0, stats);
	}
	reporting = vdev->features & BIT_ULL(F_REPORTING);
	if (reporting)	/* after statsq when there is one (virtio 1.2 §5.5.2) */
		report(!virtqueue_setup(vdev, &reportq, stats_on ? 3 : 2, 4), "reporting_vq");
	report(virtio_driver_ok(vdev), "DRIVER_OK");
	if (stats_on)
		virtqueue_kick(&statsq);

	if (cmdline_says_protected()) {
		protected_run(vdev);
		report(virtio_reset(vdev), "reset");
		report_prefix_pop();
		return report_summary();
	}
	run_in_user(touch, NULL);
	printf("balloon-rss: touched %llu\n", (unsigned long long)TOUCH_PAGES);
	wait_host(30000);

	target = virtio_cread32(vdev, 0);
	if (!target) {
		/* Booted with amount_mib=0: the host sets one (PATCH /balloon). */
		u32 irqs = vdev->config_irqs;

		printf("balloon-rss: waiting for a target\n");
		report(virtio_wait_counter(&vdev->config_irqs, irqs, 30000),
		       "a config-change interrupt");
		target = virtio_cread32(vdev, 0);
	}
	report(target > 0 && target <= TOUCH_PAGES, "target %u pages (at most %llu)", target,
	       (unsigned long long)TOUCH_PAGES);
	if (target > TOUCH_PAGES)
		target = (u32)TOUCH_PAGES;

	report(send_range(&inflate, 0, target), "inflated %u pages", target);
	virtio_mmio_write(vdev, VIRTIO_MMIO_CONFIG + 4, target);
	report(virtio_cread32(vdev, 4) == target, "actual reads back %u",
	       virtio_cread32(vdev, 4));
	printf("balloon-rss: inflated %u\n", target);
	wait_host(30000);
	/* The host may have snapshotted and restored the machine meanwhile. */
	report(virtio_cread32(vdev, 0) == target, "the target is still %u pages",
	       virtio_cread32(vdev, 0));

	/* Hostile: above RAM (4 GiB), and the virtio-mmio window itself. */
	pfns[0] = 0x100000;
	pfns[1] = (u32)(vdev->base >> 12);
	pfns[2] = 0xffffffffu;
	report(send(&inflate, 3) && !virtio_needs_reset(vdev),
	       "PFNs outside RAM are refused, the device goes on");

	report(send_range(&deflate, 0, target), "deflated %u pages", target);
	for (u64 i = 0; i < target; i += 64)
		zero &= *(volatile u8 *)(uintptr_t)(TOUCH_BASE + i * PAGE) == 0;
	report(zero, "deflated pages read zero: the host released them");
	report(*(volatile u8 *)(uintptr_t)(TOUCH_BASE + (TOUCH_PAGES - 1) * PAGE) == MAGIC,
	       "pages never inflated kept their contents");

	if (reporting) {
		/* The last 2 MiB of the touched range, rewritten, then reported free. */
		u8 *blk = (u8 *)(uintptr_t)(TOUCH_BASE + TOUCH_PAGES * PAGE - REPORT_LEN);
		struct virtq_buf rb = { blk, (u32)REPORT_LEN, true };
		bool dropped = true;

		for (u64 i = 0; i < REPORT_LEN; i += PAGE)
			*(volatile u8 *)(uintptr_t)(blk + i) = REPORTED;
		if (virtqueue_add(&reportq, &rb, 0, 1, blk) >= 0)
			virtqueue_kick(&reportq);
		report(virtqueue_wait(&reportq, &len, 5000) == blk, "free page report returned");
		/*
		 * Zero, or (in a machine restored from a snapshot, whose RAM is
		 * the memory file mapped private) what the file holds: never
		 * what was written since.
		 */
		for (u64 i = 0; i < REPORT_LEN; i += 64 * PAGE)
			dropped &= *(volatile u8 *)(uintptr_t)(blk + i) != REPORTED;
		report(dropped, "reported pages lost what the guest wrote: the host released them");
	}
	if (stats_on) {
		report(virtqueue_wait(&statsq, &len, 5000) == stats,
		       "the statistics buffer comes back: the device asks again");
	}
	report(virtio_reset(vdev), "reset");
	report_prefix_pop();
	return report_summary();
}
