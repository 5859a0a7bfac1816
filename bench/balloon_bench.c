// SPDX-License-Identifier: GPL-2.0-only
/*
 * How fast the balloon gives guest memory back: the in-process driver
 * inflates 128 MiB of touched RAM, 256 PFNs a request as Linux's
 * virtio_balloon sends them, in ascending and descending order and
 * shuffled (the device sorts each request, so adjacent pages go in one
 * madvise() whatever their order; scattered ones go one by one), over
 * private anonymous and shared memfd RAM. The anchor, measured in the same
 * run on the same memory, is the kernel's own cost: madvise() of each page
 * alone, and of the whole range at once. Prints figures only:
 *
 *   balloon_bench: KIND ORDER: 128 MiB in T ms (R GiB/s), VmRSS A -> B MiB
 *   balloon_bench: KIND anchor: madvise per page T1 ms, one call T2 ms
 *
 *   build/bench/balloon_bench
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>

#include "../tests/unit/vdpa/driver.h"

#define PAGE		4096u
#define REGION		(128u << 20)
#define NPAGES		(REGION / PAGE)
#define BATCH		256u
#define IOVA		0x100000000ULL

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long rss_mib(void)
{
	char line[128];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib < 0 ? -1 : kib / 1024;
}

static void touch(u8 *mem)
{
	for (size_t i = 0; i < REGION; i += PAGE)
		mem[i] = 1;
}

/* Inflate every page of the region, in @order; Return: ms, or -1. */
static double inflate(struct vdrv *d, const u32 *order)
{
	le32 *buf = vdrv_alloc(d, BATCH * sizeof(le32), 4);
	double t0 = now_ms();
	u16 head;
	u32 len;

	if (!buf)
		return -1;
	for (u32 done = 0; done < NPAGES; done += BATCH) {
		for (u32 i = 0; i < BATCH; i++)
			buf[i] = cpu_to_le32((u32)(IOVA >> 12) + order[done + i]);
		vdrv_add(d, 0, &(struct vdrv_sg){ buf, BATCH * sizeof(le32), false }, 1);
		vdrv_publish(d, 0);
		vdrv_kick(d, 0);
		if (vdrv_wait_used(d, 0, &head, &len, 5000) != 1)
			return -1;
	}
	return now_ms() - t0;
}

static double madvise_pages(u8 *mem, int advice, size_t step)
{
	double t0 = now_ms();

	for (size_t i = 0; i < REGION; i += step)
		madvise(mem + i, step, advice);
	return now_ms() - t0;
}

static void run(const char *kind, u8 *mem, int advice, const u32 *asc, const u32 *desc,
		const u32 *shuf)
{
	static const char *const names[] = { "ascending", "descending", "shuffled" };
	const u32 *orders[] = { asc, desc, shuf };
	struct vdpa_device *vdpa;
	struct vdrv d;

	if (vdpa_mgmt_dev_add("balloon", &vdpa)) {
		printf("balloon_bench: cannot create the device\n");
		return;
	}
	if (vdrv_init(&d, vdpa, 1 << 20) || vdrv_map(&d, 0) ||
	    vdpa_dma_map(vdpa, 0, IOVA, REGION, mem, VDPA_MAP_RW) ||
	    vdrv_negotiate(&d, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM)) ||
	    vdrv_vq_setup(&d, 0, 64) || vdrv_vq_setup(&d, 1, 64) || vdrv_driver_ok(&d)) {
		printf("balloon_bench: bring-up failed\n");
		return;
	}
	for (int o = 0; o < 3; o++) {
		long before, after;
		double ms;

		touch(mem);
		before = rss_mib();
		ms = inflate(&d, orders[o]);
		after = rss_mib();
		printf("balloon_bench: %s %s: %u MiB in %.1f ms (%.2f GiB/s), VmRSS %ld -> %ld MiB\n",
		       kind, names[o], REGION >> 20, ms, ms > 0 ? (REGION / 1073741824.0) / (ms / 1e3) : 0,
		       before, after);
	}
	touch(mem);
	{
		double per_page = madvise_pages(mem, advice, PAGE);

		touch(mem);
		printf("balloon_bench: %s anchor: madvise per page %.1f ms, one call %.1f ms\n",
		       kind, per_page, madvise_pages(mem, advice, REGION));
	}
	vdpa_reset(vdpa);
	vdpa_dma_unmap(vdpa, 0, IOVA, REGION);
	vdpa_dma_unmap(vdpa, 0, d.iova, d.size);
	vdrv_fini(&d);
	vdpa_mgmt_dev_del(vdpa);
}

int main(void)
{
	u32 *asc = malloc(NPAGES * sizeof(u32)), *shuf = malloc(NPAGES * sizeof(u32));
	u32 *desc = malloc(NPAGES * sizeof(u32));
	u8 *anon, *shm;
	int fd;

	if (!asc || !desc || !shuf || vdpa_register_types())
		return 1;
	for (u32 i = 0; i < NPAGES; i++) {
		asc[i] = shuf[i] = i;
		desc[i] = NPAGES - 1 - i;
	}
	srand(1);
	for (u32 i = NPAGES - 1; i > 0; i--) {
		u32 j = (u32)rand() % (i + 1), t = shuf[i];

		shuf[i] = shuf[j];
		shuf[j] = t;
	}
	anon = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = memfd_create("balloon-bench", MFD_CLOEXEC);
	if (anon == MAP_FAILED || fd < 0 || ftruncate(fd, REGION))
		return 1;
	shm = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (shm == MAP_FAILED)
		return 1;
	run("private", anon, MADV_DONTNEED, asc, desc, shuf);
	run("memfd", shm, MADV_REMOVE, asc, desc, shuf);
	munmap(anon, REGION);
	munmap(shm, REGION);
	close(fd);
	free(asc);
	free(desc);
	free(shuf);
	return 0;
}
