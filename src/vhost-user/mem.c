// SPDX-License-Identifier: GPL-2.0-only
/*
 * The front-end's memory: regions received with SET_MEM_TABLE / ADD_MEM_REG
 * are validated, mapped, and turned into the device's IOTLB.
 *
 * Without VIRTIO_F_ACCESS_PLATFORM descriptors carry guest physical
 * addresses, so address space 0 of the device maps GPA -> our mapping of
 * the region. With it, the device sees the IOVA table the front-end builds
 * with IOTLB_MSG updates instead (their user addresses are resolved through
 * the regions here). Either table reaches the device through vdpa_set_map()
 * or, for devices with only dma_map/dma_unmap, entry by entry.
 *
 * Memory leaves only after the device dropped it: the table without the
 * region is committed (the device's lock orders that after any pass still
 * using it) before the region is unmapped.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "internal.h"

static bool range_overlaps(u64 a, u64 alen, u64 b, u64 blen)
{
	/* Inclusive ends; lengths are non-zero and checked not to wrap. */
	return a <= b + (blen - 1) && b <= a + (alen - 1);
}

static bool is_iommu_mode(const struct vhost_user_dev *dev)
{
	return dev->features_set &&
	       (dev->features & (1ULL << VIRTIO_F_ACCESS_PLATFORM));
}

/* Replace everything the device maps in address space 0 by @tlb. */
static int mem_push(struct vhost_user_dev *dev, struct iotlb *tlb)
{
	struct vdpa_device *vdpa = dev->vdpa;
	struct iotlb_map m;
	int ret;

	if (vdpa_has_set_map(vdpa))
		return vdpa_set_map(vdpa, 0, tlb);

	/* dma_map only: drop everything, then map entry by entry. */
	vdpa_dma_unmap(vdpa, 0, 0, UINT64_MAX);
	vdpa_dma_unmap(vdpa, 0, UINT64_MAX, 1);
	if (!tlb)
		return 0;
	for (u64 a = 0; !iotlb_find_first(tlb, a, UINT64_MAX, &m); a = m.last + 1) {
		ret = vdpa_dma_map(vdpa, 0, m.start, m.last - m.start + 1,
				   (void *)(uintptr_t)m.addr, m.perm);
		if (ret)
			return ret;
		if (m.last == UINT64_MAX)
			break;
	}
	return 0;
}

int vhost_user_mem_commit(struct vhost_user_dev *dev)
{
	bool iommu = is_iommu_mode(dev);
	int ret;

	iotlb_batch_begin(dev->gpa_tlb);
	iotlb_reset(dev->gpa_tlb);
	for (unsigned int i = 0; i < dev->nregions; i++) {
		struct vhost_user_region *r = &dev->regions[i];

		ret = iotlb_add_range(dev->gpa_tlb, r->gpa, r->gpa + (r->size - 1),
				      (u64)(uintptr_t)r->hva, IOTLB_PERM_RW);
		if (ret) {
			/* Regions were checked disjoint: only -ENOMEM here. */
			iotlb_batch_commit(dev->gpa_tlb);
			return ret;
		}
	}
	iotlb_batch_commit(dev->gpa_tlb);

	ret = mem_push(dev, iommu ? dev->iommu_tlb : dev->gpa_tlb);
	if (ret)
		return ret;
	dev->mapped = true;
	dev->mapped_iommu = iommu;
	return 0;
}

void vhost_user_mem_unmap_device(struct vhost_user_dev *dev)
{
	struct iotlb *empty = NULL;

	if (!dev->mapped)
		return;
	if (vdpa_has_set_map(dev->vdpa)) {
		if (!iotlb_create(1, &empty)) {
			vdpa_set_map(dev->vdpa, 0, empty);
			iotlb_destroy(empty);
		}
	} else {
		mem_push(dev, NULL);
	}
	dev->mapped = false;
}

/* Drop IOTLB entries whose host address lies in [hva, hva + size). */
static void iommu_drop_hva(struct vhost_user_dev *dev, const u8 *hva, u64 size)
{
	u64 lo = (u64)(uintptr_t)hva, hi = lo + (size - 1);
	struct iotlb_map m;

	for (u64 a = 0; !iotlb_find_first(dev->iommu_tlb, a, UINT64_MAX, &m);) {
		u64 mlo = m.addr, mhi = m.addr + (m.last - m.start);

		if (mlo <= hi && lo <= mhi)
			iotlb_del_range(dev->iommu_tlb, m.start, m.last);
		if (m.last == UINT64_MAX)
			break;
		a = m.last + 1;
	}
}

/* The mapped region @r names exactly (addresses, size, offset), or NULL. */
static struct vhost_user_region *mem_find(struct vhost_user_dev *dev,
					  const struct vhost_user_mem_region *r)
{
	for (unsigned int i = 0; i < dev->nregions; i++) {
		struct vhost_user_region *reg = &dev->regions[i];

		if (reg->gpa == r->guest_phys_addr && reg->size == r->memory_size &&
		    reg->uva == r->userspace_addr && reg->mmap_offset == r->mmap_offset)
			return reg;
	}
	return NULL;
}

int vhost_user_mem_ref(struct vhost_user_dev *dev,
		       const struct vhost_user_mem_region *r, int fd)
{
	struct vhost_user_region *reg = mem_find(dev, r);
	struct stat st;
	int ret = 1;

	if (!reg)
		return 0;
	/* The mapping we have serves only if it maps the same file. */
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != reg->file_dev ||
	    st.st_ino != reg->file_ino || reg->refs == UINT_MAX)
		ret = -EEXIST;
	else
		reg->refs++;
	if (fd >= 0)
		close(fd);
	return ret;
}

int vhost_user_mem_add(struct vhost_user_dev *dev,
		       const struct vhost_user_mem_region *r, int fd)
{
	struct vhost_user_region *reg;
	u64 align, map_off, delta;
	struct stat st;
	void *base;
	int seals, ret;

	if (fd < 0)
		return -EBADF;
	/* Sizes non-zero; no end may wrap (CVE-2018-1059 class). */
	if (!r->memory_size ||
	    r->guest_phys_addr > UINT64_MAX - (r->memory_size - 1) ||
	    r->userspace_addr > UINT64_MAX - (r->memory_size - 1) ||
	    r->mmap_offset > UINT64_MAX - r->memory_size) {
		ret = -EINVAL;
		goto out_close;
	}
	/*
	 * Our address of a byte must share its guest (and user) address's
	 * alignment: ring structures aligned in guest memory (virtio 1.2
	 * §2.7: up to 16) are then aligned here too. Front-ends send page
	 * aligned values; an odd mmap_offset would misalign every ring.
	 */
	if ((r->mmap_offset ^ r->guest_phys_addr) & 15 ||
	    (r->mmap_offset ^ r->userspace_addr) & 15) {
		ret = -EINVAL;
		goto out_close;
	}
	if (dev->nregions >= dev->max_regions) {
		ret = -ENOSPC;
		goto out_close;
	}
	for (unsigned int i = 0; i < dev->nregions; i++) {
		const struct vhost_user_region *o = &dev->regions[i];

		if (range_overlaps(o->gpa, o->size, r->guest_phys_addr,
				   r->memory_size) ||
		    range_overlaps(o->uva, o->size, r->userspace_addr,
				   r->memory_size)) {
			ret = -EEXIST;
			goto out_close;
		}
	}
	/*
	 * Only files we can size: touching a page past the end of a file
	 * mapping is SIGBUS, which would take the whole process down.
	 */
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 0 ||
	    (u64)st.st_size < r->mmap_offset + r->memory_size) {
		ret = -EINVAL;
		goto out_close;
	}
	/*
	 * A file that shrinks under the mapping turns every access past its
	 * new end into SIGBUS. A memfd that can take seals must come sealed
	 * with F_SEAL_SHRINK (QEMU's memory-backend-memfd does by default).
	 * Files that cannot carry seals (hugetlbfs and tmpfs files, memfds
	 * made without MFD_ALLOW_SEALING, as DPDK's) are taken: the device
	 * worker contains the SIGBUS and marks the device NEEDS_RESET
	 * (src/vdpa/swdev/swdev.c).
	 */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals >= 0 && !(seals & (F_SEAL_SEAL | F_SEAL_SHRINK))) {
		vu_warn(dev, "memory region at %#llx: its memfd can shrink; seal it with F_SEAL_SHRINK",
			(unsigned long long)r->guest_phys_addr);
		ret = -EPERM;
		goto out_close;
	}
	/* hugetlbfs reports its page size in st_blksize. */
	align = (u64)st.st_blksize;
	if (align < (u64)sysconf(_SC_PAGESIZE) || (align & (align - 1)))
		align = (u64)sysconf(_SC_PAGESIZE);
	map_off = ALIGN_DOWN(r->mmap_offset, align);
	delta = r->mmap_offset - map_off;
	if (r->memory_size > (u64)SIZE_MAX - delta) {
		ret = -EINVAL;
		goto out_close;
	}
	base = mmap(NULL, (size_t)(r->memory_size + delta), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_NORESERVE, fd, (off_t)map_off);
	if (base == MAP_FAILED) {
		ret = -errno;
		goto out_close;
	}
	close(fd);

	reg = &dev->regions[dev->nregions++];
	reg->gpa = r->guest_phys_addr;
	reg->size = r->memory_size;
	reg->uva = r->userspace_addr;
	reg->mmap_offset = r->mmap_offset;
	reg->mmap_base = base;
	reg->mmap_len = (size_t)(r->memory_size + delta);
	reg->hva = (u8 *)base + delta;
	reg->file_dev = st.st_dev;
	reg->file_ino = st.st_ino;
	reg->refs = 1;
	return 0;

out_close:
	close(fd);
	return ret;
}

int vhost_user_mem_remove(struct vhost_user_dev *dev,
			  const struct vhost_user_mem_region *r)
{
	struct vhost_user_region gone;
	int ret;

	for (unsigned int i = 0; i < dev->nregions; i++) {
		struct vhost_user_region *reg = &dev->regions[i];

		if (reg->gpa != r->guest_phys_addr ||
		    reg->size != r->memory_size ||
		    reg->uva != r->userspace_addr)
			continue;
		/* Added more than once: the last removal unmaps it. */
		if (reg->refs > 1) {
			reg->refs--;
			return 0;
		}
		gone = *reg;
		dev->regions[i] = dev->regions[--dev->nregions];
		iommu_drop_hva(dev, gone.hva, gone.size);
		/* The device lets go first, then the memory goes. */
		ret = vhost_user_mem_commit(dev);
		if (ret) {
			/*
			 * The device may still hold the table with the region
			 * (the commit failed before or inside set_map): keep
			 * the memory, the request has no effect.
			 */
			dev->regions[dev->nregions++] = gone;
			return ret;
		}
		munmap(gone.mmap_base, gone.mmap_len);
		return 0;
	}
	return -ENOENT;
}

void vhost_user_mem_clear(struct vhost_user_dev *dev)
{
	vhost_user_mem_unmap_device(dev);
	iotlb_reset(dev->gpa_tlb);
	iotlb_reset(dev->iommu_tlb);
	for (unsigned int i = 0; i < dev->nregions; i++)
		munmap(dev->regions[i].mmap_base, dev->regions[i].mmap_len);
	dev->nregions = 0;
}

static const struct vhost_user_region *
mem_find_uva(struct vhost_user_dev *dev, u64 uva, u64 len)
{
	if (!len || uva > UINT64_MAX - (len - 1))
		return NULL;
	for (unsigned int i = 0; i < dev->nregions; i++) {
		const struct vhost_user_region *r = &dev->regions[i];

		if (uva >= r->uva && uva + (len - 1) <= r->uva + (r->size - 1))
			return r;
	}
	return NULL;
}

int vhost_user_mem_uva_to_gpa(struct vhost_user_dev *dev, u64 uva, u64 len,
			      u64 *gpa)
{
	const struct vhost_user_region *r = mem_find_uva(dev, uva, len);

	if (!r)
		return -EFAULT;
	*gpa = r->gpa + (uva - r->uva);
	return 0;
}

int vhost_user_mem_uva_to_hva(struct vhost_user_dev *dev, u64 uva, u64 len,
			      void **hva)
{
	const struct vhost_user_region *r = mem_find_uva(dev, uva, len);

	if (!r)
		return -EFAULT;
	*hva = r->hva + (uva - r->uva);
	return 0;
}
