// SPDX-License-Identifier: GPL-2.0-only
/*
 * VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD (vhost-user.rst "Inflight I/O
 * tracking"): the front-end keeps, across restarts of this server, a
 * region where the device records the requests it has in flight.
 *
 *   GET_INFLIGHT_FD  the server makes the region: a memfd of num_queues
 *                    queue regions of queue_size entries in the ring
 *                    layout negotiated (split: vdpa_inflight_queue_size(),
 *                    packed: vdpa_inflight_packed_queue_size(); before
 *                    SET_FEATURES the packed size, which holds either),
 *                    all zero (version 0: the device initialises a
 *                    queue's region when the queue first starts), sealed
 *                    against shrinking and growing, and hands it over
 *   SET_INFLIGHT_FD  the front-end gives a region back (the same, after a
 *                    restart of the server): checked, mapped, and each
 *                    ring programmed from then on records in its region;
 *                    the device reads it back when the ring starts
 *                    (resubmitting what was in flight)
 *
 * The region is the front-end's memory and hostile: SET_INFLIGHT_FD reads
 * it with pread() (a file that shrank gives a short read, never SIGBUS)
 * and refuses one that does not add up; the device checks it again when
 * a ring starts (the front-end may write it meanwhile), under the
 * worker's SIGBUS guard.
 *
 * The layout is the ring's, so it is only known once the features are.
 * QEMU 7.2's vhost-user-blk sends SET_FEATURES before GET_INFLIGHT_FD
 * (vhost_dev_prepare_inflight()), but a region may come before them: it
 * is then checked for size only (the smaller, split, layout), and each
 * ring programmed later finds its queue's region by the layout it runs
 * with; a region too small for that layout leaves the ring untracked,
 * with a warning.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "internal.h"

/* Queue regions one message may describe (a bound on what we read). */
#define VHOST_USER_INFLIGHT_QUEUES_MAX	256

/* Why the device cannot record for @dev now, or NULL. */
static const char *inflight_refusal(const struct vhost_user_dev *dev)
{
	if (!vdpa_has_inflight(dev->vdpa))
		return "the device does not record requests in flight";
	return NULL;
}

/* Is the layout the packed one? Unknown (false) before SET_FEATURES. */
static bool inflight_is_packed(const struct vhost_user_dev *dev)
{
	return dev->features_set && (dev->features & (1ULL << VIRTIO_F_RING_PACKED));
}

/*
 * Bytes of one queue's region of @qsize entries: in the layout negotiated,
 * or (@largest) before SET_FEATURES the larger one, else the smaller.
 */
static size_t inflight_stride(const struct vhost_user_dev *dev, u16 qsize,
			      bool largest)
{
	if (inflight_is_packed(dev) || (!dev->features_set && largest))
		return vdpa_inflight_packed_queue_size(qsize);
	return vdpa_inflight_queue_size(qsize);
}

/*
 * num_queues and queue_size of a message; Return: the region's bytes, or
 * 0. @stride: each queue region's (inflight_stride(), @largest).
 */
static size_t inflight_layout(struct vhost_user_dev *dev,
			      const struct vhost_user_inflight *in,
			      size_t *stride, bool largest)
{
	if (!in->num_queues || in->num_queues > VHOST_USER_INFLIGHT_QUEUES_MAX ||
	    !in->queue_size || in->queue_size > VHOST_USER_VRING_MAX ||
	    in->queue_size > vdpa_get_vq_num_max(dev->vdpa)) {
		vu_warn(dev, "inflight region of %u queues of %u entries refused",
			in->num_queues, in->queue_size);
		return 0;
	}
	*stride = inflight_stride(dev, in->queue_size, largest);
	return *stride * in->num_queues;
}

int vhost_user_get_inflight_fd(struct vhost_user_dev *dev,
			       struct vhost_user_msg *msg, int *fds)
{
	struct vhost_user_inflight *in = &msg->payload.inflight;
	const char *why = inflight_refusal(dev);
	size_t stride, size = 0;
	int fd;

	if (why)
		vu_warn(dev, "GET_INFLIGHT_FD: %s", why);
	else
		size = inflight_layout(dev, in, &stride, true);
	in->mmap_size = 0;
	in->mmap_offset = 0;
	if (!size)
		return sizeof(*in);	/* no region, no fd */

	fd = memfd_create("kestrel-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		vu_warn(dev, "GET_INFLIGHT_FD: memfd_create: %s", strerror(errno));
		return sizeof(*in);
	}
	/* Zero-filled: every queue region at version 0, "never used". */
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		vu_warn(dev, "GET_INFLIGHT_FD: region of %zu bytes: %s", size,
			strerror(errno));
		close(fd);
		return sizeof(*in);
	}
	in->mmap_size = size;
	dev->reply_fd = fd;	/* the reply carries it, then it is closed */
	return sizeof(*in);
}

/*
 * Read queue region @q of @fd at @off (@stride bytes) and check it as the
 * device will when the ring starts, for a ring of @num.
 */
static int inflight_check_split(struct vhost_user_dev *dev,
				struct vdpa_inflight_split *r, size_t stride,
				u16 num, u32 q)
{
	u16 *heads = calloc(num, sizeof(*heads));
	u32 nheads;
	u64 counter;
	int ret;

	if (!heads)
		return -ENOMEM;
	ret = 0;
	/* A region used before must say which head was published last. */
	if (r->version && r->last_batch_head >= num)
		ret = -EINVAL;
	/* On a copy: its own used_idx, so only the region itself is judged. */
	if (!ret)
		ret = vdpa_inflight_recover(r, stride, num, r->used_idx, heads,
					    &nheads, &counter);
	if (ret)
		vu_warn(dev, "SET_INFLIGHT_FD: queue %u: region refused (version %u, %u entries, last batch at %u): %s",
			q, r->version, r->desc_num, r->last_batch_head, strerror(-ret));
	free(heads);
	return ret;
}

static int inflight_check_packed(struct vhost_user_dev *dev,
				 struct vdpa_inflight_packed *r, size_t stride,
				 u16 num, u32 q)
{
	struct vdpa_inflight_packed_recovery out = {
		.chains = calloc(num, sizeof(*out.chains)),
		.descs = calloc(num, sizeof(*out.descs)),
		.next = calloc(num, sizeof(*out.next)),
	};
	int ret = -ENOMEM;

	/* No ring: a batch cut short is judged as not shown; nothing written. */
	if (out.chains && out.descs && out.next)
		ret = vdpa_inflight_packed_recover(r, stride, num, NULL, &out);
	if (ret)
		vu_warn(dev, "SET_INFLIGHT_FD: queue %u: packed region refused (version %u, %u entries, free list at %u/%u, used at %u/%u, wrap %u/%u): %s",
			q, r->version, r->desc_num, r->free_head, r->old_free_head,
			r->used_idx, r->old_used_idx, r->used_wrap_counter,
			r->old_used_wrap_counter, strerror(-ret));
	free(out.next);
	free(out.descs);
	free(out.chains);
	return ret;
}

/*
 * Read queue region @q of @fd at @off (@stride bytes) and check it as the
 * device will when the ring starts, for a ring of @num in the layout
 * negotiated.
 */
static int inflight_check_queue(struct vhost_user_dev *dev, int fd, u64 off,
				size_t stride, u16 num, u32 q)
{
	void *r = malloc(stride);
	ssize_t n;
	int ret = -ENOMEM;

	if (!r)
		goto out_free;
	n = pread(fd, r, stride, (off_t)off);
	if (n != (ssize_t)stride) {
		vu_warn(dev, "SET_INFLIGHT_FD: queue %u: short region (%zd of %zu bytes)",
			q, n, stride);
		ret = -EINVAL;
		goto out_free;
	}
	if (inflight_is_packed(dev))
		ret = inflight_check_packed(dev, r, stride, num, q);
	else
		ret = inflight_check_split(dev, r, stride, num, q);
out_free:
	free(r);
	return ret;
}

int vhost_user_set_inflight_fd(struct vhost_user_dev *dev,
			       struct vhost_user_msg *msg, int *fds)
{
	const struct vhost_user_inflight *in = &msg->payload.inflight;
	const char *why = inflight_refusal(dev);
	size_t stride = 0, size, map_len;
	u64 map_off, delta;
	struct stat st;
	void *base;
	int fd = fds[0], seals, ret;

	if (why) {
		vu_warn(dev, "SET_INFLIGHT_FD: %s", why);
		return -EOPNOTSUPP;
	}
	/* Rings record in the region they were programmed with: none may run. */
	for (u32 i = 0; i < dev->nvrings; i++) {
		if (dev->vrings[i].dev_ready) {
			vu_warn(dev, "SET_INFLIGHT_FD while ring %u runs", i);
			return -EBUSY;
		}
	}
	/* Before SET_FEATURES: big enough for the smaller layout at least. */
	size = inflight_layout(dev, in, &stride, false);
	if (!size)
		return -EINVAL;
	if (in->mmap_size < size || in->mmap_offset > UINT64_MAX - size) {
		vu_warn(dev, "SET_INFLIGHT_FD: %llu bytes for %u queues of %u: %zu needed",
			(unsigned long long)in->mmap_size, in->num_queues,
			in->queue_size, size);
		return -EINVAL;
	}
	if (fstat(fd, &st) < 0 || (u64)st.st_size < in->mmap_offset + size) {
		vu_warn(dev, "SET_INFLIGHT_FD: %zu bytes at %llu: past the end of the file",
			size, (unsigned long long)in->mmap_offset);
		return -EINVAL;
	}
	/* As for memory (mem.c): a file that can shrink under us must not. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals >= 0 && !(seals & F_SEAL_SHRINK)) {
		vu_warn(dev, "SET_INFLIGHT_FD: its memfd can shrink; seal it with F_SEAL_SHRINK");
		return -EPERM;
	}
	/* Without the features the layout is unknown: the ring start checks. */
	for (u32 q = 0; dev->features_set && q < MIN((u32)in->num_queues, dev->nvrings); q++) {
		ret = inflight_check_queue(dev, fd, in->mmap_offset + q * stride,
					   stride, in->queue_size, q);
		if (ret)
			return ret;
	}

	/* What either layout may use of it, no more. */
	size = MIN(in->mmap_size, (u64)vdpa_inflight_packed_queue_size(in->queue_size) *
				  in->num_queues);
	size = MIN((u64)size, (u64)st.st_size - in->mmap_offset);
	map_off = ALIGN_DOWN(in->mmap_offset, (u64)sysconf(_SC_PAGESIZE));
	delta = in->mmap_offset - map_off;
	map_len = size + delta;
	base = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    (off_t)map_off);
	if (base == MAP_FAILED) {
		ret = -errno;
		vu_warn(dev, "SET_INFLIGHT_FD: mmap: %s", strerror(-ret));
		return ret;
	}
	vhost_user_inflight_clear(dev);
	dev->inflight_map = base;
	dev->inflight_map_len = map_len;
	dev->inflight = (u8 *)base + delta;
	dev->inflight_queues = in->num_queues;
	dev->inflight_qsize = in->queue_size;
	dev->inflight_len = size;
	/* Rings programmed from now on record in it (vring_dev_program()). */
	for (u32 i = 0; i < dev->nvrings; i++)
		dev->vrings[i].dirty = true;
	return 0;
}

void *vhost_user_inflight_region(struct vhost_user_dev *dev, u32 idx,
				 size_t *size)
{
	size_t stride;

	*size = 0;
	if (!dev->inflight || idx >= dev->inflight_queues || inflight_refusal(dev))
		return NULL;
	/*
	 * The layout is known now. A region set before the features and too
	 * small for it (a packed ring given a region sized for split ones)
	 * leaves the ring untracked: a restarted server may then lose or
	 * repeat its requests.
	 */
	stride = inflight_stride(dev, dev->inflight_qsize, false);
	if ((size_t)(idx + 1) * stride > dev->inflight_len) {
		vu_warn(dev, "ring %u: not tracked in the inflight region: %zu bytes hold no %s region of %u entries for it",
			idx, dev->inflight_len, inflight_is_packed(dev) ? "packed" : "split",
			dev->inflight_qsize);
		return NULL;
	}
	*size = stride;
	return dev->inflight + (size_t)idx * stride;
}

void vhost_user_inflight_clear(struct vhost_user_dev *dev)
{
	struct vdpa_device *vdpa = dev->vdpa;

	/*
	 * No ring runs (SET_INFLIGHT_FD checked, or the device was reset),
	 * but a stopped one still holds its region: take it back before the
	 * unmap. After DRIVER_OK queue setup needs the device suspended.
	 */
	if (dev->inflight && vdpa_has_inflight(vdpa)) {
		bool suspended = (vdpa_get_status(vdpa) & VIRTIO_CONFIG_S_DRIVER_OK) &&
				 vdpa_can_suspend(vdpa) && !vdpa_suspend(vdpa);

		for (u32 i = 0; i < dev->nvrings; i++)
			vdpa_set_vq_inflight(vdpa, (u16)i, NULL, 0);
		if (suspended)
			vdpa_resume(vdpa);
	}
	if (dev->inflight_map)
		munmap(dev->inflight_map, dev->inflight_map_len);
	dev->inflight_map = NULL;
	dev->inflight = NULL;
	dev->inflight_map_len = 0;
	dev->inflight_queues = 0;
	dev->inflight_qsize = 0;
	dev->inflight_len = 0;
}
