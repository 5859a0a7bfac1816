// SPDX-License-Identifier: GPL-2.0-only
/*
 * The RAM-disk simulator driven by the in-process driver: read/write,
 * flush, get-id, discard, write-zeroes, range checks, read-only, bad
 * request layouts.
 */
#include <errno.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include <kestrel/vdpa.h>

#include "../test.h"
#include "driver.h"

#define NUM	64
#define SECTORS	2048	/* capacity=1M */

static const u64 features =
	(1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM) |
	(1ULL << VIRTIO_BLK_F_FLUSH) | (1ULL << VIRTIO_BLK_F_DISCARD) |
	(1ULL << VIRTIO_BLK_F_WRITE_ZEROES) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
	(1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_RO) |
	VRINGH_F_EVENT_IDX | VRINGH_F_INDIRECT_DESC;

struct req {
	le32 type;
	le32 ioprio;
	le64 sector;
};

static int blk_up(struct vdrv *d, struct vdpa_device *vdpa)
{
	int ret;

	vdrv_init(d, vdpa, 4 << 20);
	ret = vdrv_map(d, 0);
	if (!ret)
		ret = vdrv_negotiate(d, features);
	if (!ret)
		ret = vdrv_vq_setup(d, 0, NUM);
	if (!ret)
		ret = vdrv_driver_ok(d);
	return ret;
}

static void blk_down(struct vdrv *d)
{
	vdpa_reset(d->vdpa);
	vdpa_dma_unmap(d->vdpa, 0, d->iova, d->size);
	vdrv_fini(d);
}

/*
 * One request: header, @out (data-out) or @in (data-in), status.
 * Return: the status byte, or 0xff if nothing came back; @used gets len.
 */
static u8 blk_rw(struct vdrv *d, u32 type, u64 sector, void *out, u32 olen,
		 void *in, u32 ilen, u32 *used)
{
	struct req *r = vdrv_alloc(d, sizeof(*r), 16);
	u8 *status = vdrv_alloc(d, 1, 1);
	struct vdrv_sg sg[3];
	unsigned int n = 0;
	u16 head;
	u32 len = 0;

	r->type = cpu_to_le32(type);
	r->ioprio = 0;
	r->sector = cpu_to_le64(sector);
	*status = 0xee;
	sg[n++] = (struct vdrv_sg){ r, sizeof(*r), false };
	if (olen)
		sg[n++] = (struct vdrv_sg){ out, olen, false };
	if (ilen)
		sg[n++] = (struct vdrv_sg){ in, ilen, true };
	sg[n++] = (struct vdrv_sg){ status, 1, true };
	vdrv_add(d, 0, sg, n);
	vdrv_publish(d, 0);
	vdrv_kick(d, 0);
	if (!vdrv_wait_used(d, 0, &head, &len, 2000))
		return 0xff;
	if (used)
		*used = len;
	return *status;
}

static void *buf(struct vdrv *d, size_t len, int fill)
{
	void *p = vdrv_alloc(d, len, 64);

	memset(p, fill, len);
	return p;
}

static bool all_bytes(const u8 *p, size_t len, u8 v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void test_rw(struct vdpa_device *vdpa)
{
	struct vdrv d;
	struct virtio_blk_config cfg;
	struct virtio_blk_discard_write_zeroes *seg;
	u8 *w, *r, *id, first[512];
	u32 used;

	report_prefix_push("rw");
	report_eq(blk_up(&d, vdpa), 0, "bring-up");
	memset(&cfg, 0, sizeof(cfg));
	vdpa_get_config(vdpa, 0, &cfg, offsetof(struct virtio_blk_config, geometry));
	report_eq(cfg.capacity, SECTORS, "capacity %llu sectors", (unsigned long long)cfg.capacity);
	report_eq((d.features & (1ULL << VIRTIO_BLK_F_RO)), 0, "writable disk");

	w = buf(&d, 4096, 0);
	for (int i = 0; i < 4096; i++)
		w[i] = (u8)(i * 13 + 1);
	check_eq(blk_rw(&d, VIRTIO_BLK_T_OUT, 100, w, 4096, NULL, 0, &used), VIRTIO_BLK_S_OK);
	check_eq(used, 1);
	report_checks("write 8 sectors");
	r = buf(&d, 4096, 0);
	check_eq(blk_rw(&d, VIRTIO_BLK_T_IN, 100, NULL, 0, r, 4096, &used), VIRTIO_BLK_S_OK);
	check_eq(used, 4097);
	report_checks("read them back (len %u)", used);
	report_mem(w, r, 4096, "pattern intact");

	/* Data and status in one writable descriptor: status is the last byte. */
	{
		u8 *both = buf(&d, 513, 0xaa);
		struct req *q = vdrv_alloc(&d, sizeof(*q), 16);
		struct vdrv_sg sg[2] = { { q, 16, false }, { both, 513, true } };
		u16 head;
		u32 len;

		q->type = cpu_to_le32(VIRTIO_BLK_T_IN);
		q->sector = cpu_to_le64(100);
		vdrv_add(&d, 0, sg, 2);
		vdrv_publish(&d, 0);
		vdrv_kick(&d, 0);
		check_true(vdrv_wait_used(&d, 0, &head, &len, 2000));
		check_eq(both[512], VIRTIO_BLK_S_OK);
		check_mem(both, w, 512);
		report_checks("status in the last byte of a shared descriptor");
	}

	report_eq(blk_rw(&d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK,
		  "flush");
	id = buf(&d, 20, 0xff);
	check_eq(blk_rw(&d, VIRTIO_BLK_T_GET_ID, 0, NULL, 0, id, 20, &used), VIRTIO_BLK_S_OK);
	check_mem(id, "disk-7\0", 7);
	report_checks("get-id returns the serial");

	seg = vdrv_alloc(&d, sizeof(*seg), 16);
	seg->sector = 101;
	seg->num_sectors = 2;
	seg->flags = 0;
	report_eq(blk_rw(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, sizeof(*seg), NULL, 0, NULL),
		  VIRTIO_BLK_S_OK, "write-zeroes 2 sectors");
	r = buf(&d, 4096, 0x55);
	blk_rw(&d, VIRTIO_BLK_T_IN, 100, NULL, 0, r, 4096, NULL);
	check_mem(r, w, 512);
	check_true(all_bytes(r + 512, 1024, 0));
	check_mem(r + 1536, w + 1536, 4096 - 1536);
	report_checks("exactly those sectors zeroed");
	seg->sector = 104;
	seg->num_sectors = 1;
	report_eq(blk_rw(&d, VIRTIO_BLK_T_DISCARD, 0, seg, sizeof(*seg), NULL, 0, NULL),
		  VIRTIO_BLK_S_OK, "discard 1 sector");
	seg->flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	report_eq(blk_rw(&d, VIRTIO_BLK_T_DISCARD, 0, seg, sizeof(*seg), NULL, 0, NULL),
		  VIRTIO_BLK_S_UNSUPP, "discard with the unmap flag: UNSUPP");
	seg->flags = 0x80;
	report_eq(blk_rw(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, sizeof(*seg), NULL, 0, NULL),
		  VIRTIO_BLK_S_UNSUPP, "write-zeroes with an unknown flag: UNSUPP");
	seg->flags = 0;
	seg->sector = SECTORS - 1;
	seg->num_sectors = 2;
	report_eq(blk_rw(&d, VIRTIO_BLK_T_DISCARD, 0, seg, sizeof(*seg), NULL, 0, NULL),
		  VIRTIO_BLK_S_IOERR, "discard past the end: IOERR");
	report_eq(blk_rw(&d, VIRTIO_BLK_T_DISCARD, 0, seg, 10, NULL, 0, NULL), VIRTIO_BLK_S_IOERR,
		  "discard payload not a whole segment: IOERR");

	/* Range checks, including ones that would overflow. */
	report_eq(blk_rw(&d, VIRTIO_BLK_T_IN, SECTORS - 1, NULL, 0, r, 1024, NULL),
		  VIRTIO_BLK_S_IOERR, "read across the end: IOERR");
	report_eq(blk_rw(&d, VIRTIO_BLK_T_OUT, SECTORS, w, 512, NULL, 0, NULL), VIRTIO_BLK_S_IOERR,
		  "write at capacity: IOERR");
	report_eq(blk_rw(&d, VIRTIO_BLK_T_IN, ~0ULL - 1, NULL, 0, r, 1024, NULL),
		  VIRTIO_BLK_S_IOERR, "sector near 2^64: IOERR");
	report_eq(blk_rw(&d, VIRTIO_BLK_T_IN, 1ULL << 55, NULL, 0, r, 512, NULL),
		  VIRTIO_BLK_S_IOERR, "sector whose byte offset wraps: IOERR");
	report_eq(blk_rw(&d, VIRTIO_BLK_T_IN, SECTORS - 1, NULL, 0, r, 512, NULL), VIRTIO_BLK_S_OK,
		  "last sector readable");
	report_eq(blk_rw(&d, VIRTIO_BLK_T_OUT, 0, w, 100, NULL, 0, NULL), VIRTIO_BLK_S_IOERR,
		  "write of 100 bytes: IOERR");
	report_eq(blk_rw(&d, 99, 0, NULL, 0, NULL, 0, NULL), VIRTIO_BLK_S_UNSUPP,
		  "unknown request type: UNSUPP");

	{
		struct vdpa_vq_stats st;

		check_eq(vdpa_get_vq_stats(vdpa, 0, &st), 0);
		check_gt(st.packets, 10);
		check_gt(st.errors, 5);
		report_checks("counters: %llu requests, %llu errors",
			      (unsigned long long)st.packets, (unsigned long long)st.errors);
	}

	/* A request with no writable byte cannot be answered. */
	{
		struct req *q = vdrv_alloc(&d, sizeof(*q), 16);
		struct vdrv_sg sg = { q, 16, false };

		q->type = cpu_to_le32(VIRTIO_BLK_T_FLUSH);
		vdrv_add(&d, 0, &sg, 1);
		vdrv_publish(&d, 0);
		vdrv_kick(&d, 0);
		report(vdrv_wait_status(&d, VIRTIO_CONFIG_S_NEEDS_RESET, 2000),
		       "no status byte: NEEDS_RESET");
		report_ge(d.config_irqs, 1, "config callback raised");
	}
	memcpy(first, w, sizeof(first));
	blk_down(&d);

	/* Reset and reuse: the data survived (it is the disk). */
	report_eq(blk_up(&d, vdpa), 0, "bring-up after reset");
	r = buf(&d, 512, 0);
	check_eq(blk_rw(&d, VIRTIO_BLK_T_IN, 100, NULL, 0, r, 512, NULL), VIRTIO_BLK_S_OK);
	check_mem(r, first, 512);
	report_checks("disk contents kept");
	blk_down(&d);
	report_prefix_pop();
}

static void test_ro(struct vdpa_device *vdpa)
{
	struct vdrv d;
	u8 *w, *r;
	struct virtio_blk_discard_write_zeroes *seg;

	report_prefix_push("ro");
	report_eq(blk_up(&d, vdpa), 0, "bring-up");
	report(d.features & (1ULL << VIRTIO_BLK_F_RO), "VIRTIO_BLK_F_RO negotiated");
	report_eq((d.features & (1ULL << VIRTIO_BLK_F_DISCARD)), 0,
		  "no discard offered on a read-only disk");
	w = buf(&d, 512, 0x77);
	report_eq(blk_rw(&d, VIRTIO_BLK_T_OUT, 0, w, 512, NULL, 0, NULL), VIRTIO_BLK_S_IOERR,
		  "write: IOERR");
	r = buf(&d, 512, 0x11);
	check_eq(blk_rw(&d, VIRTIO_BLK_T_IN, 0, NULL, 0, r, 512, NULL), VIRTIO_BLK_S_OK);
	check_true(all_bytes(r, 512, 0));
	report_checks("nothing was written");
	seg = vdrv_alloc(&d, sizeof(*seg), 16);
	seg->sector = 0;
	seg->num_sectors = 1;
	seg->flags = 0;
	report_eq(blk_rw(&d, VIRTIO_BLK_T_DISCARD, 0, seg, sizeof(*seg), NULL, 0, NULL),
		  VIRTIO_BLK_S_UNSUPP, "discard: UNSUPP");
	blk_down(&d);
	report_prefix_pop();
}

int main(void)
{
	struct vdpa_device *rw, *ro;

	log_level_set(LOG_ERR);
	vdpa_register_types();
	if (!report_eq(vdpa_mgmt_dev_add("blk,capacity=1M,serial=disk-7", &rw), 0,
		       "create blk simulator"))
		return report_summary();
	test_rw(rw);
	vdpa_mgmt_dev_del(rw);

	if (!report_eq(vdpa_mgmt_dev_add("blk,capacity=64K,ro=on", &ro), 0,
		       "create read-only blk simulator"))
		return report_summary();
	test_ro(ro);
	vdpa_mgmt_dev_del(ro);
	return report_summary();
}
