// SPDX-License-Identifier: GPL-2.0-only
/*
 * The file backend of the blk class, type "file-blk": virtio-blk over a
 * regular file or a block device, through a mapping of it and io_uring.
 *
 * Reads (io=map, the default). The image is mapped shared and read-only,
 * and a read whose pages the page cache holds is copied from the mapping
 * into the guest's buffers at once, on the worker, as the RAM disk does:
 * no syscall, where an io_uring read of the same cached page costs about
 * 1 us of the kernel's own (filemap_read(), pinning the buffer), more
 * than the copy. Which pages are cached: a read that touches a 64 KiB
 * chunk not known "warm" asks mincore() about the chunk (about 1 us); a
 * chunk found whole is warm from then on, and its reads ask nothing. A
 * read that touches a chunk not found whole goes through io_uring as
 * below, so a page the kernel must read from the disk never stops the
 * worker (a major fault would): the queue keeps going while it is read. Warm is a hint: a page the kernel evicts later (memory
 * pressure) is read back by a fault on the worker, once. The cost of the
 * mapping: the image's cached pages it touched count in the process's RSS
 * (as shared file pages), and its page tables grow with them (8 bytes a
 * page). mincore() sees another's cached pages only in a file this
 * process owns or may write (the kernel's rule): for a read-only image of
 * someone else's, a chunk is warm only once mapped, so its reads stay
 * io_uring's. The page cache is one: writes, FALLOCATE's holes and zeroes
 * (which unmap what they drop) and other processes' writes are seen by
 * the next read. A page that vanishes under the copy (the file shrank
 * below the disk's size) raises SIGBUS: the copy ends instead
 * (swdev_copy_guarded()), the read fails and the device needs a reset.
 * Writes (io=map) to warm chunks are one pwrite on the worker, ended at
 * once: a buffered io_uring write is handed to one of io_uring's worker
 * threads (ext4 has no non-blocking buffered write), about 3x the CPU of
 * the pwrite itself; a write into the page cache blocks only where the
 * kernel throttles a writer of too many dirty pages. Not a store into
 * the mapping: a store into a hole allocates in a fault, which a full
 * file system answers with SIGBUS, where a write gets -ENOSPC and the
 * request IOERR. Writes to other chunks are held for io_uring. io=uring
 * sends every read and write through io_uring (the trade: a cold page
 * costs the worker nothing either way, a cached one costs the kernel's
 * read, and a write an io_uring worker's wake-up).
 *
 * Everything else becomes io_uring submissions whose buffers point
 * straight at the guest's (no bounce copy); the class holds their chains.
 * Every BLK_BURST requests the class takes, reap prepares their SQEs, in
 * the order they came, hands them to the kernel and ends, without
 * waiting, those already done: a read from the page cache ends inside the
 * submission, so the class publishes it (and interrupts) while the pass
 * goes on taking the chains the driver adds behind it; the queue does not
 * drain to 0 before it refills. When the ring is empty, or BLK_QD requests
 * are held, reap waits until one request ended and ends every one whose
 * completions are there (blk.c: the pass ends when nothing is held, with
 * a reap of everything). The SQ goes to the kernel whenever it is full,
 * without waiting. A one-segment request is IORING_OP_READ / _WRITE (the
 * kernel takes the buffer as is; a vector it copies in and checks). A lone
 * read or write (queue depth 1) is one pread/pwrite instead: the same one
 * syscall, without io_uring's own work, and a buffered write is not passed
 * to an io_uring worker thread. A flush carries IOSQE_IO_DRAIN, so it
 * starts only after every write submitted before it completed: FLUSH is
 * an fdatasync of everything the driver saw completed (virtio 1.2
 * §5.2.6.2). DISCARD and WRITE_ZEROES are held the same way, one
 * IORING_OP_FALLOCATE per segment (punch a hole, or zero a range); a
 * request ends when its last segment did. Where the file system cannot
 * zero a range that way, reap writes the zeroes.
 *
 * The image is opened read-write unless ro=on, must be a non-zero multiple
 * of 512 bytes (an empty file too with allow_empty=on: a disk of 0
 * sectors, as the placeholders an orchestrator fills later), and is locked
 * (flock: shared if ro, else exclusive) so that two processes never write
 * one image. Attributes: path, ro, serial (default: the file's name, its
 * first 20 bytes), allow_empty, io (map or uring), and the rate limit of
 * blk.h (bw_*, ops_*).
 *
 * vdpa_file_blk_replace() swaps the backing file of a running device (a
 * drive update through the API): under the device lock, where no request
 * is in flight, the new file (and its mapping) takes the old one's place,
 * the capacity follows it, and the driver gets a config-change interrupt.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/virtio_ids.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/vdpa-dev.h>

#include "../devices.h"
#include "blk.h"

/*
 * The mapped read path's unit: a chunk of the image whose pages mincore()
 * found all in the page cache is read from the mapping from then on.
 * 64 KiB: the kernel's fault-around, which maps the neighbours of a
 * faulted page up to that size at once.
 */
#define BLK_FILE_CHUNK_SHIFT		16
#define BLK_FILE_CHUNK			(1ull << BLK_FILE_CHUNK_SHIFT)
/* Pages per chunk at most (mincore()'s vector): 4 KiB pages. */
#define BLK_FILE_CHUNK_PAGES		(BLK_FILE_CHUNK / 4096)

/* How reads and writes reach the image (io=). */
enum blk_file_io {
	BLK_FILE_IO_MAP,	/* cached: from the mapping, or a pwrite */
	BLK_FILE_IO_URING,	/* every one through io_uring */
};

/**
 * struct blk_file_map - the image mapped for reads (io=map)
 * @base: MAP_SHARED, PROT_READ, of the whole image; NULL: none
 * @len: its length (the image's, rounded up to pages)
 * @page: the page size
 * @warm: bit i set: every page of chunk i was in the page cache when
 *	last looked at (a hint: the kernel may evict one since; reading it
 *	then faults it in on the worker)
 */
struct blk_file_map {
	u8 *base;
	size_t len;
	size_t page;
	unsigned long *warm;
};

/* Per-segment limit of discard / write-zeroes: 2 GiB. */
#define BLK_FILE_DWZ_SECTORS_MAX	(1u << 22)

/**
 * struct blk_file_req - a request the backend holds (slot blk_req.tag)
 * @req: the request as the class gave it
 * @iov: its data segments, host pointers into guest memory
 * @niov: segments in @iov
 * @dwz: a DISCARD / WRITE_ZEROES request's segments
 * @ndwz: entries in @dwz
 * @op: BLK_FILE_*
 * @pending: its SQEs whose completion was not reaped yet
 * @failed: one of them failed
 * @queued: held: taken from the ring, not ended yet
 */
struct blk_file_req {
	struct blk_req req;
	struct iovec iov[BLK_SEG_MAX];
	unsigned int niov;
	struct blk_dwz dwz[BLK_DWZ_SEG_MAX];
	unsigned int ndwz;
	u8 op;
	unsigned int pending;
	bool failed;
	bool queued;
};

/* What a held request does. */
enum {
	BLK_FILE_READ,
	BLK_FILE_WRITE,
	BLK_FILE_FLUSH,
	BLK_FILE_DWZ,
};

/*
 * An SQE's user data: the request's tag, and for a DISCARD / WRITE_ZEROES
 * the segment it serves.
 */
#define BLK_FILE_DATA(tag, seg)		((u64)(tag) | (u64)(seg) << 8)
#define BLK_FILE_DATA_TAG(d)		((d) & 0xff)
#define BLK_FILE_DATA_SEG(d)		(((d) >> 8) & 0xff)

/*
 * SQ entries: a read, write or flush takes one, a DISCARD / WRITE_ZEROES
 * one per segment (the SQ is submitted when it has no room left for a
 * request). CQ entries: every SQE BLK_QD requests can have outstanding.
 */
#define BLK_FILE_SQ_ENTRIES		(2 * BLK_QD)
#define BLK_FILE_CQ_ENTRIES		(BLK_QD * BLK_DWZ_SEG_MAX)

/**
 * struct blk_file - a file-backed disk (swdev.lock for the mutable parts)
 * @blk: the blk class (first: freed through it)
 * @fd: the backing file or device
 * @ring: io_uring instance
 * @ring_ok: @ring initialised
 * @nunprep: requests held and not prepared yet
 * @unprep: their tags, in the order they came
 * @queued: SQEs prepared whose completions were not reaped
 * @reqs: the requests held, by tag
 * @allow_empty: a 0-byte file is a disk (allow_empty=on)
 * @io: BLK_FILE_IO_*
 * @map: the image's mapping (io=map), replaced with @fd
 */
struct blk_file {
	struct blk_dev blk;
	bool allow_empty;
	u32 io;
	int fd;
	struct blk_file_map map;
	struct io_uring ring;
	bool ring_ok;
	unsigned int nunprep;
	u16 unprep[BLK_QD];
	unsigned int queued;
	struct blk_file_req reqs[BLK_QD];
	/* The image's identity, on blk_files while @listed (blk_files_lock). */
	dev_t img_dev;
	ino_t img_ino;
	bool listed;
	struct blk_file *next;
};

/*
 * Every file-blk device's image, so that an image opened twice by this
 * process is told apart from one another process locked. A list, not a
 * scan of /proc/self/fd: Landlock may not let the process read /proc.
 */
static pthread_mutex_t blk_files_lock = PTHREAD_MUTEX_INITIALIZER;
static struct blk_file *blk_files;

static bool blk_file_is_ours(const struct stat *st)
{
	bool found = false;

	pthread_mutex_lock(&blk_files_lock);
	for (struct blk_file *o = blk_files; o && !found; o = o->next)
		found = o->img_dev == st->st_dev && o->img_ino == st->st_ino;
	pthread_mutex_unlock(&blk_files_lock);
	return found;
}

/* @f's image is now the file behind @fd: list it under that identity. */
static void blk_file_track(struct blk_file *f, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return;
	pthread_mutex_lock(&blk_files_lock);
	f->img_dev = st.st_dev;
	f->img_ino = st.st_ino;
	if (!f->listed) {
		f->next = blk_files;
		blk_files = f;
		f->listed = true;
	}
	pthread_mutex_unlock(&blk_files_lock);
}

static void blk_file_untrack(struct blk_file *f)
{
	pthread_mutex_lock(&blk_files_lock);
	for (struct blk_file **pp = &blk_files; f->listed && *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			f->listed = false;
			break;
		}
	}
	pthread_mutex_unlock(&blk_files_lock);
}

static struct blk_file *to_blk_file(struct blk_dev *blk)
{
	return container_of(blk, struct blk_file, blk);
}

/*
 * Copy @len bytes of @src's segments, from its cursor, into @r.
 * Return: 0, or -E2BIG when more than BLK_SEG_MAX segments are needed.
 */
static int blk_file_take_iov(struct blk_file_req *r, const struct vringh_iov *src,
			     size_t len)
{
	size_t off = src->off;

	r->niov = 0;
	for (unsigned int i = src->i; i < src->used && len; i++, off = 0) {
		size_t n = MIN(src->iov[i].iov_len - off, len);

		if (!n)
			continue;
		if (r->niov == BLK_SEG_MAX)
			return -E2BIG;
		r->iov[r->niov].iov_base = (u8 *)src->iov[i].iov_base + off;
		r->iov[r->niov].iov_len = n;
		r->niov++;
		len -= n;
	}
	return 0;
}

/*
 * Hold @req in its slot, as @op. Nothing goes to io_uring yet: reap
 * prepares and submits every held request at once (or serves a lone read
 * or write with one syscall).
 */
static int blk_file_hold(struct blk_file *f, const struct blk_req *req, u8 op)
{
	struct blk_file_req *r = &f->reqs[req->tag];

	r->req = *req;
	r->req.data = NULL;
	r->op = op;
	r->failed = false;
	r->queued = true;
	f->unprep[f->nunprep++] = req->tag;
	return BLK_QUEUED;
}

/*
 * Whether the page cache holds [@off, @off + @len) (@len > 0) of the
 * mapped image, by its chunks' warm bits: a chunk not known warm yet is
 * looked at with one mincore() and marked if every page of it is there.
 * The first chunk found short ends the look (the read goes through
 * io_uring, which brings the pages in without stopping the worker).
 */
static bool blk_file_is_warm(struct blk_file_map *m, u64 off, size_t len)
{
	const unsigned int per_long = 8 * sizeof(unsigned long);
	u64 last = (off + len - 1) >> BLK_FILE_CHUNK_SHIFT;

	for (u64 c = off >> BLK_FILE_CHUNK_SHIFT; c <= last; c++) {
		unsigned long bit = 1ul << (c % per_long);
		unsigned char vec[BLK_FILE_CHUNK_PAGES];
		size_t at = (size_t)c << BLK_FILE_CHUNK_SHIFT;
		size_t n = MIN((size_t)BLK_FILE_CHUNK, m->len - at);

		if (m->warm[c / per_long] & bit)
			continue;
		if (mincore(m->base + at, n, vec))
			return false;
		for (size_t i = 0; i < n / m->page; i++)
			if (!(vec[i] & 1))
				return false;
		m->warm[c / per_long] |= bit;
	}
	return true;
}

/*
 * A read the page cache holds: copied from the mapping into the guest's
 * buffers on the worker, with no syscall. A page that vanished under the
 * copy (the image shrank, or guest memory did) fails it, and the device
 * needs a reset. Return: 0 or -EIO.
 */
static int blk_file_read_map(struct blk_file *f, const struct blk_file_req *r, u64 off)
{
	const u8 *src = f->map.base + off;

	for (unsigned int i = 0; i < r->niov; i++) {
		if (swdev_copy_guarded(r->iov[i].iov_base, src, r->iov[i].iov_len)) {
			vdpa_device_error(&f->blk.sw.vdpa,
					  "a page of the image vanished under a read (the file shrank?), or guest memory did");
			return -EIO;
		}
		src += r->iov[i].iov_len;
	}
	return 0;
}

static int blk_file_read(struct blk_dev *blk, struct blk_req *req)
{
	struct blk_file *f = to_blk_file(blk);
	struct blk_file_req *r = &f->reqs[req->tag];
	u64 off = req->sector << BLK_SECTOR_SHIFT;

	if (blk_file_take_iov(r, req->data, req->len))
		return -E2BIG;
	if (f->map.base && req->len && blk_file_is_warm(&f->map, off, req->len))
		return blk_file_read_map(f, r, off);
	return blk_file_hold(f, req, BLK_FILE_READ);
}

static u8 blk_file_rw_now(struct blk_file *f, struct blk_file_req *r);

static int blk_file_write(struct blk_dev *blk, struct blk_req *req)
{
	struct blk_file *f = to_blk_file(blk);
	struct blk_file_req *r = &f->reqs[req->tag];
	u64 off = req->sector << BLK_SECTOR_SHIFT;

	if (blk_file_take_iov(r, req->data, req->len))
		return -E2BIG;
	if (f->map.base && req->len && blk_file_is_warm(&f->map, off, req->len)) {
		r->req = *req;
		r->op = BLK_FILE_WRITE;
		return blk_file_rw_now(f, r) == VIRTIO_BLK_S_OK ? 0 : -EIO;
	}
	return blk_file_hold(f, req, BLK_FILE_WRITE);
}

static int blk_file_flush(struct blk_dev *blk, struct blk_req *req)
{
	return blk_file_hold(to_blk_file(blk), req, BLK_FILE_FLUSH);
}

static int blk_file_dwz(struct blk_dev *blk, struct blk_req *req,
			const struct blk_dwz *segs, unsigned int n)
{
	struct blk_file *f = to_blk_file(blk);
	struct blk_file_req *r = &f->reqs[req->tag];

	memcpy(r->dwz, segs, n * sizeof(segs[0]));
	r->ndwz = n;
	return blk_file_hold(f, req, BLK_FILE_DWZ);
}

/*
 * Prepare the SQEs of held request @r (tag @tag): one, or one FALLOCATE a
 * DISCARD / WRITE_ZEROES segment. When the SQ has no room for them, what
 * it holds goes to the kernel first, without waiting: the batch is
 * submitted as it is prepared. Return: false if there still is no room.
 */
static bool blk_file_prep(struct blk_file *f, struct blk_file_req *r, unsigned int tag)
{
	static const int mode[] = {
		[BLK_DWZ_DISCARD] = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		[BLK_DWZ_ZERO] = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		[BLK_DWZ_ZERO_UNMAP] = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	};
	unsigned int n = r->op == BLK_FILE_DWZ ? r->ndwz : 1;
	u64 off = r->req.sector << BLK_SECTOR_SHIFT;

	if (io_uring_sq_space_left(&f->ring) < n)
		io_uring_submit(&f->ring);
	if (io_uring_sq_space_left(&f->ring) < n)
		return false;
	for (unsigned int i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&f->ring);

		switch (r->op) {
		/*
		 * One segment (a 4 KiB request in one buffer): the plain
		 * op, whose buffer the kernel takes as is, where a vector
		 * is copied in and checked first.
		 */
		case BLK_FILE_READ:
			if (r->niov == 1)
				io_uring_prep_read(sqe, f->fd, r->iov[0].iov_base,
						   (unsigned int)r->iov[0].iov_len, off);
			else
				io_uring_prep_readv(sqe, f->fd, r->iov, r->niov, off);
			break;
		case BLK_FILE_WRITE:
			if (r->niov == 1)
				io_uring_prep_write(sqe, f->fd, r->iov[0].iov_base,
						    (unsigned int)r->iov[0].iov_len, off);
			else
				io_uring_prep_writev(sqe, f->fd, r->iov, r->niov, off);
			break;
		case BLK_FILE_FLUSH:
			io_uring_prep_fsync(sqe, f->fd, IORING_FSYNC_DATASYNC);
			/* After everything submitted before it. */
			sqe->flags |= IOSQE_IO_DRAIN;
			break;
		default:
			io_uring_prep_fallocate(sqe, f->fd, mode[r->dwz[i].op],
						(off_t)(r->dwz[i].sector << BLK_SECTOR_SHIFT),
						(off_t)r->dwz[i].nsec << BLK_SECTOR_SHIFT);
			break;
		}
		io_uring_sqe_set_data64(sqe, BLK_FILE_DATA(tag, i));
	}
	r->pending = n;
	f->queued += n;
	return true;
}

/*
 * A lone read or write: one pread/pwrite (preadv/pwritev for several
 * segments) is what it costs anyway (an io_uring_enter), without
 * io_uring's own work, and a buffered write is
 * not handed to an io_uring worker thread. Return: its status.
 */
static u8 blk_file_rw_now(struct blk_file *f, struct blk_file_req *r)
{
	off_t off = (off_t)(r->req.sector << BLK_SECTOR_SHIFT);
	ssize_t n;

	do {
		/* One segment: pread/pwrite, which copy in no vector. */
		if (r->niov == 1)
			n = r->op == BLK_FILE_WRITE ?
			    pwrite(f->fd, r->iov[0].iov_base, r->iov[0].iov_len, off) :
			    pread(f->fd, r->iov[0].iov_base, r->iov[0].iov_len, off);
		else
			n = r->op == BLK_FILE_WRITE ? pwritev(f->fd, r->iov, (int)r->niov, off)
						    : preadv(f->fd, r->iov, (int)r->niov, off);
	} while (n < 0 && errno == EINTR);
	return n >= 0 && (size_t)n == r->req.len ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
}

/*
 * Zero @seg by writing zeroes, for a file system that cannot zero a range
 * with fallocate. Return: 0 or -errno.
 */
static int blk_file_zero_fill(int fd, const struct blk_dwz *seg)
{
	/*
	 * Not const: a const one sits in .rodata, 64 KiB of the binary's
	 * file pages that get mapped (and counted in RSS) with their
	 * neighbours; in .bss it costs nothing until read, and then only
	 * the shared zero page.
	 */
	static u8 zeroes[65536];
	u64 off = seg->sector << BLK_SECTOR_SHIFT;
	u64 len = (u64)seg->nsec << BLK_SECTOR_SHIFT;

	while (len) {
		ssize_t n = pwrite(fd, zeroes, MIN(len, sizeof(zeroes)), (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (u64)n;
		len -= (u64)n;
	}
	return 0;
}

/* Whether the completion @res of SQE @seg of @r means it did its part. */
static bool blk_file_done_ok(struct blk_file *f, struct blk_file_req *r,
			     unsigned int seg, int res)
{
	const struct blk_dwz *d;

	switch (r->req.type) {
	case VIRTIO_BLK_T_DISCARD:
		return true;	/* a hint: a file that cannot punch holes ignores it */
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (seg >= BLK_DWZ_SEG_MAX)
			return false;
		d = &r->dwz[seg];
		if (!res)
			return true;
		/* No such fallocate here (or no hole punching): write the zeroes. */
		return (res == -EOPNOTSUPP || res == -EINVAL) &&
		       !blk_file_zero_fill(f->fd, d);
	default:
		/* A flush moves no data: 0 is its success. */
		return res >= 0 && (size_t)res == r->req.len;
	}
}

/* Fail every held request: the ring itself failed. */
static void blk_file_fail_all(struct blk_file *f)
{
	for (unsigned int k = 0; k < BLK_QD; k++)
		if (f->reqs[k].queued) {
			f->reqs[k].queued = false;
			blk_req_complete(&f->blk, &f->reqs[k].req, VIRTIO_BLK_S_IOERR);
		}
	f->nunprep = 0;
	f->queued = 0;
}

/*
 * Account completion @cqe to its request. Return: true if that ended the
 * request.
 */
static bool blk_file_end_cqe(struct blk_file *f, const struct io_uring_cqe *cqe)
{
	u64 data = io_uring_cqe_get_data64(cqe);
	u64 tag = BLK_FILE_DATA_TAG(data);
	struct blk_file_req *r;

	if (tag >= BLK_QD || !f->reqs[tag].queued)
		return false;
	r = &f->reqs[tag];
	if (!blk_file_done_ok(f, r, BLK_FILE_DATA_SEG(data), cqe->res))
		r->failed = true;
	if (--r->pending)
		return false;
	r->queued = false;
	blk_req_complete(&f->blk, &r->req, r->failed ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
	return true;
}

/*
 * Start the held requests not started yet: a lone read or write with
 * nothing in flight at once; else their SQEs, in the order they came
 * (submitting as the SQ fills). Then end every request whose completions
 * are there, waiting first as @how says.
 */
static void blk_file_reap(struct blk_dev *blk, enum blk_reap how)
{
	struct blk_file *f = to_blk_file(blk);
	struct blk_file_req *r0 = &f->reqs[f->unprep[0]];
	bool ended = false;
	int ret;

	if (!f->queued && f->nunprep == 1 &&
	    (r0->op == BLK_FILE_READ || r0->op == BLK_FILE_WRITE)) {
		f->nunprep = 0;
		r0->queued = false;
		blk_req_complete(blk, &r0->req, blk_file_rw_now(f, r0));
		return;
	}
	for (unsigned int k = 0; k < f->nunprep; k++) {
		struct blk_file_req *r = &f->reqs[f->unprep[k]];

		if (blk_file_prep(f, r, f->unprep[k]))
			continue;
		if (!f->queued) {
			/* Nothing in flight to make room: it can never fit. */
			r->queued = false;
			blk_req_complete(blk, &r->req, VIRTIO_BLK_S_IOERR);
			ended = true;
			continue;
		}
		/*
		 * A full SQ (or the kernel's -EBUSY while completions are
		 * due) is not the request's fault: it and the ones after it
		 * wait for the next round, which starts them once what is in
		 * flight made room, in the order they came.
		 */
		memmove(f->unprep, &f->unprep[k], (f->nunprep - k) * sizeof(f->unprep[0]));
		f->nunprep -= k;
		goto submit;
	}
	f->nunprep = 0;
submit:
	/*
	 * Reads from the page cache end inside the submission: their
	 * completions are there when it returns, and a pass that must not
	 * wait (BLK_REAP_START) still ends them.
	 */
	ret = io_uring_submit_and_wait(&f->ring, how == BLK_REAP_ALL ? f->queued :
					      how == BLK_REAP_ONE && !ended && f->queued);
	if (ret < 0 && ret != -EINTR && ret != -EBUSY)
		pr_err("%s: io_uring submit: %s", blk->sw.vdpa.name, strerror(-ret));
	while (f->queued) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;

		io_uring_for_each_cqe(&f->ring, head, cqe) {
			ended |= blk_file_end_cqe(f, cqe);
			seen++;
		}
		io_uring_cq_advance(&f->ring, seen);
		f->queued -= MIN(seen, f->queued);
		if (!f->queued || how == BLK_REAP_START || (how == BLK_REAP_ONE && ended))
			break;
		ret = io_uring_wait_cqe(&f->ring, &cqe);
		if (ret < 0 && ret != -EINTR) {
			pr_err("%s: io_uring wait: %s", blk->sw.vdpa.name, strerror(-ret));
			blk_file_fail_all(f);
			return;
		}
	}
	/* Requests that waited for room start now (BLK_REAP_ALL ends them too). */
	if (how == BLK_REAP_ALL && f->nunprep)
		blk_file_reap(blk, BLK_REAP_ALL);
}

/*
 * Map image @fd of @size bytes for reads (io=map) into @m. Where it cannot
 * be mapped (a 0-byte placeholder, a file system without mmap), @m stays
 * empty and every read goes through io_uring. Return: 0 or -ENOMEM.
 */
static int blk_file_map_open(struct blk_file_map *m, int fd, u64 size)
{
	const unsigned int per_long = 8 * sizeof(unsigned long);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	u64 nchunks;
	void *p;

	*m = (struct blk_file_map){ 0 };
	if (!size || size > SIZE_MAX - page || page < 4096 || page > BLK_FILE_CHUNK)
		return 0;
	nchunks = ALIGN_UP(size, BLK_FILE_CHUNK) >> BLK_FILE_CHUNK_SHIFT;
	m->warm = xcalloc((size_t)ALIGN_UP(nchunks, per_long) / per_long, sizeof(*m->warm));
	if (!m->warm)
		return -ENOMEM;
	p = mmap(NULL, (size_t)ALIGN_UP(size, page), PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		pr_info("file-blk: cannot map the image (%s): every read goes through io_uring",
			strerror(errno));
		free(m->warm);
		m->warm = NULL;
		return 0;
	}
	m->base = p;
	m->len = (size_t)ALIGN_UP(size, page);
	m->page = page;
	return 0;
}

static void blk_file_map_close(struct blk_file_map *m)
{
	if (m->base)
		munmap(m->base, m->len);
	free(m->warm);
	*m = (struct blk_file_map){ 0 };
}

static void blk_file_free(struct blk_dev *blk)
{
	struct blk_file *f = to_blk_file(blk);

	blk_file_untrack(f);
	blk_file_map_close(&f->map);
	if (f->ring_ok)
		io_uring_queue_exit(&f->ring);
	if (f->fd >= 0)
		close(f->fd);
	free(f);
}

static const struct blk_ops blk_file_ops = {
	.read		= blk_file_read,
	.write		= blk_file_write,
	.flush		= blk_file_flush,
	.dwz		= blk_file_dwz,
	.reap		= blk_file_reap,
	.free		= blk_file_free,
	.seccomp	= SECCOMP_THREAD_DEV_FILE_BLK,
};

/* Whether another fd of this process is open on @st's file. */
static int __blk_file_open(const struct blk_file *f, const char *path, int *fdp,
			   u64 *size_out)
{
	bool ro = f->blk.ro;
	struct stat st;
	u64 size;
	int fd;

	/*
	 * O_NONBLOCK: a FIFO must not hang the open; refused below.
	 * O_NOATIME: a read does not compute (or write) the image's access
	 * time, a cost in every request; only the owner (or CAP_FOWNER) may
	 * ask for it, anyone else opens the image without.
	 */
	fd = *fdp = xopen(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK | O_NOATIME,
			  0);
	if (fd == -EPERM)
		fd = *fdp = xopen(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK, 0);
	if (fd < 0) {
		int err = fd;

		/* The caller's line names the option, the path and the errno. */
		pr_debug("file-blk: cannot open %s%s: %s", path,
			 ro ? "" : " read-write", strerror(-err));
		return err;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		size = (u64)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) < 0)
			return -errno;
	} else {
		pr_err("file-blk: %s is neither a regular file nor a block device",
		       path);
		return -EINVAL;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		return -errno;
	if ((size == 0 && !f->allow_empty) || size % BLK_SECTOR_SIZE) {
		pr_err("file-blk: %s is %llu bytes: a disk must be a non-zero multiple of %d bytes (512-byte sectors); resize it (truncate -s) first",
		       path, (unsigned long long)size, BLK_SECTOR_SIZE);
		return -EINVAL;
	}
	*size_out = size;
	/* Two writers of one image corrupt it: refuse a second user. */
	if (flock(fd, (ro ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		int err = -errno;

		if (err == -EWOULDBLOCK && blk_file_is_ours(&st)) {
			/* Two disks of one guest on one image: a bad argument. */
			pr_err("file-blk: %s is already a disk of this kestrel (one image, one writable disk)",
			       path);
			return -EINVAL;
		}
		pr_err("file-blk: %s is in use by another process (%s)", path,
		       strerror(-err));
		return err;
	}
	return 0;
}

/*
 * Open @path, learn its size and lock it: the fd in @fd_out and the size
 * in @size_out. Every refusal is one line naming it; nothing stays open.
 */
static int blk_file_open_fd(const struct blk_file *f, const char *path,
			    int *fd_out, u64 *size_out)
{
	int fd = -1, ret;

	ret = __blk_file_open(f, path, &fd, size_out);
	if (ret) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	*fd_out = fd;
	return 0;
}

/** struct blk_file_args - creation attributes of a file-backed disk */
struct blk_file_args {
	struct vdpa_dev_args common;
	char path[VDPA_PATH_MAX];
	struct blk_args blk;	/* serial "": the file's name */
	bool allow_empty;
	u32 io;			/* BLK_FILE_IO_* */
};

static const char *const blk_file_io_words[] = {
	[BLK_FILE_IO_MAP] = "map",
	[BLK_FILE_IO_URING] = "uring",
	NULL,
};

static const struct vdpa_attr blk_file_attrs[] = {
	VDPA_ATTR_STRING(struct blk_file_args, path, "path", "<1..255 characters>",
			 "the image file or block device"),
	BLK_ATTRS(struct blk_file_args, blk),
	VDPA_ATTR_BOOL(struct blk_file_args, allow_empty, "allow_empty",
		       "an empty file is a disk of 0 sectors (a placeholder)"),
	VDPA_ATTR_CHOICE(struct blk_file_args, io, "io", "<map|uring>", blk_file_io_words,
			 "map (default): a read the page cache holds is copied from a mapping of the image, a write to it is a pwrite, the rest goes through io_uring; uring: every read and write through io_uring"),
};

static int blk_file_dev_add(struct vdpa_mgmt_dev *mdev, const void *config,
			    struct vdpa_device **out)
{
	const struct blk_file_args *args = config;
	const char *base;
	struct blk_file *f;
	int ret;

	if (!args->path[0]) {
		pr_err("file-blk: needs path=<file or block device>");
		return -EINVAL;
	}
	f = xzalloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->fd = -1;
	ret = blk_dev_init(&f->blk, &blk_file_ops, args->blk.ro,
			   BLK_FILE_DWZ_SECTORS_MAX);
	if (ret)
		goto err_destroy;
	f->allow_empty = args->allow_empty;
	ret = blk_file_open_fd(f, args->path, &f->fd, &f->blk.capacity);
	if (ret)
		goto err_destroy;
	blk_file_track(f, f->fd);
	f->io = args->io;
	if (f->io == BLK_FILE_IO_MAP) {
		ret = blk_file_map_open(&f->map, f->fd, f->blk.capacity);
		if (ret)
			goto err_destroy;
	}
	/* liburing's own allocation, fd and ring mappings: one point. */
	ret = fault_inject_hit() ? -ENOMEM
				 : io_uring_queue_init_params(BLK_FILE_SQ_ENTRIES, &f->ring,
							      &(struct io_uring_params){
						.flags = IORING_SETUP_CQSIZE,
						.cq_entries = BLK_FILE_CQ_ENTRIES,
					   });
	if (ret)
		goto err_destroy;
	f->ring_ok = true;

	/* GET_ID: the serial given, else the file's name (20 bytes at most). */
	base = strrchr(args->path, '/');
	base = base ? base + 1 : args->path;
	blk_dev_set_serial(&f->blk, args->blk.serial[0] ? args->blk.serial : base);

	ret = swdev_set_limits(&f->blk.sw, &args->blk.limit);
	if (ret)
		goto err_destroy;
	ret = swdev_register(&f->blk.sw, args->common.name);
	if (ret)
		goto err_destroy;
	*out = &f->blk.sw.vdpa;
	return 0;

err_destroy:
	/* The caller reports it, naming the option or request (one line). */
	pr_debug("vdpa: cannot create file-blk on %s: %s", args->path,
		 strerror(-ret));
	swdev_destroy(&f->blk.sw);
	return ret;
}

/* The image, read-only or read-write; PATCH-time replacements are the caller's. */
static int blk_file_files(const void *config,
			  int (*fn)(const char *path, bool write, void *opaque), void *opaque)
{
	const struct blk_file_args *args = config;

	return args->path[0] ? fn(args->path, !args->blk.ro, opaque) : 0;
}

struct vdpa_mgmt_dev blk_file_mgmt_dev = {
	.type = "file-blk",
	.description = "virtio-blk over a file or block device (io_uring)",
	.device_id = VIRTIO_ID_BLOCK,
	.attrs = blk_file_attrs,
	.nattrs = ARRAY_SIZE(blk_file_attrs),
	.config_size = sizeof(struct blk_file_args),
	.dev_add = blk_file_dev_add,
	.files = blk_file_files,
};

int vdpa_file_blk_replace(struct vdpa_device *vdpa, const char *path)
{
	struct blk_file_map map = { 0 }, old_map;
	struct blk_file *f;
	struct swdev *sw;
	u64 size;
	int fd, old, ret;

	if (!vdpa || vdpa->mdev != &blk_file_mgmt_dev || !path || !path[0])
		return -EINVAL;
	sw = to_swdev(vdpa);
	f = to_blk_file(to_blk(sw));
	ret = blk_file_open_fd(f, path, &fd, &size);
	if (ret)
		return ret;
	if (f->io == BLK_FILE_IO_MAP) {
		ret = blk_file_map_open(&map, fd, size);
		if (ret) {
			close(fd);
			return ret;
		}
	}
	/* Under the lock no request is in flight: none uses the old fd or map. */
	swdev_lock(sw);
	old = f->fd;
	old_map = f->map;
	f->fd = fd;
	f->map = map;
	f->blk.capacity = size;
	sw->generation++;
	pthread_mutex_unlock(&sw->lock);
	blk_file_track(f, fd);
	blk_file_map_close(&old_map);
	close(old);
	pr_info("%s: backing file now %s (%llu sectors)", vdpa->name, path,
		(unsigned long long)(size >> BLK_SECTOR_SHIFT));
	/* virtio 1.2 §2.5.1: the driver rereads the config space. */
	swdev_config_changed(sw);
	return 0;
}
