/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The IOTLB the vringh fuzz targets give their device: @n windows of
 * 8 KiB over guest memory at @iova, the first read-write (the rings live
 * there), window k's permission from @perms[k] & 3 (0: unmapped); then an
 * alias of the last window 1 MiB higher with its two pages swapped, so a
 * range that is contiguous in IOVA is not in host memory.
 */
#ifndef KESTREL_FUZZ_VRINGH_WINDOWS_H
#define KESTREL_FUZZ_VRINGH_WINDOWS_H

#include <kestrel/iotlb.h>

#define FUZZ_WINDOW	0x2000

static inline void fuzz_vringh_windows(struct iotlb *tlb, u8 *gmem, u64 iova,
				       unsigned int n, const uint8_t *perms)
{
	uintptr_t last = (uintptr_t)gmem + (n - 1) * FUZZ_WINDOW;
	unsigned int k;

	for (k = 0; k < n; k++) {
		unsigned int perm = k ? perms[k] & 3 : IOTLB_PERM_RW;
		u64 w = iova + k * FUZZ_WINDOW;

		if (perm)
			iotlb_add_range(tlb, w, w + FUZZ_WINDOW - 1,
					(uintptr_t)gmem + k * FUZZ_WINDOW, perm);
	}
	iotlb_add_range(tlb, iova + 0x100000, iova + 0x100fff, last + 0x1000, IOTLB_PERM_RW);
	iotlb_add_range(tlb, iova + 0x101000, iova + 0x101fff, last, IOTLB_PERM_RW);
}

#endif /* KESTREL_FUZZ_VRINGH_WINDOWS_H */
