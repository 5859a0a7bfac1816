// SPDX-License-Identifier: GPL-2.0-only
/*
 * IOPS through virtio-blk over virtio-mmio, for bench/virtio-transport.sh:
 * 4 KiB reads and writes at queue depth 1 and 32 against whatever blk
 * device kestrel was given (--disk FILE: file-blk over io_uring; --device
 * vdpa,type=blk: the RAM-disk simulator). The workload is the one
 * bench/vdpa_blk_bench.c drives in-process: each request is one direct
 * chain (16-byte header, 4 KiB data, status byte) at block
 * (i * BLK_STRIDE) mod BLK_REGION of the first 32 MiB, and a completed
 * request is replaced at once, so QD requests stay in flight; completions
 * are reaped by polling with interrupts left enabled (used_event follows
 * the last entry taken), as the in-process driver does.
 *
 * The hot loop runs in ring 3 (native on PVM hosts) with interrupts off;
 * kicks are QueueNotify writes (ioeventfd). Phases, each BENCH_MS long
 * and host-timed through the bench sink, each ending with a reset (kestrel
 * logs "VQ-STATS reset vq=0 ... notifies=N" then):
 *   1. QD1 read   2. QD1 write   3. QD32 read   4. QD32 write
 *   5. QD32 read without EVENT_IDX
 * The guest prints per phase:
 *   BENCH-BLK phase=P qd=Q op=read|write event_idx=on|off ios=N errors=N
 *	kicks=N ms=N
 *
 * With "protected" (kestrel run --protected) or "bounce" on the command
 * line the data buffers are at X86_PRIVATE_RAM_START (private RAM, or
 * ordinary RAM there without --protected) and every request's data goes
 * through a bounce slot in the shared window (guest/lib/bounce.h), copied
 * in the same ring-3 loop; bench/protected-io.sh compares the three. Such a run
 * then times, as two more phases, a ring 0 -> ring 3 -> ring 0 round trip
 * and one buffer's copies through a slot and back (bench_bounce_costs()
 * in x86/bench.h: "BENCH-R3 ..." and "BENCH-COPY ..." lines).
 */
#include "bounce.h"
#include "guest.h"
#include "virtio.h"
#include "x86/bench.h"
#include "x86/multiboot.h"
#include "x86/processor.h"
#include "x86/usermode.h"

#ifndef BENCH_MS
#define BENCH_MS		500
#endif

#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_S_OK		0

#define NUM			128	/* 3 descriptors a request: 42 fit */
#define QD_MAX			32
#define BLK_SIZE		4096
#define BLK_REGION		8192u	/* 4 KiB blocks: 32 MiB */
#define BLK_STRIDE		97u	/* odd: visits every block of the region */

struct blk_req {
	u32 type;
	u32 ioprio;
	u64 sector;
	u8 status;
	u8 pad[7];
};

struct blk_run {
	unsigned int qd;
	u32 type;
	u64 ios;
	u64 errors;
	u64 left;		/* still in flight after the drain (should be 0) */
	u32 ms;
};

static struct virtio_device *vdev;
static struct virtqueue vq;
static struct blk_req reqs[QD_MAX] __aligned(64);
static u8 data_shared[QD_MAX][BLK_SIZE] __aligned(4096);
/* The data: data_shared, or at X86_PRIVATE_RAM_START when bouncing. */
static u8 (*data)[BLK_SIZE] = data_shared;
static bool bouncing;
static struct bounce_pool pool;
static struct bounce_req breqs[QD_MAX];
static u32 region;		/* blocks used: BLK_REGION or what fits */
static u32 next_blk;

/* Ring 3: post request @r (its data through a bounce slot when bouncing). */
static void blk_post(struct blk_req *r, u32 type)
{
	u8 *buf = data[r - reqs];
	struct virtq_buf b[3] = {
		{ r, 16, false },
		{ buf, BLK_SIZE, type == VIRTIO_BLK_T_IN },
		{ &r->status, 1, true },
	};

	r->type = type;
	r->ioprio = 0;
	r->sector = (u64)(next_blk % region) * (BLK_SIZE / 512);
	r->status = 0xee;
	next_blk += BLK_STRIDE;
	if (bouncing)
		bounce_add(&vq, &pool, &breqs[r - reqs], b, type == VIRTIO_BLK_T_IN ? 1 : 2,
			   type == VIRTIO_BLK_T_IN ? 2 : 1, r);
	else
		virtqueue_add(&vq, b, type == VIRTIO_BLK_T_IN ? 1 : 2,
			      type == VIRTIO_BLK_T_IN ? 2 : 1, r);
}

/* Ring 3: the next completed request (its read data copied back), or NULL. */
static struct blk_req *blk_get(void)
{
	return bouncing ? bounce_get(&vq, &pool, NULL) : virtqueue_get(&vq, NULL);
}

/* Ring 3: the measured loop (bench/vdpa_blk_bench.c's, step for step). */
static u64 blk_loop(void *arg)
{
	struct blk_run *run = arg;
	u64 ios = 0, errors = 0, checked = 0, inflight;
	u32 ms = 0, spins = 0;
	struct blk_req *r;

	bench_clock_arm();
	bench_span_start();
	for (unsigned int i = 0; i < run->qd; i++)
		blk_post(&reqs[i], run->type);
	virtqueue_kick(&vq);
	while (ms < BENCH_MS) {
		unsigned int n = 0;

		while ((r = blk_get())) {
			errors += r->status != VIRTIO_BLK_S_OK;
			ios++;
			blk_post(r, run->type);
			n++;
		}
		if (n)
			virtqueue_kick(&vq);
		if (ios - checked >= 64 || ++spins >= (1u << 16)) {
			ms = bench_clock_ms();
			checked = ios;
			spins = 0;
		}
	}
	bench_span_stop();
	/* Drain what is in flight (not timed) so the reset finds none. */
	inflight = run->qd;
	for (u32 tries = 0; inflight && tries < (1u << 26); tries++)
		while (inflight && blk_get())
			inflight--;
	run->ios = ios;
	run->errors = errors;
	run->left = inflight;
	run->ms = ms;
	return 0;
}

static void blk_phase(unsigned int phase, unsigned int qd, u32 type,
		      bool event_idx)
{
	u64 want = event_idx ? BIT_ULL(VIRTIO_RING_F_EVENT_IDX) : 0;
	struct blk_run run = { .qd = qd, .type = type };
	u32 kicks;

	report_prefix_push(type == VIRTIO_BLK_T_IN ? "read" : "write");
	if (virtio_negotiate(vdev, want) || virtqueue_setup(vdev, &vq, 0, NUM) ||
	    !virtio_driver_ok(vdev) || vq.num < 3 * QD_MAX) {
		report(false, "set-up (negotiate, queue, DRIVER_OK)");
		report_prefix_pop();
		return;
	}
	/* A reset drops whatever a phase before left in flight. */
	if (bouncing)
		bounce_pool_reset(&pool);
	kicks = vq.kicks;
	run_in_user(blk_loop, &run);
	printf("BENCH-BLK phase=%u qd=%u op=%s event_idx=%s ios=%lu errors=%lu kicks=%u ms=%u\n",
	       phase, qd, type == VIRTIO_BLK_T_IN ? "read" : "write",
	       vq.event_idx ? "on" : "off", (unsigned long)run.ios,
	       (unsigned long)run.errors, vq.kicks - kicks, run.ms);
	report(run.ios > 0 && !run.errors && !run.left,
	       "QD%u, event_idx %s: %lu requests, %lu errors, %lu not drained",
	       qd, vq.event_idx ? "on" : "off", (unsigned long)run.ios,
	       (unsigned long)run.errors, (unsigned long)run.left);
	/* kestrel logs the queue counters here, before they are zeroed. */
	report(virtio_reset(vdev), "reset");
	report_prefix_pop();
}

int main(void)
{
	u64 capacity;

	report_prefix_push("bench-virtio-blk");
	bouncing = multiboot_has_arg("protected") || multiboot_has_arg("bounce");
	if (bouncing) {
		data = private_alloc(sizeof(data_shared), 4096);
		if (!data || bounce_pool_init(&pool, QD_MAX, BLK_SIZE, true)) {
			report(false, "data at X86_PRIVATE_RAM_START and bounce slots");
			return report_summary();
		}
		report_info("bouncing: data at %#lx, slots at %#lx",
			    (unsigned long)(uintptr_t)data, (unsigned long)(uintptr_t)pool.window);
	}
	vdev = virtio_find(VIRTIO_ID_BLOCK, 0);
	if (!vdev) {
		report_skip("no virtio-blk device (run with --disk FILE or --device vdpa,type=blk)");
		return report_summary();
	}
	/* Routed, never taken in the loop (ring 3 runs with IF clear). */
	virtio_irq_enable(vdev);
	if (virtio_negotiate(vdev, 0)) {
		report(false, "feature negotiation");
		return report_summary();
	}
	capacity = virtio_cread64(vdev, 0);
	region = (u32)MIN((u64)BLK_REGION, capacity / (BLK_SIZE / 512));
	/* The stride must stay coprime with the region: a power of two. */
	while (region & (region - 1))
		region &= region - 1;
	if (!region) {
		report_skip("disk smaller than 4 KiB (%lu sectors)", (unsigned long)capacity);
		return report_summary();
	}
	report_info("capacity %lu sectors, %u blocks of 4 KiB used",
		    (unsigned long)capacity, region);
	blk_phase(1, 1, VIRTIO_BLK_T_IN, true);
	blk_phase(2, 1, VIRTIO_BLK_T_OUT, true);
	blk_phase(3, QD_MAX, VIRTIO_BLK_T_IN, true);
	blk_phase(4, QD_MAX, VIRTIO_BLK_T_OUT, true);
	blk_phase(5, QD_MAX, VIRTIO_BLK_T_IN, false);
	if (bouncing) {
		report(pool.bytes_out > 0 && pool.bytes_in > 0, "%lu bytes bounced out, %lu in",
		       (unsigned long)pool.bytes_out, (unsigned long)pool.bytes_in);
		bounce_pool_reset(&pool);
		report(bench_bounce_costs(6, &pool, data[0], BLK_SIZE),
		       "the bounce layer's own cost timed");
	}
	report_prefix_pop();
	return report_summary();
}
