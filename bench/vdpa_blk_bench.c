// SPDX-License-Identifier: GPL-2.0-only
/*
 * IOPS through a vDPA block device driven by the in-process test driver:
 * 4 KiB reads and writes at queue depth 1 and 32, the workload
 * guest/x86/bench-virtio-blk.c runs through kestrel's virtio-mmio (one
 * direct chain per request: 16-byte header, 4 KiB data, status byte; block
 * (i * 97) mod 8192 of the first 32 MiB; a completed request is replaced at
 * once; completions polled with interrupts left enabled). Kicks go through
 * an eventfd, as the guest's QueueNotify does through the ioeventfd.
 * Prints figures only, one line per run:
 *
 *   vdpa_blk_bench: DEV qd=Q op=read|write event_idx=on|off IOPS=N
 *	(N ios in S s, E errors, K kicks/io, I irqs/io, C dev-ns/io)
 *
 * dev-ns/io is the CPU time the device's threads (its worker, and
 * io_uring's own workers, if any) spent per request, from the scheduler's
 * per-thread run time: unlike IOPS it does not fall when another process
 * takes the CPU away, so it compares two runs on a busy machine.
 *
 *   build/bench/vdpa_blk_bench [seconds] [file] [qd]
 *
 * Without a file only the RAM-disk simulator ("blk-sim") runs; with one,
 * file-blk over that file (at least 32 MiB) runs too, twice: as it reads
 * by default, from its mapping of the image where the page cache holds
 * it ("file-blk", io=map), and with every read through io_uring
 * ("file-uring", io=uring). After them, the kernel's own floor for
 * io_uring's reads: the same 4 KiB reads of the same file, BLK_BURST (16)
 * IORING_OP_READs per io_uring_enter from one thread and nothing else (no
 * ring, no device), at queue depth 32:
 *
 *   vdpa_blk_bench: io_uring qd=32 op=read IOPS=N (N reads in S s, C ns/read)
 *
 * file-uring cannot beat it, since every one of its reads is one of these;
 * file-blk's cached reads are copies, as the simulator's. Last, one line
 * per phase sets both file-blk figures against the simulator's anchor of
 * the same run (and the floor, at QD32 reads):
 *
 *   vdpa_blk_bench: ratio qd=Q op=O event_idx=E file-blk/blk-sim=R
 *	file-uring/blk-sim=R [file-blk/io_uring=R]
 *
 * With a queue depth (1 or 32), only the reads at that depth run, after
 * an untimed write of every block they read, on every disk alike.
 */
#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>

#include "../tests/unit/vdpa/driver.h"

#define NUM		128	/* as the guest: 3 descriptors a request */
#define QD_MAX		32
#define BLK_SIZE	4096
#define BLK_REGION	8192u	/* 4 KiB blocks: 32 MiB */
#define BLK_STRIDE	97u

struct blk_req {
	struct virtio_blk_outhdr *hdr;
	u8 *data;
	u8 *status;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * CPU time (ns) of every thread of this process but the calling one: the
 * device's worker and io_uring's workers (the driver runs in the caller).
 * From /proc/self/task/TID/schedstat; 0 where /proc cannot be read.
 */
static unsigned long long others_cpu_ns(void)
{
	unsigned long long sum = 0, ns;
	char path[300];
	struct dirent *e;
	DIR *dir = opendir("/proc/self/task");
	long self = (long)gettid();

	if (!dir)
		return 0;
	while ((e = readdir(dir))) {
		FILE *f;

		if (e->d_name[0] == '.' || atol(e->d_name) == self)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(dir);
	return sum;
}

static void post(struct vdrv *d, struct blk_req *r, struct blk_req **of_head,
		 u32 type, u32 *next_blk)
{
	bool in = type == VIRTIO_BLK_T_IN;
	struct vdrv_sg sg[3] = {
		{ r->hdr, sizeof(*r->hdr), false },
		{ r->data, BLK_SIZE, in },
		{ r->status, 1, true },
	};
	int h;

	r->hdr->type = cpu_to_le32(type);
	r->hdr->ioprio = 0;
	r->hdr->sector = cpu_to_le64((u64)(*next_blk % BLK_REGION) * (BLK_SIZE / 512));
	*r->status = 0xee;
	*next_blk += BLK_STRIDE;
	/* Published at once, as the guest library and Linux do. */
	h = vdrv_add(d, 0, sg, 3);
	vdrv_publish(d, 0);
	if (h >= 0)
		of_head[h] = r;
}

/*
 * One phase: @qd requests of @type in flight for @seconds, or until
 * @max_ios completed (0: no limit); a figure line unless @dev is NULL.
 */
static int run(struct vdpa_device *vdpa, const char *dev, double seconds,
	       unsigned int qd, u32 type, bool event_idx, unsigned long long max_ios,
	       double *iops)
{
	u64 features = (1ULL << VIRTIO_F_VERSION_1) |
		       (1ULL << VIRTIO_F_ACCESS_PLATFORM);
	unsigned long long ios = 0, errors = 0, checked = 0, cpu0, cpu1;
	struct blk_req reqs[QD_MAX], *of_head[NUM] = { 0 };
	unsigned int inflight;
	struct vdpa_vq_stats st;
	u32 next_blk = 0, len;
	struct vdrv d;
	double t0, t1;
	u16 head;

	if (event_idx)
		features |= VRINGH_F_EVENT_IDX;
	if (vdrv_init(&d, vdpa, 4 << 20))
		return -1;
	if (vdrv_map(&d, 0) || vdrv_negotiate(&d, features) ||
	    vdrv_vq_setup(&d, 0, NUM) || vdrv_vq_use_kickfd(&d, 0) ||
	    vdrv_driver_ok(&d))
		goto err;
	for (unsigned int i = 0; i < QD_MAX; i++) {
		reqs[i].hdr = vdrv_alloc(&d, sizeof(*reqs[i].hdr), 16);
		reqs[i].status = vdrv_alloc(&d, 1, 1);
		reqs[i].data = vdrv_alloc(&d, BLK_SIZE, 4096);
		if (!reqs[i].hdr || !reqs[i].status || !reqs[i].data)
			goto err;
		memset(reqs[i].data, 0x5a, BLK_SIZE);
	}

	cpu0 = others_cpu_ns();
	t0 = now();
	t1 = t0;
	for (unsigned int i = 0; i < qd; i++)
		post(&d, &reqs[i], of_head, type, &next_blk);
	vdrv_kick(&d, 0);
	while (t1 - t0 < seconds && (!max_ios || ios < max_ios)) {
		unsigned int n = 0;

		while (vdrv_get_used(&d, 0, &head, &len)) {
			struct blk_req *r = head < NUM ? of_head[head] : NULL;

			if (!r) {
				errors++;
				continue;
			}
			errors += *r->status != VIRTIO_BLK_S_OK;
			ios++;
			post(&d, r, of_head, type, &next_blk);
			n++;
		}
		if (n)
			vdrv_kick(&d, 0);
		if (ios - checked >= 64 || !n) {
			t1 = now();
			checked = ios;
		}
	}
	t1 = now();
	cpu1 = others_cpu_ns();
	/* Drain what is in flight before the reset (not timed). */
	inflight = qd;
	for (double t = now(); inflight && now() - t < 5.0;)
		while (inflight && vdrv_get_used(&d, 0, &head, &len))
			inflight--;
	vdpa_get_vq_stats(vdpa, 0, &st);
	if (iops)
		*iops = (double)ios / (t1 - t0);
	if (dev)
		printf("vdpa_blk_bench: %-8s qd=%-2u op=%-5s event_idx=%-3s IOPS=%.0f  "
		       "(%llu ios in %.2f s, %llu errors, %.4f kicks/io, %.4f irqs/io, "
		       "%.0f dev-ns/io)\n",
		       dev, qd, type == VIRTIO_BLK_T_IN ? "read" : "write",
		       event_idx ? "on" : "off", (double)ios / (t1 - t0), ios, t1 - t0,
		       errors, (double)d.vqs[0].kicks / (double)(ios ? ios : 1),
		       (double)st.notifies / (double)(ios ? ios : 1),
		       (double)(cpu1 - cpu0) / (double)(ios ? ios : 1));
	vdpa_reset(vdpa);
	vdpa_dma_unmap(vdpa, 0, d.iova, d.size);
	vdrv_fini(&d);
	return 0;

err:
	fprintf(stderr, "vdpa_blk_bench: %s: set-up failed\n", dev ? dev : "fill");
	vdpa_reset(vdpa);
	vdrv_fini(&d);
	return -1;
}

/** struct phase - one of the guest's phases (guest/x86/bench-virtio-blk.c) */
struct phase {
	unsigned int qd;
	u32 type;
	bool event_idx;
};

static const struct phase phases[] = {
	{ 1, VIRTIO_BLK_T_IN, true },
	{ 1, VIRTIO_BLK_T_OUT, true },
	{ QD_MAX, VIRTIO_BLK_T_IN, true },
	{ QD_MAX, VIRTIO_BLK_T_OUT, true },
	{ QD_MAX, VIRTIO_BLK_T_IN, false },
};

/* The disks, in the order they run: the anchor first. */
enum { DISK_SIM, DISK_FILE, DISK_URING, NDISKS };

/*
 * The guest's phases, in its order, with their IOPS in @iops (0: did not
 * run); with @only_qd, the reads at that depth on a disk written first.
 */
static void run_all(const char *spec, const char *dev, double seconds,
		    unsigned int only_qd, double iops[ARRAY_SIZE(phases)])
{
	struct vdpa_device *vdpa;

	if (vdpa_mgmt_dev_add(spec, &vdpa)) {
		fprintf(stderr, "vdpa_blk_bench: cannot create '%s'\n", spec);
		return;
	}
	if (only_qd)
		/*
		 * Untimed: write every block of the region first, so the reads
		 * find written sectors in memory on every disk (the RAM disk's
		 * pages, the file's page cache), not the RAM disk's untouched
		 * zero pages or a file's holes.
		 */
		run(vdpa, NULL, 60.0, QD_MAX, VIRTIO_BLK_T_OUT, true, BLK_REGION, NULL);
	for (unsigned int i = 0; i < ARRAY_SIZE(phases); i++) {
		const struct phase *p = &phases[i];

		if (only_qd && (p->qd != only_qd || p->type != VIRTIO_BLK_T_IN ||
				!p->event_idx))
			continue;
		run(vdpa, dev, seconds, p->qd, p->type, p->event_idx, 0, &iops[i]);
	}
	vdpa_mgmt_dev_del(vdpa);
}

/* @a / @b to two places, into @buf; "-" where either did not run. */
static const char *ratio(char buf[16], double a, double b)
{
	if (a > 0 && b > 0)
		snprintf(buf, 16, "%.2f", a / b);
	else
		snprintf(buf, 16, "-");
	return buf;
}

/*
 * The floor under file-blk's reads: the bench's 4 KiB reads of @path (the
 * same blocks, in the same order) straight through io_uring, @qd in
 * flight, refilled a burst of 16 at a time, from this thread.
 */
static double run_floor(const char *path, double seconds, unsigned int qd)
{
	unsigned long long ios = 0;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	double t0, t1, iops = 0;
	u32 next_blk = 0;
	u8 *bufs;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	bufs = aligned_alloc(4096, QD_MAX * BLK_SIZE);
	if (fd < 0 || !bufs || io_uring_queue_init(2 * QD_MAX, &ring, 0)) {
		fprintf(stderr, "vdpa_blk_bench: io_uring floor: set-up failed\n");
		goto out;
	}
	t0 = now();
	t1 = t0;
	for (unsigned int inflight = 0, want = qd; t1 - t0 < seconds; want = 16) {
		unsigned int head, n = 0;

		for (unsigned int i = 0; i < want; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			io_uring_prep_read(sqe, fd, bufs + (inflight + i) % QD_MAX * BLK_SIZE,
					   BLK_SIZE, (off_t)(next_blk % BLK_REGION) * BLK_SIZE);
			next_blk += BLK_STRIDE;
		}
		inflight += want;
		io_uring_submit_and_wait(&ring, 16);
		io_uring_for_each_cqe(&ring, head, cqe)
			n++;
		io_uring_cq_advance(&ring, n);
		inflight -= n;
		ios += n;
		t1 = now();
	}
	iops = (double)ios / (t1 - t0);
	printf("vdpa_blk_bench: io_uring qd=%-2u op=read  IOPS=%.0f  (%llu reads in %.2f s, "
	       "%.0f ns/read)\n", qd, iops, ios, t1 - t0,
	       (t1 - t0) * 1e9 / (double)(ios ? ios : 1));
	io_uring_queue_exit(&ring);
out:
	free(bufs);
	if (fd >= 0)
		close(fd);
	return iops;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 0.5;
	unsigned int only_qd = argc > 3 ? (unsigned int)atoi(argv[3]) : 0;
	double iops[NDISKS][ARRAY_SIZE(phases)] = { { 0 } }, floor = 0;
	char spec[4200], r1[16], r2[16], r3[16];

	if (seconds <= 0 || argc > 4 || (argc > 3 && only_qd != 1 && only_qd != QD_MAX)) {
		fprintf(stderr, "usage: vdpa_blk_bench [seconds] [file of >= 32 MiB] [1|32]\n");
		return 2;
	}
	if (vdpa_register_types()) {
		fprintf(stderr, "vdpa_blk_bench: cannot register the device types\n");
		return 1;
	}
	run_all("blk,capacity=64M", "blk-sim", seconds, only_qd, iops[DISK_SIM]);
	if (argc <= 2)
		return 0;
	snprintf(spec, sizeof(spec), "file-blk,path=%s", argv[2]);
	run_all(spec, "file-blk", seconds, only_qd, iops[DISK_FILE]);
	snprintf(spec, sizeof(spec), "file-blk,path=%s,io=uring", argv[2]);
	run_all(spec, "file-uring", seconds, only_qd, iops[DISK_URING]);
	if (only_qd != 1)
		floor = run_floor(argv[2], seconds, QD_MAX);
	for (unsigned int i = 0; i < ARRAY_SIZE(phases); i++) {
		const struct phase *p = &phases[i];
		bool floored = p->qd == QD_MAX && p->type == VIRTIO_BLK_T_IN && p->event_idx;

		if (!iops[DISK_SIM][i])
			continue;
		printf("vdpa_blk_bench: ratio qd=%-2u op=%-5s event_idx=%-3s file-blk/blk-sim=%s "
		       "file-uring/blk-sim=%s", p->qd,
		       p->type == VIRTIO_BLK_T_IN ? "read" : "write", p->event_idx ? "on" : "off",
		       ratio(r1, iops[DISK_FILE][i], iops[DISK_SIM][i]),
		       ratio(r2, iops[DISK_URING][i], iops[DISK_SIM][i]));
		if (floored)
			printf(" file-blk/io_uring=%s", ratio(r3, iops[DISK_FILE][i], floor));
		printf("\n");
	}
	return 0;
}
