/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_MEMORY_H
#define KESTREL_MEMORY_H

#include <kestrel/types.h>

/*
 * Guest memory. An address_space is the guest-physical view of one VM's RAM:
 * a sorted set of non-overlapping regions, each backed by a host mapping
 * kestrel made. It has no KVM dependency (the VM registers each region as a
 * memslot), so loaders and devices can be unit-tested against a plain
 * address space.
 *
 * Result codes: 0 on success or a negative errno. -EFAULT means some byte of
 * the range is not guest RAM (a hole, past the end, or an address range that
 * wraps past 2^64); in that case nothing was read or written.
 */

struct address_space;

/* Flags for address_space_add_ram(). */
#define MEM_F_MEMFD		(1u << 0)	/* back with a memfd (shareable) */
#define MEM_F_HUGEPAGES		(1u << 1)	/* 2 MiB pages (memfd or anon) */
#define MEM_F_NORESERVE		(1u << 2)	/* MAP_NORESERVE */
/*
 * Private RAM (protected guests, docs/protected.md): the bytes live where
 * kestrel cannot read them (the VM puts a guest_memfd in @fd). @hva is a
 * PROT_NONE reservation that only the memslot's userspace_addr points at;
 * the accessors treat the range as a hole (-EFAULT, map() gives NULL).
 * Not with MEM_F_MEMFD or MEM_F_HUGEPAGES.
 */
#define MEM_F_PRIVATE		(1u << 3)

/**
 * struct mem_region - one contiguous range of guest RAM
 * @gpa: first guest-physical address
 * @size: bytes (multiple of the page size)
 * @hva: kestrel's mapping of the range (inaccessible if MEM_F_PRIVATE)
 * @fd: memfd (or guest_memfd) backing the range, or -1 for anonymous memory
 * @fd_offset: offset of @gpa's byte in @fd
 * @flags: MEM_F_* used to create it
 * @slot: index, assigned in creation order (the VM's memslot number)
 */
struct mem_region {
	gpa_t gpa;
	u64 size;
	void *hva;
	int fd;
	u64 fd_offset;
	unsigned int flags;
	unsigned int slot;
};

/**
 * address_space_create() - an empty address space
 * @out: the new address space
 *
 * Return: 0 or -ENOMEM.
 */
int address_space_create(struct address_space **out);

/**
 * address_space_destroy() - unmap every region and free @as
 * @as: address space, may be NULL
 */
void address_space_destroy(struct address_space *as);

/**
 * address_space_add_ram() - allocate and map @size bytes of RAM at @gpa
 * @as: address space
 * @gpa: page-aligned guest-physical base
 * @size: page-aligned size, non-zero; @gpa + @size must not wrap
 * @flags: MEM_F_*
 * @out: the new region (owned by @as), may be NULL
 *
 * Return: 0; -EINVAL for misaligned, empty or wrapping ranges; -EEXIST if
 * the range overlaps a region; -ENOMEM or another errno from mmap/memfd.
 */
int address_space_add_ram(struct address_space *as, gpa_t gpa, u64 size,
			  unsigned int flags, struct mem_region **out);

/** address_space_nr_regions() - number of regions in @as */
unsigned int address_space_nr_regions(const struct address_space *as);

/**
 * address_space_region() - region @i, in ascending guest-physical order
 * Return: the region, or NULL if @i is out of range.
 */
const struct mem_region *address_space_region(const struct address_space *as,
					      unsigned int i);

/**
 * address_space_ram_size() - total bytes of RAM in @as
 */
u64 address_space_ram_size(const struct address_space *as);

/**
 * address_space_read() - copy @len bytes of guest memory at @gpa to @buf
 * @as: address space
 * @gpa: guest-physical address
 * @buf: destination
 * @len: bytes; 0 is a no-op that succeeds
 *
 * The range may span adjacent regions.
 * Return: 0, or -EFAULT if any byte is not RAM (nothing copied).
 */
int address_space_read(struct address_space *as, gpa_t gpa, void *buf, size_t len);

/**
 * address_space_write() - copy @len bytes from @buf to guest memory at @gpa
 * Return: 0, or -EFAULT if any byte is not RAM (nothing copied).
 */
int address_space_write(struct address_space *as, gpa_t gpa, const void *buf,
			size_t len);

/**
 * address_space_rw() - address_space_read() or _write() chosen by @is_write
 *
 * For dispatch code that already carries a direction; everything else calls
 * the named variants.
 */
int address_space_rw(struct address_space *as, gpa_t gpa, void *buf, size_t len,
		     bool is_write);

/**
 * address_space_map() - a host pointer to guest memory at @gpa
 * @as: address space
 * @gpa: guest-physical address
 * @len: in: bytes wanted; out: bytes contiguously mapped from @gpa (may be
 *	 less when the range crosses a region boundary)
 * @is_write: whether the caller will write through the pointer
 *
 * Return: the pointer, or NULL if @gpa is not RAM or @*len is 0 (then @*len
 * is set to 0).
 */
void *address_space_map(struct address_space *as, gpa_t gpa, u64 *len,
			bool is_write);

/**
 * address_space_unmap() - end an access started by address_space_map()
 * @as: address space
 * @ptr: pointer returned by address_space_map()
 * @len: length returned by address_space_map()
 * @is_write: as passed to address_space_map()
 * @access_len: bytes actually accessed (for dirty tracking)
 */
void address_space_unmap(struct address_space *as, void *ptr, u64 len,
			 bool is_write, u64 access_len);

#endif /* KESTREL_MEMORY_H */
