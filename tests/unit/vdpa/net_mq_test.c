// SPDX-License-Identifier: GPL-2.0-only
/*
 * Multiqueue net (virtio 1.2 §5.1.6.5.5) through the in-process driver:
 * a worker thread per queue pair (or workers=N), VQ_PAIRS_SET reaching the
 * datapath before its ack (a pair the driver has not enabled moves no
 * frame; once acked it does; back to one pair, it stops), and hostile
 * control commands (pairs 0, pairs above max_vqp, short and long payloads,
 * no ack buffer, MQ not negotiated) answered with an error ack, never a
 * crash or a device error.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <kestrel/vdpa.h>

#include "../test.h"
#include "driver.h"

#define PAIRS	4
#define CVQ	(2 * PAIRS)
#define HDR	12
#define NUM	64
#define FLEN	(HDR + 60)

static const u8 dev_mac[6] = { 0x52, 0x54, 0x00, 0x4d, 0x51, 0x01 };

static const u64 mq_features =
	(1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM) |
	(1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS) |
	(1ULL << VIRTIO_NET_F_CTRL_VQ) | (1ULL << VIRTIO_NET_F_MQ) |
	VRINGH_F_EVENT_IDX;

/*
 * Workers name themselves first thing, and until then carry the name of
 * the thread that made them (ours): wait until @want more than @before are
 * named, or no thread is left to name itself. Return: how many more there
 * are.
 */
static unsigned int wait_workers(unsigned int before, unsigned int want)
{
	char self[16] = "";
	int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	ssize_t len = fd < 0 ? -1 : read(fd, self, sizeof(self) - 1);
	unsigned int n;

	if (fd >= 0)
		close(fd);
	if (len > 0 && self[len - 1] == '\n')
		self[len - 1] = '\0';
	for (;;) {
		/* Unnamed ones first: one named after that is counted below. */
		bool unnamed = self[0] && test_count_threads(self) > 1;

		n = test_count_threads("vdpa-worker") - before;
		if (n >= want || !unnamed)
			return n;
		vdrv_msleep(1);
	}
}

static u8 ctrl_raw(struct vdrv *d, u8 class, u8 cmd, const void *data,
		   u32 dlen, bool ack_buf)
{
	return vdrv_net_ctrl(d, CVQ, class, cmd, data, dlen, ack_buf);
}

static u8 set_pairs(struct vdrv *d, u16 pairs)
{
	u8 le[2] = { (u8)pairs, (u8)(pairs >> 8) };

	return ctrl_raw(d, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
			le, 2, true);
}

/*
 * Post one receive buffer on pair @p and send one frame to @dst on it.
 * Return true if the frame came back on @p's receive queue (loop mode),
 * false if the device went idle without it (vdrv_await_used()). Frames an
 * idle pair kept from earlier calls come back first once it runs (each
 * into the buffer posted with it): they are passed over.
 */
static bool pair_loops_to(struct vdrv *d, u16 p, unsigned int seq, const u8 *dst)
{
	u8 *rx = vdrv_alloc(d, 2048, 64), *tx = vdrv_alloc(d, FLEN, 64);
	struct vdrv_sg rsg = { rx, 2048, true }, tsg = { tx, FLEN, false };
	u16 rx_head, head;
	u32 len;

	memset(tx, 0, FLEN);
	memcpy(tx + HDR, dst, 6);
	tx[HDR + 12] = 0x88;
	tx[HDR + 13] = 0xb5;
	tx[HDR + 14] = (u8)seq;
	tx[HDR + 15] = (u8)p;
	rx_head = (u16)vdrv_add(d, (u16)(2 * p), &rsg, 1);
	vdrv_publish(d, (u16)(2 * p));
	vdrv_kick(d, (u16)(2 * p));
	vdrv_add(d, (u16)(2 * p + 1), &tsg, 1);
	vdrv_publish(d, (u16)(2 * p + 1));
	vdrv_kick(d, (u16)(2 * p + 1));
	do {
		if (!vdrv_await_used(d, (u16)(2 * p), &head, &len))
			return false;
	} while (head != rx_head);
	return len == FLEN && !memcmp(rx + HDR, tx + HDR, FLEN - HDR);
}

/* pair_loops_to() the device's own MAC. */
static bool pair_loops(struct vdrv *d, u16 p, unsigned int seq)
{
	return pair_loops_to(d, p, seq, dev_mac);
}

static bool net_mq_up(struct vdrv *d, struct vdpa_device *vdpa, u64 features)
{
	bool ok = check_eq(vdrv_init(d, vdpa, 4 << 20), 0) &&
		  check_eq(vdrv_map(d, 0), 0) && check_eq(vdrv_map(d, 1), 0) &&
		  check_eq(vdrv_negotiate(d, features), 0);

	for (u16 q = 0; ok && q <= CVQ; q++)
		ok = check_eq(vdrv_vq_setup(d, q, NUM), 0);
	return ok && check_eq(vdrv_driver_ok(d), 0);
}

static void net_mq_down(struct vdrv *d, struct vdpa_device *vdpa)
{
	vdpa_reset(vdpa);
	vdpa_dma_unmap(vdpa, 0, d->iova, d->size);
	vdpa_dma_unmap(vdpa, 1, d->iova, d->size);
	vdrv_fini(d);
}

static void test_pairs_set(struct vdpa_device *vdpa)
{
	struct vdpa_vq_stats st;
	struct vdrv d;
	u16 head;
	u32 len;

	report_prefix_push("pairs_set");
	net_mq_up(&d, vdpa, mq_features);
	if (!report_checks("bring-up with MQ, %d pairs", PAIRS)) {
		report_prefix_pop();
		return;
	}
	report(pair_loops(&d, 0, 1), "pair 0 runs before any VQ_PAIRS_SET");
	report(!pair_loops(&d, 2, 2), "pair 2 moves nothing: the driver has not enabled it");
	vdpa_get_vq_stats(vdpa, 5, &st);
	report_eq(st.packets, 0, "pair 2's transmit queue consumed nothing");
	report_eq(set_pairs(&d, 3), VIRTIO_NET_OK, "VQ_PAIRS_SET 3 acked OK");
	/* The chain left on pair 2 goes now: the ack came after the change. */
	report_eq(vdrv_await_used(&d, 4, &head, &len), 1,
		  "the frame waiting on pair 2 is looped once 3 pairs are in use");
	for (u16 p = 0; p < 3; p++)
		report(pair_loops(&d, p, 10 + p), "pair %u loops a frame", p);
	report(!pair_loops(&d, 3, 20), "pair 3 still idle");
	report_eq(set_pairs(&d, 1), VIRTIO_NET_OK, "VQ_PAIRS_SET 1 acked OK");
	report(!pair_loops(&d, 1, 30), "pair 1 stopped after VQ_PAIRS_SET 1");
	report(pair_loops(&d, 0, 31), "pair 0 still runs");
	report_eq(set_pairs(&d, PAIRS), VIRTIO_NET_OK, "VQ_PAIRS_SET %d (max) acked OK", PAIRS);
	for (u16 p = 0; p < PAIRS; p++)
		report(pair_loops(&d, p, 40 + p), "pair %u loops a frame with every pair on", p);
	vdpa_get_vq_stats(vdpa, CVQ, &st);
	report_eq(st.errors, 0, "no control command failed");
	report_eq(vdpa_get_status(vdpa) & VIRTIO_CONFIG_S_NEEDS_RESET, 0, "no NEEDS_RESET");
	net_mq_down(&d, vdpa);

	/* Reset: one pair again until the driver asks (virtio 1.2 §5.1.6.5.5). */
	if (net_mq_up(&d, vdpa, mq_features) && report_checks("bring-up again")) {
		report(!pair_loops(&d, 1, 50), "after reset pair 1 is off again");
		net_mq_down(&d, vdpa);
	}
	report_prefix_pop();
}

static void test_hostile_cvq(struct vdpa_device *vdpa)
{
	static const u8 zero[2], over[2] = { PAIRS + 1, 0 }, big[2] = { 0xff, 0xff };
	static const u8 three[3] = { 2, 0, 0 };
	struct vdpa_vq_stats st;
	struct vdrv d;

	report_prefix_push("hostile");
	net_mq_up(&d, vdpa, mq_features);
	if (!report_checks("bring-up")) {
		report_prefix_pop();
		return;
	}
	report_eq(set_pairs(&d, 2), VIRTIO_NET_OK, "VQ_PAIRS_SET 2 acked OK");
	report_eq(ctrl_raw(&d, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, zero, 2, true),
		  VIRTIO_NET_ERR, "pairs 0 refused (ERR)");
	report_eq(ctrl_raw(&d, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, over, 2, true),
		  VIRTIO_NET_ERR, "pairs max_vqp + 1 refused (ERR)");
	report_eq(ctrl_raw(&d, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, big, 2, true),
		  VIRTIO_NET_ERR, "pairs 65535 refused (ERR)");
	report_eq(ctrl_raw(&d, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, over, 1, true),
		  VIRTIO_NET_ERR, "1-byte payload refused (ERR)");
	report_eq(ctrl_raw(&d, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, NULL, 0, true),
		  VIRTIO_NET_ERR, "no payload refused (ERR)");
	report_eq(ctrl_raw(&d, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, three, 3, true),
		  VIRTIO_NET_ERR, "3-byte payload refused (ERR)");
	{
		static const u8 big_payload[100] = { 2 };

		report_eq(ctrl_raw(&d, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
				   big_payload, sizeof(big_payload), true),
			  VIRTIO_NET_ERR, "100-byte payload refused (ERR)");
	}
	report_eq(ctrl_raw(&d, VIRTIO_NET_CTRL_MQ, 7, three, 2, true),
		  VIRTIO_NET_ERR, "unknown MQ command refused (ERR)");
	report_eq(ctrl_raw(&d, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, over, 2, false),
		  0xff, "command without an ack buffer completes with nothing written");
	report(pair_loops(&d, 1, 1), "refused commands left 2 pairs in use: pair 1 runs");
	report(!pair_loops(&d, 2, 2), "and pair 2 does not");
	vdpa_get_vq_stats(vdpa, CVQ, &st);
	report_eq(st.errors, 9, "9 failed commands counted on the control queue");
	report_eq(vdpa_get_status(vdpa) & VIRTIO_CONFIG_S_NEEDS_RESET, 0,
		  "no NEEDS_RESET: a bad command is the driver's error, acked as such");
	net_mq_down(&d, vdpa);

	/* Without VIRTIO_NET_F_MQ negotiated the command does not exist. */
	if (net_mq_up(&d, vdpa, mq_features & ~(1ULL << VIRTIO_NET_F_MQ)) &&
	    report_checks("bring-up without MQ")) {
		report_eq(set_pairs(&d, 2), VIRTIO_NET_ERR, "VQ_PAIRS_SET without MQ refused (ERR)");
		report(!pair_loops(&d, 1, 3), "without MQ only pair 0 runs");
		report(pair_loops(&d, 0, 4), "pair 0 runs");
		net_mq_down(&d, vdpa);
	}
	report_prefix_pop();
}

static const u64 snap_features = mq_features | (1ULL << VIRTIO_NET_F_CTRL_RX) |
				  (1ULL << VIRTIO_NET_F_CTRL_MAC_ADDR);

/* @st with its 32-bit word at @off set to @val: a hand-made section. */
static void state_word(u8 *st, size_t off, u32 val)
{
	st[off] = (u8)val;
	st[off + 1] = (u8)(val >> 8);
	st[off + 2] = (u8)(val >> 16);
	st[off + 3] = (u8)(val >> 24);
}

/*
 * What the snapshot loads must hold on pair 2 and the new MAC, promisc
 * off: the frames a check sends show it.
 */
static void check_restored(struct vdrv *d, struct vdpa_device *vdpa, const u8 *mac,
			   const char *when)
{
	u8 cfg[6];

	vdpa_get_config(vdpa, 0, cfg, 6);
	report_mem(cfg, mac, 6, "%s: config space shows the driver's MAC", when);
	report(pair_loops_to(d, 2, 60, mac), "%s: pair 2 (K-1 of 3) loops a frame", when);
	report(!pair_loops_to(d, 3, 61, mac), "%s: pair 3 is not in use", when);
	report(!pair_loops_to(d, 0, 62, dev_mac),
	       "%s: a frame to the creation MAC is filtered (promisc off)", when);
}

/*
 * A snapshot keeps what the control queue set (virtio 1.2 §5.1.6.5): 3
 * pairs in use, a MAC of the driver's and promisc off, saved from one
 * device (vdpa_get_dev_state(), suspended) and loaded into a new one of
 * the same creation arguments whose driver negotiated the same features
 * (vdpa_set_dev_state()), which then serves pair 2 and not pair 3 and
 * filters as the first did. Hostile states (truncated, too long, unknown
 * version, values the driver could not have set) are refused, each
 * leaving the device as it was.
 */
static void test_snapshot(struct vdpa_device *vdpa)
{
	static const u8 new_mac[6] = { 0x52, 0x54, 0x00, 0x4d, 0x51, 0x99 };
	static const u8 off;
	u8 st[VDPA_DEV_STATE_MAX], bad[VDPA_DEV_STATE_MAX + 1];
	struct vdpa_device *fresh;
	struct vdrv d;
	ssize_t len;

	report_prefix_push("snapshot");
	if (!net_mq_up(&d, vdpa, snap_features) || !report_checks("bring-up")) {
		report_prefix_pop();
		return;
	}
	report_eq(vdpa_get_dev_state(vdpa, st, sizeof(st)), 16,
		  "a running device with a control queue has state to keep (16 bytes)");
	report_eq(set_pairs(&d, 3), VIRTIO_NET_OK, "VQ_PAIRS_SET 3");
	report_eq(ctrl_raw(&d, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, new_mac, 6, true),
		  VIRTIO_NET_OK, "MAC_ADDR_SET");
	report_eq(ctrl_raw(&d, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1, true),
		  VIRTIO_NET_OK, "promisc off");
	report(pair_loops_to(&d, 2, 1, new_mac), "pair 2 runs on the first device");
	report_eq(vdpa_suspend(vdpa), 0, "suspend");
	len = vdpa_get_dev_state(vdpa, st, sizeof(st));
	report_eq(len, 16, "state saved (%zd bytes)", len);
	report_err(vdpa_get_dev_state(vdpa, st, 15), -ENOSPC, "15 bytes are too few");
	net_mq_down(&d, vdpa);
	report_eq(vdpa_get_dev_state(vdpa, bad, sizeof(bad)), 0, "nothing to keep after reset");
	if (len != 16) {
		report_prefix_pop();
		return;
	}

	if (!report_eq(vdpa_mgmt_dev_add("net,name=mqsnap,mac=52:54:00:4d:51:01,max_vqp=4",
					 &fresh), 0, "a new device, the same arguments")) {
		report_prefix_pop();
		return;
	}
	report_err(vdpa_set_dev_state(fresh, st, (size_t)len), -EBUSY,
		   "refused before the driver negotiated features");
	if (net_mq_up(&d, fresh, snap_features) && report_checks("its bring-up")) {
		/* Each refusal leaves the device as it was: 1 pair, its own MAC. */
		report_err(vdpa_set_dev_state(fresh, st, (size_t)len - 1), -EBADMSG, "truncated");
		report_err(vdpa_set_dev_state(fresh, st, 3), -EBADMSG, "shorter than a version");
		memcpy(bad, st, 16);
		report_err(vdpa_set_dev_state(fresh, bad, 17), -EBADMSG, "a byte too long");
		report_err(vdpa_set_dev_state(fresh, bad, sizeof(bad)), -EBADMSG,
			   "longer than VDPA_DEV_STATE_MAX");
		state_word(bad, 0, 2);
		report_err(vdpa_set_dev_state(fresh, bad, 16), -EPROTONOSUPPORT,
			   "version 2 (a later kestrel's) refused");
		state_word(bad, 0, 0);
		report_err(vdpa_set_dev_state(fresh, bad, 16), -EPROTONOSUPPORT, "version 0 refused");
		memcpy(bad, st, 16);
		bad[10] = 0;
		report_err(vdpa_set_dev_state(fresh, bad, 16), -EINVAL, "0 pairs refused");
		bad[10] = PAIRS + 1;
		report_err(vdpa_set_dev_state(fresh, bad, 16), -EINVAL, "max_vqp + 1 pairs refused");
		memcpy(bad, st, 16);
		state_word(bad, 12, 4);
		report_err(vdpa_set_dev_state(fresh, bad, 16), -EINVAL, "an unknown receive mode refused");
		report(pair_loops(&d, 0, 70), "after the refusals pair 0 runs, to the creation MAC");
		report(!pair_loops(&d, 1, 71), "and pair 1 does not");

		report_eq(vdpa_set_dev_state(fresh, st, (size_t)len), 0, "the saved state loads");
		check_restored(&d, fresh, new_mac, "restored");
		report_eq(vdpa_get_status(fresh) & VIRTIO_CONFIG_S_NEEDS_RESET, 0, "no NEEDS_RESET");
		net_mq_down(&d, fresh);
	}
	/* The same state needs the features it was set with. */
	if (net_mq_up(&d, fresh, snap_features & ~(1ULL << VIRTIO_NET_F_MQ)) &&
	    report_checks("bring-up without MQ")) {
		report_err(vdpa_set_dev_state(fresh, st, (size_t)len), -EINVAL,
			   "3 pairs refused without MQ");
		net_mq_down(&d, fresh);
	}
	if (net_mq_up(&d, fresh, snap_features & ~(1ULL << VIRTIO_NET_F_CTRL_RX)) &&
	    report_checks("bring-up without CTRL_RX")) {
		report_err(vdpa_set_dev_state(fresh, st, (size_t)len), -EINVAL,
			   "promisc off refused without CTRL_RX");
		net_mq_down(&d, fresh);
	}
	/* Loaded before DRIVER_OK, as a restore replaying the transport may. */
	if (check_eq(vdrv_init(&d, fresh, 4 << 20), 0) && check_eq(vdrv_map(&d, 0), 0) &&
	    check_eq(vdrv_map(&d, 1), 0) && check_eq(vdrv_negotiate(&d, snap_features), 0)) {
		bool ok = check_eq(vdpa_set_dev_state(fresh, st, (size_t)len), 0);

		for (u16 q = 0; ok && q <= CVQ; q++)
			ok = check_eq(vdrv_vq_setup(&d, q, NUM), 0);
		if (ok && check_eq(vdrv_driver_ok(&d), 0) &&
		    report_checks("loaded between FEATURES_OK and DRIVER_OK"))
			check_restored(&d, fresh, new_mac, "loaded early");
	}
	net_mq_down(&d, fresh);
	report_eq(vdpa_mgmt_dev_del(fresh), 0, "delete the new device");
	report_prefix_pop();
}

int main(void)
{
	struct vdpa_device *vdpa;
	unsigned int before;

	log_level_set(LOG_ERR);
	if (vdpa_register_types()) {
		report(false, "register built-in management devices");
		return report_summary();
	}
	before = test_count_threads("vdpa-worker");
	if (!report_eq(vdpa_mgmt_dev_add("net,name=mq0,mac=52:54:00:4d:51:01,max_vqp=4",
					 &vdpa), 0, "create net with max_vqp=4"))
		return report_summary();
	report_eq(wait_workers(before, PAIRS), PAIRS, "one worker thread per queue pair");
	test_pairs_set(vdpa);
	test_hostile_cvq(vdpa);
	test_snapshot(vdpa);
	report_eq(vdpa_mgmt_dev_del(vdpa), 0, "delete");
	report_eq(test_count_threads("vdpa-worker"), before, "its workers are gone");

	if (report_eq(vdpa_mgmt_dev_add("net,name=mq1,mac=52:54:00:4d:51:01,max_vqp=4,workers=2",
					&vdpa), 0, "create with workers=2")) {
		report_eq(wait_workers(before, 2), 2, "two worker threads for 4 pairs");
		test_pairs_set(vdpa);
		report_eq(vdpa_mgmt_dev_del(vdpa), 0, "delete");
	}
	if (report_eq(vdpa_mgmt_dev_add("net,name=mq2,mac=52:54:00:4d:51:01,max_vqp=4,poll=on",
					&vdpa), 0, "create with poll=on")) {
		test_pairs_set(vdpa);
		report_eq(vdpa_mgmt_dev_del(vdpa), 0, "delete");
	}
	report_err(vdpa_mgmt_dev_add("net,name=mq3,max_vqp=9", &vdpa), -EINVAL,
		   "max_vqp=9 refused");
	report_err(vdpa_mgmt_dev_add("net,name=mq3,max_vqp=2,workers=0", &vdpa), -EINVAL,
		   "workers=0 refused");
	report_err(vdpa_mgmt_dev_add("net,name=mq3,max_vqp=2,workers=9", &vdpa), -EINVAL,
		   "workers=9 refused");
	report_err(vdpa_mgmt_dev_add("net,name=mq3,max_vqp=2,workers=3", &vdpa), -EINVAL,
		   "workers=3 with max_vqp=2 refused");
	return report_summary();
}
