// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest RAM: a sorted array of regions, each one host mapping.
 *
 * Locking: regions are added while the VM is being built, before any vCPU
 * or device thread runs; after that the array is read-only and every
 * accessor is lock-free. Regions are never removed before
 * address_space_destroy(), so pointers from address_space_map() and
 * address_space_region() stay valid for the address space's lifetime.
 */
#include <kestrel/memory.h>

#include <errno.h>
#include <linux/memfd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/log.h>

#define AS_MAX_REGIONS		32
#define HUGEPAGE_SIZE		(2ULL << 20)
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB		(21 << 26)	/* log2(2 MiB) << MAP_HUGE_SHIFT */
#endif

struct address_space {
	struct mem_region *regions[AS_MAX_REGIONS];	/* ascending gpa */
	unsigned int nr_regions;
	unsigned int next_slot;
	u64 ram_size;
};

int address_space_create(struct address_space **out)
{
	struct address_space *as = xzalloc(sizeof(*as));

	if (!as)
		return -ENOMEM;
	*out = as;
	return 0;
}

static void region_free(struct mem_region *r)
{
	if (r->hva)
		munmap(r->hva, r->size);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

void address_space_destroy(struct address_space *as)
{
	if (!as)
		return;
	for (unsigned int i = 0; i < as->nr_regions; i++)
		region_free(as->regions[i]);
	free(as);
}

/* Last byte of [gpa, gpa + size); false if the range is empty or wraps. */
static bool range_last(u64 gpa, u64 size, u64 *last)
{
	if (!size || gpa + (size - 1) < gpa)
		return false;
	*last = gpa + (size - 1);
	return true;
}

static int region_map(struct mem_region *r)
{
	bool huge = r->flags & MEM_F_HUGEPAGES;
	int mflags = 0;
	void *p;

	if (r->flags & MEM_F_NORESERVE)
		mflags |= MAP_NORESERVE;
	if (r->flags & MEM_F_PRIVATE) {
		/* Address space only, never accessible: see MEM_F_PRIVATE. */
		p = xmmap(NULL, r->size, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	} else if (r->flags & MEM_F_MEMFD) {
		unsigned int mfd = MFD_CLOEXEC;

		if (huge)
			mfd |= MFD_HUGETLB | MFD_HUGE_2MB;
		r->fd = xmemfd_create("kestrel-ram", mfd);
		if (r->fd < 0)
			return r->fd;
		if (ftruncate(r->fd, (off_t)r->size) < 0)
			return -errno;
		mflags |= MAP_SHARED;
		p = xmmap(NULL, r->size, PROT_READ | PROT_WRITE, mflags, r->fd, 0);
	} else {
		mflags |= MAP_PRIVATE | MAP_ANONYMOUS;
		if (huge)
			mflags |= MAP_HUGETLB | MAP_HUGE_2MB;
		p = xmmap(NULL, r->size, PROT_READ | PROT_WRITE, mflags, -1, 0);
	}
	if (p == MAP_FAILED)
		return -errno;
	r->hva = p;
	/* Guest RAM is not worth a core dump and must not be shared on fork. */
	madvise(p, r->size, MADV_DONTDUMP);
	madvise(p, r->size, MADV_DONTFORK);
	return 0;
}

int address_space_add_ram(struct address_space *as, gpa_t gpa, u64 size,
			  unsigned int flags, struct mem_region **out)
{
	u64 align = (flags & MEM_F_HUGEPAGES) ? HUGEPAGE_SIZE
					      : (u64)sysconf(_SC_PAGESIZE);
	struct mem_region *r;
	unsigned int pos;
	u64 last;
	int ret;

	if (flags & ~(MEM_F_MEMFD | MEM_F_HUGEPAGES | MEM_F_NORESERVE | MEM_F_PRIVATE) ||
	    ((flags & MEM_F_PRIVATE) && (flags & (MEM_F_MEMFD | MEM_F_HUGEPAGES))))
		return -EINVAL;
	if (!range_last(gpa, size, &last) || !IS_ALIGNED(gpa, align) ||
	    !IS_ALIGNED(size, align) || size > (u64)SIZE_MAX)
		return -EINVAL;
	if (as->nr_regions == AS_MAX_REGIONS)
		return -ENOSPC;

	/* First region that ends at or after gpa; it must start after last. */
	for (pos = 0; pos < as->nr_regions; pos++) {
		const struct mem_region *o = as->regions[pos];

		if (o->gpa + (o->size - 1) >= gpa)
			break;
	}
	if (pos < as->nr_regions && as->regions[pos]->gpa <= last)
		return -EEXIST;

	r = xzalloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->gpa = gpa;
	r->size = size;
	r->fd = -1;
	r->flags = flags;
	ret = region_map(r);
	if (ret) {
		region_free(r);
		return ret;
	}
	r->slot = as->next_slot++;
	memmove(&as->regions[pos + 1], &as->regions[pos],
		(as->nr_regions - pos) * sizeof(as->regions[0]));
	as->regions[pos] = r;
	as->nr_regions++;
	as->ram_size += size;
	if (out)
		*out = r;
	return 0;
}

unsigned int address_space_nr_regions(const struct address_space *as)
{
	return as->nr_regions;
}

const struct mem_region *address_space_region(const struct address_space *as,
					      unsigned int i)
{
	return i < as->nr_regions ? as->regions[i] : NULL;
}

u64 address_space_ram_size(const struct address_space *as)
{
	return as->ram_size;
}

/* Index of the region holding @gpa, or -1. Binary search: called per access. */
static int region_find(const struct address_space *as, gpa_t gpa)
{
	unsigned int lo = 0, hi = as->nr_regions;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct mem_region *r = as->regions[mid];

		if (gpa < r->gpa)
			hi = mid;
		else if (gpa - r->gpa >= r->size)
			lo = mid + 1;
		else
			return (int)mid;
	}
	return -1;
}

/*
 * Whether every byte of [gpa, gpa + len) is RAM kestrel may touch (len > 0):
 * private regions count as holes. Ranges may run across regions that are
 * adjacent in guest-physical space.
 */
static bool range_is_ram(const struct address_space *as, gpa_t gpa, u64 len,
			 int *first)
{
	u64 last;
	int i;

	if (!range_last(gpa, len, &last))
		return false;
	i = region_find(as, gpa);
	if (i < 0)
		return false;
	*first = i;
	for (;;) {
		const struct mem_region *r = as->regions[i];
		u64 r_last = r->gpa + (r->size - 1);

		if (r->flags & MEM_F_PRIVATE)
			return false;
		if (last <= r_last)
			return true;
		if ((unsigned int)++i == as->nr_regions ||
		    as->regions[i]->gpa != r_last + 1)
			return false;
	}
}

int address_space_rw(struct address_space *as, gpa_t gpa, void *buf, size_t len,
		     bool is_write)
{
	u8 *p = buf;
	int i;

	if (!len)
		return 0;
	if (!range_is_ram(as, gpa, len, &i))
		return -EFAULT;
	while (len) {
		const struct mem_region *r = as->regions[i++];
		u64 off = gpa - r->gpa;
		size_t n = (size_t)MIN((u64)len, r->size - off);
		u8 *host = (u8 *)r->hva + off;

		if (is_write)
			memcpy(host, p, n);
		else
			memcpy(p, host, n);
		p += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

int address_space_read(struct address_space *as, gpa_t gpa, void *buf, size_t len)
{
	return address_space_rw(as, gpa, buf, len, false);
}

int address_space_write(struct address_space *as, gpa_t gpa, const void *buf,
			size_t len)
{
	/* The cast is safe: the write direction only reads from @buf. */
	return address_space_rw(as, gpa, (void *)buf, len, true);
}

void *address_space_map(struct address_space *as, gpa_t gpa, u64 *len,
			bool is_write)
{
	const struct mem_region *r;
	int i;

	if (!*len)
		return NULL;
	i = region_find(as, gpa);
	if (i < 0) {
		*len = 0;
		return NULL;
	}
	r = as->regions[i];
	if (r->flags & MEM_F_PRIVATE) {
		*len = 0;
		return NULL;
	}
	*len = MIN(*len, r->size - (gpa - r->gpa));
	return (u8 *)r->hva + (gpa - r->gpa);
}

void address_space_unmap(struct address_space *as, void *ptr, u64 len,
			 bool is_write, u64 access_len)
{
	/* Nothing to release: mappings live as long as @as. Dirty tracking
	 * (for live migration) would record [ptr, ptr + access_len) here. */
}
