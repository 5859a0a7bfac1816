// SPDX-License-Identifier: GPL-2.0-only
/*
 * file-blk driven by the in-process driver: write, flush, read back through
 * the device, and check the bytes on disk with pread; GET_ID; range and
 * length checks; write-zeroes and discard, served only when negotiated and
 * only when every segment is good; read-only; and images the device must
 * refuse (513 bytes, empty, missing).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/falloc.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>

#include "../test.h"
#include "../vdpa/driver.h"

#define NUM		64
/* Segments per DISCARD / WRITE_ZEROES the device takes (max_discard_seg). */
#define BLK_DWZ_SEGS	16
#define DISK_SIZE	(1u << 20)

static const u64 features =
	(1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM) |
	(1ULL << VIRTIO_BLK_F_FLUSH) | (1ULL << VIRTIO_BLK_F_DISCARD) |
	(1ULL << VIRTIO_BLK_F_WRITE_ZEROES) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
	(1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_RO) |
	VRINGH_F_EVENT_IDX | VRINGH_F_INDIRECT_DESC;

static char dir[] = "/tmp/kestrel-fblk-XXXXXX";

/* Bring-up accepting the offered features that are also in @wanted. */
/* The queue size blk_up_with() sets up (test_many_held() wants more). */
static u32 ring_num = NUM;

static int blk_up_with(struct vdrv *d, struct vdpa_device *vdpa, u64 wanted)
{
	int ret = vdrv_init(d, vdpa, 4 << 20);

	if (!ret)
		ret = vdrv_map(d, 0);
	if (!ret)
		ret = vdrv_negotiate(d, wanted);
	if (!ret)
		ret = vdrv_vq_setup(d, 0, ring_num);
	if (!ret)
		ret = vdrv_driver_ok(d);
	return ret;
}

static int blk_up(struct vdrv *d, struct vdpa_device *vdpa)
{
	return blk_up_with(d, vdpa, features);
}

static void blk_down(struct vdrv *d)
{
	vdpa_reset(d->vdpa);
	vdpa_dma_unmap(d->vdpa, 0, d->iova, d->size);
	vdrv_fini(d);
}

/* One request; Return: the status byte (0xff: no completion). */
static u8 blk_req(struct vdrv *d, u32 type, u64 sector, void *out, u32 olen,
		  void *in, u32 ilen, u32 *used)
{
	struct virtio_blk_outhdr *h = vdrv_alloc(d, sizeof(*h), 16);
	u8 *status = vdrv_alloc(d, 1, 1);
	struct vdrv_sg sg[4];
	unsigned int n = 0;
	u32 len = 0;
	u16 head;

	h->type = cpu_to_le32(type);
	h->ioprio = 0;
	h->sector = cpu_to_le64(sector);
	*status = 0xee;
	sg[n++] = (struct vdrv_sg){ h, sizeof(*h), false };
	if (olen)
		sg[n++] = (struct vdrv_sg){ out, olen, false };
	if (ilen)
		sg[n++] = (struct vdrv_sg){ in, ilen, true };
	sg[n++] = (struct vdrv_sg){ status, 1, true };
	vdrv_add(d, 0, sg, n);
	vdrv_publish(d, 0);
	vdrv_kick(d, 0);
	if (!vdrv_wait_used(d, 0, &head, &len, 5000))
		return 0xff;
	if (used)
		*used = len;
	return *status;
}

static char *make_image_at(const char *where, const char *name, size_t size, int fill)
{
	char *path;
	u8 *data = malloc(size ? size : 1);
	int fd;

	if (asprintf(&path, "%s/%s", where, name) < 0 || !data)
		exit(1);
	memset(data, fill, size);
	fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		exit(1);
	close(fd);
	free(data);
	return path;
}

static char *make_image(const char *name, size_t size, int fill)
{
	return make_image_at(dir, name, size, fill);
}

static bool disk_has(const char *path, off_t off, const u8 *want, size_t len)
{
	u8 *got = malloc(len);
	int fd = open(path, O_RDONLY);
	bool ok = fd >= 0 && got && pread(fd, got, len, off) == (ssize_t)len &&
		  !memcmp(got, want, len);

	if (fd >= 0)
		close(fd);
	free(got);
	return ok;
}

static bool all_bytes(const u8 *p, size_t len, u8 v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/*
 * Publish the chains added with one index update and one kick, and wait
 * for @n completions. Return: how many came.
 */
static unsigned int kick_and_wait(struct vdrv *d, unsigned int n)
{
	unsigned int done = 0;

	vdrv_publish(d, 0);
	vdrv_kick(d, 0);
	for (unsigned int i = 0; i < n; i++) {
		u16 head;
		u32 len;

		done += vdrv_wait_used(d, 0, &head, &len, 5000);
	}
	return done;
}

/*
 * @n one-sector writes at once, sector @sector + i filled with @fill + i,
 * published with one index update and one kick; *@bufs and *@st get their
 * data and status bytes. With @seen, each completed head is marked there
 * and *@twice counts heads completed again. Return: how many completed.
 */
static unsigned int post_writes(struct vdrv *d, unsigned int n, u64 sector, u8 fill,
				u8 **bufs, u8 **st, bool *seen, unsigned int *twice)
{
	struct virtio_blk_outhdr *hs = vdrv_alloc(d, n * sizeof(*hs), 16);
	unsigned int done = 0;

	*bufs = vdrv_alloc(d, n * 512, 64);
	*st = vdrv_alloc(d, n, 1);
	for (unsigned int i = 0; i < n; i++) {
		struct vdrv_sg sg[3] = {
			{ &hs[i], sizeof(hs[i]), false },
			{ *bufs + i * 512, 512, false },
			{ *st + i, 1, true },
		};

		hs[i].type = cpu_to_le32(VIRTIO_BLK_T_OUT);
		hs[i].ioprio = 0;
		hs[i].sector = cpu_to_le64(sector + i);
		memset(*bufs + i * 512, (u8)(fill + i), 512);
		(*st)[i] = 0xee;
		vdrv_add(d, 0, sg, 3);
	}
	vdrv_publish(d, 0);
	vdrv_kick(d, 0);
	for (unsigned int i = 0; i < n; i++) {
		u16 head;
		u32 len;

		if (!vdrv_wait_used(d, 0, &head, &len, 5000))
			break;
		done++;
		if (seen) {
			*twice += seen[head];
			seen[head] = true;
		}
	}
	return done;
}

static void test_rw(void)
{
	char *path = make_image("rw.img", DISK_SIZE, 0x5a), spec[512];
	struct virtio_blk_discard_write_zeroes *seg;
	struct virtio_blk_config cfg = { 0 };
	struct vdpa_device *vdpa;
	u8 *w, *r, *id, pattern[4096];
	struct vdrv d;
	u32 used = 0;

	report_prefix_push("rw");
	snprintf(spec, sizeof(spec), "file-blk,path=%s,serial=kestrel-disk-01", path);
	if (!report_eq(vdpa_mgmt_dev_add(spec, &vdpa), 0, "created on a 1 MiB file"))
		goto out;
	if (!report_eq(blk_up(&d, vdpa), 0, "bring-up"))
		goto out_del;
	vdpa_get_config(vdpa, 0, &cfg, offsetof(struct virtio_blk_config, geometry));
	report_eq(cfg.capacity, DISK_SIZE / 512, "capacity %llu sectors",
		  (unsigned long long)cfg.capacity);
	report_eq((d.features & (1ULL << VIRTIO_BLK_F_RO)), 0, "writable");

	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (u8)(i * 31 + 7);
	w = vdrv_alloc(&d, sizeof(pattern), 64);
	memcpy(w, pattern, sizeof(pattern));
	check_eq(blk_req(&d, VIRTIO_BLK_T_OUT, 8, w, sizeof(pattern), NULL, 0, &used),
		 VIRTIO_BLK_S_OK);
	check_eq(used, 1);
	report_checks("write 8 sectors at sector 8");
	report_eq(blk_req(&d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK,
		  "flush");
	report(disk_has(path, 8 * 512, pattern, sizeof(pattern)),
	       "the file holds the pattern after flush");
	r = vdrv_alloc(&d, sizeof(pattern), 64);
	memset(r, 0, sizeof(pattern));
	check_eq(blk_req(&d, VIRTIO_BLK_T_IN, 8, NULL, 0, r, sizeof(pattern), &used),
		 VIRTIO_BLK_S_OK);
	check_eq(used, sizeof(pattern) + 1);
	check_mem(r, pattern, sizeof(pattern));
	report_checks("read back through the device");
	check_eq(blk_req(&d, VIRTIO_BLK_T_IN, 0, NULL, 0, r, 512, NULL), VIRTIO_BLK_S_OK);
	check_true(all_bytes(r, 512, 0x5a));
	report_checks("untouched sector keeps the file's bytes");

	/* Hostile requests. */
	report_eq(blk_req(&d, VIRTIO_BLK_T_IN, DISK_SIZE / 512, NULL, 0, r, 512, NULL),
		  VIRTIO_BLK_S_IOERR, "read past the end: IOERR");
	report_eq(blk_req(&d, VIRTIO_BLK_T_OUT, DISK_SIZE / 512 - 1, w, 1024, NULL, 0, NULL),
		  VIRTIO_BLK_S_IOERR, "write straddling the end: IOERR");
	report_eq(blk_req(&d, VIRTIO_BLK_T_IN, UINT64_MAX / 256, NULL, 0, r, 512, NULL),
		  VIRTIO_BLK_S_IOERR, "huge sector (overflow): IOERR");
	report_eq(blk_req(&d, VIRTIO_BLK_T_OUT, 0, w, 100, NULL, 0, NULL), VIRTIO_BLK_S_IOERR,
		  "write of 100 bytes (not whole sectors): IOERR");
	report_eq(blk_req(&d, 99, 0, NULL, 0, r, 16, NULL), VIRTIO_BLK_S_UNSUPP,
		  "unknown type: UNSUPP");
	report(disk_has(path, 0, (const u8[]){ 0x5a, 0x5a, 0x5a, 0x5a }, 4),
	       "refused writes did not touch the file");

	id = vdrv_alloc(&d, 20, 1);
	memset(id, 0, 20);
	check_eq(blk_req(&d, VIRTIO_BLK_T_GET_ID, 0, NULL, 0, id, 20, &used), VIRTIO_BLK_S_OK);
	check_mem(id, "kestrel-disk-01", 15);
	check_eq(used, 21);
	report_checks("GET_ID returns the serial");

	seg = vdrv_alloc(&d, sizeof(*seg), 16);
	seg->sector = cpu_to_le64(8);
	seg->num_sectors = cpu_to_le32(4);
	seg->flags = 0;
	report_eq(blk_req(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, sizeof(*seg), NULL, 0, NULL),
		  VIRTIO_BLK_S_OK, "write-zeroes 4 sectors");
	{
		static const u8 zero[2048];

		check_true(disk_has(path, 8 * 512, zero, sizeof(zero)));
		check_true(disk_has(path, 12 * 512, pattern + 2048, 2048));
		report_checks("zeroed exactly the range on disk");
	}
	seg->sector = cpu_to_le64(12);
	seg->num_sectors = cpu_to_le32(4);
	report_eq(blk_req(&d, VIRTIO_BLK_T_DISCARD, 0, seg, sizeof(*seg), NULL, 0, NULL),
		  VIRTIO_BLK_S_OK, "discard 4 sectors");
	seg->sector = cpu_to_le64(DISK_SIZE / 512);
	report_eq(blk_req(&d, VIRTIO_BLK_T_DISCARD, 0, seg, sizeof(*seg), NULL, 0, NULL),
		  VIRTIO_BLK_S_IOERR, "discard past the end: IOERR");
	report(!vdpa_needs_reset(vdpa), "hostile requests did not break the device");

	/* Many requests in flight in one io_uring batch, then a flush. */
	{
		u8 *bufs, *st;

		check_eq(post_writes(&d, 20, 100, 0x80, &bufs, &st, NULL, NULL), 20);
		check_true(all_bytes(st, 20, VIRTIO_BLK_S_OK));
		report_checks("20 writes published at once");
		check_eq(blk_req(&d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, 0, NULL),
			 VIRTIO_BLK_S_OK);
		check_true(disk_has(path, 119 * 512, bufs + 19 * 512, 512));
		report_checks("all of them on disk after flush");
	}

	blk_down(&d);
out_del:
	vdpa_mgmt_dev_del(vdpa);
out:
	free(path);
	report_prefix_pop();
}

/* Do sectors [@sector, @sector + @n) still hold the image's @fill bytes? */
static bool disk_kept(const char *path, u64 sector, size_t n, u8 fill)
{
	u8 want[8 * 512];

	memset(want, fill, sizeof(want));
	return n * 512 <= sizeof(want) && disk_has(path, (off_t)sector * 512, want, n * 512);
}

/*
 * Discard, write-zeroes and flush are served only when the driver
 * negotiated them (virtio 1.2 §5.2.6.2: UNSUPP otherwise), and a discard or
 * write-zeroes with a bad segment acts on none of its segments, however
 * late the bad one comes. Every case has sectors of its own.
 */
static void test_dwz_checks(void)
{
	char *path = make_image("dwz.img", DISK_SIZE, 0x5a), spec[512];
	const u64 dwz = (1ULL << VIRTIO_BLK_F_DISCARD) |
			(1ULL << VIRTIO_BLK_F_WRITE_ZEROES) |
			(1ULL << VIRTIO_BLK_F_FLUSH);
	struct virtio_blk_discard_write_zeroes *seg;
	struct vdpa_device *vdpa;
	struct vdrv d;
	u8 st;

	report_prefix_push("dwz");
	snprintf(spec, sizeof(spec), "file-blk,path=%s", path);
	if (!report(vdpa_mgmt_dev_add(spec, &vdpa) == 0, "created"))
		goto out;

	if (report(blk_up_with(&d, vdpa, features & ~dwz) == 0,
		   "bring-up without discard, write-zeroes and flush")) {
		seg = vdrv_alloc(&d, sizeof(*seg), 16);
		seg->sector = cpu_to_le64(8);
		seg->num_sectors = cpu_to_le32(4);
		seg->flags = 0;
		st = blk_req(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, sizeof(*seg), NULL, 0, NULL);
		report(st == VIRTIO_BLK_S_UNSUPP,
		       "write-zeroes not negotiated: status %u (want UNSUPP %u)",
		       st, VIRTIO_BLK_S_UNSUPP);
		report(disk_kept(path, 8, 4, 0x5a), "sectors 8..11 not zeroed");
		seg->sector = cpu_to_le64(16);
		st = blk_req(&d, VIRTIO_BLK_T_DISCARD, 0, seg, sizeof(*seg), NULL, 0, NULL);
		report(st == VIRTIO_BLK_S_UNSUPP,
		       "discard not negotiated: status %u (want UNSUPP %u)",
		       st, VIRTIO_BLK_S_UNSUPP);
		report(disk_kept(path, 16, 4, 0x5a), "sectors 16..19 not discarded");
		st = blk_req(&d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, 0, NULL);
		report(st == VIRTIO_BLK_S_UNSUPP,
		       "flush not negotiated: status %u (want UNSUPP %u)",
		       st, VIRTIO_BLK_S_UNSUPP);
		blk_down(&d);
	}

	if (report(blk_up(&d, vdpa) == 0, "bring-up with discard and write-zeroes")) {
		/* Case i: segments 1 and 2 at sectors base and base + 8, 3 bad. */
		struct {
			u32 type;
			bool past_end;
			u32 flags;
			u8 want;
			const char *what;
		} bad[] = {
			{ VIRTIO_BLK_T_WRITE_ZEROES, true, 0,
			  VIRTIO_BLK_S_IOERR, "write-zeroes, segment 3 past the end" },
			{ VIRTIO_BLK_T_DISCARD, true, 0,
			  VIRTIO_BLK_S_IOERR, "discard, segment 3 past the end" },
			{ VIRTIO_BLK_T_WRITE_ZEROES, false, 0x80,
			  VIRTIO_BLK_S_UNSUPP, "write-zeroes, segment 3 with an unknown flag" },
			{ VIRTIO_BLK_T_DISCARD, false, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
			  VIRTIO_BLK_S_UNSUPP, "discard, segment 3 with the unmap flag" },
		};

		seg = vdrv_alloc(&d, 3 * sizeof(*seg), 16);
		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			u64 base = 64 + 32 * i;

			seg[0].sector = cpu_to_le64(base);
			seg[0].num_sectors = cpu_to_le32(4);
			seg[0].flags = 0;
			seg[1].sector = cpu_to_le64(base + 8);
			seg[1].num_sectors = cpu_to_le32(4);
			seg[1].flags = 0;
			seg[2].sector = cpu_to_le64(bad[i].past_end ? DISK_SIZE / 512 : base + 16);
			seg[2].num_sectors = cpu_to_le32(4);
			seg[2].flags = cpu_to_le32(bad[i].flags);
			st = blk_req(&d, bad[i].type, 0, seg, 3 * sizeof(*seg), NULL, 0, NULL);
			report(st == bad[i].want, "%s: status %u (want %u)",
			       bad[i].what, st, bad[i].want);
			report(disk_kept(path, base, 4, 0x5a),
			       "%s: segment 1 (sectors %llu..%llu) untouched", bad[i].what,
			       (unsigned long long)base, (unsigned long long)base + 3);
			report(disk_kept(path, base + 8, 4, 0x5a),
			       "%s: segment 2 (sectors %llu..%llu) untouched", bad[i].what,
			       (unsigned long long)base + 8, (unsigned long long)base + 11);
		}
		report(!vdpa_needs_reset(vdpa), "bad segments did not break the device");
		blk_down(&d);
	}
	vdpa_mgmt_dev_del(vdpa);
out:
	free(path);
	report_prefix_pop();
}

/*
 * A chain with no device-writable byte has nowhere for a status: a broken
 * driver, which gets NEEDS_RESET (virtio 1.2 §2.1.2), not a silent answer.
 */
static void test_no_status(void)
{
	char *path = make_image("nostatus.img", 64 * 512, 0), spec[512];
	struct virtio_blk_outhdr *h;
	struct vdpa_device *vdpa;
	struct vdrv d;

	report_prefix_push("no-status");
	snprintf(spec, sizeof(spec), "file-blk,path=%s", path);
	if (!report(vdpa_mgmt_dev_add(spec, &vdpa) == 0, "created"))
		goto out;
	if (report(blk_up(&d, vdpa) == 0, "bring-up")) {
		h = vdrv_alloc(&d, sizeof(*h), 16);
		h->type = cpu_to_le32(VIRTIO_BLK_T_FLUSH);
		h->ioprio = 0;
		h->sector = 0;
		vdrv_add(&d, 0, &(struct vdrv_sg){ h, sizeof(*h), false }, 1);
		vdrv_publish(&d, 0);
		vdrv_kick(&d, 0);
		report(vdrv_wait_status(&d, VIRTIO_CONFIG_S_NEEDS_RESET, 5000),
		       "a request with no status byte: NEEDS_RESET");
		blk_down(&d);
	}
	vdpa_mgmt_dev_del(vdpa);
out:
	free(path);
	report_prefix_pop();
}

static void test_ro(void)
{
	char *path = make_image("ro.img", 64 * 512, 0x11), spec[512];
	struct vdpa_device *vdpa;
	struct vdrv d;
	u8 *w;

	report_prefix_push("ro");
	snprintf(spec, sizeof(spec), "file-blk,path=%s,ro=on", path);
	if (!report_eq(vdpa_mgmt_dev_add(spec, &vdpa), 0, "created read-only"))
		goto out;
	if (report_eq(blk_up(&d, vdpa), 0, "bring-up")) {
		report(d.features & (1ULL << VIRTIO_BLK_F_RO), "VIRTIO_BLK_F_RO negotiated");
		w = vdrv_alloc(&d, 512, 64);
		memset(w, 0x22, 512);
		report_eq(blk_req(&d, VIRTIO_BLK_T_OUT, 0, w, 512, NULL, 0, NULL),
			  VIRTIO_BLK_S_IOERR, "write refused with IOERR");
		report(disk_has(path, 0, (const u8[]){ 0x11, 0x11 }, 2), "file untouched");
		blk_down(&d);
	}
	vdpa_mgmt_dev_del(vdpa);
out:
	free(path);
	report_prefix_pop();
}

static void test_refused(void)
{
	char *odd = make_image("odd.img", 513, 0), *empty = make_image("empty.img", 0, 0);
	char spec[512];
	struct vdpa_device *vdpa;

	report_prefix_push("refused");
	snprintf(spec, sizeof(spec), "file-blk,path=%s", odd);
	report_err(vdpa_mgmt_dev_add(spec, &vdpa), -EINVAL, "513-byte image refused");
	snprintf(spec, sizeof(spec), "file-blk,path=%s", empty);
	report_err(vdpa_mgmt_dev_add(spec, &vdpa), -EINVAL, "empty image refused");
	snprintf(spec, sizeof(spec), "file-blk,path=%s/missing.img", dir);
	report_err(vdpa_mgmt_dev_add(spec, &vdpa), -ENOENT, "missing image refused");
	report_err(vdpa_mgmt_dev_add("file-blk,ro=on", &vdpa), -EINVAL, "no path refused");
	free(odd);
	free(empty);
	report_prefix_pop();
}

/* A path with ',' and '=' reaches the device through the spec's ",," escape. */
static void test_odd_path(void)
{
	char *img = make_image("a,b=c,.img", 4 * 512, 0x5a);
	char spec[512], esc[256];
	struct vdpa_device *vdpa;
	struct vdrv d;
	u8 *r;

	report_prefix_push("odd path");
	report_eq(vdpa_mgmt_escape(img, esc, sizeof(esc)), 0, "path escaped");
	snprintf(spec, sizeof(spec), "file-blk,path=%s,ro=on", esc);
	if (!report_eq(vdpa_mgmt_dev_add(spec, &vdpa), 0, "created on 'a,b=c,.img'"))
		goto out;
	if (report_eq(blk_up(&d, vdpa), 0, "bring-up")) {
		r = vdrv_alloc(&d, 512, 64);
		report_eq(blk_req(&d, VIRTIO_BLK_T_IN, 3, NULL, 0, r, 512, NULL),
			  VIRTIO_BLK_S_OK, "sector 3 reads");
		report_true(all_bytes(r, 512, 0x5a), "with the file's bytes");
		report_eq(blk_req(&d, VIRTIO_BLK_T_OUT, 0, r, 512, NULL, 0, NULL),
			  VIRTIO_BLK_S_IOERR, "ro=on after the path still applies");
		blk_down(&d);
	}
	vdpa_mgmt_dev_del(vdpa);
	snprintf(spec, sizeof(spec), "file-blk,path=%s", img);
	report_err(vdpa_mgmt_dev_add(spec, &vdpa), -EINVAL,
		   "unescaped, the part after the comma is an unknown attribute");
out:
	free(img);
	report_prefix_pop();
}

static u64 config_capacity(struct vdpa_device *vdpa)
{
	le64 cap = 0;

	vdpa_get_config(vdpa, 0, &cap, sizeof(cap));
	return le64_to_cpu(cap);
}

/* A drive update: a new backing file under a running driver. */
static void test_replace(void)
{
	char *a = make_image("a.img", 8 * 512, 0xaa), *b = make_image("b.img", 16 * 512, 0xbb);
	char *empty = make_image("hole.img", 0, 0), *odd = make_image("odd2.img", 700, 0);
	char spec[512];
	struct vdpa_device *vdpa, *ram;
	struct vdrv d;
	unsigned int irqs;
	u8 *r;

	report_prefix_push("replace");
	snprintf(spec, sizeof(spec), "file-blk,path=%s,allow_empty=on", empty);
	if (report_eq(vdpa_mgmt_dev_add(spec, &vdpa), 0, "allow_empty=on: an empty file is a disk")) {
		report_eq(config_capacity(vdpa), 0, "of 0 sectors");
		vdpa_mgmt_dev_del(vdpa);
	}
	snprintf(spec, sizeof(spec), "file-blk,path=%s", a);
	if (!report_eq(vdpa_mgmt_dev_add(spec, &vdpa), 0, "created on a.img"))
		goto out;
	if (report_eq(blk_up(&d, vdpa), 0, "bring-up")) {
		r = vdrv_alloc(&d, 512, 64);
		irqs = __atomic_load_n(&d.config_irqs, __ATOMIC_RELAXED);
		report_eq(config_capacity(vdpa), 8, "8 sectors before");
		report_eq(vdpa_file_blk_replace(vdpa, b), 0, "replaced by b.img");
		check_eq(config_capacity(vdpa), 16);
		check_eq(__atomic_load_n(&d.config_irqs, __ATOMIC_RELAXED), irqs + 1);
		report_checks("16 sectors after, with one config interrupt");
		report_eq(blk_req(&d, VIRTIO_BLK_T_IN, 12, NULL, 0, r, 512, NULL),
			  VIRTIO_BLK_S_OK, "sector 12 (past a.img's end) reads");
		report_true(all_bytes(r, 512, 0xbb), "with b.img's bytes");
		snprintf(spec, sizeof(spec), "%s/missing.img", dir);
		report_err(vdpa_file_blk_replace(vdpa, spec), -ENOENT, "a missing file is refused");
		report_err(vdpa_file_blk_replace(vdpa, odd), -EINVAL, "so is a 700-byte file");
		report_err(vdpa_file_blk_replace(vdpa, empty), -EINVAL,
			   "and an empty one without allow_empty=on");
		check_eq(config_capacity(vdpa), 16);
		check_eq(blk_req(&d, VIRTIO_BLK_T_IN, 0, NULL, 0, r, 512, NULL), VIRTIO_BLK_S_OK);
		check_true(all_bytes(r, 512, 0xbb));
		report_checks("after a refusal the device keeps b.img");
		blk_down(&d);
	}
	vdpa_mgmt_dev_del(vdpa);
	if (!vdpa_mgmt_dev_add("blk,capacity=64K", &ram)) {
		report_err(vdpa_file_blk_replace(ram, b), -EINVAL, "not a file-blk device: -EINVAL");
		vdpa_mgmt_dev_del(ram);
	}
out:
	free(a);
	free(b);
	free(empty);
	free(odd);
	report_prefix_pop();
}

/*
 * DISCARD and WRITE_ZEROES go through io_uring, held like reads: 20
 * requests of 16 segments each in flight at once (more SQEs than the
 * ring's SQ holds, so some go to the kernel while others are prepared),
 * alternating write-zeroes (every other segment with UNMAP) and discards.
 * Each write-zeroes segment must read back as zeroes and the sectors
 * between segments keep the image's bytes. On @where's file system:
 * ext4 zeroes ranges with fallocate; tmpfs cannot (ZERO_RANGE), so there
 * the backend writes the zeroes.
 */
#define DWZ_REQS	20
#define DWZ_STRIDE	96	/* sectors per request: 16 segments of 3, gaps of 3 */

static void test_dwz_batch(const char *where, const char *fs)
{
	char *path = make_image_at(where, "dwz.img", DISK_SIZE, 0x5a), spec[512];
	struct virtio_blk_discard_write_zeroes *segs;
	struct virtio_blk_outhdr *hs;
	struct vdpa_device *vdpa;
	unsigned int done, bad = 0;
	struct vdrv d;
	u8 *st;

	report_prefix_push(fs);
	snprintf(spec, sizeof(spec), "file-blk,path=%s", path);
	if (!report_eq(vdpa_mgmt_dev_add(spec, &vdpa), 0, "created"))
		goto out;
	if (!report_eq(blk_up(&d, vdpa), 0, "bring-up"))
		goto out_del;
	segs = vdrv_alloc(&d, DWZ_REQS * BLK_DWZ_SEGS * sizeof(*segs), 16);
	hs = vdrv_alloc(&d, DWZ_REQS * sizeof(*hs), 16);
	st = vdrv_alloc(&d, DWZ_REQS, 1);
	for (unsigned int i = 0; i < DWZ_REQS; i++) {
		struct virtio_blk_discard_write_zeroes *r = &segs[i * BLK_DWZ_SEGS];
		bool wz = !(i & 1);
		struct vdrv_sg sg[3] = {
			{ &hs[i], sizeof(hs[i]), false },
			{ r, BLK_DWZ_SEGS * sizeof(*r), false },
			{ &st[i], 1, true },
		};

		hs[i].type = cpu_to_le32(wz ? VIRTIO_BLK_T_WRITE_ZEROES : VIRTIO_BLK_T_DISCARD);
		hs[i].ioprio = 0;
		hs[i].sector = 0;
		for (unsigned int j = 0; j < BLK_DWZ_SEGS; j++) {
			r[j].sector = cpu_to_le64(i * DWZ_STRIDE + j * 6);
			r[j].num_sectors = cpu_to_le32(3);
			r[j].flags = cpu_to_le32(wz && (j & 1) ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0);
		}
		st[i] = 0xee;
		vdrv_add(&d, 0, sg, 3);
	}
	done = kick_and_wait(&d, DWZ_REQS);
	check_eq(done, DWZ_REQS);
	check_true(all_bytes(st, DWZ_REQS, VIRTIO_BLK_S_OK));
	check_false(vdpa_needs_reset(vdpa));
	report_checks("%u requests of %u segments completed, all OK", DWZ_REQS, BLK_DWZ_SEGS);
	for (unsigned int i = 0; i < DWZ_REQS; i += 2) {
		static const u8 zero[3 * 512];

		for (unsigned int j = 0; j < BLK_DWZ_SEGS; j++) {
			u64 sector = i * DWZ_STRIDE + j * 6;

			bad += !disk_has(path, (off_t)sector * 512, zero, sizeof(zero));
			bad += !disk_kept(path, sector + 3, 3, 0x5a);
		}
	}
	report_eq(bad, 0, "every write-zeroes segment reads as zeroes, the gaps kept their bytes");
	blk_down(&d);
out_del:
	vdpa_mgmt_dev_del(vdpa);
out:
	unlink(path);
	free(path);
	report_prefix_pop();
}

/* 512-byte units the file system holds for @path (-1: cannot stat). */
static long long disk_blocks(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long long)st.st_blocks;
}

/* Whether a file in @where can have a hole punched into it. */
static bool can_punch_holes(const char *where)
{
	char *path = make_image_at(where, "punch.img", 8192, 1);
	int fd = open(path, O_RDWR);
	bool ok = fd >= 0 &&
		  !fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096);

	if (fd >= 0)
		close(fd);
	unlink(path);
	free(path);
	return ok;
}

/*
 * What each of DISCARD and WRITE_ZEROES does to the image, told apart by
 * its allocated blocks (the FALLOCATE mode io_uring ran): a discard of 128
 * KiB punches a hole (the file holds 256 fewer 512-byte units), a
 * write-zeroes with UNMAP too and reads back as zeroes, a write-zeroes
 * without it zeroes the range and keeps it allocated. On the test
 * directory's file system; skipped where it cannot punch holes.
 */
#define DWZ_RANGE	256	/* sectors: 128 KiB, whole file system blocks */

static void test_dwz_blocks(void)
{
	char *path = make_image("blocks.img", DISK_SIZE, 0x5a), spec[512];
	struct virtio_blk_discard_write_zeroes *seg;
	static const u8 zero[DWZ_RANGE * 512];
	struct vdpa_device *vdpa;
	long long before, after;
	struct vdrv d;
	u8 *in;

	report_prefix_push("dwz blocks");
	if (!can_punch_holes(dir)) {
		report_skip("%s's file system cannot punch holes (fallocate)", dir);
		goto out;
	}
	snprintf(spec, sizeof(spec), "file-blk,path=%s", path);
	if (!report_eq(vdpa_mgmt_dev_add(spec, &vdpa), 0, "created"))
		goto out;
	if (!report_eq(blk_up(&d, vdpa), 0, "bring-up"))
		goto out_del;
	seg = vdrv_alloc(&d, sizeof(*seg), 16);
	in = vdrv_alloc(&d, sizeof(zero), 64);

	before = disk_blocks(path);
	*seg = (struct virtio_blk_discard_write_zeroes){
		.sector = cpu_to_le64(0), .num_sectors = cpu_to_le32(DWZ_RANGE),
	};
	report_eq(blk_req(&d, VIRTIO_BLK_T_DISCARD, 0, seg, sizeof(*seg), NULL, 0, NULL),
		  VIRTIO_BLK_S_OK, "discard of 128 KiB");
	after = disk_blocks(path);
	report(before - after >= DWZ_RANGE, "discard punched a hole: %lld -> %lld blocks",
	       before, after);

	before = after;
	*seg = (struct virtio_blk_discard_write_zeroes){
		.sector = cpu_to_le64(DWZ_RANGE), .num_sectors = cpu_to_le32(DWZ_RANGE),
		.flags = cpu_to_le32(VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
	};
	check_eq(blk_req(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, sizeof(*seg), NULL, 0, NULL),
		 VIRTIO_BLK_S_OK);
	after = disk_blocks(path);
	check_true(before - after >= DWZ_RANGE);
	check_eq(blk_req(&d, VIRTIO_BLK_T_IN, DWZ_RANGE, NULL, 0, in, sizeof(zero), NULL),
		 VIRTIO_BLK_S_OK);
	check_true(!memcmp(in, zero, sizeof(zero)));
	report_checks("write-zeroes with UNMAP deallocates (%lld -> %lld blocks) and reads zeroes",
		      before, after);

	before = after;
	seg->sector = cpu_to_le64(2 * DWZ_RANGE);
	seg->flags = 0;
	check_eq(blk_req(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, sizeof(*seg), NULL, 0, NULL),
		 VIRTIO_BLK_S_OK);
	check_eq(disk_blocks(path), before);
	check_true(disk_has(path, 2 * DWZ_RANGE * 512, zero, sizeof(zero)));
	check_true(disk_kept(path, 3 * DWZ_RANGE, 8, 0x5a));
	report_checks("write-zeroes without UNMAP keeps the blocks, zeroes them, stops at the range");
	blk_down(&d);
out_del:
	vdpa_mgmt_dev_del(vdpa);
out:
	unlink(path);
	free(path);
	report_prefix_pop();
}

/*
 * With io=uring, more requests at once than the device holds (BLK_QD, 64): the first 64
 * go to io_uring, the rest wait in the ring and are taken, in the same
 * pass, as the first ones end. All 80 writes complete OK, each exactly
 * once, and each is in the file.
 */
#define MANY_REQS	80

static void test_many_held(void)
{
	char *path = make_image("many.img", DISK_SIZE, 0), spec[512];
	struct vdpa_device *vdpa;
	unsigned int bad = 0, done;
	bool seen[256] = { false };
	struct vdrv d;
	u8 *bufs, *st;

	report_prefix_push("many held");
	/* Held writes: io_uring's (io=map writes cached blocks at once). */
	snprintf(spec, sizeof(spec), "file-blk,path=%s,io=uring", path);
	ring_num = 256;
	if (!report_eq(vdpa_mgmt_dev_add(spec, &vdpa), 0, "created"))
		goto out;
	if (!report_eq(blk_up(&d, vdpa), 0, "bring-up, 256-entry ring"))
		goto out_del;
	done = post_writes(&d, MANY_REQS, 200, 0x10, &bufs, &st, seen, &bad);
	check_eq(done, MANY_REQS);
	check_eq(bad, 0);
	check_true(all_bytes(st, MANY_REQS, VIRTIO_BLK_S_OK));
	report_checks("%u writes at once: each completed once, all OK", MANY_REQS);
	for (unsigned int i = 0; i < MANY_REQS; i++)
		bad += !disk_has(path, (200 + i) * 512, bufs + i * 512, 512);
	report_eq(bad, 0, "each is in the file");
	blk_down(&d);
out_del:
	vdpa_mgmt_dev_del(vdpa);
out:
	ring_num = NUM;
	free(path);
	report_prefix_pop();
}

/*
 * Reads posted at once reach the driver a burst at a time: the device
 * starts every BLK_BURST (16) it takes and publishes, with an interrupt,
 * those already done, while it goes on taking the rest; a driver waiting
 * for interrupts refills behind it instead of waiting for the whole round.
 * With io=uring, 48 reads from the page cache (the image was just written): one
 * interrupt a burst, so more than one (without EVENT_IDX, which would
 * leave interrupts to the driver's used_event), and every read has the
 * image's bytes.
 */
#define BURST_REQS	48

static void test_read_bursts(void)
{
	char *path = make_image("bursts.img", DISK_SIZE, 0x6b), spec[512];
	struct virtio_blk_outhdr *hs;
	struct vdpa_device *vdpa;
	unsigned int done, irqs;
	struct vdrv d;
	u8 *bufs, *st;

	report_prefix_push("read bursts");
	/* Held reads: io_uring's (io=map serves these at once, as the RAM disk). */
	snprintf(spec, sizeof(spec), "file-blk,path=%s,io=uring", path);
	ring_num = 256;
	if (!report_eq(vdpa_mgmt_dev_add(spec, &vdpa), 0, "created"))
		goto out;
	if (!report_eq(blk_up_with(&d, vdpa, features & ~VRINGH_F_EVENT_IDX), 0,
		       "bring-up without EVENT_IDX, 256-entry ring"))
		goto out_del;
	hs = vdrv_alloc(&d, BURST_REQS * sizeof(*hs), 16);
	bufs = vdrv_alloc(&d, BURST_REQS * 512, 64);
	st = vdrv_alloc(&d, BURST_REQS, 1);
	for (unsigned int i = 0; i < BURST_REQS; i++) {
		struct vdrv_sg sg[3] = {
			{ &hs[i], sizeof(hs[i]), false },
			{ bufs + i * 512, 512, true },
			{ st + i, 1, true },
		};

		hs[i].type = cpu_to_le32(VIRTIO_BLK_T_IN);
		hs[i].ioprio = 0;
		hs[i].sector = cpu_to_le64(i * 7);
		st[i] = 0xee;
		vdrv_add(&d, 0, sg, 3);
	}
	done = kick_and_wait(&d, BURST_REQS);
	irqs = __atomic_load_n(&d.vqs[0].irqs, __ATOMIC_RELAXED);
	check_eq(done, BURST_REQS);
	check_true(all_bytes(st, BURST_REQS, VIRTIO_BLK_S_OK));
	check_true(all_bytes(bufs, BURST_REQS * 512, 0x6b));
	report_checks("%u reads at once: all OK, each with the image's bytes", BURST_REQS);
	report(irqs > 1, "completions published a burst at a time: %u interrupts for %u reads",
	       irqs, BURST_REQS);
	blk_down(&d);
out_del:
	vdpa_mgmt_dev_del(vdpa);
out:
	ring_num = NUM;
	free(path);
	report_prefix_pop();
}


/* Read @len bytes at @sector through the device; Return: its status. */
static u8 read_at(struct vdrv *d, u64 sector, u8 *buf, u32 len)
{
	memset(buf, 0xee, len);
	return blk_req(d, VIRTIO_BLK_T_IN, sector, NULL, 0, buf, len, NULL);
}

/* One DISCARD or WRITE_ZEROES segment; Return: its status. */
static u8 dwz_one(struct vdrv *d, u32 type, u64 sector, u32 nsec)
{
	struct virtio_blk_discard_write_zeroes *seg = vdrv_alloc(d, sizeof(*seg), 16);

	seg->sector = cpu_to_le64(sector);
	seg->num_sectors = cpu_to_le32(nsec);
	seg->flags = 0;
	return blk_req(d, type, 0, seg, sizeof(*seg), NULL, 0, NULL);
}

/*
 * io=map (the default) reads what the page cache holds from a mapping of
 * the image, and writes it with pwrite. What it reads must be what
 * io_uring would: the file's bytes
 * after the device's own writes, after another process's pwrite(), after
 * a write-zeroes and a discard (FALLOCATE, which drops the cached pages
 * under the mapping), and after a read made the chunk known warm first.
 * Reads of a cold image (evicted with POSIX_FADV_DONTNEED) still return
 * its bytes, through io_uring.
 */
static void test_map_coherent(const char *io)
{
	char *path = make_image("map.img", DISK_SIZE, 0x5a), spec[512];
	struct vdpa_device *vdpa;
	u8 *w, *r, other[4096];
	struct vdrv d;
	int fd;

	report_prefix_push(*io ? "map coherent, io=uring" : "map coherent");
	snprintf(spec, sizeof(spec), "file-blk,path=%s%s", path, io);
	if (!report_eq(vdpa_mgmt_dev_add(spec, &vdpa), 0, "created"))
		goto out;
	if (!report_eq(blk_up(&d, vdpa), 0, "bring-up"))
		goto out_del;
	w = vdrv_alloc(&d, 4096, 64);
	r = vdrv_alloc(&d, 4096, 64);

	/* Cold: the image's pages dropped from the page cache first. */
	fd = open(path, O_RDWR);
	check_true(fd >= 0 && !fdatasync(fd) && !posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
	check_eq(read_at(&d, 64, r, 4096), VIRTIO_BLK_S_OK);
	check_true(all_bytes(r, 4096, 0x5a));
	report_checks("a read of the cold image has its bytes");
	check_eq(read_at(&d, 64, r, 4096), VIRTIO_BLK_S_OK);
	check_true(all_bytes(r, 4096, 0x5a));
	report_checks("read again (now cached) the same");

	memset(w, 0xc3, 4096);
	check_eq(blk_req(&d, VIRTIO_BLK_T_OUT, 64, w, 4096, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	check_eq(read_at(&d, 64, r, 4096), VIRTIO_BLK_S_OK);
	check_true(all_bytes(r, 4096, 0xc3));
	report_checks("the device's write, read back");

	memset(other, 0x3c, sizeof(other));
	check_true(fd >= 0 && pwrite(fd, other, sizeof(other), 64 * 512) == sizeof(other));
	check_eq(read_at(&d, 64, r, 4096), VIRTIO_BLK_S_OK);
	check_true(all_bytes(r, 4096, 0x3c));
	report_checks("another process's pwrite(), read back");

	check_eq(dwz_one(&d, VIRTIO_BLK_T_WRITE_ZEROES, 66, 4), VIRTIO_BLK_S_OK);
	check_eq(read_at(&d, 64, r, 4096), VIRTIO_BLK_S_OK);
	check_true(all_bytes(r, 1024, 0x3c) && all_bytes(r + 1024, 2048, 0) &&
		   all_bytes(r + 3072, 1024, 0x3c));
	report_checks("write-zeroes of the middle 2 KiB, read back");

	check_eq(blk_req(&d, VIRTIO_BLK_T_OUT, 64, w, 4096, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	check_eq(read_at(&d, 64, r, 4096), VIRTIO_BLK_S_OK);
	check_eq(dwz_one(&d, VIRTIO_BLK_T_DISCARD, 64, 8), VIRTIO_BLK_S_OK);
	check_eq(read_at(&d, 64, r, 4096), VIRTIO_BLK_S_OK);
	/* A file system that cannot punch holes keeps the bytes (a hint). */
	check_true(all_bytes(r, 4096, 0) || (!can_punch_holes(dir) && all_bytes(r, 4096, 0xc3)));
	report_checks("discard of a 4 KiB block, read back (zeroes where holes are punched)");

	/* Writes to a cold chunk (held for io_uring), then read back. */
	check_true(fd >= 0 && !posix_fadvise(fd, 256 << 10, 64 << 10, POSIX_FADV_DONTNEED));
	memset(w, 0xa5, 4096);
	check_eq(blk_req(&d, VIRTIO_BLK_T_OUT, (256 << 10) / 512, w, 4096, NULL, 0, NULL),
		 VIRTIO_BLK_S_OK);
	check_eq(blk_req(&d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	check_true(disk_has(path, 256 << 10, w, 4096));
	check_eq(read_at(&d, (256 << 10) / 512, r, 4096), VIRTIO_BLK_S_OK);
	check_true(all_bytes(r, 4096, 0xa5));
	report_checks("a write to a cold chunk: in the file after a flush, and read back");

	/* A read spanning two 64 KiB chunks, one cold. */
	check_true(fd >= 0 && !posix_fadvise(fd, 128 << 10, 64 << 10, POSIX_FADV_DONTNEED));
	check_eq(read_at(&d, (128 << 10) / 512 - 4, r, 4096), VIRTIO_BLK_S_OK);
	check_true(all_bytes(r, 4096, 0x5a));
	report_checks("a read across a warm and a cold chunk");
	report(!vdpa_needs_reset(vdpa), "the device is fine");
	if (fd >= 0)
		close(fd);
	blk_down(&d);
out_del:
	vdpa_mgmt_dev_del(vdpa);
out:
	free(path);
	report_prefix_pop();
}

/*
 * Hostile images under io=map. One truncated under the mapping: a read
 * of a block past the new end (known warm, so copied from the mapping)
 * faults with SIGBUS; the device must fail it, need a reset and keep the
 * process alive, and after the reset read what is left. One of 9 sectors
 * (not a multiple of the page size): the last sector reads its bytes. A
 * read-only image, opened and mapped read-only: reads work, writes are
 * refused, and a change made by another process is read back.
 */
static void test_map_hostile(void)
{
	char *path = make_image("shrink.img", DISK_SIZE, 0x77), spec[512];
	char *odd = make_image("odd9.img", 9 * 512, 0x99);
	char *ro = make_image("mapro.img", 64 << 10, 0x44);
	struct vdpa_device *vdpa;
	struct vdrv d;
	u8 *r;

	report_prefix_push("map hostile");
	snprintf(spec, sizeof(spec), "file-blk,path=%s", path);
	if (report_eq(vdpa_mgmt_dev_add(spec, &vdpa), 0, "created on a 1 MiB image")) {
		if (report_eq(blk_up(&d, vdpa), 0, "bring-up")) {
			r = vdrv_alloc(&d, 4096, 64);
			check_eq(read_at(&d, 1024, r, 4096), VIRTIO_BLK_S_OK);
			check_true(all_bytes(r, 4096, 0x77));
			report_checks("block at 512 KiB reads");
			report(!truncate(path, 256 << 10), "image truncated to 256 KiB under the device");
			report_eq(read_at(&d, 1024, r, 4096), VIRTIO_BLK_S_IOERR,
				  "the block past the new end: IOERR");
			report(vdrv_wait_status(&d, VIRTIO_CONFIG_S_NEEDS_RESET, 5000),
			       "and the device needs a reset (the process lives)");
			blk_down(&d);
		}
		if (report_eq(blk_up(&d, vdpa), 0, "bring-up after the reset")) {
			r = vdrv_alloc(&d, 4096, 64);
			check_eq(read_at(&d, 8, r, 4096), VIRTIO_BLK_S_OK);
			check_true(all_bytes(r, 4096, 0x77));
			check_false(vdpa_needs_reset(vdpa));
			report_checks("a block inside what is left reads");
			blk_down(&d);
		}
		vdpa_mgmt_dev_del(vdpa);
	}

	snprintf(spec, sizeof(spec), "file-blk,path=%s", odd);
	if (report_eq(vdpa_mgmt_dev_add(spec, &vdpa), 0, "created on a 4608-byte image")) {
		if (report_eq(blk_up(&d, vdpa), 0, "bring-up")) {
			r = vdrv_alloc(&d, 4096, 64);
			check_eq(read_at(&d, 8, r, 512), VIRTIO_BLK_S_OK);
			check_true(all_bytes(r, 512, 0x99));
			check_eq(read_at(&d, 6, r, 1536), VIRTIO_BLK_S_OK);
			check_true(all_bytes(r, 1536, 0x99));
			report_checks("the last sectors, in the image's last page, read");
			report_eq(read_at(&d, 9, r, 512), VIRTIO_BLK_S_IOERR, "the one past: IOERR");
			report(!vdpa_needs_reset(vdpa), "the device is fine");
			blk_down(&d);
		}
		vdpa_mgmt_dev_del(vdpa);
	}

	snprintf(spec, sizeof(spec), "file-blk,path=%s,ro=on", ro);
	if (report_eq(vdpa_mgmt_dev_add(spec, &vdpa), 0, "created on a read-only image")) {
		if (report_eq(blk_up(&d, vdpa), 0, "bring-up")) {
			u8 other[512];
			int fd = open(ro, O_WRONLY);

			r = vdrv_alloc(&d, 4096, 64);
			check_eq(read_at(&d, 0, r, 4096), VIRTIO_BLK_S_OK);
			check_true(all_bytes(r, 4096, 0x44));
			memset(other, 0x45, sizeof(other));
			check_true(fd >= 0 && pwrite(fd, other, sizeof(other), 512) == sizeof(other));
			check_eq(read_at(&d, 0, r, 4096), VIRTIO_BLK_S_OK);
			check_true(all_bytes(r, 512, 0x44) && all_bytes(r + 512, 512, 0x45));
			check_eq(blk_req(&d, VIRTIO_BLK_T_OUT, 0, r, 512, NULL, 0, NULL),
				 VIRTIO_BLK_S_IOERR);
			report_checks("reads, sees another process's write, refuses its own");
			if (fd >= 0)
				close(fd);
			blk_down(&d);
		}
		vdpa_mgmt_dev_del(vdpa);
	}
	report_err(vdpa_mgmt_dev_add("file-blk,path=/dev/null,io=mmap", &vdpa), -EINVAL,
		   "io=mmap: refused (map or uring)");
	free(path);
	free(odd);
	free(ro);
	report_prefix_pop();
}

int main(void)
{
	int ret;

	if (!mkdtemp(dir))
		return 1;
	if (vdpa_register_types()) {
		report(false, "register device types");
		return report_summary();
	}
	test_rw();
	test_many_held();
	test_read_bursts();
	test_dwz_batch(dir, "dwz batch");
	test_dwz_blocks();
	{
		char shm[] = "/dev/shm/kestrel-fblk-XXXXXX";

		if (mkdtemp(shm)) {
			test_dwz_batch(shm, "dwz batch, tmpfs (zeroes written)");
			rmdir(shm);
		} else {
			report_skip("no /dev/shm: the written-zeroes path is not run");
		}
	}
	test_dwz_checks();
	test_no_status();
	test_ro();
	test_refused();
	test_odd_path();
	test_replace();
	test_map_coherent("");
	test_map_coherent(",io=uring");
	test_map_hostile();
	ret = report_summary();
	if (fork() == 0)
		execlp("rm", "rm", "-rf", dir, (char *)NULL);
	return ret;
}
