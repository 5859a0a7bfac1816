// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rate limits measured: a blk device (RAM and file backends) and a net
 * device (transmit through the sink backend, receive from the gen
 * backend), each limited in operations and bytes, are driven as fast as
 * the in-process driver can for a moment. What they served may never
 * exceed size + one-time burst + rate x elapsed (elapsed from the
 * device's creation, when its buckets were full, to the last completion
 * seen: an upper bound a slow machine cannot break), and every request
 * submitted completes in the end, none failed. The achieved rate is
 * printed against the limit.
 *
 * Then, on a throttled device: the worker sleeps (no CPU burnt while
 * requests wait), suspend and reset are prompt, and lifting the limit
 * at run time lets the waiting requests through at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>

#include "../test.h"
#include "driver.h"

#define NUM		128	/* INFLIGHT blk chains of 3 descriptors */
#define INFLIGHT	32
#define RUN_MS		600
#define HDR		12	/* virtio_net_hdr_v1 */
#define BLK_DATA	4096
#define FRAME		1000	/* bytes of a frame, without the vnet header */

static const u64 blk_features =
	(1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM) |
	(1ULL << VIRTIO_BLK_F_FLUSH) | VRINGH_F_EVENT_IDX;
static const u64 net_features =
	(1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM) |
	(1ULL << VIRTIO_NET_F_MAC) | VRINGH_F_EVENT_IDX;

struct blk_hdr {
	le32 type;
	le32 ioprio;
	le64 sector;
};

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

static u64 cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((u64)ru.ru_utime.tv_sec + (u64)ru.ru_stime.tv_sec) * 1000000000ULL +
	       ((u64)ru.ru_utime.tv_usec + (u64)ru.ru_stime.tv_usec) * 1000ULL;
}

/**
 * struct pump - keeps INFLIGHT identical requests in one queue
 * @d: the driver
 * @q: the queue
 * @sg: the buffers of each slot's chain
 * @nsg: buffers a chain has
 * @status: each slot's blk status byte, or NULL (net)
 * @slot_of: the slot of each ring head
 * @inflight: chains the device has not completed
 * @done: chains completed
 * @bad: completions that were not a success (status, length)
 * @ok_len: the used length a success has
 */
struct pump {
	struct vdrv *d;
	u16 q;
	struct vdrv_sg sg[INFLIGHT][3];
	unsigned int nsg;
	u8 *status[INFLIGHT];
	int slot_of[NUM];
	unsigned int inflight;
	u64 done;
	u64 bad;
	u32 ok_len;
};

static void pump_add(struct pump *p, unsigned int slot)
{
	int head = vdrv_add(p->d, p->q, p->sg[slot], p->nsg);

	if (head < 0 || head >= NUM) {
		p->bad++;
		return;
	}
	if (p->status[slot])
		*p->status[slot] = 0xff;
	p->slot_of[head] = (int)slot;
	p->inflight++;
}

/* Take one completion (waiting up to @ms); resubmit its slot if @again. */
static bool pump_reap(struct pump *p, int ms, bool again)
{
	u16 head;
	u32 len;
	int slot;

	if (!vdrv_wait_used(p->d, p->q, &head, &len, ms))
		return false;
	slot = head < NUM ? p->slot_of[head] : -1;
	p->inflight--;
	p->done++;
	if (slot < 0 || len != p->ok_len ||
	    (p->status[slot] && *p->status[slot] != VIRTIO_BLK_S_OK))
		p->bad++;
	if (again && slot >= 0) {
		pump_add(p, (unsigned int)slot);
		vdrv_publish(p->d, p->q);
		vdrv_kick(p->d, p->q);
	}
	return true;
}

/*
 * Drive @p for RUN_MS: fill the ring, then resubmit whatever completes.
 * Return: ns from @t0 to the last completion seen.
 */
static u64 pump_run(struct pump *p, u64 t0)
{
	u64 end = now_ns() + RUN_MS * 1000000ULL, last = now_ns();

	for (unsigned int s = 0; s < INFLIGHT; s++)
		pump_add(p, s);
	vdrv_publish(p->d, p->q);
	vdrv_kick(p->d, p->q);
	while (now_ns() < end)
		if (pump_reap(p, 1, true))
			last = now_ns();
	return last - t0;
}

/* Everything submitted completes, and succeeded. */
static void pump_drain(struct pump *p, const char *what)
{
	while (p->inflight && pump_reap(p, 3000, false))
		;
	check_eq(p->inflight, 0);
	check_eq(p->bad, 0);
	report_checks("%s: all %llu requests completed, none failed", what,
		      (unsigned long long)p->done);
}

/*
 * @served of one bucket within @elapsed_ns may not exceed size + burst +
 * size / refill x elapsed. Prints the rate achieved after the initial
 * bucket and burst against the limit.
 */
static void check_bound(const char *what, const char *unit, u64 served,
			const struct vdpa_bucket *b, u64 elapsed_ns)
{
	double ms = (double)elapsed_ns / 1e6;
	double bound = (double)b->size + (double)b->one_time_burst +
		       (double)b->size * ms / (double)b->refill_ms;
	double limit = (double)b->size * 1000.0 / (double)b->refill_ms;
	double got = ((double)served - (double)b->size - (double)b->one_time_burst) *
		     1000.0 / ms;

	printf("# %s: %llu %s in %.0f ms: %.0f %s/s after the initial bucket, limit %.0f %s/s (bound %.0f)\n",
	       what, (unsigned long long)served, unit, ms, got, unit, limit, unit, bound);
	report((double)served <= bound, "%s: %llu %s served within size + burst + rate x time (%.0f)",
	       what, (unsigned long long)served, unit, bound);
}

/* ---- the devices ---------------------------------------------------------- */

/* Bring @vdpa up with @nqs queues of NUM entries. */
static int dev_up(struct vdrv *d, struct vdpa_device *vdpa, u64 features, u16 nqs)
{
	int ret = vdrv_init(d, vdpa, 1 << 20);

	if (!ret)
		ret = vdrv_map(d, 0);
	if (!ret)
		ret = vdrv_negotiate(d, features);
	for (u16 q = 0; !ret && q < nqs; q++)
		ret = vdrv_vq_setup(d, q, NUM);
	if (!ret)
		ret = vdrv_driver_ok(d);
	return ret;
}

static int blk_up(struct vdrv *d, struct vdpa_device *vdpa)
{
	return dev_up(d, vdpa, blk_features, 1);
}

static void dev_down(struct vdrv *d)
{
	vdpa_reset(d->vdpa);
	vdpa_dma_unmap(d->vdpa, 0, d->iova, d->size);
	vdrv_fini(d);
}

/* INFLIGHT reads of @len bytes at sector 0. */
static void blk_pump_init(struct pump *p, struct vdrv *d, u32 len)
{
	memset(p, 0, sizeof(*p));
	p->d = d;
	p->q = 0;
	p->nsg = 3;
	p->ok_len = len + 1;
	for (unsigned int s = 0; s < INFLIGHT; s++) {
		struct blk_hdr *h = vdrv_alloc(d, sizeof(*h), 16);

		h->type = cpu_to_le32(VIRTIO_BLK_T_IN);
		h->sector = 0;
		p->status[s] = vdrv_alloc(d, 1, 1);
		p->sg[s][0] = (struct vdrv_sg){ h, sizeof(*h), false };
		p->sg[s][1] = (struct vdrv_sg){ vdrv_alloc(d, len, 64), len, true };
		p->sg[s][2] = (struct vdrv_sg){ p->status[s], 1, true };
	}
}

/* INFLIGHT transmit frames of FRAME bytes, or receive buffers (net). */
static void net_pump_init(struct pump *p, struct vdrv *d, bool tx)
{
	memset(p, 0, sizeof(*p));
	p->d = d;
	p->q = tx ? 1 : 0;
	p->nsg = 1;
	/* Transmit chains complete with 0; gen fills header + frame. */
	p->ok_len = tx ? 0 : HDR + FRAME;
	for (unsigned int s = 0; s < INFLIGHT; s++) {
		u8 *f = vdrv_alloc(d, HDR + 2048, 64);

		memset(f, 0, HDR + 2048);
		memset(f + HDR, 0x02, 12);	/* unicast addresses */
		p->sg[s][0] = (struct vdrv_sg){ f, tx ? HDR + FRAME : HDR + 2048, !tx };
	}
}

enum kind { BLK, NET_TX, NET_RX };

/*
 * Create @spec, drive it as fast as the driver can (blk: reads of
 * BLK_DATA bytes; net: frames of FRAME bytes) and check the bounds of the
 * buckets given (size 0: not given).
 */
static void test_limited(const char *what, const char *spec, enum kind kind,
			 const struct vdpa_bucket *ops, const struct vdpa_bucket *bw)
{
	u64 bytes = kind == BLK ? BLK_DATA : FRAME, t0, elapsed;
	const char *unit = kind == BLK ? "ops" : "frames";
	struct vdpa_device *vdpa;
	struct vdrv d;
	struct pump p;
	int ret;

	report_prefix_push(what);
	t0 = now_ns();
	if (!report_eq(vdpa_mgmt_dev_add(spec, &vdpa), 0, "create %s", spec)) {
		report_prefix_pop();
		return;
	}
	ret = kind == BLK ? blk_up(&d, vdpa) : dev_up(&d, vdpa, net_features, 2);
	if (report_eq(ret, 0, "bring-up")) {
		if (kind == BLK)
			blk_pump_init(&p, &d, BLK_DATA);
		else
			net_pump_init(&p, &d, kind == NET_TX);
		elapsed = pump_run(&p, t0);
		if (ops->size)
			check_bound(what, unit, p.done, ops, elapsed);
		if (bw->size)
			check_bound(what, "bytes", p.done * bytes, bw, elapsed);
		pump_drain(&p, what);
		dev_down(&d);
	}
	vdpa_unregister_device(vdpa);
	report_prefix_pop();
}

/* ---- a throttled device --------------------------------------------------- */

static void test_throttled(void)
{
	static const struct vdpa_bucket none = { 0 }, one = { 1, 0, 60000 };
	struct vdpa_device *vdpa;
	struct pump p;
	struct vdrv d;
	u64 cpu, t, n;

	report_prefix_push("throttled");
	/* One operation a minute: the first read goes, the rest wait. */
	if (!report_eq(vdpa_mgmt_dev_add("blk,capacity=1M,ops_size=1,ops_refill_ms=60000",
					 &vdpa), 0, "create"))
		goto out;
	if (!report_eq(blk_up(&d, vdpa), 0, "bring-up"))
		goto out_del;
	blk_pump_init(&p, &d, 512);
	for (unsigned int s = 0; s < 8; s++)
		pump_add(&p, s);
	vdrv_publish(&d, 0);
	vdrv_kick(&d, 0);
	report_true(pump_reap(&p, 2000, false), "the first request is served");
	report_false(pump_reap(&p, 100, false), "the others wait");

	/* The worker sleeps until its timer: no CPU while they wait. */
	cpu = cpu_ns();
	vdrv_msleep(300);
	cpu = cpu_ns() - cpu;
	printf("# throttled for 300 ms: %.1f ms of CPU\n", (double)cpu / 1e6);
	report_lt(cpu, 30000000ULL, "waiting requests cost no CPU (no busy loop)");
	vdrv_kick(&d, 0);
	report_false(pump_reap(&p, 50, false), "a kick does not let them through");

	t = now_ns();
	report_eq(vdpa_suspend(vdpa), 0, "suspend while throttled");
	report_eq(vdpa_resume(vdpa), 0, "resume");
	report_lt(now_ns() - t, 100000000ULL, "both prompt");
	report_false(pump_reap(&p, 50, false), "still throttled after resume");

	report_err(vdpa_set_rate_limit(vdpa, VDPA_LIMIT_NET_TX, &none, &none),
		   -EOPNOTSUPP, "a blk device has no net limit");
	report_err(vdpa_get_rate_limit_throttled(vdpa, VDPA_LIMIT_NET_RX, &n), -EOPNOTSUPP,
		   "nor its counter");
	if (report_eq(vdpa_get_rate_limit_throttled(vdpa, VDPA_LIMIT_BLK, &n), 0,
		      "the throttle counter"))
		report_ge(n, 1, "counts the requests held back (%llu)", (unsigned long long)n);
	report_eq(vdpa_set_rate_limit(vdpa, VDPA_LIMIT_BLK, NULL, &none), 0,
		  "lift the limit at run time");
	t = now_ns();
	while (p.inflight && pump_reap(&p, 1000, false))
		;
	check_eq(p.inflight, 0);
	check_eq(p.bad, 0);
	report_checks("the 7 waiting requests complete, none failed");
	report_lt(now_ns() - t, 500000000ULL, "at once");

	/* Throttled again, then reset with requests waiting. */
	report_eq(vdpa_set_rate_limit(vdpa, VDPA_LIMIT_BLK, NULL, &one), 0,
		  "limit again (a new, full bucket)");
	for (unsigned int s = 0; s < 4; s++)
		pump_add(&p, s);
	vdrv_publish(&d, 0);
	vdrv_kick(&d, 0);
	report_true(pump_reap(&p, 2000, false), "one goes (the new bucket)");
	report_false(pump_reap(&p, 100, false), "the others wait");
	t = now_ns();
	dev_down(&d);
	report_lt(now_ns() - t, 100000000ULL, "reset while throttled is prompt");
out_del:
	vdpa_unregister_device(vdpa);
out:
	report_prefix_pop();
}

int main(void)
{
	/* 500 ops/s after 50 + 25; 1 MiB/s after 256 KiB; ... */
	static const struct vdpa_bucket ops500 = { 50, 25, 100 },
		bw1m = { 256 << 10, 0, 250 }, none = { 0 },
		f_ops = { 100, 0, 200 }, f_bw = { 512 << 10, 64 << 10, 500 },
		tx_ops = { 100, 0, 100 }, tx_bw = { 64000, 0, 100 },
		rx_ops = { 40, 10, 100 };
	char path[] = "/tmp/kestrel-rl-XXXXXX", spec[256];
	int fd;

	report_prefix_push("rate-limit");
	log_level_set(LOG_ERR);
	vdpa_register_types();
	test_limited("blk ops", "blk,capacity=1M,ops_size=50,ops_burst=25,ops_refill_ms=100",
		     BLK, &ops500, &none);
	test_limited("blk bw", "blk,capacity=1M,bw_size=256K,bw_refill_ms=250", BLK,
		     &none, &bw1m);
	fd = mkstemp(path);
	if (fd >= 0 && ftruncate(fd, 1 << 20) == 0) {
		snprintf(spec, sizeof(spec),
			 "file-blk,path=%s,ops_size=100,ops_refill_ms=200,bw_size=512K,bw_burst=64K,bw_refill_ms=500",
			 path);
		test_limited("file-blk", spec, BLK, &f_ops, &f_bw);
	} else {
		report(false, "cannot make a 1 MiB file in /tmp");
	}
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	test_limited("net tx", "net,mode=sink,tx_ops_size=100,tx_ops_refill_ms=100,tx_bw_size=64000,tx_bw_refill_ms=100",
		     NET_TX, &tx_ops, &tx_bw);
	test_limited("net rx", "net,mode=gen,gen_len=1000,rx_ops_size=40,rx_ops_burst=10,rx_ops_refill_ms=100",
		     NET_RX, &rx_ops, &none);
	test_throttled();
	return report_summary();
}
