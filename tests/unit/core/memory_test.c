// SPDX-License-Identifier: GPL-2.0-only
/* Guest memory API: bounds, wrap-around, cross-region access, map lengths. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <kestrel/memory.h>

#include "../test.h"

#define MiB (1ULL << 20)

static void test_add(void)
{
	struct address_space *as;
	struct mem_region *r = NULL;

	report_prefix_push("add");
	if (!report_eq(address_space_create(&as), 0, "create"))
		return;
	report_err(address_space_add_ram(as, 0, 0, 0, NULL), -EINVAL, "empty region rejected");
	report_err(address_space_add_ram(as, 0x123, 4096, 0, NULL), -EINVAL,
		   "misaligned base rejected");
	report_err(address_space_add_ram(as, 0, 4097, 0, NULL), -EINVAL,
		   "misaligned size rejected");
	report_err(address_space_add_ram(as, UINT64_MAX - 4095, 8192, 0, NULL), -EINVAL,
		   "range wrapping past 2^64 rejected");
	report_err(address_space_add_ram(as, 0, 4096, 1u << 7, NULL), -EINVAL,
		   "unknown flag rejected");
	check_eq(address_space_add_ram(as, 2 * MiB, 2 * MiB, 0, &r), 0);
	if (check_nonnull(r)) {
		check_eq(r->gpa, 2 * MiB);
		check_eq(r->size, 2 * MiB);
		check_true(r->hva);
		check_eq(r->fd, -1);
		check_eq(r->slot, 0);
	}
	report_checks("anonymous region at 2 MiB");
	report_err(address_space_add_ram(as, 3 * MiB, MiB, 0, NULL), -EEXIST,
		   "overlap (inside) rejected");
	report_err(address_space_add_ram(as, MiB, 2 * MiB, 0, NULL), -EEXIST,
		   "overlap (start) rejected");
	report_err(address_space_add_ram(as, 4 * MiB - 4096, 8192, 0, NULL), -EEXIST,
		   "overlap (end) rejected");
	check_eq(address_space_add_ram(as, 0, 2 * MiB, MEM_F_MEMFD, &r), 0);
	check_ge(r->fd, 0);
	check_eq(r->slot, 1);
	report_checks("memfd region below, slot in creation order");
	report_eq(address_space_add_ram(as, UINT64_MAX - 4095, 4096, MEM_F_NORESERVE, &r), 0,
		  "region ending exactly at 2^64");
	report_eq(address_space_nr_regions(as), 3, "three regions");
	check_eq(address_space_region(as, 0)->gpa, 0);
	check_eq(address_space_region(as, 1)->gpa, 2 * MiB);
	check_eq(address_space_region(as, 2)->gpa, UINT64_MAX - 4095);
	report_checks("regions sorted by address");
	report_eq(address_space_region(as, 3), NULL, "region index out of range is NULL");
	report_eq(address_space_ram_size(as), 4 * MiB + 4096, "total size");
	address_space_destroy(as);
	report_prefix_pop();
}

static void test_rw(void)
{
	struct address_space *as;
	u8 buf[64], back[64];
	u64 len;
	void *p;

	report_prefix_push("rw");
	if (address_space_create(&as) || address_space_add_ram(as, 0, MiB, 0, NULL) ||
	    address_space_add_ram(as, MiB, MiB, MEM_F_MEMFD, NULL) ||
	    address_space_add_ram(as, 4 * MiB, MiB, 0, NULL) ||
	    address_space_add_ram(as, UINT64_MAX - 4095, 4096, 0, NULL)) {
		report(false, "setup");
		return;
	}
	for (unsigned int i = 0; i < sizeof(buf); i++)
		buf[i] = (u8)(i * 7 + 1);

	check_eq(address_space_write(as, 0x1000, buf, sizeof(buf)), 0);
	check_eq(address_space_read(as, 0x1000, back, sizeof(back)), 0);
	check_mem(buf, back, sizeof(buf));
	report_checks("round trip");
	report_eq(address_space_write(as, MiB - 32, buf, sizeof(buf)), 0,
		  "write across adjacent regions");
	memset(back, 0, sizeof(back));
	check_eq(address_space_read(as, MiB - 32, back, sizeof(back)), 0);
	check_mem(buf, back, sizeof(back));
	report_checks("read across adjacent regions");
	len = 64;
	p = address_space_map(as, MiB - 32, &len, false);
	if (check_nonnull(p)) {
		check_eq(len, 32);
		check_mem(p, buf, 32);
	}
	report_checks("map stops at the region boundary");
	address_space_unmap(as, p, len, false, len);

	memset(back, 0xaa, sizeof(back));
	report_err(address_space_read(as, 2 * MiB - 32, back, sizeof(back)), -EFAULT,
		   "read into a hole fails");
	report_eq(back[0], 0xaa, "failed read copied nothing");
	report_err(address_space_write(as, 2 * MiB - 32, buf, sizeof(buf)), -EFAULT,
		   "write into a hole fails");
	len = 0;
	check_eq(address_space_read(as, 2 * MiB - 32, back, 32), 0);
	check_eq(address_space_read(as, 2 * MiB - 32, back, 32), 0);
	report_checks("the part before the hole is fine");
	report_err(address_space_read(as, 3 * MiB, back, 1), -EFAULT, "hole");
	report_err(address_space_read(as, 5 * MiB, back, 1), -EFAULT, "past the end");
	report_eq(address_space_read(as, 5 * MiB - 1, back, 1), 0, "last byte of a region");
	report_eq(address_space_read(as, 5 * MiB, back, 0), 0, "zero length is a no-op");

	report_eq(address_space_read(as, UINT64_MAX - 15, back, 16), 0, "read ending at 2^64");
	report_err(address_space_read(as, UINT64_MAX - 15, back, 17), -EFAULT,
		   "read wrapping past 2^64 fails");
	report_err(address_space_write(as, UINT64_MAX, buf, 2), -EFAULT,
		   "write wrapping past 2^64 fails");
	report_err(address_space_read(as, UINT64_MAX, back, SIZE_MAX), -EFAULT,
		   "huge length fails");
	check_eq(address_space_rw(as, 0x2000, buf, 8, true), 0);
	check_eq(address_space_rw(as, 0x2000, back, 8, false), 0);
	check_mem(buf, back, 8);
	report_checks("rw both ways");

	len = 100;
	p = address_space_map(as, 3 * MiB, &len, true);
	check_null(p);
	check_eq(len, 0);
	report_checks("map of a hole: NULL, length 0");
	len = 0;
	p = address_space_map(as, 0, &len, true);
	check_null(p);
	check_eq(len, 0);
	report_checks("map of length 0: NULL");
	len = UINT64_MAX;
	p = address_space_map(as, UINT64_MAX - 99, &len, true);
	check_nonnull(p);
	check_eq(len, 100);
	report_checks("map at the top is clipped to 2^64");
	len = 16;
	p = address_space_map(as, 0x1000, &len, true);
	check_nonnull(p);
	check_eq(len, 16);
	report_checks("map inside a region keeps the asked length");
	address_space_destroy(as);
	report_prefix_pop();
}

/* MEM_F_PRIVATE: a region kestrel's accessors treat as a hole. */
static void test_private(void)
{
	struct address_space *as;
	struct mem_region *r = NULL;
	u8 buf[32] = { 0 };
	u64 len = 16;

	report_prefix_push("private");
	if (!report_eq(address_space_create(&as), 0, "create"))
		return;
	report_err(address_space_add_ram(as, 0x100000, 0x10000, MEM_F_PRIVATE | MEM_F_MEMFD,
					 NULL), -EINVAL, "not with MEM_F_MEMFD");
	if (check_eq(address_space_add_ram(as, 0, 0x100000, 0, NULL), 0) &&
	    check_eq(address_space_add_ram(as, 0x100000, 0x100000, MEM_F_PRIVATE, &r), 0))
		check_nonnull(r);
	if (!report_checks("shared RAM, then private RAM right after it"))
		goto out;
	report_true(r->flags & MEM_F_PRIVATE, "the region says private");
	report_eq(address_space_ram_size(as), 0x200000, "both count as RAM");
	report_err(address_space_read(as, 0x100000, buf, 16), -EFAULT, "read: a hole");
	report_err(address_space_write(as, 0x100010, buf, 16), -EFAULT, "write: a hole");
	report_err(address_space_read(as, 0xffff0, buf, 32), -EFAULT,
		   "a read running from shared into private RAM fails whole");
	report_err(address_space_read(as, 0xfffe0, buf, 32), 0, "the shared part still reads");
	report_null(address_space_map(as, 0x100000, &len, false), "map: NULL");
	report_eq(len, 0, "map: length 0");
out:
	address_space_destroy(as);
	report_prefix_pop();
}

int main(void)
{
	test_add();
	test_rw();
	test_private();
	address_space_destroy(NULL);
	return report_summary();
}
