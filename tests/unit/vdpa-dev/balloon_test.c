// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-balloon through the in-process driver: inflated pages really
 * leave the process (mincore() for private RAM, the memfd's allocated
 * blocks for shared RAM), deflated pages are usable again, hostile PFNs
 * (unmapped, read-only) are refused while the rest of the request is
 * served, statistics are kept and asked for again on the interval, free
 * page reports release their pages, and the target and actual fields of
 * the config space move as the host and the driver set them.
 */
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>

#include "../test.h"
#include "../vdpa/driver.h"

#define PAGE		4096ULL
#define REGION		(1ULL << 20)
#define NPAGES		(REGION / PAGE)
#define ANON_IOVA	0x100000000ULL	/* private anonymous RAM */
#define SHM_IOVA	0x200000000ULL	/* shared memfd RAM */
#define RO_IOVA		0x300000000ULL	/* RAM the device may only read */
#define HOLE_IOVA	0x180000000ULL	/* nothing mapped */

#define F_STATS		(1ULL << 1)
#define F_DEFLATE_OOM	(1ULL << 2)
#define F_REPORTING	(1ULL << 5)
#define Q_INFLATE	0
#define Q_DEFLATE	1
#define Q_STATS		2
#define Q_REPORT	3

struct stat_entry {
	le16 tag;
	le64 val;
} __attribute__((packed));

/* Resident pages of [p, p + len). */
static unsigned int resident(void *p, size_t len)
{
	unsigned char vec[NPAGES];
	unsigned int n = 0;

	if (mincore(p, len, vec))
		return ~0u;
	for (size_t i = 0; i < len / PAGE; i++)
		n += vec[i] & 1;
	return n;
}

static long long memfd_blocks(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : (long long)st.st_blocks;
}

/* Send @n PFNs on queue @q and wait for the chain to come back. */
static bool send_pfns(struct vdrv *d, u16 q, const u32 *pfns, unsigned int n)
{
	le32 *buf = vdrv_alloc(d, n * sizeof(le32), 4);
	u16 head;
	u32 len;

	if (!buf)
		return false;
	for (unsigned int i = 0; i < n; i++)
		buf[i] = cpu_to_le32(pfns[i]);
	vdrv_add(d, q, &(struct vdrv_sg){ buf, n * (u32)sizeof(le32), false }, 1);
	vdrv_publish(d, q);
	vdrv_kick(d, q);
	return vdrv_wait_used(d, q, &head, &len, 3000) == 1;
}

static void post_stats(struct vdrv *d, struct stat_entry *st, u64 free_bytes)
{
	st[0] = (struct stat_entry){ cpu_to_le16(VDPA_BALLOON_FREE_MEMORY),
				     cpu_to_le64(free_bytes) };
	st[1] = (struct stat_entry){ cpu_to_le16(VDPA_BALLOON_TOTAL_MEMORY),
				     cpu_to_le64(64ULL << 20) };
	st[2] = (struct stat_entry){ cpu_to_le16(999), cpu_to_le64(7) };	/* unknown tag */
	vdrv_add(d, Q_STATS, &(struct vdrv_sg){ st, 3 * sizeof(*st), false }, 1);
	vdrv_publish(d, Q_STATS);
	vdrv_kick(d, Q_STATS);
}

static bool info_of(struct vdpa_device *vdpa, struct vdpa_balloon_info *info)
{
	return vdpa_balloon_get_info(vdpa, info) == 0;
}

/* Wait until the device has taken @n statistics buffers. */
static bool wait_stats(struct vdpa_device *vdpa, u64 n, struct vdpa_balloon_info *info)
{
	for (int i = 0; i < 300; i++) {
		if (info_of(vdpa, info) && info->stats_updates >= n)
			return true;
		vdrv_msleep(10);
	}
	return false;
}

static u32 cfg_u32(struct vdpa_device *vdpa, unsigned int off)
{
	le32 v = 0;

	vdpa_get_config(vdpa, off, &v, sizeof(v));
	return le32_to_cpu(v);
}

int main(void)
{
	struct vdpa_balloon_info info;
	struct vdpa_device *vdpa, *plain;
	struct stat_entry *st;
	u32 pfns[NPAGES + 4];
	unsigned int irqs;
	u8 *anon, *shm, *ro, *rep;
	long long blocks;
	struct vdrv d;
	u16 head;
	u32 len;
	int fd;

	if (vdpa_register_types() ||
	    vdpa_mgmt_dev_add("balloon,amount_mib=8,deflate_on_oom=on,stats_polling_interval_s=1,free_page_reporting=on",
			      &vdpa)) {
		report(false, "created");
		return report_summary();
	}
	report_eq(vdpa_get_device_id(vdpa), VIRTIO_ID_BALLOON, "device id 5");
	report_eq(vdpa_get_device_features(vdpa) & (F_STATS | F_DEFLATE_OOM | F_REPORTING),
		  F_STATS | F_DEFLATE_OOM | F_REPORTING, "stats, deflate-on-OOM, reporting offered");
	report_eq(cfg_u32(vdpa, 0), 8 * 256, "num_pages is amount_mib in 4 KiB pages");

	anon = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = memfd_create("balloon-test", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)REGION)) {
		report(false, "memfd");
		return report_summary();
	}
	shm = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ro = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED || shm == MAP_FAILED || ro == MAP_FAILED) {
		report(false, "guest RAM mapped");
		return report_summary();
	}
	if (!report(vdrv_init(&d, vdpa, 1 << 20) == 0 && vdrv_map(&d, 0) == 0 &&
		    vdpa_dma_map(vdpa, 0, ANON_IOVA, REGION, anon, VDPA_MAP_RW) == 0 &&
		    vdpa_dma_map(vdpa, 0, SHM_IOVA, REGION, shm, VDPA_MAP_RW) == 0 &&
		    vdpa_dma_map(vdpa, 0, RO_IOVA, REGION, ro, VDPA_MAP_READ) == 0 &&
		    vdrv_negotiate(&d, (1ULL << VIRTIO_F_VERSION_1) |
				   (1ULL << VIRTIO_F_ACCESS_PLATFORM) | F_STATS |
				   F_DEFLATE_OOM | F_REPORTING) == 0 &&
		    vdrv_vq_setup(&d, Q_INFLATE, 8) == 0 && vdrv_vq_setup(&d, Q_DEFLATE, 8) == 0 &&
		    vdrv_vq_setup(&d, Q_STATS, 8) == 0 && vdrv_vq_setup(&d, Q_REPORT, 8) == 0,
		    "bring-up"))
		return report_summary();
	/* The driver's first statistics go in before DRIVER_OK (§5.5.6.3). */
	st = vdrv_alloc(&d, 3 * sizeof(*st), 8);
	post_stats(&d, st, 12345);
	report_eq(vdrv_driver_ok(&d), 0, "DRIVER_OK");

	/* ---- inflate: private and shared RAM really leave the process ---- */
	memset(anon, 0xaa, REGION);
	memset(shm, 0xbb, REGION);
	memset(ro, 0xcc, REGION);
	blocks = memfd_blocks(fd);
	check_eq(resident(anon, REGION), NPAGES);
	check_eq(resident(shm, REGION), NPAGES);
	check_eq(blocks, (long long)(REGION / 512));
	report_checks("1 MiB private and 1 MiB shared RAM touched");

	for (unsigned int i = 0; i < NPAGES / 2; i++)
		pfns[i] = (u32)((ANON_IOVA >> 12) + i);
	/* hostile: unmapped, in a hole, read-only for the device, the top PFN */
	pfns[NPAGES / 2] = (u32)(HOLE_IOVA >> 12);
	pfns[NPAGES / 2 + 1] = (u32)(RO_IOVA >> 12);
	pfns[NPAGES / 2 + 2] = 0xffffffffu;
	report(send_pfns(&d, Q_INFLATE, pfns, NPAGES / 2 + 3), "inflate of private RAM served");
	check_eq(resident(anon, REGION / 2), 0);
	check_eq(resident(anon + REGION / 2, REGION / 2), NPAGES / 2);
	report_checks("the 128 inflated private pages are gone, the others stay");
	check_eq(resident(ro, REGION), NPAGES);
	check_eq(ro[0], 0xcc);
	report_checks("the read-only page is not released");

	/* Descending, as a driver may list them: released all the same. */
	for (unsigned int i = 0; i < NPAGES / 2; i++)
		pfns[i] = (u32)((SHM_IOVA >> 12) + NPAGES - 1 - i);
	report(send_pfns(&d, Q_INFLATE, pfns, NPAGES / 2), "inflate of shared RAM served");
	check_eq(memfd_blocks(fd), blocks / 2);
	check_eq(resident(shm + REGION / 2, REGION / 2), 0);
	report_checks("the memfd lost the 128 inflated pages' blocks (%lld -> %lld)", blocks,
		      memfd_blocks(fd));

	report(info_of(vdpa, &info), "info");
	check_eq(info.inflated_pages, NPAGES);
	check_eq(info.refused_pfns, 3);
	check_eq(info.released_bytes, REGION);
	check_eq(info.release_failures, 0);
	report_checks("counters: 256 inflated, 3 refused, 1 MiB released");
	report(!(vdpa_get_status(vdpa) & VIRTIO_CONFIG_S_NEEDS_RESET),
	       "hostile PFNs do not break the device");
	check_eq(anon[0], 0);
	check_eq(shm[REGION - 1], 0);
	report_checks("released pages read back as zero");

	/* ---- deflate: the pages are the guest's again ---- */
	for (unsigned int i = 0; i < NPAGES / 2; i++)
		pfns[i] = (u32)((ANON_IOVA >> 12) + i);
	report(send_pfns(&d, Q_DEFLATE, pfns, NPAGES / 2), "deflate served");
	memset(anon, 0x11, REGION / 2);
	check_eq(anon[REGION / 2 - 1], 0x11);
	check_true(info_of(vdpa, &info));
	check_eq(info.deflated_pages, NPAGES / 2);
	report_checks("deflated pages counted and usable");

	/* ---- target and actual ---- */
	irqs = __atomic_load_n(&d.config_irqs, __ATOMIC_RELAXED);
	report_eq(vdpa_balloon_set_target(vdpa, 100), 0, "new target");
	check_eq(cfg_u32(vdpa, 0), 100);
	check_gt(__atomic_load_n(&d.config_irqs, __ATOMIC_RELAXED), irqs);
	report_checks("num_pages is 100 and the driver got a config interrupt");
	vdpa_set_config(vdpa, 4, &(le32){ cpu_to_le32(128) }, 4);
	vdpa_set_config(vdpa, 0, &(le32){ cpu_to_le32(7) }, 4);
	check_true(info_of(vdpa, &info));
	check_eq(info.actual_pages, 128);
	check_eq(cfg_u32(vdpa, 4), 128);
	check_eq(cfg_u32(vdpa, 0), 100);
	report_checks("the driver writes actual, not num_pages");

	/* ---- statistics ---- */
	check_true(wait_stats(vdpa, 1, &info));
	check_eq(info.stats[VDPA_BALLOON_FREE_MEMORY], 12345);
	check_eq(info.stats[VDPA_BALLOON_TOTAL_MEMORY], 64ULL << 20);
	check_eq(info.stats_valid, (1U << VDPA_BALLOON_FREE_MEMORY) |
				   (1U << VDPA_BALLOON_TOTAL_MEMORY));
	report_checks("the first statistics are kept, the unknown tag ignored");
	report(vdrv_wait_used(&d, Q_STATS, &head, &len, 3000) == 1,
	       "the buffer comes back after the 1 s interval: a new request");
	post_stats(&d, st, 23456);
	check_true(wait_stats(vdpa, 2, &info));
	check_eq(info.stats[VDPA_BALLOON_FREE_MEMORY], 23456);
	report_checks("the second statistics replace the first");
	report_eq(vdpa_balloon_set_stats_interval(vdpa, 60), 0, "interval 60 s");
	report(vdrv_wait_used(&d, Q_STATS, &head, &len, 1000) == 1,
	       "a new interval asks for statistics at once");
	post_stats(&d, st, 34567);
	check_true(wait_stats(vdpa, 3, &info));
	check_eq(vdrv_wait_used(&d, Q_STATS, &head, &len, 1500), 0);
	report_checks("then not again before 60 s");
	report_err(vdpa_balloon_set_stats_interval(vdpa, 0), -EOPNOTSUPP,
		   "statistics cannot be turned off");

	/* ---- free page reporting ---- */
	rep = vdrv_alloc(&d, 64 * PAGE, PAGE);
	memset(rep, 0x55, 64 * PAGE);
	check_eq(resident(rep, 64 * PAGE), 64);
	vdrv_add(&d, Q_REPORT, &(struct vdrv_sg){ rep, 64 * PAGE, true }, 1);
	vdrv_publish(&d, Q_REPORT);
	vdrv_kick(&d, Q_REPORT);
	check_true(vdrv_wait_used(&d, Q_REPORT, &head, &len, 3000));
	check_eq(resident(rep, 64 * PAGE), 0);
	check_true(info_of(vdpa, &info));
	check_eq(info.reported_bytes, 64 * PAGE);
	check_eq(info.released_bytes, REGION + 64 * PAGE);
	report_checks("a 256 KiB free page report is released");

	/* ---- malformed: a PFN array cut mid-PFN ---- */
	{
		u8 *odd = vdrv_alloc(&d, 6, 4);

		vdrv_add(&d, Q_INFLATE, &(struct vdrv_sg){ odd, 6, false }, 1);
		vdrv_publish(&d, Q_INFLATE);
		vdrv_kick(&d, Q_INFLATE);
		report(vdrv_wait_status(&d, VIRTIO_CONFIG_S_NEEDS_RESET, 2000),
		       "a 6-byte PFN array: NEEDS_RESET");
	}
	vdpa_reset(vdpa);
	report(info_of(vdpa, &info) && info.actual_pages == 0 && cfg_u32(vdpa, 0) == 100,
	       "reset: actual 0, the target stays");

	/* ---- a balloon without statistics ---- */
	if (vdpa_mgmt_dev_add("balloon", &plain) == 0) {
		check_eq(vdpa_get_device_features(plain) & (F_STATS | F_DEFLATE_OOM | F_REPORTING), 0);
		check_eq(cfg_u32(plain, 0), 0);
		check_err(vdpa_balloon_set_stats_interval(plain, 5), -EOPNOTSUPP);
		report_checks("defaults: no optional feature, target 0, no statistics");
		vdpa_mgmt_dev_del(plain);
	} else {
		report(false, "a plain balloon");
	}
	report_err(vdpa_mgmt_dev_add("balloon,amount_mib=-1", &plain), -EINVAL,
		   "a bad amount_mib is refused");
	report_err(vdpa_balloon_set_target(NULL, 1), -EINVAL, "not a balloon");

	vdpa_dma_unmap(vdpa, 0, d.iova, d.size);
	vdpa_dma_unmap(vdpa, 0, ANON_IOVA, REGION);
	vdpa_dma_unmap(vdpa, 0, SHM_IOVA, REGION);
	vdpa_dma_unmap(vdpa, 0, RO_IOVA, REGION);
	vdrv_fini(&d);
	vdpa_mgmt_dev_del(vdpa);
	munmap(anon, REGION);
	munmap(shm, REGION);
	munmap(ro, REGION);
	close(fd);
	return report_summary();
}
