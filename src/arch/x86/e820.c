// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest's memory map, from the address space's regions. One list feeds
 * the Linux zero page, the Multiboot mmap and the PVH memmap:
 *
 *   RAM       everything in a region, except
 *   reserved  0x9fc00-0x9ffff (EBDA) and 0xe0000-0xfffff (ACPI, MP table),
 *             and PCI's ECAM when there is PCI
 *   (absent)  0xa0000-0xdffff (legacy VGA/option ROM hole), the MMIO hole
 *             below 4 GiB and anything else that is not a region
 *
 * The Multiboot and PVH loaders then carve what kestrel keeps for itself out
 * of RAM (x86_e820_reserve(): page 0, the boot data area), so the map says
 * reserved wherever kestrel put something the guest must not reuse early.
 */
#include <errno.h>
#include <string.h>

#include "loader.h"

#define LEGACY_HOLE_START	0xa0000ULL
#define LEGACY_ROM_START	0xe0000ULL
#define PCI_ECAM_SIZE		0x100000ULL	/* bus 0 */

static int e820_add(struct x86_loader *l, u64 start, u64 end, u32 type)
{
	struct e820_entry *last = l->nr_e820 ? &l->e820[l->nr_e820 - 1] : NULL;

	if (start >= end)
		return 0;
	if (last && last->type == type && last->addr + last->size == start) {
		last->size += end - start;
		return 0;
	}
	if (l->nr_e820 == E820_MAX)
		return x86_loader_fail(l, -E2BIG, "guest memory map needs more than %u entries",
				       E820_MAX);
	l->e820[l->nr_e820++] = (struct e820_entry){ start, end - start, type };
	return 0;
}

int x86_e820_build(struct x86_loader *l)
{
	unsigned int i, n = address_space_nr_regions(l->as);
	const struct boot_pci *pci = l->cfg ? l->cfg->pci : NULL;
	bool ecam_done = !pci;
	int ret = 0;

	l->nr_e820 = 0;
	for (i = 0; i < n && !ret; i++) {
		const struct mem_region *r = address_space_region(l->as, i);
		u64 a = r->gpa, b = r->gpa + r->size;

		/* PCI's ECAM, in address order: Linux uses MCFG only where it is reserved. */
		if (!ecam_done && a >= pci->ecam_base + PCI_ECAM_SIZE) {
			ret = e820_add(l, pci->ecam_base, pci->ecam_base + PCI_ECAM_SIZE,
				       E820_RESERVED);
			ecam_done = true;
			if (ret)
				break;
		}

		ret = e820_add(l, a, MIN(b, X86_BOOT_EBDA_GPA), E820_RAM);
		if (!ret)
			ret = e820_add(l, MAX(a, X86_BOOT_EBDA_GPA),
				       MIN(b, LEGACY_HOLE_START), E820_RESERVED);
		if (!ret)
			ret = e820_add(l, MAX(a, LEGACY_ROM_START),
				       MIN(b, X86_BOOT_KERNEL_GPA), E820_RESERVED);
		if (!ret)
			ret = e820_add(l, MAX(a, X86_BOOT_KERNEL_GPA), b, E820_RAM);
	}
	if (!ret && !ecam_done)
		ret = e820_add(l, pci->ecam_base, pci->ecam_base + PCI_ECAM_SIZE, E820_RESERVED);
	return ret;
}

/* Turn the RAM in [start, end) into reserved; the map stays sorted and merged. */
int x86_e820_reserve(struct x86_loader *l, u64 start, u64 end)
{
	struct e820_entry old[E820_MAX];
	unsigned int i, n = l->nr_e820;
	int ret = 0;

	memcpy(old, l->e820, n * sizeof(old[0]));
	l->nr_e820 = 0;
	for (i = 0; i < n && !ret; i++) {
		u64 a = old[i].addr, b = a + old[i].size;
		u32 type = old[i].type;

		if (type != E820_RAM || b <= start || end <= a) {
			ret = e820_add(l, a, b, type);
			continue;
		}
		ret = e820_add(l, a, MAX(a, start), E820_RAM);
		if (!ret)
			ret = e820_add(l, MAX(a, start), MIN(b, end), E820_RESERVED);
		if (!ret)
			ret = e820_add(l, MIN(b, end), b, E820_RAM);
	}
	return ret;
}
